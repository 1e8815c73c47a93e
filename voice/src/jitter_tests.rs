#![allow(clippy::unwrap_used)] // tests may unwrap
use super::*;

const SSRC: u32 = 0xDEAD_BEEF;

/// Payload for packet `i`: a constant sample value unique to the packet.
fn payload(i: u32) -> Vec<u8> {
    Codec::Pcma.encode(&[(i as i16 + 1) * 256; FRAME_SAMPLES])
}

fn value(i: u32) -> i16 {
    Codec::Pcma.decode(&payload(i))[0]
}

/// Identifies a frame: Some(packet index) for audio, None for lost.
fn ident(f: &Frame) -> Option<u32> {
    match f {
        Frame::Audio(s) => (0..64).find(|i| s[0] == value(*i) && s[159] == value(*i)),
        Frame::Lost(_) => None,
    }
}

struct Sim {
    jb: JitterBuffer,
    seq0: u16,
    ts0: u32,
}

impl Sim {
    fn new(seq0: u16, ts0: u32) -> Self {
        Self {
            jb: JitterBuffer::new(Codec::Pcma, JitterConfig::default()),
            seq0,
            ts0,
        }
    }
    fn push(&mut self, i: u32, arrival_ms: u64) -> Push {
        let seq = self.seq0.wrapping_add(i as u16);
        let ts = self.ts0.wrapping_add(i * 160);
        self.jb.push(SSRC, seq, ts, &payload(i), arrival_ms)
    }
    /// Pops frames at 20 ms ticks from `from_ms` and identifies them.
    fn pop_n(&mut self, from_ms: u64, n: u64) -> Vec<Option<u32>> {
        (0..n)
            .map(|k| ident(&self.jb.pop_frame(from_ms + k * 20).expect("playing")))
            .collect()
    }
}

#[test]
fn nothing_before_target_delay() {
    let mut s = Sim::new(100, 1000);
    assert_eq!(s.jb.pop_frame(0), None);
    assert_eq!(s.push(0, 0), Push::Buffered);
    assert_eq!(s.jb.pop_frame(40), None);
    assert!(s.jb.pop_frame(60).is_some());
}

#[test]
fn in_order_stream_plays_in_order() {
    let mut s = Sim::new(100, 1000);
    let mut frames = Vec::new();
    for i in 0..10u32 {
        s.push(i, u64::from(i) * 20);
        if let Some(f) = s.jb.pop_frame(u64::from(i) * 20) {
            frames.push(ident(&f));
        }
    }
    frames.extend(s.pop_n(200, 3));
    assert_eq!(frames, (0..10).map(Some).collect::<Vec<_>>());
    assert_eq!(s.jb.stats().received, 10);
    assert_eq!(s.jb.stats().lost_frames, 0);
}

#[test]
fn reordered_packets_are_put_back_in_order() {
    let mut s = Sim::new(7, 0);
    for (i, t) in [
        (0, 0),
        (2, 20),
        (1, 25),
        (3, 60),
        (5, 80),
        (4, 85),
        (6, 120),
    ] {
        assert_eq!(s.push(i, t), Push::Buffered);
    }
    assert_eq!(s.pop_n(60, 7), (0..7).map(Some).collect::<Vec<_>>());
}

#[test]
fn duplicates_are_dropped() {
    let mut s = Sim::new(7, 0);
    assert_eq!(s.push(0, 0), Push::Buffered);
    assert_eq!(s.push(1, 20), Push::Buffered);
    assert_eq!(s.push(1, 21), Push::Duplicate);
    assert_eq!(s.push(0, 22), Push::Duplicate);
    assert_eq!(s.push(2, 40), Push::Buffered);
    assert_eq!(s.pop_n(60, 4), vec![Some(0), Some(1), Some(2), None]);
    // A duplicate of an already played packet is still a duplicate, not audio.
    assert_eq!(s.push(1, 200), Push::Duplicate);
    assert_eq!(s.jb.stats().duplicates, 3);
}

#[test]
fn loss_is_concealed_with_repeat_then_silence() {
    let mut s = Sim::new(1, 0);
    for (i, t) in [(0u32, 0u64), (1, 20), (4, 80), (5, 100)] {
        s.push(i, t);
    }
    let frames: Vec<Frame> = (0..6)
        .map(|k| s.jb.pop_frame(60 + k * 20).unwrap())
        .collect();
    assert_eq!(
        frames.iter().map(ident).collect::<Vec<_>>(),
        vec![Some(0), Some(1), None, None, Some(4), Some(5)]
    );
    assert_eq!(
        frames[2].samples()[0],
        value(1) / 2,
        "first lost frame repeats the last, attenuated"
    );
    assert!(
        frames[3].samples().iter().all(|s| *s == 0),
        "second lost frame is silence"
    );
    assert_eq!(s.jb.stats().lost_frames, 2);
}

#[test]
fn sequence_and_timestamp_wraparound() {
    let mut s = Sim::new(65533, u32::MAX - 320);
    for i in 0..8u32 {
        assert_eq!(s.push(i, u64::from(i) * 20), Push::Buffered, "packet {i}");
    }
    assert_eq!(s.pop_n(60, 8), (0..8).map(Some).collect::<Vec<_>>());
    assert_eq!(s.jb.stats().extended_max_seq, 65536 + 4);
}

