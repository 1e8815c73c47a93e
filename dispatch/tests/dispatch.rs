//! Ticket numbering, the event subscriber and CDR contents, durability.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use std::sync::Arc;
use zvonar_dispatch::{
    run_subscriber, DispatchStore, EventSpool, FileTicketError, SqliteDispatchStore,
    SubscriberStats, TicketFilter, TicketRef,
};
use zvonar_models::{
    AccountId, BuildingId, CallEvent, CallEventKind, CallId, CallbackRequest, Disposition,
    PhoneNumber, PremisesId, TicketRequest,
};

async fn pool_at(url: &str) -> sqlx::SqlitePool {
    let pool = zvonar_billing::open_sqlite(url).await.unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    zvonar_billing::migrate(&pool).await.unwrap();
    pool
}

async fn store() -> Arc<dyn DispatchStore> {
    Arc::new(SqliteDispatchStore::new(pool_at("sqlite::memory:").await))
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 20, 9, 0, 0).unwrap()
}

fn phone() -> PhoneNumber {
    PhoneNumber::parse_ru("+79161234567").unwrap()
}

fn request(topic: &str) -> TicketRequest {
    TicketRequest {
        caller: Some(phone()),
        account_id: Some(AccountId(5)),
        building_id: Some(BuildingId(1)),
        premises_id: Some(PremisesId(12)),
        apartment: Some("12".into()),
        topic: topic.into(),
        emergency: topic == "leak",
        description: "течёт кран на кухне".into(),
        outage_id: None,
        unfinished: false,
    }
}

fn ev(call: &CallId, secs: i64, kind: CallEventKind) -> CallEvent {
    CallEvent {
        call_id: call.clone(),
        at: t0() + Duration::seconds(secs),
        kind,
    }
}

fn started(call: &CallId) -> CallEvent {
    ev(
        call,
        0,
        CallEventKind::Started {
            caller: Some(phone()),
            caller_raw: "89161234567".into(),
            callee: "74950000000".into(),
            transport: "udp".into(),
            flow: "dispatcher".into(),
        },
    )
}

/// A spool file of its own in the temporary directory.
fn spool_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("zvonar-spool-{}.jsonl", uuid::Uuid::new_v4()))
}

async fn feed(store: &Arc<dyn DispatchStore>, events: Vec<CallEvent>) -> SubscriberStats {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let spool = EventSpool::open(spool_path()).unwrap();
    let task = tokio::spawn(run_subscriber(store.clone(), rx, spool));
    for e in events {
        tx.send(e).unwrap();
    }
    drop(tx);
    task.await.unwrap()
}

/// The dispatcher must see emergencies first: open emergency tickets head the list whatever
/// their age, closed ones fall back among the rest by time; `emergency` filters.
#[tokio::test]
async fn open_emergencies_come_first_and_can_be_filtered() {
    let pool = pool_at("sqlite::memory:").await;
    let store: Arc<dyn DispatchStore> = Arc::new(SqliteDispatchStore::new(pool.clone()));
    // Filed in this order: leak (emergency), lift, leak (emergency, later closed), heating.
    let mut numbers = Vec::new();
    for (i, topic) in ["leak", "lift", "leak", "heating"].iter().enumerate() {
        let t = store
            .file_ticket(None, t0() + Duration::minutes(i as i64), &request(topic))
            .await
            .unwrap();
        numbers.push(t.number);
    }
    assert_eq!(numbers, ["1001", "1002", "1003", "1004"]);
    sqlx::query("UPDATE tickets SET status = 'closed' WHERE number = '1003'")
        .execute(&pool)
        .await
        .unwrap();
    let list = |filter: TicketFilter| {
        let store = store.clone();
        async move {
            store
                .list_tickets(&filter, 10, 0)
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.number)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(TicketFilter::default()).await,
        ["1001", "1004", "1003", "1002"]
    );
    assert_eq!(list(TicketFilter::emergency(true)).await, ["1001", "1003"]);
    assert_eq!(list(TicketFilter::emergency(false)).await, ["1004", "1002"]);
    // Paging keeps the order.
    let page = store
        .list_tickets(&TicketFilter::default(), 2, 1)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|t| t.number.as_str()).collect::<Vec<_>>(),
        ["1004", "1003"]
    );
}

