//! Ratings of completed tickets: which tickets the robot selects, the once-only rule, the
//! quality-control ticket and the reopen of a low rating, the run record, the report.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use zvonar_dispatch::rating::{
    stored_time, NewRating, QcPolicy, RateError, RatingRun, RatingSource, Ratings, ReportBy,
};
use zvonar_dispatch::{
    Assignment, DispatchStore, SqliteDispatchStore, TicketChange, TicketRef, TicketWorkflow,
};
use zvonar_models::{BuildingId, CallId, PhoneNumber, TicketId, TicketRequest};

async fn pool() -> sqlx::SqlitePool {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    pool
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
}

fn request(topic: &str, phone: Option<&str>, building: i64) -> TicketRequest {
    TicketRequest {
        caller: phone.map(|p| PhoneNumber::parse_ru(p).unwrap()),
        account_id: None,
        building_id: Some(BuildingId(building)),
        premises_id: None,
        apartment: Some("12".into()),
        topic: topic.into(),
        emergency: false,
        description: "течёт кран".into(),
        outage_id: None,
        unfinished: false,
    }
}

/// Files a ticket and marks it done at `done` (the trigger's time replaced by a fixed one).
async fn done_ticket(
    store: &SqliteDispatchStore,
    pool: &sqlx::SqlitePool,
    req: &TicketRequest,
    done: DateTime<Utc>,
    executor: Option<(i64, &str)>,
) -> TicketId {
    let t = store.file_ticket(None, t0(), req).await.unwrap();
    if let Some((id, name)) = executor {
        store
            .update_ticket(
                t.id,
                &TicketChange::assign(Assignment {
                    department: None,
                    executor: Some((id, name.into())),
                }),
            )
            .await
            .unwrap();
    }
    store
        .update_ticket(
            t.id,
            &TicketChange::status("done").with_result("заменён кран"),
        )
        .await
        .unwrap();
    let (stamped,): (Option<String>,) = sqlx::query_as("SELECT done_at FROM tickets WHERE id = ?")
        .bind(t.id.0)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(stamped.is_some(), "the trigger stamps done_at");
    sqlx::query("UPDATE tickets SET done_at = ? WHERE id = ?")
        .bind(stored_time(done))
        .bind(t.id.0)
        .execute(pool)
        .await
        .unwrap();
    t.id
}

fn rating(value: u8, source: RatingSource, comment: Option<&str>) -> NewRating {
    NewRating {
        value,
        source,
        comment: comment.map(str::to_string),
        recording: Some("2026/11/26/campaign-1-1.wav".into()),
        comment_recording: None,
        call_id: Some(CallId("campaign-1-1".into())),
        at: t0() + Duration::days(1),
        by: "robot:rating".into(),
    }
}

