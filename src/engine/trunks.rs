//! SIP trunks in the engine: each trunk's registration ([`zvonar_sip::trunk::Refresher`],
//! kept by [`zvonar_sip::ua::SipServer::register_trunk`]), the calls it carries, and the
//! choice of a trunk for an outgoing call ([`Trunks::acquire`]).
//!
//! A trunk is *usable* when it does not register (`register = false`) or its registration
//! holds. An outgoing call takes the usable trunk with the lowest `priority` (file order
//! among equals) that has a free channel; the [`ChannelGuard`] it gets holds that channel
//! until the leg ends, so a trunk never carries more than `channels` calls. When the trunk
//! answers 503 or 408 or cannot be reached, the call goes to the next trunk not yet tried
//! ([`super::dial`]).

use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use zvonar_sip::trunk::{Refresher, RegState, RegisterSettings};
use zvonar_sip::uac::DigestCredential;

/// One trunk's settings, as the engine uses them (from `[[trunk]]`).
#[derive(Clone)]
pub struct TrunkDef {
    /// Name, for logs and `/health`.
    pub name: String,
    /// Lower is tried first.
    pub priority: u32,
    /// Calls at once; `None` for no limit.
    pub channels: Option<u32>,
    /// Whether it registers (else always usable).
    pub register: bool,
    /// The registrar/proxy URI (`sip:host[:port]`).
    pub registrar: String,
    /// `host[:port]` of the registrar: numbers are dialled as `sip:NUMBER@host[:port]`.
    pub host: String,
    /// Where requests go instead of `host` (host, port).
    pub outbound_proxy: Option<(String, u16)>,
    /// Account user.
    pub username: String,
    /// Digest user, when it differs.
    pub auth_username: Option<String>,
    /// Password.
    pub password: String,
    /// The number presented on outgoing calls (From, P-Asserted-Identity).
    pub caller_id: String,
    /// Over TCP.
    pub tcp: bool,
    /// Registration lifetime asked for, s.
    pub expires_s: u32,
}

impl std::fmt::Debug for TrunkDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrunkDef")
            .field("name", &self.name)
            .field("priority", &self.priority)
            .field("channels", &self.channels)
            .field("host", &self.host)
            .finish()
    }
}

impl TrunkDef {
    /// The digest credentials for INVITEs the trunk challenges.
    pub fn credential(&self) -> DigestCredential {
        DigestCredential {
            username: self.username.clone(),
            password: self.password.clone(),
            realm: None,
            auth_username: self.auth_username.clone(),
        }
    }

    /// The registrar's host without its port (`sip.example.net`, `[2001:db8::1]`): the
    /// domain of our From and P-Asserted-Identity.
    pub fn domain(&self) -> &str {
        match self.host.strip_prefix('[') {
            Some(rest) => rest
                .find(']')
                .map_or(self.host.as_str(), |i| &self.host[..i + 2]),
            None => self.host.split(':').next().unwrap_or(&self.host),
        }
    }

    /// The Request-URI for `number` at this trunk.
    pub fn uri_for(&self, number: &str) -> String {
        let t = if self.tcp { ";transport=tcp" } else { "" };
        format!("sip:{number}@{}{t}", self.host)
    }
}

/// What [`choose`] needs to know of one trunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Lower is tried first.
    pub priority: u32,
    /// Registered, or not registering at all.
    pub usable: bool,
    /// Calls it carries now.
    pub active: u32,
    /// Its channel limit.
    pub limit: Option<u32>,
}

/// Why no trunk was chosen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoTrunk {
    /// No `[[trunk]]` is configured.
    #[error("no trunk is configured ([[trunk]] in zvonar.toml)")]
    NoneConfigured,
    /// Every trunk not yet tried is unregistered.
    #[error("no trunk is registered")]
    NoneRegistered,
    /// The registered trunks not yet tried carry as many calls as they may.
    #[error("every registered trunk is at its channel limit")]
    AllBusy,
    /// Every trunk was tried for this call.
    #[error("every trunk was tried")]
    AllTried,
}

