//! Endpoints (browser tabs, desk phones), announcements and restarts: the ACD driven one event
//! at a time with a fake clock.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use common::*;
use zvonar_acd::*;

#[test]
fn an_agent_whose_browser_disappears_while_ringing_stops_ringing_and_the_next_agent_rings() {
    let mut d = Driver::new(vec![queue("q", Strategy::LongestIdle)]);
    d.at(0, login("a", "ea"));
    d.at(s(1), login("b", "eb"));
    assert_eq!(d.at(s(10), arrive("c1", "q")), vec![offer("c1", "a", "ea")]);
    // The WebSocket closes.
    assert_eq!(
        d.at(s(12), lost("a", "ea")),
        vec![
            stop("c1", "a", "ea", StopReason::EndpointGone),
            offer("c1", "b", "eb")
        ]
    );
    assert_eq!(d.state("a"), StateKind::Disconnected);
    assert_eq!(d.acd.agent(&agent("a")).unwrap().endpoint, None);
    // Not back within reconnect_grace_s (30 s): logged out.
    d.run_until(s(41));
    assert_eq!(d.state("a"), StateKind::Disconnected);
    d.run_until(s(42));
    assert_eq!(d.state("a"), StateKind::LoggedOut);
}

#[test]
fn an_agent_whose_browser_disappears_mid_call_is_logged_out_and_the_call_requeued_at_its_place() {
    let mut d = Driver::with(
        vec![queue("q", Strategy::LongestIdle)],
        AcdSettings {
            reconnect_grace_s: 0,
        },
    );
    d.at(0, login("a", "ea"));
    d.at(0, login("b", "eb"));
    d.at(0, pause("b", "обед"));
    d.at(s(1), arrive("c1", "q"));
    d.at(s(2), answer("c1", "a"));
    d.at(s(3), arrive("c2", "q"));
    d.at(s(4), arrive("c3", "q"));
    assert_eq!(
        d.at(s(10), lost("a", "ea")),
        vec![Command::Requeue { call: call("c1") }]
    );
    assert_eq!(d.state("a"), StateKind::LoggedOut);
    // Back at the head of the queue, ahead of the calls that came after it.
    assert_eq!(
        d.acd.waiting(&q("q")),
        vec![call("c1"), call("c2"), call("c3")]
    );
    assert_eq!(d.at(s(12), resume("b")), vec![offer("c1", "b", "eb")]);
    // Its maximum wait still counts from the first arrival (300 s from 1 s).
    d.at(s(13), reject("c1", "b"));
    let c = d.run_until(s(301));
    assert!(
        c.contains(&Command::Overflow {
            call: call("c1"),
            target: "robot".into(),
            reason: OverflowReason::MaxWait
        }),
        "{c:?}"
    );
}

#[test]
fn a_page_refresh_leaves_exactly_one_presence_and_keeps_state_and_pause_reason() {
    let mut d = Driver::new(vec![queue("q", Strategy::LongestIdle)]);
    d.at(0, login("a", "tab1"));
    d.at(s(1), pause("a", "обед"));
    // A re-REGISTER / WebSocket keep-alive of the same endpoint: nothing happens.
    assert!(d.at(s(2), login("a", "tab1")).is_empty());
    // The new tab registers before the old one's WebSocket closes: the old one is dropped.
    assert_eq!(
        d.at(s(3), login("a", "tab2")),
        vec![Command::DropEndpoint {
            agent: agent("a"),
            endpoint: ep("tab1")
        }]
    );
    assert_eq!(d.reason("a").as_deref(), Some("обед"));
    // The old tab closing afterwards is not the agent leaving.
    assert!(d.at(s(4), lost("a", "tab1")).is_empty());
    assert_eq!(d.state("a"), StateKind::Paused);
    assert_eq!(d.acd.agent(&agent("a")).unwrap().endpoint, Some(ep("tab2")));
    // The other order: the tab closes, the reloaded page registers within the grace.
    d.at(s(10), lost("a", "tab2"));
    assert_eq!(d.state("a"), StateKind::Disconnected);
    assert_eq!(d.reason("a").as_deref(), Some("обед"));
    d.at(s(20), login("a", "tab3"));
    assert_eq!(d.state("a"), StateKind::Paused);
    assert_eq!(d.reason("a").as_deref(), Some("обед"));
    // Calls ring the one current endpoint only.
    d.at(s(21), arrive("c1", "q"));
    assert_eq!(d.at(s(22), resume("a")), vec![offer("c1", "a", "tab3")]);
    // A refresh while ringing: the old tab stops ringing, the new one rings.
    assert_eq!(
        d.at(s(23), login("a", "tab4")),
        vec![
            Command::DropEndpoint {
                agent: agent("a"),
                endpoint: ep("tab3")
            },
            stop("c1", "a", "tab3", StopReason::EndpointGone),
            offer("c1", "a", "tab4")
        ]
    );
    // A refresh during wrap-up keeps the wrap-up and its end.
    d.at(s(24), answer("c1", "a"));
    d.at(s(30), ended("c1")); // wrap-up until 60
    d.at(s(31), lost("a", "tab4"));
    d.at(s(32), login("a", "tab5"));
    assert_eq!(d.state("a"), StateKind::WrapUp);
    d.run_until(s(59));
    assert_eq!(d.state("a"), StateKind::WrapUp);
    d.run_until(s(60));
    assert_eq!(d.state("a"), StateKind::Available);
}

