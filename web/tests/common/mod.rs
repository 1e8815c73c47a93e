//! Shared set-up of the web crate's HTTP tests: an in-memory SQLite with the dispatch and
//! access tables, users with roles, a logged-in browser (session cookie + CSRF token), and
//! one request through `app(state)` with `oneshot` (no server, no sockets).
//!
//! Each test file includes it with `mod common;` and uses what it needs.
#![allow(dead_code, clippy::unwrap_used)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{json, Value};
use sqlx::SqlitePool;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;
use zvonar_access::{Access, NewUser, Role, Visibility};
use zvonar_dispatch::DispatchStore;
use zvonar_web::{app, AppState};

/// The configured service token ([`AppState::new`]).
pub const TOKEN: &str = "Zq3v9LrT0mWc2XyB8nKd5sFh";
/// Every test user's password.
pub const PASSWORD: &str = "верный пароль 42";

/// An in-memory SQLite database with the dispatch (tickets, calls) and access (users,
/// sessions, audit) tables.
pub async fn memory_pool() -> SqlitePool {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    zvonar_access::migrate(&pool).await.unwrap();
    pool
}

/// The application state every test starts from: `store`, the service [`TOKEN`],
/// `recordings` as the recordings directory, and `access` for logins (cookies not marked
/// `Secure`, as on loopback).
pub fn base_state(
    store: Arc<dyn DispatchStore>,
    access: Arc<Access>,
    recordings: PathBuf,
) -> AppState {
    AppState::new(
        store,
        TOKEN.into(),
        recordings,
        Arc::new(prometheus_client::registry::Registry::default()),
    )
    .with_access(access, false)
}

/// Creates a user with [`PASSWORD`] (no forced change) and returns its id.
pub async fn add_user(access: &Access, login: &str, role: Role, display_name: &str) -> i64 {
    add_user_seeing(access, login, role, display_name, Visibility::default()).await
}

/// [`add_user`] with what the user may see.
pub async fn add_user_seeing(
    access: &Access,
    login: &str,
    role: Role,
    display_name: &str,
    visibility: Visibility,
) -> i64 {
    let new = NewUser {
        login: login.into(),
        display_name: display_name.into(),
        role: Some(role),
        visibility,
    };
    access.create_user(&new, PASSWORD, false).await.unwrap().id
}

/// [`add_user`] for each (login, role), without display names.
pub async fn add_users(access: &Access, users: &[(&str, Role)]) {
    for (login, role) in users {
        add_user(access, login, *role, "").await;
    }
}

/// A logged-in browser: its session cookie (`name=value`) and CSRF token.
#[derive(Clone, Debug)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

/// An answer: status, headers, the body as bytes, as text and as JSON (`Null` when it is
/// not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
    pub text: String,
    pub json: Value,
}

impl Resp {
    /// The `Set-Cookie` header, empty when none.
    pub fn set_cookie(&self) -> String {
        self.headers
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// The address requests come from unless [`Req::from`] says otherwise.
pub fn default_peer() -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], 40000))
}

/// One request, built step by step and sent with [`Req::send`].
pub struct Req {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
    from: SocketAddr,
}

impl Req {
    /// `method path` from [`default_peer`], no credentials, no body.
    pub fn new(method: Method, path: &str) -> Req {
        Req {
            method,
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
            from: default_peer(),
        }
    }

    /// As `who`, with the session cookie and the CSRF token.
    pub fn by(self, who: &Browser) -> Req {
        self.cookie(&who.cookie).header("x-csrf-token", &who.csrf)
    }

    /// As `who` when given; with the CSRF token only when `csrf` (a request that forgot it).
    pub fn by_opt(self, who: Option<&Browser>, csrf: bool) -> Req {
        match who {
            Some(b) if csrf => self.by(b),
            Some(b) => self.cookie(&b.cookie),
            None => self,
        }
    }

    /// With a `Cookie` header.
    pub fn cookie(self, cookie: &str) -> Req {
        self.header("cookie", cookie)
    }

    /// With an API key or the service token as `Authorization: Bearer`.
    pub fn bearer(self, key: &str) -> Req {
        self.header("authorization", &format!("Bearer {key}"))
    }

    /// With a header.
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// With a JSON body.
    pub fn json(self, body: &Value) -> Req {
        self.body("application/json", body.to_string().into_bytes())
    }

    /// With a JSON body when given.
    pub fn json_opt(self, body: Option<&Value>) -> Req {
        match body {
            Some(v) => self.json(v),
            None => self,
        }
    }

    /// With a body of `content_type`.
    pub fn body(mut self, content_type: &str, bytes: Vec<u8>) -> Req {
        self.body = Some((content_type.to_string(), bytes));
        self
    }

    /// From another peer address (rate limits, audit's «from where»).
    pub fn from(mut self, peer: SocketAddr) -> Req {
        self.from = peer;
        self
    }

    /// Sends it through `app(state)` and reads the whole answer (at most 4 MiB).
    pub async fn send(self, state: &AppState) -> Resp {
        let mut req = Request::builder().method(self.method).uri(self.path);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let body = match self.body {
            Some((ty, bytes)) => {
                req = req.header("content-type", ty);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let mut req = req.body(body).unwrap();
        req.extensions_mut().insert(ConnectInfo(self.from));
        let resp = app(state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22)
            .await
            .unwrap()
            .to_vec();
        Resp {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            bytes,
        }
    }
}

/// Logs `login` in with `password` from `peer`: the answer as it came.
pub async fn log_in_as(state: &AppState, login: &str, password: &str, peer: SocketAddr) -> Resp {
    Req::new(Method::POST, "/api/v1/login")
        .json(&json!({"login": login, "password": password}))
        .from(peer)
        .send(state)
        .await
}

/// Logs `login` in with [`PASSWORD`]; panics unless it succeeds.
pub async fn log_in(state: &AppState, login: &str) -> Browser {
    let r = log_in_as(state, login, PASSWORD, default_peer()).await;
    browser_of(&r)
}

/// The browser a successful login answer makes.
pub fn browser_of(r: &Resp) -> Browser {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    Browser {
        cookie: r.set_cookie().split(';').next().unwrap().to_string(),
        csrf: r.json["csrf_token"].as_str().unwrap().to_string(),
    }
}

/// The audit log's (actor, action, target) whose action starts with `prefix`, oldest first
/// as the log lists them.
pub async fn audit(access: &Access, prefix: &str) -> Vec<(String, String, Option<String>)> {
    access
        .audit_log(1000, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with(prefix))
        .map(|e| (e.actor, e.action, e.target))
        .collect()
}
