//! Emergency call-outs over HTTP: the duty rosters (by department, day and hour, with the
//! supervisor called last), their CSV import, the escalation of an emergency ticket (every
//! call attempt, the acceptance) and acceptance from the console.
//!
//! | route | permission | what |
//! |---|---|---|
//! | `GET /api/v1/duty/rosters` | manage_duty | `{"departments": [...], "rosters": [Roster…]}` |
//! | `GET /api/v1/duty/rosters/{department}` | manage_duty | one [`Roster`] (empty when none) |
//! | `PUT /api/v1/duty/rosters/{department}` | manage_duty | replace it: body a [`Roster`] (`department` from the path); 400 naming the field; audit `duty_roster_set` |
//! | `POST /api/v1/duty/rosters/import` | manage_duty | body the roster CSV ([`zvonar_dispatch::duty::parse_csv`]): every department in it replaced; 400 `{"error", "errors": [...]}` (every bad line, also joined in `error`) and nothing stored when any line is bad; audit `duty_roster_import` |
//! | `GET /api/v1/duty/unanswered` | any ticket work | ticket ids whose escalation reached nobody and that nobody took since |
//! | `GET /api/v1/tickets/{id}/escalation` | the ticket visible | the escalation (state, callees, attempts with outcome, SIP code, recording, Russian labels); 404 when the ticket had none |
//! | `GET /api/v1/tickets/{id}/escalation/{n}/recording` | listen_recordings, the ticket visible | the WAV of answered attempt `n` (stereo 8 kHz: the person left, the robot right; range requests); 410 once the retention sweep deleted it |
//! | `POST /api/v1/tickets/{id}/escalation/accept` | complete_tickets or transfer_tickets | the caller takes the emergency ticket (assigned to them, `in_progress`); the call in progress is hung up and nobody else is called; 409 when the escalation is over; audit `duty_accept` |
//!
//! Every user in a roster must be an active user (400 otherwise); every department one of
//! `[tickets] departments` when that list is set.

use crate::auth::{internal, Caller};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use zvonar_access::Permission;
use zvonar_dispatch::duty::{DutyStore, Escalation, Roster, State as EscState};

/// Why accepting from the console failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptError {
    /// The ticket has no escalation running (404).
    #[error("no escalation")]
    NotFound,
    /// The escalation is over (accepted, unanswered, stopped): 409, in Russian.
    #[error("{0}")]
    Over(String),
    /// Our fault (500).
    #[error("{0}")]
    Internal(String),
}

/// The engine's escalation runner as the API sees it.
#[async_trait::async_trait]
pub trait DutyControl: Send + Sync + 'static {
    /// `user_id` (named `name`) takes emergency ticket `ticket_id` from the console: the
    /// escalation stops (the call in progress is hung up), the ticket is assigned to them
    /// (`in_progress`). Returns the escalation after it.
    async fn accept(
        &self,
        ticket_id: i64,
        user_id: i64,
        name: &str,
    ) -> Result<Escalation, AcceptError>;
}

/// Rosters and escalations ([`DutyStore`]) and the engine's runner, for the routes.
#[derive(Clone)]
pub struct Duty {
    /// Storage.
    pub store: Arc<dyn DutyStore>,
    /// The running escalations; `None`: acceptance from the console answers 404.
    pub control: Option<Arc<dyn DutyControl>>,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/duty/rosters", get(rosters))
        .route("/api/v1/duty/rosters/import", post(import))
        .route(
            "/api/v1/duty/rosters/{department}",
            get(roster).put(set_roster),
        )
        .route("/api/v1/duty/unanswered", get(unanswered))
        .route("/api/v1/tickets/{id}/escalation", get(escalation))
        .route("/api/v1/tickets/{id}/escalation/accept", post(accept))
        .route(
            "/api/v1/tickets/{id}/escalation/{n}/recording",
            get(recording),
        )
}

fn duty(s: &AppState) -> Result<&Duty, ApiError> {
    s.duty.as_deref().ok_or(ApiError::NotFound("duty"))
}

fn departments(s: &AppState) -> Vec<String> {
    s.ticket_settings
        .as_ref()
        .map(|t| t.departments.clone())
        .unwrap_or_default()
}

