//! Working hours: when a missed call must be called back by (`[missed] working_hours`,
//! `working_days`, in the company's time zone).

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};

/// The company's working week: the same local window on each working day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkingHours {
    /// Working days, Monday first.
    days: [bool; 7],
    /// Opening time (local).
    open: NaiveTime,
    /// Closing time (local); `None` for the end of the day (`24:00`).
    close: Option<NaiveTime>,
    /// The company's time zone.
    tz: chrono_tz::Tz,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

impl WorkingHours {
    /// Every day, all day.
    pub fn always(tz: chrono_tz::Tz) -> Self {
        WorkingHours {
            days: [true; 7],
            open: NaiveTime::MIN,
            close: None,
            tz,
        }
    }

    /// Parses `window` (`"08:00-20:00"`; the end may be `24:00`; it must be after the
    /// start) and `days` (`"mon-fri"`, `"sat,sun"`, `"mon,wed-fri"`, `"mon-sun"`).
    ///
    /// Errors: a message naming what is wrong.
    pub fn parse(window: &str, days: &str, tz: chrono_tz::Tz) -> Result<Self, String> {
        let (a, b) = window
            .split_once('-')
            .ok_or_else(|| format!("working_hours «{window}»: expected HH:MM-HH:MM"))?;
        let open = parse_time(a).ok_or_else(|| format!("working_hours: bad time «{a}»"))?;
        let close = match b.trim() {
            "24:00" => None,
            t => Some(parse_time(t).ok_or_else(|| format!("working_hours: bad time «{t}»"))?),
        };
        if close.is_some_and(|c| c <= open) {
            return Err(format!(
                "working_hours «{window}»: the end must be after the start"
            ));
        }
        let mut set = [false; 7];
        for part in days.split(',') {
            let part = part.trim().to_lowercase();
            let idx = |d: &str| {
                DAY_NAMES
                    .iter()
                    .position(|n| *n == d.trim())
                    .ok_or_else(|| format!("working_days: «{d}» is not mon…sun"))
            };
            match part.split_once('-') {
                Some((x, y)) => {
                    let (x, y) = (idx(x)?, idx(y)?);
                    if y < x {
                        return Err(format!("working_days: «{part}» runs backwards"));
                    }
                    set[x..=y].iter_mut().for_each(|d| *d = true);
                }
                None => set[idx(&part)?] = true,
            }
        }
        if !set.iter().any(|d| *d) {
            return Err("working_days: no day given".into());
        }
        Ok(WorkingHours {
            days: set,
            open,
            close,
            tz,
        })
    }

    fn works_on(&self, d: Weekday) -> bool {
        self.days[d.num_days_from_monday() as usize]
    }

    /// The working interval `[open, close)` of the local day containing `t`, in UTC, if that
    /// day is a working day.
    fn day_window(&self, date: chrono::NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.works_on(date.weekday()) {
            return None;
        }
        let local = |d: chrono::NaiveDate, t: NaiveTime| {
            self.tz
                .from_local_datetime(&d.and_time(t))
                .earliest()
                .map(|x| x.with_timezone(&Utc))
        };
        let open = local(date, self.open)?;
        let close = match self.close {
            Some(c) => local(date, c)?,
            None => local(date.succ_opt()?, NaiveTime::MIN)?,
        };
        Some((open, close))
    }

    /// `at` plus `within` of working time: the clock runs only inside the working hours. A
    /// call missed at 19:55 on a Friday with 15 minutes and `08:00-20:00 mon-fri` is due at
    /// 08:10 on Monday; one missed at 03:00 is due at 08:15.
    pub fn deadline(&self, at: DateTime<Utc>, within: Duration) -> DateTime<Utc> {
        let mut left = within;
        let mut date = at.with_timezone(&self.tz).date_naive();
        // Two weeks of days is more than any week with one working day needs.
        for _ in 0..15 {
            if let Some((open, close)) = self.day_window(date) {
                let start = open.max(at);
                if start < close {
                    if start + left <= close {
                        return start + left;
                    }
                    left -= close - start;
                }
            }
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        at + within
    }

    /// Whether `at` is inside the working hours.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let date = at.with_timezone(&self.tz).date_naive();
        self.day_window(date)
            .is_some_and(|(open, close)| open <= at && at < close)
    }
}
