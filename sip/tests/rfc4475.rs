//! RFC 4475 SIP torture tests against our stack.
//!
//! (a) In memory: every message of the corpus through what the UDP path runs before any
//!     transaction sees it — [`screen_datagram`] (raw bytes), rsipstack's parser and
//!     [`check_request`] — against the outcome RFC 4475 names for it.
//! (b) On loopback: the real stack ([`zvonar_sip::ua::start`]) with a small engine that
//!     answers every call with a negotiated SDP answer; each message is sent raw over UDP
//!     and over TCP, what comes back is checked, and after each one a normal call
//!     (INVITE/100/180/200/ACK/BYE/200) must still work. At the end SIPp's built-in UAC
//!     runs 5 calls against the same server.
//!
//! Responses: the corpus Via headers name hosts that do not exist. We do not rewrite them:
//! rsipstack stamps `received`/`rport` on the top Via of every request (RFC 3261 §18.2.1,
//! RFC 3581) and answers to that, i.e. to the socket the request came from; the raw UDP
//! screen and the Guard answer to the source address too. Over TCP responses go back on
//! the connection (§18.2.2).
//!
//! The expectation table ([`CASES`]) is written from RFC 4475's text for each message
//! (and RFC 3261 for what a UAS answers); where several answers are acceptable the set
//! lists them. Where rsipstack forces another outcome the entry says DEVIATION and why.

use rsipstack::sip::{HasHeaders, SipMessage};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;
use zvonar_sip::sdp::{create_offer, negotiate_answer, LocalMedia, SessionDescription};
use zvonar_sip::ua::{self, CallSignal, EndReason, IncomingCall, SipConfig};
use zvonar_sip::validate::{check_request, normalize, screen_datagram, Screen};

/// What the pre-transaction checks make of a message, in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mem {
    /// Handed on to the transaction layer.
    Pass,
    /// Answered with this status before any transaction.
    Reject(u16),
    /// Dropped without an answer (a response to nothing, or nothing to answer to).
    Drop,
}

/// What a peer sees on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    /// A final response with this status.
    Status(u16),
    /// The INVITE was answered 200 with SDP (we then ACK and BYE it).
    Call,
    /// Nothing within the wait (TCP: connection still open).
    Nothing,
    /// TCP: the server closed the connection without answering.
    Closed,
}

use Mem::{Drop as Dropped, Pass, Reject};
use Net::{Call, Closed, Nothing, Status};

/// A valid INVITE: a call. The corpus offers carry `a=rtpmap:31 LPC` (no clock rate, which
/// RFC 4566 §6 requires) in their video section; the SDP parser keeps it as an unknown
/// attribute, so the audio stream is answered and the call is taken.
const CALL: &[Net] = &[Call];

struct Case {
    file: &'static str,
    /// Whether rsipstack's parser (`SipMessage::try_from`) accepts the bytes.
    parses: bool,
    /// Acceptable in-memory outcomes.
    mem: &'static [Mem],
    /// Acceptable outcomes over UDP.
    udp: &'static [Net],
    /// Acceptable outcomes over TCP.
    tcp: &'static [Net],
    /// A header line the (first) final response must contain.
    header: Option<&'static str>,
    /// Why: the RFC's words, and DEVIATION where rsipstack forces another outcome.
    why: &'static str,
}

const fn case(
    file: &'static str,
    parses: bool,
    mem: &'static [Mem],
    udp: &'static [Net],
    tcp: &'static [Net],
    why: &'static str,
) -> Case {
    Case {
        file,
        parses,
        mem,
        udp,
        tcp,
        header: None,
        why,
    }
}

const fn with_header(mut c: Case, header: &'static str) -> Case {
    c.header = Some(header);
    c
}

