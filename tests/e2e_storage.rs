//! End to end: calls never wait on storage. A 50 000-row registry import runs in a separate
//! `zvonar import` process while ten robot calls (SIPp) file tickets: every ticket gets a
//! number, the robot reads that number out, and the import finishes with all its rows.

mod common;

use common::{free_port, known_caller_steps, sipp, write_scenario, Zvonar};
use serde_json::Value;
use std::process::Command;

const ROWS: usize = 50_000;
const CALLS: usize = 10;

/// An accounts registry in the format of deploy/example/registry.csv: 500 buildings of
/// 100 apartments on a street of its own, one account and one phone per apartment.
fn write_registry(path: &std::path::Path) {
    let mut csv = String::from("улица;дом;фиас;квартира;подъезд;этаж;стояк;лс;фио;телефон\n");
    for i in 0..ROWS {
        let (house, apartment) = (i / 100 + 1, i % 100 + 1);
        csv.push_str(&format!(
            "улица Импортная;{house};;{apartment};{};{};А;60{i:08};Жилец Номер {i};+7 900 {:07}\n",
            apartment / 25 + 1,
            apartment % 25 + 1,
            i
        ));
    }
    std::fs::write(path, csv).expect("registry csv");
}

#[test]
fn ten_calls_get_ticket_numbers_while_a_50000_row_import_runs() {
    let z = Zvonar::start("storage");
    let csv = z.dir.join("big-registry.csv");
    write_registry(&csv);

    let import = {
        let cfg = z.dir.join("zvonar.toml");
        let csv = csv.clone();
        std::thread::spawn(move || {
            let out = Command::new(env!("CARGO_BIN_EXE_zvonar"))
                .args(["--config", &cfg.to_string_lossy(), "import", "accounts"])
                .arg(&csv)
                .output()
                .expect("zvonar import");
            (out, chrono::Utc::now())
        })
    };
    let scenario = write_scenario(
        &z.dir,
        "storage",
        "+79161234567",
        "+74951234567",
        &known_caller_steps(),
        90_000,
    );
    let media_port = common::free_media_port().to_string();
    let sip_port = free_port().to_string();
    let calls = CALLS.to_string();
    let (calls_ok, sipp_out) = sipp(
        &z,
        &scenario,
        &[
            "-r",
            "2",
            "-m",
            &calls,
            "-l",
            &calls,
            "-p",
            &sip_port,
            "-mp",
            &media_port,
        ],
        240,
    );
    let (import_out, import_done_at) = import.join().expect("import thread");
    let import_stdout = String::from_utf8_lossy(&import_out.stdout).to_string();
    assert!(
        import_out.status.success(),
        "import failed: {import_stdout}{}",
        String::from_utf8_lossy(&import_out.stderr)
    );
    assert!(
        import_stdout.contains(&format!(
            "{ROWS} rows: 500 buildings, {ROWS} premises, {ROWS} accounts, {ROWS} residents, {ROWS} phones added; 0 updated, 0 unchanged, 0 bad"
        )),
        "{import_stdout}"
    );
    assert!(
        calls_ok,
        "SIPp calls failed:\n{sipp_out}\n--- zvonar log ---\n{}",
        z.log()
    );

    // Every call filed one ticket with a number, and the robot read that number out.
    let tickets = z.get_json("/api/v1/tickets?limit=100");
    let tickets = tickets.as_array().expect("tickets");
    assert_eq!(tickets.len(), CALLS, "{tickets:?}\n{}", z.log());
    let mut first_filed = None;
    for t in tickets {
        let number = t["number"].as_str().unwrap_or_default();
        assert!(
            !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()),
            "{t}"
        );
        let created: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(t["created_at"].clone()).expect("created_at");
        first_filed = first_filed.min(Some(created)).or(Some(created));
        let call_id = t["call_id"].as_str().expect("call id");
        let call: Value = z.get_json(&format!("/api/v1/calls/{call_id}"));
        let said: Vec<&str> = call["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .filter(|e| e["kind"] == "robot_said")
            .filter_map(|e| e["payload"]["text"].as_str())
            .collect();
        let expected = format!("Номер заявки: {number}.");
        assert!(
            said.iter().any(|s| s.contains(&expected)),
            "call {call_id} did not read out «{expected}»: {said:?}"
        );
    }
    // The calls really competed with the import for the database.
    let first_filed = first_filed.expect("a ticket");
    assert!(
        import_done_at > first_filed,
        "the import ended ({import_done_at}) before the first ticket ({first_filed}); \
         the test did not exercise the contention"
    );
}
