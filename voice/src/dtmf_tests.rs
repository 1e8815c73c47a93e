#![allow(clippy::unwrap_used)] // tests may unwrap
use super::*;
use crate::rtp::parse_incoming;
use crate::test_util::{corpus, read_pcap_udp};

#[test]
fn real_pcaps_yield_each_digit_exactly_once() {
    let cases = [
        ("0", '0'),
        ("1", '1'),
        ("2", '2'),
        ("3", '3'),
        ("4", '4'),
        ("5", '5'),
        ("6", '6'),
        ("7", '7'),
        ("8", '8'),
        ("9", '9'),
        ("star", '*'),
        ("pound", '#'),
    ];
    for (name, want) in cases {
        let path = corpus(&format!("pcap/dtmf_2833_{name}.pcap"));
        let mut rx = DtmfReceiver::new(101);
        let mut got = Vec::new();
        let mut last_ms = 0;
        for d in read_pcap_udp(&path) {
            let p = parse_incoming(&d.payload).expect("valid RTP in capture");
            got.extend(rx.feed(p.pt, p.ts, p.marker, &p.payload, d.ms));
            last_ms = d.ms;
        }
        // Nothing more comes out later, even after the timeout.
        got.extend(rx.poll(last_ms + 10_000));
        assert_eq!(got.len(), 1, "{name}: {got:?}");
        assert_eq!(got[0].digit, want, "{name}");
        assert!(
            got[0].duration_ms > 0 && got[0].duration_ms < 1000,
            "{got:?}"
        );
    }
}

fn feed_all(rx: &mut DtmfReceiver, ts: u32, packets: &[DtmfPacket], t0: u64) -> Vec<Digit> {
    packets
        .iter()
        .enumerate()
        .filter_map(|(i, p)| rx.feed(101, ts, p.marker, &p.payload, t0 + i as u64 * 20))
        .collect()
}

#[test]
fn sender_roundtrips_and_retransmitted_ends_are_deduplicated() {
    let mut rx = DtmfReceiver::new(101);
    let pkts = dtmf_packets('7', 200).unwrap();
    assert!(pkts[0].marker);
    assert_eq!(pkts.iter().filter(|p| p.payload[1] & 0x80 != 0).count(), 3);
    let got = feed_all(&mut rx, 1000, &pkts, 0);
    assert_eq!(
        got,
        vec![Digit {
            digit: '7',
            duration_ms: 200
        }]
    );
    // The same press again (late retransmissions): nothing.
    assert!(feed_all(&mut rx, 1000, &pkts, 500).is_empty());
    // The same digit pressed again (new timestamp): a second digit.
    assert_eq!(feed_all(&mut rx, 5000, &pkts, 1000).len(), 1);
    assert!(dtmf_packets('x', 100).is_none());
}

#[test]
fn lost_end_packets_emit_on_timeout_or_next_event() {
    let mut rx = DtmfReceiver::new(101);
    let one: Vec<_> = dtmf_packets('1', 200)
        .unwrap()
        .into_iter()
        .filter(|p| p.payload[1] & 0x80 == 0)
        .collect();
    assert!(feed_all(&mut rx, 0, &one, 0).is_empty());
    assert_eq!(rx.poll(100), None);
    assert_eq!(
        rx.poll(60 + DEFAULT_EVENT_TIMEOUT_MS).map(|d| d.digit),
        Some('1')
    );
    assert_eq!(rx.poll(10_000), None);

    // Next event starts before the timeout: the previous one is emitted then.
    assert!(feed_all(&mut rx, 8000, &one, 20_000).is_empty());
    let two = dtmf_packets('2', 100).unwrap();
    let got = feed_all(&mut rx, 9600, &two, 20_100);
    assert_eq!(got.iter().map(|d| d.digit).collect::<String>(), "12");
    assert_eq!(rx.poll(20_200), None);
}

#[test]
fn other_payload_types_and_garbage_are_ignored() {
    let mut rx = DtmfReceiver::new(101);
    let end = crate::dtmf::dtmf_packets('5', 100).unwrap();
    let last = end.last().unwrap();
    assert_eq!(rx.feed(8, 0, false, &last.payload, 0), None);
    assert_eq!(rx.feed(101, 0, false, &[1, 2, 3], 0), None);
    assert_eq!(
        rx.feed(101, 0, false, &[200, 0x80, 0, 160], 0),
        None,
        "event 200 is not DTMF"
    );
    assert_eq!(rx.poll(10_000), None);
}

#[test]
fn long_event_segments_are_one_digit() {
    // RFC 4733 §2.5.1.3: a new segment (new timestamp, no marker) continues the same event.
    let mut rx = DtmfReceiver::new(101);
    let seg =
        |dur: u16, end: bool| audio_codec::telephone_event::encode_event_payload(0, end, 10, dur);
    assert_eq!(rx.feed(101, 0, true, &seg(400, false), 0), None);
    assert_eq!(rx.feed(101, 0, false, &seg(65535, false), 20), None);
    assert_eq!(rx.feed(101, 65535, false, &seg(800, false), 40), None);
    let d = rx.feed(101, 65535, false, &seg(1600, true), 60).unwrap();
    assert_eq!(d.digit, '0');
    assert_eq!(d.duration_ms, (65535 + 1600) / 8);
}

#[test]
fn sip_info_bodies() {
    assert_eq!(
        parse_dtmf_info("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"),
        Some('5')
    );
    assert_eq!(
        parse_dtmf_info(
            "Application/DTMF-Relay; charset=x",
            "signal = *\nDuration=100"
        ),
        Some('*')
    );
    assert_eq!(
        parse_dtmf_info("application/dtmf-relay", "Signal=11\r\nDuration=160"),
        Some('#')
    );
    assert_eq!(
        parse_dtmf_info("application/dtmf-relay", "Duration=160"),
        None
    );
    assert_eq!(parse_dtmf_info("application/dtmf-relay", "Signal=55"), None);
    assert_eq!(parse_dtmf_info("application/dtmf-relay", "Signal=x"), None);
    assert_eq!(
        parse_dtmf_info("application/dtmf-relay", "Signal=1\nSignal=2"),
        None
    );
    assert_eq!(parse_dtmf_info("application/dtmf", "5"), Some('5'));
    assert_eq!(parse_dtmf_info("application/dtmf", " #\r\n"), Some('#'));
    assert_eq!(parse_dtmf_info("application/dtmf", "d"), Some('D'));
    assert_eq!(parse_dtmf_info("application/dtmf", ""), None);
    assert_eq!(parse_dtmf_info("text/plain", "5"), None);
}