/// File → outcome, from RFC 4475 (sections in MANIFEST.tsv) and RFC 3261's UAS rules.
const CASES: &[Case] = &[
    // §3.1.1 valid messages: parse, and process as any request.
    case(
        "wsinv.dat",
        true,
        &[Pass],
        &[Status(481)],
        &[Status(400), Closed],
        "§3.1.1.1 valid; its To has a tag and no dialog matches: 481 (RFC 3261 §12.2.2). \
         DEVIATION over TCP: rsipstack's stream framer does not trim the header name in \
         `Content-Length   : 150` (RFC 3261 §7.3.1 HCOLON allows the blanks), frames the \
         message without its body, and the Guard refuses the Content-Length mismatch; the \
         unframed body then fails to parse and the connection closes",
    ),
    case(
        "intmeth.dat",
        false,
        &[Reject(501)],
        &[Status(501)],
        &[Closed],
        "§3.1.1.2 valid extension method: a UAS answers 501 (RFC 3261 §8.2.1, §21.5.2). \
         DEVIATION: rsipstack's Method has no extension methods, so its parser fails; over \
         UDP our screen answers 501, over TCP rsipstack closes the connection",
    ),
    case(
        "esc01.dat",
        true,
        &[Pass],
        CALL,
        CALL,
        "§3.1.1.3 valid INVITE: a call",
    ),
    case(
        "escnull.dat",
        true,
        &[Pass],
        &[Status(405)],
        &[Status(405)],
        "§3.1.1.4 valid REGISTER: we are no registrar, 405 (RFC 3261 §8.2.1)",
    ),
    case(
        "esc02.dat",
        false,
        &[Reject(501)],
        &[Status(501)],
        &[Closed],
        "§3.1.1.5 valid: RE%47IST%45R is an unknown method, 501. DEVIATION over TCP as intmeth",
    ),
    case(
        "lwsdisp.dat",
        true,
        &[Pass],
        &[Status(200)],
        &[Status(200)],
        "§3.1.1.6 valid OPTIONS",
    ),
    case(
        "longreq.dat",
        true,
        &[Pass],
        CALL,
        CALL,
        "§3.1.1.7 valid INVITE: a call",
    ),
    case(
        "dblreq.dat",
        true,
        &[Pass],
        &[Status(405)],
        &[Status(405), Closed],
        "§3.1.1.8: over UDP only the first message (REGISTER, CL 0) counts (RFC 3261 §18.3): \
         405. Over TCP the stream holds the REGISTER, a CRLF, then an INVITE. DEVIATION: \
         rsipstack does not skip CRLF before a start line (RFC 3261 §7.5), fails to parse \
         the INVITE and closes the connection, often before the 405 is written",
    ),
    case(
        "semiuri.dat",
        true,
        &[Pass],
        &[Status(200)],
        &[Status(200)],
        "§3.1.1.9 valid OPTIONS",
    ),
    case(
        "transports.dat",
        true,
        &[Pass],
        &[Status(200)],
        &[Status(200)],
        "§3.1.1.10 valid OPTIONS; unknown transports in lower Vias are not ours to judge",
    ),
    case(
        "mpart01.dat",
        true,
        &[Pass],
        &[Status(405)],
        &[Status(405)],
        "§3.1.1.11 valid MESSAGE: recognised, not served: 405 (RFC 3261 §8.2.1)",
    ),
    case(
        "unreason.dat",
        true,
        &[Dropped],
        &[Nothing],
        &[Nothing],
        "§3.1.1.12 valid response, to no request of ours: dropped (RFC 3261 §18.1.2)",
    ),
    case(
        "noreason.dat",
        true,
        &[Dropped],
        &[Nothing],
        &[Nothing],
        "§3.1.1.13 as unreason",
    ),
    // §3.1.2 invalid messages: respond 400 if one can.
    with_header(
        case(
            "badinv01.dat",
            true,
            &[Reject(400)],
            &[Status(400)],
            &[Status(400)],
            "§3.1.2.1 empty Via/Contact parameters: 400",
        ),
        "Via: SIP/2.0/UDP 192.0.2.15",
    ),
    case(
        "clerr.dat",
        true,
        &[Reject(400)],
        &[Status(400)],
        &[Nothing],
        "§3.1.2.2 Content-Length > body: 400 over UDP; over TCP the server waits for the \
         rest (and we close)",
    ),
    case(
        "ncl.dat",
        true,
        &[Reject(400)],
        &[Status(400)],
        &[Closed, Status(400)],
        "§3.1.2.3 negative Content-Length: 400 over UDP; over TCP framing is lost: close",
    ),
    case(
        "scalar02.dat",
        true,
        &[Reject(400)],
        &[Status(400)],
        &[Status(400)],
        "§3.1.2.4 CSeq ≥ 2^31, Max-Forwards 300: 400",
    ),
    case(
        "scalarlg.dat",
        true,
        &[Dropped],
        &[Nothing],
        &[Nothing],
        "§3.1.2.5 response with overlarge values: discarded",
    ),
    case(
        "quotbal.dat",
        true,
        &[Reject(400)],
        &[Status(400)],
        &[Status(400)],
        "§3.1.2.6 unterminated quoted string: 400",
    ),
    case(
        "ltgtruri.dat",
        true,
        &[Reject(400)],
        &[Status(400)],
        CALL,
        "§3.1.2.7 Request-URI in <>: 400. DEVIATION over TCP: rsipstack's parser strips the \
         brackets, only the raw UDP screen sees them, so over TCP it becomes a call",
    ),
    case(
        "lwsruri.dat",
        false,
        &[Reject(400)],
        &[Status(400)],
        &[Closed],
        "§3.1.2.8 LWS in Request-URI: 400. DEVIATION over TCP: rsipstack closes unanswered",
    ),
    case(
        "lwsstart.dat",
        false,
        &[Reject(400)],
        &[Status(400)],
        &[Closed],
        "§3.1.2.9 multiple SP in Request-Line: 400. DEVIATION over TCP as lwsruri",
    ),
    case(
        "trws.dat",
        true,
        &[Pass, Reject(400)],
        &[Status(200), Status(400)],
        &[Status(200), Status(400)],
        "§3.1.2.10 trailing SP: 400, or an element may accept it robustly (we do)",
    ),
    case(
        "escruri.dat",
        true,
        &[Reject(400), Pass],
        &[Status(400), Call],
        &[Status(400), Call],
        "§3.1.2.11 headers in Request-URI: 400, or may accept ignoring them; we refuse \
         (RFC 3261 §19.1.1)",
    ),
    case(
        "baddate.dat",
        true,
        &[Pass, Reject(400)],
        &[Call, Status(488), Status(400)],
        &[Call, Status(488), Status(400)],
        "§3.1.2.12 bad Date time zone: 400, or may accept ignoring Date (we do; see CALL)",
    ),
    case(
        "regbadct.dat",
        true,
        &[Pass, Reject(400)],
        &[Status(405), Status(400)],
        &[Status(405), Status(400)],
        "§3.1.2.13 REGISTER with unbracketed Contact URI: 400; a non-registrar may accept it \
         as far as answering 405 (we do)",
    ),
    case(
        "badaspec.dat",
        true,
        &[Pass, Reject(400)],
        &[Status(200), Status(400)],
        &[Status(200), Status(400)],
        "§3.1.2.14 spaces in addr-spec: 400, or may accept ignoring them (we do)",
    ),
    case(
        "baddn.dat",
        false,
        &[Reject(400)],
        &[Status(400)],
        &[Nothing],
        "§3.1.2.15 non-token display name: 400. This copy has no blank line after the \
         headers: rsipstack's parser fails, the UDP screen answers 400; over TCP the server \
         waits for the end of the headers",
    ),
    case(
        "badvers.dat",
        true,
        &[Reject(505)],
        &[Status(505)],
        &[Status(505)],
        "§3.1.2.16 SIP/7.0: 505 (RFC 3261 §21.5.7)",
    ),
    case(
        "mismatch01.dat",
        true,
        &[Reject(400)],
        &[Status(400)],
        &[Status(400)],
        "§3.1.2.17 CSeq method ≠ request method: 400",
    ),
    case(
        "mismatch02.dat",
        false,
        &[Reject(400), Reject(501)],
        &[Status(400), Status(501)],
        &[Closed],
        "§3.1.2.18 unknown method, CSeq mismatch: 501 or 400. DEVIATION over TCP as intmeth",
    ),
    case(
        "bigcode.dat",
        false,
        &[Dropped],
        &[Nothing],
        &[Closed, Nothing],
        "§3.1.2.19 response code > 699: discarded (over TCP rsipstack closes the connection)",
    ),
    // §3.2 transaction layer.
    case(
        "badbranch.dat",
        true,
        &[Pass, Reject(400)],
        &[Status(200), Status(400)],
        &[Status(200), Status(400)],
        "§3.2.1 branch=z9hG4bK alone: 400, or fall back to RFC 2543 matching (we answer)",
    ),
    // §3.3 application layer.
    case(
        "insuf.dat",
        true,
        &[Reject(400)],
        &[Status(400)],
        &[Status(400)],
        "§3.3.1 missing Call-ID/From/To/Max-Forwards: 400 (RFC 3261 §8.1.1)",
    ),
    case(
        "unkscm.dat",
        true,
        &[Reject(416)],
        &[Status(416)],
        &[Status(416)],
        "§3.3.2 unknown Request-URI scheme: 416 (RFC 3261 §8.2.2.1)",
    ),
    case(
        "novelsc.dat",
        true,
        &[Reject(416)],
        &[Status(416)],
        &[Status(416)],
        "§3.3.3 soap.beep: never meaningful to us: 416",
    ),
    case(
        "unksm2.dat",
        true,
        &[Pass, Reject(400)],
        &[Status(405), Status(400)],
        &[Status(405), Status(400)],
        "§3.3.4 REGISTER with non-SIP To/From/Contact: a registrar says 400; we are none: 405",
    ),
    with_header(
        case(
            "bext01.dat",
            true,
            &[Reject(420)],
            &[Status(420)],
            &[Status(420)],
            "§3.3.5 Require with unknown options: 420 with Unsupported; Proxy-Require is for \
         proxies (RFC 3261 §8.2.2.3)",
        ),
        "Unsupported: nothingSupportsThis, nothingSupportsThisEither",
    ),
    with_header(
        case(
            "invut.dat",
            true,
            &[Reject(415)],
            &[Status(415)],
            &[Status(415)],
            "§3.3.6 unknown Content-Type: 415 with Accept (RFC 3261 §8.2.3)",
        ),
        "Accept: application/sdp",
    ),
    case(
        "regaut01.dat",
        true,
        &[Pass],
        &[Status(405)],
        &[Status(405)],
        "§3.3.7 unknown Authorization scheme on REGISTER: ignored; we are no registrar: 405",
    ),
    case(
        "multi01.dat",
        true,
        &[Reject(400)],
        &[Status(400)],
        &[Status(400)],
        "§3.3.8 repeated single-value headers: 400",
    ),
    case(
        "mcl01.dat",
        true,
        &[Reject(400)],
        &[Status(400)],
        &[Status(400), Closed],
        "§3.3.9 two Content-Length values: 400; over TCP framing is lost and the connection \
         should be closed (rsipstack closes it, often before the 400 is written)",
    ),
    case(
        "bcast.dat",
        true,
        &[Dropped],
        &[Nothing],
        &[Nothing],
        "§3.3.10 200 with a broadcast Via, to no request of ours: dropped (and never sent \
         to 255.255.255.255)",
    ),
    case(
        "zeromf.dat",
        true,
        &[Pass],
        &[Status(200)],
        &[Status(200)],
        "§3.3.11 Max-Forwards 0 to the UAS it is for: answered normally (483 is a proxy's)",
    ),
    case(
        "cparam01.dat",
        true,
        &[Pass],
        &[Status(405)],
        &[Status(405)],
        "§3.3.12 valid REGISTER: 405",
    ),
    case(
        "cparam02.dat",
        true,
        &[Pass],
        &[Status(405)],
        &[Status(405)],
        "§3.3.13 valid REGISTER: 405",
    ),
    case(
        "regescrt.dat",
        true,
        &[Pass, Reject(400)],
        &[Status(405), Status(400)],
        &[Status(405), Status(400)],
        "§3.3.14 REGISTER with escaped header in Contact: 405 from a non-registrar",
    ),
    with_header(
        case(
            "sdp01.dat",
            true,
            &[Reject(406), Reject(400)],
            &[Status(406), Status(400)],
            &[Status(406), Status(400)],
            "§3.3.15 Accept without application/sdp on INVITE: 406 (or 400)",
        ),
        "Accept: application/sdp",
    ),
    // §3.4 backward compatibility.
    case(
        "inv2543.dat",
        true,
        &[Reject(400)],
        &[Status(400)],
        &[Status(400)],
        "§3.4.1 RFC 2543 INVITE: backward-compatible elements should accept it. DEVIATION: \
         it has no From tag and rsipstack keys transactions on it (it would drop the \
         request unanswered), so we answer 400 (RFC 3261 §8.1.1.3)",
    ),
    // Not from RFC 4475.
    case(
        "test.dat",
        false,
        &[Dropped],
        &[Nothing],
        &[Closed, Nothing],
        "not an RFC 4475 message: no SIP-Version, no Via: nothing to answer to",
    ),
];

