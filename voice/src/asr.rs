//! Speech recognition with whisper-rs (whisper.cpp), run on dedicated worker threads so
//! that media never waits for it.
//!
//! Shape of the work: the engine hands over one utterance (8 kHz mono `i16`, as cut by the
//! VAD) and awaits an [`AsrOutcome`]. The utterance is upsampled to 16 kHz `f32`, decoded
//! greedily with the language fixed (Russian by default) and then gated: Whisper invents
//! text on silence and noise («Продолжение следует…», «Субтитры сделал…»), so a result
//! with a high no-speech probability, empty text, a known hallucination or a very low
//! token probability is [`AsrOutcome::Rejected`] and never reaches a call flow as speech.

use queue::{Job, JobQueue};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};
pub use zvonar_models::{Expect, NumberSlot};

pub mod grammar;
mod queue;
pub mod repetition;

use grammar::{Constraint, FilterRun, NumberGrammar};

/// How much of Whisper's 30 s encoder window to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioCtx {
    /// The model's full window (1500 encoder frames = 30 s): most accurate, ~3× slower on
    /// short phrases because the encoder always processes 30 s.
    Full,
    /// Only as many encoder frames as the utterance needs (50 frames per second of audio)
    /// plus this many frames of margin; faster, at some accuracy cost.
    Auto {
        /// Extra encoder frames beyond the audio length (1 frame = 20 ms).
        margin_frames: u32,
        /// Fewest encoder frames to run: with much less than 4 s of context Whisper tends to repeat
        /// a short word until the token limit («12 12 12 …»).
        min_frames: u32,
    },
}

impl AudioCtx {
    /// Encoder frames to request for `samples_16k` samples of 16 kHz audio; 0 means "model default".
    pub fn frames_for(self, samples_16k: usize) -> i32 {
        match self {
            AudioCtx::Full => 0,
            AudioCtx::Auto {
                margin_frames,
                min_frames,
            } => {
                let frames = (samples_16k.div_ceil(320) as u32 + margin_frames).max(min_frames);
                frames.min(1500) as i32
            }
        }
    }
}

/// Default of [`AsrConfig::max_queue`]: utterances waiting or being decoded at most.
pub const DEFAULT_MAX_QUEUE: usize = 64;

/// Settings of the recogniser.
#[derive(Clone, Debug)]
pub struct AsrConfig {
    /// Path of a ggml Whisper model (e.g. `data/models/ggml-base.bin`).
    pub model_path: PathBuf,
    /// ISO 639-1 language, `ru` for residents' calls.
    pub language: String,
    /// Worker threads, each with its own Whisper state (decodes in parallel).
    pub workers: usize,
    /// CPU threads each worker's decode may use.
    pub threads_per_worker: usize,
    /// Encoder window.
    pub audio_ctx: AudioCtx,
    /// A segment whose no-speech probability is above this (0..1) is rejected.
    pub no_speech_threshold: f32,
    /// A result whose mean token probability is below this (0..1) is rejected.
    pub min_confidence: f32,
    /// Utterances waiting or being decoded at most; more are refused at once
    /// ([`AsrError::Overloaded`]: back-pressure), so a flood of calls degrades to keypad
    /// menus instead of unbounded delay.
    pub max_queue: usize,
    /// How answers to number questions ([`Expect::Number`]) are decoded.
    pub numbers: NumberDecoding,
    /// Early recognition: after this much silence (ms) a caller's utterance is
    /// recognised before the VAD closes it (its `end_silence_ms`), if a worker is idle;
    /// the result is used when the caller says nothing more. 0 = off. See
    /// [`crate::vad::VadConfig::early_ms`] and [`Asr::start_early`].
    pub early_ms: u32,
}

/// Default of [`AsrConfig::early_ms`]: 300 ms of silence, 400 ms before the VAD's default
/// `end_silence_ms` of 700 closes the utterance.
pub const DEFAULT_EARLY_MS: u32 = 300;

/// How the answer to a number question is decoded (slot-aware recognition). The defaults
/// are what won the number benchmark (`cargo bench --bench numbers`, README).
#[derive(Clone, Debug, PartialEq)]
pub struct NumberDecoding {
    /// Text Whisper is told was said just before (its prompt, as the previous window's
    /// text): steers how it writes numbers. `None`: no prompt.
    pub prompt: Option<String>,
    /// Beam search width; 1 decodes greedily.
    pub beam_size: u32,
    /// Grammars the answers of these slots are decoded under ([`grammar`]: number words,
    /// digits, the slot's keywords and fillers); a slot without one is decoded freely.
    /// Applied only with `beam_size` 1.
    pub grammars: Vec<(NumberSlot, Arc<NumberGrammar>)>,
}

impl NumberDecoding {
    /// Decoded like free speech: no prompt, greedy, no grammar.
    pub fn plain() -> Self {
        NumberDecoding {
            prompt: None,
            beam_size: 1,
            grammars: Vec::new(),
        }
    }

    /// Greedy, each slot's answer under its grammar (`grammars`: slot → the words of
    /// its answers, e.g. from the dialplan's numerals table).
    pub fn with_grammars(grammars: Vec<(NumberSlot, Arc<NumberGrammar>)>) -> Self {
        NumberDecoding {
            prompt: None,
            beam_size: 1,
            grammars,
        }
    }
}

