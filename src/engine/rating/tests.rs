use super::*;
use chrono::TimeZone;

fn msk(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Moscow
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

#[test]
fn the_daily_run_is_due_at_the_local_time_once_a_day_and_made_up_after_a_stop() {
    let tz = chrono_tz::Europe::Moscow;
    let ten = at(10, 0);
    // Never ran, before today's time: yesterday's is due (made up now).
    let now = msk(2026, 11, 30, 9, 0);
    assert_eq!(next_run(ten, tz, None, now), msk(2026, 11, 29, 10, 0));
    // Ran yesterday at 10:00, now 9:00: today at 10:00.
    assert_eq!(
        next_run(ten, tz, Some(msk(2026, 11, 29, 10, 0)), now),
        msk(2026, 11, 30, 10, 0)
    );
    // Ran today: tomorrow, also after a restart later in the day.
    let later = msk(2026, 11, 30, 15, 0);
    assert_eq!(
        next_run(ten, tz, Some(msk(2026, 11, 30, 10, 0)), later),
        msk(2026, 12, 1, 10, 0)
    );
    // Stopped over today's time (last run yesterday): due at once, once.
    let due = next_run(ten, tz, Some(msk(2026, 11, 29, 10, 0)), later);
    assert!(due <= later);
    assert_eq!(
        next_run(ten, tz, Some(later), later),
        msk(2026, 12, 1, 10, 0)
    );
    // The time is local to the zone: 10:00 in Vladivostok is 03:00 in Moscow.
    let vlad = chrono_tz::Asia::Vladivostok;
    let due = next_run(
        ten,
        vlad,
        Some(msk(2026, 11, 30, 2, 0)),
        msk(2026, 11, 30, 2, 30),
    );
    assert_eq!(due, msk(2026, 11, 30, 3, 0));
}

fn cfg() -> RatingConfig {
    RatingConfig {
        at: at(11, 0),
        time_zone: chrono_tz::Europe::Moscow,
        intro: "Здравствуйте! Вас беспокоит управляющая компания.".into(),
        subjects: [("leak".to_string(), "о протечке".to_string())].into(),
        topic_names: [("lift".to_string(), "Лифт".to_string())].into(),
        channels: 2,
        per_minute: 10,
        ring_timeout_s: 30,
        retries: Retries {
            busy: 1,
            busy_gap_min: 30,
            no_answer: 1,
            no_answer_gap_min: 60,
        },
        window_hours: 8,
        round: RatingRound {
            no_input_ms: 7000,
            comment_max_ms: 30_000,
        },
    }
}

#[test]
fn the_request_is_named_by_its_date_and_topic_in_russian() {
    let c = cfg();
    // 25 November 23:30 in Moscow is 20:30 UTC: the local date is spoken.
    let filed = msk(2026, 11, 25, 23, 30);
    assert_eq!(
        request_phrase(filed, c.time_zone, &c.subject("leak")),
        "по заявке от двадцать пятого ноября о протечке"
    );
    assert_eq!(c.subject("lift"), "на тему «Лифт»");
    assert_eq!(c.subject("other"), "на тему «other»");
    let g = c.greeting(msk(2026, 3, 1, 12, 0), "leak");
    assert!(
        g.starts_with("Здравствуйте! Вас беспокоит управляющая компания. Мы звоним по заявке от первого марта о протечке."),
        "{g}"
    );
    assert!(g.contains("от одного до пяти"), "{g}");
}
