//! zvonar sip
pub mod sdp;
