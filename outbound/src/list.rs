//! An uploaded list of recipients (CSV): accounts or phones. Bad rows are reported by line
//! number and the rest are kept. And debtors selected by amount and months owed ([`debtors`]).
//!
//! Format: a header row naming the columns — `account` (or «лицевой счёт», «лс», «счёт») and/or
//! `phone` («телефон»), any order, other columns ignored; `,` or `;` separated (Excel in a
//! Russian locale writes `;`), cells quoted as in RFC 4180 when they hold the separator, UTF-8
//! (a BOM is allowed). A row gives a phone when its phone
//! cell is filled, else an account. Phones are normalised to E.164 for Russia: `8 (912)
//! 345-67-89`, `+7 912 345 67 89`, `79123456789`, `9123456789` → `+79123456789`.

use serde::{Deserialize, Serialize};

/// One recipient of an uploaded list.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Entry {
    /// An account number (resolved to phones by the registry).
    Account(String),
    /// A phone, E.164.
    Phone(String),
}

/// A rejected row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    /// Line number in the file (the header is line 1).
    pub line: usize,
    /// What is wrong, in Russian.
    pub message: String,
}

/// The parsed list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parsed {
    /// Accepted entries, in file order, without duplicates.
    pub entries: Vec<Entry>,
    /// Rejected rows.
    pub errors: Vec<LineError>,
}

/// The whole file is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// No header with an account or phone column.
    #[error("первая строка должна называть столбцы: account (лицевой счёт) и/или phone (телефон)")]
    NoHeader,
}

/// Normalises a Russian phone to E.164 (`+7` and 10 digits); `None` if it is not one.
pub fn normalise_phone(s: &str) -> Option<String> {
    let t = s.trim();
    if t.chars()
        .any(|c| !(c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')')))
    {
        return None;
    }
    let plus = t.starts_with('+');
    if t.chars().skip(1).any(|c| c == '+') {
        return None;
    }
    let d: String = t.chars().filter(char::is_ascii_digit).collect();
    let ten = match (plus, d.len()) {
        (true, 11) if d.starts_with('7') => &d[1..],
        (false, 11) if d.starts_with('7') || d.starts_with('8') => &d[1..],
        (false, 10) => &d[..],
        _ => return None,
    };
    // Russian numbering (Россвязь): geographic codes 3xx, 4xx, 8xx; mobile 9xx.
    if !matches!(ten.as_bytes()[0], b'3' | b'4' | b'8' | b'9') {
        return None;
    }
    Some(format!("+7{ten}"))
}

fn valid_account(s: &str) -> bool {
    (1..=32).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '/')
}