impl Default for NumberDecoding {
    fn default() -> Self {
        NumberDecoding::plain()
    }
}

impl AsrConfig {
    /// Defaults for a 2-core machine: one worker, two threads, auto window.
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        AsrConfig {
            model_path: model_path.into(),
            language: "ru".to_string(),
            workers: 1,
            threads_per_worker: 2,
            audio_ctx: AudioCtx::Auto {
                margin_frames: 64,
                min_frames: 200,
            },
            no_speech_threshold: 0.6,
            min_confidence: 0.1,
            max_queue: DEFAULT_MAX_QUEUE,
            numbers: NumberDecoding::default(),
            early_ms: DEFAULT_EARLY_MS,
        }
    }
}

/// What was recognised in one utterance.
#[derive(Clone, Debug, PartialEq)]
pub struct Transcript {
    /// Text as Whisper produced it, trimmed.
    pub text: String,
    /// Mean probability of the text tokens, 0..1.
    pub confidence: f32,
    /// Highest no-speech probability over the segments, 0..1.
    pub no_speech_prob: f32,
    /// Utterance length, ms.
    pub audio_ms: u32,
    /// Time spent decoding, ms (excludes queueing).
    pub asr_ms: u32,
    /// Time spent waiting in the queue, ms.
    pub queue_ms: u32,
}

/// The verdict on one utterance.
#[derive(Clone, Debug, PartialEq)]
pub enum AsrOutcome {
    /// Speech: pass it to the call flow.
    Speech(Transcript),
    /// Not speech (or not trustworthy); `reason` is `no_speech`, `empty`, `hallucination`,
    /// `repetition` or `low_confidence`.
    Rejected {
        /// Stable reason code.
        reason: &'static str,
        /// What Whisper produced, for the call timeline.
        transcript: Transcript,
    },
}

/// Why recognition failed (as opposed to being rejected).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsrError {
    /// The model file is missing or not a Whisper ggml model.
    #[error("cannot load Whisper model {path}: {reason}")]
    Model {
        /// Model path.
        path: PathBuf,
        /// What whisper.cpp said.
        reason: String,
    },
    /// whisper.cpp failed on this utterance.
    #[error("whisper decode failed: {0}")]
    Decode(String),
    /// Too many utterances are waiting; the caller should fall back to the keypad.
    #[error("recogniser overloaded ({0} utterances waiting)")]
    Overloaded(usize),
    /// The workers are gone (shutdown).
    #[error("recogniser stopped")]
    Stopped,
    /// The utterance's call no longer wants it (the caller hung up): it was not decoded.
    #[error("recognition cancelled")]
    Cancelled,
}

/// One recogniser instance, driven by one worker thread: turns an utterance into an
/// outcome. [`Asr::start`] uses Whisper; [`Asr::with_decoders`] takes any (another
/// engine, or a test double).
pub trait Decoder: Send + 'static {
    /// Decodes `pcm_8k` (8 kHz mono) that waited `queue_ms` ms in the queue.
    ///
    /// Errors: [`AsrError::Decode`] when the engine fails on this utterance.
    fn decode(&mut self, pcm_8k: &[i16], queue_ms: u32) -> Result<AsrOutcome, AsrError>;

    /// Decodes `pcm_8k` as the answer to a question that expects `expect` (slot-aware
    /// recognition: a number answer may be decoded with a number prompt or grammar).
    /// The default ignores the expectation and calls [`Decoder::decode`].
    ///
    /// Errors: as [`Decoder::decode`].
    fn decode_expecting(
        &mut self,
        pcm_8k: &[i16],
        queue_ms: u32,
        expect: Expect,
    ) -> Result<AsrOutcome, AsrError> {
        let _ = expect;
        self.decode(pcm_8k, queue_ms)
    }

    /// [`Decoder::decode_expecting`] that stops soon after `cancel` is cancelled (with any
    /// error; the worker reports [`AsrError::Cancelled`]). The default does not stop.
    ///
    /// Errors: as [`Decoder::decode`].
    fn decode_cancellable(
        &mut self,
        pcm_8k: &[i16],
        queue_ms: u32,
        expect: Expect,
        cancel: Option<&CancellationToken>,
    ) -> Result<AsrOutcome, AsrError> {
        let _ = cancel;
        self.decode_expecting(pcm_8k, queue_ms, expect)
    }
}

struct WhisperDecoder {
    state: whisper_rs::WhisperState,
    config: AsrConfig,
    /// [`NumberDecoding::prompt`] as Whisper's tokens.
    number_prompt: Vec<std::ffi::c_int>,
    /// [`NumberDecoding::grammars`] applied to the model's vocabulary.
    constraints: Vec<(NumberSlot, Arc<Constraint>)>,
}

impl Decoder for WhisperDecoder {
    fn decode(&mut self, pcm_8k: &[i16], queue_ms: u32) -> Result<AsrOutcome, AsrError> {
        self.decode_expecting(pcm_8k, queue_ms, Expect::Free)
    }

    fn decode_expecting(
        &mut self,
        pcm_8k: &[i16],
        queue_ms: u32,
        expect: Expect,
    ) -> Result<AsrOutcome, AsrError> {
        self.decode_cancellable(pcm_8k, queue_ms, expect, None)
    }

