//! The ACD state machine: [`Acd`].

use crate::types::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// First estimate of a queue's handle time (talk + wrap-up) before any call completes, ms, on
/// top of the queue's wrap-up: a housing-company call lasts about two and a half minutes.
pub const INITIAL_TALK_MS: Millis = 150_000;

/// Why an input was refused. Nothing changes when an input is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcdError {
    /// A call for a queue that is not declared.
    #[error("queue {0:?} is not declared in the dialplan")]
    UnknownQueue(QueueId),
    /// A call id that is already in a queue.
    #[error("call {0} is already queued")]
    DuplicateCall(CallId),
    /// An agent who never logged in.
    #[error("agent {0} is not known (never logged in)")]
    UnknownAgent(AgentId),
    /// Pause or resume of an agent who is logged out.
    #[error("agent {0} is logged out")]
    NotLoggedIn(AgentId),
    /// A pause without a reason.
    #[error("a pause needs a reason")]
    EmptyPauseReason,
    /// A transfer of a call no agent is talking to.
    #[error("call {0} is not connected to an agent")]
    NotConnected(CallId),
}

/// What an agent who logged out while connected or paused comes back to (see
/// [`Input::AgentLogin`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Resume {
    Available,
    Paused {
        reason: String,
    },
    WrapUp {
        call: CallId,
        queue: QueueId,
        since: Millis,
        until: Millis,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum AgentState {
    LoggedOut,
    Available,
    Ringing {
        call: CallId,
    },
    OnCall {
        call: CallId,
        since: Millis,
    },
    /// On a call the agent placed ([`Input::OwnCallStarted`]); shown as
    /// [`StateKind::OnCall`]. `call` is one of [`Agent::own_calls`].
    OwnCall {
        call: CallId,
        since: Millis,
    },
    WrapUp {
        call: CallId,
        queue: QueueId,
        since: Millis,
        until: Millis,
    },
    Paused {
        reason: String,
    },
    Disconnected {
        resume: Resume,
        until: Millis,
    },
}

impl AgentState {
    fn kind(&self) -> StateKind {
        match self {
            AgentState::LoggedOut => StateKind::LoggedOut,
            AgentState::Available => StateKind::Available,
            AgentState::Ringing { .. } => StateKind::Ringing,
            AgentState::OnCall { .. } | AgentState::OwnCall { .. } => StateKind::OnCall,
            AgentState::WrapUp { .. } => StateKind::WrapUp,
            AgentState::Paused { .. } => StateKind::Paused,
            AgentState::Disconnected { .. } => StateKind::Disconnected,
        }
    }
}

/// Taking calls now or soon: available, ringing, on a call (a queue's or the agent's own), in
/// wrap-up.
fn working(state: &AgentState) -> bool {
    matches!(
        state,
        AgentState::Available
            | AgentState::Ringing { .. }
            | AgentState::OnCall { .. }
            | AgentState::OwnCall { .. }
            | AgentState::WrapUp { .. }
    )
}

/// What an agent asked for while busy: applied when the call and wrap-up are over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum After {
    Pause(String),
    Logout,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Agent {
    endpoint: Option<EndpointId>,
    skills: Vec<String>,
    state: AgentState,
    /// Since when the agent has been ready (login, resume, end of wrap-up), ms.
    idle_since: Millis,
    /// Since when the agent has been in the current [`StateKind`], ms (the monitor's time in
    /// state; 0 in a state stored by a version without it).
    #[serde(default)]
    state_since: Millis,
    after: Option<After>,
    /// Calls the agent placed that are still going ([`Input::OwnCallStarted`]): while any
    /// is, the agent is offered nothing, whatever the state says (a queue call's wrap-up
    /// ending during one leads to [`AgentState::OwnCall`], not to available).
    #[serde(default)]
    own_calls: BTreeSet<CallId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum CallState {
    Waiting {
        /// Agents being rung now, with the endpoint rung.
        offered: BTreeMap<AgentId, EndpointId>,
        /// When the current offer rings out.
        ring_until: Option<Millis>,
        /// Agents who declined this call: not offered it again.
        declined: BTreeSet<AgentId>,
    },
    Connected {
        agent: AgentId,
        since: Millis,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Call {
    queue: QueueId,
    emergency: bool,
    topic: Option<String>,
    arrived: Millis,
    /// Arrival order; a re-queued call keeps it, so it returns to its original place.
    seq: u64,
    state: CallState,
    next_announce: Option<Millis>,
    last_position: Option<u32>,
}

impl Call {
    /// Queue order: emergencies first, then arrival.
    fn key(&self) -> (bool, u64) {
        (!self.emergency, self.seq)
    }

    fn waiting(&self) -> bool {
        matches!(self.state, CallState::Waiting { .. })
    }

    fn ringing(&self) -> bool {
        matches!(&self.state, CallState::Waiting { offered, .. } if !offered.is_empty())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Queue {
    config: QueueConfig,
    /// Round-robin: the member offered last.
    rr_last: Option<AgentId>,
    /// Smoothed handle time (talk + wrap-up), ms.
    aht_ms: Millis,
}

/// A read-only view of an agent, for the monitor and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentView {
    /// The state.
    pub state: StateKind,
    /// The pause reason while paused (also while disconnected from a pause).
    pub pause_reason: Option<String>,
    /// The endpoint reaching the agent now.
    pub endpoint: Option<EndpointId>,
    /// The call being offered or talked to: a queued call, or the agent's own call
    /// ([`Input::OwnCallStarted`]) while the state is [`StateKind::OnCall`] for it.
    pub call: Option<CallId>,
    /// Since when the agent has been in `state`, ms (a change of pause reason does not reset
    /// it; 0 when unknown, for a state restored from a version that did not keep it).
    pub since: Millis,
}

/// A read-only view of a call in the machine, for the monitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallView {
    /// The call.
    pub call: CallId,
    /// Its queue.
    pub queue: QueueId,
    /// An emergency call.
    pub emergency: bool,
    /// When it entered the queue, ms (a re-queued call keeps it).
    pub arrived: Millis,
    /// 1-based position while waiting (ringing included); `None` once connected.
    pub position: Option<u32>,
    /// Agents being rung for it now.
    pub ringing: Vec<AgentId>,
    /// The agent talking to it.
    pub agent: Option<AgentId>,
}

/// The queues of one zvonar instance and their agents: a sans-IO state machine.
///
/// Drive it one event at a time with [`Acd::handle`] (and [`Acd::handle_timeout`] at
/// [`Acd::poll_timeout`]), then drain [`Acd::poll_command`] and [`Acd::poll_record`]. It
/// serialises with serde (`serde_json::to_string(&acd)`) so agents' states and pause reasons
/// survive a restart; see the crate docs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acd {
    settings: AcdSettings,
    queues: BTreeMap<QueueId, Queue>,
    agents: BTreeMap<AgentId, Agent>,
    calls: BTreeMap<CallId, Call>,
    next_seq: u64,
    now: Millis,
    commands: VecDeque<Command>,
    records: VecDeque<Record>,
}

impl Acd {
    /// A machine for these queues, no agents, no calls; time starts at 0.
    pub fn new(queues: Vec<QueueConfig>, settings: AcdSettings) -> Self {
        let queues = queues
            .into_iter()
            .map(|config| {
                let aht_ms = INITIAL_TALK_MS + Millis::from(config.wrap_up_s) * 1000;
                (
                    config.id.clone(),
                    Queue {
                        config,
                        rr_last: None,
                        aht_ms,
                    },
                )
            })
            .collect();
        Acd {
            settings,
            queues,
            agents: BTreeMap::new(),
            calls: BTreeMap::new(),
            next_seq: 0,
            now: 0,
            commands: VecDeque::new(),
            records: VecDeque::new(),
        }
    }

    /// Applies one input that happened at `now` (ms). Timers due at or before `now` fire
    /// first, each at its own deadline; a `now` earlier than the last one is taken as the last
    /// one (time never goes backwards).
    ///
    /// Errors: [`AcdError`] for an input that makes no sense (unknown queue or agent, a call id
    /// queued twice, a pause of a logged-out agent); nothing changes then except timers due.
    /// Late events of a race (an answer after another agent's, a second hang-up, the old tab's
    /// endpoint closing after a refresh) are not errors: they are answered with commands or
    /// ignored.
    pub fn handle(&mut self, now: Millis, input: Input) -> Result<(), AcdError> {
        self.advance(now);
        let now = self.now;
        self.apply(now, input)?;
        self.dispatch(now);
        self.advance(now);
        Ok(())
    }

    /// Fires the timers due at or before `now` (ring timeouts, wrap-up ends, reconnect grace,
    /// maximum waits, announcements), in deadline order.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.advance(now);
    }

    /// The next deadline, ms: call [`Acd::handle_timeout`] then. `None` when nothing waits.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let calls = self.calls.values().flat_map(|c| {
            let mut v: [Option<Millis>; 3] = [None; 3];
            if let CallState::Waiting { ring_until, .. } = &c.state {
                v[0] = *ring_until;
                v[1] = self
                    .queues
                    .get(&c.queue)
                    .map(|q| c.arrived + Millis::from(q.config.max_wait_s) * 1000);
                v[2] = c.next_announce;
            }
            v.into_iter().flatten()
        });
        let agents = self.agents.values().filter_map(|a| match &a.state {
            AgentState::WrapUp { until, .. } | AgentState::Disconnected { until, .. } => {
                Some(*until)
            }
            _ => None,
        });
        calls.chain(agents).min()
    }

    /// The next command for the engine, in the order they were decided.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The next queue-log record (for the KPIs and the monitor).
    pub fn poll_record(&mut self) -> Option<Record> {
        self.records.pop_front()
    }

    /// The time of the last input or timeout, ms.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// An agent's state; `None` for an agent never seen.
    pub fn agent(&self, agent: &AgentId) -> Option<AgentView> {
        let a = self.agents.get(agent)?;
        let pause_reason = match &a.state {
            AgentState::Paused { reason }
            | AgentState::Disconnected {
                resume: Resume::Paused { reason },
                ..
            } => Some(reason.clone()),
            _ => None,
        };
        let call = match &a.state {
            AgentState::Ringing { call }
            | AgentState::OnCall { call, .. }
            | AgentState::OwnCall { call, .. } => Some(call.clone()),
            _ => None,
        };
        Some(AgentView {
            state: a.state.kind(),
            pause_reason,
            endpoint: a.endpoint.clone(),
            call,
            since: a.state_since,
        })
    }

    /// The calls waiting in a queue (ringing ones included), in queue order.
    pub fn waiting(&self, queue: &QueueId) -> Vec<CallId> {
        let mut v: Vec<(&CallId, &Call)> = self
            .calls
            .iter()
            .filter(|(_, c)| &c.queue == queue && c.waiting())
            .collect();
        v.sort_by_key(|(_, c)| c.key());
        v.into_iter().map(|(id, _)| id.clone()).collect()
    }

    /// The agents ringing for a call now.
    pub fn ringing(&self, call: &CallId) -> Vec<AgentId> {
        match self.calls.get(call).map(|c| &c.state) {
            Some(CallState::Waiting { offered, .. }) => offered.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// The agent talking to a call.
    pub fn connected(&self, call: &CallId) -> Option<AgentId> {
        match self.calls.get(call).map(|c| &c.state) {
            Some(CallState::Connected { agent, .. }) => Some(agent.clone()),
            _ => None,
        }
    }

    /// Whether the call is in the machine (waiting, ringing or connected).
    pub fn has_call(&self, call: &CallId) -> bool {
        self.calls.contains_key(call)
    }

    /// Every call in the machine (waiting, ringing or connected), emergencies first then by
    /// arrival within each queue, for the monitor and for a restart (calls do not survive
    /// one: send [`Input::CallerHungUp`] for each).
    pub fn calls(&self) -> Vec<CallView> {
        let mut v: Vec<(&CallId, &Call)> = self.calls.iter().collect();
        v.sort_by(|(_, a), (_, b)| (&a.queue, a.key()).cmp(&(&b.queue, b.key())));
        v.into_iter()
            .map(|(id, c)| CallView {
                call: id.clone(),
                queue: c.queue.clone(),
                emergency: c.emergency,
                arrived: c.arrived,
                position: c.waiting().then(|| self.position(c)),
                ringing: match &c.state {
                    CallState::Waiting { offered, .. } => offered.keys().cloned().collect(),
                    CallState::Connected { .. } => Vec::new(),
                },
                agent: match &c.state {
                    CallState::Connected { agent, .. } => Some(agent.clone()),
                    CallState::Waiting { .. } => None,
                },
            })
            .collect()
    }

    /// The agents' own calls still going ([`Input::OwnCallStarted`] without its end), by
    /// agent: after a restart none survived, so send [`Input::OwnCallEnded`] for each.
    pub fn own_calls(&self) -> Vec<(AgentId, CallId)> {
        self.agents
            .iter()
            .flat_map(|(id, a)| a.own_calls.iter().map(|c| (id.clone(), c.clone())))
            .collect()
    }

    /// Every agent ever logged in, by login.
    pub fn agents(&self) -> Vec<(AgentId, AgentView)> {
        self.agents
            .keys()
            .filter_map(|id| Some((id.clone(), self.agent(id)?)))
            .collect()
    }

    /// Replaces the queues' settings with `queues` (the dialplan as loaded after a restart or
    /// a reload): queues keep their handle-time estimate and round-robin place; new ones are
    /// added; a queue no longer declared keeps serving the calls it holds (none after a
    /// restart) but takes no new ones.
    pub fn set_queues(&mut self, queues: Vec<QueueConfig>) {
        for config in queues {
            match self.queues.get_mut(&config.id) {
                Some(q) => q.config = config,
                None => {
                    let aht_ms = INITIAL_TALK_MS + Millis::from(config.wrap_up_s) * 1000;
                    self.queues.insert(
                        config.id.clone(),
                        Queue {
                            config,
                            rr_last: None,
                            aht_ms,
                        },
                    );
                }
            }
        }
    }

    /// Whether the queue is declared.
    pub fn has_queue(&self, queue: &QueueId) -> bool {
        self.queues.contains_key(queue)
    }

    // ---- inputs ----

    fn apply(&mut self, now: Millis, input: Input) -> Result<(), AcdError> {
        match input {
            Input::CallArrived {
                call,
                queue,
                emergency,
                topic,
            } => self.call_arrived(now, call, queue, emergency, topic),
            Input::AgentLogin {
                agent,
                endpoint,
                skills,
            } => {
                self.login(now, agent, endpoint, skills);
                Ok(())
            }
            Input::AgentLogout { agent } => self.logout(now, &agent),
            Input::AgentPause { agent, reason } => self.pause(now, &agent, reason),
            Input::AgentResume { agent } => self.resume(now, &agent),
            Input::EndpointLost { agent, endpoint } => self.endpoint_lost(now, &agent, &endpoint),
            Input::OfferAnswered { call, agent } => {
                self.answered(now, &call, &agent);
                Ok(())
            }
            Input::OfferRejected { call, agent } => {
                self.rejected(now, &call, &agent);
                Ok(())
            }
            Input::CallerHungUp { call } | Input::CallEnded { call } => {
                self.hung_up(now, &call);
                Ok(())
            }
            Input::CallTransferred { call, target } => {
                match self.calls.get(&call).map(|c| &c.state) {
                    Some(CallState::Connected { agent, .. }) => {
                        let agent = agent.clone();
                        self.record(
                            now,
                            RecordKind::Transferred {
                                call: call.clone(),
                                agent,
                                target,
                            },
                        );
                        self.hung_up(now, &call);
                        Ok(())
                    }
                    _ => Err(AcdError::NotConnected(call)),
                }
            }
            Input::OwnCallStarted { agent, call } => {
                self.own_call_started(now, &agent, call);
                Ok(())
            }
            Input::OwnCallEnded { agent, call } => {
                self.own_call_ended(now, &agent, &call);
                Ok(())
            }
        }
    }

    /// The agent placed a call: on a call until it ends (see [`Input::OwnCallStarted`]).
    fn own_call_started(&mut self, now: Millis, id: &AgentId, call: CallId) {
        let Some(a) = self.agents.get_mut(id) else {
            return; // never logged in: not an agent of any queue
        };
        if !a.own_calls.insert(call.clone()) {
            return;
        }
        let on_call = AgentState::OwnCall { call, since: now };
        match a.state.clone() {
            AgentState::Available => self.set_state(now, id, on_call),
            AgentState::Ringing { call: offered } => {
                self.withdraw_to(now, &offered, id, StopReason::AgentUnavailable, on_call);
            }
            AgentState::Paused { reason } => {
                a.after = Some(After::Pause(reason));
                self.set_state(now, id, on_call);
            }
            // Busy already, or away (a logged-out agent stays out; logging in during the
            // call finds the agent on it): the call keeps the agent from offers until it ends.
            AgentState::OnCall { .. }
            | AgentState::OwnCall { .. }
            | AgentState::WrapUp { .. }
            | AgentState::Disconnected { .. }
            | AgentState::LoggedOut => {}
        }
    }

    /// The agent's call ended (see [`Input::OwnCallEnded`]).
    fn own_call_ended(&mut self, now: Millis, id: &AgentId, call: &CallId) {
        let Some(a) = self.agents.get_mut(id) else {
            return;
        };
        if !a.own_calls.remove(call) {
            return;
        }
        let AgentState::OwnCall { since, .. } = a.state else {
            return; // on a queue call, in wrap-up or away: that state goes on
        };
        if let Some(other) = a.own_calls.iter().next().cloned() {
            // Another call of the agent's goes on.
            a.state = AgentState::OwnCall { call: other, since };
            return;
        }
        match a.after.clone() {
            Some(After::Logout) => self.log_out(now, id),
            // A pause pending covers the after-call work.
            Some(After::Pause(_)) => self.ready(now, id),
            None => {
                let agent = a.clone();
                let wrap = self
                    .queues
                    .values()
                    .filter(|q| self.member(&agent, &q.config))
                    .map(|q| (q.config.wrap_up_s, q.config.id.clone()))
                    .max_by(|x, y| x.0.cmp(&y.0).then_with(|| y.1.cmp(&x.1)));
                match wrap {
                    Some((wrap_s, queue)) if wrap_s > 0 => self.set_state(
                        now,
                        id,
                        AgentState::WrapUp {
                            call: call.clone(),
                            queue,
                            since: now,
                            until: now + Millis::from(wrap_s) * 1000,
                        },
                    ),
                    _ => self.ready(now, id),
                }
            }
        }
    }

    fn call_arrived(
        &mut self,
        now: Millis,
        call: CallId,
        queue: QueueId,
        emergency: bool,
        topic: Option<String>,
    ) -> Result<(), AcdError> {
        let Some(q) = self.queues.get(&queue) else {
            return Err(AcdError::UnknownQueue(queue));
        };
        if self.calls.contains_key(&call) {
            return Err(AcdError::DuplicateCall(call));
        }
        let announce = (q.config.announce_every_s > 0).then_some(now);
        let unstaffed_overflow = q.config.overflow_when_unstaffed && !self.staffed(&queue);
        self.record(
            now,
            RecordKind::Enqueued {
                call: call.clone(),
                queue: queue.clone(),
                emergency,
            },
        );
        self.calls.insert(
            call.clone(),
            Call {
                queue,
                emergency,
                topic,
                arrived: now,
                seq: self.next_seq,
                state: CallState::Waiting {
                    offered: BTreeMap::new(),
                    ring_until: None,
                    declined: BTreeSet::new(),
                },
                next_announce: announce,
                last_position: None,
            },
        );
        self.next_seq += 1;
        if unstaffed_overflow {
            self.overflow(now, &call, OverflowReason::Unstaffed);
        }
        Ok(())
    }

    fn login(&mut self, now: Millis, id: AgentId, endpoint: EndpointId, skills: Vec<String>) {
        let agent = self.agents.entry(id.clone()).or_insert_with(|| Agent {
            endpoint: None,
            skills: Vec::new(),
            state: AgentState::LoggedOut,
            idle_since: now,
            state_since: now,
            after: None,
            own_calls: BTreeSet::new(),
        });
        agent.skills = skills;
        let old = agent.endpoint.replace(endpoint.clone());
        match agent.state.clone() {
            AgentState::LoggedOut => {
                agent.idle_since = now;
                agent.after = None;
                let state = match agent.own_calls.iter().next().cloned() {
                    Some(call) => AgentState::OwnCall { call, since: now },
                    None => AgentState::Available,
                };
                self.set_state(now, &id, state);
            }
            AgentState::Disconnected { resume, .. } => {
                let own = agent.own_calls.iter().next().cloned();
                let state = match resume {
                    Resume::Available => match own {
                        Some(call) => AgentState::OwnCall { call, since: now },
                        None => AgentState::Available,
                    },
                    Resume::Paused { reason } => AgentState::Paused { reason },
                    Resume::WrapUp {
                        call,
                        queue,
                        since,
                        until,
                    } => AgentState::WrapUp {
                        call,
                        queue,
                        since,
                        until,
                    },
                };
                self.set_state(now, &id, state);
            }
            state => {
                if let Some(old) = old.filter(|o| o != &endpoint) {
                    self.commands.push_back(Command::DropEndpoint {
                        agent: id.clone(),
                        endpoint: old,
                    });
                    if let AgentState::Ringing { call } = state {
                        self.withdraw(now, &call, &id, StopReason::EndpointGone);
                    }
                }
            }
        }
    }

    fn known(&self, agent: &AgentId) -> Result<&Agent, AcdError> {
        self.agents
            .get(agent)
            .ok_or_else(|| AcdError::UnknownAgent(agent.clone()))
    }

    fn logout(&mut self, now: Millis, id: &AgentId) -> Result<(), AcdError> {
        let state = self.known(id)?.state.clone();
        match state {
            AgentState::LoggedOut => return Ok(()),
            AgentState::OnCall { .. } | AgentState::OwnCall { .. } => {
                self.agent_mut(id).after = Some(After::Logout);
                return Ok(());
            }
            AgentState::Ringing { call } => {
                let out = AgentState::LoggedOut;
                self.withdraw_to(now, &call, id, StopReason::AgentUnavailable, out);
            }
            AgentState::WrapUp { call, since, .. } => {
                self.record(
                    now,
                    RecordKind::WrapUpEnded {
                        call,
                        agent: id.clone(),
                        wrap_ms: now - since,
                    },
                );
            }
            _ => {}
        }
        self.log_out(now, id);
        Ok(())
    }

    /// Logs an agent out and overflows the calls of queues nobody staffs any more.
    fn log_out(&mut self, now: Millis, id: &AgentId) {
        let a = self.agent_mut(id);
        a.endpoint = None;
        a.after = None;
        self.set_state(now, id, AgentState::LoggedOut);
        let empty: Vec<QueueId> = self
            .queues
            .values()
            .filter(|q| q.config.overflow_when_unstaffed && !self.staffed(&q.config.id))
            .map(|q| q.config.id.clone())
            .collect();
        let mut victims: Vec<(&CallId, &Call)> = self
            .calls
            .iter()
            .filter(|(_, c)| c.waiting() && empty.contains(&c.queue))
            .collect();
        victims.sort_by_key(|(_, c)| c.key());
        let victims: Vec<CallId> = victims.into_iter().map(|(id, _)| id.clone()).collect();
        for call in victims {
            self.overflow(now, &call, OverflowReason::Unstaffed);
        }
    }

    fn pause(&mut self, now: Millis, id: &AgentId, reason: String) -> Result<(), AcdError> {
        if reason.trim().is_empty() {
            return Err(AcdError::EmptyPauseReason);
        }
        let state = self.known(id)?.state.clone();
        match state {
            AgentState::LoggedOut => return Err(AcdError::NotLoggedIn(id.clone())),
            AgentState::Available | AgentState::Paused { .. } => {}
            AgentState::Ringing { call } => {
                let paused = AgentState::Paused { reason };
                self.withdraw_to(now, &call, id, StopReason::AgentUnavailable, paused);
                return Ok(());
            }
            AgentState::OnCall { .. } | AgentState::OwnCall { .. } | AgentState::WrapUp { .. } => {
                let a = self.agent_mut(id);
                if a.after != Some(After::Logout) {
                    a.after = Some(After::Pause(reason));
                }
                return Ok(());
            }
            AgentState::Disconnected { until, .. } => {
                self.agent_mut(id).state = AgentState::Disconnected {
                    resume: Resume::Paused { reason },
                    until,
                };
                return Ok(());
            }
        }
        self.set_state(now, id, AgentState::Paused { reason });
        Ok(())
    }

    fn resume(&mut self, now: Millis, id: &AgentId) -> Result<(), AcdError> {
        let state = self.known(id)?.state.clone();
        match state {
            AgentState::LoggedOut => return Err(AcdError::NotLoggedIn(id.clone())),
            AgentState::Paused { .. } => {
                self.agent_mut(id).idle_since = now;
                self.set_state(now, id, AgentState::Available);
            }
            AgentState::OnCall { .. } | AgentState::OwnCall { .. } | AgentState::WrapUp { .. } => {
                let a = self.agent_mut(id);
                if matches!(a.after, Some(After::Pause(_))) {
                    a.after = None;
                }
            }
            AgentState::Disconnected {
                resume: Resume::Paused { .. },
                until,
            } => {
                self.agent_mut(id).state = AgentState::Disconnected {
                    resume: Resume::Available,
                    until,
                };
            }
            AgentState::Available
            | AgentState::Ringing { .. }
            | AgentState::Disconnected { .. } => {}
        }
        Ok(())
    }

    fn endpoint_lost(
        &mut self,
        now: Millis,
        id: &AgentId,
        endpoint: &EndpointId,
    ) -> Result<(), AcdError> {
        let a = self.known(id)?;
        if a.endpoint.as_ref() != Some(endpoint) {
            // The old tab of a refresh, or an endpoint already forgotten.
            return Ok(());
        }
        let after = a.after.clone();
        let state = a.state.clone();
        self.agent_mut(id).endpoint = None;
        let mut resume = match state {
            AgentState::LoggedOut | AgentState::Disconnected { .. } => return Ok(()),
            AgentState::Available => Resume::Available,
            AgentState::Paused { reason } => Resume::Paused { reason },
            AgentState::Ringing { call } => {
                self.withdraw(now, &call, id, StopReason::EndpointGone);
                Resume::Available
            }
            AgentState::OnCall { call, since } => {
                self.requeue(now, &call, id, since);
                Resume::Available
            }
            AgentState::OwnCall { .. } => Resume::Available,
            AgentState::WrapUp {
                call,
                queue,
                since,
                until,
            } => Resume::WrapUp {
                call,
                queue,
                since,
                until,
            },
        };
        match after {
            Some(After::Logout) => {
                self.log_out(now, id);
                return Ok(());
            }
            Some(After::Pause(reason)) if !matches!(resume, Resume::WrapUp { .. }) => {
                resume = Resume::Paused { reason };
                self.agent_mut(id).after = None;
            }
            _ => {}
        }
        if self.settings.reconnect_grace_s == 0 {
            if let Resume::WrapUp { call, since, .. } = &resume {
                self.record(
                    now,
                    RecordKind::WrapUpEnded {
                        call: call.clone(),
                        agent: id.clone(),
                        wrap_ms: now - since,
                    },
                );
            }
            self.log_out(now, id);
        } else {
            let until = now + Millis::from(self.settings.reconnect_grace_s) * 1000;
            self.set_state(now, id, AgentState::Disconnected { resume, until });
        }
        Ok(())
    }

    /// The agent talking to `call` is gone: the call waits again at its original place.
    fn requeue(&mut self, now: Millis, call: &CallId, agent: &AgentId, since: Millis) {
        self.record(
            now,
            RecordKind::TalkEnded {
                call: call.clone(),
                agent: agent.clone(),
                talk_ms: now - since,
            },
        );
        self.record(now, RecordKind::Requeued { call: call.clone() });
        self.commands
            .push_back(Command::Requeue { call: call.clone() });
        let every = self.queue_of(call).map_or(0, |q| q.config.announce_every_s);
        if let Some(c) = self.calls.get_mut(call) {
            c.state = CallState::Waiting {
                offered: BTreeMap::new(),
                ring_until: None,
                declined: BTreeSet::new(),
            };
            c.next_announce = (every > 0).then_some(now);
        }
    }

    fn answered(&mut self, now: Millis, call: &CallId, agent: &AgentId) {
        let offered = match self.calls.get(call).map(|c| &c.state) {
            Some(CallState::Waiting { offered, .. }) if offered.contains_key(agent) => {
                offered.clone()
            }
            // The same answer reported twice: the conversation goes on.
            Some(CallState::Connected { agent: a, .. }) if a == agent => return,
            _ => {
                self.commands.push_back(Command::RefuseAnswer {
                    call: call.clone(),
                    agent: agent.clone(),
                });
                return;
            }
        };
        for (other, endpoint) in &offered {
            if other != agent {
                self.commands.push_back(Command::StopRinging {
                    call: call.clone(),
                    agent: other.clone(),
                    endpoint: endpoint.clone(),
                    reason: StopReason::AnsweredElsewhere,
                });
                self.set_state(now, other, AgentState::Available);
            }
        }
        let arrived = self.calls.get(call).map_or(now, |c| c.arrived);
        if let Some(c) = self.calls.get_mut(call) {
            c.state = CallState::Connected {
                agent: agent.clone(),
                since: now,
            };
            c.next_announce = None;
        }
        self.record(
            now,
            RecordKind::Answered {
                call: call.clone(),
                agent: agent.clone(),
                wait_ms: now - arrived,
            },
        );
        let endpoint = offered
            .get(agent)
            .cloned()
            .unwrap_or_else(|| EndpointId(String::new()));
        self.commands.push_back(Command::Bridge {
            call: call.clone(),
            agent: agent.clone(),
            endpoint,
        });
        self.set_state(
            now,
            agent,
            AgentState::OnCall {
                call: call.clone(),
                since: now,
            },
        );
    }

    fn rejected(&mut self, now: Millis, call: &CallId, agent: &AgentId) {
        let Some(c) = self.calls.get_mut(call) else {
            return;
        };
        let CallState::Waiting {
            offered,
            ring_until,
            declined,
        } = &mut c.state
        else {
            return;
        };
        if offered.remove(agent).is_none() {
            return;
        }
        declined.insert(agent.clone());
        if offered.is_empty() {
            *ring_until = None;
        }
        self.set_state(now, agent, AgentState::Available);
    }

    fn hung_up(&mut self, now: Millis, call: &CallId) {
        let Some(c) = self.calls.get(call).cloned() else {
            return; // a second hang-up, or a call that already overflowed
        };
        match c.state.clone() {
            CallState::Waiting { offered, .. } => {
                for (agent, endpoint) in offered {
                    self.commands.push_back(Command::StopRinging {
                        call: call.clone(),
                        agent: agent.clone(),
                        endpoint,
                        reason: StopReason::CallerHungUp,
                    });
                    self.set_state(now, &agent, AgentState::Available);
                }
                let wait_ms = now - c.arrived;
                self.calls.remove(call);
                self.record(
                    now,
                    RecordKind::Abandoned {
                        call: call.clone(),
                        wait_ms,
                    },
                );
            }
            CallState::Connected { agent, since } => {
                let queue = c.queue.clone();
                self.calls.remove(call);
                let talk_ms = now - since;
                self.record(
                    now,
                    RecordKind::TalkEnded {
                        call: call.clone(),
                        agent: agent.clone(),
                        talk_ms,
                    },
                );
                self.after_call(now, &agent, call, &queue, talk_ms);
            }
        }
    }

    /// The agent's conversation ended: wrap-up (or the pause / logout asked for meanwhile).
    fn after_call(
        &mut self,
        now: Millis,
        agent: &AgentId,
        call: &CallId,
        queue: &QueueId,
        talk_ms: Millis,
    ) {
        let wrap_ms = self
            .queues
            .get(queue)
            .map_or(0, |q| Millis::from(q.config.wrap_up_s) * 1000);
        if let Some(q) = self.queues.get_mut(queue) {
            // Exponential smoothing, weight 1/4 for the newest call.
            q.aht_ms = (q.aht_ms * 3 + talk_ms + wrap_ms) / 4;
        }
        let after = self.agent_mut(agent).after.clone();
        if after == Some(After::Logout) {
            self.log_out(now, agent);
        } else if wrap_ms > 0 {
            self.set_state(
                now,
                agent,
                AgentState::WrapUp {
                    call: call.clone(),
                    queue: queue.clone(),
                    since: now,
                    until: now + wrap_ms,
                },
            );
        } else {
            self.ready(now, agent);
        }
    }

    /// After a call and its wrap-up: available, or the pause asked for meanwhile.
    fn ready(&mut self, now: Millis, agent: &AgentId) {
        let a = self.agent_mut(agent);
        if let Some(call) = a.own_calls.iter().next().cloned() {
            // Still on a call the agent placed: a pause asked for waits for its end.
            self.set_state(now, agent, AgentState::OwnCall { call, since: now });
            return;
        }
        match a.after.take() {
            Some(After::Pause(reason)) => self.set_state(now, agent, AgentState::Paused { reason }),
            _ => {
                a.idle_since = now;
                self.set_state(now, agent, AgentState::Available);
            }
        }
    }

    // ---- helpers ----

    fn agent_mut(&mut self, id: &AgentId) -> &mut Agent {
        self.agents.entry(id.clone()).or_insert_with(|| Agent {
            endpoint: None,
            skills: Vec::new(),
            state: AgentState::LoggedOut,
            idle_since: 0,
            state_since: 0,
            after: None,
            own_calls: BTreeSet::new(),
        })
    }

    fn queue_of(&self, call: &CallId) -> Option<&Queue> {
        self.calls.get(call).and_then(|c| self.queues.get(&c.queue))
    }

    fn record(&mut self, at: Millis, kind: RecordKind) {
        self.records.push_back(Record { at, kind });
    }

    fn set_state(&mut self, now: Millis, id: &AgentId, state: AgentState) {
        let a = self.agent_mut(id);
        let changed = a.state.kind() != state.kind();
        let kind = state.kind();
        a.state = state;
        if changed {
            a.state_since = now;
            self.record(
                now,
                RecordKind::AgentState {
                    agent: id.clone(),
                    state: kind,
                },
            );
        }
    }

    fn member(&self, agent: &Agent, queue: &QueueConfig) -> bool {
        queue.skills.is_empty() || queue.skills.iter().any(|s| agent.skills.contains(s))
    }

    /// Some member of the queue is logged in (paused, busy and disconnected-within-grace count).
    fn staffed(&self, queue: &QueueId) -> bool {
        let Some(q) = self.queues.get(queue) else {
            return false;
        };
        self.agents
            .values()
            .any(|a| a.state != AgentState::LoggedOut && self.member(a, &q.config))
    }

    /// Members taking calls now or soon: available, ringing, on a call, in wrap-up.
    fn working(&self, queue: &QueueConfig) -> u64 {
        self.agents
            .values()
            .filter(|a| working(&a.state) && self.member(a, queue))
            .count() as u64
    }

    /// Stops ringing one agent for a call; the agent becomes available.
    fn withdraw(&mut self, now: Millis, call: &CallId, agent: &AgentId, reason: StopReason) {
        self.withdraw_to(now, call, agent, reason, AgentState::Available);
    }

    /// Stops ringing one agent for a call; the agent goes to `next`.
    fn withdraw_to(
        &mut self,
        now: Millis,
        call: &CallId,
        agent: &AgentId,
        reason: StopReason,
        next: AgentState,
    ) {
        if let Some(Call {
            state:
                CallState::Waiting {
                    offered,
                    ring_until,
                    ..
                },
            ..
        }) = self.calls.get_mut(call)
        {
            if let Some(endpoint) = offered.remove(agent) {
                if offered.is_empty() {
                    *ring_until = None;
                }
                self.commands.push_back(Command::StopRinging {
                    call: call.clone(),
                    agent: agent.clone(),
                    endpoint,
                    reason,
                });
            }
        }
        self.set_state(now, agent, next);
    }

    fn overflow(&mut self, now: Millis, call: &CallId, reason: OverflowReason) {
        let Some(c) = self.calls.get(call).cloned() else {
            return;
        };
        if let CallState::Waiting { offered, .. } = &c.state {
            for agent in offered.keys() {
                self.withdraw(now, call, agent, StopReason::Overflowed);
            }
        }
        let target = self
            .queues
            .get(&c.queue)
            .map_or_else(String::new, |q| q.config.overflow.clone());
        self.calls.remove(call);
        self.record(
            now,
            RecordKind::Overflowed {
                call: call.clone(),
                wait_ms: now - c.arrived,
                reason,
            },
        );
        self.commands.push_back(Command::Overflow {
            call: call.clone(),
            target,
            reason,
        });
    }

    fn position(&self, call: &Call) -> u32 {
        let ahead = self
            .calls
            .values()
            .filter(|c| c.queue == call.queue && c.waiting() && c.key() < call.key())
            .count();
        ahead as u32 + 1
    }

    fn announce(&mut self, call_id: &CallId) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        let Some(q) = self.queues.get(&call.queue) else {
            return;
        };
        let real = self.position(call);
        let position = call.last_position.map_or(real, |last| last.min(real));
        let working = self.working(&q.config);
        let expected_wait_s = (working > 0)
            .then(|| (u64::from(position) * q.aht_ms).div_ceil(working * 1000))
            .map(|s| u32::try_from(s).unwrap_or(u32::MAX));
        if let Some(c) = self.calls.get_mut(call_id) {
            c.last_position = Some(position);
        }
        self.commands.push_back(Command::Announce {
            call: call_id.clone(),
            position,
            expected_wait_s,
        });
    }

    // ---- time ----

    /// Fires every deadline ≤ `now` in order, dispatching after each.
    fn advance(&mut self, now: Millis) {
        let now = now.max(self.now);
        while let Some(t) = self.poll_timeout().filter(|t| *t <= now) {
            let t = t.max(self.now);
            self.now = t;
            self.fire(t);
        }
        self.now = now;
    }

    fn fire(&mut self, t: Millis) {
        // 1. Offers that rang out: the agents are paused (redirect on no answer).
        let rang_out: Vec<(CallId, Vec<AgentId>)> = self
            .calls
            .iter()
            .filter_map(|(id, c)| match &c.state {
                CallState::Waiting {
                    offered,
                    ring_until: Some(u),
                    ..
                } if *u <= t => Some((id.clone(), offered.keys().cloned().collect())),
                _ => None,
            })
            .collect();
        for (call, agents) in rang_out {
            for agent in agents {
                let paused = AgentState::Paused {
                    reason: NO_ANSWER_REASON.to_string(),
                };
                self.withdraw_to(t, &call, &agent, StopReason::NoAnswer, paused);
            }
        }
        // 2. Agents' timers: wrap-up ends, reconnect grace runs out.
        let due: Vec<AgentId> = self
            .agents
            .iter()
            .filter(|(_, a)| match &a.state {
                AgentState::WrapUp { until, .. } | AgentState::Disconnected { until, .. } => {
                    *until <= t
                }
                _ => false,
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            match self.agent_mut(&id).state.clone() {
                AgentState::WrapUp { call, since, .. } => {
                    self.record(
                        t,
                        RecordKind::WrapUpEnded {
                            call,
                            agent: id.clone(),
                            wrap_ms: t - since,
                        },
                    );
                    self.ready(t, &id);
                }
                AgentState::Disconnected { resume, .. } => {
                    if let Resume::WrapUp { call, since, .. } = resume {
                        self.record(
                            t,
                            RecordKind::WrapUpEnded {
                                call,
                                agent: id.clone(),
                                wrap_ms: t - since,
                            },
                        );
                    }
                    self.log_out(t, &id);
                }
                _ => {}
            }
        }
        self.dispatch(t);
        // 3. Calls that waited their maximum.
        let expired: Vec<CallId> =
            self.calls
                .iter()
                .filter(|(_, c)| {
                    c.waiting()
                        && self.queues.get(&c.queue).is_some_and(|q| {
                            c.arrived + Millis::from(q.config.max_wait_s) * 1000 <= t
                        })
                })
                .map(|(id, _)| id.clone())
                .collect();
        for call in expired {
            self.overflow(t, &call, OverflowReason::MaxWait);
        }
        self.dispatch(t);
        // 4. Announcements to callers still waiting (not while an agent is being rung).
        let mut due: Vec<(CallId, (bool, u64))> = self
            .calls
            .iter()
            .filter(|(_, c)| c.waiting() && c.next_announce.is_some_and(|n| n <= t))
            .map(|(id, c)| (id.clone(), c.key()))
            .collect();
        due.sort_by_key(|(_, k)| *k);
        for (id, _) in due {
            let every = self.queue_of(&id).map_or(0, |q| q.config.announce_every_s);
            let ringing = self.calls.get(&id).is_some_and(Call::ringing);
            if !ringing {
                self.announce(&id);
            }
            if let Some(c) = self.calls.get_mut(&id) {
                c.next_announce = (every > 0).then_some(t + Millis::from(every) * 1000);
            }
        }
    }

    /// Offers waiting calls (those not ringing anyone), emergencies first then by arrival, to
    /// available agents by each queue's strategy.
    fn dispatch(&mut self, now: Millis) {
        let mut order: Vec<(&CallId, &Call)> = self
            .calls
            .iter()
            .filter(|(_, c)| c.waiting() && !c.ringing())
            .collect();
        order.sort_by_key(|(_, c)| c.key());
        let order: Vec<CallId> = order.into_iter().map(|(id, _)| id.clone()).collect();
        for call_id in order {
            let Some(call) = self.calls.get(&call_id) else {
                continue;
            };
            let Some(q) = self.queues.get(&call.queue) else {
                continue;
            };
            let CallState::Waiting { declined, .. } = &call.state else {
                continue;
            };
            let candidates: Vec<(&AgentId, &Agent)> = self
                .agents
                .iter()
                .filter(|(id, a)| {
                    a.state == AgentState::Available
                        && a.own_calls.is_empty()
                        && a.endpoint.is_some()
                        && self.member(a, &q.config)
                        && !declined.contains(*id)
                })
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let longest_idle = |c: &[(&AgentId, &Agent)]| {
                c.iter()
                    .min_by_key(|(id, a)| (a.idle_since, (*id).clone()))
                    .map(|(id, _)| (*id).clone())
            };
            let chosen: Vec<AgentId> = match q.config.strategy {
                Strategy::RingAll => candidates.iter().map(|(id, _)| (*id).clone()).collect(),
                Strategy::LongestIdle => longest_idle(&candidates).into_iter().collect(),
                Strategy::RoundRobin => {
                    let after = q.rr_last.clone();
                    candidates
                        .iter()
                        .map(|(id, _)| (*id).clone())
                        .find(|id| after.as_ref().is_none_or(|l| id > l))
                        .or_else(|| candidates.first().map(|(id, _)| (*id).clone()))
                        .into_iter()
                        .collect()
                }
                Strategy::Skills => {
                    let skilled_on_shift = call.topic.as_ref().is_some_and(|t| {
                        self.agents.values().any(|a| {
                            working(&a.state) && self.member(a, &q.config) && a.skills.contains(t)
                        })
                    });
                    if skilled_on_shift {
                        let topic = call.topic.clone().unwrap_or_default();
                        let skilled: Vec<(&AgentId, &Agent)> = candidates
                            .iter()
                            .copied()
                            .filter(|(_, a)| a.skills.contains(&topic))
                            .collect();
                        longest_idle(&skilled).into_iter().collect()
                    } else {
                        longest_idle(&candidates).into_iter().collect()
                    }
                }
            };
            if chosen.is_empty() {
                continue;
            }
            let ring_ms = Millis::from(q.config.ring_timeout_s.max(1)) * 1000;
            if q.config.strategy == Strategy::RoundRobin {
                let queue = call.queue.clone();
                if let Some(q) = self.queues.get_mut(&queue) {
                    q.rr_last = chosen.last().cloned();
                }
            }
            for agent in &chosen {
                let endpoint = self
                    .agents
                    .get(agent)
                    .and_then(|a| a.endpoint.clone())
                    .unwrap_or_else(|| EndpointId(String::new()));
                if let Some(Call {
                    state:
                        CallState::Waiting {
                            offered,
                            ring_until,
                            ..
                        },
                    ..
                }) = self.calls.get_mut(&call_id)
                {
                    offered.insert(agent.clone(), endpoint.clone());
                    *ring_until = Some(now + ring_ms);
                }
                self.commands.push_back(Command::Offer {
                    call: call_id.clone(),
                    agent: agent.clone(),
                    endpoint,
                });
                self.set_state(
                    now,
                    agent,
                    AgentState::Ringing {
                        call: call_id.clone(),
                    },
                );
            }
        }
    }
}
