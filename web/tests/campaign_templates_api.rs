//! Stored campaign templates and the XLSX export through `app(state)` with `oneshot`, on a
//! real SQLite store (`zvonar_billing::MessageTemplates`): an admin creates, edits and
//! deletes templates (CSRF, audited), an unknown `{variable}` is refused naming it, the
//! preview speaks money and dates in words, a campaign created with `template_id` gets the
//! template's text; roles without `manage_campaigns` get 403 and change nothing; the XLSX
//! has the CSV's rows under Russian headers.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{add_users, base_state, log_in, memory_pool, Browser, Req};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use zvonar_access::{Access, AuthPolicy, Role};
use zvonar_billing::MessageTemplates;
use zvonar_dispatch::{DispatchStore, SqliteDispatchStore};
use zvonar_web::{AppState, CampaignCommand, CampaignControl, CampaignError};

/// Records the create requests that reached the engine; progress is a fixed document.
#[derive(Default)]
struct FakeCampaigns {
    created: Mutex<Vec<Value>>,
}

#[async_trait::async_trait]
impl CampaignControl for FakeCampaigns {
    async fn create(&self, body: Value, _by: &str) -> Result<Value, CampaignError> {
        self.created.lock().unwrap().push(body.clone());
        Ok(json!({"id": 3, "name": body["name"], "state": "draft", "totals": {"recipients": 2}}))
    }
    async fn list(&self) -> Result<Value, CampaignError> {
        Ok(json!({"campaigns": []}))
    }
    async fn progress(&self, id: i64) -> Result<Value, CampaignError> {
        if id != 3 {
            return Err(CampaignError::NotFound);
        }
        Ok(json!({"id": 3, "state": "finished", "recipients": [
            {"id": "ls-1", "phone": "sip:1001@127.0.0.1:5070", "status": "confirmed",
             "status_ru": "подтвердил", "attempts": [
                {"started_at": "2026-11-30T10:00:00Z", "outcome": "answered", "sip_code": 200,
                 "listened": true, "digit": "1", "recording": "2026/11/30/campaign-3-1.wav"}]},
            {"id": "ls-2", "phone": "+79161234567", "status": "busy",
             "status_ru": "занято; попытки исчерпаны", "attempts": [
                {"started_at": "2026-11-30T10:00:01Z", "outcome": "busy", "sip_code": 486,
                 "listened": false, "digit": null, "recording": null},
                {"started_at": "2026-11-30T10:05:01Z", "outcome": "busy", "sip_code": 486,
                 "listened": false, "digit": null, "recording": null}]},
            {"id": "ls-3", "phone": null, "status": "skipped",
             "status_ru": "пропущен: нет номера телефона", "attempts": []},
        ]}))
    }
    async fn command(&self, id: i64, _cmd: CampaignCommand) -> Result<Value, CampaignError> {
        Ok(json!({"id": id}))
    }
    async fn export_csv(&self, _id: i64) -> Result<String, CampaignError> {
        Ok(String::new())
    }
}

struct T {
    state: AppState,
    access: Arc<Access>,
    templates: Arc<MessageTemplates>,
    campaigns: Arc<FakeCampaigns>,
}

async fn setup() -> T {
    let pool = memory_pool().await;
    zvonar_billing::migrate(&pool).await.unwrap();
    let access = Arc::new(Access::new(pool.clone(), AuthPolicy::default()));
    let store: Arc<dyn DispatchStore> = Arc::new(SqliteDispatchStore::new(pool.clone()));
    let templates = Arc::new(MessageTemplates::new(pool));
    let campaigns = Arc::new(FakeCampaigns::default());
    let state = base_state(store, access.clone(), std::env::temp_dir())
        .with_campaigns(campaigns.clone())
        .with_campaign_templates(templates.clone());
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
        templates,
        campaigns,
    }
}

/// (status, body bytes, Set-Cookie) of one request as `who`, with or without the CSRF token.
async fn send_raw(
    t: &T,
    method: Method,
    path: &str,
    who: Option<&Browser>,
    with_csrf: bool,
    body: Option<Value>,
) -> (StatusCode, Vec<u8>, String) {
    let r = Req::new(method, path)
        .by_opt(who, with_csrf)
        .json_opt(body.as_ref())
        .send(&t.state)
        .await;
    let cookie = r.set_cookie();
    (r.status, r.bytes, cookie)
}

/// (status, JSON) of one request as `who` with the CSRF token.
async fn send(
    t: &T,
    method: Method,
    path: &str,
    who: &Browser,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let r = Req::new(method, path)
        .by(who)
        .json_opt(body.as_ref())
        .send(&t.state)
        .await;
    (r.status, r.json)
}

