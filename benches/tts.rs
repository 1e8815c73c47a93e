//! Time to first audio of the robot's voice: how long `Tts::synthesize` takes before the
//! first sample can be sent (synthesis is not streamed, so that is the whole phrase), for
//! the dialplan's prompts rendered at start (cached) and for new text (per-call phrases),
//! with Festival + festvox-ru (the default) and espeak-ng for comparison.
//!
//! Then how well each engine is understood: the character error rate of Whisper base's
//! transcript of the dialplan's prompts and 30 housing sentences at 8 kHz (the measure of
//! tests/tts_intelligibility.rs, which checks Festival's target).
//!
//! `cargo bench --bench tts` — targets (issue 6, point 4): cached ≤ 150 ms, new ≤ 500 ms,
//! CER ≤ 10 %. Needs Debian's festival, festvox-ru and espeak-ng-data, and
//! data/models/ggml-base.bin (deploy/fetch-models.sh).

use std::path::PathBuf;
use std::time::Instant;
use zvonar_voice::asr::{Asr, AsrConfig};
use zvonar_voice::tts::{RussianEngine, Tts, TtsConfig};

#[path = "../tests/support/intelligibility.rs"]
mod intelligibility;

/// New text as the robot speaks it during calls: each phrase once, never cached before.
const NEW: [&str; 12] = [
    "Ваша заявка принята, мастер придёт сегодня после обеда.",
    "По вашему адресу отключена горячая вода до конца дня.",
    "Вы сказали: течёт кран на кухне. Верно?",
    "Улица Ленина, дом двадцать два, квартира сорок пять.",
    "Аварийная бригада выехала, ожидайте.",
    "Отключение электричества в вашем доме продлится до вечера.",
    "Квартира сто семьдесят девять, верно? Скажите да или нет.",
    "Номер заявки: двадцать три, сорок пять, шестьдесят семь.",
    "Лифт в первом подъезде остановлен на ремонт.",
    "Диспетчер перезвонит вам в течение двух часов.",
    "Проспект Мира, дом семь, корпус два.",
    "Спасибо, ваши показания счётчиков записаны.",
];

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn summary(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!(
        "n {:3}  p50 {:7.1} ms  p95 {:7.1} ms  max {:7.1} ms",
        v.len(),
        p(0.5),
        p(0.95),
        p(1.0)
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dialplan = zvonar_dialplan::Dialplan::load(root.join("deploy/dialplan.toml"))
        .expect("example dialplan");
    let prompts = dialplan.spoken_prompts();
    let espeak = Some(zvonar_fixtures::espeak_data_parent());
    for engine in [RussianEngine::Festival, RussianEngine::Espeak] {
        let t0 = Instant::now();
        let tts = Tts::start(TtsConfig {
            russian: engine,
            espeak_data_parent: espeak.clone(),
            espeak_rate_wpm: 150,
            deadline_ms: 60_000,
            ..TtsConfig::default()
        })
        .expect("engine installed (deploy/install-deps.sh)");
        let started = t0.elapsed();
        let t0 = Instant::now();
        let ready = tts.prerender(&prompts, "ru").await;
        let rendered = t0.elapsed();
        println!(
            "{engine:?}: start {:.0} ms; {ready}/{} dialplan prompts rendered at start in {:.0} ms",
            ms(started),
            prompts.len(),
            ms(rendered)
        );
        let mut cached = Vec::new();
        for _ in 0..20 {
            for p in &prompts {
                let t = Instant::now();
                let pcm = tts.synthesize(p, "ru").await.expect("cached prompt");
                cached.push(ms(t.elapsed()));
                assert!(!pcm.is_empty());
            }
        }
        println!(
            "{engine:?}: cached prompt, time to first audio: {}",
            summary(cached)
        );
        let mut new = Vec::new();
        for text in NEW {
            let t = Instant::now();
            let pcm = tts.synthesize(text, "ru").await.expect("new text");
            let took = ms(t.elapsed());
            new.push(took);
            println!(
                "{engine:?}:   {took:6.1} ms for {:4.1} s of speech: {text}",
                pcm.len() as f64 / 8000.0
            );
        }
        println!(
            "{engine:?}: new text, time to first audio: {}",
            summary(new)
        );
    }
    let asr = Asr::start(AsrConfig::new(root.join("data/models/ggml-base.bin")))
        .expect("whisper (deploy/fetch-models.sh)");
    let texts = intelligibility::sentences(&root);
    for engine in [RussianEngine::Festival, RussianEngine::Espeak] {
        let cer = intelligibility::cer(engine, &texts, &asr).await;
        println!(
            "{engine:?}: character error rate by Whisper base at 8 kHz over {} sentences: {:.1} %",
            texts.len(),
            cer * 100.0
        );
    }
}
