//! The rating robot (робот оценки качества, issue 8 point 5): once a day, at the configured
//! local time, it calls the residents whose tickets were completed since its last run and asks
//! them to rate the work 1–5, by voice or keypad, then to leave a comment.
//!
//! A day's calls are one **rating campaign** run by [`super::campaign`] — the same pacing,
//! 230-ФЗ call windows in the company's time zone, consent / opt-out / blacklist of the
//! registry's `phone_consents`, retries, recordings and restart rules as any campaign (shown in
//! `GET /api/v1/campaigns` like the others: «confirmed» there means «rated»). Only the call's
//! conversation differs ([`place`]): the sans-IO [`RatingDialog`] driven like the inbound
//! robot (one input per event, ASR with the loop/repetition gate of `zvonar_voice::asr`, the
//! no-input timer), the rating stored through [`Ratings::rate`] when the call ends (a low
//! rating files the quality-control ticket and reopens the ticket, as configured), each change
//! audited as `robot:rating`.
//!
//! **Schedule and restart.** [`next_run`] (sans-IO) says when the next run is due from the
//! last run stored in `rating_runs`: a day's run missed while zvonar was stopped runs at the
//! next start, once; a restart after today's run waits for tomorrow. A run selects tickets
//! completed after the last run's `until` (the first run: every ticket completed since the
//! rating tables exist) and stores the run, the campaign and the tickets it calls about in
//! one transaction ([`super::campaign::Campaigns::start_rating_round`]), so nobody is skipped
//! and no ticket is called about twice.

use super::campaign::{
    outcome_of, sip_code_of, CallResult, CampaignSpec, Campaigns, RecipientSpec,
};
use super::dial::{self, DialEvent, DialSpec, DialTarget};
use super::media::{MediaCommand, MediaEvent};
use super::Shared;
use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use zvonar_dialplan::rating::{RatedBy, RatingDialog, RatingInput, RatingOutput, RatingSettings};
use zvonar_dispatch::rating::{NewRating, RatingRun, RatingSource, Ratings, ROBOT_LOGIN};
use zvonar_models::{CallEventKind, CallId, Expect, NumberSlot, TicketId};
use zvonar_outbound::campaign::{Outcome, Retries};
use zvonar_voice::asr::{AsrError, AsrOutcome};

/// The ticket a rating call is about, as stored in the rating campaign's recipient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatedTicket {
    /// Ticket row id.
    pub id: i64,
    /// Its number.
    pub number: String,
    /// What the robot says first: the intro, the request (date and topic) and the question.
    pub greeting: String,
}

/// The conversation settings of a rating campaign (stored with it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatingRound {
    /// Silence after a question before it counts as no answer, ms.
    pub no_input_ms: u32,
    /// Longest comment, ms.
    pub comment_max_ms: u32,
}

/// What rating calls store their ratings with.
#[derive(Clone)]
pub struct RatingContext {
    /// The ratings store with the quality-control policy.
    pub ratings: Arc<Ratings>,
    /// The audit log (`None`: audit entries go to the log only).
    pub access: Option<Arc<zvonar_access::Access>>,
}

/// The robot's settings (`[rating]` of zvonar.toml, checked).
#[derive(Clone, Debug, PartialEq)]
pub struct RatingConfig {
    /// Local time of the daily run (in `time_zone`).
    pub at: NaiveTime,
    /// The company's time zone: the run time, the dates spoken, the call windows.
    pub time_zone: Tz,
    /// Said first: who is calling.
    pub intro: String,
    /// Topic code → how the request is named after «по заявке от …» («о протечке»).
    pub subjects: HashMap<String, String>,
    /// Topic code → name («Протечка»), for topics without a subject.
    pub topic_names: HashMap<String, String>,
    /// Simultaneous rating calls.
    pub channels: u32,
    /// New calls per minute.
    pub per_minute: u32,
    /// Ring before giving up, s.
    pub ring_timeout_s: u32,
    /// Retries after busy and no answer.
    pub retries: Retries,
    /// The round's calls are placed within this many hours of the run (and the legal
    /// windows); those not reached by then are not called.
    pub window_hours: u32,
    /// Conversation timings.
    pub round: RatingRound,
}

