//! Corpus and RFC-rule tests for the SDP module.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use super::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The vendored fixtures (`tests/fixtures/` of the repository; origins in its `SOURCE.md` files).
fn corpora() -> PathBuf {
    zvonar_fixtures::path("")
}

fn read(rel: &str) -> String {
    let p = corpora().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn sorcery(name: &str) -> String {
    read(&format!("sdp/sipsorcery-inline/{name}"))
}

/// Body of a SIP message: everything after the first blank line.
fn sip_body(msg: &str) -> &str {
    if let Some(i) = msg.find("\r\n\r\n") {
        &msg[i + 4..]
    } else if let Some(i) = msg.find("\n\n") {
        &msg[i + 2..]
    } else {
        panic!("no blank line in SIP message")
    }
}

fn local() -> LocalMedia {
    LocalMedia {
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
        port: 40000,
        codecs: vec![Codec::Pcma, Codec::Pcmu],
        telephone_event: true,
        session_id: 4242,
        session_version: 1,
        ptime_ms: 20,
        direction: Direction::SendRecv,
    }
}

fn parse(text: &str) -> SessionDescription {
    SessionDescription::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn answer(text: &str) -> Result<Negotiated, NegotiationError> {
    negotiate_answer(&parse(text), &local())
}

/// Minimal offer with one audio line `m=audio 5004 RTP/AVP <fmts>` and extra lines.
fn offer(fmts: &str, extra: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n\
         m=audio 5004 RTP/AVP {fmts}\r\n{extra}"
    )
}

fn all_corpus_files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in [
        "sdp/sipsorcery-inline",
        "sdp/sdp-transform",
        "sdp/ex_webrtc",
    ] {
        let mut entries: Vec<_> = std::fs::read_dir(corpora().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "sdp" || x == "txt"))
            .collect();
        entries.sort();
        for p in entries {
            let name = format!("{dir}/{}", p.file_name().unwrap().to_string_lossy());
            out.push((name, std::fs::read_to_string(&p).unwrap()));
        }
    }
    for f in ["ipv6-in-sdp", "mult-ip-in-sdp", "ipv4-mapped-ipv6"] {
        let msg = read(&format!("rfc5118/{f}"));
        out.push((format!("rfc5118/{f}"), sip_body(&msg).to_string()));
    }
    assert!(out.len() >= 30, "corpus looks incomplete: {}", out.len());
    out
}

/// Expected outcome of parsing each corpus file that is *not* accepted.
fn expected_parse_error(name: &str) -> Option<SdpError> {
    let syn = |line| SdpError::Syntax {
        line,
        reason: String::new(),
    };
    match name {
        // `o=-1307081803 2 IN IP4 …`: 5 fields, the sess-id is glued to the username.
        "sdp/sipsorcery-inline/SIPResponseUnitTest.ChineseCharactersParseTest.body.sdp" => {
            Some(syn(2))
        }
        // `v=0o=- 5 2 …`: the CRLF after v=0 is missing.
        "sdp/sipsorcery-inline/counterpath_bria_audio_dtmf.sdp" => {
            Some(SdpError::UnsupportedVersion {
                line: 1,
                value: String::new(),
            })
        }
        // `mid:1` without `a=`.
        "sdp/sipsorcery-inline/bria4_softphone_audio_video_text.sdp" => Some(syn(15)),
        // `m=text 11000` with neither media nor session c=.
        "sdp/sipsorcery-inline/cisco_sipua_audio_video_text.sdp" => {
            Some(SdpError::MissingConnection { line: 11 })
        }
        // `f=invalid:yes`: RFC 4566 §5 — unknown type letter, ignore the description.
        "sdp/sdp-transform/invalid.sdp" => Some(SdpError::UnknownType {
            line: 10,
            kind: 'f',
        }),
        _ => None,
    }
}

fn same_error_kind(a: &SdpError, b: &SdpError) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b) && a.line() == b.line()
}

// ---------------------------------------------------------------------------
// Corpus: parsing, round trip, truncation
// ---------------------------------------------------------------------------

#[test]
fn corpus_parses_or_fails_where_expected() {
    for (name, text) in all_corpus_files() {
        let res = SessionDescription::parse(&text);
        match (expected_parse_error(&name), res) {
            (None, Ok(_)) => {}
            (Some(want), Err(got)) => {
                assert!(
                    same_error_kind(&want, &got),
                    "{name}: want {want:?}, got {got:?}"
                );
                // The message names the line.
                if let Some(l) = got.line() {
                    assert!(got.to_string().contains(&format!("line {l}")), "{got}");
                }
            }
            (None, Err(e)) => panic!("{name}: unexpected error {e}"),
            (Some(want), Ok(_)) => panic!("{name}: parsed, expected {want:?}"),
        }
    }
}

#[test]
fn corpus_round_trips() {
    for (name, text) in all_corpus_files() {
        let Ok(sdp) = SessionDescription::parse(&text) else {
            continue;
        };
        let written = sdp.to_string();
        assert!(written.ends_with("\r\n"), "{name}");
        assert!(
            !written.replace("\r\n", "").contains('\n')
                && !written.replace("\r\n", "").contains('\r'),
            "{name}: bare CR/LF in output"
        );
        let again = SessionDescription::parse(&written)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{written}"));
        assert_eq!(again, sdp, "{name}");
        assert_eq!(again.to_string(), written, "{name}: writer not idempotent");
    }
}

