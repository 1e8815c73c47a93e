//! The caller's side of a queue: the call waits with comfort audio ([`super::hold`]), hears
//! its position and expected wait when the machine says so, and leaves when an agent's
//! conversation ends, the caller hangs up, or the queue overflows (back to the robot).

use super::{CallerCommand, QueueCallInfo};
use crate::engine::call::{CallIo, FlowEnd};
use crate::engine::media::{MediaCommand, MediaEvent};
use crate::engine::Shared;
use std::sync::Arc;
use zvonar_models::{CallEventKind, HandoverContext, HandoverReason, HangupCause};
use zvonar_sip::ua::CallSignal;

/// A call asking to join a queue.
#[derive(Clone)]
pub struct Join {
    /// The queue (`[[queue]] name`).
    pub queue: String,
    /// Emergency: ahead of the others.
    pub emergency: bool,
    /// Topic code, for the `skills` strategy.
    pub topic: Option<String>,
    /// Why.
    pub reason: HandoverReason,
    /// The robot's context.
    pub context: HandoverContext,
}

/// How the wait ended.
pub enum WaitEnd {
    /// The queue could not give the caller a person: go to this flow (the robot) for a
    /// callback request. `None`: the runtime is missing or refused the call.
    Overflow(Option<String>),
    /// The call is over (the caller or the agent hung up, or shutdown).
    Ended(FlowEnd),
    /// An agent answered (the robot, if any, is told so); the call continues until
    /// [`WaitEnd::Ended`] from [`converse`].
    Connected(tokio::sync::mpsc::UnboundedReceiver<CallerCommand>),
}

/// Ids of prompts this module plays on the media task: high, so they never clash with the
/// robot's own prompt ids on the same call.
const FIRST_ID: u64 = 1 << 40;

/// Puts the call into `join.queue` and waits there. Never panics on peer input.
pub async fn wait(shared: &Arc<Shared>, io: &mut CallIo, join: Join) -> WaitEnd {
    let Some(handle) = shared.queues.clone() else {
        tracing::error!(call_id = %io.call_id, "no queue runtime: the dialplan declares no queue");
        return WaitEnd::Overflow(None);
    };
    let mut context = join.context;
    context.recording = io.recording.clone();
    let info = QueueCallInfo {
        call_id: io.call_id.0.clone(),
        queue: join.queue.clone(),
        emergency: join.emergency,
        topic: join.topic,
        reason: join.reason,
        context,
        entered_at: chrono::Utc::now(),
    };
    let mut rx = match handle.enqueue(info, Some(io.media.clone())).await {
        Ok(rx) => rx,
        Err(e) => {
            tracing::error!(call_id = %io.call_id, error = %e, "call not queued");
            return WaitEnd::Overflow(None);
        }
    };
    publish(
        shared,
        io,
        CallEventKind::QueueEntered {
            queue: join.queue,
            emergency: join.emergency,
        },
    )
    .await;
    let hold = super::hold::hold_loop();
    let mut player = Player {
        next_id: FIRST_ID,
        current: None,
    };
    player.hold(io, &hold);
    let call = io.call_id.0.clone();
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => {
                handle.caller_gone(&call);
                let _ = io.media.send(MediaCommand::StopPlayback);
                io.leg.hangup().await;
                return WaitEnd::Ended(FlowEnd { cause: HangupCause::Shutdown });
            }
            sig = io.signals.recv() => match sig {
                Some(CallSignal::Terminated(reason)) => {
                    handle.caller_gone(&call);
                    return WaitEnd::Ended(FlowEnd { cause: reason.cause() });
                }
                Some(CallSignal::Info { responder, .. }) => responder.respond(200, None).await,
                Some(CallSignal::Offer { sdp, cseq, reinvite, responder }) => {
                    io.answer_offer(&sdp, cseq, reinvite, responder).await;
                }
                Some(CallSignal::Confirmed { ack_cseq, sdp }) => io.confirmed(ack_cseq, sdp.as_deref()),
                None => {
                    handle.caller_gone(&call);
                    return WaitEnd::Ended(FlowEnd { cause: HangupCause::SignallingLost });
                }
            },
            ev = io.media_events.recv() => match ev {
                // Keys and speech mean nothing while waiting.
                Some(MediaEvent::PlaybackDone { id }) if Some(id) == player.current => {
                    player.current = None;
                    player.hold(io, &hold);
                }
                Some(_) => {}
                None => {
                    handle.caller_gone(&call);
                    return WaitEnd::Ended(FlowEnd { cause: HangupCause::MediaLost });
                }
            },
            cmd = rx.recv() => match cmd {
                Some(CallerCommand::Announce { position, expected_wait_s }) => {
                    publish(shared, io, CallEventKind::QueueAnnounced { position, expected_wait_s }).await;
                    let text = super::hold::announcement(position, expected_wait_s);
                    publish(shared, io, CallEventKind::RobotSaid { text: text.clone() }).await;
                    match shared.tts.say(&text, "ru").await {
                        Ok(pcm) => player.play(io, pcm),
                        Err(e) => tracing::error!(error = %e, "queue announcement not synthesised"),
                    }
                }
                Some(CallerCommand::Connected { agent }) => {
                    let _ = io.media.send(MediaCommand::StopPlayback);
                    publish(shared, io, CallEventKind::AgentConnected { agent: agent.0.clone() }).await;
                    return WaitEnd::Connected(rx);
                }
                Some(CallerCommand::Requeued) => {}
                Some(CallerCommand::Overflow { flow, reason }) => {
                    let _ = io.media.send(MediaCommand::StopPlayback);
                    let reason = match reason {
                        zvonar_acd::OverflowReason::MaxWait => "max_wait",
                        zvonar_acd::OverflowReason::Unstaffed => "unstaffed",
                    };
                    publish(shared, io, CallEventKind::QueueOverflowed { flow: flow.clone(), reason: reason.into() }).await;
                    return WaitEnd::Overflow(Some(flow));
                }
                // Only a connected call is transferred; a waiting one cannot get this.
                Some(CallerCommand::Transfer { progress, .. }) => {
                    progress.send(crate::engine::transfer::TransferProgress::Failed(481));
                }
                Some(CallerCommand::AgentHungUp) | None => {
                    let _ = io.media.send(MediaCommand::StopPlayback);
                    io.leg.hangup().await;
                    return WaitEnd::Ended(FlowEnd { cause: HangupCause::PartyBye });
                }
            },
        }
    }
}

