//! Call transfer by REFER (RFC 3515), sans-IO: reading the `Refer-To` header (with the
//! `Replaces` of an attended transfer, RFC 3891) and the NOTIFYs of the implicit `refer`
//! subscription that tell the transferor how the new call goes.
//!
//! zvonar is a B2BUA: a phone that sends REFER on its leg asks zvonar itself to move the
//! other party (the caller) elsewhere. zvonar answers 202 Accepted and then reports progress
//! as NOTIFYs whose bodies are `message/sipfrag` status lines (RFC 3515 §2.4.4–§2.4.5):
//!
//! ```text
//! phone ──REFER Refer-To: <sip:102@zvonar>──► zvonar
//!       ◄──────────── 202 Accepted ─────────
//!       ◄── NOTIFY  SIP/2.0 100 Trying        Subscription-State: active;expires=60
//!       ◄── NOTIFY  SIP/2.0 180 Ringing       (while the target rings)
//!       ◄── NOTIFY  SIP/2.0 200 OK            Subscription-State: terminated;reason=noresource
//!           (or the target's failure, e.g. SIP/2.0 486 Busy Here, also terminated)
//! ```
//!
//! [`ReferSubscription`] decides which NOTIFY goes out for each step: exactly one 100 first,
//! provisional statuses at most once each, exactly one final status that terminates the
//! subscription, nothing after it. The IO side ([`crate::uac::ReferRequest`]) sends them.

/// Why a `Refer-To` value is refused (the REFER is answered 400 Bad Request, RFC 3515 §2.4.2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferError {
    /// No `Refer-To` header (RFC 3515 §2.4.1: exactly one is required).
    #[error("REFER without Refer-To")]
    Missing,
    /// Not a SIP URI (`sip:`/`sips:`), or a URI without a user part to route on.
    #[error("Refer-To is not a SIP URI with a user part: {0:?}")]
    NotSipUri(String),
    /// A `Replaces` header parameter without call-id, to-tag and from-tag (RFC 3891 §6.1).
    #[error("malformed Replaces in Refer-To: {0:?}")]
    BadReplaces(String),
}

/// The dialog an attended transfer replaces (RFC 3891 §6.1: `Replaces: call-id;to-tag=…;
/// from-tag=…`, carried in the Refer-To URI's `?Replaces=` header parameter, percent-encoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replaces {
    /// The Call-ID of the dialog to replace.
    pub call_id: String,
    /// Its To tag.
    pub to_tag: String,
    /// Its From tag.
    pub from_tag: String,
}

/// A parsed `Refer-To` header value (RFC 3515 §2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferTo {
    /// The URI without its header parameters (`sip:102@10.0.0.1`).
    pub uri: String,
    /// The URI's user part, percent-decoded (`102`, `+74951234567`, `operators`): what zvonar
    /// routes the transfer on.
    pub user: String,
    /// The `Replaces` of an attended transfer, when given.
    pub replaces: Option<Replaces>,
}

/// Decodes `%XX` escapes (RFC 3261 §25.1 `escaped`); a `%` not followed by two hex digits is
/// kept as written.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `call-id;to-tag=…;from-tag=…` (RFC 3891 §6.1), already percent-decoded.
fn parse_replaces(s: &str) -> Result<Replaces, ReferError> {
    let mut parts = s.split(';');
    let call_id = parts.next().unwrap_or_default().trim().to_string();
    let (mut to_tag, mut from_tag) = (None, None);
    for p in parts {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "to-tag" => to_tag = Some(v.trim().to_string()),
            "from-tag" => from_tag = Some(v.trim().to_string()),
            _ => {}
        }
    }
    match (call_id.is_empty(), to_tag, from_tag) {
        (false, Some(to_tag), Some(from_tag)) if !to_tag.is_empty() && !from_tag.is_empty() => {
            Ok(Replaces {
                call_id,
                to_tag,
                from_tag,
            })
        }
        _ => Err(ReferError::BadReplaces(s.to_string())),
    }
}

