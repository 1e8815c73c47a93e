//! Making sense of what the caller said: yes/no, «оператор», noise and Whisper
//! hallucinations, street and house.

use super::types::BuildingInfo;
use crate::classify::words;
use crate::numerals::{fold, parse_house};

/// A yes/no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum YesNo {
    Yes,
    No,
}

const YES: &[&str] = &[
    "да",
    "ага",
    "угу",
    "верно",
    "правильно",
    "точно",
    "конечно",
    "именно",
    "подтверждаю",
    "да-да",
    "1",
    "один",
];
const NO: &[&str] = &[
    "нет",
    "не",
    "неа",
    "неверно",
    "неправильно",
    "нету",
    "другой",
    "другому",
    "2",
    "два",
];

/// The first yes/no word decides: «Да, но света нет» is yes; «Нет, я по другому адресу» no.
/// `1`/«один» is yes and `2`/«два» no, as the keypad prompt offers.
pub(crate) fn yes_no(text: &str) -> Option<YesNo> {
    words(text).iter().find_map(|w| {
        if YES.contains(&w.as_str()) {
            Some(YesNo::Yes)
        } else if NO.contains(&w.as_str()) {
            Some(YesNo::No)
        } else {
            None
        }
    })
}

/// Stems that ask for a person on their own: «оператор», «соедините», «переключите».
const OPERATOR: &[&str] = &["оператор", "соедин", "переключ"];
/// A person («человек», «живой», «сотрудник») is asked for only with a request verb
/// («позовите», «поговорить», «дайте», «нужен»): «человек застрял в лифте» is a problem.
const PERSON: &[&str] = &[
    "человек",
    "живы",
    "живо",
    "живой",
    "сотрудник",
    "специалист",
    "диспетчер",
];
const ASK: &[&str] = &["позов", "поговор", "дайте", "нуж"];

/// Whether the caller asks for a person.
pub(crate) fn wants_operator(text: &str) -> bool {
    let ws = words(text);
    let has = |stems: &[&str]| ws.iter().any(|w| stems.iter().any(|s| w.starts_with(s)));
    has(OPERATOR) || (has(PERSON) && has(ASK))
}

/// Texts Whisper produces from silence or noise (it was trained on subtitled video).
const HALLUCINATIONS: &[&str] = &[
    "субтитр",
    "продолжение следует",
    "спасибо за просмотр",
    "подписывайтесь",
    "dimatorzok",
    "amara",
    "музыка",
    "аплодисменты",
];

/// Noise, silence or a hallucination: no digit and fewer than two letters, or a known
/// phantom phrase. A lone digit («5») is an answer.
pub(crate) fn is_garbage(text: &str) -> bool {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let digits = text.chars().filter(|c| c.is_ascii_digit()).count();
    if digits == 0 && letters < 2 {
        return true;
    }
    let f = fold(text);
    HALLUCINATIONS.iter().any(|h| f.contains(h))
}

/// Words that carry no problem description on their own («Алло? Да.»).
const FILLERS: &[&str] = &[
    "алло",
    "ало",
    "да",
    "нет",
    "ну",
    "э",
    "ээ",
    "эм",
    "мм",
    "угу",
    "ага",
    "здравствуйте",
    "добрый",
    "день",
    "вечер",
    "утро",
    "слушаю",
    "привет",
    "так",
    "вот",
    "я",
    "это",
    "а",
];

/// Whether an utterance has nothing but greetings and fillers.
pub(crate) fn only_fillers(text: &str) -> bool {
    words(text).iter().all(|w| FILLERS.contains(&w.as_str()))
}

/// Street-type words that do not tell streets apart.
const STREET_TYPES: &[&str] = &[
    "улица",
    "ул",
    "проспект",
    "пр",
    "пркт",
    "переулок",
    "пер",
    "бульвар",
    "б",
    "бул",
    "шоссе",
    "ш",
    "площадь",
    "пл",
    "набережная",
    "наб",
    "проезд",
    "тупик",
    "имени",
    "им",
    "микрорайон",
    "мкр",
];

/// The stem of a street word that still matches its inflections: «садовая» → «садов»
/// («на Садовой»), «мира» → «мир».
fn street_stem(w: &str) -> String {
    let n = w.chars().count();
    let keep = if n > 5 {
        n - 2
    } else if n > 3 {
        n - 1
    } else {
        n
    };
    w.chars().take(keep).collect()
}

