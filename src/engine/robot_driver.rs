//! Drives the dispatcher robot (a sans-IO state machine from `dialplan`) with the call's
//! real inputs: speech (VAD → ASR), DTMF, playback progress, listen timers, SIP signals;
//! and carries out its outputs: prompts (TTS or sound files), registry lookups, tickets
//! and callback requests (through call events), hangup.

use super::call::{CallIo, FlowEnd};
use super::filler::Filler;
use super::media::{MediaCommand, MediaEvent};
use super::Shared;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use zvonar_dialplan::robot::{
    CallContext, DispatcherRobot, Expect, FoundPremises, KnownPremises, RobotInput, RobotOutput,
};
use zvonar_models::{CallEventKind, HangupCause};
use zvonar_sip::ua::CallSignal;
use zvonar_voice::asr::{AsrError, AsrOutcome};

/// Listening state set by the robot's `Listen` output; a key or an utterance answers it.
#[derive(Clone, Copy)]
struct Listening {
    no_input_ms: u32,
}

/// The robot of one call and everything it is waiting for.
pub struct RobotDriver {
    shared: Arc<Shared>,
    io: CallIo,
    robot: DispatcherRobot,
    listening: Option<Listening>,
    no_input_at: Option<tokio::time::Instant>,
    /// The turn whose utterance is being recognised: the caller has answered and waits
    /// for the robot, so the no-input timer must not run (a filler that ends meanwhile
    /// would otherwise start it and the robot would say «Вас не слышно» to a caller who
    /// spoke).
    recognising: Option<u64>,
    /// The robot's inter-digit timer (`StartDigitTimer` → `DigitTimeout`).
    digit_at: Option<tokio::time::Instant>,
    /// The longest utterance last set on the media task's VAD, ms.
    max_utterance_ms: Option<u32>,
    /// Prompts sent to the media task and not finished, by id, with their barge-in flag.
    /// Emptied on `StopPlayback`: the robot expects no `PlaybackDone` for stopped prompts.
    playing: HashMap<u64, bool>,
    next_prompt: u64,
    asr_tx: mpsc::UnboundedSender<(u64, Result<AsrOutcome, AsrError>)>,
    asr_rx: mpsc::UnboundedReceiver<(u64, Result<AsrOutcome, AsrError>)>,
    /// Which listen an ASR result answers; results for an earlier one are stale.
    turns: ListenTurns,
    /// Cancelled when the driver ends (hangup, BYE, shutdown): queued utterances of this
    /// call are then never decoded.
    asr_cancel: CancellationToken,
    _asr_cancel_on_drop: DropGuard,
    /// When the caller's turn ended (end of speech or a key) and how, for turn latency.
    turn_started: Option<(Instant, &'static str)>,
    in_speech: bool,
    hangup_requested: bool,
    /// When to say the filler while the caller waits for recognition.
    filler: Filler,
    /// The filler prompt, rendered when the call starts (`None`: it could not be; no filler).
    filler_pcm: Option<Arc<[i16]>>,
    /// The filler as the timeline shows it.
    filler_said: String,
    /// Filler prompts sent to the media task and not finished: the robot knows nothing of
    /// them (no `PlaybackDone` for them, and they are not the answer turn latency waits for).
    fillers_playing: HashSet<u64>,
    /// A handover to an operator queue, carried out once the prompts before it have played.
    handover: Option<zvonar_dialplan::robot::Handover>,
    /// The caller's utterance being recognised at a pause, before the VAD closed it.
    early: Option<Early>,
    /// Sentences of a phrase before its last one, sent to the media task and not finished
    /// (the robot hears only of the last one's end).
    parts_playing: HashSet<u64>,
}

/// An utterance recognised early (`[asr] early_ms`): started when the caller paused, used
/// if the utterance that then ends is the same audio, dropped if the caller goes on.
struct Early {
    /// The listen turn it was started in.
    turn: u64,
    /// The audio being recognised, to compare with the utterance that ends.
    pcm: Vec<i16>,
    /// Its result.
    result: zvonar_voice::asr::EarlyRecognition,
    /// Cancels it (a child of the call's ASR token): dropped from the queue if still
    /// waiting, its result ignored if being decoded.
    cancel: CancellationToken,
}

impl RobotDriver {
    /// Builds the robot's context (caller's premises by caller ID, buildings, outages).
    pub async fn new(
        shared: Arc<Shared>,
        settings: &zvonar_dialplan::DispatcherSettings,
        io: CallIo,
    ) -> RobotDriver {
        let ctx = call_context(&shared, &io).await;
        let robot = DispatcherRobot::new(settings, ctx);
        // Rendered at start with the dialplan's other prompts: here it is a cache hit.
        let filler_prompt = &settings.prompts.filler;
        let filler_pcm = match shared.prompt(filler_prompt).await {
            Ok(pcm) => Some(pcm),
            Err(e) => {
                tracing::error!(error = %e, "filler prompt not available: callers wait in silence");
                None
            }
        };
        let filler_said = match filler_prompt {
            zvonar_dialplan::Prompt::Text(t) => settings.fill(t),
            zvonar_dialplan::Prompt::File(f) => format!("[{f}]"),
        };
        let (asr_tx, asr_rx) = mpsc::unbounded_channel();
        let asr_cancel = CancellationToken::new();
        RobotDriver {
            shared,
            io,
            robot,
            listening: None,
            no_input_at: None,
            recognising: None,
            digit_at: None,
            max_utterance_ms: None,
            playing: HashMap::new(),
            next_prompt: 1,
            asr_tx,
            asr_rx,
            turns: ListenTurns::default(),
            _asr_cancel_on_drop: asr_cancel.clone().drop_guard(),
            asr_cancel,
            turn_started: None,
            in_speech: false,
            hangup_requested: false,
            filler: Filler::new(settings.filler_after_ms),
            filler_pcm,
            filler_said,
            fillers_playing: HashSet::new(),
            handover: None,
            early: None,
            parts_playing: HashSet::new(),
        }
    }

