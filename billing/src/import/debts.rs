//! Import of debts per account (`zvonar import debts FILE`): balance, oldest unpaid month and
//! the date the figures are for, as a billing system exports them.

use super::table::{read_table, Column, Row, Table};
use super::{Batch, DebtImportReport, ImportError, RowError};
use chrono::{Datelike, NaiveDate};
use sqlx::sqlite::SqlitePool;
use sqlx::{Connection, SqliteConnection};
use std::collections::HashMap;
use std::path::Path;

/// Parses an amount of rubles as Russian spreadsheets and billing exports write it into
/// kopecks: `1 234,56`, `1234.56`, `1 234`, `-500,5`, `1.234.567,00`, `1,234.56`, with an
/// optional `₽`/`руб.`/`р.` after it. Spaces (also no-break ones) group thousands; when both
/// `,` and `.` occur the last one is the decimal separator; a lone `,` or `.` is the decimal
/// separator and may have one or two digits after it (`1,234` is refused as ambiguous).
///
/// Errors: the reason in words, quoting the cell.
pub(crate) fn parse_kopecks(raw: &str) -> Result<i64, String> {
    let bad = |why: &str| format!("bad amount «{}»: {why}", raw.trim());
    let mut s = raw.trim().to_lowercase();
    for suffix in ["₽", "руб.", "руб", "р."] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest.to_string();
            break;
        }
    }
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let (negative, body) = match s.strip_prefix(['-', '\u{2212}']) {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    if !body.starts_with(|c: char| c.is_ascii_digit())
        || !body
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
    {
        return Err(bad("not a number of rubles"));
    }
    let (commas, dots) = (body.matches(',').count(), body.matches('.').count());
    let last_sep = body.rfind([',', '.']);
    let decimal = match (commas, dots) {
        (0, 0) => None,
        (1, 0) | (0, 1) => last_sep,
        (c, d) if c > 0 && d > 0 => {
            let last = last_sep.map(|i| body.as_bytes()[i]);
            let single = if last == Some(b',') { c == 1 } else { d == 1 };
            if !single {
                return Err(bad("mixed separators"));
            }
            last_sep
        }
        _ => None,
    };
    let (int_part, frac) = match decimal {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, ""),
    };
    let mut groups = int_part.split([',', '.']);
    let first = groups.next().unwrap_or_default();
    let mut digits = first.to_string();
    let mut grouped = false;
    for g in groups {
        grouped = true;
        if g.len() != 3 {
            return Err(bad("thousands must be grouped by three digits"));
        }
        digits.push_str(g);
    }
    if first.is_empty() || (grouped && first.len() > 3) {
        return Err(bad("thousands must be grouped by three digits"));
    }
    if decimal.is_some() && !(1..=2).contains(&frac.len()) {
        return Err(bad(
            "one or two digits of kopecks expected after the decimal separator",
        ));
    }
    let rubles: i64 = digits.parse().map_err(|_| bad("too large"))?;
    let kopecks: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| bad("bad kopecks"))? * 10,
        _ => frac.parse().map_err(|_| bad("bad kopecks"))?,
    };
    let total = rubles
        .checked_mul(100)
        .and_then(|k| k.checked_add(kopecks))
        .ok_or_else(|| bad("too large"))?;
    Ok(if negative { -total } else { total })
}

/// Russian month names, nominative, lowercase, January first.
const MONTHS_RU: [&str; 12] = [
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
];

