//! Blind transfer of a queued call by the agent talking to it (RFC 3515 REFER on the agent's
//! leg, from a desk phone or the console's JsSIP `session.refer`). zvonar is the B2BUA: it
//! answers the REFER itself (202, NOTIFYs with the new call's status,
//! [`zvonar_sip::refer`]) and moves the caller's leg; the agent's leg is hung up once the
//! outcome is known.
//!
//! ```text
//! agent's phone ──REFER Refer-To: <sip:TARGET@zvonar>──► SipLines leg task
//!     classify(TARGET) ─► 404 when nothing matches
//!     202, NOTIFY 100 ─► queue runtime: Transfer ─► Acd CallTransferred (agent → wrap-up,
//!                        queue log `transferred`) ─► caller's task: CallerCommand::Transfer
//! caller's task:  queue TARGET  → waits there (hold music)                 NOTIFY 200
//!                 flow TARGET   → the flow runs (the robot)                NOTIFY 200
//!                 account/number→ ringback, dial ([`to_party`]) ─┬ answered: bridge, NOTIFY 200
//!                                                                └ failed:  NOTIFY 486/480/…,
//!                                                                  the caller goes back to the
//!                                                                  queue it was transferred from
//! ```
//!
//! The call's recording is on the caller's leg, so it goes on with the new party on the right
//! channel; the call's timeline shows `transferred`, then `dialling`/`bridged` (or
//! `dial_failed` and `queue_entered` again).

use super::call::{CallIo, FlowEnd};
use super::dial::{self, DialEvent, DialOutcome, DialSpec, DialTarget};
use super::dial_flow::ringback_period;
use super::media::{MediaCommand, MediaEvent};
use super::Shared;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use zvonar_models::{CallEventKind, HangupCause};
use zvonar_sip::ua::CallSignal;
use zvonar_sip::uac::LegEnd;

/// How long a transfer target (an agent's phone, an outside number) rings before the caller
/// goes back to the queue, s.
pub const TRANSFER_RING_TIMEOUT: Duration = Duration::from_secs(30);

/// Prompt id of the ringback tone played to the caller while the target rings.
const RINGBACK_ID: u64 = 0x5452_4e53;

/// Where an agent sends the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferTarget {
    /// A SIP account (an agent's or a colleague's extension), rung at its registration.
    Account(String),
    /// A queue (`[[queue]] name`): the caller waits there for the next agent.
    Queue(String),
    /// A dialplan flow (the robot): it takes the call.
    Flow(String),
    /// An outside number, dialled through the trunks with the company's caller ID.
    Number(String),
    /// The party of the agent's consultation call (attended transfer, RFC 5589 §7): already
    /// answered, taken out of that call and bridged ([`super::consult`]).
    Consulted(super::consult::Consultation),
}

impl TransferTarget {
    /// `account:102`, `queue:operators`, `flow:dispatcher`, `number:+74951234567`: the queue
    /// log's and the timeline's spelling.
    pub fn label(&self) -> String {
        match self {
            TransferTarget::Account(a) => format!("account:{a}"),
            TransferTarget::Queue(q) => format!("queue:{q}"),
            TransferTarget::Flow(f) => format!("flow:{f}"),
            TransferTarget::Number(n) => format!("number:{n}"),
            TransferTarget::Consulted(c) => format!("attended:{}", c.party),
        }
    }
}

/// Shortest outside number: 7 digits (a city number without its area code); shorter
/// all-digit targets are extensions (SIP accounts).
pub const MIN_OUTSIDE_DIGITS: usize = 7;

