//! The ticket workflow of the console: the topic tree and departments, the journal with
//! its filters, paging and CSV/XLSX export, assignment, status, completion with a result,
//! comments and photos. Every change is permission-checked (403, nothing changed) and
//! audited; every ticket is read only within the caller's topic/building visibility (404
//! otherwise, as for `GET /api/v1/tickets/{id}`).

use crate::auth::{self, internal, Caller};
use crate::routes::{audit, visible_ticket};
use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use zvonar_access::{Permission, Role};
use zvonar_dispatch::{
    Assignment, Photo, Ticket, TicketChange, TicketFilter, TicketWorkflow, CLOSED_STATUSES,
    TICKET_STATUSES,
};
use zvonar_models::{BuildingId, CallId, PhoneNumber, TicketId, TicketRequest};

/// One topic of the console's topic tree (`[[tickets.topics]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopicInfo {
    /// Code stored on tickets (`leak`); the same codes as the dialplan's topics.
    pub code: String,
    /// Name shown («Протечка»).
    pub name: String,
    /// The tree's branch («Сантехника»).
    pub group: String,
    /// Deadline from filing, hours.
    pub sla_hours: u32,
    /// Deadline of an emergency ticket, hours.
    pub emergency_sla_hours: u32,
}

/// What the console's ticket pages need besides the stores.
#[derive(Clone)]
pub struct TicketSettings {
    /// The topic tree; empty: any topic code is accepted.
    pub topics: Vec<TopicInfo>,
    /// Departments tickets are assigned to (names).
    pub departments: Vec<String>,
    /// Where photos are kept (`<ticket id>/<uuid>.<ext>` under it).
    pub photos_dir: PathBuf,
    /// Largest photo accepted, bytes (larger: 413).
    pub photo_max_bytes: usize,
    /// The company's time zone: journal date filters and exported times.
    pub time_zone: chrono_tz::Tz,
    /// Buildings for the forms, filters and exports (their addresses).
    pub registry: Option<Arc<dyn zvonar_billing::Registry>>,
}

/// Largest journal export, rows; a wider filter answers 400.
pub const MAX_EXPORT_ROWS: u64 = 10_000;

/// The store and settings, or 404 when the server runs without the ticket workflow.
pub(crate) fn workflow(
    s: &AppState,
) -> Result<(&Arc<dyn TicketWorkflow>, &TicketSettings), ApiError> {
    match (&s.workflow, &s.ticket_settings) {
        (Some(w), Some(t)) => Ok((w, t)),
        _ => Err(ApiError::NotFound("ticket workflow")),
    }
}

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

/// Who may comment on a ticket or attach a photo: anyone who works tickets.
const WORKS_TICKETS: [Permission; 4] = [
    Permission::CreateTickets,
    Permission::TransferTickets,
    Permission::CompleteTickets,
    Permission::CloseTickets,
];

/// A ticket as the console shows it: the stored ticket and whether it is overdue now.
#[derive(Serialize)]
pub(crate) struct TicketView {
    #[serde(flatten)]
    ticket: Ticket,
    overdue: bool,
}

pub(crate) fn view(t: Ticket, now: DateTime<Utc>) -> TicketView {
    TicketView {
        overdue: t.is_overdue(now),
        ticket: t,
    }
}

/// `GET /api/v1/tickets` and the export: the journal's filters. Dates are the company's
/// local days (`from`..=`to`, `YYYY-MM-DD`); `status=overdue` means open and past the
/// deadline.
#[derive(Debug, Default, Deserialize)]
pub struct JournalQuery {
    emergency: Option<bool>,
    status: Option<String>,
    topic: Option<String>,
    building_id: Option<i64>,
    executor_id: Option<i64>,
    department: Option<String>,
    from: Option<String>,
    to: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u32>,
    format: Option<String>,
}

fn local_midnight(tz: chrono_tz::Tz, d: NaiveDate) -> Result<DateTime<Utc>, ApiError> {
    let naive = d
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| ApiError::BadRequest("bad date".into()))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ApiError::BadRequest("bad date".into()))
}