#[test]
fn corpus_truncated_at_every_line_never_panics() {
    let local = local();
    for (name, text) in all_corpus_files() {
        let mut cuts: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
        cuts.push(0);
        cuts.push(text.len());
        for cut in cuts {
            for piece in [&text[..cut], &text[cut..]] {
                if let Ok(sdp) = SessionDescription::parse(piece) {
                    let _ = negotiate_answer(&sdp, &local);
                    let again = SessionDescription::parse(&sdp.to_string());
                    assert_eq!(again.as_ref(), Ok(&sdp), "{name} cut at {cut}");
                }
            }
        }
        // Also every byte prefix that ends on a char boundary, for the small files.
        if text.len() < 1200 {
            for cut in (0..text.len()).filter(|c| text.is_char_boundary(*c)) {
                if let Ok(sdp) = SessionDescription::parse(&text[..cut]) {
                    let _ = negotiate_answer(&sdp, &local);
                }
            }
        }
    }
}

#[test]
fn lf_only_and_crlf_parse_identically() {
    for (name, text) in all_corpus_files() {
        let lf = text.replace("\r\n", "\n");
        let crlf = lf.replace('\n', "\r\n");
        assert_eq!(
            SessionDescription::parse(&lf),
            SessionDescription::parse(&crlf),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------
// Corpus: negotiation
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Want {
    codec: Codec,
    pt: u8,
    te: Option<(u8, Option<&'static str>)>,
    remote: &'static str,
    m_lines: usize,
}

fn check(name: &str, text: &str, want: Want) {
    let offer = parse(text);
    let n = negotiate_answer(&offer, &local()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(n.codec, want.codec, "{name}");
    assert_eq!(n.payload_type, want.pt, "{name}");
    assert_eq!(
        n.telephone_event_pt
            .map(|pt| (pt, n.telephone_event_fmtp.clone())),
        want.te.map(|(pt, f)| (pt, f.map(str::to_string))),
        "{name}"
    );
    assert_eq!(
        n.remote_rtp,
        want.remote.parse::<SocketAddr>().unwrap(),
        "{name}"
    );
    // RFC 3264 §6: one answer m= line per offered line, same order and media type.
    assert_eq!(n.answer.media.len(), want.m_lines, "{name}");
    for (i, (o, a)) in offer.media.iter().zip(&n.answer.media).enumerate() {
        assert_eq!(o.media, a.media, "{name}");
        assert_eq!(a.port == 0, i != n.media_index, "{name}: m-line {i}");
    }
    // The answer itself is valid SDP that we can read back.
    assert_eq!(parse(&n.answer.to_string()), n.answer, "{name}");
    let am = &n.answer.media[n.media_index];
    let mut fmts = vec![want.pt.to_string()];
    if let Some((pt, _)) = want.te {
        fmts.push(pt.to_string());
    }
    assert_eq!(am.formats, fmts, "{name}");
}

#[test]
fn sipsorcery_phone_offers_negotiate() {
    let cases: &[(&str, Want)] = &[
        (
            "SIPMessageUnitTest.ParseCiscoOptionsResponseUnitTest.body.sdp",
            // 18 (G729) first, then PCMU: PCMU is the offerer's first supported.
            Want {
                codec: Codec::Pcmu,
                pt: 0,
                te: None,
                remote: "87.198.196.121:1",
                m_lines: 1,
            },
        ),
        (
            "SIPResponseUnitTest.ParseAsteriskOKUnitTest.body.sdp",
            Want {
                codec: Codec::Pcmu,
                pt: 0,
                te: Some((101, Some("0-16"))),
                remote: "213.168.225.133:18656",
                m_lines: 1,
            },
        ),
        (
            "SIPResponseUnitTest.ParseMSCOkResponse.body.sdp",
            Want {
                codec: Codec::Pcmu,
                pt: 0,
                te: Some((101, None)),
                remote: "127.127.127.30:8002",
                m_lines: 1,
            },
        ),
        (
            "SIPResponseUnitTest.ParseMultiLineRecordRouteResponse.body.sdp",
            Want {
                codec: Codec::Pcmu,
                pt: 0,
                te: Some((101, Some("0-15"))),
                remote: "64.152.60.164:19144",
                m_lines: 1,
            },
        ),
        (
            "SIPResponseUnitTest.ParseMultiLineViaResponse.body.sdp",
            Want {
                codec: Codec::Pcmu,
                pt: 0,
                te: Some((101, Some("0-16"))),
                remote: "10.10.10.155:4974",
                m_lines: 2,
            },
        ),
        (
            "SIPResponseUnitTest.ParseOptionsResponse.body.sdp",
            Want {
                codec: Codec::Pcmu,
                pt: 0,
                te: Some((101, Some("0-15"))),
                remote: "192.168.1.100:1",
                m_lines: 1,
            },
        ),
        (
            "SIPUserAgentUnitTest.MicroSIP_pjmedia.body.sdp",
            Want {
                codec: Codec::Pcmu,
                pt: 0,
                te: Some((101, Some("0-16"))),
                remote: "192.168.11.50:4032",
                m_lines: 1,
            },
        ),
    ];
    for (name, want) in cases {
        let text = sorcery(name);
        check(name, &text, *want);
    }
}

#[test]
fn rejected_corpus_offers_negotiate_once_repaired() {
    // Counterpath Bria: missing CRLF after v=0.
    let t = sorcery("counterpath_bria_audio_dtmf.sdp").replacen("v=0o=", "v=0\r\no=", 1);
    check(
        "counterpath (repaired)",
        &t,
        Want {
            codec: Codec::Pcmu,
            pt: 0,
            te: Some((101, Some("0-15"))),
            remote: "144.137.16.240:34640",
            m_lines: 1,
        },
    );
    // Bria 4: stray `mid:1` line (meant as a=mid:1). Static PT 0 with no rtpmap.
    let t =
        sorcery("bria4_softphone_audio_video_text.sdp").replace("\r\nmid:1\r\n", "\r\na=mid:1\r\n");
    check(
        "bria4 (repaired)",
        &t,
        Want {
            codec: Codec::Pcmu,
            pt: 0,
            te: None,
            remote: "10.1.1.2:49290",
            m_lines: 3,
        },
    );
    // Cisco audio/video/text: give the text stream a c=.
    let t = sorcery("cisco_sipua_audio_video_text.sdp").replace(
        "m=text 11000 RTP/AVP 98 100\r\n",
        "m=text 11000 RTP/AVP 98 100\r\nc=IN IP4 101.180.234.134\r\n",
    );
    check(
        "cisco a/v/t (repaired)",
        &t,
        Want {
            codec: Codec::Pcmu,
            pt: 0,
            te: None,
            remote: "101.180.234.134:19586",
            m_lines: 3,
        },
    );
    // Asterisk with the 5-field o= line, repaired.
    let t = sorcery("SIPResponseUnitTest.ChineseCharactersParseTest.body.sdp")
        .replace("o=-1307081803 2", "o=- 1307081803 2");
    let n = negotiate_answer(&parse(&t), &local()).unwrap();
    assert_eq!(
        (n.codec, n.ptime_ms, n.telephone_event_pt),
        (Codec::Pcmu, 20, Some(101))
    );
}

#[test]
fn sipsorcery_offers_we_must_refuse() {
    // Cisco OPTIONS capabilities: audio port 0 (no active stream).
    let e = answer(&sorcery(
        "SIPResponseUnitTest.ParseOptionsBodyResponse.body.sdp",
    ))
    .unwrap_err();
    assert_eq!(e, NegotiationError::NoAudioStream);
    // T.38 fax only.
    let e = answer(&sorcery("officemaster_directsip_t38_fax.sdp")).unwrap_err();
    assert_eq!(e, NegotiationError::NoAudioStream);
    assert_eq!(e.sip_status(), 488);
    // MS Edge WebRTC: UDP/TLS/RTP/SAVPF even though PCMU is offered.
    let sdp = parse(&sorcery("edge_browser_webrtc_audio.sdp"));
    assert_eq!(sdp.media[1].formats, Vec::<String>::new()); // `m=video 0 UDP/TLS/RTP/SAVPF`
    let e = negotiate_answer(&sdp, &local()).unwrap_err();
    assert_eq!(
        e,
        NegotiationError::UnsupportedProfile {
            proto: "UDP/TLS/RTP/SAVPF".into()
        }
    );
    assert_eq!(e.sip_status(), 488);
}

#[test]
fn browser_offers_parse_but_are_unsupported_profile() {
    for f in [
        "chromium_audio_video_sdp.txt",
        "firefox_audio_video_sdp.txt",
        "obs_audio_video_sdp.txt",
    ] {
        let sdp = parse(&read(&format!("sdp/ex_webrtc/{f}")));
        assert_eq!(sdp.media.len(), 2, "{f}");
        // ICE/DTLS attributes are kept generically.
        let has = |name: &str| {
            sdp.attributes
                .iter()
                .chain(sdp.media.iter().flat_map(|m| m.attributes.iter()))
                .any(|a| matches!(a, Attribute::Other { name: n, .. } if n == name))
        };
        assert!(
            has("ice-ufrag") && has("fingerprint") && has("setup"),
            "{f}"
        );
        let e = negotiate_answer(&sdp, &local()).unwrap_err();
        assert_eq!(
            e,
            NegotiationError::UnsupportedProfile {
                proto: "UDP/TLS/RTP/SAVPF".into()
            },
            "{f}"
        );
    }
    // Firefox's telephone-event/8000/1 still reads as mono 8 kHz.
    let ff = parse(&read("sdp/ex_webrtc/firefox_audio_video_sdp.txt"));
    let te = ff.media[0].rtpmap(101).unwrap();
    assert_eq!((te.clock_rate, te.channels()), (8000, Some(1)));
    // OBS offers sendonly.
    let obs = parse(&read("sdp/ex_webrtc/obs_audio_video_sdp.txt"));
    assert_eq!(obs.media[0].direction(), Some(Direction::SendOnly));
}

#[test]
fn sdp_transform_fixtures_negotiate_as_expected() {
    let unsupported = |f: &str, proto: &str| {
        let e = answer(&read(&format!("sdp/sdp-transform/{f}"))).unwrap_err();
        assert_eq!(
            e,
            NegotiationError::UnsupportedProfile {
                proto: proto.into()
            },
            "{f}"
        );
    };
    for f in [
        "hacky.sdp",
        "jssip.sdp",
        "normal.sdp",
        "extmap-encrypt.sdp",
        "icelite.sdp",
    ] {
        unsupported(f, "RTP/SAVPF");
    }
    for f in ["jsep.sdp", "ssrc.sdp"] {
        unsupported(f, "UDP/TLS/RTP/SAVPF");
    }
    // Data channel only.
    assert_eq!(
        answer(&read("sdp/sdp-transform/sctp-dtls-26.sdp")).unwrap_err(),
        NegotiationError::NoAudioStream
    );
    // Plain RTP/AVP but opus + telephone-event/48000 only: nothing for a G.711 engine.
    assert_eq!(
        answer(&read("sdp/sdp-transform/rtcp-fb.sdp")).unwrap_err(),
        NegotiationError::NoCommonCodec
    );
    // simulcast.sdp: plain RTP/AVP PCMU audio + video.
    check(
        "simulcast.sdp",
        &read("sdp/sdp-transform/simulcast.sdp"),
        Want {
            codec: Codec::Pcmu,
            pt: 0,
            te: None,
            remote: "192.0.2.156:49200",
            m_lines: 2,
        },
    );
    // hacky.sdp keeps a fractional ptime exactly.
    let hacky = parse(&read("sdp/sdp-transform/hacky.sdp"));
    assert_eq!(
        hacky.media[0].ptime(),
        Some(std::time::Duration::from_micros(125))
    );
}

#[test]
fn invalid_sdp_is_rejected_for_unknown_type_letter() {
    // invalid.sdp has two oddities: `a=rtcp:1 IN IP7 X` (an attribute we do not
    // interpret — kept as-is, RFC 4566 §5.13 says unknown attributes are ignored)
    // and `f=invalid:yes`: RFC 4566 §5 "An SDP parser MUST completely ignore any
    // session description that contains a type letter that it does not understand".
    let text = read("sdp/sdp-transform/invalid.sdp");
    let e = SessionDescription::parse(&text).unwrap_err();
    assert_eq!(
        e,
        SdpError::UnknownType {
            line: 10,
            kind: 'f'
        }
    );
    assert_eq!(e.to_string(), "SDP line 10: unknown line type `f=`");
    // Without the f= line the rest (incl. a=rtcp with IP7 and a=goo) is fine.
    let fixed = text.replace("f=invalid:yes\r\n", "");
    let sdp = parse(&fixed);
    assert!(sdp.media[0].attributes.contains(&Attribute::Other {
        name: "rtcp".into(),
        value: Some("1 IN IP7 X".into())
    }));
    assert!(sdp.media[0].attributes.contains(&Attribute::Other {
        name: "goo".into(),
        value: Some("hithere".into())
    }));
    // port 1, c=0.0.0.0: legacy hold.
    let n = negotiate_answer(&sdp, &local()).unwrap();
    assert!(n.remote_hold && !n.may_send());
}

#[test]
fn rfc5118_ipv6_bodies() {
    let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
    // 4.6: IPv6 everywhere; audio is G726-32 only → no common codec.
    let body = read("rfc5118/ipv6-in-sdp");
    let sdp = parse(sip_body(&body));
    assert_eq!(
        sdp.connection.as_ref().unwrap().ip(),
        Some(IpAddr::V6(v6("2001:db8::20")))
    );
    assert_eq!(sdp.timings[0].start, 3338481189);
    assert_eq!(
        negotiate_answer(&sdp, &local()).unwrap_err(),
        NegotiationError::NoCommonCodec
    );
    // Same body offering PCMU instead: IPv6 remote address, and an IPv6 answer from an IPv6 local.
    let pcmu = sip_body(&body).replace("RTP/AVP 2\r\n", "RTP/AVP 0\r\n");
    let mut l6 = local();
    l6.addr = IpAddr::V6(v6("2001:db8::10"));
    let n = negotiate_answer(&parse(&pcmu), &l6).unwrap();
    assert_eq!(n.remote_rtp, "[2001:db8::20]:6000".parse().unwrap());
    assert!(n.answer.to_string().contains("c=IN IP6 2001:db8::10\r\n"));
    assert!(n
        .answer
        .to_string()
        .contains("o=- 4242 1 IN IP6 2001:db8::10\r\n"));
    // 4.8: audio over IPv4, video over IPv6.
    let sdp = parse(sip_body(&read("rfc5118/mult-ip-in-sdp")));
    assert_eq!(
        sdp.media[1].connections[0].ip(),
        Some(IpAddr::V6(v6("2001:db8::1")))
    );
    assert_eq!(sdp.origin.unicast_address, "host.example.com");
    let n = negotiate_answer(&sdp, &local()).unwrap();
    assert_eq!(n.remote_rtp, "192.0.2.1:22334".parse().unwrap());
    assert_eq!(n.answer.media[1].port, 0);
    // With the audio also moved to IPv6.
    let moved = sip_body(&read("rfc5118/mult-ip-in-sdp"))
        .replace("c=IN IP4 192.0.2.1", "c=IN IP6 2001:db8::2");
    let n = negotiate_answer(&parse(&moved), &local()).unwrap();
    assert_eq!(n.remote_rtp, "[2001:db8::2]:22334".parse().unwrap());
    // 4.9: IPv4-mapped IPv6 address.
    let sdp = parse(sip_body(&read("rfc5118/ipv4-mapped-ipv6")));
    assert_eq!(
        sdp.connection.unwrap().ip(),
        Some(IpAddr::V6(v6("::ffff:192.0.2.2")))
    );
}

// ---------------------------------------------------------------------------
// RFC 3264 rules
// ---------------------------------------------------------------------------

#[test]
fn rfc3264_6_1_offerers_order_wins_among_supported() {
    // Local preference is [PCMA, PCMU], but the offer lists PCMU first.
    let n = answer(&offer("0 8", "")).unwrap();
    assert_eq!((n.codec, n.payload_type), (Codec::Pcmu, 0));
    let n = answer(&offer("18 8 0", "")).unwrap();
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 8));
    // A codec we do not list locally is skipped.
    let mut l = local();
    l.codecs = vec![Codec::Pcma];
    let n = negotiate_answer(&parse(&offer("0 8", "")), &l).unwrap();
    assert_eq!(n.codec, Codec::Pcma);
    // Only the chosen codec (plus telephone-event) is answered, with its rtpmap.
    assert_eq!(n.answer.media[0].formats, vec!["8".to_string()]);
    assert!(n.answer.to_string().contains("a=rtpmap:8 PCMA/8000\r\n"));
}

#[test]
fn rfc3264_6_1_dynamic_payload_types_keep_offerers_number() {
    let n = answer(&offer(
        "96 101",
        "a=rtpmap:96 pcma/8000\r\na=rtpmap:101 Telephone-Event/8000\r\n",
    ))
    .unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event_pt),
        (Codec::Pcma, 96, Some(101))
    );
    let s = n.answer.to_string();
    assert!(s.contains("m=audio 40000 RTP/AVP 96 101\r\n"), "{s}");
    assert!(s.contains("a=rtpmap:96 PCMA/8000\r\n"), "{s}");
    // Static number remapped by rtpmap to something else is not PCMU.
    let e = answer(&offer("0", "a=rtpmap:0 G729/8000\r\n")).unwrap_err();
    assert_eq!(e, NegotiationError::NoCommonCodec);
    // Wrong clock or stereo is not G.711 as we speak it.
    assert!(answer(&offer("97", "a=rtpmap:97 PCMU/16000\r\n")).is_err());
    assert!(answer(&offer("97", "a=rtpmap:97 PCMU/8000/2\r\n")).is_err());
    assert!(answer(&offer("97", "a=rtpmap:97 PCMU/8000/1\r\n")).is_ok());
}

#[test]
fn rfc4733_telephone_event_pt_and_fmtp_are_echoed() {
    let n = answer(&offer(
        "8 100",
        "a=rtpmap:100 telephone-event/8000\r\na=fmtp:100 0-15\r\n",
    ))
    .unwrap();
    assert_eq!(
        (n.telephone_event_pt, n.telephone_event_fmtp.as_deref()),
        (Some(100), Some("0-15"))
    );
    assert!(n
        .answer
        .to_string()
        .contains("a=rtpmap:100 telephone-event/8000\r\na=fmtp:100 0-15\r\n"));
    // telephone-event at 48 kHz does not go with 8 kHz G.711 (RFC 4733 §2.1).
    let n = answer(&offer("8 101", "a=rtpmap:101 telephone-event/48000\r\n")).unwrap();
    assert_eq!(n.telephone_event_pt, None);
    // Disabled locally → not answered.
    let mut l = local();
    l.telephone_event = false;
    let n = negotiate_answer(
        &parse(&offer("8 101", "a=rtpmap:101 telephone-event/8000\r\n")),
        &l,
    )
    .unwrap();
    assert_eq!(
        (n.telephone_event_pt, n.answer.media[0].formats.len()),
        (None, 1)
    );
}

#[test]
fn rfc3264_6_rejected_streams_keep_count_and_order() {
    let text = "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n\
        m=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n\
        m=audio 5002 RTP/SAVP 0\r\n\
        m=audio 5004 RTP/AVP 18\r\n\
        m=audio 5006 RTP/AVP 8\r\n\
        m=audio 5008 RTP/AVP 0\r\n";
    let n = answer(text).unwrap();
    assert_eq!(n.media_index, 3);
    assert_eq!(n.remote_rtp.port(), 5006);
    let ports: Vec<u16> = n.answer.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, vec![0, 0, 0, 40000, 0]);
    let protos: Vec<&str> = n.answer.media.iter().map(|m| m.proto.as_str()).collect();
    assert_eq!(
        protos,
        vec!["RTP/AVP", "RTP/SAVP", "RTP/AVP", "RTP/AVP", "RTP/AVP"]
    );
    assert_eq!(n.answer.media[0].media, "video");
    assert_eq!(n.answer.media[0].formats, vec!["96".to_string()]);
}

