//! Registry import: `zvonar import accounts FILE`, `zvonar import outages FILE` and
//! `zvonar import debts FILE`.
//!
//! Files are CSV (`,`, `;` or tab, UTF-8 with or without BOM) or spreadsheets (XLSX and the
//! other formats calamine reads; first sheet). The first row is a header; columns are
//! recognised by Russian or English names in any order, unknown ones are ignored:
//!
//! | column | names | notes |
//! |---|---|---|
//! | address | `адрес`, `address` | «улица Ленина, дом 5[, кв. 12]»; alternative to street + house |
//! | street | `улица`, `street` | |
//! | house | `дом`, `house` | «5», «5к1», «7/2» |
//! | FIAS | `фиас`, `fias_id` | optional |
//! | apartment | `квартира`, `кв`, `apartment` | «12», «12а», «12 А» |
//! | entrance, floor | `подъезд`/`entrance`, `этаж`/`floor` | optional integers |
//! | riser | `стояк`, `riser` | optional text |
//! | account | `лс`, `л/с`, `лицевой счет`, `account` | required |
//! | name | `фио`, `name` | optional |
//! | phones | `телефон`, `телефоны`, `phone` | several separated by `,` or `;` |
//! | organisation | `организация`, `ук`, `organisation` | managing organisation of the building; optional |
//! | district | `район`, `district` | optional |
//! | consent | `согласие`, `consent` | `да`/`нет`: consent to automated calls for the row's phones (41-ФЗ); optional, an opt-out is never cleared |
//! | time zone | `часовой пояс`, `time_zone`, `tz` | the building's IANA zone (`Asia/Vladivostok`); optional (empty keeps the stored one; none: the company's `time_zone`); an unknown name is an error on its line |
//!
//! Outage files use address or street + house, and `вид`/`kind` («горячей воды»),
//! `начало`/`starts_at`, `окончание`/`ends_at` (optional), `причина`/`reason` (optional).
//! Times are RFC 3339 (`2025-01-20T09:00:00+03:00`) or the company's local time (the
//! configured `time_zone`, an IANA zone such as `Asia/Yekaterinburg`) as
//! `YYYY-MM-DD HH:MM[:SS]`, `DD.MM.YYYY HH:MM[:SS]`, or a bare date (midnight).
//!
//! Debt files ([`import_debts`]) have one row per account: `лс`/`account`, `долг`/`balance`
//! (rubles as written in Russia: `1 234,56`; negative = overpaid), `неоплаченный
//! месяц`/`oldest_unpaid` (`2026-03`, `03.2026`, `март 2026`; required when the balance is
//! positive) and `на дату`/`as_of` (`2026-03-31`, `31.03.2026`).
//!
//! Rows are imported in batches, each its own short transaction (at most [`BATCH_MAX_ROWS`]
//! rows or [`BATCH_MAX_HOLD`] of holding the write lock), with a savepoint per row: a bad row
//! is rolled back and reported in [`ImportReport::errors`] with its line, the others are kept.
//! Between batches the importer pauses for [`BATCH_PAUSE`] so that the engine — filing
//! tickets and writing call events on the same database, from another process — gets the
//! write lock: an import of any size never holds it for long. Imports are idempotent upserts:
//! importing the same file again adds nothing, so an import that failed midway (the batches
//! before the failure are kept) is completed by running it again.

mod accounts;
mod debts;
mod outages;
mod table;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;
use sqlx::sqlite::{Sqlite, SqlitePool};
use sqlx::Transaction;
use std::time::{Duration, Instant};

/// Most rows committed in one import transaction.
pub const BATCH_MAX_ROWS: usize = 1000;

/// Longest an import transaction holds SQLite's write lock before it commits (it commits after
/// the row that crosses this).
pub const BATCH_MAX_HOLD: Duration = Duration::from_millis(250);

/// Pause between import batches. Writers that found the database locked sleep in SQLite's
/// busy handler up to 100 ms between retries (`sqliteDefaultBusyCallback` in sqlite3.c); a
/// longer pause lets each of them retry while the lock is free, so none is starved.
pub const BATCH_PAUSE: Duration = Duration::from_millis(110);

/// One import batch: a transaction begun with `BEGIN IMMEDIATE`, which takes the write lock
/// up front (waiting for it within the busy timeout), so a row that reads then writes can
/// never fail with `SQLITE_BUSY` because another process wrote in between.
pub(crate) struct Batch {
    pub(crate) tx: Transaction<'static, Sqlite>,
    rows: usize,
    started: Instant,
}

