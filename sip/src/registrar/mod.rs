//! The registrar for desk phones and softphones (RFC 3261 §10.3) with digest
//! authentication (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760). Sans-IO: the UA
//! ([`crate::ua`]) turns a REGISTER into a [`Register`], asks [`Registrar::authorize`],
//! looks up the user's HA1 in a [`CredentialStore`], then calls [`Registrar::complete`]
//! and sends the [`Reply`]. Time is passed in (s since the epoch), so tests use a fake
//! clock.
//!
//! Rules:
//! - no or unusable `Authorization` → 401 with one challenge per algorithm of
//!   [`RegistrarConfig::algorithms`] (by default SHA-256 first, then MD5: RFC 8760 §2.4,
//!   in the order of preference), `qop="auth"`;
//! - a nonce older than [`RegistrarConfig::nonce_lifetime_s`] with a correct response →
//!   401 with `stale=true` (RFC 2617 §3.2.1) — not a failure;
//! - an `nc` not above the last one seen with that nonce → 401 (replay; RFC 2617 §3.2.2);
//! - a wrong response or an unknown user → 401 with a fresh challenge, and one failure
//!   for the (user, source IP) pair; after [`RegistrarConfig::lockout_after`]
//!   consecutive failures the pair gets 403 for [`RegistrarConfig::lockout_s`], even
//!   with the right password; a success clears the count;
//! - the authenticated user may register only its own AOR (the To user): else 403
//!   (RFC 3261 §10.3 step 6);
//! - then the binding rules of [`bindings`]: 200 listing every current contact with its
//!   `expires`, 423 with `Min-Expires`, 400, 500.

pub mod bindings;
pub mod digest;

use bindings::{BindError, Binding, Bindings, Contacts, ExpiryLimits, Update};
use digest::{Algorithm, Credentials, NonceKey, NonceState};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// Where HA1s come from: user → H(user:realm:password) for an algorithm. Implemented by
/// the application over its user storage; passwords are never stored.
#[async_trait::async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    /// The HA1 (lower-case hex) of `username` in `realm` for `algorithm`; `Ok(None)`
    /// when there is no such SIP user. Errors: the storage failed (answered 500).
    async fn ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: Algorithm,
    ) -> Result<Option<String>, String>;

    /// Every HA1 that may answer for `username` now: the account's own and any short-lived
    /// one issued for it (a console session's, see zvonar's `softphone` credentials). The
    /// default is [`CredentialStore::ha1`] alone. Errors: the storage failed (answered 500).
    async fn ha1s(
        &self,
        username: &str,
        realm: &str,
        algorithm: Algorithm,
    ) -> Result<Vec<String>, String> {
        Ok(self
            .ha1(username, realm, algorithm)
            .await?
            .into_iter()
            .collect())
    }
}

/// Registrar settings (`[sip.registrar]` in zvonar.toml).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// The digest realm shown to phones (RFC 3261 §22.1), e.g. the company's domain.
    pub realm: String,
    /// How long a nonce is accepted, s; an older one gets `stale=true`.
    pub nonce_lifetime_s: u64,
    /// Consecutive failures of one user from one source IP before the lockout.
    pub lockout_after: u32,
    /// Length of the lockout, s.
    pub lockout_s: u64,
    /// Binding expiry limits.
    pub expiry: ExpiryLimits,
    /// The challenges offered, most preferred first (RFC 8760 §2.4). Some older phones
    /// read only the first challenge and know only MD5: put MD5 first for them.
    pub algorithms: Vec<Algorithm>,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            realm: "zvonar".into(),
            nonce_lifetime_s: 300,
            lockout_after: 5,
            lockout_s: 300,
            expiry: ExpiryLimits::default(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }
}

/// A REGISTER, as the registrar needs it.
#[derive(Clone, Debug)]
pub struct Register {
    /// The To URI's user part: the AOR's user.
    pub aor_user: String,
    /// Every `Authorization` header value.
    pub authorization: Vec<String>,
    /// Every `Contact` header value.
    pub contacts: Vec<String>,
    /// The `Expires` header, if present.
    pub expires: Option<String>,
    /// Call-ID.
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
    /// Packet source; over a stream (TCP, WebSocket) the connection's peer, which reaches
    /// the device and identifies its connection.
    pub source: SocketAddr,
    /// The client's IP address, which the lockout counts failures by: the packet source's
    /// IP, except over WSS, where [`Register::source`] is the TLS relay's loopback socket
    /// and this is the browser's address ([`crate::wss`]).
    pub client_ip: IpAddr,
    /// `udp` or `tcp`.
    pub transport: &'static str,
}