#[test]
fn rfc3264_profiles_secure_only_is_unsupported_plain_wins_when_present() {
    let e = answer(&offer("0", "").replace("RTP/AVP", "RTP/SAVP")).unwrap_err();
    assert_eq!(
        e,
        NegotiationError::UnsupportedProfile {
            proto: "RTP/SAVP".into()
        }
    );
    // A plain audio line that lacks a common codec reports NoCommonCodec instead.
    let text = offer("0", "").replace("RTP/AVP 0", "RTP/SAVP 0\r\nm=audio 5006 RTP/AVP 18");
    assert_eq!(answer(&text).unwrap_err(), NegotiationError::NoCommonCodec);
    // RTP/AVPF is plain RTP and keeps its profile in the answer.
    let n = answer(&offer("8", "").replace("RTP/AVP", "RTP/AVPF")).unwrap();
    assert_eq!(n.answer.media[0].proto, "RTP/AVPF");
}

#[test]
fn rfc3264_6_1_direction_is_mirrored() {
    for (offered, want) in [
        ("", Direction::SendRecv),
        ("a=sendrecv\r\n", Direction::SendRecv),
        ("a=sendonly\r\n", Direction::RecvOnly),
        ("a=recvonly\r\n", Direction::SendOnly),
        ("a=inactive\r\n", Direction::Inactive),
    ] {
        let n = answer(&offer("8", offered)).unwrap();
        assert_eq!(n.direction, want, "{offered}");
        assert_eq!(n.answer.media[0].direction(), Some(want));
        assert_eq!(
            n.remote_hold,
            offered.contains("sendonly") || offered.contains("inactive")
        );
    }
    // Session-level direction applies when the media has none; media-level overrides.
    let text = offer("8", "").replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    assert_eq!(answer(&text).unwrap().direction, Direction::RecvOnly);
    let text = offer("8", "a=sendrecv\r\n").replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    assert_eq!(answer(&text).unwrap().direction, Direction::SendRecv);
    // Our own hold (sendonly) intersects with the mirrored offer.
    let mut l = local();
    l.direction = Direction::SendOnly;
    let n = negotiate_answer(&parse(&offer("8", "")), &l).unwrap();
    assert_eq!(n.direction, Direction::SendOnly);
    let n = negotiate_answer(&parse(&offer("8", "a=sendonly\r\n")), &l).unwrap();
    assert_eq!(n.direction, Direction::Inactive);
}

