//! When a recipient may be called: legal call windows, frequency limits for debt campaigns,
//! consent and blacklists, and the settings an admin may only tighten.
//!
//! Legal defaults (used as the industry default for every resident call):
//! - 230-ФЗ ст. 7 ч. 3 п. 1: no calls on working days from 22:00 to 8:00 and on weekends and
//!   non-working holidays from 20:00 to 9:00, local time of the person. So a call may
//!   **start** in [8:00, 22:00) on a working day and in [9:00, 20:00) on a day off
//!   ([`crate::calendar`] says which day is which).
//! - 230-ФЗ ст. 7 ч. 3 п. 2 (debt campaigns): at most one conversation a day, two a week,
//!   eight a month per person. Periods are calendar ones in the person's time zone: the
//!   day, the week Monday–Sunday, the month; only answered calls (conversations) count.
//! - 41-ФЗ (ред. 2025, in force since 2025-09-01): automated calls only to a phone whose
//!   owner consented; an opt-out (key 9, an operator) is final.
//! - A number found invalid (SIP 404/484/604) is blacklisted and never called.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, DayKind};

/// A time window within a day, local time: a call may start at `from` ≤ t < `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First minute a call may start.
    pub from: NaiveTime,
    /// The first minute a call may no longer start.
    pub until: NaiveTime,
}

impl Window {
    fn hm(fh: u32, uh: u32) -> Self {
        Self {
            from: NaiveTime::from_hms_opt(fh, 0, 0).unwrap_or_default(),
            until: NaiveTime::from_hms_opt(uh, 0, 0).unwrap_or_default(),
        }
    }
}

/// Frequency limits on conversations per person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Per calendar day.
    pub per_day: u32,
    /// Per calendar week (Monday–Sunday).
    pub per_week: u32,
    /// Per calendar month.
    pub per_month: u32,
}

/// The effective rules of a campaign, built by [`Policy::legal_default`] or
/// [`Policy::from_settings`] (never tighter-than-law settings bypass validation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Window on working days.
    pub working: Window,
    /// Window on weekends and non-working holidays.
    pub day_off: Window,
    /// Conversation limits; applied to debt campaigns only.
    pub debt_limits: Limits,
    /// Whether the campaign is about debt (230-ФЗ applies the frequency limits).
    pub debt: bool,
}

/// The legal default window on working days: 8:00–22:00 (230-ФЗ ст. 7 ч. 3 п. 1).
pub fn legal_working() -> Window {
    Window::hm(8, 22)
}
/// The legal default window on days off: 9:00–20:00 (230-ФЗ ст. 7 ч. 3 п. 1).
pub fn legal_day_off() -> Window {
    Window::hm(9, 20)
}
/// The legal limits for debt: 1 a day, 2 a week, 8 a month (230-ФЗ ст. 7 ч. 3 п. 2).
pub const LEGAL_DEBT_LIMITS: Limits = Limits {
    per_day: 1,
    per_week: 2,
    per_month: 8,
};

/// What an admin configures (all optional: absent = the legal default). Times as "HH:MM".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Working days: start, "HH:MM".
    pub working_from: Option<String>,
    /// Working days: no call starts at or after, "HH:MM".
    pub working_until: Option<String>,
    /// Days off: start, "HH:MM".
    pub day_off_from: Option<String>,
    /// Days off: no call starts at or after, "HH:MM".
    pub day_off_until: Option<String>,
    /// Debt: conversations per day.
    pub per_day: Option<u32>,
    /// Debt: conversations per week.
    pub per_week: Option<u32>,
    /// Debt: conversations per month.
    pub per_month: Option<u32>,
}

