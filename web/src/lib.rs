//! zvonar web: the HTTP API (axum).
//!
//! | method and path | what |
//! |---|---|
//! | `GET /console/…` | the operators' console (static files, see `web/console/README.md`); `/` redirects there; no token (the page logs in) |
//! | `GET /health` | ASR, TTS, database and disk each checked for real: 200, or 503 naming the component that is down; no token |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /api/v1/tickets?emergency=&status=&topic=&building_id=&executor_id=&department=&from=&to=&limit=&offset=` | the journal: open emergencies first, then newest first; `status=overdue` open and past the deadline; `from`/`to` local dates `YYYY-MM-DD` (inclusive); each ticket with `overdue`; `X-Total-Count` |
//! | `GET /api/v1/tickets/export?format=csv\|xlsx&…` | the filtered journal as a file (≤ 10 000 rows; CSV `;`-separated UTF-8 with BOM) |
//! | `GET /api/v1/ticket-meta` | topic tree with SLA hours, departments, statuses, buildings, executors (those who may assign) |
//! | `GET /api/v1/tickets/{id}` | one ticket with its call's timeline (what was said and heard), `comments`, `photos` |
//! | `GET /api/v1/calls?limit=&offset=` | CDRs, newest first |
//! | `GET /api/v1/calls/{call_id}` | one CDR with its timeline |
//! | `GET /api/v1/calls/{call_id}/recording` | the WAV; HTTP range requests (RFC 9110 §14) for seeking; 410 once deleted by retention |
//! | `GET /api/v1/callbacks` | callback requests |
//! | `POST /api/v1/tickets` | create a ticket `{"topic","description","emergency","building_id","apartment","call_id","caller"}` → 201 with its deadline (`due_at`) from the topic's SLA |
//! | `POST /api/v1/tickets/{id}/assign` | `{"department","executor_id"}`: assign or pass on; 409 when closed |
//! | `POST /api/v1/tickets/{id}/status` | `{"status": "in_progress"\|"new"}`; 409 when closed |
//! | `POST /api/v1/tickets/{id}/complete` | status `done`, optional `{"result"}`; 409 when already closed |
//! | `POST /api/v1/tickets/{id}/comments` | `{"text"}` → 201 |
//! | `POST /api/v1/tickets/{id}/photos?name=` | the image as the body (JPEG/PNG/WebP, checked by content; ≤ `[tickets] photo_max_mib`: 413, else 415) → 201 |
//! | `GET /api/v1/tickets/{id}/photos/{photo_id}` | the photo, to those who see the ticket |
//! | `POST /api/v1/tickets/{id}/close` | status `closed`; 409 when already closed |
//! | `PUT /api/v1/tickets/{id}/topic` | change the topic `{"topic"}` |
//! | `POST /api/v1/login` | `{"login","password"}` → 200 with the user and `csrf_token`, session cookie; 401 wrong login or password, 423 locked, 429 too many attempts from this address (`Retry-After`); no token |
//! | `POST /api/v1/logout` | ends the session, clears the cookie (204) |
//! | `GET /api/v1/me` | who I am: login, role, permissions, visibility, `must_change_password`, and the company's `time_zone` (IANA) the console shows times in |
//! | `POST /api/v1/me/password` | `{"current_password","new_password"}` (204) |
//! | `GET /api/v1/users`, `POST /api/v1/users` | list; create `{"login","display_name","role","topics","buildings","password"}` (must change it at first login) → 201, 409 login taken |
//! | `PATCH /api/v1/users/{id}` | any of `display_name`, `role`, `disabled`, `topics`, `buildings` |
//! | `POST /api/v1/users/{id}/password` | admin's reset `{"password"}`: their sessions end, change forced at next login (204) |
//! | `GET /api/v1/roles`, `PUT /api/v1/roles/{role}` | every role's permissions; replace one role's `{"permissions": [...]}` |
//! | `GET /api/v1/keys`, `POST /api/v1/keys`, `DELETE /api/v1/keys/{id}` | my API keys (`?all=true`: everyone's); create `{"name"}` → 201 with `key` shown once; revoke (204) |
//! | `GET /api/v1/audit?limit=&offset=` | the audit log, newest first: who, what, when, from which IP |
//! | `GET /api/v1/queue` | the operator queues (ACD) now: `queues` (name, strategy, waiting), `calls` (call_id, queue, emergency, waiting_s, position, ringing agents, agent, reason), `agents` (login, state, pause_reason, endpoint, call); 404 when the dialplan declares no queue |
//! | `GET /api/v1/queue/calls/{call_id}` | a call that is or was queued, with the robot's `context` for the operator's card (caller, account, address, apartment, `heard` with confidence, `draft` ticket, `ticket_number`, `recording` so far), `state`, `agent`, times |
//! | `GET /api/v1/queue/agent` | my agent state (`state`, `pause_reason`, `endpoint`, `call`) |
//! | `POST /api/v1/queue/agent/login` | start taking calls `{"skills": [...]}` (optional) on the phone registered with my SIP account; 409 when none is registered |
//! | `POST /api/v1/queue/agent/logout`, `…/resume`, `…/pause` `{"reason"}` | stop (after the call in progress), ready again, pause with a reason; 409 when logged out |
//! | `POST /api/v1/queue/agent/softphone` | take_calls: the console softphone's SIP credential `{username, realm, password, ws_port, wss_port, expires_in_s}` (a port is `null` when its listener is off): my SIP account and a fresh random password for this console session only (`Cache-Control: no-store`; audited); 409 without a SIP account or without `[sip] ws_listen`/`wss_listen` |
//! | `GET /api/v1/monitor` | the live monitor: agents with state and time in state, calls in each queue with wait and position, today's KPIs per queue and in total (offered, answered, abandoned, service level within `[monitor] service_level_s`, within 5 minutes (ПП 416), ASA, abandonment rate, AHT, occupancy), tickets by status, building and executor; see module `monitor` |
//! | `GET /api/v1/monitor/ws` | WebSocket: the same snapshot pushed on every queue change and at least every 3 s; same-origin only; closed with 4401/4403 when the session ends or loses the permission |
//! | `POST /api/v1/campaigns` | create an outbound campaign (not started): `name`, `template` (or `template_id`: a stored template's text and question are copied, unless given), `question`?, `start`, `end` (RFC 3339), `time_zone` (IANA), `channels`, `per_minute`, `retries` {`busy`, `busy_gap_min`, `no_answer`, `no_answer_gap_min`}, `ring_timeout_s`?, `debt`?, `recipients` [{`phone`, `consent`, `id`?, `fio`?, `address`?, `account`?, `debt_kopecks`?, `due_date`?, `period`?}] and/or `selection` (the filter of `GET /api/v1/campaigns/recipients`: `organisations`, `districts`, `buildings`, `premises`, `accounts`, `debt` {`min_kopecks`, `min_months`}); 201 with the progress document |
//! | `GET /api/v1/campaigns`, `GET /api/v1/campaigns/{id}` | campaigns; one campaign's progress: `state` (draft, running, paused, cancelled, finished), `totals` (recipients, called, reached, listened, confirmed, opted_out, reached_pct, listened_pct, confirmed_pct), `recipients` with `status`, `status_ru` and `attempts` (started_at, ended_at, outcome, sip_code, recording, listened, digit) |
//! | `POST /api/v1/campaigns/{id}/start`, `…/pause`, `…/resume`, `…/cancel` | run control; 409 when the state does not allow it |
//! | `GET /api/v1/campaigns/{id}/export.csv`, `…/export.xlsx` | the results, one row per attempt (module `campaign_control`); the XLSX has the same columns with Russian headers |
//! | `GET /api/v1/campaigns/{id}/recording?path=` | the WAV of an answered call of the campaign (`manage_campaigns` and `listen_recordings`) |
//! | `/api/v1/campaigns/templates…` | stored message templates: list, create, update, delete, and the preview of a text as the robot speaks it (module `campaign_templates`); a campaign created with `template_id` copies the template's text |
//! | `/api/v1/missed…`, `/api/v1/outages…`, `/api/v1/buildings`, `/api/v1/card` | missed calls and callbacks, outages, the caller's card: see [`Operations`] (module `ops`) |
//! | `GET /api/v1/campaigns/recipients?…` | campaign recipients from the registry (by organisation, district, building, premises, account; debtors by amount and months) with skip reasons; `manage_campaigns` (module `campaigns`) |
//! | `/api/v1/duty/rosters…`, `/api/v1/tickets/{id}/escalation…`, `/api/v1/duty/unanswered` | duty rosters (JSON and CSV import, `manage_duty`), an emergency ticket's call-outs to staff on duty and acceptance from the console (module `duty`) |
//!
//! # Who may do what
//!
//! Every route but `/health` and `/api/v1/login` needs one of: a session cookie from
//! login (HttpOnly, SameSite=Strict, Secure over HTTPS or when the listener is not loopback; unsafe methods
//! must also send the login's `csrf_token` in `X-CSRF-Token`, else 403), a user's API key,
//! or the config's `[http] token` — the key of the built-in service account with every
//! permission — as `Authorization: Bearer …`; else 401. Then the role's permission
//! (zvonar_access::Permission), else 403: tickets are listed and read by everyone within
//! their topic/building visibility (others' tickets answer 404); creating needs
//! `create_tickets`, completing `complete_tickets`, closing `close_tickets`, the topic
//! `change_ticket_topic`, assigning `transfer_tickets`, taking into work `transfer_tickets`
//! or `complete_tickets`, comments and photos any of create/transfer/complete/close; calls and playing recordings `listen_recordings`,
//! `recording?download=true` also `download_recordings`; callbacks `take_calls`; `/metrics`
//! `view_monitor`; the monitor and its WebSocket `view_monitor`; the queue state `take_calls` or `view_monitor`; a queued call's context and
//! the agent routes `take_calls` (an agent acts only for themselves); users, roles and others' keys `manage_users`; the audit log `read_audit`; campaign recipients `manage_campaigns`.
//! A user whose password an admin reset may only use `/me`, `/me/password` and `/logout`.
//! Every change is written to the audit log.
//!
//! Errors are JSON `{"error": "..."}`; internal causes are logged once, never sent.

