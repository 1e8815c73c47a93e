//! zvonar web
