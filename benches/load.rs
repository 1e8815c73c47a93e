//! Load benchmarks against a real `zvonar serve` (release build) on loopback.
//!
//! `cargo bench --bench load -- sip`   — SIPp at 100 calls/s, 2000 calls, to the `999` route
//!                                        (answer, short prompt, zvonar hangs up): failed calls,
//!                                        zvonar CPU seconds and peak RSS.
//! `cargo bench --bench load -- robot` — 20 simultaneous dispatcher-robot calls with human
//!                                        speech and keys: completed calls, turn latency
//!                                        (end of caller speech or key → first robot audio)
//!                                        p50/p95, largest gap in any outgoing RTP stream.
//! Without an argument both run. Needs sip-tester (SIPp) and the Whisper model.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{known_caller_steps, sipp, write_scenario, Options, Zvonar};
use std::time::Instant;

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

fn robot_load(rate: &str) {
    let z = Zvonar::start_with(
        "bench-robot",
        Options {
            answer_after_ms: 0,
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
    let field = |line: &str, key: &str| -> Option<u64> {
        let i = line.find(key)? + key.len();
        let digits: String = line[i..]
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().ok()
    };
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
    let max_gap = log
        .lines()
        .filter(|l| l.contains("media ended"))
        .filter_map(|l| field(l, "max_gap_ms="))
        .max()
        .unwrap_or(0);
    let tickets = z.get_json("/api/v1/tickets?limit=100");
    let n_tickets = tickets.as_array().map(Vec::len).unwrap_or(0);
    println!(
        "robot-load: 20 simultaneous dispatcher calls started at {rate} calls/s (keys + 3.5 s of human speech each)"
    );
    println!(
        "robot-load: sipp_ok={success} tickets={n_tickets}/20 wall={wall:.1}s zvonar_cpu={:.1}s peak_rss={} MiB",
        z.cpu_seconds() - cpu0,
        z.peak_rss_kib() / 1024
    );
    for (name, t) in [("speech", &speech), ("keys", &keys)] {
        println!(
            "robot-load: turn latency after {name} ({} turns): p50={} ms p95={} ms max={} ms",
            t.len(),
            percentile(t, 0.5),
            percentile(t, 0.95),
            t.last().copied().unwrap_or(0)
        );
    }
    println!("robot-load: largest gap between outgoing RTP packets in any call: {max_gap} ms");
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
        // All callers speak within the same second: the worst case for the one ASR worker.
        robot_load("20");
        // Calls 0.5 s apart: still all 20 lines busy at once (a call lasts ~25 s), but
        // callers finish speaking at different moments, as on a real line.
        robot_load("2");
    }
}
