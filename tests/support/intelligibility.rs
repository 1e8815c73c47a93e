//! How well a listener understands a synthetic Russian voice, with the project's own ASR as
//! the listener: the character error rate (CER) of Whisper's transcript of synthesised
//! speech at 8 kHz. Shared by `tests/tts_intelligibility.rs` (Festival, the target) and
//! `benches/tts.rs` (Festival next to espeak-ng, for the README).

use zvonar_voice::asr::{Asr, AsrOutcome};
use zvonar_voice::tts::{RussianEngine, Tts, TtsConfig};

/// Sentences a housing company's robot says or reads out, without numerals (how Whisper
/// writes numbers — digits or words — is another question, issue 6 point 1).
pub const HOUSING: [&str; 30] = [
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

/// Lower case, `ё` as `е`, letters and digits only, words separated by one space: what
/// is compared is what was said, not how Whisper punctuates it.
pub fn normalise(text: &str) -> String {
    let cleaned: String = text
        .to_lowercase()
        .replace('ё', "е")
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Edits (Levenshtein, over characters) and reference length of one sentence.
pub fn char_errors(reference: &str, heard: &str) -> (usize, usize) {
    let (r, h) = (normalise(reference), normalise(heard));
    (strsim::levenshtein(&r, &h), r.chars().count())
}

/// Synthesises every text with `engine`, transcribes it, prints each pair and returns the
/// CER over all of them (total edits / total reference characters).
pub async fn cer(engine: RussianEngine, texts: &[String], asr: &Asr) -> f64 {
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

/// What is measured: the example dialplan's spoken prompts (`deploy/dialplan.toml` under
/// `root`, at least 10) and [`HOUSING`].
pub fn sentences(root: &std::path::Path) -> Vec<String> {
    let dialplan = zvonar_dialplan::Dialplan::load(root.join("deploy/dialplan.toml"))
        .expect("example dialplan");
    let mut texts = dialplan.spoken_prompts();
    assert!(texts.len() >= 10, "{texts:?}");
    texts.extend(HOUSING.iter().map(|s| s.to_string()));
    texts
}
