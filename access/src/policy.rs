//! Sans-IO login protection and session lifetime: the clock, the settings, the per-login
//! lockout, the per-IP rate limit and the session expiry rule. Nothing here sleeps or
//! reads the time itself; callers pass `now` from a [`Clock`].

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Where "now" comes from: [`SystemClock`] in the product, [`FakeClock`] in tests.
pub trait Clock: Send + Sync {
    /// The current time (UTC).
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to (tests of lockout and session expiry).
#[derive(Debug)]
pub struct FakeClock(Mutex<DateTime<Utc>>);

impl FakeClock {
    /// A clock standing at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        FakeClock(Mutex::new(at))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `[auth]` settings of `zvonar.toml`; every field has a default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthPolicy {
    /// Failed logins in a row after which the login is locked (default 5).
    pub lockout_failures: u32,
    /// How long a locked login stays locked, minutes (default 15).
    pub lockout_minutes: u32,
    /// Login attempts accepted from one IP address per minute; more answer 429 (default 20).
    pub login_attempts_per_ip_per_minute: u32,
    /// A session unused for this long ends, minutes (default 30).
    pub session_idle_minutes: u32,
    /// A session ends this long after login however busy, hours (default 12: one shift).
    pub session_max_hours: u32,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        AuthPolicy {
            lockout_failures: 5,
            lockout_minutes: 15,
            login_attempts_per_ip_per_minute: 20,
            session_idle_minutes: 30,
            session_max_hours: 12,
        }
    }
}

impl AuthPolicy {
    /// Checks every setting is at least 1. Errors: the first bad setting's name and why.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("lockout_failures", self.lockout_failures),
            ("lockout_minutes", self.lockout_minutes),
            (
                "login_attempts_per_ip_per_minute",
                self.login_attempts_per_ip_per_minute,
            ),
            ("session_idle_minutes", self.session_idle_minutes),
            ("session_max_hours", self.session_max_hours),
        ] {
            if v == 0 {
                return Err(format!("auth.{name} must be at least 1"));
            }
        }
        Ok(())
    }

    /// Whether a session created at `created` and last used at `last_seen` is still valid
    /// at `now`: less than `session_idle_minutes` since its last use and less than
    /// `session_max_hours` since login (OWASP Session Management: idle and absolute
    /// timeouts).
    pub fn session_alive(
        &self,
        created: DateTime<Utc>,
        last_seen: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        now - last_seen < Duration::minutes(self.session_idle_minutes.into())
            && now - created < Duration::hours(self.session_max_hours.into())
    }
}

/// Per-login temporary lockout after repeated failures (OWASP Authentication: account
/// lockout). Keyed by the login as typed, lower-cased, whether or not such a user exists,
/// so the answer does not reveal which logins exist.
#[derive(Debug, Default)]
pub struct Lockout {
    entries: HashMap<String, LockState>,
}

#[derive(Debug, Clone, Copy)]
struct LockState {
    failures: u32,
    last_failure: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

impl Lockout {
    fn key(login: &str) -> String {
        login.trim().to_lowercase()
    }

    /// `Some(until)` while `login` is locked at `now`.
    pub fn locked_until(&self, login: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.entries
            .get(&Self::key(login))
            .and_then(|s| s.locked_until)
            .filter(|until| *until > now)
    }