/// Parses a `Refer-To` value: `<sip:102@host;transport=udp?Replaces=…>` (name-addr, with an
/// optional display name and header parameters after it) or a bare `sip:102@host`.
///
/// Errors: [`ReferError::NotSipUri`] for other schemes (`tel:` is not routed: zvonar's
/// numbers are user parts of SIP URIs) or a URI without a user part;
/// [`ReferError::BadReplaces`] for an incomplete `Replaces`.
pub fn parse_refer_to(value: &str) -> Result<ReferTo, ReferError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ReferError::Missing);
    }
    let inner = match (value.find('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next().unwrap_or(value),
    };
    let (uri_part, headers) = inner.split_once('?').unwrap_or((inner, ""));
    let lower = uri_part.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("sip:")
        .or_else(|| lower.strip_prefix("sips:"))
        .map(|_| uri_part.split_once(':').map_or("", |(_, r)| r))
        .ok_or_else(|| ReferError::NotSipUri(value.to_string()))?;
    let user = match rest.split_once('@') {
        Some((u, _)) => percent_decode(u.split(';').next().unwrap_or(u)),
        None => String::new(),
    };
    if user.trim().is_empty() {
        return Err(ReferError::NotSipUri(value.to_string()));
    }
    let mut replaces = None;
    for h in headers.split('&').filter(|h| !h.is_empty()) {
        let (k, v) = h.split_once('=').unwrap_or((h, ""));
        if k.eq_ignore_ascii_case("replaces") {
            replaces = Some(parse_replaces(&percent_decode(v))?);
        }
    }
    Ok(ReferTo {
        uri: uri_part.to_string(),
        user,
        replaces,
    })
}

/// The reason phrase zvonar writes for a status in a sipfrag (RFC 3261 §21).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        603 => "Decline",
        s if s < 200 => "Progress",
        s if s < 300 => "OK",
        _ => "Failed",
    }
}

/// One NOTIFY of the `refer` subscription to send (RFC 3515 §2.4.4–§2.4.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferNotify {
    /// The status of the new call the sipfrag reports (100, 180, 200, 486…).
    pub status: u16,
    /// Whether this NOTIFY ends the subscription (a final status).
    pub terminated: bool,
}

impl ReferNotify {
    /// The NOTIFY's headers, (name, value): `Event: refer`, `Subscription-State` (`active;
    /// expires=60` or `terminated;reason=noresource`, RFC 3515 §2.4.7, RFC 6665 §4.1.3) and
    /// `Content-Type: message/sipfrag;version=2.0` (RFC 3420).
    pub fn headers(&self) -> Vec<(String, String)> {
        let state = if self.terminated {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        vec![
            ("Event".to_string(), "refer".to_string()),
            ("Subscription-State".to_string(), state.to_string()),
            (
                "Content-Type".to_string(),
                "message/sipfrag;version=2.0".to_string(),
            ),
        ]
    }

    /// The body: the status line of the new call, `SIP/2.0 200 OK\r\n` (RFC 3515 §2.4.5: at
    /// least the status line).
    pub fn body(&self) -> String {
        format!("SIP/2.0 {} {}\r\n", self.status, reason_phrase(self.status))
    }
}

/// The notifier's side of one `refer` subscription: which NOTIFY each step of the new call
/// gives. Sans-IO; see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReferSubscription {
    sent: Vec<u16>,
    terminated: bool,
}

impl ReferSubscription {
    /// A subscription just created by a REFER answered 202.
    pub fn new() -> Self {
        Self::default()
    }