/// The vendored RFC 4475 messages (`tests/fixtures/rfc4475/`, origin in its `SOURCE.md`).
fn corpus_dir() -> PathBuf {
    zvonar_fixtures::path("rfc4475")
}

/// (file, class) rows of MANIFEST.tsv.
fn manifest() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(corpus_dir().join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (
                cols[0].to_string(),
                cols.get(3).copied().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn read(file: &str) -> Vec<u8> {
    std::fs::read(corpus_dir().join(file)).expect(file)
}

fn peer() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5099)
}

fn status_of(bytes: &[u8]) -> u16 {
    match SipMessage::try_from(bytes) {
        Ok(SipMessage::Response(r)) => u16::from(r.status_code),
        other => panic!("not a response: {other:?}"),
    }
}

/// The in-memory pipeline: raw screen, parser, request checks.
fn in_memory(bytes: &[u8]) -> Mem {
    match screen_datagram(bytes, peer()) {
        Screen::Answer(resp) => Reject(status_of(&resp)),
        Screen::Drop => Dropped,
        Screen::Pass => match SipMessage::try_from(bytes) {
            Ok(SipMessage::Request(mut req)) => {
                normalize(&mut req);
                match check_request(&req) {
                    Ok(()) => Pass,
                    Err(rej) => Reject(rej.status),
                }
            }
            // A response to no request of ours, or one that does not parse: dropped.
            Ok(SipMessage::Response(_)) | Err(_) => Dropped,
        },
    }
}

