//! SDP: RFC 4566 session descriptions and RFC 3264 offer/answer for audio.
//!
//! rsipstack carries message bodies as raw bytes; this module turns an
//! `application/sdp` body into a [`SessionDescription`] ([`SessionDescription::parse`]),
//! writes one back ([`SessionDescription`]'s `Display`/`to_string()`, always CRLF), and
//! runs the offer/answer model for a G.711 audio endpoint:
//!
//! * [`negotiate_answer`]: we are the answerer (inbound INVITE with an offer, UAS).
//! * [`create_offer`] / [`parse_answer`]: we are the offerer (outbound calls, UAC).
//! * [`MediaSession`]: keeps the last SDP we sent so that re-INVITE answers and offers
//!   carry the same `o=` line with the version incremented only when the
//!   description changed (RFC 3264 §8).
//!
//! Supported media: PCMU (PT 0) and PCMA (PT 8) at 8000 Hz (RFC 3551 §6), plus
//! `telephone-event/8000` (RFC 4733) over plain `RTP/AVP` or `RTP/AVPF`. Secure
//! profiles (`RTP/SAVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF` — i.e. browser WebRTC)
//! are refused with [`NegotiationError::UnsupportedProfile`]; every
//! [`NegotiationError`] caused by the peer maps to `488 Not Acceptable Here`
//! (RFC 3261 §21.4.26) via [`NegotiationError::sip_status`].
//!
//! Parsing policy (see [`SessionDescription::parse`]): strict about structure, every
//! error names the 1-based line number; tolerant of LF-only line ends, trailing
//! blank lines, unknown attributes, and line order within a section.

mod negotiate;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

pub use negotiate::{
    create_offer, negotiate_answer, parse_answer, Codec, LocalMedia, MediaSession, Negotiated,
    NegotiationError,
};

/// A parsed SDP session description (RFC 4566 §5).
///
/// Session-level fields come first, then the media sections in order. Values are
/// kept verbatim (no trimming) so that writing and re-parsing yields an equal value;
/// the writer emits lines in the RFC 4566 §5 order, whatever order the input used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` origin (RFC 4566 §5.2).
    pub origin: Origin,
    /// `s=` session name (RFC 4566 §5.3); may be empty (seen in the wild) or `-`.
    pub session_name: String,
    /// `i=` session information (RFC 4566 §5.4).
    pub information: Option<String>,
    /// `u=` URI (RFC 4566 §5.5).
    pub uri: Option<String>,
    /// `e=` email addresses (RFC 4566 §5.6).
    pub emails: Vec<String>,
    /// `p=` phone numbers (RFC 4566 §5.6).
    pub phones: Vec<String>,
    /// Session-level `c=` (RFC 4566 §5.7); applies to media sections without their own.
    pub connection: Option<Connection>,
    /// Session-level `b=` lines (RFC 4566 §5.8).
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines with their `r=` repeats (RFC 4566 §5.9, §5.10); at least one.
    pub timings: Vec<Timing>,
    /// `z=` time-zone adjustments, verbatim (RFC 4566 §5.11).
    pub time_zones: Option<String>,
    /// Session-level `k=` encryption key, verbatim (RFC 4566 §5.12).
    pub key: Option<String>,
    /// Session-level `a=` attributes in input order (ICE/DTLS ones included, as
    /// [`Attribute::Other`]).
    pub attributes: Vec<Attribute>,
    /// Media sections (`m=` and the lines after it), in order.
    pub media: Vec<MediaDescription>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
/// (RFC 4566 §5.2).
///
/// `session_id`/`session_version` are kept as strings: RFC 4566 wants digits but
/// deployed Cisco phones send `(null)`; we never need to interpret a peer's values
/// beyond comparing them. Our own descriptions always use decimal numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Login of the originating user, `-` when none.
    pub username: String,
    /// Session id (digits in well-formed SDP).
    pub session_id: String,
    /// Session version (digits in well-formed SDP); bumped on every change (RFC 3264 §8).
    pub session_version: String,
    /// Network type, `IN`.
    pub net_type: String,
    /// Address type, `IP4` or `IP6`.
    pub addr_type: String,
    /// Address or FQDN of the originating host.
    pub unicast_address: String,
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 4566 §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Network type, `IN`.
    pub net_type: String,
    /// Address type, `IP4` or `IP6`.
    pub addr_type: String,
    /// Address, verbatim: an IP literal, possibly with `/ttl[/count]` for multicast,
    /// or an FQDN.
    pub address: String,
}

