//! RFC 3264 offer/answer for one G.711 audio stream (+ RFC 4733 telephone-event).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{
    Attribute, Connection, Direction, Fmtp, MediaDescription, Origin, RtpMap, SessionDescription,
    Timing,
};

/// Payload type we use for telephone-event in our own offers (dynamic range,
/// RFC 3551 §3; 101 is the customary choice).
pub const OFFER_TELEPHONE_EVENT_PT: u8 = 101;

/// The audio codecs this engine can send and receive (RFC 3551 §4.5.14, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 μ-law, static payload type 0, 8000 Hz, mono.
    Pcmu,
    /// G.711 A-law, static payload type 8, 8000 Hz, mono.
    Pcma,
}

impl Codec {
    /// Static RTP payload type (RFC 3551 §6): 0 for PCMU, 8 for PCMA.
    pub fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// Encoding name for `a=rtpmap` (`PCMU`/`PCMA`).
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// RTP clock rate in Hz (8000).
    pub fn clock_rate(self) -> u32 {
        8000
    }

    /// The codec a static payload type denotes when there is no `a=rtpmap`.
    pub fn from_static_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The codec an `a=rtpmap` denotes: `PCMU/8000` or `PCMA/8000` (encoding name
    /// case-insensitive, optional channel count must be 1).
    pub fn from_rtpmap(m: &RtpMap) -> Option<Codec> {
        if m.clock_rate != 8000 || m.channels() != Some(1) {
            return None;
        }
        if m.encoding.eq_ignore_ascii_case("PCMU") {
            Some(Codec::Pcmu)
        } else if m.encoding.eq_ignore_ascii_case("PCMA") {
            Some(Codec::Pcma)
        } else {
            None
        }
    }

    fn rtpmap(self, pt: u8) -> RtpMap {
        RtpMap {
            payload_type: pt,
            encoding: self.encoding_name().into(),
            clock_rate: self.clock_rate(),
            params: None,
        }
    }
}

/// Our side of the media: where we receive RTP and what we accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address we receive RTP on (goes into `o=` and `c=`).
    pub addr: IpAddr,
    /// RTP port we receive on (even, RFC 3550 §11); must not be 0.
    pub port: u16,
    /// Codecs we support. In answers the offerer's order decides among these
    /// (RFC 3264 §6.1 recommends keeping the offer's order); in our offers this
    /// order is our preference.
    pub codecs: Vec<Codec>,
    /// Whether we accept/offer `telephone-event/8000` (RFC 4733 DTMF).
    pub telephone_event: bool,
    /// `o=` session id (RFC 4566 §5.2), stable for the dialog.
    pub session_id: u64,
    /// `o=` session version (RFC 3264 §8) used in descriptions built from this;
    /// [`MediaSession`] keeps it equal to the version it last sent.
    pub session_version: u64,
    /// Packetisation we want to receive, ms (`a=ptime`); 20 is the G.711 norm.
    pub ptime_ms: u32,
    /// What we are willing to do: `SendRecv` normally, `SendOnly` to hold the
    /// peer, `Inactive` to stop media. Intersected with the mirrored offer.
    pub direction: Direction,
}

impl LocalMedia {
    /// Defaults: PCMA then PCMU, telephone-event on, ptime 20, sendrecv, random
    /// session id, version 1.
    pub fn new(addr: IpAddr, port: u16) -> Self {
        LocalMedia {
            addr,
            port,
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            telephone_event: true,
            session_id: u64::from(rand::random::<u32>()),
            session_version: 1,
            ptime_ms: 20,
            direction: Direction::SendRecv,
        }
    }

    fn validate(&self) -> Result<(), NegotiationError> {
        if self.port == 0 {
            return Err(NegotiationError::InvalidLocal {
                reason: "local RTP port is 0",
            });
        }
        if self.codecs.is_empty() {
            return Err(NegotiationError::InvalidLocal {
                reason: "no local codecs",
            });
        }
        if self.ptime_ms == 0 {
            return Err(NegotiationError::InvalidLocal {
                reason: "local ptime is 0",
            });
        }
        Ok(())
    }

