//! Routes, state and the token check.

use crate::ApiError;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use tower::ServiceExt;
use zvonar_dispatch::{DispatchStore, TicketFilter, TicketRef};
use zvonar_models::{CallId, TicketId};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn DispatchStore>,
    token: Arc<str>,
    recordings: PathBuf,
    metrics: Arc<prometheus_client::registry::Registry>,
    health: Arc<Vec<Arc<dyn crate::HealthCheck>>>,
}

impl AppState {
    /// `token` is the bearer token clients must send; `recordings` the root recording
    /// paths in CDRs are relative to; `metrics` what `/metrics` renders.
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
        }
    }

    /// The components `/health` checks (see [`crate::HealthCheck`]); without any it
    /// reports only that the HTTP server answers.
    pub fn with_health(mut self, checks: Vec<Arc<dyn crate::HealthCheck>>) -> Self {
        self.health = Arc::new(checks);
        self
    }
}

/// The router (`app(state)` so tests can call it with `oneshot`, no server needed).
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .route("/api/v1/tickets", get(list_tickets))
        .route("/api/v1/tickets/{id}", get(ticket))
        .route("/api/v1/calls", get(list_calls))
        .route("/api/v1/calls/{call_id}", get(call))
        .route("/api/v1/calls/{call_id}/recording", get(recording))
        .route("/api/v1/callbacks", get(list_callbacks))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route(
            "/health",
            get(|State(s): State<AppState>| async move { crate::health::report(&s.health).await }),
        )
        .merge(protected)
        .with_state(state)
}

/// Compares in constant time (`subtle`) so the token cannot be guessed byte by byte from
/// response timing; only the length may leak.
fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(given.ct_eq(expected))
}

async fn require_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !token_matches(given.as_bytes(), state.token.as_bytes()) {
        return Err(ApiError::Unauthorized);
    }
    Ok(next.run(req).await)
}

/// `?limit=&offset=`; limit 1..=500, default 50.
#[derive(Debug, Deserialize)]
pub struct Page {
    limit: Option<u32>,
    offset: Option<u32>,
}

impl Page {
    fn get(&self) -> Result<(u32, u32), ApiError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::BadRequest("limit must be 1..500".into()));
        }
        Ok((limit, self.offset.unwrap_or(0)))
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// `GET /api/v1/tickets?emergency=&limit=&offset=`: `emergency=true` only emergency tickets,
/// `false` only the others; open emergencies are always listed first.
#[derive(Debug, Deserialize)]
pub struct TicketQuery {
    emergency: Option<bool>,
    // Not `#[serde(flatten)] Page`: flattened fields reach serde_urlencoded as strings.
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_tickets(
    State(s): State<AppState>,
    Query(q): Query<TicketQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = Page {
        limit: q.limit,
        offset: q.offset,
    };
    let (limit, offset) = page.get()?;
    let filter = match q.emergency {
        Some(e) => TicketFilter::emergency(e),
        None => TicketFilter::default(),
    };
    let list = s
        .store
        .list_tickets(&filter, limit, offset)
        .await
        .map_err(internal)?;
    Ok(Json(list))
}

async fn ticket(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let t = s
        .store
        .ticket(&TicketRef::Id(TicketId(id)))
        .await
        .map_err(internal)?;
    t.map(Json).ok_or(ApiError::NotFound("ticket"))
}

async fn list_calls(
    State(s): State<AppState>,
    Query(p): Query<Page>,
) -> Result<impl IntoResponse, ApiError> {
    let (limit, offset) = p.get()?;
    let list = s.store.list_calls(limit, offset).await.map_err(internal)?;
    Ok(Json(list))
}

async fn call(
    State(s): State<AppState>,
    Path(call_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let c = s.store.call(&CallId(call_id)).await.map_err(internal)?;
    c.map(Json).ok_or(ApiError::NotFound("call"))
}

async fn list_callbacks(
    State(s): State<AppState>,
    Query(p): Query<Page>,
) -> Result<impl IntoResponse, ApiError> {
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
/// when the retention sweep deleted it (`recording_deleted_at` in the CDR).
async fn recording(
    State(s): State<AppState>,
    Path(call_id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
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
    Ok(resp.into_response())
}

async fn metrics(State(s): State<AppState>) -> Result<Response, ApiError> {
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
    use super::token_matches;

    #[test]
    fn token_comparison() {
        assert!(token_matches(b"secret-token", b"secret-token"));
        assert!(!token_matches(b"secret-tokem", b"secret-token"));
        assert!(!token_matches(b"", b"secret-token"));
    }
}
