//! The live monitor: `GET /api/v1/monitor` through `app(state)` with `oneshot` (who may see
//! it: 403 for roles without view_monitor, and the queues are not even asked), the snapshot's
//! parts (the engine's queue part, agents' names, tickets within the viewer's visibility),
//! and the WebSocket `/api/v1/monitor/ws` over a real loopback socket with a real client
//! (tokio-tungstenite): a push on every queue change, periodic pushes, same-origin only, and
//! the socket closed when the session ends or loses the permission.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};
use tower::ServiceExt;
use zvonar_access::{Access, AuthPolicy, NewUser, Permission, Role, Visibility};
use zvonar_dispatch::{DispatchStore, SqliteDispatchStore, TicketSla, TicketWorkflow};
use zvonar_models::{BuildingId, TicketRequest};
use zvonar_web::{
    app, AgentAction, AppState, QueueControl, QueueError, TicketSettings, SESSION_COOKIE,
};

const TOKEN: &str = "Zq3v9LrT0mWc2XyB8nKd5sFh";
const PASSWORD: &str = "верный пароль 42";
/// Long enough never to fire within a test: any message after the first is a push.
const NEVER: Duration = Duration::from_secs(3600);

/// A queue runtime whose monitor part says how many changes it has seen.
struct FakeQueues {
    changes: watch::Sender<u64>,
    asked: Mutex<u32>,
}

impl FakeQueues {
    fn change(&self) {
        self.changes.send_modify(|n| *n += 1);
    }
}

#[async_trait::async_trait]
impl QueueControl for FakeQueues {
    async fn monitor(&self) -> Result<Value, QueueError> {
        *self.asked.lock().unwrap() += 1;
        let version = *self.changes.borrow();
        Ok(json!({
            "version": version,
            "queues": [{"name": "ads", "waiting": version, "calls": [], "today": {"offered": version}}],
            "total": {"offered": version},
            "agents": [
                {"login": "anna", "state": "paused", "pause_reason": "обед", "in_state_s": 65},
                {"login": "ghost", "state": "available"}
            ],
        }))
    }
    fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
    async fn state(&self) -> Result<Value, QueueError> {
        Ok(json!({}))
    }
    async fn call(&self, _call_id: &str) -> Result<Value, QueueError> {
        Err(QueueError::NotFound)
    }
    async fn agent(&self, _login: &str, _action: AgentAction) -> Result<Value, QueueError> {
        Err(QueueError::NotFound)
    }
}

struct T {
    state: AppState,
    access: Arc<Access>,
    store: Arc<SqliteDispatchStore>,
    queues: Arc<FakeQueues>,
}

async fn setup(push_every: Duration, recheck_every: Duration) -> T {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    zvonar_access::migrate(&pool).await.unwrap();
    let access = Arc::new(Access::new(pool.clone(), AuthPolicy::default()));
    let store = Arc::new(SqliteDispatchStore::new(pool).with_sla(TicketSla {
        default_hours: 24,
        default_emergency_hours: 2,
        topics: Default::default(),
    }));
    let queues = Arc::new(FakeQueues {
        changes: watch::channel(0).0,
        asked: Mutex::new(0),
    });
    let state = AppState::new(
        store.clone() as Arc<dyn DispatchStore>,
        TOKEN.into(),
        std::env::temp_dir(),
        Arc::new(prometheus_client::registry::Registry::default()),
    )
    .with_access(access.clone(), false)
    .with_queues(queues.clone())
    .with_ticket_workflow(
        store.clone(),
        TicketSettings {
            topics: Vec::new(),
            departments: Vec::new(),
            photos_dir: std::env::temp_dir(),
            photo_max_bytes: 4096,
            time_zone: chrono_tz::Europe::Moscow,
            registry: None,
        },
    )
    .with_monitor_timing(push_every, recheck_every);
    for (login, name, role, buildings) in [
        ("anna", "Анна Иванова", Role::Operator, vec![]),
        ("disp", "", Role::Dispatcher, vec![]),
        ("petr", "", Role::Executor, vec![]),
        ("sveta", "Светлана Петровна", Role::Supervisor, vec![]),
        ("boss", "", Role::Admin, vec![]),
        // A supervisor of building 2 only.
        ("olga", "", Role::Supervisor, vec![2]),
    ] {
        access
            .create_user(
                &NewUser {
                    login: login.into(),
                    display_name: name.into(),
                    role: Some(role),
                    visibility: Visibility {
                        topics: vec![],
                        buildings,
                    },
                },
                PASSWORD,
                false,
            )
            .await
            .unwrap();
    }
    T {
        state,
        access,
        store,
        queues,
    }
}

