//! Unit tests of the request checks and the UDP screen, one or more per rule.

use super::*;

/// A well-formed request with `extra` header lines and `body`.
fn raw(start: &str, extra: &str, body: &str) -> Vec<u8> {
    let method = start.split(' ').next().unwrap_or_default();
    format!(
        "{start}\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt1\r\n\
         From: <sip:a@example.com>;tag=f1\r\nTo: <sip:b@example.com>\r\n\
         Call-ID: c1@example.com\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn text(start: &str, extra: &str, body: &str) -> String {
    String::from_utf8(raw(start, extra, body)).unwrap_or_default()
}

fn parse(text: &str) -> Request {
    match SipMessage::try_from(text.as_bytes()) {
        Ok(SipMessage::Request(mut r)) => {
            normalize(&mut r);
            r
        }
        other => panic!("test request does not parse: {other:?}"),
    }
}

fn req(start: &str, extra: &str, body: &str) -> Request {
    parse(&text(start, extra, body))
}

fn status(start: &str, extra: &str, body: &str) -> Option<u16> {
    check_request(&req(start, extra, body))
        .err()
        .map(|r| r.status)
}

const INVITE: &str = "INVITE sip:b@example.com SIP/2.0";
const OPTIONS: &str = "OPTIONS sip:b@example.com SIP/2.0";
const SDP: &str = "v=0\r\n";
const CT_SDP: &str = "Content-Type: application/sdp\r\n";

#[test]
fn well_formed_requests_pass() {
    assert_eq!(status(INVITE, CT_SDP, SDP), None);
    assert_eq!(status(OPTIONS, "", ""), None);
    assert_eq!(status("BYE sip:b@example.com SIP/2.0", "", ""), None);
}

#[test]
fn version_other_than_2_0_is_505() {
    let r = req("OPTIONS sip:b@example.com SIP/7.0", "", "");
    assert_eq!(check_version(&r).map_err(|e| e.status), Err(505));
}

#[test]
fn missing_and_repeated_headers_are_400() {
    let mut r = req(OPTIONS, "", "");
    r.headers
        .retain(|h| !h.name().eq_ignore_ascii_case("Call-ID"));
    assert_eq!(check_headers(&r).map_err(|e| e.status), Err(400));
    assert_eq!(
        status(OPTIONS, "To: <sip:c@example.com>\r\n", ""),
        Some(400)
    );
    let two_ct = "Content-Type: a/b\r\nContent-Type: c/d\r\n";
    assert_eq!(status(OPTIONS, two_ct, ""), Some(400));
}

#[test]
fn from_tag_is_required() {
    let r = parse(&text(OPTIONS, "", "").replace(";tag=f1", ""));
    assert_eq!(check_headers(&r).map_err(|e| e.status), Err(400));
}

#[test]
fn cseq_must_be_small_and_match_the_method() {
    let t = text(OPTIONS, "", "");
    for cseq in [
        "CSeq: 1 INVITE",
        "CSeq: 2147483648 OPTIONS",
        "CSeq: x OPTIONS",
    ] {
        let r = parse(&t.replace("CSeq: 1 OPTIONS", cseq));
        assert_eq!(check_headers(&r).map_err(|e| e.status), Err(400), "{cseq}");
    }
}

#[test]
fn max_forwards_and_content_length_are_checked() {
    let t = text(OPTIONS, "", "");
    for (from, to) in [
        ("Max-Forwards: 70", "Max-Forwards: 256"),
        ("Content-Length: 0", "Content-Length: 5"),
        ("Content-Length: 0", "Content-Length: -1"),
    ] {
        let r = parse(&t.replace(from, to));
        assert_eq!(check_headers(&r).map_err(|e| e.status), Err(400), "{to}");
    }
    // Max-Forwards 0 is fine at the UAS the request is for (RFC 4475 §3.3.11).
    let r = parse(&t.replace("Max-Forwards: 70", "Max-Forwards: 0"));
    assert_eq!(check_request(&r), Ok(()));
}

#[test]
fn malformed_parameters_and_quotes_are_400() {
    let via = "SIP/2.0/UDP 192.0.2.15;;,;,,";
    assert_eq!(
        check_param_list("Via", via),
        Err("empty or malformed parameter")
    );
    assert!(check_param_list("Contact", "\"Joe\" <sip:joe@example.org>;;;;").is_err());
    assert!(check_param_list("To", "\"Mr. J. User <sip:j.user@example.com>").is_err());
    assert!(check_param_list("From", "Bell, Alexander <sip:a@example.com>;tag=43").is_err());
    assert!(check_param_list("To", "<sip:a@example.com;x>;tag=").is_err());
    let two = "<sip:a@example.com>, <sip:b@example.com>;q=0.5";
    assert!(check_param_list("Contact", two).is_ok());
    let quoted = "\"a, \\\"b\\\"\" <sip:a@example.com> ; tag = 98";
    assert!(check_param_list("From", quoted).is_ok());
    let vias = "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b;branch=z9hG4bK2";
    assert!(check_param_list("Via", vias).is_ok());
    let contact = format!("Contact: <sip:x@example.com>;;\r\n{CT_SDP}");
    assert_eq!(status(INVITE, &contact, SDP), Some(400));
}

#[test]
fn normalize_drops_blanks_around_parameters() {
    let t = text(OPTIONS, "", "").replace(
        "From: <sip:a@example.com>;tag=f1",
        "From: \"A\"  <sip:a@example.com> ;  tag  = f1",
    );
    let r = parse(&t);
    let from = r.header_value("From");
    assert_eq!(from.as_deref(), Some("\"A\"  <sip:a@example.com>;tag=f1"));
    assert_eq!(check_request(&r), Ok(()));
}

#[test]
fn headers_in_request_uri_are_400() {
    let start = "OPTIONS sip:b@example.com?Route=%3Csip:x%3E SIP/2.0";
    assert_eq!(status(start, "", ""), Some(400));
}

#[test]
fn unknown_scheme_is_416_for_served_methods_only() {
    assert_eq!(status("OPTIONS nobody:opaque SIP/2.0", "", ""), Some(416));
    let beep = "OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0";
    assert_eq!(status(beep, "", ""), Some(416));
    assert_eq!(status("OPTIONS sips:b@example.com SIP/2.0", "", ""), None);
    // REGISTER is refused by method first (405, RFC 3261 §8.2.1).
    assert_eq!(status("REGISTER nobody:opaque SIP/2.0", "", ""), None);
}

#[test]
fn require_is_420_with_unsupported_except_ack_and_cancel() {
    let r = req(OPTIONS, "Require: foo, bar\r\nProxy-Require: baz\r\n", "");
    let rej = check_request(&r)
        .err()
        .unwrap_or_else(|| panic!("420 expected"));
    assert_eq!(rej.status, 420);
    assert_eq!(rej.headers, vec![("Unsupported", "foo, bar".to_string())]);
    let resp = rejection_response(&r, &rej).to_string();
    assert!(resp.contains("Unsupported: foo, bar\r\n"), "{resp}");
    assert_eq!(status(OPTIONS, "Proxy-Require: baz\r\n", ""), None);
    let cancel = "CANCEL sip:b@example.com SIP/2.0";
    assert_eq!(status(cancel, "Require: foo\r\n", ""), None);
    assert_eq!(
        status("ACK sip:b@example.com SIP/2.0", "Require: foo\r\n", ""),
        None
    );
}

#[test]
fn non_sdp_bodies_on_invite_and_update_are_415() {
    let r = req(
        INVITE,
        "Content-Type: application/unknownformat\r\n",
        "<a/>",
    );
    let rej = check_request(&r)
        .err()
        .unwrap_or_else(|| panic!("415 expected"));
    assert_eq!(rej.status, 415);
    assert!(rej
        .headers
        .contains(&("Accept", "application/sdp".to_string())));
    let resp = rejection_response(&r, &rej).to_string();
    assert!(resp.contains("Accept: application/sdp\r\n"), "{resp}");
    assert_eq!(status(INVITE, "", SDP), Some(415));
    let gzip = format!("{CT_SDP}Content-Encoding: gzip\r\n");
    assert_eq!(status(INVITE, &gzip, SDP), Some(415));
    let ct = "Content-Type: Application/SDP;charset=utf-8\r\n";
    assert_eq!(status(INVITE, ct, SDP), None);
    let update = "UPDATE sip:b@example.com SIP/2.0";
    assert_eq!(
        status(update, "Content-Type: text/plain\r\n", "x"),
        Some(415)
    );
    // INFO bodies (dtmf-relay) are the engine's business; an offerless INVITE is fine.
    let info = "INFO sip:b@example.com SIP/2.0";
    let dtmf = "Content-Type: application/dtmf-relay\r\n";
    assert_eq!(status(info, dtmf, "Signal=1\r\n"), None);
    assert_eq!(status(INVITE, "", ""), None);
}

#[test]
fn accept_without_sdp_is_406() {
    let h = |accept: &str| format!("{CT_SDP}Accept: {accept}\r\n");
    assert_eq!(status(INVITE, &h("text/nobodyKnowsThis"), SDP), Some(406));
    assert_eq!(status(INVITE, &h("text/plain, application/sdp"), SDP), None);
    assert_eq!(status(INVITE, &h("application/*"), SDP), None);
    assert_eq!(status(OPTIONS, "Accept: text/plain\r\n", ""), None);
}

#[test]
fn error_response_copies_headers_and_adds_a_to_tag() {
    let resp = error_response(&req(OPTIONS, "", ""), 400).to_string();
    assert!(resp.starts_with("SIP/2.0 400"), "{resp}");
    for h in [
        "Via: SIP/2.0/UDP 192.0.2.1:5060",
        "From: <sip:a@example.com>;tag=f1",
        "Call-ID: c1@example.com",
        "CSeq: 1 OPTIONS",
        "To: <sip:b@example.com>;tag=zv",
    ] {
        assert!(resp.contains(h), "{h} missing in {resp}");
    }
    assert!(has_tag("sip:b@example.com ;  tag = 1"));
    assert!(!has_tag("<sip:b@example.com;tag=1>"));
}

fn from() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5099))
}

