//! Russian numerals as words, in every case and gender: cardinals («двадцать одна»,
//! «до восемнадцати»), ordinals («двадцать пятого»), and the agreement of a counted noun
//! («1 час», «2 часа», «5 часов»).
//!
//! Rules: the standard grammar of Russian numerals (Розенталь, «Справочник по правописанию и
//! литературной правке», §§ 186–190): in compound cardinals every word is declined; in
//! compound ordinals only the last word is an ordinal, the others stay nominative
//! cardinals; a counted noun after 1 is singular, after 2–4 genitive singular, after 5–20
//! genitive plural (nominative and accusative); in the other cases it takes the case of the
//! numeral, singular after 1 and plural otherwise. Checked against crates.io: `chislo` 0.3
//! has genders and nominative ordinals but no cases, so the declension is ours.

/// Grammatical case (падеж). The accusative is that of inanimate nouns (equal to the
/// nominative except «одну», «тысячу»).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Case {
    /// Именительный: «двадцать два».
    Nom,
    /// Родительный: «до двадцати двух».
    Gen,
    /// Дательный: «к двадцати двум».
    Dat,
    /// Винительный (inanimate): «на двадцать два».
    Acc,
    /// Творительный: «двадцатью двумя».
    Ins,
    /// Предложный: «о двадцати двух».
    Prep,
}

impl Case {
    fn index(self) -> usize {
        self as usize
    }
}

/// Grammatical gender of the counted noun (род), or plural for ordinals («пятые»).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gender {
    /// Мужской: «один дом», «первый».
    Masc,
    /// Женский: «одна квартира», «первая».
    Fem,
    /// Средний: «одно окно», «первое».
    Neut,
    /// Множественное число (ordinals only; cardinals treat it as masculine): «первые».
    Plural,
}

const UNITS: [[&str; 6]; 10] = [
    ["ноль", "ноля", "нолю", "ноль", "нолём", "ноле"],
    ["один", "одного", "одному", "один", "одним", "одном"],
    ["два", "двух", "двум", "два", "двумя", "двух"],
    ["три", "трёх", "трём", "три", "тремя", "трёх"],
    [
        "четыре",
        "четырёх",
        "четырём",
        "четыре",
        "четырьмя",
        "четырёх",
    ],
    ["пять", "пяти", "пяти", "пять", "пятью", "пяти"],
    ["шесть", "шести", "шести", "шесть", "шестью", "шести"],
    ["семь", "семи", "семи", "семь", "семью", "семи"],
    ["восемь", "восьми", "восьми", "восемь", "восемью", "восьми"],
    ["девять", "девяти", "девяти", "девять", "девятью", "девяти"],
];
const ONE_FEM: [&str; 6] = ["одна", "одной", "одной", "одну", "одной", "одной"];
const ONE_NEUT: [&str; 6] = ["одно", "одного", "одному", "одно", "одним", "одном"];

/// 10–19, nominative; the other cases follow the -ь pattern (`-и`, `-ью`).
const TEENS: [&str; 10] = [
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
];

const TENS: [[&str; 6]; 10] = [
    ["", "", "", "", "", ""],
    ["", "", "", "", "", ""],
    [
        "двадцать",
        "двадцати",
        "двадцати",
        "двадцать",
        "двадцатью",
        "двадцати",
    ],
    [
        "тридцать",
        "тридцати",
        "тридцати",
        "тридцать",
        "тридцатью",
        "тридцати",
    ],
    ["сорок", "сорока", "сорока", "сорок", "сорока", "сорока"],
    [
        "пятьдесят",
        "пятидесяти",
        "пятидесяти",
        "пятьдесят",
        "пятьюдесятью",
        "пятидесяти",
    ],
    [
        "шестьдесят",
        "шестидесяти",
        "шестидесяти",
        "шестьдесят",
        "шестьюдесятью",
        "шестидесяти",
    ],
    [
        "семьдесят",
        "семидесяти",
        "семидесяти",
        "семьдесят",
        "семьюдесятью",
        "семидесяти",
    ],
    [
        "восемьдесят",
        "восьмидесяти",
        "восьмидесяти",
        "восемьдесят",
        "восемьюдесятью",
        "восьмидесяти",
    ],
    [
        "девяносто",
        "девяноста",
        "девяноста",
        "девяносто",
        "девяноста",
        "девяноста",
    ],
];

