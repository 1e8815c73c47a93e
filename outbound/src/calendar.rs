//! The Russian production calendar: which dates are working days and which are days off
//! (weekends and non-working public holidays).
//!
//! Rules:
//! - ТК РФ ст. 112 ч. 1: non-working public holidays 1–8 January, 23 February, 8 March,
//!   1 and 9 May, 12 June, 4 November.
//! - ТК РФ ст. 112 ч. 2: a weekend day that coincides with one of these holidays moves to the
//!   next working day, except for the January holidays (1–8 January), which the Government
//!   moves by its annual decree.
//! - The Government's annual decree (постановление «О переносе выходных дней в … году»):
//!   extra days off and working Saturdays/Sundays, from `data/ru-transfers.toml` with the
//!   decree's name per year. Years covered: 2026 (ПП № 1466 от 24.09.2025) and 2027
//!   (ПП № 1187 от 17.09.2026).
//!
//! A year with no decree in the table falls back to ст. 112 + weekends (January holidays on
//! a weekend are then not moved anywhere); [`Calendar::year_known`] says so, so that a
//! campaign page can warn «производственный календарь на {year} год не загружен».

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

/// The transfer table shipped with the crate (see the file for its sources).
pub const TRANSFERS_TOML: &str = include_str!("../data/ru-transfers.toml");

/// Fixed non-working holidays, ТК РФ ст. 112 ч. 1, as (month, day).
pub const ART_112_HOLIDAYS: [(u32, u32); 14] = [
    (1, 1),
    (1, 2),
    (1, 3),
    (1, 4),
    (1, 5),
    (1, 6),
    (1, 7),
    (1, 8),
    (2, 23),
    (3, 8),
    (5, 1),
    (5, 9),
    (6, 12),
    (11, 4),
];

/// Whether a date is a working day or a day off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DayKind {
    /// A working day (including a Saturday/Sunday made working by a decree).
    Working,
    /// A weekend or a non-working holiday (or a day off by transfer).
    DayOff,
}

/// One year of the Government's transfers.
#[derive(Clone, Debug, Deserialize)]
pub struct YearTransfers {
    /// Calendar year.
    pub year: i32,
    /// The decree, as cited.
    pub source: String,
    /// Extra days off (a weekend holiday moved here).
    pub days_off: Vec<NaiveDate>,
    /// Saturdays/Sundays that are working days.
    pub working_days: Vec<NaiveDate>,
}

#[derive(Deserialize)]
struct File {
    year: Vec<YearTransfers>,
}

/// Error in a transfer table.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// Not valid TOML of the expected shape.
    #[error("таблица переносов выходных: {0}")]
    Parse(#[from] toml::de::Error),
    /// A date listed under another year.
    #[error("таблица переносов выходных: дата {date} указана в {year} году")]
    WrongYear {
        /// The year section.
        year: i32,
        /// The date.
        date: NaiveDate,
    },
}

/// The production calendar: ст. 112 + weekends + per-year transfers.
#[derive(Clone, Debug)]
pub struct Calendar {
    years: BTreeMap<i32, YearTransfers>,
}

impl Default for Calendar {
    /// The calendar with the shipped transfer table.
    fn default() -> Self {
        #[allow(clippy::expect_used)]
        Self::from_toml(TRANSFERS_TOML).expect("the shipped transfer table parses (tested)")
    }
}

impl Calendar {
    /// A calendar from a transfer table in the format of `data/ru-transfers.toml`.
    pub fn from_toml(text: &str) -> Result<Self, CalendarError> {
        let file: File = toml::from_str(text)?;
        let mut years = BTreeMap::new();
        for y in file.year {
            for &d in y.days_off.iter().chain(&y.working_days) {
                if d.year() != y.year {
                    return Err(CalendarError::WrongYear {
                        year: y.year,
                        date: d,
                    });
                }
            }
            years.insert(y.year, y);
        }
        Ok(Self { years })
    }

    /// Whether the Government's decree for `year` is in the table. When false, the year is
    /// computed from ст. 112 + weekends only.
    pub fn year_known(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// The decree the year's transfers come from, if known.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.years.get(&year).map(|y| y.source.as_str())
    }

    /// Whether `date` is a working day or a day off.
    pub fn day_kind(&self, date: NaiveDate) -> DayKind {
        if self.days_off(date.year()).contains(&date) {
            DayKind::DayOff
        } else if let Some(y) = self.years.get(&date.year()) {
            if y.working_days.contains(&date) {
                DayKind::Working
            } else {
                plain(date)
            }
        } else {
            plain(date)
        }
    }