#[test]
fn late_packet_is_dropped_and_delay_grows() {
    let mut s = Sim::new(1, 0);
    s.push(0, 0);
    s.push(2, 40);
    assert_eq!(s.pop_n(60, 2), vec![Some(0), None]);
    assert_eq!(s.push(1, 90), Push::Late);
    assert_eq!(s.jb.target_delay_ms(), 80);
    s.push(3, 100);
    // One stretch frame (concealment) is inserted, then playout resumes.
    assert_eq!(s.pop_n(100, 3), vec![None, Some(2), Some(3)]);
    assert_eq!(s.jb.stats().late, 1);
}

#[test]
fn ssrc_change_resets() {
    let mut s = Sim::new(1, 0);
    s.push(0, 0);
    s.push(1, 20);
    assert_eq!(s.pop_n(60, 1), vec![Some(0)]);
    let r = s.jb.push(42, 9000, 777_777, &payload(5), 80);
    assert_eq!(r, Push::Reset);
    assert_eq!(s.jb.pop_frame(100), None, "new stream buffers again");
    assert_eq!(ident(&s.jb.pop_frame(140).unwrap()), Some(5));
    assert_eq!(s.jb.stats().resets, 1);
}

#[test]
fn sequence_jump_needs_confirmation() {
    let mut s = Sim::new(1, 0);
    s.push(0, 0);
    s.push(1, 20);
    // A lone packet far away in sequence space is discarded…
    assert_eq!(
        s.jb.push(SSRC, 30_000, 320, &payload(2), 40),
        Push::Discarded
    );
    // …but if the next one follows it, the stream restarted.
    assert_eq!(
        s.jb.push(SSRC, 30_001, 90_000, &payload(3), 60),
        Push::Reset
    );
    assert_eq!(
        s.jb.push(SSRC, 30_002, 90_160, &payload(4), 80),
        Push::Buffered
    );
}

#[test]
fn timestamp_jump_ahead_is_skipped() {
    let mut s = Sim::new(1, 0);
    s.push(0, 0);
    assert_eq!(s.pop_n(60, 2), vec![Some(0), None]);
    // Same seq run, timestamp jumps 10 s ahead (sender restarted its clock).
    s.jb.push(SSRC, 2, 80_000, &payload(1), 100);
    s.jb.push(SSRC, 3, 80_160, &payload(2), 120);
    // Playout jumps to the new timeline, keeping the target delay (3 frames) before it.
    assert_eq!(
        s.pop_n(120, 6),
        vec![None, None, None, Some(1), Some(2), None]
    );
}

#[test]
fn jitter_estimate_grows_with_variable_arrival() {
    let mut s = Sim::new(1, 0);
    for i in 0..50u32 {
        let jitter = if i % 2 == 0 { 0 } else { 15 };
        s.push(i, u64::from(i) * 20 + jitter);
    }
    let j = s.jb.stats().jitter_ms;
    assert!(j > 5.0 && j < 16.0, "{j}");
    assert_eq!(s.jb.push(SSRC, 100, 0, &[], 0), Push::Discarded);
}

#[test]
fn real_capture_with_30ms_packets_plays_back_losslessly() {
    use crate::rtp::parse_incoming;
    use crate::test_util::{corpus, read_pcap_udp};
    let dgrams = read_pcap_udp(&corpus("pcap/g711a.pcap"));
    let pkts: Vec<_> = dgrams
        .iter()
        .map(|d| (d.ms, parse_incoming(&d.payload).unwrap()))
        .collect();
    assert!(
        pkts.len() > 200
            && pkts
                .iter()
                .all(|(_, p)| p.pt == 8 && p.payload.len() == 240)
    );
    let expected: Vec<i16> = pkts
        .iter()
        .flat_map(|(_, p)| Codec::Pcma.decode(&p.payload))
        .collect();
    let mut jb = JitterBuffer::new(Codec::Pcma, JitterConfig::default());
    let mut out = Vec::new();
    let mut next = 0;
    let end_ms = pkts.last().unwrap().0 + 500;
    for now in (0..end_ms).step_by(20) {
        while next < pkts.len() && pkts[next].0 <= now {
            let (ms, p) = &pkts[next];
            assert_eq!(
                jb.push(p.ssrc, p.seq, p.ts, &p.payload, *ms),
                Push::Buffered
            );
            next += 1;
        }
        if let Some(f) = jb.pop_frame(now) {
            out.push(f);
        }
    }
    let st = jb.stats();
    eprintln!("{st:?}");
    let audio: Vec<i16> = out
        .iter()
        .skip_while(|f| matches!(f, Frame::Lost(_)))
        .flat_map(|f| f.samples().to_vec())
        .collect();
    // Every received sample comes out, in order (the capture has no loss).
    assert!(audio.len() >= expected.len());
    assert_eq!(
        &audio[..expected.len()],
        &expected[..],
        "late {} lost {}",
        st.late,
        st.lost_frames
    );
}
