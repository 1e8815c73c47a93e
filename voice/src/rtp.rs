//! Sans-IO RTP and RTCP: parsing incoming RTP (RFC 3550 §5.1), building the outgoing stream
//! ([`RtpSender`]), RTCP sender reports (RFC 3550 §6.4.1) and symmetric-RTP latching
//! ([`Latch`], RFC 4961). Nothing here owns a socket or reads the clock.
//!
//! RTP header parsing and building is done by the `rtp-rs` crate.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

use crate::codec::{Codec, FRAME_SAMPLES};

/// An RTP packet received from the network, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Payload type (7 bits): 8 PCMA, 0 PCMU, the negotiated telephone-event type, …
    pub pt: u8,
    /// Sequence number (16 bits, wraps; see RFC 3550 §A.1).
    pub seq: u16,
    /// RTP timestamp in clock-rate units (8000 per second for G.711 and telephone-event).
    pub ts: u32,
    /// Synchronisation source of the sender.
    pub ssrc: u32,
    /// Marker bit: start of a talkspurt (audio) or of a new event (telephone-event).
    pub marker: bool,
    /// Payload bytes, with padding and header extension removed.
    pub payload: Vec<u8>,
}

/// Parses one UDP datagram as RTP. Returns `None` for anything that is not a well-formed RTP
/// version 2 packet (too short, bad padding, CSRC/extension overrunning the packet), and for
/// RTCP sent on the RTP port (second byte 200..=204, RFC 5761 §4).
pub fn parse_incoming(bytes: &[u8]) -> Option<Incoming> {
    if bytes.len() < 12 || is_rtcp(bytes) {
        return None;
    }
    let r = RtpReader::new(bytes).ok()?;
    if r.version() != 2 {
        return None;
    }
    Some(Incoming {
        pt: r.payload_type(),
        seq: u16::from(r.sequence_number()),
        ts: r.timestamp(),
        ssrc: r.ssrc(),
        marker: r.mark(),
        payload: r.payload().to_vec(),
    })
}

/// True if a datagram looks like RTCP (version 2 and packet type 200..=204, RFC 5761 §4).
pub fn is_rtcp(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] >> 6 == 2 && (200..=204).contains(&bytes[1])
}

/// The state of one outgoing RTP stream: a stable SSRC, sequence numbers increasing by one per
/// packet and timestamps increasing by the number of samples sent (160 per 20 ms frame),
/// RFC 3550 §5.1. Produces packet bytes; the caller sends them.
#[derive(Debug, Clone)]
pub struct RtpSender {
    codec: Codec,
    pt: u8,
    ssrc: u32,
    seq: u16,
    ts: u32,
    in_talkspurt: bool,
    packets: u32,
    octets: u32,
}

impl RtpSender {
    /// A stream with an explicit SSRC, first sequence number and first timestamp (for tests).
    pub fn new(codec: Codec, ssrc: u32, first_seq: u16, first_ts: u32) -> Self {
        Self {
            codec,
            pt: codec.payload_type(),
            ssrc,
            seq: first_seq,
            ts: first_ts,
            in_talkspurt: false,
            packets: 0,
            octets: 0,
        }
    }

    /// A stream with random SSRC, sequence number and timestamp, as RFC 3550 §5.1 asks.
    pub fn new_random(codec: Codec) -> Self {
        Self::new(codec, rand::random(), rand::random(), rand::random())
    }

    /// The stream's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The codec the stream carries.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Sets the audio codec and its negotiated RTP payload type `pt` (the static 0/8, or the
    /// dynamic number the offerer mapped to PCMU/PCMA, RFC 3264 §6.1), e.g. after a re-INVITE
    /// changed PCMA ↔ PCMU: later frames carry the new payload and payload type; SSRC,
    /// sequence and timestamp continue (RFC 3550 §5.1 lets a source change payload type;
    /// both codecs run an 8000 Hz clock). `pt` is masked to 7 bits.
    pub fn set_codec(&mut self, codec: Codec, pt: u8) {
        self.codec = codec;
        self.pt = pt & 0x7f;
    }

    /// The RTP timestamp the next audio packet will carry.
    pub fn next_timestamp(&self) -> u32 {
        self.ts
    }