/// The session cookie (`name=value`) of a fresh login.
async fn session(t: &T, login: &str) -> String {
    let s = t.access.login(login, PASSWORD, None).await.unwrap();
    format!("{SESSION_COOKIE}={}", s.session_id)
}

async fn get(t: &T, path: &str, cookie: Option<&str>, ws: bool) -> (StatusCode, Value) {
    let mut req = Request::builder().method(Method::GET).uri(path);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if ws {
        req = req
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    }
    let resp = app(t.state.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn ticket(topic: &str, building: i64) -> TicketRequest {
    TicketRequest {
        caller: None,
        account_id: None,
        building_id: Some(BuildingId(building)),
        premises_id: None,
        apartment: None,
        topic: topic.into(),
        emergency: false,
        description: "нет света в подъезде".into(),
        outage_id: None,
        unfinished: false,
    }
}

#[tokio::test]
async fn only_view_monitor_sees_the_monitor_others_get_403_and_the_queues_are_not_asked() {
    let t = setup(NEVER, NEVER).await;
    for login in ["anna", "disp", "petr"] {
        let c = session(&t, login).await;
        for ws in [false, true] {
            for path in ["/api/v1/monitor", "/api/v1/monitor/ws"] {
                let (status, body) = get(&t, path, Some(&c), ws).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{login} {path} {body}");
                assert!(
                    body["error"].as_str().unwrap().contains("view_monitor"),
                    "{body}"
                );
            }
        }
    }
    let (status, _) = get(&t, "/api/v1/monitor", None, false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = get(&t, "/api/v1/monitor/ws", None, true).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(*t.queues.asked.lock().unwrap(), 0, "refused: nothing read");
    // Given the permission, an operator may watch too (the admin edits roles).
    let mut p: BTreeSet<Permission> = Role::Operator.default_permissions();
    p.insert(Permission::ViewMonitor);
    t.access
        .set_role_permissions(Role::Operator, &p)
        .await
        .unwrap();
    let anna = session(&t, "anna").await;
    for login in ["sveta", "boss"] {
        let c = session(&t, login).await;
        let (status, body) = get(&t, "/api/v1/monitor", Some(&c), false).await;
        assert_eq!(status, StatusCode::OK, "{login} {body}");
    }
    let (status, _) = get(&t, "/api/v1/monitor", Some(&anna), false).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_snapshot_has_the_queues_agents_names_and_tickets_within_visibility() {
    let t = setup(NEVER, NEVER).await;
    let now = chrono::Utc::now();
    for (topic, building) in [("leak", 1), ("leak", 1), ("electricity", 2)] {
        t.store
            .file_ticket_by(None, now, &ticket(topic, building), "anna")
            .await
            .unwrap();
    }
    let sveta = session(&t, "sveta").await;
    let (status, m) = get(&t, "/api/v1/monitor", Some(&sveta), false).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["queues"][0]["name"], "ads");
    assert_eq!(m["agents"][0]["name"], "Анна Иванова");
    assert_eq!(m["agents"][0]["pause_reason"], "обед");
    assert_eq!(m["agents"][1]["name"], Value::Null, "no such user: no name");
    assert_eq!(m["tickets"]["open"], 3, "{m}");
    assert_eq!(m["tickets"]["filed_today"], 3);
    assert_eq!(
        m["tickets"]["by_status"],
        json!([{"status": "new", "count": 3}])
    );
    assert_eq!(
        m["tickets"]["by_building"],
        json!([{"building_id": 1, "count": 2, "address": null}, {"building_id": 2, "count": 1, "address": null}])
    );
    assert_eq!(
        m["tickets"]["by_executor"],
        json!([{"executor_id": null, "executor": null, "count": 3}])
    );
    // A supervisor of building 2 counts only its ticket.
    let olga = session(&t, "olga").await;
    let (_, m) = get(&t, "/api/v1/monitor", Some(&olga), false).await;
    assert_eq!(m["tickets"]["open"], 1, "{m}");
}

/// Serves the app on a loopback port.
async fn serve(t: &T) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(zvonar_web::serve(listener, t.state.clone()));
    addr
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(
    addr: SocketAddr,
    cookie: &str,
    origin: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let mut req = format!("ws://{addr}/api/v1/monitor/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// The next snapshot (a text message), within 20 s.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("a message within 20 s")
            .expect("the socket open")
            .expect("no error");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_websocket_pushes_a_snapshot_on_every_change_of_the_queues() {
    let t = setup(NEVER, NEVER).await;
    let addr = serve(&t).await;
    let sveta = session(&t, "sveta").await;
    let mut ws = connect(addr, &sveta, Some(&format!("http://{addr}")))
        .await
        .unwrap();
    // At once: the state now.
    let first = next(&mut ws).await;
    assert_eq!(first["version"], 0);
    assert_eq!(first["tickets"]["open"], 0);
    // A change of the queues: pushed (the periodic push is an hour away).
    t.queues.change();
    let second = next(&mut ws).await;
    assert_eq!(second["version"], 1, "{second}");
    assert_eq!(second["total"]["offered"], 1);
    t.queues.change();
    assert_eq!(next(&mut ws).await["version"], 2);
    // A ping is answered; the client closing ends it.
    ws.send(Message::Ping(b"x".to_vec().into())).await.unwrap();
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn the_websocket_pushes_periodically_without_changes() {
    let t = setup(Duration::from_millis(50), NEVER).await;
    let addr = serve(&t).await;
    let sveta = session(&t, "sveta").await;
    let mut ws = connect(addr, &sveta, None).await.unwrap();
    // Three snapshots with no change of the queues: the periodic push (tickets, times).
    for _ in 0..3 {
        assert_eq!(next(&mut ws).await["version"], 0);
    }
    // A ticket filed meanwhile shows without any queue change.
    t.store
        .file_ticket_by(None, chrono::Utc::now(), &ticket("leak", 1), "anna")
        .await
        .unwrap();
    let mut open = 0;
    for _ in 0..100 {
        open = next(&mut ws).await["tickets"]["open"].as_u64().unwrap();
        if open == 1 {
            break;
        }
    }
    assert_eq!(open, 1);
}

#[tokio::test]
async fn another_sites_page_cannot_open_the_socket() {
    let t = setup(NEVER, NEVER).await;
    let addr = serve(&t).await;
    let sveta = session(&t, "sveta").await;
    match connect(addr, &sveta, Some("https://evil.example")).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    let petr = session(&t, "petr").await;
    match connect(addr, &petr, None).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
}

/// Reads until the server closes; the close code.
async fn closed_with(ws: &mut Ws) -> u16 {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("closed within 20 s");
        match msg {
            Some(Ok(Message::Close(Some(f)))) => return u16::from(f.code),
            Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_socket_closes_when_the_session_ends_or_loses_the_permission() {
    let t = setup(Duration::from_millis(50), Duration::from_millis(100)).await;
    let addr = serve(&t).await;
    // Logged out (the session is gone): 4401.
    let login = t.access.login("sveta", PASSWORD, None).await.unwrap();
    let cookie = format!("{SESSION_COOKIE}={}", login.session_id);
    let mut ws = connect(addr, &cookie, None).await.unwrap();
    next(&mut ws).await;
    let zvonar_access::AuthMethod::Session { id_hash, .. } = &login.principal.method else {
        panic!("a session");
    };
    t.access.end_session(id_hash).await.unwrap();
    assert_eq!(closed_with(&mut ws).await, zvonar_web::CLOSE_SESSION_ENDED);
    // The role loses view_monitor: 4403.
    let boss_cookie = session(&t, "boss").await;
    let sveta = session(&t, "sveta").await;
    let mut ws = connect(addr, &sveta, None).await.unwrap();
    next(&mut ws).await;
    let mut p = Role::Supervisor.default_permissions();
    p.remove(&Permission::ViewMonitor);
    t.access
        .set_role_permissions(Role::Supervisor, &p)
        .await
        .unwrap();
    assert_eq!(closed_with(&mut ws).await, zvonar_web::CLOSE_FORBIDDEN);
    // The admin still watches.
    let mut ws = connect(addr, &boss_cookie, None).await.unwrap();
    assert_eq!(next(&mut ws).await["version"], 0);
}
