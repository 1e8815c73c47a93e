//! A campaign's recipients, their per-recipient state machine, and the pacing scheduler, sans-IO.
//!
//! The driver (the engine, later) loops: [`Campaign::poll`]`(now)` → a [`Decision`] with the
//! recipients to dial now and when to call `poll` again; it **persists the campaign
//! (serde) before dialling**, dials, and reports each call's end with
//! [`Campaign::on_outcome`] and what the person did with [`Campaign::on_progress`].
//!
//! Per recipient ([`Status`]): `queued` → `calling` → `answered` → `listened` →
//! `confirmed`; or `busy` / `no_answer` (retried after a gap while retries remain, then
//! final), `failed` (SIP code), `skipped` (reason), `opted_out`, `interrupted`.
//!
//! Pacing: at most `channels` recipients in `calling` at once, and at most `per_minute` new
//! calls in any 60 s. Legal windows and limits: [`crate::policy::next_allowed`] per recipient
//! in its time zone; conversations (answered calls) of this campaign add to the person's history.
//!
//! **Restart rule.** The state is serialisable; a restart is `serde` load +
//! [`Campaign::recover`]`(now)`. A recipient found in `calling` had a call of unknown outcome
//! (it may have been answered and heard): it becomes `interrupted`, counts as an attempt and
//! as a conversation for the 230-ФЗ limits, and is **not dialled again automatically** — an
//! admin may put it back in the queue with [`Campaign::requeue`]. So a restart never calls
//! anybody twice.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::policy::{next_allowed_why, PhoneFacts, Policy, Schedule, SkipReason, Wait};

/// A recipient's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its turn (or for its window).
    Queued,
    /// A call is in progress, started at `since`.
    Calling {
        /// Dial start.
        since: DateTime<Utc>,
    },
    /// Answered (a conversation), the message not heard to the end.
    Answered,
    /// Heard the message to the end.
    Listened,
    /// Pressed 1 (confirmed).
    Confirmed,
    /// Busy; `retry_at` when retries remain, `None` when final.
    Busy {
        /// Next attempt not before.
        retry_at: Option<DateTime<Utc>>,
    },
    /// No answer; `retry_at` as for busy.
    NoAnswer {
        /// Next attempt not before.
        retry_at: Option<DateTime<Utc>>,
    },
    /// Failed with a SIP final response code (or 0: no response / transport error).
    Failed {
        /// SIP status code (RFC 3261 §21).
        code: u16,
    },
    /// Not called, and why.
    Skipped {
        /// The reason (shown to users).
        reason: SkipReason,
    },
    /// An answering machine answered ([`crate::amd`]): `retry_at` when the campaign hangs up
    /// and retries (the no-answer retries), `None` when final; `message_left` when the short
    /// message was left after its greeting (final).
    AnsweringMachine {
        /// Next attempt not before.
        retry_at: Option<DateTime<Utc>>,
        /// The message was left on it.
        #[serde(default)]
        message_left: bool,
    },
    /// Pressed 9 or asked an operator: never called again by any campaign.
    OptedOut,
    /// A call in progress when zvonar restarted: outcome unknown, not re-dialled automatically.
    Interrupted,
}

impl Status {
    /// The status in Russian, as the campaign page shows it.
    pub fn label_ru(&self) -> String {
        match self {
            Status::Queued => "в очереди".into(),
            Status::Calling { .. } => "звоним".into(),
            Status::Answered => "ответил".into(),
            Status::Listened => "прослушал до конца".into(),
            Status::Confirmed => "подтвердил".into(),
            Status::Busy { retry_at: Some(_) } => "занято, будет повтор".into(),
            Status::Busy { retry_at: None } => "занято, попытки исчерпаны".into(),
            Status::NoAnswer { retry_at: Some(_) } => "не ответил, будет повтор".into(),
            Status::NoAnswer { retry_at: None } => "не ответил, попытки исчерпаны".into(),
            Status::Failed { code } => format!("ошибка вызова (SIP {code})"),
            Status::Skipped { reason } => format!("пропущен: {}", reason.label_ru()),
            Status::AnsweringMachine {
                message_left: true, ..
            } => "автоответчик, оставлено сообщение".into(),
            Status::AnsweringMachine {
                retry_at: Some(_), ..
            } => "автоответчик, будет повтор".into(),
            Status::AnsweringMachine { retry_at: None, .. } => {
                "автоответчик, попытки исчерпаны".into()
            }
            Status::OptedOut => "отказался от звонков".into(),
            Status::Interrupted => "звонок прерван перезапуском, исход неизвестен".into(),
        }
    }