async fn template_audit(t: &T) -> Vec<(String, String, Option<String>)> {
    let mut v: Vec<_> = t
        .access
        .audit_log(1000, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("campaign_template_"))
        .map(|e| (e.actor, e.action, e.target))
        .collect();
    v.sort();
    v
}

const DEBT_TEXT: &str = "Здравствуйте, {fio}. Ваш долг {debt}. Оплатите до {due_date}.";

#[tokio::test]
async fn an_admin_keeps_templates_and_every_change_is_audited() {
    let t = setup().await;
    let olga = log_in(&t.state, "olga").await;
    // Without the CSRF token: 403, nothing stored.
    let (status, _, _) = send_raw(
        &t,
        Method::POST,
        "/api/v1/campaigns/templates",
        Some(&olga),
        false,
        Some(json!({"name": "Долг", "text": DEBT_TEXT})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(t.templates.list().await.unwrap().is_empty());

    let (status, created) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns/templates",
        &olga,
        Some(json!({"name": "Долг", "text": DEBT_TEXT, "question": "Нажмите 1, если поняли."})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["created_by"], "olga");
    assert_eq!(created["question"], "Нажмите 1, если поняли.");

    // An unknown variable: 400 naming it, nothing stored or changed.
    let (status, err) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns/templates",
        &olga,
        Some(json!({"name": "Опечатка", "text": "Ваш долг {dolg}."})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let msg = err["error"].as_str().unwrap();
    assert!(msg.contains("{dolg}") && msg.starts_with("text:"), "{msg}");
    let (status, err) = send(
        &t,
        Method::PUT,
        &format!("/api/v1/campaigns/templates/{id}"),
        &olga,
        Some(json!({"name": "Долг", "text": "Долг {debt"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(t.templates.get(id).await.unwrap().text, DEBT_TEXT);
    // A name taken: 409.
    let (status, _) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns/templates",
        &olga,
        Some(json!({"name": "Долг", "text": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, updated) = send(
        &t,
        Method::PUT,
        &format!("/api/v1/campaigns/templates/{id}"),
        &olga,
        Some(json!({"name": "Долг за ЖКУ", "text": "Долг {debt} за {period}."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Долг за ЖКУ");
    assert_eq!(updated["question"], Value::Null, "the question was removed");
    let (status, list) = send(&t, Method::GET, "/api/v1/campaigns/templates", &olga, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["templates"].as_array().unwrap().len(), 1);
    assert_eq!(list["templates"][0]["text"], "Долг {debt} за {period}.");

    let (status, _) = send(
        &t,
        Method::DELETE,
        &format!("/api/v1/campaigns/templates/{id}"),
        &olga,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(
        &t,
        Method::DELETE,
        &format!("/api/v1/campaigns/templates/{id}"),
        &olga,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(t.templates.list().await.unwrap().is_empty());

    let target = Some(format!("template:{id}"));
    let mut want = vec![
        (
            "olga".into(),
            "campaign_template_create".into(),
            target.clone(),
        ),
        (
            "olga".into(),
            "campaign_template_update".into(),
            target.clone(),
        ),
        ("olga".into(), "campaign_template_delete".into(), target),
    ];
    want.sort();
    assert_eq!(
        template_audit(&t).await,
        want,
        "refused changes are not audited"
    );
}

#[tokio::test]
async fn without_manage_campaigns_templates_are_403_and_unchanged() {
    let t = setup().await;
    let kept = t
        .templates
        .create(
            &zvonar_billing::TemplateInput {
                name: "Вода".into(),
                text: "Здравствуйте, {fio}. Завтра отключат воду.".into(),
                question: None,
            },
            "olga",
        )
        .await
        .unwrap();
    let body = json!({"name": "Чужой", "text": "Привет."});
    for login in ["anna", "petr", "sveta"] {
        let who = log_in(&t.state, login).await;
        for (method, path, body) in [
            (Method::GET, "/api/v1/campaigns/templates".to_string(), None),
            (
                Method::POST,
                "/api/v1/campaigns/templates".to_string(),
                Some(body.clone()),
            ),
            (
                Method::PUT,
                format!("/api/v1/campaigns/templates/{}", kept.id),
                Some(body.clone()),
            ),
            (
                Method::DELETE,
                format!("/api/v1/campaigns/templates/{}", kept.id),
                None,
            ),
            (
                Method::POST,
                "/api/v1/campaigns/templates/preview".to_string(),
                Some(json!({"text": "{debt}"})),
            ),
            (
                Method::GET,
                "/api/v1/campaigns/3/export.xlsx".to_string(),
                None,
            ),
        ] {
            let (status, resp) = send(&t, method.clone(), &path, &who, body).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{login} {method} {path}: {resp}"
            );
        }
    }
    assert_eq!(t.templates.list().await.unwrap(), vec![kept]);
    assert!(template_audit(&t).await.is_empty());
}

#[tokio::test]
async fn the_preview_speaks_money_and_dates_and_names_unknown_variables() {
    let t = setup().await;
    let olga = log_in(&t.state, "olga").await;
    let (status, p) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns/templates/preview",
        &olga,
        Some(json!({
            "text": DEBT_TEXT,
            "question": "Нажмите 1.",
            "values": {"fio": "Петрова Анна", "debt_kopecks": 123450, "due_date": "2026-11-25"},
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let spoken = p["spoken"].as_str().unwrap();
    assert!(spoken.contains("Петрова Анна"), "{spoken}");
    assert!(
        spoken.contains("тысяча двести тридцать четыре рубля пятьдесят копеек"),
        "{spoken}"
    );
    assert!(spoken.contains("до двадцать пятого ноября"), "{spoken}");
    assert_eq!(p["variables"], json!(["fio", "debt", "due_date"]));
    assert!(p["question"].as_str().unwrap().contains("один"), "{p}");
    // Sample values fill what the request leaves out.
    let (status, p) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns/templates/preview",
        &olga,
        Some(json!({"text": "Долг {debt}."})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert!(p["spoken"].as_str().unwrap().contains("рубля"), "{p}");
    let (status, err) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns/templates/preview",
        &olga,
        Some(json!({"text": "Долг {summa}."})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().contains("{summa}"), "{err}");
}

#[tokio::test]
async fn a_campaign_from_a_template_gets_its_text() {
    let t = setup().await;
    let olga = log_in(&t.state, "olga").await;
    let tpl = t
        .templates
        .create(
            &zvonar_billing::TemplateInput {
                name: "Долг".into(),
                text: DEBT_TEXT.into(),
                question: Some("Нажмите 1.".into()),
            },
            "olga",
        )
        .await
        .unwrap();
    let (status, resp) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns",
        &olga,
        Some(json!({"name": "Должники", "template_id": tpl.id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{resp}");
    // An edited copy wins over the stored text; the question is still the template's.
    let (status, _) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns",
        &olga,
        Some(json!({"name": "Правка", "template_id": tpl.id, "template": "Свой текст {fio}."})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    {
        let created = t.campaigns.created.lock().unwrap();
        assert_eq!(created[0]["template"], DEBT_TEXT);
        assert_eq!(created[0]["question"], "Нажмите 1.");
        assert_eq!(created[0]["template_id"], tpl.id);
        assert_eq!(created[1]["template"], "Свой текст {fio}.");
    }
    // No such template: 400, the engine is not asked.
    let (status, err) = send(
        &t,
        Method::POST,
        "/api/v1/campaigns",
        &olga,
        Some(json!({"name": "x", "template_id": 999})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["error"].as_str().unwrap().contains("template_id"),
        "{err}"
    );
    assert_eq!(t.campaigns.created.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn the_xlsx_export_has_the_csv_rows_under_russian_headers() {
    use calamine::{Data, Reader, Xlsx};
    let t = setup().await;
    let olga = log_in(&t.state, "olga").await;
    let (status, bytes, _) = send_raw(
        &t,
        Method::GET,
        "/api/v1/campaigns/3/export.xlsx",
        Some(&olga),
        true,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range("Результаты").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Float(f) => format!("{f}"),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let headers: Vec<&str> = zvonar_web::RESULT_COLUMNS.iter().map(|c| c.1).collect();
    assert_eq!(rows[0], headers);
    assert_eq!(
        rows.len(),
        5,
        "one row per attempt and one for the recipient never dialled"
    );
    let doc = t.campaigns.progress(3).await.unwrap();
    let expected = zvonar_web::campaign_result_rows(&doc);
    for (got, want) in rows[1..].iter().zip(&expected) {
        assert_eq!(got.as_slice(), want.as_slice());
    }
    assert_eq!(
        rows[1],
        [
            "ls-1",
            "sip:1001@127.0.0.1:5070",
            "confirmed",
            "подтвердил",
            "1",
            "2026-11-30T10:00:00Z",
            "answered",
            "200",
            "да",
            "1",
            "2026/11/30/campaign-3-1.wav"
        ]
    );
    assert_eq!(rows[3][4], "2", "the second attempt");
    assert_eq!(rows[4][3], "пропущен: нет номера телефона");
    assert_eq!(rows[4][4], "", "never dialled: no attempt");
}
