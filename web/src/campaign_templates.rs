//! Stored message templates of outbound campaigns (`zvonar_billing::MessageTemplates`), and
//! the preview of a message as the robot speaks it.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /api/v1/campaigns/templates` | every template: `templates` [{`id`, `name`, `text`, `question`, `created_by`, `created_at`, `updated_by`, `updated_at`}] |
//! | `POST /api/v1/campaigns/templates` | create `{"name","text","question"?}` → 201 with the template; 400 naming the field (an unknown `{variable}` by name), 409 when the name is taken |
//! | `PUT /api/v1/campaigns/templates/{id}` | replace name, text and question → 200; campaigns created from it keep their copy |
//! | `DELETE /api/v1/campaigns/templates/{id}` | delete → 204 |
//! | `POST /api/v1/campaigns/templates/preview` | `{"text","question"?,"values"?}` → `{"spoken","question","variables","values"}`: the text as the robot will speak it (money «тысяча двести тридцать четыре рубля пятьдесят копеек», dates «двадцать пятого ноября»); `values` (`fio`, `address`, `account`, `debt_kopecks`, `due_date`, `period`, dates `YYYY-MM-DD`) override the sample ones ([`sample_values`]); changes nothing |
//!
//! Every route needs `manage_campaigns`; changes need the session's CSRF token like every
//! unsafe method and are audited (`campaign_template_create`, `…_update`, `…_delete`, the
//! target `template:<id>`, details: the name).

use crate::auth::{internal, Caller};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use zvonar_access::Permission;
use zvonar_billing::{MessageTemplates, TemplateInput, TemplateStoreError};
use zvonar_outbound::template::{Template, Values};

/// The routes of this module (merged behind the authentication layer).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/campaigns/templates", get(list).post(create))
        .route(
            "/api/v1/campaigns/templates/{id}",
            put(update).delete(remove),
        )
        .route("/api/v1/campaigns/templates/preview", post(preview))
}

impl From<TemplateStoreError> for ApiError {
    fn from(e: TemplateStoreError) -> Self {
        match e {
            TemplateStoreError::Invalid(m) => ApiError::BadRequest(m),
            e @ TemplateStoreError::NameTaken(_) => ApiError::Conflict(e.to_string()),
            TemplateStoreError::NotFound => ApiError::NotFound("template"),
            e => internal(e),
        }
    }
}

pub(crate) fn store(s: &AppState) -> Result<&MessageTemplates, ApiError> {
    s.templates
        .as_deref()
        .ok_or(ApiError::NotFound("campaign templates"))
}

fn body<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(raw).map_err(|e| ApiError::BadRequest(format!("тело запроса: {e}")))
}

async fn list(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    Ok(Json(json!({ "templates": store(&s)?.list().await? })))
}

async fn create(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    raw: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    let input: TemplateInput = body(&raw)?;
    let t = store(&s)?.create(&input, &c.who.login).await?;
    crate::routes::audit(
        &s,
        c.audit("campaign_template_create")
            .target(format!("template:{}", t.id))
            .details(json!({ "name": t.name })),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

async fn update(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    raw: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    let input: TemplateInput = body(&raw)?;
    let t = store(&s)?.update(id, &input, &c.who.login).await?;
    crate::routes::audit(
        &s,
        c.audit("campaign_template_update")
            .target(format!("template:{id}"))
            .details(json!({ "name": t.name })),
    )
    .await?;
    Ok(Json(t))
}

async fn remove(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    let t = store(&s)?.delete(id).await?;
    crate::routes::audit(
        &s,
        c.audit("campaign_template_delete")
            .target(format!("template:{id}"))
            .details(json!({ "name": t.name })),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The sample recipient a preview speaks about when the request gives no value: Иванов Иван
/// Иванович, ул. Ленина, д. 5, кв. 12, account 1234567890, a debt of 1 234,50 ₽ due on 25
/// November of this year, for October.
pub fn sample_values() -> Values {
    use chrono::Datelike;
    let year = chrono::Utc::now().year();
    Values {
        fio: Some("Иванов Иван Иванович".into()),
        address: Some("ул. Ленина, д. 5, кв. 12".into()),
        account: Some("1234567890".into()),
        debt_kopecks: Some(123_450),
        due_date: chrono::NaiveDate::from_ymd_opt(year, 11, 25),
        period: chrono::NaiveDate::from_ymd_opt(year, 10, 1),
    }
}

#[derive(Deserialize)]
struct PreviewRequest {
    text: String,
    #[serde(default)]
    question: Option<String>,
    #[serde(default)]
    values: Values,
}

async fn preview(
    State(_s): State<AppState>,
    Extension(c): Extension<Caller>,
    raw: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    let req: PreviewRequest = body(&raw)?;
    let template =
        Template::parse(&req.text).map_err(|e| ApiError::BadRequest(format!("text: {e}")))?;
    let sample = sample_values();
    let v = req.values;
    let values = Values {
        fio: v.fio.or(sample.fio),
        address: v.address.or(sample.address),
        account: v.account.or(sample.account),
        debt_kopecks: v.debt_kopecks.or(sample.debt_kopecks),
        due_date: v.due_date.or(sample.due_date),
        period: v.period.or(sample.period),
    };
    let spoken = template
        .render(&values)
        .map_err(|e| ApiError::BadRequest(format!("values: {e}")))?;
    let question = req
        .question
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(zvonar_say::normalize);
    let variables: Vec<&str> = template.vars().into_iter().map(|v| v.name()).collect();
    Ok(Json(json!({
        "spoken": spoken,
        "question": question,
        "variables": variables,
        "values": values,
    })))
}

/// For `POST /api/v1/campaigns`: a request naming `template_id` gets the stored template's
/// text as `template` (and its question as `question`) unless it gives its own (an edited
/// copy); the id stays in the request, so the campaign records where its text came from.
///
/// Errors: 400 for a `template_id` that is not a number or names no template.
pub(crate) async fn resolve(s: &AppState, body: &mut Value) -> Result<(), ApiError> {
    let id = match body.get("template_id") {
        None | Some(Value::Null) => return Ok(()),
        Some(raw) => raw
            .as_i64()
            .ok_or_else(|| ApiError::BadRequest("template_id: ожидается номер шаблона".into()))?,
    };
    let t = match store(s)?.get(id).await {
        Err(TemplateStoreError::NotFound) => {
            return Err(ApiError::BadRequest(format!(
                "template_id: шаблона {id} нет"
            )))
        }
        r => r?,
    };
    let given = |body: &Value, k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    };
    if !given(body, "template") {
        body["template"] = Value::String(t.text);
    }
    if !given(body, "question") {
        if let Some(q) = t.question {
            body["question"] = Value::String(q);
        }
    }
    Ok(())
}
