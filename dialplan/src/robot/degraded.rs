//! When speech cannot be recognised at all (the recogniser is overloaded or failing): the
//! robot says so and goes on with keypad menus, instead of leaving the caller waiting.

use super::DispatcherRobot;

impl DispatcherRobot {
    /// [`super::RobotInput::RecognitionUnavailable`]: the caller's answer to the current
    /// question could not be recognised. The first time, the robot says the `keypad_fallback`
    /// prompt and asks the question again as a keypad menu; every later question of the call
    /// is asked as a menu too (a question that has no menu is asked plainly). When it happens
    /// again, it counts as an answer not understood (re-ask, then give up as usual).
    pub(super) fn on_recognition_unavailable(&mut self) {
        if !self.is_question() {
            return;
        }
        if !self.playing.is_empty() {
            self.stop_playback();
        }
        self.clear_keys();
        if self.keypad_only {
            return self.not_understood();
        }
        self.keypad_only = true;
        let p = self.s.prompts.keypad_fallback.clone();
        self.prompt(&p, true);
        self.menu = self.has_menu();
        self.ask();
    }
}
