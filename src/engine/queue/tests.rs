//! The queue runtime in memory: a fake clock (ms passed with every input), fake lines, the
//! callers' channels; no sockets, no sleeps.

use super::lines::{FakeLines, LineCall, LineEvent};
use super::*;
use tokio::sync::mpsc::UnboundedReceiver;
use zvonar_acd::{AcdSettings, Strategy};

fn queue() -> QueueConfig {
    QueueConfig {
        strategy: Strategy::LongestIdle,
        max_wait_s: 180,
        wrap_up_s: 30,
        ring_timeout_s: 20,
        announce_every_s: 45,
        overflow: "dispatcher".into(),
        ..QueueConfig::new("operators")
    }
}

fn core(lines: &FakeLines) -> QueueCore {
    let acd = Acd::new(vec![queue()], AcdSettings::default());
    QueueCore::new(acd, vec![queue()], Box::new(lines.clone()), 0)
}

fn info(call: &str, emergency: bool) -> QueueCallInfo {
    QueueCallInfo {
        call_id: call.into(),
        queue: "operators".into(),
        emergency,
        topic: None,
        reason: HandoverReason::Asked,
        context: HandoverContext {
            apartment: Some("12".into()),
            ..HandoverContext::default()
        },
        entered_at: chrono::Utc::now(),
    }
}

fn join(core: &mut QueueCore, now: Millis, call: &str) -> UnboundedReceiver<CallerCommand> {
    let (tx, rx) = mpsc::unbounded_channel();
    core.enqueue(now, info(call, false), tx, None)
        .expect("queued");
    rx
}

fn drain(rx: &mut UnboundedReceiver<CallerCommand>) -> Vec<CallerCommand> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn login(core: &mut QueueCore, now: Millis, agent: &str) -> AgentSnapshot {
    core.agent(
        now,
        &AgentId::from(agent),
        AgentOp::Login {
            endpoint: EndpointId(format!("sip/{agent}/sip:{agent}@phone")),
            skills: vec![],
        },
    )
    .expect("login")
}

#[test]
fn nobody_logged_in_overflows_at_once_to_the_robot() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    let mut rx = join(&mut core, 1_000, "c1");
    assert_eq!(
        drain(&mut rx),
        [CallerCommand::Overflow {
            flow: "dispatcher".into(),
            reason: OverflowReason::Unstaffed
        }]
    );
    assert!(lines.take().is_empty());
    assert!(core.state(1_000).calls.is_empty());
    // The queue log has the call offered and overflowed, for the KPIs.
    let kinds: Vec<String> = core
        .take_records()
        .iter()
        .map(|r| {
            format!("{:?}", r.kind)
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["Enqueued", "Overflowed"]);
}

#[test]
fn an_agent_rings_answers_talks_and_wraps_up() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    login(&mut core, 0, "anna");
    let mut rx = join(&mut core, 1_000, "c1");
    let anna = AgentId::from("anna");
    let c1 = CallId::from("c1");
    assert_eq!(
        lines.take(),
        [LineCall::Offer(
            c1.clone(),
            anna.clone(),
            EndpointId("sip/anna/sip:anna@phone".into())
        )]
    );
    // Ringing: no announcement over the ring (the machine holds it back).
    assert!(drain(&mut rx).is_empty());
    let st = core.state(3_000);
    assert_eq!(st.calls[0].ringing, ["anna"]);
    assert_eq!(st.calls[0].waiting_s, 2);
    core.line(
        5_000,
        LineEvent::Answered {
            call: c1.clone(),
            agent: anna.clone(),
        },
    );
    assert_eq!(lines.take(), [LineCall::Bridge(c1.clone(), anna.clone())]);
    assert_eq!(
        drain(&mut rx),
        [CallerCommand::Connected {
            agent: anna.clone()
        }]
    );
    assert_eq!(
        core.agent(5_000, &anna, AgentOp::Status).unwrap().state,
        zvonar_acd::StateKind::OnCall
    );
    // The caller hangs up: the agent's leg is hung up, wrap-up for 30 s.
    core.caller_gone(65_000, &c1);
    assert_eq!(lines.take(), [LineCall::HangUp(c1.clone(), anna.clone())]);
    assert_eq!(
        core.agent(65_000, &anna, AgentOp::Status).unwrap().state,
        zvonar_acd::StateKind::WrapUp
    );
    assert_eq!(core.poll_timeout(), Some(95_000));
    core.timeout(95_000);
    assert_eq!(
        core.agent(95_000, &anna, AgentOp::Status).unwrap().state,
        zvonar_acd::StateKind::Available
    );
}

