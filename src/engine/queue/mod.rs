//! Operator queues (ACD) in the engine: one runtime per process owns the queue state
//! machine ([`zvonar_acd::Acd`]), fed with what happens to callers (call tasks), agents (the
//! API, their phones' registrations) and agents' lines ([`lines::AgentLines`]), driven by the
//! wall clock at [`zvonar_acd::Acd::poll_timeout`], persisted after every input ([`store`]).
//!
//! ```text
//! call task ──Enqueue / CallerGone──┐                     ┌──► CallerCommand (announce, connected, overflow)
//! API ──────Agent(login, pause…)────┼──► QueueCore ──────┼──► AgentLines (offer, stop, bridge, hang up)
//! agent's REFER ──Transfer──────────┤
//! registrations ──EndpointLost──────┤   (Acd + callers)   └──► store: acd state, queue log, queued calls
//! lines ──────LineEvent─────────────┤
//! agent's own call ──OwnCall────────┘  (click-to-call, a desk phone dialling out: busy, then wrap-up)
//! ```
//!
//! [`QueueCore`] is synchronous and takes the time with every input, so tests drive it with a
//! fake clock and [`lines::FakeLines`]; [`run`] is the task around it; in production the
//! lines are [`sip_lines::SipLines`] (outgoing SIP legs to the agents' registered phones).

pub mod caller;
pub mod endpoints;
pub mod hold;
pub mod lines;
pub mod monitor;
pub mod sip_lines;
pub mod store;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use lines::{AgentLines, LineEvent};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use zvonar_acd::{
    Acd, AcdError, AgentId, AgentView, CallId, Command, EndpointId, Input, Millis, OverflowReason,
    QueueConfig, QueueId, Record,
};
use zvonar_models::{HandoverContext, HandoverReason};

/// What the runtime tells a waiting caller's task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallerCommand {
    /// Say the position and expected wait (s; `None`: not said).
    Announce {
        /// 1-based position, never larger than the last one announced.
        position: u32,
        /// Expected wait, s.
        expected_wait_s: Option<u32>,
    },
    /// An agent answered: stop the comfort audio, the lines bridge the media.
    Connected {
        /// The agent.
        agent: AgentId,
    },
    /// The agent's endpoint vanished mid-conversation: comfort audio again, the call waits
    /// at its old place.
    Requeued,
    /// Leave the queue for the overflow flow (the robot takes a callback request).
    Overflow {
        /// The dialplan flow.
        flow: String,
        /// Why.
        reason: OverflowReason,
    },
    /// The agent hung up the conversation: hang up the caller (BYE).
    AgentHungUp,
    /// The agent transferred the call (blind, REFER): the call has left the queue machine
    /// (the agent is in wrap-up); move the caller to `target` and report to `progress`
    /// ([`crate::engine::transfer`]).
    Transfer {
        /// The transferring agent.
        agent: AgentId,
        /// Where to.
        target: crate::engine::transfer::TransferTarget,
        /// The transferring agent's leg, which NOTIFYs the phone.
        progress: crate::engine::transfer::ProgressTx,
    },
}

/// A call joining a queue, with what the robot knows for the operator's card.
#[derive(Clone, Debug, Serialize)]
pub struct QueueCallInfo {
    /// The engine's call id.
    pub call_id: String,
    /// The queue.
    pub queue: String,
    /// An emergency call (waits ahead of the others).
    pub emergency: bool,
    /// The request topic, for the `skills` strategy.
    pub topic: Option<String>,
    /// Why the call is in the queue.
    pub reason: HandoverReason,
    /// The robot's context.
    pub context: HandoverContext,
    /// When it entered the queue.
    pub entered_at: DateTime<Utc>,
}

/// What an agent does (always for themselves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentOp {
    /// Log in (or re-register) on `endpoint` with `skills`.
    Login {
        /// The endpoint reaching the agent now.
        endpoint: EndpointId,
        /// Skills.
        skills: Vec<String>,
    },
    /// The agent's phone registered anew (another contact, or back within the reconnect
    /// grace): log in on `endpoint` with the skills of the last login.
    Reregister {
        /// The endpoint reaching the agent now.
        endpoint: EndpointId,
    },
    /// Log out (after the call in progress).
    Logout,
    /// Pause with a reason.
    Pause(String),
    /// Ready again.
    Resume,
    /// Only read.
    Status,
}

