//! End to end, missed calls and outages with a real `zvonar serve` and SIPp callers:
//!
//! * a caller hangs up on the robot → the call is in the missed-calls list with a recording
//!   that plays → an operator (a real user: `zvonar user add`, password login, session cookie
//!   and CSRF token) records callback attempts until the entry closes;
//! * an outage registered through the API is announced on the very next call from a number
//!   whose account is on that building (the `outage_announced` timeline event), and no longer
//!   once it is closed.

mod common;

use common::{hang_up_scenario, run_sipp, Step, Zvonar};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const DISPATCHER_NUMBER: &str = "+74951234567";

/// One HTTP/1.1 request over a fresh connection: (status, head, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, head, buf[split + 4..].to_vec())
}

/// A request with the service token; the JSON answer.
fn api(z: &Zvonar, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, _, b) = http(
        z.http_port,
        method,
        path,
        &[format!("Authorization: Bearer {}", z.token)],
        &body.map(|b| b.to_string()).unwrap_or_default(),
    );
    (status, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// A SIPp call from `caller` performing `steps`, after which the caller hangs up (BYE).
fn call_and_hang_up(z: &Zvonar, name: &str, caller: &str, steps: &[Step]) {
    let sc = hang_up_scenario(&z.dir, name, caller, DISPATCHER_NUMBER, steps);
    let (ok, out) = run_sipp(z, &sc, "u1", 60);
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );
}

