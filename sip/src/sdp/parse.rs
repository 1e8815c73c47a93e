//! RFC 4566 parser for [`SessionDescription`].

use std::net::IpAddr;
use std::time::Duration;

use super::{
    Attribute, Bandwidth, Connection, Direction, Fmtp, MediaDescription, Origin, RtpMap, SdpError,
    SessionDescription, Timing,
};

impl SessionDescription {
    /// Parses an SDP body (RFC 4566).
    ///
    /// Accepted: CRLF or LF-only line ends, trailing blank lines (SIP bodies often
    /// carry one), any order of lines inside a section, unknown attributes (kept as
    /// [`Attribute::Other`]), an empty `s=`, non-numeric `o=` session id/version.
    ///
    /// Rejected, with the line number ([`SdpError`]): a line that is not
    /// `<lowercase letter>=<value>`, a first line other than `v=0`, unknown type
    /// letters (RFC 4566 §5 says the whole description MUST then be ignored),
    /// session-only lines (`v o s u e p t r z`) inside a media section, duplicate
    /// single-occurrence lines, an `o=`/`c=`/`m=`/`t=`/`b=` line with the wrong
    /// number or form of fields, a malformed `rtpmap`/`fmtp`/`ptime`/`maxptime`/direction
    /// attribute, a blank line before the end, missing `o=`/`s=`/`t=`, and a media
    /// section with a non-zero port and no `c=` at media or session level
    /// (RFC 4566 §5.7). Sections with port 0 (disabled streams) need neither `c=`
    /// nor formats, because browsers send `m=video 0 UDP/TLS/RTP/SAVPF` like that.
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        Parser::default().run(text)
    }
}

impl std::str::FromStr for SessionDescription {
    type Err = SdpError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionDescription::parse(s)
    }
}

#[derive(Default)]
struct Parser {
    origin: Option<Origin>,
    session_name: Option<String>,
    information: Option<String>,
    uri: Option<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    connection: Option<Connection>,
    bandwidths: Vec<Bandwidth>,
    timings: Vec<Timing>,
    time_zones: Option<String>,
    key: Option<String>,
    attributes: Vec<Attribute>,
    /// Media sections with the line number of their `m=`.
    media: Vec<(usize, MediaDescription)>,
}

