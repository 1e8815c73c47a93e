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
    let body: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("тело запроса: {e}")))?;
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