/// How well the utterance names the street: 0 when some distinctive word of the street is
/// missing; otherwise 2 per word said exactly and 1 per word matched by its stem.
fn street_score(street: &str, said: &[String]) -> usize {
    let mut score = 0;
    let mut any = false;
    for w in words(street) {
        if STREET_TYPES.contains(&w.as_str()) || w.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        any = true;
        if said.contains(&w) {
            score += 2;
        } else {
            let stem = street_stem(&w);
            if said.iter().any(|s| s.starts_with(&stem)) {
                score += 1;
            } else {
                return 0;
            }
        }
    }
    if any {
        score
    } else {
        0
    }
}

/// The building named in an utterance («Ленина пять», «улица Садовая, дом 12а»), as an
/// index into `buildings`.
///
/// The street must match; the house (compared with [`parse_house`]) must match when said.
/// Without a house, only a street with a single building is taken. Ambiguity → `None`.
pub(crate) fn match_building(text: &str, buildings: &[BuildingInfo]) -> Option<usize> {
    let said = words(text);
    let house = parse_house(text);
    let mut best: Option<(usize, usize)> = None; // (score, index)
    let mut tie = false;
    for (i, b) in buildings.iter().enumerate() {
        let score = street_score(&b.street, &said);
        if score == 0 {
            continue;
        }
        if let Some(h) = &house {
            if parse_house(&b.house).as_ref() != Some(h) {
                continue;
            }
        }
        match best {
            Some((s, _)) if s > score => {}
            Some((s, _)) if s == score => tie = true,
            _ => {
                best = Some((score, i));
                tie = false;
            }
        }
    }
    if tie {
        None
    } else {
        best.map(|(_, i)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zvonar_models::BuildingId;

    fn b(id: i64, street: &str, house: &str) -> BuildingInfo {
        BuildingInfo {
            id: BuildingId(id),
            street: street.into(),
            house: house.into(),
            spoken: format!("{street}, дом {house}"),
            outages: vec![],
        }
    }

    #[test]
    fn yes_and_no() {
        for t in [
            "Да.",
            "да, верно",
            "Ага",
            "угу",
            "Верно!",
            "1",
            "Один",
            "Да, но света нет",
        ] {
            assert_eq!(yes_no(t), Some(YesNo::Yes), "{t}");
        }
        for t in ["Нет.", "не", "Нет, я по другому адресу", "2", "неверно"]
        {
            assert_eq!(yes_no(t), Some(YesNo::No), "{t}");
        }
        for t in ["", "алло", "у меня течёт кран", "..."] {
            assert_eq!(yes_no(t), None, "{t}");
        }
    }

    #[test]
    fn operator_requests() {
        for t in [
            "Оператор!",
            "соедините с человеком",
            "Хочу поговорить с живым человеком",
        ] {
            assert!(wants_operator(t), "{t}");
        }
        assert!(wants_operator("позовите диспетчера"));
        assert!(!wants_operator("у меня течёт кран"));
        assert!(!wants_operator("Человек застрял в лифте!"));
    }

    #[test]
    fn garbage_and_fillers() {
        for t in [
            "",
            " ",
            "...",
            "а",
            "Продолжение следует...",
            "Субтитры сделал DimaTorzok",
        ] {
            assert!(is_garbage(t), "{t}");
        }
        assert!(!is_garbage("течёт"));
        assert!(!is_garbage("5"));
        assert!(only_fillers("Алло? Алло, да."));
        assert!(only_fillers("Здравствуйте"));
        assert!(!only_fillers("здравствуйте, течёт кран"));
    }

    #[test]
    fn buildings_by_street_and_house() {
        let list = vec![
            b(1, "улица Ленина", "5"),
            b(2, "улица Ленина", "7"),
            b(3, "Садовая улица", "12а"),
            b(4, "проспект Мира", "5 корпус 2"),
            b(5, "Ленинский проспект", "5"),
        ];
        let cases = [
            ("Ленина пять", Some(0)),
            ("улица Ленина, дом 7", Some(1)),
            ("Ленина дом семь", Some(1)),
            ("на Садовой", Some(2)),
            ("Садовая двенадцать а", Some(2)),
            ("Мира пять корпус два", Some(3)),
            ("проспект мира 5к2", Some(3)),
            ("Ленинский проспект, пять", Some(4)),
            ("Ленина", None),   // two buildings on it
            ("Ленина 9", None), // no such house
            ("Пушкина 5", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(match_building(text, &list), want, "{text}");
        }
    }
}
