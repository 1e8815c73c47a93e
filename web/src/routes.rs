//! Routes and state; authentication and accounts are in `auth`.

use crate::auth::{self, internal, Caller};
use crate::tickets;
use crate::ApiError;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::ServeDir;
use zvonar_access::{Access, Permission};
use zvonar_dispatch::{DispatchStore, TicketChange, TicketRef, TicketWorkflow, CLOSED_STATUSES};
use zvonar_models::{CallId, TicketId};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Arc<dyn DispatchStore>,
    pub(crate) token: Arc<str>,
    pub(crate) recordings: PathBuf,
    metrics: Arc<prometheus_client::registry::Registry>,
    health: Arc<Vec<Arc<dyn crate::HealthCheck>>>,
    pub(crate) access: Option<Arc<Access>>,
    pub(crate) secure_cookies: bool,
    console: Option<PathBuf>,
    pub(crate) workflow: Option<Arc<dyn TicketWorkflow>>,
    pub(crate) ticket_settings: Option<Arc<crate::TicketSettings>>,
    pub(crate) queues: Option<Arc<dyn crate::QueueControl>>,
    pub(crate) campaigns: Option<Arc<dyn crate::CampaignControl>>,
    pub(crate) templates: Option<Arc<zvonar_billing::MessageTemplates>>,
    pub(crate) ratings: Option<Arc<zvonar_dispatch::rating::Ratings>>,
    pub(crate) duty: Option<Arc<crate::Duty>>,
    pub(crate) ops: Option<Arc<crate::Operations>>,
    /// The monitor's WebSocket: longest time between pushes, and between session checks.
    pub(crate) monitor_timing: (std::time::Duration, std::time::Duration),
}

impl AppState {
    /// The company's time zone (`[company] time_zone`), as the ticket and operations
    /// modules were given it; `None` when neither is served.
    pub(crate) fn company_zone(&self) -> Option<chrono_tz::Tz> {
        self.ops
            .as_ref()
            .map(|o| o.time_zone)
            .or_else(|| self.ticket_settings.as_ref().map(|t| t.time_zone))
    }

    /// `token` is the config's `[http] token`: the API key of the built-in service account
    /// (every permission); `recordings` the root recording paths in CDRs are relative to;
    /// `metrics` what `/metrics` renders. Without [`AppState::with_access`] only that
    /// token is accepted and the login routes answer 404.
    pub fn new(
        store: Arc<dyn DispatchStore>,
        token: String,
        recordings: PathBuf,
        metrics: Arc<prometheus_client::registry::Registry>,
    ) -> Self {
        AppState {
            store,
            token: token.into(),
            recordings,
            metrics,
            health: Arc::default(),
            access: None,
            secure_cookies: true,
            console: None,
            workflow: None,
            ticket_settings: None,
            queues: None,
            campaigns: None,
            templates: None,
            ratings: None,
            duty: None,
            ops: None,
            monitor_timing: (crate::PUSH_EVERY, crate::RECHECK_EVERY),
        }
    }

    /// The console's ticket workflow: topic tree and SLA, departments, assignment,
    /// comments, photos, the journal's count and export (see `crate::tickets`). Without
    /// it those routes answer 404 and tickets are filed without an author.
    pub fn with_ticket_workflow(
        mut self,
        workflow: Arc<dyn TicketWorkflow>,
        settings: crate::TicketSettings,
    ) -> Self {
        self.workflow = Some(workflow);
        self.ticket_settings = Some(Arc::new(settings));
        self
    }

    /// Serves the operators' console from `dir` (its `index.html`, `js/`, `css/`,
    /// `pages/`) at `/console/`; `/` redirects there. `None`: no console, only the API.
    pub fn with_console(mut self, dir: Option<PathBuf>) -> Self {
        self.console = dir;
        self
    }

    /// The components `/health` checks (see [`crate::HealthCheck`]); without any it
    /// reports only that the HTTP server answers.
    pub fn with_health(mut self, checks: Vec<Arc<dyn crate::HealthCheck>>) -> Self {
        self.health = Arc::new(checks);
        self
    }

    /// The operators' floor API (missed calls, outages, the caller's card; see
    /// [`crate::Operations`]); without it those routes answer 404.
    pub fn with_operations(mut self, ops: crate::Operations) -> Self {
        self.ops = Some(Arc::new(ops));
        self
    }

    /// User accounts: password login with session cookies, per-user API keys, roles and
    /// permissions, the audit log. `secure_cookies`: mark the session cookie `Secure`
    /// (HTTPS only); `false` only for a loopback (development) listener.
    pub fn with_access(mut self, access: Arc<Access>, secure_cookies: bool) -> Self {
        self.access = Some(access);
        self.secure_cookies = secure_cookies;
        self
    }
}