fn date(s: &str, what: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::BadRequest(format!("{what}: ожидается дата ГГГГ-ММ-ДД, получено «{s}»"))
    })
}

/// The store filter of a journal query for this caller (their visibility applied).
pub(crate) fn journal_filter(
    q: &JournalQuery,
    c: &Caller,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<TicketFilter, ApiError> {
    let mut f = match q.emergency {
        Some(e) => TicketFilter::emergency(e),
        None => TicketFilter::default(),
    };
    let (topics, buildings) = auth::visibility_filter(&c.who.visibility);
    f = f
        .with_topics(topics)
        .with_buildings(buildings.map(|b| b.into_iter().map(BuildingId).collect()));
    match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => {}
        Some("overdue") => f.overdue_at = Some(now),
        Some(s) if TICKET_STATUSES.contains(&s) => f.status = Some(s.to_string()),
        Some(s) => {
            return Err(ApiError::BadRequest(format!(
                "status «{s}»: ожидается одно из {}, overdue",
                TICKET_STATUSES.join(", ")
            )))
        }
    }
    f.topic = q.topic.clone().filter(|t| !t.trim().is_empty());
    f.building = q.building_id.map(BuildingId);
    f.executor_id = q.executor_id;
    f.department = q.department.clone().filter(|d| !d.trim().is_empty());
    if let Some(from) = q.from.as_deref().filter(|s| !s.is_empty()) {
        f.created_from = Some(local_midnight(tz, date(from, "from")?)?);
    }
    if let Some(to) = q.to.as_deref().filter(|s| !s.is_empty()) {
        let next = date(to, "to")?
            .succ_opt()
            .ok_or_else(|| ApiError::BadRequest("to: bad date".into()))?;
        f.created_before = Some(local_midnight(tz, next)?);
    }
    Ok(f)
}

/// `GET /api/v1/ticket-meta`: the topic tree, departments, statuses, buildings and — for
/// those who assign tickets (transfer_tickets) — the executors.
pub(crate) async fn meta(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (_, t) = workflow(&s)?;
    let buildings = match &t.registry {
        Some(r) => r
            .buildings()
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|b| {
                c.who.visibility.buildings.is_empty()
                    || c.who.visibility.buildings.contains(&b.id.0)
            })
            .map(|b| serde_json::json!({"id": b.id.0, "address": b.address}))
            .collect(),
        None => Vec::new(),
    };
    let topics: Vec<&TopicInfo> = t
        .topics
        .iter()
        .filter(|x| c.who.visibility.topics.is_empty() || c.who.visibility.topics.contains(&x.code))
        .collect();
    let mut executors = Vec::new();
    if c.who.can(Permission::TransferTickets) {
        if let Some(a) = &s.access {
            for u in a.list_users().await.map_err(internal)? {
                if u.role == Role::Executor && !u.disabled {
                    executors.push(serde_json::json!({"id": u.id, "name": display(&u)}));
                }
            }
        }
    }
    Ok(Json(serde_json::json!({
        "topics": topics,
        "departments": t.departments,
        "statuses": TICKET_STATUSES,
        "buildings": buildings,
        "executors": executors,
        "photo_max_bytes": t.photo_max_bytes,
        "time_zone": t.time_zone.name(),
    })))
}

fn display(u: &zvonar_access::User) -> String {
    if u.display_name.trim().is_empty() {
        u.login.clone()
    } else {
        u.display_name.clone()
    }
}

/// `POST /api/v1/tickets` body: a ticket entered by a person, during a call (`call_id`:
/// the ticket is linked to it, its recording plays in the ticket card) or without one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    topic: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    emergency: bool,
    building_id: Option<i64>,
    apartment: Option<String>,
    call_id: Option<String>,
    /// The resident's phone number (any Russian form; stored as E.164).
    caller: Option<String>,
}