    /// Runs the conversation to its end.
    pub async fn run(self) -> FlowEnd {
        self.run_from(RobotInput::Start).await
    }

    /// Runs the conversation from `first` (`Start`, or `OperatorUnavailable` for a call that
    /// overflowed from a queue and is here for a callback request).
    pub async fn run_from(mut self, first: RobotInput) -> FlowEnd {
        self.robot.handle(first);
        loop {
            if let Some(end) = self.drain().await {
                return end;
            }
            let deadline = self.no_input_at;
            let shutdown = self.shared.shutdown.clone();
            let digit_deadline = self.digit_at;
            let filler_deadline = self.filler.due().map(tokio::time::Instant::from_std);
            tokio::select! {
                _ = shutdown.cancelled() => {
                    // The drain time after SIGTERM is over: end the call ourselves. The robot
                    // files what it heard as an unfinished request first (a restart must not
                    // lose a caller's request), then BYE.
                    self.robot.handle(RobotInput::Shutdown);
                    self.drain().await;
                    self.io.leg.hangup().await;
                    return FlowEnd { cause: HangupCause::Shutdown };
                }
                sig = self.io.signals.recv() => match sig {
                    Some(CallSignal::Terminated(reason)) => {
                        self.robot.handle(RobotInput::CallerHangup);
                        self.drain().await;
                        return FlowEnd { cause: reason.cause() };
                    }
                    Some(CallSignal::Info { content_type, body, responder }) => {
                        responder.respond(200, None).await;
                        if let Some(d) = zvonar_voice::dtmf::parse_dtmf_info(&content_type, &body) {
                            let _ = self.io.media.send(MediaCommand::Digit(d));
                        }
                    }
                    Some(CallSignal::Offer { sdp, cseq, reinvite, responder }) => {
                        self.io.answer_offer(&sdp, cseq, reinvite, responder).await;
                    }
                    Some(CallSignal::Confirmed { ack_cseq, sdp }) => self.io.confirmed(ack_cseq, sdp.as_deref()),
                    None => return FlowEnd { cause: HangupCause::SignallingLost },
                },
                ev = self.io.media_events.recv() => match ev {
                    Some(ev) => self.on_media(ev).await,
                    None => return FlowEnd { cause: HangupCause::MediaLost },
                },
                res = self.asr_rx.recv() => {
                    if let Some((turn, res)) = res {
                        if self.turns.is_current(turn) {
                            self.on_asr(res).await;
                        } else {
                            tracing::debug!(call_id = %self.io.call_id, "stale ASR result dropped: the robot has moved on");
                        }
                    }
                }
                _ = sleep_until(deadline) => {
                    self.no_input_at = None;
                    if self.listening.take().is_some() {
                        self.robot.handle(RobotInput::NoInput);
                    }
                }
                _ = sleep_until(digit_deadline) => {
                    self.digit_at = None;
                    self.robot.handle(RobotInput::DigitTimeout);
                }
                _ = sleep_until(filler_deadline) => self.on_filler_due().await,
            }
        }
    }

