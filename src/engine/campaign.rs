//! Outbound campaigns (автообзвон) run in the engine: the [`zvonar_outbound::campaign`]
//! scheduler driven with the real clock, calls placed with [`super::dial::dial`], the
//! message spoken by the TTS, the question answered by keypad (RFC 4733 or SIP INFO).
//!
//! One runner task per started campaign loops: refresh opt-outs → [`Campaign::poll`]`(now)`
//! → **store the state and an attempt row (outcome empty) before dialling** → one call task
//! per recipient to dial → sleep until the decision's `wake_at`, a call's end or a command.
//! A call task: the message is synthesised first (no silent call), the recipient dialled
//! (`sip:` URIs as they are, phone numbers through the `[[trunk]]`s), on answer the message
//! plays, then the question, if any: 1 — confirmed, 2 — a callback request (the console's
//! callbacks list, `CallbackRequested`), 9 — opt-out (the registry's `phone_consents`,
//! [`zvonar_billing::record_opt_out`], honoured by every campaign; a number found invalid goes
//! on its blacklist the same way). «Listened to the end»: the message played whole before the hang-up or
//! a key. The answered leg is recorded (stereo WAV, the person left, the robot right) under the
//! recordings directory like other calls (`YYYY/MM/DD/<call id>.wav`).
//!
//! Storage (the main SQLite database): `campaigns` (the request as `spec`, the scheduler
//! state as `state`, serde JSON, and the `phase`), `campaign_attempts` (one row per dial:
//! recipient, phone, start, outcome, SIP code, recording, listened, key); consent, opt-outs
//! and the blacklist are the registry's `phone_consents` (billing).
//!
//! **Restart.** At start every campaign that was running or paused is loaded and
//! [`Campaign::recover`]ed: a recipient that was in a call becomes `interrupted` and its
//! attempt row's outcome `interrupted` — it is not dialled again (the outbound crate's rule),
//! so nobody is called twice.

use super::dial::{self, DialEvent, DialOutcome, DialSpec, DialTarget};
use super::media::{MediaCommand, MediaEvent};
use super::Shared;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::SqlitePool;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;
use tokio::sync::{Mutex, Notify};
use zvonar_models::CallId;
use zvonar_outbound::calendar::Calendar;
use zvonar_outbound::campaign::{
    Campaign, Outcome, Pacing, PastConversation, Progress, Recipient, Retries, Rules, RunState,
    Status,
};
use zvonar_outbound::policy::{PhoneFacts, Policy, Schedule, SkipReason};
use zvonar_outbound::template::{Template, Values};
use zvonar_web::{CampaignCommand, CampaignControl, CampaignError};

/// How long after the question we wait for a key before hanging up, ms.
pub const ANSWER_WAIT_MS: u64 = 10_000;

/// Creates the campaign tables when missing.
pub async fn migrate(pool: &SqlitePool) -> sqlx::Result<()> {
    for sql in [
        "CREATE TABLE IF NOT EXISTS campaigns (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            spec TEXT NOT NULL,
            state TEXT NOT NULL,
            phase TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL
        )",
        "CREATE TABLE IF NOT EXISTS campaign_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
            recipient TEXT NOT NULL,
            phone TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            outcome TEXT,
            sip_code INTEGER,
            recording TEXT,
            listened INTEGER NOT NULL DEFAULT 0,
            digit TEXT
        )",
        "CREATE INDEX IF NOT EXISTS campaign_attempts_campaign ON campaign_attempts (campaign_id)",
    ] {
        sqlx::query(sql).execute(pool).await?;
    }
    // Added with the 230-ФЗ limits across campaigns: the account (ЛС) a call was about, so
    // that a person is recognised by account as well as by phone (NULL: not known).
    let cols: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM pragma_table_info('campaign_attempts')")
            .fetch_all(pool)
            .await?;
    if !cols.iter().any(|(c,)| c == "account") {
        sqlx::query("ALTER TABLE campaign_attempts ADD COLUMN account TEXT")
            .execute(pool)
            .await?;
    }
    sqlx::query(
        "CREATE INDEX IF NOT EXISTS campaign_attempts_started ON campaign_attempts (started_at)",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// How far back conversations of other campaigns are loaded for the 230-ФЗ limits: the
/// longest period (a calendar month) and a margin for time zones.
const LIMITS_LOOKBACK_DAYS: i64 = 33;

/// How often a running debt campaign re-reads the other campaigns' conversations at the
/// latest (a person reached meanwhile by another debt campaign is not called again today), s.
const LIMITS_REFRESH_S: u64 = 60;

/// The conversations of every **debt** campaign but `except` that started at or after
/// `since` (230-ФЗ ст. 7 ч. 3 п. 2: the limits are per person, whichever campaign calls):
/// answered calls, calls whose outcome a restart lost (`interrupted`) and calls in progress
/// (they may become conversations), each with the phone and the account it was about.
///
/// Errors: the database.
pub async fn debt_conversations(
    pool: &SqlitePool,
    except: i64,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<PastConversation>> {
    let rows: Vec<(DateTime<Utc>, String, Option<String>)> = sqlx::query_as(
        "SELECT a.started_at, a.phone, a.account FROM campaign_attempts a
         JOIN campaigns c ON c.id = a.campaign_id
         WHERE a.campaign_id != ? AND json_extract(c.spec, '$.debt') = 1
           AND (a.outcome IS NULL OR a.outcome IN ('answered', 'interrupted'))
           AND julianday(a.started_at) >= julianday(?)",
    )
    .bind(except)
    .bind(since)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, phone, account)| PastConversation { at, phone, account })
        .collect())
}

fn default_ring_timeout_s() -> u32 {
    30
}

/// A recipient in the create request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecipientSpec {
    /// Unique in the campaign (an account number); the phone when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// E.164 (`+79161234567`), a Russian form (`89161234567`), or a `sip:` URI.
    pub phone: String,
    /// The person consented to automated calls (41-ФЗ); without it (here or in the
    /// registry's `phone_consents`) the recipient is skipped.
    #[serde(default)]
    pub consent: bool,
    /// The template's values ({fio}, {address}, {account}, {debt} in kopecks, dates).
    #[serde(flatten)]
    pub values: Values,
    /// Set for a recipient of the registry's selection that must not be called (no phone,
    /// no consent, opted out, blacklisted): kept in the campaign, shown as skipped with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<SkipReason>,
    /// The completed ticket a rating call is about (rating campaigns only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<super::rating::RatedTicket>,
    /// The recipient's IANA time zone (`Asia/Vladivostok`): the call windows and the 230-ФЗ
    /// limits' calendar periods are evaluated in it. Absent: the campaign's `time_zone`.
    /// Recipients from the registry's selection get their building's zone here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// A campaign as created (stored whole as `campaigns.spec`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CampaignSpec {
    /// Shown in lists.
    pub name: String,
    /// The message with {fio}, {address}, {account}, {debt}, {due_date}, {period}.
    pub template: String,
    /// The stored template (`zvonar_billing::MessageTemplates`) `template` was copied from,
    /// if any: a record of where the text came from; later edits of that template do not
    /// change this campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<i64>,
    /// Spoken after the message; keys 1 (confirm), 2 (callback), 9 (opt out) are taken.
    #[serde(default)]
    pub question: Option<String>,
    /// No call before (RFC 3339).
    pub start: DateTime<Utc>,
    /// No call at or after.
    pub end: DateTime<Utc>,
    /// The default IANA zone of the recipients: the 230-ФЗ windows (8–22 working days, 9–20
    /// days off) and the limits' calendar periods are evaluated in it for a recipient without
    /// its own `time_zone` (the building's, for the registry's selection).
    pub time_zone: String,
    /// Simultaneous calls (1–500).
    pub channels: u32,
    /// New calls per minute (1–6000).
    pub per_minute: u32,
    /// Retries after busy and no answer, with the gaps in minutes.
    pub retries: Retries,
    /// Ring this long before giving up (no answer), s (5–120).
    #[serde(default = "default_ring_timeout_s")]
    pub ring_timeout_s: u32,
    /// A debt campaign: the 230-ФЗ limits of 1 conversation a day, 2 a week, 8 a month apply.
    #[serde(default)]
    pub debt: bool,
    /// Who to call, in order (may be empty when `selection` is given).
    #[serde(default)]
    pub recipients: Vec<RecipientSpec>,
    /// Recipients from the registry (billing's `select_recipients`: organisation, district,
    /// buildings, premises, accounts, debtors), added after `recipients` at creation; the
    /// result is stored, so a restart does not select again.
    #[serde(default)]
    pub selection: Option<zvonar_billing::RecipientFilter>,
    /// A round of the rating robot ([`super::rating`]): each call asks for a rating of the
    /// recipient's ticket instead of playing the template and the question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<super::rating::RatingRound>,
    /// The answering-machine heuristic ([`zvonar_outbound::amd`]); absent: off, and the
    /// message plays as soon as the call is answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answering_machine: Option<AmdSpec>,
}