const HUNDREDS: [[&str; 6]; 10] = [
    ["", "", "", "", "", ""],
    ["сто", "ста", "ста", "сто", "ста", "ста"],
    [
        "двести",
        "двухсот",
        "двумстам",
        "двести",
        "двумястами",
        "двухстах",
    ],
    [
        "триста",
        "трёхсот",
        "трёмстам",
        "триста",
        "тремястами",
        "трёхстах",
    ],
    [
        "четыреста",
        "четырёхсот",
        "четырёмстам",
        "четыреста",
        "четырьмястами",
        "четырёхстах",
    ],
    [
        "пятьсот",
        "пятисот",
        "пятистам",
        "пятьсот",
        "пятьюстами",
        "пятистах",
    ],
    [
        "шестьсот",
        "шестисот",
        "шестистам",
        "шестьсот",
        "шестьюстами",
        "шестистах",
    ],
    [
        "семьсот",
        "семисот",
        "семистам",
        "семьсот",
        "семьюстами",
        "семистах",
    ],
    [
        "восемьсот",
        "восьмисот",
        "восьмистам",
        "восемьсот",
        "восемьюстами",
        "восьмистах",
    ],
    [
        "девятьсот",
        "девятисот",
        "девятистам",
        "девятьсот",
        "девятьюстами",
        "девятистах",
    ],
];

/// A noun's forms: singular then plural, each in [`Case`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NounForms {
    /// Gender of the noun.
    pub gender: Gender,
    /// Singular: nominative, genitive, dative, accusative, instrumental, prepositional.
    pub sg: [&'static str; 6],
    /// Plural, same order.
    pub pl: [&'static str; 6],
}

const THOUSAND: NounForms = NounForms {
    gender: Gender::Fem,
    sg: ["тысяча", "тысячи", "тысяче", "тысячу", "тысячей", "тысяче"],
    pl: [
        "тысячи",
        "тысяч",
        "тысячам",
        "тысячи",
        "тысячами",
        "тысячах",
    ],
};
const MILLION: NounForms = NounForms {
    gender: Gender::Masc,
    sg: [
        "миллион",
        "миллиона",
        "миллиону",
        "миллион",
        "миллионом",
        "миллионе",
    ],
    pl: [
        "миллионы",
        "миллионов",
        "миллионам",
        "миллионы",
        "миллионами",
        "миллионах",
    ],
};
const BILLION: NounForms = NounForms {
    gender: Gender::Masc,
    sg: [
        "миллиард",
        "миллиарда",
        "миллиарду",
        "миллиард",
        "миллиардом",
        "миллиарде",
    ],
    pl: [
        "миллиарды",
        "миллиардов",
        "миллиардам",
        "миллиарды",
        "миллиардами",
        "миллиардах",
    ],
};

/// Largest number read as a cardinal; longer ones are read in digit groups.
pub const MAX_CARDINAL: u64 = 999_999_999_999;

/// The form of `noun` that goes with the number `n` in `case`: «1 час», «2 часа»,
/// «5 часов», «до 21 часа», «до 22 часов», «к 2 часам».
pub fn agree(n: u64, case: Case, noun: &NounForms) -> &'static str {
    let last2 = n % 100;
    let last = n % 10;
    let one = last == 1 && last2 != 11;
    let few = (2..=4).contains(&last) && !(12..=14).contains(&last2);
    match case {
        Case::Nom | Case::Acc => {
            if one {
                noun.sg[case.index()]
            } else if few {
                noun.sg[Case::Gen.index()]
            } else {
                noun.pl[Case::Gen.index()]
            }
        }
        _ => {
            if one {
                noun.sg[case.index()]
            } else {
                noun.pl[case.index()]
            }
        }
    }
}

fn unit(d: u64, case: Case, gender: Gender) -> &'static str {
    let i = case.index();
    match (d, gender) {
        (1, Gender::Fem) => ONE_FEM[i],
        (1, Gender::Neut) => ONE_NEUT[i],
        (2, Gender::Fem) if matches!(case, Case::Nom | Case::Acc) => "две",
        _ => UNITS[d as usize][i],
    }
}

fn teen(n: u64, case: Case) -> String {
    let nom = TEENS[(n - 10) as usize];
    let stem = nom.trim_end_matches('ь');
    match case {
        Case::Nom | Case::Acc => nom.to_string(),
        Case::Ins => format!("{nom}ю"),
        _ => format!("{stem}и"),
    }
}

/// Words of 1–999 in `case` and `gender` (nothing for 0).
fn triad(n: u64, case: Case, gender: Gender, out: &mut Vec<String>) {
    let h = n / 100;
    let rest = n % 100;
    if h > 0 {
        out.push(HUNDREDS[h as usize][case.index()].to_string());
    }
    if (10..20).contains(&rest) {
        out.push(teen(rest, case));
        return;
    }
    let t = rest / 10;
    let u = rest % 10;
    if t > 0 {
        out.push(TENS[t as usize][case.index()].to_string());
    }
    if u > 0 {
        out.push(unit(u, case, gender).to_string());
    }
}

