//! Campaign recipients selected from the registry: by organisation, district, building,
//! premises or account, and debtors by amount and months owed (from [`crate::import_debts`]),
//! as `zvonar_outbound` recipients with each account's phones and what is known about each
//! phone (consent, opt-out, blacklist: [`PhoneFacts`]).
//!
//! Also the per-phone record those facts come from: [`set_consent`], [`record_opt_out`],
//! [`record_invalid_number`].

use crate::registry::RegistryError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqlitePool;
use sqlx::{FromRow, QueryBuilder, Sqlite};
use std::collections::HashSet;
use zvonar_models::{BuildingId, PhoneNumber, PremisesId};
use zvonar_outbound::campaign::{Recipient, Status};
use zvonar_outbound::policy::{PhoneFacts, SkipReason};
use zvonar_outbound::template::Values;

/// Debtors only: accounts owing at least `min_kopecks` (and more than nothing) for at least
/// `min_months` calendar months, counted from the oldest unpaid month to the as-of date of the
/// imported figures (the rule of `zvonar_outbound::list::months_owed`). Accounts without
/// imported debt figures are not debtors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebtFilter {
    /// Least balance owed, kopecks (`0`: any positive balance).
    pub min_kopecks: i64,
    /// Least months owed (`0`: any).
    #[serde(default)]
    pub min_months: u32,
}

/// Which accounts a campaign calls. Every non-empty list narrows the selection (an account
/// must match one value of each); all empty and no `debt` = every account in the registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientFilter {
    /// Managing organisations as the registry's `организация` column names them (exact).
    #[serde(default)]
    pub organisations: Vec<String>,
    /// Districts as the registry's `район` column names them (exact).
    #[serde(default)]
    pub districts: Vec<String>,
    /// Buildings.
    #[serde(default)]
    pub buildings: Vec<BuildingId>,
    /// Premises.
    #[serde(default)]
    pub premises: Vec<PremisesId>,
    /// Account numbers (ЛС).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Debtors only.
    #[serde(default)]
    pub debt: Option<DebtFilter>,
}

/// A selected recipient: the campaign's [`Recipient`] and what its message templates need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectedRecipient {
    /// The recipient, `id` = `ACCOUNT/PHONE` (or the account alone when it has no phone),
    /// status [`Status::Queued`], or [`Status::Skipped`] with the reason when the phone must
    /// not be called at all (blacklisted, opted out, no consent — the order of
    /// `zvonar_outbound::policy::next_allowed` — or the account has no phone).
    pub recipient: Recipient,
    /// Account number (ЛС).
    pub account: String,
    /// Building.
    pub building_id: BuildingId,
    /// Premises.
    pub premises_id: PremisesId,
    /// Template values: {fio} (the resident this phone belongs to, else the account
    /// holder), {address} («улица Ленина, дом 5, кв. 12»), {account}, {debt} (balance in
    /// kopecks, when debt figures were imported), {period} (the oldest unpaid month).
    pub values: Values,
    /// Months owed as of `debt_as_of` (0 without debt figures).
    pub months_owed: u32,
    /// The date the debt figures are for; `None` without debt figures.
    pub debt_as_of: Option<NaiveDate>,
}

#[derive(FromRow)]
struct Row {
    account: String,
    holder_name: Option<String>,
    building_id: i64,
    premises_id: i64,
    address: String,
    apartment: String,
    balance_kopecks: Option<i64>,
    oldest_unpaid: Option<NaiveDate>,
    months_owed: Option<i64>,
    as_of: Option<NaiveDate>,
    phone: Option<String>,
    full_name: Option<String>,
    time_zone: Option<String>,
    consent: bool,
    opted_out: bool,
    blacklisted: bool,
}

/// Appends ` AND {column} IN (the values)` unless `values` is empty, the values bound as one
/// JSON array (any length, one bind).
fn push_in<T: Serialize>(q: &mut QueryBuilder<Sqlite>, column: &'static str, values: &[T]) {
    if values.is_empty() {
        return;
    }
    q.push(" AND ")
        .push(column)
        .push(" IN (SELECT value FROM json_each(")
        .push_bind(serde_json::json!(values).to_string())
        .push("))");
}

