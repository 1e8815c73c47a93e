//! [`OutageBoard`]: outages as dispatchers register them in the console — a resource off on
//! some buildings or a whole street from a start to an expected end, with a text — and the
//! residents of accounts, for the caller's card.
//!
//! A notice is stored as one `outages` row per building (what calls read through
//! [`crate::BuildingDirectory`]); every change to those rows bumps the registry version, so
//! the next call sees a new, changed or closed outage at once. Imported outages appear as
//! notices too (one per row, `created_by = "import"`).

use crate::model::{building_key, Building};
use crate::registry::{BuildingRow, RegistryError};
use crate::SqliteRegistry;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zvonar_models::{AccountId, BuildingId, OutageId};

/// What is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// ХВС, холодное водоснабжение.
    ColdWater,
    /// ГВС, горячее водоснабжение.
    HotWater,
    /// Отопление.
    Heating,
    /// Электроснабжение.
    Electricity,
    /// Газ.
    Gas,
    /// Лифт.
    Lift,
    /// Водоотведение (канализация).
    Sewerage,
}

impl Resource {
    /// Every resource, in the console's order.
    pub const ALL: [Resource; 7] = [
        Resource::ColdWater,
        Resource::HotWater,
        Resource::Heating,
        Resource::Electricity,
        Resource::Gas,
        Resource::Lift,
        Resource::Sewerage,
    ];

    /// The stable code (`cold_water`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::ColdWater => "cold_water",
            Resource::HotWater => "hot_water",
            Resource::Heating => "heating",
            Resource::Electricity => "electricity",
            Resource::Gas => "gas",
            Resource::Lift => "lift",
            Resource::Sewerage => "sewerage",
        }
    }

    /// The resource for a code.
    pub fn from_code(code: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// The console's name: «ХВС», «ГВС», «отопление»…
    pub fn label_ru(self) -> &'static str {
        match self {
            Resource::ColdWater => "ХВС (холодная вода)",
            Resource::HotWater => "ГВС (горячая вода)",
            Resource::Heating => "отопление",
            Resource::Electricity => "электричество",
            Resource::Gas => "газ",
            Resource::Lift => "лифт",
            Resource::Sewerage => "канализация",
        }
    }

    /// What the robot says after «отключение»: the genitive («горячей воды»).
    pub fn spoken_genitive(self) -> &'static str {
        match self {
            Resource::ColdWater => "холодной воды",
            Resource::HotWater => "горячей воды",
            Resource::Heating => "отопления",
            Resource::Electricity => "электроэнергии",
            Resource::Gas => "газа",
            Resource::Lift => "лифта",
            Resource::Sewerage => "водоотведения",
        }
    }
}

/// Where an outage is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutageScope {
    /// These buildings (registry ids).
    Buildings(Vec<BuildingId>),
    /// Every building of the registry on this street (compared without case, «ё» as «е»).
    Street(String),
}

/// A notice to register with [`OutageBoard::create_notice`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotice {
    /// Where.
    pub scope: OutageScope,
    /// What is off.
    pub resource: Resource,
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// Expected end (UTC), if known; not before `starts_at`.
    pub ends_at: Option<DateTime<Utc>>,
    /// The dispatcher's text (cause, what to do), shown in the console and on the card.
    pub text: String,
    /// Who registers it (login).
    pub by: String,
}

/// A change to a notice ([`OutageBoard::change_notice`]); `None` leaves a field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoticeChange {
    /// New expected end: `Some(None)` makes it unknown.
    pub ends_at: Option<Option<DateTime<Utc>>>,
    /// New text.
    pub text: Option<String>,
}

/// A building a notice covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeBuilding {
    /// The building.
    pub building_id: BuildingId,
    /// Its address.
    pub address: String,
    /// The outage row calls read for it.
    pub outage_id: OutageId,
}

/// An outage notice as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutageNotice {
    /// Row id.
    pub id: i64,
    /// What is off; `None` for imported outages (only `kind` is known).
    pub resource: Option<Resource>,
    /// What the robot says after «отключение»: «горячей воды».
    pub kind: String,
    /// The street, when registered for a whole street.
    pub street: Option<String>,
    /// The dispatcher's text.
    pub text: String,
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// Expected end (UTC); `None` when unknown.
    pub ends_at: Option<DateTime<Utc>>,
    /// `active` (started, not ended), `planned` (not started) or `ended` (past its end, or
    /// closed by a dispatcher), as of the query.
    pub state: String,
    /// The buildings, by address.
    pub buildings: Vec<NoticeBuilding>,
    /// Registered (UTC).
    pub created_at: DateTime<Utc>,
    /// By whom (login, or `import`).
    pub created_by: String,
    /// Closed early by a dispatcher (UTC).
    pub closed_at: Option<DateTime<Utc>>,
    /// By whom.
    pub closed_by: Option<String>,
}

