//! The queue routes through `app(state)` with `oneshot`: who may read the queue and a queued
//! call's context, who may act as an agent (only for themselves), CSRF on the session, bad
//! input; a refused request never reaches the queues and writes no audit entry.
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
use zvonar_web::{app, AgentAction, AppState, QueueControl, QueueError};

const TOKEN: &str = "Zq3v9LrT0mWc2XyB8nKd5sFh";
const PASSWORD: &str = "верный пароль 42";

/// Records what reached the queues.
#[derive(Default)]
struct FakeQueues {
    seen: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl QueueControl for FakeQueues {
    async fn monitor(&self) -> Result<Value, QueueError> {
        self.seen.lock().unwrap().push("monitor".into());
        Ok(json!({"queues": [], "total": null, "agents": []}))
    }
    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        tokio::sync::watch::channel(0).1
    }
    async fn state(&self) -> Result<Value, QueueError> {
        self.seen.lock().unwrap().push("state".into());
        Ok(json!({"queues": [], "calls": [], "agents": []}))
    }
    async fn call(&self, call_id: &str) -> Result<Value, QueueError> {
        self.seen.lock().unwrap().push(format!("call {call_id}"));
        match call_id {
            "c1" => Ok(json!({"call_id": "c1", "context": {"apartment": "12"}})),
            _ => Err(QueueError::NotFound),
        }
    }
    async fn agent(&self, login: &str, action: AgentAction) -> Result<Value, QueueError> {
        self.seen
            .lock()
            .unwrap()
            .push(format!("{login} {action:?}"));
        match action {
            AgentAction::Resume => Err(QueueError::Conflict("вы не вошли в очередь".into())),
            _ => Ok(json!({"login": login, "state": "available"})),
        }
    }
    async fn softphone(&self, login: &str) -> Result<Value, QueueError> {
        self.seen.lock().unwrap().push(format!("softphone {login}"));
        Ok(
            json!({"username": "101", "realm": "r", "password": "p4ss-of-the-session",
                  "ws_port": 5066, "expires_in_s": 57600}),
        )
    }
}

struct T {
    state: AppState,
    access: Arc<Access>,
    queues: Arc<FakeQueues>,
}

