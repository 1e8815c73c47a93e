//! The media task of one call leg: receives RTP (jitter buffer, RFC 4733 digits, VAD), sends
//! one 20 ms frame every tick (prompt audio or comfort silence, so the outgoing stream
//! never gaps) and an RTCP sender report every 5 s, and writes both directions to the call recording on one timeline.
//!
//! Bridged to another leg ([`MediaCommand::Bridge`], see [`super::bridge`]) it sends every
//! decoded frame it receives and every digit to the other leg, and sends the other leg's
//! frames instead of prompts (prompts wait, paused); the recording goes on in the same file
//! and on the same timeline: left the caller, right what the caller hears — the robot
//! before, the operator or far leg while bridged.
//!
//! It never waits for ASR, TTS or the database: the call task sends it prompts to play
//! and receives events; both channels are unbounded so neither side blocks the other.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use zvonar_voice::codec::{Codec, FRAME_SAMPLES};
use zvonar_voice::dtmf::DtmfReceiver;
use zvonar_voice::jitter::{JitterBuffer, JitterConfig};
use zvonar_voice::recorder::{RecorderThread, Side};
use zvonar_voice::rtp::Incoming;
use zvonar_voice::rtp_socket::RtpSocket;
use zvonar_voice::vad::{Vad, VadConfig, VadEvent};
use zvonar_voice::webrtc_leg::WebRtcLeg;

/// Where a call's media goes: a plain RTP socket (phones, trunks) or a browser's WebRTC leg
/// (ICE, DTLS-SRTP). Both take 20 ms frames of 8 kHz samples and give RTP packets, so the
/// media task (jitter buffer, DTMF, VAD, recording) is the same for both.
#[derive(Clone)]
pub enum MediaLeg {
    /// RTP over UDP (RFC 3550), with our own RTCP sender reports.
    Rtp(Arc<RtpSocket>),
    /// WebRTC; RTCP is the WebRTC stack's.
    WebRtc(Arc<WebRtcLeg>),
}

impl MediaLeg {
    /// The next RTP packet from the peer. Returns only on a socket error; a WebRTC leg whose
    /// connection is gone waits forever (the call ends by SIP).
    async fn recv(&self) -> std::io::Result<Incoming> {
        match self {
            MediaLeg::Rtp(s) => s.recv().await.map(|(p, _)| p),
            MediaLeg::WebRtc(w) => match w.recv().await {
                Some(p) => Ok(p),
                None => std::future::pending().await,
            },
        }
    }

    /// Sends one 20 ms frame (`None`: comfort silence).
    async fn send_frame(&self, frame: Option<&[i16]>) -> Result<(), String> {
        match self {
            MediaLeg::Rtp(s) => s.send_frame(frame).await.map_err(|e| e.to_string()),
            MediaLeg::WebRtc(w) => w.send_frame(frame).await.map_err(|e| e.to_string()),
        }
    }

    /// Sends an RTCP sender report (RTP legs; the WebRTC stack sends its own).
    async fn send_sender_report(&self) -> Result<(), String> {
        match self {
            MediaLeg::Rtp(s) => s.send_sender_report().await.map_err(|e| e.to_string()),
            MediaLeg::WebRtc(_) => Ok(()),
        }
    }

    /// The RTP timestamp the next audio frame will carry (RTP legs; telephone-events are
    /// stamped with it). A WebRTC leg sends no telephone-events, so 0.
    fn next_timestamp(&self) -> u32 {
        match self {
            MediaLeg::Rtp(s) => s.next_timestamp(),
            MediaLeg::WebRtc(_) => 0,
        }
    }

    /// Sends one RFC 4733 telephone-event packet (a digit passed through a bridge). Not sent
    /// to a browser: its audio track's packetiser stamps every sample anew, which would break
    /// the event's single timestamp; an operator in the console does not need the caller's
    /// keys as tones (the bridge still reports them as events).
    async fn send_telephone_event(
        &self,
        pt: u8,
        event_ts: u32,
        marker: bool,
        payload: &[u8],
    ) -> Result<(), String> {
        match self {
            MediaLeg::Rtp(s) => s
                .send_telephone_event(pt, event_ts, marker, payload)
                .await
                .map_err(|e| e.to_string()),
            MediaLeg::WebRtc(_) => Ok(()),
        }
    }

    /// RTP packets dropped because they came from a source other than the peer.
    fn foreign_packets(&self) -> u64 {
        match self {
            MediaLeg::Rtp(s) => s.foreign_packets(),
            MediaLeg::WebRtc(_) => 0,
        }
    }
}

