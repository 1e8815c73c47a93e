//! `GET /api/v1/campaigns/recipients` through `app(state)` with `oneshot`, on a real SQLite
//! registry with imported debts: who is selected, who is skipped and why; only roles with
//! `manage_campaigns` may ask.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;
use zvonar_access::{Access, AuthPolicy, NewUser, Role, Visibility};
use zvonar_billing::{Registry, SqliteRegistry};
use zvonar_dispatch::SqliteDispatchStore;
use zvonar_models::PhoneNumber;
use zvonar_web::{app, AppState, Operations};

const TOKEN: &str = "Zq3v9LrT0mWc2XyB8nKd5sFh";

struct T {
    state: AppState,
    registry: Arc<SqliteRegistry>,
    keys: std::collections::HashMap<&'static str, String>,
}

async fn setup() -> T {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_billing::migrate(&pool).await.unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    zvonar_access::migrate(&pool).await.unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let r = zvonar_billing::import_accounts(&pool, root.join("deploy/example/registry.csv"))
        .await
        .unwrap();
    assert!(r.errors.is_empty());
    let r =
        zvonar_billing::import_debts(&pool, root.join("billing/tests/fixtures/debts.csv"), None)
            .await
            .unwrap();
    assert_eq!(r.added, 6);
    for p in ["+7 903 555-02-02", "8 (977) 555-04-04", "8 495 555-02-03"] {
        let p = PhoneNumber::parse_ru(p).unwrap();
        zvonar_billing::set_consent(&pool, &p, true).await.unwrap();
    }
    let opted = PhoneNumber::parse_ru("8 495 555-02-03").unwrap();
    zvonar_billing::record_opt_out(&pool, &opted).await.unwrap();

    let access = Arc::new(Access::new(pool.clone(), AuthPolicy::default()));
    let store = SqliteDispatchStore::new(pool.clone());
    let registry = Arc::new(SqliteRegistry::new(pool.clone()));
    let ops = Operations {
        registry: registry.clone(),
        outages: registry.clone(),
        missed: Arc::new(store.clone()),
        history: Arc::new(store.clone()),
        time_zone: chrono_tz::Europe::Moscow,
    };
    let state = AppState::new(
        Arc::new(store),
        TOKEN.into(),
        std::env::temp_dir(),
        Arc::new(prometheus_client::registry::Registry::default()),
    )
    .with_access(access.clone(), false)
    .with_operations(ops);
    let mut keys = std::collections::HashMap::new();
    for (login, role) in [
        ("op", Role::Operator),
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
        registry,
        keys,
    }
}

impl T {
    async fn get(&self, who: &str, path: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {}", self.keys[who]))
            .body(Body::empty())
            .unwrap();
        let resp = app(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

const DEBTORS: &str = "/api/v1/campaigns/recipients?min_debt_kopecks=100000&min_months=3";

#[tokio::test]
async fn debtors_with_skip_reasons_for_admins_only() {
    let t = setup().await;
    for who in ["op", "super"] {
        let (status, body) = t.get(who, DEBTORS).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
    }
    let (status, body) = t.get("admin", DEBTORS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ≥ 1000 ₽ for ≥ 3 months: 5000020004 (7500 ₽, 6 months), 5000010001 (1234,56 ₽, 3),
    // 5000010002 (15 000 ₽, 8; two phones); not 5000010012 (4999,99 ₽ but 1 month).
    let got: Vec<(&str, &str, &str)> = body["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
                r["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("5000020004/+79775550404", "queued", ""),
            ("5000010001/+79165550101", "skipped", "no_consent"),
            ("5000010002/+79035550202", "queued", ""),
            ("5000010002/+74955550203", "skipped", "opted_out"),
        ]
    );
    assert_eq!(
        (&body["total"], &body["callable"], &body["skipped"]),
        (&json!(4), &json!(2), &json!(2))
    );
    assert_eq!(body["by_reason"], json!({"no_consent": 1, "opted_out": 1}));
    let first = &body["recipients"][0];
    assert_eq!(first["debt_kopecks"], json!(750_000));
    assert_eq!(first["months_owed"], json!(6));
    assert_eq!(first["period"], json!("2026-05-01"));
    assert_eq!(first["debt_as_of"], json!("2026-11-30"));
    assert_eq!(first["fio"], json!("Новиков Андрей Юрьевич"));
    assert_eq!(first["address"], json!("проспект Мира, дом 101, кв. 4"));
    assert!(body["recipients"][1]["reason_ru"]
        .as_str()
        .unwrap()
        .contains("согласия"));

    // A page; the counts stay those of the whole selection.
    let (_, page) = t.get("admin", &format!("{DEBTORS}&limit=1&offset=1")).await;
    assert_eq!(page["recipients"].as_array().unwrap().len(), 1);
    assert_eq!(page["recipients"][0]["account"], json!("5000010001"));
    assert_eq!(page["total"], json!(4));

    // By building: Ленина 5 only.
    let lenina = t
        .registry
        .buildings()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.street == "улица Ленина")
        .unwrap()
        .id;
    let (_, b) = t
        .get("admin", &format!("{DEBTORS}&building_id={}", lenina.0))
        .await;
    assert_eq!(b["total"], json!(3), "{b}");
    // By account, no debt filter: every phone of the account, with its reason.
    let (_, a) = t
        .get(
            "admin",
            "/api/v1/campaigns/recipients?account=5000010003,5000010007",
        )
        .await;
    let reasons: Vec<&str> = a["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, vec!["no_phone", "no_consent"], "{a}");

    for bad in [
        "/api/v1/campaigns/recipients?building_id=пять",
        "/api/v1/campaigns/recipients?min_debt_kopecks=-1",
        "/api/v1/campaigns/recipients?min_months=много",
    ] {
        let (status, body) = t.get("admin", bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}