#[test]
fn table_covers_the_manifest_and_agrees_with_its_classes() {
    let rows = manifest();
    assert_eq!(rows.len(), CASES.len(), "one table entry per manifest row");
    for (file, class) in &rows {
        let c = CASES
            .iter()
            .find(|c| c.file == file)
            .unwrap_or_else(|| panic!("{file} has no expectation"));
        let deviation = c.why.contains("DEVIATION");
        let is_response = read(file).starts_with(b"SIP/");
        if is_response {
            assert_eq!(c.mem, &[Dropped], "{file}: responses are dropped");
        } else if class.starts_with("valid-syntax")
            || class.starts_with("backward-compat")
            || class.contains("(valid)")
        {
            assert!(
                c.mem.contains(&Pass)
                    || deviation
                    || c.mem.iter().all(|m| matches!(m, Reject(405 | 501))),
                "{file} is valid per RFC 4475 and must be processed"
            );
        } else if class.starts_with("INVALID") {
            assert!(
                !c.mem.contains(&Pass) || c.why.contains("may accept"),
                "{file} is invalid per RFC 4475"
            );
        }
    }
}

#[test]
fn in_memory_outcomes_match_rfc4475() {
    let mut failures = Vec::new();
    for c in CASES {
        let bytes = read(c.file);
        let parses = SipMessage::try_from(&bytes[..]).is_ok();
        if parses != c.parses {
            failures.push(format!(
                "{}: rsipstack parses = {parses}, table says {}",
                c.file, c.parses
            ));
        }
        let got = in_memory(&bytes);
        if !c.mem.contains(&got) {
            failures.push(format!(
                "{}: got {got:?}, expected one of {:?} ({})",
                c.file, c.mem, c.why
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Loopback.

/// The engine stand-in: answers every call with a negotiated SDP answer (our offer for an
/// offerless INVITE), 488 when negotiation fails; reports how each call ended.
async fn engine(
    mut calls: mpsc::Receiver<IncomingCall>,
    ended: mpsc::UnboundedSender<(String, EndReason)>,
) {
    while let Some(call) = calls.recv().await {
        tokio::spawn(serve_call(call, ended.clone()));
    }
}

fn answer_for(offer: &str, local: &LocalMedia) -> Option<String> {
    let offer = SessionDescription::parse(offer).ok()?;
    negotiate_answer(&offer, local)
        .ok()
        .map(|n| n.answer.to_string())
}

async fn serve_call(mut call: IncomingCall, ended: mpsc::UnboundedSender<(String, EndReason)>) {
    let local = LocalMedia::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 30000);
    let sdp = match &call.offer {
        Some(offer) => answer_for(offer, &local),
        None => Some(create_offer(&local).to_string()),
    };
    match sdp {
        Some(sdp) => {
            call.leg.ringing();
            if call.leg.answer(sdp).is_err() {
                return;
            }
        }
        None => call.leg.reject(488, None),
    }
    while let Some(signal) = call.signals.recv().await {
        match signal {
            CallSignal::Confirmed { .. } => {}
            CallSignal::Info { responder, .. } => responder.respond(200, None).await,
            CallSignal::Offer { sdp, responder, .. } => match answer_for(&sdp, &local) {
                Some(a) => {
                    responder
                        .respond(200, Some(("application/sdp".into(), a.into_bytes())))
                        .await
                }
                None => responder.respond(488, None).await,
            },
            CallSignal::Terminated(reason) => {
                let _ = ended.send((call.sip_call_id.clone(), reason));
                return;
            }
        }
    }
}

struct Server {
    udp: SocketAddr,
    tcp: SocketAddr,
    ended: mpsc::UnboundedReceiver<(String, EndReason)>,
    cancel: CancellationToken,
}

async fn start_server() -> Server {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    let tcp_port = free.local_addr().expect("addr").port();
    drop(free);
    let cancel = CancellationToken::new();
    let config = SipConfig {
        udp: "127.0.0.1:0".parse().expect("addr"),
        tcp: Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), tcp_port)),
        ws: None,
        wss: None,
        stream_idle_timeout: None,
        public_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        user_agent: "zvonar-rfc4475".into(),
        admission: None,
        registrar: None,
    };
    let (server, calls) = ua::start(config, cancel.clone()).await.expect("start");
    let (ended_tx, ended) = mpsc::unbounded_channel();
    tokio::spawn(engine(calls, ended_tx));
    let tcp = server.tcp_addr.expect("tcp");
    // Wait until the TCP listener accepts (rsipstack starts it from serve()).
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(tcp).await.is_err() {
        assert!(Instant::now() < deadline, "TCP listener never came up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Server {
        udp: server.udp_addr,
        tcp,
        ended,
        cancel,
    }
}

/// Raw value of the first header named `name` (or its compact form) in a message.
fn raw_header(msg: &[u8], name: &str, compact: &str) -> Option<String> {
    let text = String::from_utf8_lossy(msg);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string();
    head.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        let n = n.trim();
        (n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(compact))
            .then(|| v.trim().to_string())
    })
}

