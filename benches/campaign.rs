//! Issue 8's benchmark: an outbound campaign (автообзвон) of 2000 recipients against a real
//! `zvonar serve` (release build) on loopback.
//!
//! `cargo bench --bench campaign`           — 2000 recipients (consent given, E.164 phones
//!                                            dialled through a `[[trunk]]` that is a SIPp UAS
//!                                            answering every call at once), 30 channels,
//!                                            600 calls a minute, a short information message
//!                                            (~2 s) and no question: zvonar hangs up after
//!                                            the message.
//! `cargo bench --bench campaign -- mixed`  — the same with a share of the recipients busy
//!                                            (486) and a share never answering (CANCEL at
//!                                            the 5 s ring timeout); no retries.
//!
//! `RECIPIENTS=…`, `CHANNELS=…`, `PER_MINUTE=…` change the sizes.
//!
//! Printed: calls per minute achieved (attempts / time from the first INVITE to the last
//! one the UAS got) vs the configured rate, the most calls at once seen by the UAS (its
//! `-trace_msg` log: first to last message of each Call-ID), by zvonar's stored attempts
//! (started/ended) and live on the API (`active_calls`, sampled each second), the outcomes,
//! zvonar's CPU seconds and peak RSS (VmHWM), the wall time.
//!
//! The 230-ФЗ window (8–22 on working days, 9–20 on days off, in the recipients' zone) is
//! the product's rule and is not relaxed here: the campaign's zone is Europe/Moscow when it
//! is open there now (for the next hour), else the bench says so and picks a UTC offset
//! where it is.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "measure/mod.rs"]
mod measure;

use common::{free_port, start_uas_with, uas_scenario, Options, UasParty, Zvonar};
use measure::{max_overlap, metric, sipp_dialogs, table, MaxSampler};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The campaign's message (no placeholders: synthesised once, then from the TTS cache).
const MESSAGE: &str = "Завтра отключат воду.";