    fn decode_cancellable(
        &mut self,
        pcm_8k: &[i16],
        queue_ms: u32,
        expect: Expect,
        cancel: Option<&CancellationToken>,
    ) -> Result<AsrOutcome, AsrError> {
        let prompt: &[std::ffi::c_int] = if expect.is_number() {
            &self.number_prompt
        } else {
            &[]
        };
        let constraint = match expect {
            Expect::Number(slot) => self
                .constraints
                .iter()
                .find(|(s, _)| *s == slot)
                .map(|(_, c)| c.as_ref()),
            _ => None,
        };
        decode(
            &mut self.state,
            &self.config,
            Utterance {
                pcm_8k,
                queue_ms,
                expect,
                prompt,
                constraint,
                cancel,
            },
        )
    }
}

/// A running recogniser: cheap to clone, shared by all calls. Utterances wait in a bounded
/// queue, the shortest (with ageing) first; see [`Asr::with_decoders`].
#[derive(Clone)]
pub struct Asr {
    queue: Arc<JobQueue>,
    max_queue: usize,
    workers: usize,
    early_ms: u32,
    alive: Arc<AtomicUsize>,
    /// Closes the queue when the last clone is dropped, so the workers end.
    _closer: Arc<CloseOnDrop>,
}

struct CloseOnDrop(Arc<JobQueue>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Asr {
    /// Loads the model once and starts `config.workers` worker threads.
    ///
    /// Errors: [`AsrError::Model`] when the file is missing or whisper.cpp rejects it.
    pub fn start(config: AsrConfig) -> Result<Self, AsrError> {
        let ctx = load_model(&config.model_path)?;
        let number_prompt = match &config.numbers.prompt {
            Some(p) => ctx.tokenize(p, 224).map_err(|e| AsrError::Model {
                path: config.model_path.clone(),
                reason: format!("number prompt {p:?}: {e}"),
            })?,
            None => Vec::new(),
        };
        let constraints: Vec<(NumberSlot, Arc<Constraint>)> = config
            .numbers
            .grammars
            .iter()
            .map(|(slot, g)| (*slot, Arc::new(Constraint::for_model((**g).clone(), &ctx))))
            .collect();
        let mut decoders: Vec<Box<dyn Decoder>> = Vec::new();
        for _ in 0..config.workers.max(1) {
            let state = ctx.create_state().map_err(|e| AsrError::Model {
                path: config.model_path.clone(),
                reason: e.to_string(),
            })?;
            decoders.push(Box::new(WhisperDecoder {
                state,
                config: config.clone(),
                number_prompt: number_prompt.clone(),
                constraints: constraints.clone(),
            }));
        }
        Ok(Asr::with_decoders(decoders, config.max_queue)
            .map_err(|e| AsrError::Model {
                path: config.model_path.clone(),
                reason: e.to_string(),
            })?
            .with_early_ms(config.early_ms))
    }

    /// Starts one worker thread per decoder, sharing a queue of at most `max_queue`
    /// utterances waiting or being decoded. A worker that frees up takes the waiting
    /// utterance due first, an utterance being due at its arrival plus its own length:
    /// shortest first in a burst, and none passed over for longer than its own length.
    /// Utterances of callers who hung up are dropped undecoded and free their place.
    ///
    /// Errors: [`AsrError::Decode`] when a thread cannot be started.
    pub fn with_decoders(
        decoders: Vec<Box<dyn Decoder>>,
        max_queue: usize,
    ) -> Result<Self, AsrError> {
        let queue = Arc::new(JobQueue::new(decoders.len()));
        let closer = Arc::new(CloseOnDrop(queue.clone()));
        let alive = Arc::new(AtomicUsize::new(0));
        let workers = decoders.len();
        for (n, decoder) in decoders.into_iter().enumerate() {
            let queue = queue.clone();
            alive.fetch_add(1, Ordering::AcqRel);
            let life = Alive(alive.clone());
            std::thread::Builder::new()
                .name(format!("asr-{n}"))
                .spawn(move || worker(decoder, queue, life))
                .map_err(|e| AsrError::Decode(format!("cannot start worker thread: {e}")))?;
        }
        Ok(Asr {
            queue,
            max_queue,
            workers,
            early_ms: 0,
            alive,
            _closer: closer,
        })
    }

    /// The same recogniser with early recognition after `ms` of silence
    /// ([`AsrConfig::early_ms`]; 0 = off, what [`Asr::with_decoders`] starts with).
    pub fn with_early_ms(mut self, ms: u32) -> Self {
        self.early_ms = ms;
        self
    }

    /// Silence after which a caller's utterance is recognised early, ms (0 = off).
    pub fn early_ms(&self) -> u32 {
        self.early_ms
    }

    /// Starts recognising an utterance early (at a pause, before the VAD closes it;
    /// [`AsrConfig::early_ms`]), only if a worker is idle now. It is decoded after every
    /// closed utterance, and a closed utterance that finds no idle worker stops it, so
    /// early recognition never makes anyone wait; the result then is
    /// [`AsrError::Cancelled`]. `cancel` stops it too (the caller went on speaking or hung
    /// up): dropped from the queue, or the decode aborted.
    ///
    /// Errors: [`AsrError::Overloaded`] at once when no worker is idle;
    /// [`AsrError::Stopped`] after shutdown.
    pub fn start_early(
        &self,
        pcm_8k: Vec<i16>,
        expect: Expect,
        cancel: CancellationToken,
    ) -> Result<EarlyRecognition, AsrError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            pcm_8k,
            expect,
            queued: Instant::now(),
            cancel: Some(cancel.clone()),
            reply,
            early: true,
        };
        self.queue.push(job, self.max_queue)?;
        Ok(EarlyRecognition { rx, cancel })
    }

    /// Utterances waiting for or in decoding now.
    pub fn queue_depth(&self) -> usize {
        self.queue.depth()
    }

    /// Most utterances waiting or being decoded at once; more are refused
    /// ([`AsrError::Overloaded`]).
    pub fn max_queue(&self) -> usize {
        self.max_queue
    }

    /// Worker threads started.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Worker threads still running (fewer than [`Asr::workers`] means one died).
    pub fn workers_alive(&self) -> usize {
        self.alive.load(Ordering::Acquire)
    }

    /// Recognises one utterance of 8 kHz mono samples.
    ///
    /// Errors: [`AsrError::Overloaded`] at once when the queue is full;
    /// [`AsrError::Decode`] when whisper.cpp fails; [`AsrError::Stopped`] after shutdown.
    pub async fn recognise(&self, pcm_8k: Vec<i16>) -> Result<AsrOutcome, AsrError> {
        self.submit(pcm_8k, Expect::Free, None).await
    }

    /// [`Asr::recognise`] for a call: once `cancel` is cancelled (the caller hung up) this
    /// returns [`AsrError::Cancelled`] at once, and the utterance, if still queued, is
    /// never decoded. Dropping the returned future has the same effect on the queue.
    ///
    /// Errors: as [`Asr::recognise`], and [`AsrError::Cancelled`].
    pub async fn recognise_for(
        &self,
        pcm_8k: Vec<i16>,
        cancel: &CancellationToken,
    ) -> Result<AsrOutcome, AsrError> {
        self.recognise_expecting(pcm_8k, Expect::Free, cancel).await
    }

    /// [`Asr::recognise_for`] of the answer to a question that expects `expect` (the
    /// robot's `Listen`): the decoder may decode a number answer differently
    /// ([`Decoder::decode_expecting`]).
    ///
    /// Errors: as [`Asr::recognise_for`].
    pub async fn recognise_expecting(
        &self,
        pcm_8k: Vec<i16>,
        expect: Expect,
        cancel: &CancellationToken,
    ) -> Result<AsrOutcome, AsrError> {
        if cancel.is_cancelled() {
            return Err(AsrError::Cancelled);
        }
        tokio::select! {
            r = self.submit(pcm_8k, expect, Some(cancel.clone())) => r,
            _ = cancel.cancelled() => Err(AsrError::Cancelled),
        }
    }

    async fn submit(
        &self,
        pcm_8k: Vec<i16>,
        expect: Expect,
        cancel: Option<CancellationToken>,
    ) -> Result<AsrOutcome, AsrError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            pcm_8k,
            expect,
            queued: Instant::now(),
            cancel,
            reply,
            early: false,
        };
        self.queue.push(job, self.max_queue)?;
        rx.await.map_err(|_| AsrError::Stopped)?
    }
}

