//! Decoder repetition loops in Whisper's output, found and cut.
//!
//! Greedy Whisper decoding sometimes falls into a loop: once a phrase has been written, the
//! phrase itself becomes the likeliest continuation, and the decoder writes it again until
//! its token limit («6 часов 45 минут, 3 доллара 5 центов 6 часов 45 минут, 3 доллара 5
//! центов 6 часов …» for 3.5 s of speech, «12 12 12 12 …» for one short number). What the
//! caller said is the first copy; everything after it is the decoder's, not the caller's.
//!
//! Three measures, as in OpenAI's reference decoding (`whisper/transcribe.py`) and
//! whisper.cpp:
//!
//! - [`collapse`]: consecutive repeats of a word n-gram are cut to one copy, and so is a
//!   cut-off copy that follows them (the decoder stopped mid-phrase at its token limit).
//! - [`compression_ratio`]: a text that zlib compresses better than
//!   [`COMPRESSION_RATIO_THRESHOLD`] (2.4) is repetitive even when no n-gram repeats exactly
//!   back to back; OpenAI's decoder re-decodes such a segment, we reject it.
//! - [`token_budget`]: the most text tokens a decode may write for an utterance of a given
//!   length, so that a loop stops within a fixed, small cost (the decoder runs one step per
//!   token).

use std::io::Write;

/// A text whose zlib compression ratio (UTF-8 bytes / compressed bytes) is above this is a
/// repetition loop: `compression_ratio_threshold=2.4` of OpenAI Whisper's `transcribe()`.
pub const COMPRESSION_RATIO_THRESHOLD: f32 = 2.4;

/// Text tokens a person's speech can take per second of audio, at most. Russian speech runs
/// at 2–4 words per second; Whisper's tokenizer spends 1–3 tokens on a Russian word and one
/// on a number, so fast speech stays below 8 tokens per second.
pub const MAX_TOKENS_PER_SECOND: u32 = 8;

/// Text tokens allowed on top of [`MAX_TOKENS_PER_SECOND`] (a short answer's punctuation,
/// a number written as digits and words).
pub const TOKEN_BUDGET_BASE: u32 = 12;

/// The most tokens Whisper may decode for `audio_ms` ms of speech: [`TOKEN_BUDGET_BASE`] +
/// [`MAX_TOKENS_PER_SECOND`] per second, rounded up. A decoder in a loop stops there: for
/// the 4 s utterance of issue 6 (the 3.5 s description after 300 ms of silence), which
/// Whisper base writes as 12 tokens and, looping, would run on for 200, the decoder stops
/// at 45 (whisper.cpp's own limit is the text context, 224).
pub fn token_budget(audio_ms: u32) -> u32 {
    TOKEN_BUDGET_BASE + (MAX_TOKENS_PER_SECOND * audio_ms).div_ceil(1000)
}

/// zlib compression ratio of `text`: UTF-8 length / zlib-compressed length (default level),
/// exactly as OpenAI Whisper's `compression_ratio()` computes it. Short texts score below 1
/// (zlib's header and checksum outweigh any saving); a loop scores well above 2.4.
pub fn compression_ratio(text: &str) -> f32 {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let compressed = z
        .write_all(bytes)
        .and_then(|()| z.finish())
        .map_or(bytes.len(), |v| v.len());
    bytes.len() as f32 / compressed.max(1) as f32
}

/// One run of a repeated n-gram in a text, in words (punctuation-only tokens belong to the
/// word before them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loop {
    /// Index of the run's first word.
    pub start: usize,
    /// Words in the repeated unit.
    pub unit: usize,
    /// Copies of the unit back to back (≥ [`min_repeats`] of `unit`).
    pub repeats: usize,
    /// Words of a further, cut-off copy after the run (a prefix of the unit), 0 when none.
    pub tail: usize,
}

impl Loop {
    /// Words the run spans, the cut-off copy included.
    pub fn words(&self) -> usize {
        self.unit * self.repeats + self.tail
    }
}

