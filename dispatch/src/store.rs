//! The [`DispatchStore`] repository trait and its errors.

use crate::model::{
    CallDetails, Callback, Cdr, Ticket, TicketChange, TicketDetails, TicketFilter, TicketRef,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use zvonar_models::{CallEvent, CallId, CallbackRequest, TicketId, TicketRequest};

/// Why [`DispatchStore::file_ticket`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileTicketError {
    /// The request has an empty topic (the caller's fault is impossible here: a dialplan bug).
    #[error("ticket topic is empty")]
    EmptyTopic,
    /// The database failed; nothing was stored.
    #[error("dispatch database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Why recording an event ([`DispatchStore::record_event`]) or a callback
/// ([`DispatchStore::create_callback`]) failed; nothing of it was stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The event could not be serialised for the timeline.
    #[error("cannot serialise the event: {0}")]
    Encode(#[from] serde_json::Error),
    /// The database failed.
    #[error("dispatch database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Why a read query failed (always our side).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The database failed.
    #[error("dispatch database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored value does not decode (a bad phone number, disposition or JSON payload).
    #[error("corrupt dispatch row: {0}")]
    Corrupt(String),
}

/// Tickets, CDRs, call timelines and callbacks; hold it as `Arc<dyn DispatchStore>`.
///
/// Implementations: [`crate::SqliteDispatchStore`]; PostgreSQL can be added behind the same
/// trait. Every write commits before it returns, so what was acknowledged survives a crash.
/// `limit` is capped at 1000 in list methods; lists are newest first.
#[async_trait]
pub trait DispatchStore: Send + Sync {
    /// Files a ticket and returns it with its number (the engine awaits this to read the
    /// number to the caller). In the same transaction: links it to the call's CDR (creating
    /// the CDR row if the `Started` event has not been recorded yet) and appends a
    /// `ticket_filed` timeline entry with the request, `ticket_id` and `number`.
    ///
    /// Errors: [`FileTicketError::EmptyTopic`], [`FileTicketError::Database`].
    async fn file_ticket(
        &self,
        call_id: Option<&CallId>,
        at: DateTime<Utc>,
        request: &TicketRequest,
    ) -> Result<Ticket, FileTicketError>;

    /// Records one call event once: a timeline row for every event, plus its CDR piece
    /// (`Started` → caller, callee, flow, transport, started_at; `Answered` → answered_at,
    /// recording; `Ended` → ended_at, duration, talk time, disposition, cause, recording) and,
    /// for `CallbackRequested`, a callback row — all in one transaction.
    ///
    /// `TicketRequested` is recorded in the timeline only; tickets are filed with
    /// [`DispatchStore::file_ticket`].
    ///
    /// `key` identifies the event (the subscriber gives each a UUID): recording an event whose
    /// key is already stored changes nothing and returns `Ok(false)` — how an event retried
    /// after a failure, or replayed from the spool after a restart, is written exactly once.
    /// `Ok(true)` when it was recorded now.
    ///
    /// Errors: [`RecordError`].
    async fn record_event(&self, key: &str, event: &CallEvent) -> Result<bool, RecordError>;

    /// Creates a callback request outside the event stream (an operator's form).
    ///
    /// Errors: [`RecordError::Database`].
    async fn create_callback(
        &self,
        call_id: Option<&CallId>,
        at: DateTime<Utc>,
        request: &CallbackRequest,
    ) -> Result<Callback, RecordError>;

    /// Tickets matching `filter`: open emergency tickets first (status not in
    /// [`crate::CLOSED_STATUSES`]) so the dispatcher sees them before anything else, then
    /// all others; within each group newest first.
    async fn list_tickets(
        &self,
        filter: &TicketFilter,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Ticket>, QueryError>;

    /// Applies `change` to ticket `id` and returns it changed; `Ok(None)` when there is no
    /// such ticket. An empty topic or status is ignored (left as it was).
    async fn update_ticket(
        &self,
        id: TicketId,
        change: &TicketChange,
    ) -> Result<Option<Ticket>, QueryError>;

    /// One ticket with its call's timeline; `Ok(None)` when there is no such ticket.
    async fn ticket(&self, which: &TicketRef) -> Result<Option<TicketDetails>, QueryError>;

    /// CDRs, most recently created first.
    async fn list_calls(&self, limit: u32, offset: u32) -> Result<Vec<Cdr>, QueryError>;

    /// One CDR with its timeline and tickets; `Ok(None)` when nothing was recorded for it.
    async fn call(&self, call_id: &CallId) -> Result<Option<CallDetails>, QueryError>;

    /// Callback requests, newest first.
    async fn list_callbacks(&self, limit: u32, offset: u32) -> Result<Vec<Callback>, QueryError>;

    /// Calls that started (calls zvonar placed without an incoming INVITE, such as the rating
    /// robot's: were answered) before `before` and whose recording has not been deleted:
    /// `(call, recording path relative to the recordings directory)`, oldest first, at most
    /// `limit` (capped at 1000). For the retention sweep.
    async fn recordings_before(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(CallId, String)>, QueryError>;

    /// Marks the call's recording as deleted at `at` (the retention sweep removed the file);
    /// the CDR keeps the path and reports `recording_deleted_at`.
    async fn mark_recording_deleted(
        &self,
        call_id: &CallId,
        at: DateTime<Utc>,
    ) -> Result<(), RecordError>;
}
