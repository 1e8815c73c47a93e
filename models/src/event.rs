//! Call events: what the engine publishes about every call. Tickets, CDRs and the call
//! timeline are written by subscribers of these events (in `dispatch`), never by SIP or
//! media code.

use crate::{AccountId, BuildingId, CallId, OutageId, PhoneNumber, PremisesId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One thing that happened on a call, stamped with wall-clock time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CallEvent {
    /// The call it belongs to.
    pub call_id: CallId,
    /// When it happened (UTC).
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: CallEventKind,
}

/// How a call ended, as the CDR `disposition` column stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Answered (2xx sent) and later ended by either side.
    Answered,
    /// The caller gave up before we answered (CANCEL → 487): a missed call.
    Missed,
    /// We refused it (no route, 488 no common codec, 503 overload…).
    Rejected,
    /// It broke: no ACK, media or internal failure.
    Failed,
}

/// The flow name (`CallEventKind::Started::flow`) of a call an agent placed: click-to-call or
/// a callback from the console, a desk phone dialling out, a consultation. Such a call is the
/// company's own outgoing call, never a resident's missed call.
pub const AGENT_CALL_FLOW: &str = "agent_call";

impl Disposition {
    /// The stable snake_case name used in the CDR, metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Answered => "answered",
            Disposition::Missed => "missed",
            Disposition::Rejected => "rejected",
            Disposition::Failed => "failed",
        }
    }
}

/// What the dispatcher robot asks to be filed as a ticket (заявка).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TicketRequest {
    /// The caller's number, when the trunk gave one.
    pub caller: Option<PhoneNumber>,
    /// Personal account (ЛС), when identified.
    pub account_id: Option<AccountId>,
    /// The building the request is about.
    pub building_id: Option<BuildingId>,
    /// The premises (apartment) the request is about.
    pub premises_id: Option<PremisesId>,
    /// The apartment number as the caller said it (`12а`), kept even if no premises matched.
    pub apartment: Option<String>,
    /// Topic code from the dialplan's topic list (`leak`, `electricity`, …).
    pub topic: String,
    /// Emergency (аварийная) request: leak, no electricity, gas smell, stuck lift.
    pub emergency: bool,
    /// What the caller said, as recognised.
    pub description: String,
    /// The outage this request is linked to, when the caller called about it.
    pub outage_id: Option<OutageId>,
    /// `true` when the call ended before the request was complete (unfinished request).
    pub unfinished: bool,
}

/// A request to call the resident back (no operator was available).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CallbackRequest {
    /// Number to call back.
    pub caller: Option<PhoneNumber>,
    /// Account, when identified.
    pub account_id: Option<AccountId>,
    /// What the robot heard before the caller asked for an operator.
    pub heard: String,
}

