//! Import of the accounts registry (buildings, premises, ЛС, residents, phones).

use super::table::{read_table, Column, Row, Table};
use super::{normalize_house, split_address, Batch, ImportError, ImportReport, RowError};
use crate::model::{building_key, clean_street, normalize_apartment};
use sqlx::sqlite::SqlitePool;
use sqlx::{Connection, SqliteConnection};
use std::collections::HashMap;
use std::path::Path;
use zvonar_models::PhoneNumber;

/// Cache of buildings by [`building_key`], shared by the importers.
pub(super) type BuildingCache = HashMap<(String, String), i64>;

/// Loads every building into a [`BuildingCache`].
pub(super) async fn load_buildings(
    conn: &mut SqliteConnection,
) -> Result<BuildingCache, sqlx::Error> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, street, house FROM buildings")
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, street, house)| (building_key(&street, &house), id))
        .collect())
}

/// A building reference read from a row: street and house, display address.
pub(super) struct BuildingRef {
    pub(super) street: String,
    pub(super) house: String,
    pub(super) address: String,
    /// Apartment taken from the address, if the address had one.
    pub(super) apartment: Option<String>,
}

/// Reads the building columns of `row`: street + house, or an address to split.
pub(super) fn building_ref(table: &Table, row: &Row) -> Result<BuildingRef, String> {
    let address = clean_street(table.get(row, Column::Address));
    let (street, house_raw, apartment) = match (
        table.get(row, Column::Street),
        table.get(row, Column::House),
    ) {
        (s, h) if !s.is_empty() && !h.is_empty() => (clean_street(s), h.to_string(), None),
        _ if !address.is_empty() => split_address(&address)
            .ok_or_else(|| format!("cannot find street and house in address «{address}»"))?,
        _ => return Err("missing address (street and house)".to_string()),
    };
    let house =
        normalize_house(&house_raw).ok_or_else(|| format!("bad house number «{house_raw}»"))?;
    let address = if address.is_empty() {
        format!("{street}, дом {house}")
    } else {
        address
    };
    Ok(BuildingRef {
        street,
        house,
        address,
        apartment,
    })
}

/// A registry row after validation, before touching the database.
struct AccountRow {
    building: BuildingRef,
    fias: Option<String>,
    apartment: String,
    entrance: Option<i64>,
    floor: Option<i64>,
    riser: Option<String>,
    account: String,
    name: String,
    phones: Vec<PhoneNumber>,
    organisation: Option<String>,
    district: Option<String>,
    /// Consent to automated calls for every phone of the row; `None`: not given.
    consent: Option<bool>,
    /// The building's IANA time zone (a valid name); `None`: not given.
    time_zone: Option<String>,
}

/// Reads a consent cell: «да»/«нет» (also yes/no, 1/0, true/false, +/-); empty → `None`.
fn parse_consent(raw: &str) -> Result<Option<bool>, String> {
    match raw.trim().to_lowercase().as_str() {
        "" => Ok(None),
        "да" | "есть" | "yes" | "y" | "1" | "true" | "+" => Ok(Some(true)),
        "нет" | "no" | "n" | "0" | "false" | "-" => Ok(Some(false)),
        other => Err(format!("bad consent «{other}»: да or нет")),
    }
}

/// Reads a time zone cell: an IANA name (`Europe/Moscow`, `Asia/Vladivostok`) as chrono-tz
/// knows it; empty → `None`.
fn parse_time_zone(raw: &str) -> Result<Option<String>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<chrono_tz::Tz>()
        .map(|tz| Some(tz.name().to_string()))
        .map_err(|_| {
            format!("bad time zone «{raw}»: not an IANA zone name (e.g. Europe/Moscow, Asia/Vladivostok)")
        })
}