    fn origin(&self) -> Origin {
        let c = Connection::from_ip(self.addr);
        Origin {
            username: "-".into(),
            session_id: self.session_id.to_string(),
            session_version: self.session_version.to_string(),
            net_type: c.net_type,
            addr_type: c.addr_type,
            unicast_address: c.address,
        }
    }

    fn skeleton(&self, media: Vec<MediaDescription>) -> SessionDescription {
        SessionDescription {
            origin: self.origin(),
            session_name: "-".into(),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: Some(Connection::from_ip(self.addr)),
            bandwidths: Vec::new(),
            timings: vec![Timing {
                start: 0,
                stop: 0,
                repeats: Vec::new(),
            }],
            time_zones: None,
            key: None,
            attributes: Vec::new(),
            media,
        }
    }
}

/// Result of an offer/answer exchange: what the RTP engine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The answer of this exchange: the SDP to send in our 200 OK (from
    /// [`negotiate_answer`]), or the peer's answer (from [`parse_answer`]).
    pub answer: SessionDescription,
    /// Index of the negotiated audio section among the `m=` lines.
    pub media_index: usize,
    /// Where to send RTP: the peer's media `c=` (else session `c=`) and `m=` port.
    /// May be `0.0.0.0` when the peer uses legacy hold (see `remote_hold`).
    pub remote_rtp: SocketAddr,
    /// Codec both sides use.
    pub codec: Codec,
    /// RTP payload type for `codec` (the offerer's number, RFC 3264 §6.1).
    pub payload_type: u8,
    /// RTP payload type for RFC 4733 telephone-event, when both sides support it.
    pub telephone_event_pt: Option<u8>,
    /// `a=fmtp` of telephone-event as offered (e.g. `0-16`); `None` means 0-15
    /// (RFC 4733 §2.4.1).
    pub telephone_event_fmtp: Option<String>,
    /// Packet duration to send, ms: the peer's `a=ptime`, else 20 capped by its
    /// `a=maxptime`.
    pub ptime_ms: u32,
    /// Our direction: `SendOnly` means we send and do not expect to receive, etc.
    pub direction: Direction,
    /// The peer put us on hold: it offered `sendonly`/`inactive`, or used the
    /// RFC 2543 `c=0.0.0.0` convention (RFC 3264 §8.4). Do not send RTP then.
    pub remote_hold: bool,
}

impl Negotiated {
    /// Whether we should send RTP now: our direction sends and the remote address
    /// is usable (not on hold via `0.0.0.0`).
    pub fn may_send(&self) -> bool {
        self.direction.sends() && !self.remote_rtp.ip().is_unspecified()
    }
}

/// Why offer/answer failed. Peer faults map to `488 Not Acceptable Here`
/// (RFC 3261 §21.4.26), ours to `500` — see [`NegotiationError::sip_status`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// Peer: no `m=audio` section with a non-zero port (e.g. T.38-only fax offer).
    #[error("offer has no active audio stream")]
    NoAudioStream,
    /// Peer: audio is offered only over profiles we do not implement (SRTP,
    /// DTLS-SRTP: browser WebRTC without a gateway).
    #[error("audio offered only with unsupported transport profile `{proto}`")]
    UnsupportedProfile {
        /// The first unsupported profile seen, e.g. `UDP/TLS/RTP/SAVPF`.
        proto: String,
    },
    /// Peer: plain RTP audio offered, but with no PCMA/PCMU we accept.
    #[error("no common audio codec")]
    NoCommonCodec,
    /// Peer: the audio section has no connection address (only possible for a
    /// description not produced by [`SessionDescription::parse`]).
    #[error("audio stream {media_index} has no connection address")]
    MissingConnection {
        /// Index of the `m=` section.
        media_index: usize,
    },
    /// Peer: the connection address is an FQDN, multicast, or not IN IP4/IP6.
    #[error("unsupported connection address `{address}`")]
    UnsupportedAddress {
        /// The `c=` value.
        address: String,
    },
    /// Peer: the answer does not have one `m=` line per offered one, of the same
    /// media type, in the same order (RFC 3264 §6).
    #[error("answer does not match the offer's media lines: {reason}")]
    AnswerMismatch {
        /// What differs.
        reason: String,
    },
    /// Peer: the answerer rejected our audio stream (port 0, RFC 3264 §6).
    #[error("answer rejected the audio stream")]
    AudioRejected,
    /// Ours: `LocalMedia` is unusable (port 0, no codecs…), or the offer passed to
    /// [`parse_answer`] has no audio stream of ours.
    #[error("invalid local media configuration: {reason}")]
    InvalidLocal {
        /// What is wrong.
        reason: &'static str,
    },
}

