//! The emergency escalation of one ticket as a sans-IO state machine: it is given the time
//! and what happened (a call ended, someone accepted in the console, the ticket was taken
//! elsewhere, the process restarted) and answers with [`Command`]s (dial this person, hang
//! up that call, assign the ticket, mark it unanswered). It never sleeps, reads a clock or
//! does I/O; the engine (`src/engine/duty.rs`) runs it with the real clock and stores it
//! (serde JSON) after every step, tests with a fake one.
//!
//! The order: the callees resolved from the roster when the escalation starts
//! ([`super::Roster::callees`]: those on duty by order, then the supervisor), one call at a
//! time. An attempt that ends without key 1 (no answer within the ring time, busy, key 2,
//! a hang-up, a failure) → the next callee at once. After the last, a new round after
//! [`Rules::round_gap_s`], up to [`Rules::rounds`]; then the ticket is unanswered.

use super::roster::Callee;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How an escalation repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Rounds through the whole list (≥ 1).
    pub rounds: u32,
    /// Pause between rounds, s.
    pub round_gap_s: u32,
}

/// What one call attempt came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum AttemptOutcome {
    /// Answered and pressed 1: the ticket is theirs.
    Accepted,
    /// Answered and pressed 2.
    Refused,
    /// Answered and hung up (or the key wait ran out) without pressing 1.
    NoKey,
    /// Not answered within the ring time.
    NoAnswer,
    /// 486/600 busy.
    Busy,
    /// 603 declined.
    Rejected,
    /// Could not be rung: not registered, no trunk, a SIP failure (`code` when one came).
    Failed {
        /// The SIP status code, when there was one.
        code: Option<u16>,
    },
    /// zvonar stopped while the call was up: not known what happened (the next callee is
    /// called after the restart, never the same one at once).
    Interrupted,
    /// We hung up because the ticket was accepted in the console or taken elsewhere.
    Stopped,
}

impl AttemptOutcome {
    /// Russian label for the console.
    pub fn label_ru(self) -> &'static str {
        match self {
            AttemptOutcome::Accepted => "принял (нажал 1)",
            AttemptOutcome::Refused => "отказался (нажал 2)",
            AttemptOutcome::NoKey => "ответил, но не нажал 1",
            AttemptOutcome::NoAnswer => "не ответил",
            AttemptOutcome::Busy => "занято",
            AttemptOutcome::Rejected => "отклонил вызов",
            AttemptOutcome::Failed { .. } => "не удалось позвонить",
            AttemptOutcome::Interrupted => "прервано перезапуском",
            AttemptOutcome::Stopped => "прекращено: заявку приняли",
        }
    }
}

/// One call of the escalation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// 1-based number in the escalation (the engine's call id ends with it).
    pub n: u32,
    /// 1-based round.
    pub round: u32,
    /// Who was called.
    pub callee: Callee,
    /// When dialled (UTC).
    pub started_at: DateTime<Utc>,
    /// When it ended; `None` while in progress.
    pub ended_at: Option<DateTime<Utc>>,
    /// How it ended; `None` while in progress.
    pub outcome: Option<AttemptOutcome>,
    /// The final SIP status of the INVITE (200 when answered), when known.
    pub sip_code: Option<u16>,
    /// The recording, relative to the recordings directory (answered calls).
    pub recording: Option<String>,
    /// When the retention sweep deleted the recording (`[storage] retention_days`); the
    /// path is kept so the API can say it expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_deleted_at: Option<DateTime<Utc>>,
}

/// Where an escalation stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum State {
    /// The next call is due at `at` (now, or after the pause between rounds).
    Waiting {
        /// When.
        at: DateTime<Utc>,
    },
    /// Attempt `n` is ringing or talking.
    Calling {
        /// The attempt.
        n: u32,
    },
    /// Someone took the ticket.
    Accepted {
        /// User id.
        user_id: i64,
        /// Name.
        name: String,
        /// `phone` (key 1) or `console`.
        via: String,
        /// When (UTC).
        at: DateTime<Utc>,
    },
    /// Every round ended without anyone accepting (or there was nobody to call).
    Unanswered {
        /// When (UTC).
        at: DateTime<Utc>,
    },
    /// The ticket was taken, closed or cancelled elsewhere: nothing more to do.
    Stopped {
        /// Why (for the log).
        reason: String,
        /// When (UTC).
        at: DateTime<Utc>,
    },
}

/// What the engine must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Store the state, then call `callee` (attempt `n`).
    Dial {
        /// The attempt's number.
        n: u32,
        /// Who.
        callee: Callee,
    },
    /// Hang up (or cancel) attempt `n`.
    HangUp {
        /// The attempt.
        n: u32,
    },
    /// Assign the ticket to this person, status `in_progress`.
    Assign {
        /// User id.
        user_id: i64,
        /// Name.
        name: String,
    },
    /// Nobody accepted: mark the ticket so the console shows it loudly.
    MarkUnanswered,
}

