#![allow(clippy::unwrap_used)] // tests may unwrap
use super::*;
use std::net::{IpAddr, Ipv4Addr};
use zvonar_sip::sdp::{Codec as SdpCodec, Direction};

fn local() -> LocalMedia {
    LocalMedia {
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
        port: 30000,
        codecs: vec![SdpCodec::Pcma, SdpCodec::Pcmu],
        telephone_event: true,
        session_id: 4242,
        session_version: 1,
        ptime_ms: 20,
        direction: Direction::SendRecv,
    }
}

/// An SDP of the caller's: audio at `addr:port` with formats `fmts` and extra lines.
fn sdp(addr: &str, port: u16, fmts: &str, extra: &str) -> String {
    format!(
        "v=0\r\no=caller 53655765 2353687637 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {fmts}\r\na=rtpmap:101 telephone-event/8000\r\n{extra}"
    )
}

fn origin(text: &str) -> (String, String) {
    let o = SessionDescription::parse(text).unwrap().origin;
    (o.session_id, o.session_version)
}

#[test]
fn late_offer_is_answered_in_the_ack() {
    let mut s = CallSdp::new(local());
    let offer = s.late_offer(1);
    assert_eq!(
        offer,
        "v=0\r\no=- 4242 1 IN IP4 192.0.2.100\r\ns=-\r\nc=IN IP4 192.0.2.100\r\nt=0 0\r\n\
         m=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    // Before the ACK: no media yet; a re-INVITE meanwhile gets 491 (RFC 3261 §14.2).
    assert_eq!(s.current.as_ref(), None);
    assert_eq!(
        s.on_offer(&sdp("192.0.2.7", 6000, "8", ""), 2, true).status,
        491
    );
    // An ACK of another transaction does not count.
    assert_eq!(
        s.on_ack(Some(7), Some(&sdp("192.0.2.7", 6000, "0 101", ""))),
        AckOutcome::NotAwaited
    );
    // The caller answers PCMU (second in our list) and telephone-event.
    let want = MediaState {
        remote: "192.0.2.7:6000".parse::<std::net::SocketAddr>().unwrap(),
        codec: Codec::Pcmu,
        audio_pt: 0,
        te_pt: Some(101),
        send: true,
    };
    assert_eq!(
        s.on_ack(Some(1), Some(&sdp("192.0.2.7", 6000, "0 101", ""))),
        AckOutcome::Answered(want.clone())
    );
    assert_eq!(s.current.as_ref(), Some(&want));
    // rsipstack repeats `Confirmed` after later requests: the same ACK is not news.
    assert_eq!(
        s.on_ack(Some(1), Some(&sdp("192.0.2.7", 6000, "0 101", ""))),
        AckOutcome::NotAwaited
    );
    // Later answers keep the o= line of our offer (RFC 3264 §8).
    let r = s.on_offer(&sdp("192.0.2.7", 6000, "0 101", ""), 2, true);
    assert_eq!(r.status, 200);
    let (id, version) = origin(r.sdp.as_deref().unwrap());
    assert_eq!((id.as_str(), version.as_str()), ("4242", "2"));
    assert_eq!(r.media, None, "same media as the ACK's answer");
}

#[test]
fn ack_without_an_acceptable_answer_is_reported() {
    for (ack, why) in [
        (None, "has no SDP answer"),
        (
            Some("v=0\r\nbroken\r\n".to_string()),
            "malformed SDP answer",
        ),
        (
            Some(sdp("192.0.2.7", 6000, "18", "a=rtpmap:18 G729/8000\r\n")),
            "no common audio codec",
        ),
        (
            Some(sdp("192.0.2.7", 0, "8", "")),
            "answer rejected the audio stream",
        ),
    ] {
        let mut s = CallSdp::new(local());
        s.late_offer(1);
        match s.on_ack(Some(1), ack.as_deref()) {
            AckOutcome::NoAcceptableAnswer(reason) => assert!(reason.contains(why), "{reason}"),
            other => panic!("{ack:?}: {other:?}"),
        }
        assert_eq!(s.current.as_ref(), None);
    }
}

#[test]
fn one_o_line_per_call_version_bumps_only_on_change() {
    let mut s = CallSdp::new(local());
    let first = sdp("192.0.2.7", 6000, "8 101", "");
    let (answer, media) = s.answer(&first).unwrap();
    assert_eq!(origin(&answer), ("4242".into(), "1".into()));
    assert_eq!(
        media.remote,
        "192.0.2.7:6000".parse::<std::net::SocketAddr>().unwrap()
    );

    // Session refresh with the same offer: byte-identical answer, nothing to apply.
    let r = s.on_offer(&first, 2, true);
    assert_eq!((r.status, r.sdp.as_deref()), (200, Some(answer.as_str())));
    assert_eq!(r.media, None);

    // The media moves to another address and port: our answer is the same description
    // (same codec, our port unchanged), so the version stays; the new remote is applied.
    let moved = s.on_offer(&sdp("198.51.100.9", 7000, "8 101", ""), 3, true);
    assert_eq!(
        origin(moved.sdp.as_deref().unwrap()),
        ("4242".into(), "1".into())
    );
    assert_eq!(
        moved.media.as_ref().map(|m| m.remote),
        Some("198.51.100.9:7000".parse().unwrap())
    );

    // Codec change PCMA → PCMU: our answer changes → version 2.
    let pcmu = s.on_offer(&sdp("198.51.100.9", 7000, "0 101", ""), 4, true);
    assert_eq!(
        origin(pcmu.sdp.as_deref().unwrap()),
        ("4242".into(), "2".into())
    );
    let m = pcmu.media.unwrap();
    assert_eq!((m.codec, m.audio_pt, m.send), (Codec::Pcmu, 0, true));

    // Hold (sendonly): we answer recvonly and stop sending → version 3.
    let hold = s.on_offer(
        &sdp("198.51.100.9", 7000, "0 101", "a=sendonly\r\n"),
        5,
        true,
    );
    let held = hold.sdp.unwrap();
    assert!(held.contains("a=recvonly\r\n"), "{held}");
    assert_eq!(origin(&held), ("4242".into(), "3".into()));
    assert!(!hold.media.unwrap().send);
    // inactive: answered inactive, still not sending → version 4.
    let inactive = s.on_offer(
        &sdp("198.51.100.9", 7000, "0 101", "a=inactive\r\n"),
        6,
        true,
    );
    assert!(inactive.sdp.as_deref().unwrap().contains("a=inactive\r\n"));
    assert_eq!(inactive.media, None, "still not sending: nothing to apply");
    // Resume → version 5, sending again.
    let resume = s.on_offer(
        &sdp("198.51.100.9", 7000, "0 101", "a=sendrecv\r\n"),
        7,
        true,
    );
    assert_eq!(
        origin(resume.sdp.as_deref().unwrap()),
        ("4242".into(), "5".into())
    );
    assert!(resume.media.unwrap().send);

    // Refused offers leave the session as it was (RFC 3261 §14.2).
    let g729 = s.on_offer(&sdp("198.51.100.9", 7000, "18", ""), 8, true);
    assert_eq!((g729.status, g729.sdp, g729.media), (488, None, None));
    let bad = s.on_offer("v=0\r\nnonsense\r\n", 9, false);
    assert_eq!(bad.status, 400);
    // An UPDATE without SDP refreshes the session: 200 without a body.
    let refresh = s.on_offer("", 10, false);
    assert_eq!((refresh.status, refresh.sdp), (200, None));
    // A re-INVITE without SDP: our offer (same o= id, next version), answer in the ACK.
    let ours = s.on_offer("", 11, true);
    assert_eq!(ours.status, 200);
    assert_eq!(
        origin(ours.sdp.as_deref().unwrap()),
        ("4242".into(), "6".into())
    );
    let ack = s.on_ack(Some(11), Some(&sdp("203.0.113.5", 8000, "8 101", "")));
    match ack {
        AckOutcome::Answered(m) => {
            assert_eq!(
                m.remote,
                "203.0.113.5:8000".parse::<std::net::SocketAddr>().unwrap()
            );
            assert_eq!(m.codec, Codec::Pcma);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn offers_we_cannot_take_in_the_invite() {
    let mut s = CallSdp::new(local());
    assert_eq!(
        s.answer("v=0\r\nnonsense\r\n").unwrap_err().sip_status(),
        400
    );
    let e = s
        .answer(&sdp("192.0.2.7", 6000, "18", "a=rtpmap:18 G729/8000\r\n"))
        .unwrap_err();
    assert_eq!(e.sip_status(), 488);
    // c=0.0.0.0 (RFC 2543 hold) is answered but we do not send.
    let (_, m) = s.answer(&sdp("0.0.0.0", 6000, "8", "")).unwrap();
    assert!(!m.send);
}

/// An outgoing leg: our offer in the INVITE, the far end's answer in the 2xx (PCMU chosen
/// though we prefer PCMA), then the far end holds and resumes by re-INVITE like a caller.
#[test]
fn outgoing_offer_takes_the_answer_from_the_2xx() {
    let mut s = CallSdp::new(local());
    let offer = s.initial_offer();
    assert!(
        offer.contains("m=audio 30000 RTP/AVP 8 0 101\r\n"),
        "{offer}"
    );
    assert!(
        offer.contains("a=rtpmap:101 telephone-event/8000\r\n"),
        "{offer}"
    );
    let m = s
        .on_answer(Some(&sdp("198.51.100.20", 40000, "0 101", "")))
        .unwrap();
    assert_eq!(
        m.remote,
        "198.51.100.20:40000"
            .parse::<std::net::SocketAddr>()
            .unwrap()
    );
    assert_eq!(
        (m.codec, m.audio_pt, m.te_pt, m.send),
        (Codec::Pcmu, 0, Some(101), true)
    );
    let hold = s.on_offer(
        &sdp("198.51.100.20", 40000, "0 101", "a=sendonly\r\n"),
        2,
        true,
    );
    assert_eq!(hold.status, 200);
    assert!(hold.sdp.unwrap().contains("a=recvonly\r\n"));
    assert!(!hold.media.unwrap().send);
    let resume = s.on_offer(&sdp("198.51.100.20", 40000, "0 101", ""), 3, true);
    assert!(resume.media.unwrap().send);
}

#[test]
fn unusable_answers_in_the_2xx_are_errors() {
    for answer in [
        None,
        Some("v=0\r\nnonsense\r\n".to_string()),
        Some(sdp(
            "198.51.100.20",
            40000,
            "18",
            "a=rtpmap:18 G729/8000\r\n",
        )),
        Some(sdp("198.51.100.20", 0, "0", "")),
    ] {
        let mut s = CallSdp::new(local());
        let _ = s.initial_offer();
        assert!(s.on_answer(answer.as_deref()).is_err(), "{answer:?}");
    }
}
