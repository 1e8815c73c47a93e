//! The duty routes through `app(state)` with `oneshot` and a real SQLite store: only
//! `manage_duty` may read and store rosters (403 and nothing stored or audited otherwise);
//! bad rosters and bad CSV lines are refused by name and store nothing; the ticket card
//! carries the escalation with Russian labels; acceptance from the console reaches the
//! engine as the logged-in user and is audited.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{add_user, audit, base_state, log_in, memory_pool, Browser, Req};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use zvonar_access::{Access, AuthPolicy, Role};
use zvonar_dispatch::duty::{AttemptOutcome, DutyStore, Escalation, Rules};
use zvonar_dispatch::{DispatchStore, SqliteDispatchStore};
use zvonar_models::TicketRequest;
use zvonar_web::{AcceptError, AppState, Duty, DutyControl};

/// Records what reached the engine.
#[derive(Default)]
struct FakeRunner {
    seen: Mutex<Vec<(i64, i64, String)>>,
    store: Mutex<Option<Arc<SqliteDispatchStore>>>,
}

#[async_trait::async_trait]
impl DutyControl for FakeRunner {
    async fn accept(
        &self,
        ticket_id: i64,
        user_id: i64,
        name: &str,
    ) -> Result<Escalation, AcceptError> {
        self.seen
            .lock()
            .unwrap()
            .push((ticket_id, user_id, name.to_string()));
        let store = self.store.lock().unwrap().clone().unwrap();
        let mut e = store
            .escalation(ticket_id)
            .await
            .unwrap()
            .ok_or(AcceptError::NotFound)?;
        if e.accept(user_id, name, chrono::Utc::now()).is_empty() {
            return Err(AcceptError::Over("уже завершено".into()));
        }
        Ok(e)
    }
}

struct T {
    state: AppState,
    access: Arc<Access>,
    store: Arc<SqliteDispatchStore>,
    runner: Arc<FakeRunner>,
}

async fn setup() -> T {
    let pool = memory_pool().await;
    let access = Arc::new(Access::new(pool.clone(), AuthPolicy::default()));
    let store = Arc::new(SqliteDispatchStore::new(pool));
    let runner = Arc::new(FakeRunner::default());
    *runner.store.lock().unwrap() = Some(store.clone());
    let dispatch: Arc<dyn DispatchStore> = store.clone();
    let state = base_state(dispatch, access.clone(), std::env::temp_dir()).with_duty(Duty {
        store: store.clone(),
        control: Some(runner.clone()),
    });
    add_user(&access, "anna", Role::Operator, "").await;
    add_user(&access, "petr", Role::Executor, "Пётр Сантехник").await;
    add_user(&access, "sveta", Role::Supervisor, "").await;
    T {
        state,
        access,
        store,
        runner,
    }
}

async fn user_id(t: &T, login: &str) -> i64 {
    t.access.user_by_login(login).await.unwrap().unwrap().id
}

/// (status, Set-Cookie, JSON) of one request as `who` (with the CSRF token), with a body
/// of the given content type.
async fn send(
    t: &T,
    method: Method,
    path: &str,
    who: Option<&Browser>,
    body: Option<(&str, String)>,
) -> (StatusCode, String, Value) {
    let mut req = Req::new(method, path).by_opt(who, true);
    if let Some((ty, text)) = body {
        req = req.body(ty, text.into_bytes());
    }
    let r = req.send(&t.state).await;
    (r.status, r.set_cookie(), r.json)
}

async fn duty_audit(t: &T) -> Vec<(String, String)> {
    audit(&t.access, "duty_")
        .await
        .into_iter()
        .map(|(actor, action, _)| (actor, action))
        .collect()
}

fn roster(user: i64) -> String {
    json!({
        "shifts": [{"days": [1, 2, 3, 4, 5], "start": "20:00", "end": "08:00", "order": 1,
                    "user_id": user, "name": "Пётр", "phone": "account:102"}],
        "supervisor": {"user_id": user, "name": "Пётр", "phone": "+79160000009"}
    })
    .to_string()
}