#[test]
fn rfc3264_8_4_hold_with_zero_address() {
    let text = offer("8", "").replace("c=IN IP4 198.51.100.1", "c=IN IP4 0.0.0.0");
    let n = answer(&text).unwrap();
    assert!(n.remote_hold);
    assert_eq!(n.direction, Direction::SendRecv);
    assert!(!n.may_send());
    assert!(answer(&offer("8", "")).unwrap().may_send());
}

#[test]
fn remote_address_prefers_media_connection() {
    let n = answer(&offer("8", "c=IN IP4 203.0.113.9\r\n")).unwrap();
    assert_eq!(n.remote_rtp, "203.0.113.9:5004".parse().unwrap());
    // FQDN / multicast connection addresses are not supported for RTP.
    let e = answer(&offer("8", "c=IN IP4 media.example.com\r\n")).unwrap_err();
    assert!(matches!(e, NegotiationError::UnsupportedAddress { .. }));
    let e = answer(&offer("8", "c=IN IP4 224.2.1.1/127\r\n")).unwrap_err();
    assert!(matches!(e, NegotiationError::UnsupportedAddress { .. }));
}

#[test]
fn ptime_follows_the_offer() {
    assert_eq!(answer(&offer("8", "a=ptime:30\r\n")).unwrap().ptime_ms, 30);
    assert_eq!(answer(&offer("8", "")).unwrap().ptime_ms, 20);
    assert_eq!(
        answer(&offer("8", "a=maxptime:10\r\n")).unwrap().ptime_ms,
        10
    );
    let n = answer(&offer("8", "a=ptime:30\r\n")).unwrap();
    assert!(n.answer.to_string().contains("a=ptime:20\r\n"));
}

