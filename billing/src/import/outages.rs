//! Import of planned outages.

use super::accounts::{building_ref, load_buildings};
use super::table::{read_table, Column, Row, Table};
use super::{parse_time, Batch, ImportError, OutageImportReport, RowError};
use crate::model::building_key;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqlitePool;
use sqlx::{Connection, SqliteConnection};
use std::collections::HashMap;
use std::path::Path;

struct OutageRow {
    building_id: i64,
    kind: String,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    reason: Option<String>,
}

fn parse_row(
    table: &Table,
    row: &Row,
    buildings: &HashMap<(String, String), i64>,
    tz: chrono_tz::Tz,
) -> Result<OutageRow, String> {
    let b = building_ref(table, row)?;
    let building_id = *buildings
        .get(&building_key(&b.street, &b.house))
        .ok_or_else(|| format!("unknown building «{}, дом {}»", b.street, b.house))?;
    let kind = table.get(row, Column::Kind);
    if kind.is_empty() {
        return Err("missing outage kind".to_string());
    }
    let start = table.get(row, Column::StartsAt);
    let starts_at = parse_time(start, tz).ok_or_else(|| format!("bad start time «{start}»"))?;
    let end = table.get(row, Column::EndsAt);
    let ends_at = match end {
        "" => None,
        e => Some(parse_time(e, tz).ok_or_else(|| format!("bad end time «{e}»"))?),
    };
    if ends_at.is_some_and(|e| e < starts_at) {
        return Err("outage ends before it starts".to_string());
    }
    let reason = table.get(row, Column::Reason);
    Ok(OutageRow {
        building_id,
        kind: kind.to_string(),
        starts_at,
        ends_at,
        reason: (!reason.is_empty()).then(|| reason.to_string()),
    })
}

/// `Some(true)` inserted, `Some(false)` updated, `None` unchanged.
async fn upsert(conn: &mut SqliteConnection, r: &OutageRow) -> Result<Option<bool>, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO outages (building_id, kind, starts_at, ends_at, reason) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (building_id, kind, starts_at) DO NOTHING",
    )
    .bind(r.building_id)
    .bind(&r.kind)
    .bind(r.starts_at)
    .bind(r.ends_at)
    .bind(&r.reason)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() > 0 {
        return Ok(Some(true));
    }
    let updated = sqlx::query(
        "UPDATE outages SET ends_at = ?, reason = ?
         WHERE building_id = ? AND kind = ? AND starts_at = ? AND (ends_at IS NOT ? OR reason IS NOT ?)",
    )
    .bind(r.ends_at)
    .bind(&r.reason)
    .bind(r.building_id)
    .bind(&r.kind)
    .bind(r.starts_at)
    .bind(r.ends_at)
    .bind(&r.reason)
    .execute(&mut *conn)
    .await?;
    Ok((updated.rows_affected() > 0).then_some(false))
}

/// Imports planned outages (CSV or XLSX, see the [module docs](super)); buildings are
/// referenced by street + house (or address) and must already be in the registry.
///
/// An outage is identified by building, kind and start: re-importing updates its end and
/// reason and adds nothing. Bad rows (unknown building, bad time, end before start) are
/// reported with their line and skipped. Times without an offset are local to `tz`, the
/// company's time zone.
///
/// Errors: [`ImportError`] when the file cannot be read, lacks the kind, start or address
/// columns, or a batch's transaction cannot be begun or committed (earlier batches are kept).
pub async fn import_outages(
    pool: &SqlitePool,
    path: impl AsRef<Path>,
    tz: chrono_tz::Tz,
) -> Result<OutageImportReport, ImportError> {
    let table = read_table(path.as_ref())?;
    let mut missing = Vec::new();
    if !table.has(Column::Kind) {
        missing.push("вид/kind");
    }
    if !table.has(Column::StartsAt) {
        missing.push("начало/starts_at");
    }
    table.require_address(&mut missing);
    if !missing.is_empty() {
        return Err(ImportError::MissingColumns(missing));
    }
    let mut report = OutageImportReport {
        rows_read: table.rows.len(),
        ..OutageImportReport::default()
    };
    let mut batch = Batch::begin(pool).await?;
    let buildings = load_buildings(&mut batch.tx).await?;
    for row in &table.rows {
        let parsed = match parse_row(&table, row, &buildings, tz) {
            Ok(p) => p,
            Err(reason) => {
                report.errors.push(RowError {
                    line: row.line,
                    reason,
                });
                continue;
            }
        };
        let mut sp = batch.tx.begin().await?;
        match upsert(&mut sp, &parsed).await {
            Ok(outcome) => {
                sp.commit().await?;
                match outcome {
                    Some(true) => report.outages_added += 1,
                    Some(false) => report.updated += 1,
                    None => report.unchanged += 1,
                }
            }
            Err(e) => {
                sp.rollback().await?;
                report.errors.push(RowError {
                    line: row.line,
                    reason: format!("database rejected the row: {e}"),
                });
            }
        }
        batch = batch.row_done(pool).await?;
    }
    batch.tx.commit().await?;
    Ok(report)
}
