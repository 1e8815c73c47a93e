//! Missed calls and callbacks (пропущенные звонки и перезвоны).
//!
//! When a call ends, the event subscriber applies [`classify`] (the rule is documented in
//! [`rule`]) in the same transaction as the CDR's end. A missed call joins the **open entry**
//! of its number, if there is one (repeated calls from one number collapse into one entry
//! with a count), or opens a new one, due for a callback [`MissedSettings::callback_within`]
//! of working time later ([`WorkingHours::deadline`]). A call without a usable number
//! (anonymous) gets an entry of its own.
//!
//! Operators record each callback attempt ([`MissedCalls::record_attempt`]) with an outcome
//! ([`CallbackOutcome`]) and a comment. An entry closes when the resident was reached, the
//! number was wrong, after [`MissedSettings::max_attempts`] failed attempts (no answer,
//! busy), or when the resident called again (from a verified number) and that call was
//! completed ([`ClosedAs`]). An open entry not yet called back after its due time is
//! **overdue**.

pub mod hours;
pub mod rule;
mod sqlite;

pub(crate) use sqlite::after_call_ended;
#[cfg(test)]
pub(crate) use sqlite::OPEN_FOR_NUMBER_SQL;

pub use hours::WorkingHours;
pub use rule::{classify, CallFacts, MissedReason, Verdict};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zvonar_models::{CallId, PhoneNumber};

use crate::store::QueryError;

/// The outcome of one callback attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackOutcome {
    /// Дозвонились: the resident answered (closes the entry).
    Reached,
    /// Не отвечает.
    NoAnswer,
    /// Занято.
    Busy,
    /// Неверный номер (closes the entry).
    WrongNumber,
}

impl CallbackOutcome {
    /// Every outcome.
    pub const ALL: [CallbackOutcome; 4] = [
        CallbackOutcome::Reached,
        CallbackOutcome::NoAnswer,
        CallbackOutcome::Busy,
        CallbackOutcome::WrongNumber,
    ];

    /// The stable code: `reached`, `no_answer`, `busy`, `wrong_number`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackOutcome::Reached => "reached",
            CallbackOutcome::NoAnswer => "no_answer",
            CallbackOutcome::Busy => "busy",
            CallbackOutcome::WrongNumber => "wrong_number",
        }
    }

    /// What the console shows.
    pub fn label_ru(self) -> &'static str {
        match self {
            CallbackOutcome::Reached => "дозвонились",
            CallbackOutcome::NoAnswer => "не отвечает",
            CallbackOutcome::Busy => "занято",
            CallbackOutcome::WrongNumber => "неверный номер",
        }
    }

    /// The outcome for a code; `None` for anything else.
    pub fn from_code(code: &str) -> Option<CallbackOutcome> {
        CallbackOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == code)
    }

    /// No answer and busy count towards [`MissedSettings::max_attempts`].
    pub fn is_failure(self) -> bool {
        matches!(self, CallbackOutcome::NoAnswer | CallbackOutcome::Busy)
    }
}

/// Why an entry was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedAs {
    /// An attempt reached the resident.
    Reached,
    /// An attempt found the number wrong.
    WrongNumber,
    /// [`MissedSettings::max_attempts`] attempts failed.
    AttemptsExhausted,
    /// The resident called again and that call was completed.
    CalledAgain,
}

impl ClosedAs {
    /// Every way of closing.
    pub const ALL: [ClosedAs; 4] = [
        ClosedAs::Reached,
        ClosedAs::WrongNumber,
        ClosedAs::AttemptsExhausted,
        ClosedAs::CalledAgain,
    ];

    /// The stable code: `reached`, `wrong_number`, `attempts_exhausted`, `called_again`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClosedAs::Reached => "reached",
            ClosedAs::WrongNumber => "wrong_number",
            ClosedAs::AttemptsExhausted => "attempts_exhausted",
            ClosedAs::CalledAgain => "called_again",
        }
    }

    /// The value for a code.
    pub fn from_code(code: &str) -> Option<ClosedAs> {
        ClosedAs::ALL.into_iter().find(|o| o.as_str() == code)
    }
}

/// `[missed]` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissedSettings {
    /// Failed attempts (no answer, busy) after which an entry closes as
    /// [`ClosedAs::AttemptsExhausted`]; at least 1.
    pub max_attempts: u32,
    /// Working time within which a missed call should be called back; later it is overdue.
    pub callback_within: Duration,
    /// When the working clock runs.
    pub hours: WorkingHours,
    /// Flows that only say the company is closed: their calls are missed (`after_hours`).
    pub after_hours_flows: Vec<String>,
}

impl Default for MissedSettings {
    /// 3 attempts, 15 minutes, 08:00–20:00 Monday to Friday in Moscow, no after-hours flows.
    fn default() -> Self {
        MissedSettings {
            max_attempts: 3,
            callback_within: Duration::minutes(15),
            hours: WorkingHours::parse("08:00-20:00", "mon-fri", chrono_tz::Europe::Moscow)
                .unwrap_or_else(|_| WorkingHours::always(chrono_tz::Europe::Moscow)),
            after_hours_flows: Vec::new(),
        }
    }
}

