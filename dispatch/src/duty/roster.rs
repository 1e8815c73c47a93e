//! The duty roster (график дежурств): who is on duty for a department on which days and
//! hours, in which order, and at which phone; plus the department's supervisor, called after
//! everyone on duty. Pure data and the selection rule ([`Roster::callees`]); storage is in
//! [`super::DutyStore`].

use chrono::{Datelike, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

/// Where a person on duty is rung.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DutyPhone {
    /// A SIP account registered with zvonar's registrar (`zvonar sip-account add 101`),
    /// written `account:101`: rung at its live registration.
    Account(String),
    /// A phone number in E.164 (`+79161234567`; Russian forms like `8 916 …` are accepted
    /// and normalised), dialled through the `[[trunk]]`s.
    Number(String),
    /// A SIP URI (`sip:101@10.0.0.5:5060`), rung directly (a PBX extension).
    Uri(String),
}

impl DutyPhone {
    /// Parses `account:NAME`, `sip:URI` or a phone number.
    ///
    /// Errors: a message in Russian («телефон "12ab": …»).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(a) = s.strip_prefix("account:") {
            let a = a.trim();
            if a.is_empty()
                || !a
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
            {
                return Err(format!(
                    "учётная запись SIP {a:?}: латиница, цифры, . _ - +"
                ));
            }
            return Ok(DutyPhone::Account(a.to_string()));
        }
        if s.starts_with("sip:") {
            if s.len() < 5 || s.contains(char::is_whitespace) {
                return Err(format!("адрес SIP {s:?} неверен"));
            }
            return Ok(DutyPhone::Uri(s.to_string()));
        }
        zvonar_models::PhoneNumber::parse_ru(s)
            .map(|p| DutyPhone::Number(p.as_e164().to_string()))
            .map_err(|e| format!("телефон {s:?}: {e}"))
    }
}

impl std::fmt::Display for DutyPhone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DutyPhone::Account(a) => write!(f, "account:{a}"),
            DutyPhone::Number(n) | DutyPhone::Uri(n) => f.write_str(n),
        }
    }
}

impl TryFrom<String> for DutyPhone {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        DutyPhone::parse(&s)
    }
}

impl From<DutyPhone> for String {
    fn from(p: DutyPhone) -> String {
        p.to_string()
    }
}

/// One line of a department's roster: a person on duty on some weekdays from `start` to
/// `end` (local time of the company's `time_zone`). A shift whose `end` is not after its
/// `start` crosses midnight: «пн 20:00–08:00» covers Monday 20:00–24:00 and Tuesday
/// 00:00–08:00; `start == end` is a whole day (24 hours from `start`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// Days the shift starts on, ISO numbers 1 (Monday) … 7 (Sunday).
    pub days: Vec<u8>,
    /// Start, local `HH:MM`.
    #[serde(with = "hhmm")]
    pub start: NaiveTime,
    /// End, local `HH:MM` (exclusive); at or before `start`: the next day.
    #[serde(with = "hhmm")]
    pub end: NaiveTime,
    /// Order among the people on duty at the same time: lower is called first.
    #[serde(default)]
    pub order: u32,
    /// The person (a user id of the access crate): a ticket accepted by them is assigned to
    /// them.
    pub user_id: i64,
    /// Name shown and written on the ticket as its executor.
    pub name: String,
    /// Where they are rung.
    pub phone: DutyPhone,
}

impl Shift {
    /// Whether the shift covers local time `t`.
    pub fn covers(&self, t: NaiveDateTime) -> bool {
        let day = t.weekday().number_from_monday() as u8;
        let yesterday = t.weekday().pred().number_from_monday() as u8;
        let time = t.time();
        let on = |d: u8| self.days.contains(&d);
        if self.start < self.end {
            on(day) && self.start <= time && time < self.end
        } else {
            // Crosses midnight (or a whole day when start == end).
            (on(day) && time >= self.start) || (on(yesterday) && time < self.end)
        }
    }

    /// Checks days (1–7, at least one) and the name.
    ///
    /// Errors: a message in Russian naming the field.
    pub fn check(&self) -> Result<(), String> {
        if self.days.is_empty() || self.days.iter().any(|d| !(1..=7).contains(d)) {
            return Err("days: дни недели от 1 (пн) до 7 (вс), хотя бы один".into());
        }
        if self.name.trim().is_empty() {
            return Err("name: пустое имя".into());
        }
        Ok(())
    }
}

/// `HH:MM` in JSON (seconds accepted on input).
mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let s = String::deserialize(d)?;
        s.trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("время {s:?}: нужно ЧЧ:ММ")))
    }
}