#[tokio::test]
async fn only_manage_duty_reads_and_stores_rosters_and_every_change_is_audited() {
    let t = setup().await;
    let petr = user_id(&t, "petr").await;
    let path = "/api/v1/duty/rosters/%D0%A1%D0%B0%D0%BD%D1%82%D0%B5%D1%85%D0%BD%D0%B8%D0%BA%D0%B8";
    for login in ["anna", "petr"] {
        let who = log_in(&t.state, login).await;
        let (s, _, body) = send(
            &t,
            Method::PUT,
            path,
            Some(&who),
            Some(("application/json", roster(petr))),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{login}: {body}");
        let (s, _, _) = send(&t, Method::GET, "/api/v1/duty/rosters", Some(&who), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{login}");
        let (s, _, _) = send(
            &t,
            Method::POST,
            "/api/v1/duty/rosters/import",
            Some(&who),
            Some(("text/csv", "department;days\n".into())),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{login}");
    }
    assert!(t.store.rosters().await.unwrap().is_empty());
    assert!(duty_audit(&t).await.is_empty());

    let sveta = log_in(&t.state, "sveta").await;
    // Bad: an unknown user, a bad phone, no days — named, nothing stored.
    for (body, needle) in [
        (roster(9999), "9999".to_string()),
        (roster(petr).replace("account:102", "12ab"), "12ab".into()),
        (
            roster(petr).replace("[1,2,3,4,5]", "[]"),
            "shifts[1]: days".into(),
        ),
    ] {
        let (s, _, resp) = send(
            &t,
            Method::PUT,
            path,
            Some(&sveta),
            Some(("application/json", body)),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{resp}");
        assert!(resp["error"].as_str().unwrap().contains(&needle), "{resp}");
    }
    assert!(t.store.rosters().await.unwrap().is_empty());
    let (s, _, resp) = send(
        &t,
        Method::PUT,
        path,
        Some(&sveta),
        Some(("application/json", roster(petr))),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{resp}");
    assert_eq!(resp["department"], "Сантехники");
    assert_eq!(resp["shifts"][0]["end"], "08:00");
    let (s, _, all) = send(&t, Method::GET, "/api/v1/duty/rosters", Some(&sveta), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["rosters"][0]["supervisor"]["phone"], "+79160000009");

    // CSV: one bad line → every error listed, nothing stored.
    let csv = format!(
        "department;days;start;end;order;user_id;name;phone\n\
         Электрики;пн-пт;08:00;17:00;1;{petr};Пётр;account:102\n\
         Электрики;пн;08:00;17:00;1;{petr};Пётр;12ab\n"
    );
    let (s, _, resp) = send(
        &t,
        Method::POST,
        "/api/v1/duty/rosters/import",
        Some(&sveta),
        Some(("text/csv", csv.clone())),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{resp}");
    assert!(
        resp["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("строка 3: phone"),
        "{resp}"
    );
    assert_eq!(t.store.rosters().await.unwrap().len(), 1);
    let good = csv.lines().take(2).collect::<Vec<_>>().join("\n");
    let (s, _, resp) = send(
        &t,
        Method::POST,
        "/api/v1/duty/rosters/import",
        Some(&sveta),
        Some(("text/csv", good)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{resp}");
    assert_eq!(resp["imported"], json!(["Электрики"]));
    assert_eq!(t.store.roster("Электрики").await.unwrap().shifts.len(), 1);
    assert_eq!(
        duty_audit(&t).await,
        vec![
            ("sveta".to_string(), "duty_roster_import".to_string()),
            ("sveta".to_string(), "duty_roster_set".to_string()),
        ]
    );
}

#[tokio::test]
async fn the_card_shows_the_escalation_and_acceptance_reaches_the_engine_as_the_user() {
    let t = setup().await;
    let petr = user_id(&t, "petr").await;
    let req: TicketRequest = serde_json::from_value(json!({
        "caller": null, "account_id": null, "building_id": null, "premises_id": null,
        "apartment": null, "topic": "leak", "emergency": true, "description": "течёт",
        "outage_id": null, "unfinished": false
    }))
    .unwrap();
    let ticket = t
        .store
        .file_ticket(None, chrono::Utc::now(), &req)
        .await
        .unwrap();
    let id = ticket.id.0;
    let roster = zvonar_dispatch::duty::parse_csv(&format!(
        "department;days;start;end;order;user_id;name;phone\n\
         Сантехники;все;00:00;00:00;1;{petr};Пётр;account:102\n"
    ))
    .unwrap()
    .remove(0);
    let now = chrono::Utc::now();
    let mut e = Escalation::new(id, "Сантехники", roster.callees(now.naive_utc()), now);
    let rules = Rules {
        rounds: 2,
        round_gap_s: 60,
    };
    e.poll(now, &rules);
    e.on_call_ended(1, AttemptOutcome::Busy, Some(486), None, now, &rules);
    t.store.start_escalation(&e, now).await.unwrap();

    let anna = log_in(&t.state, "anna").await;
    let (s, _, card) = send(
        &t,
        Method::GET,
        &format!("/api/v1/tickets/{id}"),
        Some(&anna),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{card}");
    let esc = &card["escalation"];
    assert_eq!(esc["phase"], "waiting", "{esc}");
    assert_eq!(esc["attempts"][0]["outcome"]["outcome"], "busy");
    assert_eq!(esc["attempts"][0]["outcome_ru"], "занято");
    assert_eq!(esc["attempts"][0]["sip_code"], 486);
    assert_eq!(esc["attempts"][0]["phone"], "account:102");

    // The attempt's recording: listen_recordings first (petr, an executor, has not), then
    // the attempt must have one (the busy one has none).
    let who = log_in(&t.state, "petr").await;
    let rec = format!("/api/v1/tickets/{id}/escalation/1/recording");
    let (s, _, _) = send(&t, Method::GET, &rec, Some(&who), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = send(&t, Method::GET, &rec, Some(&anna), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Accepting as petr: the engine gets petr's id and display name; audited.
    let (s, _, resp) = send(
        &t,
        Method::POST,
        &format!("/api/v1/tickets/{id}/escalation/accept"),
        Some(&who),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{resp}");
    assert_eq!(resp["state_ru"], "принял Пётр Сантехник (в консоли)");
    assert_eq!(
        *t.runner.seen.lock().unwrap(),
        vec![(id, petr, "Пётр Сантехник".to_string())]
    );
    assert_eq!(
        duty_audit(&t).await,
        vec![("petr".to_string(), "duty_accept".to_string())]
    );
    // A ticket without an escalation: 404.
    let (s, _, _) = send(
        &t,
        Method::GET,
        "/api/v1/tickets/99999/escalation",
        Some(&who),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
