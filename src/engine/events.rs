//! The call-event bus: the engine publishes [`CallEvent`]s; subscribers (dispatch's
//! ticket/CDR writer, metrics) each get every event of every call, in order per call.

use chrono::Utc;
use tokio::sync::mpsc;
use zvonar_models::{CallEvent, CallEventKind, CallId};

/// Fan-out of call events to subscribers. Cheap to clone.
#[derive(Clone, Default)]
pub struct EventBus {
    subscribers: Vec<mpsc::Sender<CallEvent>>,
}

impl EventBus {
    /// Adds a subscriber with a queue of `capacity` events and returns its receiver.
    /// Subscribe before calls start; a full queue makes publishers wait (events are
    /// never dropped: tickets and CDRs depend on them).
    pub fn subscribe(&mut self, capacity: usize) -> mpsc::Receiver<CallEvent> {
        let (tx, rx) = mpsc::channel(capacity);
        self.subscribers.push(tx);
        rx
    }

    /// Publishes one event stamped with the current time.
    pub async fn publish(&self, call_id: &CallId, kind: CallEventKind) {
        let event = CallEvent {
            call_id: call_id.clone(),
            at: Utc::now(),
            kind,
        };
        for s in &self.subscribers {
            if s.send(event.clone()).await.is_err() {
                tracing::warn!("a call-event subscriber has stopped");
            }
        }
    }
}