#[test]
fn a_paused_agent_keeps_the_queue_staffed_announcements_then_overflow_at_max_wait() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    login(&mut core, 0, "anna");
    let anna = AgentId::from("anna");
    core.agent(0, &anna, AgentOp::Pause("обед".into())).unwrap();
    let mut first = join(&mut core, 1_000, "c1");
    let mut second = join(&mut core, 2_000, "c2");
    // Announced on arrival, then every 45 s; never a ring.
    let mut now = 2_000;
    let mut heard_second = drain(&mut second);
    while let Some(t) = core.poll_timeout().filter(|t| *t <= 300_000) {
        now = t;
        core.timeout(now);
        heard_second.extend(drain(&mut second));
        if heard_second
            .iter()
            .any(|c| matches!(c, CallerCommand::Overflow { .. }))
        {
            break;
        }
    }
    assert!(lines.take().is_empty(), "a paused agent is never rung");
    let positions: Vec<u32> = heard_second
        .iter()
        .filter_map(|c| match c {
            CallerCommand::Announce {
                position,
                expected_wait_s,
            } => {
                assert_eq!(
                    *expected_wait_s, None,
                    "nobody working: no wait is promised"
                );
                Some(*position)
            }
            _ => None,
        })
        .collect();
    // 2 s, 47, 92, 137 s; the first caller overflows at 181 s, the second at 182 s (its
    // maximum wait comes before its next announcement).
    assert_eq!(positions, [2, 2, 2, 2]);
    assert_eq!(
        heard_second.last(),
        Some(&CallerCommand::Overflow {
            flow: "dispatcher".into(),
            reason: OverflowReason::MaxWait
        })
    );
    assert_eq!(now, 182_000, "max wait from the second call's arrival");
    assert!(drain(&mut first).iter().any(|c| matches!(
        c,
        CallerCommand::Overflow {
            reason: OverflowReason::MaxWait,
            ..
        }
    )));
    // The pause reason survived all this.
    let a = core.agent(now, &anna, AgentOp::Status).unwrap();
    assert_eq!(a.pause_reason.as_deref(), Some("обед"));
}

#[test]
fn an_agent_who_cannot_be_reached_is_not_rung_again_for_that_call() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    login(&mut core, 0, "anna");
    let mut rx = join(&mut core, 1_000, "c1");
    let (c1, anna) = (CallId::from("c1"), AgentId::from("anna"));
    assert_eq!(lines.take().len(), 1);
    core.line(
        1_100,
        LineEvent::Failed {
            call: c1.clone(),
            agent: anna.clone(),
        },
    );
    assert!(lines.take().is_empty(), "not offered the same call again");
    // The caller keeps waiting and hears the queue.
    core.timeout(46_000);
    assert!(drain(&mut rx).iter().any(|c| matches!(
        c,
        CallerCommand::Announce {
            position: 1,
            expected_wait_s: Some(_)
        }
    )));
    // A second call is offered to her.
    let _rx2 = join(&mut core, 50_000, "c2");
    assert!(
        matches!(lines.take().as_slice(), [LineCall::Offer(c, a, _)] if c.0 == "c2" && a == &anna)
    );
}

#[test]
fn the_agent_hangs_up_and_the_caller_is_told() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    login(&mut core, 0, "anna");
    let mut rx = join(&mut core, 1_000, "c1");
    let (c1, anna) = (CallId::from("c1"), AgentId::from("anna"));
    core.line(
        2_000,
        LineEvent::Answered {
            call: c1.clone(),
            agent: anna.clone(),
        },
    );
    drain(&mut rx);
    core.line(
        60_000,
        LineEvent::HungUp {
            call: c1.clone(),
            agent: anna.clone(),
        },
    );
    assert_eq!(drain(&mut rx), [CallerCommand::AgentHungUp]);
    assert_eq!(
        core.agent(60_000, &anna, AgentOp::Status).unwrap().state,
        zvonar_acd::StateKind::WrapUp
    );
    // The caller's own hang-up that follows changes nothing more.
    lines.take();
    core.caller_gone(60_100, &c1);
    assert!(lines.take().is_empty());
}