#[test]
fn announcements_give_position_and_expected_wait_and_positions_never_go_backwards() {
    let mut d = Driver::new(vec![QueueConfig {
        announce_every_s: 30,
        wrap_up_s: 30,
        ring_timeout_s: 60,
        ..queue("q", Strategy::LongestIdle)
    }]);
    d.at(0, login("a", "ea"));
    // c0 is answered at once: no announcement.
    assert_eq!(d.at(0, arrive("c0", "q")), vec![offer("c0", "a", "ea")]);
    d.at(0, answer("c0", "a"));
    // AHT starts at 150 s talk + 30 s wrap-up = 180 s; one agent works the queue:
    // EWT = ⌈position × 180 / 1⌉.
    assert_eq!(
        d.at(s(1), arrive("c1", "q")),
        vec![announce("c1", 1, Some(180))]
    );
    assert_eq!(
        d.at(s(5), arrive("c2", "q")),
        vec![announce("c2", 2, Some(360))]
    );
    // An emergency goes ahead of both…
    assert_eq!(
        d.at(s(10), arrive_emergency("e1", "q")),
        vec![announce("e1", 1, Some(180))]
    );
    // …but c1 and c2 are not told a larger position than before.
    assert_eq!(
        d.run_until(s(40)),
        vec![
            announce("c1", 1, Some(180)),
            announce("c2", 2, Some(360)),
            announce("e1", 1, Some(180))
        ]
    );
    // c0 ends at 50 after 50 s of talk: AHT ← (3·180 + 50 + 30) / 4 = 155 s.
    d.at(s(50), ended("c0"));
    assert_eq!(
        d.run_until(s(70)),
        vec![
            announce("c1", 1, Some(155)),
            announce("c2", 2, Some(310)),
            announce("e1", 1, Some(155))
        ]
    );
    // a's wrap-up ends at 80: e1 rings a; a ringing call is not announced.
    assert_eq!(d.run_until(s(80)), vec![offer("e1", "a", "ea")]);
    assert_eq!(
        d.run_until(s(100)),
        vec![announce("c1", 1, Some(155)), announce("c2", 2, Some(310))]
    );
    // Nobody works the queue (a paused): the expected wait is unknown.
    d.at(s(101), pause("a", "обед"));
    assert_eq!(
        d.run_until(s(130)),
        vec![
            announce("c1", 1, None),
            announce("c2", 2, None),
            announce("e1", 1, None)
        ]
    );
    // Once e1 is gone, c1 is really first and c2 second: unchanged.
    d.at(s(131), hangup("e1"));
    assert_eq!(
        d.run_until(s(161)),
        vec![announce("c1", 1, None), announce("c2", 2, None)]
    );
    // c1 leaves: c2 moves up.
    d.at(s(162), hangup("c1"));
    assert_eq!(d.run_until(s(191)), vec![announce("c2", 1, None)]);
}

/// The events of a busy few minutes, used to compare a run with a restart in the middle to one
/// without.
fn script() -> Vec<(Millis, Input)> {
    vec![
        (0, login("a", "ea")),
        (0, login("b", "eb")),
        (s(1), login("c", "ec")),
        (s(2), pause("c", "обучение")),
        (s(5), arrive("k1", "q")),
        (s(6), arrive("k2", "q")),
        (s(7), answer("k1", "a")),
        (s(8), arrive_emergency("k3", "q")),
        (s(9), reject("k2", "b")),
        (s(20), ended("k1")),
        (s(21), arrive("k4", "q")),
        // --- the restart happens here in one of the runs ---
        (s(40), answer("k3", "b")),
        (s(45), resume("c")),
        (s(70), hangup("k4")),
        (s(90), ended("k3")),
        (s(100), arrive("k5", "q")),
    ]
}

fn run(restart_at: Option<usize>) -> (Vec<Command>, Vec<Record>, Vec<Option<AgentView>>) {
    let mut d = Driver::new(vec![QueueConfig {
        announce_every_s: 20,
        ..queue("q", Strategy::LongestIdle)
    }]);
    for (i, (t, input)) in script().into_iter().enumerate() {
        if Some(i) == restart_at {
            let saved = serde_json::to_string(&d.acd).unwrap();
            let before = ["a", "b", "c"].map(|a| d.acd.agent(&agent(a)));
            d.acd = serde_json::from_str(&saved).unwrap();
            let after = ["a", "b", "c"].map(|a| d.acd.agent(&agent(a)));
            assert_eq!(before, after);
            // c's pause reason and a's wrap-up survived.
            assert_eq!(d.reason("c").as_deref(), Some("обучение"));
            assert_eq!(d.state("a"), StateKind::WrapUp);
        }
        d.at(t, input);
    }
    d.run_until(s(400));
    let agents = ["a", "b", "c"].map(|a| d.acd.agent(&agent(a))).to_vec();
    (d.commands, d.records, agents)
}

#[test]
fn state_survives_a_restart_and_the_run_continues_as_if_none_happened() {
    let straight = run(None);
    let restarted = run(Some(11));
    assert_eq!(straight, restarted);
    // The script did something: offers, a bridge, wrap-ups, announcements, an abandon.
    let (commands, records, _) = &straight;
    assert!(commands.iter().any(|c| matches!(c, Command::Bridge { .. })));
    assert!(commands
        .iter()
        .any(|c| matches!(c, Command::Announce { .. })));
    assert!(records
        .iter()
        .any(|r| matches!(r.kind, RecordKind::Abandoned { .. })));
    assert!(records
        .iter()
        .any(|r| matches!(r.kind, RecordKind::WrapUpEnded { .. })));
}
