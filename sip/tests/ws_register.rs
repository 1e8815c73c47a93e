//! SIP over WebSocket (RFC 7118) at the UA: the handshake's `Sec-WebSocket-Protocol: sip`
//! (§4.1), a REGISTER as browsers write it (Via `SIP/2.0/WS <random>.invalid`, Contact
//! `<sip:…@<random>.invalid;transport=ws>`, §5.2) challenged and accepted by the registrar
//! with digest authentication, the binding kept with transport `ws`, and an OPTIONS answered
//! on the same connection. A real WebSocket client (tokio-tungstenite) on loopback.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod support;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use zvonar_sip::registrar::digest::{self, Algorithm, Credentials};
use zvonar_sip::registrar::{CredentialStore, RegistrarConfig};
use zvonar_sip::ua::{self, RegistrarSetup, SipConfig};

const REALM: &str = "ws.test";

struct OneUser;

#[async_trait::async_trait]
impl CredentialStore for OneUser {
    async fn ha1(&self, user: &str, realm: &str, alg: Algorithm) -> Result<Option<String>, String> {
        Ok((user == "101").then(|| digest::ha1(alg, user, realm, "pw-101")))
    }
}

fn register(cseq: u32, auth: Option<&str>) -> String {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:{REALM} SIP/2.0\r\n\
         Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws{cseq};rport\r\n\
         Max-Forwards: 69\r\n\
         To: <sip:101@{REALM}>\r\n\
         From: <sip:101@{REALM}>;tag=jssip1\r\n\
         Call-ID: ws-reg-1\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:k2hs8d7f@df7jal23ls0d.invalid;transport=ws>;+sip.ice;reg-id=1;\
         +sip.instance=\"<urn:uuid:0e0f3a8c-2f1a-4b0e-8f6c-6f0c2b7a1d11>\";expires=600\r\n\
         Expires: 600\r\n\
         Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY\r\n\
         Supported: path,gruu,outbound\r\n\
         User-Agent: JsSIP 3.13.8\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn next_text<S>(ws: &mut S) -> String
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
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

#[tokio::test]
async fn a_browser_registers_over_websocket_with_digest() {
    let cancel = CancellationToken::new();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ws_addr: SocketAddr = free.local_addr().unwrap();
    drop(free);
    let (server, _calls) = ua::start(
        SipConfig {
            ws: Some(ws_addr),
            stream_idle_timeout: Some(Duration::from_secs(700)),
            user_agent: "zvonar-ws-test".into(),
            registrar: Some(RegistrarSetup {
                config: RegistrarConfig {
                    realm: REALM.into(),
                    algorithms: vec![Algorithm::Md5],
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
    assert_eq!(server.ws_addr, Some(ws_addr));
    // rsipstack starts listening from its serve loop: retry the connection briefly.
    let mut request = format!("ws://{ws_addr}/").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "sip".parse().unwrap());
    let mut tries = 0;
    let (mut ws, response) = loop {
        match tokio_tungstenite::connect_async(request.clone()).await {
            Ok(ok) => break ok,
            Err(e) => {
                tries += 1;
                assert!(tries < 100, "WebSocket listener never came up: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let client_addr = match ws.get_ref() {
        tokio_tungstenite::MaybeTlsStream::Plain(s) => s.local_addr().unwrap(),
        _ => unreachable!("plain ws"),
    };
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        Some("sip"),
        "RFC 7118 §4.1: the server accepts the sip subprotocol"
    );

    ws.send(Message::Text(register(1, None).into()))
        .await
        .unwrap();
    let challenge = next_text(&mut ws).await;
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    let via = header(&challenge, "Via").unwrap();
    assert!(
        via.contains("df7jal23ls0d.invalid"),
        "the Via comes back: {challenge}"
    );
    let www = header(&challenge, "WWW-Authenticate").unwrap();
    let nonce = www
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut creds = Credentials {
        username: "101".into(),
        realm: REALM.into(),
        nonce: nonce.into(),
        uri: format!("sip:{REALM}"),
        cnonce: "c0ffee".into(),
        qop: "auth".into(),
        nc: "00000001".into(),
        algorithm: "MD5".into(),
        ..Credentials::default()
    };
    let ha1 = digest::ha1(Algorithm::Md5, "101", REALM, "pw-101");
    creds.response = digest::response(Algorithm::Md5, &ha1, "REGISTER", &creds);
    let auth = format!(
        "Digest algorithm=MD5, username=\"101\", realm=\"{REALM}\", nonce=\"{nonce}\", \
         uri=\"sip:{REALM}\", response=\"{}\", qop=auth, cnonce=\"c0ffee\", nc=00000001",
        creds.response
    );
    ws.send(Message::Text(register(2, Some(&auth)).into()))
        .await
        .unwrap();
    let ok = next_text(&mut ws).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let contact = header(&ok, "Contact").unwrap();
    assert!(
        contact.contains("sip:k2hs8d7f@df7jal23ls0d.invalid;transport=ws"),
        "{ok}"
    );
    let registrar = server.registrar().unwrap();
    let bindings = registrar.lock().unwrap().bindings("101", now_s());
    assert_eq!(bindings.len(), 1, "{bindings:?}");
    assert_eq!(bindings[0].transport, "ws");
    assert_eq!(
        bindings[0].source,
        Some(client_addr),
        "the binding is reached through the browser's own connection"
    );

    // The same connection carries requests outside a dialog too.
    let options = format!(
        "OPTIONS sip:{REALM} SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKwso\r\n\
         Max-Forwards: 69\r\nTo: <sip:{REALM}>\r\nFrom: <sip:101@{REALM}>;tag=o1\r\n\
         Call-ID: ws-opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    ws.send(Message::Text(options.into())).await.unwrap();
    let reply = next_text(&mut ws).await;
    assert!(reply.starts_with("SIP/2.0 200"), "{reply}");
    assert!(header(&reply, "Allow").is_some(), "{reply}");
    cancel.cancel();
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
