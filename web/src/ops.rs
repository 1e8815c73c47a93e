//! The operators' floor API: missed calls and callbacks, outages registered from the
//! console, and the caller's card. Its stores come in [`Operations`]
//! ([`crate::AppState::with_operations`]); without them these routes answer 404.
//!
//! | method and path | permission | what |
//! |---|---|---|
//! | `GET /api/v1/missed?status=open\|closed\|all&overdue=true&limit=&offset=` | take_calls | missed-calls entries: open first, overdue first, then by due time |
//! | `GET /api/v1/missed/{id}` | take_calls | one entry with its calls (recording links) and callback attempts |
//! | `POST /api/v1/missed/{id}/attempts` | take_calls | `{"outcome": "reached\|no_answer\|busy\|wrong_number", "comment"}` → 201 `{attempt, missed}`; 409 when closed |
//! | `GET /api/v1/missed/report?from=YYYY-MM-DD&to=YYYY-MM-DD&format=json\|csv` | view_monitor | counts by reason and outcome, callbacks in time, mean time to callback; days in the company's time zone, `to` included |
//! | `GET /api/v1/buildings` | signed in | the registry's buildings (to choose an outage's buildings) |
//! | `GET /api/v1/outages?state=current\|active\|planned\|recent&building_id=` | signed in | outage notices; `current` (default) = active and planned |
//! | `GET /api/v1/outages/resources` | signed in | resource codes with their Russian names |
//! | `GET /api/v1/outages/{id}` | signed in | one notice |
//! | `POST /api/v1/outages` | manage_outages | `{"building_ids": [..]}` or `{"street"}`, `"resource"`, `"starts_at"` (default now), `"ends_at"`, `"text"` → 201; the next call from those buildings hears it |
//! | `PATCH /api/v1/outages/{id}` | manage_outages | `{"ends_at": time or null, "text"}`; an end in the past ends it at once |
//! | `POST /api/v1/outages/{id}/close` | manage_outages | ends it now (a planned one is cancelled); 409 when ended |
//! | `GET /api/v1/card?phone=\|call_id=` | take_calls | the caller's card: accounts by caller ID with address, residents and the imported debt (`debt`: balance in kopecks and as text, months owed, oldest unpaid month, as-of date; null when the billing export has no figures for the account), open and recent tickets (within the user's visibility), current outages on their buildings, earlier calls with recording links (for users who may listen), the open missed-calls entry; `source` says where the number came from: `caller_id` (verified, from a trusted trunk), `entered` (typed), `unverified` (a call from an untrusted source: the registry is not asked) |
//!
//! Times are RFC 3339 (`2026-11-30T10:00:00+03:00`) or local to the company's time zone
//! (`2026-11-30T10:00`, `2026-11-30 10:00`, as a browser's `datetime-local` sends them).
//! Every change is audited: `outage_created`, `outage_changed`, `outage_closed`,
//! `callback_attempt`.

use crate::auth::{self, internal, Caller};
use crate::routes::audit;
use crate::{ApiError, AppState};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use zvonar_access::Permission;
use zvonar_billing::{
    AccountDebt, NewNotice, NoticeChange, NoticeError, NoticeFilter, OutageBoard, OutageNotice,
    OutageScope, Registry, Resource,
};
use zvonar_dispatch::{
    missed::AttemptError, CallbackOutcome, CallerHistory, MissedCall, MissedCalls, MissedReport,
    MissedStatus,
};
use zvonar_models::{BuildingId, CallId, PhoneNumber};

/// The stores behind the operators' floor API.
#[derive(Clone)]
pub struct Operations {
    /// Buildings, accounts by phone.
    pub registry: Arc<dyn Registry>,
    /// Outage notices, residents.
    pub outages: Arc<dyn OutageBoard>,
    /// Missed calls and callbacks.
    pub missed: Arc<dyn MissedCalls>,
    /// A caller's calls and tickets.
    pub history: Arc<dyn CallerHistory>,
    /// The company's time zone: local times in requests, report days.
    pub time_zone: chrono_tz::Tz,
}

/// The routes of this module (merged behind the authentication layer).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/missed", get(list_missed))
        .route("/api/v1/missed/report", get(report))
        .route("/api/v1/missed/{id}", get(missed_one))
        .route("/api/v1/missed/{id}/attempts", post(record_attempt))
        .route("/api/v1/buildings", get(buildings))
        .route("/api/v1/outages", get(list_outages).post(create_outage))
        .route("/api/v1/outages/resources", get(resources))
        .route("/api/v1/outages/{id}", get(outage_one).patch(change_outage))
        .route("/api/v1/outages/{id}/close", post(close_outage))
        .route("/api/v1/card", get(card))
}