/// One message of ours or the server's, as text, with its parsed form.
struct Msg {
    raw: Vec<u8>,
}

impl Msg {
    fn status(&self) -> u16 {
        status_of(&self.raw)
    }
    fn header(&self, name: &str) -> Option<String> {
        match SipMessage::try_from(&self.raw[..]) {
            Ok(m) => m
                .headers()
                .iter()
                .find(|h| h.name().eq_ignore_ascii_case(name))
                .map(|h| h.value().trim().to_string()),
            Err(_) => None,
        }
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
    fn body(&self) -> Vec<u8> {
        match SipMessage::try_from(&self.raw[..]) {
            Ok(SipMessage::Response(r)) => r.body,
            _ => Vec::new(),
        }
    }
}

/// A raw SIP peer over UDP or TCP.
enum Peer {
    Udp(UdpSocket, SocketAddr),
    Tcp(TcpStream, Vec<u8>),
}

enum Recv {
    Msg(Msg),
    Timeout,
    Closed,
}

impl Peer {
    async fn udp(server: SocketAddr) -> Peer {
        Peer::Udp(UdpSocket::bind("127.0.0.1:0").await.expect("bind"), server)
    }

    async fn tcp(server: SocketAddr) -> Peer {
        Peer::Tcp(
            TcpStream::connect(server).await.expect("connect"),
            Vec::new(),
        )
    }

