//! End to end: SIPp calls a running zvonar on loopback and plays human Russian speech
//! (asterisk-core-sounds-ru-wav, tests/fixtures/audio_ru) and RFC 4733 keys; the
//! results are checked through the HTTP API: ticket, premises, recording, CDR, timeline.

mod common;

use common::{
    digits_wav, known_caller_steps, problem_speech, run_sipp, write_scenario, Step, Zvonar,
};
use serde_json::Value;
use std::path::PathBuf;

/// The calls from `caller` once all of them have ended (the CDR's end is written by the
/// event subscriber just after the last SIP message, so poll briefly).
fn calls_from(z: &Zvonar, caller: &str) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..100 {
        let calls = z.get_json("/api/v1/calls?limit=100");
        found = calls
            .as_array()
            .expect("calls list")
            .iter()
            .filter(|c| {
                c["caller_raw"]
                    .as_str()
                    .is_some_and(|s| s.ends_with(caller))
            })
            .cloned()
            .collect();
        if !found.is_empty() && found.iter().all(|c| !c["ended_at"].is_null()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    found
}

fn timeline_kinds(call: &Value) -> Vec<String> {
    call["timeline"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Left (caller) channel RMS over the whole recording, and its length in samples.
fn caller_channel_rms(z: &Zvonar, call_id: &str) -> (f64, usize) {
    let (status, head, wav) = z.get_raw(&format!("/api/v1/calls/{call_id}/recording"), None);
    assert_eq!(status, 200, "{head}");
    let r = hound::WavReader::new(std::io::Cursor::new(wav)).expect("wav");
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    let samples: Vec<i16> = r
        .into_samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    let left: Vec<f64> = samples.chunks(2).map(|c| f64::from(c[0])).collect();
    let rms = (left.iter().map(|x| x * x).sum::<f64>() / left.len().max(1) as f64).sqrt();
    (rms, left.len())
}

/// One SIPp call to the dispatcher number performing `steps`, which must end with
/// zvonar's BYE within `bye_timeout_ms` of the last step.
fn call(
    z: &Zvonar,
    name: &str,
    caller: &str,
    steps: &[Step],
    bye_timeout_ms: u64,
    transport: &str,
) {
    let sc = write_scenario(&z.dir, name, caller, "+74951234567", steps, bye_timeout_ms);
    let (ok, out) = run_sipp(z, &sc, transport, bye_timeout_ms / 1000 + 60);
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );
}

fn call_detail(z: &Zvonar, call_id: &str) -> Value {
    z.get_json(&format!("/api/v1/calls/{call_id}"))
}

#[test]
fn known_caller_confirms_address_by_keypad_and_files_a_ticket() {
    let z = Zvonar::start("known");
    // +7 916 123-45-67 is registered for ул. Ленина 5, кв. 12, where hot water is off.
    let steps = known_caller_steps();
    call(&z, "known", "+79161234567", &steps, 60_000, "u1");

    let calls = calls_from(&z, "9161234567");
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call_id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let call = call_detail(&z, &call_id);
    let kinds = timeline_kinds(&call);
    assert!(
        kinds.iter().any(|k| k == "outage_announced"),
        "{kinds:?}\n{}",
        z.log()
    );
    assert!(kinds.iter().any(|k| k == "recognised"), "{kinds:?}");
    assert_eq!(call["cdr"]["disposition"], "answered");

    let tickets = z.get_json("/api/v1/tickets?limit=10");
    let ticket = tickets
        .as_array()
        .and_then(|t| t.iter().find(|t| t["call_id"] == call_id.as_str()))
        .unwrap_or_else(|| panic!("no ticket for the call: {tickets}\n{}", z.log()))
        .clone();
    assert_eq!(ticket["apartment"], "12", "{ticket}");
    assert!(ticket["premises_id"].is_number(), "{ticket}");
    assert_eq!(ticket["unfinished"], false);
    let description = ticket["description"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        description.contains("45") || description.contains("минут"),
        "{description}"
    );

    let (rms, len) = caller_channel_rms(&z, &call_id);
    assert!(len > 8000 * 8, "recording too short: {len} samples");
    assert!(
        rms > 200.0,
        "caller audio missing on the left channel (rms {rms})"
    );

    // A browser seeks with range requests (RFC 9110 §14).
    let (status, head, part) = z.get_raw(
        &format!("/api/v1/calls/{call_id}/recording"),
        Some("bytes=44-1043"),
    );
    assert_eq!(status, 206, "{head}");
    assert_eq!(part.len(), 1000);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-range: bytes 44-1043/"),
        "{head}"
    );

    // The ticket detail carries the call's timeline: what was said and heard.
    let detail = z.get_json(&format!("/api/v1/tickets/{}", ticket["id"]));
    let heard: Vec<&Value> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "recognised")
        .collect();
    assert!(
        !heard.is_empty() && heard[0]["payload"]["confidence"].is_number(),
        "{detail}"
    );

    let (status, _, metrics) = z.get_raw("/metrics", None);
    assert_eq!(status, 200);
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("zvonar_calls_total{disposition=\"answered\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("zvonar_asr_latency_seconds_count"),
        "{metrics}"
    );
}

