//! Outages registered from the console (`OutageBoard`) on the example registry: buildings or
//! a whole street, bad input refused with nothing stored, the robot's cached building list
//! seeing a new, changed and closed outage on the very next call, imported outages listed as
//! notices, and residents for the caller's card.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{db, example};
use std::sync::Arc;
use zvonar_billing::{
    import_accounts, import_outages, BuildingDirectory, NewNotice, NoticeChange, NoticeError,
    NoticeFilter, OutageBoard, OutageScope, Registry, Resource, SqliteRegistry,
};
use zvonar_models::{AccountId, BuildingId, PhoneNumber};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
}

async fn setup() -> (sqlx::SqlitePool, Arc<SqliteRegistry>) {
    let pool = db().await;
    let r = import_accounts(&pool, example("registry.csv"))
        .await
        .unwrap();
    assert!(r.errors.is_empty());
    (pool.clone(), Arc::new(SqliteRegistry::new(pool)))
}

async fn building(reg: &SqliteRegistry, street: &str) -> BuildingId {
    reg.buildings()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.street == street)
        .unwrap()
        .id
}

fn notice(scope: OutageScope, resource: Resource) -> NewNotice {
    NewNotice {
        scope,
        resource,
        starts_at: now() - Duration::hours(1),
        ends_at: Some(now() + Duration::hours(5)),
        text: "Авария на вводе, работает бригада".into(),
        by: "disp1".into(),
    }
}

