//! Filling the building and apartment slots: the registry check, the read-back for
//! confirmation and the `SlotFilled` events of the call timeline.
//!
//! An apartment is read back («Квартира сто семьдесят девять, верно? Скажите да или нет, или
//! нажмите 1 или 2») when it was said with an ASR confidence below `confirm_below`, or when
//! it is not in the registry's list of the building — then the nearest plausible value is
//! proposed instead, if there is one (see [`super::slots`]), after
//! `apartment_not_in_registry`. Keyed apartments are read back only when not in the
//! registry. «Да» or 1 takes the value; «нет» or 2 asks again (voice or keys); a second
//! «нет» asks for the keys; a third goes on without the apartment (the dispatcher will ask).
//! A number said instead of yes/no is a corrected answer.

use super::{
    apartment_words, in_registry, nearest_plausible, parse_number_answer, yes_no, DispatcherRobot,
    Expect, NumberKind, RobotOutput, State, YesNo,
};
use crate::config::Prompt;
use zvonar_models::{BuildingId, CallEventKind};

/// Where a slot value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// Recognised speech.
    Voice,
    /// DTMF keys.
    Keys,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Voice => "voice",
            Source::Keys => "keys",
        }
    }
}

/// An apartment the caller gave, not yet taken.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Heard {
    /// As the registry writes it: `179`, `12а`.
    pub(crate) value: String,
    pub(crate) source: Source,
    /// ASR confidence (voice only).
    pub(crate) confidence: Option<f32>,
    /// Heard through a sound-alike word («Сим» for «семь»): read back whatever the
    /// confidence.
    pub(crate) doubtful: bool,
}

impl Heard {
    pub(crate) fn voice(value: String, confidence: f32) -> Self {
        Heard {
            value,
            source: Source::Voice,
            confidence: Some(confidence),
            doubtful: false,
        }
    }

    pub(crate) fn keys(value: String) -> Self {
        Heard {
            value,
            source: Source::Keys,
            confidence: None,
            doubtful: false,
        }
    }
}

impl DispatcherRobot {
    /// Publishes a `SlotFilled` event.
    pub(super) fn slot(
        &mut self,
        slot: &str,
        value: String,
        confidence: Option<f32>,
        confirmed: bool,
    ) {
        let source = if confidence.is_some() {
            Source::Voice
        } else {
            Source::Keys
        };
        self.event(CallEventKind::SlotFilled {
            slot: slot.to_string(),
            value,
            source: source.as_str().to_string(),
            confidence,
            confirmed,
        });
    }

    /// The caller confirmed the address found by caller ID (it was read back to them).
    pub(super) fn address_slot(&mut self, confidence: Option<f32>) {
        if let Some(k) = self.ctx.known.clone() {
            self.slot("address", k.address_spoken, confidence, true);
        }
    }

    /// The caller named building `index` of the context (`confidence`: by voice; `None`:
    /// keys; the building is not a slot the caller filled when there is only one). Loads its
    /// apartments; then checks `apartment` when it was said with the building, or asks for it.
    pub(super) fn choose_building(
        &mut self,
        index: usize,
        confidence: Option<f32>,
        apartment: Option<Heard>,
    ) {
        let Some(b) = self.ctx.buildings.get(index).cloned() else {
            return self.after_identified();
        };
        if self.ctx.buildings.len() > 1 {
            self.slot("building", b.spoken.clone(), confidence, false);
        }
        self.building = Some(b.id);
        self.apartments = None;
        self.held = apartment;
        self.state = State::AwaitingApartmentList;
        self.out
            .push_back(RobotOutput::LoadApartments { building_id: b.id });
    }

    pub(super) fn on_apartments(&mut self, building: BuildingId, list: Option<Vec<String>>) {
        if self.state != State::AwaitingApartmentList || self.building != Some(building) {
            return;
        }
        // A building without premises in the registry is not checked: every apartment would
        // be «not in the list».
        self.apartments = list.filter(|l| !l.is_empty());
        match self.held.take() {
            Some(h) => {
                // Counters of the apartment question start here, as if it had been asked.
                self.no_input = 0;
                self.not_understood = 0;
                self.menu = false;
                self.state = State::AwaitingApartment;
                self.apartment_heard(h);
            }
            None => self.enter(State::AwaitingApartment),
        }
    }