#[test]
fn our_faults_are_500_peer_faults_488() {
    let mut l = local();
    l.port = 0;
    let e = negotiate_answer(&parse(&offer("8", "")), &l).unwrap_err();
    assert!(!e.is_peer_fault());
    assert_eq!(e.sip_status(), 500);
    l = local();
    l.codecs.clear();
    assert_eq!(
        negotiate_answer(&parse(&offer("8", "")), &l)
            .unwrap_err()
            .sip_status(),
        500
    );
    // G.729 only (PT 18): the classic 488.
    let e = answer(&offer("18", "a=rtpmap:18 G729/8000\r\n")).unwrap_err();
    assert_eq!(e, NegotiationError::NoCommonCodec);
    assert!(e.is_peer_fault());
    assert_eq!(e.sip_status(), 488);
}

#[test]
fn uac_offer_and_answer() {
    let l = local();
    let o = create_offer(&l);
    let s = o.to_string();
    assert_eq!(
        s,
        "v=0\r\no=- 4242 1 IN IP4 192.0.2.100\r\ns=-\r\nc=IN IP4 192.0.2.100\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    // A peer that follows our order answers PCMA; parse_answer agrees.
    let mut peer = local();
    peer.addr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    peer.port = 6000;
    peer.direction = Direction::RecvOnly;
    let theirs = negotiate_answer(&parse(&s), &peer).unwrap();
    let ours = parse_answer(&o, &parse(&theirs.answer.to_string())).unwrap();
    assert_eq!(
        (ours.codec, ours.payload_type, ours.telephone_event_pt),
        (Codec::Pcma, 8, Some(101))
    );
    assert_eq!(ours.remote_rtp, "198.51.100.7:6000".parse().unwrap());
    assert_eq!(ours.direction, Direction::SendOnly);
    assert_eq!(ours.telephone_event_fmtp.as_deref(), Some("0-16"));

    // Mismatched m-line count (RFC 3264 §6).
    let mut bad = theirs.answer.clone();
    bad.media.push(bad.media[0].clone());
    assert!(matches!(
        parse_answer(&o, &bad),
        Err(NegotiationError::AnswerMismatch { .. })
    ));
    // Audio rejected with port 0.
    let mut rej = theirs.answer.clone();
    rej.media[0].port = 0;
    assert_eq!(parse_answer(&o, &rej), Err(NegotiationError::AudioRejected));
    // Answer with a codec we never offered.
    let g729 = offer("18", "").replace("o=- 1 1", "o=- 2 1");
    assert_eq!(
        parse_answer(&o, &parse(&g729)),
        Err(NegotiationError::NoCommonCodec)
    );
}

/// Late offer (RFC 3264 §5, RFC 3261 §13.2.1): our offer goes in the 200 OK, the answer
/// comes in the ACK. Answers as trunks and phones write them.
#[test]
fn late_offer_answers_in_the_ack() {
    let mut ms = MediaSession::new(local());
    let o = ms.offer();
    assert_eq!(o.origin.session_id, "4242");
    assert_eq!(o.media[0].formats, ["8", "0", "101"]);
    // PCMU only, no rtpmap for the static type, session-level c=, no direction.
    let a = parse(
        "v=0\r\no=gw 9 9 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n\
         m=audio 16384 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n",
    );
    let n = ms.accept_answer(&a).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event_pt),
        (Codec::Pcmu, 0, Some(101))
    );
    assert_eq!(n.remote_rtp, "203.0.113.1:16384".parse().unwrap());
    assert_eq!(n.direction, Direction::SendRecv);
    // Both codecs listed: the answerer's first one is used; no telephone-event answered.
    let both = parse(&offer("8 0", ""));
    let n = ms.accept_answer(&both).unwrap();
    assert_eq!((n.codec, n.telephone_event_pt), (Codec::Pcma, None));
    // An answer that holds us (recvonly towards us = it only receives): we send only.
    let hold = parse(&offer("8", "a=recvonly\r\n"));
    assert_eq!(
        ms.accept_answer(&hold).unwrap().direction,
        Direction::SendOnly
    );
    // Without an offer sent there is nothing to accept.
    let fresh = MediaSession::new(local());
    assert!(matches!(
        fresh.accept_answer(&a),
        Err(NegotiationError::InvalidLocal { .. })
    ));
}