#[test]
fn the_caller_hangs_up_while_ringing_and_the_agent_stops_ringing() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    login(&mut core, 0, "anna");
    let _rx = join(&mut core, 1_000, "c1");
    lines.take();
    core.caller_gone(3_000, &CallId::from("c1"));
    assert_eq!(
        lines.take(),
        [LineCall::StopRinging(
            CallId::from("c1"),
            AgentId::from("anna")
        )]
    );
    let a = core
        .agent(3_000, &AgentId::from("anna"), AgentOp::Status)
        .unwrap();
    assert_eq!(a.state, zvonar_acd::StateKind::Available);
}

#[test]
fn states_and_pause_reasons_survive_a_restart_and_lost_calls_are_ended() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    login(&mut core, 0, "anna");
    login(&mut core, 0, "boris");
    core.agent(0, &AgentId::from("anna"), AgentOp::Pause("обучение".into()))
        .unwrap();
    let _rx = join(&mut core, 1_000, "c1"); // rings boris
    let saved = serde_json::to_string(core.acd()).unwrap();
    // The process restarts.
    let restored: Acd = serde_json::from_str(&saved).unwrap();
    let lines2 = FakeLines::default();
    let mut core2 = QueueCore::new(restored, vec![queue()], Box::new(lines2.clone()), 10_000);
    let anna = core2
        .agent(10_000, &AgentId::from("anna"), AgentOp::Status)
        .unwrap();
    assert_eq!(anna.state, zvonar_acd::StateKind::Paused);
    assert_eq!(anna.pause_reason.as_deref(), Some("обучение"));
    // The call that was ringing did not survive: boris stopped ringing and is free.
    assert!(core2.state(10_000).calls.is_empty());
    assert_eq!(
        lines2.take(),
        [LineCall::StopRinging(
            CallId::from("c1"),
            AgentId::from("boris")
        )]
    );
    let boris = core2
        .agent(10_000, &AgentId::from("boris"), AgentOp::Status)
        .unwrap();
    assert_eq!(boris.state, zvonar_acd::StateKind::Available);
}

#[test]
fn agent_errors_change_nothing() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    let ghost = AgentId::from("ghost");
    assert!(core
        .agent(0, &ghost, AgentOp::Pause("обед".into()))
        .is_err());
    // Logging out someone who never logged in is not an error and creates nobody.
    let a = core.agent(0, &ghost, AgentOp::Logout).unwrap();
    assert_eq!(a.state, zvonar_acd::StateKind::LoggedOut);
    assert!(core.state(0).agents.is_empty());
    login(&mut core, 0, "anna");
    assert!(core
        .agent(0, &AgentId::from("anna"), AgentOp::Pause(" ".into()))
        .is_err());
    let st = core.state(0);
    assert_eq!(st.agents.len(), 1);
    assert_eq!(st.agents[0].state, zvonar_acd::StateKind::Available);
    // An unknown queue is refused.
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut i = info("c9", false);
    i.queue = "nope".into();
    assert!(core.enqueue(0, i, tx, None).is_err());
    assert!(core.call("c9").is_none());
}

#[test]
fn the_context_is_kept_while_the_call_is_in_the_runtime() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    login(&mut core, 0, "anna");
    let _rx = join(&mut core, 1_000, "c1");
    let c = core.call("c1").expect("call");
    assert_eq!(c.context.apartment.as_deref(), Some("12"));
    assert_eq!(
        core.state(1_000).calls[0].reason,
        Some(HandoverReason::Asked)
    );
}

#[test]
fn a_phone_registering_anew_replaces_the_endpoint_and_keeps_skills() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    let anna = AgentId::from("anna");
    core.agent(
        0,
        &anna,
        AgentOp::Login {
            endpoint: EndpointId("sip/101/sip:101@a".into()),
            skills: vec!["leak".into()],
        },
    )
    .unwrap();
    core.agent(0, &anna, AgentOp::Pause("обед".into())).unwrap();
    let a = core
        .agent(
            5_000,
            &anna,
            AgentOp::Reregister {
                endpoint: EndpointId("sip/101/sip:101@b".into()),
            },
        )
        .unwrap();
    assert_eq!(a.endpoint.as_deref(), Some("sip/101/sip:101@b"));
    assert_eq!(a.pause_reason.as_deref(), Some("обед"));
    assert_eq!(
        lines.take(),
        [LineCall::DropEndpoint(
            anna.clone(),
            EndpointId("sip/101/sip:101@a".into())
        )]
    );
    // The endpoint lapses: disconnected, then logged out after the grace.
    core.endpoint_lost(6_000, &anna, &EndpointId("sip/101/sip:101@b".into()));
    assert_eq!(
        core.agent(6_000, &anna, AgentOp::Status).unwrap().state,
        zvonar_acd::StateKind::Disconnected
    );
    // A re-registration of a logged-out agent does not log them in.
    core.timeout(40_000);
    let a = core
        .agent(
            40_000,
            &anna,
            AgentOp::Reregister {
                endpoint: EndpointId("sip/101/sip:101@c".into()),
            },
        )
        .unwrap();
    assert_eq!(a.state, zvonar_acd::StateKind::LoggedOut);
}

