//! How well a listener understands the robot's Russian voice, measured with the project's
//! own ASR as the listener: the character error rate (CER) when Whisper base transcribes
//! speech synthesised by the default engine (Festival + festvox-ru) — the dialplan's prompts
//! (deploy/dialplan.toml) and 30 housing sentences, all at 8 kHz as a caller hears them.
//! espeak-ng's figure for comparison comes from `cargo bench --bench tts` (same sentences,
//! same measure: tests/support/intelligibility.rs).
//!
//! An accuracy check, not a timing one. Target (issue 6, point 4): Festival ≤ 10 %.
//! Run: `cargo test --test tts_intelligibility -- --nocapture` (prints every sentence).
//! Needs Debian's festival, festvox-ru and espeak-ng-data, and data/models/ggml-base.bin.

use std::path::PathBuf;
use zvonar_voice::asr::{Asr, AsrConfig};
use zvonar_voice::tts::RussianEngine;

#[path = "support/intelligibility.rs"]
mod intelligibility;

use intelligibility::{cer, char_errors, sentences};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn cer_is_a_normalised_edit_distance() {
    assert_eq!(char_errors("Ёлка, ёж!", "елка еж"), (0, 7));
    assert_eq!(char_errors("дом", "дым"), (1, 3));
    assert_eq!(char_errors("вода", ""), (4, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn festival_is_understood() {
    let model = root().join("data/models/ggml-base.bin");
    assert!(
        model.is_file(),
        "{}: run deploy/fetch-models.sh",
        model.display()
    );
    let asr = Asr::start(AsrConfig::new(&model)).expect("whisper");
    let texts = sentences(&root());
    let festival = cer(RussianEngine::Festival, &texts, &asr).await;
    println!(
        "CER by Whisper base at 8 kHz over {} sentences (deploy/dialplan.toml prompts + housing): festival {:.1} %",
        texts.len(),
        festival * 100.0,
    );
    assert!(
        festival <= 0.10,
        "Festival's CER {:.1} % is above 10 %",
        festival * 100.0
    );
}
