//! What dispatch stores and returns: tickets, CDRs, timelines, callbacks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zvonar_models::{
    AccountId, BuildingId, CallId, Disposition, OutageId, PhoneNumber, PremisesId, TicketId,
};

/// A ticket (заявка) as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// Row id.
    pub id: TicketId,
    /// Human-facing number the robot reads out, e.g. «1024» (decimal digits, from 1001 up).
    pub number: String,
    /// When it was filed (UTC).
    pub created_at: DateTime<Utc>,
    /// The call it was filed on; `None` for tickets entered by operators.
    pub call_id: Option<CallId>,
    /// Caller number, when known.
    pub caller: Option<PhoneNumber>,
    /// Account (ЛС), when identified.
    pub account_id: Option<AccountId>,
    /// Building, when identified.
    pub building_id: Option<BuildingId>,
    /// Premises, when identified.
    pub premises_id: Option<PremisesId>,
    /// Apartment as the caller said it.
    pub apartment: Option<String>,
    /// Topic code from the dialplan (`leak`, `electricity`, …).
    pub topic: String,
    /// Emergency (аварийная) request.
    pub emergency: bool,
    /// What the caller said.
    pub description: String,
    /// The outage the request is linked to.
    pub outage_id: Option<OutageId>,
    /// The call ended before the request was complete.
    pub unfinished: bool,
    /// Workflow status ([`TICKET_STATUSES`]); `new` when filed.
    pub status: String,
    /// Deadline from the topic's SLA ([`crate::TicketSla`]); `None` when filed without one.
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    /// Department it is assigned to (a name from `[tickets] departments`).
    #[serde(default)]
    pub department: Option<String>,
    /// Executor's user id (access crate), when assigned to a person.
    #[serde(default)]
    pub executor_id: Option<i64>,
    /// Executor's name as it was when assigned.
    #[serde(default)]
    pub executor: Option<String>,
    /// What was done (set when completed).
    #[serde(default)]
    pub result: Option<String>,
    /// Last change (UTC); `None` when never changed since filing.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// Login of the person who entered it; `None` when the robot filed it.
    #[serde(default)]
    pub created_by: Option<String>,
}

impl Ticket {
    /// Open (not done, closed or cancelled) and past its deadline at `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        !FINISHED_STATUSES.contains(&self.status.as_str()) && self.due_at.is_some_and(|d| d < now)
    }
}

/// Every workflow status, in the order of the work: `new` (filed), `in_progress` (taken
/// into work), `done` (completed with a result), `closed` (checked and closed),
/// `cancelled`.
pub const TICKET_STATUSES: [&str; 5] = ["new", "in_progress", "done", "closed", "cancelled"];

/// Statuses in which no work is due any more: a ticket in them is never overdue.
pub const FINISHED_STATUSES: [&str; 3] = ["done", "closed", "cancelled"];

/// Statuses a ticket workflow sets when the work is over. A ticket in any other status
/// (today every ticket: the robot files them as `new` and nothing closes them yet) is open.
pub const CLOSED_STATUSES: [&str; 2] = ["closed", "cancelled"];

/// Which tickets [`crate::DispatchStore::list_tickets`] returns. The default returns all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TicketFilter {
    /// `Some(true)`: only emergency (аварийные) tickets; `Some(false)`: only the others.
    pub emergency: Option<bool>,
    /// `Some(codes)`: only tickets with one of these topics (a user's visibility);
    /// `None`: every topic.
    pub topics: Option<Vec<String>>,
    /// `Some(ids)`: only tickets about one of these buildings (tickets without a building
    /// are then left out); `None`: every building.
    pub buildings: Option<Vec<BuildingId>>,
    /// Only this status ([`TICKET_STATUSES`]).
    pub status: Option<String>,
    /// Only tickets open and past their deadline at this time.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only this topic (within `topics`, when both are set).
    pub topic: Option<String>,
    /// Only this building.
    pub building: Option<BuildingId>,
    /// Only tickets assigned to this executor (user id).
    pub executor_id: Option<i64>,
    /// Only tickets assigned to this department.
    pub department: Option<String>,
    /// Only tickets filed at or after this time.
    pub created_from: Option<DateTime<Utc>>,
    /// Only tickets filed before this time.
    pub created_before: Option<DateTime<Utc>>,
}

impl TicketFilter {
    /// Only emergency tickets (`true`) or only the others (`false`).
    pub fn emergency(emergency: bool) -> Self {
        TicketFilter {
            emergency: Some(emergency),
            ..TicketFilter::default()
        }
    }

    /// Limits the list to these topics (`None`: all).
    pub fn with_topics(mut self, topics: Option<Vec<String>>) -> Self {
        self.topics = topics;
        self
    }

    /// Limits the list to these buildings (`None`: all).
    pub fn with_buildings(mut self, buildings: Option<Vec<BuildingId>>) -> Self {
        self.buildings = buildings;
        self
    }
}

/// A change to a ticket ([`crate::DispatchStore::update_ticket`]); `None` leaves a field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TicketChange {
    /// New workflow status (`done`, `closed`, …).
    pub status: Option<String>,
    /// New topic code.
    pub topic: Option<String>,
    /// New assignment: replaces both the department and the executor.
    pub assignment: Option<Assignment>,
    /// What was done.
    pub result: Option<String>,
}

