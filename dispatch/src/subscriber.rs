//! The call-event subscriber: writes every [`CallEvent`] into the CDR and timeline, through
//! the [`EventSpool`] when the database cannot take it right now.

use crate::spool::{EventSpool, SpooledEvent};
use crate::store::{DispatchStore, RecordError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use zvonar_models::CallEvent;

/// Longest one event write may take before it is given up and the event spooled, ms-scale
/// enough for a registry import's batch to commit (`zvonar_billing::import::BATCH_MAX_HOLD`).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often spooled events are retried while the database refuses them.
pub const RETRY_EVERY: Duration = Duration::from_millis(500);

/// What [`run_subscriber`] did before its channel closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubscriberStats {
    /// Events recorded.
    pub recorded: u64,
    /// Events that could not be written at once and went to the spool (each is recorded later).
    pub spooled: u64,
    /// Spooled events found already stored when retried (a write that timed out but
    /// committed, or a replay after a crash); not written again.
    pub duplicates: u64,
    /// Events that can never be written (they do not serialise); logged once at `error`.
    pub failed: u64,
}

/// The result of one write attempt.
enum Attempt {
    Stored(bool),
    /// Cannot ever be stored.
    Poison,
    /// Try again later.
    Later,
}

async fn attempt(store: &dyn DispatchStore, e: &SpooledEvent) -> Attempt {
    match tokio::time::timeout(WRITE_TIMEOUT, store.record_event(&e.key, &e.event)).await {
        Ok(Ok(new)) => Attempt::Stored(new),
        Ok(Err(RecordError::Encode(err))) => {
            tracing::error!(call_id = %e.event.call_id, error = %err, "call event cannot be recorded");
            Attempt::Poison
        }
        Ok(Err(err)) => {
            tracing::warn!(call_id = %e.event.call_id, error = %err, "call event not written yet; spooled");
            Attempt::Later
        }
        Err(_) => {
            tracing::warn!(call_id = %e.event.call_id, "call event write timed out; spooled");
            Attempt::Later
        }
    }
}

/// Consumes call events in order until every sender is dropped and the spool is empty,
/// recording each with [`DispatchStore::record_event`] (one transaction per event).
///
/// The engine's publishers never wait for this task: the channel is unbounded and the task
/// itself never waits on the database for more than [`WRITE_TIMEOUT`]. An event the database
/// refuses or delays (locked by an import, disk full) goes to `spool` — and so do all later
/// events until the spool is written out, keeping their order — and is retried every
/// [`RETRY_EVERY`]. Events left in the spool by an earlier run are written first. Each event
/// carries a key, so one that was stored but still spooled is not stored twice.
///
/// Tickets are not filed here: the engine awaits [`DispatchStore::file_ticket`] for the
/// ticket number, so a `TicketRequested` event only adds a timeline row.
///
/// Returns the counts when the channel has closed and the spool is empty.
pub async fn run_subscriber(
    store: Arc<dyn DispatchStore>,
    mut rx: UnboundedReceiver<CallEvent>,
    mut spool: EventSpool,
) -> SubscriberStats {
    let mut stats = SubscriberStats::default();
    let mut open = true;
    loop {
        // Write out the spool, oldest first, until the database refuses again.
        while let Some(front) = spool.front() {
            match attempt(store.as_ref(), front).await {
                Attempt::Stored(true) => stats.recorded += 1,
                Attempt::Stored(false) => stats.duplicates += 1,
                Attempt::Poison => stats.failed += 1,
                Attempt::Later => break,
            }
            if let Err(e) = spool.pop_front() {
                tracing::error!(error = %e, spool = %spool.path().display(), "cannot empty the event spool");
            }
        }
        if !open && spool.is_empty() {
            break;
        }
        // Wait for more events; while the spool holds some, also for the retry time.
        let first = if spool.is_empty() {
            rx.recv().await
        } else if open {
            tokio::select! {
                e = rx.recv() => e,
                _ = tokio::time::sleep(RETRY_EVERY) => continue,
            }
        } else {
            tokio::time::sleep(RETRY_EVERY).await;
            continue;
        };
        let Some(first) = first else {
            open = false;
            continue;
        };
        let mut batch = vec![SpooledEvent::new(first)];
        while let Ok(e) = rx.try_recv() {
            batch.push(SpooledEvent::new(e));
        }
        // With nothing spooled, write directly; the first refusal spools the rest in order.
        if spool.is_empty() {
            let mut written = 0;
            for e in &batch {
                match attempt(store.as_ref(), e).await {
                    Attempt::Stored(_) => stats.recorded += 1,
                    Attempt::Poison => stats.failed += 1,
                    Attempt::Later => break,
                }
                written += 1;
            }
            batch.drain(..written);
        }
        if !batch.is_empty() {
            stats.spooled += batch.len() as u64;
            if let Err(e) = spool.push(batch) {
                tracing::error!(error = %e, spool = %spool.path().display(),
                    "cannot write the event spool; events kept in memory");
            }
        }
    }
    tracing::debug!(?stats, "call-event subscriber stopped");
    stats
}
