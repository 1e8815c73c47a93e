//! SIP over secure WebSocket (RFC 7118 §3, `wss://`) at the UA, TLS terminated in zvonar
//! (`zvonar_sip::wss`): a real TLS client (rustls, trusting the test's self-signed
//! certificate) with a real WebSocket client (tokio-tungstenite) over it, from its own
//! loopback address (127.0.0.2, 127.0.0.3), so the server can tell the real client from the
//! TLS relay's loopback socket. Checks: the `sip` subprotocol; REGISTER challenged and
//! stamped with the client's address (`received`, RFC 3261 §18.2.1); the registrar's lockout
//! counts that address — one client locked out leaves another, relayed the same way, able
//! to register; an INVITE over WSS reaches the engine with the client as its source (what
//! `[sip] trusted` decides by) and its own connection as the peer, answered on it; a
//! certificate renewed on disk is served from the next handshake once re-read.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod support;
use futures_util::{SinkExt, StreamExt};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use zvonar_sip::registrar::digest::{self, Algorithm};
use zvonar_sip::registrar::{CredentialStore, RegistrarConfig};
use zvonar_sip::ua::{self, RegistrarSetup, SipConfig, WssConfig};

const REALM: &str = "wss.test";

struct OneUser;

#[async_trait::async_trait]
impl CredentialStore for OneUser {
    async fn ha1(&self, user: &str, realm: &str, alg: Algorithm) -> Result<Option<String>, String> {
        Ok((user == "101").then(|| digest::ha1(alg, user, realm, "pw-101")))
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// Connects from `from` (a loopback address) to `wss://localhost:<port>/` trusting `cert`.
async fn connect(server: SocketAddr, from: IpAddr, cert: &rcgen::Certificate) -> Ws {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let tcp = socket.connect(server).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let mut request = format!("wss://localhost:{}/", server.port())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "sip".parse().unwrap());
    let (ws, response) = tokio_tungstenite::client_async(request, tls)
        .await
        .expect("WebSocket handshake over TLS");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        Some("sip"),
        "RFC 7118 §4.1"
    );
    ws
}

fn register(call_id: &str, cseq: u32, auth: Option<&str>) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:{REALM} SIP/2.0\r\n\
         Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKwss{call_id}{cseq}\r\n\
         Max-Forwards: 69\r\n\
         To: <sip:101@{REALM}>\r\n\
         From: <sip:101@{REALM}>;tag=jssip-{call_id}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:k2hs8d7f@df7jal23ls0d.invalid;transport=ws>;expires=600\r\n\
         Expires: 600\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a reply within 5 s")
            .expect("open")
            .expect("message");
        if let Message::Text(t) = m {
            return t.to_string();
        }
    }
}

/// The final reply to `msg` (skipping 100 Trying).
async fn ask(ws: &mut Ws, msg: String) -> String {
    ws.send(Message::Text(msg.into())).await.unwrap();
    loop {
        let r = next_text(ws).await;
        if !r.starts_with("SIP/2.0 100") {
            return r;
        }
    }
}

