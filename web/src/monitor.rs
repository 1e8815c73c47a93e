//! The supervisor's live monitor (permission `view_monitor`, else 403):
//!
//! - `GET /api/v1/monitor`: one snapshot as JSON;
//! - `GET /api/v1/monitor/ws`: a WebSocket (RFC 6455) that sends the same snapshot as a text
//!   message at once, after every change of the queues (a call arrives, is answered,
//!   abandoned, overflows; an agent logs in, pauses, rings…; bursts coalesce), and at least
//!   every [`PUSH_EVERY`] (tickets, times in state; [`crate::AppState::with_monitor_timing`]). The browser authenticates the upgrade with
//!   its session cookie like any other request; a handshake whose `Origin` is another site
//!   is refused (403, cross-site WebSocket hijacking). A session is checked again every
//!   [`RECHECK_EVERY`]: after logout, expiry, a disabled user or a lost permission the server
//!   closes the socket with code 4401 or 4403. The client sends nothing (pings are answered).
//!
//! The snapshot: the engine's queue part ([`crate::QueueControl::monitor`]: `at`, `day`,
//! `time_zone`, `service_level_s`, `short_abandon_s`, `queues` with their calls and
//! `today`'s KPIs, `total`, `agents` with state and time in state — each agent also gets its
//! user's `name`), or `queues: []`, `agents: []`, `total: null` when the dialplan declares no
//! queue; and `tickets` (zvonar_dispatch::TicketCounts within the viewer's topic/building
//! visibility: `open`, `overdue`, `filed_today`, `by_status`, `by_building` with `address`,
//! `by_executor`), `null` without the ticket workflow.

use crate::auth::{self, internal, Caller};
use crate::{ApiError, AppState};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use std::time::Duration;
use zvonar_access::{AuthMethod, Permission};
use zvonar_models::BuildingId;

/// The longest time between two pushes on the monitor's WebSocket.
pub const PUSH_EVERY: Duration = Duration::from_secs(3);

/// How often a WebSocket's session is checked again (logout, expiry, permission).
pub const RECHECK_EVERY: Duration = Duration::from_secs(30);

/// WebSocket close code: the session has ended (log in again).
pub const CLOSE_SESSION_ENDED: u16 = 4401;
/// WebSocket close code: the user may no longer view the monitor.
pub const CLOSE_FORBIDDEN: u16 = 4403;

/// The snapshot for `c` (see the module docs).
async fn snapshot(s: &AppState, c: &Caller) -> Result<serde_json::Value, ApiError> {
    let mut doc = match &s.queues {
        Some(q) => q.monitor().await?,
        None => serde_json::json!({
            "at": Utc::now(),
            "queues": [],
            "total": null,
            "agents": [],
        }),
    };
    if let (Some(a), Some(agents)) = (&s.access, doc["agents"].as_array_mut()) {
        if !agents.is_empty() {
            let users = a.list_users().await.map_err(internal)?;
            for agent in agents {
                let name = users
                    .iter()
                    .find(|u| Some(u.login.as_str()) == agent["login"].as_str())
                    .map(|u| u.display_name.clone())
                    .filter(|n| !n.trim().is_empty());
                agent["name"] = serde_json::json!(name);
            }
        }
    }
    doc["tickets"] = tickets(s, c).await?;
    Ok(doc)
}

/// Ticket figures within `c`'s visibility; `null` without the ticket workflow.
async fn tickets(s: &AppState, c: &Caller) -> Result<serde_json::Value, ApiError> {
    let (Some(w), Some(t)) = (&s.workflow, &s.ticket_settings) else {
        return Ok(serde_json::Value::Null);
    };
    let (topics, buildings) = auth::visibility_filter(&c.who.visibility);
    let filter = zvonar_dispatch::TicketFilter::default()
        .with_topics(topics)
        .with_buildings(buildings.map(|b| b.into_iter().map(BuildingId).collect()));
    let now = Utc::now();
    let counts = w
        .ticket_counts(&filter, now, day_start(now, t.time_zone))
        .await
        .map_err(internal)?;
    let mut doc = serde_json::to_value(&counts).map_err(internal)?;
    if let Some(list) = doc["by_building"].as_array_mut() {
        let all = match &t.registry {
            Some(r) if !list.is_empty() => r.buildings().await.map_err(internal)?,
            _ => Vec::new(),
        };
        for b in list {
            let address = b["building_id"]
                .as_i64()
                .and_then(|id| all.iter().find(|x| x.id.0 == id))
                .map(|x| x.address.clone());
            b["address"] = serde_json::json!(address);
        }
    }
    Ok(doc)
}

