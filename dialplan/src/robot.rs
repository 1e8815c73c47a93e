//! The voice dispatcher robot: a sans-IO state machine (like quinn-proto or str0m).
//!
//! The engine feeds [`RobotInput`]s with [`DispatcherRobot::handle`] and drains
//! [`RobotOutput`]s with [`DispatcherRobot::poll_output`]; the robot never reads a clock,
//! never sleeps and does no IO, so a whole call runs in memory in tests.
//!
//! ```no_run
//! # use zvonar_dialplan::robot::*;
//! # use zvonar_dialplan::config::DispatcherSettings;
//! # fn engine_input() -> RobotInput { RobotInput::CallerHangup }
//! let mut robot = DispatcherRobot::new(&DispatcherSettings::default(), CallContext::default());
//! robot.handle(RobotInput::Start);
//! while !robot.is_finished() {
//!     while let Some(out) = robot.poll_output() {
//!         // Say/Play → TTS/playback queue; Listen → ASR + DTMF; LookupPremises → billing;
//!         // CreateTicket/RequestCallback → dispatch; Event → event bus; Hangup → BYE.
//!         let _ = out;
//!     }
//!     robot.handle(engine_input()); // PlaybackDone, Utterance, Key, NoInput, DigitTimeout, …
//! }
//! ```
//!
//! The call, in Russian: greeting; a caller known by number confirms the address
//! («Вы звоните по адресу …?», yes/no or keys 1/2); others name street and house (or pick
//! from a keypad menu) and the apartment (voice, or keys and `#`, one [`RobotInput::Key`]
//! per key as the engine receives them, see there); outages on the building
//! are announced and a caller who calls about one gets a linked ticket; otherwise the
//! caller describes the problem, which is classified into a topic and filed; the ticket
//! number is read out in groups of two or three digits. «Оператор» or key 0 at any question, or a
//! second failure to understand the caller: with an `operator_flow` the call is handed to the
//! operator queue with what the robot knows ([`RobotOutput::HandOver`]; emergencies too with
//! `emergency_to_operator`); when the queue overflows, or without one, a callback is requested.
//! Silence and noise never file a normal ticket.

use crate::classify::classify;
use crate::config::DispatcherSettings;
use crate::numerals::{parse_apartment, parse_number, parse_number_answer, NumberKind};
use std::collections::VecDeque;
use zvonar_models::{AccountId, BuildingId, CallEventKind, PremisesId};

mod confirm;
mod degraded;
mod keys;
mod questions;
mod slots;
mod steps;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_degraded;
#[cfg(test)]
mod tests_handover;
#[cfg(test)]
mod tests_keys;
#[cfg(test)]
mod tests_numbers;
#[cfg(test)]
mod tests_unhappy;
mod types;
mod understand;

use confirm::Heard;
pub use slots::number_words;
use slots::{apartment_words, in_registry, nearest_plausible};
pub use types::{
    BuildingInfo, CallContext, Expect, FoundPremises, Handover, KnownPremises, NumberSlot,
    OutageInfo, Outcome, RobotInput, RobotOutput, State,
};
use understand::{is_garbage, match_building, only_fillers, wants_operator, yes_no, YesNo};

/// Topic code of tickets linked to an outage.
pub const OUTAGE_TOPIC: &str = "outage";
/// Most entries a keypad menu offers (keys 1–9; 0 is the operator).
const MENU_MAX: usize = 9;
/// Digits an apartment number may take on the keypad (up to 9999); the entry ends at the
/// fourth digit without waiting for `#`.
const APARTMENT_DIGITS: u8 = 4;

