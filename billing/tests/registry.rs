//! Registry queries and outages on the example registry.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{TimeZone, Utc};
use common::{db, example, temp_file};
use std::sync::Arc;
use zvonar_billing::{
    import_accounts, import_outages, AddOutageError, NewOutage, Registry, SqliteRegistry,
};
use zvonar_models::{BuildingId, PhoneNumber};

async fn registry() -> (sqlx::SqlitePool, Arc<dyn Registry>) {
    let pool = db().await;
    let r = import_accounts(&pool, example("registry.csv"))
        .await
        .unwrap();
    assert!(r.errors.is_empty());
    (pool.clone(), Arc::new(SqliteRegistry::new(pool)))
}

async fn lenina5(reg: &dyn Registry) -> BuildingId {
    reg.buildings()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.street == "улица Ленина" && b.house == "5")
        .unwrap()
        .id
}

#[tokio::test]
async fn known_phone_finds_its_premises() {
    let (_, reg) = registry().await;
    let known = reg
        .find_by_phone(&PhoneNumber::parse_ru("8 (916) 123-45-67").unwrap())
        .await
        .unwrap();
    assert_eq!(known.len(), 1);
    let k = &known[0];
    assert_eq!(
        (k.street.as_str(), k.house.as_str(), k.apartment.as_str()),
        ("улица Ленина", "5", "12")
    );
    assert_eq!(k.account_number, "5000010012");
    assert_eq!(k.address, "улица Ленина, дом 5");
    assert_eq!(k.building_id, lenina5(reg.as_ref()).await);

    let unknown = PhoneNumber::parse_ru("+79990000000").unwrap();
    assert!(reg.find_by_phone(&unknown).await.unwrap().is_empty());
}

#[tokio::test]
async fn buildings_and_premises_match_loosely() {
    let (_, reg) = registry().await;
    let buildings = reg.buildings().await.unwrap();
    let houses: Vec<(&str, &str)> = buildings
        .iter()
        .map(|b| (b.street.as_str(), b.house.as_str()))
        .collect();
    assert_eq!(
        houses,
        vec![
            ("проспект Мира", "101"),
            ("улица Ленина", "5"),
            ("улица Профсоюзная", "43к2")
        ]
    );
    let b = lenina5(reg.as_ref()).await;
    let (p12, a12) = reg.find_premises(b, "12").await.unwrap().unwrap();
    let (p12a, a12a) = reg.find_premises(b, "12 А").await.unwrap().unwrap();
    assert_ne!(p12, p12a);
    assert_eq!(
        reg.find_premises(b, "12-a").await.unwrap(),
        Some((p12a, a12a))
    );
    assert!(a12.is_some() && a12a.is_some() && a12 != a12a);
    assert_eq!(reg.find_premises(b, "99").await.unwrap(), None);
    assert_eq!(reg.find_premises(b, "двенадцать").await.unwrap(), None);
}

#[tokio::test]
async fn example_outage_is_active_within_its_window() {
    let (pool, reg) = registry().await;
    let r = import_outages(&pool, example("outages.csv"), chrono_tz::Europe::Moscow)
        .await
        .unwrap();
    assert_eq!((r.rows_read, r.outages_added, r.errors.len()), (1, 1, 0));
    let again = import_outages(&pool, example("outages.csv"), chrono_tz::Europe::Moscow)
        .await
        .unwrap();
    assert_eq!(
        (again.outages_added, again.updated, again.unchanged),
        (0, 0, 1)
    );

    let b = lenina5(reg.as_ref()).await;
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let active = reg.active_outages(b, now).await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].kind, "горячей воды");
    assert_eq!(
        active[0].starts_at,
        Utc.with_ymd_and_hms(2025, 1, 1, 6, 0, 0).unwrap()
    );
    let before = Utc.with_ymd_and_hms(2024, 12, 31, 0, 0, 0).unwrap();
    assert!(reg.active_outages(b, before).await.unwrap().is_empty());
    let other = reg
        .buildings()
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.id != b)
        .unwrap();
    assert!(reg.active_outages(other.id, now).await.unwrap().is_empty());
}

#[tokio::test]
async fn outage_rows_with_problems_are_reported() {
    let (pool, _) = registry().await;
    let csv = "адрес,вид,начало,окончание,причина\n\
        \"улица Ленина, дом 5\",электроэнергии,20.01.2025 10:00,20.01.2025 14:00,\n\
        \"улица Пушкина, дом 1\",электроэнергии,20.01.2025 10:00,,\n\
        \"улица Ленина, дом 5\",холодной воды,вчера,,\n\
        \"улица Ленина, дом 5\",холодной воды,20.01.2025 10:00,19.01.2025 10:00,\n\
        \"улица Ленина, дом 5\",,20.01.2025 10:00,,\n";
    let r = import_outages(
        &pool,
        temp_file("outages.csv", csv),
        chrono_tz::Europe::Moscow,
    )
    .await
    .unwrap();
    let lines: Vec<usize> = r.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 6], "{:?}", r.errors);
    assert!(r.errors[0].reason.contains("unknown building"));
    assert_eq!(r.outages_added, 1);
}

#[tokio::test]
async fn add_outage_validates() {
    let (_, reg) = registry().await;
    let b = lenina5(reg.as_ref()).await;
    let start = Utc.with_ymd_and_hms(2025, 2, 1, 6, 0, 0).unwrap();
    let mut new = NewOutage {
        building_id: b,
        kind: "электроэнергии".into(),
        starts_at: start,
        ends_at: Some(start + chrono::Duration::hours(4)),
        reason: Some("авария на подстанции".into()),
    };
    let o = reg.add_outage(&new).await.unwrap();
    assert_eq!(o.kind, "электроэнергии");
    let during = start + chrono::Duration::hours(1);
    assert_eq!(
        reg.active_outages(b, during).await.unwrap(),
        vec![o.clone()]
    );
    assert!(reg
        .active_outages(b, start + chrono::Duration::hours(4))
        .await
        .unwrap()
        .is_empty());

    new.ends_at = Some(start - chrono::Duration::hours(1));
    assert!(matches!(
        reg.add_outage(&new).await,
        Err(AddOutageError::EndsBeforeStart)
    ));
    new.ends_at = None;
    new.building_id = BuildingId(999);
    assert!(matches!(
        reg.add_outage(&new).await,
        Err(AddOutageError::UnknownBuilding(_))
    ));
}
