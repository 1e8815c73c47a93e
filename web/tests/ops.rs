//! The operators' floor API through `app(state)` with `oneshot`: missed calls and callback
//! attempts, the report (JSON and CSV), outages registered from the console, and the
//! caller's card — and for each, the roles that may not act get 403 and change nothing.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;
use zvonar_access::{Access, AuthPolicy, NewUser, Role, Visibility};
use zvonar_billing::{Registry, SqliteRegistry};
use zvonar_dispatch::{DispatchStore, MissedSettings, SqliteDispatchStore, WorkingHours};
use zvonar_models::{
    BuildingId, CallEvent, CallEventKind, CallId, Disposition, PhoneNumber, TicketRequest,
};
use zvonar_web::{app, AppState, Operations};

const TOKEN: &str = "Zq3v9LrT0mWc2XyB8nKd5sFh";

struct T {
    state: AppState,
    access: Arc<Access>,
    store: SqliteDispatchStore,
    registry: Arc<SqliteRegistry>,
    pool: sqlx::SqlitePool,
    keys: std::collections::HashMap<&'static str, String>,
}

struct Resp {
    status: StatusCode,
    content_type: String,
    text: String,
    json: Value,
}

async fn setup() -> T {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_billing::migrate(&pool).await.unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    zvonar_access::migrate(&pool).await.unwrap();
    let registry_csv =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/example/registry.csv");
    let r = zvonar_billing::import_accounts(&pool, registry_csv)
        .await
        .unwrap();
    assert!(r.errors.is_empty());
    let access = Arc::new(Access::new(pool.clone(), AuthPolicy::default()));
    let store = SqliteDispatchStore::new(pool.clone()).with_missed(MissedSettings {
        hours: WorkingHours::always(chrono_tz::Europe::Moscow),
        ..MissedSettings::default()
    });
    let registry = Arc::new(SqliteRegistry::new(pool.clone()));
    let ops = Operations {
        registry: registry.clone(),
        outages: registry.clone(),
        missed: Arc::new(store.clone()),
        history: Arc::new(store.clone()),
        time_zone: chrono_tz::Europe::Moscow,
    };
    let state = AppState::new(
        Arc::new(store.clone()),
        TOKEN.into(),
        std::env::temp_dir(),
        Arc::new(prometheus_client::registry::Registry::default()),
    )
    .with_access(access.clone(), false)
    .with_operations(ops);
    let mut keys = std::collections::HashMap::new();
    for (login, role) in [
        ("op", Role::Operator),
        ("disp", Role::Dispatcher),
        ("exec", Role::Executor),
        ("super", Role::Supervisor),
        ("admin", Role::Admin),
    ] {
        let u = access
            .create_user(
                &NewUser {
                    login: login.into(),
                    display_name: String::new(),
                    role: Some(role),
                    visibility: Visibility::default(),
                },
                "верный пароль 42",
                false,
            )
            .await
            .unwrap();
        let (_, key) = access.create_api_key(u.id, "tests").await.unwrap();
        keys.insert(login, key);
    }
    T {
        state,
        access,
        store,
        registry,
        pool,
        keys,
    }
}