/// One ticket's escalation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// The ticket.
    pub ticket_id: i64,
    /// The department whose roster gave the callees.
    pub department: String,
    /// Who is called, in order, each round.
    pub callees: Vec<Callee>,
    /// 0-based round now.
    pub round: u32,
    /// Index into `callees` of the next one to call.
    pub next: usize,
    /// Where it stands.
    pub state: State,
    /// Every attempt so far, in order.
    pub attempts: Vec<Attempt>,
}

impl Escalation {
    /// A new escalation; the first call is due at `now`.
    pub fn new(ticket_id: i64, department: &str, callees: Vec<Callee>, now: DateTime<Utc>) -> Self {
        Escalation {
            ticket_id,
            department: department.to_string(),
            callees,
            round: 0,
            next: 0,
            state: State::Waiting { at: now },
            attempts: Vec::new(),
        }
    }

    /// Whether it is over (accepted, unanswered or stopped).
    pub fn is_over(&self) -> bool {
        matches!(
            self.state,
            State::Accepted { .. } | State::Unanswered { .. } | State::Stopped { .. }
        )
    }

    /// When [`Escalation::poll`] has something to do next; `None` while a call is up or
    /// when it is over.
    pub fn wake_at(&self) -> Option<DateTime<Utc>> {
        match self.state {
            State::Waiting { at } => Some(at),
            _ => None,
        }
    }

    /// The attempt in progress.
    pub fn calling(&self) -> Option<u32> {
        match self.state {
            State::Calling { n } => Some(n),
            _ => None,
        }
    }

    /// Starts the next call when one is due at `now`.
    pub fn poll(&mut self, now: DateTime<Utc>, rules: &Rules) -> Vec<Command> {
        match self.state {
            State::Waiting { at } if at <= now => self.dial_next(now, rules),
            _ => Vec::new(),
        }
    }

    fn dial_next(&mut self, now: DateTime<Utc>, rules: &Rules) -> Vec<Command> {
        if self.next >= self.callees.len() {
            self.next = 0;
            self.round += 1;
            if self.round >= rules.rounds.max(1) || self.callees.is_empty() {
                self.state = State::Unanswered { at: now };
                return vec![Command::MarkUnanswered];
            }
            self.state = State::Waiting {
                at: now + Duration::seconds(i64::from(rules.round_gap_s)),
            };
            // A gap of 0 dials at once.
            return self.poll(now, rules);
        }
        let callee = self.callees[self.next].clone();
        self.next += 1;
        let n = self.attempts.len() as u32 + 1;
        self.attempts.push(Attempt {
            n,
            round: self.round + 1,
            callee: callee.clone(),
            started_at: now,
            ended_at: None,
            outcome: None,
            sip_code: None,
            recording: None,
            recording_deleted_at: None,
        });
        self.state = State::Calling { n };
        vec![Command::Dial { n, callee }]
    }

    /// Attempt `n` ended with `outcome`. Key 1 → accepted and assigned; anything else → the
    /// next callee (or round). A late report (the escalation already accepted or stopped,
    /// e.g. after a console accept hung the call up) only records the attempt.
    pub fn on_call_ended(
        &mut self,
        n: u32,
        outcome: AttemptOutcome,
        sip_code: Option<u16>,
        recording: Option<String>,
        now: DateTime<Utc>,
        rules: &Rules,
    ) -> Vec<Command> {
        let current = self.calling() == Some(n);
        let over = self.is_over();
        let Some(a) = self.attempts.iter_mut().find(|a| a.n == n) else {
            return Vec::new();
        };
        if a.outcome.is_some() {
            return Vec::new();
        }
        a.ended_at = Some(now);
        a.sip_code = sip_code;
        a.recording = recording;
        if over {
            a.outcome = Some(if outcome == AttemptOutcome::Accepted {
                AttemptOutcome::Accepted
            } else {
                AttemptOutcome::Stopped
            });
            return Vec::new();
        }
        a.outcome = Some(outcome);
        if !current {
            return Vec::new();
        }
        if outcome == AttemptOutcome::Accepted {
            let (user_id, name) = (a.callee.user_id, a.callee.name.clone());
            self.state = State::Accepted {
                user_id,
                name: name.clone(),
                via: "phone".into(),
                at: now,
            };
            return vec![Command::Assign { user_id, name }];
        }
        self.state = State::Waiting { at: now };
        self.poll(now, rules)
    }

