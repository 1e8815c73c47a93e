//! The vocabulary of the ACD: identifiers, queue settings, inputs, commands and log records.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since the Unix epoch on the driver's wall clock. The machine never reads a
/// clock: every input carries the time it happened, and a state restored after a restart
/// keeps counting on the same scale (wrap-up and pause times survive it).
pub type Millis = u64;

macro_rules! id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }
    };
}

id!(
    /// A caller's call (the engine's call id).
    CallId
);
id!(
    /// An agent (operator, dispatcher): the user's login.
    AgentId
);
id!(
    /// One registration of an agent's phone: a console tab's WebSocket (SIP over WS, RFC 7118) or a
    /// desk phone's REGISTER binding. An agent has at most one at a time.
    EndpointId
);
id!(
    /// A queue: the `name` of a `[[queue]]` in the dialplan.
    QueueId
);

/// How a waiting call picks the agents it rings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// `ring_all`: every available member rings at once; the first to answer gets the call,
    /// the others are told to stop.
    RingAll,
    /// `longest_idle`: one agent at a time, the one who has been ready the longest (since login,
    /// resume or the end of wrap-up; a withdrawn offer does not reset it).
    LongestIdle,
    /// `round_robin`: one agent at a time, taking members in login-name order after the one
    /// offered last in this queue.
    RoundRobin,
    /// `skills`: one agent at a time, longest idle among the members whose skills include the
    /// call's topic; when no member with that skill is working (available, ringing, on a call or
    /// in wrap-up; paused ones are away) or the call has no topic, among all members, so a call
    /// never waits for a skill nobody on shift has.
    Skills,
}

impl Strategy {
    /// The dialplan spelling: `ring_all`, `longest_idle`, `round_robin`, `skills`.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::RingAll => "ring_all",
            Strategy::LongestIdle => "longest_idle",
            Strategy::RoundRobin => "round_robin",
            Strategy::Skills => "skills",
        }
    }

    /// Parses the dialplan spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Strategy::RingAll,
            Strategy::LongestIdle,
            Strategy::RoundRobin,
            Strategy::Skills,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

/// One queue's settings (a `[[queue]]` of the dialplan).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    /// The queue's name.
    pub id: QueueId,
    /// Ring strategy.
    pub strategy: Strategy,
    /// Longest wait from arrival, seconds (a re-queued call keeps its arrival): then the call
    /// overflows to [`QueueConfig::overflow`].
    pub max_wait_s: u32,
    /// Wrap-up (after-call work) after each call of this queue, seconds; 0 for none. The agent
    /// gets no call from any queue meanwhile.
    pub wrap_up_s: u32,
    /// How long an offer rings before it counts as not answered, seconds (> 0). An agent who
    /// lets an offer ring out is paused with reason [`NO_ANSWER_REASON`] (redirect on no answer).
    pub ring_timeout_s: u32,
    /// Announce position and expected wait every this many seconds while a call waits
    /// (first at arrival when no agent takes it at once); 0 = never.
    pub announce_every_s: u32,
    /// Agents with any of these skills serve the queue; empty = every agent.
    pub skills: Vec<String>,
    /// Where an overflowing call goes: a dialplan flow name (the robot, which takes a callback
    /// request).
    pub overflow: String,
    /// When no member is logged in, overflow at once (on arrival, and for waiting calls when the
    /// last member logs out) instead of waiting `max_wait_s`.
    pub overflow_when_unstaffed: bool,
}

impl QueueConfig {
    /// A queue with the dialplan's defaults: ring_all, max wait 300 s, wrap-up 30 s, ring
    /// timeout 20 s, announcements every 60 s, no skills, overflow to `robot`, overflow when
    /// unstaffed.
    pub fn new(id: &str) -> Self {
        QueueConfig {
            id: QueueId::from(id),
            strategy: Strategy::RingAll,
            max_wait_s: 300,
            wrap_up_s: 30,
            ring_timeout_s: 20,
            announce_every_s: 60,
            skills: Vec::new(),
            overflow: "robot".to_string(),
            overflow_when_unstaffed: true,
        }
    }
}

/// Settings that are not per queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcdSettings {
    /// After an agent's endpoint disappears (WebSocket closed, registration expired), how long the
    /// agent may come back (page refresh) with state and pause reason intact, seconds; then the
    /// agent is logged out. No call is offered meanwhile. 0 = logged out at once.
    pub reconnect_grace_s: u32,
}

impl Default for AcdSettings {
    fn default() -> Self {
        AcdSettings {
            reconnect_grace_s: 30,
        }
    }
}

