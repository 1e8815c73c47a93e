//! Recognition of real human Russian speech with the real Whisper base model
//! (`data/models/ggml-base.bin` from `deploy/fetch-models.sh`) on Asterisk's Russian prompts
//! (Debian `asterisk-core-sounds-ru-wav`), and the no-speech gate on silence and noise.

use std::path::{Path, PathBuf};
use zvonar_voice::asr::{Asr, AsrConfig, AsrOutcome};

fn model() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/models/ggml-base.bin");
    assert!(
        p.is_file(),
        "no Whisper model at {}: run deploy/fetch-models.sh",
        p.display()
    );
    p
}

fn read_8k(path: &Path) -> Vec<i16> {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(r.spec().sample_rate, 8000);
    r.samples::<i16>().map(|s| s.expect("sample")).collect()
}

fn pad(mut v: Vec<i16>) -> Vec<i16> {
    let mut out = vec![0i16; 1600];
    out.append(&mut v);
    out.extend(std::iter::repeat_n(0, 1600));
    out
}

#[tokio::test]
async fn recognises_numbers_and_rejects_silence_and_noise() {
    let asr = Asr::start(AsrConfig::new(model())).expect("model loads");
    // «двенадцать»; «сто» + «двадцать» + «три» recorded separately and joined.
    for (files, want) in [(&["12"][..], "12"), (&["hundred", "20", "3"][..], "123")] {
        let mut joined = Vec::new();
        for f in files {
            joined.extend(read_8k(&zvonar_fixtures::sound_ru(&format!(
                "digits/{f}.wav"
            ))));
        }
        let file = files.join("+");
        let pcm = pad(joined);
        match asr.recognise(pcm).await.expect("decodes") {
            AsrOutcome::Speech(t) => {
                let norm = zvonar_dialplan_free_normalise(&t.text);
                assert!(norm.contains(want), "{file}.wav heard as {:?}", t.text);
            }
            other => panic!("{file}.wav rejected: {other:?}"),
        }
    }
    let silence = vec![0i16; 8000 * 2];
    let out = asr.recognise(silence).await.expect("decodes");
    assert!(
        matches!(out, AsrOutcome::Rejected { .. }),
        "silence: {out:?}"
    );
    // Low white noise (about -50 dBFS).
    let mut seed = 12345u32;
    let noise: Vec<i16> = (0..16000)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((seed >> 16) as i16 % 200) - 100
        })
        .collect();
    let out = asr.recognise(noise).await.expect("decodes");
    assert!(matches!(out, AsrOutcome::Rejected { .. }), "noise: {out:?}");
}

/// Whisper writes numbers as digits or words; accept both for these two.
fn zvonar_dialplan_free_normalise(t: &str) -> String {
    t.to_lowercase()
        .replace("двенадцать", "12")
        .replace("сто двадцать три", "123")
        .replace(' ', "")
}