/// An admin setting that would loosen the law, or is malformed. Shown to the admin.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not a time "HH:MM".
    #[error("{field}: «{value}» — не время ЧЧ:ММ")]
    BadTime {
        /// Setting name.
        field: &'static str,
        /// What was given.
        value: String,
    },
    /// The window starts before or ends after the legal one.
    #[error("{field}: {value} выходит за пределы, разрешённые законом ({legal}; 230-ФЗ ст. 7 ч. 3) — настройка может только сузить окно")]
    WiderThanLaw {
        /// Setting name.
        field: &'static str,
        /// What was given.
        value: String,
        /// The legal window.
        legal: String,
    },
    /// Start not before end.
    #[error("{field}: начало {from} не раньше конца {until}")]
    EmptyWindow {
        /// Which window.
        field: &'static str,
        /// Start.
        from: String,
        /// End.
        until: String,
    },
    /// A limit above the legal one (or zero, which would call nobody).
    #[error("{field}: {value} — допустимо от 1 до {legal} (230-ФЗ ст. 7 ч. 3 п. 2)")]
    LimitOutOfRange {
        /// Setting name.
        field: &'static str,
        /// What was given.
        value: u32,
        /// The legal maximum.
        legal: u32,
    },
}

fn parse_time(field: &'static str, v: &str) -> Result<NaiveTime, PolicyError> {
    NaiveTime::parse_from_str(v.trim(), "%H:%M").map_err(|_| PolicyError::BadTime {
        field,
        value: v.to_string(),
    })
}

fn tighten_window(
    name: &'static str,
    legal: Window,
    from: Option<&String>,
    until: Option<&String>,
    from_field: &'static str,
    until_field: &'static str,
) -> Result<Window, PolicyError> {
    let legal_s = format!(
        "{}–{}",
        legal.from.format("%H:%M"),
        legal.until.format("%H:%M")
    );
    let f = match from {
        Some(v) => parse_time(from_field, v)?,
        None => legal.from,
    };
    let u = match until {
        Some(v) => parse_time(until_field, v)?,
        None => legal.until,
    };
    if f < legal.from {
        return Err(PolicyError::WiderThanLaw {
            field: from_field,
            value: f.format("%H:%M").to_string(),
            legal: legal_s,
        });
    }
    if u > legal.until {
        return Err(PolicyError::WiderThanLaw {
            field: until_field,
            value: u.format("%H:%M").to_string(),
            legal: legal_s,
        });
    }
    if f >= u {
        return Err(PolicyError::EmptyWindow {
            field: name,
            from: f.format("%H:%M").to_string(),
            until: u.format("%H:%M").to_string(),
        });
    }
    Ok(Window { from: f, until: u })
}

fn tighten_limit(field: &'static str, v: Option<u32>, legal: u32) -> Result<u32, PolicyError> {
    match v {
        None => Ok(legal),
        Some(x) if (1..=legal).contains(&x) => Ok(x),
        Some(x) => Err(PolicyError::LimitOutOfRange {
            field,
            value: x,
            legal,
        }),
    }
}

impl Policy {
    /// The legal defaults; `debt` turns on the frequency limits.
    pub fn legal_default(debt: bool) -> Self {
        Self {
            working: legal_working(),
            day_off: legal_day_off(),
            debt_limits: LEGAL_DEBT_LIMITS,
            debt,
        }
    }

    /// The policy from admin settings, each only as tight as or tighter than the law.
    ///
    /// Errors: [`PolicyError`] naming the first offending setting.
    pub fn from_settings(s: &PolicySettings, debt: bool) -> Result<Self, PolicyError> {
        let working = tighten_window(
            "working",
            legal_working(),
            s.working_from.as_ref(),
            s.working_until.as_ref(),
            "working_from",
            "working_until",
        )?;
        let day_off = tighten_window(
            "day_off",
            legal_day_off(),
            s.day_off_from.as_ref(),
            s.day_off_until.as_ref(),
            "day_off_from",
            "day_off_until",
        )?;
        let debt_limits = Limits {
            per_day: tighten_limit("per_day", s.per_day, LEGAL_DEBT_LIMITS.per_day)?,
            per_week: tighten_limit("per_week", s.per_week, LEGAL_DEBT_LIMITS.per_week)?,
            per_month: tighten_limit("per_month", s.per_month, LEGAL_DEBT_LIMITS.per_month)?,
        };
        Ok(Self {
            working,
            day_off,
            debt_limits,
            debt,
        })
    }
}

