//! End to end, the interop trunks and phones expect: a late offer (INVITE without SDP,
//! offer in our 200, answer in the ACK; RFC 3264 §5, RFC 3261 §13.2.1), a re-INVITE that
//! moves the media, changes the codec and holds (RFC 3264 §8), and strict RTP: a stream
//! from anyone but the caller is not heard. SIPp is the caller; the audio is pure tones of
//! different frequencies so the recording tells whose audio it holds.

mod common;

use common::{free_port, sipp, speech_packets, write_pcap, Zvonar};
use serde_json::Value;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CALLEE: &str = "+74951234567";

/// `ms` milliseconds of a sine tone at `hz`, 8 kHz.
fn tone(hz: f64, ms: usize) -> Vec<i16> {
    (0..ms * 8)
        .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

/// Power of `hz` in `x` (Goertzel), normalised per sample.
fn power_at(x: &[i16], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (x.len().max(1) as f64).powi(2)
}

/// The SIP headers of a request in the dialog SIPp opened.
fn headers(caller: &str, cseq: u32, method: &str, to_tag: bool) -> String {
    format!(
        "      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      \
         From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n      \
         To: <sip:{CALLEE}@[remote_ip]:[remote_port]>{}\n      \
         Call-ID: [call_id]\n      CSeq: {cseq} {method}\n      \
         Contact: <sip:{caller}@[local_ip]:[local_port];transport=[transport]>\n      \
         Max-Forwards: 70\n",
        if to_tag { "[peer_tag_param]" } else { "" }
    )
}

/// An SDP body of the caller's: audio at `port` (a number or `[media_port]`), `fmts`.
fn caller_sdp(port: &str, fmts: &str, direction: &str, version: u32) -> String {
    format!(
        "      v=0\n      o=caller 53655765 {version} IN IP4 [local_ip]\n      s=-\n      \
         c=IN IP4 [media_ip]\n      t=0 0\n      m=audio {port} RTP/AVP {fmts}\n      \
         a=rtpmap:0 PCMU/8000\n      a=rtpmap:8 PCMA/8000\n      \
         a=rtpmap:101 telephone-event/8000\n      a={direction}\n"
    )
}

fn request(uri_user: &str, head: String, body: Option<String>) -> String {
    let (ct, body) = match body {
        Some(b) => ("      Content-Type: application/sdp\n", format!("\n{b}")),
        None => ("", String::new()),
    };
    let method = head
        .lines()
        .find_map(|l| l.trim().strip_prefix("CSeq: "))
        .and_then(|c| c.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_string();
    format!(
        "  <send retrans=\"500\">\n    <![CDATA[\n      {method} sip:{uri_user}@[remote_ip]:[remote_port] SIP/2.0\n\
         {head}{ct}      Content-Length: [len]\n{body}\n    ]]>\n  </send>\n"
    )
}

fn ack(caller: &str, cseq: u32, body: Option<String>) -> String {
    request(CALLEE, headers(caller, cseq, "ACK", true), body).replace(" retrans=\"500\"", "")
}

fn expect_200() -> String {
    "  <recv response=\"100\" optional=\"true\"/>\n  <recv response=\"180\" optional=\"true\"/>\n  \
     <recv response=\"200\"/>\n"
        .to_string()
}

fn play(pcap: &Path, ms: usize) -> String {
    format!(
        "  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  <pause milliseconds=\"{ms}\"/>\n",
        pcap.display()
    )
}

fn bye(caller: &str, cseq: u32) -> String {
    format!(
        "{}  <recv response=\"200\"/>\n",
        request(CALLEE, headers(caller, cseq, "BYE", true), None)
    )
}

fn scenario(z: &Zvonar, name: &str, body: &str) -> PathBuf {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"{name}\">\n{body}</scenario>\n"
    );
    let path = z.dir.join(format!("{name}.xml"));
    std::fs::write(&path, xml).expect("scenario");
    path
}

/// Runs one SIPp call over UDP, tracing its messages to `<name>.msg`; returns the trace.
fn run(z: &Zvonar, sc: &Path, name: &str, timeout_s: u64) -> String {
    let media_port = common::free_media_port().to_string();
    let sip_port = free_port().to_string();
    let trace = z.dir.join(format!("{name}.msg"));
    let trace_arg = trace.to_string_lossy().into_owned();
    let args = [
        "-m",
        "1",
        "-l",
        "1",
        "-t",
        "u1",
        "-p",
        &sip_port,
        "-mp",
        &media_port,
        "-trace_msg",
        "-message_file",
        &trace_arg,
    ];
    let (ok, out) = sipp(z, sc, &args, timeout_s);
    let msgs = std::fs::read_to_string(&trace).unwrap_or_default();
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- messages ---\n{msgs}\n--- zvonar log ---\n{}",
        z.log()
    );
    msgs
}

