//! Money in kopecks. Never floats: accruals and debts must add up exactly.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of roubles held as whole kopecks (1 ₽ = 100 kopecks); may be negative (overpayment).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    /// From whole kopecks.
    pub const fn from_kopecks(k: i64) -> Self {
        Money(k)
    }

    /// Whole kopecks.
    pub const fn kopecks(self) -> i64 {
        self.0
    }

    /// Parses a decimal rouble amount as written in registries: `1234.5`, `1 234,50`, `-12`.
    ///
    /// Errors: `None` for anything that is not a number with at most two decimal places.
    pub fn parse_roubles(s: &str) -> Option<Self> {
        let cleaned: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{a0}')
            .map(|c| if c == ',' { '.' } else { c })
            .collect();
        let (neg, body) = match cleaned.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, cleaned.as_str()),
        };
        let (whole, frac) = match body.split_once('.') {
            Some((w, f)) => (w, f),
            None => (body, ""),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let rub: i64 = whole.parse().ok()?;
        let kop: i64 = format!("{frac:0<2}").parse().ok()?;
        let total = rub.checked_mul(100)?.checked_add(kop)?;
        Some(Money(if neg { -total } else { total }))
    }
}

impl fmt::Display for Money {
    /// `1234.50 ₽` style with a comma as Russian decimal separator: `1234,50 ₽`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{},{:02} ₽", a / 100, a % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_registry_forms() {
        assert_eq!(Money::parse_roubles("1234.5"), Some(Money(123450)));
        assert_eq!(Money::parse_roubles("1 234,05"), Some(Money(123405)));
        assert_eq!(Money::parse_roubles("-12"), Some(Money(-1200)));
        assert_eq!(Money::parse_roubles("1.234"), None);
        assert_eq!(Money::parse_roubles("abc"), None);
        assert_eq!(Money(-5).to_string(), "-0,05 ₽");
    }
}
