//! G.711 codecs (ITU-T G.711 A-law and μ-law) with their static RTP payload types
//! (RFC 3551 §6, table 4: PCMU = 0, PCMA = 8, both 8000 Hz, one channel).
//!
//! The sample conversion itself is done by the `audio-codec` crate; this module only names the
//! codecs the engine negotiates and fixes the frame geometry.

use audio_codec::{Decoder, Encoder};

/// Sample rate of all audio in this crate, in Hz (G.711 narrowband).
pub const SAMPLE_RATE: u32 = 8000;
/// Duration of one audio frame (one RTP packet), in milliseconds.
pub const FRAME_MS: u32 = 20;
/// Samples per 20 ms frame at 8000 Hz: 160. Also the RTP timestamp increment per frame.
pub const FRAME_SAMPLES: usize = 160;
/// Samples per millisecond at [`SAMPLE_RATE`].
pub const SAMPLES_PER_MS: u32 = SAMPLE_RATE / 1000;

/// A G.711 codec as negotiated in SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 A-law, static payload type 8 (the usual codec on Russian/European trunks).
    Pcma,
    /// G.711 μ-law, static payload type 0.
    Pcmu,
}

impl Codec {
    /// Static RTP payload type (RFC 3551 §6): PCMA = 8, PCMU = 0.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcma => 8,
            Codec::Pcmu => 0,
        }
    }

    /// The codec for a static payload type, or `None` for any other payload type.
    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            8 => Some(Codec::Pcma),
            0 => Some(Codec::Pcmu),
            _ => None,
        }
    }

    /// Encoding name as written in an SDP `a=rtpmap` line (`PCMA/8000`, `PCMU/8000`).
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::Pcma => "PCMA",
            Codec::Pcmu => "PCMU",
        }
    }

    /// Encodes 8000 Hz linear PCM samples into G.711 bytes, one byte per sample
    /// (160 samples → 160 bytes for a 20 ms frame).
    pub fn encode(self, samples: &[i16]) -> Vec<u8> {
        match self {
            Codec::Pcma => audio_codec::pcma::PcmaEncoder::new().encode(samples),
            Codec::Pcmu => audio_codec::pcmu::PcmuEncoder::new().encode(samples),
        }
    }

    /// Decodes G.711 bytes into 8000 Hz linear PCM, one sample per byte. Every byte value is a
    /// valid G.711 code word, so decoding cannot fail.
    pub fn decode(self, payload: &[u8]) -> Vec<i16> {
        match self {
            Codec::Pcma => audio_codec::pcma::PcmaDecoder::new().decode(payload),
            Codec::Pcmu => audio_codec::pcmu::PcmuDecoder::new().decode(payload),
        }
    }

    /// One 20 ms frame of encoded digital silence ([`FRAME_SAMPLES`] bytes), used as comfort
    /// "silence" when there is nothing to say so the RTP stream never gaps.
    pub fn silence_frame(self) -> Vec<u8> {
        self.encode(&[0i16; FRAME_SAMPLES])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn payload_types_follow_rfc3551() {
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
        assert_eq!(Codec::from_payload_type(101), None);
    }

    #[test]
    fn roundtrip_is_close_and_one_byte_per_sample() {
        let samples: Vec<i16> = (0..FRAME_SAMPLES)
            .map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16)
            .collect();
        for codec in [Codec::Pcma, Codec::Pcmu] {
            let bytes = codec.encode(&samples);
            assert_eq!(bytes.len(), FRAME_SAMPLES);
            let back = codec.decode(&bytes);
            assert_eq!(back.len(), FRAME_SAMPLES);
            for (a, b) in samples.iter().zip(&back) {
                // G.711 quantisation error is at most ~3% of the magnitude (plus a small step).
                let err = (i32::from(*a) - i32::from(*b)).abs();
                assert!(
                    err <= i32::from(a.unsigned_abs()) / 16 + 16,
                    "{codec:?} {a} {b}"
                );
            }
        }
    }

    #[test]
    fn known_code_words() {
        // A-law silence is 0xD5 (or 0x55), μ-law silence is 0xFF (or 0x7F).
        assert!(Codec::Pcma
            .silence_frame()
            .iter()
            .all(|b| *b == 0xD5 || *b == 0x55));
        assert!(Codec::Pcmu
            .silence_frame()
            .iter()
            .all(|b| *b == 0xFF || *b == 0x7F));
        assert_eq!(Codec::Pcma.decode(&[0xD5]), vec![8]);
        assert_eq!(Codec::Pcmu.decode(&[0xFF]), vec![0]);
    }
}