fn ops(s: &AppState) -> Result<&Operations, ApiError> {
    s.ops.as_deref().ok_or(ApiError::NotFound("operations"))
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

// ----- missed calls -----

fn recording_url(call: &CallId) -> String {
    format!("/api/v1/calls/{}/recording", call.0)
}

/// A missed-calls entry with the console's labels and the recording link.
fn missed_view(m: &MissedCall) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("reason_label".into(), m.reason.label_ru().into());
        o.insert(
            "recording_url".into(),
            m.recording_call_id.as_ref().map(recording_url).into(),
        );
        o.insert(
            "last_outcome_label".into(),
            m.last_outcome.map(CallbackOutcome::label_ru).into(),
        );
    }
    v
}

/// `GET /api/v1/missed` query.
#[derive(Debug, Deserialize)]
pub struct MissedQuery {
    status: Option<String>,
    overdue: Option<bool>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_missed(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<MissedQuery>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::TakeCalls)?;
    let o = ops(&s)?;
    let status = match q.status.as_deref() {
        None | Some("open") => MissedStatus::Open,
        Some("closed") => MissedStatus::Closed,
        Some("all") => MissedStatus::All,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "status «{other}»: expected open, closed or all"
            )))
        }
    };
    let (limit, offset) = crate::routes::Page::new(q.limit, q.offset).get()?;
    let list = o
        .missed
        .list_missed(status, q.overdue.unwrap_or(false), now(), limit, offset)
        .await
        .map_err(internal)?;
    Ok(Json(list.iter().map(missed_view).collect::<Vec<_>>()))
}

async fn missed_one(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::TakeCalls)?;
    let d = ops(&s)?
        .missed
        .missed_call(id, now())
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound("missed call"))?;
    let calls: Vec<Value> = d
        .calls
        .iter()
        .map(|leg| {
            let mut v = serde_json::to_value(leg).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("reason_label".into(), leg.reason.label_ru().into());
                o.insert(
                    "recording_url".into(),
                    leg.has_recording
                        .then(|| recording_url(&leg.call_id))
                        .into(),
                );
            }
            v
        })
        .collect();
    let attempts: Vec<Value> = d
        .attempts
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("outcome_label".into(), a.outcome.label_ru().into());
            }
            v
        })
        .collect();
    Ok(Json(json!({
        "missed": missed_view(&d.missed),
        "calls": calls,
        "attempts": attempts,
    })))
}

/// `POST /api/v1/missed/{id}/attempts` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptBody {
    outcome: String,
    #[serde(default)]
    comment: String,
}

/// Longest comment on a callback attempt, characters.
const MAX_COMMENT: usize = 2000;

async fn record_attempt(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<AttemptBody>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::TakeCalls)?;
    let o = ops(&s)?;
    let outcome = CallbackOutcome::from_code(b.outcome.trim()).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "outcome «{}»: expected reached, no_answer, busy or wrong_number",
            b.outcome
        ))
    })?;
    let comment = b.comment.trim();
    if comment.chars().count() > MAX_COMMENT {
        return Err(ApiError::BadRequest(format!(
            "comment is longer than {MAX_COMMENT} characters"
        )));
    }
    let (attempt, missed) = o
        .missed
        .record_attempt(id, now(), &c.who.login, outcome, comment)
        .await
        .map_err(|e| match e {
            AttemptError::NotFound(_) => ApiError::NotFound("missed call"),
            AttemptError::Closed(_) => ApiError::Conflict("пропущенный звонок уже закрыт".into()),
            e => internal(e),
        })?;
    audit(
        &s,
        c.audit("callback_attempt")
            .target(format!("missed:{id}"))
            .details(json!({
                "outcome": outcome.as_str(),
                "comment": comment,
                "closed_as": missed.closed_as.map(|c| c.as_str()),
            })),
    )
    .await?;
    let mut a = serde_json::to_value(&attempt).map_err(internal)?;
    if let Some(o) = a.as_object_mut() {
        o.insert("outcome_label".into(), outcome.label_ru().into());
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({"attempt": a, "missed": missed_view(&missed)})),
    ))
}

