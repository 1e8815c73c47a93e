//! Issue 7's benchmark: 20 simultaneous caller↔operator calls bridged by zvonar's queue, on a
//! real `zvonar serve` (release build) on loopback.
//!
//! `cargo bench --bench bridge` — 20 operators logged in to the queue, each with a SIP
//! account. One of them works in the console in headless Chromium (Debian's `chromium`,
//! driven by playwright-core: `tests/browser/bench_agent.mjs`): its softphone registers over
//! SIP/WebSocket and takes the call over WebRTC (ICE, DTLS-SRTP, G.711), with a fake
//! microphone playing Russian speech. The other 19 are desk phones (SIPp UAS) that
//! registered with digest auth, logged in to the queue over the JSON API. 20 SIPp callers
//! (one SIPp, 20 calls within a second) are routed straight to the queue (`longest_idle`),
//! each playing ~65 s of Russian speech (PCMA); each desk phone answers after 0.5 s, echoes
//! the RTP it gets (`-rtp_echo`: the caller's speech comes back through the bridge) and hangs
//! up after `TALK_S` (60) s; the browser answers as soon as it rings and hangs up after
//! `TALK_S` s; zvonar then ends the caller's call. tcpdump captures the RTP (and the SRTP to
//! the browser, whose header is plain RTP) on `lo`. Chromium is started with
//! `--allow-loopback-in-peer-connection`: it refuses ICE to 127.0.0.1 otherwise, and the
//! media path in zvonar is the same whatever the address.
//!
//! Printed: for the streams zvonar sends (to the callers, the desk phones and the browser)
//! during the steady bridged window (all 20 connected + 1 s until the first hang-up − 0.5 s):
//! the largest inter-arrival gap at the receiving side (max and p50 over streams) and packets
//! lost by sequence number; the same for the streams SIPp sends into zvonar, for reference
//! (SIPp's own pacing); the browser's stream alone, and what the page's WebRTC stats say of
//! it (jitter, loss, concealed samples, jitter-buffer delay); zvonar's CPU seconds per
//! bridged call-minute in the window and over the whole run; peak RSS (VmHWM); the largest gap
//! zvonar itself logged per leg (`max_gap_ms` of each leg's end). Needs sip-tester (SIPp),
//! tcpdump and root (capture), and for the browser Node.js with the npm dependencies
//! (`deploy/install-npm.sh`) and `chromium`. `CALLS=…`, `TALK_S=…` change the sizes;
//! `BROWSER=0` makes every operator a desk phone.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "measure/mod.rs"]
mod measure;

use common::browser::LiveScript;
use common::{
    desk_phone_scenario, free_port, start_uas_with, write_scenario, Options, Step, Zvonar,
};
use measure::{metric, percentile, read_rtp, streams, table, Capture, MaxSampler, StreamStats};
use std::time::{Duration, Instant};

/// The RTP ports zvonar takes its legs' sockets from (common's `[rtp] port_min`).
const ZVONAR_RTP: std::ops::Range<u16> = 30000..40000;

fn dialplan() -> String {
    r#"
[[route]]
number = "*"
flow = "operators"

[flow.dispatcher]
kind = "dispatcher_robot"
company = "управляющую компанию «Наш дом»"
operator_flow = "operators"

[[queue]]
name = "operators"
strategy = "longest_idle"
max_wait_s = 600
wrap_up_s = 0
ring_timeout_s = 30
announce_every_s = 0
overflow = "dispatcher"
overflow_when_unstaffed = false

[flow.operators]
kind = "queue"
queue = "operators"
"#
    .to_string()
}

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Agents in `state` on `GET /api/v1/queue`.
fn agents_in(z: &Zvonar, state: &str) -> usize {
    let (_, q) = z.api("GET", "/api/v1/queue", "");
    q["agents"]
        .as_array()
        .map(|a| a.iter().filter(|x| x["state"] == state).count())
        .unwrap_or(0)
}

