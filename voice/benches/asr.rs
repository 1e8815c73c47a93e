//! ASR alone: latency and real-time factor per utterance length, with whisper's default
//! 30 s window and with the window sized to the utterance.
//!
//! `cargo bench -p zvonar-voice --bench asr` (needs the Whisper model, see deploy/fetch-models.sh,
//! and asterisk-core-sounds-ru-wav; speech samples from tests/fixtures/audio_ru). Prints one
//! line per (window, utterance).

use std::path::{Path, PathBuf};
use std::time::Instant;
use zvonar_voice::asr::{Asr, AsrConfig, AsrOutcome, AudioCtx};

fn read(path: &Path) -> Vec<i16> {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    if spec.sample_rate == 8000 {
        s
    } else {
        audio_codec::resample(&s, spec.sample_rate, 8000)
    }
}

fn model() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/models/ggml-base.bin");
    assert!(
        p.is_file(),
        "no Whisper model at {}: run deploy/fetch-models.sh",
        p.display()
    );
    p
}

/// One of Asterisk's Russian prompts, e.g. `digits/5.wav`.
fn prompt(rel: &str) -> Vec<i16> {
    read(&zvonar_fixtures::sound_ru(rel))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut utterances: Vec<(String, Vec<i16>)> = ["digits/5.wav", "digits/12.wav"]
        .into_iter()
        .map(|f| (f.to_string(), prompt(f)))
        .collect();
    let mut number = prompt("digits/hundred.wav");
    number.extend(prompt("digits/20.wav"));
    number.extend(prompt("digits/3.wav"));
    utterances.push(("digits 100+20+3".into(), number));
    for f in [
        "audio_ru/tinkoff-voicekit-examples/sample_4.wav",
        "audio_ru/silero-vad/ru_num.wav",
    ] {
        let label = f.trim_start_matches("audio_ru/").to_string();
        utterances.push((label, read(&zvonar_fixtures::path(f))));
    }
    if std::env::var("ASR_ALL_DIGITS").is_ok() {
        // Every recorded number 0-90: the shortest utterances, where a small window risks
        // repetition loops. Replaces the default set.
        utterances.clear();
        for n in (0..=20).chain([30, 40, 50, 60, 70, 80, 90]) {
            let f = format!("digits/{n}.wav");
            let pcm = prompt(&f);
            utterances.push((f, pcm));
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