/// Which notices [`OutageBoard::notices`] returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NoticeFilter {
    /// Active and planned (not ended).
    #[default]
    Current,
    /// Active only.
    Active,
    /// Planned only.
    Planned,
    /// Current ones and those ended in the last 7 days.
    Recent,
}

/// A resident of an account, for the caller's card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resident {
    /// The account.
    pub account_id: AccountId,
    /// Full name as the registry writes it (empty when it gave only phones).
    pub full_name: String,
    /// Phones (E.164).
    pub phones: Vec<String>,
}

/// Why a notice could not be registered or changed; nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NoticeError {
    /// Neither buildings nor a street.
    #[error("no buildings chosen")]
    EmptyScope,
    /// No building with this id.
    #[error("unknown building {0}")]
    UnknownBuilding(BuildingId),
    /// No building of the registry is on this street.
    #[error("no building on «{0}»")]
    UnknownStreet(String),
    /// The end is before the start.
    #[error("outage ends before it starts")]
    EndsBeforeStart,
    /// This resource is already registered off on this building from the same start.
    #[error("already registered: {0}")]
    Duplicate(String),
    /// No such notice.
    #[error("no outage {0}")]
    NotFound(i64),
    /// The notice has ended already.
    #[error("outage {0} has ended")]
    Ended(i64),
    /// The database failed.
    #[error("registry database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Outage notices and residents; hold it as `Arc<dyn OutageBoard>` ([`SqliteRegistry`]
/// implements it).
#[async_trait]
pub trait OutageBoard: Send + Sync {
    /// Registers a notice, one outage row per building, in one transaction.
    ///
    /// Errors: [`NoticeError::EmptyScope`], [`NoticeError::UnknownBuilding`],
    /// [`NoticeError::UnknownStreet`], [`NoticeError::EndsBeforeStart`],
    /// [`NoticeError::Duplicate`], [`NoticeError::Database`].
    async fn create_notice(
        &self,
        notice: &NewNotice,
        now: DateTime<Utc>,
    ) -> Result<OutageNotice, NoticeError>;

    /// Notices by `filter` as of `now`, by start; `buildings` keeps only those covering one
    /// of them.
    async fn notices(
        &self,
        filter: NoticeFilter,
        now: DateTime<Utc>,
        buildings: Option<&[BuildingId]>,
    ) -> Result<Vec<OutageNotice>, RegistryError>;