    /// Counts a failed attempt; the `policy.lockout_failures`-th failure in a row locks the
    /// login for `policy.lockout_minutes`. A failure after a lock expired, or more than
    /// `lockout_minutes` after the previous failure, starts a new count (so the map only
    /// holds logins tried recently). Returns `Some(until)` when this failure locked it.
    pub fn record_failure(
        &mut self,
        login: &str,
        now: DateTime<Utc>,
        policy: &AuthPolicy,
    ) -> Option<DateTime<Utc>> {
        // Forget expired locks so the map holds only logins being tried now.
        let window = Duration::minutes(policy.lockout_minutes.into());
        self.entries.retain(|_, s| match s.locked_until {
            Some(until) => until > now,
            None => now - s.last_failure < window,
        });
        let s = self.entries.entry(Self::key(login)).or_insert(LockState {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        s.failures += 1;
        s.last_failure = now;
        if s.failures >= policy.lockout_failures {
            let until = now + Duration::minutes(policy.lockout_minutes.into());
            s.failures = 0;
            s.locked_until = Some(until);
            return Some(until);
        }
        None
    }

    /// A successful login clears the count.
    pub fn record_success(&mut self, login: &str) {
        self.entries.remove(&Self::key(login));
    }
}

/// Login attempts per client IP in fixed one-minute windows.
#[derive(Debug, Default)]
pub struct RateLimit {
    windows: HashMap<IpAddr, (DateTime<Utc>, u32)>,
}

impl RateLimit {
    /// Counts an attempt from `ip` at `now`. `Err(retry_after_s)` when the IP already made
    /// `policy.login_attempts_per_ip_per_minute` attempts in the current window (the
    /// refused attempt is not counted).
    pub fn check(
        &mut self,
        ip: IpAddr,
        now: DateTime<Utc>,
        policy: &AuthPolicy,
    ) -> Result<(), u64> {
        let window = Duration::minutes(1);
        self.windows.retain(|_, (start, _)| now - *start < window);
        let (start, count) = self.windows.entry(ip).or_insert((now, 0));
        if *count >= policy.login_attempts_per_ip_per_minute {
            let left = (*start + window - now).num_seconds().max(1);
            return Err(left.unsigned_abs());
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-11-29T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn five_failures_lock_for_fifteen_minutes_then_it_expires() {
        let policy = AuthPolicy::default();
        let clock = FakeClock::new(t0());
        let mut l = Lockout::default();
        for _ in 0..4 {
            assert_eq!(l.record_failure("Ivanov", clock.now(), &policy), None);
            assert_eq!(l.locked_until("ivanov", clock.now()), None);
        }
        let until = l.record_failure("ivanov ", clock.now(), &policy).unwrap();
        assert_eq!(until, t0() + Duration::minutes(15));
        clock.advance(Duration::minutes(14) + Duration::seconds(59));
        assert_eq!(l.locked_until("IVANOV", clock.now()), Some(until));
        clock.advance(Duration::seconds(1));
        assert_eq!(l.locked_until("ivanov", clock.now()), None);
        // A fresh count after expiry: one failure does not lock again.
        assert_eq!(l.record_failure("ivanov", clock.now(), &policy), None);
        assert_eq!(l.locked_until("ivanov", clock.now()), None);
    }

    #[test]
    fn failures_far_apart_do_not_add_up() {
        let policy = AuthPolicy::default();
        let clock = FakeClock::new(t0());
        let mut l = Lockout::default();
        for _ in 0..4 {
            assert_eq!(l.record_failure("a", clock.now(), &policy), None);
        }
        clock.advance(Duration::minutes(15));
        assert_eq!(l.record_failure("a", clock.now(), &policy), None);
        assert_eq!(l.locked_until("a", clock.now()), None);
        assert!(l.entries.len() == 1);
    }

    #[test]
    fn success_resets_the_count_and_logins_are_separate() {
        let policy = AuthPolicy {
            lockout_failures: 3,
            ..AuthPolicy::default()
        };
        let now = t0();
        let mut l = Lockout::default();
        l.record_failure("a", now, &policy);
        l.record_failure("a", now, &policy);
        l.record_success("a");
        l.record_failure("a", now, &policy);
        l.record_failure("b", now, &policy);
        l.record_failure("a", now, &policy);
        assert_eq!(l.locked_until("a", now), None);
        assert!(l.record_failure("a", now, &policy).is_some());
        assert_eq!(l.locked_until("b", now), None);
    }

    #[test]
    fn rate_limit_per_ip_per_minute() {
        let policy = AuthPolicy {
            login_attempts_per_ip_per_minute: 3,
            ..AuthPolicy::default()
        };
        let clock = FakeClock::new(t0());
        let mut r = RateLimit::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            r.check(a, clock.now(), &policy).unwrap();
        }
        clock.advance(Duration::seconds(20));
        assert_eq!(r.check(a, clock.now(), &policy), Err(40));
        r.check(b, clock.now(), &policy).unwrap();
        clock.advance(Duration::seconds(40));
        r.check(a, clock.now(), &policy).unwrap();
    }

    #[test]
    fn session_idle_and_absolute_expiry() {
        let p = AuthPolicy::default();
        let created = t0();
        // Idle: 29:59 after the last use is alive, 30:00 is not.
        assert!(p.session_alive(created, created, created + Duration::seconds(30 * 60 - 1)));
        assert!(!p.session_alive(created, created, created + Duration::minutes(30)));
        // Absolute: busy all along, but 12 h after login it ends.
        let late = created + Duration::hours(12);
        assert!(p.session_alive(
            created,
            late - Duration::minutes(1),
            late - Duration::seconds(1)
        ));
        assert!(!p.session_alive(created, late - Duration::minutes(1), late));
    }

    #[test]
    fn zero_settings_are_refused() {
        assert!(AuthPolicy::default().validate().is_ok());
        let p = AuthPolicy {
            lockout_minutes: 0,
            ..AuthPolicy::default()
        };
        assert!(p.validate().unwrap_err().contains("auth.lockout_minutes"));
    }
}