/// SIPp gives up while zvonar is still ringing: CANCEL → 200 + 487 (RFC 3261 §9.2).
#[test]
fn caller_who_hangs_up_while_ringing_leaves_a_missed_call() {
    let z = Zvonar::start("missed");
    let sc = z.dir.join("cancel.xml");
    std::fs::write(&sc, CANCEL_SCENARIO).expect("scenario");
    let (ok, out) = run_sipp(&z, &sc, "u1", 30);
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );
    let calls = calls_from(&z, "4957770002");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["disposition"], "missed", "{}", calls[0]);
    assert!(calls[0]["recording"].is_null());
    assert!(calls[0]["answered_at"].is_null());
}

const CANCEL_SCENARIO: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="cancel">
  <send retrans="500">
    <![CDATA[
      INVITE sip:+74951234567@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:84957770002@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:+74951234567@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:84957770002@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP4 [local_ip]
      s=-
      c=IN IP4 [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <send>
    <![CDATA[
      CANCEL sip:+74951234567@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:84957770002@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:+74951234567@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
  <recv response="487"/>
  <send>
    <![CDATA[
      ACK sip:+74951234567@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:84957770002@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
</scenario>
"#;

#[test]
fn unknown_caller_says_the_apartment_number() {
    // No read-back for an apartment in the registry (`confirm_below = 0`): the paths with a
    // read-back are in tests/e2e_numflow.rs.
    let example = std::fs::read_to_string(common::root().join("deploy/dialplan.toml"))
        .expect("example dialplan");
    let dialplan = example.replace("confirm_below = 0.6", "confirm_below = 0.0");
    assert_ne!(dialplan, example, "the example sets confirm_below = 0.6");
    let z = Zvonar::start_with(
        "unknown",
        common::Options {
            dialplan: Some(dialplan),
            ..common::Options::default()
        },
    );
    // Unknown number: the robot asks for the building (keypad menu: 1 — проспект Мира 101),
    // then for the apartment, which the caller says aloud: «шестнадцать».
    let mut apartment = vec![0i16; 1600];
    apartment.extend(digits_wav("16"));
    let steps = [
        Step::Pause(2500),
        Step::Keys("1"),
        Step::Pause(3500),
        Step::Say(apartment),
        Step::Pause(5000),
        Step::Say(problem_speech()),
    ];
    call(&z, "unknown", "84957770000", &steps, 60_000, "t1");

    let calls = calls_from(&z, "4957770000");
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call_id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let tickets = z.get_json("/api/v1/tickets?limit=10");
    let ticket = tickets
        .as_array()
        .and_then(|t| t.iter().find(|t| t["call_id"] == call_id.as_str()))
        .unwrap_or_else(|| panic!("no ticket: {tickets}\n{}", z.log()))
        .clone();
    assert_eq!(ticket["apartment"], "16", "{ticket}\n{}", z.log());
    assert!(ticket["premises_id"].is_number(), "{ticket}");
    assert_eq!(calls[0]["transport"], "tcp");
}

#[test]
fn caller_who_says_yes_to_the_outage_gets_a_linked_ticket() {
    let z = Zvonar::start("outage");
    let steps = [
        Step::Pause(1500),
        Step::Keys("1"),
        Step::Pause(1500),
        Step::Keys("1"),
    ];
    call(&z, "outage", "+79161234567", &steps, 60_000, "u1");
    let tickets = z.get_json("/api/v1/tickets?limit=10");
    let t = &tickets.as_array().expect("tickets")[0];
    assert!(t["outage_id"].is_number(), "{t}");
    assert_eq!(t["topic"], "outage");
}

#[test]
fn silent_caller_gets_no_ticket() {
    let z = Zvonar::start("silent");
    call(&z, "silent", "84957770001", &[], 90_000, "u1");
    let calls = calls_from(&z, "4957770001");
    assert_eq!(calls.len(), 1);
    let call = call_detail(&z, calls[0]["call_id"].as_str().expect("id"));
    assert!(call["cdr"]["ticket_id"].is_null(), "{call}");
    let tickets = z.get_json("/api/v1/tickets?limit=10");
    assert_eq!(tickets.as_array().map(Vec::len), Some(0), "{tickets}");
    let kinds = timeline_kinds(&call);
    assert!(!kinds.iter().any(|k| k == "recognised"), "{kinds:?}");
}

/// A crash in the middle of a call (SIGKILL right after the ticket is filed, while the robot
/// is still talking) leaves the ticket in the database and a readable recording on disk.
#[test]
fn crash_mid_call_leaves_ticket_and_recording() {
    let mut z = Zvonar::start("crash");
    let steps = known_caller_steps();
    let sc = write_scenario(
        &z.dir,
        "crash",
        "+79161234567",
        "+74951234567",
        &steps,
        20_000,
    );
    let sipp = {
        let sc = sc.clone();
        let port = z.sip_port;
        let dir = z.dir.clone();
        std::thread::spawn(move || {
            std::process::Command::new("sipp")
                .arg(format!("127.0.0.1:{port}"))
                .args([
                    "-sf",
                    &sc.to_string_lossy(),
                    "-m",
                    "1",
                    "-i",
                    "127.0.0.1",
                    "-mi",
                    "127.0.0.1",
                ])
                .args(["-timeout", "40s", "-nostdin"])
                .current_dir(dir)
                .output()
        })
    };
    let mut ticket = None;
    for _ in 0..400 {
        let t = z.get_json("/api/v1/tickets?limit=10");
        if let Some(first) = t.as_array().and_then(|a| a.first()) {
            ticket = Some(first.clone());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let ticket = ticket.unwrap_or_else(|| panic!("no ticket was filed\n{}", z.log()));
    z.crash();
    let call_id = ticket["call_id"].as_str().expect("call id").to_string();

    // The recording is readable although the process never finalised it.
    let wav = find_file(&z.dir.join("recordings"), &format!("{call_id}.wav"))
        .unwrap_or_else(|| panic!("no recording for {call_id}"));
    let r = hound::WavReader::open(&wav).expect("a crashed recording still opens");
    assert_eq!(r.spec().channels, 2);
    assert!(
        r.duration() > 8000 * 5,
        "only {} samples survived",
        r.duration()
    );

    z.restart();
    let again = z.get_json(&format!("/api/v1/tickets/{}", ticket["id"]));
    assert_eq!(again["ticket"]["number"], ticket["number"], "{again}");
    let _ = sipp.join();
}

fn find_file(dir: &std::path::Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

/// Keys by SIP INFO (application/dtmf-relay) and a hold/resume re-INVITE in the middle of
/// the conversation: both answered, and the call goes on to a ticket.
#[test]
fn keys_by_sip_info_and_a_reinvite_during_the_call() {
    let z = Zvonar::start("info");
    let steps = [
        Step::Pause(1500),
        Step::Info('1'),
        Step::ReInvite("sendonly"),
        Step::ReInvite("sendrecv"),
        Step::Pause(1000),
        Step::Info('2'),
        Step::Pause(3500),
        Step::Say(problem_speech()),
    ];
    call(&z, "info", "+79161234567", &steps, 60_000, "u1");
    let calls = calls_from(&z, "9161234567");
    let call = call_detail(&z, calls[0]["call_id"].as_str().expect("id"));
    let digits: Vec<&Value> = call["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "digits")
        .collect();
    assert_eq!(digits.len(), 2, "{call}");
    assert!(
        digits.iter().all(|d| d["payload"]["via"] == "info"),
        "{call}"
    );
    assert!(call["cdr"]["ticket_id"].is_number(), "{call}");
}