fn nonce_of(challenge: &str) -> String {
    let www = header(challenge, "WWW-Authenticate").unwrap();
    www.split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

fn authorization(nonce: &str, password: &str, nc: u32) -> String {
    let ha1 = digest::ha1(Algorithm::Md5, "101", REALM, password);
    let creds = digest::Credentials {
        username: "101".into(),
        realm: REALM.into(),
        nonce: nonce.into(),
        uri: format!("sip:{REALM}"),
        cnonce: "c0ffee".into(),
        qop: "auth".into(),
        nc: format!("{nc:08x}"),
        algorithm: "MD5".into(),
        ..digest::Credentials::default()
    };
    let response = digest::response(Algorithm::Md5, &ha1, "REGISTER", &creds);
    format!(
        "Digest algorithm=MD5, username=\"101\", realm=\"{REALM}\", nonce=\"{nonce}\", \
         uri=\"sip:{REALM}\", response=\"{response}\", qop=auth, cnonce=\"c0ffee\", nc={nc:08x}"
    )
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn browsers_register_and_call_over_wss_seen_from_their_own_addresses() {
    let dir = TempDir(std::env::temp_dir().join(format!("zvonar-wss-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();

    let cancel = CancellationToken::new();
    let (server, mut calls) = ua::start(
        SipConfig {
            wss: Some(WssConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                tls: zvonar_sip::tls::server_config(&cert_path, &key_path, &[]).unwrap(),
            }),
            user_agent: "zvonar-wss-test".into(),
            registrar: Some(RegistrarSetup {
                config: RegistrarConfig {
                    realm: REALM.into(),
                    algorithms: vec![Algorithm::Md5],
                    lockout_after: 2,
                    ..RegistrarConfig::default()
                },
                store: Arc::new(OneUser),
            }),
            ..support::loopback_config()
        },
        cancel.clone(),
    )
    .await
    .unwrap();
    let wss = server.wss_addr.expect("WSS listening");
    assert_eq!(server.ws_addr, None, "no plain ws:// unless asked");
    let attacker_ip: IpAddr = "127.0.0.2".parse().unwrap();
    let operator_ip: IpAddr = "127.0.0.3".parse().unwrap();

    // rsipstack serves the inner listener from its serve loop: the first connection may be
    // relayed before it listens; retry the handshake briefly.
    let mut attacker = {
        let mut tries = 0;
        loop {
            let mut ws = connect(wss, attacker_ip, &cert).await;
            match tokio::time::timeout(
                Duration::from_millis(500),
                ask(&mut ws, register("a", 1, None)),
            )
            .await
            {
                Ok(challenge) => {
                    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
                    let via = header(&challenge, "Via").unwrap();
                    assert!(
                        via.contains("received=127.0.0.2"),
                        "the source is the client, not the relay: {challenge}"
                    );
                    break (ws, nonce_of(&challenge));
                }
                Err(_) => {
                    tries += 1;
                    assert!(tries < 20, "no answer over WSS");
                }
            }
        }
    };
    let (ws, nonce) = &mut attacker;
    for (nc, want) in [(1, "SIP/2.0 401"), (2, "SIP/2.0 403")] {
        let auth = authorization(nonce, "guess", nc);
        let r = ask(ws, register("a", 1 + nc, Some(&auth))).await;
        assert!(r.starts_with(want), "wrong password {nc}: {r}");
    }
    let auth = authorization(nonce, "pw-101", 3);
    let r = ask(ws, register("a", 4, Some(&auth))).await;
    assert!(r.starts_with("SIP/2.0 403"), "locked out: {r}");

    // The operator's browser, relayed by the same loopback relay, is not locked out.
    let mut operator = connect(wss, operator_ip, &cert).await;
    let challenge = ask(&mut operator, register("o", 1, None)).await;
    assert!(challenge.contains("received=127.0.0.3"), "{challenge}");
    let auth = authorization(&nonce_of(&challenge), "pw-101", 1);
    let ok = ask(&mut operator, register("o", 2, Some(&auth))).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let bindings = server
        .registrar()
        .unwrap()
        .lock()
        .unwrap()
        .bindings("101", now_s());
    assert_eq!(bindings.len(), 1, "{bindings:?}");
    assert_eq!(bindings[0].transport, "ws");
    let peer = bindings[0].source.expect("connection peer");
    assert!(
        peer.ip().is_loopback() && peer.ip() != operator_ip,
        "the binding is reached through the relay's own connection: {peer}"
    );

    // A call from the operator's page: the engine sees the browser as its source.
    let invite = format!(
        "INVITE sip:100@{REALM} SIP/2.0\r\n\
         Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKwssinv\r\n\
         Max-Forwards: 69\r\nTo: <sip:100@{REALM}>\r\nFrom: <sip:101@{REALM}>;tag=inv1\r\n\
         Call-ID: wss-inv-1\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:k2hs8d7f@df7jal23ls0d.invalid;transport=ws>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    operator.send(Message::Text(invite.into())).await.unwrap();
    let call = tokio::time::timeout(Duration::from_secs(5), calls.recv())
        .await
        .expect("the INVITE reaches the engine")
        .unwrap();
    assert_eq!(
        call.source_ip,
        Some(operator_ip),
        "[sip] trusted sees the browser"
    );
    assert_eq!(call.transport, "ws");
    assert_eq!(
        call.connection_peer,
        Some(peer),
        "the registration's connection"
    );
    call.leg.reject(486, None);
    let busy = loop {
        let r = next_text(&mut operator).await;
        if !r.starts_with("SIP/2.0 1") {
            break r;
        }
    };
    assert!(
        busy.starts_with("SIP/2.0 486"),
        "answered on its connection: {busy}"
    );

    // A call to the page (as the queue offers one): over its WSS connection, with our
    // Contact naming the WSS listener (RFC 7118 §5.2).
    let (_leg, _signals) = server
        .dial(zvonar_sip::uac::DialRequest {
            target: "sip:k2hs8d7f@df7jal23ls0d.invalid;transport=ws".into(),
            destination: Some(peer),
            tcp: false,
            ws: true,
            headers: Vec::new(),
            from_user: "zvonar".into(),
            from_display: None,
            from_host: None,
            asserted_identity: None,
            offer: "v=0\r\n".into(),
            credential: None,
        })
        .unwrap();
    let invite = loop {
        let m = next_text(&mut operator).await;
        if m.starts_with("INVITE ") {
            break m;
        }
    };
    let contact = header(&invite, "Contact").unwrap();
    assert!(
        contact
            .to_ascii_lowercase()
            .contains(&format!(":{};transport=wss", wss.port())),
        "{invite}"
    );
    cancel.cancel();
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Whether a TLS client trusting only `cert` completes a handshake with `server`.
async fn trusts(server: SocketAddr, cert: &rcgen::Certificate) -> bool {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(server).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .is_ok()
}

#[tokio::test]
async fn a_renewed_certificate_is_served_from_the_next_handshake() {
    let dir =
        TempDir(std::env::temp_dir().join(format!("zvonar-wss-renew-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let make = || {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert, key)
    };
    let ((old, old_key), (new, new_key)) = (make(), make());
    let (cert_path, key_path) = (dir.0.join("fullchain.pem"), dir.0.join("privkey.pem"));
    std::fs::write(&cert_path, old.pem()).unwrap();
    std::fs::write(&key_path, old_key.serialize_pem()).unwrap();
    let reloading = zvonar_sip::tls::reloading(&cert_path, &key_path).unwrap();
    let cancel = CancellationToken::new();
    let (server, _calls) = ua::start(
        SipConfig {
            wss: Some(WssConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                tls: zvonar_sip::tls::server_config_with(reloading.clone(), &[]),
            }),
            ..support::loopback_config()
        },
        cancel.clone(),
    )
    .await
    .unwrap();
    let wss = server.wss_addr.unwrap();
    assert!(trusts(wss, &old).await, "the configured certificate");
    assert!(
        !trusts(wss, &new).await,
        "a client trusting only the new one fails"
    );
    // Renewed on disk (as certbot does) and re-read: new handshakes get the new one.
    std::fs::write(&cert_path, new.pem()).unwrap();
    std::fs::write(&key_path, new_key.serialize_pem()).unwrap();
    assert!(reloading.reload_if_changed().unwrap());
    assert!(trusts(wss, &new).await, "the renewed certificate");
    assert!(!trusts(wss, &old).await, "the old one no longer");
    cancel.cancel();
}
