//! Campaign recipients selected from the registry on a real SQLite database: by
//! organisation, district, building, premises, account, and debtors by amount and months;
//! consent, opt-out and blacklist become skip reasons.
#![allow(clippy::unwrap_used)]

mod common;

use common::{db, temp_file};
use sqlx::SqlitePool;
use zvonar_billing::{
    import_accounts, import_debts, record_invalid_number, record_opt_out, select_recipients,
    set_consent, DebtFilter, RecipientFilter, Registry, SelectedRecipient, SqliteRegistry,
};
use zvonar_models::PhoneNumber;
use zvonar_outbound::campaign::Status;
use zvonar_outbound::policy::SkipReason;
use zvonar_outbound::template::Template;

const REGISTRY: &str = "улица;дом;квартира;лс;фио;телефон;организация;район;согласие\n\
    улица Ленина;5;1;L-1;Иванов Иван Иванович;89160000001;УК Север;Северный;да\n\
    улица Ленина;5;2;L-2;Петрова Мария Сергеевна;89160000002, 89160000003;УК Север;Северный;да\n\
    улица Ленина;5;3;L-3;Сидоров Алексей Петрович;;УК Север;Северный;\n\
    улица Ленина;5;4;L-4;Козлов Игорь Николаевич;89160000004;УК Север;Северный;нет\n\
    улица Мира;9;1;M-1;Орлова Ирина Васильевна;89160000005;УК Юг;Южный;да\n\
    улица Мира;9;2;M-2;Белова Галина Петровна;89160000006;УК Юг;Южный;да\n\
    улица Мира;9;3;M-3;Орлова Ирина Васильевна;89160000005;УК Юг;Южный;да\n";

const DEBTS: &str = "лс;долг;неоплаченный месяц;на дату\n\
    L-1;6 000,00;2026-08;2026-11-30\n\
    L-2;10 000;2026-10;2026-11-30\n\
    L-3;9 000;2026-01;2026-11-30\n\
    L-4;8 000;2026-05;2026-11-30\n\
    M-1;4 999,99;2025-11;2026-11-30\n\
    M-2;-100;;2026-11-30\n";

fn phone(s: &str) -> PhoneNumber {
    PhoneNumber::parse_ru(s).unwrap()
}

async fn setup() -> SqlitePool {
    let pool = db().await;
    let r = import_accounts(&pool, temp_file("reg.csv", REGISTRY))
        .await
        .unwrap();
    assert_eq!(r.errors, vec![]);
    let r = import_debts(&pool, temp_file("debts.csv", DEBTS), None)
        .await
        .unwrap();
    assert_eq!(r.errors, vec![]);
    record_opt_out(&pool, &phone("89160000003")).await.unwrap();
    record_invalid_number(&pool, &phone("89160000006"))
        .await
        .unwrap();
    pool
}

/// (id, skip reason or None when queued) of each recipient.
fn summary(sel: &[SelectedRecipient]) -> Vec<(String, Option<SkipReason>)> {
    sel.iter()
        .map(|s| {
            let skip = match &s.recipient.status {
                Status::Queued => None,
                Status::Skipped { reason } => Some(reason.clone()),
                other => panic!("{other:?}"),
            };
            (s.recipient.id.clone(), skip)
        })
        .collect()
}

fn q(id: &str) -> (String, Option<SkipReason>) {
    (id.to_string(), None)
}

fn skip(id: &str, reason: SkipReason) -> (String, Option<SkipReason>) {
    (id.to_string(), Some(reason))
}

const MSK: chrono_tz::Tz = chrono_tz::Europe::Moscow;

#[tokio::test]
async fn everybody_with_skip_reasons_and_each_phone_once() {
    let pool = setup().await;
    let all = select_recipients(&pool, &RecipientFilter::default(), MSK)
        .await
        .unwrap();
    assert_eq!(
        summary(&all),
        vec![
            q("L-1/+79160000001"),
            q("L-2/+79160000002"),
            skip("L-2/+79160000003", SkipReason::OptedOut),
            skip("L-3", SkipReason::NoPhone),
            skip("L-4/+79160000004", SkipReason::NoConsent),
            q("M-1/+79160000005"),
            skip("M-2/+79160000006", SkipReason::InvalidNumber),
            // M-3's only phone is M-1's: that person is called once, about M-1.
        ]
    );
    let first = &all[0];
    assert_eq!(first.recipient.phone, "+79160000001");
    assert_eq!(first.recipient.tz, MSK);
    assert!(first.recipient.facts.consent);
    assert_eq!(first.values.fio.as_deref(), Some("Иванов Иван Иванович"));
    assert_eq!(
        first.values.address.as_deref(),
        Some("улица Ленина, дом 5, кв. 1")
    );
    assert_eq!(first.values.debt_kopecks, Some(600_000));
    assert_eq!(
        first.values.period,
        chrono::NaiveDate::from_ymd_opt(2026, 8, 1)
    );
    assert_eq!(first.months_owed, 3);
    // The values speak through the outbound templates.
    let t = Template::parse("{fio}, ваш долг {debt} с {period}.").unwrap();
    let text = t.render(&first.values).unwrap();
    assert!(text.contains("шесть тысяч рублей"), "{text}");
    assert!(text.contains("августа"), "{text}");
}

