//! Outbound campaigns (автообзвон) over HTTP: create, start, pause, resume, cancel, progress
//! and the CSV of results. The engine runs the campaigns and implements [`CampaignControl`];
//! web never imports it. Every route needs `manage_campaigns`; every change goes to the
//! audit log (`campaign_create`, `campaign_start`, …).

use crate::auth::{internal, Caller};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use zvonar_access::Permission;

/// What an admin asks of a campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CampaignCommand {
    /// Start a created campaign (draft → running).
    Start,
    /// No new calls; calls in progress finish.
    Pause,
    /// Dial again after a pause.
    Resume,
    /// Stop for good: recipients not yet called are skipped («кампания отменена»).
    Cancel,
}

impl CampaignCommand {
    /// The audit log's action name.
    pub fn audit_name(self) -> &'static str {
        match self {
            CampaignCommand::Start => "campaign_start",
            CampaignCommand::Pause => "campaign_pause",
            CampaignCommand::Resume => "campaign_resume",
            CampaignCommand::Cancel => "campaign_cancel",
        }
    }
}

/// Why a campaign request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CampaignError {
    /// No such campaign (404).
    #[error("not found")]
    NotFound,
    /// Not possible in the campaign's state, e.g. resuming a cancelled one (409); the text is
    /// for the user, in Russian.
    #[error("{0}")]
    Conflict(String),
    /// Bad input (400), in Russian, naming the field.
    #[error("{0}")]
    BadRequest(String),
    /// Our fault (500): logged, not sent.
    #[error("{0}")]
    Internal(String),
}

impl From<CampaignError> for ApiError {
    fn from(e: CampaignError) -> Self {
        match e {
            CampaignError::NotFound => ApiError::NotFound("campaign"),
            CampaignError::Conflict(m) => ApiError::Conflict(m),
            CampaignError::BadRequest(m) => ApiError::BadRequest(m),
            CampaignError::Internal(m) => internal(m),
        }
    }
}

/// The engine's campaign runner as the API sees it. Bodies are JSON documents whose shapes
/// are in the table of [`crate`].
#[async_trait::async_trait]
pub trait CampaignControl: Send + Sync + 'static {
    /// Creates a campaign (not started) from the request body; returns its progress document
    /// (with `id`). `by`: the creator's login.
    async fn create(
        &self,
        body: serde_json::Value,
        by: &str,
    ) -> Result<serde_json::Value, CampaignError>;
    /// Every campaign: id, name, state, totals.
    async fn list(&self) -> Result<serde_json::Value, CampaignError>;
    /// One campaign's progress: state, totals, recipients with status and attempts.
    async fn progress(&self, id: i64) -> Result<serde_json::Value, CampaignError>;
    /// Start, pause, resume or cancel; the progress after it.
    async fn command(
        &self,
        id: i64,
        cmd: CampaignCommand,
    ) -> Result<serde_json::Value, CampaignError>;
    /// The results as CSV (UTF-8, `;`-separated, a header row), one row per attempt and one
    /// per recipient never dialled.
    async fn export_csv(&self, id: i64) -> Result<String, CampaignError>;
}

fn control(s: &AppState) -> Result<&dyn CampaignControl, ApiError> {
    s.campaigns
        .as_deref()
        .ok_or(ApiError::NotFound("campaigns"))
}

