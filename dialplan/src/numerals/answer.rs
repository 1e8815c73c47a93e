//! Is an utterance an answer to a number question, and which number?

use super::scan::{scan, Item, ScanOpts, TokKind};
use super::table::fraction_word;
use std::fmt;

/// What a number question asks for. It decides the keywords that name the number
/// («квартира», «дом»), what may follow it (a letter, `корпус 2`, a decimal part) and the
/// range of plausible values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NumberKind {
    /// An apartment: 1–99 999 with an optional letter (`12а`). Keyword «квартира»/«кв».
    Apartment,
    /// A house: 1–99 999 with an optional letter and `корпус N`, `строение N` or `/N`
    /// (`5 корпус 2`, `5/2`, `12а`). Keyword «дом»/«д».
    House,
    /// A meter reading: a non-negative decimal («сто двадцать три и пять десятых»,
    /// `123,5`, «123 целых 5» → `123.5`), or digits dictated one by one («ноль ноль один
    /// два три» → `123`). Keyword «показания».
    Reading,
    /// A rating 1–5 («пять», «на четыре», «пятёрка», «четыре из пяти»). Keyword «оценка».
    Rating,
    /// Any non-negative whole number (a menu entry, a count).
    Plain,
}

/// How an utterance relates to the number question it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnswerClass {
    /// Only the number, with its keyword and fillers around it: «Ну, квартира сорок пять.»,
    /// «сто двадцать третья», «э-э, наверное, 12 а».
    Clean,
    /// The number is named by the question's keyword, with other talk or numbers around
    /// it: «Ленина 5, квартира 12», «у меня в двенадцатой квартире течёт».
    Labelled,
    /// Numbers among other talk, none named by the keyword: «6 часов 45 минут», «…в 45
    /// минут 3 доллара 5 центов»; also alternatives («квартира 12 или 13») and a number
    /// named by another question's keyword («дом пять» when the apartment is asked). Not an
    /// answer; `value` is only the first number.
    InTalk,
    /// No number at all.
    NoNumber,
}

/// A part of a house number after the number itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HousePart {
    /// `корпус N` (`к`, `корп.`, «5к2»).
    Corpus,
    /// `строение N` (`стр.`, `с`).
    Building,
    /// `/N` («дробь»).
    Slash,
}

/// A number as the caller gave it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NumberValue {
    /// The whole number (for a reading, the part before the decimal point).
    pub number: u32,
    /// The letter after an apartment or house number, lowercase Cyrillic `а`–`д`
    /// (Latin `A`–`D` as Whisper sometimes writes them are mapped).
    pub letter: Option<char>,
    /// For a reading, the decimal digits as said: `"5"` for 123.5, `"05"` for «пять
    /// сотых».
    pub fraction: Option<String>,
    /// For a house, the parts after the number in order: (`корпус`, 2, no letter).
    pub parts: Vec<(HousePart, u32, Option<char>)>,
}

impl NumberValue {
    fn new(number: u32) -> Self {
        NumberValue {
            number,
            letter: None,
            fraction: None,
            parts: Vec::new(),
        }
    }
}

/// The canonical text: `12а`, `5 корпус 2`, `5/2`, `7 строение 1`, `123.5`, `4`.
impl fmt::Display for NumberValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number)?;
        if let Some(c) = self.letter {
            write!(f, "{c}")?;
        }
        for (part, n, letter) in &self.parts {
            let sep = match part {
                HousePart::Corpus => " корпус ",
                HousePart::Building => " строение ",
                HousePart::Slash => "/",
            };
            write!(f, "{sep}{n}")?;
            if let Some(c) = letter {
                write!(f, "{c}")?;
            }
        }
        if let Some(d) = &self.fraction {
            write!(f, ".{d}")?;
        }
        Ok(())
    }
}

/// What [`parse_number_answer`](super::parse_number_answer) made of an utterance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberAnswer {
    /// Whether the utterance is a number answer; see [`AnswerClass`].
    pub class: AnswerClass,
    /// The number: the one named by the keyword, else the first (`None` for
    /// [`AnswerClass::NoNumber`]).
    pub value: Option<NumberValue>,
    /// The value lies in the kind's range (apartments and houses 1–99 999, ratings 1–5).
    pub in_range: bool,
    /// The number was heard as a sound-alike word («Сим» for «семь»): worth reading back.
    pub soundalike: bool,
    /// Numbers in the utterance besides the answer (`дом 5` in «дом 5 квартира 12»).
    pub other_numbers: usize,
    /// Words besides the answer, its keyword and fillers («ну», «это», «у меня», …).
    pub other_words: usize,
}

