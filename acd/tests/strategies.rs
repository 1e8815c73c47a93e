//! Ring strategies, wrap-up, pauses, overflow, emergencies: the ACD driven one event at a time
//! with a fake clock (see `common::Driver`).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use common::*;
use zvonar_acd::*;

#[test]
fn ring_all_rings_everyone_and_of_two_simultaneous_answers_exactly_one_gets_the_call() {
    let mut d = Driver::new(vec![queue("q", Strategy::RingAll)]);
    d.at(0, login("a", "ea"));
    d.at(0, login("b", "eb"));
    let c = d.at(s(1), arrive("c1", "q"));
    assert_eq!(c, vec![offer("c1", "a", "ea"), offer("c1", "b", "eb")]);
    // Both press "answer" in the same millisecond; the engine reports b's first.
    let c = d.at(s(3), answer("c1", "b"));
    assert_eq!(
        c,
        vec![
            stop("c1", "a", "ea", StopReason::AnsweredElsewhere),
            bridge("c1", "b", "eb")
        ]
    );
    let c = d.at(s(3), answer("c1", "a"));
    assert_eq!(
        c,
        vec![Command::RefuseAnswer {
            call: call("c1"),
            agent: agent("a")
        }]
    );
    assert_eq!(d.state("b"), StateKind::OnCall);
    assert_eq!(d.state("a"), StateKind::Available);
    assert_eq!(d.acd.connected(&call("c1")), Some(agent("b")));
    let answered = d
        .records
        .iter()
        .filter(|r| matches!(r.kind, RecordKind::Answered { .. }))
        .count();
    assert_eq!(answered, 1);
    // The same answer reported twice does not hang up the conversation.
    assert!(d.at(s(4), answer("c1", "b")).is_empty());
    assert_eq!(d.state("b"), StateKind::OnCall);
}

#[test]
fn longest_idle_offers_one_agent_at_a_time_and_an_unanswered_offer_pauses_the_agent() {
    let mut d = Driver::new(vec![queue("q", Strategy::LongestIdle)]);
    d.at(0, login("c", "ec"));
    d.at(s(5), login("a", "ea"));
    d.at(s(10), login("b", "eb"));
    // c has been ready longest.
    assert_eq!(d.at(s(20), arrive("k1", "q")), vec![offer("k1", "c", "ec")]);
    d.at(s(21), answer("k1", "c"));
    assert_eq!(d.at(s(22), arrive("k2", "q")), vec![offer("k2", "a", "ea")]);
    // a declines: the next longest idle rings; a is not offered k2 again.
    assert_eq!(d.at(s(23), reject("k2", "a")), vec![offer("k2", "b", "eb")]);
    assert_eq!(d.state("a"), StateKind::Available);
    // b lets it ring out (ring_timeout_s = 20): stopped, paused with reason no_answer.
    let c = d.run_until(s(43));
    assert_eq!(c, vec![stop("k2", "b", "eb", StopReason::NoAnswer)]);
    assert_eq!(d.state("b"), StateKind::Paused);
    assert_eq!(d.reason("b").as_deref(), Some(NO_ANSWER_REASON));
    // Nobody else may take k2 now: a declined, b paused, c on a call.
    assert_eq!(d.acd.waiting(&q("q")), vec![call("k2")]);
    assert!(d.acd.ringing(&call("k2")).is_empty());
    // c finishes at 50 and wraps up 30 s; k2 goes to c at 80, not before.
    assert!(d.at(s(50), ended("k1")).is_empty());
    assert_eq!(d.state("c"), StateKind::WrapUp);
    assert!(d.run_until(s(79)).is_empty());
    assert_eq!(d.run_until(s(80)), vec![offer("k2", "c", "ec")]);
}

#[test]
fn round_robin_takes_members_in_turn() {
    let mut d = Driver::new(vec![QueueConfig {
        wrap_up_s: 0,
        ..queue("q", Strategy::RoundRobin)
    }]);
    for a in ["a", "b", "c"] {
        d.at(0, login(a, &format!("e{a}")));
    }
    let mut got = Vec::new();
    for (i, t) in [10u64, 20, 30, 40, 50].into_iter().enumerate() {
        let id = format!("k{i}");
        let c = d.at(s(t), arrive(&id, "q"));
        let [Command::Offer { agent: who, .. }] = c.as_slice() else {
            panic!("expected one offer, got {c:?}")
        };
        got.push(who.0.clone());
        d.at(s(t + 1), answer(&id, &who.0));
        d.at(s(t + 2), ended(&id));
    }
    assert_eq!(got, ["a", "b", "c", "a", "b"]);
    // A busy agent is skipped and the turn goes on after the one offered.
    d.at(s(60), arrive("k5", "q")); // → c
    d.at(s(61), answer("k5", "c"));
    assert_eq!(d.at(s(62), arrive("k6", "q")), vec![offer("k6", "a", "ea")]);
    d.at(s(63), answer("k6", "a"));
    assert_eq!(d.at(s(64), arrive("k7", "q")), vec![offer("k7", "b", "eb")]);
}