/// The zone to call in: Europe/Moscow when 10:00–18:59 there now (the 230-ФЗ window is
/// open for the bench's hour even on a day off), else the first UTC offset where it is.
/// Returns (zone, a line saying which and why).
fn zone() -> (String, String) {
    use chrono::Timelike;
    let now = chrono::Utc::now();
    let moscow = now.with_timezone(&chrono_tz::Europe::Moscow);
    if (10..=18).contains(&moscow.hour()) {
        return (
            "Europe/Moscow".into(),
            format!(
                "Europe/Moscow, {} there: the 230-ФЗ window is open",
                moscow.format("%H:%M")
            ),
        );
    }
    for off in -12i32..=14 {
        // `Etc/GMT-3` is UTC+3 (the POSIX sign).
        let name = match off {
            0 => "Etc/GMT".to_string(),
            o if o > 0 => format!("Etc/GMT-{o}"),
            o => format!("Etc/GMT+{}", -o),
        };
        let tz: chrono_tz::Tz = name.parse().expect("zone");
        let local = now.with_timezone(&tz);
        if (10..=18).contains(&local.hour()) {
            return (
                name.clone(),
                format!(
                    "the 230-ФЗ window is CLOSED in Moscow now ({}): recipients' zone {name} ({} there) instead",
                    moscow.format("%H:%M"),
                    local.format("%H:%M")
                ),
            );
        }
    }
    unreachable!("some offset puts now between 10:00 and 18:59")
}

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(mixed: bool) {
    let n = env_u32("RECIPIENTS", 2000) as usize;
    let channels = env_u32("CHANNELS", 30);
    let per_minute = env_u32("PER_MINUTE", 600);
    let tag = if mixed { "campaign-mixed" } else { "campaign" };
    let trunk_port = free_port();
    let z = Zvonar::start_with(
        &format!("bench-{tag}"),
        Options {
            // Logging at info: a debug line per RTP event would cost more than the calls.
            log_filter: "info,rsipstack=warn,whisper_rs=warn,ort=warn",
            extra_config: format!(
                "[[trunk]]\nname = \"provider\"\nregistrar = \"sip:127.0.0.1:{trunk_port}\"\n\
                 username = \"74950001122\"\npassword = \"trunk-secret\"\nregister = false\n"
            ),
            ..Options::default()
        },
    );
    let (zone, zone_line) = zone();
    // Every 10th recipient busy and every 10th (offset 5) never answering in the mixed run:
    // reached at `sip:` URIs of their own UAS; the rest through the trunk.
    let busy = |i: usize| mixed && i % 10 == 3;
    let silent = |i: usize| mixed && i % 10 == 7;
    let n_busy = (0..n).filter(|&i| busy(i)).count();
    let n_silent = (0..n).filter(|&i| silent(i)).count();
    let n_answer = n - n_busy - n_silent;
    let (busy_port, silent_port) = (free_port(), free_port());
    let trace = |name: &str| z.dir.join(format!("{name}-messages.log"));
    let long = (n as u64 * 60 / u64::from(per_minute)) * 3 + 300;
    let answer_sc = uas_scenario(
        &z.dir,
        "answers",
        &UasParty::Answers {
            bye_timeout_ms: 60_000,
        },
    );
    let uas_args = |name: &str| -> Vec<String> {
        vec![
            "-trace_msg".into(),
            "-message_file".into(),
            trace(name).to_string_lossy().into_owned(),
        ]
    };
    let spawn = |sc: &std::path::Path, port: u16, calls: usize, name: &str| {
        let args = uas_args(name);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        start_uas_with(&z.dir, sc, port, calls as u32, long, &args)
    };
    let mut parties = vec![(
        "answers",
        spawn(&answer_sc, trunk_port, n_answer, "answers"),
    )];
    if mixed {
        let sc = uas_scenario(&z.dir, "busy", &UasParty::Busy);
        parties.push(("busy", spawn(&sc, busy_port, n_busy, "busy")));
        let sc = uas_scenario(&z.dir, "silent", &UasParty::RingsUntilCancel);
        parties.push(("silent", spawn(&sc, silent_port, n_silent, "silent")));
    }
    let recipients: Vec<Value> = (0..n)
        .map(|i| {
            let phone = if busy(i) {
                format!("sip:7916{i:07}@127.0.0.1:{busy_port}")
            } else if silent(i) {
                format!("sip:7916{i:07}@127.0.0.1:{silent_port}")
            } else {
                format!("+7916{i:07}")
            };
            json!({ "id": format!("ls-{i:05}"), "phone": phone, "consent": true })
        })
        .collect();
    let now = chrono::Utc::now();
    let body = json!({
        "name": "Бенчмарк: отключение воды",
        "template": MESSAGE,
        "start": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "end": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "time_zone": zone,
        "channels": channels,
        "per_minute": per_minute,
        "retries": { "busy": 0, "busy_gap_min": 0, "no_answer": 0, "no_answer_gap_min": 0 },
        "ring_timeout_s": 5,
        "recipients": recipients,
    })
    .to_string();
    let (code, created) = z.api("POST", "/api/v1/campaigns", &body);
    assert_eq!(code, 201, "create: {created}");
    let id = created["id"].as_i64().expect("id");
    // The message is synthesised for the first call and read from the TTS cache after; the
    // rate is measured between INVITEs, so that first synthesis does not count in it.
    let cpu0 = z.cpu_seconds();
    let t0 = Instant::now();
    let (code, started) = z.api("POST", &format!("/api/v1/campaigns/{id}/start"), "");
    assert_eq!(code, 200, "start: {started}");
    // Live: the campaign's own count and the engine's gauge, each second (the list route,
    // which leaves the recipients out, as the console's campaigns page polls it).
    let port = z.http_port;
    let token = z.token.clone();
    let live = MaxSampler::start(Duration::from_secs(1), move || {
        let (s, _, b) = common::http_get(port, "/api/v1/campaigns", &token, None).ok()?;
        (s == 200).then_some(())?;
        let v: Value = serde_json::from_slice(&b).ok()?;
        v["campaigns"][0]["active_calls"].as_u64()
    });
    let token = z.token.clone();
    let gauge = MaxSampler::start(Duration::from_secs(1), move || {
        let (s, _, b) = common::http_get(port, "/metrics", &token, None).ok()?;
        (s == 200).then_some(())?;
        metric(&String::from_utf8_lossy(&b), "zvonar_active_calls")
    });
    let limit = Duration::from_secs(long);
    loop {
        let (_, v) = z.api("GET", "/api/v1/campaigns", "");
        if v["campaigns"][0]["state"] == "finished" {
            break;
        }
        assert!(t0.elapsed() < limit, "not finished in {limit:?}: {v}");
        std::thread::sleep(Duration::from_millis(500));
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = z.cpu_seconds() - cpu0;
    let live_max = live.finish();
    let gauge_max = gauge.finish();
    let done = z.get_json(&format!("/api/v1/campaigns/{id}"));
    let mut sipp_ok = true;
    let mut dialogs = Vec::new();
    for (name, child) in parties {
        let (ok, out) = common::finish_uas(child);
        if !ok {
            sipp_ok = false;
            println!(
                "SIPp {name} failed:\n{}",
                out.lines().rev().take(40).collect::<Vec<_>>().join("\n")
            );
        }
        dialogs.extend(sipp_dialogs(&trace(name)));
    }
    // At the UAS: each Call-ID from its INVITE to its last message.
    let uas_max = max_overlap(dialogs.iter().map(|d| (d.first_us, d.last_us)));
    let first = dialogs.iter().map(|d| d.first_us).min().unwrap_or(0);
    let last = dialogs.iter().map(|d| d.first_us).max().unwrap_or(0);
    let span_min = (last - first) as f64 / 60e6;
    let achieved = if span_min > 0.0 {
        (dialogs.len() as f64 - 1.0) / span_min
    } else {
        0.0
    };
    let mut answered_ms: Vec<i64> = dialogs
        .iter()
        .filter(|d| d.final_code == 200)
        .map(|d| (d.last_us - d.first_us) / 1000)
        .collect();
    answered_ms.sort_unstable();
    // In zvonar's store: each attempt from before its INVITE to after its end.
    let mut attempts = Vec::new();
    let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
    let mut statuses: std::collections::BTreeMap<String, usize> = Default::default();
    for r in done["recipients"].as_array().expect("recipients") {
        *statuses
            .entry(r["status"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
        for a in r["attempts"].as_array().expect("attempts") {
            *outcomes
                .entry(a["outcome"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
            let t = |k: &str| {
                a[k].as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.timestamp_micros())
            };
            if let (Some(s), Some(e)) = (t("started_at"), t("ended_at")) {
                attempts.push((s, e));
            }
        }
    }
    let stored_max = max_overlap(attempts.iter().copied());
    // zvonar's own largest gap between RTP packets it sent, per outgoing leg (its log).
    let mut legs_gap: Vec<u64> = z
        .log()
        .lines()
        .filter(|l| l.contains("outgoing leg ended"))
        .filter_map(|l| {
            let i = l.find("max_gap_ms=")? + "max_gap_ms=".len();
            l[i..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        })
        .collect();
    legs_gap.sort_unstable();
    let fmt = |m: &std::collections::BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let over = |v: usize| {
        if v > channels as usize {
            format!("{v}  ** OVER THE LIMIT OF {channels} **")
        } else {
            format!("{v} (limit {channels})")
        }
    };
    let rows = vec![
        ("machine".to_string(), measure::machine()),
        ("recipients' zone".into(), zone_line),
        (
            "configured".into(),
            format!(
                "{n} recipients (consent given){}, {channels} channels, {per_minute} calls/min, ring timeout 5 s, no retries, message «{MESSAGE}», no question",
                if mixed {
                    format!(": {n_answer} answer, {n_busy} busy (486), {n_silent} never answer")
                } else {
                    ": all answer at once".to_string()
                }
            ),
        ),
        ("INVITEs at the UAS".into(), dialogs.len().to_string()),
        (
            "calls/min achieved".into(),
            format!(
                "{achieved:.0} (first to last INVITE at the UAS: {:.1} s) vs {per_minute} configured",
                span_min * 60.0
            ),
        ),
        (
            "answered call length at the UAS".into(),
            format!(
                "p50 {} ms, max {} ms (INVITE to the 200 for BYE)",
                measure::percentile(&answered_ms, 0.5),
                answered_ms.last().copied().unwrap_or(0)
            ),
        ),
        ("max calls at once, UAS trace".into(), over(uas_max)),
        ("max calls at once, stored attempts".into(), over(stored_max)),
        (
            "max active_calls, API (1 s samples)".into(),
            over(live_max as usize),
        ),
        (
            "max /metrics active_calls (1 s)".into(),
            format!("{gauge_max} (the gauge counts incoming calls only)"),
        ),
        (
            "largest gap in the message's RTP".into(),
            format!(
                "{} legs: max {} ms, p50 {} ms (zvonar's log, max_gap_ms per outgoing leg)",
                legs_gap.len(),
                legs_gap.last().copied().unwrap_or(0),
                measure::percentile(&legs_gap, 0.5)
            ),
        ),
        ("attempt outcomes".into(), fmt(&outcomes)),
        ("recipient statuses".into(), fmt(&statuses)),
        ("SIPp parties passed".into(), sipp_ok.to_string()),
        (
            "zvonar CPU".into(),
            format!(
                "{cpu:.1} s ({:.1} ms per call)",
                cpu * 1000.0 / dialogs.len().max(1) as f64
            ),
        ),
        (
            "zvonar peak RSS (VmHWM)".into(),
            format!("{} MiB", z.peak_rss_kib() / 1024),
        ),
        (
            "wall".into(),
            format!("{wall:.1} s from start to «finished»"),
        ),
    ];
    table(&format!("{tag}: issue 8 benchmark"), &rows);
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mixed = args.iter().any(|a| a == "mixed");
    let all = args.iter().any(|a| a == "all");
    if all || !mixed {
        run(false);
    }
    if all || mixed {
        run(true);
    }
}
