//! Unhappy paths: silence, noise, misunderstandings, operator requests, hangups.

use super::tests::{
    caller, hangup, known_ctx, listens, outcomes, said, settings, tickets, unknown_ctx, Call,
};
use super::*;

/// Drives a known caller to the problem question.
fn at_problem(ctx: CallContext) -> Call {
    at_problem_with(&settings(), ctx)
}

fn at_problem_with(s: &DispatcherSettings, ctx: CallContext) -> Call {
    let mut call = Call::new(s, ctx);
    call.send(RobotInput::Start);
    call.keys("1");
    assert_eq!(call.robot.state(), State::AwaitingProblem);
    call
}

#[test]
fn silence_reprompts_once_then_ends_without_a_ticket() {
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    assert!(call.wait(5999).is_empty());
    let out = call.wait(1);
    let text = said(&out);
    assert!(
        text.starts_with("Вас не слышно.|Вы звоните по адресу"),
        "{text}"
    );
    assert_eq!(listens(&out), 1);
    assert_eq!(call.robot.max_keys, 1);
    call.auto_playback = false;
    let out = call.silence();
    assert!(said(&out).contains("перезвоните"));
    assert!(tickets(&out).is_empty());
    assert!(!hangup(&out));
    assert_eq!(call.robot.state(), State::Closing);
    let out = call.send(RobotInput::PlaybackDone);
    assert_eq!(outcomes(&out), ["silence"]);
    assert!(hangup(&out));
    // Nothing after the end.
    assert!(call.send(RobotInput::NoInput).is_empty());
    assert!(call.send(RobotInput::CallerHangup).is_empty());
}

#[test]
fn silence_after_the_address_files_an_unfinished_request() {
    let mut call = at_problem(known_ctx());
    call.silence();
    let out = call.silence();
    let t = tickets(&out);
    assert_eq!(t.len(), 1);
    assert!(t[0].unfinished);
    assert_eq!(t[0].building_id, Some(BuildingId(1)));
    assert_eq!(t[0].topic, "other");
    assert_eq!(t[0].description, "");
    assert_eq!(outcomes(&out), ["unfinished"]);
    assert!(hangup(&out));
    // A late TicketCreated for the unfinished request changes nothing.
    assert!(call
        .send(RobotInput::TicketCreated { number: "1".into() })
        .is_empty());
}

#[test]
fn noise_never_files_a_ticket_and_leads_to_the_keypad_menu() {
    let mut call = at_problem(known_ctx());
    let out = call.say("...");
    assert!(tickets(&out).is_empty());
    assert!(
        said(&out).starts_with("Извините, я не поняла.|Опишите"),
        "{}",
        said(&out)
    );
    let out = call.say_with("течёт кран", 0.1);
    assert!(tickets(&out).is_empty(), "low confidence is not understood");
    let text = said(&out);
    assert!(
        text.contains("Нажмите 1 — протечка и сантехника, 2 — электричество"),
        "{text}"
    );
    assert!(text.contains("8 — другое"), "{text}");
    let out = call.keys("2");
    let t = &tickets(&out)[0];
    assert_eq!(
        (t.topic.as_str(), t.emergency, t.unfinished),
        ("electricity", false, false)
    );
    assert_eq!(t.description, "Выбрано в меню: электричество");
}

#[test]
fn whisper_hallucinations_and_fillers_are_not_problems() {
    let mut s = settings();
    s.max_retries = 5;
    let mut call = at_problem_with(&s, known_ctx());
    for text in [
        "Продолжение следует...",
        "Алло? Алло.",
        "",
        "  ",
        "Субтитры сделал DimaTorzok",
    ] {
        let out = call.say(text);
        assert!(tickets(&out).is_empty(), "{text}");
        assert_eq!(call.robot.state(), State::AwaitingProblem, "{text}");
    }
}

#[test]
fn problem_not_understood_three_times_ends() {
    // With an address: unfinished request.
    let mut call = at_problem(known_ctx());
    call.say("...");
    call.say("...");
    let out = call.say("...");
    let t = tickets(&out);
    assert_eq!(t.len(), 1);
    assert!(t[0].unfinished);
    assert_eq!(outcomes(&out), ["unfinished"]);
    assert!(said(&out).contains("не смогла принять заявку"));

    // Without anything collected: no ticket at all.
    let ctx = CallContext {
        caller: Some(caller()),
        known: None,
        buildings: vec![],
    };
    let mut call = Call::new(&settings(), ctx);
    call.send(RobotInput::Start);
    call.keys("9");
    call.keys("#");
    let out = call.keys("9");
    assert!(tickets(&out).is_empty());
    assert_eq!(outcomes(&out), ["not_understood"]);
    assert!(hangup(&out));
}

