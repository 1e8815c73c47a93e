//! The media bridge of a B2BUA call: two legs exchange decoded audio, 8 kHz 16-bit PCM in
//! 20 ms frames ([`FRAME_SAMPLES`] samples), and keypad digits.
//!
//! A leg joins a bridge with one [`BridgePort`]; [`pair`] makes the two ports of one
//! bridge, so what one port sends the other receives. An RTP leg's media task
//! ([`super::media::run`], [`super::media::MediaCommand::Bridge`]) sends every frame it
//! takes from its jitter buffer (silence when none arrived) and every digit it receives, and
//! sends on its own 20 ms tick the frames the other port sent — encoded with its own codec,
//! so PCMU↔PCMA transcoding falls out of decode-then-encode — and digits as RFC 4733
//! telephone-events ([`DigitOut`]). A leg that is not RTP (a browser's WebRTC leg) joins the
//! same way: it only has to speak [`BridgeFrame`]s at 8 kHz.
//!
//! ```text
//!  caller RTP ─► jitter ─► decode ─► Audio ──port A──► queue ─► encode ─► agent RTP
//!  caller RTP ◄─ encode ◄─ queue ◄── Audio ◄─port B── decode ◄─ jitter ◄─ agent RTP
//! ```
//!
//! The two ticks are independent; [`FrameQueue`] absorbs their phase difference and caps the
//! added delay at [`MAX_QUEUED_FRAMES`] frames (older frames are dropped), and a port with
//! nothing queued sends comfort silence, so the outgoing stream never gaps.

use std::collections::VecDeque;
use tokio::sync::mpsc;
use zvonar_voice::codec::FRAME_SAMPLES;
use zvonar_voice::dtmf::{dtmf_packets, DtmfPacket};

/// Longest queue of frames from the other leg, 4 × 20 ms = 80 ms: beyond it the oldest are
/// dropped so a burst (a late tick catching up) cannot add lasting delay.
pub const MAX_QUEUED_FRAMES: usize = 4;

/// How long a digit passed through the bridge lasts on the other leg, ms (RFC 4733 §2.5.1;
/// 100 ms is what most phones send).
pub const BRIDGED_DIGIT_MS: u32 = 100;

/// What travels between the two legs of a bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeFrame {
    /// 20 ms of audio: [`FRAME_SAMPLES`] samples of 8 kHz 16-bit PCM (shorter frames are
    /// padded with silence by the receiver).
    Audio(Vec<i16>),
    /// A keypad digit (`0-9*#A-D`) the sending leg received (RFC 4733 or SIP INFO).
    Digit(char),
}

/// One leg's end of a bridge: send our frames on `tx`, take the other leg's from `rx`.
/// Dropping either half tells the other leg the bridge is gone (it falls back to silence).
#[derive(Debug)]
pub struct BridgePort {
    /// Frames from this leg to the other one.
    pub tx: mpsc::UnboundedSender<BridgeFrame>,
    /// Frames from the other leg.
    pub rx: mpsc::UnboundedReceiver<BridgeFrame>,
}

/// The two ports of a new bridge: give one to each leg.
pub fn pair() -> (BridgePort, BridgePort) {
    let (a_tx, b_rx) = mpsc::unbounded_channel();
    let (b_tx, a_rx) = mpsc::unbounded_channel();
    (
        BridgePort { tx: a_tx, rx: a_rx },
        BridgePort { tx: b_tx, rx: b_rx },
    )
}

/// The frames one leg has received from the other and not yet sent (sans-IO).
#[derive(Debug, Default)]
pub struct FrameQueue {
    frames: VecDeque<Vec<i16>>,
    digits: VecDeque<char>,
    dropped: u64,
}

impl FrameQueue {
    /// Takes one frame from the other leg; a digit goes to the digit queue.
    pub fn push(&mut self, frame: BridgeFrame) {
        match frame {
            BridgeFrame::Audio(mut pcm) => {
                pcm.resize(FRAME_SAMPLES, 0);
                self.frames.push_back(pcm);
                while self.frames.len() > MAX_QUEUED_FRAMES {
                    self.frames.pop_front();
                    self.dropped += 1;
                }
            }
            BridgeFrame::Digit(d) => self.digits.push_back(d),
        }
    }

    /// The frame to send this tick: the oldest queued, `None` when none is (send silence).
    pub fn pop(&mut self) -> Option<Vec<i16>> {
        self.frames.pop_front()
    }

    /// The next digit to pass on, if any.
    pub fn pop_digit(&mut self) -> Option<char> {
        self.digits.pop_front()
    }

    /// Frames dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Frames queued now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.frames.len()
    }
}

/// One RFC 4733 telephone-event packet to send: payload type from the leg's negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPacket {
    /// RTP timestamp of the event's start, shared by all its packets (RFC 4733 §2.3.1).
    pub event_ts: u32,
    /// Marker bit (first packet of the event).
    pub marker: bool,
    /// The 4-byte payload.
    pub payload: Vec<u8>,
}

