//! Keypad answers: the engine sends one key per input; the robot collects the digits of one
//! answer (a multi-digit apartment) with an inter-digit timer it asks the engine to run.
//!
//! Rules, as IVRs commonly use them (Asterisk `Read()`, FreeSWITCH `play_and_get_digits`):
//! a one-key question reacts to the key at once; a multi-key answer ends with `#`, with its
//! last allowed digit, or `inter_digit_ms` after the last key; `*` clears what was typed and
//! asks again; `0` as the first key asks for a person.

use super::{DispatcherRobot, Heard, RobotOutput, State, MENU_MAX};

impl DispatcherRobot {
    pub(super) fn on_key(&mut self, key: char) {
        if !self.is_question() {
            return;
        }
        if !self.playing.is_empty() {
            self.stop_playback();
        }
        match key {
            '*' => {
                self.clear_keys();
                self.ask();
            }
            '#' => {
                let entry = self.take_keys();
                self.on_entry(&entry);
            }
            '0' if self.keys.is_empty() => {
                self.clear_keys();
                self.operator();
            }
            '0'..='9' => {
                self.keys.push(key);
                if self.keys.len() >= usize::from(self.max_keys.max(1)) {
                    let entry = self.take_keys();
                    self.on_entry(&entry);
                } else {
                    self.digit_timer = true;
                    self.out.push_back(RobotOutput::StartDigitTimer {
                        ms: self.s.inter_digit_ms,
                    });
                }
            }
            // A–D (RFC 4733 events 12–15) mean nothing here.
            _ => self.not_understood(),
        }
    }

    pub(super) fn on_digit_timeout(&mut self) {
        if !self.digit_timer {
            return;
        }
        self.digit_timer = false;
        if !self.is_question() || self.keys.is_empty() {
            return;
        }
        let entry = std::mem::take(&mut self.keys);
        self.on_entry(&entry);
    }

    /// Drops the keys typed so far and stops their timer.
    pub(super) fn clear_keys(&mut self) {
        self.keys.clear();
        if self.digit_timer {
            self.digit_timer = false;
            self.out.push_back(RobotOutput::CancelDigitTimer);
        }
    }

    fn take_keys(&mut self) -> String {
        let entry = std::mem::take(&mut self.keys);
        self.clear_keys();
        entry
    }

    /// A complete keyed answer (digits only, possibly empty) to the current question.
    fn on_entry(&mut self, digits: &str) {
        let n: Option<usize> = digits.parse().ok();
        match (self.state, n) {
            (State::AwaitingAddressConfirmation, Some(1)) => {
                self.address_slot(None);
                self.address_confirmed()
            }
            (State::AwaitingAddressConfirmation, Some(2)) => self.ask_for_building(),
            (State::AwaitingBuilding, Some(n))
                if (1..=self.ctx.buildings.len().min(MENU_MAX)).contains(&n) =>
            {
                self.choose_building(n - 1, None, None);
            }
            (State::AwaitingApartment, Some(n)) if n > 0 => {
                self.apartment_heard(Heard::keys(n.to_string()))
            }
            (State::AwaitingApartmentConfirmation, Some(1)) => self.confirmed(),
            (State::AwaitingApartmentConfirmation, Some(2)) => self.denied(),
            (State::AwaitingOutageAnswer { index }, Some(1)) => {
                self.outage_ticket(index, "нажата 1")
            }
            (State::AwaitingOutageAnswer { index }, Some(2)) => self.next_outage(index),
            (State::AwaitingProblem, Some(n))
                if (1..=self.s.topics.len().min(MENU_MAX)).contains(&n) =>
            {
                let t = &self.s.topics[n - 1];
                let (code, desc) = (t.code.clone(), format!("Выбрано в меню: {}", t.name));
                self.slot("topic", code.clone(), None, false);
                self.ticket(code, false, desc);
            }
            _ => self.not_understood(),
        }
    }
}
