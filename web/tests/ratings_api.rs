//! Ratings over HTTP through `app(state)` with `oneshot`: the residents' app rates a completed
//! ticket with its own API key (`rate_tickets`), a low rating files the quality-control ticket
//! and reopens the rated one, everything audited; a user without the permission gets 403 and
//! changes nothing; bad input gets a clear 400/409; the rating shows on the ticket card; the
//! satisfaction report (JSON and CSV) is for `view_monitor` only.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{add_user, base_state, memory_pool, Req};
use serde_json::{json, Value};
use std::sync::Arc;
use zvonar_access::{Access, AuthPolicy, Permission, Role};
use zvonar_dispatch::rating::{QcPolicy, Ratings};
use zvonar_dispatch::{Assignment, DispatchStore, SqliteDispatchStore, TicketChange, TicketRef};
use zvonar_models::{BuildingId, PhoneNumber, TicketId, TicketRequest};
use zvonar_web::AppState;

struct T {
    state: AppState,
    access: Arc<Access>,
    store: SqliteDispatchStore,
    keys: std::collections::HashMap<&'static str, String>,
}

async fn setup() -> T {
    let pool = memory_pool().await;
    let access = Arc::new(Access::new(pool.clone(), AuthPolicy::default()));
    let store = SqliteDispatchStore::new(pool);
    let ratings = Arc::new(Ratings::new(
        store.clone(),
        QcPolicy {
            threshold: 3,
            reopen: true,
            topic: "quality".into(),
            department: Some("Контроль качества".into()),
            executor: None,
        },
    ));
    let state = base_state(
        Arc::new(store.clone()) as Arc<dyn DispatchStore>,
        access.clone(),
        std::env::temp_dir(),
    )
    .with_ratings(ratings);
    // The residents' app runs as an operator-role account whose role was given rate_tickets.
    let mut operator = Role::Operator.default_permissions();
    operator.insert(Permission::RateTickets);
    access
        .set_role_permissions(Role::Operator, &operator)
        .await
        .unwrap();
    let mut keys = std::collections::HashMap::new();
    for (login, role) in [
        ("app", Role::Operator),
        ("petr", Role::Executor),
        ("sveta", Role::Supervisor),
    ] {
        let user = add_user(&access, login, role, "").await;
        let (_, key) = access.create_api_key(user, "test").await.unwrap();
        keys.insert(login, key);
    }
    T {
        state,
        access,
        store,
        keys,
    }
}

/// (status, JSON, text) of one request with `who`'s API key.
async fn send(
    t: &T,
    method: Method,
    path: &str,
    who: &str,
    body: Option<&str>,
) -> (StatusCode, Value, String) {
    let mut req = Req::new(method, path).bearer(&t.keys[who]);
    if let Some(b) = body {
        req = req.body("application/json", b.as_bytes().to_vec());
    }
    let r = req.send(&t.state).await;
    (r.status, r.json, r.text)
}

async fn done_ticket(t: &T, topic: &str) -> TicketId {
    let req = TicketRequest {
        caller: Some(PhoneNumber::parse_ru("+79161234567").unwrap()),
        account_id: None,
        building_id: Some(BuildingId(1)),
        premises_id: None,
        apartment: Some("5".into()),
        topic: topic.into(),
        emergency: false,
        description: "не работает свет в подъезде".into(),
        outage_id: None,
        unfinished: false,
    };
    let tk = t
        .store
        .file_ticket(None, chrono::Utc::now(), &req)
        .await
        .unwrap();
    t.store
        .update_ticket(
            tk.id,
            &TicketChange::assign(Assignment {
                department: None,
                executor: Some((9, "Сидоров".into())),
            }),
        )
        .await
        .unwrap();
    t.store
        .update_ticket(tk.id, &TicketChange::status("done"))
        .await
        .unwrap();
    tk.id
}

async fn audit(t: &T) -> Vec<(String, String)> {
    t.access
        .audit_log(1000, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.action.contains("rated") || e.action.contains("qc_") || e.action.contains("reopened")
        })
        .map(|e| (e.actor, e.action))
        .collect()
}