/// Parses a month: `2026-03`, `03.2026`, `3.2026`, `03/2026`, `март 2026[ г.]`, or a date in
/// it (`2026-03-15`, `15.03.2026`, a spreadsheet date `2026-03-01 00:00:00`). Returns the
/// first day of the month.
pub(crate) fn parse_month(raw: &str) -> Option<NaiveDate> {
    let s = raw.trim().to_lowercase();
    if let Some(d) = parse_date(&s) {
        return d.with_day(1);
    }
    let ym = |y: &str, m: &str| -> Option<NaiveDate> {
        if y.len() != 4 || !(1..=2).contains(&m.len()) {
            return None;
        }
        NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
    };
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        if let Some((y, m)) = s.split_once('-') {
            return ym(y, m);
        }
        let (m, y) = s.split_once(['.', '/'])?;
        return ym(y, m);
    }
    let mut words = s.split_whitespace();
    let (name, year) = (words.next()?, words.next()?);
    if !matches!(words.next(), None | Some("г.") | Some("г") | Some("года")) {
        return None;
    }
    let year = year.trim_end_matches("г.").trim_end_matches('г');
    let month = MONTHS_RU.iter().position(|m| *m == name)?;
    NaiveDate::from_ymd_opt(year.parse().ok()?, u32::try_from(month).ok()? + 1, 1)
}

