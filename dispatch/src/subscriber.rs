//! The call-event subscriber: writes every [`CallEvent`] into the CDR and timeline.

use crate::store::DispatchStore;
use std::sync::Arc;
use tokio::sync::mpsc::Receiver;
use zvonar_models::CallEvent;

/// What [`run_subscriber`] did before its channel closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubscriberStats {
    /// Events recorded.
    pub recorded: u64,
    /// Events the store refused or failed to write (each logged once at `error`).
    pub failed: u64,
}

/// Consumes call events in order until every sender is dropped, recording each with
/// [`DispatchStore::record_event`] (one transaction per event, committed before the next is
/// read). A failed event is logged and skipped so one bad write does not stop the CDRs of
/// other calls. Returns the counts when the channel closes.
///
/// Tickets are not filed here: the engine awaits [`DispatchStore::file_ticket`] for the
/// ticket number, so a `TicketRequested` event only adds a timeline row.
pub async fn run_subscriber(
    store: Arc<dyn DispatchStore>,
    mut rx: Receiver<CallEvent>,
) -> SubscriberStats {
    let mut stats = SubscriberStats::default();
    while let Some(event) = rx.recv().await {
        match store.record_event(&event).await {
            Ok(()) => stats.recorded += 1,
            Err(e) => {
                stats.failed += 1;
                tracing::error!(call_id = %event.call_id, error = %e, "call event not recorded");
            }
        }
    }
    tracing::debug!(
        recorded = stats.recorded,
        failed = stats.failed,
        "call-event subscriber stopped"
    );
    stats
}