    /// One notice; `Ok(None)` when there is none.
    async fn notice(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<OutageNotice>, RegistryError>;

    /// Changes the expected end and/or text of a notice that has not ended; an end at or
    /// before `now` ends it at once.
    ///
    /// Errors: [`NoticeError::NotFound`], [`NoticeError::Ended`],
    /// [`NoticeError::EndsBeforeStart`], [`NoticeError::Database`].
    async fn change_notice(
        &self,
        id: i64,
        change: &NoticeChange,
        now: DateTime<Utc>,
    ) -> Result<OutageNotice, NoticeError>;

    /// Ends a notice now (a planned one is cancelled: it ends at its start), by `by`.
    ///
    /// Errors: [`NoticeError::NotFound`], [`NoticeError::Ended`], [`NoticeError::Database`].
    async fn close_notice(
        &self,
        id: i64,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<OutageNotice, NoticeError>;

    /// The residents of `accounts` with their phones, by account then name.
    async fn residents(&self, accounts: &[AccountId]) -> Result<Vec<Resident>, RegistryError>;
}

#[derive(sqlx::FromRow)]
struct NoticeRow {
    id: i64,
    resource: Option<String>,
    kind: String,
    street: Option<String>,
    created_at: DateTime<Utc>,
    created_by: String,
    closed_at: Option<DateTime<Utc>>,
    closed_by: Option<String>,
    outage_id: i64,
    building_id: i64,
    address: String,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
    reason: Option<String>,
}

macro_rules! notice_select {
    () => {
        "SELECT n.id, n.resource, n.kind, n.street, n.created_at, n.created_by,
        n.closed_at, n.closed_by, o.id AS outage_id, o.building_id, b.address, o.starts_at,
        o.ends_at, o.reason
     FROM outage_notices n JOIN outages o ON o.notice_id = n.id
     JOIN buildings b ON b.id = o.building_id"
    };
}

fn state(starts: DateTime<Utc>, ends: Option<DateTime<Utc>>, now: DateTime<Utc>) -> &'static str {
    if ends.is_some_and(|e| e <= now) {
        "ended"
    } else if starts > now {
        "planned"
    } else {
        "active"
    }
}

/// Groups rows (ordered by notice) into notices.
fn group(rows: Vec<NoticeRow>, now: DateTime<Utc>) -> Vec<OutageNotice> {
    let mut order: Vec<i64> = Vec::new();
    let mut by_id: BTreeMap<i64, OutageNotice> = BTreeMap::new();
    for r in rows {
        let b = NoticeBuilding {
            building_id: BuildingId(r.building_id),
            address: r.address,
            outage_id: OutageId(r.outage_id),
        };
        match by_id.get_mut(&r.id) {
            Some(n) => {
                n.starts_at = n.starts_at.min(r.starts_at);
                n.ends_at = match (n.ends_at, r.ends_at) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
                n.buildings.push(b);
            }
            None => {
                order.push(r.id);
                by_id.insert(
                    r.id,
                    OutageNotice {
                        id: r.id,
                        resource: r.resource.as_deref().and_then(Resource::from_code),
                        kind: r.kind,
                        street: r.street,
                        text: r.reason.unwrap_or_default(),
                        starts_at: r.starts_at,
                        ends_at: r.ends_at,
                        state: String::new(),
                        buildings: vec![b],
                        created_at: r.created_at,
                        created_by: r.created_by,
                        closed_at: r.closed_at,
                        closed_by: r.closed_by,
                    },
                );
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .map(|mut n| {
            n.state = if n.closed_at.is_some() {
                "ended"
            } else {
                state(n.starts_at, n.ends_at, now)
            }
            .to_string();
            n
        })
        .collect()
}

impl SqliteRegistry {
    async fn load_notice(
        &self,
        conn: &mut sqlx::SqliteConnection,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<OutageNotice>, sqlx::Error> {
        let rows: Vec<NoticeRow> = sqlx::query_as(concat!(
            notice_select!(),
            " WHERE n.id = ? ORDER BY b.street, b.house"
        ))
        .bind(id)
        .fetch_all(conn)
        .await?;
        Ok(group(rows, now).pop())
    }
}

#[async_trait]
impl OutageBoard for SqliteRegistry {
    async fn create_notice(
        &self,
        n: &NewNotice,
        now: DateTime<Utc>,
    ) -> Result<OutageNotice, NoticeError> {
        if n.ends_at.is_some_and(|e| e < n.starts_at) {
            return Err(NoticeError::EndsBeforeStart);
        }
        let mut tx = self.pool().begin().await?;
        let all: Vec<BuildingRow> =
            sqlx::query_as("SELECT id, address, street, house, fias_id FROM buildings")
                .fetch_all(&mut *tx)
                .await?;
        let all: Vec<Building> = all.into_iter().map(Building::from).collect();
        let (chosen, street): (Vec<&Building>, Option<String>) = match &n.scope {
            OutageScope::Buildings(ids) if ids.is_empty() => return Err(NoticeError::EmptyScope),
            OutageScope::Buildings(ids) => {
                let mut out = Vec::new();
                for id in ids {
                    let b = all
                        .iter()
                        .find(|b| b.id == *id)
                        .ok_or(NoticeError::UnknownBuilding(*id))?;
                    if !out.iter().any(|o: &&Building| o.id == b.id) {
                        out.push(b);
                    }
                }
                (out, None)
            }
            OutageScope::Street(s) => {
                let key = building_key(s, "").0;
                if key.is_empty() {
                    return Err(NoticeError::EmptyScope);
                }
                let out: Vec<&Building> = all
                    .iter()
                    .filter(|b| building_key(&b.street, "").0 == key)
                    .collect();
                let Some(first) = out.first() else {
                    return Err(NoticeError::UnknownStreet(s.trim().to_string()));
                };
                let street = first.street.clone();
                (out, Some(street))
            }
        };
        let kind = n.resource.spoken_genitive();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO outage_notices (resource, kind, street, created_at, created_by)
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(n.resource.as_str())
        .bind(kind)
        .bind(&street)
        .bind(now)
        .bind(&n.by)
        .fetch_one(&mut *tx)
        .await?;
        let text = n.text.trim();
        for b in chosen {
            let inserted = sqlx::query(
                "INSERT INTO outages (building_id, kind, starts_at, ends_at, reason, notice_id)
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (building_id, kind, starts_at) DO NOTHING",
            )
            .bind(b.id.0)
            .bind(kind)
            .bind(n.starts_at)
            .bind(n.ends_at)
            .bind((!text.is_empty()).then_some(text))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                tx.rollback().await?;
                return Err(NoticeError::Duplicate(format!(
                    "отключение {kind} по адресу {} с этого времени уже зарегистрировано",
                    b.address
                )));
            }
        }
        let notice = self
            .load_notice(&mut tx, id, now)
            .await?
            .ok_or(NoticeError::NotFound(id))?;
        tx.commit().await?;
        tracing::info!(
            notice = id,
            resource = n.resource.as_str(),
            buildings = notice.buildings.len(),
            "outage registered"
        );
        Ok(notice)
    }

    async fn notices(
        &self,
        filter: NoticeFilter,
        now: DateTime<Utc>,
        buildings: Option<&[BuildingId]>,
    ) -> Result<Vec<OutageNotice>, RegistryError> {
        let since = match filter {
            NoticeFilter::Recent => now - Duration::days(7),
            _ => now,
        };
        let rows: Vec<NoticeRow> = sqlx::query_as(concat!(
            notice_select!(),
            " WHERE n.id IN (SELECT notice_id FROM outages WHERE ends_at IS NULL OR ends_at > ?)",
            " ORDER BY n.id, b.street, b.house"
        ))
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        let mut list: Vec<OutageNotice> = group(rows, now)
            .into_iter()
            .filter(|n| match filter {
                NoticeFilter::Current => n.state != "ended",
                NoticeFilter::Active => n.state == "active",
                NoticeFilter::Planned => n.state == "planned",
                NoticeFilter::Recent => true,
            })
            .filter(|n| {
                buildings.is_none_or(|ids| n.buildings.iter().any(|b| ids.contains(&b.building_id)))
            })
            .collect();
        list.sort_by_key(|n| (n.state == "ended", n.starts_at, n.id));
        Ok(list)
    }

    async fn notice(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<OutageNotice>, RegistryError> {
        let mut conn = self.pool().acquire().await?;
        Ok(self.load_notice(&mut conn, id, now).await?)
    }

    async fn change_notice(
        &self,
        id: i64,
        change: &NoticeChange,
        now: DateTime<Utc>,
    ) -> Result<OutageNotice, NoticeError> {
        let mut tx = self.pool().begin().await?;
        // A write first, so the transaction holds the write lock before it reads.
        sqlx::query("UPDATE outage_notices SET id = id WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let before = self
            .load_notice(&mut tx, id, now)
            .await?
            .ok_or(NoticeError::NotFound(id))?;
        if before.state == "ended" {
            return Err(NoticeError::Ended(id));
        }
        if let Some(end) = change.ends_at {
            if end.is_some_and(|e| e < before.starts_at) {
                return Err(NoticeError::EndsBeforeStart);
            }
            sqlx::query("UPDATE outages SET ends_at = ? WHERE notice_id = ?")
                .bind(end)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(text) = &change.text {
            let text = text.trim();
            sqlx::query("UPDATE outages SET reason = ? WHERE notice_id = ?")
                .bind((!text.is_empty()).then_some(text))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let after = self
            .load_notice(&mut tx, id, now)
            .await?
            .ok_or(NoticeError::NotFound(id))?;
        tx.commit().await?;
        Ok(after)
    }

    async fn close_notice(
        &self,
        id: i64,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<OutageNotice, NoticeError> {
        let mut tx = self.pool().begin().await?;
        // A write first, so the transaction holds the write lock before it reads.
        sqlx::query("UPDATE outage_notices SET id = id WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let before = self
            .load_notice(&mut tx, id, now)
            .await?
            .ok_or(NoticeError::NotFound(id))?;
        if before.state == "ended" {
            return Err(NoticeError::Ended(id));
        }
        sqlx::query("UPDATE outage_notices SET closed_at = ?, closed_by = ? WHERE id = ?")
            .bind(now)
            .bind(by)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // A planned outage is cancelled: it ends at its start and never comes into effect.
        sqlx::query(
            "UPDATE outages SET ends_at = MAX(?, starts_at) WHERE notice_id = ?
             AND (ends_at IS NULL OR ends_at > ?)",
        )
        .bind(now)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let after = self
            .load_notice(&mut tx, id, now)
            .await?
            .ok_or(NoticeError::NotFound(id))?;
        tx.commit().await?;
        tracing::info!(notice = id, "outage closed");
        Ok(after)
    }

    async fn residents(&self, accounts: &[AccountId]) -> Result<Vec<Resident>, RegistryError> {
        let ids = format!(
            "[{}]",
            accounts
                .iter()
                .map(|a| a.0.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT r.account_id, r.full_name,
                    (SELECT group_concat(phone, ',') FROM resident_phones rp WHERE rp.resident_id = r.id)
             FROM residents r WHERE r.account_id IN (SELECT value FROM json_each(?))
             ORDER BY r.account_id, r.full_name",
        )
        .bind(ids)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(a, name, phones)| Resident {
                account_id: AccountId(a),
                full_name: name,
                phones: phones
                    .map(|p| p.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
            })
            .collect())
    }
}
