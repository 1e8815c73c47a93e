//! Free speech without repetition loops (issue 6): real Russian speech through the real
//! recogniser (Whisper base, `data/models/ggml-base.bin` from `deploy/fetch-models.sh`) the
//! way a phone call delivers it — 8 kHz, G.711 A-law, with the silence the voice activity
//! detector keeps around an utterance — and what comes out is what was said, once.
//!
//! - Human speech: every recording in `tests/fixtures/audio_ru` (see its SOURCE.md) and
//!   every sentence of Asterisk's Russian prompts (Debian `asterisk-core-sounds-ru-wav`,
//!   recorded by a person) of 2–15 s: no repeated n-gram loop, no loop by OpenAI's
//!   compression-ratio test, no more words than a person says in that time.
//! - Synthetic speech, a weaker check: 32 housing requests spoken by two voices (espeak-ng
//!   in-process, and Festival with Debian's `festvox-ru` voice): each transcript is said once
//!   — no loop, and not longer than the request.

use std::path::{Path, PathBuf};
use zvonar_voice::asr::repetition::{compression_ratio, find_loops, COMPRESSION_RATIO_THRESHOLD};
use zvonar_voice::asr::{Asr, AsrConfig, AsrOutcome};
use zvonar_voice::codec::Codec;

fn model() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/models/ggml-base.bin");
    assert!(
        p.is_file(),
        "no Whisper model at {}: run deploy/fetch-models.sh",
        p.display()
    );
    p
}

/// Mono samples of a WAV file at 8 kHz.
fn read_8k(path: &Path) -> Vec<i16> {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    let mono: Vec<i16> = s.chunks(usize::from(spec.channels)).map(|c| c[0]).collect();
    if spec.sample_rate == 8000 {
        mono
    } else {
        audio_codec::resample(&mono, spec.sample_rate, 8000)
    }
}

/// As a call delivers an utterance: 300 ms of silence before it and the 200 ms the VAD keeps
/// after it, through G.711 A-law.
fn as_on_the_phone(speech: &[i16]) -> Vec<i16> {
    let mut pcm = vec![0i16; 2400];
    pcm.extend_from_slice(speech);
    pcm.extend(std::iter::repeat_n(0, 1600));
    let codec = Codec::Pcma;
    pcm.chunks(160)
        .flat_map(|c| codec.decode(&codec.encode(c)))
        .collect()
}

/// Words of a transcript (letters or digits).
fn words(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

/// What is wrong with the transcript of `audio_ms` of speech, if anything: a loop, a loop by
/// compression ratio, or more than 5 words a second (Russian speech runs at 2–4; a loop
/// that runs to the token limit writes far more).
fn loop_in(text: &str, audio_ms: usize) -> Option<String> {
    let loops = find_loops(text);
    let ratio = compression_ratio(text);
    let most = 2 + 5 * audio_ms.div_ceil(1000);
    if !loops.is_empty() {
        Some(format!("repeated n-grams {loops:?}"))
    } else if ratio > COMPRESSION_RATIO_THRESHOLD {
        Some(format!("compression ratio {ratio:.2}"))
    } else if words(text) > most {
        Some(format!("{} words for {audio_ms} ms", words(text)))
    } else {
        None
    }
}

/// Recognises each utterance; returns the failures (label, transcript, why) and how many
/// were recognised as speech.
async fn transcripts_with_loops(
    asr: &Asr,
    utterances: Vec<(String, Vec<i16>)>,
) -> (Vec<String>, usize) {
    let mut bad = Vec::new();
    let mut speech = 0;
    for (label, pcm) in utterances {
        let audio_ms = pcm.len() / 8;
        match asr.recognise(as_on_the_phone(&pcm)).await.expect("decodes") {
            AsrOutcome::Speech(t) => {
                speech += 1;
                if let Some(why) = loop_in(&t.text, audio_ms) {
                    bad.push(format!("{label} ({audio_ms} ms): {why}: {:?}", t.text));
                }
            }
            // Rejected (no speech, low confidence, a loop by compression ratio): nothing of
            // it reaches a ticket.
            AsrOutcome::Rejected { .. } => {}
        }
    }
    (bad, speech)
}

/// The directory of Asterisk's Russian prompts (Debian asterisk-core-sounds-ru-wav).
fn asterisk_sentences() -> Vec<(String, Vec<i16>)> {
    let dir = zvonar_fixtures::sounds_ru_dir().unwrap_or_else(|e| panic!("{e}"));
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("prompts dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "wav") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let label = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
            (label, read_8k(&p))
        })
        .filter(|(_, pcm)| (16_000..=120_000).contains(&pcm.len()))
        .collect()
}

#[tokio::test]
async fn human_speech_is_transcribed_without_repetition_loops() {
    let asr = Asr::start(AsrConfig::new(model())).expect("model loads");
    let mut utterances: Vec<(String, Vec<i16>)> = [
        "audio_ru/tinkoff-voicekit-examples/sample_4.wav",
        "audio_ru/silero-vad/ru_num.wav",
    ]
    .into_iter()
    .map(|f| (f.to_string(), read_8k(&zvonar_fixtures::path(f))))
    .collect();
    utterances.extend(asterisk_sentences());
    let total = utterances.len();
    assert!(total > 100, "{total} recordings");
    let (bad, speech) = transcripts_with_loops(&asr, utterances).await;
    assert!(
        bad.is_empty(),
        "{} of {total} human recordings came back with a loop:\n{}",
        bad.len(),
        bad.join("\n")
    );
    // Almost all of it is recognised as speech: the test looked at real transcripts.
    assert!(
        speech + 5 >= total,
        "{speech} of {total} recognised as speech"
    );
}

