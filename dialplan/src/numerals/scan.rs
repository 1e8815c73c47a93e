//! Splitting a recognised utterance into numbers and other tokens.
//!
//! Whisper writes one spoken numeral in many ways: «сорок пять», `45`, `40 5`, `сорок 5`,
//! `Тысяча 178.`, `сто 23`, `1 000`, `1000-и`, `сорок-пять`, `123-я`. A numeral here is
//! a run of number words and digit groups whose place values fall (thousands, hundreds,
//! tens, units), separated by spaces or hyphens (and, when [`ScanOpts::join_punct`] is
//! set, by `,` `.` `…` followed by a space, which Whisper writes at a speaker's pause).
//! Parts that do not fall (`два три`, `12 5`, `20 13`, `6 45`) are separate numbers.

use super::fold;
use super::table::{fraction_word, grade_table, soundalike_table, table, NumWord, Part};

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

/// What [`scan`] recognises besides the ordinary number words.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ScanOpts {
    /// Words Whisper writes for a number word it misheard («Сим» for «семь»).
    pub soundalikes: bool,
    /// `,` `.` `…` followed by a space may sit inside a numeral («Тысяча, сто семьдесят
    /// восемь.»), when the parts fall in place value.
    pub join_punct: bool,
    /// Denominators of decimal fractions («десятых», «сотых», «тысячных») are not numbers.
    pub fractions: bool,
    /// School grades are numbers («пятёрка» = 5, «на четвёрку» = 4).
    pub grades: bool,
}

/// A scanned item: a number (possibly spanning several tokens) or a plain token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Item {
    /// A number; `start..end` is the byte range it replaced.
    Num {
        value: u32,
        ordinal: bool,
        /// The whole numeral is one group of digits (its text keeps leading zeros: `05`).
        digits_only: bool,
        /// A word of it is a [`ScanOpts::soundalikes`] word.
        soundalike: bool,
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
#[derive(Clone, Copy, Debug)]
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

    /// The state after a group of digits written as `v` (`170` ends in the tens, so a
    /// unit may follow: `170 9` = 179; `1000` ends in the thousands: `1000 178` = 1178).
    /// `closed` (a leading zero, `0`, `05`) takes nothing after it.
    fn from_digits(v: u32, closed: bool) -> Self {
        let group = v % 1000;
        let rank = if closed || v == 0 {
            0
        } else if group == 0 {
            4
        } else if group % 100 == 0 {
            3
        } else if group % 10 == 0 && group % 100 >= 20 {
            2
        } else {
            1
        };
        Acc {
            total: v - group,
            group,
            rank,
            any: true,
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

    /// Adds a group of digits `1..=999` as its parts (`23` = twenty, three), all or none.
    fn push_digits(&mut self, v: u32) -> bool {
        if v == 0 || v > 999 {
            return false;
        }
        let mut next = *self;
        let (h, r) = (v / 100, v % 100);
        let mut parts = Vec::with_capacity(3);
        if h > 0 {
            parts.push(Part::Hundred(h * 100));
        }
        if (10..=19).contains(&r) {
            parts.push(Part::Teen(r));
        } else {
            if r >= 20 {
                parts.push(Part::Ten(r / 10 * 10));
            }
            if r % 10 > 0 {
                parts.push(Part::Unit(r % 10));
            }
        }
        if parts.into_iter().all(|p| next.push(p)) {
            *self = next;
            true
        } else {
            false
        }
    }

    fn value(&self) -> u32 {
        self.total + self.group
    }
}

/// Case endings written after digits with a hyphen: `1000-и`, `5-ти`, `2-х`, `123-я`,
/// `5-й`. Single letters that are apartment suffixes (`а`–`д`) are not endings.
/// Returns whether the ending makes an ordinal.
fn case_ending(w: &str) -> Option<bool> {
    const CARDINAL: &[&str] = &["и", "ти", "ть", "ми", "х", "ех", "ух", "м", "мя", "ью"];
    const ORDINAL: &[&str] = &[
        "й", "я", "е", "ю", "го", "му", "ый", "ий", "ой", "ая", "яя", "ое", "ее", "ого", "его",
        "ому", "ему", "ым", "им", "ом", "ем", "ую", "ья", "ье", "ьей", "ей", "ых", "их", "ые",
        "ие", "ыми", "ими",
    ];
    if CARDINAL.contains(&w) {
        Some(false)
    } else if ORDINAL.contains(&w) {
        Some(true)
    } else {
        None
    }
}

fn is_hyphen(s: &str) -> bool {
    matches!(s, "-" | "‐" | "‑" | "–")
}

/// Punctuation Whisper puts at a pause inside a numeral (with [`ScanOpts::join_punct`]).
fn is_pause_punct(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| matches!(c, ',' | '.' | '…'))
}

/// A single space character (as between digit groups: `1 000`, `12 345`).
fn is_group_space(s: &str) -> bool {
    matches!(s, " " | "\u{a0}" | "\u{202f}" | "\u{2009}")
}

/// Splits `text` into numbers and other tokens. Digits longer than 9 characters stay text.
pub(crate) fn scan(text: &str, opts: ScanOpts) -> Vec<Item> {
    let toks = tokenize(text);
    let s = |t: &Tok| &text[t.start..t.end];
    let words: Vec<Option<(NumWord, bool)>> = toks
        .iter()
        .map(|t| match t.kind {
            TokKind::Word => lookup(&fold(s(t)), opts),
            _ => None,
        })
        .collect();
    let digits = |t: &Tok| -> Option<(u32, bool)> {
        let d = s(t);
        if t.kind != TokKind::Digits || d.len() > 9 {
            return None;
        }
        let v = d.parse::<u32>().ok()?;
        Some((v, d.len() > 1 && d.starts_with('0')))
    };
    let mut items = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        let mut acc = Acc::new();
        let mut last = i;
        let mut ordinal = false;
        let mut soundalike = false;
        let mut started = false;
        let mut digits_only = false;
        if let Some((mut v, closed)) = digits(&t) {
            // Groups of thousands: `1 000`, `12 345`, `1 234 567`.
            let mut len = s(&t).len();
            while !closed
                && len <= 6
                && s(&t).len() <= 3
                && last + 2 < toks.len()
                && is_group_space(s(&toks[last + 1]))
                && toks[last + 2].kind == TokKind::Digits
                && s(&toks[last + 2]).len() == 3
            {
                let Some((g, _)) = digits(&toks[last + 2]) else {
                    break;
                };
                v = v * 1000 + g;
                len += 3;
                last += 2;
            }
            acc = Acc::from_digits(v, closed);
            digits_only = last == i;
            started = true;
        } else if let Some((w, sa)) = words[i] {
            if acc.push(w.part) {
                ordinal = w.ordinal;
                soundalike = sa;
                started = true;
            }
        }
        if !started {
            items.push(Item::Tok {
                kind: t.kind,
                folded: fold(s(&t)),
                start: t.start,
                end: t.end,
            });
            i += 1;
            continue;
        }
        // Extend over gaps (space, hyphen, pause punctuation) while the parts fall.
        loop {
            if ordinal {
                break;
            }
            let Some(k) = after_gap(&toks, text, last + 1, opts) else {
                break;
            };
            let nt = &toks[k];
            let ok = if let Some((w, sa)) = words[k] {
                let ok = acc.push(w.part);
                if ok {
                    ordinal = w.ordinal;
                    soundalike |= sa;
                }
                ok
            } else if let Some((v, false)) = digits(nt) {
                acc.push_digits(v)
            } else {
                false
            };
            if !ok {
                break;
            }
            digits_only = false;
            last = k;
        }
        // A case ending after digits: `1000-и`, `123-я`.
        if toks[last].kind == TokKind::Digits
            && last + 2 < toks.len()
            && is_hyphen(s(&toks[last + 1]))
            && toks[last + 2].kind == TokKind::Word
        {
            if let Some(ord) = case_ending(&fold(s(&toks[last + 2]))) {
                ordinal |= ord;
                last += 2;
                digits_only = false;
            }
        }
        items.push(Item::Num {
            value: acc.value(),
            ordinal,
            digits_only,
            soundalike,
            start: t.start,
            end: toks[last].end,
        });
        i = last + 1;
    }
    items
}