/// Why a recipient is not called at all. Shown to users ([`SkipReason::label_ru`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// No consent to automated calls on record (41-ФЗ).
    NoConsent,
    /// The person opted out (key 9 or by an operator).
    OptedOut,
    /// The number is on the blacklist of invalid numbers.
    InvalidNumber,
    /// No phone number for the recipient.
    NoPhone,
    /// No allowed time before the campaign ends.
    CampaignEnded,
    /// Busy / no answer retries used up.
    RetriesExhausted,
    /// The campaign was cancelled before the recipient was called.
    Cancelled,
}

impl SkipReason {
    /// The reason in Russian, as shown in the campaign's progress.
    pub fn label_ru(&self) -> &'static str {
        match self {
            SkipReason::NoConsent => "нет согласия на автоматические звонки (41-ФЗ)",
            SkipReason::OptedOut => "абонент отказался от звонков",
            SkipReason::InvalidNumber => "номер в чёрном списке (недействующий)",
            SkipReason::NoPhone => "нет номера телефона",
            SkipReason::CampaignEnded => {
                "не осталось разрешённого времени до конца кампании (окна звонков, лимиты 230-ФЗ)"
            }
            SkipReason::RetriesExhausted => "исчерпаны повторные попытки",
            SkipReason::Cancelled => "кампания отменена",
        }
    }
}

/// What is known about the phone being called.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneFacts {
    /// The owner consented to automated calls.
    pub consent: bool,
    /// Opted out (key 9, an operator, a written request).
    pub opted_out: bool,
    /// On the blacklist of invalid numbers.
    pub blacklisted: bool,
}

/// Why a call may not happen right now (the sooner constraint first), for display and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// Outside the call window.
    Window,
    /// The day's conversation limit is used.
    DayLimit,
    /// The week's limit is used.
    WeekLimit,
    /// The month's limit is used.
    MonthLimit,
    /// Before the campaign's start.
    NotStarted,
}

impl Wait {
    /// The reason in Russian, as the campaign's progress shows a deferred recipient.
    pub fn label_ru(&self) -> &'static str {
        match self {
            Wait::Window => "вне разрешённого времени звонков (230-ФЗ ст. 7 ч. 3 п. 1)",
            Wait::DayLimit => {
                "исчерпан лимит разговоров по долгу на сегодня (в этой или другой кампании; \
                 230-ФЗ ст. 7 ч. 3 п. 2)"
            }
            Wait::WeekLimit => {
                "исчерпан лимит разговоров по долгу на эту неделю (во всех кампаниях; 230-ФЗ ст. 7 ч. 3 п. 2)"
            }
            Wait::MonthLimit => {
                "исчерпан лимит разговоров по долгу на этот месяц (во всех кампаниях; 230-ФЗ ст. 7 ч. 3 п. 2)"
            }
            Wait::NotStarted => "кампания ещё не началась",
        }
    }
}

/// The campaign's schedule, UTC instants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// No call before.
    pub start: DateTime<Utc>,
    /// No call at or after.
    pub end: DateTime<Utc>,
}

/// The earliest instant ≥ `now` at which a call to this person may start, or why never.
///
/// - `tz`: the person's (the building's) IANA time zone; windows and calendar periods are in it.
/// - `conversations`: instants of past answered calls to this person, from all campaigns
///   (counted only when `policy.debt`).
///
/// Errors: [`SkipReason`] for blacklisted/opted-out/no-consent phones, and
/// [`SkipReason::CampaignEnded`] when nothing is allowed before `schedule.end`.
pub fn next_allowed(
    now: DateTime<Utc>,
    tz: Tz,
    policy: &Policy,
    calendar: &Calendar,
    phone: &PhoneFacts,
    schedule: &Schedule,
    conversations: &[DateTime<Utc>],
) -> Result<DateTime<Utc>, SkipReason> {
    next_allowed_why(now, tz, policy, calendar, phone, schedule, conversations).map(|(t, _)| t)
}

