//! Emergency call-outs to the staff on duty, run in the engine: the
//! [`zvonar_dispatch::duty::Escalation`] state machine driven with the real clock, its
//! calls placed with [`super::dial::dial`] (a roster's `account:NAME` at the account's live
//! registration, a phone number through the `[[trunk]]`s, a `sip:` URI directly), the
//! message spoken by the TTS, the answer read from the keypad (RFC 4733 or SIP INFO).
//!
//! - **Finding tickets.** A scanner looks every `[duty] scan_ms` for emergency tickets in
//!   status `new`, not assigned to a person, filed within `max_age_min`, without an
//!   escalation — whoever filed them (the robot, the console, the API). For each: its
//!   department ([`DutySettings::department_for`]; a ticket without one — its topic not in
//!   `[duty] topics` and no `default_department` — is left alone), that roster's callees at this local
//!   time (the company's `time_zone`), an escalation row inserted once per ticket (the
//!   ticket id is its primary key), the department set on the ticket.
//! - **Calling.** One task per escalation: `poll` → **store the state (the attempt in
//!   progress) before dialling** → one call task → `on_call_ended` → store → next. A call:
//!   «Внимание! Аварийная заявка номер 1024. Адрес: … Проблема: … Чтобы принять заявку,
//!   нажмите 1. Чтобы отказаться, нажмите 2.», synthesised before dialling; key 1 accepts
//!   (the ticket is assigned to that person, `in_progress`), key 2 refuses; no key within
//!   `answer_wait_s` after the message, a hang-up, busy, no answer within `ring_s`, a
//!   failure → the next person. The answered leg is recorded like other calls
//!   (`YYYY/MM/DD/duty-<ticket>-<n>.wav`).
//! - **The ticket.** Every attempt and the acceptance are in the escalation (the ticket
//!   card's `escalation`, `GET /api/v1/tickets/{id}/escalation`) and written as comments
//!   by «Дежурный робот» (the console's ticket card shows them). Nobody accepted → the
//!   escalation is `unanswered` (`GET /api/v1/duty/unanswered`, the console's alarm).
//! - **Acceptance in the console** ([`DutyApi`]): the call in progress is hung up, the
//!   ticket assigned to whoever pressed the button; nobody else is called. A ticket
//!   assigned, taken into work, closed or cancelled elsewhere stops its escalation: the call
//!   in progress is hung up within [`TAKEN_CHECK_EVERY`], and a key 1 pressed meanwhile does
//!   not change the assignment.
//! - **Restart.** Escalations waiting or calling are loaded and
//!   [`Escalation::recover`]ed: a call that was up becomes `interrupted` and the next person
//!   is called — never the same one at once, whose phone may still ring.

use super::dial::{self, DialEvent, DialOutcome, DialSpec, DialStartError, DialTarget};
use super::media::{MediaCommand, MediaEvent};
use super::Shared;
use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;
use tokio::sync::{oneshot, Mutex, Notify};
use zvonar_dispatch::duty::{
    escalate_since, AttemptOutcome, Command, DutyPhone, DutySettings, DutyStore, Escalation, State,
};
use zvonar_dispatch::{
    Assignment, DispatchStore, SqliteDispatchStore, Ticket, TicketChange, TicketRef, TicketWorkflow,
};
use zvonar_models::{CallId, TicketId};
use zvonar_web::{AcceptError, DutyControl};

/// How often a ticket whose escalation is calling someone is checked for having been taken
/// elsewhere (assigned, taken into work, closed, cancelled): the call is then hung up.
pub const TAKEN_CHECK_EVERY: chrono::Duration = chrono::Duration::seconds(2);

/// The author of the robot's comments on a ticket.
pub const ROBOT_AUTHOR: &str = "Дежурный робот";