    /// An apartment given by voice or keys: taken, or read back (see the module docs).
    pub(super) fn apartment_heard(&mut self, h: Heard) {
        let registry = self.apartments.clone();
        let known = registry.as_deref().map(|r| in_registry(&h.value, r));
        if known == Some(false) {
            let p = self.s.prompts.apartment_not_in_registry.clone();
            self.prompt_number(&p, &h.value, true);
            let proposal = match (h.source, registry.as_deref()) {
                (Source::Voice, Some(r)) => nearest_plausible(&h.value, r),
                _ => None,
            };
            let pending = match proposal {
                Some(value) => Heard { value, ..h },
                None => h,
            };
            return self.confirm(pending);
        }
        let unsure = h.doubtful || h.confidence.is_some_and(|c| c < self.s.confirm_below);
        if unsure {
            return self.confirm(h);
        }
        self.take_apartment(h, false);
    }

    fn confirm(&mut self, h: Heard) {
        self.pending = Some(h);
        self.enter(State::AwaitingApartmentConfirmation);
    }

    /// Asks the confirmation question for the pending apartment.
    pub(super) fn ask_confirmation(&mut self) {
        let value = self
            .pending
            .as_ref()
            .map_or(String::new(), |h| h.value.clone());
        if self.menu {
            let text = format!(
                "Если квартира {}, нажмите 1. Если нет — нажмите 2.",
                apartment_words(&value)
            );
            self.say(text, true);
        } else {
            let p = self.s.prompts.confirm_apartment.clone();
            self.prompt_number(&p, &value, true);
        }
        self.listen(1, Expect::YesNo);
    }

    /// Says a prompt with `{number}` replaced by `apartment` in words.
    fn prompt_number(&mut self, p: &Prompt, apartment: &str, barge_in: bool) {
        match p {
            Prompt::Text(t) => {
                let text = self
                    .s
                    .fill(t)
                    .replace("{number}", &apartment_words(apartment));
                self.say(text, barge_in);
            }
            // The configuration accepts only texts here; a file is played as it is.
            Prompt::File(_) => self.prompt(p, barge_in),
        }
    }

    fn take_apartment(&mut self, h: Heard, confirmed: bool) {
        self.pending = None;
        self.slot("apartment", h.value.clone(), h.confidence, confirmed);
        let how = match h.source {
            Source::Voice => "speech",
            Source::Keys => "keypad",
        };
        self.lookup(h.value, how);
    }

    /// «Да» or 1 to the read-back.
    pub(super) fn confirmed(&mut self) {
        match self.pending.take() {
            Some(h) => self.take_apartment(h, true),
            None => self.enter(State::AwaitingApartment),
        }
    }

    /// «Нет» or 2 to the read-back (or no answer to it): ask again, then for the keys, then
    /// go on without the apartment.
    pub(super) fn denied(&mut self) {
        self.pending = None;
        self.denials += 1;
        match self.denials {
            1 => self.enter(State::AwaitingApartment),
            2 => self.enter_menu(State::AwaitingApartment),
            _ => self.after_identified(),
        }
    }

    /// What the caller said to the read-back.
    pub(super) fn on_confirmation(&mut self, text: &str, confidence: f32) {
        // A number instead of yes/no («нет, сто семьдесят девять»): the answer corrected, or
        // the same number again, which is a yes. «Один»/«два» are the keypad's yes/no.
        let answer = parse_number_answer(text, NumberKind::Apartment);
        let number = answer
            .accepted()
            .map(|v| v.to_string())
            .filter(|a| a != "1" && a != "2");
        if let Some(a) = number {
            if self.pending.as_ref().is_some_and(|h| h.value == a) {
                return self.confirmed();
            }
            self.pending = None;
            self.denials += 1;
            let mut h = Heard::voice(a, confidence);
            h.doubtful = answer.soundalike;
            return self.apartment_heard(h);
        }
        match yes_no(text) {
            Some(YesNo::Yes) => self.confirmed(),
            Some(YesNo::No) => self.denied(),
            None => self.not_understood_heard(text),
        }
    }
}