#[tokio::test]
async fn by_organisation_district_building_premises_and_account() {
    let pool = setup().await;
    let ids = |f: RecipientFilter| {
        let pool = pool.clone();
        async move {
            let sel = select_recipients(&pool, &f, MSK).await.unwrap();
            sel.into_iter().map(|s| s.recipient.id).collect::<Vec<_>>()
        }
    };
    let south = vec!["M-1/+79160000005", "M-2/+79160000006"];
    let by_district = RecipientFilter {
        districts: vec!["Южный".into()],
        ..Default::default()
    };
    assert_eq!(ids(by_district).await, south);
    let by_org = RecipientFilter {
        organisations: vec!["УК Юг".into(), "УК Нигде".into()],
        ..Default::default()
    };
    assert_eq!(ids(by_org).await, south);

    let reg = SqliteRegistry::new(pool.clone());
    let buildings = reg.buildings().await.unwrap();
    let lenina = buildings.iter().find(|b| b.house == "5").unwrap().id;
    let mira = buildings.iter().find(|b| b.house == "9").unwrap().id;
    let by_building = RecipientFilter {
        buildings: vec![mira],
        ..Default::default()
    };
    assert_eq!(ids(by_building).await, south);
    let (apt2, _) = reg.find_premises(lenina, "2").await.unwrap().unwrap();
    let by_premises = RecipientFilter {
        premises: vec![apt2],
        ..Default::default()
    };
    assert_eq!(
        ids(by_premises).await,
        vec!["L-2/+79160000002", "L-2/+79160000003"]
    );
    // Filters narrow each other: a Северный account in a Южный district is nobody.
    let none = RecipientFilter {
        accounts: vec!["L-1".into()],
        districts: vec!["Южный".into()],
        ..Default::default()
    };
    assert!(ids(none).await.is_empty());
    let by_account = RecipientFilter {
        accounts: vec!["M-3".into(), "L-4".into()],
        ..Default::default()
    };
    // M-3 alone now: its phone is not taken by M-1, which is not selected.
    assert_eq!(
        ids(by_account).await,
        vec!["L-4/+79160000004", "M-3/+79160000005"]
    );
}

#[tokio::test]
async fn debtors_by_amount_and_months() {
    let pool = setup().await;
    let debtors = |min_kopecks, min_months| RecipientFilter {
        debt: Some(DebtFilter {
            min_kopecks,
            min_months,
        }),
        ..Default::default()
    };
    // 5000 ₽ for 3 months: L-1 (6000 ₽, 3 months), L-3 (no phone), L-4 (no consent); not
    // L-2 (1 month), not M-1 (4999,99 ₽), not M-2 (overpaid).
    let sel = select_recipients(&pool, &debtors(500_000, 3), MSK)
        .await
        .unwrap();
    assert_eq!(
        summary(&sel),
        vec![
            q("L-1/+79160000001"),
            skip("L-3", SkipReason::NoPhone),
            skip("L-4/+79160000004", SkipReason::NoConsent),
        ]
    );
    let months: Vec<u32> = sel.iter().map(|s| s.months_owed).collect();
    assert_eq!(months, vec![3, 10, 6]);
    // Any positive debt: also L-2 and M-1, never M-2.
    let any: Vec<String> = select_recipients(&pool, &debtors(0, 0), MSK)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.account)
        .collect();
    assert_eq!(any, vec!["L-1", "L-2", "L-2", "L-3", "L-4", "M-1"]);
    // One kopeck more than M-1 owes excludes it; 12 months includes it.
    let sel = select_recipients(&pool, &debtors(499_999, 12), MSK)
        .await
        .unwrap();
    assert_eq!(summary(&sel), vec![q("M-1/+79160000005")]);
    let sel = select_recipients(&pool, &debtors(500_000, 12), MSK)
        .await
        .unwrap();
    assert!(sel.is_empty());
}