fn syntax(line: usize, reason: impl Into<String>) -> SdpError {
    SdpError::Syntax {
        line,
        reason: reason.into(),
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, line: usize, kind: char) -> Result<(), SdpError> {
    if slot.is_some() {
        return Err(SdpError::Duplicate { line, kind });
    }
    *slot = Some(value);
    Ok(())
}

impl Parser {
    fn run(mut self, text: &str) -> Result<SessionDescription, SdpError> {
        let lines: Vec<&str> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        // Trailing blank lines (and the empty piece after a final line end) are not content.
        let content_len = lines
            .iter()
            .rposition(|l| !l.is_empty())
            .map_or(0, |i| i + 1);
        if content_len == 0 {
            return Err(SdpError::Empty);
        }
        for (idx, raw) in lines[..content_len].iter().enumerate() {
            let no = idx + 1;
            if raw.is_empty() {
                return Err(syntax(no, "blank line inside the description"));
            }
            let bytes = raw.as_bytes();
            if bytes.len() < 2 || bytes[1] != b'=' {
                return Err(syntax(
                    no,
                    "expected `<type>=<value>` (a single letter, then `=`)",
                ));
            }
            let kind = char::from(bytes[0]);
            if !kind.is_ascii_lowercase() {
                return Err(syntax(no, "line type must be a lowercase letter"));
            }
            let value = &raw[2..];
            if no == 1 {
                if kind != 'v' {
                    return Err(SdpError::Misplaced { line: no, kind });
                }
                if value != "0" {
                    return Err(SdpError::UnsupportedVersion {
                        line: no,
                        value: value.to_string(),
                    });
                }
                continue;
            }
            self.line(no, kind, value)?;
        }
        self.finish()
    }

    fn line(&mut self, no: usize, kind: char, value: &str) -> Result<(), SdpError> {
        if let Some((_, m)) = self.media.last_mut() {
            // Media level: only i c b k a, and a new m.
            return match kind {
                'm' => self.start_media(no, value),
                'i' => set_once(&mut m.information, value.to_string(), no, kind),
                'c' => {
                    m.connections.push(parse_connection(no, value)?);
                    Ok(())
                }
                'b' => {
                    m.bandwidths.push(parse_bandwidth(no, value)?);
                    Ok(())
                }
                'k' => set_once(&mut m.key, value.to_string(), no, kind),
                'a' => {
                    m.attributes.push(parse_attribute(no, value)?);
                    check_single_direction(no, &m.attributes)
                }
                'v' | 'o' | 's' | 'u' | 'e' | 'p' | 't' | 'r' | 'z' => {
                    Err(SdpError::Misplaced { line: no, kind })
                }
                _ => Err(SdpError::UnknownType { line: no, kind }),
            };
        }
        match kind {
            'v' => Err(SdpError::Misplaced { line: no, kind }),
            'o' => {
                let o = parse_origin(no, value)?;
                set_once(&mut self.origin, o, no, kind)
            }
            's' => set_once(&mut self.session_name, value.to_string(), no, kind),
            'i' => set_once(&mut self.information, value.to_string(), no, kind),
            'u' => set_once(&mut self.uri, value.to_string(), no, kind),
            'e' => {
                self.emails.push(value.to_string());
                Ok(())
            }
            'p' => {
                self.phones.push(value.to_string());
                Ok(())
            }
            'c' => {
                let c = parse_connection(no, value)?;
                set_once(&mut self.connection, c, no, kind)
            }
            'b' => {
                self.bandwidths.push(parse_bandwidth(no, value)?);
                Ok(())
            }
            't' => {
                self.timings.push(parse_timing(no, value)?);
                Ok(())
            }
            'r' => match self.timings.last_mut() {
                Some(t) => {
                    t.repeats.push(value.to_string());
                    Ok(())
                }
                None => Err(SdpError::Misplaced { line: no, kind }),
            },
            'z' => set_once(&mut self.time_zones, value.to_string(), no, kind),
            'k' => set_once(&mut self.key, value.to_string(), no, kind),
            'a' => {
                self.attributes.push(parse_attribute(no, value)?);
                check_single_direction(no, &self.attributes)
            }
            'm' => self.start_media(no, value),
            _ => Err(SdpError::UnknownType { line: no, kind }),
        }
    }

    fn start_media(&mut self, no: usize, value: &str) -> Result<(), SdpError> {
        let m = parse_media(no, value)?;
        self.media.push((no, m));
        Ok(())
    }

    fn finish(self) -> Result<SessionDescription, SdpError> {
        let origin = self.origin.ok_or(SdpError::Missing { kind: 'o' })?;
        let session_name = self.session_name.ok_or(SdpError::Missing { kind: 's' })?;
        if self.timings.is_empty() {
            return Err(SdpError::Missing { kind: 't' });
        }
        if self.connection.is_none() {
            if let Some((line, _)) = self
                .media
                .iter()
                .find(|(_, m)| m.port != 0 && m.connections.is_empty())
            {
                return Err(SdpError::MissingConnection { line: *line });
            }
        }
        Ok(SessionDescription {
            origin,
            session_name,
            information: self.information,
            uri: self.uri,
            emails: self.emails,
            phones: self.phones,
            connection: self.connection,
            bandwidths: self.bandwidths,
            timings: self.timings,
            time_zones: self.time_zones,
            key: self.key,
            attributes: self.attributes,
            media: self.media.into_iter().map(|(_, m)| m).collect(),
        })
    }
}

/// Splits on single spaces; any empty field (double space, leading/trailing space)
/// is a syntax error, since RFC 4566 fields are separated by exactly one space.
fn fields<'a>(no: usize, what: &str, value: &'a str) -> Result<Vec<&'a str>, SdpError> {
    let parts: Vec<&str> = value.split(' ').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(syntax(
            no,
            format!("{what}: fields must be separated by single spaces"),
        ));
    }
    Ok(parts)
}

fn parse_origin(no: usize, value: &str) -> Result<Origin, SdpError> {
    let f = fields(no, "o=", value)?;
    let [username, session_id, session_version, net_type, addr_type, unicast_address] = f[..]
    else {
        return Err(syntax(
            no,
            format!(
                "o= needs 6 fields `<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`, got {}",
                f.len()
            ),
        ));
    };
    check_address(no, "o=", addr_type, unicast_address)?;
    Ok(Origin {
        username: username.into(),
        session_id: session_id.into(),
        session_version: session_version.into(),
        net_type: net_type.into(),
        addr_type: addr_type.into(),
        unicast_address: unicast_address.into(),
    })
}