impl NumberAnswer {
    /// The value when the utterance answers the question: [`AnswerClass::Clean`] or
    /// [`AnswerClass::Labelled`], and in range. `None` otherwise.
    pub fn accepted(&self) -> Option<&NumberValue> {
        match self.class {
            AnswerClass::Clean | AnswerClass::Labelled if self.in_range => self.value.as_ref(),
            _ => None,
        }
    }

    /// The answer is clean and in range: nothing but the number, its keyword and fillers.
    pub fn is_clean(&self) -> bool {
        self.class == AnswerClass::Clean && self.in_range
    }

    fn none(other_words: usize) -> Self {
        NumberAnswer {
            class: AnswerClass::NoNumber,
            value: None,
            in_range: false,
            soundalike: false,
            other_numbers: 0,
            other_words,
        }
    }
}

/// Words that may surround a number answer without making it other talk.
const FILLERS: &[&str] = &[
    "ну",
    "э",
    "ээ",
    "эээ",
    "эм",
    "мм",
    "ммм",
    "м",
    "хм",
    "а",
    "и",
    "да",
    "ага",
    "угу",
    "так",
    "вот",
    "это",
    "эта",
    "этот",
    "у",
    "меня",
    "нас",
    "мой",
    "моя",
    "мое",
    "мои",
    "наш",
    "наша",
    "наше",
    "номер",
    "наверное",
    "наверно",
    "кажется",
    "вроде",
    "по",
    "моему",
    "значит",
    "короче",
    "в",
    "во",
    "на",
    "я",
    "мы",
    "живу",
    "живем",
    "пожалуйста",
    "спасибо",
    "алло",
    "здравствуйте",
    "добрый",
    "день",
    "вечер",
    "сейчас",
    "секунду",
    "минутку",
    "ой",
    "давайте",
    "тогда",
    "получается",
    "же",
    "ведь",
    "там",
    "типа",
    "точно",
    "еще",
    "раз",
    "говорю",
    "скажу",
    "записывайте",
    "нет",
    "пишите",
    "значится",
    "вообще",
    "конечно",
];

fn is_apartment_word(w: &str) -> bool {
    w.starts_with("квартир") || w == "кв"
}

fn is_house_word(w: &str) -> bool {
    matches!(w, "дом" | "дома" | "доме" | "домом" | "д")
}

/// The word names the number the question asks for.
fn is_keyword(kind: NumberKind, w: &str) -> bool {
    match kind {
        NumberKind::Apartment => is_apartment_word(w),
        NumberKind::House => is_house_word(w),
        NumberKind::Reading => w.starts_with("показани"),
        NumberKind::Rating => w.starts_with("оценк"),
        NumberKind::Plain => matches!(w, "пункт" | "вариант"),
    }
}

/// The word may stand around the number without making it other talk.
fn is_filler(kind: NumberKind, w: &str) -> bool {
    if FILLERS.contains(&w) || is_keyword(kind, w) {
        return true;
    }
    match kind {
        NumberKind::Apartment | NumberKind::Plain => is_apartment_word(w) || is_house_word(w),
        NumberKind::House => {
            is_apartment_word(w)
                || w.starts_with("корпус")
                || w.starts_with("строени")
                || w.starts_with("литер")
                || w == "буква"
        }
        NumberKind::Reading => {
            [
                "показан",
                "счетчик",
                "куб",
                "метр",
                "киловатт",
                "литр",
                "гигакалори",
            ]
            .iter()
            .any(|p| w.starts_with(p))
                || matches!(w, "квт" | "ватт" | "часов" | "час" | "гкал")
        }
        NumberKind::Rating => {
            [
                "балл",
                "ставл",
                "постав",
                "ставим",
                "оцени",
                "оценю",
                "звезд",
            ]
            .iter()
            .any(|p| w.starts_with(p))
                || matches!(w, "из" | "все" | "твердую" | "твердая" | "твердое")
        }
    }
}

