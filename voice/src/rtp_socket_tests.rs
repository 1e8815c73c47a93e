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
        signalling_source: None,
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
    // The "peer" is behind NAT: its SDP shows a LAN address, its INVITE came from
    // 127.0.0.1 (the NAT's address), and its media comes from a port the NAT chose.
    let peer_nat = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_rtcp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut c = cfg("192.168.77.10:4000".parse().unwrap());
    c.signalling_source = Some("127.0.0.1".parse().unwrap());
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
    assert_eq!(
        ours.remote(),
        "192.0.2.1:4000".parse::<std::net::SocketAddr>().unwrap()
    );
}

/// Strict RTP: a hijacker who sends to the port first, and keeps sending, is never heard
/// and never receives the call's audio; the peer named in the SDP is.
#[tokio::test]
async fn hijacker_on_another_port_is_dropped_and_counted() {
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let hijacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut c = cfg(peer.local_addr().unwrap());
    c.signalling_source = Some("127.0.0.1".parse().unwrap());
    let ours = RtpSocket::bind(c).await.unwrap();
    let our_addr = ours.local_addr().unwrap();
    let mut htx = RtpSender::new(Codec::Pcma, 666, 1, 0);
    let mut ptx = RtpSender::new(Codec::Pcma, 77, 1, 0);
    for _ in 0..3 {
        hijacker.send_to(&htx.frame(None), our_addr).await.unwrap();
    }
    peer.send_to(&ptx.frame(None), our_addr).await.unwrap();
    hijacker.send_to(&htx.frame(None), our_addr).await.unwrap();
    peer.send_to(&ptx.frame(None), our_addr).await.unwrap();
    for _ in 0..2 {
        let (pkt, from) = ours.recv().await.unwrap();
        assert_eq!((pkt.ssrc, from), (77, peer.local_addr().unwrap()));
    }
    assert_eq!(ours.foreign_packets(), 4);
    assert_eq!(ours.remote(), peer.local_addr().unwrap());
    // Outgoing audio goes to the peer only.
    ours.send_frame(None).await.unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = peer.recv_from(&mut buf).await.unwrap();
    assert_eq!(parse_incoming(&buf[..n]).unwrap().ssrc, ours.ssrc());
    let nothing =
        tokio::time::timeout(Duration::from_millis(100), hijacker.recv_from(&mut buf)).await;
    assert!(nothing.is_err(), "the hijacker must not receive our audio");

    // A re-INVITE moves the peer's media: the new address is taken, the old one refused.
    let moved = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ours.set_remote(moved.local_addr().unwrap());
    peer.send_to(&ptx.frame(None), our_addr).await.unwrap();
    let mut mtx = RtpSender::new(Codec::Pcma, 78, 1, 0);
    moved.send_to(&mtx.frame(None), our_addr).await.unwrap();
    let (pkt, from) = ours.recv().await.unwrap();
    assert_eq!((pkt.ssrc, from), (78, moved.local_addr().unwrap()));
    assert_eq!(ours.foreign_packets(), 5);
    // A codec change keeps the stream (SSRC, sequence) and switches the payload type.
    let before = {
        ours.send_frame(None).await.unwrap();
        let (n, _) = moved.recv_from(&mut buf).await.unwrap();
        parse_incoming(&buf[..n]).unwrap()
    };
    ours.set_codec(Codec::Pcmu, 0);
    ours.send_frame(None).await.unwrap();
    let (n, _) = moved.recv_from(&mut buf).await.unwrap();
    let after = parse_incoming(&buf[..n]).unwrap();
    assert_eq!((before.pt, after.pt), (8, 0));
    assert_eq!(after.ssrc, before.ssrc);
    assert_eq!(after.seq, before.seq.wrapping_add(1));
    // An offerer's dynamic payload type for PCMA (RFC 3264 §6.1) is what we send.
    ours.set_codec(Codec::Pcma, 96);
    ours.send_frame(None).await.unwrap();
    let (n, _) = moved.recv_from(&mut buf).await.unwrap();
    let dynamic = parse_incoming(&buf[..n]).unwrap();
    assert_eq!(dynamic.pt, 96);
    assert_eq!(dynamic.payload, Codec::Pcma.silence_frame());
}
