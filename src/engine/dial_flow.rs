//! The `dial` flow: connect the caller to one SIP endpoint (a SIP URI or a registered SIP
//! account) through an outgoing leg ([`super::dial`]), with ringback while it rings, and
//! the dialplan's fallback flow when nobody takes the call.
//!
//! ```text
//! answered caller ─► Dialling ─► ringback tone … ─┬─ Answered ─► Bridged … either side hangs up
//!                                                  │               └─ Unbridged, BYE to the other
//!                                                  └─ Failed(busy|no_answer|…) ─► DialFailed ─► fallback flow
//! ```
//!
//! The caller's call is answered before the party is rung (like the robot's), so the
//! recording holds the whole call in one file: the ringback and then the party on the right
//! channel, the caller on the left, on one timeline; a fallback flow (the robot) goes on in
//! the same file. An agent's own call ([`super::transfer::agent_call_flow`]) has the same
//! media and recording from the start, but its 200 OK waits for the party's answer
//! ([`CallIo::answer_pending`]): until then the agent hears the ringback as early media
//! (183), so the operator's phone shows «вызов», and a party that does not answer is the
//! agent call's final response (486, 480…) rather than a BYE.

use super::call::{CallIo, FlowEnd};
use super::dial::{self, DialEvent, DialSpec, DialTarget, OutboundLeg};
use super::media::{MediaCommand, MediaEvent};
use super::Shared;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zvonar_dialplan::config::{DialSettings, DialTo};
use zvonar_models::{CallEventKind, HangupCause};
use zvonar_sip::ua::CallSignal;
use zvonar_sip::uac::LegEnd;
use zvonar_voice::codec::SAMPLE_RATE;

/// Most flows one call may pass through by fallbacks (the dialplan already refuses loops).
pub const MAX_FALLBACKS: u8 = 4;

/// Prompt id of the ringback tone in [`MediaCommand::Play`].
const RINGBACK_ID: u64 = 0x5249_4e47;

/// How long we wait for the party's leg to confirm our BYE or CANCEL when the caller left.
const LEG_END_GRACE: Duration = Duration::from_secs(5);

/// One period of the ringback tone the caller hears while the party rings: 425 Hz for
/// 800 ms, then 3200 ms of silence (the Russian/CEPT ringing tone, ITU-T E.180 Suppl. 2),
/// 8 kHz samples at about −15 dBm0.
pub fn ringback_period() -> Vec<i16> {
    let on = (SAMPLE_RATE as usize) * 800 / 1000;
    let total = (SAMPLE_RATE as usize) * 4;
    (0..total)
        .map(|n| {
            if n < on {
                let t = n as f64 / f64::from(SAMPLE_RATE);
                (5000.0 * (2.0 * std::f64::consts::PI * 425.0 * t).sin()) as i16
            } else {
                0
            }
        })
        .collect()
}

