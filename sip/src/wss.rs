//! SIP over secure WebSocket (`wss://`, RFC 7118 §3) for browsers on other machines.
//!
//! rsipstack's WebSocket listener speaks plain `ws://` only (it wraps each accepted socket
//! in tokio-tungstenite's `MaybeTlsStream::Plain`, whose TLS variants are client-side), so
//! TLS is terminated here: each connection to `[sip] wss_listen` is accepted with rustls and
//! its bytes relayed to a plain WebSocket listener of our own on an ephemeral loopback port
//! (the *inner* listener), where rsipstack does the WebSocket handshake and SIP as for
//! `ws://`. Every relayed connection comes from its own loopback port, so connection
//! identity (a registration's connection, the account a call came from, where a browser is
//! reached) works unchanged; [`Relayed`] maps that port back to the real client so that
//! what is decided by the source address — the `received` stamp and hence the registrar's
//! lockout and `[sip] trusted` (RFC 3325 §9.1) — sees the browser's address, never
//! loopback. Messages on the inner listener from a connection that is not ours (another
//! local process dialling the port) are dropped.

use crate::tls::ServerTls;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Longest a client may take to complete the TLS handshake before it is dropped (a
/// connection that never finishes must not hold a task and a socket).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The relayed connections: inner listener's address, and for each relay socket's local
/// port (the peer the inner listener sees) the real client address.
#[derive(Clone, Debug)]
pub(crate) struct Relayed {
    inner: SocketAddr,
    clients: Arc<Mutex<HashMap<u16, SocketAddr>>>,
}

/// What to do with a message that came in on a WebSocket connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Not on the inner listener: an ordinary connection, its peer is the source.
    Direct,
    /// Relayed from this client.
    Client(SocketAddr),
    /// On the inner listener but not from a relay of ours: drop it.
    Stranger,
}

impl Relayed {
    pub(crate) fn new(inner: SocketAddr) -> Relayed {
        Relayed {
            inner,
            clients: Arc::default(),
        }
    }

    /// The inner (plain, loopback) listener's address.
    pub(crate) fn inner(&self) -> SocketAddr {
        self.inner
    }

    /// Where a message on the connection `local` (the listener it was accepted on) from
    /// `peer` really comes from.
    pub(crate) fn origin(&self, local: Option<SocketAddr>, peer: SocketAddr) -> Origin {
        if local != Some(self.inner) {
            return Origin::Direct;
        }
        if !peer.ip().is_loopback() {
            return Origin::Stranger;
        }
        match self
            .clients
            .lock()
            .ok()
            .and_then(|m| m.get(&peer.port()).copied())
        {
            Some(c) => Origin::Client(c),
            None => Origin::Stranger,
        }
    }

    /// Whether `peer` (as the inner listener sees it) is a relay of ours.
    pub(crate) fn is_relayed(&self, peer: SocketAddr) -> bool {
        peer.ip().is_loopback()
            && self
                .clients
                .lock()
                .map(|m| m.contains_key(&peer.port()))
                .unwrap_or(false)
    }

    fn insert(&self, port: u16, client: SocketAddr) {
        if let Ok(mut m) = self.clients.lock() {
            m.insert(port, client);
        }
    }

    fn remove(&self, port: u16, client: SocketAddr) {
        if let Ok(mut m) = self.clients.lock() {
            if m.get(&port) == Some(&client) {
                m.remove(&port);
            }
        }
    }
}

/// Accepts TLS connections on `listener` until `cancel` and relays each to `relayed`'s
/// inner listener (see the module's documentation).
pub(crate) async fn serve(
    listener: TcpListener,
    tls: ServerTls,
    relayed: Relayed,
    cancel: CancellationToken,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, client) = tokio::select! {
            _ = cancel.cancelled() => return,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and the like: pause rather than spin.
                    tracing::warn!(error = %e, "WSS accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (acceptor, relayed, cancel) = (acceptor.clone(), relayed.clone(), cancel.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::info!(%client, error = %e, "WSS: TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!(%client, "WSS: TLS handshake timed out");
                    return;
                }
            };
            relay(tls, client, relayed, cancel).await;
        });
    }
}

async fn relay(
    mut tls: tokio_rustls::server::TlsStream<TcpStream>,
    client: SocketAddr,
    relayed: Relayed,
    cancel: CancellationToken,
) {
    let mut inner = match TcpStream::connect(relayed.inner()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, inner = %relayed.inner(), "WSS: inner WebSocket listener unreachable");
            return;
        }
    };
    let Ok(port) = inner.local_addr().map(|a| a.port()) else {
        return;
    };
    let _ = inner.set_nodelay(true);
    // Known before the first byte reaches the inner listener.
    relayed.insert(port, client);
    tracing::debug!(%client, relay_port = port, "WSS connection relayed");
    tokio::select! {
        _ = cancel.cancelled() => {}
        r = tokio::io::copy_bidirectional(&mut tls, &mut inner) => {
            if let Err(e) = r {
                tracing::debug!(%client, error = %e, "WSS connection ended");
            }
        }
    }
    relayed.remove(port, client);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_maps_relay_ports_and_refuses_strangers() {
        let inner: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let r = Relayed::new(inner);
        let client: SocketAddr = "10.0.0.7:51000".parse().unwrap();
        r.insert(41000, client);
        let from = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        assert_eq!(r.origin(Some(inner), from(41000)), Origin::Client(client));
        assert!(r.is_relayed(from(41000)) && !r.is_relayed(from(41001)));
        assert_eq!(r.origin(Some(inner), from(41001)), Origin::Stranger);
        assert_eq!(
            r.origin(Some(inner), "10.0.0.8:41000".parse().unwrap()),
            Origin::Stranger
        );
        let other: SocketAddr = "127.0.0.1:5066".parse().unwrap();
        assert_eq!(r.origin(Some(other), from(41001)), Origin::Direct);
        assert_eq!(r.origin(None, from(41000)), Origin::Direct);
        // A later relay on the same port is not removed by the earlier one's end.
        let later: SocketAddr = "10.0.0.9:1".parse().unwrap();
        r.insert(41000, later);
        r.remove(41000, client);
        assert_eq!(r.origin(Some(inner), from(41000)), Origin::Client(later));
        r.remove(41000, later);
        assert_eq!(r.origin(Some(inner), from(41000)), Origin::Stranger);
    }
}
