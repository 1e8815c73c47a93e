//! Debts import (`zvonar import debts`): CSV and XLSX, bad rows by line, replacement of
//! earlier figures, on a real SQLite database.
#![allow(clippy::unwrap_used)]

mod common;

use common::{db, example, temp_file, temp_path};
use sqlx::SqlitePool;
use std::path::PathBuf;
use zvonar_billing::{import_accounts, import_all_debts, import_debts, ImportError};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A migrated database with the example registry imported.
async fn registry() -> SqlitePool {
    let pool = db().await;
    let r = import_accounts(&pool, example("registry.csv"))
        .await
        .unwrap();
    assert_eq!(r.errors, vec![]);
    pool
}

/// Stored figures: (account, kopecks, oldest unpaid, as of, months owed), by account.
async fn stored(pool: &SqlitePool) -> Vec<(String, i64, Option<String>, String, i64)> {
    sqlx::query_as(
        "SELECT a.number, d.balance_kopecks, d.oldest_unpaid, d.as_of, d.months_owed
         FROM account_debts d JOIN accounts a ON a.id = d.account_id ORDER BY a.number",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn row(
    account: &str,
    kopecks: i64,
    oldest: Option<&str>,
    as_of: &str,
    months: i64,
) -> (String, i64, Option<String>, String, i64) {
    (
        account.into(),
        kopecks,
        oldest.map(String::from),
        as_of.into(),
        months,
    )
}

#[tokio::test]
async fn fixture_imports_good_rows_and_reports_bad_ones_by_line() {
    let pool = registry().await;
    let r = import_debts(&pool, fixture("debts.csv"), None)
        .await
        .unwrap();
    let lines: Vec<usize> = r.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![7, 8, 9, 10, 11], "{:?}", r.errors);
    let reasons: Vec<&str> = r.errors.iter().map(|e| e.reason.as_str()).collect();
    assert!(
        reasons[0].contains("unknown account «9999999999»"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("«1,234»"), "{reasons:?}");
    assert!(reasons[2].contains("after the as-of date"), "{reasons:?}");
    assert!(
        reasons[3].contains("missing oldest unpaid month"),
        "{reasons:?}"
    );
    assert!(reasons[4].contains("repeats line 2"), "{reasons:?}");
    assert_eq!(
        (r.rows_read, r.added, r.replaced, r.unchanged),
        (11, 6, 0, 0)
    );
    let d = "2026-11-30";
    assert_eq!(
        stored(&pool).await,
        vec![
            row("5000010001", 123_456, Some("2026-08-01"), d, 3),
            row("5000010002", 1_500_000, Some("2026-03-01"), d, 8),
            row("5000010003", 0, None, d, 0),
            row("5000010007", -35_000, None, d, 0),
            row("5000010012", 499_999, Some("2026-10-01"), d, 1),
            row("5000020004", 750_000, Some("2026-05-01"), d, 6),
        ]
    );

    // The same file again changes nothing and reports the same bad rows.
    let again = import_debts(&pool, fixture("debts.csv"), None)
        .await
        .unwrap();
    assert_eq!((again.added, again.replaced, again.unchanged), (0, 0, 6));
    assert_eq!(again.errors, r.errors);
}

#[tokio::test]
async fn newer_figures_replace_older_ones_and_older_are_refused() {
    let pool = registry().await;
    import_debts(&pool, fixture("debts.csv"), None)
        .await
        .unwrap();
    // December: Иванов paid, Петрова paid part; the as-of date comes from --as-of.
    let december = "ЛС,Долг,Неоплаченный месяц\n5000010001,0,\n5000010002,\"9 000,00\",05.2026\n";
    let r = import_debts(
        &pool,
        temp_file("dec.csv", december),
        chrono::NaiveDate::from_ymd_opt(2026, 12, 31),
    )
    .await
    .unwrap();
    assert_eq!(r.errors, vec![]);
    assert_eq!((r.added, r.replaced, r.unchanged), (0, 2, 0));
    let s = stored(&pool).await;
    assert_eq!(s[0], row("5000010001", 0, None, "2026-12-31", 0));
    assert_eq!(
        s[1],
        row("5000010002", 900_000, Some("2026-05-01"), "2026-12-31", 7)
    );
    // Figures as of October are older than those stored: refused, nothing changes.
    let october = "лс;долг;неоплаченный месяц;на дату\n5000010002;1;2026-10;2026-10-31\n";
    let r = import_debts(&pool, temp_file("oct.csv", october), None)
        .await
        .unwrap();
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].line, 2);
    assert!(r.errors[0].reason.contains("2026-12-31"), "{:?}", r.errors);
    assert_eq!(stored(&pool).await, s);
}

