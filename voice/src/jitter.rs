//! A sans-IO jitter buffer for incoming G.711 RTP audio.
//!
//! Packets are [`JitterBuffer::push`]ed as they arrive (with the arrival time in ms from any
//! monotonic origin); the engine calls [`JitterBuffer::pop_frame`] every 20 ms and gets exactly
//! one 160-sample [`Frame`]. Playout is placed on the sender's RTP timestamp timeline, so any
//! packet duration (10/20/30 ms ptime) works.
//!
//! Rules:
//! - sequence numbers are extended across wraparound and large jumps are validated as in
//!   RFC 3550 §A.1 (`MAX_DROPOUT` 3000, `MAX_MISORDER` 100; a jump is accepted as a restart only
//!   when the next packet follows it);
//! - interarrival jitter is estimated as in RFC 3550 §A.8;
//! - playout starts `target_delay_ms` after the first packet arrives; a packet whose audio is
//!   already played is dropped as late and (if `adaptive`) the delay grows by one frame, up to
//!   `max_delay_ms`; after 10 s without late packets it shrinks by one frame, down to
//!   `min_delay_ms`; if more than `target + 40 ms` stays buffered for a second, one frame is
//!   dropped to catch up (clock drift);
//! - a gap in the timeline (lost packet) yields [`Frame::Lost`]: the previous frame repeated at
//!   half amplitude for the first lost frame, silence after that;
//! - a new SSRC, a validated sequence restart or a timestamp jump of more than 1 s backwards
//!   resets the buffer (the new stream is buffered from scratch).

use std::collections::BTreeMap;

use crate::codec::{Codec, FRAME_SAMPLES, SAMPLES_PER_MS};

const MAX_DROPOUT: i32 = 3000;
const MAX_MISORDER: i32 = 100;
const FRAME: i64 = FRAME_SAMPLES as i64;
/// A timestamp more than this many samples behind the playout point is a discontinuity.
const BACKWARD_RESET: i64 = 8000;

/// Jitter buffer settings. All durations in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Initial playout delay after the first packet (default 60 ms).
    pub target_delay_ms: u32,
    /// Lower bound for the adaptive delay (default 40 ms).
    pub min_delay_ms: u32,
    /// Upper bound for the adaptive delay, and the largest gap ahead of the playout point that
    /// is played through as loss rather than skipped (default 200 ms).
    pub max_delay_ms: u32,
    /// Grow the delay on late packets and shrink it when the network is calm (default true).
    pub adaptive: bool,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            target_delay_ms: 60,
            min_delay_ms: 40,
            max_delay_ms: 200,
            adaptive: true,
        }
    }
}

/// One 20 ms frame of playout: [`FRAME_SAMPLES`] samples at 8000 Hz.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Received audio (a partly received frame has its gaps filled with silence).
    Audio(Vec<i16>),
    /// Nothing was received for this slot; the samples are concealment (attenuated repeat of the
    /// previous frame, or silence).
    Lost(Vec<i16>),
}

impl Frame {
    /// The frame's samples, whatever its kind.
    pub fn samples(&self) -> &[i16] {
        match self {
            Frame::Audio(s) | Frame::Lost(s) => s,
        }
    }

    /// Consumes the frame into its samples.
    pub fn into_samples(self) -> Vec<i16> {
        match self {
            Frame::Audio(s) | Frame::Lost(s) => s,
        }
    }
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Stored for playout.
    Buffered,
    /// Already received (same sequence number or same timestamp); dropped.
    Duplicate,
    /// Its audio has already been played out; dropped.
    Late,
    /// The stream restarted (new SSRC, validated sequence jump, timestamp discontinuity); the
    /// buffer was cleared and this packet starts the new stream.
    Reset,
    /// Dropped: empty payload, or a sequence jump not (yet) confirmed by the next packet.
    Discarded,
}

/// Counters for monitoring and RTCP receiver reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    /// Packets accepted into the buffer.
    pub received: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Late packets dropped.
    pub late: u64,
    /// Packets discarded (empty, unconfirmed sequence jump).
    pub discarded: u64,
    /// Frames played from received audio.
    pub audio_frames: u64,
    /// Frames concealed.
    pub lost_frames: u64,
    /// Buffer resets (SSRC change, restart).
    pub resets: u64,
    /// Interarrival jitter (RFC 3550 §A.8), in milliseconds.
    pub jitter_ms: f64,
    /// Highest extended sequence number received (RFC 3550 §A.1: cycles << 16 | seq).
    pub extended_max_seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct SeqState {
    max_ext: i64,
    bad_seq: Option<u16>,
    /// Bit i set: ext seq `max_ext - i` was received.
    seen: u64,
}

enum SeqVerdict {
    Ok,
    Duplicate,
    Restart,
    Bad,
}