#[test]
fn skills_route_by_topic_wait_for_a_busy_specialist_and_fall_back_when_none_works() {
    let mut d = Driver::new(vec![QueueConfig {
        wrap_up_s: 0,
        ..queue("q", Strategy::Skills)
    }]);
    d.at(0, login_skills("a", "ea", &["leak"]));
    d.at(s(1), login_skills("b", "eb", &["electricity"]));
    // a is longer idle, but the topic picks b.
    assert_eq!(
        d.at(s(10), arrive_topic("c1", "q", "electricity")),
        vec![offer("c1", "b", "eb")]
    );
    // Nobody has "gas": any member, longest idle.
    assert_eq!(
        d.at(s(11), arrive_topic("c2", "q", "gas")),
        vec![offer("c2", "a", "ea")]
    );
    d.at(s(12), answer("c1", "b"));
    d.at(s(12), answer("c2", "a"));
    d.at(s(13), ended("c1"));
    d.at(s(13), ended("c2"));
    // The electrician goes to lunch: nobody with the skill works, so a gets it.
    d.at(s(20), pause("b", "обед"));
    assert_eq!(
        d.at(s(21), arrive_topic("c3", "q", "electricity")),
        vec![offer("c3", "a", "ea")]
    );
    d.at(s(30), resume("b"));
    d.at(s(30), answer("c3", "a"));
    // A leak while the plumber (a) talks: b is free but the specialist is on shift, so it waits.
    assert!(d.at(s(31), arrive_topic("c4", "q", "leak")).is_empty());
    assert_eq!(d.at(s(40), ended("c3")), vec![offer("c4", "a", "ea")]);
}

#[test]
fn wrap_up_is_one_state_across_queues_and_follows_a_transfer() {
    let mut d = Driver::new(vec![
        queue("q1", Strategy::LongestIdle),
        QueueConfig {
            wrap_up_s: 60,
            ..queue("q2", Strategy::LongestIdle)
        },
    ]);
    d.at(0, login("a", "ea"));
    d.at(s(1), login("b", "eb"));
    d.at(s(10), arrive("c1", "q1")); // → a
    d.at(s(11), answer("c1", "a"));
    d.at(s(20), ended("c1")); // a: wrap-up 30 s of q1, until 50
    assert_eq!(d.state("a"), StateKind::WrapUp);
    // A call of the second queue does not bypass a's wrap-up: b gets it.
    assert_eq!(
        d.at(s(21), arrive("c2", "q2")),
        vec![offer("c2", "b", "eb")]
    );
    d.at(s(22), reject("c2", "b"));
    assert_eq!(d.state("a"), StateKind::WrapUp);
    assert!(d.run_until(s(49)).is_empty());
    assert_eq!(d.run_until(s(50)), vec![offer("c2", "a", "ea")]);
    d.at(s(51), answer("c2", "a"));
    // a transfers the caller to the first queue: a wraps up (q2's 60 s), the call queues again
    // and goes to b, not to a.
    d.at(
        s(60),
        Input::CallTransferred {
            call: call("c2"),
            target: "queue:q1".into(),
        },
    );
    assert_eq!(d.state("a"), StateKind::WrapUp);
    assert_eq!(
        d.at(s(60), arrive("c2", "q1")),
        vec![offer("c2", "b", "eb")]
    );
    d.at(s(61), reject("c2", "b"));
    assert!(d.run_until(s(119)).is_empty());
    assert_eq!(d.run_until(s(120)), vec![offer("c2", "a", "ea")]);
    // A transfer of a call nobody talks to is refused and changes nothing.
    assert_eq!(
        d.try_at(
            s(121),
            Input::CallTransferred {
                call: call("c2"),
                target: "queue:q1".into()
            }
        ),
        Err(AcdError::NotConnected(call("c2")))
    );
    assert_eq!(d.acd.ringing(&call("c2")), vec![agent("a")]);
}