#[tokio::test]
async fn the_app_rates_with_its_key_a_low_rating_files_qc_and_reopens_others_get_403() {
    let t = setup().await;
    let id = done_ticket(&t, "electricity").await;
    let path = format!("/api/v1/tickets/{}/rating", id.0);

    // Without rate_tickets: 403, nothing stored, nothing audited.
    for who in ["petr", "sveta"] {
        let (st, body, _) = send(&t, Method::POST, &path, who, Some(r#"{"value": 5}"#)).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{who}: {body}");
    }
    let (_, card, _) = send(
        &t,
        Method::GET,
        &format!("/api/v1/tickets/{}", id.0),
        "sveta",
        None,
    )
    .await;
    assert_eq!(card["rating"], Value::Null, "{card}");
    assert!(audit(&t).await.is_empty());

    // Bad input: clear errors, nothing stored.
    for (body, want) in [
        (r#"{"value": "пять"}"#, "value"),
        (r#"{"value": 7}"#, "value"),
        (r#"{"value": 4.5}"#, "value"),
        (r#"{"value": 4, "stars": 4}"#, "stars"),
        (r#"{"comment": "без оценки"}"#, "value"),
    ] {
        let (st, err, _) = send(&t, Method::POST, &path, "app", Some(body)).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert!(
            err["error"].as_str().unwrap().contains(want),
            "{body}: {err}"
        );
    }
    let long = json!({"value": 4, "comment": "а".repeat(2001)}).to_string();
    let (st, _, _) = send(&t, Method::POST, &path, "app", Some(&long)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _, _) = send(
        &t,
        Method::POST,
        "/api/v1/tickets/999/rating",
        "app",
        Some(r#"{"value": 4}"#),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // A ticket still in work cannot be rated.
    let open = t
        .store
        .file_ticket(
            None,
            chrono::Utc::now(),
            &TicketRequest {
                caller: None,
                account_id: None,
                building_id: None,
                premises_id: None,
                apartment: None,
                topic: "leak".into(),
                emergency: false,
                description: String::new(),
                outage_id: None,
                unfinished: false,
            },
        )
        .await
        .unwrap();
    let (st, err, _) = send(
        &t,
        Method::POST,
        &format!("/api/v1/tickets/{}/rating", open.id.0),
        "app",
        Some(r#"{"value": 4}"#),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("только выполненную"),
        "{err}"
    );
    assert!(audit(&t).await.is_empty());

    // The app's rating: 2 with a comment.
    let (st, r, _) = send(
        &t,
        Method::POST,
        &path,
        "app",
        Some(r#"{"value": 2, "comment": "Свет так и не горит"}"#),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    assert_eq!(r["value"], 2);
    assert_eq!(r["source"], "api");
    assert_eq!(r["by"], "app");
    assert_eq!(r["reopened"], true);
    let qc_number = r["qc_ticket_number"]
        .as_str()
        .expect("qc ticket")
        .to_string();
    let qc = t
        .store
        .ticket(&TicketRef::Number(qc_number.clone()))
        .await
        .unwrap()
        .unwrap()
        .ticket;
    assert_eq!(qc.topic, "quality");
    assert_eq!(qc.department.as_deref(), Some("Контроль качества"));
    assert!(
        qc.description.contains("Свет так и не горит"),
        "{}",
        qc.description
    );
    let (_, card, _) = send(
        &t,
        Method::GET,
        &format!("/api/v1/tickets/{}", id.0),
        "sveta",
        None,
    )
    .await;
    assert_eq!(card["rating"]["value"], 2, "{card}");
    assert_eq!(card["rating"]["comment"], "Свет так и не горит");
    assert_eq!(card["ticket"]["status"], "in_progress", "reopened");
    assert_eq!(
        audit(&t).await,
        vec![
            ("app".to_string(), "ticket_reopened".to_string()),
            ("app".to_string(), "qc_ticket_created".to_string()),
            ("app".to_string(), "ticket_rated".to_string()),
        ]
    );
    // Rated once.
    t.store
        .update_ticket(id, &TicketChange::status("done"))
        .await
        .unwrap();
    let (st, err, _) = send(&t, Method::POST, &path, "app", Some(r#"{"value": 5}"#)).await;
    assert_eq!(st, StatusCode::CONFLICT, "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("уже оценена"),
        "{err}"
    );

    // The report: supervisors only.
    let second = done_ticket(&t, "electricity").await;
    let (st, _, _) = send(
        &t,
        Method::POST,
        &format!("/api/v1/tickets/{}/rating", second.0),
        "app",
        Some(r#"{"value": 5}"#),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y-%m-%d")
        .to_string();
    let q = format!("/api/v1/ratings/report?from={today}&to={today}&by=executor");
    let (st, _, _) = send(&t, Method::GET, &q, "petr", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, rep, _) = send(&t, Method::GET, &q, "sveta", None).await;
    assert_eq!(st, StatusCode::OK, "{rep}");
    let row = &rep["rows"][0];
    assert_eq!(row["label"], "Сидоров", "{rep}");
    assert_eq!(
        (row["count"].as_i64(), row["average"].as_f64()),
        (Some(2), Some(3.5))
    );
    assert_eq!(row["low"], 1);
    assert_eq!(row["by_value"], json!([0, 1, 0, 0, 1]));
    let (st, _, csv) = send(&t, Method::GET, &format!("{q}&format=csv"), "sveta", None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(csv.starts_with("группа;название;оценок;средняя"), "{csv}");
    assert!(csv.contains("9;Сидоров;2;3.5;1;50;0;1;0;0;1"), "{csv}");
    for bad in [
        format!("/api/v1/ratings/report?from=30.11.2026&to={today}"),
        format!("/api/v1/ratings/report?from={today}&to={today}&by=floor"),
        "/api/v1/ratings/report?from=2026-12-02&to=2026-12-01".to_string(),
    ] {
        let (st, err, _) = send(&t, Method::GET, &bad, "sveta", None).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {err}");
    }
}
