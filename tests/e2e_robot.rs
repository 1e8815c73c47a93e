//! End to end, the keypad: SIPp types a three-digit apartment one key at a time, as phones
//! send keys — RFC 4733 telephone-events in the RTP stream, and SIP INFO
//! (application/dtmf-relay) — and the ticket filed for the call carries that apartment.
//!
//! The unknown-caller path: the robot asks for the building (key 1 picks the first of the
//! example registry, проспект Мира 101, which has apartments 104 and 112), then for the
//! apartment, then for the problem (key 1: topic 1, «протечка»).

mod common;

use common::{run_sipp, write_scenario, Step, Zvonar};
use serde_json::Value;

/// One SIPp call from `caller` to the dispatcher number; zvonar must hang up by itself.
fn call(z: &Zvonar, name: &str, caller: &str, steps: &[Step]) {
    let sc = write_scenario(&z.dir, name, caller, "+74951234567", steps, 60_000);
    let (ok, out) = run_sipp(z, &sc, "u1", 120);
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );
}

/// The ticket filed on the (single) call from `caller`.
fn ticket_of(z: &Zvonar, caller: &str) -> Value {
    let calls = z.get_json("/api/v1/calls?limit=100");
    let call_id = calls
        .as_array()
        .expect("calls")
        .iter()
        .find(|c| {
            c["caller_raw"]
                .as_str()
                .is_some_and(|s| s.ends_with(caller))
        })
        .and_then(|c| c["call_id"].as_str())
        .unwrap_or_else(|| panic!("no call from {caller}: {calls}"))
        .to_string();
    let tickets = z.get_json("/api/v1/tickets?limit=100");
    tickets
        .as_array()
        .expect("tickets")
        .iter()
        .find(|t| t["call_id"] == call_id.as_str())
        .unwrap_or_else(|| panic!("no ticket for {caller}: {tickets}\n{}", z.log()))
        .clone()
}

/// The ticket is for `apartment` of проспект Мира 101, found in the registry.
fn assert_found_in_mira(ticket: &Value, apartment: &str, z: &Zvonar) {
    assert_eq!(ticket["apartment"], apartment, "{ticket}\n{}", z.log());
    assert!(ticket["premises_id"].is_number(), "{ticket}");
    assert!(ticket["account_id"].is_number(), "{ticket}");
    assert_eq!(ticket["topic"], "leak", "{ticket}");
}

#[test]
fn three_digit_apartment_by_rfc4733_and_by_sip_info() {
    let z = Zvonar::start("robot-keys");

    // RFC 4733: «1» (building), «1», «0», «4», «#» (apartment), «1» (problem topic).
    let steps = [
        Step::Pause(2000),
        Step::Keys("1"),
        Step::Pause(2500),
        Step::Keys("104#"),
        Step::Pause(2500),
        Step::Keys("1"),
    ];
    call(&z, "rfc4733", "84957770104", &steps);
    let t = ticket_of(&z, "4957770104");
    assert_found_in_mira(&t, "104", &z);

    // SIP INFO, one request per key; no `#`: the pause after the third key ends the entry.
    let steps = [
        Step::Pause(2000),
        Step::Info('1'),
        Step::Pause(2500),
        Step::Info('1'),
        Step::Pause(300),
        Step::Info('1'),
        Step::Pause(300),
        Step::Info('2'),
        // inter_digit_ms (3000) and the lookup, then the problem question.
        Step::Pause(5500),
        Step::Info('1'),
    ];
    call(&z, "info", "84957770112", &steps);
    let t = ticket_of(&z, "4957770112");
    assert_found_in_mira(&t, "112", &z);
}

/// A Russian recording installed by Debian's asterisk-core-sounds-ru-wav, found through
/// the package's file list (its folder differs between releases).
fn asterisk_ru_sound(name: &str) -> Vec<i16> {
    let out = std::process::Command::new("dpkg")
        .args(["-L", "asterisk-core-sounds-ru-wav"])
        .output()
        .expect("dpkg");
    let list = String::from_utf8_lossy(&out.stdout);
    let path = list
        .lines()
        .find(|l| l.ends_with(&format!("/{name}.wav")))
        .unwrap_or_else(|| panic!("{name}.wav: apt install asterisk-core-sounds-ru-wav"));
    common::read_wav_8k(std::path::Path::new(path))
}

/// The dialplan's `max_utterance_ms` cuts a long utterance: the caller speaks for 4.9 s
/// while the limit is 1.5 s; every piece that reaches the recogniser is at most 1.5 s long
/// (the VAD ended it there) and is recognised.
#[test]
fn max_utterance_ms_cuts_a_long_utterance() {
    let example = std::fs::read_to_string(common::root().join("deploy/dialplan.toml"))
        .expect("example dialplan");
    let dialplan = example.replace("max_utterance_ms = 15000", "max_utterance_ms = 1500");
    assert_ne!(
        dialplan, example,
        "the example sets max_utterance_ms = 15000"
    );
    let z = Zvonar::start_with(
        "robot-max-utterance",
        common::Options {
            dialplan: Some(dialplan),
            ..common::Options::default()
        },
    );
    // «Извините, …» — 4.9 s of continuous speech.
    let speech = asterisk_ru_sound("unidentified-no-callback");
    assert!(speech.len() > 8000 * 4, "the sample is longer than 4 s");
    let steps = [
        Step::Pause(1500),
        Step::Keys("1"), // the address is right
        Step::Pause(1500),
        Step::Keys("2"), // not about the outage
        Step::Pause(3500),
        // Then the robot files what it understood, or asks again and ends the call on
        // silence: either way it hangs up by itself.
        Step::Say(speech),
    ];
    call(&z, "max-utterance", "+79161234567", &steps);
    let calls = z.get_json("/api/v1/calls?limit=10");
    let call_id = calls[0]["call_id"].as_str().expect("call id");
    let detail = z.get_json(&format!("/api/v1/calls/{call_id}"));
    let heard: Vec<u64> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "recognised")
        .filter_map(|e| e["payload"]["audio_ms"].as_u64())
        .collect();
    assert!(!heard.is_empty(), "{detail}\n{}", z.log());
    assert!(heard.iter().all(|ms| *ms <= 1500), "{heard:?}\n{detail}");
}
