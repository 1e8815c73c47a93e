//! End to end, the console's softphone in Firefox (issue 7: «current Chromium and Firefox»):
//! Debian's firefox-esr, driven by puppeteer-core over WebDriver BiDi
//! (tests/browser/firefox.mjs), logs in as an operator and takes a queued call from a SIPp
//! caller: JsSIP over WebSocket, WebRTC media terminated in zvonar (ICE-lite, DTLS-SRTP,
//! G.711), a key, hold and resume, the operator's hang-up. Firefox's fake microphone is a
//! tone; the caller's speech is checked in the page's WebRTC stats, the operator's tone at the
//! caller (tcpdump) and both in the recording.
//!
//! zvonar runs in a network namespace ([`common::netns`]) as for the Chromium tests. The page
//! is plain http there, so the script lets it have the microphone by Firefox's preferences
//! (an https page in production). Screenshots: `target/browser-artifacts/e2e_firefox/`.

mod common;

use common::browser::LiveScript;
use common::netns::{Netns, NsZvonar};
use common::{problem_speech, rtp_of_pcap, write_scenario, Step};
use serde_json::Value;
use std::time::Duration;
use zvonar_voice::codec::Codec;

#[test]
fn an_operator_takes_a_queued_call_in_firefox() {
    if let Err(why) = common::netns::possible() {
        eprintln!("SKIPPED: network namespaces cannot be made here ({why}); needs root");
        return;
    }
    let firefox = std::env::var("FIREFOX").unwrap_or_else(|_| "/usr/bin/firefox-esr".into());
    assert!(
        std::path::Path::new(&firefox).is_file(),
        "{firefox} is missing: run deploy/install-deps.sh (Debian's firefox-esr)"
    );
    let ns = Netns::create("ff");
    let host = ns.host_ip;
    let z = NsZvonar::start_with(
        &ns,
        "firefox",
        Some(common::browser::QUEUE_DIALPLAN),
        &format!("trusted = [\"{host}/32\"]"),
        "[sip.registrar]\nrealm = \"e2e.zvonar\"\n",
    );
    z.cli(
        &["user", "add", "--login", "anna", "--role", "operator"],
        "пароль оператора 1\n",
    );
    z.cli(
        &["sip-account", "add", "101", "--login", "anna"],
        "desk-phone-secret-101\n",
    );
    let caller_media_port = common::free_media_port();
    let tcpdump = common::Capture::start(
        &format!("{}h", ns.name),
        &format!("udp and dst host {host} and dst port {caller_media_port}"),
        &z.dir.join("caller-rx.pcap"),
    );
    let mut browser = LiveScript::start(
        "firefox.mjs",
        "e2e_firefox",
        &format!("http://{}", z.http),
        &[],
        &[
            ("ZVONAR_LOGIN", "anna"),
            ("ZVONAR_PASSWORD", "пароль оператора 1"),
            ("FIREFOX", &firefox),
        ],
    );
    if let Err(e) = browser.wait_line("READY", Duration::from_secs(120)) {
        panic!("Firefox never took calls: {e}\nzvonar log:\n{}", z.log());
    }
    let speech: Vec<i16> = std::iter::repeat_n(problem_speech(), 17)
        .flatten()
        .collect();
    let scenario = write_scenario(
        &z.dir,
        "firefox-caller",
        "+79035550202",
        "+74951234567",
        &[Step::SayMeanwhile(speech)],
        110_000,
    );
    let caller = common::caller_command(
        &z.dir,
        &scenario,
        &format!("{}:5060", ns.ns_ip),
        &host.to_string(),
        caller_media_port,
        150,
    )
    .spawn()
    .expect("sipp");
    let result = browser.result(Duration::from_secs(150));
    let out = caller.wait_with_output().expect("sipp");
    let sipp = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let r = result.unwrap_or_else(|e| panic!("{e}\nSIPp:\n{sipp}\nzvonar log:\n{}", z.log()));
    assert!(
        out.status.success(),
        "the caller got zvonar's BYE when the operator hung up:\n{sipp}"
    );
    assert!(
        r["userAgent"]
            .as_str()
            .is_some_and(|u| u.contains("Firefox")),
        "{r}"
    );
    assert!(
        r["card"].as_str().is_some_and(|c| c.contains("Ленина")),
        "the caller's card rang in Firefox: {r}"
    );
    assert!(
        r["inbound"]["packetsReceived"].as_u64().unwrap_or(0) >= 150
            && r["afterResume"]["packetsReceived"].as_u64().unwrap_or(0)
                >= r["inbound"]["packetsReceived"].as_u64().unwrap_or(0) + 100,
        "the caller's audio reached Firefox, and again after hold and resume: {r}"
    );
    assert!(
        r["outbound"]["packetsSent"].as_u64().unwrap_or(0) >= 250,
        "{r}"
    );
    for shot in ["ringing.png", "in_call.png"] {
        assert!(browser.artifacts.join(shot).is_file(), "screenshot {shot}");
    }
    // The call in zvonar: answered by anna, ended by her, recorded with both sides.
    let calls: Value = {
        let (status, body) = z.get("/api/v1/calls?limit=1").expect("GET");
        assert_eq!(status, 200);
        serde_json::from_slice(&body).expect("json")
    };
    let id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let detail = (0..200)
        .find_map(|_| {
            let (_, body) = z.get(&format!("/api/v1/calls/{id}")).ok()?;
            let d: Value = serde_json::from_slice(&body).ok()?;
            if d["cdr"]["recording"].is_null() || d["cdr"]["hangup_cause"].is_null() {
                std::thread::sleep(Duration::from_millis(100));
                return None;
            }
            Some(d)
        })
        .unwrap_or_else(|| panic!("the CDR of {id}\n{}", z.log()));
    assert_eq!(detail["cdr"]["hangup_cause"], "party_bye", "{detail}");
    // The queue record is written when the runtime hears of the end: poll it.
    let mut q = Value::Null;
    for _ in 0..150 {
        let (_, body) = z.get(&format!("/api/v1/queue/calls/{id}")).expect("GET");
        q = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if q["state"] == "ended" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        (q["agent"].as_str(), q["state"].as_str()),
        (Some("anna"), Some("ended")),
        "{q}"
    );
    let rec = detail["cdr"]["recording"].as_str().expect("recording");
    let mut w = hound::WavReader::open(z.dir.join("recordings").join(rec)).expect("wav");
    let s: Vec<i16> = w.samples::<i16>().map(|s| s.expect("sample")).collect();
    let (left, right): (Vec<i16>, Vec<i16>) = s.chunks(2).map(|c| (c[0], c[1])).unzip();
    let (caller_rms, operator_rms) = (
        common::loudest_window(&left),
        common::loudest_window(&right),
    );
    assert!(
        caller_rms > 300.0 && operator_rms > 300.0,
        "both sides in the recording: caller rms {caller_rms:.0}, operator rms {operator_rms:.0}"
    );
    // At the caller: the operator's tone (PCMA) and the key as an RFC 4733 event.
    let rx = rtp_of_pcap(&tcpdump.finish());
    let heard: Vec<i16> = rx
        .iter()
        .filter(|(_, pt, _)| *pt == 8)
        .flat_map(|(_, _, p)| Codec::Pcma.decode(p))
        .collect();
    let heard_rms = common::loudest_window(&heard);
    assert!(
        heard_rms > 300.0,
        "the caller hears the operator in Firefox: rms {heard_rms:.0}"
    );
    assert!(
        rx.iter()
            .any(|(_, pt, p)| *pt == 101 && p.first() == Some(&5)),
        "the key 5 pressed in Firefox reached the caller as a telephone-event"
    );
    eprintln!(
        "firefox e2e: {}; page inbound {} packets; recording rms caller {caller_rms:.0} operator \
         {operator_rms:.0}; caller heard rms {heard_rms:.0}",
        r["userAgent"], r["inbound"]["packetsReceived"]
    );
}
