//! Values spoken from data rather than parsed from text: money in kopecks, a date's day and
//! month, a month of a year, in the case the context needs. Used by message templates
//! (zvonar-outbound), where the value is known exactly and must not be re-parsed from digits.
//!
//! Rules as in [`crate::numbers`] (Розенталь §§ 186–190): «рубль» is masculine, «копейка»
//! feminine, each agreeing with its own number; a date is a neuter ordinal (число) in the
//! case of the context with the month in the genitive («до двадцать пятого ноября», «на
//! двадцать пятое ноября»); a year in a date or period is a genitive ordinal with «года».

use crate::lexicon::{self, KOPECK, RUBLE};
use crate::numbers::{agree, cardinal, ordinal, Case, Gender, NounForms};

/// Month names in the genitive («25 ноября»), lowercase, January first: the genitive
/// column of [`MONTH_FORMS`].
pub const MONTHS: [&str; 12] = {
    let mut months = [""; 12];
    let mut i = 0;
    while i < 12 {
        months[i] = MONTH_FORMS[i][1];
        i += 1;
    }
    months
};

/// Month names in every case (nominative, genitive, dative, accusative, instrumental,
/// prepositional), January first.
pub const MONTH_FORMS: [[&str; 6]; 12] = [
    ["январь", "января", "январю", "январь", "январём", "январе"],
    [
        "февраль",
        "февраля",
        "февралю",
        "февраль",
        "февралём",
        "феврале",
    ],
    ["март", "марта", "марту", "март", "мартом", "марте"],
    ["апрель", "апреля", "апрелю", "апрель", "апрелем", "апреле"],
    ["май", "мая", "маю", "май", "маем", "мае"],
    ["июнь", "июня", "июню", "июнь", "июнем", "июне"],
    ["июль", "июля", "июлю", "июль", "июлем", "июле"],
    [
        "август",
        "августа",
        "августу",
        "август",
        "августом",
        "августе",
    ],
    [
        "сентябрь",
        "сентября",
        "сентябрю",
        "сентябрь",
        "сентябрём",
        "сентябре",
    ],
    [
        "октябрь",
        "октября",
        "октябрю",
        "октябрь",
        "октябрём",
        "октябре",
    ],
    ["ноябрь", "ноября", "ноябрю", "ноябрь", "ноябрём", "ноябре"],
    [
        "декабрь",
        "декабря",
        "декабрю",
        "декабрь",
        "декабрём",
        "декабре",
    ],
];

fn case_index(c: Case) -> usize {
    match c {
        Case::Nom => 0,
        Case::Gen => 1,
        Case::Dat => 2,
        Case::Acc => 3,
        Case::Ins => 4,
        Case::Prep => 5,
    }
}

fn counted(n: u64, case: Case, noun: &NounForms) -> String {
    format!(
        "{} {}",
        cardinal(n, case, noun.gender),
        agree(n, case, noun)
    )
}

/// An amount of money in kopecks as words, in `case`: `money(123450, Case::Nom)` →
/// «тысяча двести тридцать четыре рубля пятьдесят копеек»; `money(100, Case::Gen)` → «одного
/// рубля»; kopecks are said only when there are some (`money(5, Nom)` → «ноль рублей пять
/// копеек»; `money(0, Nom)` → «ноль рублей»).
pub fn money(kopecks: u64, case: Case) -> String {
    let rub = kopecks / 100;
    let kop = kopecks % 100;
    let mut s = counted(rub, case, &RUBLE);
    if kop > 0 {
        s.push(' ');
        s.push_str(&counted(kop, case, &KOPECK));
    }
    s
}

/// A date's day and month as words, the day a neuter ordinal in `case`, the month in the
/// genitive: `day_month(25, 11, Case::Gen)` → «двадцать пятого ноября». `None` for a month
/// outside 1–12 or a day outside 1–31.
pub fn day_month(day: u32, month: u32, case: Case) -> Option<String> {
    if !(1..=31).contains(&day) || !(1..=12).contains(&month) {
        return None;
    }
    Some(format!(
        "{} {}",
        ordinal(u64::from(day), case, Gender::Neut),
        MONTHS[month as usize - 1]
    ))
}

