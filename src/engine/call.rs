//! One call, from INVITE to the last event: routing, SDP, RTP, recording, and the call
//! flow the dialplan chose, driven by SIP signals, media events and ASR results.

use super::media::{self, MediaCommand, MediaEvent, MediaParams};
use super::robot_driver::RobotDriver;
use super::Shared;
use chrono::Utc;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use zvonar_models::{CallEventKind, CallId, Disposition, HangupCause, PhoneNumber};
use zvonar_sip::sdp::{negotiate_answer, LocalMedia, SessionDescription};
use zvonar_sip::ua::{CallSignal, IncomingCall};
use zvonar_voice::codec::Codec;
use zvonar_voice::recorder::RecorderThread;
use zvonar_voice::rtp_socket::{RtpConfig, RtpSocket};

/// How a flow ended, for the CDR.
pub struct FlowEnd {
    /// Hangup cause code.
    pub cause: HangupCause,
}

/// Everything a flow needs from the running call.
pub struct CallIo {
    /// The call id.
    pub call_id: CallId,
    /// Caller number when it normalises.
    pub caller: Option<PhoneNumber>,
    /// Commands to the media task.
    pub media: mpsc::UnboundedSender<MediaCommand>,
    /// Events from the media task.
    pub media_events: mpsc::UnboundedReceiver<MediaEvent>,
    /// SIP signals of the call.
    pub signals: mpsc::UnboundedReceiver<CallSignal>,
    /// The SIP leg (for BYE).
    pub leg: zvonar_sip::ua::Leg,
    /// Our RTP port (for answers to re-INVITEs).
    pub local_port: u16,
}

/// Runs one incoming call to its end. Never panics on peer input; every path publishes
/// `Started` and `Ended` so the CDR is complete.
pub async fn run(shared: Arc<Shared>, call: IncomingCall) {
    let call_id = CallId::new_random();
    let caller = PhoneNumber::parse_ru(&call.caller).ok();
    let local_now = (Utc::now() + chrono::Duration::hours(shared.utc_offset_hours)).naive_utc();
    let flow = shared.dialplan.route(&call.callee, local_now).cloned();
    let flow_name = flow.as_ref().map(|f| f.name.clone()).unwrap_or_default();
    shared
        .events
        .publish(
            &call_id,
            CallEventKind::Started {
                caller: caller.clone(),
                caller_raw: call.caller.clone(),
                callee: call.callee.clone(),
                transport: call.transport.to_string(),
                flow: flow_name,
            },
        )
        .await;
    shared.metrics.active_calls.inc();
    let (disposition, cause, recording, talk_ms) =
        answer_and_run(&shared, call, &call_id, caller, flow).await;
    shared.metrics.active_calls.dec();
    shared
        .metrics
        .calls
        .get_or_create(&super::metrics::DispositionLabel {
            disposition: disposition.as_str().into(),
        })
        .inc();
    shared
        .events
        .publish(
            &call_id,
            CallEventKind::Ended {
                disposition,
                cause: cause.code(),
                recording,
                talk_ms,
            },
        )
        .await;
}