impl Connection {
    /// `c=IN IP4 …` / `c=IN IP6 …` for an IP address.
    pub fn from_ip(ip: IpAddr) -> Self {
        Connection {
            net_type: "IN".into(),
            addr_type: match ip {
                IpAddr::V4(_) => "IP4".into(),
                IpAddr::V6(_) => "IP6".into(),
            },
            address: ip.to_string(),
        }
    }

    /// The address as an IP, when `nettype` is `IN`, the address (without any
    /// `/ttl` suffix) is an IP literal, and its family matches `addrtype`.
    /// `None` for FQDNs and mismatches.
    pub fn ip(&self) -> Option<IpAddr> {
        if self.net_type != "IN" {
            return None;
        }
        let host = self.address.split('/').next().unwrap_or_default();
        let ip: IpAddr = host.parse().ok()?;
        match (self.addr_type.as_str(), ip) {
            ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Some(ip),
            _ => None,
        }
    }
}

/// `b=<bwtype>:<bandwidth>` (RFC 4566 §5.8); bandwidth in kbit/s for `AS`/`CT`,
/// bit/s for `TIAS` (RFC 3890).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    /// Bandwidth type, e.g. `AS`, `CT`, `TIAS`.
    pub bw_type: String,
    /// Value in the unit of `bw_type`.
    pub bandwidth: u64,
}

/// `t=<start> <stop>` (NTP seconds, 0 = unbounded) with its `r=` lines verbatim
/// (RFC 4566 §5.9, §5.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    /// Start time, NTP seconds; 0 for permanent sessions.
    pub start: u64,
    /// Stop time, NTP seconds; 0 for unbounded sessions.
    pub stop: u64,
    /// `r=` repeat lines following this `t=`, verbatim.
    pub repeats: Vec<String>,
}

/// One media section (RFC 4566 §5.14): `m=<media> <port>[/<count>] <proto> <fmt> …`
/// and its `i=`, `c=`, `b=`, `k=`, `a=` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type: `audio`, `video`, `text`, `application`, `image`, …
    pub media: String,
    /// Transport port; 0 means the stream is disabled/rejected (RFC 3264 §5.1, §6).
    pub port: u16,
    /// Optional `/<number of ports>` suffix of the port.
    pub port_count: Option<u16>,
    /// Transport protocol, e.g. `RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, `udptl`.
    pub proto: String,
    /// Media formats: RTP payload type numbers for RTP profiles, otherwise tokens.
    /// May be empty only when `port` is 0 (browsers send such rejected lines).
    pub formats: Vec<String>,
    /// `i=` media title.
    pub information: Option<String>,
    /// Media-level `c=` lines (several are allowed for multicast layering).
    pub connections: Vec<Connection>,
    /// Media-level `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// Media-level `k=` encryption key, verbatim.
    pub key: Option<String>,
    /// Media-level `a=` attributes in input order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// The `a=rtpmap` for payload type `pt`, if any.
    pub fn rtpmap(&self, pt: u8) -> Option<&RtpMap> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::RtpMap(m) if m.payload_type == pt => Some(m),
            _ => None,
        })
    }

    /// The `a=fmtp` parameters (verbatim) for format `format`, if any.
    pub fn fmtp(&self, format: &str) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Fmtp(f) if f.format == format => Some(f.params.as_str()),
            _ => None,
        })
    }

    /// `a=ptime` (RFC 4566 §6): packet duration the sender of this SDP wants to receive.
    pub fn ptime(&self) -> Option<Duration> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Ptime(d) => Some(*d),
            _ => None,
        })
    }

    /// `a=maxptime` (RFC 4566 §6): largest packet duration the sender of this SDP accepts.
    pub fn maxptime(&self) -> Option<Duration> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::MaxPtime(d) => Some(*d),
            _ => None,
        })
    }

    /// The media-level direction attribute, if present.
    pub fn direction(&self) -> Option<Direction> {
        direction_of(&self.attributes)
    }

    /// The connection that applies to this section: its first `c=`, else the
    /// session-level one (RFC 4566 §5.7).
    pub fn effective_connection<'a>(
        &'a self,
        session: &'a SessionDescription,
    ) -> Option<&'a Connection> {
        self.connections.first().or(session.connection.as_ref())
    }

    /// Direction that applies to this section: media-level attribute, else
    /// session-level, else `sendrecv` (RFC 3264 §5.1, RFC 4566 §6).
    pub fn effective_direction(&self, session: &SessionDescription) -> Direction {
        self.direction()
            .or_else(|| session.direction())
            .unwrap_or(Direction::SendRecv)
    }

    /// Whether `proto` is plain (unencrypted) RTP: `RTP/AVP` or `RTP/AVPF`
    /// (case-insensitive).
    pub fn is_plain_rtp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("RTP/AVP") || self.proto.eq_ignore_ascii_case("RTP/AVPF")
    }
}