    /// Whether nothing more will happen to the recipient (without an admin's requeue).
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Status::Queued
                | Status::Calling { .. }
                | Status::Busy { retry_at: Some(_) }
                | Status::NoAnswer { retry_at: Some(_) }
                | Status::AnsweringMachine {
                    retry_at: Some(_),
                    ..
                }
        )
    }
}

/// How a call ended, as the dialler reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// 200 OK: a conversation.
    Answered,
    /// 486/600 Busy.
    Busy,
    /// Ring timeout, 408, 480.
    NoAnswer,
    /// 404/484/604: the number does not exist; it goes on the blacklist.
    InvalidNumber(u16),
    /// Any other failure (SIP code, 0 = no response).
    Failed(u16),
    /// Answered by an answering machine ([`crate::amd`]); not a conversation with the person
    /// (not counted for the 230-ФЗ limits). `message_left`: the short message was left after
    /// the greeting (final); otherwise retried like no answer.
    AnsweringMachine {
        /// The message was left.
        message_left: bool,
    },
}

/// What the person did during an answered call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Progress {
    /// Heard the message to the end.
    Listened,
    /// Pressed 1.
    Confirmed,
    /// Pressed 9.
    OptedOut,
}

/// One dial attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Dial start.
    pub at: DateTime<Utc>,
    /// How it ended (`None` while in progress or when interrupted by a restart).
    pub outcome: Option<Outcome>,
}

/// A campaign recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// Account number or another id unique in the campaign.
    pub id: String,
    /// Phone, E.164.
    pub phone: String,
    /// Time zone of the building.
    pub tz: Tz,
    /// Consent, opt-out, blacklist.
    pub facts: PhoneFacts,
    /// Conversations with this person before this campaign (for the 230-ФЗ limits).
    pub prior_conversations: Vec<DateTime<Utc>>,
    /// Current state.
    pub status: Status,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
    /// What the person did in the call in progress (applied when it ends).
    #[serde(default)]
    pub in_call: Option<Progress>,
    /// The personal account (ЛС) the person is called about, when known: conversations in
    /// other campaigns about the same account count for the 230-ФЗ limits as the phone's do
    /// ([`Campaign::set_prior_conversations`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Why a queued (or to-be-retried) recipient is not called now and until when, as of
    /// the last [`Campaign::poll`]; `None` when it may be called (or is final).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
}

/// A recipient deferred by the rules ([`crate::policy::next_allowed_why`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// What holds the call back (the first constraint met).
    pub why: Wait,
    /// The earliest instant the call may start.
    pub until: DateTime<Utc>,
}

/// A conversation (answered call) held with somebody by another campaign, as the store
/// knows it: [`Campaign::set_prior_conversations`] gives it to the recipients it concerns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastConversation {
    /// When the call started.
    pub at: DateTime<Utc>,
    /// The phone called (as the campaign stored it: E.164 or a `sip:` URI).
    pub phone: String,
    /// The account the call was about, when known.
    pub account: Option<String>,
}

impl Recipient {
    /// A queued recipient.
    pub fn new(id: &str, phone: &str, tz: Tz, facts: PhoneFacts) -> Self {
        Self {
            id: id.to_string(),
            phone: phone.to_string(),
            tz,
            facts,
            prior_conversations: Vec::new(),
            status: Status::Queued,
            attempts: Vec::new(),
            in_call: None,
            account: None,
            waiting: None,
        }
    }

    fn conversations(&self) -> Vec<DateTime<Utc>> {
        let mut v = self.prior_conversations.clone();
        v.extend(
            self.attempts
                .iter()
                .filter(|a| matches!(a.outcome, Some(Outcome::Answered) | None))
                .map(|a| a.at),
        );
        v
    }
}

/// Pacing limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pacing {
    /// Simultaneous calls (≥ 1).
    pub channels: u32,
    /// New calls per minute (≥ 1), any 60 s.
    pub per_minute: u32,
}

