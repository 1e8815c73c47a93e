//! The operator queues (ACD) over HTTP: the queue state for the console and monitor, the
//! robot's context of a queued call for the operator's card, and the agent's own login,
//! logout, pause and resume. The engine implements [`QueueControl`]; web never imports it.

use crate::auth::{internal, Caller};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Deserialize;
use zvonar_access::Permission;

/// What an agent asks of the queues (always for themselves: the authenticated user).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentAction {
    /// Log in to take calls: the agent's endpoint is the phone registered with their SIP
    /// account (`zvonar sip-account add NAME --user LOGIN`); `skills` are topic codes or queue
    /// skills (the `skills` strategy and `[[queue]] skills`).
    Login {
        /// Skills, lowercase codes.
        skills: Vec<String>,
    },
    /// Log out (after the call in progress, if any).
    Logout,
    /// Pause with a reason («обед»).
    Pause {
        /// Why, 1–100 characters.
        reason: String,
    },
    /// Ready again after a pause.
    Resume,
    /// Only read the state.
    Status,
}

impl AgentAction {
    /// The audit log's action name (`queue_login`, …); `None` for [`AgentAction::Status`].
    pub fn audit_name(&self) -> Option<&'static str> {
        match self {
            AgentAction::Login { .. } => Some("queue_login"),
            AgentAction::Logout => Some("queue_logout"),
            AgentAction::Pause { .. } => Some("queue_pause"),
            AgentAction::Resume => Some("queue_resume"),
            AgentAction::Status => None,
        }
    }
}

/// Why a queue request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// No such call in the queues (404).
    #[error("not found")]
    NotFound,
    /// Not possible in the agent's state, e.g. a pause while logged out, or no registered phone
    /// (409); the text is for the user, in Russian.
    #[error("{0}")]
    Conflict(String),
    /// Bad input (400).
    #[error("{0}")]
    BadRequest(String),
    /// Our fault (500): logged, not sent.
    #[error("{0}")]
    Internal(String),
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::NotFound => ApiError::NotFound("call"),
            QueueError::Conflict(m) => ApiError::Conflict(m),
            QueueError::BadRequest(m) => ApiError::BadRequest(m),
            QueueError::Internal(m) => internal(m),
        }
    }
}

/// The engine's queue runtime as the API sees it. Bodies are JSON documents built by the
/// engine (their shapes are in the table of [`crate`]).
#[async_trait::async_trait]
pub trait QueueControl: Send + Sync + 'static {
    /// Every queue, the calls in them (waiting with their wait time, ringing, connected) and
    /// every agent with state and pause reason.
    async fn state(&self) -> Result<serde_json::Value, QueueError>;
    /// The live monitor's queue part: `at`, `day` (local date), `time_zone`,
    /// `service_level_s`, `short_abandon_s`; `queues` (name, strategy, max_wait_s, waiting,
    /// longest_wait_s, `calls` with call_id, emergency, waiting_s, position, ringing, agent,
    /// reason; `today`: the KPIs of zvonar_acd::kpi — offered, answered, abandoned,
    /// short_abandoned, overflowed, waiting, service_level, asa_s, abandonment_rate, aht_s,
    /// occupancy, within_5_min, emergency_within_5_min); `total` (the same KPIs over every
    /// queue); `agents` (login, state, pause_reason, call, since, in_state_s).
    async fn monitor(&self) -> Result<serde_json::Value, QueueError>;
    /// Sees a new value after every change of the queues, once stored (the monitor's
    /// WebSocket pushes on it; bursts coalesce).
    fn changes(&self) -> tokio::sync::watch::Receiver<u64>;
    /// One call that is or was in a queue, with the robot's handover context (account,
    /// address, what it heard with confidence, the draft ticket, the recording so far).
    async fn call(&self, call_id: &str) -> Result<serde_json::Value, QueueError>;
    /// The agent `login` does `action`; the agent's state after it.
    async fn agent(
        &self,
        login: &str,
        action: AgentAction,
    ) -> Result<serde_json::Value, QueueError>;
    /// A SIP credential for the console's softphone of agent `login`: `{ "username",
    /// "realm", "password", "ws_port", "wss_port", "expires_in_s" }` (each port `null` when
    /// that listener is off; a page over https uses `wss_port`), where `username` is the agent's SIP
    /// account and `password` a fresh random one valid for this console session only (the
    /// account's own password is never sent). 409 when the agent has no SIP account or SIP
    /// over WebSocket is off.
    async fn softphone(&self, login: &str) -> Result<serde_json::Value, QueueError> {
        let _ = login;
        Err(QueueError::Conflict(
            "программный телефон в консоли выключен ([sip] ws_listen)".into(),
        ))
    }
}