/// Who a ticket is assigned to ([`TicketChange::assignment`]): a department, a person, or
/// both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Department name.
    pub department: Option<String>,
    /// Executor: user id and name.
    pub executor: Option<(i64, String)>,
}

impl TicketChange {
    /// Sets the status.
    pub fn status(status: &str) -> Self {
        TicketChange {
            status: Some(status.into()),
            ..TicketChange::default()
        }
    }

    /// Sets the topic.
    pub fn topic(topic: &str) -> Self {
        TicketChange {
            topic: Some(topic.into()),
            ..TicketChange::default()
        }
    }

    /// Assigns the ticket (department and executor replaced).
    pub fn assign(assignment: Assignment) -> Self {
        TicketChange {
            assignment: Some(assignment),
            ..TicketChange::default()
        }
    }

    /// Also records the result of the work.
    pub fn with_result(mut self, result: &str) -> Self {
        self.result = Some(result.into());
        self
    }
}

/// How to look a ticket up: by row id or by its human-facing number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TicketRef {
    /// By [`TicketId`].
    Id(TicketId),
    /// By [`Ticket::number`] («1024»).
    Number(String),
}

/// One entry of a call's timeline (the `call_events` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Row id; entries of one call are in id order.
    pub id: i64,
    /// The call.
    pub call_id: CallId,
    /// When it happened (UTC).
    pub at: DateTime<Utc>,
    /// The `CallEventKind` serde tag in snake_case (`started`, `recognised`,
    /// `ticket_requested`, `ended`, …), or `ticket_filed` written by
    /// [`crate::DispatchStore::file_ticket`].
    pub kind: String,
    /// The event's fields as a JSON object, without the tag; for `ticket_filed`
    /// `{"ticket_id": 1024, "number": "1024"}`.
    pub payload: serde_json::Value,
}

/// A call detail record. Fields are `None` until the event that fills them is recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cdr {
    /// The call.
    pub call_id: CallId,
    /// Caller, when the number normalised to E.164.
    pub caller: Option<PhoneNumber>,
    /// Caller user part as received.
    pub caller_raw: Option<String>,
    /// Dialled number.
    pub callee: Option<String>,
    /// Call flow chosen by the dialplan.
    pub flow: Option<String>,
    /// `udp`, `tcp`, …
    pub transport: Option<String>,
    /// INVITE routed (UTC).
    pub started_at: Option<DateTime<Utc>>,
    /// Answered (UTC); `None` for missed and rejected calls.
    pub answered_at: Option<DateTime<Utc>>,
    /// Ended (UTC); `None` while the call is up (or if the engine died mid-call).
    pub ended_at: Option<DateTime<Utc>>,
    /// Start to end, ms.
    pub duration_ms: Option<i64>,
    /// Answer to end, ms (0 when not answered).
    pub talk_ms: Option<i64>,
    /// How it ended.
    pub disposition: Option<Disposition>,
    /// Hangup cause (`caller_bye`, `cancel`, `487`, …).
    pub hangup_cause: Option<String>,
    /// Recording path relative to the recordings directory; `None` when nothing was recorded.
    pub recording: Option<String>,
    /// When the retention sweep deleted the recording (UTC); `None` while it is kept.
    pub recording_deleted_at: Option<DateTime<Utc>>,
    /// The first ticket filed on this call.
    pub ticket_id: Option<TicketId>,
    /// The last party an outgoing leg rang for this call (a SIP URI; B2BUA calls only).
    pub party: Option<String>,
    /// The party that answered and was connected to the caller.
    pub answered_by: Option<String>,
    /// Time the caller was connected to `answered_by`, ms.
    pub bridged_ms: Option<i64>,
    /// `inbound` (a call that came in), or `outbound` (placed by zvonar: a campaign, the
    /// rating robot, a duty call-out; `caller` is then empty and `callee` the person called).
    pub direction: String,
    /// The campaign (or rating round) of an outbound call.
    pub campaign_id: Option<i64>,
    /// An outbound call's outcome: `answered`, `answering_machine`, `busy`, `no_answer`,
    /// `invalid_number`, `failed`, `interrupted`; `None` for inbound calls.
    pub outcome: Option<String>,
}

/// A ticket with the timeline of the call it was filed on (empty when it has no call).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketDetails {
    /// The ticket.
    pub ticket: Ticket,
    /// The call's events in order.
    pub timeline: Vec<TimelineEntry>,
}

/// A CDR with its timeline and the tickets filed on the call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallDetails {
    /// The CDR.
    pub cdr: Cdr,
    /// The call's events in order.
    pub timeline: Vec<TimelineEntry>,
    /// Tickets filed on the call, in order.
    pub tickets: Vec<Ticket>,
}

/// A request to call a resident back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Callback {
    /// Row id.
    pub id: i64,
    /// The call it was requested on.
    pub call_id: Option<CallId>,
    /// Number to call back.
    pub caller: Option<PhoneNumber>,
    /// Account, when identified.
    pub account_id: Option<AccountId>,
    /// What the robot heard before the caller asked for an operator.
    pub heard: String,
    /// When it was requested (UTC).
    pub created_at: DateTime<Utc>,
    /// `pending` when created.
    pub status: String,
}
