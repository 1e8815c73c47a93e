#![allow(clippy::unwrap_used)] // tests may unwrap
use super::*;

const CHROMIUM: &str = include_str!("../tests/fixtures/webrtc/chromium_120_offer.sdp");
const FIREFOX: &str = include_str!("../tests/fixtures/webrtc/firefox_121_offer.sdp");

#[test]
fn browser_offers_are_webrtc_and_sip_phone_offers_are_not() {
    assert!(is_webrtc_offer(CHROMIUM));
    assert!(is_webrtc_offer(FIREFOX), "fingerprint at session level");
    let phone = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                 m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    assert!(!is_webrtc_offer(phone));
    // SDES-SRTP (RTP/SAVP with a=crypto) is not DTLS-SRTP either.
    let sdes =
        phone.replace("RTP/AVP", "RTP/SAVP") + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n";
    assert!(!is_webrtc_offer(&sdes));
}

#[test]
fn g711_is_chosen_in_the_browsers_order_with_its_8k_telephone_event() {
    // Chromium 120: 111 opus, 63 red, 9 G722, 0 PCMU, 8 PCMA, 13 CN, 110 te/48000, 126 te/8000.
    assert_eq!(
        choose_codec(CHROMIUM).unwrap(),
        CodecChoice {
            codec: Codec::Pcmu,
            audio_pt: 0,
            te_pt: Some(126),
            opus_pt: None
        },
        "telephone-event/48000 (110) belongs to Opus and is not ours"
    );
    // Firefox 121: 109 opus, 9 G722, 0 PCMU, 8 PCMA, 101 te/8000/1.
    assert_eq!(
        choose_codec(FIREFOX).unwrap(),
        CodecChoice {
            codec: Codec::Pcmu,
            audio_pt: 0,
            te_pt: Some(101),
            opus_pt: None
        }
    );
    // A browser told to prefer A-law (setCodecPreferences) lists 8 before 0.
    let alaw_first = CHROMIUM.replace("111 63 9 0 8 13 110 126", "8 0 126");
    assert_eq!(
        choose_codec(&alaw_first).unwrap(),
        CodecChoice {
            codec: Codec::Pcma,
            audio_pt: 8,
            te_pt: Some(126),
            opus_pt: None
        }
    );
    // Without telephone-event/8000, digits come only by SIP INFO.
    let no_te = CHROMIUM.replace("111 63 9 0 8 13 110 126", "111 0 110");
    assert_eq!(choose_codec(&no_te).unwrap().te_pt, None);
}

#[test]
fn an_opus_only_offer_gets_opus_transcoded_to_pcma() {
    let opus_only = CHROMIUM.replace("111 63 9 0 8 13 110 126", "111 63 110 126");
    assert_eq!(
        choose_codec(&opus_only).unwrap(),
        CodecChoice {
            codec: Codec::Pcma,
            audio_pt: 8,
            te_pt: Some(126),
            opus_pt: Some(111)
        }
    );
}

#[tokio::test]
async fn an_opus_only_offer_is_answered_with_opus_alone() {
    let opus_only = CHROMIUM.replace("111 63 9 0 8 13 110 126", "111 63 110 126");
    let (leg, answer) = answer_of(&opus_only).await;
    let audio = audio_section(&answer);
    let mline = audio.lines().next().unwrap().trim().to_string();
    assert_eq!(mline, "m=audio 9 UDP/TLS/RTP/SAVPF 111", "{answer}");
    assert!(audio.contains("a=rtpmap:111 opus/48000/2"), "{audio}");
    assert!(!audio.contains("PCM"), "{audio}");
    assert_eq!(leg.choice().opus_pt, Some(111));
    assert_eq!(leg.choice().codec, Codec::Pcma, "the engine's side");
    leg.close().await;
}