/// `POST /api/v1/tickets` (create_tickets) → 201 with the ticket and its deadline; 400 for
/// an unknown topic, building or call, or a bad phone number; 403 when the topic or
/// building is outside the caller's visibility.
pub(crate) async fn create(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<NewTicket>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::CreateTickets)?;
    let topic = b.topic.trim().to_string();
    if topic.is_empty() {
        return Err(ApiError::BadRequest("topic is required".into()));
    }
    if !auth::sees(&c, &topic, b.building_id) {
        return Err(ApiError::Forbidden(
            "тема или дом вне вашей зоны видимости".into(),
        ));
    }
    let settings = s.ticket_settings.as_ref();
    if let Some(t) = settings.filter(|t| !t.topics.is_empty()) {
        if !t.topics.iter().any(|x| x.code == topic) {
            return Err(ApiError::BadRequest(format!("неизвестная тема «{topic}»")));
        }
    }
    if let (Some(id), Some(r)) = (b.building_id, settings.and_then(|t| t.registry.as_ref())) {
        if !r
            .buildings()
            .await
            .map_err(internal)?
            .iter()
            .any(|x| x.id.0 == id)
        {
            return Err(ApiError::BadRequest(format!("неизвестный дом {id}")));
        }
    }
    let call = match b
        .call_id
        .as_deref()
        .map(str::trim)
        .filter(|x| !x.is_empty())
    {
        Some(id) => {
            let call = CallId(id.to_string());
            if s.store.call(&call).await.map_err(internal)?.is_none() {
                return Err(ApiError::BadRequest(format!("нет звонка {id}")));
            }
            Some(call)
        }
        None => None,
    };
    let caller = match b.caller.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
        Some(p) => Some(
            PhoneNumber::parse_ru(p)
                .map_err(|e| ApiError::BadRequest(format!("телефон «{p}»: {e}")))?,
        ),
        None => None,
    };
    let req = TicketRequest {
        caller,
        account_id: None,
        building_id: b.building_id.map(BuildingId),
        premises_id: None,
        apartment: b
            .apartment
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty()),
        topic,
        emergency: b.emergency,
        description: b.description.trim().to_string(),
        outage_id: None,
        unfinished: false,
    };
    let now = Utc::now();
    let t = match &s.workflow {
        Some(w) => w
            .file_ticket_by(call.as_ref(), now, &req, &c.who.login)
            .await
            .map_err(internal)?,
        None => s
            .store
            .file_ticket(call.as_ref(), now, &req)
            .await
            .map_err(internal)?,
    };
    audit(
        &s,
        c.audit("ticket_created")
            .target(format!("ticket:{}", t.number))
            .details(serde_json::json!({
                "topic": t.topic, "emergency": t.emergency, "building_id": t.building_id,
                "call_id": t.call_id, "due_at": t.due_at,
            })),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(t, now))))
}

/// `GET /api/v1/tickets`: the journal page, newest first (open emergencies first), with
/// `X-Total-Count` for paging.
pub(crate) async fn list(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<JournalQuery>,
) -> Result<Response, ApiError> {
    let (limit, offset) = crate::routes::Page::new(q.limit, q.offset).get()?;
    let tz = s
        .ticket_settings
        .as_ref()
        .map(|t| t.time_zone)
        .unwrap_or(chrono_tz::Europe::Moscow);
    let now = Utc::now();
    let filter = journal_filter(&q, &c, tz, now)?;
    let list = s
        .store
        .list_tickets(&filter, limit, offset)
        .await
        .map_err(internal)?;
    let views: Vec<TicketView> = list.into_iter().map(|t| view(t, now)).collect();
    let mut resp = Json(views).into_response();
    if let Some(w) = &s.workflow {
        let total = w.count_tickets(&filter).await.map_err(internal)?;
        resp.headers_mut()
            .insert("x-total-count", HeaderValue::from(total));
    }
    Ok(resp)
}

