//! Speech synthesis: Russian by the engine chosen in [`TtsConfig::russian`] — Festival with
//! Debian's `festvox-ru` by default (a long-lived child process, [`crate::festival`]),
//! espeak-ng, or a Piper voice; other languages by a Piper voice where one is installed,
//! espeak-ng in-process otherwise; recorded sound files as prompts; caches so the same
//! text always gives the same audio and is synthesised once.
//!
//! All synthesis runs on one dedicated worker thread (espeak-ng keeps global state and is
//! not thread-safe; Festival answers one request at a time); callers await the result, so
//! media tasks never block on it. Output is 8 kHz mono `i16`, ready for G.711.
//!
//! What keeps a year of service from wearing it down:
//! - the queue is bounded ([`TtsConfig::max_queue`]; beyond it [`TtsError::Overloaded`]);
//! - every request has a deadline ([`TtsConfig::deadline_ms`]; then [`TtsError::Timeout`],
//!   and the worker skips requests nobody waits for any more);
//! - a panic in synthesis fails that request ([`TtsError::WorkerDied`]) and a new worker
//!   thread takes over the same engines;
//! - the in-memory cache is an LRU bounded in bytes ([`TtsConfig::memory_cache_bytes`]) and
//!   the disk cache is pruned to [`TtsConfig::disk_cache_bytes`], least recently used files
//!   first — per-call phrases (ticket numbers, addresses) come and go;
//! - the dialplan's fixed prompts are rendered at start with [`Tts::prerender`] and kept
//!   outside the LRU, so a greeting never waits for synthesis.

use crate::espeak;
use crate::festival::{Festival, FestivalConfig};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Output sample rate of every prompt, Hz.
pub const PROMPT_RATE: u32 = 8000;

/// A Piper voice on disk: the `.onnx` model and its `.onnx.json` config.
#[derive(Clone, Debug, PartialEq)]
pub struct PiperVoice {
    /// ISO 639-1 language it speaks (`ru`, `en`).
    pub language: String,
    /// `…/ru_RU-denis-medium.onnx`.
    pub model: PathBuf,
    /// `…/ru_RU-denis-medium.onnx.json`.
    pub config: PathBuf,
}

/// The engine that speaks Russian (the robot's language).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RussianEngine {
    /// Festival with [`TtsConfig::festival`]'s voice (Debian's `festvox-ru` by default):
    /// by Whisper base at 8 kHz, a character error rate of ~10 % on the robot's sentences,
    /// against ~80 % for espeak-ng (README, «Голос робота»).
    #[default]
    Festival,
    /// espeak-ng in-process: always installed, hard to understand on a phone.
    Espeak,
    /// The Russian voice (`ru_RU-…`) among [`TtsConfig::piper_voices`]; start-up fails
    /// without one.
    Piper,
}

/// Settings of the synthesiser.
#[derive(Clone, Debug)]
pub struct TtsConfig {
    /// The engine that speaks Russian. Default [`RussianEngine::Festival`].
    pub russian: RussianEngine,
    /// How Festival is run, when it is [`TtsConfig::russian`].
    pub festival: FestivalConfig,
    /// Piper voices to use, by language; a language without one is spoken by espeak-ng.
    /// A Russian one is used only when [`TtsConfig::russian`] is [`RussianEngine::Piper`].
    pub piper_voices: Vec<PiperVoice>,
    /// `libonnxruntime.so` (≥ 1.24) for Piper; without it Piper is not used.
    pub onnxruntime: Option<PathBuf>,
    /// Directory that *contains* `espeak-ng-data/` (espeak-ng's data path convention).
    pub espeak_data_parent: Option<PathBuf>,
    /// espeak-ng speaking rate, words per minute (espeak default 175; 150 is clearer on a phone).
    pub espeak_rate_wpm: u32,
    /// Where synthesised prompts are kept as WAV files across restarts (optional).
    pub cache_dir: Option<PathBuf>,
    /// Most audio kept in memory, bytes (2 per sample; 1 MiB ≈ 65 s): least recently used
    /// phrases are dropped beyond it. Pre-rendered prompts are not counted. Default 32 MiB.
    pub memory_cache_bytes: usize,
    /// Most audio kept in `cache_dir`, bytes of WAV files: least recently used files are
    /// deleted beyond it (checked at start and after each write). Default 256 MiB.
    pub disk_cache_bytes: u64,
    /// Longest a request may take, queueing included, ms; then [`TtsError::Timeout`].
    /// Default 5000.
    pub deadline_ms: u64,
    /// Requests waiting for the worker at most; more get [`TtsError::Overloaded`]. Default 64.
    pub max_queue: usize,
    /// How [`Tts::say`] makes per-call phrases: whole, or from cached pieces. Default whole.
    pub phrases: crate::phrase::PhraseMode,
    /// Directory of human-recorded number clips in Asterisk's layout (`digits/1.wav`…);
    /// when set, [`Tts::say`] speaks numbers from them ([`crate::clips`]). Default none.
    pub number_clips: Option<PathBuf>,
}