/// One missed-calls entry: the unanswered calls of one number since it was last closed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MissedCall {
    /// Row id.
    pub id: i64,
    /// The number to call back (E.164); `None` when the caller's number is unknown.
    pub number: Option<PhoneNumber>,
    /// The first missed call of the entry started (UTC).
    pub first_at: DateTime<Utc>,
    /// The latest one started (UTC).
    pub last_at: DateTime<Utc>,
    /// Missed calls in the entry (≥ 1).
    pub calls: i64,
    /// The latest call's reason.
    pub reason: MissedReason,
    /// The latest call.
    pub last_call_id: CallId,
    /// The latest call of the entry whose recording can be played; `None` when none can (a
    /// call that was never answered has no audio; an expired recording is gone).
    pub recording_call_id: Option<CallId>,
    /// Should be called back by then (UTC): `first_at` plus the callback time, counted in
    /// working hours.
    pub due_at: DateTime<Utc>,
    /// `open` or `closed`.
    pub status: String,
    /// Open, not called back yet, and past `due_at` (at the time of the query).
    pub overdue: bool,
    /// Attempts so far.
    pub attempts: i64,
    /// Attempts that found no answer or busy.
    pub failed_attempts: i64,
    /// The first attempt (UTC).
    pub first_attempt_at: Option<DateTime<Utc>>,
    /// The latest attempt's outcome.
    pub last_outcome: Option<CallbackOutcome>,
    /// When it closed (UTC).
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it closed.
    pub closed_as: Option<ClosedAs>,
}

/// One call of an entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MissedLeg {
    /// The call.
    pub call_id: CallId,
    /// When it started (UTC).
    pub at: DateTime<Utc>,
    /// Why it was missed.
    pub reason: MissedReason,
    /// Start to end, ms.
    pub duration_ms: Option<i64>,
    /// Its recording can be played (`GET /api/v1/calls/{call_id}/recording`).
    pub has_recording: bool,
}

/// One callback attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallbackAttempt {
    /// Row id.
    pub id: i64,
    /// The entry.
    pub missed_id: i64,
    /// When it was recorded (UTC).
    pub at: DateTime<Utc>,
    /// Who (login).
    pub by: String,
    /// What happened.
    pub outcome: CallbackOutcome,
    /// The operator's comment.
    pub comment: String,
    /// The outgoing call, once calls are placed from the console.
    pub call_id: Option<CallId>,
}

/// An entry with its calls (oldest first) and attempts (in order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MissedCallDetails {
    /// The entry.
    pub missed: MissedCall,
    /// Its calls.
    pub calls: Vec<MissedLeg>,
    /// Its callback attempts.
    pub attempts: Vec<CallbackAttempt>,
}

/// Which entries [`MissedCalls::list_missed`] returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedStatus {
    /// Open entries (the work list).
    #[default]
    Open,
    /// Closed entries.
    Closed,
    /// Both.
    All,
}

/// Figures of [`MissedCalls::missed_report`] for `[from, to)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MissedReport {
    /// Start of the period (UTC, inclusive).
    pub from: DateTime<Utc>,
    /// End of the period (UTC, exclusive).
    pub to: DateTime<Utc>,
    /// Calls missed in the period.
    pub missed_calls: i64,
    /// Missed calls by reason code (every reason listed, zeros included).
    pub by_reason: BTreeMap<String, i64>,
    /// Entries opened in the period (numbers to call back).
    pub entries: i64,
    /// Callback attempts made in the period.
    pub attempts: i64,
    /// Attempts in the period by outcome code (every outcome listed).
    pub by_outcome: BTreeMap<String, i64>,
    /// Entries opened in the period by how they closed (`reached`, …, and `open`).
    pub by_closing: BTreeMap<String, i64>,
    /// Entries opened in the period first called back by their due time.
    pub called_back_in_time: i64,
    /// Entries opened in the period first called back after their due time.
    pub called_back_late: i64,
    /// Entries opened in the period not called back (yet).
    pub not_called_back: i64,
    /// Of those, the ones past their due time at the report's `now` (overdue).
    pub overdue: i64,
    /// Mean time from an entry's first missed call to its first callback attempt, s, over
    /// the entries opened in the period that were called back; `None` when none were.
    pub mean_time_to_callback_s: Option<f64>,
}

/// Why [`MissedCalls::record_attempt`] refused or failed; nothing was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttemptError {
    /// No such entry.
    #[error("no missed call {0}")]
    NotFound(i64),
    /// The entry is closed already.
    #[error("missed call {0} is closed")]
    Closed(i64),
    /// The database failed.
    #[error("dispatch database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored row does not decode.
    #[error("{0}")]
    Query(#[from] QueryError),
}

/// The missed-calls list, callback attempts and the report; hold it as
/// `Arc<dyn MissedCalls>` ([`crate::SqliteDispatchStore`] implements it).
#[async_trait]
pub trait MissedCalls: Send + Sync {
    /// Entries by `status`, `overdue_only` keeping only overdue ones as of `now`. Order: open
    /// before closed; among open ones overdue first, then by due time; closed ones latest
    /// call first. `limit` capped at 1000.
    async fn list_missed(
        &self,
        status: MissedStatus,
        overdue_only: bool,
        now: DateTime<Utc>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<MissedCall>, QueryError>;

    /// One entry with its calls and attempts; `Ok(None)` when there is none.
    async fn missed_call(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<MissedCallDetails>, QueryError>;

    /// The open entry of `number`, if any (the caller's card shows it).
    async fn open_missed_for(
        &self,
        number: &PhoneNumber,
        now: DateTime<Utc>,
    ) -> Result<Option<MissedCall>, QueryError>;

    /// Records a callback attempt by `by` (login) at `at` and closes the entry when the
    /// rule of this module says so; returns the attempt and the entry after it.
    ///
    /// Errors: [`AttemptError::NotFound`], [`AttemptError::Closed`] (nothing stored), or the
    /// database's.
    async fn record_attempt(
        &self,
        id: i64,
        at: DateTime<Utc>,
        by: &str,
        outcome: CallbackOutcome,
        comment: &str,
    ) -> Result<(CallbackAttempt, MissedCall), AttemptError>;

    /// The report for `[from, to)` (see [`MissedReport`]); `now` decides which entries
    /// are overdue.
    async fn missed_report(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<MissedReport, QueryError>;
}
