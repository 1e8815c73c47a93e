//! End to end, SIP trunks: SIPp plays the provider. zvonar registers with it (401 challenge,
//! the digest checked by SIPp's `verifyauth` with the trunk's `auth_username`), refreshes the
//! short registration before it expires, and removes it (Expires: 0) on SIGTERM; calls to a
//! number go out through the registered trunk of lowest priority, fail over to the next one
//! when the first answers 503, present the trunk's caller ID (From and P-Asserted-Identity)
//! and answer the trunk's 407 with its credentials; a trunk's channel limit is never exceeded.

mod common;

use common::{free_port, Options, Zvonar};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Headers of a response to the request just received.
const RESP: &str = "      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      [last_CSeq:]\n";

fn write(dir: &Path, name: &str, xml: &str) -> PathBuf {
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(&p, xml).expect("scenario");
    p
}

/// The provider's registrar: every REGISTER is challenged (401), the retry's digest must be
/// `user`/`password`, else 403 and the scenario fails; the 200 grants what was asked for.
/// Repeats until a REGISTER with `Expires: 0` has been answered.
fn registrar_steps(user: &str, password: &str) -> String {
    format!(
        r#"  <label id="again"/>
  <recv request="REGISTER">
    <action>
      <ereg regexp="[0-9]+" search_in="hdr" header="Expires:" assign_to="exp"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 401 Unauthorized
{RESP}      WWW-Authenticate: Digest realm="provider.example", nonce="[pid]n[call_number]x[clock_tick]", algorithm=MD5
      Content-Length: 0
    ]]>
  </send>
  <recv request="REGISTER">
    <action>
      <verifyauth assign_to="authvalid" username="{user}" password="{password}"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="good"/>
  <send next="bad">
    <![CDATA[
      SIP/2.0 403 Forbidden
{RESP}      Content-Length: 0
    ]]>
  </send>
  <label id="good"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
{RESP}      [last_Contact:];expires=[$exp]
      Expires: [$exp]
      Content-Length: 0
    ]]>
  </send>
  <nop hide="true">
    <action>
      <strcmp assign_to="cmp" variable="exp" value="0"/>
      <test assign_to="unreg" variable="cmp" compare="equal" value="0"/>
    </action>
  </nop>
  <nop hide="true" test="unreg" next="done"/>
  <nop hide="true" next="again"/>
  <label id="bad"/>
  <recv request="NEVER" timeout="200"/>
  <label id="done"/>
"#
    )
}

/// Starts SIPp as a UAS (the provider) on UDP `port`, ending after `calls` calls (a
/// registration is one call: its REGISTERs share a Call-ID); waits until it listens.
fn start_provider(dir: &Path, scenario: &Path, port: u16, calls: u32) -> Child {
    start_provider_on(dir, scenario, port, calls, "u1")
}