#[test]
fn opus_frames_round_trip_at_8_khz_on_the_engines_clock() {
    // 440 Hz at 8 kHz, 20 ms frames: encoded as the leg sends them, decoded as it receives
    // them (as PCMA on payload type 8, the 48 kHz clock mapped to 8 kHz).
    let mut tx = OpusTranscoder::new();
    let mut rx = OpusTranscoder::new();
    let tone: Vec<i16> = (0..8000 * 2)
        .map(|n| (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 8000.0).sin()) as i16)
        .collect();
    let mut out = Vec::new();
    for (i, frame) in tone.chunks_exact(FRAME_SAMPLES).enumerate() {
        let packet = tx.encode(frame);
        assert!(
            !packet.is_empty() && packet.len() < 200,
            "{} bytes",
            packet.len()
        );
        let p = Incoming {
            pt: 111,
            seq: i as u16,
            ts: 1_000_000 + 960 * i as u32,
            ssrc: 7,
            marker: i == 0,
            payload: packet,
        };
        let e = rx.to_engine(p, Codec::Pcma, 8).unwrap();
        assert_eq!((e.pt, e.ts, e.seq), (8, 160 * i as u32, i as u16));
        assert_eq!(e.payload.len(), FRAME_SAMPLES);
        out.extend(Codec::Pcma.decode(&e.payload));
    }
    // After the codec's start-up, the tone comes back at about its level.
    let rms =
        |x: &[i16]| (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    let (a, b) = (rms(&tone[8000..]), rms(&out[8000..]));
    assert!(
        b > a * 0.5 && b < a * 1.5,
        "tone rms {a:.0}, after Opus {b:.0}"
    );
}

#[test]
fn offers_without_g711_or_audio_are_refused() {
    let neither = CHROMIUM.replace("111 63 9 0 8 13 110 126", "63 9 110");
    assert!(matches!(choose_codec(&neither), Err(WebRtcError::Offer(_))));
    // A dynamic type named PCMU at another rate is not G.711 at 8 kHz.
    let odd = CHROMIUM.replace("111 63 9 0 8 13 110 126", "96").replace(
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:111 opus/48000/2\na=rtpmap:96 PCMU/16000",
    );
    assert!(matches!(choose_codec(&odd), Err(WebRtcError::Offer(_))));
    let video_only: String = CHROMIUM
        .split("m=video")
        .nth(1)
        .map(|v| format!("v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nt=0 0\nm=video{v}"))
        .unwrap();
    assert!(matches!(
        choose_codec(&video_only),
        Err(WebRtcError::Offer(_))
    ));
}

#[test]
fn a_dynamic_g711_payload_type_is_taken_by_its_name() {
    let dynamic = CHROMIUM
        .replace("111 63 9 0 8 13 110 126", "111 98 126")
        .replace(
            "a=rtpmap:111 opus/48000/2",
            "a=rtpmap:111 opus/48000/2\r\na=rtpmap:98 pcma/8000",
        );
    assert_eq!(
        choose_codec(&dynamic).unwrap(),
        CodecChoice {
            codec: Codec::Pcma,
            audio_pt: 98,
            te_pt: Some(126),
            opus_pt: None
        }
    );
}

/// The answer to a real browser offer, made by the WebRTC stack on loopback: ICE-lite with a
/// host candidate on the public address, DTLS client role, one G.711 codec, video refused.
async fn answer_of(offer: &str) -> (WebRtcLeg, String) {
    let cfg = WebRtcConfig {
        bind_ip: IpAddr::from([127, 0, 0, 1]),
        public_ip: IpAddr::from([192, 0, 2, 7]),
        ports: 41000..=41999,
    };
    let t0 = Instant::now();
    let out = WebRtcLeg::answer(offer, &cfg).await.unwrap();
    // Not a timing assertion on speed: a bound that only a gathering stall would cross.
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "answer took {:?}: gathering must not wait",
        t0.elapsed()
    );
    out
}

fn audio_section(sdp: &str) -> String {
    let start = sdp.find("m=audio").unwrap();
    let rest = &sdp[start..];
    let end = rest[1..].find("\nm=").map(|i| i + 1).unwrap_or(rest.len());
    rest[..end].to_string()
}

