//! One call, from INVITE to the last event: routing, SDP, RTP, recording, and the call
//! flow the dialplan chose, driven by SIP signals, media events and ASR results.

use super::media::{self, MediaCommand, MediaEvent, MediaLeg, MediaParams};
use super::reoffer::{AckOutcome, CallSdp, OfferError};
use super::robot_driver::RobotDriver;
use super::Shared;
use chrono::Utc;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use zvonar_models::{CallEventKind, CallId, Disposition, HangupCause, PhoneNumber};
use zvonar_sip::sdp::LocalMedia;
use zvonar_sip::ua::{CallSignal, IncomingCall};
use zvonar_voice::codec::Codec;
use zvonar_voice::recorder::{ChannelLayout, RecorderThread};
use zvonar_voice::rtp_socket::{RtpConfig, RtpSocket};
use zvonar_voice::webrtc_leg::{is_webrtc_offer, WebRtcConfig, WebRtcError, WebRtcLeg};

/// How a flow ended, for the CDR.
pub struct FlowEnd {
    /// Hangup cause code.
    pub cause: HangupCause,
}

/// Everything a flow needs from the running call.
pub struct CallIo {
    /// The call id.
    pub call_id: CallId,
    /// The caller's number, only when verified (from a trusted source, see
    /// [`super::caller_id`]) and normalised; the robot looks the caller up by it.
    pub caller: Option<PhoneNumber>,
    /// Commands to the media task.
    pub media: mpsc::UnboundedSender<MediaCommand>,
    /// Events from the media task.
    pub media_events: mpsc::UnboundedReceiver<MediaEvent>,
    /// SIP signals of the call.
    pub signals: mpsc::UnboundedReceiver<CallSignal>,
    /// The SIP leg (for BYE).
    pub leg: zvonar_sip::ua::Leg,
    /// The call's offer/answer state (re-INVITEs, UPDATEs, ACKs with answers).
    pub sdp: CallSdp,
    /// The recording's path relative to the recordings directory, when one is written.
    pub recording: Option<String>,
    /// The browser's WebRTC leg when the media runs over WebRTC (the console's softphone):
    /// its new offers inside the call (JsSIP's hold, `sendonly`, and resume) are answered on
    /// the same peer connection ([`WebRtcLeg::reoffer`]), since [`CallSdp`] answers only
    /// plain RTP. `None` for SIP/RTP.
    pub webrtc: Option<Arc<WebRtcLeg>>,
    /// An agent's own call that is answered only when its party answers
    /// ([`CallIo::answer_pending`]); `None` once answered, and for every other call.
    pub pending_answer: Option<PendingAnswer>,
    /// The agent on the calling leg, for an agent's own call; `None` for every other call.
    pub own: Option<OwnCall>,
}

/// The agent on the calling leg of an agent's own call (click-to-call, a callback, a desk
/// phone dialling out; [`super::transfer::agent_call_flow`]).
pub struct OwnCall {
    /// The agent's SIP account.
    pub account: String,
    /// Keeps the agent busy in the queues while the agent's leg is in the call; dropped when
    /// the agent leaves it (the call ends, or the agent transferred the party), which starts
    /// the agent's wrap-up.
    pub busy: Option<super::queue::OwnCallGuard>,
    /// REFERs on the agent's leg, for a call to a party (a `dial` flow): the agent transfers
    /// the party ([`super::own_transfer`]). `None` for a queue or the robot the agent
    /// dialled, whose REFERs are answered 405.
    pub refers: Option<mpsc::UnboundedReceiver<zvonar_sip::uac::ReferRequest>>,
    /// The call is answered when its party answers (183 with the ringback until then).
    pub answer_with_party: bool,
}

