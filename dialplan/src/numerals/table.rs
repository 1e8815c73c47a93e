//! The table of Russian number words in all their forms.

use std::collections::HashMap;
use std::sync::OnceLock;

/// One part of a compound numeral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    /// 0–9.
    Unit(u32),
    /// 10–19 (fills both the tens and the units place).
    Teen(u32),
    /// 20, 30, … 90.
    Ten(u32),
    /// 100, 200, … 900.
    Hundred(u32),
    /// `тысяча`: multiplies what came before (or 1) by 1000; `Thousand(n)` with n > 0
    /// is a word that carries its own multiplier (`двухтысячный` = 2000).
    Thousand(u32),
}

/// A number word: its part and whether it is an ordinal (which ends a numeral).
#[derive(Clone, Copy, Debug)]
pub(super) struct NumWord {
    pub(super) part: Part,
    pub(super) ordinal: bool,
}

/// Adjective endings of ordinals in every gender, number and case.
const ADJ: &[&str] = &[
    "ый", "ий", "ой", "ая", "яя", "ое", "ее", "ого", "его", "ому", "ему", "ым", "им", "ом", "ем",
    "ую", "юю", "ые", "ие", "ых", "их", "ыми", "ими",
];
/// Endings of `пять`-type cardinals (nominative, genitive/dative/prepositional, instrumental).
const SOFT: &[&str] = &["ь", "и", "ью"];

/// Endings of [`ADJ`] that belong to soft adjective stems (`третий`): on every other
/// ordinal stem (hard: `пятый`, `шестой`) they make no word (`четвертее`, `пятюю`).
const SOFT_ADJ: &[&str] = &[
    "ий", "яя", "ее", "его", "ему", "им", "ем", "юю", "ие", "их", "ими",
];

/// The words of [`table`] that are Russian: without the soft ordinal endings on hard
/// stems that the table also takes (from a misspelling recogniser, they still mean their
/// number). A recogniser decoding under a grammar must not be offered them: each is one
/// more way to fill a step with a non-word (Whisper base wrote «Сто, четвертее» for
/// «сто … четыре», «Пяти-четвертее» for «тысяча восемьдесят шесть»).
pub(super) fn real_words() -> impl Iterator<Item = &'static String> {
    table().iter().filter_map(|(w, n)| {
        let soft_on_hard =
            n.ordinal && !w.starts_with("трет") && SOFT_ADJ.iter().any(|e| w.ends_with(e));
        (!soft_on_hard).then_some(w)
    })
}

/// Every word form → its value, built once.
pub(super) fn table() -> &'static HashMap<String, NumWord> {
    static TABLE: OnceLock<HashMap<String, NumWord>> = OnceLock::new();
    TABLE.get_or_init(build_table)
}