/// `GET /api/v1/tickets/{id}`: the ticket with its call's timeline, comments and photos.
pub(crate) async fn card(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let d = visible_ticket(&s, &c, id).await?;
    let now = Utc::now();
    let (comments, photos) = match &s.workflow {
        Some(w) => (
            w.comments(TicketId(id)).await.map_err(internal)?,
            w.photos(TicketId(id)).await.map_err(internal)?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    let mut v = serde_json::to_value(&d).map_err(internal)?;
    v["ticket"] = serde_json::to_value(view(d.ticket, now)).map_err(internal)?;
    v["comments"] = serde_json::to_value(comments).map_err(internal)?;
    v["photos"] = serde_json::to_value(photos).map_err(internal)?;
    v["rating"] = match &s.ratings {
        Some(r) => serde_json::to_value(r.rating(TicketId(id)).await.map_err(internal)?)
            .map_err(internal)?,
        None => serde_json::Value::Null,
    };
    v["escalation"] = crate::duty::card_part(&s, id).await?;
    Ok(Json(v))
}

fn open(t: &Ticket) -> Result<(), ApiError> {
    if CLOSED_STATUSES.contains(&t.status.as_str()) {
        Err(ApiError::Conflict(format!(
            "заявка {} уже закрыта",
            t.number
        )))
    } else {
        Ok(())
    }
}

async fn change(
    s: &AppState,
    c: &Caller,
    id: i64,
    ch: &TicketChange,
    action: &str,
    details: impl FnOnce(&Ticket, &Ticket) -> serde_json::Value,
) -> Result<Json<TicketView>, ApiError> {
    let before = visible_ticket(s, c, id).await?.ticket;
    open(&before)?;
    let t = s
        .store
        .update_ticket(TicketId(id), ch)
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound("ticket"))?;
    audit(
        s,
        c.audit(action)
            .target(format!("ticket:{}", t.number))
            .details(details(&before, &t)),
    )
    .await?;
    Ok(Json(view(t, Utc::now())))
}

/// `POST /api/v1/tickets/{id}/assign` body: a department, an executor, or both (an
/// assignment replaces the previous one: passing the ticket on).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    department: Option<String>,
    executor_id: Option<i64>,
}

/// `POST /api/v1/tickets/{id}/assign {"department","executor_id"}` (transfer_tickets):
/// assigns or passes on; 400 for an unknown department or executor, 409 when closed.
pub(crate) async fn assign(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<AssignBody>,
) -> Result<Json<TicketView>, ApiError> {
    c.need(Permission::TransferTickets)?;
    let (_, t) = workflow(&s)?;
    let department = b
        .department
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    if let Some(d) = &department {
        if !t.departments.iter().any(|x| x == d) {
            return Err(ApiError::BadRequest(format!("неизвестный отдел «{d}»")));
        }
    }
    let executor = match b.executor_id {
        Some(uid) => {
            let a = s
                .access
                .as_ref()
                .ok_or(ApiError::NotFound("user accounts"))?;
            let u = a
                .list_users()
                .await
                .map_err(internal)?
                .into_iter()
                .find(|u| u.id == uid && !u.disabled)
                .ok_or_else(|| ApiError::BadRequest(format!("нет активного пользователя {uid}")))?;
            Some((u.id, display(&u)))
        }
        None => None,
    };
    if department.is_none() && executor.is_none() {
        return Err(ApiError::BadRequest("укажите отдел или исполнителя".into()));
    }
    let ch = TicketChange::assign(Assignment {
        department,
        executor,
    });
    change(&s, &c, id, &ch, "ticket_assigned", |b, t| {
        serde_json::json!({
            "before": {"department": b.department, "executor_id": b.executor_id},
            "after": {"department": t.department, "executor_id": t.executor_id, "executor": t.executor},
        })
    })
    .await
}

/// `POST /api/v1/tickets/{id}/status` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: String,
}

