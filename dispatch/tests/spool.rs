//! The event spool: events the database refuses are kept in the spool file, written when it
//! takes them again, and written once — also when a crashed run left them behind.
#![allow(clippy::unwrap_used)]

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use zvonar_dispatch::{
    run_subscriber, CallDetails, Callback, Cdr, DispatchStore, EventSpool, FileTicketError,
    QueryError, RecordError, SpooledEvent, SqliteDispatchStore, SubscriberStats, Ticket,
    TicketDetails, TicketFilter, TicketRef,
};
use zvonar_models::{
    CallEvent, CallEventKind, CallId, CallbackRequest, Disposition, TicketRequest,
};

/// A store whose event writes fail while `down` is set (as SQLite does when another process
/// holds the write lock past the busy timeout); each failure is reported on `failures`.
struct FlakyStore {
    inner: SqliteDispatchStore,
    down: AtomicBool,
    failures: mpsc::UnboundedSender<()>,
}

#[async_trait]
impl DispatchStore for FlakyStore {
    async fn file_ticket(
        &self,
        call_id: Option<&CallId>,
        at: DateTime<Utc>,
        request: &TicketRequest,
    ) -> Result<Ticket, FileTicketError> {
        self.inner.file_ticket(call_id, at, request).await
    }
    async fn record_event(&self, key: &str, event: &CallEvent) -> Result<bool, RecordError> {
        if self.down.load(Ordering::SeqCst) {
            let _ = self.failures.send(());
            return Err(RecordError::Database(sqlx::Error::PoolTimedOut));
        }
        self.inner.record_event(key, event).await
    }
    async fn create_callback(
        &self,
        call_id: Option<&CallId>,
        at: DateTime<Utc>,
        request: &CallbackRequest,
    ) -> Result<Callback, RecordError> {
        self.inner.create_callback(call_id, at, request).await
    }
    async fn list_tickets(
        &self,
        filter: &TicketFilter,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Ticket>, QueryError> {
        self.inner.list_tickets(filter, limit, offset).await
    }
    async fn update_ticket(
        &self,
        id: zvonar_models::TicketId,
        change: &zvonar_dispatch::TicketChange,
    ) -> Result<Option<Ticket>, QueryError> {
        self.inner.update_ticket(id, change).await
    }
    async fn ticket(&self, which: &TicketRef) -> Result<Option<TicketDetails>, QueryError> {
        self.inner.ticket(which).await
    }
    async fn list_calls(&self, limit: u32, offset: u32) -> Result<Vec<Cdr>, QueryError> {
        self.inner.list_calls(limit, offset).await
    }
    async fn call(&self, call_id: &CallId) -> Result<Option<CallDetails>, QueryError> {
        self.inner.call(call_id).await
    }
    async fn list_callbacks(&self, limit: u32, offset: u32) -> Result<Vec<Callback>, QueryError> {
        self.inner.list_callbacks(limit, offset).await
    }
    async fn recordings_before(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(CallId, String)>, QueryError> {
        self.inner.recordings_before(before, limit).await
    }
    async fn mark_recording_deleted(
        &self,
        call_id: &CallId,
        at: DateTime<Utc>,
    ) -> Result<(), RecordError> {
        self.inner.mark_recording_deleted(call_id, at).await
    }
}

async fn sqlite_store() -> SqliteDispatchStore {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    SqliteDispatchStore::new(pool)
}

fn spool_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("zvonar-spool-{}.jsonl", uuid::Uuid::new_v4()))
}

fn ev(call: &CallId, secs: i64, kind: CallEventKind) -> CallEvent {
    CallEvent {
        call_id: call.clone(),
        at: Utc.with_ymd_and_hms(2025, 1, 20, 9, 0, 0).unwrap() + Duration::seconds(secs),
        kind,
    }
}

/// Started, a robot phrase, Ended: three events of one call.
fn call_events(call: &CallId) -> Vec<CallEvent> {
    vec![
        ev(
            call,
            0,
            CallEventKind::Started {
                caller: None,
                caller_raw: "anonymous".into(),
                callee: "74950000000".into(),
                transport: "udp".into(),
                flow: "dispatcher".into(),
            },
        ),
        ev(
            call,
            1,
            CallEventKind::RobotSaid {
                text: "Здравствуйте".into(),
            },
        ),
        ev(
            call,
            30,
            CallEventKind::Ended {
                disposition: Disposition::Answered,
                cause: "caller_bye".into(),
                recording: None,
                talk_ms: 29_000,
            },
        ),
    ]
}

