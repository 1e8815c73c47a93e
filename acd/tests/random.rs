//! Property test: random event sequences (seeded, reproducible) fed one at a time, with the
//! engine's view of what rings rebuilt from the commands alone. After every step:
//!
//! - no agent rings for a call that is gone, answered or not waiting, and what the engine thinks
//!   rings is exactly what the machine thinks rings (every Offer ends in one StopRinging or
//!   Bridge);
//! - no call is offered to, or bridged with, a second agent once one answered (until a Requeue);
//! - offers go only to the agent's current endpoint (never to a lost or replaced one);
//! - announced positions of a call never grow;
//! - a call is abandoned or overflowed at most once, never both;
//! - nothing is offered to an agent while a call the agent placed is up.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use zvonar_acd::*;

/// xorshift64*: small, seeded, good enough to pick events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        (!v.is_empty()).then(|| &v[self.below(v.len())])
    }
}

const AGENTS: [&str; 4] = ["a", "b", "c", "d"];

#[derive(Default)]
struct EngineView {
    /// (call, agent) → endpoint rung.
    ringing: BTreeMap<(CallId, AgentId), EndpointId>,
    /// call → agent bridged.
    bridged: BTreeMap<CallId, AgentId>,
    /// agent → current endpoint, from the inputs.
    endpoints: BTreeMap<AgentId, EndpointId>,
    last_position: BTreeMap<CallId, u32>,
    abandoned: BTreeSet<CallId>,
    overflowed: BTreeSet<CallId>,
    /// agent → own calls up (started while the machine knew the agent, not ended).
    own: BTreeMap<AgentId, BTreeSet<CallId>>,
}

fn check_commands(view: &mut EngineView, cmds: &[Command], ctx: &str) {
    for c in cmds {
        match c {
            Command::Offer {
                call,
                agent,
                endpoint,
            } => {
                assert_eq!(
                    view.endpoints.get(agent),
                    Some(endpoint),
                    "{ctx}: offer to a stale endpoint: {c:?}"
                );
                assert!(
                    !view.bridged.contains_key(call),
                    "{ctx}: offer of a bridged call: {c:?}"
                );
                assert!(
                    view.own.get(agent).is_none_or(BTreeSet::is_empty),
                    "{ctx}: offer to an agent on an own call: {c:?}"
                );
                let prev = view
                    .ringing
                    .insert((call.clone(), agent.clone()), endpoint.clone());
                assert!(prev.is_none(), "{ctx}: offered twice: {c:?}");
            }
            Command::StopRinging {
                call,
                agent,
                endpoint,
                ..
            } => {
                let prev = view.ringing.remove(&(call.clone(), agent.clone()));
                assert_eq!(
                    prev.as_ref(),
                    Some(endpoint),
                    "{ctx}: stop of no ring: {c:?}"
                );
            }
            Command::Bridge {
                call,
                agent,
                endpoint,
            } => {
                let prev = view.ringing.remove(&(call.clone(), agent.clone()));
                assert_eq!(
                    prev.as_ref(),
                    Some(endpoint),
                    "{ctx}: bridge without ring: {c:?}"
                );
                assert!(
                    !view.ringing.keys().any(|(k, _)| k == call),
                    "{ctx}: others still ring after the bridge of {call}"
                );
                let prev = view.bridged.insert(call.clone(), agent.clone());
                assert!(prev.is_none(), "{ctx}: bridged twice: {c:?}");
            }
            Command::Requeue { call } => {
                assert!(view.bridged.remove(call).is_some(), "{ctx}: {c:?}");
            }
            Command::Announce { call, position, .. } => {
                if let Some(last) = view.last_position.insert(call.clone(), *position) {
                    assert!(*position <= last, "{ctx}: position grew: {last} → {c:?}");
                }
            }
            Command::Overflow { call, .. } => {
                assert!(view.overflowed.insert(call.clone()), "{ctx}: {c:?}");
                assert!(!view.abandoned.contains(call), "{ctx}: {c:?}");
            }
            Command::RefuseAnswer { .. } | Command::DropEndpoint { .. } => {}
            other => panic!("{ctx}: unexpected command {other:?}"),
        }
    }
}

