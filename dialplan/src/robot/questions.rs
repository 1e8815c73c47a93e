//! Output helpers and the questions the robot asks (plain or as a keypad menu).

use super::{
    DispatcherRobot, Expect, NumberSlot, OutageInfo, RobotOutput, State, APARTMENT_DIGITS, MENU_MAX,
};
use crate::config::Prompt;
use zvonar_models::CallEventKind;

impl DispatcherRobot {
    pub(super) fn say(&mut self, text: String, barge_in: bool) {
        self.playing.push_back(barge_in);
        self.out.push_back(RobotOutput::Say { text, barge_in });
    }

    /// Plays a configured prompt, with `{company}` and `{promise}` filled in.
    pub(super) fn prompt(&mut self, p: &Prompt, barge_in: bool) {
        match p {
            Prompt::Text(t) => {
                let text = t
                    .replace("{company}", &self.s.company)
                    .replace("{promise}", &self.s.callback_promise);
                self.say(text, barge_in);
            }
            Prompt::File(file) => {
                self.playing.push_back(barge_in);
                self.out.push_back(RobotOutput::Play {
                    file: file.clone(),
                    barge_in,
                });
            }
        }
    }

    /// Listens for the answer to the question just asked, which takes up to `max_keys`
    /// digits on the keypad and is spoken as `expect` says; keys typed for an earlier
    /// question are dropped.
    pub(super) fn listen(&mut self, max_keys: u8, expect: Expect) {
        self.clear_keys();
        self.max_keys = max_keys;
        self.out.push_back(RobotOutput::Listen {
            no_input_ms: self.s.no_input_ms,
            max_ms: self.s.max_utterance_ms,
            expect,
        });
    }

    pub(super) fn event(&mut self, kind: CallEventKind) {
        self.out.push_back(RobotOutput::Event(kind));
    }

    pub(super) fn stop_playback(&mut self) {
        self.out.push_back(RobotOutput::StopPlayback);
        self.playing.clear();
    }

    pub(super) fn outages(&self) -> &[OutageInfo] {
        self.building
            .and_then(|id| self.ctx.buildings.iter().find(|b| b.id == id))
            .map_or(&[], |b| b.outages.as_slice())
    }

    // ----- questions -----

    /// Enters a question state and asks it as a keypad menu.
    pub(super) fn enter_menu(&mut self, state: State) {
        self.enter_as(state, true);
    }

    /// Enters a question state and asks it.
    pub(super) fn enter(&mut self, state: State) {
        self.enter_as(state, false);
    }

    fn enter_as(&mut self, state: State, menu: bool) {
        self.state = state;
        self.no_input = 0;
        self.not_understood = 0;
        self.menu = menu || (self.keypad_only && self.has_menu());
        if let State::AwaitingOutageAnswer { index } = state {
            if let Some(o) = self.outages().get(index).cloned() {
                self.event(CallEventKind::OutageAnnounced { outage_id: o.id });
                let text = format!(
                    "Обратите внимание: в вашем доме отключение {} с {} до {}.",
                    o.what, o.since, o.until
                );
                self.say(text, true);
            }
        }
        self.ask();
    }

    /// Asks the current state's question (plainly or as a keypad menu), then listens.
    pub(super) fn ask(&mut self) {
        const YES_NO: &str = "Скажите да или нет, или нажмите 1 — да, 2 — нет.";
        match self.state {
            State::AwaitingAddressConfirmation => {
                let addr = self
                    .ctx
                    .known
                    .as_ref()
                    .map_or(String::new(), |k| k.address_spoken.clone());
                let text = if self.menu {
                    format!("Если вы звоните по адресу {addr}, нажмите 1. Если нет — нажмите 2.")
                } else {
                    format!("Вы звоните по адресу {addr}? {YES_NO}")
                };
                self.say(text, true);
                self.listen(1, Expect::YesNo);
            }
            State::AwaitingBuilding => {
                if self.menu {
                    let items: Vec<String> = self
                        .ctx
                        .buildings
                        .iter()
                        .take(MENU_MAX)
                        .enumerate()
                        .map(|(i, b)| format!("{} — {}", i + 1, b.spoken))
                        .collect();
                    self.say(format!("Нажмите {}.", items.join("; ")), true);
                } else {
                    let p = self.s.prompts.ask_building.clone();
                    self.prompt(&p, true);
                }
                self.listen(1, Expect::Free);
            }
            State::AwaitingApartment => {
                if self.menu {
                    let text = "Наберите номер квартиры на телефоне и нажмите решётку.";
                    self.say(text.to_string(), true);
                } else {
                    let p = self.s.prompts.ask_apartment.clone();
                    self.prompt(&p, true);
                }
                self.listen(APARTMENT_DIGITS, Expect::Number(NumberSlot::Apartment));
            }
            State::AwaitingApartmentConfirmation => self.ask_confirmation(),
            State::AwaitingOutageAnswer { .. } => {
                let text = if self.menu {
                    "Если вы звоните по поводу этого отключения, нажмите 1. Если нет — нажмите 2."
                        .to_string()
                } else {
                    format!("Вы звоните по этому поводу? {YES_NO}")
                };
                self.say(text, true);
                self.listen(1, Expect::YesNo);
            }
            State::AwaitingProblem => {
                if self.menu {
                    let items: Vec<String> = self
                        .s
                        .topics
                        .iter()
                        .take(MENU_MAX)
                        .enumerate()
                        .map(|(i, t)| format!("{} — {}", i + 1, t.name))
                        .collect();
                    self.say(
                        format!("Выберите тему заявки. Нажмите {}.", items.join(", ")),
                        true,
                    );
                } else {
                    let p = self.s.prompts.ask_problem.clone();
                    self.prompt(&p, true);
                }
                self.listen(1, Expect::Free);
            }
            _ => {}
        }
    }

    pub(super) fn is_question(&self) -> bool {
        matches!(
            self.state,
            State::AwaitingAddressConfirmation
                | State::AwaitingBuilding
                | State::AwaitingApartment
                | State::AwaitingApartmentConfirmation
                | State::AwaitingOutageAnswer { .. }
                | State::AwaitingProblem
        )
    }

    pub(super) fn has_menu(&self) -> bool {
        match self.state {
            State::AwaitingBuilding => (1..=MENU_MAX).contains(&self.ctx.buildings.len()),
            State::AwaitingProblem => !self.s.topics.is_empty(),
            _ => true,
        }
    }
}
