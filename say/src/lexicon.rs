//! Words the normaliser must know: nouns counted after numbers (their gender and forms),
//! prepositions and the case they govern, labels read before numbers, months,
//! abbreviations.

use super::numbers::{Case, Gender, NounForms};

const fn noun(gender: Gender, sg: [&'static str; 6], pl: [&'static str; 6]) -> NounForms {
    NounForms { gender, sg, pl }
}

use Gender::{Fem, Masc, Neut};

/// Nouns counted after numbers, with every form (so «до 18 часов», «в 2026 году», «на 5
/// этаже» are recognised) — the housing, money and time words the robot uses.
pub const COUNTED: &[NounForms] = &[
    HOUR,
    MINUTE,
    SECOND,
    RUBLE,
    KOPECK,
    noun(
        Fem,
        ["заявка", "заявки", "заявке", "заявку", "заявкой", "заявке"],
        [
            "заявки",
            "заявок",
            "заявкам",
            "заявки",
            "заявками",
            "заявках",
        ],
    ),
    noun(
        Masc,
        ["день", "дня", "дню", "день", "днём", "дне"],
        ["дни", "дней", "дням", "дни", "днями", "днях"],
    ),
    noun(
        Fem,
        ["неделя", "недели", "неделе", "неделю", "неделей", "неделе"],
        [
            "недели",
            "недель",
            "неделям",
            "недели",
            "неделями",
            "неделях",
        ],
    ),
    noun(
        Masc,
        ["месяц", "месяца", "месяцу", "месяц", "месяцем", "месяце"],
        [
            "месяцы",
            "месяцев",
            "месяцам",
            "месяцы",
            "месяцами",
            "месяцах",
        ],
    ),
    YEAR,
    FLOOR,
    noun(
        Masc,
        ["дом", "дома", "дому", "дом", "домом", "доме"],
        ["дома", "домов", "домам", "дома", "домами", "домах"],
    ),
    noun(
        Fem,
        [
            "квартира",
            "квартиры",
            "квартире",
            "квартиру",
            "квартирой",
            "квартире",
        ],
        [
            "квартиры",
            "квартир",
            "квартирам",
            "квартиры",
            "квартирами",
            "квартирах",
        ],
    ),
    noun(
        Masc,
        [
            "подъезд",
            "подъезда",
            "подъезду",
            "подъезд",
            "подъездом",
            "подъезде",
        ],
        [
            "подъезды",
            "подъездов",
            "подъездам",
            "подъезды",
            "подъездами",
            "подъездах",
        ],
    ),
    PERCENT,
    noun(
        Masc,
        ["раз", "раза", "разу", "раз", "разом", "разе"],
        ["разы", "раз", "разам", "разы", "разами", "разах"],
    ),
    noun(
        Masc,
        ["звонок", "звонка", "звонку", "звонок", "звонком", "звонке"],
        [
            "звонки",
            "звонков",
            "звонкам",
            "звонки",
            "звонками",
            "звонках",
        ],
    ),
    PIECE,
    noun(
        Masc,
        [
            "градус",
            "градуса",
            "градусу",
            "градус",
            "градусом",
            "градусе",
        ],
        [
            "градусы",
            "градусов",
            "градусам",
            "градусы",
            "градусами",
            "градусах",
        ],
    ),
    noun(
        Masc,
        ["метр", "метра", "метру", "метр", "метром", "метре"],
        ["метры", "метров", "метрам", "метры", "метрами", "метрах"],
    ),
    noun(
        Masc,
        ["литр", "литра", "литру", "литр", "литром", "литре"],
        ["литры", "литров", "литрам", "литры", "литрами", "литрах"],
    ),
    noun(
        Masc,
        [
            "киловатт",
            "киловатта",
            "киловатту",
            "киловатт",
            "киловаттом",
            "киловатте",
        ],
        [
            "киловатты",
            "киловатт",
            "киловаттам",
            "киловатты",
            "киловаттами",
            "киловаттах",
        ],
    ),
    noun(
        Masc,
        [
            "человек",
            "человека",
            "человеку",
            "человека",
            "человеком",
            "человеке",
        ],
        ["люди", "человек", "людям", "людей", "людьми", "людях"],
    ),
    DAY_OF_MONTH,
    noun(
        Fem,
        ["цифра", "цифры", "цифре", "цифру", "цифрой", "цифре"],
        ["цифры", "цифр", "цифрам", "цифры", "цифрами", "цифрах"],
    ),
    noun(
        Fem,
        ["секция", "секции", "секции", "секцию", "секцией", "секции"],
        [
            "секции",
            "секций",
            "секциям",
            "секции",
            "секциями",
            "секциях",
        ],
    ),
];

