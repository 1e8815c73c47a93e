//! Ratings of completed tickets over HTTP: the residents' app rates a ticket
//! (`POST /api/v1/tickets/{id}/rating`, permission `rate_tickets`, audited) and supervisors read
//! the satisfaction report (`GET /api/v1/ratings/report`, permission `view_monitor`, JSON or
//! CSV). The rating robot records ratings through the same [`Ratings`] store; the ticket card
//! (`GET /api/v1/tickets/{id}`) shows a ticket's rating.

use crate::auth::{self, internal, Caller};
use crate::routes::visible_ticket;
use crate::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use std::sync::Arc;
use zvonar_access::Permission;
use zvonar_dispatch::rating::{
    NewRating, RateError, RatingOutcome, RatingSource, Ratings, ReportBy,
};
use zvonar_models::TicketId;

/// Longest comment accepted from the app, characters.
pub const MAX_COMMENT_CHARS: usize = 2000;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tickets/{id}/rating", post(rate))
        .route("/api/v1/ratings/report", get(report))
}

fn ratings(s: &AppState) -> Result<&Arc<Ratings>, ApiError> {
    s.ratings.as_ref().ok_or(ApiError::NotFound("ratings"))
}

/// Audits what a rating did: the rating itself, the quality-control ticket it filed and the
/// reopen, each as its own entry (`ticket_rated`, `qc_ticket_created`, `ticket_reopened`).
/// `rec` makes an entry for an action (the caller's, or the robot's).
pub async fn audit_outcome(
    access: Option<&zvonar_access::Access>,
    rec: impl Fn(&str) -> zvonar_access::AuditRecord,
    out: &RatingOutcome,
) -> Result<(), zvonar_access::AccessError> {
    let number = &out.before.number;
    let mut entries = vec![rec("ticket_rated")
        .target(format!("ticket:{number}"))
        .details(serde_json::json!({
            "value": out.rating.value, "source": out.rating.source,
            "comment": out.rating.comment, "call_id": out.rating.call_id,
            "qc_ticket": out.qc_ticket.as_ref().map(|t| &t.number),
            "reopened": out.reopened.is_some(),
        }))];
    if let Some(qc) = &out.qc_ticket {
        entries.push(
            rec("qc_ticket_created")
                .target(format!("ticket:{}", qc.number))
                .details(serde_json::json!({
                    "rated_ticket": number, "value": out.rating.value, "topic": qc.topic,
                    "department": qc.department, "executor_id": qc.executor_id,
                })),
        );
    }
    if let Some(t) = &out.reopened {
        entries.push(
            rec("ticket_reopened")
                .target(format!("ticket:{number}"))
                .details(serde_json::json!({
                    "before": {"status": out.before.status}, "after": {"status": t.status},
                    "reason": "low_rating", "value": out.rating.value,
                })),
        );
    }
    for e in entries {
        match access {
            Some(a) => a.audit(&e).await?,
            None => {
                tracing::info!(actor = %e.actor, action = %e.action, target = ?e.target, "audit")
            }
        }
    }
    Ok(())
}

/// `POST /api/v1/tickets/{id}/rating` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBody {
    value: serde_json::Value,
    #[serde(default)]
    comment: Option<String>,
}

/// `POST /api/v1/tickets/{id}/rating {"value": 1..5, "comment"}` (rate_tickets) → 201 with the
/// rating (and the quality-control ticket's number when the rating was low); 400 for a value
/// that is not a whole number 1–5 or a comment over [`MAX_COMMENT_CHARS`]; 404 for a ticket
/// outside the caller's visibility; 409 when the ticket is not done/closed or already rated.
pub(crate) async fn rate(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    c.need(Permission::RateTickets)?;
    let r = ratings(&s)?;
    let b: RateBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("тело запроса: {e}")))?;
    let value = b
        .value
        .as_i64()
        .filter(|v| (1..=5).contains(v))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "value: ожидается целое число от 1 до 5, получено {}",
                b.value
            ))
        })?;
    if b.comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
    {
        return Err(ApiError::BadRequest(format!(
            "comment: не длиннее {MAX_COMMENT_CHARS} символов"
        )));
    }
    visible_ticket(&s, &c, id).await?;
    let out = r
        .rate(
            TicketId(id),
            &NewRating {
                value: value as u8,
                source: RatingSource::Api,
                comment: b.comment,
                recording: None,
                comment_recording: None,
                call_id: None,
                at: Utc::now(),
                by: c.who.login.clone(),
            },
        )
        .await
        .map_err(|e| match e {
            RateError::NoTicket => ApiError::NotFound("ticket"),
            e @ (RateError::NotCompleted { .. } | RateError::AlreadyRated(_)) => {
                ApiError::Conflict(e.to_string())
            }
            e @ RateError::BadValue(_) => ApiError::BadRequest(e.to_string()),
            e => internal(e),
        })?;
    audit_outcome(s.access.as_deref(), |a| c.audit(a), &out)
        .await
        .map_err(internal)?;
    Ok((StatusCode::CREATED, Json(out.rating)).into_response())
}