impl NegotiationError {
    /// Whether the peer's SDP caused the failure (as opposed to our configuration).
    pub fn is_peer_fault(&self) -> bool {
        !matches!(self, NegotiationError::InvalidLocal { .. })
    }

    /// SIP status to answer an offer with: 488 for peer faults, 500 for ours.
    pub fn sip_status(&self) -> u16 {
        if self.is_peer_fault() {
            488
        } else {
            500
        }
    }
}

/// What a payload type in an `m=` section denotes: its `a=rtpmap`, else the
/// static table (RFC 3551 §6). An rtpmap overrides the static meaning.
fn codec_of(m: &MediaDescription, pt: u8) -> Option<Codec> {
    match m.rtpmap(pt) {
        Some(map) => Codec::from_rtpmap(map),
        None => Codec::from_static_payload_type(pt),
    }
}

/// First format (in `m`'s order) that is a codec from `accept`.
fn first_codec(m: &MediaDescription, accept: &[Codec]) -> Option<(Codec, u8)> {
    m.formats.iter().find_map(|f| {
        let pt: u8 = f.parse().ok().filter(|pt| *pt <= 127)?;
        codec_of(m, pt)
            .filter(|c| accept.contains(c))
            .map(|c| (c, pt))
    })
}

/// First `telephone-event/8000` format of `m` with its fmtp (RFC 4733 §7.1.1; the
/// clock must match the 8000 Hz audio codec, RFC 4733 §2.1).
fn telephone_event(m: &MediaDescription) -> Option<(u8, Option<String>)> {
    m.formats.iter().find_map(|f| {
        let pt: u8 = f.parse().ok()?;
        let map = m.rtpmap(pt)?;
        if map.encoding.eq_ignore_ascii_case("telephone-event") && map.clock_rate == 8000 {
            Some((pt, m.fmtp(f).map(str::to_string)))
        } else {
            None
        }
    })
}

fn ms_round(d: Duration) -> u32 {
    u32::try_from(d.as_micros().div_ceil(1000)).unwrap_or(u32::MAX)
}

/// Packet duration to send towards the writer of `m`: its ptime, else 20 capped by
/// its maxptime (RFC 4566 §6).
fn send_ptime(m: &MediaDescription, s: &SessionDescription) -> u32 {
    let session_attr = |want_max: bool| {
        s.attributes.iter().find_map(|a| match (a, want_max) {
            (Attribute::Ptime(d), false) | (Attribute::MaxPtime(d), true) => Some(*d),
            _ => None,
        })
    };
    if let Some(p) = m.ptime().or_else(|| session_attr(false)).map(ms_round) {
        if p > 0 {
            return p;
        }
    }
    match m.maxptime().or_else(|| session_attr(true)).map(ms_round) {
        Some(max) if max > 0 && max < 20 => max,
        _ => 20,
    }
}

