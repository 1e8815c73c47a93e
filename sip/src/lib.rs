//! zvonar sip: signalling. rsipstack carries SIP transactions and dialogs over UDP and
//! TCP; this crate adds what is ours: SDP offer/answer ([`sdp`]), request checks that
//! answer malformed input with 400 ([`validate`]) and the user agent server that turns
//! INVITEs into calls for the engine ([`ua`]), with a registrar for desk phones
//! ([`registrar`]), the user agent client that places outgoing calls ([`uac`]), and client
//! registration with SIP trunks ([`trunk`]), and call transfer by REFER ([`refer`]). Browsers on other machines reach it over secure
//! WebSocket, TLS terminated here ([`wss`], [`tls`]).

pub mod refer;
pub mod registrar;
pub mod sdp;
pub mod tls;
pub mod trunk;
pub mod ua;
pub mod uac;
pub mod validate;
pub mod wss;