fn gaps_line(s: &[StreamStats]) -> String {
    let mut gaps: Vec<i64> = s.iter().map(|s| s.max_gap_us / 1000).collect();
    gaps.sort_unstable();
    let lost: u64 = s.iter().map(|s| s.lost).sum();
    let packets: u64 = s.iter().map(|s| s.packets).sum();
    format!(
        "{} streams, {packets} packets: largest gap max {} ms, p50 over streams {} ms; lost {lost} ({:.3} %)",
        s.len(),
        gaps.last().copied().unwrap_or(0),
        percentile(&gaps, 0.5),
        lost as f64 * 100.0 / (packets + lost).max(1) as f64
    )
}

/// The operator in the browser: a console user and SIP account `account`, taking calls in
/// the console's softphone (`tests/browser/bench_agent.mjs`); returns once the agent is
/// available with the page registered (`READY`).
fn start_browser_agent(z: &Zvonar, login: &str, account: &str, talk_s: u32) -> LiveScript {
    let password = "пароль оператора в браузере";
    z.add_user(login, "operator", password, &[]);
    let (ok, out) = z.cli(
        &["sip-account", "add", account, "--login", login],
        "secret-browser\n",
    );
    assert!(ok, "sip-account add {account}: {out}");
    // The operator's microphone: Russian speech, looped by Chromium.
    let mic = z.dir.join("browser-mic.wav");
    common::write_mono_wav(&mic, &common::problem_speech());
    let url = format!("http://127.0.0.1:{}", z.http_port);
    let args = [
        "--use-fake-device-for-media-stream".to_string(),
        "--use-fake-ui-for-media-stream".to_string(),
        format!("--use-file-for-fake-audio-capture={}", mic.display()),
        "--allow-loopback-in-peer-connection".to_string(),
        "--autoplay-policy=no-user-gesture-required".to_string(),
    ];
    let talk = talk_s.to_string();
    let mut page = LiveScript::start(
        "bench_agent.mjs",
        "bench_bridge",
        &url,
        &args,
        &[
            ("ZVONAR_LOGIN", login),
            ("ZVONAR_PASSWORD", password),
            ("ZVONAR_TALK_S", &talk),
        ],
    );
    if let Err(e) = page.wait_line("READY", Duration::from_secs(90)) {
        panic!(
            "the browser operator never became ready: {e}\nzvonar log:\n{}",
            z.log()
        );
    }
    page
}

