//! Speech synthesis: Piper voices (piper-rs over ONNX Runtime) where a voice for the
//! language is installed, espeak-ng in-process otherwise; recorded sound files as prompts;
//! a cache so the same text always gives the same audio and is synthesised once.
//!
//! All synthesis runs on one dedicated thread (espeak-ng keeps global state and is not
//! thread-safe); callers await the result, so media tasks never block on it. Output is
//! 8 kHz mono `i16`, ready for G.711.

use crate::espeak;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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

/// Settings of the synthesiser.
#[derive(Clone, Debug, Default)]
pub struct TtsConfig {
    /// Piper voices to use, by language; a language without one is spoken by espeak-ng.
    pub piper_voices: Vec<PiperVoice>,
    /// `libonnxruntime.so` (≥ 1.24) for Piper; without it Piper is not used.
    pub onnxruntime: Option<PathBuf>,
    /// Directory that *contains* `espeak-ng-data/` (espeak-ng's data path convention).
    pub espeak_data_parent: Option<PathBuf>,
    /// espeak-ng speaking rate, words per minute (espeak default 175; 150 is clearer on a phone).
    pub espeak_rate_wpm: u32,
    /// Where synthesised prompts are kept as WAV files across restarts (optional).
    pub cache_dir: Option<PathBuf>,
}

/// Which engine speaks a language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A Piper voice (model file name).
    Piper(String),
    /// espeak-ng with its voice for the language.
    Espeak,
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
}

type Pcm = Arc<[i16]>;

struct Job {
    text: String,
    language: String,
    reply: oneshot::Sender<Result<Pcm, TtsError>>,
}

/// A running synthesiser: cheap to clone, shared by all calls.
#[derive(Clone)]
pub struct Tts {
    tx: std::sync::mpsc::Sender<Job>,
    cache: Arc<Mutex<HashMap<String, Pcm>>>,
    backends: Arc<HashMap<String, Backend>>,
    cache_dir: Option<PathBuf>,
}

