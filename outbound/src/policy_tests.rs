//! Table tests of call windows, frequency limits and settings (fake clock: instants passed in).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::calendar::Calendar;
use crate::policy::*;

const MSK: Tz = chrono_tz::Europe::Moscow;
const YEK: Tz = chrono_tz::Asia::Yekaterinburg;

/// Local wall-clock time in `tz` as an instant.
fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn ok_phone() -> PhoneFacts {
    PhoneFacts {
        consent: true,
        opted_out: false,
        blacklisted: false,
    }
}

fn open_schedule() -> Schedule {
    Schedule {
        start: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
        end: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
    }
}

fn next(now: DateTime<Utc>, tz: Tz, p: &Policy, conv: &[DateTime<Utc>]) -> DateTime<Utc> {
    next_allowed(
        now,
        tz,
        p,
        &Calendar::default(),
        &ok_phone(),
        &open_schedule(),
        conv,
    )
    .unwrap()
}

/// (now local, expected local) in Moscow, the legal default, no history.
#[test]
fn windows_around_boundaries() {
    let p = Policy::legal_default(false);
    type Row = (
        (i32, u32, u32, u32, u32),
        (i32, u32, u32, u32, u32),
        &'static str,
    );
    let rows: &[Row] = &[
        // Monday 30 Nov 2026, a working day.
        (
            (2026, 11, 30, 7, 59),
            (2026, 11, 30, 8, 0),
            "7:59 waits for 8:00",
        ),
        ((2026, 11, 30, 8, 0), (2026, 11, 30, 8, 0), "8:00 allowed"),
        (
            (2026, 11, 30, 21, 59),
            (2026, 11, 30, 21, 59),
            "21:59 allowed",
        ),
        (
            (2026, 11, 30, 22, 0),
            (2026, 12, 1, 8, 0),
            "22:00 → next working day 8:00",
        ),
        ((2026, 11, 30, 0, 0), (2026, 11, 30, 8, 0), "midnight"),
        // Friday 27 Nov 22:00 → Saturday 9:00.
        (
            (2026, 11, 27, 22, 0),
            (2026, 11, 28, 9, 0),
            "Friday night → Saturday 9:00",
        ),
        // Saturday 28 Nov 2026.
        (
            (2026, 11, 28, 8, 0),
            (2026, 11, 28, 9, 0),
            "Saturday 8:00 waits for 9:00",
        ),
        ((2026, 11, 28, 8, 59), (2026, 11, 28, 9, 0), "Saturday 8:59"),
        (
            (2026, 11, 28, 9, 0),
            (2026, 11, 28, 9, 0),
            "Saturday 9:00 allowed",
        ),
        (
            (2026, 11, 28, 19, 59),
            (2026, 11, 28, 19, 59),
            "Saturday 19:59 allowed",
        ),
        (
            (2026, 11, 28, 20, 0),
            (2026, 11, 29, 9, 0),
            "Saturday 20:00 → Sunday 9:00",
        ),
        (
            (2026, 11, 29, 20, 0),
            (2026, 11, 30, 8, 0),
            "Sunday 20:00 → Monday 8:00",
        ),
        // Friday 9 Jan 2026: a day off by transfer (ПП № 1466).
        (
            (2026, 1, 9, 8, 0),
            (2026, 1, 9, 9, 0),
            "transfer day off 8:00 waits for 9:00",
        ),
        (
            (2026, 1, 9, 20, 30),
            (2026, 1, 10, 9, 0),
            "transfer day off 20:30 → Saturday 9:00",
        ),
        (
            (2026, 1, 11, 21, 0),
            (2026, 1, 12, 8, 0),
            "last holiday → Monday 8:00",
        ),
        // Monday 9 Mar 2026: 8 March on Sunday moved (ст. 112 ч. 2).
        ((2026, 3, 9, 8, 30), (2026, 3, 9, 9, 0), "moved holiday"),
        // Thursday 31 Dec 2026 (day off by transfer) → 1 Jan 2027 holiday.
        ((2026, 12, 31, 20, 0), (2027, 1, 1, 9, 0), "New Year's Eve"),
        // Saturday 20 Feb 2027: a working Saturday (ПП № 1187).
        (
            (2027, 2, 20, 8, 0),
            (2027, 2, 20, 8, 0),
            "working Saturday 8:00 allowed",
        ),
        (
            (2027, 2, 20, 21, 0),
            (2027, 2, 20, 21, 0),
            "working Saturday 21:00 allowed",
        ),
        (
            (2027, 2, 20, 22, 0),
            (2027, 2, 21, 9, 0),
            "working Saturday 22:00 → Sunday 9:00",
        ),
        // 2028 is not in the table: ст. 112 + weekends (4 Nov Saturday → Monday 6 Nov off).
        (
            (2028, 11, 6, 8, 0),
            (2028, 11, 6, 9, 0),
            "unknown year, moved holiday",
        ),
        (
            (2028, 11, 7, 8, 0),
            (2028, 11, 7, 8, 0),
            "unknown year, working day",
        ),
    ];
    for &(n, e, what) in rows {
        let now = at(MSK, n.0, n.1, n.2, n.3, n.4);
        let want = at(MSK, e.0, e.1, e.2, e.3, e.4);
        assert_eq!(
            next(now, MSK, &p, &[]),
            want,
            "{what}: now {n:?}, want {e:?}"
        );
    }
}