fn optional_int(table: &Table, row: &Row, col: Column, what: &str) -> Result<Option<i64>, String> {
    let v = table.get(row, col);
    if v.is_empty() {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| format!("bad {what} «{v}»"))
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn parse_row(table: &Table, row: &Row) -> Result<AccountRow, String> {
    let account = table.get(row, Column::Account);
    if account.is_empty() {
        return Err("missing account number (ЛС)".to_string());
    }
    let building = building_ref(table, row)?;
    let apt_raw = match table.get(row, Column::Apartment) {
        "" => building.apartment.clone().unwrap_or_default(),
        a => a.to_string(),
    };
    if apt_raw.is_empty() {
        return Err("missing apartment".to_string());
    }
    let apartment =
        normalize_apartment(&apt_raw).ok_or_else(|| format!("bad apartment «{apt_raw}»"))?;
    let mut phones = Vec::new();
    let cell = table.get(row, Column::Phone);
    for (i, p) in cell
        .split([',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        let phone = PhoneNumber::parse_ru(p).map_err(|e| format!("bad phone #{}: {e}", i + 1))?;
        if !phones.contains(&phone) {
            phones.push(phone);
        }
    }
    Ok(AccountRow {
        fias: non_empty(table.get(row, Column::Fias)),
        entrance: optional_int(table, row, Column::Entrance, "entrance")?,
        floor: optional_int(table, row, Column::Floor, "floor")?,
        riser: non_empty(table.get(row, Column::Riser)),
        account: account.to_string(),
        name: clean_street(table.get(row, Column::Name)),
        organisation: non_empty(&clean_street(table.get(row, Column::Organisation))),
        district: non_empty(&clean_street(table.get(row, Column::District))),
        consent: parse_consent(table.get(row, Column::Consent))?,
        time_zone: parse_time_zone(table.get(row, Column::TimeZone))?,
        building,
        apartment,
        phones,
    })
}

#[derive(sqlx::FromRow)]
struct PremisesRow {
    id: i64,
    entrance: Option<i64>,
    floor: Option<i64>,
    riser: Option<String>,
}

/// What one row changed.
#[derive(Default)]
struct RowOutcome {
    building_added: Option<((String, String), i64)>,
    premises_added: bool,
    account_added: bool,
    resident_added: bool,
    phones_added: usize,
    updated: bool,
}

async fn upsert_row(
    conn: &mut SqliteConnection,
    cache: &BuildingCache,
    r: &AccountRow,
) -> Result<RowOutcome, sqlx::Error> {
    let mut out = RowOutcome::default();
    let key = building_key(&r.building.street, &r.building.house);
    let building_id = match cache.get(&key) {
        Some(id) => {
            if let Some(fias) = &r.fias {
                let res = sqlx::query(
                    "UPDATE buildings SET fias_id = ? WHERE id = ? AND fias_id IS NOT ?",
                )
                .bind(fias)
                .bind(id)
                .bind(fias)
                .execute(&mut *conn)
                .await?;
                out.updated |= res.rows_affected() > 0;
            }
            for (column, value) in [
                ("organisation", &r.organisation),
                ("district", &r.district),
                ("time_zone", &r.time_zone),
            ] {
                let Some(value) = value else { continue };
                // `column` is one of the three literals above, never input.
                let res = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE buildings SET {column} = ? WHERE id = ? AND {column} IS NOT ?"
                )))
                .bind(value)
                .bind(id)
                .bind(value)
                .execute(&mut *conn)
                .await?;
                out.updated |= res.rows_affected() > 0;
            }
            *id
        }
        None => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO buildings (address, street, house, fias_id, organisation, district,
                                        time_zone)
                 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(&r.building.address)
            .bind(&r.building.street)
            .bind(&r.building.house)
            .bind(&r.fias)
            .bind(&r.organisation)
            .bind(&r.district)
            .bind(&r.time_zone)
            .fetch_one(&mut *conn)
            .await?;
            out.building_added = Some((key, id));
            id
        }
    };

    let premises: Option<PremisesRow> = sqlx::query_as(
        "SELECT id, entrance, floor, riser FROM premises WHERE building_id = ? AND apartment = ?",
    )
    .bind(building_id)
    .bind(&r.apartment)
    .fetch_optional(&mut *conn)
    .await?;
    let premises_id = match premises {
        Some(PremisesRow {
            id,
            entrance,
            floor,
            riser,
        }) => {
            let changed = (r.entrance.is_some() && r.entrance != entrance)
                || (r.floor.is_some() && r.floor != floor)
                || (r.riser.is_some() && r.riser != riser);
            if changed {
                sqlx::query(
                    "UPDATE premises SET entrance = COALESCE(?, entrance), floor = COALESCE(?, floor),
                     riser = COALESCE(?, riser) WHERE id = ?",
                )
                .bind(r.entrance)
                .bind(r.floor)
                .bind(&r.riser)
                .bind(id)
                .execute(&mut *conn)
                .await?;
                out.updated = true;
            }
            id
        }
        None => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO premises (building_id, apartment, entrance, floor, riser)
                 VALUES (?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(building_id)
            .bind(&r.apartment)
            .bind(r.entrance)
            .bind(r.floor)
            .bind(&r.riser)
            .fetch_one(&mut *conn)
            .await?;
            out.premises_added = true;
            id
        }
    };

    let holder = non_empty(&r.name);
    let account: Option<(i64, i64, Option<String>)> =
        sqlx::query_as("SELECT id, premises_id, holder_name FROM accounts WHERE number = ?")
            .bind(&r.account)
            .fetch_optional(&mut *conn)
            .await?;
    let account_id = match account {
        Some((id, old_premises, old_holder)) => {
            let fill_holder = old_holder.is_none() && holder.is_some();
            if old_premises != premises_id || fill_holder {
                sqlx::query(
                    "UPDATE accounts SET premises_id = ?, holder_name = COALESCE(holder_name, ?) WHERE id = ?",
                )
                .bind(premises_id)
                .bind(&holder)
                .bind(id)
                .execute(&mut *conn)
                .await?;
                out.updated = true;
            }
            id
        }
        None => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO accounts (number, premises_id, holder_name) VALUES (?, ?, ?) RETURNING id",
            )
            .bind(&r.account)
            .bind(premises_id)
            .bind(&holder)
            .fetch_one(&mut *conn)
            .await?;
            out.account_added = true;
            id
        }
    };

    if r.name.is_empty() && r.phones.is_empty() {
        return Ok(out);
    }
    let inserted = sqlx::query(
        "INSERT INTO residents (account_id, full_name) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(account_id)
    .bind(&r.name)
    .execute(&mut *conn)
    .await?;
    out.resident_added = inserted.rows_affected() > 0;
    let (resident_id,): (i64,) =
        sqlx::query_as("SELECT id FROM residents WHERE account_id = ? AND full_name = ?")
            .bind(account_id)
            .bind(&r.name)
            .fetch_one(&mut *conn)
            .await?;
    for phone in &r.phones {
        let res = sqlx::query(
            "INSERT INTO resident_phones (resident_id, account_id, phone) VALUES (?, ?, ?)
             ON CONFLICT (phone, account_id) DO NOTHING",
        )
        .bind(resident_id)
        .bind(account_id)
        .bind(phone.as_e164())
        .execute(&mut *conn)
        .await?;
        out.phones_added += res.rows_affected() as usize;
        if let Some(consent) = r.consent {
            let res = sqlx::query(
                "INSERT INTO phone_consents (phone, consent, updated_at)
                 VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                 ON CONFLICT (phone) DO UPDATE SET consent = excluded.consent,
                     updated_at = excluded.updated_at
                 WHERE consent IS NOT excluded.consent",
            )
            .bind(phone.as_e164())
            .bind(consent)
            .execute(&mut *conn)
            .await?;
            out.updated |= res.rows_affected() > 0;
        }
    }
    Ok(out)
}

