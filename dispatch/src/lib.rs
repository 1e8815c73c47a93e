//! zvonar dispatch
