//! The queue routes through `app(state)` with `oneshot`: who may read the queue and a queued
//! call's context, who may act as an agent (only for themselves), CSRF on the session, bad
//! input; a refused request never reaches the queues and writes no audit entry.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{add_users, audit, base_state, log_in, memory_pool, Browser, Req};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use zvonar_access::{Access, AuthPolicy, Role};
use zvonar_dispatch::{DispatchStore, SqliteDispatchStore};
use zvonar_web::{AgentAction, AppState, QueueControl, QueueError};

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
    let pool = memory_pool().await;
    let access = Arc::new(Access::new(pool.clone(), AuthPolicy::default()));
    let store: Arc<dyn DispatchStore> = Arc::new(SqliteDispatchStore::new(pool));
    let queues = Arc::new(FakeQueues::default());
    let state = base_state(store, access.clone(), std::env::temp_dir()).with_queues(queues.clone());
    add_users(
        &access,
        &[
            ("anna", Role::Operator),
            ("petr", Role::Executor),
            ("sveta", Role::Supervisor),
        ],
    )
    .await;
    T {
        state,
        access,
        queues,
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

async fn queue_audit(t: &T) -> Vec<(String, String)> {
    audit(&t.access, "queue_")
        .await
        .into_iter()
        .map(|(actor, action, _)| (actor, action))
        .collect()
}

#[tokio::test]
async fn without_take_calls_every_queue_action_is_403_and_reaches_nothing() {
    let t = setup().await;
    let petr = log_in(&t.state, "petr").await;
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
    let anna = log_in(&t.state, "anna").await;
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
    let sveta = log_in(&t.state, "sveta").await;
    let (status, _, body) = send(&t, Method::GET, "/api/v1/queue", Some(&sveta), true, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["agents"].is_array());
}

#[tokio::test]
async fn the_softphone_credential_is_the_agents_own_with_csrf_never_cached_and_audited() {
    let t = setup().await;
    let anna = log_in(&t.state, "anna").await;
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
    let resp = Req::new(Method::POST, "/api/v1/queue/agent/softphone")
        .by(&anna)
        .send(&t.state)
        .await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.headers.get("cache-control").unwrap(), "no-store");
    let body = resp.json;
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