/// Runs a dial flow to the end of the call (or of its fallback flow).
pub async fn run(
    shared: &Arc<Shared>,
    settings: &DialSettings,
    mut io: CallIo,
    depth: u8,
) -> FlowEnd {
    let call_id = io.call_id.clone();
    let target = match &settings.to {
        DialTo::Uri(u) => DialTarget::Uri(u.clone()),
        DialTo::Account(a) => DialTarget::Account(a.clone()),
        DialTo::Number(n) => DialTarget::Number(n.clone()),
    };
    let spec = DialSpec {
        call_id: call_id.clone(),
        target: target.clone(),
        from_user: io.caller.as_ref().map(|p| p.as_e164().to_string()),
        ring_timeout: Duration::from_secs(u64::from(settings.ring_timeout_s)),
        credential: None,
        record: None,
        media_events: None,
        headers: Vec::new(),
        refers: None,
    };
    // The conversation may be taken by an attended transfer ([`super::consult`]) from now on:
    // offered before the INVITE goes out, since the agent (who has our 183 and its tags) may
    // join it to the held caller while the party is still being dialled. A claim that comes
    // meanwhile waits in the channel until the leg exists.
    let consulted = target.to_string();
    let (offer, claims) = shared.consultations.offer(&call_id, &io.leg, &consulted);
    let (mut offered, mut claims) = (Some(offer), Some(claims));
    let mut leg = match dial::dial(shared, spec).await {
        Ok(l) => l,
        Err(e) => {
            tracing::info!(%call_id, party = %target, error = %e, "dial: no attempt");
            shared
                .events
                .publish(
                    &call_id,
                    CallEventKind::DialFailed {
                        party: target.to_string(),
                        outcome: e.outcome().code().to_string(),
                        status: None,
                    },
                )
                .await;
            // Nothing to hand over: a transfer asked meanwhile fails (481).
            drop((offered, claims));
            return fallback(shared, settings, io, depth, e.outcome()).await;
        }
    };
    let party = leg.party().to_string();
    shared
        .events
        .publish(
            &call_id,
            CallEventKind::Dialling {
                party: party.clone(),
            },
        )
        .await;
    let ringback: Arc<[i16]> = ringback_period().into();
    let _ = io.media.send(MediaCommand::Play {
        id: RINGBACK_ID,
        pcm: ringback.clone(),
    });
    let mut bridged_at: Option<Instant> = None;
    loop {
        tokio::select! {
            claim = super::consult::next_claim(&mut claims) => {
                tracing::info!(%call_id, %party, to_call = %claim.to_call, "attended transfer: the party goes to the held call");
                drop(offered.take());
                let _ = io.media.send(MediaCommand::Unbridge);
                let _ = io.media.send(MediaCommand::StopPlayback);
                let answered = bridged_at.is_some();
                match claim.reply.send(super::consult::HandedOver { leg, answered }) {
                    Ok(()) => {
                        unbridged(shared, &io, &party, bridged_at, "transferred").await;
                        shared.events.publish(&call_id, CallEventKind::Outcome {
                            outcome: format!("transferred_to:{}", claim.to_call),
                        }).await;
                        // Still unanswered (the party rings): 487, the agent's INVITE ends
                        // as replaced (RFC 3891 §3).
                        io.end(487).await;
                        return FlowEnd { cause: HangupCause::Transferred };
                    }
                    Err(back) => {
                        // The held call ended meanwhile: the consultation goes on.
                        leg = back.leg;
                        if answered {
                            dial::bridge(&io.media, &leg);
                        } else {
                            let _ = io.media.send(MediaCommand::Play { id: RINGBACK_ID, pcm: ringback.clone() });
                        }
                        let (o, c) = shared.consultations.offer(&call_id, &io.leg, &consulted);
                        (offered, claims) = (Some(o), Some(c));
                    }
                }
            }
            refer = super::call::OwnCall::next_refer(&mut io.own) => {
                // The agent transfers the party (REFER on the agent's own call; it comes only
                // once the call is answered, so the party is bridged).
                let Some(talk_started) = bridged_at else {
                    tokio::spawn(refer.reject(491));
                    continue;
                };
                match super::own_transfer::run(shared, &mut io, &mut leg, talk_started, refer).await {
                    super::own_transfer::Outcome::Back => {}
                    super::own_transfer::Outcome::Ended(end) => {
                        drop((offered.take(), claims.take()));
                        return end;
                    }
                }
            }
            ev = leg.next_event() => match ev {
                Some(DialEvent::Ringing) => {}
                Some(DialEvent::Answered { codec }) => {
                    tracing::info!(%call_id, %party, ?codec, "party answered: bridging");
                    if !io.answer_pending() {
                        // The agent cancelled as the party answered.
                        end_leg(shared, &io, &party, &mut leg).await;
                        return FlowEnd { cause: HangupCause::Cancel };
                    }
                    dial::bridge(&io.media, &leg);
                    bridged_at = Some(Instant::now());
                    shared.events.publish(&call_id, CallEventKind::Bridged { party: party.clone() }).await;
                }
                Some(DialEvent::Failed(outcome)) => {
                    let _ = io.media.send(MediaCommand::StopPlayback);
                    shared.events.publish(&call_id, dial::failed_event(&party, outcome)).await;
                    drop((offered.take(), claims.take()));
                    return fallback(shared, settings, io, depth, outcome).await;
                }
                Some(DialEvent::HungUp(end)) => {
                    // The party hung up (or its leg broke): end the caller's side too.
                    tracing::info!(%call_id, %party, ?end, "party's leg ended: BYE to the caller");
                    let _ = io.media.send(MediaCommand::Unbridge);
                    unbridged(shared, &io, &party, bridged_at, if end == LegEnd::PeerBye { "party" } else { "zvonar" }).await;
                    io.leg.hangup().await;
                    return FlowEnd { cause: if end == LegEnd::PeerBye { HangupCause::PartyBye } else { HangupCause::MediaLost } };
                }
                None => {
                    tracing::warn!(%call_id, "outgoing leg task gone");
                    unbridged(shared, &io, &party, bridged_at, "zvonar").await;
                    io.end(500).await;
                    return FlowEnd { cause: HangupCause::MediaLost };
                }
            },
            sig = io.signals.recv() => match sig {
                Some(CallSignal::Terminated(reason)) => {
                    let cause = reason.cause();
                    end_leg(shared, &io, &party, &mut leg).await;
                    unbridged(shared, &io, &party, bridged_at, "caller").await;
                    return FlowEnd { cause };
                }
                Some(CallSignal::Info { content_type, body, responder }) => {
                    responder.respond(200, None).await;
                    if let Some(d) = zvonar_voice::dtmf::parse_dtmf_info(&content_type, &body) {
                        // Reaches the party through the bridge (and the call's events).
                        let _ = io.media.send(MediaCommand::Digit(d));
                    }
                }
                Some(CallSignal::Offer { sdp, cseq, reinvite, responder }) => io.answer_offer(&sdp, cseq, reinvite, responder).await,
                Some(CallSignal::Confirmed { ack_cseq, sdp }) => io.confirmed(ack_cseq, sdp.as_deref()),
                None => {
                    end_leg(shared, &io, &party, &mut leg).await;
                    unbridged(shared, &io, &party, bridged_at, "caller").await;
                    return FlowEnd { cause: HangupCause::SignallingLost };
                }
            },
            ev = io.media_events.recv() => match ev {
                Some(MediaEvent::PlaybackDone { id: RINGBACK_ID }) if bridged_at.is_none() => {
                    // Still ringing: the tone goes on.
                    let _ = io.media.send(MediaCommand::Play { id: RINGBACK_ID, pcm: ringback.clone() });
                }
                Some(MediaEvent::Digit { digit, via }) => {
                    shared.events.publish(&call_id, CallEventKind::Digits { digits: digit.to_string(), via: via.to_string() }).await;
                }
                Some(_) => {}
                None => {
                    end_leg(shared, &io, &party, &mut leg).await;
                    unbridged(shared, &io, &party, bridged_at, "zvonar").await;
                    io.end(500).await;
                    return FlowEnd { cause: HangupCause::MediaLost };
                }
            },
            _ = shared.shutdown.cancelled() => {
                end_leg(shared, &io, &party, &mut leg).await;
                unbridged(shared, &io, &party, bridged_at, "zvonar").await;
                io.end(503).await;
                return FlowEnd { cause: HangupCause::Shutdown };
            }
        }
    }
}