/// Which target the `Refer-To` user part `user` names, or `None` (answered 404): a queue
/// name; a flow name (a flow of `kind = "queue"` means its queue); a SIP account that is
/// registered now (`registered`); an outside number (an optional `+` and at least
/// [`MIN_OUTSIDE_DIGITS`] digits, up to 20); a shorter all-digit user is an extension (a SIP
/// account that may be off: ringing it then fails and the caller comes back). In that order.
///
/// `queues` are the dialplan's queue names; `flow_queue(name)` is `Some(Some(queue))` for a
/// queue flow, `Some(None)` for another flow, `None` when no flow has that name.
pub fn classify(
    user: &str,
    queues: &[&str],
    flow_queue: impl Fn(&str) -> Option<Option<String>>,
    registered: impl Fn(&str) -> bool,
) -> Option<TransferTarget> {
    let user = user.trim();
    if user.is_empty() {
        return None;
    }
    if queues.contains(&user) {
        return Some(TransferTarget::Queue(user.to_string()));
    }
    match flow_queue(user) {
        Some(Some(q)) => return Some(TransferTarget::Queue(q)),
        Some(None) => return Some(TransferTarget::Flow(user.to_string())),
        None => {}
    }
    if registered(user) {
        return Some(TransferTarget::Account(user.to_string()));
    }
    let digits = user.strip_prefix('+').unwrap_or(user);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if digits.len() >= MIN_OUTSIDE_DIGITS && dial::is_phone_number(user) {
            return Some(TransferTarget::Number(user.to_string()));
        }
        if !user.starts_with('+') {
            return Some(TransferTarget::Account(user.to_string()));
        }
    }
    None
}

/// [`classify`] against the engine's dialplan (its queues and flows) and its registrar's
/// bindings now.
pub fn classify_in(shared: &Shared, user: &str) -> Option<TransferTarget> {
    use zvonar_dialplan::FlowKind;
    let queues: Vec<String> = shared
        .dialplan
        .queues()
        .iter()
        .map(|q| q.id.0.clone())
        .collect();
    let names: Vec<&str> = queues.iter().map(String::as_str).collect();
    let registrar = shared.sip().and_then(|s| s.registrar());
    let now_s = super::queue::now_ms() / 1000;
    classify(
        user,
        &names,
        |f| {
            shared.dialplan.flow(f).map(|flow| match &flow.kind {
                FlowKind::Queue(q) => Some(q.queue.0.clone()),
                _ => None,
            })
        },
        |a| {
            registrar
                .as_ref()
                .and_then(|r| r.lock().ok().map(|mut r| !r.bindings(a, now_s).is_empty()))
                .unwrap_or(false)
        },
    )
}

/// Ring time of a call an agent places (click-to-call, or dialling from a desk phone), s.
pub const AGENT_CALL_RING_TIMEOUT_S: u32 = 60;

/// The flow of a call an agent places from the console's softphone (click-to-call) or a
/// registered desk phone: the dialled user part is classified like a transfer target
/// ([`classify`]): an extension or registered account is rung at its registration, an outside
/// number goes through the trunks with the company's caller ID (`[[trunk]] caller_id`), a
/// queue or flow name takes the call there. An unanswered attempt ends the call (no fallback
/// flow: the agent's phone gets the party's status, 486, 480…, and the operator records the
/// outcome). A dialled party is answered for: the agent's call gets its 200 OK when the party
/// answers, hearing the ringback as early media (183) until then ([`super::dial_flow`]). It is
/// recorded like any other call, the agent on the right channel
/// ([`zvonar_voice::recorder::ChannelLayout::CallerRight`]), the party on the left. `None`:
/// nothing matches (404).
pub fn agent_call_flow(shared: &Shared, dialled: &str) -> Option<zvonar_dialplan::Flow> {
    use zvonar_dialplan::config::{DialSettings, DialTo};
    use zvonar_dialplan::{Flow, FlowKind};
    let target = classify_in(shared, dialled)?;
    let dial = |to: DialTo| Flow {
        name: AGENT_CALL_FLOW.to_string(),
        kind: FlowKind::Dial(DialSettings {
            to,
            ring_timeout_s: AGENT_CALL_RING_TIMEOUT_S,
            fallback: String::new(),
        }),
    };
    match target {
        TransferTarget::Account(a) => Some(dial(DialTo::Account(a))),
        TransferTarget::Number(n) => Some(dial(DialTo::Number(n))),
        TransferTarget::Flow(f) => shared.dialplan.flow(&f).cloned(),
        TransferTarget::Queue(q) => shared
            .dialplan
            .flows()
            .find(|f| matches!(&f.kind, FlowKind::Queue(s) if s.queue.0 == q))
            .cloned(),
        // `classify` names no consultation: those come only with a REFER's `Replaces`.
        TransferTarget::Consulted(_) => None,
    }
}

