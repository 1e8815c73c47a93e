//! End to end, the console over HTTPS and its softphone over WSS, both served by zvonar
//! itself (`[http] tls_cert`/`tls_key`, `[sip] wss_listen`): no TLS proxy in front. The
//! test makes a self-signed certificate for zvonar's address (rcgen), starts zvonar with it
//! in a network namespace (Chromium refuses WebRTC to 127.0.0.1; [`common::netns`]), and
//! real headless Chromium (`--ignore-certificate-errors`, no insecure-origin switch: the
//! page is a secure context because it is https) loads `https://…/console/`, logs in,
//! «Начать приём звонков» registers over `wss://` and takes a SIPp caller's queued call
//! with audio both ways (tests/browser/softphone.mjs, as in tests/e2e_webrtc.rs).
//!
//! Screenshots: `target/browser-artifacts/e2e_wss/{ringing,in_call}.png`.
//! Needs root for `ip netns`; skips with a message only where namespaces cannot be made.

mod common;

use common::browser::LiveScript;
use common::netns::{Netns, NsZvonar};
use common::{problem_speech, write_scenario, Step};
use serde_json::Value;
use std::time::Duration;

const REALM: &str = "e2e.zvonar";

#[test]
fn the_console_over_https_takes_a_call_over_wss() {
    if let Err(why) = common::netns::possible() {
        eprintln!(
            "SKIPPED: network namespaces cannot be made here ({why}); this test needs root \
             (Chromium refuses WebRTC to 127.0.0.1, so zvonar runs in a namespace)"
        );
        return;
    }
    let ns = Netns::create("ws");
    let host = ns.host_ip;
    // A self-signed certificate for the namespace's address.
    struct Certs(std::path::PathBuf);
    impl Drop for Certs {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let certs =
        Certs(std::env::temp_dir().join(format!("zvonar-e2e-wss-cert-{}", std::process::id())));
    std::fs::create_dir_all(&certs.0).expect("cert dir");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec![ns.ns_ip.to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let (cert_pem, key_pem) = (certs.0.join("cert.pem"), certs.0.join("key.pem"));
    std::fs::write(&cert_pem, cert.pem()).expect("cert");
    std::fs::write(&key_pem, key.serialize_pem()).expect("key");
    let z = NsZvonar::start_https(
        &ns,
        "wss",
        Some(common::browser::QUEUE_DIALPLAN),
        // WSS on its own port with [http]'s certificate; the caller's number is trusted
        // from our (the «trunk's») address, never from the browser's.
        &format!(
            "wss_listen = \"{}:7443\"\ntrusted = [\"{host}/32\"]",
            ns.ns_ip
        ),
        &format!("[sip.registrar]\nrealm = \"{REALM}\"\n"),
        (&cert_pem, &key_pem),
    );
    z.cli(
        &["user", "add", "--login", "anna", "--role", "operator"],
        "пароль оператора 1\n",
    );
    z.cli(
        &["sip-account", "add", "101", "--login", "anna"],
        "desk-phone-secret-101\n",
    );
    let mic: Vec<i16> = ["1", "2", "3", "4", "5", "6", "7", "8", "9"]
        .iter()
        .flat_map(|d| common::digits_wav(d))
        .collect();
    let mic_wav = z.dir.join("operator-mic.wav");
    common::write_mono_wav(&mic_wav, &mic);

    let url = format!("https://{}", z.http);
    let chromium_args = [
        "--use-fake-device-for-media-stream".to_string(),
        "--use-fake-ui-for-media-stream".to_string(),
        format!("--use-file-for-fake-audio-capture={}", mic_wav.display()),
        // The test's own certificate; the page is a secure context by being https.
        "--ignore-certificate-errors".to_string(),
        "--autoplay-policy=document-user-activation-required".to_string(),
    ];
    let mut browser = LiveScript::start(
        "softphone.mjs",
        "e2e_wss",
        &url,
        &chromium_args,
        &[
            ("ZVONAR_LOGIN", "anna"),
            ("ZVONAR_PASSWORD", "пароль оператора 1"),
        ],
    );
    if let Err(e) = browser.wait_line("READY", Duration::from_secs(90)) {
        panic!(
            "the console over https never became ready to take calls: {e}\nzvonar log:\n{}",
            z.log()
        );
    }
    // The page registered over WSS: its connection came through the TLS relay, from the
    // browser's address (our end of the veth).
    let log = z.log();
    assert!(
        log.contains("WSS connection relayed") && log.contains(&format!("client={host}:")),
        "the softphone's WebSocket is wss:// from {host}:\n{log}"
    );
    let (status, body) = z.get("/api/v1/queue").expect("GET over https");
    assert_eq!(status, 200);
    let st: Value = serde_json::from_slice(&body).expect("json");
    let agent = st["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["login"] == "anna"))
        .cloned()
        .unwrap_or_else(|| panic!("anna in the queue state: {st}"));
    assert_eq!(agent["state"], "available", "{agent}");

    let speech: Vec<i16> = std::iter::repeat_n(problem_speech(), 17)
        .flatten()
        .collect();
    let scenario = write_scenario(
        &z.dir,
        "wss-caller",
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
        common::free_media_port(),
        150,
    )
    .spawn()
    .expect("sipp");
    let result = browser.result(Duration::from_secs(150));
    let caller_out = caller.wait_with_output().expect("sipp");
    let caller_text = format!(
        "{}{}",
        String::from_utf8_lossy(&caller_out.stdout),
        String::from_utf8_lossy(&caller_out.stderr)
    );
    let r =
        result.unwrap_or_else(|e| panic!("{e}\nSIPp:\n{caller_text}\nzvonar log:\n{}", z.log()));
    assert!(
        caller_out.status.success(),
        "the caller was connected and got zvonar's BYE when the operator hung up:\n{caller_text}\n{}",
        z.log()
    );
    // The caller's card rang (the number trusted from the trunk's address), audio came in
    // and went out over the WebRTC media negotiated over WSS.
    let card = r["card"].as_str().unwrap_or_default();
    assert!(card.contains("Ленина"), "the caller's card: {card}");
    assert!(
        r["inbound"]["packetsReceived"].as_u64().unwrap_or(0) >= 150
            && r["maxLevel"].as_f64().unwrap_or(0.0) > 0.01,
        "caller audible in the page: {r}"
    );
    assert!(
        r["outbound"]["packetsSent"].as_u64().unwrap_or(0) >= 250,
        "{r}"
    );
    eprintln!(
        "wss e2e: page inbound {} packets, level max {:.3}, outbound {} packets",
        r["inbound"]["packetsReceived"],
        r["maxLevel"].as_f64().unwrap_or(0.0),
        r["outbound"]["packetsSent"]
    );
}

/// `zvonar serve` and `zvonar check-config` stop at once, exit non-zero and name the file
/// when a certificate is missing, holds no certificate, or its key is another's; with a
/// right pair `check-config` passes.
#[test]
fn bad_certificates_stop_the_start_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("zvonar-e2e-wss-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let pair = |stem: &str| {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        std::fs::write(dir.join(format!("{stem}.crt")), cert.pem()).expect("cert");
        std::fs::write(dir.join(format!("{stem}.key")), key.serialize_pem()).expect("key");
    };
    pair("a");
    pair("b");
    let run = |cert: &str, key: &str, command: &str| {
        let cfg = dir.join("zvonar.toml");
        std::fs::write(
            &cfg,
            format!(
                "dialplan = {dialplan:?}\n[sip]\nudp = \"127.0.0.1:0\"\n\
                 [http]\nlisten = \"127.0.0.1:0\"\ntoken = \"e2e-test-token\"\n\
                 tls_cert = \"{cert}\"\ntls_key = \"{key}\"\n\
                 [storage]\ndatabase = \"zvonar.sqlite\"\nrecordings = \"recordings\"\n\
                 [asr]\nmodel = {model:?}\n",
                dialplan = common::root()
                    .join("deploy/dialplan.toml")
                    .display()
                    .to_string(),
                model = common::whisper_model().display().to_string(),
            ),
        )
        .expect("config");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_zvonar"))
            .args(["--config", &cfg.to_string_lossy(), command])
            .output()
            .expect("zvonar");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string()
                + &String::from_utf8_lossy(&out.stdout),
        )
    };
    let path = |f: &str| dir.join(f).display().to_string();
    for command in ["serve", "check-config"] {
        let (ok, text) = run("missing.crt", "a.key", command);
        assert!(
            !ok && text.contains("cannot read TLS certificate")
                && text.contains(&path("missing.crt")),
            "{command}: {text}"
        );
        let (ok, text) = run("a.key", "a.key", command);
        assert!(
            !ok && text.contains("no certificate in") && text.contains(&path("a.key")),
            "{command}: {text}"
        );
        let (ok, text) = run("a.crt", "b.key", command);
        assert!(
            !ok && text.contains("cannot be used together")
                && text.contains(&path("a.crt"))
                && text.contains(&path("b.key")),
            "{command}: {text}"
        );
    }
    let (ok, text) = run("a.crt", "a.key", "check-config");
    assert!(ok, "a matching pair: {text}");
    assert!(
        !dir.join("zvonar.sqlite").exists(),
        "nothing was created before the certificates were checked"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
