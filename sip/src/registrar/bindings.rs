//! The location service's binding table (RFC 3261 §10.3): address-of-record → contacts,
//! each with its expiry, updated by REGISTER. Sans-IO: time is passed in (s since the
//! epoch).

use std::collections::HashMap;
use std::net::SocketAddr;

/// One contact of a REGISTER, parsed from a `Contact` header value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactSpec {
    /// The contact URI, as written between `<` `>` (or bare).
    pub uri: String,
    /// The `expires` parameter, s, if given (RFC 3261 §10.2.1.1).
    pub expires: Option<u32>,
    /// The `+sip.instance` parameter (RFC 5626 §4.1): the device; a new contact from the
    /// same instance replaces the old one, so a restarted phone leaves one binding.
    pub instance: Option<String>,
}

/// The `Contact` headers of a REGISTER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contacts {
    /// No Contact: a query for the current bindings (RFC 3261 §10.2.3).
    None,
    /// `Contact: *`: remove all bindings (only with `Expires: 0`, §10.2.2).
    Star,
    /// One or more contacts.
    List(Vec<ContactSpec>),
}

/// Splits on `sep` outside quotes and angle brackets.
fn split_outside(s: &str, sep: char) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut angle) = (Vec::new(), 0, false, false);
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            c if c == sep && !quoted && !angle => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Parses the values of all `Contact` headers of a REGISTER (RFC 3261 §20.10, §25.1:
/// `"Name" <uri>;params`, `<uri>;params` or `uri;params`, comma-separated).
/// Errors: an empty or unparsable value, a bad `expires`, or `*` mixed with contacts.
pub fn parse_contacts(values: &[&str]) -> Result<Contacts, String> {
    let mut list = Vec::new();
    let mut star = false;
    for value in values {
        for part in split_outside(value, ',') {
            let part = part.trim();
            if part == "*" {
                star = true;
                continue;
            }
            let (uri, params) = match part.find('<') {
                Some(open) => {
                    let close = part[open..]
                        .find('>')
                        .map(|c| open + c)
                        .ok_or_else(|| format!("Contact without '>': {part}"))?;
                    (&part[open + 1..close], &part[close + 1..])
                }
                None => match part.find(';') {
                    Some(semi) => (&part[..semi], &part[semi..]),
                    None => (part, ""),
                },
            };
            let uri = uri.trim();
            if uri.is_empty() || !uri.contains(':') {
                return Err(format!("Contact without a URI: {part}"));
            }
            let mut spec = ContactSpec {
                uri: uri.to_string(),
                expires: None,
                instance: None,
            };
            for p in split_outside(params, ';').into_iter().skip(1) {
                let (name, val) = p.split_once('=').unwrap_or((p, ""));
                let (name, val) = (name.trim(), val.trim());
                if name.eq_ignore_ascii_case("expires") {
                    spec.expires = Some(
                        val.parse()
                            .map_err(|_| format!("Contact expires is not a number: {val}"))?,
                    );
                } else if name.eq_ignore_ascii_case("+sip.instance") {
                    spec.instance = Some(val.trim_matches('"').to_string());
                }
            }
            list.push(spec);
        }
    }
    match (star, list.is_empty()) {
        (true, true) => Ok(Contacts::Star),
        (true, false) => Err("Contact: * together with other contacts".into()),
        (false, true) => Ok(Contacts::None),
        (false, false) => Ok(Contacts::List(list)),
    }
}

/// One registered contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI.
    pub uri: String,
    /// `+sip.instance`, if the device sent one.
    pub instance: Option<String>,
    /// Call-ID of the REGISTER that made or last refreshed it.
    pub call_id: String,
    /// Its CSeq number.
    pub cseq: u32,
    /// When it lapses, s since the epoch.
    pub expires_at: u64,
    /// Where that REGISTER came from (packet source), for reaching a phone behind NAT; over
    /// TCP or WebSocket, the peer of the connection it came on.
    pub source: Option<SocketAddr>,
    /// `udp`, `tcp` or `ws` (a browser, reached only over its WebSocket, RFC 7118 §5).
    pub transport: &'static str,
}

