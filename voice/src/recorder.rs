//! Call recording: a stereo WAV file, 8000 Hz, 16-bit, left = caller, right = zvonar (the
//! robot or the operator). A call an operator places (click-to-call) is recorded the other
//! way round ([`ChannelLayout::CallerRight`]), so the operator is on the right in every file.
//!
//! Both sides are placed on one timeline: positions in samples (8000 per second) since the call
//! was answered. Where one side has no audio the channel holds silence, so the two channels stay
//! aligned and the file's length is the call's length.
//!
//! Crash safety: the file is written directly at its final path (`<name>.wav`, no temporary
//! file) and the WAV header is rewritten every `flush_every` samples of audio (1 s by default,
//! [`hound::WavWriter::flush`]), so if the process dies the file is still a valid WAV holding
//! everything up to the last flush. [`CallRecorder::finalize`] writes the rest on a normal end.
//!
//! [`CallRecorder`] does blocking file IO. From async code either run it in
//! `tokio::task::spawn_blocking`, or use [`RecorderThread`], which owns a recorder on a
//! dedicated thread and takes audio through a channel without blocking.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use crate::codec::SAMPLE_RATE;

/// Errors of the recorder: always ours (disk, permissions), never the caller's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// Creating or writing the WAV file failed.
    #[error("recording {path}: {source}")]
    Wav {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: hound::Error,
    },
    /// The recorder thread is gone (it panicked or failed earlier).
    #[error("recorder thread stopped")]
    ThreadGone,
}

/// Which side of the call a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The remote party (left channel).
    Caller,
    /// Our robot or operator (right channel).
    Zvonar,
}

/// Which channel each [`Side`] goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelLayout {
    /// [`Side::Caller`] left, [`Side::Zvonar`] right: a call from outside (a resident, a
    /// trunk), answered by the robot or bridged to an operator, or a call zvonar places.
    #[default]
    CallerLeft,
    /// [`Side::Caller`] right, [`Side::Zvonar`] left: a call an operator places from the
    /// console or a desk phone, whose calling leg is the operator and whose far side (what
    /// zvonar sends to the operator) is the resident; the operator stays on the right.
    CallerRight,
}

/// Summary of a finished recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingInfo {
    /// The WAV file.
    pub path: PathBuf,
    /// Samples per channel written (8000 per second).
    pub samples: u64,
    /// Duration in ms.
    pub duration_ms: u64,
}

/// How far one side may run ahead of the other before the other is padded with silence, in
/// samples (1 s). Audio that arrives later for already written positions is dropped.
pub const MAX_SKEW_SAMPLES: usize = 8000;

/// Default header refresh interval: every 8000 samples (1 s of audio).
pub const DEFAULT_FLUSH_EVERY: u64 = 8000;

/// A blocking stereo call recorder. See the module docs.
pub struct CallRecorder {
    path: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
    /// Samples per channel already written to the file.
    written: u64,
    flushed_at: u64,
    flush_every: u64,
    /// Pending samples of each side starting at position `written`.
    left: VecDeque<i16>,
    right: VecDeque<i16>,
    layout: ChannelLayout,
}

impl CallRecorder {
    /// Creates (truncating) the WAV file at `path` (by convention `<name>.wav`).
    pub fn create(path: impl AsRef<Path>) -> Result<Self, RecorderError> {
        Self::with_flush_every(path, DEFAULT_FLUSH_EVERY)
    }

    /// As [`CallRecorder::create`], refreshing the header every `flush_every` samples.
    pub fn with_flush_every(
        path: impl AsRef<Path>,
        flush_every: u64,
    ) -> Result<Self, RecorderError> {
        let path = path.as_ref().to_path_buf();
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer =
            hound::WavWriter::create(&path, spec).map_err(|source| RecorderError::Wav {
                path: path.clone(),
                source,
            })?;
        // Make the empty file valid at once.
        writer.flush().map_err(|source| RecorderError::Wav {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            path,
            writer,
            written: 0,
            flushed_at: 0,
            flush_every: flush_every.max(1),
            left: VecDeque::new(),
            right: VecDeque::new(),
            layout: ChannelLayout::default(),
        })
    }