/// A response to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Extra headers, in order (name, value).
    pub headers: Vec<(String, String)>,
}

impl Reply {
    fn plain(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
        }
    }
}

/// Which challenge a request gets: 401 `WWW-Authenticate` from the registrar (REGISTER),
/// 407 `Proxy-Authenticate` for a desk phone's INVITE (RFC 3261 §22.2, §22.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    Www,
    Proxy,
}

/// A REGISTER whose credentials must be checked against the store.
#[derive(Clone, Debug)]
pub struct Pending {
    creds: Credentials,
    /// The algorithm of the credentials: look up this HA1.
    pub algorithm: Algorithm,
}

impl Pending {
    /// The user to look up.
    pub fn username(&self) -> &str {
        &self.creds.username
    }
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    locked_until: Option<u64>,
}

/// The registrar's state: bindings, nonce counts seen, failure counts.
pub struct Registrar {
    config: RegistrarConfig,
    key: NonceKey,
    bindings: Bindings,
    /// nonce → highest nc accepted.
    nc_seen: HashMap<String, u32>,
    failures: HashMap<(String, IpAddr), Failures>,
}

impl Registrar {
    /// A registrar with a random nonce key.
    pub fn new(config: RegistrarConfig) -> Registrar {
        Registrar::with_key(config, NonceKey::random())
    }

