//! Per-call phrases («Ваша заявка принята. Номер заявки: двенадцать, триста сорок пять»)
//! assembled from cached pieces, so that the TTS caches hold pieces every call reuses
//! rather than one phrase per ticket number or address.
//!
//! [`Tts::say`] normalises the phrase ([`crate::say_ru::pieces`]) and, by
//! [`PhraseMode`]:
//! - [`PhraseMode::Whole`]: synthesises it as one phrase (the most natural intonation; the
//!   LRU caches hold whole phrases and drop them as they age);
//! - [`PhraseMode::Pieces`]: synthesises the fixed text and each number (or group of a
//!   ticket number) separately, each cached on its own, and joins them with short pauses.
//!
//! With number clips configured ([`crate::clips::NumberClips`], human recordings), numbers
//! the clips can say are played from them in either mode and the text around them is
//! synthesised in pieces; numbers they cannot say are synthesised.

use crate::clips::{trim_silence, NumberClips};
use crate::say_ru::{pieces, Piece};
use crate::tts::{Tts, TtsError, PROMPT_RATE};
use std::path::Path;
use std::sync::Arc;

/// How [`Tts::say`] makes a per-call phrase (`[tts] phrases` in zvonar.toml).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PhraseMode {
    /// `"whole"`: one synthesis per phrase (the default).
    #[default]
    Whole,
    /// `"pieces"`: text and numbers synthesised and cached separately, joined with pauses.
    Pieces,
}

impl std::str::FromStr for PhraseMode {
    type Err = String;

    /// `"whole"` or `"pieces"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "whole" => Ok(PhraseMode::Whole),
            "pieces" => Ok(PhraseMode::Pieces),
            other => Err(format!(
                "phrases = {other:?}: expected \"whole\" or \"pieces\""
            )),
        }
    }
}

/// Pause between two number clips, ms (Asterisk plays them back to back; a little air
/// makes «тысяча … сто» easier to follow on a phone).
const CLIP_GAP_MS: usize = 40;

/// The phrase settings a [`Tts`] carries.
#[derive(Debug, Default)]
pub struct Phrasing {
    mode: PhraseMode,
    clips: Option<NumberClips>,
}

impl Phrasing {
    /// `mode`, with number clips from `clips_dir` when given.
    ///
    /// Errors: [`TtsError::SoundFile`] from [`NumberClips::open`].
    pub fn new(mode: PhraseMode, clips_dir: Option<&Path>) -> Result<Self, TtsError> {
        let clips = clips_dir.map(NumberClips::open).transpose()?;
        if let Some(c) = &clips {
            tracing::info!(dir = %c.dir().display(), "numbers are spoken from recorded clips");
        }
        Ok(Phrasing { mode, clips })
    }

    /// The mode.
    pub fn mode(&self) -> PhraseMode {
        self.mode
    }

    /// The number clips, when configured.
    pub fn clips(&self) -> Option<&NumberClips> {
        self.clips.as_ref()
    }
}

/// Silence before the next piece, ms, by the punctuation between: a sentence end 350, a
/// comma, colon or dash 200, a space 60.
fn pause_ms(between: &str) -> usize {
    if between.contains(['.', '!', '?', '…']) {
        350
    } else if between.contains([',', ':', ';', '—', '–', '-']) {
        200
    } else {
        60
    }
}

fn silence(ms: usize) -> impl Iterator<Item = i16> {
    std::iter::repeat_n(0i16, ms * PROMPT_RATE as usize / 1000)
}

/// The text before the first letter and after the last one.
fn edges(t: &str) -> (&str, &str) {
    let first = t.find(char::is_alphabetic).unwrap_or(t.len());
    let last = t
        .char_indices()
        .rfind(|(_, c)| c.is_alphabetic())
        .map_or(first, |(i, c)| i + c.len_utf8());
    (&t[..first], &t[last.max(first)..])
}

