//! Registry rows as the rest of zvonar sees them, and the normalisation rules that make
//! «12 А», «12-а» and «12а» the same apartment.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use zvonar_models::{AccountId, BuildingId, OutageId, PremisesId};

/// A building (многоквартирный дом) served by the company.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Building {
    /// Row id.
    pub id: BuildingId,
    /// Display address, e.g. «улица Ленина, дом 5».
    pub address: String,
    /// Street as written in the registry (whitespace collapsed), e.g. «улица Ленина».
    pub street: String,
    /// House number, lowercase without spaces: «5», «12к1», «7/2».
    pub house: String,
    /// ФИАС (state address register) GUID, when the registry had one.
    pub fias_id: Option<String>,
}

/// A premises and account a phone number is registered for: what the robot needs to greet a
/// known caller («Вы звоните по адресу улица Ленина, дом 5, квартира 12?»).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownPremises {
    /// Account row.
    pub account_id: AccountId,
    /// Account number (номер ЛС) as printed on bills.
    pub account_number: String,
    /// Premises row.
    pub premises_id: PremisesId,
    /// Building row.
    pub building_id: BuildingId,
    /// Display address of the building.
    pub address: String,
    /// Street of the building.
    pub street: String,
    /// House number of the building.
    pub house: String,
    /// Normalised apartment («12а»).
    pub apartment: String,
}

/// What an account owes as of a date, from the billing system's export (`zvonar import debts`,
/// table `account_debts`): shown on the caller's card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDebt {
    /// Account row.
    pub account_id: AccountId,
    /// Balance owed, kopecks; `<= 0` means nothing is owed (negative: an overpayment,
    /// переплата).
    pub balance_kopecks: i64,
    /// First day of the oldest unpaid month; `None` when the export gave none.
    pub oldest_unpaid: Option<NaiveDate>,
    /// Calendar months from `oldest_unpaid` to `as_of` (August unpaid as of 30 November → 3);
    /// 0 when `oldest_unpaid` is `None`.
    pub months_owed: i64,
    /// The date the figures are for.
    pub as_of: NaiveDate,
}

const MONTHS_NOMINATIVE: [&str; 12] = [
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
];

impl AccountDebt {
    /// The balance for people: «1 234,50 ₽» owed, «переплата 350,00 ₽» when negative,
    /// «0,00 ₽» when nothing is owed; see [`format_rubles`].
    pub fn balance_text(&self) -> String {
        if self.balance_kopecks < 0 {
            format!("переплата {}", format_rubles(-self.balance_kopecks))
        } else {
            format_rubles(self.balance_kopecks)
        }
    }

    /// The oldest unpaid month in words, «август 2026»; `None` when unknown.
    pub fn oldest_unpaid_text(&self) -> Option<String> {
        self.oldest_unpaid
            .map(|d| format!("{} {}", MONTHS_NOMINATIVE[d.month0() as usize], d.year()))
    }

    /// The date of the figures as a Russian bill writes it: «на 01.11.2026».
    pub fn as_of_text(&self) -> String {
        format!("на {}", self.as_of.format("%d.%m.%Y"))
    }
}

/// Kopecks as Russian money text: «1 234,50 ₽», «-12,05 ₽». Thousands are grouped with a
/// no-break space (U+00A0), the decimal separator is a comma (ГОСТ Р 7.0.97-2016 style), and a
/// no-break space precedes «₽» so the amount never wraps away from its sign.
pub fn format_rubles(kopecks: i64) -> String {
    let sign = if kopecks < 0 { "-" } else { "" };
    let abs = kopecks.unsigned_abs();
    let (rubles, kop) = (abs / 100, abs % 100);
    let digits = rubles.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{a0}');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped},{kop:02}\u{a0}₽")
}

/// A registered outage (отключение) on a building.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outage {
    /// Row id.
    pub id: OutageId,
    /// The building affected.
    pub building_id: BuildingId,
    /// What is off, in the genitive as spoken after «отключение»: «горячей воды».
    pub kind: String,
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// Planned end (UTC); `None` when unknown.
    pub ends_at: Option<DateTime<Utc>>,
    /// Reason as the company wrote it («плановые работы»), if any.
    pub reason: Option<String>,
}

/// An outage to register with [`crate::Registry::add_outage`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOutage {
    /// The building affected.
    pub building_id: BuildingId,
    /// What is off, in the genitive: «горячей воды».
    pub kind: String,
    /// Start (UTC).
    pub starts_at: DateTime<Utc>,
    /// Planned end (UTC), if known; must not be before `starts_at`.
    pub ends_at: Option<DateTime<Utc>>,
    /// Reason, if any.
    pub reason: Option<String>,
}