/// [`next_allowed`], also saying what made it wait (`None`: allowed at `now`).
pub fn next_allowed_why(
    now: DateTime<Utc>,
    tz: Tz,
    policy: &Policy,
    calendar: &Calendar,
    phone: &PhoneFacts,
    schedule: &Schedule,
    conversations: &[DateTime<Utc>],
) -> Result<(DateTime<Utc>, Option<Wait>), SkipReason> {
    if phone.blacklisted {
        return Err(SkipReason::InvalidNumber);
    }
    if phone.opted_out {
        return Err(SkipReason::OptedOut);
    }
    if !phone.consent {
        return Err(SkipReason::NoConsent);
    }
    let mut t = now;
    let mut why = None;
    if t < schedule.start {
        t = schedule.start;
        why = Some(Wait::NotStarted);
    }
    let local_dates: Vec<NaiveDate> = conversations
        .iter()
        .map(|c| c.with_timezone(&tz).date_naive())
        .collect();
    // Each step moves t forward to a day boundary or into a window; 800 steps cover two
    // years, far beyond any campaign.
    for _ in 0..800 {
        if t >= schedule.end {
            return Err(SkipReason::CampaignEnded);
        }
        let local = t.with_timezone(&tz);
        let date = local.date_naive();
        if policy.debt {
            let l = &policy.debt_limits;
            let count = |same: &dyn Fn(NaiveDate) -> bool| {
                local_dates.iter().filter(|&&d| same(d)).count() as u32
            };
            let week = date.iso_week();
            if count(&|d| d.year() == date.year() && d.month() == date.month()) >= l.per_month {
                let first_next = NaiveDate::from_ymd_opt(
                    if date.month() == 12 {
                        date.year() + 1
                    } else {
                        date.year()
                    },
                    date.month() % 12 + 1,
                    1,
                )
                .unwrap_or(date);
                t = local_start(tz, first_next);
                why = why.or(Some(Wait::MonthLimit));
                continue;
            }
            if count(&|d| d.iso_week() == week) >= l.per_week {
                let monday =
                    date + Duration::days(7 - i64::from(date.weekday().num_days_from_monday()));
                t = local_start(tz, monday);
                why = why.or(Some(Wait::WeekLimit));
                continue;
            }
            if count(&|d| d == date) >= l.per_day {
                t = local_start(tz, date + Duration::days(1));
                why = why.or(Some(Wait::DayLimit));
                continue;
            }
        }
        let w = match calendar.day_kind(date) {
            DayKind::Working => policy.working,
            DayKind::DayOff => policy.day_off,
        };
        let time = local.time();
        if time < w.from {
            t = local_instant(tz, date.and_time(w.from));
            why = why.or(Some(Wait::Window));
            continue;
        }
        if time >= w.until {
            t = local_start(tz, date + Duration::days(1));
            why = why.or(Some(Wait::Window));
            continue;
        }
        return Ok((t, why));
    }
    Err(SkipReason::CampaignEnded)
}

fn local_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    local_instant(tz, date.and_time(NaiveTime::MIN))
}

/// A local wall-clock time as an instant; in a DST gap, the first instant after it.
fn local_instant(tz: Tz, t: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = t;
    for _ in 0..180 {
        if let Some(x) = tz.from_local_datetime(&probe).earliest() {
            return x.with_timezone(&Utc);
        }
        probe += Duration::minutes(1);
    }
    Utc.from_utc_datetime(&t)
}