impl Tts {
    /// Speaks a per-call phrase in `language` (8 kHz mono), normalised and assembled as
    /// [`Phrasing`] says (see the [module docs](self)). A phrase without numbers, and any
    /// phrase in [`PhraseMode::Whole`] without clips, is [`Tts::synthesize`]d whole (so
    /// pre-rendered prompts are found).
    ///
    /// Errors: as [`Tts::synthesize`] for any piece.
    pub async fn say(&self, text: &str, language: &str) -> Result<Arc<[i16]>, TtsError> {
        let phrasing = self.phrasing();
        let assemble =
            language == "ru" && (phrasing.mode == PhraseMode::Pieces || phrasing.clips.is_some());
        if !assemble {
            return self.synthesize(text, language).await;
        }
        let parts = pieces(text);
        if !parts.iter().any(|p| matches!(p, Piece::Number(_))) {
            return self.synthesize(text, language).await;
        }
        let mut out: Vec<i16> = Vec::new();
        let mut pause = 0usize;
        for part in &parts {
            match part {
                Piece::Text(t) => {
                    let (lead, trail) = edges(t);
                    let words = t.trim_start_matches(|c: char| !c.is_alphabetic());
                    let words = words.trim_end_matches(|c: char| c.is_whitespace());
                    if words.chars().any(char::is_alphabetic) {
                        let pcm = self.synthesize(words, language).await?;
                        if !out.is_empty() {
                            out.extend(silence(pause.max(pause_ms(lead))));
                        }
                        out.extend(trim_silence(&pcm));
                        pause = pause_ms(trail);
                    } else {
                        pause = pause.max(pause_ms(t));
                    }
                }
                Piece::Number(n) => {
                    let from_clips = phrasing
                        .clips
                        .as_ref()
                        .and_then(|c| c.select(n).map(|names| (c, names)));
                    let pcm: Vec<i16> = match from_clips {
                        Some((clips, names)) => {
                            clips.play(&names, CLIP_GAP_MS * PROMPT_RATE as usize / 1000)
                        }
                        None => trim_silence(&self.synthesize(&n.words, language).await?),
                    };
                    if !out.is_empty() {
                        out.extend(silence(pause.max(60)));
                    }
                    out.extend(pcm);
                    pause = 60;
                }
            }
        }
        // A sentence end after the last piece: keep a short tail, as synthesis does.
        out.extend(silence(60));
        Ok(out.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tts::{Synthesizer, TtsConfig};
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    /// Speaks every text as 400 samples of one loud value, remembering what it was asked.
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Synthesizer for Recorder {
        fn speak(&mut self, text: &str, _language: &str) -> Result<Vec<i16>, TtsError> {
            self.0.lock().unwrap().push(text.to_string());
            Ok(vec![1000; 400])
        }
    }

    fn tts(config: TtsConfig) -> (Tts, Arc<Mutex<Vec<String>>>) {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let tts = Tts::with_synthesizer(Box::new(Recorder(asked.clone())), &config).unwrap();
        (tts, asked)
    }

    fn ticket_phrase(n: u32) -> String {
        format!("Ваша заявка принята. Номер заявки: {n}.")
    }

    #[tokio::test]
    async fn in_pieces_mode_the_caches_hold_pieces_not_per_call_phrases() {
        let (tts, shared) = tts(TtsConfig {
            phrases: PhraseMode::Pieces,
            ..TtsConfig::default()
        });
        for n in 12_300..12_400 {
            let pcm = tts.say(&ticket_phrase(n), "ru").await.unwrap();
            assert!(pcm.len() > 3 * 400, "three pieces joined");
        }
        let asked: Vec<String> = shared.lock().unwrap().clone();
        let distinct: BTreeSet<&str> = asked.iter().map(String::as_str).collect();
        // 100 tickets 12300–12399 in groups 12 + 300…399: the fixed text once, «двенадцать»
        // once, each of the 100 groups once.
        assert_eq!(asked.len(), distinct.len(), "a piece was synthesised twice");
        assert_eq!(distinct.len(), 1 + 1 + 100, "{distinct:?}");
        assert!(distinct.contains("Ваша заявка принята. Номер заявки:"));
        assert!(distinct.contains("двенадцать"));
        assert!(distinct.contains("триста сорок пять"));
        assert!(
            !asked
                .iter()
                .any(|t| t.contains("заявки") && t != "Ваша заявка принята. Номер заявки:"),
            "a whole per-call phrase was synthesised: {asked:?}"
        );
        // The same tickets again: everything comes from the cache.
        for n in 12_300..12_400 {
            tts.say(&ticket_phrase(n), "ru").await.unwrap();
        }
        assert_eq!(shared.lock().unwrap().len(), asked.len());
    }

    #[tokio::test]
    async fn in_whole_mode_each_phrase_is_one_synthesis() {
        let (tts, asked) = tts(TtsConfig::default());
        tts.say(&ticket_phrase(12_345), "ru").await.unwrap();
        assert_eq!(
            asked.lock().unwrap().as_slice(),
            ["Ваша заявка принята. Номер заявки: 12345."],
            "the engine normalises (Engines::speak); a test synthesiser gets the text as is"
        );
    }

    #[tokio::test]
    async fn a_phrase_without_numbers_is_synthesised_whole_and_found_prerendered() {
        let (tts, asked) = tts(TtsConfig {
            phrases: PhraseMode::Pieces,
            ..TtsConfig::default()
        });
        let prompt = "Опишите, пожалуйста, что у вас случилось.".to_string();
        tts.prerender(std::slice::from_ref(&prompt), "ru").await;
        tts.say(&prompt, "ru").await.unwrap();
        assert_eq!(asked.lock().unwrap().len(), 1);
    }

    fn write_clip(dir: &Path, name: &str, value: i16) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(dir.join(format!("digits/{name}.wav")), spec).unwrap();
        // 20 ms silence, 50 ms of `value`, 20 ms silence.
        for i in 0..720 {
            w.write_sample(if (160..560).contains(&i) { value } else { 0 })
                .unwrap();
        }
        w.finalize().unwrap();
    }

    /// The distinct loud values of `pcm` in order (each clip is one value).
    fn runs(pcm: &[i16]) -> Vec<i16> {
        let mut v: Vec<i16> = Vec::new();
        for &s in pcm {
            if s != 0 && v.last() != Some(&s) {
                v.push(s);
            }
        }
        v
    }

    #[tokio::test]
    async fn numbers_are_played_from_clips_and_the_text_synthesised() {
        let dir = std::env::temp_dir().join(format!("zvonar-clips-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("digits")).unwrap();
        let values: &[(&str, i16)] = &[
            ("0", 2000),
            ("1", 2001),
            ("2", 2002),
            ("3", 2003),
            ("4", 2004),
            ("5", 2005),
            ("7", 2007),
            ("8", 2008),
            ("11", 2011),
            ("70", 2070),
            ("hundred", 2100),
            ("thousand", 3000),
        ];
        for (name, v) in values {
            write_clip(&dir, name, *v);
        }
        let (tts, asked) = tts(TtsConfig {
            number_clips: Some(dir.clone()),
            ..TtsConfig::default()
        });
        // «квартира 1178»: thousand, hundred, 70, 8.
        let pcm = tts.say("Квартира 1178, верно?", "ru").await.unwrap();
        assert_eq!(runs(&pcm), [1000, 3000, 2100, 2070, 2008, 1000]);
        assert_eq!(
            asked.lock().unwrap().as_slice(),
            ["Квартира", "верно?"],
            "only the text is synthesised"
        );
        // Ticket 1178 in groups: «одиннадцать», «семьдесят восемь».
        let pcm = tts.say("Номер заявки: 1178.", "ru").await.unwrap();
        assert_eq!(runs(&pcm), [1000, 2011, 2070, 2008]);
        // «345»: no clip says «триста» — a group is read digit by digit (SayDigits).
        let pcm = tts.say("Номер заявки: 12345.", "ru").await.unwrap();
        assert_eq!(runs(&pcm), [1000, 2001, 2002, 2003, 2004, 2005]);
        // Not a group and no clip for «двести»: synthesised.
        tts.say("Квартира 245.", "ru").await.unwrap();
        assert!(asked
            .lock()
            .unwrap()
            .contains(&"двести сорок пять".to_string()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_clips_directory_without_digits_is_an_error_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("zvonar-noclips-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        match Phrasing::new(PhraseMode::Whole, Some(&dir)) {
            Err(TtsError::SoundFile { path, .. }) => assert!(path.ends_with("digits/1.wav")),
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn phrase_modes_parse() {
        assert_eq!("whole".parse::<PhraseMode>(), Ok(PhraseMode::Whole));
        assert_eq!("pieces".parse::<PhraseMode>(), Ok(PhraseMode::Pieces));
        assert!("clips".parse::<PhraseMode>().is_err());
    }
}
