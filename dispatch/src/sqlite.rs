//! [`DispatchStore`] on SQLite.

use crate::model::{
    CallDetails, Callback, Cdr, Ticket, TicketChange, TicketDetails, TicketFilter, TicketRef,
    TimelineEntry, CLOSED_STATUSES,
};
use crate::rows::{
    cdr_columns, decode_all, ticket_columns, CallbackRow, CdrRow, EventRow, TicketRow,
};
use crate::store::{DispatchStore, FileTicketError, QueryError, RecordError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqlitePool;
use sqlx::SqliteConnection;
use zvonar_models::{CallEvent, CallEventKind, CallId, CallbackRequest, TicketId, TicketRequest};

/// Largest page a list method returns.
const MAX_LIMIT: u32 = 1000;

/// [`DispatchStore`] on a SQLite pool migrated with [`crate::migrate`].
#[derive(Clone, Debug)]
pub struct SqliteDispatchStore {
    pool: SqlitePool,
}

impl SqliteDispatchStore {
    /// Wraps a pool; the dispatch migrations must have been applied.
    pub fn new(pool: SqlitePool) -> Self {
        SqliteDispatchStore { pool }
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
            .execute(conn)
            .await?;
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
}

#[async_trait]
impl DispatchStore for SqliteDispatchStore {
    async fn file_ticket(
        &self,
        call_id: Option<&CallId>,
        at: DateTime<Utc>,
        req: &TicketRequest,
    ) -> Result<Ticket, FileTicketError> {
        let topic = req.topic.trim();
        if topic.is_empty() {
            return Err(FileTicketError::EmptyTopic);
        }
        let mut tx = self.pool.begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO tickets (created_at, call_id, caller, account_id, building_id, premises_id,
                 apartment, topic, emergency, description, outage_id, unfinished)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
        })
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
        apply_cdr_piece(&mut tx, event).await?;
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
        // `?1 IS NULL` disables the emergency filter; ids grow with filing time.
        let rows: Vec<TicketRow> = sqlx::query_as(concat!(
            "SELECT ",
            ticket_columns!(),
            " FROM tickets WHERE (?1 IS NULL OR emergency = ?1)",
            " AND (?6 IS NULL OR topic IN (SELECT value FROM json_each(?6)))",
            " AND (?7 IS NULL OR building_id IN (SELECT value FROM json_each(?7)))",
            " ORDER BY (emergency AND status NOT IN (?2, ?3)) DESC, id DESC LIMIT ?4 OFFSET ?5"
        ))
        .bind(filter.emergency)
        .bind(CLOSED_STATUSES[0])
        .bind(CLOSED_STATUSES[1])
        .bind(limit.min(MAX_LIMIT))
        .bind(offset)
        .bind(
            filter
                .topics
                .as_ref()
                .map(|t| serde_json::json!(t).to_string()),
        )
        .bind(
            filter
                .buildings
                .as_ref()
                .map(|b| serde_json::json!(b.iter().map(|b| b.0).collect::<Vec<_>>()).to_string()),
        )
        .fetch_all(&self.pool)
        .await?;
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
        let n = sqlx::query(
            "UPDATE tickets SET status = COALESCE(?, status), topic = COALESCE(?, topic) WHERE id = ?",
        )
        .bind(nonempty(&change.status))
        .bind(nonempty(&change.topic))
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
            "SELECT call_id, recording FROM calls
             WHERE recording IS NOT NULL AND recording_deleted_at IS NULL AND started_at < ?
             ORDER BY started_at LIMIT ?",
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