/// Why a REGISTER changed nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindError {
    /// 400: `*` without `Expires: 0`, or a malformed Contact.
    Bad(String),
    /// 423 Interval Too Brief with `Min-Expires` (RFC 3261 §10.3 step 7, §21.4.17).
    TooBrief {
        /// The minimum, s.
        min_expires: u32,
    },
    /// 500: a REGISTER with the same Call-ID and a CSeq not above the binding's — out of
    /// order or a replay (RFC 3261 §10.3 step 7).
    OutOfOrder,
}

/// Expiry limits, s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiryLimits {
    /// Below this (and not 0) a REGISTER gets 423 (RFC 3261 §10.3).
    pub min_s: u32,
    /// Longer requests are shortened to this.
    pub max_s: u32,
    /// Used when neither `expires` nor `Expires` is given (RFC 3261 §10.2.1.1: 3600).
    pub default_s: u32,
}

impl Default for ExpiryLimits {
    fn default() -> Self {
        ExpiryLimits {
            min_s: 60,
            max_s: 3600,
            default_s: 3600,
        }
    }
}

/// One REGISTER's identity and origin, as [`Bindings::apply`] needs it.
#[derive(Clone, Debug)]
pub struct Update<'a> {
    /// Call-ID.
    pub call_id: &'a str,
    /// CSeq number.
    pub cseq: u32,
    /// The `Expires` header, s.
    pub expires_header: Option<u32>,
    /// Packet source.
    pub source: Option<SocketAddr>,
    /// `udp` or `tcp`.
    pub transport: &'static str,
}

/// AOR → bindings.
#[derive(Debug, Default)]
pub struct Bindings {
    limits: ExpiryLimits,
    table: HashMap<String, Vec<Binding>>,
}

impl Bindings {
    /// An empty table with these limits.
    pub fn new(limits: ExpiryLimits) -> Bindings {
        Bindings {
            limits,
            table: HashMap::new(),
        }
    }

    /// The live bindings of `aor` at `now_s`, dropping lapsed ones.
    pub fn current(&mut self, aor: &str, now_s: u64) -> Vec<Binding> {
        let Some(list) = self.table.get_mut(aor) else {
            return Vec::new();
        };
        list.retain(|b| b.expires_at > now_s);
        let out = list.clone();
        if list.is_empty() {
            self.table.remove(aor);
        }
        out
    }

    /// Removes every binding that was made over the stream connection (TCP or WebSocket)
    /// whose peer is `peer`, because that connection closed: such a contact is reachable
    /// only over the connection it registered on (RFC 7118 §5, RFC 5626 §4.4.1 — a flow
    /// that fails makes its binding unusable), so keeping it until it expires would leave
    /// a closed browser tab "registered" for minutes. UDP bindings are never touched (UDP
    /// has no connection). Returns the AORs that lost a binding, each once, sorted.
    pub fn remove_connection(&mut self, peer: SocketAddr) -> Vec<String> {
        let mut out = Vec::new();
        self.table.retain(|aor, list| {
            let before = list.len();
            list.retain(|b| b.transport == "udp" || b.source != Some(peer));
            if list.len() != before {
                out.push(aor.clone());
            }
            !list.is_empty()
        });
        out.sort();
        out
    }

    /// Whether `aor` has a live UDP binding (at `now_s`) registered from `source` (the packet
    /// source IP with the Via's rport or port, as [`Binding::source`] keeps it): a request
    /// from there with `aor` in From is most likely that device's. Not authentication (UDP
    /// sources and From can be forged), so use it only where a forgery costs little.
    pub fn udp_binding_from(&self, aor: &str, source: SocketAddr, now_s: u64) -> bool {
        self.table.get(aor).is_some_and(|list| {
            list.iter()
                .any(|b| b.transport == "udp" && b.source == Some(source) && b.expires_at > now_s)
        })
    }

    /// The AOR that has a live binding (at `now_s`) made over the stream connection whose peer
    /// is `peer`: a request on that connection comes from the device that registered there
    /// with digest authentication (RFC 5626 §5.2: a flow authenticates what comes over it).
    /// `None` for UDP peers and unknown connections.
    pub fn aor_of_connection(&self, peer: SocketAddr, now_s: u64) -> Option<String> {
        let mut found: Vec<&String> = self
            .table
            .iter()
            .filter(|(_, list)| {
                list.iter()
                    .any(|b| b.transport != "udp" && b.source == Some(peer) && b.expires_at > now_s)
            })
            .map(|(aor, _)| aor)
            .collect();
        found.sort();
        found.first().map(|a| a.to_string())
    }