#[test]
fn max_wait_overflows_to_the_robot_and_stops_the_ringing() {
    let mut d = Driver::new(vec![QueueConfig {
        max_wait_s: 60,
        overflow: "callback_robot".into(),
        ..queue("q", Strategy::RingAll)
    }]);
    d.at(0, login("a", "ea"));
    d.at(0, pause("a", "обед"));
    assert!(d.at(0, arrive("c1", "q")).is_empty());
    assert_eq!(d.at(s(50), resume("a")), vec![offer("c1", "a", "ea")]);
    let c = d.run_until(s(60));
    assert_eq!(
        c,
        vec![
            stop("c1", "a", "ea", StopReason::Overflowed),
            Command::Overflow {
                call: call("c1"),
                target: "callback_robot".into(),
                reason: OverflowReason::MaxWait
            }
        ]
    );
    assert!(!d.acd.has_call(&call("c1")));
    assert_eq!(d.state("a"), StateKind::Available);
    // A late answer of the overflowed call is refused.
    assert_eq!(
        d.at(s(61), answer("c1", "a")),
        vec![Command::RefuseAnswer {
            call: call("c1"),
            agent: agent("a")
        }]
    );
    // A re-queued call keeps its arrival: max wait counts from the first arrival (see
    // endpoint tests); a hang-up after overflow is ignored.
    assert!(d.at(s(62), hangup("c1")).is_empty());
    assert!(!d
        .records
        .iter()
        .any(|r| matches!(r.kind, RecordKind::Abandoned { .. })));
}

#[test]
fn when_every_agent_has_logged_out_callers_overflow_at_once() {
    let mut d = Driver::new(vec![
        queue("q", Strategy::LongestIdle),
        QueueConfig {
            skills: vec!["ads".into()],
            ..queue("ads", Strategy::LongestIdle)
        },
        QueueConfig {
            overflow_when_unstaffed: false,
            max_wait_s: 100,
            ..queue("patient", Strategy::LongestIdle)
        },
    ]);
    let unstaffed = |c: &str| Command::Overflow {
        call: call(c),
        target: "robot".into(),
        reason: OverflowReason::Unstaffed,
    };
    // Nobody logged in: no waiting for max_wait_s.
    assert_eq!(d.at(0, arrive("c0", "q")), vec![unstaffed("c0")]);
    // a has no "ads" skill, so the ads queue is still unstaffed.
    d.at(s(1), login("a", "ea"));
    assert_eq!(d.at(s(2), arrive("c1", "ads")), vec![unstaffed("c1")]);
    // Paused agents are still logged in: calls wait.
    d.at(s(3), pause("a", "обед"));
    assert!(d.at(s(4), arrive("c2", "q")).is_empty());
    assert!(d.at(s(5), arrive("c3", "q")).is_empty());
    assert!(d.at(s(5), arrive("p1", "patient")).is_empty());
    // The last agent leaves: the waiting calls overflow at once, in queue order, except in the
    // queue configured to wait.
    assert_eq!(
        d.at(s(6), logout("a")),
        vec![unstaffed("c2"), unstaffed("c3")]
    );
    assert_eq!(d.acd.waiting(&q("patient")), vec![call("p1")]);
    assert_eq!(
        d.run_until(s(105)),
        vec![Command::Overflow {
            call: call("p1"),
            target: "robot".into(),
            reason: OverflowReason::MaxWait
        }]
    );
}

#[test]
fn pause_takes_effect_after_the_call_and_wrap_up_and_keeps_its_reason() {
    let mut d = Driver::new(vec![queue("q", Strategy::LongestIdle)]);
    d.at(0, login("a", "ea"));
    d.at(s(1), pause("a", "обучение"));
    assert_eq!(d.reason("a").as_deref(), Some("обучение"));
    assert!(d.at(s(2), arrive("c1", "q")).is_empty());
    assert_eq!(d.at(s(3), resume("a")), vec![offer("c1", "a", "ea")]);
    d.at(s(4), answer("c1", "a"));
    // Pause asked during the call: the call goes on, then wrap-up, then the pause.
    d.at(s(5), pause("a", "обед"));
    assert_eq!(d.state("a"), StateKind::OnCall);
    d.at(s(10), ended("c1"));
    assert_eq!(d.state("a"), StateKind::WrapUp);
    d.at(s(11), arrive("c2", "q"));
    d.run_until(s(40));
    assert_eq!(d.state("a"), StateKind::Paused);
    assert_eq!(d.reason("a").as_deref(), Some("обед"));
    assert_eq!(d.acd.waiting(&q("q")), vec![call("c2")]);
    // Pause while ringing: the ringing stops at once.
    assert_eq!(d.at(s(41), resume("a")), vec![offer("c2", "a", "ea")]);
    assert_eq!(
        d.at(s(42), pause("a", "перерыв")),
        vec![stop("c2", "a", "ea", StopReason::AgentUnavailable)]
    );
    // A resume during wrap-up cancels the pause asked for.
    d.at(s(43), resume("a")); // → offered c2 again
    d.at(s(44), answer("c2", "a"));
    d.at(s(45), pause("a", "обед"));
    d.at(s(46), ended("c2"));
    d.at(s(47), resume("a"));
    d.run_until(s(76));
    assert_eq!(d.state("a"), StateKind::Available);
    // Bad input: a clear error, nothing changes.
    assert_eq!(
        d.try_at(s(77), pause("a", "  ")),
        Err(AcdError::EmptyPauseReason)
    );
    assert_eq!(
        d.try_at(s(77), pause("zz", "обед")),
        Err(AcdError::UnknownAgent(agent("zz")))
    );
    d.at(s(78), logout("a"));
    assert_eq!(
        d.try_at(s(79), pause("a", "обед")),
        Err(AcdError::NotLoggedIn(agent("a")))
    );
    assert_eq!(
        d.try_at(s(80), arrive("x", "nope")),
        Err(AcdError::UnknownQueue(q("nope")))
    );
}

