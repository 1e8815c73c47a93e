//! End to end, operator queues (ACD): a real `zvonar serve` with a dialplan whose robot
//! hands callers to the queue `operators` (`operator_flow`), SIPp as the caller (keys by
//! RFC 4733) and as an agent's desk phone (REGISTER with digest auth), agents logged in over
//! the JSON API with a session cookie and its CSRF token.
//!
//! - nobody logged in: the caller presses 0, the robot hands over, the queue overflows at once
//!   (`overflow_when_unstaffed`) and the robot takes a callback request;
//! - an agent logged in whose phone cannot take the call: the caller waits with comfort audio,
//!   hears the position twice, overflows at `max_wait_s` and the robot takes a callback
//!   request; meanwhile the robot's context (account, address) is on the API, and the queue
//!   state shows the call and the agent; an executor (no `take_calls`) cannot log in as an
//!   agent (403, nothing changes).

mod common;

use common::{free_port, sipp, write_scenario, Options, Step, Zvonar};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

const REALM: &str = "e2e.zvonar";

fn dialplan(max_wait_s: u32, wrap_up_s: u32) -> String {
    format!(
        r#"
[[route]]
number = "*"
flow = "dispatcher"

[flow.dispatcher]
kind = "dispatcher_robot"
company = "управляющую компанию «Наш дом»"
operator_flow = "operators"

[[queue]]
name = "operators"
strategy = "ring_all"
max_wait_s = {max_wait_s}
wrap_up_s = {wrap_up_s}
ring_timeout_s = 5
announce_every_s = 15
overflow = "dispatcher"

[flow.operators]
kind = "queue"
queue = "operators"
"#
    )
}

fn start(name: &str, max_wait_s: u32, wrap_up_s: u32) -> Zvonar {
    Zvonar::start_with(
        name,
        Options {
            dialplan: Some(dialplan(max_wait_s, wrap_up_s)),
            extra_config: format!(
                "[sip.registrar]\nrealm = \"{REALM}\"\nalgorithms = [\"MD5\", \"SHA-256\"]\n"
            ),
            ..Options::default()
        },
    )
}

/// The registered caller of улица Ленина 5 кв. 12: confirms the address (1), says the call is
/// not about the outage (2), then asks for a person (0) when asked for the problem.
fn asks_for_operator() -> Vec<Step> {
    vec![
        Step::Pause(1500),
        Step::Keys("1"),
        Step::Pause(1500),
        Step::Keys("2"),
        Step::Pause(3500),
        Step::Keys("0"),
    ]
}

/// `zvonar ARGS` with `stdin` on the test's config; panics unless it succeeds.
fn zvonar(z: &Zvonar, args: &[&str], stdin: &str) {
    let (ok, out) = z.cli(args, stdin);
    assert!(ok, "zvonar {args:?}: {out}");
}

/// One HTTP/1.1 request: (status, head, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, head.to_string(), body.to_string())
}

/// A logged-in console user: the session cookie and CSRF token headers.
fn log_in(z: &Zvonar, login: &str, password: &str) -> Vec<String> {
    let (status, head, body) = http(
        z.http_port,
        "POST",
        "/api/v1/login",
        &[],
        &format!(r#"{{"login":"{login}","password":"{password}"}}"#),
    );
    assert_eq!(status, 200, "{body}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();
    let v: Value = serde_json::from_str(&body).expect("json");
    let csrf = v["csrf_token"].as_str().expect("csrf").to_string();
    vec![format!("Cookie: {cookie}"), format!("X-CSRF-Token: {csrf}")]
}

/// SIPp registers `user` (digest, MD5) from `port` for an hour, as a desk phone does, and
/// exits.
fn register_phone(z: &Zvonar, user: &str, password: &str, port: u16) {
    let reg = |cseq: u32, auth: &str| {
        format!(
            r#"  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: {cseq} REGISTER
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Expires: 3600
      Max-Forwards: 70
{auth}      Content-Length: 0

    ]]>
  </send>
"#
        )
    };
    let body = [
        reg(1, ""),
        "  <recv response=\"401\" auth=\"true\"/>\n".to_string(),
        reg(
            2,
            &format!("      [authentication username={user} password={password}]\n"),
        ),
        "  <recv response=\"200\"/>\n".to_string(),
    ]
    .concat();
    let p = z.dir.join(format!("register-{user}.xml"));
    std::fs::write(
        &p,
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"reg\">\n{body}</scenario>\n"),
    )
    .expect("scenario");
    let port = port.to_string();
    let (ok, out) = sipp(z, &p, &["-m", "1", "-l", "1", "-t", "u1", "-p", &port], 20);
    assert!(ok, "REGISTER failed:\n{out}\n{}", z.log());
}

