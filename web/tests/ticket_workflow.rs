//! The console's ticket workflow through `app(state)` with `oneshot`: for every role each
//! forbidden ticket action answers 403 and changes nothing (ticket, comments, photos, files,
//! audit); deadlines from the topic's SLA; the journal's filters, overdue flag and total;
//! CSV and XLSX exports read back; photo size and type checks and who may see photos.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;
use zvonar_access::{Access, AuthPolicy, NewUser, Permission, Role, Visibility};
use zvonar_dispatch::{DispatchStore, SqliteDispatchStore, TicketSla};
use zvonar_models::{BuildingId, TicketRequest};
use zvonar_web::{app, AppState, TicketSettings, TopicInfo, EXPORT_COLUMNS};

const TOKEN: &str = "Zq3v9LrT0mWc2XyB8nKd5sFh";
/// The smallest valid PNG signature plus a little data.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0";

struct T {
    state: AppState,
    access: Arc<Access>,
    store: Arc<SqliteDispatchStore>,
    photos: PathBuf,
    /// role → API key of a user with that role.
    keys: HashMap<Role, String>,
}

fn topic(code: &str, name: &str, group: &str, h: u32, eh: u32) -> TopicInfo {
    TopicInfo {
        code: code.into(),
        name: name.into(),
        group: group.into(),
        sla_hours: h,
        emergency_sla_hours: eh,
    }
}

