//! zvonar dialplan
