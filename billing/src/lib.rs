//! zvonar billing