/// The utterance's items without spaces.
struct Sig<'a> {
    text: &'a str,
    items: Vec<&'a Item>,
}

impl<'a> Sig<'a> {
    fn word(&self, i: usize) -> Option<&'a str> {
        match self.items.get(i)? {
            Item::Tok {
                kind: TokKind::Word,
                folded,
                ..
            } => Some(folded.as_str()),
            _ => None,
        }
    }

    fn punct(&self, i: usize) -> Option<&'a str> {
        match self.items.get(i)? {
            Item::Tok {
                kind: TokKind::Punct,
                folded,
                ..
            } => Some(folded.as_str()),
            _ => None,
        }
    }

    fn num(&self, i: usize) -> Option<u32> {
        match self.items.get(i)? {
            Item::Num { value, .. } => Some(*value),
            _ => None,
        }
    }

    /// The digits of a number as said: `05` as written, «пять» as `5`.
    fn written(&self, i: usize) -> Option<String> {
        match self.items.get(i)? {
            Item::Num {
                digits_only: true,
                start,
                end,
                ..
            } => Some(self.text[*start..*end].to_string()),
            Item::Num { value, .. } => Some(value.to_string()),
            _ => None,
        }
    }

    fn span(&self, i: usize) -> (usize, usize) {
        match self.items[i] {
            Item::Num { start, end, .. } | Item::Tok { start, end, .. } => (*start, *end),
        }
    }

    /// Items `i` and `i + 1` touch (no space between).
    fn touch(&self, i: usize) -> bool {
        i + 1 < self.items.len() && self.span(i).1 == self.span(i + 1).0
    }
}

/// Letter suffixes of apartment and house numbers, and their spoken names.
fn suffix_letter(word: &str) -> Option<char> {
    match word {
        "а" | "a" => Some('а'),
        "б" | "бэ" | "b" => Some('б'),
        "в" | "вэ" | "v" => Some('в'),
        "г" | "гэ" | "g" => Some('г'),
        "д" | "дэ" | "d" => Some('д'),
        _ => None,
    }
}

/// Reads the letter after the number at `i`: `12а`, `12 а`, `12-а`, `12 «А»`, «двенадцать
/// бэ», «двенадцать буква а». Returns the letter and the index after it.
///
/// The bare Cyrillic «а» is also the conjunction "and/but" and «в» the preposition "in",
/// so, unless written on the number (`12а`) or named («буква а»), they are taken only at
/// the end of the utterance or before punctuation; no spaced letter is taken before a
/// number («кв 12 д 5»).
fn letter_after(sig: &Sig, i: usize) -> Option<(char, usize)> {
    let mut k = i + 1;
    let mut named = false;
    while k <= i + 3 {
        match (sig.punct(k), sig.word(k)) {
            (Some(p), _) if p.chars().all(|c| "-\"«»'".contains(c)) => k += 1,
            (_, Some(w)) if !named && (w == "буква" || w.starts_with("литер")) => {
                named = true;
                k += 1;
            }
            _ => break,
        }
    }
    let w = sig.word(k)?;
    let c = suffix_letter(w)?;
    let written_on = k == i + 1 && sig.touch(i);
    let latin = w.is_ascii();
    // «а» (and, but) and «в» (in) before a word are the conjunction and the preposition;
    // a letter before a number is an abbreviation (`д 5` = дом 5).
    let word_follows = sig.word(k + 1).is_some();
    let num_follows = sig.num(k + 1).is_some();
    if !named && !written_on && !latin && (num_follows || (matches!(c, 'а' | 'в') && word_follows))
    {
        return None;
    }
    let mut after = k + 1;
    while sig
        .punct(after)
        .is_some_and(|p| p.chars().all(|c| "\"«»'".contains(c)))
    {
        after += 1;
    }
    Some((c, after))
}

