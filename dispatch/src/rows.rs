//! Database rows and their decoding into the public types.

use crate::model::{Callback, Cdr, Ticket, TimelineEntry};
use crate::store::QueryError;
use chrono::{DateTime, Utc};
use sqlx::FromRow;
use zvonar_models::{
    AccountId, BuildingId, CallId, Disposition, OutageId, PhoneNumber, PremisesId, TicketId,
};

fn phone(s: Option<String>) -> Result<Option<PhoneNumber>, QueryError> {
    s.map(|s| PhoneNumber::parse_ru(&s).map_err(|e| QueryError::Corrupt(format!("phone: {e}"))))
        .transpose()
}

fn disposition(s: Option<String>) -> Result<Option<Disposition>, QueryError> {
    s.map(|s| match s.as_str() {
        "answered" => Ok(Disposition::Answered),
        "missed" => Ok(Disposition::Missed),
        "rejected" => Ok(Disposition::Rejected),
        "failed" => Ok(Disposition::Failed),
        other => Err(QueryError::Corrupt(format!("disposition {other:?}"))),
    })
    .transpose()
}

/// Column list matching [`TicketRow`], for `concat!` into static SQL.
macro_rules! ticket_columns {
    () => {
        "id, number, created_at, call_id, caller, account_id, building_id, premises_id, \
         apartment, topic, emergency, description, outage_id, unfinished, status, due_at, \
         department, executor_id, executor, result, updated_at, created_by"
    };
}
pub(crate) use ticket_columns;

#[derive(FromRow)]
pub(crate) struct TicketRow {
    id: i64,
    number: Option<String>,
    created_at: DateTime<Utc>,
    call_id: Option<String>,
    caller: Option<String>,
    account_id: Option<i64>,
    building_id: Option<i64>,
    premises_id: Option<i64>,
    apartment: Option<String>,
    topic: String,
    emergency: bool,
    description: String,
    outage_id: Option<i64>,
    unfinished: bool,
    status: String,
    due_at: Option<DateTime<Utc>>,
    department: Option<String>,
    executor_id: Option<i64>,
    executor: Option<String>,
    result: Option<String>,
    updated_at: Option<DateTime<Utc>>,
    created_by: Option<String>,
}

impl TryFrom<TicketRow> for Ticket {
    type Error = QueryError;
    fn try_from(r: TicketRow) -> Result<Self, QueryError> {
        Ok(Ticket {
            id: TicketId(r.id),
            number: r.number.unwrap_or_else(|| r.id.to_string()),
            created_at: r.created_at,
            call_id: r.call_id.map(CallId),
            caller: phone(r.caller)?,
            account_id: r.account_id.map(AccountId),
            building_id: r.building_id.map(BuildingId),
            premises_id: r.premises_id.map(PremisesId),
            apartment: r.apartment,
            topic: r.topic,
            emergency: r.emergency,
            description: r.description,
            outage_id: r.outage_id.map(OutageId),
            unfinished: r.unfinished,
            status: r.status,
            due_at: r.due_at,
            department: r.department,
            executor_id: r.executor_id,
            executor: r.executor,
            result: r.result,
            updated_at: r.updated_at,
            created_by: r.created_by,
        })
    }
}

/// Column list matching [`CdrRow`], for `concat!` into static SQL.
macro_rules! cdr_columns {
    () => {
        "call_id, caller, caller_raw, callee, flow, transport, started_at, answered_at, \
         ended_at, duration_ms, talk_ms, disposition, hangup_cause, recording, ticket_id, \
         recording_deleted_at, party, answered_by, bridged_ms, direction, campaign_id, outcome"
    };
}
pub(crate) use cdr_columns;

#[derive(FromRow)]
pub(crate) struct CdrRow {
    call_id: String,
    caller: Option<String>,
    caller_raw: Option<String>,
    callee: Option<String>,
    flow: Option<String>,
    transport: Option<String>,
    started_at: Option<DateTime<Utc>>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    talk_ms: Option<i64>,
    disposition: Option<String>,
    hangup_cause: Option<String>,
    recording: Option<String>,
    ticket_id: Option<i64>,
    recording_deleted_at: Option<DateTime<Utc>>,
    party: Option<String>,
    answered_by: Option<String>,
    bridged_ms: Option<i64>,
    direction: Option<String>,
    campaign_id: Option<i64>,
    outcome: Option<String>,
}

impl TryFrom<CdrRow> for Cdr {
    type Error = QueryError;
    fn try_from(r: CdrRow) -> Result<Self, QueryError> {
        Ok(Cdr {
            call_id: CallId(r.call_id),
            caller: phone(r.caller)?,
            caller_raw: r.caller_raw,
            callee: r.callee,
            flow: r.flow,
            transport: r.transport,
            started_at: r.started_at,
            answered_at: r.answered_at,
            ended_at: r.ended_at,
            duration_ms: r.duration_ms,
            talk_ms: r.talk_ms,
            disposition: disposition(r.disposition)?,
            hangup_cause: r.hangup_cause,
            recording: r.recording,
            recording_deleted_at: r.recording_deleted_at,
            ticket_id: r.ticket_id.map(TicketId),
            party: r.party,
            answered_by: r.answered_by,
            bridged_ms: r.bridged_ms,
            direction: r.direction.unwrap_or_else(|| "inbound".to_string()),
            campaign_id: r.campaign_id,
            outcome: r.outcome,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct EventRow {
    id: i64,
    call_id: String,
    at: DateTime<Utc>,
    kind: String,
    payload: String,
}

impl TryFrom<EventRow> for TimelineEntry {
    type Error = QueryError;
    fn try_from(r: EventRow) -> Result<Self, QueryError> {
        let payload = serde_json::from_str(&r.payload)
            .map_err(|e| QueryError::Corrupt(format!("event {} payload: {e}", r.id)))?;
        Ok(TimelineEntry {
            id: r.id,
            call_id: CallId(r.call_id),
            at: r.at,
            kind: r.kind,
            payload,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct CallbackRow {
    id: i64,
    call_id: Option<String>,
    caller: Option<String>,
    account_id: Option<i64>,
    heard: String,
    created_at: DateTime<Utc>,
    status: String,
}

impl TryFrom<CallbackRow> for Callback {
    type Error = QueryError;
    fn try_from(r: CallbackRow) -> Result<Self, QueryError> {
        Ok(Callback {
            id: r.id,
            call_id: r.call_id.map(CallId),
            caller: phone(r.caller)?,
            account_id: r.account_id.map(AccountId),
            heard: r.heard,
            created_at: r.created_at,
            status: r.status,
        })
    }
}

/// Decodes a list of rows.
pub(crate) fn decode_all<R, T>(rows: Vec<R>) -> Result<Vec<T>, QueryError>
where
    T: TryFrom<R, Error = QueryError>,
{
    rows.into_iter().map(T::try_from).collect()
}