#[tokio::test]
async fn candidates_are_tickets_done_since_the_last_run_with_a_phone_not_rated_nor_called() {
    let pool = pool().await;
    let store = SqliteDispatchStore::new(pool.clone());
    let ratings = Ratings::new(store.clone(), QcPolicy::default());
    let phone = Some("+79161234567");
    let before = done_ticket(&store, &pool, &request("leak", phone, 1), t0(), None).await;
    let inside = done_ticket(
        &store,
        &pool,
        &request("leak", phone, 1),
        t0() + Duration::hours(2),
        None,
    )
    .await;
    let no_phone = done_ticket(
        &store,
        &pool,
        &request("leak", None, 1),
        t0() + Duration::hours(2),
        None,
    )
    .await;
    let called = done_ticket(
        &store,
        &pool,
        &request("leak", phone, 1),
        t0() + Duration::hours(3),
        None,
    )
    .await;
    let after = done_ticket(
        &store,
        &pool,
        &request("leak", phone, 1),
        t0() + Duration::hours(30),
        None,
    )
    .await;
    // Still in work: never selected.
    let open = store
        .file_ticket(None, t0(), &request("leak", phone, 1))
        .await
        .unwrap();
    let _ = (no_phone, open);
    let mut conn = pool.acquire().await.unwrap();
    Ratings::record_run(
        &mut conn,
        &RatingRun {
            at: t0() + Duration::hours(4),
            since: None,
            until: t0() + Duration::hours(1),
            selected: 1,
            campaign_id: Some(7),
        },
        &[called.0],
    )
    .await
    .unwrap();
    drop(conn);
    let last = ratings.last_run().await.unwrap().unwrap();
    assert_eq!(last.until, t0() + Duration::hours(1));
    assert_eq!(last.campaign_id, Some(7));

    let got = ratings
        .candidates(Some(last.until), t0() + Duration::hours(24))
        .await
        .unwrap();
    let ids: Vec<i64> = got.iter().map(|c| c.ticket_id).collect();
    assert_eq!(
        ids,
        vec![inside.0],
        "before the last run, after now, called, no phone: left out"
    );
    assert_eq!(got[0].caller.as_e164(), "+79161234567");
    assert_eq!(got[0].topic, "leak");

    // The first run (no last run) selects from the beginning.
    let all = ratings
        .candidates(None, t0() + Duration::hours(48))
        .await
        .unwrap();
    let ids: Vec<i64> = all.iter().map(|c| c.ticket_id).collect();
    assert_eq!(ids, vec![before.0, inside.0, after.0]);

    // A rated ticket is not selected again.
    ratings
        .rate(inside, &rating(5, RatingSource::Voice, None))
        .await
        .unwrap();
    let all = ratings
        .candidates(None, t0() + Duration::hours(48))
        .await
        .unwrap();
    assert!(!all.iter().any(|c| c.ticket_id == inside.0));
}

#[tokio::test]
async fn a_low_rating_files_a_quality_ticket_reopens_and_is_recorded_once() {
    let pool = pool().await;
    let store = SqliteDispatchStore::new(pool.clone());
    let policy = QcPolicy {
        threshold: 2,
        reopen: true,
        topic: "quality".into(),
        department: Some("Контроль качества".into()),
        executor: Some((42, "Петрова Анна".into())),
    };
    let ratings = Ratings::new(store.clone(), policy);
    let id = done_ticket(
        &store,
        &pool,
        &request("leak", Some("+79161234567"), 3),
        t0(),
        Some((5, "Сидоров")),
    )
    .await;

    // Bad input changes nothing.
    assert!(matches!(
        ratings.rate(id, &rating(0, RatingSource::Api, None)).await,
        Err(RateError::BadValue(0))
    ));
    assert!(matches!(
        ratings
            .rate(TicketId(999), &rating(1, RatingSource::Api, None))
            .await,
        Err(RateError::NoTicket)
    ));
    let open = store
        .file_ticket(None, t0(), &request("leak", None, 3))
        .await
        .unwrap();
    match ratings
        .rate(open.id, &rating(1, RatingSource::Api, None))
        .await
    {
        Err(RateError::NotCompleted { status, .. }) => assert_eq!(status, "new"),
        other => panic!("{other:?}"),
    }

    let out = ratings
        .rate(
            id,
            &rating(2, RatingSource::Keys, Some("  Кран опять течёт ")),
        )
        .await
        .unwrap();
    let qc = out.qc_ticket.clone().expect("a quality-control ticket");
    assert_eq!(qc.topic, "quality");
    assert_eq!(qc.department.as_deref(), Some("Контроль качества"));
    assert_eq!(qc.executor_id, Some(42));
    assert_eq!(qc.building_id, Some(BuildingId(3)));
    assert!(
        qc.description.contains(&format!("№{}", out.before.number)),
        "{}",
        qc.description
    );
    assert!(
        qc.description.contains("«Кран опять течёт»"),
        "{}",
        qc.description
    );
    assert_eq!(out.reopened.as_ref().unwrap().status, "in_progress");
    let r = &out.rating;
    assert_eq!((r.value, r.source), (2, RatingSource::Keys));
    assert_eq!(r.comment.as_deref(), Some("Кран опять течёт"));
    assert_eq!(r.qc_ticket_id, Some(qc.id.0));
    assert_eq!(r.qc_ticket_number.as_deref(), Some(qc.number.as_str()));
    assert!(r.reopened);
    assert_eq!(r.call_id.as_deref(), Some("campaign-1-1"));
    let t = store
        .ticket(&TicketRef::Id(id))
        .await
        .unwrap()
        .unwrap()
        .ticket;
    assert_eq!(t.status, "in_progress");
    let comments = store.comments(id).await.unwrap();
    let note = &comments.last().unwrap().text;
    assert!(
        note.contains("2 из 5") && note.contains(&qc.number),
        "{note}"
    );
    assert!(note.contains("возвращена в работу"), "{note}");

    // Done again, it is still rated once.
    store
        .update_ticket(id, &TicketChange::status("done"))
        .await
        .unwrap();
    assert!(matches!(
        ratings.rate(id, &rating(5, RatingSource::Api, None)).await,
        Err(RateError::AlreadyRated(_))
    ));
    assert_eq!(ratings.rating(id).await.unwrap().unwrap().value, 2);
}

