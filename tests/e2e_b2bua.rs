//! End to end, the B2BUA: a caller (SIPp signalling, this test's own RTP endpoint for the
//! caller's audio) calls a running `zvonar serve`; a `dial` flow rings a SIPp UAS as the
//! far party (a SIP URI, or a SIP account registered with digest auth); zvonar bridges the
//! two legs. The party answers PCMU while the caller speaks PCMA, so audio crosses the bridge
//! transcoded through PCM. Checked: audio both ways (a 1 kHz tone from the party reaches the
//! caller and the right channel of the stereo recording; the caller's speech is on the left),
//! RFC 4733 digits from the party regenerated towards the caller, BYE passed on either way,
//! CANCEL on the ring timeout, the fallback flow on busy and no answer, CDR and timeline.

mod common;

use common::{free_port, problem_speech, sipp, Options, Zvonar};
use serde_json::Value;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zvonar_voice::codec::Codec;

const REALM: &str = "e2e.zvonar";
/// The party's tone, Hz.
const PARTY_HZ: f64 = 1000.0;

/// A mono 8 kHz WAV of `ms` of a `hz` tone, for the fallback flow's prompt.
fn tone_wav(path: &Path, hz: f64, ms: u32) {
    common::write_mono_wav(path, &tone(hz, ms));
}

