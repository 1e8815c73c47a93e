//! The `playback` flow: answer, play one prompt, hang up. Used for announcements and for
//! the SIP load benchmark.

use super::call::{CallIo, FlowEnd};
use super::media::{MediaCommand, MediaEvent};
use super::Shared;
use std::sync::Arc;
use zvonar_models::{CallEventKind, HangupCause};
use zvonar_sip::ua::CallSignal;

/// Plays the flow's prompt and hangs up when it has been played.
pub async fn run(
    shared: &Arc<Shared>,
    prompt: &zvonar_dialplan::Prompt,
    mut io: CallIo,
) -> FlowEnd {
    let pcm = match shared.prompt(prompt).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "playback prompt unavailable");
            io.leg.hangup().await;
            return FlowEnd {
                cause: HangupCause::PromptError,
            };
        }
    };
    shared
        .events
        .publish(
            &io.call_id,
            CallEventKind::RobotSaid {
                text: describe(prompt),
            },
        )
        .await;
    let _ = io.media.send(MediaCommand::Play { id: 1, pcm });
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => {
                // The drain time after SIGTERM is over: end the call ourselves.
                io.leg.hangup().await;
                return FlowEnd { cause: HangupCause::Shutdown };
            }
            sig = io.signals.recv() => match sig {
                Some(CallSignal::Terminated(reason)) => return FlowEnd { cause: reason.cause() },
                Some(CallSignal::Info { responder, .. }) => responder.respond(200, None).await,
                Some(CallSignal::Offer { sdp, cseq, reinvite, responder }) => io.answer_offer(&sdp, cseq, reinvite, responder).await,
                Some(CallSignal::Confirmed { ack_cseq, sdp }) => io.confirmed(ack_cseq, sdp.as_deref()),
                None => return FlowEnd { cause: HangupCause::SignallingLost },
            },
            ev = io.media_events.recv() => match ev {
                Some(MediaEvent::PlaybackDone { id: 1 }) => {
                    io.leg.hangup().await;
                    return FlowEnd { cause: HangupCause::RobotBye };
                }
                Some(_) => {}
                None => return FlowEnd { cause: HangupCause::MediaLost },
            },
        }
    }
}

/// The prompt as the call timeline shows it: its text, or `[file]`.
pub fn describe(prompt: &zvonar_dialplan::Prompt) -> String {
    match prompt {
        zvonar_dialplan::Prompt::Text(t) => t.clone(),
        zvonar_dialplan::Prompt::File(f) => format!("[{f}]"),
    }
}
