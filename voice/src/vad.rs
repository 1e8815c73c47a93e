//! Voice activity detection and end-pointing for 8000 Hz audio, sans-IO.
//!
//! Feed the caller's audio (any chunk size; it is analysed in 20 ms frames of
//! [`FRAME_SAMPLES`] samples) with [`Vad::push`]; get [`VadEvent::SpeechStart`] when speech
//! begins (use it for barge-in) and [`VadEvent::SpeechEnd`] with the utterance when the caller
//! stops (feed it to ASR). Times are in ms of audio fed since the detector was created.
//!
//! Method (energy detector with an adaptive noise floor, as in classic telephone VADs):
//! - per frame, the level in dBFS (mean square relative to full scale) and the zero-crossing
//!   rate;
//! - the noise floor is the minimum frame level over the last `noise_window_ms` (minimum
//!   statistics), so stationary line noise and hum are learnt within that window;
//! - a frame is *voiced* when its level exceeds both `floor + start_snr_db` and
//!   `min_level_dbfs`; inside speech a lower `continue_snr_db` applies (hysteresis), and quiet
//!   frames with a high zero-crossing rate (fricatives: с, ш, ф) also count;
//! - speech starts after `min_speech_ms` of voiced frames (shorter clicks are ignored) and ends
//!   after `end_silence_ms` without voiced frames (the hangover), or is cut at
//!   `max_utterance_ms`.
//!
//! The utterance carries `pre_roll_ms` of audio before the detected onset and `tail_ms` after
//! the last voiced frame, so that soft word edges reach the recogniser.

use std::collections::VecDeque;

use crate::codec::{FRAME_MS, FRAME_SAMPLES};

/// VAD settings. Durations in ms, levels in dB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Level above the noise floor that starts speech (default 10 dB).
    pub start_snr_db: f32,
    /// Level above the noise floor that continues speech (default 6 dB).
    pub continue_snr_db: f32,
    /// Absolute level below which nothing is speech (default -45 dBFS, an RMS of about 184).
    pub min_level_dbfs: f32,
    /// Voiced audio needed before speech is declared (default 160 ms).
    pub min_speech_ms: u32,
    /// Silence after speech that ends the utterance (default 700 ms).
    pub end_silence_ms: u32,
    /// Longest utterance; longer speech is cut into pieces this long (default 15 000 ms).
    pub max_utterance_ms: u32,
    /// Audio kept before the onset (default 200 ms).
    pub pre_roll_ms: u32,
    /// Audio kept after the last voiced frame (default 200 ms; at most `end_silence_ms`).
    pub tail_ms: u32,
    /// Window of the minimum-statistics noise floor (default 2000 ms).
    pub noise_window_ms: u32,
    /// Silence after speech that reports a [`VadEvent::Pause`]: the utterance as it will
    /// be if the caller says nothing more, so that it can be recognised while the
    /// detector still waits for `end_silence_ms` (early recognition). 0 = off (the
    /// default); otherwise at least `tail_ms` and below `end_silence_ms`, or off.
    pub early_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            start_snr_db: 10.0,
            continue_snr_db: 6.0,
            min_level_dbfs: -45.0,
            min_speech_ms: 160,
            end_silence_ms: 700,
            max_utterance_ms: 15_000,
            pre_roll_ms: 200,
            tail_ms: 200,
            noise_window_ms: 2000,
            early_ms: 0,
        }
    }
}

/// What the detector noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began at `at_ms` (onset of the first voiced frame, without pre-roll). Reported
    /// `min_speech_ms` after the onset.
    SpeechStart {
        /// Onset, in ms from the start of the audio fed.
        at_ms: u64,
    },
    /// An utterance ended. `utterance` is 8000 Hz PCM covering exactly `start_ms..end_ms`
    /// (`(end_ms - start_ms) * 8` samples): from `pre_roll_ms` before the onset to `tail_ms`
    /// after the last voiced frame.
    SpeechEnd {
        /// The audio of the utterance.
        utterance: Vec<i16>,
        /// Start of `utterance`, in ms from the start of the audio fed.
        start_ms: u64,
        /// End of `utterance`, in ms.
        end_ms: u64,
        /// True if cut at `max_utterance_ms` rather than ended by silence.
        truncated: bool,
    },
    /// `early_ms` of silence after speech (once per pause): `utterance` is exactly what
    /// the [`VadEvent::SpeechEnd`] will carry if no voiced frame comes before
    /// `end_silence_ms` — same samples, same `start_ms..end_ms`.
    Pause {
        /// The audio of the utterance so far, tail included.
        utterance: Vec<i16>,
        /// Start of `utterance`, in ms from the start of the audio fed.
        start_ms: u64,
        /// End of `utterance`, in ms.
        end_ms: u64,
    },
    /// Speech went on after a [`VadEvent::Pause`]: the paused utterance will not be the
    /// one that ends.
    Resumed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Silence,
    Candidate {
        onset: u64,
        voiced: u32,
        last_voiced: u64,
    },
    Speech {
        onset: u64,
        last_voiced: u64,
        /// A [`VadEvent::Pause`] was reported since `last_voiced`.
        paused: bool,
    },
}