/// Maps Latin letters that look like Cyrillic ones (after lowercasing) to the Cyrillic letter,
/// so «12a» typed with a Latin `a` matches «12а».
fn cyrillic_lookalike(c: char) -> char {
    match c {
        'a' => 'а',
        'b' => 'в',
        'c' => 'с',
        'e' => 'е',
        'h' => 'н',
        'k' => 'к',
        'm' => 'м',
        'o' => 'о',
        'p' => 'р',
        't' => 'т',
        'x' => 'х',
        'y' => 'у',
        'ё' => 'е',
        other => other,
    }
}

/// Normalises an apartment (or house) number: lowercase, spaces, hyphens and a leading
/// «кв.»/«квартира»/«дом»/«д.» dropped, Latin look-alikes mapped to Cyrillic.
///
/// The result must start with a digit and contain only letters, digits and `/`, at most 16
/// characters: «12 А» → «12а», «кв. 7-б» → «7б», «7/2» stays. Returns `None` for anything
/// else («», «двенадцать», «12!»).
pub fn normalize_apartment(raw: &str) -> Option<String> {
    let lower = raw.trim().to_lowercase();
    let mut s = lower.as_str();
    for prefix in ["квартира", "кв.", "кв", "дом", "д."] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
            break;
        }
    }
    let out: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '\u{2010}' && *c != '\u{2013}')
        .map(cyrillic_lookalike)
        .collect();
    let mut chars = out.chars();
    let first_is_digit = chars.next().is_some_and(|c| c.is_ascii_digit());
    let rest_ok = out.chars().all(|c| c.is_alphanumeric() || c == '/');
    (first_is_digit && rest_ok && out.chars().count() <= 16).then_some(out)
}

/// Collapses runs of whitespace in a street name and trims it: « улица  Ленина » →
/// «улица Ленина». Case is kept for display.
pub fn clean_street(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The key under which two spellings of one street and house are the same building:
/// street lowercased with «ё» → «е», and the normalised house.
pub(crate) fn building_key(street: &str, house: &str) -> (String, String) {
    let street = clean_street(street).to_lowercase().replace('ё', "е");
    (street, house.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn money_and_debt_text() {
        let nb = |s: &str| s.replace(' ', "\u{a0}");
        assert_eq!(format_rubles(123_450), nb("1 234,50 ₽"));
        assert_eq!(format_rubles(0), nb("0,00 ₽"));
        assert_eq!(format_rubles(5), nb("0,05 ₽"));
        assert_eq!(format_rubles(99_999), nb("999,99 ₽"));
        assert_eq!(format_rubles(12_345_678_900), nb("123 456 789,00 ₽"));
        assert_eq!(format_rubles(-1_205), nb("-12,05 ₽"));
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let mut debt = AccountDebt {
            account_id: AccountId(1),
            balance_kopecks: 123_450,
            oldest_unpaid: Some(d(2026, 8, 1)),
            months_owed: 3,
            as_of: d(2026, 11, 1),
        };
        assert_eq!(debt.balance_text(), nb("1 234,50 ₽"));
        assert_eq!(debt.oldest_unpaid_text().as_deref(), Some("август 2026"));
        assert_eq!(debt.as_of_text(), "на 01.11.2026");
        debt.balance_kopecks = -35_000;
        debt.oldest_unpaid = None;
        assert_eq!(debt.balance_text(), format!("переплата {}", nb("350,00 ₽")));
        assert_eq!(debt.oldest_unpaid_text(), None);
    }

    #[test]
    fn apartments_normalise() {
        for s in ["12а", "12 А", "12-а", "12a", " кв. 12А", "квартира 12 а"] {
            assert_eq!(normalize_apartment(s).as_deref(), Some("12а"), "{s}");
        }
        assert_eq!(normalize_apartment("7/2").as_deref(), Some("7/2"));
        assert_eq!(normalize_apartment("д. 5").as_deref(), Some("5"));
        for bad in ["", "  ", "двенадцать", "12!", "а12"] {
            assert_eq!(normalize_apartment(bad), None, "{bad}");
        }
    }

    #[test]
    fn streets_compare_loosely() {
        assert_eq!(clean_street("  улица   Ленина "), "улица Ленина");
        assert_eq!(
            building_key("Улица Королёва", "5"),
            building_key("улица королева", "5")
        );
    }
}