/// An utterance being recognised early ([`Asr::start_early`]).
pub struct EarlyRecognition {
    rx: oneshot::Receiver<Result<AsrOutcome, AsrError>>,
    cancel: CancellationToken,
}

impl EarlyRecognition {
    /// Its result, once decoded.
    ///
    /// Errors: as [`Asr::recognise_for`]; [`AsrError::Cancelled`] also when a closed
    /// utterance took its worker.
    pub async fn result(self) -> Result<AsrOutcome, AsrError> {
        tokio::select! {
            r = self.rx => r.map_err(|_| AsrError::Stopped)?,
            _ = self.cancel.cancelled() => Err(AsrError::Cancelled),
        }
    }
}

/// Counts a worker thread as alive until it ends, by return or by panic.
struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn load_model(path: &Path) -> Result<WhisperContext, AsrError> {
    if !path.is_file() {
        return Err(AsrError::Model {
            path: path.to_path_buf(),
            reason: "file not found (run deploy/fetch-models.sh)".to_string(),
        });
    }
    whisper_rs::install_logging_hooks();
    let path_str = path.to_str().ok_or_else(|| AsrError::Model {
        path: path.to_path_buf(),
        reason: "path is not UTF-8".to_string(),
    })?;
    WhisperContext::new_with_params(path_str, WhisperContextParameters::default()).map_err(|e| {
        AsrError::Model {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    })
}

fn worker(mut decoder: Box<dyn Decoder>, queue: Arc<JobQueue>, _alive: Alive) {
    /// Marks the job finished however the decode ends (a panicking decoder included).
    struct Done<'a>(&'a JobQueue, u64);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.done(self.1);
        }
    }
    // The queue hands out no job of a caller who hung up; one who hangs up between the
    // queue and here is caught by `unwanted`.
    while let Some((job, ticket)) = queue.pop() {
        let done = Done(&queue, ticket);
        let result = if job.unwanted() {
            Err(AsrError::Cancelled)
        } else {
            let queue_ms = job.queued.elapsed().as_millis() as u32;
            // Only an early decode is stopped midway (for a closed utterance, or because
            // its caller went on speaking); a closed utterance is decoded to the end as
            // before, its result dropped if its caller hung up meanwhile.
            let cancel = job.cancel.as_ref().filter(|_| job.early);
            let r = decoder.decode_cancellable(&job.pcm_8k, queue_ms, job.expect, cancel);
            match r {
                Err(_)
                    if job
                        .cancel
                        .as_ref()
                        .is_some_and(CancellationToken::is_cancelled) =>
                {
                    Err(AsrError::Cancelled)
                }
                r => r,
            }
        };
        // Finished before the caller hears of it: its place is free when it asks again.
        drop(done);
        let _ = job.reply.send(result);
    }
}

