//! Client registration with SIP trunks (RFC 3261 §10.2): REGISTER our Contact at the
//! provider's registrar, answer its digest challenge (RFC 2617, RFC 8760; rsipstack's
//! [`rsipstack::dialog::registration::Registration`] does the request and the 401/407
//! retry), refresh before the binding expires, retry with a growing pause after a failure,
//! and remove the binding (`Expires: 0`, §10.2.2) when zvonar stops.
//!
//! The timing and the state are a sans-IO machine, [`Refresher`]: it is told the time and
//! each attempt's [`Outcome`], and says when the next REGISTER is due; [`run`] is the IO
//! loop around it, holding it behind a mutex the engine reads (`/health`, the choice of a
//! trunk for a call).
//!
//! ```text
//! Registering ──200──► Registered ──(granted/2)──► refresh ──200──► Registered …
//!      │  ▲                 │                          │
//!      │  └──backoff────────┴──── failure ◄────────────┘   (still Registered until expiry)
//!      └─failure─► Failed(reason, next attempt in 2 s, 4 s, 8 s … 300 s)
//! stop ──► REGISTER Expires: 0 ──► Unregistered
//! ```

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::registration::Registration;
use rsipstack::sip::StatusCodeKind;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// First pause after a failed REGISTER; doubled after each further failure.
pub const BACKOFF_MIN: Duration = Duration::from_secs(2);

/// Longest pause between failed REGISTERs.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Longest one REGISTER (with its authenticated retry) may take before it counts as failed:
/// the client transaction's Timer F is 64·T1 = 32 s (RFC 3261 §17.1.2.2).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(40);

/// Longest the un-REGISTER at shutdown may take.
pub const UNREGISTER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long after a successful REGISTER granting `granted_s` seconds the binding is
/// refreshed: half the lifetime (so from 60 s up at least 30 s before it ends, leaving time
/// for a retry), at least 1 s.
pub fn refresh_after(granted_s: u32) -> Duration {
    Duration::from_millis((u64::from(granted_s) * 500).max(1000))
}

/// The pause after `failures` consecutive failed REGISTERs (≥ 1): [`BACKOFF_MIN`] doubled
/// each time, at most [`BACKOFF_MAX`].
pub fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(16);
    BACKOFF_MIN.saturating_mul(1u32 << shift).min(BACKOFF_MAX)
}

/// How one REGISTER ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the binding holds for `granted_s` seconds (RFC 3261 §10.2.4).
    Registered {
        /// The lifetime the registrar granted, s.
        granted_s: u32,
    },
    /// A final non-2xx response (after the authenticated retry, if any).
    Rejected {
        /// The status (401/403: wrong credentials; 423: too brief; 503…).
        status: u16,
        /// The reason phrase.
        reason: String,
        /// `Min-Expires` of a 423 Interval Too Brief (RFC 3261 §10.2.8, §20.23).
        min_expires_s: Option<u32>,
        /// `Retry-After` of a 503 or 500 (RFC 3261 §20.33), s.
        retry_after_s: Option<u32>,
    },
    /// No response: the registrar could not be reached (transport error, DNS, timeout).
    Unreachable(String),
}

/// The registration's state, as `/health` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegState {
    /// No REGISTER has succeeded or failed yet.
    Registering,
    /// The binding holds (a refresh may have failed meanwhile: see `last_error`).
    Registered,
    /// No binding: the last REGISTER failed.
    Failed,
    /// Removed at shutdown.
    Unregistered,
}

impl RegState {
    /// `registering`, `registered`, `failed`, `unregistered`.
    pub fn code(&self) -> &'static str {
        match self {
            RegState::Registering => "registering",
            RegState::Registered => "registered",
            RegState::Failed => "failed",
            RegState::Unregistered => "unregistered",
        }
    }
}

/// A registration's state at one moment ([`Refresher::status`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegStatus {
    /// Where it stands.
    pub state: RegState,
    /// Why the last REGISTER failed (`403 Forbidden`, `unreachable: …`), if it did.
    pub last_error: Option<String>,
    /// Seconds until the binding expires, while registered.
    pub expires_in_s: Option<u64>,
    /// Seconds until the next REGISTER (0: due or in flight); `None` once stopped.
    pub next_attempt_in_s: Option<u64>,
    /// Consecutive failed attempts.
    pub failures: u32,
    /// Successful REGISTERs so far (the first and every refresh).
    pub registrations: u64,
}

