//! The campaign routes through `app(state)` with `oneshot`: only `manage_campaigns` may
//! create, run, read and export campaigns; a refused request never reaches the engine and
//! writes no audit entry; every change by an allowed user is audited.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;
use zvonar_access::{Access, AuthPolicy, NewUser, Role, Visibility};
use zvonar_dispatch::{DispatchStore, SqliteDispatchStore};
use zvonar_web::{app, AppState, CampaignCommand, CampaignControl, CampaignError};

const TOKEN: &str = "Zq3v9LrT0mWc2XyB8nKd5sFh";
const PASSWORD: &str = "верный пароль 42";

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
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    zvonar_access::migrate(&pool).await.unwrap();
    let access = Arc::new(Access::new(pool.clone(), AuthPolicy::default()));
    let store: Arc<dyn DispatchStore> = Arc::new(SqliteDispatchStore::new(pool));
    let campaigns = Arc::new(FakeCampaigns::default());
    let state = AppState::new(
        store,
        TOKEN.into(),
        std::env::temp_dir(),
        Arc::new(prometheus_client::registry::Registry::default()),
    )
    .with_access(access.clone(), false)
    .with_campaigns(campaigns.clone());
    for (login, role) in [
        ("anna", Role::Operator),
        ("petr", Role::Executor),
        ("sveta", Role::Supervisor),
        ("olga", Role::Admin),
    ] {
        let new = NewUser {
            login: login.into(),
            display_name: String::new(),
            role: Some(role),
            visibility: Visibility::default(),
        };
        access.create_user(&new, PASSWORD, false).await.unwrap();
    }
    T {
        state,
        access,
        campaigns,
    }
}

/// (cookie, csrf) of a logged-in user.
async fn browser(t: &T, login: &str) -> (String, String) {
    let (status, headers, body) = send(
        t,
        Method::POST,
        "/api/v1/login",
        None,
        true,
        Some(json!({"login": login, "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers.split(';').next().unwrap().to_string();
    (cookie, body["csrf_token"].as_str().unwrap().to_string())
}

async fn send(
    t: &T,
    method: Method,
    path: &str,
    who: Option<&(String, String)>,
    with_csrf: bool,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some((cookie, csrf)) = who {
        req = req.header("cookie", cookie);
        if with_csrf {
            req = req.header("x-csrf-token", csrf);
        }
    }
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let mut req = req.body(body).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 40000))));
    let resp = app(t.state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        cookie,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn campaign_audit(t: &T) -> Vec<(String, String, Option<String>)> {
    t.access
        .audit_log(1000, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("campaign_"))
        .map(|e| (e.actor, e.action, e.target))
        .collect()
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
        let who = browser(&t, login).await;
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
    let olga = browser(&t, "olga").await;
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