mod auth;
mod campaign_control;
mod campaign_templates;
mod campaigns;
mod duty;
mod error;
mod health;
mod monitor;
mod ops;
mod queue;
mod ratings;
mod routes;
mod tickets;
mod tls;

pub use auth::{Caller, CSRF_HEADER, SESSION_COOKIE};
pub use campaign_control::{
    campaign_result_rows, CampaignCommand, CampaignControl, CampaignError, RESULT_COLUMNS,
};
pub use campaign_templates::sample_values;
pub use duty::{escalation_view, AcceptError, Duty, DutyControl};
pub use error::ApiError;
pub use health::{CheckResult, HealthCheck, CHECK_TIMEOUT};
pub use monitor::{CLOSE_FORBIDDEN, CLOSE_SESSION_ENDED, PUSH_EVERY, RECHECK_EVERY};
pub use ops::{parse_time, report_csv, Operations};
pub use queue::{AgentAction, QueueControl, QueueError};
pub use ratings::{audit_outcome, MAX_COMMENT_CHARS};
pub use routes::{app, AppState};
pub use tickets::{
    sniff_image, status_ru, TicketSettings, TopicInfo, EXPORT_COLUMNS, MAX_EXPORT_ROWS,
};
pub use tls::{serve_tls, HANDSHAKE_TIMEOUT};

/// The console's static files in the source tree (`web/console`), the default of
/// `[http] console_dir` for development and tests.
pub const SOURCE_CONSOLE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/console");

/// Serves the API on `listener` until the task is dropped, with each client's address
/// known to the handlers (audit log, login rate limit).
///
/// Errors: the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}
