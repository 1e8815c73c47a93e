//! End to end, the supervisor's live monitor: a real `zvonar serve` with a queue, SIPp as an
//! agent's desk phone (REGISTER with digest auth) and as a caller who asks the robot for an
//! operator, and the console's «Монитор» page in real headless Chromium (tests/browser/
//! monitor.mjs). The page is opened once; what the agent does through the API (log in,
//! pause «обед», log out) and the caller waiting in the queue show up without a reload,
//! pushed over the WebSocket; a dropped socket is reconnected by the page. The JSON snapshot
//! and the permission check are checked on the real server too. Screenshot:
//! `target/browser-artifacts/console_monitor/monitor.png`.

mod common;

use common::{browser, free_port, sipp, write_scenario, Options, Step, Zvonar};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const REALM: &str = "e2e.zvonar";

const DIALPLAN: &str = r#"
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
max_wait_s = 150
wrap_up_s = 5
ring_timeout_s = 5
announce_every_s = 30
overflow = "dispatcher"

[flow.operators]
kind = "queue"
queue = "operators"
"#;

/// SIPp registers `user` (digest) from `port` for an hour, as a desk phone does, and exits.
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

/// One GET with a session cookie: (status, body).
fn get_with_cookie(port: u16, path: &str, cookie: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, body.to_string())
}

/// Logs in over the API; the session cookie `name=value`.
fn session(z: &Zvonar, login: &str, password: &str) -> String {
    let body = format!(r#"{{"login":"{login}","password":"{password}"}}"#);
    let mut s = TcpStream::connect(("127.0.0.1", z.http_port)).expect("connect");
    write!(
        s,
        "POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {text}"))
        .to_string()
}

#[test]
fn supervisor_watches_an_agent_and_a_waiting_caller_live_in_the_browser() {
    let z = Zvonar::start_with(
        "console-monitor",
        Options {
            dialplan: Some(DIALPLAN.into()),
            extra_config: format!(
                "[sip.registrar]\nrealm = \"{REALM}\"\nalgorithms = [\"MD5\", \"SHA-256\"]\n\
                 [monitor]\nservice_level_s = 30\nshort_abandon_s = 5\n"
            ),
            ..Options::default()
        },
    );
    z.add_user("anna", "operator", "пароль оператора 1", &[]);
    z.add_user("sveta", "supervisor", "пароль старшей 1", &[]);
    let (ok, out) = z.cli(
        &["sip-account", "add", "101", "--login", "anna"],
        "secret-101\n",
    );
    assert!(ok, "{out}");
    register_phone(&z, "101", "secret-101", free_port());

    // An operator may not watch: 403 on the snapshot (and so on its socket, web/tests).
    let anna = session(&z, "anna", "пароль оператора 1");
    let (status, body) = get_with_cookie(z.http_port, "/api/v1/monitor", &anna);
    assert_eq!(status, 403, "{body}");
    let (status, _) = get_with_cookie(z.http_port, "/api/v1/monitor/ws", &anna);
    assert_eq!(status, 403);

    // The caller: asks the robot for an operator, then waits in the queue (SIPp, started by
    // the page's script once the agent is paused, so the queue is staffed).
    let steps = vec![
        Step::Pause(1500),
        Step::Keys("1"),
        Step::Pause(1500),
        Step::Keys("2"),
        Step::Pause(3500),
        Step::Keys("0"),
    ];
    let sc = write_scenario(
        &z.dir,
        "waits",
        "+79161234567",
        "+74951234567",
        &steps,
        200_000,
    );
    let sipp_args = serde_json::json!([
        format!("127.0.0.1:{}", z.sip_port),
        "-sf",
        sc.to_string_lossy(),
        "-m",
        "1",
        "-l",
        "1",
        "-t",
        "u1",
        "-p",
        free_port().to_string(),
        "-mp",
        common::free_media_port().to_string(),
        "-i",
        "127.0.0.1",
        "-mi",
        "127.0.0.1",
        "-timeout",
        "240s",
        "-timeout_error",
        "-nostdin",
    ]);
    let r = browser::run_script(
        &z,
        "monitor.mjs",
        "console_monitor",
        &[
            ("SUPERVISOR", "sveta"),
            ("SUPERVISOR_PASSWORD", "пароль старшей 1"),
            ("AGENT", "anna"),
            ("AGENT_PASSWORD", "пароль оператора 1"),
            ("SIPP_ARGS", &sipp_args.to_string()),
            ("SIPP_DIR", &z.dir.to_string_lossy()),
        ],
    );
    let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
    assert!(text("available").contains("свободен"), "{r}");
    assert!(
        text("paused").contains("пауза") && text("paused").contains("обед"),
        "{r}"
    );
    assert!(text("waiting").contains("operators"), "{r}");
    assert!(text("logged_out").contains("не в очереди"), "{r}");
    assert_eq!(r["sockets"], 2, "one reconnect after the drop: {r}");
    assert_eq!(r["reloaded"], false, "{r}");
    assert_eq!(r["overflowed"], "1", "{r}");
    let shot = browser::artifacts_dir_path("console_monitor").join("monitor.png");
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "{}",
        shot.display()
    );

    // The same figures on the JSON snapshot: one call offered today, gone to the robot when
    // the last agent logged out; the thresholds as configured.
    let sveta = session(&z, "sveta", "пароль старшей 1");
    let (status, body) = get_with_cookie(z.http_port, "/api/v1/monitor", &sveta);
    assert_eq!(status, 200, "{body}");
    let m: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(m["service_level_s"], 30, "{m}");
    assert_eq!(m["short_abandon_s"], 5);
    assert_eq!(m["time_zone"], "Europe/Moscow");
    let q = &m["queues"][0];
    assert_eq!(q["name"], "operators", "{m}");
    assert_eq!(q["today"]["offered"], 1, "{m}");
    assert_eq!(q["today"]["overflowed"], 1, "{m}");
    assert_eq!(q["today"]["answered"], 0, "{m}");
    assert_eq!(q["today"]["abandoned"], 0, "{m}");
    // SL(30 s): the overflowed call was counted and not answered: 0 of 1.
    assert_eq!(q["today"]["service_level"], 0.0, "{m}");
    assert_eq!(m["agents"][0]["login"], "anna");
    assert_eq!(m["agents"][0]["state"], "logged_out");
    assert!(m["agents"][0]["in_state_s"].is_u64(), "{m}");
    assert!(m["tickets"]["open"].is_u64(), "{m}");
}
