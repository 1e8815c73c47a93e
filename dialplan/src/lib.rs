//! zvonar dialplan
pub mod classify;
pub mod config;
pub mod numerals;