/// A house part word and its kind: `корпус`, `к`, `строение`, `стр`, `дробь`, `/`.
fn house_part(sig: &Sig, i: usize) -> Option<HousePart> {
    if let Some(p) = sig.punct(i) {
        return (p == "/").then_some(HousePart::Slash);
    }
    match sig.word(i)? {
        "корпус" | "корпуса" | "корп" | "к" => Some(HousePart::Corpus),
        "строение" | "строения" | "стр" | "с" => Some(HousePart::Building),
        "дробь" => Some(HousePart::Slash),
        _ => None,
    }
}

/// Reads `корпус 2`, `строение 1`, `/2` (each with an optional letter, also after a
/// comma: «Дом 5, корпус 2.») from `next` into `parts`; returns the index after them.
fn house_parts(
    sig: &Sig,
    mut next: usize,
    parts: &mut Vec<(HousePart, u32, Option<char>)>,
) -> usize {
    loop {
        let at = next + usize::from(sig.punct(next) == Some(","));
        let Some(part) = house_part(sig, at) else {
            return next;
        };
        let mut k = at + 1;
        if sig.punct(k) == Some(".") {
            k += 1;
        }
        let Some(m) = sig.num(k) else {
            return next;
        };
        let mut letter = None;
        next = k + 1;
        if let Some((c, after)) = letter_after(sig, k) {
            letter = Some(c);
            next = after;
        }
        parts.push((part, m, letter));
    }
}

/// Consumes what belongs to the number at `t` for `kind`; returns the value and the index
/// after the last item used.
fn structure(sig: &Sig, t: usize, kind: NumberKind) -> (NumberValue, usize) {
    let Some(n) = sig.num(t) else {
        return (NumberValue::new(0), t + 1);
    };
    let mut v = NumberValue::new(n);
    let mut next = t + 1;
    match kind {
        NumberKind::Apartment | NumberKind::House => {
            if let Some((c, after)) = letter_after(sig, t) {
                v.letter = Some(c);
                next = after;
            }
            if kind == NumberKind::House {
                next = house_parts(sig, next, &mut v.parts);
            }
        }
        NumberKind::Reading => {
            if let Some((digits, after)) = digit_run(sig, t) {
                v.number = digits;
                next = after;
            } else if let Some((d, after)) = decimal_part(sig, t) {
                v.fraction = Some(d);
                next = after;
            }
        }
        NumberKind::Rating => {
            if sig.word(next) == Some("из") && sig.num(next + 1) == Some(5) {
                next += 2;
            }
        }
        NumberKind::Plain => {}
    }
    (v, next)
}

/// A reading dictated digit by digit from `t`: «ноль ноль один два три», `0 0 1 2 3`,
/// `1-2-3` → 123 (at least two single digits, nothing but spaces, commas or hyphens
/// between). Returns the number and the index after the last digit; `None` for a run of
/// one or one that does not fit in `u32`.
fn digit_run(sig: &Sig, t: usize) -> Option<(u32, usize)> {
    let single = |i: usize| match sig.items.get(i) {
        Some(Item::Num {
            value,
            ordinal: false,
            ..
        }) if *value <= 9 => sig.written(i).filter(|w| w.len() == 1),
        _ => None,
    };
    let mut digits = single(t)?;
    let mut k = t + 1;
    loop {
        let gap = usize::from(matches!(sig.punct(k), Some("," | "-")));
        let Some(d) = single(k + gap) else { break };
        digits.push_str(&d);
        k += gap + 1;
    }
    if digits.len() < 2 {
        return None;
    }
    Some((digits.parse().ok()?, k))
}

/// The decimal part after the number at `t`: `123,5`, «123 целых 5 (десятых)», «сто
/// двадцать три и пять десятых», «123 запятая 0 5».
fn decimal_part(sig: &Sig, t: usize) -> Option<(String, usize)> {
    if matches!(sig.punct(t + 1), Some("," | ".")) && sig.touch(t) && sig.touch(t + 1) {
        if let Some(Item::Num {
            digits_only: true, ..
        }) = sig.items.get(t + 2)
        {
            return Some((sig.written(t + 2)?, t + 3));
        }
    }
    let w = sig.word(t + 1)?;
    if w.starts_with("цел") || w == "и" {
        let digits = sig.written(t + 2)?;
        let width = sig.word(t + 3).and_then(fraction_word);
        if w == "и" && width.is_none() {
            return None;
        }
        let after = t + 3 + usize::from(width.is_some());
        let padded = match width {
            Some(n) if digits.len() < n => format!("{digits:0>n$}"),
            _ => digits,
        };
        return Some((padded, after));
    }
    if matches!(w, "запятая" | "точка") {
        let mut k = t + 2;
        let mut digits = String::new();
        while let Some(d) = sig.written(k) {
            digits.push_str(&d);
            k += 1;
        }
        return (!digits.is_empty()).then_some((digits, k));
    }
    None
}

