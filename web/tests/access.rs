//! Accounts through `app(state)` with `oneshot` (no server), with a fake clock: login,
//! logout and me; wrong password; lockout and its expiry; the per-IP rate limit; session
//! expiry; CSRF; forced password change; API keys and the service token; ticket
//! visibility; and for every role, each forbidden action answers 403 and changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use common::{
    add_user_seeing, base_state, browser_of, log_in_as, memory_pool, Browser, Req, Resp, PASSWORD,
    TOKEN,
};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use zvonar_access::{Access, AuthPolicy, FakeClock, Permission, Role, Visibility};
use zvonar_dispatch::{DispatchStore, SqliteDispatchStore, TicketFilter};
use zvonar_models::{BuildingId, CallEvent, CallEventKind, CallId, TicketRequest};
use zvonar_web::AppState;

struct T {
    state: AppState,
    access: Arc<Access>,
    store: Arc<dyn DispatchStore>,
    clock: Arc<FakeClock>,
    recordings: std::path::PathBuf,
}

async fn setup(policy: AuthPolicy) -> T {
    let pool = memory_pool().await;
    let clock = Arc::new(FakeClock::new("2026-11-29T08:00:00Z".parse().unwrap()));
    let access = Arc::new(Access::with_clock(pool.clone(), policy, clock.clone()));
    let store: Arc<dyn DispatchStore> = Arc::new(SqliteDispatchStore::new(pool));
    let recordings = std::env::temp_dir().join(format!(
        "zvonar-web-access-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(recordings.join("2026/11/29")).unwrap();
    std::fs::write(recordings.join("2026/11/29/c1.wav"), b"RIFF0000WAVE").unwrap();
    let state = base_state(store.clone(), access.clone(), recordings.clone());
    T {
        state,
        access,
        store,
        clock,
        recordings,
    }
}

fn uuid_like() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn ip(last: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, last], 40000))
}

impl T {
    /// One request from `from`; a browser's cookie goes after another site cookie, as
    /// browsers send them.
    async fn send(
        &self,
        method: Method,
        path: &str,
        who: Option<&Browser>,
        extra: &[(&str, &str)],
        body: Option<Value>,
        from: SocketAddr,
    ) -> Resp {
        let mut req = Req::new(method, path).from(from).json_opt(body.as_ref());
        if let Some(b) = who {
            req = req
                .cookie(&format!("theme=dark; {}", b.cookie))
                .header("x-csrf-token", &b.csrf);
        }
        for (k, v) in extra {
            req = req.header(k, v);
        }
        req.send(&self.state).await
    }

    async fn login_as(&self, login: &str, password: &str, from: SocketAddr) -> Resp {
        log_in_as(&self.state, login, password, from).await
    }

    async fn browser(&self, login: &str, password: &str) -> Browser {
        browser_of(&self.login_as(login, password, ip(1)).await)
    }

    async fn user(&self, login: &str, role: Role, visibility: Visibility) -> i64 {
        add_user_seeing(&self.access, login, role, "", visibility).await
    }

    async fn get(&self, path: &str, who: &Browser) -> Resp {
        self.send(Method::GET, path, Some(who), &[], None, ip(1))
            .await
    }

    async fn ticket(&self, topic: &str, building: Option<i64>) -> i64 {
        let req = TicketRequest {
            caller: None,
            account_id: None,
            building_id: building.map(BuildingId),
            premises_id: None,
            apartment: None,
            topic: topic.into(),
            emergency: false,
            description: "течёт".into(),
            outage_id: None,
            unfinished: false,
        };
        self.store
            .file_ticket(None, chrono::Utc::now(), &req)
            .await
            .unwrap()
            .id
            .0
    }

    async fn audit_actions(&self) -> Vec<(String, String, Option<String>)> {
        self.access
            .audit_log(1000, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.actor, e.action, e.ip))
            .collect()
    }
}

impl Drop for T {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.recordings);
    }
}