/// Retries for busy and no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retries {
    /// Further attempts after a busy signal.
    pub busy: u32,
    /// Minutes between them.
    pub busy_gap_min: u32,
    /// Further attempts after no answer.
    pub no_answer: u32,
    /// Minutes between them.
    pub no_answer_gap_min: u32,
}

/// Campaign run state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Dialling.
    Running,
    /// No new calls; calls in progress finish.
    Paused,
    /// Stopped for good: the queue is skipped.
    Cancelled,
}

/// The rules a campaign runs under (configuration, not state).
#[derive(Clone, Debug)]
pub struct Rules {
    /// Windows and limits.
    pub policy: Policy,
    /// Start and end.
    pub schedule: Schedule,
    /// Production calendar.
    pub calendar: Calendar,
    /// Pacing.
    pub pacing: Pacing,
    /// Retries.
    pub retries: Retries,
}

/// The campaign state (serialisable; see the module docs for the restart rule).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// Recipients, in queue order.
    pub recipients: Vec<Recipient>,
    /// Run state.
    pub run: RunState,
    /// Dial starts of the last 60 s (pacing).
    recent_starts: VecDeque<DateTime<Utc>>,
}

/// What to do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Indices into [`Campaign::recipients`] to dial now (already marked `calling`).
    pub dial: Vec<usize>,
    /// When to poll again at the latest (`None`: only after an outcome or a command).
    pub wake_at: Option<DateTime<Utc>>,
}

/// A recipient number outside the campaign or in the wrong state for an event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// No such recipient.
    #[error("нет получателя с номером {0}")]
    NoRecipient(usize),
    /// The event does not fit the state.
    #[error("получатель {index}: событие не подходит к состоянию «{status}»")]
    WrongState {
        /// Recipient index.
        index: usize,
        /// Its status label.
        status: String,
    },
}

impl Campaign {
    /// A running campaign of `recipients` (all `queued`).
    pub fn new(recipients: Vec<Recipient>) -> Self {
        Self {
            recipients,
            run: RunState::Running,
            recent_starts: VecDeque::new(),
        }
    }

    /// Replaces every recipient's [`Recipient::prior_conversations`] with the conversations
    /// of `history` (other campaigns' answered calls, see [`PastConversation`]) held on the
    /// recipient's phone or about its account — the same person for the 230-ФЗ limits
    /// (ст. 7 ч. 3 п. 2: per person, whoever calls). A conversation matching both counts once.
    /// Call it whenever the history may have changed (start, resume, restart, before a poll).
    pub fn set_prior_conversations(&mut self, history: &[PastConversation]) {
        let mut by_phone: std::collections::HashMap<&str, Vec<usize>> = Default::default();
        let mut by_account: std::collections::HashMap<&str, Vec<usize>> = Default::default();
        for (i, h) in history.iter().enumerate() {
            by_phone.entry(h.phone.as_str()).or_default().push(i);
            if let Some(a) = h.account.as_deref().filter(|a| !a.is_empty()) {
                by_account.entry(a).or_default().push(i);
            }
        }
        for r in &mut self.recipients {
            let mut idx: Vec<usize> = by_phone.get(r.phone.as_str()).cloned().unwrap_or_default();
            if let Some(a) = r.account.as_deref().and_then(|a| by_account.get(a)) {
                idx.extend(a);
            }
            idx.sort_unstable();
            idx.dedup();
            r.prior_conversations = idx.into_iter().map(|i| history[i].at).collect();
        }
    }

    /// Recipients in `calling`.
    pub fn active(&self) -> usize {
        self.recipients
            .iter()
            .filter(|r| matches!(r.status, Status::Calling { .. }))
            .count()
    }

    /// Whether every recipient is final.
    pub fn finished(&self) -> bool {
        self.recipients.iter().all(|r| r.status.is_final())
    }