/// Housing requests as residents put them.
const REQUESTS: &[&str] = &[
    "У меня течёт кран на кухне.",
    "В ванной протекает труба под раковиной.",
    "Соседи сверху заливают мою квартиру.",
    "В квартире нет света уже два часа.",
    "В подъезде не горит лампочка на третьем этаже.",
    "Батареи холодные, в квартире очень холодно.",
    "Не работает лифт во втором подъезде.",
    "В подъезде пахнет газом.",
    "Засорилась канализация в туалете.",
    "На кухне искрит розетка.",
    "Во дворе не вывозят мусор уже неделю.",
    "С крыши капает вода на балкон.",
    "Нет горячей воды с самого утра.",
    "Выбивает автомат в электрическом щитке.",
    "Застрял лифт, внутри человек.",
    "Прорвало трубу в подвале.",
    "В подъезде грязно, давно не убирали.",
    "Сломался домофон, дверь не открывается.",
    "Течёт стояк в туалете.",
    "Очень слабый напор холодной воды.",
    "Во дворе не убран снег.",
    "На потолке в комнате мокрое пятно.",
    "Не работает счётчик электроэнергии.",
    "Над входом в подъезд висят сосульки.",
    "Всю ночь шумит вода в трубах.",
    "Разбито окно на лестничной площадке.",
    "Плохо греет полотенцесушитель.",
    "Капает с потолка в ванной комнате.",
    "Дверь в подвал открыта, там сыро.",
    "Хочу передать показания счётчиков воды.",
    "Трещина в стене на кухне.",
    "Из крана идёт ржавая вода.",
];

/// The espeak-ng data directory of Debian's `espeak-ng-data`, from the package's file list.
fn espeak_data_parent() -> PathBuf {
    let out = std::process::Command::new("dpkg")
        .args(["-L", "espeak-ng-data"])
        .output()
        .expect("dpkg");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_suffix("/espeak-ng-data/phontab"))
        .map(PathBuf::from)
        .expect("apt install espeak-ng-data (deploy/install-deps.sh)")
}

/// Every request spoken by espeak-ng (in-process, as the product speaks).
async fn espeak_requests() -> Vec<(String, Vec<i16>)> {
    let dir = std::env::temp_dir().join(format!("zvonar-asr-loops-tts-{}", std::process::id()));
    let tts = zvonar_voice::tts::Tts::start(zvonar_voice::tts::TtsConfig {
        espeak_data_parent: Some(espeak_data_parent()),
        espeak_rate_wpm: 150,
        cache_dir: Some(dir.clone()),
        ..Default::default()
    })
    .expect("tts starts");
    let mut out = Vec::new();
    for (i, r) in REQUESTS.iter().enumerate() {
        let pcm = tts.synthesize(r, "ru").await.expect("espeak speaks");
        out.push((format!("espeak-ng #{i} «{r}»"), pcm.to_vec()));
    }
    let _ = std::fs::remove_dir_all(dir);
    out
}

/// Every request spoken by Festival with Debian's Russian voice (`festvox-ru`,
/// msu_ru_nsh_clunits), one `festival` process for all.
fn festival_requests() -> Vec<(String, Vec<i16>)> {
    let dir = std::env::temp_dir().join(format!("zvonar-asr-loops-fest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut script = String::from("(voice_msu_ru_nsh_clunits)\n");
    for (i, r) in REQUESTS.iter().enumerate() {
        let wav = dir.join(format!("{i}.wav"));
        script.push_str(&format!(
            "(utt.save.wave (utt.synth (Utterance Text \"{}\")) \"{}\" 'riff)\n",
            r.replace('"', ""),
            wav.display()
        ));
    }
    let scm = dir.join("say.scm");
    std::fs::write(&scm, script).expect("script");
    let out = std::process::Command::new("festival")
        .arg("-b")
        .arg(&scm)
        .output()
        .expect("festival (apt install festival festvox-ru)");
    assert!(
        out.status.success(),
        "festival: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spoken = REQUESTS
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                format!("festival #{i} «{r}»"),
                read_8k(&dir.join(format!("{i}.wav"))),
            )
        })
        .collect();
    let _ = std::fs::remove_dir_all(dir);
    spoken
}

#[tokio::test]
async fn synthetic_requests_are_transcribed_once() {
    let asr = Asr::start(AsrConfig::new(model())).expect("model loads");
    let mut utterances = espeak_requests().await;
    utterances.extend(festival_requests());
    assert_eq!(utterances.len(), 2 * REQUESTS.len());
    for (label, pcm) in &utterances {
        assert!(pcm.len() > 8000, "{label}: {} samples", pcm.len());
    }
    let mut too_long = Vec::new();
    let mut heard = 0;
    for (label, pcm) in &utterances {
        let request = label.split('«').nth(1).unwrap_or_default();
        if let AsrOutcome::Speech(t) = asr.recognise(as_on_the_phone(pcm)).await.expect("decodes") {
            heard += 1;
            // Said once: no loop, and no more words than the request (plus two a recogniser
            // may split off).
            if let Some(why) = loop_in(&t.text, pcm.len() / 8) {
                too_long.push(format!("{label}: {why}: {:?}", t.text));
            } else if words(&t.text) > words(request) + 2 {
                too_long.push(format!("{label}: {} words: {:?}", words(&t.text), t.text));
            }
        }
    }
    assert!(
        too_long.is_empty(),
        "transcripts longer than what was said:\n{}",
        too_long.join("\n")
    );
    assert!(
        heard >= REQUESTS.len(),
        "only {heard} of {} recognised as speech",
        utterances.len()
    );
}