#[tokio::test]
async fn tickets_are_numbered_from_1001_and_found_by_id_or_number() {
    let store = store().await;
    let a = store
        .file_ticket(None, t0(), &request("leak"))
        .await
        .unwrap();
    let b = store
        .file_ticket(None, t0(), &request("lift"))
        .await
        .unwrap();
    assert_eq!((a.number.as_str(), b.number.as_str()), ("1001", "1002"));
    assert_eq!(a.status, "new");
    assert!(a.emergency);

    let by_number = store
        .ticket(&TicketRef::Number("1002".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_number.ticket, b);
    assert!(by_number.timeline.is_empty());
    let by_id = store.ticket(&TicketRef::Id(a.id)).await.unwrap().unwrap();
    assert_eq!(by_id.ticket, a);
    assert!(store
        .ticket(&TicketRef::Number("9999".into()))
        .await
        .unwrap()
        .is_none());

    let list = store
        .list_tickets(&TicketFilter::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(
        list.iter().map(|t| t.number.as_str()).collect::<Vec<_>>(),
        ["1001", "1002"],
        "the emergency (leak) comes first"
    );
    assert_eq!(
        store
            .list_tickets(&TicketFilter::default(), 1, 1)
            .await
            .unwrap(),
        vec![b]
    );

    let empty = store.file_ticket(None, t0(), &request("  ")).await;
    assert!(matches!(empty, Err(FileTicketError::EmptyTopic)));
}

#[tokio::test]
async fn an_answered_call_with_a_ticket_leaves_a_full_cdr_and_timeline() {
    let store = store().await;
    let call = CallId::new_random();
    // The engine files the ticket while the subscriber may still be behind.
    let ticket = store
        .file_ticket(Some(&call), t0() + Duration::seconds(40), &request("leak"))
        .await
        .unwrap();
    let stats = feed(
        &store,
        vec![
            started(&call),
            ev(
                &call,
                1,
                CallEventKind::Answered {
                    recording: "2025/01/20/x.wav".into(),
                },
            ),
            ev(
                &call,
                2,
                CallEventKind::RobotSaid {
                    text: "Здравствуйте".into(),
                },
            ),
            ev(
                &call,
                10,
                CallEventKind::Recognised {
                    text: "течёт кран".into(),
                    confidence: 0.9,
                    audio_ms: 1500,
                    asr_ms: 300,
                },
            ),
            ev(&call, 39, CallEventKind::TicketRequested(request("leak"))),
            ev(
                &call,
                45,
                CallEventKind::Outcome {
                    outcome: "ticket_created".into(),
                },
            ),
            ev(
                &call,
                50,
                CallEventKind::Ended {
                    disposition: Disposition::Answered,
                    cause: "caller_bye".into(),
                    recording: Some("2025/01/20/x.wav".into()),
                    talk_ms: 49_000,
                },
            ),
        ],
    )
    .await;
    assert_eq!(
        stats,
        SubscriberStats {
            recorded: 7,
            ..SubscriberStats::default()
        }
    );

    let details = store.call(&call).await.unwrap().unwrap();
    let cdr = &details.cdr;
    assert_eq!(cdr.caller, Some(phone()));
    assert_eq!(cdr.caller_raw.as_deref(), Some("89161234567"));
    assert_eq!(
        (cdr.flow.as_deref(), cdr.transport.as_deref()),
        (Some("dispatcher"), Some("udp"))
    );
    assert_eq!(cdr.started_at, Some(t0()));
    assert_eq!(cdr.answered_at, Some(t0() + Duration::seconds(1)));
    assert_eq!(cdr.ended_at, Some(t0() + Duration::seconds(50)));
    assert_eq!((cdr.duration_ms, cdr.talk_ms), (Some(50_000), Some(49_000)));
    assert_eq!(cdr.disposition, Some(Disposition::Answered));
    assert_eq!(cdr.hangup_cause.as_deref(), Some("caller_bye"));
    assert_eq!(cdr.recording.as_deref(), Some("2025/01/20/x.wav"));
    assert_eq!(cdr.ticket_id, Some(ticket.id));
    assert_eq!(details.tickets, vec![ticket.clone()]);

    let kinds: Vec<&str> = details.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "started",
            "answered",
            "robot_said",
            "recognised",
            "ticket_requested",
            "ticket_filed",
            "outcome",
            "ended"
        ]
    );
    let filed = &details.timeline[5].payload;
    assert_eq!(filed["number"], "1001");
    assert_eq!(filed["topic"], "leak");
    assert_eq!(details.timeline[3].payload["text"], "течёт кран");
    assert!(details.timeline[0].payload.get("type").is_none());

    // Only the ticket filed through file_ticket exists.
    assert_eq!(
        store
            .list_tickets(&TicketFilter::default(), 10, 0)
            .await
            .unwrap()
            .len(),
        1
    );
    let t = store
        .ticket(&TicketRef::Number("1001".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.timeline.len(), 8);
}

#[tokio::test]
async fn a_call_ended_before_answer_is_missed_without_recording() {
    let store = store().await;
    let call = CallId::new_random();
    feed(
        &store,
        vec![
            started(&call),
            ev(
                &call,
                7,
                CallEventKind::Ended {
                    disposition: Disposition::Missed,
                    cause: "cancel".into(),
                    recording: None,
                    talk_ms: 0,
                },
            ),
        ],
    )
    .await;
    let cdr = store.call(&call).await.unwrap().unwrap().cdr;
    assert_eq!(cdr.disposition, Some(Disposition::Missed));
    assert_eq!((cdr.answered_at, cdr.recording.as_deref()), (None, None));
    assert_eq!((cdr.duration_ms, cdr.talk_ms), (Some(7000), Some(0)));
    assert_eq!(cdr.ticket_id, None);
    assert_eq!(store.list_calls(10, 0).await.unwrap(), vec![cdr]);
    assert!(store.call(&CallId::new_random()).await.unwrap().is_none());
}

#[tokio::test]
async fn callbacks_come_from_events_and_from_operators() {
    let store = store().await;
    let call = CallId::new_random();
    let req = CallbackRequest {
        caller: Some(phone()),
        account_id: Some(AccountId(5)),
        heard: "соедините с оператором".into(),
    };
    feed(
        &store,
        vec![
            started(&call),
            ev(&call, 20, CallEventKind::CallbackRequested(req.clone())),
        ],
    )
    .await;
    let direct = store.create_callback(None, t0(), &req).await.unwrap();
    let list = store.list_callbacks(10, 0).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0], direct);
    assert_eq!(list[1].call_id.as_ref(), Some(&call));
    assert_eq!(list[1].caller, Some(phone()));
    assert_eq!(list[1].status, "pending");
    assert_eq!(list[1].created_at, t0() + Duration::seconds(20));
}