impl AppState {
    /// The monitor's WebSocket timing: a snapshot at least every `push_every` (default
    /// [`crate::PUSH_EVERY`]), the session checked again every `recheck_every` (default
    /// [`crate::RECHECK_EVERY`]).
    pub fn with_monitor_timing(
        mut self,
        push_every: std::time::Duration,
        recheck_every: std::time::Duration,
    ) -> Self {
        self.monitor_timing = (push_every, recheck_every);
        self
    }

    /// The operator queues (ACD) of the engine: `/api/v1/queue…` answer 404 without them.
    pub fn with_queues(mut self, queues: Arc<dyn crate::QueueControl>) -> Self {
        self.queues = Some(queues);
        self
    }

    /// Ratings of completed tickets (`POST /api/v1/tickets/{id}/rating`,
    /// `GET /api/v1/ratings/report`, the rating on the ticket card); those routes answer 404
    /// without them.
    pub fn with_ratings(mut self, ratings: Arc<zvonar_dispatch::rating::Ratings>) -> Self {
        self.ratings = Some(ratings);
        self
    }

    /// Duty rosters and emergency escalations (`crate::duty`): `/api/v1/duty…` and the
    /// escalation routes answer 404 without them.
    pub fn with_duty(mut self, duty: crate::Duty) -> Self {
        self.duty = Some(Arc::new(duty));
        self
    }

    /// The engine's outbound campaigns: `/api/v1/campaigns…` answer 404 without them.
    pub fn with_campaigns(mut self, campaigns: Arc<dyn crate::CampaignControl>) -> Self {
        self.campaigns = Some(campaigns);
        self
    }

    /// Stored message templates of campaigns (`/api/v1/campaigns/templates…`, module
    /// `campaign_templates`; a campaign created with `template_id` copies one); those routes
    /// answer 404 without them.
    pub fn with_campaign_templates(
        mut self,
        templates: Arc<zvonar_billing::MessageTemplates>,
    ) -> Self {
        self.templates = Some(templates);
        self
    }
}

/// The router (`app(state)` so tests can call it with `oneshot`, no server needed). For
/// the client's IP (audit log, login rate limit) serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`, as [`crate::serve`] does.
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .route("/api/v1/tickets", get(tickets::list).post(tickets::create))
        .route("/api/v1/tickets/export", get(tickets::export))
        .route("/api/v1/ticket-meta", get(tickets::meta))
        .route("/api/v1/tickets/{id}", get(tickets::card))
        .route("/api/v1/tickets/{id}/complete", post(tickets::complete))
        .route("/api/v1/tickets/{id}/assign", post(tickets::assign))
        .route("/api/v1/tickets/{id}/status", post(tickets::status))
        .route("/api/v1/tickets/{id}/comments", post(tickets::comment))
        .route(
            "/api/v1/tickets/{id}/photos",
            post(tickets::upload_photo).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/tickets/{id}/photos/{photo_id}",
            get(tickets::photo),
        )
        .route("/api/v1/tickets/{id}/close", post(close_ticket))
        .route("/api/v1/tickets/{id}/topic", put(change_topic))
        .route("/api/v1/calls", get(list_calls))
        .route("/api/v1/calls/{call_id}", get(call))
        .route("/api/v1/calls/{call_id}/recording", get(recording))
        .route("/api/v1/callbacks", get(list_callbacks))
        .route("/api/v1/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/me/password", post(auth::change_password))
        .route(
            "/api/v1/users",
            get(auth::list_users).post(auth::create_user),
        )
        .route("/api/v1/users/{id}", patch(auth::update_user))
        .route("/api/v1/users/{id}/password", post(auth::reset_password))
        .route("/api/v1/roles", get(auth::list_roles))
        .route("/api/v1/roles/{role}", put(auth::set_role))
        .route("/api/v1/keys", get(auth::list_keys).post(auth::create_key))
        .route("/api/v1/keys/{id}", delete(auth::revoke_key))
        .route("/api/v1/audit", get(auth::audit_log))
        .route("/api/v1/queue", get(crate::queue::state))
        .route("/api/v1/queue/calls/{call_id}", get(crate::queue::call))
        .route("/api/v1/queue/agent", get(crate::queue::me))
        .route("/api/v1/queue/agent/login", post(crate::queue::login))
        .route("/api/v1/queue/agent/logout", post(crate::queue::logout))
        .route(
            "/api/v1/queue/agent/softphone",
            post(crate::queue::softphone),
        )
        .route("/api/v1/queue/agent/pause", post(crate::queue::pause))
        .route("/api/v1/queue/agent/resume", post(crate::queue::resume))
        .route("/api/v1/monitor", get(crate::monitor::get))
        .route("/api/v1/monitor/ws", get(crate::monitor::ws))
        .route(
            "/api/v1/campaigns",
            get(crate::campaign_control::list).post(crate::campaign_control::create),
        )
        .route(
            "/api/v1/campaigns/{id}",
            get(crate::campaign_control::progress),
        )
        .route(
            "/api/v1/campaigns/{id}/export.csv",
            get(crate::campaign_control::export),
        )
        .route(
            "/api/v1/campaigns/{id}/export.xlsx",
            get(crate::campaign_control::export_xlsx),
        )
        .route(
            "/api/v1/campaigns/{id}/recording",
            get(crate::campaign_control::recording),
        )
        .route(
            "/api/v1/campaigns/{id}/start",
            post(crate::campaign_control::start),
        )
        .route(
            "/api/v1/campaigns/{id}/pause",
            post(crate::campaign_control::pause),
        )
        .route(
            "/api/v1/campaigns/{id}/resume",
            post(crate::campaign_control::resume),
        )
        .route(
            "/api/v1/campaigns/{id}/cancel",
            post(crate::campaign_control::cancel),
        )
        .route("/metrics", get(metrics))
        .merge(crate::ops::routes())
        .merge(crate::campaigns::routes())
        .merge(crate::campaign_templates::routes())
        .merge(crate::ratings::routes())
        .merge(crate::duty::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    let mut router = Router::new();
    if let Some(dir) = &state.console {
        router = router
            .route("/", get(|| async { Redirect::to("/console/") }))
            .route("/console", get(|| async { Redirect::to("/console/") }))
            .nest_service(
                "/console/",
                ServeDir::new(dir).append_index_html_on_directories(true),
            )
            .layer(middleware::map_response(console_headers));
    }
    router
        .route(
            "/health",
            get(|State(s): State<AppState>| async move { crate::health::report(&s.health).await }),
        )
        .route("/api/v1/login", post(auth::login))
        .merge(protected)
        .with_state(state)
}