/// Parses an uploaded list with the `csv` crate (RFC 4180 quoting: a quoted cell may hold the
/// separator, doubled quotes and line breaks). The separator is `;` when the header line has
/// one, else `,`. Line numbers are physical lines of `text` (the header is line 1 when the file
/// starts with it; a quoted cell spanning lines counts them all), the line a row starts on.
///
/// Errors: [`ListError::NoHeader`]; bad rows go to [`Parsed::errors`] with their line number.
pub fn parse(text: &str) -> Result<Parsed, ListError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let sep = if header_line.contains(';') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let bytes = text.as_bytes();
    // The csv crate puts a record that follows blank lines at the first blank one, so the
    // line is counted here from the record's byte offset, skipping line breaks.
    let (mut counted_to, mut line_no) = (0usize, 1usize);
    let mut line_of = |pos: Option<&csv::Position>| {
        let mut start = pos
            .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX))
            .min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
            start += 1;
        }
        if start >= counted_to {
            line_no += bytes[counted_to..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            counted_to = start;
        }
        line_no
    };
    let mut records = reader.records();
    let (acc_col, phone_col) = loop {
        let header = match records.next() {
            None => return Err(ListError::NoHeader),
            Some(Ok(r)) => r,
            Some(Err(_)) => return Err(ListError::NoHeader),
        };
        line_of(header.position());
        if header.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cols: Vec<String> = header
            .iter()
            .map(|c| c.trim().to_lowercase().replace('ё', "е"))
            .collect();
        let find = |names: &[&str]| cols.iter().position(|c| names.contains(&c.as_str()));
        let acc = find(&["account", "лицевой счет", "лс", "л/с", "счет"]);
        let phone = find(&["phone", "телефон"]);
        if acc.is_none() && phone.is_none() {
            return Err(ListError::NoHeader);
        }
        break (acc, phone);
    };
    let mut out = Parsed::default();
    let mut seen = std::collections::HashMap::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = line_of(e.position());
                out.errors.push(LineError {
                    line,
                    message: format!("строка не читается как CSV: {e}"),
                });
                continue;
            }
        };
        let line = line_of(record.position());
        let cell = |c: Option<usize>| c.and_then(|c| record.get(c)).map_or("", str::trim);
        let (phone, acc) = (cell(phone_col), cell(acc_col));
        let entry = if !phone.is_empty() {
            match normalise_phone(phone) {
                Some(p) => Entry::Phone(p),
                None => {
                    out.errors.push(LineError {
                        line,
                        message: format!("«{phone}» — не номер телефона РФ"),
                    });
                    continue;
                }
            }
        } else if !acc.is_empty() {
            if !valid_account(acc) {
                out.errors.push(LineError {
                    line,
                    message: format!("«{acc}» — не номер лицевого счёта"),
                });
                continue;
            }
            Entry::Account(acc.to_string())
        } else {
            out.errors.push(LineError {
                line,
                message: "нет ни телефона, ни лицевого счёта".into(),
            });
            continue;
        };
        if let Some(first) = seen.get(&entry) {
            out.errors.push(LineError {
                line,
                message: format!("повтор строки {first}"),
            });
            continue;
        }
        seen.insert(entry.clone(), line);
        out.entries.push(entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        for (s, want) in [
            ("8 (912) 345-67-89", Some("+79123456789")),
            ("+7 912 345 67 89", Some("+79123456789")),
            ("79123456789", Some("+79123456789")),
            ("9123456789", Some("+79123456789")),
            ("+7 343 123-45-67", Some("+73431234567")),
            ("+8 912 345 67 89", None),
            ("12345", None),
            ("8912345678x", None),
            ("+7 112 345 67 89", None),
            ("89123456789+", None),
        ] {
            assert_eq!(normalise_phone(s).as_deref(), want, "{s}");
        }
    }

    #[test]
    fn bad_rows_by_line_the_rest_kept() {
        let csv = "\u{feff}ФИО;Лицевой счёт;Телефон\n\
                   Иванов;100200;8 912 345-67-89\n\
                   Петров;100201;\n\
                   Сидоров;;12345\n\
                   ;;\n\
                   \n\
                   Кузнецов;100 202;\n\
                   Иванов;100200;+79123456789\n\
                   Смирнова;;9000000001\n";
        let p = parse(csv).unwrap();
        assert_eq!(
            p.entries,
            vec![
                Entry::Phone("+79123456789".into()),
                Entry::Account("100201".into()),
                Entry::Phone("+79000000001".into()),
            ]
        );
        let lines: Vec<(usize, &str)> = p
            .errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (4, "«12345» — не номер телефона РФ"),
                (5, "нет ни телефона, ни лицевого счёта"),
                (7, "«100 202» — не номер лицевого счёта"),
                (8, "повтор строки 2"),
            ]
        );
    }

    #[test]
    fn quoted_cells_may_hold_the_separator_quotes_and_line_breaks() {
        let csv = "\n\nФИО;Адрес;Телефон;ЛС\n\
                   \"Иванов; Иван\";\"ул. Ленина; д. 5\";8 912 345-67-89;\n\
                   \"Петров \"\"Старший\"\"\";\"ул. Мира,\nд. 7\";;\"A;1\"\n\
                   Сидоров;\"ул. Мира; д. 9\";;100201\n\
                   Кузнецов;\"ул. Мира; д. 9\";\"12; 34\";\n";
        let p = parse(csv).unwrap();
        assert_eq!(
            p.entries,
            vec![
                Entry::Phone("+79123456789".into()),
                Entry::Account("100201".into()),
            ]
        );
        // The header is on line 3; Петров's cell spans lines 5–6, so Сидоров is on line 7.
        let lines: Vec<(usize, &str)> = p
            .errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (5, "«A;1» — не номер лицевого счёта"),
                (8, "«12; 34» — не номер телефона РФ"),
            ]
        );
        let p = parse("phone,comment\n\"+7 912 345-67-89\",\"да, звонить\"\n").unwrap();
        assert_eq!(p.entries, vec![Entry::Phone("+79123456789".into())]);
        assert_eq!(p.errors, vec![]);
    }

    #[test]
    fn comma_separated_and_header_errors() {
        let p = parse("phone\n+79123456789\n").unwrap();
        assert_eq!(p.entries, vec![Entry::Phone("+79123456789".into())]);
        let p = parse("account,comment\nA-17,x\n").unwrap();
        assert_eq!(p.entries, vec![Entry::Account("A-17".into())]);
        assert_eq!(parse("fio,comment\n"), Err(ListError::NoHeader));
        assert_eq!(parse(""), Err(ListError::NoHeader));
    }
}