#[tokio::test]
async fn a_good_rating_files_nothing_and_the_report_groups_by_executor_topic_building() {
    let pool = pool().await;
    let store = SqliteDispatchStore::new(pool.clone());
    let ratings = Ratings::new(
        store.clone(),
        QcPolicy {
            threshold: 3,
            reopen: false,
            ..QcPolicy::default()
        },
    );
    let phone = Some("+79161234567");
    let a = done_ticket(
        &store,
        &pool,
        &request("leak", phone, 1),
        t0(),
        Some((5, "Сидоров")),
    )
    .await;
    let b = done_ticket(
        &store,
        &pool,
        &request("leak", phone, 2),
        t0(),
        Some((5, "Сидоров")),
    )
    .await;
    let c = done_ticket(
        &store,
        &pool,
        &request("lift", phone, 1),
        t0(),
        Some((6, "Кузнецов")),
    )
    .await;
    let out = ratings
        .rate(a, &rating(5, RatingSource::Voice, None))
        .await
        .unwrap();
    assert!(out.qc_ticket.is_none() && out.reopened.is_none());
    ratings
        .rate(b, &rating(4, RatingSource::Keys, None))
        .await
        .unwrap();
    let low = ratings
        .rate(c, &rating(3, RatingSource::Api, None))
        .await
        .unwrap();
    assert!(low.qc_ticket.is_some(), "3 is at the threshold");
    assert!(low.reopened.is_none(), "reopen = false");
    let t = store
        .ticket(&TicketRef::Id(c))
        .await
        .unwrap()
        .unwrap()
        .ticket;
    assert_eq!(t.status, "done");

    let (from, to) = (t0(), t0() + Duration::days(2));
    let by_exec = ratings
        .report(from, to, ReportBy::Executor, None, None)
        .await
        .unwrap();
    assert_eq!(by_exec.len(), 2);
    assert_eq!(by_exec[0].key.as_deref(), Some("5"));
    assert_eq!(by_exec[0].label.as_deref(), Some("Сидоров"));
    assert_eq!(
        (by_exec[0].count, by_exec[0].average, by_exec[0].low),
        (2, 4.5, 0)
    );
    assert_eq!(by_exec[0].satisfied_pct, 100.0);
    assert_eq!(by_exec[1].by_value, [0, 0, 1, 0, 0]);
    assert_eq!(by_exec[1].low, 1);
    let by_topic = ratings
        .report(from, to, ReportBy::Topic, None, None)
        .await
        .unwrap();
    assert_eq!(by_topic[0].key.as_deref(), Some("leak"));
    assert_eq!(by_topic[0].count, 2);
    let by_building = ratings
        .report(from, to, ReportBy::Building, None, Some(vec![1]))
        .await
        .unwrap();
    assert_eq!(by_building.len(), 1, "only building 1 is visible");
    assert_eq!((by_building[0].count, by_building[0].average), (2, 4.0));
    // Outside the period: nothing.
    let none = ratings
        .report(to, to + Duration::days(1), ReportBy::Topic, None, None)
        .await
        .unwrap();
    assert!(none.is_empty());
}