#[tokio::test]
async fn chromium_offer_gets_an_ice_lite_dtls_client_g711_answer() {
    let (leg, answer) = answer_of(CHROMIUM).await;
    assert!(answer.contains("a=ice-lite"), "{answer}");
    let audio = audio_section(&answer);
    let mline = audio.lines().next().unwrap().trim().to_string();
    let port = leg.local_addr().port();
    assert!((41000..=41999).contains(&port));
    // JSEP puts port 9 in the m-line; the address is in the candidates (RFC 8829 §5.3.1).
    assert_eq!(mline, "m=audio 9 UDP/TLS/RTP/SAVPF 0", "{answer}");
    assert!(audio.contains("a=rtpmap:0 PCMU/8000"), "{audio}");
    assert!(!audio.to_lowercase().contains("opus"), "{audio}");
    assert!(audio.contains("a=setup:active"), "{audio}");
    assert!(answer.contains("a=fingerprint:sha-256 "), "{answer}");
    assert!(
        audio.contains(&format!(" {port} typ host")),
        "one host candidate on the bound port: {audio}"
    );
    assert!(audio.contains("a=sendrecv"), "{audio}");
    let video = answer
        .split("m=video")
        .nth(1)
        .map(|v| v.trim_start().to_string());
    assert!(
        video.as_deref().is_some_and(|v| v.starts_with('0')),
        "video is refused with port 0: {answer}"
    );
    assert_eq!(leg.choice().codec, Codec::Pcmu);
    leg.close().await;
}

#[tokio::test]
async fn firefox_offer_is_answered_too() {
    let (leg, answer) = answer_of(FIREFOX).await;
    let audio = audio_section(&answer);
    assert!(audio.contains("a=rtpmap:0 PCMU/8000"), "{answer}");
    assert!(audio.contains("a=setup:active"), "{answer}");
    leg.close().await;
}

#[test]
fn a_hold_offer_does_not_receive() {
    assert!(offer_receives(CHROMIUM));
    assert!(!offer_receives(&CHROMIUM.replacen(
        "a=sendrecv",
        "a=sendonly",
        1
    )));
    assert!(!offer_receives(&CHROMIUM.replacen(
        "a=sendrecv",
        "a=inactive",
        1
    )));
    // Only the audio section counts: a held video (after the audio) is not a held call.
    let audio_end = CHROMIUM.find("m=video").unwrap();
    let (audio, video) = CHROMIUM.split_at(audio_end);
    assert!(offer_receives(&format!(
        "{audio}{}",
        video.replace("a=sendrecv", "a=sendonly")
    )));
}

#[tokio::test]
async fn our_offer_is_ice_lite_actpass_with_one_g711_codec() {
    let cfg = WebRtcConfig {
        bind_ip: IpAddr::from([127, 0, 0, 1]),
        public_ip: IpAddr::from([192, 0, 2, 7]),
        ports: 42000..=42999,
    };
    let (leg, offer) = WebRtcLeg::offer(Codec::Pcma, &cfg).await.unwrap();
    assert!(offer.contains("a=ice-lite"), "{offer}");
    let audio = audio_section(&offer);
    assert!(
        audio
            .lines()
            .next()
            .unwrap()
            .trim()
            .ends_with("UDP/TLS/RTP/SAVPF 8"),
        "{offer}"
    );
    assert!(audio.contains("a=rtpmap:8 PCMA/8000"), "{audio}");
    // The offerer is actpass (RFC 8842 §5.2); the browser answers active and sends the
    // ClientHello, so the ICE-lite side never waits on itself.
    assert!(audio.contains("a=setup:actpass"), "{audio}");
    assert!(offer.contains("a=fingerprint:sha-256 "), "{offer}");
    let port = leg.local_addr().port();
    assert!(audio.contains(&format!(" {port} typ host")), "{audio}");
    // (A loopback bind announces its loopback candidate as is; the public address on a
    // real interface is checked end to end by tests/e2e_webrtc.rs.)
    // A malformed answer is refused, not taken.
    assert!(leg.accept_answer("v=0\r\nnot sdp").await.is_err());
    leg.close().await;
}

#[test]
fn a_reanswer_keeps_the_dtls_role_and_answers_the_direction() {
    let answer = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 8\r\na=setup:active\r\na=sendrecv\r\n";
    let hold = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 8\r\na=setup:actpass\r\na=sendonly\r\n";
    // We offered first, the browser is the DTLS client: we stay passive; hold → recvonly.
    assert_eq!(
        fix_reanswer(answer, hold, true),
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 8\r\na=setup:passive\r\na=recvonly\r\n"
    );
    // We answered the browser's first offer as the client: active stays.
    let resume = hold.replace("a=sendonly", "a=sendrecv");
    assert_eq!(fix_reanswer(answer, &resume, false), answer);
    assert!(
        fix_reanswer(answer, &hold.replace("a=sendonly", "a=inactive"), false)
            .contains("a=inactive\r\n")
    );
}