/// The one call from `caller` once it has ended, with its detail (CDR, timeline).
fn the_call(z: &Zvonar, caller: &str) -> Value {
    for _ in 0..100 {
        let calls = z.get_json("/api/v1/calls?limit=100");
        let found: Vec<&Value> = calls
            .as_array()
            .expect("calls")
            .iter()
            .filter(|c| {
                c["caller_raw"]
                    .as_str()
                    .is_some_and(|s| s.ends_with(caller))
            })
            .collect();
        if found.len() == 1 && !found[0]["ended_at"].is_null() {
            let id = found[0]["call_id"].as_str().expect("call id");
            let mut detail = z.get_json(&format!("/api/v1/calls/{id}"));
            detail["call_id"] = Value::String(id.to_string());
            return detail;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no ended call from {caller}\n{}", z.log());
}

/// (caller channel, zvonar channel) of the call's recording.
fn recording(z: &Zvonar, call: &Value) -> (Vec<i16>, Vec<i16>) {
    let id = call["call_id"].as_str().expect("call id");
    let (status, head, wav) = z.get_raw(&format!("/api/v1/calls/{id}/recording"), None);
    assert_eq!(status, 200, "{head}");
    let r = hound::WavReader::new(std::io::Cursor::new(wav)).expect("wav");
    assert_eq!((r.spec().channels, r.spec().sample_rate), (2, 8000));
    let s: Vec<i16> = r
        .into_samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    (
        s.chunks(2).map(|c| c[0]).collect(),
        s.chunks(2).map(|c| c[1]).collect(),
    )
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

fn tone_pcap(z: &Zvonar, name: &str, hz: f64, ms: usize) -> (PathBuf, usize) {
    let (mut seq, mut ts) = (1000u16, 16000u32);
    let packets = speech_packets(&tone(hz, ms), &mut seq, &mut ts);
    let p = z.dir.join(format!("{name}.pcap"));
    write_pcap(&p, &packets);
    (p, packets.len())
}

/// An INVITE without SDP (as trunks and PBXs send): zvonar offers in its 200, SIPp answers
/// PCMA in the ACK and speaks; the robot answers and the call is recorded with both sides.
#[test]
fn late_offer_call_reaches_the_robot_and_is_recorded() {
    let z = Zvonar::start("late-offer");
    let caller = "84957770031";
    let (pcap, n) = tone_pcap(&z, "late-440", 440.0, 2000);
    let body = [
        request(CALLEE, headers(caller, 1, "INVITE", false), None),
        expect_200(),
        ack(
            caller,
            1,
            Some(caller_sdp("[media_port]", "8 101", "sendrecv", 1)),
        ),
        "  <pause milliseconds=\"500\"/>\n".to_string(),
        play(&pcap, n * 20 + 3000),
        bye(caller, 2),
    ]
    .concat();
    let sc = scenario(&z, "late-offer", &body);
    let msgs = run(&z, &sc, "late-offer", 60);
    // Our offer: PCMA, PCMU and telephone-event (RFC 3264 §5).
    assert!(
        msgs.contains("m=audio") && msgs.contains("RTP/AVP 8 0 101"),
        "{msgs}"
    );

    let call = the_call(&z, caller);
    assert_eq!(call["cdr"]["disposition"], "answered", "{call}");
    assert_eq!(call["cdr"]["hangup_cause"], "caller_bye", "{call}");
    let said = call["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .any(|e| e["kind"] == "robot_said");
    assert!(said, "the robot did not speak: {call}");
    let (caller_ch, zvonar_ch) = recording(&z, &call);
    // The caller's tone is decoded into the caller channel…
    let p440 = power_at(&caller_ch, 440.0);
    assert!(
        p440 > 1000.0,
        "caller tone missing (440 Hz power {p440}, rms {})\n{}",
        rms(&caller_ch),
        z.log()
    );
    // …and the robot's greeting went out.
    assert!(rms(&zvonar_ch) > 200.0, "robot channel silent");
}

/// The ACK brings no answer to our offer: zvonar hangs up (BYE) with a cause that says so.
#[test]
fn late_offer_without_an_answer_in_the_ack_is_hung_up() {
    let z = Zvonar::start("late-offer-noanswer");
    let caller = "84957770032";
    let body = [
        request(CALLEE, headers(caller, 1, "INVITE", false), None),
        expect_200(),
        ack(caller, 1, None),
        "  <recv request=\"BYE\" timeout=\"10000\"/>\n".to_string(),
        "  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      \
         [last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n    ]]>\n  </send>\n"
            .to_string(),
    ]
    .concat();
    let sc = scenario(&z, "late-offer-noanswer", &body);
    run(&z, &sc, "late-offer-noanswer", 30);
    let call = the_call(&z, caller);
    assert_eq!(call["cdr"]["hangup_cause"], "no_answer_in_ack", "{call}");
    assert_eq!(call["cdr"]["disposition"], "failed", "{call}");
}

/// Collects the RTP packets arriving at a UDP socket: (arrival, payload type, SSRC).
struct Sink {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(Instant, u8, u32)>>,
}

impl Sink {
    fn start() -> Sink {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("sink");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let port = sock.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, _)) = sock.recv_from(&mut buf) {
                    if n >= 12 && buf[0] >> 6 == 2 {
                        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                        got.push((Instant::now(), buf[1] & 0x7f, ssrc));
                    }
                }
            }
            got
        });
        Sink { port, stop, thread }
    }

    fn finish(self) -> Vec<(Instant, u8, u32)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sink thread")
    }
}

