//! Happy paths of the dispatcher robot, driven in memory, plus the shared test harness.

use super::*;
use crate::config::Prompt;
use std::collections::VecDeque;
use zvonar_models::{OutageId, PhoneNumber, TicketRequest};

/// Time between two keys of [`Call::keys`], ms (a caller typing briskly).
pub(super) const KEY_GAP_MS: u64 = 300;

/// The driver harness: a call in memory, fed exactly as the engine's robot driver
/// (`src/engine/robot_driver.rs`) feeds the robot, on a fake clock:
///
/// - keys one [`RobotInput::Key`] per key, as RFC 4733 / SIP INFO deliver them;
/// - `PlaybackDone` after each `Say`/`Play` (at once when `auto_playback`, else when the test
///   sends it), none for prompts dropped by `StopPlayback`;
/// - `NoInput` when `no_input_ms` pass after the last prompt of a `Listen` ended with no key
///   or speech; a key or an utterance answers the `Listen`; an utterance reaches the robot
///   only while it listens and no prompt that may not be interrupted plays;
/// - `DigitTimeout` when a `StartDigitTimer` runs out (the clock moves with [`Call::wait`]
///   and between keys).
pub(super) struct Call {
    pub robot: DispatcherRobot,
    pub auto_playback: bool,
    /// The fake clock, ms since the call was answered.
    pub now: u64,
    /// Barge-in flags of prompts playing or queued.
    playing: VecDeque<bool>,
    /// `no_input_ms` of the outstanding `Listen`.
    listening: Option<u32>,
    no_input_at: Option<u64>,
    digit_at: Option<u64>,
    /// The registry's apartments per building, as the driver answers `LoadApartments`
    /// (at once); a building not listed answers `None` (registry not readable).
    pub registry: std::collections::HashMap<BuildingId, Vec<String>>,
}

impl Call {
    pub fn new(settings: &DispatcherSettings, ctx: CallContext) -> Self {
        Call {
            robot: DispatcherRobot::new(settings, ctx),
            auto_playback: true,
            now: 0,
            playing: VecDeque::new(),
            listening: None,
            no_input_at: None,
            digit_at: None,
            registry: std::collections::HashMap::new(),
        }
    }

    fn arm_no_input(&mut self) {
        if let Some(ms) = self.listening {
            if self.playing.is_empty() {
                self.no_input_at = Some(self.now + u64::from(ms));
            }
        }
    }

    /// Sends one input; returns everything the robot emitted in response (and in response
    /// to the `PlaybackDone`s the harness sent for it).
    pub fn send(&mut self, input: RobotInput) -> Vec<RobotOutput> {
        if input == RobotInput::PlaybackDone && self.playing.pop_front().is_none() {
            return Vec::new(); // the driver forwards only prompts it still plays
        }
        let done = input == RobotInput::PlaybackDone;
        self.robot.handle(input);
        if done {
            self.arm_no_input();
        }
        let mut all = Vec::new();
        loop {
            let batch: Vec<RobotOutput> = std::iter::from_fn(|| self.robot.poll_output()).collect();
            if batch.is_empty() {
                break;
            }
            let mut finished = 0;
            let mut answers = Vec::new();
            for o in &batch {
                match o {
                    RobotOutput::Say { barge_in, .. } | RobotOutput::Play { barge_in, .. } => {
                        self.no_input_at = None;
                        if self.auto_playback {
                            finished += 1;
                        } else {
                            self.playing.push_back(*barge_in);
                        }
                    }
                    RobotOutput::StopPlayback => self.playing.clear(),
                    RobotOutput::Listen { no_input_ms, .. } => {
                        self.listening = Some(*no_input_ms);
                        self.arm_no_input();
                    }
                    RobotOutput::StartDigitTimer { ms } => {
                        self.digit_at = Some(self.now + u64::from(*ms));
                    }
                    RobotOutput::CancelDigitTimer => self.digit_at = None,
                    RobotOutput::LoadApartments { building_id } => {
                        answers.push(RobotInput::Apartments {
                            building_id: *building_id,
                            apartments: self.registry.get(building_id).cloned(),
                        })
                    }
                    _ => {}
                }
            }
            all.extend(batch);
            for a in answers {
                self.robot.handle(a);
            }
            for _ in 0..finished {
                self.robot.handle(RobotInput::PlaybackDone);
                self.arm_no_input();
            }
        }
        all
    }

