//! The user agent client against a real peer: SIPp on loopback as a trunk that challenges
//! our INVITE with 401 (RFC 3261 §22.2, RFC 2617 digest, checked by SIPp's `verifyauth`),
//! answers the authorised retry, and gets our BYE; with a wrong password it refuses the retry
//! with 403 and the leg reports that failure.

mod support;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use zvonar_sip::ua::start;
use zvonar_sip::uac::{DialRequest, DigestCredential, LegEnd, LegSignal};

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("port")
}

const HDR: &str = "      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Contact: <sip:[local_ip]:[local_port]>\n";

/// A trunk that challenges, checks the digest for `zv`/`trunk-secret`, then answers or 403s.
fn scenario(dir: &std::path::Path) -> PathBuf {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="trunk">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
      SIP/2.0 401 Unauthorized
{HDR}      WWW-Authenticate: Digest realm="trunk.example", nonce="4d2b8f1a9c", algorithm=MD5
      Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="INVITE">
    <action>
      <verifyauth assign_to="authvalid" username="zv" password="trunk-secret"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="good"/>
  <send next="end">
    <![CDATA[
      SIP/2.0 403 Forbidden
{HDR}      Content-Length: 0
    ]]>
  </send>
  <label id="good"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
{HDR}      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=trunk 1 1 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
{HDR}      Content-Length: 0
    ]]>
  </send>
  <label id="end"/>
</scenario>
"#
    );
    let p = dir.join("trunk.xml");
    std::fs::write(&p, xml).expect("scenario");
    p
}

async fn call(password: &str) -> (Vec<String>, bool, String) {
    let dir = std::env::temp_dir().join(format!("zvonar-uac-{}-{password}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let trunk_port = free_port();
    let sipp = Command::new("sipp")
        .args(["-sf", &scenario(&dir).to_string_lossy()])
        .args(["-p", &trunk_port.to_string(), "-m", "1"])
        .args([
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-mp",
            &(free_port() & !1).to_string(),
        ])
        .args(["-timeout", "20s", "-timeout_error", "-nostdin"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp (apt install sip-tester)");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cancel = CancellationToken::new();
    let (server, _calls) = start(support::loopback_config(), cancel.clone())
        .await
        .expect("sip");
    let (leg, mut signals) = server
        .dial(DialRequest {
            target: format!("sip:74951112233@127.0.0.1:{trunk_port}"),
            destination: None,
            tcp: false,
            ws: false,
            headers: Vec::new(),
            from_user: "+79161234567".into(),
            from_display: None,
            from_host: None,
            asserted_identity: None,
            offer: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                    m=audio 40000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n"
                .into(),
            credential: Some(DigestCredential {
                username: "zv".into(),
                password: password.into(),
                realm: None,
                auth_username: None,
            }),
        })
        .expect("dial");
    let mut seen = Vec::new();
    while let Ok(Some(sig)) = tokio::time::timeout(Duration::from_secs(15), signals.recv()).await {
        match sig {
            LegSignal::Answered { sdp } => {
                assert!(sdp.unwrap_or_default().contains("PCMA/8000"));
                seen.push("answered".to_string());
                leg.hangup().await;
            }
            LegSignal::Failed { status, .. } => {
                seen.push(format!("failed {status}"));
                break;
            }
            LegSignal::Ended(end) => {
                assert_eq!(end, LegEnd::OurBye);
                seen.push("ended".to_string());
                break;
            }
            LegSignal::Progress { status, .. } => seen.push(format!("progress {status}")),
            LegSignal::Dialog(_) | LegSignal::Refer(_) => {}
        }
    }
    let out = sipp.wait_with_output().expect("sipp");
    cancel.cancel();
    (
        seen,
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn a_challenging_trunk_gets_our_digest_and_our_bye() {
    let (seen, ok, out) = call("trunk-secret").await;
    assert_eq!(seen, ["answered", "ended"], "{out}");
    assert!(ok, "SIPp verified the digest and got BYE: {out}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_reported() {
    let (seen, ok, out) = call("wrong-secret").await;
    assert_eq!(seen, ["failed 403"], "{out}");
    assert!(ok, "{out}");
}
