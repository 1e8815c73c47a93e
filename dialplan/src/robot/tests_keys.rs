//! Keypad answers driven as the engine drives them: one key per input, timers on the fake
//! clock of the driver harness ([`Call`]).

use super::tests::{listens, said, settings, tickets, unknown_ctx, Call, KEY_GAP_MS};
use super::*;

/// An unknown caller who picked building 1 by key and is asked for the apartment.
fn at_apartment() -> Call {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    let out = call.keys("1");
    assert!(said(&out).contains("номер квартиры"), "{}", said(&out));
    assert_eq!(call.robot.state(), State::AwaitingApartment);
    call
}

fn lookups(outs: &[RobotOutput]) -> Vec<String> {
    outs.iter()
        .filter_map(|o| match o {
            RobotOutput::LookupPremises { apartment, .. } => Some(apartment.clone()),
            _ => None,
        })
        .collect()
}

fn timers(outs: &[RobotOutput]) -> (usize, usize) {
    let start = outs
        .iter()
        .filter(|o| matches!(o, RobotOutput::StartDigitTimer { ms: 3000 }))
        .count();
    let cancel = outs
        .iter()
        .filter(|o| matches!(o, RobotOutput::CancelDigitTimer))
        .count();
    (start, cancel)
}

#[test]
fn three_digit_apartment_typed_key_by_key_ends_with_hash() {
    let mut call = at_apartment();
    let mut all = Vec::new();
    for k in ['1', '0', '4'] {
        let out = call.keys(&k.to_string());
        assert!(lookups(&out).is_empty(), "looked up after {k}: {out:?}");
        all.extend(out);
    }
    let out = call.keys("#");
    assert_eq!(lookups(&out), ["104"]);
    all.extend(out);
    // One timer per digit, cancelled once by `#`.
    assert_eq!(timers(&all), (3, 1));
    let out = call.send(RobotInput::PremisesFound(Some(FoundPremises {
        premises_id: PremisesId(104),
        account_id: None,
    })));
    assert!(out.iter().any(|o| matches!(o,
        RobotOutput::Event(CallEventKind::Identified { how, .. }) if how == "keypad")));
    let out = call.say("в ванной засор");
    assert_eq!(tickets(&out)[0].apartment.as_deref(), Some("104"));
    // A late timer changes nothing.
    assert!(call.send(RobotInput::DigitTimeout).is_empty());
}

#[test]
fn a_pause_after_the_digits_ends_the_entry() {
    let mut call = at_apartment();
    assert!(lookups(&call.keys("12")).is_empty());
    // 3000 ms after the last key; the no-input timer (6000 ms) was stopped by the first key.
    assert!(call.wait(2999).is_empty());
    let out = call.wait(1);
    assert_eq!(lookups(&out), ["12"]);
    assert!(!out
        .iter()
        .any(|o| matches!(o, RobotOutput::CancelDigitTimer)));
}

#[test]
fn the_inter_digit_time_is_a_setting() {
    let mut s = settings();
    s.inter_digit_ms = 5000;
    let mut call = Call::new(&s, unknown_ctx());
    call.send(RobotInput::Start);
    call.keys("1");
    let out = call.keys("7");
    assert!(out
        .iter()
        .any(|o| matches!(o, RobotOutput::StartDigitTimer { ms: 5000 })));
    assert!(call.wait(4999).is_empty());
    assert_eq!(lookups(&call.wait(1)), ["7"]);
}

#[test]
fn each_key_restarts_the_pause() {
    let mut call = at_apartment();
    // Keys 2.5 s apart: slower than KEY_GAP_MS, still within the 3 s pause.
    call.keys("2");
    for k in ["3", "5"] {
        assert!(call.wait(2500 - KEY_GAP_MS).is_empty());
        assert!(lookups(&call.keys(k)).is_empty());
    }
    assert_eq!(lookups(&call.wait(3000)), ["235"]);
}

#[test]
fn star_clears_the_digits_and_asks_again() {
    let mut call = at_apartment();
    let out = call.keys("19*");
    assert!(lookups(&out).is_empty());
    assert!(said(&out).contains("номер квартиры"), "{}", said(&out));
    assert!(!said(&out).contains("не поняла"));
    assert_eq!(listens(&out), 1);
    let (start, cancel) = timers(&out);
    assert_eq!((start, cancel), (2, 1));
    // The cleared digits do not come back with the timer.
    assert!(call.wait(3000).is_empty());
    assert_eq!(lookups(&call.keys("12#")), ["12"]);
}

#[test]
fn the_fourth_digit_ends_the_entry_without_hash() {
    let mut call = at_apartment();
    assert_eq!(call.robot.max_keys, APARTMENT_DIGITS);
    let out = call.keys("1234");
    assert_eq!(lookups(&out), ["1234"]);
    // The fourth digit cancels the timer the third started.
    assert_eq!(timers(&out), (3, 1));
    // A `#` typed after it belongs to no question.
    assert!(call.keys("#").is_empty());
}

#[test]
fn one_key_questions_react_at_once() {
    let mut call = Call::new(&settings(), super::tests::known_ctx());
    call.send(RobotInput::Start);
    let out = call.key('1');
    assert!(said(&out).contains("Опишите"), "{}", said(&out));
    assert_eq!(timers(&out), (0, 0));
    // The topic menu is one key too: 2 — электричество.
    call.say("...");
    call.say("...");
    let out = call.key('2');
    assert_eq!(tickets(&out)[0].topic, "electricity");
}

#[test]
fn zero_first_asks_for_a_person_and_zero_inside_is_a_digit() {
    let mut call = at_apartment();
    assert_eq!(lookups(&call.keys("10#")), ["10"]);

    let mut call = at_apartment();
    let out = call.keys("0");
    assert!(out
        .iter()
        .any(|o| matches!(o, RobotOutput::RequestCallback(_))));
}

#[test]
fn hash_alone_is_not_understood() {
    let mut call = at_apartment();
    let out = call.keys("#");
    assert!(said(&out).contains("не поняла"), "{}", said(&out));
    assert_eq!(call.robot.state(), State::AwaitingApartment);
}

#[test]
fn speech_replaces_keys_typed_before_it() {
    let mut call = at_apartment();
    call.keys("9");
    // An utterance recognised after the key (speech began before it).
    let out = call.send(RobotInput::Utterance {
        text: "квартира двенадцать".into(),
        confidence: 0.9,
    });
    assert!(out
        .iter()
        .any(|o| matches!(o, RobotOutput::CancelDigitTimer)));
    assert_eq!(lookups(&out), ["12"]);
    assert!(call.wait(3000).is_empty());
}

#[test]
fn silence_after_typing_is_not_no_input() {
    let mut call = at_apartment();
    call.keys("5");
    // The no-input timer (6000 ms) never fires: the first key answered the Listen.
    let out = call.wait(10_000);
    assert_eq!(lookups(&out), ["5"]);
    assert!(!said(&out).contains("не слышно"));
}