    /// The NOTIFY for the new call's status `status` now, `None` when nothing is to be sent:
    /// after the final NOTIFY, or a provisional status already reported. The first NOTIFY
    /// is always `100 Trying` (RFC 3515 §2.4.4: the initial NOTIFY right after the 202);
    /// a final status (≥ 200) terminates the subscription.
    pub fn update(&mut self, status: u16) -> Vec<ReferNotify> {
        let mut out = Vec::new();
        if self.terminated {
            return out;
        }
        if self.sent.is_empty() && status != 100 {
            self.sent.push(100);
            out.push(ReferNotify {
                status: 100,
                terminated: false,
            });
        }
        if status < 200 && self.sent.contains(&status) {
            return out;
        }
        self.sent.push(status);
        self.terminated = status >= 200;
        out.push(ReferNotify {
            status,
            terminated: self.terminated,
        });
        out
    }

    /// Whether the final NOTIFY has been decided.
    pub fn terminated(&self) -> bool {
        self.terminated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refer_to_values_parse() {
        let r = parse_refer_to("<sip:102@10.0.0.1:5060;transport=udp>").expect("ok");
        assert_eq!(
            (r.uri.as_str(), r.user.as_str(), r.replaces),
            ("sip:102@10.0.0.1:5060;transport=udp", "102", None)
        );
        let r = parse_refer_to("\"Бухгалтерия\" <sip:%2B74951234567@zvonar>").expect("ok");
        assert_eq!(r.user, "+74951234567");
        assert_eq!(
            parse_refer_to("sip:operators@zvonar").expect("ok").user,
            "operators"
        );
        let r = parse_refer_to(
            "<sip:102@10.0.0.1?Replaces=abc%4010.0.0.2%3Bto-tag%3D11%3Bfrom-tag%3D22>",
        )
        .expect("ok");
        assert_eq!(
            r.replaces,
            Some(Replaces {
                call_id: "abc@10.0.0.2".into(),
                to_tag: "11".into(),
                from_tag: "22".into(),
            })
        );
        assert_eq!(r.uri, "sip:102@10.0.0.1");
        assert_eq!(parse_refer_to(""), Err(ReferError::Missing));
        for bad in ["<tel:+74951234567>", "<sip:zvonar.example>", "mailto:a@b"] {
            assert!(
                matches!(parse_refer_to(bad), Err(ReferError::NotSipUri(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_refer_to("<sip:102@h?Replaces=abc%3Bto-tag%3D1>"),
            Err(ReferError::BadReplaces(_))
        ));
    }

    #[test]
    fn notifies_go_trying_ringing_then_one_final() {
        let mut s = ReferSubscription::new();
        let statuses = |v: Vec<ReferNotify>| -> Vec<(u16, bool)> {
            v.into_iter().map(|n| (n.status, n.terminated)).collect()
        };
        assert_eq!(statuses(s.update(100)), [(100, false)]);
        assert_eq!(statuses(s.update(100)), []);
        assert_eq!(statuses(s.update(180)), [(180, false)]);
        assert_eq!(statuses(s.update(180)), [], "a second 180 is not reported");
        assert_eq!(statuses(s.update(200)), [(200, true)]);
        assert!(s.terminated());
        assert_eq!(
            statuses(s.update(486)),
            [],
            "nothing after the final NOTIFY"
        );
        // A failure without progress first: the 100 still leads.
        let mut s = ReferSubscription::new();
        assert_eq!(statuses(s.update(486)), [(100, false), (486, true)]);
    }

    #[test]
    fn notify_headers_and_sipfrag() {
        let n = ReferNotify {
            status: 100,
            terminated: false,
        };
        assert_eq!(n.body(), "SIP/2.0 100 Trying\r\n");
        assert!(n
            .headers()
            .contains(&("Subscription-State".into(), "active;expires=60".into())));
        let n = ReferNotify {
            status: 486,
            terminated: true,
        };
        assert_eq!(n.body(), "SIP/2.0 486 Busy Here\r\n");
        let h = n.headers();
        assert!(h.contains(&("Event".into(), "refer".into())));
        assert!(h.contains(&(
            "Subscription-State".into(),
            "terminated;reason=noresource".into()
        )));
        assert!(h.contains(&("Content-Type".into(), "message/sipfrag;version=2.0".into())));
    }
}