    /// Applies one REGISTER to `aor` (RFC 3261 §10.3 steps 7–8) at `now_s` and returns
    /// the bindings now current. All or nothing: on an error nothing changes.
    pub fn apply(
        &mut self,
        aor: &str,
        contacts: &Contacts,
        up: &Update<'_>,
        now_s: u64,
    ) -> Result<Vec<Binding>, BindError> {
        let existing = self.current(aor, now_s);
        let stale_request = |b: &Binding| b.call_id == up.call_id && up.cseq <= b.cseq;
        match contacts {
            Contacts::None => return Ok(existing),
            Contacts::Star => {
                if up.expires_header != Some(0) {
                    return Err(BindError::Bad("Contact: * needs Expires: 0".into()));
                }
                if existing.iter().any(stale_request) {
                    return Err(BindError::OutOfOrder);
                }
                self.table.remove(aor);
                return Ok(Vec::new());
            }
            Contacts::List(list) => {
                let mut plan = Vec::with_capacity(list.len());
                for c in list {
                    let asked = c
                        .expires
                        .or(up.expires_header)
                        .unwrap_or(self.limits.default_s);
                    if asked != 0 && asked < self.limits.min_s {
                        return Err(BindError::TooBrief {
                            min_expires: self.limits.min_s,
                        });
                    }
                    let old = existing.iter().find(|b| same(b, c));
                    if old.is_some_and(stale_request) {
                        return Err(BindError::OutOfOrder);
                    }
                    plan.push((c, asked.min(self.limits.max_s)));
                }
                let entry = self.table.entry(aor.to_string()).or_default();
                for (c, expires) in plan {
                    entry.retain(|b| !same(b, c));
                    if expires > 0 {
                        entry.push(Binding {
                            uri: c.uri.clone(),
                            instance: c.instance.clone(),
                            call_id: up.call_id.to_string(),
                            cseq: up.cseq,
                            expires_at: now_s + u64::from(expires),
                            source: up.source,
                            transport: up.transport,
                        });
                    }
                }
            }
        }
        Ok(self.current(aor, now_s))
    }
}