/// When the run after `last` (the last run's time, `None`: never ran) is due, given `now`: the
/// latest scheduled time (`at` local in `tz`) at or before `now` if the last run was before it
/// (a run missed while stopped is made up once, at once), else the next scheduled time.
pub fn next_run(
    at: NaiveTime,
    tz: Tz,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let scheduled = |day: chrono::NaiveDate| -> DateTime<Utc> {
        let local = day.and_time(at);
        // A time skipped by a DST change runs an hour later; a repeated one, the first time.
        tz.from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(local + ChronoDuration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&local))
    };
    let today = now.with_timezone(&tz).date_naive();
    let today_at = scheduled(today);
    let (latest, following) = if today_at <= now {
        (today_at, scheduled(today + ChronoDuration::days(1)))
    } else {
        (scheduled(today - ChronoDuration::days(1)), today_at)
    };
    match last {
        Some(l) if l >= latest => following,
        // Never ran, or not since the latest scheduled time: due now.
        _ => latest,
    }
}

/// «по заявке от двадцать пятого ноября о протечке»: the request as the robot names it, the
/// date of filing in `tz` spoken as a genitive ordinal with the month.
pub fn request_phrase(created_at: DateTime<Utc>, tz: Tz, subject: &str) -> String {
    let local = created_at.with_timezone(&tz);
    let date =
        zvonar_say::values::day_month(local.day(), local.month(), zvonar_say::numbers::Case::Gen)
            .unwrap_or_default();
    format!("по заявке от {date} {subject}").trim().to_string()
}

impl RatingConfig {
    /// How the request on `topic` is named: the configured subject, else «на тему
    /// «Протечка»» from the topic tree, else the code.
    pub fn subject(&self, topic: &str) -> String {
        match self.subjects.get(topic) {
            Some(s) => s.clone(),
            None => {
                let name = self.topic_names.get(topic).map_or(topic, String::as_str);
                format!("на тему «{name}»")
            }
        }
    }

    /// The greeting of a rating call about a ticket filed at `created_at` on `topic`.
    pub fn greeting(&self, created_at: DateTime<Utc>, topic: &str) -> String {
        format!(
            "{} Мы звоним {}. Пожалуйста, оцените, как выполнена заявка, от одного до пяти: пять — отлично, один — очень плохо. Скажите оценку или нажмите цифру на телефоне.",
            self.intro.trim(),
            request_phrase(created_at, self.time_zone, &self.subject(topic))
        )
    }
}

/// One run: selects the tickets completed since the last run and starts their rating
/// campaign (none: only the run is stored). Returns the campaign id, if one was started.
///
/// Errors: the database.
pub async fn run_once(
    campaigns: &Arc<Campaigns>,
    ratings: &Ratings,
    pool: &sqlx::SqlitePool,
    cfg: &RatingConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let since = ratings.last_run().await?.map(|r| r.until);
    let candidates = ratings.candidates(since, now).await?;
    let run = RatingRun {
        at: now,
        since,
        until: now,
        selected: candidates.len() as i64,
        campaign_id: None,
    };
    if candidates.is_empty() {
        let mut conn = pool.acquire().await?;
        Ratings::record_run(&mut conn, &run, &[]).await?;
        tracing::info!("rating robot: no tickets completed since the last run");
        return Ok(None);
    }
    let local = now.with_timezone(&cfg.time_zone);
    let recipients = candidates
        .iter()
        .map(|c| RecipientSpec {
            id: Some(format!("ticket-{}", c.number)),
            phone: c.caller.as_e164().to_string(),
            consent: false,
            values: Default::default(),
            skipped: None,
            ticket: Some(RatedTicket {
                id: c.ticket_id,
                number: c.number.clone(),
                greeting: cfg.greeting(c.created_at, &c.topic),
            }),
            time_zone: None,
        })
        .collect();
    let spec = CampaignSpec {
        name: format!("Оценка заявок {}", local.format("%d.%m.%Y")),
        template: cfg.intro.clone(),
        template_id: None,
        question: None,
        start: now - ChronoDuration::seconds(1),
        end: now + ChronoDuration::hours(i64::from(cfg.window_hours)),
        time_zone: cfg.time_zone.name().to_string(),
        channels: cfg.channels,
        per_minute: cfg.per_minute,
        retries: cfg.retries,
        ring_timeout_s: cfg.ring_timeout_s,
        debt: false,
        recipients,
        selection: None,
        rating: Some(cfg.round.clone()),
        answering_machine: None,
    };
    let tickets: Vec<i64> = candidates.iter().map(|c| c.ticket_id).collect();
    let id = campaigns.start_rating_round(spec, run, &tickets).await?;
    tracing::info!(
        campaign = id,
        tickets = tickets.len(),
        "rating robot: rating calls started"
    );
    Ok(Some(id))
}

