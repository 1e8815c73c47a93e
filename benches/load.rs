//! Load benchmarks against a real `zvonar serve` (release build) on loopback.
//!
//! `cargo bench --bench load -- sip`   — SIPp at 100 calls/s, 2000 calls, to the `999` route
//!                                        (answer, short prompt, zvonar hangs up): failed calls,
//!                                        zvonar CPU seconds and peak RSS.
//! `cargo bench --bench load -- robot` — 20 simultaneous dispatcher-robot calls with human
//!                                        speech and keys, callers 0.5 s apart and all in the
//!                                        same second: completed calls, turn latency (end of
//!                                        caller speech or key → first audio of the answer)
//!                                        p50/p95, silence after speech (until the filler or
//!                                        the answer), ASR decode and queue time per
//!                                        utterance, largest gap in any outgoing RTP stream.
//!                                        `ASR_SHAPES=1x2,2x1` compares recogniser shapes
//!                                        (workers x threads); `ASR_EXTRA="early_ms = 0"`
//!                                        adds `[asr]` settings (here: early recognition
//!                                        off).
//! Without an argument both run. Needs sip-tester (SIPp) and the Whisper model.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{known_caller_steps, sipp, write_scenario, Options, Zvonar};
use std::time::Instant;

/// The recogniser's shape in deploy/zvonar.toml (`[asr] workers`, `threads`).
const DEFAULT_WORKERS: usize = 1;
const DEFAULT_THREADS: usize = 2;

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// Runs SIPp with `scenario` at `rate` calls/s for `calls` calls (all may overlap) and
/// returns (all calls passed, SIPp's output, wall seconds).
fn sipp_load(
    z: &Zvonar,
    scenario: &std::path::Path,
    rate: &str,
    calls: &str,
) -> (bool, String, f64) {
    let t0 = Instant::now();
    let (ok, text) = sipp(z, scenario, &["-r", rate, "-m", calls, "-l", calls], 180);
    (ok, text, t0.elapsed().as_secs_f64())
}

fn sip_load() {
    let z = Zvonar::start_with(
        "bench-sip",
        Options {
            answer_after_ms: 0,
            max_calls: 2000,
            ..Options::default()
        },
    );
    // No steps: answer, listen to the prompt, wait for zvonar's BYE.
    let sc = write_scenario(&z.dir, "uac", "load", "999", &[], 60_000);
    let cpu0 = z.cpu_seconds();
    let (success, text, wall) = sipp_load(&z, &sc, "100", "2000");
    let counter = |name: &str| {
        text.lines()
            .rfind(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split('|').nth(2))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(u64::MAX)
    };
    let ok = counter("Successful call");
    let failed = counter("Failed call");
    println!("sip-load: SIPp uac 100 calls/s, 2000 calls, route 999 (playback, zvonar sends BYE)");
    println!("sip-load: successful={ok} failed={failed} sipp_ok={success} wall={wall:.1}s");
    println!(
        "sip-load: zvonar cpu={:.1}s peak_rss={} MiB",
        z.cpu_seconds() - cpu0,
        z.peak_rss_kib() / 1024
    );
    if !success {
        println!("{text}");
    }
}

/// `workers` × `threads` of the recogniser for one run (`[asr] workers`, `threads`).
#[derive(Clone, Copy)]
struct AsrShape {
    workers: usize,
    threads: usize,
}

impl AsrShape {
    /// `"2x1"` → 2 workers of 1 thread.
    fn parse(s: &str) -> Option<AsrShape> {
        let (w, t) = s.trim().split_once('x')?;
        Some(AsrShape {
            workers: w.parse().ok()?,
            threads: t.parse().ok()?,
        })
    }
}