fn tone(hz: f64, ms: u32) -> Vec<i16> {
    (0..ms * 8)
        .map(|n| (8000.0 * (2.0 * std::f64::consts::PI * hz * f64::from(n) / 8000.0).sin()) as i16)
        .collect()
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The party's media: `ms` of the tone as PCMU (PT 0), then RFC 4733 key `7` (PT 101,
/// 100 ms, end packet three times), then more tone.
fn party_pcap(path: &Path, ms: u32) {
    let (mut seq, mut ts) = (500u16, 80_000u32);
    let ssrc = 0x7a7a_0002;
    let mut packets = Vec::new();
    let push_tone = |packets: &mut Vec<Vec<u8>>, seq: &mut u16, ts: &mut u32, ms: u32| {
        for c in tone(PARTY_HZ, ms).chunks(160) {
            packets.push(rtp(0, false, *seq, *ts, ssrc, &Codec::Pcmu.encode(c)));
            *seq = seq.wrapping_add(1);
            *ts = ts.wrapping_add(160);
        }
    };
    push_tone(&mut packets, &mut seq, &mut ts, ms);
    let start = ts;
    for i in 0..5u16 {
        let end = i == 4;
        let dur = (i + 1) * 160;
        let payload = [
            7,
            if end { 0x80 | 10 } else { 10 },
            (dur >> 8) as u8,
            dur as u8,
        ];
        for _ in 0..if end { 3 } else { 1 } {
            packets.push(rtp(101, i == 0, seq, start, ssrc, &payload));
            seq = seq.wrapping_add(1);
        }
    }
    ts = ts.wrapping_add(800);
    push_tone(&mut packets, &mut seq, &mut ts, ms);
    common::write_pcap(path, &packets);
}

/// How the SIPp party behaves.
enum Party {
    /// Rings, answers PCMU, plays the pcap, then waits for BYE (`None`), or puts zvonar on
    /// hold half-way through this many ms and hangs up at their end.
    Answer { hangup_after_ms: Option<u64> },
    /// 486 Busy Here.
    Busy,
    /// Rings until CANCELled: 200 to the CANCEL, 487 to the INVITE.
    NeverAnswers,
}

const RESPONSE_HEADERS: &str = "      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Contact: <sip:[local_ip]:[local_port];transport=[transport]>\n";

fn party_scenario(dir: &Path, name: &str, party: &Party, pcap: &Path) -> PathBuf {
    let ringing = format!(
        "  <send>\n    <![CDATA[\n      SIP/2.0 180 Ringing\n{RESPONSE_HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n"
    );
    let invite = "  <recv request=\"INVITE\">\n    <action>\n      \
        <ereg regexp=\"([0-9]+) INVITE\" search_in=\"hdr\" header=\"CSeq:\" assign_to=\"cs,csn\"/>\n      \
        <ereg regexp=\".*\" search_in=\"hdr\" header=\"From:\" assign_to=\"their_from\"/>\n      \
        <ereg regexp=\".*\" search_in=\"hdr\" header=\"To:\" assign_to=\"our_to\"/>\n      \
        <ereg regexp=\"sip:[^>]*\" search_in=\"hdr\" header=\"Contact:\" assign_to=\"their_contact\"/>\n    </action>\n  </recv>\n";
    let body = match party {
        Party::Answer { hangup_after_ms } => {
            let end = match hangup_after_ms {
                None => format!(
                    "  <recv request=\"BYE\" timeout=\"30000\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{RESPONSE_HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n"
                ),
                // Holds zvonar half-way (re-INVITE a=sendonly: the answer must be recvonly,
                // RFC 3264 §8.4), then hangs up.
                Some(ms) => format!(
                    "  <pause milliseconds=\"{half}\"/>\n  <send retrans=\"500\">\n    <![CDATA[\n      INVITE [$their_contact] SIP/2.0\n{dialog}      \
                     CSeq: 1 INVITE\n      Contact: <sip:[local_ip]:[local_port];transport=[transport]>\n      \
                     Content-Type: application/sdp\n      Content-Length: [len]\n\n      \
                     v=0\n      o=party 1 2 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      \
                     m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n      a=sendonly\n    ]]>\n  </send>\n  \
                     <recv response=\"100\" optional=\"true\"/>\n  <recv response=\"200\">\n    <action>\n      \
                     <ereg regexp=\"a=recvonly\" search_in=\"body\" check_it=\"true\" assign_to=\"held\"/>\n    </action>\n  </recv>\n  \
                     <send>\n    <![CDATA[\n      ACK [$their_contact] SIP/2.0\n{dialog}      CSeq: 1 ACK\n      Content-Length: 0\n    ]]>\n  </send>\n  \
                     <pause milliseconds=\"{half}\"/>\n  <send retrans=\"500\">\n    <![CDATA[\n      BYE [$their_contact] SIP/2.0\n{dialog}      \
                     CSeq: 2 BYE\n      Content-Length: 0\n    ]]>\n  </send>\n  \
                     <recv response=\"200\"/>\n  <Reference variables=\"held\"/>\n",
                    half = ms / 2,
                    dialog = "      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      \
                              From: [$our_to];tag=[pid]SIPpTag01[call_number]\n      To: [$their_from]\n      \
                              Call-ID: [call_id]\n      Max-Forwards: 70\n",
                ),
            };
            format!(
                "{ringing}  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{RESPONSE_HEADERS}      Content-Type: application/sdp\n      Content-Length: [len]\n\n      \
                 v=0\n      o=party 1 1 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      \
                 m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-15\n    ]]>\n  </send>\n  \
                 <recv request=\"ACK\" crlf=\"true\"/>\n  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n{end}",
                pcap.display()
            )
        }
        Party::Busy => format!(
            "  <send>\n    <![CDATA[\n      SIP/2.0 486 Busy Here\n{RESPONSE_HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n  <recv request=\"ACK\"/>\n"
        ),
        Party::NeverAnswers => format!(
            "{ringing}  <recv request=\"CANCEL\" timeout=\"30000\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{RESPONSE_HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n  \
             <send>\n    <![CDATA[\n      SIP/2.0 487 Request Terminated\n      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      CSeq: [$csn] INVITE\n      Content-Length: 0\n    ]]>\n  </send>\n  \
             <recv request=\"ACK\"/>\n"
        ),
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"{name}\">\n{invite}{body}  <Reference variables=\"cs,csn,their_from,our_to,their_contact\"/>\n</scenario>\n"
    );
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(&p, xml).expect("scenario");
    p
}

/// Starts SIPp as the party on `port` (UDP), answering one call.
fn start_party(z: &Zvonar, scenario: &Path, port: u16) -> Child {
    let media = common::free_media_port().to_string();
    let child = Command::new("sipp")
        .args(["-sf", &scenario.to_string_lossy()])
        .args(["-p", &port.to_string(), "-mp", &media, "-m", "1"])
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args([
            "-timeout",
            "40s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .current_dir(&z.dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp (apt install sip-tester)");
    // Ring only once SIPp listens (an INVITE to a closed port fails at once, ICMP); looked up
    // in /proc/net/udp so that the check never holds the port itself.
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

/// A SIPp caller from `caller` to `callee` whose SDP points at `rtp_port` (this test's RTP
/// endpoint); it hangs up after `hangup_after_ms`, or waits that long for zvonar's BYE.
fn caller_scenario(
    dir: &Path,
    name: &str,
    caller: &str,
    callee: &str,
    rtp_port: u16,
    we_hang_up: bool,
    after_ms: u64,
) -> PathBuf {
    let hdr = |cseq: u32, method: &str| {
        format!(
            "      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      \
             From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n      \
             To: <sip:{callee}@[remote_ip]:[remote_port]>[peer_tag_param]\n      \
             Call-ID: [call_id]\n      CSeq: {cseq} {method}\n      \
             Contact: <sip:{caller}@[local_ip]:[local_port];transport=[transport]>\n      Max-Forwards: 70\n"
        )
    };
    let end = if we_hang_up {
        format!(
            "  <pause milliseconds=\"{after_ms}\"/>\n  <send retrans=\"500\">\n    <![CDATA[\n      BYE sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}      Content-Length: 0\n    ]]>\n  </send>\n  <recv response=\"200\"/>\n",
            hdr(2, "BYE")
        )
    } else {
        format!(
            "  <recv request=\"BYE\" timeout=\"{after_ms}\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      [last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n    ]]>\n  </send>\n"
        )
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"{name}\">\n  <send retrans=\"500\">\n    <![CDATA[\n      \
         INVITE sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}      Content-Type: application/sdp\n      Content-Length: [len]\n\n      \
         v=0\n      o=caller 53655765 2353687637 IN IP4 127.0.0.1\n      s=-\n      c=IN IP4 127.0.0.1\n      t=0 0\n      \
         m=audio {rtp_port} RTP/AVP 8 101\n      a=rtpmap:8 PCMA/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-15\n      a=ptime:20\n    ]]>\n  </send>\n  \
         <recv response=\"100\" optional=\"true\"/>\n  <recv response=\"180\" optional=\"true\"/>\n  <recv response=\"183\" optional=\"true\"/>\n  <recv response=\"200\"/>\n  \
         <send>\n    <![CDATA[\n      ACK sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}      Content-Length: 0\n    ]]>\n  </send>\n{end}</scenario>\n",
        hdr(1, "INVITE"),
        hdr(1, "ACK"),
    );
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(&p, xml).expect("scenario");
    p
}

/// What the caller's RTP endpoint heard.
#[derive(Default)]
struct Heard {
    /// Decoded PCMA audio from zvonar, in arrival order.
    pcm: Vec<i16>,
    /// RFC 4733 event codes received (one per event, at its first packet).
    events: Vec<u8>,
    /// Largest interval between two packets from zvonar, ms (printed, not asserted: a
    /// loaded test machine delays this thread too).
    max_gap_ms: u128,
}

/// The caller's RTP endpoint: once zvonar's first packet arrives (it sends from answer on)
/// it sends `speech` back, one PCMA frame per 20 ms, then silence; it listens for `run`.
fn caller_media(
    socket: UdpSocket,
    speech: Vec<i16>,
    run: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Heard> {
    std::thread::spawn(move || {
        socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let t0 = Instant::now();
        let mut heard = Heard::default();
        let mut peer = None;
        let mut next_send = Instant::now();
        let (mut seq, mut ts, mut frame) = (1u16, 0u32, 0usize);
        let mut last_event_ts = None;
        let mut last_arrival: Option<Instant> = None;
        let mut buf = [0u8; 2048];
        while t0.elapsed() < run && !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                if n >= 12 && buf[0] >> 6 == 2 {
                    peer.get_or_insert(from);
                    let now = Instant::now();
                    if let Some(prev) = last_arrival {
                        heard.max_gap_ms =
                            heard.max_gap_ms.max(now.duration_since(prev).as_millis());
                    }
                    last_arrival = Some(now);
                    let pt = buf[1] & 0x7f;
                    let ets = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                    if pt == 8 {
                        heard.pcm.extend(Codec::Pcma.decode(&buf[12..n]));
                    } else if pt == 101 && last_event_ts != Some(ets) {
                        last_event_ts = Some(ets);
                        heard.events.push(buf[12]);
                    }
                }
            }
            if let Some(to) = peer {
                while Instant::now() >= next_send {
                    let start = frame * 160;
                    let mut f: Vec<i16> = speech
                        .get(start..(start + 160).min(speech.len()))
                        .unwrap_or(&[])
                        .to_vec();
                    f.resize(160, 0);
                    let _ = socket.send_to(
                        &rtp(8, frame == 0, seq, ts, 0x5a5a_0001, &Codec::Pcma.encode(&f)),
                        to,
                    );
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(160);
                    frame += 1;
                    next_send += Duration::from_millis(20);
                }
            } else {
                next_send = Instant::now();
            }
        }
        heard
    })
}

/// Share of the signal's energy at `hz` (Goertzel over 20 ms blocks, summed), 0..=1.
fn tone_share(samples: &[i16], hz: f64) -> f64 {
    let (mut at, mut total) = (0.0, 0.0);
    for block in samples.chunks(160) {
        let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
        let c = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in block {
            let s = f64::from(x) + c * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - c * s1 * s2;
        at += 2.0 * power / block.len() as f64;
        total += block.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
    }
    if total == 0.0 {
        0.0
    } else {
        at / total
    }
}

fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

/// The test's dialplan: `200` rings the SIPp party at `party_port`; `300` rings SIP account
/// 101; both fall back to a playback of a 600 Hz tone file.
fn dialplan(party_port: u16, fallback_wav: &Path) -> String {
    format!(
        r#"
[[route]]
number = "200"
flow = "agent"

[[route]]
number = "300"
flow = "desk"

[[route]]
number = "*"
flow = "closed"

[flow.agent]
kind = "dial"
target = "sip:agent@127.0.0.1:{party_port}"
ring_timeout_s = 5
fallback = "closed"

[flow.desk]
kind = "dial"
account = "101"
ring_timeout_s = 10
fallback = "closed"

[flow.closed]
kind = "playback"
prompt = {{ file = "{}" }}
"#,
        fallback_wav.display()
    )
}

fn start(name: &str, party_port: u16, registrar: bool) -> Zvonar {
    let wav = std::env::temp_dir().join(format!(
        "zvonar-e2e-{name}-{}-closed.wav",
        std::process::id()
    ));
    tone_wav(&wav, 600.0, 1500);
    Zvonar::start_with(
        name,
        Options {
            answer_after_ms: 0,
            dialplan: Some(dialplan(party_port, &wav)),
            // These tests are about calls, not the disk check: a nearly full disk on a shared
            // test machine must not keep zvonar from reporting ready.
            extra_config: "[health]\nmin_free_disk_mib = 0\n".to_string()
                + &if registrar {
                    format!(
                        "[sip.registrar]\nrealm = \"{REALM}\"\nmin_expires_s = 60\nmax_expires_s = 3600\n\
                         algorithms = [\"MD5\", \"SHA-256\"]\n"
                    )
                } else {
                    String::new()
                },
            ..Options::default()
        },
    )
}

/// The call from `caller` once it has ended, with its timeline.
fn call_of(z: &Zvonar, caller: &str) -> Value {
    for _ in 0..100 {
        let calls = z.get_json("/api/v1/calls?limit=100");
        if let Some(c) = calls
            .as_array()
            .expect("calls")
            .iter()
            .find(|c| c["caller_raw"].as_str() == Some(caller) && !c["ended_at"].is_null())
        {
            let id = c["call_id"].as_str().expect("id").to_string();
            return z.get_json(&format!("/api/v1/calls/{id}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no ended call from {caller}; log:\n{}", z.log());
}

fn timeline(call: &Value) -> Vec<(String, Value)> {
    call["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["payload"].clone(),
            )
        })
        .collect()
}

fn recording(z: &Zvonar, call: &Value) -> (Vec<i16>, Vec<i16>) {
    let id = call["cdr"]["call_id"].as_str().expect("id");
    let (status, head, wav) = z.get_raw(&format!("/api/v1/calls/{id}/recording"), None);
    assert_eq!(status, 200, "{head}");
    let r = hound::WavReader::new(std::io::Cursor::new(wav)).expect("wav");
    let spec = r.spec();
    assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
    let s: Vec<i16> = r
        .into_samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    (
        s.chunks(2).map(|c| c[0]).collect(),
        s.chunks(2).map(|c| c[1]).collect(),
    )
}

/// Runs one bridged call: the caller (its RTP from this test) calls `callee`; the party
/// SIPp (already started) answers. Returns (caller ok, caller output, what the caller heard).
fn bridged_call(
    z: &Zvonar,
    name: &str,
    caller: &str,
    callee: &str,
    caller_hangs_up: bool,
    ms: u64,
) -> (bool, String, Heard) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("rtp");
    let rtp_port = socket.local_addr().expect("addr").port();
    let stop = Arc::new(AtomicBool::new(false));
    let media = caller_media(
        socket,
        problem_speech(),
        Duration::from_millis(ms + 1500),
        stop.clone(),
    );
    let scenario = caller_scenario(&z.dir, name, caller, callee, rtp_port, caller_hangs_up, ms);
    let port = free_port().to_string();
    let (ok, out) = sipp(
        z,
        &scenario,
        &["-m", "1", "-l", "1", "-t", "u1", "-p", &port],
        40,
    );
    stop.store(true, Ordering::Relaxed);
    (ok, out, media.join().expect("caller media"))
}

fn assert_bridged_audio(z: &Zvonar, call: &Value, heard: &Heard) {
    eprintln!(
        "caller side: {} ms of audio from zvonar, largest gap between packets {} ms",
        heard.pcm.len() / 8,
        heard.max_gap_ms
    );
    // The caller heard the party's tone (PCMU → PCM → PCMA) and its digit.
    let share = tone_share(&heard.pcm, PARTY_HZ);
    assert!(
        rms(&heard.pcm) > 1000.0 && share > 0.3,
        "caller heard rms {} share {share}",
        rms(&heard.pcm)
    );
    assert!(
        heard.events.contains(&7),
        "the party's key 7 reached the caller: {:?}",
        heard.events
    );
    // Stereo recording: the caller's speech on the left, the party on the right.
    let (left, right) = recording(z, call);
    assert!(rms(&left) > 300.0, "caller channel rms {}", rms(&left));
    assert!(
        tone_share(&left, PARTY_HZ) < 0.15,
        "no party on the left: {}",
        tone_share(&left, PARTY_HZ)
    );
    assert!(
        tone_share(&right, PARTY_HZ) > 0.3,
        "party on the right: {}",
        tone_share(&right, PARTY_HZ)
    );
}

#[test]
fn caller_hangs_up_a_bridged_call_and_the_party_gets_bye() {
    let party_port = free_port();
    let z = start("b2bua-caller-bye", party_port, false);
    let pcap = z.dir.join("party.pcap");
    party_pcap(&pcap, 3000);
    let party = start_party(
        &z,
        &party_scenario(
            &z.dir,
            "party",
            &Party::Answer {
                hangup_after_ms: None,
            },
            &pcap,
        ),
        party_port,
    );
    let (ok, out, heard) = bridged_call(&z, "caller", "79161230001", "200", true, 6000);
    assert!(ok, "caller: {out}\n{}", z.log());
    let (pok, pout) = finish(party);
    assert!(pok, "the party got BYE: {pout}\n{}", z.log());
    let call = call_of(&z, "79161230001");
    let cdr = &call["cdr"];
    assert_eq!(cdr["disposition"], "answered", "{cdr}");
    assert_eq!(cdr["hangup_cause"], "caller_bye", "{cdr}");
    assert_eq!(cdr["party"], format!("sip:agent@127.0.0.1:{party_port}"));
    assert_eq!(cdr["answered_by"], cdr["party"]);
    let bridged_ms = cdr["bridged_ms"].as_i64().expect("bridged_ms");
    assert!((3000..=7000).contains(&bridged_ms), "{bridged_ms}");
    let kinds: Vec<String> = timeline(&call).into_iter().map(|(k, _)| k).collect();
    let pos = |k: &str| {
        kinds
            .iter()
            .position(|x| x == k)
            .unwrap_or_else(|| panic!("{k} in {kinds:?}"))
    };
    assert!(pos("answered") < pos("dialling") && pos("dialling") < pos("bridged"));
    assert!(pos("bridged") < pos("unbridged") && pos("unbridged") < pos("ended"));
    let unbridged = timeline(&call)
        .into_iter()
        .find(|(k, _)| k == "unbridged")
        .expect("unbridged")
        .1;
    assert_eq!(unbridged["ended_by"], "caller");
    assert_bridged_audio(&z, &call, &heard);
}

#[test]
fn party_hangs_up_first_and_the_caller_gets_bye() {
    let party_port = free_port();
    let z = start("b2bua-party-bye", party_port, false);
    let pcap = z.dir.join("party.pcap");
    party_pcap(&pcap, 1500);
    let party = start_party(
        &z,
        &party_scenario(
            &z.dir,
            "party",
            &Party::Answer {
                hangup_after_ms: Some(4500),
            },
            &pcap,
        ),
        party_port,
    );
    let (ok, out, heard) = bridged_call(&z, "caller", "79161230002", "200", false, 15000);
    assert!(ok, "caller got BYE: {out}\n{}", z.log());
    let (pok, pout) = finish(party);
    assert!(pok, "party: {pout}\n{}", z.log());
    let call = call_of(&z, "79161230002");
    assert_eq!(call["cdr"]["hangup_cause"], "party_bye", "{}", call["cdr"]);
    let unbridged = timeline(&call)
        .into_iter()
        .find(|(k, _)| k == "unbridged")
        .expect("unbridged")
        .1;
    assert_eq!(unbridged["ended_by"], "party");
    assert_bridged_audio(&z, &call, &heard);
}

#[test]
fn busy_and_unanswered_parties_fall_back_and_ringing_is_cancelled() {
    let party_port = free_port();
    let z = start("b2bua-fallback", party_port, false);
    let pcap = z.dir.join("party.pcap");
    party_pcap(&pcap, 100);
    for (i, (party, outcome, caller)) in [
        (Party::Busy, "busy", "79161230003"),
        (Party::NeverAnswers, "no_answer", "79161230004"),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("party{i}");
        let p = start_party(
            &z,
            &party_scenario(&z.dir, &name, &party, &pcap),
            party_port,
        );
        let started = Instant::now();
        let (ok, out, heard) = bridged_call(&z, &format!("caller{i}"), caller, "200", false, 20000);
        assert!(
            ok,
            "{outcome}: the fallback played and hung up: {out}\n{}",
            z.log()
        );
        let (pok, pout) = finish(p);
        assert!(
            pok,
            "{outcome}: party (CANCEL expected when unanswered): {pout}\n{}",
            z.log()
        );
        let call = call_of(&z, caller);
        let events = timeline(&call);
        let failed = events
            .iter()
            .find(|(k, _)| k == "dial_failed")
            .expect("dial_failed")
            .1
            .clone();
        assert_eq!(failed["outcome"], outcome, "{failed}");
        assert!(events.iter().all(|(k, _)| k != "bridged"));
        assert!(events
            .iter()
            .any(|(k, p)| k == "outcome" && p["outcome"] == "fallback:closed"));
        assert_eq!(call["cdr"]["hangup_cause"], "robot_bye", "{}", call["cdr"]);
        assert!(call["cdr"]["answered_by"].is_null());
        // The caller heard the fallback's 600 Hz prompt after the ringback.
        assert!(
            tone_share(&heard.pcm, 600.0) > 0.2,
            "{outcome}: fallback prompt heard"
        );
        // One recording across both flows: the ringback, then the fallback's prompt, on the
        // right channel.
        let (_, right) = recording(&z, &call);
        assert!(
            tone_share(&right, 600.0) > 0.1,
            "{outcome}: fallback prompt recorded"
        );
        if outcome == "no_answer" {
            assert!(tone_share(&right, 425.0) > 0.05, "ringback recorded");
        }
        if outcome == "no_answer" {
            // Our ring timeout is 5 s: CANCEL then, not earlier, not much later.
            let took = started.elapsed();
            assert!(
                took >= Duration::from_secs(5) && took < Duration::from_secs(12),
                "{took:?}"
            );
            // Ringback (425 Hz) while ringing.
            assert!(tone_share(&heard.pcm, 425.0) > 0.05, "ringback heard");
        }
    }
}

#[test]
fn caller_hanging_up_while_the_party_rings_cancels_it() {
    let party_port = free_port();
    let z = start("b2bua-abandon", party_port, false);
    let pcap = z.dir.join("party.pcap");
    party_pcap(&pcap, 100);
    let p = start_party(
        &z,
        &party_scenario(&z.dir, "party", &Party::NeverAnswers, &pcap),
        party_port,
    );
    let (ok, out, _) = bridged_call(&z, "caller", "79161230007", "200", true, 2000);
    assert!(ok, "{out}\n{}", z.log());
    let (pok, pout) = finish(p);
    assert!(pok, "the party got CANCEL: {pout}\n{}", z.log());
    let call = call_of(&z, "79161230007");
    let failed = timeline(&call)
        .into_iter()
        .find(|(k, _)| k == "dial_failed")
        .expect("dial_failed")
        .1;
    assert_eq!(failed["outcome"], "cancelled", "{failed}");
    assert_eq!(call["cdr"]["hangup_cause"], "caller_bye");
    assert!(call["cdr"]["answered_by"].is_null());
}

#[test]
fn a_registered_sip_account_is_rung_at_its_contact() {
    let party_port = free_port();
    let z = start("b2bua-account", party_port, true);
    let (ok, out) = z.cli(&["sip-account", "add", "101"], "desk-phone-101\n");
    assert!(ok, "{out}");
    // Not registered yet: the fallback takes the call at once.
    let (ok, out, _) = bridged_call(&z, "early", "79161230005", "300", false, 15000);
    assert!(ok, "{out}\n{}", z.log());
    let call = call_of(&z, "79161230005");
    let failed = timeline(&call)
        .into_iter()
        .find(|(k, _)| k == "dial_failed")
        .expect("dial_failed")
        .1;
    assert_eq!(
        (failed["party"].as_str(), failed["outcome"].as_str()),
        (Some("account:101"), Some("no_answer"))
    );
    // The desk phone registers from `party_port` with digest auth…
    let register = |cseq: u32, auth: &str| {
        format!(
            "  <send retrans=\"500\">\n    <![CDATA[\n      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0\n      \
             Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      \
             From: <sip:101@[remote_ip]>;tag=[pid]SIPpTag00[call_number]\n      To: <sip:101@[remote_ip]>\n      \
             Call-ID: [call_id]\n      CSeq: {cseq} REGISTER\n      \
             Contact: <sip:101@[local_ip]:[local_port];transport=[transport]>\n      Expires: 300\n      \
             Max-Forwards: 70\n{auth}      Content-Length: 0\n\n    ]]>\n  </send>\n"
        )
    };
    let reg = z.dir.join("register.xml");
    std::fs::write(
        &reg,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"register\">\n{}  <recv response=\"401\" auth=\"true\"/>\n{}  <recv response=\"200\"/>\n</scenario>\n",
            register(1, ""),
            register(2, "      [authentication username=101 password=desk-phone-101]\n")
        ),
    )
    .expect("scenario");
    let (ok, out) = sipp(
        &z,
        &reg,
        &[
            "-m",
            "1",
            "-l",
            "1",
            "-t",
            "u1",
            "-p",
            &party_port.to_string(),
        ],
        20,
    );
    assert!(ok, "register: {out}\n{}", z.log());
    // …and then answers on that port.
    let pcap = z.dir.join("party.pcap");
    party_pcap(&pcap, 3000);
    let party = start_party(
        &z,
        &party_scenario(
            &z.dir,
            "desk",
            &Party::Answer {
                hangup_after_ms: None,
            },
            &pcap,
        ),
        party_port,
    );
    let (ok, out, heard) = bridged_call(&z, "caller", "79161230006", "300", true, 5000);
    assert!(ok, "caller: {out}\n{}", z.log());
    let (pok, pout) = finish(party);
    assert!(
        pok,
        "the desk phone was rung and got BYE: {pout}\n{}",
        z.log()
    );
    let call = call_of(&z, "79161230006");
    let party = call["cdr"]["answered_by"]
        .as_str()
        .expect("answered_by")
        .to_string();
    assert!(
        party.starts_with(&format!("sip:101@127.0.0.1:{party_port}")),
        "{party}"
    );
    assert_bridged_audio(&z, &call, &heard);
}
