//! A simple answering-machine heuristic (AMD), sans-IO: after the answer, a person says a
//! short «Алло?» and pauses; an answering machine speaks a long greeting without a pause.
//! So the remote side speaking continuously for longer than `greeting_ms` before its first
//! pause is taken for a machine. The caller feeds the voice activity detector's events (the
//! engine's VAD: speech started, speech ended after its end-of-speech silence) with the time
//! since the answer, and polls at [`Detector::deadline`].
//!
//! Decisions: the first pause after less than `greeting_ms` of speech → [`Verdict::Human`];
//! speech still going on at `greeting_ms` → [`Verdict::Machine`]; nobody speaking for
//! `silence_ms` after the answer → [`Verdict::Human`] (a person who listens silently). After
//! [`Verdict::Machine`], [`Detector::greeting_ended`] says when the greeting is over (its
//! first pause), the moment to leave a message after the beep.

/// The heuristic's thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AmdSettings {
    /// Continuous speech before the first pause longer than this is a machine's greeting, ms
    /// (3500 by default: «Алло?», «Да, слушаю» last well under 2 s).
    pub greeting_ms: u64,
    /// Nobody speaking this long after the answer: a person listening, ms (2500 by default).
    pub silence_ms: u64,
}

impl Default for AmdSettings {
    fn default() -> Self {
        Self {
            greeting_ms: 3500,
            silence_ms: 2500,
        }
    }
}

/// What the detector has decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not yet known: keep listening.
    Listening,
    /// A person: play the message.
    Human,
    /// An answering machine.
    Machine,
}

/// The detector of one answered call; times in ms since the answer.
#[derive(Clone, Debug)]
pub struct Detector {
    settings: AmdSettings,
    speech_since: Option<u64>,
    verdict: Verdict,
    greeting_over: bool,
}

impl Detector {
    /// A detector for a call answered at 0 ms.
    pub fn new(settings: AmdSettings) -> Self {
        Self {
            settings,
            speech_since: None,
            verdict: Verdict::Listening,
            greeting_over: false,
        }
    }

    /// The verdict so far.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// Whether a machine's greeting has ended (its first pause after [`Verdict::Machine`]).
    pub fn greeting_ended(&self) -> bool {
        self.greeting_over
    }

    /// The VAD heard speech start at `at_ms` (its onset).
    pub fn on_speech_started(&mut self, at_ms: u64) -> Verdict {
        if self.speech_since.is_none() && !self.greeting_over {
            self.speech_since = Some(at_ms);
        }
        self.poll(at_ms)
    }

    /// The VAD closed an utterance whose voice stopped at `at_ms` (the first pause).
    pub fn on_speech_ended(&mut self, at_ms: u64) -> Verdict {
        let v = self.poll(at_ms);
        match (v, self.speech_since.take()) {
            (Verdict::Listening, Some(_)) => self.verdict = Verdict::Human,
            (Verdict::Machine, _) => self.greeting_over = true,
            _ => {}
        }
        self.verdict
    }

    /// The verdict at `now_ms` (call at [`Detector::deadline`] at the latest).
    pub fn poll(&mut self, now_ms: u64) -> Verdict {
        if self.verdict == Verdict::Listening {
            match self.speech_since {
                Some(s) if now_ms.saturating_sub(s) > self.settings.greeting_ms => {
                    self.verdict = Verdict::Machine;
                }
                None if now_ms >= self.settings.silence_ms => self.verdict = Verdict::Human,
                _ => {}
            }
        }
        self.verdict
    }

    /// When [`Detector::poll`] may next change the verdict, ms since the answer (`None`
    /// once decided).
    pub fn deadline(&self) -> Option<u64> {
        match (self.verdict, self.speech_since) {
            (Verdict::Listening, Some(s)) => Some(s + self.settings.greeting_ms + 1),
            (Verdict::Listening, None) => Some(self.settings.silence_ms),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_hello_is_a_person() {
        let mut d = Detector::new(AmdSettings::default());
        assert_eq!(d.on_speech_started(300), Verdict::Listening);
        assert_eq!(d.deadline(), Some(3801));
        assert_eq!(d.poll(1000), Verdict::Listening);
        // «Алло?» of 0.6 s, then a pause.
        assert_eq!(d.on_speech_ended(900), Verdict::Human);
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn a_long_greeting_is_a_machine_and_its_end_is_reported() {
        let mut d = Detector::new(AmdSettings::default());
        d.on_speech_started(200);
        assert_eq!(d.poll(3700), Verdict::Listening, "exactly 3.5 s: not yet");
        assert_eq!(d.poll(3701), Verdict::Machine);
        assert!(!d.greeting_ended());
        // The greeting goes on, then pauses before the beep.
        assert_eq!(d.on_speech_ended(6200), Verdict::Machine);
        assert!(d.greeting_ended());
    }

    #[test]
    fn a_greeting_reported_only_when_it_ends_is_still_a_machine() {
        // The VAD reports the end of a 5 s greeting without a poll in between.
        let mut d = Detector::new(AmdSettings::default());
        d.on_speech_started(100);
        assert_eq!(d.on_speech_ended(5100), Verdict::Machine);
        assert!(d.greeting_ended());
    }

    #[test]
    fn silence_after_the_answer_is_a_person_listening() {
        let mut d = Detector::new(AmdSettings {
            greeting_ms: 3500,
            silence_ms: 2000,
        });
        assert_eq!(d.deadline(), Some(2000));
        assert_eq!(d.poll(1999), Verdict::Listening);
        assert_eq!(d.poll(2000), Verdict::Human);
    }

    #[test]
    fn the_threshold_is_a_setting() {
        let mut d = Detector::new(AmdSettings {
            greeting_ms: 1500,
            silence_ms: 2500,
        });
        d.on_speech_started(0);
        assert_eq!(d.on_speech_ended(2000), Verdict::Machine);
        let mut d = Detector::new(AmdSettings {
            greeting_ms: 2500,
            silence_ms: 2500,
        });
        d.on_speech_started(0);
        assert_eq!(d.on_speech_ended(2000), Verdict::Human);
    }
}