/// Copies of a `unit`-word n-gram back to back that make a loop: a single word 4 times
/// («12 12 12 12»; «да, да» and «один один» are what people say), two words 3 times,
/// three or more words twice (a whole phrase said twice in a row is the decoder's, or a
/// repetition the ticket does not need).
pub fn min_repeats(unit: usize) -> usize {
    match unit {
        0 => usize::MAX,
        1 => 4,
        2 => 3,
        _ => 2,
    }
}

/// What [`collapse`] made of a text.
#[derive(Clone, Debug, PartialEq)]
pub struct Collapsed {
    /// The text with every loop cut to one copy; the input unchanged when there was none.
    pub text: String,
    /// Loops found (positions in words of the input).
    pub loops: Vec<Loop>,
    /// Words removed.
    pub removed_words: usize,
}

/// Word of a text: how it is compared, and how it is written (with the punctuation that
/// follows it).
struct Word<'a> {
    key: String,
    written: Vec<&'a str>,
}

/// Splits on whitespace; a word compares lowercased, ё as е, without punctuation, so that
/// «минут,» repeats «минут». Tokens with no letter or digit join the word before them.
fn words(text: &str) -> Vec<Word<'_>> {
    let mut out: Vec<Word<'_>> = Vec::new();
    for token in text.split_whitespace() {
        let key: String = token
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .map(|c| if c == 'ё' { 'е' } else { c })
            .collect();
        match out.last_mut() {
            Some(last) if key.is_empty() => last.written.push(token),
            _ => out.push(Word {
                key,
                written: vec![token],
            }),
        }
    }
    out
}

/// Longest texts searched, in words; beyond it only the first this many words are searched
/// (a loop shows within them: Whisper writes at most 224 tokens per window).
const MAX_WORDS: usize = 400;

/// Finds repeated n-gram runs, left to right, without overlap. At each word the run that
/// spans the most words wins (the shortest unit on a tie, so «a b a b a b a b» is 2×4,
/// not 4×2).
pub fn find_loops(text: &str) -> Vec<Loop> {
    let w = words(text);
    let keys: Vec<&str> = w.iter().take(MAX_WORDS).map(|w| w.key.as_str()).collect();
    find_in(&keys)
}

fn find_in(keys: &[&str]) -> Vec<Loop> {
    let n = keys.len();
    let mut found = Vec::new();
    let mut i = 0;
    while i < n {
        let mut best: Option<Loop> = None;
        for unit in 1..=(n - i) / 2 {
            let same = |a: usize, b: usize| keys[a] == keys[b];
            let mut repeats = 1;
            while i + (repeats + 1) * unit <= n
                && (0..unit).all(|k| same(i + k, i + repeats * unit + k))
            {
                repeats += 1;
            }
            if repeats < min_repeats(unit) {
                continue;
            }
            let after = i + repeats * unit;
            let tail = (0..unit)
                .take_while(|&k| after + k < n && same(i + k, after + k))
                .count();
            let run = Loop {
                start: i,
                unit,
                repeats,
                tail,
            };
            if best.is_none_or(|b| run.words() > b.words()) {
                best = Some(run);
            }
        }
        match best {
            Some(run) => {
                found.push(run);
                i += run.words();
            }
            None => i += 1,
        }
    }
    found
}

/// Cuts every repetition loop in `text` to its first copy (see [`find_loops`]); the
/// written form of that copy is kept (its punctuation included). A text without loops is
/// returned unchanged.
pub fn collapse(text: &str) -> Collapsed {
    let w = words(text);
    let keys: Vec<&str> = w.iter().take(MAX_WORDS).map(|w| w.key.as_str()).collect();
    let loops = find_in(&keys);
    if loops.is_empty() {
        return Collapsed {
            text: text.to_string(),
            loops,
            removed_words: 0,
        };
    }
    let mut keep = vec![true; w.len()];
    let mut removed = 0;
    for l in &loops {
        for k in keep
            .iter_mut()
            .skip(l.start + l.unit)
            .take(l.words() - l.unit)
        {
            *k = false;
            removed += 1;
        }
    }
    let text = w
        .iter()
        .zip(&keep)
        .filter(|(_, &k)| k)
        .flat_map(|(w, _)| w.written.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    Collapsed {
        text,
        loops,
        removed_words: removed,
    }
}

#[cfg(test)]
mod tests;