/// The daily scheduler: sleeps until [`next_run`], runs [`run_once`], until `stop`.
pub fn spawn_scheduler(
    campaigns: Arc<Campaigns>,
    ratings: Arc<Ratings>,
    pool: sqlx::SqlitePool,
    cfg: RatingConfig,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let last = match ratings.last_run().await {
                Ok(l) => l.map(|r| r.at),
                Err(e) => {
                    tracing::error!(error = %e, "rating robot: last run not readable; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(60)) => continue,
                    }
                }
            };
            let now = Utc::now();
            let due = next_run(cfg.at, cfg.time_zone, last, now);
            let wait = (due - now).to_std().unwrap_or_default();
            tracing::info!(due = %due, "rating robot: next run");
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            if let Err(e) = run_once(&campaigns, &ratings, &pool, &cfg, Utc::now()).await {
                tracing::error!(error = %e, "rating robot: run failed; retrying in a minute");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                }
            }
        }
    })
}

/// The longest rating call, backstop: the conversation ends by itself well before.
const CALL_MAX: Duration = Duration::from_secs(240);

/// What the conversation produced.
#[derive(Default)]
struct Conversation {
    rated: Option<(u8, RatedBy)>,
    comment: Option<String>,
    comment_recording: Option<String>,
}

/// One rating call: dial `phone`, hold the [`RatingDialog`], store the rating when the call
/// ends (through `ctx`; without it the rating is logged as lost).
pub(super) async fn place(
    shared: &Arc<Shared>,
    ctx: Option<&RatingContext>,
    round: &RatingRound,
    ticket: &RatedTicket,
    ring_timeout_s: u32,
    phone: &str,
    call_id: &CallId,
) -> CallResult {
    let mut out = CallResult::default();
    // Synthesised before dialling: the resident hears the robot at once.
    let greeting = match shared.tts.synthesize(&ticket.greeting, "ru").await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(%call_id, error = %e, "rating greeting not synthesised: not dialling");
            out.outcome = Some(Outcome::Failed(0));
            return out;
        }
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
            ring_timeout: Duration::from_secs(u64::from(ring_timeout_s)),
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
            tracing::info!(%call_id, error = %e, "rating call not placed");
            out.outcome = Some(outcome_of(e.outcome()));
            return out;
        }
    };
    let settings = RatingSettings {
        no_input_ms: round.no_input_ms,
        comment_max_ms: round.comment_max_ms,
        ..RatingSettings::default()
    };
    let mut dialog = RatingDialog::new(settings, ticket.greeting.clone());
    let mut conv = Conversation::default();
    let (asr_tx, mut asr_rx) = tokio::sync::mpsc::unbounded_channel();
    let asr_cancel = CancellationToken::new();
    let _asr_cancel_on_drop = asr_cancel.clone().drop_guard();
    let mut answered = false;
    let mut media_open = true;
    let mut hung_up = false;
    // The prompt the dialog waits for, the listen it opened, the no-input timer.
    let mut playing: Option<u64> = None;
    let mut next_prompt = 1u64;
    let mut listening: Option<(u32, bool)> = None;
    let mut no_input_at: Option<tokio::time::Instant> = None;
    let mut hard_end: Option<tokio::time::Instant> = None;
    let far = |d: Option<tokio::time::Instant>| async move {
        match d {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    loop {
        // Carry out the dialog's outputs.
        while let Some(o) = dialog.poll_output() {
            match o {
                RatingOutput::Say(text) => {
                    let pcm = if next_prompt == 1 {
                        Ok(greeting.clone())
                    } else {
                        shared.tts.synthesize(&text, "ru").await
                    };
                    shared
                        .events
                        .publish(call_id, CallEventKind::RobotSaid { text: text.clone() })
                        .await;
                    match pcm {
                        Ok(pcm) => {
                            let id = next_prompt;
                            next_prompt += 1;
                            playing = Some(id);
                            no_input_at = None;
                            let _ = leg.media().send(MediaCommand::Play { id, pcm });
                        }
                        Err(e) => {
                            // A prompt that cannot be said is skipped: the dialog goes on.
                            tracing::error!(%call_id, error = %e, "rating prompt not synthesised");
                            next_prompt += 1;
                            dialog.handle(RatingInput::PlaybackDone);
                        }
                    }
                }
                RatingOutput::Listen {
                    no_input_ms,
                    max_ms,
                    comment,
                } => {
                    let _ = leg.media().send(MediaCommand::MaxUtterance { ms: max_ms });
                    listening = Some((no_input_ms, comment));
                    if playing.is_none() {
                        no_input_at = Some(
                            tokio::time::Instant::now()
                                + Duration::from_millis(u64::from(no_input_ms)),
                        );
                    }
                }
                RatingOutput::Rated { value, by } => {
                    tracing::info!(%call_id, ticket = %ticket.number, value, ?by, "rating given");
                    conv.rated = Some((value, by));
                    out.rated = true;
                    if by == RatedBy::Keys {
                        out.digit = char::from_digit(u32::from(value), 10);
                    }
                }
                RatingOutput::Comment(text) => conv.comment = text,
                RatingOutput::Hangup => {
                    if !hung_up {
                        hung_up = true;
                        leg.hangup();
                    }
                }
            }
        }
        tokio::select! {
            ev = leg.next_event() => match ev {
                Some(DialEvent::Ringing) => {}
                Some(DialEvent::Answered { .. }) => {
                    answered = true;
                    out.outcome = Some(Outcome::Answered);
                    out.recording = Some(rel.clone());
                    hard_end = Some(tokio::time::Instant::now() + CALL_MAX);
                    // The call's record gets its recording (played on the ticket card).
                    shared.events.publish(call_id, CallEventKind::Answered { recording: rel.clone() }).await;
                    dialog.handle(RatingInput::Start);
                }
                Some(DialEvent::Failed(o)) => {
                    out.outcome = Some(outcome_of(o));
                    out.sip_code = sip_code_of(o);
                    break;
                }
                Some(DialEvent::HungUp(_)) | None => break,
            },
            ev = media_rx.recv(), if answered && media_open => match ev {
                Some(MediaEvent::PlaybackDone { id }) if playing == Some(id) => {
                    playing = None;
                    dialog.handle(RatingInput::PlaybackDone);
                    if let (Some((ms, _)), None) = (listening, playing) {
                        no_input_at = Some(tokio::time::Instant::now() + Duration::from_millis(u64::from(ms)));
                    }
                }
                Some(MediaEvent::SpeechStarted) => {
                    if listening.is_some() && playing.is_none() {
                        no_input_at = None;
                    }
                }
                Some(MediaEvent::Utterance { pcm, .. }) => {
                    let Some((_, comment)) = listening else { continue };
                    if playing.is_some() {
                        continue;
                    }
                    listening = None;
                    no_input_at = None;
                    if comment {
                        let rel_comment = rel.replace(".wav", "-comment.wav");
                        match write_wav(&shared.recordings_dir.join(&rel_comment), &pcm) {
                            Ok(()) => conv.comment_recording = Some(rel_comment),
                            Err(e) => tracing::error!(%call_id, error = %e, "comment recording not written"),
                        }
                    }
                    let asr = shared.asr.clone();
                    let tx = asr_tx.clone();
                    let cancel = asr_cancel.clone();
                    let expect = if comment { Expect::Free } else { Expect::Number(NumberSlot::Rating) };
                    tokio::spawn(async move {
                        let r = asr.recognise_expecting(pcm, expect, &cancel).await;
                        if !matches!(r, Err(AsrError::Cancelled)) {
                            let _ = tx.send(r);
                        }
                    });
                }
                Some(MediaEvent::Digit { digit, via }) => {
                    shared.events.publish(call_id, CallEventKind::Digits {
                        digits: digit.to_string(), via: via.to_string(),
                    }).await;
                    dialog.handle(RatingInput::Key(digit));
                    if dialog.has_output() {
                        // The key answered (over a prompt too: it is cut).
                        listening = None;
                        no_input_at = None;
                        if playing.take().is_some() {
                            let _ = leg.media().send(MediaCommand::StopPlayback);
                        }
                    }
                }
                Some(_) => {}
                None => media_open = false,
            },
            Some(r) = asr_rx.recv() => {
                match r {
                    Ok(AsrOutcome::Speech(t)) => {
                        shared.events.publish(call_id, CallEventKind::Recognised {
                            text: t.text.clone(), confidence: t.confidence,
                            audio_ms: t.audio_ms, asr_ms: t.asr_ms,
                        }).await;
                        dialog.handle(RatingInput::Utterance { text: t.text, confidence: t.confidence });
                    }
                    Ok(AsrOutcome::Rejected { reason, .. }) => {
                        shared.events.publish(call_id, CallEventKind::SpeechRejected { reason: reason.to_string() }).await;
                        dialog.handle(RatingInput::Unrecognised);
                    }
                    Err(e) => {
                        tracing::warn!(%call_id, error = %e, "ASR failed on a rating call");
                        shared.events.publish(call_id, CallEventKind::SpeechRejected { reason: "asr_error".into() }).await;
                        dialog.handle(RatingInput::Unrecognised);
                    }
                }
            }
            _ = far(no_input_at) => {
                no_input_at = None;
                listening = None;
                dialog.handle(RatingInput::NoInput);
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
    if let Some((value, by)) = conv.rated {
        store(ctx, ticket, call_id, &out, conv, value, by).await;
    }
    out
}

async fn store(
    ctx: Option<&RatingContext>,
    ticket: &RatedTicket,
    call_id: &CallId,
    out: &CallResult,
    conv: Conversation,
    value: u8,
    by: RatedBy,
) {
    let Some(ctx) = ctx else {
        tracing::error!(%call_id, ticket = %ticket.number, value, "no rating store: the rating is lost");
        return;
    };
    let rating = NewRating {
        value,
        source: match by {
            RatedBy::Voice => RatingSource::Voice,
            RatedBy::Keys => RatingSource::Keys,
        },
        comment: conv.comment,
        recording: out.recording.clone(),
        comment_recording: conv.comment_recording,
        call_id: Some(call_id.clone()),
        at: Utc::now(),
        by: ROBOT_LOGIN.to_string(),
    };
    match ctx.ratings.rate(TicketId(ticket.id), &rating).await {
        Ok(done) => {
            let rec = |action: &str| zvonar_access::AuditRecord {
                user_id: None,
                actor: ROBOT_LOGIN.to_string(),
                ip: None,
                action: action.to_string(),
                target: None,
                details: serde_json::json!({}),
            };
            if let Err(e) = zvonar_web::audit_outcome(ctx.access.as_deref(), rec, &done).await {
                tracing::error!(%call_id, error = %e, "rating not audited");
            }
        }
        Err(e) => {
            tracing::error!(%call_id, ticket = %ticket.number, error = %e, "rating not stored")
        }
    }
}

/// Writes 8 kHz mono 16-bit `pcm` to `path` (directories created).
fn write_wav(path: &std::path::Path, pcm: &[i16]) -> Result<(), hound::Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    for s in pcm {
        w.write_sample(*s)?;
    }
    w.finalize()
}

#[cfg(test)]
mod tests;