/// Headers of every response: browsers must not guess content types or frame the
/// console (clickjacking), and must revalidate console files so an upgrade shows at once.
async fn console_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
    resp
}

/// `?limit=&offset=`; limit 1..=500, default 50.
#[derive(Debug, Deserialize)]
pub struct Page {
    limit: Option<u32>,
    offset: Option<u32>,
}

impl Page {
    pub(crate) fn new(limit: Option<u32>, offset: Option<u32>) -> Self {
        Page { limit, offset }
    }

    pub(crate) fn get(&self) -> Result<(u32, u32), ApiError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::BadRequest("limit must be 1..500".into()));
        }
        Ok((limit, self.offset.unwrap_or(0)))
    }
}

/// One ticket; 404 also when it is outside the caller's visibility (not 403: that would
/// tell them it exists).
pub(crate) async fn visible_ticket(
    s: &AppState,
    c: &Caller,
    id: i64,
) -> Result<zvonar_dispatch::TicketDetails, ApiError> {
    s.store
        .ticket(&TicketRef::Id(TicketId(id)))
        .await
        .map_err(internal)?
        .filter(|t| auth::sees(c, &t.ticket.topic, t.ticket.building_id.map(|b| b.0)))
        .ok_or(ApiError::NotFound("ticket"))
}

pub(crate) async fn audit(s: &AppState, rec: zvonar_access::AuditRecord) -> Result<(), ApiError> {
    match &s.access {
        Some(a) => a.audit(&rec).await.map_err(internal),
        // Without accounts only the service token exists; its actions go to the log.
        None => {
            tracing::info!(actor = %rec.actor, action = %rec.action, target = ?rec.target, "audit");
            Ok(())
        }
    }
}

async fn set_status(
    s: &AppState,
    c: &Caller,
    id: i64,
    status: &str,
    action: &str,
) -> Result<Json<zvonar_dispatch::Ticket>, ApiError> {
    let before = visible_ticket(s, c, id).await?.ticket;
    if CLOSED_STATUSES.contains(&before.status.as_str()) {
        return Err(ApiError::Conflict(format!(
            "заявка {} уже закрыта",
            before.number
        )));
    }
    let t = s
        .store
        .update_ticket(TicketId(id), &TicketChange::status(status))
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound("ticket"))?;
    audit(
        s,
        c.audit(action)
            .target(format!("ticket:{}", t.number))
            .details(serde_json::json!({"status_before": before.status, "status": t.status})),
    )
    .await?;
    Ok(Json(t))
}

