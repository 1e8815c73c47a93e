//! The apartment as a number slot, driven as the engine drives the robot (the [`Call`]
//! harness answers `LoadApartments` from its registry as the driver does): read-back on low
//! confidence and for values not in the registry, the nearest plausible value, keys, and
//! sentences with numbers that are not an answer.

use super::tests::{listens, no_events, said, settings, tickets, unknown_ctx, Call};
use super::*;

/// Apartments 1–60 and 179 and 199 of building 1 (улица Ленина, дом 5).
fn registry() -> Vec<String> {
    (1..=60)
        .map(|n| n.to_string())
        .chain(["179".to_string(), "199".to_string(), "12а".to_string()])
        .collect()
}

/// An unknown caller who named building 1 by voice and is asked for the apartment.
fn at_apartment(s: &DispatcherSettings) -> Call {
    at_apartment_of(s, registry())
}

/// As [`at_apartment`], with building 1's apartments `list`.
fn at_apartment_of(s: &DispatcherSettings, list: Vec<String>) -> Call {
    let mut call = Call::new(s, unknown_ctx());
    call.registry.insert(BuildingId(1), list);
    call.send(RobotInput::Start);
    let out = call.say("улица Ленина, дом пять");
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

/// `SlotFilled` events: (slot, value, source, confidence, confirmed).
fn slots(outs: &[RobotOutput]) -> Vec<(String, String, String, Option<f32>, bool)> {
    outs.iter()
        .filter_map(|o| match o {
            RobotOutput::Event(CallEventKind::SlotFilled {
                slot,
                value,
                source,
                confidence,
                confirmed,
            }) => Some((
                slot.clone(),
                value.clone(),
                source.clone(),
                *confidence,
                *confirmed,
            )),
            _ => None,
        })
        .collect()
}

fn found(call: &mut Call, id: i64) -> Vec<RobotOutput> {
    call.send(RobotInput::PremisesFound(Some(FoundPremises {
        premises_id: PremisesId(id),
        account_id: None,
    })))
}

const READ_BACK_179: &str =
    "Квартира сто семьдесят девять, верно? Скажите да или нет, или нажмите 1 или 2.";

#[test]
fn low_confidence_is_read_back_and_yes_takes_it() {
    let mut call = at_apartment(&settings());
    let out = call.say_with("Сто семьдесят девять.", 0.4);
    assert_eq!(said(&out), READ_BACK_179);
    assert!(lookups(&out).is_empty());
    assert!(slots(&out).is_empty(), "nothing filled before the answer");
    assert_eq!(call.robot.state(), State::AwaitingApartmentConfirmation);
    assert_eq!(listens(&out), 1);
    let out = call.say_with("Да.", 0.8);
    assert_eq!(lookups(&out), ["179"]);
    assert_eq!(
        slots(&out),
        [(
            "apartment".into(),
            "179".into(),
            "voice".into(),
            Some(0.4),
            true
        )]
    );
    found(&mut call, 179);
    let out = call.say("течёт кран на кухне");
    assert_eq!(tickets(&out)[0].apartment.as_deref(), Some("179"));
}

#[test]
fn high_confidence_in_the_registry_is_taken_without_read_back() {
    let mut call = at_apartment(&settings());
    let out = call.say_with("сорок пять", 0.9);
    assert_eq!(lookups(&out), ["45"]);
    assert!(!said(&out).contains("верно"), "{}", said(&out));
    assert_eq!(
        slots(&out),
        [(
            "apartment".into(),
            "45".into(),
            "voice".into(),
            Some(0.9),
            false
        )]
    );
}

#[test]
fn the_read_back_threshold_is_a_setting() {
    let mut s = settings();
    s.confirm_below = 0.3;
    let mut call = at_apartment(&s);
    assert_eq!(lookups(&call.say_with("сорок пять", 0.35)), ["45"]);
    let mut call = at_apartment(&s);
    let out = call.say_with("сорок пять", 0.25);
    assert!(said(&out).starts_with("Квартира сорок пять, верно?"));
}

#[test]
fn no_asks_again_and_the_right_value_is_taken() {
    let mut call = at_apartment(&settings());
    // «сорок пять» heard as 40, unsure.
    let out = call.say_with("40", 0.3);
    assert!(
        said(&out).starts_with("Квартира сорок, верно?"),
        "{}",
        said(&out)
    );
    let out = call.say("Нет.");
    assert!(lookups(&out).is_empty());
    assert!(slots(&out).is_empty());
    // Asked again, voice or keys.
    assert!(
        said(&out).contains("Назовите номер квартиры или наберите его"),
        "{}",
        said(&out)
    );
    assert_eq!(call.robot.state(), State::AwaitingApartment);
    let out = call.say_with("Сорок пять.", 0.9);
    assert_eq!(lookups(&out), ["45"]);
    assert_eq!(
        slots(&out),
        [(
            "apartment".into(),
            "45".into(),
            "voice".into(),
            Some(0.9),
            false
        )]
    );
    found(&mut call, 45);
    let out = call.say("нет света");
    assert_eq!(tickets(&out)[0].apartment.as_deref(), Some("45"));
}

#[test]
fn no_twice_falls_back_to_the_keypad_and_keys_are_not_read_back() {
    let mut call = at_apartment(&settings());
    call.say_with("сорок", 0.3);
    call.say("нет");
    call.say_with("сорок", 0.3);
    let out = call.key('2'); // 2 — нет
    assert!(
        said(&out).contains("Наберите номер квартиры на телефоне"),
        "{}",
        said(&out)
    );
    let out = call.keys("45#");
    assert_eq!(lookups(&out), ["45"]);
    assert!(!said(&out).contains("верно"));
    assert_eq!(
        slots(&out),
        [("apartment".into(), "45".into(), "keys".into(), None, false)]
    );
}

#[test]
fn a_third_no_goes_on_without_the_apartment() {
    let mut call = at_apartment(&settings());
    call.say_with("сорок", 0.3);
    call.say("нет");
    call.say_with("сорок", 0.3);
    call.say("нет");
    // Keys not in the registry are read back.
    let out = call.keys("77#");
    assert!(
        said(&out).contains("Квартиры номер семьдесят семь нет в списке этого дома.")
            && said(&out).contains("Квартира семьдесят семь, верно?"),
        "{}",
        said(&out)
    );
    let out = call.say("нет");
    assert!(said(&out).contains("Опишите"), "{}", said(&out));
    let out = call.say("течёт кран");
    let t = &tickets(&out)[0];
    assert_eq!(
        (t.apartment.as_deref(), t.building_id),
        (None, Some(BuildingId(1)))
    );
}

#[test]
fn keys_not_in_the_registry_are_read_back_and_1_takes_them() {
    let mut call = at_apartment(&settings());
    let out = call.keys("777#");
    assert!(lookups(&out).is_empty());
    assert!(said(&out).contains("Квартира семьсот семьдесят семь, верно?"));
    let out = call.key('1');
    assert_eq!(lookups(&out), ["777"]);
    assert_eq!(
        slots(&out),
        [("apartment".into(), "777".into(), "keys".into(), None, true)]
    );
}

#[test]
fn keys_in_the_registry_are_taken_at_once() {
    let mut call = at_apartment(&settings());
    let out = call.keys("179#");
    assert_eq!(lookups(&out), ["179"]);
    assert!(!said(&out).contains("верно"));
}

#[test]
fn not_in_the_registry_proposes_the_nearest_plausible_value() {
    // «сто семьдесят девять» heard as 170, sure of it: there is no 170 in the building.
    let mut call = at_apartment(&settings());
    let out = call.say_with("Сто семьдесят.", 0.95);
    assert_eq!(
        said(&out),
        format!("Квартиры номер сто семьдесят нет в списке этого дома.|{READ_BACK_179}")
    );
    let out = call.say("да");
    assert_eq!(lookups(&out), ["179"]);
    assert_eq!(
        slots(&out),
        [(
            "apartment".into(),
            "179".into(),
            "voice".into(),
            Some(0.95),
            true
        )]
    );
    // «сто девяносто девять» heard as 100 (two words dropped): 199 is proposed; «нет» asks
    // again.
    let list = (1..=60).chain([199]).map(|n| n.to_string()).collect();
    let mut call = at_apartment_of(&settings(), list);
    let out = call.say_with("100", 0.95);
    assert!(
        said(&out).ends_with(
            "Квартира сто девяносто девять, верно? Скажите да или нет, или нажмите 1 или 2."
        ),
        "{}",
        said(&out)
    );
    let out = call.say("нет");
    assert_eq!(call.robot.state(), State::AwaitingApartment);
    assert!(lookups(&out).is_empty());
    // Nothing plausible: what was heard is read back.
    let mut call = at_apartment(&settings());
    let out = call.say_with("восемьсот", 0.95);
    assert!(
        said(&out).ends_with("Квартира восемьсот, верно? Скажите да или нет, или нажмите 1 или 2.")
    );
}

#[test]
fn a_number_instead_of_yes_or_no_corrects_the_answer() {
    let mut call = at_apartment(&settings());
    call.say_with("40", 0.3);
    // The caller repeats it right: a new answer, sure and in the registry.
    let out = call.say_with("нет, сорок пять", 0.9);
    assert_eq!(lookups(&out), ["45"]);
    // The same number again is a yes.
    let mut call = at_apartment(&settings());
    call.say_with("сорок пять", 0.3);
    let out = call.say_with("сорок пять", 0.5);
    assert_eq!(lookups(&out), ["45"]);
    assert!(slots(&out)[0].4, "confirmed");
}

#[test]
fn a_sentence_with_numbers_is_not_an_apartment() {
    // Issue 6: «семь» heard as «Сим», then the caller's next sentence was taken as apartment
    // 45. Now the sound-alike is read back, whatever the confidence…
    let mut call = at_apartment(&settings());
    let out = call.say_with("Сим", 0.9);
    assert!(
        said(&out).contains("Квартира семь, верно?"),
        "{}",
        said(&out)
    );
    // …and a sentence with numbers among other words answers neither the read-back…
    let out = call.say_with("…в 45 минут 3 доллара 5 центов", 0.9);
    assert!(lookups(&out).is_empty(), "{out:?}");
    assert!(slots(&out).is_empty());
    assert!(said(&out).contains("не поняла"), "{}", said(&out));
    assert_eq!(call.robot.state(), State::AwaitingApartmentConfirmation);
    assert_eq!(lookups(&call.key('1')), ["7"]);

    // …nor the apartment question.
    let mut call = at_apartment(&settings());
    let out = call.say_with("…в 45 минут 3 доллара 5 центов", 0.9);
    assert!(lookups(&out).is_empty(), "{out:?}");
    assert!(said(&out).contains("не поняла"), "{}", said(&out));
    let out = call.say_with("6 часов 45 минут, 3 доллара 5 центов", 0.9);
    assert!(lookups(&out).is_empty(), "{out:?}");
    // Two failures: the keypad is offered.
    assert!(
        said(&out).contains("Наберите номер квартиры на телефоне"),
        "{}",
        said(&out)
    );
    assert_eq!(call.robot.state(), State::AwaitingApartment);
    assert_eq!(lookups(&call.keys("45#")), ["45"]);
}

#[test]
fn the_building_is_a_slot_and_an_apartment_with_it_is_checked() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.registry.insert(BuildingId(1), registry());
    call.send(RobotInput::Start);
    let out = call.say_with("Ленина пять, квартира сто семьдесят", 0.9);
    assert_eq!(
        slots(&out)[0],
        (
            "building".into(),
            "улица Ленина, дом 5".into(),
            "voice".into(),
            Some(0.9),
            false
        )
    );
    assert!(said(&out).contains("Квартира сто семьдесят девять, верно?"));
    assert!(lookups(&out).is_empty());
    let out = call.key('1');
    assert_eq!(lookups(&out), ["179"]);
}

#[test]
fn without_a_registry_list_only_confidence_decides() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    call.key('1');
    let out = call.say_with("восемьсот", 0.9);
    assert_eq!(no_events(&out).len(), 1, "{out:?}");
    assert_eq!(lookups(&out), ["800"]);
}

#[test]
fn a_building_without_premises_in_the_registry_is_not_checked() {
    let mut call = at_apartment_of(&settings(), Vec::new());
    let out = call.say_with("восемьсот", 0.9);
    assert_eq!(lookups(&out), ["800"]);
    assert!(!said(&out).contains("нет в списке"), "{}", said(&out));
}

#[test]
fn the_confirmed_address_and_the_topic_are_slots_too() {
    let mut call = Call::new(&settings(), super::tests::known_ctx());
    call.send(RobotInput::Start);
    let out = call.say_with("Да", 0.7);
    assert_eq!(
        slots(&out),
        [(
            "address".into(),
            "улица Ленина, дом 5, квартира 12".into(),
            "voice".into(),
            Some(0.7),
            true
        )]
    );
    let out = call.say_with("течёт кран", 0.8);
    assert_eq!(
        slots(&out),
        [(
            "topic".into(),
            "leak".into(),
            "voice".into(),
            Some(0.8),
            false
        )]
    );
}