impl Default for TtsConfig {
    fn default() -> Self {
        TtsConfig {
            russian: RussianEngine::default(),
            festival: FestivalConfig::default(),
            piper_voices: Vec::new(),
            onnxruntime: None,
            espeak_data_parent: None,
            espeak_rate_wpm: 0,
            cache_dir: None,
            memory_cache_bytes: 32 << 20,
            disk_cache_bytes: 256 << 20,
            deadline_ms: 5000,
            max_queue: 64,
            phrases: crate::phrase::PhraseMode::Whole,
            number_clips: None,
        }
    }
}

/// Which engine speaks a language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A Piper voice (model file name).
    Piper(String),
    /// espeak-ng with its voice for the language.
    Espeak,
    /// Festival with this voice (`msu_ru_nsh_clunits`).
    Festival(String),
}

/// Why a prompt could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TtsError {
    /// espeak-ng could not start or speak.
    #[error("espeak-ng: {0}")]
    Espeak(String),
    /// Piper failed on this text.
    #[error("piper: {0}")]
    Piper(String),
    /// Festival is missing, could not start, rejected the text, died or hung.
    #[error("festival: {0}")]
    Festival(String),
    /// A recorded prompt file is missing or not a readable WAV.
    #[error("prompt file {path}: {reason}")]
    SoundFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The synthesis thread is gone.
    #[error("synthesiser stopped")]
    Stopped,
    /// The request was not done within [`TtsConfig::deadline_ms`].
    #[error("synthesis took longer than {0} ms")]
    Timeout(u64),
    /// [`TtsConfig::max_queue`] requests are already waiting.
    #[error("synthesiser overloaded ({0} requests waiting)")]
    Overloaded(usize),
    /// Synthesis of this text panicked; a new worker has taken over.
    #[error("synthesis crashed on this text; worker restarted")]
    WorkerDied,
}

type Pcm = Arc<[i16]>;

/// A speech engine driven by the worker thread: espeak-ng and Piper in production
/// ([`Tts::start`]), anything else through [`Tts::with_synthesizer`].
pub trait Synthesizer: Send + 'static {
    /// Speaks `text` in `language` as 8 kHz mono samples.
    ///
    /// Errors: [`TtsError`] from the engine.
    fn speak(&mut self, text: &str, language: &str) -> Result<Vec<i16>, TtsError>;
}

/// Festival for Russian when chosen, Piper where a voice is loaded, espeak-ng otherwise.
struct Engines {
    festival: Option<Festival>,
    pipers: HashMap<String, crate::piper::LoadedPiper>,
}

impl Synthesizer for Engines {
    fn speak(&mut self, text: &str, language: &str) -> Result<Vec<i16>, TtsError> {
        // Engines get words, not digits and abbreviations (idempotent on normalised text).
        let normalised;
        let text = if language == "ru" {
            normalised = crate::say_ru::normalize(text);
            normalised.as_str()
        } else {
            text
        };
        if let (Some(f), "ru") = (self.festival.as_mut(), language) {
            return f.speak(text);
        }
        match self.pipers.get_mut(language) {
            Some(p) => crate::piper::speak(p, text),
            None => espeak::speak(text, language),
        }
    }
}

struct Job {
    text: String,
    language: String,
    key: String,
    /// Keep the result in the disk cache.
    store: bool,
    deadline: Instant,
    reply: oneshot::Sender<Result<Pcm, TtsError>>,
}

/// What the worker thread (and its successor after a panic) shares.
struct Worker {
    jobs: Mutex<std_mpsc::Receiver<Job>>,
    synth: Mutex<Box<dyn Synthesizer>>,
    disk: Option<DiskCache>,
    alive: AtomicBool,
    restarts: AtomicU64,
}

/// A running synthesiser: cheap to clone, shared by all calls.
#[derive(Clone)]
pub struct Tts {
    tx: std_mpsc::SyncSender<Job>,
    worker: Arc<Worker>,
    memory: Arc<Mutex<MemoryCache>>,
    pinned: Arc<Mutex<HashMap<String, Pcm>>>,
    backends: Arc<HashMap<String, Backend>>,
    deadline: Duration,
    max_queue: usize,
    phrasing: Arc<crate::phrase::Phrasing>,
    /// [`TtsConfig::espeak_rate_wpm`]: part of espeak-ng's cache keys, so that audio made
    /// at another rate is never reused.
    espeak_rate_wpm: u32,
}