#[tokio::test]
async fn login_me_logout() {
    let t = setup(AuthPolicy::default()).await;
    t.user("Ivanova", Role::Dispatcher, Visibility::default())
        .await;
    let r = t.login_as("ivanova", PASSWORD, ip(7)).await;
    assert_eq!(r.status, StatusCode::OK);
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("zvonar_session="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "loopback/dev state: {cookie}");
    assert_eq!(r.json["role"], "dispatcher");
    assert!(r.json["permissions"]
        .as_array()
        .unwrap()
        .contains(&json!("close_tickets")));
    let b = Browser {
        cookie: cookie.split(';').next().unwrap().into(),
        csrf: r.json["csrf_token"].as_str().unwrap().into(),
    };
    let me = t.get("/api/v1/me", &b).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["login"], "Ivanova");
    let out = t
        .send(Method::POST, "/api/v1/logout", Some(&b), &[], None, ip(7))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        t.get("/api/v1/me", &b).await.status,
        StatusCode::UNAUTHORIZED
    );
    let log = t.audit_actions().await;
    assert_eq!(
        log,
        vec![
            ("Ivanova".into(), "logout".into(), Some("10.0.0.7".into())),
            ("Ivanova".into(), "login".into(), Some("10.0.0.7".into())),
        ]
    );
}

#[tokio::test]
async fn the_cookie_is_secure_off_loopback() {
    let mut t = setup(AuthPolicy::default()).await;
    t.state = t.state.clone().with_access(t.access.clone(), true);
    t.user("petrov", Role::Operator, Visibility::default())
        .await;
    let r = t.login_as("petrov", PASSWORD, ip(1)).await;
    assert!(r.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));
}

#[tokio::test]
async fn wrong_password_and_unknown_login_answer_the_same_401() {
    let t = setup(AuthPolicy::default()).await;
    t.user("petrov", Role::Operator, Visibility::default())
        .await;
    let wrong = t.login_as("petrov", "не тот пароль", ip(1)).await;
    let unknown = t.login_as("sidorov", PASSWORD, ip(1)).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json, unknown.json);
    assert!(wrong.headers.get("set-cookie").is_none());
    let log = t.audit_actions().await;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|(_, a, _)| a == "login_failed"), "{log:?}");
}