/// The same instant, two zones: 03:00 UTC on Monday is 08:00 in Yekaterinburg (UTC+5,
/// allowed) and 06:00 in Moscow (waits for 08:00 MSK = 05:00 UTC).
#[test]
fn windows_in_the_recipients_time_zone() {
    let p = Policy::legal_default(false);
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 3, 0, 0).unwrap();
    assert_eq!(next(now, YEK, &p, &[]), now);
    assert_eq!(
        next(now, MSK, &p, &[]),
        Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap()
    );
    let before = Utc.with_ymd_and_hms(2026, 11, 30, 2, 59, 0).unwrap();
    assert_eq!(next(before, YEK, &p, &[]), now);
    // 17:00 UTC Monday = 22:00 Yekaterinburg (closed → Tuesday 08:00 YEK = 03:00 UTC),
    // = 20:00 Moscow (open).
    let evening = Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap();
    assert_eq!(
        next(evening, YEK, &p, &[]),
        Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0).unwrap()
    );
    assert_eq!(next(evening, MSK, &p, &[]), evening);
}

#[test]
fn debt_limits_day_week_month() {
    let p = Policy::legal_default(true);
    // One conversation Monday 10:00 → nothing more on Monday; Tuesday 8:00.
    let mon = [at(MSK, 2026, 11, 30, 10, 0)];
    assert_eq!(
        next(at(MSK, 2026, 11, 30, 12, 0), MSK, &p, &mon),
        at(MSK, 2026, 12, 1, 8, 0)
    );
    let (t, why) = next_allowed_why(
        at(MSK, 2026, 11, 30, 12, 0),
        MSK,
        &p,
        &Calendar::default(),
        &ok_phone(),
        &open_schedule(),
        &mon,
    )
    .unwrap();
    assert_eq!((t, why), (at(MSK, 2026, 12, 1, 8, 0), Some(Wait::DayLimit)));
    // Not a debt campaign: no limits.
    let info = Policy::legal_default(false);
    let noon = at(MSK, 2026, 11, 30, 12, 0);
    assert_eq!(next(noon, MSK, &info, &mon), noon);
    // Monday and Tuesday → the week is used → next Monday 8:00.
    let two = [at(MSK, 2026, 11, 30, 10, 0), at(MSK, 2026, 12, 1, 10, 0)];
    assert_eq!(
        next(at(MSK, 2026, 12, 2, 10, 0), MSK, &p, &two),
        at(MSK, 2026, 12, 7, 8, 0)
    );
    // Saturday and Sunday (week of 23–29 Nov) → Monday 30 Nov is a new week: allowed 8:00.
    let weekend = [at(MSK, 2026, 11, 28, 10, 0), at(MSK, 2026, 11, 29, 10, 0)];
    assert_eq!(
        next(at(MSK, 2026, 11, 29, 21, 0), MSK, &p, &weekend),
        at(MSK, 2026, 11, 30, 8, 0)
    );
    // Eight in December (two a week) → nothing until 1 January's window (a holiday: 9:00).
    let dec: Vec<_> = [1, 2, 8, 9, 15, 16, 22, 23]
        .iter()
        .map(|&d| at(MSK, 2026, 12, d, 10, 0))
        .collect();
    assert_eq!(
        next(at(MSK, 2026, 12, 28, 10, 0), MSK, &p, &dec),
        at(MSK, 2027, 1, 1, 9, 0)
    );
    // Seven in December: 28 Dec (a new week) is allowed.
    assert_eq!(
        next(at(MSK, 2026, 12, 28, 10, 0), MSK, &p, &dec[..7]),
        at(MSK, 2026, 12, 28, 10, 0)
    );
    // A week across a month boundary: Mon 30 Nov + Tue 1 Dec are one week.
    assert_eq!(
        next(at(MSK, 2026, 12, 3, 10, 0), MSK, &p, &two),
        at(MSK, 2026, 12, 7, 8, 0)
    );
}

