//! [`DispatchStore`] on SQLite.

use crate::missed::MissedSettings;
use crate::model::{
    CallDetails, Callback, Cdr, Ticket, TicketChange, TicketDetails, TicketFilter, TicketRef,
    TimelineEntry, CLOSED_STATUSES,
};
use crate::rows::{
    cdr_columns, decode_all, ticket_columns, CallbackRow, CdrRow, EventRow, TicketRow,
};
use crate::store::{DispatchStore, FileTicketError, QueryError, RecordError};
use crate::workflow::TicketSla;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqlitePool;
use sqlx::SqliteConnection;
use zvonar_models::{
    CallEvent, CallEventKind, CallId, CallbackRequest, Disposition, TicketId, TicketRequest,
};

/// Largest page a list method returns.
const MAX_LIMIT: u32 = 1000;

/// [`DispatchStore`] on a SQLite pool migrated with [`crate::migrate`].
#[derive(Clone, Debug)]
pub struct SqliteDispatchStore {
    pub(crate) pool: SqlitePool,
    sla: Option<std::sync::Arc<TicketSla>>,
    missed: std::sync::Arc<MissedSettings>,
}

impl SqliteDispatchStore {
    /// Wraps a pool; the dispatch migrations must have been applied. Missed calls follow
    /// [`MissedSettings::default`] until [`SqliteDispatchStore::with_missed`].
    pub fn new(pool: SqlitePool) -> Self {
        SqliteDispatchStore {
            pool,
            sla: None,
            missed: std::sync::Arc::default(),
        }
    }

    /// Gives every ticket filed from now on (by the robot or a person) a deadline
    /// ([`Ticket::due_at`]) from `sla`.
    pub fn with_sla(mut self, sla: TicketSla) -> Self {
        self.sla = Some(std::sync::Arc::new(sla));
        self
    }

