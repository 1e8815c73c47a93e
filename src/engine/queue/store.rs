//! What the queue runtime keeps in the main SQLite database:
//!
//! - `acd_state`: the machine ([`zvonar_acd::Acd`], serde JSON), written after every input,
//!   so agents' states, pause reasons and wrap-up deadlines survive a restart (the acd docs:
//!   store it after each input, load it at start);
//! - `queue_log`: the machine's [`zvonar_acd::Record`]s in order (KPIs, the monitor);
//! - `queue_calls`: every call that entered a queue, with the robot's handover context for the
//!   operator's card, and what became of it (`waiting`, `connected`, `ended`, `abandoned`,
//!   `overflowed`, `transferred` (by the agent, REFER), `lost` at a restart).

use super::QueueCallInfo;
use sqlx::SqlitePool;
use zvonar_acd::{Acd, Record, RecordKind};

/// The queue tables of the main database.
#[derive(Clone)]
pub struct QueueStore {
    pool: SqlitePool,
}

/// Creates the tables when missing.
pub async fn migrate(pool: &SqlitePool) -> sqlx::Result<()> {
    for sql in [
        "CREATE TABLE IF NOT EXISTS acd_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            state TEXT NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )",
        "CREATE TABLE IF NOT EXISTS queue_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at_ms INTEGER NOT NULL,
            kind TEXT NOT NULL,
            call_id TEXT,
            agent TEXT,
            record TEXT NOT NULL
        )",
        "CREATE INDEX IF NOT EXISTS queue_log_at ON queue_log (at_ms)",
        "CREATE TABLE IF NOT EXISTS queue_calls (
            call_id TEXT PRIMARY KEY NOT NULL,
            queue TEXT NOT NULL,
            emergency INTEGER NOT NULL,
            topic TEXT,
            reason TEXT NOT NULL,
            context TEXT NOT NULL,
            entered_at TEXT NOT NULL,
            state TEXT NOT NULL,
            agent TEXT,
            wait_ms INTEGER,
            updated_at_ms INTEGER
        )",
    ] {
        sqlx::query(sql).execute(pool).await?;
    }
    Ok(())
}

/// The record's kind as stored (`enqueued`, `answered`, …), its call and agent.
fn parts(r: &Record) -> (&'static str, Option<&str>, Option<&str>) {
    match &r.kind {
        RecordKind::Enqueued { call, .. } => ("enqueued", Some(&call.0), None),
        RecordKind::Answered { call, agent, .. } => ("answered", Some(&call.0), Some(&agent.0)),
        RecordKind::Abandoned { call, .. } => ("abandoned", Some(&call.0), None),
        RecordKind::Overflowed { call, .. } => ("overflowed", Some(&call.0), None),
        RecordKind::TalkEnded { call, agent, .. } => ("talk_ended", Some(&call.0), Some(&agent.0)),
        RecordKind::Requeued { call } => ("requeued", Some(&call.0), None),
        RecordKind::Transferred { call, agent, .. } => {
            ("transferred", Some(&call.0), Some(&agent.0))
        }
        RecordKind::WrapUpEnded { call, agent, .. } => {
            ("wrap_up_ended", Some(&call.0), Some(&agent.0))
        }
        RecordKind::AgentState { agent, .. } => ("agent_state", None, Some(&agent.0)),
        _ => ("other", None, None),
    }
}

impl QueueStore {
    /// The store over the main database (tables created by [`migrate`]).
    pub fn new(pool: SqlitePool) -> Self {
        QueueStore { pool }
    }

