//! End to end, the apartment as a number slot: a caller (SIPp over loopback) picks проспект
//! Мира 101 of the example registry by key 1 (its apartments: 4, 8, 9, 16, 23, 31, 104, 112),
//! says the apartment in a person's voice (Asterisk's human-recorded Russian digits), and the
//! robot reads it back («Квартира шестнадцать, верно? …»). The dialplan is the shipped one with
//! `confirm_below = 1.0`, so every spoken apartment is read back whatever the recogniser's
//! confidence: the paths are the same on every run.
//!
//! Each path a caller can take at the read-back: confirms (voice «один» = key 1), or denies
//! (key 2) and types the apartment; and a typed apartment the building does not have is read
//! back too (a typed one it has is not). The ticket carries the right apartment and the
//! call's timeline the `slot_filled` events.

mod common;

use common::{digits_wav, run_sipp, write_scenario, Options, Step, Zvonar};
use serde_json::Value;

/// Time given to the robot after the caller's speech: the end of speech, recognition (up to
/// 12 s seen on a 2-core machine busy with builds) and the next prompt starting, ms.
const RECOGNISED_MS: u64 = 20_000;

/// The shipped dialplan, reading back every spoken apartment.
fn zvonar(name: &str) -> Zvonar {
    let example = std::fs::read_to_string(common::root().join("deploy/dialplan.toml"))
        .expect("example dialplan");
    // No «Вас не слышно» re-asks while the caller waits out RECOGNISED_MS.
    let dialplan = example
        .replace("confirm_below = 0.6", "confirm_below = 1.0")
        .replace("no_input_ms = 6000", "no_input_ms = 40000");
    assert!(
        dialplan.contains("confirm_below = 1.0") && dialplan.contains("no_input_ms = 40000"),
        "the example sets confirm_below = 0.6 and no_input_ms = 6000"
    );
    Zvonar::start_with(
        name,
        Options {
            dialplan: Some(dialplan),
            ..Options::default()
        },
    )
}

/// A person saying the number words `parts` (Asterisk's `digits/<part>.wav`) one after the
/// other, with 0.2 s of silence before.
fn spoken(parts: &[&str]) -> Vec<i16> {
    let mut out = vec![0i16; 1600];
    for p in parts {
        out.extend(digits_wav(p));
    }
    out
}

/// One SIPp call; zvonar must hang up by itself.
fn call(z: &Zvonar, name: &str, caller: &str, steps: &[Step]) {
    let sc = write_scenario(&z.dir, name, caller, "+74951234567", steps, 60_000);
    let (ok, out) = run_sipp(z, &sc, "u1", 180);
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );
}

/// The call from `caller` with its timeline, and the ticket filed on it.
fn call_and_ticket(z: &Zvonar, caller: &str) -> (Value, Value) {
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
    let detail = z.get_json(&format!("/api/v1/calls/{call_id}"));
    let tickets = z.get_json("/api/v1/tickets?limit=100");
    let ticket = tickets
        .as_array()
        .expect("tickets")
        .iter()
        .find(|t| t["call_id"] == call_id.as_str())
        .unwrap_or_else(|| panic!("no ticket for {caller}: {tickets}\n{detail}\n{}", z.log()))
        .clone();
    (detail, ticket)
}

/// The payloads of the timeline's `slot_filled` events for `slot`.
fn slots(detail: &Value, slot: &str) -> Vec<Value> {
    detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "slot_filled" && e["payload"]["slot"] == slot)
        .map(|e| e["payload"].clone())
        .collect()
}

