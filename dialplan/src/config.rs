//! The dialplan file (`deploy/dialplan.toml`): routes from dialled numbers and times of
//! day to call flows, and the flows' settings.
//!
//! ```toml
//! [[route]]
//! number = "+74951234567"   # exact number or extension; "74951*" prefix; "*" any
//! time = "08:00-20:00"      # optional, local time, may wrap midnight
//! days = "mon-fri"          # optional
//! flow = "dispatcher"
//!
//! [flow.dispatcher]
//! kind = "dispatcher_robot"
//! company = "управляющую компанию «Наш дом»"
//! callback_promise = "в течение двух часов"
//! no_input_ms = 6000
//! prompts.greeting = { file = "sounds/greeting.wav" }
//!
//! [flow.bench]
//! kind = "playback"
//! prompt = { text = "Проверка связи." }
//! ```
//!
//! `kind = "dial"` flows ring one SIP endpoint and fall back to another flow (see
//! [`DialSettings`]).
//!
//! Operator queues (ACD) are `[[queue]]` tables, entered through `kind = "queue"` flows (see
//! [`QueueFlowSettings`]; the queue itself is zvonar-acd's [`QueueConfig`]).
//!
//! The file is validated when loaded: every problem is a [`DialplanError`] naming the
//! file and line. The first route that matches wins ([`Dialplan::route`]).

use crate::classify::{default_topics, Topic, FALLBACK_TOPIC};
use chrono::NaiveDateTime;
use std::collections::BTreeMap;
use std::path::Path;

mod dial;
mod error;
mod queue;
mod raw;
mod route;
#[cfg(test)]
mod tests;

pub use dial::{DialSettings, DialTo, DEFAULT_RING_TIMEOUT_S};
pub use error::DialplanError;
pub use queue::QueueFlowSettings;
pub use route::{Days, NumberPattern, Route, TimeWindow};
pub use zvonar_acd::{QueueConfig, Strategy};

/// A prompt: text to synthesise, or a recorded sound file to play.
///
/// In TOML: `{ text = "…" }` or `{ file = "sounds/greeting.wav" }`: a WAV (PCM, float,
/// A-law or μ-law, any rate, mono or stereo), its path relative to the directory of
/// zvonar.toml or absolute; the engine loads every file at start and refuses to start,
/// naming the file, when one cannot be read. Texts may use `{company}` and
/// `{promise}`, replaced by the flow's `company` and `callback_promise`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// Russian text for the TTS.
    Text(String),
    /// A sound file path.
    File(String),
}

impl Prompt {
    fn text(s: &str) -> Self {
        Prompt::Text(s.to_string())
    }
}

/// The prompts of a dispatcher robot that may be overridden in the dialplan
/// (`[flow.NAME.prompts]`); the rest are built from data (addresses, outages, numbers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompts {
    /// First thing said after answering.
    pub greeting: Prompt,
    /// Asks for street and house.
    pub ask_building: Prompt,
    /// Asks for the apartment (voice or keypad and `#`).
    pub ask_apartment: Prompt,
    /// Asks to describe the problem.
    pub ask_problem: Prompt,
    /// Said before a question is asked again because the answer was not understood.
    pub not_understood: Prompt,
    /// Said before a question is asked again because nothing was heard.
    pub no_input: Prompt,
    /// Ends a call where nothing was heard twice.
    pub silence_goodbye: Prompt,
    /// Ends a call where the problem could not be understood.
    pub failed_goodbye: Prompt,
    /// Said after the ticket number of an emergency (аварийная) request. It must say only what
    /// happens: the request is marked as an emergency and the dispatcher sees it first (the
    /// API lists open emergencies first). Nobody is called out automatically yet.
    pub emergency_registered: Prompt,
    /// Said after a ticket number is read out.
    pub goodbye: Prompt,
    /// Ends a call whose ticket could not be stored (no number to read out).
    pub ticket_not_filed: Prompt,
    /// Said when the caller asks for a person and nobody can take the call (no
    /// `operator_flow`, or the queue overflowed): a callback is requested next.
    pub no_operators: Prompt,
    /// Said before the robot passes the call to an operator queue (`operator_flow`).
    pub to_operator: Prompt,
    /// Said when the callback is recorded (use `{promise}`), ends the call.
    pub callback_recorded: Prompt,
    /// Reads an apartment back for confirmation; `{number}` is the apartment in words. Text
    /// only (it carries the number).
    pub confirm_apartment: Prompt,
    /// Said before the read-back when the apartment heard or typed is not in the registry's
    /// list of the building; `{number}` is what was heard, in words. Text only.
    pub apartment_not_in_registry: Prompt,
    /// Said once per question when recognising the caller's answer takes longer than
    /// [`DispatcherSettings::filler_after_ms`] after the caller stopped speaking, so that
    /// nobody waits in silence («Секунду…»). Short: the answer waits until it has been said.
    pub filler: Prompt,
    /// Said when the recogniser cannot take the caller's speech (too many callers at once,
    /// or it failed): the robot then asks its questions as keypad menus.
    pub keypad_fallback: Prompt,
}