async fn answer_and_run(
    shared: &Arc<Shared>,
    mut call: IncomingCall,
    call_id: &CallId,
    caller: Option<PhoneNumber>,
    flow: Option<zvonar_dialplan::Flow>,
) -> (Disposition, HangupCause, Option<String>, u64) {
    let Some(flow) = flow else {
        call.leg.reject(404, Some("no route"));
        return (Disposition::Rejected, HangupCause::NoRoute, None, 0);
    };
    let Some(offer_text) = call.offer.clone() else {
        // Offerless INVITE (RFC 3264 §5): not supported yet; the caller can retry with an offer.
        call.leg.reject(488, Some("offer required"));
        return (Disposition::Rejected, HangupCause::NoOffer, None, 0);
    };
    let offer = match SessionDescription::parse(&offer_text) {
        Ok(o) => o,
        Err(e) => {
            tracing::info!(%call_id, error = %e, "malformed SDP offer");
            call.leg.reject(400, Some("malformed SDP"));
            return (Disposition::Rejected, HangupCause::BadSdp, None, 0);
        }
    };
    // Choose the codec first (the port in this trial answer is irrelevant), then bind
    // the RTP socket for it and build the real answer with its port.
    let trial = match negotiate_answer(&offer, &LocalMedia::new(shared.public_ip, 9)) {
        Ok(n) => n,
        Err(e) => {
            tracing::info!(%call_id, error = %e, "no common media");
            call.leg.reject(e.sip_status(), Some("Not Acceptable Here"));
            return (
                Disposition::Rejected,
                HangupCause::Sip(e.sip_status()),
                None,
                0,
            );
        }
    };
    let codec = match trial.codec {
        zvonar_sip::sdp::Codec::Pcmu => Codec::Pcmu,
        _ => Codec::Pcma,
    };
    let socket = match RtpSocket::bind(RtpConfig {
        bind_ip: shared.rtp_bind_ip,
        ports: shared.rtp_ports.clone(),
        codec,
        remote: trial.remote_rtp,
        remote_rtcp: None,
        latch_any_source: true,
        cname: format!("zvonar-{call_id}"),
    })
    .await
    {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(%call_id, error = %e, "no RTP port");
            call.leg.reject(503, Some("no media ports"));
            return (Disposition::Failed, HangupCause::NoRtpPort, None, 0);
        }
    };
    let local_port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let negotiated = match negotiate_answer(&offer, &LocalMedia::new(shared.public_ip, local_port))
    {
        Ok(n) => n,
        Err(e) => {
            call.leg.reject(e.sip_status(), Some("Not Acceptable Here"));
            return (
                Disposition::Rejected,
                HangupCause::Sip(e.sip_status()),
                None,
                0,
            );
        }
    };
    call.leg.ringing();
    // Ring for the configured time; a caller who gives up meanwhile (CANCEL → 487) is a
    // missed call: CDR, no recording.
    let ring_until =
        tokio::time::Instant::now() + std::time::Duration::from_millis(shared.answer_after_ms);
    loop {
        tokio::select! {
            sig = call.signals.recv() => match sig {
                Some(CallSignal::Terminated(reason)) => {
                    return (Disposition::Missed, reason.cause(), None, 0);
                }
                Some(_) => {}
                None => return (Disposition::Failed, HangupCause::SignallingLost, None, 0),
            },
            _ = tokio::time::sleep_until(ring_until) => break,
        }
    }
    if let Err(e) = call.leg.answer(negotiated.answer.to_string()) {
        tracing::info!(%call_id, error = %e, "could not answer");
        return (Disposition::Missed, HangupCause::Cancel, None, 0);
    }
    let answered = Instant::now();
    let rel = format!("{}/{}.wav", Utc::now().format("%Y/%m/%d"), call_id);
    let path = shared.recordings_dir.join(&rel);
    let recorder = match path.parent().map(std::fs::create_dir_all) {
        Some(Ok(())) | None => match RecorderThread::spawn(&path) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::error!(%call_id, error = %e, "recording not started");
                None
            }
        },
        Some(Err(e)) => {
            tracing::error!(%call_id, error = %e, "recordings directory not writable");
            None
        }
    };
    let recording = recorder.as_ref().map(|_| rel.clone());
    shared
        .events
        .publish(
            call_id,
            CallEventKind::Answered {
                recording: rel.clone(),
            },
        )
        .await;

    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let media_task = tokio::spawn(media::run(
        socket.clone(),
        MediaParams {
            codec,
            audio_pt: negotiated.payload_type,
            te_pt: negotiated.telephone_event_pt,
            vad: Default::default(),
        },
        recorder,
        cmd_rx,
        ev_tx,
    ));
    let io = CallIo {
        call_id: call_id.clone(),
        caller,
        media: cmd_tx.clone(),
        media_events: ev_rx,
        signals: call.signals,
        leg: call.leg.clone(),
        local_port,
    };
    let end = match &flow.kind {
        zvonar_dialplan::FlowKind::Playback(p) => super::playback::run(shared, &p.prompt, io).await,
        zvonar_dialplan::FlowKind::DispatcherRobot(settings) => {
            RobotDriver::new(shared.clone(), settings, io)
                .await
                .run()
                .await
        }
        other => {
            tracing::error!(%call_id, kind = ?other, "flow kind not supported by this engine");
            io.leg.hangup().await;
            FlowEnd {
                cause: HangupCause::UnsupportedFlow,
            }
        }
    };
    let _ = cmd_tx.send(MediaCommand::Stop);
    let (stats, recorder) = media_task.await.unwrap_or_default();
    tracing::debug!(%call_id, max_gap_ms = stats.max_send_gap_ms, frames = stats.frames_sent, "media ended");
    if let Some(rec) = recorder {
        let finished = tokio::task::spawn_blocking(move || rec.finish()).await;
        if let Ok(Err(e)) = finished {
            tracing::error!(%call_id, error = %e, "recording not finalised");
        }
    }
    let talk_ms = answered.elapsed().as_millis() as u64;
    (Disposition::Answered, end.cause, recording, talk_ms)
}