/// `GET /api/v1/missed/report` query.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

fn local_midnight(d: NaiveDate, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, ApiError> {
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ApiError::BadRequest(format!("no local midnight on {d}")))
}

fn day(s: Option<&str>, today: NaiveDate, what: &str) -> Result<NaiveDate, ApiError> {
    match s {
        None => Ok(today),
        Some(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| ApiError::BadRequest(format!("{what} «{s}»: expected YYYY-MM-DD"))),
    }
}

async fn report(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    c.need(Permission::ViewMonitor)?;
    let o = ops(&s)?;
    let today = now().with_timezone(&o.time_zone).date_naive();
    let from = day(q.from.as_deref(), today, "from")?;
    let to = day(q.to.as_deref(), today, "to")?;
    if to < from {
        return Err(ApiError::BadRequest("to is before from".into()));
    }
    if (to - from).num_days() > 366 {
        return Err(ApiError::BadRequest(
            "a report covers at most 366 days".into(),
        ));
    }
    let start = local_midnight(from, o.time_zone)?;
    let end = local_midnight(to + Duration::days(1), o.time_zone)?;
    let r = o
        .missed
        .missed_report(start, end, now())
        .await
        .map_err(internal)?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(&r).into_response()),
        Some("csv") => {
            let body = report_csv(&r, from, to).map_err(internal)?;
            let name = format!("attachment; filename=\"missed-{from}-{to}.csv\"");
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (header::CONTENT_DISPOSITION, name),
                ],
                body,
            )
                .into_response())
        }
        Some(other) => Err(ApiError::BadRequest(format!(
            "format «{other}»: expected json or csv"
        ))),
    }
}

/// The report as CSV (RFC 4180, UTF-8 with a byte-order mark so spreadsheet programs read
/// the Cyrillic): `раздел,код,показатель,значение`, one figure a row.
pub fn report_csv(r: &MissedReport, from: NaiveDate, to: NaiveDate) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut row = |a: &str, b: &str, c: &str, d: String| {
        w.write_record([a, b, c, d.as_str()])
            .map_err(|e| e.to_string())
    };
    row("раздел", "код", "показатель", "значение".into())?;
    row("период", "from", "с", from.to_string())?;
    row("период", "to", "по", to.to_string())?;
    row(
        "итого",
        "missed_calls",
        "пропущено звонков",
        r.missed_calls.to_string(),
    )?;
    row(
        "итого",
        "entries",
        "номеров для перезвона",
        r.entries.to_string(),
    )?;
    row(
        "итого",
        "attempts",
        "попыток перезвона",
        r.attempts.to_string(),
    )?;
    for reason in zvonar_dispatch::MissedReason::ALL {
        let n = r.by_reason.get(reason.as_str()).copied().unwrap_or(0);
        row("причина", reason.as_str(), reason.label_ru(), n.to_string())?;
    }
    for o in CallbackOutcome::ALL {
        let n = r.by_outcome.get(o.as_str()).copied().unwrap_or(0);
        row("результат", o.as_str(), o.label_ru(), n.to_string())?;
    }
    for (code, label) in [
        ("reached", "закрыто: дозвонились"),
        ("wrong_number", "закрыто: неверный номер"),
        ("attempts_exhausted", "закрыто: попытки исчерпаны"),
        ("called_again", "закрыто: перезвонил сам"),
        ("open", "не закрыто"),
    ] {
        let n = r.by_closing.get(code).copied().unwrap_or(0);
        row("закрытие", code, label, n.to_string())?;
    }
    row(
        "перезвон",
        "called_back_in_time",
        "перезвонили вовремя",
        r.called_back_in_time.to_string(),
    )?;
    row(
        "перезвон",
        "called_back_late",
        "перезвонили с опозданием",
        r.called_back_late.to_string(),
    )?;
    row(
        "перезвон",
        "not_called_back",
        "не перезвонили",
        r.not_called_back.to_string(),
    )?;
    row(
        "перезвон",
        "overdue",
        "из них просрочено",
        r.overdue.to_string(),
    )?;
    row(
        "перезвон",
        "mean_time_to_callback_s",
        "среднее время до перезвона, с",
        r.mean_time_to_callback_s
            .map(|s| format!("{s:.0}"))
            .unwrap_or_default(),
    )?;
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
    Ok(format!("\u{feff}{text}"))
}

// ----- outages -----

