//! Numbers spoken from human recordings, the way Asterisk's `say` does it: one WAV per
//! number word in a `digits/` directory (`digits/20.wav` «двадцать», `digits/1.wav»
//! «один», `digits/thousand.wav` «тысяча»…), played one after another.
//!
//! The file names are Asterisk's (`main/say.c`, `ast_say_number_full_ru`: `digits/N`,
//! `digits/1f`/`2f` feminine and `1n`/`2n` neuter (its `f` and `n` options),
//! `digits/thousand`, `thousands-i`, `thousands`) plus `digits/hundred.wav`, which is how
//! Debian's `asterisk-core-sounds-ru-wav` names «сто». That package has no feminine clips
//! («одна», «две»; its `1n` says «одно», checked with Whisper), no 200–900 and no
//! «тысячи»/«тысяч». A word is looked up under each of its names in order; the first file
//! that exists is played. A number with a word no file says («двести» is not in Debian's
//! set) is not spoken from clips: the caller of [`NumberClips::select`] synthesises it.

use crate::say_ru::numbers::{cardinal, Case, Gender};
use crate::say_ru::SpokenNumber;
use crate::tts::{load_sound_file, TtsError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Each number word (nominative, as [`cardinal`] writes it) and the clip names that say
/// it, in the order they are tried.
pub const WORD_CLIPS: &[(&str, &[&str])] = &[
    ("ноль", &["0"]),
    ("один", &["1"]),
    ("одна", &["1f"]),
    ("одно", &["1n"]),
    ("два", &["2", "2n"]),
    ("две", &["2f"]),
    ("три", &["3"]),
    ("четыре", &["4"]),
    ("пять", &["5"]),
    ("шесть", &["6"]),
    ("семь", &["7"]),
    ("восемь", &["8"]),
    ("девять", &["9"]),
    ("десять", &["10"]),
    ("одиннадцать", &["11"]),
    ("двенадцать", &["12"]),
    ("тринадцать", &["13"]),
    ("четырнадцать", &["14"]),
    ("пятнадцать", &["15"]),
    ("шестнадцать", &["16"]),
    ("семнадцать", &["17"]),
    ("восемнадцать", &["18"]),
    ("девятнадцать", &["19"]),
    ("двадцать", &["20"]),
    ("тридцать", &["30"]),
    ("сорок", &["40"]),
    ("пятьдесят", &["50"]),
    ("шестьдесят", &["60"]),
    ("семьдесят", &["70"]),
    ("восемьдесят", &["80"]),
    ("девяносто", &["90"]),
    ("сто", &["100", "hundred"]),
    ("двести", &["200"]),
    ("триста", &["300"]),
    ("четыреста", &["400"]),
    ("пятьсот", &["500"]),
    ("шестьсот", &["600"]),
    ("семьсот", &["700"]),
    ("восемьсот", &["800"]),
    ("девятьсот", &["900"]),
    ("тысяча", &["thousand"]),
    ("тысячи", &["thousands-i"]),
    ("тысяч", &["thousands"]),
    ("миллион", &["million"]),
    ("миллиона", &["million-a"]),
    ("миллионов", &["millions"]),
];

/// The clips of the digits 0–9 read one by one (Asterisk's `SayDigits`).
pub const DIGIT_CLIPS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// The clip names that say `words` (space-separated number words), one per word, as
/// Asterisk's `say` conventions name them, choosing among alternatives with `exists`.
/// `None` when a word has no name or none of its names exists.
pub fn select_names(words: &str, exists: impl Fn(&str) -> bool) -> Option<Vec<&'static str>> {
    words
        .split_whitespace()
        .map(|w| {
            WORD_CLIPS
                .iter()
                .find(|(word, _)| *word == w)
                .and_then(|(_, names)| names.iter().copied().find(|n| exists(n)))
        })
        .collect()
}

/// The clip names for the nominative number `n` of `gender` («1178» → `thousand`,
/// `hundred`, `70`, `8`) given which names exist; see [`select_names`].
pub fn names_for(
    n: u64,
    gender: Gender,
    exists: impl Fn(&str) -> bool,
) -> Option<Vec<&'static str>> {
    select_names(&cardinal(n, Case::Nom, gender), exists)
}