impl Tts {
    /// Starts the synthesis thread: espeak-ng (other languages, Piper's phonemes), Piper
    /// voices (checking ONNX Runtime first), and the engine chosen for Russian. A Piper
    /// voice for another language that fails to load is logged and its language falls back
    /// to espeak-ng; the log says once which engine speaks each language.
    ///
    /// Errors: [`TtsError::Espeak`] when espeak-ng cannot initialise (no data found);
    /// [`TtsError::Festival`] when Festival is chosen and not installed or lacks its voice;
    /// [`TtsError::Piper`] when Piper is chosen for Russian and no Russian voice loaded.
    pub fn start(config: TtsConfig) -> Result<Self, TtsError> {
        espeak::init(config.espeak_data_parent.as_deref(), config.espeak_rate_wpm)?;
        let mut pipers: HashMap<String, crate::piper::LoadedPiper> = HashMap::new();
        let mut backends: HashMap<String, Backend> = HashMap::new();
        if !config.piper_voices.is_empty() {
            match &config.onnxruntime {
                Some(lib) => match crate::piper::init_onnxruntime(lib) {
                    Ok(()) => {
                        for v in &config.piper_voices {
                            if v.language == "ru" && config.russian != RussianEngine::Piper {
                                continue; // Russian is spoken by the chosen engine
                            }
                            match crate::piper::load(v) {
                                Ok(p) => {
                                    let name = v
                                        .model
                                        .file_name()
                                        .map(|n| n.to_string_lossy().into_owned())
                                        .unwrap_or_default();
                                    tracing::info!(language = %v.language, voice = %name, "Piper voice loaded");
                                    backends.insert(v.language.clone(), Backend::Piper(name));
                                    pipers.insert(v.language.clone(), p);
                                }
                                Err(e) => {
                                    tracing::warn!(language = %v.language, error = %e, "Piper voice not usable")
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "ONNX Runtime not usable; Piper voices disabled")
                    }
                },
                None => tracing::warn!("no ONNX Runtime library configured; Piper voices disabled"),
            }
        }
        let mut festival = None;
        match config.russian {
            RussianEngine::Festival => {
                let f = Festival::start(config.festival.clone())?;
                backends.insert("ru".into(), Backend::Festival(f.voice().to_string()));
                festival = Some(f);
            }
            RussianEngine::Piper => {
                if !backends.contains_key("ru") {
                    return Err(TtsError::Piper(
                        "Russian is to be spoken by Piper, but no Russian Piper voice \
                         (ru_RU-*.onnx with its .onnx.json) could be loaded"
                            .into(),
                    ));
                }
            }
            RussianEngine::Espeak => {}
        }
        tracing::info!(engine = ?backends.get("ru").unwrap_or(&Backend::Espeak), "Russian speech engine");
        let mut tts = Tts::with_synthesizer(Box::new(Engines { festival, pipers }), &config)?;
        tts.backends = Arc::new(backends);
        Ok(tts)
    }

    /// Starts the worker thread around `synth` (every language counts as
    /// [`Backend::Espeak`] for the cache keys), with `config`'s cache, queue and deadline
    /// settings; the engine fields of `config` are not used.
    ///
    /// Errors: [`TtsError::Stopped`] when the thread cannot be started;
    /// [`TtsError::SoundFile`] when [`TtsConfig::number_clips`] is set and unusable.
    pub fn with_synthesizer(
        synth: Box<dyn Synthesizer>,
        config: &TtsConfig,
    ) -> Result<Self, TtsError> {
        let disk = config.cache_dir.as_ref().and_then(|dir| {
            match DiskCache::open(dir.clone(), config.disk_cache_bytes) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "TTS cache directory not usable");
                    None
                }
            }
        });
        let phrasing =
            crate::phrase::Phrasing::new(config.phrases, config.number_clips.as_deref())?;
        let (tx, rx) = std_mpsc::sync_channel::<Job>(config.max_queue.max(1));
        let worker = Arc::new(Worker {
            jobs: Mutex::new(rx),
            synth: Mutex::new(synth),
            disk,
            alive: AtomicBool::new(false),
            restarts: AtomicU64::new(0),
        });
        spawn_worker(worker.clone()).map_err(|_| TtsError::Stopped)?;
        Ok(Tts {
            tx,
            worker,
            memory: Arc::new(Mutex::new(MemoryCache::new(config.memory_cache_bytes))),
            pinned: Arc::default(),
            backends: Arc::default(),
            deadline: Duration::from_millis(config.deadline_ms.max(1)),
            max_queue: config.max_queue.max(1),
            phrasing: Arc::new(phrasing),
            espeak_rate_wpm: config.espeak_rate_wpm,
        })
    }

    /// How per-call phrases are made (see [`Tts::say`]).
    pub fn phrasing(&self) -> &crate::phrase::Phrasing {
        &self.phrasing
    }

    /// The engine that speaks `language`.
    pub fn backend(&self, language: &str) -> Backend {
        self.backends
            .get(language)
            .cloned()
            .unwrap_or(Backend::Espeak)
    }

    /// SHA-256 (hex) of everything that shapes the audio: engine and voice (espeak-ng with
    /// its rate), language, text.
    fn cache_key(&self, language: &str, text: &str) -> String {
        let voice = match self.backend(language) {
            Backend::Espeak => format!("Espeak@{}wpm", self.espeak_rate_wpm),
            other => format!("{other:?}"),
        };
        let mut h = Sha256::new();
        h.update(format!("{voice}\0{language}\0{text}"));
        let digest = h.finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Synthesises `texts` now (or loads them from the disk cache) and keeps them in memory
    /// for good, outside the LRU: the dialplan's fixed prompts, so they are instant.
    /// Returns how many are ready; a text that fails is logged and left to be
    /// synthesised when first needed.
    pub async fn prerender(&self, texts: &[String], language: &str) -> usize {
        let mut ready = 0;
        for text in texts {
            let pcm = match self.synthesize(text, language).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, text, "prompt not pre-rendered");
                    continue;
                }
            };
            ready += 1;
            let key = self.cache_key(language, text);
            if let Ok(mut m) = self.memory.lock() {
                m.remove(&key);
            }
            if let Ok(mut p) = self.pinned.lock() {
                p.insert(key, pcm);
            }
        }
        ready
    }

    /// Speaks `text` in `language`, returning 8 kHz mono samples. Cached: the same text
    /// and engine return the same (shared) audio without synthesising again.
    ///
    /// Errors: [`TtsError`] from the engine; [`TtsError::Timeout`] after
    /// [`TtsConfig::deadline_ms`]; [`TtsError::Overloaded`] when the queue is full;
    /// [`TtsError::WorkerDied`] when synthesis of this text panicked;
    /// [`TtsError::Stopped`] after shutdown.
    pub async fn synthesize(&self, text: &str, language: &str) -> Result<Pcm, TtsError> {
        let key = self.cache_key(language, text);
        if let Some(pcm) = self.pinned.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(pcm);
        }
        if let Some(pcm) = self.memory.lock().ok().and_then(|mut c| c.get(&key)) {
            return Ok(pcm);
        }
        if let Some(pcm) = self.worker.disk.as_ref().and_then(|d| d.read(&key)) {
            if let Ok(mut c) = self.memory.lock() {
                c.insert(key, pcm.clone());
            }
            return Ok(pcm);
        }
        let pcm = self.run(text, language, key.clone(), true).await?;
        if let Ok(mut c) = self.memory.lock() {
            c.insert(key, pcm.clone());
        }
        Ok(pcm)
    }

    /// Whether `text` in `language` is ready without synthesis: a pre-rendered prompt, in
    /// the memory cache or in the disk cache.
    pub fn is_cached(&self, text: &str, language: &str) -> bool {
        let key = self.cache_key(language, text);
        self.pinned.lock().is_ok_and(|c| c.contains_key(&key))
            || self.memory.lock().is_ok_and(|c| c.lru.contains(&key))
            || self
                .worker
                .disk
                .as_ref()
                .is_some_and(|d| d.path(&key).is_file())
    }

    /// Synthesises a short phrase through the worker, bypassing every cache, and returns
    /// how long it took: proof that the robot can speak (for `/health`).
    ///
    /// Errors: as [`Tts::synthesize`].
    pub async fn probe(&self) -> Result<Duration, TtsError> {
        let t0 = Instant::now();
        let pcm = self.run("Проверка.", "ru", String::new(), false).await?;
        if pcm.is_empty() {
            return Err(TtsError::Espeak("no audio".into()));
        }
        Ok(t0.elapsed())
    }

    async fn run(
        &self,
        text: &str,
        language: &str,
        key: String,
        store: bool,
    ) -> Result<Pcm, TtsError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            text: text.to_string(),
            language: language.to_string(),
            key,
            store,
            deadline: Instant::now() + self.deadline,
            reply,
        };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(std_mpsc::TrySendError::Full(_)) => {
                return Err(TtsError::Overloaded(self.max_queue))
            }
            Err(std_mpsc::TrySendError::Disconnected(_)) => return Err(TtsError::Stopped),
        }
        match tokio::time::timeout(self.deadline, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(TtsError::WorkerDied),
            Err(_) => Err(TtsError::Timeout(self.deadline.as_millis() as u64)),
        }
    }

    /// Whether the worker thread runs (false only if a replacement could not be started).
    pub fn worker_alive(&self) -> bool {
        self.worker.alive.load(Ordering::Acquire)
    }

    /// How often the worker thread died in synthesis and was replaced.
    pub fn worker_restarts(&self) -> u64 {
        self.worker.restarts.load(Ordering::Acquire)
    }

    /// Audio held by the LRU memory cache now, bytes (pre-rendered prompts excluded).
    pub fn memory_cache_bytes(&self) -> usize {
        self.memory.lock().map(|m| m.bytes).unwrap_or(0)
    }
}