async fn rosters(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    c.need(Permission::ManageDuty)?;
    let r = duty(&s)?.store.rosters().await.map_err(internal)?;
    Ok(Json(
        json!({ "departments": departments(&s), "rosters": r }),
    ))
}

async fn roster(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(department): Path<String>,
) -> Result<Json<Roster>, ApiError> {
    c.need(Permission::ManageDuty)?;
    Ok(Json(
        duty(&s)?
            .store
            .roster(department.trim())
            .await
            .map_err(internal)?,
    ))
}

/// Checks a roster: fields, the department, every person an active user.
async fn check(s: &AppState, r: &Roster) -> Result<(), ApiError> {
    r.check().map_err(ApiError::BadRequest)?;
    let known = departments(s);
    if !known.is_empty() && !known.contains(&r.department) {
        return Err(ApiError::BadRequest(format!(
            "неизвестный отдел «{}» (есть: {})",
            r.department,
            known.join(", ")
        )));
    }
    if let Some(a) = &s.access {
        let users = a.list_users().await.map_err(internal)?;
        let ids = r
            .shifts
            .iter()
            .map(|x| x.user_id)
            .chain(r.supervisor.iter().map(|x| x.user_id));
        for id in ids {
            if !users.iter().any(|u| u.id == id && !u.disabled) {
                return Err(ApiError::BadRequest(format!(
                    "{}: нет активного пользователя {id}",
                    r.department
                )));
            }
        }
    }
    Ok(())
}

async fn set_roster(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(department): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Roster>, ApiError> {
    c.need(Permission::ManageDuty)?;
    let d = duty(&s)?;
    let mut r: Roster = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("тело запроса: {e}")))?;
    r.department = department.trim().to_string();
    check(&s, &r).await?;
    let before = d.store.roster(&r.department).await.map_err(internal)?;
    d.store
        .set_roster(&r, &c.who.login)
        .await
        .map_err(internal)?;
    crate::routes::audit(
        &s,
        c.audit("duty_roster_set")
            .target(format!("department:{}", r.department))
            .details(json!({ "before": before, "after": r })),
    )
    .await?;
    Ok(Json(r))
}

async fn import(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    body: axum::body::Bytes,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    c.need(Permission::ManageDuty)?;
    let d = duty(&s)?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest("файл не в UTF-8".into()))?;
    let rosters =
        match zvonar_dispatch::duty::parse_csv(text) {
            Ok(r) => r,
            Err(errors) => return Ok((
                axum::http::StatusCode::BAD_REQUEST,
                Json(json!({
                    "error": format!("в файле ошибки, ничего не сохранено: {}", errors.join("; ")),
                    "errors": errors,
                })),
            )
                .into_response()),
        };
    for r in &rosters {
        check(&s, r).await?;
    }
    for r in &rosters {
        d.store
            .set_roster(r, &c.who.login)
            .await
            .map_err(internal)?;
    }
    let names: Vec<&str> = rosters.iter().map(|r| r.department.as_str()).collect();
    crate::routes::audit(
        &s,
        c.audit("duty_roster_import")
            .details(json!({ "departments": names, "shifts": rosters.iter().map(|r| r.shifts.len()).sum::<usize>() })),
    )
    .await?;
    Ok(Json(json!({ "imported": names })).into_response())
}

/// Who may see the unanswered alarm and accept: anyone who works tickets.
const WORKS: [Permission; 4] = [
    Permission::CreateTickets,
    Permission::TransferTickets,
    Permission::CompleteTickets,
    Permission::CloseTickets,
];

fn need_any(c: &Caller, perms: &[Permission]) -> Result<(), ApiError> {
    if perms.iter().any(|p| c.who.can(*p)) {
        Ok(())
    } else {
        let names: Vec<&str> = perms.iter().map(|p| p.as_str()).collect();
        Err(ApiError::Forbidden(format!(
            "нет права (нужно одно из: {})",
            names.join(", ")
        )))
    }
}