/// Imports an accounts registry file (CSV or XLSX, see the [module docs](super)) into the
/// billing tables of `pool`.
///
/// Bad rows are reported in [`ImportReport::errors`] with their line and skipped; good rows
/// are kept. Re-importing the same file adds nothing. The file is read synchronously before
/// the database work starts.
///
/// Errors: [`ImportError`] when the file cannot be read at all, lacks required columns
/// (account, apartment, and address or street + house), or a batch's transaction cannot be
/// begun or committed (earlier batches are kept).
pub async fn import_accounts(
    pool: &SqlitePool,
    path: impl AsRef<Path>,
) -> Result<ImportReport, ImportError> {
    let table = read_table(path.as_ref())?;
    let mut missing = Vec::new();
    if !table.has(Column::Account) {
        missing.push("лс/account");
    }
    if !table.has(Column::Apartment) && !table.has(Column::Address) {
        missing.push("квартира/apartment");
    }
    table.require_address(&mut missing);
    if !missing.is_empty() {
        return Err(ImportError::MissingColumns(missing));
    }

    let mut report = ImportReport {
        rows_read: table.rows.len(),
        ..ImportReport::default()
    };
    let mut batch = Batch::begin(pool).await?;
    let mut cache = load_buildings(&mut batch.tx).await?;
    for row in &table.rows {
        let parsed = match parse_row(&table, row) {
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
        match upsert_row(&mut sp, &cache, &parsed).await {
            Ok(out) => {
                sp.commit().await?;
                let added = out.building_added.is_some()
                    || out.premises_added
                    || out.account_added
                    || out.resident_added
                    || out.phones_added > 0;
                if let Some((key, id)) = out.building_added {
                    cache.insert(key, id);
                    report.buildings_added += 1;
                }
                report.premises_added += usize::from(out.premises_added);
                report.accounts_added += usize::from(out.account_added);
                report.residents_added += usize::from(out.resident_added);
                report.phones_added += out.phones_added;
                if !added && out.updated {
                    report.updated += 1;
                } else if !added {
                    report.unchanged += 1;
                }
            }
            Err(e) => {
                sp.rollback().await?;
                tracing::warn!(line = row.line, error = %e, "registry row rejected by the database");
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