    /// Packets sent so far (for RTCP SR).
    pub fn packet_count(&self) -> u32 {
        self.packets
    }

    /// Payload octets sent so far (for RTCP SR).
    pub fn octet_count(&self) -> u32 {
        self.octets
    }

    /// Builds the packet for the next 20 ms of audio. `Some(samples)` is speech (8000 Hz PCM,
    /// normally [`FRAME_SAMPLES`] samples); `None` is a frame of comfort silence so the stream
    /// never gaps. The marker bit is set on the first packet of each talkspurt: the first
    /// `Some` after the start of the stream or after a `None` (RFC 3551 §4.1). The timestamp
    /// advances by the number of samples in the frame (160 for silence).
    pub fn frame(&mut self, samples: Option<&[i16]>) -> Vec<u8> {
        let (payload, marker) = match samples {
            Some(s) => {
                let marker = !self.in_talkspurt;
                self.in_talkspurt = true;
                (self.codec.encode(s), marker)
            }
            None => {
                self.in_talkspurt = false;
                (self.codec.silence_frame(), false)
            }
        };
        let bytes = self.build(self.pt, self.ts, marker, &payload);
        // G.711: one byte per sample, so the payload length is the timestamp advance.
        self.ts = self.ts.wrapping_add(payload.len() as u32);
        bytes
    }

    /// Builds one RFC 4733 telephone-event packet (payload type `te_pt`, 4-byte `payload` from
    /// [`crate::dtmf::dtmf_packets`]) stamped with `event_ts`, the RTP timestamp of the event's
    /// start (all packets of one event share it, RFC 4733 §2.3.1). Uses the next sequence number;
    /// the audio timestamp is not advanced (the caller keeps sending audio frames, or silence).
    pub fn telephone_event(
        &mut self,
        te_pt: u8,
        event_ts: u32,
        marker: bool,
        payload: &[u8],
    ) -> Vec<u8> {
        self.build(te_pt, event_ts, marker, payload)
    }

    fn build(&mut self, pt: u8, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let built = RtpPacketBuilder::new()
            .payload_type(pt & 0x7f)
            .ssrc(self.ssrc)
            .sequence(Seq::from(self.seq))
            .timestamp(ts)
            .marked(marker)
            .payload(payload)
            .build();
        self.seq = self.seq.wrapping_add(1);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload.len() as u32);
        // The builder fails only for payload types > 127 or more than 15 CSRCs; neither can happen.
        built.unwrap_or_default()
    }

    /// Builds a compound RTCP packet: a sender report (RFC 3550 §6.4.1, no report blocks)
    /// followed by an SDES CNAME (§6.5, required in every compound packet by §6.1).
    /// `ntp` is the wall-clock time as a 64-bit NTP timestamp ([`ntp_timestamp`]); `rtp_ts` is
    /// the RTP timestamp corresponding to the same instant.
    pub fn sender_report(&self, ntp: u64, rtp_ts: u32, cname: &str) -> Vec<u8> {
        build_sender_report(self.ssrc, ntp, rtp_ts, self.packets, self.octets, cname)
    }
}

/// Default number of samples the RTP timestamp advances per audio frame.
pub const TS_PER_FRAME: u32 = FRAME_SAMPLES as u32;