async fn unanswered(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<Json<Value>, ApiError> {
    need_any(&c, &WORKS)?;
    let ids = duty(&s)?.store.unanswered().await.map_err(internal)?;
    Ok(Json(json!({ "tickets": ids })))
}

/// The escalation as the API and the console show it: the stored JSON plus `phase`,
/// Russian labels of the state and of every attempt's outcome.
pub fn escalation_view(e: &Escalation) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    v["phase"] = json!(e.phase());
    v["state_ru"] = json!(match &e.state {
        EscState::Waiting { .. } => "ожидает следующего звонка".to_string(),
        EscState::Calling { n } => {
            let who = e
                .attempts
                .iter()
                .find(|a| a.n == *n)
                .map(|a| a.callee.name.clone())
                .unwrap_or_default();
            format!("звоним: {who}")
        }
        EscState::Accepted { name, via, .. } => format!(
            "принял {name}{}",
            if via == "console" {
                " (в консоли)"
            } else {
                " (нажал 1)"
            }
        ),
        EscState::Unanswered { .. } => "НИКТО НЕ ПРИНЯЛ".to_string(),
        EscState::Stopped { .. } => "прекращено: заявку взяли".to_string(),
    });
    if let Some(list) = v["attempts"].as_array_mut() {
        for (a, src) in list.iter_mut().zip(&e.attempts) {
            a["outcome_ru"] = json!(src.outcome.map(|o| o.label_ru()).unwrap_or("звоним…"));
            a["phone"] = json!(src.callee.phone.to_string());
        }
    }
    v
}

/// The ticket card's `escalation` (`null` when none), for `GET /api/v1/tickets/{id}`.
pub(crate) async fn card_part(s: &AppState, id: i64) -> Result<Value, ApiError> {
    let Some(d) = s.duty.as_deref() else {
        return Ok(Value::Null);
    };
    Ok(d.store
        .escalation(id)
        .await
        .map_err(internal)?
        .map(|e| escalation_view(&e))
        .unwrap_or(Value::Null))
}

async fn escalation(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    crate::routes::visible_ticket(&s, &c, id).await?;
    let e = duty(&s)?
        .store
        .escalation(id)
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound("escalation"))?;
    Ok(Json(escalation_view(&e)))
}

async fn recording(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((id, n)): Path<(i64, u32)>,
    req: axum::extract::Request,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    use tower::ServiceExt;
    c.need(Permission::ListenRecordings)?;
    crate::routes::visible_ticket(&s, &c, id).await?;
    let e = duty(&s)?
        .store
        .escalation(id)
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound("escalation"))?;
    let a = e
        .attempts
        .iter()
        .find(|a| a.n == n)
        .ok_or(ApiError::NotFound("attempt"))?;
    if a.recording_deleted_at.is_some() {
        return Err(ApiError::Gone(
            "recording expired: deleted after the retention period",
        ));
    }
    let rel = a.recording.clone().ok_or(ApiError::NotFound("recording"))?;
    // Written by the engine as `YYYY/MM/DD/duty-<ticket>-<n>.wav`; refuse anything that
    // could leave the recordings directory.
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

async fn accept(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    need_any(
        &c,
        &[Permission::CompleteTickets, Permission::TransferTickets],
    )?;
    let t = crate::routes::visible_ticket(&s, &c, id).await?.ticket;
    let control = duty(&s)?
        .control
        .clone()
        .ok_or(ApiError::NotFound("escalation"))?;
    let user_id = c
        .who
        .user_id
        .ok_or_else(|| ApiError::BadRequest("принять заявку может только пользователь".into()))?;
    let name = match &s.access {
        Some(a) => a
            .user(user_id)
            .await
            .map_err(internal)?
            .map(|u| {
                if u.display_name.trim().is_empty() {
                    u.login
                } else {
                    u.display_name
                }
            })
            .unwrap_or_else(|| c.who.login.clone()),
        None => c.who.login.clone(),
    };
    let e = control
        .accept(id, user_id, &name)
        .await
        .map_err(|e| match e {
            AcceptError::NotFound => ApiError::NotFound("escalation"),
            AcceptError::Over(m) => ApiError::Conflict(m),
            AcceptError::Internal(m) => internal(m),
        })?;
    crate::routes::audit(
        &s,
        c.audit("duty_accept")
            .target(format!("ticket:{}", t.number))
            .details(json!({ "user_id": user_id, "name": name })),
    )
    .await?;
    Ok(Json(escalation_view(&e)))
}