#[test]
fn an_agent_whose_phone_vanishes_mid_call_is_hung_up_and_the_caller_waits_again() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    login(&mut core, 0, "anna");
    let mut rx = join(&mut core, 1_000, "c1");
    let (c1, anna) = (CallId::from("c1"), AgentId::from("anna"));
    core.line(
        2_000,
        LineEvent::Answered {
            call: c1.clone(),
            agent: anna.clone(),
        },
    );
    lines.take();
    drain(&mut rx);
    core.endpoint_lost(30_000, &anna, &EndpointId("sip/anna/sip:anna@phone".into()));
    assert_eq!(lines.take(), [LineCall::HangUp(c1.clone(), anna.clone())]);
    assert!(drain(&mut rx).contains(&CallerCommand::Requeued));
    let st = core.state(30_000);
    assert_eq!(st.calls[0].position, Some(1));
    assert_eq!(
        st.calls[0].waiting_s, 29,
        "the wait counts from the first arrival"
    );
    // The old leg's late BYE changes nothing.
    core.line(
        30_100,
        LineEvent::HungUp {
            call: c1.clone(),
            agent: anna.clone(),
        },
    );
    assert!(!drain(&mut rx).contains(&CallerCommand::AgentHungUp));
}

#[test]
fn an_agent_transfers_the_call_it_talks_to_and_goes_to_wrap_up() {
    use crate::engine::transfer::{ProgressTx, TransferTarget};
    let lines = FakeLines::default();
    let mut core = core(&lines);
    login(&mut core, 0, "anna");
    login(&mut core, 0, "boris");
    let mut rx = join(&mut core, 1_000, "c1");
    let (c1, anna, boris) = (
        CallId::from("c1"),
        AgentId::from("anna"),
        AgentId::from("boris"),
    );
    // longest_idle: anna (first in login order among equals) or boris rings; answer it.
    let rung = match lines.take().as_slice() {
        [LineCall::Offer(_, a, _)] => a.clone(),
        other => panic!("{other:?}"),
    };
    core.line(
        2_000,
        LineEvent::Answered {
            call: c1.clone(),
            agent: rung.clone(),
        },
    );
    lines.take();
    drain(&mut rx);
    let other = if rung == anna {
        boris.clone()
    } else {
        anna.clone()
    };
    let (ptx, _prx) = mpsc::unbounded_channel();
    let progress = ProgressTx(ptx);
    // Only the agent talking to the call may transfer it; nothing changes otherwise.
    assert_eq!(
        core.transfer(
            3_000,
            &c1,
            &other,
            TransferTarget::Queue("operators".into()),
            progress.clone()
        ),
        Err(AcdError::NotConnected(c1.clone()))
    );
    assert_eq!(
        core.state(3_000).calls[0].agent.as_deref(),
        Some(rung.0.as_str())
    );
    core.take_records();
    core.transfer(
        4_000,
        &c1,
        &rung,
        TransferTarget::Account("102".into()),
        progress.clone(),
    )
    .expect("transfer");
    // The caller's task is told where to; the agent's leg is left to report the outcome.
    assert_eq!(
        drain(&mut rx),
        [CallerCommand::Transfer {
            agent: rung.clone(),
            target: TransferTarget::Account("102".into()),
            progress: progress.clone(),
        }]
    );
    assert!(
        !lines
            .take()
            .iter()
            .any(|c| matches!(c, LineCall::HangUp(..))),
        "the transferring agent's leg is not hung up by the queue"
    );
    let st = core.state(4_000);
    assert!(st.calls.is_empty(), "the call left the queues: {st:?}");
    let a = st.agents.iter().find(|a| a.login == rung.0).expect("agent");
    assert_eq!(a.state, zvonar_acd::StateKind::WrapUp);
    // The queue log says who transferred it where, then the end of the agent's talk.
    let kinds: Vec<RecordKindName> = core.take_records().iter().map(RecordKindName::of).collect();
    assert_eq!(
        kinds[..2],
        [
            RecordKindName("Transferred".into(), Some("account:102".into())),
            RecordKindName("TalkEnded".into(), None)
        ]
    );
    // A second transfer of the same call is refused: it is not in the queues any more.
    assert!(core
        .transfer(
            5_000,
            &c1,
            &rung,
            TransferTarget::Queue("operators".into()),
            progress
        )
        .is_err());
    // The agent's old leg hanging up later changes nothing.
    core.line(
        5_100,
        LineEvent::HungUp {
            call: c1.clone(),
            agent: rung.clone(),
        },
    );
    assert!(drain(&mut rx).is_empty());
}