#[tokio::test]
async fn a_complete_file_clears_the_accounts_it_does_not_name() {
    let pool = registry().await;
    import_debts(&pool, fixture("debts.csv"), None)
        .await
        .unwrap();
    // December's full export: Петрова still owes, 5000010012 is named on a bad row (its
    // figures stay), the other four paid off.
    let dec = "лс;долг;неоплаченный месяц;на дату\n\
        5000010002;9 000;2026-05;2026-12-31\n\
        5000010012;много;2026-10;2026-12-31\n";
    let r = import_all_debts(&pool, temp_file("dec.csv", dec), None)
        .await
        .unwrap();
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!((r.added, r.replaced, r.cleared), (0, 1, 4));
    let kept = vec![
        row("5000010002", 900_000, Some("2026-05-01"), "2026-12-31", 7),
        row("5000010012", 499_999, Some("2026-10-01"), "2026-11-30", 1),
    ];
    assert_eq!(stored(&pool).await, kept);
    // A complete file without a single good row clears nothing.
    let bad = "лс;долг;неоплаченный месяц;на дату\n5000010001;много;2026-05;2026-12-31\n";
    let r = import_all_debts(&pool, temp_file("bad.csv", bad), None)
        .await
        .unwrap();
    assert_eq!((r.errors.len(), r.cleared), (1, 0));
    assert_eq!(stored(&pool).await, kept);
    // Figures as of a later date than the file's are kept; older ones it does not name go.
    let mid = "лс;долг;неоплаченный месяц;на дату\n5000010001;1;2026-12;2026-12-15\n";
    let r = import_all_debts(&pool, temp_file("mid.csv", mid), None)
        .await
        .unwrap();
    assert_eq!((r.added, r.cleared), (1, 1), "{r:?}");
    assert_eq!(
        stored(&pool).await,
        vec![
            row("5000010001", 100, Some("2026-12-01"), "2026-12-15", 0),
            kept[0].clone(),
        ]
    );
}

#[tokio::test]
async fn missing_columns_fail_the_whole_file() {
    let pool = registry().await;
    let path = temp_file("cols.csv", "лс;долг\n5000010001;100\n");
    match import_debts(&pool, &path, None).await {
        Err(ImportError::MissingColumns(cols)) => {
            assert_eq!(
                cols,
                vec!["неоплаченный месяц/oldest_unpaid", "на дату/as_of"]
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(stored(&pool).await.is_empty());
}

#[tokio::test]
async fn xlsx_debts_with_numeric_and_date_cells() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let path = temp_path("debts.xlsx");
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("dd.mm.yyyy");
    for (c, h) in ["Лицевой счёт", "Задолженность", "Долг с месяца", "На дату"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let as_of = ExcelDateTime::from_ymd(2026, 11, 30).unwrap();
    // Row 2: numbers and dates as spreadsheet cells.
    sheet.write_number(1, 0, 5000010001.0).unwrap();
    sheet.write_number(1, 1, 1234.56).unwrap();
    let aug = ExcelDateTime::from_ymd(2026, 8, 1).unwrap();
    sheet.write_datetime_with_format(1, 2, &aug, &date).unwrap();
    sheet
        .write_datetime_with_format(1, 3, &as_of, &date)
        .unwrap();
    // Row 3: text cells as typed by hand.
    sheet.write_string(2, 0, "5000020004").unwrap();
    sheet.write_string(2, 1, "7 500,50").unwrap();
    sheet.write_string(2, 2, "05.2026").unwrap();
    sheet.write_string(2, 3, "30.11.2026").unwrap();
    // Row 5 (row 4 left empty): an unknown account.
    sheet.write_string(4, 0, "0000000000").unwrap();
    sheet.write_number(4, 1, 10.0).unwrap();
    sheet.write_string(4, 2, "2026-10").unwrap();
    sheet
        .write_datetime_with_format(4, 3, &as_of, &date)
        .unwrap();
    book.save(&path).unwrap();

    let pool = registry().await;
    let r = import_debts(&pool, &path, None).await.unwrap();
    assert_eq!(r.rows_read, 3);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].line, 5);
    assert!(r.errors[0].reason.contains("unknown account"));
    assert_eq!(
        stored(&pool).await,
        vec![
            row("5000010001", 123_456, Some("2026-08-01"), "2026-11-30", 3),
            row("5000020004", 750_050, Some("2026-05-01"), "2026-11-30", 6),
        ]
    );
}