/// whisper.cpp's abort callback: stop the decode once the job's token is cancelled.
/// `user_data` is a `*const CancellationToken` (see `decode`).
#[allow(unsafe_code)]
unsafe extern "C" fn abort_if_cancelled(user_data: *mut std::ffi::c_void) -> bool {
    // SAFETY: `decode` passes a token that outlives the `state.full` call during which
    // whisper.cpp calls this.
    let token = unsafe { &*(user_data as *const CancellationToken) };
    token.is_cancelled()
}

/// Upsamples 8 kHz `i16` to 16 kHz `f32` in -1..1, as Whisper expects.
pub fn to_whisper_input(pcm_8k: &[i16]) -> Vec<f32> {
    let up = audio_codec::resample(pcm_8k, 8000, 16000);
    up.iter().map(|&s| s as f32 / 32768.0).collect()
}

/// Loudness of the loudest 20 ms frame, dBFS (−96 for digital silence).
pub fn peak_frame_dbfs(pcm_8k: &[i16]) -> f32 {
    let loudest = pcm_8k
        .chunks(160)
        .map(|f| (f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / f.len() as f64).sqrt())
        .fold(0.0f64, f64::max);
    if loudest < 1.0 {
        -96.0
    } else {
        (20.0 * (loudest / 32768.0).log10()) as f32
    }
}

/// Below this level (dBFS of the loudest 20 ms frame) an utterance is not decoded at all:
/// Whisper turns silence into invented captions («ПОЛИЦЕЙСКАЯ МУЗЫКА»).
pub const MIN_SPEECH_DBFS: f32 = -45.0;

/// One utterance to decode and how: what the question expects, the number prompt's tokens
/// (empty: none), the slot's grammar, and the token that stops the decode midway.
struct Utterance<'a> {
    /// 8 kHz mono samples.
    pcm_8k: &'a [i16],
    /// How long it waited in the queue, ms.
    queue_ms: u32,
    expect: Expect,
    prompt: &'a [std::ffi::c_int],
    constraint: Option<&'a Constraint>,
    cancel: Option<&'a CancellationToken>,
}

