//! End to end, the operators' console in real headless Chromium (Debian's `chromium`
//! driven by playwright-core from npm, scripts in tests/browser/) against a real `zvonar
//! serve`. Screenshots: `target/browser-artifacts/<test>/*.png`.

mod common;

use common::{browser, Options, Zvonar};

fn start(name: &str) -> Zvonar {
    Zvonar::start_with(
        name,
        Options {
            // Lock a login after 3 failures; allow enough attempts per address for the
            // test's own logins before the rate limit answers 429.
            extra_config: "[auth]\nlockout_failures = 3\nlogin_attempts_per_ip_per_minute = 12\n"
                .into(),
            ..Options::default()
        },
    )
}

#[test]
fn console_login_password_change_expiry_logout_lockout() {
    let z = start("console-shell");
    z.add_user(
        "ivanova",
        "operator",
        "выданный пароль 1",
        &["--must-change"],
    );
    z.add_user("petrov", "operator", "другой пароль 22", &[]);
    let r = browser::run_script(
        &z,
        "shell.mjs",
        "console_shell",
        &[
            ("OPERATOR", "ivanova"),
            ("OPERATOR_PASSWORD", "выданный пароль 1"),
            ("OPERATOR_NEW_PASSWORD", "новый пароль смены"),
            ("LOCKME", "petrov"),
        ],
    );
    // An operator's menu: the pages their permissions allow, nothing for admins only.
    let menu: Vec<&str> = r["menu"]
        .as_array()
        .expect("menu")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(menu.contains(&"Заявки"), "{menu:?}");
    assert!(!menu.iter().any(|m| m.contains("Пользователи")), "{menu:?}");
    // The server saw it all: the password changed twice, the lockout, the logout.
    let audit = z.get_json("/api/v1/audit?limit=500");
    let actions: Vec<&str> = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "login",
        "login_failed",
        "password_changed",
        "password_reset",
        "logout",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    for shot in ["login.png", "shell.png", "login-locked.png"] {
        let p = browser::artifacts_dir_path("console_shell").join(shot);
        assert!(
            std::fs::metadata(&p)
                .map(|m| m.len() > 1000)
                .unwrap_or(false),
            "{}",
            p.display()
        );
    }
}