/// What the person on duty hears: the ticket number, the address, the problem, the keys.
/// `address`: the building's display address, when the ticket has a building.
pub fn message_text(ticket: &Ticket, address: Option<&str>) -> String {
    let mut s = format!("Внимание! Аварийная заявка номер {}. ", ticket.number);
    match (address, ticket.apartment.as_deref().map(str::trim)) {
        (Some(a), Some(apt)) if !apt.is_empty() => {
            s.push_str(&format!("Адрес: {a}, квартира {apt}. "));
        }
        (Some(a), _) => s.push_str(&format!("Адрес: {a}. ")),
        (None, _) => s.push_str("Адрес не указан. "),
    }
    let problem = ticket.description.trim();
    if !problem.is_empty() {
        s.push_str(&format!("Проблема: {}. ", problem.trim_end_matches('.')));
    }
    s.push_str("Чтобы принять заявку, нажмите 1. Чтобы отказаться, нажмите 2.");
    s
}

/// The dial target of a roster phone.
fn target(p: &DutyPhone) -> DialTarget {
    match p {
        DutyPhone::Account(a) => DialTarget::Account(a.clone()),
        DutyPhone::Number(n) => DialTarget::Number(n.clone()),
        DutyPhone::Uri(u) => DialTarget::Uri(u.clone()),
    }
}

/// The attempt outcome of an unanswered dial.
fn outcome_of(o: DialOutcome) -> (AttemptOutcome, Option<u16>) {
    match o {
        DialOutcome::Busy => (AttemptOutcome::Busy, Some(486)),
        DialOutcome::NoAnswer => (AttemptOutcome::NoAnswer, Some(487)),
        DialOutcome::Rejected => (AttemptOutcome::Rejected, Some(603)),
        DialOutcome::InvalidNumber => (AttemptOutcome::Failed { code: Some(404) }, Some(404)),
        DialOutcome::Cancelled => (AttemptOutcome::Stopped, Some(487)),
        DialOutcome::Failed(c) => (AttemptOutcome::Failed { code: Some(c) }, Some(c)),
        #[allow(unreachable_patterns)]
        _ => (AttemptOutcome::Failed { code: None }, None),
    }
}

/// One escalation being run.
struct Live {
    esc: Mutex<Escalation>,
    wake: Notify,
    /// Hangs up the call in progress (attempt number, signal).
    hangup: StdMutex<Option<(u32, oneshot::Sender<()>)>>,
}

/// The escalations of the process (see the module docs).
pub struct DutyRunner {
    /// Held weakly, like the campaigns: the runner must not keep the engine alive.
    shared: std::sync::Weak<Shared>,
    store: Arc<SqliteDispatchStore>,
    settings: DutySettings,
    live: StdMutex<HashMap<i64, Arc<Live>>>,
    /// Emergency tickets without a department, already logged.
    skipped: StdMutex<std::collections::HashSet<i64>>,
}

impl DutyRunner {
    /// Loads and recovers the escalations that were running, starts them and the scanner
    /// (when `[duty] enabled`).
    ///
    /// Errors: the database.
    pub async fn start(
        shared: Arc<Shared>,
        store: Arc<SqliteDispatchStore>,
        settings: DutySettings,
    ) -> anyhow::Result<Arc<Self>> {
        let this = Arc::new(DutyRunner {
            shared: Arc::downgrade(&shared),
            store,
            settings,
            live: StdMutex::new(HashMap::new()),
            skipped: StdMutex::default(),
        });
        if !this.settings.enabled {
            tracing::info!("[duty] disabled: emergency tickets are not called out");
            return Ok(this);
        }
        let now = Utc::now();
        for mut e in this.store.open_escalations().await? {
            let was = e.calling();
            e.recover(now);
            if let Some(n) = was {
                tracing::warn!(
                    ticket = e.ticket_id,
                    attempt = n,
                    "duty call in progress at the last stop: interrupted, the next person is called"
                );
                this.comment(
                    e.ticket_id,
                    &format!("Звонок {n} прерван перезапуском zvonar."),
                )
                .await;
            }
            this.store.save_escalation(&e, now).await?;
            this.spawn(e);
        }
        tokio::spawn(this.clone().scan());
        Ok(this)
    }