    /// Someone accepted the ticket in the console: the call in progress (if any) is hung
    /// up and the ticket assigned to them. Nothing when already over.
    pub fn accept(&mut self, user_id: i64, name: &str, now: DateTime<Utc>) -> Vec<Command> {
        if self.is_over() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Some(n) = self.calling() {
            out.push(Command::HangUp { n });
        }
        self.state = State::Accepted {
            user_id,
            name: name.to_string(),
            via: "console".into(),
            at: now,
        };
        out.push(Command::Assign {
            user_id,
            name: name.to_string(),
        });
        out
    }

    /// The ticket was assigned, closed or cancelled elsewhere: stop (hang up the call in
    /// progress). Nothing when already over.
    pub fn stop(&mut self, reason: &str, now: DateTime<Utc>) -> Vec<Command> {
        if self.is_over() {
            return Vec::new();
        }
        let out = self
            .calling()
            .map(|n| vec![Command::HangUp { n }])
            .unwrap_or_default();
        self.state = State::Stopped {
            reason: reason.to_string(),
            at: now,
        };
        out
    }

    /// After a restart: a call that was up is `interrupted` (its phone may still ring, so
    /// the same person is not called again now) and the next callee is due at `now`.
    pub fn recover(&mut self, now: DateTime<Utc>) {
        if let Some(n) = self.calling() {
            if let Some(a) = self.attempts.iter_mut().find(|a| a.n == n) {
                a.outcome = Some(AttemptOutcome::Interrupted);
                a.ended_at = Some(now);
            }
            self.state = State::Waiting { at: now };
        }
    }