/// The same binding: the same device (`+sip.instance`, RFC 5626 §4.1) or the same URI
/// (RFC 3261 §10.3 step 7, compared as written, scheme and host case-insensitively).
fn same(b: &Binding, c: &ContactSpec) -> bool {
    match (&b.instance, &c.instance) {
        (Some(x), Some(y)) => x == y,
        _ => b.uri.eq_ignore_ascii_case(&c.uri),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(call_id: &str, cseq: u32, expires: Option<u32>) -> Update<'_> {
        Update {
            call_id,
            cseq,
            expires_header: expires,
            source: None,
            transport: "udp",
        }
    }

    fn list(v: &str) -> Contacts {
        parse_contacts(&[v]).expect("parses")
    }

    #[test]
    fn contact_values_parse() {
        assert_eq!(parse_contacts(&[]), Ok(Contacts::None));
        assert_eq!(parse_contacts(&["*"]), Ok(Contacts::Star));
        assert!(parse_contacts(&["*, <sip:a@b>"]).is_err());
        assert!(parse_contacts(&["<sip:a@b;expires=x"]).is_err());
        assert!(parse_contacts(&["<sip:a@b>;expires=soon"]).is_err());
        assert!(parse_contacts(&["\"\""]).is_err());
        let Contacts::List(l) = list(
            "\"Оператор, 1\" <sip:101@10.0.0.5:5060;transport=tcp>;expires=120;\
             +sip.instance=\"<urn:uuid:abc>\", sip:101@10.0.0.6;expires=0",
        ) else {
            panic!("list")
        };
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].uri, "sip:101@10.0.0.5:5060;transport=tcp");
        assert_eq!(l[0].expires, Some(120));
        assert_eq!(l[0].instance.as_deref(), Some("<urn:uuid:abc>"));
        assert_eq!(
            (l[1].uri.as_str(), l[1].expires),
            ("sip:101@10.0.0.6", Some(0))
        );
    }

    #[test]
    fn register_refresh_expire_and_remove() {
        let mut t = Bindings::new(ExpiryLimits::default());
        let b = t
            .apply(
                "101",
                &list("<sip:101@10.0.0.5>"),
                &up("c1", 1, Some(300)),
                1_000,
            )
            .expect("bound");
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].expires_at, 1_300);
        // The param beats the header; above max is shortened to max.
        let b = t
            .apply(
                "101",
                &list("<sip:101@10.0.0.5>;expires=99999"),
                &up("c1", 2, Some(300)),
                1_100,
            )
            .expect("refreshed");
        assert_eq!((b.len(), b[0].expires_at), (1, 1_100 + 3600));
        // Neither: the default.
        let b = t
            .apply("102", &list("<sip:102@h>"), &up("c2", 1, None), 0)
            .expect("bound");
        assert_eq!(b[0].expires_at, 3600);
        // It lapses by itself.
        assert!(t.current("102", 3600).is_empty());
        // A query returns what is there and changes nothing.
        assert_eq!(
            t.apply("101", &Contacts::None, &up("q", 1, None), 1_200)
                .expect("query")
                .len(),
            1
        );
        // expires=0 removes one contact.
        let b = t
            .apply(
                "101",
                &list("<sip:101@10.0.0.5>;expires=0"),
                &up("c1", 3, None),
                1_200,
            )
            .expect("removed");
        assert!(b.is_empty());
    }

    #[test]
    fn too_brief_is_423_and_changes_nothing() {
        let mut t = Bindings::new(ExpiryLimits {
            min_s: 60,
            max_s: 600,
            default_s: 600,
        });
        t.apply("101", &list("<sip:a@h>"), &up("c", 1, None), 0)
            .expect("bound");
        let r = t.apply(
            "101",
            &list("<sip:b@h>, <sip:a@h>;expires=30"),
            &up("c", 2, None),
            0,
        );
        assert_eq!(r, Err(BindError::TooBrief { min_expires: 60 }));
        let now = t.current("101", 0);
        assert_eq!(
            (now.len(), now[0].uri.as_str(), now[0].cseq),
            (1, "sip:a@h", 1)
        );
    }

    #[test]
    fn star_needs_expires_zero_and_removes_all() {
        let mut t = Bindings::new(ExpiryLimits::default());
        t.apply("101", &list("<sip:a@h>, <sip:b@h>"), &up("c", 1, None), 0)
            .expect("bound");
        assert!(matches!(
            t.apply("101", &Contacts::Star, &up("c", 2, Some(10)), 0),
            Err(BindError::Bad(_))
        ));
        assert_eq!(t.current("101", 0).len(), 2);
        assert!(t
            .apply("101", &Contacts::Star, &up("c", 3, Some(0)), 0)
            .expect("cleared")
            .is_empty());
        assert!(t.current("101", 0).is_empty());
    }

    #[test]
    fn same_call_id_with_old_cseq_is_refused() {
        let mut t = Bindings::new(ExpiryLimits::default());
        t.apply("101", &list("<sip:a@h>"), &up("c", 5, None), 0)
            .expect("bound");
        assert_eq!(
            t.apply("101", &list("<sip:a@h>;expires=0"), &up("c", 5, None), 0),
            Err(BindError::OutOfOrder)
        );
        assert_eq!(
            t.apply("101", &Contacts::Star, &up("c", 4, Some(0)), 0),
            Err(BindError::OutOfOrder)
        );
        assert_eq!(t.current("101", 0).len(), 1);
        // Another Call-ID (a rebooted phone) may replace it whatever its CSeq.
        let b = t
            .apply("101", &list("<sip:a@h>;expires=100"), &up("d", 1, None), 0)
            .expect("replaced");
        assert_eq!((b.len(), b[0].call_id.as_str()), (1, "d"));
    }

    #[test]
    fn one_binding_per_instance() {
        let mut t = Bindings::new(ExpiryLimits::default());
        let inst = ";+sip.instance=\"<urn:uuid:1>\"";
        t.apply(
            "101",
            &list(&format!("<sip:x1@h>{inst}")),
            &up("c1", 1, None),
            0,
        )
        .expect("bound");
        // The same device after a page refresh: new contact URI, new Call-ID.
        let b = t
            .apply(
                "101",
                &list(&format!("<sip:x2@h>{inst}")),
                &up("c2", 1, None),
                10,
            )
            .expect("replaced");
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].uri, "sip:x2@h");
        // Another device adds a binding.
        let b = t
            .apply("101", &list("<sip:desk@h>"), &up("c3", 1, None), 10)
            .expect("added");
        assert_eq!(b.len(), 2);
    }
}
