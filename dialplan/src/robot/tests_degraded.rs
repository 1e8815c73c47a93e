//! The robot when speech cannot be recognised (the recogniser's queue is full or it failed):
//! it says so and goes on with keypad menus, driven by the harness of [`super::tests`].

use super::tests::{said, settings, tickets, unknown_ctx, Call};
use super::*;

const FALLBACK: &str = "отвечайте кнопками телефона";

#[test]
fn an_overloaded_recogniser_sends_the_caller_to_the_keypad_menus() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    assert_eq!(call.robot.state(), State::AwaitingBuilding);
    // The caller named the street; the recogniser could not take the utterance.
    let out = call.send(RobotInput::RecognitionUnavailable);
    let text = said(&out);
    assert!(text.contains(FALLBACK), "{text}");
    // The same question again, as a keypad menu.
    assert!(
        text.contains(
            "Нажмите 1 — улица Ленина, дом 5; 2 — улица Ленина, дом 7; 3 — Садовая улица, дом 12а."
        ),
        "{text}"
    );
    assert_eq!(call.robot.state(), State::AwaitingBuilding);
    assert!(matches!(out.last(), Some(RobotOutput::Listen { .. })));
    // Every later question is a menu too.
    let out = call.keys("1");
    let text = said(&out);
    assert!(
        text.contains("Наберите номер квартиры на телефоне и нажмите решётку."),
        "{text}"
    );
    let out = call.keys("12#");
    assert!(
        matches!(out.last(), Some(RobotOutput::LookupPremises { apartment, .. }) if apartment == "12")
    );
    let out = call.send(RobotInput::PremisesFound(Some(FoundPremises {
        premises_id: zvonar_models::PremisesId(12),
        account_id: None,
    })));
    let text = said(&out);
    assert!(
        text.contains("Выберите тему заявки. Нажмите 1 — "),
        "{text}"
    );
    let out = call.keys("1");
    let t = tickets(&out);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].topic, "leak");
    assert_eq!(t[0].apartment.as_deref(), Some("12"));
}

#[test]
fn the_fallback_is_said_once_then_it_counts_as_not_understood() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    let first = said(&call.send(RobotInput::RecognitionUnavailable));
    assert!(first.contains(FALLBACK), "{first}");
    // Again (the caller spoke instead of pressing a key, the queue is still full): «не
    // поняла» and the menu, not the fallback speech again.
    let again = said(&call.send(RobotInput::RecognitionUnavailable));
    assert!(!again.contains(FALLBACK), "{again}");
    assert!(again.contains("Извините, я не поняла."), "{again}");
    assert!(again.contains("Нажмите 1 — улица Ленина"), "{again}");
    // Then the usual course of a question not understood: the menu once more (after
    // `max_retries` re-asks), then the robot goes on without an address.
    let third = said(&call.send(RobotInput::RecognitionUnavailable));
    assert!(third.contains("Нажмите 1 — улица Ленина"), "{third}");
    let out = call.send(RobotInput::RecognitionUnavailable);
    let text = said(&out);
    assert!(
        text.contains("Не удалось определить адрес, диспетчер уточнит его."),
        "{text}"
    );
    assert_eq!(call.robot.state(), State::AwaitingProblem);
    // Still a menu: the topics by key.
    assert!(text.contains("Выберите тему заявки"), "{text}");
}

#[test]
fn speech_that_cannot_be_recognised_outside_a_question_changes_nothing() {
    let mut call = Call::new(&settings(), unknown_ctx());
    // Before the call starts and while a ticket is being filed, nothing is asked.
    assert!(call.send(RobotInput::RecognitionUnavailable).is_empty());
    call.send(RobotInput::Start);
    call.keys("1");
    call.keys("5#");
    call.send(RobotInput::PremisesFound(None));
    let out = call.say("Течёт кран");
    assert_eq!(tickets(&out).len(), 1);
    assert_eq!(call.robot.state(), State::AwaitingTicket);
    assert!(call.send(RobotInput::RecognitionUnavailable).is_empty());
    assert_eq!(call.robot.state(), State::AwaitingTicket);
}