/// `POST /api/v1/tickets/{id}/status {"status": "in_progress"|"new"}`: taken into work or
/// put back (transfer_tickets or complete_tickets); `done` and `closed` have their own
/// actions. 409 when closed.
pub(crate) async fn status(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<StatusBody>,
) -> Result<Json<TicketView>, ApiError> {
    need_any(
        &c,
        &[Permission::TransferTickets, Permission::CompleteTickets],
    )?;
    let st = b.status.trim();
    if !["new", "in_progress"].contains(&st) {
        return Err(ApiError::BadRequest(format!(
            "status «{st}»: here only new or in_progress (complete and close have their own actions)"
        )));
    }
    change(
        &s,
        &c,
        id,
        &TicketChange::status(st),
        "ticket_status_changed",
        |b, t| serde_json::json!({"status_before": b.status, "status": t.status}),
    )
    .await
}

/// `POST /api/v1/tickets/{id}/complete` body (optional: an empty body completes without a
/// result, as before).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    #[serde(default)]
    result: String,
}

/// `POST /api/v1/tickets/{id}/complete {"result"}` (complete_tickets): status `done` with
/// what was done; 409 when closed.
pub(crate) async fn complete(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<TicketView>, ApiError> {
    c.need(Permission::CompleteTickets)?;
    let b: CompleteBody = if body.iter().all(u8::is_ascii_whitespace) {
        CompleteBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("expected {{\"result\"}}: {e}")))?
    };
    let ch = TicketChange::status("done").with_result(b.result.trim());
    change(&s, &c, id, &ch, "ticket_completed", |b, t| {
        serde_json::json!({"status_before": b.status, "status": t.status, "result": t.result})
    })
    .await
}

/// `POST /api/v1/tickets/{id}/comments` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    text: String,
}

/// `POST /api/v1/tickets/{id}/comments {"text"}` (anyone who works tickets: create,
/// transfer, complete or close) → 201 with the comment; 400 empty or over 4000 characters.
pub(crate) async fn comment(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<CommentBody>,
) -> Result<impl IntoResponse, ApiError> {
    need_any(&c, &WORKS_TICKETS)?;
    let (w, _) = workflow(&s)?;
    let text = b.text.trim();
    if text.is_empty() || text.chars().count() > 4000 {
        return Err(ApiError::BadRequest(
            "комментарий пуст или длиннее 4000 символов".into(),
        ));
    }
    let t = visible_ticket(&s, &c, id).await?.ticket;
    let cm = w
        .add_comment(TicketId(id), Utc::now(), &c.who.login, text)
        .await
        .map_err(internal)?
        .ok_or(ApiError::NotFound("ticket"))?;
    audit(
        &s,
        c.audit("ticket_commented")
            .target(format!("ticket:{}", t.number))
            .details(serde_json::json!({"comment_id": cm.id})),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(cm)))
}