#[test]
fn a_call_id_queued_twice_is_refused() {
    let mut d = Driver::new(vec![queue("q", Strategy::RingAll)]);
    d.at(0, login("a", "ea"));
    d.at(0, pause("a", "обед"));
    d.at(s(1), arrive("c1", "q"));
    assert_eq!(
        d.try_at(s(2), arrive("c1", "q")),
        Err(AcdError::DuplicateCall(call("c1")))
    );
    assert_eq!(d.acd.waiting(&q("q")), vec![call("c1")]);
}

#[test]
fn caller_hanging_up_stops_every_ringing_agent_and_counts_one_abandon() {
    let mut d = Driver::new(vec![queue("q", Strategy::RingAll)]);
    d.at(0, login("a", "ea"));
    d.at(0, login("b", "eb"));
    d.at(s(1), arrive("c1", "q"));
    let c = d.at(s(4), hangup("c1"));
    assert_eq!(
        c,
        vec![
            stop("c1", "a", "ea", StopReason::CallerHungUp),
            stop("c1", "b", "eb", StopReason::CallerHungUp)
        ]
    );
    assert_eq!(d.state("a"), StateKind::Available);
    assert_eq!(d.state("b"), StateKind::Available);
    // The second BYE/CANCEL report is ignored; an answer racing the hang-up is refused.
    assert!(d.at(s(4), hangup("c1")).is_empty());
    assert!(d.at(s(4), ended("c1")).is_empty());
    assert_eq!(
        d.at(s(4), answer("c1", "a")),
        vec![Command::RefuseAnswer {
            call: call("c1"),
            agent: agent("a")
        }]
    );
    let abandons: Vec<_> = d
        .records
        .iter()
        .filter(|r| matches!(r.kind, RecordKind::Abandoned { .. }))
        .collect();
    assert_eq!(
        abandons,
        vec![&Record {
            at: s(4),
            kind: RecordKind::Abandoned {
                call: call("c1"),
                wait_ms: s(3)
            }
        }]
    );
}

#[test]
fn emergency_calls_go_to_the_head_of_the_queue_behind_earlier_emergencies() {
    let mut d = Driver::new(vec![queue("q", Strategy::LongestIdle)]);
    d.at(0, login("a", "ea"));
    d.at(0, pause("a", "обед"));
    d.at(s(1), arrive("c1", "q"));
    d.at(s(2), arrive("c2", "q"));
    d.at(s(3), arrive_emergency("e1", "q"));
    d.at(s(4), arrive_emergency("e2", "q"));
    d.at(s(5), arrive("c3", "q"));
    assert_eq!(
        d.acd.waiting(&q("q")),
        vec![call("e1"), call("e2"), call("c1"), call("c2"), call("c3")]
    );
    assert_eq!(d.at(s(6), resume("a")), vec![offer("e1", "a", "ea")]);
}

#[test]
fn a_late_event_with_an_earlier_time_is_taken_at_the_last_time() {
    let mut d = Driver::new(vec![queue("q", Strategy::RingAll)]);
    assert_eq!(d.acd.poll_timeout(), None);
    d.at(s(10), login("a", "ea"));
    d.at(s(20), arrive("c1", "q"));
    assert_eq!(d.acd.poll_timeout(), Some(s(40)), "ring timeout");
    // The answer is reported with a stale timestamp (another thread's clock): taken at 20 s.
    d.at(s(15), answer("c1", "a"));
    assert_eq!(d.acd.now(), s(20));
    assert!(d.records.contains(&Record {
        at: s(20),
        kind: RecordKind::Answered {
            call: call("c1"),
            agent: agent("a"),
            wait_ms: 0
        }
    }));
    assert_eq!(
        d.acd.poll_timeout(),
        None,
        "nothing waits during a conversation"
    );
}