/// One message to the runtime task.
pub enum Msg {
    /// A call joins its queue; its task hears back on `caller`.
    Enqueue {
        /// The call.
        info: Box<QueueCallInfo>,
        /// Where the call's task listens.
        caller: mpsc::UnboundedSender<CallerCommand>,
        /// The caller's media task (bridged to the agent's leg on answer).
        media: Option<mpsc::UnboundedSender<crate::engine::media::MediaCommand>>,
        /// `Err` when the queue refused it (not declared, duplicate).
        reply: oneshot::Sender<Result<(), AcdError>>,
    },
    /// The caller hung up (while waiting, or during the conversation).
    CallerGone(CallId),
    /// Something happened on an agent's line.
    Line(LineEvent),
    /// An agent's action.
    Agent {
        /// The agent.
        agent: AgentId,
        /// What.
        op: AgentOp,
        /// The agent's state after it.
        reply: oneshot::Sender<Result<AgentSnapshot, AcdError>>,
    },
    /// An agent's endpoint is gone (registration expired or removed).
    EndpointLost {
        /// The agent.
        agent: AgentId,
        /// The endpoint.
        endpoint: EndpointId,
    },
    /// An agent transfers the call it talks to (REFER on the agent's leg).
    Transfer {
        /// The call.
        call: CallId,
        /// The agent whose leg sent the REFER.
        agent: AgentId,
        /// Where to.
        target: crate::engine::transfer::TransferTarget,
        /// Where the new call's progress goes.
        progress: crate::engine::transfer::ProgressTx,
        /// `Err` when the call is not this agent's conversation (nothing changes then).
        reply: oneshot::Sender<Result<(), AcdError>>,
    },
    /// A registered device of the SIP account `account` placed the call `call` (the console's
    /// click-to-call, a desk phone dialling out): the account's agent is on a call from now.
    OwnCallStarted {
        /// The SIP account the call came from.
        account: String,
        /// The engine's call id.
        call: CallId,
    },
    /// That call ended (answered or not).
    OwnCallEnded(CallId),
    /// The agent login the SIP account `account` is bound to, if any.
    LoginOf {
        /// The SIP account.
        account: String,
        /// The login; `None` for an account bound to no agent (or unreadable).
        reply: oneshot::Sender<Option<String>>,
    },
    /// The whole state, for the API.
    State(oneshot::Sender<QueueState>),
}

/// An agent as the API shows it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AgentSnapshot {
    /// Login.
    pub login: String,
    /// `logged_out`, `available`, `ringing`, `on_call`, `wrap_up`, `paused`, `disconnected`.
    pub state: zvonar_acd::StateKind,
    /// While paused.
    pub pause_reason: Option<String>,
    /// The endpoint reaching the agent.
    pub endpoint: Option<String>,
    /// The call offered or talked to (a queued caller's, or one the agent placed: own calls
    /// show `on_call` too).
    pub call: Option<String>,
    /// Since when in this state, ms since the Unix epoch (0: unknown, a state stored by an
    /// older version).
    pub since_ms: Option<Millis>,
}

impl AgentSnapshot {
    fn new(login: &AgentId, v: Option<AgentView>) -> Self {
        match v {
            Some(v) => AgentSnapshot {
                login: login.0.clone(),
                state: v.state,
                pause_reason: v.pause_reason,
                endpoint: v.endpoint.map(|e| e.0),
                call: v.call.map(|c| c.0),
                since_ms: Some(v.since),
            },
            None => AgentSnapshot {
                login: login.0.clone(),
                state: zvonar_acd::StateKind::LoggedOut,
                pause_reason: None,
                endpoint: None,
                call: None,
                since_ms: None,
            },
        }
    }
}

/// One queue in [`QueueState`].
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct QueueSummary {
    /// Name.
    pub name: String,
    /// Ring strategy.
    pub strategy: &'static str,
    /// Calls waiting (ringing included).
    pub waiting: usize,
    /// Longest wait from arrival before overflow, s.
    pub max_wait_s: u32,
}

/// One call in [`QueueState`].
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct QueuedCall {
    /// The call id.
    pub call_id: String,
    /// Its queue.
    pub queue: String,
    /// Emergency.
    pub emergency: bool,
    /// Time since it entered the queue, s.
    pub waiting_s: u64,
    /// Position while waiting.
    pub position: Option<u32>,
    /// Agents ringing for it.
    pub ringing: Vec<String>,
    /// The agent talking to it.
    pub agent: Option<String>,
    /// Why it is in the queue.
    pub reason: Option<HandoverReason>,
}

