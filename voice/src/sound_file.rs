//! Recorded prompts: WAV files an admin records, read as 8 kHz mono `i16`.
//!
//! Accepted: PCM 8/16/24/32-bit integer and 32-bit float (through hound), and G.711 A-law
//! and μ-law WAV (format tags 6 and 7 of RFC 2361, what telephony recorders and
//! `sox -e a-law` write; hound does not read them), at any sample rate (resampled to
//! 8 kHz), mono or stereo (mixed down).

use crate::codec::Codec;
use crate::tts::{to_8k, TtsError};
use std::path::Path;

/// Reads a recorded prompt and returns it as 8 kHz mono `i16`.
///
/// Errors: [`TtsError::SoundFile`] naming the file and the problem (missing, not a WAV,
/// an encoding other than those above).
pub fn load_sound_file(path: &Path) -> Result<Vec<i16>, TtsError> {
    let err = |reason: String| TtsError::SoundFile {
        path: path.to_path_buf(),
        reason,
    };
    let mut r = match hound::WavReader::open(path) {
        Ok(r) => r,
        Err(hound::Error::Unsupported) => return load_g711(path),
        Err(e) => return Err(err(e.to_string())),
    };
    let spec = r.spec();
    let raw: Vec<i16> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => r
            .samples::<i16>()
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?,
        (hound::SampleFormat::Int, 8) => r
            .samples::<i8>()
            .map(|s| s.map(|v| i16::from(v) << 8))
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?,
        (hound::SampleFormat::Int, bits @ (24 | 32)) => r
            .samples::<i32>()
            .map(|s| s.map(|v| (v >> (bits - 16)) as i16))
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?,
        (hound::SampleFormat::Float, 32) => r
            .samples::<f32>()
            .map(|s| s.map(|v| (v.clamp(-1.0, 1.0) * 32767.0) as i16))
            .collect::<Result<_, _>>()
            .map_err(|e| err(e.to_string()))?,
        (fmt, bits) => return Err(err(format!("unsupported WAV format {fmt:?} {bits}-bit"))),
    };
    Ok(to_8k(&mix_down(raw, spec.channels), spec.sample_rate))
}

fn mix_down(raw: Vec<i16>, channels: u16) -> Vec<i16> {
    let ch = usize::from(channels.max(1));
    if ch == 1 {
        return raw;
    }
    raw.chunks(ch)
        .map(|f| (f.iter().map(|&s| i32::from(s)).sum::<i32>() / ch as i32) as i16)
        .collect()
}

/// A WAV whose `fmt ` chunk says A-law (6) or μ-law (7), 8 bits per sample.
fn load_g711(path: &Path) -> Result<Vec<i16>, TtsError> {
    let err = |reason: &str| TtsError::SoundFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let bytes = std::fs::read(path).map_err(|e| err(&e.to_string()))?;
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(err("not a RIFF WAVE file"));
    }
    let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut at = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32_at(&bytes, at + 4) as usize;
        let body = at + 8;
        let end = body.saturating_add(len).min(bytes.len());
        match id {
            b"fmt " if len >= 16 && end - body >= 16 => {
                let b = &bytes[body..end];
                format = Some((u16_at(b, 0), u16_at(b, 2), u32_at(b, 4), u16_at(b, 14)));
            }
            b"data" => {
                let Some((tag, channels, rate, bits)) = format else {
                    return Err(err("data chunk before the fmt chunk"));
                };
                let codec = match (tag, bits) {
                    (6, 8) => Codec::Pcma,
                    (7, 8) => Codec::Pcmu,
                    _ => {
                        return Err(err(&format!(
                            "unsupported WAV encoding (format tag {tag}, {bits}-bit): use PCM, float, A-law or μ-law"
                        )))
                    }
                };
                if rate == 0 {
                    return Err(err("sample rate 0"));
                }
                let pcm = codec.decode(&bytes[body..end]);
                return Ok(to_8k(&mix_down(pcm, channels), rate));
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body.saturating_add(len + (len & 1));
    }
    Err(err("no data chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g711_wav(tag: u16, codec: Codec, pcm: &[i16]) -> Vec<u8> {
        let data = codec.encode(pcm);
        let mut f = Vec::new();
        f.extend_from_slice(b"RIFF");
        f.extend_from_slice(&(4 + 26 + 8 + data.len() as u32).to_le_bytes());
        f.extend_from_slice(b"WAVE");
        f.extend_from_slice(b"fmt ");
        f.extend_from_slice(&18u32.to_le_bytes());
        f.extend_from_slice(&tag.to_le_bytes());
        f.extend_from_slice(&1u16.to_le_bytes()); // mono
        f.extend_from_slice(&8000u32.to_le_bytes());
        f.extend_from_slice(&8000u32.to_le_bytes()); // bytes per second
        f.extend_from_slice(&1u16.to_le_bytes()); // block align
        f.extend_from_slice(&8u16.to_le_bytes());
        f.extend_from_slice(&0u16.to_le_bytes()); // cbSize
        f.extend_from_slice(b"data");
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(&data);
        f
    }

    fn tone(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
            .collect()
    }

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("zvonar-sound-{name}-{}", std::process::id()))
    }

    #[test]
    fn alaw_and_mulaw_wav_prompts_are_read() {
        let pcm = tone(800);
        for (tag, codec, name) in [(6, Codec::Pcma, "alaw.wav"), (7, Codec::Pcmu, "ulaw.wav")] {
            let path = temp(name);
            std::fs::write(&path, g711_wav(tag, codec, &pcm)).unwrap();
            let got = load_sound_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got, codec.decode(&codec.encode(&pcm)), "{name}");
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn studio_recordings_at_24_bit_44_1_khz_stereo_are_read() {
        let path = temp("studio.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..44_100 {
            let v = ((f64::from(i) * 0.05).sin() * 4_000_000.0) as i32;
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        let got = load_sound_file(&path).unwrap();
        // One second at 8 kHz, loud (4e6 / 2^8 ≈ 15600 peak).
        assert!((7900..=8100).contains(&got.len()), "{}", got.len());
        let peak = got.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 12_000, "{peak}");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_file_that_is_not_a_wav_is_an_error_naming_it() {
        let path = temp("notes.wav");
        std::fs::write(&path, b"ID3\x03 an mp3 renamed").unwrap();
        match load_sound_file(&path) {
            Err(TtsError::SoundFile { path: p, .. }) => assert_eq!(p, path),
            other => panic!("{other:?}"),
        }
        match load_sound_file(Path::new("/nonexistent/greeting.wav")) {
            Err(e) => assert!(e.to_string().contains("/nonexistent/greeting.wav"), "{e}"),
            Ok(_) => panic!("a missing file was read"),
        }
        let _ = std::fs::remove_file(path);
    }
}