    /// A registrar with the given nonce key (tests).
    pub fn with_key(config: RegistrarConfig, key: NonceKey) -> Registrar {
        Registrar {
            bindings: Bindings::new(config.expiry),
            config,
            key,
            nc_seen: HashMap::new(),
            failures: HashMap::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// The live bindings of the AOR `user` at `now_s`.
    pub fn bindings(&mut self, user: &str, now_s: u64) -> Vec<Binding> {
        self.bindings.current(user, now_s)
    }

    /// The stream connection (TCP, WebSocket) from `peer` closed: its bindings are removed at
    /// once (see [`Bindings::remove_connection`]) rather than left until they expire.
    /// Returns the AORs (SIP account names) that lost a binding.
    pub fn connection_closed(&mut self, peer: std::net::SocketAddr) -> Vec<String> {
        self.bindings.remove_connection(peer)
    }

    /// The SIP account registered over the stream connection from `peer` (see
    /// [`Bindings::aor_of_connection`]): an INVITE on that connection is that account's call.
    pub fn account_of_connection(&self, peer: std::net::SocketAddr, now_s: u64) -> Option<String> {
        self.bindings.aor_of_connection(peer, now_s)
    }

    /// Whether the SIP account `user` is registered over UDP from `source` now (see
    /// [`Bindings::udp_binding_from`]): an INVITE from there with `user` in From claims to
    /// come from that desk phone. Not proof by itself (a UDP source can be forged): zvonar
    /// then challenges the INVITE ([`Registrar::authorize_request`], 407) and only an
    /// authenticated one is the agent's own call.
    pub fn udp_account_from(&self, user: &str, source: std::net::SocketAddr, now_s: u64) -> bool {
        self.bindings.udp_binding_from(user, source, now_s)
    }

    /// 401 with `WWW-Authenticate` (REGISTER), or 407 with `Proxy-Authenticate` (a
    /// desk phone's INVITE; RFC 3261 §22.3), one per configured algorithm (RFC 8760 §2.4).
    fn challenge_as(&self, auth: Auth, now_s: u64, stale: bool) -> Reply {
        let nonce = self.key.issue(now_s, &self.config.realm);
        let (status, header) = match auth {
            Auth::Www => (401, "WWW-Authenticate"),
            Auth::Proxy => (407, "Proxy-Authenticate"),
        };
        Reply {
            status,
            headers: self
                .config
                .algorithms
                .iter()
                .map(|&a| {
                    (
                        header.to_string(),
                        digest::challenge(a, &self.config.realm, &nonce, stale),
                    )
                })
                .collect(),
        }
    }

    fn locked(&mut self, user: &str, ip: IpAddr, now_s: u64) -> bool {
        let key = (user.to_string(), ip);
        match self.failures.get(&key).and_then(|f| f.locked_until) {
            Some(until) if now_s < until => true,
            Some(_) => {
                self.failures.remove(&key);
                false
            }
            None => false,
        }
    }

    fn fail(&mut self, auth: Auth, user: &str, ip: IpAddr, now_s: u64) -> Reply {
        let f = self.failures.entry((user.to_string(), ip)).or_default();
        f.count += 1;
        if f.count >= self.config.lockout_after.max(1) {
            f.locked_until = Some(now_s + self.config.lockout_s);
            tracing::warn!(user, %ip, "SIP digest authentication locked out after failures");
            return Reply::plain(403);
        }
        self.challenge_as(auth, now_s, false)
    }

    /// First step: `Err(reply)` to send at once (a challenge, 403 while locked out, 400),
    /// or `Ok(pending)`: fetch the HA1 of `pending.username()` for `pending.algorithm`
    /// and call [`Registrar::complete`].
    pub fn authorize(&mut self, req: &Register, now_s: u64) -> Result<Pending, Reply> {
        self.authorize_as(Auth::Www, &req.authorization, req.client_ip, now_s)
    }

    /// [`Registrar::authorize`] for a request that is not a REGISTER: a registered desk
    /// phone's INVITE (`proxy_authorization`: its `Proxy-Authorization` values), challenged
    /// with 407 (RFC 3261 §22.3), from `source`. Then [`Registrar::verify_request`].
    pub fn authorize_request(
        &mut self,
        proxy_authorization: &[String],
        source: IpAddr,
        now_s: u64,
    ) -> Result<Pending, Reply> {
        self.authorize_as(Auth::Proxy, proxy_authorization, source, now_s)
    }

    fn authorize_as(
        &mut self,
        auth: Auth,
        authorization: &[String],
        source: IpAddr,
        now_s: u64,
    ) -> Result<Pending, Reply> {
        let ours = authorization.iter().find_map(|v| {
            digest::parse_authorization(v)
                .ok()
                .filter(|c| c.realm == self.config.realm)
        });
        let Some(creds) = ours else {
            return Err(self.challenge_as(auth, now_s, false));
        };
        if self.locked(&creds.username, source, now_s) {
            return Err(Reply::plain(403));
        }
        let Some(algorithm) =
            Algorithm::from_token(&creds.algorithm).filter(|a| self.config.algorithms.contains(a))
        else {
            return Err(self.challenge_as(auth, now_s, false));
        };
        if !creds.qop.eq_ignore_ascii_case("auth") {
            // We offer qop="auth" only; without it nc cannot stop replays.
            return Err(self.challenge_as(auth, now_s, false));
        }
        if matches!(
            self.key
                .check(&creds.nonce, &self.config.realm, now_s, u64::MAX / 2),
            NonceState::Forged
        ) {
            return Err(self.challenge_as(auth, now_s, false));
        }
        Ok(Pending { creds, algorithm })
    }

    /// Second step, with the user's HA1 (`None`: no such user). Checks the response,
    /// nonce age and nc, the lockout, then applies the bindings.
    pub fn complete(
        &mut self,
        req: &Register,
        pending: Pending,
        ha1: Option<&str>,
        now_s: u64,
    ) -> Reply {
        let ha1s: Vec<String> = ha1.map(str::to_string).into_iter().collect();
        self.complete_any(req, pending, &ha1s, now_s)
    }

    /// [`Registrar::complete`] with every HA1 that may answer for the user
    /// ([`CredentialStore::ha1s`]): the response must match one of them.
    pub fn complete_any(
        &mut self,
        req: &Register,
        pending: Pending,
        ha1s: &[String],
        now_s: u64,
    ) -> Reply {
        match self.verify(
            Auth::Www,
            "REGISTER",
            &req.aor_user,
            req.client_ip,
            pending,
            ha1s,
            now_s,
        ) {
            Ok(()) => self.bind(req, now_s),
            Err(reply) => reply,
        }
    }

    /// Second step of [`Registrar::authorize_request`]: `Ok(())` when the credentials in
    /// `pending` answer for SIP account `user` on request `method` (`INVITE`) with one of
    /// `ha1s`, with a fresh nonce and a new nc; otherwise the reply to send (407 again, 403
    /// for another account's credentials or while locked out after repeated failures).
    #[allow(clippy::too_many_arguments)]
    pub fn verify_request(
        &mut self,
        method: &str,
        user: &str,
        source: IpAddr,
        pending: Pending,
        ha1s: &[String],
        now_s: u64,
    ) -> Result<(), Reply> {
        self.verify(Auth::Proxy, method, user, source, pending, ha1s, now_s)
    }

    #[allow(clippy::too_many_arguments)]
    fn verify(
        &mut self,
        auth: Auth,
        method: &str,
        user: &str,
        ip: IpAddr,
        pending: Pending,
        ha1s: &[String],
        now_s: u64,
    ) -> Result<(), Reply> {
        let creds = &pending.creds;
        if self.locked(&creds.username, ip, now_s) {
            return Err(Reply::plain(403));
        }
        let right = ha1s.iter().any(|h| {
            digest::digests_equal(
                &digest::response(pending.algorithm, h, method, creds),
                &creds.response,
            )
        });
        if !right {
            return Err(self.fail(auth, &creds.username, ip, now_s));
        }
        let nonce_state = self.key.check(
            &creds.nonce,
            &self.config.realm,
            now_s,
            self.config.nonce_lifetime_s,
        );
        match nonce_state {
            NonceState::Fresh(_) => {}
            NonceState::Stale => return Err(self.challenge_as(auth, now_s, true)),
            NonceState::Forged => return Err(self.challenge_as(auth, now_s, false)),
        }
        let Ok(nc) = u32::from_str_radix(&creds.nc, 16) else {
            return Err(self.challenge_as(auth, now_s, false));
        };
        let lifetime = self.config.nonce_lifetime_s;
        if self.nc_seen.len() > 4096 {
            let key = &self.key;
            let realm = &self.config.realm;
            self.nc_seen.retain(|n, _| {
                matches!(key.check(n, realm, now_s, lifetime), NonceState::Fresh(_))
            });
        }
        let last = self.nc_seen.entry(creds.nonce.clone()).or_insert(0);
        if nc <= *last {
            tracing::info!(user = creds.username, %ip, nc, "replayed nonce count");
            return Err(self.challenge_as(auth, now_s, false));
        }
        *last = nc;
        self.failures.remove(&(creds.username.clone(), ip));
        if creds.username != user {
            return Err(Reply::plain(403));
        }
        Ok(())
    }

    fn bind(&mut self, req: &Register, now_s: u64) -> Reply {
        let values: Vec<&str> = req.contacts.iter().map(String::as_str).collect();
        let contacts = match bindings::parse_contacts(&values) {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(error = e, "REGISTER with a bad Contact");
                return Reply::plain(400);
            }
        };
        let expires_header = match req.expires.as_deref().map(str::trim) {
            None => None,
            Some(v) => match v.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => return Reply::plain(400),
            },
        };
        let up = Update {
            call_id: &req.call_id,
            cseq: req.cseq,
            expires_header,
            source: Some(req.source),
            transport: req.transport,
        };
        match self.bindings.apply(&req.aor_user, &contacts, &up, now_s) {
            Ok(list) => {
                if matches!(contacts, Contacts::List(_) | Contacts::Star) {
                    tracing::info!(user = req.aor_user, contacts = list.len(), "registered");
                }
                Reply {
                    status: 200,
                    headers: list
                        .iter()
                        .map(|b| {
                            (
                                "Contact".to_string(),
                                format!("<{}>;expires={}", b.uri, b.expires_at - now_s),
                            )
                        })
                        .collect(),
                }
            }
            Err(BindError::Bad(e)) => {
                tracing::info!(error = e, "REGISTER refused");
                Reply::plain(400)
            }
            Err(BindError::TooBrief { min_expires }) => Reply {
                status: 423,
                headers: vec![("Min-Expires".into(), min_expires.to_string())],
            },
            Err(BindError::OutOfOrder) => Reply::plain(500),
        }
    }
}

#[cfg(test)]
mod tests;
