//! End to end, an operator's own call counts in the queue (ACD): a real `zvonar serve`, the
//! agent anna's desk phone (SIP account 101, SIPp over UDP with digest REGISTER) dials her
//! colleague's extension 102 (another registered SIPp phone) through zvonar; while that call
//! is up a caller enters the queue `operators`, where anna is the only agent logged in. The
//! caller must wait (anna shows «on call», nothing rings her phone); when anna hangs up she
//! is in wrap-up for the queue's `wrap_up_s`, and only then is the caller offered to her: her
//! desk phone rings, she answers, the caller is connected to her.
//!
//! The same from the browser console (headless Chromium in a network namespace): anna calls
//! extension 102 from the console's softphone; the panel reads «разговор» while the call is
//! up, a caller entering the queue does not ring her, «поствызывная обработка» after she
//! hangs up, then the caller rings the console.

mod common;

use common::browser::LiveScript;
use common::netns::{Netns, NsZvonar};
use common::{free_media_port, free_port, http_request, Options, UasParty, Zvonar};
use serde_json::Value;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const REALM: &str = "e2e.zvonar";
/// The queue's wrap-up, s.
const WRAP_UP_S: i64 = 6;

fn dialplan() -> String {
    format!(
        r#"
[[route]]
number = "102"
flow = "colleague"

[[route]]
number = "*"
flow = "operators"

[flow.colleague]
kind = "dial"
account = "102"
ring_timeout_s = 20
fallback = "closed"

[flow.closed]
kind = "playback"
prompt = {{ text = "Операторы заняты." }}

[[queue]]
name = "operators"
strategy = "ring_all"
max_wait_s = 120
wrap_up_s = {WRAP_UP_S}
ring_timeout_s = 10
announce_every_s = 0
overflow = "closed"

[flow.operators]
kind = "queue"
queue = "operators"
"#
    )
}

/// `zvonar ARGS` with `stdin`; panics unless it succeeds.
fn cli(z: &Zvonar, args: &[&str], stdin: &str) {
    let (ok, out) = z.cli(args, stdin);
    assert!(ok, "zvonar {args:?}: {out}");
}

/// Polls `f` every 100 ms until it gives `Some`, for up to `limit`.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if t0.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn at(v: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