/// The index of the token after a gap that may sit inside a numeral, starting at `j`.
fn after_gap(toks: &[Tok], text: &str, mut j: usize, opts: ScanOpts) -> Option<usize> {
    let s = |t: &Tok| &text[t.start..t.end];
    let mut spaces = 0;
    let mut seen_punct = false;
    let first = j;
    while let Some(t) = toks.get(j) {
        match t.kind {
            TokKind::Space if spaces < 2 => spaces += 1,
            TokKind::Punct if !seen_punct && is_hyphen(s(t)) => seen_punct = true,
            // `сто, двадцать`: the pause comes right after the word, then a space.
            TokKind::Punct
                if !seen_punct && opts.join_punct && j == first && is_pause_punct(s(t)) =>
            {
                let followed_by_space = toks.get(j + 1).is_some_and(|n| n.kind == TokKind::Space);
                if !followed_by_space {
                    return None;
                }
                seen_punct = true;
            }
            TokKind::Word | TokKind::Digits => {
                return (j > first).then_some(j);
            }
            _ => return None,
        }
        j += 1;
    }
    None
}

/// The number word `w` (folded) stands for, and whether it is a sound-alike.
fn lookup(w: &str, opts: ScanOpts) -> Option<(NumWord, bool)> {
    if opts.fractions && fraction_word(w).is_some() {
        return None;
    }
    if let Some(n) = table().get(w) {
        return Some((*n, false));
    }
    if opts.grades {
        if let Some(n) = grade_table().get(w) {
            return Some((*n, false));
        }
    }
    if opts.soundalikes {
        if let Some(n) = soundalike_table().get(w) {
            return Some((*n, true));
        }
    }
    None
}
