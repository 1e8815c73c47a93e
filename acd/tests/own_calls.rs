//! An agent's own calls (click-to-call from the console, dialling out from a desk phone): the
//! agent is on a call while one goes on, is offered nothing from any queue, gets wrap-up after
//! it, keeps a pause; driven one input at a time with a fake clock, the way the engine does
//! (`OwnCallStarted` when the call is placed, `OwnCallEnded` when its task ends).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use common::*;
use zvonar_acd::*;

fn own(a: &str, c: &str) -> Input {
    Input::OwnCallStarted {
        agent: agent(a),
        call: call(c),
    }
}

fn own_end(a: &str, c: &str) -> Input {
    Input::OwnCallEnded {
        agent: agent(a),
        call: call(c),
    }
}

fn offers(cmds: &[Command]) -> Vec<(String, String)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Offer { call, agent, .. } => Some((call.0.clone(), agent.0.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn an_agent_on_an_own_call_is_not_offered_a_caller_until_the_call_and_its_wrap_up_are_over() {
    let mut d = Driver::new(vec![queue("q", Strategy::LongestIdle)]);
    d.at(0, login("a", "ea"));
    // The agent dials out: on a call from the moment the call is placed (ringing included).
    assert_eq!(d.at(s(10), own("a", "out1")), vec![]);
    let v = d.acd.agent(&agent("a")).unwrap();
    assert_eq!(
        (v.state, v.call, v.since),
        (StateKind::OnCall, Some(call("out1")), s(10))
    );
    // A caller arrives: the only agent is busy, so it waits, not offered to anyone.
    assert_eq!(d.at(s(20), arrive("c1", "q")), vec![]);
    assert_eq!(d.acd.waiting(&q("q")), vec![call("c1")]);
    assert!(offers(&d.run_until(s(100))).is_empty());
    assert_eq!(d.state("a"), StateKind::OnCall);
    // The own call ends: wrap-up for the queue's 30 s, nothing offered meanwhile.
    assert_eq!(d.at(s(100), own_end("a", "out1")), vec![]);
    assert_eq!(d.state("a"), StateKind::WrapUp);
    assert_eq!(d.acd.poll_timeout(), Some(s(130)));
    assert!(offers(&d.run_until(s(129))).is_empty());
    // Then available, and the waiting caller is offered to the agent at once.
    assert_eq!(offers(&d.run_until(s(130))), [("c1".into(), "a".into())]);
    assert_eq!(d.state("a"), StateKind::Ringing);
    // The own call is not a queue call: no answered / talk / abandoned lines for it.
    assert!(!d.records.iter().any(|r| matches!(
        &r.kind,
        RecordKind::Answered { call, .. }
        | RecordKind::TalkEnded { call, .. }
        | RecordKind::Abandoned { call, .. } if call.0 == "out1"
    )));
    let states: Vec<StateKind> = d
        .records
        .iter()
        .filter_map(|r| match &r.kind {
            RecordKind::AgentState { state, .. } => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            StateKind::Available,
            StateKind::OnCall,
            StateKind::WrapUp,
            StateKind::Available,
            StateKind::Ringing
        ]
    );
}

#[test]
fn a_ringing_agent_who_dials_out_stops_ringing_and_the_caller_goes_to_another_agent() {
    let mut d = Driver::new(vec![queue("q", Strategy::LongestIdle)]);
    d.at(0, login("a", "ea"));
    d.at(s(1), login("b", "eb"));
    assert_eq!(d.at(s(10), arrive("c1", "q")), vec![offer("c1", "a", "ea")]);
    assert_eq!(
        d.at(s(12), own("a", "out1")),
        vec![
            stop("c1", "a", "ea", StopReason::AgentUnavailable),
            offer("c1", "b", "eb")
        ]
    );
    assert_eq!(d.state("a"), StateKind::OnCall);
    d.at(s(14), answer("c1", "b"));
    // A second caller waits for a (on its own call) and b (on the first caller).
    assert_eq!(d.at(s(20), arrive("c2", "q")), vec![]);
    d.at(s(30), own_end("a", "out1"));
    assert!(offers(&d.run_until(s(59))).is_empty());
    assert_eq!(offers(&d.run_until(s(60))), [("c2".into(), "a".into())]);
}

#[test]
fn a_paused_agent_stays_paused_with_the_reason_after_an_own_call() {
    let mut d = Driver::new(vec![queue("q", Strategy::RingAll)]);
    d.at(0, login("a", "ea"));
    d.at(s(1), pause("a", "обратные звонки"));
    d.at(s(5), own("a", "out1"));
    assert_eq!(d.state("a"), StateKind::OnCall);
    assert_eq!(d.at(s(6), arrive("c1", "q")), vec![]);
    assert_eq!(d.at(s(60), own_end("a", "out1")), vec![]);
    // Straight back to the pause (it covers the after-call work), reason kept, no offer.
    assert_eq!(d.state("a"), StateKind::Paused);
    assert_eq!(d.reason("a").as_deref(), Some("обратные звонки"));
    assert!(offers(&d.run_until(s(200))).is_empty());
    // Resumed: the waiting caller is offered.
    assert_eq!(d.at(s(200), resume("a")), vec![offer("c1", "a", "ea")]);
}

#[test]
fn a_pause_asked_during_an_own_call_follows_it_and_a_resume_during_it_cancels_the_pause() {
    let mut d = Driver::new(vec![queue("q", Strategy::RingAll)]);
    d.at(0, login("a", "ea"));
    d.at(0, login("b", "eb"));
    d.at(s(1), own("a", "out1"));
    d.at(s(2), pause("a", "обед"));
    assert_eq!(d.state("a"), StateKind::OnCall);
    d.at(s(3), own_end("a", "out1"));
    assert_eq!(
        (d.state("a"), d.reason("a").as_deref()),
        (StateKind::Paused, Some("обед"))
    );
    // Paused agent b dials, resumes during the call: wrap-up after it, then available.
    d.at(s(4), pause("b", "обучение"));
    d.at(s(5), own("b", "out2"));
    d.at(s(6), resume("b"));
    assert_eq!(d.state("b"), StateKind::OnCall);
    d.at(s(10), own_end("b", "out2"));
    assert_eq!(d.state("b"), StateKind::WrapUp);
    d.run_until(s(40));
    assert_eq!(d.state("b"), StateKind::Available);
}

#[test]
fn an_own_call_does_not_log_in_a_logged_out_or_unknown_agent() {
    let mut d = Driver::new(vec![queue("q", Strategy::RingAll)]);
    d.at(0, login("a", "ea"));
    d.at(s(1), logout("a"));
    assert_eq!(d.at(s(2), own("a", "out1")), vec![]);
    assert_eq!(d.state("a"), StateKind::LoggedOut);
    assert_eq!(d.at(s(3), own("nobody", "out2")), vec![]);
    assert!(d.acd.agent(&agent("nobody")).is_none());
    // Nobody staffs the queue: a caller overflows at once, as without the own call.
    let c = d.at(s(4), arrive("c1", "q"));
    assert!(
        matches!(
            c.as_slice(),
            [Command::Overflow {
                reason: OverflowReason::Unstaffed,
                ..
            }]
        ),
        "{c:?}"
    );
    // Logging in during the call finds anna on it; after it, wrap-up.
    d.at(s(5), login("a", "ea"));
    assert_eq!(d.state("a"), StateKind::OnCall);
    assert_eq!(d.at(s(6), own_end("a", "out1")), vec![]);
    assert_eq!(d.state("a"), StateKind::WrapUp);
    d.at(s(7), logout("a"));
    // Once ended, an own call is over: logged in later, available.
    assert_eq!(d.at(s(8), own_end("a", "out1")), vec![]);
    d.at(s(9), login("a", "ea"));
    assert_eq!(d.state("a"), StateKind::Available);
}

#[test]
fn an_agent_in_two_queues_is_busy_in_both_and_wraps_up_for_the_longer_wrap_up() {
    let short = QueueConfig {
        wrap_up_s: 10,
        ..queue("short", Strategy::LongestIdle)
    };
    let long = QueueConfig {
        wrap_up_s: 40,
        skills: vec!["ads".into()],
        ..queue("long", Strategy::LongestIdle)
    };
    let mut d = Driver::new(vec![short, long]);
    d.at(0, login_skills("a", "ea", &["ads"]));
    d.at(0, login("b", "eb")); // serves `short` only (no skill)
    d.at(s(1), own("a", "out1"));
    // Each queue's caller: `short` goes to b, `long` waits (a is its only member).
    assert_eq!(d.at(s(2), arrive("c1", "long")), vec![]);
    assert_eq!(
        d.at(s(3), arrive("c2", "short")),
        vec![offer("c2", "b", "eb")]
    );
    assert_eq!(d.at(s(4), reject("c2", "b")), vec![]);
    assert_eq!(d.at(s(5), own_end("a", "out1")), vec![]);
    // Wrap-up of 40 s (the longer one), during which neither queue offers a.
    assert!(offers(&d.run_until(s(44))).is_empty());
    let c = d.run_until(s(45));
    assert_eq!(offers(&c), [("c1".into(), "a".into())]);
}

#[test]
fn a_queue_calls_wrap_up_ending_during_an_own_call_leaves_the_agent_on_the_call() {
    let mut d = Driver::new(vec![queue("q", Strategy::RingAll)]);
    d.at(0, login("a", "ea"));
    d.at(s(1), arrive("c1", "q"));
    d.at(s(2), answer("c1", "a"));
    // A consultation call during the conversation, going on after it.
    d.at(s(10), own("a", "out1"));
    d.at(s(20), ended("c1"));
    assert_eq!(d.state("a"), StateKind::WrapUp);
    d.run_until(s(50));
    assert_eq!(d.state("a"), StateKind::OnCall);
    assert_eq!(d.at(s(55), arrive("c2", "q")), vec![]);
    d.at(s(60), own_end("a", "out1"));
    assert_eq!(d.state("a"), StateKind::WrapUp);
    assert_eq!(offers(&d.run_until(s(90))), [("c2".into(), "a".into())]);
}

#[test]
fn two_own_calls_keep_the_agent_busy_until_both_end_and_a_logout_waits_for_them() {
    let mut d = Driver::new(vec![queue("q", Strategy::RingAll)]);
    d.at(0, login("a", "ea"));
    d.at(0, login("b", "eb"));
    d.at(s(1), own("a", "out1"));
    d.at(s(2), own("a", "out2"));
    d.at(s(2), own("a", "out2")); // reported twice
    d.at(s(3), own_end("a", "out1"));
    let v = d.acd.agent(&agent("a")).unwrap();
    assert_eq!(
        (v.state, v.call, v.since),
        (StateKind::OnCall, Some(call("out2")), s(1))
    );
    d.at(s(4), own_end("a", "out1")); // ended twice
    assert_eq!(d.state("a"), StateKind::OnCall);
    d.at(s(5), logout("a"));
    assert_eq!(d.state("a"), StateKind::OnCall);
    d.at(s(6), own_end("a", "out2"));
    assert_eq!(d.state("a"), StateKind::LoggedOut);
}

#[test]
fn an_own_call_survives_a_restart_and_a_page_refresh() {
    let mut d = Driver::new(vec![queue("q", Strategy::RingAll)]);
    d.at(0, login("a", "ea"));
    d.at(s(1), own("a", "out1"));
    // The tab closes and comes back (refresh) during the call.
    d.at(s(2), lost("a", "ea"));
    assert_eq!(d.state("a"), StateKind::Disconnected);
    d.at(s(3), login("a", "ea2"));
    assert_eq!(d.state("a"), StateKind::OnCall);
    // zvonar restarts: the stored machine still has the agent on the call.
    let stored = serde_json::to_string(&d.acd).unwrap();
    d.acd = serde_json::from_str(&stored).unwrap();
    assert_eq!(d.at(s(4), arrive("c1", "q")), vec![]);
    d.at(s(5), own_end("a", "out1"));
    assert_eq!(offers(&d.run_until(s(35))), [("c1".into(), "a".into())]);
}