/// The jitter buffer. See the module docs for the rules.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    codec: Codec,
    cfg: JitterConfig,
    ssrc: Option<u32>,
    seq: Option<SeqState>,
    /// (last RTP timestamp, its extended value) for extending timestamps.
    anchor: Option<(u32, i64)>,
    packets: BTreeMap<i64, Vec<i16>>,
    play: Option<i64>,
    start_at_ms: Option<u64>,
    target_ms: u32,
    stretch: bool,
    calm_pops: u32,
    deep_pops: u32,
    last_frame: Option<Vec<i16>>,
    lost_run: u32,
    last_transit: Option<i64>,
    jitter: f64,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer decoding `codec` payloads, with the given settings.
    pub fn new(codec: Codec, cfg: JitterConfig) -> Self {
        Self {
            codec,
            cfg,
            ssrc: None,
            seq: None,
            anchor: None,
            packets: BTreeMap::new(),
            play: None,
            start_at_ms: None,
            target_ms: cfg.target_delay_ms,
            stretch: false,
            calm_pops: 0,
            deep_pops: 0,
            last_frame: None,
            lost_run: 0,
            last_transit: None,
            jitter: 0.0,
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        JitterStats {
            jitter_ms: self.jitter / f64::from(SAMPLES_PER_MS),
            ..self.stats
        }
    }

    /// Current playout delay target, in ms.
    pub fn target_delay_ms(&self) -> u32 {
        self.target_ms
    }

    /// Audio buffered ahead of the playout point, in ms.
    pub fn buffered_ms(&self) -> u32 {
        let Some((k, v)) = self.packets.last_key_value() else {
            return 0;
        };
        let end = k + v.len() as i64;
        let from = self
            .play
            .or_else(|| self.packets.first_key_value().map(|(k, _)| *k))
            .unwrap_or(end);
        ((end - from).max(0) / i64::from(SAMPLES_PER_MS)) as u32
    }

    fn reset(&mut self) {
        self.seq = None;
        self.anchor = None;
        self.packets.clear();
        self.play = None;
        self.start_at_ms = None;
        self.stretch = false;
        self.last_transit = None;
        self.stats.resets += 1;
    }

    /// Offers one received RTP audio packet: its SSRC, sequence number, RTP timestamp (8000 Hz
    /// units), G.711 payload (one byte per sample) and arrival time in ms.
    pub fn push(&mut self, ssrc: u32, seq: u16, ts: u32, payload: &[u8], arrival_ms: u64) -> Push {
        if payload.is_empty() {
            self.stats.discarded += 1;
            return Push::Discarded;
        }
        let mut result = Push::Buffered;
        if self.ssrc.is_some_and(|s| s != ssrc) {
            self.reset();
            result = Push::Reset;
        }
        self.ssrc = Some(ssrc);
        match self.check_seq(seq) {
            SeqVerdict::Ok => {}
            SeqVerdict::Duplicate => {
                self.stats.duplicates += 1;
                return Push::Duplicate;
            }
            SeqVerdict::Bad => {
                self.stats.discarded += 1;
                return Push::Discarded;
            }
            SeqVerdict::Restart => {
                self.reset();
                self.check_seq(seq);
                result = Push::Reset;
            }
        }
        let mut ext = self.extend_ts(ts);
        if let Some(play) = self.play {
            if ext < play - BACKWARD_RESET {
                self.reset();
                self.check_seq(seq);
                ext = self.extend_ts(ts);
                result = Push::Reset;
            }
        }
        self.update_jitter(ext, arrival_ms);
        let samples = self.codec.decode(payload);
        if let Some(play) = self.play {
            if ext + samples.len() as i64 <= play {
                self.stats.late += 1;
                if self.cfg.adaptive
                    && self.target_ms + crate::codec::FRAME_MS <= self.cfg.max_delay_ms
                {
                    self.target_ms += crate::codec::FRAME_MS;
                    self.stretch = true;
                }
                self.calm_pops = 0;
                return Push::Late;
            }
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Push::Duplicate;
        }
        self.packets.insert(ext, samples);
        self.anchor = Some((ts, ext));
        self.stats.received += 1;
        if self.start_at_ms.is_none() {
            self.start_at_ms = Some(arrival_ms + u64::from(self.target_ms));
        }
        result
    }

    /// RFC 3550 §A.1 sequence validation with a 64-packet duplicate window.
    fn check_seq(&mut self, seq: u16) -> SeqVerdict {
        let Some(st) = self.seq.as_mut() else {
            self.seq = Some(SeqState {
                max_ext: 1 << 20 | i64::from(seq),
                bad_seq: None,
                seen: 1,
            });
            self.stats.extended_max_seq = u64::from(seq);
            return SeqVerdict::Ok;
        };
        let max16 = (st.max_ext & 0xffff) as u16;
        let delta = i32::from(seq.wrapping_sub(max16) as i16);
        if delta > 0 && delta < MAX_DROPOUT {
            st.seen = if delta >= 64 {
                1
            } else {
                (st.seen << delta) | 1
            };
            st.max_ext += i64::from(delta);
            st.bad_seq = None;
            self.stats.extended_max_seq = (st.max_ext - (1 << 20)) as u64;
            SeqVerdict::Ok
        } else if delta <= 0 && delta > -MAX_MISORDER {
            let back = (-delta) as u32;
            if back < 64 {
                if st.seen & (1 << back) != 0 {
                    return SeqVerdict::Duplicate;
                }
                st.seen |= 1 << back;
            }
            SeqVerdict::Ok
        } else if st.bad_seq == Some(seq) {
            SeqVerdict::Restart
        } else {
            st.bad_seq = Some(seq.wrapping_add(1));
            SeqVerdict::Bad
        }
    }

    fn extend_ts(&self, ts: u32) -> i64 {
        match self.anchor {
            Some((a, ext)) => ext + i64::from(ts.wrapping_sub(a) as i32),
            None => 1 << 40,
        }
    }

    /// RFC 3550 §A.8: J += (|D| - J) / 16, in timestamp units.
    fn update_jitter(&mut self, ext_ts: i64, arrival_ms: u64) {
        let arrival = (arrival_ms as i64).wrapping_mul(i64::from(SAMPLES_PER_MS));
        let transit = arrival - ext_ts;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// Returns the next 20 ms frame for playout at `now_ms` (same clock as `arrival_ms`), or
    /// `None` while the buffer is still filling (no packet yet, or the initial delay has not
    /// passed). Once playout has started every call returns a frame. Call once per 20 ms tick.
    pub fn pop_frame(&mut self, now_ms: u64) -> Option<Frame> {
        let play = match self.play {
            Some(p) => p,
            None => {
                if now_ms < self.start_at_ms? {
                    return None;
                }
                let first = *self.packets.first_key_value()?.0;
                self.play = Some(first);
                first
            }
        };
        if self.stretch {
            self.stretch = false;
            return Some(self.conceal());
        }
        let mut play = play;
        // A long gap ahead (sender stopped sending, or jumped its timestamps): skip it.
        if let Some((&first, _)) = self.packets.first_key_value() {
            if first - play > i64::from(self.cfg.max_delay_ms * SAMPLES_PER_MS) {
                play = first - i64::from(self.target_ms * SAMPLES_PER_MS);
            }
        }
        self.adapt(&mut play);
        let mut out = vec![0i16; FRAME_SAMPLES];
        let mut covered = 0usize;
        for (&k, samples) in self.packets.range(play - BACKWARD_RESET..play + FRAME) {
            for (i, s) in samples.iter().enumerate() {
                let pos = k + i as i64 - play;
                if (0..FRAME).contains(&pos) {
                    out[pos as usize] = *s;
                    covered += 1;
                }
            }
        }
        let end = play + FRAME;
        self.packets.retain(|&k, v| k + v.len() as i64 > end);
        self.play = Some(end);
        if covered == 0 {
            return Some(self.conceal());
        }
        self.stats.audio_frames += 1;
        self.lost_run = 0;
        self.last_frame = Some(out.clone());
        Some(Frame::Audio(out))
    }

    /// Slow adaptation: shrink the target when calm, drop a frame when too much is buffered.
    fn adapt(&mut self, play: &mut i64) {
        self.calm_pops += 1;
        if self.cfg.adaptive && self.calm_pops >= 500 && self.target_ms > self.cfg.min_delay_ms {
            self.target_ms = (self.target_ms - crate::codec::FRAME_MS).max(self.cfg.min_delay_ms);
            self.calm_pops = 0;
        }
        let depth = self
            .packets
            .last_key_value()
            .map(|(k, v)| k + v.len() as i64 - *play)
            .unwrap_or(0);
        if depth > i64::from((self.target_ms + 40) * SAMPLES_PER_MS) {
            self.deep_pops += 1;
            if self.deep_pops >= 50 {
                self.deep_pops = 0;
                *play += FRAME;
            }
        } else {
            self.deep_pops = 0;
        }
    }

    fn conceal(&mut self) -> Frame {
        self.stats.lost_frames += 1;
        self.lost_run += 1;
        match (&self.last_frame, self.lost_run) {
            (Some(prev), 1) => Frame::Lost(prev.iter().map(|s| s / 2).collect()),
            _ => Frame::Lost(vec![0; FRAME_SAMPLES]),
        }
    }
}

#[cfg(test)]
#[path = "jitter_tests.rs"]
mod tests;
