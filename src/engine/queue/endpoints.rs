//! Agents' desk phones and softphones as queue endpoints: an agent's SIP account
//! (`sip_accounts.user_login`, set with `zvonar sip-account add NAME --user LOGIN`) and its
//! live registration (the registrar's binding) make the agent's endpoint. A watcher compares
//! the bindings with the machine's endpoints every [`WATCH_EVERY`]: a binding that lapsed or
//! was removed is an `EndpointLost`; a new binding (another contact) replaces the old endpoint;
//! a binding that comes back while the agent is disconnected logs the agent in again with the
//! state and pause reason kept.

use super::{AgentOp, AgentSnapshot, QueueHandle};
use sqlx::SqlitePool;
use std::time::Duration;
use zvonar_acd::{AgentId, EndpointId, StateKind};
use zvonar_sip::registrar::bindings::Binding;
use zvonar_sip::ua::SharedRegistrar;

/// How often registrations are compared with the agents' endpoints.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

/// The endpoint id of a SIP binding: `sip/<account>/<contact URI>`.
pub fn endpoint_id(account: &str, contact: &str) -> EndpointId {
    EndpointId(format!("sip/{account}/{contact}"))
}

/// The SIP account and contact URI of an endpoint made by [`endpoint_id`].
pub fn parse_endpoint(e: &EndpointId) -> Option<(&str, &str)> {
    e.0.strip_prefix("sip/")?.split_once('/')
}

/// The binding an agent is reached on: the most recently refreshed one of the account.
pub fn newest(bindings: &[Binding]) -> Option<&Binding> {
    bindings.iter().max_by_key(|b| (b.expires_at, b.cseq))
}

/// What the watcher does for one agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The endpoint's binding is gone.
    Lost(EndpointId),
    /// Another binding reaches the agent now: log in on it (replaces the old endpoint, or ends
    /// a disconnection within its grace).
    Login(EndpointId),
}

/// The change for an agent whose machine state is `agent` given the account's newest binding
/// now (`current`); `account` is the agent's SIP account (known from the endpoint, or from
/// the database while disconnected).
pub fn decide(agent: &AgentSnapshot, account: &str, current: Option<&Binding>) -> Option<Change> {
    let now = current.map(|b| endpoint_id(account, &b.uri));
    match (agent.state, agent.endpoint.as_deref(), now) {
        (StateKind::LoggedOut, _, _) => None,
        (StateKind::Disconnected, _, Some(e)) => Some(Change::Login(e)),
        (StateKind::Disconnected, _, None) => None,
        (_, Some(old), None) if old.starts_with("sip/") => {
            Some(Change::Lost(EndpointId(old.to_string())))
        }
        (_, Some(old), Some(e)) if old.starts_with("sip/") && old != e.0 => Some(Change::Login(e)),
        _ => None,
    }
}

/// Registrations and SIP accounts, for the API's agent login and the watcher.
#[derive(Clone)]
pub struct Registrations {
    pool: SqlitePool,
    registrar: Option<SharedRegistrar>,
}

impl Registrations {
    /// Over the main database and the running registrar (`None`: no `[sip.registrar]`).
    pub fn new(pool: SqlitePool, registrar: Option<SharedRegistrar>) -> Self {
        Registrations { pool, registrar }
    }

    /// The main database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The SIP accounts bound to the access user `login`.
    pub async fn accounts_of(&self, login: &str) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT username FROM sip_accounts WHERE user_login = ? ORDER BY username",
        )
        .bind(login)
        .fetch_all(&self.pool)
        .await
    }

    /// The newest live binding of `account` now.
    pub fn binding(&self, account: &str) -> Option<Binding> {
        let reg = self.registrar.as_ref()?;
        let now = super::now_ms() / 1000;
        let mut r = reg.lock().ok()?;
        newest(&r.bindings(account, now)).cloned()
    }

    /// The endpoint reaching `login` now: the newest binding among the user's SIP accounts.
    pub async fn endpoint_of(&self, login: &str) -> sqlx::Result<Option<EndpointId>> {
        let mut best: Option<(Binding, String)> = None;
        for account in self.accounts_of(login).await? {
            if let Some(b) = self.binding(&account) {
                if best
                    .as_ref()
                    .is_none_or(|(o, _)| (b.expires_at, b.cseq) > (o.expires_at, o.cseq))
                {
                    best = Some((b, account));
                }
            }
        }
        Ok(best.map(|(b, a)| endpoint_id(&a, &b.uri)))
    }
}

