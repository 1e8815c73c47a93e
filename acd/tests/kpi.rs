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