/// «число» (of the month): the number before it is an ordinal («с 1 числа» → «с первого числа»).
pub const DAY_OF_MONTH: NounForms = noun(
    Neut,
    ["число", "числа", "числу", "число", "числом", "числе"],
    ["числа", "чисел", "числам", "числа", "числами", "числах"],
);
/// «час».
pub const HOUR: NounForms = noun(
    Masc,
    ["час", "часа", "часу", "час", "часом", "часе"],
    ["часы", "часов", "часам", "часы", "часами", "часах"],
);
/// «минута».
pub const MINUTE: NounForms = noun(
    Fem,
    ["минута", "минуты", "минуте", "минуту", "минутой", "минуте"],
    [
        "минуты",
        "минут",
        "минутам",
        "минуты",
        "минутами",
        "минутах",
    ],
);
/// «секунда».
pub const SECOND: NounForms = noun(
    Fem,
    [
        "секунда",
        "секунды",
        "секунде",
        "секунду",
        "секундой",
        "секунде",
    ],
    [
        "секунды",
        "секунд",
        "секундам",
        "секунды",
        "секундами",
        "секундах",
    ],
);
/// «рубль».
pub const RUBLE: NounForms = noun(
    Masc,
    ["рубль", "рубля", "рублю", "рубль", "рублём", "рубле"],
    ["рубли", "рублей", "рублям", "рубли", "рублями", "рублях"],
);
/// «копейка».
pub const KOPECK: NounForms = noun(
    Fem,
    [
        "копейка",
        "копейки",
        "копейке",
        "копейку",
        "копейкой",
        "копейке",
    ],
    [
        "копейки",
        "копеек",
        "копейкам",
        "копейки",
        "копейками",
        "копейках",
    ],
);
/// «год» (genitive plural «лет»).
pub const YEAR: NounForms = noun(
    Masc,
    ["год", "года", "году", "год", "годом", "году"],
    ["годы", "лет", "годам", "годы", "годами", "годах"],
);
/// «процент».
pub const PERCENT: NounForms = noun(
    Masc,
    [
        "процент",
        "процента",
        "проценту",
        "процент",
        "процентом",
        "проценте",
    ],
    [
        "проценты",
        "процентов",
        "процентам",
        "проценты",
        "процентами",
        "процентах",
    ],
);
/// «штука».
pub const PIECE: NounForms = noun(
    Fem,
    ["штука", "штуки", "штуке", "штуку", "штукой", "штуке"],
    ["штуки", "штук", "штукам", "штуки", "штуками", "штуках"],
);
/// «этаж».
pub const FLOOR: NounForms = noun(
    Masc,
    ["этаж", "этажа", "этажу", "этаж", "этажом", "этаже"],
    ["этажи", "этажей", "этажам", "этажи", "этажами", "этажах"],
);

/// Every (case, plural) in which `word` is a form of `noun`.
pub fn forms_of(noun: &NounForms, word: &str) -> Vec<(Case, bool)> {
    const CASES: [Case; 6] = [
        Case::Nom,
        Case::Gen,
        Case::Dat,
        Case::Acc,
        Case::Ins,
        Case::Prep,
    ];
    let mut out = Vec::new();
    for (i, c) in CASES.iter().enumerate() {
        if noun.sg[i] == word {
            out.push((*c, false));
        }
        if noun.pl[i] == word {
            out.push((*c, true));
        }
    }
    out
}