fn remote_addr(
    s: &SessionDescription,
    m: &MediaDescription,
    index: usize,
) -> Result<SocketAddr, NegotiationError> {
    let c = m
        .effective_connection(s)
        .ok_or(NegotiationError::MissingConnection { media_index: index })?;
    match c.ip() {
        Some(ip) if !ip.is_multicast() && !c.address.contains('/') => {
            Ok(SocketAddr::new(ip, m.port))
        }
        _ => Err(NegotiationError::UnsupportedAddress {
            address: c.to_string(),
        }),
    }
}

/// Our audio section: chosen codec (+ telephone-event), ptime, direction.
fn audio_section(
    local: &LocalMedia,
    proto: &str,
    codecs: &[(Codec, u8)],
    te: Option<(u8, Option<String>)>,
    direction: Direction,
) -> MediaDescription {
    let mut formats = Vec::new();
    let mut attributes = Vec::new();
    for (c, pt) in codecs {
        formats.push(pt.to_string());
        attributes.push(Attribute::RtpMap(c.rtpmap(*pt)));
    }
    if let Some((pt, fmtp)) = te {
        formats.push(pt.to_string());
        attributes.push(Attribute::RtpMap(RtpMap {
            payload_type: pt,
            encoding: "telephone-event".into(),
            clock_rate: 8000,
            params: None,
        }));
        if let Some(params) = fmtp {
            attributes.push(Attribute::Fmtp(Fmtp {
                format: pt.to_string(),
                params,
            }));
        }
    }
    attributes.push(Attribute::Ptime(Duration::from_millis(u64::from(
        local.ptime_ms,
    ))));
    attributes.push(Attribute::Direction(direction));
    MediaDescription {
        media: "audio".into(),
        port: local.port,
        port_count: None,
        proto: proto.into(),
        formats,
        information: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes,
    }
}

/// A rejected answer line (RFC 3264 §6): same media and proto, port 0, the
/// offered formats echoed so the line stays well-formed.
fn rejected(m: &MediaDescription) -> MediaDescription {
    MediaDescription {
        media: m.media.clone(),
        port: 0,
        port_count: None,
        proto: m.proto.clone(),
        formats: m.formats.clone(),
        information: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    }
}

