//! Russian spoken numbers → digits, for what Whisper recognises on a call.
//!
//! Whisper writes numbers sometimes as words («двенадцать»), sometimes as digits («12»),
//! and often mixed: «сорок пять» as `40 5`, «тысяча сто семьдесят восемь» as `Тысяча 178.`,
//! «сто двадцать три» as `сто 23`, thousands as `1 000`, case endings as `1000-и` or
//! `123-я`, a pause as a comma (`Тысяча, 178`; bridged by [`parse_number_answer`] only
//! when the utterance is then a clean answer), with capitals and punctuation. Everything
//! here tolerates all of that: words are compared lowercased with `ё` folded to `е`.
//!
//! Grammar (the ordinary Russian compound numeral, in words up to 999 999, in digits up to
//! nine digits): an optional thousands part (`[1–999] тысяча|тысячи|тысяч`, also `тыща`),
//! then hundreds (`сто`…`девятьсот`), tens (`двадцать`…`девяносто`) or a teen
//! (`десять`…`девятнадцать`), then units (`один`…`девять`). Every word may be in any grammatical case (`двух`, `трёх`, `пяти`)
//! and the last one may be an ordinal in any gender and case (`двенадцатая`, `пятой`,
//! `двадцать четвёртый`). A group of digits stands for the parts it is written with
//! (`170` = hundreds and tens, so `170 9` = 179). Parts must come in falling place value,
//! so «два три» is two numbers, 2 and 3, not 5, and `6 45` is 6 and 45. `ноль` stands
//! alone.
//!
//! [`parse_number_answer`] decides whether an utterance *answers* a number question
//! ([`AnswerClass`]): «квартира сорок пять» does, «…в 45 минут 3 доллара 5 центов» does
//! not. The other functions are built on it. Not understood on purpose: «полтора»,
//! «миллион», grades in words («отлично», «хорошо» — «хорошо» is also "all right"; the
//! rating robot's [`crate::rating::parse_rating`] takes them where a grade is asked), and
//! apartments dictated digit by digit («один два три» is three numbers; a reading may be
//! dictated so). The table test is `dialplan/tests/fixtures/numerals.tsv`.

mod answer;
mod scan;
mod table;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_table;

pub use answer::{
    answer_vocabulary, AnswerClass, HousePart, NumberAnswer, NumberKind, NumberValue,
};
use scan::{scan, Item, ScanOpts};

/// The word groups a number is said in: 179 → [100, 70, 9], 1178 → [1000, 100, 70, 8],
/// 48 → [40, 8], 12 → [12], 2000 → [2000]; empty for 0. Used to tell a number started again
/// («сорок… сорок восемь») and a plausible mishearing of a registry value
/// (`robot::slots`).
pub(crate) fn spoken_parts(n: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let (thousands, rest) = (n / 1000, n % 1000);
    if thousands > 0 {
        out.push(thousands * 1000);
    }
    if rest >= 100 {
        out.push(rest / 100 * 100);
    }
    let below = rest % 100;
    if (10..20).contains(&below) {
        out.push(below);
    } else {
        if below >= 20 {
            out.push(below / 10 * 10);
        }
        if below % 10 > 0 {
            out.push(below % 10);
        }
    }
    out
}

/// Lowercases and folds `ё` to `е` (Russian writes both for the same letter).
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

/// Reads an utterance as the answer to a question asking for a number of `kind`.
///
/// Returns the number (with an apartment's or house's letter, a house's `корпус`/
/// `строение`/`/` part, a reading's decimal part) and whether the utterance is a number
/// answer ([`AnswerClass::Clean`]: the number with its keyword and fillers such as «ну»,
/// «это», «у меня», «наверное», «э-э»; [`AnswerClass::Labelled`]: named by its keyword among
/// other talk) or numbers among other talk ([`AnswerClass::InTalk`], not an answer), or no
/// number at all. [`NumberAnswer::accepted`] gives the value of an answer in range.
///
/// ```
/// use zvonar_dialplan::numerals::{parse_number_answer, AnswerClass, NumberKind};
/// let a = parse_number_answer("Тысяча 178.", NumberKind::Apartment);
/// assert_eq!(a.class, AnswerClass::Clean);
/// assert_eq!(a.accepted().map(|v| v.to_string()).as_deref(), Some("1178"));
/// let a = parse_number_answer("в 45 минут 3 доллара 5 центов", NumberKind::Apartment);
/// assert_eq!((a.class, a.accepted()), (AnswerClass::InTalk, None));
/// let a = parse_number_answer("сто двадцать три и пять десятых", NumberKind::Reading);
/// assert_eq!(a.accepted().map(|v| v.to_string()).as_deref(), Some("123.5"));
/// ```
///
/// Words Whisper writes for misheard number words («Сим» for «семь») count only when the
/// utterance has no other number and is then clean; [`NumberAnswer::soundalike`] says so.
pub fn parse_number_answer(text: &str, kind: NumberKind) -> NumberAnswer {
    answer::parse(text, kind)
}

