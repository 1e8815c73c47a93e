//! The shared vocabulary of zvonar: identifiers, phone numbers, money, personal-data
//! wrappers and the [`CallEvent`]s the engine publishes.
//!
//! This crate does no IO: every other block depends on it, and it depends on none of them.

pub mod event;
pub mod expect;
pub mod handover;
pub mod hangup;
pub mod ids;
pub mod money;
pub mod phone;
pub mod pii;

pub use event::{
    CallEvent, CallEventKind, CallbackRequest, Disposition, TicketRequest, AGENT_CALL_FLOW,
};
pub use expect::{Expect, NumberSlot};
pub use handover::{HandoverContext, HandoverReason, HeardUtterance};
pub use hangup::HangupCause;
pub use ids::{AccountId, BuildingId, CallId, OutageId, PremisesId, TicketId};
pub use money::Money;
pub use phone::{PhoneError, PhoneNumber};
pub use pii::Pii;