/// The kinds of call events, in the order they usually happen.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallEventKind {
    /// An INVITE arrived and was routed.
    Started {
        /// Caller number in E.164, only when verified: the INVITE came from a trusted
        /// source (`[sip] trusted`; P-Asserted-Identity, else From, RFC 3325 §9.1) and the
        /// number normalised. `None` for unverified callers.
        caller: Option<PhoneNumber>,
        /// Caller user part as received (from an untrusted source: From, unverified).
        caller_raw: String,
        /// Dialled number (request-URI user part).
        callee: String,
        /// `udp` or `tcp`.
        transport: String,
        /// The call flow the dialplan chose.
        flow: String,
    },
    /// We answered (200 OK sent).
    Answered {
        /// Where the recording is being written (relative to the recordings directory).
        recording: String,
    },
    /// The robot spoke or played a prompt.
    RobotSaid {
        /// The text (or the file name for a recorded prompt).
        text: String,
    },
    /// Caller speech recognised by ASR.
    Recognised {
        /// The text Whisper produced (after the no-speech gate).
        text: String,
        /// Mean token probability in 0..=1.
        confidence: f32,
        /// Duration of the utterance, ms.
        audio_ms: u32,
        /// Time spent recognising, ms.
        asr_ms: u32,
    },
    /// An utterance was heard but rejected as non-speech (noise, silence, hallucination).
    SpeechRejected {
        /// Why: `no_speech`, `empty`, `hallucination`, `repetition`, `low_confidence` (the
        /// recogniser's gate); `asr_overloaded` (its queue was full: the robot offered the
        /// keypad), `asr_error`.
        reason: String,
    },
    /// DTMF digits (RFC 4733 or SIP INFO).
    Digits {
        /// The digits, `0-9*#`.
        digits: String,
        /// `rfc4733` or `info`.
        via: String,
    },
    /// The robot identified the caller's account/premises.
    Identified {
        /// Account, when known.
        account_id: Option<AccountId>,
        /// Premises, when known.
        premises_id: Option<PremisesId>,
        /// How: `caller_id`, `speech`, `keypad`.
        how: String,
    },
    /// The robot filled a slot of the request (building, apartment, topic…): what it took,
    /// from where, how sure the recogniser was and whether the caller confirmed it when it was
    /// read back. One event per slot filled; a value the caller denied is not filled.
    SlotFilled {
        /// Which slot: `building`, `apartment`, `topic` (a meter reading or rating later).
        slot: String,
        /// The value as filed: apartment `179`, `12а`; building «улица Ленина, дом 5»;
        /// topic code `leak`.
        value: String,
        /// Where it came from: `voice` (ASR) or `keys` (DTMF).
        source: String,
        /// ASR confidence (mean token probability, 0..=1) of the utterance it was taken
        /// from; `None` for keys.
        confidence: Option<f32>,
        /// `true` when the robot read the value back and the caller said «да» or pressed 1;
        /// `false` when it was taken without a read-back.
        confirmed: bool,
    },
    /// The caller was told about an outage on their building.
    OutageAnnounced {
        /// Which outage.
        outage_id: OutageId,
    },
    /// The robot asks for a ticket; dispatch files it and answers with the number.
    TicketRequested(TicketRequest),
    /// The robot asks for a callback.
    CallbackRequested(CallbackRequest),
    /// An outgoing leg (B2BUA) started ringing someone for this call.
    Dialling {
        /// Who is rung: a SIP URI (for a SIP account, its registered Contact).
        party: String,
    },
    /// The outgoing leg ended unanswered.
    DialFailed {
        /// Who was rung.
        party: String,
        /// `busy`, `no_answer`, `rejected`, `invalid_number`, `cancelled`, `failed`
        /// (zvonar-sip's `DialOutcome::code`).
        outcome: String,
        /// The SIP status when the far end gave one (`486`, `603`…).
        status: Option<u16>,
    },
    /// The party answered and was connected to the caller: from here the recording's right
    /// channel is the party.
    Bridged {
        /// Who answered (the SIP URI rung).
        party: String,
    },
    /// The bridge ended.
    Unbridged {
        /// Who was connected.
        party: String,
        /// Connected time, ms.
        talk_ms: u64,
        /// Who hung up first: `caller`, `party`, or `zvonar` (shutdown, media loss).
        ended_by: String,
    },
    /// The robot passed the call to a person: it enters a queue (robot → operator).
    HandedOver {
        /// The queue flow (`[flow.NAME]` with `kind = "queue"`).
        flow: String,
        /// Why: `asked`, `not_understood`, `emergency` ([`crate::HandoverReason`]).
        reason: String,
    },
    /// The call entered an operator queue (ACD) and waits there with comfort audio.
    QueueEntered {
        /// The queue (`[[queue]] name`).
        queue: String,
        /// Emergency calls wait ahead of the others.
        emergency: bool,
    },
    /// The waiting caller was told the position and expected wait.
    QueueAnnounced {
        /// 1-based position (never larger than the one announced before).
        position: u32,
        /// Expected wait, s; `None` when no operator is working the queue (not said).
        expected_wait_s: Option<u32>,
    },
    /// The call left the queue for the overflow flow (the robot takes a callback request).
    QueueOverflowed {
        /// The flow it goes to.
        flow: String,
        /// `max_wait` or `unstaffed`.
        reason: String,
    },
    /// An operator answered: the caller is connected to the agent.
    AgentConnected {
        /// The agent's login.
        agent: String,
    },
    /// The agent transferred the caller (blind transfer, REFER): the agent's part of the
    /// call ended; what follows (`dialling`, `bridged`, `queue_entered`…) is the new party's.
    Transferred {
        /// The transferring agent's login.
        agent: String,
        /// Where to: `account:102`, `queue:operators`, `flow:dispatcher`,
        /// `number:+74951234567`.
        target: String,
    },
    /// The flow ended with this outcome (`ticket_created`, `callback_requested`,
    /// `outage_linked`, `silence`, `caller_hangup`…).
    Outcome {
        /// Stable outcome code.
        outcome: String,
    },
    /// zvonar placed an outgoing call of its own (a campaign, the rating robot, an emergency
    /// call-out to staff on duty): the CDR's `direction` becomes `outbound`. Published
    /// before dialling; [`CallEventKind::Answered`] (with the recording) follows on answer
    /// and [`CallEventKind::OutboundEnded`] at the end.
    OutboundStarted {
        /// Who is called: E.164 number or SIP URI.
        callee: String,
        /// `campaign`, `rating` or `duty`.
        flow: String,
        /// The campaign (`campaigns.id`) for campaign and rating calls.
        campaign_id: Option<i64>,
        /// The ticket the call is about (the emergency ticket of a duty call-out).
        ticket_id: Option<i64>,
    },
    /// An outgoing call of [`CallEventKind::OutboundStarted`] ended.
    OutboundEnded {
        /// `answered`, `answering_machine`, `busy`, `no_answer`, `rejected`,
        /// `invalid_number`, `cancelled` (by zvonar), `failed`, `interrupted`.
        outcome: String,
        /// The SIP final response when the far end gave one (`486`, `603`…).
        sip_code: Option<u16>,
        /// Recording path relative to the recordings directory, when answered.
        recording: Option<String>,
    },
    /// The call ended.
    Ended {
        /// How it ended.
        disposition: Disposition,
        /// Hangup cause: `caller_bye`, `robot_bye`, `cancel`, `no_ack`, SIP status, …
        cause: String,
        /// Recording path relative to the recordings directory, when anything was recorded.
        recording: Option<String>,
        /// Answered duration, ms (0 when not answered).
        talk_ms: u64,
    },
}