    /// Decides whom to dial now and when to wake up; marks the chosen recipients `calling`
    /// with an attempt at `now`. Never exceeds `pacing.channels` in `calling` nor
    /// `pacing.per_minute` starts in any 60 s. Recipients that can never be called become
    /// `skipped` with the reason.
    pub fn poll(&mut self, now: DateTime<Utc>, rules: &Rules) -> Decision {
        while self
            .recent_starts
            .front()
            .is_some_and(|&t| t + Duration::seconds(60) <= now)
        {
            self.recent_starts.pop_front();
        }
        let mut dial = Vec::new();
        let mut wake: Option<DateTime<Utc>> = None;
        let earliest = |t: DateTime<Utc>, wake: &mut Option<DateTime<Utc>>| {
            *wake = Some(wake.map_or(t, |w| w.min(t)));
        };
        if self.run == RunState::Cancelled {
            for r in &mut self.recipients {
                if !r.status.is_final() && !matches!(r.status, Status::Calling { .. }) {
                    r.status = Status::Skipped {
                        reason: SkipReason::Cancelled,
                    };
                }
            }
            return Decision {
                dial,
                wake_at: None,
            };
        }
        let mut active = self.active() as u32;
        for i in 0..self.recipients.len() {
            let r = &mut self.recipients[i];
            let not_before = match r.status {
                Status::Queued => None,
                Status::Busy { retry_at: Some(t) }
                | Status::NoAnswer { retry_at: Some(t) }
                | Status::AnsweringMachine {
                    retry_at: Some(t), ..
                } => Some(t),
                _ => continue,
            };
            let from = not_before.map_or(now, |t| t.max(now));
            r.waiting = None;
            let at = match next_allowed_why(
                from,
                r.tz,
                &rules.policy,
                &rules.calendar,
                &r.facts,
                &rules.schedule,
                &r.conversations(),
            ) {
                Ok((t, why)) => {
                    if let (Some(why), true) = (why, t > now) {
                        r.waiting = Some(Waiting { why, until: t });
                    }
                    t
                }
                Err(reason) => {
                    r.status = match (reason, &r.status) {
                        // A retry that cannot happen any more leaves the last outcome, final.
                        (SkipReason::CampaignEnded, Status::Busy { .. }) => {
                            Status::Busy { retry_at: None }
                        }
                        (SkipReason::CampaignEnded, Status::NoAnswer { .. }) => {
                            Status::NoAnswer { retry_at: None }
                        }
                        (SkipReason::CampaignEnded, Status::AnsweringMachine { .. }) => {
                            Status::AnsweringMachine {
                                retry_at: None,
                                message_left: false,
                            }
                        }
                        (reason, _) => Status::Skipped { reason },
                    };
                    continue;
                }
            };
            if at > now {
                earliest(at, &mut wake);
                continue;
            }
            if self.run != RunState::Running || active >= rules.pacing.channels {
                continue;
            }
            if self.recent_starts.len() as u32 >= rules.pacing.per_minute {
                if let Some(&oldest) = self.recent_starts.front() {
                    earliest(oldest + Duration::seconds(60), &mut wake);
                }
                continue;
            }
            r.status = Status::Calling { since: now };
            r.attempts.push(Attempt {
                at: now,
                outcome: None,
            });
            self.recent_starts.push_back(now);
            active += 1;
            dial.push(i);
        }
        Decision {
            dial,
            wake_at: wake,
        }
    }

    fn calling(&mut self, index: usize) -> Result<&mut Recipient, EventError> {
        let r = self
            .recipients
            .get_mut(index)
            .ok_or(EventError::NoRecipient(index))?;
        Ok(r)
    }

