//! zvonar sip: signalling. rsipstack carries SIP transactions and dialogs over UDP and
//! TCP; this crate adds what is ours: SDP offer/answer ([`sdp`]), request checks that
//! answer malformed input with 400 ([`validate`]) and the user agent server that turns
//! INVITEs into calls for the engine ([`ua`]), with a registrar for desk phones
//! ([`registrar`]), and the user agent client that places outgoing calls ([`uac`]).

pub mod registrar;
pub mod sdp;
pub mod ua;
pub mod uac;
pub mod validate;