/// Pause reason given to an agent who let an offer ring out.
pub const NO_ANSWER_REASON: &str = "no_answer";

/// An input to [`crate::Acd::handle`]: something that happened, at the time passed with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Input {
    /// A call enters a queue. Emergency calls go ahead of every non-emergency call (behind
    /// earlier emergencies).
    CallArrived {
        /// The call.
        call: CallId,
        /// The queue.
        queue: QueueId,
        /// An emergency (аварийная) call.
        emergency: bool,
        /// The request topic (classifier code, e.g. `leak`), for the `skills` strategy.
        topic: Option<String>,
    },
    /// An agent's endpoint registered: a login, a page refresh, a re-REGISTER. A new endpoint
    /// replaces the old one (exactly one presence: [`Command::DropEndpoint`] for the old one);
    /// the agent's state and pause reason are kept.
    AgentLogin {
        /// The agent.
        agent: AgentId,
        /// The endpoint now reaching the agent.
        endpoint: EndpointId,
        /// The agent's skills (topic codes and queue skills).
        skills: Vec<String>,
    },
    /// The agent logs out (a call in progress continues; the logout takes effect after it).
    AgentLogout {
        /// The agent.
        agent: AgentId,
    },
    /// The agent pauses with a reason (after the call and wrap-up, when on a call).
    AgentPause {
        /// The agent.
        agent: AgentId,
        /// Why («обед», «обучение»).
        reason: String,
    },
    /// The agent is ready again.
    AgentResume {
        /// The agent.
        agent: AgentId,
    },
    /// An endpoint disappeared (WebSocket closed, registration expired or unregistered). Ignored
    /// when it is not the agent's current endpoint (the old tab of a refresh).
    EndpointLost {
        /// The agent.
        agent: AgentId,
        /// The endpoint that is gone.
        endpoint: EndpointId,
    },
    /// An offered agent answered.
    OfferAnswered {
        /// The call.
        call: CallId,
        /// The agent who answered.
        agent: AgentId,
    },
    /// An offered agent declined or could not be reached (busy, 480): the call is not offered to
    /// this agent again.
    OfferRejected {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
    /// The caller hung up: an abandoned call while it waits or rings, the end of the
    /// conversation once answered. A second hang-up of the same call is ignored.
    CallerHungUp {
        /// The call.
        call: CallId,
    },
    /// The bridged conversation ended (either side hung up): the agent goes to wrap-up. For a
    /// call still waiting it counts as the caller hanging up.
    CallEnded {
        /// The call.
        call: CallId,
    },
    /// The agent transferred the call elsewhere (blind or attended, to a number or another
    /// queue): the agent goes to wrap-up and the call leaves this machine (a transfer into a
    /// queue arrives again as [`Input::CallArrived`]).
    CallTransferred {
        /// The call.
        call: CallId,
        /// Where it went, for the queue log ([`RecordKind::Transferred`]): `account:102`,
        /// `queue:operators`, `flow:dispatcher`, `number:+74951234567` (empty when unknown).
        #[serde(default)]
        target: String,
    },
    /// The agent placed a call of their own (click-to-call from the console, or dialling out
    /// from a registered desk phone), counted from the moment it is placed (ringing
    /// included): the agent is on a call ([`StateKind::OnCall`]) and is offered nothing from
    /// any queue until it ends. A paused agent keeps the pause (and its reason) for after the
    /// call; a logged-out agent is not logged in by it (but one who logs in during the call
    /// is on it); an agent never logged in is not made one (ignored). The same call reported
    /// twice is ignored.
    OwnCallStarted {
        /// The agent.
        agent: AgentId,
        /// The engine's id of the agent's call (not a queued caller's call).
        call: CallId,
    },
    /// The agent's own call ([`Input::OwnCallStarted`]) ended, answered or not: when it was
    /// the agent's last one, the agent goes to wrap-up for the longest `wrap_up_s` of the
    /// queues the agent serves (after-call work follows outbound calls too, as in Genesys
    /// Cloud and Amazon Connect: a callback's outcome is recorded then), then is available;
    /// with a pause pending (paused before the call or during it) the agent goes straight to
    /// the pause; with a logout pending, logged out. Unknown calls are ignored.
    OwnCallEnded {
        /// The agent.
        agent: AgentId,
        /// The call.
        call: CallId,
    },
}

