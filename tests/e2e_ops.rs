//! End to end, operations: a graceful stop. SIGTERM in the middle of a call (what
//! `systemctl stop` and `docker stop` send): new calls get 503 with Retry-After
//! (RFC 3261 §20.33, §21.5.4), the running call is ended with BYE once `[shutdown] drain_s`
//! is over, the process exits 0, and the call's recording and CDR are on disk.

mod common;

use common::{run_sipp, write_scenario, Options, Step, Zvonar};
use serde_json::Value;
use std::time::{Duration, Instant};

/// An INVITE that must be refused with 503 and `Retry-After: 17` (another value through
/// [`refused_scenario`]).
const REFUSED_SCENARIO: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="refused while draining">
  <send retrans="500">
    <![CDATA[
      INVITE sip:+74951234567@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:+74957770009@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:+74951234567@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:+74957770009@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="503">
    <action>
      <ereg regexp="^ *17 *$" search_in="hdr" header="Retry-After:" check_it="true" assign_to="retry"/>
    </action>
  </recv>
  <Reference variables="retry"/>
  <send>
    <![CDATA[
      ACK sip:+74951234567@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]
      From: <sip:+74957770009@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:+74951234567@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
</scenario>
"#;

/// [`REFUSED_SCENARIO`] expecting `Retry-After: {retry_after_s}`.
fn refused_scenario(retry_after_s: u32) -> String {
    REFUSED_SCENARIO.replace("^ *17 *$", &format!("^ *{retry_after_s} *$"))
}

fn calls(z: &Zvonar) -> Vec<Value> {
    z.get_json("/api/v1/calls?limit=100")
        .as_array()
        .expect("calls list")
        .clone()
}

#[test]
fn sigterm_mid_call_drains_refuses_new_calls_hangs_up_and_exits_0() {
    let drain = Duration::from_secs(3);
    let mut z = Zvonar::start_with(
        "sigterm",
        Options {
            extra_config: "[shutdown]\ndrain_s = 3\nretry_after_s = 17\n".into(),
            ..Options::default()
        },
    );
    // An unknown caller reaches the dispatcher robot and says nothing: the robot keeps
    // asking (its own goodbye would take far longer than the drain time).
    let sc = write_scenario(
        &z.dir,
        "draining",
        "+74957770008",
        "+74951234567",
        &[Step::Pause(500)],
        60_000,
    );
    std::thread::scope(|scope| {
        let active = scope.spawn(|| run_sipp(&z, &sc, "u1", 60));
        // Wait until the call is up (answered) before stopping the engine.
        let t0 = Instant::now();
        while !calls(&z).iter().any(|c| {
            c["caller_raw"]
                .as_str()
                .is_some_and(|s| s.ends_with("4957770008"))
                && !c["answered_at"].is_null()
        }) {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "call not answered; log:\n{}",
                z.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(500));
        z.terminate();
        let stopped_at = Instant::now();

        // A new call while draining: 503 with Retry-After (checked by the scenario).
        let refused = z.dir.join("refused.xml");
        std::fs::write(&refused, REFUSED_SCENARIO).expect("scenario");
        let (ok, out) = run_sipp(&z, &refused, "u1", 10);
        assert!(
            ok,
            "new call during the drain not refused with 503 + Retry-After: 17:\n{out}\n--- zvonar log ---\n{}",
            z.log()
        );

        // The running call is ended by zvonar's BYE once the drain time is over.
        let (ok, out) = active.join().expect("sipp thread");
        let bye_after = stopped_at.elapsed();
        assert!(
            ok,
            "the active call did not get BYE:\n{out}\n--- zvonar log ---\n{}",
            z.log()
        );
        assert!(
            bye_after >= drain && bye_after < drain + Duration::from_secs(5),
            "BYE {bye_after:?} after SIGTERM, drain time {drain:?}"
        );
    });
    let status = z
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("zvonar still running after the drain; log:\n{}", z.log()));
    assert_eq!(status.code(), Some(0), "exit status; log:\n{}", z.log());

    // Started again on the same database: the call's CDR is complete and its recording
    // a readable WAV.
    z.restart();
    let all = calls(&z);
    let cdr = all
        .iter()
        .find(|c| {
            c["caller_raw"]
                .as_str()
                .is_some_and(|s| s.ends_with("4957770008"))
        })
        .unwrap_or_else(|| panic!("no CDR: {all:?}"));
    assert_eq!(cdr["disposition"], "answered", "{cdr}");
    assert_eq!(cdr["hangup_cause"], "shutdown", "{cdr}");
    assert!(!cdr["ended_at"].is_null(), "{cdr}");
    assert!(
        !all.iter().any(|c| c["caller_raw"]
            .as_str()
            .is_some_and(|s| s.ends_with("4957770009"))),
        "the refused call reached the engine: {all:?}"
    );
    let call_id = cdr["call_id"].as_str().expect("call id");
    let (status, head, wav) = z.get_raw(&format!("/api/v1/calls/{call_id}/recording"), None);
    assert_eq!(status, 200, "{head}");
    let r = hound::WavReader::new(std::io::Cursor::new(wav)).expect("readable WAV");
    assert_eq!((r.spec().channels, r.spec().sample_rate), (2, 8000));
    // About the time from answer to BYE: at least the drain time, in stereo frames.
    assert!(
        r.duration() >= 8000 * 3,
        "recording of {} frames",
        r.duration()
    );
    let log = z.log();
    assert!(log.contains("call events flushed"), "{log}");
}

/// All `max_calls` busy: the next INVITE is refused with 503 and the configured
/// `Retry-After` (RFC 3261 §21.5.4, §20.33), so the trunk knows when to come back — the
/// engine used to refuse it from the dialog, where no header can be added.
#[test]
fn beyond_max_calls_an_invite_gets_503_with_retry_after() {
    let z = Zvonar::start_with(
        "busy",
        Options {
            max_calls: 1,
            busy_retry_after_s: 9,
            ..Options::default()
        },
    );
    let sc = write_scenario(
        &z.dir,
        "occupying",
        "+74957770008",
        "+74951234567",
        &[Step::Pause(500)],
        60_000,
    );
    std::thread::scope(|scope| {
        let active = scope.spawn(|| run_sipp(&z, &sc, "u1", 60));
        let t0 = Instant::now();
        while !calls(&z).iter().any(|c| !c["answered_at"].is_null()) {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "call not answered; log:\n{}",
                z.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let refused = z.dir.join("refused.xml");
        std::fs::write(&refused, refused_scenario(9)).expect("scenario");
        let (ok, out) = run_sipp(&z, &refused, "u1", 10);
        assert!(
            ok,
            "second call not refused with 503 + Retry-After: 9:\n{out}\n--- zvonar log ---\n{}",
            z.log()
        );
        let (ok, out) = active.join().expect("sipp thread");
        assert!(
            ok,
            "the first call failed:\n{out}\n--- zvonar log ---\n{}",
            z.log()
        );
    });
}
