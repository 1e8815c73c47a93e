//! Phone numbers in E.164 (ITU-T E.164), normalised from the forms Russian registries
//! and trunks use.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A phone number in E.164 form: `+` and 8–15 digits, e.g. `+79161234567`.
///
/// Russian forms are normalised by [`PhoneNumber::parse_ru`]: `8 (916) 123-45-67`,
/// `+7 916 123 45 67`, `79161234567`, `9161234567` (10 digits) all become `+79161234567`.
/// `Display` and `Debug` mask the number (`+7******4567`, `PhoneNumber(…4567)`) so it does
/// not leak into logs (152-ФЗ); the full value is [`PhoneNumber::as_e164`], for storage,
/// SIP and the API (serde writes it in full).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

/// Why a string is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// Nothing but spaces and punctuation.
    #[error("phone number is empty")]
    Empty,
    /// A character other than digits, spaces, `+`, `(`, `)`, `-`, `.`.
    #[error("phone number has an unexpected character {0:?}")]
    BadCharacter(char),
    /// The digit count fits no known form (Russian 10/11 digits, or `+` and 8–15 digits).
    #[error("phone number has {0} digits, which fits no known form")]
    BadLength(usize),
}

impl PhoneNumber {
    /// Normalises a number written the Russian way into E.164.
    ///
    /// Rules: 11 digits starting with 8 or 7 → `+7` and the last 10; 10 digits starting
    /// with 9, 3, 4 or 8 (a Russian number without trunk prefix) → `+7…`; a leading `+`
    /// keeps the country code as given (8–15 digits, E.164 §6). A `sip:` URI user part
    /// may be passed as is.
    ///
    /// Errors: [`PhoneError`] naming what is wrong.
    pub fn parse_ru(input: &str) -> Result<Self, PhoneError> {
        let s = input.trim();
        let plus = s.starts_with('+');
        let mut digits = String::with_capacity(16);
        for (i, c) in s.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '(' | ')' | '-' | '.' | '\u{a0}' | '\t' => {}
                other => return Err(PhoneError::BadCharacter(other)),
            }
        }
        if digits.is_empty() {
            return Err(PhoneError::Empty);
        }
        let n = digits.len();
        if plus {
            if (8..=15).contains(&n) {
                return Ok(PhoneNumber(format!("+{digits}")));
            }
            return Err(PhoneError::BadLength(n));
        }
        match n {
            11 if digits.starts_with('8') || digits.starts_with('7') => {
                Ok(PhoneNumber(format!("+7{}", &digits[1..])))
            }
            10 if matches!(digits.as_bytes()[0], b'9' | b'3' | b'4' | b'8') => {
                Ok(PhoneNumber(format!("+7{digits}")))
            }
            _ => Err(PhoneError::BadLength(n)),
        }
    }

    /// The full E.164 string, `+` included: only for where the number is really needed
    /// (database, SIP, the API). Logs get the masked `Display`.
    pub fn as_e164(&self) -> &str {
        &self.0
    }

    /// The last four digits, for logs and confirmations («номер, оканчивающийся на 4567»).
    pub fn last4(&self) -> &str {
        &self.0[self.0.len().saturating_sub(4)..]
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PhoneNumber::parse_ru(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber(…{})", self.last4())
    }
}

impl fmt::Display for PhoneNumber {
    /// Masked for logs: `+` and the first digit, stars, the last four digits
    /// (`+79161234567` → `+7******4567`). The full number is [`PhoneNumber::as_e164`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keep_tail = 4;
        let head = &self.0[..2];
        let stars = self.0.len().saturating_sub(2 + keep_tail);
        write!(f, "{head}{}{}", "*".repeat(stars), self.last4())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_forms_normalise_to_e164() {
        for s in [
            "89161234567",
            "8 (916) 123-45-67",
            "+7 916 123 45 67",
            "79161234567",
            "9161234567",
            "+7(916)123-45-67",
        ] {
            assert_eq!(
                PhoneNumber::parse_ru(s).expect("valid").as_e164(),
                "+79161234567",
                "{s}"
            );
        }
        assert_eq!(
            PhoneNumber::parse_ru("8 (495) 111-22-33")
                .expect("valid")
                .as_e164(),
            "+74951112233"
        );
        assert_eq!(
            PhoneNumber::parse_ru("+375291234567")
                .expect("valid")
                .as_e164(),
            "+375291234567"
        );
    }

    #[test]
    fn bad_numbers_are_rejected_with_a_reason() {
        assert_eq!(PhoneNumber::parse_ru(""), Err(PhoneError::Empty));
        assert_eq!(
            PhoneNumber::parse_ru("12345"),
            Err(PhoneError::BadLength(5))
        );
        assert_eq!(
            PhoneNumber::parse_ru("8916x234567"),
            Err(PhoneError::BadCharacter('x'))
        );
        assert_eq!(
            PhoneNumber::parse_ru("1161234567"),
            Err(PhoneError::BadLength(10))
        );
    }

    #[test]
    fn debug_and_display_hide_the_number() {
        let p = PhoneNumber::parse_ru("89161234567").expect("valid");
        assert_eq!(format!("{p:?}"), "PhoneNumber(…4567)");
        assert_eq!(format!("{p}"), "+7******4567");
        assert_eq!(p.to_string(), "+7******4567");
        let by = PhoneNumber::parse_ru("+375291234567").expect("valid");
        assert_eq!(by.to_string(), "+3*******4567");
        assert_eq!(p.as_e164(), "+79161234567");
        // The API and the database still get the whole number.
        assert_eq!(serde_json::to_string(&p).expect("json"), "\"+79161234567\"");
    }
}
