//! The agents' lines over SIP: an offer is an outgoing call (zvonar's B2BUA leg,
//! [`crate::engine::dial`]) to the agent's registered phone; the answered leg is bridged to the
//! caller's media; CANCEL when the offer is withdrawn, BYE when the conversation ends on the
//! caller's side. One task per leg reports what happens as [`LineEvent`]s.

use super::endpoints::parse_endpoint;
use super::lines::{AgentLines, LineEvent};
use super::QueueHandle;
use crate::engine::dial::{self, DialEvent, DialSpec, DialTarget};
use crate::engine::media::MediaCommand;
use crate::engine::transfer::{self, ProgressTx, TransferProgress};
use crate::engine::Shared;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use zvonar_acd::{AgentId, CallId, EndpointId};
use zvonar_sip::uac::{ReferNotifier, ReferRequest};

/// What the runtime asks of one leg's task.
enum LegCtl {
    /// Withdraw the offer (CANCEL; BYE if it was answered meanwhile).
    Cancel,
    /// Bridge the answered leg to the caller's media.
    Bridge(mpsc::UnboundedSender<MediaCommand>),
    /// End the leg (BYE, or CANCEL while ringing).
    HangUp,
}

/// How long the transferring agent's leg waits for its final NOTIFY to be answered before
/// our BYE (a phone that hung up already answers 481 at once).
const NOTIFY_FLUSH: Duration = Duration::from_secs(5);

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

/// Answers one REFER on an agent's answered leg: the target is classified
/// ([`transfer::classify`]; 404 when nothing matches, 400 for a malformed Refer-To), the
/// REFER accepted (202, NOTIFY 100) and the runtime asked to move the call; `None` when the
/// transfer did not start (the conversation goes on; a refused one gets its final NOTIFY).
async fn refer(
    shared: &Weak<Shared>,
    handle: &QueueHandle,
    call: &CallId,
    agent: &AgentId,
    r: ReferRequest,
) -> Option<(ReferNotifier, mpsc::UnboundedReceiver<TransferProgress>)> {
    let to = match zvonar_sip::refer::parse_refer_to(&r.refer_to) {
        Ok(to) => to,
        Err(e) => {
            tracing::info!(%call, %agent, error = %e, "REFER refused: 400");
            r.reject(400).await;
            return None;
        }
    };
    let target = if let Some(replaces) = &to.replaces {
        // Attended transfer: the agent's consultation call is named by its dialog.
        let found = shared
            .upgrade()
            .and_then(|s| s.consultations.find(replaces));
        match found {
            Some(c) => Some(transfer::TransferTarget::Consulted(c)),
            None => {
                // Accepted, then failed as the transferee's INVITE with Replaces would
                // (RFC 3891 §3: 481): a 481 to the REFER itself would end the agent's call
                // with the caller in many phones (RFC 5057: a 481 ends the dialog).
                tracing::info!(%call, %agent, call_id = %replaces.call_id,
                    "REFER with Replaces of no consultation: NOTIFY 481");
                let mut notifier = r.accept().await;
                notifier.progress(481);
                return None;
            }
        }
    } else {
        let Some(shared) = shared.upgrade() else {
            r.reject(503).await;
            return None;
        };
        transfer::classify_in(&shared, &to.user)
    };
    let Some(target) = target else {
        tracing::info!(%call, %agent, user = %to.user, "REFER to an unknown target: 404");
        r.reject(404).await;
        return None;
    };
    tracing::info!(%call, %agent, target = %target.label(), "transfer asked");
    let mut notifier = r.accept().await;
    let (ptx, prx) = mpsc::unbounded_channel();
    match handle
        .transfer(call.clone(), agent.clone(), target, ProgressTx(ptx))
        .await
    {
        Ok(()) => Some((notifier, prx)),
        Err(e) => {
            tracing::info!(%call, %agent, error = ?e, "transfer refused by the queue");
            notifier.progress(481);
            None
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
        let (refer_tx, mut refers) = mpsc::unbounded_channel();
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
            // The agent may transfer the caller (REFER from the desk phone or the console).
            refers: Some(refer_tx),
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
            let weak = Arc::downgrade(&shared);
            drop(shared);
            let mut leg = match started {
                Ok(mut leg) => {
                    leg.offered_by_queue();
                    leg
                }
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
            // A blind transfer the agent asked for (REFER): the phone hears how it goes
            // (NOTIFYs) and the leg is hung up once the outcome is known; the call has left
            // the runtime meanwhile, so nothing on this leg is reported to it any more.
            let mut refers_open = true;
            let mut transfer: Option<(ReferNotifier, mpsc::UnboundedReceiver<TransferProgress>)> =
                None;
            loop {
                tokio::select! {
                    ctl = rx.recv(), if control => match ctl {
                        Some(LegCtl::Cancel) => leg.cancel(),
                        Some(LegCtl::Bridge(media)) => dial::bridge(&media, &leg),
                        Some(LegCtl::HangUp) => {
                            control = false;
                            leg.hangup();
                        }
                        None if transfer.is_some() => control = false,
                        None => {
                            control = false;
                            leg.hangup();
                        }
                    },
                    r = refers.recv(), if answered && refers_open && transfer.is_none() => {
                        let Some(r) = r else {
                            refers_open = false; // the leg's task is over
                            continue;
                        };
                        match refer(&weak, &handle.handle, &call, &agent, r).await {
                            Some(t) => transfer = Some(t),
                            None => continue,
                        }
                    }
                    p = async {
                        match transfer.as_mut() {
                            Some((_, prx)) => prx.recv().await,
                            None => std::future::pending().await,
                        }
                    } => {
                        let Some((notifier, _)) = transfer.as_mut() else { continue };
                        let status = match p {
                            Some(TransferProgress::Ringing) => 180,
                            Some(TransferProgress::Done) => 200,
                            Some(TransferProgress::Failed(s)) => s,
                            None => 500,
                        };
                        notifier.progress(status);
                        if notifier.done() {
                            // RFC 5589 §6: the transferor's leg ends after the final NOTIFY;
                            // a phone that has not hung up itself gets our BYE.
                            tracing::info!(%call, %agent, status, "transfer outcome reported: agent's leg hung up");
                            if let Some((notifier, _)) = transfer.take() {
                                notifier.flushed(NOTIFY_FLUSH).await;
                            }
                            control = false;
                            leg.hangup();
                            // Nothing more of this leg concerns the runtime.
                            handle.superseded.store(true, Ordering::SeqCst);
                        }
                    }
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
                        Some(DialEvent::HungUp(_)) | None if transfer.is_some() => {
                            // The phone hung up after the 202 (blind transfer): the transfer
                            // goes on without it; no NOTIFY can reach it any more.
                            tracing::info!(%call, %agent, "transferring agent's leg ended");
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