async fn setup(name: &str) -> T {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    zvonar_access::migrate(&pool).await.unwrap();
    let access = Arc::new(Access::new(pool.clone(), AuthPolicy::default()));
    let topics = vec![
        topic("leak", "Протечка", "Сантехника", 24, 2),
        topic("gas", "Газ", "Газ", 4, 1),
        topic("lift", "Лифт", "Лифты", 48, 1),
    ];
    let sla = TicketSla {
        default_hours: 72,
        default_emergency_hours: 2,
        topics: topics
            .iter()
            .map(|t| (t.code.clone(), (t.sla_hours, t.emergency_sla_hours)))
            .collect(),
    };
    let store = Arc::new(SqliteDispatchStore::new(pool).with_sla(sla));
    let photos =
        std::env::temp_dir().join(format!("zvonar-web-tickets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&photos);
    let state = AppState::new(
        store.clone(),
        TOKEN.into(),
        std::env::temp_dir(),
        Arc::new(prometheus_client::registry::Registry::default()),
    )
    .with_access(access.clone(), false)
    .with_ticket_workflow(
        store.clone(),
        TicketSettings {
            topics,
            departments: vec!["Сантехники".into(), "Лифтовая служба".into()],
            photos_dir: photos.clone(),
            photo_max_bytes: 4096,
            time_zone: chrono_tz::Europe::Moscow,
            registry: None,
        },
    );
    let mut keys = HashMap::new();
    for role in Role::ALL {
        let u = access
            .create_user(
                &NewUser {
                    login: format!("u-{role}"),
                    role: Some(role),
                    display_name: format!("Пользователь {role}"),
                    ..Default::default()
                },
                "длинный пароль 42",
                false,
            )
            .await
            .unwrap();
        let (_, key) = access.create_api_key(u.id, "test").await.unwrap();
        keys.insert(role, key);
    }
    T {
        state,
        access,
        store,
        photos,
        keys,
    }
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn call(t: &T, key: &str, method: Method, uri: &str, body: Option<(&str, Vec<u8>)>) -> Resp {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("Authorization", format!("Bearer {key}"));
    let body = match body {
        Some((ctype, bytes)) => {
            req = req.header("Content-Type", ctype);
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    let resp = app(t.state.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 16 << 20)
        .await
        .unwrap()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

fn j(v: Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", v.to_string().into_bytes()))
}

fn req(topic: &str, emergency: bool, building: Option<i64>) -> TicketRequest {
    TicketRequest {
        caller: None,
        account_id: None,
        building_id: building.map(BuildingId),
        premises_id: None,
        apartment: None,
        topic: topic.into(),
        emergency,
        description: format!("описание {topic}"),
        outage_id: None,
        unfinished: false,
    }
}

/// Everything a ticket action could change, read with the service token.
async fn snapshot(t: &T, id: i64) -> (Value, usize, usize, usize) {
    let card = call(
        t,
        TOKEN,
        Method::GET,
        &format!("/api/v1/tickets/{id}"),
        None,
    )
    .await;
    assert_eq!(card.status, StatusCode::OK);
    let mut card = card.json();
    // `overdue` is computed at read time; everything else must be equal.
    card["ticket"].as_object_mut().unwrap().remove("overdue");
    let list = call(t, TOKEN, Method::GET, "/api/v1/tickets?limit=500", None).await;
    let files = walk(&t.photos);
    let audit = t.access.audit_log(1000, 0).await.unwrap().len();
    (card, list.json().as_array().unwrap().len(), files, audit)
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// One ticket action: name, method, path, body, the permissions of which one is needed.
type Action = (
    &'static str,
    Method,
    String,
    Option<(&'static str, Vec<u8>)>,
    Vec<Permission>,
);

/// The ticket actions of the console and the permissions of which one is needed.
fn actions(id: i64) -> Vec<Action> {
    use Permission::*;
    let works = vec![
        CreateTickets,
        TransferTickets,
        CompleteTickets,
        CloseTickets,
    ];
    vec![
        (
            "create",
            Method::POST,
            "/api/v1/tickets".into(),
            j(json!({"topic": "leak"})),
            vec![CreateTickets],
        ),
        (
            "assign",
            Method::POST,
            format!("/api/v1/tickets/{id}/assign"),
            j(json!({"department": "Сантехники"})),
            vec![TransferTickets],
        ),
        (
            "status",
            Method::POST,
            format!("/api/v1/tickets/{id}/status"),
            j(json!({"status": "in_progress"})),
            vec![TransferTickets, CompleteTickets],
        ),
        (
            "complete",
            Method::POST,
            format!("/api/v1/tickets/{id}/complete"),
            j(json!({"result": "заменили кран"})),
            vec![CompleteTickets],
        ),
        (
            "close",
            Method::POST,
            format!("/api/v1/tickets/{id}/close"),
            None,
            vec![CloseTickets],
        ),
        (
            "topic",
            Method::PUT,
            format!("/api/v1/tickets/{id}/topic"),
            j(json!({"topic": "gas"})),
            vec![ChangeTicketTopic],
        ),
        (
            "comment",
            Method::POST,
            format!("/api/v1/tickets/{id}/comments"),
            j(json!({"text": "позвонить жильцу"})),
            works.clone(),
        ),
        (
            "photo",
            Method::POST,
            format!("/api/v1/tickets/{id}/photos?name=a.png"),
            Some(("image/png", PNG.to_vec())),
            works,
        ),
    ]
}

#[tokio::test]
async fn every_forbidden_ticket_action_of_every_role_is_403_and_changes_nothing() {
    let t = setup("forbidden").await;
    // A role stripped of every permission as well as the default matrix: the supervisor's
    // permissions emptied by an admin.
    t.access
        .set_role_permissions(Role::Supervisor, &BTreeSet::new())
        .await
        .unwrap();
    let id = t
        .store
        .file_ticket(None, Utc::now(), &req("leak", false, None))
        .await
        .unwrap()
        .id
        .0;
    let mut forbidden_seen = 0;
    for role in Role::ALL {
        let perms = t.access.role_permissions(role).await.unwrap();
        for (name, method, uri, body, need) in actions(id) {
            if need.iter().any(|p| perms.contains(p)) {
                continue;
            }
            let before = snapshot(&t, id).await;
            let r = call(&t, &t.keys[&role], method, &uri, body).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{role} {name}: {:?}",
                r.json()
            );
            assert!(
                r.json()["error"].as_str().unwrap().contains("нет права"),
                "{role} {name}"
            );
            assert_eq!(
                snapshot(&t, id).await,
                before,
                "{role} {name} changed something"
            );
            forbidden_seen += 1;
        }
    }
    // The default matrix forbids: executor create/assign/close/topic, operator
    // complete/close/topic; the emptied supervisor all 8.
    assert_eq!(forbidden_seen, 4 + 3 + 8, "forbidden actions tried");

    // Each action is allowed to someone: the admin does them all, each audited.
    for (name, method, uri, body, _) in actions(id) {
        if name == "close" {
            continue; // last, below: a closed ticket refuses changes
        }
        let r = call(&t, &t.keys[&Role::Admin], method, &uri, body).await;
        assert!(
            r.status.is_success(),
            "admin {name}: {} {:?}",
            r.status,
            r.json()
        );
    }
    let r = call(
        &t,
        &t.keys[&Role::Admin],
        Method::POST,
        &format!("/api/v1/tickets/{id}/close"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let card = call(
        &t,
        TOKEN,
        Method::GET,
        &format!("/api/v1/tickets/{id}"),
        None,
    )
    .await
    .json();
    assert_eq!(card["ticket"]["status"], "closed");
    assert_eq!(card["ticket"]["department"], "Сантехники");
    assert_eq!(card["ticket"]["result"], "заменили кран");
    assert_eq!(card["ticket"]["topic"], "gas");
    assert_eq!(card["comments"][0]["text"], "позвонить жильцу");
    assert_eq!(card["comments"][0]["author"], "u-admin");
    assert_eq!(card["photos"].as_array().unwrap().len(), 1);
    let audit: Vec<String> = t
        .access
        .audit_log(1000, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.actor == "u-admin")
        .map(|e| e.action)
        .collect();
    for a in [
        "ticket_created",
        "ticket_assigned",
        "ticket_status_changed",
        "ticket_completed",
        "ticket_topic_changed",
        "ticket_commented",
        "ticket_photo_added",
        "ticket_closed",
    ] {
        assert!(audit.iter().any(|x| x == a), "{a} not audited: {audit:?}");
    }
    // Closed: further changes are refused (409) and change nothing.
    let before = snapshot(&t, id).await;
    for (name, method, uri, body, _) in actions(id) {
        if ["create", "comment", "photo", "topic"].contains(&name) {
            continue;
        }
        let r = call(&t, &t.keys[&Role::Admin], method, &uri, body).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{name} on a closed ticket");
    }
    assert_eq!(snapshot(&t, id).await, before);
}

#[tokio::test]
async fn deadlines_come_from_the_topic_sla_and_overdue_tickets_are_flagged() {
    let t = setup("sla").await;
    let op = &t.keys[&Role::Operator];
    let r = call(
        &t,
        op,
        Method::POST,
        "/api/v1/tickets",
        j(json!({"topic": "gas", "emergency": true, "description": "запах газа"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let v = r.json();
    let created: DateTime<Utc> = v["created_at"].as_str().unwrap().parse().unwrap();
    let due: DateTime<Utc> = v["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due - created, Duration::hours(1), "gas emergency: 1 h");
    assert_eq!(v["created_by"], "u-operator");
    assert_eq!(v["overdue"], false);
    let r = call(
        &t,
        op,
        Method::POST,
        "/api/v1/tickets",
        j(json!({"topic": "leak"})),
    )
    .await;
    let v = r.json();
    let d: DateTime<Utc> = v["due_at"].as_str().unwrap().parse().unwrap();
    let c: DateTime<Utc> = v["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(d - c, Duration::hours(24), "leak: 24 h");
    // An unknown topic is refused.
    let r = call(
        &t,
        op,
        Method::POST,
        "/api/v1/tickets",
        j(json!({"topic": "boiler"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // The robot's ticket filed 30 h ago on a 24 h topic is overdue; done ones never are.
    let old = t
        .store
        .file_ticket(
            None,
            Utc::now() - Duration::hours(30),
            &req("leak", false, None),
        )
        .await
        .unwrap();
    let done = t
        .store
        .file_ticket(
            None,
            Utc::now() - Duration::hours(30),
            &req("leak", false, None),
        )
        .await
        .unwrap();
    let r = call(
        &t,
        &t.keys[&Role::Dispatcher],
        Method::POST,
        &format!("/api/v1/tickets/{}/complete", done.id.0),
        None,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "complete without a body still works"
    );
    let r = call(&t, op, Method::GET, "/api/v1/tickets?status=overdue", None).await;
    let list = r.json();
    let numbers: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, vec![old.number.as_str()]);
    assert_eq!(list[0]["overdue"], true);
    assert_eq!(r.headers["x-total-count"], "1");
    let r = call(&t, op, Method::GET, "/api/v1/tickets?status=bogus", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_journal_filters_pages_and_exports_csv_and_xlsx() {
    let t = setup("journal").await;
    // Filed at known Moscow days: 28.11 leak b5, 29.11 gas b5 (emergency), 29.11 lift b6,
    // 30.11 leak b6.
    let days = [
        ("2026-11-28T09:00:00Z", "leak", false, 5),
        ("2026-11-29T09:00:00Z", "gas", true, 5),
        ("2026-11-29T20:30:00Z", "lift", false, 6), // 23:30 in Moscow: still the 29th
        ("2026-11-29T21:30:00Z", "leak", false, 6), // 00:30 on the 30th in Moscow
    ];
    let mut numbers = Vec::new();
    for (at, topic, emergency, b) in days {
        let at: DateTime<Utc> = at.parse().unwrap();
        numbers.push(
            t.store
                .file_ticket(None, at, &req(topic, emergency, Some(b)))
                .await
                .unwrap()
                .number,
        );
    }
    let disp = &t.keys[&Role::Dispatcher];
    let admin_id = t
        .access
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.role == Role::Executor)
        .unwrap()
        .id;
    let r = call(
        &t,
        disp,
        Method::POST,
        &format!("/api/v1/tickets/{}/assign", numbers[2]),
        j(json!({"executor_id": admin_id, "department": "Лифтовая служба"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(r.json()["executor"], "Пользователь executor");
    let got = |r: &Resp| -> Vec<String> {
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["number"].as_str().unwrap().to_string())
            .collect()
    };
    let r = call(
        &t,
        disp,
        Method::GET,
        "/api/v1/tickets?from=2026-11-29&to=2026-11-29",
        None,
    )
    .await;
    let mut day = got(&r);
    day.sort();
    assert_eq!(
        day,
        vec![numbers[1].clone(), numbers[2].clone()],
        "the 29th in Moscow"
    );
    let r = call(
        &t,
        disp,
        Method::GET,
        "/api/v1/tickets?building_id=5&topic=leak",
        None,
    )
    .await;
    assert_eq!(got(&r), vec![numbers[0].clone()]);
    let r = call(
        &t,
        disp,
        Method::GET,
        &format!("/api/v1/tickets?executor_id={admin_id}"),
        None,
    )
    .await;
    assert_eq!(got(&r), vec![numbers[2].clone()]);
    let r = call(
        &t,
        disp,
        Method::GET,
        "/api/v1/tickets?status=new&limit=2&offset=0",
        None,
    )
    .await;
    assert_eq!(r.headers["x-total-count"], "4");
    // Open emergencies first, then newest first.
    assert_eq!(got(&r), vec![numbers[1].clone(), numbers[3].clone()]);
    let r = call(
        &t,
        disp,
        Method::GET,
        "/api/v1/tickets?status=new&limit=2&offset=2",
        None,
    )
    .await;
    assert_eq!(got(&r), vec![numbers[2].clone(), numbers[0].clone()]);
    let r = call(
        &t,
        disp,
        Method::GET,
        "/api/v1/tickets?from=29.11.2026",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"].as_str().unwrap().contains("ГГГГ-ММ-ДД"));

    // CSV: the filtered rows, ;-separated with a BOM, parsed back.
    let r = call(
        &t,
        disp,
        Method::GET,
        "/api/v1/tickets/export?format=csv&building_id=6",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".csv"));
    let text = String::from_utf8(r.body.clone()).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("BOM");
    let mut rd = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, EXPORT_COLUMNS);
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][0], numbers[3].as_str());
    assert_eq!(&rows[0][1], "30.11.2026 00:30", "Moscow time");
    assert_eq!(&rows[0][6], "Протечка");
    assert_eq!(&rows[0][3], "новая");
    assert_eq!(&rows[1][0], numbers[2].as_str());
    assert_eq!(&rows[1][11], "Лифтовая служба");
    assert_eq!(&rows[1][12], "Пользователь executor");
    assert_eq!(&rows[1][14], "робот");

    // XLSX: the same rows, read back with calamine.
    let r = call(
        &t,
        disp,
        Method::GET,
        "/api/v1/tickets/export?format=xlsx&building_id=6",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(r.body.clone())).unwrap();
    let range = wb.worksheet_range("Заявки").unwrap();
    let cells: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(cells.len(), 3);
    assert_eq!(cells[0], EXPORT_COLUMNS.map(str::to_string).to_vec());
    for (x, c) in rows.iter().zip(&cells[1..]) {
        assert_eq!(
            x.iter().collect::<Vec<_>>(),
            c.iter().map(String::as_str).collect::<Vec<_>>()
        );
    }
    // The export is audited; a bad format is refused.
    let audit = t.access.audit_log(100, 0).await.unwrap();
    assert!(
        audit
            .iter()
            .filter(|e| e.action == "tickets_exported")
            .count()
            == 2
    );
    let r = call(
        &t,
        disp,
        Method::GET,
        "/api/v1/tickets/export?format=pdf",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Visibility: a user limited to building 5 sees and exports only its tickets.
    let u = t
        .access
        .create_user(
            &NewUser {
                login: "b5".into(),
                role: Some(Role::Dispatcher),
                visibility: Visibility {
                    topics: vec![],
                    buildings: vec![5],
                },
                ..Default::default()
            },
            "длинный пароль 42",
            false,
        )
        .await
        .unwrap();
    let (_, key) = t.access.create_api_key(u.id, "k").await.unwrap();
    let r = call(
        &t,
        &key,
        Method::GET,
        "/api/v1/tickets/export?format=csv",
        None,
    )
    .await;
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert_eq!(
        text.lines().count(),
        3,
        "header + building 5's two tickets:\n{text}"
    );
    let r = call(
        &t,
        &key,
        Method::POST,
        &format!("/api/v1/tickets/{}/comments", numbers[3]),
        j(json!({"text": "x"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another building's ticket");
}

#[tokio::test]
async fn photos_are_checked_by_size_and_content_and_served_to_those_who_see_the_ticket() {
    let t = setup("photos").await;
    let id = t
        .store
        .file_ticket(None, Utc::now(), &req("leak", false, Some(5)))
        .await
        .unwrap()
        .id
        .0;
    let op = &t.keys[&Role::Operator];
    let url = format!("/api/v1/tickets/{id}/photos?name=кран.png");
    // Too large (the limit is 4 KiB here): 413, nothing stored.
    let mut big = PNG.to_vec();
    big.resize(5000, 0);
    let r = call(&t, op, Method::POST, &url, Some(("image/png", big))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Declared PNG but a JPEG inside; text; no type: 415.
    for (ctype, bytes) in [
        ("image/png", JPEG.to_vec()),
        ("image/png", b"hello".to_vec()),
        ("text/plain", PNG.to_vec()),
    ] {
        let r = call(&t, op, Method::POST, &url, Some((ctype, bytes))).await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ctype}");
    }
    assert_eq!(walk(&t.photos), 0);
    let r = call(
        &t,
        op,
        Method::POST,
        &url,
        Some(("image/png", PNG.to_vec())),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let p = r.json();
    assert_eq!(
        (p["content_type"].as_str(), p["name"].as_str()),
        (Some("image/png"), Some("кран.png"))
    );
    let r = call(
        &t,
        &t.keys[&Role::Operator],
        Method::POST,
        &format!("/api/v1/tickets/{id}/photos"),
        Some(("image/jpeg", JPEG.to_vec())),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(walk(&t.photos), 2);
    let get = format!("/api/v1/tickets/{id}/photos/{}", p["id"]);
    let r = call(&t, &t.keys[&Role::Executor], Method::GET, &get, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, PNG);
    assert_eq!(r.headers["content-type"], "image/png");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    // Someone who does not see building 5 gets 404 for the photo.
    let u = t
        .access
        .create_user(
            &NewUser {
                login: "b6".into(),
                role: Some(Role::Operator),
                visibility: Visibility {
                    topics: vec![],
                    buildings: vec![6],
                },
                ..Default::default()
            },
            "длинный пароль 42",
            false,
        )
        .await
        .unwrap();
    let (_, key) = t.access.create_api_key(u.id, "k").await.unwrap();
    let r = call(&t, &key, Method::GET, &get, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A photo id under another ticket's path is not served.
    let other = t
        .store
        .file_ticket(None, Utc::now(), &req("leak", false, Some(5)))
        .await
        .unwrap()
        .id
        .0;
    let r = call(
        &t,
        op,
        Method::GET,
        &format!("/api/v1/tickets/{other}/photos/{}", p["id"]),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
