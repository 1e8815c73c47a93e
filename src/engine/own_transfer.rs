//! Transfer of a call an agent placed (click-to-call, a callback from the missed-calls list, a
//! desk phone dialling out; [`super::transfer::agent_call_flow`]). Here the agent's leg is the
//! call's incoming leg and the party (the resident) is an outgoing one, so the party is moved
//! by bridging its leg to a new outgoing leg: two outgoing legs, zvonar the B2BUA in between.
//!
//! ```text
//! agent ══ zvonar ══ resident          (agent's own call, bridged in the `dial` flow)
//! agent ──REFER Refer-To: <sip:102@zvonar> (blind) or <sip:102?Replaces=consultation> (attended)
//!       ◄─ 202, NOTIFY 100; the agent and the resident hear the ringback
//! zvonar ──INVITE──► 102 (or the consultation's party is taken over, RFC 3891)
//!   answered: resident ══ zvonar ══ 102, NOTIFY 200, BYE to the agent (→ wrap-up)
//!   failed:   NOTIFY 486/480/…, the agent and the resident are bridged again
//! ```
//!
//! Targets are a person: an extension (SIP account) or an outside number, rung for
//! [`super::transfer::TRANSFER_RING_TIMEOUT`], or the party of the agent's consultation call
//! (attended transfer, [`super::consult`]). A queue or a flow is refused (403): waiting in a
//! queue or talking to the robot needs the call's incoming leg, which here is the agent's.
//!
//! The call's recording goes on in the same file: the resident's leg takes it over from the
//! agent's ([`MediaCommand::MoveRecorder`]), so the resident stays on the left channel and the
//! new party follows the agent on the right. The timeline shows `transferred`, `dialling`,
//! `bridged` (or `dial_failed`, and the conversation goes on), and `unbridged` for each part.
//! A blind transfer goes on when the agent's phone hangs up right after the 202 (many desk
//! phones do); if it then fails, nobody is left to take the resident back and the call ends.
//! Another REFER while the target rings is answered 491 Request Pending.

use super::call::{CallIo, FlowEnd};
use super::dial::{self, DialEvent, DialSpec, DialTarget, OutboundLeg};
use super::dial_flow::ringback_period;
use super::media::{MediaCommand, MediaEvent};
use super::transfer::{classify_in, status_of, TransferTarget, TRANSFER_RING_TIMEOUT};
use super::Shared;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zvonar_models::{CallEventKind, HangupCause};
use zvonar_sip::ua::CallSignal;
use zvonar_sip::uac::{LegEnd, ReferNotifier, ReferRequest};
use zvonar_voice::recorder::Side;

/// Prompt id of the ringback tone played while the transfer target rings.
const RINGBACK_ID: u64 = 0x4f57_4e54;

/// How long we wait for a leg to confirm our BYE or CANCEL.
const LEG_END_GRACE: Duration = Duration::from_secs(5);

/// How long the agent's leg waits for the final NOTIFY to be answered before our BYE.
const NOTIFY_GRACE: Duration = Duration::from_secs(2);

/// How a transfer of an agent's own call came out.
pub enum Outcome {
    /// No transfer: the REFER was refused, or the target did not answer. The agent and the
    /// party are bridged again and the call goes on as before.
    Back,
    /// The call is over (the transferred conversation ended, or the party left meanwhile).
    Ended(FlowEnd),
}

