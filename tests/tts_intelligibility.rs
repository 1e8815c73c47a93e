//! How well a listener understands the robot's Russian voice, measured with the project's
//! own ASR as the listener: the character error rate (CER) when Whisper base transcribes
//! speech synthesised by the default engine (Festival + festvox-ru) and, for comparison,
//! by espeak-ng — the dialplan's prompts (deploy/dialplan.toml) and 30 housing sentences,
//! all at 8 kHz as a caller hears them.
//!
//! An accuracy check, not a timing one. Target (issue 6, point 4): Festival ≤ 10 %.
//! Run: `cargo test --test tts_intelligibility -- --nocapture` (prints every sentence).
//! Needs Debian's festival, festvox-ru and espeak-ng-data, and data/models/ggml-base.bin.

use std::path::{Path, PathBuf};
use zvonar_voice::asr::{Asr, AsrConfig, AsrOutcome};
use zvonar_voice::tts::{RussianEngine, Tts, TtsConfig};

/// Sentences a housing company's robot says or reads out, without numerals (how Whisper
/// writes numbers — digits or words — is another question, issue 6 point 1).
const HOUSING: [&str; 30] = [
    "Вашу заявку передали дежурному слесарю.",
    "Завтра с утра в доме отключат горячую воду.",
    "Мастер придёт к вам сегодня после обеда.",
    "В подъезде не горит свет на лестничной площадке.",
    "У соседей сверху течёт вода с потолка.",
    "Пожалуйста, перекройте кран на стояке до прихода мастера.",
    "Аварийная бригада уже выехала по вашему адресу.",
    "Лифт в вашем подъезде остановлен на ремонт.",
    "Отопление включат после окончания работ на теплотрассе.",
    "Показания счётчиков принимаются до конца месяца.",
    "Оставьте, пожалуйста, ключи от подвала у старшего по дому.",
    "Во дворе будут убирать снег и вывозить мусор.",
    "Мы проверим вентиляцию на кухне и в ванной.",
    "Диспетчер перезвонит вам, когда работы закончатся.",
    "Если в подъезде пахнет газом, сразу звоните в газовую службу.",
    "Управляющая компания приносит извинения за неудобства.",
    "Сантехник заменит смеситель и прочистит канализацию.",
    "Электрик проверит щиток и автоматы на площадке.",
    "Уборка подъездов проводится по вторникам и пятницам.",
    "На крыше образовались сосульки, проход у дома огорожен.",
    "Холодная вода будет подаваться с пониженным давлением.",
    "Ваша заявка закрыта, работы выполнены.",
    "Пожалуйста, оцените работу нашего мастера.",
    "Домофон не работает, дверь в подъезд не закрывается.",
    "Батареи в квартире холодные уже несколько дней.",
    "Просим жильцов освободить парковку возле дома.",
    "В подвале прорвало трубу, идёт пар.",
    "Квитанции за коммунальные услуги пришли с ошибкой.",
    "Спасибо, что сообщили о проблеме, мы её решим.",
    "Соединяю вас с оператором, оставайтесь на линии.",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Lower case, `ё` as `е`, letters and digits only, words separated by one space: what
/// is compared is what was said, not how Whisper punctuates it.
fn normalise(text: &str) -> String {
    let cleaned: String = text
        .to_lowercase()
        .replace('ё', "е")
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Edits (Levenshtein, over characters) and reference length of one sentence.
fn char_errors(reference: &str, heard: &str) -> (usize, usize) {
    let (r, h) = (normalise(reference), normalise(heard));
    (strsim::levenshtein(&r, &h), r.chars().count())
}

/// Synthesises every text with `engine`, transcribes it, prints each pair and returns the
/// CER over all of them (total edits / total reference characters).
async fn cer(engine: RussianEngine, texts: &[String], asr: &Asr) -> f64 {
    let tts = Tts::start(TtsConfig {
        russian: engine,
        // espeak-ng is also needed with Festival (other languages): Debian's espeak-ng-data.
        espeak_data_parent: Some(zvonar_fixtures::espeak_data_parent()),
        espeak_rate_wpm: 150, // as in deploy/zvonar.toml
        deadline_ms: 60_000,
        ..TtsConfig::default()
    })
    .unwrap_or_else(|e| panic!("{engine:?}: {e} (deploy/install-deps.sh)"));
    let (mut edits, mut chars) = (0, 0);
    for text in texts {
        let pcm = tts.synthesize(text, "ru").await.expect("synthesised");
        let heard = match asr.recognise(pcm.to_vec()).await.expect("recognised") {
            AsrOutcome::Speech(t) => t.text,
            AsrOutcome::Rejected { transcript, .. } => transcript.text,
        };
        let (e, n) = char_errors(text, &heard);
        println!(
            "{engine:?}\t{:5.1} %\t{text}\t→ {heard}",
            100.0 * e as f64 / n as f64
        );
        edits += e;
        chars += n;
    }
    edits as f64 / chars as f64
}

#[test]
fn cer_is_a_normalised_edit_distance() {
    assert_eq!(char_errors("Ёлка, ёж!", "елка еж"), (0, 7));
    assert_eq!(char_errors("дом", "дым"), (1, 3));
    assert_eq!(char_errors("вода", ""), (4, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn festival_is_understood_far_better_than_espeak() {
    let model = root().join("data/models/ggml-base.bin");
    assert!(
        model.is_file(),
        "{}: run deploy/fetch-models.sh",
        model.display()
    );
    let asr = Asr::start(AsrConfig::new(&model)).expect("whisper");
    let dialplan = zvonar_dialplan::Dialplan::load(root().join("deploy/dialplan.toml"))
        .expect("example dialplan");
    let mut texts = dialplan.spoken_prompts();
    assert!(texts.len() >= 10, "{texts:?}");
    texts.extend(HOUSING.iter().map(|s| s.to_string()));
    let festival = cer(RussianEngine::Festival, &texts, &asr).await;
    let espeak = cer(RussianEngine::Espeak, &texts, &asr).await;
    println!(
        "CER by Whisper base at 8 kHz over {} sentences ({}): festival {:.1} %, espeak-ng {:.1} %",
        texts.len(),
        Path::new("deploy/dialplan.toml prompts + housing").display(),
        festival * 100.0,
        espeak * 100.0
    );
    assert!(
        festival <= 0.10,
        "Festival's CER {:.1} % is above 10 % (espeak-ng: {:.1} %)",
        festival * 100.0,
        espeak * 100.0
    );
}
