//! End to end, agents' calls that move: a browser agent that vanishes while a call rings it
//! (the call rings the next agent at once), and blind transfer (RFC 3515 REFER) from an
//! agent's desk phone to another agent, the caller's audio checked at the new agent.
//!
//! The browser test runs zvonar in a network namespace ([`common::netns`]; Chromium refuses
//! WebRTC to 127.0.0.1), the transfer test on loopback. SIPp plays the caller and the desk
//! phones.

mod common;

use common::browser::LiveScript;
use common::netns::{Netns, NsZvonar};
use common::{free_port, write_scenario, Step};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const REALM: &str = "e2e.zvonar";

/// The browser tests of this file run one at a time: each starts Chromium and a zvonar in a
/// namespace, and three at once on a small machine make the timings of each unreliable.
static BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Polls `f` every 100 ms until it returns `Some`, for at most `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Response headers of a SIPp phone answering the request it just got.
const RESPONSE_HEADERS: &str = "      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Contact: <sip:[local_ip]:[local_port];transport=[transport]>\n";

/// Receives zvonar's INVITE (keeping From, To and Contact for requests of its own), rings,
/// answers PCMA after 0.5 s and takes the ACK.
fn answer_xml() -> String {
    format!(
        "  <recv request=\"INVITE\">\n    <action>\n      \
         <ereg regexp=\".*\" search_in=\"hdr\" header=\"From:\" assign_to=\"their_from\"/>\n      \
         <ereg regexp=\".*\" search_in=\"hdr\" header=\"To:\" assign_to=\"our_to\"/>\n      \
         <ereg regexp=\"sip:[^>]*\" search_in=\"hdr\" header=\"Contact:\" assign_to=\"their_contact\"/>\n    </action>\n  </recv>\n  \
         <send>\n    <![CDATA[\n      SIP/2.0 180 Ringing\n{RESPONSE_HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n  \
         <pause milliseconds=\"500\"/>\n  \
         <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{RESPONSE_HEADERS}      Content-Type: application/sdp\n      Content-Length: [len]\n\n      \
         v=0\n      o=desk 1 1 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      \
         m=audio [media_port] RTP/AVP 8 101\n      a=rtpmap:8 PCMA/8000\n      a=rtpmap:101 telephone-event/8000\n    ]]>\n  </send>\n  \
         <recv request=\"ACK\" crlf=\"true\"/>\n"
    )
}

/// An in-dialog request from the phone (its own CSeq `cseq`), e.g. BYE or REFER.
fn phone_request(method: &str, cseq: u32, extra: &str) -> String {
    format!(
        "  <send retrans=\"500\">\n    <![CDATA[\n      {method} [$their_contact] SIP/2.0\n      \
         Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      \
         From: [$our_to];tag=[pid]SIPpTag01[call_number]\n      To: [$their_from]\n      \
         Call-ID: [call_id]\n      CSeq: {cseq} {method}\n      \
         Contact: <sip:[local_ip]:[local_port];transport=[transport]>\n      \
         Max-Forwards: 70\n{extra}      Content-Length: 0\n    ]]>\n  </send>\n"
    )
}

/// Writes a desk phone's scenario `dir/NAME.xml` from its steps.
fn phone_scenario(dir: &Path, name: &str, body: &str) -> PathBuf {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"{name}\">\n{}{body}  \
         <Reference variables=\"their_from,our_to,their_contact\"/>\n</scenario>\n",
        answer_xml()
    );
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(&p, xml).expect("scenario");
    p
}

/// A desk phone (SIPp) on `ip:port` taking one call with `scenario`, echoing the RTP it gets
/// when `echo`.
fn desk_phone(dir: &Path, scenario: &Path, ip: &str, port: u16, echo: bool) -> Killed {
    let mut c = common::uas_command(dir, scenario, ip, port, common::free_media_port(), 1, 120);
    if echo {
        c.arg("-rtp_echo");
    }
    Killed(c.spawn().expect("sipp desk phone"))
}

/// Waits for a SIPp started by [`desk_phone`]: (it passed, its output).
fn finish(mut k: Killed) -> (bool, String) {
    let start = Instant::now();
    let status = loop {
        if let Some(s) = k.0.try_wait().expect("wait") {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(150) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    if let Some(o) = k.0.stdout.as_mut() {
        let _ = std::io::Read::read_to_string(o, &mut out);
    }
    if let Some(e) = k.0.stderr.as_mut() {
        let _ = std::io::Read::read_to_string(e, &mut out);
    }
    (status.is_some_and(|s| s.success()), out)
}

/// The children of process `pid` (from /proc).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

fn ns_json(z: &NsZvonar, path: &str) -> Value {
    let (status, body) = z.get(path).expect("GET");
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("json")
}

fn agent_of<'a>(st: &'a Value, login: &str) -> &'a Value {
    st["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["login"] == login))
        .unwrap_or(&Value::Null)
}

const BROWSER_DIALPLAN: &str = r#"
[[route]]
number = "*"
flow = "operators"

[flow.dispatcher]
kind = "dispatcher_robot"
company = "управляющую компанию «Наш дом»"
operator_flow = "operators"

[[queue]]
name = "operators"
strategy = "longest_idle"
max_wait_s = 120
wrap_up_s = 5
ring_timeout_s = 60
announce_every_s = 120
overflow = "dispatcher"

[flow.operators]
kind = "queue"
queue = "operators"
"#;

#[test]
fn a_browser_agent_that_vanishes_while_ringing_the_call_rings_the_desk_phone_agent() {
    let _one_at_a_time = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(why) = common::netns::possible() {
        eprintln!(
            "SKIPPED: network namespaces cannot be made here ({why}); this test needs root \
             (Chromium refuses WebRTC to 127.0.0.1, so zvonar runs in a namespace)"
        );
        return;
    }
    let ns = Netns::create("tv");
    let host = ns.host_ip.to_string();
    let z = NsZvonar::start_with(
        &ns,
        "transfer-vanish",
        Some(BROWSER_DIALPLAN),
        &format!("trusted = [\"{host}/32\"]"),
        &format!("[sip.registrar]\nrealm = \"{REALM}\"\nalgorithms = [\"MD5\"]\n"),
    );
    for (login, account) in [("anna", "101"), ("boris", "102")] {
        z.cli(
            &["user", "add", "--login", login, "--role", "operator"],
            &format!("пароль {login} 1\n"),
        );
        z.cli(
            &["sip-account", "add", account, "--login", login],
            &format!("secret-{account}\n"),
        );
    }

    // anna takes calls in the browser first: the longest idle agent, offered the call first.
    let url = format!("http://{}", z.http);
    let chromium_args = [
        "--use-fake-device-for-media-stream".to_string(),
        "--use-fake-ui-for-media-stream".to_string(),
        format!("--unsafely-treat-insecure-origin-as-secure={url}"),
    ];
    let mut browser = LiveScript::start(
        "closes_page.mjs",
        "e2e_transfer",
        &url,
        &chromium_args,
        &[
            ("ZVONAR_LOGIN", "anna"),
            ("ZVONAR_PASSWORD", "пароль anna 1"),
        ],
    );
    let mut line = |what: &str| {
        if let Err(e) = browser.wait_line(what, Duration::from_secs(90)) {
            panic!("{e}\nzvonar log:\n{}", z.log());
        }
    };
    line("READY");

    // boris: a desk phone registered with digest auth on our side of the veth, logged in.
    let phone_port = register_from_host(&ns, &z, "102", "secret-102");
    let boris = common::log_in_at(z.http, "boris", "пароль boris 1");
    let (status, _, body) =
        common::http_request_to(z.http, "POST", "/api/v1/queue/agent/login", &boris, "");
    assert_eq!(status, 200, "{body}");
    let desk = desk_phone(
        &z.dir,
        &phone_scenario(
            &z.dir,
            "boris",
            &format!(
                "  <pause milliseconds=\"3000\"/>\n{}  <recv response=\"200\"/>\n",
                phone_request("BYE", 1, "")
            ),
        ),
        &host,
        phone_port,
        true,
    );

    // The caller waits in the queue; the browser rings.
    let scenario = write_scenario(
        &z.dir,
        "vanish-caller",
        "+79035550202",
        "+74951234567",
        &[Step::Pause(1)],
        60_000,
    );
    let caller = common::caller_command(
        &z.dir,
        &scenario,
        &format!("{}:5060", ns.ns_ip),
        &host,
        common::free_media_port(),
        90,
    )
    .spawn()
    .expect("sipp");
    let caller = Killed(caller);
    line("RINGING");
    let st = ns_json(&z, "/api/v1/queue");
    assert_eq!(
        st["calls"][0]["ringing"],
        serde_json::json!(["anna"]),
        "{st}"
    );

    // The browser disappears: SIGKILL, so only its WebSocket's TCP connection closes.
    let gone = Instant::now();
    for pid in children(browser.pid()) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    browser.kill();

    // Within seconds (zvonar_sip::ua::CLOSED_CONNECTION_GRACE, 3 s, then the registration
    // watcher's 1 s; not the offer's 60 s ring timeout, not the binding's 300 s): anna is out
    // of dispatch and the call rings boris's desk phone.
    let st = wait_for("the call to ring boris", Duration::from_secs(20), || {
        let st = ns_json(&z, "/api/v1/queue");
        let ringing_boris = st["calls"][0]["ringing"] == serde_json::json!(["boris"])
            || st["calls"][0]["agent"] == "boris";
        ringing_boris.then_some(st)
    });
    let moved = gone.elapsed();
    assert!(
        moved < Duration::from_secs(10),
        "the call moved to boris {moved:?} after the browser vanished"
    );
    let anna = agent_of(&st, "anna");
    assert!(
        anna["state"] == "disconnected" || anna["state"] == "logged_out",
        "anna is out of dispatch: {anna}"
    );
    assert!(anna["endpoint"].is_null(), "anna has no endpoint: {anna}");

    // boris answers, talks, hangs up; the caller hears zvonar's BYE after a normal call.
    let (ok, out) = finish(desk);
    assert!(ok, "boris's phone: {out}\n{}", z.log());
    let (ok, out) = finish(caller);
    assert!(ok, "the caller: {out}\n{}", z.log());
    let calls = ns_json(&z, "/api/v1/calls?limit=1");
    let id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let q = wait_for("the queue record to end", Duration::from_secs(15), || {
        let q = ns_json(&z, &format!("/api/v1/queue/calls/{id}"));
        (q["state"] == "ended").then_some(q)
    });
    assert_eq!(q["agent"], "boris", "{q}");
    eprintln!("vanish e2e: the call rang boris {moved:?} after anna's browser was killed");
}

const DESK_DIALPLAN: &str = r#"
[[route]]
number = "*"
flow = "operators"

[flow.dispatcher]
kind = "dispatcher_robot"
company = "управляющую компанию «Наш дом»"
operator_flow = "operators"

[[queue]]
name = "operators"
strategy = "ring_all"
max_wait_s = 120
wrap_up_s = 60
ring_timeout_s = 20
announce_every_s = 120
overflow = "dispatcher"

[flow.operators]
kind = "queue"
queue = "operators"
"#;

/// The largest RMS of any 500 ms window of `samples`.
/// The timeline of a call anna handed to boris by an attended transfer: `transferred` by
/// anna to `attended:…`, then `bridged` to boris, who hung up last (`party_bye`).
fn assert_attended_by_anna(detail: &Value) {
    let events: Vec<(&str, &Value)> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| (e["kind"].as_str().unwrap_or_default(), &e["payload"]))
        .collect();
    let transferred = events
        .iter()
        .position(|(k, p)| {
            *k == "transferred"
                && p["agent"] == "anna"
                && p["target"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("attended:"))
        })
        .unwrap_or_else(|| panic!("an attended `transferred` by anna: {events:?}"));
    assert!(
        events[transferred..].iter().any(|(k, _)| *k == "bridged"),
        "bridged to boris after the transfer: {events:?}"
    );
    assert_eq!(
        detail["cdr"]["hangup_cause"], "party_bye",
        "boris hung up last: {}",
        detail["cdr"]
    );
}

/// The call's recording (the CDR's `recording` under `dir/recordings`): its left and right
/// channels, 8 kHz.
fn recording_of(dir: &Path, detail: &Value) -> (Vec<i16>, Vec<i16>) {
    let rec = detail["cdr"]["recording"].as_str().expect("recording");
    let mut w = hound::WavReader::open(dir.join("recordings").join(rec)).expect("wav");
    assert_eq!(w.spec().channels, 2, "a stereo recording");
    let all: Vec<i16> = w.samples::<i16>().map(|s| s.expect("sample")).collect();
    all.chunks(2).map(|c| (c[0], c[1])).unzip()
}

/// Checks the recording of a call transferred to boris's echoing phone: the resident's speech
/// on the left, and boris's echo of it on the right in the last 8 s (more than the 3.5 s
/// phrase plus any offset of it). Returns the two contour matches.
fn resident_left_echo_right(dir: &Path, detail: &Value) -> (f64, f64) {
    let (left, right) = recording_of(dir, detail);
    let resident_left = contour_match(&left, &common::problem_speech());
    let echoed = contour_match(
        &right[right.len().saturating_sub(8000 * 8)..],
        &common::problem_speech(),
    );
    assert!(
        resident_left > 0.6 && echoed > 0.6,
        "the resident on the left ({resident_left:.2}), boris's echo on the right at the end \
         ({echoed:.2})"
    );
    (resident_left, echoed)
}

/// How well `reference` (8 kHz) appears in `channel`: the best Pearson correlation of their
/// loudness contours (RMS of 20 ms frames, first 4 s of the reference) over every offset.
/// Near 1: the channel carries that recording; another speaker's speech scores far lower.
fn contour_match(channel: &[i16], reference: &[i16]) -> f64 {
    let contour = |x: &[i16]| -> Vec<f64> {
        x.chunks_exact(160)
            .map(|c| (c.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 160.0).sqrt())
            .collect()
    };
    let (ch, r) = (contour(channel), contour(reference));
    let r = &r[..r.len().min(200)];
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (rm, n) = (mean(r), r.len());
    let rd: Vec<f64> = r.iter().map(|v| v - rm).collect();
    let rn = rd.iter().map(|v| v * v).sum::<f64>().sqrt();
    (0..ch.len().saturating_sub(n))
        .map(|off| {
            let w = &ch[off..off + n];
            let wm = mean(w);
            let (dot, wn) = w.iter().zip(&rd).fold((0.0, 0.0), |(d, q), (v, e)| {
                (d + (v - wm) * e, q + (v - wm).powi(2))
            });
            if wn == 0.0 || rn == 0.0 {
                0.0
            } else {
                dot / (wn.sqrt() * rn)
            }
        })
        .fold(0.0, f64::max)
}

/// A phone's last steps: waits up to `timeout_ms` for the BYE and answers it 200.
fn bye_answered(timeout_ms: u32) -> String {
    format!(
        "  <recv request=\"BYE\" timeout=\"{timeout_ms}\"/>\n  \
         <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      \
         [last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n    ]]>\n  \
         </send>\n"
    )
}

/// zvonar on loopback with `dialplan` (and `extra` configuration), operators anna (101) and
/// boris (102), and both desk phones registered over UDP (digest, MD5) from the returned
/// ports: (zvonar, anna's, boris's).
fn two_desk_phones(name: &str, dialplan: String, extra: &str) -> (common::Zvonar, u16, u16) {
    let z = common::Zvonar::start_with(
        name,
        common::Options {
            dialplan: Some(dialplan),
            extra_config: format!(
                "[sip.registrar]\nrealm = \"{REALM}\"\nalgorithms = [\"MD5\"]\n\n{extra}"
            ),
            ..common::Options::default()
        },
    );
    for (login, account) in [("anna", "101"), ("boris", "102")] {
        let (ok, out) = z.cli(
            &["user", "add", "--login", login, "--role", "operator"],
            &format!("пароль {login} 1\n"),
        );
        assert!(ok, "{out}");
        let (ok, out) = z.cli(
            &["sip-account", "add", account, "--login", login],
            &format!("secret-{account}\n"),
        );
        assert!(ok, "{out}");
    }
    let (anna_port, boris_port) = (free_port(), free_port());
    z.register_account("101", "secret-101", anna_port);
    z.register_account("102", "secret-102", boris_port);
    (z, anna_port, boris_port)
}

/// One NOTIFY of the REFER's subscription whose sipfrag must say `status`, answered 200.
fn notify_step(status: u16, state: &str) -> String {
    format!(
        "  <recv request=\"NOTIFY\">\n    <action>\n      \
         <ereg regexp=\"^SIP/2.0 {status} \" search_in=\"body\" check_it=\"true\" assign_to=\"frag{status}\"/>\n      \
         <ereg regexp=\"{state}\" search_in=\"hdr\" header=\"Subscription-State:\" check_it=\"true\" assign_to=\"sub{status}\"/>\n      \
         <ereg regexp=\"refer\" search_in=\"hdr\" header=\"Event:\" check_it=\"true\" assign_to=\"ev{status}\"/>\n    \
         </action>\n  </recv>\n  \
         <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      [last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n    ]]>\n  </send>\n"
    )
}

#[test]
fn a_desk_phone_agent_transfers_the_caller_to_a_colleague_by_refer_audio_reaches_the_colleague() {
    // anna takes queue calls on her desk phone (101); boris's phone (102) is registered, and
    // boris starts taking queue calls once anna talks to the caller (so the caller is hers).
    let (z, anna_port, boris_port) =
        two_desk_phones("transfer-blind", DESK_DIALPLAN.to_string(), "");
    let anna = z.log_in("anna", "пароль anna 1");
    let (status, _, body) =
        common::http_request(z.http_port, "POST", "/api/v1/queue/agent/login", &anna, "");
    assert_eq!(status, 200, "{body}");
    let boris_session = z.log_in("boris", "пароль boris 1");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (port, token, done) = (z.http_port, z.token.clone(), done.clone());
        std::thread::spawn(move || {
            // boris's queue states, in order, as the queue shows them.
            let mut seen: Vec<String> = Vec::new();
            let auth = [format!("Authorization: Bearer {token}")];
            // Polls once more after `done`: the state the test waited for is then seen
            // even when it came after this thread's last poll.
            loop {
                let last = done.load(std::sync::atomic::Ordering::SeqCst);
                let (_, _, body) = common::http_request(port, "GET", "/api/v1/queue", &auth, "");
                let st: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let state = |who: &str| agent_of(&st, who)["state"].as_str().map(str::to_string);
                if state("anna").as_deref() == Some("on_call") && seen.is_empty() {
                    let (status, _, body) = common::http_request(
                        port,
                        "POST",
                        "/api/v1/queue/agent/login",
                        &boris_session,
                        "",
                    );
                    assert_eq!(status, 200, "boris logs in: {body}");
                }
                if let Some(b) = state("boris") {
                    if seen.last() != Some(&b) {
                        seen.push(b);
                    }
                }
                if last {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            seen
        })
    };

    // anna answers, talks 2 s, then transfers to 102 (REFER, RFC 3515): 202, then the
    // NOTIFYs 100 Trying, 180 Ringing, 200 OK (the last one ends the subscription), then
    // zvonar's BYE.
    let refer = phone_request(
        "REFER",
        1,
        "      Refer-To: <sip:102@127.0.0.1>\n      Referred-By: <sip:101@127.0.0.1>\n",
    );
    let anna_xml = format!(
        "  <pause milliseconds=\"2000\"/>\n{refer}  <recv response=\"202\"/>\n{}{}{}  \
         {bye}  \
         <Reference variables=\"frag100,sub100,ev100,frag180,sub180,ev180,frag200,sub200,ev200\"/>\n",
        notify_step(100, "active"),
        notify_step(180, "active"),
        notify_step(200, "terminated"),
        bye = bye_answered(20_000),
    );
    let anna_phone = desk_phone(
        &z.dir,
        &phone_scenario(&z.dir, "anna", &anna_xml),
        "127.0.0.1",
        anna_port,
        true,
    );
    // boris answers the transferred call, echoes what he hears for 6 s, hangs up.
    let boris_media = common::free_media_port();
    let capture = z.dir.join("boris-rx.pcap");
    let tcpdump =
        common::Capture::start("lo", &format!("udp and dst port {boris_media}"), &capture);
    let boris_xml = format!(
        "  <pause milliseconds=\"6000\"/>\n{}  <recv response=\"200\"/>\n",
        phone_request("BYE", 1, "")
    );
    let boris_scenario = phone_scenario(&z.dir, "boris", &boris_xml);
    let boris_phone = Killed(
        common::uas_command(
            &z.dir,
            &boris_scenario,
            "127.0.0.1",
            boris_port,
            boris_media,
            1,
            120,
        )
        .arg("-rtp_echo")
        .spawn()
        .expect("sipp boris"),
    );

    // The caller speaks all along and gets zvonar's BYE when boris hangs up.
    let speech: Vec<i16> = std::iter::repeat_n(common::problem_speech(), 6)
        .flatten()
        .collect();
    let scenario = write_scenario(
        &z.dir,
        "transfer-caller",
        "+79035550202",
        "+74951234567",
        &[Step::SayMeanwhile(speech)],
        60_000,
    );
    let (ok, caller_out) = common::run_sipp(&z, &scenario, "u1", 90);
    let (anna_ok, anna_out) = finish(anna_phone);
    let (boris_ok, boris_out) = finish(boris_phone);
    assert!(
        anna_ok,
        "anna's phone (REFER, 202, NOTIFYs, BYE):\n{anna_out}\n{}",
        z.log()
    );
    assert!(boris_ok, "boris's phone:\n{boris_out}\n{}", z.log());
    assert!(ok, "the caller:\n{caller_out}\n{}", z.log());

    // The call's timeline: anna connected, transferred to 102, boris rung and bridged.
    let calls = z.get_json("/api/v1/calls?limit=1");
    let id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let detail = wait_for("the CDR", Duration::from_secs(20), || {
        let d = z.get_json(&format!("/api/v1/calls/{id}"));
        (!d["cdr"]["hangup_cause"].is_null() && !d["cdr"]["recording"].is_null()).then_some(d)
    });
    let kinds: Vec<String> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    let pos = |k: &str| {
        kinds
            .iter()
            .position(|x| x == k)
            .unwrap_or_else(|| panic!("no {k} in {kinds:?}"))
    };
    assert!(
        pos("agent_connected") < pos("transferred")
            && pos("transferred") < pos("dialling")
            && pos("dialling") < pos("bridged"),
        "{kinds:?}"
    );
    let transferred = detail["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["kind"] == "transferred"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            transferred["payload"]["agent"].as_str(),
            transferred["payload"]["target"].as_str()
        ),
        (Some("anna"), Some("account:102")),
        "{transferred}"
    );
    assert_eq!(detail["cdr"]["hangup_cause"], "party_bye", "{detail}");
    // The queue record says who transferred it; anna is in wrap-up (60 s) after it.
    let q = z.get_json(&format!("/api/v1/queue/calls/{id}"));
    assert_eq!(
        (q["state"].as_str(), q["agent"].as_str()),
        (Some("transferred"), Some("anna")),
        "{q}"
    );
    let st = z.get_json("/api/v1/queue");
    assert_eq!(agent_of(&st, "anna")["state"], "wrap_up", "{st}");
    // boris, reached at his extension outside the queue, was on a call for the queue while he
    // talked (offered nothing), then in wrap-up.
    wait_for("boris's wrap-up", Duration::from_secs(10), || {
        let st = z.get_json("/api/v1/queue");
        (agent_of(&st, "boris")["state"] == "wrap_up").then_some(())
    });
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let boris_states = watcher.join().expect("watcher");
    let pos = |s: &str| boris_states.iter().position(|x| x == s);
    assert!(
        matches!((pos("available"), pos("on_call"), pos("wrap_up")), (Some(a), Some(o), Some(w)) if a < o && o < w),
        "boris: available, on a call while transferred to, then wrap-up: {boris_states:?}"
    );

    // At boris's phone: the caller's voice (PCMA) arrived after the transfer.
    let bytes = tcpdump.finish();
    let heard: Vec<i16> = common::rtp_of_pcap(&bytes)
        .iter()
        .filter(|(_, pt, _)| *pt == 8)
        .flat_map(|(_, _, p)| zvonar_voice::codec::Codec::Pcma.decode(p))
        .collect();
    assert!(
        heard.len() > 8000 * 3,
        "RTP at boris's phone: {} samples",
        heard.len()
    );
    let rms = common::loudest_window(&heard);
    assert!(rms > 300.0, "boris hears the caller: rms {rms:.0}");
    // The recording goes on after the transfer: boris's side (his echo of the caller) is on
    // the right channel in the last seconds.
    let (_, right) = recording_of(&z.dir, &detail);
    let tail = &right[right.len().saturating_sub(8000 * 4)..];
    let right_rms = common::loudest_window(tail);
    assert!(
        right_rms > 300.0,
        "boris's side in the recording after the transfer: rms {right_rms:.0}"
    );
    eprintln!("transfer e2e: boris heard rms {rms:.0}; recording right channel rms {right_rms:.0}");
}

#[test]
fn a_transfer_target_that_is_busy_sends_the_caller_back_to_the_queue() {
    // After the failed transfer the caller waits in the queue again; nobody else is there,
    // so it overflows after max_wait_s to a short goodbye (a prompt file, no TTS).
    let bye = std::env::temp_dir().join(format!("zvonar-transfer-bye-{}.wav", std::process::id()));
    common::write_mono_wav(&bye, &common::digits_wav("1"));
    let dialplan = format!(
        r#"
[[route]]
number = "*"
flow = "operators"

[[queue]]
name = "operators"
strategy = "ring_all"
max_wait_s = 10
wrap_up_s = 60
ring_timeout_s = 20
announce_every_s = 0
overflow = "goodbye"
overflow_when_unstaffed = false

[flow.operators]
kind = "queue"
queue = "operators"

[flow.goodbye]
kind = "playback"
prompt = {{ file = "{}" }}
"#,
        bye.display()
    );
    let (z, anna_port, boris_port) = two_desk_phones("transfer-busy", dialplan, "");
    let anna = z.log_in("anna", "пароль anna 1");
    let (status, _, body) =
        common::http_request(z.http_port, "POST", "/api/v1/queue/agent/login", &anna, "");
    assert_eq!(status, 200, "{body}");
    let refer = phone_request("REFER", 1, "      Refer-To: <sip:102@127.0.0.1>\n");
    let anna_xml = format!(
        "  <pause milliseconds=\"1000\"/>\n{refer}  <recv response=\"202\"/>\n{}{}  \
         {bye}  \
         <Reference variables=\"frag100,sub100,ev100,frag486,sub486,ev486\"/>\n",
        notify_step(100, "active"),
        notify_step(486, "terminated"),
        bye = bye_answered(20_000),
    );
    let anna_phone = desk_phone(
        &z.dir,
        &phone_scenario(&z.dir, "anna", &anna_xml),
        "127.0.0.1",
        anna_port,
        true,
    );
    let boris_phone = common::start_uas(
        &z.dir,
        &common::uas_scenario(&z.dir, "boris-busy", &common::UasParty::Busy),
        boris_port,
        1,
    );
    let scenario = write_scenario(
        &z.dir,
        "busy-caller",
        "+79035550202",
        "+74951234567",
        &[Step::Pause(1)],
        60_000,
    );
    let (ok, caller_out) = common::run_sipp(&z, &scenario, "u1", 90);
    let (anna_ok, anna_out) = finish(anna_phone);
    let (boris_ok, boris_out) = common::finish_uas(boris_phone);
    assert!(
        anna_ok,
        "anna's phone (REFER, 202, NOTIFY 100 then 486, BYE):\n{anna_out}\n{}",
        z.log()
    );
    assert!(boris_ok, "boris's phone answered busy:\n{boris_out}");
    assert!(ok, "the caller:\n{caller_out}\n{}", z.log());
    let calls = z.get_json("/api/v1/calls?limit=1");
    let id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let detail = wait_for("the CDR", Duration::from_secs(20), || {
        let d = z.get_json(&format!("/api/v1/calls/{id}"));
        (!d["cdr"]["hangup_cause"].is_null()).then_some(d)
    });
    let kinds: Vec<String> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    // anna's conversation, the transfer, boris busy, back in the queue, then its overflow.
    let after: Vec<&str> = kinds
        .iter()
        .map(String::as_str)
        .skip_while(|k| *k != "agent_connected")
        .filter(|k| {
            [
                "agent_connected",
                "transferred",
                "dial_failed",
                "queue_entered",
                "queue_overflowed",
            ]
            .contains(k)
        })
        .collect();
    assert_eq!(
        after,
        [
            "agent_connected",
            "transferred",
            "dial_failed",
            "queue_entered",
            "queue_overflowed"
        ],
        "{kinds:?}"
    );
    let failed = detail["timeline"]
        .as_array()
        .and_then(|t| t.iter().find(|e| e["kind"] == "dial_failed"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(failed["payload"]["outcome"], "busy", "{failed}");
    let st = z.get_json("/api/v1/queue");
    assert_eq!(agent_of(&st, "anna")["state"], "wrap_up", "{st}");
    let _ = std::fs::remove_file(&bye);
}

/// The resident's phone behind the trunk: checks that the call presents the company's number
/// `caller_id`, rings, answers PCMA, plays `pcap` (speech) and waits for our BYE.
fn resident_scenario(dir: &Path, caller_id: &str, pcap: &Path) -> PathBuf {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"resident\">\n  \
         <recv request=\"INVITE\">\n    <action>\n      \
         <ereg regexp=\"{caller_id}\" search_in=\"hdr\" header=\"From:\" check_it=\"true\" assign_to=\"from\"/>\n    \
         </action>\n  </recv>\n  \
         <send>\n    <![CDATA[\n      SIP/2.0 180 Ringing\n{RESPONSE_HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n  \
         <pause milliseconds=\"1000\"/>\n  \
         <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{RESPONSE_HEADERS}      Content-Type: application/sdp\n      Content-Length: [len]\n\n      \
         v=0\n      o=resident 1 1 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      \
         m=audio [media_port] RTP/AVP 8 101\n      a=rtpmap:8 PCMA/8000\n      a=rtpmap:101 telephone-event/8000\n    ]]>\n  </send>\n  \
         <recv request=\"ACK\" crlf=\"true\"/>\n  \
         <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  \
         {bye}  \
         <Reference variables=\"from\"/>\n</scenario>\n",
        pcap.display(),
        bye = bye_answered(60_000),
    );
    let p = dir.join("resident.xml");
    std::fs::write(&p, xml).expect("scenario");
    p
}

/// A ticket «Перезвонить жильцу» with the resident's number `number`; its id.
fn ticket_to_call_back(z: &NsZvonar, number: &str) -> i64 {
    let (status, _, body) = common::http_request_to(
        z.http,
        "POST",
        "/api/v1/tickets",
        &[format!("Authorization: Bearer {}", z.token)],
        &serde_json::json!({
            "topic": "other", "description": "Перезвонить жильцу", "caller": number
        })
        .to_string(),
    );
    assert_eq!(status, 201, "{body}");
    let t: Value = serde_json::from_str(&body).expect("json");
    t["id"]
        .as_i64()
        .or_else(|| t["ticket"]["id"].as_i64())
        .expect("ticket id")
}

/// The company's number, which the trunk presents on calls zvonar places.
const COMPANY: &str = "74951234567";

/// The `[[trunk]]` of the own-call tests: a provider at `host:port` presenting [`COMPANY`].
fn trunk_toml(host: &str, port: u16) -> String {
    format!(
        "[[trunk]]\nname = \"provider\"\nregistrar = \"sip:{host}:{port}\"\n\
         username = \"74950001122\"\npassword = \"trunk-secret\"\nregister = false\n\
         caller_id = \"{COMPANY}\"\n"
    )
}

/// The resident behind the trunk (SIPp on `ip:port`, RTP on `media_port`): answers a call
/// from [`COMPANY`], says the problem `times` times and waits for our BYE
/// ([`resident_scenario`]).
fn resident_behind_trunk(dir: &Path, ip: &str, port: u16, media_port: u16, times: usize) -> Killed {
    let speech: Vec<i16> = std::iter::repeat_n(common::problem_speech(), times)
        .flatten()
        .collect();
    let pcap = dir.join("resident-speech.pcap");
    let (mut seq, mut ts) = (100u16, 1000u32);
    common::write_pcap(&pcap, &common::speech_packets(&speech, &mut seq, &mut ts));
    Killed(
        common::uas_command(
            dir,
            &resident_scenario(dir, COMPANY, &pcap),
            ip,
            port,
            media_port,
            1,
            120,
        )
        .spawn()
        .expect("sipp resident"),
    )
}

/// Where the operator clicks «Позвонить».
#[derive(Clone, Copy, PartialEq, Eq)]
enum CallBackFrom {
    /// A ticket's resident number.
    Ticket,
    /// A missed call in the callback list, whose outcome the operator then records.
    MissedCall,
}

#[test]
fn click_to_call_from_a_ticket_dials_the_resident_through_the_trunk_with_the_company_number() {
    click_to_call(CallBackFrom::Ticket);
}

#[test]
fn a_missed_call_is_called_back_from_the_list_and_its_outcome_recorded() {
    click_to_call(CallBackFrom::MissedCall);
}

/// The operator calls the resident +79035550303 from the console: zvonar dials through the
/// trunk (a SIPp resident that checks the company's caller ID), bridges, records.
fn click_to_call(from: CallBackFrom) {
    let _one_at_a_time = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(why) = common::netns::possible() {
        eprintln!("SKIPPED: network namespaces cannot be made here ({why}); needs root");
        return;
    }
    let ns = Netns::create("tc");
    let host = ns.host_ip.to_string();
    let trunk_port = free_port();
    let z = NsZvonar::start_with(
        &ns,
        "transfer-c2c",
        None,
        &format!("trusted = [\"{host}/32\"]"),
        &format!(
            "[sip.registrar]\nrealm = \"{REALM}\"\nalgorithms = [\"MD5\"]\n\n{}",
            trunk_toml(&host, trunk_port)
        ),
    );
    z.cli(
        &["user", "add", "--login", "anna", "--role", "operator"],
        "пароль anna 1\n",
    );
    z.cli(
        &["sip-account", "add", "101", "--login", "anna"],
        "secret-101\n",
    );
    let ticket = ticket_to_call_back(&z, RESIDENT);
    // For a call back: the resident called and hung up on the robot, a missed call.
    let missed = (from == CallBackFrom::MissedCall).then(|| {
        let sc = common::hang_up_scenario(&z.dir, "gave-up", RESIDENT, "100", &[Step::Pause(2000)]);
        let out = common::caller_command(
            &z.dir,
            &sc,
            &format!("{}:5060", ns.ns_ip),
            &host,
            common::free_media_port(),
            60,
        )
        .output()
        .expect("sipp caller");
        assert!(
            out.status.success(),
            "the resident's call: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            z.log()
        );
        wait_for("the missed call", Duration::from_secs(20), || {
            ns_json(&z, "/api/v1/missed")
                .as_array()
                .and_then(|l| l.iter().find(|m| m["number"] == RESIDENT).cloned())
        })
    });

    // The resident behind the trunk speaks; what reaches the resident is captured.
    let resident_media = common::free_media_port();
    let capture = z.dir.join("resident-rx.pcap");
    let tcpdump = common::Capture::start(
        &format!("{}h", ns.name),
        &format!("udp and dst host {host} and dst port {resident_media}"),
        &capture,
    );
    let resident = resident_behind_trunk(&z.dir, &host, trunk_port, resident_media, 3);

    // The operator's microphone: Russian digits, 8 kHz.
    let mic: Vec<i16> = ["1", "2", "3", "4", "5", "6", "7", "8", "9"]
        .iter()
        .flat_map(|d| common::digits_wav(d))
        .collect();
    let mic_wav = z.dir.join("operator-mic.wav");
    common::write_mono_wav(&mic_wav, &mic);
    let url = format!("http://{}", z.http);
    let chromium_args = [
        "--use-fake-device-for-media-stream".to_string(),
        "--use-fake-ui-for-media-stream".to_string(),
        format!("--use-file-for-fake-audio-capture={}", mic_wav.display()),
        format!("--unsafely-treat-insecure-origin-as-secure={url}"),
    ];
    let (origin, value) = match from {
        CallBackFrom::Ticket => ("ZVONAR_TICKET", ticket.to_string()),
        CallBackFrom::MissedCall => ("ZVONAR_MISSED", RESIDENT.to_string()),
    };
    let r = LiveScript::start(
        "click_to_call.mjs",
        "e2e_transfer",
        &url,
        &chromium_args,
        &[
            ("ZVONAR_LOGIN", "anna"),
            ("ZVONAR_PASSWORD", "пароль anna 1"),
            (origin, &value),
        ],
    )
    .result(Duration::from_secs(180))
    .unwrap_or_else(|e| panic!("{e}\nzvonar log:\n{}", z.log()));
    let (ok, resident_out) = finish(resident);
    assert!(
        ok,
        "the resident was called from {COMPANY} and got our BYE:\n{resident_out}\n{}",
        z.log()
    );
    assert!(
        r["inbound"]["packetsReceived"].as_u64().unwrap_or(0) >= 300,
        "audio reached the page: {r}"
    );
    // The panel said «Вызов» until the resident answered (after ringing 1 s): zvonar
    // answers the operator's call when the party answers.
    assert!(
        r["ringingMs"].as_i64().unwrap_or(0) >= 700,
        "the operator's call was answered only when the resident answered: {r}"
    );

    // The CDR: the agent's call, to the number, recorded, the resident bridged.
    let calls = ns_json(&z, "/api/v1/calls?limit=1");
    let id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let detail = wait_for("the CDR", Duration::from_secs(20), || {
        let d = ns_json(&z, &format!("/api/v1/calls/{id}"));
        (!d["cdr"]["hangup_cause"].is_null() && !d["cdr"]["recording"].is_null()).then_some(d)
    });
    assert_eq!(detail["cdr"]["flow"], "agent_call", "{detail}");
    assert_eq!(detail["cdr"]["callee"], RESIDENT, "{detail}");
    // From the callback list: the outcome the operator clicked closed the missed call.
    if let Some(m) = &missed {
        let id = m["id"].as_i64().expect("missed id");
        let d = ns_json(&z, &format!("/api/v1/missed/{id}"));
        assert_eq!(d["missed"]["closed_as"], "reached", "{d}");
        assert_eq!(d["attempts"][0]["by"], "anna", "{d}");
        assert_eq!(r["closed"], true, "the page shows the call closed: {r}");
    }
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"dialling") && kinds.contains(&"bridged"),
        "{kinds:?}"
    );
    // At the resident's side: the operator's voice.
    let bytes = tcpdump.finish();
    let heard: Vec<i16> = common::rtp_of_pcap(&bytes)
        .iter()
        .filter(|(_, pt, _)| *pt == 8)
        .flat_map(|(_, _, p)| zvonar_voice::codec::Codec::Pcma.decode(p))
        .collect();
    let rms = common::loudest_window(&heard);
    assert!(
        heard.len() > 8000 * 2 && rms > 300.0,
        "the resident hears the operator: {} samples, rms {rms:.0}",
        heard.len()
    );
    // The recording: the resident on the left, the operator on the right (as in every
    // recording), told apart by matching each channel's loudness contour against what the
    // resident played and what the resident heard of the operator.
    let (left, right) = recording_of(&z.dir, &detail);
    let resident_in = |ch: &[i16]| contour_match(ch, &common::problem_speech());
    let operator_in = |ch: &[i16]| contour_match(ch, &heard);
    let (rl, rr, ol, or) = (
        resident_in(&left),
        resident_in(&right),
        operator_in(&left),
        operator_in(&right),
    );
    assert!(
        rl > 0.6 && rl > rr + 0.2 && or > 0.6 && or > ol + 0.2,
        "the resident on the left, the operator on the right: resident's contour in left {rl:.2} \
         / right {rr:.2}, operator's in left {ol:.2} / right {or:.2}"
    );

    eprintln!(
        "click-to-call e2e: resident heard rms {rms:.0}; page inbound {} packets, level max {:.3}; \
         recording contours: resident left {rl:.2} right {rr:.2}, operator left {ol:.2} right {or:.2}",
        r["inbound"]["packetsReceived"],
        r["maxLevel"].as_f64().unwrap_or(0.0)
    );
}

/// The console tests' set-up: zvonar in the namespace `ns` with the queue of
/// [`DESK_DIALPLAN`], operators anna (101) and boris (102), and boris's desk phone
/// registered from our side of the veth on the returned port.
fn two_operators(ns: &Netns, name: &str) -> (NsZvonar, u16) {
    let host = ns.host_ip.to_string();
    let z = NsZvonar::start_with(
        ns,
        name,
        Some(DESK_DIALPLAN),
        &format!("trusted = [\"{host}/32\"]"),
        &format!("[sip.registrar]\nrealm = \"{REALM}\"\nalgorithms = [\"MD5\"]\n"),
    );
    for (login, account) in [("anna", "101"), ("boris", "102")] {
        z.cli(
            &["user", "add", "--login", login, "--role", "operator"],
            &format!("пароль {login} 1\n"),
        );
        z.cli(
            &["sip-account", "add", account, "--login", login],
            &format!("secret-{account}\n"),
        );
    }
    let phone_port = register_from_host(ns, &z, "102", "secret-102");
    (z, phone_port)
}

/// Registers SIP account `account` (password `secret`) over UDP from our side of the veth,
/// as a desk phone there does: the port the phone then listens on.
fn register_from_host(ns: &Netns, z: &NsZvonar, account: &str, secret: &str) -> u16 {
    let phone_port = free_port();
    let reg = common::register_scenario(&z.dir, account, secret);
    let out = Command::new("sipp")
        .arg(format!("{}:5060", ns.ns_ip))
        .args(["-sf", &reg.to_string_lossy()])
        .args([
            "-m",
            "1",
            "-l",
            "1",
            "-t",
            "u1",
            "-p",
            &phone_port.to_string(),
        ])
        .args([
            "-i",
            &ns.host_ip.to_string(),
            "-timeout",
            "20s",
            "-timeout_error",
            "-nostdin",
        ])
        .current_dir(&z.dir)
        .output()
        .expect("sipp");
    assert!(
        out.status.success(),
        "REGISTER {account}: {out:?}\n{}",
        z.log()
    );
    phone_port
}

/// A console test's start: one browser test at a time ([`BROWSER`]), a network namespace
/// `tag` with [`two_operators`]' zvonar `name` in it, and boris's phone port; `None` (with a
/// message) where namespaces cannot be made.
fn console_setup(
    tag: &str,
    name: &str,
) -> Option<(std::sync::MutexGuard<'static, ()>, Netns, NsZvonar, u16)> {
    let guard = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(why) = common::netns::possible() {
        eprintln!("SKIPPED: network namespaces cannot be made here ({why}); needs root");
        return None;
    }
    let ns = Netns::create(tag);
    let (z, phone_port) = two_operators(&ns, name);
    Some((guard, ns, z, phone_port))
}

/// An RTP port for boris's phone and a capture of what zvonar sends to it.
fn boris_rx(ns: &Netns, z: &NsZvonar) -> (u16, common::Capture) {
    let port = common::free_media_port();
    let capture = common::Capture::start(
        &format!("{}h", ns.name),
        &format!("udp and dst host {} and dst port {port}", ns.host_ip),
        &z.dir.join("boris-rx.pcap"),
    );
    (port, capture)
}

/// The CDRs of the queued caller's call (flow `operators`) and of anna's own call
/// (`agent_call`: the consultation), once both have ended.
fn caller_and_agent_call(z: &NsZvonar) -> (Value, Value) {
    wait_for("both calls ended", Duration::from_secs(20), || {
        let calls = ns_json(z, "/api/v1/calls?limit=5");
        let ended = |flow: &str| {
            calls
                .as_array()?
                .iter()
                .find(|c| c["flow"] == flow && !c["ended_at"].is_null())
                .cloned()
        };
        Some((ended("operators")?, ended("agent_call")?))
    })
}

/// anna's console in Chromium running `script` (tests/browser) with `env`, once it has
/// printed `READY` (taking calls).
fn anna_in_console(z: &NsZvonar, script: &str, env: &[(&str, &str)]) -> LiveScript {
    let url = format!("http://{}", z.http);
    let chromium_args = [
        "--use-fake-device-for-media-stream".to_string(),
        "--use-fake-ui-for-media-stream".to_string(),
        format!("--unsafely-treat-insecure-origin-as-secure={url}"),
    ];
    let mut env = env.to_vec();
    env.extend([
        ("ZVONAR_LOGIN", "anna"),
        ("ZVONAR_PASSWORD", "пароль anna 1"),
    ]);
    let mut browser = LiveScript::start(script, "e2e_transfer", &url, &chromium_args, &env);
    if let Err(e) = browser.wait_line("READY", Duration::from_secs(90)) {
        panic!(
            "the console never became ready: {e}\nzvonar log:\n{}",
            z.log()
        );
    }
    browser
}

/// A caller from outside (SIPp) who says `times` × the problem description into the queue.
fn queued_caller(ns: &Netns, z: &NsZvonar, name: &str, times: usize) -> Killed {
    let speech: Vec<i16> = std::iter::repeat_n(common::problem_speech(), times)
        .flatten()
        .collect();
    let scenario = write_scenario(
        &z.dir,
        name,
        "+79035550202",
        "+74951234567",
        &[Step::SayMeanwhile(speech)],
        90_000,
    );
    Killed(
        common::caller_command(
            &z.dir,
            &scenario,
            &format!("{}:5060", ns.ns_ip),
            &ns.host_ip.to_string(),
            common::free_media_port(),
            120,
        )
        .spawn()
        .expect("sipp"),
    )
}

/// The transfer statuses the console's panel showed (`RESULT`'s `seen`).
fn seen(r: &Value) -> Vec<&str> {
    r["seen"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// PCMA audio in `bytes` (a capture), decoded, of the packets `keep` lets through by their
/// capture time (µs since the epoch).
fn pcma_heard(bytes: &[u8], keep: impl Fn(i64) -> bool) -> Vec<i16> {
    common::rtp_of_pcap(bytes)
        .iter()
        .filter(|(at, pt, _)| *pt == 8 && keep(*at))
        .flat_map(|(_, _, p)| zvonar_voice::codec::Codec::Pcma.decode(p))
        .collect()
}

#[test]
fn an_operator_transfers_a_call_from_the_console_to_a_colleagues_desk_phone() {
    let Some((_one_at_a_time, ns, z, phone_port)) = console_setup("tb", "transfer-browser") else {
        return;
    };
    let host = ns.host_ip.to_string();
    // boris's desk phone (102) on our side of the veth: answers, listens 5 s, hangs up.
    let (boris_media, tcpdump) = boris_rx(&ns, &z);
    let boris_xml = format!(
        "  <pause milliseconds=\"5000\"/>\n{}  <recv response=\"200\"/>\n",
        phone_request("BYE", 1, "")
    );
    let boris_scenario = phone_scenario(&z.dir, "boris-desk", &boris_xml);
    let boris = Killed(
        common::uas_command(
            &z.dir,
            &boris_scenario,
            &host,
            phone_port,
            boris_media,
            1,
            120,
        )
        .spawn()
        .expect("sipp boris"),
    );
    let mut browser = anna_in_console(&z, "transfer.mjs", &[("ZVONAR_TARGET", "102")]);
    // The caller speaks all along; zvonar ends the call when boris hangs up.
    let caller = queued_caller(&ns, &z, "console-transfer-caller", 8);
    let r = browser
        .result(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e}\nzvonar log:\n{}", z.log()));
    let (ok, out) = finish(boris);
    assert!(ok, "boris's phone:\n{out}\n{}", z.log());
    let (ok, out) = finish(caller);
    assert!(ok, "the caller:\n{out}\n{}", z.log());
    assert_eq!(
        seen(&r),
        ["accepted", "done"],
        "the panel showed the REFER accepted (202), then the transfer done (NOTIFY 200): {r}"
    );
    let calls = ns_json(&z, "/api/v1/calls?limit=1");
    let id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let q = wait_for("the queue record", Duration::from_secs(15), || {
        let q = ns_json(&z, &format!("/api/v1/queue/calls/{id}"));
        (q["state"] == "transferred").then_some(q)
    });
    assert_eq!(q["agent"], "anna", "{q}");
    // (anna's wrap-up is checked in the desk-phone test: here her browser has closed by now,
    // so she is `disconnected`, the wrap-up kept for her return.)
    let heard = pcma_heard(&tcpdump.finish(), |_| true);
    let rms = common::loudest_window(&heard);
    assert!(
        heard.len() > 8000 * 2 && rms > 300.0,
        "boris hears the caller: {} samples, rms {rms:.0}",
        heard.len()
    );
}

/// Attended transfer from the console (RFC 5589 §7): anna answers the queued caller,
/// «Консультация» puts the caller on hold and calls boris's desk phone (102) on a second
/// session; they talk (boris's phone echoes, so anna hears her own microphone back);
/// «Соединить» sends REFER with `Replaces` naming the consultation. zvonar hands boris's leg
/// over to the caller's call: the caller's speech reaches boris from then on (checked at
/// boris's phone, split at the click), the caller's recording goes on with boris, both of
/// anna's calls end, and the consultation's CDR says `transferred`.
#[test]
fn an_operator_consults_a_colleague_then_joins_the_caller_to_them_attended_transfer() {
    let Some((_one_at_a_time, ns, z, phone_port)) = console_setup("ta", "attended-browser") else {
        return;
    };
    let host = ns.host_ip.to_string();
    // boris's desk phone (102): answers the consultation, echoes what it hears, hangs up
    // 16 s after answering (some 4 s of consultation, then 12 s of the caller).
    let (boris_media, tcpdump) = boris_rx(&ns, &z);
    let boris_xml = format!(
        "  <pause milliseconds=\"16000\"/>\n{}  <recv response=\"200\"/>\n",
        phone_request("BYE", 1, "")
    );
    let boris_scenario = phone_scenario(&z.dir, "boris-desk", &boris_xml);
    let boris = Killed(
        common::uas_command(
            &z.dir,
            &boris_scenario,
            &host,
            phone_port,
            boris_media,
            1,
            120,
        )
        .arg("-rtp_echo")
        .spawn()
        .expect("sipp boris"),
    );
    let mut browser = anna_in_console(&z, "attended.mjs", &[("ZVONAR_TARGET", "102")]);
    let caller = queued_caller(&ns, &z, "attended-caller", 10);
    let r = browser
        .result(Duration::from_secs(150))
        .unwrap_or_else(|e| panic!("{e}\nzvonar log:\n{}", z.log()));
    let (ok, out) = finish(boris);
    assert!(ok, "boris's phone:\n{out}\n{}", z.log());
    let (ok, out) = finish(caller);
    assert!(ok, "the caller:\n{out}\n{}", z.log());
    assert_eq!(
        seen(&r),
        ["accepted", "done"],
        "the panel showed the REFER accepted (202), then the transfer done (NOTIFY 200): {r}"
    );
    let consult_packets = r["consultAudio"]["packetsReceived"].as_u64().unwrap_or(0);
    assert!(
        consult_packets > 50,
        "anna heard boris in the consultation (WebRTC inbound): {r}"
    );
    // zvonar answered anna's consultation when boris answered, not before: her page saw its
    // 183 (ringback as early media), then the 200.
    let steps: Vec<&str> = r["consultLog"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        steps.starts_with(&["ringing", "progress", "talking"]),
        "the consultation rang (183), then was answered: {r}"
    );

    // The two calls: the caller's (queued, then boris) and anna's consultation.
    let (callers, consultation) = caller_and_agent_call(&z);
    assert_eq!(
        consultation["hangup_cause"], "transferred",
        "the consultation ended by the hand-over: {consultation}"
    );
    let id = callers["call_id"].as_str().expect("call id").to_string();
    let detail = ns_json(&z, &format!("/api/v1/calls/{id}"));
    assert_attended_by_anna(&detail);
    let q = ns_json(&z, &format!("/api/v1/queue/calls/{id}"));
    assert_eq!(q["state"], "transferred", "{q}");
    assert_eq!(q["agent"], "anna", "{q}");

    // At boris's phone: anna (the consultation) before the click, the caller after it.
    let joined_us = r["joinedAt"].as_i64().expect("joinedAt") * 1000;
    let bytes = tcpdump.finish();
    let after = pcma_heard(&bytes, |at| at > joined_us + 1_000_000);
    let before = pcma_heard(&bytes, |at| at <= joined_us + 1_000_000);
    let (caller_before, caller_after) = (
        contour_match(&before, &common::problem_speech()),
        contour_match(&after, &common::problem_speech()),
    );
    assert!(
        after.len() > 8000 * 5 && caller_after > 0.6,
        "boris hears the caller after the join: {} samples, caller's contour {caller_after:.2}",
        after.len()
    );
    assert!(
        before.len() > 8000 * 2
            && common::loudest_window(&before) > 300.0
            && caller_before < caller_after - 0.2,
        "before the join boris heard anna, not the caller: {} samples, rms {:.0}, caller's \
         contour {caller_before:.2}",
        before.len(),
        common::loudest_window(&before)
    );
    // The caller's recording goes on with boris (who echoes the caller) on the right.
    let (_, right) = recording_of(&z.dir, &detail);
    // 8 s: more than the caller's 3.5 s phrase plus any offset of it.
    let tail = &right[right.len().saturating_sub(8000 * 8)..];
    let echoed = contour_match(tail, &common::problem_speech());
    assert!(
        echoed > 0.6,
        "the recording's last 8 s carry boris's echo of the caller: contour {echoed:.2}"
    );
    eprintln!(
        "attended transfer e2e: consultation inbound {consult_packets} packets; at boris: \
         caller's contour before {caller_before:.2}, after {caller_after:.2}; recording tail \
         {echoed:.2}"
    );
}

/// boris's desk phone on `port` (our side of the veth) answering the one INVITE it gets
/// with 486 Busy Here.
fn busy_phone(ns: &Netns, z: &NsZvonar, port: u16) -> Killed {
    let busy = z.dir.join("boris-busy.xml");
    std::fs::write(
        &busy,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"busy\">\n  \
             <recv request=\"INVITE\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 486 Busy Here\n{RESPONSE_HEADERS}      \
             Content-Length: 0\n    ]]>\n  </send>\n  <recv request=\"ACK\"/>\n</scenario>\n"
        ),
    )
    .expect("scenario");
    Killed(
        common::uas_command(
            &z.dir,
            &busy,
            &ns.host_ip.to_string(),
            port,
            common::free_media_port(),
            1,
            120,
        )
        .spawn()
        .expect("sipp boris"),
    )
}

/// The colleague anna consults is busy: the consultation fails (486), the console takes the
/// caller off hold (the caller's audio reaches the page again), nothing is transferred, and
/// anna ends the call herself.
#[test]
fn a_consultation_the_colleague_refuses_returns_the_operator_to_the_caller() {
    let Some((_one_at_a_time, ns, z, phone_port)) = console_setup("tc", "attended-busy") else {
        return;
    };
    let boris = busy_phone(&ns, &z, phone_port);
    let mut browser = anna_in_console(
        &z,
        "attended.mjs",
        &[("ZVONAR_TARGET", "102"), ("ZVONAR_CONSULT", "busy")],
    );
    let caller = queued_caller(&ns, &z, "attended-busy-caller", 10);
    let r = browser
        .result(Duration::from_secs(150))
        .unwrap_or_else(|e| panic!("{e}\nzvonar log:\n{}", z.log()));
    let (ok, out) = finish(boris);
    assert!(ok, "boris's phone (486):\n{out}\n{}", z.log());
    let (ok, out) = finish(caller);
    assert!(ok, "the caller:\n{out}\n{}", z.log());
    assert!(seen(&r).is_empty(), "nothing was transferred: {r}");
    let steps: Vec<&str> = r["consultLog"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // zvonar had not answered the consultation (boris never did): it failed with boris's 486
    // as its final response, not with a BYE after an answer.
    assert!(
        steps.first() == Some(&"ringing") && steps.last() == Some(&"failed"),
        "the consultation was placed and failed: {r}"
    );
    let packets = r["packetsAfterUnhold"].as_i64().unwrap_or(0);
    assert!(
        packets > 50,
        "after the un-hold the caller's audio reaches the page again: {packets} packets in 2 s"
    );
    let calls = caller_and_agent_call(&z);
    assert_eq!(calls.1["hangup_cause"], "sip_486", "{}", calls.1);
    let id = calls.0["call_id"].as_str().expect("call id");
    let q = ns_json(&z, &format!("/api/v1/queue/calls/{id}"));
    assert_eq!(
        (q["state"].as_str(), q["agent"].as_str()),
        (Some("ended"), Some("anna")),
        "the caller stayed with anna until she hung up: {q}"
    );
    // Neither call is a missed one: the caller was answered by anna, and anna's unanswered
    // consultation is the company's own call (flow `agent_call`).
    let missed = ns_json(&z, "/api/v1/missed?status=all");
    assert_eq!(missed, serde_json::json!([]), "the missed-calls list");
}

/// Semi-attended transfer: anna joins the caller to boris while boris's phone still rings
/// (it answers 6 s after the INVITE). The caller hears ringback, then boris; the REFER's
/// NOTIFYs end with 200 when boris answers.
#[test]
fn an_operator_joins_the_caller_to_a_colleague_who_still_rings() {
    let Some((_one_at_a_time, ns, z, phone_port)) = console_setup("td", "attended-early") else {
        return;
    };
    let host = ns.host_ip.to_string();
    let (boris_media, tcpdump) = boris_rx(&ns, &z);
    // Rings 6 s, answers, listens 8 s, hangs up.
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"late\">\n{}  \
         <pause milliseconds=\"8000\"/>\n{}  <recv response=\"200\"/>\n  \
         <Reference variables=\"their_from,our_to,their_contact\"/>\n</scenario>\n",
        answer_xml().replace(
            "<pause milliseconds=\"500\"/>",
            "<pause milliseconds=\"6000\"/>"
        ),
        phone_request("BYE", 1, "")
    );
    let late = z.dir.join("boris-late.xml");
    std::fs::write(&late, xml).expect("scenario");
    let boris = Killed(
        common::uas_command(&z.dir, &late, &host, phone_port, boris_media, 1, 120)
            .spawn()
            .expect("sipp boris"),
    );
    let mut browser = anna_in_console(
        &z,
        "attended.mjs",
        &[("ZVONAR_TARGET", "102"), ("ZVONAR_CONSULT", "early")],
    );
    let caller = queued_caller(&ns, &z, "attended-early-caller", 10);
    let r = browser
        .result(Duration::from_secs(150))
        .unwrap_or_else(|e| panic!("{e}\nzvonar log:\n{}", z.log()));
    let (ok, out) = finish(boris);
    assert!(ok, "boris's phone:\n{out}\n{}", z.log());
    let (ok, out) = finish(caller);
    assert!(ok, "the caller:\n{out}\n{}", z.log());
    assert_eq!(
        seen(&r),
        ["accepted", "done"],
        "the panel showed the REFER accepted, then done when boris answered: {r}"
    );
    // While boris rang, anna's panel said so: zvonar answers her consultation only when
    // boris answers (183 until then), and «Соединить» worked on the early dialog.
    assert!(
        r["consultStatus"]
            .as_str()
            .is_some_and(|t| t.contains("вызов…")),
        "the panel showed the colleague still ringing when «Соединить» was clicked: {r}"
    );
    let calls = caller_and_agent_call(&z);
    assert_eq!(calls.1["hangup_cause"], "transferred", "{}", calls.1);
    assert_eq!(calls.0["hangup_cause"], "party_bye", "{}", calls.0);
    let heard = pcma_heard(&tcpdump.finish(), |_| true);
    let caller_in = contour_match(&heard, &common::problem_speech());
    assert!(
        heard.len() > 8000 * 5 && caller_in > 0.6,
        "boris, answering after the join, hears the caller: {} samples, contour {caller_in:.2}",
        heard.len()
    );
}

/// A REFER whose `Replaces` names no call zvonar has (a stale or foreign dialog): accepted,
/// then failed as the transferee's INVITE would be (NOTIFY 481, RFC 3891 §3); nothing moves,
/// and anna's conversation with the caller goes on until she hangs up.
#[test]
fn a_refer_replacing_an_unknown_dialog_fails_with_481_and_the_call_goes_on() {
    let z = common::Zvonar::start_with(
        "transfer-stale-replaces",
        common::Options {
            dialplan: Some(DESK_DIALPLAN.to_string()),
            extra_config: format!("[sip.registrar]\nrealm = \"{REALM}\"\nalgorithms = [\"MD5\"]\n"),
            ..common::Options::default()
        },
    );
    let (ok, out) = z.cli(
        &["user", "add", "--login", "anna", "--role", "operator"],
        "пароль anna 1\n",
    );
    assert!(ok, "{out}");
    let (ok, out) = z.cli(
        &["sip-account", "add", "101", "--login", "anna"],
        "secret-101\n",
    );
    assert!(ok, "{out}");
    let anna_port = free_port();
    z.register_account("101", "secret-101", anna_port);
    let anna = z.log_in("anna", "пароль anna 1");
    let (status, _, body) =
        common::http_request(z.http_port, "POST", "/api/v1/queue/agent/login", &anna, "");
    assert_eq!(status, 200, "{body}");
    // anna answers, talks 2 s, sends the REFER (202, NOTIFY 100, NOTIFY 481), talks 2 s
    // more and hangs up herself.
    let refer = phone_request(
        "REFER",
        1,
        "      Refer-To: <sip:102@127.0.0.1?Replaces=gone%40127.0.0.1%3Bto-tag%3Dz1%3Bfrom-tag%3Da1>\n      \
         Referred-By: <sip:101@127.0.0.1>\n",
    );
    let anna_xml = format!(
        "  <pause milliseconds=\"2000\"/>\n{refer}  <recv response=\"202\"/>\n{}{}  \
         <pause milliseconds=\"2000\"/>\n{}  <recv response=\"200\"/>\n  \
         <Reference variables=\"frag100,sub100,ev100,frag481,sub481,ev481\"/>\n",
        notify_step(100, "active"),
        notify_step(481, "terminated"),
        phone_request("BYE", 2, ""),
    );
    let anna_phone = desk_phone(
        &z.dir,
        &phone_scenario(&z.dir, "anna", &anna_xml),
        "127.0.0.1",
        anna_port,
        false,
    );
    let scenario = write_scenario(
        &z.dir,
        "stale-replaces-caller",
        "+79035550202",
        "+74951234567",
        &[Step::SayMeanwhile(common::problem_speech())],
        60_000,
    );
    let (ok, caller_out) = common::run_sipp(&z, &scenario, "u1", 60);
    let (anna_ok, anna_out) = finish(anna_phone);
    assert!(
        anna_ok,
        "anna's phone (REFER, 202, NOTIFY 100 and 481, her BYE):\n{anna_out}\n{}",
        z.log()
    );
    assert!(
        ok,
        "the caller (BYE from zvonar when anna hung up):\n{caller_out}"
    );
    let calls = z.get_json("/api/v1/calls?limit=1");
    let id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let detail = wait_for("the CDR", Duration::from_secs(20), || {
        let d = z.get_json(&format!("/api/v1/calls/{id}"));
        (!d["cdr"]["hangup_cause"].is_null()).then_some(d)
    });
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"agent_connected") && !kinds.contains(&"transferred"),
        "{kinds:?}"
    );
    assert_eq!(
        detail["cdr"]["hangup_cause"], "party_bye",
        "{}",
        detail["cdr"]
    );
    let q = z.get_json(&format!("/api/v1/queue/calls/{id}"));
    assert_eq!(
        (q["state"].as_str(), q["agent"].as_str()),
        (Some("ended"), Some("anna")),
        "{q}"
    );
}

/// A browser that offers only Opus (RFC 7587) places a call (click-to-call) to boris's desk
/// phone (G.711, echoing): zvonar answers Opus and transcodes it both ways. The page
/// receives Opus with audio in it (boris's echo of anna's microphone), boris hears anna, and
/// the recording has both sides.
#[test]
fn a_browser_offering_only_opus_is_transcoded_to_and_from_g711() {
    let Some((_one_at_a_time, ns, z, phone_port)) = console_setup("to", "opus-browser") else {
        return;
    };
    let host = ns.host_ip.to_string();
    let (boris_media, tcpdump) = boris_rx(&ns, &z);
    // Answers, echoes for 20 s (anna hangs up before), takes her BYE.
    let boris_xml = bye_answered(30_000);
    let boris_scenario = phone_scenario(&z.dir, "boris-echo", &boris_xml);
    let boris = Killed(
        common::uas_command(
            &z.dir,
            &boris_scenario,
            &host,
            phone_port,
            boris_media,
            1,
            120,
        )
        .arg("-rtp_echo")
        .spawn()
        .expect("sipp boris"),
    );
    let mut browser = anna_in_console(&z, "opus.mjs", &[("ZVONAR_TARGET", "102")]);
    let r = browser
        .result(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e}\nzvonar log:\n{}", z.log()));
    let (ok, out) = finish(boris);
    assert!(ok, "boris's phone:\n{out}\n{}", z.log());
    assert_eq!(
        r["inbound"]["codec"], "audio/opus",
        "the page received Opus: {r}"
    );
    assert!(
        r["inbound"]["packetsReceived"].as_u64().unwrap_or(0) >= 200
            && r["maxLevel"].as_f64().unwrap_or(0.0) > 0.01,
        "boris's echo reached the page through Opus: {r}"
    );
    let heard = pcma_heard(&tcpdump.finish(), |_| true);
    let rms = common::loudest_window(&heard);
    assert!(
        heard.len() > 8000 * 3 && rms > 300.0,
        "boris hears anna (Opus → PCMA): {} samples, rms {rms:.0}",
        heard.len()
    );
    let calls = ns_json(&z, "/api/v1/calls?limit=1");
    let id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let detail = wait_for("the CDR", Duration::from_secs(20), || {
        let d = ns_json(&z, &format!("/api/v1/calls/{id}"));
        (!d["cdr"]["recording"].is_null() && !d["cdr"]["hangup_cause"].is_null()).then_some(d)
    });
    let (left, right) = recording_of(&z.dir, &detail);
    let (party, operator) = (
        common::loudest_window(&left),
        common::loudest_window(&right),
    );
    assert!(
        party > 300.0 && operator > 300.0,
        "both sides recorded: boris (left) rms {party:.0}, anna (right) rms {operator:.0}"
    );
    eprintln!(
        "opus e2e: page inbound {} packets of {}, level max {:.3}; boris heard rms {rms:.0}; \
         recording rms boris {party:.0} anna {operator:.0}",
        r["inbound"]["packetsReceived"],
        r["inbound"]["codec"],
        r["maxLevel"].as_f64().unwrap_or(0.0)
    );
}

/// A desk phone registered over UDP dials out: zvonar challenges its INVITE (407, RFC 3261
/// §22.3), the phone answers with its account's password, and the call is the agent's own:
/// extension 102 rings (the dialplan would have put a caller from outside in the queue).
#[test]
fn a_desk_phone_over_udp_dials_an_extension_after_digest_authentication() {
    let (z, anna_port, boris_port) =
        two_desk_phones("desk-dial-out", DESK_DIALPLAN.to_string(), "");
    // boris's phone answers and waits for the BYE zvonar passes on when anna hangs up.
    let boris_xml = bye_answered(30_000);
    let boris = desk_phone(
        &z.dir,
        &phone_scenario(&z.dir, "boris", &boris_xml),
        "127.0.0.1",
        boris_port,
        false,
    );
    let anna =
        common::desk_phone_call_scenario(&z.dir, "anna-dials", "101", "secret-101", "102", 3000);
    let out = common::caller_command_from(
        &z.dir,
        &anna,
        &format!("127.0.0.1:{}", z.sip_port),
        "127.0.0.1",
        anna_port,
        common::free_media_port(),
        40,
    )
    .output()
    .expect("sipp anna");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "anna's phone: 407, INVITE with credentials, 200, BYE:\n{text}\n{}",
        z.log()
    );
    let (ok, out) = finish(boris);
    assert!(
        ok,
        "boris's phone rang and got the BYE:\n{out}\n{}",
        z.log()
    );
    let calls = z.get_json("/api/v1/calls?limit=1");
    assert_eq!(calls[0]["flow"], "agent_call", "{}", calls[0]);
    assert_eq!(calls[0]["callee"], "102", "{}", calls[0]);
}

/// The number of the resident the own-call tests call back (behind the trunk).
const RESIDENT: &str = "+79035550303";

/// An own-call test's world ([`own_call_setup`]).
struct OwnCallSetup {
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
    ns: Netns,
    z: NsZvonar,
    /// Where boris's desk phone (102, registered from our side of the veth) listens.
    boris_port: u16,
    /// A ticket with the resident's number, to call back from.
    ticket: i64,
    /// The resident behind the trunk ([`resident_scenario`]): answers, speaks, waits for BYE.
    resident: Killed,
}

/// An own-call test's start: one browser test at a time, a namespace `tag`, zvonar `name`
/// with [`DESK_DIALPLAN`] and a trunk on our side of the veth (caller ID 74951234567),
/// operators anna (101) and boris (102, desk phone registered), a ticket with [`RESIDENT`]'s
/// number, and the resident answering the trunk and saying the problem `times` times. `None`
/// (with a message) where namespaces cannot be made.
fn own_call_setup(tag: &str, name: &str, times: usize) -> Option<OwnCallSetup> {
    let guard = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(why) = common::netns::possible() {
        eprintln!("SKIPPED: network namespaces cannot be made here ({why}); needs root");
        return None;
    }
    let ns = Netns::create(tag);
    let host = ns.host_ip.to_string();
    let trunk_port = free_port();
    let z = NsZvonar::start_with(
        &ns,
        name,
        Some(DESK_DIALPLAN),
        &format!("trusted = [\"{host}/32\"]"),
        &format!(
            "[sip.registrar]\nrealm = \"{REALM}\"\nalgorithms = [\"MD5\"]\n\n{}",
            trunk_toml(&host, trunk_port)
        ),
    );
    for (login, account) in [("anna", "101"), ("boris", "102")] {
        z.cli(
            &["user", "add", "--login", login, "--role", "operator"],
            &format!("пароль {login} 1\n"),
        );
        z.cli(
            &["sip-account", "add", account, "--login", login],
            &format!("secret-{account}\n"),
        );
    }
    let boris_port = register_from_host(&ns, &z, "102", "secret-102");
    let ticket = ticket_to_call_back(&z, RESIDENT);
    let resident =
        resident_behind_trunk(&z.dir, &host, trunk_port, common::free_media_port(), times);
    Some(OwnCallSetup {
        _one_at_a_time: guard,
        ns,
        z,
        boris_port,
        ticket,
        resident,
    })
}

/// anna's console in Chromium (fake microphone: Chromium's beeps) running `script` with
/// `env`, calling back from `ticket`; its `RESULT`.
fn anna_calls_back(z: &NsZvonar, ticket: i64, script: &str, env: &[(&str, &str)]) -> Value {
    let url = format!("http://{}", z.http);
    let chromium_args = [
        "--use-fake-device-for-media-stream".to_string(),
        "--use-fake-ui-for-media-stream".to_string(),
        format!("--unsafely-treat-insecure-origin-as-secure={url}"),
    ];
    let ticket = ticket.to_string();
    let mut env = env.to_vec();
    env.extend([
        ("ZVONAR_LOGIN", "anna"),
        ("ZVONAR_PASSWORD", "пароль anna 1"),
        ("ZVONAR_TICKET", ticket.as_str()),
    ]);
    LiveScript::start(script, "e2e_transfer", &url, &chromium_args, &env)
        .result(Duration::from_secs(180))
        .unwrap_or_else(|e| panic!("{e}\nzvonar log:\n{}", z.log()))
}

/// The CDR of anna's call to the resident (flow `agent_call`, callee [`RESIDENT`]) with its
/// timeline, once it has ended and its recording is known.
fn own_call_cdr(z: &NsZvonar) -> Value {
    wait_for("the own call's CDR", Duration::from_secs(20), || {
        let calls = ns_json(z, "/api/v1/calls?limit=5");
        let id = calls
            .as_array()?
            .iter()
            .find(|c| c["callee"] == RESIDENT && c["flow"] == "agent_call")?["call_id"]
            .as_str()?
            .to_string();
        let d = ns_json(z, &format!("/api/v1/calls/{id}"));
        (!d["cdr"]["hangup_cause"].is_null() && !d["cdr"]["recording"].is_null()).then_some(d)
    })
}

/// The operator calls a resident back from a ticket (click-to-call through the trunk) and
/// then transfers the resident to boris's desk phone (102) with «Перевести»: a blind transfer
/// of a call the operator placed. zvonar rings boris for the resident (two outgoing legs
/// bridged), reports the progress in NOTIFYs, ends anna's call once boris answered, and the
/// call's one recording goes on: the resident on the left all along, boris on the right
/// after anna. boris hangs up after a few seconds, and zvonar ends the resident's leg.
#[test]
fn an_operator_transfers_the_resident_she_called_to_a_colleagues_desk_phone() {
    let Some(OwnCallSetup {
        _one_at_a_time,
        ns,
        z,
        boris_port,
        ticket,
        resident,
    }) = own_call_setup("to", "transfer-own", 5)
    else {
        return;
    };
    let host = ns.host_ip.to_string();
    // boris answers, says digits, and hangs up 8 s later; what reaches him is captured.
    let boris_says: Vec<i16> = ["4", "5", "6", "7", "8", "9"]
        .iter()
        .flat_map(|d| common::digits_wav(d))
        .collect();
    let boris_pcap = z.dir.join("boris-speech.pcap");
    let (mut seq, mut ts) = (500u16, 9000u32);
    common::write_pcap(
        &boris_pcap,
        &common::speech_packets(&boris_says, &mut seq, &mut ts),
    );
    let (boris_media, tcpdump) = boris_rx(&ns, &z);
    let boris_xml = format!(
        "  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  \
         <pause milliseconds=\"8000\"/>\n{}  <recv response=\"200\"/>\n",
        boris_pcap.display(),
        phone_request("BYE", 1, "")
    );
    let boris = Killed(
        common::uas_command(
            &z.dir,
            &phone_scenario(&z.dir, "boris-desk", &boris_xml),
            &host,
            boris_port,
            boris_media,
            1,
            120,
        )
        .spawn()
        .expect("sipp boris"),
    );

    let r = anna_calls_back(&z, ticket, "own_transfer.mjs", &[("ZVONAR_TARGET", "102")]);
    let (ok, out) = finish(boris);
    assert!(
        ok,
        "boris's phone answered and hung up:\n{out}\n{}",
        z.log()
    );
    let (ok, out) = finish(resident);
    assert!(
        ok,
        "the resident got our BYE after boris hung up:\n{out}\n{}",
        z.log()
    );
    assert_eq!(
        seen(&r),
        ["accepted", "done"],
        "the panel showed the REFER accepted (202), then the transfer done (NOTIFY 200): {r}"
    );
    let choices: Vec<&str> = r["choices"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        !choices.iter().any(|c| c.contains("Очередь")),
        "no queue is offered for a call the operator placed: {choices:?}"
    );

    // boris hears the resident.
    let heard = pcma_heard(&tcpdump.finish(), |_| true);
    let rms = common::loudest_window(&heard);
    let resident_at_boris = contour_match(&heard, &common::problem_speech());
    assert!(
        heard.len() > 8000 * 3 && rms > 300.0 && resident_at_boris > 0.6,
        "boris hears the resident: {} samples, rms {rms:.0}, contour match {resident_at_boris:.2}",
        heard.len()
    );

    // One CDR: anna's call to the resident, transferred by anna to 102, ended by boris.
    let detail = own_call_cdr(&z);
    assert_eq!(detail["cdr"]["hangup_cause"], "party_bye", "{detail}");
    let timeline = detail["timeline"].as_array().expect("timeline");
    let kinds: Vec<&str> = timeline.iter().filter_map(|e| e["kind"].as_str()).collect();
    let at = |k: &str, from: usize| {
        kinds[from..]
            .iter()
            .position(|x| *x == k)
            .map(|p| p + from)
            .unwrap_or_else(|| panic!("no {k} after {from} in {kinds:?}"))
    };
    let transferred = at("transferred", 0);
    assert!(
        at("bridged", 0) < transferred && at("dialling", transferred) < at("bridged", transferred),
        "the resident bridged to anna, transferred, boris rung and bridged: {kinds:?}"
    );
    let t = &timeline[transferred]["payload"];
    assert_eq!(
        (t["agent"].as_str(), t["target"].as_str()),
        (Some("anna"), Some("account:102")),
        "{t}"
    );
    let ends: Vec<&str> = timeline
        .iter()
        .filter(|e| e["kind"] == "unbridged")
        .filter_map(|e| e["payload"]["ended_by"].as_str())
        .collect();
    assert_eq!(
        ends,
        ["transferred", "party"],
        "anna's part ended by the transfer, boris's by boris: {kinds:?}"
    );

    // The recording: one file, the resident on the left from the start, boris on the right
    // after the transfer (his digits), not on the left.
    let (left, right) = recording_of(&z.dir, &detail);
    let resident_left = contour_match(&left, &common::problem_speech());
    let (boris_left, boris_right) = (
        contour_match(&left, &boris_says),
        contour_match(&right, &boris_says),
    );
    assert!(
        resident_left > 0.6 && boris_right > 0.6 && boris_right > boris_left + 0.2,
        "resident's contour on the left {resident_left:.2}; boris's on the right {boris_right:.2}, \
         on the left {boris_left:.2}"
    );
    // It lasts past boris's 8 s with the resident.
    let secs = left.len() as f64 / 8000.0;
    assert!(secs > 9.0, "recording of {secs:.1} s");
    eprintln!(
        "own-call transfer e2e: transfer took {} ms; boris heard rms {rms:.0} (match {resident_at_boris:.2}); \
         recording {secs:.1} s: resident left {resident_left:.2}, boris right {boris_right:.2} / left {boris_left:.2}",
        r["transferMs"]
    );
}

/// anna calls the resident back and transfers the resident to boris (102), whose phone is
/// busy (486): the panel says the transfer failed, the call goes on (the resident's speech
/// reaches anna's page again, after the ringback), the timeline shows the attempt, and anna
/// then hangs up, which ends the resident's leg. The recording is one file to the end.
#[test]
fn a_transfer_of_a_call_the_operator_placed_that_the_colleague_refuses_leaves_the_resident_with_her(
) {
    let Some(OwnCallSetup {
        _one_at_a_time,
        ns,
        z,
        boris_port,
        ticket,
        resident,
    }) = own_call_setup("tf", "transfer-own-busy", 6)
    else {
        return;
    };
    let boris = busy_phone(&ns, &z, boris_port);
    let r = anna_calls_back(
        &z,
        ticket,
        "own_transfer.mjs",
        &[("ZVONAR_TARGET", "102"), ("ZVONAR_EXPECT", "failed")],
    );
    let (ok, out) = finish(boris);
    assert!(ok, "boris's phone (486):\n{out}\n{}", z.log());
    let (ok, out) = finish(resident);
    assert!(
        ok,
        "the resident stayed on the call and got our BYE when anna hung up:\n{out}\n{}",
        z.log()
    );
    assert_eq!(
        seen(&r),
        ["accepted", "failed"],
        "the panel showed the REFER accepted (202), then the transfer failed (NOTIFY 486): {r}"
    );
    let (energy, packets) = (
        r["energyAfter"].as_f64().unwrap_or(0.0),
        r["packetsAfter"].as_i64().unwrap_or(0),
    );
    assert!(
        packets > 50 && energy > 0.0005,
        "after the failed transfer the resident's speech reaches anna again: {packets} packets, \
         energy {energy} in 2 s"
    );
    let detail = own_call_cdr(&z);
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    let pos = |k: &str| kinds.iter().position(|x| *x == k);
    assert!(
        matches!((pos("transferred"), pos("dial_failed")), (Some(t), Some(f)) if t < f),
        "transferred, then the attempt failed: {kinds:?}"
    );
    assert_eq!(detail["cdr"]["hangup_cause"], "caller_bye", "{detail}");
    // One recording to the end: the resident on the left, before and after the attempt.
    let (left, _) = recording_of(&z.dir, &detail);
    let tail = &left[left.len().saturating_sub(8000 * 2)..];
    let secs = left.len() as f64 / 8000.0;
    let talk_s = detail["cdr"]["talk_ms"].as_f64().unwrap_or(0.0) / 1000.0;
    assert!(
        secs + 0.5 >= talk_s && common::loudest_window(tail) > 300.0,
        "the recording ({secs:.1} s, talk {talk_s:.1} s) has the resident to its end"
    );
    eprintln!(
        "own-call transfer to a busy colleague e2e: failed after {} ms; then {packets} packets, \
         energy {energy:.4} in 2 s at anna's page; recording {secs:.1} s",
        r["transferMs"]
    );
}

/// anna calls the resident back, consults boris about it («Консультация»: the resident on
/// hold, boris's desk phone echoes), and joins them («Соединить», REFER with Replaces on the
/// call she placed): boris's leg is taken out of the consultation and bridged to the
/// resident's, both of anna's calls end, boris hears the resident, and the recording goes on
/// with boris's echo of the resident on the right.
#[test]
fn an_operator_consults_a_colleague_about_the_resident_she_called_then_joins_them() {
    let Some(OwnCallSetup {
        _one_at_a_time,
        ns,
        z,
        boris_port,
        ticket,
        resident,
    }) = own_call_setup("tj", "attended-own", 10)
    else {
        return;
    };
    let (boris_media, tcpdump) = boris_rx(&ns, &z);
    let boris_xml = format!(
        "  <pause milliseconds=\"16000\"/>\n{}  <recv response=\"200\"/>\n",
        phone_request("BYE", 1, "")
    );
    let boris = Killed(
        common::uas_command(
            &z.dir,
            &phone_scenario(&z.dir, "boris-desk", &boris_xml),
            &ns.host_ip.to_string(),
            boris_port,
            boris_media,
            1,
            120,
        )
        .arg("-rtp_echo")
        .spawn()
        .expect("sipp boris"),
    );
    let r = anna_calls_back(&z, ticket, "attended.mjs", &[("ZVONAR_TARGET", "102")]);
    let (ok, out) = finish(boris);
    assert!(ok, "boris's phone:\n{out}\n{}", z.log());
    let (ok, out) = finish(resident);
    assert!(ok, "the resident got our BYE:\n{out}\n{}", z.log());
    assert_eq!(
        seen(&r),
        ["accepted", "done"],
        "the panel showed the REFER accepted (202), then the transfer done (NOTIFY 200): {r}"
    );
    let steps: Vec<&str> = r["consultLog"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        steps.starts_with(&["ringing", "progress", "talking"]),
        "the consultation rang (183), then was answered: {r}"
    );
    let detail = own_call_cdr(&z);
    assert_attended_by_anna(&detail);
    let consultation = wait_for("the consultation's CDR", Duration::from_secs(20), || {
        ns_json(&z, "/api/v1/calls?limit=5")
            .as_array()?
            .iter()
            .find(|c| c["callee"] == "102" && !c["ended_at"].is_null())
            .cloned()
    });
    assert_eq!(
        consultation["hangup_cause"], "transferred",
        "the consultation ended by the hand-over: {consultation}"
    );
    // At boris's phone, after the join: the resident.
    let joined_us = r["joinedAt"].as_i64().expect("joinedAt") * 1000;
    let after = pcma_heard(&tcpdump.finish(), |at| at > joined_us + 1_000_000);
    let resident_at_boris = contour_match(&after, &common::problem_speech());
    assert!(
        after.len() > 8000 * 5 && resident_at_boris > 0.6,
        "boris hears the resident after the join: {} samples, contour {resident_at_boris:.2}",
        after.len()
    );
    // The recording: the resident on the left; boris's echo of the resident on the right at
    // the end.
    let (resident_left, echoed) = resident_left_echo_right(&z.dir, &detail);
    eprintln!(
        "own-call attended transfer e2e: at boris after the join: contour {resident_at_boris:.2}; \
         recording: resident left {resident_left:.2}, echo right {echoed:.2}"
    );
}

/// A desk phone over UDP calls a resident through the trunk and transfers the resident to
/// boris (102) the way many desk phones do a blind transfer: REFER, the 202 and the first
/// NOTIFY (and a second REFER, refused 491 while the first one rings), then BYE at once. zvonar goes on ringing boris for the resident (his phone rings
/// 1 s), bridges them when he answers, and the call's recording goes on with boris (who
/// echoes the resident) on the right. On loopback.
#[test]
fn a_desk_phone_transfers_the_resident_it_called_and_hangs_up_at_once() {
    let trunk_port = free_port();
    let (z, anna_port, boris_port) = two_desk_phones(
        "desk-own-transfer",
        DESK_DIALPLAN.to_string(),
        &trunk_toml("127.0.0.1", trunk_port),
    );
    // The resident behind the trunk speaks all along and waits for our BYE.
    let resident = resident_behind_trunk(
        &z.dir,
        "127.0.0.1",
        trunk_port,
        common::free_media_port(),
        6,
    );
    // boris's phone rings 1 s (so that anna's phone has hung up before it does), answers,
    // echoes what it hears for 9 s (so it holds a whole 3.5 s phrase of the resident's
    // however the phrases fall) and hangs up.
    let boris_media = common::free_media_port();
    let tcpdump = common::Capture::start(
        "lo",
        &format!("udp and dst port {boris_media}"),
        &z.dir.join("boris-rx.pcap"),
    );
    let boris_xml = format!(
        "  <pause milliseconds=\"9000\"/>\n{}  <recv response=\"200\"/>\n",
        phone_request("BYE", 1, "")
    );
    let boris_scenario = phone_scenario(&z.dir, "boris", &boris_xml);
    let slow = std::fs::read_to_string(&boris_scenario)
        .expect("scenario")
        .replacen(
            "  <send>\n    <![CDATA[\n      SIP/2.0 180",
            "  <pause milliseconds=\"1000\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 180",
            1,
        );
    std::fs::write(&boris_scenario, slow).expect("scenario");
    let boris = Killed(
        common::uas_command(
            &z.dir,
            &boris_scenario,
            "127.0.0.1",
            boris_port,
            boris_media,
            1,
            120,
        )
        .arg("-rtp_echo")
        .spawn()
        .expect("sipp boris"),
    );
    // anna takes queue calls; her states are watched: on a call from her INVITE on, and in
    // wrap-up from the transfer on, while the resident still talks to boris.
    let anna_session = z.log_in("anna", "пароль anna 1");
    let (status, _, body) = common::http_request(
        z.http_port,
        "POST",
        "/api/v1/queue/agent/login",
        &anna_session,
        "",
    );
    assert_eq!(status, 200, "anna logs in to the queue: {body}");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (port, token, done) = (z.http_port, z.token.clone(), done.clone());
        std::thread::spawn(move || {
            // (anna's state, whether the resident's call was still up), each change.
            let mut seen: Vec<(String, bool)> = Vec::new();
            let auth = [format!("Authorization: Bearer {token}")];
            loop {
                let last = done.load(std::sync::atomic::Ordering::SeqCst);
                let (_, _, q) = common::http_request(port, "GET", "/api/v1/queue", &auth, "");
                let (_, _, c) =
                    common::http_request(port, "GET", "/api/v1/calls?limit=1", &auth, "");
                let q: Value = serde_json::from_str(&q).unwrap_or(Value::Null);
                let c: Value = serde_json::from_str(&c).unwrap_or(Value::Null);
                let up = c[0]["call_id"].is_string() && c[0]["ended_at"].is_null();
                if let Some(st) = agent_of(&q, "anna")["state"].as_str() {
                    if seen.last().map(|(s, _)| s.as_str()) != Some(st) {
                        seen.push((st.to_string(), up));
                    }
                }
                if last {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            seen
        })
    };
    let anna = common::desk_phone_call_scenario_then(
        &z.dir,
        "anna-transfers",
        "101",
        "secret-101",
        RESIDENT,
        3000,
        Some("102"),
    );
    // Before hanging up, the phone sends the REFER again: one transfer at a time, so 491.
    let xml = std::fs::read_to_string(&anna).expect("scenario");
    let refer_at = xml.find("REFER sip:").expect("REFER");
    let start = xml[..refer_at].rfind("  <send").expect("REFER's send");
    let end = refer_at + xml[refer_at..].find("</send>\n").expect("REFER's end") + 8;
    let again = xml[start..end].replace("CSeq: 3 REFER", "CSeq: 4 REFER");
    let bye_at = xml.find("BYE sip:").expect("BYE");
    let bye = xml[..bye_at].rfind("  <send").expect("BYE's send");
    let xml = format!(
        "{}{again}  <recv response=\"491\"/>\n{}",
        &xml[..bye],
        xml[bye..].replace("CSeq: 4 BYE", "CSeq: 5 BYE")
    );
    std::fs::write(&anna, xml).expect("scenario");
    let out = common::caller_command_from(
        &z.dir,
        &anna,
        &format!("127.0.0.1:{}", z.sip_port),
        "127.0.0.1",
        anna_port,
        common::free_media_port(),
        40,
    )
    .output()
    .expect("sipp anna");
    assert!(
        out.status.success(),
        "anna's phone: the call, REFER, 202, NOTIFY, REFER again, 491, BYE:\n{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        z.log()
    );
    let (ok, boris_out) = finish(boris);
    assert!(ok, "boris's phone:\n{boris_out}\n{}", z.log());
    let (ok, resident_out) = finish(resident);
    assert!(
        ok,
        "the resident got our BYE when boris hung up:\n{resident_out}\n{}",
        z.log()
    );
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let anna_states = watcher.join().expect("watcher");
    let on_call = anna_states.iter().position(|(s, _)| s == "on_call");
    let wrap_up = anna_states.iter().position(|(s, _)| s == "wrap_up");
    assert!(
        matches!((on_call, wrap_up), (Some(o), Some(w)) if o < w && anna_states[w].1),
        "anna on a call, then in wrap-up while the resident's call went on with boris: \
         {anna_states:?}"
    );
    // boris hears the resident.
    let heard = pcma_heard(&tcpdump.finish(), |_| true);
    let resident_at_boris = contour_match(&heard, &common::problem_speech());
    assert!(
        heard.len() > 8000 * 3 && resident_at_boris > 0.6,
        "boris hears the resident: {} samples, rms {:.0}, contour {resident_at_boris:.2}\n{}",
        heard.len(),
        common::loudest_window(&heard),
        z.log()
    );
    let calls = z.get_json("/api/v1/calls?limit=1");
    let id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let detail = wait_for("the CDR", Duration::from_secs(20), || {
        let d = z.get_json(&format!("/api/v1/calls/{id}"));
        (!d["cdr"]["hangup_cause"].is_null() && !d["cdr"]["recording"].is_null()).then_some(d)
    });
    assert_eq!(
        (
            detail["cdr"]["flow"].as_str(),
            detail["cdr"]["callee"].as_str()
        ),
        (Some("agent_call"), Some(RESIDENT)),
        "{detail}"
    );
    let timeline = detail["timeline"].as_array().expect("timeline");
    let t = timeline
        .iter()
        .find(|e| e["kind"] == "transferred")
        .map(|e| &e["payload"])
        .unwrap_or_else(|| panic!("no transferred in {timeline:?}"));
    assert_eq!(
        (t["agent"].as_str(), t["target"].as_str()),
        (Some("anna"), Some("account:102")),
        "{t}"
    );
    let ends: Vec<&str> = timeline
        .iter()
        .filter(|e| e["kind"] == "unbridged")
        .filter_map(|e| e["payload"]["ended_by"].as_str())
        .collect();
    assert_eq!(ends, ["transferred", "party"], "{timeline:?}");
    // The recording: the resident on the left; boris's echo of the resident on the right at
    // the end.
    let (resident_left, echoed) = resident_left_echo_right(&z.dir, &detail);
    eprintln!(
        "desk-phone own-call transfer e2e: boris heard contour {resident_at_boris:.2}; \
         recording: resident left {resident_left:.2}, echo right {echoed:.2}"
    );
}
