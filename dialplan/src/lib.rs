//! zvonar dialplan
pub mod numerals;