fn kinds(details: &CallDetails) -> Vec<String> {
    details.timeline.iter().map(|e| e.kind.clone()).collect()
}

#[tokio::test]
async fn refused_events_are_spooled_then_written_once_in_order() {
    let (failures_tx, mut failures) = mpsc::unbounded_channel();
    let store = Arc::new(FlakyStore {
        inner: sqlite_store().await,
        down: AtomicBool::new(true),
        failures: failures_tx,
    });
    let path = spool_path();
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run_subscriber(
        store.clone(),
        rx,
        EventSpool::open(&path).unwrap(),
    ));
    let call = CallId("spooled-call".into());
    for e in call_events(&call) {
        tx.send(e).unwrap();
    }
    // The direct write fails, the events are spooled, the first retry fails too.
    failures.recv().await.unwrap();
    failures.recv().await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let spooled: Vec<SpooledEvent> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(spooled.len(), 3, "{text}");
    assert_eq!(
        serde_json::to_value(&spooled[2].event).unwrap(),
        serde_json::to_value(&call_events(&call)[2]).unwrap()
    );
    assert!(store.inner.call(&call).await.unwrap().is_none());

    store.down.store(false, Ordering::SeqCst);
    drop(tx);
    let stats = task.await.unwrap();
    assert_eq!(
        stats,
        SubscriberStats {
            recorded: 3,
            spooled: 3,
            ..SubscriberStats::default()
        }
    );
    let details = store.inner.call(&call).await.unwrap().unwrap();
    assert_eq!(kinds(&details), ["started", "robot_said", "ended"]);
    assert_eq!(details.cdr.duration_ms, Some(30_000));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_spool_left_by_a_crash_is_replayed_without_duplicates() {
    let store = Arc::new(sqlite_store().await);
    let path = spool_path();
    let call = CallId("crashed-run".into());
    let events: Vec<SpooledEvent> = call_events(&call)
        .into_iter()
        .map(SpooledEvent::new)
        .collect();
    // The earlier run spooled three events and stored the first before it crashed.
    EventSpool::open(&path)
        .unwrap()
        .push(events.clone())
        .unwrap();
    assert!(store
        .record_event(&events[0].key, &events[0].event)
        .await
        .unwrap());

    let spool = EventSpool::open(&path).unwrap();
    assert_eq!(spool.len(), 3);
    let (tx, rx) = mpsc::unbounded_channel::<CallEvent>();
    drop(tx);
    let stats = run_subscriber(store.clone(), rx, spool).await;
    assert_eq!(
        stats,
        SubscriberStats {
            recorded: 2,
            duplicates: 1,
            ..SubscriberStats::default()
        }
    );
    let details = store.call(&call).await.unwrap().unwrap();
    assert_eq!(kinds(&details), ["started", "robot_said", "ended"]);
    assert!(EventSpool::open(&path).unwrap().is_empty());
    // Recording the same key again changes nothing.
    assert!(!store
        .record_event(&events[2].key, &events[2].event)
        .await
        .unwrap());
    assert_eq!(store.call(&call).await.unwrap().unwrap().timeline.len(), 3);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_torn_spool_line_is_moved_aside_not_lost() {
    let path = spool_path();
    let call = CallId("torn".into());
    let good = SpooledEvent::new(call_events(&call).remove(0));
    std::fs::write(
        &path,
        format!(
            "{}\n{{\"key\":\"x\",\"ev",
            serde_json::to_string(&good).unwrap()
        ),
    )
    .unwrap();
    let spool = EventSpool::open(&path).unwrap();
    assert_eq!(spool.len(), 1);
    assert_eq!(spool.front().unwrap().key, good.key);
    let mut bad = path.clone().into_os_string();
    bad.push(".bad");
    assert_eq!(
        std::fs::read_to_string(&bad).unwrap(),
        "{\"key\":\"x\",\"ev\n"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&bad);
}