impl Tts {
    /// Starts the synthesis thread: loads Piper voices (checking ONNX Runtime first) and
    /// espeak-ng. A Piper voice that fails to load is logged and its language falls back
    /// to espeak-ng; the log says once which engine speaks each language.
    ///
    /// Errors: [`TtsError::Espeak`] when espeak-ng cannot initialise (no data found).
    pub fn start(config: TtsConfig) -> Result<Self, TtsError> {
        espeak::init(config.espeak_data_parent.as_deref(), config.espeak_rate_wpm)?;
        let mut pipers: HashMap<String, crate::piper::LoadedPiper> = HashMap::new();
        let mut backends: HashMap<String, Backend> = HashMap::new();
        if !config.piper_voices.is_empty() {
            match &config.onnxruntime {
                Some(lib) => match crate::piper::init_onnxruntime(lib) {
                    Ok(()) => {
                        for v in &config.piper_voices {
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
        if !backends.contains_key("ru") {
            tracing::info!(
                "no Russian Piper voice installed: Russian prompts are spoken by espeak-ng"
            );
        }
        if let Some(dir) = &config.cache_dir {
            if let Err(e) = std::fs::create_dir_all(dir) {
                tracing::warn!(dir = %dir.display(), error = %e, "TTS cache directory not usable");
            }
        }
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tts".into())
            .spawn(move || synth_thread(rx, pipers))
            .map_err(|e| TtsError::Espeak(format!("cannot start TTS thread: {e}")))?;
        Ok(Tts {
            tx,
            cache: Arc::default(),
            backends: Arc::new(backends),
            cache_dir: config.cache_dir,
        })
    }

    /// The engine that speaks `language`.
    pub fn backend(&self, language: &str) -> Backend {
        self.backends
            .get(language)
            .cloned()
            .unwrap_or(Backend::Espeak)
    }

    fn cache_key(&self, language: &str, text: &str) -> String {
        let mut h = Sha256::new();
        h.update(format!("{:?}\0{language}\0{text}", self.backend(language)));
        let digest = h.finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Speaks `text` in `language`, returning 8 kHz mono samples. Cached: the same text
    /// and engine return the same (shared) audio without synthesising again.
    ///
    /// Errors: [`TtsError`] from the engine; [`TtsError::Stopped`] after shutdown.
    pub async fn synthesize(&self, text: &str, language: &str) -> Result<Pcm, TtsError> {
        let key = self.cache_key(language, text);
        if let Some(pcm) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(pcm);
        }
        if let Some(pcm) = self.read_disk_cache(&key) {
            if let Ok(mut c) = self.cache.lock() {
                c.insert(key, pcm.clone());
            }
            return Ok(pcm);
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job {
                text: text.to_string(),
                language: language.to_string(),
                reply,
            })
            .map_err(|_| TtsError::Stopped)?;
        let pcm = rx.await.map_err(|_| TtsError::Stopped)??;
        self.write_disk_cache(&key, &pcm);
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, pcm.clone());
        }
        Ok(pcm)
    }

    fn read_disk_cache(&self, key: &str) -> Option<Pcm> {
        let path = self.cache_dir.as_ref()?.join(format!("{key}.wav"));
        if !path.is_file() {
            return None;
        }
        load_sound_file(&path).ok().map(Pcm::from)
    }

    fn write_disk_cache(&self, key: &str, pcm: &[i16]) {
        let Some(dir) = &self.cache_dir else { return };
        let tmp = dir.join(format!("{key}.wav.part"));
        let fin = dir.join(format!("{key}.wav"));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: PROMPT_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let result = (|| -> Result<(), hound::Error> {
            let mut w = hound::WavWriter::create(&tmp, spec)?;
            for &s in pcm {
                w.write_sample(s)?;
            }
            w.finalize()?;
            std::fs::rename(&tmp, &fin)?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot write TTS cache file");
        }
    }
}

fn synth_thread(
    rx: std::sync::mpsc::Receiver<Job>,
    mut pipers: HashMap<String, crate::piper::LoadedPiper>,
) {
    while let Ok(job) = rx.recv() {
        let result = match pipers.get_mut(&job.language) {
            Some(p) => crate::piper::speak(p, &job.text),
            None => espeak::speak(&job.text, &job.language),
        };
        let _ = job.reply.send(result.map(Pcm::from));
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

/// Reads a recorded prompt (any PCM WAV: 8–48 kHz, mono or stereo, 16-bit int or float)
/// and returns it as 8 kHz mono `i16` (stereo is mixed down).
///
/// Errors: [`TtsError::SoundFile`] naming the file and the problem.
pub fn load_sound_file(path: &Path) -> Result<Vec<i16>, TtsError> {
    let err = |reason: String| TtsError::SoundFile {
        path: path.to_path_buf(),
        reason,
    };
    let mut r = hound::WavReader::open(path).map_err(|e| err(e.to_string()))?;
    let spec = r.spec();
    let raw: Vec<i16> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => r
            .samples::<i16>()
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?,
        (hound::SampleFormat::Int, 8) => r
            .samples::<i8>()
            .map(|s| s.map(|v| (v as i16) << 8))
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?,
        (hound::SampleFormat::Float, 32) => r
            .samples::<f32>()
            .map(|s| s.map(|v| (v.clamp(-1.0, 1.0) * 32767.0) as i16))
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?,
        (fmt, bits) => return Err(err(format!("unsupported WAV format {fmt:?} {bits}-bit"))),
    };
    let ch = spec.channels.max(1) as usize;
    let mono: Vec<i16> = if ch == 1 {
        raw
    } else {
        raw.chunks(ch)
            .map(|f| (f.iter().map(|&s| s as i32).sum::<i32>() / ch as i32) as i16)
            .collect()
    };
    Ok(to_8k(&mono, spec.sample_rate))
}
