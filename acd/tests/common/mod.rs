//! Drives [`Acd`] the way the engine will: one input at a time, timeouts fired at the deadlines
//! the machine asks for (a fake clock: plain numbers, no sleeps), commands and records drained
//! after every step.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use zvonar_acd::*;

/// Seconds → ms.
pub fn s(sec: u64) -> Millis {
    sec * 1000
}

pub fn call(id: &str) -> CallId {
    CallId::from(id)
}

pub fn agent(id: &str) -> AgentId {
    AgentId::from(id)
}

pub fn ep(id: &str) -> EndpointId {
    EndpointId::from(id)
}

pub fn q(id: &str) -> QueueId {
    QueueId::from(id)
}

pub fn arrive(c: &str, queue: &str) -> Input {
    Input::CallArrived {
        call: call(c),
        queue: q(queue),
        emergency: false,
        topic: None,
    }
}

pub fn arrive_emergency(c: &str, queue: &str) -> Input {
    Input::CallArrived {
        call: call(c),
        queue: q(queue),
        emergency: true,
        topic: None,
    }
}

pub fn arrive_topic(c: &str, queue: &str, topic: &str) -> Input {
    Input::CallArrived {
        call: call(c),
        queue: q(queue),
        emergency: false,
        topic: Some(topic.to_string()),
    }
}

pub fn login(a: &str, e: &str) -> Input {
    Input::AgentLogin {
        agent: agent(a),
        endpoint: ep(e),
        skills: Vec::new(),
    }
}

pub fn login_skills(a: &str, e: &str, skills: &[&str]) -> Input {
    Input::AgentLogin {
        agent: agent(a),
        endpoint: ep(e),
        skills: skills.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn answer(c: &str, a: &str) -> Input {
    Input::OfferAnswered {
        call: call(c),
        agent: agent(a),
    }
}

pub fn reject(c: &str, a: &str) -> Input {
    Input::OfferRejected {
        call: call(c),
        agent: agent(a),
    }
}

pub fn hangup(c: &str) -> Input {
    Input::CallerHungUp { call: call(c) }
}

pub fn ended(c: &str) -> Input {
    Input::CallEnded { call: call(c) }
}

pub fn pause(a: &str, reason: &str) -> Input {
    Input::AgentPause {
        agent: agent(a),
        reason: reason.to_string(),
    }
}

pub fn resume(a: &str) -> Input {
    Input::AgentResume { agent: agent(a) }
}

pub fn logout(a: &str) -> Input {
    Input::AgentLogout { agent: agent(a) }
}

pub fn lost(a: &str, e: &str) -> Input {
    Input::EndpointLost {
        agent: agent(a),
        endpoint: ep(e),
    }
}

pub fn offer(c: &str, a: &str, e: &str) -> Command {
    Command::Offer {
        call: call(c),
        agent: agent(a),
        endpoint: ep(e),
    }
}

pub fn stop(c: &str, a: &str, e: &str, reason: StopReason) -> Command {
    Command::StopRinging {
        call: call(c),
        agent: agent(a),
        endpoint: ep(e),
        reason,
    }
}

pub fn bridge(c: &str, a: &str, e: &str) -> Command {
    Command::Bridge {
        call: call(c),
        agent: agent(a),
        endpoint: ep(e),
    }
}

pub fn announce(c: &str, position: u32, ewt: Option<u32>) -> Command {
    Command::Announce {
        call: call(c),
        position,
        expected_wait_s: ewt,
    }
}

/// A queue config with announcements off (most tests do not look at them).
pub fn queue(name: &str, strategy: Strategy) -> QueueConfig {
    QueueConfig {
        strategy,
        announce_every_s: 0,
        ..QueueConfig::new(name)
    }
}

pub struct Driver {
    pub acd: Acd,
    /// Every command so far.
    pub commands: Vec<Command>,
    /// Every record so far.
    pub records: Vec<Record>,
}

impl Driver {
    pub fn new(queues: Vec<QueueConfig>) -> Self {
        Self::with(queues, AcdSettings::default())
    }

    pub fn with(queues: Vec<QueueConfig>, settings: AcdSettings) -> Self {
        Driver {
            acd: Acd::new(queues, settings),
            commands: Vec::new(),
            records: Vec::new(),
        }
    }

    fn drain(&mut self) -> Vec<Command> {
        let mut out = Vec::new();
        while let Some(c) = self.acd.poll_command() {
            out.push(c);
        }
        while let Some(r) = self.acd.poll_record() {
            self.records.push(r);
        }
        self.commands.extend(out.iter().cloned());
        out
    }

    /// Fires the machine's timeouts up to `t`, one deadline at a time as the engine's timer
    /// would; returns the commands.
    pub fn run_until(&mut self, t: Millis) -> Vec<Command> {
        let mut out = Vec::new();
        while let Some(d) = self.acd.poll_timeout().filter(|d| *d <= t) {
            self.acd.handle_timeout(d);
            out.extend(self.drain());
        }
        out
    }

    /// Timeouts up to `t`, then the input at `t`; returns the commands of the input only
    /// (timeouts' commands are in `self.commands`). Panics on an input error.
    pub fn at(&mut self, t: Millis, input: Input) -> Vec<Command> {
        self.run_until(t);
        self.acd.handle(t, input).unwrap();
        self.drain()
    }

    /// Like `at`, returning the input's result.
    pub fn try_at(&mut self, t: Millis, input: Input) -> Result<Vec<Command>, AcdError> {
        self.run_until(t);
        let r = self.acd.handle(t, input);
        let cmds = self.drain();
        r.map(|()| cmds)
    }

    pub fn state(&self, a: &str) -> StateKind {
        self.acd.agent(&agent(a)).unwrap().state
    }

    pub fn reason(&self, a: &str) -> Option<String> {
        self.acd.agent(&agent(a)).unwrap().pause_reason
    }
}