/// How a caller's time with agents ended ([`converse`]).
pub enum Conversed {
    /// The call is over.
    Ended(FlowEnd),
    /// The agent transferred the caller to this flow (the robot), or the queue the caller
    /// went back to overflowed to it (`None`: its overflow flow is unknown).
    Flow(Option<String>),
}

/// The conversation with the agent after [`WaitEnd::Connected`] (the caller joined with
/// `join`): the lines bridge the media; this waits for either side to hang up (or for the
/// agent's endpoint to vanish: the call goes back to waiting, with comfort audio). A blind
/// transfer by the agent ([`CallerCommand::Transfer`]) is carried out here: to a queue, the
/// caller waits there and the next agent's conversation follows; to an account or a number,
/// the caller hears ringback and is bridged to it ([`crate::engine::transfer::to_party`]);
/// when that target does not answer, the caller goes back to the queue of `join` (the
/// queue the transfer came from) and waits for the next agent; to a flow, [`Conversed::Flow`].
pub async fn converse(
    shared: &Arc<Shared>,
    io: &mut CallIo,
    rx: tokio::sync::mpsc::UnboundedReceiver<CallerCommand>,
    join: Join,
) -> Conversed {
    use crate::engine::transfer::{self, TransferProgress, TransferTarget};
    let mut rx = rx;
    let mut queue = join.queue.clone();
    loop {
        let (agent, target, progress) = match talk(shared, io, rx).await {
            Talked::Ended(end) => return Conversed::Ended(end),
            Talked::Transfer {
                agent,
                target,
                progress,
            } => (agent, target, progress),
        };
        let _ = io.media.send(MediaCommand::Unbridge);
        publish(
            shared,
            io,
            CallEventKind::Transferred {
                agent: agent.0.clone(),
                target: target.label(),
            },
        )
        .await;
        let next_queue = match target {
            TransferTarget::Queue(q) => {
                progress.send(TransferProgress::Done);
                q
            }
            TransferTarget::Flow(f) => {
                progress.send(TransferProgress::Done);
                return Conversed::Flow(Some(f));
            }
            TransferTarget::Account(a) => {
                let t = crate::engine::dial::DialTarget::Account(a);
                match transfer::to_party(shared, io, t, &progress).await {
                    Some(end) => return Conversed::Ended(end),
                    None => queue.clone(),
                }
            }
            TransferTarget::Number(n) => {
                let t = crate::engine::dial::DialTarget::Number(n);
                match transfer::to_party(shared, io, t, &progress).await {
                    Some(end) => return Conversed::Ended(end),
                    None => queue.clone(),
                }
            }
            TransferTarget::Consulted(c) => {
                match transfer::to_consulted(shared, io, &c, &progress).await {
                    Some(end) => return Conversed::Ended(end),
                    None => queue.clone(),
                }
            }
        };
        queue = next_queue.clone();
        let again = Join {
            queue: next_queue,
            emergency: join.emergency,
            topic: join.topic.clone(),
            reason: join.reason,
            context: join.context.clone(),
        };
        match wait(shared, io, again).await {
            WaitEnd::Ended(end) => return Conversed::Ended(end),
            WaitEnd::Overflow(flow) => {
                let flow = flow.or_else(|| {
                    shared
                        .dialplan
                        .queues()
                        .iter()
                        .find(|q| q.id.0 == queue)
                        .map(|q| q.overflow.clone())
                });
                return Conversed::Flow(flow);
            }
            WaitEnd::Connected(next) => rx = next,
        }
    }
}