/// The dispatcher robot for one call. See the [module docs](self).
#[derive(Debug)]
pub struct DispatcherRobot {
    s: DispatcherSettings,
    ctx: CallContext,
    state: State,
    out: VecDeque<RobotOutput>,
    /// Barge-in flags of prompts sent and not yet reported done, in order.
    playing: VecDeque<bool>,
    /// Re-asks of the current question after no input / not understood.
    no_input: u8,
    not_understood: u8,
    /// The current question is offered as a keypad menu.
    menu: bool,
    /// Speech could not be recognised earlier in the call: every question is asked as a
    /// keypad menu where it has one.
    keypad_only: bool,
    /// Digits typed so far for the current question.
    keys: String,
    /// Digits the current question's answer may take (1: react to the first key).
    max_keys: u8,
    /// A `StartDigitTimer` is outstanding (not cancelled, not expired).
    digit_timer: bool,
    building: Option<BuildingId>,
    apartment: Option<String>,
    premises: Option<PremisesId>,
    account: Option<AccountId>,
    /// How the apartment was given: `speech` or `keypad`.
    how: &'static str,
    /// The apartments of `building` in the registry, once `Apartments` answered (`None`:
    /// unknown, nothing is checked).
    apartments: Option<Vec<String>>,
    /// An apartment heard with the building, checked once the building's list arrives.
    held: Option<Heard>,
    /// The apartment being read back for confirmation.
    pending: Option<Heard>,
    /// Read-backs of the apartment the caller denied (or did not answer) on this call.
    denials: u8,
    /// Everything understood so far, for the callback request.
    heard: Vec<String>,
    /// The same with the recogniser's confidence, for the operator's card.
    heard_conf: Vec<zvonar_models::HeardUtterance>,
    /// The call was handed to an operator queue once: a second request gets a callback.
    handed_over: bool,
    /// Number of the ticket filed on this call, for the operator's card.
    ticket_number: Option<String>,
    /// The request filed on this call (not unfinished ones), for the operator's card.
    filed: Option<zvonar_models::TicketRequest>,
    /// A problem description heard but not yet filed.
    problem: Option<String>,
    /// Outcome decided (Closing) or set when finishing.
    outcome: Option<Outcome>,
    /// The pending ticket request is linked to an outage.
    ticket_outage: Option<usize>,
    ticket_emergency: bool,
}

impl DispatcherRobot {
    /// A robot for one call; it starts on [`RobotInput::Start`].
    pub fn new(settings: &DispatcherSettings, ctx: CallContext) -> Self {
        DispatcherRobot {
            s: settings.clone(),
            ctx,
            state: State::AwaitingStart,
            out: VecDeque::new(),
            playing: VecDeque::new(),
            no_input: 0,
            not_understood: 0,
            menu: false,
            keypad_only: false,
            keys: String::new(),
            max_keys: 1,
            digit_timer: false,
            building: None,
            apartment: None,
            premises: None,
            account: None,
            how: "speech",
            apartments: None,
            held: None,
            pending: None,
            denials: 0,
            heard: Vec::new(),
            heard_conf: Vec::new(),
            handed_over: false,
            ticket_number: None,
            filed: None,
            problem: None,
            outcome: None,
            ticket_outage: None,
            ticket_emergency: false,
        }
    }