fn spawn_worker(worker: Arc<Worker>) -> std::io::Result<()> {
    worker.alive.store(true, Ordering::Release);
    let w = worker.clone();
    let spawned = std::thread::Builder::new()
        .name("tts".into())
        .spawn(move || {
            let _restart = RestartOnPanic(w.clone());
            synth_loop(&w);
        });
    if spawned.is_err() {
        worker.alive.store(false, Ordering::Release);
    }
    spawned.map(|_| ())
}

/// Starts a new worker when the current one unwinds from a panic in synthesis; the
/// request being served fails with [`TtsError::WorkerDied`] (its reply is dropped).
struct RestartOnPanic(Arc<Worker>);

impl Drop for RestartOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.0.alive.store(false, Ordering::Release);
            return;
        }
        self.0.restarts.fetch_add(1, Ordering::AcqRel);
        tracing::error!("TTS worker panicked; starting a new one");
        if let Err(e) = spawn_worker(self.0.clone()) {
            tracing::error!(error = %e, "TTS worker could not be restarted");
        }
    }
}

fn synth_loop(w: &Worker) {
    loop {
        let job = {
            let Ok(rx) = w.jobs.lock() else { return };
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return, // every Tts handle dropped: shutdown
            }
        };
        // Nobody waits for it any more (deadline passed, call gone): skip the work.
        if job.reply.is_closed() || Instant::now() >= job.deadline {
            continue;
        }
        let result = {
            // A panic poisons the lock; the engines are handed on to the next worker as they are.
            let mut synth = w.synth.lock().unwrap_or_else(|p| p.into_inner());
            synth.speak(&job.text, &job.language)
        };
        let result = result.map(Pcm::from);
        if let (Ok(pcm), Some(disk), true) = (&result, &w.disk, job.store) {
            disk.write(&job.key, pcm);
        }
        let _ = job.reply.send(result);
    }
}

