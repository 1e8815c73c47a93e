//! API errors: the client sees a status and a short reason; internals go to the log once.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No or wrong bearer token, API key or session (401).
    #[error("missing or invalid token")]
    Unauthorized,
    /// Wrong login or password at login (401; never says which).
    #[error("неверный логин или пароль")]
    BadCredentials,
    /// Authenticated but not allowed (403): a missing permission, a missing CSRF token,
    /// a password change pending.
    #[error("{0}")]
    Forbidden(String),
    /// The login is temporarily locked after repeated failures (423, `Retry-After`).
    #[error("{message}")]
    Locked {
        /// For the user.
        message: String,
        /// Seconds until it unlocks.
        retry_after_s: u64,
    },
    /// Too many login attempts from this address (429, `Retry-After`).
    #[error("{message}")]
    TooManyRequests {
        /// For the user.
        message: String,
        /// Seconds until attempts are accepted again.
        retry_after_s: u64,
    },
    /// The request conflicts with the current state, e.g. a login taken (409).
    #[error("{0}")]
    Conflict(String),
    /// Nothing with that id (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// It existed and was deleted on purpose, e.g. a recording past its retention (410).
    #[error("{0}")]
    Gone(&'static str),
    /// The body is larger than allowed, e.g. a photo over the limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The body is not of a type accepted here, e.g. not a JPEG/PNG/WebP photo (415).
    #[error("{0}")]
    UnsupportedMedia(String),
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
            ApiError::Unauthorized | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Locked { .. } => StatusCode::LOCKED,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "API request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let retry_after = match &self {
            ApiError::Locked { retry_after_s, .. }
            | ApiError::TooManyRequests { retry_after_s, .. } => Some(*retry_after_s),
            _ => None,
        };
        let mut resp = (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        if let Some(s) = retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, s.into());
        }
        resp
    }
}