/// Serves the REFER `r` that the agent sent on the agent's own call `io`, whose party talks
/// on `party_leg` (bridged since `talk_started`): refuses it (400 malformed Refer-To, 404 no
/// such target, 403 a queue or a flow, NOTIFY 481 for a `Replaces` naming no consultation),
/// or moves the party to the target and carries that conversation to its end.
pub async fn run(
    shared: &Arc<Shared>,
    io: &mut CallIo,
    party_leg: &mut OutboundLeg,
    talk_started: Instant,
    r: ReferRequest,
) -> Outcome {
    let call_id = io.call_id.clone();
    let to = match zvonar_sip::refer::parse_refer_to(&r.refer_to) {
        Ok(to) => to,
        Err(e) => {
            tracing::info!(%call_id, error = %e, "own call: REFER refused: 400");
            r.reject(400).await;
            return Outcome::Back;
        }
    };
    let target = match &to.replaces {
        Some(replaces) => match shared.consultations.find(replaces) {
            Some(c) if c.call_id != call_id => TransferTarget::Consulted(c),
            _ => {
                // As for a queued call (see `queue::sip_lines`): accepted, then failed as the
                // INVITE with Replaces would have (RFC 3891 §3).
                tracing::info!(%call_id, "own call: REFER with Replaces of no consultation: NOTIFY 481");
                r.accept().await.progress(481);
                return Outcome::Back;
            }
        },
        None => match classify_in(shared, &to.user) {
            Some(t) => t,
            None => {
                tracing::info!(%call_id, user = %to.user, "own call: REFER to an unknown target: 404");
                r.reject(404).await;
                return Outcome::Back;
            }
        },
    };
    let label = target.label();
    let person = match target {
        TransferTarget::Account(a) => Person::Dial(DialTarget::Account(a)),
        TransferTarget::Number(n) => Person::Dial(DialTarget::Number(n)),
        TransferTarget::Consulted(c) => Person::Consulted(c),
        TransferTarget::Queue(_) | TransferTarget::Flow(_) => {
            tracing::info!(%call_id, target = %label,
                "own call: REFER to a queue or a flow refused (403): only a person or a number");
            r.reject(403).await;
            return Outcome::Back;
        }
    };
    let account = io
        .own
        .as_ref()
        .map(|o| o.account.clone())
        .unwrap_or_default();
    let agent = match &shared.queues {
        Some(q) => q.login_of_account(&account).await,
        None => None,
    }
    .unwrap_or(account);
    tracing::info!(%call_id, %agent, target = %label, party = %party_leg.party(), "own call: transfer");
    let notifier = r.accept().await;
    publish(
        shared,
        io,
        CallEventKind::Transferred {
            agent,
            target: label,
        },
    )
    .await;
    // Both wait with the ringback; the resident's leg records from now on.
    let ringback: Arc<[i16]> = ringback_period().into();
    let _ = io.media.send(MediaCommand::Unbridge);
    let _ = party_leg.media().send(MediaCommand::Unbridge);
    let _ = io.media.send(MediaCommand::MoveRecorder {
        to: party_leg.media().clone(),
        rx_side: Side::Zvonar,
    });
    let long_ringback: Arc<[i16]> = ringback
        .iter()
        .copied()
        .cycle()
        .take(ringback.len() * ringback_periods())
        .collect();
    let _ = party_leg.media().send(MediaCommand::Play {
        id: RINGBACK_ID,
        pcm: long_ringback,
    });
    let _ = io.media.send(MediaCommand::Play {
        id: RINGBACK_ID,
        pcm: ringback.clone(),
    });
    let mut t = Transfer {
        shared,
        notifier: Some(notifier),
        agent_gone: false,
        ringback,
    };
    let (leg, answered) = match person {
        Person::Consulted(c) => match c.take(&call_id).await {
            Some(h) => (h.leg, h.answered),
            None => {
                tracing::info!(%call_id, consultation = %c.call_id, "own call: the consultation ended first");
                publish(
                    shared,
                    io,
                    CallEventKind::DialFailed {
                        party: c.party.clone(),
                        outcome: "consultation_ended".to_string(),
                        status: Some(481),
                    },
                )
                .await;
                return t.back(io, party_leg, 481).await;
            }
        },
        Person::Dial(target) => match t.dial(io, party_leg, target).await {
            Ok(l) => (l, false),
            Err(status) => return t.back(io, party_leg, status).await,
        },
    };
    t.conversation(io, party_leg, leg, answered, talk_started)
        .await
}

/// Whom the party goes to.
enum Person {
    /// An extension or an outside number, rung now.
    Dial(DialTarget),
    /// The party of the agent's consultation call, taken out of it.
    Consulted(super::consult::Consultation),
}

/// Periods of the ringback the resident's leg is given at once (its leg reports no playback
/// events to repeat it): enough for the whole ring time.
fn ringback_periods() -> usize {
    (TRANSFER_RING_TIMEOUT.as_secs() as usize).div_ceil(4) + 1
}

struct Transfer<'a> {
    shared: &'a Arc<Shared>,
    /// The REFER's subscription, until its final NOTIFY.
    notifier: Option<ReferNotifier>,
    /// The agent's leg has ended (the phone hung up after the 202).
    agent_gone: bool,
    ringback: Arc<[i16]>,
}