/// The queues now (`GET /api/v1/queue`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct QueueState {
    /// Queues in dialplan order.
    pub queues: Vec<QueueSummary>,
    /// Calls, each queue's in queue order.
    pub calls: Vec<QueuedCall>,
    /// Every agent seen, by login.
    pub agents: Vec<AgentSnapshot>,
}

/// The queue runtime without IO: the machine, the callers' channels and the lines.
pub struct QueueCore {
    acd: Acd,
    configs: Vec<QueueConfig>,
    lines: Box<dyn AgentLines>,
    callers: HashMap<CallId, (mpsc::UnboundedSender<CallerCommand>, QueueCallInfo)>,
    records: Vec<Record>,
    /// Skills of each agent's last login (a re-registration keeps them).
    skills: HashMap<AgentId, Vec<String>>,
    /// Calls agents placed themselves that are going on, with the agent.
    own_calls: HashMap<CallId, AgentId>,
}

impl QueueCore {
    /// A core over `acd` (new, or restored after a restart: calls it still holds did not
    /// survive and are ended as hung up at `now`).
    pub fn new(
        mut acd: Acd,
        configs: Vec<QueueConfig>,
        lines: Box<dyn AgentLines>,
        now: Millis,
    ) -> Self {
        acd.set_queues(configs.clone());
        let stale: Vec<CallId> = acd.calls().into_iter().map(|c| c.call).collect();
        let own = acd.own_calls();
        let mut core = QueueCore {
            acd,
            configs,
            lines,
            callers: HashMap::new(),
            records: Vec::new(),
            skills: HashMap::new(),
            own_calls: HashMap::new(),
        };
        for call in stale {
            tracing::info!(%call, "queued call did not survive the restart");
            let _ = core.input(now, Input::CallerHungUp { call });
        }
        for (agent, call) in own {
            tracing::info!(%call, %agent, "an agent's own call did not survive the restart");
            let _ = core.input(now, Input::OwnCallEnded { agent, call });
        }
        core
    }

    /// The machine (to persist it).
    pub fn acd(&self) -> &Acd {
        &self.acd
    }

    /// The queue log written since the last call.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }

    /// The next deadline, ms.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.acd.poll_timeout()
    }

    /// Fires the timers due by `now`.
    pub fn timeout(&mut self, now: Millis) {
        self.acd.handle_timeout(now);
        self.drain();
    }

    fn input(&mut self, now: Millis, input: Input) -> Result<(), AcdError> {
        let r = self.acd.handle(now, input);
        self.drain();
        r
    }

    /// A call joins `info.queue`.
    ///
    /// Errors: the queue is not declared, or the call is queued already.
    pub fn enqueue(
        &mut self,
        now: Millis,
        info: QueueCallInfo,
        caller: mpsc::UnboundedSender<CallerCommand>,
        media: Option<mpsc::UnboundedSender<crate::engine::media::MediaCommand>>,
    ) -> Result<(), AcdError> {
        let call = CallId(info.call_id.clone());
        let queue = QueueId(info.queue.clone());
        if !self.acd.has_queue(&queue) || !self.configs.iter().any(|q| q.id == queue) {
            return Err(AcdError::UnknownQueue(queue));
        }
        if self.callers.contains_key(&call) {
            return Err(AcdError::DuplicateCall(call));
        }
        let input = Input::CallArrived {
            call: call.clone(),
            queue,
            emergency: info.emergency,
            topic: info.topic.clone(),
        };
        let number = info
            .context
            .caller
            .as_ref()
            .map(|p| p.as_e164().to_string());
        self.callers.insert(call.clone(), (caller, info));
        if let Some(media) = media {
            self.lines.caller_joined(&call, media, number);
        }
        let r = self.input(now, input);
        if r.is_err() {
            self.forget(&call);
        }
        r
    }

    /// The call left the runtime: its channel and the lines' state of it go.
    fn forget(&mut self, call: &CallId) {
        self.callers.remove(call);
        self.lines.caller_left(call);
    }

    /// The caller hung up: abandoned while waiting, or the end of the conversation (the
    /// agent's leg is hung up and the agent goes to wrap-up).
    pub fn caller_gone(&mut self, now: Millis, call: &CallId) {
        let agent = self.acd.connected(call);
        self.callers.remove(call);
        let _ = self.input(now, Input::CallerHungUp { call: call.clone() });
        if let Some(agent) = agent {
            self.lines.hang_up(call, &agent);
        }
        self.lines.caller_left(call);
    }

    /// Something happened on an agent's line.
    pub fn line(&mut self, now: Millis, ev: LineEvent) {
        match ev {
            LineEvent::Answered { call, agent } => {
                let _ = self.input(now, Input::OfferAnswered { call, agent });
            }
            LineEvent::Failed { call, agent } => {
                let _ = self.input(now, Input::OfferRejected { call, agent });
            }
            LineEvent::HungUp { call, agent } => {
                if self.acd.connected(&call).as_ref() != Some(&agent) {
                    return; // an old leg: the call is not this agent's any more
                }
                if let Some((tx, _)) = self.callers.remove(&call) {
                    let _ = tx.send(CallerCommand::AgentHungUp);
                }
                let _ = self.input(now, Input::CallEnded { call: call.clone() });
                self.lines.caller_left(&call);
            }
        }
    }

    /// `agent` transfers `call` to `target` (blind transfer): the machine ends the agent's
    /// conversation (wrap-up, queue log `transferred`), the call leaves the runtime, and the
    /// caller's task is told to move it ([`CallerCommand::Transfer`]). The agent's leg is not
    /// hung up here: it reports the outcome to the phone first.
    ///
    /// Errors: [`AcdError::NotConnected`] when `agent` is not talking to `call`; nothing
    /// changes then.
    pub fn transfer(
        &mut self,
        now: Millis,
        call: &CallId,
        agent: &AgentId,
        target: crate::engine::transfer::TransferTarget,
        progress: crate::engine::transfer::ProgressTx,
    ) -> Result<(), AcdError> {
        if self.acd.connected(call).as_ref() != Some(agent) || !self.callers.contains_key(call) {
            return Err(AcdError::NotConnected(call.clone()));
        }
        self.input(
            now,
            Input::CallTransferred {
                call: call.clone(),
                target: target.label(),
            },
        )?;
        if let Some((tx, _)) = self.callers.remove(call) {
            let _ = tx.send(CallerCommand::Transfer {
                agent: agent.clone(),
                target,
                progress,
            });
        }
        self.lines.caller_left(call);
        Ok(())
    }

    /// An agent's action; the agent's state after it.
    ///
    /// Errors: [`AcdError`] (a pause or resume of a logged-out agent, an empty reason).
    pub fn agent(
        &mut self,
        now: Millis,
        agent: &AgentId,
        op: AgentOp,
    ) -> Result<AgentSnapshot, AcdError> {
        let input = match op {
            AgentOp::Login { endpoint, skills } => {
                self.skills.insert(agent.clone(), skills.clone());
                Some(Input::AgentLogin {
                    agent: agent.clone(),
                    endpoint,
                    skills,
                })
            }
            AgentOp::Reregister { endpoint } => self
                .acd
                .agent(agent)
                .filter(|v| v.state != zvonar_acd::StateKind::LoggedOut)
                .map(|_| Input::AgentLogin {
                    agent: agent.clone(),
                    endpoint,
                    skills: self.skills.get(agent).cloned().unwrap_or_default(),
                }),
            AgentOp::Logout => self.acd.agent(agent).map(|_| Input::AgentLogout {
                agent: agent.clone(),
            }),
            AgentOp::Pause(reason) => Some(Input::AgentPause {
                agent: agent.clone(),
                reason,
            }),
            AgentOp::Resume => Some(Input::AgentResume {
                agent: agent.clone(),
            }),
            AgentOp::Status => None,
        };
        if let Some(input) = input {
            self.input(now, input)?;
        }
        Ok(AgentSnapshot::new(agent, self.acd.agent(agent)))
    }

    /// `agent` placed `call` themself (click-to-call, a desk phone dialling out): on a call,
    /// offered nothing, until [`QueueCore::own_call_ended`]. An agent who is logged out (or
    /// never logged in) is not logged in by it.
    pub fn own_call_started(&mut self, now: Millis, agent: AgentId, call: CallId) {
        self.own_calls.insert(call.clone(), agent.clone());
        let _ = self.input(now, Input::OwnCallStarted { agent, call });
    }

    /// An agent's own call ended: wrap-up, then available (or the pause the agent was on).
    /// Calls not started with [`QueueCore::own_call_started`] are ignored.
    pub fn own_call_ended(&mut self, now: Millis, call: &CallId) {
        if let Some(agent) = self.own_calls.remove(call) {
            let call = call.clone();
            let _ = self.input(now, Input::OwnCallEnded { agent, call });
        }
    }

    /// An agent's endpoint is gone: a conversation on it is over for the agent (the leg is
    /// hung up) and the caller waits again at the old place.
    pub fn endpoint_lost(&mut self, now: Millis, agent: &AgentId, endpoint: &EndpointId) {
        let on_call = self
            .acd
            .agent(agent)
            .filter(|v| {
                v.state == zvonar_acd::StateKind::OnCall && v.endpoint.as_ref() == Some(endpoint)
            })
            .and_then(|v| v.call);
        if let Some(call) = &on_call {
            self.lines.hang_up(call, agent);
        }
        let _ = self.input(
            now,
            Input::EndpointLost {
                agent: agent.clone(),
                endpoint: endpoint.clone(),
            },
        );
    }

    /// A call still in the runtime (the API reads the stored copy, with its outcome).
    #[cfg(test)]
    pub fn call(&self, call_id: &str) -> Option<QueueCallInfo> {
        self.callers
            .get(&CallId(call_id.to_string()))
            .map(|(_, i)| i.clone())
    }

    /// The whole state at `now`.
    pub fn state(&self, now: Millis) -> QueueState {
        let calls: Vec<zvonar_acd::CallView> = self.acd.calls();
        QueueState {
            queues: self
                .configs
                .iter()
                .map(|q| QueueSummary {
                    name: q.id.0.clone(),
                    strategy: q.strategy.name(),
                    waiting: calls
                        .iter()
                        .filter(|c| c.queue == q.id && c.position.is_some())
                        .count(),
                    max_wait_s: q.max_wait_s,
                })
                .collect(),
            calls: calls
                .into_iter()
                .map(|c| QueuedCall {
                    waiting_s: now.saturating_sub(c.arrived) / 1000,
                    reason: self.callers.get(&c.call).map(|(_, i)| i.reason),
                    call_id: c.call.0,
                    queue: c.queue.0,
                    emergency: c.emergency,
                    position: c.position,
                    ringing: c.ringing.into_iter().map(|a| a.0).collect(),
                    agent: c.agent.map(|a| a.0),
                })
                .collect(),
            agents: self
                .acd
                .agents()
                .into_iter()
                .map(|(a, v)| AgentSnapshot::new(&a, Some(v)))
                .collect(),
        }
    }

    /// Carries out the machine's commands; keeps its records.
    fn drain(&mut self) {
        while let Some(cmd) = self.acd.poll_command() {
            match cmd {
                Command::Offer {
                    call,
                    agent,
                    endpoint,
                } => self.lines.offer(&call, &agent, &endpoint),
                Command::StopRinging {
                    call,
                    agent,
                    endpoint,
                    ..
                } => self.lines.stop_ringing(&call, &agent, &endpoint),
                Command::Bridge {
                    call,
                    agent,
                    endpoint,
                } => {
                    self.lines.bridge(&call, &agent, &endpoint);
                    self.tell(&call, CallerCommand::Connected { agent });
                }
                Command::RefuseAnswer { call, agent } => self.lines.hang_up(&call, &agent),
                Command::Announce {
                    call,
                    position,
                    expected_wait_s,
                } => self.tell(
                    &call,
                    CallerCommand::Announce {
                        position,
                        expected_wait_s,
                    },
                ),
                Command::Overflow {
                    call,
                    target,
                    reason,
                } => {
                    if let Some((tx, _)) = self.callers.remove(&call) {
                        let _ = tx.send(CallerCommand::Overflow {
                            flow: target,
                            reason,
                        });
                    }
                    self.lines.caller_left(&call);
                }
                Command::Requeue { call } => self.tell(&call, CallerCommand::Requeued),
                Command::DropEndpoint { agent, endpoint } => {
                    self.lines.drop_endpoint(&agent, &endpoint)
                }
                other => tracing::warn!(command = ?other, "queue command not carried out"),
            }
        }
        while let Some(r) = self.acd.poll_record() {
            self.records.push(r);
        }
    }

    fn tell(&self, call: &CallId, cmd: CallerCommand) {
        if let Some((tx, _)) = self.callers.get(call) {
            let _ = tx.send(cmd);
        }
    }
}