/// Watches the registrations for as long as the runtime runs.
pub async fn watch(handle: QueueHandle, regs: Registrations) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(state) = handle.state().await else {
            return;
        };
        for agent in state.agents {
            let account = match agent.endpoint.as_ref().and_then(|e| {
                let e = EndpointId(e.clone());
                parse_endpoint(&e).map(|(a, _)| a.to_string())
            }) {
                Some(a) => a,
                None if agent.state == StateKind::Disconnected => {
                    match regs.accounts_of(&agent.login).await {
                        Ok(list) => match list.into_iter().find(|a| regs.binding(a).is_some()) {
                            Some(a) => a,
                            None => continue,
                        },
                        Err(e) => {
                            tracing::error!(error = %e, "SIP accounts not read");
                            continue;
                        }
                    }
                }
                None => continue,
            };
            let current = regs.binding(&account);
            match decide(&agent, &account, current.as_ref()) {
                Some(Change::Lost(endpoint)) => {
                    tracing::info!(agent = %agent.login, %endpoint, "agent's phone registration gone");
                    handle.endpoint_lost(AgentId(agent.login.clone()), endpoint);
                }
                Some(Change::Login(endpoint)) => {
                    tracing::info!(agent = %agent.login, %endpoint, "agent's phone registered anew");
                    let _ = handle
                        .agent(&agent.login, AgentOp::Reregister { endpoint })
                        .await;
                }
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(uri: &str, expires_at: u64) -> Binding {
        Binding {
            uri: uri.into(),
            instance: None,
            call_id: "c".into(),
            cseq: 1,
            expires_at,
            source: None,
            transport: "udp",
        }
    }

    fn agent(state: StateKind, endpoint: Option<&str>) -> AgentSnapshot {
        AgentSnapshot {
            login: "anna".into(),
            state,
            pause_reason: None,
            endpoint: endpoint.map(str::to_string),
            call: None,
            since_ms: None,
        }
    }

    #[test]
    fn endpoint_ids_round_trip() {
        let e = endpoint_id("101", "sip:101@10.0.0.5:5060;transport=udp");
        assert_eq!(
            parse_endpoint(&e),
            Some(("101", "sip:101@10.0.0.5:5060;transport=udp"))
        );
        assert_eq!(parse_endpoint(&EndpointId("ws/tab-1".into())), None);
    }

    #[test]
    fn lapsed_new_and_returning_registrations() {
        let old = endpoint_id("101", "sip:101@a");
        let b_old = binding("sip:101@a", 100);
        let b_new = binding("sip:101@b", 200);
        let avail = agent(StateKind::Available, Some(&old.0));
        // Still registered on the same contact: nothing.
        assert_eq!(decide(&avail, "101", Some(&b_old)), None);
        // Gone: lost.
        assert_eq!(decide(&avail, "101", None), Some(Change::Lost(old.clone())));
        // Another contact now: it replaces the old endpoint.
        assert_eq!(
            decide(&avail, "101", Some(&b_new)),
            Some(Change::Login(endpoint_id("101", "sip:101@b")))
        );
        // Disconnected, and the phone registers again: logged in with state kept.
        let gone = agent(StateKind::Disconnected, None);
        assert_eq!(
            decide(&gone, "101", Some(&b_old)),
            Some(Change::Login(old.clone()))
        );
        assert_eq!(decide(&gone, "101", None), None);
        // Logged out agents are not logged in by a registration; browser endpoints are not
        // the registrar's business.
        assert_eq!(
            decide(&agent(StateKind::LoggedOut, None), "101", Some(&b_old)),
            None
        );
        assert_eq!(
            decide(&agent(StateKind::Available, Some("ws/tab")), "101", None),
            None
        );
        assert_eq!(newest(&[b_old.clone(), b_new.clone()]), Some(&b_new));
    }
}