/// Parses a date: `2026-03-31`, `31.03.2026`, or a spreadsheet date-time
/// `2026-03-31 00:00:00` / `2026-03-31T00:00:00` (the time is ignored).
pub(crate) fn parse_date(raw: &str) -> Option<NaiveDate> {
    let s = raw.trim();
    let day = s.split([' ', 'T']).next().unwrap_or_default();
    ["%Y-%m-%d", "%d.%m.%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(day, f).ok())
}

/// Calendar months from the oldest unpaid month to the as-of date: August unpaid as of
/// 30 November → 3 (the rule of `zvonar_outbound::list::months_owed`).
fn months_between(oldest_unpaid: NaiveDate, as_of: NaiveDate) -> i64 {
    let m = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
    m(as_of) - m(oldest_unpaid)
}

/// A debts row after validation, before touching the database.
#[derive(Debug, PartialEq, Eq)]
struct DebtRow {
    account: String,
    balance_kopecks: i64,
    oldest_unpaid: Option<NaiveDate>,
    as_of: NaiveDate,
    months_owed: i64,
}

fn parse_row(
    table: &Table,
    row: &Row,
    default_as_of: Option<NaiveDate>,
) -> Result<DebtRow, String> {
    let account = table.get(row, Column::Account);
    if account.is_empty() {
        return Err("missing account number (ЛС)".to_string());
    }
    let balance = table.get(row, Column::Balance);
    if balance.is_empty() {
        return Err("missing balance (долг)".to_string());
    }
    let balance_kopecks = parse_kopecks(balance)?;
    let as_of = match table.get(row, Column::AsOf) {
        "" => default_as_of.ok_or_else(|| "missing as-of date (на дату)".to_string())?,
        s => parse_date(s)
            .ok_or_else(|| format!("bad as-of date «{s}»: use 2026-03-31 or 31.03.2026"))?,
    };
    let oldest_unpaid = match table.get(row, Column::DebtSince) {
        "" if balance_kopecks > 0 => {
            return Err("missing oldest unpaid month for a positive balance".to_string())
        }
        "" => None,
        s => Some(
            parse_month(s)
                .ok_or_else(|| format!("bad oldest unpaid month «{s}»: use 2026-03 or 03.2026"))?,
        ),
    };
    let months_owed = match oldest_unpaid {
        Some(m) => {
            let n = months_between(m, as_of);
            if n < 0 {
                return Err(format!(
                    "oldest unpaid month {} is after the as-of date {as_of}",
                    m.format("%Y-%m")
                ));
            }
            n
        }
        None => 0,
    };
    Ok(DebtRow {
        account: account.to_string(),
        balance_kopecks,
        oldest_unpaid,
        as_of,
        months_owed,
    })
}

/// What one row did.
enum Outcome {
    Added,
    Replaced,
    Unchanged,
    UnknownAccount,
    /// Figures as of a later date are stored already.
    Older(NaiveDate),
}

async fn upsert_row(conn: &mut SqliteConnection, r: &DebtRow) -> Result<Outcome, sqlx::Error> {
    let account: Option<(i64,)> = sqlx::query_as("SELECT id FROM accounts WHERE number = ?")
        .bind(&r.account)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((account_id,)) = account else {
        return Ok(Outcome::UnknownAccount);
    };
    let stored: Option<(i64, Option<NaiveDate>, NaiveDate)> = sqlx::query_as(
        "SELECT balance_kopecks, oldest_unpaid, as_of FROM account_debts WHERE account_id = ?",
    )
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?;
    let outcome = match stored {
        Some((balance, oldest, as_of))
            if balance == r.balance_kopecks && oldest == r.oldest_unpaid && as_of == r.as_of =>
        {
            return Ok(Outcome::Unchanged)
        }
        Some((_, _, as_of)) if as_of > r.as_of => return Ok(Outcome::Older(as_of)),
        Some(_) => Outcome::Replaced,
        None => Outcome::Added,
    };
    sqlx::query(
        "INSERT INTO account_debts
             (account_id, balance_kopecks, oldest_unpaid, as_of, months_owed, imported_at)
         VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
         ON CONFLICT (account_id) DO UPDATE SET
             balance_kopecks = excluded.balance_kopecks, oldest_unpaid = excluded.oldest_unpaid,
             as_of = excluded.as_of, months_owed = excluded.months_owed,
             imported_at = excluded.imported_at",
    )
    .bind(account_id)
    .bind(r.balance_kopecks)
    .bind(r.oldest_unpaid)
    .bind(r.as_of)
    .bind(r.months_owed)
    .execute(&mut *conn)
    .await?;
    Ok(outcome)
}

/// Imports a debts file (CSV or XLSX, see the [module docs](super)): per account (ЛС) its
/// balance in rubles (`долг`/`balance`, stored in kopecks), the oldest unpaid month
/// (`неоплаченный месяц`/`oldest_unpaid`, required when the balance is positive) and the date
/// the figures are for (`на дату`/`as_of`; `default_as_of` fills empty or absent cells).
///
/// Each account's figures replace those stored before, unless the stored ones are as of a
/// later date (the row is then reported and skipped). Accounts the file does not name keep
/// their figures (see [`import_all_debts`] for a file that lists every debt). Bad rows — an
/// unknown account, a bad amount, month or date, an oldest unpaid month after the as-of date,
/// an account repeated in the file (the first row is kept) — are reported in
/// [`DebtImportReport::errors`] with their line, the other rows are imported, in batches as
/// [`super::import_accounts`] does.
///
/// Errors: [`ImportError`] when the file cannot be read at all, lacks a required column
/// (account, balance, oldest unpaid month, and as-of date unless `default_as_of` is given), or
/// a batch's transaction cannot be begun or committed (earlier batches are kept).
pub async fn import_debts(
    pool: &SqlitePool,
    path: impl AsRef<Path>,
    default_as_of: Option<NaiveDate>,
) -> Result<DebtImportReport, ImportError> {
    import(pool, path.as_ref(), default_as_of, false).await
}

/// [`import_debts`] of a file that lists every account owing anything as of its date (a full
/// export from the billing system): afterwards, the figures of accounts the file does not name
/// at all (in any row, good or bad) are deleted — they paid off — unless they are as of a
/// later date than the file's latest. Counted in [`DebtImportReport::cleared`]. A file without
/// a single good row clears nothing.
///
/// Errors: as [`import_debts`]; a failure before the end clears nothing.
pub async fn import_all_debts(
    pool: &SqlitePool,
    path: impl AsRef<Path>,
    default_as_of: Option<NaiveDate>,
) -> Result<DebtImportReport, ImportError> {
    import(pool, path.as_ref(), default_as_of, true).await
}

async fn import(
    pool: &SqlitePool,
    path: &Path,
    default_as_of: Option<NaiveDate>,
    complete: bool,
) -> Result<DebtImportReport, ImportError> {
    let table = read_table(path)?;
    let mut missing = Vec::new();
    for (col, name) in [
        (Column::Account, "лс/account"),
        (Column::Balance, "долг/balance"),
        (Column::DebtSince, "неоплаченный месяц/oldest_unpaid"),
    ] {
        if !table.has(col) {
            missing.push(name);
        }
    }
    if !table.has(Column::AsOf) && default_as_of.is_none() {
        missing.push("на дату/as_of");
    }
    if !missing.is_empty() {
        return Err(ImportError::MissingColumns(missing));
    }

    let mut report = DebtImportReport {
        rows_read: table.rows.len(),
        ..DebtImportReport::default()
    };
    let mut first_line: HashMap<String, usize> = HashMap::new();
    // Every account the file names (good rows or bad), and the latest as-of date stored.
    let mut named: Vec<&str> = Vec::new();
    let mut latest: Option<NaiveDate> = None;
    let mut batch = Batch::begin(pool).await?;
    for row in &table.rows {
        match table.get(row, Column::Account) {
            "" => {}
            a => named.push(a),
        }
        let mut reject = |reason: String| {
            report.errors.push(RowError {
                line: row.line,
                reason,
            })
        };
        let parsed = match parse_row(&table, row, default_as_of) {
            Ok(p) => p,
            Err(reason) => {
                reject(reason);
                continue;
            }
        };
        if let Some(first) = first_line.get(&parsed.account) {
            reject(format!(
                "account «{}» repeats line {first} (the first is kept)",
                parsed.account
            ));
            continue;
        }
        first_line.insert(parsed.account.clone(), row.line);
        let mut sp = batch.tx.begin().await?;
        match upsert_row(&mut sp, &parsed).await {
            Ok(outcome) => {
                sp.commit().await?;
                if matches!(
                    outcome,
                    Outcome::Added | Outcome::Replaced | Outcome::Unchanged
                ) {
                    latest = latest.max(Some(parsed.as_of));
                }
                match outcome {
                    Outcome::Added => report.added += 1,
                    Outcome::Replaced => report.replaced += 1,
                    Outcome::Unchanged => report.unchanged += 1,
                    Outcome::UnknownAccount => reject(format!(
                        "unknown account «{}» (import it with `zvonar import accounts` first)",
                        parsed.account
                    )),
                    Outcome::Older(stored) => reject(format!(
                        "figures as of {stored} are stored already, newer than {}",
                        parsed.as_of
                    )),
                }
            }
            Err(e) => {
                sp.rollback().await?;
                tracing::warn!(line = row.line, error = %e, "debts row rejected by the database");
                reject(format!("database rejected the row: {e}"));
            }
        }
        batch = batch.row_done(pool).await?;
    }
    if let (true, Some(latest)) = (complete, latest) {
        let names = serde_json::json!(named).to_string();
        let res = sqlx::query(
            "DELETE FROM account_debts WHERE as_of <= ? AND account_id NOT IN
                 (SELECT id FROM accounts WHERE number IN (SELECT value FROM json_each(?)))",
        )
        .bind(latest)
        .bind(names)
        .execute(&mut *batch.tx)
        .await?;
        report.cleared = usize::try_from(res.rows_affected()).unwrap_or(usize::MAX);
    }
    batch.tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn money_in_russian_forms() {
        for (s, want) in [
            ("1 234,56", 123_456),
            ("1\u{a0}234,56", 123_456),
            ("1\u{202f}234,56 ₽", 123_456),
            ("1234.56", 123_456),
            ("1234,5", 123_450),
            ("1 234", 123_400),
            ("0", 0),
            ("0,01", 1),
            ("-500,00", -50_000),
            ("\u{2212}500", -50_000),
            ("+12", 1_200),
            ("1.234.567,89", 123_456_789),
            ("1,234.56", 123_456),
            ("1 234 руб.", 123_400),
            ("15 000 р.", 1_500_000),
            ("5000", 500_000),
        ] {
            assert_eq!(parse_kopecks(s), Ok(want), "{s}");
        }
        for s in [
            "",
            "abc",
            "1,234",
            "12,345",
            "1,2,3",
            "1.23.4",
            "1234,",
            ",5",
            "1 234,567",
            "12.34,56",
            "1,234,567.1.2",
            "99999999999999999999",
            "--5",
            "5-",
        ] {
            assert!(parse_kopecks(s).is_err(), "{s} → {:?}", parse_kopecks(s));
        }
        assert!(parse_kopecks("1,234").unwrap_err().contains("«1,234»"));
    }

    #[test]
    fn months_in_several_forms() {
        for (s, want) in [
            ("2026-03", Some(d(2026, 3, 1))),
            ("03.2026", Some(d(2026, 3, 1))),
            ("3.2026", Some(d(2026, 3, 1))),
            ("03/2026", Some(d(2026, 3, 1))),
            ("2026-03-15", Some(d(2026, 3, 1))),
            ("15.03.2026", Some(d(2026, 3, 1))),
            ("2026-03-01 00:00:00", Some(d(2026, 3, 1))),
            ("Март 2026", Some(d(2026, 3, 1))),
            ("декабрь 2025 г.", Some(d(2025, 12, 1))),
            ("2026-13", None),
            ("13.2026", None),
            ("26-03", None),
            ("март", None),
            ("мартобрь 2026", None),
            ("", None),
        ] {
            assert_eq!(parse_month(s), want, "{s}");
        }
    }

    #[test]
    fn dates_and_months_owed() {
        assert_eq!(parse_date("2026-03-31"), Some(d(2026, 3, 31)));
        assert_eq!(parse_date("31.03.2026"), Some(d(2026, 3, 31)));
        assert_eq!(parse_date("2026-03-31 00:00:00"), Some(d(2026, 3, 31)));
        assert_eq!(parse_date("31.02.2026"), None);
        assert_eq!(parse_date("март"), None);
        assert_eq!(months_between(d(2026, 8, 1), d(2026, 11, 30)), 3);
        assert_eq!(months_between(d(2025, 12, 1), d(2026, 1, 1)), 1);
        assert_eq!(months_between(d(2026, 11, 1), d(2026, 11, 30)), 0);
        assert_eq!(months_between(d(2026, 12, 1), d(2026, 11, 30)), -1);
    }

    #[test]
    fn rows_parse_or_say_why() {
        let t = super::super::table::read_csv(
            "лс;долг;неоплаченный месяц;на дату\n\
             A-1;1 234,56;2026-08;30.11.2026\n\
             A-2;-10;;2026-11-30\n\
             A-3;5;;2026-11-30\n\
             A-4;5;2026-12;2026-11-30\n\
             A-5;5;2026-08;\n\
             ;5;2026-08;2026-11-30\n\
             A-7;пять;2026-08;2026-11-30\n\
             A-8;5;август;2026-11-30\n\
             A-9;5;2026-08;вчера\n"
                .as_bytes(),
        )
        .unwrap();
        let got: Vec<Result<DebtRow, String>> =
            t.rows.iter().map(|r| parse_row(&t, r, None)).collect();
        assert_eq!(
            got[0],
            Ok(DebtRow {
                account: "A-1".into(),
                balance_kopecks: 123_456,
                oldest_unpaid: Some(d(2026, 8, 1)),
                as_of: d(2026, 11, 30),
                months_owed: 3,
            })
        );
        assert_eq!(
            got[1].as_ref().map(|r| (r.balance_kopecks, r.months_owed)),
            Ok((-1000, 0))
        );
        let why: Vec<&str> = got[2..]
            .iter()
            .map(|r| r.as_ref().unwrap_err().as_str())
            .collect();
        assert_eq!(
            why,
            vec![
                "missing oldest unpaid month for a positive balance",
                "oldest unpaid month 2026-12 is after the as-of date 2026-11-30",
                "missing as-of date (на дату)",
                "missing account number (ЛС)",
                "bad amount «пять»: not a number of rubles",
                "bad oldest unpaid month «август»: use 2026-03 or 03.2026",
                "bad as-of date «вчера»: use 2026-03-31 or 31.03.2026",
            ]
        );
        // A default as-of date fills the empty cell.
        let r = parse_row(&t, &t.rows[4], Some(d(2026, 10, 31))).unwrap();
        assert_eq!((r.as_of, r.months_owed), (d(2026, 10, 31), 2));
    }
}