/// A month of a year, the month in `case`, the year a genitive ordinal with «года»:
/// `month_year(11, 2026, Case::Prep)` → «ноябре две тысячи двадцать шестого года». `None`
/// for a month outside 1–12 or a year ≤ 0.
pub fn month_year(month: u32, year: i32, case: Case) -> Option<String> {
    if !(1..=12).contains(&month) || year <= 0 {
        return None;
    }
    Some(format!(
        "{} {} года",
        MONTH_FORMS[month as usize - 1][case_index(case)],
        ordinal(year as u64, Case::Gen, Gender::Masc)
    ))
}

/// The case a preposition (any letter case) governs for a number after it, as
/// [`crate::normalize`] reads it; `в`/`во`/`на` give the accusative. `None` when `word` is not
/// such a preposition.
pub fn case_after(word: &str) -> Option<Case> {
    match lexicon::preposition(&word.to_lowercase())? {
        lexicon::Governs::Case(c) => Some(c),
        lexicon::Governs::AccOrPrep => Some(Case::Acc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Case::*;

    #[test]
    fn money_table() {
        let rows: &[(u64, Case, &str)] = &[
            (
                123_450,
                Nom,
                "тысяча двести тридцать четыре рубля пятьдесят копеек",
            ),
            (100, Nom, "один рубль"),
            (200, Nom, "два рубля"),
            (500, Nom, "пять рублей"),
            (1_100, Nom, "одиннадцать рублей"),
            (2_100, Nom, "двадцать один рубль"),
            (10_100, Nom, "сто один рубль"),
            (100_000, Nom, "тысяча рублей"),
            (200_000_000, Nom, "два миллиона рублей"),
            (101, Nom, "один рубль одна копейка"),
            (102, Nom, "один рубль две копейки"),
            (105, Nom, "один рубль пять копеек"),
            (111, Nom, "один рубль одиннадцать копеек"),
            (121, Nom, "один рубль двадцать одна копейка"),
            (1, Nom, "ноль рублей одна копейка"),
            (0, Nom, "ноль рублей"),
            (
                123_450,
                Gen,
                "тысячи двухсот тридцати четырёх рублей пятидесяти копеек",
            ),
            (100, Gen, "одного рубля"),
            (121, Gen, "одного рубля двадцати одной копейки"),
            (
                123_450,
                Acc,
                "тысячу двести тридцать четыре рубля пятьдесят копеек",
            ),
            (101, Acc, "один рубль одну копейку"),
            (2_102, Dat, "двадцати одному рублю двум копейкам"),
            (500, Ins, "пятью рублями"),
            (200, Prep, "двух рублях"),
            (200_000_000, Gen, "двух миллионов рублей"),
        ];
        for &(k, c, want) in rows {
            assert_eq!(money(k, c), want, "{k} kopecks, {c:?}");
        }
    }

    #[test]
    fn dates_and_periods() {
        assert_eq!(day_month(25, 11, Gen).unwrap(), "двадцать пятого ноября");
        assert_eq!(day_month(25, 11, Acc).unwrap(), "двадцать пятое ноября");
        assert_eq!(day_month(1, 3, Dat).unwrap(), "первому марта");
        assert_eq!(day_month(3, 1, Nom).unwrap(), "третье января");
        assert_eq!(day_month(31, 12, Gen).unwrap(), "тридцать первого декабря");
        assert_eq!(day_month(32, 1, Gen), None);
        assert_eq!(day_month(1, 13, Gen), None);
        assert_eq!(
            month_year(11, 2026, Prep).unwrap(),
            "ноябре две тысячи двадцать шестого года"
        );
        assert_eq!(
            month_year(5, 2027, Acc).unwrap(),
            "май две тысячи двадцать седьмого года"
        );
        assert_eq!(month_year(0, 2026, Nom), None);
    }

    #[test]
    fn prepositions() {
        assert_eq!(case_after("до"), Some(Gen));
        assert_eq!(case_after("К"), Some(Dat));
        assert_eq!(case_after("за"), Some(Acc));
        assert_eq!(case_after("на"), Some(Acc));
        assert_eq!(case_after("о"), Some(Prep));
        assert_eq!(case_after("долг"), None);
    }
}