/// What the call task asks of the media task.
pub enum MediaCommand {
    /// Play these 8 kHz samples after whatever is playing now; `id` comes back in
    /// [`MediaEvent::PlaybackStarted`] and [`MediaEvent::PlaybackDone`].
    Play {
        /// Prompt identifier chosen by the caller.
        id: u64,
        /// The audio.
        pcm: Arc<[i16]>,
    },
    /// Stop the current prompt and drop queued ones (barge-in).
    StopPlayback,
    /// A DTMF digit received by SIP INFO, to be handled like an RFC 4733 one.
    Digit(char),
    /// A re-INVITE or UPDATE changed the media (RFC 3264 §8): new peer address (the latch
    /// starts over), codec, payload types, or hold/resume. Prompts keep their place.
    Renegotiate(super::reoffer::MediaState),
    /// Cut the caller's utterances at this length from now on (the VAD's
    /// `max_utterance_ms`; the robot's `Listen::max_ms`), ms.
    MaxUtterance {
        /// Longest utterance, ms.
        ms: u32,
    },
    /// Join a bridge: from the next tick on, received frames and digits go to `port.tx` and
    /// the frames sent are those from `port.rx` (digits regenerated as RFC 4733 events when
    /// this leg negotiated telephone-event). Replaces any earlier bridge.
    Bridge(super::bridge::BridgePort),
    /// Leave the bridge: back to prompts and comfort silence.
    Unbridge,
    /// Hand this task's recording (if it writes one) to another leg's media task `to`,
    /// which goes on writing the same file on the same timeline ([`MediaCommand::Record`]):
    /// a call an agent placed and then transferred, whose conversation goes on without the
    /// agent's leg ([`super::own_transfer`]). `rx_side`: where `to`'s received audio goes.
    MoveRecorder {
        /// The media task that records from now on.
        to: mpsc::UnboundedSender<MediaCommand>,
        /// The side of the file the receiving leg's incoming audio belongs to (what it
        /// sends is the other side).
        rx_side: Side,
    },
    /// Go on writing `recorder`, whose timeline is at `at` samples now: the incoming audio
    /// on `rx_side`, what this task sends on the other side. Replaces a recording this task
    /// may write (that one is finalised in the background).
    Record {
        /// The recording.
        recorder: RecorderThread,
        /// Its position now, samples (8 kHz) from its start.
        at: u64,
        /// The side the incoming audio goes to.
        rx_side: Side,
    },
    /// End the media task; it returns its statistics.
    Stop,
}

/// What the media task reports.
#[derive(Debug)]
pub enum MediaEvent {
    /// The caller started speaking.
    SpeechStarted,
    /// The caller finished an utterance (8 kHz samples); `ended` is when the caller's
    /// voice stopped (the VAD notices `end_silence_ms` later).
    Utterance {
        /// Audio of the utterance.
        pcm: Vec<i16>,
        /// When the end was detected.
        ended: Instant,
    },
    /// The caller has been silent for the VAD's `early_ms` (early recognition): `pcm` is
    /// the utterance exactly as the [`MediaEvent::Utterance`] will carry it if the caller
    /// says nothing more before `end_silence_ms`.
    Pause {
        /// Audio of the utterance so far.
        pcm: Vec<i16>,
    },
    /// The caller spoke again after a [`MediaEvent::Pause`].
    Resumed,
    /// A DTMF digit (`via` is `rfc4733` or `info`).
    Digit {
        /// The digit.
        digit: char,
        /// How it came.
        via: &'static str,
    },
    /// The first frame of prompt `id` went out.
    PlaybackStarted {
        /// Prompt id.
        id: u64,
    },
    /// Prompt `id` finished (or was stopped).
    PlaybackDone {
        /// Prompt id.
        id: u64,
    },
}

/// Figures from one call's media, for benchmarks and metrics.
#[derive(Debug, Default, Clone)]
pub struct MediaStats {
    /// Frames sent.
    pub frames_sent: u64,
    /// Largest interval between two consecutive outgoing frames, ms.
    pub max_send_gap_ms: u64,
    /// RTP packets received from the peer.
    pub packets_received: u64,
    /// RTP packets dropped because they came from another source than the peer.
    pub packets_foreign: u64,
}

