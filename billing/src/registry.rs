//! The [`Registry`] repository: what the voice robot asks about buildings, premises,
//! accounts and outages, with its SQLite implementation [`SqliteRegistry`].

use crate::model::{normalize_apartment, AccountDebt, Building, KnownPremises, NewOutage, Outage};
use crate::recipients::{RecipientFilter, SelectedRecipient};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::sqlite::SqlitePool;
use sqlx::FromRow;
use zvonar_models::{AccountId, BuildingId, OutageId, PhoneNumber, PremisesId};

/// Why a registry query failed (always our side: the database).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The database could not be queried or returned rows that do not decode.
    #[error("registry database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Why [`Registry::add_outage`] refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddOutageError {
    /// No building with this id.
    #[error("unknown building {0}")]
    UnknownBuilding(BuildingId),
    /// `kind` is empty.
    #[error("outage kind is empty")]
    EmptyKind,
    /// `ends_at` is before `starts_at`.
    #[error("outage ends before it starts")]
    EndsBeforeStart,
    /// The database failed.
    #[error("registry database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The housing registry as the engine and web see it; hold it as `Arc<dyn Registry>`.
///
/// Implementations: [`SqliteRegistry`]; a PostgreSQL one can be added behind the same trait.
#[async_trait]
pub trait Registry: Send + Sync {
    /// Premises and accounts where `phone` is registered for a resident, ordered by account
    /// id; empty when the number is unknown. One phone may be on several accounts (a resident
    /// owning two apartments).
    async fn find_by_phone(&self, phone: &PhoneNumber)
        -> Result<Vec<KnownPremises>, RegistryError>;

    /// All buildings, ordered by street then house (for ASR prompts and address matching).
    async fn buildings(&self) -> Result<Vec<Building>, RegistryError>;

    /// The premises `apartment` in `building`, matched after [`normalize_apartment`]
    /// («12 А» = «12а»), with its account: the lowest account id when a premises has several
    /// (communal apartments), `None` when it has none. `Ok(None)` when there is no such
    /// premises or `apartment` is not an apartment number at all.
    async fn find_premises(
        &self,
        building: BuildingId,
        apartment: &str,
    ) -> Result<Option<(PremisesId, Option<AccountId>)>, RegistryError>;

    /// The apartments of `building` as the registry writes them (normalised: `12`, `12а`,
    /// see [`normalize_apartment`]), ordered by number then letter; empty for an unknown
    /// building or one without premises. One query (the engine caches it per building, see
    /// [`crate::BuildingDirectory::apartments`]).
    async fn apartments(&self, building: BuildingId) -> Result<Vec<String>, RegistryError>;

    /// Outages on `building` in effect at `now`: `starts_at <= now` and `ends_at` unknown or
    /// later than `now`, ordered by start.
    async fn active_outages(
        &self,
        building: BuildingId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outage>, RegistryError>;

    /// Outages of every building not ended at `now` (`ends_at` unknown or later than `now`),
    /// both in effect and planned, ordered by building, start and id: one query for all
    /// buildings (the engine caches it, see [`crate::BuildingDirectory`]).
    async fn outages_not_ended(&self, now: DateTime<Utc>) -> Result<Vec<Outage>, RegistryError>;

    /// A number that changes whenever buildings or outages change, whoever changed them (an
    /// import in another process included): a single-row read for cache invalidation.
    async fn version(&self) -> Result<i64, RegistryError>;

    /// Registers an outage and returns it with its id.
    ///
    /// Errors: [`AddOutageError::UnknownBuilding`], [`AddOutageError::EmptyKind`],
    /// [`AddOutageError::EndsBeforeStart`] for bad input; [`AddOutageError::Database`].
    async fn add_outage(&self, outage: &NewOutage) -> Result<Outage, AddOutageError>;

    /// Campaign recipients `filter` selects, in the time zone `tz`: see
    /// [`crate::select_recipients`] (one query).
    async fn select_recipients(
        &self,
        filter: &RecipientFilter,
        tz: chrono_tz::Tz,
    ) -> Result<Vec<SelectedRecipient>, RegistryError>;

    /// The imported debt figures (`zvonar import debts`) of those of `accounts` the billing
    /// export named, ordered by account id; an account without figures is simply absent
    /// (unknown, not «owes nothing»). One query.
    async fn debts(&self, accounts: &[AccountId]) -> Result<Vec<AccountDebt>, RegistryError>;
}

/// [`Registry`] on a SQLite pool migrated with [`crate::migrate`].
#[derive(Clone, Debug)]
pub struct SqliteRegistry {
    pool: SqlitePool,
}

impl SqliteRegistry {
    /// Wraps a pool; the billing migrations must have been applied.
    pub fn new(pool: SqlitePool) -> Self {
        SqliteRegistry { pool }
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[derive(FromRow)]
struct KnownRow {
    account_id: i64,
    account_number: String,
    premises_id: i64,
    building_id: i64,
    address: String,
    street: String,
    house: String,
    apartment: String,
}

#[derive(FromRow)]
pub(crate) struct BuildingRow {
    pub(crate) id: i64,
    pub(crate) address: String,
    pub(crate) street: String,
    pub(crate) house: String,
    pub(crate) fias_id: Option<String>,
}

impl From<BuildingRow> for Building {
    fn from(r: BuildingRow) -> Self {
        Building {
            id: BuildingId(r.id),
            address: r.address,
            street: r.street,
            house: r.house,
            fias_id: r.fias_id,
        }
    }
}

#[derive(FromRow)]
struct OutageRow {
    id: i64,
    building_id: i64,
    kind: String,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    reason: Option<String>,
}

impl From<OutageRow> for Outage {
    fn from(r: OutageRow) -> Self {
        Outage {
            id: OutageId(r.id),
            building_id: BuildingId(r.building_id),
            kind: r.kind,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            reason: r.reason,
        }
    }
}

#[async_trait]
impl Registry for SqliteRegistry {
    async fn find_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Vec<KnownPremises>, RegistryError> {
        let rows: Vec<KnownRow> = sqlx::query_as(
            "SELECT DISTINCT a.id AS account_id, a.number AS account_number, p.id AS premises_id,
                    b.id AS building_id, b.address, b.street, b.house, p.apartment
             FROM resident_phones rp
             JOIN accounts a ON a.id = rp.account_id
             JOIN premises p ON p.id = a.premises_id
             JOIN buildings b ON b.id = p.building_id
             WHERE rp.phone = ?
             ORDER BY a.id",
        )
        .bind(phone.as_e164())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| KnownPremises {
                account_id: AccountId(r.account_id),
                account_number: r.account_number,
                premises_id: PremisesId(r.premises_id),
                building_id: BuildingId(r.building_id),
                address: r.address,
                street: r.street,
                house: r.house,
                apartment: r.apartment,
            })
            .collect())
    }