    /// The `[missed]` settings: callback time, working hours, attempts, after-hours flows.
    pub fn with_missed(mut self, settings: MissedSettings) -> Self {
        self.missed = std::sync::Arc::new(settings);
        self
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(crate) fn missed_settings(&self) -> &MissedSettings {
        &self.missed
    }
}

/// The serde tag of an event kind and its other fields as a JSON object.
fn split_kind(kind: &CallEventKind) -> Result<(String, serde_json::Value), serde_json::Error> {
    let mut value = serde_json::to_value(kind)?;
    let tag = value
        .as_object_mut()
        .and_then(|o| o.remove("type"))
        .and_then(|t| t.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string());
    Ok((tag, value))
}

async fn ensure_call(conn: &mut SqliteConnection, call_id: &CallId) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO calls (call_id) VALUES (?) ON CONFLICT (call_id) DO NOTHING")
        .bind(&call_id.0)
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert_event(
    conn: &mut SqliteConnection,
    call_id: &CallId,
    at: DateTime<Utc>,
    kind: &str,
    payload: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO call_events (call_id, at, kind, payload) VALUES (?, ?, ?, ?)")
        .bind(&call_id.0)
        .bind(at)
        .bind(kind)
        .bind(payload.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert_callback(
    conn: &mut SqliteConnection,
    call_id: Option<&CallId>,
    at: DateTime<Utc>,
    req: &CallbackRequest,
) -> Result<Callback, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO callbacks (call_id, caller, account_id, heard, created_at)
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(call_id.map(|c| c.0.as_str()))
    .bind(req.caller.as_ref().map(|p| p.as_e164()))
    .bind(req.account_id.map(|a| a.0))
    .bind(&req.heard)
    .bind(at)
    .fetch_one(conn)
    .await?;
    Ok(Callback {
        id,
        call_id: call_id.cloned(),
        caller: req.caller.clone(),
        account_id: req.account_id,
        heard: req.heard.clone(),
        created_at: at,
        status: "pending".to_string(),
    })
}

/// Applies the CDR piece an event carries (if any).
async fn apply_cdr_piece(
    conn: &mut SqliteConnection,
    event: &CallEvent,
    missed: &MissedSettings,
) -> Result<(), sqlx::Error> {
    let id = &event.call_id.0;
    match &event.kind {
        CallEventKind::Started {
            caller,
            caller_raw,
            callee,
            transport,
            flow,
        } => {
            sqlx::query(
                "UPDATE calls SET caller = ?, caller_raw = ?, callee = ?, flow = ?, transport = ?,
                 started_at = COALESCE(started_at, ?) WHERE call_id = ?",
            )
            .bind(caller.as_ref().map(|p| p.as_e164()))
            .bind(caller_raw)
            .bind(callee)
            .bind(flow)
            .bind(transport)
            .bind(event.at)
            .bind(id)
            .execute(conn)
            .await?;
        }
        CallEventKind::Answered { recording } => {
            sqlx::query("UPDATE calls SET answered_at = ?, recording = ? WHERE call_id = ?")
                .bind(event.at)
                .bind(recording)
                .bind(id)
                .execute(conn)
                .await?;
        }
        CallEventKind::CallbackRequested(req) => {
            insert_callback(conn, Some(&event.call_id), event.at, req).await?;
        }
        CallEventKind::Dialling { party } => {
            sqlx::query("UPDATE calls SET party = ? WHERE call_id = ?")
                .bind(party)
                .bind(id)
                .execute(conn)
                .await?;
        }
        CallEventKind::Bridged { party } => {
            sqlx::query("UPDATE calls SET party = ?, answered_by = ? WHERE call_id = ?")
                .bind(party)
                .bind(party)
                .bind(id)
                .execute(conn)
                .await?;
        }
        CallEventKind::Unbridged { talk_ms, .. } => {
            sqlx::query(
                "UPDATE calls SET bridged_ms = COALESCE(bridged_ms, 0) + ? WHERE call_id = ?",
            )
            .bind(i64::try_from(*talk_ms).unwrap_or(i64::MAX))
            .bind(id)
            .execute(conn)
            .await?;
        }
        CallEventKind::OutboundStarted {
            callee,
            flow,
            campaign_id,
            ticket_id,
        } => {
            sqlx::query(
                "UPDATE calls SET direction = 'outbound', callee = ?, flow = ?, campaign_id = ?,
                 ticket_id = COALESCE(ticket_id, ?), started_at = COALESCE(started_at, ?)
                 WHERE call_id = ?",
            )
            .bind(callee)
            .bind(flow)
            .bind(campaign_id)
            .bind(ticket_id)
            .bind(event.at)
            .bind(id)
            .execute(conn)
            .await?;
        }
        CallEventKind::OutboundEnded {
            outcome,
            sip_code,
            recording,
        } => {
            type Times = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);
            let times: Option<Times> =
                sqlx::query_as("SELECT started_at, answered_at FROM calls WHERE call_id = ?")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            let (started, answered) = times.unwrap_or_default();
            let ms = |from: Option<DateTime<Utc>>| {
                from.map(|s| (event.at - s).num_milliseconds().max(0))
            };
            // The outcome in the CDR's terms: answered, or not reached (`missed`), or broken.
            let disposition = match outcome.as_str() {
                "answered" | "answering_machine" => Disposition::Answered,
                "failed" | "interrupted" => Disposition::Failed,
                _ => Disposition::Missed,
            };
            sqlx::query(
                "UPDATE calls SET ended_at = ?, duration_ms = ?, talk_ms = ?, disposition = ?,
                 hangup_cause = ?, outcome = ?, recording = COALESCE(?, recording)
                 WHERE call_id = ?",
            )
            .bind(event.at)
            .bind(ms(started))
            .bind(ms(answered).unwrap_or(0))
            .bind(disposition.as_str())
            .bind(
                sip_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| outcome.clone()),
            )
            .bind(outcome)
            .bind(recording)
            .bind(id)
            .execute(conn)
            .await?;
        }
        CallEventKind::Ended {
            disposition,
            cause,
            recording,
            talk_ms,
        } => {
            let started: Option<(Option<DateTime<Utc>>,)> =
                sqlx::query_as("SELECT started_at FROM calls WHERE call_id = ?")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            let duration_ms = started
                .and_then(|(s,)| s)
                .map(|s| (event.at - s).num_milliseconds().max(0));
            sqlx::query(
                "UPDATE calls SET ended_at = ?, duration_ms = ?, talk_ms = ?, disposition = ?,
                 hangup_cause = ?, recording = ? WHERE call_id = ?",
            )
            .bind(event.at)
            .bind(duration_ms)
            .bind(i64::try_from(*talk_ms).unwrap_or(i64::MAX))
            .bind(disposition.as_str())
            .bind(cause)
            .bind(recording)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            crate::missed::after_call_ended(conn, &event.call_id, event.at, missed).await?;
        }
        _ => {}
    }
    Ok(())
}