impl Default for Prompts {
    fn default() -> Self {
        Prompts {
            greeting: Prompt::text(
                "Здравствуйте! Вы позвонили в {company}. Я робот-диспетчер, приму вашу заявку.",
            ),
            ask_building: Prompt::text("Назовите, пожалуйста, улицу и номер дома."),
            ask_apartment: Prompt::text(
                "Назовите номер квартиры или наберите его на телефоне и нажмите решётку.",
            ),
            ask_problem: Prompt::text("Опишите, пожалуйста, что у вас случилось."),
            not_understood: Prompt::text("Извините, я не поняла."),
            no_input: Prompt::text("Вас не слышно."),
            silence_goodbye: Prompt::text(
                "Не удалось вас расслышать. Пожалуйста, перезвоните. До свидания.",
            ),
            failed_goodbye: Prompt::text(
                "К сожалению, я не смогла принять заявку. Пожалуйста, перезвоните. До свидания.",
            ),
            emergency_registered: Prompt::text(
                "Заявка отмечена как аварийная, диспетчер увидит её первой.",
            ),
            goodbye: Prompt::text("Спасибо за обращение. До свидания."),
            ticket_not_filed: Prompt::text(
                "К сожалению, сейчас не получается зарегистрировать заявку. Пожалуйста, перезвоните через несколько минут. До свидания.",
            ),
            no_operators: Prompt::text(
                "Сейчас свободных операторов нет. Я передам вашу просьбу, и вам перезвонят.",
            ),
            to_operator: Prompt::text("Соединяю с оператором. Пожалуйста, оставайтесь на линии."),
            callback_recorded: Prompt::text(
                "Ваша просьба записана. Мы перезвоним вам {promise}. До свидания.",
            ),
            confirm_apartment: Prompt::text(
                "Квартира {number}, верно? Скажите да или нет, или нажмите 1 или 2.",
            ),
            apartment_not_in_registry: Prompt::text(
                "Квартиры номер {number} нет в списке этого дома.",
            ),
            filler: Prompt::text("Секунду…"),
            keypad_fallback: Prompt::text(
                "Извините, сейчас я не могу разобрать речь. Пожалуйста, отвечайте кнопками телефона.",
            ),
        }
    }
}

impl Prompts {
    /// Every prompt, in declaration order.
    pub fn all(&self) -> Vec<&Prompt> {
        // Destructured in full: a new prompt does not compile until it is listed here.
        let Prompts {
            greeting,
            ask_building,
            ask_apartment,
            ask_problem,
            not_understood,
            no_input,
            silence_goodbye,
            failed_goodbye,
            emergency_registered,
            goodbye,
            ticket_not_filed,
            no_operators,
            to_operator,
            callback_recorded,
            confirm_apartment,
            apartment_not_in_registry,
            filler,
            keypad_fallback,
        } = self;
        vec![
            greeting,
            ask_building,
            ask_apartment,
            ask_problem,
            not_understood,
            no_input,
            silence_goodbye,
            failed_goodbye,
            emergency_registered,
            goodbye,
            ticket_not_filed,
            no_operators,
            to_operator,
            callback_recorded,
            confirm_apartment,
            apartment_not_in_registry,
            filler,
            keypad_fallback,
        ]
    }
}