/// Why an agent stops ringing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Another agent answered.
    AnsweredElsewhere,
    /// The caller hung up.
    CallerHungUp,
    /// The offer rang `ring_timeout_s` unanswered.
    NoAnswer,
    /// The call overflowed to the robot.
    Overflowed,
    /// The agent paused or logged out while ringing.
    AgentUnavailable,
    /// The agent's endpoint was replaced or lost.
    EndpointGone,
}

/// Why a call left the queue for the overflow target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowReason {
    /// It waited `max_wait_s`.
    MaxWait,
    /// No member of the queue is logged in.
    Unstaffed,
}

/// What the engine must do, drained with [`crate::Acd::poll_command`] in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Command {
    /// Ring the agent's endpoint with the call (the console shows the caller's card).
    Offer {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The endpoint to ring.
        endpoint: EndpointId,
    },
    /// Stop ringing the agent (CANCEL the offer leg).
    StopRinging {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The endpoint that was rung.
        endpoint: EndpointId,
        /// Why.
        reason: StopReason,
    },
    /// Connect the caller with the agent who answered.
    Bridge {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The endpoint that answered.
        endpoint: EndpointId,
    },
    /// An agent answered an offer that is no longer theirs (another agent was first, the caller
    /// hung up, the offer was withdrawn): hang up the agent's leg.
    RefuseAnswer {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
    /// Tell the waiting caller the position and the expected wait.
    Announce {
        /// The call.
        call: CallId,
        /// 1-based position in the queue, never larger than the last one announced to this call.
        position: u32,
        /// Expected wait, seconds (see the crate docs for the formula); `None` when no agent
        /// is working the queue.
        expected_wait_s: Option<u32>,
    },
    /// Send the call to the overflow target (the robot takes a callback request).
    Overflow {
        /// The call.
        call: CallId,
        /// Dialplan flow name.
        target: String,
        /// Why.
        reason: OverflowReason,
    },
    /// The agent's endpoint disappeared during the conversation: disconnect the agent's leg and
    /// let the caller wait again (hold music); the call is back in the queue at its original
    /// place.
    Requeue {
        /// The call.
        call: CallId,
    },
    /// A newer registration replaced this endpoint: unregister it / close its WebSocket.
    DropEndpoint {
        /// The agent.
        agent: AgentId,
        /// The old endpoint.
        endpoint: EndpointId,
    },
}

/// An agent's state as the monitor shows it and the KPIs count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    /// Not working.
    LoggedOut,
    /// Ready for a call.
    Available,
    /// Being offered a call.
    Ringing,
    /// In a conversation.
    OnCall,
    /// After-call work.
    WrapUp,
    /// Paused with a reason.
    Paused,
    /// Endpoint gone, within the reconnect grace.
    Disconnected,
}

/// One line of the queue log, drained with [`crate::Acd::poll_record`]; the KPIs
/// ([`crate::kpi`]) are computed from these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// When, ms.
    pub at: Millis,
    /// What.
    pub kind: RecordKind,
}

/// What a [`Record`] records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RecordKind {
    /// A call entered a queue (offered).
    Enqueued {
        /// The call.
        call: CallId,
        /// The queue.
        queue: QueueId,
        /// An emergency call.
        emergency: bool,
    },
    /// An agent answered; `wait_ms` from arrival.
    Answered {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Time from arrival, ms.
        wait_ms: Millis,
    },
    /// The caller hung up before an agent answered; `wait_ms` from arrival.
    Abandoned {
        /// The call.
        call: CallId,
        /// Time from arrival, ms.
        wait_ms: Millis,
    },
    /// The call went to the overflow target.
    Overflowed {
        /// The call.
        call: CallId,
        /// Time from arrival, ms.
        wait_ms: Millis,
        /// Why.
        reason: OverflowReason,
    },
    /// A conversation segment ended (the call ended, was transferred or lost its agent).
    TalkEnded {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Length of the conversation, ms.
        talk_ms: Millis,
    },
    /// The agent transferred the call (REFER or the console): the agent's conversation
    /// ended ([`RecordKind::TalkEnded`] follows) and the call left for `target`.
    Transferred {
        /// The call.
        call: CallId,
        /// The transferring agent.
        agent: AgentId,
        /// Where it went ([`Input::CallTransferred`]'s `target`).
        target: String,
    },
    /// The agent's endpoint vanished during the conversation; the call waits again.
    Requeued {
        /// The call.
        call: CallId,
    },
    /// Wrap-up after a call ended, ms.
    WrapUpEnded {
        /// The call the wrap-up followed.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Length, ms.
        wrap_ms: Millis,
    },
    /// An agent's state changed.
    AgentState {
        /// The agent.
        agent: AgentId,
        /// The new state.
        state: StateKind,
    },
}
