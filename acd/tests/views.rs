//! The monitor's views of the machine and a dialplan reload.
#![allow(clippy::unwrap_used)]

use zvonar_acd::*;

fn login(acd: &mut Acd, now: Millis, agent: &str) {
    acd.handle(
        now,
        Input::AgentLogin {
            agent: agent.into(),
            endpoint: format!("ep-{agent}").as_str().into(),
            skills: vec![],
        },
    )
    .unwrap();
}

fn arrive(acd: &mut Acd, now: Millis, call: &str, emergency: bool) {
    acd.handle(
        now,
        Input::CallArrived {
            call: call.into(),
            queue: "q".into(),
            emergency,
            topic: None,
        },
    )
    .unwrap();
}

#[test]
fn calls_are_listed_in_queue_order_with_positions_and_agents() {
    let mut acd = Acd::new(vec![QueueConfig::new("q")], AcdSettings::default());
    login(&mut acd, 1_000, "anna");
    arrive(&mut acd, 2_000, "c1", false); // offered to anna at once
    arrive(&mut acd, 3_000, "c2", false);
    arrive(&mut acd, 4_000, "c3", true); // ahead of c2
    let calls = acd.calls();
    let ids: Vec<&str> = calls.iter().map(|c| c.call.0.as_str()).collect();
    assert_eq!(ids, ["c3", "c1", "c2"]);
    assert_eq!(calls[0].position, Some(1));
    assert_eq!(calls[1].ringing, vec![AgentId::from("anna")]);
    assert_eq!(calls[2].position, Some(3));
    assert_eq!(calls[2].arrived, 3_000);
    acd.handle(
        5_000,
        Input::OfferAnswered {
            call: "c1".into(),
            agent: "anna".into(),
        },
    )
    .unwrap();
    let c1 = acd.calls().into_iter().find(|c| c.call.0 == "c1").unwrap();
    assert_eq!((c1.position, c1.agent), (None, Some(AgentId::from("anna"))));
    let agents = acd.agents();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].1.state, StateKind::OnCall);
}

#[test]
fn a_reload_changes_settings_and_keeps_agents() {
    let mut acd = Acd::new(vec![QueueConfig::new("q")], AcdSettings::default());
    login(&mut acd, 1_000, "anna");
    let mut q = QueueConfig::new("q");
    q.max_wait_s = 60;
    acd.set_queues(vec![q, QueueConfig::new("r")]);
    assert!(acd.has_queue(&"r".into()));
    assert_eq!(
        acd.agent(&"anna".into()).unwrap().state,
        StateKind::Available
    );
    acd.handle(
        2_000,
        Input::AgentPause {
            agent: "anna".into(),
            reason: "обед".into(),
        },
    )
    .unwrap();
    arrive(&mut acd, 3_000, "c1", false);
    // The new max wait applies: overflow 60 s after arrival (the next announcement would
    // come then too: every 60 s by default).
    assert_eq!(acd.poll_timeout(), Some(63_000));
    acd.handle_timeout(63_000);
    let mut overflowed = false;
    while let Some(c) = acd.poll_command() {
        overflowed |= matches!(
            c,
            Command::Overflow {
                reason: OverflowReason::MaxWait,
                ..
            }
        );
    }
    assert!(overflowed);
}

#[test]
fn an_agent_view_says_since_when_the_agent_is_in_the_state() {
    let mut acd = Acd::new(vec![QueueConfig::new("q")], AcdSettings::default());
    login(&mut acd, 1_000, "anna");
    assert_eq!(acd.agent(&"anna".into()).unwrap().since, 1_000);
    arrive(&mut acd, 2_000, "c1", false); // rings anna
    let v = acd.agent(&"anna".into()).unwrap();
    assert_eq!((v.state, v.since), (StateKind::Ringing, 2_000));
    let pause = |acd: &mut Acd, at, reason: &str| {
        acd.handle(
            at,
            Input::AgentPause {
                agent: "anna".into(),
                reason: reason.into(),
            },
        )
        .unwrap();
    };
    pause(&mut acd, 3_000, "обед");
    let v = acd.agent(&"anna".into()).unwrap();
    assert_eq!((v.state, v.since), (StateKind::Paused, 3_000));
    // Another reason: still the same pause, the time in state goes on.
    pause(&mut acd, 4_000, "обучение");
    let v = acd.agent(&"anna".into()).unwrap();
    assert_eq!(
        (v.state, v.pause_reason.as_deref(), v.since),
        (StateKind::Paused, Some("обучение"), 3_000)
    );
    // It survives a restart (serde), and a state stored without it reads as 0.
    let restored: Acd = serde_json::from_str(&serde_json::to_string(&acd).unwrap()).unwrap();
    assert_eq!(restored.agent(&"anna".into()).unwrap().since, 3_000);
    let mut old = serde_json::to_value(&acd).unwrap();
    old["agents"]["anna"]
        .as_object_mut()
        .unwrap()
        .remove("state_since");
    let old: Acd = serde_json::from_value(old).unwrap();
    assert_eq!(old.agent(&"anna".into()).unwrap().since, 0);
}
