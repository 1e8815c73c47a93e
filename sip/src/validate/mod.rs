//! Checks on requests that rsipstack parses but RFC 3261 says must be refused, and the
//! two transport hooks that answer them before any transaction or dialog sees them, so a
//! broken request costs one response and the next call is served:
//!
//! - [`Guard`], rsipstack's `TransportEventInspector`, runs [`check_request`] on every
//!   parsed request (UDP and TCP) and answers failures with the status it names
//!   (400, 505, 416, 420, 415, 406) over the connection the request came in on.
//! - [`UdpGuard`] wraps the UDP socket under rsipstack and looks at each datagram before
//!   rsipstack's parser does ([`screen_datagram`]). rsipstack silently drops what its
//!   parser rejects — extension methods (`FOO sip:x SIP/2.0`) included, which RFC 3261
//!   §8.2.1 / §21.5.2 answers with 501 — and request-line errors its parser hides
//!   (`INVITE <sip:x> SIP/2.0`). The guard answers those statelessly (RFC 3261 §8.2.6:
//!   Via, From, To, Call-ID and CSeq copied from the raw lines) and hands rsipstack only
//!   what it can carry. Unparseable responses and requests without the headers a
//!   response needs are dropped (§18.3: nothing to answer to).
//!
//! Over TCP rsipstack closes the connection on a message it cannot parse or frame
//! (a negative Content-Length, an extension method): there is no hook under its stream
//! codec, so those get no response (RFC 4475 §3.1.2.3 accepts closing for broken
//! framing; for a well-framed extension method it is a deviation from §8.2.1).

use rsipstack::sip::{
    HeadersExt, Method, Request, Response, Scheme, SipMessage, StatusCode, Version,
};
use rsipstack::transaction::endpoint::TransportEventInspector;
use rsipstack::transport::{SipConnection, TransportEvent};
use std::net::SocketAddr;

/// Why a request is refused: the status to answer, the reason's detail and any header
/// fields the status requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 400, 406, 415, 416, 420 or 505.
    pub status: u16,
    /// Human-readable cause, logged.
    pub reason: String,
    /// Header fields the response must carry: `Unsupported` with 420 (RFC 3261 §8.2.2.3),
    /// `Accept`/`Accept-Encoding` with 415 (§8.2.3), `Accept` with 406.
    pub headers: Vec<(&'static str, String)>,
}