/// How one agent's conversation ended.
enum Talked {
    Ended(FlowEnd),
    Transfer {
        agent: zvonar_acd::AgentId,
        target: crate::engine::transfer::TransferTarget,
        progress: crate::engine::transfer::ProgressTx,
    },
}

/// One agent's conversation (see [`converse`]).
async fn talk(
    shared: &Arc<Shared>,
    io: &mut CallIo,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<CallerCommand>,
) -> Talked {
    let Some(handle) = shared.queues.clone() else {
        io.leg.hangup().await;
        return Talked::Ended(FlowEnd {
            cause: HangupCause::SignallingLost,
        });
    };
    let call = io.call_id.0.clone();
    let hold = super::hold::hold_loop();
    let mut player = Player {
        next_id: FIRST_ID,
        current: None,
    };
    let mut waiting = false;
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => {
                handle.caller_gone(&call);
                io.leg.hangup().await;
                return Talked::Ended(FlowEnd { cause: HangupCause::Shutdown });
            }
            sig = io.signals.recv() => match sig {
                Some(CallSignal::Terminated(reason)) => {
                    handle.caller_gone(&call);
                    return Talked::Ended(FlowEnd { cause: reason.cause() });
                }
                Some(CallSignal::Info { responder, .. }) => responder.respond(200, None).await,
                Some(CallSignal::Offer { sdp, cseq, reinvite, responder }) => {
                    io.answer_offer(&sdp, cseq, reinvite, responder).await;
                }
                Some(CallSignal::Confirmed { ack_cseq, sdp }) => io.confirmed(ack_cseq, sdp.as_deref()),
                None => {
                    handle.caller_gone(&call);
                    return Talked::Ended(FlowEnd { cause: HangupCause::SignallingLost });
                }
            },
            ev = io.media_events.recv() => match ev {
                Some(MediaEvent::PlaybackDone { id }) if waiting && Some(id) == player.current => {
                    player.current = None;
                    player.hold(io, &hold);
                }
                Some(_) => {}
                None => {
                    handle.caller_gone(&call);
                    return Talked::Ended(FlowEnd { cause: HangupCause::MediaLost });
                }
            },
            cmd = rx.recv() => match cmd {
                Some(CallerCommand::Requeued) => {
                    waiting = true;
                    let _ = io.media.send(MediaCommand::Unbridge);
                    player.hold(io, &hold);
                }
                Some(CallerCommand::Connected { agent }) => {
                    waiting = false;
                    player.current = None;
                    let _ = io.media.send(MediaCommand::StopPlayback);
                    publish(shared, io, CallEventKind::AgentConnected { agent: agent.0.clone() }).await;
                }
                Some(CallerCommand::Announce { position, expected_wait_s }) => {
                    publish(shared, io, CallEventKind::QueueAnnounced { position, expected_wait_s }).await;
                    let text = super::hold::announcement(position, expected_wait_s);
                    if let Ok(pcm) = shared.tts.say(&text, "ru").await {
                        player.play(io, pcm);
                    }
                }
                Some(CallerCommand::Transfer { agent, target, progress }) => {
                    return Talked::Transfer { agent, target, progress };
                }
                Some(CallerCommand::Overflow { .. }) | Some(CallerCommand::AgentHungUp) | None => {
                    let _ = io.media.send(MediaCommand::StopPlayback);
                    io.leg.hangup().await;
                    return Talked::Ended(FlowEnd { cause: HangupCause::PartyBye });
                }
            },
        }
    }
}

