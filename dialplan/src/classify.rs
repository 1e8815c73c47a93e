//! Topic classifier for problem descriptions («у меня течёт кран» → `leak`, emergency).
//!
//! Matching is by word *prefixes* (stems) so that Russian inflection matches: the stem
//! `теч` matches «течёт», «течет», «течь»; `протек` matches «протекает», «протекло».
//! Text and stems are compared lowercased with `ё` folded to `е`.
//!
//! Scoring: every word of the utterance is credited to the topic whose keyword stem
//! matching it is the *longest* (so `газон` in cleaning beats `газ` in gas for «газон»);
//! every emergency phrase that matches adds one more hit to its topic. The topic with most
//! hits wins, ties going to the one listed first; no hits → the fallback topic.

use crate::numerals::fold;
use serde::{Deserialize, Serialize};

/// Code of the fallback topic in [`default_topics`] (`other`, «Другое»).
pub const FALLBACK_TOPIC: &str = "other";

/// A request topic, as configured in the dialplan (`[[flow.NAME.topics]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    /// Stable code stored on tickets (`leak`, `electricity`, …).
    pub code: String,
    /// Russian name, spoken in the keypad menu («протечка»).
    pub name: String,
    /// Keyword stems: a word matches when it starts with a stem (`теч`, `протек`).
    /// Single words, no spaces.
    pub stems: Vec<String>,
    /// Emergency stems. One word (`искр`) or a phrase of stems (`нет свет`) whose words
    /// must all match within a few words of each other, in any order («света нет»).
    pub emergency_stems: Vec<String>,
}

