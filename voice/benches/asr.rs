//! ASR alone: latency and real-time factor per utterance length, with whisper's default
//! 30 s window and with the window sized to the utterance.
//!
//! `cargo bench -p zvonar-voice --bench asr` (needs the Whisper model, see deploy/fetch-models.sh,
//! and asterisk-core-sounds-ru-wav). Prints one line per (window, utterance).

use std::path::PathBuf;
use std::time::Instant;
use zvonar_voice::asr::{Asr, AsrConfig, AsrOutcome, AudioCtx};

fn read(path: &str) -> Vec<i16> {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let spec = r.spec();
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    if spec.sample_rate == 8000 {
        s
    } else {
        audio_codec::resample(&s, spec.sample_rate, 8000)
    }
}

fn model() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    [
        "data/models/ggml-base.bin",
        "../shared/models/ggml-base.bin",
    ]
    .iter()
    .map(|p| root.join(p))
    .find(|p| p.is_file())
    .expect("Whisper model (deploy/fetch-models.sh)")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora/audio_ru");
    let sounds = "/usr/share/asterisk/sounds/ru";
    let mut utterances: Vec<(String, Vec<i16>)> = vec![
        (
            "digits/5.wav".into(),
            read(&format!("{sounds}/digits/5.wav")),
        ),
        (
            "digits/12.wav".into(),
            read(&format!("{sounds}/digits/12.wav")),
        ),
    ];
    let mut number = read(&format!("{sounds}/digits/hundred.wav"));
    number.extend(read(&format!("{sounds}/digits/20.wav")));
    number.extend(read(&format!("{sounds}/digits/3.wav")));
    utterances.push(("digits 100+20+3".into(), number));
    for f in [
        "tinkoff-voicekit-examples/sample_4.wav",
        "silero-vad/ru_num.wav",
    ] {
        let p = root.join(f);
        if p.is_file() {
            utterances.push((f.into(), read(&p.to_string_lossy())));
        }
    }
    if std::env::var("ASR_ALL_DIGITS").is_ok() {
        // Every recorded number 0-90: the shortest utterances, where a small window risks
        // repetition loops. Replaces the default set.
        utterances.clear();
        for n in (0..=20).chain([30, 40, 50, 60, 70, 80, 90]) {
            utterances.push((
                format!("digits/{n}.wav"),
                read(&format!("{sounds}/digits/{n}.wav")),
            ));
        }
    }
    let threads: usize = std::env::var("ASR_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    println!("threads={threads}");
    println!(
        "{:<8} {:<42} {:>8} {:>8} {:>6}  text",
        "window", "utterance", "audio_ms", "asr_ms", "rtf"
    );
    let min_frames: u32 = std::env::var("ASR_MIN_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let windows = [
        ("full", AudioCtx::Full),
        (
            "auto",
            AudioCtx::Auto {
                margin_frames: 64,
                min_frames,
            },
        ),
    ];
    let only: Option<String> = std::env::var("ASR_WINDOW").ok();
    for (label, ctx) in windows
        .into_iter()
        .filter(|(l, _)| only.as_deref().is_none_or(|o| o == *l))
    {
        let mut cfg = AsrConfig::new(model());
        cfg.audio_ctx = ctx;
        cfg.threads_per_worker = threads;
        let asr = Asr::start(cfg).expect("model");
        // Warm-up (first run allocates buffers).
        let _ = asr.recognise(utterances[1].1.clone()).await;
        for (name, pcm) in &utterances {
            let t0 = Instant::now();
            let out = asr.recognise(pcm.clone()).await.expect("decode");
            let wall = t0.elapsed().as_millis();
            let audio_ms = pcm.len() as u128 / 8;
            let text = match out {
                AsrOutcome::Speech(t) => t.text,
                AsrOutcome::Rejected { reason, transcript } => {
                    format!("[rejected {reason}] {}", transcript.text)
                }
            };
            println!(
                "{label:<8} {name:<42} {audio_ms:>8} {wall:>8} {:>6.2}  {}",
                wall as f64 / audio_ms as f64,
                text.chars().take(70).collect::<String>()
            );
        }
    }
}
