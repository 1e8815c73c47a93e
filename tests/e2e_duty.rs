//! End to end, emergency call-outs to the staff on duty (issue 8, point 6): a real
//! `zvonar serve` with its registrar and a SIP trunk; two staff members, one with a desk
//! phone registered as a SIP account, one reached by a phone number through the trunk (both
//! SIPp UAS); the plumbers' duty roster stored over the API; an emergency ticket filed over
//! the API as the console does.
//!
//! 1. The first person on duty is busy (486), the second answers, listens and presses 1
//!    (RFC 2833, tests/fixtures/pcap/dtmf_2833_1.pcap): the ticket is assigned to the
//!    second, `in_progress`; both attempts with outcome and SIP code are on the ticket
//!    (its escalation and the robot's comments); the answered call was recorded.
//! 2. While the first person's phone rings, a dispatcher presses «Принять» in the console:
//!    the ringing call is cancelled, the ticket is the dispatcher's, nobody else is called.
//! 3. zvonar is killed while the first person's phone rings; after the restart the
//!    escalation goes on with the next person (a `sip:` URI), who accepts; the first is not
//!    called again.
//! 4. A dispatcher assigns the ticket the usual way while the first phone rings: the call is
//!    cancelled, the escalation stops, the assignment stands.
//! 5. (Second test.) A call-out answered at a queue agent's desk phone keeps the agent busy
//!    in the queue (`on_call`, then `wrap_up`).
//! 6. (Third test, headless Chromium.) The journal's alarm for a ticket nobody accepted,
//!    the escalation on the card, «Принять заявку» while the phone rings.
//!
//! Also: only `manage_duty` may store a roster (403 and nothing changes for a dispatcher),
//! and a roster naming an unknown user is refused (400).

mod common;

use common::{finish_uas, free_port, start_uas, uas_scenario, Options, UasParty, Zvonar};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const REALM: &str = "e2e.zvonar";

/// zvonar with its registrar and `[duty]`: each phone rings `ring_s`, one round; leaks go
/// to the plumbers, electricity to the electricians; `trunk`: a SIP trunk (no registration)
/// at 127.0.0.1:PORT that phone numbers are dialled through.
fn start(name: &str, ring_s: u32, trunk: Option<u16>) -> Zvonar {
    let trunk = trunk
        .map(|p| {
            format!(
                "[[trunk]]\nname = \"provider\"\nregistrar = \"sip:127.0.0.1:{p}\"\n\
                 username = \"74950001122\"\npassword = \"trunk-secret\"\nregister = false\n"
            )
        })
        .unwrap_or_default();
    Zvonar::start_with(
        name,
        Options {
            extra_config: format!(
                "[sip.registrar]\nrealm = \"{REALM}\"\nalgorithms = [\"MD5\", \"SHA-256\"]\n\
                 {trunk}[duty]\nring_s = {ring_s}\nrounds = 1\nround_gap_s = 0\nanswer_wait_s = 5\n\
                 scan_ms = 200\n[duty.topics]\nleak = \"Сантехники\"\n\
                 electricity = \"Электрики\"\n"
            ),
            ..Options::default()
        },
    )
}

fn cli(z: &Zvonar, args: &[&str], stdin: &str) {
    let (ok, out) = z.cli(args, stdin);
    assert!(ok, "zvonar {args:?}: {out}");
}

/// The user id of `login`.
fn user_id(z: &Zvonar, login: &str) -> i64 {
    let users = z.get_json("/api/v1/users");
    users
        .as_array()
        .or_else(|| users["users"].as_array())
        .expect("users")
        .iter()
        .find(|u| u["login"] == login)
        .and_then(|u| u["id"].as_i64())
        .unwrap_or_else(|| panic!("no user {login}: {users}"))
}

/// Files an emergency leak ticket as the console does; its id.
fn file_ticket(z: &Zvonar, building: i64, what: &str) -> i64 {
    file_ticket_on(z, "leak", building, what)
}

