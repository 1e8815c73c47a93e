//! zvonar voice: media primitives for calls.
//!
//! Sans-IO building blocks (they take packets, samples and explicit times, never sleep and never
//! read the clock): [`codec`] (G.711), [`rtp`] (RTP/RTCP packets, symmetric latching),
//! [`jitter`] (jitter buffer), [`dtmf`] (RFC 4733 and SIP INFO digits), [`vad`] (voice activity
//! detection and end-pointing). With IO: [`recorder`] (blocking WAV writer; run it on its own
//! thread) and [`rtp_socket`] (a tokio UDP RTP endpoint); [`webrtc_leg`] (a browser's WebRTC leg:
//! ICE-lite, DTLS-SRTP, G.711, giving and taking the same RTP packets and frames). Speech: [`asr`] (whisper-rs on worker
//! threads, with a no-speech gate) and [`tts`] (Festival, Piper or espeak-ng on one thread, cached);
//! [`say_ru`] (Russian text normalisation before synthesis), [`phrase`] (per-call phrases from
//! cached pieces) and [`clips`] (numbers from human recordings, Asterisk `say` conventions).
//!
//! All audio is 8000 Hz mono signed 16-bit PCM, in 20 ms frames of [`codec::FRAME_SAMPLES`]
//! (160) samples.

pub mod codec;
pub mod dtmf;
pub mod jitter;
pub mod recorder;
pub mod rtp;
pub mod rtp_socket;
pub mod vad;
pub mod webrtc_leg;

#[cfg(test)]
mod test_util;
// lead: asr, tts modules
pub mod asr;
pub mod clips;
mod espeak;
pub mod festival;
pub mod phrase;
mod piper;
/// Russian text normalisation, from the `zvonar-say` crate.
pub use zvonar_say as say_ru;
mod sound_file;
pub mod tts;