/// `GET /api/v1/ratings/report` query: the company's local days `from`..=`to`
/// (`YYYY-MM-DD`), `by` = `executor` (default), `topic` or `building`; `format=csv` for a file.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    from: String,
    to: String,
    by: Option<String>,
    format: Option<String>,
}

fn day(s: &str, what: &str, tz: chrono_tz::Tz) -> Result<chrono::DateTime<Utc>, ApiError> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::BadRequest(format!("{what}: ожидается дата ГГГГ-ММ-ДД, получено «{s}»"))
    })?;
    let naive = d
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| ApiError::BadRequest(what.into()))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ApiError::BadRequest(format!("{what}: нет такого местного времени")))
}

fn csv_field(s: &str) -> String {
    if s.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `GET /api/v1/ratings/report?from=&to=&by=&format=` (view_monitor): satisfaction for the
/// period by executor, topic or building among the tickets the caller sees — per group the
/// number of ratings, the mean, the low ones (at or below the QC threshold), the share of 4
/// and 5 and the count of each value. 400 for bad dates, `to` before `from`, an unknown `by`.
pub(crate) async fn report(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    c.need(Permission::ViewMonitor)?;
    let r = ratings(&s)?;
    let tz = s
        .ticket_settings
        .as_ref()
        .map(|t| t.time_zone)
        .unwrap_or(chrono_tz::Europe::Moscow);
    let from = day(&q.from, "from", tz)?;
    let to_day = NaiveDate::parse_from_str(q.to.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| q.to.clone());
    let to = day(&to_day, "to", tz)?;
    if to <= from {
        return Err(ApiError::BadRequest("to: раньше from".into()));
    }
    let by_name = q.by.as_deref().unwrap_or("executor");
    let by = ReportBy::parse(by_name).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "by «{by_name}»: ожидается executor, topic или building"
        ))
    })?;
    let (topics, buildings) = auth::visibility_filter(&c.who.visibility);
    let rows = r
        .report(from, to, by, topics, buildings)
        .await
        .map_err(internal)?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(serde_json::json!({
            "from": q.from, "to": q.to, "by": by_name,
            "threshold": r.policy().threshold,
            "rows": rows,
        }))
        .into_response()),
        Some("csv") => {
            let mut out =
                String::from("группа;название;оценок;средняя;низких;довольны_%;1;2;3;4;5\n");
            for row in &rows {
                out.push_str(&format!(
                    "{};{};{};{};{};{};{};{};{};{};{}\n",
                    csv_field(row.key.as_deref().unwrap_or("")),
                    csv_field(row.label.as_deref().unwrap_or("")),
                    row.count,
                    row.average,
                    row.low,
                    row.satisfied_pct,
                    row.by_value[0],
                    row.by_value[1],
                    row.by_value[2],
                    row.by_value[3],
                    row.by_value[4],
                ));
            }
            let name = format!(
                "attachment; filename=\"ratings-{by_name}-{}-{}.csv\"",
                q.from, q.to
            );
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (header::CONTENT_DISPOSITION, name),
                ],
                out,
            )
                .into_response())
        }
        Some(other) => Err(ApiError::BadRequest(format!(
            "format «{other}»: ожидается json или csv"
        ))),
    }
}