    fn arm_no_input(&mut self) {
        if self.recognising == Some(self.turns.current()) {
            return;
        }
        if let Some(l) = self.listening {
            if self.playing.is_empty() && !self.in_speech {
                self.no_input_at = Some(
                    tokio::time::Instant::now() + Duration::from_millis(u64::from(l.no_input_ms)),
                );
            }
        }
    }

    async fn on_media(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::SpeechStarted => {
                self.discard_early();
                self.in_speech = true;
                self.no_input_at = None;
                if self.playing.values().any(|&barge_in| barge_in) {
                    self.robot.handle(RobotInput::SpeechStarted);
                }
            }
            MediaEvent::Utterance { pcm, ended } => {
                self.in_speech = false;
                // Speech counts only while listening, and over a prompt only if that prompt
                // may be interrupted (barge-in).
                if self.listening.is_none() || self.playing.values().any(|&barge_in| !barge_in) {
                    self.discard_early();
                    self.arm_no_input();
                    return;
                }
                self.turn_started = Some((ended, "speech"));
                let asr = self.shared.asr.clone();
                let tx = self.asr_tx.clone();
                let queue = self.shared.metrics.asr_queue.clone();
                let cancel = self.asr_cancel.clone();
                let turn = self.turns.current();
                let expect = self.turns.expect();
                self.filler.waiting(turn, ended);
                self.recognising = Some(turn);
                self.no_input_at = None;
                if let Some(early) = self.early.take() {
                    if early.turn == turn && early.pcm == pcm {
                        // Already being recognised since the pause: its result answers,
                        // unless another caller's closed utterance took its worker; then
                        // it is recognised as any utterance.
                        let metrics = self.shared.metrics.clone();
                        tokio::spawn(async move {
                            let r = match early.result.result().await {
                                Err(AsrError::Cancelled) if !cancel.is_cancelled() => {
                                    metrics.early("preempted");
                                    queue.set(asr.queue_depth() as i64 + 1);
                                    let r = asr.recognise_expecting(pcm, expect, &cancel).await;
                                    queue.set(asr.queue_depth() as i64);
                                    r
                                }
                                r => {
                                    metrics.early("used");
                                    r
                                }
                            };
                            if !matches!(r, Err(AsrError::Cancelled)) {
                                let _ = tx.send((turn, r));
                            }
                        });
                        return;
                    }
                    early.cancel.cancel();
                    self.shared.metrics.early("discarded");
                }
                queue.set(asr.queue_depth() as i64 + 1);
                tokio::spawn(async move {
                    let r = asr.recognise_expecting(pcm, expect, &cancel).await;
                    queue.set(asr.queue_depth() as i64);
                    if !matches!(r, Err(AsrError::Cancelled)) {
                        let _ = tx.send((turn, r));
                    }
                });
            }
            MediaEvent::Pause { pcm } => self.start_early(pcm),
            MediaEvent::Resumed => self.discard_early(),
            MediaEvent::Digit { digit, via } => {
                self.discard_early();
                self.publish(CallEventKind::Digits {
                    digits: digit.to_string(),
                    via: via.to_string(),
                })
                .await;
                // One key per input, as it arrives; the robot collects multi-digit answers.
                self.listening = None;
                self.no_input_at = None;
                self.turn_started = Some((Instant::now(), "keys"));
                self.robot.handle(RobotInput::Key(digit));
            }
            MediaEvent::PlaybackStarted { id } => {
                tracing::trace!(call_id = %self.io.call_id, id, "prompt started");
                if self.fillers_playing.contains(&id) {
                    if let Some((t, _)) = self.turn_started {
                        tracing::debug!(
                            call_id = %self.io.call_id,
                            waited_ms = t.elapsed().as_millis() as u64,
                            "filler started"
                        );
                    }
                } else if let Some((t, via)) = self.turn_started.take() {
                    let latency = t.elapsed();
                    self.shared
                        .metrics
                        .turn_latency
                        .observe(latency.as_secs_f64());
                    tracing::debug!(
                        call_id = %self.io.call_id,
                        turn_ms = latency.as_millis() as u64,
                        via,
                        "turn latency"
                    );
                }
            }
            MediaEvent::PlaybackDone { id } => {
                self.fillers_playing.remove(&id);
                self.parts_playing.remove(&id);
                if self.playing.remove(&id).is_some() {
                    self.robot.handle(RobotInput::PlaybackDone);
                }
                self.arm_no_input();
            }
        }
    }

