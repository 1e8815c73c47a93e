//! [`BuildingDirectory`]: the building list and the outages every robot call needs, read
//! once and kept until the registry changes.
//!
//! A call needs every building (to match «улица Ленина, дом 5») and the outages on them. Read
//! per call that is one query for the buildings and, done naively, one per building for its
//! outages — 800 queries before «Здравствуйте» for a company with 800 buildings. The directory
//! keeps a [`RegistrySnapshot`] and, per call, asks only [`Registry::version`] (one single-row
//! query); the snapshot is re-read (two queries) when the version changed — which any change
//! to buildings or outages does, from whatever process made it (database triggers, migration
//! `1002_registry_version.sql`).

use crate::model::{Building, Outage};
use crate::registry::{Registry, RegistryError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use zvonar_models::BuildingId;

/// Buildings and the outages not ended when it was read, as of one [`Registry::version`].
#[derive(Debug)]
pub struct RegistrySnapshot {
    /// The registry version the snapshot was read at (or later: it is never older).
    pub version: i64,
    /// All buildings, ordered by street then house.
    pub buildings: Vec<Building>,
    outages: HashMap<BuildingId, Vec<Outage>>,
    /// Apartment lists read so far at this version, per building (filled on demand).
    apartments: std::sync::Mutex<HashMap<BuildingId, Arc<[String]>>>,
}

impl RegistrySnapshot {
    /// Outages on `building` in effect at `now` (`starts_at <= now < ends_at`, or no end), ordered
    /// by start — what [`Registry::active_outages`] returns, without a query.
    pub fn active_outages(
        &self,
        building: BuildingId,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = &Outage> + '_ {
        self.outages
            .get(&building)
            .into_iter()
            .flatten()
            .filter(move |o| o.starts_at <= now && o.ends_at.is_none_or(|end| end > now))
    }
}

/// A cache of the building list and outages over a [`Registry`], shared by all calls.
///
/// ```no_run
/// # async fn demo(registry: std::sync::Arc<dyn zvonar_billing::Registry>) -> Result<(), zvonar_billing::RegistryError> {
/// let directory = zvonar_billing::BuildingDirectory::new(registry);
/// let now = chrono::Utc::now();
/// let snap = directory.snapshot(now).await?; // one query unless the registry changed
/// for b in &snap.buildings {
///     let off: Vec<_> = snap.active_outages(b.id, now).collect();
/// }
/// # Ok(()) }
/// ```
pub struct BuildingDirectory {
    registry: Arc<dyn Registry>,
    current: tokio::sync::Mutex<Option<Arc<RegistrySnapshot>>>,
}

impl BuildingDirectory {
    /// An empty directory over `registry`; the first [`BuildingDirectory::snapshot`] reads it.
    pub fn new(registry: Arc<dyn Registry>) -> Self {
        BuildingDirectory {
            registry,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The buildings and outages as of now: the cached snapshot when [`Registry::version`] is
    /// unchanged (one query), else a fresh one (three queries: version, buildings, outages not
    /// ended at `now`). Concurrent callers share one reload.
    ///
    /// Errors: [`RegistryError`] when the database fails; the cache is left as it was.
    pub async fn snapshot(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Arc<RegistrySnapshot>, RegistryError> {
        let mut current = self.current.lock().await;
        // The version is read before the data: a change made while reloading makes the next
        // call reload again, never keeps stale data under a new version.
        let version = self.registry.version().await?;
        if let Some(snap) = current.as_ref().filter(|s| s.version == version) {
            return Ok(snap.clone());
        }
        let buildings = self.registry.buildings().await?;
        let mut outages: HashMap<BuildingId, Vec<Outage>> = HashMap::new();
        for o in self.registry.outages_not_ended(now).await? {
            outages.entry(o.building_id).or_default().push(o);
        }
        let snap = Arc::new(RegistrySnapshot {
            version,
            buildings,
            outages,
            apartments: std::sync::Mutex::new(HashMap::new()),
        });
        *current = Some(snap.clone());
        Ok(snap)
    }

    /// The apartments of `building` (as [`Registry::apartments`]: normalised, ordered), read
    /// once per building and registry version: one query when cached ([`Registry::version`],
    /// as [`BuildingDirectory::snapshot`]), two or four when not. A robot call asks for the
    /// building the caller named only, so a company with 800 buildings never reads them all.
    ///
    /// Errors: [`RegistryError`] when the database fails; nothing is cached then.
    pub async fn apartments(
        &self,
        building: BuildingId,
        now: DateTime<Utc>,
    ) -> Result<Arc<[String]>, RegistryError> {
        let snap = self.snapshot(now).await?;
        if let Some(list) = lock(&snap.apartments).get(&building) {
            return Ok(list.clone());
        }
        let list: Arc<[String]> = self.registry.apartments(building).await?.into();
        lock(&snap.apartments).insert(building, list.clone());
        Ok(list)
    }
}

/// The cache map, also after a panic elsewhere poisoned it (it holds only complete lists).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