/// The trunk for the next attempt of a call: among those not in `tried`, usable and below
/// their channel limit, the lowest priority, the first in the list among equals.
///
/// Errors: why none fits ([`NoTrunk`]).
pub fn choose(trunks: &[Candidate], tried: &[usize]) -> Result<usize, NoTrunk> {
    if trunks.is_empty() {
        return Err(NoTrunk::NoneConfigured);
    }
    let left: Vec<(usize, &Candidate)> = trunks
        .iter()
        .enumerate()
        .filter(|(i, _)| !tried.contains(i))
        .collect();
    if left.is_empty() {
        return Err(NoTrunk::AllTried);
    }
    let usable: Vec<&(usize, &Candidate)> = left.iter().filter(|(_, c)| c.usable).collect();
    if usable.is_empty() {
        return Err(NoTrunk::NoneRegistered);
    }
    usable
        .iter()
        .filter(|(_, c)| c.limit.is_none_or(|l| c.active < l))
        .min_by_key(|(i, c)| (c.priority, *i))
        .map(|(i, _)| *i)
        .ok_or(NoTrunk::AllBusy)
}

/// Every configured trunk with its registration state and calls in progress.
pub struct Trunks {
    defs: Vec<TrunkDef>,
    regs: Vec<Arc<Mutex<Refresher>>>,
    active: Arc<Mutex<Vec<u32>>>,
}

/// One channel of a trunk, held for a call's leg; dropping it frees the channel.
#[derive(Debug)]
pub struct ChannelGuard {
    active: Arc<Mutex<Vec<u32>>>,
    index: usize,
}

impl ChannelGuard {
    /// The trunk's index in [`Trunks`].
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Drop for ChannelGuard {
    fn drop(&mut self) {
        let mut a = self.active.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = a.get_mut(self.index) {
            *n = n.saturating_sub(1);
        }
    }
}

/// A trunk's state, for `/health`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TrunkStatus {
    /// Name.
    pub name: String,
    /// `registered`, `registering`, `failed`, `unregistered`, or `static` (does not register).
    pub state: &'static str,
    /// Why the last REGISTER failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Seconds until the registration expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_s: Option<u64>,
    /// Seconds until the next REGISTER.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_in_s: Option<u64>,
    /// Successful REGISTERs so far.
    pub registrations: u64,
    /// Calls it carries now.
    pub channels_active: u32,
    /// Its channel limit (`null`: none).
    pub channels: Option<u32>,
    /// Its priority.
    pub priority: u32,
}

impl Default for Trunks {
    fn default() -> Self {
        Trunks::new(Vec::new(), Instant::now())
    }
}

impl Trunks {
    /// The trunks of `defs`; registrations are due from `now`.
    pub fn new(defs: Vec<TrunkDef>, now: Instant) -> Trunks {
        let regs = defs
            .iter()
            .map(|d| Arc::new(Mutex::new(Refresher::new(now, d.expires_s))))
            .collect();
        let active = Arc::new(Mutex::new(vec![0; defs.len()]));
        Trunks { defs, regs, active }
    }

    /// Whether no trunk is configured.
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// Trunk `i`'s settings.
    pub fn def(&self, i: usize) -> &TrunkDef {
        &self.defs[i]
    }

    /// Trunk `i`'s registration state (shared with its registration task); tests set it.
    #[cfg(test)]
    pub fn registration(&self, i: usize) -> &Arc<Mutex<Refresher>> {
        &self.regs[i]
    }

    fn usable(&self, i: usize, now: Instant) -> bool {
        !self.defs[i].register
            || self.regs[i]
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_registered(now)
    }

    /// Takes a channel of the trunk [`choose`] picks at `now` among those not in `tried`.
    /// The check and the count are one step under a lock, so concurrent calls never take
    /// more channels than a trunk has.
    ///
    /// Errors: [`NoTrunk`].
    pub fn acquire(&self, now: Instant, tried: &[usize]) -> Result<ChannelGuard, NoTrunk> {
        let usable: Vec<bool> = (0..self.defs.len()).map(|i| self.usable(i, now)).collect();
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let cands: Vec<Candidate> = self
            .defs
            .iter()
            .zip(usable)
            .zip(active.iter())
            .map(|((d, usable), a)| Candidate {
                priority: d.priority,
                usable,
                active: *a,
                limit: d.channels,
            })
            .collect();
        let i = choose(&cands, tried)?;
        active[i] += 1;
        Ok(ChannelGuard {
            active: self.active.clone(),
            index: i,
        })
    }