/// LRU of synthesised audio bounded by its size in bytes.
struct MemoryCache {
    lru: lru::LruCache<String, Pcm>,
    bytes: usize,
    limit: usize,
}

impl MemoryCache {
    fn new(limit: usize) -> Self {
        MemoryCache {
            lru: lru::LruCache::unbounded(),
            bytes: 0,
            limit,
        }
    }

    fn get(&mut self, key: &str) -> Option<Pcm> {
        self.lru.get(key).cloned()
    }

    fn remove(&mut self, key: &str) {
        if let Some(old) = self.lru.pop(key) {
            self.bytes -= pcm_bytes(&old);
        }
    }

    fn insert(&mut self, key: String, pcm: Pcm) {
        let size = pcm_bytes(&pcm);
        if size > self.limit {
            return;
        }
        if let Some(old) = self.lru.put(key, pcm) {
            self.bytes -= pcm_bytes(&old);
        }
        self.bytes += size;
        while self.bytes > self.limit {
            match self.lru.pop_lru() {
                Some((_, old)) => self.bytes -= pcm_bytes(&old),
                None => break,
            }
        }
    }
}

fn pcm_bytes(pcm: &[i16]) -> usize {
    pcm.len() * 2
}

/// How long a `.wav.part` file may stay untouched before [`DiskCache::prune`] takes it for
/// the leftover of an interrupted write (a write takes milliseconds).
const PART_STALE: Duration = Duration::from_secs(600);

/// Synthesised audio as `<sha256>.wav` files, at most `limit` bytes; files are touched
/// when read, and the least recently used go first.
struct DiskCache {
    dir: PathBuf,
    limit: u64,
    /// Bytes of `.wav` files, as counted at start and after each prune, plus writes since.
    bytes: AtomicU64,
}