fn said(detail: &Value) -> Vec<String> {
    detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "robot_said")
        .filter_map(|e| e["payload"]["text"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn apartment_said_and_confirmed() {
    let z = zvonar("numflow-confirmed");
    let steps = [
        Step::Pause(2500),
        Step::Keys("1"), // проспект Мира 101
        Step::Pause(3500),
        Step::Say(spoken(&["16"])), // «шестнадцать»
        // End of speech, recognition (seconds on a busy machine), the read-back («Квартира
        // шестнадцать, верно?…»).
        Step::Pause(RECOGNISED_MS),
        Step::Say(spoken(&["1"])), // «один» — yes, as the prompt offers
        Step::Pause(RECOGNISED_MS),
        Step::Keys("1"), // topic 1 of the problem menu-key: протечка
    ];
    call(&z, "confirmed", "84957771116", &steps);
    let (detail, ticket) = call_and_ticket(&z, "4957771116");
    let log = z.log();
    assert_eq!(ticket["apartment"], "16", "{ticket}\n{detail}\n{log}");
    assert!(ticket["premises_id"].is_number(), "{ticket}");
    assert!(
        said(&detail)
            .iter()
            .any(|t| t.starts_with("Квартира шестнадцать, верно?")),
        "{detail}"
    );
    let apartment = slots(&detail, "apartment");
    assert_eq!(apartment.len(), 1, "{detail}");
    let a = &apartment[0];
    assert_eq!(
        (&a["value"], &a["source"], &a["confirmed"]),
        (
            &Value::from("16"),
            &Value::from("voice"),
            &Value::from(true)
        ),
        "{a}"
    );
    let confidence = a["confidence"]
        .as_f64()
        .expect("a spoken value has a confidence");
    assert!((0.0..=1.0).contains(&confidence), "{a}");
    let building = slots(&detail, "building");
    assert_eq!(building.len(), 1, "{detail}");
    assert_eq!(
        (&building[0]["value"], &building[0]["source"]),
        (&Value::from("проспект Мира, дом 101"), &Value::from("keys")),
        "{detail}"
    );
    assert!(building[0]["confidence"].is_null());
}

/// The count of the `/metrics` series `zvonar_asr_early_total{outcome="<outcome>"}`.
fn early(z: &Zvonar, outcome: &str) -> u64 {
    let (status, _, body) = z.get_raw("/metrics", None);
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body).to_string();
    let series = format!("zvonar_asr_early_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map_or(0, |v| v.trim().parse().expect("counter value"))
}

/// Early recognition (`[asr] early_ms`, 300 ms by default) with a caller who pauses in the
/// middle of the number: «сто … двенадцать» with 400 ms of silence between the words
/// (longer than `early_ms`, shorter than the VAD's 700 ms end of utterance). What the robot
/// started recognising at the pause («сто») is dropped when the caller goes on, and the
/// apartment is the whole answer, 112 (an apartment of проспект Мира 101; 100 is not). The
/// «один» that confirms it is answered from its early recognition.
#[test]
fn apartment_said_with_a_pause_is_heard_whole() {
    let z = zvonar("numflow-pause");
    let mut answer = spoken(&["hundred"]); // «сто»
    answer.extend(vec![0i16; 8 * 400]);
    answer.extend(spoken(&["12"]).split_off(1600));
    let steps = [
        Step::Pause(2500),
        Step::Keys("1"), // проспект Мира 101
        Step::Pause(3500),
        Step::Say(answer), // «сто … двенадцать»
        Step::Pause(RECOGNISED_MS),
        Step::Say(spoken(&["1"])), // «один» — yes
        Step::Pause(RECOGNISED_MS),
        Step::Keys("1"), // протечка
    ];
    call(&z, "pause", "84957771112", &steps);
    let (detail, ticket) = call_and_ticket(&z, "4957771112");
    assert_eq!(
        ticket["apartment"],
        "112",
        "{ticket}\n{detail}\n{}",
        z.log()
    );
    assert!(
        said(&detail)
            .iter()
            .any(|t| t.starts_with("Квартира сто двенадцать, верно?")),
        "{detail}"
    );
    assert!(
        early(&z, "discarded") >= 1,
        "the pause after «сто» started one"
    );
    assert!(early(&z, "used") >= 1, "«один» was recognised early");
}

#[test]
fn apartment_said_denied_then_keyed() {
    let z = zvonar("numflow-denied");
    let steps = [
        Step::Pause(2500),
        Step::Keys("1"), // проспект Мира 101
        Step::Pause(3500),
        Step::Say(spoken(&["16"])), // «шестнадцать»
        Step::Pause(RECOGNISED_MS),
        Step::Keys("2"), // «нет»: asked again
        Step::Pause(1500),
        Step::Keys("23#"), // typed: in the registry, taken without a read-back
        Step::Pause(4000),
        Step::Keys("1"), // problem topic 1
    ];
    call(&z, "denied", "84957771123", &steps);
    let (detail, ticket) = call_and_ticket(&z, "4957771123");
    let log = z.log();
    assert_eq!(ticket["apartment"], "23", "{ticket}\n{detail}\n{log}");
    assert!(ticket["premises_id"].is_number(), "{ticket}");
    let read_backs: Vec<String> = said(&detail)
        .into_iter()
        .filter(|t| t.contains("верно?"))
        .collect();
    assert!(
        read_backs
            .iter()
            .all(|t| t.starts_with("Квартира шестнадцать, верно?")),
        "only the spoken 16 is read back, not the keyed 23: {read_backs:?}\n{detail}"
    );
    assert!(!read_backs.is_empty(), "{detail}");
    // The denied value is not a filled slot; the keyed one is, unconfirmed.
    let apartment = slots(&detail, "apartment");
    assert_eq!(apartment.len(), 1, "{detail}");
    let a = &apartment[0];
    assert_eq!(
        (&a["value"], &a["source"], &a["confirmed"]),
        (
            &Value::from("23"),
            &Value::from("keys"),
            &Value::from(false)
        ),
        "{a}"
    );
    assert!(a["confidence"].is_null(), "{a}");
}

#[test]
fn apartment_keyed_not_in_the_registry_is_read_back_and_confirmed_by_key() {
    let z = zvonar("numflow-keyed");
    let steps = [
        Step::Pause(2500),
        Step::Keys("1"), // проспект Мира 101
        Step::Pause(2500),
        Step::Keys("777#"), // no such apartment in the building
        Step::Pause(2500),
        Step::Keys("1"), // «Квартира семьсот семьдесят семь, верно?» — yes
        Step::Pause(2500),
        Step::Keys("1"), // problem topic 1
    ];
    call(&z, "keyed", "84957771777", &steps);
    let (detail, ticket) = call_and_ticket(&z, "4957771777");
    assert_eq!(
        ticket["apartment"],
        "777",
        "{ticket}\n{detail}\n{}",
        z.log()
    );
    assert!(ticket["premises_id"].is_null(), "{ticket}");
    let said = said(&detail);
    assert!(
        said.iter()
            .any(|t| t == "Квартиры номер семьсот семьдесят семь нет в списке этого дома.")
            && said
                .iter()
                .any(|t| t.starts_with("Квартира семьсот семьдесят семь, верно?")),
        "{said:?}"
    );
    let apartment = slots(&detail, "apartment");
    assert_eq!(apartment.len(), 1, "{detail}");
    let a = &apartment[0];
    assert_eq!(
        (&a["value"], &a["source"], &a["confirmed"]),
        (
            &Value::from("777"),
            &Value::from("keys"),
            &Value::from(true)
        ),
        "{a}"
    );
}