    /// Calls trunk `i` carries now.
    pub fn active(&self, i: usize) -> u32 {
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(i)
            .copied()
            .unwrap_or(0)
    }

    /// Every trunk's state at `now`, in file order.
    pub fn status(&self, now: Instant) -> Vec<TrunkStatus> {
        (0..self.defs.len())
            .map(|i| {
                let d = &self.defs[i];
                let r = self.regs[i]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .status(now);
                let (state, r) = if d.register {
                    (r.state.code(), Some(r))
                } else {
                    ("static", None)
                };
                TrunkStatus {
                    name: d.name.clone(),
                    state,
                    last_error: r.as_ref().and_then(|r| r.last_error.clone()),
                    expires_in_s: r.as_ref().and_then(|r| r.expires_in_s),
                    next_attempt_in_s: r.as_ref().and_then(|r| r.next_attempt_in_s),
                    registrations: r.as_ref().map_or(0, |r| r.registrations),
                    channels_active: self.active(i),
                    channels: d.channels,
                    priority: d.priority,
                }
            })
            .collect()
    }

    /// Whether every trunk that registers has failed (`/health` reports the trunks down);
    /// false while any is registered, still registering, or does not register.
    pub fn all_failed(&self, now: Instant) -> bool {
        !self.is_empty()
            && (0..self.defs.len()).all(|i| {
                self.defs[i].register
                    && self.regs[i]
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .status(now)
                        .state
                        == RegState::Failed
            })
    }