/// When to REGISTER and what the binding's state is: a sans-IO machine (no clock, no
/// socket) driven by [`run`] or by a test with its own clock.
#[derive(Clone, Debug)]
pub struct Refresher {
    requested_s: u32,
    registered_until: Option<Instant>,
    next_at: Option<Instant>,
    in_flight: bool,
    failures: u32,
    last_error: Option<String>,
    registrations: u64,
    stopped: bool,
}

impl Refresher {
    /// A registration asking for `expires_s` seconds; the first REGISTER is due at `now`.
    pub fn new(now: Instant, expires_s: u32) -> Refresher {
        Refresher {
            requested_s: expires_s.max(1),
            registered_until: None,
            next_at: Some(now),
            in_flight: false,
            failures: 0,
            last_error: None,
            registrations: 0,
            stopped: false,
        }
    }

    /// When the next REGISTER is due; `None` while one is in flight or after [`Refresher::stop`].
    pub fn next_at(&self) -> Option<Instant> {
        if self.in_flight || self.stopped {
            None
        } else {
            self.next_at
        }
    }

    /// Starts an attempt at `now`: the lifetime to ask for, s. Until its outcome no other
    /// attempt is due.
    pub fn start_attempt(&mut self, _now: Instant) -> u32 {
        self.in_flight = true;
        self.requested_s
    }

    /// The outcome of the attempt started last, at `now`.
    pub fn on_outcome(&mut self, now: Instant, outcome: Outcome) {
        self.in_flight = false;
        match outcome {
            Outcome::Registered { granted_s } if granted_s > 0 => {
                self.failures = 0;
                self.last_error = None;
                self.registrations += 1;
                self.registered_until = Some(now + Duration::from_secs(u64::from(granted_s)));
                self.next_at = Some(now + refresh_after(granted_s));
            }
            Outcome::Registered { .. } => {
                // A 2xx granting 0 s: the registrar removed the binding.
                self.fail(now, "the registrar granted 0 s".into(), None);
            }
            Outcome::Rejected {
                status: 423,
                min_expires_s: Some(min),
                ..
            } if min > self.requested_s => {
                // Interval Too Brief: ask again at once for what it accepts (§10.2.8).
                self.requested_s = min;
                self.last_error = Some(format!("423 Interval Too Brief: asking for {min} s"));
                self.next_at = Some(now);
            }
            Outcome::Rejected {
                status,
                reason,
                retry_after_s,
                ..
            } => self.fail(now, format!("{status} {reason}"), retry_after_s),
            Outcome::Unreachable(why) => self.fail(now, format!("unreachable: {why}"), None),
        }
    }

    fn fail(&mut self, now: Instant, why: String, retry_after_s: Option<u32>) {
        self.failures += 1;
        self.last_error = Some(why);
        let pause = match retry_after_s {
            Some(s) if s > 0 => Duration::from_secs(u64::from(s)).min(BACKOFF_MAX),
            _ => backoff(self.failures),
        };
        let mut next = now + pause;
        // While the old binding still holds, retry before it ends.
        if let Some(until) = self.registered_until.filter(|u| *u > now) {
            next = next
                .min(now + (until - now) / 2)
                .max(now + Duration::from_secs(1));
        }
        self.next_at = Some(next);
    }

    /// Whether the binding holds at `now` (calls may go through this trunk).
    pub fn is_registered(&self, now: Instant) -> bool {
        !self.stopped && self.registered_until.is_some_and(|u| u > now)
    }

    /// No more REGISTERs (shutdown); the binding counts as removed.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.in_flight = false;
        self.registered_until = None;
    }

    /// The state at `now`.
    pub fn status(&self, now: Instant) -> RegStatus {
        let state = if self.stopped {
            RegState::Unregistered
        } else if self.is_registered(now) {
            RegState::Registered
        } else if self.failures > 0 || self.registrations > 0 {
            RegState::Failed
        } else {
            RegState::Registering
        };
        let secs = |d: Duration| d.as_millis().div_ceil(1000) as u64;
        RegStatus {
            expires_in_s: self
                .registered_until
                .filter(|_| state == RegState::Registered)
                .map(|u| secs(u - now)),
            next_attempt_in_s: if self.stopped {
                None
            } else if self.in_flight {
                Some(0)
            } else {
                self.next_at.map(|n| secs(n.saturating_duration_since(now)))
            },
            last_error: self.last_error.clone(),
            failures: self.failures,
            registrations: self.registrations,
            state,
        }
    }
}

