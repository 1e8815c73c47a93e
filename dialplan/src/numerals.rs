//! Russian spoken numbers → digits, for what Whisper recognises on a call.
//!
//! Whisper writes numbers sometimes as words («двенадцать»), sometimes as digits («12»),
//! with capitals and punctuation («Квартира двенадцать.»). Everything here tolerates all
//! of that: words are compared lowercased with `ё` folded to `е`.
//!
//! Grammar (the ordinary Russian compound numeral, up to 999 999): an optional thousands
//! part (`[1–999] тысяча|тысячи|тысяч`), then hundreds (`сто`…`девятьсот`), tens
//! (`двадцать`…`девяносто`) or a teen (`десять`…`девятнадцать`), then units
//! (`один`…`девять`). Every word may be in any grammatical case (`двух`, `трёх`, `пяти`)
//! and the last one may be an ordinal in any gender and case (`двенадцатая`, `пятой`,
//! `двадцать четвёртый`). Parts must come in falling order, so «два три» is two numbers,
//! 2 and 3, not 5. `ноль` stands alone.

mod table;
#[cfg(test)]
mod tests;

use table::{table, NumWord, Part};

/// Lowercases and folds `ё` to `е` (Russian writes both for the same letter).
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

/// The kind of a piece of the input text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// Letters.
    Word,
    /// ASCII digits.
    Digits,
    /// Whitespace.
    Space,
    /// Anything else (punctuation, `№`, `-`).
    Punct,
}

/// A piece of the input text, as a byte range of it.
#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: TokKind,
    start: usize,
    end: usize,
}

fn kind_of(c: char) -> TokKind {
    if c.is_ascii_digit() {
        TokKind::Digits
    } else if c.is_alphabetic() {
        TokKind::Word
    } else if c.is_whitespace() {
        TokKind::Space
    } else {
        TokKind::Punct
    }
}

fn tokenize(text: &str) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::new();
    for (i, c) in text.char_indices() {
        let kind = kind_of(c);
        let end = i + c.len_utf8();
        match out.last_mut() {
            Some(last) if last.kind == kind => last.end = end,
            _ => out.push(Tok {
                kind,
                start: i,
                end,
            }),
        }
    }
    out
}

/// A scanned item: a number (possibly spanning several tokens) or a plain token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Item {
    /// A number; `start..end` is the byte range it replaced.
    Num {
        value: u32,
        ordinal: bool,
        start: usize,
        end: usize,
    },
    /// A word (folded), digits that are not a number we take, space or punctuation.
    Tok {
        kind: TokKind,
        folded: String,
        start: usize,
        end: usize,
    },
}

/// Accumulates one compound numeral.
struct Acc {
    total: u32,
    group: u32,
    /// Rank of the last part: 5 nothing yet, 4 after тысяча, 3 hundreds, 2 tens, 1 units, 0 closed.
    rank: u8,
    any: bool,
}

impl Acc {
    fn new() -> Self {
        Acc {
            total: 0,
            group: 0,
            rank: 5,
            any: false,
        }
    }

    /// Adds a part if it may follow what came before; `false` ends the numeral before it.
    fn push(&mut self, part: Part) -> bool {
        let (ok, rank, add) = match part {
            Part::Unit(0) => (!self.any, 0, 0),
            Part::Unit(v) => (self.rank > 1, 1, v),
            Part::Teen(v) => (self.rank > 2, 1, v),
            Part::Ten(v) => (self.rank > 2, 2, v),
            Part::Hundred(v) => (self.rank > 3, 3, v),
            Part::Thousand(0) => {
                if self.total != 0 || self.rank == 0 {
                    return false;
                }
                let mult = if self.any { self.group } else { 1 };
                let Some(t) = mult.checked_mul(1000) else {
                    return false;
                };
                self.total = t;
                self.group = 0;
                self.rank = 4;
                self.any = true;
                return true;
            }
            Part::Thousand(m) => {
                if self.any {
                    return false;
                }
                self.total = m * 1000;
                self.rank = 4;
                self.any = true;
                return true;
            }
        };
        if !ok {
            return false;
        }
        self.group += add;
        self.rank = rank;
        self.any = true;
        true
    }