fn output(child: std::process::Child) -> (bool, String) {
    let out = child.wait_with_output().expect("sipp");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_caller_is_not_offered_to_an_agent_on_her_own_call_but_after_it_and_its_wrap_up() {
    let z = Zvonar::start_with(
        "ownc",
        Options {
            dialplan: Some(dialplan()),
            extra_config: format!("[sip.registrar]\nrealm = \"{REALM}\"\nalgorithms = [\"MD5\"]\n"),
            ..Options::default()
        },
    );
    cli(
        &z,
        &["user", "add", "--login", "anna", "--role", "operator"],
        "пароль оператора 1\n",
    );
    cli(
        &z,
        &["sip-account", "add", "101", "--login", "anna"],
        "secret-101\n",
    );
    cli(&z, &["sip-account", "add", "102"], "secret-102\n");
    let anna_port = free_port();
    let colleague_port = free_port();
    z.register_account("101", "secret-101", anna_port);
    z.register_account("102", "secret-102", colleague_port);
    let anna = z.log_in("anna", "пароль оператора 1");
    let (status, _, body) =
        http_request(z.http_port, "POST", "/api/v1/queue/agent/login", &anna, "");
    assert_eq!(status, 200, "{body}");
    let queue = || z.get_json("/api/v1/queue");
    assert_eq!(queue()["agents"][0]["state"], "available");

    // The colleague's phone answers and stays on until zvonar hangs up.
    let colleague = common::start_uas(
        &z.dir,
        &common::uas_scenario(
            &z.dir,
            "colleague",
            &UasParty::Answers {
                bye_timeout_ms: 60_000,
            },
        ),
        colleague_port,
        1,
    );
    // anna dials 102 from her desk phone (the address it registered from; the INVITE is
    // challenged and sent again with her credentials), talks, hangs up.
    let own =
        common::desk_phone_call_scenario(&z.dir, "own-call", "101", "secret-101", "102", 14_000);
    let target = format!("127.0.0.1:{}", z.sip_port);
    let own_call = common::caller_command_from(
        &z.dir,
        &own,
        &target,
        "127.0.0.1",
        anna_port,
        free_media_port(),
        60,
    )
    .spawn()
    .expect("sipp own call");
    // From the moment she dials (ringing included) she is on a call.
    let st = wait_for(Duration::from_secs(5), || {
        let st = queue();
        (st["agents"][0]["state"] == "on_call").then_some(st)
    })
    .unwrap_or_else(|| panic!("anna not on a call: {}\n{}", queue(), z.log()));
    let own_id = st["agents"][0]["call"]
        .as_str()
        .expect("the own call's id")
        .to_string();

    // A caller enters the queue while anna talks.
    let caller_scenario =
        common::write_scenario(&z.dir, "caller", "+79161234567", "100", &[], 90_000);
    let caller = common::caller_command(
        &z.dir,
        &caller_scenario,
        &target,
        "127.0.0.1",
        free_media_port(),
        90,
    )
    .spawn()
    .expect("sipp caller");
    let waiting = wait_for(Duration::from_secs(10), || {
        let st = queue();
        st["calls"]
            .as_array()
            .and_then(|c| c.first().cloned())
            .filter(|c| c["position"] == 1)
    })
    .unwrap_or_else(|| panic!("the caller is not in the queue: {}\n{}", queue(), z.log()));
    let caller_id = waiting["call_id"].as_str().expect("call id").to_string();
    // For the rest of anna's call (4 s on): the caller waits, nothing rings anna.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(4) {
        let st = queue();
        assert_eq!(st["agents"][0]["state"], "on_call", "{st}");
        assert_eq!(st["agents"][0]["call"], own_id.as_str(), "{st}");
        assert_eq!(st["calls"][0]["ringing"], serde_json::json!([]), "{st}");
        assert_eq!(st["calls"][0]["position"], 1, "{st}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The monitor shows her on the call too.
    let m = z.get_json("/api/v1/monitor");
    let text = m.to_string();
    assert!(text.contains("\"on_call\""), "{text}");

    // anna hangs up: wrap-up.
    let (ok, out) = output(own_call);
    assert!(ok, "anna's own call failed:\n{out}\n{}", z.log());
    let (ok, out) = common::finish_uas(colleague);
    assert!(ok, "the colleague's phone failed:\n{out}\n{}", z.log());
    let st = wait_for(Duration::from_secs(5), || {
        let st = queue();
        (st["agents"][0]["state"] == "wrap_up").then_some(st)
    })
    .unwrap_or_else(|| panic!("anna not in wrap-up: {}\n{}", queue(), z.log()));
    assert_eq!(st["calls"][0]["ringing"], serde_json::json!([]), "{st}");
    // Her desk phone is free again: it takes the queue's call when offered, talks 2 s,
    // hangs up.
    let desk = common::uas_command(
        &z.dir,
        &common::desk_phone_scenario(&z.dir, "desk", "101", 2_000),
        "127.0.0.1",
        anna_port,
        free_media_port(),
        1,
        60,
    )
    .spawn()
    .expect("sipp desk phone");
    let (ok, out) = output(caller);
    assert!(ok, "the caller failed:\n{out}\n{}", z.log());
    let (ok, out) = output(desk);
    assert!(
        ok,
        "anna's phone was not rung or failed:\n{out}\n{}",
        z.log()
    );

    // The caller was connected to anna, no sooner than the wrap-up after her own call ended.
    let own_cdr = wait_for(Duration::from_secs(10), || {
        let d = z.get_json(&format!("/api/v1/calls/{own_id}"));
        (!d["cdr"]["ended_at"].is_null()).then_some(d)
    })
    .expect("the own call's CDR");
    // Authenticated by digest, her desk phone's call is her own call, not a caller routed by
    // the dialplan (whose route `102` would be the flow `colleague`).
    assert_eq!(own_cdr["cdr"]["flow"], "agent_call", "{own_cdr}");
    assert_eq!(own_cdr["cdr"]["disposition"], "answered", "{own_cdr}");
    let detail = z.get_json(&format!("/api/v1/calls/{caller_id}"));
    let connected = detail["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["kind"] == "agent_connected"))
        .unwrap_or_else(|| panic!("caller never connected: {detail}"))
        .clone();
    assert_eq!(connected["payload"]["agent"], "anna", "{connected}");
    let gap_ms = (at(&connected["at"]) - at(&own_cdr["cdr"]["ended_at"])).num_milliseconds();
    assert!(
        gap_ms >= WRAP_UP_S * 1000,
        "offered {gap_ms} ms after her call ended, within the {WRAP_UP_S} s wrap-up"
    );
    assert!(
        gap_ms < (WRAP_UP_S + 8) * 1000,
        "offered only {gap_ms} ms after her call ended"
    );
    eprintln!("own call → queue offer answered after {gap_ms} ms (wrap-up {WRAP_UP_S} s)");
}

/// A child process killed when the test ends, however it ends.
struct Killed(Option<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Killed {
    /// Waits for it to end by itself: (success, its output).
    fn finish(mut self) -> (bool, String) {
        output(self.0.take().expect("running"))
    }
}

fn ns_json(z: &NsZvonar, path: &str) -> Value {
    let (status, body) = z.get(path).expect("GET");
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

#[test]
fn the_console_shows_an_own_call_as_on_call_and_the_queued_caller_rings_after_wrap_up() {
    if let Err(why) = common::netns::possible() {
        eprintln!("SKIPPED: network namespaces cannot be made here ({why}); needs root");
        return;
    }
    let ns = Netns::create("oc");
    let host = ns.host_ip.to_string();
    let z = NsZvonar::start_with(
        &ns,
        "ownc-console",
        Some(&dialplan()),
        &format!("trusted = [\"{host}/32\"]"),
        &format!("[sip.registrar]\nrealm = \"{REALM}\"\nalgorithms = [\"MD5\"]\n"),
    );
    z.cli(
        &["user", "add", "--login", "anna", "--role", "operator"],
        "пароль anna 1\n",
    );
    z.cli(
        &["sip-account", "add", "101", "--login", "anna"],
        "secret-101\n",
    );
    z.cli(&["sip-account", "add", "102"], "secret-102\n");
    let sip = format!("{}:5060", ns.ns_ip);
    // The colleague's desk phone 102, registered from the host side; it answers and stays
    // on until zvonar hangs up.
    let colleague_port = free_port();
    let reg = common::register_scenario(&z.dir, "102", "secret-102");
    let out = Command::new("sipp")
        .arg(&sip)
        .args(["-sf", &reg.to_string_lossy()])
        .args(["-m", "1", "-l", "1", "-t", "u1", "-p"])
        .arg(colleague_port.to_string())
        .args(["-i", &host, "-timeout", "20s", "-timeout_error", "-nostdin"])
        .current_dir(&z.dir)
        .output()
        .expect("sipp");
    assert!(out.status.success(), "REGISTER 102: {out:?}\n{}", z.log());
    let colleague = Killed(Some(
        common::uas_command(
            &z.dir,
            &common::uas_scenario(
                &z.dir,
                "colleague",
                &UasParty::Answers {
                    bye_timeout_ms: 90_000,
                },
            ),
            &host,
            colleague_port,
            free_media_port(),
            1,
            120,
        )
        .spawn()
        .expect("sipp colleague"),
    ));
    let hangup = z.dir.join("hang-up-now");
    let url = format!("http://{}", z.http);
    let chromium_args = [
        "--use-fake-device-for-media-stream".to_string(),
        "--use-fake-ui-for-media-stream".to_string(),
        format!("--unsafely-treat-insecure-origin-as-secure={url}"),
    ];
    let hangup_path = hangup.to_string_lossy().into_owned();
    let mut browser = LiveScript::start(
        "own_call.mjs",
        "e2e_ownc",
        &url,
        &chromium_args,
        &[
            ("ZVONAR_LOGIN", "anna"),
            ("ZVONAR_PASSWORD", "пароль anna 1"),
            ("ZVONAR_TARGET", "102"),
            ("ZVONAR_HANGUP_FILE", &hangup_path),
        ],
    );
    if let Err(e) = browser.wait_line("TALKING", Duration::from_secs(90)) {
        panic!(
            "the console's own call never came up: {e}\nzvonar log:\n{}",
            z.log()
        );
    }
    let st = ns_json(&z, "/api/v1/queue");
    assert_eq!(st["agents"][0]["state"], "on_call", "{st}");
    let own_id = st["agents"][0]["call"]
        .as_str()
        .unwrap_or_else(|| panic!("no own call on the agent: {st}"))
        .to_string();
    // A caller enters the queue while anna talks: it waits, the console does not ring.
    let scenario = common::write_scenario(
        &z.dir,
        "console-caller",
        "+79035550202",
        "+74951234567",
        &[common::Step::Pause(1)],
        90_000,
    );
    let caller = Killed(Some(
        common::caller_command(&z.dir, &scenario, &sip, &host, free_media_port(), 120)
            .spawn()
            .expect("sipp caller"),
    ));
    let waiting = wait_for(Duration::from_secs(15), || {
        let st = ns_json(&z, "/api/v1/queue");
        st["calls"]
            .as_array()
            .and_then(|c| c.first().cloned())
            .filter(|c| c["position"] == 1)
    })
    .unwrap_or_else(|| panic!("the caller is not in the queue\n{}", z.log()));
    let caller_id = waiting["call_id"].as_str().expect("call id").to_string();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(3) {
        let st = ns_json(&z, "/api/v1/queue");
        assert_eq!(st["agents"][0]["state"], "on_call", "{st}");
        assert_eq!(st["calls"][0]["ringing"], serde_json::json!([]), "{st}");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::write(&hangup, b"").expect("hang-up file");
    let r = browser
        .result(Duration::from_secs(90))
        .unwrap_or_else(|e| panic!("{e}\nzvonar log:\n{}", z.log()));
    let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
    assert!(text("onCall").contains("разговор"), "{r}");
    assert!(text("wrapUp").contains("обработка"), "{r}");
    let (ok, out) = colleague.finish();
    assert!(ok, "the colleague's phone:\n{out}\n{}", z.log());
    let (ok, out) = caller.finish();
    assert!(ok, "the caller:\n{out}\n{}", z.log());
    // The caller rang the console no sooner than the wrap-up after the own call ended.
    let own = wait_for(Duration::from_secs(10), || {
        let d = ns_json(&z, &format!("/api/v1/calls/{own_id}"));
        (!d["cdr"]["ended_at"].is_null()).then_some(d)
    })
    .expect("the own call's CDR");
    assert_eq!(own["cdr"]["flow"], "agent_call", "{own}");
    let rang_ms = r["rangAt"].as_i64().expect("rangAt");
    let ended_ms = at(&own["cdr"]["ended_at"]).timestamp_millis();
    assert!(
        rang_ms - ended_ms >= WRAP_UP_S * 1000 - 200,
        "the console rang {} ms after the own call ended, within the {WRAP_UP_S} s wrap-up",
        rang_ms - ended_ms
    );
    let detail = ns_json(&z, &format!("/api/v1/calls/{caller_id}"));
    let connected = detail["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["kind"] == "agent_connected"))
        .unwrap_or_else(|| panic!("caller never connected: {detail}"))
        .clone();
    assert_eq!(connected["payload"]["agent"], "anna", "{connected}");
    eprintln!(
        "console own call → queued caller rang {} ms after it ended (wrap-up {WRAP_UP_S} s)",
        rang_ms - ended_ms
    );
}