/// The word names a number the question does *not* ask for: `дом` at an apartment
/// question, `квартира` at a house question.
fn is_foreign_keyword(kind: NumberKind, w: &str) -> bool {
    match kind {
        NumberKind::Apartment => is_house_word(w),
        NumberKind::House => is_apartment_word(w),
        _ => false,
    }
}

/// How the answer number was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    /// Named by the question's keyword.
    Named,
    /// The first number not named by another keyword.
    First,
    /// The only numbers there are belong to another keyword («дом пять» at an apartment
    /// question).
    Foreign,
}

/// Finds the answer number: the one the keyword names (after it, or just before it as in
/// «в двенадцатой квартире»), else the first number not named by another keyword.
fn find_target(sig: &Sig, kind: NumberKind) -> Option<(usize, Found)> {
    let only_fillers = |from: usize, to: usize| {
        (from..to).all(|i| match sig.word(i) {
            Some(w) => is_filler(kind, w) && !is_keyword(kind, w),
            None => sig.punct(i).is_some(),
        })
    };
    let nums = || (0..sig.items.len()).filter(|&i| sig.num(i).is_some());
    for k in 0..sig.items.len() {
        if !sig.word(k).is_some_and(|w| is_keyword(kind, w)) {
            continue;
        }
        if let Some(t) = nums().find(|&i| i > k) {
            if only_fillers(k + 1, t) {
                return Some((t, Found::Named));
            }
        }
        if let Some(t) = (0..k).rev().find(|&i| sig.num(i).is_some()) {
            if only_fillers(t + 1, k) {
                return Some((t, Found::Named));
            }
        }
    }
    let foreign = |t: usize| {
        (0..t).rev().any(|k| {
            sig.word(k).is_some_and(|w| is_foreign_keyword(kind, w)) && only_fillers(k + 1, t)
        })
    };
    if let Some(t) = nums().find(|&t| !foreign(t)) {
        return Some((t, Found::First));
    }
    nums().next().map(|t| (t, Found::Foreign))
}

fn in_range(kind: NumberKind, v: &NumberValue) -> bool {
    match kind {
        NumberKind::Apartment | NumberKind::House => (1..=99_999).contains(&v.number),
        NumberKind::Rating => (1..=5).contains(&v.number),
        NumberKind::Reading | NumberKind::Plain => true,
    }
}

/// A caller who starts a number again («сорок… сорок восемь», Whisper's `40-48`; `50-2 52`;
/// `150 9 150 9`): every number of the utterance from `t` on begins with the words of the
/// first, each begins the last, and nothing but fillers and punctuation stands between
/// them. Returns the last, the number finally said; `None` when the numbers are not one
/// number started again (`6 45`, «два три»), or carry letters or parts.
fn restarted(sig: &Sig, t: usize, kind: NumberKind) -> Option<NumberValue> {
    if (0..t).any(|i| sig.num(i).is_some()) {
        return None;
    }
    let mut values = Vec::new();
    let mut i = t;
    while i < sig.items.len() {
        if sig.num(i).is_some() {
            let (v, next) = structure(sig, i, kind);
            values.push(v);
            i = next.max(i + 1);
        } else {
            i += 1;
        }
    }
    let last = values.last()?.clone();
    let plain = |v: &NumberValue| v.letter.is_none() && v.parts.is_empty() && v.fraction.is_none();
    let whole = super::spoken_parts(last.number);
    let begins = |v: &NumberValue| {
        let p = super::spoken_parts(v.number);
        !p.is_empty() && whole.starts_with(&p)
    };
    // «один один» may be 11 dictated digit by digit: a repeated unit is not a restart.
    let dictated = last.number < 10;
    (values.len() >= 2 && !dictated && values.iter().all(|v| plain(v) && begins(v))).then_some(last)
}