impl T {
    async fn send(&self, who: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.keys[who]));
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let resp = app(self.state.clone())
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Resp {
            status,
            content_type,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    async fn get(&self, who: &str, path: &str) -> Resp {
        self.send(who, Method::GET, path, None).await
    }

    async fn audit(&self) -> Vec<(String, String)> {
        self.access
            .audit_log(1000, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.actor, e.action))
            .collect()
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .unwrap()
            .0
    }

    /// A call that ended `ago_min` minutes ago: answered by the robot with `outcome`, or
    /// hung up while ringing (`outcome` None).
    async fn call(&self, id: &str, caller: Option<&str>, ago_min: i64, outcome: Option<&str>) {
        let at = Utc::now() - Duration::minutes(ago_min);
        let call_id = CallId(id.into());
        let ev = |s: i64, kind| CallEvent {
            call_id: call_id.clone(),
            at: at + Duration::seconds(s),
            kind,
        };
        let mut events = vec![ev(
            0,
            CallEventKind::Started {
                caller: caller.map(|c| PhoneNumber::parse_ru(c).unwrap()),
                caller_raw: caller
                    .unwrap_or("79990001122")
                    .trim_start_matches('+')
                    .into(),
                callee: "74951234567".into(),
                transport: "udp".into(),
                flow: "dispatcher".into(),
            },
        )];
        let recording = format!("2026/11/30/{id}.wav");
        if let Some(o) = outcome {
            events.push(ev(
                1,
                CallEventKind::Answered {
                    recording: recording.clone(),
                },
            ));
            events.push(ev(20, CallEventKind::Outcome { outcome: o.into() }));
        }
        events.push(ev(
            30,
            CallEventKind::Ended {
                disposition: if outcome.is_some() {
                    Disposition::Answered
                } else {
                    Disposition::Missed
                },
                cause: if outcome.is_some() {
                    "caller_bye"
                } else {
                    "cancel"
                }
                .into(),
                recording: outcome.map(|_| recording.clone()),
                talk_ms: 0,
            },
        ));
        for (n, e) in events.iter().enumerate() {
            self.store
                .record_event(&format!("{id}-{n}"), e)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn missed_calls_list_attempts_and_roles() {
    let t = setup().await;
    t.call("m1", Some("+79031112233"), 60, None).await;
    t.call("m2", Some("+79031112233"), 50, Some("caller_hangup"))
        .await;
    t.call("m3", None, 40, Some("caller_hangup")).await;
    // A completed call is not missed.
    t.call("ok1", Some("+79035554433"), 30, Some("ticket_created"))
        .await;

    let list = t.get("op", "/api/v1/missed").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let list = list.json.as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "{list:#?}");
    let e = list.iter().find(|m| m["number"] == "+79031112233").unwrap();
    assert_eq!(e["calls"], 2);
    assert_eq!(e["overdue"], true);
    assert_eq!(e["reason"], "robot_hangup");
    assert_eq!(e["reason_label"], "положил трубку при роботе");
    assert_eq!(e["recording_url"], "/api/v1/calls/m2/recording");
    let id = e["id"].as_i64().unwrap();
    // The caller with a number it gave unverified (not from a trusted trunk) is still listed.
    assert!(list.iter().any(|m| m["last_call_id"] == "m3"));

    // The executor may neither see nor work the list.
    let before_audit = t.audit().await.len();
    assert_eq!(
        t.get("exec", "/api/v1/missed").await.status,
        StatusCode::FORBIDDEN
    );
    let r = t
        .send(
            "exec",
            Method::POST,
            &format!("/api/v1/missed/{id}/attempts"),
            Some(json!({"outcome": "reached"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(t.count("callback_attempts").await, 0);
    assert_eq!(t.audit().await.len(), before_audit);

    // Bad input: 400, nothing stored.
    for bad in [
        json!({"outcome": "maybe"}),
        json!({"outcome": "busy", "comment": "x".repeat(2001)}),
    ] {
        let r = t
            .send(
                "op",
                Method::POST,
                &format!("/api/v1/missed/{id}/attempts"),
                Some(bad),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    }
    assert_eq!(t.count("callback_attempts").await, 0);

    let r = t
        .send(
            "op",
            Method::POST,
            &format!("/api/v1/missed/{id}/attempts"),
            Some(json!({"outcome": "no_answer", "comment": "длинные гудки"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["attempt"]["outcome_label"], "не отвечает");
    assert_eq!(r.json["attempt"]["by"], "op");
    assert_eq!(r.json["missed"]["status"], "open");
    assert_eq!(r.json["missed"]["overdue"], false);
    let r = t
        .send(
            "op",
            Method::POST,
            &format!("/api/v1/missed/{id}/attempts"),
            Some(json!({"outcome": "reached", "comment": "заявку примем сами"})),
        )
        .await;
    assert_eq!(r.json["missed"]["closed_as"], "reached");
    let r = t
        .send(
            "op",
            Method::POST,
            &format!("/api/v1/missed/{id}/attempts"),
            Some(json!({"outcome": "busy"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        t.send(
            "op",
            Method::POST,
            "/api/v1/missed/999/attempts",
            Some(json!({"outcome": "busy"}))
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let actions = t.audit().await;
    assert_eq!(
        actions
            .iter()
            .filter(|(who, a)| who == "op" && a == "callback_attempt")
            .count(),
        2
    );

    let d = t.get("op", &format!("/api/v1/missed/{id}")).await;
    assert_eq!(d.status, StatusCode::OK);
    let calls = d.json["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0]["recording_url"],
        Value::Null,
        "never answered: no audio"
    );
    assert_eq!(calls[1]["recording_url"], "/api/v1/calls/m2/recording");
    assert_eq!(d.json["attempts"].as_array().unwrap().len(), 2);
    let closed = t.get("op", "/api/v1/missed?status=closed").await;
    assert_eq!(closed.json.as_array().unwrap().len(), 1);
    assert_eq!(
        t.get("op", "/api/v1/missed?status=whatever").await.status,
        StatusCode::BAD_REQUEST
    );

    // The report: supervisors (view_monitor), not operators.
    let today = Utc::now()
        .with_timezone(&chrono_tz::Europe::Moscow)
        .date_naive();
    let from = today - Duration::days(1);
    let q = format!("/api/v1/missed/report?from={from}&to={today}");
    assert_eq!(t.get("op", &q).await.status, StatusCode::FORBIDDEN);
    let r = t.get("super", &q).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["missed_calls"], 3);
    assert_eq!(r.json["by_reason"]["robot_hangup"], 2);
    assert_eq!(r.json["by_reason"]["rang_out"], 1);
    assert_eq!(r.json["by_outcome"]["reached"], 1);
    let csv = t.get("super", &format!("{q}&format=csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    assert!(csv.text.starts_with('\u{feff}'));
    assert!(
        csv.text.contains("итого,missed_calls,пропущено звонков,3"),
        "{}",
        csv.text
    );
    assert!(
        csv.text.contains("результат,no_answer,не отвечает,1"),
        "{}",
        csv.text
    );
    for bad in [
        "from=30.11.2026",
        "from=2026-11-30&to=2026-11-01",
        "format=pdf",
    ] {
        let r = t
            .get("super", &format!("/api/v1/missed/report?{bad}"))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
}

async fn building(t: &T, street: &str) -> i64 {
    t.registry
        .buildings()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.street == street)
        .unwrap()
        .id
        .0
}

#[tokio::test]
async fn outages_are_registered_changed_and_closed_by_dispatchers_only() {
    let t = setup().await;
    let mira = building(&t, "проспект Мира").await;
    let start = (Utc::now() - Duration::hours(1))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let body = json!({
        "building_ids": [mira], "resource": "cold_water", "starts_at": start,
        "ends_at": null, "text": "Порыв на вводе"
    });
    let outages_before = t.count("outages").await;
    for who in ["op", "exec"] {
        let r = t
            .send(who, Method::POST, "/api/v1/outages", Some(body.clone()))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}");
    }
    assert_eq!(t.count("outages").await, outages_before);
    assert!(!t.audit().await.iter().any(|(_, a)| a == "outage_created"));

    let r = t
        .send("disp", Method::POST, "/api/v1/outages", Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_i64().unwrap();
    assert_eq!(r.json["state"], "active");
    assert_eq!(r.json["kind"], "холодной воды");
    assert_eq!(r.json["resource_label"], "ХВС (холодная вода)");
    assert_eq!(r.json["created_by"], "disp");
    assert_eq!(r.json["ends_at"], Value::Null);
    // Local time in the company's zone, to the minute.
    let starts: chrono::DateTime<Utc> = r.json["starts_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (Utc::now() - Duration::hours(1) - starts)
            .num_seconds()
            .abs()
            < 61
    );
    // Everyone signed in sees it; the robot reads it (the registry's active outages).
    let list = t.get("op", "/api/v1/outages").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.json.as_array().unwrap().iter().any(|n| n["id"] == id));
    assert_eq!(
        t.registry
            .active_outages(BuildingId(mira), Utc::now())
            .await
            .unwrap()
            .len(),
        1
    );

    // Bad input: 400/409, nothing stored.
    let n = t.count("outages").await;
    for (bad, status) in [
        (
            json!({"building_ids": [mira], "resource": "plasma"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"building_ids": [9999], "resource": "gas"}),
            StatusCode::BAD_REQUEST,
        ),
        (json!({"resource": "gas"}), StatusCode::BAD_REQUEST),
        (
            json!({"building_ids": [mira], "street": "улица Ленина", "resource": "gas"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"street": "улица Мечты", "resource": "gas"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"building_ids": [mira], "resource": "gas", "starts_at": "завтра"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"building_ids": [mira], "resource": "gas", "starts_at": "2026-11-30T10:00", "ends_at": "2026-11-30T09:00"}),
            StatusCode::BAD_REQUEST,
        ),
        (body.clone(), StatusCode::CONFLICT),
    ] {
        let r = t
            .send("disp", Method::POST, "/api/v1/outages", Some(bad.clone()))
            .await;
        assert_eq!(r.status, status, "{bad}: {}", r.text);
    }
    assert_eq!(t.count("outages").await, n);

    // A whole street.
    let r = t
        .send(
            "disp",
            Method::POST,
            "/api/v1/outages",
            Some(json!({"street": "улица ленина", "resource": "lift", "ends_at": "2099-01-01T10:00"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["street"], "улица Ленина");
    assert_eq!(r.json["buildings"].as_array().unwrap().len(), 1);

    // Operators can change or close nothing.
    let path = format!("/api/v1/outages/{id}");
    let r = t
        .send("op", Method::PATCH, &path, Some(json!({"text": "x"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .send("op", Method::POST, &format!("{path}/close"), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(t.get("op", &path).await.json["text"], "Порыв на вводе");

    let r = t
        .send(
            "disp",
            Method::PATCH,
            &path,
            Some(json!({"ends_at": "2099-01-01T18:00", "text": "Бригада на месте"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["text"], "Бригада на месте");
    assert_eq!(r.json["ends_at"], "2099-01-01T15:00:00Z");
    assert_eq!(
        t.send("disp", Method::PATCH, &path, Some(json!({})))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let r = t
        .send("super", Method::POST, &format!("{path}/close"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["state"], "ended");
    assert_eq!(r.json["closed_by"], "super");
    assert!(t
        .registry
        .active_outages(BuildingId(mira), Utc::now())
        .await
        .unwrap()
        .is_empty());
    let r = t
        .send("disp", Method::POST, &format!("{path}/close"), None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(!t
        .get("op", "/api/v1/outages")
        .await
        .json
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == id));
    let actions = t.audit().await;
    for (who, a) in [
        ("disp", "outage_created"),
        ("disp", "outage_changed"),
        ("super", "outage_closed"),
    ] {
        assert!(
            actions.iter().any(|(w, x)| w == who && x == a),
            "{who} {a}: {actions:?}"
        );
    }
    let b = t.get("exec", "/api/v1/buildings").await;
    assert_eq!(b.json.as_array().unwrap().len(), 3);
    let res = t.get("op", "/api/v1/outages/resources").await;
    assert_eq!(res.json.as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn the_callers_card() {
    let t = setup().await;
    let phone = PhoneNumber::parse_ru("+79161234567").unwrap();
    let known = t.registry.find_by_phone(&phone).await.unwrap();
    let lenina = known[0].building_id;
    // A ticket filed earlier on the account, an outage on the building, an earlier call.
    let ticket = t
        .store
        .file_ticket(
            None,
            Utc::now() - Duration::days(2),
            &TicketRequest {
                caller: Some(phone.clone()),
                account_id: Some(known[0].account_id),
                building_id: Some(lenina),
                premises_id: Some(known[0].premises_id),
                apartment: Some("12".into()),
                topic: "leak".into(),
                emergency: false,
                description: "течёт кран".into(),
                outage_id: None,
                unfinished: false,
            },
        )
        .await
        .unwrap();
    let r = t
        .send(
            "disp",
            Method::POST,
            "/api/v1/outages",
            Some(json!({"building_ids": [lenina.0], "resource": "hot_water"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    t.call("earlier", Some("+79161234567"), 120, Some("ticket_created"))
        .await;
    t.call("missed1", Some("+79161234567"), 60, Some("caller_hangup"))
        .await;

    assert_eq!(
        t.get("exec", "/api/v1/card?phone=89161234567").await.status,
        StatusCode::FORBIDDEN
    );
    let c = t.get("op", "/api/v1/card?phone=8%20916%20123-45-67").await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let card = &c.json;
    assert_eq!(card["phone"], "+79161234567");
    assert_eq!(card["source"], "entered");
    let acc = &card["accounts"][0];
    assert_eq!(acc["address"], known[0].address.as_str());
    assert_eq!(acc["apartment"], "12");
    assert_eq!(acc["residents"].as_array().unwrap().len(), 2);
    assert_eq!(card["tickets"][0]["number"], ticket.number.as_str());
    assert_eq!(card["outages"][0]["kind"], "горячей воды");
    let calls = card["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["call_id"], "missed1");
    assert_eq!(calls[1]["recording_url"], "/api/v1/calls/earlier/recording");
    assert_eq!(card["missed"]["last_call_id"], "missed1");
    // No debts imported yet: the account has no figures (null, not zero).
    assert!(acc["debt"].is_null(), "{acc}");

    // The billing export names ЛС 5000010012 (apartment 12) but not ЛС 5000010007.
    let debts = std::env::temp_dir().join(format!("zvonar-card-debts-{}.csv", std::process::id()));
    std::fs::write(
        &debts,
        "лс;долг;неоплаченный месяц;на дату\n5000010012;1 234,50;2026-08;01.11.2026\n",
    )
    .unwrap();
    let r = zvonar_billing::import_debts(&t.pool, &debts, None)
        .await
        .unwrap();
    std::fs::remove_file(&debts).unwrap();
    assert!(r.errors.is_empty(), "{r:?}");
    let c = t.get("op", "/api/v1/card?phone=89161234567").await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert_eq!(
        c.json["accounts"][0]["debt"],
        json!({
            "balance_kopecks": 123_450,
            "balance_text": "1\u{a0}234,50\u{a0}₽",
            "months_owed": 3,
            "oldest_unpaid": "2026-08-01",
            "oldest_unpaid_text": "август 2026",
            "as_of": "2026-11-01",
            "as_of_text": "на 01.11.2026",
        }),
        "{}",
        c.text
    );
    let c = t.get("op", "/api/v1/card?phone=89265550707").await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let acc7 = &c.json["accounts"][0];
    assert_eq!(acc7["account_number"], "5000010007", "{}", c.text);
    assert!(acc7["debt"].is_null(), "{acc7}");
    // An executor may not take calls: no card, debt or not.
    assert_eq!(
        t.get("exec", "/api/v1/card?phone=89161234567").await.status,
        StatusCode::FORBIDDEN
    );

    // By the ringing call's id: the number is the verified caller ID; the call itself is not
    // among the earlier ones.
    let c = t.get("op", "/api/v1/card?call_id=missed1").await;
    assert_eq!(c.json["source"], "caller_id");
    assert_eq!(c.json["call"]["call_id"], "missed1");
    assert_eq!(c.json["calls"].as_array().unwrap().len(), 1);
    // An unverified caller: nothing is read from the registry.
    t.call("spoof", None, 5, Some("caller_hangup")).await;
    let c = t.get("op", "/api/v1/card?call_id=spoof").await;
    assert_eq!(c.json["source"], "unverified");
    assert!(c.json["accounts"].as_array().unwrap().is_empty());
    assert_eq!(c.json["call"]["caller_raw"], "79990001122");

    // A user who sees only gas tickets does not see the leak ticket on the card.
    let u = t
        .access
        .create_user(
            &NewUser {
                login: "gasop".into(),
                display_name: String::new(),
                role: Some(Role::Operator),
                visibility: Visibility {
                    topics: vec!["gas".into()],
                    buildings: vec![],
                },
            },
            "верный пароль 42",
            false,
        )
        .await
        .unwrap();
    let (_, key) = t.access.create_api_key(u.id, "t").await.unwrap();
    let mut t = t;
    t.keys.insert("gasop", key);
    let c = t.get("gasop", "/api/v1/card?phone=89161234567").await;
    assert!(c.json["tickets"].as_array().unwrap().is_empty());
    assert_eq!(c.json["accounts"].as_array().unwrap().len(), 1);

    for bad in [
        "/api/v1/card",
        "/api/v1/card?phone=abc",
        "/api/v1/card?phone=1&call_id=x",
    ] {
        assert_eq!(
            t.get("op", bad).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(
        t.get("op", "/api/v1/card?call_id=nope").await.status,
        StatusCode::NOT_FOUND
    );
}
