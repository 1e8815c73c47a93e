//! API errors: the client sees a status and a short reason; internals go to the log once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No or wrong bearer token (401).
    #[error("missing or invalid token")]
    Unauthorized,
    /// Nothing with that id (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// It existed and was deleted on purpose, e.g. a recording past its retention (410).
    #[error("{0}")]
    Gone(&'static str),
    /// A malformed parameter (400).
    #[error("{0}")]
    BadRequest(String),
    /// Our fault (500): the detail is logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "API request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}