async fn setup() -> T {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    zvonar_access::migrate(&pool).await.unwrap();
    let access = Arc::new(Access::new(pool.clone(), AuthPolicy::default()));
    let store: Arc<dyn DispatchStore> = Arc::new(SqliteDispatchStore::new(pool));
    let queues = Arc::new(FakeQueues::default());
    let state = AppState::new(
        store,
        TOKEN.into(),
        std::env::temp_dir(),
        Arc::new(prometheus_client::registry::Registry::default()),
    )
    .with_access(access.clone(), false)
    .with_queues(queues.clone());
    for (login, role) in [
        ("anna", Role::Operator),
        ("petr", Role::Executor),
        ("sveta", Role::Supervisor),
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
        queues,
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

async fn queue_audit(t: &T) -> Vec<(String, String)> {
    t.access
        .audit_log(1000, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("queue_"))
        .map(|e| (e.actor, e.action))
        .collect()
}

#[tokio::test]
async fn without_take_calls_every_queue_action_is_403_and_reaches_nothing() {
    let t = setup().await;
    let petr = browser(&t, "petr").await;
    for (method, path, body) in [
        (Method::GET, "/api/v1/queue", None),
        (Method::GET, "/api/v1/queue/calls/c1", None),
        (Method::GET, "/api/v1/queue/agent", None),
        (Method::POST, "/api/v1/queue/agent/login", None),
        (Method::POST, "/api/v1/queue/agent/logout", None),
        (
            Method::POST,
            "/api/v1/queue/agent/pause",
            Some(json!({"reason": "обед"})),
        ),
        (Method::POST, "/api/v1/queue/agent/resume", None),
        (Method::POST, "/api/v1/queue/agent/softphone", None),
    ] {
        let (status, _, body) = send(&t, method.clone(), path, Some(&petr), true, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
    }
    assert!(t.queues.seen.lock().unwrap().is_empty());
    assert!(queue_audit(&t).await.is_empty());
    // No credentials at all: 401.
    let (status, _, _) = send(&t, Method::GET, "/api/v1/queue", None, false, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_agent_acts_for_themselves_with_csrf_and_is_audited() {
    let t = setup().await;
    let anna = browser(&t, "anna").await;
    // No CSRF token: 403, nothing reaches the queues.
    let (status, _, _) = send(
        &t,
        Method::POST,
        "/api/v1/queue/agent/login",
        Some(&anna),
        false,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(t.queues.seen.lock().unwrap().is_empty());
    let (status, _, body) = send(
        &t,
        Method::POST,
        "/api/v1/queue/agent/login",
        Some(&anna),
        true,
        Some(json!({"skills": ["leak"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["login"], "anna");
    // Bad input: 400, nothing reaches the queues.
    for (path, body) in [
        ("/api/v1/queue/agent/login", json!({"skills": ["Утечка"]})),
        ("/api/v1/queue/agent/login", json!({"skill": []})),
        ("/api/v1/queue/agent/pause", json!({"reason": "  "})),
        (
            "/api/v1/queue/agent/pause",
            json!({"reason": "я".repeat(101)}),
        ),
    ] {
        let (status, _, b) = send(&t, Method::POST, path, Some(&anna), true, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {b}");
    }
    let (status, _, _) = send(
        &t,
        Method::POST,
        "/api/v1/queue/agent/pause",
        Some(&anna),
        true,
        Some(json!({"reason": " обед "})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The queues' refusal is a 409 with its reason; not audited as done.
    let (status, _, body) = send(
        &t,
        Method::POST,
        "/api/v1/queue/agent/resume",
        Some(&anna),
        true,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains("не вошли"));
    let (status, _, body) = send(
        &t,
        Method::GET,
        "/api/v1/queue/calls/c1",
        Some(&anna),
        true,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["context"]["apartment"], "12");
    let (status, _, _) = send(
        &t,
        Method::GET,
        "/api/v1/queue/calls/c2",
        Some(&anna),
        true,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        *t.queues.seen.lock().unwrap(),
        [
            "anna Login { skills: [\"leak\"] }",
            "anna Pause { reason: \"обед\" }",
            "anna Resume",
            "call c1",
            "call c2",
        ]
    );
    assert_eq!(
        queue_audit(&t).await,
        [
            ("anna".to_string(), "queue_pause".to_string()),
            ("anna".to_string(), "queue_login".to_string()),
        ]
    );
}

#[tokio::test]
async fn a_supervisor_watches_the_queue() {
    let t = setup().await;
    let sveta = browser(&t, "sveta").await;
    let (status, _, body) = send(&t, Method::GET, "/api/v1/queue", Some(&sveta), true, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["agents"].is_array());
}

#[tokio::test]
async fn the_softphone_credential_is_the_agents_own_with_csrf_never_cached_and_audited() {
    let t = setup().await;
    let anna = browser(&t, "anna").await;
    // Without the CSRF token: refused, nothing issued.
    let (status, _, _) = send(
        &t,
        Method::POST,
        "/api/v1/queue/agent/softphone",
        Some(&anna),
        false,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(t.queues.seen.lock().unwrap().is_empty());
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/queue/agent/softphone")
        .header("cookie", &anna.0)
        .header("x-csrf-token", &anna.1)
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 40000))));
    let resp = app(t.state.clone()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = serde_json::from_slice(
        &axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["username"], "101");
    // Issued for the logged-in user only.
    assert_eq!(
        *t.queues.seen.lock().unwrap(),
        vec!["softphone anna".to_string()]
    );
    let audit: Vec<_> = t
        .access
        .audit_log(1000, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "softphone_credential")
        .collect();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "anna");
    assert!(
        !format!("{audit:?}").contains("p4ss-of-the-session"),
        "no password in the audit log"
    );
}
