#![allow(clippy::unwrap_used)] // tests may unwrap
use super::*;
use crate::codec::FRAME_SAMPLES;
use std::sync::Arc;

fn cfg(remote: SocketAddr) -> RtpConfig {
    RtpConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        ports: 20000..=30000,
        codec: Codec::Pcma,
        remote,
        remote_rtcp: None,
        latch_any_source: false,
        cname: "zvonar@test".into(),
    }
}

#[tokio::test]
async fn binds_even_port_pair_in_range() {
    let s = RtpSocket::bind(cfg("127.0.0.1:9".parse().unwrap()))
        .await
        .unwrap();
    let port = s.local_addr().unwrap().port();
    assert!(port % 2 == 0 && (20000..30000).contains(&port));
    assert!(matches!(
        RtpSocket::bind(RtpConfig {
            ports: 20001..=20001,
            ..cfg("127.0.0.1:9".parse().unwrap())
        })
        .await,
        Err(RtpSocketError::BadRange(_))
    ));
}

#[tokio::test]
async fn latches_to_nat_port_and_paces_stream_with_sr() {
    // The "peer": announces port A in SDP but sends from socket B (NAT rewrote the port).
    let peer_sdp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_nat = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_rtcp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut c = cfg(peer_sdp.local_addr().unwrap());
    c.remote_rtcp = Some(peer_rtcp.local_addr().unwrap());
    let ours = Arc::new(RtpSocket::bind(c).await.unwrap());
    let our_addr = ours.local_addr().unwrap();

    // Garbage and RTCP on the RTP port are skipped; the first valid RTP latches.
    peer_nat.send_to(b"hello", our_addr).await.unwrap();
    let mut peer_tx = RtpSender::new(Codec::Pcma, 77, 1, 0);
    peer_nat
        .send_to(&peer_tx.frame(Some(&[500; FRAME_SAMPLES])), our_addr)
        .await
        .unwrap();
    let (pkt, from) = ours.recv().await.unwrap();
    assert_eq!((pkt.ssrc, pkt.seq, pkt.marker), (77, 1, true));
    assert_eq!(from, peer_nat.local_addr().unwrap());
    assert_eq!(ours.remote(), peer_nat.local_addr().unwrap());

    // Outgoing: 3 speech frames then silence; all to the latched address.
    let mut n = 0;
    let sender = {
        let ours = ours.clone();
        tokio::spawn(async move {
            ours.run_sender(move || {
                n += 1;
                match n {
                    1..=3 => ControlFlow::Continue(Some(vec![1000; FRAME_SAMPLES])),
                    4..=8 => ControlFlow::Continue(None),
                    _ => ControlFlow::Break(()),
                }
            })
            .await
        })
    };
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..8 {
        let (len, _) = peer_nat.recv_from(&mut buf).await.unwrap();
        got.push(parse_incoming(&buf[..len]).unwrap());
    }
    sender.await.unwrap().unwrap();
    for w in got.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
        assert_eq!(w[1].ts, w[0].ts.wrapping_add(160));
        assert_eq!(w[1].ssrc, w[0].ssrc);
    }
    assert_eq!(
        got.iter().map(|p| p.marker).collect::<Vec<_>>(),
        [true, false, false, false, false, false, false, false]
    );
    assert_eq!(got[0].ssrc, ours.ssrc());

    ours.send_sender_report().await.unwrap();
    let (len, _) = peer_rtcp.recv_from(&mut buf).await.unwrap();
    assert_eq!(buf[1], 200);
    assert_eq!(&buf[4..8], &ours.ssrc().to_be_bytes());
    assert_eq!(&buf[20..24], &8u32.to_be_bytes(), "packet count");
    assert!(len > 28);

    // DTMF out: one event, same timestamp, 3 end packets.
    ours.send_dtmf(101, '5', 100).await.unwrap();
    let mut ev = Vec::new();
    while ev.len() < 4 {
        let (len, _) = peer_nat.recv_from(&mut buf).await.unwrap();
        ev.push(parse_incoming(&buf[..len]).unwrap());
    }
    assert!(ev
        .iter()
        .all(|p| p.pt == 101 && p.ts == ev[0].ts && p.payload[0] == 5));
    assert_eq!(ev.iter().filter(|p| p.payload[1] & 0x80 != 0).count(), 3);
}

#[tokio::test]
async fn packets_from_other_ips_are_ignored_before_latching() {
    let ours = RtpSocket::bind(cfg("192.0.2.1:4000".parse().unwrap()))
        .await
        .unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut tx = RtpSender::new(Codec::Pcma, 1, 1, 0);
    stranger
        .send_to(&tx.frame(None), ours.local_addr().unwrap())
        .await
        .unwrap();
    let r = tokio::time::timeout(Duration::from_millis(200), ours.recv()).await;
    assert!(r.is_err(), "stranger's packet must not be delivered");
    assert_eq!(ours.remote(), "192.0.2.1:4000".parse().unwrap());
}
