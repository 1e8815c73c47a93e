//! In-dialog requests are handled in the order the peer sent them (RFC 3261 §12.2.2: a UAS
//! rejects a request whose CSeq is lower than the last one it processed, so processing a
//! later request first turns the earlier one into a 500).
//!
//! The peer is a plain UDP socket on loopback playing a phone: INVITE, ACK, then an INFO with
//! a key and a re-INVITE (hold) sent back to back, the way a browser softphone sends a key
//! and then the hold its operator clicks next. Both must get 200, and the engine must see
//! the key first.

mod support;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use zvonar_sip::ua::{start, CallSignal};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 40000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n";

struct Peer {
    socket: UdpSocket,
    us: SocketAddr,
    to_tag: String,
    call_id: String,
}

impl Peer {
    fn request(&self, method: &str, cseq: u32, branch: &str, extra: &str, body: &str) -> String {
        let me = self.socket.local_addr().expect("local");
        let to_tag = if self.to_tag.is_empty() {
            String::new()
        } else {
            format!(";tag={}", self.to_tag)
        };
        format!(
            "{method} sip:100@{us} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK{branch}\r\n\
             From: <sip:+79161234567@{ip}>;tag=peer1\r\nTo: <sip:100@{us}>{to_tag}\r\n\
             Call-ID: {cid}\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n\
             Contact: <sip:+79161234567@{me}>\r\n{extra}Content-Length: {len}\r\n\r\n{body}",
            us = self.us,
            ip = me.ip(),
            cid = self.call_id,
            len = body.len(),
        )
    }

    async fn send(&self, text: &str) {
        self.socket
            .send_to(text.as_bytes(), self.us)
            .await
            .expect("send");
    }

    /// The next final response, as (status, CSeq method).
    async fn final_response(&self) -> (u16, String, String) {
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            let (n, _) =
                tokio::time::timeout(Duration::from_secs(10), self.socket.recv_from(&mut buf))
                    .await
                    .unwrap_or_else(|_| {
                        panic!(
                            "a final response within 10 s; got only:\n{}",
                            seen.join("\n")
                        )
                    })
                    .expect("recv");
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            seen.push(text.lines().next().unwrap_or_default().to_string());
            let Some(status) = text
                .strip_prefix("SIP/2.0 ")
                .and_then(|r| r.get(..3))
                .and_then(|s| s.parse::<u16>().ok())
            else {
                continue; // a request from the UAS (none expected here)
            };
            if status < 200 {
                continue;
            }
            let cseq = text
                .lines()
                .find_map(|l| l.strip_prefix("CSeq:").map(|v| v.trim().to_string()))
                .unwrap_or_default();
            return (status, cseq, text);
        }
    }
}

fn header(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_info_and_a_reinvite_sent_back_to_back_are_both_answered_in_order() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let cancel = CancellationToken::new();
    let (server, mut calls) = start(support::loopback_config(), cancel.clone())
        .await
        .expect("sip");
    let us = server.udp_addr;
    // Many calls: a race between the two requests shows on some of them if it exists.
    for round in 0..20 {
        let mut peer = Peer {
            socket: UdpSocket::bind("127.0.0.1:0").await.expect("bind"),
            us,
            to_tag: String::new(),
            call_id: format!("order-{round}"),
        };
        peer.send(&peer.request(
            "INVITE",
            1,
            &format!("inv{round}"),
            "Content-Type: application/sdp\r\n",
            SDP,
        ))
        .await;
        let mut call = tokio::time::timeout(Duration::from_secs(10), calls.recv())
            .await
            .expect("the call within 10 s")
            .expect("a call");
        call.leg.answer(SDP.to_string()).expect("answer");
        let (status, _, ok) = peer.final_response().await;
        assert_eq!(status, 200, "{ok}");
        peer.to_tag = header(&ok, "To")
            .split(";tag=")
            .nth(1)
            .expect("to-tag")
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        peer.send(&peer.request("ACK", 1, &format!("ack{round}"), "", ""))
            .await;

        // The engine's side: answers every INFO and offer, noting the order.
        let mut signals =
            std::mem::replace(&mut call.signals, tokio::sync::mpsc::unbounded_channel().1);
        let engine = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Ok(Some(sig)) =
                tokio::time::timeout(Duration::from_secs(5), signals.recv()).await
            {
                match sig {
                    CallSignal::Info {
                        body, responder, ..
                    } => {
                        seen.push(format!("info {}", body.trim()));
                        responder.respond(200, None).await;
                    }
                    CallSignal::Offer { responder, .. } => {
                        seen.push("offer".to_string());
                        responder
                            .respond(
                                200,
                                Some(("application/sdp".into(), SDP.as_bytes().to_vec())),
                            )
                            .await;
                    }
                    CallSignal::Terminated(_) => break,
                    CallSignal::Confirmed { .. } => {}
                }
                if seen.len() == 2 {
                    break;
                }
            }
            seen
        });

        let info = peer.request(
            "INFO",
            2,
            &format!("info{round}"),
            "Content-Type: application/dtmf-relay\r\n",
            "Signal=5\r\nDuration=160\r\n",
        );
        let hold = SDP.replace(
            "a=rtpmap:8 PCMA/8000\r\n",
            "a=rtpmap:8 PCMA/8000\r\na=sendonly\r\n",
        );
        let reinvite = peer.request(
            "INVITE",
            3,
            &format!("hold{round}"),
            "Content-Type: application/sdp\r\n",
            &hold,
        );
        peer.send(&info).await;
        peer.send(&reinvite).await;
        // One final response per request (a 2xx to an INVITE is retransmitted until the ACK).
        let mut answers = std::collections::BTreeMap::new();
        while answers.len() < 2 {
            let (status, cseq, _) = peer.final_response().await;
            answers.entry(cseq).or_insert(status);
        }
        let got: Vec<(u16, &str)> = answers.iter().map(|(c, s)| (*s, c.as_str())).collect();
        assert_eq!(
            got,
            [(200, "2 INFO"), (200, "3 INVITE")],
            "round {round}: both in-dialog requests answered 200"
        );
        assert_eq!(
            engine.await.expect("engine"),
            ["info Signal=5\r\nDuration=160", "offer"],
            "round {round}: the key reached the engine before the hold"
        );
        peer.send(&peer.request("ACK", 3, &format!("ack3{round}"), "", ""))
            .await;
        peer.send(&peer.request("BYE", 4, &format!("bye{round}"), "", ""))
            .await;
        let bye = loop {
            let (status, cseq, _) = peer.final_response().await;
            if cseq == "4 BYE" {
                break status;
            }
        };
        assert_eq!(bye, 200, "round {round}: BYE answered");
        drop(call);
    }
    cancel.cancel();
}