/// Parameters of one media session.
pub struct MediaParams {
    /// The negotiated audio codec.
    pub codec: Codec,
    /// Negotiated payload type of the audio codec (static 0/8 or the offer's dynamic one).
    pub audio_pt: u8,
    /// Negotiated telephone-event payload type, if any.
    pub te_pt: Option<u8>,
    /// Voice activity detection settings.
    pub vad: VadConfig,
    /// Whether to send RTP (`false` while the peer holds the call, RFC 3264 §8.4): frames
    /// are still taken from the prompt queue and recorded, so the call's timeline goes on.
    pub send: bool,
}

/// The voice activity detector settings for a call running `flow`: the defaults, with the
/// longest utterance from a dispatcher robot's `max_utterance_ms` (the robot's `Listen`
/// repeats it as `max_ms`, sent with [`MediaCommand::MaxUtterance`]) and, for a robot,
/// early recognition after `early_ms` of silence (`[asr] early_ms`; 0 = off).
pub fn vad_config(flow: &zvonar_dialplan::Flow, early_ms: u32) -> VadConfig {
    let mut vad = VadConfig::default();
    if let zvonar_dialplan::FlowKind::DispatcherRobot(s) = &flow.kind {
        vad.max_utterance_ms = s.max_utterance_ms;
        vad.early_ms = early_ms;
    }
    vad
}

struct Playout {
    queue: std::collections::VecDeque<(u64, Arc<[i16]>)>,
    current: Option<(u64, Arc<[i16]>, usize)>,
}

impl Playout {
    /// Next frame to send and playback events caused by taking it.
    fn next(&mut self, events: &mut Vec<MediaEvent>) -> Option<Vec<i16>> {
        loop {
            if self.current.is_none() {
                let (id, pcm) = self.queue.pop_front()?;
                events.push(MediaEvent::PlaybackStarted { id });
                self.current = Some((id, pcm, 0));
            }
            let (id, pcm, pos) = self.current.as_mut()?;
            if *pos >= pcm.len() {
                events.push(MediaEvent::PlaybackDone { id: *id });
                self.current = None;
                continue;
            }
            let end = (*pos + FRAME_SAMPLES).min(pcm.len());
            let mut frame = pcm[*pos..end].to_vec();
            frame.resize(FRAME_SAMPLES, 0);
            *pos = end;
            return Some(frame);
        }
    }

    fn stop(&mut self, events: &mut Vec<MediaEvent>) {
        if let Some((id, _, _)) = self.current.take() {
            events.push(MediaEvent::PlaybackDone { id });
        }
        for (id, _) in self.queue.drain(..) {
            events.push(MediaEvent::PlaybackDone { id });
        }
    }
}