/// The image type of `bytes` by its first bytes (JPEG, PNG, WebP), with its extension.
pub fn sniff_image(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

/// `?name=` of a photo upload.
#[derive(Debug, Deserialize)]
pub struct PhotoQuery {
    name: Option<String>,
}

/// `POST /api/v1/tickets/{id}/photos?name=` with the image as the body (`Content-Type`
/// image/jpeg, image/png or image/webp, and the bytes must be that type): anyone who
/// works tickets → 201 with the photo; 413 over `[tickets] photo_max_mib`, 415 not one of
/// those images. Stored as `<photos>/<ticket id>/<uuid>.<ext>`.
pub(crate) async fn upload_photo(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Query(q): Query<PhotoQuery>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<impl IntoResponse, ApiError> {
    need_any(&c, &WORKS_TICKETS)?;
    let (w, settings) = workflow(&s)?;
    let t = visible_ticket(&s, &c, id).await?.ticket;
    let bytes = axum::body::to_bytes(body, settings.photo_max_bytes)
        .await
        .map_err(|_| {
            ApiError::TooLarge(format!(
                "фото больше {} МиБ",
                settings.photo_max_bytes >> 20
            ))
        })?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (kind, ext) = sniff_image(&bytes)
        .filter(|(k, _)| *k == declared)
        .ok_or_else(|| {
            ApiError::UnsupportedMedia(
                "нужна фотография JPEG, PNG или WebP (тип файла не совпадает с содержимым)".into(),
            )
        })?;
    let rel = format!("{id}/{}.{ext}", uuid::Uuid::new_v4());
    let path = settings.photos_dir.join(&rel);
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(internal)?;
    }
    tokio::fs::write(&path, &bytes).await.map_err(internal)?;
    let name: String = q
        .name
        .unwrap_or_default()
        .chars()
        .filter(|ch| !ch.is_control())
        .take(200)
        .collect();
    let photo = Photo {
        id: 0,
        ticket_id: id,
        at: Utc::now(),
        author: c.who.login.clone(),
        file: rel,
        content_type: kind.to_string(),
        size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        name,
    };
    let Some(photo) = w.add_photo(TicketId(id), &photo).await.map_err(internal)? else {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(ApiError::NotFound("ticket"));
    };
    audit(
        &s,
        c.audit("ticket_photo_added")
            .target(format!("ticket:{}", t.number))
            .details(serde_json::json!({"photo_id": photo.id, "bytes": photo.size_bytes})),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(photo)))
}

/// `GET /api/v1/tickets/{id}/photos/{photo_id}`: the image, to those who see the ticket.
pub(crate) async fn photo(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((id, photo_id)): Path<(i64, i64)>,
) -> Result<Response, ApiError> {
    let (w, settings) = workflow(&s)?;
    visible_ticket(&s, &c, id).await?;
    let p = w
        .photo(photo_id)
        .await
        .map_err(internal)?
        .filter(|p| p.ticket_id == id)
        .ok_or(ApiError::NotFound("photo"))?;
    if p.file.split('/').any(|x| x == ".." || x.is_empty()) || p.file.starts_with('/') {
        return Err(ApiError::NotFound("photo"));
    }
    let bytes = tokio::fs::read(settings.photos_dir.join(&p.file))
        .await
        .map_err(|_| ApiError::NotFound("photo"))?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&p.content_type).map_err(internal)?,
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(resp)
}

const STATUS_RU: [(&str, &str); 5] = [
    ("new", "новая"),
    ("in_progress", "в работе"),
    ("done", "выполнена"),
    ("closed", "закрыта"),
    ("cancelled", "отменена"),
];

/// The Russian name of a status.
pub fn status_ru(s: &str) -> &str {
    STATUS_RU
        .iter()
        .find(|(k, _)| *k == s)
        .map(|(_, v)| *v)
        .unwrap_or(s)
}

/// The export's columns, in order.
pub const EXPORT_COLUMNS: [&str; 16] = [
    "Номер",
    "Создана",
    "Срок",
    "Статус",
    "Просрочена",
    "Аварийная",
    "Тема",
    "Адрес",
    "Квартира",
    "Телефон",
    "Описание",
    "Отдел",
    "Исполнитель",
    "Результат",
    "Создал",
    "Звонок",
];

