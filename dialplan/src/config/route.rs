//! Route matching: dialled-number patterns, time-of-day windows and days of the week.

use chrono::{Datelike, NaiveDateTime, Timelike};
use zvonar_models::PhoneNumber;

/// Which dialled numbers (request-URI user part) a route takes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NumberPattern {
    /// `*`: every number.
    Any,
    /// An exact number: an extension (`100`) or a phone number (`+74951234567`), held as
    /// digits without `+`. Russian forms of the same number match (`84951234567`).
    Exact {
        /// Digits as written, without `+`.
        digits: String,
        /// E.164 digits (without `+`) when the pattern is a Russian phone number.
        e164: Option<String>,
    },
    /// `74951*`: numbers whose digits (without `+`, or in E.164) start with these.
    Prefix(String),
}

/// Digits of a number as dialled, without a leading `+`.
fn plain(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('+').unwrap_or(s)
}

/// E.164 digits without `+`, when `s` normalises as a Russian number.
fn e164_digits(s: &str) -> Option<String> {
    PhoneNumber::parse_ru(s)
        .ok()
        .map(|p| p.as_e164().trim_start_matches('+').to_string())
}

impl NumberPattern {
    /// Parses `*`, `74951*`, `+74951234567`, `100`. `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s == "*" {
            return Some(NumberPattern::Any);
        }
        let (body, prefix) = match s.strip_suffix('*') {
            Some(b) => (b, true),
            None => (s, false),
        };
        let digits = body.strip_prefix('+').unwrap_or(body);
        if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(if prefix {
            NumberPattern::Prefix(digits.to_string())
        } else {
            NumberPattern::Exact {
                digits: digits.to_string(),
                e164: e164_digits(body),
            }
        })
    }

    /// Whether the dialled number (as the request-URI user part gives it) matches.
    pub fn matches(&self, dialled: &str) -> bool {
        let d = plain(dialled);
        match self {
            NumberPattern::Any => true,
            NumberPattern::Exact { digits, e164 } => {
                d == digits || (e164.is_some() && e164_digits(dialled).as_ref() == e164.as_ref())
            }
            NumberPattern::Prefix(p) => {
                d.starts_with(p.as_str())
                    || e164_digits(dialled).is_some_and(|e| e.starts_with(p.as_str()))
            }
        }
    }
}

/// A time-of-day window in local time, minutes since midnight: `start` inclusive, `end`
/// exclusive. When `start > end` it wraps past midnight (`20:00-08:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    /// Start, minutes since 00:00 (0–1439).
    pub start_min: u16,
    /// End, minutes since 00:00 (1–1440; `24:00` is 1440).
    pub end_min: u16,
}

fn parse_hhmm(s: &str, allow_24: bool) -> Result<u16, &'static str> {
    let (h, m) = s.trim().split_once(':').ok_or("a time has no ':'")?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err("a time is not HH:MM");
    }
    let h: u16 = h.parse().map_err(|_| "hours are not a number")?;
    let m: u16 = m.parse().map_err(|_| "minutes are not a number")?;
    if m > 59 {
        return Err("minutes above 59");
    }
    if h > 24 || (h == 24 && (m != 0 || !allow_24)) {
        return Err("hours above 23 (only the end may be 24:00)");
    }
    Ok(h * 60 + m)
}

impl TimeWindow {
    /// Parses `08:00-20:00` (or `20:00-08:00` over midnight, `00:00-24:00`).
    ///
    /// Errors: a short reason (`hours above 23…`, `start equals end`).
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let (a, b) = s.split_once('-').ok_or("no '-' between start and end")?;
        let start_min = parse_hhmm(a, false)?;
        let end_min = parse_hhmm(b, true)?;
        if start_min == end_min {
            return Err("start equals end");
        }
        Ok(TimeWindow { start_min, end_min })
    }

    /// Whether the local time of day falls in the window.
    pub fn contains(&self, t: &NaiveDateTime) -> bool {
        let m = (t.hour() * 60 + t.minute()) as u16;
        if self.start_min < self.end_min {
            self.start_min <= m && m < self.end_min
        } else {
            m >= self.start_min || m < self.end_min
        }
    }
}

/// A set of weekdays (bit 0 = Monday … bit 6 = Sunday).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Days(pub u8);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_index(s: &str) -> Option<u8> {
    let s = s.trim().to_ascii_lowercase();
    DAY_NAMES.iter().position(|d| *d == s).map(|i| i as u8)
}