    /// The caller paused (`[asr] early_ms` of silence): recognise the utterance so far now,
    /// if it would count as an answer and a recogniser is idle (early recognition must
    /// never make another caller's closed utterance wait: see [`zvonar_voice::asr::Asr::start_early`]).
    fn start_early(&mut self, pcm: Vec<i16>) {
        self.discard_early();
        if self.listening.is_none() || self.playing.values().any(|&barge_in| !barge_in) {
            return;
        }
        let cancel = self.asr_cancel.child_token();
        let result =
            match self
                .shared
                .asr
                .start_early(pcm.clone(), self.turns.expect(), cancel.clone())
            {
                Ok(r) => r,
                Err(_) => {
                    // No recogniser idle: the utterance waits for its end as usual.
                    self.shared.metrics.early("skipped");
                    return;
                }
            };
        self.early = Some(Early {
            turn: self.turns.current(),
            pcm,
            result,
            cancel,
        });
    }

    /// Drops the early recognition in progress: the caller went on speaking.
    fn discard_early(&mut self) {
        if let Some(early) = self.early.take() {
            early.cancel.cancel();
            self.shared.metrics.early("discarded");
        }
    }

    async fn on_asr(&mut self, res: Result<AsrOutcome, AsrError>) {
        self.filler.answered();
        self.recognising = None;
        if let Ok(AsrOutcome::Speech(t) | AsrOutcome::Rejected { transcript: t, .. }) = &res {
            // Timings only: what was said is personal data.
            tracing::debug!(
                call_id = %self.io.call_id,
                audio_ms = t.audio_ms,
                asr_ms = t.asr_ms,
                queue_ms = t.queue_ms,
                "asr result"
            );
        }
        match res {
            Ok(AsrOutcome::Speech(t)) => {
                self.shared
                    .metrics
                    .asr_latency
                    .observe(f64::from(t.asr_ms) / 1000.0);
                self.publish(CallEventKind::Recognised {
                    text: t.text.clone(),
                    confidence: t.confidence,
                    audio_ms: t.audio_ms,
                    asr_ms: t.asr_ms,
                })
                .await;
                if self.listening.take().is_some() {
                    self.no_input_at = None;
                    self.robot.handle(RobotInput::Utterance {
                        text: t.text,
                        confidence: t.confidence,
                    });
                }
            }
            Ok(AsrOutcome::Rejected { reason, transcript }) => {
                self.shared
                    .metrics
                    .asr_latency
                    .observe(f64::from(transcript.asr_ms) / 1000.0);
                self.turn_started = None;
                self.publish(CallEventKind::SpeechRejected {
                    reason: reason.to_string(),
                })
                .await;
                // Noise is not an answer: keep listening, the no-input timer decides.
                self.arm_no_input();
            }
            Err(e) => {
                // Overloaded (the queue is full) or failing: the caller is not kept waiting
                // for speech that will not be recognised; the robot offers the keypad.
                let reason = match e {
                    AsrError::Overloaded(_) => "asr_overloaded",
                    _ => "asr_error",
                };
                tracing::warn!(call_id = %self.io.call_id, error = %e, "ASR failed");
                self.publish(CallEventKind::SpeechRejected {
                    reason: reason.into(),
                })
                .await;
                if self.listening.take().is_some() {
                    self.no_input_at = None;
                    self.robot.handle(RobotInput::RecognitionUnavailable);
                } else {
                    self.turn_started = None;
                    self.arm_no_input();
                }
            }
        }
    }

    async fn publish(&self, kind: CallEventKind) {
        self.shared.events.publish(&self.io.call_id, kind).await;
    }

    /// The filler's time has come: say it if the caller is still waiting for the answer to
    /// the open question and nothing else is being said.
    async fn on_filler_due(&mut self) {
        let now = std::time::Instant::now();
        if !self.filler.fire(now, self.turns.current()) {
            return;
        }
        let waiting = self.listening.is_some() && self.playing.is_empty();
        let Some(pcm) = self.filler_pcm.clone().filter(|_| waiting) else {
            return;
        };
        self.publish(CallEventKind::RobotSaid {
            text: self.filler_said.clone(),
        })
        .await;
        let id = self.next_prompt;
        self.next_prompt += 1;
        self.fillers_playing.insert(id);
        let _ = self.io.media.send(MediaCommand::Play { id, pcm });
    }