/// What this module has queued on the media task.
struct Player {
    next_id: u64,
    /// The prompt whose end starts the comfort audio again.
    current: Option<u64>,
}

impl Player {
    /// Queues one pass of the comfort loop (after whatever plays).
    fn hold(&mut self, io: &CallIo, pcm: &Arc<[i16]>) {
        let id = self.next_id;
        self.next_id += 1;
        self.current = Some(id);
        let _ = io.media.send(MediaCommand::Play {
            id,
            pcm: pcm.clone(),
        });
    }

    /// Cuts the comfort audio for an announcement; the loop resumes after it.
    fn play(&mut self, io: &CallIo, pcm: Arc<[i16]>) {
        let _ = io.media.send(MediaCommand::StopPlayback);
        let id = self.next_id;
        self.next_id += 1;
        self.current = Some(id);
        let _ = io.media.send(MediaCommand::Play { id, pcm });
    }
}

async fn publish(shared: &Shared, io: &CallIo, kind: CallEventKind) {
    shared.events.publish(&io.call_id, kind).await;
}

/// A `kind = "queue"` flow: the call waits in the queue; an agent takes it, or it overflows
/// to the queue's `overflow` flow (the robot, which takes a callback request at once).
pub async fn run_flow(
    shared: &Arc<Shared>,
    settings: &zvonar_dialplan::QueueFlowSettings,
    mut io: CallIo,
) -> FlowEnd {
    let join = Join {
        queue: settings.queue.0.clone(),
        emergency: false,
        topic: None,
        reason: HandoverReason::Routed,
        context: HandoverContext {
            caller: io.caller.clone(),
            ..HandoverContext::default()
        },
    };
    match wait(shared, &mut io, join.clone()).await {
        WaitEnd::Ended(end) => end,
        WaitEnd::Connected(rx) => match converse(shared, &mut io, rx, join).await {
            Conversed::Ended(end) => end,
            Conversed::Flow(flow) => transfer_to_flow(shared, flow, io).await,
        },
        WaitEnd::Overflow(flow) => {
            let flow = flow.or_else(|| {
                shared
                    .dialplan
                    .queues()
                    .iter()
                    .find(|q| q.id == settings.queue)
                    .map(|q| q.overflow.clone())
            });
            overflow_to(shared, flow, io).await
        }
    }
}

/// Runs the flow an agent transferred the call to (or that a queue it went back to
/// overflowed to) on the call, from its start.
async fn transfer_to_flow(shared: &Arc<Shared>, flow: Option<String>, io: CallIo) -> FlowEnd {
    match flow
        .as_deref()
        .and_then(|f| shared.dialplan.flow(f))
        .cloned()
    {
        Some(flow) => crate::engine::call::run_flow(shared.clone(), flow, io, 1).await,
        None => {
            tracing::error!(call_id = %io.call_id, ?flow, "transfer: no such flow");
            io.leg.hangup().await;
            FlowEnd {
                cause: HangupCause::UnsupportedFlow,
            }
        }
    }
}

/// Runs the overflow flow of a queue on the call: the robot starts by taking a callback
/// request (no greeting: the caller asked for a person already); a playback flow plays.
async fn overflow_to(shared: &Arc<Shared>, flow: Option<String>, io: CallIo) -> FlowEnd {
    let kind = flow
        .as_deref()
        .and_then(|f| shared.dialplan.flow(f))
        .map(|f| f.kind.clone());
    match kind {
        Some(zvonar_dialplan::FlowKind::DispatcherRobot(s)) => {
            crate::engine::robot_driver::RobotDriver::new(shared.clone(), &s, io)
                .await
                .run_from(zvonar_dialplan::robot::RobotInput::OperatorUnavailable)
                .await
        }
        Some(zvonar_dialplan::FlowKind::Playback(p)) => {
            crate::engine::playback::run(shared, &p.prompt, io).await
        }
        _ => {
            tracing::error!(call_id = %io.call_id, ?flow, "queue overflow flow cannot take the call");
            io.leg.hangup().await;
            FlowEnd {
                cause: HangupCause::UnsupportedFlow,
            }
        }
    }
}