impl Rejection {
    fn new(status: u16, reason: impl Into<String>) -> Self {
        Rejection {
            status,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

fn bad(reason: impl Into<String>) -> Rejection {
    Rejection::new(400, reason)
}

/// Headers that may appear only once (RFC 3261 §7.3.1, §20: not a comma-separated list).
const SINGLE: &[&str] = &[
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
];
/// Headers every request must carry to be answerable (RFC 3261 §8.1.1; Max-Forwards is
/// left out so that zero-hop and RFC 2543 peers are not refused for it).
const MANDATORY: &[&str] = &["Via", "From", "To", "Call-ID", "CSeq"];

/// Option tags we implement for `Require` (RFC 3261 §8.2.2.3): none. (No 100rel: we do
/// not send reliable provisionals; no timer: no session timers.)
pub const SUPPORTED_OPTIONS: &[&str] = &[];

/// Methods the UAS serves. The header checks of RFC 3261 §8.2.2 and §8.2.3 come after
/// method inspection (§8.2.1), so requests for other methods skip them and get 405/501.
fn served(method: &Method) -> bool {
    matches!(
        method,
        Method::Invite
            | Method::Ack
            | Method::Cancel
            | Method::Bye
            | Method::Options
            | Method::Info
            | Method::Update
    )
}

/// Methods whose body, if any, must be SDP and whose answer carries SDP.
fn carries_sdp(method: &Method) -> bool {
    matches!(method, Method::Invite | Method::Update)
}

fn values<'a>(req: &'a Request, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    req.headers
        .iter()
        .filter(move |h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value().trim())
}

/// Checks one parsed request. Pure; used by [`Guard`] and by the conformance tests.
/// The rules, in the order RFC 3261 §8.2 applies them:
///
/// 1. SIP/2.0 only → 505 ([`check_version`], §8.2.2 … §21.5.7);
/// 2. well-formed header section → 400 ([`check_headers`], §8.1.1, §7.3.1, §20, §25.1);
/// 3. Request-URI → 400 for embedded headers ([`check_uri_headers`], §19.1.1), then, for
///    the methods we serve: 416 for a scheme other than sip/sips ([`check_scheme`],
///    §8.2.2.1);
/// 4. `Require` with option tags we lack → 420 with `Unsupported` ([`check_require`],
///    §8.2.2.3);
/// 5. a body we cannot read → 415 with `Accept` ([`check_content`], §8.2.3);
/// 6. an `Accept` that excludes SDP on INVITE/UPDATE → 406 ([`check_accept`], §21.4.7).
pub fn check_request(req: &Request) -> Result<(), Rejection> {
    check_version(req)?;
    check_headers(req)?;
    check_uri_headers(req)?;
    if served(&req.method) {
        check_scheme(req)?;
        check_require(req)?;
        check_content(req)?;
        check_accept(req)?;
    }
    Ok(())
}

/// RFC 3261 §8.2.2 / §21.5.7: a request in a SIP version we do not speak (anything but
/// `SIP/2.0`) is answered 505 Version Not Supported.
pub fn check_version(req: &Request) -> Result<(), Rejection> {
    if req.version != Version::V2 {
        return Err(Rejection::new(505, "SIP version not supported"));
    }
    Ok(())
}

/// The header section is well formed, else 400 (RFC 3261 §8.2 requires a request that
/// fails this to be refused; RFC 4475 §3.1.2 and §3.3.1, §3.3.8, §3.3.9):
///
/// - Via, From, To, Call-ID and CSeq present (§8.1.1);
/// - From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Content-Type not repeated
///   (§7.3.1: only list-valued headers may repeat);
/// - From carries a tag (§8.1.1.3). RFC 2543 peers omit it; rsipstack keys transactions
///   on it and would drop the request unanswered, so we say 400 instead;
/// - CSeq is `number method` with number < 2^31 and the request's method (§8.1.1.5,
///   §20.16; RFC 4475 §3.1.2.4, §3.1.2.17);
/// - Max-Forwards is 0–255 (§20.22, §25.1 `1*DIGIT`; RFC 4475 §3.1.2.4);
/// - Content-Length, when given, is a number equal to the body received (§18.3,
///   §20.14; RFC 4475 §3.1.2.2, §3.1.2.3);
/// - Via, From, To, Contact: quotes and angle brackets balanced (§25.1 quoted-string,
///   name-addr; RFC 4475 §3.1.2.6), no empty list elements or parameters and parameters
///   named by tokens (§25.1 via-params / generic-param; RFC 4475 §3.1.2.1), From and To
///   a single value (§20.20, §20.39: a URI with a comma must be in `<>`).
pub fn check_headers(req: &Request) -> Result<(), Rejection> {
    for name in MANDATORY {
        if values(req, name).next().is_none() {
            return Err(bad(format!("missing {name} header")));
        }
    }
    for name in SINGLE {
        if values(req, name).count() > 1 {
            return Err(bad(format!("{name} header repeated")));
        }
    }
    for name in ["Via", "From", "To", "Contact"] {
        for value in values(req, name) {
            check_param_list(name, value).map_err(|e| bad(format!("{name}: {e}")))?;
        }
    }
    let from_tag = req
        .from_header()
        .ok()
        .and_then(|f| f.tag().ok().flatten())
        .is_some();
    if !from_tag {
        return Err(bad("From tag missing"));
    }
    let cseq = values(req, "CSeq").next().unwrap_or_default();
    let mut parts = cseq.split_whitespace();
    let seq = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    match seq.parse::<u64>() {
        Ok(n) if n < (1u64 << 31) => {}
        _ => return Err(bad("CSeq number invalid")),
    }
    if parts.next().is_some() || method != req.method.to_string() {
        return Err(bad("CSeq method does not match the request"));
    }
    if let Some(mf) = values(req, "Max-Forwards").next() {
        match mf.parse::<u32>() {
            Ok(n) if n <= 255 => {}
            _ => return Err(bad("Max-Forwards invalid")),
        }
    }
    if let Some(cl) = values(req, "Content-Length").next() {
        match cl.parse::<usize>() {
            Ok(n) if n == req.body.len() => {}
            Ok(_) => return Err(bad("Content-Length does not match the body")),
            Err(_) => return Err(bad("Content-Length invalid")),
        }
    }
    Ok(())
}

/// RFC 3261 §19.1.1 (table: `headers` are not allowed in a Request-URI): a request
/// whose Request-URI carries `?header=value` is refused with 400, which RFC 4475
/// §3.1.2.11 names as the acceptable answer.
pub fn check_uri_headers(req: &Request) -> Result<(), Rejection> {
    if !req.uri.headers.is_empty() {
        return Err(bad("Request-URI carries headers"));
    }
    Ok(())
}

/// RFC 3261 §8.2.2.1: a Request-URI in a scheme we do not serve is answered 416
/// Unsupported URI Scheme. We serve `sip:` and `sips:` (RFC 4475 §3.3.2, §3.3.3).
pub fn check_scheme(req: &Request) -> Result<(), Rejection> {
    match req.uri.scheme {
        Some(Scheme::Sip) | Some(Scheme::Sips) => Ok(()),
        _ => Err(Rejection::new(416, "Request-URI scheme not supported")),
    }
}

/// RFC 3261 §8.2.2.3: option tags in `Require` that we do not support
/// ([`SUPPORTED_OPTIONS`]) are answered 420 Bad Extension listing them in `Unsupported`.
/// `Require` is ignored in ACK and CANCEL (§8.2.2.3), and `Proxy-Require` is for proxies
/// (§20.29), so a UAS ignores it (RFC 4475 §3.3.5).
pub fn check_require(req: &Request) -> Result<(), Rejection> {
    if matches!(req.method, Method::Ack | Method::Cancel) {
        return Ok(());
    }
    let unsupported: Vec<&str> = values(req, "Require")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .filter(|t| !SUPPORTED_OPTIONS.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .collect();
    if unsupported.is_empty() {
        return Ok(());
    }
    Err(Rejection::new(420, "unsupported extension required")
        .with("Unsupported", unsupported.join(", ")))
}

/// The media type of a Content-Type/Accept element, lower-cased, parameters dropped.
fn media_type(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// RFC 3261 §8.2.3: a body we cannot process is answered 415 Unsupported Media Type with
/// `Accept` (and `Accept-Encoding`) saying what we take. INVITE and UPDATE bodies must be
/// `application/sdp` (RFC 3264; RFC 4475 §3.3.6) in the identity encoding; bodies of other
/// methods (INFO's dtmf-relay) are the engine's business.
pub fn check_content(req: &Request) -> Result<(), Rejection> {
    if !carries_sdp(&req.method) || req.body.is_empty() {
        return Ok(());
    }
    let ct = values(req, "Content-Type").next().map(media_type);
    if ct.as_deref() != Some("application/sdp") {
        return Err(Rejection::new(415, "body is not application/sdp")
            .with("Accept", "application/sdp")
            .with("Accept-Encoding", "identity"));
    }
    let encoded = values(req, "Content-Encoding")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|e| !e.is_empty() && !e.eq_ignore_ascii_case("identity"));
    if encoded {
        return Err(Rejection::new(415, "content encoding not supported")
            .with("Accept", "application/sdp")
            .with("Accept-Encoding", "identity"));
    }
    Ok(())
}

/// RFC 3261 §20.1, §21.4.7: our answer to INVITE/UPDATE is SDP, so an `Accept` that
/// lists media types but none matching `application/sdp` (nor `application/*`, `*/*`) is
/// answered 406 Not Acceptable (RFC 4475 §3.3.15). An empty `Accept` would strictly mean
/// "nothing"; deployed UAs send it meaning "the default", so we take it as absent.
pub fn check_accept(req: &Request) -> Result<(), Rejection> {
    if !carries_sdp(&req.method) {
        return Ok(());
    }
    let listed: Vec<String> = values(req, "Accept")
        .flat_map(|v| v.split(','))
        .map(media_type)
        .filter(|t| !t.is_empty())
        .collect();
    if listed.is_empty() {
        return Ok(());
    }
    let ok = listed
        .iter()
        .any(|t| t == "application/sdp" || t == "application/*" || t == "*/*");
    if ok {
        return Ok(());
    }
    Err(Rejection::new(406, "Accept excludes application/sdp").with("Accept", "application/sdp"))
}

/// RFC 3261 §25.1 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// Splits `value` on `sep` outside quoted strings (with `\` escapes) and `<…>`.
/// Errors on an unterminated quoted string or unbalanced angle brackets.
fn split_outside(value: &str, sep: char) -> Result<Vec<&str>, &'static str> {
    let mut out = Vec::new();
    let (mut quoted, mut escaped, mut angle) = (false, false, false);
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if quoted {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '<' if angle => return Err("nested '<'"),
            '<' => angle = true,
            '>' if !angle => return Err("'>' without '<'"),
            '>' => angle = false,
            c if c == sep && !angle => {
                out.push(&value[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if quoted {
        return Err("unterminated quoted string");
    }
    if angle {
        return Err("unterminated '<'");
    }
    out.push(&value[start..]);
    Ok(out)
}

/// Via, From, To or Contact value: list elements non-empty (one for From/To), each
/// element's parameters `token [= value]` (RFC 3261 §25.1).
fn check_param_list(name: &str, value: &str) -> Result<(), &'static str> {
    let elements = split_outside(value, ',')?;
    if matches!(name, "From" | "To") && elements.len() > 1 {
        return Err("more than one value");
    }
    for element in elements {
        let parts = split_outside(element, ';')?;
        if parts[0].trim().is_empty() {
            return Err("empty value");
        }
        for param in &parts[1..] {
            let (pname, pvalue) = match param.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (param.trim(), None),
            };
            if !is_token(pname) {
                return Err("empty or malformed parameter");
            }
            if pvalue.is_some_and(str::is_empty) {
                return Err("parameter without value after '='");
            }
        }
    }
    Ok(())
}

/// Builds the error response for `req`: Via, From, To, Call-ID and CSeq copied, a To
/// tag added when the request had none (RFC 3261 §8.2.6.2).
pub fn error_response(req: &Request, status: u16) -> Response {
    let mut headers = rsipstack::sip::Headers::default();
    for h in req.headers.iter() {
        let n = h.name();
        if n.eq_ignore_ascii_case("To") {
            let v = h.value().trim();
            if has_tag(v) {
                headers.push(h.clone());
            } else {
                headers.push(rsipstack::sip::Header::To(
                    format!("{v};tag={}", new_tag()).into(),
                ));
            }
        } else if ["Via", "From", "Call-ID", "CSeq"]
            .iter()
            .any(|m| n.eq_ignore_ascii_case(m))
        {
            headers.push(h.clone());
        }
    }
    headers.push(rsipstack::sip::Header::ContentLength(0u32.into()));
    Response {
        status_code: StatusCode::from(status),
        wire_reason: None,
        version: Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// The response for a [`Rejection`]: [`error_response`] plus the rejection's headers.
pub fn rejection_response(req: &Request, rej: &Rejection) -> Response {
    let mut resp = error_response(req, rej.status);
    for (name, value) in &rej.headers {
        let h = match *name {
            "Unsupported" => rsipstack::sip::Header::Unsupported(value.clone().into()),
            "Accept" => rsipstack::sip::Header::Accept(value.clone().into()),
            "Accept-Encoding" => rsipstack::sip::Header::AcceptEncoding(value.clone().into()),
            other => rsipstack::sip::Header::Other(other.to_string(), value.clone()),
        };
        resp.headers.push(h);
    }
    resp
}

fn new_tag() -> String {
    format!("zv{:08x}", rand::random::<u32>())
}

/// Whether a From/To value has a `tag` parameter (outside `<…>` and quotes).
fn has_tag(value: &str) -> bool {
    split_outside(value, ';').is_ok_and(|parts| {
        parts[1..].iter().any(|p| {
            let n = p.split('=').next().unwrap_or_default().trim();
            n.eq_ignore_ascii_case("tag")
        })
    })
}

/// Rewrites From and To without the optional whitespace RFC 3261 §25.1 allows around
/// `;` and `=` (SEMI, EQUAL: `SWS ";" SWS`), e.g. `sip:a@b ;  tag = 1` → `sip:a@b;tag=1`.
/// rsipstack's parameter parser does not take that whitespace: it would miss the tags,
/// drop the request for want of a From tag or take an in-dialog request for a new one
/// (RFC 4475 §3.1.1.1). The rewritten values are equal under §19.1.4 / §20.10.
pub fn normalize(req: &mut Request) {
    for h in req.headers.iter_mut() {
        let tidy = match h {
            rsipstack::sip::Header::From(_) | rsipstack::sip::Header::To(_) => {
                tidy_params(h.value())
            }
            _ => None,
        };
        let Some(tidy) = tidy else { continue };
        if tidy == h.value() {
            continue;
        }
        *h = match h {
            rsipstack::sip::Header::From(_) => rsipstack::sip::Header::From(tidy.into()),
            _ => rsipstack::sip::Header::To(tidy.into()),
        };
    }
}

fn tidy_params(value: &str) -> Option<String> {
    let parts = split_outside(value, ';').ok()?;
    let mut out = parts[0].trim().to_string();
    for p in &parts[1..] {
        out.push(';');
        match p.split_once('=') {
            Some((n, v)) => {
                out.push_str(n.trim());
                out.push('=');
                out.push_str(v.trim());
            }
            None => out.push_str(p.trim()),
        }
    }
    Some(out)
}

/// Sets the top Via's `received` parameter to `source`, the IP address the request really
/// came from (RFC 3261 §18.2.1), replacing any `received` the sender wrote itself, so that
/// [`source_ip`] can be trusted for decisions such as RFC 3325 §9.1 caller identity.
/// (rsipstack adds `received` only when the address differs from sent-by and keeps one the
/// sender forged.) A request whose Via cannot be parsed is left as it is.
pub fn stamp_source(req: &mut Request, source: std::net::IpAddr) {
    use rsipstack::sip::param::Received;
    use rsipstack::sip::{Param, ToTypedHeader};
    let Ok(via) = req.via_header_mut() else {
        return;
    };
    let _ = via.update_first_value(|via| {
        let mut typed = via.typed()?;
        typed.params.retain(|p| !matches!(p, Param::Received(_)));
        typed
            .params
            .push(Param::Received(Received::new(source.to_string())));
        Ok(typed.into())
    });
}

/// The request's source IP as [`stamp_source`] recorded it in the top Via; `None` when
/// the request did not pass through [`Guard`] (no `received` parameter).
pub fn source_ip(req: &Request) -> Option<std::net::IpAddr> {
    use rsipstack::sip::ToTypedHeader;
    let typed = req.top_via_header().ok()?.typed().ok()?;
    typed.received()?.ok()
}

/// The transport hook: [`normalize`]s each request, answers invalid ones and drops them,
/// [`stamp_source`]s the rest with their source address and passes them on.
pub struct Guard;

#[async_trait::async_trait]
impl TransportEventInspector for Guard {
    async fn handle(&self, event: TransportEvent) -> Option<TransportEvent> {
        let TransportEvent::Incoming(SipMessage::Request(mut req), conn, from) = event else {
            return Some(event);
        };
        normalize(&mut req);
        if let Err(rej) = check_request(&req) {
            tracing::info!(status = rej.status, reason = %rej.reason, src = %from, "invalid SIP request refused");
            // ACK is never answered (RFC 3261 §17.2.1).
            if req.method != Method::Ack {
                let resp = rejection_response(&req, &rej);
                let _ = conn.send(SipMessage::Response(resp), Some(&from)).await;
            }
            return None;
        }
        if let Ok(addr) = from.get_socketaddr() {
            stamp_source(&mut req, addr.ip());
        }
        Some(TransportEvent::Incoming(
            SipMessage::Request(req),
            conn,
            from,
        ))
    }
}

mod udp;
pub use udp::{screen_datagram, Screen, UdpGuard};

#[cfg(test)]
mod tests;
