//! Typed identifiers. Database rows use `i64` keys; calls use a random UUID string
//! because they are created before anything is stored.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

row_id!(
    /// A building (многоквартирный дом) served by the company.
    BuildingId
);
row_id!(
    /// A premises (помещение: apartment or non-residential unit) in a building.
    PremisesId
);
row_id!(
    /// A personal account (лицевой счёт, ЛС) row; the account *number* is a separate string.
    AccountId
);
row_id!(
    /// A ticket (заявка) row; the human-facing ticket number is derived from it.
    TicketId
);
row_id!(
    /// A registered outage (отключение) on a building.
    OutageId
);

/// A call: one session from the first INVITE to the last BYE, with all its legs.
///
/// Shape: a lowercase hyphenated UUID v4, e.g. `6f1c…-…`; stable across logs, CDR,
/// recordings and events.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub String);

impl CallId {
    /// A fresh random call id.
    pub fn new_random() -> Self {
        CallId(uuid::Uuid::new_v4().to_string())
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