fn check_state(d: &Driver, view: &EngineView, calls: &[CallId], ctx: &str) {
    // What the engine rings is what the machine rings, and only for waiting calls.
    let mut machine: BTreeSet<(CallId, AgentId)> = BTreeSet::new();
    for c in calls {
        for a in d.acd.ringing(c) {
            machine.insert((c.clone(), a));
        }
    }
    let engine: BTreeSet<(CallId, AgentId)> = view.ringing.keys().cloned().collect();
    assert_eq!(
        engine, machine,
        "{ctx}: engine and machine disagree on ringing"
    );
    for (c, a) in &engine {
        assert!(d.acd.has_call(c), "{ctx}: {a} rings for {c}, which is gone");
        assert_eq!(
            d.acd.connected(c),
            None,
            "{ctx}: {a} rings for answered {c}"
        );
        let v = d.acd.agent(a).unwrap();
        assert_eq!(v.state, StateKind::Ringing, "{ctx}: {a}");
        assert_eq!(v.call.as_ref(), Some(c), "{ctx}: {a}");
    }
    for a in AGENTS {
        if let Some(v) = d.acd.agent(&agent(a)) {
            if v.state == StateKind::Ringing {
                let c = v.call.clone().unwrap();
                assert!(engine.contains(&(c, agent(a))), "{ctx}: {a} ringing unseen");
            }
            if v.state == StateKind::OnCall {
                let c = v.call.clone().unwrap();
                if c.0.starts_with('o') {
                    let own = view.own.get(&agent(a));
                    assert!(own.is_some_and(|o| o.contains(&c)), "{ctx}: {a} on {c}");
                } else {
                    assert_eq!(view.bridged.get(&c), Some(&agent(a)), "{ctx}: {a}");
                }
            }
        }
    }
    for (c, a) in &view.bridged {
        assert_eq!(d.acd.connected(c).as_ref(), Some(a), "{ctx}: bridge of {c}");
    }
}

