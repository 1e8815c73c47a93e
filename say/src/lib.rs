//! zvonar-say: Russian text normalisation before synthesis: every text the robot says goes through
//! [`normalize`] (or [`pieces`]) before any TTS engine sees it, so engines get words, not
//! digits and abbreviations.
//!
//! - Numbers in the case and gender their context asks for: «дом 22» → «дом двадцать два»
//!   (a label: nominative), «1 заявка» → «одна заявка», «2 заявки» → «две заявки», «до 18
//!   часов» and «до 18:00» → «до восемнадцати часов», «с 9:30» → «с девяти тридцати», «25
//!   ноября» → «двадцать пятого ноября», «в 2026 году» → «в две тысячи двадцать шестом
//!   году», «на 5 этаже» → «на пятом этаже», «3-я» → «третья».
//! - Abbreviations: «ул.», «д.», «кв.», «пр-т», «корп.», «стр.», «пер.», «б-р», declined
//!   after a preposition («на ул. Ленина» → «на улице Ленина»); «руб.», «р.», «₽», «коп.»,
//!   «ч.», «мин.», «%» in agreement with the number («2 ч.» → «два часа»).
//! - Ticket, account and phone numbers (after «номер», «заявка», «№», «телефон», «счёт», a
//!   `+`, or written with hyphens «12-345») in groups of 2–3 digits: «Номер заявки: 12345»
//!   → «Номер заявки: двенадцать, триста сорок пять».
//! - Money: «1 234,56 руб.» → «тысяча двести тридцать четыре рубля пятьдесят шесть копеек».
//! - [`values`]: money in kopecks, dates and months of a year spoken from data (templates).
//!
//! [`pieces`] returns the same reading split into fixed text and number parts, so that a
//! phrase can be assembled from cached pieces (zvonar-voice's `phrase` module).
//!
//! The crate has no dependencies, so that the robot's logic (zvonar-dialplan: numbers read
//! back to the caller) and outbound message templates can speak numbers without the speech engines.

mod lexicon;
pub mod numbers;
#[cfg(test)]
mod tests;
pub mod values;

use lexicon::{Governs, Label};
use numbers::{agree, cardinal, ordinal, split_groups, Case, Gender, NounForms};

/// A part of a normalised phrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Text as it is spoken (words and punctuation, no digits).
    Text(String),
    /// A number read out as words.
    Number(SpokenNumber),
}

/// A number as words, with what a clip player needs to know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpokenNumber {
    /// The words: «двадцать пятого», «триста сорок пять».
    pub words: String,
    /// For a group of a ticket or phone number, its digits (`"05"`, `"345"`): a player
    /// without clips for the words may read them one by one instead.
    pub group: Option<String>,
}

/// The normalised text: [`pieces`] joined. Idempotent (its output has no digits left to
/// read, except inside Latin words).
pub fn normalize(text: &str) -> String {
    let mut s = String::new();
    for p in pieces(text) {
        match p {
            Piece::Text(t) => s.push_str(&t),
            Piece::Number(n) => s.push_str(&n.words),
        }
    }
    s
}

/// `text` normalised (see the [module docs](self)) as a list of text and number pieces,
/// in order; adjacent text is merged, so pieces alternate.
pub fn pieces(text: &str) -> Vec<Piece> {
    let toks = tokenize(text);
    let mut n = Normaliser {
        toks: &toks,
        out: Vec::new(),
        last_word: None,
        phone: false,
    };
    n.run();
    n.out
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Num(String),
    Space(String),
    Punct(char),
}

fn tokenize(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_ascii_digit() {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            toks.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() {
            // Letters, with inner hyphens between letters («пр-т», «Ростов-на-Дону»).
            while i < chars.len()
                && (chars[i].is_alphabetic()
                    || (chars[i] == '-'
                        && i > start
                        && chars[i - 1].is_alphabetic()
                        && chars.get(i + 1).is_some_and(|c| c.is_alphabetic())))
            {
                i += 1;
            }
            toks.push(Tok::Word(chars[start..i].iter().collect()));
        } else if c.is_whitespace() {
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            toks.push(Tok::Space(chars[start..i].iter().collect()));
        } else {
            toks.push(Tok::Punct(c));
            i += 1;
        }
    }
    toks
}

fn lower(w: &str) -> String {
    w.to_lowercase()
}