async fn outage_count(pool: &sqlx::SqlitePool) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM outages")
        .fetch_one(pool)
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn a_registered_outage_is_seen_by_the_next_call_and_closing_stops_it() {
    let (_, reg) = setup().await;
    let mira = building(&reg, "проспект Мира").await;
    let directory = BuildingDirectory::new(reg.clone());
    // The first call caches the building list: nothing is off on проспект Мира.
    let snap = directory.snapshot(now()).await.unwrap();
    assert_eq!(snap.active_outages(mira, now()).count(), 0);

    let n = reg
        .create_notice(
            &notice(OutageScope::Buildings(vec![mira]), Resource::ColdWater),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(n.state, "active");
    assert_eq!(n.kind, "холодной воды");
    assert_eq!(n.buildings.len(), 1);
    assert_eq!(n.created_by, "disp1");
    // The very next call sees it.
    let snap = directory.snapshot(now()).await.unwrap();
    let off: Vec<_> = snap.active_outages(mira, now()).collect();
    assert_eq!(off.len(), 1);
    assert_eq!(off[0].kind, "холодной воды");

    // An earlier end that is already past ends it at once.
    let later = now() + Duration::minutes(1);
    let changed = reg
        .change_notice(
            n.id,
            &NoticeChange {
                ends_at: Some(Some(now() + Duration::seconds(30))),
                text: Some("Закончим раньше".into()),
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(changed.text, "Закончим раньше");
    let snap = directory.snapshot(later).await.unwrap();
    assert_eq!(snap.active_outages(mira, later).count(), 0);

    // A new one, closed: the next call no longer hears it.
    let n2 = reg
        .create_notice(
            &notice(OutageScope::Buildings(vec![mira]), Resource::Lift),
            later,
        )
        .await
        .unwrap();
    let count = |at| {
        let directory = &directory;
        async move {
            directory
                .snapshot(at)
                .await
                .unwrap()
                .active_outages(mira, at)
                .count()
        }
    };
    assert_eq!(count(later).await, 1);
    let closed = reg.close_notice(n2.id, "disp2", later).await.unwrap();
    assert_eq!(closed.state, "ended");
    assert_eq!(closed.closed_by.as_deref(), Some("disp2"));
    assert_eq!(count(later).await, 0);
    assert!(matches!(
        reg.close_notice(n2.id, "disp2", now()).await,
        Err(NoticeError::Ended(_))
    ));
    assert!(matches!(
        reg.change_notice(n2.id, &NoticeChange::default(), now())
            .await,
        Err(NoticeError::Ended(_))
    ));
}

#[tokio::test]
async fn a_whole_street_and_bad_input() {
    let (pool, reg) = setup().await;
    // The example registry has one building on улица Ленина; the street is matched loosely.
    let n = reg
        .create_notice(
            &notice(
                OutageScope::Street("  УЛИЦА  ленина ".into()),
                Resource::Heating,
            ),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(n.street.as_deref(), Some("улица Ленина"));
    assert_eq!(n.buildings.len(), 1);
    assert_eq!(n.resource, Some(Resource::Heating));
    let before = outage_count(&pool).await;
    let bad = [
        notice(OutageScope::Buildings(vec![]), Resource::Gas),
        notice(
            OutageScope::Buildings(vec![BuildingId(9999)]),
            Resource::Gas,
        ),
        notice(
            OutageScope::Street("улица Несуществующая".into()),
            Resource::Gas,
        ),
        NewNotice {
            ends_at: Some(now() - Duration::hours(2)),
            ..notice(OutageScope::Street("улица Ленина".into()), Resource::Gas)
        },
        // The same resource from the same start on a building that has it already.
        notice(
            OutageScope::Buildings(vec![
                building(&reg, "проспект Мира").await,
                building(&reg, "улица Ленина").await,
            ]),
            Resource::Heating,
        ),
    ];
    for b in bad {
        let e = reg.create_notice(&b, now()).await.unwrap_err();
        assert!(
            matches!(
                e,
                NoticeError::EmptyScope
                    | NoticeError::UnknownBuilding(_)
                    | NoticeError::UnknownStreet(_)
                    | NoticeError::EndsBeforeStart
                    | NoticeError::Duplicate(_)
            ),
            "{e}"
        );
    }
    assert_eq!(outage_count(&pool).await, before, "nothing stored");
    assert!(matches!(
        reg.change_notice(
            n.id,
            &NoticeChange {
                ends_at: Some(Some(now() - Duration::days(1))),
                text: None
            },
            now()
        )
        .await,
        Err(NoticeError::EndsBeforeStart)
    ));
    assert!(matches!(
        reg.close_notice(4242, "x", now()).await,
        Err(NoticeError::NotFound(4242))
    ));
}

#[tokio::test]
async fn lists_active_planned_and_imported_outages() {
    let (pool, reg) = setup().await;
    let tz = chrono_tz::Europe::Moscow;
    import_outages(&pool, example("outages.csv"), tz)
        .await
        .unwrap();
    let mira = building(&reg, "проспект Мира").await;
    let planned = reg
        .create_notice(
            &NewNotice {
                starts_at: now() + Duration::days(1),
                ends_at: None,
                ..notice(OutageScope::Buildings(vec![mira]), Resource::Electricity)
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(planned.state, "planned");
    let current = reg
        .notices(NoticeFilter::Current, now(), None)
        .await
        .unwrap();
    assert_eq!(current.len(), 2, "{current:#?}");
    // The imported hot-water outage on улица Ленина is a notice of its own.
    let imported = current.iter().find(|n| n.created_by == "import").unwrap();
    assert_eq!(imported.kind, "горячей воды");
    assert_eq!(imported.resource, None);
    assert_eq!(imported.text, "плановые работы на теплосети");
    assert_eq!(imported.state, "active");
    let active = reg
        .notices(NoticeFilter::Active, now(), None)
        .await
        .unwrap();
    assert_eq!(
        active.iter().map(|n| n.id).collect::<Vec<_>>(),
        [imported.id]
    );
    let only_planned = reg
        .notices(NoticeFilter::Planned, now(), None)
        .await
        .unwrap();
    assert_eq!(
        only_planned.iter().map(|n| n.id).collect::<Vec<_>>(),
        [planned.id]
    );
    let on_mira = reg
        .notices(NoticeFilter::Current, now(), Some(&[mira]))
        .await
        .unwrap();
    assert_eq!(
        on_mira.iter().map(|n| n.id).collect::<Vec<_>>(),
        [planned.id]
    );
    // Cancelling a planned outage: it ends at its start and is never in effect.
    let cancelled = reg.close_notice(planned.id, "disp1", now()).await.unwrap();
    assert_eq!(cancelled.ends_at, Some(cancelled.starts_at));
    assert_eq!(cancelled.state, "ended");
    let recent = reg
        .notices(NoticeFilter::Recent, now(), None)
        .await
        .unwrap();
    assert!(recent
        .iter()
        .any(|n| n.id == planned.id && n.state == "ended"));
    let later = now() + Duration::days(2);
    assert!(reg.active_outages(mira, later).await.unwrap().is_empty());
}

#[tokio::test]
async fn residents_of_accounts() {
    let (_, reg) = setup().await;
    let known = reg
        .find_by_phone(&PhoneNumber::parse_ru("+79161234567").unwrap())
        .await
        .unwrap();
    let ids: Vec<AccountId> = known.iter().map(|k| k.account_id).collect();
    let people = reg.residents(&ids).await.unwrap();
    let names: Vec<&str> = people.iter().map(|r| r.full_name.as_str()).collect();
    assert_eq!(
        names,
        ["Смирнов Павел Андреевич", "Смирнова Елена Викторовна"]
    );
    let mut phones = people[0].phones.clone();
    phones.sort();
    assert_eq!(phones, ["+74955551212", "+79161234567"]);
    assert!(reg.residents(&[]).await.unwrap().is_empty());
}
