#![allow(clippy::unwrap_used)] // tests may unwrap
use super::*;
use crate::test_util::{corpus, read_wav_8k, sound_ru};
use rand::{Rng, SeedableRng};

fn silence(ms: u64) -> Vec<i16> {
    vec![0; (ms * 8) as usize]
}

fn noise(ms: u64, amplitude: i16, seed: u64) -> Vec<i16> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..ms * 8)
        .map(|_| rng.random_range(-amplitude..=amplitude))
        .collect()
}

/// Runs the VAD over `audio` in 20 ms frames, then flushes.
fn run(audio: &[i16], cfg: VadConfig) -> Vec<VadEvent> {
    let mut vad = Vad::new(cfg);
    let mut events: Vec<VadEvent> = audio
        .chunks(FRAME_SAMPLES)
        .flat_map(|c| vad.push(c))
        .collect();
    events.extend(vad.flush());
    events
}

/// (start_ms, end_ms, truncated) of each utterance, checking the event invariants on the way.
fn utterances(events: &[VadEvent]) -> Vec<(u64, u64, bool)> {
    let mut out = Vec::new();
    let mut open = None;
    for e in events {
        match e {
            VadEvent::SpeechStart { at_ms } => {
                assert!(open.is_none(), "two starts in a row: {events:?}");
                open = Some(*at_ms);
            }
            VadEvent::SpeechEnd {
                utterance,
                start_ms,
                end_ms,
                truncated,
            } => {
                let onset = open.take().expect("end without start");
                assert_eq!(utterance.len() as u64, (end_ms - start_ms) * 8);
                assert!(*start_ms <= onset && onset < *end_ms);
                out.push((*start_ms, *end_ms, *truncated));
            }
            VadEvent::Pause { .. } | VadEvent::Resumed => {
                assert!(open.is_some(), "a pause outside speech: {events:?}");
            }
        }
    }
    assert!(open.is_none());
    out
}

fn mix(a: &[i16], b: &[i16]) -> Vec<i16> {
    a.iter().zip(b).map(|(x, y)| x.saturating_add(*y)).collect()
}

/// Pads speech with `pad_ms` of silence on both sides.
fn padded(speech: &[i16], pad_ms: u64) -> Vec<i16> {
    let mut v = silence(pad_ms);
    v.extend_from_slice(speech);
    v.extend(silence(pad_ms));
    v
}

fn check_real_speech(rel: &str, with_noise: bool) {
    let speech = read_wav_8k(&corpus(rel));
    let dur_ms = speech.len() as u64 / 8;
    let mut audio = padded(&speech, 1500);
    if with_noise {
        audio = mix(&audio, &noise(audio.len() as u64 / 8, 200, 7));
    }
    let utts = utterances(&run(&audio, VadConfig::default()));
    eprintln!("{rel} ({dur_ms} ms, noise {with_noise}): {utts:?}");
    assert!(!utts.is_empty(), "{rel}: no speech found");
    let first = utts[0].0;
    let last = utts[utts.len() - 1].1;
    // Boundaries: within the speech (plus pre-roll/tail), and not far inside it.
    assert!(
        first + 200 >= 1500 - 200 && first <= 1500 + 600,
        "{rel}: starts at {first}"
    );
    assert!(
        last <= 1500 + dur_ms + 400 && last + 700 >= 1500 + dur_ms,
        "{rel}: ends at {last}"
    );
    assert!(utts.iter().all(|u| !u.2));
    // Most of the file is inside utterances.
    let covered: u64 = utts.iter().map(|u| u.1 - u.0).sum();
    assert!(
        covered * 10 >= dur_ms * 6,
        "{rel}: only {covered} of {dur_ms} ms"
    );
}

#[test]
fn real_speech_sample_4() {
    check_real_speech("audio_ru/tinkoff-voicekit-examples/sample_4.wav", false);
}

#[test]
fn real_speech_ru_num() {
    check_real_speech("audio_ru/silero-vad/ru_num.wav", false);
}

#[test]
fn real_speech_in_low_noise() {
    check_real_speech("audio_ru/tinkoff-voicekit-examples/sample_4.wav", true);
    check_real_speech("audio_ru/silero-vad/ru_num.wav", true);
}

#[test]
fn asterisk_prompt_is_one_utterance() {
    let speech = read_wav_8k(&sound_ru("digits/12.wav"));
    let utts = utterances(&run(&padded(&speech, 1000), VadConfig::default()));
    assert_eq!(utts.len(), 1, "{utts:?}");
    assert!(utts[0].0 >= 700 && utts[0].0 <= 1200, "{utts:?}");
}

