//! HTTP Digest authentication for SIP (RFC 3261 §22.4, RFC 2617 §3, RFC 7616 §3, RFC 8760):
//! the hash math, `Authorization` header parsing, and stateless nonces.
//!
//! A nonce is `<16 hex digits: issue time, s since the Unix epoch><16 hex digits: random>
//! <32 hex digits: the first 16 bytes of HMAC-SHA256(server key, time ‖ random ‖ realm)>`:
//! the server keeps no state to tell its own nonces from forged ones or to see that one has
//! expired, and every challenge has a new nonce (a phone restarts `nc` at 1 on each) (RFC 7616 §3.3 suggests a
//! time stamp in the nonce; RFC 2617 §3.2.1 "stale").

use subtle::ConstantTimeEq;

/// A digest algorithm we offer (RFC 8760 §2: SHA-256 preferred, MD5 for older phones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 2617).
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

impl Algorithm {
    /// The token used in `algorithm=` (`MD5`, `SHA-256`).
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// The algorithm named by an `algorithm=` value, case-insensitive; `None` for ones we
    /// do not serve (the `-sess` variants, SHA-512-256).
    pub fn from_token(t: &str) -> Option<Algorithm> {
        if t.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if t.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// Lower-case hex of the hash of `data` (32 digits for MD5, 64 for SHA-256).
    pub fn hex(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => {
                use md5::Digest;
                to_hex(&md5::Md5::digest(data.as_bytes()))
            }
            Algorithm::Sha256 => to_hex(&hmac_sha256::Hash::hash(data.as_bytes())),
        }
    }
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// HA1 = H(username ":" realm ":" password) (RFC 2617 §3.2.2.2, RFC 7616 §3.4.2): what a
/// credential store keeps instead of the password.
pub fn ha1(alg: Algorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hex(&format!("{username}:{realm}:{password}"))
}

/// The expected `response` for `qop=auth` (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1):
/// H(HA1 ":" nonce ":" nc ":" cnonce ":" "auth" ":" H(method ":" digest-uri)).
pub fn response(alg: Algorithm, ha1: &str, method: &str, creds: &Credentials) -> String {
    let ha2 = alg.hex(&format!("{method}:{}", creds.uri));
    alg.hex(&format!(
        "{ha1}:{}:{}:{}:auth:{ha2}",
        creds.nonce, creds.nc, creds.cnonce
    ))
}

/// Compares two hex digests in constant time, ignoring ASCII case.
pub fn digests_equal(a: &str, b: &str) -> bool {
    let a = a.to_ascii_lowercase();
    let b = b.to_ascii_lowercase();
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The parameters of one `Authorization: Digest …` header (RFC 2617 §3.2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`, as we issued it.
    pub nonce: String,
    /// `uri` (the digest-uri: the Request-URI as the client wrote it).
    pub uri: String,
    /// `response`, hex.
    pub response: String,
    /// `algorithm`; `MD5` when absent (RFC 2617 §3.2.1).
    pub algorithm: String,
    /// `cnonce`.
    pub cnonce: String,
    /// `qop`; empty when absent.
    pub qop: String,
    /// `nc`, 8 hex digits.
    pub nc: String,
    /// `opaque`, if sent.
    pub opaque: Option<String>,
}

/// Why an `Authorization` header was not usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Another scheme than `Digest`.
    #[error("not a Digest authorization")]
    NotDigest,
    /// A required parameter is missing.
    #[error("Digest authorization without {0}")]
    Missing(&'static str),
    /// Not `name=value` pairs.
    #[error("malformed Digest authorization")]
    Malformed,
}

/// Parses `Digest username="…", realm="…", …` (RFC 2617 §3.2.2; quoted strings with `\`
/// escapes, RFC 3261 §25.1). Requires username, realm, nonce, uri, response, and for
/// `qop=auth` also cnonce and nc.
pub fn parse_authorization(value: &str) -> Result<Credentials, ParseError> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(ParseError::NotDigest);
    }
    let mut c = Credentials {
        algorithm: "MD5".into(),
        ..Credentials::default()
    };
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        while let Some(&ch) = chars.peek() {
            if ch == '=' || ch.is_whitespace() {
                break;
            }
            name.push(ch);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(ParseError::Malformed);
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(ch) = chars.next() {
                match ch {
                    '\\' => val.extend(chars.next()),
                    '"' => {
                        closed = true;
                        break;
                    }
                    _ => val.push(ch),
                }
            }
            if !closed {
                return Err(ParseError::Malformed);
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch == ',' || ch.is_whitespace() {
                    break;
                }
                val.push(ch);
                chars.next();
            }
        }
        match name.to_ascii_lowercase().as_str() {
            "username" => c.username = val,
            "realm" => c.realm = val,
            "nonce" => c.nonce = val,
            "uri" => c.uri = val,
            "response" => c.response = val,
            "algorithm" => c.algorithm = val,
            "cnonce" => c.cnonce = val,
            "qop" => c.qop = val,
            "nc" => c.nc = val,
            "opaque" => c.opaque = Some(val),
            _ => {}
        }
    }
    for (v, name) in [
        (&c.username, "username"),
        (&c.realm, "realm"),
        (&c.nonce, "nonce"),
        (&c.uri, "uri"),
        (&c.response, "response"),
    ] {
        if v.is_empty() {
            return Err(ParseError::Missing(name));
        }
    }
    if !c.qop.is_empty() {
        if c.cnonce.is_empty() {
            return Err(ParseError::Missing("cnonce"));
        }
        if c.nc.is_empty() {
            return Err(ParseError::Missing("nc"));
        }
    }
    Ok(c)
}

/// What [`NonceKey::check`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceState {
    /// Ours and within its lifetime; issued at this time (s since the epoch).
    Fresh(u64),
    /// Ours, but older than the lifetime: answer a new challenge with `stale=true`.
    Stale,
    /// Not a nonce we issued (or issued for another realm, or from the future).
    Forged,
}

/// The server's secret for stateless nonces.
pub struct NonceKey {
    key: [u8; 32],
}

impl NonceKey {
    /// A key from 32 random bytes.
    pub fn random() -> NonceKey {
        NonceKey {
            key: rand::random(),
        }
    }

    /// A fixed key (tests).
    pub fn from_bytes(key: [u8; 32]) -> NonceKey {
        NonceKey { key }
    }

    fn mac(&self, issued_s: u64, salt: u64, realm: &str) -> String {
        let mut msg = issued_s.to_be_bytes().to_vec();
        msg.extend_from_slice(&salt.to_be_bytes());
        msg.extend_from_slice(realm.as_bytes());
        to_hex(&hmac_sha256::HMAC::mac(&msg, self.key)[..16])
    }

    /// A new nonce issued at `now_s` (s since the epoch) for `realm`: 64 hex digits.
    pub fn issue(&self, now_s: u64, realm: &str) -> String {
        self.issue_with(now_s, rand::random(), realm)
    }

    /// [`NonceKey::issue`] with a given random part (tests).
    pub fn issue_with(&self, now_s: u64, salt: u64, realm: &str) -> String {
        format!("{now_s:016x}{salt:016x}{}", self.mac(now_s, salt, realm))
    }

    /// Whether `nonce` is ours for `realm` and younger than `lifetime_s` at `now_s`. The
    /// MAC is compared in constant time.
    pub fn check(&self, nonce: &str, realm: &str, now_s: u64, lifetime_s: u64) -> NonceState {
        if nonce.len() != 64 || !nonce.is_ascii() {
            return NonceState::Forged;
        }
        let (Ok(issued), Ok(salt)) = (
            u64::from_str_radix(&nonce[..16], 16),
            u64::from_str_radix(&nonce[16..32], 16),
        ) else {
            return NonceState::Forged;
        };
        if !digests_equal(&nonce[32..], &self.mac(issued, salt, realm)) || issued > now_s + 5 {
            return NonceState::Forged;
        }
        if now_s.saturating_sub(issued) > lifetime_s {
            NonceState::Stale
        } else {
            NonceState::Fresh(issued)
        }
    }
}

/// One `WWW-Authenticate` value: `Digest realm="…", nonce="…", algorithm=…, qop="auth"`
/// (RFC 7616 §3.3), with `stale=true` when the client's nonce had expired.
pub fn challenge(alg: Algorithm, realm: &str, nonce: &str, stale: bool) -> String {
    let realm = realm.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{}",
        alg.token(),
        if stale { ", stale=true" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2617 §3.5: Mufasa / "Circle Of Life" (HTTP, MD5, qop=auth).
    #[test]
    fn rfc2617_worked_example() {
        let c = parse_authorization(
            r#"Digest username="Mufasa", realm="testrealm@host.com",
               nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html",
               qop=auth, nc=00000001, cnonce="0a4f113b",
               response="6629fae49393a05397450978507c4ef1",
               opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .expect("parses");
        assert_eq!(c.username, "Mufasa");
        assert_eq!(c.nc, "00000001");
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert_eq!(
            response(Algorithm::Md5, &h, "GET", &c),
            "6629fae49393a05397450978507c4ef1"
        );
    }

    /// RFC 7616 §3.9.1: the same exchange with MD5 and SHA-256 ("Circle of Life",
    /// realm http-auth@example.org).
    #[test]
    fn rfc7616_worked_examples() {
        let mut c = Credentials {
            username: "Mufasa".into(),
            realm: "http-auth@example.org".into(),
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
            uri: "/dir/index.html".into(),
            cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ".into(),
            nc: "00000001".into(),
            qop: "auth".into(),
            ..Credentials::default()
        };
        let md5 = ha1(Algorithm::Md5, "Mufasa", &c.realm, "Circle of Life");
        assert_eq!(
            response(Algorithm::Md5, &md5, "GET", &c),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
        let sha = ha1(Algorithm::Sha256, "Mufasa", &c.realm, "Circle of Life");
        assert_eq!(
            response(Algorithm::Sha256, &sha, "GET", &c),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        c.nc = "00000002".into();
        assert_ne!(
            response(Algorithm::Sha256, &sha, "GET", &c),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn authorization_errors() {
        assert_eq!(
            parse_authorization("Basic QWxhZGRpbjpvcGVu"),
            Err(ParseError::NotDigest)
        );
        assert_eq!(
            parse_authorization(r#"Digest username="a", realm="r", nonce="n", uri="u""#),
            Err(ParseError::Missing("response"))
        );
        assert_eq!(
            parse_authorization(
                r#"Digest username="a", realm="r", nonce="n", uri="u", response="x", qop=auth, nc=00000001"#
            ),
            Err(ParseError::Missing("cnonce"))
        );
        assert_eq!(
            parse_authorization(r#"Digest username="a"#),
            Err(ParseError::Malformed)
        );
        let c = parse_authorization(
            r#"Digest username="a\"b",realm="r",nonce="n",uri="sip:x",response="f",algorithm=SHA-256"#,
        )
        .expect("parses");
        assert_eq!(
            (c.username.as_str(), c.algorithm.as_str()),
            ("a\"b", "SHA-256")
        );
    }

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let k = NonceKey::from_bytes([7; 32]);
        let n = k.issue(1_000, "zvonar");
        assert_eq!(n.len(), 64);
        // Every challenge gets its own nonce, even within the same second.
        assert_ne!(k.issue(1_000, "zvonar"), n);
        assert_eq!(
            k.issue_with(1_000, 9, "zvonar"),
            k.issue_with(1_000, 9, "zvonar")
        );
        assert_eq!(k.check(&n, "zvonar", 1_000, 300), NonceState::Fresh(1_000));
        assert_eq!(k.check(&n, "zvonar", 1_300, 300), NonceState::Fresh(1_000));
        assert_eq!(k.check(&n, "zvonar", 1_301, 300), NonceState::Stale);
        assert_eq!(k.check(&n, "other", 1_000, 300), NonceState::Forged);
        let other = NonceKey::from_bytes([8; 32]);
        assert_eq!(other.check(&n, "zvonar", 1_000, 300), NonceState::Forged);
        // A later time stamp with the old MAC (to stretch the lifetime) is refused.
        let bumped = format!("{:016x}{}", 2_000u64, &n[16..]);
        assert_eq!(k.check(&bumped, "zvonar", 2_000, 300), NonceState::Forged);
        let resalted = format!("{}{:016x}{}", &n[..16], 1u64, &n[32..]);
        assert_eq!(k.check(&resalted, "zvonar", 1_000, 300), NonceState::Forged);
        assert_eq!(k.check(&bumped, "zvonar", 2_000, 300), NonceState::Forged);
        assert_eq!(k.check("short", "zvonar", 1_000, 300), NonceState::Forged);
        assert_eq!(k.check(&n, "zvonar", 900, 300), NonceState::Forged);
    }

    #[test]
    fn challenge_offers_qop_auth_and_stale() {
        let c = challenge(Algorithm::Sha256, "zv\"a", "abc", true);
        assert_eq!(
            c,
            r#"Digest realm="zv\"a", nonce="abc", algorithm=SHA-256, qop="auth", stale=true"#
        );
        assert!(!challenge(Algorithm::Md5, "r", "n", false).contains("stale"));
    }

    #[test]
    fn digest_compare_ignores_case_only() {
        assert!(digests_equal("ABCdef", "abcDEF"));
        assert!(!digests_equal("abc", "abd"));
        assert!(!digests_equal("abc", "abcd"));
    }
}
