//! zvonar sip