    fn value(&self) -> u32 {
        self.total + self.group
    }
}

/// Splits `text` into numbers and other tokens. Digits longer than 9 characters stay text.
pub(crate) fn scan(text: &str) -> Vec<Item> {
    let toks = tokenize(text);
    let words: Vec<Option<NumWord>> = toks
        .iter()
        .map(|t| match t.kind {
            TokKind::Word => table().get(&fold(&text[t.start..t.end])).copied(),
            _ => None,
        })
        .collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        let mut acc = Acc::new();
        let mut last = None;
        let mut ordinal = false;
        let mut started = false;
        if t.kind == TokKind::Digits && t.end - t.start <= 9 {
            if let Ok(v) = text[t.start..t.end].parse::<u32>() {
                acc.group = v;
                acc.any = true;
                acc.rank = 1;
                last = Some(i);
                started = true;
            }
        } else if let Some(w) = words[i] {
            if acc.push(w.part) {
                last = Some(i);
                ordinal = w.ordinal;
                started = true;
            }
        }
        if !started {
            items.push(Item::Tok {
                kind: t.kind,
                folded: fold(&text[t.start..t.end]),
                start: t.start,
                end: t.end,
            });
            i += 1;
            continue;
        }
        let from_digits = t.kind == TokKind::Digits;
        // Extend over `space word` pairs while the words continue the numeral.
        let mut j = i + 1;
        while !ordinal && j + 1 < toks.len() && toks[j].kind == TokKind::Space {
            let Some(w) = words[j + 1] else { break };
            // After bare digits only `тысяч…` may follow («2 тысячи 24»).
            if from_digits && acc.total == 0 && !matches!(w.part, Part::Thousand(0)) {
                break;
            }
            if !acc.push(w.part) {
                break;
            }
            ordinal = w.ordinal;
            last = Some(j + 1);
            j += 2;
        }
        let end_idx = last.unwrap_or(i);
        items.push(Item::Num {
            value: acc.value(),
            ordinal,
            start: t.start,
            end: toks[end_idx].end,
        });
        i = end_idx + 1;
    }
    items
}

/// Replaces number words in a recognised utterance with digits, keeping everything else
/// (case, punctuation, other words) as it was.
///
/// «Дом пять, корпус два.» → «Дом 5, корпус 2.»; «сто двадцать третья квартира» →
/// «123 квартира»; «две тысячи двадцать четвёртый» → «2024». Digits already present are
/// kept as written.
pub fn normalize_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for item in scan(text) {
        match item {
            Item::Num { value, .. } => out.push_str(&value.to_string()),
            Item::Tok { start, end, .. } => out.push_str(&text[start..end]),
        }
    }
    out
}

