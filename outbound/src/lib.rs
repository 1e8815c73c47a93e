//! zvonar-outbound: the rules of outbound campaigns (автообзвон) as pure, sans-IO code with
//! the clock passed in, so every rule is tested without sockets or tasks.
//!
//! - [`amd`]: the answering-machine heuristic (a long greeting before the first pause).
//! - [`calendar`]: the Russian production calendar (ТК РФ ст. 112 + the Government's
//!   transfers of days off, `data/ru-transfers.toml`).
//! - [`policy`]: legal call windows and frequency limits (230-ФЗ ст. 7), consent and
//!   opt-out (41-ФЗ), blacklists; [`policy::next_allowed`]; admin settings that may only tighten.
//! - [`template`]: message templates with {fio}, {address}, {account}, {debt}, {due_date},
//!   {period}, spoken through zvonar-say.
//! - [`list`]: an uploaded CSV list of accounts or phones, bad rows reported by line.
//! - [`campaign`]: recipients' states, retries, and the pacing scheduler (channels, calls
//!   per minute) that survives a restart without calling anybody twice.

pub mod amd;
pub mod calendar;
pub mod campaign;
pub mod list;
pub mod policy;
pub mod template;

#[cfg(test)]
mod campaign_tests;
#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod template_tests;