/// Wall-clock ms since the Unix epoch: the machine's clock.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// The runtime's address: cheap to clone; every call task, the API and the lines hold one.
#[derive(Clone)]
pub struct QueueHandle {
    tx: mpsc::UnboundedSender<Msg>,
    changes: Arc<watch::Sender<u64>>,
}

/// Why a call could not join a queue.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The machine refused it.
    #[error("{0}")]
    Refused(#[from] AcdError),
    /// The runtime has stopped.
    #[error("the queue runtime has stopped")]
    Stopped,
}

impl QueueHandle {
    /// A handle and the receiver [`run`] reads.
    pub fn channel() -> (QueueHandle, mpsc::UnboundedReceiver<Msg>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let changes = Arc::new(watch::channel(0).0);
        (QueueHandle { tx, changes }, rx)
    }

    /// What [`run`] bumps after every change it has stored.
    pub fn change_notifier(&self) -> Arc<watch::Sender<u64>> {
        self.changes.clone()
    }

    /// A receiver that sees a new number after each change of the queues (a call, an agent,
    /// a timer), once it is stored: the monitor pushes on it. Bursts coalesce.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Puts a call into its queue; commands for it arrive on the returned receiver.
    ///
    /// Errors: [`JoinError`].
    pub async fn enqueue(
        &self,
        info: QueueCallInfo,
        media: Option<mpsc::UnboundedSender<crate::engine::media::MediaCommand>>,
    ) -> Result<mpsc::UnboundedReceiver<CallerCommand>, JoinError> {
        let (caller, rx) = mpsc::unbounded_channel();
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Enqueue {
                info: Box::new(info),
                caller,
                media,
                reply,
            })
            .map_err(|_| JoinError::Stopped)?;
        answer.await.map_err(|_| JoinError::Stopped)??;
        Ok(rx)
    }

    /// The caller hung up.
    pub fn caller_gone(&self, call: &str) {
        let _ = self.tx.send(Msg::CallerGone(CallId(call.to_string())));
    }

    /// A line event.
    pub fn line_event(&self, ev: LineEvent) {
        let _ = self.tx.send(Msg::Line(ev));
    }

    /// `agent` transfers `call` (see [`QueueCore::transfer`]). `Err(None)`: the runtime has
    /// stopped.
    pub async fn transfer(
        &self,
        call: CallId,
        agent: AgentId,
        target: crate::engine::transfer::TransferTarget,
        progress: crate::engine::transfer::ProgressTx,
    ) -> Result<(), Option<AcdError>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Transfer {
                call,
                agent,
                target,
                progress,
                reply,
            })
            .map_err(|_| None)?;
        answer.await.map_err(|_| None)?.map_err(Some)
    }

    /// A registered device of SIP account `account` placed call `call` (see
    /// [`Msg::OwnCallStarted`]); the runtime finds the account's agent
    /// (`sip_accounts.user_login`). Pair it with [`QueueHandle::own_call_ended`].
    pub fn own_call_started(&self, account: &str, call: &str) {
        let _ = self.tx.send(Msg::OwnCallStarted {
            account: account.to_string(),
            call: CallId(call.to_string()),
        });
    }

    /// The agent login the SIP account `account` is bound to (`zvonar sip-account add NAME
    /// --login LOGIN`); `None` for an account bound to no agent, or when the runtime has
    /// stopped.
    pub async fn login_of_account(&self, account: &str) -> Option<String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::LoginOf {
                account: account.to_string(),
                reply,
            })
            .ok()?;
        rx.await.ok().flatten()
    }

    /// The call of [`QueueHandle::own_call_started`] ended.
    pub fn own_call_ended(&self, call: &str) {
        let _ = self.tx.send(Msg::OwnCallEnded(CallId(call.to_string())));
    }

    /// An endpoint is gone.
    pub fn endpoint_lost(&self, agent: AgentId, endpoint: EndpointId) {
        let _ = self.tx.send(Msg::EndpointLost { agent, endpoint });
    }

    /// An agent's action. `Err(None)`: the runtime has stopped.
    pub async fn agent(&self, agent: &str, op: AgentOp) -> Result<AgentSnapshot, Option<AcdError>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Agent {
                agent: AgentId(agent.to_string()),
                op,
                reply,
            })
            .map_err(|_| None)?;
        answer.await.map_err(|_| None)?.map_err(Some)
    }

    /// The state now; `None` when the runtime has stopped.
    pub async fn state(&self) -> Option<QueueState> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Msg::State(reply)).ok()?;
        answer.await.ok()
    }
}

