//! End to end, outbound campaigns (автообзвон): a campaign created and started over the API
//! calls three SIPp UAS parties on loopback — one answers, listens and presses 1 (RFC 4733),
//! one is busy (486) and is retried once, one never answers (CANCEL on the ring timeout) —
//! with 2 channels for 3 recipients. Checked from the API: statuses, attempts with outcome
//! and SIP code, «listened to the end», the totals, the channel limit (no more than 2 calls
//! overlap in the stored attempt times), the recording of the answered call, the CSV export,
//! a clear 400 for bad input; a restart in mid-call: the call in flight becomes `interrupted`
//! and nobody is called twice; key 9 opts the phone out of the next campaign, key 2 leaves a
//! callback request in `/api/v1/callbacks`; recipients from the registry's selection; pause
//! holds new calls (the one in progress finishes), resume goes on, cancel skips the rest.
//! (Who may use the routes: web/tests/campaigns_api.rs.)

mod common;

use common::{free_port, open_zone, Zvonar};
use serde_json::{json, Value};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Minimal HTTP/1.1 request with a JSON body: (status, body).
fn http(z: &Zvonar, method: &str, path: &str, token: &str, body: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", z.http_port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut buf).expect("read");
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let body = &buf[split + 4..];
    (status, serde_json::from_slice(body).unwrap_or(Value::Null))
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x5a5a_0001u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The listener's media: `silence_ms` of PCMU silence (PT 0), then the RFC 4733 key `key`
/// (PT 101, 100 ms, the end packet three times), then 1 s more silence.
fn key_pcap(path: &Path, silence_ms: u32, key: u8) {
    let (mut seq, mut ts) = (100u16, 8000u32);
    let mut packets = Vec::new();
    let silence = zvonar_voice::codec::Codec::Pcmu.encode(&[0i16; 160]);
    let push_silence = |packets: &mut Vec<Vec<u8>>, seq: &mut u16, ts: &mut u32, ms: u32| {
        for _ in 0..ms / 20 {
            packets.push(rtp(0, false, *seq, *ts, &silence));
            *seq = seq.wrapping_add(1);
            *ts = ts.wrapping_add(160);
        }
    };
    push_silence(&mut packets, &mut seq, &mut ts, silence_ms);
    let start = ts;
    for i in 0..5u16 {
        let end = i == 4;
        let dur = (i + 1) * 160;
        let payload = [
            key,
            if end { 0x80 | 10 } else { 10 },
            (dur >> 8) as u8,
            dur as u8,
        ];
        for _ in 0..if end { 3 } else { 1 } {
            packets.push(rtp(101, i == 0, seq, start, &payload));
            seq = seq.wrapping_add(1);
        }
    }
    ts = ts.wrapping_add(800);
    push_silence(&mut packets, &mut seq, &mut ts, 1000);
    common::write_pcap(path, &packets);
}

enum Party {
    /// Answers PCMU, plays the pcap, waits for our BYE.
    Answer(PathBuf),
    /// 486 Busy Here.
    Busy,
    /// Rings until CANCELled.
    NeverAnswers,
}

const RESPONSE_HEADERS: &str = "      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Contact: <sip:[local_ip]:[local_port];transport=[transport]>\n";

fn scenario(dir: &Path, name: &str, party: &Party) -> PathBuf {
    let ringing = format!(
        "  <send>\n    <![CDATA[\n      SIP/2.0 180 Ringing\n{RESPONSE_HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n"
    );
    let invite = "  <recv request=\"INVITE\">\n    <action>\n      \
        <ereg regexp=\"([0-9]+) INVITE\" search_in=\"hdr\" header=\"CSeq:\" assign_to=\"cs,csn\"/>\n    </action>\n  </recv>\n";
    let body = match party {
        Party::Answer(pcap) => format!(
            "{ringing}  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{RESPONSE_HEADERS}      Content-Type: application/sdp\n      Content-Length: [len]\n\n      \
             v=0\n      o=party 1 1 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      \
             m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-15\n    ]]>\n  </send>\n  \
             <recv request=\"ACK\" crlf=\"true\"/>\n  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  \
             <recv request=\"BYE\" timeout=\"40000\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{RESPONSE_HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n",
            pcap.display()
        ),
        Party::Busy => format!(
            "  <send>\n    <![CDATA[\n      SIP/2.0 486 Busy Here\n{RESPONSE_HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n  <recv request=\"ACK\"/>\n"
        ),
        Party::NeverAnswers => format!(
            "{ringing}  <recv request=\"CANCEL\" timeout=\"40000\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{RESPONSE_HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n  \
             <send>\n    <![CDATA[\n      SIP/2.0 487 Request Terminated\n      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      CSeq: [$csn] INVITE\n      Content-Length: 0\n    ]]>\n  </send>\n  \
             <recv request=\"ACK\"/>\n"
        ),
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"{name}\">\n{invite}{body}  <Reference variables=\"cs,csn\"/>\n</scenario>\n"
    );
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(&p, xml).expect("scenario");
    p
}

/// SIPp as a party on UDP `port`, taking `calls` calls (one at a time), then exiting.
fn start_party(dir: &Path, scenario: &Path, port: u16, calls: u32) -> Child {
    let media = common::free_media_port().to_string();
    let child = Command::new("sipp")
        .args(["-sf", &scenario.to_string_lossy()])
        .args([
            "-p",
            &port.to_string(),
            "-mp",
            &media,
            "-m",
            &calls.to_string(),
        ])
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args([
            "-timeout",
            "90s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp (apt install sip-tester)");
    let needle = format!(":{port:04X} ");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
        if table.lines().any(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| format!("{a} ").ends_with(&needle))
        }) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn finish(child: Child) -> (bool, String) {
    let out = child.wait_with_output().expect("sipp");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn campaign_body(zone: &str, channels: u32, recipients: Value, question: bool) -> String {
    let now = chrono::Utc::now();
    let mut b = json!({
        "name": "Отключение воды",
        "template": "Здравствуйте, {fio}. Завтра отключат воду.",
        "start": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "end": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "time_zone": zone,
        "channels": channels,
        "per_minute": 60,
        "retries": { "busy": 1, "busy_gap_min": 0, "no_answer": 0, "no_answer_gap_min": 0 },
        "ring_timeout_s": 5,
        "recipients": recipients,
    });
    if question {
        b["question"] = json!("Нажмите один, если поняли.");
    }
    b.to_string()
}

fn wait_state(z: &Zvonar, id: i64, want: &str, limit: Duration) -> Value {
    let t0 = Instant::now();
    loop {
        let p = z.get_json(&format!("/api/v1/campaigns/{id}"));
        if p["state"] == want {
            return p;
        }
        assert!(
            t0.elapsed() < limit,
            "campaign not {want} in {limit:?}: {p:#}\n{}",
            z.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn recipient<'a>(p: &'a Value, id: &str) -> &'a Value {
    p["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no recipient {id}: {p:#}"))
}

/// The most attempts whose [start, end) intervals overlap at one instant.
fn max_overlap(p: &Value) -> usize {
    let mut edges = Vec::new();
    for r in p["recipients"].as_array().expect("recipients") {
        for a in r["attempts"].as_array().expect("attempts") {
            let t = |k: &str| {
                chrono::DateTime::parse_from_rfc3339(a[k].as_str().expect("time"))
                    .expect("rfc3339")
                    .timestamp_micros()
            };
            edges.push((t("started_at"), 1i32));
            edges.push((t("ended_at"), -1i32));
        }
    }
    // Ends before starts at the same instant: a channel freed is reused.
    edges.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        max = max.max(now);
    }
    max as usize
}

#[test]
fn campaign_answers_busy_retry_no_answer_within_channels() {
    let z = Zvonar::start("campaign");
    let zone = open_zone();
    let pcap = z.dir.join("key1.pcap");
    // The message and the question take about 4 s of TTS; the key comes after both.
    key_pcap(&pcap, 9_000, 1);
    let (pa, pb, pc) = (free_port(), free_port(), free_port());
    let sa = scenario(&z.dir, "answers", &Party::Answer(pcap));
    let sb = scenario(&z.dir, "busy", &Party::Busy);
    let sc = scenario(&z.dir, "never", &Party::NeverAnswers);
    let a = start_party(&z.dir, &sa, pa, 1);
    let b = start_party(&z.dir, &sb, pb, 2);
    let c = start_party(&z.dir, &sc, pc, 1);
    let recipients = json!([
        { "id": "ls-1", "phone": format!("sip:1001@127.0.0.1:{pa}"), "consent": true, "fio": "Иванов Иван" },
        { "id": "ls-2", "phone": format!("sip:1002@127.0.0.1:{pb}"), "consent": true, "fio": "Петров Пётр" },
        { "id": "ls-3", "phone": format!("sip:1003@127.0.0.1:{pc}"), "consent": true, "fio": "Сидорова Анна" },
        { "id": "ls-4", "phone": "+79161234567", "consent": false, "fio": "Без Согласия" },
    ]);
    let body = campaign_body(&zone, 2, recipients, true);

    // Without manage_campaigns: 403 and nothing created.
    let (code, _) = http(&z, "POST", "/api/v1/campaigns", "no-such-key", &body);
    assert_eq!(code, 401);
    // Bad input: a clear error naming the field.
    let (code, err) = http(
        &z,
        "POST",
        "/api/v1/campaigns",
        &z.token,
        &body.replace("\"channels\":2", "\"channels\":0"),
    );
    assert_eq!(code, 400, "{err}");
    assert!(
        err["error"].as_str().unwrap_or("").contains("channels"),
        "{err}"
    );

    let (code, created) = http(&z, "POST", "/api/v1/campaigns", &z.token, &body);
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_i64().expect("id");
    assert_eq!(created["state"], "draft");
    let (code, _) = http(
        &z,
        "POST",
        &format!("/api/v1/campaigns/{id}/resume"),
        &z.token,
        "",
    );
    assert_eq!(code, 409, "a draft cannot be resumed");
    let (code, started) = http(
        &z,
        "POST",
        &format!("/api/v1/campaigns/{id}/start"),
        &z.token,
        "",
    );
    assert_eq!(code, 200, "{started}");

    // The channel limit, watched live as well.
    let t0 = Instant::now();
    let mut live_max = 0;
    let done = loop {
        let p = z.get_json(&format!("/api/v1/campaigns/{id}"));
        live_max = live_max.max(p["active_calls"].as_u64().unwrap_or(0));
        if p["state"] == "finished" {
            break p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "not finished: {p:#}\n{}",
            z.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    for (name, child) in [("answers", a), ("busy", b), ("never", c)] {
        let (ok, out) = finish(child);
        assert!(ok, "sipp {name}: {out}");
    }
    assert!(live_max <= 2, "active calls seen: {live_max}");
    assert_eq!(max_overlap(&done), 2, "attempts overlapping: {done:#}");

    let r1 = recipient(&done, "ls-1");
    assert_eq!(r1["status"], "confirmed", "{r1:#}");
    let att = r1["attempts"].as_array().expect("attempts");
    assert_eq!(att.len(), 1, "{r1:#}");
    assert_eq!(att[0]["outcome"], "answered");
    assert_eq!(att[0]["digit"], "1");
    assert_eq!(
        att[0]["listened"], true,
        "the message played whole before the key: {r1:#}"
    );
    let rec = z
        .dir
        .join("recordings")
        .join(att[0]["recording"].as_str().expect("recording"));
    let wav = hound::WavReader::open(&rec).unwrap_or_else(|e| panic!("{}: {e}", rec.display()));
    assert_eq!(wav.spec().channels, 2);
    let samples: Vec<i16> = wav
        .into_samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    let right_energy: f64 = samples
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&s| f64::from(s).powi(2))
        .sum();
    assert!(
        samples.len() / 2 > 8000 * 3,
        "recording of {} samples",
        samples.len() / 2
    );
    assert!(
        right_energy > 0.0,
        "the robot's message is on the right channel"
    );

    let r2 = recipient(&done, "ls-2");
    let att = r2["attempts"].as_array().expect("attempts");
    assert_eq!(att.len(), 2, "busy, retried once: {r2:#}");
    assert!(
        att.iter()
            .all(|a| a["outcome"] == "busy" && a["sip_code"] == 486),
        "{r2:#}"
    );
    assert_eq!(r2["status"], "busy");
    assert_eq!(
        r2["detail"]["retry_at"],
        Value::Null,
        "retries used up: {r2:#}"
    );

    let r3 = recipient(&done, "ls-3");
    let att = r3["attempts"].as_array().expect("attempts");
    assert_eq!(att.len(), 1, "{r3:#}");
    assert_eq!(att[0]["outcome"], "no_answer");
    assert_eq!(r3["status"], "no_answer");

    let r4 = recipient(&done, "ls-4");
    assert_eq!(r4["status"], "skipped", "{r4:#}");
    assert_eq!(r4["attempts"].as_array().map(Vec::len), Some(0));
    assert!(
        r4["status_ru"].as_str().unwrap_or("").contains("согласия"),
        "{r4:#}"
    );

    let t = &done["totals"];
    assert_eq!(t["recipients"], 4);
    assert_eq!(t["reached"], 1);
    assert_eq!(t["confirmed"], 1);
    assert_eq!(t["reached_pct"], 25.0);
    assert_eq!(t["listened_pct"], 25.0);
    assert_eq!(t["confirmed_pct"], 25.0);

    let (status, head, csv) = z.get_raw(&format!("/api/v1/campaigns/{id}/export.csv"), None);
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("text/csv"), "{head}");
    let csv = String::from_utf8(csv).expect("utf-8");
    assert_eq!(csv.lines().count(), 1 + 1 + 2 + 1 + 1, "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("ls-1;") && l.contains(";answered;200;да;1;")),
        "{csv}"
    );

    let (code, _) = http(
        &z,
        "POST",
        &format!("/api/v1/campaigns/{id}/pause"),
        &z.token,
        "",
    );
    assert_eq!(code, 409, "a finished campaign cannot be paused");
    let audit = z.get_json("/api/v1/audit");
    let text = audit.to_string();
    assert!(
        text.contains("campaign_create") && text.contains("campaign_start"),
        "{audit:#}"
    );
}

#[test]
fn restart_in_mid_call_calls_nobody_twice() {
    let mut z = Zvonar::start("campaign-restart");
    let zone = open_zone();
    let pcap = z.dir.join("silence.pcap");
    key_pcap(&pcap, 20_000, 5);
    let (pa, pb) = (free_port(), free_port());
    let sa = scenario(&z.dir, "talks", &Party::Answer(pcap.clone()));
    let a = start_party(&z.dir, &sa, pa, 1);
    let recipients = json!([
        { "id": "ls-1", "phone": format!("sip:2001@127.0.0.1:{pa}"), "consent": true, "fio": "Иванов Иван" },
        { "id": "ls-2", "phone": format!("sip:2002@127.0.0.1:{pb}"), "consent": true, "fio": "Петров Пётр" },
    ]);
    // One channel: the second recipient waits while the first is in the call.
    let (code, created) = http(
        &z,
        "POST",
        "/api/v1/campaigns",
        &z.token,
        &campaign_body(&zone, 1, recipients, true),
    );
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_i64().expect("id");
    let (code, _) = http(
        &z,
        "POST",
        &format!("/api/v1/campaigns/{id}/start"),
        &z.token,
        "",
    );
    assert_eq!(code, 200);
    // Wait until the first call is dialled (and, 3 s later, talking), then kill zvonar in
    // the middle of it: the message, the question and the wait for a key last ~15 s.
    let dials = |z: &Zvonar, who: &str| {
        z.log()
            .lines()
            .filter(|l| l.contains("dialling") && l.contains(who))
            .count()
    };
    let t0 = Instant::now();
    while dials(&z, "sip:2001@") == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no call: {}",
            z.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    let p = z.get_json(&format!("/api/v1/campaigns/{id}"));
    assert_eq!(recipient(&p, "ls-1")["status"], "calling", "{p:#}");
    assert_eq!(
        recipient(&p, "ls-2")["status"],
        "queued",
        "one channel: {p:#}"
    );
    z.crash();
    let _ = finish_killed(a);
    let b = start_party(
        &z.dir,
        &scenario(&z.dir, "second", &Party::Answer(pcap)),
        pb,
        1,
    );
    z.restart();
    let p = wait_state(&z, id, "finished", Duration::from_secs(60));
    let r1 = recipient(&p, "ls-1");
    assert_eq!(r1["status"], "interrupted", "{r1:#}");
    let att = r1["attempts"].as_array().expect("attempts");
    assert_eq!(att.len(), 1, "called once: {r1:#}");
    assert_eq!(att[0]["outcome"], "interrupted");
    let r2 = recipient(&p, "ls-2");
    assert_eq!(r2["attempts"].as_array().map(Vec::len), Some(1), "{r2:#}");
    assert_eq!(r2["attempts"][0]["outcome"], "answered", "{r2:#}");
    let (ok, out) = finish(b);
    assert!(ok, "sipp second: {out}");
    // Across both runs: one INVITE to each.
    assert_eq!(dials(&z, "sip:2001@"), 1, "the first was called again");
    assert_eq!(dials(&z, "sip:2002@"), 1);
}

fn finish_killed(mut child: Child) -> std::io::Result<()> {
    let _ = child.kill();
    child.wait().map(|_| ())
}

#[test]
fn key_9_opts_out_of_every_campaign_key_2_asks_a_callback_and_the_registry_selection_is_used() {
    let z = Zvonar::start("campaign-optout");
    let zone = open_zone();
    let pcap = z.dir.join("key9.pcap");
    key_pcap(&pcap, 2_000, 9);
    let pcap2 = z.dir.join("key2.pcap");
    key_pcap(&pcap2, 2_000, 2);
    let (pa, pb) = (free_port(), free_port());
    let sa = scenario(&z.dir, "opts-out", &Party::Answer(pcap));
    let sb = scenario(&z.dir, "callback", &Party::Answer(pcap2));
    let a = start_party(&z.dir, &sa, pa, 1);
    let b = start_party(&z.dir, &sb, pb, 1);
    let phone = format!("sip:3001@127.0.0.1:{pa}");
    let one = json!([{ "id": "ls-1", "phone": phone, "consent": true, "fio": "Иванов Иван" }]);
    let mut two = one.clone();
    two.as_array_mut().expect("list").push(json!(
        { "id": "ls-2", "phone": format!("sip:3002@127.0.0.1:{pb}"), "consent": true, "fio": "Петров Пётр" }
    ));
    let (code, created) = http(
        &z,
        "POST",
        "/api/v1/campaigns",
        &z.token,
        &campaign_body(&zone, 2, two, true),
    );
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_i64().expect("id");
    let (code, _) = http(
        &z,
        "POST",
        &format!("/api/v1/campaigns/{id}/start"),
        &z.token,
        "",
    );
    assert_eq!(code, 200);
    let p = wait_state(&z, id, "finished", Duration::from_secs(60));
    let r = recipient(&p, "ls-1");
    assert_eq!(r["status"], "opted_out", "{r:#}");
    assert_eq!(r["attempts"][0]["digit"], "9", "{r:#}");
    // Key 2: a callback request in the list the console shows.
    let r2 = recipient(&p, "ls-2");
    assert_eq!(r2["attempts"][0]["digit"], "2", "{r2:#}");
    assert_eq!(r2["attempts"][0]["outcome"], "answered", "{r2:#}");
    for (name, child) in [("opts-out", a), ("callback", b)] {
        let (ok, out) = finish(child);
        assert!(ok, "sipp {name}: {out}");
    }
    let t0 = Instant::now();
    loop {
        let cbs = z.get_json("/api/v1/callbacks?limit=10").to_string();
        if cbs.contains("ls-2") && cbs.contains(&format!("campaign-{id}-")) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no callback request: {cbs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Another campaign: the same phone is skipped as opted out, never dialled; the registry's
    // account (the example registry records no consent) is skipped for that.
    let mut body: Value = serde_json::from_str(&campaign_body(&zone, 1, one, true)).expect("json");
    body["selection"] = json!({ "accounts": ["5000010001"] });
    let (code, created) = http(&z, "POST", "/api/v1/campaigns", &z.token, &body.to_string());
    assert_eq!(code, 201, "{created}");
    let id2 = created["id"].as_i64().expect("id");
    let (code, _) = http(
        &z,
        "POST",
        &format!("/api/v1/campaigns/{id2}/start"),
        &z.token,
        "",
    );
    assert_eq!(code, 200);
    let p = wait_state(&z, id2, "finished", Duration::from_secs(30));
    let r = recipient(&p, "ls-1");
    assert_eq!(r["status"], "skipped", "{r:#}");
    assert_eq!(r["detail"]["reason"]["reason"], "opted_out", "{r:#}");
    assert_eq!(r["attempts"].as_array().map(Vec::len), Some(0));
    let all = p["recipients"].as_array().expect("recipients");
    let from_registry: Vec<&Value> = all
        .iter()
        .filter(|r| r["id"].as_str().unwrap_or("").starts_with("5000010001"))
        .collect();
    assert_eq!(from_registry.len(), 1, "{p:#}");
    assert_eq!(from_registry[0]["phone"], "+79165550101", "{p:#}");
    assert_eq!(from_registry[0]["status"], "skipped", "{p:#}");
    assert_eq!(
        from_registry[0]["detail"]["reason"]["reason"], "no_consent",
        "{p:#}"
    );
    assert_eq!(
        z.log().lines().filter(|l| l.contains("dialling")).count(),
        2,
        "two calls in both campaigns"
    );
}

#[test]
fn pause_holds_new_calls_resume_goes_on_cancel_skips_the_rest() {
    let z = Zvonar::start("campaign-pause");
    let zone = open_zone();
    let pcap = z.dir.join("key1.pcap");
    key_pcap(&pcap, 2_000, 1);
    let (pa, pb) = (free_port(), free_port());
    let a = start_party(
        &z.dir,
        &scenario(&z.dir, "first", &Party::Answer(pcap.clone())),
        pa,
        1,
    );
    let b = start_party(
        &z.dir,
        &scenario(&z.dir, "second", &Party::Answer(pcap)),
        pb,
        1,
    );
    let recipients = json!([
        { "id": "ls-1", "phone": format!("sip:4001@127.0.0.1:{pa}"), "consent": true, "fio": "Иванов Иван" },
        { "id": "ls-2", "phone": format!("sip:4002@127.0.0.1:{pb}"), "consent": true, "fio": "Петров Пётр" },
    ]);
    let body = campaign_body(&zone, 1, recipients, true);
    let (code, created) = http(&z, "POST", "/api/v1/campaigns", &z.token, &body);
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_i64().expect("id");
    let (code, _) = http(
        &z,
        "POST",
        &format!("/api/v1/campaigns/{id}/start"),
        &z.token,
        "",
    );
    assert_eq!(code, 200);
    // One channel: once the first is in the call, pausing lets it finish and dials nobody new.
    let t0 = Instant::now();
    loop {
        let p = z.get_json(&format!("/api/v1/campaigns/{id}"));
        if recipient(&p, "ls-1")["status"] == "calling" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "not calling: {p:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, paused) = http(
        &z,
        "POST",
        &format!("/api/v1/campaigns/{id}/pause"),
        &z.token,
        "",
    );
    assert_eq!(code, 200, "{paused}");
    assert_eq!(paused["state"], "paused");
    let t0 = Instant::now();
    let p = loop {
        let p = z.get_json(&format!("/api/v1/campaigns/{id}"));
        if recipient(&p, "ls-1")["status"] == "confirmed" {
            break p;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "first call: {p:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(p["state"], "paused");
    std::thread::sleep(Duration::from_secs(2));
    let p = z.get_json(&format!("/api/v1/campaigns/{id}"));
    let r2 = recipient(&p, "ls-2");
    assert_eq!(
        r2["status"], "queued",
        "paused: nobody new is called: {r2:#}"
    );
    assert_eq!(r2["attempts"].as_array().map(Vec::len), Some(0));
    let (code, _) = http(
        &z,
        "POST",
        &format!("/api/v1/campaigns/{id}/resume"),
        &z.token,
        "",
    );
    assert_eq!(code, 200);
    let p = wait_state(&z, id, "finished", Duration::from_secs(30));
    assert_eq!(recipient(&p, "ls-2")["status"], "confirmed", "{p:#}");
    for (name, child) in [("first", a), ("second", b)] {
        let (ok, out) = finish(child);
        assert!(ok, "sipp {name}: {out}");
    }

    // Cancelled before it ran: everybody is skipped «кампания отменена», nobody is called.
    let (code, created) = http(&z, "POST", "/api/v1/campaigns", &z.token, &body);
    assert_eq!(code, 201, "{created}");
    let id2 = created["id"].as_i64().expect("id");
    let (code, cancelled) = http(
        &z,
        "POST",
        &format!("/api/v1/campaigns/{id2}/cancel"),
        &z.token,
        "",
    );
    assert_eq!(code, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    for r in cancelled["recipients"].as_array().expect("recipients") {
        assert_eq!(r["status"], "skipped", "{r:#}");
        assert_eq!(r["detail"]["reason"]["reason"], "cancelled", "{r:#}");
    }
    let (code, _) = http(
        &z,
        "POST",
        &format!("/api/v1/campaigns/{id2}/start"),
        &z.token,
        "",
    );
    assert_eq!(code, 409, "a cancelled campaign does not start");
    assert_eq!(
        z.log().lines().filter(|l| l.contains("dialling")).count(),
        2,
        "two calls in all"
    );
}