/// Settings of a `kind = "dispatcher_robot"` flow (see [`crate::robot`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DispatcherSettings {
    /// Company name as spoken after «Вы позвонили в …» (accusative: «управляющую компанию
    /// „Наш дом“»).
    pub company: String,
    /// Request topics; [`default_topics`] when the file has none.
    pub topics: Vec<Topic>,
    /// Topic code used when nothing matches; must be one of `topics` (default `other`).
    pub fallback_topic: String,
    /// When the company calls back, spoken after «Мы перезвоним вам …» («в течение двух часов»).
    pub callback_promise: String,
    /// How long to wait for speech or a key after a question, ms (1000–60000, default 6000).
    pub no_input_ms: u32,
    /// Longest utterance, ms (1000–120000, default 15000): longer speech is cut at this
    /// length and recognised as it is (the engine's voice activity detector ends it).
    pub max_utterance_ms: u32,
    /// Longest pause between two keys of a multi-digit keypad answer (the apartment), ms
    /// (1000–10000, default 3000): after it, the digits typed so far are the answer, as if
    /// `#` had been pressed.
    pub inter_digit_ms: u32,
    /// Re-asks after no input or an answer not understood before the robot gives up or
    /// falls back to the keypad menu (0–5, default 1).
    pub max_retries: u8,
    /// Utterances with a lower ASR confidence (Whisper's mean token probability) are treated as
    /// not understood (0–1, default 0.15: a correctly heard short number can score 0.16).
    pub min_confidence: f32,
    /// A spoken apartment recognised with a lower ASR confidence is read back for the
    /// caller to confirm («Квартира сто семьдесят девять, верно?») before it is taken (0–1,
    /// default 0.6; 0 reads back only apartments not in the registry, 1 reads back every
    /// spoken one). Keyed apartments are read back only when not in the registry.
    pub confirm_below: f32,
    /// When the caller's answer is still being recognised this long after they stopped
    /// speaking, the engine says the `filler` prompt (once per question), ms (0 = never,
    /// else 500–10000; default 1500: issue 6 wants nobody waiting in silence past 1.5 s).
    pub filler_after_ms: u32,
    /// Prompts, defaults overridden by `[flow.NAME.prompts]`.
    pub prompts: Prompts,
    /// A `kind = "queue"` flow the robot passes the call to when the caller asks for a person
    /// («оператор», key 0) or when it fails to understand the caller twice, carrying what it
    /// knows ([`zvonar_models::HandoverContext`]); when the queue overflows the call comes back
    /// and the robot takes a callback request. `None` (default): a callback request at once.
    pub operator_flow: Option<String>,
    /// Also pass emergency requests to `operator_flow` after the ticket is filed and its number
    /// read out (default false: the robot files them and says goodbye).
    pub emergency_to_operator: bool,
}

impl Default for DispatcherSettings {
    fn default() -> Self {
        DispatcherSettings {
            company: "управляющую компанию".to_string(),
            topics: default_topics(),
            fallback_topic: FALLBACK_TOPIC.to_string(),
            callback_promise: "в течение двух часов".to_string(),
            no_input_ms: 6000,
            max_utterance_ms: 15000,
            inter_digit_ms: 3000,
            max_retries: 1,
            min_confidence: 0.15,
            confirm_below: 0.6,
            filler_after_ms: 1500,
            prompts: Prompts::default(),
            operator_flow: None,
            emergency_to_operator: false,
        }
    }
}

impl DispatcherSettings {
    /// A text prompt as the robot says it: `{company}` and `{promise}` filled in.
    pub fn fill(&self, text: &str) -> String {
        text.replace("{company}", &self.company)
            .replace("{promise}", &self.callback_promise)
    }

    /// Every recorded prompt file (`{ file = "…" }`), as written, so the engine can check
    /// and load them at start.
    pub fn prompt_files(&self) -> Vec<String> {
        self.prompts
            .all()
            .into_iter()
            .filter_map(|p| match p {
                Prompt::File(f) => Some(f.clone()),
                Prompt::Text(_) => None,
            })
            .collect()
    }

    /// Every configured text prompt exactly as the robot will say it, so the engine can
    /// synthesise them once at start (the greeting is then instant); file prompts and
    /// phrases built from data (addresses, ticket numbers) are not included.
    pub fn spoken_prompts(&self) -> Vec<String> {
        // Destructured in full: a new prompt does not compile until it is listed here.
        let Prompts {
            greeting,
            ask_building,
            ask_apartment,
            ask_problem,
            not_understood,
            no_input,
            silence_goodbye,
            failed_goodbye,
            emergency_registered,
            goodbye,
            ticket_not_filed,
            no_operators,
            to_operator,
            callback_recorded,
            // Built with the number at the time of the call.
            confirm_apartment: _,
            apartment_not_in_registry: _,
            filler,
            keypad_fallback,
        } = &self.prompts;
        [
            greeting,
            ask_building,
            ask_apartment,
            ask_problem,
            not_understood,
            no_input,
            silence_goodbye,
            failed_goodbye,
            emergency_registered,
            goodbye,
            ticket_not_filed,
            no_operators,
            to_operator,
            callback_recorded,
            filler,
            keypad_fallback,
        ]
        .into_iter()
        .filter_map(|p| match p {
            Prompt::Text(t) => Some(self.fill(t)),
            Prompt::File(_) => None,
        })
        .collect()
    }
}