fn build_table() -> HashMap<String, NumWord> {
    let mut t = HashMap::new();
    let mut add = |stem: &str, ends: &[&str], part: Part, ordinal: bool| {
        for e in ends {
            t.insert(format!("{stem}{e}"), NumWord { part, ordinal });
        }
    };
    use Part::*;
    // Units.
    add("нол", &["ь", "я", "ю", "ем", "е"], Unit(0), false);
    add("нул", &["ь", "я", "ю", "ем", "е"], Unit(0), false);
    add("нулев", ADJ, Unit(0), true);
    add("один", &[""], Unit(1), false);
    add(
        "одн",
        &[
            "а", "о", "ого", "ой", "ому", "им", "ом", "у", "и", "их", "ими",
        ],
        Unit(1),
        false,
    );
    add("перв", ADJ, Unit(1), true);
    add("дв", &["а", "е", "ух", "ум", "умя"], Unit(2), false);
    add("втор", ADJ, Unit(2), true);
    add("тр", &["и", "ех", "ем", "емя"], Unit(3), false);
    let third = [
        "ий", "ья", "ье", "ьего", "ьей", "ьему", "ьим", "ьем", "ью", "ьи", "ьих", "ьими",
    ];
    add("трет", &third, Unit(3), true);
    add("четыр", &["е", "ех", "ем", "ьмя"], Unit(4), false);
    add("четверт", ADJ, Unit(4), true);
    add("пят", SOFT, Unit(5), false);
    add("пят", ADJ, Unit(5), true);
    add("шест", SOFT, Unit(6), false);
    add("шест", ADJ, Unit(6), true);
    add("сем", SOFT, Unit(7), false);
    add("седьм", ADJ, Unit(7), true);
    add("вос", &["емь", "ьми", "емью", "ьмью"], Unit(8), false);
    add("восьм", ADJ, Unit(8), true);
    add("девят", SOFT, Unit(9), false);
    add("девят", ADJ, Unit(9), true);
    // Teens.
    add("десят", SOFT, Teen(10), false);
    add("десят", ADJ, Teen(10), true);
    let teens = [
        ("одиннадцат", 11),
        ("двенадцат", 12),
        ("тринадцат", 13),
        ("четырнадцат", 14),
        ("пятнадцат", 15),
        ("шестнадцат", 16),
        ("семнадцат", 17),
        ("восемнадцат", 18),
        ("девятнадцат", 19),
    ];
    for (stem, v) in teens {
        add(stem, SOFT, Teen(v), false);
        add(stem, ADJ, Teen(v), true);
    }
    // Tens.
    for (stem, v) in [("двадцат", 20), ("тридцат", 30)] {
        add(stem, SOFT, Ten(v), false);
        add(stem, ADJ, Ten(v), true);
    }
    add("сорок", &["", "а"], Ten(40), false);
    add("сороков", ADJ, Ten(40), true);
    let tens = [
        ("пятьдесят", "пятидесят", "пятьюдесятью", 50),
        ("шестьдесят", "шестидесят", "шестьюдесятью", 60),
        ("семьдесят", "семидесят", "семьюдесятью", 70),
        ("восемьдесят", "восьмидесят", "восемьюдесятью", 80),
    ];
    for (nom, obl, ins, v) in tens {
        add(nom, &[""], Ten(v), false);
        add(ins, &[""], Ten(v), false);
        add(obl, &["и"], Ten(v), false);
        add(obl, ADJ, Ten(v), true);
    }
    add("девяност", &["о", "а"], Ten(90), false);
    add("девяност", ADJ, Ten(90), true);
    // Hundreds.
    add("ст", &["о", "а"], Hundred(100), false);
    add("сот", ADJ, Hundred(100), true);
    let hundreds = [
        ("двести", "двух", "двум", 200),
        ("триста", "трех", "трем", 300),
        ("четыреста", "четырех", "четырем", 400),
    ];
    for (nom, gen, dat, v) in hundreds {
        add(nom, &[""], Hundred(v), false);
        add(gen, &["сот", "стах"], Hundred(v), false);
        add(dat, &["стам"], Hundred(v), false);
        add(&format!("{gen}сот"), ADJ, Hundred(v), true);
    }
    let hundreds = [
        ("пять", "пяти", 500),
        ("шесть", "шести", 600),
        ("семь", "семи", 700),
        ("восемь", "восьми", 800),
        ("девять", "девяти", 900),
    ];
    for (nom, gen, v) in hundreds {
        add(nom, &["сот"], Hundred(v), false);
        add(gen, &["сот", "стам", "стах"], Hundred(v), false);
        add(&format!("{gen}сот"), ADJ, Hundred(v), true);
    }
    // Thousands.
    let thousand = ["а", "и", "е", "у", "ей", "ью", "", "ам", "ами", "ах"];
    add("тысяч", &thousand, Thousand(0), false);
    add("тысячн", ADJ, Thousand(0), true);
    let prefixes = [
        ("двух", 2),
        ("трех", 3),
        ("четырех", 4),
        ("пяти", 5),
        ("шести", 6),
        ("семи", 7),
        ("восьми", 8),
        ("девяти", 9),
        ("десяти", 10),
    ];
    for (p, v) in prefixes {
        add(&format!("{p}тысячн"), ADJ, Thousand(v), true);
    }
    // Colloquial forms Whisper writes as heard (not words of anything else).
    add("тыщ", &thousand, Thousand(0), false);
    add("нолик", &[""], Unit(0), false);
    t
}

