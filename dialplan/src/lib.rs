//! zvonar dialplan
pub mod classify;
pub mod numerals;