fn capitalise_like(word: &str, like: &str) -> String {
    if like.chars().next().is_some_and(char::is_uppercase) {
        let mut c = word.chars();
        match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => String::new(),
        }
    } else {
        word.to_string()
    }
}

const DASHES: [char; 3] = ['-', '–', '—'];

struct Normaliser<'a> {
    toks: &'a [Tok],
    out: Vec<Piece>,
    /// The last word said (lowercase, abbreviations expanded) since punctuation that
    /// breaks the context; labels and prepositions before a number are read from it.
    last_word: Option<String>,
    /// A `+` came just before: the number is a phone number.
    phone: bool,
}

impl Normaliser<'_> {
    fn tok(&self, i: usize) -> Option<&Tok> {
        self.toks.get(i)
    }

    fn num_at(&self, i: usize) -> Option<&str> {
        match self.toks.get(i) {
            Some(Tok::Num(d)) => Some(d),
            _ => None,
        }
    }

    fn punct_at(&self, i: usize, c: char) -> bool {
        self.toks.get(i) == Some(&Tok::Punct(c))
    }

    fn space_at(&self, i: usize) -> bool {
        matches!(self.toks.get(i), Some(Tok::Space(_)))
    }

    fn text(&mut self, s: &str) {
        if let Some(Piece::Text(t)) = self.out.last_mut() {
            t.push_str(s);
        } else {
            self.out.push(Piece::Text(s.to_string()));
        }
    }

    fn number(&mut self, words: String, group: Option<String>) {
        if words.is_empty() {
            return;
        }
        self.out.push(Piece::Number(SpokenNumber { words, group }));
    }

    /// Words said as text inside a number reading («часов», «ноября»), separated by a space.
    fn word_after(&mut self, w: &str) {
        self.text(" ");
        self.text(w);
    }

    fn run(&mut self) {
        let mut i = 0;
        while i < self.toks.len() {
            i = match self.toks[i].clone() {
                Tok::Space(s) => {
                    self.text(&s);
                    i + 1
                }
                Tok::Word(w) => self.word(i, &w),
                Tok::Num(_) => {
                    let next = self.number_at(i);
                    self.phone = false;
                    self.last_word = None;
                    next
                }
                Tok::Punct('№') => {
                    self.text(if self.space_at(i + 1) {
                        "номер"
                    } else {
                        "номер "
                    });
                    self.last_word = Some("номер".into());
                    i + 1
                }
                Tok::Punct('+') if self.num_at(i + 1).is_some() => {
                    self.text("плюс ");
                    self.phone = true;
                    i + 1
                }
                Tok::Punct(c) => {
                    let mut s = [0u8; 4];
                    self.text(c.encode_utf8(&mut s));
                    if c != ':' {
                        self.last_word = None;
                    }
                    i + 1
                }
            };
        }
    }

    /// The case a preposition just before asks for, if any.
    fn governed(&self) -> Option<Governs> {
        self.last_word.as_deref().and_then(lexicon::preposition)
    }

    fn label(&self) -> Option<Label> {
        self.last_word.as_deref().and_then(lexicon::label)
    }

    /// A word: abbreviations expanded, others kept.
    fn word(&mut self, i: usize, w: &str) -> usize {
        let lw = lower(w);
        // «т. е.», «т.д.»
        if lw.chars().count() == 1 && self.punct_at(i + 1, '.') {
            let mut j = i + 2;
            if self.space_at(j) {
                j += 1;
            }
            if let Some(Tok::Word(w2)) = self.tok(j) {
                let l2 = lower(w2);
                if self.punct_at(j + 1, '.') {
                    if let Some(p) = lexicon::phrase_abbreviation(&[lw.as_str(), l2.as_str()]) {
                        self.text(p);
                        self.last_word = None;
                        return j + 2;
                    }
                }
            }
        }
        let dotted = self.punct_at(i + 1, '.');
        if let Some(forms) = lexicon::place_abbreviation(&lw) {
            if dotted || !lexicon::needs_dot(&lw) {
                let case = match self.governed() {
                    Some(Governs::AccOrPrep) => Case::Prep,
                    Some(Governs::Case(c)) => c,
                    None => Case::Nom,
                };
                let word = forms.sg[case_index(case)];
                self.text(&capitalise_like(word, w));
                self.last_word = Some(forms.sg[0].to_string());
                return if dotted { i + 2 } else { i + 1 };
            }
        }
        self.text(w);
        self.last_word = Some(lw);
        i + 1
    }

    /// Reads the number at `i` and what belongs to it; returns the next token index.
    fn number_at(&mut self, i: usize) -> usize {
        let Some(d) = self.num_at(i).map(str::to_string) else {
            return i + 1;
        };
        if let Some(next) = self.time(i, &d) {
            return next;
        }
        if let Some(next) = self.date(i, &d) {
            return next;
        }
        if let Some(next) = self.ordinal_suffix(i, &d) {
            return next;
        }
        let label = self.label();
        if self.phone || label == Some(Label::Code) {
            return self.code(i, &d);
        }
        if let Some(next) = self.hyphen_groups(i, &d) {
            return next;
        }
        if label == Some(Label::Name) {
            return self.name(i, &d);
        }
        // Thousands written with spaces: «1 000», «25 000 руб.».
        let (digits, j) = self.thousands(i, &d);
        if digits.len() > 1 && digits.starts_with('0') || digits.len() >= 8 {
            return self.groups_then(&digits, j);
        }
        let Ok(n) = digits.parse::<u64>() else {
            return self.groups_then(&digits, j);
        };
        if let Some(next) = self.fraction_or_money(n, j) {
            return next;
        }
        if let Some(next) = self.range(n, j) {
            return next;
        }
        self.counted(n, j)
    }

    /// Digits `digits` read in groups; then the tokens from `j` go on as usual.
    fn groups_then(&mut self, digits: &str, j: usize) -> usize {
        self.read_groups(digits);
        j
    }

    fn read_groups(&mut self, digits: &str) {
        for (k, g) in split_groups(digits).into_iter().enumerate() {
            if k > 0 {
                self.text(", ");
            }
            self.number(numbers::group(g), Some(g.to_string()));
        }
    }

    /// A ticket, account or phone number: ≥ 4 digits in groups (hyphenated parts each as
    /// one group), shorter ones as a number.
    fn code(&mut self, i: usize, d: &str) -> usize {
        let mut parts = vec![d.to_string()];
        let mut j = i + 1;
        while DASHES.iter().any(|&c| self.punct_at(j, c)) {
            match self.num_at(j + 1) {
                Some(p) => {
                    parts.push(p.to_string());
                    j += 2;
                }
                None => break,
            }
        }
        if parts.len() > 1 {
            for (k, p) in parts.iter().enumerate() {
                if k > 0 {
                    self.text(", ");
                }
                self.read_groups(p);
            }
            return j;
        }
        if d.len() >= 4 || d.starts_with('0') {
            self.read_groups(d);
            return j;
        }
        self.name(i, d)
    }

    /// `12-345`, `123-45-67` outside a label: groups, unless it is a range before a noun
    /// (`5-7 минут`, handled by [`Self::range`]).
    fn hyphen_groups(&mut self, i: usize, d: &str) -> Option<usize> {
        if !(self.punct_at(i + 1, '-')) {
            return None;
        }
        let second = self.num_at(i + 2)?;
        let total = d.len() + second.len();
        let chained = self.punct_at(i + 3, '-') && self.num_at(i + 4).is_some();
        if !(chained || (total >= 5 && second.len() >= 2)) {
            return None;
        }
        // «100-150 рублей» is a range.
        if !chained {
            if let Some((_, _, lw)) = self.next_word(i + 3) {
                if lexicon::counted(&lw).is_some() || lexicon::counted_abbreviation(&lw).is_some() {
                    return None;
                }
            }
        }
        Some(self.code(i, d))
    }

    /// A name after a label: nominative cardinal, with a letter («12а»), a building
    /// («12к2», «12 корп. 2» is read word by word) or a fraction («12/1»).
    fn name(&mut self, i: usize, d: &str) -> usize {
        let n: u64 = d.parse().unwrap_or(0);
        if d.len() > 1 && d.starts_with('0') {
            self.read_groups(d);
        } else {
            self.number(cardinal(n, Case::Nom, Gender::Masc), None);
        }
        let mut j = i + 1;
        // «12а», «12к2», «12с1»
        if let Some(Tok::Word(w)) = self.tok(j) {
            let lw = lower(w);
            let mut cs = lw.chars();
            if let (Some(c), None) = (cs.next(), cs.next()) {
                if let Some(num) = self.num_at(j + 1) {
                    let joiner = match c {
                        'к' => Some("корпус"),
                        'с' => Some("строение"),
                        _ => None,
                    };
                    if let Some(joiner) = joiner {
                        let m: u64 = num.parse().unwrap_or(0);
                        self.word_after(joiner);
                        self.text(" ");
                        self.number(cardinal(m, Case::Nom, Gender::Masc), None);
                        return j + 2;
                    }
                }
                if let Some(name) = lexicon::letter_name(c) {
                    self.word_after(name);
                    j += 1;
                }
            }
        }
        // «12/1»
        if self.punct_at(j, '/') {
            if let Some(num) = self.num_at(j + 1) {
                let m: u64 = num.parse().unwrap_or(0);
                self.word_after("дробь");
                self.text(" ");
                self.number(cardinal(m, Case::Nom, Gender::Masc), None);
                return j + 2;
            }
        }
        j
    }

    /// Merges `1 000 000` into one number unless the digits go on as a phone number
    /// (`8 800 555-35-35`). Returns the digits and the next token index.
    fn thousands(&self, i: usize, d: &str) -> (String, usize) {
        let mut digits = d.to_string();
        let mut j = i + 1;
        if d.len() > 3 {
            return (digits, j);
        }
        while let (Some(Tok::Space(s)), Some(next)) = (self.tok(j), self.num_at(j + 1)) {
            if s.chars().count() != 1 || next.len() != 3 {
                break;
            }
            digits.push_str(next);
            j += 2;
        }
        let goes_on = (self.punct_at(j, '-') || self.space_at(j)) && self.num_at(j + 1).is_some();
        if j > i + 1 && goes_on {
            return (d.to_string(), i + 1);
        }
        (digits, j)
    }

    /// The next word after `j` (spaces skipped), its index and lowercase form.
    fn next_word(&self, j: usize) -> Option<(usize, String, String)> {
        let k = if self.space_at(j) { j + 1 } else { j };
        match self.tok(k) {
            Some(Tok::Word(w)) => Some((k, w.clone(), lower(w))),
            Some(Tok::Punct(c @ ('₽' | '%'))) => Some((k, c.to_string(), c.to_string())),
            _ => None,
        }
    }

    fn case_here(&self, prep_reading: bool) -> Case {
        match self.governed() {
            Some(Governs::Case(c)) => c,
            Some(Governs::AccOrPrep) if prep_reading => Case::Prep,
            Some(Governs::AccOrPrep) => Case::Acc,
            None => Case::Nom,
        }
    }

    /// `H:MM` (optionally a range `9:00-18:00`): «восемнадцать часов», «девять тридцать».
    fn time(&mut self, i: usize, d: &str) -> Option<usize> {
        let (h, m, next) = self.time_at(i, d)?;
        let mut case = self.case_here(false);
        // A range without a preposition: «с 9:00 до 18:00».
        let mut k = next;
        if self.space_at(k) {
            k += 1;
        }
        let range_end = if DASHES.iter().any(|&c| self.punct_at(k, c)) {
            let mut k2 = k + 1;
            if self.space_at(k2) {
                k2 += 1;
            }
            self.num_at(k2)
                .map(str::to_string)
                .and_then(|d2| self.time_at(k2, &d2))
        } else {
            None
        };
        if let Some((h2, m2, after)) = range_end {
            if self.governed().is_none() {
                self.text("с ");
                case = Case::Gen;
            }
            self.say_time(h, m, case);
            self.text(" до ");
            self.say_time(h2, m2, Case::Gen);
            return Some(after);
        }
        self.say_time(h, m, case);
        Some(next)
    }

    fn time_at(&self, i: usize, d: &str) -> Option<(u64, u64, usize)> {
        if !self.punct_at(i + 1, ':') {
            return None;
        }
        let mm = self.num_at(i + 2)?;
        if mm.len() != 2 || d.len() > 2 {
            return None;
        }
        let h: u64 = d.parse().ok()?;
        let m: u64 = mm.parse().ok()?;
        (h <= 24 && m <= 59).then_some((h, m, i + 3))
    }

    fn say_time(&mut self, h: u64, m: u64, case: Case) {
        self.number(cardinal(h, case, Gender::Masc), None);
        if m == 0 {
            self.word_after(agree(h, case, &lexicon::HOUR));
        } else {
            self.text(" ");
            if m < 10 {
                self.number(format!("ноль {}", cardinal(m, case, Gender::Fem)), None);
            } else {
                self.number(cardinal(m, case, Gender::Fem), None);
            }
        }
    }

    /// `DD.MM.YYYY`: «двадцать пятого ноября две тысячи двадцать шестого года».
    fn date(&mut self, i: usize, d: &str) -> Option<usize> {
        if !self.punct_at(i + 1, '.') || !self.punct_at(i + 3, '.') {
            return None;
        }
        let mm = self.num_at(i + 2)?;
        let yy = self.num_at(i + 4)?;
        let day: u64 = d.parse().ok()?;
        let month: usize = mm.parse().ok()?;
        if d.len() > 2 || mm.len() != 2 || !(1..=31).contains(&day) || !(1..=12).contains(&month) {
            return None;
        }
        if yy.len() != 4 && yy.len() != 2 {
            return None;
        }
        let year: u64 = yy.parse().ok()?;
        let year = if yy.len() == 2 { 2000 + year } else { year };
        let case = self.date_case();
        self.number(ordinal(day, case, Gender::Neut), None);
        self.word_after(values::MONTHS[month - 1]);
        self.text(" ");
        self.number(ordinal(year, Case::Gen, Gender::Masc), None);
        self.word_after("года");
        let mut j = i + 5;
        // «25.11.2026 г.»
        let k = if self.space_at(j) { j + 1 } else { j };
        if let Some(Tok::Word(w)) = self.tok(k) {
            if lower(w) == "г" && self.punct_at(k + 1, '.') {
                j = k + 2;
            }
        }
        Some(j)
    }

    fn date_case(&self) -> Case {
        match self.last_word.as_deref() {
            Some("к" | "ко") => Case::Dat,
            Some("по" | "на") => Case::Acc,
            _ => Case::Gen,
        }
    }

    /// `5-й`, `3-я`, `25-го`: an ordinal in the form the ending shows.
    fn ordinal_suffix(&mut self, i: usize, d: &str) -> Option<usize> {
        if !self.punct_at(i + 1, '-') {
            return None;
        }
        let Some(Tok::Word(w)) = self.tok(i + 2) else {
            return None;
        };
        let n: u64 = d.parse().ok()?;
        let in_prep = matches!(
            self.last_word.as_deref(),
            Some("в" | "во" | "на" | "о" | "об" | "при")
        );
        let stressed = {
            let l = n % 100;
            matches!(l % 10, 2 | 6 | 7 | 8) && !(12..=18).contains(&l) || l == 40 || n == 0
        };
        let (case, gender) = match lower(w).as_str() {
            "й" | "ый" | "ий" => (Case::Nom, Gender::Masc),
            "ой" if stressed => (Case::Nom, Gender::Masc),
            "ой" => (Case::Gen, Gender::Fem),
            "я" | "ая" | "яя" => (Case::Nom, Gender::Fem),
            "ю" | "ую" => (Case::Acc, Gender::Fem),
            "е" | "ое" | "ее" => (Case::Nom, Gender::Neut),
            "го" | "ого" | "его" => (Case::Gen, Gender::Masc),
            "му" | "ому" | "ему" => (Case::Dat, Gender::Masc),
            "м" | "ым" | "ом" | "им" if in_prep => (Case::Prep, Gender::Masc),
            "м" | "ым" | "им" => (Case::Ins, Gender::Masc),
            "ом" => (Case::Prep, Gender::Masc),
            "х" | "ых" | "их" => (Case::Gen, Gender::Plural),
            "ми" | "ыми" | "ими" => (Case::Ins, Gender::Plural),
            _ => return None,
        };
        self.number(ordinal(n, case, gender), None);
        Some(i + 3)
    }

    /// `2,5` and money with kopecks (`1 234,56 руб.`, `99.90 ₽`).
    fn fraction_or_money(&mut self, n: u64, j: usize) -> Option<usize> {
        let sep_comma = self.punct_at(j, ',');
        if !(sep_comma || self.punct_at(j, '.')) {
            return None;
        }
        let frac = self.num_at(j + 1)?.to_string();
        let after = j + 2;
        if let Some((k, _, lw)) = self.next_word(after) {
            if matches!(
                lw.as_str(),
                "руб" | "р" | "₽" | "рублей" | "рубля" | "рубль"
            ) && frac.len() <= 2
            {
                let kop: u64 = format!("{frac:0<2}").parse().ok()?;
                let case = self.case_here(false);
                self.number(cardinal(n, case, Gender::Masc), None);
                self.word_after(agree(n, case, &lexicon::RUBLE));
                self.text(" ");
                self.number(cardinal(kop, case, Gender::Fem), None);
                self.word_after(agree(kop, case, &lexicon::KOPECK));
                let end = if self.punct_at(k + 1, '.') && lw != "₽" {
                    k + 2
                } else {
                    k + 1
                };
                return Some(end);
            }
        }
        if !sep_comma || frac.len() > 3 {
            return None;
        }
        // «2,5» → «две целых пять десятых»
        let case = self.case_here(false);
        let f: u64 = frac.parse().ok()?;
        let whole = agree_fraction(n, case, &WHOLE);
        let denom = match frac.len() {
            1 => &TENTH,
            2 => &HUNDREDTH,
            _ => &THOUSANDTH,
        };
        self.number(cardinal(n, case, Gender::Fem), None);
        self.word_after(whole);
        self.text(" ");
        self.number(cardinal(f, case, Gender::Fem), None);
        self.word_after(agree_fraction(f, case, denom));
        Some(after)
    }

    /// `5-7 минут`: both numbers agree with the noun.
    fn range(&mut self, n: u64, j: usize) -> Option<usize> {
        if !DASHES.iter().any(|&c| self.punct_at(j, c)) {
            return None;
        }
        let m: u64 = self.num_at(j + 1)?.parse().ok()?;
        let (_, _, lw) = self.next_word(j + 2)?;
        let noun = lexicon::counted(&lw).or_else(|| lexicon::counted_abbreviation(&lw))?;
        let case = self.case_here(false);
        self.number(cardinal(n, case, noun.gender), None);
        self.text(" — ");
        Some(self.counted(m, j + 2))
    }

    /// A number followed (or not) by what it counts or dates.
    fn counted(&mut self, n: u64, j: usize) -> usize {
        let Some((k, w, lw)) = self.next_word(j) else {
            let case = self.case_here(false);
            self.number(cardinal(n, case, Gender::Masc), None);
            return j;
        };
        // «25 ноября»
        if values::MONTHS.contains(&lw.as_str()) && (1..=31).contains(&n) {
            let case = self.date_case();
            self.number(ordinal(n, case, Gender::Neut), None);
            let gap = self.gap(j, k);
            self.text(&gap);
            self.text(&w);
            let mut end = k + 1;
            // «25 ноября 2026» / «25 ноября 2026 г.» / «… года»
            let year = self
                .num_at(end + 1)
                .filter(|y| y.len() == 4)
                .map(str::to_string);
            if let Some(year) = year.filter(|_| self.space_at(end)) {
                let y: u64 = year.parse().unwrap_or(0);
                self.text(" ");
                self.number(ordinal(y, Case::Gen, Gender::Masc), None);
                end += 2;
                if let Some((k2, _, l2)) = self.next_word(end) {
                    if l2 == "г" && self.punct_at(k2 + 1, '.') {
                        self.word_after("года");
                        end = k2 + 2;
                    }
                }
            }
            return end;
        }
        // «2 ч.», «150 руб.», «5%», «2026 г.»
        let abbreviation = lexicon::counted_abbreviation(&lw).filter(|_| {
            matches!(
                lw.as_str(),
                "₽" | "%" | "мин" | "руб" | "коп" | "сек" | "шт"
            ) || self.punct_at(k + 1, '.')
        });
        if let Some(noun) = abbreviation {
            let end = if self.punct_at(k + 1, '.') {
                k + 2
            } else {
                k + 1
            };
            let gap = self.gap(j, k);
            if noun.sg[0] == lexicon::YEAR.sg[0] {
                let case = match self.governed() {
                    Some(Governs::AccOrPrep) => Case::Prep,
                    Some(Governs::Case(c)) => c,
                    None => Case::Gen,
                };
                self.number(ordinal(n, case, Gender::Masc), None);
                self.text(if gap.is_empty() { " " } else { &gap });
                self.text(lexicon::YEAR.sg[case_index(case)]);
                return end;
            }
            let case = self.case_here(false);
            self.number(cardinal(n, case, noun.gender), None);
            self.text(if gap.is_empty() { " " } else { &gap });
            self.text(agree(n, case, noun));
            return end;
        }
        if lexicon::part_of_day(&lw) {
            let case = self.case_here(false);
            self.number(cardinal(n, case, Gender::Masc), None);
            return j;
        }
        if let Some(noun) = lexicon::counted(&lw) {
            self.agreeing(n, noun, &lw);
            return j;
        }
        let gender = if lexicon::function_word(&lw) || !w.chars().all(char::is_alphabetic) {
            Gender::Masc
        } else {
            lexicon::guess_gender(n, &lw)
        };
        let case = self.case_here(false);
        self.number(cardinal(n, case, gender), None);
        j
    }

    /// The text between tokens `j` and `k` (a space or nothing).
    fn gap(&self, j: usize, k: usize) -> String {
        (j..k)
            .filter_map(|t| match self.tok(t) {
                Some(Tok::Space(s)) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// `n` before a form `word` of `noun`: a cardinal when the form agrees with `n` in
    /// the case the context allows («до 18 часов»), else an ordinal in the form's case
    /// («на 5 этаже», «в 2026 году», «2026 года»).
    fn agreeing(&mut self, n: u64, noun: &NounForms, word: &str) {
        let word = word.to_string();
        let candidates: Vec<Case> = match self.governed() {
            Some(Governs::Case(c)) => vec![c],
            Some(Governs::AccOrPrep) => vec![Case::Acc, Case::Prep],
            None => vec![Case::Nom],
        };
        let same = |a: &str, b: &str| a.replace('ё', "е") == b.replace('ё', "е");
        let ordinal_only = noun.sg[0] == lexicon::DAY_OF_MONTH.sg[0];
        if !ordinal_only {
            for &c in &candidates {
                if same(agree(n, c, noun), &word) {
                    self.number(cardinal(n, c, noun.gender), None);
                    return;
                }
            }
        }
        let forms = lexicon::forms_of(noun, &word)
            .into_iter()
            .chain(lexicon::forms_of(noun, &word.replace('е', "ё")))
            .collect::<Vec<_>>();
        let pick = forms
            .iter()
            .find(|(c, _)| candidates.contains(c))
            .or_else(|| forms.first())
            .copied();
        match pick {
            Some((case, plural)) => {
                let g = if plural { Gender::Plural } else { noun.gender };
                self.number(ordinal(n, case, g), None);
            }
            None => {
                let case = self.case_here(false);
                self.number(cardinal(n, case, noun.gender), None);
            }
        }
    }
}

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

/// «целая/целых» as a counted noun (feminine adjective used as a noun).
const WHOLE: NounForms = NounForms {
    gender: Gender::Fem,
    sg: ["целая", "целой", "целой", "целую", "целой", "целой"],
    pl: ["целых", "целых", "целым", "целых", "целыми", "целых"],
};
const TENTH: NounForms = NounForms {
    gender: Gender::Fem,
    sg: [
        "десятая",
        "десятой",
        "десятой",
        "десятую",
        "десятой",
        "десятой",
    ],
    pl: [
        "десятых",
        "десятых",
        "десятым",
        "десятых",
        "десятыми",
        "десятых",
    ],
};
const HUNDREDTH: NounForms = NounForms {
    gender: Gender::Fem,
    sg: ["сотая", "сотой", "сотой", "сотую", "сотой", "сотой"],
    pl: ["сотых", "сотых", "сотым", "сотых", "сотыми", "сотых"],
};
const THOUSANDTH: NounForms = NounForms {
    gender: Gender::Fem,
    sg: [
        "тысячная",
        "тысячной",
        "тысячной",
        "тысячную",
        "тысячной",
        "тысячной",
    ],
    pl: [
        "тысячных",
        "тысячных",
        "тысячным",
        "тысячных",
        "тысячными",
        "тысячных",
    ],
};

/// Fractions take the genitive plural after 2–4 too («две целых», «три десятых»).
fn agree_fraction(n: u64, case: Case, noun: &NounForms) -> &'static str {
    let one = n % 10 == 1 && n % 100 != 11;
    if one {
        noun.sg[case_index(case)]
    } else if matches!(case, Case::Nom | Case::Acc) {
        noun.pl[case_index(Case::Gen)]
    } else {
        noun.pl[case_index(case)]
    }
}