/// Runs the queue runtime until every handle is dropped: applies each message at the wall
/// clock's time, fires the machine's timers when due, and after each step stores the
/// machine, the queue log and the queued calls' states ([`store::QueueStore`]), then bumps
/// `changed` (the monitor's push, [`QueueHandle::changes`]).
pub async fn run(
    mut core: QueueCore,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    store: store::QueueStore,
    changed: Arc<watch::Sender<u64>>,
) {
    persist(&mut core, &store).await;
    loop {
        let deadline = core.poll_timeout().map(|t| {
            let wait = t.saturating_sub(now_ms());
            tokio::time::Instant::now() + std::time::Duration::from_millis(wait)
        });
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                let now = now_ms();
                match msg {
                    Msg::Enqueue { info, caller, media, reply } => {
                        let stored = info.clone();
                        let r = core.enqueue(now, *info, caller, media);
                        if r.is_ok() {
                            if let Err(e) = store.call_entered(&stored).await {
                                tracing::error!(error = %e, "queued call not stored");
                            }
                        }
                        let _ = reply.send(r);
                    }
                    Msg::CallerGone(call) => core.caller_gone(now, &call),
                    Msg::Line(ev) => core.line(now, ev),
                    Msg::Agent { agent, op, reply } => {
                        let _ = reply.send(core.agent(now, &agent, op));
                    }
                    Msg::EndpointLost { agent, endpoint } => core.endpoint_lost(now, &agent, &endpoint),
                    Msg::Transfer { call, agent, target, progress, reply } => {
                        let _ = reply.send(core.transfer(now, &call, &agent, target, progress));
                    }
                    Msg::OwnCallStarted { account, call } => {
                        match store.login_of_account(&account).await {
                            Ok(Some(login)) => core.own_call_started(now, AgentId(login), call),
                            Ok(None) => {
                                tracing::debug!(%account, %call, "own call of an account bound to no agent");
                                continue;
                            }
                            Err(e) => {
                                tracing::error!(error = %e, %account, "SIP account's agent not read");
                                continue;
                            }
                        }
                    }
                    Msg::OwnCallEnded(call) => core.own_call_ended(now_ms(), &call),
                    Msg::LoginOf { account, reply } => {
                        let login = store.login_of_account(&account).await.unwrap_or_else(|e| {
                            tracing::error!(error = %e, %account, "SIP account's agent not read");
                            None
                        });
                        let _ = reply.send(login);
                        continue;
                    }
                    Msg::State(reply) => {
                        let _ = reply.send(core.state(now));
                        continue;
                    }
                }
            }
            _ = sleep_until(deadline) => core.timeout(now_ms()),
        }
        persist(&mut core, &store).await;
        changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