#[test]
fn silence_and_low_noise_yield_nothing() {
    assert_eq!(run(&silence(10_000), VadConfig::default()), vec![]);
    for amp in [50, 200, 400] {
        assert_eq!(
            run(&noise(10_000, amp, amp as u64), VadConfig::default()),
            vec![],
            "noise ±{amp}"
        );
    }
}

#[test]
fn short_click_is_ignored() {
    let mut audio = noise(2000, 100, 1);
    for s in &mut audio[8000..8000 + 320] {
        *s = s.saturating_mul(80);
    }
    assert_eq!(run(&audio, VadConfig::default()), vec![]);
}

#[test]
fn pre_roll_and_utterance_bounds_on_a_synthetic_burst() {
    // 1 s silence, 1 s of a loud 440 Hz tone, 2 s silence.
    let tone: Vec<i16> = (0..8000)
        .map(|i| ((i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 8000.0).sin() * 8000.0) as i16)
        .collect();
    let audio = padded(&tone, 1000);
    let mut vad = Vad::new(VadConfig::default());
    let mut events = Vec::new();
    for (i, c) in audio.chunks(FRAME_SAMPLES).enumerate() {
        for e in vad.push(c) {
            events.push((i as u64 * 20, e));
        }
    }
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].1, VadEvent::SpeechStart { at_ms: 1000 });
    assert_eq!(events[0].0, 1000 + 140, "reported after min_speech_ms");
    let (
        when,
        VadEvent::SpeechEnd {
            start_ms,
            end_ms,
            ref utterance,
            truncated,
        },
    ) = events[1]
    else {
        panic!()
    };
    assert_eq!((start_ms, end_ms, truncated), (800, 2200, false));
    assert_eq!(when, 2000 + 680, "reported after end_silence_ms");
    assert!(
        utterance[..1600].iter().all(|s| *s == 0),
        "pre-roll is the silence before"
    );
    assert_eq!(&utterance[1600..1600 + 8000], &tone[..]);
}

#[test]
fn long_speech_is_cut_at_max_utterance() {
    let speech = read_wav_8k(&corpus("audio_ru/tinkoff-voicekit-examples/sample_4.wav"));
    let cfg = VadConfig {
        max_utterance_ms: 1000,
        ..VadConfig::default()
    };
    let utts = utterances(&run(&padded(&speech, 1000), cfg));
    assert!(utts.iter().any(|u| u.2), "{utts:?}");
    assert!(utts.iter().all(|u| u.1 - u.0 <= 1000), "{utts:?}");
}

#[test]
fn flush_returns_speech_in_progress_and_reset_drops_it() {
    let tone: Vec<i16> = (0..4000)
        .map(|i| if i % 20 < 10 { 6000 } else { -6000 })
        .collect();
    let mut audio = silence(500);
    audio.extend(&tone);
    let mut vad = Vad::new(VadConfig::default());
    let ev = vad.push(&audio);
    assert!(
        matches!(ev[..], [VadEvent::SpeechStart { at_ms: 500 }]),
        "{ev:?}"
    );
    assert!(vad.in_speech());
    let Some(VadEvent::SpeechEnd {
        start_ms: 300,
        end_ms: 1000,
        ..
    }) = vad.flush()
    else {
        panic!()
    };
    vad.push(&tone);
    vad.reset();
    assert!(!vad.in_speech());
    assert_eq!(vad.flush(), None);
    assert_eq!(vad.position_ms(), 1500);
}

/// `set_max_utterance_ms` (the robot's `Listen::max_ms`, the dialplan's `max_utterance_ms`)
/// cuts a long utterance at the new length, also one already in progress.
#[test]
fn max_utterance_can_be_changed_while_listening() {
    // 1 s silence, 5 s of a loud 440 Hz tone, 1 s silence.
    let tone: Vec<i16> = (0..40_000)
        .map(|i| ((i as f64 * 440.0 * std::f64::consts::TAU / 8000.0).sin() * 8000.0) as i16)
        .collect();
    let audio = padded(&tone, 1000);
    let mut vad = Vad::new(VadConfig::default());
    vad.set_max_utterance_ms(2000);
    assert_eq!(vad.config().max_utterance_ms, 2000);
    let events: Vec<VadEvent> = audio
        .chunks(FRAME_SAMPLES)
        .flat_map(|c| vad.push(c))
        .collect();
    let utts = utterances(&events);
    assert!(utts.len() >= 2, "{utts:?}");
    assert_eq!(
        utts[0],
        (800, 2800, true),
        "cut 2000 ms after its start (with pre-roll)"
    );
    assert!(utts.iter().all(|u| u.1 - u.0 <= 2000), "{utts:?}");

    // Lowered in the middle of an utterance: cut at the next frame.
    let mut vad = Vad::new(VadConfig::default());
    // 1.5 s into the tone (a steady tone longer than the 2 s noise window becomes noise).
    let (head, tail) = audio.split_at(8000 * 5 / 2);
    let mut events: Vec<VadEvent> = head
        .chunks(FRAME_SAMPLES)
        .flat_map(|c| vad.push(c))
        .collect();
    assert!(vad.in_speech());
    vad.set_max_utterance_ms(1000);
    let next = vad.push(&tail[..FRAME_SAMPLES]);
    assert!(
        matches!(
            &next[..],
            [VadEvent::SpeechEnd {
                truncated: true,
                start_ms: 800,
                end_ms: 2520,
                ..
            }]
        ),
        "{next:?}"
    );
    events.extend(next);
    assert!(!utterances(&events).is_empty());
}