#[test]
fn yes_no_not_understood_twice_offers_the_keypad() {
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    let out = call.say("Здравствуйте, э-э");
    assert!(said(&out).contains("Вы звоните по адресу"));
    let out = call.say("ну как сказать");
    assert!(said(&out)
        .contains("Если вы звоните по адресу улица Ленина, дом 5, квартира 12, нажмите 1."));
    let out = call.keys("1");
    assert!(said(&out).contains("Опишите"));
}

#[test]
fn unconfirmed_address_goes_on_without_it() {
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    call.say("хм");
    call.say("хм");
    let out = call.say("хм");
    assert!(said(&out).contains("Не удалось определить адрес"));
    assert_eq!(call.robot.state(), State::AwaitingProblem);
    let out = call.say("засор в раковине");
    let t = &tickets(&out)[0];
    assert_eq!(
        (t.building_id, t.premises_id, t.account_id),
        (None, None, None)
    );
}

#[test]
fn building_not_understood_twice_offers_the_building_menu() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    call.say("Пушкина пять");
    let out = call.say("Ленина");
    let text = said(&out);
    assert!(
        text.contains(
            "Нажмите 1 — улица Ленина, дом 5; 2 — улица Ленина, дом 7; 3 — Садовая улица, дом 12а."
        ),
        "{text}"
    );
    let out = call.say("два");
    assert!(said(&out).contains("номер квартиры"));
    let out = call.say("не помню");
    assert!(said(&out).contains("не поняла"));
    call.say("не помню");
    // Third failure: go on with the building alone (it has outages).
    let out = call.say("не знаю");
    assert!(said(&out).contains("горячей воды"));
    call.keys("2");
    call.keys("2");
    let out = call.say("Трещина на фасаде");
    let t = &tickets(&out)[0];
    assert_eq!(
        (t.building_id, t.apartment.as_deref()),
        (Some(BuildingId(2)), None)
    );
}

#[test]
fn max_retries_zero_goes_straight_to_the_menu() {
    let mut s = settings();
    s.max_retries = 0;
    let mut call = Call::new(&s, unknown_ctx());
    call.send(RobotInput::Start);
    let out = call.say("не знаю");
    assert!(said(&out).contains("Нажмите 1 — улица Ленина"));
    let out = call.silence();
    assert!(said(&out).contains("перезвоните"));
    assert_eq!(outcomes(&out), ["silence"]);
}

#[test]
fn operator_by_voice_requests_a_callback() {
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    call.say("да");
    let out = call.say("Соедините с человеком, пожалуйста");
    assert!(said(&out).contains("операторов нет"));
    let req = out
        .iter()
        .find_map(|o| match o {
            RobotOutput::RequestCallback(r) => Some(r.clone()),
            _ => None,
        })
        .expect("callback requested");
    assert_eq!(req.caller, Some(caller()));
    assert_eq!(req.account_id, Some(AccountId(500)));
    assert_eq!(req.heard, "да / Соедините с человеком, пожалуйста");
    assert_eq!(call.robot.state(), State::AwaitingCallbackRecorded);
    assert!(tickets(&out).is_empty());
    let out = call.send(RobotInput::CallbackRecorded);
    assert!(said(&out).contains("Мы перезвоним вам в течение двух часов."));
    assert_eq!(outcomes(&out), ["callback_requested"]);
    assert!(hangup(&out));
}

#[test]
fn operator_by_key_zero_at_any_question() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    call.keys("1");
    let out = call.keys("0#");
    assert!(
        matches!(out.iter().find(|o| matches!(o, RobotOutput::RequestCallback(_))),
        Some(RobotOutput::RequestCallback(r)) if r.heard.is_empty())
    );
    // Hangup before the callback is confirmed: it was requested all the same.
    let out = call.send(RobotInput::CallerHangup);
    assert_eq!(outcomes(&out), ["callback_requested"]);
    assert!(!hangup(&out));
}

#[test]
fn hangup_after_a_problem_was_heard_files_it_unfinished() {
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    call.say("У меня течёт потолок!");
    let out = call.send(RobotInput::CallerHangup);
    let t = tickets(&out);
    assert_eq!(t.len(), 1);
    assert!(t[0].unfinished);
    assert_eq!((t[0].topic.as_str(), t[0].emergency), ("leak", true));
    assert_eq!(t[0].description, "У меня течёт потолок!");
    assert_eq!(outcomes(&out), ["unfinished"]);
    assert!(!out
        .iter()
        .any(|o| matches!(o, RobotOutput::Hangup | RobotOutput::Say { .. })));
    assert!(call.robot.is_finished());
}

#[test]
fn problem_said_with_no_to_the_outage_is_kept() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    call.say("Ленина 7 квартира 1");
    call.send(RobotInput::PremisesFound(None));
    call.say("Нет, у меня искрит розетка");
    let out = call.send(RobotInput::CallerHangup);
    let t = &tickets(&out)[0];
    assert!(t.unfinished && t.emergency);
    assert_eq!(t.building_id, Some(BuildingId(2)));
}