impl DiskCache {
    fn open(dir: PathBuf, limit: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let cache = DiskCache {
            dir,
            limit,
            bytes: AtomicU64::new(0),
        };
        cache.prune();
        Ok(cache)
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.wav"))
    }

    fn read(&self, key: &str) -> Option<Pcm> {
        let path = self.path(key);
        if !path.is_file() {
            return None;
        }
        let pcm = load_sound_file(&path).ok().map(Pcm::from)?;
        // Mark it used, so pruning removes the least recently used files first.
        if let Ok(f) = std::fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
        Some(pcm)
    }

    /// Writes `<key>.wav` through a temporary file named after this process and write, so
    /// that several zvonar processes may share one directory: a reader sees a whole file
    /// or none.
    fn write(&self, key: &str, pcm: &[i16]) {
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let n = WRITES.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!("{key}.{}-{n}.wav.part", std::process::id()));
        let fin = self.path(key);
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: PROMPT_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let result = (|| -> Result<u64, hound::Error> {
            let mut w = hound::WavWriter::create(&tmp, spec)?;
            for &s in pcm {
                w.write_sample(s)?;
            }
            w.finalize()?;
            std::fs::rename(&tmp, &fin)?;
            Ok(std::fs::metadata(&fin)?.len())
        })();
        match result {
            Ok(size) => {
                let total = self.bytes.fetch_add(size, Ordering::AcqRel) + size;
                if total > self.limit {
                    self.prune();
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot write TTS cache file"),
        }
    }

    /// Deletes leftovers of interrupted writes (`.wav.part` files untouched for
    /// [`PART_STALE`], so a write in progress in another process is left alone) and, beyond
    /// the limit, the least recently used files until at most 90 % of it is used (so not
    /// every write prunes).
    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".wav.part") {
                let stale = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= PART_STALE);
                if stale {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            }
            if !name.ends_with(".wav") {
                continue;
            }
            if let Ok(meta) = e.metadata() {
                let used = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                files.push((used, path, meta.len()));
            }
        }
        let mut total: u64 = files.iter().map(|f| f.2).sum();
        if total > self.limit {
            files.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
            let target = self.limit / 10 * 9;
            for (_, path, size) in files {
                if total <= target {
                    break;
                }
                if std::fs::remove_file(&path).is_ok() {
                    total -= size;
                }
            }
        }
        self.bytes.store(total, Ordering::Release);
    }
}

/// Converts mono samples at `rate` Hz to 8 kHz.
pub fn to_8k(samples: &[i16], rate: u32) -> Vec<i16> {
    if rate == PROMPT_RATE {
        samples.to_vec()
    } else {
        audio_codec::resample(samples, rate, PROMPT_RATE)
    }
}

