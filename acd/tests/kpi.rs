//! KPIs from a queue log produced by the machine, against a hand computation.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use common::*;
use zvonar_acd::kpi::{compute, KpiParams};
use zvonar_acd::*;

fn close(got: Option<f64>, want: f64) {
    let got = got.expect("a value");
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

#[test]
fn kpis_of_a_shift_match_the_hand_computation() {
    // An АДС queue, ring_all, wrap-up 10 s, ring timeout 120 s, max wait 600 s; agents a and b.
    let mut d = Driver::new(vec![QueueConfig {
        wrap_up_s: 10,
        ring_timeout_s: 120,
        max_wait_s: 600,
        ..queue("ads", Strategy::RingAll)
    }]);
    // Times in seconds.
    d.at(0, login("a", "ea"));
    d.at(0, login("b", "eb"));
    d.at(s(0), arrive("c1", "ads")); //   c1 rings a and b
    d.at(s(5), arrive("c2", "ads")); //   c2 waits (both ringing)
    d.at(s(10), answer("c1", "a")); //    c1 answered, wait 10; b freed → c2 rings b
    d.at(s(25), answer("c2", "b")); //    c2 answered, wait 20 (exactly T: within)
    d.at(s(30), arrive("c3", "ads"));
    d.at(s(33), hangup("c3")); //         c3 abandoned after 3 s: a short abandon (< 5 s)
    d.at(s(40), arrive("c4", "ads"));
    d.at(s(50), arrive_emergency("c5", "ads"));
    d.at(s(70), ended("c1")); //          c1 talk 60, a wraps up 70→80
                              // 80: a is free; the emergency c5 goes first, c4 keeps waiting.
    d.at(s(85), answer("c5", "a")); //    c5 answered, wait 35
    d.at(s(100), hangup("c4")); //        c4 abandoned after 60 s
    d.at(s(120), arrive("c6", "ads"));
    d.at(s(145), ended("c2")); //         c2 talk 120, b wraps up 145→155; 155: c6 rings b
    d.at(s(150), arrive("c7", "ads"));
    d.at(s(160), answer("c6", "b")); //   c6 answered, wait 40
    d.at(s(385), ended("c5")); //         c5 talk 300, a wraps up 385→395; 395: c7 rings a
    d.at(s(460), answer("c7", "a")); //   c7 answered, wait 310 (over ПП 416's 5 minutes)
    d.at(s(500), arrive("c8", "ads"));
    d.at(s(520), ended("c7")); //         c7 talk 60, wrap-up 520→530
    d.at(s(525), pause("a", "обед")); //  a pauses after the wrap-up: 530
    d.at(s(560), ended("c6")); //         c6 talk 400, wrap-up 560→570
    d.at(s(565), pause("b", "обед")); //  b pauses at 570
    d.run_until(s(1200)); //              c8 overflows at 500 + 600 = 1100
    assert!(d.commands.contains(&Command::Overflow {
        call: call("c8"),
        target: "robot".into(),
        reason: OverflowReason::MaxWait
    }));

    let k = compute(
        &d.records,
        &KpiParams {
            service_level_s: 20,
            short_abandon_s: 5,
            since: 0,
            until: s(1200),
            queue: None,
        },
    );
    // By hand:
    //   offered 8 (c1…c8); answered 5: c1 (wait 10), c2 (20), c5 (35), c6 (40), c7 (310);
    //   abandoned 2: c3 (3 s, short), c4 (60 s); overflowed 1: c8; still waiting 0.
    //   counted = offered − short abandons − waiting = 8 − 1 − 0 = 7.
    assert_eq!(
        (
            k.offered,
            k.answered,
            k.abandoned,
            k.short_abandoned,
            k.overflowed,
            k.waiting
        ),
        (8, 5, 2, 1, 1, 0)
    );
    //   SL(20 s) = answered within 20 s / counted = {c1, c2} / 7 = 2/7.
    close(k.service_level, 2.0 / 7.0);
    //   ASA = (10 + 20 + 35 + 40 + 310) / 5 = 415 / 5 = 83 s.
    close(k.asa_s, 83.0);
    //   abandonment rate = (2 − 1 short) / 7 = 1/7.
    close(k.abandonment_rate, 1.0 / 7.0);
    //   AHT = Σ(talk + wrap) / handled = (60+10 + 120+10 + 300+10 + 400+10 + 60+10) / 5
    //       = 990 / 5 = 198 s.
    close(k.aht_s, 198.0);
    //   occupancy: a is staffed 0→530 (then paused), busy on call + wrap-up
    //   60+10 + 300+10 + 60+10 = 450; b is staffed 0→570, busy 120+10 + 400+10 = 540.
    //   (450 + 540) / (530 + 570) = 990 / 1100 = 0.9.
    close(k.occupancy, 0.9);
    //   ПП 416: answered within 300 s / counted = {c1, c2, c5, c6} / 7 = 4/7; the one emergency
    //   call c5 was answered in 35 s: 1/1.
    close(k.within_5_min, 4.0 / 7.0);
    close(k.emergency_within_5_min, 1.0);

    // The service level names its threshold: with T = 40 s, c5 and c6 count too: 4/7.
    let k40 = compute(
        &d.records,
        &KpiParams {
            service_level_s: 40,
            short_abandon_s: 5,
            since: 0,
            until: s(1200),
            queue: None,
        },
    );
    close(k40.service_level, 4.0 / 7.0);
    // Without a short-abandon threshold c3 counts as a real abandon: SL(20) = 2/8, rate 2/8.
    let k0 = compute(
        &d.records,
        &KpiParams {
            service_level_s: 20,
            short_abandon_s: 0,
            since: 0,
            until: s(1200),
            queue: None,
        },
    );
    close(k0.service_level, 2.0 / 8.0);
    close(k0.abandonment_rate, 2.0 / 8.0);
    // Another queue's figures are empty.
    let other = compute(
        &d.records,
        &KpiParams {
            service_level_s: 20,
            short_abandon_s: 5,
            since: 0,
            until: s(1200),
            queue: Some(q("uk")),
        },
    );
    assert_eq!(other.offered, 0);
    assert_eq!(other.service_level, None);
    assert_eq!(other.asa_s, None);
}

#[test]
fn a_call_requeued_after_its_agent_vanished_counts_once_as_answered() {
    let mut d = Driver::with(
        vec![queue("q", Strategy::LongestIdle)],
        AcdSettings {
            reconnect_grace_s: 0,
        },
    );
    d.at(0, login("a", "ea"));
    d.at(s(10), arrive("c1", "q"));
    d.at(s(14), answer("c1", "a")); // wait 4
                                    // Talk 6 s, re-queued, a logged out; nobody is left, so it overflows at once.
    d.at(s(20), lost("a", "ea"));
    assert!(d.commands.contains(&Command::Requeue { call: call("c1") }));
    assert!(d.commands.contains(&Command::Overflow {
        call: call("c1"),
        target: "robot".into(),
        reason: OverflowReason::Unstaffed
    }));
    d.at(s(30), hangup("c1")); //     ignored: the call left the queue
    let k = compute(
        &d.records,
        &KpiParams {
            service_level_s: 20,
            short_abandon_s: 5,
            since: 0,
            until: s(40),
            queue: None,
        },
    );
    assert_eq!(
        (k.offered, k.answered, k.abandoned, k.overflowed),
        (1, 1, 0, 0)
    );
    close(k.asa_s, 4.0);
    close(k.service_level, 1.0);
}

/// Records written by hand, times in seconds.
struct Log(Vec<Record>);

impl Log {
    fn push(&mut self, at: u64, kind: RecordKind) {
        self.0.push(Record { at: s(at), kind });
    }
    fn enq(&mut self, at: u64, c: &str, queue: &str, emergency: bool) {
        self.push(
            at,
            RecordKind::Enqueued {
                call: call(c),
                queue: q(queue),
                emergency,
            },
        );
    }
    fn answered(&mut self, at: u64, c: &str, a: &str, wait: u64) {
        self.push(
            at,
            RecordKind::Answered {
                call: call(c),
                agent: agent(a),
                wait_ms: s(wait),
            },
        );
    }
    fn abandoned(&mut self, at: u64, c: &str, wait: u64) {
        self.push(
            at,
            RecordKind::Abandoned {
                call: call(c),
                wait_ms: s(wait),
            },
        );
    }
    fn talk(&mut self, at: u64, c: &str, a: &str, talk: u64) {
        self.push(
            at,
            RecordKind::TalkEnded {
                call: call(c),
                agent: agent(a),
                talk_ms: s(talk),
            },
        );
    }
    fn wrap(&mut self, at: u64, c: &str, a: &str, wrap: u64) {
        self.push(
            at,
            RecordKind::WrapUpEnded {
                call: call(c),
                agent: agent(a),
                wrap_ms: s(wrap),
            },
        );
    }
    fn state(&mut self, at: u64, a: &str, state: StateKind) {
        self.push(
            at,
            RecordKind::AgentState {
                agent: agent(a),
                state,
            },
        );
    }
    fn sorted(mut self) -> Vec<Record> {
        self.0.sort_by_key(|r| r.at); // stable: same-time records keep their order
        self.0
    }
}

#[test]
fn kpis_of_fourteen_hand_written_calls_match_the_hand_computation() {
    // Today is [1000 s, 2000 s) of the log; queue «ads» unless said otherwise.
    let mut l = Log(Vec::new());
    // c0 entered yesterday (before 1000) and was answered today: not today's call.
    l.enq(990, "c0", "ads", false);
    l.answered(1005, "c0", "b", 15);
    // c1: wait 10, talk 60, wrap-up 10.
    l.enq(1000, "c1", "ads", false);
    l.answered(1010, "c1", "a", 10);
    l.talk(1070, "c1", "a", 60);
    l.wrap(1080, "c1", "a", 10);
    // c2: wait 20 (exactly T: within), talk 100, wrap-up 10.
    l.enq(1020, "c2", "ads", false);
    l.answered(1040, "c2", "a", 20);
    l.talk(1140, "c2", "a", 100);
    l.wrap(1150, "c2", "a", 10);
    // c3: abandoned after 4 s: short (< 5 s).
    l.enq(1030, "c3", "ads", false);
    l.abandoned(1034, "c3", 4);
    // c4: abandoned after exactly 5 s: not short (short is strictly under 5 s); its hang-up
    // is in the log twice (a second BYE): still one abandoned call.
    l.enq(1040, "c4", "ads", false);
    l.abandoned(1045, "c4", 5);
    l.abandoned(1046, "c4", 6);
    // c5: emergency, wait 30, talk 40, wrap-up 10.
    l.enq(1050, "c5", "ads", true);
    l.answered(1080, "c5", "b", 30);
    l.talk(1120, "c5", "b", 40);
    l.wrap(1130, "c5", "b", 10);
    // c6: wait 21 (just over T); the agent's phone failed after 19 s of talk, the call was
    // re-queued and answered again at 1150 (90 s after arrival: not its wait), talk 50,
    // wrap-up 10.
    l.enq(1060, "c6", "ads", false);
    l.answered(1081, "c6", "a", 21);
    l.talk(1100, "c6", "a", 19);
    l.push(1100, RecordKind::Requeued { call: call("c6") });
    l.answered(1150, "c6", "b", 90);
    l.talk(1200, "c6", "b", 50);
    l.wrap(1210, "c6", "b", 10);
    // c7: wait 20, talk 30, the agent's phone failed, re-queued, and the caller hung up while
    // waiting again: answered (not abandoned), no wrap-up.
    l.enq(1070, "c7", "ads", false);
    l.answered(1090, "c7", "b", 20);
    l.talk(1120, "c7", "b", 30);
    l.push(1120, RecordKind::Requeued { call: call("c7") });
    l.abandoned(1130, "c7", 60);
    // c8: overflowed to the robot after 300 s.
    l.enq(1100, "c8", "ads", false);
    l.push(
        1400,
        RecordKind::Overflowed {
            call: call("c8"),
            wait_ms: s(300),
            reason: OverflowReason::MaxWait,
        },
    );
    // c9: emergency, wait exactly 300 s (within ПП 416's 5 minutes), talk 20, wrap-up 10.
    l.enq(1110, "c9", "ads", true);
    l.answered(1410, "c9", "a", 300);
    l.talk(1430, "c9", "a", 20);
    l.wrap(1440, "c9", "a", 10);
    // c10: emergency, wait 301 s (over 5 minutes), talk 20, wrap-up 10.
    l.enq(1120, "c10", "ads", true);
    l.answered(1421, "c10", "b", 301);
    l.talk(1441, "c10", "b", 20);
    l.wrap(1451, "c10", "b", 10);
    // c11: still waiting at the end.
    l.enq(1900, "c11", "ads", false);
    // c12: queue «uk», wait 5, talk 10, no wrap-up.
    l.enq(1500, "c12", "uk", false);
    l.answered(1505, "c12", "a", 5);
    l.talk(1515, "c12", "a", 10);
    // c13: entered at 2000, the end of the period (exclusive): tomorrow's.
    l.enq(2000, "c13", "ads", false);
    // Agents (occupancy): a available from 900 (yesterday), on a call 1010–1070, wrap-up
    // 1070–1080, available, paused from 1500; b logs in at 1100, on a call 1200–1300, wrap-up
    // 1300–1310, available, logged out at 1800.
    l.state(900, "a", StateKind::Available);
    l.state(1010, "a", StateKind::OnCall);
    l.state(1070, "a", StateKind::WrapUp);
    l.state(1080, "a", StateKind::Available);
    l.state(1500, "a", StateKind::Paused);
    l.state(1100, "b", StateKind::Available);
    l.state(1200, "b", StateKind::OnCall);
    l.state(1300, "b", StateKind::WrapUp);
    l.state(1310, "b", StateKind::Available);
    l.state(1800, "b", StateKind::LoggedOut);
    let records = l.sorted();
    let params = KpiParams {
        service_level_s: 20,
        short_abandon_s: 5,
        since: s(1000),
        until: s(2000),
        queue: Some(q("ads")),
    };
    let k = compute(&records, &params);
    // By hand, queue «ads», today:
    //   offered 11 (c1…c11; not c0: yesterday; not c12: «uk»; not c13: tomorrow);
    //   answered 7: c1 (wait 10), c2 (20), c5 (30), c6 (21), c7 (20), c9 (300), c10 (301);
    //   abandoned 2: c3 (4 s, short), c4 (5 s, once); overflowed 1: c8; waiting 1: c11.
    //   counted = 11 − 1 short − 1 waiting = 9.
    assert_eq!(
        (
            k.offered,
            k.answered,
            k.abandoned,
            k.short_abandoned,
            k.overflowed,
            k.waiting
        ),
        (11, 7, 2, 1, 1, 1)
    );
    //   SL(20 s) = {c1, c2, c7} / 9 = 3/9.
    close(k.service_level, 3.0 / 9.0);
    //   ASA = (10 + 20 + 30 + 21 + 20 + 300 + 301) / 7 = 702 / 7 s (c6's second answer is not
    //   a wait).
    close(k.asa_s, 702.0 / 7.0);
    //   abandonment rate = (2 abandoned − 1 short) / 9 = 1/9.
    close(k.abandonment_rate, 1.0 / 9.0);
    //   AHT = (c1 60+10 + c2 100+10 + c5 40+10 + c6 19+50+10 + c7 30 + c9 20+10 + c10 20+10)
    //       / 7 = (70 + 110 + 50 + 79 + 30 + 30 + 30) / 7 = 399 / 7 = 57 s.
    close(k.aht_s, 57.0);
    //   ПП 416: answered within 300 s = {c1, c2, c5, c6, c7, c9} / 9 = 6/9; emergencies c5
    //   (30 s), c9 (300 s), c10 (301 s): 2/3.
    close(k.within_5_min, 6.0 / 9.0);
    close(k.emergency_within_5_min, 2.0 / 3.0);
    //   occupancy over [1000, 2000): a staffed 10 + 60 + 10 + 420 = 500 (available at 1000
    //   from the change at 900; paused from 1500), busy 60 + 10 = 70; b staffed 100 + 100 +
    //   10 + 490 = 700, busy 100 + 10 = 110. (70 + 110) / (500 + 700) = 180 / 1200 = 0.15.
    close(k.occupancy, 0.15);

    // Every queue: c12 too. offered 12, answered 8, counted 10; SL(20) = {c1, c2, c7, c12} /
    // 10; ASA = (702 + 5) / 8; AHT = (399 + 10) / 8.
    let all = compute(
        &records,
        &KpiParams {
            queue: None,
            ..params.clone()
        },
    );
    assert_eq!((all.offered, all.answered, all.abandoned), (12, 8, 2));
    close(all.service_level, 4.0 / 10.0);
    close(all.asa_s, 707.0 / 8.0);
    close(all.aht_s, 409.0 / 8.0);
    // The whole log: c0 (wait 15, never ended: answered, not handled) and c13 (waiting)
    // join; a's 100 s available before 1000 count as staffed: 180 / 1300.
    let whole = compute(
        &records,
        &KpiParams {
            since: 0,
            until: s(3000),
            ..params
        },
    );
    assert_eq!((whole.offered, whole.answered, whole.waiting), (13, 8, 2));
    close(whole.asa_s, (702.0 + 15.0) / 8.0);
    //   a: staffed 100 + 500, busy 70; b as before; occupancy to 3000 adds nothing (a paused,
    //   b logged out): 180 / 1300.
    close(whole.occupancy, 180.0 / 1300.0);
}

#[test]
fn a_call_requeued_after_a_phone_failure_counts_once_whether_answered_again_or_abandoned() {
    let mut d = Driver::with(
        vec![queue("q", Strategy::LongestIdle)],
        AcdSettings {
            reconnect_grace_s: 0,
        },
    );
    d.at(0, login("a", "ea"));
    d.at(s(10), arrive("c1", "q"));
    d.at(s(14), answer("c1", "a")); //  wait 4
    d.at(s(15), login("b", "eb"));
    d.at(s(16), arrive("c2", "q")); //  rings b
    d.at(s(17), answer("c2", "b")); //  wait 1: short-abandon threshold is irrelevant here
    d.at(s(20), lost("a", "ea")); //    a's phone fails: c1 re-queued (b busy)
    assert!(d.commands.contains(&Command::Requeue { call: call("c1") }));
    d.at(s(30), login("a", "ea2")); //  a back: c1 rings a again
    d.at(s(33), answer("c1", "a")); //  answered again, 23 s after arrival
    d.at(s(40), ended("c1"));
    d.at(s(50), lost("b", "eb")); //    b's phone fails: c2 re-queued, nobody free (a in wrap-up)
    assert!(d.commands.contains(&Command::Requeue { call: call("c2") }));
    d.at(s(52), hangup("c2")); //       the caller gives up while waiting again
    let abandons = d
        .records
        .iter()
        .filter(|r| matches!(r.kind, RecordKind::Abandoned { .. }))
        .count();
    let k = compute(
        &d.records,
        &KpiParams {
            service_level_s: 20,
            short_abandon_s: 5,
            since: 0,
            until: s(60),
            queue: None,
        },
    );
    // By hand: 2 offered, both answered (c1 after 4 s, c2 after 1 s), none abandoned even if
    // the log has an abandon record of c2 after its re-queue; ASA = (4 + 1) / 2 = 2.5 s.
    assert_eq!(
        abandons, 1,
        "the log has the abandon of c2 after its re-queue"
    );
    assert_eq!(
        (k.offered, k.answered, k.abandoned, k.overflowed, k.waiting),
        (2, 2, 0, 0, 0)
    );
    close(k.asa_s, 2.5);
    close(k.service_level, 1.0);
    close(k.abandonment_rate, 0.0);
}
