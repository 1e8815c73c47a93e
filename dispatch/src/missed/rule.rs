//! The missed-call rule: which ended calls nobody completed, and why.
//!
//! A call is **completed** when a person or the robot finished the caller's business:
//!
//! * a person answered it: an operator took it from a queue (timeline event
//!   `agent_connected`) or a dialled party answered and was bridged (`bridged`), or
//! * the robot filed a ticket and read its number (outcome `ticket_created`), or the caller
//!   called about an announced outage and the robot filed a linked ticket (`outage_linked`), or
//! * a flow that only plays a message (no robot outcome, no queue) ended normally: the caller or
//!   zvonar hung up after it (`caller_bye`, `robot_bye`).
//!
//! A call an agent placed (flow `agent_call`: click-to-call, a callback, a desk phone
//! dialling out, a consultation) is the company's own call, never a missed one, whether the
//! party answered or not: the operator records a callback's outcome on its entry.
//!
//! Every other ended call is **missed**, with the first reason of this list that applies:
//!
//! | reason | when |
//! |---|---|
//! | `rang_out` | the caller hung up before zvonar answered (disposition `missed`: CANCEL) |
//! | `not_connected` | zvonar could not take it (disposition `rejected`/`failed`: 503 busy, no common codec, no RTP port…); a dialled number with no route (`no_route`) is not ours and not missed |
//! | `after_hours` | the dialplan sent it to a flow listed in `[missed] after_hours_flows` |
//! | `overflow` | it waited in an operator queue until the queue overflowed (`queue_overflowed`) |
//! | `queue_abandoned` | it entered an operator queue (`queue_entered`) and the caller hung up before anyone answered |
//! | `callback_requested` | the caller asked the robot for a person and left a callback request (outcome `callback_requested`) |
//! | `robot_hangup` | the caller hung up on the robot before anything was filed (outcome `caller_hangup`) |
//! | `unfinished` | the caller hung up mid-request; the robot filed what it had as an unfinished ticket (outcome `unfinished`) |
//! | `agent_no_answer` | a person was rung (`dialling`) and nobody answered before the caller hung up (no robot outcome) |
//! | `robot_failed` | the robot could not take the request: silence, not understood, the ticket could not be stored, zvonar was stopped (outcomes `silence`, `not_understood`, `ticket_not_filed`, `shutdown`), or the call broke (`media_lost`, `signalling_lost`, `prompt_error`, `unsupported_flow`, `timeout`, …) |
//!
//! The rule reads only the CDR and the call's timeline, so it applies equally to calls
//! recorded before it existed.

use serde::{Deserialize, Serialize};
use std::fmt;
use zvonar_models::Disposition;

/// Why a call is missed; the stable snake_case codes of the table in this module's docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MissedReason {
    /// Hung up before answer.
    RangOut,
    /// Refused or failed before answer.
    NotConnected,
    /// Routed to an after-hours flow.
    AfterHours,
    /// The queue overflowed.
    Overflow,
    /// Hung up while waiting in a queue.
    QueueAbandoned,
    /// Left a callback request with the robot.
    CallbackRequested,
    /// Hung up on the robot before anything was filed.
    RobotHangup,
    /// Hung up mid-request; an unfinished ticket was filed.
    Unfinished,
    /// A person was rung and did not answer.
    AgentNoAnswer,
    /// The robot could not take the request, or the call broke.
    RobotFailed,
}

impl MissedReason {
    /// Every reason, in the order of the rule.
    pub const ALL: [MissedReason; 10] = [
        MissedReason::RangOut,
        MissedReason::NotConnected,
        MissedReason::AfterHours,
        MissedReason::Overflow,
        MissedReason::QueueAbandoned,
        MissedReason::CallbackRequested,
        MissedReason::RobotHangup,
        MissedReason::Unfinished,
        MissedReason::AgentNoAnswer,
        MissedReason::RobotFailed,
    ];