/// Files an emergency ticket on `topic` as the console does; its id.
fn file_ticket_on(z: &Zvonar, topic: &str, building: i64, what: &str) -> i64 {
    let (status, t) = z.api(
        "POST",
        "/api/v1/tickets",
        &json!({
            "topic": topic, "emergency": true, "description": what,
            "building_id": building, "apartment": "12"
        })
        .to_string(),
    );
    assert_eq!(status, 201, "{t}");
    t["id"]
        .as_i64()
        .or_else(|| t["ticket"]["id"].as_i64())
        .expect("ticket id")
}

/// Polls `GET path` until `done` holds (at most `secs`); the last document.
fn wait_for(z: &Zvonar, path: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let (status, v) = z.api("GET", path, "");
        if status == 200 && done(&v) {
            return v;
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            panic!("GET {path} never got there ({status}): {v}\n{}", z.log());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until zvonar has sent the INVITE of attempt `n` of ticket `t` (its log line), so
/// that the phone is ringing, not merely about to.
fn wait_dialled(z: &Zvonar, t: i64, n: u32) {
    let needle = format!("dialling call_id=duty-{t}-{n} ");
    let t0 = Instant::now();
    while !z.log().contains(&needle) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "attempt {n} of ticket {t} never dialled:\n{}",
            z.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The 180 from the phone.
    std::thread::sleep(Duration::from_millis(500));
}

fn outcomes(e: &Value) -> Vec<(String, String, Option<i64>)> {
    e["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| {
            (
                a["callee"]["name"].as_str().unwrap_or("").to_string(),
                a["outcome"]["outcome"].as_str().unwrap_or("").to_string(),
                a["sip_code"].as_i64(),
            )
        })
        .collect()
}

/// A building of the example registry.
fn first_building(z: &Zvonar) -> i64 {
    let buildings = z.get_json("/api/v1/buildings");
    buildings
        .as_array()
        .and_then(|b| b.first())
        .and_then(|b| b["id"].as_i64())
        .expect("a building in the example registry")
}

fn set_roster(z: &Zvonar, headers: &[String], roster: &Value) -> (u16, String) {
    let (status, _, body) = common::http_request(
        z.http_port,
        "PUT",
        "/api/v1/duty/rosters/Сантехники",
        headers,
        &roster.to_string(),
    );
    (status, body)
}

#[test]
fn emergency_ticket_escalates_along_the_roster_console_accept_and_restart() {
    // Petrov's phone is a number behind the SIP trunk (SIPp on port2).
    let (port1, port2) = (free_port(), free_port());
    let mut z = start("duty", 10, Some(port2));
    for (login, role) in [
        ("ivanov", "executor"),
        ("petrov", "executor"),
        ("disp", "dispatcher"),
    ] {
        cli(
            &z,
            &["user", "add", "--login", login, "--role", role],
            "пароль сотрудника 1\n",
        );
    }
    cli(
        &z,
        &["sip-account", "add", "101", "--login", "ivanov"],
        "secret-101\n",
    );
    let (ivanov, petrov, disp) = (
        user_id(&z, "ivanov"),
        user_id(&z, "petrov"),
        user_id(&z, "disp"),
    );
    z.register_account("101", "secret-101", port1);

    let roster = |second: &str| {
        json!({
            "shifts": [
                {"days": [1,2,3,4,5,6,7], "start": "00:00", "end": "00:00", "order": 1,
                 "user_id": ivanov, "name": "Иванов", "phone": "account:101"},
                {"days": [1,2,3,4,5,6,7], "start": "00:00", "end": "00:00", "order": 2,
                 "user_id": petrov, "name": "Петров", "phone": second},
            ]
        })
    };
    // A dispatcher may not edit the roster: 403, nothing stored.
    let disp_session = z.log_in("disp", "пароль сотрудника 1");
    let (status, body) = set_roster(&z, &disp_session, &roster("+79160000002"));
    assert_eq!(status, 403, "{body}");
    let stored = z.get_json("/api/v1/duty/rosters/Сантехники");
    assert_eq!(stored["shifts"], json!([]), "{stored}");
    // An unknown user is refused by name.
    let mut bad = roster("+79160000002");
    bad["shifts"][1]["user_id"] = json!(9999);
    let (status, body) = set_roster(&z, &[format!("Authorization: Bearer {}", z.token)], &bad);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("9999"), "{body}");
    let auth = [format!("Authorization: Bearer {}", z.token)];
    let (status, body) = set_roster(&z, &auth, &roster("+79160000002"));
    assert_eq!(status, 200, "{body}");

    let building = first_building(&z);
    let pcap = common::root().join("tests/fixtures/pcap/dtmf_2833_1.pcap");

    // 1. Busy, then key 1.
    let busy = start_uas(
        &z.dir,
        &uas_scenario(&z.dir, "busy", &UasParty::Busy),
        port1,
        1,
    );
    let answers = UasParty::AnswersThenPlays {
        delay_ms: 2000,
        pcap: pcap.clone(),
    };
    let taker = start_uas(&z.dir, &uas_scenario(&z.dir, "taker", &answers), port2, 1);
    let t1 = file_ticket(&z, building, "Прорвало трубу в подвале");
    // Assigned, and the robot's comment of the acceptance written just after.
    let card = wait_for(&z, &format!("/api/v1/tickets/{t1}"), 90, |v| {
        v["ticket"]["executor_id"].as_i64().is_some()
            && v["comments"].as_array().is_some_and(|c| {
                c.iter().any(|c| {
                    c["text"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("Заявку принял"))
                })
            })
    });
    let (ok, out) = finish_uas(busy);
    assert!(ok, "the first phone was rung and was busy:\n{out}");
    let (ok, out) = finish_uas(taker);
    assert!(
        ok,
        "the second phone answered, pressed 1 and was hung up:\n{out}\n{}",
        z.log()
    );
    assert_eq!(card["ticket"]["executor_id"], petrov, "{card}");
    assert_eq!(card["ticket"]["executor"], "Петров");
    assert_eq!(card["ticket"]["status"], "in_progress");
    assert_eq!(card["ticket"]["department"], "Сантехники");
    let e = &card["escalation"];
    assert_eq!(e["phase"], "accepted", "{e}");
    assert_eq!(
        outcomes(e),
        vec![
            ("Иванов".into(), "busy".into(), Some(486)),
            ("Петров".into(), "accepted".into(), Some(200)),
        ]
    );
    assert_eq!(e["attempts"][0]["phone"], "account:101");
    assert_eq!(
        e["attempts"][1]["phone"], "+79160000002",
        "through the trunk"
    );
    let rec = e["attempts"][1]["recording"].as_str().expect("recording");
    assert!(
        z.dir.join("recordings").join(rec).is_file(),
        "the answered call was recorded at {rec}"
    );
    // It plays from the ticket (the console's <audio>): a stereo WAV with the robot's
    // message on the right channel; range requests work; the busy attempt has none.
    let (status, head, wav) = z.get_raw(
        &format!("/api/v1/tickets/{t1}/escalation/2/recording"),
        None,
    );
    assert_eq!(status, 200, "{head}");
    assert!(head.to_ascii_lowercase().contains("audio/wav"), "{head}");
    let spec = hound::WavReader::new(std::io::Cursor::new(&wav))
        .expect("a WAV")
        .spec();
    assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
    let samples: Vec<i16> = hound::WavReader::new(std::io::Cursor::new(&wav))
        .expect("a WAV")
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    let robot_peak = samples
        .iter()
        .skip(1)
        .step_by(2)
        .map(|s| s.unsigned_abs())
        .max();
    assert!(
        robot_peak > Some(1000),
        "the message was spoken: peak {robot_peak:?}"
    );
    let (status, _, part) = z.get_raw(
        &format!("/api/v1/tickets/{t1}/escalation/2/recording"),
        Some("bytes=0-99"),
    );
    assert_eq!((status, part.len()), (206, 100));
    let (status, _, _) = z.get_raw(
        &format!("/api/v1/tickets/{t1}/escalation/1/recording"),
        None,
    );
    assert_eq!(status, 404);
    // The robot's comments: who is called, each attempt, the acceptance.
    let texts: Vec<String> = card["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .map(|c| c["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Иванов") && t.contains("занято") && t.contains("SIP 486")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Петров") && t.contains("принял")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("Заявку принял(а) Петров")),
        "{texts:?}"
    );

    // 2. Acceptance in the console while the first phone rings.
    let ringing = start_uas(
        &z.dir,
        &uas_scenario(&z.dir, "ringing", &UasParty::RingsUntilCancel),
        port1,
        1,
    );
    let t2 = file_ticket(&z, building, "Затапливает квартиру");
    wait_dialled(&z, t2, 1);
    let (status, _, body) = common::http_request(
        z.http_port,
        "POST",
        &format!("/api/v1/tickets/{t2}/escalation/accept"),
        &disp_session,
        "",
    );
    assert_eq!(status, 200, "{body}");
    let (ok, out) = finish_uas(ringing);
    assert!(ok, "the ringing phone was cancelled:\n{out}");
    let card = wait_for(&z, &format!("/api/v1/tickets/{t2}"), 20, |v| {
        v["escalation"]["attempts"][0]["outcome"].is_object()
    });
    assert_eq!(card["ticket"]["executor_id"], disp, "{card}");
    assert_eq!(card["ticket"]["status"], "in_progress");
    let e = &card["escalation"];
    assert_eq!(e["phase"], "accepted");
    assert_eq!(e["state"]["via"], "console");
    assert_eq!(
        outcomes(e),
        vec![("Иванов".into(), "stopped".into(), Some(487))],
        "only the ringing call, stopped; nobody else called"
    );
    // A second acceptance: the escalation is over.
    let (status, _, _) = common::http_request(
        z.http_port,
        "POST",
        &format!("/api/v1/tickets/{t2}/escalation/accept"),
        &disp_session,
        "",
    );
    assert_eq!(status, 409);

    // 3. A restart while the first phone rings: the next person is called, not the first
    //    again. The second is a `sip:` URI (registrations live in memory, so a restarted
    //    zvonar would not know account 102 until the phone registers again).
    let port3 = free_port();
    let (status, body) = set_roster(&z, &auth, &roster(&format!("sip:102@127.0.0.1:{port3}")));
    assert_eq!(status, 200, "{body}");
    let mut lost = start_uas(
        &z.dir,
        &uas_scenario(&z.dir, "lost", &UasParty::RingsUntilCancel),
        port1,
        1,
    );
    let taker = start_uas(&z.dir, &uas_scenario(&z.dir, "taker2", &answers), port3, 1);
    let t3 = file_ticket(&z, building, "Нет света в подъезде и течёт вода");
    wait_dialled(&z, t3, 1);
    z.crash();
    z.restart();
    let card = wait_for(&z, &format!("/api/v1/tickets/{t3}"), 90, |v| {
        v["ticket"]["executor_id"].as_i64().is_some()
    });
    let (ok, out) = finish_uas(taker);
    assert!(
        ok,
        "the next person answered and pressed 1:\n{out}\n{}",
        z.log()
    );
    assert_eq!(card["ticket"]["executor_id"], petrov, "{card}");
    assert_eq!(
        outcomes(&card["escalation"])
            .into_iter()
            .map(|(n, o, _)| (n, o))
            .collect::<Vec<_>>(),
        vec![
            ("Иванов".into(), "interrupted".into()),
            ("Петров".into(), "accepted".into()),
        ]
    );
    // The first phone's call was cut off by the crash; it is not called again (the two
    // attempts above are all there were).
    let _ = lost.kill();
    let _ = lost.wait();
    let unanswered = z.get_json("/api/v1/duty/unanswered");
    assert_eq!(unanswered["tickets"], json!([]));

    // 4. Taken the usual way while the first phone rings: a dispatcher assigns the ticket;
    //    the ringing call is cancelled and nobody else is called. (The restarted registrar
    //    has no registrations: the phone registers again.)
    z.register_account("101", "secret-101", port1);
    let ringing = start_uas(
        &z.dir,
        &uas_scenario(&z.dir, "ringing4", &UasParty::RingsUntilCancel),
        port1,
        1,
    );
    let t4 = file_ticket(&z, building, "Течёт крыша над квартирой");
    wait_dialled(&z, t4, 1);
    let (status, body) = z.api(
        "POST",
        &format!("/api/v1/tickets/{t4}/assign"),
        &json!({ "executor_id": ivanov }).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let (ok, out) = finish_uas(ringing);
    assert!(ok, "the ringing phone was cancelled:\n{out}");
    let card = wait_for(&z, &format!("/api/v1/tickets/{t4}"), 20, |v| {
        v["escalation"]["phase"] == "stopped"
            && v["escalation"]["attempts"][0]["outcome"].is_object()
    });
    assert_eq!(
        outcomes(&card["escalation"]),
        vec![("Иванов".into(), "stopped".into(), Some(487))]
    );
    assert_eq!(card["ticket"]["executor_id"], ivanov);
}