/// Runs the caller's SIPp call in a thread; joins to (success, output).
fn call_async(z: &Zvonar, name: &str, steps: Vec<Step>) -> std::thread::JoinHandle<(bool, String)> {
    let sc = write_scenario(
        &z.dir,
        name,
        "+79161234567",
        "+74951234567",
        &steps,
        120_000,
    );
    let sip_port = z.sip_port;
    let dir = z.dir.clone();
    std::thread::spawn(move || {
        let media_port = common::free_media_port().to_string();
        let port = free_port().to_string();
        let out = Command::new("sipp")
            .arg(format!("127.0.0.1:{sip_port}"))
            .args(["-sf", &sc.to_string_lossy()])
            .args([
                "-m",
                "1",
                "-l",
                "1",
                "-t",
                "u1",
                "-p",
                &port,
                "-mp",
                &media_port,
            ])
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args([
                "-timeout",
                "180s",
                "-timeout_error",
                "-nostdin",
                "-trace_err",
            ])
            .current_dir(&dir)
            .output()
            .expect("sipp");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    })
}

/// The timeline of the newest call: (kind, payload) in order.
fn timeline(z: &Zvonar) -> (String, Vec<(String, Value)>) {
    let calls = z.get_json("/api/v1/calls?limit=1");
    let id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let detail = z.get_json(&format!("/api/v1/calls/{id}"));
    let events = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("").to_string(),
                e["payload"].clone(),
            )
        })
        .collect();
    (id, events)
}

fn kinds(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(k, _)| k.as_str()).collect()
}

/// `needles` appear in `hay` in this order (others may come between).
fn in_order(hay: &[&str], needles: &[&str]) -> bool {
    let mut it = hay.iter();
    needles.iter().all(|n| it.any(|h| h == n))
}