    fn transport(&self) -> &'static str {
        match self {
            Peer::Udp(..) => "UDP",
            Peer::Tcp(..) => "TCP",
        }
    }

    fn local(&self) -> SocketAddr {
        match self {
            Peer::Udp(s, _) => s.local_addr().expect("addr"),
            Peer::Tcp(s, _) => s.local_addr().expect("addr"),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        match self {
            Peer::Udp(s, to) => {
                s.send_to(bytes, *to).await.expect("send");
            }
            Peer::Tcp(s, _) => s.write_all(bytes).await.expect("write"),
        }
    }

    /// The next message, waiting until `deadline`.
    async fn recv(&mut self, deadline: Instant) -> Recv {
        match self {
            Peer::Udp(s, _) => {
                let mut buf = vec![0u8; 65536];
                match tokio::time::timeout_at(deadline, s.recv_from(&mut buf)).await {
                    Ok(Ok((n, _))) => Recv::Msg(Msg {
                        raw: buf[..n].to_vec(),
                    }),
                    Ok(Err(_)) => Recv::Closed,
                    Err(_) => Recv::Timeout,
                }
            }
            Peer::Tcp(s, acc) => loop {
                if let Some(n) = framed_len(acc) {
                    let raw: Vec<u8> = acc.drain(..n).collect();
                    return Recv::Msg(Msg { raw });
                }
                let mut buf = vec![0u8; 65536];
                match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return Recv::Closed,
                    Ok(Ok(n)) => acc.extend_from_slice(&buf[..n]),
                    Err(_) => return Recv::Timeout,
                }
            },
        }
    }

