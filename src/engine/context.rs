//! What a robot call knows about the company's buildings before it says «Здравствуйте»: the
//! building list with the outages in effect, from the shared [`BuildingDirectory`] — one
//! registry query per call however many buildings there are (three when the registry
//! changed since the last call).

use super::robot_driver::ru_datetime;
use chrono::{DateTime, Utc};
use zvonar_billing::BuildingDirectory;
use zvonar_dialplan::robot::{BuildingInfo, OutageInfo};

/// The buildings a robot call can match, each with its outages in effect at `now` (times read
/// aloud in the company's time zone `time_zone`). Empty when the registry
/// cannot be read (logged): the robot then works without addresses.
pub async fn buildings_for_call(
    directory: &BuildingDirectory,
    now: DateTime<Utc>,
    time_zone: chrono_tz::Tz,
) -> Vec<BuildingInfo> {
    let snap = match directory.snapshot(now).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "buildings lookup failed");
            return Vec::new();
        }
    };
    snap.buildings
        .iter()
        .map(|b| BuildingInfo {
            id: b.id,
            spoken: format!("{}, дом {}", b.street, b.house),
            street: b.street.clone(),
            house: b.house.clone(),
            outages: snap
                .active_outages(b.id, now)
                .map(|o| OutageInfo {
                    id: o.id,
                    what: o.kind.clone(),
                    since: ru_datetime(o.starts_at, time_zone),
                    until: o
                        .ends_at
                        .map(|t| ru_datetime(t, time_zone))
                        .unwrap_or_else(|| "окончания работ".into()),
                })
                .collect(),
        })
        .collect()
}

