//! The rating robot's conversation (оценка выполненной заявки), as a sans-IO state machine fed
//! by the engine exactly as the dispatcher robot is: one input per event (a key, a recognised
//! utterance, playback finished, the no-input timer), outputs drained after each.
//!
//! The call: the greeting names the request («…по заявке от двадцать пятого ноября о
//! протечке…») and asks for a rating 1–5 ([`RatingDialog::new`]). A key 1–5 or a rating said
//! in words or numerals ([`parse_rating`]: «пять», «на четыре», «пятёрка», «отлично»,
//! «хорошо», «плохо») answers; an answer heard with low confidence or as a sound-alike is
//! read back («Ваша оценка — четыре, верно?», 1/«да» confirms, 2/«нет» asks again), as the
//! inbound robot reads back a doubtful number. No answer, or one that is not a rating: asked
//! again, up to [`RatingSettings::max_asks`] times in all, then thanked and let go. After the
//! rating the resident may leave a comment: the next utterance (up to
//! [`RatingSettings::comment_max_ms`]) is the comment — the engine keeps its audio and its
//! transcript; `#`, silence or a hang-up leave none.

use crate::numerals::{parse_number_answer, NumberKind};

/// How a rating was given on the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RatedBy {
    /// Said.
    Voice,
    /// Keyed (DTMF).
    Keys,
}

/// A rating found in an utterance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatingHeard {
    /// 1–5.
    pub value: u8,
    /// Said as a grade word («отлично», «плохо») rather than a number.
    pub by_word: bool,
    /// The number was heard as a sound-alike: worth reading back.
    pub soundalike: bool,
}

/// Grade words and the rating they stand for (the Russian school scale): lowercase, `ё` as
/// `е`; a word matches when the utterance's word starts with it (endings: «отличная»,
/// «хорошая», «плохая»).
const GRADE_WORDS: &[(&str, u8)] = &[
    ("отлич", 5),
    ("превосходн", 5),
    ("прекрасн", 5),
    ("замечательн", 5),
    ("великолепн", 5),
    ("супер", 5),
    ("хорош", 4),
    ("неплох", 4),
    ("нормальн", 3),
    ("удовлетворительн", 3),
    ("средн", 3),
    ("сносн", 3),
    ("неудовлетворительн", 2),
    ("плох", 2),
    ("ужасн", 1),
    ("отвратительн", 1),
    ("кошмар", 1),
    ("безобраз", 1),
];

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('ё', "е")
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn grade_of(word: &str) -> Option<u8> {
    // «неудовлетворительно» before «удовлетворительно», «неплохо» before «плохо»: the longest
    // prefix that matches wins.
    GRADE_WORDS
        .iter()
        .filter(|(w, _)| word.starts_with(w))
        .max_by_key(|(w, _)| w.len())
        .map(|&(_, v)| v)
}

/// The rating said in `text`, if it is one: a number 1–5 as the number parser accepts it for
/// a rating question («пять», «на четыре», «пятёрка», «4 из 5», `5`), else a grade word —
/// «отлично» 5, «хорошо» 4, «нормально»/«так себе» 3, «плохо» 2, «ужасно» 1 — with «очень»
/// raising «хорошо» to 5 and lowering «плохо» to 1, and «не» turning «плохо» into 4 and
/// «хорошо» into 2 («не очень» is 2). Two different grades, or a number out of range with no
/// grade word: `None`.
pub fn parse_rating(text: &str) -> Option<RatingHeard> {
    let answer = parse_number_answer(text, NumberKind::Rating);
    if let Some(v) = answer.accepted() {
        if let Ok(value) = u8::try_from(v.number) {
            return Some(RatingHeard {
                value,
                by_word: false,
                soundalike: answer.soundalike,
            });
        }
    }
    let w = words(text);
    let mut found: Option<u8> = None;
    let mut i = 0;
    while i < w.len() {
        let (negated, very) = (
            i > 0 && w[i - 1] == "не",
            i > 0 && w[i - 1] == "очень" || i > 1 && w[i - 2] == "очень" && w[i - 1] == "не",
        );
        let g = if w[i] == "так" && w.get(i + 1).is_some_and(|n| n == "себе") {
            i += 1;
            Some(3)
        } else if w[i] == "очень"
            && i > 0
            && w[i - 1] == "не"
            && grade_of(w.get(i + 1).map_or("", |s| s)).is_none()
        {
            Some(2)
        } else {
            grade_of(&w[i]).map(|g| match (g, negated, very) {
                (4, true, _) if w[i].starts_with("хорош") => 2,
                (2, true, _) if w[i].starts_with("плох") => 4,
                (4, false, true) if w[i].starts_with("хорош") => 5,
                (2, false, true) if w[i].starts_with("плох") => 1,
                (g, _, _) => g,
            })
        };
        if let Some(g) = g {
            match found {
                Some(f) if f != g => return None,
                _ => found = Some(g),
            }
        }
        i += 1;
    }
    found.map(|value| RatingHeard {
        value,
        by_word: true,
        soundalike: false,
    })
}

