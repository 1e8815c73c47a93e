//! DTMF digits: the RFC 4733 telephone-event receiver and sender, and the SIP INFO bodies
//! `application/dtmf-relay` and `application/dtmf`.
//!
//! One key press is one *event*: a run of RTP packets sharing one RTP timestamp (the event's
//! start, RFC 4733 §2.3.1), the first with the marker bit, each carrying the growing duration,
//! the last three with the end bit (§2.5.1.4 retransmission). [`DtmfReceiver`] turns that
//! into exactly one [`Digit`].

use std::collections::VecDeque;

use audio_codec::telephone_event::{dtmf_sequence, parse_telephone_event};

use crate::codec::SAMPLES_PER_MS;

pub use audio_codec::telephone_event::DtmfPacket;

/// Default time after the last packet of an event without an end bit before the digit is
/// emitted anyway, in ms. Senders update at least every 50 ms (RFC 4733 §2.5.1.2), so 300 ms of
/// silence means the end packets were lost.
pub const DEFAULT_EVENT_TIMEOUT_MS: u64 = 300;

/// A received DTMF digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digit {
    /// `0`-`9`, `*`, `#`, `A`-`D`.
    pub digit: char,
    /// Duration reported by the sender, in ms (0 when unknown).
    pub duration_ms: u32,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    ts: u32,
    event: u8,
    duration: u32,
    /// Sum of the durations of earlier segments of a long event (RFC 4733 §2.5.1.3).
    carried: u32,
    last_packet_ms: u64,
}

/// Sans-IO RFC 4733 receiver. Feed it every RTP packet of the call (it ignores other payload
/// types) and [`DtmfReceiver::poll`] it on the engine's tick to catch events whose end packets
/// were lost.
#[derive(Debug, Clone)]
pub struct DtmfReceiver {
    te_pt: u8,
    timeout_ms: u64,
    current: Option<Current>,
    /// Timestamp of the last event already emitted; its retransmitted packets are ignored.
    done_ts: Option<u32>,
    out: VecDeque<Digit>,
}

impl DtmfReceiver {
    /// A receiver for the telephone-event payload type negotiated in SDP (often 101).
    pub fn new(te_pt: u8) -> Self {
        Self {
            te_pt,
            timeout_ms: DEFAULT_EVENT_TIMEOUT_MS,
            current: None,
            done_ts: None,
            out: VecDeque::new(),
        }
    }

    /// Changes the no-end-bit timeout (ms).
    pub fn with_timeout_ms(mut self, timeout_ms: u64) -> Self {
        self.timeout_ms = timeout_ms;
        self
    }

    /// Feeds one RTP packet: payload type, RTP timestamp, marker bit, payload, and the current
    /// time in ms. Returns a digit completed by this packet (or by an earlier event that this
    /// packet proves finished); if two complete at once, the second waits in [`Self::poll`].
    /// Packets of other payload types, malformed payloads and events above 15 (non-DTMF
    /// events) are ignored.
    pub fn feed(
        &mut self,
        pt: u8,
        ts: u32,
        marker: bool,
        payload: &[u8],
        now_ms: u64,
    ) -> Option<Digit> {
        if pt != self.te_pt {
            return self.poll(now_ms);
        }
        let Some(ev) = parse_telephone_event(payload) else {
            return self.poll(now_ms);
        };
        if ev.event > 15 || self.done_ts == Some(ts) {
            return self.poll(now_ms);
        }
        let duration = u32::from(ev.duration);
        match self.current {
            Some(mut cur) if cur.ts == ts => {
                cur.duration = cur.duration.max(duration);
                cur.last_packet_ms = now_ms;
                self.current = Some(cur);
            }
            Some(cur)
                if !marker && cur.event == ev.event && ts.wrapping_sub(cur.ts) >= cur.duration =>
            {
                // Continuation segment of a long event: same digit, new timestamp, no marker.
                self.current = Some(Current {
                    ts,
                    event: ev.event,
                    duration,
                    carried: cur.carried + cur.duration,
                    last_packet_ms: now_ms,
                });
            }
            prev => {
                if let Some(p) = prev {
                    self.emit(p);
                }
                self.current = Some(Current {
                    ts,
                    event: ev.event,
                    duration,
                    carried: 0,
                    last_packet_ms: now_ms,
                });
            }
        }
        if ev.end {
            if let Some(cur) = self.current.take() {
                self.emit(cur);
            }
        }
        self.out.pop_front()
    }

    /// Returns a pending digit, or completes an event whose last packet is older than the
    /// timeout. Call on every tick until it returns `None`.
    pub fn poll(&mut self, now_ms: u64) -> Option<Digit> {
        if let Some(cur) = self.current {
            if now_ms.saturating_sub(cur.last_packet_ms) >= self.timeout_ms {
                self.current = None;
                self.emit(cur);
            }
        }
        self.out.pop_front()
    }

    fn emit(&mut self, cur: Current) {
        self.done_ts = Some(cur.ts);
        let digit = audio_codec::telephone_event::event_to_digit(cur.event);
        let duration_ms = (cur.carried + cur.duration) / SAMPLES_PER_MS;
        self.out.push_back(Digit { digit, duration_ms });
    }
}

/// The telephone-event packets for one key press of `digit` (`0`-`9`, `*`, `#`, `A`-`D`) lasting
/// `duration_ms`: interim updates every 50 ms then three end packets (RFC 4733 §2.5.1), the
/// first marked. Each is a 4-byte payload; send them all with the same RTP timestamp (see
/// [`crate::rtp::RtpSender::telephone_event`]). `None` for any other character.
pub fn dtmf_packets(digit: char, duration_ms: u32) -> Option<Vec<DtmfPacket>> {
    let event = audio_codec::telephone_event::digit_to_event(digit)?;
    Some(dtmf_sequence(event, duration_ms, crate::codec::SAMPLE_RATE))
}

/// Parses the body of a SIP INFO carrying a digit. `content_type` is the Content-Type header
/// value (parameters and case ignored).
///
/// - `application/dtmf-relay` (Cisco): lines `Signal=5` and `Duration=160`; the digit is the
///   `Signal` value, `0`-`9`, `*`, `#`, `A`-`D`, or the event numbers `10`/`11` for `*`/`#`
///   that some gateways send.
/// - `application/dtmf`: the body is the single digit (or `10`/`11`).
///
/// Returns `None` for other content types and for bodies that do not carry exactly one valid
/// digit.
pub fn parse_dtmf_info(content_type: &str, body: &str) -> Option<char> {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/dtmf-relay" => {
            let mut signal = None;
            for line in body.lines() {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                if k.trim().eq_ignore_ascii_case("signal") {
                    if signal.is_some() {
                        return None;
                    }
                    signal = Some(parse_signal(v.trim())?);
                }
            }
            signal
        }
        "application/dtmf" => parse_signal(body.trim()),
        _ => None,
    }
}

fn parse_signal(v: &str) -> Option<char> {
    match v {
        "10" => Some('*'),
        "11" => Some('#'),
        _ => {
            let mut chars = v.chars();
            let c = chars.next()?.to_ascii_uppercase();
            if chars.next().is_some() {
                return None;
            }
            matches!(c, '0'..='9' | '*' | '#' | 'A'..='D').then_some(c)
        }
    }
}

#[cfg(test)]
#[path = "dtmf_tests.rs"]
mod tests;
