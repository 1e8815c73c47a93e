#![allow(clippy::unwrap_used)] // tests may unwrap
use super::*;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zvonar-voice-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn read(path: &Path) -> (hound::WavSpec, Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let all: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    let left = all.iter().step_by(2).copied().collect();
    let right = all.iter().skip(1).step_by(2).copied().collect();
    (spec, left, right)
}

#[test]
fn sides_are_aligned_on_the_call_timeline() {
    let path = tmp("aligned.wav");
    let mut rec = CallRecorder::create(&path).unwrap();
    // Caller speaks 0..320, zvonar 160..480; zvonar arrives first for its part.
    rec.write(Side::Zvonar, 160, &[2; 320]).unwrap();
    rec.write(Side::Caller, 0, &[1; 160]).unwrap();
    rec.write(Side::Caller, 160, &[1; 160]).unwrap();
    // Caller silent (no frames) until 800, then 160 samples.
    rec.write(Side::Caller, 800, &[3; 160]).unwrap();
    let info = rec.finalize().unwrap();
    assert_eq!(info.samples, 960);
    assert_eq!(info.duration_ms, 120);
    let (spec, l, r) = read(&path);
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    assert_eq!(l.len(), 960);
    assert!(l[..320].iter().all(|s| *s == 1) && l[320..800].iter().all(|s| *s == 0));
    assert!(l[800..].iter().all(|s| *s == 3));
    assert!(r[..160].iter().all(|s| *s == 0) && r[160..480].iter().all(|s| *s == 2));
    assert!(r[480..].iter().all(|s| *s == 0));
}

#[test]
fn one_silent_side_does_not_hold_back_the_file() {
    let path = tmp("oneside.wav");
    let mut rec = CallRecorder::create(&path).unwrap();
    for i in 0..100u64 {
        rec.write(Side::Caller, i * 160, &[5; 160]).unwrap();
    }
    // 2 s of caller audio with no zvonar audio: all but the last second is on disk.
    assert_eq!(rec.written_samples(), 16_000 - MAX_SKEW_SAMPLES as u64);
    // Zvonar audio for an already written position is dropped, the rest kept.
    rec.write(Side::Zvonar, 7_900, &[9; 200]).unwrap();
    let info = rec.finalize().unwrap();
    assert_eq!(info.samples, 16_000);
    let (_, l, r) = read(&path);
    assert!(l.iter().all(|s| *s == 5));
    assert_eq!(r.iter().filter(|s| **s == 9).count(), 100);
    assert_eq!(r[8_000..8_100], [9; 100]);
}

#[test]
fn crash_without_finalize_leaves_a_readable_file() {
    let path = tmp("crash.wav");
    let mut rec = CallRecorder::create(&path).unwrap();
    // 2.5 s of both sides; the header is refreshed every second.
    for i in 0..125u64 {
        rec.write(Side::Caller, i * 160, &[100; 160]).unwrap();
        rec.write(Side::Zvonar, i * 160, &[-100; 160]).unwrap();
    }
    // Simulate the process dying: no finalize, no destructor.
    std::mem::forget(rec);
    let (spec, l, r) = read(&path);
    assert_eq!(spec.channels, 2);
    assert!(l.len() >= 16_000 && l.len() <= 20_000, "{}", l.len());
    assert!(l.iter().all(|s| *s == 100) && r.iter().all(|s| *s == -100));
}

#[test]
fn truncated_file_still_opens() {
    // A crash between a BufWriter spill and the next header refresh leaves more data than the
    // header says; a crash in the middle of a write leaves a torn last frame.
    let path = tmp("torn.wav");
    let mut rec = CallRecorder::create(&path).unwrap();
    for i in 0..60u64 {
        rec.write(Side::Caller, i * 160, &[7; 160]).unwrap();
        rec.write(Side::Zvonar, i * 160, &[8; 160]).unwrap();
    }
    rec.finalize().unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 1001).unwrap();
    drop(f);
    let mut r = hound::WavReader::open(&path).unwrap();
    let ok: Vec<i16> = r.samples::<i16>().map_while(Result::ok).collect();
    assert!(ok.len() >= 2 * 9_000 && ok.iter().all(|s| *s == 7 || *s == 8));
}

#[test]
fn recorder_thread_writes_and_finishes() {
    let path = tmp("thread.wav");
    let rec = RecorderThread::spawn(&path).unwrap();
    for i in 0..50u64 {
        rec.write(Side::Caller, i * 160, vec![1; 160]).unwrap();
        rec.write(Side::Zvonar, i * 160, vec![2; 160]).unwrap();
    }
    let info = rec.finish().unwrap();
    assert_eq!(info.samples, 8_000);
    assert_eq!(info.path, path);
    let (_, l, r) = read(&path);
    assert_eq!((l.len(), r.len()), (8_000, 8_000));
    assert!(CallRecorder::create("/nonexistent-dir/x.wav").is_err());
}

#[test]
fn a_call_an_operator_places_has_the_operator_on_the_right() {
    let path = tmp("caller-right.wav");
    let rec = RecorderThread::spawn_with(&path, ChannelLayout::CallerRight).unwrap();
    // The calling leg is the operator (1), what zvonar sends the operator is the resident (2).
    for i in 0..10u64 {
        rec.write(Side::Caller, i * 160, vec![1; 160]).unwrap();
        rec.write(Side::Zvonar, i * 160, vec![2; 160]).unwrap();
    }
    rec.finish().unwrap();
    let (_, l, r) = read(&path);
    assert_eq!(l.len(), 1600);
    assert!(l.iter().all(|s| *s == 2), "the resident on the left");
    assert!(r.iter().all(|s| *s == 1), "the operator on the right");
}