fn tone(ms: u64) -> Vec<i16> {
    (0..ms * 8)
        .map(|i| ((i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 8000.0).sin() * 8000.0) as i16)
        .collect()
}

/// Events with the time (ms of audio fed) each was reported at.
fn timed(audio: &[i16], cfg: VadConfig) -> Vec<(u64, VadEvent)> {
    let mut vad = Vad::new(cfg);
    let mut events = Vec::new();
    for (i, c) in audio.chunks(FRAME_SAMPLES).enumerate() {
        for e in vad.push(c) {
            events.push((i as u64 * 20, e));
        }
    }
    events
}

fn early(ms: u32) -> VadConfig {
    VadConfig {
        early_ms: ms,
        ..VadConfig::default()
    }
}

#[test]
fn a_pause_carries_exactly_the_utterance_that_then_ends() {
    let audio = padded(&tone(1000), 1000);
    let events = timed(&audio, early(300));
    assert_eq!(events.len(), 3, "{events:?}");
    let (
        when,
        VadEvent::Pause {
            utterance: paused,
            start_ms,
            end_ms,
        },
    ) = &events[1]
    else {
        panic!("{events:?}")
    };
    // The tone ends at 2000 ms; 300 ms of silence later (the frame 2280..2300 is the 15th
    // silent one) the pause is reported, 400 ms before the utterance is closed.
    assert_eq!((*when, *start_ms, *end_ms), (2000 + 280, 800, 2200));
    let (closed, VadEvent::SpeechEnd { utterance, .. }) = &events[2] else {
        panic!("{events:?}")
    };
    assert_eq!(*closed, 2000 + 680);
    assert_eq!(paused, utterance, "the same samples");
    assert_eq!(
        utterances(&run(&audio, early(300))),
        vec![(800, 2200, false)]
    );
}

#[test]
fn speech_after_a_pause_is_reported_as_resumed() {
    // «Тысяча… сто»: 500 ms, a 400 ms pause (longer than early_ms, shorter than
    // end_silence_ms), 500 ms, silence.
    let mut audio = silence(1000);
    audio.extend(tone(500));
    audio.extend(silence(400));
    audio.extend(tone(500));
    audio.extend(silence(1000));
    let events: Vec<VadEvent> = timed(&audio, early(300))
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            VadEvent::SpeechStart { .. } => "start",
            VadEvent::Pause { .. } => "pause",
            VadEvent::Resumed => "resumed",
            VadEvent::SpeechEnd { .. } => "end",
        })
        .collect();
    assert_eq!(kinds, ["start", "pause", "resumed", "pause", "end"]);
    let (
        VadEvent::Pause {
            utterance: first, ..
        },
        VadEvent::Pause {
            utterance: last, ..
        },
        VadEvent::SpeechEnd { utterance, .. },
    ) = (&events[1], &events[3], &events[4])
    else {
        panic!()
    };
    assert_eq!(last, utterance);
    assert!(first.len() < utterance.len());
    assert_eq!(utterances(&events), vec![(800, 2600, false)]);
}

#[test]
fn no_pause_when_early_recognition_is_off_or_unusable() {
    let audio = padded(&tone(1000), 1000);
    // Off (the default), shorter than the tail, not before the end.
    for cfg in [VadConfig::default(), early(100), early(700), early(900)] {
        let events = timed(&audio, cfg);
        assert!(
            events
                .iter()
                .all(|(_, e)| !matches!(e, VadEvent::Pause { .. })),
            "{cfg:?}: {events:?}"
        );
        assert_eq!(events.len(), 2);
    }
}