    async fn buildings(&self) -> Result<Vec<Building>, RegistryError> {
        let rows: Vec<BuildingRow> = sqlx::query_as(
            "SELECT id, address, street, house, fias_id FROM buildings ORDER BY street, house, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Building::from).collect())
    }

    async fn find_premises(
        &self,
        building: BuildingId,
        apartment: &str,
    ) -> Result<Option<(PremisesId, Option<AccountId>)>, RegistryError> {
        let Some(apartment) = normalize_apartment(apartment) else {
            return Ok(None);
        };
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT p.id, (SELECT MIN(a.id) FROM accounts a WHERE a.premises_id = p.id)
             FROM premises p WHERE p.building_id = ? AND p.apartment = ?",
        )
        .bind(building.0)
        .bind(apartment)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(p, a)| (PremisesId(p), a.map(AccountId))))
    }

    async fn apartments(&self, building: BuildingId) -> Result<Vec<String>, RegistryError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT apartment FROM premises WHERE building_id = ?
             ORDER BY CAST(apartment AS INTEGER), apartment",
        )
        .bind(building.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(a,)| a).collect())
    }

    async fn active_outages(
        &self,
        building: BuildingId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outage>, RegistryError> {
        let rows: Vec<OutageRow> = sqlx::query_as(
            "SELECT id, building_id, kind, starts_at, ends_at, reason FROM outages
             WHERE building_id = ? AND starts_at <= ? AND (ends_at IS NULL OR ends_at > ?)
             ORDER BY starts_at, id",
        )
        .bind(building.0)
        .bind(now)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Outage::from).collect())
    }

    async fn outages_not_ended(&self, now: DateTime<Utc>) -> Result<Vec<Outage>, RegistryError> {
        let rows: Vec<OutageRow> = sqlx::query_as(
            "SELECT id, building_id, kind, starts_at, ends_at, reason FROM outages
             WHERE ends_at IS NULL OR ends_at > ?
             ORDER BY building_id, starts_at, id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Outage::from).collect())
    }

    async fn version(&self) -> Result<i64, RegistryError> {
        let (v,): (i64,) = sqlx::query_as("SELECT version FROM registry_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(v)
    }

    async fn add_outage(&self, outage: &NewOutage) -> Result<Outage, AddOutageError> {
        let kind = outage.kind.trim();
        if kind.is_empty() {
            return Err(AddOutageError::EmptyKind);
        }
        if outage.ends_at.is_some_and(|end| end < outage.starts_at) {
            return Err(AddOutageError::EndsBeforeStart);
        }
        let exists: Option<(i64,)> = sqlx::query_as("SELECT id FROM buildings WHERE id = ?")
            .bind(outage.building_id.0)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Err(AddOutageError::UnknownBuilding(outage.building_id));
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO outages (building_id, kind, starts_at, ends_at, reason)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (building_id, kind, starts_at)
             DO UPDATE SET ends_at = excluded.ends_at, reason = excluded.reason
             RETURNING id",
        )
        .bind(outage.building_id.0)
        .bind(kind)
        .bind(outage.starts_at)
        .bind(outage.ends_at)
        .bind(outage.reason.as_deref())
        .fetch_one(&self.pool)
        .await?;
        Ok(Outage {
            id: OutageId(id),
            building_id: outage.building_id,
            kind: kind.to_string(),
            starts_at: outage.starts_at,
            ends_at: outage.ends_at,
            reason: outage.reason.clone(),
        })
    }

    async fn select_recipients(
        &self,
        filter: &RecipientFilter,
        tz: chrono_tz::Tz,
    ) -> Result<Vec<SelectedRecipient>, RegistryError> {
        crate::recipients::select_recipients(&self.pool, filter, tz).await
    }

    async fn debts(&self, accounts: &[AccountId]) -> Result<Vec<AccountDebt>, RegistryError> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(&accounts.iter().map(|a| a.0).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into());
        let rows: Vec<(i64, i64, Option<NaiveDate>, i64, NaiveDate)> = sqlx::query_as(
            "SELECT account_id, balance_kopecks, oldest_unpaid, months_owed, as_of
             FROM account_debts WHERE account_id IN (SELECT value FROM json_each(?))
             ORDER BY account_id",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(account_id, balance_kopecks, oldest_unpaid, months_owed, as_of)| AccountDebt {
                    account_id: AccountId(account_id),
                    balance_kopecks,
                    oldest_unpaid,
                    months_owed,
                    as_of,
                },
            )
            .collect())
    }
}