/// «да»-like and «нет»-like answers to the read-back.
fn yes_no(text: &str) -> Option<bool> {
    let w = words(text);
    if w.iter()
        .any(|x| x == "нет" || x == "неверно" || x == "неправильно")
    {
        return Some(false);
    }
    if w.iter().any(|x| {
        matches!(
            x.as_str(),
            "да" | "верно" | "правильно" | "так" | "точно" | "ага" | "угу" | "подтверждаю"
        )
    }) {
        return Some(true);
    }
    None
}

/// The rating in the accusative-free form the robot reads back: «один» … «пять».
fn value_word(v: u8) -> &'static str {
    match v {
        1 => "один",
        2 => "два",
        3 => "три",
        4 => "четыре",
        _ => "пять",
    }
}

/// Timings and limits of the conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct RatingSettings {
    /// Silence after a question before it counts as no answer, ms.
    pub no_input_ms: u32,
    /// Longest rating answer, ms (the VAD cuts there).
    pub answer_max_ms: u32,
    /// Longest comment, ms.
    pub comment_max_ms: u32,
    /// Answers recognised with less confidence (0–1) are read back.
    pub min_confidence: f32,
    /// How many times the rating is asked in all (the greeting's question included).
    pub max_asks: u32,
}

impl Default for RatingSettings {
    fn default() -> Self {
        RatingSettings {
            no_input_ms: 7000,
            answer_max_ms: 8000,
            comment_max_ms: 30_000,
            min_confidence: 0.6,
            max_asks: 3,
        }
    }
}

/// Inputs, one per event.
#[derive(Clone, Debug, PartialEq)]
pub enum RatingInput {
    /// The resident answered: start talking.
    Start,
    /// The prompt asked for finished playing.
    PlaybackDone,
    /// A recognised utterance.
    Utterance {
        /// The transcript.
        text: String,
        /// Recogniser confidence, 0–1.
        confidence: f32,
    },
    /// An utterance recognition rejected (noise, a decoder loop) or could not decode.
    Unrecognised,
    /// A DTMF key.
    Key(char),
    /// The no-input timer of the last `Listen` ran out.
    NoInput,
}

/// What the engine must do.
#[derive(Clone, Debug, PartialEq)]
pub enum RatingOutput {
    /// Speak this text (Russian), then report `PlaybackDone`.
    Say(String),
    /// Listen: an utterance or a key answers; `no_input_ms` of silence is `NoInput`.
    Listen {
        /// No-input timer, ms.
        no_input_ms: u32,
        /// Longest utterance, ms.
        max_ms: u32,
        /// The next utterance is the comment: keep its audio.
        comment: bool,
    },
    /// The rating is given (store it now: the resident may hang up during the comment).
    Rated {
        /// 1–5.
        value: u8,
        /// How.
        by: RatedBy,
    },
    /// The comment's transcript (`None`: audio only, not recognised).
    Comment(Option<String>),
    /// Hang up.
    Hangup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    /// The greeting and question are playing (keys answer already).
    Greeting,
    AwaitingRating,
    /// The read-back of `value` is playing or waits for a yes/no.
    ConfirmingRating(u8),
    /// The thanks and the comment offer are playing.
    OfferingComment,
    AwaitingComment,
    /// The goodbye is playing; hang up after it.
    Closing,
    Done,
}

/// The conversation of one rating call.
#[derive(Debug)]
pub struct RatingDialog {
    settings: RatingSettings,
    greeting: String,
    state: State,
    asks: u32,
    rated: Option<u8>,
    out: std::collections::VecDeque<RatingOutput>,
}

/// The robot's lines (besides the greeting).
pub mod lines {
    /// Asked again after no answer or one that is not a rating.
    pub const ASK_AGAIN: &str = "Пожалуйста, оцените выполнение заявки от одного до пяти: пять — отлично, один — очень плохо. Скажите оценку или нажмите цифру на телефоне.";
    /// Offered after the rating.
    pub const COMMENT_OFFER: &str = "Спасибо за оценку! Если хотите оставить комментарий, скажите его сейчас. Если нет — нажмите решётку.";
    /// The goodbye after a comment or none.
    pub const THANKS: &str = "Спасибо! Ваше мнение поможет нам работать лучше. До свидания!";
    /// The goodbye when no rating was given.
    pub const NO_RATING: &str = "Не удалось записать оценку. Спасибо, до свидания!";
}

