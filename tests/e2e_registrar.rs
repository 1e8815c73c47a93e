//! End to end, the desk-phone path: SIPp as an operator's desk phone registers with
//! digest authentication (RFC 3261 §10.2, §22.4; RFC 2617) against a real `zvonar serve`
//! over UDP and TCP on loopback: 401 challenge → authorised REGISTER → 200 listing the
//! contact; un-REGISTER (Expires: 0) → 200 without contacts. A wrong password gets 401
//! again, and after `[sip.registrar] lockout_after` failures 403 even with the right one.
//! The accounts are made with `zvonar sip-account add`, which stores no password.
//! SIPp 3.6 answers only MD5 and reads the first challenge, so MD5 is offered first here
//! (`algorithms = ["MD5", "SHA-256"]`); both challenges are still sent.

mod common;

use common::{free_port, sipp, Options, Zvonar};
use std::path::{Path, PathBuf};

const REALM: &str = "e2e.zvonar";

fn start(name: &str) -> Zvonar {
    Zvonar::start_with(
        name,
        Options {
            extra_config: format!(
                "[sip.registrar]\nrealm = \"{REALM}\"\nlockout_after = 3\nlockout_s = 600\n\
                 min_expires_s = 60\nmax_expires_s = 3600\n\
                 algorithms = [\"MD5\", \"SHA-256\"]\n"
            ),
            ..Options::default()
        },
    )
}

/// One REGISTER of `user`; `auth`: the SIPp authentication keyword or "".
fn register(user: &str, cseq: u32, expires: u32, auth: &str) -> String {
    let auth = if auth.is_empty() {
        String::new()
    } else {
        format!("      {auth}\n")
    };
    format!(
        r#"  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: {cseq} REGISTER
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Expires: {expires}
      Max-Forwards: 70
{auth}      Content-Length: 0

    ]]>
  </send>
"#
    )
}

fn recv(status: u16, extra: &str) -> String {
    let auth = if status == 401 { " auth=\"true\"" } else { "" };
    if extra.is_empty() {
        format!("  <recv response=\"{status}\"{auth}/>\n")
    } else {
        format!("  <recv response=\"{status}\"{auth}>\n    <action>{extra}</action>\n  </recv>\n")
    }
}

fn auth(user: &str, password: &str) -> String {
    format!("[authentication username={user} password={password}]")
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(
        &p,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"{name}\">\n{body}</scenario>\n"
        ),
    )
    .expect("scenario");
    p
}

/// Register, check the 200 lists our contact with its expiry, un-register, check the
/// 200 lists none.
fn register_and_unregister(user: &str, password: &str) -> String {
    let has_contact = format!(
        r#"<ereg regexp="&lt;sip:{user}@127\.0\.0\.1:[0-9]+;transport=(UDP|TCP|udp|tcp)&gt;;expires=(119|120)" search_in="hdr" header="Contact:" check_it="true" assign_to="c1"/>"#
    );
    let no_contact = r#"<ereg regexp="sip:" search_in="hdr" header="Contact:" check_it_inverse="true" assign_to="c2"/>"#;
    let both = r#"<ereg regexp="WWW-Authenticate: Digest [^\r\n]*algorithm=SHA-256, qop=" search_in="msg" check_it="true" assign_to="c0"/>"#;
    [
        register(user, 1, 120, ""),
        recv(401, both),
        register(user, 2, 120, &auth(user, password)),
        recv(200, &has_contact),
        register(user, 3, 0, ""),
        recv(401, ""),
        register(user, 4, 0, &auth(user, password)),
        recv(200, no_contact),
        "  <Reference variables=\"c0,c1,c2\"/>\n".into(),
    ]
    .concat()
}

fn run(z: &Zvonar, scenario: &Path, transport: &str) -> (bool, String) {
    let port = free_port().to_string();
    sipp(
        z,
        scenario,
        &["-m", "1", "-l", "1", "-t", transport, "-p", &port],
        20,
    )
}

#[test]
fn desk_phone_registers_with_digest_over_udp_and_tcp() {
    let z = start("registrar");
    for (user, password) in [("101", "desk-phone-101"), ("102", "desk-phone-102")] {
        let (ok, out) = z.cli(&["sip-account", "add", user], &format!("{password}\n"));
        assert!(ok, "{out}");
        assert!(
            out.contains(&format!("SIP account {user} added (realm {REALM})")),
            "{out}"
        );
    }
    let (ok, out) = z.cli(&["sip-account", "list"], "");
    assert!(ok && out.contains(&format!("101\t{REALM}")), "{out}");
    // Only hashes are stored.
    let db = std::fs::read(z.dir.join("zvonar.sqlite")).expect("db");
    let wal = std::fs::read(z.dir.join("zvonar.sqlite-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(14).any(|w| w == b"desk-phone-101"));
    }
    for (user, password, transport) in [
        ("101", "desk-phone-101", "u1"),
        ("102", "desk-phone-102", "t1"),
    ] {
        let s = write(
            &z.dir,
            &format!("reg-{user}"),
            &register_and_unregister(user, password),
        );
        let (ok, out) = run(&z, &s, transport);
        assert!(ok, "{transport}: {out}\n{}", z.log());
    }
}

#[test]
fn wrong_password_is_challenged_then_locked_out() {
    let z = start("registrar-lockout");
    // Bad input to the CLI is refused and stores nothing.
    let (ok, out) = z.cli(&["sip-account", "add", "10 1"], "long-enough\n");
    assert!(!ok && out.contains("SIP user name"), "{out}");
    let (ok, out) = z.cli(&["sip-account", "add", "105"], "short\n");
    assert!(!ok && out.contains("at least 8"), "{out}");
    let (ok, out) = z.cli(&["sip-account", "remove", "105"], "");
    assert!(!ok && out.contains("no SIP account 105"), "{out}");
    let (ok, out) = z.cli(&["sip-account", "list"], "");
    assert!(ok && !out.contains('\t'), "{out}");
    let (ok, out) = z.cli(&["sip-account", "add", "103"], "right-password\n");
    assert!(ok, "{out}");
    let wrong = auth("103", "wrong-password");
    let right = auth("103", "right-password");
    let body = [
        register("103", 1, 120, ""),
        recv(401, ""),
        register("103", 2, 120, &wrong),
        recv(401, ""),
        register("103", 3, 120, &wrong),
        recv(401, ""),
        // The third failure (lockout_after = 3) locks 103 from this address…
        register("103", 4, 120, &wrong),
        recv(403, ""),
        // …so a fresh challenge answered with the right password is refused too.
        register("103", 5, 120, ""),
        recv(401, ""),
        register("103", 6, 120, &right),
        recv(403, ""),
    ]
    .concat();
    let s = write(&z.dir, "lockout", &body);
    let (ok, out) = run(&z, &s, "u1");
    assert!(ok, "{out}\n{}", z.log());
    // Another account from the same address still registers.
    let (ok, out) = z.cli(&["sip-account", "add", "104"], "other-password\n");
    assert!(ok, "{out}");
    let s = write(
        &z.dir,
        "other",
        &register_and_unregister("104", "other-password"),
    );
    let (ok, out) = run(&z, &s, "u1");
    assert!(ok, "{out}\n{}", z.log());
}