/// The person called after everyone on duty has failed to accept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supervisor {
    /// User id (access crate).
    pub user_id: i64,
    /// Name.
    pub name: String,
    /// Where they are rung.
    pub phone: DutyPhone,
}

/// A department's whole roster as stored and as the API sends and takes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// The department (a name of `[tickets] departments`).
    #[serde(default)]
    pub department: String,
    /// Shifts, any order.
    #[serde(default)]
    pub shifts: Vec<Shift>,
    /// The fallback after everyone on duty.
    #[serde(default)]
    pub supervisor: Option<Supervisor>,
}

/// Someone an escalation calls, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callee {
    /// User id.
    pub user_id: i64,
    /// Name.
    pub name: String,
    /// Where they are rung.
    pub phone: DutyPhone,
    /// The department's supervisor (called after those on duty).
    #[serde(default)]
    pub supervisor: bool,
}

impl Roster {
    /// Who to call for an emergency at local time `t`: the people whose shift covers `t`,
    /// by `order` (then as listed), each once; then the supervisor unless already listed.
    pub fn callees(&self, t: NaiveDateTime) -> Vec<Callee> {
        let mut on: Vec<&Shift> = self.shifts.iter().filter(|s| s.covers(t)).collect();
        on.sort_by_key(|s| s.order);
        let mut out: Vec<Callee> = Vec::new();
        for s in on {
            if out
                .iter()
                .any(|c| c.user_id == s.user_id && c.phone == s.phone)
            {
                continue;
            }
            out.push(Callee {
                user_id: s.user_id,
                name: s.name.clone(),
                phone: s.phone.clone(),
                supervisor: false,
            });
        }
        if let Some(sup) = &self.supervisor {
            if !out
                .iter()
                .any(|c| c.user_id == sup.user_id && c.phone == sup.phone)
            {
                out.push(Callee {
                    user_id: sup.user_id,
                    name: sup.name.clone(),
                    phone: sup.phone.clone(),
                    supervisor: true,
                });
            }
        }
        out
    }

    /// Checks every shift and the supervisor.
    ///
    /// Errors: a message in Russian naming the shift (1-based) and field.
    pub fn check(&self) -> Result<(), String> {
        if self.department.trim().is_empty() {
            return Err("department: пустое название отдела".into());
        }
        for (n, s) in self.shifts.iter().enumerate() {
            s.check().map_err(|e| format!("shifts[{}]: {e}", n + 1))?;
        }
        if let Some(s) = &self.supervisor {
            if s.name.trim().is_empty() {
                return Err("supervisor.name: пустое имя".into());
            }
        }
        Ok(())
    }
}