impl Transfer<'_> {
    /// Dials the target for the party; `Err(status)` for the NOTIFY when it cannot be rung.
    async fn dial(
        &mut self,
        io: &CallIo,
        party_leg: &OutboundLeg,
        target: DialTarget,
    ) -> Result<OutboundLeg, u16> {
        // The colleague's phone shows the resident's number when it is one.
        let from_user = Some(party_leg.party().to_string()).filter(|p| dial::is_phone_number(p));
        let spec = DialSpec {
            call_id: io.call_id.clone(),
            target: target.clone(),
            from_user,
            ring_timeout: TRANSFER_RING_TIMEOUT,
            credential: None,
            record: None,
            media_events: None,
            headers: Vec::new(),
            refers: None,
        };
        match dial::dial(self.shared, spec).await {
            Ok(l) => {
                publish(
                    self.shared,
                    io,
                    CallEventKind::Dialling {
                        party: l.party().to_string(),
                    },
                )
                .await;
                Ok(l)
            }
            Err(e) => {
                tracing::info!(call_id = %io.call_id, party = %target, error = %e, "own call: transfer target not rung");
                publish(
                    self.shared,
                    io,
                    CallEventKind::DialFailed {
                        party: target.to_string(),
                        outcome: e.outcome().code().to_string(),
                        status: None,
                    },
                )
                .await;
                Err(status_of(e.outcome()))
            }
        }
    }

    /// The target did not take the call: the final NOTIFY says why (`status`), and the agent
    /// gets the party back (recording included). With the agent gone, the party is hung up.
    async fn back(mut self, io: &mut CallIo, party_leg: &mut OutboundLeg, status: u16) -> Outcome {
        if let Some(mut n) = self.notifier.take() {
            n.progress(status);
        }
        let _ = party_leg.media().send(MediaCommand::StopPlayback);
        if self.agent_gone {
            tracing::info!(call_id = %io.call_id, status, "own call: transfer failed with the agent gone: the party is hung up");
            end_leg(party_leg).await;
            return Outcome::Ended(FlowEnd {
                cause: HangupCause::CallerBye,
            });
        }
        tracing::info!(call_id = %io.call_id, status, "own call: transfer failed: the agent has the party back");
        let _ = io.media.send(MediaCommand::StopPlayback);
        let _ = party_leg.media().send(MediaCommand::MoveRecorder {
            to: io.media.clone(),
            rx_side: Side::Caller,
        });
        dial::bridge(&io.media, party_leg);
        Outcome::Back
    }

    /// The party's conversation with the target's `leg` (ringing unless `answered`), to the
    /// end of the call.
    async fn conversation(
        mut self,
        io: &mut CallIo,
        party_leg: &mut OutboundLeg,
        mut leg: OutboundLeg,
        answered: bool,
        talk_started: Instant,
    ) -> Outcome {
        let call_id = io.call_id.clone();
        let shared = self.shared;
        let party = party_leg.party().to_string();
        let target = leg.party().to_string();
        let mut bridged_at = None;
        if answered {
            bridged_at = Some(self.connect(io, party_leg, &leg, talk_started).await);
        }
        loop {
            tokio::select! {
                ev = leg.next_event() => match ev {
                    Some(DialEvent::Ringing) => {
                        if let Some(n) = self.notifier.as_mut() {
                            n.progress(180);
                        }
                    }
                    Some(DialEvent::Answered { .. }) => {
                        tracing::info!(%call_id, %target, "own call: transfer target answered");
                        bridged_at = Some(self.connect(io, party_leg, &leg, talk_started).await);
                    }
                    Some(DialEvent::Failed(outcome)) => {
                        publish(shared, io, dial::failed_event(&target, outcome)).await;
                        return self.back(io, party_leg, status_of(outcome)).await;
                    }
                    Some(DialEvent::HungUp(end)) => {
                        // The target hung up: the resident's call ends too.
                        end_leg(party_leg).await;
                        let by = if end == LegEnd::PeerBye { "party" } else { "zvonar" };
                        unbridged(self.shared, io, &target, bridged_at, by).await;
                        return Outcome::Ended(FlowEnd { cause: HangupCause::PartyBye });
                    }
                    None => {
                        end_leg(party_leg).await;
                        unbridged(self.shared, io, &target, bridged_at, "zvonar").await;
                        return Outcome::Ended(FlowEnd { cause: HangupCause::MediaLost });
                    }
                },
                ev = party_leg.next_event() => match ev {
                    Some(DialEvent::HungUp(_)) | Some(DialEvent::Failed(_)) | None => {
                        // The resident left: while the target rings, the transfer fails (487).
                        tracing::info!(%call_id, %party, "own call: the party left during the transfer");
                        if bridged_at.is_none() {
                            if let Some(mut n) = self.notifier.take() {
                                n.progress(487);
                            }
                            self.hang_up_agent(io).await;
                        }
                        end_leg(&mut leg).await;
                        unbridged(self.shared, io, &target, bridged_at, "caller").await;
                        return Outcome::Ended(FlowEnd { cause: HangupCause::PartyBye });
                    }
                    Some(_) => {}
                },
                refer = super::call::OwnCall::next_refer(&mut io.own), if !self.agent_gone => {
                    // One transfer at a time (the agent's phone sent another REFER while the
                    // target rings): 491 Request Pending (RFC 3261 §21.4.27).
                    tracing::info!(%call_id, "own call: another REFER during the transfer: 491");
                    tokio::spawn(refer.reject(491));
                }
                sig = io.signals.recv(), if !self.agent_gone => match sig {
                    Some(CallSignal::Terminated(_)) | None => {
                        // The agent's phone hung up: expected once the transfer is done, and
                        // after the 202 of a blind transfer on many desk phones.
                        self.agent_left(io);
                    }
                    Some(CallSignal::Info { responder, .. }) => responder.respond(200, None).await,
                    Some(CallSignal::Offer { sdp, cseq, reinvite, responder }) => io.answer_offer(&sdp, cseq, reinvite, responder).await,
                    Some(CallSignal::Confirmed { ack_cseq, sdp }) => io.confirmed(ack_cseq, sdp.as_deref()),
                },
                ev = io.media_events.recv(), if !self.agent_gone => match ev {
                    Some(MediaEvent::PlaybackDone { id: RINGBACK_ID }) if bridged_at.is_none() => {
                        let _ = io.media.send(MediaCommand::Play { id: RINGBACK_ID, pcm: self.ringback.clone() });
                    }
                    Some(_) => {}
                    None => self.agent_left(io),
                },
                _ = shared.shutdown.cancelled() => {
                    end_leg(&mut leg).await;
                    end_leg(party_leg).await;
                    unbridged(self.shared, io, &target, bridged_at, "zvonar").await;
                    if !self.agent_gone {
                        io.leg.hangup().await;
                    }
                    return Outcome::Ended(FlowEnd { cause: HangupCause::Shutdown });
                }
            }
        }
    }

    /// The target answered: the party and the target are bridged, the final NOTIFY (200)
    /// goes out and the agent's leg is hung up. Returns when the bridge started.
    async fn connect(
        &mut self,
        io: &mut CallIo,
        party_leg: &OutboundLeg,
        leg: &OutboundLeg,
        talk_started: Instant,
    ) -> Instant {
        let _ = party_leg.media().send(MediaCommand::StopPlayback);
        dial::bridge_media(party_leg.media(), leg.media());
        let at = Instant::now();
        publish(
            self.shared,
            io,
            CallEventKind::Bridged {
                party: leg.party().to_string(),
            },
        )
        .await;
        // The agent's part of the conversation is over.
        publish(
            self.shared,
            io,
            CallEventKind::Unbridged {
                party: party_leg.party().to_string(),
                talk_ms: talk_started.elapsed().as_millis() as u64,
                ended_by: "transferred".to_string(),
            },
        )
        .await;
        if let Some(mut n) = self.notifier.take() {
            n.progress(200);
            if !self.agent_gone {
                // The transferor's leg ends after its final NOTIFY (RFC 5589 §6).
                n.flushed(NOTIFY_GRACE).await;
            }
        }
        self.hang_up_agent(io).await;
        at
    }

    /// Ends the agent's leg (BYE) if it is still up, and the agent's part of the call.
    async fn hang_up_agent(&mut self, io: &mut CallIo) {
        if !self.agent_gone {
            io.leg.hangup().await;
        }
        self.agent_left(io);
    }

    /// The agent is out of the call: no more media to the agent's leg (the recording is the
    /// party's leg's by now), and wrap-up starts in the queues.
    fn agent_left(&mut self, io: &mut CallIo) {
        if !self.agent_gone {
            let _ = io.media.send(MediaCommand::Stop);
        }
        self.agent_gone = true;
        if let Some(own) = io.own.as_mut() {
            own.busy.take();
        }
    }
}

/// Hangs `leg` up (BYE, or CANCEL while it rings) and waits a little for it to end, so that
/// a recording it writes is finished.
async fn end_leg(leg: &mut OutboundLeg) {
    leg.hangup();
    let _ = tokio::time::timeout(LEG_END_GRACE, async {
        while let Some(ev) = leg.next_event().await {
            if matches!(ev, DialEvent::HungUp(_) | DialEvent::Failed(_)) {
                return;
            }
        }
    })
    .await;
}

/// Publishes the end of the party's bridge with the target, when there was one.
async fn unbridged(
    shared: &Shared,
    io: &CallIo,
    target: &str,
    bridged_at: Option<Instant>,
    by: &str,
) {
    if let Some(t) = bridged_at {
        publish(
            shared,
            io,
            CallEventKind::Unbridged {
                party: target.to_string(),
                talk_ms: t.elapsed().as_millis() as u64,
                ended_by: by.to_string(),
            },
        )
        .await;
    }
}

async fn publish(shared: &Shared, io: &CallIo, kind: CallEventKind) {
    shared.events.publish(&io.call_id, kind).await;
}