async fn persist(core: &mut QueueCore, store: &store::QueueStore) {
    let records = core.take_records();
    if let Err(e) = store.save(core.acd(), &records).await {
        tracing::error!(error = %e, "queue state not stored");
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A call that keeps an agent busy outside the queues, as the queues see it: started when
/// made ([`QueueHandle::own_call_started`]), ended when dropped, however the call ends. For
/// an agent's own call (click-to-call, a desk phone dialling out) and for a call that rings
/// an agent's extension directly and is answered (a transfer or a consultation to it, a
/// `dial` flow to the account): the agent is on a call, offered nothing, then in wrap-up.
/// An account not linked to an agent is ignored by the runtime.
pub struct OwnCallGuard {
    queues: QueueHandle,
    call: String,
}

impl OwnCallGuard {
    /// Starts the busy call `call` (a unique key: a call id, or a leg's SIP Call-ID) of SIP
    /// account `account`.
    pub fn start(queues: &QueueHandle, account: &str, call: &str) -> OwnCallGuard {
        queues.own_call_started(account, call);
        OwnCallGuard {
            queues: queues.clone(),
            call: call.to_string(),
        }
    }
}

impl Drop for OwnCallGuard {
    fn drop(&mut self) {
        self.queues.own_call_ended(&self.call);
    }
}