    /// The machine stored last; `None` on the first start. A state that no longer reads
    /// (written by an incompatible version) is logged and ignored.
    pub async fn load(&self) -> sqlx::Result<Option<Acd>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT state FROM acd_state WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|(s,)| match serde_json::from_str(&s) {
            Ok(acd) => Some(acd),
            Err(e) => {
                tracing::error!(error = %e, "stored queue state unreadable: starting afresh");
                None
            }
        }))
    }

    /// The access user (agent login) a SIP account is bound to (`zvonar sip-account add NAME
    /// --login LOGIN`, `sip_accounts.user_login`); `None` for an unknown or unbound account.
    pub async fn login_of_account(&self, account: &str) -> sqlx::Result<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT user_login FROM sip_accounts WHERE username = ?")
                .bind(account)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(l,)| l))
    }

    /// Marks calls that were waiting or connected when the process stopped as `lost`.
    pub async fn forget_live_calls(&self, now_ms: u64) -> sqlx::Result<u64> {
        let r = sqlx::query(
            "UPDATE queue_calls SET state = 'lost', updated_at_ms = ?
             WHERE state IN ('waiting', 'connected')",
        )
        .bind(now_ms as i64)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Stores the machine and appends `records` to the queue log, updating the queued calls
    /// they concern; one transaction.
    pub async fn save(&self, acd: &Acd, records: &[Record]) -> Result<(), StoreError> {
        let state = serde_json::to_string(acd)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO acd_state (id, state) VALUES (1, ?)
             ON CONFLICT(id) DO UPDATE SET state = excluded.state,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        )
        .bind(&state)
        .execute(&mut *tx)
        .await?;
        for r in records {
            let (kind, call, agent) = parts(r);
            sqlx::query(
                "INSERT INTO queue_log (at_ms, kind, call_id, agent, record) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(r.at as i64)
            .bind(kind)
            .bind(call)
            .bind(agent)
            .bind(serde_json::to_string(&r.kind)?)
            .execute(&mut *tx)
            .await?;
            let (state, wait_ms) = match &r.kind {
                RecordKind::Answered { wait_ms, .. } => ("connected", Some(*wait_ms)),
                RecordKind::Abandoned { wait_ms, .. } => ("abandoned", Some(*wait_ms)),
                RecordKind::Overflowed { wait_ms, .. } => ("overflowed", Some(*wait_ms)),
                // After `transferred`: the call's row keeps that state (and the
                // transferring agent), not the segment's `ended`.
                RecordKind::TalkEnded { call, .. }
                    if records.iter().any(
                        |o| matches!(&o.kind, RecordKind::Transferred { call: c, .. } if c == call),
                    ) =>
                {
                    continue
                }
                RecordKind::TalkEnded { .. } => ("ended", None),
                RecordKind::Transferred { .. } => ("transferred", None),
                RecordKind::Requeued { .. } => ("waiting", None),
                _ => continue,
            };
            sqlx::query(
                "UPDATE queue_calls SET state = ?, agent = COALESCE(?, agent),
                 wait_ms = COALESCE(?, wait_ms), updated_at_ms = ? WHERE call_id = ?",
            )
            .bind(state)
            .bind(agent)
            .bind(wait_ms.map(|w| w as i64))
            .bind(r.at as i64)
            .bind(call)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A call entered a queue: its context is kept for the operator's card.
    pub async fn call_entered(&self, info: &QueueCallInfo) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO queue_calls (call_id, queue, emergency, topic, reason, context, entered_at, state)
             VALUES (?, ?, ?, ?, ?, ?, ?, 'waiting')
             ON CONFLICT(call_id) DO UPDATE SET queue = excluded.queue,
             emergency = excluded.emergency, topic = excluded.topic, reason = excluded.reason,
             context = excluded.context, entered_at = excluded.entered_at, state = 'waiting'",
        )
        .bind(&info.call_id)
        .bind(&info.queue)
        .bind(info.emergency)
        .bind(&info.topic)
        .bind(info.reason.as_str())
        .bind(serde_json::to_string(&info.context)?)
        .bind(info.entered_at.to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The queue log of a period starting at `since_ms`, for the KPIs ([`zvonar_acd::kpi`]):
    /// each agent's last state change before `since_ms` (the state the agent was in at the
    /// start), then every record from `since_ms` on, in log order; with the id of the last
    /// row read (0 when none), for [`QueueStore::log_after`]. Rows that no longer read
    /// (written by an incompatible version) are skipped with a warning.
    pub async fn log_since(&self, since_ms: u64) -> Result<(i64, Vec<Record>), StoreError> {
        let mut rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT id, at_ms, record FROM queue_log WHERE id IN
               (SELECT MAX(id) FROM queue_log WHERE kind = 'agent_state' AND at_ms < ?
                GROUP BY agent)
             ORDER BY id",
        )
        .bind(since_ms as i64)
        .fetch_all(&self.pool)
        .await?;
        let last: Option<(i64,)> = sqlx::query_as("SELECT MAX(id) FROM queue_log")
            .fetch_optional(&self.pool)
            .await?;
        let upto = last.map_or(0, |(id,)| id);
        rows.extend(
            sqlx::query_as::<_, (i64, i64, String)>(
                "SELECT id, at_ms, record FROM queue_log WHERE at_ms >= ? AND id <= ? ORDER BY id",
            )
            .bind(since_ms as i64)
            .bind(upto)
            .fetch_all(&self.pool)
            .await?,
        );
        Ok((upto, decode(rows)))
    }

    /// The queue log's rows after row `after_id`, in order, with the id of the last one read
    /// (`after_id` when none).
    pub async fn log_after(&self, after_id: i64) -> Result<(i64, Vec<Record>), StoreError> {
        let rows: Vec<(i64, i64, String)> =
            sqlx::query_as("SELECT id, at_ms, record FROM queue_log WHERE id > ? ORDER BY id")
                .bind(after_id)
                .fetch_all(&self.pool)
                .await?;
        let last = rows.last().map_or(after_id, |r| r.0);
        Ok((last, decode(rows)))
    }

    /// A call that is or was queued, as the API shows it: `call_id`, `queue`, `emergency`,
    /// `topic`, `reason`, `context`, `entered_at`, `state`, `agent`, `wait_ms`.
    pub async fn call(&self, call_id: &str) -> Result<Option<serde_json::Value>, StoreError> {
        type Row = (
            String,
            String,
            bool,
            Option<String>,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<i64>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT call_id, queue, emergency, topic, reason, context, entered_at, state, agent, wait_ms
             FROM queue_calls WHERE call_id = ?",
        )
        .bind(call_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((
            call_id,
            queue,
            emergency,
            topic,
            reason,
            context,
            entered_at,
            state,
            agent,
            wait_ms,
        )) = row
        else {
            return Ok(None);
        };
        let context: serde_json::Value = serde_json::from_str(&context)?;
        Ok(Some(serde_json::json!({
            "call_id": call_id,
            "queue": queue,
            "emergency": emergency,
            "topic": topic,
            "reason": reason,
            "context": context,
            "entered_at": entered_at,
            "state": state,
            "agent": agent,
            "wait_ms": wait_ms,
        })))
    }
}

/// Rows `(id, at_ms, record JSON)` as records; unreadable ones are skipped with a warning.
fn decode(rows: Vec<(i64, i64, String)>) -> Vec<Record> {
    rows.into_iter()
        .filter_map(
            |(id, at, json)| match serde_json::from_str::<RecordKind>(&json) {
                Ok(kind) => Some(Record {
                    at: at.max(0) as u64,
                    kind,
                }),
                Err(e) => {
                    tracing::warn!(id, error = %e, "queue log row unreadable: not counted");
                    None
                }
            },
        )
        .collect()
}

/// Why the queue store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Encoding the state or a context.
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
}