    /// The same recorder with its sides on the channels of `layout`.
    pub fn with_layout(mut self, layout: ChannelLayout) -> Self {
        self.layout = layout;
        self
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Samples per channel written to the file so far.
    pub fn written_samples(&self) -> u64 {
        self.written
    }

    /// Adds audio of one side at `pos` samples from the call's answer. Gaps before `pos` become
    /// silence; overlapping pending audio is overwritten; audio for positions already written
    /// is dropped. Writes (and periodically flushes) as soon as both sides cover a span, or when
    /// one side is more than [`MAX_SKEW_SAMPLES`] ahead.
    pub fn write(&mut self, side: Side, pos: u64, samples: &[i16]) -> Result<(), RecorderError> {
        let buf = match (side, self.layout) {
            (Side::Caller, ChannelLayout::CallerLeft)
            | (Side::Zvonar, ChannelLayout::CallerRight) => &mut self.left,
            (Side::Zvonar, ChannelLayout::CallerLeft)
            | (Side::Caller, ChannelLayout::CallerRight) => &mut self.right,
        };
        let skip = self.written.saturating_sub(pos) as usize;
        if skip < samples.len() {
            let samples = &samples[skip..];
            let start = (pos + skip as u64 - self.written) as usize;
            if buf.len() < start {
                buf.resize(start, 0);
            }
            for (i, s) in samples.iter().enumerate() {
                match buf.get_mut(start + i) {
                    Some(slot) => *slot = *s,
                    None => buf.push_back(*s),
                }
            }
        }
        let both = self.left.len().min(self.right.len());
        let ahead = self.left.len().max(self.right.len());
        let n = if ahead > both + MAX_SKEW_SAMPLES {
            ahead - MAX_SKEW_SAMPLES
        } else {
            both
        };
        self.drain(n)
    }

    /// Writes `n` samples per channel from the pending queues (silence where one is short).
    fn drain(&mut self, n: usize) -> Result<(), RecorderError> {
        for _ in 0..n {
            let l = self.left.pop_front().unwrap_or(0);
            let r = self.right.pop_front().unwrap_or(0);
            self.writer.write_sample(l).map_err(|e| self.err(e))?;
            self.writer.write_sample(r).map_err(|e| self.err(e))?;
        }
        self.written += n as u64;
        if self.written - self.flushed_at >= self.flush_every {
            self.flush()?;
        }
        Ok(())
    }

    /// Rewrites the header and flushes to the OS, so the file is valid up to this point.
    pub fn flush(&mut self) -> Result<(), RecorderError> {
        self.writer.flush().map_err(|e| self.err(e))?;
        self.flushed_at = self.written;
        Ok(())
    }

    /// Writes all pending audio (padding the shorter side with silence) and closes the file.
    pub fn finalize(mut self) -> Result<RecordingInfo, RecorderError> {
        let n = self.left.len().max(self.right.len());
        self.drain(n)?;
        let path = self.path.clone();
        self.writer
            .finalize()
            .map_err(|source| RecorderError::Wav {
                path: path.clone(),
                source,
            })?;
        Ok(RecordingInfo {
            path,
            samples: self.written,
            duration_ms: self.written * 1000 / u64::from(SAMPLE_RATE),
        })
    }

    fn err(&self, source: hound::Error) -> RecorderError {
        RecorderError::Wav {
            path: self.path.clone(),
            source,
        }
    }
}

enum Msg {
    Audio(Side, u64, Vec<i16>),
    Finish,
}

/// A [`CallRecorder`] on its own OS thread. Sending audio never blocks (the channel is
/// unbounded; a call produces 32 KB/s); [`RecorderThread::finish`] blocks until the file is
/// finalised, so call it from `spawn_blocking` in async code. Dropping the handle without
/// `finish` also finalises the file (in the background).
pub struct RecorderThread {
    tx: mpsc::Sender<Msg>,
    join: Option<std::thread::JoinHandle<Result<RecordingInfo, RecorderError>>>,
}

impl RecorderThread {
    /// Creates the file (on the calling thread, so errors surface here) and starts the thread.
    pub fn spawn(path: impl AsRef<Path>) -> Result<Self, RecorderError> {
        Self::spawn_with(path, ChannelLayout::default())
    }

    /// As [`RecorderThread::spawn`], with the sides on the channels of `layout`.
    pub fn spawn_with(
        path: impl AsRef<Path>,
        layout: ChannelLayout,
    ) -> Result<Self, RecorderError> {
        let mut rec = CallRecorder::create(path)?.with_layout(layout);
        let (tx, rx) = mpsc::channel();
        let join = std::thread::Builder::new()
            .name("zvonar-recorder".into())
            .spawn(move || {
                while let Ok(Msg::Audio(side, pos, samples)) = rx.recv() {
                    if let Err(e) = rec.write(side, pos, &samples) {
                        tracing::error!(error = %e, "call recording failed");
                        return Err(e);
                    }
                }
                rec.finalize()
            })
            .map_err(|_| RecorderError::ThreadGone)?;
        Ok(Self {
            tx,
            join: Some(join),
        })
    }

    /// Queues audio of one side at `pos` samples from the answer (see [`CallRecorder::write`]).
    /// Fails only if the recorder thread has stopped after an error.
    pub fn write(&self, side: Side, pos: u64, samples: Vec<i16>) -> Result<(), RecorderError> {
        self.tx
            .send(Msg::Audio(side, pos, samples))
            .map_err(|_| RecorderError::ThreadGone)
    }

    /// Finalises the file and waits for the thread (blocking).
    pub fn finish(mut self) -> Result<RecordingInfo, RecorderError> {
        let _ = self.tx.send(Msg::Finish);
        match self.join.take().map(|j| j.join()) {
            Some(Ok(result)) => result,
            _ => Err(RecorderError::ThreadGone),
        }
    }
}

impl Drop for RecorderThread {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Finish);
    }
}

#[cfg(test)]
#[path = "recorder_tests.rs"]
mod tests;
