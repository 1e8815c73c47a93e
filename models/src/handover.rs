//! What the robot hands over with a call it passes to a person (robot → operator): the
//! operator's card shows it while the call rings and during the conversation.

use crate::{AccountId, BuildingId, PhoneNumber, PremisesId, TicketRequest};
use serde::{Deserialize, Serialize};

/// Why the robot passed the call to a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoverReason {
    /// The caller asked for a person («оператор», key 0).
    Asked,
    /// The robot did not understand the caller twice (after the keypad menu too).
    NotUnderstood,
    /// An emergency (аварийная) request, and the dialplan sends emergencies to a person
    /// (`emergency_to_operator`).
    Emergency,
    /// The call was routed straight to a queue (no robot before it).
    Routed,
}

impl HandoverReason {
    /// The stable snake_case code (`asked`, `not_understood`, `emergency`, `routed`).
    pub fn as_str(self) -> &'static str {
        match self {
            HandoverReason::Asked => "asked",
            HandoverReason::NotUnderstood => "not_understood",
            HandoverReason::Emergency => "emergency",
            HandoverReason::Routed => "routed",
        }
    }
}

/// One utterance the robot heard, with the recogniser's confidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeardUtterance {
    /// What Whisper wrote.
    pub text: String,
    /// Mean token probability, 0..=1.
    pub confidence: f32,
}

/// What the robot knows when it hands the call over. Every field may be empty: a caller
/// who pressed 0 at the greeting hands over nothing but the number.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HandoverContext {
    /// The caller's number, only when verified (trusted source).
    pub caller: Option<PhoneNumber>,
    /// The personal account (ЛС), when identified.
    pub account_id: Option<AccountId>,
    /// The building named or confirmed.
    pub building_id: Option<BuildingId>,
    /// The premises, when identified.
    pub premises_id: Option<PremisesId>,
    /// The address as the robot would say it («улица Ленина, дом 5, квартира 12»).
    pub address: Option<String>,
    /// The apartment as heard or typed.
    pub apartment: Option<String>,
    /// Everything the caller said that the recogniser accepted, in order.
    pub heard: Vec<HeardUtterance>,
    /// The ticket the robot was drafting (topic, emergency, what the caller said), when it
    /// had a problem description or an address.
    pub draft: Option<TicketRequest>,
    /// The number of a ticket the robot already filed on this call (an emergency handed
    /// over after filing).
    pub ticket_number: Option<String>,
    /// The call's recording so far, relative to the recordings directory (set by the engine).
    pub recording: Option<String>,
}
