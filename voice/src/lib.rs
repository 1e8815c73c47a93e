//! zvonar voice