/// Words Whisper writes for a number word it misheard on an 8 kHz call, which are (almost)
/// never anything else *as a whole answer to a number question*: «Сим» for «семь»,
/// «шест» for «шесть», «восем», «девят», «четыри». They are looked up only with
/// `ScanOpts::soundalikes`, which `parse_number_answer` sets only when the utterance
/// has no ordinary number, and keeps only when the answer is then clean — so «сим-карта
/// не работает» is no number, while «Сим.» or «квартира сим» is 7 (flagged as a
/// sound-alike for the robot to read back).
pub(super) fn soundalike_table() -> &'static HashMap<String, NumWord> {
    static TABLE: OnceLock<HashMap<String, NumWord>> = OnceLock::new();
    TABLE.get_or_init(|| {
        use Part::*;
        let words: &[(&str, Part)] = &[
            ("адин", Unit(1)),
            ("адна", Unit(1)),
            ("четыри", Unit(4)),
            ("читыре", Unit(4)),
            ("чатыре", Unit(4)),
            ("пят", Unit(5)),
            ("пядь", Unit(5)),
            ("шест", Unit(6)),
            ("сим", Unit(7)),
            ("сем", Unit(7)),
            ("восем", Unit(8)),
            ("восим", Unit(8)),
            ("осемь", Unit(8)),
            ("девят", Unit(9)),
            ("десят", Teen(10)),
            ("сорак", Ten(40)),
            ("сорог", Ten(40)),
            ("пятсот", Hundred(500)),
            ("шессот", Hundred(600)),
            ("семсот", Hundred(700)),
            ("восемсот", Hundred(800)),
            ("девятсот", Hundred(900)),
        ];
        words
            .iter()
            .map(|(w, part)| {
                (
                    (*w).to_string(),
                    NumWord {
                        part: *part,
                        ordinal: false,
                    },
                )
            })
            .collect()
    })
}

/// School grades as ratings: «пятёрка», «на четвёрку», «троечка», «единица», «кол».
/// Looked up only for ratings (`ScanOpts::grades`); a grade ends a numeral.
pub(super) fn grade_table() -> &'static HashMap<String, NumWord> {
    static TABLE: OnceLock<HashMap<String, NumWord>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = HashMap::new();
        let noun = ["а", "у", "и", "ой", "е"];
        let stems: &[(&str, u32)] = &[
            ("пятерк", 5),
            ("пятерочк", 5),
            ("четверк", 4),
            ("четверочк", 4),
            ("тройк", 3),
            ("троечк", 3),
            ("двойк", 2),
            ("двоечк", 2),
            ("единиц", 1),
            ("единичк", 1),
        ];
        for (stem, v) in stems {
            for e in noun {
                t.insert(
                    format!("{stem}{e}"),
                    NumWord {
                        part: Part::Unit(*v),
                        ordinal: true,
                    },
                );
            }
        }
        for w in ["кол", "кола"] {
            t.insert(
                w.to_string(),
                NumWord {
                    part: Part::Unit(1),
                    ordinal: true,
                },
            );
        }
        t
    })
}

/// Denominators of decimal fractions and how many digits they take: «десятых» 1,
/// «сотых» 2, «тысячных» 3 (any case and gender: «пять десятых», «одна десятая»).
pub(crate) fn fraction_word(w: &str) -> Option<usize> {
    let ends = ["ая", "ой", "ую", "ых", "ые", "ыми", "ым"];
    let stems = [("десят", 1), ("сот", 2), ("тысячн", 3)];
    stems.iter().find_map(|(stem, n)| {
        let rest = w.strip_prefix(stem)?;
        ends.contains(&rest).then_some(*n)
    })
}