/// The `o=` lines zvonar sent, in order, without retransmission repeats.
fn our_origins(msgs: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for l in msgs.lines().map(str::trim) {
        let Some(rest) = l.strip_prefix("o=- ") else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let o = (f[0].to_string(), f[1].parse().expect("version"));
        if out.last() != Some(&o) {
            out.push(o);
        }
    }
    out
}

/// A re-INVITE moves the caller's media to another port and switches PCMA → PCMU: zvonar's
/// RTP follows to the new port in the new codec; hold (sendonly) stops it, resume brings it
/// back; every answer keeps one `o=` session id with the version going up by one per change.
#[test]
fn reinvite_moves_media_changes_codec_holds_and_resumes() {
    let z = Zvonar::start("reinvite-move");
    let caller = "84957770033";
    let sink = Sink::start();
    let new_port = sink.port.to_string();
    let body = [
        request(
            CALLEE,
            headers(caller, 1, "INVITE", false),
            Some(caller_sdp("[media_port]", "8 101", "sendrecv", 1)),
        ),
        expect_200(),
        ack(caller, 1, None),
        "  <pause milliseconds=\"1500\"/>\n".to_string(),
        // Move to the sink's port, PCMU only.
        request(
            CALLEE,
            headers(caller, 2, "INVITE", true),
            Some(caller_sdp(&new_port, "0 101", "sendrecv", 2)),
        ),
        expect_200(),
        ack(caller, 2, None),
        "  <pause milliseconds=\"1500\"/>\n".to_string(),
        // Hold.
        request(
            CALLEE,
            headers(caller, 3, "INVITE", true),
            Some(caller_sdp(&new_port, "0 101", "sendonly", 3)),
        ),
        expect_200(),
        ack(caller, 3, None),
        "  <pause milliseconds=\"2000\"/>\n".to_string(),
        // Resume.
        request(
            CALLEE,
            headers(caller, 4, "INVITE", true),
            Some(caller_sdp(&new_port, "0 101", "sendrecv", 4)),
        ),
        expect_200(),
        ack(caller, 4, None),
        "  <pause milliseconds=\"1500\"/>\n".to_string(),
        bye(caller, 5),
    ]
    .concat();
    let sc = scenario(&z, "reinvite-move", &body);
    let msgs = run(&z, &sc, "reinvite-move", 60);
    let got = sink.finish();

    // RTP reached the new port, in PCMU (PT 0), as one stream (one SSRC).
    assert!(
        got.len() > 100,
        "only {} packets at the new port\n{}",
        got.len(),
        z.log()
    );
    assert!(
        got.iter().all(|p| p.1 == 0),
        "payload types {:?}",
        got.iter()
            .map(|p| p.1)
            .collect::<std::collections::BTreeSet<_>>()
    );
    assert!(got.iter().all(|p| p.2 == got[0].2), "SSRC changed");
    // Hold: a gap of about the hold's length, then packets again (resume).
    let (gap_at, gap) = got
        .windows(2)
        .map(|w| (w[1].0, w[1].0 - w[0].0))
        .max_by_key(|g| g.1)
        .expect("packets");
    assert!(
        gap > Duration::from_millis(1200),
        "no hold gap: largest {gap:?}"
    );
    let after = got.iter().filter(|p| p.0 >= gap_at).count();
    assert!(after > 40, "only {after} packets after resume");

    // RFC 3264 §8: one session id for every SDP of the call, version +1 per change.
    let origins = our_origins(&msgs);
    assert_eq!(origins.len(), 4, "{origins:?}\n{msgs}");
    assert!(origins.iter().all(|o| o.0 == origins[0].0), "{origins:?}");
    let v0 = origins[0].1;
    assert_eq!(
        origins.iter().map(|o| o.1 - v0).collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "{origins:?}"
    );
    let call = the_call(&z, caller);
    assert_eq!(call["cdr"]["hangup_cause"], "caller_bye", "{call}");
}