impl Topic {
    /// A topic from string slices (for tables and tests).
    pub fn new(code: &str, name: &str, stems: &[&str], emergency_stems: &[&str]) -> Self {
        Topic {
            code: code.to_string(),
            name: name.to_string(),
            stems: stems.iter().map(|s| s.to_string()).collect(),
            emergency_stems: emergency_stems.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// What [`classify`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    /// The chosen topic code (the fallback when nothing matched).
    pub topic: String,
    /// Some emergency phrase of any topic matched.
    pub emergency: bool,
    /// Hits of the chosen topic (0 for the fallback).
    pub hits: usize,
}

/// The topics used when a dispatcher flow configures none, and in `deploy/dialplan.toml`.
///
/// Emergency rules follow the usual аварийно-диспетчерская служба list (ПП РФ № 416,
/// п. 13): leaks and floods, no electricity, gas smell, a person stuck in a lift.
pub fn default_topics() -> Vec<Topic> {
    vec![
        Topic::new(
            "leak",
            "протечка и сантехника",
            &[
                "теч",
                "протек",
                "зали",
                "потоп",
                "прорв",
                "капа",
                "кран",
                "труб",
                "сантех",
                "унитаз",
                "раковин",
                "ванн",
                "канализ",
                "засор",
                "смесит",
                "стояк",
                "вод",
                "хлещ",
                "мокр",
            ],
            &["теч", "протек", "зали", "потоп", "прорв", "хлещ"],
        ),
        Topic::new(
            "electricity",
            "электричество",
            &[
                "свет",
                "электр",
                "розет",
                "провод",
                "щит",
                "автомат",
                "лампоч",
                "искр",
                "выбива",
                "напряж",
                "проводк",
                "счетчик",
            ],
            &[
                "нет свет",
                "нет электр",
                "нету свет",
                "без свет",
                "пропал свет",
                "пропал электр",
                "отключ свет",
                "отключ электр",
                "искр",
                "замыкан",
                "горит проводк",
            ],
        ),
        Topic::new(
            "heating",
            "отопление",
            &[
                "отоплен",
                "батаре",
                "радиатор",
                "холодн",
                "тепл",
                "греет",
                "топят",
                "мерзн",
            ],
            &[],
        ),
        Topic::new(
            "gas",
            "газ",
            &["газ", "плит", "колонк", "конфорк"],
            &["пах газ", "запах газ", "утечк газ", "воня газ"],
        ),
        Topic::new(
            "lift",
            "лифт",
            &["лифт", "кабин", "застря"],
            &["застря лифт", "заперт лифт", "застря кабин"],
        ),
        Topic::new(
            "cleaning",
            "уборка и мусор",
            &[
                "убор",
                "убира",
                "мусор",
                "гряз",
                "мыт",
                "помыт",
                "подмет",
                "контейнер",
                "снег",
                "газон",
                "двор",
                "подъезд",
                "листв",
                "пыл",
            ],
            &[],
        ),
        Topic::new(
            "roof",
            "кровля и фасад",
            &[
                "крыш",
                "кровл",
                "фасад",
                "сосул",
                "водосток",
                "стен",
                "трещин",
                "штукатур",
                "козыр",
                "балкон",
                "чердак",
                "наледь",
            ],
            &[],
        ),
        Topic::new(FALLBACK_TOPIC, "другое", &[], &[]),
    ]
}

/// The words of an utterance, folded (lowercase, `ё` → `е`); anything that is not a
/// letter or digit separates words.
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether the phrase of stems (`нет свет`) matches `words`: every stem matches a word,
/// all within a window of (number of stems + 2) words, in any order.
fn phrase_matches(words: &[String], phrase: &str) -> bool {
    let stems: Vec<String> = phrase.split_whitespace().map(fold).collect();
    if stems.is_empty() {
        return false;
    }
    let window = stems.len() + 2;
    (0..words.len()).any(|start| {
        let slice = &words[start..(start + window).min(words.len())];
        stems
            .iter()
            .all(|s| slice.iter().any(|w| w.starts_with(s.as_str())))
    })
}

/// Classifies a problem description into one of `topics`.
///
/// `fallback` is the topic code returned when no stem matches (normally
/// [`FALLBACK_TOPIC`]). Never fails: an empty text gives the fallback, not emergency.
pub fn classify(text: &str, topics: &[Topic], fallback: &str) -> Classification {
    let words = words(text);
    let mut hits = vec![0usize; topics.len()];
    let mut emergency = false;
    let folded: Vec<Vec<String>> = topics
        .iter()
        .map(|t| t.stems.iter().map(|s| fold(s.trim())).collect())
        .collect();
    for w in &words {
        let mut best: Option<(usize, usize)> = None; // (stem length, topic index)
        for (ti, stems) in folded.iter().enumerate() {
            for s in stems {
                let len = s.chars().count();
                if !s.is_empty() && w.starts_with(s.as_str()) && best.is_none_or(|(l, _)| len > l) {
                    best = Some((len, ti));
                }
            }
        }
        if let Some((_, ti)) = best {
            hits[ti] += 1;
        }
    }
    for (ti, t) in topics.iter().enumerate() {
        for phrase in &t.emergency_stems {
            if phrase_matches(&words, phrase) {
                emergency = true;
                hits[ti] += 1;
            }
        }
    }
    let mut best: Option<(usize, usize)> = None;
    for (ti, &h) in hits.iter().enumerate() {
        if h > 0 && best.is_none_or(|(bh, _)| h > bh) {
            best = Some((h, ti));
        }
    }
    match best {
        Some((h, ti)) => Classification {
            topic: topics[ti].code.clone(),
            emergency,
            hits: h,
        },
        None => Classification {
            topic: fallback.to_string(),
            emergency,
            hits: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(text: &str) -> (String, bool) {
        let r = classify(text, &default_topics(), FALLBACK_TOPIC);
        (r.topic, r.emergency)
    }

    #[test]
    fn leaks_in_every_inflection_are_emergencies() {
        for text in [
            "У меня течёт кран на кухне.",
            "течет с потолка",
            "Протекает труба в ванной!",
            "нас залило соседи сверху",
            "Прорвало стояк, вода хлещет",
            "ПОТОП в подвале",
        ] {
            assert_eq!(c(text), ("leak".into(), true), "{text}");
        }
    }

    #[test]
    fn plumbing_without_a_leak_is_not_an_emergency() {
        assert_eq!(c("засор в унитазе"), ("leak".into(), false));
        assert_eq!(c("кран капает"), ("leak".into(), false));
    }

    #[test]
    fn electricity() {
        assert_eq!(c("В квартире нет света."), ("electricity".into(), true));
        assert_eq!(c("у нас света нет с утра"), ("electricity".into(), true));
        assert_eq!(
            c("Нет электричества во всём доме"),
            ("electricity".into(), true)
        );
        assert_eq!(c("искрит розетка"), ("electricity".into(), true));
        assert_eq!(
            c("в подъезде не горит лампочка"),
            ("electricity".into(), false)
        );
        assert_eq!(c("свет горит, а воды нет"), ("leak".into(), false));
    }

    #[test]
    fn gas_smell_is_an_emergency() {
        assert_eq!(c("В подъезде пахнет газом"), ("gas".into(), true));
        assert_eq!(c("сильный запах газа на лестнице"), ("gas".into(), true));
        assert_eq!(c("газом пахнет"), ("gas".into(), true));
        assert_eq!(c("не работает газовая плита"), ("gas".into(), false));
    }

    #[test]
    fn stuck_lift_is_an_emergency() {
        assert_eq!(c("Я застрял в лифте!"), ("lift".into(), true));
        assert_eq!(c("Ребёнок застрял в лифте"), ("lift".into(), true));
        assert_eq!(c("Лифт не работает третий день"), ("lift".into(), false));
    }

    #[test]
    fn other_topics() {
        assert_eq!(c("батареи холодные"), ("heating".into(), false));
        assert_eq!(
            c("Не топят, в квартире холодно."),
            ("heating".into(), false)
        );
        assert_eq!(
            c("не вывозят мусор, контейнеры переполнены"),
            ("cleaning".into(), false)
        );
        assert_eq!(c("Подъезд не убирают"), ("cleaning".into(), false));
        assert_eq!(c("покосить газон во дворе"), ("cleaning".into(), false));
        assert_eq!(c("с крыши свисают сосульки"), ("roof".into(), false));
        assert_eq!(c("трещина на фасаде"), ("roof".into(), false));
    }

    #[test]
    fn nothing_matched_gives_the_fallback() {
        assert_eq!(c("хочу узнать про перерасчёт"), ("other".into(), false));
        assert_eq!(c(""), ("other".into(), false));
        assert_eq!(c("..."), ("other".into(), false));
        let r = classify("что-то", &default_topics(), "misc");
        assert_eq!(r.topic, "misc");
        assert_eq!(r.hits, 0);
    }

    #[test]
    fn ties_go_to_the_topic_listed_first() {
        // One hit each for leak (теч) and roof (крыш): leak comes first.
        assert_eq!(c("течёт крыша"), ("leak".into(), true));
        let topics = vec![
            Topic::new("a", "а", &["слов"], &[]),
            Topic::new("b", "б", &["слов"], &[]),
        ];
        assert_eq!(classify("слово", &topics, "x").topic, "a");
    }

    #[test]
    fn stems_are_folded_like_the_text() {
        let topics = vec![Topic::new("leak", "протечка", &["ТЕЧЁ"], &["Течё"])];
        let r = classify("течет", &topics, "other");
        assert_eq!((r.topic.as_str(), r.emergency), ("leak", true));
    }

    #[test]
    fn default_topics_are_well_formed() {
        let topics = default_topics();
        let mut codes: Vec<&str> = topics.iter().map(|t| t.code.as_str()).collect();
        codes.dedup();
        assert_eq!(codes.len(), 8);
        assert!(topics.len() <= 9, "keypad menu fits on 1–9");
        for t in &topics {
            assert!(
                t.code == FALLBACK_TOPIC || !t.stems.is_empty(),
                "{}",
                t.code
            );
            assert!(t.stems.iter().all(|s| !s.contains(' ')), "{}", t.code);
        }
    }
}