/// Local midnight of `now`'s day in `tz` (the first valid local time on a day that starts
/// in a DST gap).
fn day_start(now: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    let date = now.with_timezone(&tz).date_naive();
    (0..=180)
        .find_map(|m| {
            tz.from_local_datetime(
                &date.and_time(chrono::NaiveTime::MIN + chrono::Duration::minutes(m)),
            )
            .earliest()
        })
        .map_or(now, |t| t.with_timezone(&Utc))
}

/// `GET /api/v1/monitor`: view_monitor.
pub(crate) async fn get(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<Json<serde_json::Value>, ApiError> {
    c.need(Permission::ViewMonitor)?;
    Ok(Json(snapshot(&s, &c).await?))
}

/// `GET /api/v1/monitor/ws`: view_monitor, then the WebSocket upgrade.
pub(crate) async fn ws(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    c.need(Permission::ViewMonitor)?;
    if !same_origin(&headers) {
        return Err(ApiError::Forbidden(
            "WebSocket монитора открывается только со страницы консоли (Origin)".into(),
        ));
    }
    let upgrade = upgrade.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let session = auth::cookie(&headers, crate::SESSION_COOKIE).map(str::to_string);
    Ok(upgrade
        .on_upgrade(move |socket| push(socket, s, c, session))
        .into_response())
}

/// No `Origin` (not a browser), or one whose host is the request's `Host`.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// Why the push loop stops.
enum Stop {
    /// The client went away (or the socket failed).
    Gone,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// Whether `c`'s session still holds view_monitor; `Err` with the close to send.
async fn recheck(s: &AppState, c: &Caller, session: Option<&str>) -> Result<(), Stop> {
    let (Some(a), AuthMethod::Session { .. }, Some(sid)) = (&s.access, &c.who.method, session)
    else {
        return Ok(()); // an API key or the service token: checked at the upgrade
    };
    match a.session(sid).await {
        Ok(Some(p)) if p.can(Permission::ViewMonitor) => Ok(()),
        Ok(Some(_)) => Err(Stop::Close(CLOSE_FORBIDDEN, "нет права view_monitor")),
        Ok(None) => Err(Stop::Close(CLOSE_SESSION_ENDED, "сеанс закончился")),
        Err(e) => {
            tracing::warn!(error = %e, "monitor: session check failed; trying again later");
            Ok(())
        }
    }
}

/// Sends snapshots until the client goes or the session ends.
async fn push(mut socket: WebSocket, s: AppState, c: Caller, session: Option<String>) {
    let mut changes = s.queues.as_ref().map(|q| q.changes());
    let (push_every, recheck_every) = s.monitor_timing;
    let mut tick = tokio::time::interval(push_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut recheck_at = tokio::time::Instant::now() + recheck_every;
    let stop = loop {
        if tokio::time::Instant::now() >= recheck_at {
            recheck_at = tokio::time::Instant::now() + recheck_every;
            if let Err(stop) = recheck(&s, &c, session.as_deref()).await {
                break stop;
            }
        }
        match snapshot(&s, &c).await {
            Ok(doc) => {
                if socket
                    .send(Message::Text(doc.to_string().into()))
                    .await
                    .is_err()
                {
                    break Stop::Gone;
                }
            }
            Err(e) => tracing::error!(error = ?e, "monitor snapshot failed"),
        }
        tick.reset();
        // Wait for a change, the tick, or the client.
        let next = loop {
            tokio::select! {
                changed = async {
                    match changes.as_mut() {
                        Some(rx) => rx.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                } => {
                    if !changed {
                        changes = None; // the runtime stopped: ticks only
                        continue;
                    }
                    break None;
                }
                _ = tick.tick() => break None,
                msg = socket.recv() => match msg {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break Some(Stop::Gone),
                    Some(Ok(_)) => continue, // pings are answered by axum; nothing else is read
                },
            }
        };
        if let Some(stop) = next {
            break stop;
        }
    };
    if let Stop::Close(code, reason) = stop {
        let _ = socket
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_the_consoles_own_origin_may_open_the_socket() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&h), "no Origin: not a browser");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn today_starts_at_local_midnight() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 22, 30, 0).unwrap();
        assert_eq!(
            day_start(now, chrono_tz::Europe::Moscow),
            Utc.with_ymd_and_hms(2026, 11, 29, 21, 0, 0).unwrap()
        );
    }
}
