//! What Opus costs a call whose browser offers no G.711 (issue 7's benchmark: «transcoding
//! cost per call where Opus is used»): one minute of speech (tests/fixtures/audio_ru, 8 kHz)
//! through the WebRTC leg's transcoder both ways, as a call does it: each 20 ms frame the
//! engine sends is Opus-encoded, and each Opus packet the browser sends is decoded to 8 kHz
//! and re-encoded as PCMA for the engine.
//!
//! `cargo bench -p zvonar-voice --bench opus` (release). Prints CPU time per call-minute in
//! each direction and the share of one core that 20 such calls take.

use std::time::Instant;
use zvonar_voice::codec::{Codec, FRAME_SAMPLES};
use zvonar_voice::rtp::Incoming;
use zvonar_voice::webrtc_leg::OpusTranscoder;

fn speech() -> Vec<i16> {
    let path = zvonar_fixtures::path("audio_ru/tinkoff-voicekit-examples/sample_4.wav");
    let mut r = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rate = r.spec().sample_rate;
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    audio_codec::resample(&s, rate, 8000)
}

fn main() {
    let one = speech();
    // One minute: the phrase repeated.
    let minute: Vec<i16> = one.iter().copied().cycle().take(8000 * 60).collect();
    let frames: Vec<&[i16]> = minute.chunks_exact(FRAME_SAMPLES).collect();
    let runs = 5;
    let (mut enc_best, mut dec_best) = (f64::MAX, f64::MAX);
    let mut bytes = 0usize;
    for _ in 0..runs {
        // Engine → browser: encode.
        let mut tx = OpusTranscoder::new();
        let t0 = Instant::now();
        let packets: Vec<Vec<u8>> = frames.iter().map(|f| tx.encode(f)).collect();
        enc_best = enc_best.min(t0.elapsed().as_secs_f64());
        bytes = packets.iter().map(Vec::len).sum();
        // Browser → engine: decode, then PCMA for the engine.
        let mut rx = OpusTranscoder::new();
        let t0 = Instant::now();
        for (i, p) in packets.into_iter().enumerate() {
            let pkt = Incoming {
                pt: 111,
                seq: i as u16,
                ts: 960 * i as u32,
                ssrc: 1,
                marker: false,
                payload: p,
            };
            std::hint::black_box(rx.to_engine(pkt, Codec::Pcma, 8));
        }
        dec_best = dec_best.min(t0.elapsed().as_secs_f64());
    }
    let per_call = enc_best + dec_best;
    println!(
        "opus transcoding, one call-minute (3000 frames of 20 ms), best of {runs}: \
         encode {:.1} ms, decode+PCMA {:.1} ms, both {:.1} ms = {:.2} % of one core; \
         20 such calls {:.1} % of one core; {:.1} kbit/s to the browser",
        enc_best * 1000.0,
        dec_best * 1000.0,
        per_call * 1000.0,
        per_call / 60.0 * 100.0,
        per_call * 20.0 / 60.0 * 100.0,
        bytes as f64 * 8.0 / 60.0 / 1000.0
    );
}