    /// The caller's utterance, recognised (dropped like the driver drops it when the robot
    /// is not listening or a prompt that may not be interrupted plays).
    pub fn say(&mut self, text: &str) -> Vec<RobotOutput> {
        self.say_with(text, 0.9)
    }

    pub fn say_with(&mut self, text: &str, confidence: f32) -> Vec<RobotOutput> {
        if self.listening.is_none() || self.playing.iter().any(|b| !b) {
            return Vec::new();
        }
        self.listening = None;
        self.no_input_at = None;
        self.send(RobotInput::Utterance {
            text: text.to_string(),
            confidence,
        })
    }

    /// One key, now (it answers the outstanding `Listen`: the robot listens again if it
    /// wants more).
    pub fn key(&mut self, key: char) -> Vec<RobotOutput> {
        self.listening = None;
        self.no_input_at = None;
        self.send(RobotInput::Key(key))
    }

    /// Keys typed one by one, [`KEY_GAP_MS`] apart (timers that run out meanwhile fire).
    pub fn keys(&mut self, keys: &str) -> Vec<RobotOutput> {
        let mut all = Vec::new();
        for k in keys.chars() {
            all.extend(self.wait(KEY_GAP_MS));
            all.extend(self.key(k));
        }
        all
    }

    /// Lets `ms` pass on the fake clock, firing the timers that run out, in order.
    pub fn wait(&mut self, ms: u64) -> Vec<RobotOutput> {
        let until = self.now + ms;
        let mut all = Vec::new();
        loop {
            let next = [self.no_input_at, self.digit_at]
                .into_iter()
                .flatten()
                .min()
                .filter(|t| *t <= until);
            let Some(t) = next else { break };
            self.now = t;
            if self.digit_at == Some(t) {
                self.digit_at = None;
                all.extend(self.send(RobotInput::DigitTimeout));
            } else {
                self.no_input_at = None;
                if self.listening.take().is_some() {
                    all.extend(self.send(RobotInput::NoInput));
                }
            }
        }
        self.now = until;
        all
    }

    /// Silence until the no-input timer fires.
    pub fn silence(&mut self) -> Vec<RobotOutput> {
        let ms = self.listening.map_or(0, u64::from);
        self.wait(ms)
    }
}