/// `GET /api/v1/tickets/export?format=csv|xlsx&…journal filters…`: the whole filtered
/// journal (up to [`MAX_EXPORT_ROWS`]; more answers 400) as a file. CSV: UTF-8 with a BOM,
/// `;`-separated (what Excel in a Russian locale opens), RFC 4180 quoting. Times in the
/// company's time zone. Audited as `tickets_exported`.
pub(crate) async fn export(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<JournalQuery>,
) -> Result<Response, ApiError> {
    let (w, settings) = workflow(&s)?;
    let format = q.format.clone().unwrap_or_else(|| "csv".into());
    if format != "csv" && format != "xlsx" {
        return Err(ApiError::BadRequest("format: csv или xlsx".into()));
    }
    let now = Utc::now();
    let filter = journal_filter(&q, &c, settings.time_zone, now)?;
    let total = w.count_tickets(&filter).await.map_err(internal)?;
    if total > MAX_EXPORT_ROWS {
        return Err(ApiError::BadRequest(format!(
            "в выгрузке {total} заявок, больше {MAX_EXPORT_ROWS}: сузьте фильтр"
        )));
    }
    let tickets = s
        .store
        .list_tickets(
            &filter,
            u32::try_from(MAX_EXPORT_ROWS).unwrap_or(u32::MAX),
            0,
        )
        .await
        .map_err(internal)?;
    let addresses: std::collections::HashMap<i64, String> = match &settings.registry {
        Some(r) => r
            .buildings()
            .await
            .map_err(internal)?
            .into_iter()
            .map(|b| (b.id.0, b.address))
            .collect(),
        None => Default::default(),
    };
    let tz = settings.time_zone;
    let local = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string())
            .unwrap_or_default()
    };
    let topic_name = |code: &str| {
        settings
            .topics
            .iter()
            .find(|x| x.code == code)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let rows: Vec<[String; 16]> = tickets
        .iter()
        .map(|t| {
            [
                t.number.clone(),
                local(Some(t.created_at)),
                local(t.due_at),
                status_ru(&t.status).to_string(),
                if t.is_overdue(now) { "да" } else { "нет" }.into(),
                if t.emergency { "да" } else { "нет" }.into(),
                topic_name(&t.topic),
                t.building_id
                    .map(|b| {
                        addresses
                            .get(&b.0)
                            .cloned()
                            .unwrap_or_else(|| format!("дом {}", b.0))
                    })
                    .unwrap_or_default(),
                t.apartment.clone().unwrap_or_default(),
                t.caller
                    .as_ref()
                    .map(|p| p.as_e164().to_string())
                    .unwrap_or_default(),
                t.description.clone(),
                t.department.clone().unwrap_or_default(),
                t.executor.clone().unwrap_or_default(),
                t.result.clone().unwrap_or_default(),
                t.created_by.clone().unwrap_or_else(|| "робот".into()),
                t.call_id.as_ref().map(|c| c.0.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    let stamp = now.with_timezone(&tz).format("%Y-%m-%d_%H%M");
    let (body, mime, name) = if format == "csv" {
        (
            csv_bytes(&rows)?,
            "text/csv; charset=utf-8",
            format!("zayavki_{stamp}.csv"),
        )
    } else {
        (
            xlsx_bytes(&rows)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            format!("zayavki_{stamp}.xlsx"),
        )
    };
    audit(
        &s,
        c.audit("tickets_exported").details(serde_json::json!({
            "format": format, "rows": rows.len(),
            "filter": {"status": q.status, "topic": q.topic, "building_id": q.building_id,
                       "executor_id": q.executor_id, "from": q.from, "to": q.to},
        })),
    )
    .await?;
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).map_err(internal)?,
    );
    Ok(resp)
}

fn csv_bytes(rows: &[[String; 16]]) -> Result<Vec<u8>, ApiError> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        w.write_record(EXPORT_COLUMNS).map_err(internal)?;
        for r in rows {
            w.write_record(r).map_err(internal)?;
        }
        w.flush().map_err(internal)?;
    }
    Ok(out)
}

fn xlsx_bytes(rows: &[[String; 16]]) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Заявки").map_err(internal)?;
    let bold = Format::new().set_bold();
    for (col, name) in EXPORT_COLUMNS.iter().enumerate() {
        let col = u16::try_from(col).map_err(internal)?;
        ws.write_string_with_format(0, col, *name, &bold)
            .map_err(internal)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = u32::try_from(i + 1).map_err(internal)?;
        for (col, v) in r.iter().enumerate() {
            let col = u16::try_from(col).map_err(internal)?;
            ws.write_string(row, col, v).map_err(internal)?;
        }
    }
    ws.set_freeze_panes(1, 0).map_err(internal)?;
    ws.autofit();
    wb.save_to_buffer().map_err(internal)
}