/// A numeric field `key=123` of a log line.
fn field(line: &str, key: &str) -> Option<u64> {
    let i = line.find(key)? + key.len();
    let digits: String = line[i..]
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The `call_id=…` of a log line.
fn call_of(line: &str) -> Option<&str> {
    let i = line.find("call_id=")? + "call_id=".len();
    line[i..].split_whitespace().next()
}

fn robot_load(rate: &str, asr: AsrShape) {
    let z = Zvonar::start_with(
        "bench-robot",
        Options {
            answer_after_ms: 0,
            asr: format!(
                "workers = {}\nthreads = {}\n{}\n",
                asr.workers,
                asr.threads,
                std::env::var("ASR_EXTRA").unwrap_or_default()
            ),
            ..Options::default()
        },
    );
    let steps = known_caller_steps();
    let sc = write_scenario(
        &z.dir,
        "robot",
        "+79161234567",
        "+74951234567",
        &steps,
        90_000,
    );
    let cpu0 = z.cpu_seconds();
    let (success, text, wall) = sipp_load(&z, &sc, rate, "20");
    // Let the last CDRs land.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let log = z.log();
    let turns_of = |via: &str| {
        let mut v: Vec<u64> = log
            .lines()
            .filter(|l| l.contains("turn latency") && l.contains(&format!("via=\"{via}\"")))
            .filter_map(|l| field(l, "turn_ms="))
            .collect();
        v.sort_unstable();
        v
    };
    let speech = turns_of("speech");
    let keys = turns_of("keys");
    // Silence after speech: until the filler where one was said, else until the answer.
    let mut filler_at: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    for l in log.lines().filter(|l| l.contains("filler started")) {
        if let (Some(c), Some(ms)) = (call_of(l), field(l, "waited_ms=")) {
            filler_at.entry(c).or_insert(ms);
        }
    }
    let mut silence: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("turn latency") && l.contains("via=\"speech\""))
        .filter_map(|l| {
            let answer = field(l, "turn_ms=")?;
            let filler = call_of(l).and_then(|c| filler_at.get(c)).copied();
            Some(filler.map_or(answer, |f| f.min(answer)))
        })
        .collect();
    silence.sort_unstable();
    let asr_lines: Vec<&str> = log.lines().filter(|l| l.contains("asr result")).collect();
    let mut asr_ms: Vec<u64> = asr_lines
        .iter()
        .filter_map(|l| field(l, "asr_ms="))
        .collect();
    let mut queue_ms: Vec<u64> = asr_lines
        .iter()
        .filter_map(|l| field(l, "queue_ms="))
        .collect();
    let audio_ms: Vec<u64> = asr_lines
        .iter()
        .filter_map(|l| field(l, "audio_ms="))
        .collect();
    asr_ms.sort_unstable();
    queue_ms.sort_unstable();
    let overloaded = log.matches("asr_overloaded").count();
    let max_gap = log
        .lines()
        .filter(|l| l.contains("media ended"))
        .filter_map(|l| field(l, "max_gap_ms="))
        .max()
        .unwrap_or(0);
    let tickets = z.get_json("/api/v1/tickets?limit=100");
    let n_tickets = tickets.as_array().map(Vec::len).unwrap_or(0);
    let tag = format!(
        "robot-load[rate={rate}/s workers={} threads={}]",
        asr.workers, asr.threads
    );
    println!(
        "{tag}: 20 simultaneous dispatcher calls started at {rate} calls/s (keys + 3.5 s of human speech each)"
    );
    println!(
        "{tag}: sipp_ok={success} tickets={n_tickets}/20 wall={wall:.1}s zvonar_cpu={:.1}s peak_rss={} MiB asr_overloaded={overloaded}",
        z.cpu_seconds() - cpu0,
        z.peak_rss_kib() / 1024
    );
    for (name, t) in [("speech", &speech), ("keys", &keys)] {
        println!(
            "{tag}: turn latency after {name} ({} turns): p50={} ms p95={} ms max={} ms",
            t.len(),
            percentile(t, 0.5),
            percentile(t, 0.95),
            t.last().copied().unwrap_or(0)
        );
    }
    println!(
        "{tag}: silence after speech until the filler or the answer: p50={} ms p95={} ms max={} ms; fillers said: {}",
        percentile(&silence, 0.5),
        percentile(&silence, 0.95),
        silence.last().copied().unwrap_or(0),
        filler_at.len()
    );
    let audio_mean = audio_ms.iter().sum::<u64>() / audio_ms.len().max(1) as u64;
    println!(
        "{tag}: ASR per utterance ({} utterances, mean {audio_mean} ms of audio): decode p50={} ms p95={} ms max={} ms; queued p50={} ms p95={} ms max={} ms",
        asr_ms.len(),
        percentile(&asr_ms, 0.5),
        percentile(&asr_ms, 0.95),
        asr_ms.last().copied().unwrap_or(0),
        percentile(&queue_ms, 0.5),
        percentile(&queue_ms, 0.95),
        queue_ms.last().copied().unwrap_or(0),
    );
    println!("{tag}: largest gap between outgoing RTP packets in any call: {max_gap} ms");
    if !success {
        println!("{text}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let all = args.is_empty();
    if all || args.iter().any(|a| a == "sip") {
        sip_load();
    }
    if all || args.iter().any(|a| a == "robot") {
        // `ASR_SHAPES=1x2,2x1` runs each recogniser shape (workers x threads); by default
        // the shipped one (deploy/zvonar.toml).
        let shapes: Vec<AsrShape> = std::env::var("ASR_SHAPES")
            .ok()
            .map(|v| v.split(',').filter_map(AsrShape::parse).collect())
            .unwrap_or_default();
        let shapes = if shapes.is_empty() {
            vec![AsrShape {
                workers: DEFAULT_WORKERS,
                threads: DEFAULT_THREADS,
            }]
        } else {
            shapes
        };
        for shape in shapes {
            // Calls 0.5 s apart: still all 20 lines busy at once (a call lasts ~25 s), but
            // callers finish speaking at different moments, as on a real line.
            robot_load("2", shape);
            // All callers finish speaking within the same second: the worst case.
            robot_load("20", shape);
        }
    }
}