#[test]
fn rfc3264_8_reinvite_version_increments_only_on_change() {
    let mut ms = MediaSession::new(local());
    let o = parse(&offer("8 101", "a=rtpmap:101 telephone-event/8000\r\n"));
    let a1 = ms.answer(&o).unwrap().answer;
    assert_eq!(a1.origin.session_version, "1");
    // Same offer again (session refresh): identical SDP, same version.
    let a2 = ms.answer(&o).unwrap().answer;
    assert_eq!(a2, a1);
    // Peer puts us on hold: answer changes (recvonly) → version 2, rest of o= identical.
    let hold = parse(&offer(
        "8 101",
        "a=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n",
    ));
    let n3 = ms.answer(&hold).unwrap();
    assert!(n3.remote_hold);
    assert_eq!(n3.answer.origin.session_version, "2");
    assert_eq!(
        Origin {
            session_version: "1".into(),
            ..n3.answer.origin.clone()
        },
        a1.origin
    );
    // A re-offer we cannot accept (488) leaves the session state untouched.
    assert!(ms.answer(&parse(&offer("18", ""))).is_err());
    assert_eq!(ms.last_sent(), Some(&n3.answer));
    // Resume: version 3. Our own re-offer afterwards: version 4.
    assert_eq!(ms.answer(&o).unwrap().answer.origin.session_version, "3");
    ms.local_mut().direction = Direction::SendOnly;
    let re = ms.offer();
    assert_eq!(re.origin.session_version, "4");
    assert_eq!(re.media[0].direction(), Some(Direction::SendOnly));
    // accept_answer uses the last offer.
    let mut peer = local();
    peer.port = 7000;
    let their = negotiate_answer(&re, &peer).unwrap();
    assert_eq!(their.direction, Direction::RecvOnly);
    let ours = ms.accept_answer(&their.answer).unwrap();
    assert_eq!(ours.direction, Direction::SendOnly);
}