/// One pass over the text with the given scanner options.
fn answer_with(text: &str, kind: NumberKind, opts: ScanOpts) -> NumberAnswer {
    let items = scan(text, opts);
    let sig = Sig {
        text,
        items: items
            .iter()
            .filter(|it| {
                !matches!(
                    it,
                    Item::Tok {
                        kind: TokKind::Space,
                        ..
                    }
                )
            })
            .collect(),
    };
    let count_words = |skip: &dyn Fn(usize) -> bool| {
        let mut numbers = 0;
        let mut words = 0;
        for (i, it) in sig.items.iter().enumerate() {
            if skip(i) {
                continue;
            }
            match it {
                Item::Num { .. }
                | Item::Tok {
                    kind: TokKind::Digits,
                    ..
                } => numbers += 1,
                Item::Tok {
                    kind: TokKind::Word,
                    folded,
                    ..
                } if !is_filler(kind, folded) => words += 1,
                _ => {}
            }
        }
        (numbers, words)
    };
    let Some((t, found)) = find_target(&sig, kind) else {
        let (_, words) = count_words(&|_| false);
        return NumberAnswer::none(words);
    };
    let (mut value, next) = structure(&sig, t, kind);
    let soundalike = matches!(
        sig.items[t],
        Item::Num {
            soundalike: true,
            ..
        }
    );
    let (mut other_numbers, other_words) = count_words(&|i| (t..next).contains(&i));
    // «квартира 12 или 13»: the caller is not sure.
    let alternatives = other_numbers > 0
        && (0..sig.items.len()).any(|i| matches!(sig.word(i), Some("или" | "либо")));
    if other_numbers > 0 && other_words == 0 && !alternatives && found != Found::Foreign {
        if let Some(last) = restarted(&sig, t, kind) {
            value = last;
            other_numbers = 0;
        }
    }
    let class = if found == Found::Foreign || alternatives {
        AnswerClass::InTalk
    } else if other_numbers == 0 && other_words == 0 {
        AnswerClass::Clean
    } else if found == Found::Named {
        AnswerClass::Labelled
    } else {
        AnswerClass::InTalk
    };
    NumberAnswer {
        class,
        in_range: in_range(kind, &value),
        value: Some(value),
        soundalike,
        other_numbers,
        other_words,
    }
}

impl From<zvonar_models::NumberSlot> for NumberKind {
    /// The kind of number a recogniser slot asks for; a slot added later reads as
    /// [`NumberKind::Plain`].
    fn from(slot: zvonar_models::NumberSlot) -> Self {
        use zvonar_models::NumberSlot;
        match slot {
            NumberSlot::Apartment => NumberKind::Apartment,
            NumberSlot::House => NumberKind::House,
            NumberSlot::Reading => NumberKind::Reading,
            NumberSlot::Rating => NumberKind::Rating,
            _ => NumberKind::Plain,
        }
    }
}

/// See [`parse_number_answer`](super::parse_number_answer).
pub(super) fn parse(text: &str, kind: NumberKind) -> NumberAnswer {
    let opts = ScanOpts {
        soundalikes: false,
        join_punct: true,
        fractions: kind == NumberKind::Reading,
        grades: kind == NumberKind::Rating,
    };
    // A pause written as punctuation inside a numeral («Тысяча, 178.») is bridged only
    // when the utterance is then a clean answer: «Квартира 20. 3 этаж» is 20, not 23.
    let joined = answer_with(text, kind, opts);
    if joined.class == AnswerClass::Clean {
        return joined;
    }
    let opts = ScanOpts {
        join_punct: false,
        ..opts
    };
    let plain = answer_with(text, kind, opts);
    // «Сим.» → 7, «сто сим» → 107: a misheard number word counts only if the answer is
    // then clean; «Сим-карта не работает» stays no number.
    let heard = answer_with(
        text,
        kind,
        ScanOpts {
            soundalikes: true,
            join_punct: true,
            ..opts
        },
    );
    if heard.class == AnswerClass::Clean {
        heard
    } else {
        plain
    }
}