/// Hangs the party's leg up (BYE, or CANCEL while it rings) and waits a little for it to
/// end; an attempt that was still ringing is published as `dial_failed` (`cancelled`).
async fn end_leg(shared: &Arc<Shared>, io: &CallIo, party: &str, leg: &mut OutboundLeg) {
    leg.hangup();
    let last = tokio::time::timeout(LEG_END_GRACE, async {
        while let Some(ev) = leg.next_event().await {
            if matches!(ev, DialEvent::HungUp(_) | DialEvent::Failed(_)) {
                return Some(ev);
            }
        }
        None
    })
    .await;
    if let Ok(Some(DialEvent::Failed(outcome))) = last {
        shared
            .events
            .publish(
                &io.call_id,
                CallEventKind::DialFailed {
                    party: party.to_string(),
                    outcome: outcome.code().to_string(),
                    status: None,
                },
            )
            .await;
    }
}

/// Publishes the end of the bridge, when there was one.
async fn unbridged(
    shared: &Arc<Shared>,
    io: &CallIo,
    party: &str,
    bridged_at: Option<Instant>,
    ended_by: &str,
) {
    if let Some(t) = bridged_at {
        shared
            .events
            .publish(
                &io.call_id,
                CallEventKind::Unbridged {
                    party: party.to_string(),
                    talk_ms: t.elapsed().as_millis() as u64,
                    ended_by: ended_by.to_string(),
                },
            )
            .await;
    }
}

/// Runs the dial flow's fallback flow on the same call. An empty `fallback` (a call an agent
/// placed, [`super::transfer::agent_call_flow`]) ends the call instead, with the attempt's
/// SIP status as the cause (486 busy, 480 no answer, 404…).
async fn fallback(
    shared: &Arc<Shared>,
    settings: &DialSettings,
    mut io: CallIo,
    depth: u8,
    outcome: zvonar_sip::uac::DialOutcome,
) -> FlowEnd {
    if settings.fallback.is_empty() {
        // An agent's own call still unanswered gets the party's status as its final response.
        io.end(super::transfer::status_of(outcome)).await;
        return FlowEnd {
            cause: HangupCause::Sip(super::transfer::status_of(outcome)),
        };
    }
    let Some(flow) = shared.dialplan.flow(&settings.fallback).cloned() else {
        // The dialplan is validated at load, so this cannot happen; end politely anyway.
        tracing::error!(call_id = %io.call_id, fallback = %settings.fallback, "no fallback flow");
        io.leg.hangup().await;
        return FlowEnd {
            cause: HangupCause::UnsupportedFlow,
        };
    };
    tracing::info!(call_id = %io.call_id, fallback = %flow.name, "dial: running the fallback flow");
    shared
        .events
        .publish(
            &io.call_id,
            CallEventKind::Outcome {
                outcome: format!("fallback:{}", flow.name),
            },
        )
        .await;
    super::call::run_flow(shared.clone(), flow, io, depth + 1).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ringback_tone_is_425_hz_for_800_ms_in_4_s() {
        let p = ringback_period();
        assert_eq!(p.len(), 32_000);
        assert!(p[6400..].iter().all(|&s| s == 0), "3.2 s of silence");
        // 425 Hz: 340 cycles in 0.8 s, so about 680 sign changes.
        let crossings = p[..6400]
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        assert!((675..=685).contains(&crossings), "{crossings}");
        let peak = p.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((4900..=5000).contains(&peak), "{peak}");
    }
}