    fn lock_live(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spawn(self: &Arc<Self>, e: Escalation) {
        let id = e.ticket_id;
        let live = Arc::new(Live {
            esc: Mutex::new(e),
            wake: Notify::new(),
            hangup: StdMutex::new(None),
        });
        self.lock_live().insert(id, live.clone());
        tokio::spawn(self.clone().run(live));
    }

    async fn comment(&self, ticket: i64, text: &str) {
        if let Err(e) = self
            .store
            .add_comment(TicketId(ticket), Utc::now(), ROBOT_AUTHOR, text)
            .await
        {
            tracing::error!(ticket, error = %e, "duty comment not stored");
        }
    }

    /// Looks for new emergency tickets until the engine goes.
    async fn scan(self: Arc<Self>) {
        let every = Duration::from_millis(self.settings.scan_ms);
        loop {
            let Some(shared) = self.shared.upgrade() else {
                return;
            };
            if let Err(e) = self.scan_once(&shared).await {
                tracing::error!(error = %e, "emergency tickets not scanned; retrying");
            }
            drop(shared);
            tokio::time::sleep(every).await;
        }
    }

    async fn scan_once(self: &Arc<Self>, shared: &Arc<Shared>) -> anyhow::Result<()> {
        let now = Utc::now();
        let tickets = self
            .store
            .emergencies_to_escalate(escalate_since(&self.settings, now))
            .await?;
        for t in tickets {
            // No department for the ticket ([duty] topics, default_department): call-outs are
            // not set up for it; left alone (logged once).
            let Some(department) = self.settings.department_for(&t) else {
                let mut skipped = self.skipped.lock().unwrap_or_else(|p| p.into_inner());
                if skipped.insert(t.id.0) {
                    tracing::info!(ticket = %t.number, topic = %t.topic,
                        "emergency ticket without a department ([duty] topics, default_department): nobody is called");
                }
                continue;
            };
            let local = now.with_timezone(&shared.time_zone).naive_local();
            let callees = self.store.roster(&department).await?.callees(local);
            let e = Escalation::new(t.id.0, &department, callees.clone(), now);
            if !self.store.start_escalation(&e, now).await? {
                continue;
            }
            tracing::info!(ticket = %t.number, department = ?department, callees = callees.len(),
                "emergency ticket: calling the staff on duty");
            if t.department.is_none() {
                let ch = TicketChange::assign(Assignment {
                    department: Some(department.clone()),
                    executor: None,
                });
                if let Err(err) = self.store.update_ticket(t.id, &ch).await {
                    tracing::error!(ticket = %t.number, error = %err, "department not set");
                }
            }
            let names: Vec<String> = callees
                .iter()
                .map(|c| {
                    if c.supervisor {
                        format!("{} (руководитель)", c.name)
                    } else {
                        c.name.clone()
                    }
                })
                .collect();
            self.comment(
                t.id.0,
                &if names.is_empty() {
                    format!("Аварийная заявка: в графике отдела «{department}» сейчас никого нет.")
                } else {
                    format!(
                        "Аварийная заявка: звоним дежурным отдела «{department}» по очереди: {}.",
                        names.join(", ")
                    )
                },
            )
            .await;
            self.spawn(e);
        }
        Ok(())
    }

    /// Whether the ticket was taken, closed or cancelled elsewhere.
    async fn taken(&self, ticket: i64) -> Option<String> {
        match self.store.ticket(&TicketRef::Id(TicketId(ticket))).await {
            Ok(Some(d)) if d.ticket.status != "new" => Some(format!("status {}", d.ticket.status)),
            Ok(Some(d)) if d.ticket.executor_id.is_some() => Some("assigned".into()),
            Ok(Some(_)) => None,
            Ok(None) => Some("no such ticket".into()),
            Err(e) => {
                tracing::error!(ticket, error = %e, "ticket not readable");
                None
            }
        }
    }

    /// Stores the escalation; a failure is logged (the state in memory goes on).
    async fn save(&self, e: &Escalation) {
        if let Err(err) = self.store.save_escalation(e, Utc::now()).await {
            tracing::error!(ticket = e.ticket_id, error = %err, "escalation not stored");
        }
    }

    /// Carries out the machine's commands (the state is already stored).
    async fn execute(self: &Arc<Self>, live: &Arc<Live>, ticket: i64, cmds: Vec<Command>) {
        for c in cmds {
            match c {
                Command::Dial { n, callee } => {
                    let (tx, rx) = oneshot::channel();
                    *live.hangup.lock().unwrap_or_else(|p| p.into_inner()) = Some((n, tx));
                    tokio::spawn(self.clone().call(live.clone(), ticket, n, callee, rx));
                }
                Command::HangUp { n } => {
                    let mut h = live.hangup.lock().unwrap_or_else(|p| p.into_inner());
                    if h.as_ref().is_some_and(|(m, _)| *m == n) {
                        if let Some((_, tx)) = h.take() {
                            let _ = tx.send(());
                        }
                    }
                }
                Command::Assign { user_id, name } => {
                    let (department, by_phone) = {
                        let e = live.esc.lock().await;
                        let by_phone =
                            matches!(&e.state, State::Accepted { via, .. } if via == "phone");
                        (
                            Some(e.department.clone()).filter(|d| !d.is_empty()),
                            by_phone,
                        )
                    };
                    // Key 1 pressed just as a dispatcher took the ticket: theirs stands.
                    if by_phone {
                        if let Some(why) = self.taken(ticket).await {
                            tracing::info!(
                                ticket,
                                user_id,
                                why,
                                "accepted by phone, but the ticket was taken meanwhile"
                            );
                            self.comment(
                                ticket,
                                &format!("{name} нажал(а) 1, но заявку уже взяли: назначение не изменено."),
                            )
                            .await;
                            continue;
                        }
                    }
                    let mut ch = TicketChange::assign(Assignment {
                        department,
                        executor: Some((user_id, name.clone())),
                    });
                    ch.status = Some("in_progress".into());
                    match self.store.update_ticket(TicketId(ticket), &ch).await {
                        Ok(_) => {
                            tracing::info!(ticket, user_id, %name, "emergency ticket accepted")
                        }
                        Err(e) => {
                            tracing::error!(ticket, error = %e, "accepted ticket not assigned")
                        }
                    }
                    self.comment(ticket, &format!("Заявку принял(а) {name}."))
                        .await;
                }
                Command::MarkUnanswered => {
                    tracing::warn!(ticket, "emergency ticket: nobody on duty accepted");
                    self.comment(
                        ticket,
                        "НИКТО ИЗ ДЕЖУРНЫХ НЕ ПРИНЯЛ АВАРИЙНУЮ ЗАЯВКУ: назначьте исполнителя вручную.",
                    )
                    .await;
                }
            }
        }
    }

    /// The task of one escalation (see the module docs).
    async fn run(self: Arc<Self>, live: Arc<Live>) {
        let ticket = live.esc.lock().await.ticket_id;
        let rules = self.settings.rules();
        loop {
            if self.shared.upgrade().is_none() {
                return;
            }
            let (cmds, wake_at, over) = {
                let mut e = live.esc.lock().await;
                let mut cmds = Vec::new();
                // Also while a call is up (checked every TAKEN_CHECK_EVERY): a ticket taken
                // elsewhere hangs the call up at once.
                if !e.is_over() {
                    if let Some(why) = self.taken(ticket).await {
                        tracing::info!(
                            ticket,
                            why,
                            "emergency ticket taken elsewhere: escalation stopped"
                        );
                        cmds.extend(e.stop(&why, Utc::now()));
                    }
                }
                cmds.extend(e.poll(Utc::now(), &rules));
                // Stored before any call is placed: a restart then knows the call was up.
                self.save(&e).await;
                let wake_at = match e.calling() {
                    Some(_) => Some(Utc::now() + TAKEN_CHECK_EVERY),
                    None => e.wake_at(),
                };
                (cmds, wake_at, e.is_over())
            };
            self.execute(&live, ticket, cmds).await;
            if over {
                self.lock_live().remove(&ticket);
                return;
            }
            let sleep = wake_at
                .and_then(|w| (w - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(3600))
                .max(Duration::from_millis(20));
            tokio::select! {
                _ = live.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// One call task: dial, speak, read the key, report to the machine. Boxed: the task
    /// carries out the machine's next commands, which may start the next call task.
    fn call(
        self: Arc<Self>,
        live: Arc<Live>,
        ticket: i64,
        n: u32,
        callee: zvonar_dispatch::duty::Callee,
        hangup: oneshot::Receiver<()>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(self.call_task(live, ticket, n, callee, hangup))
    }

    async fn call_task(
        self: Arc<Self>,
        live: Arc<Live>,
        ticket: i64,
        n: u32,
        callee: zvonar_dispatch::duty::Callee,
        hangup: oneshot::Receiver<()>,
    ) {
        let Some(shared) = self.shared.upgrade() else {
            // The engine is stopping: the attempt stays in progress in the stored state and
            // the next start recovers it as interrupted.
            return;
        };
        // The call's CDR (direction outbound, the ticket as its reference), like an inbound
        // call's: the calls list shows it and the retention sweep covers its recording.
        let call_id = CallId(format!("duty-{ticket}-{n}"));
        shared
            .events
            .publish(
                &call_id,
                zvonar_models::CallEventKind::OutboundStarted {
                    callee: callee.phone.to_string(),
                    flow: "duty".into(),
                    campaign_id: None,
                    ticket_id: Some(ticket),
                },
            )
            .await;
        let (outcome, sip, recording) = self.place(&shared, ticket, n, &callee, hangup).await;
        let code = match outcome {
            _ if recording.is_some() => "answered",
            AttemptOutcome::NoAnswer => "no_answer",
            AttemptOutcome::Busy => "busy",
            AttemptOutcome::Rejected => "rejected",
            AttemptOutcome::Interrupted => "interrupted",
            AttemptOutcome::Stopped => "cancelled",
            _ => "failed",
        };
        shared
            .events
            .publish(
                &call_id,
                zvonar_models::CallEventKind::OutboundEnded {
                    outcome: code.into(),
                    sip_code: sip,
                    recording: recording.clone(),
                },
            )
            .await;
        drop(shared);
        let now = Utc::now();
        let cmds = {
            let mut e = live.esc.lock().await;
            let cmds = e.on_call_ended(
                n,
                outcome,
                sip,
                recording.clone(),
                now,
                &self.settings.rules(),
            );
            self.save(&e).await;
            cmds
        };
        tracing::info!(ticket, attempt = n, callee = %callee.name, ?outcome, sip_code = ?sip, "duty call ended");
        self.comment(
            ticket,
            &format!(
                "Звонок {n}: {}{} ({}) — {}{}{}.",
                callee.name,
                if callee.supervisor {
                    ", руководитель"
                } else {
                    ""
                },
                callee.phone,
                outcome.label_ru(),
                sip.map(|c| format!(", SIP {c}")).unwrap_or_default(),
                recording
                    .map(|r| format!(", запись {r}"))
                    .unwrap_or_default(),
            ),
        )
        .await;
        {
            let mut h = live.hangup.lock().unwrap_or_else(|p| p.into_inner());
            if h.as_ref().is_some_and(|(m, _)| *m == n) {
                *h = None;
            }
        }
        self.execute(&live, ticket, cmds).await;
        live.wake.notify_one();
    }

    async fn place(
        &self,
        shared: &Arc<Shared>,
        ticket: i64,
        n: u32,
        callee: &zvonar_dispatch::duty::Callee,
        mut hangup: oneshot::Receiver<()>,
    ) -> (AttemptOutcome, Option<u16>, Option<String>) {
        let failed = (AttemptOutcome::Failed { code: None }, None, None);
        let call_id = CallId(format!("duty-{ticket}-{n}"));
        let t = match self.store.ticket(&TicketRef::Id(TicketId(ticket))).await {
            Ok(Some(d)) => d.ticket,
            _ => return failed,
        };
        let address = match t.building_id {
            Some(b) => shared
                .registry
                .buildings()
                .await
                .ok()
                .and_then(|all| all.into_iter().find(|x| x.id == b))
                .map(|x| x.address),
            None => None,
        };
        let text = message_text(&t, address.as_deref());
        // Synthesised before dialling: whoever answers hears the message at once.
        let message = match shared.tts.synthesize(&text, "ru").await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(%call_id, error = %e, "duty message not synthesised: not dialling");
                return failed;
            }
        };
        let rel = super::call::recording_path(Utc::now(), shared.time_zone, &call_id);
        let (ev_tx, mut media_rx) = tokio::sync::mpsc::unbounded_channel();
        let spec = DialSpec {
            call_id: call_id.clone(),
            target: target(&callee.phone),
            from_user: None,
            ring_timeout: Duration::from_secs(u64::from(self.settings.ring_s)),
            credential: None,
            record: Some(shared.recordings_dir.join(&rel)),
            media_events: Some(ev_tx),
            headers: Vec::new(),
            refers: None,
        };
        let mut leg = match dial::dial(shared, spec).await {
            Ok(l) => l,
            Err(e) => {
                tracing::info!(%call_id, error = %e, "duty call not placed");
                return match e {
                    DialStartError::NotRegistered(_) | DialStartError::NoRegistrar => failed,
                    other => {
                        let (o, c) = outcome_of(other.outcome());
                        (o, c, None)
                    }
                };
            }
        };
        let answer_wait = Duration::from_secs(u64::from(self.settings.answer_wait_s));
        let message_len = Duration::from_millis(message.len() as u64 / 8);
        let mut answered = false;
        let mut outcome: Option<(AttemptOutcome, Option<u16>)> = None;
        let mut recording = None;
        let mut hung_up = false;
        let mut media_open = true;
        let mut hangup_open = true;
        let mut key_deadline: Option<tokio::time::Instant> = None;
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
                        recording = Some(rel.clone());
                        shared.events.publish(&call_id, zvonar_models::CallEventKind::Answered { recording: rel.clone() }).await;
                        let _ = leg.media().send(MediaCommand::Play { id: 1, pcm: message.clone() });
                        // A backstop in case the playback never reports.
                        key_deadline = Some(tokio::time::Instant::now() + message_len + answer_wait + Duration::from_secs(5));
                    }
                    Some(DialEvent::Failed(o)) => {
                        let (mut o, c) = outcome_of(o);
                        if o == AttemptOutcome::Stopped && hangup_open {
                            // Cancelled, but not by us: counts as not answered.
                            o = AttemptOutcome::NoAnswer;
                        }
                        outcome = Some((o, c));
                        break;
                    }
                    Some(DialEvent::HungUp(_)) | None => break,
                },
                ev = media_rx.recv(), if answered && media_open => match ev {
                    Some(MediaEvent::PlaybackDone { id: 1 }) => {
                        key_deadline = Some(tokio::time::Instant::now() + answer_wait);
                    }
                    Some(MediaEvent::Digit { digit, .. }) if outcome.is_none() && matches!(digit, '1' | '2') => {
                        outcome = Some((
                            if digit == '1' { AttemptOutcome::Accepted } else { AttemptOutcome::Refused },
                            Some(200),
                        ));
                        let _ = leg.media().send(MediaCommand::StopPlayback);
                        if !hung_up {
                            hung_up = true;
                            leg.hangup();
                        }
                    }
                    Some(_) => {}
                    None => media_open = false,
                },
                r = &mut hangup, if hangup_open => {
                    hangup_open = false;
                    if r.is_ok() && !hung_up {
                        hung_up = true;
                        if outcome.is_none() {
                            outcome = Some((AttemptOutcome::Stopped, answered.then_some(200)));
                        }
                        leg.hangup();
                    }
                }
                _ = far(key_deadline) => {
                    key_deadline = None;
                    if !hung_up {
                        hung_up = true;
                        leg.hangup();
                    }
                }
            }
        }
        let (o, c) = outcome.unwrap_or(if answered {
            (AttemptOutcome::NoKey, Some(200))
        } else {
            (AttemptOutcome::Failed { code: None }, None)
        });
        (o, c, if answered { recording } else { None })
    }
}