async fn buildings(
    State(s): State<AppState>,
    Extension(_c): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    let list = ops(&s)?.registry.buildings().await.map_err(internal)?;
    Ok(Json(list))
}

async fn resources(Extension(_c): Extension<Caller>) -> impl IntoResponse {
    Json(
        Resource::ALL
            .iter()
            .map(|r| json!({"code": r.as_str(), "label": r.label_ru(), "spoken": r.spoken_genitive()}))
            .collect::<Vec<_>>(),
    )
}

/// `GET /api/v1/outages` query.
#[derive(Debug, Deserialize)]
pub struct OutageQuery {
    state: Option<String>,
    building_id: Option<i64>,
}

fn notice_view(n: &OutageNotice) -> Value {
    let mut v = serde_json::to_value(n).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "resource_label".into(),
            n.resource.map(Resource::label_ru).into(),
        );
    }
    v
}

async fn list_outages(
    State(s): State<AppState>,
    Extension(_c): Extension<Caller>,
    Query(q): Query<OutageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let filter = match q.state.as_deref() {
        None | Some("current") => NoticeFilter::Current,
        Some("active") => NoticeFilter::Active,
        Some("planned") => NoticeFilter::Planned,
        Some("recent") => NoticeFilter::Recent,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "state «{other}»: expected current, active, planned or recent"
            )))
        }
    };
    let only = q.building_id.map(|b| vec![BuildingId(b)]);
    let list = ops(&s)?
        .outages
        .notices(filter, now(), only.as_deref())
        .await
        .map_err(internal)?;
    Ok(Json(list.iter().map(notice_view).collect::<Vec<_>>()))
}

async fn outage_one(
    State(s): State<AppState>,
    Extension(_c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    let n = ops(&s)?
        .outages
        .notice(id, now())
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound("outage"))?;
    Ok(Json(notice_view(&n)))
}

/// Parses an RFC 3339 time, or a local one in `tz` (`2026-11-30T10:00`, `2026-11-30 10:00`,
/// with optional seconds).
pub fn parse_time(s: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .and_then(|naive| tz.from_local_datetime(&naive).earliest())
    .map(|t| t.with_timezone(&Utc))
}

fn time_field(v: &str, tz: chrono_tz::Tz, what: &str) -> Result<DateTime<Utc>, ApiError> {
    parse_time(v, tz).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{what} «{v}»: expected 2026-11-30T10:00 (local) or RFC 3339"
        ))
    })
}

/// `POST /api/v1/outages` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOutageBody {
    #[serde(default)]
    building_ids: Vec<i64>,
    street: Option<String>,
    resource: String,
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[serde(default)]
    text: String,
}

fn notice_error(e: NoticeError) -> ApiError {
    match e {
        NoticeError::EmptyScope => ApiError::BadRequest("выберите дома или улицу".into()),
        NoticeError::UnknownBuilding(b) => {
            ApiError::BadRequest(format!("дома {} нет в реестре", b.0))
        }
        NoticeError::UnknownStreet(s) => {
            ApiError::BadRequest(format!("на улице «{s}» нет домов реестра"))
        }
        NoticeError::EndsBeforeStart => ApiError::BadRequest("окончание раньше начала".into()),
        NoticeError::Duplicate(m) => ApiError::Conflict(m),
        NoticeError::NotFound(_) => ApiError::NotFound("outage"),
        NoticeError::Ended(_) => ApiError::Conflict("отключение уже закончилось".into()),
        e => internal(e),
    }
}