    /// The call to recipient `index` ended with `outcome` at `now`.
    ///
    /// Errors: [`EventError`] when the recipient is not `calling`.
    pub fn on_outcome(
        &mut self,
        index: usize,
        now: DateTime<Utc>,
        outcome: Outcome,
        rules: &Rules,
    ) -> Result<(), EventError> {
        let r = self.calling(index)?;
        if !matches!(r.status, Status::Calling { .. }) {
            return Err(EventError::WrongState {
                index,
                status: r.status.label_ru(),
            });
        }
        // Progress reported during the call means it was answered.
        let outcome = match outcome {
            Outcome::AnsweringMachine { .. } => {
                r.in_call = None;
                outcome
            }
            _ if r.in_call.is_some() => Outcome::Answered,
            _ => outcome,
        };
        if let Some(a) = r.attempts.last_mut() {
            a.outcome = Some(outcome);
        }
        let count = |r: &Recipient, o: Outcome| {
            r.attempts.iter().filter(|a| a.outcome == Some(o)).count() as u32
        };
        r.status = match outcome {
            Outcome::Answered => match r.in_call.take() {
                None => Status::Answered,
                Some(Progress::Listened) => Status::Listened,
                Some(Progress::Confirmed) => Status::Confirmed,
                Some(Progress::OptedOut) => Status::OptedOut,
            },
            Outcome::Busy => Status::Busy {
                retry_at: (count(r, Outcome::Busy) <= rules.retries.busy)
                    .then(|| now + Duration::minutes(i64::from(rules.retries.busy_gap_min))),
            },
            Outcome::NoAnswer => Status::NoAnswer {
                retry_at: (count(r, Outcome::NoAnswer) <= rules.retries.no_answer)
                    .then(|| now + Duration::minutes(i64::from(rules.retries.no_answer_gap_min))),
            },
            Outcome::InvalidNumber(_) => {
                r.facts.blacklisted = true;
                Status::Skipped {
                    reason: SkipReason::InvalidNumber,
                }
            }
            Outcome::Failed(code) => Status::Failed { code },
            Outcome::AnsweringMachine { message_left } => {
                // Retries of a machine share the no-answer budget: the person was not reached.
                let unreached = count(r, Outcome::NoAnswer)
                    + count(
                        r,
                        Outcome::AnsweringMachine {
                            message_left: false,
                        },
                    );
                Status::AnsweringMachine {
                    retry_at: (!message_left && unreached <= rules.retries.no_answer).then(|| {
                        now + Duration::minutes(i64::from(rules.retries.no_answer_gap_min))
                    }),
                    message_left,
                }
            }
        };
        Ok(())
    }

    /// What the person did in an answered call, during it (applied to the status when the
    /// call ends: the recipient stays `calling`, and counts against the channels, until then)
    /// or after it. An opt-out marks the phone at once.
    ///
    /// Errors: [`EventError`] unless the recipient is in a call or its last call was answered.
    pub fn on_progress(&mut self, index: usize, p: Progress) -> Result<(), EventError> {
        let r = self.calling(index)?;
        if p == Progress::OptedOut {
            if !matches!(
                r.status,
                Status::Calling { .. } | Status::Answered | Status::Listened | Status::Confirmed
            ) {
                return Err(EventError::WrongState {
                    index,
                    status: r.status.label_ru(),
                });
            }
            r.facts.opted_out = true;
        }
        let rank = |p: Progress| match p {
            Progress::Listened => 0,
            Progress::Confirmed => 1,
            Progress::OptedOut => 2,
        };
        match r.status {
            Status::Calling { .. } => {
                if r.in_call.is_none_or(|q| rank(p) > rank(q)) {
                    r.in_call = Some(p);
                }
            }
            Status::Answered | Status::Listened | Status::Confirmed => {
                let cur = match r.status {
                    Status::Answered => -1,
                    Status::Listened => 0,
                    _ => 1,
                };
                if rank(p) > cur {
                    r.status = match p {
                        Progress::Listened => Status::Listened,
                        Progress::Confirmed => Status::Confirmed,
                        Progress::OptedOut => Status::OptedOut,
                    };
                }
            }
            _ => {
                return Err(EventError::WrongState {
                    index,
                    status: r.status.label_ru(),
                })
            }
        }
        Ok(())
    }

    /// After loading a saved campaign: every `calling` recipient becomes `interrupted`
    /// (outcome unknown; see the module docs). Returns their indices.
    pub fn recover(&mut self) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, r) in self.recipients.iter_mut().enumerate() {
            if matches!(r.status, Status::Calling { .. }) {
                r.status = Status::Interrupted;
                out.push(i);
            }
        }
        out
    }

    /// An admin puts an `interrupted`, `failed` or finally `busy`/`no answer` recipient
    /// back in the queue.
    ///
    /// Errors: [`EventError::WrongState`] for any other state.
    pub fn requeue(&mut self, index: usize) -> Result<(), EventError> {
        let r = self.calling(index)?;
        match r.status {
            Status::Interrupted
            | Status::Failed { .. }
            | Status::Busy { retry_at: None }
            | Status::NoAnswer { retry_at: None }
            | Status::AnsweringMachine { retry_at: None, .. } => {
                r.status = Status::Queued;
                Ok(())
            }
            _ => Err(EventError::WrongState {
                index,
                status: r.status.label_ru(),
            }),
        }
    }
}