pub use crate::sound_file::load_sound_file;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Speaks one sample per character (value = text length), counting what it speaks;
    /// «медленно» takes 2 s, «паника» panics, «стоп» waits for the gate.
    struct Fake {
        spoken: Arc<Mutex<Vec<String>>>,
        gate: Arc<Mutex<std_mpsc::Receiver<()>>>,
        started: tokio::sync::mpsc::UnboundedSender<String>,
    }

    impl Synthesizer for Fake {
        fn speak(&mut self, text: &str, _language: &str) -> Result<Vec<i16>, TtsError> {
            let _ = self.started.send(text.to_string());
            match text {
                "медленно" => std::thread::sleep(Duration::from_secs(1)),
                "паника" => panic!("synthesis bug"),
                "стоп" => {
                    let _ = self.gate.lock().unwrap().recv();
                }
                _ => {}
            }
            self.spoken.lock().unwrap().push(text.to_string());
            Ok(vec![text.chars().count() as i16; 1000])
        }
    }

    struct Rig {
        tts: Tts,
        spoken: Arc<Mutex<Vec<String>>>,
        open: std_mpsc::Sender<()>,
        started: tokio::sync::mpsc::UnboundedReceiver<String>,
    }

    fn rig(config: TtsConfig) -> Rig {
        let spoken = Arc::new(Mutex::new(Vec::new()));
        let (open, gate) = std_mpsc::channel();
        let (started_tx, started) = tokio::sync::mpsc::unbounded_channel();
        let tts = Tts::with_synthesizer(
            Box::new(Fake {
                spoken: spoken.clone(),
                gate: Arc::new(Mutex::new(gate)),
                started: started_tx,
            }),
            &config,
        )
        .unwrap();
        Rig {
            tts,
            spoken,
            open,
            started,
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("zvonar-tts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn count(r: &Rig, text: &str) -> usize {
        r.spoken
            .lock()
            .unwrap()
            .iter()
            .filter(|t| *t == text)
            .count()
    }

    #[tokio::test]
    async fn memory_cache_is_an_lru_bounded_in_bytes() {
        // Each phrase is 1000 samples = 2000 bytes; room for three.
        let r = rig(TtsConfig {
            memory_cache_bytes: 6000,
            ..TtsConfig::default()
        });
        for n in 1..=5 {
            r.tts
                .synthesize(&format!("заявка {n}"), "ru")
                .await
                .unwrap();
        }
        assert_eq!(r.tts.memory_cache_bytes(), 6000);
        // The three most recent are cached; the oldest was evicted and is synthesised again.
        r.tts.synthesize("заявка 5", "ru").await.unwrap();
        r.tts.synthesize("заявка 3", "ru").await.unwrap();
        assert_eq!(count(&r, "заявка 5"), 1);
        assert_eq!(count(&r, "заявка 3"), 1);
        r.tts.synthesize("заявка 1", "ru").await.unwrap();
        assert_eq!(count(&r, "заявка 1"), 2);
        // «заявка 3» was used more recently than «заявка 4», so 4 went when 1 came back.
        r.tts.synthesize("заявка 3", "ru").await.unwrap();
        assert_eq!(count(&r, "заявка 3"), 1);
        r.tts.synthesize("заявка 4", "ru").await.unwrap();
        assert_eq!(count(&r, "заявка 4"), 2);
        assert!(r.tts.memory_cache_bytes() <= 6000);
    }

    #[tokio::test]
    async fn is_cached_knows_prompts_and_phrases_already_synthesised() {
        let r = rig(TtsConfig::default());
        let prompts = vec!["Здравствуйте!".to_string()];
        r.tts.prerender(&prompts, "ru").await;
        assert!(r.tts.is_cached("Здравствуйте!", "ru"));
        assert!(!r.tts.is_cached("Квартира сто четыре, верно?", "ru"));
        r.tts
            .synthesize("Квартира сто четыре, верно?", "ru")
            .await
            .unwrap();
        assert!(r.tts.is_cached("Квартира сто четыре, верно?", "ru"));
        assert!(!r.tts.is_cached("Здравствуйте!", "en"), "per language");
    }

    #[tokio::test]
    async fn prerendered_prompts_stay_while_per_call_phrases_churn() {
        let r = rig(TtsConfig {
            memory_cache_bytes: 4000,
            ..TtsConfig::default()
        });
        let prompts = vec!["Здравствуйте!".to_string(), "До свидания.".to_string()];
        assert_eq!(r.tts.prerender(&prompts, "ru").await, 2);
        for n in 0..20 {
            r.tts.synthesize(&format!("номер {n}"), "ru").await.unwrap();
        }
        for p in &prompts {
            r.tts.synthesize(p, "ru").await.unwrap();
            assert_eq!(count(&r, p), 1, "{p} synthesised again");
        }
        assert!(r.tts.memory_cache_bytes() <= 4000);
    }

    fn wav_files(dir: &Path) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn disk_cache_is_pruned_least_recently_used_first() {
        let dir = temp_dir("disk");
        // A 1000-sample WAV is 2044 bytes; limit: four files.
        let config = TtsConfig {
            cache_dir: Some(dir.clone()),
            disk_cache_bytes: 4 * 2044,
            memory_cache_bytes: 0,
            ..TtsConfig::default()
        };
        let r = rig(config.clone());
        let key = |t: &str| format!("{}.wav", r.tts.cache_key("ru", t));
        for n in 1..=4 {
            r.tts.synthesize(&format!("адрес {n}"), "ru").await.unwrap();
            std::thread::sleep(Duration::from_millis(20)); // distinct modification times
        }
        assert_eq!(wav_files(&dir).len(), 4);
        // Reading «адрес 1» from disk makes it recently used.
        r.tts.synthesize("адрес 1", "ru").await.unwrap();
        assert_eq!(count(&r, "адрес 1"), 1, "served from disk");
        std::thread::sleep(Duration::from_millis(20));
        r.tts.synthesize("адрес 5", "ru").await.unwrap();
        let files: Vec<String> = wav_files(&dir).into_iter().map(|f| f.0).collect();
        let total: u64 = wav_files(&dir).iter().map(|f| f.1).sum();
        assert!(total <= 4 * 2044, "{total} bytes on disk");
        assert!(!files.contains(&key("адрес 2")), "oldest kept: {files:?}");
        assert!(files.contains(&key("адрес 1")), "recently read one removed");
        assert!(files.contains(&key("адрес 5")));
        // At start an oversized cache left by an older version is pruned too.
        std::fs::write(
            dir.join(format!("{}.wav", "0".repeat(64))),
            vec![0u8; 20_000],
        )
        .unwrap();
        // The leftover of a write interrupted long ago goes; a write in progress in
        // another process sharing the directory is left alone.
        std::fs::write(dir.join("half.wav.part"), b"x").unwrap();
        std::fs::File::options()
            .append(true)
            .open(dir.join("half.wav.part"))
            .unwrap()
            .set_modified(std::time::SystemTime::now() - PART_STALE - Duration::from_secs(1))
            .unwrap();
        std::fs::write(dir.join("busy.4242-0.wav.part"), b"x").unwrap();
        drop(r);
        let _again = rig(config);
        let total: u64 = wav_files(&dir)
            .iter()
            .filter(|f| f.0.ends_with(".wav"))
            .map(|f| f.1)
            .sum();
        assert!(total <= 4 * 2044, "{:?}", wav_files(&dir));
        assert!(!dir.join("half.wav.part").exists());
        assert!(dir.join("busy.4242-0.wav.part").exists());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn audio_cached_at_another_espeak_rate_is_not_reused() {
        let dir = temp_dir("rate");
        let at = |wpm| TtsConfig {
            cache_dir: Some(dir.clone()),
            espeak_rate_wpm: wpm,
            ..TtsConfig::default()
        };
        let r = rig(at(150));
        r.tts.synthesize("горячая вода", "ru").await.unwrap();
        assert_eq!(count(&r, "горячая вода"), 1);
        drop(r);
        // Same rate after a restart: served from disk.
        let same = rig(at(150));
        same.tts.synthesize("горячая вода", "ru").await.unwrap();
        assert_eq!(count(&same, "горячая вода"), 0, "served from disk");
        drop(same);
        // The admin changed the rate: the phrase is spoken anew.
        let faster = rig(at(170));
        faster.tts.synthesize("горячая вода", "ru").await.unwrap();
        assert_eq!(count(&faster, "горячая вода"), 1, "stale audio reused");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_slow_synthesis_errors_at_the_deadline_and_the_next_one_works() {
        let r = rig(TtsConfig {
            deadline_ms: 300,
            ..TtsConfig::default()
        });
        let t0 = Instant::now();
        match r.tts.synthesize("медленно", "ru").await {
            Err(TtsError::Timeout(300)) => {}
            other => panic!("{:?}", other.map(|p| p.len())),
        }
        assert!(
            t0.elapsed() < Duration::from_millis(1000),
            "{:?}",
            t0.elapsed()
        );
        // Requests queued behind the slow one within their own deadline are served.
        let mut ok = None;
        for _ in 0..20 {
            if let Ok(p) = r.tts.synthesize("дальше", "ru").await {
                ok = Some(p);
                break;
            }
        }
        assert_eq!(ok.expect("synthesis works again")[0], 6);
    }

    #[tokio::test]
    async fn the_queue_is_bounded() {
        let mut r = rig(TtsConfig {
            max_queue: 2,
            deadline_ms: 10_000,
            ..TtsConfig::default()
        });
        let busy = tokio::spawn({
            let tts = r.tts.clone();
            async move { tts.synthesize("стоп", "ru").await }
        });
        // The worker holds «стоп»; two more fill the queue.
        assert_eq!(r.started.recv().await.as_deref(), Some("стоп"));
        let waiting: Vec<_> = (0..2)
            .map(|n| {
                let tts = r.tts.clone();
                tokio::spawn(async move { tts.synthesize(&format!("ждёт {n}"), "ru").await })
            })
            .collect();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        match r.tts.synthesize("лишний", "ru").await {
            Err(TtsError::Overloaded(2)) => {}
            other => panic!("{:?}", other.map(|p| p.len())),
        }
        r.open.send(()).unwrap();
        assert!(busy.await.unwrap().is_ok());
        for w in waiting {
            assert!(w.await.unwrap().is_ok());
        }
        assert_eq!(count(&r, "лишний"), 0);
    }

    #[tokio::test]
    async fn a_panic_in_synthesis_restarts_the_worker() {
        let r = rig(TtsConfig::default());
        assert!(r.tts.worker_alive());
        match r.tts.synthesize("паника", "ru").await {
            Err(TtsError::WorkerDied) => {}
            other => panic!("{:?}", other.map(|p| p.len())),
        }
        // Not mute: the next prompt is spoken by the new worker.
        let p = r.tts.synthesize("Здравствуйте", "ru").await.unwrap();
        assert_eq!(p[0], 12);
        r.tts.probe().await.expect("probe speaks");
        assert_eq!(r.tts.worker_restarts(), 1);
        assert!(r.tts.worker_alive());
    }
}
