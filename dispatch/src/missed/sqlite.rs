//! [`MissedCalls`] on SQLite, and the hook that files a missed call when a call ends.

use super::{
    classify, AttemptError, CallFacts, CallbackAttempt, CallbackOutcome, ClosedAs, MissedCall,
    MissedCallDetails, MissedCalls, MissedLeg, MissedReason, MissedReport, MissedSettings,
    MissedStatus, Verdict,
};
use crate::sqlite::SqliteDispatchStore;
use crate::store::QueryError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, SqliteConnection};
use std::collections::BTreeMap;
use zvonar_models::{CallId, Disposition, PhoneNumber};

/// Columns of [`MissedRow`] over `missed_calls m`; `?1` in the statement is `now`.
macro_rules! missed_columns {
    () => {
        "m.id, m.number, m.first_at, m.last_at, m.calls, m.reason, m.last_call_id, \
         (SELECT mc.call_id FROM missed_call_calls mc JOIN calls c ON c.call_id = mc.call_id \
          WHERE mc.missed_id = m.id AND c.recording IS NOT NULL AND c.recording_deleted_at IS NULL \
          ORDER BY mc.at DESC LIMIT 1) AS recording_call_id, \
         m.due_at, m.status, \
         (m.status = 'open' AND m.first_attempt_at IS NULL AND m.due_at <= ?1) AS overdue, \
         m.attempts, m.failed_attempts, m.first_attempt_at, m.last_outcome, m.closed_at, m.closed_as"
    };
}

#[derive(FromRow)]
struct MissedRow {
    id: i64,
    number: Option<String>,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    calls: i64,
    reason: String,
    last_call_id: String,
    recording_call_id: Option<String>,
    due_at: DateTime<Utc>,
    status: String,
    overdue: bool,
    attempts: i64,
    failed_attempts: i64,
    first_attempt_at: Option<DateTime<Utc>>,
    last_outcome: Option<String>,
    closed_at: Option<DateTime<Utc>>,
    closed_as: Option<String>,
}

fn reason(code: &str) -> Result<MissedReason, QueryError> {
    MissedReason::from_code(code).ok_or_else(|| QueryError::Corrupt(format!("reason {code:?}")))
}

fn outcome(code: &str) -> Result<CallbackOutcome, QueryError> {
    CallbackOutcome::from_code(code)
        .ok_or_else(|| QueryError::Corrupt(format!("callback outcome {code:?}")))
}

impl TryFrom<MissedRow> for MissedCall {
    type Error = QueryError;
    fn try_from(r: MissedRow) -> Result<Self, QueryError> {
        Ok(MissedCall {
            id: r.id,
            number: r
                .number
                .map(|n| PhoneNumber::parse_ru(&n))
                .transpose()
                .map_err(|e| QueryError::Corrupt(format!("phone: {e}")))?,
            first_at: r.first_at,
            last_at: r.last_at,
            calls: r.calls,
            reason: reason(&r.reason)?,
            last_call_id: CallId(r.last_call_id),
            recording_call_id: r.recording_call_id.map(CallId),
            due_at: r.due_at,
            status: r.status,
            overdue: r.overdue,
            attempts: r.attempts,
            failed_attempts: r.failed_attempts,
            first_attempt_at: r.first_attempt_at,
            last_outcome: r.last_outcome.as_deref().map(outcome).transpose()?,
            closed_at: r.closed_at,
            closed_as: r
                .closed_as
                .as_deref()
                .map(|c| {
                    ClosedAs::from_code(c)
                        .ok_or_else(|| QueryError::Corrupt(format!("closed_as {c:?}")))
                })
                .transpose()?,
        })
    }
}

#[derive(FromRow)]
struct AttemptRow {
    id: i64,
    missed_id: i64,
    at: DateTime<Utc>,
    by_user: String,
    outcome: String,
    comment: String,
    call_id: Option<String>,
}

impl TryFrom<AttemptRow> for CallbackAttempt {
    type Error = QueryError;
    fn try_from(r: AttemptRow) -> Result<Self, QueryError> {
        Ok(CallbackAttempt {
            id: r.id,
            missed_id: r.missed_id,
            at: r.at,
            by: r.by_user,
            outcome: outcome(&r.outcome)?,
            comment: r.comment,
            call_id: r.call_id.map(CallId),
        })
    }
}

fn parse_disposition(s: &str) -> Option<Disposition> {
    match s {
        "answered" => Some(Disposition::Answered),
        "missed" => Some(Disposition::Missed),
        "rejected" => Some(Disposition::Rejected),
        "failed" => Some(Disposition::Failed),
        _ => None,
    }
}