async fn create_outage(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<NewOutageBody>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageOutages)?;
    let o = ops(&s)?;
    let resource = Resource::from_code(b.resource.trim()).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "resource «{}»: expected one of {}",
            b.resource,
            Resource::ALL.map(Resource::as_str).join(", ")
        ))
    })?;
    let scope = match (
        b.building_ids.is_empty(),
        b.street.as_deref().map(str::trim),
    ) {
        (false, None) => {
            OutageScope::Buildings(b.building_ids.iter().map(|b| BuildingId(*b)).collect())
        }
        (true, Some(st)) if !st.is_empty() => OutageScope::Street(st.to_string()),
        (false, Some(_)) => {
            return Err(ApiError::BadRequest(
                "either building_ids or street, not both".into(),
            ))
        }
        _ => return Err(ApiError::BadRequest("выберите дома или улицу".into())),
    };
    if b.text.chars().count() > MAX_COMMENT {
        return Err(ApiError::BadRequest(format!(
            "text is longer than {MAX_COMMENT} characters"
        )));
    }
    let t = now();
    let starts_at = match b.starts_at.as_deref().filter(|v| !v.trim().is_empty()) {
        Some(v) => time_field(v, o.time_zone, "starts_at")?,
        None => t,
    };
    let ends_at = b
        .ends_at
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .map(|v| time_field(v, o.time_zone, "ends_at"))
        .transpose()?;
    let n = o
        .outages
        .create_notice(
            &NewNotice {
                scope,
                resource,
                starts_at,
                ends_at,
                text: b.text,
                by: c.who.login.clone(),
            },
            t,
        )
        .await
        .map_err(notice_error)?;
    audit(
        &s,
        c.audit("outage_created")
            .target(format!("outage:{}", n.id))
            .details(json!({
                "resource": resource.as_str(),
                "buildings": n.buildings.iter().map(|b| b.building_id.0).collect::<Vec<_>>(),
                "street": n.street,
                "starts_at": n.starts_at,
                "ends_at": n.ends_at,
            })),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(notice_view(&n))))
}

/// `PATCH /api/v1/outages/{id}` body: `ends_at` (a time, or `null` for unknown) and/or
/// `text`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeOutageBody {
    #[serde(default, deserialize_with = "present")]
    ends_at: Option<Option<String>>,
    text: Option<String>,
}

/// Tells a field sent as `null` (`Some(None)`) from one not sent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

async fn change_outage(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<ChangeOutageBody>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageOutages)?;
    let o = ops(&s)?;
    if b.ends_at.is_none() && b.text.is_none() {
        return Err(ApiError::BadRequest(
            "nothing to change: ends_at or text".into(),
        ));
    }
    if b.text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_COMMENT)
    {
        return Err(ApiError::BadRequest(format!(
            "text is longer than {MAX_COMMENT} characters"
        )));
    }
    let ends_at = match &b.ends_at {
        None => None,
        Some(None) => Some(None),
        Some(Some(v)) if v.trim().is_empty() => Some(None),
        Some(Some(v)) => Some(Some(time_field(v, o.time_zone, "ends_at")?)),
    };
    let t = now();
    let before = o
        .outages
        .notice(id, t)
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound("outage"))?;
    let n = o
        .outages
        .change_notice(
            id,
            &NoticeChange {
                ends_at,
                text: b.text.clone(),
            },
            t,
        )
        .await
        .map_err(notice_error)?;
    audit(
        &s,
        c.audit("outage_changed")
            .target(format!("outage:{id}"))
            .details(json!({
                "ends_at_before": before.ends_at, "ends_at": n.ends_at,
                "text_before": before.text, "text": n.text,
            })),
    )
    .await?;
    Ok(Json(notice_view(&n)))
}

async fn close_outage(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageOutages)?;
    let n = ops(&s)?
        .outages
        .close_notice(id, &c.who.login, now())
        .await
        .map_err(notice_error)?;
    audit(
        &s,
        c.audit("outage_closed")
            .target(format!("outage:{id}"))
            .details(json!({"ends_at": n.ends_at})),
    )
    .await?;
    Ok(Json(notice_view(&n)))
}

// ----- the caller's card -----

/// An account's imported debt on the card: `balance_kopecks` (> 0 owed, < 0 overpaid),
/// `balance_text` («1 234,50 ₽», «переплата 350,00 ₽»), `months_owed`, `oldest_unpaid`
/// (`YYYY-MM-DD`, first day of the month, or null) with `oldest_unpaid_text` («август 2026»),
/// `as_of` (`YYYY-MM-DD`) with `as_of_text` («на 01.11.2026»).
fn debt_view(d: &AccountDebt) -> Value {
    json!({
        "balance_kopecks": d.balance_kopecks, "balance_text": d.balance_text(),
        "months_owed": d.months_owed,
        "oldest_unpaid": d.oldest_unpaid, "oldest_unpaid_text": d.oldest_unpaid_text(),
        "as_of": d.as_of, "as_of_text": d.as_of_text(),
    })
}

/// `GET /api/v1/card` query: one of `phone` or `call_id`.
#[derive(Debug, Deserialize)]
pub struct CardQuery {
    phone: Option<String>,
    call_id: Option<String>,
}