#[test]
fn nobody_logged_in_the_robot_takes_a_callback_request() {
    let z = start("queue-unstaffed", 60, 5);
    let caller = call_async(&z, "unstaffed", asks_for_operator());
    let (ok, out) = caller.join().expect("caller");
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );
    let (id, events) = timeline(&z);
    let k = kinds(&events);
    assert!(
        in_order(
            &k,
            &[
                "handed_over",
                "queue_entered",
                "queue_overflowed",
                "callback_requested"
            ]
        ),
        "{k:?}"
    );
    let overflow = &events
        .iter()
        .find(|(k, _)| k == "queue_overflowed")
        .expect("overflow")
        .1;
    assert_eq!(overflow["reason"], "unstaffed", "{overflow}");
    assert_eq!(overflow["flow"], "dispatcher");
    // Said in Russian: the handover, then the callback.
    let said: Vec<String> = events
        .iter()
        .filter(|(k, _)| k == "robot_said")
        .filter_map(|(_, p)| p["text"].as_str().map(str::to_string))
        .collect();
    let handover = said
        .iter()
        .position(|t| t.contains("Соединяю с оператором"))
        .expect("handover said");
    let callback = said
        .iter()
        .position(|t| t.contains("операторов нет"))
        .expect("callback said");
    assert!(handover < callback, "{said:?}");
    assert!(
        !k.contains(&"queue_announced"),
        "no announcement to a call that overflowed at once"
    );
    // The callback request carries the caller; the queued call keeps the robot's context.
    let callbacks = z.get_json("/api/v1/callbacks");
    assert_eq!(callbacks.as_array().map(Vec::len), Some(1), "{callbacks}");
    let q = z.get_json(&format!("/api/v1/queue/calls/{id}"));
    assert_eq!(q["state"], "overflowed", "{q}");
    assert_eq!(q["reason"], "asked", "{q}");
    assert!(q["context"]["account_id"].is_number(), "{q}");
    assert!(
        q["context"]["address"]
            .as_str()
            .is_some_and(|a| a.contains("Ленина")),
        "{q}"
    );
    assert!(
        q["context"]["recording"]
            .as_str()
            .is_some_and(|r| r.ends_with(".wav")),
        "{q}"
    );
    // The CDR: the robot hung up after the callback request (written once the call's media
    // and recording are finished, just after the BYE).
    let t0 = Instant::now();
    let cdr = loop {
        let d = z.get_json(&format!("/api/v1/calls/{id}"));
        if !d["cdr"]["hangup_cause"].is_null() || t0.elapsed() > Duration::from_secs(20) {
            break d;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(cdr["cdr"]["hangup_cause"], "robot_bye", "{cdr}");
}

#[test]
fn a_caller_waits_hears_the_queue_and_overflows_at_max_wait_with_the_context_on_the_api() {
    let z = start("queue-wait", 35, 5);
    zvonar(
        &z,
        &["user", "add", "--login", "anna", "--role", "operator"],
        "пароль оператора 1\n",
    );
    zvonar(
        &z,
        &["user", "add", "--login", "petr", "--role", "executor"],
        "пароль исполнителя 1\n",
    );
    zvonar(
        &z,
        &["sip-account", "add", "101", "--login", "anna"],
        "secret-101\n",
    );
    let anna = log_in(&z, "anna", "пароль оператора 1");
    let petr = log_in(&z, "petr", "пароль исполнителя 1");

    // No phone registered yet: login refused, nothing changes.
    let (status, _, body) = http(z.http_port, "POST", "/api/v1/queue/agent/login", &anna, "");
    assert_eq!(status, 409, "{body}");
    register_phone(&z, "101", "secret-101", free_port());
    // Without the CSRF token the session may not act.
    let (status, _, _) = http(
        z.http_port,
        "POST",
        "/api/v1/queue/agent/login",
        &anna[..1],
        "",
    );
    assert_eq!(status, 403);
    let (status, _, body) = http(z.http_port, "POST", "/api/v1/queue/agent/login", &anna, "");
    assert_eq!(status, 200, "{body}");
    let me: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(me["state"], "available", "{me}");
    assert!(
        me["endpoint"]
            .as_str()
            .is_some_and(|e| e.starts_with("sip/101/")),
        "{me}"
    );
    // An executor may not take calls: 403 and no agent appears.
    let (status, _, _) = http(z.http_port, "POST", "/api/v1/queue/agent/login", &petr, "");
    assert_eq!(status, 403);
    let (status, _, _) = http(z.http_port, "GET", "/api/v1/queue/calls/nope", &petr, "");
    assert_eq!(status, 403);

    let caller = call_async(&z, "waits", asks_for_operator());
    // While the caller waits: the call in the queue state, and its context for the card.
    let t0 = Instant::now();
    let call_id = loop {
        let st = z.get_json("/api/v1/queue");
        if let Some(c) = st["calls"].as_array().and_then(|a| a.first()) {
            assert_eq!(st["agents"].as_array().map(Vec::len), Some(1), "{st}");
            assert_eq!(st["agents"][0]["login"], "anna");
            assert_eq!(st["queues"][0]["name"], "operators");
            break c["call_id"].as_str().expect("id").to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no call queued: {st}\n{}",
            z.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let (status, _, body) = http(
        z.http_port,
        "GET",
        &format!("/api/v1/queue/calls/{call_id}"),
        &anna,
        "",
    );
    assert_eq!(status, 200, "{body}");
    let card: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(card["state"], "waiting", "{card}");
    assert_eq!(card["live"]["position"], 1, "{card}");
    assert!(card["context"]["account_id"].is_number(), "{card}");
    assert!(card["context"]["premises_id"].is_number(), "{card}");
    assert_eq!(card["context"]["caller"], "+79161234567", "{card}");
    assert!(
        card["context"]["address"]
            .as_str()
            .is_some_and(|a| a.contains("Ленина")),
        "{card}"
    );

    let (ok, out) = caller.join().expect("caller");
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );
    let (id, events) = timeline(&z);
    assert_eq!(id, call_id);
    let k = kinds(&events);
    assert!(
        in_order(
            &k,
            &[
                "handed_over",
                "queue_entered",
                "queue_announced",
                "queue_announced",
                "queue_overflowed",
                "callback_requested"
            ]
        ),
        "{k:?}"
    );
    let positions: Vec<u64> = events
        .iter()
        .filter(|(k, _)| k == "queue_announced")
        .filter_map(|(_, p)| p["position"].as_u64())
        .collect();
    assert!(
        positions.len() >= 2 && positions.iter().all(|p| *p == 1),
        "{positions:?}"
    );
    let overflow = &events
        .iter()
        .find(|(k, _)| k == "queue_overflowed")
        .expect("overflow")
        .1;
    assert_eq!(overflow["reason"], "max_wait", "{overflow}");
    let said: Vec<&str> = events
        .iter()
        .filter(|(k, _)| k == "robot_said")
        .filter_map(|(_, p)| p["text"].as_str())
        .collect();
    assert!(
        said.iter()
            .any(|t| t.starts_with("Ваш номер в очереди: 1.")),
        "{said:?}"
    );
    let q = z.get_json(&format!("/api/v1/queue/calls/{id}"));
    assert_eq!(q["state"], "overflowed", "{q}");
    assert!(q["wait_ms"].as_u64().is_some_and(|w| w >= 35_000), "{q}");
    // The agent is still logged in, and the login was audited.
    let st = z.get_json("/api/v1/queue");
    assert!(st["calls"].as_array().is_some_and(Vec::is_empty), "{st}");
    assert_ne!(st["agents"][0]["state"], "logged_out", "{st}");
    let audit = z.get_json("/api/v1/audit?limit=50");
    assert!(
        audit.as_array().is_some_and(|a| a
            .iter()
            .any(|e| e["action"] == "queue_login" && e["actor"] == "anna")),
        "{audit}"
    );
    // Pause with a reason, then log out.
    let (status, _, body) = http(
        z.http_port,
        "POST",
        "/api/v1/queue/agent/pause",
        &anna,
        r#"{"reason":"обед"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let me: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (me["state"].as_str(), me["pause_reason"].as_str()),
        (Some("paused"), Some("обед"))
    );
    let (status, _, body) = http(
        z.http_port,
        "POST",
        "/api/v1/queue/agent/pause",
        &anna,
        r#"{"reason":" "}"#,
    );
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = http(z.http_port, "POST", "/api/v1/queue/agent/logout", &anna, "");
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = http(z.http_port, "POST", "/api/v1/queue/agent/resume", &anna, "");
    assert_eq!(status, 409);
}

#[test]
fn a_desk_phone_takes_the_queued_call_audio_flows_both_ways_then_wrap_up() {
    let z = start("queue-desk", 120, 60);
    zvonar(
        &z,
        &["user", "add", "--login", "anna", "--role", "operator"],
        "пароль оператора 1\n",
    );
    zvonar(
        &z,
        &["sip-account", "add", "101", "--login", "anna"],
        "secret-101\n",
    );
    let anna = log_in(&z, "anna", "пароль оператора 1");
    let phone_port = free_port();
    register_phone(&z, "101", "secret-101", phone_port);
    let (status, _, body) = http(z.http_port, "POST", "/api/v1/queue/agent/login", &anna, "");
    assert_eq!(status, 200, "{body}");
    // The desk phone now answers on the port it registered from, echoing the RTP it gets.
    let desk = common::uas_command(
        &z.dir,
        &common::desk_phone_scenario(&z.dir, "desk", "101", 15_000),
        "127.0.0.1",
        phone_port,
        common::free_media_port(),
        1,
        120,
    )
    .arg("-rtp_echo")
    .spawn()
    .expect("sipp desk phone");
    // The caller asks for a person (0), waits while the phone rings and is answered, then
    // speaks; the agent hangs up and zvonar ends the caller's call.
    let mut steps = asks_for_operator();
    steps.push(Step::Pause(9000));
    steps.push(Step::Say(common::problem_speech()));
    let caller = call_async(&z, "desk-caller", steps);
    let (ok, out) = caller.join().expect("caller");
    assert!(
        ok,
        "SIPp caller failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );
    let out = desk.wait_with_output().expect("desk phone");
    assert!(
        out.status.success(),
        "the desk phone was rung, answered and hung up: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        z.log()
    );
    let (id, events) = timeline(&z);
    let k = kinds(&events);
    assert!(
        in_order(&k, &["handed_over", "queue_entered", "agent_connected"]),
        "{k:?}"
    );
    assert!(!k.contains(&"queue_overflowed"), "{k:?}");
    let connected = events
        .iter()
        .find(|(k, _)| k == "agent_connected")
        .expect("connected");
    assert_eq!(connected.1["agent"], "anna");
    // The card of the answered call: connected to anna, then ended (stored by the queue
    // runtime just after it told the caller's task to hang up).
    let t0 = Instant::now();
    let q = loop {
        let q = z.get_json(&format!("/api/v1/queue/calls/{id}"));
        if q["state"] == "ended" || t0.elapsed() > Duration::from_secs(10) {
            break q;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (q["state"].as_str(), q["agent"].as_str()),
        (Some("ended"), Some("anna")),
        "{q}"
    );
    // Wrap-up after the call (60 s in this dialplan).
    let st = z.get_json("/api/v1/queue");
    assert_eq!(st["agents"][0]["state"], "wrap_up", "{st}");
    // The CDR: the agent hung up first.
    let t0 = Instant::now();
    let cdr = loop {
        let d = z.get_json(&format!("/api/v1/calls/{id}"));
        if !d["cdr"]["hangup_cause"].is_null() || t0.elapsed() > Duration::from_secs(20) {
            break d;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(cdr["cdr"]["hangup_cause"], "party_bye", "{cdr}");
    // Audio both ways: after the agent answered, what the caller hears (the recording's right
    // channel) is the caller's own speech coming back from the desk phone's echo — it went to
    // the phone and came back through the bridge. Before the answer the caller heard the
    // robot and the comfort melody; the offset of the answer is taken from the timeline.
    let at = |kind: &str| {
        let call = z.get_json(&format!("/api/v1/calls/{id}"));
        call["timeline"]
            .as_array()
            .and_then(|t| t.iter().find(|e| e["kind"] == kind))
            .and_then(|e| e["at"].as_str())
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .unwrap_or_else(|| panic!("no {kind} event"))
    };
    let offset_ms = (at("agent_connected") - at("answered"))
        .num_milliseconds()
        .max(0) as usize;
    let rec = cdr["cdr"]["recording"].as_str().expect("recording");
    let mut r = hound::WavReader::open(z.dir.join("recordings").join(rec)).expect("wav");
    assert_eq!(r.spec().channels, 2);
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    let (left, right): (Vec<i16>, Vec<i16>) = s.chunks(2).map(|c| (c[0], c[1])).unzip();
    let from = (offset_ms + 300) * 8;
    assert!(
        right.len() > from + 8000,
        "recording too short: {} samples",
        right.len()
    );
    let caller_loud = common::loudest_window(&left[from..]);
    let echo_loud = common::loudest_window(&right[from..]);
    assert!(
        caller_loud > 300.0,
        "the caller spoke after the answer: rms {caller_loud:.0}"
    );
    assert!(
        echo_loud > 300.0,
        "the desk phone's audio reached the caller: rms {echo_loud:.0}"
    );
}

#[test]
fn an_agents_pause_and_its_reason_survive_a_restart() {
    let mut z = start("queue-restart", 60, 5);
    zvonar(
        &z,
        &["user", "add", "--login", "anna", "--role", "operator"],
        "пароль оператора 1\n",
    );
    zvonar(
        &z,
        &["sip-account", "add", "101", "--login", "anna"],
        "secret-101\n",
    );
    register_phone(&z, "101", "secret-101", free_port());
    let anna = log_in(&z, "anna", "пароль оператора 1");
    let (status, _, body) = http(z.http_port, "POST", "/api/v1/queue/agent/login", &anna, "");
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = http(
        z.http_port,
        "POST",
        "/api/v1/queue/agent/pause",
        &anna,
        r#"{"reason":"обучение"}"#,
    );
    assert_eq!(status, 200, "{body}");
    // zvonar stops (SIGTERM) and starts again on the same database.
    z.terminate();
    assert!(
        z.wait_exit(Duration::from_secs(60)).is_some(),
        "did not stop"
    );
    z.restart();
    // Registrations live in memory: the phone is gone until it registers again, and the agent
    // waits disconnected with the pause and its reason kept.
    let agent = |z: &Zvonar| z.get_json("/api/v1/queue")["agents"][0].clone();
    let t0 = Instant::now();
    while agent(&z)["state"] != "disconnected" {
        assert!(t0.elapsed() < Duration::from_secs(20), "{}", agent(&z));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(agent(&z)["pause_reason"], "обучение");
    // The phone registers again (a new contact): the agent is back, paused as before.
    register_phone(&z, "101", "secret-101", free_port());
    let t0 = Instant::now();
    while agent(&z)["state"] != "paused" {
        assert!(t0.elapsed() < Duration::from_secs(20), "{}", agent(&z));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(agent(&z)["pause_reason"], "обучение");
    assert!(agent(&z)["endpoint"]
        .as_str()
        .is_some_and(|e| e.starts_with("sip/101/")));
}
