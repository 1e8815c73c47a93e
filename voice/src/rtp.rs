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
        let bytes = self.build(self.codec.payload_type(), self.ts, marker, &payload);
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

/// Symmetric RTP latching (RFC 4961; "comedia"): send to the address the peer's packets
/// actually come from, which behind NAT differs from the address in its SDP.
///
/// Before latching, packets go to the SDP address and only packets from the SDP IP (any port)
/// are accepted; the first accepted valid RTP packet latches its source address, and from then
/// on only that exact address is accepted and used as the destination. With `any_source`
/// the first valid packet from any IP latches (for peers whose SDP shows a private address).
#[derive(Debug, Clone)]
pub struct Latch {
    expected: SocketAddr,
    any_source: bool,
    latched: Option<SocketAddr>,
}

impl Latch {
    /// A latch expecting media from `sdp_addr` (the connection address and port from the peer's
    /// SDP).
    pub fn new(sdp_addr: SocketAddr, any_source: bool) -> Self {
        Self {
            expected: sdp_addr,
            any_source,
            latched: None,
        }
    }

    /// Decides whether a valid RTP packet from `from` is accepted; latches on the first one.
    pub fn accept(&mut self, from: SocketAddr) -> bool {
        match self.latched {
            Some(addr) => addr == from,
            None => {
                if self.any_source || same_ip(from.ip(), self.expected.ip()) {
                    self.latched = Some(from);
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Where to send: the latched address, or the SDP address before latching.
    pub fn target(&self) -> SocketAddr {
        self.latched.unwrap_or(self.expected)
    }

    /// The latched address, if any packet has been accepted yet.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// Replaces the SDP address (re-INVITE) and forgets the latch.
    pub fn retarget(&mut self, sdp_addr: SocketAddr) {
        self.expected = sdp_addr;
        self.latched = None;
    }
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    canon(a) == canon(b)
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
    fn latch_follows_first_packet_from_expected_ip() {
        let sdp: SocketAddr = "192.0.2.10:4000".parse().unwrap();
        let mut l = Latch::new(sdp, false);
        assert_eq!(l.target(), sdp);
        assert!(!l.accept("198.51.100.1:4000".parse().unwrap()));
        let nat: SocketAddr = "192.0.2.10:31337".parse().unwrap();
        assert!(l.accept(nat));
        assert_eq!(l.target(), nat);
        assert!(
            !l.accept(sdp),
            "after latching only the latched address is accepted"
        );
        assert!(l.accept(nat));
        let mut any = Latch::new(sdp, true);
        assert!(any.accept("198.51.100.1:5000".parse().unwrap()));
        assert_eq!(any.target(), "198.51.100.1:5000".parse().unwrap());
        any.retarget(sdp);
        assert_eq!(any.latched(), None);
    }
}