impl OwnCall {
    /// The next REFER on an agent's own call ([`OwnCall::refers`]); never ready for other
    /// calls (`None`) or once the agent's leg is gone.
    pub async fn next_refer(own: &mut Option<OwnCall>) -> zvonar_sip::uac::ReferRequest {
        match own.as_mut().and_then(|o| o.refers.as_mut()) {
            Some(rx) => match rx.recv().await {
                Some(r) => r,
                None => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    }
}

/// The 200 OK an agent's own call still owes (its 183 carried the same SDP, so the agent
/// hears the ringback as early media, RFC 3960 §3): the call is answered when the party
/// answers, so the operator's phone shows «вызов» until then, and a party that does not
/// answer is reported to it as the final response (486, 480…).
#[derive(Debug)]
pub struct PendingAnswer {
    sdp: String,
    answered_at: Arc<std::sync::OnceLock<Instant>>,
}

/// Runs one incoming call to its end. Never panics on peer input; every path publishes
/// `Started` and `Ended` so the CDR is complete.
pub async fn run(shared: Arc<Shared>, mut call: IncomingCall) {
    let call_id = CallId::new_random();
    // REFERs on the caller's leg are served only on an agent's own call to a party (below);
    // the receiver is dropped otherwise, which answers them 405.
    let refers = std::mem::replace(&mut call.refers, mpsc::unbounded_channel().1);
    let identity = super::caller_id::identify(
        &call.caller,
        call.asserted_identity.as_deref(),
        call.source_ip,
        &shared.trusted_sources,
    );
    if !identity.trusted_source {
        tracing::info!(%call_id, source = ?call.source_ip, "caller ID unverified: source not trusted");
    }
    let caller = identity.verified;
    // A call from a device on the connection it registered over (the console's softphone,
    // a desk phone over TCP), or from a desk phone registered over UDP that passed digest
    // authentication on its INVITE (407, `IncomingCall::authenticated_account`), is the
    // agent's own call (click-to-call, dialling out): not routed by the dialplan's routes,
    // which are for callers from outside.
    let agent_account = call.authenticated_account.clone().or_else(|| {
        let peer = call.connection_peer?;
        let reg = shared.sip()?.registrar()?;
        let now_s = super::queue::now_ms() / 1000;
        let account = reg.lock().ok()?.account_of_connection(peer, now_s);
        account
    });
    let flow = match &agent_account {
        Some(account) => {
            tracing::info!(%call_id, %account, dialled = %call.callee, "a registered agent's call");
            super::transfer::agent_call_flow(&shared, &call.callee)
        }
        None => route(&shared.dialplan, &call.callee, Utc::now(), shared.time_zone).cloned(),
    };
    // The agent is busy in the queues from the moment the call is placed (ringing included)
    // until it ends.
    let busy = match (&agent_account, &shared.queues, &flow) {
        (Some(account), Some(queues), Some(_)) => Some(super::queue::OwnCallGuard::start(
            queues,
            account,
            &call_id.to_string(),
        )),
        _ => None,
    };
    let flow_name = flow.as_ref().map(|f| f.name.clone()).unwrap_or_default();
    shared
        .events
        .publish(
            &call_id,
            CallEventKind::Started {
                caller: caller.clone(),
                caller_raw: identity.raw,
                callee: call.callee.clone(),
                transport: call.transport.to_string(),
                flow: flow_name,
            },
        )
        .await;
    shared.metrics.active_calls.inc();
    // An agent's own call has the agent on its calling leg: recorded the other way round,
    // so the operator is on the right as in every other recording.
    let layout = match agent_account {
        Some(_) => ChannelLayout::CallerRight,
        None => ChannelLayout::CallerLeft,
    };
    // An agent's own call to a party (click-to-call, a callback, dialling out, a
    // consultation) is answered when the party answers; a queue or the robot the agent
    // dialled answers at once, as for anyone.
    let answer_with_party = agent_account.is_some()
        && flow.as_ref().is_some_and(|f| {
            f.name == super::transfer::AGENT_CALL_FLOW
                && matches!(f.kind, zvonar_dialplan::FlowKind::Dial(_))
        });
    let own = agent_account.map(|account| OwnCall {
        account,
        busy,
        refers: answer_with_party.then_some(refers),
        answer_with_party,
    });
    let (disposition, cause, recording, talk_ms) =
        answer_and_run(&shared, call, &call_id, caller, flow, layout, own).await;
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
    call: IncomingCall,
    call_id: &CallId,
    caller: Option<PhoneNumber>,
    flow: Option<zvonar_dialplan::Flow>,
    layout: ChannelLayout,
    own: Option<OwnCall>,
) -> (Disposition, HangupCause, Option<String>, u64) {
    let Some(flow) = flow else {
        call.leg.reject(404, Some("no route"));
        return (Disposition::Rejected, HangupCause::NoRoute, None, 0);
    };
    let invited = Instant::now();
    // A browser (SIP over WebSocket, RFC 7118) offers DTLS-SRTP: its media leg is WebRTC.
    if let Some(offer) = call.offer.clone().filter(|o| is_webrtc_offer(o)) {
        let cfg = WebRtcConfig {
            bind_ip: shared.rtp_bind_ip,
            public_ip: shared.public_ip,
            ports: shared.rtp_ports.clone(),
        };
        return match WebRtcLeg::answer(&offer, &cfg).await {
            Ok((leg, answer)) => {
                let c = leg.choice();
                let media = super::reoffer::MediaState {
                    remote: leg.local_addr(),
                    codec: c.codec,
                    audio_pt: c.audio_pt,
                    te_pt: c.te_pt,
                    send: true,
                };
                tracing::info!(%call_id, codec = ?c.codec, answer_ms = invited.elapsed().as_millis() as u64,
                    "WebRTC offer answered");
                let leg = Arc::new(leg);
                let sdp = CallSdp::new(LocalMedia::new(shared.public_ip, 0));
                let out = ring_answer_run(
                    shared,
                    call,
                    call_id,
                    caller,
                    flow,
                    MediaLeg::WebRtc(leg.clone()),
                    sdp,
                    answer,
                    Some(media),
                    invited,
                    layout,
                    own,
                )
                .await;
                leg.close().await;
                out
            }
            Err(e) => {
                tracing::info!(%call_id, error = %e, "WebRTC offer refused");
                let (status, cause) = match e {
                    WebRtcError::Offer(_) => (488, HangupCause::Sip(488)),
                    _ => (503, HangupCause::NoRtpPort),
                };
                call.leg.reject(status, None);
                (Disposition::Rejected, cause, None, 0)
            }
        };
    }
    // Bind the RTP socket first: its port goes into our SDP. The codec and the peer's
    // address are set from the offer/answer below (for a late offer, after the ACK).
    let placeholder = std::net::SocketAddr::new(std::net::IpAddr::from([0, 0, 0, 0]), 0);
    let socket = match RtpSocket::bind(RtpConfig {
        bind_ip: shared.rtp_bind_ip,
        ports: shared.rtp_ports.clone(),
        codec: Codec::Pcma,
        remote: placeholder,
        remote_rtcp: None,
        signalling_source: call.source_ip,
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
    let mut sdp = CallSdp::new(LocalMedia::new(shared.public_ip, local_port));
    // With an offer in the INVITE we answer it in the 200; without one (late offer,
    // RFC 3264 §5, RFC 3261 §13.2.1) we offer in the 200 and the answer comes in the ACK.
    let (our_sdp, early_media) = match call.offer.as_deref() {
        Some(offer) => match sdp.answer(offer) {
            Ok((answer, media)) => (answer, Some(media)),
            Err(e) => {
                tracing::info!(%call_id, error = %e, "SDP offer refused");
                let status = e.sip_status();
                let (reason, cause) = match e {
                    OfferError::Malformed(_) => ("malformed SDP", HangupCause::BadSdp),
                    _ => ("Not Acceptable Here", HangupCause::Sip(status)),
                };
                call.leg.reject(status, Some(reason));
                return (Disposition::Rejected, cause, None, 0);
            }
        },
        None => (
            sdp.late_offer(call.leg.invite_cseq().unwrap_or_default()),
            None,
        ),
    };
    ring_answer_run(
        shared,
        call,
        call_id,
        caller,
        flow,
        MediaLeg::Rtp(socket),
        sdp,
        our_sdp,
        early_media,
        invited,
        layout,
        own,
    )
    .await
}

/// How long a browser's WebRTC leg may take to connect (ICE + DTLS) after our 200 OK
/// before the call is given up.
const WEBRTC_CONNECT_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Rings, answers with `our_sdp`, and runs the flow on `leg` until the call ends. For an
/// agent's own call to a party ([`OwnCall::answer_with_party`]) with its offer in the INVITE
/// it sends the SDP in a 183 instead and leaves the 200 to the flow
/// ([`CallIo::pending_answer`]).
#[allow(clippy::too_many_arguments)]
async fn ring_answer_run(
    shared: &Arc<Shared>,
    mut call: IncomingCall,
    call_id: &CallId,
    caller: Option<PhoneNumber>,
    flow: zvonar_dialplan::Flow,
    leg: MediaLeg,
    mut sdp: CallSdp,
    our_sdp: String,
    early_media: Option<super::reoffer::MediaState>,
    invited: Instant,
    layout: ChannelLayout,
    own: Option<OwnCall>,
) -> (Disposition, HangupCause, Option<String>, u64) {
    if own.as_ref().is_some_and(|o| o.answer_with_party) {
        if let Some(media) = early_media {
            return early_media_run(
                shared, call, call_id, caller, flow, leg, sdp, our_sdp, media, invited, layout, own,
            )
            .await;
        }
    }
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
    if let Err(e) = call.leg.answer(our_sdp) {
        tracing::info!(%call_id, error = %e, "could not answer");
        return (Disposition::Missed, HangupCause::Cancel, None, 0);
    }
    let answered = Instant::now();
    let media = match early_media {
        Some(m) => m,
        None => match await_answer_in_ack(&mut call, &mut sdp).await {
            Ok(m) => m,
            Err(AwaitAck::Ended(reason)) => return (Disposition::Failed, reason.cause(), None, 0),
            Err(AwaitAck::NoAnswer(why)) => {
                tracing::info!(%call_id, reason = %why, "late offer: no acceptable answer in the ACK");
                call.leg.hangup().await;
                return (Disposition::Failed, HangupCause::NoAnswerInAck, None, 0);
            }
            Err(AwaitAck::Lost) => {
                return (Disposition::Failed, HangupCause::SignallingLost, None, 0)
            }
        },
    };
    let (cause, recording) = run_answered(
        shared, call, call_id, caller, flow, leg, sdp, media, invited, layout, None, own,
    )
    .await;
    match cause {
        Some(cause) => (
            Disposition::Answered,
            cause,
            recording,
            answered.elapsed().as_millis() as u64,
        ),
        None => (Disposition::Failed, HangupCause::MediaLost, None, 0),
    }
}

/// An agent's own call with its offer in the INVITE: our SDP goes in a 183 at once (the
/// agent hears the ringback as early media) and the flow sends the 200 when the party
/// answers ([`CallIo::answer_pending`]). Unanswered, it ends with the party's status (486,
/// 480…: `rejected`) or the agent's CANCEL (`missed`; neither is a resident's missed call,
/// see `zvonar_dispatch::missed::rule`).
#[allow(clippy::too_many_arguments)]
async fn early_media_run(
    shared: &Arc<Shared>,
    call: IncomingCall,
    call_id: &CallId,
    caller: Option<PhoneNumber>,
    flow: zvonar_dialplan::Flow,
    leg: MediaLeg,
    sdp: CallSdp,
    our_sdp: String,
    media: super::reoffer::MediaState,
    invited: Instant,
    layout: ChannelLayout,
    own: Option<OwnCall>,
) -> (Disposition, HangupCause, Option<String>, u64) {
    call.leg.early_media(our_sdp.clone());
    let answered_at = Arc::new(std::sync::OnceLock::new());
    let pending = PendingAnswer {
        sdp: our_sdp,
        answered_at: answered_at.clone(),
    };
    let (cause, recording) = run_answered(
        shared,
        call,
        call_id,
        caller,
        flow,
        leg,
        sdp,
        media,
        invited,
        layout,
        Some(pending),
        own,
    )
    .await;
    let cause = cause.unwrap_or(HangupCause::MediaLost);
    match answered_at.get() {
        Some(at) => (
            Disposition::Answered,
            cause,
            recording,
            at.elapsed().as_millis() as u64,
        ),
        None if cause == HangupCause::Cancel => (Disposition::Missed, cause, recording, 0),
        None => (Disposition::Rejected, cause, recording, 0),
    }
}

/// The answered (or early-media) call from its media on: points the leg at the caller's
/// media, waits for a browser's ICE and DTLS, starts the recording and the media task and
/// runs `flow` to its end. Returns the flow's hang-up cause and the recording's path, or
/// `None` as the cause when a browser's media never connected (the call is then ended).
#[allow(clippy::too_many_arguments)]
async fn run_answered(
    shared: &Arc<Shared>,
    call: IncomingCall,
    call_id: &CallId,
    caller: Option<PhoneNumber>,
    flow: zvonar_dialplan::Flow,
    leg: MediaLeg,
    sdp: CallSdp,
    media: super::reoffer::MediaState,
    invited: Instant,
    layout: ChannelLayout,
    pending_answer: Option<PendingAnswer>,
    own: Option<OwnCall>,
) -> (Option<HangupCause>, Option<String>) {
    match &leg {
        MediaLeg::Rtp(socket) => {
            socket.set_remote(media.remote);
            socket.set_codec(media.codec, media.audio_pt);
        }
        MediaLeg::WebRtc(w) => {
            // Media flows once ICE and DTLS are done (the browser checks as soon as it has
            // our answer, so this takes a round trip or two): the flow starts after that, so
            // the browser hears the greeting from its first word.
            if w.connected(WEBRTC_CONNECT_LIMIT).await {
                tracing::info!(%call_id, setup_ms = invited.elapsed().as_millis() as u64,
                    "WebRTC connected (INVITE to ICE + DTLS done)");
            } else {
                tracing::warn!(%call_id, limit_s = WEBRTC_CONNECT_LIMIT.as_secs(),
                    "WebRTC did not connect; hanging up");
                match pending_answer {
                    Some(_) => call.leg.reject(500, Some("media not connected")),
                    None => call.leg.hangup().await,
                }
                return (None, None);
            }
        }
    }
    let rel = recording_path(Utc::now(), shared.time_zone, call_id);
    let path = shared.recordings_dir.join(&rel);
    let recorder = match path.parent().map(std::fs::create_dir_all) {
        Some(Ok(())) | None => match RecorderThread::spawn_with(&path, layout) {
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
    let webrtc = match &leg {
        MediaLeg::WebRtc(w) => Some(w.clone()),
        MediaLeg::Rtp(_) => None,
    };
    let media_task = tokio::spawn(media::run(
        leg,
        MediaParams {
            codec: media.codec,
            audio_pt: media.audio_pt,
            te_pt: media.te_pt,
            vad: media::vad_config(&flow, shared.asr.early_ms()),
            send: media.send,
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
        sdp,
        recording: recording.clone(),
        webrtc,
        pending_answer,
        own,
    };
    let end = run_flow(shared.clone(), flow, io, 0).await;
    let _ = cmd_tx.send(MediaCommand::Stop);
    let (stats, recorder) = media_task.await.unwrap_or_default();
    tracing::debug!(%call_id, max_gap_ms = stats.max_send_gap_ms, frames = stats.frames_sent,
        foreign = stats.packets_foreign, "media ended");
    shared
        .metrics
        .rtp_foreign_packets
        .inc_by(stats.packets_foreign);
    if let Some(rec) = recorder {
        let finished = tokio::task::spawn_blocking(move || rec.finish()).await;
        if let Ok(Err(e)) = finished {
            tracing::error!(%call_id, error = %e, "recording not finalised");
        }
    }
    (Some(end.cause), recording)
}

/// Runs `flow` on an answered call until the call ends; a `dial` flow's fallback runs
/// through here again with `depth + 1` (at most [`super::dial_flow::MAX_FALLBACKS`] deep).
pub fn run_flow(
    shared: Arc<Shared>,
    flow: zvonar_dialplan::Flow,
    io: CallIo,
    depth: u8,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = FlowEnd> + Send>> {
    Box::pin(async move {
        let call_id = io.call_id.clone();
        match &flow.kind {
            zvonar_dialplan::FlowKind::Playback(p) => {
                super::playback::run(&shared, &p.prompt, io).await
            }
            zvonar_dialplan::FlowKind::DispatcherRobot(settings) => {
                RobotDriver::new(shared.clone(), settings, io)
                    .await
                    .run()
                    .await
            }
            zvonar_dialplan::FlowKind::Queue(q) => {
                super::queue::caller::run_flow(&shared, q, io).await
            }
            zvonar_dialplan::FlowKind::Dial(settings)
                if depth < super::dial_flow::MAX_FALLBACKS =>
            {
                super::dial_flow::run(&shared, settings, io, depth).await
            }
            other => {
                tracing::error!(%call_id, kind = ?other, depth, "flow kind not supported by this engine");
                io.leg.hangup().await;
                FlowEnd {
                    cause: HangupCause::UnsupportedFlow,
                }
            }
        }
    })
}

impl CallIo {
    /// Sends the 200 OK an agent's own call owes (its party answered; the SDP is the 183's),
    /// and does nothing for a call already answered. `false` when the agent's side has gone
    /// meanwhile (its CANCEL crossed the party's answer): the caller must then be treated as
    /// gone.
    pub fn answer_pending(&mut self) -> bool {
        let Some(p) = self.pending_answer.take() else {
            return true;
        };
        match self.leg.answer(p.sdp) {
            Ok(()) => {
                let _ = p.answered_at.set(Instant::now());
                tracing::info!(call_id = %self.call_id, "the agent's call answered: its party answered");
                true
            }
            Err(e) => {
                tracing::info!(call_id = %self.call_id, error = %e, "the agent's call could not be answered");
                false
            }
        }
    }

    /// Ends the call from our side: BYE once answered; an agent's own call still unanswered
    /// gets the final response `status` instead (486 busy, 480 no answer, 404…, RFC 3261
    /// §21.4), so the operator's phone shows why.
    pub async fn end(&mut self, status: u16) {
        match self.pending_answer.take() {
            Some(_) => self.leg.reject(status, None),
            None => self.leg.hangup().await,
        }
    }

    /// Answers an offer inside the call (re-INVITE or UPDATE, RFC 3264 §8) and applies the
    /// media it changes: new peer address or port, codec, hold and resume.
    pub async fn answer_offer(
        &mut self,
        sdp: &str,
        cseq: u32,
        reinvite: bool,
        responder: zvonar_sip::ua::Responder,
    ) {
        if let Some(w) = &self.webrtc {
            // The console's hold and resume. Refusing them would end the call: JsSIP hangs
            // up a call whose hold re-INVITE fails ("Hold Failed").
            match w.reoffer(sdp).await {
                Ok((answer, receives)) => {
                    let c = w.choice();
                    let _ =
                        self.media
                            .send(MediaCommand::Renegotiate(super::reoffer::MediaState {
                                remote: w.local_addr(),
                                codec: c.codec,
                                audio_pt: c.audio_pt,
                                te_pt: c.te_pt,
                                send: receives,
                            }));
                    tracing::info!(call_id = %self.call_id, hold = !receives, "browser re-INVITE answered");
                    responder
                        .respond(
                            200,
                            Some(("application/sdp".to_string(), answer.into_bytes())),
                        )
                        .await;
                }
                Err(e) => {
                    tracing::info!(call_id = %self.call_id, error = %e, "browser re-INVITE refused (488); media unchanged");
                    responder.respond(488, None).await;
                }
            }
            return;
        }
        let reply = self.sdp.on_offer(sdp, cseq, reinvite);
        if let Some(m) = reply.media {
            let _ = self.media.send(MediaCommand::Renegotiate(m));
        }
        let body = reply
            .sdp
            .map(|b| ("application/sdp".to_string(), b.into_bytes()));
        responder.respond(reply.status, body).await;
    }

    /// Handles a confirmed dialog: an ACK carrying the answer to an offer we made in the 200
    /// to a re-INVITE without SDP. An unusable answer keeps the media as it was.
    pub fn confirmed(&mut self, ack_cseq: Option<u32>, sdp: Option<&str>) {
        match self.sdp.on_ack(ack_cseq, sdp) {
            AckOutcome::NotAwaited => {}
            AckOutcome::Answered(m) => {
                let _ = self.media.send(MediaCommand::Renegotiate(m));
            }
            AckOutcome::NoAcceptableAnswer(why) => {
                tracing::info!(call_id = %self.call_id, reason = %why,
                    "re-INVITE: no acceptable answer in the ACK; media unchanged");
            }
        }
    }
}

/// Why no media came out of a late offer.
enum AwaitAck {
    /// The dialog ended first (no ACK: timeout; or the caller hung up).
    Ended(zvonar_sip::ua::EndReason),
    /// The ACK came without an acceptable answer.
    NoAnswer(String),
    /// The SIP side vanished.
    Lost,
}

/// Waits for the ACK of our 200 with an offer and takes the answer from it. Offers and INFO
/// arriving meanwhile are answered (491 / 200): the call is not set up yet.
async fn await_answer_in_ack(
    call: &mut IncomingCall,
    sdp: &mut CallSdp,
) -> Result<super::reoffer::MediaState, AwaitAck> {
    loop {
        match call.signals.recv().await {
            Some(CallSignal::Confirmed {
                ack_cseq,
                sdp: body,
            }) => match sdp.on_ack(ack_cseq, body.as_deref()) {
                AckOutcome::NotAwaited => {}
                AckOutcome::Answered(m) => return Ok(m),
                AckOutcome::NoAcceptableAnswer(why) => return Err(AwaitAck::NoAnswer(why)),
            },
            Some(CallSignal::Offer {
                sdp: offer,
                cseq,
                reinvite,
                responder,
            }) => {
                let reply = sdp.on_offer(&offer, cseq, reinvite);
                let body = reply
                    .sdp
                    .map(|b| ("application/sdp".to_string(), b.into_bytes()));
                responder.respond(reply.status, body).await;
            }
            Some(CallSignal::Info { responder, .. }) => responder.respond(200, None).await,
            Some(CallSignal::Terminated(reason)) => return Err(AwaitAck::Ended(reason)),
            None => return Err(AwaitAck::Lost),
        }
    }
}

/// The flow for a call to `dialled` arriving at `now`: the dialplan's time windows are in
/// the company's local time in `tz`.
pub fn route<'a>(
    dialplan: &'a zvonar_dialplan::Dialplan,
    dialled: &str,
    now: chrono::DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Option<&'a zvonar_dialplan::Flow> {
    dialplan.route(dialled, now.with_timezone(&tz).naive_local())
}

/// A call's recording path relative to the recordings root: `YYYY/MM/DD/<call id>.wav`,
/// the date being the company's local date in `tz` when the call was answered (so a call
/// at 01:00 in Vladivostok is filed under that day, not the previous UTC day).
pub fn recording_path(
    answered: chrono::DateTime<Utc>,
    tz: chrono_tz::Tz,
    call_id: &CallId,
) -> String {
    format!(
        "{}/{}.wav",
        answered.with_timezone(&tz).format("%Y/%m/%d"),
        call_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_windows_are_local_time() {
        let dp = zvonar_dialplan::Dialplan::parse(
            r#"
[[route]]
number = "*"
time = "08:00-20:00"
flow = "day"
[[route]]
number = "*"
flow = "night"
[flow.day]
kind = "dispatcher_robot"
company = "УК"
[flow.night]
kind = "dispatcher_robot"
company = "УК ночью"
"#,
            "t",
        )
        .expect("dialplan");
        // 2026-03-02 (Monday) 04:00 UTC: 07:00 in Moscow (night), 14:00 in Vladivostok (day).
        let t = chrono::DateTime::parse_from_rfc3339("2026-03-02T04:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let name = |tz| route(&dp, "100", t, tz).map(|f| f.name.as_str());
        assert_eq!(name(chrono_tz::Europe::Moscow), Some("night"));
        assert_eq!(name(chrono_tz::Asia::Vladivostok), Some("day"));
        assert_eq!(name(chrono_tz::Asia::Yekaterinburg), Some("day"));
    }

    #[test]
    fn recording_folder_is_the_local_date() {
        // 2026-03-01 17:30 UTC is 20:30 in Moscow and 03:30 on March 2 in Vladivostok.
        let t = chrono::DateTime::parse_from_rfc3339("2026-03-01T17:30:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let id = CallId("c1".into());
        assert_eq!(
            recording_path(t, chrono_tz::Europe::Moscow, &id),
            "2026/03/01/c1.wav"
        );
        assert_eq!(
            recording_path(t, chrono_tz::Asia::Vladivostok, &id),
            "2026/03/02/c1.wav"
        );
    }
}
