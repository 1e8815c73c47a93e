//! The filler («Секунду…»): when recognising the caller's answer takes long, the robot says
//! a short phrase so that the caller does not wait in silence (issue 6: after 1.5 s, once).
//!
//! A sans-IO timer: the robot driver tells it when an utterance went to the recogniser and
//! when the wait ended, asks [`Filler::due`] for the deadline to sleep until, and calls
//! [`Filler::fire`] when it passes. It never reads the clock itself, so tests run on
//! instants they make up.

use std::time::{Duration, Instant};

/// When to say the filler for the question (`Listen` turn) being answered.
#[derive(Debug)]
pub struct Filler {
    /// Wait after the end of the caller's speech; `None`: never say the filler.
    after: Option<Duration>,
    /// When to say it, while an answer is being recognised.
    due: Option<Instant>,
    /// The turn `due` belongs to.
    due_turn: u64,
    /// The last turn the filler was said in (once per turn).
    said_in: Option<u64>,
}

impl Filler {
    /// A filler said `after_ms` ms after the end of the caller's speech if no answer is
    /// ready by then (`filler_after_ms` of the dialplan); 0 turns it off.
    pub fn new(after_ms: u32) -> Filler {
        Filler {
            after: (after_ms > 0).then(|| Duration::from_millis(u64::from(after_ms))),
            due: None,
            due_turn: 0,
            said_in: None,
        }
    }

    /// An utterance that ended at `ended` (the caller's last voiced frame) went to the
    /// recogniser as the answer to question `turn`. The earliest wait of a turn counts.
    pub fn waiting(&mut self, turn: u64, ended: Instant) {
        let Some(after) = self.after else { return };
        if self.said_in == Some(turn) {
            return;
        }
        let at = ended + after;
        match self.due {
            Some(d) if self.due_turn == turn && d <= at => {}
            _ => {
                self.due = Some(at);
                self.due_turn = turn;
            }
        }
    }

    /// Nothing to fill any more: the recogniser answered, or the robot speaks or has moved
    /// on to another question.
    pub fn answered(&mut self) {
        self.due = None;
    }

    /// When [`Filler::fire`] should be called; `None` while nobody waits.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// The deadline passed at `now` while question `turn` is open: whether to say the
    /// filler now. True at most once per turn; false for a deadline of an earlier turn.
    pub fn fire(&mut self, now: Instant, turn: u64) -> bool {
        match self.due {
            Some(d) if d <= now => {
                self.due = None;
                if self.due_turn != turn || self.said_in == Some(turn) {
                    return false;
                }
                self.said_in = Some(turn);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn said_once_1500_ms_after_the_caller_stopped_speaking() {
        let t0 = Instant::now();
        let mut f = Filler::new(1500);
        assert_eq!(f.due(), None);
        // Speech ended at t0; the VAD handed the utterance over 500 ms later.
        f.waiting(1, t0);
        assert_eq!(f.due(), Some(t0 + ms(1500)));
        assert!(!f.fire(t0 + ms(1499), 1));
        assert!(f.fire(t0 + ms(1500), 1));
        assert_eq!(f.due(), None);
        // The caller spoke again meanwhile, and recognition is slow again: not twice.
        f.waiting(1, t0 + ms(3000));
        assert_eq!(f.due(), None);
        assert!(!f.fire(t0 + ms(9000), 1));
        // The next question may have its own.
        f.waiting(2, t0 + ms(10_000));
        assert!(f.fire(t0 + ms(11_500), 2));
    }

    #[test]
    fn not_said_when_the_answer_comes_in_time() {
        let t0 = Instant::now();
        let mut f = Filler::new(1500);
        f.waiting(1, t0);
        f.answered();
        assert_eq!(f.due(), None);
        assert!(!f.fire(t0 + ms(5000), 1));
        // A later wait of the same turn still may get the filler (none was said).
        f.waiting(1, t0 + ms(6000));
        assert!(f.fire(t0 + ms(7500), 1));
    }

    #[test]
    fn the_first_utterance_of_a_turn_sets_the_time() {
        let t0 = Instant::now();
        let mut f = Filler::new(1500);
        f.waiting(1, t0);
        f.waiting(1, t0 + ms(800));
        assert_eq!(f.due(), Some(t0 + ms(1500)));
    }

    #[test]
    fn a_deadline_of_a_question_the_robot_left_is_not_said() {
        let t0 = Instant::now();
        let mut f = Filler::new(1500);
        f.waiting(1, t0);
        // Keys answered question 1 and the robot asked question 2 before the timer ran out.
        assert!(!f.fire(t0 + ms(1500), 2));
        assert_eq!(f.due(), None);
    }

    #[test]
    fn zero_turns_it_off() {
        let t0 = Instant::now();
        let mut f = Filler::new(0);
        f.waiting(1, t0);
        assert_eq!(f.due(), None);
        assert!(!f.fire(t0 + ms(60_000), 1));
    }
}
