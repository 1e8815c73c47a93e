//! End to end, the robot when recognition is slow or full (issue 6, «fast under load»):
//! SIPp callers speak a problem description (human speech, tests/fixtures/audio_ru) to a
//! real `zvonar serve` whose recogniser is made slow for real — Whisper's full 30 s encoder
//! window on one thread (`[asr] audio_ctx = "full"`, `threads = 1`), no test double.
//!
//! - A caller who waits for recognition hears the filler («Секунду…») once, then the answer.
//! - When the recogniser's queue is full (`[asr] max_queue = 1`, two callers), the second
//!   caller is told to use the keys and files the request from the keypad menu.

mod common;

use common::{known_caller_steps, run_sipp, write_scenario, Options, Step, Zvonar};
use serde_json::Value;

/// The example dialplan with `filler_after_ms` changed to `ms`.
fn dialplan_with_filler_after(ms: u32) -> String {
    let example = std::fs::read_to_string(common::root().join("deploy/dialplan.toml"))
        .expect("example dialplan");
    let dialplan = example.replace("filler_after_ms = 1500", &format!("filler_after_ms = {ms}"));
    assert_ne!(dialplan, example, "the example sets filler_after_ms = 1500");
    dialplan
}

/// A slow recogniser: the full 30 s window on one thread costs seconds per utterance
/// whatever its length.
const SLOW_ASR: &str = "audio_ctx = \"full\"\nthreads = 1\n";

/// The calls so far, once all have ended.
fn ended_calls(z: &Zvonar, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let calls = z.get_json("/api/v1/calls?limit=100");
        let list = calls.as_array().cloned().unwrap_or_default();
        if list.len() >= n && list.iter().all(|c| !c["ended_at"].is_null()) {
            return list;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{n} calls did not end\n{}", z.log());
}

fn timeline(z: &Zvonar, call_id: &str) -> Vec<Value> {
    z.get_json(&format!("/api/v1/calls/{call_id}"))["timeline"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn ticket_of(z: &Zvonar, call_id: &str) -> Value {
    let tickets = z.get_json("/api/v1/tickets?limit=100");
    tickets
        .as_array()
        .and_then(|t| t.iter().find(|t| t["call_id"] == call_id))
        .cloned()
        .unwrap_or_else(|| panic!("no ticket for {call_id}: {tickets}\n{}", z.log()))
}

fn said(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "robot_said")
        .filter_map(|e| e["payload"]["text"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_caller_waiting_for_recognition_hears_the_filler_once() {
    // The filler after 700 ms: the VAD hands the utterance over 500 ms after the caller
    // stopped, so any decode longer than 200 ms needs it (the full window takes seconds).
    let z = Zvonar::start_with(
        "asrload-filler",
        Options {
            dialplan: Some(dialplan_with_filler_after(700)),
            asr: SLOW_ASR.into(),
            ..Options::default()
        },
    );
    let sc = write_scenario(
        &z.dir,
        "filler",
        "+79161234567",
        "+74951234567",
        &known_caller_steps(),
        180_000,
    );
    let (ok, out) = run_sipp(&z, &sc, "u1", 300);
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );
    let calls = ended_calls(&z, 1);
    let call_id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let events = timeline(&z, &call_id);
    let texts = said(&events);
    let fillers = texts.iter().filter(|t| t.as_str() == "Секунду…").count();
    assert_eq!(fillers, 1, "{texts:?}\n{}", z.log());
    // Said while the description was being recognised: before its result.
    let at = |pred: &dyn Fn(&Value) -> bool| events.iter().position(pred);
    let filler_at = at(&|e| e["kind"] == "robot_said" && e["payload"]["text"] == "Секунду…");
    let heard_at = at(&|e| e["kind"] == "recognised");
    assert!(
        filler_at.is_some() && heard_at.is_some() && filler_at < heard_at,
        "{events:#?}"
    );
    let recognised = &events[heard_at.expect("recognised")]["payload"];
    assert!(
        recognised["asr_ms"].as_u64().unwrap_or(0) > 200,
        "{recognised}"
    );
    // The request is filed with what was said, once.
    let ticket = ticket_of(&z, &call_id);
    let description = ticket["description"].as_str().unwrap_or_default();
    assert!(description.contains("45"), "{ticket}");
    assert!(
        zvonar_voice::asr::repetition::find_loops(description).is_empty(),
        "{description}"
    );
    assert!(
        z.log().contains("filler started"),
        "the filler was played\n{}",
        z.log()
    );
}

#[test]
fn a_full_recogniser_sends_the_caller_to_the_keypad() {
    let z = Zvonar::start_with(
        "asrload-full",
        Options {
            asr: format!("{SLOW_ASR}max_queue = 1\n"),
            ..Options::default()
        },
    );
    // Caller A describes the problem; caller B does the same 800 ms later, while A's
    // utterance takes the recogniser's only place, then presses 1 (topic 1 of the menu).
    let a = known_caller_steps();
    let mut b = known_caller_steps();
    let speech = b.pop().expect("the description");
    b.extend([Step::Pause(800), speech, Step::Pause(3000), Step::Keys("1")]);
    let sc_a = write_scenario(
        &z.dir,
        "full-a",
        "+79161234567",
        "+74951234567",
        &a,
        180_000,
    );
    let sc_b = write_scenario(
        &z.dir,
        "full-b",
        "+79161234567",
        "+74951234567",
        &b,
        180_000,
    );
    let (ok_a, ok_b) = std::thread::scope(|s| {
        let a = s.spawn(|| run_sipp(&z, &sc_a, "u1", 300));
        let b = s.spawn(|| run_sipp(&z, &sc_b, "u1", 300));
        (a.join().expect("sipp a"), b.join().expect("sipp b"))
    });
    assert!(ok_a.0, "call A failed:\n{}\n{}", ok_a.1, z.log());
    assert!(ok_b.0, "call B failed:\n{}\n{}", ok_b.1, z.log());
    let calls = ended_calls(&z, 2);
    assert_eq!(calls.len(), 2, "{calls:?}");
    let mut refused = Vec::new();
    let mut heard = Vec::new();
    for c in &calls {
        let id = c["call_id"].as_str().expect("call id").to_string();
        let events = timeline(&z, &id);
        let overloaded = events
            .iter()
            .any(|e| e["kind"] == "speech_rejected" && e["payload"]["reason"] == "asr_overloaded");
        if overloaded {
            refused.push((id, events));
        } else {
            heard.push((id, events));
        }
    }
    assert_eq!(
        refused.len(),
        1,
        "one caller found the queue full\n{}",
        z.log()
    );
    let (b_id, b_events) = &refused[0];
    let b_said = said(b_events);
    assert!(
        b_said
            .iter()
            .any(|t| t.contains("отвечайте кнопками телефона")),
        "{b_said:?}"
    );
    assert!(
        b_said.iter().any(|t| t.contains("Выберите тему заявки")),
        "{b_said:?}"
    );
    let b_ticket = ticket_of(&z, b_id);
    assert_eq!(b_ticket["topic"], "leak", "{b_ticket}");
    assert_eq!(b_ticket["unfinished"], false, "{b_ticket}");
    // A was recognised and filed by voice, as always.
    let (a_id, a_events) = &heard[0];
    assert!(
        a_events.iter().any(|e| e["kind"] == "recognised"),
        "{a_events:#?}"
    );
    let a_ticket = ticket_of(&z, a_id);
    assert!(
        a_ticket["description"]
            .as_str()
            .unwrap_or_default()
            .contains("45"),
        "{a_ticket}"
    );
}