impl Days {
    /// Parses `mon-fri`, `sat,sun`, `mon,wed-fri`, `fri-mon` (wrapping). `None` when malformed.
    pub fn parse(s: &str) -> Option<Self> {
        let mut bits = 0u8;
        for part in s.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day_index(a)?, day_index(b)?);
                    let mut d = a;
                    loop {
                        bits |= 1 << d;
                        if d == b {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => bits |= 1 << day_index(part)?,
            }
        }
        Some(Days(bits))
    }

    /// Whether the date's weekday is in the set.
    pub fn contains(&self, t: &NaiveDateTime) -> bool {
        self.0 & (1 << t.weekday().num_days_from_monday()) != 0
    }
}

/// One `[[route]]`: which calls go to which flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Dialled numbers it takes.
    pub number: NumberPattern,
    /// Local time-of-day window; `None` is all day.
    pub time: Option<TimeWindow>,
    /// Days of the week (of the call's local date); `None` is every day.
    pub days: Option<Days>,
    /// The flow name (a key of `[flow]`).
    pub flow: String,
    /// 1-based line in the dialplan file, for logs.
    pub line: usize,
}

impl Route {
    /// Whether a call to `dialled` at `local_time` takes this route.
    pub fn matches(&self, dialled: &str, local_time: &NaiveDateTime) -> bool {
        self.number.matches(dialled)
            && self.time.is_none_or(|w| w.contains(local_time))
            && self.days.is_none_or(|d| d.contains(local_time))
    }

    /// Whether it takes every call (so routes after it are dead).
    pub fn is_catch_all(&self) -> bool {
        self.number == NumberPattern::Any && self.time.is_none() && self.days.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32, h: u32, m: u32) -> NaiveDateTime {
        // 2024-06-03 is a Monday.
        NaiveDate::from_ymd_opt(2024, 6, day)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .unwrap()
    }

    #[test]
    fn number_patterns() {
        let p = NumberPattern::parse("+74951234567").unwrap();
        assert!(p.matches("+74951234567"));
        assert!(p.matches("74951234567"));
        assert!(p.matches("84951234567"));
        assert!(!p.matches("+74951234568"));
        let ext = NumberPattern::parse("100").unwrap();
        assert!(ext.matches("100"));
        assert!(!ext.matches("1000"));
        let pre = NumberPattern::parse("74951*").unwrap();
        assert!(pre.matches("+74951234567"));
        assert!(pre.matches("84951234567"));
        assert!(!pre.matches("+74991234567"));
        assert!(NumberPattern::parse("*").unwrap().matches("anything"));
        for bad in ["", "abc", "+", "12a", "**", "1*2", "1234567890123456"] {
            assert_eq!(NumberPattern::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn time_windows() {
        let w = TimeWindow::parse("08:00-20:00").unwrap();
        assert!(w.contains(&at(3, 8, 0)));
        assert!(w.contains(&at(3, 19, 59)));
        assert!(!w.contains(&at(3, 20, 0)));
        assert!(!w.contains(&at(3, 7, 59)));
        let night = TimeWindow::parse("20:00-08:00").unwrap();
        assert!(night.contains(&at(3, 23, 0)));
        assert!(night.contains(&at(3, 3, 0)));
        assert!(!night.contains(&at(3, 12, 0)));
        let all = TimeWindow::parse("00:00-24:00").unwrap();
        assert!(all.contains(&at(3, 23, 59)));
        assert_eq!(
            TimeWindow::parse("25:00-26:00"),
            Err("hours above 23 (only the end may be 24:00)")
        );
        assert!(TimeWindow::parse("08:00").is_err());
        assert!(TimeWindow::parse("08:60-09:00").is_err());
        assert!(TimeWindow::parse("8-9").is_err());
        assert!(TimeWindow::parse("24:00-08:00").is_err());
        assert_eq!(TimeWindow::parse("08:00-08:00"), Err("start equals end"));
        assert!(TimeWindow::parse("8:00-9:30").is_ok());
    }

    #[test]
    fn days() {
        let wd = Days::parse("mon-fri").unwrap();
        assert!(wd.contains(&at(3, 12, 0))); // Monday
        assert!(wd.contains(&at(7, 12, 0))); // Friday
        assert!(!wd.contains(&at(8, 12, 0))); // Saturday
        let we = Days::parse("Sat,Sun").unwrap();
        assert!(we.contains(&at(9, 12, 0)));
        assert!(!we.contains(&at(4, 12, 0)));
        assert_eq!(Days::parse("fri-mon"), Some(Days(0b111_0001)));
        assert_eq!(Days::parse("mon,wed-fri"), Some(Days(0b1_1101)));
        for bad in ["", "monday", "mon-", "mon,,tue", "пн-пт"] {
            assert_eq!(Days::parse(bad), None, "{bad}");
        }
    }
}