/// The counted noun `word` (lowercase, «ё» as written) is a form of, if any.
pub fn counted(word: &str) -> Option<&'static NounForms> {
    let w = word.replace('е', "ё");
    COUNTED
        .iter()
        .find(|n| !forms_of(n, word).is_empty() || !forms_of(n, &w).is_empty())
}

/// Abbreviations of counted nouns, read in agreement with the number before them
/// («2 ч.» → «два часа», «150 руб.» → «сто пятьдесят рублей»). Key without the dot.
pub fn counted_abbreviation(word: &str) -> Option<&'static NounForms> {
    Some(match word {
        "ч" => &HOUR,
        "мин" => &MINUTE,
        "сек" => &SECOND,
        "руб" | "р" | "₽" => &RUBLE,
        "коп" => &KOPECK,
        "г" | "гг" => &YEAR,
        "шт" => &PIECE,
        "%" => &PERCENT,
        _ => return None,
    })
}

/// Place and address abbreviations (key lowercase, without the dot; hyphenated ones as
/// written): «ул.» → «улица», «пр-т» → «проспект». The noun is declined after a
/// preposition («на ул. Ленина» → «на улице Ленина»).
pub fn place_abbreviation(word: &str) -> Option<NounForms> {
    Some(match word {
        "ул" => noun(
            Fem,
            ["улица", "улицы", "улице", "улицу", "улицей", "улице"],
            ["улицы", "улиц", "улицам", "улицы", "улицами", "улицах"],
        ),
        "пр-т" | "пр-кт" | "просп" | "пр" => noun(
            Masc,
            [
                "проспект",
                "проспекта",
                "проспекту",
                "проспект",
                "проспектом",
                "проспекте",
            ],
            [
                "проспекты",
                "проспектов",
                "проспектам",
                "проспекты",
                "проспектами",
                "проспектах",
            ],
        ),
        "пер" => noun(
            Masc,
            [
                "переулок",
                "переулка",
                "переулку",
                "переулок",
                "переулком",
                "переулке",
            ],
            [
                "переулки",
                "переулков",
                "переулкам",
                "переулки",
                "переулками",
                "переулках",
            ],
        ),
        "б-р" | "бул" => noun(
            Masc,
            [
                "бульвар",
                "бульвара",
                "бульвару",
                "бульвар",
                "бульваром",
                "бульваре",
            ],
            [
                "бульвары",
                "бульваров",
                "бульварам",
                "бульвары",
                "бульварами",
                "бульварах",
            ],
        ),
        "пл" => noun(
            Fem,
            [
                "площадь",
                "площади",
                "площади",
                "площадь",
                "площадью",
                "площади",
            ],
            [
                "площади",
                "площадей",
                "площадям",
                "площади",
                "площадями",
                "площадях",
            ],
        ),
        "ш" => noun(Neut, ["шоссе"; 6], ["шоссе"; 6]),
        "наб" => noun(
            Fem,
            [
                "набережная",
                "набережной",
                "набережной",
                "набережную",
                "набережной",
                "набережной",
            ],
            [
                "набережные",
                "набережных",
                "набережным",
                "набережные",
                "набережными",
                "набережных",
            ],
        ),
        "мкр" | "мкрн" | "мк-н" => noun(
            Masc,
            [
                "микрорайон",
                "микрорайона",
                "микрорайону",
                "микрорайон",
                "микрорайоном",
                "микрорайоне",
            ],
            [
                "микрорайоны",
                "микрорайонов",
                "микрорайонам",
                "микрорайоны",
                "микрорайонами",
                "микрорайонах",
            ],
        ),
        "р-н" => noun(
            Masc,
            ["район", "района", "району", "район", "районом", "районе"],
            [
                "районы",
                "районов",
                "районам",
                "районы",
                "районами",
                "районах",
            ],
        ),
        "обл" => noun(
            Fem,
            [
                "область",
                "области",
                "области",
                "область",
                "областью",
                "области",
            ],
            [
                "области",
                "областей",
                "областям",
                "области",
                "областями",
                "областях",
            ],
        ),
        "г" => noun(
            Masc,
            ["город", "города", "городу", "город", "городом", "городе"],
            [
                "города",
                "городов",
                "городам",
                "города",
                "городами",
                "городах",
            ],
        ),
        "д" => noun(
            Masc,
            ["дом", "дома", "дому", "дом", "домом", "доме"],
            ["дома", "домов", "домам", "дома", "домами", "домах"],
        ),
        "кв" => noun(
            Fem,
            [
                "квартира",
                "квартиры",
                "квартире",
                "квартиру",
                "квартирой",
                "квартире",
            ],
            [
                "квартиры",
                "квартир",
                "квартирам",
                "квартиры",
                "квартирами",
                "квартирах",
            ],
        ),
        "корп" | "к" => noun(
            Masc,
            [
                "корпус",
                "корпуса",
                "корпусу",
                "корпус",
                "корпусом",
                "корпусе",
            ],
            [
                "корпуса",
                "корпусов",
                "корпусам",
                "корпуса",
                "корпусами",
                "корпусах",
            ],
        ),
        "стр" => noun(
            Neut,
            [
                "строение",
                "строения",
                "строению",
                "строение",
                "строением",
                "строении",
            ],
            [
                "строения",
                "строений",
                "строениям",
                "строения",
                "строениями",
                "строениях",
            ],
        ),
        "эт" => FLOOR,
        "тел" => noun(
            Masc,
            [
                "телефон",
                "телефона",
                "телефону",
                "телефон",
                "телефоном",
                "телефоне",
            ],
            [
                "телефоны",
                "телефонов",
                "телефонам",
                "телефоны",
                "телефонами",
                "телефонах",
            ],
        ),
        "кап" => noun(
            Masc,
            [
                "капитальный",
                "капитального",
                "капитальному",
                "капитальный",
                "капитальным",
                "капитальном",
            ],
            [
                "капитальные",
                "капитальных",
                "капитальным",
                "капитальные",
                "капитальными",
                "капитальных",
            ],
        ),
        _ => return None,
    })
}