fn decode(
    state: &mut whisper_rs::WhisperState,
    config: &AsrConfig,
    utterance: Utterance<'_>,
) -> Result<AsrOutcome, AsrError> {
    let Utterance {
        pcm_8k,
        queue_ms,
        expect,
        prompt,
        constraint,
        cancel,
    } = utterance;
    let started = Instant::now();
    if peak_frame_dbfs(pcm_8k) < MIN_SPEECH_DBFS {
        return Ok(AsrOutcome::Rejected {
            reason: "no_speech",
            transcript: Transcript {
                text: String::new(),
                confidence: 0.0,
                no_speech_prob: 1.0,
                audio_ms: (pcm_8k.len() / 8) as u32,
                asr_ms: 0,
                queue_ms,
            },
        });
    }
    let audio = to_whisper_input(pcm_8k);
    let beam = if expect.is_number() {
        config.numbers.beam_size
    } else {
        1
    };
    let strategy = if beam > 1 {
        SamplingStrategy::BeamSearch {
            beam_size: beam as i32,
            patience: -1.0,
        }
    } else {
        SamplingStrategy::Greedy { best_of: 1 }
    };
    let mut params = FullParams::new(strategy);
    if !prompt.is_empty() {
        params.set_tokens(prompt);
    }
    params.set_language(Some(&config.language));
    params.set_n_threads(config.threads_per_worker.max(1) as i32);
    params.set_no_context(true);
    params.set_no_timestamps(true);
    params.set_single_segment(true);
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_special(false);
    params.set_print_timestamps(false);
    params.set_suppress_blank(true);
    params.set_suppress_nst(true);
    params.set_no_speech_thold(config.no_speech_threshold);
    // One pass only: the temperature fallback (OpenAI's answer to a loop: decode again
    // hotter) multiplies latency, and under load every caller pays for it. A loop is cut
    // instead (see `gate`), and bounded by the token budget.
    params.set_temperature_inc(0.0);
    // Bound the text to what a person can say in this time: a decoder stuck in a repetition
    // loop stops within a few dozen decoder steps instead of running on to 224 tokens.
    let audio_ms = (pcm_8k.len() / 8) as u32;
    params.set_max_tokens(repetition::token_budget(audio_ms) as i32);
    let frames = config.audio_ctx.frames_for(audio.len());
    if frames > 0 {
        params.set_audio_ctx(frames);
    }
    // Whisper needs at least 1 s of input; pad short utterances with silence.
    let mut input = audio;
    if input.len() < 16_000 {
        input.resize(16_000 + 1_600, 0.0);
    }
    // Number answers under their slot's grammar (greedy only: with several decoders
    // whisper.cpp filters their logits on several threads at once).
    let run = constraint.filter(|_| beam <= 1).map(|c| FilterRun {
        constraint: c,
        masses: std::sync::Mutex::new(Vec::new()),
    });
    if let Some(run) = &run {
        #[allow(unsafe_code)]
        // SAFETY: `filter_logits` only reads `run` through a shared reference; `run` lives
        // on this stack frame until after `state.full` below returns, and whisper.cpp
        // calls the filter only during that call.
        unsafe {
            params.set_filter_logits_callback(Some(grammar::filter_logits));
            params.set_filter_logits_callback_user_data(
                run as *const FilterRun<'_> as *mut std::ffi::c_void,
            );
        }
    }
    if let Some(token) = cancel {
        #[allow(unsafe_code)]
        // SAFETY: `abort_if_cancelled` only reads the token through a shared reference;
        // `cancel` outlives `state.full` below, and whisper.cpp calls the callback only
        // during that call.
        unsafe {
            params.set_abort_callback(Some(abort_if_cancelled));
            params.set_abort_callback_user_data(
                token as *const CancellationToken as *mut std::ffi::c_void,
            );
        }
    }
    state
        .full(params, &input)
        .map_err(|e| AsrError::Decode(e.to_string()))?;
    let masses: Vec<f32> = run
        .map(|r| r.masses.into_inner().unwrap_or_default())
        .unwrap_or_default();

    let mut text = String::new();
    let mut prob_sum = 0.0f32;
    let mut prob_n = 0u32;
    let mut no_speech = 0.0f32;
    for i in 0..state.full_n_segments() {
        let Some(seg) = state.get_segment(i) else {
            continue;
        };
        no_speech = no_speech.max(seg.no_speech_probability());
        if let Ok(s) = seg.to_str_lossy() {
            text.push_str(&s);
        }
        for t in 0..seg.n_tokens() {
            if let Some(tok) = seg.get_token(t) {
                let is_special = tok
                    .to_str_lossy()
                    .map(|s| s.starts_with("[_") || s.starts_with("<|"))
                    .unwrap_or(true);
                if !is_special {
                    // Under a grammar a token's probability is among the allowed ones;
                    // times the mass the model gave them it is the model's own.
                    let kept = if masses.is_empty() {
                        1.0
                    } else {
                        masses.get(t as usize).copied().unwrap_or(1.0)
                    };
                    prob_sum += tok.token_probability() * kept;
                    prob_n += 1;
                }
            }
        }
    }
    let transcript = Transcript {
        text: text.trim().to_string(),
        confidence: if prob_n > 0 {
            prob_sum / prob_n as f32
        } else {
            0.0
        },
        no_speech_prob: no_speech,
        audio_ms,
        asr_ms: started.elapsed().as_millis() as u32,
        queue_ms,
    };
    Ok(gate(transcript, config))
}

/// Phrases Whisper produces from silence and noise (subtitle credits learnt from its
/// training data). Matched case-insensitively as substrings, ё folded to е.
const HALLUCINATIONS: &[&str] = &[
    "субтитр",
    "продолжение следует",
    "спасибо за просмотр",
    "подписывайтесь",
    "подпишись",
    "dimatorzok",
    "редактор субтитров",
    "корректор",
    "амара",
    "amara.org",
];

/// Removes sound-event captions Whisper writes in brackets or asterisks
/// («[музыка]», «(смех)», «*шум*»).
fn strip_captions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut in_star = false;
    for c in text.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            '*' => in_star = !in_star,
            _ if depth == 0 && !in_star => out.push(c),
            _ => {}
        }
    }
    out
}

