//! Number slots (the apartment): the registry check with the nearest plausible value, and the
//! words a number is read back in. Whether an utterance is a number answer at all is
//! [`crate::numerals::parse_number_answer`]'s to say.
//!
//! **Plausible** (how Whisper mishears a spoken Russian number, from the failures of issue 6:
//! «сто семьдесят девять» → `170`, «сто девяносто девять» → `100`, «сорок пять» → `40`,
//! «тысяча сто семьдесят восемь» → `1000`): a number is said as its words — thousands,
//! hundreds, tens or a teen, units (179 = сто · семьдесят · девять). A registry value is a
//! plausible reading of a heard one when the heard words are the registry value's words with
//! some dropped (at most two: 170 → 179, 100 → 199), or with one word replaced (175 → 179)
//! or one word added (45 → 40). The nearest plausible value has the fewest such word edits,
//! then the smallest difference, then is the smaller number. A letter (`12а`) that differs
//! or is missing counts as one more edit.

/// Most word edits between a heard number and a registry value that still count as plausible.
const MAX_EDITS: usize = 2;

use crate::numerals::spoken_parts;

/// The place of a word group: thousands, hundreds, tens or teens, units.
fn place(part: u32) -> u8 {
    match part {
        1000.. => 3,
        100..=999 => 2,
        10..=99 => 1,
        _ => 0,
    }
}

/// Whether `short` is `long` with some elements left out (in order).
fn is_subsequence(short: &[u32], long: &[u32]) -> bool {
    let mut it = long.iter();
    short.iter().all(|s| it.any(|l| l == s))
}

/// Word edits that turn the heard number into the registry value (see the module docs), or
/// `None` when it is not a plausible reading.
fn edits(heard: u32, value: u32) -> Option<usize> {
    let (h, v) = (spoken_parts(heard), spoken_parts(value));
    if h == v {
        return Some(0);
    }
    if h.len() < v.len() && is_subsequence(&h, &v) {
        return Some(v.len() - h.len());
    }
    // One word misheard as another of its place: семьдесят/восемьдесят, семьдесят/семнадцать.
    let differ: Vec<(&u32, &u32)> = h.iter().zip(&v).filter(|(a, b)| a != b).collect();
    if h.len() == v.len() && differ.len() == 1 && place(*differ[0].0) == place(*differ[0].1) {
        return Some(1);
    }
    if h.len() == v.len() + 1 && is_subsequence(&v, &h) {
        return Some(1);
    }
    None
}

/// An apartment as number and letter: `12а` → (12, Some('а')); `None` for `7/2` and the like.
fn split(apartment: &str) -> Option<(u32, Option<char>)> {
    let digits: String = apartment.chars().take_while(char::is_ascii_digit).collect();
    let rest: Vec<char> = apartment.chars().skip(digits.len()).collect();
    let n = digits.parse().ok()?;
    match rest.as_slice() {
        [] => Some((n, None)),
        [c] if c.is_alphabetic() => Some((n, Some(*c))),
        _ => None,
    }
}

/// Whether the registry list has `apartment` (both normalised as the registry writes them:
/// lowercase, no spaces).
pub(crate) fn in_registry(apartment: &str, registry: &[String]) -> bool {
    registry.iter().any(|a| a == apartment)
}

/// The registry value nearest to the heard `apartment` that is a plausible mishearing of it
/// (see the module docs), or `None` when there is none (or it was heard right).
pub(crate) fn nearest_plausible(apartment: &str, registry: &[String]) -> Option<String> {
    if in_registry(apartment, registry) {
        return None;
    }
    let (heard, heard_letter) = split(apartment)?;
    registry
        .iter()
        .filter_map(|a| {
            let (value, letter) = split(a)?;
            let cost = edits(heard, value)? + usize::from(letter != heard_letter);
            (cost <= MAX_EDITS).then_some((cost, heard.abs_diff(value), value, a))
        })
        .min()
        .map(|(_, _, _, a)| a.clone())
}

/// A number as it is read back, in Russian words (nominative, masculine): 179 → «сто
/// семьдесят девять», 1000 → «тысяча», 2004 → «две тысячи четыре», 0 → «ноль». The words are
/// zvonar-say's, the same the TTS normaliser speaks for digits.
pub fn number_words(n: u32) -> String {
    zvonar_say::numbers::cardinal(
        u64::from(n),
        zvonar_say::numbers::Case::Nom,
        zvonar_say::numbers::Gender::Masc,
    )
}

/// An apartment as it is read back: `179` → «сто семьдесят девять», `12а` → «двенадцать а»;
/// anything else (`7/2`) as written.
pub(crate) fn apartment_words(apartment: &str) -> String {
    match split(apartment) {
        Some((n, None)) => number_words(n),
        Some((n, Some(c))) => format!("{} {c}", number_words(n)),
        None => apartment.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn numbers_read_back_in_words() {
        for (n, w) in [
            (1, "один"),
            (12, "двенадцать"),
            (45, "сорок пять"),
            (100, "сто"),
            (179, "сто семьдесят девять"),
            (199, "сто девяносто девять"),
            (1000, "тысяча"),
            (1004, "тысяча четыре"),
            (1178, "тысяча сто семьдесят восемь"),
            (2000, "две тысячи"),
            (5012, "пять тысяч двенадцать"),
            (11_000, "одиннадцать тысяч"),
            (21_001, "двадцать одна тысяча один"),
        ] {
            assert_eq!(number_words(n), w, "{n}");
        }
        assert_eq!(apartment_words("12а"), "двенадцать а");
        assert_eq!(apartment_words("7/2"), "7/2");
    }

    #[test]
    fn the_nearest_plausible_registry_value() {
        // A building of apartments 101–120 and 171–180 and 199.
        let mut reg: Vec<String> = (101..=120)
            .chain(171..=180)
            .map(|n| n.to_string())
            .collect();
        reg.push("199".into());
        reg.push("12а".into());
        let cases = [
            // «сто семьдесят девять» heard as 170: one word dropped. 171–179 are all one
            // word away (and 110, 120: one word replaced); the smallest difference wins.
            ("170", Some("171")),
            // «сто девяносто девять» heard as 100: two words dropped; 101–109 are one
            // dropped word away and win.
            ("100", Some("101")),
            // One word replaced: 159 → 179 (пятьдесят/семьдесят).
            ("159", Some("179")),
            // A word added: 1179 → 179.
            ("1179", Some("179")),
            // Nothing plausible: 105 differs from 55 in one word, but not of the same place.
            ("55", None),
            // The letter is an edit: 12 → 12а (12 is not there, 112 is one word added away
            // too: same cost, 12а is nearer).
            ("12", Some("12а")),
            // Heard right: nothing to propose.
            ("179", None),
        ];
        for (heard, want) in cases {
            assert_eq!(nearest_plausible(heard, &reg).as_deref(), want, "{heard}");
        }
        // Only 199 near 100 in a building without 101–109.
        let reg = list(&["1", "2", "199", "250"]);
        assert_eq!(nearest_plausible("100", &reg).as_deref(), Some("199"));
        // Three dropped words are not plausible.
        let reg = list(&["1178"]);
        assert_eq!(nearest_plausible("1000", &reg), None);
        let reg = list(&["1178", "1170"]);
        assert_eq!(nearest_plausible("1100", &reg).as_deref(), Some("1170"));
    }
}