    /// Plays a sentence of a phrase before its last one: nobody waits in silence any more,
    /// and the robot hears of the phrase's end from the last sentence only (a stop clears
    /// these with the rest).
    fn play_part(&mut self, pcm: Arc<[i16]>) {
        self.filler.answered();
        let id = self.next_prompt;
        self.next_prompt += 1;
        self.parts_playing.insert(id);
        self.no_input_at = None;
        let _ = self.io.media.send(MediaCommand::Play { id, pcm });
    }

    async fn play(&mut self, pcm: Arc<[i16]>, barge_in: bool) {
        // The robot speaks: nobody waits in silence any more.
        self.filler.answered();
        let id = self.next_prompt;
        self.next_prompt += 1;
        self.playing.insert(id, barge_in);
        self.no_input_at = None;
        let _ = self.io.media.send(MediaCommand::Play { id, pcm });
    }

    /// Carries out the robot's outputs; returns the end of the flow after `Hangup`, or when
    /// the call ended with an operator or in the queue.
    async fn drain(&mut self) -> Option<FlowEnd> {
        loop {
            self.drain_outputs().await;
            if self.handover.is_some() && self.playing.is_empty() {
                if let Some(end) = self.hand_over().await {
                    return Some(end);
                }
                continue;
            }
            break;
        }
        if self.hangup_requested && self.playing.is_empty() {
            self.io.leg.hangup().await;
            return Some(FlowEnd {
                cause: HangupCause::RobotBye,
            });
        }
        None
    }

    /// The caller waits in the operator queue the robot chose; `Some` when the call is over
    /// (with the operator, or hung up while waiting), `None` when it overflowed and the robot
    /// goes on (a callback request).
    async fn hand_over(&mut self) -> Option<FlowEnd> {
        use super::queue::caller::{converse, wait, Conversed, Join, WaitEnd};
        let h = self.handover.take()?;
        let queue = match self.shared.dialplan.flow(&h.flow).map(|f| &f.kind) {
            Some(zvonar_dialplan::FlowKind::Queue(q)) => q.queue.0.clone(),
            _ => {
                tracing::error!(flow = %h.flow, "operator_flow is not a queue flow");
                self.robot.handle(RobotInput::OperatorUnavailable);
                return None;
            }
        };
        self.listening = None;
        self.no_input_at = None;
        self.digit_at = None;
        let join = Join {
            queue,
            emergency: h.emergency,
            topic: h.topic,
            reason: h.reason,
            context: h.context,
        };
        match wait(&self.shared, &mut self.io, join.clone()).await {
            WaitEnd::Overflow(_) => {
                self.robot.handle(RobotInput::OperatorUnavailable);
                None
            }
            WaitEnd::Connected(rx) => {
                self.robot.handle(RobotInput::OperatorAnswered);
                self.drain_outputs().await;
                match converse(&self.shared, &mut self.io, rx, join).await {
                    Conversed::Ended(end) => Some(end),
                    // The agent sent the caller back to the robot (or the queue the caller
                    // went back to overflowed): this robot goes on, taking a callback
                    // request as after an overflow.
                    Conversed::Flow(_) => {
                        self.robot.handle(RobotInput::OperatorUnavailable);
                        None
                    }
                }
            }
            WaitEnd::Ended(end) => {
                let input = if end.cause == HangupCause::Shutdown {
                    RobotInput::Shutdown
                } else {
                    RobotInput::CallerHangup
                };
                self.robot.handle(input);
                self.drain_outputs().await;
                Some(end)
            }
        }
    }