    /// Days off of `year` that are not plain weekends: holidays on weekdays, ст. 112 ч. 2
    /// moves, and the decree's days off.
    fn days_off(&self, year: i32) -> BTreeSet<NaiveDate> {
        let mut set: BTreeSet<NaiveDate> = ART_112_HOLIDAYS
            .iter()
            .filter_map(|&(m, d)| NaiveDate::from_ymd_opt(year, m, d))
            .collect();
        let extra = self.years.get(&year);
        let working: &[NaiveDate] = extra.map(|y| y.working_days.as_slice()).unwrap_or(&[]);
        if let Some(y) = extra {
            set.extend(y.days_off.iter().copied());
        }
        // ст. 112 ч. 2: non-January holidays on a weekend move to the next working day.
        let is_off = |d: NaiveDate, set: &BTreeSet<NaiveDate>| {
            !working.contains(&d) && (is_weekend(d) || set.contains(&d))
        };
        for &(m, d) in &ART_112_HOLIDAYS[8..] {
            let Some(h) = NaiveDate::from_ymd_opt(year, m, d) else {
                continue;
            };
            if !is_weekend(h) || working.contains(&h) {
                continue;
            }
            let mut next = h;
            while let Some(n) = next.succ_opt() {
                next = n;
                if !is_off(next, &set) {
                    set.insert(next);
                    break;
                }
            }
        }
        set
    }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn plain(d: NaiveDate) -> DayKind {
    if is_weekend(d) {
        DayKind::DayOff
    } else {
        DayKind::Working
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn shipped_table_parses_and_names_its_decrees() {
        let c = Calendar::default();
        assert!(c.year_known(2026));
        assert!(c.year_known(2027));
        assert!(!c.year_known(2028));
        assert!(c.source(2026).unwrap().contains("№ 1466"));
        assert!(c.source(2027).unwrap().contains("№ 1187"));
    }

    /// 2026 per ПП № 1466: 31.12.2025–11.01.2026 off, 21–23 Feb, 7–9 Mar, 1–3 and 9–11 May,
    /// 12–14 Jun, 4 Nov, 31 Dec.
    #[test]
    fn year_2026_matches_the_decree() {
        let c = Calendar::default();
        let off = [
            d(2026, 1, 1),
            d(2026, 1, 8),
            d(2026, 1, 9),
            d(2026, 1, 11),
            d(2026, 2, 23),
            d(2026, 3, 9),
            d(2026, 5, 1),
            d(2026, 5, 11),
            d(2026, 6, 12),
            d(2026, 11, 4),
            d(2026, 12, 31),
            d(2026, 11, 28),
        ];
        for day in off {
            assert_eq!(c.day_kind(day), DayKind::DayOff, "{day}");
        }
        let working = [
            d(2026, 1, 12),
            d(2026, 2, 24),
            d(2026, 3, 10),
            d(2026, 5, 4),
            d(2026, 5, 12),
            d(2026, 6, 15),
            d(2026, 11, 5),
            d(2026, 12, 30),
            d(2026, 11, 30),
        ];
        for day in working {
            assert_eq!(c.day_kind(day), DayKind::Working, "{day}");
        }
        // Every day off of 2026 that is not a weekend: exactly the published list.
        let weekday_off: Vec<NaiveDate> = d(2026, 1, 1)
            .iter_days()
            .take_while(|x| x.year() == 2026)
            .filter(|&x| !is_weekend(x) && c.day_kind(x) == DayKind::DayOff)
            .collect();
        assert_eq!(
            weekday_off,
            vec![
                d(2026, 1, 1),
                d(2026, 1, 2),
                d(2026, 1, 5),
                d(2026, 1, 6),
                d(2026, 1, 7),
                d(2026, 1, 8),
                d(2026, 1, 9),
                d(2026, 2, 23),
                d(2026, 3, 9),
                d(2026, 5, 1),
                d(2026, 5, 11),
                d(2026, 6, 12),
                d(2026, 11, 4),
                d(2026, 12, 31),
            ]
        );
    }

    #[test]
    fn year_2027_working_saturday_and_moves() {
        let c = Calendar::default();
        assert_eq!(c.day_kind(d(2027, 2, 20)), DayKind::Working); // Saturday, by decree
        assert_eq!(c.day_kind(d(2027, 2, 22)), DayKind::DayOff);
        assert_eq!(c.day_kind(d(2027, 5, 3)), DayKind::DayOff); // 1 May on Saturday
        assert_eq!(c.day_kind(d(2027, 5, 10)), DayKind::DayOff); // 9 May on Sunday
        assert_eq!(c.day_kind(d(2027, 6, 14)), DayKind::DayOff); // 12 June on Saturday
        assert_eq!(c.day_kind(d(2027, 11, 5)), DayKind::DayOff);
        assert_eq!(c.day_kind(d(2027, 12, 31)), DayKind::DayOff);
        assert_eq!(c.day_kind(d(2027, 1, 11)), DayKind::Working);
    }

    /// An unknown year: ст. 112 + weekends; a non-January holiday on a weekend still moves
    /// (that is the Code, not the decree), January ones do not.
    #[test]
    fn unknown_year_falls_back_to_article_112() {
        let c = Calendar::default();
        assert!(!c.year_known(2028));
        // 2028: 4 November is a Saturday → Monday 6 November off.
        assert_eq!(c.day_kind(d(2028, 11, 6)), DayKind::DayOff);
        // 1 January 2028 is a Saturday; without a decree no extra day in January.
        assert_eq!(c.day_kind(d(2028, 1, 10)), DayKind::Working);
        assert_eq!(c.day_kind(d(2028, 1, 7)), DayKind::DayOff);
        assert_eq!(c.day_kind(d(2028, 3, 8)), DayKind::DayOff);
    }

    #[test]
    fn a_date_in_the_wrong_year_is_an_error() {
        let bad = "[[year]]\nyear = 2030\nsource = \"x\"\ndays_off = [\"2031-01-09\"]\nworking_days = []\n";
        let e = Calendar::from_toml(bad).unwrap_err();
        assert!(e.to_string().contains("2031-01-09"), "{e}");
    }
}