/// Strict RTP: a stream from another local port hits zvonar's RTP port before the caller's
/// and keeps going during it. The recording's caller channel holds the caller (440 Hz),
/// never the hijacker (1500 Hz).
#[test]
fn rtp_from_a_hijacker_is_not_heard() {
    let z = Zvonar::start("hijack");
    let caller = "84957770034";
    let (pcap, n) = tone_pcap(&z, "caller-440", 440.0, 3000);
    let port_file = z.dir.join("zvonar-rtp-port");
    let body = [
        request(
            CALLEE,
            headers(caller, 1, "INVITE", false),
            Some(caller_sdp("[media_port]", "8 101", "sendrecv", 1)),
        ),
        "  <recv response=\"100\" optional=\"true\"/>\n  <recv response=\"180\" optional=\"true\"/>\n"
            .to_string(),
        format!(
            "  <recv response=\"200\">\n    <action>\n      \
             <ereg regexp=\"m=audio ([0-9]+)\" search_in=\"body\" check_it=\"true\" assign_to=\"m,port\"/>\n      \
             <exec command=\"echo [$m] [$port] > {}\"/>\n    </action>\n  </recv>\n",
            port_file.display()
        ),
        ack(caller, 1, None),
        // The hijacker starts while the caller is still silent.
        "  <pause milliseconds=\"1000\"/>\n".to_string(),
        play(&pcap, n * 20 + 500),
        bye(caller, 2),
    ]
    .concat();
    let sc = scenario(&z, "hijack", &body);
    let stop = Arc::new(AtomicBool::new(false));
    let hijacker = {
        let stop = stop.clone();
        let port_file = port_file.clone();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let port: u16 = loop {
                if let Some(p) = std::fs::read_to_string(&port_file)
                    .ok()
                    .and_then(|s| s.split_whitespace().last()?.parse().ok())
                {
                    break p;
                }
                if stop.load(Ordering::Relaxed) || t0.elapsed() > Duration::from_secs(30) {
                    return 0;
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            let sock = UdpSocket::bind("127.0.0.1:0").expect("hijacker socket");
            let (mut seq, mut ts) = (7000u16, 99_000u32);
            let packets = speech_packets(&tone(1500.0, 20_000), &mut seq, &mut ts);
            let mut sent = 0;
            let start = Instant::now();
            for (i, p) in packets.iter().enumerate() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _ = sock.send_to(p, ("127.0.0.1", port));
                sent += 1;
                let next = start + Duration::from_millis(20 * (i as u64 + 1));
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            sent
        })
    };
    run(&z, &sc, "hijack", 60);
    stop.store(true, Ordering::Relaxed);
    let sent = hijacker.join().expect("hijacker");
    assert!(sent > 100, "the hijacker sent only {sent} packets");

    let call = the_call(&z, caller);
    let (caller_ch, _) = recording(&z, &call);
    let (p440, p1500) = (power_at(&caller_ch, 440.0), power_at(&caller_ch, 1500.0));
    assert!(
        p440 > 1000.0 && p1500 * 100.0 < p440,
        "caller channel: 440 Hz (caller) {p440}, 1500 Hz (hijacker) {p1500}\n{}",
        z.log()
    );
    // The drops are counted for the admin's monitor.
    let (status, _, metrics) = z.get_raw("/metrics", None);
    assert_eq!(status, 200);
    let metrics = String::from_utf8_lossy(&metrics);
    let dropped: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("zvonar_rtp_foreign_packets_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no drop counter in\n{metrics}"));
    assert!(dropped > 50.0, "only {dropped} hijack packets counted");
}

