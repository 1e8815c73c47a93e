//! The call-event bus: the engine publishes [`CallEvent`]s; subscribers (dispatch's
//! ticket/CDR writer, metrics) each get every event of every call, in order per call.

use chrono::Utc;
use tokio::sync::mpsc;
use zvonar_models::{CallEvent, CallEventKind, CallId};

/// Fan-out of call events to subscribers. Cheap to clone.
///
/// Publishing never waits: a call must not stall because storage is slow or locked. Each
/// subscriber's queue is unbounded and its consumer must keep up without waiting on storage —
/// dispatch's `run_subscriber` spools what the database cannot take at once to a file.
#[derive(Clone, Default)]
pub struct EventBus {
    subscribers: Vec<mpsc::UnboundedSender<CallEvent>>,
}

impl EventBus {
    /// Adds a subscriber and returns its receiver. Subscribe before calls start; events are
    /// never dropped while the receiver lives (tickets and CDRs depend on them).
    pub fn subscribe(&mut self) -> mpsc::UnboundedReceiver<CallEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.subscribers.push(tx);
        rx
    }

    /// Publishes one event stamped with the current time. Returns at once (never waits for
    /// a subscriber); `async` only so that call sites need not change if that ever does.
    pub async fn publish(&self, call_id: &CallId, kind: CallEventKind) {
        let event = CallEvent {
            call_id: call_id.clone(),
            at: Utc::now(),
            kind,
        };
        for s in &self.subscribers {
            if s.send(event.clone()).is_err() {
                tracing::warn!("a call-event subscriber has stopped");
            }
        }
    }
}
