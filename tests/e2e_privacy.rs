//! End to end, personal data: a spoofed caller ID from an untrusted source reads nothing
//! from the registry and files nothing on the resident's account; a call's log never shows
//! the caller's number.

mod common;

use common::{run_sipp, write_scenario, Options, Step, Zvonar};
use serde_json::Value;

/// The resident of ул. Ленина 5, кв. 12 (registered in deploy/example/registry.csv).
const RESIDENT: &str = "+79161234567";

/// The calls whose raw caller ends with `tail`, once all of them have ended.
fn calls_from(z: &Zvonar, tail: &str) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..100 {
        let calls = z.get_json("/api/v1/calls?limit=100");
        found = calls
            .as_array()
            .expect("calls list")
            .iter()
            .filter(|c| c["caller_raw"].as_str().is_some_and(|s| s.ends_with(tail)))
            .cloned()
            .collect();
        if !found.is_empty() && found.iter().all(|c| !c["ended_at"].is_null()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    found
}

fn ticket_of(z: &Zvonar, call_id: &str) -> Value {
    let tickets = z.get_json("/api/v1/tickets?limit=50");
    tickets
        .as_array()
        .and_then(|t| t.iter().find(|t| t["call_id"] == call_id))
        .unwrap_or_else(|| panic!("no ticket for {call_id}: {tickets}\n{}", z.log()))
        .clone()
}

/// What the robot said during the call, in order.
fn robot_said(call: &Value) -> Vec<String> {
    call["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "robot_said")
        .filter_map(|e| e["payload"]["text"].as_str().map(str::to_string))
        .collect()
}

fn call(z: &Zvonar, name: &str, caller: &str, steps: &[Step], extra_header: Option<&str>) {
    let sc = write_scenario(&z.dir, name, caller, "+74951234567", steps, 60_000);
    if let Some(h) = extra_header {
        // Into the INVITE only (the first Max-Forwards followed by the SDP's Content-Type).
        let xml = std::fs::read_to_string(&sc).expect("scenario");
        let xml = xml.replacen(
            "Max-Forwards: 70\n      Content-Type: application/sdp",
            &format!("Max-Forwards: 70\n      {h}\n      Content-Type: application/sdp"),
            1,
        );
        assert!(xml.contains(h), "header not inserted");
        std::fs::write(&sc, xml).expect("scenario");
    }
    let (ok, out) = run_sipp(z, &sc, "u1", 120);
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );
}

#[test]
fn spoofed_caller_id_from_an_untrusted_source_reads_nothing_back() {
    // Only 10.0.0.0/8 (the trunk) is trusted; SIPp calls from 127.0.0.1 with the
    // resident's number in From and in a P-Asserted-Identity it wrote itself.
    let z = Zvonar::start_with(
        "privacy-spoof",
        Options {
            trusted: vec!["10.0.0.0/8"],
            ..Options::default()
        },
    );
    // The robot must ask for the address: building 1 (проспект Мира 101), apartment 5
    // (not in the registry), then topic 1 from the keypad menu.
    let steps = [
        Step::Pause(2500),
        Step::Keys("1"),
        Step::Pause(3000),
        Step::Keys("5#"),
        Step::Pause(4000),
        Step::Keys("1"),
    ];
    call(
        &z,
        "spoof",
        RESIDENT,
        &steps,
        Some(&format!("P-Asserted-Identity: <sip:{RESIDENT}@127.0.0.1>")),
    );
    let calls = calls_from(&z, "9161234567");
    assert_eq!(calls.len(), 1, "{calls:?}");
    // The CDR keeps what the caller wrote, but nothing verified.
    assert_eq!(calls[0]["caller_raw"], RESIDENT, "{}", calls[0]);
    assert!(calls[0]["caller"].is_null(), "{}", calls[0]);
    let call_id = calls[0]["call_id"].as_str().expect("id").to_string();
    let detail = z.get_json(&format!("/api/v1/calls/{call_id}"));
    let said = robot_said(&detail);
    assert!(!said.is_empty(), "{detail}");
    for text in &said {
        assert!(
            !text.contains("по адресу") && !text.contains("Ленина, дом 5, квартира"),
            "the robot read the registry to an unverified caller: {text}\n{said:#?}"
        );
    }
    let identified: Vec<&Value> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "identified")
        .collect();
    assert!(
        identified
            .iter()
            .all(|e| e["payload"]["how"] != "caller_id"),
        "{identified:?}"
    );
    let ticket = ticket_of(&z, &call_id);
    assert!(ticket["account_id"].is_null(), "{ticket}");
    assert!(ticket["caller"].is_null(), "{ticket}");
    assert!(ticket["premises_id"].is_null(), "{ticket}");
    assert!(z.log().contains("caller ID unverified"), "{}", z.log());
}