#[tokio::test]
async fn consent_changes_and_opt_out_is_final() {
    let pool = setup().await;
    // The registry now says Иванов withdrew consent and Петрова consents again on both phones.
    let update = "улица;дом;квартира;лс;фио;телефон;согласие\n\
        улица Ленина;5;1;L-1;Иванов Иван Иванович;89160000001;нет\n\
        улица Ленина;5;2;L-2;Петрова Мария Сергеевна;89160000002, 89160000003;да\n\
        улица Ленина;5;4;L-4;Козлов Игорь Николаевич;89160000004;может быть\n";
    let r = import_accounts(&pool, temp_file("upd.csv", update))
        .await
        .unwrap();
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].line, 4);
    assert!(r.errors[0].reason.contains("consent"), "{:?}", r.errors);
    assert_eq!(r.updated, 1, "{r:?}");
    set_consent(&pool, &phone("89160000004"), true)
        .await
        .unwrap();
    let f = RecipientFilter {
        buildings: vec![],
        accounts: vec!["L-1".into(), "L-2".into(), "L-4".into()],
        ..Default::default()
    };
    let sel = select_recipients(&pool, &f, MSK).await.unwrap();
    assert_eq!(
        summary(&sel),
        vec![
            skip("L-1/+79160000001", SkipReason::NoConsent),
            q("L-2/+79160000002"),
            skip("L-2/+79160000003", SkipReason::OptedOut),
            q("L-4/+79160000004"),
        ]
    );
}

/// Per-building IANA time zones: set by the accounts import's `часовой пояс` column (a bad
/// name is a clear error on its line, the other lines are imported), kept when a later import
/// leaves the cell empty; recipients take their building's zone, else the company's. At one
/// UTC instant the call window is open in Vladivostok (+10) and closed in Moscow (+3).
#[tokio::test]
async fn recipients_take_their_buildings_time_zone() {
    let pool = db().await;
    let registry = "улица;дом;квартира;лс;фио;телефон;согласие;часовой пояс\n\
        улица Ленина;5;1;L-1;Иванов Иван;89160000001;да;Europe/Moscow\n\
        Океанский проспект;17;2;V-1;Петров Пётр;89240000001;да;Asia/Vladivostok\n\
        улица Мира;9;3;N-1;Сидоров Сидор;89160000009;да;Asia/Novosibirk\n\
        улица Мира;9;4;N-2;Орлова Ирина;89160000010;да;\n";
    let r = import_accounts(&pool, temp_file("tz.csv", registry))
        .await
        .unwrap();
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].line, 4);
    assert!(
        r.errors[0].reason.contains("time zone «Asia/Novosibirk»"),
        "{:?}",
        r.errors[0]
    );
    assert_eq!(r.accounts_added, 3, "the other lines are imported");
    // Re-imported without the column: the zones stay.
    let again = "улица;дом;квартира;лс;фио;телефон\n\
        Океанский проспект;17;2;V-1;Петров Пётр;89240000001\n";
    let r = import_accounts(&pool, temp_file("tz2.csv", again))
        .await
        .unwrap();
    assert_eq!(r.errors, vec![]);

    // The company default is Moscow, as in deploy/zvonar.toml; Yekaterinburg shows that
    // only buildings without a zone take the default.
    let yekt: chrono_tz::Tz = chrono_tz::Asia::Yekaterinburg;
    let sel = select_recipients(&pool, &RecipientFilter::default(), yekt)
        .await
        .unwrap();
    let zone = |account: &str| {
        sel.iter()
            .find(|s| s.account == account)
            .map(|s| s.recipient.tz)
            .unwrap_or_else(|| panic!("{account}"))
    };
    assert_eq!(zone("L-1"), MSK);
    assert_eq!(zone("V-1"), chrono_tz::Asia::Vladivostok);
    assert_eq!(zone("N-2"), yekt, "no zone: the company default");
    assert_eq!(
        sel.iter()
            .find(|s| s.account == "V-1")
            .unwrap()
            .recipient
            .account
            .as_deref(),
        Some("V-1")
    );

    // 2026-12-01 (a Tuesday) 23:30 UTC: 02:30 in Moscow, 09:30 in Vladivostok.
    use chrono::TimeZone;
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 12, 1, 23, 30, 0)
        .unwrap();
    let policy = zvonar_outbound::policy::Policy::legal_default(true);
    let schedule = zvonar_outbound::policy::Schedule {
        start: now,
        end: now + chrono::Duration::days(2),
    };
    let cal = zvonar_outbound::calendar::Calendar::default();
    let next = |account: &str| {
        let s = sel.iter().find(|s| s.account == account).unwrap();
        zvonar_outbound::policy::next_allowed(
            now,
            s.recipient.tz,
            &policy,
            &cal,
            &s.recipient.facts,
            &schedule,
            &[],
        )
        .unwrap()
    };
    assert_eq!(next("V-1"), now, "Vladivostok: 09:30, callable");
    assert_eq!(
        next("L-1"),
        chrono::Utc.with_ymd_and_hms(2026, 12, 2, 5, 0, 0).unwrap(),
        "Moscow: deferred to 08:00 local"
    );
}