/// The latest call from a number ending in `tail`, once its end is recorded.
fn last_call_from(z: &Zvonar, tail: &str, not: &[String]) -> Value {
    for _ in 0..100 {
        let (_, calls) = api(z, "GET", "/api/v1/calls?limit=50", None);
        if let Some(c) = calls.as_array().and_then(|l| {
            l.iter().find(|c| {
                c["caller_raw"].as_str().is_some_and(|r| r.ends_with(tail))
                    && !c["ended_at"].is_null()
                    && !not.iter().any(|n| c["call_id"] == n.as_str())
            })
        }) {
            let id = c["call_id"].as_str().expect("id");
            return api(z, "GET", &format!("/api/v1/calls/{id}"), None).1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no ended call from …{tail}\n{}", z.log());
}

fn kinds(call: &Value) -> Vec<String> {
    call["timeline"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Logs in; the session cookie and CSRF header to send.
fn login(z: &Zvonar, login: &str, password: &str) -> Vec<String> {
    let (status, head, body) = http(
        z.http_port,
        "POST",
        "/api/v1/login",
        &[],
        &json!({"login": login, "password": password}).to_string(),
    );
    assert_eq!(status, 200, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();
    let body: Value = serde_json::from_slice(&body).expect("login json");
    let csrf = body["csrf_token"].as_str().expect("csrf").to_string();
    vec![format!("Cookie: {cookie}"), format!("X-CSRF-Token: {csrf}")]
}

#[test]
fn caller_who_hangs_up_on_the_robot_is_called_back_from_the_list() {
    let z = Zvonar::start("missed");
    // An unknown number: the robot greets and asks for the address; the caller hangs up.
    call_and_hang_up(&z, "hangup", "+79057770011", &[Step::Pause(3000)]);
    let call = last_call_from(&z, "9057770011", &[]);
    let call_id = call["cdr"]["call_id"]
        .as_str()
        .expect("call id")
        .to_string();
    assert_eq!(call["cdr"]["hangup_cause"], "caller_bye", "{call}");

    let mut entry = Value::Null;
    for _ in 0..50 {
        let (status, list) = api(&z, "GET", "/api/v1/missed", None);
        assert_eq!(status, 200, "{list}");
        if let Some(e) = list
            .as_array()
            .and_then(|l| l.iter().find(|m| m["number"] == "+79057770011"))
        {
            entry = e.clone();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(entry["reason"], "robot_hangup", "{entry}\n{}", z.log());
    assert_eq!(entry["last_call_id"], call_id.as_str());
    assert_eq!(entry["calls"], 1);
    // The recording plays: a stereo WAV at least as long as the time before the hang-up.
    let url = entry["recording_url"].as_str().expect("recording url");
    let (status, head, wav) = http(
        z.http_port,
        "GET",
        url,
        &[format!("Authorization: Bearer {}", z.token)],
        "",
    );
    assert_eq!(status, 200, "{head}");
    let r = hound::WavReader::new(std::io::Cursor::new(wav)).expect("wav");
    assert_eq!(r.spec().channels, 2);
    assert!(r.duration() >= 8000 * 2, "{} frames", r.duration());

    // An operator logs in and records two attempts: no answer, then reached.
    z.add_user("op1", "operator", "оператор смены 2026", &[]);
    let session = login(&z, "op1", "оператор смены 2026");
    let id = entry["id"].as_i64().expect("id");
    let path = format!("/api/v1/missed/{id}/attempts");
    let (status, _, body) = http(
        z.http_port,
        "POST",
        &path,
        &session,
        &json!({"outcome": "no_answer", "comment": "не берут трубку"}).to_string(),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let r: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(r["missed"]["status"], "open");
    assert_eq!(r["attempt"]["by"], "op1");
    // Without the CSRF token the cookie alone changes nothing.
    let (status, _, _) = http(
        z.http_port,
        "POST",
        &path,
        &session[..1],
        &json!({"outcome": "reached"}).to_string(),
    );
    assert_eq!(status, 403);
    let (status, _, body) = http(
        z.http_port,
        "POST",
        &path,
        &session,
        &json!({"outcome": "reached", "comment": "заявку оформили"}).to_string(),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let (_, d) = api(&z, "GET", &format!("/api/v1/missed/{id}"), None);
    assert_eq!(d["missed"]["closed_as"], "reached", "{d}");
    let outcomes: Vec<&str> = d["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .filter_map(|a| a["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["no_answer", "reached"]);
    let (_, audit) = api(&z, "GET", "/api/v1/audit?limit=100", None);
    let by_op = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter(|e| e["actor"] == "op1" && e["action"] == "callback_attempt")
        .count();
    assert_eq!(by_op, 2, "{audit}");
}

#[test]
fn outage_from_the_api_is_announced_on_the_next_call_and_not_after_closing() {
    let z = Zvonar::start("outage-api");
    // +7 977 555-04-04 is registered for проспект Мира 101, кв. 4 (no outage there). The
    // caller confirms the address with 1 and hangs up at the next question.
    let caller = "+79775550404";
    let steps = [Step::Pause(1500), Step::Keys("1"), Step::Pause(2500)];
    let (_, buildings) = api(&z, "GET", "/api/v1/buildings", None);
    let mira = buildings
        .as_array()
        .expect("buildings")
        .iter()
        .find(|b| b["street"] == "проспект Мира")
        .expect("проспект Мира")["id"]
        .as_i64()
        .expect("id");

    call_and_hang_up(&z, "before", caller, &steps);
    let before = last_call_from(&z, "9775550404", &[]);
    let k = kinds(&before);
    assert!(k.iter().any(|k| k == "identified"), "{k:?}\n{}", z.log());
    assert!(!k.iter().any(|k| k == "outage_announced"), "{k:?}");

    let (status, n) = api(
        &z,
        "POST",
        "/api/v1/outages",
        Some(json!({"building_ids": [mira], "resource": "cold_water", "text": "порыв"})),
    );
    assert_eq!(status, 201, "{n}");
    let outage_row = n["buildings"][0]["outage_id"].as_i64().expect("outage id");

    call_and_hang_up(&z, "during", caller, &steps);
    let seen = [before["cdr"]["call_id"].as_str().expect("id").to_string()];
    let during = last_call_from(&z, "9775550404", &seen);
    let announced: Vec<&Value> = during["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "outage_announced")
        .collect();
    assert_eq!(announced.len(), 1, "{:?}\n{}", kinds(&during), z.log());
    assert_eq!(announced[0]["payload"]["outage_id"], outage_row);
    let said: Vec<&str> = during["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "robot_said")
        .filter_map(|e| e["payload"]["text"].as_str())
        .collect();
    assert!(
        said.iter().any(|s| s.contains("отключение холодной воды")),
        "{said:?}"
    );

    let (status, closed) = api(
        &z,
        "POST",
        &format!("/api/v1/outages/{}/close", n["id"]),
        None,
    );
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["state"], "ended");

    call_and_hang_up(&z, "after", caller, &steps);
    let seen = [
        seen[0].clone(),
        during["cdr"]["call_id"].as_str().expect("id").to_string(),
    ];
    let after = last_call_from(&z, "9775550404", &seen);
    let k = kinds(&after);
    assert!(k.iter().any(|k| k == "identified"), "{k:?}");
    assert!(
        !k.iter().any(|k| k == "outage_announced"),
        "{k:?}\n{}",
        z.log()
    );
}

/// The console's pages in headless Chromium: «Пропущенные звонки» (list with the recording,
/// a callback attempt, the caller's card) and «Аварии и отключения» (register, close). The
/// browser runs in Vladivostok, the company in Moscow: times are shown and typed in Moscow's.
#[test]
fn console_pages_for_missed_calls_and_outages() {
    let z = Zvonar::start("missed-console");
    call_and_hang_up(&z, "console", "+79161234567", &[Step::Pause(3000)]);
    let _ = last_call_from(&z, "9161234567", &[]);
    z.add_user("oper", "operator", "пароль оператора 1", &[]);
    z.add_user("disp", "dispatcher", "пароль диспетчера 2", &[]);
    // The billing export's debt of the caller's account (ЛС 5000010012), loaded by the CLI.
    let debts = z.dir.join("debts.csv");
    std::fs::write(
        &debts,
        "лс;долг;неоплаченный месяц;на дату\n5000010012;1 234,50;2026-08;01.11.2026\n",
    )
    .expect("debts file");
    let (ok, out) = z.cli(&["import", "debts", &debts.to_string_lossy()], "");
    assert!(ok, "{out}");
    let r = common::browser::run_script(
        &z,
        "missed.mjs",
        "console_missed",
        &[
            ("OPERATOR", "oper"),
            ("OPERATOR_PASSWORD", "пароль оператора 1"),
            ("DISPATCHER", "disp"),
            ("DISPATCHER_PASSWORD", "пароль диспетчера 2"),
            ("NUMBER", "+79161234567"),
            ("BUILDING", "проспект Мира"),
            ("OUTAGE_START", "2026-11-01T10:00"),
            ("TZ_NAME", "Asia/Vladivostok"),
        ],
    );
    // Times in the company's zone (Moscow, UTC+3), not the browser's (UTC+10): the missed
    // call's time in the list, the outage form's default start (now), and the start typed.
    let moscow = chrono_tz::Europe::Moscow;
    let missed = z.get_json("/api/v1/missed");
    let last_at = missed
        .as_array()
        .and_then(|l| l.iter().find(|m| m["number"] == "+79161234567"))
        .and_then(|m| m["last_at"].as_str())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .expect("the missed call's last_at");
    let shown = last_at
        .with_timezone(&moscow)
        .format("%d.%m.%Y, %H:%M")
        .to_string();
    assert_eq!(r["last"].as_str(), Some(shown.as_str()), "{r}");
    let default_start = r["startDefault"].as_str().unwrap_or_default();
    let now = chrono::Utc::now();
    let near: Vec<String> = (0..3)
        .map(|m| {
            (now - chrono::Duration::minutes(m))
                .with_timezone(&moscow)
                .format("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .collect();
    assert!(
        near.iter().any(|n| n == default_start),
        "the outage starts now in Moscow by default: {default_start} (Moscow now {})",
        near[0]
    );
    assert!(
        r["registered"]
            .as_str()
            .unwrap_or("")
            .contains("01.11.2026, 10:00"),
        "{r}"
    );
    let outages = z.get_json("/api/v1/outages?state=recent");
    let started = outages
        .as_array()
        .and_then(|l| l.iter().find(|o| o["text"] == "Порыв на вводе"))
        .map(|o| o["starts_at"].clone())
        .unwrap_or_default();
    assert_eq!(
        started
            .as_str()
            .map(|t| chrono::DateTime::parse_from_rfc3339(t).map(|t| t.to_utc())),
        Some(Ok("2026-11-01T07:00:00Z".parse().expect("time"))),
        "10:00 typed means 10:00 in Moscow: {outages}"
    );
    assert!(
        r["attempts"].as_str().unwrap_or("").contains("не отвечает"),
        "{r}"
    );
    // The card of a registered resident: the address and the hot-water outage there.
    let card = r["card"].as_str().unwrap_or("");
    assert!(
        card.contains("Ленина") && card.contains("горячей воды"),
        "{card}"
    );
    // …and its debt as the billing export gave it.
    assert!(
        card.contains("Долг 1\u{a0}234,50\u{a0}₽ на 01.11.2026 · не оплачено месяцев: 3 (первый — август 2026)"),
        "{card:?}"
    );
    assert!(
        r["registered"].as_str().unwrap_or("").contains("ХВС"),
        "{r}"
    );
    // The server saw the operator's attempt and the dispatcher's outage.
    let audit = z.get_json("/api/v1/audit?limit=200");
    let actions: Vec<(String, String)> = audit
        .as_array()
        .expect("audit")
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or("").to_string(),
                e["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for (who, what) in [
        ("oper", "callback_attempt"),
        ("disp", "outage_created"),
        ("disp", "outage_closed"),
    ] {
        assert!(
            actions.iter().any(|(w, a)| w == who && a == what),
            "{who} {what}: {actions:?}"
        );
    }
    for shot in ["missed-list.png", "missed-card.png", "outages.png"] {
        let p = common::browser::artifacts_dir_path("console_missed").join(shot);
        assert!(
            std::fs::metadata(&p)
                .map(|m| m.len() > 1000)
                .unwrap_or(false),
            "{}",
            p.display()
        );
    }
}