    /// Where the robot is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The outcome, once decided (it is emitted as an event when the call ends).
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// Whether the robot is done: it will emit nothing more.
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished && self.out.is_empty()
    }

    /// The next thing for the engine to do, if any.
    pub fn poll_output(&mut self) -> Option<RobotOutput> {
        self.out.pop_front()
    }

    /// Feeds one input. Inputs that make no sense in the current state are ignored.
    pub fn handle(&mut self, input: RobotInput) {
        if self.state == State::Finished {
            return;
        }
        match input {
            RobotInput::Start => self.on_start(),
            RobotInput::Utterance { text, confidence } => self.on_utterance(&text, confidence),
            RobotInput::SpeechStarted => {
                if self.playing.front() == Some(&true) {
                    self.stop_playback();
                }
            }
            RobotInput::Key(key) => self.on_key(key),
            RobotInput::DigitTimeout => self.on_digit_timeout(),
            RobotInput::NoInput => self.on_no_input(),
            RobotInput::PlaybackDone => {
                self.playing.pop_front();
                if self.state == State::Closing && self.playing.is_empty() {
                    self.finish();
                }
            }
            RobotInput::PremisesFound(found) => self.on_premises(found),
            RobotInput::Apartments {
                building_id,
                apartments,
            } => self.on_apartments(building_id, apartments),
            RobotInput::TicketCreated { number } => self.on_ticket(&number),
            RobotInput::TicketNotFiled => {
                if self.state == State::AwaitingTicket {
                    let p = self.s.prompts.ticket_not_filed.clone();
                    self.prompt(&p, false);
                    self.close(Outcome::TicketNotFiled);
                }
            }
            RobotInput::CallbackRecorded => {
                if self.state == State::AwaitingCallbackRecorded {
                    let p = self.s.prompts.callback_recorded.clone();
                    self.prompt(&p, false);
                    self.close(Outcome::CallbackRequested);
                }
            }
            RobotInput::RecognitionUnavailable => self.on_recognition_unavailable(),
            // Also the first input of a call that overflowed from a queue it was routed to:
            // no greeting, the callback request at once.
            RobotInput::OperatorUnavailable => {
                if matches!(self.state, State::AwaitingOperator | State::AwaitingStart) {
                    self.callback();
                }
            }
            RobotInput::OperatorAnswered => {
                if self.state == State::AwaitingOperator {
                    self.outcome = Some(Outcome::HandedOver);
                    self.event(CallEventKind::Outcome {
                        outcome: Outcome::HandedOver.as_str().to_string(),
                    });
                    self.state = State::Finished;
                }
            }
            RobotInput::CallerHangup => self.on_hangup(Outcome::CallerHangup),
            RobotInput::Shutdown => self.on_hangup(Outcome::Shutdown),
        }
    }

    // ----- inputs -----

    fn on_start(&mut self) {
        if self.state != State::AwaitingStart {
            return;
        }
        let greeting = self.s.prompts.greeting.clone();
        self.prompt(&greeting, false);
        if self.ctx.known.is_some() {
            self.enter(State::AwaitingAddressConfirmation);
        } else {
            self.ask_for_building();
        }
    }

    fn ask_for_building(&mut self) {
        match self.ctx.buildings.len() {
            0 => self.enter(State::AwaitingProblem),
            1 => self.choose_building(0, None, None),
            _ => self.enter(State::AwaitingBuilding),
        }
    }

    fn on_utterance(&mut self, text: &str, confidence: f32) {
        if !self.is_question() {
            return;
        }
        if !self.playing.is_empty() {
            self.stop_playback();
        }
        // A spoken answer replaces keys typed so far.
        self.clear_keys();
        if confidence < self.s.min_confidence || is_garbage(text) {
            return self.not_understood();
        }
        let text = text.trim();
        self.heard.push(text.to_string());
        self.heard_conf.push(zvonar_models::HeardUtterance {
            text: text.to_string(),
            confidence,
        });
        if wants_operator(text) {
            return self.operator();
        }
        match self.state {
            State::AwaitingAddressConfirmation => match yes_no(text) {
                Some(YesNo::Yes) => {
                    self.remember_problem(text);
                    self.address_slot(Some(confidence));
                    self.address_confirmed();
                }
                Some(YesNo::No) => {
                    self.remember_problem(text);
                    self.ask_for_building();
                }
                None => self.not_understood_heard(text),
            },
            State::AwaitingBuilding => {
                let picked = match_building(text, &self.ctx.buildings).or_else(|| {
                    // In the menu, the entry number may be said: «два».
                    let n = parse_number(text)? as usize;
                    (self.menu && (1..=self.ctx.buildings.len().min(MENU_MAX)).contains(&n))
                        .then(|| n - 1)
                });
                match picked {
                    Some(i) => {
                        let words = crate::classify::words(text);
                        let apt = if words.iter().any(|w| w.starts_with("квартир")) {
                            parse_apartment(text).map(|a| Heard::voice(a, confidence))
                        } else {
                            None
                        };
                        self.choose_building(i, Some(confidence), apt);
                    }
                    None => self.not_understood_heard(text),
                }
            }
            // A sentence with numbers among other words («…в 45 минут 3 доллара 5 центов»)
            // is not an apartment.
            State::AwaitingApartment => {
                let answer = parse_number_answer(text, NumberKind::Apartment);
                match answer.accepted() {
                    Some(a) => {
                        let mut h = Heard::voice(a.to_string(), confidence);
                        // «Сим» taken as «семь»: worth reading back whatever the confidence.
                        h.doubtful = answer.soundalike;
                        self.apartment_heard(h)
                    }
                    None => self.not_understood_heard(text),
                }
            }
            State::AwaitingApartmentConfirmation => self.on_confirmation(text, confidence),
            State::AwaitingOutageAnswer { index } => match yes_no(text) {
                Some(YesNo::Yes) => self.outage_ticket(index, text),
                Some(YesNo::No) => {
                    self.remember_problem(text);
                    self.next_outage(index);
                }
                None => self.not_understood_heard(text),
            },
            State::AwaitingProblem => {
                if only_fillers(text) {
                    return self.not_understood();
                }
                let c = classify(text, &self.s.topics, &self.s.fallback_topic);
                self.slot("topic", c.topic.clone(), Some(confidence), false);
                self.ticket(c.topic, c.emergency, text.to_string());
            }
            _ => {}
        }
    }

    fn on_no_input(&mut self) {
        // Keys are being typed: the inter-digit timer decides.
        if !self.is_question() || !self.keys.is_empty() {
            return;
        }
        self.no_input += 1;
        if self.no_input <= self.s.max_retries {
            let p = self.s.prompts.no_input.clone();
            self.prompt(&p, true);
            self.ask();
        } else {
            let p = self.s.prompts.silence_goodbye.clone();
            self.end_incomplete(p, Outcome::Silence);
        }
    }

    fn on_premises(&mut self, found: Option<FoundPremises>) {
        if self.state != State::AwaitingPremisesLookup {
            return;
        }
        if let Some(f) = found {
            self.premises = Some(f.premises_id);
            self.account = f.account_id;
            self.event(CallEventKind::Identified {
                account_id: f.account_id,
                premises_id: Some(f.premises_id),
                how: self.how.to_string(),
            });
        }
        self.after_identified();
    }

    fn on_ticket(&mut self, number: &str) {
        if self.state != State::AwaitingTicket {
            return;
        }
        // The TTS reads it in groups («двенадцать, триста сорок пять», zvonar_voice::say_ru).
        let mut text = format!("Ваша заявка принята. Номер заявки: {number}.");
        let outcome = match self
            .ticket_outage
            .and_then(|i| self.outages().get(i).cloned())
        {
            Some(o) => {
                text.push_str(&format!(
                    " Подачу {} планируют восстановить до {}.",
                    o.what, o.until
                ));
                Outcome::OutageLinked
            }
            None => Outcome::TicketCreated,
        };
        self.say(text, false);
        self.ticket_number = Some(number.to_string());
        if self.ticket_emergency
            && outcome == Outcome::TicketCreated
            && self.s.emergency_to_operator
            && self.s.operator_flow.is_some()
        {
            return self.hand_over(zvonar_models::HandoverReason::Emergency);
        }
        if self.ticket_emergency && outcome == Outcome::TicketCreated {
            let p = self.s.prompts.emergency_registered.clone();
            self.prompt(&p, false);
        }
        let p = self.s.prompts.goodbye.clone();
        self.prompt(&p, false);
        self.close(outcome);
    }

    /// The call ends under the robot (caller's BYE, or shutdown); `nothing_filed` is the
    /// outcome when nothing was collected.
    fn on_hangup(&mut self, nothing_filed: Outcome) {
        self.playing.clear();
        self.keys.clear();
        self.digit_timer = false;
        let outcome = match (self.outcome, self.state) {
            (Some(o), _) => o,
            (None, State::AwaitingTicket) if self.ticket_outage.is_some() => Outcome::OutageLinked,
            (None, State::AwaitingTicket) => Outcome::TicketCreated,
            (None, State::AwaitingCallbackRecorded) => Outcome::CallbackRequested,
            // Waiting for an operator after the ticket was filed (an emergency).
            (None, State::AwaitingOperator) if self.ticket_number.is_some() => {
                Outcome::TicketCreated
            }
            (None, _) => match self.problem.take() {
                Some(p) => {
                    self.unfinished_ticket(p);
                    Outcome::Unfinished
                }
                None => nothing_filed,
            },
        };
        self.outcome = Some(outcome);
        self.event(CallEventKind::Outcome {
            outcome: outcome.as_str().to_string(),
        });
        self.state = State::Finished;
    }
}