/// The API's handle on [`DutyRunner`].
pub struct DutyApi(pub Arc<DutyRunner>);

#[async_trait::async_trait]
impl DutyControl for DutyApi {
    async fn accept(
        &self,
        ticket_id: i64,
        user_id: i64,
        name: &str,
    ) -> Result<Escalation, AcceptError> {
        let live = self.0.lock_live().get(&ticket_id).cloned();
        let Some(live) = live else {
            return match self.0.store.escalation(ticket_id).await {
                Ok(Some(_)) => Err(AcceptError::Over(
                    "оповещение дежурных уже завершено: назначьте исполнителя обычным образом"
                        .into(),
                )),
                Ok(None) => Err(AcceptError::NotFound),
                Err(e) => Err(AcceptError::Internal(e.to_string())),
            };
        };
        let (cmds, e) = {
            let mut e = live.esc.lock().await;
            if e.is_over() {
                return Err(AcceptError::Over(
                    "оповещение дежурных уже завершено".into(),
                ));
            }
            let cmds = e.accept(user_id, name, Utc::now());
            self.0.save(&e).await;
            (cmds, e.clone())
        };
        self.0.execute(&live, ticket_id, cmds).await;
        live.wake.notify_one();
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(apartment: Option<&str>, description: &str) -> Ticket {
        serde_json::from_value(serde_json::json!({
            "id": 1024, "number": "1024", "created_at": "2026-11-30T10:00:00Z", "call_id": null,
            "caller": null, "account_id": null, "building_id": 1, "premises_id": null,
            "apartment": apartment, "topic": "leak", "emergency": true,
            "description": description, "outage_id": null, "unfinished": false, "status": "new"
        }))
        .expect("ticket")
    }

    /// The message as the speech engine reads it (zvonar-say): the ticket number, the
    /// address with the apartment, the problem, the keys — words, no digits.
    #[test]
    fn the_message_reads_number_address_problem_and_keys_in_russian() {
        let t = ticket(Some("12"), "Прорвало трубу в подвале.");
        let text = message_text(&t, Some("ул. Ленина, д. 5"));
        assert_eq!(
            text,
            "Внимание! Аварийная заявка номер 1024. Адрес: ул. Ленина, д. 5, квартира 12. \
             Проблема: Прорвало трубу в подвале. Чтобы принять заявку, нажмите 1. \
             Чтобы отказаться, нажмите 2."
        );
        let spoken = zvonar_say::normalize(&text);
        for words in [
            "номер десять, двадцать четыре",
            "улица Ленина, дом пять, квартира двенадцать",
            "нажмите один",
            "нажмите два",
        ] {
            assert!(spoken.contains(words), "{words:?} not in {spoken:?}");
        }
        assert!(!spoken.chars().any(|c| c.is_ascii_digit()), "{spoken}");
        let bare = message_text(&ticket(None, ""), None);
        assert!(
            bare.contains("Адрес не указан.") && !bare.contains("Проблема"),
            "{bare}"
        );
    }

    #[test]
    fn dial_outcomes_map_to_attempt_outcomes_with_their_sip_codes() {
        assert_eq!(
            outcome_of(DialOutcome::Busy),
            (AttemptOutcome::Busy, Some(486))
        );
        assert_eq!(
            outcome_of(DialOutcome::NoAnswer),
            (AttemptOutcome::NoAnswer, Some(487))
        );
        assert_eq!(
            outcome_of(DialOutcome::Rejected),
            (AttemptOutcome::Rejected, Some(603))
        );
        assert_eq!(
            outcome_of(DialOutcome::Failed(503)),
            (AttemptOutcome::Failed { code: Some(503) }, Some(503))
        );
        assert_eq!(
            target(&DutyPhone::Account("101".into())),
            DialTarget::Account("101".into())
        );
        assert_eq!(
            target(&DutyPhone::Number("+79160000001".into())),
            DialTarget::Number("+79160000001".into())
        );
    }
}