/// Whether the abbreviation needs its dot to be one («д.», «г.», «к.», «пр.» are also
/// ordinary letters or words without it); hyphenated ones never have a dot.
pub fn needs_dot(word: &str) -> bool {
    !word.contains('-')
}

/// Fixed multi-part abbreviations («т. е.»), matched on the letters only.
pub fn phrase_abbreviation(letters: &[&str]) -> Option<&'static str> {
    Some(match letters {
        ["т", "е"] => "то есть",
        ["т", "д"] => "так далее",
        ["т", "п"] => "тому подобное",
        ["т", "к"] => "так как",
        _ => return None,
    })
}

/// The case a preposition (lowercase) governs for a number after it. `в`, `во`, `на`
/// govern the accusative or, with a prepositional noun («в 2026 году», «на 5 этаже»), the
/// prepositional: [`Governs::AccOrPrep`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Governs {
    /// One case.
    Case(Case),
    /// «в», «на»: accusative, or prepositional when the noun after says so.
    AccOrPrep,
}

/// See [`Governs`]; `None` for a word that is not a preposition taking numbers.
pub fn preposition(word: &str) -> Option<Governs> {
    Some(match word {
        "с" | "со" | "до" | "от" | "после" | "около" | "из" | "без" | "для" | "у" | "кроме"
        | "течение" | "более" | "менее" | "свыше" | "больше" | "меньше" | "возле" | "среди"
        | "вместо" | "против" | "началом" | "начала" | "окончания" => {
            Governs::Case(Case::Gen)
        }
        "к" | "ко" | "по" | "согласно" => Governs::Case(Case::Dat),
        "через" | "за" | "про" | "сквозь" => Governs::Case(Case::Acc),
        "о" | "об" | "при" => Governs::Case(Case::Prep),
        "в" | "во" | "на" => Governs::AccOrPrep,
        "между" | "над" | "под" | "перед" => Governs::Case(Case::Ins),
        _ => return None,
    })
}