/// A directory of number clips (it holds `digits/1.wav`), loaded into memory at start.
#[derive(Debug)]
pub struct NumberClips {
    dir: PathBuf,
    clips: HashMap<&'static str, Arc<[i16]>>,
}

impl NumberClips {
    /// Loads every clip of [`WORD_CLIPS`] found under `dir/digits/` (8 kHz mono after
    /// [`load_sound_file`]).
    ///
    /// Errors: [`TtsError::SoundFile`] when `dir/digits/1.wav` is missing or any clip
    /// present is unreadable — a misconfigured directory stops the start, naming the file.
    pub fn open(dir: &Path) -> Result<Self, TtsError> {
        let marker = dir.join("digits/1.wav");
        if !marker.is_file() {
            return Err(TtsError::SoundFile {
                path: marker,
                reason: "not found: number clips need digits/1.wav (Asterisk sounds layout)".into(),
            });
        }
        let mut clips = HashMap::new();
        for (_, names) in WORD_CLIPS {
            for name in *names {
                if clips.contains_key(name) {
                    continue;
                }
                let path = dir.join(format!("digits/{name}.wav"));
                if path.is_file() {
                    let pcm = load_sound_file(&path)?;
                    clips.insert(*name, Arc::from(trim_silence(&pcm)));
                }
            }
        }
        Ok(NumberClips {
            dir: dir.to_path_buf(),
            clips,
        })
    }

    /// The directory the clips came from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a clip of this name (`"20"`, `"thousand"`) is loaded.
    pub fn has(&self, name: &str) -> bool {
        self.clips.contains_key(name)
    }

    /// The clip names that speak `number`: its words when every word has a clip, else,
    /// for a group of a ticket or phone number, its digits one by one (Asterisk's
    /// `SayDigits`); `None` when the clips cannot say it.
    pub fn select(&self, number: &SpokenNumber) -> Option<Vec<&'static str>> {
        select_names(&number.words, |n| self.has(n)).or_else(|| {
            let digits = number.group.as_deref()?;
            digits
                .chars()
                .map(|c| {
                    let name = DIGIT_CLIPS[c.to_digit(10)? as usize];
                    self.has(name).then_some(name)
                })
                .collect()
        })
    }

    /// The audio of `names` played one after another with `gap` samples of silence
    /// between them (8 kHz).
    pub fn play(&self, names: &[&str], gap: usize) -> Vec<i16> {
        let mut out = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                out.extend(std::iter::repeat_n(0i16, gap));
            }
            if let Some(c) = self.clips.get(n) {
                out.extend_from_slice(c);
            }
        }
        out
    }
}

