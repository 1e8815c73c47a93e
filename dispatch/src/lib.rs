//! zvonar dispatch: tickets (заявки), call detail records, call timelines and callbacks,
//! fed by the engine's [`CallEvent`](zvonar_models::CallEvent)s.
//!
//! The console's ticket workflow — deadlines from each topic's SLA ([`TicketSla`], given
//! with [`SqliteDispatchStore::with_sla`]), assignment, results, comments, photos, the
//! journal's filters and count — is [`TicketWorkflow`] plus [`TicketFilter`] and
//! [`TicketChange`]. Missed calls and callbacks: [`missed`] (the rule that makes a call
//! missed is in [`missed::rule`]); a caller's earlier calls and tickets for the caller's
//! card: [`CallerHistory`]. Ratings of completed tickets, quality-control tickets and the
//! satisfaction report: [`rating`].
//!
//! # How the engine uses it
//!
//! Two paths, both writing through one [`DispatchStore`] (`Arc<dyn DispatchStore>`):
//!
//! * **The event stream** — the engine sends every `CallEvent` into an unbounded mpsc channel
//!   drained by [`run_subscriber`], which writes the timeline and the CDR (`Started`,
//!   `Answered`, `Ended`) and callback rows (`CallbackRequested`). Fire and forget: an event
//!   the database cannot take right now goes to the [`EventSpool`] file and is retried until
//!   written, exactly once, also across restarts.
//! * **Requests that need an answer** — filing a ticket: the call task awaits
//!   [`DispatchStore::file_ticket`] and reads [`Ticket::number`] to the caller. The ticket is
//!   committed before the number is returned (it survives a crash), linked to the call's CDR
//!   even if the subscriber has not yet seen `Started`, and recorded in the call's timeline as
//!   `ticket_filed`. A `TicketRequested` event on the stream, if the engine sends one, only
//!   adds a timeline row — it never files a second ticket.
//!
//! Why not reply through the event stream: events are plain serialisable data shared with
//! other subscribers, a reply channel inside them would not be; and a direct call gives the
//! robot a typed error it can act on («не удалось зарегистрировать заявку, соединяю с
//! оператором») instead of waiting on a reply that may never come.
//!
//! ```no_run
//! # async fn demo(pool: sqlx::SqlitePool, req: zvonar_models::TicketRequest)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use zvonar_dispatch::{migrate, run_subscriber, DispatchStore, EventSpool, SqliteDispatchStore};
//! use zvonar_models::CallId;
//!
//! migrate(&pool).await?;
//! let store: Arc<dyn DispatchStore> = Arc::new(SqliteDispatchStore::new(pool));
//! let spool = EventSpool::open("/var/lib/zvonar/zvonar.db.events-spool")?;
//! let (events, rx) = tokio::sync::mpsc::unbounded_channel();
//! tokio::spawn(run_subscriber(store.clone(), rx, spool));
//! // … in a call task: events.send(CallEvent { … }); and for a ticket:
//! let call_id = CallId::new_random();
//! let ticket = store.file_ticket(Some(&call_id), chrono::Utc::now(), &req).await?;
//! println!("Ваша заявка номер {}", ticket.number);
//! # drop(events); Ok(()) }
//! ```

pub mod duty;
mod history;
pub mod missed;
mod model;
pub mod rating;
mod rows;
mod spool;
mod sqlite;
mod store;
mod subscriber;
mod workflow;

pub use history::CallerHistory;
pub use missed::{
    CallbackAttempt, CallbackOutcome, ClosedAs, MissedCall, MissedCallDetails, MissedCalls,
    MissedReason, MissedReport, MissedSettings, MissedStatus, WorkingHours,
};
pub use model::{
    Assignment, CallDetails, Callback, Cdr, Ticket, TicketChange, TicketDetails, TicketFilter,
    TicketRef, TimelineEntry, CLOSED_STATUSES, FINISHED_STATUSES, TICKET_STATUSES,
};
pub use spool::{EventSpool, SpooledEvent};
pub use sqlite::SqliteDispatchStore;
pub use store::{DispatchStore, FileTicketError, QueryError, RecordError};
pub use subscriber::{run_subscriber, SubscriberStats, RETRY_EVERY, WRITE_TIMEOUT};
pub use workflow::{
    BuildingCount, Comment, ExecutorCount, Photo, StatusCount, TicketCounts, TicketSla,
    TicketWorkflow,
};

/// Why the dispatch migrations failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// A migration failed to apply, or the applied history conflicts with this binary.
    #[error("dispatch migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Applies the dispatch migrations (`dispatch/migrations/sqlite`, versions 2xxx) to `pool`.
///
/// Other crates' migrations in the shared `_sqlx_migrations` table are ignored, so billing
/// and dispatch may migrate in either order. Idempotent.
///
/// Errors: [`MigrateError`].
pub async fn migrate(pool: &sqlx::SqlitePool) -> Result<(), MigrateError> {
    let mut migrator = sqlx::migrate!("./migrations/sqlite");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    Ok(())
}