/// Settings of a `kind = "playback"` flow: play one prompt, then hang up (used by the load
/// benchmark and for "we are closed" announcements).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaybackSettings {
    /// What to play.
    pub prompt: Prompt,
}

/// What a flow does.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FlowKind {
    /// `dispatcher_robot`: the voice dispatcher robot (boxed: it is much larger than the others).
    DispatcherRobot(Box<DispatcherSettings>),
    /// `playback`: play a prompt and hang up.
    Playback(PlaybackSettings),
    /// `queue`: the caller waits in a `[[queue]]` for an operator (see [`QueueFlowSettings`]).
    Queue(QueueFlowSettings),
    /// `dial`: connect the caller to one SIP endpoint, with a fallback flow (see
    /// [`DialSettings`]).
    Dial(DialSettings),
}

/// A named call flow (`[flow.NAME]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// The name (the key under `[flow]`), reported in `CallEventKind::Started::flow`.
    pub name: String,
    /// What it does.
    pub kind: FlowKind,
}

/// A loaded, validated dialplan.
#[derive(Clone, Debug, PartialEq)]
pub struct Dialplan {
    routes: Vec<Route>,
    flows: BTreeMap<String, Flow>,
    queues: Vec<QueueConfig>,
}

impl Dialplan {
    /// Reads and validates a dialplan file.
    ///
    /// Errors: [`DialplanError::Read`] when it cannot be read; otherwise as [`Dialplan::parse`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, DialplanError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DialplanError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text, &file)
    }

    /// Parses and validates dialplan TOML; `file_name` is used in errors only.
    ///
    /// Errors: [`DialplanError::Syntax`] for TOML errors, unknown keys and wrong types;
    /// the other variants for semantic problems, each with the 1-based line.
    pub fn parse(text: &str, file_name: &str) -> Result<Self, DialplanError> {
        let (routes, flows, queues) = raw::build(text, file_name)?;
        Ok(Dialplan {
            routes,
            flows,
            queues,
        })
    }

    /// The flow for a call to `dialled` (request-URI user part) arriving at `local_time`
    /// (the company's local time): the first route that matches wins. `None` when no route
    /// matches (the engine rejects the call).
    pub fn route(&self, dialled: &str, local_time: NaiveDateTime) -> Option<&Flow> {
        self.routes
            .iter()
            .find(|r| r.matches(dialled, &local_time))
            .and_then(|r| self.flows.get(&r.flow))
    }

    /// A flow by name.
    pub fn flow(&self, name: &str) -> Option<&Flow> {
        self.flows.get(name)
    }

    /// All flows, by name.
    pub fn flows(&self) -> impl Iterator<Item = &Flow> {
        self.flows.values()
    }

    /// The text prompts of every flow as they will be spoken (see
    /// [`DispatcherSettings::spoken_prompts`]), each once, for synthesis at start.
    pub fn spoken_prompts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for flow in self.flows.values() {
            let texts = match &flow.kind {
                FlowKind::DispatcherRobot(s) => s.spoken_prompts(),
                FlowKind::Playback(PlaybackSettings {
                    prompt: Prompt::Text(t),
                }) => vec![t.clone()],
                FlowKind::Playback(_) | FlowKind::Queue(_) | FlowKind::Dial(_) => Vec::new(),
            };
            for t in texts {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        out
    }

    /// The recorded prompt files of every flow (`{ file = "…" }`), each once, as written
    /// (the engine resolves relative paths against the directory of zvonar.toml).
    pub fn prompt_files(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for flow in self.flows.values() {
            let files = match &flow.kind {
                FlowKind::DispatcherRobot(s) => s.prompt_files(),
                FlowKind::Playback(PlaybackSettings {
                    prompt: Prompt::File(f),
                }) => vec![f.clone()],
                FlowKind::Playback(_) | FlowKind::Queue(_) | FlowKind::Dial(_) => Vec::new(),
            };
            for f in files {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        out
    }

    /// The routes in file order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The `[[queue]]` declarations in file order, ready for [`zvonar_acd::Acd::new`].
    pub fn queues(&self) -> &[QueueConfig] {
        &self.queues
    }
}