/// An IP literal must match its declared address type; FQDNs are allowed
/// (RFC 4566 `unicast-address`/`connection-address` include FQDN).
fn check_address(no: usize, what: &str, addr_type: &str, address: &str) -> Result<(), SdpError> {
    let host = address.split('/').next().unwrap_or_default();
    let parsed: Option<IpAddr> = host.parse().ok();
    let ok = match (addr_type, parsed) {
        ("IP4", Some(IpAddr::V6(_))) | ("IP6", Some(IpAddr::V4(_))) => false,
        // A colon can only be part of an IPv6 literal.
        ("IP4", None) => !host.contains(':'),
        ("IP6", None) => !host.contains(':'),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(syntax(
            no,
            format!("{what}: `{address}` is not a valid {addr_type} address"),
        ))
    }
}

fn parse_connection(no: usize, value: &str) -> Result<Connection, SdpError> {
    let f = fields(no, "c=", value)?;
    let [net_type, addr_type, address] = f[..] else {
        return Err(syntax(
            no,
            format!(
                "c= needs 3 fields `<nettype> <addrtype> <address>`, got {}",
                f.len()
            ),
        ));
    };
    check_address(no, "c=", addr_type, address)?;
    Ok(Connection {
        net_type: net_type.into(),
        addr_type: addr_type.into(),
        address: address.into(),
    })
}

fn parse_bandwidth(no: usize, value: &str) -> Result<Bandwidth, SdpError> {
    let (ty, bw) = value
        .split_once(':')
        .ok_or_else(|| syntax(no, "b= must be `<bwtype>:<bandwidth>`"))?;
    if ty.is_empty() || !ty.bytes().all(is_token_byte) {
        return Err(syntax(no, "b=: bandwidth type must be a token"));
    }
    Ok(Bandwidth {
        bw_type: ty.into(),
        bandwidth: parse_digits(no, "b= bandwidth", bw)?,
    })
}

fn parse_digits<T: std::str::FromStr>(no: usize, what: &str, s: &str) -> Result<T, SdpError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax(no, format!("{what}: `{s}` is not a decimal number")));
    }
    s.parse()
        .map_err(|_| syntax(no, format!("{what}: `{s}` is out of range")))
}

fn parse_timing(no: usize, value: &str) -> Result<Timing, SdpError> {
    let f = fields(no, "t=", value)?;
    let [start, stop] = f[..] else {
        return Err(syntax(no, "t= needs 2 fields `<start> <stop>`"));
    };
    Ok(Timing {
        start: parse_digits(no, "t= start", start)?,
        stop: parse_digits(no, "t= stop", stop)?,
        repeats: Vec::new(),
    })
}

fn parse_media(no: usize, value: &str) -> Result<MediaDescription, SdpError> {
    let f = fields(no, "m=", value)?;
    if f.len() < 3 {
        return Err(syntax(
            no,
            "m= needs `<media> <port>[/<count>] <proto> <fmt> ...`",
        ));
    }
    let media = f[0];
    if !media.bytes().all(is_token_byte) {
        return Err(syntax(no, "m=: media type must be a token"));
    }
    let (port, port_count) = match f[1].split_once('/') {
        Some((p, n)) => (
            parse_digits::<u16>(no, "m= port", p)?,
            Some(parse_digits::<u16>(no, "m= port count", n)?),
        ),
        None => (parse_digits::<u16>(no, "m= port", f[1])?, None),
    };
    let proto = f[2];
    if !proto.bytes().all(|b| is_token_byte(b) || b == b'/') {
        return Err(syntax(no, "m=: invalid transport protocol"));
    }
    let formats: Vec<String> = f[3..].iter().map(|s| s.to_string()).collect();
    if formats.is_empty() && port != 0 {
        return Err(syntax(no, "m=: no media formats"));
    }
    if let Some(bad) = formats.iter().find(|s| !s.bytes().all(is_token_byte)) {
        return Err(syntax(no, format!("m=: invalid format `{bad}`")));
    }
    Ok(MediaDescription {
        media: media.into(),
        port,
        port_count,
        proto: proto.into(),
        formats,
        information: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    })
}

/// RFC 4566 `token-char`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`{|}~".contains(&b)
}