impl Batch {
    pub(crate) async fn begin(pool: &SqlitePool) -> Result<Batch, sqlx::Error> {
        Ok(Batch {
            tx: pool.begin_with("BEGIN IMMEDIATE").await?,
            rows: 0,
            started: Instant::now(),
        })
    }

    /// Counts a row; when the batch is full, commits it, pauses ([`BATCH_PAUSE`]) and begins the
    /// next one.
    pub(crate) async fn row_done(self, pool: &SqlitePool) -> Result<Batch, sqlx::Error> {
        let rows = self.rows + 1;
        if rows < BATCH_MAX_ROWS && self.started.elapsed() < BATCH_MAX_HOLD {
            return Ok(Batch { rows, ..self });
        }
        self.tx.commit().await?;
        tokio::time::sleep(BATCH_PAUSE).await;
        Batch::begin(pool).await
    }
}

pub use accounts::import_accounts;
pub use debts::{import_all_debts, import_debts};
pub use outages::import_outages;

/// A row that was not imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based line in the CSV file (where the record starts), or the sheet row number for
    /// spreadsheets; the header is line 1.
    pub line: usize,
    /// Why, in words for the administrator, e.g. «bad phone #2: phone number has 5 digits…».
    /// Never contains the phone number itself.
    pub reason: String,
}

/// What [`import_accounts`] did. Counts are of rows newly inserted; a re-import of the same
/// file reports zeros and `unchanged == rows_read - errors.len()`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Non-empty data rows read (header excluded).
    pub rows_read: usize,
    /// Buildings inserted.
    pub buildings_added: usize,
    /// Premises inserted.
    pub premises_added: usize,
    /// Accounts (ЛС) inserted.
    pub accounts_added: usize,
    /// Residents inserted.
    pub residents_added: usize,
    /// Resident phone numbers inserted.
    pub phones_added: usize,
    /// Rows that changed existing records without adding any (an account moved to other
    /// premises, a new floor or FIAS id, a holder name filled in).
    pub updated: usize,
    /// Rows that were already fully in the registry.
    pub unchanged: usize,
    /// Rows that were rejected, in file order.
    pub errors: Vec<RowError>,
}

/// What [`import_outages`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutageImportReport {
    /// Non-empty data rows read (header excluded).
    pub rows_read: usize,
    /// Outages inserted.
    pub outages_added: usize,
    /// Outages already present (same building, kind and start) whose end or reason changed.
    pub updated: usize,
    /// Rows already fully present.
    pub unchanged: usize,
    /// Rows that were rejected, in file order.
    pub errors: Vec<RowError>,
}

/// What [`import_debts`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DebtImportReport {
    /// Non-empty data rows read (header excluded).
    pub rows_read: usize,
    /// Accounts that had no debt figures before.
    pub added: usize,
    /// Accounts whose earlier figures were replaced.
    pub replaced: usize,
    /// Rows whose figures were stored already, the same.
    pub unchanged: usize,
    /// Accounts whose figures were deleted because a complete file
    /// ([`import_all_debts`]) does not name them; always 0 for [`import_debts`].
    pub cleared: usize,
    /// Rows that were rejected, in file order.
    pub errors: Vec<RowError>,
}

