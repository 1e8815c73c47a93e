//! End to end, the operators' console in real headless Chromium (Debian's `chromium`
//! driven by playwright-core from npm, scripts in tests/browser/) against a real `zvonar
//! serve`. Screenshots: `target/browser-artifacts/<test>/*.png`.

mod common;

use common::{browser, known_caller_steps, run_sipp, write_scenario, Options, Zvonar};

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

#[test]
fn operator_files_a_ticket_during_a_call_works_it_filters_and_exports_the_journal() {
    let z = start("console-tickets");
    // A real call: the registered caller of ул. Ленина 5 talks to the robot (recorded).
    let sc = write_scenario(
        &z.dir,
        "known",
        "+79161234567",
        "+74951234567",
        &known_caller_steps(),
        60_000,
    );
    let (ok, out) = run_sipp(&z, &sc, "u1", 120);
    assert!(ok, "SIPp call failed:\n{out}\n{}", z.log());
    let calls = z.get_json("/api/v1/calls?limit=5");
    let call_id = calls[0]["call_id"].as_str().expect("call id").to_string();
    assert!(calls[0]["recording"].is_string(), "{calls}");

    z.add_user("sidorova", "operator", "пароль оператора 7", &[]);
    let r = browser::run_script(
        &z,
        "tickets.mjs",
        "console_tickets",
        &[
            ("OPERATOR", "sidorova"),
            ("OPERATOR_PASSWORD", "пароль оператора 7"),
            ("CALL_ID", &call_id),
        ],
    );
    let number = r["number"].as_str().expect("number").to_string();
    assert!(r["duration"].as_f64().expect("duration") > 1.0, "{r}");
    assert!(r["total"].as_str().expect("total").contains("из 1"), "{r}");

    // What the page did is in the database, by the operator, on the call.
    let t = z.get_json(&format!("/api/v1/tickets/{number}"));
    assert_eq!(t["ticket"]["call_id"], call_id.as_str(), "{t}");
    assert_eq!(t["ticket"]["created_by"], "sidorova");
    assert_eq!(t["ticket"]["status"], "in_progress");
    assert_eq!(t["ticket"]["emergency"], true);
    assert_eq!(t["ticket"]["caller"], "+79161234567");
    assert!(t["ticket"]["due_at"].is_string(), "{t}");
    assert_eq!(t["comments"][0]["text"], "Жилец дома до 18:00");
    assert_eq!(t["photos"][0]["name"], "труба.png");
    let call = z.get_json(&format!("/api/v1/calls/{call_id}"));
    assert!(
        call["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .any(|e| e["kind"] == "ticket_filed" && e["payload"]["number"] == number.as_str()),
        "{call}"
    );
    let audit = z.get_json("/api/v1/audit?limit=500");
    let by_op: Vec<&str> = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter(|e| e["actor"] == "sidorova")
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "ticket_created",
        "ticket_status_changed",
        "ticket_commented",
        "ticket_photo_added",
        "tickets_exported",
    ] {
        assert!(by_op.contains(&a), "{a} not in {by_op:?}");
    }

    // The exports the browser saved hold exactly the filtered ticket.
    let dir = browser::artifacts_dir_path("console_tickets");
    let csv = std::fs::read_to_string(dir.join("journal.csv")).expect("csv");
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("Номер;Создана;Срок;Статус"), "{csv}");
    assert!(lines[1].starts_with(&format!("{number};")), "{csv}");
    assert!(
        lines[1].contains(";в работе;")
            && lines[1].contains(&format!(
                ";{};12;",
                r["building"].as_str().expect("building")
            )),
        "{csv}"
    );
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook(dir.join("journal.xlsx")).expect("xlsx");
    let range = wb.worksheet_range("Заявки").expect("sheet");
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][0], number);
    assert_eq!(rows[1][3], "в работе");
    for shot in ["login.png", "ticket-card.png", "ticket-journal.png"] {
        assert!(dir.join(shot).is_file(), "{shot}");
    }
}

#[test]
fn admin_adds_a_user_resets_a_password_and_edits_a_role() {
    let z = start("console-admin");
    z.add_user("admin", "admin", "пароль администратора", &[]);
    browser::run_script(
        &z,
        "admin.mjs",
        "console_admin",
        &[
            ("ADMIN", "admin"),
            ("ADMIN_PASSWORD", "пароль администратора"),
        ],
    );
    let users = z.get_json("/api/v1/users");
    let k = users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["login"] == "kuznetsov")
        .unwrap_or_else(|| panic!("{users}"));
    assert_eq!(k["role"], "dispatcher");
    assert_eq!(k["display_name"], "Кузнецов П.");
    assert_eq!(k["must_change_password"], true);
    let roles = z.get_json("/api/v1/roles");
    let executor: Vec<&str> = roles["executor"]
        .as_array()
        .expect("executor")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert_eq!(executor, vec!["transfer_tickets", "complete_tickets"]);
    let audit = z.get_json("/api/v1/audit?limit=100");
    let actions: Vec<&str> = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter(|e| e["actor"] == "admin")
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in ["user_created", "password_reset", "role_permissions_changed"] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
}