/// Closed tickets shown on the card besides the open ones.
const CARD_RECENT_TICKETS: u32 = 5;
/// Earlier calls shown on the card.
const CARD_CALLS: u32 = 10;

async fn card(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<CardQuery>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::TakeCalls)?;
    let o = ops(&s)?;
    let t = now();
    // The ringing call, and the number the registry may be asked about: only a verified
    // caller ID (from a trusted trunk); an operator may also type a number.
    let (call, phone, source) = match (&q.call_id, &q.phone) {
        (Some(id), None) => {
            let d = s
                .store
                .call(&CallId(id.trim().to_string()))
                .await
                .map_err(internal)?
                .ok_or(ApiError::NotFound("call"))?;
            let cdr = d.cdr;
            let phone = cdr.caller.clone();
            let source = if phone.is_some() {
                "caller_id"
            } else {
                "unverified"
            };
            (
                Some(json!({
                    "call_id": cdr.call_id, "started_at": cdr.started_at,
                    "callee": cdr.callee, "flow": cdr.flow, "caller_raw": cdr.caller_raw,
                })),
                phone,
                source,
            )
        }
        (None, Some(p)) => {
            let phone = PhoneNumber::parse_ru(p)
                .map_err(|e| ApiError::BadRequest(format!("phone «{p}»: {e}")))?;
            (None, Some(phone), "entered")
        }
        _ => return Err(ApiError::BadRequest("give either phone or call_id".into())),
    };
    let Some(phone) = phone else {
        return Ok(Json(json!({
            "phone": null, "source": source, "call": call, "accounts": [],
            "tickets": [], "outages": [], "calls": [], "missed": null,
        })));
    };
    let known = o.registry.find_by_phone(&phone).await.map_err(internal)?;
    let account_ids: Vec<_> = known.iter().map(|k| k.account_id).collect();
    let mut buildings: Vec<BuildingId> = known.iter().map(|k| k.building_id).collect();
    buildings.sort_by_key(|b| b.0);
    buildings.dedup();
    let residents = o.outages.residents(&account_ids).await.map_err(internal)?;
    let debts = o.registry.debts(&account_ids).await.map_err(internal)?;
    let accounts: Vec<Value> = known
        .iter()
        .map(|k| {
            json!({
                "account_id": k.account_id, "account_number": k.account_number,
                "building_id": k.building_id, "premises_id": k.premises_id,
                "address": k.address, "apartment": k.apartment,
                "residents": residents.iter().filter(|r| r.account_id == k.account_id)
                    .map(|r| json!({"full_name": r.full_name, "phones": r.phones}))
                    .collect::<Vec<_>>(),
                "debt": debts.iter().find(|d| d.account_id == k.account_id).map(debt_view),
            })
        })
        .collect();
    let outages = if buildings.is_empty() {
        Vec::new()
    } else {
        o.outages
            .notices(NoticeFilter::Current, t, Some(&buildings))
            .await
            .map_err(internal)?
    };
    let tickets: Vec<_> = o
        .history
        .tickets_of(Some(&phone), &account_ids, CARD_RECENT_TICKETS)
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|tk| auth::sees(&c, &tk.topic, tk.building_id.map(|b| b.0)))
        .collect();
    let listen = c.who.can(Permission::ListenRecordings);
    let this_call = q.call_id.as_deref().map(str::trim);
    let calls: Vec<Value> = o
        .history
        .calls_from(&phone, CARD_CALLS + 1)
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|cdr| Some(cdr.call_id.0.as_str()) != this_call)
        .take(CARD_CALLS as usize)
        .map(|cdr| {
            let playable = cdr.recording.is_some() && cdr.recording_deleted_at.is_none();
            json!({
                "call_id": cdr.call_id, "started_at": cdr.started_at,
                "disposition": cdr.disposition, "duration_ms": cdr.duration_ms,
                "flow": cdr.flow, "ticket_id": cdr.ticket_id,
                "recording_url": (listen && playable).then(|| recording_url(&cdr.call_id)),
            })
        })
        .collect();
    let missed = o
        .missed
        .open_missed_for(&phone, t)
        .await
        .map_err(internal)?;
    Ok(Json(json!({
        "phone": phone,
        "source": source,
        "call": call,
        "accounts": accounts,
        "tickets": tickets,
        "outages": outages.iter().map(notice_view).collect::<Vec<_>>(),
        "calls": calls,
        "missed": missed.as_ref().map(missed_view),
    })))
}