/// Selects the recipients `filter` describes, in one SQL query, ordered by street, house,
/// apartment, account and the order the phones were imported in: one [`SelectedRecipient`]
/// per phone of each account. A phone already selected for an earlier account is not repeated
/// (one person is called once per campaign, about the first of their accounts); an account
/// with no phones at all gives one recipient skipped with [`SkipReason::NoPhone`].
///
/// Each recipient's [`Recipient::tz`] — in which the campaign evaluates the call windows and
/// the 230-ФЗ limits' calendar periods — is its building's `time_zone` (from the accounts
/// import), else `tz` (the company's `time_zone` from zvonar.toml). A stored zone name that no
/// longer parses (it was validated on import) falls back to `tz` as well.
///
/// Errors: [`RegistryError::Database`].
pub async fn select_recipients(
    pool: &SqlitePool,
    filter: &RecipientFilter,
    tz: chrono_tz::Tz,
) -> Result<Vec<SelectedRecipient>, RegistryError> {
    let mut q = QueryBuilder::<Sqlite>::new(
        "SELECT a.number AS account, a.holder_name, b.id AS building_id, p.id AS premises_id,
                b.address, p.apartment, d.balance_kopecks, d.oldest_unpaid, d.months_owed,
                d.as_of, rp.phone, r.full_name, b.time_zone,
                COALESCE(c.consent, 0) AS consent, COALESCE(c.opted_out, 0) AS opted_out,
                COALESCE(c.blacklisted, 0) AS blacklisted
         FROM accounts a
         JOIN premises p ON p.id = a.premises_id
         JOIN buildings b ON b.id = p.building_id
         LEFT JOIN account_debts d ON d.account_id = a.id
         LEFT JOIN resident_phones rp ON rp.account_id = a.id
         LEFT JOIN residents r ON r.id = rp.resident_id
         LEFT JOIN phone_consents c ON c.phone = rp.phone
         WHERE 1 = 1",
    );
    push_in(&mut q, "b.organisation", &filter.organisations);
    push_in(&mut q, "b.district", &filter.districts);
    let buildings: Vec<i64> = filter.buildings.iter().map(|b| b.0).collect();
    let premises: Vec<i64> = filter.premises.iter().map(|p| p.0).collect();
    push_in(&mut q, "b.id", &buildings);
    push_in(&mut q, "p.id", &premises);
    push_in(&mut q, "a.number", &filter.accounts);
    if let Some(debt) = filter.debt {
        q.push(" AND d.balance_kopecks > 0 AND d.balance_kopecks >= ")
            .push_bind(debt.min_kopecks)
            .push(" AND d.months_owed >= ")
            .push_bind(i64::from(debt.min_months));
    }
    q.push(
        " ORDER BY b.street, b.house, CAST(p.apartment AS INTEGER), p.apartment, a.number,
                   rp.rowid",
    );
    let rows: Vec<Row> = q.build_query_as().fetch_all(pool).await?;

    let mut seen_phones = HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        if let Some(phone) = &r.phone {
            if !seen_phones.insert(phone.clone()) {
                continue;
            }
        }
        let facts = PhoneFacts {
            consent: r.consent,
            opted_out: r.opted_out,
            blacklisted: r.blacklisted,
        };
        let (id, phone) = match &r.phone {
            Some(p) => (format!("{}/{p}", r.account), p.as_str()),
            None => (r.account.clone(), ""),
        };
        let zone = r
            .time_zone
            .as_deref()
            .and_then(|z| z.parse::<chrono_tz::Tz>().ok())
            .unwrap_or(tz);
        let mut recipient = Recipient::new(&id, phone, zone, facts.clone());
        recipient.account = Some(r.account.clone());
        let skip = if r.phone.is_none() {
            Some(SkipReason::NoPhone)
        } else if facts.blacklisted {
            Some(SkipReason::InvalidNumber)
        } else if facts.opted_out {
            Some(SkipReason::OptedOut)
        } else if !facts.consent {
            Some(SkipReason::NoConsent)
        } else {
            None
        };
        if let Some(reason) = skip {
            recipient.status = Status::Skipped { reason };
        }
        let fio = r
            .full_name
            .filter(|n| !n.is_empty())
            .or(r.holder_name)
            .filter(|n| !n.is_empty());
        out.push(SelectedRecipient {
            recipient,
            account: r.account.clone(),
            building_id: BuildingId(r.building_id),
            premises_id: PremisesId(r.premises_id),
            values: Values {
                fio,
                address: Some(format!("{}, кв. {}", r.address, r.apartment)),
                account: Some(r.account),
                debt_kopecks: r.balance_kopecks,
                due_date: None,
                period: r.oldest_unpaid,
            },
            months_owed: r
                .months_owed
                .and_then(|m| u32::try_from(m).ok())
                .unwrap_or(0),
            debt_as_of: r.as_of,
        });
    }
    Ok(out)
}

async fn upsert_flag(
    pool: &SqlitePool,
    phone: &PhoneNumber,
    column: &str,
    value: bool,
) -> Result<(), RegistryError> {
    // `column` is one of this module's three literals, never input.
    let sql = format!(
        "INSERT INTO phone_consents (phone, {column}, updated_at)
         VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
         ON CONFLICT (phone) DO UPDATE SET {column} = excluded.{column},
             updated_at = excluded.updated_at
         WHERE {column} IS NOT excluded.{column}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(phone.as_e164())
        .bind(value)
        .execute(pool)
        .await?;
    Ok(())
}

/// Records whether the owner of `phone` consents to automated calls (41-ФЗ). Withdrawing
/// consent (`false`) stops calls just as an opt-out does, but can be given again.
///
/// Errors: [`RegistryError::Database`].
pub async fn set_consent(
    pool: &SqlitePool,
    phone: &PhoneNumber,
    consent: bool,
) -> Result<(), RegistryError> {
    upsert_flag(pool, phone, "consent", consent).await
}

/// Records that the owner of `phone` refused automated calls (key 9, an operator, a written
/// request): final, no campaign calls the phone again, whatever its consent.
///
/// Errors: [`RegistryError::Database`].
pub async fn record_opt_out(pool: &SqlitePool, phone: &PhoneNumber) -> Result<(), RegistryError> {
    upsert_flag(pool, phone, "opted_out", true).await
}

/// Puts `phone` on the blacklist of invalid numbers (a call got SIP 404, 484 or 604): no
/// campaign calls it again.
///
/// Errors: [`RegistryError::Database`].
pub async fn record_invalid_number(
    pool: &SqlitePool,
    phone: &PhoneNumber,
) -> Result<(), RegistryError> {
    upsert_flag(pool, phone, "blacklisted", true).await
}