/// Why an import failed. File and header errors stop it before anything is written; a
/// database error keeps the batches committed before it (running the import again completes it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Open(#[source] std::io::Error),
    /// A CSV file is not UTF-8 (for example Windows-1251); `line` is where the first bad byte is.
    #[error("the file is not UTF-8 text (line {line}); save it as UTF-8")]
    NotUtf8 {
        /// 1-based line of the first invalid byte.
        line: usize,
    },
    /// The CSV is malformed beyond a single row.
    #[error("malformed CSV: {0}")]
    Csv(#[source] csv::Error),
    /// The spreadsheet could not be opened or its first sheet read.
    #[error("cannot read the spreadsheet: {0}")]
    Spreadsheet(#[source] calamine::Error),
    /// The file has no header row (empty file or sheet).
    #[error("the file has no header row")]
    NoHeader,
    /// Required columns are missing from the header; names as `русское/english`.
    #[error("required columns missing: {}", .0.join(", "))]
    MissingColumns(Vec<&'static str>),
    /// The database failed outside a single row (begin or commit of a batch).
    #[error("registry database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Splits «г. Москва, улица Ленина, дом 5, кв. 12» into street, house and apartment.
///
/// The house is the first part starting with «дом»/«д.» (or, failing that, the last part
/// starting with a digit); the street is the part just before it; a part after it starting
/// with «кв» is the apartment.
pub(crate) fn split_address(address: &str) -> Option<(String, String, Option<String>)> {
    let parts: Vec<&str> = address
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let is_house = |p: &str| {
        let l = p.to_lowercase();
        l.starts_with("дом") || l.starts_with("д.") || l.starts_with("д ")
    };
    let idx = parts.iter().position(|p| is_house(p)).or_else(|| {
        parts
            .iter()
            .rposition(|p| p.starts_with(|c: char| c.is_ascii_digit()))
    })?;
    if idx == 0 {
        return None;
    }
    let apartment = parts
        .get(idx + 1)
        .filter(|p| p.to_lowercase().starts_with("кв"))
        .map(|p| p.to_string());
    Some((
        parts[idx - 1].to_string(),
        parts[idx].to_string(),
        apartment,
    ))
}

/// Normalises a house number: «дом 5» → «5», «5 корп. 1» → «5к1», «12 стр. 2» → «12с2».
pub(crate) fn normalize_house(raw: &str) -> Option<String> {
    let lower = raw.to_lowercase();
    let mut s = lower.trim().to_string();
    for (long, short) in [
        ("корпус", "к"),
        ("корп.", "к"),
        ("корп", "к"),
        ("строение", "с"),
        ("стр.", "с"),
        ("стр", "с"),
    ] {
        s = s.replace(long, short);
    }
    crate::model::normalize_apartment(&s)
}

/// Parses an outage time: RFC 3339, or local time in `tz` (the company's zone) in
/// `YYYY-MM-DD[ T]HH:MM[:SS]`, `DD.MM.YYYY HH:MM[:SS]`, or a bare date meaning midnight.
/// A local time that does not exist or is ambiguous in `tz` (a DST change; none in Russia
/// since 2014) is `None`.
pub(crate) fn parse_time(raw: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| {
        ["%Y-%m-%d", "%d.%m.%Y"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    tz.from_local_datetime(&naive)
        .single()
        .map(|dt| dt.with_timezone(&Utc))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split() {
        let (s, h, a) = split_address("г. Москва, улица Ленина, дом 5, кв. 12").unwrap();
        assert_eq!(
            (s.as_str(), h.as_str(), a.as_deref()),
            ("улица Ленина", "дом 5", Some("кв. 12"))
        );
        let (s, h, a) = split_address("ул. Мира, 7/2").unwrap();
        assert_eq!((s.as_str(), h.as_str(), a), ("ул. Мира", "7/2", None));
        assert!(split_address("дом 5").is_none());
        assert!(split_address("улица Ленина").is_none());
    }

    #[test]
    fn houses_normalise() {
        assert_eq!(normalize_house("дом 5").as_deref(), Some("5"));
        assert_eq!(normalize_house("5 корп. 1").as_deref(), Some("5к1"));
        assert_eq!(normalize_house("12 стр 2").as_deref(), Some("12с2"));
    }

    #[test]
    fn times_are_local_to_the_zone_unless_zoned() {
        let msk = chrono_tz::Europe::Moscow;
        let t = parse_time("2025-01-20 09:00", msk).unwrap();
        assert_eq!(t.to_rfc3339(), "2025-01-20T06:00:00+00:00");
        assert_eq!(parse_time("20.01.2025 09:00", msk), Some(t));
        assert_eq!(parse_time("2025-01-20T09:00:00+03:00", msk), Some(t));
        assert_eq!(
            parse_time("20.01.2025", msk).unwrap().to_rfc3339(),
            "2025-01-19T21:00:00+00:00"
        );
        assert_eq!(parse_time("завтра", msk), None);
        // The same wall-clock time in Vladivostok (UTC+10) is 7 hours earlier.
        let vvo = chrono_tz::Asia::Vladivostok;
        assert_eq!(
            parse_time("2025-01-20 09:00", vvo).unwrap().to_rfc3339(),
            "2025-01-19T23:00:00+00:00"
        );
        // An explicit offset wins over the zone.
        assert_eq!(parse_time("2025-01-20T09:00:00+03:00", vvo), Some(t));
    }
}