/// Answers `offer` as an audio UAS (RFC 3264 §6).
///
/// * Picks the first `m=audio` with a non-zero port, profile `RTP/AVP` or
///   `RTP/AVPF`, that contains a codec of `local.codecs`; within it the first such
///   format in the offerer's order (RFC 3264 §6.1), keeping the offerer's payload
///   type number (static 0/8 with or without rtpmap, or dynamic `PCMA/8000` /
///   `PCMU/8000`, names case-insensitive).
/// * Adds `telephone-event/8000` with the offerer's payload type and fmtp when
///   `local.telephone_event` and offered.
/// * Every other `m=` line is answered with port 0, same count and order (§6).
/// * Direction: the offer's (media, else session, else sendrecv) mirrored, then
///   intersected with `local.direction` (§6.1). `remote_hold` reports sendonly /
///   inactive offers and `c=0.0.0.0` (§8.4).
/// * The answer has `o=- <local.session_id> <local.session_version> IN IP4|IP6
///   <local.addr>`; use [`MediaSession`] for re-INVITEs so the version increments.
///
/// Errors: [`NegotiationError::NoAudioStream`], `UnsupportedProfile` (only
/// SAVP/DTLS audio), `NoCommonCodec`, address problems — all 488.
pub fn negotiate_answer(
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Result<Negotiated, NegotiationError> {
    local.validate()?;
    let mut saw_plain_audio = false;
    let mut unsupported_proto: Option<&str> = None;
    let mut chosen = None;
    for (i, m) in offer.media.iter().enumerate() {
        if !m.media.eq_ignore_ascii_case("audio") || m.port == 0 {
            continue;
        }
        if !m.is_plain_rtp() {
            unsupported_proto.get_or_insert(m.proto.as_str());
            continue;
        }
        saw_plain_audio = true;
        if let Some(codec) = first_codec(m, &local.codecs) {
            chosen = Some((i, m, codec));
            break;
        }
    }
    let Some((index, m, (codec, pt))) = chosen else {
        return Err(if saw_plain_audio {
            NegotiationError::NoCommonCodec
        } else if let Some(proto) = unsupported_proto {
            NegotiationError::UnsupportedProfile {
                proto: proto.to_string(),
            }
        } else {
            NegotiationError::NoAudioStream
        });
    };
    let remote_rtp = remote_addr(offer, m, index)?;
    let te = if local.telephone_event {
        telephone_event(m)
    } else {
        None
    };
    let offered_dir = m.effective_direction(offer);
    let direction = offered_dir.reversed().intersect(local.direction);
    let remote_hold = !offered_dir.receives() || remote_rtp.ip().is_unspecified();

    let media = offer
        .media
        .iter()
        .enumerate()
        .map(|(i, om)| {
            if i == index {
                audio_section(local, &om.proto, &[(codec, pt)], te.clone(), direction)
            } else {
                rejected(om)
            }
        })
        .collect();
    Ok(Negotiated {
        answer: local.skeleton(media),
        media_index: index,
        remote_rtp,
        codec,
        payload_type: pt,
        telephone_event_pt: te.as_ref().map(|(pt, _)| *pt),
        telephone_event_fmtp: te.and_then(|(_, f)| f),
        ptime_ms: send_ptime(m, offer),
        direction,
        remote_hold,
    })
}

/// Our offer for an outbound call (RFC 3264 §5): one `m=audio <port> RTP/AVP`
/// with `local.codecs` in order at their static payload types, plus
/// `telephone-event/8000` at PT 101 with `fmtp 0-16` when enabled, `a=ptime`, and
/// `local.direction`.
pub fn create_offer(local: &LocalMedia) -> SessionDescription {
    let codecs: Vec<(Codec, u8)> = local
        .codecs
        .iter()
        .map(|c| (*c, c.static_payload_type()))
        .collect();
    let te = local
        .telephone_event
        .then(|| (OFFER_TELEPHONE_EVENT_PT, Some("0-16".to_string())));
    let audio = audio_section(local, "RTP/AVP", &codecs, te, local.direction);
    local.skeleton(vec![audio])
}

/// Interprets the peer's `answer` to the `offer` we sent (RFC 3264 §6, §7).
///
/// Checks that the answer has the same number of `m=` lines with the same media
/// types; takes our audio section (the first active plain-RTP `m=audio` in our
/// offer); the codec is the first answered format that is a PCMA/PCMU we offered;
/// telephone-event if both listed it. Direction is the answer's, mirrored and
/// intersected with what we offered.
pub fn parse_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<Negotiated, NegotiationError> {
    let (index, om) = offer
        .media
        .iter()
        .enumerate()
        .find(|(_, m)| m.media.eq_ignore_ascii_case("audio") && m.port != 0 && m.is_plain_rtp())
        .ok_or(NegotiationError::InvalidLocal {
            reason: "our offer has no active RTP/AVP audio stream",
        })?;
    if answer.media.len() != offer.media.len() {
        return Err(NegotiationError::AnswerMismatch {
            reason: format!(
                "{} m= lines offered, {} answered",
                offer.media.len(),
                answer.media.len()
            ),
        });
    }
    if let Some((i, (o, a))) = offer
        .media
        .iter()
        .zip(&answer.media)
        .enumerate()
        .find(|(_, (o, a))| !o.media.eq_ignore_ascii_case(&a.media))
    {
        return Err(NegotiationError::AnswerMismatch {
            reason: format!("m= line {i}: offered {}, answered {}", o.media, a.media),
        });
    }
    let am = &answer.media[index];
    if am.port == 0 {
        return Err(NegotiationError::AudioRejected);
    }
    let offered: Vec<Codec> = om
        .formats
        .iter()
        .filter_map(|f| codec_of(om, f.parse().ok()?))
        .collect();
    let (codec, pt) = first_codec(am, &offered).ok_or(NegotiationError::NoCommonCodec)?;
    let remote_rtp = remote_addr(answer, am, index)?;
    let te = telephone_event(om).and_then(|_| telephone_event(am));
    let answered_dir = am.effective_direction(answer);
    let direction = answered_dir
        .reversed()
        .intersect(om.effective_direction(offer));
    Ok(Negotiated {
        answer: answer.clone(),
        media_index: index,
        remote_rtp,
        codec,
        payload_type: pt,
        telephone_event_pt: te.as_ref().map(|(pt, _)| *pt),
        telephone_event_fmtp: te.and_then(|(_, f)| f),
        ptime_ms: send_ptime(am, answer),
        direction,
        remote_hold: !answered_dir.receives() || remote_rtp.ip().is_unspecified(),
    })
}

/// Offer/answer state of one dialog: remembers the last SDP we sent so that every
/// later one keeps the same `o=` line, with the version incremented by one when
/// (and only when) the description changed (RFC 3264 §8).
///
/// A failed negotiation (488 to a re-INVITE) leaves the state unchanged: the
/// session continues with the previous parameters (RFC 3261 §14.2).
#[derive(Debug, Clone)]
pub struct MediaSession {
    local: LocalMedia,
    last_sent: Option<SessionDescription>,
}

impl MediaSession {
    /// A dialog that has not sent SDP yet.
    pub fn new(local: LocalMedia) -> Self {
        MediaSession {
            local,
            last_sent: None,
        }
    }

    /// Our media settings.
    pub fn local(&self) -> &LocalMedia {
        &self.local
    }

    /// Changes our media settings (e.g. `direction = SendOnly` to hold, new port);
    /// takes effect in the next offer or answer.
    pub fn local_mut(&mut self) -> &mut LocalMedia {
        &mut self.local
    }

    /// The last SDP we sent, if any.
    pub fn last_sent(&self) -> Option<&SessionDescription> {
        self.last_sent.as_ref()
    }

    /// Answers an initial offer or a re-INVITE offer ([`negotiate_answer`]), with
    /// the `o=` version handled per RFC 3264 §8.
    pub fn answer(&mut self, offer: &SessionDescription) -> Result<Negotiated, NegotiationError> {
        let mut n = negotiate_answer(offer, &self.local)?;
        self.stamp(&mut n.answer);
        Ok(n)
    }

    /// Creates an offer (initial INVITE or re-INVITE), `o=` version per RFC 3264 §8.
    pub fn offer(&mut self) -> SessionDescription {
        let mut sdp = create_offer(&self.local);
        self.stamp(&mut sdp);
        sdp
    }

    /// Interprets the answer to the last offer we made ([`parse_answer`]).
    pub fn accept_answer(
        &self,
        answer: &SessionDescription,
    ) -> Result<Negotiated, NegotiationError> {
        let offer = self
            .last_sent
            .as_ref()
            .ok_or(NegotiationError::InvalidLocal {
                reason: "no offer was sent",
            })?;
        parse_answer(offer, answer)
    }

    /// Copies the previous `o=` line, bumping the version only if the rest of the
    /// description differs from the previous one; records `sdp` as sent.
    fn stamp(&mut self, sdp: &mut SessionDescription) {
        if let Some(prev) = &self.last_sent {
            sdp.origin = prev.origin.clone();
            if sdp != prev {
                let v = prev
                    .origin
                    .session_version
                    .parse::<u64>()
                    .unwrap_or(self.local.session_version);
                sdp.origin.session_version = v.wrapping_add(1).to_string();
            }
        }
        if let Ok(v) = sdp.origin.session_version.parse::<u64>() {
            self.local.session_version = v;
        }
        self.last_sent = Some(sdp.clone());
    }
}