    async fn drain_outputs(&mut self) {
        while let Some(out) = self.robot.poll_output() {
            match out {
                RobotOutput::Say { text, barge_in } => {
                    self.publish(CallEventKind::RobotSaid { text: text.clone() })
                        .await;
                    // A phrase not ready (a reply made for this call) is spoken sentence by
                    // sentence: the first plays as soon as it is synthesised, while the
                    // next ones are, and fixed sentences («Скажите да или нет…») come
                    // from the cache. Only the last one's end is the robot's PlaybackDone.
                    let sentences = if self.shared.tts.is_cached(&text, "ru") {
                        vec![text.as_str()]
                    } else {
                        sentences(&text)
                    };
                    let last = sentences.len() - 1;
                    for (i, sentence) in sentences.into_iter().enumerate() {
                        // Normalised and, per [tts] phrases / number_clips, assembled from
                        // pieces.
                        match self.shared.tts.say(sentence, "ru").await {
                            Ok(pcm) if i < last => self.play_part(pcm),
                            Ok(pcm) => self.play(pcm, barge_in).await,
                            Err(e) => {
                                tracing::error!(error = %e, "prompt not synthesised");
                                self.robot.handle(RobotInput::PlaybackDone);
                                break;
                            }
                        }
                    }
                }
                RobotOutput::Play { file, barge_in } => {
                    self.publish(CallEventKind::RobotSaid {
                        text: format!("[{file}]"),
                    })
                    .await;
                    match self.shared.prompt_file(&file).await {
                        Ok(pcm) => self.play(pcm, barge_in).await,
                        Err(e) => {
                            tracing::error!(error = %e, "prompt file not playable");
                            self.robot.handle(RobotInput::PlaybackDone);
                        }
                    }
                }
                RobotOutput::StopPlayback => {
                    self.playing.clear();
                    self.fillers_playing.clear();
                    self.parts_playing.clear();
                    let _ = self.io.media.send(MediaCommand::StopPlayback);
                }
                RobotOutput::Listen {
                    no_input_ms,
                    max_ms,
                    expect,
                } => {
                    if self.max_utterance_ms != Some(max_ms) {
                        self.max_utterance_ms = Some(max_ms);
                        let _ = self
                            .io
                            .media
                            .send(MediaCommand::MaxUtterance { ms: max_ms });
                    }
                    self.turns.listen(expect);
                    self.filler.answered();
                    self.listening = Some(Listening { no_input_ms });
                    self.arm_no_input();
                }
                RobotOutput::StartDigitTimer { ms } => {
                    self.digit_at =
                        Some(tokio::time::Instant::now() + Duration::from_millis(u64::from(ms)));
                }
                RobotOutput::CancelDigitTimer => self.digit_at = None,
                RobotOutput::LoadApartments { building_id } => {
                    let apartments = super::context::apartments_for_call(
                        &self.shared.directory,
                        building_id,
                        chrono::Utc::now(),
                    )
                    .await;
                    self.robot.handle(RobotInput::Apartments {
                        building_id,
                        apartments,
                    });
                }
                RobotOutput::LookupPremises {
                    building_id,
                    apartment,
                } => {
                    let found = match self
                        .shared
                        .registry
                        .find_premises(building_id, &apartment)
                        .await
                    {
                        Ok(f) => f.map(|(premises_id, account_id)| FoundPremises {
                            premises_id,
                            account_id,
                        }),
                        Err(e) => {
                            tracing::error!(error = %e, "premises lookup failed");
                            None
                        }
                    };
                    self.robot.handle(RobotInput::PremisesFound(found));
                }
                RobotOutput::Event(kind) => self.publish(kind).await,
                RobotOutput::CreateTicket(req) => {
                    let unfinished = req.unfinished;
                    let number = self.shared.file_ticket(&self.io.call_id, req).await;
                    if unfinished {
                        // An unfinished request is filed at hangup or give-up; the robot
                        // expects no answer for it.
                        continue;
                    }
                    match number {
                        Some(number) => {
                            self.shared.metrics.tickets.inc();
                            self.robot.handle(RobotInput::TicketCreated { number });
                        }
                        None => self.robot.handle(RobotInput::TicketNotFiled),
                    }
                }
                RobotOutput::RequestCallback(req) => {
                    self.publish(CallEventKind::CallbackRequested(req)).await;
                    self.robot.handle(RobotInput::CallbackRecorded);
                }
                RobotOutput::Hangup => {
                    self.hangup_requested = true;
                }
                RobotOutput::HandOver(h) => self.handover = Some(*h),
                other => {
                    // Outputs may carry addresses and what the caller said: never logged.
                    tracing::warn!(call_id = %self.io.call_id, output = ?zvonar_models::Pii(&other), "robot output not supported by this engine")
                }
            }
        }
    }
}

/// Numbers the robot's questions (each `Listen`) so that an ASR result is applied only
/// to the question it was spoken to: a result that arrives after the robot moved on (keys
/// answered meanwhile, a re-ask after no input) is stale and dropped. Also keeps what
/// answer the open question expects, which goes with each utterance to the recogniser.
#[derive(Debug, Default)]
pub struct ListenTurns {
    current: u64,
    expect: Expect,
}

impl ListenTurns {
    /// The robot asks a new question expecting `expect`; results of earlier ones become
    /// stale.
    pub fn listen(&mut self, expect: Expect) {
        self.current += 1;
        self.expect = expect;
    }

    /// The question an utterance heard now answers.
    pub fn current(&self) -> u64 {
        self.current
    }

    /// What answer the open question expects ([`Expect::Free`] before the first).
    pub fn expect(&self) -> Expect {
        self.expect
    }