/// A duty call-out answered at a queue agent's desk phone keeps that agent busy in the
/// queue while it lasts and for the wrap-up after (`OutboundLeg::agent_busy`): a queue must
/// not ring a phone whose owner is taking an emergency.
#[test]
fn a_duty_call_out_answered_at_an_agents_desk_phone_keeps_the_agent_busy() {
    let port = free_port();
    let z = start("duty-busy", 10, None);
    z.desk_phone_agent("anna", "пароль оператора 1", "101", "secret-101", port);
    let anna = user_id(&z, "anna");
    let roster = json!({"shifts": [
        {"days": [1,2,3,4,5,6,7], "start": "00:00", "end": "00:00", "order": 1,
         "user_id": anna, "name": "Анна", "phone": "account:101"},
    ]});
    let auth = [format!("Authorization: Bearer {}", z.token)];
    let (status, body) = set_roster(&z, &auth, &roster);
    assert_eq!(status, 200, "{body}");
    let state = || {
        let q = z.get_json("/api/v1/queue");
        q["agents"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["login"] == "anna"))
            .and_then(|a| a["state"].as_str())
            .map(str::to_string)
            .unwrap_or_default()
    };
    assert_eq!(state(), "available");

    // The desk phone answers, listens 2 s, presses 1 (accepts) and is hung up by zvonar.
    let answers = UasParty::AnswersThenPlays {
        delay_ms: 2000,
        pcap: common::root().join("tests/fixtures/pcap/dtmf_2833_1.pcap"),
    };
    let phone = start_uas(&z.dir, &uas_scenario(&z.dir, "anna", &answers), port, 1);
    let t = file_ticket(&z, first_building(&z), "Искрит щиток в подъезде");
    let mut seen: Vec<String> = Vec::new();
    let t0 = Instant::now();
    loop {
        let s = state();
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        let (_, v) = z.api("GET", &format!("/api/v1/tickets/{t}"), "");
        if v["ticket"]["executor_id"] == anna && s != "on_call" {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the call-out never ended accepted; states {seen:?}; ticket {v}\n{}",
            z.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, out) = finish_uas(phone);
    assert!(
        ok,
        "anna's phone answered, pressed 1 and was hung up:\n{out}"
    );
    assert_eq!(
        seen,
        ["available", "on_call", "wrap_up"],
        "anna was busy during the call-out, then in wrap-up (deploy/dialplan.toml: 30 s)"
    );
}