/// Called in the transaction that records a call's `Ended` event: applies the missed-call
/// rule and files the call into the missed-calls list (or closes the number's open entry
/// when the call was completed). A call already filed is left alone.
pub(crate) async fn after_call_ended(
    conn: &mut SqliteConnection,
    call_id: &CallId,
    ended_at: DateTime<Utc>,
    settings: &MissedSettings,
) -> Result<(), sqlx::Error> {
    type CallRow = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<DateTime<Utc>>,
    );
    let row: Option<CallRow> = sqlx::query_as(
        "SELECT caller, caller_raw, flow, disposition, hangup_cause, started_at
         FROM calls WHERE call_id = ?",
    )
    .bind(&call_id.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((caller, caller_raw, flow, disposition, cause, started_at)) = row else {
        return Ok(());
    };
    let events: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, payload FROM call_events WHERE call_id = ?
         AND kind IN ('outcome', 'agent_connected', 'bridged', 'dialling', 'queue_entered',
                      'queue_overflowed')
         ORDER BY id",
    )
    .bind(&call_id.0)
    .fetch_all(&mut *conn)
    .await?;
    let outcome = events
        .iter()
        .rev()
        .find(|(k, _)| k == "outcome")
        .and_then(|(_, p)| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|v| v["outcome"].as_str().map(str::to_string));
    let facts = CallFacts {
        disposition: disposition.as_deref().and_then(parse_disposition),
        cause,
        flow,
        kinds: events.into_iter().map(|(k, _)| k).collect(),
        outcome,
    };
    let at = started_at.unwrap_or(ended_at);
    match classify(&facts, &settings.after_hours_flows) {
        Verdict::InProgress => Ok(()),
        Verdict::Completed => {
            // Only a verified caller ID closes an entry: anyone can write any From.
            if let Some(number) = caller {
                sqlx::query(
                    "UPDATE missed_calls SET status = 'closed', closed_at = ?, closed_as = 'called_again'
                     WHERE number = ? AND status = 'open' AND first_at <= ?",
                )
                .bind(ended_at)
                .bind(number)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }
        Verdict::Missed(reason) => {
            let filed: Option<(i64,)> =
                sqlx::query_as("SELECT missed_id FROM missed_call_calls WHERE call_id = ?")
                    .bind(&call_id.0)
                    .fetch_optional(&mut *conn)
                    .await?;
            if filed.is_some() {
                return Ok(());
            }
            let number = caller.or_else(|| {
                caller_raw
                    .as_deref()
                    .and_then(|r| PhoneNumber::parse_ru(r).ok())
                    .map(|p| p.as_e164().to_string())
            });
            let open: Option<(i64,)> = match &number {
                Some(n) => {
                    sqlx::query_as(OPEN_FOR_NUMBER_SQL)
                        .bind(n)
                        .fetch_optional(&mut *conn)
                        .await?
                }
                None => None,
            };
            let missed_id = match open {
                Some((id,)) => {
                    sqlx::query(
                        "UPDATE missed_calls SET calls = calls + 1, reason = ?,
                         last_call_id = CASE WHEN last_at <= ? THEN ? ELSE last_call_id END,
                         last_at = MAX(last_at, ?) WHERE id = ?",
                    )
                    .bind(reason.as_str())
                    .bind(at)
                    .bind(&call_id.0)
                    .bind(at)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                    id
                }
                None => {
                    let due = settings.hours.deadline(at, settings.callback_within);
                    let (id,): (i64,) = sqlx::query_as(
                        "INSERT INTO missed_calls (number, first_at, last_at, last_call_id, reason, due_at)
                         VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                    )
                    .bind(&number)
                    .bind(at)
                    .bind(at)
                    .bind(&call_id.0)
                    .bind(reason.as_str())
                    .bind(due)
                    .fetch_one(&mut *conn)
                    .await?;
                    id
                }
            };
            sqlx::query(
                "INSERT INTO missed_call_calls (call_id, missed_id, at, reason) VALUES (?, ?, ?, ?)",
            )
            .bind(&call_id.0)
            .bind(missed_id)
            .bind(at)
            .bind(reason.as_str())
            .execute(&mut *conn)
            .await?;
            tracing::info!(call_id = %call_id, missed_id, reason = %reason, "missed call");
            Ok(())
        }
    }
}

const MAX_LIMIT: u32 = 1000;