/// Runs the media of one call until [`MediaCommand::Stop`] or the command channel closes.
pub async fn run(
    socket: MediaLeg,
    params: MediaParams,
    recorder: Option<RecorderThread>,
    mut commands: mpsc::UnboundedReceiver<MediaCommand>,
    events: mpsc::UnboundedSender<MediaEvent>,
) -> (MediaStats, Option<RecorderThread>) {
    let started = Instant::now();
    let now_ms = || started.elapsed().as_millis() as u64;
    let mut jitter = JitterBuffer::new(params.codec, JitterConfig::default());
    let mut dtmf = params.te_pt.map(DtmfReceiver::new);
    let mut vad = Vad::new(params.vad);
    let mut playout = Playout {
        queue: Default::default(),
        current: None,
    };
    let mut stats = MediaStats::default();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut pos: u64 = 0; // samples since answer, the recording timeline
    let mut last_send: Option<Instant> = None;
    // RTCP sender reports every 5 s (RFC 3550 §6.2 minimum interval for a small session).
    let mut next_report = Instant::now() + Duration::from_secs(5);
    let mut out: Vec<MediaEvent> = Vec::new();
    let silence = vec![0i16; FRAME_SAMPLES];
    let mut recorder = recorder;
    // Where the recording's timeline is relative to `pos` (it may have come from another leg,
    // [`MediaCommand::Record`]), and which side the received audio is on.
    let mut rec_base: (u64, u64) = (0, 0); // (recording position, our `pos`) at the start
    let mut rx_side = Side::Caller;
    let mut params = params;
    let mut bridge: Option<super::bridge::BridgePort> = None;
    let mut from_bridge = super::bridge::FrameQueue::default();
    let mut digits_out = super::bridge::DigitOut::default();

    loop {
        tokio::select! {
            biased;
            cmd = commands.recv() => match cmd {
                Some(MediaCommand::Play { id, pcm }) => playout.queue.push_back((id, pcm)),
                Some(MediaCommand::StopPlayback) => playout.stop(&mut out),
                Some(MediaCommand::Digit(d)) => {
                    tracing::debug!(digit = %d, bridged = bridge.is_some(), "digit by SIP INFO");
                    if let Some(b) = &bridge {
                        let _ = b.tx.send(super::bridge::BridgeFrame::Digit(d));
                    }
                    out.push(MediaEvent::Digit { digit: d, via: "info" });
                }
                Some(MediaCommand::Bridge(port)) => {
                    bridge = Some(port);
                    from_bridge = super::bridge::FrameQueue::default();
                }
                Some(MediaCommand::Unbridge) => {
                    if bridge.take().is_some() {
                        tracing::debug!(dropped = from_bridge.dropped(), "left the bridge");
                    }
                }
                Some(MediaCommand::Renegotiate(m)) => {
                    tracing::debug!(remote = %m.remote, codec = ?m.codec, send = m.send, "media renegotiated");
                    if let MediaLeg::Rtp(socket) = &socket {
                        socket.set_remote(m.remote);
                        socket.set_codec(m.codec, m.audio_pt);
                    }
                    if m.codec != params.codec {
                        jitter = JitterBuffer::new(m.codec, JitterConfig::default());
                    }
                    if m.te_pt != params.te_pt {
                        dtmf = m.te_pt.map(DtmfReceiver::new);
                    }
                    params.codec = m.codec;
                    params.audio_pt = m.audio_pt;
                    params.te_pt = m.te_pt;
                    params.send = m.send;
                }
                Some(MediaCommand::MaxUtterance { ms }) => vad.set_max_utterance_ms(ms),
                Some(MediaCommand::MoveRecorder { to, rx_side: theirs }) => {
                    if let Some(rec) = recorder.take() {
                        let at = rec_base.0 + (pos - rec_base.1);
                        tracing::debug!(at, "recording handed to another leg");
                        let _ = to.send(MediaCommand::Record { recorder: rec, at, rx_side: theirs });
                    }
                }
                Some(MediaCommand::Record { recorder: rec, at, rx_side: side }) => {
                    tracing::debug!(at, ?side, "recording taken over from another leg");
                    recorder = Some(rec);
                    rec_base = (at, pos);
                    rx_side = side;
                }
                Some(MediaCommand::Stop) | None => break,
            },
            _ = tick.tick() => {
                let now = Instant::now();
                // Outgoing first: the stream's timing matters most. Bridged, the other
                // leg's frames go out and prompts wait.
                let frame = match bridge.as_mut() {
                    Some(b) => {
                        let mut gone = false;
                        loop {
                            match b.rx.try_recv() {
                                Ok(f) => from_bridge.push(f),
                                Err(mpsc::error::TryRecvError::Empty) => break,
                                Err(mpsc::error::TryRecvError::Disconnected) => {
                                    gone = true;
                                    break;
                                }
                            }
                        }
                        while let Some(d) = from_bridge.pop_digit() {
                            tracing::debug!(digit = %d, te_pt = ?params.te_pt, send = params.send, "digit from the bridge");
                            digits_out.push(d);
                        }
                        if gone {
                            bridge = None;
                        }
                        from_bridge.pop()
                    }
                    None => playout.next(&mut out),
                };
                if params.send {
                    let event = match params.te_pt {
                        Some(pt) if digits_out.busy() => digits_out.next(socket.next_timestamp()).map(|e| (pt, e)),
                        _ => None,
                    };
                    if let Err(e) = socket.send_frame(frame.as_deref()).await {
                        tracing::debug!(error = %e, "RTP send failed");
                    }
                    if let Some((pt, e)) = &event {
                        if e.marker {
                            tracing::debug!(pt, event = e.payload.first().copied(), "telephone-event from the bridge starts");
                        }
                    }
                    if let Some((pt, e)) = event {
                        if let Err(e) = socket.send_telephone_event(pt, e.event_ts, e.marker, &e.payload).await {
                            tracing::debug!(error = %e, "telephone-event not sent");
                        }
                    }
                    stats.frames_sent += 1;
                }
                if now >= next_report {
                    next_report = now + Duration::from_secs(5);
                    if let Err(e) = socket.send_sender_report().await {
                        tracing::debug!(error = %e, "RTCP sender report not sent");
                    }
                }
                if let Some(prev) = last_send {
                    stats.max_send_gap_ms = stats.max_send_gap_ms.max(now.duration_since(prev).as_millis() as u64);
                }
                last_send = Some(now);
                // Incoming: one frame of playout from the jitter buffer.
                let caller = jitter.pop_frame(now_ms()).map(|f| f.into_samples());
                let caller_samples = caller.as_deref().unwrap_or(&silence);
                if let Some(b) = &bridge {
                    if b.tx.send(super::bridge::BridgeFrame::Audio(caller_samples.to_vec())).is_err() {
                        bridge = None;
                    }
                }
                for ev in vad.push(caller_samples) {
                    match ev {
                        VadEvent::SpeechStart { .. } => out.push(MediaEvent::SpeechStarted),
                        VadEvent::SpeechEnd { utterance, end_ms, .. } => {
                            // The VAD closes an utterance only after `end_silence_ms` of silence;
                            // the caller stopped speaking `tail_ms` before `end_ms`. Report that
                            // moment, so turn latency counts from the real end of speech.
                            let last_voice_ms = end_ms.saturating_sub(u64::from(params.vad.tail_ms));
                            let ago = vad.position_ms().saturating_sub(last_voice_ms);
                            let ended = now.checked_sub(Duration::from_millis(ago)).unwrap_or(now);
                            out.push(MediaEvent::Utterance { pcm: utterance, ended });
                        }
                        VadEvent::Pause { utterance, .. } => out.push(MediaEvent::Pause { pcm: utterance }),
                        VadEvent::Resumed => out.push(MediaEvent::Resumed),
                    }
                }
                if let Some(d) = dtmf.as_mut().and_then(|r| r.poll(now_ms())) {
                    if let Some(b) = &bridge {
                        let _ = b.tx.send(super::bridge::BridgeFrame::Digit(d.digit));
                    }
                    out.push(MediaEvent::Digit { digit: d.digit, via: "rfc4733" });
                }
                if let Some(rec) = &recorder {
                    let ours = frame.unwrap_or_else(|| silence.clone());
                    let at = rec_base.0 + (pos - rec_base.1);
                    let tx_side = match rx_side {
                        Side::Caller => Side::Zvonar,
                        Side::Zvonar => Side::Caller,
                    };
                    let ok = rec.write(rx_side, at, caller_samples.to_vec()).is_ok()
                        && rec.write(tx_side, at, ours).is_ok();
                    if !ok {
                        tracing::error!("recorder stopped; the call goes on unrecorded");
                        recorder = None;
                    }
                }
                pos += FRAME_SAMPLES as u64;
            },
            pkt = socket.recv() => match pkt {
                Ok(pkt) => {
                    stats.packets_received += 1;
                    if Some(pkt.pt) == params.te_pt {
                        if let Some(d) = dtmf.as_mut().and_then(|r| r.feed(pkt.pt, pkt.ts, pkt.marker, &pkt.payload, now_ms())) {
                            if let Some(b) = &bridge {
                                let _ = b.tx.send(super::bridge::BridgeFrame::Digit(d.digit));
                            }
                            out.push(MediaEvent::Digit { digit: d.digit, via: "rfc4733" });
                        }
                    } else if pkt.pt == params.audio_pt {
                        jitter.push(pkt.ssrc, pkt.seq, pkt.ts, &pkt.payload, now_ms());
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "RTP receive error");
                }
            },
        }
        for ev in out.drain(..) {
            if events.send(ev).is_err() {
                stats.packets_foreign = socket.foreign_packets();
                return (stats, recorder);
            }
        }
    }
    stats.packets_foreign = socket.foreign_packets();
    (stats, recorder)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The dialplan's `max_utterance_ms` reaches the VAD of the call's media task.
    #[test]
    fn the_dialplan_sets_the_longest_utterance() {
        let text = r#"
[[route]]
number = "999"
flow = "bench"
[[route]]
number = "*"
flow = "d"
[flow.d]
kind = "dispatcher_robot"
company = "УК"
max_utterance_ms = 4000
[flow.bench]
kind = "playback"
prompt = { text = "Проверка." }
"#;
        let dp = zvonar_dialplan::Dialplan::parse(text, "t").unwrap();
        let vad = vad_config(dp.flow("d").unwrap(), 300);
        assert_eq!((vad.max_utterance_ms, vad.early_ms), (4000, 300));
        assert_eq!(
            VadConfig {
                max_utterance_ms: VadConfig::default().max_utterance_ms,
                early_ms: 0,
                ..vad
            },
            VadConfig::default(),
            "the other settings keep their defaults"
        );
        // Nobody listens on a playback flow: no early recognition.
        assert_eq!(
            vad_config(dp.flow("bench").unwrap(), 300),
            VadConfig::default()
        );
    }
}
