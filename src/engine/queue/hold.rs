//! Comfort audio for callers waiting in a queue: a quiet, endless melody (no silence, so the
//! caller knows the line is alive), generated once at 8 kHz. Played in a loop between the
//! position announcements.

use std::sync::Arc;

/// Sample rate of the loop, Hz.
pub const RATE: u32 = 8_000;

/// Length of one note, ms; notes overlap their neighbours by their release.
const NOTE_MS: u32 = 400;

/// The melody, Hz: a slow arpeggio in C major and A minor (C4 E4 G4 C5 … A3 C4 E4 A4), played
/// twice with a different ending; about 6.4 s.
const NOTES: [f32; 16] = [
    261.63, 329.63, 392.00, 523.25, 392.00, 329.63, 261.63, 329.63, 220.00, 261.63, 329.63, 440.00,
    329.63, 261.63, 246.94, 293.66,
];

/// Peak amplitude of a note: about −18 dBFS, quieter than speech so announcements stand out.
const PEAK: f32 = 4_000.0;

/// The loop: 8 kHz mono samples whose level never drops to silence for more than a few ms
/// between notes (each note's release overlaps the next one's attack).
pub fn hold_loop() -> Arc<[i16]> {
    let note_len = (RATE * NOTE_MS / 1000) as usize;
    let tail = note_len / 2; // release overlapping the next note
    let total = note_len * NOTES.len() + tail;
    let mut mix = vec![0f32; total];
    for (i, &f) in NOTES.iter().enumerate() {
        let start = i * note_len;
        let len = note_len + tail;
        for n in 0..len {
            let t = n as f32 / RATE as f32;
            // 20 ms attack, exponential decay: a soft bell.
            let attack = (n as f32 / (0.02 * RATE as f32)).min(1.0);
            let decay = (-3.0 * n as f32 / len as f32).exp();
            let tone = (2.0 * std::f32::consts::PI * f * t).sin()
                + 0.3 * (4.0 * std::f32::consts::PI * f * t).sin();
            mix[start + n] += PEAK * attack * decay * tone / 1.3;
        }
    }
    // Fold the tail of the last note onto the start so the loop is seamless.
    let mut out: Vec<i16> = mix[..note_len * NOTES.len()]
        .iter()
        .map(|v| v.clamp(-32_000.0, 32_000.0) as i16)
        .collect();
    for (n, v) in mix[note_len * NOTES.len()..].iter().enumerate() {
        out[n] = (f32::from(out[n]) + v).clamp(-32_000.0, 32_000.0) as i16;
    }
    out.into()
}

/// The position and expected-wait announcement in Russian, for the TTS (numbers are said in
/// words by its normaliser: «Ваш номер в очереди: 3» → «три»). `expected_wait_s` is rounded up
/// to whole minutes; `None` says nothing about the wait.
pub fn announcement(position: u32, expected_wait_s: Option<u32>) -> String {
    let mut text = format!("Ваш номер в очереди: {position}.");
    match expected_wait_s {
        Some(s) if s < 60 => text.push_str(" Оператор ответит меньше чем через минуту."),
        Some(s) => {
            let m = s.div_ceil(60);
            text.push_str(&format!(
                " Примерное время ожидания: {m} {}.",
                minutes_word(m)
            ));
        }
        None => {}
    }
    text.push_str(" Пожалуйста, оставайтесь на линии.");
    text
}

/// «минута», «минуты», «минут» for `n` (nominative after a number).
fn minutes_word(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=14) => "минут",
        (1, _) => "минута",
        (2..=4, _) => "минуты",
        _ => "минут",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_is_never_silent() {
        let pcm = hold_loop();
        assert!(pcm.len() >= 6 * RATE as usize, "{} samples", pcm.len());
        // RMS of every 20 ms frame stays well above silence, and below the speech peak.
        for (i, frame) in pcm.chunks(160).enumerate() {
            let rms = (frame.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
                / frame.len() as f64)
                .sqrt();
            assert!(rms > 100.0, "frame {i} is near silence: rms {rms:.0}");
            assert!(rms < 6_000.0, "frame {i} too loud: rms {rms:.0}");
        }
    }

    #[test]
    fn announcements_in_russian() {
        assert_eq!(
            announcement(3, Some(250)),
            "Ваш номер в очереди: 3. Примерное время ожидания: 5 минут. Пожалуйста, оставайтесь на линии."
        );
        assert!(announcement(1, Some(61)).contains("2 минуты"));
        assert!(announcement(1, Some(60)).contains("1 минута"));
        assert!(announcement(1, Some(40)).contains("меньше чем через минуту"));
        assert!(announcement(2, Some(11 * 60)).contains("11 минут"));
        assert!(announcement(2, Some(21 * 60)).contains("21 минута"));
        assert_eq!(
            announcement(2, None),
            "Ваш номер в очереди: 2. Пожалуйста, оставайтесь на линии."
        );
    }
}