/// Seconds between 1900-01-01 (NTP era 0) and 1970-01-01.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Converts a wall-clock time to a 64-bit NTP timestamp (RFC 3550 §4: seconds since 1900 in the
/// high 32 bits, binary fraction in the low 32 bits). Times before 1970 map to the 1970 epoch.
pub fn ntp_timestamp(t: SystemTime) -> u64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs().wrapping_add(NTP_UNIX_OFFSET);
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// Builds an RTCP compound packet SR + SDES(CNAME) (RFC 3550 §6.4.1 and §6.5.1).
/// `packets`/`octets` are the sender's packet and payload-octet counts. A CNAME longer than
/// 255 bytes is cut to 255.
pub fn build_sender_report(
    ssrc: u32,
    ntp: u64,
    rtp_ts: u32,
    packets: u32,
    octets: u32,
    cname: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(28 + 12 + cname.len());
    // SR: V=2, P=0, RC=0, PT=200, length = 6 (words - 1).
    out.extend_from_slice(&[0x80, 200, 0, 6]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&ntp.to_be_bytes());
    out.extend_from_slice(&rtp_ts.to_be_bytes());
    out.extend_from_slice(&packets.to_be_bytes());
    out.extend_from_slice(&octets.to_be_bytes());
    // SDES: V=2, SC=1, PT=202; one chunk: SSRC, CNAME item, END, padded to 32 bits.
    let name = &cname.as_bytes()[..cname.len().min(255)];
    let mut chunk = Vec::with_capacity(8 + name.len());
    chunk.extend_from_slice(&ssrc.to_be_bytes());
    chunk.push(1); // CNAME
    chunk.push(name.len() as u8);
    chunk.extend_from_slice(name);
    chunk.push(0); // END
    while chunk.len() % 4 != 0 {
        chunk.push(0);
    }
    let words = (4 + chunk.len()) / 4 - 1;
    out.extend_from_slice(&[0x81, 202]);
    out.extend_from_slice(&(words as u16).to_be_bytes());
    out.extend_from_slice(&chunk);
    out
}

/// Strict, symmetric RTP latching: whose packets a call accepts and where it sends.
///
/// Only the peer named by signalling may own the call's audio (what Asterisk's `strictrtp`
/// and FreeSWITCH's NAT auto-adjust guard against: anyone who hits the port first would
/// otherwise take over the call, "RTP bleed"). [`Latch::for_peer`] decides who that is:
///
/// * the SDP address and port exactly ([`Expect::Exact`]) when the SDP connection address is
///   one packets can come from as written — public, loopback, or equal to the signalling
///   source;
/// * the signalling source IP with any port ([`Expect::Ip`]) when the SDP shows a private or
///   unroutable address ([`is_unroutable`]) that differs from the signalling source: the peer
///   is behind NAT, which maps its media to the signalling IP and a port of its choosing.
///
/// The first accepted valid RTP packet latches its source, and from then on only that
/// exact address is accepted and used as the destination (symmetric RTP, RFC 4961;
/// "comedia"). Before latching, packets go to the SDP address. Everything else is refused
/// ([`Latch::accept`] returns `false`); the caller drops and counts it.
#[derive(Debug, Clone)]
pub struct Latch {
    sdp: SocketAddr,
    expect: Expect,
    latched: Option<SocketAddr>,
}

/// Whose packets a [`Latch`] accepts before latching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exactly this transport address (IP and port).
    Exact(SocketAddr),
    /// The first packet from this IP, any port (a peer behind NAT).
    Ip(IpAddr),
}