/// Applies the no-speech gate to a transcript (pure; exposed for tests).
///
/// First, decoder repetition loops are cut to one copy ([`repetition::collapse`]): the text
/// that goes on is what the caller said, once. Then rejected: nothing but punctuation or
/// captions (`empty`); known subtitle credits or a text entirely in capitals, which is how
/// Whisper writes sound captions such as «МУЗЫКА» (`hallucination`); a text still as
/// repetitive as a loop, by OpenAI's compression-ratio test ([`repetition::compression_ratio`]
/// above [`repetition::COMPRESSION_RATIO_THRESHOLD`], `repetition`); a high no-speech
/// probability (`no_speech`); a low mean token probability (`low_confidence`).
pub fn gate(mut transcript: Transcript, config: &AsrConfig) -> AsrOutcome {
    let cut = repetition::collapse(&transcript.text);
    if cut.removed_words > 0 {
        tracing::debug!(
            loops = cut.loops.len(),
            removed_words = cut.removed_words,
            audio_ms = transcript.audio_ms,
            "repetition loop cut from the transcript"
        );
        transcript.text = cut.text;
    }
    let spoken = strip_captions(&transcript.text);
    let folded = spoken.to_lowercase().replace('ё', "е");
    let letters = folded.chars().filter(|c| c.is_alphanumeric()).count();
    let alphabetic: Vec<char> = spoken.chars().filter(|c| c.is_alphabetic()).collect();
    let all_caps = alphabetic.len() >= 4 && alphabetic.iter().all(|c| c.is_uppercase());
    let reason = if letters == 0 {
        Some("empty")
    } else if all_caps || HALLUCINATIONS.iter().any(|h| folded.contains(h)) {
        Some("hallucination")
    } else if repetition::compression_ratio(&spoken) > repetition::COMPRESSION_RATIO_THRESHOLD {
        Some("repetition")
    } else if transcript.no_speech_prob > config.no_speech_threshold {
        Some("no_speech")
    } else if transcript.confidence < config.min_confidence {
        Some("low_confidence")
    } else {
        None
    };
    match reason {
        Some(reason) => AsrOutcome::Rejected { reason, transcript },
        None => AsrOutcome::Speech(transcript),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn t(text: &str, conf: f32, ns: f32) -> Transcript {
        Transcript {
            text: text.into(),
            confidence: conf,
            no_speech_prob: ns,
            audio_ms: 1000,
            asr_ms: 10,
            queue_ms: 0,
        }
    }

    /// A decode whose job is cancelled (the caller went on speaking, hung up, or a closed
    /// utterance needs the worker) is stopped by whisper.cpp's abort callback: with the
    /// real model, the same speech is recognised with a live token and refused with a
    /// cancelled one.
    #[test]
    fn a_cancelled_job_stops_whisper() {
        let config = AsrConfig::new(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/models/ggml-base.bin"),
        );
        let ctx = load_model(&config.model_path).expect("run deploy/fetch-models.sh");
        let mut decoder = WhisperDecoder {
            state: ctx.create_state().expect("state"),
            config,
            number_prompt: Vec::new(),
            constraints: Vec::new(),
        };
        let mut pcm = vec![0i16; 1600];
        pcm.extend(crate::test_util::read_wav_8k(&crate::test_util::sound_ru(
            "digits/12.wav",
        )));
        pcm.extend(vec![0i16; 1600]);
        let token = CancellationToken::new();
        let live = decoder.decode_cancellable(&pcm, 0, Expect::Free, Some(&token));
        assert!(matches!(live, Ok(AsrOutcome::Speech(_))), "{live:?}");
        token.cancel();
        let stopped = decoder.decode_cancellable(&pcm, 0, Expect::Free, Some(&token));
        assert!(stopped.is_err(), "{stopped:?}");
    }

    #[test]
    fn gate_rejects_silence_artifacts_and_keeps_speech() {
        let c = AsrConfig::new("x");
        assert!(matches!(
            gate(t("Двенадцать", 0.8, 0.1), &c),
            AsrOutcome::Speech(_)
        ));
        assert!(matches!(
            gate(t("ЖЭК 12", 0.8, 0.1), &c),
            AsrOutcome::Speech(_)
        ));
        for (text, conf, ns, why) in [
            ("", 0.9, 0.0, "empty"),
            (" ... ", 0.9, 0.0, "empty"),
            ("Продолжение следует...", 0.9, 0.0, "hallucination"),
            ("Субтитры сделал DimaTorzok", 0.9, 0.0, "hallucination"),
            ("ПОЛИЦЕЙСКАЯ МУЗЫКА", 0.9, 0.0, "hallucination"),
            ("[музыка]", 0.9, 0.0, "empty"),
            ("Да", 0.9, 0.95, "no_speech"),
            ("Мама мыла раму", 0.05, 0.1, "low_confidence"),
        ] {
            match gate(t(text, conf, ns), &c) {
                AsrOutcome::Rejected { reason, .. } => assert_eq!(reason, why, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_repetition_loop_reaches_the_call_flow_once() {
        let c = AsrConfig::new("x");
        // Issue 6: the 3.5 s description, looped by the decoder to its token limit.
        let looped = "6 часов 45 минут, 3 доллара 5 центов 6 часов 45 минут, 3 доллара 5 центов 6 часов 45 минут, 3 доллара 5 центов 6 часов 45 минут, 3 доллара";
        match gate(t(looped, 0.8, 0.1), &c) {
            AsrOutcome::Speech(s) => assert_eq!(s.text, "6 часов 45 минут, 3 доллара 5 центов"),
            other => panic!("{other:?}"),
        }
        // Repetitive without an exact back-to-back repeat (OpenAI's compression ratio test):
        // not trusted as speech.
        let drifting: Vec<String> = (12..20)
            .map(|n| format!("улица Ленина дом 5 квартира {n}"))
            .collect();
        match gate(t(&drifting.join(", "), 0.8, 0.1), &c) {
            AsrOutcome::Rejected { reason, .. } => assert_eq!(reason, "repetition"),
            other => panic!("{other:?}"),
        }
        // Speech that merely repeats a word is speech.
        assert!(matches!(
            gate(t("Да, да, да.", 0.8, 0.1), &c),
            AsrOutcome::Speech(ref s) if s.text == "Да, да, да."
        ));
    }

    #[test]
    fn silence_level_is_measured() {
        assert_eq!(peak_frame_dbfs(&[0; 1600]), -96.0);
        let tone: Vec<i16> = (0..1600)
            .map(|i| if i % 2 == 0 { 3000 } else { -3000 })
            .collect();
        let db = peak_frame_dbfs(&tone);
        assert!((db - (-20.8)).abs() < 0.2, "{db}");
    }

    #[test]
    fn auto_window_covers_the_audio() {
        let a = AudioCtx::Auto {
            margin_frames: 64,
            min_frames: 150,
        };
        assert_eq!(a.frames_for(16_000), 150);
        assert_eq!(a.frames_for(16_000 * 5), 250 + 64);
        assert_eq!(a.frames_for(16_000 * 60), 1500);
        assert_eq!(AudioCtx::Full.frames_for(16_000), 0);
    }

    /// Counts what it decodes; the first utterance blocks until `gate` opens.
    struct Gated {
        started: std::sync::mpsc::Sender<usize>,
        gate: std::sync::mpsc::Receiver<()>,
        decoded: Arc<Mutex<Vec<usize>>>,
    }

    impl Decoder for Gated {
        fn decode(&mut self, pcm_8k: &[i16], queue_ms: u32) -> Result<AsrOutcome, AsrError> {
            let _ = self.started.send(pcm_8k.len());
            if self.decoded.lock().unwrap().is_empty() {
                let _ = self.gate.recv();
            }
            self.decoded.lock().unwrap().push(pcm_8k.len());
            Ok(gate(
                Transcript {
                    audio_ms: (pcm_8k.len() / 8) as u32,
                    queue_ms,
                    ..t("да", 0.9, 0.0)
                },
                &AsrConfig::new("x"),
            ))
        }
    }

    #[tokio::test]
    async fn utterances_of_callers_who_hung_up_are_not_decoded() {
        let (started_tx, started) = std::sync::mpsc::channel();
        let (open, gate_rx) = std::sync::mpsc::channel();
        let decoded = Arc::new(Mutex::new(Vec::new()));
        let asr = Asr::with_decoders(
            vec![Box::new(Gated {
                started: started_tx,
                gate: gate_rx,
                decoded: decoded.clone(),
            })],
            8,
        )
        .unwrap();
        assert_eq!((asr.workers(), asr.workers_alive()), (1, 1));
        // Call A's utterance occupies the only worker.
        let busy = tokio::spawn({
            let asr = asr.clone();
            async move { asr.recognise(vec![100; 800]).await }
        });
        assert_eq!(
            tokio::task::spawn_blocking(move || started.recv().unwrap())
                .await
                .unwrap(),
            800
        );
        // Call B's utterance waits in the queue; B hangs up.
        let call_b = CancellationToken::new();
        let queued_b = tokio::spawn({
            let (asr, call_b) = (asr.clone(), call_b.clone());
            async move { asr.recognise_for(vec![200; 1600], &call_b).await }
        });
        // Call C's utterance waits too; C stops waiting (its task is dropped).
        let call_c = CancellationToken::new();
        let queued_c = tokio::spawn({
            let (asr, call_c) = (asr.clone(), call_c.clone());
            async move { asr.recognise_for(vec![300; 2400], &call_c).await }
        });
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while asr.queue_depth() < 3 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("both utterances queued");
        call_b.cancel();
        assert!(matches!(queued_b.await.unwrap(), Err(AsrError::Cancelled)));
        queued_c.abort();
        let _ = queued_c.await;
        open.send(()).unwrap();
        assert!(matches!(busy.await.unwrap(), Ok(AsrOutcome::Speech(_))));
        // A live call's utterance after them is decoded; B's and C's never were.
        let live = CancellationToken::new();
        let r = asr.recognise_for(vec![400; 3200], &live).await.unwrap();
        assert!(
            matches!(r, AsrOutcome::Speech(ref t) if t.audio_ms == 400),
            "{r:?}"
        );
        assert_eq!(*decoded.lock().unwrap(), vec![800, 3200]);
        assert_eq!(asr.queue_depth(), 0);
        // Already cancelled: refused without queueing.
        assert!(matches!(
            asr.recognise_for(vec![1; 80], &call_b).await,
            Err(AsrError::Cancelled)
        ));
    }

    /// Records the expectation of every utterance it decodes.
    struct Expecting(Arc<Mutex<Vec<Expect>>>);

    impl Decoder for Expecting {
        fn decode(&mut self, _pcm_8k: &[i16], _queue_ms: u32) -> Result<AsrOutcome, AsrError> {
            panic!("the worker must pass the expectation on");
        }

        fn decode_expecting(
            &mut self,
            pcm_8k: &[i16],
            queue_ms: u32,
            expect: Expect,
        ) -> Result<AsrOutcome, AsrError> {
            self.0.lock().unwrap().push(expect);
            Ok(AsrOutcome::Speech(Transcript {
                audio_ms: (pcm_8k.len() / 8) as u32,
                queue_ms,
                ..t("сорок пять", 0.9, 0.0)
            }))
        }
    }

    #[tokio::test]
    async fn the_expected_answer_reaches_the_decoder() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let asr = Asr::with_decoders(vec![Box::new(Expecting(seen.clone()))], 4).unwrap();
        let call = CancellationToken::new();
        let apartment = Expect::Number(NumberSlot::Apartment);
        asr.recognise_expecting(vec![100; 800], apartment, &call)
            .await
            .unwrap();
        asr.recognise_expecting(vec![100; 800], Expect::YesNo, &call)
            .await
            .unwrap();
        asr.recognise_for(vec![100; 800], &call).await.unwrap();
        asr.recognise(vec![100; 800]).await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            vec![apartment, Expect::YesNo, Expect::Free, Expect::Free]
        );
    }

    #[test]
    fn missing_model_is_a_clear_error() {
        match Asr::start(AsrConfig::new("/nonexistent/ggml.bin")) {
            Err(AsrError::Model { reason, .. }) => assert!(reason.contains("not found")),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("started without a model"),
        }
    }
}