impl SessionDescription {
    /// The session-level direction attribute, if present.
    pub fn direction(&self) -> Option<Direction> {
        direction_of(&self.attributes)
    }
}

fn direction_of(attrs: &[Attribute]) -> Option<Direction> {
    attrs.iter().find_map(|a| match a {
        Attribute::Direction(d) => Some(*d),
        _ => None,
    })
}

/// An `a=` line (RFC 4566 §5.13, §6). The attributes this module interprets are
/// typed and validated at parse time; everything else (ICE, DTLS fingerprint/setup,
/// `rtcp`, `mid`, `ssrc`, `extmap`, …) is kept as [`Attribute::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// `a=rtpmap:<pt> <encoding>/<clock>[/<params>]`.
    RtpMap(RtpMap),
    /// `a=fmtp:<format> <params>`.
    Fmtp(Fmtp),
    /// `a=ptime:<ms>`; decimal milliseconds allowed (`0.125`), kept to the nanosecond.
    Ptime(Duration),
    /// `a=maxptime:<ms>`; decimal milliseconds allowed.
    MaxPtime(Duration),
    /// `a=sendrecv` / `a=sendonly` / `a=recvonly` / `a=inactive` (RFC 3264 §5.1).
    Direction(Direction),
    /// Any other attribute: `a=<name>` (flag, `value` = `None`) or
    /// `a=<name>:<value>` (value verbatim, may be empty or start with a space).
    Other {
        /// Attribute name (RFC 4566 `att-field`, a token).
        name: String,
        /// Everything after the first `:`, verbatim.
        value: Option<String>,
    },
}

/// `a=rtpmap` payload (RFC 4566 §6): maps an RTP payload type to an encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// RTP payload type, 0..=127 (RFC 3550 §5.1).
    pub payload_type: u8,
    /// Encoding name as written (compare case-insensitively, RFC 4855 §3).
    pub encoding: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Encoding parameters verbatim (channel count for audio), if present.
    pub params: Option<String>,
}

impl RtpMap {
    /// Audio channel count: `params` as a number, 1 when absent (RFC 4566 §6).
    pub fn channels(&self) -> Option<u16> {
        match &self.params {
            None => Some(1),
            Some(p) => p.parse().ok(),
        }
    }
}

/// `a=fmtp` payload (RFC 4566 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    /// The format (payload type number for RTP) the parameters apply to.
    pub format: String,
    /// Format-specific parameters, verbatim (e.g. `0-16` for telephone-event).
    pub params: String,
}

/// Media direction (RFC 3264 §5.1, §6.1), always from the point of view of the
/// party that wrote the SDP (or, in [`Negotiated`], from ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Send and receive (the default when no attribute is present).
    SendRecv,
    /// Send only (the writer puts the other side on hold).
    SendOnly,
    /// Receive only.
    RecvOnly,
    /// Neither send nor receive.
    Inactive,
}