/// Whether `ip` cannot be the source of packets reaching us as written in an SDP: private
/// (RFC 1918, IPv6 unique local RFC 4193), shared CGN space (RFC 6598), link-local
/// (RFC 3927, RFC 4291), or unspecified (`0.0.0.0`/`::`, the RFC 2543 hold convention).
/// Loopback is routable: a peer on this host is never behind NAT.
pub fn is_unroutable(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

impl Latch {
    /// A latch for a peer whose SDP says `sdp_addr` and whose signalling (INVITE) came from
    /// `signalling` (when known); see the type docs for the rule.
    pub fn for_peer(sdp_addr: SocketAddr, signalling: Option<IpAddr>) -> Self {
        let expect = match signalling {
            Some(sig) if is_unroutable(sdp_addr.ip()) && !same_ip(sig, sdp_addr.ip()) => {
                Expect::Ip(sig)
            }
            _ => Expect::Exact(sdp_addr),
        };
        Self {
            sdp: sdp_addr,
            expect,
            latched: None,
        }
    }

    /// The peer's SDP address this latch was made for.
    pub fn sdp_addr(&self) -> SocketAddr {
        self.sdp
    }

    /// Whose packets are accepted before latching.
    pub fn expect(&self) -> Expect {
        self.expect
    }

    /// Decides whether a valid RTP packet from `from` is accepted; latches on the first one.
    pub fn accept(&mut self, from: SocketAddr) -> bool {
        match self.latched {
            Some(addr) => same_addr(addr, from),
            None => {
                let ok = match self.expect {
                    Expect::Exact(a) => same_addr(a, from),
                    Expect::Ip(ip) => same_ip(ip, from.ip()),
                };
                if ok {
                    self.latched = Some(from);
                }
                ok
            }
        }
    }

    /// Where to send: the latched address, or the SDP address before latching.
    pub fn target(&self) -> SocketAddr {
        self.latched.unwrap_or(self.sdp)
    }

    /// The latched address, if any packet has been accepted yet.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// Replaces the SDP address (re-INVITE, or the answer of a late offer) and forgets the
    /// latch; the rule of [`Latch::for_peer`] is applied to the new address.
    pub fn retarget(&mut self, sdp_addr: SocketAddr, signalling: Option<IpAddr>) {
        *self = Latch::for_peer(sdp_addr, signalling);
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn same_addr(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && same_ip(a.ip(), b.ip())
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    canonical(a) == canonical(b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn sender_advances_seq_and_ts_and_marks_talkspurts() {
        let mut s = RtpSender::new(Codec::Pcma, 0x1234_5678, 65535, u32::MAX - 100);
        let frame = [1000i16; FRAME_SAMPLES];
        let p1 = parse_incoming(&s.frame(None)).unwrap();
        let p2 = parse_incoming(&s.frame(Some(&frame))).unwrap();
        let p3 = parse_incoming(&s.frame(Some(&frame))).unwrap();
        let p4 = parse_incoming(&s.frame(None)).unwrap();
        let p5 = parse_incoming(&s.frame(Some(&frame))).unwrap();
        assert_eq!([p1.seq, p2.seq, p3.seq], [65535, 0, 1]);
        assert_eq!(p2.ts, p1.ts.wrapping_add(160));
        assert_eq!(p3.ts, p2.ts.wrapping_add(160));
        assert_eq!(
            [p1.marker, p2.marker, p3.marker, p4.marker, p5.marker],
            [false, true, false, false, true]
        );
        assert!([&p1, &p2, &p3, &p4, &p5]
            .iter()
            .all(|p| p.ssrc == 0x1234_5678 && p.pt == 8));
        assert_eq!(p5.ts, p1.ts.wrapping_add(4 * 160));
        assert_eq!(s.packet_count(), 5);
        assert_eq!(s.octet_count(), 5 * 160);
        assert_eq!(Codec::Pcma.decode(&p2.payload)[0], 1008);
    }

    #[test]
    fn parse_rejects_garbage_and_rtcp() {
        assert!(parse_incoming(&[]).is_none());
        assert!(parse_incoming(&[0x80, 8, 0, 1]).is_none());
        assert!(parse_incoming(&[0x40; 20]).is_none()); // version 1
                                                        // CSRC count 15 but no room for them.
        let mut p = vec![0x8f, 8];
        p.extend_from_slice(&[0; 14]);
        assert!(parse_incoming(&p).is_none());
        let sr = build_sender_report(1, 0, 0, 0, 0, "x");
        assert!(is_rtcp(&sr));
        assert!(parse_incoming(&sr).is_none());
    }

    #[test]
    fn sender_report_layout() {
        let mut s = RtpSender::new(Codec::Pcmu, 0xAABB_CCDD, 1, 1000);
        s.frame(None);
        let ntp = (3_900_000_000u64 << 32) | 0x8000_0000;
        let r = s.sender_report(ntp, 1160, "zvonar@host");
        assert_eq!(r.len() % 4, 0);
        assert_eq!(&r[..4], &[0x80, 200, 0, 6]);
        assert_eq!(&r[4..8], &0xAABB_CCDDu32.to_be_bytes());
        assert_eq!(&r[8..16], &ntp.to_be_bytes());
        assert_eq!(&r[16..20], &1160u32.to_be_bytes());
        assert_eq!(&r[20..24], &1u32.to_be_bytes());
        assert_eq!(&r[24..28], &160u32.to_be_bytes());
        assert_eq!(&r[28..30], &[0x81, 202]);
        let sdes_words = u16::from_be_bytes([r[30], r[31]]) as usize;
        assert_eq!(28 + (sdes_words + 1) * 4, r.len());
        assert_eq!(r[36], 1);
        assert_eq!(r[37] as usize, "zvonar@host".len());
        assert_eq!(&r[38..49], b"zvonar@host");
    }

    #[test]
    fn ntp_conversion() {
        let t = UNIX_EPOCH + Duration::from_millis(1_500);
        let n = ntp_timestamp(t);
        assert_eq!(n >> 32, NTP_UNIX_OFFSET + 1);
        assert_eq!(n & 0xffff_ffff, 1 << 31);
    }

    #[test]
    fn latch_accepts_only_the_sdp_address_when_it_is_routable() {
        let sdp: SocketAddr = "192.0.2.10:4000".parse().unwrap();
        // Public SDP address, signalling from elsewhere (a trunk with separate media).
        let mut l = Latch::for_peer(sdp, Some("198.51.100.5".parse().unwrap()));
        assert_eq!(l.expect(), Expect::Exact(sdp));
        assert_eq!(l.target(), sdp);
        // A hijacker on another host, on the signalling host, or on the peer's own IP
        // but another port is refused, before and after latching.
        for stranger in ["203.0.113.9:4000", "198.51.100.5:4000", "192.0.2.10:4002"] {
            assert!(!l.accept(stranger.parse().unwrap()), "{stranger}");
        }
        assert_eq!(l.latched(), None);
        assert!(l.accept(sdp));
        assert_eq!(l.target(), sdp);
        assert!(!l.accept("192.0.2.10:4002".parse().unwrap()));
        // Loopback is routable: exact too (a peer on this host is not behind NAT).
        let lo: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let mut l = Latch::for_peer(lo, Some("127.0.0.1".parse().unwrap()));
        assert!(!l.accept("127.0.0.1:40002".parse().unwrap()));
        assert!(l.accept(lo));
        // A private SDP address equal to the signalling source (a PBX on our LAN): exact.
        let lan: SocketAddr = "192.168.1.20:10000".parse().unwrap();
        let l = Latch::for_peer(lan, Some("192.168.1.20".parse().unwrap()));
        assert_eq!(l.expect(), Expect::Exact(lan));
        // Signalling source unknown: exact.
        assert_eq!(Latch::for_peer(lan, None).expect(), Expect::Exact(lan));
    }

    #[test]
    fn latch_follows_the_signalling_source_of_a_natted_peer() {
        // SDP shows the phone's LAN address; its INVITE came from the NAT's public IP.
        let sdp: SocketAddr = "192.168.1.20:10000".parse().unwrap();
        let public: IpAddr = "198.51.100.5".parse().unwrap();
        let mut l = Latch::for_peer(sdp, Some(public));
        assert_eq!(l.expect(), Expect::Ip(public));
        assert_eq!(l.target(), sdp, "before latching: the SDP address");
        assert!(!l.accept("203.0.113.9:31337".parse().unwrap()), "stranger");
        assert!(!l.accept(sdp), "the private address itself cannot reach us");
        let nat: SocketAddr = "198.51.100.5:31337".parse().unwrap();
        assert!(l.accept(nat), "NAT-mapped port of the signalling IP");
        assert_eq!(l.target(), nat, "symmetric RTP: answer where it comes from");
        assert!(!l.accept("198.51.100.5:31339".parse().unwrap()));
        // A re-INVITE moving media forgets the latch and applies the rule again.
        let moved: SocketAddr = "203.0.113.7:5000".parse().unwrap();
        l.retarget(moved, Some(public));
        assert_eq!((l.latched(), l.target()), (None, moved));
        assert!(!l.accept(nat));
        assert!(l.accept(moved));
        // IPv4-mapped IPv6 sources compare equal to their IPv4 form.
        let mut l = Latch::for_peer("10.0.0.2:4000".parse().unwrap(), Some(public));
        assert!(l.accept("[::ffff:198.51.100.5]:4000".parse().unwrap()));
    }

    #[test]
    fn unroutable_addresses() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.1.1",
            "0.0.0.0",
            "fd00::1",
            "fe80::1",
            "::",
        ] {
            assert!(is_unroutable(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "192.0.2.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:db8::1",
            "::1",
        ] {
            assert!(!is_unroutable(ip.parse().unwrap()), "{ip}");
        }
    }
}