/// The flow name calls placed by agents report (`CallEventKind::Started::flow`).
pub const AGENT_CALL_FLOW: &str = zvonar_models::AGENT_CALL_FLOW;

/// The SIP status the transferor's NOTIFY reports for an unanswered target (RFC 3515
/// §2.4.5: the final response of the new call): busy 486, no answer 480, declined 603,
/// no such number 404, cancelled 487, anything else its own status or 500.
pub fn status_of(outcome: DialOutcome) -> u16 {
    match outcome {
        DialOutcome::Busy => 486,
        DialOutcome::NoAnswer => 480,
        DialOutcome::Rejected => 603,
        DialOutcome::InvalidNumber => 404,
        DialOutcome::Cancelled => 487,
        DialOutcome::Failed(s) if s >= 300 => s,
        DialOutcome::Failed(_) => 500,
    }
}

/// How the new call goes, reported to the transferring agent's leg (which sends the NOTIFYs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferProgress {
    /// The target rings (NOTIFY 180).
    Ringing,
    /// The target took the call (NOTIFY 200): answered, or the caller is in the target queue
    /// or flow.
    Done,
    /// The target did not answer, with the SIP status to report (486, 480, 404…): the caller
    /// goes back to the queue.
    Failed(u16),
}

/// Where [`TransferProgress`] goes: the transferring agent's leg task. Two are equal when they
/// feed the same channel (so commands carrying one compare in tests).
#[derive(Clone, Debug)]
pub struct ProgressTx(pub mpsc::UnboundedSender<TransferProgress>);

impl ProgressTx {
    /// Reports `p` (ignored when the agent's leg is gone).
    pub fn send(&self, p: TransferProgress) {
        let _ = self.0.send(p);
    }
}

impl PartialEq for ProgressTx {
    fn eq(&self, other: &Self) -> bool {
        self.0.same_channel(&other.0)
    }
}

impl Eq for ProgressTx {}

/// Rings `target` for the caller of `io` with ringback meanwhile, bridges it when it answers
/// and carries the conversation to its end: `Some(end)` when the call is over (either side
/// hung up), `None` when the target did not answer (the caller is still there, nothing
/// playing: the caller's task puts it back in the queue). `progress` hears ringing, answer
/// or failure.
pub async fn to_party(
    shared: &Arc<Shared>,
    io: &mut CallIo,
    target: DialTarget,
    progress: &ProgressTx,
) -> Option<FlowEnd> {
    let call_id = io.call_id.clone();
    let spec = DialSpec {
        call_id: call_id.clone(),
        target: target.clone(),
        from_user: io.caller.as_ref().map(|p| p.as_e164().to_string()),
        ring_timeout: TRANSFER_RING_TIMEOUT,
        credential: None,
        record: None,
        media_events: None,
        // An agent's console shows this call's card while it rings.
        headers: vec![("X-Zvonar-Call".to_string(), call_id.0.clone())],
        refers: None,
    };
    let _ = io.media.send(MediaCommand::StopPlayback);
    let _ = io.media.send(MediaCommand::Play {
        id: RINGBACK_ID,
        pcm: ringback_period().into(),
    });
    let leg = match dial::dial(shared, spec).await {
        Ok(l) => l,
        Err(e) => {
            tracing::info!(%call_id, party = %target, error = %e, "transfer: target not rung");
            let _ = io.media.send(MediaCommand::StopPlayback);
            publish(
                shared,
                io,
                CallEventKind::DialFailed {
                    party: target.to_string(),
                    outcome: e.outcome().code().to_string(),
                    status: None,
                },
            )
            .await;
            progress.send(TransferProgress::Failed(status_of(e.outcome())));
            return None;
        }
    };
    let party = leg.party().to_string();
    publish(
        shared,
        io,
        CallEventKind::Dialling {
            party: party.clone(),
        },
    )
    .await;
    with_party(shared, io, leg, party, progress, false).await
}