    /// Responses carrying `call_id` until a final one for `method` (returned last), the
    /// deadline, or a closed connection.
    async fn until_final(
        &mut self,
        call_id: &str,
        method: &str,
        wait: Duration,
    ) -> (Vec<Msg>, bool) {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        loop {
            match self.recv(deadline).await {
                Recv::Msg(m) => {
                    let same_call = match m.header("Call-ID") {
                        Some(id) => id == call_id,
                        None => call_id.is_empty(),
                    };
                    if !m.raw.starts_with(b"SIP/") || !same_call {
                        continue;
                    }
                    let cseq_method = m
                        .header("CSeq")
                        .and_then(|c| c.split_whitespace().nth(1).map(str::to_string));
                    let done = m.status() >= 200 && cseq_method.as_deref() == Some(method);
                    got.push(m);
                    if done {
                        return (got, false);
                    }
                }
                Recv::Timeout => return (got, false),
                Recv::Closed => return (got, true),
            }
        }
    }
}

/// Length of the first complete message in a TCP buffer (RFC 3261 §18.3 framing).
fn framed_len(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let cl = raw_header(&buf[..end], "Content-Length", "l")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    (buf.len() >= end + cl).then_some(end + cl)
}

fn token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// ACK and BYE for an answered INVITE, from the 200's dialog fields; expects 200 to BYE.
async fn ack_and_bye(peer: &mut Peer, ok: &Msg, cseq: u32, what: &str) {
    let local = peer.local();
    let t = peer.transport();
    let from = ok.header("From").expect("From");
    let to = ok.header("To").expect("To");
    let call_id = ok.header("Call-ID").expect("Call-ID");
    let contact = ok.header("Contact").expect("Contact in 200");
    let target = contact
        .trim()
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or_default()
        .to_string();
    for (method, seq) in [("ACK", cseq), ("BYE", cseq + 1)] {
        let msg = format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/{t} {local};branch=z9hG4bK{b};rport\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
             CSeq: {seq} {method}\r\nContent-Length: 0\r\n\r\n",
            b = token()
        );
        peer.send(msg.as_bytes()).await;
    }
    let (got, _) = peer
        .until_final(&call_id, "BYE", Duration::from_secs(3))
        .await;
    let last = got
        .last()
        .unwrap_or_else(|| panic!("{what}: no response to BYE"));
    assert_eq!(last.status(), 200, "{what}: BYE answered {}", last.text());
}

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";

/// A well-formed call: INVITE with SDP → 100, 180, 200 with an SDP answer → ACK → BYE → 200,
/// and the engine sees the caller's BYE.
async fn normal_call(server: &mut Server, transport: &str, after: &str) {
    let mut peer = match transport {
        "UDP" => Peer::udp(server.udp).await,
        _ => Peer::tcp(server.tcp).await,
    };
    let local = peer.local();
    let target = match transport {
        "UDP" => server.udp,
        _ => server.tcp,
    };
    let call_id = format!("{}@rfc4475", token());
    let invite = format!(
        "INVITE sip:robot@{target} SIP/2.0\r\nVia: SIP/2.0/{transport} {local};branch=z9hG4bK{b};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:caller@{local}>;tag={tag}\r\nTo: <sip:robot@{target}>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{local};transport={lt}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{OFFER}",
        b = token(),
        tag = token(),
        lt = transport.to_ascii_lowercase(),
        len = OFFER.len()
    );
    peer.send(invite.as_bytes()).await;
    let what = format!("normal call over {transport} after {after}");
    let (got, closed) = peer
        .until_final(&call_id, "INVITE", Duration::from_secs(3))
        .await;
    assert!(!closed, "{what}: connection closed");
    // 100 Trying comes from rsipstack's dialog task unless the engine's 180 beat it there:
    // RFC 3261 §17.2.1 only asks for a 100 when the TU would not answer within 200 ms.
    let statuses: Vec<u16> = got.iter().map(Msg::status).filter(|s| *s != 100).collect();
    assert_eq!(statuses, vec![180, 200], "{what}: responses");
    let ok = got.last().expect("200");
    assert_eq!(
        ok.header("Content-Type").as_deref(),
        Some("application/sdp"),
        "{what}"
    );
    let answer =
        SessionDescription::parse(&String::from_utf8_lossy(&ok.body())).expect("SDP answer parses");
    assert_eq!(answer.media.len(), 1, "{what}");
    assert_eq!(answer.media[0].port, 30000, "{what}");
    assert_eq!(
        answer.media[0].formats.first().map(String::as_str),
        Some("0"),
        "{what}: PCMU first"
    );
    ack_and_bye(&mut peer, ok, 1, &what).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (id, reason) = tokio::time::timeout_at(deadline, server.ended.recv())
            .await
            .unwrap_or_else(|_| panic!("{what}: engine never saw the end"))
            .expect("engine alive");
        if id == call_id {
            assert_eq!(reason, EndReason::CallerBye, "{what}");
            break;
        }
    }
}