fn one_run(seed: u64, steps: usize) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let grace = [0, 30][rng.below(2)];
    let mut d = Driver::with(
        vec![
            QueueConfig {
                announce_every_s: 15,
                wrap_up_s: 10,
                max_wait_s: 120,
                ..queue("all", Strategy::RingAll)
            },
            QueueConfig {
                announce_every_s: 20,
                wrap_up_s: 0,
                max_wait_s: 90,
                overflow_when_unstaffed: false,
                ..queue("idle", Strategy::LongestIdle)
            },
            QueueConfig {
                skills: vec!["leak".into(), "gas".into()],
                ..queue("skill", Strategy::Skills)
            },
            queue("rr", Strategy::RoundRobin),
        ],
        AcdSettings {
            reconnect_grace_s: grace,
        },
    );
    let queues = ["all", "idle", "skill", "rr"];
    let topics = ["leak", "gas", "lift"];
    let mut view = EngineView::default();
    let mut calls: Vec<CallId> = Vec::new();
    let mut live: Vec<CallId> = Vec::new();
    let mut endpoint_no = 0u32;
    let mut own_no = 0u32;
    let mut t: Millis = 0;
    let mut seen_records = 0;
    for step in 0..steps {
        t += [0, 0, 500, 3_000, 15_000, 40_000][rng.below(6)];
        let a = AGENTS[rng.below(AGENTS.len())];
        let ringing: Vec<(CallId, AgentId)> = view.ringing.keys().cloned().collect();
        let own_up: Vec<(AgentId, CallId)> = view
            .own
            .iter()
            .flat_map(|(a, cs)| cs.iter().map(|c| (a.clone(), c.clone())))
            .collect();
        let input = match rng.below(16) {
            14 => {
                own_no += 1;
                Input::OwnCallStarted {
                    agent: agent(a),
                    call: call(&format!("o{own_no}")),
                }
            }
            15 => match rng.pick(&own_up) {
                Some((a, c)) => Input::OwnCallEnded {
                    agent: a.clone(),
                    call: c.clone(),
                },
                None => Input::OwnCallEnded {
                    agent: agent(a),
                    call: call("o0"),
                },
            },
            0 | 1 => {
                let id = format!("k{}", calls.len());
                calls.push(call(&id));
                live.push(call(&id));
                let queue = queues[rng.below(queues.len())];
                Input::CallArrived {
                    call: call(&id),
                    queue: q(queue),
                    emergency: rng.below(5) == 0,
                    topic: (rng.below(3) > 0).then(|| topics[rng.below(3)].to_string()),
                }
            }
            2 => {
                endpoint_no += 1;
                let skills = [vec![], vec!["leak".to_string()], vec!["gas".to_string()]]
                    [rng.below(3)]
                .clone();
                Input::AgentLogin {
                    agent: agent(a),
                    endpoint: ep(&format!("{a}{endpoint_no}")),
                    skills,
                }
            }
            3 => logout(a),
            4 => pause(a, "обед"),
            5 => resume(a),
            6 => {
                // The current endpoint or an old one.
                let e = match (rng.below(3), view.endpoints.get(&agent(a))) {
                    (0, _) | (_, None) => {
                        ep(&format!("{a}{}", rng.below(endpoint_no as usize + 1)))
                    }
                    (_, Some(e)) => e.clone(),
                };
                lost(a, &e.0)
            }
            7..=9 => match rng.pick(&ringing) {
                // Mostly answers of ringing agents, sometimes two at the same instant.
                Some((c, who)) => answer(&c.0, &who.0),
                None => answer(&format!("k{}", rng.below(calls.len() + 1)), a),
            },
            10 => match rng.pick(&ringing) {
                Some((c, who)) => reject(&c.0, &who.0),
                None => reject("k0", a),
            },
            11 => match rng.pick(&live) {
                Some(c) => hangup(&c.0),
                None => hangup("k0"),
            },
            12 => match rng.pick(&live) {
                Some(c) => ended(&c.0),
                None => ended("k0"),
            },
            _ => match rng.pick(&live) {
                Some(c) => Input::CallTransferred {
                    call: c.clone(),
                    target: String::new(),
                },
                None => Input::CallTransferred {
                    call: call("k0"),
                    target: String::new(),
                },
            },
        };
        let ctx = format!("seed {seed} step {step} t {t} {input:?}");
        // Time passes first, as in the engine: timeouts, then the input.
        let cmds = d.run_until(t);
        check_commands(&mut view, &cmds, &ctx);
        check_state(&d, &view, &calls, &ctx);
        let stale_endpoint_of = match &input {
            Input::EndpointLost { agent, endpoint } => {
                (view.endpoints.get(agent) == Some(endpoint)).then(|| agent.clone())
            }
            _ => None,
        };
        // The engine's own calls: known agents' calls are up from the start to the end.
        match &input {
            Input::OwnCallStarted { agent, call } if d.acd.agent(agent).is_some() => {
                view.own
                    .entry(agent.clone())
                    .or_default()
                    .insert(call.clone());
            }
            Input::OwnCallEnded { agent, call } => {
                if let Some(o) = view.own.get_mut(agent) {
                    o.remove(call);
                }
            }
            _ => {}
        }
        let res = d.try_at(t, input.clone());
        match (&input, &res) {
            (
                Input::AgentLogin {
                    agent, endpoint, ..
                },
                Ok(_),
            ) => {
                view.endpoints.insert(agent.clone(), endpoint.clone());
            }
            // A logout during a call takes effect after it; the endpoint is kept meanwhile.
            (Input::AgentLogout { agent }, Ok(_))
                if d.acd.agent(agent).unwrap().state == StateKind::LoggedOut =>
            {
                view.endpoints.remove(agent);
            }
            _ => {}
        }
        // The conversation of a call that ended or was transferred is over for the engine.
        if let Input::CallerHungUp { call }
        | Input::CallEnded { call }
        | Input::CallTransferred { call, .. } = &input
        {
            if res.is_ok() {
                view.bridged.remove(call);
            }
        }
        // A declined offer has stopped ringing by itself.
        if let Input::OfferRejected { call, agent } = &input {
            view.ringing.remove(&(call.clone(), agent.clone()));
        }
        if let Some(agent) = stale_endpoint_of {
            view.endpoints.remove(&agent);
        }
        let cmds = res.unwrap_or_default();
        check_commands(&mut view, &cmds, &ctx);
        // Timers that logged agents out (the reconnect grace) forget their endpoints.
        for a in AGENTS {
            if d.acd.agent(&agent(a)).is_some_and(|v| v.endpoint.is_none()) {
                view.endpoints.remove(&agent(a));
            }
        }
        check_state(&d, &view, &calls, &ctx);
        live.retain(|c| d.acd.has_call(c));
        for r in &d.records[seen_records..] {
            match &r.kind {
                RecordKind::Abandoned { call, .. } => {
                    view.abandoned.insert(call.clone());
                }
                RecordKind::Overflowed { call, .. } => {
                    assert!(
                        !view.abandoned.contains(call),
                        "{ctx}: overflow after abandon"
                    );
                }
                _ => {}
            }
        }
        seen_records = d.records.len();
        for c in &view.abandoned {
            assert!(
                !view.overflowed.contains(c),
                "{ctx}: {c} abandoned and overflowed"
            );
        }
        let abandons = d
            .records
            .iter()
            .filter(|r| matches!(r.kind, RecordKind::Abandoned { .. }))
            .count();
        assert_eq!(
            abandons,
            view.abandoned.len(),
            "{ctx}: an abandon counted twice"
        );
    }
    // Every call that left ended every ring.
    for (c, a) in view.ringing.keys() {
        assert!(d.acd.has_call(c), "seed {seed}: {a} left ringing for {c}");
    }
}

#[test]
fn random_event_sequences_never_leave_an_agent_ringing_nor_give_a_call_to_two_agents() {
    for seed in 0..150 {
        one_run(seed, 300);
    }
}
