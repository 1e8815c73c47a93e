//! End to end, accounts: the first admin is created with the real `zvonar user add`
//! (password on stdin, never on the command line) next to a running `zvonar serve`, then
//! logs in over HTTP, uses the session cookie with its CSRF token, and logs out.

mod common;

use common::Zvonar;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// One HTTP/1.1 request over a fresh connection: (status, head, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, head.to_string(), body.to_string())
}

fn zvonar_user(z: &Zvonar, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zvonar"))
        .args([
            "--config",
            &z.dir.join("zvonar.toml").to_string_lossy(),
            "user",
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zvonar user");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("password");
    child.wait_with_output().expect("zvonar user output")
}

#[test]
fn user_add_then_log_in_over_http() {
    let z = Zvonar::start("access");
    // A password on the command line is not even accepted.
    let out = zvonar_user(
        &z,
        &[
            "add",
            "--login",
            "boss",
            "--role",
            "admin",
            "--password",
            "x",
        ],
        "",
    );
    assert!(!out.status.success());
    // Nothing on stdin: a clear error, no user.
    let out = zvonar_user(&z, &["add", "--login", "boss", "--role", "admin"], "");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no password"),
        "{out:?}"
    );
    let out = zvonar_user(
        &z,
        &[
            "add",
            "--login",
            "boss",
            "--role",
            "admin",
            "--name",
            "Главный",
        ],
        "первый админ 2026\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("boss (admin) created"));

    let port = z.http_port;
    let (status, _, _) = http(
        port,
        "POST",
        "/api/v1/login",
        &[],
        r#"{"login":"boss","password":"не тот"}"#,
    );
    assert_eq!(status, 401);
    let (status, head, body) = http(
        port,
        "POST",
        "/api/v1/login",
        &[],
        r#"{"login":"boss","password":"первый админ 2026"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let set_cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie
        .split_once(':')
        .map(|(_, v)| v.trim())
        .and_then(|v| v.split(';').next())
        .expect("cookie")
        .to_string();
    let login: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(login["role"], "admin");
    let csrf = login["csrf_token"].as_str().expect("csrf").to_string();

    let (status, _, body) = http(
        port,
        "GET",
        "/api/v1/me",
        &[format!("Cookie: {cookie}")],
        "",
    );
    assert_eq!(status, 200);
    assert!(body.contains("\"login\":\"boss\""), "{body}");
    // The company's zone, in which the console shows and takes times.
    assert!(body.contains("\"time_zone\":\"Europe/Moscow\""), "{body}");
    // The session works for an admin's change only with the CSRF token.
    let new_user = r#"{"login":"petrova","role":"operator","password":"пароль оператора"}"#;
    let (status, _, _) = http(
        port,
        "POST",
        "/api/v1/users",
        &[format!("Cookie: {cookie}")],
        new_user,
    );
    assert_eq!(status, 403);
    let with_csrf = [format!("Cookie: {cookie}"), format!("X-CSRF-Token: {csrf}")];
    let (status, _, body) = http(port, "POST", "/api/v1/users", &with_csrf, new_user);
    assert_eq!(status, 201, "{body}");
    // The config token still works, as the service account, and sees the audit log.
    let audit = z.get_json("/api/v1/audit");
    let actions: Vec<(&str, &str)> = audit
        .as_array()
        .expect("audit")
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or(""),
                e["action"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("boss", "user_created"),
            ("boss", "login"),
            ("boss", "login_failed"),
            ("cli", "user_created"),
        ]
    );
    assert_eq!(audit[0]["ip"], "127.0.0.1");
    let (status, _, _) = http(port, "POST", "/api/v1/logout", &with_csrf, "");
    assert_eq!(status, 204);
    let (status, _, _) = http(
        port,
        "GET",
        "/api/v1/me",
        &[format!("Cookie: {cookie}")],
        "",
    );
    assert_eq!(status, 401);

    // `zvonar user passwd` sets a new password the same way.
    let out = zvonar_user(
        &z,
        &["passwd", "--login", "petrova"],
        "новый пароль оператора\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, _, _) = http(
        port,
        "POST",
        "/api/v1/login",
        &[],
        r#"{"login":"petrova","password":"новый пароль оператора"}"#,
    );
    assert_eq!(status, 200);
}