#[tokio::test]
async fn five_failures_lock_the_login_for_fifteen_minutes() {
    let t = setup(AuthPolicy::default()).await;
    t.user("petrov", Role::Operator, Visibility::default())
        .await;
    for _ in 0..5 {
        let r = t.login_as("petrov", "не тот пароль", ip(1)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Locked: even the right password, from another address, answers 423.
    let r = t.login_as("Petrov", PASSWORD, ip(2)).await;
    assert_eq!(r.status, StatusCode::LOCKED, "{:?}", r.json);
    assert_eq!(r.headers["retry-after"], "900");
    assert!(r.json["error"].as_str().unwrap().contains("заблокирован"));
    t.clock.advance(Duration::minutes(14));
    assert_eq!(
        t.login_as("petrov", PASSWORD, ip(2)).await.status,
        StatusCode::LOCKED
    );
    t.clock.advance(Duration::minutes(1));
    assert_eq!(
        t.login_as("petrov", PASSWORD, ip(2)).await.status,
        StatusCode::OK
    );
    // Another login was never locked.
    t.user("sidorov", Role::Operator, Visibility::default())
        .await;
    assert_eq!(
        t.login_as("sidorov", PASSWORD, ip(1)).await.status,
        StatusCode::OK
    );
    assert!(t
        .audit_actions()
        .await
        .iter()
        .any(|(who, a, _)| who == "petrov" && a == "login_locked"));
}

#[tokio::test]
async fn too_many_attempts_from_one_address_answer_429() {
    let t = setup(AuthPolicy {
        login_attempts_per_ip_per_minute: 3,
        lockout_failures: 100,
        ..AuthPolicy::default()
    })
    .await;
    t.user("petrov", Role::Operator, Visibility::default())
        .await;
    for login in ["a", "b", "c"] {
        assert_eq!(
            t.login_as(login, "x", ip(9)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = t.login_as("petrov", PASSWORD, ip(9)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "60");
    assert_eq!(
        t.login_as("petrov", PASSWORD, ip(10)).await.status,
        StatusCode::OK
    );
    t.clock.advance(Duration::seconds(60));
    assert_eq!(
        t.login_as("petrov", PASSWORD, ip(9)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn sessions_expire_when_idle_and_after_the_shift() {
    let t = setup(AuthPolicy::default()).await;
    t.user("petrov", Role::Operator, Visibility::default())
        .await;
    let b = t.browser("petrov", PASSWORD).await;
    t.clock.advance(Duration::minutes(29));
    assert_eq!(t.get("/api/v1/me", &b).await.status, StatusCode::OK);
    t.clock.advance(Duration::minutes(29));
    assert_eq!(t.get("/api/v1/me", &b).await.status, StatusCode::OK);
    t.clock.advance(Duration::minutes(30));
    assert_eq!(
        t.get("/api/v1/me", &b).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Busy all shift: used every 20 minutes, it still ends 12 hours after login.
    let b = t.browser("petrov", PASSWORD).await;
    for _ in 0..35 {
        t.clock.advance(Duration::minutes(20));
        assert_eq!(t.get("/api/v1/me", &b).await.status, StatusCode::OK);
    }
    t.clock.advance(Duration::minutes(20));
    assert_eq!(
        t.get("/api/v1/me", &b).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn unsafe_requests_without_the_csrf_token_are_403_and_change_nothing() {
    let t = setup(AuthPolicy::default()).await;
    t.user("admin", Role::Admin, Visibility::default()).await;
    let b = t.browser("admin", PASSWORD).await;
    let body = json!({"login": "new", "role": "operator", "password": "пароль нового"});
    let no_csrf = Browser {
        cookie: b.cookie.clone(),
        csrf: String::new(),
    };
    let wrong = Browser {
        cookie: b.cookie.clone(),
        csrf: "x".repeat(43),
    };
    for who in [&no_csrf, &wrong] {
        let r = t
            .send(
                Method::POST,
                "/api/v1/users",
                Some(who),
                &[],
                Some(body.clone()),
                ip(1),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.json);
        assert!(r.json["error"].as_str().unwrap().contains("CSRF"));
    }
    assert_eq!(t.access.list_users().await.unwrap().len(), 1);
    // Reads need no token.
    assert_eq!(
        t.get("/api/v1/users", &no_csrf).await.status,
        StatusCode::OK
    );
    let r = t
        .send(
            Method::POST,
            "/api/v1/users",
            Some(&b),
            &[],
            Some(body),
            ip(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(t.access.list_users().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_reset_password_must_be_changed_before_anything_else() {
    let t = setup(AuthPolicy::default()).await;
    t.user("admin", Role::Admin, Visibility::default()).await;
    let op = t
        .user("petrov", Role::Operator, Visibility::default())
        .await;
    let admin = t.browser("admin", PASSWORD).await;
    let old = t.browser("petrov", PASSWORD).await;
    let r = t
        .send(
            Method::POST,
            &format!("/api/v1/users/{op}/password"),
            Some(&admin),
            &[],
            Some(json!({"password": "временный-пароль"})),
            ip(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json);
    assert_eq!(
        t.get("/api/v1/me", &old).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.login_as("petrov", PASSWORD, ip(1)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let b = t.browser("petrov", "временный-пароль").await;
    assert_eq!(
        t.get("/api/v1/me", &b).await.json["must_change_password"],
        true
    );
    let r = t.get("/api/v1/tickets", &b).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json["error"].as_str().unwrap().contains("сменить пароль"));
    let change = |cur: &str, new: &str| json!({"current_password": cur, "new_password": new});
    let r = t
        .send(
            Method::POST,
            "/api/v1/me/password",
            Some(&b),
            &[],
            Some(change("не тот", "мой новый пароль")),
            ip(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t
        .send(
            Method::POST,
            "/api/v1/me/password",
            Some(&b),
            &[],
            Some(change("временный-пароль", "мой новый пароль")),
            ip(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json);
    assert_eq!(t.get("/api/v1/tickets", &b).await.status, StatusCode::OK);
    let log = t.audit_actions().await;
    assert!(log.contains(&(
        "admin".into(),
        "password_reset".into(),
        Some("10.0.0.1".into())
    )));
    assert!(log.contains(&(
        "petrov".into(),
        "password_changed".into(),
        Some("10.0.0.1".into())
    )));
}

#[tokio::test]
async fn api_keys_act_as_their_user_and_the_config_token_as_the_service_account() {
    let t = setup(AuthPolicy::default()).await;
    t.user("exchange", Role::Operator, Visibility::default())
        .await;
    let b = t.browser("exchange", PASSWORD).await;
    let r = t
        .send(
            Method::POST,
            "/api/v1/keys",
            Some(&b),
            &[],
            Some(json!({"name": "1С обмен"})),
            ip(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let key = r.json["key"].as_str().unwrap().to_string();
    let id = r.json["id"].as_i64().unwrap();
    assert!(key.starts_with("zv_") && key.len() == 46, "{key}");
    let listed = t.get("/api/v1/keys", &b).await.json;
    assert!(listed[0].get("key").is_none(), "shown once: {listed}");
    let bearer = format!("Bearer {key}");
    let me = t
        .send(
            Method::GET,
            "/api/v1/me",
            None,
            &[("authorization", &bearer)],
            None,
            ip(3),
        )
        .await;
    assert_eq!(me.json["login"], "exchange");
    // A key is not a session: no CSRF token needed, but its role still applies.
    let r = t
        .send(
            Method::GET,
            "/api/v1/users",
            None,
            &[("authorization", &bearer)],
            None,
            ip(3),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .send(
            Method::DELETE,
            &format!("/api/v1/keys/{id}"),
            Some(&b),
            &[],
            None,
            ip(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let me = t
        .send(
            Method::GET,
            "/api/v1/me",
            None,
            &[("authorization", &bearer)],
            None,
            ip(3),
        )
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    // The config's token: the service account, every permission.
    let service = format!("Bearer {TOKEN}");
    let me = t
        .send(
            Method::GET,
            "/api/v1/me",
            None,
            &[("authorization", &service)],
            None,
            ip(3),
        )
        .await;
    assert_eq!(me.json["login"], "service");
    let r = t
        .send(
            Method::GET,
            "/api/v1/users",
            None,
            &[("authorization", &service)],
            None,
            ip(3),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let tid = t.ticket("leak", None).await;
    let r = t
        .send(
            Method::POST,
            &format!("/api/v1/tickets/{tid}/close"),
            None,
            &[("authorization", &service)],
            None,
            ip(3),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let log = t.audit_actions().await;
    assert_eq!(
        log[0],
        (
            "service".into(),
            "ticket_closed".into(),
            Some("10.0.0.3".into())
        )
    );
}

#[tokio::test]
async fn users_see_tickets_of_their_topics_and_buildings_only() {
    let t = setup(AuthPolicy::default()).await;
    let leak_5 = t.ticket("leak", Some(5)).await;
    let leak_6 = t.ticket("leak", Some(6)).await;
    let light_5 = t.ticket("electricity", Some(5)).await;
    let leak_none = t.ticket("leak", None).await;
    t.user(
        "plumber",
        Role::Executor,
        Visibility {
            topics: vec!["leak".into()],
            buildings: vec![],
        },
    )
    .await;
    t.user(
        "house5",
        Role::Dispatcher,
        Visibility {
            topics: vec![],
            buildings: vec![5],
        },
    )
    .await;
    t.user("all", Role::Dispatcher, Visibility::default()).await;
    let ids = |v: &Value| -> Vec<i64> {
        let mut ids: Vec<i64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    let plumber = t.browser("plumber", PASSWORD).await;
    let house5 = t.browser("house5", PASSWORD).await;
    let all = t.browser("all", PASSWORD).await;
    assert_eq!(
        ids(&t.get("/api/v1/tickets", &plumber).await.json),
        vec![leak_5, leak_6, leak_none]
    );
    assert_eq!(
        ids(&t.get("/api/v1/tickets", &house5).await.json),
        vec![leak_5, light_5]
    );
    assert_eq!(ids(&t.get("/api/v1/tickets", &all).await.json).len(), 4);
    assert_eq!(
        t.get(&format!("/api/v1/tickets/{light_5}"), &plumber)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get(&format!("/api/v1/tickets/{leak_6}"), &house5)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get(&format!("/api/v1/tickets/{leak_6}"), &plumber)
            .await
            .status,
        StatusCode::OK
    );
    // A ticket one cannot see cannot be completed either, and stays as it was.
    let r = t
        .send(
            Method::POST,
            &format!("/api/v1/tickets/{light_5}/complete"),
            Some(&plumber),
            &[],
            None,
            ip(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let all_tickets = t
        .store
        .list_tickets(&TicketFilter::default(), 100, 0)
        .await
        .unwrap();
    assert!(all_tickets.iter().all(|t| t.status == "new"));
    // A call's record lists only the tickets the caller may see.
    let req = TicketRequest {
        caller: None,
        account_id: None,
        building_id: Some(BuildingId(6)),
        premises_id: None,
        apartment: None,
        topic: "electricity".into(),
        emergency: false,
        description: String::new(),
        outage_id: None,
        unfinished: false,
    };
    t.store
        .file_ticket(Some(&CallId("c9".into())), chrono::Utc::now(), &req)
        .await
        .unwrap();
    for (who, visible) in [(&house5, 0), (&all, 1)] {
        let r = t.get("/api/v1/calls/c9", who).await;
        assert_eq!(r.json["tickets"].as_array().unwrap().len(), visible);
    }
    // The filter also works with the emergency filter.
    assert_eq!(
        ids(&t
            .get("/api/v1/tickets?emergency=false", &plumber)
            .await
            .json)
        .len(),
        3
    );
}

/// One action of the matrix: what it needs and how to ask for it.
struct Action {
    name: &'static str,
    needs: Permission,
    method: Method,
    path: String,
    body: Option<Value>,
}

/// Everything the stores hold that an action could change, as comparable text.
async fn snapshot(t: &T) -> String {
    let tickets = t
        .store
        .list_tickets(&TicketFilter::default(), 1000, 0)
        .await
        .unwrap();
    let users = t.access.list_users().await.unwrap();
    let roles = t.access.all_role_permissions().await.unwrap();
    let keys = t.access.api_keys(None).await.unwrap();
    let audit: Vec<_> = t.audit_actions().await;
    format!("{tickets:?}\n{users:?}\n{roles:?}\n{keys:?}\n{audit:?}")
}

#[tokio::test]
async fn for_every_role_each_forbidden_action_is_403_and_changes_nothing() {
    for role in Role::ALL {
        let t = setup(AuthPolicy::default()).await;
        let tid = t.ticket("leak", Some(5)).await;
        let victim = t
            .user("victim", Role::Operator, Visibility::default())
            .await;
        let (victim_key, _) = t.access.create_api_key(victim, "ключ").await.unwrap();
        t.store
            .record_event(
                "c1-answered",
                &CallEvent {
                    call_id: CallId("c1".into()),
                    at: chrono::Utc::now(),
                    kind: CallEventKind::Answered {
                        recording: "2026/11/29/c1.wav".into(),
                    },
                },
            )
            .await
            .unwrap();
        t.user("actor", role, Visibility::default()).await;
        let b = t.browser("actor", PASSWORD).await;
        let granted = t.access.role_permissions(role).await.unwrap();
        assert_eq!(granted, role.default_permissions());
        // In this order the allowed ones all succeed afterwards (complete before close).
        let actions = vec![
            Action {
                name: "list calls",
                needs: Permission::ListenRecordings,
                method: Method::GET,
                path: "/api/v1/calls".into(),
                body: None,
            },
            Action {
                name: "play recording",
                needs: Permission::ListenRecordings,
                method: Method::GET,
                path: "/api/v1/calls/c1/recording".into(),
                body: None,
            },
            Action {
                name: "callbacks",
                needs: Permission::TakeCalls,
                method: Method::GET,
                path: "/api/v1/callbacks".into(),
                body: None,
            },
            Action {
                name: "metrics",
                needs: Permission::ViewMonitor,
                method: Method::GET,
                path: "/metrics".into(),
                body: None,
            },
            Action {
                name: "audit",
                needs: Permission::ReadAudit,
                method: Method::GET,
                path: "/api/v1/audit".into(),
                body: None,
            },
            Action {
                name: "list users",
                needs: Permission::ManageUsers,
                method: Method::GET,
                path: "/api/v1/users".into(),
                body: None,
            },
            Action {
                name: "list roles",
                needs: Permission::ManageUsers,
                method: Method::GET,
                path: "/api/v1/roles".into(),
                body: None,
            },
            Action {
                name: "create ticket",
                needs: Permission::CreateTickets,
                method: Method::POST,
                path: "/api/v1/tickets".into(),
                body: Some(json!({"topic": "leak", "description": "капает", "building_id": 5})),
            },
            Action {
                name: "change topic",
                needs: Permission::ChangeTicketTopic,
                method: Method::PUT,
                path: format!("/api/v1/tickets/{tid}/topic"),
                body: Some(json!({"topic": "electricity"})),
            },
            Action {
                name: "complete ticket",
                needs: Permission::CompleteTickets,
                method: Method::POST,
                path: format!("/api/v1/tickets/{tid}/complete"),
                body: None,
            },
            Action {
                name: "close ticket",
                needs: Permission::CloseTickets,
                method: Method::POST,
                path: format!("/api/v1/tickets/{tid}/close"),
                body: None,
            },
            Action {
                name: "create user",
                needs: Permission::ManageUsers,
                method: Method::POST,
                path: "/api/v1/users".into(),
                body: Some(
                    json!({"login": "intruder", "role": "admin", "password": "пароль взломщика"}),
                ),
            },
            Action {
                name: "promote user",
                needs: Permission::ManageUsers,
                method: Method::PATCH,
                path: format!("/api/v1/users/{victim}"),
                body: Some(json!({"role": "admin"})),
            },
            Action {
                name: "reset password",
                needs: Permission::ManageUsers,
                method: Method::POST,
                path: format!("/api/v1/users/{victim}/password"),
                body: Some(json!({"password": "новый пароль жертвы"})),
            },
            Action {
                name: "edit role",
                needs: Permission::ManageUsers,
                method: Method::PUT,
                path: "/api/v1/roles/operator".into(),
                body: Some(json!({"permissions": ["take_calls", "manage_users"]})),
            },
        ];
        let before = snapshot(&t).await;
        let mut forbidden = 0;
        for a in actions.iter().filter(|a| !granted.contains(&a.needs)) {
            let r = t
                .send(
                    a.method.clone(),
                    &a.path,
                    Some(&b),
                    &[],
                    a.body.clone(),
                    ip(1),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{role}: {} → {:?}",
                a.name,
                r.json
            );
            forbidden += 1;
        }
        // Downloading needs its own permission on top of listening.
        if !granted.contains(&Permission::DownloadRecordings) {
            let r = t.get("/api/v1/calls/c1/recording?download=true", &b).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{role}: download");
            forbidden += 1;
        }
        // Someone else's key: not even told it exists.
        if !granted.contains(&Permission::ManageUsers) {
            let r = t
                .send(
                    Method::DELETE,
                    &format!("/api/v1/keys/{}", victim_key.id),
                    Some(&b),
                    &[],
                    None,
                    ip(1),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{role}: revoke others' key"
            );
        }
        assert_eq!(
            snapshot(&t).await,
            before,
            "{role}: a forbidden action changed data"
        );
        assert_eq!(
            t.login_as("victim", PASSWORD, ip(2)).await.status,
            StatusCode::OK,
            "{role}: the victim's password changed"
        );
        // The same requests succeed for a role that has the permission.
        for a in actions.iter().filter(|a| granted.contains(&a.needs)) {
            let r = t
                .send(
                    a.method.clone(),
                    &a.path,
                    Some(&b),
                    &[],
                    a.body.clone(),
                    ip(1),
                )
                .await;
            assert!(
                r.status.is_success(),
                "{role}: {} → {} {:?}",
                a.name,
                r.status,
                r.json
            );
        }
        let expected = match role {
            Role::Operator => 12,
            Role::Dispatcher => 9,
            Role::Executor => 15,
            Role::Supervisor => 6,
            Role::Admin => 0,
        };
        assert_eq!(forbidden, expected, "{role}");
    }
}

#[tokio::test]
async fn an_admin_edits_role_permissions_and_they_apply_at_once() {
    let t = setup(AuthPolicy::default()).await;
    t.user("admin", Role::Admin, Visibility::default()).await;
    t.user("petrov", Role::Operator, Visibility::default())
        .await;
    let admin = t.browser("admin", PASSWORD).await;
    let op = t.browser("petrov", PASSWORD).await;
    assert_eq!(t.get("/metrics", &op).await.status, StatusCode::FORBIDDEN);
    let r = t
        .send(
            Method::PUT,
            "/api/v1/roles/operator",
            Some(&admin),
            &[],
            Some(json!({"permissions": ["take_calls", "view_monitor"]})),
            ip(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json);
    assert_eq!(t.get("/metrics", &op).await.status, StatusCode::OK);
    assert_eq!(
        t.get("/api/v1/calls", &op).await.status,
        StatusCode::FORBIDDEN
    );
    // Nobody can take user management away from admins, or name an unknown permission.
    let r = t
        .send(
            Method::PUT,
            "/api/v1/roles/admin",
            Some(&admin),
            &[],
            Some(json!({"permissions": ["read_audit"]})),
            ip(1),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t
        .send(
            Method::PUT,
            "/api/v1/roles/operator",
            Some(&admin),
            &[],
            Some(json!({"permissions": ["fly"]})),
            ip(1),
        )
        .await;
    assert!(r.status.is_client_error());
    assert_eq!(
        t.access.role_permissions(Role::Operator).await.unwrap(),
        [Permission::TakeCalls, Permission::ViewMonitor]
            .into_iter()
            .collect()
    );
    let audit = t.get("/api/v1/audit", &admin).await.json;
    assert_eq!(audit[0]["action"], "role_permissions_changed");
    assert_eq!(audit[0]["target"], "role:operator");
    assert_eq!(audit[0]["ip"], "10.0.0.1");
}