    /// Whether a result for `turn` still answers the open question.
    pub fn is_current(&self, turn: u64) -> bool {
        turn == self.current
    }
}

/// The sentences of a robot's phrase, in order, each with its end punctuation: split after
/// `.`, `?`, `!` or `…` and a space when a capital letter follows. A full stop after a
/// short word is an abbreviation of an address («ул. Ленина», «д. 5»), not a sentence end;
/// after a number it is («Номер заявки 12345. Ожидайте…»).
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '?' | '!' | '…') {
            continue;
        }
        let Some(&(_, space)) = chars.get(k + 1) else {
            continue;
        };
        let Some(&(next_at, next)) = chars.get(k + 2) else {
            continue;
        };
        if !space.is_whitespace() || !next.is_uppercase() {
            continue;
        }
        if c == '.' {
            let word: String = chars[..k]
                .iter()
                .rev()
                .map(|&(_, c)| c)
                .take_while(|c| c.is_alphanumeric())
                .collect();
            let number = !word.is_empty() && word.chars().all(|c| c.is_ascii_digit());
            if !number && word.chars().count() < 5 {
                continue;
            }
        }
        out.push(text[start..i + c.len_utf8()].trim());
        start = next_at;
    }
    let rest = text[start..].trim();
    if !rest.is_empty() || out.is_empty() {
        out.push(rest);
    }
    out
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Human Russian date-time for prompts in the company's local time `tz`: «22 ноября в 10:00».
pub fn ru_datetime(dt: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    use chrono::{Datelike, Timelike};
    let local = dt.with_timezone(&tz);
    format!(
        "{} {} в {}:{:02}",
        local.day(),
        zvonar_voice::say_ru::values::MONTHS[local.month0() as usize],
        local.hour(),
        local.minute()
    )
}

async fn call_context(shared: &Shared, io: &CallIo) -> CallContext {
    let now = chrono::Utc::now();
    let mut known = None;
    if let Some(phone) = &io.caller {
        match shared.registry.find_by_phone(phone).await {
            Ok(list) => {
                if let Some(k) = list.into_iter().next() {
                    // The number masked, the address never (personal data, 152-ФЗ).
                    tracing::debug!(
                        call_id = %io.call_id,
                        caller = %phone,
                        address = %zvonar_models::Pii(&k.street),
                        "caller's premises found by number"
                    );
                    known = Some(KnownPremises {
                        account_id: Some(k.account_id),
                        premises_id: k.premises_id,
                        building_id: k.building_id,
                        address_spoken: format!(
                            "{}, дом {}, квартира {}",
                            k.street, k.house, k.apartment
                        ),
                        apartment: Some(k.apartment.clone()),
                    });
                }
            }
            Err(e) => tracing::error!(error = %e, "caller lookup failed"),
        }
    }
    let buildings =
        super::context::buildings_for_call(&shared.directory, now, shared.time_zone).await;
    CallContext {
        caller: io.caller.clone(),
        known,
        buildings,
    }
}

#[cfg(test)]
mod tests {
    use super::{ru_datetime, sentences, ListenTurns};
    use std::sync::{Arc, Mutex};
    use tokio_util::sync::CancellationToken;
    use zvonar_dialplan::robot::{
        BuildingInfo, CallContext, DispatcherRobot, Expect, NumberSlot, RobotInput, RobotOutput,
    };
    use zvonar_models::BuildingId;
    use zvonar_voice::asr::{Asr, AsrError, AsrOutcome, Decoder, Transcript};

    /// Records what answer each utterance it decodes was expected to be.
    struct Expecting(Arc<Mutex<Vec<Expect>>>);

    impl Decoder for Expecting {
        fn decode(&mut self, pcm: &[i16], queue_ms: u32) -> Result<AsrOutcome, AsrError> {
            self.decode_expecting(pcm, queue_ms, Expect::Free)
        }

        fn decode_expecting(
            &mut self,
            pcm: &[i16],
            queue_ms: u32,
            expect: Expect,
        ) -> Result<AsrOutcome, AsrError> {
            self.0.lock().expect("lock").push(expect);
            Ok(AsrOutcome::Speech(Transcript {
                text: "сорок пять".into(),
                confidence: 0.9,
                no_speech_prob: 0.0,
                audio_ms: (pcm.len() / 8) as u32,
                asr_ms: 1,
                queue_ms,
            }))
        }
    }