/// A cardinal number as words: `cardinal(21, Case::Nom, Gender::Fem)` → «двадцать одна»,
/// `cardinal(18, Case::Gen, Gender::Masc)` → «восемнадцати», `cardinal(1178, …)` →
/// «тысяча сто семьдесят восемь» (a lone thousand is «тысяча», not «одна тысяча»).
/// Numbers above [`MAX_CARDINAL`] are read digit by digit.
pub fn cardinal(n: u64, case: Case, gender: Gender) -> String {
    if n == 0 {
        return UNITS[0][case.index()].to_string();
    }
    if n > MAX_CARDINAL {
        return digits_one_by_one(&n.to_string());
    }
    let mut out = Vec::new();
    let scales: [(u64, &NounForms); 3] = [
        (1_000_000_000, &BILLION),
        (1_000_000, &MILLION),
        (1000, &THOUSAND),
    ];
    let mut rest = n;
    let mut leading = true;
    for (size, noun) in scales {
        let count = rest / size;
        rest %= size;
        if count == 0 {
            continue;
        }
        // «тысяча», «миллион» without «один» when the number starts with it.
        if !(count == 1 && leading) {
            triad(count, case, noun.gender, &mut out);
        }
        out.push(agree(count, case, noun).to_string());
        leading = false;
    }
    triad(rest, case, gender, &mut out);
    out.join(" ")
}

/// Ordinal stems of 1–19, 20–90 (by tens) and 100–900 (by hundreds) with whether the
/// masculine nominative ending is stressed (`-ой`, «второй»).
const ORD_UNITS: [(&str, bool); 20] = [
    ("нулев", true),
    ("перв", false),
    ("втор", true),
    ("трет", false), // soft: «третий», handled apart
    ("четвёрт", false),
    ("пят", false),
    ("шест", true),
    ("седьм", true),
    ("восьм", true),
    ("девят", false),
    ("десят", false),
    ("одиннадцат", false),
    ("двенадцат", false),
    ("тринадцат", false),
    ("четырнадцат", false),
    ("пятнадцат", false),
    ("шестнадцат", false),
    ("семнадцат", false),
    ("восемнадцат", false),
    ("девятнадцат", false),
];
const ORD_TENS: [(&str, bool); 10] = [
    ("", false),
    ("", false),
    ("двадцат", false),
    ("тридцат", false),
    ("сороков", true),
    ("пятидесят", false),
    ("шестидесят", false),
    ("семидесят", false),
    ("восьмидесят", false),
    ("девяност", false),
];

/// Adjective endings of hard stems: masculine, feminine, neuter, plural × [`Case`].
const ADJ: [[&str; 6]; 4] = [
    ["ый", "ого", "ому", "ый", "ым", "ом"],
    ["ая", "ой", "ой", "ую", "ой", "ой"],
    ["ое", "ого", "ому", "ое", "ым", "ом"],
    ["ые", "ых", "ым", "ые", "ыми", "ых"],
];
/// «третий»: soft endings, same layout.
const THIRD: [[&str; 6]; 4] = [
    [
        "третий",
        "третьего",
        "третьему",
        "третий",
        "третьим",
        "третьем",
    ],
    [
        "третья",
        "третьей",
        "третьей",
        "третью",
        "третьей",
        "третьей",
    ],
    [
        "третье",
        "третьего",
        "третьему",
        "третье",
        "третьим",
        "третьем",
    ],
    [
        "третьи",
        "третьих",
        "третьим",
        "третьи",
        "третьими",
        "третьих",
    ],
];

fn gender_index(g: Gender) -> usize {
    match g {
        Gender::Masc => 0,
        Gender::Fem => 1,
        Gender::Neut => 2,
        Gender::Plural => 3,
    }
}

fn adjective(stem: &str, stressed: bool, case: Case, gender: Gender) -> String {
    let gi = gender_index(gender);
    let mut ending = ADJ[gi][case.index()];
    if stressed && gi == 0 && matches!(case, Case::Nom | Case::Acc) {
        ending = "ой";
    }
    format!("{stem}{ending}")
}

/// Genitive combining form of a count for compound ordinals: 2 → «двух» (двухсотый),
/// 5 → «пяти» (пятитысячный); 1 → nothing (сотый, тысячный).
fn combining(count: u64) -> String {
    if count == 1 {
        return String::new();
    }
    let mut parts = Vec::new();
    triad(count, Case::Gen, Gender::Masc, &mut parts);
    parts.concat()
}