/// Kinds of label after which a number is a name, read as it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// Houses, apartments, entrances…: a nominative cardinal («квартира сорок пять»).
    Name,
    /// Ticket, account, phone numbers: read in groups of 2–3 digits when 4 digits or more.
    Code,
}

/// Whether `word` (lowercase) is a label before a number.
pub fn label(word: &str) -> Option<Label> {
    const NAME: &[&str] = &[
        "квартир",
        "корпус",
        "строени",
        "подъезд",
        "офис",
        "комнат",
        "кабинет",
        "помещени",
        "участ",
        "владени",
        "литер",
        "секци",
        "этаж",
        "линия",
        "линии",
        "дробь",
    ];
    const CODE: &[&str] = &[
        "номер",
        "заявк",
        "телефон",
        "счёт",
        "счет",
        "счёта",
        "счета",
        "договор",
        "код",
        "пин",
        "лс",
        "абонент",
    ];
    if matches!(word, "дом" | "дома" | "доме" | "домом" | "дому") {
        return Some(Label::Name);
    }
    if CODE.iter().any(|s| word.starts_with(s)) {
        return Some(Label::Code);
    }
    if NAME.iter().any(|s| word.starts_with(s)) {
        return Some(Label::Name);
    }
    None
}

/// Spoken names of the letters of house numbers («12а» → «двенадцать а», «5б» → «пять бэ»).
pub fn letter_name(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "а",
        'б' => "бэ",
        'в' => "вэ",
        'г' => "гэ",
        'д' => "дэ",
        'е' => "е",
        'ж' => "жэ",
        'з' => "зэ",
        'и' => "и",
        'к' => "ка",
        'л' => "эль",
        'м' => "эм",
        'н' => "эн",
        'о' => "о",
        'п' => "пэ",
        'р' => "эр",
        'с' => "эс",
        'т' => "тэ",
        'у' => "у",
        _ => return None,
    })
}

/// Gender of a counted noun not in [`COUNTED`], guessed from its ending after the number
/// `n`: «1 квитанция» (-а/-я after 1) and «2 квитанции» (-ы/-и after 2–4) are feminine,
/// «1 окно» (-о/-е) neuter, the rest masculine.
pub fn guess_gender(n: u64, word: &str) -> Gender {
    let last = word.chars().last().unwrap_or(' ');
    let l = n % 10;
    let teen = (11..=14).contains(&(n % 100));
    if l == 1 && !teen {
        match last {
            'а' | 'я' => Fem,
            'о' | 'е' => Neut,
            _ => Masc,
        }
    } else if (2..=4).contains(&l) && !teen {
        match last {
            'ы' | 'и' => Fem,
            _ => Masc,
        }
    } else {
        Masc
    }
}

/// Parts of the day after an hour («в 2 ночи», «в 9 утра»): the hour is a masculine cardinal.
pub fn part_of_day(word: &str) -> bool {
    matches!(word, "утра" | "дня" | "вечера" | "ночи")
}

/// Short function words after a number that say nothing about its gender.
pub fn function_word(word: &str) -> bool {
    word.chars().count() <= 2
        || matches!(
            word,
            "или"
                | "либо"
                | "что"
                | "это"
                | "нет"
                | "для"
                | "под"
                | "над"
                | "при"
                | "про"
                | "как"
                | "так"
                | "там"
                | "тут"
                | "уже"
                | "еще"
                | "ещё"
                | "если"
                | "когда"
                | "через"
                | "после"
                | "перед"
                | "между"
                | "потом"
                | "затем"
        )
}
