//! The scheduler with a fake clock: pacing limits under random outcomes, retries, windows,
//! restart in mid-campaign.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::calendar::Calendar;
use crate::campaign::*;
use crate::policy::{PhoneFacts, Policy, Schedule, SkipReason, Wait};

const MSK: Tz = chrono_tz::Europe::Moscow;

fn ok() -> PhoneFacts {
    PhoneFacts {
        consent: true,
        opted_out: false,
        blacklisted: false,
    }
}

fn msk(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    MSK.with_ymd_and_hms(2026, 12, d, h, m, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn rules(channels: u32, per_minute: u32, debt: bool) -> Rules {
    Rules {
        policy: Policy::legal_default(debt),
        schedule: Schedule {
            start: msk(1, 9, 0),
            end: msk(20, 0, 0),
        },
        calendar: Calendar::default(),
        pacing: Pacing {
            channels,
            per_minute,
        },
        retries: Retries {
            busy: 2,
            busy_gap_min: 10,
            no_answer: 1,
            no_answer_gap_min: 30,
        },
    }
}

fn people(n: usize) -> Vec<Recipient> {
    (0..n)
        .map(|i| Recipient::new(&format!("{i:06}"), &format!("+7900{i:07}"), MSK, ok()))
        .collect()
}

#[test]
fn consent_blacklist_and_opt_out_are_skipped_with_reasons() {
    let mut rs = people(4);
    rs[1].facts.consent = false;
    rs[2].facts.blacklisted = true;
    rs[3].facts.opted_out = true;
    let mut c = Campaign::new(rs);
    let d = c.poll(msk(1, 10, 0), &rules(10, 60, false));
    assert_eq!(d.dial, vec![0]);
    assert_eq!(
        c.recipients[1].status,
        Status::Skipped {
            reason: SkipReason::NoConsent
        }
    );
    assert_eq!(
        c.recipients[2].status.label_ru(),
        "пропущен: номер в чёрном списке (недействующий)"
    );
    assert_eq!(
        c.recipients[3].status,
        Status::Skipped {
            reason: SkipReason::OptedOut
        }
    );
}

#[test]
fn channel_and_rate_limits_and_wakeups() {
    let r = rules(2, 3, false);
    let mut c = Campaign::new(people(10));
    let t0 = msk(1, 10, 0);
    let d = c.poll(t0, &r);
    assert_eq!(d.dial, vec![0, 1]);
    assert_eq!(d.wake_at, None, "channels full: wait for an outcome");
    c.on_outcome(0, t0 + Duration::seconds(5), Outcome::Answered, &r)
        .unwrap();
    let d = c.poll(t0 + Duration::seconds(5), &r);
    assert_eq!(d.dial, vec![2]);
    c.on_outcome(1, t0 + Duration::seconds(6), Outcome::Failed(503), &r)
        .unwrap();
    c.on_outcome(2, t0 + Duration::seconds(7), Outcome::Answered, &r)
        .unwrap();
    // Three starts in this minute: the next may start at t0 + 60 s.
    let d = c.poll(t0 + Duration::seconds(8), &r);
    assert!(d.dial.is_empty());
    assert_eq!(d.wake_at, Some(t0 + Duration::seconds(60)));
    // At t0 + 60 s the two starts of t0 leave the window: two more may start.
    let d = c.poll(t0 + Duration::seconds(60), &r);
    assert_eq!(d.dial, vec![3, 4]);
    assert_eq!(c.recipients[1].status.label_ru(), "ошибка вызова (SIP 503)");
}

#[test]
fn outside_the_window_it_sleeps_until_it_opens() {
    let r = rules(5, 60, false);
    let mut c = Campaign::new(people(3));
    let d = c.poll(msk(1, 22, 0), &r);
    assert!(d.dial.is_empty());
    assert_eq!(d.wake_at, Some(msk(2, 8, 0)));
    assert!(c.recipients.iter().all(|x| x.status == Status::Queued));
    let d = c.poll(msk(2, 8, 0), &r);
    assert_eq!(d.dial, vec![0, 1, 2]);
}

#[test]
fn retries_for_busy_and_no_answer() {
    let r = rules(5, 60, false);
    let mut c = Campaign::new(people(2));
    let t = msk(1, 10, 0);
    c.poll(t, &r);
    c.on_outcome(0, t, Outcome::Busy, &r).unwrap();
    c.on_outcome(1, t, Outcome::NoAnswer, &r).unwrap();
    assert_eq!(
        c.recipients[0].status,
        Status::Busy {
            retry_at: Some(t + Duration::minutes(10))
        }
    );
    let d = c.poll(t + Duration::minutes(1), &r);
    assert!(d.dial.is_empty());
    assert_eq!(d.wake_at, Some(t + Duration::minutes(10)));
    // Busy: 1 + 2 retries.
    let mut now = t;
    for _ in 0..2 {
        now += Duration::minutes(10);
        assert_eq!(c.poll(now, &r).dial, vec![0]);
        c.on_outcome(0, now, Outcome::Busy, &r).unwrap();
    }
    assert_eq!(c.recipients[0].status, Status::Busy { retry_at: None });
    assert_eq!(c.recipients[0].attempts.len(), 3);
    // No answer: 1 + 1 retry, 30 minutes later.
    let d = c.poll(t + Duration::minutes(30), &r);
    assert_eq!(d.dial, vec![1]);
    c.on_outcome(1, t + Duration::minutes(31), Outcome::NoAnswer, &r)
        .unwrap();
    assert_eq!(
        c.recipients[1].status.label_ru(),
        "не ответил, попытки исчерпаны"
    );
    assert!(c.finished());
}

#[test]
fn progress_opt_out_and_invalid_numbers() {
    let r = rules(5, 60, false);
    let mut c = Campaign::new(people(4));
    let t = msk(1, 10, 0);
    c.poll(t, &r);
    c.on_progress(0, Progress::Listened).unwrap();
    c.on_progress(0, Progress::Confirmed).unwrap();
    c.on_progress(0, Progress::Listened).unwrap();
    c.on_progress(1, Progress::OptedOut).unwrap();
    // Still in the calls: they count against the channels until they end.
    assert_eq!(c.active(), 4);
    assert!(c.recipients[1].facts.opted_out);
    c.on_outcome(0, t, Outcome::Answered, &r).unwrap();
    c.on_outcome(1, t, Outcome::Answered, &r).unwrap();
    c.on_outcome(2, t, Outcome::InvalidNumber(404), &r).unwrap();
    c.on_outcome(3, t, Outcome::Answered, &r).unwrap();
    c.on_progress(3, Progress::Listened).unwrap();
    assert_eq!(c.recipients[0].status, Status::Confirmed);
    assert_eq!(c.recipients[1].status, Status::OptedOut);
    assert!(c.recipients[1].facts.opted_out);
    assert!(c.recipients[2].facts.blacklisted);
    assert_eq!(c.recipients[3].status.label_ru(), "прослушал до конца");
    // Wrong-state events are errors, not silent changes.
    assert!(c.on_outcome(3, t, Outcome::Busy, &r).is_err());
    assert!(c.on_progress(2, Progress::Confirmed).is_err());
    assert_eq!(
        c.on_outcome(9, t, Outcome::Busy, &r),
        Err(EventError::NoRecipient(9))
    );
}

#[test]
fn debt_campaign_counts_its_own_conversations() {
    let r = rules(5, 60, true);
    let mut rs = people(1);
    rs[0].prior_conversations = vec![msk(1, 9, 30)];
    let mut c = Campaign::new(rs);
    let d = c.poll(msk(1, 10, 0), &r);
    assert!(d.dial.is_empty());
    assert_eq!(d.wake_at, Some(msk(2, 8, 0)));
}

/// Two debt campaigns on the same day (fake clock): the person the first one talked to is
/// deferred by the second to the next allowed day, by phone or by account, with the reason
/// kept for the progress page; a non-answered call of the first does not count.
#[test]
fn conversations_of_another_debt_campaign_count_for_the_limits() {
    let r = rules(5, 60, true);
    // Campaign A reaches person 0, gets no answer from person 1.
    let mut a = Campaign::new(people(3));
    let d = a.poll(msk(1, 10, 0), &r);
    assert_eq!(d.dial, vec![0, 1, 2]);
    a.on_outcome(0, msk(1, 10, 1), Outcome::Answered, &r)
        .unwrap();
    a.on_outcome(1, msk(1, 10, 1), Outcome::NoAnswer, &r)
        .unwrap();
    a.on_outcome(2, msk(1, 10, 1), Outcome::Answered, &r)
        .unwrap();
    // What the store keeps of A: answered calls with phone and account.
    let history: Vec<PastConversation> = a
        .recipients
        .iter()
        .filter(|p| {
            p.attempts
                .iter()
                .any(|t| t.outcome == Some(Outcome::Answered))
        })
        .map(|p| PastConversation {
            at: p.attempts[0].at,
            phone: p.phone.clone(),
            account: Some(format!("ЛС-{}", p.id)),
        })
        .collect();
    assert_eq!(history.len(), 2);

    // Campaign B: person 0 by the same phone; person 2 on another phone but the same
    // account; person 1 (not reached by A) and a stranger.
    let mut rs = people(3);
    rs[2].phone = "+79990000000".into();
    rs[2].account = Some("ЛС-000002".into());
    rs.push(Recipient::new("x", "+79991112233", MSK, ok()));
    let mut b = Campaign::new(rs);
    b.set_prior_conversations(&history);
    assert_eq!(b.recipients[0].prior_conversations, vec![msk(1, 10, 0)]);
    assert_eq!(b.recipients[2].prior_conversations, vec![msk(1, 10, 0)]);
    assert!(b.recipients[1].prior_conversations.is_empty());

    let d = b.poll(msk(1, 15, 0), &r);
    assert_eq!(
        d.dial,
        vec![1, 3],
        "only the people A did not talk to today"
    );
    let next_day = msk(2, 8, 0);
    for i in [0, 2] {
        let w = b.recipients[i].waiting.expect("deferred with a reason");
        assert_eq!(
            (w.why, w.until),
            (Wait::DayLimit, next_day),
            "recipient {i}"
        );
        assert_eq!(b.recipients[i].status, Status::Queued);
        assert!(
            w.why.label_ru().contains("другой кампании"),
            "{}",
            w.why.label_ru()
        );
    }
    assert_eq!(d.wake_at, Some(next_day));
    // The reason survives a restart (serde) and clears when the call is placed.
    let mut b: Campaign = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
    assert_eq!(b.recipients[0].waiting.map(|w| w.why), Some(Wait::DayLimit));
    b.set_prior_conversations(&history);
    let d = b.poll(next_day, &r);
    assert_eq!(d.dial, vec![0, 2], "called on the next allowed day");
    assert_eq!(b.recipients[0].waiting, None);

    // A second conversation in the same week (A's on day 1, B's on day 2): the weekly limit
    // of 2 holds person 0 in any third debt campaign until next Monday (2026-12-07).
    b.on_outcome(0, msk(2, 8, 1), Outcome::Answered, &r)
        .unwrap();
    let mut history2 = history.clone();
    history2.push(PastConversation {
        at: next_day,
        phone: b.recipients[0].phone.clone(),
        account: None,
    });
    let mut c3 = Campaign::new(people(1));
    c3.set_prior_conversations(&history2);
    let d = c3.poll(msk(3, 12, 0), &r);
    assert!(d.dial.is_empty());
    let w = c3.recipients[0].waiting.unwrap();
    assert_eq!((w.why, w.until), (Wait::WeekLimit, msk(7, 8, 0)));
}

/// A non-debt campaign ignores other campaigns' conversations (the limits are for debt).
#[test]
fn other_conversations_do_not_hold_a_non_debt_campaign() {
    let r = rules(5, 60, false);
    let mut b = Campaign::new(people(1));
    b.set_prior_conversations(&[PastConversation {
        at: msk(1, 9, 30),
        phone: b.recipients[0].phone.clone(),
        account: None,
    }]);
    assert_eq!(b.poll(msk(1, 10, 0), &r).dial, vec![0]);
}

#[test]
fn pause_and_cancel() {
    let r = rules(5, 60, false);
    let mut c = Campaign::new(people(3));
    c.run = RunState::Paused;
    assert!(c.poll(msk(1, 10, 0), &r).dial.is_empty());
    c.run = RunState::Running;
    assert_eq!(c.poll(msk(1, 10, 0), &r).dial.len(), 3);
    c.on_outcome(0, msk(1, 10, 1), Outcome::Busy, &r).unwrap();
    c.run = RunState::Cancelled;
    c.poll(msk(1, 10, 2), &r);
    assert_eq!(
        c.recipients[0].status,
        Status::Skipped {
            reason: SkipReason::Cancelled
        }
    );
    // Calls in progress still report their outcome.
    assert!(matches!(c.recipients[1].status, Status::Calling { .. }));
}

/// A run with a fake clock and random outcomes (fixed seed), restarting (save → load →
/// recover) at random moments. Checked on every step: never more than `channels` in
/// `calling`, never more than `per_minute` starts in any 60 s, never a dial of a recipient
/// who is in a final state or in a call, never a dial before a restart's interrupted call
/// is requeued; at the end every recipient is final.
#[test]
fn random_outcomes_with_restarts_respect_limits_and_call_nobody_twice() {
    for seed in 0..20u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let channels = rng.random_range(1..=8);
        let per_minute = rng.random_range(1..=30);
        let r = rules(channels, per_minute, seed % 2 == 0);
        let n = 150;
        let mut c = Campaign::new(people(n));
        let mut now = msk(1, 9, 0);
        // Calls in flight: index → end time and outcome.
        let mut in_flight: HashMap<usize, (DateTime<Utc>, Outcome)> = HashMap::new();
        let mut starts: Vec<DateTime<Utc>> = Vec::new();
        let mut dials = vec![0usize; n];
        let mut answered = vec![0usize; n];
        let mut interrupted = vec![false; n];
        let mut steps = 0;
        while !c.finished() {
            steps += 1;
            assert!(steps < 200_000, "seed {seed}: no progress");
            // Finish calls due.
            let due: Vec<usize> = in_flight
                .iter()
                .filter(|(_, (end, _))| *end <= now)
                .map(|(&i, _)| i)
                .collect();
            for i in due {
                let (_, o) = in_flight.remove(&i).unwrap();
                c.on_outcome(i, now, o, &r).unwrap();
                if o == Outcome::Answered {
                    answered[i] += 1;
                    if rng.random_bool(0.3) {
                        c.on_progress(i, Progress::Listened).unwrap();
                    }
                }
            }
            // Sometimes restart: save, load, recover; calls in flight are lost.
            if rng.random_bool(0.002) {
                let json = serde_json::to_string(&c).unwrap();
                c = serde_json::from_str(&json).unwrap();
                for i in c.recover() {
                    interrupted[i] = true;
                }
                in_flight.clear();
            }
            let d = c.poll(now, &r);
            for &i in &d.dial {
                assert!(!interrupted[i], "seed {seed}: interrupted {i} re-dialled");
                assert!(answered[i] == 0, "seed {seed}: {i} dialled after an answer");
                assert!(!in_flight.contains_key(&i));
                dials[i] += 1;
                starts.push(now);
                let o = match rng.random_range(0..10) {
                    0..=4 => Outcome::Answered,
                    5 | 6 => Outcome::Busy,
                    7 | 8 => Outcome::NoAnswer,
                    _ => Outcome::Failed(503),
                };
                if o == Outcome::Answered && rng.random_bool(0.3) {
                    // Pressed 1 during the call: still in the call until it ends.
                    c.on_progress(i, Progress::Confirmed).unwrap();
                }
                let dur = Duration::seconds(rng.random_range(5..120));
                in_flight.insert(i, (now + dur, o));
            }
            assert!(c.active() <= channels as usize, "seed {seed}: channels");
            assert_eq!(c.active(), in_flight.len());
            let window = starts
                .iter()
                .filter(|&&s| s + Duration::seconds(60) > now)
                .count();
            assert!(window <= per_minute as usize, "seed {seed}: rate {window}");
            // Advance the fake clock: to the next event (call end or wake-up), 1 s at least.
            let next_end = in_flight.values().map(|(e, _)| *e).min();
            let next = [next_end, d.wake_at].into_iter().flatten().min();
            now = match next {
                Some(t) if t > now => t,
                _ => now + Duration::seconds(1),
            };
        }
        for i in 0..n {
            assert!(answered[i] <= 1, "seed {seed}: {i} answered twice");
            // 1 + 2 busy retries + 1 no-answer retry.
            assert!(dials[i] <= 4, "seed {seed}: {i} dialled {} times", dials[i]);
        }
        let reached = c
            .recipients
            .iter()
            .filter(|x| {
                matches!(
                    x.status,
                    Status::Answered | Status::Listened | Status::Confirmed
                )
            })
            .count();
        assert!(reached > n / 3, "seed {seed}: reached only {reached}");
    }
}

#[test]
fn restart_mid_campaign_then_requeue() {
    let r = rules(3, 60, false);
    let mut c = Campaign::new(people(5));
    let t = msk(1, 10, 0);
    assert_eq!(c.poll(t, &r).dial, vec![0, 1, 2]);
    c.on_outcome(0, t, Outcome::Answered, &r).unwrap();
    // Crash with 1 and 2 in calling.
    let saved = serde_json::to_string(&c).unwrap();
    let mut c: Campaign = serde_json::from_str(&saved).unwrap();
    assert_eq!(c.recover(), vec![1, 2]);
    assert_eq!(
        c.recipients[1].status.label_ru(),
        "звонок прерван перезапуском, исход неизвестен"
    );
    let d = c.poll(t + Duration::minutes(1), &r);
    assert_eq!(d.dial, vec![3, 4], "only those never called");
    // The admin requeues 1: dialled again (the admin's decision).
    c.requeue(1).unwrap();
    assert!(c.requeue(0).is_err());
    c.on_outcome(3, t + Duration::minutes(2), Outcome::Answered, &r)
        .unwrap();
    let d = c.poll(t + Duration::minutes(2), &r);
    assert_eq!(d.dial, vec![1]);
}

/// The 230-ФЗ day is the person's calendar day: one conversation at 14:30 UTC was on
/// 1 December in Moscow (17:30) but on 2 December in Vladivostok (00:30, +10). At 05:30 UTC
/// on 2 December the Moscow person (08:30) is called again, the Vladivostok one (15:30, the
/// same local day) waits for 08:00 on 3 December local.
#[test]
fn the_limits_day_is_the_persons_day_in_two_zones() {
    let vvo: Tz = chrono_tz::Asia::Vladivostok;
    let r = rules(5, 60, true);
    let conv = Utc.with_ymd_and_hms(2026, 12, 1, 14, 30, 0).unwrap();
    let mut rs = people(2);
    rs[1].tz = vvo;
    let history: Vec<PastConversation> = rs
        .iter()
        .map(|p| PastConversation {
            at: conv,
            phone: p.phone.clone(),
            account: None,
        })
        .collect();
    let mut c = Campaign::new(rs);
    c.set_prior_conversations(&history);
    let now = Utc.with_ymd_and_hms(2026, 12, 2, 5, 30, 0).unwrap();
    let d = c.poll(now, &r);
    assert_eq!(d.dial, vec![0]);
    let w = c.recipients[1].waiting.unwrap();
    assert_eq!(w.why, Wait::DayLimit);
    assert_eq!(
        w.until,
        vvo.with_ymd_and_hms(2026, 12, 3, 8, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    );
}

/// An answering machine: retried on the no-answer budget (hung up) or final with the message
/// left; never a conversation for the 230-ФЗ limits; shown as «автоответчик».
#[test]
fn answering_machine_is_retried_or_final_and_not_a_conversation() {
    let r = rules(5, 60, true);
    let mut c = Campaign::new(people(2));
    assert_eq!(c.poll(msk(1, 10, 0), &r).dial, vec![0, 1]);
    let am = |m| Outcome::AnsweringMachine { message_left: m };
    c.on_outcome(0, msk(1, 10, 1), am(false), &r).unwrap();
    c.on_outcome(1, msk(1, 10, 1), am(true), &r).unwrap();
    let retry = msk(1, 10, 31);
    assert_eq!(
        c.recipients[0].status,
        Status::AnsweringMachine {
            retry_at: Some(retry),
            message_left: false
        }
    );
    assert_eq!(
        c.recipients[0].status.label_ru(),
        "автоответчик, будет повтор"
    );
    assert!(c.recipients[1].status.is_final());
    assert_eq!(
        c.recipients[1].status.label_ru(),
        "автоответчик, оставлено сообщение"
    );
    // Not a conversation: the debt campaign calls again the same day.
    let d = c.poll(retry, &r);
    assert_eq!(d.dial, vec![0]);
    // The budget (1 no-answer retry) is used: final after the second machine.
    c.on_outcome(0, msk(1, 11, 0), am(false), &r).unwrap();
    assert_eq!(
        c.recipients[0].status,
        Status::AnsweringMachine {
            retry_at: None,
            message_left: false
        }
    );
    assert!(c.finished());
}