    /// Carries out the robot's outputs as the driver does for listening: each `Listen`
    /// opens a turn with its expectation; `LoadApartments` is answered at once.
    fn drain(robot: &mut DispatcherRobot, turns: &mut ListenTurns) {
        while let Some(out) = robot.poll_output() {
            match out {
                RobotOutput::Listen { expect, .. } => turns.listen(expect),
                RobotOutput::Say { .. } => robot.handle(RobotInput::PlaybackDone),
                // The driver always answers; no registry here.
                RobotOutput::LoadApartments { building_id } => {
                    robot.handle(RobotInput::Apartments {
                        building_id,
                        apartments: None,
                    })
                }
                _ => {}
            }
        }
    }

    #[tokio::test]
    async fn the_question_s_expectation_reaches_the_asr_request() {
        let building = |id, house: &str| BuildingInfo {
            id: BuildingId(id),
            street: "улица Ленина".into(),
            house: house.into(),
            spoken: format!("улица Ленина, дом {house}"),
            outages: vec![],
        };
        let ctx = CallContext {
            caller: None,
            known: None,
            buildings: vec![building(1, "5"), building(2, "7")],
        };
        let mut robot = DispatcherRobot::new(&zvonar_dialplan::DispatcherSettings::default(), ctx);
        let mut turns = ListenTurns::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let asr = Asr::with_decoders(vec![Box::new(Expecting(seen.clone()))], 4).expect("asr");
        let cancel = CancellationToken::new();
        robot.handle(RobotInput::Start);
        drain(&mut robot, &mut turns);
        // «Назовите улицу и номер дома»: free speech.
        asr.recognise_expecting(vec![0; 800], turns.expect(), &cancel)
            .await
            .expect("decoded");
        robot.handle(RobotInput::Utterance {
            text: "Ленина пять".into(),
            confidence: 0.9,
        });
        drain(&mut robot, &mut turns);
        // «Назовите номер квартиры»: the utterance goes to the recogniser as a number.
        asr.recognise_expecting(vec![0; 800], turns.expect(), &cancel)
            .await
            .expect("decoded");
        assert_eq!(
            *seen.lock().expect("lock"),
            vec![Expect::Free, Expect::Number(NumberSlot::Apartment)]
        );
    }

    #[test]
    fn outage_times_are_read_in_the_company_zone() {
        // 2026-06-14 15:00 UTC: 18:00 in Moscow, 01:00 on June 15 in Vladivostok.
        let t = chrono::DateTime::parse_from_rfc3339("2026-06-14T15:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        assert_eq!(ru_datetime(t, chrono_tz::Europe::Moscow), "14 июня в 18:00");
        assert_eq!(
            ru_datetime(t, chrono_tz::Asia::Vladivostok),
            "15 июня в 1:00"
        );
        assert_eq!(
            ru_datetime(t, chrono_tz::Europe::Kaliningrad),
            "14 июня в 17:00"
        );
    }

    #[test]
    fn a_phrase_is_spoken_sentence_by_sentence() {
        assert_eq!(
            sentences("Квартира сто четыре, верно? Скажите да или нет, или нажмите 1 или 2."),
            [
                "Квартира сто четыре, верно?",
                "Скажите да или нет, или нажмите 1 или 2."
            ]
        );
        assert_eq!(
            sentences("Заявка принята. Номер заявки 12345. Ожидайте звонка!"),
            ["Заявка принята.", "Номер заявки 12345.", "Ожидайте звонка!"]
        );
        // Abbreviations in an address are not sentence ends; nor is a full stop before a
        // small letter or a number.
        assert_eq!(
            sentences("Вы звоните по адресу ул. Ленина, д. 5, кв. 12? Нажмите 1."),
            [
                "Вы звоните по адресу ул. Ленина, д. 5, кв. 12?",
                "Нажмите 1."
            ]
        );
        assert_eq!(sentences("Секунду…"), ["Секунду…"]);
        assert_eq!(sentences(""), [""]);
        assert_eq!(sentences("Итак. 5 минут"), ["Итак. 5 минут"]);
    }

    #[test]
    fn a_result_for_an_earlier_question_is_stale() {
        let mut turns = ListenTurns::default();
        turns.listen(Expect::Number(NumberSlot::Apartment)); // «Назовите номер квартиры…»
        let spoken_to = turns.current();
        assert!(turns.is_current(spoken_to));
        // The caller typed the apartment while the speech was still being decoded: the
        // robot asks the next question before the transcript arrives.
        turns.listen(Expect::Free); // «Опишите, что случилось»
        assert!(!turns.is_current(spoken_to));
        assert!(turns.is_current(turns.current()));
    }
}