/// `POST /api/v1/campaigns`.
pub(crate) async fn create(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    let mut body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("тело запроса: {e}")))?;
    crate::campaign_templates::resolve(&s, &mut body).await?;
    let view = control(&s)?.create(body, &c.who.login).await?;
    let id = view.get("id").and_then(|v| v.as_i64()).unwrap_or_default();
    crate::routes::audit(
        &s,
        c.audit("campaign_create").target(id.to_string()).details(
            serde_json::json!({ "name": view.get("name"), "recipients": view.pointer("/totals/recipients") }),
        ),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /api/v1/campaigns`.
pub(crate) async fn list(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    Ok(Json(control(&s)?.list().await?))
}

/// `GET /api/v1/campaigns/{id}`.
pub(crate) async fn progress(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    Ok(Json(control(&s)?.progress(id).await?))
}

/// `GET /api/v1/campaigns/{id}/export.csv`.
pub(crate) async fn export(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    let csv = control(&s)?.export_csv(id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"campaign-{id}.csv\""),
            ),
        ],
        csv,
    ))
}

/// The columns of a campaign's results, in order: (the CSV header's name, the XLSX header
/// in Russian). One row per attempt, and one per recipient never dialled (attempt columns
/// empty); see [`campaign_result_rows`].
pub const RESULT_COLUMNS: [(&str, &str); 11] = [
    ("recipient", "Получатель"),
    ("phone", "Телефон"),
    ("status", "Код статуса"),
    ("status_ru", "Статус"),
    ("attempt", "Попытка"),
    ("started_at", "Начало звонка (UTC)"),
    ("outcome", "Исход попытки"),
    ("sip_code", "Код SIP"),
    ("listened", "Дослушал"),
    ("digit", "Клавиша"),
    ("recording", "Запись"),
];

/// The rows of [`RESULT_COLUMNS`] from a campaign's progress document
/// ([`CampaignControl::progress`]: `recipients` [{`id`, `phone`, `status`, `status_ru`,
/// `attempts` [{`started_at`, `outcome`, `sip_code`, `listened`, `digit`, `recording`}]}]):
/// text as it is (no CSV quoting), `listened` as «да»/«нет», attempts numbered from 1.
pub fn campaign_result_rows(doc: &serde_json::Value) -> Vec<[String; 11]> {
    use serde_json::Value;
    let s = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = Vec::new();
    for r in doc["recipients"].as_array().into_iter().flatten() {
        let head = [
            s(&r["id"]),
            s(&r["phone"]),
            s(&r["status"]),
            s(&r["status_ru"]),
        ];
        let attempts = r["attempts"].as_array().cloned().unwrap_or_default();
        let row = |rest: [String; 7]| -> [String; 11] {
            let [a, b, c, d] = head.clone();
            let [e, f, g, h, i, j, k] = rest;
            [a, b, c, d, e, f, g, h, i, j, k]
        };
        if attempts.is_empty() {
            out.push(row(Default::default()));
        }
        for (n, a) in attempts.iter().enumerate() {
            out.push(row([
                (n + 1).to_string(),
                s(&a["started_at"]),
                s(&a["outcome"]),
                s(&a["sip_code"]),
                if a["listened"].as_bool() == Some(true) {
                    "да"
                } else {
                    "нет"
                }
                .to_string(),
                s(&a["digit"]),
                s(&a["recording"]),
            ]));
        }
    }
    out
}

fn xlsx_bytes(rows: &[[String; 11]]) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Результаты").map_err(internal)?;
    let bold = Format::new().set_bold();
    for (col, (_, name)) in RESULT_COLUMNS.iter().enumerate() {
        let col = u16::try_from(col).map_err(internal)?;
        ws.write_string_with_format(0, col, *name, &bold)
            .map_err(internal)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = u32::try_from(i + 1).map_err(internal)?;
        for (col, v) in r.iter().enumerate() {
            let numeric = matches!(RESULT_COLUMNS[col].0, "attempt" | "sip_code");
            let col = u16::try_from(col).map_err(internal)?;
            match v.parse::<u32>() {
                Ok(n) if numeric => ws.write_number(row, col, f64::from(n)),
                _ => ws.write_string(row, col, v),
            }
            .map_err(internal)?;
        }
    }
    ws.set_freeze_panes(1, 0).map_err(internal)?;
    ws.autofit();
    wb.save_to_buffer().map_err(internal)
}

/// `GET /api/v1/campaigns/{id}/export.xlsx`: the rows of the CSV export, Russian headers.
pub(crate) async fn export_xlsx(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    let doc = control(&s)?.progress(id).await?;
    let bytes = xlsx_bytes(&campaign_result_rows(&doc))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"campaign-{id}.xlsx\""),
            ),
        ],
        bytes,
    ))
}

/// `GET /api/v1/campaigns/{id}/recording?path=YYYY/MM/DD/<call id>.wav`: the WAV of one of
/// the campaign's answered calls (a `recording` of its progress document; any other path is
/// 404); needs `manage_campaigns` and `listen_recordings`; HTTP range requests for seeking.
pub(crate) async fn recording(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    req: axum::extract::Request,
) -> Result<axum::response::Response, ApiError> {
    use tower::ServiceExt;
    c.need(Permission::ManageCampaigns)?;
    c.need(Permission::ListenRecordings)?;
    let rel = q.get("path").ok_or(ApiError::NotFound("recording"))?;
    let doc = control(&s)?.progress(id).await?;
    let known = doc["recipients"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["attempts"].as_array().into_iter().flatten())
        .any(|a| a["recording"].as_str() == Some(rel.as_str()));
    if !known || rel.split('/').any(|p| p == ".." || p.is_empty()) || rel.starts_with('/') {
        return Err(ApiError::NotFound("recording"));
    }
    let path = s.recordings.join(rel);
    if !path.is_file() {
        return Err(ApiError::NotFound("recording"));
    }
    let resp = tower_http::services::ServeFile::new_with_mime(
        &path,
        &"audio/wav".parse().map_err(internal)?,
    )
    .oneshot(req)
    .await
    .map_err(internal)?;
    Ok(resp.into_response())
}

async fn act(
    s: &AppState,
    c: &Caller,
    id: i64,
    cmd: CampaignCommand,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    let view = control(s)?.command(id, cmd).await?;
    crate::routes::audit(s, c.audit(cmd.audit_name()).target(id.to_string())).await?;
    Ok(Json(view))
}

/// `POST /api/v1/campaigns/{id}/start`.
pub(crate) async fn start(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    act(&s, &c, id, CampaignCommand::Start).await
}

/// `POST /api/v1/campaigns/{id}/pause`.
pub(crate) async fn pause(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    act(&s, &c, id, CampaignCommand::Pause).await
}

/// `POST /api/v1/campaigns/{id}/resume`.
pub(crate) async fn resume(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    act(&s, &c, id, CampaignCommand::Resume).await
}

/// `POST /api/v1/campaigns/{id}/cancel`.
pub(crate) async fn cancel(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    act(&s, &c, id, CampaignCommand::Cancel).await
}
