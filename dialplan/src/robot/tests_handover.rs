//! Robot → operator: the call goes to the operator queue with what the robot knows, and comes
//! back for a callback request when the queue overflows.

use super::tests::*;
use super::*;
use zvonar_models::HandoverReason;

fn with_queue() -> DispatcherSettings {
    DispatcherSettings {
        operator_flow: Some("operators".into()),
        ..settings()
    }
}

fn handover(out: &[RobotOutput]) -> Option<Handover> {
    out.iter().find_map(|o| match o {
        RobotOutput::HandOver(h) => Some((**h).clone()),
        _ => None,
    })
}

#[test]
fn operator_by_voice_hands_over_with_the_context() {
    let mut call = Call::new(&with_queue(), known_ctx());
    call.send(RobotInput::Start);
    call.say("да");
    let out = call.say_with("Соедините с оператором", 0.8);
    assert!(
        said(&out).contains("Соединяю с оператором"),
        "{}",
        said(&out)
    );
    assert!(!out
        .iter()
        .any(|o| matches!(o, RobotOutput::RequestCallback(_))));
    let h = handover(&out).expect("handed over");
    assert_eq!(h.flow, "operators");
    assert_eq!(h.reason, HandoverReason::Asked);
    assert!(!h.emergency);
    let c = &h.context;
    assert_eq!(c.caller, Some(caller()));
    assert_eq!(c.account_id, Some(AccountId(500)));
    assert!(
        c.address.as_deref().is_some_and(|a| a.contains("Ленина")),
        "{c:?}"
    );
    let heard: Vec<(&str, f32)> = c
        .heard
        .iter()
        .map(|h| (h.text.as_str(), h.confidence))
        .collect();
    assert_eq!(heard, [("да", 0.9), ("Соедините с оператором", 0.8)]);
    // The address confirmed is a draft ticket without a problem yet.
    assert!(c.draft.as_ref().is_some_and(|d| d.building_id.is_some()));
    assert_eq!(call.robot.state(), State::AwaitingOperator);
    assert!(!hangup(&out));
    // An operator answers: the robot is done, no BYE from it.
    let out = call.send(RobotInput::OperatorAnswered);
    assert_eq!(outcomes(&out), ["handed_over"]);
    assert!(!hangup(&out));
    assert!(call.robot.is_finished());
}

#[test]
fn key_zero_hands_over_and_an_overflow_comes_back_for_a_callback() {
    let mut call = Call::new(&with_queue(), unknown_ctx());
    call.send(RobotInput::Start);
    let out = call.keys("0");
    let h = handover(&out).expect("handed over");
    assert!(h.context.heard.is_empty());
    assert_eq!(h.context.draft, None);
    // Keys and speech while waiting in the queue mean nothing to the robot.
    assert!(call
        .key('5')
        .iter()
        .all(|o| matches!(o, RobotOutput::Event(_))));
    let out = call.send(RobotInput::OperatorUnavailable);
    assert!(said(&out).contains("операторов нет"));
    assert!(out
        .iter()
        .any(|o| matches!(o, RobotOutput::RequestCallback(_))));
    let out = call.send(RobotInput::CallbackRecorded);
    assert_eq!(outcomes(&out), ["callback_requested"]);
    assert!(hangup(&out));
}

#[test]
fn a_second_failure_to_understand_hands_over_with_the_problem_as_heard() {
    let mut call = Call::new(&with_queue(), known_ctx());
    call.send(RobotInput::Start);
    call.say("да");
    // The problem cannot be classified twice: no menu for it, so the robot hands over.
    let mut out = Vec::new();
    for _ in 0..3 {
        out = call.say("э-э");
        if handover(&out).is_some() {
            break;
        }
    }
    let h = handover(&out).expect("handed over after failing");
    assert_eq!(h.reason, HandoverReason::NotUnderstood);
    assert!(!said(&out).contains("не смогла принять"));
}

#[test]
fn an_emergency_goes_to_the_operator_after_its_ticket_when_the_dialplan_says_so() {
    let s = DispatcherSettings {
        emergency_to_operator: true,
        ..with_queue()
    };
    let mut call = Call::new(&s, known_ctx());
    call.send(RobotInput::Start);
    call.say("да");
    call.say("нет");
    let out = call.say("У меня течёт потолок!");
    assert_eq!(tickets(&out).len(), 1);
    let out = call.send(RobotInput::TicketCreated {
        number: "1234".into(),
    });
    let h = handover(&out).expect("emergency handed over");
    assert_eq!(h.reason, HandoverReason::Emergency);
    assert!(h.emergency);
    assert_eq!(h.topic.as_deref(), Some("leak"));
    assert_eq!(h.context.ticket_number.as_deref(), Some("1234"));
    assert!(said(&out).contains("Номер заявки"));
    // The caller hangs up in the queue: the ticket was filed, nothing more.
    let out = call.send(RobotInput::CallerHangup);
    assert_eq!(outcomes(&out), ["ticket_created"]);
    assert!(tickets(&out).is_empty());
}

#[test]
fn without_an_operator_flow_emergencies_and_failures_stay_with_the_robot() {
    let s = DispatcherSettings {
        emergency_to_operator: true,
        ..settings()
    };
    let mut call = Call::new(&s, known_ctx());
    call.send(RobotInput::Start);
    call.say("да");
    call.say("нет");
    call.say("У меня течёт потолок!");
    let out = call.send(RobotInput::TicketCreated {
        number: "1234".into(),
    });
    assert!(handover(&out).is_none());
    assert!(hangup(&out));
}

#[test]
fn a_second_request_for_a_person_after_an_overflow_is_a_callback() {
    let mut call = Call::new(&with_queue(), unknown_ctx());
    call.send(RobotInput::Start);
    assert!(handover(&call.keys("0")).is_some());
    call.send(RobotInput::OperatorUnavailable);
    // The robot is now waiting for the callback to be recorded: no second handover.
    assert_eq!(call.robot.state(), State::AwaitingCallbackRecorded);
}

#[test]
fn a_call_that_overflowed_from_a_routed_queue_starts_with_the_callback() {
    let mut call = Call::new(&settings(), known_ctx());
    let out = call.send(RobotInput::OperatorUnavailable);
    assert!(
        said(&out).starts_with("Сейчас свободных операторов нет"),
        "{}",
        said(&out)
    );
    let req = out
        .iter()
        .find_map(|o| match o {
            RobotOutput::RequestCallback(r) => Some(r.clone()),
            _ => None,
        })
        .expect("callback requested");
    assert_eq!(req.caller, Some(caller()));
    let out = call.send(RobotInput::CallbackRecorded);
    assert_eq!(outcomes(&out), ["callback_requested"]);
    assert!(hangup(&out));
}