/// The apartments of the building a caller named (`12`, `12а`), to check the apartment they
/// say against the registry: from the [`BuildingDirectory`]'s cache (one query per call while
/// the registry is unchanged, two more the first time a building is asked for). `None` when
/// the registry cannot be read (logged): the robot then takes the apartment unchecked.
pub async fn apartments_for_call(
    directory: &BuildingDirectory,
    building: zvonar_models::BuildingId,
    now: DateTime<Utc>,
) -> Option<Vec<String>> {
    match directory.apartments(building, now).await {
        Ok(list) => Some(list.to_vec()),
        Err(e) => {
            tracing::error!(error = %e, "apartments lookup failed");
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use zvonar_billing::{
        AddOutageError, Building, KnownPremises, NewOutage, Outage, Registry, RegistryError,
        SqliteRegistry,
    };
    use zvonar_models::{AccountId, BuildingId, PhoneNumber, PremisesId};

    /// Counts the registry queries made through it (each method is one query).
    struct Counting {
        inner: SqliteRegistry,
        queries: AtomicUsize,
    }

    impl Counting {
        fn hit(&self) {
            self.queries.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[async_trait]
    impl Registry for Counting {
        async fn find_by_phone(
            &self,
            phone: &PhoneNumber,
        ) -> Result<Vec<KnownPremises>, RegistryError> {
            self.hit();
            self.inner.find_by_phone(phone).await
        }
        async fn buildings(&self) -> Result<Vec<Building>, RegistryError> {
            self.hit();
            self.inner.buildings().await
        }
        async fn find_premises(
            &self,
            building: BuildingId,
            apartment: &str,
        ) -> Result<Option<(PremisesId, Option<AccountId>)>, RegistryError> {
            self.hit();
            self.inner.find_premises(building, apartment).await
        }
        async fn apartments(&self, building: BuildingId) -> Result<Vec<String>, RegistryError> {
            self.hit();
            self.inner.apartments(building).await
        }
        async fn active_outages(
            &self,
            building: BuildingId,
            now: DateTime<Utc>,
        ) -> Result<Vec<Outage>, RegistryError> {
            self.hit();
            self.inner.active_outages(building, now).await
        }
        async fn outages_not_ended(
            &self,
            now: DateTime<Utc>,
        ) -> Result<Vec<Outage>, RegistryError> {
            self.hit();
            self.inner.outages_not_ended(now).await
        }
        async fn version(&self) -> Result<i64, RegistryError> {
            self.hit();
            self.inner.version().await
        }
        async fn add_outage(&self, outage: &NewOutage) -> Result<Outage, AddOutageError> {
            self.hit();
            self.inner.add_outage(outage).await
        }
        async fn select_recipients(
            &self,
            filter: &zvonar_billing::RecipientFilter,
            tz: chrono_tz::Tz,
        ) -> Result<Vec<zvonar_billing::SelectedRecipient>, RegistryError> {
            self.hit();
            self.inner.select_recipients(filter, tz).await
        }
        async fn debts(
            &self,
            accounts: &[AccountId],
        ) -> Result<Vec<zvonar_billing::AccountDebt>, RegistryError> {
            self.hit();
            self.inner.debts(accounts).await
        }
    }

    async fn open(path: &std::path::Path) -> sqlx::SqlitePool {
        let pool = zvonar_billing::open_sqlite(&path.to_string_lossy())
            .await
            .unwrap();
        zvonar_billing::migrate(&pool).await.unwrap();
        pool
    }

    fn registry_csv(
        dir: &std::path::Path,
        name: &str,
        first: usize,
        count: usize,
    ) -> std::path::PathBuf {
        let mut csv = String::from("улица;дом;квартира;лс;фио;телефон\n");
        for i in first..first + count {
            csv.push_str(&format!("улица Строителей;{i};1;77{i:08};Жилец {i};\n"));
        }
        let p = dir.join(name);
        std::fs::write(&p, csv).unwrap();
        p
    }

    fn outage(b: &Building, kind: &str, now: DateTime<Utc>) -> NewOutage {
        NewOutage {
            building_id: b.id,
            kind: kind.into(),
            starts_at: now - chrono::Duration::hours(1),
            ends_at: Some(now + chrono::Duration::hours(5)),
            reason: None,
        }
    }

    #[tokio::test]
    async fn a_call_costs_one_query_with_800_buildings_and_sees_changes_from_another_process() {
        let dir = std::env::temp_dir().join(format!("zvonar-context-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("zvonar.sqlite");
        // «The CLI»: its own pool on the same file, as `zvonar import` in another process.
        let cli = open(&db).await;
        zvonar_billing::import_accounts(&cli, registry_csv(&dir, "a.csv", 1, 800))
            .await
            .unwrap();
        let cli_registry = SqliteRegistry::new(cli.clone());
        let all = cli_registry.buildings().await.unwrap();
        assert_eq!(all.len(), 800);
        let now = Utc::now();
        for b in all.iter().step_by(100) {
            cli_registry
                .add_outage(&outage(b, "горячей воды", now))
                .await
                .unwrap();
        }

        let counting = Arc::new(Counting {
            inner: SqliteRegistry::new(open(&db).await),
            queries: AtomicUsize::new(0),
        });
        let directory = BuildingDirectory::new(counting.clone());
        let count = || counting.queries.swap(0, Ordering::SeqCst);

        let first = buildings_for_call(&directory, now, chrono_tz::Europe::Moscow).await;
        assert_eq!(first.len(), 800);
        assert_eq!(first.iter().filter(|b| !b.outages.is_empty()).count(), 8);
        // Version, buildings, outages of all buildings.
        assert_eq!(count(), 3);
        for _ in 0..5 {
            let again = buildings_for_call(&directory, now, chrono_tz::Europe::Moscow).await;
            assert_eq!(again.len(), 800);
            assert_eq!(count(), 1, "a call with an unchanged registry");
        }

        // A new outage registered by another process is seen by the next call.
        let target = all.iter().find(|b| b.house == "555").unwrap();
        cli_registry
            .add_outage(&outage(target, "электроэнергии", now))
            .await
            .unwrap();
        let next = buildings_for_call(&directory, now, chrono_tz::Europe::Moscow).await;
        assert_eq!(count(), 3);
        let b = next.iter().find(|b| b.id == target.id).unwrap();
        assert_eq!(b.outages.len(), 1);
        assert_eq!(b.outages[0].what, "электроэнергии");

        // So is a new import.
        zvonar_billing::import_accounts(&cli, registry_csv(&dir, "b.csv", 801, 2))
            .await
            .unwrap();
        let next = buildings_for_call(&directory, now, chrono_tz::Europe::Moscow).await;
        assert_eq!(next.len(), 802);
        assert!(next.iter().any(|b| b.house == "802"));
        assert_eq!(count(), 3);
        buildings_for_call(&directory, now, chrono_tz::Europe::Moscow).await;
        assert_eq!(count(), 1);

        // An outage that has ended by the time of a later call is no longer announced.
        let later = now + chrono::Duration::hours(6);
        let after = buildings_for_call(&directory, later, chrono_tz::Europe::Moscow).await;
        assert!(after.iter().all(|b| b.outages.is_empty()));
        assert_eq!(count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn apartments_are_read_per_building_once_and_reread_when_premises_change() {
        let dir = std::env::temp_dir().join(format!("zvonar-apartments-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("zvonar.sqlite");
        let cli = open(&db).await;
        let mut csv = String::from("улица;дом;квартира;лс;фио;телефон\n");
        for (house, apt) in [
            ("1", "3"),
            ("1", "1"),
            ("1", "12а"),
            ("1", "10"),
            ("2", "5"),
        ] {
            csv.push_str(&format!(
                "улица Строителей;{house};{apt};77{house}{apt};Жилец;\n"
            ));
        }
        let path = dir.join("a.csv");
        std::fs::write(&path, csv).unwrap();
        zvonar_billing::import_accounts(&cli, path).await.unwrap();
        let counting = Arc::new(Counting {
            inner: SqliteRegistry::new(open(&db).await),
            queries: AtomicUsize::new(0),
        });
        let directory = BuildingDirectory::new(counting.clone());
        let count = || counting.queries.swap(0, Ordering::SeqCst);
        let now = Utc::now();
        let buildings = buildings_for_call(&directory, now, chrono_tz::Europe::Moscow).await;
        let first = buildings.iter().find(|b| b.house == "1").unwrap().id;
        let second = buildings.iter().find(|b| b.house == "2").unwrap().id;
        count();

        // Only the building asked for is read, in number order.
        let list = apartments_for_call(&directory, first, now).await.unwrap();
        assert_eq!(list, ["1", "3", "10", "12а"]);
        assert_eq!(count(), 2, "version, then this building's apartments");
        for _ in 0..3 {
            assert_eq!(
                apartments_for_call(&directory, first, now).await.unwrap(),
                list
            );
            assert_eq!(count(), 1, "cached: the version only");
        }
        assert_eq!(
            apartments_for_call(&directory, second, now).await.unwrap(),
            ["5"]
        );
        assert_eq!(count(), 2);

        // A premises added by another process (no building changed) is seen by the next call.
        sqlx::query("INSERT INTO premises (building_id, apartment) VALUES (?, '11')")
            .bind(first.0)
            .execute(&cli)
            .await
            .unwrap();
        let list = apartments_for_call(&directory, first, now).await.unwrap();
        assert_eq!(list, ["1", "3", "10", "11", "12а"]);
        assert_eq!(count(), 4, "version, buildings, outages, apartments");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