/// [`start_provider`] over `transport` (`u1` UDP, `t1` TCP).
fn start_provider_on(dir: &Path, scenario: &Path, port: u16, calls: u32, transport: &str) -> Child {
    let media = common::free_media_port().to_string();
    let child = Command::new("sipp")
        .args(["-sf", &scenario.to_string_lossy()])
        .args(["-t", transport])
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
            "60s",
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
    let table = if transport == "t1" {
        "/proc/net/tcp"
    } else {
        "/proc/net/udp"
    };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let table = std::fs::read_to_string(table).unwrap_or_default();
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

/// Waits for SIPp to end (at most `limit`): whether all its calls passed, and its output.
fn finish(mut child: Child, limit: Duration) -> (bool, String) {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
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

/// The `trunks` component of `/health` (which answers 200 while any trunk can work).
fn trunks(z: &Zvonar) -> Vec<Value> {
    let h = z.get_json("/health");
    h["components"]["trunks"]["trunks"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no trunks in /health: {h}"))
}

/// Polls `/health` until `ok` holds for the trunks (at most `limit`).
fn wait_trunks(z: &Zvonar, limit: Duration, ok: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let t0 = Instant::now();
    loop {
        let t = trunks(z);
        if ok(&t) || t0.elapsed() > limit {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn trunk_toml(name: &str, port: u16, extra: &str) -> String {
    format!(
        "[[trunk]]\nname = \"{name}\"\nregistrar = \"sip:127.0.0.1:{port}\"\nusername = \"74950001122\"\n\
         auth_username = \"zv-auth\"\npassword = \"trunk-secret\"\n{extra}\n"
    )
}

/// REGISTER with digest (401, then the authorised retry checked by SIPp), a 4 s
/// registration refreshed before it ends (at 2 s: several in a few seconds, each
/// challenged and checked again), state in /health, and the un-REGISTER on SIGTERM.
#[test]
fn registers_refreshes_and_unregisters() {
    let dir = std::env::temp_dir().join(format!("zvonar-trunk-reg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    let scenario = write(
        &dir,
        "registrar",
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"registrar\">\n{}</scenario>\n",
            registrar_steps("zv-auth", "trunk-secret")
        ),
    );
    let provider = start_provider(&dir, &scenario, port, 1);
    let mut z = Zvonar::start_with(
        "trunk-reg",
        Options {
            extra_config: trunk_toml("provider", port, "expires_s = 4"),
            ..Options::default()
        },
    );
    let t0 = Instant::now();
    let t = wait_trunks(&z, Duration::from_secs(20), |t| {
        t[0]["registrations"].as_u64().unwrap_or(0) >= 3
    });
    let took = t0.elapsed();
    assert_eq!(t[0]["name"], "provider");
    assert_eq!(t[0]["state"], "registered", "{t:?}\n{}", z.log());
    assert!(
        t[0]["registrations"].as_u64().unwrap_or(0) >= 3,
        "no refreshes: {t:?}\n{}",
        z.log()
    );
    // Three registrations of 4 s each need refreshes before expiry (at 2 s), so they came
    // in about 4 s, never an expired gap: the state stayed "registered".
    assert!(t[0]["expires_in_s"].as_u64().unwrap_or(0) <= 4, "{t:?}");
    println!("3 registrations in {} ms", took.as_millis());
    z.terminate();
    let status = z.wait_exit(Duration::from_secs(30)).expect("zvonar exits");
    assert!(status.success(), "{status:?}");
    let (ok, out) = finish(provider, Duration::from_secs(15));
    assert!(
        ok,
        "the registrar did not see the un-REGISTER:\n{out}\n{}",
        z.log()
    );
    assert!(z.log().contains("trunk unregistered"), "{}", z.log());
}

/// A wrong password: the registrar answers 403, and /health names the trunk as failed with
/// that reason and the time of the next attempt; it stays 200 since another trunk (one that
/// does not register) can carry calls.
#[test]
fn a_refused_registration_is_reported() {
    let dir = std::env::temp_dir().join(format!("zvonar-trunk-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    // Checks the digest against another password: our (right) answer fails.
    let scenario = write(
        &dir,
        "registrar",
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"registrar\">\n{}</scenario>\n",
            registrar_steps("zv-auth", "another-secret")
        ),
    );
    let provider = start_provider(&dir, &scenario, port, 1);
    let z = Zvonar::start_with(
        "trunk-bad",
        Options {
            extra_config: trunk_toml("provider", port, "expires_s = 60")
                + &trunk_toml("by-ip", free_port(), "register = false\npriority = 2"),
            ..Options::default()
        },
    );
    let t = wait_trunks(&z, Duration::from_secs(20), |t| t[0]["state"] == "failed");
    assert_eq!(
        (&t[0]["state"], &t[0]["last_error"], &t[1]["state"]),
        (
            &Value::from("failed"),
            &Value::from("403 Forbidden"),
            &Value::from("static")
        ),
        "{t:?}"
    );
    let next = t[0]["next_attempt_in_s"].as_u64().expect("next attempt");
    assert!((1..=2).contains(&next), "{t:?}");
    drop(z);
    let _ = finish(provider, Duration::from_secs(1));
}

/// How a provider answers an INVITE.
enum Answer {
    /// 503 Service Unavailable (the trunk is overloaded: fail over).
    Unavailable,
    /// Challenges with 401 and checks the digest (`zv-auth`/`trunk-secret`), the Request-URI
    /// (`number`), and that From and P-Asserted-Identity carry `caller_id`; then answers
    /// (PCMA) and waits for BYE.
    Challenge { number: String, caller_id: String },
    /// Answers without a challenge and waits for BYE.
    Plain,
}

const SDP_200: &str = "      Content-Type: application/sdp\n      Content-Length: [len]\n\n      v=0\n      o=provider 1 1 IN IP4 127.0.0.1\n      s=-\n      c=IN IP4 127.0.0.1\n      t=0 0\n      m=audio [media_port] RTP/AVP 8\n      a=rtpmap:8 PCMA/8000\n";

/// A provider at `host` (what the Request-URIs must name after `sip:USER@`, `sip:`): a
/// REGISTER (one call of its own) is answered 200 for 60 s at once; an INVITE as `answer`
/// says.
fn provider_scenario(dir: &Path, name: &str, host: &str, answer: &Answer) -> PathBuf {
    let contact = "      Contact: <sip:[local_ip]:[local_port];transport=[transport]>\n";
    let ok_then_bye = format!(
        "  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{RESP}{contact}{SDP_200}    ]]>\n  </send>\n  \
         <recv request=\"ACK\"/>\n  <recv request=\"BYE\" timeout=\"30000\"/>\n  \
         <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{RESP}      Content-Length: 0\n    ]]>\n  </send>\n"
    );
    let invite = match answer {
        Answer::Unavailable => format!(
            "  <recv request=\"INVITE\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 503 Service Unavailable\n{RESP}      Content-Length: 0\n    ]]>\n  </send>\n  <recv request=\"ACK\"/>\n"
        ),
        Answer::Plain => format!("  <recv request=\"INVITE\"/>\n{ok_then_bye}"),
        Answer::Challenge { number, caller_id } => {
            let number = number.replace('+', "\\+");
            format!(
                "  <recv request=\"INVITE\">\n    <action>\n      \
                 <ereg regexp=\"^INVITE sip:{number}@{host}\" search_in=\"msg\" check_it=\"true\" assign_to=\"ruri\"/>\n      \
                 <ereg regexp=\"sip:{caller_id}@\" search_in=\"hdr\" header=\"From:\" check_it=\"true\" assign_to=\"from\"/>\n      \
                 <ereg regexp=\"sip:{caller_id}@\" search_in=\"hdr\" header=\"P-Asserted-Identity:\" check_it=\"true\" assign_to=\"pai\"/>\n    \
                 </action>\n  </recv>\n  \
                 <send>\n    <![CDATA[\n      SIP/2.0 401 Unauthorized\n{RESP}      WWW-Authenticate: Digest realm=\"provider.example\", nonce=\"[pid]i[call_number]\", algorithm=MD5\n      Content-Length: 0\n    ]]>\n  </send>\n  \
                 <recv request=\"ACK\"/>\n  <recv request=\"INVITE\">\n    <action>\n      \
                 <verifyauth assign_to=\"authvalid\" username=\"zv-auth\" password=\"trunk-secret\"/>\n    </action>\n  </recv>\n  \
                 <nop hide=\"true\" test=\"authvalid\" next=\"good\"/>\n  \
                 <send next=\"bad\">\n    <![CDATA[\n      SIP/2.0 403 Forbidden\n{RESP}      Content-Length: 0\n    ]]>\n  </send>\n  \
                 <label id=\"good\"/>\n{ok_then_bye}  <Reference variables=\"ruri,from,pai\"/>\n"
            )
        }
    };
    write(
        dir,
        name,
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"{name}\">\n  \
             <recv request=\"REGISTER\" optional=\"true\" next=\"reg\">\n    <action>\n      \
             <ereg regexp=\"^REGISTER sip:{host}\" search_in=\"msg\" check_it=\"true\" assign_to=\"rr\"/>\n    \
             </action>\n  </recv>\n{invite}  <nop hide=\"true\" next=\"done\"/>\n  \
             <label id=\"reg\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{RESP}      [last_Contact:];expires=60\n      Expires: 60\n      Content-Length: 0\n    ]]>\n  </send>\n  \
             <nop hide=\"true\" next=\"done\"/>\n  <label id=\"bad\"/>\n  <recv request=\"NEVER\" timeout=\"200\"/>\n  <label id=\"done\"/>\n  <Reference variables=\"rr\"/>\n</scenario>\n"
        ),
    )
}

/// A caller: INVITE to zvonar (Request-URI user `100`), then either BYE after `after_ms`
/// (`we_hang_up`) or wait that long for zvonar's BYE.
fn caller_scenario(
    dir: &Path,
    name: &str,
    caller: &str,
    we_hang_up: bool,
    after_ms: u64,
) -> PathBuf {
    call_scenario(dir, name, caller, "100", "", we_hang_up, after_ms)
}

/// [`caller_scenario`] to user `callee`, with `extra` header lines (each ending in `\n`,
/// indented by six spaces) in the INVITE.
fn call_scenario(
    dir: &Path,
    name: &str,
    caller: &str,
    callee: &str,
    extra: &str,
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
    write(
        dir,
        name,
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"{name}\">\n  <send retrans=\"500\">\n    <![CDATA[\n      \
             INVITE sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}{extra}      Content-Type: application/sdp\n      Content-Length: [len]\n\n      \
             v=0\n      o=caller 53655765 2353687637 IN IP4 127.0.0.1\n      s=-\n      c=IN IP4 127.0.0.1\n      t=0 0\n      \
             m=audio [media_port] RTP/AVP 8 101\n      a=rtpmap:8 PCMA/8000\n      a=rtpmap:101 telephone-event/8000\n    ]]>\n  </send>\n  \
             <recv response=\"100\" optional=\"true\"/>\n  <recv response=\"180\" optional=\"true\"/>\n  <recv response=\"183\" optional=\"true\"/>\n  <recv response=\"200\"/>\n  \
             <send>\n    <![CDATA[\n      ACK sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}      Content-Length: 0\n    ]]>\n  </send>\n{end}</scenario>\n",
            hdr(1, "INVITE"),
            hdr(1, "ACK"),
        ),
    )
}

/// A mono 8 kHz WAV of a 600 Hz tone, the fallback flow's prompt.
fn tone_wav(path: &Path) {
    let tone: Vec<i16> = (0..8000)
        .map(|n| {
            (6000.0 * (2.0 * std::f64::consts::PI * 600.0 * f64::from(n) / 8000.0).sin()) as i16
        })
        .collect();
    common::write_mono_wav(path, &tone);
}

/// zvonar whose every call is dialled to `+79161234567` through `trunks` (TOML), falling
/// back to a 1 s tone.
fn start_dialling(name: &str, trunks: String) -> Zvonar {
    let wav = std::env::temp_dir().join(format!("zvonar-e2e-{name}-{}-fb.wav", std::process::id()));
    tone_wav(&wav);
    let dialplan = format!(
        "[[route]]\nnumber = \"*\"\nflow = \"out\"\n\n[flow.out]\nkind = \"dial\"\nnumber = \"+79161234567\"\n\
         ring_timeout_s = 15\nfallback = \"closed\"\n\n[flow.closed]\nkind = \"playback\"\nprompt = {{ file = \"{}\" }}\n",
        wav.display()
    );
    Zvonar::start_with(
        name,
        Options {
            answer_after_ms: 0,
            dialplan: Some(dialplan),
            extra_config: "[health]\nmin_free_disk_mib = 0\n".to_string() + &trunks,
            ..Options::default()
        },
    )
}

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

fn kinds(call: &Value) -> Vec<(String, Value)> {
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

fn one_caller(z: &Zvonar, scenario: &Path) -> (bool, String) {
    let port = free_port().to_string();
    let media = common::free_media_port().to_string();
    common::sipp(
        z,
        scenario,
        &["-m", "1", "-l", "1", "-p", &port, "-mp", &media],
        30,
    )
}

/// Two registered trunks: the first (priority 1) answers 503, the call fails over to the
/// second, which challenges the INVITE (401, digest checked), sees the number in the
/// Request-URI and the trunk's caller ID in From and P-Asserted-Identity, and answers; the
/// caller is bridged to it.
#[test]
fn a_503_fails_over_to_the_next_trunk_with_caller_id_and_digest() {
    let dir = std::env::temp_dir().join(format!("zvonar-trunk-fo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (port_a, port_b) = (free_port(), free_port());
    let a = start_provider(
        &dir,
        &provider_scenario(&dir, "first", "127.0.0.1", &Answer::Unavailable),
        port_a,
        2,
    );
    let b = start_provider(
        &dir,
        &provider_scenario(
            &dir,
            "second",
            "127.0.0.1",
            &Answer::Challenge {
                number: "+79161234567".into(),
                caller_id: "74957654321".into(),
            },
        ),
        port_b,
        2,
    );
    let caller_id = "caller_id = \"74957654321\"\n";
    let z = start_dialling(
        "trunk-failover",
        trunk_toml("first", port_a, &format!("{caller_id}priority = 1"))
            + &trunk_toml("second", port_b, &format!("{caller_id}priority = 2")),
    );
    let t = wait_trunks(&z, Duration::from_secs(10), |t| {
        t.iter().all(|t| t["state"] == "registered")
    });
    assert!(
        t.iter().all(|t| t["state"] == "registered"),
        "{t:?}\n{}",
        z.log()
    );
    let caller = caller_scenario(&z.dir, "caller", "79161110001", true, 3000);
    let (ok, out) = one_caller(&z, &caller);
    assert!(ok, "caller: {out}\n{}", z.log());
    let (ok_a, out_a) = finish(a, Duration::from_secs(10));
    assert!(ok_a, "first trunk: {out_a}");
    let (ok_b, out_b) = finish(b, Duration::from_secs(10));
    assert!(
        ok_b,
        "second trunk (auth, number, caller ID): {out_b}\n{}",
        z.log()
    );
    let call = call_of(&z, "79161110001");
    let k = kinds(&call);
    assert!(
        k.iter().any(|(k, _)| k == "bridged"),
        "bridged through the second trunk: {k:?}"
    );
    assert!(z.log().contains("trunk failover"), "{}", z.log());
    // Both trunks' channels are free again.
    let t = trunks(&z);
    assert!(t.iter().all(|t| t["channels_active"] == 0), "{t:?}");
}

/// Distinct Call-IDs of INVITEs in a SIPp message trace.
fn invites_in(trace: &Path) -> usize {
    let text = std::fs::read_to_string(trace).unwrap_or_default();
    let mut ids: Vec<String> = Vec::new();
    let mut in_invite = false;
    for line in text.lines() {
        if line.starts_with("INVITE sip:") {
            in_invite = true;
        } else if in_invite && line.to_ascii_lowercase().starts_with("call-id:") {
            let id = line[8..].trim().to_string();
            if !ids.contains(&id) {
                ids.push(id);
            }
            in_invite = false;
        }
    }
    ids.len()
}

/// A trunk with `channels = 1`: while one call talks through it, a second call gets no
/// channel (its dial fails and the fallback flow takes it) and the provider never sees a
/// second INVITE; once the first call ends, the channel is free for the next.
#[test]
fn the_channel_limit_is_never_exceeded() {
    let dir = std::env::temp_dir().join(format!("zvonar-trunk-ch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    let scenario = provider_scenario(&dir, "provider", "127.0.0.1", &Answer::Plain);
    let media = common::free_media_port().to_string();
    // Two calls at most, both plain answers (no REGISTER: this trunk does not register).
    let provider = Command::new("sipp")
        .args(["-sf", &scenario.to_string_lossy()])
        .args(["-p", &port.to_string(), "-mp", &media, "-m", "2"])
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args([
            "-timeout",
            "60s",
            "-timeout_error",
            "-nostdin",
            "-trace_msg",
        ])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp");
    std::thread::sleep(Duration::from_millis(300));
    let z = start_dialling(
        "trunk-channels",
        trunk_toml("only", port, "register = false\nchannels = 1"),
    );
    let first = caller_scenario(&z.dir, "first", "79161110002", true, 5000);
    let second = caller_scenario(&z.dir, "second", "79161110003", false, 15000);
    let third = caller_scenario(&z.dir, "third", "79161110004", true, 1500);
    let zr = &z;
    std::thread::scope(|s| {
        let one = s.spawn(|| one_caller(zr, &first));
        // The first call holds the trunk's only channel.
        let t = wait_trunks(zr, Duration::from_secs(10), |t| {
            t[0]["channels_active"] == 1
        });
        assert_eq!(t[0]["channels_active"], 1, "{t:?}");
        let (ok, out) = one_caller(zr, &second);
        assert!(ok, "second caller: fallback played, zvonar hung up: {out}");
        assert_eq!(trunks(zr)[0]["channels_active"], 1, "never more than one");
        let (ok, out) = one.join().expect("first");
        assert!(ok, "first caller: {out}\n{}", zr.log());
    });
    let t = wait_trunks(&z, Duration::from_secs(5), |t| t[0]["channels_active"] == 0);
    assert_eq!(t[0]["channels_active"], 0, "freed: {t:?}");
    let (ok, out) = one_caller(&z, &third);
    assert!(ok, "third caller: {out}\n{}", z.log());
    let (ok, out) = finish(provider, Duration::from_secs(10));
    assert!(ok, "provider: {out}");
    let second = kinds(&call_of(&z, "79161110003"));
    let failed = second
        .iter()
        .find(|(k, _)| k == "dial_failed")
        .unwrap_or_else(|| panic!("{second:?}"));
    assert_eq!(failed.1["outcome"], "failed", "{failed:?}");
    assert!(second.iter().all(|(k, _)| k != "bridged"));
    for caller in ["79161110002", "79161110004"] {
        let k = kinds(&call_of(&z, caller));
        assert!(k.iter().any(|(k, _)| k == "bridged"), "{caller}: {k:?}");
    }
    let trace = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("_messages.log"))
        .expect("SIPp message trace");
    assert_eq!(invites_in(&trace), 2, "the provider saw exactly two calls");
}

/// A call from the trunk to the Contact zvonar registered there (Request-URI user = the
/// trunk's username) is routed by the dialplan like any other; the trunk's address is not
/// trusted unless `[sip] trusted` names it, so the P-Asserted-Identity it sends is not
/// believed (the caller stays unverified).
#[test]
fn calls_from_a_trunk_follow_the_dialplan_and_are_trusted_only_if_configured() {
    let dir = std::env::temp_dir().join(format!("zvonar-trunk-in-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    let registrar = write(
        &dir,
        "registrar",
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"registrar\">\n{}</scenario>\n",
            registrar_steps("zv-auth", "trunk-secret")
        ),
    );
    let provider = start_provider(&dir, &registrar, port, 1);
    let z = Zvonar::start_with(
        "trunk-in",
        Options {
            // The trunk is at 127.0.0.1; only another network is trusted.
            trusted: vec!["10.0.0.0/8"],
            extra_config: trunk_toml("provider", port, "expires_s = 60"),
            ..Options::default()
        },
    );
    let t = wait_trunks(&z, Duration::from_secs(10), |t| {
        t[0]["state"] == "registered"
    });
    assert_eq!(t[0]["state"], "registered", "{t:?}");
    // The provider calls the number it knows us by, from its own address.
    let sc = call_scenario(
        &z.dir,
        "inbound",
        "anonymous",
        "74950001122",
        "      P-Asserted-Identity: <sip:+79161234567@127.0.0.1>\n",
        true,
        2500,
    );
    let (ok, out) = one_caller(&z, &sc);
    assert!(ok, "inbound call: {out}\n{}", z.log());
    let call = call_of(&z, "anonymous");
    assert!(
        call["cdr"]["caller"].is_null(),
        "not trusted: {}",
        call["cdr"]
    );
    let k = kinds(&call);
    let started = k
        .iter()
        .find(|(k, _)| k == "started")
        .unwrap_or_else(|| panic!("{k:?}"));
    // deploy/dialplan.toml routes any number to the dispatcher robot.
    assert_eq!(started.1["flow"], "dispatcher", "{started:?}");
    assert!(z.log().contains("caller ID unverified"), "{}", z.log());
    drop(z);
    let _ = finish(provider, Duration::from_secs(1));
}

/// A trunk over TCP behind an outbound proxy: REGISTER and the INVITE go over TCP to the
/// proxy's address while their Request-URIs name the provider's domain (which does not
/// resolve here), and the call is bridged.
#[test]
fn tcp_through_an_outbound_proxy() {
    let dir = std::env::temp_dir().join(format!("zvonar-trunk-tcp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    let scenario = provider_scenario(
        &dir,
        "proxy",
        "sip.provider.invalid",
        &Answer::Challenge {
            number: "+79161234567".into(),
            caller_id: "74950001122".into(),
        },
    );
    let proxy = start_provider_on(&dir, &scenario, port, 2, "t1");
    let z = start_dialling(
        "trunk-tcp",
        format!(
            "[[trunk]]\nname = \"tcp\"\nregistrar = \"sip:sip.provider.invalid\"\n\
             outbound_proxy = \"127.0.0.1:{port}\"\ntransport = \"tcp\"\nusername = \"74950001122\"\n\
             auth_username = \"zv-auth\"\npassword = \"trunk-secret\"\n"
        ),
    );
    let t = wait_trunks(&z, Duration::from_secs(10), |t| {
        t[0]["state"] == "registered"
    });
    assert_eq!(t[0]["state"], "registered", "{t:?}\n{}", z.log());
    let caller = caller_scenario(&z.dir, "caller", "79161110005", true, 2500);
    let (ok, out) = one_caller(&z, &caller);
    assert!(ok, "caller: {out}\n{}", z.log());
    let (ok, out) = finish(proxy, Duration::from_secs(10));
    assert!(ok, "proxy over TCP: {out}\n{}", z.log());
    let k = kinds(&call_of(&z, "79161110005"));
    assert!(k.iter().any(|(k, _)| k == "bridged"), "{k:?}");
}