/// Sends one corpus file and returns what came back (and the peer, for a call's ACK/BYE).
async fn exchange(
    server: &Server,
    transport: &str,
    bytes: &[u8],
    expect: &[Net],
) -> (Net, Option<Msg>, Peer) {
    let mut peer = match transport {
        "UDP" => Peer::udp(server.udp).await,
        _ => Peer::tcp(server.tcp).await,
    };
    peer.send(bytes).await;
    // Wait long for an expected answer; 300 ms where silence is the expectation.
    let wait = if expect.iter().any(|n| matches!(n, Status(_) | Call)) {
        Duration::from_secs(3)
    } else {
        Duration::from_millis(300)
    };
    let call_id = raw_header(bytes, "Call-ID", "i").unwrap_or_default();
    let method = String::from_utf8_lossy(bytes)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    let (mut got, closed) = peer.until_final(&call_id, &method, wait).await;
    let last = got.pop().filter(|m| m.status() >= 200);
    let net = match &last {
        Some(m) if m.status() == 200 && method == "INVITE" && !m.body().is_empty() => Call,
        Some(m) => Status(m.status()),
        None if closed => Closed,
        None => Nothing,
    };
    (net, last, peer)
}

async fn run_corpus(transport: &str) -> Server {
    let mut server = start_server().await;
    let mut failures = Vec::new();
    for c in CASES {
        let bytes = read(c.file);
        let expect = if transport == "UDP" { c.udp } else { c.tcp };
        let (net, resp, mut peer) = exchange(&server, transport, &bytes, expect).await;
        if !expect.contains(&net) {
            failures.push(format!(
                "{} over {transport}: got {net:?}, expected one of {expect:?} ({})",
                c.file, c.why
            ));
        }
        if let (Some(h), Some(r)) = (c.header, &resp) {
            if !r.text().contains(h) {
                failures.push(format!(
                    "{} over {transport}: response lacks {h:?}:\n{}",
                    c.file,
                    r.text()
                ));
            }
        }
        if let (Call, Some(ok)) = (net, &resp) {
            let seq = raw_header(&bytes, "CSeq", "CSeq")
                .and_then(|v| {
                    v.split_whitespace()
                        .next()
                        .and_then(|n| n.parse::<u32>().ok())
                })
                .unwrap_or(1);
            ack_and_bye(&mut peer, ok, seq, c.file).await;
        }
        drop(peer);
        normal_call(&mut server, transport, c.file).await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_loopback() {
    let server = run_corpus("TCP").await;
    server.cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_loopback_then_sipp() {
    let server = run_corpus("UDP").await;
    run_sipp(server.udp).await;
    server.cancel.cancel();
}

/// SIPp's built-in UAC: 5 calls (INVITE, ACK, BYE) must all succeed (exit code 0).
async fn run_sipp(server: SocketAddr) {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let out = timeout(
        Duration::from_secs(40),
        tokio::process::Command::new("sipp")
            .args([
                "-sn",
                "uac",
                &server.to_string(),
                "-m",
                "5",
                "-r",
                "10",
                "-d",
                "0",
            ])
            .args([
                "-timeout",
                "20s",
                "-timeout_error",
                "-nostdin",
                "-i",
                "127.0.0.1",
            ])
            .args(["-p", &port.to_string()])
            .current_dir(std::env::temp_dir())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("sipp finished in time")
    .expect("sipp runs (Debian package sip-tester, deploy/install-deps.sh)");
    assert!(
        out.status.success(),
        "sipp failed: {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