/// The detector. See the module docs.
#[derive(Debug, Clone)]
pub struct Vad {
    cfg: VadConfig,
    state: State,
    /// Frames analysed so far.
    frame: u64,
    partial: Vec<i16>,
    levels: VecDeque<f32>,
    /// Audio from frame `buf_start` up to now.
    buf: Vec<i16>,
    buf_start: u64,
}

fn frames(ms: u32) -> u64 {
    u64::from(ms.div_ceil(FRAME_MS))
}

impl Vad {
    /// A detector with the given settings.
    pub fn new(cfg: VadConfig) -> Self {
        Self {
            cfg,
            state: State::Silence,
            frame: 0,
            partial: Vec::with_capacity(FRAME_SAMPLES),
            levels: VecDeque::new(),
            buf: Vec::new(),
            buf_start: 0,
        }
    }

    /// Changes the longest utterance (`max_utterance_ms`), ms; an utterance in progress that is
    /// already longer is cut at the next frame.
    pub fn set_max_utterance_ms(&mut self, ms: u32) {
        self.cfg.max_utterance_ms = ms;
    }

    /// The settings in force.
    pub fn config(&self) -> &VadConfig {
        &self.cfg
    }

    /// Audio fed so far, in ms (whole frames only).
    pub fn position_ms(&self) -> u64 {
        self.frame * u64::from(FRAME_MS)
    }

    /// True between `SpeechStart` and `SpeechEnd`.
    pub fn in_speech(&self) -> bool {
        matches!(self.state, State::Speech { .. })
    }

    /// The current noise floor estimate, in dBFS (−100 before any audio).
    pub fn noise_floor_dbfs(&self) -> f32 {
        self.levels
            .iter()
            .copied()
            .fold(None, |m: Option<f32>, l| Some(m.map_or(l, |m| m.min(l))))
            .unwrap_or(-100.0)
    }