/// What a campaign does about answering machines. On answer the robot first listens: a
/// short «Алло?» followed by a pause, or silence for `silence_ms`, is a person, who then
/// hears the message; continuous speech longer than `greeting_ms` is a machine's greeting.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct AmdSpec {
    /// Continuous speech before the first pause longer than this is a machine, ms
    /// (1000–10 000; default 3500).
    #[serde(default = "default_greeting_ms")]
    pub greeting_ms: u64,
    /// Nobody speaking this long after the answer is a person listening, ms (500–10 000;
    /// default 2500).
    #[serde(default = "default_amd_silence_ms")]
    pub silence_ms: u64,
    /// `retry` (default): hang up and call again on the no-answer retries; `message`: leave
    /// the message after the greeting (final).
    #[serde(default)]
    pub on_machine: OnMachine,
}

/// What to do on reaching an answering machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMachine {
    /// Hang up; the recipient is called again like after no answer.
    #[default]
    Retry,
    /// Wait for the greeting to end and leave the message (no question).
    Message,
}

fn default_greeting_ms() -> u64 {
    zvonar_outbound::amd::AmdSettings::default().greeting_ms
}

fn default_amd_silence_ms() -> u64 {
    zvonar_outbound::amd::AmdSettings::default().silence_ms
}

/// How long after the answer a machine's greeting may go on before the message is given up
/// and the recipient retried, ms.
const AMD_GREETING_LIMIT_MS: u64 = 30_000;

fn bad(m: impl Into<String>) -> CampaignError {
    CampaignError::BadRequest(m.into())
}

fn internal(e: impl std::fmt::Display) -> CampaignError {
    CampaignError::Internal(e.to_string())
}

/// The phone as dialled: a `sip:` URI as it is, else normalised to E.164.
fn normalise_phone(p: &str) -> Result<String, String> {
    let p = p.trim();
    if p.starts_with("sip:") {
        return Ok(p.to_string());
    }
    zvonar_models::PhoneNumber::parse_ru(p)
        .map(|n| n.as_e164().to_string())
        .map_err(|e| format!("телефон {p:?}: {e}"))
}

impl CampaignSpec {
    /// Checks the request; the parsed template and time zone.
    ///
    /// Errors: a message in Russian naming the field or the recipient at fault.
    fn check(&mut self) -> Result<(Template, Tz), String> {
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return Err("name: от 1 до 200 символов".into());
        }
        let template = Template::parse(&self.template).map_err(|e| format!("template: {e}"))?;
        if let Some(q) = &self.question {
            if q.trim().is_empty() {
                return Err("question: пустой вопрос (уберите поле, если вопроса нет)".into());
            }
        }
        let tz: Tz = self
            .time_zone
            .parse()
            .map_err(|_| format!("time_zone: неизвестный часовой пояс {:?}", self.time_zone))?;
        if self.end <= self.start {
            return Err("end: конец должен быть позже начала".into());
        }
        if !(1..=500).contains(&self.channels) {
            return Err("channels: от 1 до 500".into());
        }
        if !(1..=6000).contains(&self.per_minute) {
            return Err("per_minute: от 1 до 6000".into());
        }
        if !(5..=120).contains(&self.ring_timeout_s) {
            return Err("ring_timeout_s: от 5 до 120".into());
        }
        if let Some(a) = &self.answering_machine {
            if !(1000..=10_000).contains(&a.greeting_ms) {
                return Err("answering_machine.greeting_ms: от 1000 до 10000".into());
            }
            if !(500..=10_000).contains(&a.silence_ms) {
                return Err("answering_machine.silence_ms: от 500 до 10000".into());
            }
        }
        if self.retries.busy > 10 || self.retries.no_answer > 10 {
            return Err("retries: не больше 10 повторов".into());
        }
        if self.recipients.is_empty() {
            return Err("recipients: список пуст".into());
        }
        let mut seen = HashSet::new();
        for (n, r) in self.recipients.iter_mut().enumerate() {
            let n = n + 1;
            if let Some(z) = &r.time_zone {
                z.parse::<Tz>().map_err(|_| {
                    format!("recipients[{n}]: time_zone: неизвестный часовой пояс {z:?}")
                })?;
            }
            if r.skipped.is_some() {
                let id = r.id.get_or_insert_with(|| r.phone.clone()).clone();
                if !seen.insert(id.clone()) {
                    return Err(format!("recipients[{n}]: id {id:?} повторяется"));
                }
                continue;
            }
            r.phone = normalise_phone(&r.phone).map_err(|e| format!("recipients[{n}]: {e}"))?;
            let id = r.id.get_or_insert_with(|| r.phone.clone()).clone();
            if !seen.insert(id.clone()) {
                return Err(format!("recipients[{n}]: id {id:?} повторяется"));
            }
            template
                .render(&r.values)
                .map_err(|e| format!("recipients[{n}] ({id}): {e}"))?;
            if self.rating.is_some() && r.ticket.is_none() {
                return Err(format!("recipients[{n}] ({id}): нет заявки для оценки"));
            }
        }
        Ok((template, tz))
    }

    fn rules(&self) -> Rules {
        Rules {
            policy: Policy::legal_default(self.debt),
            schedule: Schedule {
                start: self.start,
                end: self.end,
            },
            calendar: Calendar::default(),
            pacing: Pacing {
                channels: self.channels,
                per_minute: self.per_minute,
            },
            retries: self.retries,
        }
    }
}

/// Where a campaign is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Draft,
    Running,
    Paused,
    Cancelled,
    Finished,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Draft => "draft",
            Phase::Running => "running",
            Phase::Paused => "paused",
            Phase::Cancelled => "cancelled",
            Phase::Finished => "finished",
        }
    }
    fn parse(s: &str) -> Phase {
        match s {
            "running" => Phase::Running,
            "paused" => Phase::Paused,
            "cancelled" => Phase::Cancelled,
            "finished" => Phase::Finished,
            _ => Phase::Draft,
        }
    }
}

struct LiveState {
    campaign: Campaign,
    phase: Phase,
    /// Whether a runner task drives it.
    running: bool,
}

struct Live {
    id: i64,
    spec: CampaignSpec,
    template: Template,
    rules: Rules,
    state: Mutex<LiveState>,
    wake: Notify,
}

/// What one call came to.
#[derive(Debug, Default)]
pub(super) struct CallResult {
    pub(super) outcome: Option<Outcome>,
    pub(super) sip_code: Option<u16>,
    pub(super) recording: Option<String>,
    pub(super) listened: bool,
    pub(super) digit: Option<char>,
    /// A rating call: a rating was given (and stored).
    pub(super) rated: bool,
}

