//! zvonar web: the HTTP API (axum).
//!
//! | method and path | what |
//! |---|---|
//! | `GET /health` | ASR, TTS, database and disk each checked for real: 200, or 503 naming the component that is down; no token |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /api/v1/tickets?emergency=&limit=&offset=` | tickets: open emergencies first, then newest first; `emergency=true` only emergencies, `false` only the others |
//! | `GET /api/v1/tickets/{id}` | one ticket with its call's timeline (what was said and heard) |
//! | `GET /api/v1/calls?limit=&offset=` | CDRs, newest first |
//! | `GET /api/v1/calls/{call_id}` | one CDR with its timeline |
//! | `GET /api/v1/calls/{call_id}/recording` | the WAV; HTTP range requests (RFC 9110 §14) for seeking; 410 once deleted by retention |
//! | `GET /api/v1/callbacks` | callback requests |
//!
//! Until user accounts exist the API listens on localhost only and every `/api` and
//! `/metrics` request must carry `Authorization: Bearer <token>` from the config.
//! Errors are JSON `{"error": "..."}`; internal causes are logged once, never sent.

mod error;
mod health;
mod routes;

pub use error::ApiError;
pub use health::{CheckResult, HealthCheck, CHECK_TIMEOUT};
pub use routes::{app, AppState};

/// Serves the API on `listener` until the task is dropped.
///
/// Errors: the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, app(state)).await
}