/// One account's debt, as the registry's debt import gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Debt {
    /// Account number.
    pub account: String,
    /// Balance owed, kopecks (≤ 0: nothing owed).
    pub balance_kopecks: i64,
    /// The oldest unpaid month (any day in it).
    pub oldest_unpaid: chrono::NaiveDate,
}

/// Months a debt has been owed on `today`: calendar months from the oldest unpaid month to
/// today's month (August unpaid, in November → 3).
pub fn months_owed(oldest_unpaid: chrono::NaiveDate, today: chrono::NaiveDate) -> u32 {
    use chrono::Datelike;
    let m = |d: chrono::NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
    u32::try_from((m(today) - m(oldest_unpaid)).max(0)).unwrap_or(u32::MAX)
}

/// Debtors for a campaign: accounts owing at least `min_kopecks` for at least `min_months`
/// ([`months_owed`]) on `today`, in input order.
pub fn debtors(
    debts: &[Debt],
    min_kopecks: i64,
    min_months: u32,
    today: chrono::NaiveDate,
) -> Vec<&Debt> {
    debts
        .iter()
        .filter(|d| {
            d.balance_kopecks > 0
                && d.balance_kopecks >= min_kopecks
                && months_owed(d.oldest_unpaid, today) >= min_months
        })
        .collect()
}

#[cfg(test)]
mod debt_tests {
    use super::*;
    use chrono::NaiveDate;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn debtors_by_amount_and_months() {
        let today = d(2026, 11, 30);
        assert_eq!(months_owed(d(2026, 8, 1), today), 3);
        assert_eq!(months_owed(d(2025, 12, 31), d(2026, 1, 1)), 1);
        assert_eq!(months_owed(d(2026, 12, 1), today), 0);
        let rows = [
            ("A", 500_000, d(2026, 8, 1)),  // 5000 ₽, 3 months: yes
            ("B", 499_999, d(2026, 1, 1)),  // below the amount
            ("C", 900_000, d(2026, 9, 1)),  // 2 months only
            ("D", 500_000, d(2025, 11, 1)), // a year: yes
            ("E", -100, d(2025, 1, 1)),     // overpaid
        ];
        let debts: Vec<Debt> = rows
            .iter()
            .map(|&(a, b, o)| Debt {
                account: a.into(),
                balance_kopecks: b,
                oldest_unpaid: o,
            })
            .collect();
        let got: Vec<&str> = debtors(&debts, 500_000, 3, today)
            .iter()
            .map(|x| x.account.as_str())
            .collect();
        assert_eq!(got, vec!["A", "D"]);
        let got: Vec<&str> = debtors(&debts, 0, 0, today)
            .iter()
            .map(|x| x.account.as_str())
            .collect();
        assert_eq!(got, vec!["A", "B", "C", "D"]);
    }
}