/// After an event fed to the answering-machine detector: what the call does now, and
/// the detector's next deadline. A person: the detector is dropped and the message
/// plays. A machine: with `retry` the call ends as «автоответчик» (retried like no
/// answer); with `message` the message plays once the greeting is over.
fn amd_step(
    amd: &mut Option<(zvonar_outbound::amd::Detector, tokio::time::Instant)>,
    deadline: &mut Option<tokio::time::Instant>,
    machine: &mut bool,
    out: &mut CallResult,
    spec: &CampaignSpec,
) -> AmdAct {
    use zvonar_outbound::amd::Verdict;
    let Some((d, at)) = amd.as_ref() else {
        return AmdAct::Wait;
    };
    let at = *at;
    *deadline = d.deadline().map(|ms| at + Duration::from_millis(ms));
    match d.verdict() {
        Verdict::Listening => AmdAct::Wait,
        Verdict::Human => {
            *amd = None;
            AmdAct::PlayMessage
        }
        Verdict::Machine => {
            *machine = true;
            out.outcome = Some(Outcome::AnsweringMachine {
                message_left: false,
            });
            let on = spec.answering_machine.map(|a| a.on_machine);
            if on != Some(OnMachine::Message) {
                *amd = None;
                AmdAct::HangUp
            } else if d.greeting_ended() {
                *amd = None;
                AmdAct::PlayMessage
            } else if at.elapsed() >= Duration::from_millis(AMD_GREETING_LIMIT_MS) {
                *amd = None;
                AmdAct::HangUp
            } else {
                // Wait for the greeting's end; check the limit again then.
                *deadline = Some(at + Duration::from_millis(AMD_GREETING_LIMIT_MS));
                AmdAct::Wait
            }
        }
    }
}

/// What a campaign call does after the answering-machine detector heard something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AmdAct {
    /// Keep listening.
    Wait,
    /// Play the message now.
    PlayMessage,
    /// End the call.
    HangUp,
}

/// The campaigns of the process: storage, runners, and the API's view ([`CampaignControl`]).
pub struct Campaigns {
    /// The engine, held weakly: the campaigns live in the HTTP API's state and in their
    /// runners, which must not keep the engine (and its call-event bus) alive once
    /// `graceful_stop` lets go of it, or the event subscriber never ends and zvonar never
    /// exits after SIGTERM.
    shared: std::sync::Weak<Shared>,
    pool: SqlitePool,
    live: StdMutex<HashMap<i64, Arc<Live>>>,
    /// Where rating calls store their ratings (`None`: no rating robot configured; a rating
    /// campaign's calls then end without asking).
    rating: Option<super::rating::RatingContext>,
}

fn outcome_code(o: Outcome) -> (&'static str, Option<u16>) {
    match o {
        Outcome::Answered => ("answered", Some(200)),
        Outcome::Busy => ("busy", Some(486)),
        Outcome::NoAnswer => ("no_answer", None),
        Outcome::InvalidNumber(c) => ("invalid_number", Some(c)),
        Outcome::Failed(c) => ("failed", Some(c)),
        Outcome::AnsweringMachine { .. } => ("answering_machine", Some(200)),
    }
}

/// The scheduler's outcome of a dial outcome (a rejected call is `failed` 603: the person
/// declined; the cancelled case cannot happen here, we never cancel a ringing call but by
/// the ring timeout, which is `no_answer`).
pub(super) fn outcome_of(o: DialOutcome) -> Outcome {
    match o {
        DialOutcome::Busy => Outcome::Busy,
        DialOutcome::NoAnswer => Outcome::NoAnswer,
        DialOutcome::Rejected => Outcome::Failed(603),
        DialOutcome::InvalidNumber => Outcome::InvalidNumber(404),
        DialOutcome::Cancelled => Outcome::NoAnswer,
        DialOutcome::Failed(c) => Outcome::Failed(c),
        #[allow(unreachable_patterns)]
        _ => Outcome::Failed(0),
    }
}

/// The SIP final response an unanswered resident's dial ended with, as the attempt log shows
/// it (`None` for no answer or a cancel: no final response of theirs). Shared by campaign
/// and rating calls.
pub(super) fn sip_code_of(o: DialOutcome) -> Option<u16> {
    match o {
        DialOutcome::Busy => Some(486),
        DialOutcome::Rejected => Some(603),
        DialOutcome::InvalidNumber => Some(404),
        DialOutcome::Failed(c) => Some(c),
        _ => None,
    }
}