/// The day is the recipient's local day: a conversation at 21:30 Yekaterinburg on Monday
/// (16:30 UTC) does not block Tuesday 08:00 Yekaterinburg (03:00 UTC), while 02:00 UTC
/// Tuesday is already Tuesday there.
#[test]
fn debt_day_is_the_local_day() {
    let p = Policy::legal_default(true);
    let conv = [at(YEK, 2026, 11, 30, 21, 30)];
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 20, 0, 0).unwrap();
    assert_eq!(next(now, YEK, &p, &conv), at(YEK, 2026, 12, 1, 8, 0));
    // A conversation at 07:30 Moscow time on Tuesday is 09:30 Tuesday in Yekaterinburg.
    let conv2 = [at(YEK, 2026, 12, 1, 9, 30)];
    assert_eq!(
        next(at(YEK, 2026, 12, 1, 12, 0), YEK, &p, &conv2),
        at(YEK, 2026, 12, 2, 8, 0)
    );
}

#[test]
fn tightened_limits_and_windows_apply() {
    let s = PolicySettings {
        working_from: Some("09:30".into()),
        working_until: Some("21:00".into()),
        per_month: Some(4),
        ..Default::default()
    };
    let p = Policy::from_settings(&s, true).unwrap();
    assert_eq!(
        next(at(MSK, 2026, 11, 30, 9, 0), MSK, &p, &[]),
        at(MSK, 2026, 11, 30, 9, 30)
    );
    assert_eq!(
        next(at(MSK, 2026, 11, 30, 21, 0), MSK, &p, &[]),
        at(MSK, 2026, 12, 1, 9, 30)
    );
    let four: Vec<_> = [2, 3, 9, 10]
        .iter()
        .map(|&d| at(MSK, 2026, 11, d, 10, 0))
        .collect();
    assert_eq!(
        next(at(MSK, 2026, 11, 16, 10, 0), MSK, &p, &four),
        at(MSK, 2026, 12, 1, 9, 30)
    );
}

#[test]
fn settings_may_only_tighten() {
    let cases: &[(PolicySettings, &str)] = &[
        (
            PolicySettings {
                working_from: Some("07:30".into()),
                ..Default::default()
            },
            "working_from: 07:30 выходит за пределы",
        ),
        (
            PolicySettings {
                working_until: Some("22:30".into()),
                ..Default::default()
            },
            "working_until: 22:30",
        ),
        (
            PolicySettings {
                day_off_from: Some("08:00".into()),
                ..Default::default()
            },
            "day_off_from: 08:00",
        ),
        (
            PolicySettings {
                day_off_until: Some("21:00".into()),
                ..Default::default()
            },
            "(09:00–20:00",
        ),
        (
            PolicySettings {
                working_from: Some("8".into()),
                ..Default::default()
            },
            "working_from: «8» — не время",
        ),
        (
            PolicySettings {
                working_from: Some("12:00".into()),
                working_until: Some("12:00".into()),
                ..Default::default()
            },
            "working: начало 12:00 не раньше конца 12:00",
        ),
        (
            PolicySettings {
                per_week: Some(3),
                ..Default::default()
            },
            "per_week: 3 — допустимо от 1 до 2",
        ),
        (
            PolicySettings {
                per_day: Some(0),
                ..Default::default()
            },
            "per_day: 0",
        ),
        (
            PolicySettings {
                per_month: Some(9),
                ..Default::default()
            },
            "per_month: 9 — допустимо от 1 до 8",
        ),
    ];
    for (s, want) in cases {
        let e = Policy::from_settings(s, true).unwrap_err().to_string();
        assert!(e.contains(want), "{s:?}: got «{e}», want «{want}»");
    }
    // Equal to the law and tighter are fine.
    let ok = PolicySettings {
        working_from: Some("08:00".into()),
        working_until: Some("22:00".into()),
        day_off_from: Some("10:00".into()),
        day_off_until: Some("18:00".into()),
        per_day: Some(1),
        per_week: Some(1),
        per_month: Some(8),
    };
    let p = Policy::from_settings(&ok, true).unwrap();
    assert_eq!(p.day_off.until.to_string(), "18:00:00");
    assert_eq!(
        Policy::from_settings(&PolicySettings::default(), false).unwrap(),
        Policy::legal_default(false)
    );
}