/// `POST /api/v1/tickets/{id}/close` (close_tickets): status `closed`; 409 if closed.
async fn close_ticket(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::CloseTickets)?;
    set_status(&s, &c, id, "closed", "ticket_closed").await
}

/// `PUT /api/v1/tickets/{id}/topic` body.
#[derive(Debug, Deserialize)]
pub struct TopicBody {
    topic: String,
}

/// `PUT /api/v1/tickets/{id}/topic {"topic"}` (change_ticket_topic).
async fn change_topic(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<TopicBody>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ChangeTicketTopic)?;
    let topic = b.topic.trim();
    if topic.is_empty() {
        return Err(ApiError::BadRequest("topic is required".into()));
    }
    let before = visible_ticket(&s, &c, id).await?.ticket;
    let t = s
        .store
        .update_ticket(TicketId(id), &TicketChange::topic(topic))
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound("ticket"))?;
    audit(
        &s,
        c.audit("ticket_topic_changed")
            .target(format!("ticket:{}", t.number))
            .details(serde_json::json!({"topic_before": before.topic, "topic": t.topic})),
    )
    .await?;
    Ok(Json(t))
}

/// Call records (listen_recordings: their timelines hold what was said).
async fn list_calls(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(p): Query<Page>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ListenRecordings)?;
    let (limit, offset) = p.get()?;
    let list = s.store.list_calls(limit, offset).await.map_err(internal)?;
    Ok(Json(list))
}

async fn call(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(call_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ListenRecordings)?;
    let mut found = s
        .store
        .call(&CallId(call_id))
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound("call"))?;
    // The call's tickets, like the ticket list, only within the caller's visibility.
    found
        .tickets
        .retain(|t| auth::sees(&c, &t.topic, t.building_id.map(|b| b.0)));
    Ok(Json(found))
}

/// Callback requests (take_calls).
async fn list_callbacks(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(p): Query<Page>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::TakeCalls)?;
    let (limit, offset) = p.get()?;
    let list = s
        .store
        .list_callbacks(limit, offset)
        .await
        .map_err(internal)?;
    Ok(Json(list))
}

/// Serves the call's WAV with range support (tower-http's `ServeFile`), so a browser's
/// audio element can seek. 404 when the call has no recording (missed calls); 410 Gone
/// when the retention sweep deleted it (`recording_deleted_at` in the CDR). Playing needs
/// listen_recordings; `?download=true` (a file to keep, `Content-Disposition: attachment`)
/// needs download_recordings.
async fn recording(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(call_id): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    req: Request,
) -> Result<Response, ApiError> {
    caller.need(Permission::ListenRecordings)?;
    let download = q.get("download").is_some_and(|v| v == "true" || v == "1");
    if download {
        caller.need(Permission::DownloadRecordings)?;
    }
    let c = s
        .store
        .call(&CallId(call_id))
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound("call"))?;
    if c.cdr.recording_deleted_at.is_some() {
        return Err(ApiError::Gone(
            "recording expired: deleted after the retention period",
        ));
    }
    let rel = c.cdr.recording.ok_or(ApiError::NotFound("recording"))?;
    // Recording paths are written by the engine as `YYYY/MM/DD/<uuid>.wav`; refuse anything
    // that could leave the recordings directory.
    if rel.split('/').any(|p| p == ".." || p.is_empty()) || rel.starts_with('/') {
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
    let mut resp = resp.into_response();
    if download {
        let name = format!(
            "attachment; filename=\"{}.wav\"",
            c.cdr.call_id.0.replace(['"', '\\'], "_")
        );
        resp.headers_mut()
            .insert(header::CONTENT_DISPOSITION, name.parse().map_err(internal)?);
        audit(
            &s,
            caller
                .audit("recording_downloaded")
                .target(format!("call:{}", c.cdr.call_id.0)),
        )
        .await?;
    }
    Ok(resp)
}

/// Prometheus metrics (view_monitor).
async fn metrics(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<Response, ApiError> {
    c.need(Permission::ViewMonitor)?;
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &s.metrics).map_err(internal)?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use crate::auth::token_matches;

    #[test]
    fn token_comparison() {
        assert!(token_matches(b"secret-token", b"secret-token"));
        assert!(!token_matches(b"secret-tokem", b"secret-token"));
        assert!(!token_matches(b"", b"secret-token"));
    }
}