impl Campaigns {
    /// Loads every stored campaign, recovers the ones that were running or paused (see the
    /// module docs: calls in flight become `interrupted`) and starts the runners of the
    /// running ones. `rating`: the rating robot's store, so that rating campaigns (also those
    /// recovered here) record their ratings.
    ///
    /// Errors: the database.
    pub async fn start_with_rating(
        shared: Arc<Shared>,
        pool: SqlitePool,
        rating: Option<super::rating::RatingContext>,
    ) -> anyhow::Result<Arc<Self>> {
        migrate(&pool).await?;
        let this = Arc::new(Campaigns {
            shared: Arc::downgrade(&shared),
            pool,
            live: StdMutex::new(HashMap::new()),
            rating,
        });
        let rows: Vec<(i64, String, String, String)> =
            sqlx::query_as("SELECT id, spec, state, phase FROM campaigns ORDER BY id")
                .fetch_all(&this.pool)
                .await?;
        for (id, spec, state, phase) in rows {
            let mut spec: CampaignSpec = match serde_json::from_str(&spec) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(campaign = id, error = %e, "stored campaign unreadable: left alone");
                    continue;
                }
            };
            let (template, _) = match spec.check() {
                Ok(x) => x,
                Err(e) => {
                    tracing::error!(campaign = id, error = %e, "stored campaign invalid: left alone");
                    continue;
                }
            };
            let mut campaign: Campaign = match serde_json::from_str(&state) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(campaign = id, error = %e, "stored campaign state unreadable: left alone");
                    continue;
                }
            };
            let phase = Phase::parse(&phase);
            let interrupted = campaign.recover();
            if !interrupted.is_empty() {
                tracing::warn!(
                    campaign = id,
                    count = interrupted.len(),
                    "calls in progress at the last stop: interrupted, not dialled again"
                );
            }
            sqlx::query(
                "UPDATE campaign_attempts SET outcome = 'interrupted' WHERE campaign_id = ? AND outcome IS NULL",
            )
            .bind(id)
            .execute(&this.pool)
            .await?;
            let live = Arc::new(Live {
                id,
                rules: spec.rules(),
                spec,
                template,
                state: Mutex::new(LiveState {
                    campaign,
                    phase,
                    running: false,
                }),
                wake: Notify::new(),
            });
            this.save(&live, &*live.state.lock().await).await?;
            this.lock_live().insert(id, live.clone());
            if matches!(phase, Phase::Running | Phase::Paused | Phase::Cancelled) {
                this.spawn_runner(&live).await;
            }
        }
        Ok(this)
    }

    fn lock_live(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, id: i64) -> Result<Arc<Live>, CampaignError> {
        self.lock_live()
            .get(&id)
            .cloned()
            .ok_or(CampaignError::NotFound)
    }

    async fn save(&self, live: &Live, st: &LiveState) -> sqlx::Result<()> {
        let state = serde_json::to_string(&st.campaign)
            .map_err(|e| sqlx::Error::Protocol(format!("campaign state: {e}")))?;
        sqlx::query("UPDATE campaigns SET state = ?, phase = ? WHERE id = ?")
            .bind(state)
            .bind(st.phase.as_str())
            .bind(live.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn spawn_runner(self: &Arc<Self>, live: &Arc<Live>) {
        let mut st = live.state.lock().await;
        if st.running {
            live.wake.notify_one();
            return;
        }
        st.running = true;
        tokio::spawn(self.clone().run(live.clone()));
    }

    /// The registry's `phone_consents`: phone → (consent, opted out, blacklisted).
    async fn phone_flags(&self) -> sqlx::Result<HashMap<String, (bool, bool, bool)>> {
        let rows: Vec<(String, bool, bool, bool)> =
            sqlx::query_as("SELECT phone, consent, opted_out, blacklisted FROM phone_consents")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(p, c, o, b)| (p, (c, o, b)))
            .collect())
    }

    /// Sets `column` (`opted_out` or `blacklisted`) of `phone` in `phone_consents`: through
    /// billing for a phone number, directly for a `sip:` URI (same row shape).
    async fn flag_phone(&self, phone: &str, column: &'static str) {
        let r = match zvonar_models::PhoneNumber::parse_ru(phone) {
            Ok(p) if column == "opted_out" => zvonar_billing::record_opt_out(&self.pool, &p)
                .await
                .map_err(|e| e.to_string()),
            Ok(p) => zvonar_billing::record_invalid_number(&self.pool, &p)
                .await
                .map_err(|e| e.to_string()),
            Err(_) => {
                let sql = format!(
                    "INSERT INTO phone_consents (phone, {column}, updated_at)
                     VALUES (?, 1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                     ON CONFLICT (phone) DO UPDATE SET {column} = 1, updated_at = excluded.updated_at"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(phone)
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        };
        if let Err(e) = r {
            tracing::error!(column, error = %e, "phone flag not stored");
        }
    }

    /// The runner of one campaign (see the module docs).
    async fn run(self: Arc<Self>, live: Arc<Live>) {
        let id = live.id;
        tracing::info!(campaign = id, "campaign runner started");
        loop {
            let flags = match self.phone_flags().await {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(campaign = id, error = %e, "opt-outs not readable; retrying");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            let now = Utc::now();
            let history = if live.spec.debt {
                let since = now - chrono::Duration::days(LIMITS_LOOKBACK_DAYS);
                match debt_conversations(&self.pool, id, since).await {
                    Ok(h) => Some(h),
                    Err(e) => {
                        // Not calling blind: the limits cannot be checked.
                        tracing::error!(campaign = id, error = %e, "other campaigns' conversations not readable; retrying");
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        continue;
                    }
                }
            } else {
                None
            };
            let mut to_dial = Vec::new();
            let wake_at;
            {
                let mut st = live.state.lock().await;
                if let Some(h) = &history {
                    st.campaign.set_prior_conversations(h);
                }
                for r in &mut st.campaign.recipients {
                    if let (false, Some(&(_, opted, black))) =
                        (r.status.is_final(), flags.get(&r.phone))
                    {
                        r.facts.opted_out |= opted;
                        r.facts.blacklisted |= black;
                    }
                }
                let d = st.campaign.poll(now, &live.rules);
                wake_at = d.wake_at;
                for &i in &d.dial {
                    let r = &st.campaign.recipients[i];
                    let row: sqlx::Result<(i64,)> = sqlx::query_as(
                        "INSERT INTO campaign_attempts (campaign_id, recipient, phone, started_at, account)
                         VALUES (?, ?, ?, ?, ?) RETURNING id",
                    )
                    .bind(id)
                    .bind(&r.id)
                    .bind(&r.phone)
                    .bind(now)
                    .bind(&r.account)
                    .fetch_one(&self.pool)
                    .await;
                    match row {
                        Ok((attempt,)) => to_dial.push((i, attempt)),
                        Err(e) => {
                            // Not stored, so not dialled: the attempt counts as failed.
                            tracing::error!(campaign = id, error = %e, "attempt not stored: not dialling");
                            let _ = st
                                .campaign
                                .on_outcome(i, now, Outcome::Failed(0), &live.rules);
                        }
                    }
                }
                let idle = st.campaign.active() == 0;
                if idle && st.campaign.finished() && st.phase == Phase::Running {
                    st.phase = Phase::Finished;
                }
                if let Err(e) = self.save(&live, &st).await {
                    tracing::error!(campaign = id, error = %e, "campaign state not stored");
                }
                if idle && matches!(st.phase, Phase::Finished | Phase::Cancelled) {
                    st.running = false;
                    tracing::info!(
                        campaign = id,
                        phase = st.phase.as_str(),
                        "campaign runner ended"
                    );
                    return;
                }
            }
            for (index, attempt) in to_dial {
                tokio::spawn(self.clone().call(live.clone(), index, attempt));
            }
            let mut sleep = wake_at
                .and_then(|w| (w - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(3600))
                .max(Duration::from_millis(50));
            if live.spec.debt {
                sleep = sleep.min(Duration::from_secs(LIMITS_REFRESH_S));
            }
            tokio::select! {
                _ = live.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// One call task: dial, play, listen for a key, report.
    async fn call(self: Arc<Self>, live: Arc<Live>, index: usize, attempt: i64) {
        let (phone, rid) = {
            let st = live.state.lock().await;
            let r = &st.campaign.recipients[index];
            (r.phone.clone(), r.id.clone())
        };
        let call_id = CallId(format!("campaign-{}-{attempt}", live.id));
        let Some(shared) = self.shared.upgrade() else {
            // The engine is stopping: nothing is dialled. The attempt stays in flight in the
            // stored state, so the next start recovers it as `interrupted` (module docs).
            tracing::info!(
                campaign = live.id,
                attempt,
                "engine stopping: campaign call not placed"
            );
            return;
        };
        // The call's CDR (direction outbound), like an inbound call's: the calls list shows
        // it and the retention sweep removes its recording in time.
        shared
            .events
            .publish(
                &call_id,
                zvonar_models::CallEventKind::OutboundStarted {
                    callee: phone.clone(),
                    flow: if live.spec.rating.is_some() {
                        "rating"
                    } else {
                        "campaign"
                    }
                    .to_string(),
                    campaign_id: Some(live.id),
                    ticket_id: None,
                },
            )
            .await;
        let result = match (&live.spec.rating, &live.spec.recipients[index].ticket) {
            (Some(round), Some(ticket)) => {
                super::rating::place(
                    &shared,
                    self.rating.as_ref(),
                    round,
                    ticket,
                    live.spec.ring_timeout_s,
                    &phone,
                    &call_id,
                )
                .await
            }
            _ => self.place(&shared, &live, index, &phone, &call_id).await,
        };
        let rating_call = live.spec.rating.is_some();
        let now = Utc::now();
        let outcome = result.outcome.unwrap_or(Outcome::Failed(0));
        let (code, sip) = outcome_code(outcome);
        let sip = result.sip_code.or(sip);
        shared
            .events
            .publish(
                &call_id,
                zvonar_models::CallEventKind::OutboundEnded {
                    outcome: code.to_string(),
                    sip_code: sip,
                    recording: result.recording.clone(),
                },
            )
            .await;
        let mut st = live.state.lock().await;
        if result.listened {
            let _ = st.campaign.on_progress(index, Progress::Listened);
        }
        match result.digit {
            // A rating given counts as the campaign's «confirmed».
            _ if rating_call && result.rated => {
                let _ = st.campaign.on_progress(index, Progress::Confirmed);
            }
            _ if rating_call => {}
            Some('1') => {
                let _ = st.campaign.on_progress(index, Progress::Confirmed);
            }
            Some('9') => {
                let _ = st.campaign.on_progress(index, Progress::OptedOut);
            }
            _ => {}
        }
        if let Err(e) = st.campaign.on_outcome(index, now, outcome, &live.rules) {
            tracing::error!(campaign = live.id, error = %e, "campaign outcome not applied");
        }
        let r = sqlx::query(
            "UPDATE campaign_attempts SET ended_at = ?, outcome = ?, sip_code = ?, recording = ?,
             listened = ?, digit = ? WHERE id = ?",
        )
        .bind(now)
        .bind(code)
        .bind(sip.map(i64::from))
        .bind(&result.recording)
        .bind(result.listened)
        .bind(result.digit.map(String::from))
        .bind(attempt)
        .execute(&self.pool)
        .await;
        if let Err(e) = r {
            tracing::error!(campaign = live.id, error = %e, "attempt outcome not stored");
        }
        if result.digit == Some('9') && !rating_call {
            self.flag_phone(&phone, "opted_out").await;
        }
        if matches!(outcome, Outcome::InvalidNumber(_)) {
            self.flag_phone(&phone, "blacklisted").await;
        }
        if result.digit == Some('2') && !rating_call {
            shared
                .events
                .publish(
                    &call_id,
                    zvonar_models::CallEventKind::CallbackRequested(
                        zvonar_models::CallbackRequest {
                            caller: zvonar_models::PhoneNumber::parse_ru(&phone).ok(),
                            account_id: None,
                            heard: format!(
                                "автообзвон «{}», получатель {rid}: просит перезвонить (нажал 2)",
                                live.spec.name
                            ),
                        },
                    ),
                )
                .await;
        }
        tracing::info!(campaign = live.id, attempt, outcome = code, sip_code = ?sip,
            listened = result.listened, digit = ?result.digit, "campaign call ended");
        if let Err(e) = self.save(&live, &st).await {
            tracing::error!(campaign = live.id, error = %e, "campaign state not stored");
        }
        drop(st);
        live.wake.notify_one();
    }

    /// Carries out [`amd_step`]'s decision on the leg.
    fn amd_act(
        &self,
        act: AmdAct,
        leg: &dial::OutboundLeg,
        message: &Arc<[i16]>,
        hung_up: &mut bool,
    ) {
        match act {
            AmdAct::Wait => {}
            AmdAct::PlayMessage => {
                let _ = leg.media().send(MediaCommand::Play {
                    id: 1,
                    pcm: message.clone(),
                });
            }
            AmdAct::HangUp => {
                if !*hung_up {
                    *hung_up = true;
                    leg.hangup();
                }
            }
        }
    }

    async fn place(
        &self,
        shared: &Arc<Shared>,
        live: &Live,
        index: usize,
        phone: &str,
        call_id: &CallId,
    ) -> CallResult {
        let mut out = CallResult::default();
        let spec = &live.spec;
        let values = &spec.recipients[index].values;
        let text = match live.template.render(values) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(%call_id, error = %e, "campaign message not rendered");
                out.outcome = Some(Outcome::Failed(0));
                return out;
            }
        };
        // Synthesised before dialling: a person who answers hears the message at once.
        let message = match shared.tts.synthesize(&text, "ru").await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(%call_id, error = %e, "campaign message not synthesised: not dialling");
                out.outcome = Some(Outcome::Failed(0));
                return out;
            }
        };
        let question = match &spec.question {
            Some(q) => match shared.tts.synthesize(q, "ru").await {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(%call_id, error = %e, "campaign question not synthesised: not dialling");
                    out.outcome = Some(Outcome::Failed(0));
                    return out;
                }
            },
            None => None,
        };
        let rel = super::call::recording_path(Utc::now(), shared.time_zone, call_id);
        let target = if phone.starts_with("sip:") {
            DialTarget::Uri(phone.to_string())
        } else {
            DialTarget::Number(phone.to_string())
        };
        let (ev_tx, mut media_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut leg = match dial::dial(
            shared,
            DialSpec {
                call_id: call_id.clone(),
                target,
                from_user: None,
                ring_timeout: Duration::from_secs(u64::from(spec.ring_timeout_s)),
                credential: None,
                record: Some(shared.recordings_dir.join(&rel)),
                media_events: Some(ev_tx),
                headers: Vec::new(),
                refers: None,
            },
        )
        .await
        {
            Ok(l) => l,
            Err(e) => {
                tracing::info!(%call_id, error = %e, "campaign call not placed");
                out.outcome = Some(outcome_of(e.outcome()));
                return out;
            }
        };
        let message_ms = message.len() as u64 / 8;
        let question_ms = question.as_ref().map_or(0, |q| q.len() as u64 / 8);
        // A backstop for a call nobody ends: the message, the question and the wait for a key.
        let mut hard_end: Option<tokio::time::Instant> = None;
        let mut key_deadline: Option<tokio::time::Instant> = None;
        let mut message_started = false;
        let mut media_open = true;
        let mut answered = false;
        let mut hung_up = false;
        // The answering-machine heuristic while it listens after the answer, and when the
        // call was answered (its clock).
        let mut amd: Option<(zvonar_outbound::amd::Detector, tokio::time::Instant)> = None;
        let mut amd_deadline: Option<tokio::time::Instant> = None;
        let mut machine = false;
        let far = |d: Option<tokio::time::Instant>| async move {
            match d {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        loop {
            tokio::select! {
                ev = leg.next_event() => match ev {
                    Some(DialEvent::Ringing) => {}
                    Some(DialEvent::Answered { .. }) => {
                        answered = true;
                        out.outcome = Some(Outcome::Answered);
                        out.recording = Some(rel.clone());
                        shared.events.publish(call_id, zvonar_models::CallEventKind::Answered { recording: rel.clone() }).await;
                        let now = tokio::time::Instant::now();
                        let listen_ms = match spec.answering_machine {
                            Some(a) => {
                                let d = zvonar_outbound::amd::Detector::new(
                                    zvonar_outbound::amd::AmdSettings {
                                        greeting_ms: a.greeting_ms,
                                        silence_ms: a.silence_ms,
                                    },
                                );
                                amd_deadline = d.deadline().map(|ms| now + Duration::from_millis(ms));
                                amd = Some((d, now));
                                AMD_GREETING_LIMIT_MS
                            }
                            None => {
                                let _ = leg.media().send(MediaCommand::Play { id: 1, pcm: message.clone() });
                                0
                            }
                        };
                        hard_end = Some(now
                            + Duration::from_millis(listen_ms + message_ms + question_ms + ANSWER_WAIT_MS + 5_000));
                    }
                    Some(DialEvent::Failed(o)) => {
                        out.outcome = Some(outcome_of(o));
                        out.sip_code = sip_code_of(o);
                        break;
                    }
                    Some(DialEvent::HungUp(_)) | None => break,
                },
                ev = media_rx.recv(), if answered && media_open => match ev {
                    Some(MediaEvent::SpeechStarted) if amd.is_some() => {
                        if let Some((d, at)) = amd.as_mut() {
                            let ms = at.elapsed().as_millis() as u64;
                            d.on_speech_started(ms);
                        }
                        let act = amd_step(&mut amd, &mut amd_deadline, &mut machine, &mut out, spec);
                        self.amd_act(act, &leg, &message, &mut hung_up);
                    }
                    Some(MediaEvent::Utterance { ended, .. }) if amd.is_some() => {
                        if let Some((d, at)) = amd.as_mut() {
                            let ms = ended.saturating_duration_since(at.into_std()).as_millis() as u64;
                            d.on_speech_ended(ms);
                        }
                        let act = amd_step(&mut amd, &mut amd_deadline, &mut machine, &mut out, spec);
                        self.amd_act(act, &leg, &message, &mut hung_up);
                    }
                    Some(MediaEvent::PlaybackDone { id: 1 }) if machine => {
                        // The message was left on the machine after its greeting.
                        out.outcome = Some(Outcome::AnsweringMachine { message_left: true });
                        if !hung_up {
                            hung_up = true;
                            leg.hangup();
                        }
                    }
                    Some(MediaEvent::PlaybackStarted { id: 1 }) => {
                        message_started = true;
                    }
                    Some(MediaEvent::PlaybackDone { id: 1 }) => {
                        // The media task reports a prompt done when its last frame went out
                        // or when it was stopped, and only a key stops the message here
                        // (then `digit` is set); a hang-up ends the media without it. So a
                        // message that started and is done without a key was heard whole —
                        // not judged by wall-clock time, which a loaded machine stretches.
                        if message_started && out.digit.is_none() {
                            out.listened = true;
                        }
                        match &question {
                            Some(q) if out.digit.is_none() => {
                                let _ = leg.media().send(MediaCommand::Play { id: 2, pcm: q.clone() });
                            }
                            _ => {
                                if !hung_up {
                                    hung_up = true;
                                    leg.hangup();
                                }
                            }
                        }
                    }
                    Some(MediaEvent::PlaybackDone { id: 2 }) => {
                        key_deadline = Some(tokio::time::Instant::now() + Duration::from_millis(ANSWER_WAIT_MS));
                    }
                    Some(MediaEvent::Digit { digit, .. }) => {
                        if question.is_some() && out.digit.is_none() && matches!(digit, '1' | '2' | '9') {
                            out.digit = Some(digit);
                            let _ = leg.media().send(MediaCommand::StopPlayback);
                            if !hung_up {
                                hung_up = true;
                                leg.hangup();
                            }
                        }
                    }
                    Some(_) => {}
                    None => media_open = false,
                },
                _ = far(amd_deadline) => {
                    amd_deadline = None;
                    if let Some((d, at)) = amd.as_mut() {
                        let ms = at.elapsed().as_millis() as u64;
                        d.poll(ms);
                    }
                    let act = amd_step(&mut amd, &mut amd_deadline, &mut machine, &mut out, spec);
                    self.amd_act(act, &leg, &message, &mut hung_up);
                }
                _ = far(key_deadline) => {
                    key_deadline = None;
                    if !hung_up {
                        hung_up = true;
                        leg.hangup();
                    }
                }
                _ = far(hard_end) => {
                    hard_end = None;
                    if !hung_up {
                        hung_up = true;
                        leg.hangup();
                    }
                }
            }
        }
        out
    }

    async fn progress_doc(&self, live: &Live) -> Result<Value, CampaignError> {
        let (campaign, phase) = {
            let st = live.state.lock().await;
            (st.campaign.clone(), st.phase)
        };
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            String,
            String,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            Option<String>,
            Option<i64>,
            Option<String>,
            bool,
            Option<String>,
        )> = sqlx::query_as(
            "SELECT recipient, phone, started_at, ended_at, outcome, sip_code, recording, listened, digit
             FROM campaign_attempts WHERE campaign_id = ? ORDER BY id",
        )
        .bind(live.id)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let mut attempts: HashMap<&str, Vec<Value>> = HashMap::new();
        let mut listened: HashSet<&str> = HashSet::new();
        for (rid, _, at, ended, outcome, sip, rec, heard, digit) in &rows {
            if *heard {
                listened.insert(rid);
            }
            attempts.entry(rid).or_default().push(json!({
                "started_at": at, "ended_at": ended, "outcome": outcome, "sip_code": sip,
                "recording": rec, "listened": heard, "digit": digit,
            }));
        }
        let total = campaign.recipients.len();
        let reached = campaign
            .recipients
            .iter()
            .filter(|r| {
                r.attempts
                    .iter()
                    .any(|a| a.outcome == Some(Outcome::Answered))
            })
            .count();
        let confirmed = campaign
            .recipients
            .iter()
            .filter(|r| r.status == Status::Confirmed)
            .count();
        let opted_out = campaign
            .recipients
            .iter()
            .filter(|r| r.status == Status::OptedOut)
            .count();
        let answering_machine = campaign
            .recipients
            .iter()
            .filter(|r| matches!(r.status, Status::AnsweringMachine { .. }))
            .count();
        let called = campaign
            .recipients
            .iter()
            .filter(|r| !r.attempts.is_empty())
            .count();
        let pct = |n: usize| {
            if total == 0 {
                0.0
            } else {
                (n as f64 * 1000.0 / total as f64).round() / 10.0
            }
        };
        let recipients: Vec<Value> = campaign
            .recipients
            .iter()
            .map(|r| {
                let mut status = serde_json::to_value(&r.status).unwrap_or(Value::Null);
                let code = status.get("status").cloned().unwrap_or(Value::Null);
                if let Some(o) = status.as_object_mut() {
                    o.remove("status");
                }
                let waiting = r.waiting.filter(|_| !r.status.is_final()).map(
                    |w| json!({ "reason": w.why, "reason_ru": w.why.label_ru(), "until": w.until }),
                );
                let status_ru = match &waiting {
                    Some(w) => format!(
                        "{}: {}",
                        r.status.label_ru(),
                        w["reason_ru"].as_str().unwrap_or_default()
                    ),
                    None => r.status.label_ru(),
                };
                json!({
                    "id": r.id, "phone": r.phone, "status": code, "detail": status,
                    "status_ru": status_ru, "waiting": waiting,
                    "listened": listened.contains(r.id.as_str()),
                    "attempts": attempts.get(r.id.as_str()).cloned().unwrap_or_default(),
                })
            })
            .collect();
        let listened_n = listened.len();
        Ok(json!({
            "id": live.id,
            "name": live.spec.name,
            "state": phase.as_str(),
            "debt": live.spec.debt,
            "template": live.spec.template,
            "template_id": live.spec.template_id,
            "question": live.spec.question,
            "start": live.spec.start,
            "end": live.spec.end,
            "time_zone": live.spec.time_zone,
            "per_minute": live.spec.per_minute,
            "retries": live.spec.retries,
            "ring_timeout_s": live.spec.ring_timeout_s,
            "answering_machine": live.spec.answering_machine,
            "active_calls": campaign.active(),
            "channels": live.spec.channels,
            "totals": {
                "recipients": total, "called": called, "reached": reached,
                "listened": listened_n, "confirmed": confirmed, "opted_out": opted_out,
                "answering_machine": answering_machine,
                "reached_pct": pct(reached), "listened_pct": pct(listened_n),
                "confirmed_pct": pct(confirmed),
            },
            "recipients": recipients,
        }))
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The scheduler's recipients of `spec`: consent, opt-out and blacklist from the registry's
/// `phone_consents` (`flags`: phone → (consent, opted out, blacklisted)) or the request; each
/// in its own `time_zone`, else in `tz` (the campaign's).
fn recipients_of(
    spec: &CampaignSpec,
    tz: Tz,
    flags: &HashMap<String, (bool, bool, bool)>,
) -> Vec<Recipient> {
    spec.recipients
        .iter()
        .map(|r| {
            let id = r.id.clone().unwrap_or_else(|| r.phone.clone());
            // Checked by `CampaignSpec::check`.
            let zone = r
                .time_zone
                .as_deref()
                .and_then(|z| z.parse::<Tz>().ok())
                .unwrap_or(tz);
            let mut rec = Recipient::new(&id, &r.phone, zone, {
                let (consent, opted_out, blacklisted) =
                    flags.get(&r.phone).copied().unwrap_or_default();
                PhoneFacts {
                    consent: r.consent || consent,
                    opted_out,
                    blacklisted,
                }
            });
            rec.account = r.values.account.clone().filter(|a| !a.is_empty());
            if let Some(reason) = r.skipped.clone() {
                rec.status = Status::Skipped { reason };
            }
            rec
        })
        .collect()
}

impl Campaigns {
    /// Creates and starts a round of the rating robot: the campaign, the run and the tickets
    /// it calls about are stored in one transaction (after a crash either the round exists
    /// with its tickets marked as called, or neither: no ticket is skipped or called twice).
    /// Returns the campaign id.
    ///
    /// Errors: a spec that does not check (a bug in the scheduler), the database.
    pub(super) async fn start_rating_round(
        self: &Arc<Self>,
        mut spec: CampaignSpec,
        run: zvonar_dispatch::rating::RatingRun,
        tickets: &[i64],
    ) -> anyhow::Result<i64> {
        let (template, tz) = spec.check().map_err(anyhow::Error::msg)?;
        let flags = self.phone_flags().await?;
        let mut campaign = Campaign::new(recipients_of(&spec, tz, &flags));
        campaign.run = RunState::Running;
        let state = serde_json::to_string(&campaign)?;
        let spec_json = serde_json::to_string(&spec)?;
        let mut tx = self.pool.begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO campaigns (name, spec, state, phase, created_by, created_at)
             VALUES (?, ?, ?, 'running', ?, ?) RETURNING id",
        )
        .bind(&spec.name)
        .bind(spec_json)
        .bind(state)
        .bind(zvonar_dispatch::rating::ROBOT_LOGIN)
        .bind(Utc::now())
        .fetch_one(&mut *tx)
        .await?;
        let run = zvonar_dispatch::rating::RatingRun {
            campaign_id: Some(id),
            ..run
        };
        zvonar_dispatch::rating::Ratings::record_run(&mut tx, &run, tickets).await?;
        tx.commit().await?;
        let live = Arc::new(Live {
            id,
            rules: spec.rules(),
            spec,
            template,
            state: Mutex::new(LiveState {
                campaign,
                phase: Phase::Running,
                running: false,
            }),
            wake: Notify::new(),
        });
        self.lock_live().insert(id, live.clone());
        self.spawn_runner(&live).await;
        Ok(id)
    }
}

/// The API's handle on [`Campaigns`].
pub struct CampaignApi(pub Arc<Campaigns>);

#[async_trait::async_trait]
impl CampaignControl for CampaignApi {
    async fn create(&self, body: Value, by: &str) -> Result<Value, CampaignError> {
        let mut spec: CampaignSpec =
            serde_json::from_value(body).map_err(|e| bad(format!("тело запроса: {e}")))?;
        if let Some(filter) = spec.selection.clone() {
            let tz: Tz = spec.time_zone.parse().map_err(|_| {
                bad(format!(
                    "time_zone: неизвестный часовой пояс {:?}",
                    spec.time_zone
                ))
            })?;
            let selected = zvonar_billing::select_recipients(&self.0.pool, &filter, tz)
                .await
                .map_err(internal)?;
            if selected.is_empty() && spec.recipients.is_empty() {
                return Err(bad("selection: в реестре никого не нашлось"));
            }
            for s in selected {
                let skipped = match s.recipient.status {
                    Status::Skipped { reason } => Some(reason),
                    _ => None,
                };
                spec.recipients.push(RecipientSpec {
                    id: Some(s.recipient.id),
                    phone: s.recipient.phone,
                    consent: s.recipient.facts.consent,
                    values: s.values,
                    skipped,
                    ticket: None,
                    time_zone: Some(s.recipient.tz.name().to_string()),
                });
            }
        }
        let (template, tz) = spec.check().map_err(bad)?;
        let flags = self.0.phone_flags().await.map_err(internal)?;
        let mut campaign = Campaign::new(recipients_of(&spec, tz, &flags));
        campaign.run = RunState::Paused;
        let state = serde_json::to_string(&campaign).map_err(internal)?;
        let spec_json = serde_json::to_string(&spec).map_err(internal)?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO campaigns (name, spec, state, phase, created_by, created_at)
             VALUES (?, ?, ?, 'draft', ?, ?) RETURNING id",
        )
        .bind(&spec.name)
        .bind(spec_json)
        .bind(state)
        .bind(by)
        .bind(Utc::now())
        .fetch_one(&self.0.pool)
        .await
        .map_err(internal)?;
        let live = Arc::new(Live {
            id,
            rules: spec.rules(),
            spec,
            template,
            state: Mutex::new(LiveState {
                campaign,
                phase: Phase::Draft,
                running: false,
            }),
            wake: Notify::new(),
        });
        self.0.lock_live().insert(id, live.clone());
        self.0.progress_doc(&live).await
    }

    async fn list(&self) -> Result<Value, CampaignError> {
        let all: Vec<Arc<Live>> = {
            let mut v: Vec<_> = self.0.lock_live().values().cloned().collect();
            v.sort_by_key(|l| l.id);
            v
        };
        let mut out = Vec::new();
        for l in all {
            let mut d = self.0.progress_doc(&l).await?;
            if let Some(o) = d.as_object_mut() {
                o.remove("recipients");
            }
            out.push(d);
        }
        Ok(json!({ "campaigns": out }))
    }

    async fn progress(&self, id: i64) -> Result<Value, CampaignError> {
        let live = self.0.get(id)?;
        self.0.progress_doc(&live).await
    }

    async fn command(&self, id: i64, cmd: CampaignCommand) -> Result<Value, CampaignError> {
        let live = self.0.get(id)?;
        {
            let mut st = live.state.lock().await;
            let conflict = |what: &str, phase: Phase| {
                CampaignError::Conflict(format!(
                    "нельзя {what}: кампания в состоянии «{}»",
                    phase.as_str()
                ))
            };
            let (phase, run) = match (cmd, st.phase) {
                (CampaignCommand::Start, Phase::Draft) => (Phase::Running, RunState::Running),
                (CampaignCommand::Start, p) => return Err(conflict("запустить", p)),
                (CampaignCommand::Pause, Phase::Running) => (Phase::Paused, RunState::Paused),
                (CampaignCommand::Pause, p) => return Err(conflict("приостановить", p)),
                (CampaignCommand::Resume, Phase::Paused) => (Phase::Running, RunState::Running),
                (CampaignCommand::Resume, p) => return Err(conflict("возобновить", p)),
                (CampaignCommand::Cancel, Phase::Draft | Phase::Running | Phase::Paused) => {
                    (Phase::Cancelled, RunState::Cancelled)
                }
                (CampaignCommand::Cancel, p) => return Err(conflict("отменить", p)),
            };
            st.phase = phase;
            st.campaign.run = run;
            if phase == Phase::Cancelled {
                // Skips the queue at once (the scheduler's cancel rule).
                let _ = st.campaign.poll(Utc::now(), &live.rules);
            }
            self.0.save(&live, &st).await.map_err(internal)?;
        }
        self.0.spawn_runner(&live).await;
        live.wake.notify_one();
        self.0.progress_doc(&live).await
    }

    async fn export_csv(&self, id: i64) -> Result<String, CampaignError> {
        let live = self.0.get(id)?;
        let doc = self.0.progress_doc(&live).await?;
        let header: Vec<&str> = zvonar_web::RESULT_COLUMNS.iter().map(|c| c.0).collect();
        let mut out = header.join(";");
        out.push('\n');
        for row in zvonar_web::campaign_result_rows(&doc) {
            let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
            out.push_str(&fields.join(";"));
            out.push('\n');
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(recipients: Value) -> CampaignSpec {
        serde_json::from_value(json!({
            "name": "Отключение воды",
            "template": "Здравствуйте, {fio}.",
            "start": "2026-12-01T06:00:00Z",
            "end": "2026-12-01T15:00:00Z",
            "time_zone": "Europe/Moscow",
            "channels": 2,
            "per_minute": 10,
            "retries": {"busy": 1, "busy_gap_min": 5, "no_answer": 0, "no_answer_gap_min": 0},
            "recipients": recipients,
        }))
        .unwrap()
    }

    /// Drives [`amd_step`] the way the call loop does: the detector fed with the VAD's
    /// events in ms since the answer, one step after each.
    fn amd_run(on: OnMachine, events: &[(&str, u64)]) -> (Vec<AmdAct>, CallResult, bool) {
        use zvonar_outbound::amd::{AmdSettings, Detector};
        let mut s = spec(json!([{"phone": "+79165550101", "fio": "Иванов Иван"}]));
        s.answering_machine = Some(AmdSpec {
            greeting_ms: 3500,
            silence_ms: 2500,
            on_machine: on,
        });
        let now = tokio::time::Instant::now();
        let mut amd = Some((Detector::new(AmdSettings::default()), now));
        let (mut deadline, mut machine, mut out) = (None, false, CallResult::default());
        let mut acts = Vec::new();
        for &(what, ms) in events {
            if let Some((d, _)) = amd.as_mut() {
                match what {
                    "start" => {
                        d.on_speech_started(ms);
                    }
                    "end" => {
                        d.on_speech_ended(ms);
                    }
                    _ => {
                        d.poll(ms);
                    }
                }
            }
            acts.push(amd_step(
                &mut amd,
                &mut deadline,
                &mut machine,
                &mut out,
                &s,
            ));
        }
        (acts, out, machine)
    }

    #[test]
    fn a_short_hello_gets_the_message_at_its_pause() {
        let (acts, out, machine) = amd_run(OnMachine::Message, &[("start", 300), ("end", 900)]);
        assert_eq!(acts, [AmdAct::Wait, AmdAct::PlayMessage]);
        assert!(!machine);
        assert_eq!(out.outcome, None, "an ordinary answered call");
    }

    #[test]
    fn a_silent_listener_gets_the_message_after_the_silence() {
        let (acts, _, machine) = amd_run(OnMachine::Retry, &[("poll", 2500)]);
        assert_eq!(acts, [AmdAct::PlayMessage]);
        assert!(!machine);
    }

    #[test]
    fn a_machine_is_hung_up_on_for_a_retry_by_default() {
        let (acts, out, machine) = amd_run(OnMachine::default(), &[("start", 200), ("poll", 3701)]);
        assert_eq!(acts, [AmdAct::Wait, AmdAct::HangUp]);
        assert!(machine);
        assert_eq!(
            out.outcome,
            Some(Outcome::AnsweringMachine {
                message_left: false
            })
        );
    }

    #[test]
    fn a_machine_gets_the_message_after_its_greeting() {
        let (acts, out, _) = amd_run(
            OnMachine::Message,
            &[("start", 200), ("poll", 3701), ("end", 7200)],
        );
        assert_eq!(acts, [AmdAct::Wait, AmdAct::Wait, AmdAct::PlayMessage]);
        // Left once the message has played (the call loop sets message_left then).
        assert_eq!(
            out.outcome,
            Some(Outcome::AnsweringMachine {
                message_left: false
            })
        );
    }

    #[test]
    fn a_good_request_is_normalised() {
        let mut s = spec(json!([
            {"phone": "8 (916) 555-01-01", "consent": true, "fio": "Иванов Иван"},
            {"id": "ls-2", "phone": "sip:1002@10.0.0.5:5060", "fio": "Петров Пётр"},
        ]));
        let (_, tz) = s.check().unwrap();
        assert_eq!(tz, chrono_tz::Europe::Moscow);
        assert_eq!(s.recipients[0].phone, "+79165550101");
        // Without an id the phone is the id.
        assert_eq!(s.recipients[0].id.as_deref(), Some("+79165550101"));
        assert_eq!(s.recipients[1].phone, "sip:1002@10.0.0.5:5060");
        assert_eq!(s.ring_timeout_s, 30, "the default ring timeout");
    }

    #[test]
    fn bad_requests_name_the_field_or_the_recipient() {
        let ok = json!([{"phone": "+79165550101", "fio": "Иванов Иван"}]);
        type Change = Box<dyn Fn(&mut CampaignSpec)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|s| s.time_zone = "Mars/Base".into()), "time_zone"),
            (Box::new(|s| s.end = s.start), "end"),
            (Box::new(|s| s.channels = 0), "channels"),
            (Box::new(|s| s.per_minute = 0), "per_minute"),
            (Box::new(|s| s.ring_timeout_s = 2), "ring_timeout_s"),
            (Box::new(|s| s.retries.busy = 11), "retries"),
            (Box::new(|s| s.name = " ".into()), "name"),
            (Box::new(|s| s.template = String::new()), "template"),
            (Box::new(|s| s.question = Some(" ".into())), "question"),
            (Box::new(|s| s.recipients.clear()), "recipients"),
            (
                Box::new(|s| s.recipients[0].phone = "12ab".into()),
                "recipients[1]",
            ),
            (
                Box::new(|s| s.recipients[0].values.fio = None),
                "recipients[1] (+79165550101)",
            ),
            (
                Box::new(|s| {
                    let r = s.recipients[0].clone();
                    s.recipients.push(r);
                }),
                "recipients[2]: id",
            ),
        ];
        for (change, field) in cases {
            let mut s = spec(ok.clone());
            change(&mut s);
            let err = s.check().unwrap_err();
            assert!(err.starts_with(field), "{field}: {err}");
        }
    }

    /// The store side of the 230-ФЗ limits across campaigns: only other **debt** campaigns'
    /// conversations (answered, interrupted, in progress) within the look-back count.
    #[tokio::test]
    async fn other_debt_campaigns_conversations_are_loaded() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        migrate(&pool).await.unwrap();
        for (id, spec) in [
            (1, r#"{"debt":true}"#),
            (2, r#"{"debt":false}"#),
            (3, r#"{"debt":true}"#),
        ] {
            sqlx::query(
                "INSERT INTO campaigns (id, name, spec, state, phase, created_by, created_at)
                 VALUES (?, 'c', ?, '{}', 'running', 'admin', '2026-12-01T00:00:00Z')",
            )
            .bind(id)
            .bind(spec)
            .execute(&pool)
            .await
            .unwrap();
        }
        let t = |h: u32| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, h, 0, 0).unwrap();
        // (campaign, phone, account, started, outcome)
        #[allow(clippy::type_complexity)]
        let rows: [(i64, &str, Option<&str>, DateTime<Utc>, Option<&str>); 7] = [
            (1, "+79160000001", Some("100"), t(7), Some("answered")),
            (1, "+79160000002", None, t(8), Some("no_answer")),
            (1, "+79160000003", None, t(9), None),
            (1, "+79160000004", Some("104"), t(9), Some("interrupted")),
            (
                1,
                "+79160000005",
                None,
                t(1) - chrono::Duration::days(40),
                Some("answered"),
            ),
            (2, "+79160000006", None, t(7), Some("answered")),
            (3, "+79160000007", None, t(7), Some("answered")),
        ];
        for (c, phone, account, at, outcome) in rows {
            sqlx::query(
                "INSERT INTO campaign_attempts (campaign_id, recipient, phone, started_at, outcome, account)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(c)
            .bind(phone)
            .bind(phone)
            .bind(at)
            .bind(outcome)
            .bind(account)
            .execute(&pool)
            .await
            .unwrap();
        }
        let got = debt_conversations(
            &pool,
            3,
            t(12) - chrono::Duration::days(LIMITS_LOOKBACK_DAYS),
        )
        .await
        .unwrap();
        let mut phones: Vec<(&str, Option<&str>)> = got
            .iter()
            .map(|c| (c.phone.as_str(), c.account.as_deref()))
            .collect();
        phones.sort();
        assert_eq!(
            phones,
            vec![
                ("+79160000001", Some("100")),
                ("+79160000003", None),
                ("+79160000004", Some("104")),
            ]
        );
        assert_eq!(
            got.iter().find(|c| c.phone == "+79160000001").unwrap().at,
            t(7)
        );
    }

    /// Per-recipient zones: an uploaded recipient's `time_zone` is its own, the others take
    /// the campaign's; at 23:30 UTC the one in Vladivostok (09:30) is called, the one in
    /// Moscow (02:30) waits for 08:00 local (a working day, 2026-12-02). A bad zone name is
    /// an error naming the recipient.
    #[test]
    fn recipients_are_called_in_their_own_time_zones() {
        let mut s = spec(json!([
            {"id": "msk", "phone": "+79165550101", "consent": true, "fio": "Иванов Иван"},
            {"id": "vvo", "phone": "+79245550101", "consent": true, "fio": "Петров Пётр",
             "time_zone": "Asia/Vladivostok"},
        ]));
        s.start = "2026-12-01T00:00:00Z".parse().unwrap();
        s.end = "2026-12-04T00:00:00Z".parse().unwrap();
        let (_, tz) = s.check().unwrap();
        let rs = recipients_of(&s, tz, &HashMap::new());
        assert_eq!(rs[0].tz, chrono_tz::Europe::Moscow);
        assert_eq!(rs[1].tz, chrono_tz::Asia::Vladivostok);
        let mut c = Campaign::new(rs);
        let now: DateTime<Utc> = "2026-12-01T23:30:00Z".parse().unwrap();
        let d = c.poll(now, &s.rules());
        assert_eq!(d.dial, vec![1]);
        let w = c.recipients[0].waiting.unwrap();
        assert_eq!(w.why, zvonar_outbound::policy::Wait::Window);
        assert_eq!(
            w.until,
            "2026-12-02T05:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );

        let mut bad = spec(json!([
            {"phone": "+79165550101", "fio": "Иванов Иван", "time_zone": "Asia/Vladivostock"},
        ]));
        let err = bad.check().unwrap_err();
        assert!(err.starts_with("recipients[1]: time_zone"), "{err}");
    }

    #[test]
    fn dial_outcomes_map_to_the_scheduler() {
        assert_eq!(outcome_of(DialOutcome::Busy), Outcome::Busy);
        assert_eq!(outcome_of(DialOutcome::NoAnswer), Outcome::NoAnswer);
        assert_eq!(outcome_of(DialOutcome::Rejected), Outcome::Failed(603));
        assert_eq!(
            outcome_of(DialOutcome::InvalidNumber),
            Outcome::InvalidNumber(404)
        );
        assert_eq!(outcome_of(DialOutcome::Failed(503)), Outcome::Failed(503));
    }
}