impl SqliteDispatchStore {
    async fn timeline(&self, call_id: &str) -> Result<Vec<TimelineEntry>, QueryError> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT id, call_id, at, kind, payload FROM call_events WHERE call_id = ? ORDER BY at, id",
        )
        .bind(call_id)
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows)
    }

    /// Files a ticket (see [`DispatchStore::file_ticket`]); `created_by`: the login of the
    /// person who entered it, `None` for the robot. The deadline comes from the SLA.
    pub(crate) async fn insert_ticket(
        &self,
        call_id: Option<&CallId>,
        at: DateTime<Utc>,
        req: &TicketRequest,
        created_by: Option<&str>,
    ) -> Result<Ticket, FileTicketError> {
        let topic = req.topic.trim();
        if topic.is_empty() {
            return Err(FileTicketError::EmptyTopic);
        }
        let due_at = self.sla.as_ref().map(|s| s.due(topic, req.emergency, at));
        let mut tx = self.pool.begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO tickets (created_at, call_id, caller, account_id, building_id, premises_id,
                 apartment, topic, emergency, description, outage_id, unfinished, due_at, created_by)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(at)
        .bind(call_id.map(|c| c.0.as_str()))
        .bind(req.caller.as_ref().map(|p| p.as_e164()))
        .bind(req.account_id.map(|a| a.0))
        .bind(req.building_id.map(|b| b.0))
        .bind(req.premises_id.map(|p| p.0))
        .bind(req.apartment.as_deref())
        .bind(topic)
        .bind(req.emergency)
        .bind(&req.description)
        .bind(req.outage_id.map(|o| o.0))
        .bind(req.unfinished)
        .bind(due_at)
        .bind(created_by)
        .fetch_one(&mut *tx)
        .await?;
        let number = id.to_string();
        sqlx::query("UPDATE tickets SET number = ? WHERE id = ?")
            .bind(&number)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Some(call_id) = call_id {
            ensure_call(&mut tx, call_id).await?;
            sqlx::query("UPDATE calls SET ticket_id = COALESCE(ticket_id, ?) WHERE call_id = ?")
                .bind(id)
                .bind(&call_id.0)
                .execute(&mut *tx)
                .await?;
            let mut payload = serde_json::to_value(req).unwrap_or(serde_json::Value::Null);
            if let Some(o) = payload.as_object_mut() {
                o.insert("ticket_id".into(), id.into());
                o.insert("number".into(), number.clone().into());
            }
            insert_event(&mut tx, call_id, at, "ticket_filed", &payload).await?;
        }
        tx.commit().await?;
        tracing::info!(ticket = %number, topic, emergency = req.emergency, "ticket filed");
        Ok(Ticket {
            id: TicketId(id),
            number,
            created_at: at,
            call_id: call_id.cloned(),
            caller: req.caller.clone(),
            account_id: req.account_id,
            building_id: req.building_id,
            premises_id: req.premises_id,
            apartment: req.apartment.clone(),
            topic: topic.to_string(),
            emergency: req.emergency,
            description: req.description.clone(),
            outage_id: req.outage_id,
            unfinished: req.unfinished,
            status: "new".to_string(),
            due_at,
            department: None,
            executor_id: None,
            executor: None,
            result: None,
            updated_at: None,
            created_by: created_by.map(str::to_string),
        })
    }
}

#[async_trait]
impl DispatchStore for SqliteDispatchStore {
    async fn file_ticket(
        &self,
        call_id: Option<&CallId>,
        at: DateTime<Utc>,
        req: &TicketRequest,
    ) -> Result<Ticket, FileTicketError> {
        self.insert_ticket(call_id, at, req, None).await
    }