/// The first number in `text`, spoken or written in digits: «двенадцать» → 12,
/// «Квартира 12.» → 12, «двух» → 2. `None` when there is none.
pub fn parse_number(text: &str) -> Option<u32> {
    scan(text).into_iter().find_map(|i| match i {
        Item::Num { value, .. } => Some(value),
        Item::Tok { .. } => None,
    })
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

/// Reads the letter after the number at `items[i]`: `12а`, `12 а`, `12-а`, `12А`,
/// «двенадцать бэ». Returns the letter and the index after it.
///
/// The bare letter «а» is also the conjunction "and/but", so it is taken only at the end
/// of the utterance or before punctuation.
fn letter_after(items: &[Item], i: usize) -> Option<(char, usize)> {
    let mut k = i + 1;
    while let Some(Item::Tok { kind, folded, .. }) = items.get(k) {
        let is_gap = *kind == TokKind::Space || (*kind == TokKind::Punct && folded == "-");
        if !is_gap || k > i + 3 {
            break;
        }
        k += 1;
    }
    let Some(Item::Tok {
        kind: TokKind::Word,
        folded,
        ..
    }) = items.get(k)
    else {
        return None;
    };
    let c = suffix_letter(folded)?;
    if c == 'а' && folded != "a" {
        let next_is_word = items[k + 1..]
            .iter()
            .find(|it| {
                !matches!(
                    it,
                    Item::Tok {
                        kind: TokKind::Space,
                        ..
                    }
                )
            })
            .is_some_and(|it| {
                !matches!(
                    it,
                    Item::Tok {
                        kind: TokKind::Punct,
                        ..
                    }
                )
            });
        if next_is_word {
            return None;
        }
    }
    Some((c, k + 1))
}

/// Index of the first word starting with one of `keys` (`квартир…`; a key ending in `=`
/// must match the whole word), if any.
fn keyword_index(items: &[Item], keys: &[&str]) -> Option<usize> {
    items.iter().position(|it| match it {
        Item::Tok {
            kind: TokKind::Word,
            folded,
            ..
        } => keys.iter().any(|k| {
            k.strip_suffix('=')
                .map_or_else(|| folded.starts_with(k), |exact| folded == exact)
        }),
        _ => false,
    })
}

/// The number after the keyword at `key` (or, failing that, the last one before it, as in
/// «в двенадцатой квартире»); without a keyword, the first number.
fn num_near_keyword(items: &[Item], key: Option<usize>) -> Option<(usize, u32)> {
    let Some(k) = key else {
        return first_num_from(items, 0);
    };
    first_num_from(items, k).or_else(|| {
        items[..k]
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, it)| match it {
                Item::Num { value, .. } => Some((i, *value)),
                _ => None,
            })
    })
}

fn first_num_from(items: &[Item], from: usize) -> Option<(usize, u32)> {
    items
        .iter()
        .enumerate()
        .skip(from)
        .find_map(|(i, it)| match it {
            Item::Num { value, .. } => Some((i, *value)),
            _ => None,
        })
}

/// The apartment number in an utterance, with its letter: «двенадцать а» → `12а`,
/// «квартира 12», «12-А», «сто двадцать третья» → `123`.
///
/// When the utterance names a `квартира` (or `кв`), the number after it is taken («дом
/// пять квартира двенадцать» → `12`), or else the one just before it («в двенадцатой
/// квартире»); otherwise the first number. `None` when there is no
/// number, or it is 0 or above 99 999.
pub fn parse_apartment(text: &str) -> Option<String> {
    let items = scan(text);
    let key = keyword_index(&items, &["квартир", "кв="]);
    let (i, value) = num_near_keyword(&items, key)?;
    if value == 0 || value > 99_999 {
        return None;
    }
    let mut out = value.to_string();
    if let Some((c, _)) = letter_after(&items, i) {
        out.push(c);
    }
    Some(out)
}

/// The house number in an utterance, in a canonical form used to compare houses:
/// «дом пять корпус два» → `5 корпус 2`, «5к2» → `5 корпус 2`, «дом 12 а» → `12а`,
/// «пять дробь два» → `5/2`, «дом семь строение один» → `7 строение 1`.
///
/// Takes the number after `дом`/`д` when present, else the first number. `None` when there
/// is no number or it is 0. Apply it to the configured house too to compare the two.
pub fn parse_house(text: &str) -> Option<String> {
    let items = scan(text);
    let key = keyword_index(&items, &["дом", "д="]);
    let (i, value) = num_near_keyword(&items, key)?;
    if value == 0 {
        return None;
    }
    let mut out = value.to_string();
    let mut next = i + 1;
    if let Some((c, after)) = letter_after(&items, i) {
        out.push(c);
        next = after;
    }
    // An optional `корпус N` / `строение N` / `дробь N` / `/N`.
    let rest: Vec<&Item> = items[next..]
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
        .take(2)
        .collect();
    if let [Item::Tok { folded, .. }, Item::Num { value: n, .. }] = rest.as_slice() {
        let joiner = match folded.as_str() {
            "корпус" | "корп" | "к" | "корпуса" => Some(" корпус "),
            "строение" | "стр" | "с" | "строения" => Some(" строение "),
            "дробь" | "/" => Some("/"),
            _ => None,
        };
        if let Some(j) = joiner {
            out.push_str(j);
            out.push_str(&n.to_string());
        }
    }
    Some(out)
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