#[test]
fn hangup_with_nothing_heard_and_while_waiting_for_a_ticket() {
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    let out = call.send(RobotInput::CallerHangup);
    assert_eq!(outcomes(&out), ["caller_hangup"]);
    assert!(tickets(&out).is_empty());

    let mut call = at_problem(known_ctx());
    call.say("Не горит свет в подъезде");
    let out = call.send(RobotInput::CallerHangup);
    assert!(tickets(&out).is_empty(), "the ticket was already requested");
    assert_eq!(outcomes(&out), ["ticket_created"]);
}

#[test]
fn hangup_while_closing_keeps_the_outcome() {
    let mut call = at_problem(known_ctx());
    call.say("засор");
    call.auto_playback = false;
    call.send(RobotInput::TicketCreated { number: "9".into() });
    let out = call.send(RobotInput::CallerHangup);
    assert_eq!(outcomes(&out), ["ticket_created"]);
    assert!(call.send(RobotInput::PlaybackDone).is_empty());
}

#[test]
fn inputs_out_of_turn_are_ignored() {
    let mut call = Call::new(&settings(), known_ctx());
    // Before Start (fed to the robot directly: the driver would not even pass them on).
    assert!(call
        .send(RobotInput::Utterance {
            text: "да".into(),
            confidence: 0.9
        })
        .is_empty());
    assert!(call.send(RobotInput::Key('1')).is_empty());
    assert!(call.send(RobotInput::DigitTimeout).is_empty());
    assert!(call.send(RobotInput::NoInput).is_empty());
    call.send(RobotInput::Start);
    assert!(call.send(RobotInput::Start).is_empty());
    assert!(call
        .send(RobotInput::TicketCreated { number: "1".into() })
        .is_empty());
    assert!(call.send(RobotInput::PremisesFound(None)).is_empty());
    assert!(call.send(RobotInput::CallbackRecorded).is_empty());
    assert_eq!(call.robot.state(), State::AwaitingAddressConfirmation);
}

#[test]
fn every_path_emits_exactly_one_outcome() {
    type Script = &'static [&'static str];
    let scripts: &[Script] = &[
        &["k1", "sтечёт кран", "t12"],
        &["n", "n"],
        &["k1", "n", "n"],
        &["k0", "c"],
        &["sнет", "k3", "s5", "f", "sнет света", "t3"],
        &["k1", "h"],
        &["h"],
    ];
    for script in scripts {
        let mut call = Call::new(&settings(), known_ctx());
        let mut all = call.send(RobotInput::Start);
        for step in script.iter() {
            let (cmd, arg) = step.split_at(1);
            let input = match cmd {
                "k" => RobotInput::Key(arg.chars().next().unwrap_or('#')),
                "s" => RobotInput::Utterance {
                    text: arg.into(),
                    confidence: 0.9,
                },
                "t" => RobotInput::TicketCreated { number: arg.into() },
                "n" => RobotInput::NoInput,
                "c" => RobotInput::CallbackRecorded,
                "f" => RobotInput::PremisesFound(None),
                _ => RobotInput::CallerHangup,
            };
            all.extend(call.send(input));
        }
        assert_eq!(outcomes(&all).len(), 1, "{script:?}");
        assert!(call.robot.is_finished(), "{script:?}");
    }
}

#[test]
fn a_ticket_that_could_not_be_stored_is_not_read_out_as_filed() {
    let mut call = at_problem(known_ctx());
    let out = call.say("Батареи холодные, не топят");
    assert_eq!(tickets(&out).len(), 1);
    let out = call.send(RobotInput::TicketNotFiled);
    let text = said(&out);
    assert!(
        text.contains("не получается зарегистрировать заявку"),
        "{text}"
    );
    assert!(
        !text.contains("принята") && !text.contains("Номер"),
        "{text}"
    );
    assert_eq!(outcomes(&out), ["ticket_not_filed"]);
    assert!(hangup(&out));
    assert_eq!(call.robot.outcome(), Some(Outcome::TicketNotFiled));
}

#[test]
fn shutdown_files_what_was_heard_and_ends_without_a_word() {
    // The drain time after SIGTERM ran out while the caller was talking to the robot.
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    call.say("У меня течёт потолок!");
    let out = call.send(RobotInput::Shutdown);
    let t = tickets(&out);
    assert_eq!(t.len(), 1);
    assert!(t[0].unfinished);
    assert_eq!(t[0].description, "У меня течёт потолок!");
    assert_eq!(outcomes(&out), ["unfinished"]);
    assert!(!out
        .iter()
        .any(|o| matches!(o, RobotOutput::Hangup | RobotOutput::Say { .. })));
    assert!(call.robot.is_finished());

    // Nothing collected yet: no ticket, and the outcome says why the call ended.
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    let out = call.send(RobotInput::Shutdown);
    assert!(tickets(&out).is_empty());
    assert_eq!(outcomes(&out), ["shutdown"]);
}
