//! The agents' lines over SIP: an offer is an outgoing call (zvonar's B2BUA leg,
//! [`crate::engine::dial`]) to the agent's registered phone; the answered leg is bridged to the
//! caller's media; CANCEL when the offer is withdrawn, BYE when the conversation ends on the
//! caller's side. One task per leg reports what happens as [`LineEvent`]s.

use super::endpoints::parse_endpoint;
use super::lines::{AgentLines, LineEvent};
use super::QueueHandle;
use crate::engine::dial::{self, DialEvent, DialSpec, DialTarget};
use crate::engine::media::MediaCommand;
use crate::engine::Shared;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use zvonar_acd::{AgentId, CallId, EndpointId};

/// What the runtime asks of one leg's task.
enum LegCtl {
    /// Withdraw the offer (CANCEL; BYE if it was answered meanwhile).
    Cancel,
    /// Bridge the answered leg to the caller's media.
    Bridge(mpsc::UnboundedSender<MediaCommand>),
    /// End the leg (BYE, or CANCEL while ringing).
    HangUp,
}

/// Longer than any `[[queue]] ring_timeout_s` (5–120 s): the queue withdraws an offer itself
/// when it rings out, so the leg's own timer is only a backstop.
const LEG_RING_BACKSTOP: Duration = Duration::from_secs(130);

/// The runtime's end of one leg's task.
struct Leg {
    ctl: mpsc::UnboundedSender<LegCtl>,
    /// Set when a newer offer of the same call to the same agent replaced this one (the
    /// agent's phone registered anew while it rang): the old leg is cancelled and nothing it
    /// reports reaches the runtime, which would take it for the new offer's.
    superseded: Arc<AtomicBool>,
}

/// Where a leg's task reports: the runtime, unless the leg was superseded.
struct LegReports {
    handle: QueueHandle,
    superseded: Arc<AtomicBool>,
}

impl LegReports {
    fn superseded(&self) -> bool {
        self.superseded.load(Ordering::SeqCst)
    }

    fn line_event(&self, ev: LineEvent) {
        if self.superseded() {
            tracing::debug!(?ev, "event of a superseded offer dropped");
        } else {
            self.handle.line_event(ev);
        }
    }
}

/// [`AgentLines`] over SIP legs.
pub struct SipLines {
    /// Weak: the engine's state must be free to go at shutdown (it closes the event bus).
    shared: Weak<Shared>,
    handle: QueueHandle,
    legs: HashMap<(CallId, AgentId), Leg>,
    callers: HashMap<CallId, (mpsc::UnboundedSender<MediaCommand>, Option<String>)>,
}

impl SipLines {
    /// Lines of the engine `shared`, reporting to `handle`.
    pub fn new(shared: &Arc<Shared>, handle: QueueHandle) -> Self {
        SipLines {
            shared: Arc::downgrade(shared),
            handle,
            legs: HashMap::new(),
            callers: HashMap::new(),
        }
    }

    fn send(&mut self, call: &CallId, agent: &AgentId, ctl: LegCtl) {
        let key = (call.clone(), agent.clone());
        let gone = match self.legs.get(&key) {
            Some(leg) => leg.ctl.send(ctl).is_err(),
            None => false,
        };
        if gone {
            self.legs.remove(&key);
        }
    }
}

impl AgentLines for SipLines {
    fn caller_joined(
        &mut self,
        call: &CallId,
        media: mpsc::UnboundedSender<MediaCommand>,
        caller_number: Option<String>,
    ) {
        self.callers.insert(call.clone(), (media, caller_number));
    }

    fn caller_left(&mut self, call: &CallId) {
        self.callers.remove(call);
        self.legs.retain(|(c, _), _| c != call);
    }

