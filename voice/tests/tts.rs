//! Speech synthesis with the real engines on this machine: espeak-ng in-process with
//! Debian's espeak-ng-data, Festival with Debian's festvox-ru (installed by deploy/setup.sh).

use std::path::PathBuf;
use zvonar_voice::tts::{Backend, RussianEngine, Tts, TtsConfig};

/// Debian's espeak-ng-data, found through its package (`dpkg -L`).
fn debian_espeak_parent() -> Option<PathBuf> {
    Some(zvonar_fixtures::espeak_data_parent())
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

#[tokio::test]
async fn espeak_speaks_russian_and_caches() {
    let parent =
        debian_espeak_parent().expect("espeak-ng-data installed (apt install espeak-ng-data)");
    let dir = std::env::temp_dir().join(format!("zvonar-tts-{}", std::process::id()));
    let tts = Tts::start(TtsConfig {
        russian: RussianEngine::Espeak,
        espeak_data_parent: Some(parent),
        espeak_rate_wpm: 150,
        cache_dir: Some(dir.clone()),
        ..Default::default()
    })
    .expect("tts starts");
    assert_eq!(tts.backend("ru"), Backend::Espeak);
    let text = "Здравствуйте! Вы позвонили в аварийно-диспетчерскую службу.";
    let a = tts.synthesize(text, "ru").await.expect("speaks");
    // About 3-5 s of speech at 8 kHz, clearly not silence.
    assert!(
        a.len() > 8000 * 2 && a.len() < 8000 * 10,
        "{} samples",
        a.len()
    );
    assert!(rms(&a) > 300.0, "rms {}", rms(&a));
    let b = tts.synthesize(text, "ru").await.expect("cached");
    assert!(
        std::sync::Arc::ptr_eq(&a, &b),
        "same text, same audio, from the cache"
    );
    let other = tts
        .synthesize("Номер заявки: один, два, три.", "ru")
        .await
        .expect("speaks");
    assert_ne!(&a[..], &other[..]);
    assert!(std::fs::read_dir(&dir).expect("cache dir").count() >= 2);
    let _ = std::fs::remove_dir_all(dir);
}

/// espeak-ng gets its data directory as an argument: setting an environment variable once
/// threads run is unsound (and the engine has many by then), so nothing may be set.
#[tokio::test]
async fn espeak_starts_from_a_data_dir_without_environment_variables() {
    let parent =
        debian_espeak_parent().expect("espeak-ng-data installed (apt install espeak-ng-data)");
    // The data is not where espeak-ng looks by default: only the argument can find it.
    assert!(std::env::var_os("ESPEAK_DATA_PATH").is_none());
    let before: Vec<_> = std::env::vars_os().collect();
    let tts = Tts::start(TtsConfig {
        russian: RussianEngine::Espeak,
        espeak_data_parent: Some(parent),
        ..Default::default()
    })
    .expect("tts starts");
    let pcm = tts
        .synthesize("Ваша заявка принята.", "ru")
        .await
        .expect("speaks");
    assert!(rms(&pcm) > 300.0, "rms {}", rms(&pcm));
    assert!(
        std::env::var_os("PIPER_ESPEAKNG_DATA_DIRECTORY").is_none(),
        "the environment was written"
    );
    let after: Vec<_> = std::env::vars_os().collect();
    assert_eq!(before, after);
}

/// The default Russian engine is Festival with festvox-ru, one process for every phrase,
/// behind the same caches and health probe as espeak-ng.
#[tokio::test]
async fn festival_speaks_russian_by_default() {
    let tts = Tts::start(TtsConfig {
        espeak_data_parent: debian_espeak_parent(),
        // A loaded 2-core machine may take seconds for the first phrase; not what is tested.
        deadline_ms: 60_000,
        ..Default::default()
    })
    .expect("festival and festvox-ru installed (deploy/install-deps.sh)");
    assert_eq!(
        tts.backend("ru"),
        Backend::Festival("msu_ru_nsh_clunits".into())
    );
    let text = "Здравствуйте! Вы позвонили в аварийно-диспетчерскую службу.";
    let a = tts.synthesize(text, "ru").await.expect("speaks");
    assert!(
        a.len() > 8000 * 2 && a.len() < 8000 * 10,
        "{} samples",
        a.len()
    );
    assert!(rms(&a) > 300.0, "rms {}", rms(&a));
    let b = tts.synthesize(text, "ru").await.expect("cached");
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    // Text Festival would reject as it is (quotes, №, a colon) is still spoken.
    let other = tts
        .synthesize("Заявка № 12: «течёт кран» — принята.", "ru")
        .await
        .expect("speaks");
    assert!(rms(&other) > 300.0);
    tts.probe()
        .await
        .expect("the health probe speaks through Festival");
    // Other languages are still spoken by espeak-ng.
    assert_eq!(tts.backend("en"), Backend::Espeak);
    assert!(tts.synthesize("Hello.", "en").await.expect("espeak").len() > 1000);
}

/// Choosing Festival on a machine without it (or without the voice) stops start-up with
/// a message saying what to install.
#[test]
fn a_missing_festival_stops_start_up_clearly() {
    let e = Tts::start(TtsConfig {
        espeak_data_parent: debian_espeak_parent(),
        festival: zvonar_voice::festival::FestivalConfig {
            program: PathBuf::from("/opt/none/festival"),
            ..Default::default()
        },
        ..Default::default()
    })
    .err()
    .expect("fails")
    .to_string();
    assert!(e.contains("festival") && e.contains("festvox-ru"), "{e}");
}

/// Piper chosen for Russian without a Russian Piper voice is an error, not espeak-ng in
/// disguise.
#[test]
fn piper_for_russian_needs_a_russian_voice() {
    let e = Tts::start(TtsConfig {
        russian: RussianEngine::Piper,
        espeak_data_parent: debian_espeak_parent(),
        ..Default::default()
    })
    .err()
    .expect("fails")
    .to_string();
    assert!(e.contains("no Russian Piper voice"), "{e}");
}

#[test]
fn recorded_prompt_files_become_8k_mono() {
    let dir = std::env::temp_dir().join(format!("zvonar-prompt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("greeting.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).expect("create");
    for i in 0..16000 {
        let v = ((i as f32 * 440.0 * std::f32::consts::TAU / 16000.0).sin() * 8000.0) as i16;
        w.write_sample(v).expect("left");
        w.write_sample(v).expect("right");
    }
    w.finalize().expect("finalize");
    let pcm = zvonar_voice::tts::load_sound_file(&path).expect("loads");
    // One second at 8 kHz, give or take the resampler's edges.
    assert!((7900..=8100).contains(&pcm.len()), "{}", pcm.len());
    assert!(rms(&pcm) > 4000.0, "rms {}", rms(&pcm));
    let missing = zvonar_voice::tts::load_sound_file(&dir.join("nope.wav")).unwrap_err();
    assert!(missing.to_string().contains("nope.wav"), "{missing}");
    let _ = std::fs::remove_dir_all(dir);
}