/// Bridges the caller of `io` to the party of the agent's consultation call (attended
/// transfer, [`super::consult`]; a party that still rings is answered into this call, the
/// caller hearing ringback meanwhile) and carries the conversation to its end, like
/// [`to_party`]: `Some(end)` when the call is over, `None` when the consultation ended
/// before its party could be taken (`progress` hears 481, RFC 3891 §3: no such dialog) or
/// the ringing party did not answer (its status): the caller's task puts the caller back in
/// the queue.
pub async fn to_consulted(
    shared: &Arc<Shared>,
    io: &mut CallIo,
    consultation: &super::consult::Consultation,
    progress: &ProgressTx,
) -> Option<FlowEnd> {
    let party = consultation.party.clone();
    let Some(handed) = consultation.take(&io.call_id).await else {
        tracing::info!(call_id = %io.call_id, %party, consultation = %consultation.call_id,
            "attended transfer: the consultation ended first");
        publish(
            shared,
            io,
            CallEventKind::DialFailed {
                party,
                outcome: "consultation_ended".to_string(),
                status: Some(481),
            },
        )
        .await;
        progress.send(TransferProgress::Failed(481));
        return None;
    };
    tracing::info!(call_id = %io.call_id, %party, consultation = %consultation.call_id,
        answered = handed.answered, "attended transfer: the consulted party joins");
    if !handed.answered {
        let _ = io.media.send(MediaCommand::StopPlayback);
        let _ = io.media.send(MediaCommand::Play {
            id: RINGBACK_ID,
            pcm: ringback_period().into(),
        });
    }
    with_party(shared, io, handed.leg, party, progress, handed.answered).await
}

/// The conversation of the caller of `io` with the party of `leg` (ringing unless
/// `answered`), to its end: see [`to_party`].
async fn with_party(
    shared: &Arc<Shared>,
    io: &mut CallIo,
    mut leg: dial::OutboundLeg,
    party: String,
    progress: &ProgressTx,
    answered: bool,
) -> Option<FlowEnd> {
    let call_id = io.call_id.clone();
    let ringback: Arc<[i16]> = ringback_period().into();
    let mut bridged_at: Option<Instant> = None;
    if answered {
        let _ = io.media.send(MediaCommand::StopPlayback);
        dial::bridge(&io.media, &leg);
        bridged_at = Some(Instant::now());
        publish(
            shared,
            io,
            CallEventKind::Bridged {
                party: party.clone(),
            },
        )
        .await;
        progress.send(TransferProgress::Done);
    }
    let unbridged = |at: Option<Instant>, by: &str| {
        at.map(|t| CallEventKind::Unbridged {
            party: party.clone(),
            talk_ms: t.elapsed().as_millis() as u64,
            ended_by: by.to_string(),
        })
    };
    loop {
        tokio::select! {
            ev = leg.next_event() => match ev {
                Some(DialEvent::Ringing) => progress.send(TransferProgress::Ringing),
                Some(DialEvent::Answered { .. }) => {
                    tracing::info!(%call_id, %party, "transfer target answered: bridging");
                    dial::bridge(&io.media, &leg);
                    bridged_at = Some(Instant::now());
                    publish(shared, io, CallEventKind::Bridged { party: party.clone() }).await;
                    progress.send(TransferProgress::Done);
                }
                Some(DialEvent::Failed(outcome)) => {
                    let _ = io.media.send(MediaCommand::StopPlayback);
                    publish(shared, io, dial::failed_event(&party, outcome)).await;
                    progress.send(TransferProgress::Failed(status_of(outcome)));
                    return None;
                }
                Some(DialEvent::HungUp(end)) => {
                    let _ = io.media.send(MediaCommand::Unbridge);
                    let by = if end == LegEnd::PeerBye { "party" } else { "zvonar" };
                    if let Some(ev) = unbridged(bridged_at, by) {
                        publish(shared, io, ev).await;
                    }
                    io.leg.hangup().await;
                    return Some(FlowEnd { cause: if end == LegEnd::PeerBye { HangupCause::PartyBye } else { HangupCause::MediaLost } });
                }
                None => {
                    if let Some(ev) = unbridged(bridged_at, "zvonar") {
                        publish(shared, io, ev).await;
                    }
                    io.leg.hangup().await;
                    return Some(FlowEnd { cause: HangupCause::MediaLost });
                }
            },
            sig = io.signals.recv() => match sig {
                Some(CallSignal::Terminated(reason)) => {
                    leg.hangup();
                    if bridged_at.is_none() {
                        progress.send(TransferProgress::Failed(487));
                    }
                    if let Some(ev) = unbridged(bridged_at, "caller") {
                        publish(shared, io, ev).await;
                    }
                    return Some(FlowEnd { cause: reason.cause() });
                }
                Some(CallSignal::Info { content_type, body, responder }) => {
                    responder.respond(200, None).await;
                    if let Some(d) = zvonar_voice::dtmf::parse_dtmf_info(&content_type, &body) {
                        let _ = io.media.send(MediaCommand::Digit(d));
                    }
                }
                Some(CallSignal::Offer { sdp, cseq, reinvite, responder }) => io.answer_offer(&sdp, cseq, reinvite, responder).await,
                Some(CallSignal::Confirmed { ack_cseq, sdp }) => io.confirmed(ack_cseq, sdp.as_deref()),
                None => {
                    leg.hangup();
                    return Some(FlowEnd { cause: HangupCause::SignallingLost });
                }
            },
            ev = io.media_events.recv() => match ev {
                Some(MediaEvent::PlaybackDone { id: RINGBACK_ID }) if bridged_at.is_none() => {
                    let _ = io.media.send(MediaCommand::Play { id: RINGBACK_ID, pcm: ringback.clone() });
                }
                Some(_) => {}
                None => {
                    leg.hangup();
                    io.leg.hangup().await;
                    return Some(FlowEnd { cause: HangupCause::MediaLost });
                }
            },
            _ = shared.shutdown.cancelled() => {
                leg.hangup();
                io.leg.hangup().await;
                return Some(FlowEnd { cause: HangupCause::Shutdown });
            }
        }
    }
}

