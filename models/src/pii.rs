//! Personal data wrapped so that logs never show it (152-ФЗ «О персональных данных»).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Personal data (a phone number, a name, an address) that must not reach logs.
///
/// `Debug` and `Display` print `<pii>`; the value is reached with [`Pii::expose`],
/// which makes every place that shows it to a person easy to find.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Pii<T>(pub T);

impl<T> Pii<T> {
    /// The wrapped value, for the places that legitimately show it (API, UI, storage).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<pii>")
    }
}

impl<T> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<pii>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let p = Pii("+79161234567".to_string());
        assert_eq!(format!("{p:?} {p}"), "<pii> <pii>");
        assert_eq!(p.expose(), "+79161234567");
    }
}