/// A record's kind name and, for `Transferred`, its target.
#[derive(Debug, PartialEq)]
struct RecordKindName(String, Option<String>);

impl RecordKindName {
    fn of(r: &Record) -> Self {
        let name = format!("{:?}", r.kind)
            .split([' ', '{', '('])
            .next()
            .unwrap_or("")
            .to_string();
        let target = match &r.kind {
            zvonar_acd::RecordKind::Transferred { target, .. } => Some(target.clone()),
            _ => None,
        };
        RecordKindName(name, target)
    }
}

#[test]
fn an_agents_own_call_keeps_the_caller_waiting_until_it_and_its_wrap_up_end() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    login(&mut core, 0, "anna");
    let anna = AgentId::from("anna");
    let status = |core: &mut QueueCore, now| core.agent(now, &anna, AgentOp::Status).unwrap();
    // anna dials out from her phone (the call task reports it as it is placed).
    core.own_call_started(1_000, anna.clone(), CallId::from("out-1"));
    let st = status(&mut core, 1_000);
    assert_eq!(
        (st.state, st.call.as_deref()),
        (zvonar_acd::StateKind::OnCall, Some("out-1"))
    );
    // A caller arrives meanwhile: it waits, her phone is not rung.
    let mut rx = join(&mut core, 2_000, "c1");
    assert!(lines.take().is_empty());
    assert!(matches!(
        drain(&mut rx).as_slice(),
        [CallerCommand::Announce { position: 1, .. }]
    ));
    // The end of an unknown call changes nothing; the end of hers starts 30 s of wrap-up.
    core.own_call_ended(10_000, &CallId::from("other"));
    assert_eq!(
        status(&mut core, 10_000).state,
        zvonar_acd::StateKind::OnCall
    );
    core.own_call_ended(40_000, &CallId::from("out-1"));
    assert_eq!(
        status(&mut core, 40_000).state,
        zvonar_acd::StateKind::WrapUp
    );
    // Timers up to the end of the wrap-up (an announcement at 47 s) ring nobody.
    while let Some(t) = core.poll_timeout().filter(|t| *t < 70_000) {
        core.timeout(t);
    }
    assert!(lines.take().is_empty());
    assert_eq!(core.poll_timeout(), Some(70_000));
    core.timeout(70_000);
    assert_eq!(
        lines.take(),
        [LineCall::Offer(
            CallId::from("c1"),
            anna.clone(),
            EndpointId("sip/anna/sip:anna@phone".into())
        )]
    );
    // The monitor's state pushes show on_call then wrap_up; no queue-call lines for it.
    let kinds: Vec<String> = core
        .take_records()
        .iter()
        .map(|r| format!("{:?}", r.kind))
        .filter(|k| k.contains("out-1") || k.contains("OnCall"))
        .collect();
    assert!(
        kinds
            .iter()
            .all(|k| k.starts_with("AgentState") || k.starts_with("WrapUpEnded")),
        "{kinds:?}"
    );
}

#[test]
fn an_own_call_going_on_at_a_restart_ends_with_it() {
    let lines = FakeLines::default();
    let mut core = core(&lines);
    login(&mut core, 0, "anna");
    core.own_call_started(1_000, AgentId::from("anna"), CallId::from("out-1"));
    // zvonar stops during the call; the stored machine is loaded again.
    let stored = serde_json::to_string(core.acd()).unwrap();
    let acd: Acd = serde_json::from_str(&stored).unwrap();
    let mut core = QueueCore::new(acd, vec![queue()], Box::new(lines.clone()), 50_000);
    let st = core
        .agent(50_000, &AgentId::from("anna"), AgentOp::Status)
        .unwrap();
    assert_eq!(st.state, zvonar_acd::StateKind::WrapUp);
    core.timeout(80_000);
    let st = core
        .agent(80_000, &AgentId::from("anna"), AgentOp::Status)
        .unwrap();
    assert_eq!(st.state, zvonar_acd::StateKind::Available);
}