#[test]
fn trusted_trunk_asserted_identity_finds_the_resident() {
    // The trunk (127.0.0.1 here) sends an anonymous From and the real number in
    // P-Asserted-Identity: the robot offers the registered address.
    let z = Zvonar::start("privacy-pai");
    let steps = [
        Step::Pause(1500),
        Step::Keys("1"), // «Вы звоните по адресу …?» — yes
        Step::Pause(1500),
        Step::Keys("1"), // «… по поводу отключения?» — yes: a linked ticket
    ];
    call(
        &z,
        "pai",
        "anonymous",
        &steps,
        Some(&format!("P-Asserted-Identity: <sip:{RESIDENT}@10.0.0.1>")),
    );
    let calls = calls_from(&z, RESIDENT);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["caller"], RESIDENT, "{}", calls[0]);
    let call_id = calls[0]["call_id"].as_str().expect("id").to_string();
    let detail = z.get_json(&format!("/api/v1/calls/{call_id}"));
    let said = robot_said(&detail);
    assert!(
        said.iter()
            .any(|t| t.contains("Ленина, дом 5, квартира 12")),
        "{said:#?}"
    );
    let ticket = ticket_of(&z, &call_id);
    assert!(ticket["account_id"].is_number(), "{ticket}");
    assert_eq!(ticket["caller"], RESIDENT, "{ticket}");
}

#[test]
fn call_logs_never_show_the_callers_number() {
    // Everything of ours at debug level (rsipstack prints whole SIP messages at debug
    // and info; the default filter keeps it at warn).
    let z = Zvonar::start_with(
        "privacy-log",
        Options {
            log_filter: "debug,rsipstack=warn,whisper_rs=warn,ort=warn,hyper=info,h2=info",
            ..Options::default()
        },
    );
    let steps = [
        Step::Pause(1500),
        Step::Keys("1"), // confirm the address
        Step::Pause(1500),
        Step::Keys("2"), // not about the outage
        Step::Pause(3500),
        Step::Keys("1"), // topic 1
    ];
    call(&z, "log", "89161234567", &steps, None);
    let calls = calls_from(&z, "9161234567");
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call_id = calls[0]["call_id"].as_str().expect("id").to_string();
    // The call really used the number: the ticket is on the resident's account.
    let ticket = ticket_of(&z, &call_id);
    assert!(ticket["account_id"].is_number(), "{ticket}");
    let log = z.log();
    assert!(
        log.contains(&call_id),
        "the call is in the log at all:\n{log}"
    );
    for form in [
        "9161234567",
        "916 123",
        "916) 123",
        "123-45-67",
        "123 45 67",
    ] {
        assert!(!log.contains(form), "{form} in the log:\n{log}");
    }
    // Nor with any other separators: no line has the ten significant digits in a row once
    // spaces and punctuation are dropped.
    for line in log.lines() {
        let squeezed: String = line
            .chars()
            .filter(|c| !matches!(c, ' ' | '(' | ')' | '-' | '.' | '\u{a0}'))
            .collect();
        assert!(!squeezed.contains("9161234567"), "{line}");
    }
    // Nor the address read to the caller.
    assert!(!log.contains("квартира 12"), "{log}");
}