    /// Feeds 8000 Hz samples (any length) and returns the events they caused, in order.
    pub fn push(&mut self, samples: &[i16]) -> Vec<VadEvent> {
        let mut events = Vec::new();
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (FRAME_SAMPLES - self.partial.len()).min(rest.len());
            self.partial.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.partial.len() == FRAME_SAMPLES {
                let frame = std::mem::take(&mut self.partial);
                if let Some(e) = self.frame_in(&frame) {
                    events.push(e);
                }
                self.partial = frame;
                self.partial.clear();
            }
        }
        events
    }

    /// Ends the stream (hang-up): returns the utterance in progress, if speech had started.
    pub fn flush(&mut self) -> Option<VadEvent> {
        match self.state {
            State::Speech { last_voiced, .. } => {
                let end = self.end_after(last_voiced);
                Some(self.finish(end, false))
            }
            _ => {
                self.enter_silence();
                None
            }
        }
    }

    /// Forgets any speech in progress (e.g. after the robot's own prompt, to drop echo) while
    /// keeping the timeline and the noise estimate.
    pub fn reset(&mut self) {
        self.enter_silence();
    }

    fn frame_in(&mut self, frame: &[i16]) -> Option<VadEvent> {
        let n = self.frame;
        self.frame += 1;
        self.buf.extend_from_slice(frame);
        let (level, zcr) = analyse(frame);
        let floor = if self.levels.is_empty() {
            level
        } else {
            self.noise_floor_dbfs()
        };
        self.levels.push_back(level);
        while self.levels.len() as u64 > frames(self.cfg.noise_window_ms).max(1) {
            self.levels.pop_front();
        }
        let loud = level > self.cfg.min_level_dbfs;
        let starts = loud && level > floor + self.cfg.start_snr_db;
        let continues = loud && level > floor + self.cfg.continue_snr_db
            || (level > floor + 3.0 && level > self.cfg.min_level_dbfs - 6.0 && zcr > 0.3);
        match self.state {
            State::Silence => {
                if starts {
                    self.state = State::Candidate {
                        onset: n,
                        voiced: 1,
                        last_voiced: n,
                    };
                    return self.check_candidate();
                }
                self.trim_to_pre_roll();
                None
            }
            State::Candidate {
                onset,
                voiced,
                last_voiced,
            } => {
                if continues {
                    self.state = State::Candidate {
                        onset,
                        voiced: voiced + 1,
                        last_voiced: n,
                    };
                    self.check_candidate()
                } else {
                    if n - last_voiced >= frames(100) {
                        self.enter_silence();
                    }
                    None
                }
            }
            State::Speech {
                onset,
                last_voiced,
                paused,
            } => {
                let resumed = continues && paused;
                let last_voiced = if continues { n } else { last_voiced };
                self.state = State::Speech {
                    onset,
                    last_voiced,
                    paused: paused && !continues,
                };
                if self.frame - self.buf_start >= frames(self.cfg.max_utterance_ms) {
                    return Some(self.finish(self.frame, true));
                }
                if n - last_voiced >= frames(self.cfg.end_silence_ms) {
                    let end = self.end_after(last_voiced);
                    return Some(self.finish(end, false));
                }
                if resumed {
                    return Some(VadEvent::Resumed);
                }
                if let Some(early) = self.early_frames() {
                    if !paused && n - last_voiced == early {
                        self.state = State::Speech {
                            onset,
                            last_voiced,
                            paused: true,
                        };
                        let end = self.end_after(last_voiced);
                        let len =
                            ((end - self.buf_start) as usize * FRAME_SAMPLES).min(self.buf.len());
                        return Some(VadEvent::Pause {
                            utterance: self.buf[..len].to_vec(),
                            start_ms: self.buf_start * u64::from(FRAME_MS),
                            end_ms: end * u64::from(FRAME_MS),
                        });
                    }
                }
                None
            }
        }
    }

    fn check_candidate(&mut self) -> Option<VadEvent> {
        if let State::Candidate {
            onset,
            voiced,
            last_voiced,
        } = self.state
        {
            if u64::from(voiced) >= frames(self.cfg.min_speech_ms) {
                self.state = State::Speech {
                    onset,
                    last_voiced,
                    paused: false,
                };
                return Some(VadEvent::SpeechStart {
                    at_ms: onset * u64::from(FRAME_MS),
                });
            }
        }
        None
    }

    /// The end of an utterance whose last voiced frame is `last_voiced`: `tail_ms` later,
    /// but not beyond the audio fed (frames).
    fn end_after(&self, last_voiced: u64) -> u64 {
        (last_voiced + 1 + frames(self.cfg.tail_ms)).min(self.frame)
    }

    /// Silent frames after the last voiced one that report a pause, when early recognition
    /// is on and its setting is usable (the tail is complete by then and the utterance is
    /// not already over).
    fn early_frames(&self) -> Option<u64> {
        let early = frames(self.cfg.early_ms);
        (self.cfg.early_ms > 0
            && early >= frames(self.cfg.tail_ms)
            && early < frames(self.cfg.end_silence_ms))
        .then_some(early)
    }

    /// Emits the utterance `buf_start..end` (frames) and returns to silence.
    fn finish(&mut self, end: u64, truncated: bool) -> VadEvent {
        let n = ((end - self.buf_start) as usize * FRAME_SAMPLES).min(self.buf.len());
        let rest = self.buf.split_off(n);
        let utterance = std::mem::replace(&mut self.buf, rest);
        let ev = VadEvent::SpeechEnd {
            utterance,
            start_ms: self.buf_start * u64::from(FRAME_MS),
            end_ms: end * u64::from(FRAME_MS),
            truncated,
        };
        self.buf_start = end;
        self.enter_silence();
        ev
    }

    fn enter_silence(&mut self) {
        self.state = State::Silence;
        self.trim_to_pre_roll();
    }

    fn trim_to_pre_roll(&mut self) {
        let keep = frames(self.cfg.pre_roll_ms);
        let have = self.frame - self.buf_start;
        if have > keep {
            let drop = have - keep;
            self.buf.drain(..drop as usize * FRAME_SAMPLES);
            self.buf_start += drop;
        }
    }
}

/// Level in dBFS (0 dB = a full-scale square wave) and zero-crossing rate (crossings per sample).
fn analyse(frame: &[i16]) -> (f32, f32) {
    let energy: f64 = frame
        .iter()
        .map(|s| f64::from(*s) * f64::from(*s))
        .sum::<f64>()
        / frame.len().max(1) as f64;
    let level = (10.0 * (energy / (32768.0 * 32768.0) + 1e-10).log10()) as f32;
    let crossings = frame
        .windows(2)
        .filter(|w| (w[0] >= 0) != (w[1] >= 0))
        .count();
    (level, crossings as f32 / frame.len().max(1) as f32)
}

#[cfg(test)]
#[path = "vad_tests.rs"]
mod tests;