/// The open entry of a number: the partial unique index `missed_calls_open_number`.
pub(crate) const OPEN_FOR_NUMBER_SQL: &str =
    "SELECT id FROM missed_calls WHERE number = ? AND status = 'open'";

impl SqliteDispatchStore {
    async fn missed_by_id(
        &self,
        conn: &mut SqliteConnection,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<MissedCall>, QueryError> {
        let row: Option<MissedRow> = sqlx::query_as(concat!(
            "SELECT ",
            missed_columns!(),
            " FROM missed_calls m WHERE m.id = ?2"
        ))
        .bind(now)
        .bind(id)
        .fetch_optional(conn)
        .await?;
        row.map(MissedCall::try_from).transpose()
    }
}

#[async_trait]
impl MissedCalls for SqliteDispatchStore {
    async fn list_missed(
        &self,
        status: MissedStatus,
        overdue_only: bool,
        now: DateTime<Utc>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<MissedCall>, QueryError> {
        let status = match status {
            MissedStatus::Open => Some("open"),
            MissedStatus::Closed => Some("closed"),
            MissedStatus::All => None,
        };
        let rows: Vec<MissedRow> = sqlx::query_as(concat!(
            "SELECT ",
            missed_columns!(),
            " FROM missed_calls m WHERE (?2 IS NULL OR m.status = ?2)",
            " AND (?3 = 0 OR (m.status = 'open' AND m.first_attempt_at IS NULL AND m.due_at <= ?1))",
            " ORDER BY m.status = 'open' DESC, overdue DESC,",
            " CASE WHEN m.status = 'open' THEN m.due_at END, m.last_at DESC, m.id DESC",
            " LIMIT ?4 OFFSET ?5"
        ))
        .bind(now)
        .bind(status)
        .bind(overdue_only)
        .bind(limit.min(MAX_LIMIT))
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(MissedCall::try_from).collect()
    }

    async fn missed_call(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<MissedCallDetails>, QueryError> {
        let mut conn = self.pool().acquire().await?;
        let Some(missed) = self.missed_by_id(&mut conn, id, now).await? else {
            return Ok(None);
        };
        type LegRow = (String, DateTime<Utc>, String, Option<i64>, bool);
        let legs: Vec<LegRow> = sqlx::query_as(
            "SELECT mc.call_id, mc.at, mc.reason, c.duration_ms,
                    (c.recording IS NOT NULL AND c.recording_deleted_at IS NULL)
             FROM missed_call_calls mc LEFT JOIN calls c ON c.call_id = mc.call_id
             WHERE mc.missed_id = ? ORDER BY mc.at, mc.call_id",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        let calls = legs
            .into_iter()
            .map(|(call_id, at, r, duration_ms, has_recording)| {
                Ok(MissedLeg {
                    call_id: CallId(call_id),
                    at,
                    reason: reason(&r)?,
                    duration_ms,
                    has_recording,
                })
            })
            .collect::<Result<_, QueryError>>()?;
        let attempts: Vec<AttemptRow> = sqlx::query_as(
            "SELECT id, missed_id, at, by_user, outcome, comment, call_id
             FROM callback_attempts WHERE missed_id = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(Some(MissedCallDetails {
            missed,
            calls,
            attempts: attempts
                .into_iter()
                .map(CallbackAttempt::try_from)
                .collect::<Result<_, _>>()?,
        }))
    }

    async fn open_missed_for(
        &self,
        number: &PhoneNumber,
        now: DateTime<Utc>,
    ) -> Result<Option<MissedCall>, QueryError> {
        let row: Option<MissedRow> = sqlx::query_as(concat!(
            "SELECT ",
            missed_columns!(),
            " FROM missed_calls m WHERE m.number = ?2 AND m.status = 'open'"
        ))
        .bind(now)
        .bind(number.as_e164())
        .fetch_optional(self.pool())
        .await?;
        row.map(MissedCall::try_from).transpose()
    }

    async fn record_attempt(
        &self,
        id: i64,
        at: DateTime<Utc>,
        by: &str,
        result: CallbackOutcome,
        comment: &str,
    ) -> Result<(CallbackAttempt, MissedCall), AttemptError> {
        let mut tx = self.pool().begin().await?;
        // A write first, so the transaction holds the write lock before it reads.
        let updated: Option<(i64,)> = sqlx::query_as(
            "UPDATE missed_calls SET attempts = attempts + 1,
                 failed_attempts = failed_attempts + ?,
                 first_attempt_at = COALESCE(first_attempt_at, ?),
                 last_outcome = ?
             WHERE id = ? AND status = 'open' RETURNING failed_attempts",
        )
        .bind(i64::from(result.is_failure()))
        .bind(at)
        .bind(result.as_str())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((failed,)) = updated else {
            let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM missed_calls WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            tx.rollback().await?;
            return Err(match exists {
                Some(_) => AttemptError::Closed(id),
                None => AttemptError::NotFound(id),
            });
        };
        let closing = match result {
            CallbackOutcome::Reached => Some(ClosedAs::Reached),
            CallbackOutcome::WrongNumber => Some(ClosedAs::WrongNumber),
            _ if failed >= i64::from(self.missed_settings().max_attempts) => {
                Some(ClosedAs::AttemptsExhausted)
            }
            _ => None,
        };
        if let Some(c) = closing {
            sqlx::query(
                "UPDATE missed_calls SET status = 'closed', closed_at = ?, closed_as = ? WHERE id = ?",
            )
            .bind(at)
            .bind(c.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let (attempt_id,): (i64,) = sqlx::query_as(
            "INSERT INTO callback_attempts (missed_id, at, by_user, outcome, comment)
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(id)
        .bind(at)
        .bind(by)
        .bind(result.as_str())
        .bind(comment)
        .fetch_one(&mut *tx)
        .await?;
        let missed = self
            .missed_by_id(&mut tx, id, at)
            .await?
            .ok_or(AttemptError::NotFound(id))?;
        tx.commit().await?;
        Ok((
            CallbackAttempt {
                id: attempt_id,
                missed_id: id,
                at,
                by: by.to_string(),
                outcome: result,
                comment: comment.to_string(),
                call_id: None,
            },
            missed,
        ))
    }

    async fn missed_report(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<MissedReport, QueryError> {
        let mut conn = self.pool().acquire().await?;
        let by_reason_rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT reason, COUNT(*) FROM missed_call_calls WHERE at >= ? AND at < ? GROUP BY reason",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
        let mut by_reason: BTreeMap<String, i64> = MissedReason::ALL
            .iter()
            .map(|r| (r.as_str().to_string(), 0))
            .collect();
        for (r, n) in by_reason_rows {
            *by_reason.entry(r).or_default() += n;
        }
        let by_outcome_rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT outcome, COUNT(*) FROM callback_attempts WHERE at >= ? AND at < ? GROUP BY outcome",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
        let mut by_outcome: BTreeMap<String, i64> = CallbackOutcome::ALL
            .iter()
            .map(|o| (o.as_str().to_string(), 0))
            .collect();
        for (o, n) in by_outcome_rows {
            *by_outcome.entry(o).or_default() += n;
        }
        type EntryRow = (
            DateTime<Utc>,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            Option<String>,
        );
        let entries: Vec<EntryRow> = sqlx::query_as(
            "SELECT first_at, due_at, first_attempt_at, closed_as FROM missed_calls
             WHERE first_at >= ? AND first_at < ?",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&mut *conn)
        .await?;
        let mut by_closing: BTreeMap<String, i64> = ClosedAs::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), 0))
            .collect();
        by_closing.insert("open".into(), 0);
        let (mut in_time, mut late, mut waiting, mut overdue) = (0, 0, 0, 0);
        let mut waits_ms: Vec<i64> = Vec::new();
        for (first, due, attempt, closed) in &entries {
            *by_closing
                .entry(closed.clone().unwrap_or_else(|| "open".into()))
                .or_default() += 1;
            match attempt {
                None if *due <= now => {
                    waiting += 1;
                    overdue += 1;
                }
                Some(a) => {
                    waits_ms.push((*a - *first).num_milliseconds());
                    if a <= due {
                        in_time += 1;
                    } else {
                        late += 1;
                    }
                }
                None => waiting += 1,
            }
        }
        let missed_calls = by_reason.values().sum();
        let attempts = by_outcome.values().sum();
        Ok(MissedReport {
            from,
            to,
            missed_calls,
            by_reason,
            entries: entries.len() as i64,
            attempts,
            by_outcome,
            by_closing,
            called_back_in_time: in_time,
            called_back_late: late,
            not_called_back: waiting,
            overdue,
            mean_time_to_callback_s: (!waits_ms.is_empty()).then(|| {
                waits_ms.iter().map(|w| *w as f64).sum::<f64>() / waits_ms.len() as f64 / 1000.0
            }),
        })
    }
}
