//! End to end, the campaign rules across campaigns and calls (issue 8): the 230-ФЗ limits
//! counted over every debt campaign (a person reached by one debt campaign is not called by
//! another the same day, also after a restart; the reason shown in the progress); campaign
//! calls as CDRs (direction outbound) in the calls list.
//! The rules themselves are tested sans-IO in `outbound/src/campaign_tests.rs`.

mod common;

use common::{finish_uas, free_port, start_uas, uas_scenario, wait_campaign, UasParty, Zvonar};
use serde_json::{json, Value};
use std::time::Duration;

fn recipient<'a>(p: &'a Value, id: &str) -> &'a Value {
    p["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no recipient {id}: {p:#}"))
}

/// A debt campaign calling `recipients` from now for three days, in a zone where the call
/// window is open now.
fn debt_campaign(z: &Zvonar, name: &str, zone: &str, recipients: Value) -> i64 {
    let now = chrono::Utc::now();
    let body = json!({
        "name": name,
        "template": "Здравствуйте, {fio}. У вас задолженность.",
        "start": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        // Days ahead: a deferred recipient waits rather than being skipped.
        "end": (now + chrono::Duration::days(3)).to_rfc3339(),
        "time_zone": zone,
        "channels": 2,
        "per_minute": 60,
        "retries": { "busy": 0, "busy_gap_min": 0, "no_answer": 0, "no_answer_gap_min": 0 },
        "ring_timeout_s": 5,
        "debt": true,
        "recipients": recipients,
    });
    let (code, created) = z.api("POST", "/api/v1/campaigns", &body.to_string());
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_i64().expect("id");
    let (code, started) = z.api("POST", &format!("/api/v1/campaigns/{id}/start"), "");
    assert_eq!(code, 200, "{started}");
    id
}

/// Two debt campaigns the same day: the first talks to the person (a SIPp UAS answers); the
/// second defers both its recipients — the same phone, and another phone of the same account
/// — to the next allowed day with the 230-ФЗ reason in its progress, before and after a
/// restart of zvonar, and dials nobody.
#[test]
fn a_person_reached_by_one_debt_campaign_is_not_called_by_another_the_same_day() {
    let mut z = Zvonar::start("camprules-limits");
    let zone = common::open_zone();
    let silence = z.dir.join("silence.pcap");
    let (mut seq, mut ts) = (1u16, 0u32);
    common::write_pcap(
        &silence,
        &common::speech_packets(&[0i16; 8000], &mut seq, &mut ts),
    );
    let port = free_port();
    let sc = uas_scenario(
        &z.dir,
        "answers",
        &UasParty::AnswersThenPlays {
            delay_ms: 0,
            pcap: silence,
        },
    );
    // One call only: a second call to this phone would find nobody (and fail).
    let uas = start_uas(&z.dir, &sc, port, 1);
    let phone = format!("sip:1001@127.0.0.1:{port}");
    let a = debt_campaign(
        &z,
        "Долг, первая",
        &zone,
        json!([{ "id": "a-1", "phone": phone, "consent": true, "fio": "Иванов Иван", "account": "100200" }]),
    );
    let done = wait_campaign(&z, a, Duration::from_secs(60), "finished", |p| {
        p["state"] == "finished"
    });
    let (ok, out) = finish_uas(uas);
    assert!(ok, "sipp: {out}");
    let ra = recipient(&done, "a-1");
    assert_eq!(ra["attempts"][0]["outcome"], "answered", "{ra:#}");

    // The attempt is a CDR like an inbound call (direction outbound, the campaign, the
    // outcome, the recording), so the calls list shows it and the retention sweep covers it.
    let mut cdr = Value::Null;
    for _ in 0..50 {
        let calls = z.get_json("/api/v1/calls?limit=100");
        if let Some(c) = calls
            .as_array()
            .expect("calls")
            .iter()
            .find(|c| c["campaign_id"] == a && !c["ended_at"].is_null())
        {
            cdr = c.clone();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(cdr["direction"], "outbound", "{cdr:#}");
    assert_eq!(cdr["outcome"], "answered", "{cdr:#}");
    assert_eq!(cdr["flow"], "campaign", "{cdr:#}");
    assert_eq!(cdr["callee"], phone.as_str(), "{cdr:#}");
    assert_eq!(cdr["recording"], ra["attempts"][0]["recording"], "{cdr:#}");
    let (status, _, wav) = z.get_raw(
        &format!(
            "/api/v1/calls/{}/recording",
            cdr["call_id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(status, 200);
    assert!(wav.len() > 44, "the recording is served");

    let b = debt_campaign(
        &z,
        "Долг, вторая",
        &zone,
        json!([
            { "id": "b-1", "phone": phone, "consent": true, "fio": "Иванов Иван" },
            // Another phone (nobody listens there) of the same account.
            { "id": "b-2", "phone": format!("sip:1002@127.0.0.1:{}", free_port()),
              "consent": true, "fio": "Иванова Мария", "account": "100200" },
        ]),
    );
    let deferred = |p: &Value| {
        ["b-1", "b-2"]
            .iter()
            .all(|id| recipient(p, id)["waiting"]["reason"] == "day_limit")
    };
    let check = |p: &Value| {
        let tomorrow = chrono::Utc::now()
            .with_timezone(&zone.parse::<chrono_tz::Tz>().unwrap())
            .date_naive()
            .succ_opt()
            .unwrap();
        for id in ["b-1", "b-2"] {
            let r = recipient(p, id);
            assert_eq!(r["status"], "queued", "{r:#}");
            assert_eq!(r["attempts"], json!([]), "not dialled: {r:#}");
            let until = chrono::DateTime::parse_from_rfc3339(
                r["waiting"]["until"].as_str().expect("until"),
            )
            .expect("rfc3339")
            .with_timezone(&zone.parse::<chrono_tz::Tz>().unwrap());
            assert_eq!(until.date_naive(), tomorrow, "{r:#}");
            let ru = r["status_ru"].as_str().unwrap_or_default();
            assert!(
                ru.contains("230-ФЗ") && ru.contains("другой кампании"),
                "{r:#}"
            );
        }
        assert_eq!(p["state"], "running");
    };
    let p = wait_campaign(&z, b, Duration::from_secs(20), "deferring", deferred);
    check(&p);

    // After a restart the loaded conversations hold it back just the same.
    z.terminate();
    z.wait_exit(Duration::from_secs(20)).expect("zvonar stops");
    z.restart();
    let p = wait_campaign(&z, b, Duration::from_secs(20), "deferring", deferred);
    std::thread::sleep(Duration::from_secs(1));
    let p2 = z.get_json(&format!("/api/v1/campaigns/{b}"));
    check(&p);
    check(&p2);
}