// ---------------------------------------------------------------------------
// Parser strictness
// ---------------------------------------------------------------------------

const GOOD: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn err(text: &str) -> SdpError {
    SessionDescription::parse(text).unwrap_err()
}

/// An rtpmap without a clock rate (`a=rtpmap:31 LPC`, in RFC 4475's INVITEs) is kept as an
/// unknown attribute: its payload type stays unknown instead of the whole offer failing.
#[test]
fn rtpmap_without_clock_rate_is_kept_as_unknown() {
    let text = GOOD.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU");
    let sdp = SessionDescription::parse(&text).expect("parses");
    assert!(sdp.media[0].rtpmap(0).is_none());
    assert!(
        matches!(&sdp.media[0].attributes[0], Attribute::Other { name, .. } if name == "rtpmap")
    );
}

#[test]
fn parser_errors_name_the_line() {
    assert!(SessionDescription::parse(GOOD).is_ok());
    assert_eq!(err(""), SdpError::Empty);
    assert_eq!(err("\r\n\r\n"), SdpError::Empty);
    assert_eq!(
        err(&GOOD.replace("v=0", "v=1")),
        SdpError::UnsupportedVersion {
            line: 1,
            value: "1".into()
        }
    );
    assert_eq!(
        err(&GOOD.replace("v=0\r\n", "")),
        SdpError::Misplaced { line: 1, kind: 'o' }
    );
    assert_eq!(
        err(&GOOD.replace("s=-\r\n", "")),
        SdpError::Missing { kind: 's' }
    );
    assert_eq!(
        err(&GOOD.replace("t=0 0\r\n", "")),
        SdpError::Missing { kind: 't' }
    );
    assert_eq!(
        err(&GOOD.replace("o=- 1 1 IN IP4 192.0.2.1\r\n", "")),
        SdpError::Missing { kind: 'o' }
    );
    assert_eq!(
        err(&format!("{GOOD}t=0 0\r\n")),
        SdpError::Misplaced { line: 8, kind: 't' }
    );
    assert_eq!(
        err(&GOOD.replace("s=-\r\n", "s=-\r\ns=x\r\n")),
        SdpError::Duplicate { line: 4, kind: 's' }
    );
    assert_eq!(
        err(&GOOD.replace("s=-\r\n", "s=-\r\nv=0\r\n")),
        SdpError::Misplaced { line: 4, kind: 'v' }
    );
    assert_eq!(
        err(&format!("{GOOD}x=1\r\n")),
        SdpError::UnknownType { line: 8, kind: 'x' }
    );
    // Structural problems: all Syntax with the right line.
    for (bad, line) in [
        (
            GOOD.replace("a=rtpmap:0 PCMU/8000", "rtpmap:0 PCMU/8000"),
            7,
        ),
        (
            GOOD.replace("a=rtpmap:0 PCMU/8000", "A=rtpmap:0 PCMU/8000"),
            7,
        ),
        (
            GOOD.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:200 PCMU/8000"),
            7,
        ),
        (
            GOOD.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:x PCMU/8000"),
            7,
        ),
        (GOOD.replace("a=rtpmap:0 PCMU/8000", "a=ptime:abc"), 7),
        (GOOD.replace("a=rtpmap:0 PCMU/8000", "a=ptime:20."), 7),
        (GOOD.replace("a=rtpmap:0 PCMU/8000", "a=fmtp:101"), 7),
        (GOOD.replace("a=rtpmap:0 PCMU/8000", "a=sendonly:yes"), 7),
        (
            GOOD.replace("a=rtpmap:0 PCMU/8000", "a=sendonly\r\na=recvonly"),
            8,
        ),
        (GOOD.replace("a=rtpmap:0 PCMU/8000", "a=:x"), 7),
        (
            GOOD.replace("m=audio 5004 RTP/AVP 0", "m=audio 5004 RTP/AVP"),
            6,
        ),
        (
            GOOD.replace("m=audio 5004 RTP/AVP 0", "m=audio 70000 RTP/AVP 0"),
            6,
        ),
        (
            GOOD.replace("m=audio 5004 RTP/AVP 0", "m=audio  5004 RTP/AVP 0"),
            6,
        ),
        (GOOD.replace("m=audio 5004 RTP/AVP 0", "m=audio 5004"), 6),
        (GOOD.replace("c=IN IP4 192.0.2.1", "c=IN IP4"), 4),
        (
            GOOD.replace("c=IN IP4 192.0.2.1", "c=IN IP4 2001:db8::1"),
            4,
        ),
        (GOOD.replace("c=IN IP4 192.0.2.1", "c=IN IP6 192.0.2.1"), 4),
        (GOOD.replace("o=- 1 1 IN IP4", "o=- 1 IN IP4"), 2),
        (GOOD.replace("t=0 0", "t=0"), 5),
        (GOOD.replace("t=0 0", "t=now 0"), 5),
        (GOOD.replace("s=-\r\n", "s=-\r\nb=AS\r\n"), 4),
        (GOOD.replace("s=-\r\n", "s=-\r\n\r\n"), 4),
        (GOOD.replace("s=-\r\n", "s=-\r\n=x\r\n"), 4),
    ] {
        let e = err(&bad);
        assert!(matches!(e, SdpError::Syntax { .. }), "{bad:?}: {e:?}");
        assert_eq!(e.line(), Some(line), "{bad:?}: {e}");
    }
    // No c= anywhere for an active stream; a port-0 stream needs none.
    let no_c = GOOD.replace("c=IN IP4 192.0.2.1\r\n", "");
    assert_eq!(err(&no_c), SdpError::MissingConnection { line: 5 });
    assert!(SessionDescription::parse(&no_c.replace("audio 5004", "audio 0")).is_ok());
}