    /// The phase stored beside the JSON (`waiting`, `calling`, `accepted`, `unanswered`,
    /// `stopped`).
    pub fn phase(&self) -> &'static str {
        match self.state {
            State::Waiting { .. } => "waiting",
            State::Calling { .. } => "calling",
            State::Accepted { .. } => "accepted",
            State::Unanswered { .. } => "unanswered",
            State::Stopped { .. } => "stopped",
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::roster::DutyPhone;
    use super::*;
    use chrono::TimeZone;

    fn callee(id: i64, supervisor: bool) -> Callee {
        Callee {
            user_id: id,
            name: format!("user{id}"),
            phone: DutyPhone::Account(format!("{}", 100 + id)),
            supervisor,
        }
    }

    /// A fake clock: seconds since a fixed start.
    fn at(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap() + Duration::seconds(s)
    }

    const ONE_ROUND: Rules = Rules {
        rounds: 1,
        round_gap_s: 60,
    };

    fn dialled(c: &[Command]) -> Vec<(u32, i64)> {
        c.iter()
            .filter_map(|c| match c {
                Command::Dial { n, callee } => Some((*n, callee.user_id)),
                _ => None,
            })
            .collect()
    }

    fn three() -> Escalation {
        Escalation::new(
            1001,
            "Сантехники",
            vec![callee(1, false), callee(2, false), callee(9, true)],
            at(0),
        )
    }

    #[test]
    fn roster_order_no_answer_then_refusal_then_the_supervisor_accepts() {
        let mut e = three();
        assert!(e.poll(at(0) - Duration::seconds(1), &ONE_ROUND).is_empty());
        assert_eq!(dialled(&e.poll(at(0), &ONE_ROUND)), vec![(1, 1)]);
        // Nothing more while the call is up.
        assert!(e.poll(at(5), &ONE_ROUND).is_empty());
        assert_eq!(e.wake_at(), None);
        // No answer within the ring time → the next one at once.
        let c = e.on_call_ended(1, AttemptOutcome::NoAnswer, None, None, at(30), &ONE_ROUND);
        assert_eq!(dialled(&c), vec![(2, 2)]);
        // Refusal (key 2) → the supervisor.
        let c = e.on_call_ended(
            2,
            AttemptOutcome::Refused,
            Some(200),
            Some("r.wav".into()),
            at(50),
            &ONE_ROUND,
        );
        assert_eq!(dialled(&c), vec![(3, 9)]);
        assert!(e.attempts[2].callee.supervisor);
        let c = e.on_call_ended(
            3,
            AttemptOutcome::Accepted,
            Some(200),
            None,
            at(70),
            &ONE_ROUND,
        );
        assert_eq!(
            c,
            vec![Command::Assign {
                user_id: 9,
                name: "user9".into()
            }]
        );
        assert!(e.is_over());
        assert_eq!(e.phase(), "accepted");
        let outcomes: Vec<_> = e.attempts.iter().map(|a| a.outcome.unwrap()).collect();
        assert_eq!(
            outcomes,
            vec![
                AttemptOutcome::NoAnswer,
                AttemptOutcome::Refused,
                AttemptOutcome::Accepted
            ]
        );
        assert_eq!(e.attempts[1].recording.as_deref(), Some("r.wav"));
        // Nothing after it is over.
        assert!(e.poll(at(1000), &ONE_ROUND).is_empty());
    }

    #[test]
    fn busy_and_failures_move_on_and_one_round_ends_unanswered() {
        let mut e = three();
        e.poll(at(0), &ONE_ROUND);
        e.on_call_ended(1, AttemptOutcome::Busy, Some(486), None, at(1), &ONE_ROUND);
        e.on_call_ended(
            2,
            AttemptOutcome::Failed { code: Some(503) },
            Some(503),
            None,
            at(2),
            &ONE_ROUND,
        );
        let c = e.on_call_ended(
            3,
            AttemptOutcome::NoKey,
            Some(200),
            None,
            at(40),
            &ONE_ROUND,
        );
        assert_eq!(c, vec![Command::MarkUnanswered]);
        assert_eq!(e.state, State::Unanswered { at: at(40) });
    }

    #[test]
    fn rounds_repeat_the_list_after_the_gap() {
        let rules = Rules {
            rounds: 2,
            round_gap_s: 120,
        };
        let mut e = Escalation::new(
            7,
            "Электрики",
            vec![callee(1, false), callee(9, true)],
            at(0),
        );
        e.poll(at(0), &rules);
        e.on_call_ended(1, AttemptOutcome::NoAnswer, None, None, at(30), &rules);
        let c = e.on_call_ended(2, AttemptOutcome::NoAnswer, None, None, at(60), &rules);
        assert!(c.is_empty(), "round 2 waits for the gap: {c:?}");
        assert_eq!(e.wake_at(), Some(at(180)));
        assert!(e.poll(at(179), &rules).is_empty());
        let c = e.poll(at(180), &rules);
        assert_eq!(dialled(&c), vec![(3, 1)]);
        assert_eq!(e.attempts[2].round, 2);
        e.on_call_ended(3, AttemptOutcome::NoAnswer, None, None, at(210), &rules);
        let c = e.on_call_ended(4, AttemptOutcome::Busy, Some(486), None, at(211), &rules);
        assert_eq!(c, vec![Command::MarkUnanswered]);
        assert_eq!(e.attempts.len(), 4);
    }

    #[test]
    fn nobody_to_call_is_unanswered_at_once() {
        let mut e = Escalation::new(8, "Лифтовая служба", vec![], at(0));
        assert_eq!(e.poll(at(0), &ONE_ROUND), vec![Command::MarkUnanswered]);
        assert_eq!(e.phase(), "unanswered");
    }

    #[test]
    fn console_acceptance_mid_call_hangs_up_and_assigns_and_the_late_end_is_stopped() {
        let mut e = three();
        e.poll(at(0), &ONE_ROUND);
        let c = e.accept(42, "Диспетчер", at(10));
        assert_eq!(
            c,
            vec![
                Command::HangUp { n: 1 },
                Command::Assign {
                    user_id: 42,
                    name: "Диспетчер".into()
                }
            ]
        );
        assert!(matches!(&e.state, State::Accepted { via, user_id: 42, .. } if via == "console"));
        // The hung-up call reports in later: recorded as stopped, nobody else dialled.
        let c = e.on_call_ended(
            1,
            AttemptOutcome::NoKey,
            Some(200),
            None,
            at(11),
            &ONE_ROUND,
        );
        assert!(c.is_empty());
        assert_eq!(e.attempts[0].outcome, Some(AttemptOutcome::Stopped));
        // A second accept changes nothing.
        assert!(e.accept(43, "Другой", at(12)).is_empty());
        assert!(e.stop("closed", at(13)).is_empty());
    }

    #[test]
    fn taken_elsewhere_stops_and_hangs_up() {
        let mut e = three();
        e.poll(at(0), &ONE_ROUND);
        assert_eq!(e.stop("assigned", at(3)), vec![Command::HangUp { n: 1 }]);
        assert_eq!(e.phase(), "stopped");
    }

    #[test]
    fn a_restart_mid_call_interrupts_it_and_calls_the_next_person_not_the_same() {
        let mut e = three();
        e.poll(at(0), &ONE_ROUND);
        // Stored and loaded again, as across a restart.
        let mut e: Escalation = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        e.recover(at(100));
        assert_eq!(e.attempts[0].outcome, Some(AttemptOutcome::Interrupted));
        let c = e.poll(at(100), &ONE_ROUND);
        assert_eq!(dialled(&c), vec![(2, 2)]);
        // A late report of the interrupted call changes nothing.
        assert!(e
            .on_call_ended(1, AttemptOutcome::Accepted, None, None, at(101), &ONE_ROUND)
            .is_empty());
        assert_eq!(e.calling(), Some(2));
        // Recovering a waiting escalation changes nothing.
        let mut w = three();
        w.recover(at(5));
        assert_eq!(w.state, State::Waiting { at: at(0) });
    }
}