#[test]
fn settings_from_toml_reject_unknown_keys() {
    let s: PolicySettings = toml::from_str("working_from = \"09:00\"\nper_week = 1\n").unwrap();
    assert_eq!(s.per_week, Some(1));
    let e =
        toml::from_str::<PolicySettings>("working_from = \"09:00\"\nper_wek = 1\n").unwrap_err();
    assert!(e.to_string().contains("per_wek"), "{e}");
}

#[test]
fn phones_never_called() {
    let p = Policy::legal_default(false);
    let now = at(MSK, 2026, 11, 30, 12, 0);
    let cal = Calendar::default();
    let cases = [
        (
            PhoneFacts {
                consent: false,
                ..ok_phone()
            },
            SkipReason::NoConsent,
        ),
        (
            PhoneFacts {
                opted_out: true,
                ..ok_phone()
            },
            SkipReason::OptedOut,
        ),
        (
            PhoneFacts {
                blacklisted: true,
                ..ok_phone()
            },
            SkipReason::InvalidNumber,
        ),
    ];
    for (phone, want) in cases {
        assert_eq!(
            next_allowed(now, MSK, &p, &cal, &phone, &open_schedule(), &[]),
            Err(want)
        );
    }
}

#[test]
fn campaign_schedule_bounds() {
    let p = Policy::legal_default(false);
    let cal = Calendar::default();
    let s = Schedule {
        start: at(MSK, 2026, 12, 1, 10, 0),
        end: at(MSK, 2026, 12, 1, 21, 0),
    };
    let r = next_allowed_why(
        at(MSK, 2026, 11, 30, 12, 0),
        MSK,
        &p,
        &cal,
        &ok_phone(),
        &s,
        &[],
    );
    assert_eq!(r, Ok((at(MSK, 2026, 12, 1, 10, 0), Some(Wait::NotStarted))));
    let r = next_allowed(
        at(MSK, 2026, 12, 1, 21, 0),
        MSK,
        &p,
        &cal,
        &ok_phone(),
        &s,
        &[],
    );
    assert_eq!(r, Err(SkipReason::CampaignEnded));
    // A limit pushing past the end also ends it.
    let pd = Policy::legal_default(true);
    let r = next_allowed(
        at(MSK, 2026, 12, 1, 12, 0),
        MSK,
        &pd,
        &cal,
        &ok_phone(),
        &s,
        &[at(MSK, 2026, 12, 1, 11, 0)],
    );
    assert_eq!(r, Err(SkipReason::CampaignEnded));
}

#[test]
fn skip_reasons_have_distinct_russian_labels() {
    let all = [
        SkipReason::NoConsent,
        SkipReason::OptedOut,
        SkipReason::InvalidNumber,
        SkipReason::NoPhone,
        SkipReason::CampaignEnded,
        SkipReason::RetriesExhausted,
        SkipReason::Cancelled,
    ];
    let labels: std::collections::BTreeSet<_> = all.iter().map(|r| r.label_ru()).collect();
    assert_eq!(labels.len(), all.len());
    for l in labels {
        assert!(l.chars().any(|c| ('а'..='я').contains(&c)), "{l}");
    }
    let _ = NaiveDate::MIN;
}