/// An ordinal number as words: only the last word is ordinal: `ordinal(25, Case::Gen,
/// Gender::Neut)` → «двадцать пятого», `ordinal(2026, Case::Gen, Gender::Masc)` → «две
/// тысячи двадцать шестого», `ordinal(200, Case::Nom, Gender::Masc)` → «двухсотый».
/// Numbers above [`MAX_CARDINAL`] are read as cardinals.
pub fn ordinal(n: u64, case: Case, gender: Gender) -> String {
    if n > MAX_CARDINAL {
        return cardinal(n, case, gender);
    }
    let word = |stem: &str, stressed: bool| adjective(stem, stressed, case, gender);
    if n == 0 {
        return word("нулев", true);
    }
    // Split into the cardinal head and the ordinal tail.
    let (head, tail): (u64, String) = if n % 1000 != 0 {
        let last = n % 100;
        let hundreds = (n % 1000) / 100;
        if last == 0 {
            // …сотый: the hundreds word is the ordinal.
            let stem = format!("{}сот", combining(hundreds));
            (n - n % 1000, word(&stem, false))
        } else if last < 20 {
            let w = if last == 3 {
                THIRD[gender_index(gender)][case.index()].to_string()
            } else {
                let (s, st) = ORD_UNITS[last as usize];
                word(s, st)
            };
            (n - last, w)
        } else if last % 10 == 0 {
            let (s, st) = ORD_TENS[(last / 10) as usize];
            (n - last, word(s, st))
        } else {
            let u = last % 10;
            let w = if u == 3 {
                THIRD[gender_index(gender)][case.index()].to_string()
            } else {
                let (s, st) = ORD_UNITS[u as usize];
                word(s, st)
            };
            (n - u, w)
        }
    } else {
        // Round thousands, millions, billions: «тысячный», «двухтысячный», «миллионный».
        let (size, stem) = if n % 1_000_000_000 == 0 {
            (1_000_000_000, "миллиардн")
        } else if n % 1_000_000 == 0 {
            (1_000_000, "миллионн")
        } else {
            (1000, "тысячн")
        };
        let count = (n / size) % 1000;
        let stem = format!("{}{stem}", combining(count));
        (n - count * size, word(&stem, false))
    };
    if head == 0 {
        tail
    } else {
        format!("{} {tail}", cardinal(head, Case::Nom, Gender::Masc))
    }
}

/// Reads digits one by one: `"1205"` → «один два ноль пять».
pub fn digits_one_by_one(digits: &str) -> String {
    digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| UNITS[d as usize][0])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads one group of a ticket or phone number: leading zeros one by one, then the rest
/// as a nominative cardinal: `"45"` → «сорок пять», `"05"` → «ноль пять», `"00"` → «ноль
/// ноль».
pub fn group(digits: &str) -> String {
    let zeros = digits.chars().take_while(|&c| c == '0').count();
    let mut words: Vec<String> = std::iter::repeat_n("ноль".to_string(), zeros).collect();
    let rest = &digits[zeros..];
    if !rest.is_empty() {
        let n: u64 = rest.parse().unwrap_or(0);
        words.push(cardinal(n, Case::Nom, Gender::Masc));
    }
    words.join(" ")
}

/// How a long digit string is split for reading, the way Russian speakers read phone and
/// document numbers: 4 → 2+2, 5 → 2+3, 6 → 3+3, 7 → 3+2+2 (123-45-67), 10 → 3+3+2+2,
/// 11 → 1+3+3+2+2 (8 800 123-45-67).
pub fn group_sizes(len: usize) -> Vec<usize> {
    match len {
        0..=3 => vec![len],
        4 => vec![2, 2],
        5 => vec![2, 3],
        6 => vec![3, 3],
        7 => vec![3, 2, 2],
        8 => vec![3, 3, 2],
        9 => vec![3, 3, 3],
        10 => vec![3, 3, 2, 2],
        11 => vec![1, 3, 3, 2, 2],
        12 => vec![2, 3, 3, 2, 2],
        _ => {
            let mut v = vec![3; len / 3];
            match len % 3 {
                1 => {
                    // …-2-2 at the end rather than a lone digit.
                    v.pop();
                    v.push(2);
                    v.push(2);
                }
                2 => v.push(2),
                _ => {}
            }
            v
        }
    }
}

/// Splits `digits` by [`group_sizes`].
pub fn split_groups(digits: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut at = 0;
    for size in group_sizes(digits.len()) {
        out.push(&digits[at..at + size]);
        at += size;
    }
    out
}