fn parse_attribute(no: usize, value: &str) -> Result<Attribute, SdpError> {
    let (name, val) = match value.split_once(':') {
        Some((n, v)) => (n, Some(v)),
        None => (value, None),
    };
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(syntax(no, format!("a=: invalid attribute name `{name}`")));
    }
    if let Some(d) = Direction::from_attr(name) {
        return match val {
            None => Ok(Attribute::Direction(d)),
            Some(_) => Err(syntax(no, format!("a={name} takes no value"))),
        };
    }
    let need = || val.ok_or_else(|| syntax(no, format!("a={name} needs a value")));
    match name {
        "rtpmap" => {
            let v = need()?;
            match parse_rtpmap(no, v) {
                Ok(m) => Ok(Attribute::RtpMap(m)),
                // `a=rtpmap:31 LPC` (no clock rate, seen in RFC 4475's INVITEs for a video
                // stream): kept as an unknown attribute, so its payload type stays unknown
                // and is never chosen, instead of refusing the whole offer (RFC 3264 §6
                // rejects the stream, not the session).
                Err(_) if !v.contains('/') && v.split_once(' ').is_some() => Ok(Attribute::Other {
                    name: name.into(),
                    value: Some(v.to_string()),
                }),
                Err(e) => Err(e),
            }
        }
        "fmtp" => {
            let v = need()?;
            let (format, params) = v
                .split_once(' ')
                .ok_or_else(|| syntax(no, "a=fmtp must be `<format> <parameters>`"))?;
            if format.is_empty() || !format.bytes().all(is_token_byte) {
                return Err(syntax(no, format!("a=fmtp: invalid format `{format}`")));
            }
            Ok(Attribute::Fmtp(Fmtp {
                format: format.into(),
                params: params.into(),
            }))
        }
        "ptime" => parse_ms(no, "a=ptime", need()?).map(Attribute::Ptime),
        "maxptime" => parse_ms(no, "a=maxptime", need()?).map(Attribute::MaxPtime),
        _ => Ok(Attribute::Other {
            name: name.into(),
            value: val.map(str::to_string),
        }),
    }
}

fn check_single_direction(no: usize, attrs: &[Attribute]) -> Result<(), SdpError> {
    let n = attrs
        .iter()
        .filter(|a| matches!(a, Attribute::Direction(_)))
        .count();
    if n > 1 {
        Err(syntax(
            no,
            "more than one direction attribute in this section",
        ))
    } else {
        Ok(())
    }
}

fn parse_rtpmap(no: usize, v: &str) -> Result<RtpMap, SdpError> {
    let (pt, enc) = v
        .split_once(' ')
        .ok_or_else(|| syntax(no, "a=rtpmap must be `<pt> <encoding>/<clock>[/<params>]`"))?;
    let payload_type: u8 = parse_digits(no, "a=rtpmap payload type", pt)?;
    if payload_type > 127 {
        return Err(syntax(
            no,
            format!("a=rtpmap: payload type {payload_type} is above 127"),
        ));
    }
    let mut parts = enc.splitn(3, '/');
    let encoding = parts.next().unwrap_or_default();
    if encoding.is_empty() || !encoding.bytes().all(is_token_byte) {
        return Err(syntax(
            no,
            format!("a=rtpmap: invalid encoding name `{encoding}`"),
        ));
    }
    let clock = parts
        .next()
        .ok_or_else(|| syntax(no, "a=rtpmap: missing `/<clock rate>`"))?;
    let clock_rate = parse_digits(no, "a=rtpmap clock rate", clock)?;
    let params = parts.next().map(str::to_string);
    if params.as_deref() == Some("") {
        return Err(syntax(no, "a=rtpmap: empty encoding parameters"));
    }
    Ok(RtpMap {
        payload_type,
        encoding: encoding.into(),
        clock_rate,
        params,
    })
}

/// Decimal milliseconds (`20`, `0.125`, up to 6 fractional digits) to a Duration.
fn parse_ms(no: usize, what: &str, v: &str) -> Result<Duration, SdpError> {
    let (int, frac) = match v.split_once('.') {
        Some((i, f)) => (i, f),
        None => (v, ""),
    };
    let bad = || syntax(no, format!("{what}: `{v}` is not a number of milliseconds"));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 6
        || (v.contains('.') && frac.is_empty())
    {
        return Err(bad());
    }
    let ms: u64 = int.parse().map_err(|_| bad())?;
    if ms > 3_600_000 {
        return Err(syntax(no, format!("{what}: `{v}` is out of range")));
    }
    let mut frac_ns: u64 = 0;
    if !frac.is_empty() {
        let padded = format!("{frac:0<6}");
        frac_ns = padded.parse().map_err(|_| bad())?;
    }
    Ok(Duration::from_nanos(ms * 1_000_000 + frac_ns))
}