/// What a trunk registers as.
#[derive(Clone)]
pub struct RegisterSettings {
    /// The registrar's URI (`sip:host[:port]`), REGISTER's Request-URI and To/From domain.
    pub registrar: String,
    /// Send to this address instead of the registrar's (outbound proxy), resolved before
    /// each REGISTER: `host:port`.
    pub outbound_proxy: Option<(String, u16)>,
    /// Our address-of-record user (To/From/Contact user).
    pub username: String,
    /// The digest username when it differs from `username`.
    pub auth_username: Option<String>,
    /// The password.
    pub password: String,
    /// Over TCP instead of UDP.
    pub tcp: bool,
}

impl std::fmt::Debug for RegisterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterSettings")
            .field("registrar", &self.registrar)
            .field("outbound_proxy", &self.outbound_proxy)
            .field("username", &self.username)
            .field("auth_username", &self.auth_username)
            .field("tcp", &self.tcp)
            .finish()
    }
}

/// The registrar URI with `;transport=tcp` when over TCP (so rsipstack picks TCP).
fn registrar_uri(s: &RegisterSettings) -> String {
    let r = s.registrar.trim().to_string();
    if s.tcp && !r.to_ascii_lowercase().contains("transport=") {
        format!("{r};transport=tcp")
    } else {
        r
    }
}

async fn resolve(host: &str, port: u16) -> Result<std::net::SocketAddr, String> {
    tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("{host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}: no address"))
}

fn header_u32(resp: &rsipstack::sip::Response, name: &str) -> Option<u32> {
    resp.headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .and_then(|h| h.value().split([';', '(']).next()?.trim().parse().ok())
}

/// One REGISTER asking for `expires_s` (0 removes the binding).
async fn attempt(reg: &mut Registration, settings: &RegisterSettings, expires_s: u32) -> Outcome {
    let uri = match rsipstack::sip::Uri::try_from(registrar_uri(settings).as_str()) {
        Ok(u) => u,
        Err(e) => return Outcome::Unreachable(format!("bad registrar URI: {e}")),
    };
    if let Some((host, port)) = &settings.outbound_proxy {
        match resolve(host, *port).await {
            Ok(a) => reg.outbound_proxy = Some(a),
            Err(e) => return Outcome::Unreachable(e),
        }
    }
    match tokio::time::timeout(ATTEMPT_TIMEOUT, reg.register(uri, Some(expires_s))).await {
        Err(_) => Outcome::Unreachable("no final response".into()),
        Ok(Err(e)) => Outcome::Unreachable(e.to_string()),
        Ok(Ok(resp)) if resp.status_code.kind() == StatusCodeKind::Successful => {
            Outcome::Registered {
                granted_s: reg.granted_expires.unwrap_or(expires_s),
            }
        }
        Ok(Ok(resp)) => Outcome::Rejected {
            status: u16::from(resp.status_code.clone()),
            reason: resp
                .status_code
                .to_string()
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ')
                .to_string(),
            min_expires_s: header_u32(&resp, "Min-Expires"),
            retry_after_s: header_u32(&resp, "Retry-After"),
        },
    }
}

impl crate::ua::SipServer {
    /// Keeps a registration with a trunk's registrar until `stop` is cancelled, then removes
    /// it (REGISTER with `Expires: 0`, at most [`UNREGISTER_TIMEOUT`]) when it held; the
    /// returned task ends after that. `state` is shared with the engine (health, trunk
    /// choice); its clock is [`Instant::now`]. The Contact registered is
    /// `sip:USERNAME@public_ip:port` of the UDP or TCP listener.
    pub fn register_trunk(
        &self,
        settings: RegisterSettings,
        state: Arc<Mutex<Refresher>>,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let endpoint = self.uac.dialog_layer.endpoint.clone();
        let (port, transport) = match (settings.tcp, self.uac.tcp_port) {
            (true, Some(p)) => (p, ";transport=tcp"),
            _ => (self.uac.udp_port, ""),
        };
        let contact_ip = self.uac.contact_ip;
        tokio::spawn(async move {
            let mut reg = Registration::new(
                endpoint,
                Some(Credential {
                    username: settings.username.clone(),
                    password: settings.password.clone(),
                    realm: None,
                    auth_username: settings.auth_username.clone(),
                }),
            );
            let host = match contact_ip {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            };
            let contact = format!(
                "<sip:{}@{host}:{port}{transport}>",
                crate::uac::from_user_part(&settings.username)
            );
            match rsipstack::sip::typed::Contact::parse(&contact) {
                Ok(c) => reg.contact = Some(c),
                Err(e) => {
                    tracing::warn!(%contact, error = %e, "trunk Contact not parsed; rsipstack builds one")
                }
            }
            reg.allow = Some(crate::ua::ALLOW.into());
            run(&mut reg, &settings, &state, &stop).await;
        })
    }
}