fn main() {
    let calls = env_u32("CALLS", 20) as usize;
    let talk_s = env_u32("TALK_S", 60);
    let browsers = env_u32("BROWSER", 1).min(1) as usize;
    let z = Zvonar::start_with(
        "bench-bridge",
        Options {
            dialplan: Some(dialplan()),
            // Logging at info (a debug line per RTP event would cost more than the calls), and
            // the caller leg's end with its largest send gap (debug).
            log_filter: "info,zvonar::engine::call=debug,rsipstack=warn,whisper_rs=warn,ort=warn",
            // MD5 only: SIPp answers the first challenge and JsSIP the last, and neither
            // speaks SHA-256.
            extra_config: "[sip.registrar]\nrealm = \"bench.zvonar\"\nalgorithms = [\"MD5\"]\n"
                .to_string(),
            ws: browsers > 0,
            ..Options::default()
        },
    );
    let mut browser = (browsers > 0).then(|| start_browser_agent(&z, "op00", "201", talk_s));
    // Operators: a console user and a SIP account each; the desk phone registers from its
    // port, the user logs in to the queue.
    let mut phones = Vec::new();
    for i in browsers..calls {
        let login = format!("op{i:02}");
        let account = format!("{}", 201 + i);
        let password = format!("пароль оператора {i:02}");
        let sip_secret = format!("secret-{account}");
        let port = free_port();
        z.desk_phone_agent(&login, &password, &account, &sip_secret, port);
        let sc = desk_phone_scenario(
            &z.dir,
            &format!("desk-{account}"),
            &account,
            u64::from(talk_s) * 1000,
        );
        phones.push(start_uas_with(
            &z.dir,
            &sc,
            port,
            1,
            u64::from(talk_s) + 120,
            &["-rtp_echo"],
        ));
    }
    // The callers' speech: Russian speech repeated to 5 s beyond the talk time.
    let speech = common::problem_speech();
    let want = (talk_s as usize + 5) * 8000;
    let samples: Vec<i16> = speech.iter().copied().cycle().take(want).collect();
    let sc = write_scenario(
        &z.dir,
        "caller",
        "+79161234567",
        "+74951234567",
        &[Step::SayMeanwhile(samples)],
        u64::from(talk_s) * 1000 + 60_000,
    );
    let capture = Capture::start(&z.dir, "rtp", "udp");
    let port = z.http_port;
    let token = z.token.clone();
    let gauge = MaxSampler::start(Duration::from_millis(500), move || {
        let (s, _, b) = common::http_get(port, "/metrics", &token, None).ok()?;
        (s == 200).then_some(())?;
        metric(&String::from_utf8_lossy(&b), "zvonar_active_calls")
    });
    let cpu0 = z.cpu_seconds();
    let t0 = Instant::now();
    let n = calls.to_string();
    let rate = calls.to_string();
    let media_port = common::free_media_port().to_string();
    let zz = &z;
    let (sipp_ok, sipp_out, connected_at, cpu_connected, ended_at, cpu_ended) =
        std::thread::scope(|s| {
            let caller = s.spawn(|| {
                common::sipp(
                    zz,
                    &sc,
                    &["-r", &rate, "-m", &n, "-l", &n, "-mp", &media_port],
                    u64::from(talk_s) + 120,
                )
            });
            // All connected: every agent on a call.
            let limit = Duration::from_secs(60);
            while agents_in(zz, "on_call") < calls {
                assert!(
                    t0.elapsed() < limit,
                    "not all {calls} agents on a call within {limit:?}: {}",
                    zz.get_json("/api/v1/queue")
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            let connected_at = chrono::Utc::now();
            let cpu_connected = zz.cpu_seconds();
            // Until the first call ends.
            while agents_in(zz, "on_call") == calls {
                assert!(
                    t0.elapsed() < Duration::from_secs(u64::from(talk_s) + 90),
                    "calls did not end"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            let ended_at = chrono::Utc::now();
            let cpu_ended = zz.cpu_seconds();
            let (ok, out) = caller.join().expect("caller");
            (ok, out, connected_at, cpu_connected, ended_at, cpu_ended)
        });
    let wall = t0.elapsed().as_secs_f64();
    let cpu_all = z.cpu_seconds() - cpu0;
    let gauge_max = gauge.finish();
    let mut phones_ok = 0;
    for p in phones {
        if common::finish_uas(p).0 {
            phones_ok += 1;
        }
    }
    let page = browser.as_mut().map(|b| {
        b.result(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("the browser operator: {e}"))
    });
    let pcap = capture.path.clone();
    let dump = capture.stop();
    let packets = read_rtp(&pcap);
    // The steady window: 1 s after all were connected until 0.5 s before the first BYE
    // (the first change of state was seen up to 100 ms after it).
    let from = connected_at.timestamp_micros() + 1_000_000;
    let to = ended_at.timestamp_micros() - 600_000;
    let window_s = (to - from) as f64 / 1e6;
    // The page's ports (its own and zvonar's, of the selected ICE pair): Chromium's port may
    // fall in zvonar's RTP range, so the browser's own stream is told apart by it.
    let port_of = |k: &str| page.as_ref().and_then(|p| p[k].as_u64()).map(|p| p as u16);
    let (browser_port, browser_zvonar_port) = (port_of("localPort"), port_of("remotePort"));
    let from_zvonar = |p: &measure::RtpPacket| {
        ZVONAR_RTP.contains(&p.src_port) && Some(p.src_port) != browser_port
    };
    let to_zvonar = |p: &measure::RtpPacket| {
        ZVONAR_RTP.contains(&p.dst_port) && Some(p.dst_port) != browser_port
    };
    let out_streams = streams(&packets, from_zvonar, from, to);
    let in_streams = streams(&packets, to_zvonar, from, to);
    let whole_out = streams(&packets, from_zvonar, i64::MIN, i64::MAX);
    // The browser's stream: SRTP from zvonar's port to the page's, of the selected ICE pair.
    let browser_out: Vec<StreamStats> = out_streams
        .iter()
        .filter(|s| Some(s.dst_port) == browser_port && Some(s.src_port) == browser_zvonar_port)
        .cloned()
        .collect();
    // zvonar's own count per leg (logged as each leg's media ends).
    std::thread::sleep(Duration::from_millis(500));
    let log = z.log();
    let mut legs_gap: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("max_gap_ms="))
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
    let cpu_window = cpu_ended - cpu_connected;
    let window_min = (ended_at - connected_at).num_milliseconds() as f64 / 60_000.0;
    let bridged_min = calls as f64 * talk_s as f64 / 60.0;
    let rows = vec![
        ("machine".to_string(), measure::machine()),
        (
            "configured".into(),
            format!(
                "{calls} callers (1 SIPp, {calls} calls/s, PCMA speech) → queue longest_idle → {} registered desk phones (SIPp -rtp_echo, PCMA) and {browsers} console softphone in Chromium (WebRTC, DTLS-SRTP), bridged {talk_s} s each",
                calls - browsers
            ),
        ),
        (
            "SIPp callers / desk phones passed".into(),
            format!("{sipp_ok} / {phones_ok} of {}", calls - browsers),
        ),
        (
            "max /metrics active_calls".into(),
            format!("{gauge_max}"),
        ),
        (
            "steady window".into(),
            format!("{window_s:.1} s (all {calls} bridged + 1 s → first BYE − 0.5 s)"),
        ),
        ("RTP zvonar → parties, window".into(), gaps_line(&out_streams)),
        ("RTP parties → zvonar, window (SIPp, the browser)".into(), gaps_line(&in_streams)),
        ("RTP zvonar → parties, whole calls".into(), gaps_line(&whole_out)),
        (
            "SRTP zvonar → browser, window".into(),
            match browser_port {
                None if browsers == 0 => "no browser (BROWSER=0)".to_string(),
                None => "the page did not report its port".to_string(),
                Some(port) => format!("to the page's port {port}: {}", gaps_line(&browser_out)),
            },
        ),
        (
            "browser's WebRTC stats at hang-up".into(),
            page.as_ref().map_or_else(
                || "no browser (BROWSER=0)".to_string(),
                |p| {
                    let i = &p["inbound"];
                    let f = |k: &str| i[k].as_f64().unwrap_or(0.0);
                    format!(
                        "{}: {} packets, lost {}, jitter {:.1} ms, concealed {:.2} % of {} samples (most in one second: {}), mean jitter-buffer delay {:.0} ms",
                        i["codec"].as_str().unwrap_or("?"),
                        f("packetsReceived"),
                        f("packetsLost"),
                        f("jitter") * 1000.0,
                        f("concealedSamples") * 100.0 / f("totalSamplesReceived").max(1.0),
                        f("totalSamplesReceived"),
                        p["maxConcealedPerS"],
                        f("jitterBufferDelay") * 1000.0 / f("jitterBufferEmittedCount").max(1.0)
                    )
                },
            ),
        ),
        (
            "zvonar's own largest send gap per leg".into(),
            format!(
                "{} legs: max {} ms, p50 {} ms (zvonar's log: max_gap_ms of the callers' legs and the desk phones' legs)",
                legs_gap.len(),
                legs_gap.last().copied().unwrap_or(0),
                percentile(&legs_gap, 0.5)
            ),
        ),
        ("tcpdump".into(), dump),
        (
            "zvonar CPU, steady window".into(),
            format!(
                "{cpu_window:.2} s over {:.2} min × {calls} calls = {:.3} CPU s per bridged call-minute",
                window_min,
                cpu_window / (window_min * calls as f64).max(1e-9)
            ),
        ),
        (
            "zvonar CPU, whole run".into(),
            format!(
                "{cpu_all:.2} s for {calls} calls of {talk_s} s bridged = {:.3} CPU s per bridged call-minute (set-up, queue, hang-up included)",
                cpu_all / bridged_min
            ),
        ),
        (
            "zvonar peak RSS (VmHWM)".into(),
            format!("{} MiB (the Whisper model loaded at start included)", z.peak_rss_kib() / 1024),
        ),
        ("wall".into(), format!("{wall:.1} s")),
    ];
    table("bridge: issue 7 benchmark", &rows);
    if !sipp_ok {
        println!("{sipp_out}");
    }
}