/// The console in headless Chromium: the journal's red alarm for a ticket nobody on duty
/// accepted (the electrician's phone is not registered: the call fails, one round, nobody
/// left), the card of a ticket whose escalation is ringing the plumber, «Принять заявку»
/// pressed by the dispatcher — the ringing call is cancelled, the ticket is theirs.
#[test]
fn the_console_shows_the_escalation_accepts_it_and_alarms_when_nobody_accepted() {
    let z = start("duty-console", 60, None);
    z.add_user("ivanov", "executor", "пароль сотрудника 1", &[]);
    z.add_user("disp", "dispatcher", "пароль диспетчера 2", &[]);
    cli(
        &z,
        &["sip-account", "add", "101", "--login", "ivanov"],
        "secret-101\n",
    );
    cli(
        &z,
        &["sip-account", "add", "109", "--login", "ivanov"],
        "secret-109\n",
    );
    let ivanov = user_id(&z, "ivanov");
    let port1 = free_port();
    z.register_account("101", "secret-101", port1);
    let auth = [format!("Authorization: Bearer {}", z.token)];
    for (department, phone) in [("Сантехники", "account:101"), ("Электрики", "account:109")]
    {
        let (status, _, body) = common::http_request(
            z.http_port,
            "PUT",
            &format!("/api/v1/duty/rosters/{department}"),
            &auth,
            &json!({"shifts": [{"days": [1,2,3,4,5,6,7], "start": "00:00", "end": "00:00",
                "user_id": ivanov, "name": "Иванов", "phone": phone}]})
            .to_string(),
        );
        assert_eq!(status, 200, "{body}");
    }
    let building = first_building(&z);
    // A gas ticket: its topic has no department here ([duty] topics, no default): nobody is
    // called and nothing is added to it. (Scans go in ticket order, so once the later
    // electricity ticket has its escalation, this one was seen.)
    let gas = file_ticket_on(&z, "gas", building, "Запах газа в подъезде");
    let nobody = file_ticket_on(&z, "electricity", building, "Искрит щиток в подъезде");
    let e = wait_for(
        &z,
        &format!("/api/v1/tickets/{nobody}/escalation"),
        30,
        |e| e["phase"] == "unanswered",
    );
    assert_eq!(
        outcomes(&e),
        vec![("Иванов".into(), "failed".into(), None)],
        "account 109 is not registered"
    );
    let (status, _) = z.api("GET", &format!("/api/v1/tickets/{gas}/escalation"), "");
    assert_eq!(status, 404);
    let card = z.get_json(&format!("/api/v1/tickets/{gas}"));
    assert_eq!(card["comments"], json!([]), "{card}");
    assert!(card["escalation"].is_null(), "{card}");
    let ringing = start_uas(
        &z.dir,
        &uas_scenario(&z.dir, "ringing", &UasParty::RingsUntilCancel),
        port1,
        1,
    );
    let calling = file_ticket(&z, building, "Прорвало трубу в подвале");
    wait_dialled(&z, calling, 1);
    let r = common::browser::run_script(
        &z,
        "duty.mjs",
        "duty-console",
        &[
            ("DISP", "disp"),
            ("DISP_PASSWORD", "пароль диспетчера 2"),
            ("TICKET", &calling.to_string()),
            ("UNANSWERED", &nobody.to_string()),
        ],
    );
    let (ok, out) = finish_uas(ringing);
    assert!(ok, "the ringing phone was cancelled:\n{out}");
    assert!(
        r["accepted"].as_str().unwrap_or("").contains("(в консоли)"),
        "{r}"
    );
    let card = z.get_json(&format!("/api/v1/tickets/{calling}"));
    assert_eq!(card["ticket"]["executor_id"], user_id(&z, "disp"), "{card}");
    assert_eq!(card["ticket"]["status"], "in_progress");
    let unanswered = z.get_json("/api/v1/duty/unanswered");
    assert_eq!(unanswered["tickets"], json!([nobody]));

    // «График дежурств»: a supervisor uploads the lift service's roster as CSV.
    z.add_user("boss", "supervisor", "пароль руководителя 3", &[]);
    let r = common::browser::run_script(
        &z,
        "duty_roster.mjs",
        "duty-roster",
        &[
            ("BOSS", "boss"),
            ("BOSS_PASSWORD", "пароль руководителя 3"),
            ("USER_ID", &ivanov.to_string()),
        ],
    );
    let rows: Vec<&str> = r["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows[0].contains("Иванов днём") && rows[0].contains("пн, вт, ср, чт, пт"),
        "{rows:?}"
    );
    assert!(
        rows[1].contains("Иванов ночью") && rows[1].contains("20:00–08:00 (до утра)"),
        "{rows:?}"
    );
    assert!(rows[2].contains("Главный (руководитель)"), "{rows:?}");
    let stored = z.get_json("/api/v1/duty/rosters/Лифтовая%20служба");
    assert_eq!(
        stored["shifts"].as_array().map(Vec::len),
        Some(2),
        "{stored}"
    );
    assert_eq!(stored["supervisor"]["phone"], "+79160000009");
}