    async fn record_event(&self, key: &str, event: &CallEvent) -> Result<bool, RecordError> {
        let (kind, payload) = split_kind(&event.kind)?;
        let mut tx = self.pool.begin().await?;
        // The keyed timeline row first: a write is the first statement, so the transaction
        // takes the write lock at once, and a replayed event stops here.
        let inserted = sqlx::query(
            "INSERT INTO call_events (call_id, at, kind, payload, event_key) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (event_key) DO NOTHING",
        )
        .bind(&event.call_id.0)
        .bind(event.at)
        .bind(&kind)
        .bind(payload.to_string())
        .bind(key)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if !inserted {
            tx.rollback().await?;
            return Ok(false);
        }
        ensure_call(&mut tx, &event.call_id).await?;
        apply_cdr_piece(&mut tx, event, &self.missed).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_callback(
        &self,
        call_id: Option<&CallId>,
        at: DateTime<Utc>,
        request: &CallbackRequest,
    ) -> Result<Callback, RecordError> {
        let mut conn = self.pool.acquire().await?;
        Ok(insert_callback(&mut conn, call_id, at, request).await?)
    }

    async fn list_tickets(
        &self,
        filter: &TicketFilter,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Ticket>, QueryError> {
        let mut q = sqlx::QueryBuilder::new(concat!("SELECT ", ticket_columns!(), " FROM tickets"));
        push_filter(&mut q, filter);
        // Ids grow with filing time.
        q.push(" ORDER BY (emergency AND status NOT IN (")
            .push_bind(CLOSED_STATUSES[0])
            .push(", ")
            .push_bind(CLOSED_STATUSES[1])
            .push(")) DESC, id DESC LIMIT ")
            .push_bind(limit.min(MAX_LIMIT))
            .push(" OFFSET ")
            .push_bind(offset);
        let rows: Vec<TicketRow> = q.build_query_as().fetch_all(&self.pool).await?;
        decode_all(rows)
    }

    async fn update_ticket(
        &self,
        id: TicketId,
        change: &TicketChange,
    ) -> Result<Option<Ticket>, QueryError> {
        let nonempty = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let assign = change.assignment.as_ref();
        let n = sqlx::query(
            "UPDATE tickets SET status = COALESCE(?1, status), topic = COALESCE(?2, topic),
                 department = CASE WHEN ?3 THEN ?4 ELSE department END,
                 executor_id = CASE WHEN ?3 THEN ?5 ELSE executor_id END,
                 executor = CASE WHEN ?3 THEN ?6 ELSE executor END,
                 result = COALESCE(?7, result), updated_at = ?8
             WHERE id = ?9",
        )
        .bind(nonempty(&change.status))
        .bind(nonempty(&change.topic))
        .bind(assign.is_some())
        .bind(assign.and_then(|a| nonempty(&a.department)))
        .bind(assign.and_then(|a| a.executor.as_ref().map(|e| e.0)))
        .bind(assign.and_then(|a| a.executor.as_ref().map(|e| e.1.clone())))
        .bind(nonempty(&change.result))
        .bind(Utc::now())
        .bind(id.0)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        let row: Option<TicketRow> = sqlx::query_as(concat!(
            "SELECT ",
            ticket_columns!(),
            " FROM tickets WHERE id = ?"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Ticket::try_from).transpose()
    }

    async fn ticket(&self, which: &TicketRef) -> Result<Option<TicketDetails>, QueryError> {
        let row: Option<TicketRow> = match which {
            TicketRef::Id(id) => {
                sqlx::query_as(concat!(
                    "SELECT ",
                    ticket_columns!(),
                    " FROM tickets WHERE id = ?"
                ))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await?
            }
            TicketRef::Number(n) => {
                sqlx::query_as(concat!(
                    "SELECT ",
                    ticket_columns!(),
                    " FROM tickets WHERE number = ?"
                ))
                .bind(n.trim())
                .fetch_optional(&self.pool)
                .await?
            }
        };
        let Some(row) = row else { return Ok(None) };
        let ticket = Ticket::try_from(row)?;
        let timeline = match &ticket.call_id {
            Some(c) => self.timeline(&c.0).await?,
            None => Vec::new(),
        };
        Ok(Some(TicketDetails { ticket, timeline }))
    }

    async fn list_calls(&self, limit: u32, offset: u32) -> Result<Vec<Cdr>, QueryError> {
        let rows: Vec<CdrRow> = sqlx::query_as(concat!(
            "SELECT ",
            cdr_columns!(),
            " FROM calls ORDER BY rowid DESC LIMIT ? OFFSET ?"
        ))
        .bind(limit.min(MAX_LIMIT))
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows)
    }

    async fn call(&self, call_id: &CallId) -> Result<Option<CallDetails>, QueryError> {
        let row: Option<CdrRow> = sqlx::query_as(concat!(
            "SELECT ",
            cdr_columns!(),
            " FROM calls WHERE call_id = ?"
        ))
        .bind(&call_id.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let tickets: Vec<TicketRow> = sqlx::query_as(concat!(
            "SELECT ",
            ticket_columns!(),
            " FROM tickets WHERE call_id = ? ORDER BY id"
        ))
        .bind(&call_id.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(CallDetails {
            cdr: Cdr::try_from(row)?,
            timeline: self.timeline(&call_id.0).await?,
            tickets: decode_all(tickets)?,
        }))
    }

    async fn recordings_before(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(CallId, String)>, QueryError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            // Outgoing calls of the rating robot have no `Started` (no INVITE came in): their
            // answer time counts.
            "SELECT call_id, recording FROM calls
             WHERE recording IS NOT NULL AND recording_deleted_at IS NULL
               AND COALESCE(started_at, answered_at) < ?
             ORDER BY COALESCE(started_at, answered_at) LIMIT ?",
        )
        .bind(before)
        .bind(i64::from(limit.min(1000)))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(c, r)| (CallId(c), r)).collect())
    }

