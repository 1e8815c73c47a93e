//! What the SIP stack's integration tests share.

use std::net::SocketAddr;
use zvonar_sip::ua::SipConfig;

/// The stack on loopback: UDP on 127.0.0.1 with a free port, no TCP, no WebSocket, no
/// registrar, no admission control. A test sets what it needs with struct update syntax
/// (`SipConfig { ws: Some(addr), ..loopback_config() }`).
pub fn loopback_config() -> SipConfig {
    SipConfig {
        udp: SocketAddr::from(([127, 0, 0, 1], 0)),
        tcp: None,
        ws: None,
        wss: None,
        stream_idle_timeout: None,
        public_ip: [127, 0, 0, 1].into(),
        user_agent: "zvonar-test".into(),
        admission: None,
        registrar: None,
    }
}