fn lock(state: &Mutex<Refresher>) -> std::sync::MutexGuard<'_, Refresher> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// The IO loop: REGISTER when [`Refresher::next_at`] says, feed back the outcome; on `stop`
/// un-REGISTER if the binding holds.
async fn run(
    reg: &mut Registration,
    settings: &RegisterSettings,
    state: &Mutex<Refresher>,
    stop: &CancellationToken,
) {
    loop {
        let due = lock(state).next_at();
        let Some(due) = due else { break };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(due)) => {}
        }
        let expires = lock(state).start_attempt(Instant::now());
        let outcome = tokio::select! {
            _ = stop.cancelled() => {
                lock(state).on_outcome(Instant::now(), Outcome::Unreachable("stopped".into()));
                break;
            }
            o = attempt(reg, settings, expires) => o,
        };
        match &outcome {
            Outcome::Registered { granted_s } => tracing::info!(registrar = %settings.registrar,
                user = %settings.username, granted_s, "trunk registered"),
            other => tracing::warn!(registrar = %settings.registrar, user = %settings.username,
                outcome = ?other, "trunk registration failed"),
        }
        lock(state).on_outcome(Instant::now(), outcome);
    }
    let held = lock(state).is_registered(Instant::now());
    lock(state).stop();
    if held {
        match tokio::time::timeout(UNREGISTER_TIMEOUT, attempt(reg, settings, 0)).await {
            Ok(Outcome::Registered { .. }) => {
                tracing::info!(registrar = %settings.registrar, user = %settings.username, "trunk unregistered")
            }
            Ok(other) => {
                tracing::warn!(registrar = %settings.registrar, outcome = ?other, "un-REGISTER failed")
            }
            Err(_) => tracing::warn!(registrar = %settings.registrar, "un-REGISTER: no answer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn refreshes_at_half_and_at_least_30_s_early() {
        assert_eq!(refresh_after(3600), s(1800));
        assert_eq!(refresh_after(60), s(30));
        assert_eq!(refresh_after(300), s(150));
        assert_eq!(refresh_after(5), Duration::from_millis(2500));
        assert_eq!(refresh_after(1), s(1));
        assert_eq!(refresh_after(0), s(1));
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let got: Vec<u64> = (1..=10).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(got, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }

    #[test]
    fn registers_then_refreshes_before_expiry() {
        let t0 = Instant::now();
        let mut r = Refresher::new(t0, 300);
        assert_eq!(r.status(t0).state, RegState::Registering);
        assert_eq!(r.next_at(), Some(t0));
        assert_eq!(r.start_attempt(t0), 300);
        assert_eq!(r.next_at(), None, "nothing due while in flight");
        assert_eq!(r.status(t0).next_attempt_in_s, Some(0));
        let t1 = t0 + s(1);
        // The registrar grants less than asked: the refresh follows the grant.
        r.on_outcome(t1, Outcome::Registered { granted_s: 120 });
        assert!(r.is_registered(t1));
        assert_eq!(r.next_at(), Some(t1 + s(60)));
        let st = r.status(t1);
        assert_eq!(
            (
                st.state,
                st.expires_in_s,
                st.next_attempt_in_s,
                st.registrations
            ),
            (RegState::Registered, Some(120), Some(60), 1)
        );
        // Refreshed in time: the binding goes on.
        let t2 = t1 + s(60);
        r.start_attempt(t2);
        r.on_outcome(t2, Outcome::Registered { granted_s: 120 });
        assert!(r.is_registered(t1 + s(150)));
        assert_eq!(r.status(t2).registrations, 2);
        // Without a refresh it would end at the granted time.
        assert!(!r.is_registered(t2 + s(120)));
        assert_eq!(r.status(t2 + s(120)).state, RegState::Failed);
    }

    #[test]
    fn failures_back_off_and_keep_the_reason() {
        let t0 = Instant::now();
        let mut r = Refresher::new(t0, 60);
        let reject = |status: u16, reason: &str| Outcome::Rejected {
            status,
            reason: reason.into(),
            min_expires_s: None,
            retry_after_s: None,
        };
        let mut now = t0;
        for (n, pause) in [(1, 2), (2, 4), (3, 8)] {
            r.start_attempt(now);
            r.on_outcome(now, reject(403, "Forbidden"));
            let st = r.status(now);
            assert_eq!(
                (st.state, st.failures, st.last_error.as_deref()),
                (RegState::Failed, n, Some("403 Forbidden"))
            );
            assert_eq!(r.next_at(), Some(now + s(pause)));
            now += s(pause);
        }
        r.start_attempt(now);
        r.on_outcome(now, Outcome::Unreachable("connection refused".into()));
        assert_eq!(
            r.status(now).last_error.as_deref(),
            Some("unreachable: connection refused")
        );
        assert_eq!(r.next_at(), Some(now + s(16)));
        // Success resets the count.
        let later = now + s(16);
        r.start_attempt(later);
        r.on_outcome(later, Outcome::Registered { granted_s: 60 });
        let st = r.status(later);
        assert_eq!(
            (st.state, st.failures, st.last_error),
            (RegState::Registered, 0, None)
        );
    }

    #[test]
    fn a_failed_refresh_retries_before_the_binding_ends() {
        let t0 = Instant::now();
        let mut r = Refresher::new(t0, 20);
        r.start_attempt(t0);
        r.on_outcome(t0, Outcome::Registered { granted_s: 20 });
        let t1 = t0 + s(10);
        r.start_attempt(t1);
        r.on_outcome(t1, Outcome::Unreachable("timeout".into()));
        // Still registered until t0+20; the retry comes within half of what is left.
        assert!(r.is_registered(t1));
        assert_eq!(r.status(t1).state, RegState::Registered);
        assert_eq!(r.next_at(), Some(t1 + s(2)));
        assert_eq!(
            r.status(t1).last_error.as_deref(),
            Some("unreachable: timeout")
        );
    }

    #[test]
    fn interval_too_brief_asks_again_for_the_minimum() {
        let t0 = Instant::now();
        let mut r = Refresher::new(t0, 30);
        r.start_attempt(t0);
        r.on_outcome(
            t0,
            Outcome::Rejected {
                status: 423,
                reason: "Interval Too Brief".into(),
                min_expires_s: Some(600),
                retry_after_s: None,
            },
        );
        assert_eq!(r.next_at(), Some(t0), "at once");
        assert_eq!(r.start_attempt(t0), 600);
        // A 503 with Retry-After is retried after that time.
        r.on_outcome(
            t0,
            Outcome::Rejected {
                status: 503,
                reason: "Service Unavailable".into(),
                min_expires_s: None,
                retry_after_s: Some(30),
            },
        );
        assert_eq!(r.next_at(), Some(t0 + s(30)));
    }

    #[test]
    fn stop_ends_the_binding_and_the_schedule() {
        let t0 = Instant::now();
        let mut r = Refresher::new(t0, 60);
        r.start_attempt(t0);
        r.on_outcome(t0, Outcome::Registered { granted_s: 60 });
        r.stop();
        assert!(!r.is_registered(t0));
        assert_eq!(r.next_at(), None);
        let st = r.status(t0);
        assert_eq!(
            (st.state, st.next_attempt_in_s),
            (RegState::Unregistered, None)
        );
        // A 2xx granting 0 s is no binding.
        let mut r = Refresher::new(t0, 60);
        r.start_attempt(t0);
        r.on_outcome(t0, Outcome::Registered { granted_s: 0 });
        assert_eq!(r.status(t0).state, RegState::Failed);
    }

    #[test]
    fn tcp_registrars_get_the_transport_parameter() {
        let mut s = RegisterSettings {
            registrar: "sip:sip.example.net".into(),
            outbound_proxy: None,
            username: "u".into(),
            auth_username: None,
            password: "secret-pass".into(),
            tcp: true,
        };
        assert_eq!(registrar_uri(&s), "sip:sip.example.net;transport=tcp");
        s.tcp = false;
        assert_eq!(registrar_uri(&s), "sip:sip.example.net");
        assert!(!format!("{s:?}").contains("secret-pass"));
    }
}