    async fn mark_recording_deleted(
        &self,
        call_id: &CallId,
        at: DateTime<Utc>,
    ) -> Result<(), RecordError> {
        sqlx::query("UPDATE calls SET recording_deleted_at = ? WHERE call_id = ?")
            .bind(at)
            .bind(&call_id.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_callbacks(&self, limit: u32, offset: u32) -> Result<Vec<Callback>, QueryError> {
        let rows: Vec<CallbackRow> = sqlx::query_as(
            "SELECT id, call_id, caller, account_id, heard, created_at, status FROM callbacks
             ORDER BY id DESC LIMIT ? OFFSET ?",
        )
        .bind(limit.min(MAX_LIMIT))
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows)
    }
}

/// Appends the `WHERE` clause of `f` (nothing when it filters nothing). Times are compared
/// with `julianday()`: stored RFC 3339 texts may differ in fractional digits.
pub(crate) fn push_filter(q: &mut sqlx::QueryBuilder<sqlx::Sqlite>, f: &TicketFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(e) = f.emergency {
        q.push(" AND emergency = ").push_bind(e);
    }
    if let Some(t) = &f.topics {
        q.push(" AND topic IN (SELECT value FROM json_each(")
            .push_bind(serde_json::json!(t).to_string())
            .push("))");
    }
    if let Some(b) = &f.buildings {
        let ids: Vec<i64> = b.iter().map(|b| b.0).collect();
        q.push(" AND building_id IN (SELECT value FROM json_each(")
            .push_bind(serde_json::json!(ids).to_string())
            .push("))");
    }
    if let Some(s) = &f.status {
        q.push(" AND status = ").push_bind(s.clone());
    }
    if let Some(now) = f.overdue_at {
        q.push(" AND due_at IS NOT NULL AND julianday(due_at) < julianday(")
            .push_bind(now)
            .push(") AND status NOT IN (SELECT value FROM json_each(")
            .push_bind(serde_json::json!(crate::model::FINISHED_STATUSES).to_string())
            .push("))");
    }
    if let Some(t) = &f.topic {
        q.push(" AND topic = ").push_bind(t.clone());
    }
    if let Some(b) = f.building {
        q.push(" AND building_id = ").push_bind(b.0);
    }
    if let Some(e) = f.executor_id {
        q.push(" AND executor_id = ").push_bind(e);
    }
    if let Some(d) = &f.department {
        q.push(" AND department = ").push_bind(d.clone());
    }
    if let Some(t) = f.created_from {
        q.push(" AND julianday(created_at) >= julianday(")
            .push_bind(t)
            .push(")");
    }
    if let Some(t) = f.created_before {
        q.push(" AND julianday(created_at) < julianday(")
            .push_bind(t)
            .push(")");
    }
}