/// Strict RTP keeps symmetric RTP for callers behind NAT: the SDP shows a LAN address that
/// cannot reach us, the caller's media comes from its signalling IP; it is heard.
#[test]
fn natted_caller_with_a_private_sdp_address_is_heard() {
    let z = Zvonar::start("nat");
    let caller = "84957770035";
    let (pcap, n) = tone_pcap(&z, "nat-440", 440.0, 2000);
    let lan_sdp = caller_sdp("[media_port]", "8 101", "sendrecv", 1)
        .replace("c=IN IP4 [media_ip]", "c=IN IP4 192.168.77.20");
    let body = [
        request(CALLEE, headers(caller, 1, "INVITE", false), Some(lan_sdp)),
        expect_200(),
        ack(caller, 1, None),
        "  <pause milliseconds=\"500\"/>\n".to_string(),
        play(&pcap, n * 20 + 1000),
        bye(caller, 2),
    ]
    .concat();
    let sc = scenario(&z, "nat", &body);
    run(&z, &sc, "nat", 60);
    let call = the_call(&z, caller);
    let (caller_ch, _) = recording(&z, &call);
    let p440 = power_at(&caller_ch, 440.0);
    assert!(
        p440 > 1000.0,
        "NATed caller not heard (440 Hz power {p440})\n{}",
        z.log()
    );
}

/// An offer that maps PCMA to a dynamic payload type (RFC 3264 §6.1 keeps the offerer's
/// number): zvonar's RTP carries that number, not the static 8.
#[test]
fn dynamic_payload_type_of_the_offer_is_sent() {
    let z = Zvonar::start("dynamic-pt");
    let caller = "84957770036";
    let sink = Sink::start();
    let offer = format!(
        "      v=0\n      o=caller 1 1 IN IP4 [local_ip]\n      s=-\n      c=IN IP4 127.0.0.1\n      \
         t=0 0\n      m=audio {} RTP/AVP 96 101\n      a=rtpmap:96 PCMA/8000\n      \
         a=rtpmap:101 telephone-event/8000\n",
        sink.port
    );
    let body = [
        request(CALLEE, headers(caller, 1, "INVITE", false), Some(offer)),
        expect_200(),
        ack(caller, 1, None),
        "  <pause milliseconds=\"1500\"/>\n".to_string(),
        bye(caller, 2),
    ]
    .concat();
    let sc = scenario(&z, "dynamic-pt", &body);
    let msgs = run(&z, &sc, "dynamic-pt", 60);
    let got = sink.finish();
    assert!(msgs.contains("a=rtpmap:96 PCMA/8000"), "answer: {msgs}");
    assert!(got.len() > 40, "only {} packets", got.len());
    let pts: std::collections::BTreeSet<u8> = got.iter().map(|p| p.1).collect();
    assert_eq!(pts, [96].into(), "payload types sent");
}