#[tokio::test]
async fn calls_list_newest_first() {
    let store = store().await;
    let (a, b) = (CallId("a".into()), CallId("b".into()));
    feed(&store, vec![started(&a), started(&b)]).await;
    let ids: Vec<String> = store
        .list_calls(10, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.call_id.0)
        .collect();
    assert_eq!(ids, ["b", "a"]);
}

#[tokio::test]
async fn tickets_survive_reopening_and_migrations_share_one_table() {
    let path = std::env::temp_dir().join(format!("zvonar-dispatch-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let url = path.to_str().unwrap().to_string();
    let call = CallId::new_random();
    {
        // Billing first, then dispatch (the other order is used by `store()`).
        let pool = zvonar_billing::open_sqlite(&url).await.unwrap();
        zvonar_billing::migrate(&pool).await.unwrap();
        zvonar_dispatch::migrate(&pool).await.unwrap();
        let store = SqliteDispatchStore::new(pool.clone());
        let t = store
            .file_ticket(Some(&call), t0(), &request("leak"))
            .await
            .unwrap();
        assert_eq!(t.number, "1001");
        pool.close().await;
    }
    let pool = pool_at(&url).await;
    let store = SqliteDispatchStore::new(pool.clone());
    let t = store
        .ticket(&TicketRef::Number("1001".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.ticket.call_id, Some(call.clone()));
    assert_eq!(t.timeline.len(), 1);
    let next = store
        .file_ticket(None, t0(), &request("lift"))
        .await
        .unwrap();
    assert_eq!(next.number, "1002");
    let cdr = store.call(&call).await.unwrap().unwrap().cdr;
    assert_eq!(cdr.ticket_id, Some(t.ticket.id));
    pool.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{url}{suffix}"));
    }
}