    /// The stable code (`rang_out`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            MissedReason::RangOut => "rang_out",
            MissedReason::NotConnected => "not_connected",
            MissedReason::AfterHours => "after_hours",
            MissedReason::Overflow => "overflow",
            MissedReason::QueueAbandoned => "queue_abandoned",
            MissedReason::CallbackRequested => "callback_requested",
            MissedReason::RobotHangup => "robot_hangup",
            MissedReason::Unfinished => "unfinished",
            MissedReason::AgentNoAnswer => "agent_no_answer",
            MissedReason::RobotFailed => "robot_failed",
        }
    }

    /// What the console shows (Russian).
    pub fn label_ru(self) -> &'static str {
        match self {
            MissedReason::RangOut => "не дождался ответа",
            MissedReason::NotConnected => "не удалось соединить",
            MissedReason::AfterHours => "в нерабочее время",
            MissedReason::Overflow => "очередь переполнена",
            MissedReason::QueueAbandoned => "положил трубку в очереди",
            MissedReason::CallbackRequested => "просил перезвонить",
            MissedReason::RobotHangup => "положил трубку при роботе",
            MissedReason::Unfinished => "заявка не закончена",
            MissedReason::AgentNoAnswer => "оператор не ответил",
            MissedReason::RobotFailed => "робот не смог принять",
        }
    }

    /// The reason for a stored code; `None` for an unknown one.
    pub fn from_code(code: &str) -> Option<MissedReason> {
        MissedReason::ALL.into_iter().find(|r| r.as_str() == code)
    }
}

impl fmt::Display for MissedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the rule reads about one ended call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallFacts {
    /// The CDR's disposition; `None` while the call has not ended.
    pub disposition: Option<Disposition>,
    /// The CDR's hangup cause (`caller_bye`, `cancel`, `no_route`, `sip_503`, …).
    pub cause: Option<String>,
    /// The flow the dialplan chose.
    pub flow: Option<String>,
    /// The kinds of the call's timeline events, in order (`started`, `outcome`, …).
    pub kinds: Vec<String>,
    /// The last `outcome` event's code, if any.
    pub outcome: Option<String>,
}

/// The rule's answer for one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not ended yet: decided when it ends.
    InProgress,
    /// A person or the robot completed it (or it was not a resident's call to us: no route,
    /// or an agent placed it).
    Completed,
    /// Nobody completed it.
    Missed(MissedReason),
}

/// Applies the rule of this module's docs to one call. `after_hours_flows`: the flows of
/// `[missed] after_hours_flows`.
pub fn classify(call: &CallFacts, after_hours_flows: &[String]) -> Verdict {
    let Some(disposition) = call.disposition else {
        return Verdict::InProgress;
    };
    let cause = call.cause.as_deref().unwrap_or_default();
    let has = |kind: &str| call.kinds.iter().any(|k| k == kind);
    if call.flow.as_deref() == Some(zvonar_models::AGENT_CALL_FLOW) {
        return Verdict::Completed;
    }
    match disposition {
        Disposition::Missed => return Verdict::Missed(MissedReason::RangOut),
        Disposition::Rejected | Disposition::Failed if cause == "no_route" => {
            return Verdict::Completed
        }
        Disposition::Rejected | Disposition::Failed => {
            return Verdict::Missed(MissedReason::NotConnected)
        }
        Disposition::Answered => {}
    }
    if has("agent_connected") || has("bridged") {
        return Verdict::Completed;
    }
    let outcome = call.outcome.as_deref();
    if matches!(outcome, Some("ticket_created" | "outage_linked")) {
        return Verdict::Completed;
    }
    if call
        .flow
        .as_deref()
        .is_some_and(|f| after_hours_flows.iter().any(|a| a == f))
    {
        return Verdict::Missed(MissedReason::AfterHours);
    }
    if has("queue_overflowed") {
        return Verdict::Missed(MissedReason::Overflow);
    }
    if has("queue_entered") {
        return Verdict::Missed(MissedReason::QueueAbandoned);
    }
    match outcome {
        Some("callback_requested") => Verdict::Missed(MissedReason::CallbackRequested),
        Some("caller_hangup") => Verdict::Missed(MissedReason::RobotHangup),
        Some("unfinished") => Verdict::Missed(MissedReason::Unfinished),
        Some(_) => Verdict::Missed(MissedReason::RobotFailed),
        None if has("dialling") => Verdict::Missed(MissedReason::AgentNoAnswer),
        None if matches!(cause, "caller_bye" | "robot_bye") => Verdict::Completed,
        None => Verdict::Missed(MissedReason::RobotFailed),
    }
}
