#![cfg_attr(test, allow(clippy::unwrap_used))]
//! zvonar dialplan: routes from dialled numbers to call flows, and the call flows
//! themselves, starting with the voice dispatcher robot.
//!
//! - [`numerals`]: Russian spoken numbers → digits («двенадцать а» → `12а`).
//! - [`classify`](mod@classify): topic classifier for problem descriptions (leak, electricity, …).
//! - [`config`]: the dialplan TOML file ([`Dialplan`]), validated with line numbers.
//! - [`robot`]: the dispatcher robot, a sans-IO state machine ([`DispatcherRobot`]).
//!
//! Nothing here does IO except [`Dialplan::load`] reading its file; nothing reads a clock.

pub mod classify;
pub mod config;
pub mod numerals;
pub mod rating;
pub mod robot;

pub use classify::{classify, default_topics, Classification, Topic};
pub use config::{
    Dialplan, DialplanError, DispatcherSettings, Flow, FlowKind, Prompt, QueueFlowSettings,
};
pub use robot::{CallContext, DispatcherRobot, RobotInput, RobotOutput};
