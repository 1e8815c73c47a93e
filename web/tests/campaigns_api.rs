//! The campaign routes through `app(state)` with `oneshot`: only `manage_campaigns` may
//! create, run, read and export campaigns; a refused request never reaches the engine and
//! writes no audit entry; every change by an allowed user is audited.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{add_users, audit, base_state, log_in, memory_pool, Browser, Req};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use zvonar_access::{Access, AuthPolicy, Role};
use zvonar_dispatch::{DispatchStore, SqliteDispatchStore};
use zvonar_web::{AppState, CampaignCommand, CampaignControl, CampaignError};

/// Records what reached the engine.
#[derive(Default)]
struct FakeCampaigns {
    seen: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl CampaignControl for FakeCampaigns {
    async fn create(&self, body: Value, by: &str) -> Result<Value, CampaignError> {
        self.seen.lock().unwrap().push(format!("create by {by}"));
        if body.get("name").is_none() {
            return Err(CampaignError::BadRequest("name: обязательное поле".into()));
        }
        Ok(json!({"id": 7, "name": body["name"], "state": "draft", "totals": {"recipients": 1}}))
    }
    async fn list(&self) -> Result<Value, CampaignError> {
        self.seen.lock().unwrap().push("list".into());
        Ok(json!({"campaigns": []}))
    }
    async fn progress(&self, id: i64) -> Result<Value, CampaignError> {
        self.seen.lock().unwrap().push(format!("progress {id}"));
        if id == 7 {
            Ok(json!({"id": 7, "state": "draft"}))
        } else {
            Err(CampaignError::NotFound)
        }
    }
    async fn command(&self, id: i64, cmd: CampaignCommand) -> Result<Value, CampaignError> {
        self.seen.lock().unwrap().push(format!("{cmd:?} {id}"));
        match cmd {
            CampaignCommand::Resume => Err(CampaignError::Conflict("нельзя возобновить".into())),
            _ => Ok(json!({"id": id})),
        }
    }
    async fn export_csv(&self, id: i64) -> Result<String, CampaignError> {
        self.seen.lock().unwrap().push(format!("export {id}"));
        Ok("recipient;phone\n".into())
    }
}

struct T {
    state: AppState,
    access: Arc<Access>,
    campaigns: Arc<FakeCampaigns>,
}

async fn setup() -> T {
    let pool = memory_pool().await;
    let access = Arc::new(Access::new(pool.clone(), AuthPolicy::default()));
    let store: Arc<dyn DispatchStore> = Arc::new(SqliteDispatchStore::new(pool));
    let campaigns = Arc::new(FakeCampaigns::default());
    let state =
        base_state(store, access.clone(), std::env::temp_dir()).with_campaigns(campaigns.clone());
    add_users(
        &access,
        &[
            ("anna", Role::Operator),
            ("petr", Role::Executor),
            ("sveta", Role::Supervisor),
            ("olga", Role::Admin),
        ],
    )
    .await;
    T {
        state,
        access,
        campaigns,
    }
}

/// (status, Set-Cookie, JSON) of one request as `who`, with or without the CSRF token.
async fn send(
    t: &T,
    method: Method,
    path: &str,
    who: Option<&Browser>,
    with_csrf: bool,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let r = Req::new(method, path)
        .by_opt(who, with_csrf)
        .json_opt(body.as_ref())
        .send(&t.state)
        .await;
    (r.status, r.set_cookie(), r.json)
}

async fn campaign_audit(t: &T) -> Vec<(String, String, Option<String>)> {
    audit(&t.access, "campaign_").await
}

fn routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/v1/campaigns", None),
        (
            Method::POST,
            "/api/v1/campaigns",
            Some(json!({"name": "x"})),
        ),
        (Method::GET, "/api/v1/campaigns/7", None),
        (Method::GET, "/api/v1/campaigns/7/export.csv", None),
        (Method::POST, "/api/v1/campaigns/7/start", None),
        (Method::POST, "/api/v1/campaigns/7/pause", None),
        (Method::POST, "/api/v1/campaigns/7/resume", None),
        (Method::POST, "/api/v1/campaigns/7/cancel", None),
    ]
}

#[tokio::test]
async fn without_manage_campaigns_every_route_is_403_and_reaches_nothing() {
    let t = setup().await;
    for login in ["anna", "petr", "sveta"] {
        let who = log_in(&t.state, login).await;
        for (method, path, body) in routes() {
            let (status, _, resp) = send(&t, method.clone(), path, Some(&who), true, body).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{login} {method} {path}: {resp}"
            );
        }
    }
    assert!(t.campaigns.seen.lock().unwrap().is_empty());
    assert!(campaign_audit(&t).await.is_empty());
}

#[tokio::test]
async fn an_admin_runs_campaigns_and_every_change_is_audited() {
    let t = setup().await;
    let olga = log_in(&t.state, "olga").await;
    // Without the CSRF token nothing happens.
    let (status, _, _) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns",
        Some(&olga),
        false,
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(t.campaigns.seen.lock().unwrap().is_empty());
    let mut expect = Vec::new();
    for (method, path, body) in routes() {
        let (status, _, resp) = send(&t, method.clone(), path, Some(&olga), true, body).await;
        let want = if path.ends_with("/resume") {
            StatusCode::CONFLICT
        } else if method == Method::POST && path == "/api/v1/campaigns" {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        assert_eq!(status, want, "{method} {path}: {resp}");
    }
    for a in [
        "campaign_create",
        "campaign_start",
        "campaign_pause",
        "campaign_cancel",
    ] {
        expect.push(("olga".to_string(), a.to_string(), Some("7".to_string())));
    }
    let mut got = campaign_audit(&t).await;
    got.sort();
    expect.sort();
    assert_eq!(got, expect, "a refused resume is not audited");
    // Bad input: 400 with the engine's message; unknown campaign: 404.
    let (status, _, resp) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns",
        Some(&olga),
        true,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
    assert!(resp["error"].as_str().unwrap().contains("name"));
    let (status, _, _) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns",
        Some(&olga),
        true,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no JSON body");
    let (status, _, _) = send(
        &t,
        Method::GET,
        "/api/v1/campaigns/8",
        Some(&olga),
        true,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