async fn publish(shared: &Shared, io: &CallIo, kind: CallEventKind) {
    shared.events.publish(&io.call_id, kind).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_in(user: &str) -> Option<TransferTarget> {
        classify(
            user,
            &["operators", "ads"],
            |f| match f {
                "dispatcher" => Some(None),
                "to_operators" => Some(Some("operators".to_string())),
                _ => None,
            },
            |a| a == "102" || a == "boris",
        )
    }

    #[test]
    fn refer_targets_are_classified() {
        use TransferTarget::*;
        assert_eq!(classify_in("ads"), Some(Queue("ads".into())));
        assert_eq!(classify_in("to_operators"), Some(Queue("operators".into())));
        assert_eq!(classify_in("dispatcher"), Some(Flow("dispatcher".into())));
        assert_eq!(classify_in("102"), Some(Account("102".into())));
        assert_eq!(classify_in("boris"), Some(Account("boris".into())));
        // An extension that is not registered now is still an extension, never a trunk call.
        assert_eq!(classify_in("105"), Some(Account("105".into())));
        assert_eq!(
            classify_in("+74951234567"),
            Some(Number("+74951234567".into()))
        );
        assert_eq!(
            classify_in("84951234567"),
            Some(Number("84951234567".into()))
        );
        assert_eq!(classify_in("2345678"), Some(Number("2345678".into())));
        for unknown in ["", "nobody", "+12", "1-2"] {
            assert_eq!(classify_in(unknown), None, "{unknown:?}");
        }
        assert_eq!(
            [
                Account("102".into()).label(),
                Queue("ads".into()).label(),
                Flow("dispatcher".into()).label(),
                Number("+7".into()).label()
            ],
            ["account:102", "queue:ads", "flow:dispatcher", "number:+7"]
        );
    }

    #[test]
    fn unanswered_targets_report_their_status() {
        assert_eq!(status_of(DialOutcome::Busy), 486);
        assert_eq!(status_of(DialOutcome::NoAnswer), 480);
        assert_eq!(status_of(DialOutcome::Rejected), 603);
        assert_eq!(status_of(DialOutcome::InvalidNumber), 404);
        assert_eq!(status_of(DialOutcome::Cancelled), 487);
        assert_eq!(status_of(DialOutcome::Failed(503)), 503);
        assert_eq!(status_of(DialOutcome::Failed(0)), 500);
    }
}
