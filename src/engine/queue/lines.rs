//! The agents' lines: how the queue runtime rings an agent's endpoint, stops it, connects the
//! caller, and hangs the agent's leg up. The runtime calls an [`AgentLines`] and never waits
//! on it; what happens on a line comes back as a [`LineEvent`] through the runtime's handle.

use zvonar_acd::{AgentId, CallId, EndpointId};

/// Something that happened on an agent's line, reported to the runtime
/// ([`super::QueueHandle::line_event`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineEvent {
    /// The agent answered an offer (200 to our INVITE, or the console's answer).
    Answered {
        /// The call offered.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
    /// The offer failed: declined (486/603), unreachable (408/480), or the line could not be
    /// set up at all.
    Failed {
        /// The call offered.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
    /// The agent hung up a bridged call (BYE from the agent's side).
    HungUp {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
}

/// The agents' side of the queues. Every method returns at once (start the work, report
/// through [`LineEvent`]s); a method for a line that no longer exists does nothing.
pub trait AgentLines: Send + 'static {
    /// A caller entered a queue: `media` is the caller's media task (for the bridge), `number`
    /// the caller's verified number (shown to the agent's phone).
    fn caller_joined(
        &mut self,
        call: &CallId,
        media: tokio::sync::mpsc::UnboundedSender<crate::engine::media::MediaCommand>,
        number: Option<String>,
    ) {
        let _ = (call, media, number);
    }
    /// The caller left the queues (hung up, overflowed, or the conversation ended).
    fn caller_left(&mut self, call: &CallId) {
        let _ = call;
    }
    /// Ring `endpoint` with `call` (an outgoing leg to the phone or the console).
    fn offer(&mut self, call: &CallId, agent: &AgentId, endpoint: &EndpointId);
    /// Stop ringing (CANCEL the offer leg).
    fn stop_ringing(&mut self, call: &CallId, agent: &AgentId, endpoint: &EndpointId);
    /// Connect the caller's media with the agent's leg that answered.
    fn bridge(&mut self, call: &CallId, agent: &AgentId, endpoint: &EndpointId);
    /// Hang up the agent's leg of `call` (an answer that came too late, or the conversation is
    /// over on the caller's side).
    fn hang_up(&mut self, call: &CallId, agent: &AgentId);
    /// A newer registration replaced `endpoint`: forget it (a phone's old binding, a closed tab).
    fn drop_endpoint(&mut self, agent: &AgentId, endpoint: &EndpointId);
}

/// What was asked of [`FakeLines`], in order (tests).
#[cfg(test)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineCall {
    /// [`AgentLines::offer`].
    Offer(CallId, AgentId, EndpointId),
    /// [`AgentLines::stop_ringing`].
    StopRinging(CallId, AgentId),
    /// [`AgentLines::bridge`].
    Bridge(CallId, AgentId),
    /// [`AgentLines::hang_up`].
    HangUp(CallId, AgentId),
    /// [`AgentLines::drop_endpoint`].
    DropEndpoint(AgentId, EndpointId),
}

/// In-memory lines that only record what they are asked (tests drive the answers with
/// [`LineEvent`]s).
#[cfg(test)]
#[derive(Clone, Default)]
pub struct FakeLines(pub std::sync::Arc<std::sync::Mutex<Vec<LineCall>>>);

#[cfg(test)]
impl FakeLines {
    /// Everything asked so far, emptied.
    pub fn take(&self) -> Vec<LineCall> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    fn push(&self, c: LineCall) {
        if let Ok(mut v) = self.0.lock() {
            v.push(c);
        }
    }
}

#[cfg(test)]
impl AgentLines for FakeLines {
    fn offer(&mut self, call: &CallId, agent: &AgentId, endpoint: &EndpointId) {
        self.push(LineCall::Offer(
            call.clone(),
            agent.clone(),
            endpoint.clone(),
        ));
    }
    fn stop_ringing(&mut self, call: &CallId, agent: &AgentId, _endpoint: &EndpointId) {
        self.push(LineCall::StopRinging(call.clone(), agent.clone()));
    }
    fn bridge(&mut self, call: &CallId, agent: &AgentId, _endpoint: &EndpointId) {
        self.push(LineCall::Bridge(call.clone(), agent.clone()));
    }
    fn hang_up(&mut self, call: &CallId, agent: &AgentId) {
        self.push(LineCall::HangUp(call.clone(), agent.clone()));
    }
    fn drop_endpoint(&mut self, agent: &AgentId, endpoint: &EndpointId) {
        self.push(LineCall::DropEndpoint(agent.clone(), endpoint.clone()));
    }
}
