//! The UDP screen under rsipstack: answers what its parser would silently drop.

use super::*;

/// What [`UdpGuard`] does with one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// Hand it to rsipstack unchanged.
    Pass,
    /// Do not hand it on; send these bytes back to the sender (a stateless response).
    Answer(Vec<u8>),
    /// Do not hand it on; nothing to answer.
    Drop,
}

/// RFC 3261 §25.1 extension methods are tokens; these are the ones rsipstack knows.
fn known_method(m: &str) -> bool {
    m.parse::<Method>().is_ok()
}

/// The header lines of a raw message, folded lines joined (RFC 3261 §7.3.1), as
/// (name, value) with compact names expanded for the five we copy.
fn raw_headers(packet: &[u8]) -> (String, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(packet);
    let head = match text.find("\r\n\r\n") {
        Some(end) => &text[..end],
        None => &text[..],
    };
    let mut lines = head.split("\r\n");
    let start = lines.next().unwrap_or_default().to_string();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((n, v)) = line.split_once(':') {
            let n = n.trim();
            let name = match n.to_ascii_lowercase().as_str() {
                "v" | "via" => "Via",
                "f" | "from" => "From",
                "t" | "to" => "To",
                "i" | "call-id" => "Call-ID",
                "cseq" => "CSeq",
                _ => n,
            };
            headers.push((name.to_string(), v.trim().to_string()));
        }
    }
    (start, headers)
}

/// A stateless response to a raw request (RFC 3261 §8.2.6): None when the request lacks
/// a header the response must copy.
fn raw_response(headers: &[(String, String)], status: u16, from: SocketAddr) -> Option<Vec<u8>> {
    let reason = match status {
        400 => "Bad Request",
        501 => "Not Implemented",
        505 => "Version Not Supported",
        _ => "Error",
    };
    let mut out = format!("SIP/2.0 {status} {reason}\r\n");
    let mut first_via = true;
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        let mut found = false;
        for (_, v) in headers.iter().filter(|(n, _)| n == name) {
            found = true;
            let mut v = v.clone();
            if name == "Via" && first_via {
                // §18.2.1: note where the request really came from.
                first_via = false;
                let at = v.find(',').unwrap_or(v.len());
                v.insert_str(at, &format!(";received={}", from.ip()));
            }
            if name == "To" && !has_tag(&v) {
                v.push_str(&format!(";tag={}", new_tag()));
            }
            out.push_str(&format!("{name}: {v}\r\n"));
        }
        if !found {
            return None;
        }
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}

/// Decides what to do with one UDP datagram before rsipstack parses it:
///
/// - keep-alives, responses and requests rsipstack parses pass, except a Request-URI in
///   `<…>` (RFC 3261 §25.1 Request-Line; rsipstack strips the brackets; RFC 4475
///   §3.1.2.7) and a top Via rsipstack cannot read (it would drop the request), both 400;
/// - an unparseable response is dropped (RFC 3261 §18.1.2: discard);
/// - an unparseable request is answered statelessly: 501 Not Implemented when the
///   request line is well formed (`token SP URI SP SIP/2.0`) and the method is an
///   extension we do not know with a matching CSeq (RFC 3261 §8.2.1, §21.5.2; RFC 4475
///   §3.1.1.2, §3.1.1.5), 505 for another version (§21.5.7), else 400 Bad Request
///   (§8.2; RFC 4475 §3.1.2: respond 400 if one can). ACK and requests missing Via,
///   From, To, Call-ID or CSeq are dropped: there is nothing to copy into a response.
pub fn screen_datagram(packet: &[u8], from: SocketAddr) -> Screen {
    if packet.iter().all(u8::is_ascii_whitespace) || packet.starts_with(b"SIP/") {
        return Screen::Pass;
    }
    let (start, headers) = raw_headers(packet);
    let method = start.split(' ').next().unwrap_or_default();
    match SipMessage::try_from(packet) {
        Ok(SipMessage::Request(req)) => {
            let uri = start.split(' ').nth(1).unwrap_or_default();
            // A Request-URI in `<…>`, or a top Via rsipstack cannot read: 400.
            let unreadable_via = SipConnection::update_msg_received(
                SipMessage::Request(req),
                from,
                rsipstack::sip::Transport::Udp,
            )
            .is_err();
            if !uri.starts_with('<') && !unreadable_via {
                return Screen::Pass;
            }
            let status = 400;
            if method == "ACK" {
                return Screen::Drop;
            }
            raw_response(&headers, status, from).map_or(Screen::Drop, Screen::Answer)
        }
        Ok(SipMessage::Response(_)) => Screen::Pass,
        Err(_) => {
            if method == "ACK" {
                return Screen::Drop;
            }
            let parts: Vec<&str> = start.split(' ').collect();
            let cseq_method = headers
                .iter()
                .find(|(n, _)| n == "CSeq")
                .and_then(|(_, v)| v.split_whitespace().nth(1))
                .unwrap_or_default();
            let status = if parts.len() == 3 && is_token(parts[0]) && !parts[1].is_empty() {
                if parts[2] != "SIP/2.0" {
                    if parts[2].starts_with("SIP/") {
                        505
                    } else {
                        400
                    }
                } else if !known_method(parts[0]) && cseq_method == parts[0] {
                    501
                } else {
                    400
                }
            } else {
                400
            };
            raw_response(&headers, status, from).map_or(Screen::Drop, Screen::Answer)
        }
    }
}

/// The UDP socket under rsipstack with [`screen_datagram`] in front of its parser.
pub struct UdpGuard {
    socket: tokio::net::UdpSocket,
}

impl UdpGuard {
    /// Wraps a bound socket.
    pub fn new(socket: tokio::net::UdpSocket) -> Self {
        UdpGuard { socket }
    }
}

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for UdpGuard {
    async fn recv_from(&self, buf: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        loop {
            let (len, from) = self.socket.recv_from(buf).await?;
            match screen_datagram(&buf[..len], from) {
                Screen::Pass => return Ok((len, from)),
                Screen::Answer(resp) => {
                    tracing::info!(src = %from, "unparseable SIP request answered");
                    let _ = self.socket.send_to(&resp, from).await;
                }
                Screen::Drop => {
                    tracing::debug!(src = %from, "unparseable SIP message dropped");
                }
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        Ok(self.socket.send_to(buf, addr).await?)
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }
}