/// The fillers of [`FILLERS`] a grammar lets Whisper write: hesitations and the words
/// around a number («ну», «э», «у меня», «это», «номер»). The others («пишите»,
/// «сейчас», «вроде», «в», «на»…) sound enough like number words that under a grammar
/// Whisper wrote them instead (`Питяча` → «Пишите», «тысяча» → «И сейчас»; numbers
/// bench, 2026-11-30).
const GRAMMAR_FILLERS: &[&str] = &[
    "ну",
    "э",
    "ээ",
    "эээ",
    "эм",
    "мм",
    "ммм",
    "хм",
    "а",
    "и",
    "да",
    "так",
    "вот",
    "это",
    "эта",
    "этот",
    "у",
    "меня",
    "нас",
    "мой",
    "моя",
    "мое",
    "наш",
    "наша",
    "наше",
    "номер",
];

/// The words an answer to a `kind` question may be made of: every form of the number
/// words ([`super::table`]; Russian forms only, [`super::table::real_words`]), the hesitations and words around a number that keep an
/// answer clean ([`GRAMMAR_FILLERS`]), the kind's keywords in
/// their usual forms, and what may follow the number (a house's «корпус», a reading's
/// «целых»/«десятых», a rating's «пятёрка»/«балла»). Lowercase, `ё` folded to `е`; no
/// sound-alikes. A recogniser that decodes number answers under a grammar
/// (`zvonar_voice::asr::grammar`) builds it from these words plus digits.
pub fn answer_vocabulary(kind: NumberKind) -> Vec<String> {
    let mut words: Vec<String> = super::table::real_words().cloned().collect();
    words.extend(GRAMMAR_FILLERS.iter().map(|w| w.to_string()));
    let forms = |stem: &str, ends: &[&str]| -> Vec<String> {
        ends.iter().map(|e| format!("{stem}{e}")).collect()
    };
    let apartment = forms("квартир", &["а", "ы", "е", "у", "ой", "ка", "ку", "ке"]);
    let house = forms("дом", &["", "а", "е", "ом"]);
    match kind {
        NumberKind::Apartment | NumberKind::Plain => {
            words.extend(apartment);
            words.extend(house);
            words.push("кв".into());
            words.push("д".into());
            if kind == NumberKind::Plain {
                words.extend(["пункт", "вариант"].map(String::from));
            }
        }
        NumberKind::House => {
            words.extend(house);
            words.extend(apartment);
            words.extend(forms("корпус", &["", "а", "е"]));
            words.extend(forms("строени", &["е", "я", "и"]));
            words.extend(forms("литер", &["", "а"]));
            words.extend(["д", "кв", "буква", "дробь", "к", "стр"].map(String::from));
            // Letters of houses: «двенадцать а», «5 б».
            words.extend("абвгдежзик".chars().map(String::from));
        }
        NumberKind::Reading => {
            words.extend(forms("показани", &["е", "я", "й"]));
            words.extend(forms("счетчик", &["", "а", "е", "и", "ов"]));
            words.extend(forms("куб", &["", "а", "ов", "ометр", "ометра", "ометров"]));
            words.extend(forms("метр", &["", "а", "ов"]));
            words.extend(forms("киловатт", &["", "а"]));
            words.extend(forms("литр", &["", "а", "ов"]));
            words.extend(forms("гигакалори", &["я", "и", "й"]));
            words.extend(["квт", "ватт", "час", "часа", "часов", "гкал"].map(String::from));
            words.extend(forms("цел", &["ая", "ых", "ой", "ые"]));
            for stem in ["десят", "сот", "тысячн"] {
                words.extend(forms(stem, &["ая", "ой", "ую", "ых", "ые", "ыми", "ым"]));
            }
            words.extend(["и", "запятая", "точка"].map(String::from));
        }
        NumberKind::Rating => {
            words.extend(super::table::grade_table().keys().cloned());
            words.extend(forms("оценк", &["а", "у", "и"]));
            words.extend(forms("балл", &["", "а", "ов"]));
            words.extend(forms("звезд", &["", "а", "ы"]));
            words.extend(
                [
                    "ставлю",
                    "поставлю",
                    "ставим",
                    "оцениваю",
                    "оценю",
                    "из",
                    "все",
                ]
                .map(String::from),
            );
        }
    }
    words.sort();
    words.dedup();
    words
}