/// Regenerates digits as RFC 4733 telephone-events on a leg, one packet per 20 ms tick
/// alongside the audio frames, so the audio stream never stops for a digit (sans-IO).
#[derive(Debug, Default)]
pub struct DigitOut {
    queue: VecDeque<char>,
    current: Option<(u32, VecDeque<DtmfPacket>)>,
}

impl DigitOut {
    /// Queues a digit; characters that are not DTMF digits are ignored.
    pub fn push(&mut self, digit: char) {
        if dtmf_packets(digit, BRIDGED_DIGIT_MS).is_some() {
            self.queue.push_back(digit);
        }
    }

    /// The packet to send this tick; `audio_ts` is the RTP timestamp of the audio frame about
    /// to be sent (a new event starts there). `None` when no digit is being sent.
    pub fn next(&mut self, audio_ts: u32) -> Option<EventPacket> {
        if self.current.is_none() {
            let digit = self.queue.pop_front()?;
            let packets = dtmf_packets(digit, BRIDGED_DIGIT_MS)?;
            self.current = Some((audio_ts, packets.into()));
        }
        let (event_ts, packets) = self.current.as_mut()?;
        let event_ts = *event_ts;
        let p = packets.pop_front();
        if packets.is_empty() {
            self.current = None;
        }
        p.map(|p| EventPacket {
            event_ts,
            marker: p.marker,
            payload: p.payload.to_vec(),
        })
    }

    /// Whether a digit is being sent or waiting.
    pub fn busy(&self) -> bool {
        self.current.is_some() || !self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_pair_crosses_over() {
        let (a, mut b) = pair();
        a.tx.send(BridgeFrame::Digit('5')).unwrap();
        assert_eq!(b.rx.try_recv().unwrap(), BridgeFrame::Digit('5'));
        b.tx.send(BridgeFrame::Audio(vec![1; 160])).unwrap();
        let mut a = a;
        assert_eq!(a.rx.try_recv().unwrap(), BridgeFrame::Audio(vec![1; 160]));
        drop(b);
        assert!(
            a.tx.send(BridgeFrame::Digit('1')).is_err(),
            "the other leg left"
        );
    }

    #[test]
    fn the_queue_plays_in_order_pads_and_caps_the_delay() {
        let mut q = FrameQueue::default();
        assert_eq!(q.pop(), None, "nothing yet: silence");
        q.push(BridgeFrame::Audio(vec![7; 80]));
        let f = q.pop().unwrap();
        assert_eq!(f.len(), FRAME_SAMPLES, "short frames padded");
        assert_eq!((&f[..80], &f[80..]), (&[7i16; 80][..], &[0i16; 80][..]));
        for i in 0..10 {
            q.push(BridgeFrame::Audio(vec![i; FRAME_SAMPLES]));
        }
        assert_eq!(q.len(), MAX_QUEUED_FRAMES);
        assert_eq!(q.dropped(), 10 - MAX_QUEUED_FRAMES as u64);
        // The newest frames survive, oldest first.
        let first = q.pop().unwrap()[0];
        assert_eq!(first, (10 - MAX_QUEUED_FRAMES) as i16);
        q.push(BridgeFrame::Digit('#'));
        assert_eq!(q.pop_digit(), Some('#'));
        assert_eq!(q.pop_digit(), None);
    }

    #[test]
    fn digits_go_out_one_packet_per_tick_with_one_timestamp() {
        let mut d = DigitOut::default();
        d.push('x');
        assert!(!d.busy(), "not a digit");
        d.push('7');
        d.push('#');
        let mut ts = 1000u32;
        let mut events: Vec<EventPacket> = Vec::new();
        while let Some(p) = d.next(ts) {
            events.push(p);
            ts += 160;
        }
        assert!(!d.busy());
        let want = dtmf_packets('7', BRIDGED_DIGIT_MS).unwrap().len()
            + dtmf_packets('#', BRIDGED_DIGIT_MS).unwrap().len();
        assert_eq!(events.len(), want);
        let first_hash = dtmf_packets('7', BRIDGED_DIGIT_MS).unwrap().len();
        assert!(events[..first_hash].iter().all(|e| e.event_ts == 1000));
        assert!(events[0].marker && !events[1].marker);
        let hash_ts = 1000 + 160 * first_hash as u32;
        assert!(events[first_hash..].iter().all(|e| e.event_ts == hash_ts));
        assert!(events[first_hash].marker);
        // Event codes: 7 and 11 (#), RFC 4733 §3.2.
        assert_eq!(events[0].payload[0], 7);
        assert_eq!(events[first_hash].payload[0], 11);
        // The last packet of each event has the E bit.
        assert!(events[first_hash - 1].payload[1] & 0x80 != 0);
    }
}