impl Direction {
    /// The attribute name, e.g. `sendrecv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parses an attribute name (`sendrecv`, …); case-sensitive as in RFC 4566.
    pub fn from_attr(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// Whether this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// Builds a direction from send/receive flags.
    pub fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The same stream seen from the other side: sendonly ↔ recvonly
    /// (RFC 3264 §6.1 answer mirroring).
    pub fn reversed(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }

    /// What both constraints allow (used to combine the mirrored offer with our
    /// own wish, e.g. our hold).
    pub fn intersect(self, other: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an SDP body could not be parsed: always the sender's fault (answer
/// `400 Bad Request` or `488`, per the caller's policy). Line numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The body is empty or only blank lines.
    #[error("SDP body is empty")]
    Empty,
    /// A line is not `<letter>=<value>` or its value does not follow the grammar.
    #[error("SDP line {line}: {reason}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A type letter RFC 4566 does not define; RFC 4566 §5 says such a description
    /// MUST be ignored as a whole.
    #[error("SDP line {line}: unknown line type `{kind}=`")]
    UnknownType {
        /// 1-based line number.
        line: usize,
        /// The type letter.
        kind: char,
    },
    /// `v=` is not `0` (RFC 4566 §5.1).
    #[error("SDP line {line}: unsupported protocol version `{value}` (expected `v=0`)")]
    UnsupportedVersion {
        /// 1-based line number.
        line: usize,
        /// The value after `v=`.
        value: String,
    },
    /// A line type appears where it is not allowed (e.g. the first line is not
    /// `v=`, or `t=` inside a media section).
    #[error("SDP line {line}: `{kind}=` is not allowed here")]
    Misplaced {
        /// 1-based line number.
        line: usize,
        /// The type letter.
        kind: char,
    },
    /// A line type that may appear once per section appears again.
    #[error("SDP line {line}: duplicate `{kind}=` line")]
    Duplicate {
        /// 1-based line number.
        line: usize,
        /// The type letter.
        kind: char,
    },
    /// A required line (`o=`, `s=`, `t=`) is absent.
    #[error("SDP has no `{kind}=` line")]
    Missing {
        /// The type letter.
        kind: char,
    },
    /// A media section with a non-zero port has no `c=` and there is no
    /// session-level `c=` (RFC 4566 §5.7).
    #[error("SDP line {line}: media section has no `c=` line and there is no session-level `c=`")]
    MissingConnection {
        /// 1-based line number of the `m=` line.
        line: usize,
    },
}

impl SdpError {
    /// The 1-based line number the error refers to, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            SdpError::Syntax { line, .. }
            | SdpError::UnknownType { line, .. }
            | SdpError::UnsupportedVersion { line, .. }
            | SdpError::Misplaced { line, .. }
            | SdpError::Duplicate { line, .. }
            | SdpError::MissingConnection { line } => Some(*line),
            SdpError::Empty | SdpError::Missing { .. } => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.net_type,
            self.addr_type,
            self.unicast_address
        )
    }
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.bw_type, self.bandwidth)
    }
}

/// Writes milliseconds with up to 6 fractional digits, no trailing zeros.
fn fmt_ms(f: &mut fmt::Formatter<'_>, d: Duration) -> fmt::Result {
    let nanos = d.as_nanos();
    let ms = nanos / 1_000_000;
    let frac = nanos % 1_000_000;
    if frac == 0 {
        write!(f, "{ms}")
    } else {
        let s = format!("{frac:06}");
        write!(f, "{ms}.{}", s.trim_end_matches('0'))
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::RtpMap(m) => {
                write!(
                    f,
                    "rtpmap:{} {}/{}",
                    m.payload_type, m.encoding, m.clock_rate
                )?;
                if let Some(p) = &m.params {
                    write!(f, "/{p}")?;
                }
                Ok(())
            }
            Attribute::Fmtp(x) => write!(f, "fmtp:{} {}", x.format, x.params),
            Attribute::Ptime(d) => {
                f.write_str("ptime:")?;
                fmt_ms(f, *d)
            }
            Attribute::MaxPtime(d) => {
                f.write_str("maxptime:")?;
                fmt_ms(f, *d)
            }
            Attribute::Direction(d) => f.write_str(d.as_str()),
            Attribute::Other { name, value: None } => f.write_str(name),
            Attribute::Other {
                name,
                value: Some(v),
            } => write!(f, "{name}:{v}"),
        }
    }
}

impl fmt::Display for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt_ in &self.formats {
            write!(f, " {fmt_}")?;
        }
        f.write_str("\r\n")?;
        if let Some(i) = &self.information {
            write!(f, "i={i}\r\n")?;
        }
        for c in &self.connections {
            write!(f, "c={c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={b}\r\n")?;
        }
        if let Some(k) = &self.key {
            write!(f, "k={k}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        Ok(())
    }
}

/// Writes the description as RFC 4566 SDP: lines in §5 order, each ending in CRLF.
impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=0\r\n")?;
        write!(f, "o={}\r\n", self.origin)?;
        write!(f, "s={}\r\n", self.session_name)?;
        if let Some(i) = &self.information {
            write!(f, "i={i}\r\n")?;
        }
        if let Some(u) = &self.uri {
            write!(f, "u={u}\r\n")?;
        }
        for e in &self.emails {
            write!(f, "e={e}\r\n")?;
        }
        for p in &self.phones {
            write!(f, "p={p}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={b}\r\n")?;
        }
        for t in &self.timings {
            write!(f, "t={} {}\r\n", t.start, t.stop)?;
            for r in &t.repeats {
                write!(f, "r={r}\r\n")?;
            }
        }
        if let Some(z) = &self.time_zones {
            write!(f, "z={z}\r\n")?;
        }
        if let Some(k) = &self.key {
            write!(f, "k={k}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}
