//! End to end: the real `zvonar` CLI imports the example registry, then a debts file with
//! good and bad rows (billing/tests/fixtures/debts.csv); bad rows are printed as
//! `FILE:LINE: reason`, the good ones are in the database.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temp directory with deploy/zvonar.toml whose database is `zvonar.sqlite` in it.
fn config_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zvonar-e2e-debts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(repo().join("deploy/zvonar.toml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("database ="))
        .unwrap();
    let text = text.replace(line, "database = \"zvonar.sqlite\"");
    std::fs::write(dir.join("zvonar.toml"), text).unwrap();
    dir
}

fn zvonar(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zvonar"))
        .arg("--config")
        .arg(dir.join("zvonar.toml"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn import_debts_cli_reports_bad_lines_and_stores_the_rest() {
    let dir = config_dir();
    let registry = repo().join("deploy/example/registry.csv");
    let (ok, _, err) = zvonar(&dir, &["import", "accounts", registry.to_str().unwrap()]);
    assert!(ok, "{err}");
    let debts = repo().join("billing/tests/fixtures/debts.csv");
    let file = debts.to_str().unwrap();
    let (ok, out, err) = zvonar(&dir, &["import", "debts", file]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("11 rows: 6 accounts added, 0 replaced, 0 unchanged, 0 cleared, 5 bad"),
        "{out}"
    );
    let bad: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix(file)?.strip_prefix(':'))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(bad, vec!["7", "8", "9", "10", "11"], "{err}");

    let pool = zvonar_billing::open_sqlite(&dir.join("zvonar.sqlite").to_string_lossy())
        .await
        .unwrap();
    let (n, sum): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), SUM(balance_kopecks) FROM account_debts WHERE as_of = '2026-11-30'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (n, sum),
        (6, 123_456 + 1_500_000 - 35_000 + 499_999 + 750_000)
    );
    pool.close().await;

    // A complete December export naming only Петрова's account clears the other five.
    let december = dir.join("december.csv");
    std::fs::write(
        &december,
        "лс;долг;неоплаченный месяц\n5000010002;9 000,00;05.2026\n",
    )
    .unwrap();
    let december = december.to_str().unwrap();
    let (ok, out, err) = zvonar(
        &dir,
        &[
            "import",
            "debts",
            december,
            "--as-of",
            "2026-12-31",
            "--complete",
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("1 rows: 0 accounts added, 1 replaced, 0 unchanged, 5 cleared, 0 bad"),
        "{out}"
    );

    // A date that is not one is refused by the argument parser, before anything is read.
    let (ok, _, err) = zvonar(&dir, &["import", "debts", file, "--as-of", "30.11.2026"]);
    assert!(!ok && err.contains("--as-of"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