impl RatingDialog {
    /// A conversation that opens with `greeting` (the intro, the request and the question).
    pub fn new(settings: RatingSettings, greeting: String) -> Self {
        RatingDialog {
            settings,
            greeting,
            state: State::Idle,
            asks: 0,
            rated: None,
            out: std::collections::VecDeque::new(),
        }
    }

    /// The rating given so far.
    pub fn rated(&self) -> Option<u8> {
        self.rated
    }

    /// Whether the conversation is over (after `Hangup`).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether outputs wait to be polled (the last input was acted on).
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<RatingOutput> {
        self.out.pop_front()
    }

    fn say(&mut self, text: &str) {
        self.out.push_back(RatingOutput::Say(text.to_string()));
    }

    fn listen(&mut self, comment: bool) {
        let max_ms = if comment {
            self.settings.comment_max_ms
        } else {
            self.settings.answer_max_ms
        };
        self.out.push_back(RatingOutput::Listen {
            no_input_ms: self.settings.no_input_ms,
            max_ms,
            comment,
        });
    }

    fn rate(&mut self, value: u8, by: RatedBy) {
        self.rated = Some(value);
        self.out.push_back(RatingOutput::Rated { value, by });
        self.say(lines::COMMENT_OFFER);
        self.state = State::OfferingComment;
    }

    fn ask_again(&mut self) {
        if self.asks >= self.settings.max_asks {
            self.say(lines::NO_RATING);
            self.state = State::Closing;
        } else {
            self.asks += 1;
            self.say(lines::ASK_AGAIN);
            self.state = State::Greeting;
        }
    }

    fn close(&mut self) {
        self.say(lines::THANKS);
        self.state = State::Closing;
    }

    /// Feeds one input.
    pub fn handle(&mut self, input: RatingInput) {
        use RatingInput as I;
        match (self.state, input) {
            (State::Idle, I::Start) => {
                self.asks = 1;
                let g = self.greeting.clone();
                self.say(&g);
                self.state = State::Greeting;
            }
            (State::Greeting | State::AwaitingRating, I::Key(k @ '1'..='5')) => {
                self.rate(k as u8 - b'0', RatedBy::Keys);
            }
            (State::Greeting, I::PlaybackDone) => {
                self.listen(false);
                self.state = State::AwaitingRating;
            }
            (State::AwaitingRating, I::Utterance { text, confidence }) => {
                match parse_rating(&text) {
                    Some(h) if confidence >= self.settings.min_confidence && !h.soundalike => {
                        self.rate(h.value, RatedBy::Voice)
                    }
                    Some(h) => {
                        self.say(&format!(
                            "Ваша оценка — {}, верно? Скажите «да» или нажмите один. Если нет — нажмите два.",
                            value_word(h.value)
                        ));
                        self.state = State::ConfirmingRating(h.value);
                    }
                    None => self.ask_again(),
                }
            }
            (State::AwaitingRating, I::NoInput | I::Unrecognised | I::Key(_)) => self.ask_again(),
            (State::ConfirmingRating(_), I::PlaybackDone) => self.listen(false),
            (State::ConfirmingRating(v), I::Key('1')) => self.rate(v, RatedBy::Voice),
            (State::ConfirmingRating(_), I::Key('2')) => self.ask_again(),
            (State::ConfirmingRating(v), I::Utterance { text, confidence }) => {
                match (yes_no(&text), parse_rating(&text)) {
                    (Some(true), _) => self.rate(v, RatedBy::Voice),
                    (_, Some(h)) if confidence >= self.settings.min_confidence && !h.soundalike => {
                        self.rate(h.value, RatedBy::Voice)
                    }
                    _ => self.ask_again(),
                }
            }
            (State::ConfirmingRating(_), I::NoInput | I::Unrecognised | I::Key(_)) => {
                self.ask_again()
            }
            (State::OfferingComment, I::PlaybackDone) => {
                self.listen(true);
                self.state = State::AwaitingComment;
            }
            (State::OfferingComment | State::AwaitingComment, I::Key('#')) => {
                self.out.push_back(RatingOutput::Comment(None));
                self.close();
            }
            (State::AwaitingComment, I::Utterance { text, .. }) => {
                let text = text.trim().to_string();
                self.out
                    .push_back(RatingOutput::Comment(Some(text).filter(|t| !t.is_empty())));
                self.close();
            }
            (State::AwaitingComment, I::Unrecognised) => {
                // The audio is kept by the engine; no transcript.
                self.out.push_back(RatingOutput::Comment(None));
                self.close();
            }
            (State::AwaitingComment, I::NoInput) => self.close(),
            (State::Closing, I::PlaybackDone) => {
                self.out.push_back(RatingOutput::Hangup);
                self.state = State::Done;
            }
            // Anything else (speech over a prompt, keys with no meaning here) is ignored.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