/// Texts of the `Say` outputs, joined with `|`.
pub(super) fn said(outs: &[RobotOutput]) -> String {
    outs.iter()
        .filter_map(|o| match o {
            RobotOutput::Say { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The outputs without `Event`s (slots filled, outcomes).
pub(super) fn no_events(outs: &[RobotOutput]) -> Vec<RobotOutput> {
    outs.iter()
        .filter(|o| !matches!(o, RobotOutput::Event(_)))
        .cloned()
        .collect()
}

pub(super) fn tickets(outs: &[RobotOutput]) -> Vec<TicketRequest> {
    outs.iter()
        .filter_map(|o| match o {
            RobotOutput::CreateTicket(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn outcomes(outs: &[RobotOutput]) -> Vec<String> {
    outs.iter()
        .filter_map(|o| match o {
            RobotOutput::Event(CallEventKind::Outcome { outcome }) => Some(outcome.clone()),
            _ => None,
        })
        .collect()
}

/// How many `Listen`s the robot emitted.
pub(super) fn listens(outs: &[RobotOutput]) -> usize {
    outs.iter()
        .filter(|o| matches!(o, RobotOutput::Listen { .. }))
        .count()
}

pub(super) fn hangup(outs: &[RobotOutput]) -> bool {
    matches!(outs.last(), Some(RobotOutput::Hangup))
}

pub(super) fn settings() -> DispatcherSettings {
    DispatcherSettings {
        company: "управляющую компанию «Наш дом»".into(),
        ..DispatcherSettings::default()
    }
}

pub(super) fn outage(id: i64, what: &str) -> OutageInfo {
    OutageInfo {
        id: OutageId(id),
        what: what.into(),
        since: "10 июня".into(),
        until: "14 июня".into(),
    }
}

pub(super) fn buildings() -> Vec<BuildingInfo> {
    let b = |id, street: &str, house: &str, spoken: &str, outages| BuildingInfo {
        id: BuildingId(id),
        street: street.into(),
        house: house.into(),
        spoken: spoken.into(),
        outages,
    };
    vec![
        b(1, "улица Ленина", "5", "улица Ленина, дом 5", vec![]),
        b(
            2,
            "улица Ленина",
            "7",
            "улица Ленина, дом 7",
            vec![outage(70, "горячей воды"), outage(71, "отопления")],
        ),
        b(3, "Садовая улица", "12а", "Садовая улица, дом 12а", vec![]),
    ]
}

pub(super) fn caller() -> PhoneNumber {
    PhoneNumber::parse_ru("89161234567").unwrap()
}

pub(super) fn known_ctx() -> CallContext {
    CallContext {
        caller: Some(caller()),
        known: Some(KnownPremises {
            account_id: Some(AccountId(500)),
            premises_id: PremisesId(100),
            building_id: BuildingId(1),
            address_spoken: "улица Ленина, дом 5, квартира 12".into(),
            apartment: Some("12".into()),
        }),
        buildings: buildings(),
    }
}

pub(super) fn unknown_ctx() -> CallContext {
    CallContext {
        caller: Some(caller()),
        known: None,
        buildings: buildings(),
    }
}

#[test]
fn known_caller_confirms_by_voice_and_files_an_emergency_ticket() {
    let mut call = Call::new(&settings(), known_ctx());
    let out = call.send(RobotInput::Start);
    let text = said(&out);
    assert!(
        text.contains("Вы позвонили в управляющую компанию «Наш дом»"),
        "{text}"
    );
    assert!(
        text.contains("Вы звоните по адресу улица Ленина, дом 5, квартира 12? Скажите да или нет, или нажмите 1 — да, 2 — нет."),
        "{text}"
    );
    assert!(matches!(
        out.last(),
        Some(RobotOutput::Listen {
            no_input_ms: 6000,
            max_ms: 15000,
            expect: Expect::YesNo,
        })
    ));
    assert_eq!(call.robot.state(), State::AwaitingAddressConfirmation);

    let out = call.say("Да, верно.");
    assert!(out.iter().any(|o| matches!(o,
        RobotOutput::Event(CallEventKind::Identified { how, premises_id: Some(PremisesId(100)), account_id: Some(AccountId(500)) }) if how == "caller_id")));
    assert!(said(&out).contains("Опишите"), "{}", said(&out));
    assert_eq!(call.robot.state(), State::AwaitingProblem);

    let out = call.say("У меня течёт кран на кухне, соседей заливает!");
    let t = tickets(&out);
    assert_eq!(t.len(), 1);
    assert_eq!(
        t[0],
        TicketRequest {
            caller: Some(caller()),
            account_id: Some(AccountId(500)),
            building_id: Some(BuildingId(1)),
            premises_id: Some(PremisesId(100)),
            apartment: Some("12".into()),
            topic: "leak".into(),
            emergency: true,
            description: "У меня течёт кран на кухне, соседей заливает!".into(),
            outage_id: None,
            unfinished: false,
        }
    );
    assert_eq!(call.robot.state(), State::AwaitingTicket);

    // The last prompts must finish playing before the robot hangs up.
    call.auto_playback = false;
    let out = call.send(RobotInput::TicketCreated {
        number: "1234".into(),
    });
    let text = said(&out);
    assert!(text.contains("Номер заявки: 1234."), "{text}");
    // Only what is true: nothing is sent to an emergency service yet.
    assert!(
        text.contains("Заявка отмечена как аварийная, диспетчер увидит её первой."),
        "{text}"
    );
    assert!(!text.contains("передана"), "{text}");
    assert!(text.contains("До свидания"), "{text}");
    assert!(!hangup(&out));
    assert!(call.send(RobotInput::PlaybackDone).is_empty());
    assert!(call.send(RobotInput::PlaybackDone).is_empty());
    let out = call.send(RobotInput::PlaybackDone);
    assert_eq!(outcomes(&out), ["ticket_created"]);
    assert!(hangup(&out));
    assert!(call.robot.is_finished());
    assert_eq!(call.robot.outcome(), Some(Outcome::TicketCreated));
}

#[test]
fn known_caller_confirms_by_keypad() {
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    let out = call.keys("1");
    assert!(said(&out).contains("Опишите"));
    let out = call.say("Батареи холодные, не топят");
    let t = tickets(&out);
    assert_eq!((t[0].topic.as_str(), t[0].emergency), ("heating", false));
    let out = call.send(RobotInput::TicketCreated {
        number: "77".into(),
    });
    // Written as digits; the TTS normaliser reads it («семьдесят семь»).
    assert!(said(&out).contains("Номер заявки: 77."));
    assert!(!said(&out).contains("аварийн"));
    assert_eq!(outcomes(&out), ["ticket_created"]);
}

#[test]
fn caller_says_no_then_names_building_and_apartment_by_voice() {
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    let out = call.say("Нет, я звоню по другому адресу.");
    assert!(said(&out).contains("улицу и номер дома"), "{}", said(&out));
    assert_eq!(call.robot.state(), State::AwaitingBuilding);
    let out = call.say("Садовая, двенадцать а");
    assert!(said(&out).contains("номер квартиры"));
    assert_eq!(listens(&out), 1);
    assert_eq!(call.robot.max_keys, APARTMENT_DIGITS);
    let out = call.say("Квартира сто двадцать три.");
    assert!(
        matches!(&no_events(&out)[..], [RobotOutput::LookupPremises { building_id: BuildingId(3), apartment }] if apartment == "123")
    );
    assert_eq!(call.robot.state(), State::AwaitingPremisesLookup);
    let out = call.send(RobotInput::PremisesFound(Some(FoundPremises {
        premises_id: PremisesId(300),
        account_id: Some(AccountId(301)),
    })));
    assert!(out.iter().any(|o| matches!(o,
        RobotOutput::Event(CallEventKind::Identified { how, premises_id: Some(PremisesId(300)), .. }) if how == "speech")));
    call.say("В подъезде пахнет газом");
    let out = call.say("ещё раз"); // ignored: the robot waits for the ticket number
    assert!(out.is_empty());
    let out = call.send(RobotInput::TicketCreated { number: "5".into() });
    assert_eq!(outcomes(&out), ["ticket_created"]);
}

#[test]
fn unknown_caller_uses_the_keypad_for_building_and_apartment() {
    let mut call = Call::new(&settings(), unknown_ctx());
    let out = call.send(RobotInput::Start);
    assert!(said(&out).contains("улицу и номер дома"));
    let out = call.keys("1");
    assert!(said(&out).contains("номер квартиры"));
    // One key per input, as the engine sends them: «1», «2», «#».
    let out = no_events(&call.keys("12#"));
    assert!(
        matches!(&out[..], [
            RobotOutput::StartDigitTimer { ms: 3000 },
            RobotOutput::StartDigitTimer { ms: 3000 },
            RobotOutput::CancelDigitTimer,
            RobotOutput::LookupPremises { building_id: BuildingId(1), apartment },
        ] if apartment == "12"),
        "{out:?}"
    );
    let out = call.send(RobotInput::PremisesFound(Some(FoundPremises {
        premises_id: PremisesId(12),
        account_id: None,
    })));
    assert!(out.iter().any(|o| matches!(o,
        RobotOutput::Event(CallEventKind::Identified { how, .. }) if how == "keypad")));
    let out = call.say("не работает лифт");
    let t = &tickets(&out)[0];
    assert_eq!(
        (t.topic.as_str(), t.apartment.as_deref()),
        ("lift", Some("12"))
    );
    assert_eq!(t.premises_id, Some(PremisesId(12)));
}

#[test]
fn unknown_apartment_still_proceeds_with_the_text() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    call.say("улица Ленина дом пять");
    call.say("двенадцать б");
    let out = call.send(RobotInput::PremisesFound(None));
    assert!(!out
        .iter()
        .any(|o| matches!(o, RobotOutput::Event(CallEventKind::Identified { .. }))));
    assert_eq!(call.robot.state(), State::AwaitingProblem);
    let out = call.say("Искрит розетка в коридоре");
    let t = &tickets(&out)[0];
    assert_eq!(t.apartment.as_deref(), Some("12б"));
    assert_eq!(t.premises_id, None);
    assert_eq!(t.building_id, Some(BuildingId(1)));
    assert_eq!((t.topic.as_str(), t.emergency), ("electricity", true));
}

#[test]
fn building_and_apartment_in_one_utterance() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    let out = call.say("Ленина 5, квартира 12");
    assert!(
        matches!(&no_events(&out)[..], [
            RobotOutput::LoadApartments { building_id: BuildingId(1) },
            RobotOutput::LookupPremises { building_id: BuildingId(1), apartment },
        ] if apartment == "12"),
        "{out:?}"
    );
}

#[test]
fn outage_announced_and_linked() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    call.say("Ленина семь");
    call.say("квартира 3");
    let out = call.send(RobotInput::PremisesFound(None));
    assert!(out.iter().any(|o| matches!(
        o,
        RobotOutput::Event(CallEventKind::OutageAnnounced {
            outage_id: OutageId(70)
        })
    )));
    let text = said(&out);
    assert!(
        text.contains("отключение горячей воды с 10 июня до 14 июня"),
        "{text}"
    );
    assert!(text.contains("Вы звоните по этому поводу?"), "{text}");
    assert_eq!(call.robot.state(), State::AwaitingOutageAnswer { index: 0 });
    let out = call.say("Да, по этому.");
    let t = &tickets(&out)[0];
    assert_eq!(t.outage_id, Some(OutageId(70)));
    assert_eq!(t.topic, OUTAGE_TOPIC);
    assert!(!t.unfinished && !t.emergency);
    assert_eq!(t.building_id, Some(BuildingId(2)));
    let out = call.send(RobotInput::TicketCreated {
        number: "42".into(),
    });
    let text = said(&out);
    assert!(text.contains("Номер заявки: 42."), "{text}");
    assert!(
        text.contains("горячей воды планируют восстановить до 14 июня"),
        "{text}"
    );
    assert_eq!(outcomes(&out), ["outage_linked"]);
    assert!(hangup(&out));
}

#[test]
fn second_outage_can_be_chosen_and_keypad_works() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    call.keys("2");
    call.keys("3#");
    call.send(RobotInput::PremisesFound(None));
    let out = call.keys("2");
    assert!(said(&out).contains("отопления"));
    assert_eq!(call.robot.state(), State::AwaitingOutageAnswer { index: 1 });
    let out = call.keys("1");
    assert_eq!(tickets(&out)[0].outage_id, Some(OutageId(71)));
}

#[test]
fn not_about_the_outage_goes_on_to_the_problem() {
    let mut call = Call::new(&settings(), unknown_ctx());
    call.send(RobotInput::Start);
    call.say("Ленина семь квартира три");
    call.send(RobotInput::PremisesFound(None));
    call.say("нет");
    let out = call.say("Нет.");
    assert!(said(&out).contains("Опишите"));
    let out = call.say("Мусор не вывозят");
    let t = &tickets(&out)[0];
    assert_eq!((t.topic.as_str(), t.outage_id), ("cleaning", None));
}

#[test]
fn single_building_skips_the_building_question_and_none_skips_the_address() {
    let mut ctx = unknown_ctx();
    ctx.buildings.truncate(1);
    let mut call = Call::new(&settings(), ctx);
    let out = call.send(RobotInput::Start);
    assert!(said(&out).contains("номер квартиры"));
    assert_eq!(call.robot.state(), State::AwaitingApartment);

    let ctx = CallContext {
        caller: None,
        known: None,
        buildings: vec![],
    };
    let mut call = Call::new(&settings(), ctx);
    call.send(RobotInput::Start);
    assert_eq!(call.robot.state(), State::AwaitingProblem);
    let out = call.say("Сосульки на крыше");
    let t = &tickets(&out)[0];
    assert_eq!(
        (t.topic.as_str(), t.caller.as_ref(), t.building_id),
        ("roof", None, None)
    );
}

#[test]
fn emergency_wording_is_a_configurable_prompt() {
    let mut s = settings();
    s.prompts.emergency_registered = Prompt::File("sounds/emergency.wav".into());
    let mut call = Call::new(&s, known_ctx());
    call.send(RobotInput::Start);
    call.keys("1");
    call.say("Пахнет газом в подъезде");
    let out = call.send(RobotInput::TicketCreated { number: "5".into() });
    let files: Vec<&str> = out
        .iter()
        .filter_map(|o| match o {
            RobotOutput::Play { file, .. } => Some(file.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(files, ["sounds/emergency.wav"]);
    // Not for an ordinary request.
    let mut call = Call::new(&s, known_ctx());
    call.send(RobotInput::Start);
    call.keys("1");
    call.say("Мусор не вывозят");
    let out = call.send(RobotInput::TicketCreated { number: "6".into() });
    assert!(!out.iter().any(|o| matches!(o, RobotOutput::Play { .. })));
}

#[test]
fn prompts_from_files_and_overrides() {
    let mut s = settings();
    s.prompts.greeting = Prompt::File("sounds/greeting.wav".into());
    s.prompts.ask_problem = Prompt::Text("Что случилось в {company}?".into());
    let mut call = Call::new(&s, known_ctx());
    let out = call.send(RobotInput::Start);
    assert!(
        matches!(&out[0], RobotOutput::Play { file, barge_in: false } if file == "sounds/greeting.wav")
    );
    let out = call.keys("1");
    assert!(said(&out).contains("Что случилось в управляющую компанию «Наш дом»?"));
}

#[test]
fn barge_in_stops_only_interruptible_prompts() {
    let mut call = Call::new(&settings(), known_ctx());
    call.auto_playback = false;
    let out = call.send(RobotInput::Start);
    assert!(matches!(
        &out[0],
        RobotOutput::Say {
            barge_in: false,
            ..
        }
    ));
    assert!(matches!(&out[1], RobotOutput::Say { barge_in: true, .. }));
    // Speech over the greeting is not a barge-in.
    assert!(call.send(RobotInput::SpeechStarted).is_empty());
    call.send(RobotInput::PlaybackDone);
    // Over the question it is.
    let out = call.send(RobotInput::SpeechStarted);
    assert!(matches!(&out[..], [RobotOutput::StopPlayback]));
    assert!(call.send(RobotInput::SpeechStarted).is_empty());
    let out = call.say("да");
    assert!(said(&out).contains("Опишите"));
}

#[test]
fn keys_over_a_prompt_stop_it() {
    let mut call = Call::new(&settings(), known_ctx());
    call.auto_playback = false;
    call.send(RobotInput::Start);
    let out = call.keys("1");
    assert!(matches!(out[0], RobotOutput::StopPlayback));
    assert!(said(&out).contains("Опишите"));
}

#[test]
fn star_repeats_the_question() {
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    let out = call.keys("*");
    assert!(said(&out).contains("Вы звоните по адресу"));
    assert_eq!(listens(&out), 1);
    assert_eq!(call.robot.max_keys, 1);
    assert!(!said(&out).contains("не поняла"));
}

#[test]
fn a_person_stuck_in_the_lift_is_a_problem_not_an_operator_request() {
    let mut call = Call::new(&settings(), known_ctx());
    call.send(RobotInput::Start);
    call.keys("1");
    let out = call.say("Я хочу сообщить, что человек застрял в лифте!");
    let t = &tickets(&out)[0];
    assert_eq!((t.topic.as_str(), t.emergency), ("lift", true));
}

/// The `expect` of the last `Listen` in `outs`.
fn expects(outs: &[RobotOutput]) -> Option<Expect> {
    outs.iter().rev().find_map(|o| match o {
        RobotOutput::Listen { expect, .. } => Some(*expect),
        _ => None,
    })
}

#[test]
fn every_question_says_what_answer_it_expects() {
    // The recogniser decodes a number answer differently (slot-aware ASR): each question
    // tells it what it asks for, also when asked again and as a keypad menu.
    let mut call = Call::new(&settings(), known_ctx());
    let out = call.send(RobotInput::Start);
    assert_eq!(expects(&out), Some(Expect::YesNo), "address confirmation");
    let out = call.say("нет");
    assert_eq!(expects(&out), Some(Expect::Free), "street and house");
    let out = call.say("Ленина семь");
    assert_eq!(
        expects(&out),
        Some(Expect::Number(NumberSlot::Apartment)),
        "apartment"
    );
    let out = call.silence();
    assert_eq!(
        expects(&out),
        Some(Expect::Number(NumberSlot::Apartment)),
        "apartment asked again"
    );
    call.say("квартира три");
    let out = call.send(RobotInput::PremisesFound(None));
    assert_eq!(expects(&out), Some(Expect::YesNo), "outage: is this why?");
    call.say("нет");
    let out = call.say("нет");
    assert_eq!(expects(&out), Some(Expect::Free), "problem description");
}