/// Replaces number words in a recognised utterance with digits, keeping everything else
/// (case, punctuation, other words) as it was.
///
/// «Дом пять, корпус два.» → «Дом 5, корпус 2.»; «сто двадцать третья квартира» →
/// «123 квартира»; «две тысячи двадцать четвёртый» → «2024»; `40 5` → `45`;
/// `Тысяча 178.` → `1178.`. Numbers split by punctuation stay apart («сто, двадцать» →
/// «100, 20»); digits already present and not continued are kept as written.
pub fn normalize_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for item in scan(text, ScanOpts::default()) {
        match item {
            Item::Num { value, .. } => out.push_str(&value.to_string()),
            Item::Tok { start, end, .. } => out.push_str(&text[start..end]),
        }
    }
    out
}

/// The number a caller answered, when the utterance is a clean number answer:
/// «двенадцать» → 12, «Квартира 12.» → 12, «двух» → 2, `40 5` → 45, «второй» → 2.
/// `None` when there is no number, or numbers come among other talk («6 часов 45 минут»).
/// See [`parse_number_answer`] with [`NumberKind::Plain`].
pub fn parse_number(text: &str) -> Option<u32> {
    let a = parse_number_answer(text, NumberKind::Plain);
    a.is_clean().then(|| a.value.map(|v| v.number)).flatten()
}

/// The apartment number an utterance answers with, with its letter: «двенадцать а» →
/// `12а`, «квартира 12», «12-А», «сто двадцать третья» → `123`, `40 5` → `45`.
///
/// Accepted when [`parse_number_answer`] with [`NumberKind::Apartment`] accepts it: the
/// number alone with fillers, or named by «квартира»/«кв» («Ленина 5, квартира 12» → `12`,
/// «в двенадцатой квартире» → `12`). `None` when there is no number, numbers come among
/// other talk without «квартира» («в 45 минут 3 доллара»), or it is 0 or above 99 999.
pub fn parse_apartment(text: &str) -> Option<String> {
    parse_number_answer(text, NumberKind::Apartment)
        .accepted()
        .map(ToString::to_string)
}

/// The house number in an utterance, in a canonical form used to compare houses:
/// «дом пять корпус два» → `5 корпус 2`, «5к2» → `5 корпус 2`, «дом 12 а» → `12а`,
/// «пять дробь два» → `5/2`, «дом семь строение один» → `7 строение 1`.
///
/// Lenient, for an address phrase with a street in it: takes the number after `дом`/`д`
/// when present, else the first number, whatever talk is around it. `None` when there is
/// no number or it is 0. Apply it to the configured house too to compare the two.
pub fn parse_house(text: &str) -> Option<String> {
    let a = parse_number_answer(text, NumberKind::House);
    let v = a.value.filter(|_| a.in_range)?;
    Some(v.to_string())
}

/// Spoken Russian names of the digits 0–9 (nominative, as read out one by one).
const DIGIT_NAMES: [&str; 10] = [
    "ноль",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
];

/// Reads a number out digit by digit: `1234` → «один, два, три, четыре». Characters other
/// than digits are kept as they are (`А-17` → «А, один, семь»); dashes and spaces are dropped.
pub fn digits_spoken(number: &str) -> String {
    let parts: Vec<String> = number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_digit(10) {
            Some(d) => DIGIT_NAMES[d as usize].to_string(),
            None => c.to_string(),
        })
        .collect();
    parts.join(", ")
}
