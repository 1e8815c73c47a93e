//! End to end, the campaign rules across campaigns and calls (issue 8): the 230-ФЗ limits
//! counted over every debt campaign (a person reached by one debt campaign is not called by
//! another the same day, also after a restart; the reason shown in the progress); campaign
//! calls as CDRs (direction outbound) in the calls list; the answering-machine heuristic on
//! a real call (a long greeting gets the message after it, a short «алло» the message at
//! once).
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

/// `pcm` without its leading and trailing near-silence.
fn trimmed(pcm: &[i16]) -> &[i16] {
    let loud = |s: &&i16| s.unsigned_abs() > 400;
    let first = pcm.iter().position(|s| loud(&s)).unwrap_or(0);
    let last = pcm.iter().rposition(|s| loud(&s)).unwrap_or(pcm.len());
    &pcm[first..=last.min(pcm.len() - 1)]
}

/// A pcap of `speech` then `silence_ms` of silence (the phone keeps sending RTP), as PCMU
/// (PT 0): the codec `UasParty::AnswersThenPlays` answers with.
fn party_pcap(path: &std::path::Path, speech: &[i16], silence_ms: usize) -> std::path::PathBuf {
    let mut pcm = speech.to_vec();
    pcm.extend(std::iter::repeat_n(0i16, silence_ms * 8));
    let (mut seq, mut ts) = (1u16, 0u32);
    let packets =
        common::speech_packets_in(zvonar_voice::codec::Codec::Pcmu, &pcm, &mut seq, &mut ts);
    common::write_pcap(path, &packets);
    path.to_path_buf()
}

/// A campaign with the answering-machine heuristic set to leave the message: an answering
/// machine (a person's recorded speech for ~7 s without a pause, as a greeting, then
/// silence) gets the message after its greeting and ends «автоответчик, оставлено
/// сообщение», counted apart from conversations; a person who says a short word and waits
/// hears the whole message (an ordinary answered call, listened to the end).
#[test]
fn a_long_greeting_is_an_answering_machine_and_gets_the_message_after_it() {
    let z = Zvonar::start("camprules-amd");
    let zone = common::open_zone();
    // The greeting: a person's 3.5 s sentence twice without the silences around it.
    let speech = common::problem_speech();
    let mut greeting = trimmed(&speech).to_vec();
    greeting.extend_from_slice(trimmed(&speech));
    assert!(greeting.len() > 6 * 8000, "{} samples", greeting.len());
    let machine_pcap = party_pcap(&z.dir.join("machine.pcap"), &greeting, 15_000);
    // The person: «один», a short word as people answer («Алло?»), then listens.
    let hello = common::digits_wav("1");
    let person_pcap = party_pcap(&z.dir.join("person.pcap"), trimmed(&hello), 20_000);
    let mut parties = Vec::new();
    for (name, pcap) in [("machine", machine_pcap), ("person", person_pcap)] {
        let port = free_port();
        let sc = uas_scenario(
            &z.dir,
            name,
            &UasParty::AnswersThenPlays { delay_ms: 0, pcap },
        );
        parties.push((start_uas(&z.dir, &sc, port, 1), port));
    }
    let now = chrono::Utc::now();
    let body = json!({
        "name": "Отключение воды",
        "template": "Здравствуйте, {fio}. Завтра с десяти до шестнадцати в доме не будет горячей воды.",
        "start": (now - chrono::Duration::minutes(1)).to_rfc3339(),
        "end": (now + chrono::Duration::hours(2)).to_rfc3339(),
        "time_zone": zone,
        "channels": 2,
        "per_minute": 60,
        "retries": { "busy": 0, "busy_gap_min": 0, "no_answer": 0, "no_answer_gap_min": 0 },
        "ring_timeout_s": 10,
        "answering_machine": { "on_machine": "message" },
        "recipients": [
            { "id": "machine", "phone": format!("sip:1001@127.0.0.1:{}", parties[0].1),
              "consent": true, "fio": "Иванов Иван" },
            { "id": "person", "phone": format!("sip:1002@127.0.0.1:{}", parties[1].1),
              "consent": true, "fio": "Петрова Анна" },
        ],
    });
    let (code, created) = z.api("POST", "/api/v1/campaigns", &body.to_string());
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_i64().expect("id");
    // A bad threshold is refused by name.
    let mut bad = body.clone();
    bad["answering_machine"] = json!({ "greeting_ms": 50 });
    let (code, refused) = z.api("POST", "/api/v1/campaigns", &bad.to_string());
    assert_eq!(code, 400, "{refused}");
    assert!(refused.to_string().contains("greeting_ms"), "{refused}");
    let (code, started) = z.api("POST", &format!("/api/v1/campaigns/{id}/start"), "");
    assert_eq!(code, 200, "{started}");
    let done = wait_campaign(&z, id, Duration::from_secs(90), "finished", |p| {
        p["state"] == "finished"
    });
    for (uas, _) in parties {
        let (ok, out) = finish_uas(uas);
        assert!(ok, "sipp: {out}");
    }
    let m = recipient(&done, "machine");
    assert_eq!(m["attempts"][0]["outcome"], "answering_machine", "{m:#}");
    assert!(
        m["status_ru"]
            .as_str()
            .unwrap_or_default()
            .contains("оставлено сообщение"),
        "{m:#}"
    );
    assert!(m["attempts"][0]["recording"].is_string(), "{m:#}");
    let p = recipient(&done, "person");
    assert_eq!(p["attempts"][0]["outcome"], "answered", "{p:#}");
    assert_eq!(p["listened"], true, "{p:#}");
    assert_eq!(done["totals"]["answering_machine"], 1, "{done:#}");
    assert_eq!(
        done["answering_machine"]["on_machine"], "message",
        "{done:#}"
    );
    assert_eq!(done["answering_machine"]["greeting_ms"], 3500, "{done:#}");
    // The machine heard the message after its greeting, not over it: in the recording the
    // robot's channel (right) is silent while the greeting plays.
    let wav = z
        .dir
        .join("recordings")
        .join(m["attempts"][0]["recording"].as_str().unwrap());
    let mut reader = hound::WavReader::open(&wav).expect("recording");
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let rms = |v: &[i16]| {
        (v.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / v.len().max(1) as f64).sqrt()
    };
    let greeting_s = greeting.len() / 8000;
    assert!(
        right.len() > (greeting_s + 2) * 8000,
        "{} samples",
        right.len()
    );
    assert!(
        rms(&right[..(greeting_s - 1) * 8000]) < 50.0,
        "the robot spoke over the greeting"
    );
    assert!(
        rms(&right[greeting_s * 8000..]) > 300.0,
        "the message after the greeting"
    );
}