fn control(s: &AppState) -> Result<&dyn QueueControl, ApiError> {
    s.queues
        .as_deref()
        .ok_or(ApiError::NotFound("queues (none declared in the dialplan)"))
}

/// `GET /api/v1/queue`: take_calls or view_monitor.
pub(crate) async fn state(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    if !c.who.can(Permission::TakeCalls) {
        c.need(Permission::ViewMonitor)?;
    }
    Ok(Json(control(&s)?.state().await?))
}

/// `GET /api/v1/queue/calls/{call_id}`: take_calls.
pub(crate) async fn call(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(call_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::TakeCalls)?;
    Ok(Json(control(&s)?.call(&call_id).await?))
}

/// `POST /api/v1/queue/agent/login` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    #[serde(default)]
    skills: Vec<String>,
}

/// `POST /api/v1/queue/agent/pause` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PauseBody {
    reason: String,
}

async fn act(
    s: &AppState,
    c: &Caller,
    action: AgentAction,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.need(Permission::TakeCalls)?;
    let audit_name = action.audit_name();
    let details = match &action {
        AgentAction::Login { skills } => serde_json::json!({ "skills": skills }),
        AgentAction::Pause { reason } => serde_json::json!({ "reason": reason }),
        _ => serde_json::Value::Null,
    };
    let view = control(s)?.agent(&c.who.login, action).await?;
    if let Some(name) = audit_name {
        crate::routes::audit(
            s,
            c.audit(name).target(c.who.login.clone()).details(details),
        )
        .await?;
    }
    Ok(Json(view))
}

/// `GET /api/v1/queue/agent`: my state.
pub(crate) async fn me(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    act(&s, &c, AgentAction::Status).await
}

/// `POST /api/v1/queue/agent/login`.
pub(crate) async fn login(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    // The body is optional: no body (or an empty one) logs in without skills.
    let skills = if body.iter().all(u8::is_ascii_whitespace) {
        Vec::new()
    } else {
        serde_json::from_slice::<LoginBody>(&body)
            .map_err(|e| ApiError::BadRequest(format!("тело запроса: {e}")))?
            .skills
    };
    if let Some(bad) = skills.iter().find(|k| {
        k.is_empty()
            || k.len() > 64
            || !k
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    }) {
        return Err(ApiError::BadRequest(format!(
            "навык {bad:?}: строчные латинские буквы, цифры, _ и -"
        )));
    }
    act(&s, &c, AgentAction::Login { skills }).await
}

/// `POST /api/v1/queue/agent/softphone`: take_calls. The console's SIP credential
/// ([`QueueControl::softphone`]), audited (`softphone_credential`, without the password);
/// never cached.
pub(crate) async fn softphone(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::TakeCalls)?;
    let cred = control(&s)?.softphone(&c.who.login).await?;
    crate::routes::audit(
        &s,
        c.audit("softphone_credential")
            .target(c.who.login.clone())
            .details(serde_json::json!({ "sip_account": cred["username"] })),
    )
    .await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(cred),
    ))
}

/// `POST /api/v1/queue/agent/logout`.
pub(crate) async fn logout(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    act(&s, &c, AgentAction::Logout).await
}

/// `POST /api/v1/queue/agent/pause`.
pub(crate) async fn pause(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<PauseBody>,
) -> Result<impl IntoResponse, ApiError> {
    let reason = b.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "причина паузы: от 1 до 100 символов".into(),
        ));
    }
    act(&s, &c, AgentAction::Pause { reason }).await
}

/// `POST /api/v1/queue/agent/resume`.
pub(crate) async fn resume(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    act(&s, &c, AgentAction::Resume).await
}