/// Parses the roster CSV (UTF-8, `;` or `,` separated, a header row):
/// `department;days;start;end;order;user_id;name;phone`. `days`: ISO numbers or Russian
/// abbreviations separated by spaces or `/` («1 2 3», «пн/вт», «пн-пт», «все»); `start`,
/// `end`: `HH:MM`. A line whose `order` is `supervisor` (or `руководитель`) is the
/// department's supervisor (days and hours ignored). Rosters come out by department, in
/// order of first appearance.
///
/// Errors: every bad line, as «строка N: …» (1-based, the header is line 1); nothing is
/// returned when any line is bad.
pub fn parse_csv(text: &str) -> Result<Vec<Roster>, Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        return Err(vec!["файл пуст".into()]);
    };
    let sep = if header.contains(';') { ';' } else { ',' };
    let cols: Vec<String> = header.split(sep).map(|c| c.trim().to_lowercase()).collect();
    let want = [
        "department",
        "days",
        "start",
        "end",
        "order",
        "user_id",
        "name",
        "phone",
    ];
    let mut idx = [0usize; 8];
    let mut errors = Vec::new();
    for (i, w) in want.iter().enumerate() {
        match cols.iter().position(|c| c == w) {
            Some(p) => idx[i] = p,
            None => errors.push(format!("строка 1: нет столбца «{w}»")),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out: Vec<Roster> = Vec::new();
    for (n, line) in lines {
        let n = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(sep).map(str::trim).collect();
        let get = |i: usize| f.get(idx[i]).copied().unwrap_or("");
        let r: Result<(String, Option<Shift>, Option<Supervisor>), String> = (|| {
            let dept = get(0).to_string();
            if dept.is_empty() {
                return Err("department: пусто".into());
            }
            let user_id: i64 = get(5)
                .parse()
                .map_err(|_| format!("user_id: {:?} не число", get(5)))?;
            let name = get(6).to_string();
            if name.is_empty() {
                return Err("name: пусто".into());
            }
            let phone = DutyPhone::parse(get(7)).map_err(|e| format!("phone: {e}"))?;
            let order = get(4).to_lowercase();
            if order == "supervisor" || order == "руководитель" {
                return Ok((
                    dept,
                    None,
                    Some(Supervisor {
                        user_id,
                        name,
                        phone,
                    }),
                ));
            }
            let order: u32 = if order.is_empty() {
                0
            } else {
                order
                    .parse()
                    .map_err(|_| format!("order: {order:?} не число и не supervisor"))?
            };
            let days = parse_days(get(1))?;
            let time = |s: &str, what: &str| {
                NaiveTime::parse_from_str(s, "%H:%M")
                    .map_err(|_| format!("{what}: {s:?} не время ЧЧ:ММ"))
            };
            let shift = Shift {
                days,
                start: time(get(2), "start")?,
                end: time(get(3), "end")?,
                order,
                user_id,
                name,
                phone,
            };
            shift.check()?;
            Ok((dept, Some(shift), None))
        })();
        match r {
            Err(e) => errors.push(format!("строка {n}: {e}")),
            Ok((dept, shift, sup)) => {
                let pos = match out.iter().position(|r| r.department == dept) {
                    Some(p) => p,
                    None => {
                        out.push(Roster {
                            department: dept,
                            ..Roster::default()
                        });
                        out.len() - 1
                    }
                };
                if let Some(s) = shift {
                    out[pos].shifts.push(s);
                }
                if let Some(s) = sup {
                    if out[pos].supervisor.is_some() {
                        errors.push(format!("строка {n}: второй руководитель отдела"));
                    }
                    out[pos].supervisor = Some(s);
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// «1 2 3», «пн/вт», «пн-пт», «1-5», «все» → ISO day numbers.
fn parse_days(s: &str) -> Result<Vec<u8>, String> {
    let day = |w: &str| -> Option<u8> {
        let w = w.trim().to_lowercase();
        if let Ok(n) = w.parse::<u8>() {
            return (1..=7).contains(&n).then_some(n);
        }
        ["пн", "вт", "ср", "чт", "пт", "сб", "вс"]
            .iter()
            .position(|d| *d == w)
            .map(|p| p as u8 + 1)
    };
    let s = s.trim().to_lowercase();
    if s == "все" || s == "*" {
        return Ok((1..=7).collect());
    }
    let mut out = Vec::new();
    for part in s.split([' ', '/', '+']).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once('-') {
            let (Some(a), Some(b)) = (day(a), day(b)) else {
                return Err(format!("days: {part:?} не диапазон дней"));
            };
            if a > b {
                return Err(format!("days: {part:?} — начало позже конца"));
            }
            out.extend(a..=b);
        } else {
            out.push(day(part).ok_or_else(|| format!("days: {part:?} не день недели"))?);
        }
    }
    if out.is_empty() {
        return Err("days: пусто".into());
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The weekday's ISO number (1 = Monday).
pub fn iso_day(d: Weekday) -> u8 {
    d.number_from_monday() as u8
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    fn shift(days: &[u8], start: &str, end: &str, order: u32, id: i64) -> Shift {
        Shift {
            days: days.to_vec(),
            start: NaiveTime::parse_from_str(start, "%H:%M").unwrap(),
            end: NaiveTime::parse_from_str(end, "%H:%M").unwrap(),
            order,
            user_id: id,
            name: format!("user{id}"),
            phone: DutyPhone::Account(format!("{}", 100 + id)),
        }
    }

    fn ids(c: &[Callee]) -> Vec<(i64, bool)> {
        c.iter().map(|c| (c.user_id, c.supervisor)).collect()
    }

    /// 2026-11-30 is a Monday.
    #[test]
    fn day_and_hour_select_the_people_on_duty_in_order_then_the_supervisor() {
        let r = Roster {
            department: "Сантехники".into(),
            shifts: vec![
                shift(&[1, 2, 3, 4, 5], "08:00", "17:00", 2, 1),
                shift(&[1, 2, 3, 4, 5], "08:00", "17:00", 1, 2),
                shift(&[6, 7], "00:00", "00:00", 1, 3),
                shift(&[1], "17:00", "08:00", 1, 4),
            ],
            supervisor: Some(Supervisor {
                user_id: 9,
                name: "Главный".into(),
                phone: DutyPhone::Number("+79160000009".into()),
            }),
        };
        // Monday 10:00: the day shift, by order (2 before 1), then the supervisor.
        assert_eq!(
            ids(&r.callees(t(2026, 11, 30, 10, 0))),
            vec![(2, false), (1, false), (9, true)]
        );
        // Monday 17:00: the day shift has ended (end exclusive), the night one begun.
        assert_eq!(
            ids(&r.callees(t(2026, 11, 30, 17, 0))),
            vec![(4, false), (9, true)]
        );
        // Tuesday 03:00: Monday's night shift crosses midnight.
        assert_eq!(
            ids(&r.callees(t(2026, 12, 1, 3, 0))),
            vec![(4, false), (9, true)]
        );
        // Tuesday 08:00: the night shift is over; Tuesday's day shift.
        assert_eq!(
            ids(&r.callees(t(2026, 12, 1, 8, 0))),
            vec![(2, false), (1, false), (9, true)]
        );
        // Tuesday 20:00: nobody (the night shift is Monday's only): the supervisor.
        assert_eq!(ids(&r.callees(t(2026, 12, 1, 20, 0))), vec![(9, true)]);
        // Saturday and Sunday, whole days (24 h from the start: Sunday's ends at Monday
        // 00:00).
        assert_eq!(
            ids(&r.callees(t(2026, 12, 5, 23, 59))),
            vec![(3, false), (9, true)]
        );
        assert_eq!(
            ids(&r.callees(t(2026, 12, 7, 0, 30))),
            vec![(9, true)],
            "Monday 00:30: Sunday's whole day is over, Monday's night shift starts at 17:00"
        );
    }

    #[test]
    fn a_supervisor_on_duty_is_called_once() {
        let mut s = shift(&[1], "00:00", "00:00", 0, 9);
        s.phone = DutyPhone::Number("+79160000009".into());
        let r = Roster {
            department: "Электрики".into(),
            shifts: vec![s],
            supervisor: Some(Supervisor {
                user_id: 9,
                name: "user9".into(),
                phone: DutyPhone::Number("+79160000009".into()),
            }),
        };
        assert_eq!(ids(&r.callees(t(2026, 11, 30, 12, 0))), vec![(9, false)]);
    }

    #[test]
    fn phones_parse_and_bad_ones_are_named() {
        assert_eq!(
            DutyPhone::parse("account:101").unwrap(),
            DutyPhone::Account("101".into())
        );
        assert_eq!(
            DutyPhone::parse("8 (916) 555-01-01").unwrap(),
            DutyPhone::Number("+79165550101".into())
        );
        assert_eq!(
            DutyPhone::parse("sip:101@10.0.0.5:5060").unwrap(),
            DutyPhone::Uri("sip:101@10.0.0.5:5060".into())
        );
        assert!(DutyPhone::parse("12ab").unwrap_err().contains("12ab"));
        assert!(DutyPhone::parse("account:").is_err());
        // JSON round trip as a plain string.
        let j = serde_json::to_string(&DutyPhone::Account("101".into())).unwrap();
        assert_eq!(j, "\"account:101\"");
        assert!(serde_json::from_str::<DutyPhone>("\"xx\"").is_err());
    }

    #[test]
    fn csv_roster_with_days_ranges_and_a_supervisor() {
        let csv = "department;days;start;end;order;user_id;name;phone\n\
                   Сантехники;пн-пт;08:00;17:00;1;2;Петров;account:102\n\
                   Сантехники;все;17:00;08:00;2;3;Сидоров;+79160000003\n\
                   Сантехники;;;;supervisor;9;Главный;8 916 000-00-09\n\
                   Электрики;6/7;09:00;18:00;;4;Иванов;account:104\n";
        let r = parse_csv(csv).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].department, "Сантехники");
        assert_eq!(r[0].shifts[0].days, vec![1, 2, 3, 4, 5]);
        assert_eq!(r[0].shifts[1].days, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            r[0].supervisor.as_ref().unwrap().phone,
            DutyPhone::Number("+79160000009".into())
        );
        assert_eq!(r[1].shifts[0].days, vec![6, 7]);
        assert_eq!(r[1].shifts[0].order, 0);
    }

    #[test]
    fn csv_errors_name_every_bad_line_and_nothing_is_returned() {
        let csv = "department,days,start,end,order,user_id,name,phone\n\
                   Сантехники,пн-пт,8:00,17:00,1,2,Петров,account:102\n\
                   Сантехники,пн-зз,08:00,17:00,1,x,Петров,account:102\n\
                   Сантехники,пн,08:00,25:00,1,2,Петров,12ab\n";
        let e = parse_csv(csv).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("строка 3: user_id"), "{e:?}");
        assert!(e[1].starts_with("строка 4: phone"), "{e:?}");
        let e = parse_csv("department;days\n").unwrap_err();
        assert!(e.iter().any(|m| m.contains("«start»")), "{e:?}");
    }
}