    /// Starts the registration of every trunk that registers, over `sip`, until `stop` is
    /// cancelled (then each un-REGISTERs); the tasks end after that.
    pub fn start_registrations(
        &self,
        sip: &zvonar_sip::ua::SipServer,
        stop: &CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        self.defs
            .iter()
            .zip(&self.regs)
            .filter(|(d, _)| d.register)
            .map(|(d, r)| {
                sip.register_trunk(
                    RegisterSettings {
                        registrar: d.registrar.clone(),
                        outbound_proxy: d.outbound_proxy.clone(),
                        username: d.username.clone(),
                        auth_username: d.auth_username.clone(),
                        password: d.password.clone(),
                        tcp: d.tcp,
                    },
                    r.clone(),
                    stop.clone(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use zvonar_sip::trunk::Outcome;

    fn c(priority: u32, usable: bool, active: u32, limit: Option<u32>) -> Candidate {
        Candidate {
            priority,
            usable,
            active,
            limit,
        }
    }

    #[test]
    fn the_lowest_priority_usable_trunk_with_a_free_channel_wins() {
        let t = [
            c(2, true, 0, None),
            c(1, true, 0, Some(1)),
            c(1, true, 0, None),
        ];
        assert_eq!(choose(&t, &[]), Ok(1), "priority 1, first in the file");
        assert_eq!(
            choose(&t, &[1]),
            Ok(2),
            "failover to the next of priority 1"
        );
        assert_eq!(choose(&t, &[1, 2]), Ok(0));
        assert_eq!(choose(&t, &[0, 1, 2]), Err(NoTrunk::AllTried));
        let full = [c(1, true, 1, Some(1)), c(2, true, 3, Some(3))];
        assert_eq!(choose(&full, &[]), Err(NoTrunk::AllBusy));
        let down = [c(1, false, 0, None), c(2, true, 0, None)];
        assert_eq!(
            choose(&down, &[]),
            Ok(1),
            "an unregistered trunk is skipped"
        );
        assert_eq!(choose(&down, &[1]), Err(NoTrunk::NoneRegistered));
        assert_eq!(choose(&[], &[]), Err(NoTrunk::NoneConfigured));
    }

    fn def(name: &str, priority: u32, channels: Option<u32>, register: bool) -> TrunkDef {
        TrunkDef {
            name: name.into(),
            priority,
            channels,
            register,
            registrar: "sip:192.0.2.1".into(),
            host: "192.0.2.1".into(),
            outbound_proxy: None,
            username: "u".into(),
            auth_username: None,
            password: "p".into(),
            caller_id: "74950001122".into(),
            tcp: false,
            expires_s: 60,
        }
    }

    #[test]
    fn channels_are_never_taken_beyond_the_limit() {
        let t0 = Instant::now();
        let trunks = Trunks::new(
            vec![def("a", 1, Some(2), true), def("b", 2, Some(1), false)],
            t0,
        );
        // "a" is not registered yet: calls go to "b", which does not register.
        let g_b = trunks.acquire(t0, &[]).expect("b");
        assert_eq!(g_b.index(), 1);
        assert_eq!(trunks.acquire(t0, &[]).unwrap_err(), NoTrunk::AllBusy);
        // "a" registers (the fake clock moves, nothing sleeps).
        let t1 = t0 + Duration::from_millis(300);
        {
            let mut r = trunks.registration(0).lock().unwrap();
            r.start_attempt(t0);
            r.on_outcome(t1, Outcome::Registered { granted_s: 60 });
        }
        let g1 = trunks.acquire(t1, &[]).expect("a");
        let g2 = trunks.acquire(t1, &[]).expect("a again");
        assert_eq!((g1.index(), g2.index(), trunks.active(0)), (0, 0, 2));
        // Both trunks full: refused, and the counts did not move.
        assert_eq!(trunks.acquire(t1, &[]).unwrap_err(), NoTrunk::AllBusy);
        assert_eq!((trunks.active(0), trunks.active(1)), (2, 1));
        // A leg ends: its channel is free again, and only one.
        drop(g1);
        let g3 = trunks.acquire(t1, &[]).expect("a's freed channel");
        assert_eq!(g3.index(), 0);
        assert_eq!(trunks.acquire(t1, &[]).unwrap_err(), NoTrunk::AllBusy);
        // The registration lapses: "a" is not chosen, even with a free channel.
        drop((g2, g3, g_b));
        let t2 = t1 + Duration::from_secs(61);
        assert_eq!(trunks.acquire(t2, &[]).expect("b").index(), 1);
        let st = trunks.status(t2);
        assert_eq!(
            (st[0].state, st[1].state, st[0].registrations),
            ("failed", "static", 1)
        );
    }

    #[test]
    fn many_threads_never_exceed_the_limit() {
        let t0 = Instant::now();
        let trunks = Arc::new(Trunks::new(vec![def("a", 1, Some(3), false)], t0));
        let peak = Arc::new(Mutex::new(0u32));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (trunks, peak) = (trunks.clone(), peak.clone());
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        if let Ok(g) = trunks.acquire(t0, &[]) {
                            let n = trunks.active(0);
                            let mut p = peak.lock().unwrap();
                            *p = (*p).max(n);
                            drop(p);
                            drop(g);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(*peak.lock().unwrap() <= 3);
        assert_eq!(trunks.active(0), 0);
    }

    #[test]
    fn trunks_are_down_only_when_every_registering_one_failed() {
        let t0 = Instant::now();
        let trunks = Trunks::new(vec![def("a", 1, None, true), def("b", 1, None, true)], t0);
        assert!(!trunks.all_failed(t0), "still registering");
        for i in 0..2 {
            let mut r = trunks.registration(i).lock().unwrap();
            r.start_attempt(t0);
            r.on_outcome(t0, Outcome::Unreachable("refused".into()));
        }
        assert!(trunks.all_failed(t0));
        let st = trunks.status(t0);
        assert_eq!(st[0].last_error.as_deref(), Some("unreachable: refused"));
        assert_eq!(st[0].next_attempt_in_s, Some(2));
        let with_static = Trunks::new(vec![def("s", 1, None, false)], t0);
        assert!(!with_static.all_failed(t0));
        assert!(!Trunks::default().all_failed(t0));
    }

    #[test]
    fn numbers_are_dialled_at_the_trunk_host() {
        let mut d = def("a", 1, None, true);
        assert_eq!(d.uri_for("+74951112233"), "sip:+74951112233@192.0.2.1");
        d.tcp = true;
        assert_eq!(
            d.uri_for("84951112233"),
            "sip:84951112233@192.0.2.1;transport=tcp"
        );
        assert!(!format!("{d:?}").contains("\"p\""));
        assert_eq!(d.domain(), "192.0.2.1");
        d.host = "sip.example.net:5070".into();
        assert_eq!(d.domain(), "sip.example.net");
        d.host = "[2001:db8::1]:5070".into();
        assert_eq!(d.domain(), "[2001:db8::1]");
    }
}