fn answered(packet: &str) -> String {
    match screen_datagram(packet.as_bytes(), from()) {
        Screen::Answer(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("expected an answer, got {other:?}"),
    }
}

#[test]
fn screen_passes_what_rsipstack_parses() {
    assert_eq!(screen_datagram(&raw(OPTIONS, "", ""), from()), Screen::Pass);
    assert_eq!(screen_datagram(b"\r\n\r\n", from()), Screen::Pass);
    let big = b"SIP/2.0 4294967301 Big\r\n\r\n";
    assert_eq!(screen_datagram(big, from()), Screen::Pass);
}

#[test]
fn screen_answers_extension_methods_501() {
    let t = text("FOO sip:b@example.com SIP/2.0", "", "");
    let resp = answered(&t);
    assert!(
        resp.starts_with("SIP/2.0 501 Not Implemented\r\n"),
        "{resp}"
    );
    let via = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt1;received=127.0.0.1\r\n";
    assert!(resp.contains(via), "{resp}");
    assert!(resp.contains("CSeq: 1 FOO\r\n"), "{resp}");
    assert!(resp.contains("To: <sip:b@example.com>;tag=zv"), "{resp}");
    // A CSeq that names another method makes it a bad request (RFC 4475 §3.1.2.18).
    let bad = t.replace("CSeq: 1 FOO", "CSeq: 1 INVITE");
    assert!(answered(&bad).starts_with("SIP/2.0 400 "));
}

#[test]
fn screen_answers_broken_request_lines_400() {
    for start in [
        "INVITE  sip:b@example.com  SIP/2.0",
        "INVITE sip:b@example.com; lr SIP/2.0",
        "INVITE <sip:b@example.com> SIP/2.0",
    ] {
        let t = text(start, CT_SDP, SDP);
        assert!(answered(&t).starts_with("SIP/2.0 400 "), "{start}");
    }
    // No blank line after the headers: still answerable from the raw lines.
    let cut = text(OPTIONS, "", "");
    let cut = cut.trim_end_matches("\r\n");
    assert!(answered(cut).starts_with("SIP/2.0 400 "));
}

#[test]
fn screen_drops_what_it_cannot_answer() {
    // No Via: nowhere to answer (RFC 3261 §18.2.2).
    let no_via = b"INVITE sip:a@b SIP/2.0 x\r\nFrom: x\r\n\r\n";
    assert_eq!(screen_datagram(no_via, from()), Screen::Drop);
    // ACK is never answered.
    let ack = text("ACK  sip:b@example.com SIP/2.0", "", "");
    assert_eq!(screen_datagram(ack.as_bytes(), from()), Screen::Drop);
}

#[test]
fn source_is_stamped_over_a_forged_received() {
    let src: std::net::IpAddr = "198.51.100.7".parse().expect("ip");
    // Sent-by equal to the source, and a `received` the sender wrote to look trusted.
    for via in [
        "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKs1;received=10.0.0.1",
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKs1;rport",
        "Via: SIP/2.0/UDP pbx.example:5060;branch=z9hG4bKs1",
    ] {
        let t = text("INVITE sip:b@example.com SIP/2.0", "", "").replacen(
            "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt1",
            via,
            1,
        );
        let mut r = parse(&t);
        stamp_source(&mut r, src);
        assert_eq!(source_ip(&r), Some(src), "{via}");
        let top = r.top_via_header().expect("via").value().to_string();
        assert_eq!(top.matches("received=").count(), 1, "{top}");
        assert!(top.contains("branch=z9hG4bKs1"), "{top}");
    }
    // Not passed through the guard: unknown.
    assert_eq!(
        source_ip(&req("INVITE sip:b@example.com SIP/2.0", "", "")),
        None
    );
}