    fn offer(&mut self, call: &CallId, agent: &AgentId, endpoint: &EndpointId) {
        let fail = |handle: &QueueHandle| {
            handle.line_event(LineEvent::Failed {
                call: call.clone(),
                agent: agent.clone(),
            })
        };
        let (Some(shared), Some((account, _))) = (self.shared.upgrade(), parse_endpoint(endpoint))
        else {
            tracing::warn!(%call, %agent, %endpoint, "offer to an endpoint that is not a SIP phone");
            return fail(&self.handle);
        };
        let spec = DialSpec {
            call_id: zvonar_models::CallId(call.0.clone()),
            target: DialTarget::Account(account.to_string()),
            from_user: self.callers.get(call).and_then(|(_, n)| n.clone()),
            ring_timeout: LEG_RING_BACKSTOP,
            credential: None,
            record: None,
            media_events: None,
            // The console shows this call's card while it rings (web/console/js/phone.js).
            headers: vec![("X-Zvonar-Call".to_string(), call.0.clone())],
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let superseded = Arc::new(AtomicBool::new(false));
        let old = self.legs.insert(
            (call.clone(), agent.clone()),
            Leg {
                ctl: tx,
                superseded: superseded.clone(),
            },
        );
        if let Some(old) = old {
            old.superseded.store(true, Ordering::SeqCst);
            let _ = old.ctl.send(LegCtl::Cancel);
        }
        let handle = LegReports {
            handle: self.handle.clone(),
            superseded,
        };
        let (call, agent) = (call.clone(), agent.clone());
        tokio::spawn(async move {
            let started = dial::dial(&shared, spec).await;
            drop(shared);
            let mut leg = match started {
                Ok(leg) => leg,
                Err(e) => {
                    tracing::info!(%call, %agent, error = %e, "agent's phone not rung");
                    handle.line_event(LineEvent::Failed { call, agent });
                    return;
                }
            };
            let mut answered = false;
            // Once the runtime has dropped its end (hang-up asked, call gone), only the leg's
            // own events are awaited: its end after our BYE or CANCEL.
            let mut control = true;
            loop {
                tokio::select! {
                    ctl = rx.recv(), if control => match ctl {
                        Some(LegCtl::Cancel) => leg.cancel(),
                        Some(LegCtl::Bridge(media)) => dial::bridge(&media, &leg),
                        Some(LegCtl::HangUp) => {
                            control = false;
                            leg.hangup();
                        }
                        None => {
                            control = false;
                            leg.hangup();
                        }
                    },
                    ev = leg.next_event() => match ev {
                        Some(DialEvent::Ringing) => {}
                        Some(DialEvent::Answered { .. }) if handle.superseded() => {
                            // Answered on the phone's old registration after a newer offer
                            // replaced this one: not the agent's call any more.
                            control = false;
                            leg.hangup();
                        }
                        Some(DialEvent::Answered { .. }) => {
                            answered = true;
                            handle.line_event(LineEvent::Answered { call: call.clone(), agent: agent.clone() });
                        }
                        Some(DialEvent::Failed(outcome)) => {
                            tracing::info!(%call, %agent, ?outcome, "offer not answered");
                            handle.line_event(LineEvent::Failed { call, agent });
                            return;
                        }
                        Some(DialEvent::HungUp(_)) | None => {
                            if answered {
                                handle.line_event(LineEvent::HungUp { call, agent });
                            }
                            return;
                        }
                    },
                }
            }
        });
    }

    fn stop_ringing(&mut self, call: &CallId, agent: &AgentId, _endpoint: &EndpointId) {
        self.send(call, agent, LegCtl::Cancel);
    }

    fn bridge(&mut self, call: &CallId, agent: &AgentId, _endpoint: &EndpointId) {
        match self.callers.get(call) {
            Some((media, _)) => {
                let media = media.clone();
                self.send(call, agent, LegCtl::Bridge(media));
            }
            None => tracing::error!(%call, %agent, "no caller media to bridge"),
        }
    }

    fn hang_up(&mut self, call: &CallId, agent: &AgentId) {
        self.send(call, agent, LegCtl::HangUp);
        self.legs.remove(&(call.clone(), agent.clone()));
    }

    fn drop_endpoint(&mut self, _agent: &AgentId, _endpoint: &EndpointId) {}
}