/// Cuts leading and trailing silence (|sample| below ~-40 dBFS), keeping 10 ms at each end.
pub fn trim_silence(pcm: &[i16]) -> Vec<i16> {
    const THRESHOLD: i16 = 330;
    const KEEP: usize = 80;
    let loud = |s: &i16| s.unsigned_abs() > THRESHOLD.unsigned_abs();
    let Some(first) = pcm.iter().position(loud) else {
        return Vec::new();
    };
    let last = pcm.iter().rposition(loud).unwrap_or(first);
    let start = first.saturating_sub(KEEP);
    let end = (last + 1 + KEEP).min(pcm.len());
    pcm[start..end].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clip names Debian's asterisk-core-sounds-ru-wav has in `digits/` (no 100–900, no
    /// 1f/2f, no thousands-i; `hundred` for «сто», `1n` «одно», `2n` «два»).
    const DEBIAN: &[&str] = &[
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
        "17", "18", "19", "20", "30", "40", "50", "60", "70", "80", "90", "1n", "2n", "hundred",
        "thousand", "million",
    ];
    /// What Asterisk's own `say.c` plays for Russian (`ast_say_number_full_ru`).
    const ASTERISK: &[&str] = &[
        "0",
        "1",
        "1f",
        "2",
        "2f",
        "3",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
        "10",
        "11",
        "12",
        "13",
        "14",
        "15",
        "16",
        "17",
        "18",
        "19",
        "20",
        "30",
        "40",
        "50",
        "60",
        "70",
        "80",
        "90",
        "100",
        "200",
        "300",
        "400",
        "500",
        "600",
        "700",
        "800",
        "900",
        "thousand",
        "thousands-i",
        "thousands",
        "million",
    ];

    fn debian(n: &str) -> bool {
        DEBIAN.contains(&n)
    }
    fn asterisk(n: &str) -> bool {
        ASTERISK.contains(&n)
    }

    #[test]
    fn which_clips_say_a_number() {
        use Gender::*;
        /// Number, gender, which clip layout the case applies to, expected clips.
        type Case = (
            u64,
            Gender,
            fn(&str) -> bool,
            Option<&'static [&'static str]>,
        );
        let table: &[Case] = &[
            (
                1178,
                Masc,
                debian,
                Some(&["thousand", "hundred", "70", "8"]),
            ),
            (1178, Masc, asterisk, Some(&["thousand", "100", "70", "8"])),
            (179, Masc, debian, Some(&["hundred", "70", "9"])),
            (45, Masc, debian, Some(&["40", "5"])),
            (12, Masc, debian, Some(&["12"])),
            (0, Masc, debian, Some(&["0"])),
            (1, Masc, debian, Some(&["1"])),
            (1, Fem, debian, None),
            (1, Neut, debian, Some(&["1n"])),
            (1, Fem, asterisk, Some(&["1f"])),
            (2, Masc, debian, Some(&["2"])),
            (2, Fem, debian, None),
            (2, Fem, asterisk, Some(&["2f"])),
            (21, Fem, debian, None),
            (21, Neut, debian, Some(&["20", "1n"])),
            (21, Masc, debian, Some(&["20", "1"])),
            (22, Fem, asterisk, Some(&["20", "2f"])),
            (2000, Masc, asterisk, Some(&["2f", "thousands-i"])),
            (5000, Masc, asterisk, Some(&["5", "thousands"])),
            (1001, Masc, asterisk, Some(&["thousand", "1"])),
            // Debian has no «двести», «тысячи», «тысяч»: not from clips.
            (245, Masc, debian, None),
            (2000, Masc, debian, None),
            (245, Masc, asterisk, Some(&["200", "40", "5"])),
        ];
        for (n, gender, exists, want) in table {
            let got = names_for(*n, *gender, exists);
            assert_eq!(got.as_deref(), *want, "{n} {gender:?}");
        }
    }

    #[test]
    fn debians_package_says_1178_and_reads_groups_digit_by_digit() {
        let dir = zvonar_fixtures::sounds_ru_dir().expect("asterisk-core-sounds-ru-wav");
        let clips = NumberClips::open(dir).expect("clips load");
        let number = |words: &str, group: Option<&str>| SpokenNumber {
            words: words.into(),
            group: group.map(String::from),
        };
        assert_eq!(
            clips.select(&number("тысяча сто семьдесят восемь", None)),
            Some(vec!["thousand", "hundred", "70", "8"])
        );
        assert_eq!(
            clips.select(&number("двадцать одно", None)),
            Some(vec!["20", "1n"])
        );
        // No feminine clips in Debian's set: «двадцать одна» is synthesised.
        assert_eq!(clips.select(&number("двадцать одна", None)), None);
        // «триста сорок пять», a group of a ticket number: no «триста» clip, so 3-4-5.
        assert_eq!(
            clips.select(&number("триста сорок пять", Some("345"))),
            Some(vec!["3", "4", "5"])
        );
        assert_eq!(clips.select(&number("триста сорок пять", None)), None);
        // Every clip is trimmed: it starts within 10 ms of its sound.
        let played = clips.play(&["thousand", "8"], 320);
        assert!(played.len() > 320 + 2000, "{}", played.len());
        assert!(played[..80].iter().all(|s| s.unsigned_abs() <= 330));
        assert!(played[..200].iter().any(|s| s.unsigned_abs() > 330));
    }
}