#[test]
fn parser_tolerates_lf_trailing_blank_lines_and_unknown_attributes() {
    let lf = GOOD.replace("\r\n", "\n");
    assert_eq!(parse(&lf), parse(GOOD));
    assert_eq!(parse(&format!("{GOOD}\r\n\r\n")), parse(GOOD));
    assert_eq!(parse(GOOD.trim_end()), parse(GOOD));
    let extra =
        format!("{GOOD}a=x-vendor:anything goes : here\r\na=flag\r\na=msid-semantic: WMS \r\n");
    let sdp = parse(&extra);
    assert_eq!(
        sdp.media[0].attributes[1..],
        [
            Attribute::Other {
                name: "x-vendor".into(),
                value: Some("anything goes : here".into())
            },
            Attribute::Other {
                name: "flag".into(),
                value: None
            },
            Attribute::Other {
                name: "msid-semantic".into(),
                value: Some(" WMS ".into())
            },
        ]
    );
    assert_eq!(parse(&sdp.to_string()), sdp);
    // Cisco's `(null)` session id/version is accepted verbatim.
    let cisco = parse(&GOOD.replace("o=- 1 1", "o=Cisco-SIPUA (null) (null)"));
    assert_eq!(cisco.origin.session_id, "(null)");
}

#[test]
fn writer_emits_rfc_order_and_crlf() {
    // normal.sdp has t= before c=; the writer puts c= first (RFC 4566 §5).
    let sdp = parse(&read("sdp/sdp-transform/normal.sdp"));
    let s = sdp.to_string();
    let c = s.find("\r\nc=").unwrap();
    let t = s.find("\r\nt=").unwrap();
    assert!(c < t);
    assert!(s.starts_with("v=0\r\no=- 20518 0 IN IP4 203.0.113.1\r\ns=\r\n"));
    // Port count and bandwidth survive.
    let pc = parse(
        &GOOD
            .replace("5004 RTP", "5004/2 RTP")
            .replace("s=-\r\n", "s=-\r\nb=AS:64\r\n"),
    );
    assert_eq!(pc.media[0].port_count, Some(2));
    assert!(pc.to_string().contains("m=audio 5004/2 RTP/AVP 0\r\n"));
    assert!(pc.to_string().contains("b=AS:64\r\n"));
}
