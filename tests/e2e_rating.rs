//! End to end, the rating robot: two tickets filed and completed over the API, zvonar restarted
//! with `[rating] enabled` (its daily run is due: it runs at start), and the robot calls both
//! residents through a SIP trunk whose provider is SIPp. One resident says «пять» (a person's
//! voice: Asterisk's Russian `digits/5.wav`) after the greeting, then a comment (a person's
//! speech); the other keys 2 during the greeting (RFC 2833, SIPp's `dtmf_2833_2.pcap`) and `#`
//! (no comment). Checked from the API and the disk: the ratings on the tickets (value, source,
//! comment text, recordings, call), the quality-control ticket of the low rating assigned to
//! the configured department and supervisor, the reopened ticket, the robot's notes on the
//! tickets, the calls' timelines (the request named with its date and topic, what was heard and
//! keyed), the audit entries, the satisfaction report; after another restart the day's run is
//! not repeated and nobody is called again.

mod common;

use common::{free_port, Options, Zvonar};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VOICE_PHONE: &str = "+79161110001";
const KEYS_PHONE: &str = "+79161110002";
const SUPERVISOR_PASSWORD: &str = "пароль супервизора 42";

const RESP: &str = "      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Contact: <sip:[local_ip]:[local_port];transport=[transport]>\n";

/// The provider's side: answers every call (PCMA and telephone-event); a call to
/// [`VOICE_PHONE`] gets `voice.pcap`, any other `keys` pcaps (the fixture RFC 2833 captures)
/// after a pause; then waits for zvonar's BYE.
fn provider_scenario(dir: &Path) -> PathBuf {
    let fixture = |name: &str| zvonar_fixtures::path(&format!("pcap/{name}"));
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="residents">
  <recv request="INVITE">
    <action>
      <ereg regexp="INVITE sip:\+?{voice}@" search_in="msg" check_it="false" assign_to="voice"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
{RESP}      Content-Length: 0
    ]]>
  </send>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
{RESP}      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=resident 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <nop hide="true" test="voice" next="speak"/>
  <pause milliseconds="3000"/>
  <nop><action><exec play_pcap_audio="{two}"/></action></nop>
  <pause milliseconds="4000"/>
  <nop next="wait"><action><exec play_pcap_audio="{pound}"/></action></nop>
  <label id="speak"/>
  <nop><action><exec play_pcap_audio="voice.pcap"/></action></nop>
  <label id="wait"/>
  <recv request="BYE" timeout="110000"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
{RESP}      Content-Length: 0
    ]]>
  </send>
</scenario>
"#,
        voice = VOICE_PHONE.trim_start_matches('+'),
        two = fixture("dtmf_2833_2.pcap").display(),
        pound = fixture("dtmf_2833_pound.pcap").display(),
    );
    let p = dir.join("residents.xml");
    std::fs::write(&p, xml).expect("scenario");
    p
}

/// The voice resident's media: silence while the greeting plays; «пять» at 26 s; key 1 at
/// 34 s — it confirms the rating when the robot reads back «пять» (heard with low
/// confidence), and is ignored while the comment is offered when it does not; the comment
/// (a person's speech) at 48 s; silence.
fn voice_pcap(path: &Path) {
    let (mut seq, mut ts) = (100u16, 8000u32);
    let mut packets = Vec::new();
    let mut at_ms = 0usize;
    let silence_until = |packets: &mut Vec<Vec<u8>>,
                         at_ms: &mut usize,
                         until: usize,
                         seq: &mut u16,
                         ts: &mut u32| {
        let n = until.saturating_sub(*at_ms);
        packets.extend(common::speech_packets(&vec![0i16; n * 8], seq, ts));
        *at_ms = until.max(*at_ms);
    };
    silence_until(&mut packets, &mut at_ms, 26_000, &mut seq, &mut ts);
    let five = common::digits_wav("5");
    at_ms += five.len().div_ceil(160) * 20;
    packets.extend(common::speech_packets(&five, &mut seq, &mut ts));
    silence_until(&mut packets, &mut at_ms, 34_000, &mut seq, &mut ts);
    packets.extend(common::key_packets("1", &mut seq, &mut ts));
    at_ms += 200;
    silence_until(&mut packets, &mut at_ms, 48_000, &mut seq, &mut ts);
    packets.extend(common::speech_packets(
        &common::problem_speech(),
        &mut seq,
        &mut ts,
    ));
    packets.extend(common::speech_packets(
        &vec![0i16; 3 * 8000],
        &mut seq,
        &mut ts,
    ));
    common::write_pcap(path, &packets);
}

fn start_provider(dir: &Path, scenario: &Path, port: u16) -> Child {
    let media = common::free_media_port().to_string();
    Command::new("sipp")
        .args(["-sf", &scenario.to_string_lossy()])
        .args(["-p", &port.to_string(), "-mp", &media, "-m", "2"])
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args([
            "-timeout",
            "150s",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sipp (apt install sip-tester)")
}

fn config(trunk_port: u16, enabled: bool) -> String {
    format!(
        r#"[health]
min_free_disk_mib = 0

[[trunk]]
name = "provider"
registrar = "sip:127.0.0.1:{trunk_port}"
username = "74950001122"
password = "trunk-secret"
register = false

[tickets]
departments = ["Сантехники", "Контроль качества"]

[rating]
enabled = {enabled}
time = "00:00"
intro = "Здравствуйте!"
threshold = 3
reopen = true
qc_topic = "quality"
qc_department = "Контроль качества"
qc_supervisor = "{supervisor}"
channels = 2
per_minute = 60
ring_timeout_s = 10
busy_retries = 0
no_answer_retries = 0
window_hours = 1
no_input_s = 20
comment_max_s = 15

[rating.subjects]
leak = "о протечке"
"#,
        // The supervisor is configured once the account exists (a login that does not
        // exist stops the start).
        supervisor = if enabled { "sveta" } else { "" },
    )
}

fn post(z: &Zvonar, path: &str, body: Value) -> Value {
    let (code, v) = z.api("POST", path, &body.to_string());
    assert!((200..300).contains(&code), "POST {path}: {code} {v}");
    v
}

fn rating_campaigns(z: &Zvonar) -> Vec<Value> {
    z.get_json("/api/v1/campaigns")["campaigns"]
        .as_array()
        .expect("campaigns")
        .iter()
        .filter(|c| {
            c["name"]
                .as_str()
                .unwrap_or("")
                .starts_with("Оценка заявок")
        })
        .cloned()
        .collect()
}

#[test]
fn the_robot_calls_residents_through_the_trunk_voice_and_keys_ratings_low_one_makes_qc() {
    // `Options::time_zone` is a `&'static str`; one zone for the whole test.
    let zone: &'static str = Box::leak(common::open_zone().into_boxed_str());
    let trunk_port = free_port();
    let mut z = Zvonar::start_with(
        "rating",
        Options {
            time_zone: zone,
            extra_config: config(trunk_port, false),
            ..Options::default()
        },
    );
    // Consent to automated calls comes from the registry (41-ФЗ).
    let registry = z.dir.join("consent.csv");
    std::fs::write(
        &registry,
        format!(
            "улица;дом;фиас;квартира;подъезд;этаж;стояк;лс;фио;телефон;согласие\n\
             улица Ленина;5;;12;1;3;А;5000010012;Иванова Анна;{VOICE_PHONE};да\n\
             улица Ленина;5;;14;1;4;А;5000010014;Петров Пётр;{KEYS_PHONE};да\n"
        ),
    )
    .expect("csv");
    let (ok, out) = z.cli(&["import", "accounts", &registry.to_string_lossy()], "");
    assert!(ok, "{out}");
    let (ok, out) = z.cli(
        &[
            "user",
            "add",
            "--login",
            "sveta",
            "--role",
            "supervisor",
            "--name",
            "Светлана Петрова",
        ],
        &format!("{SUPERVISOR_PASSWORD}\n"),
    );
    assert!(ok, "{out}");

    // Two tickets, completed.
    let building = z.get_json("/api/v1/ticket-meta")["buildings"][0]["id"].clone();
    let file = |topic: &str, phone: &str| -> Value {
        post(
            &z,
            "/api/v1/tickets",
            json!({"topic": topic, "description": "течёт", "caller": phone, "building_id": building, "apartment": "12"}),
        )
    };
    let voice_ticket = file("leak", VOICE_PHONE);
    let keys_ticket = file("lift", KEYS_PHONE);
    // A resident who never consented to automated calls (41-ФЗ): skipped, not called.
    let no_consent = file("cleaning", "+79161110003");
    for t in [&voice_ticket, &keys_ticket, &no_consent] {
        post(
            &z,
            &format!("/api/v1/tickets/{}/complete", t["id"]),
            json!({"result": "сделано"}),
        );
    }
    assert!(rating_campaigns(&z).is_empty(), "off: no calls");

    // The provider, then zvonar with the robot on: today's run is due at start.
    let scenario = provider_scenario(&z.dir);
    voice_pcap(&z.dir.join("voice.pcap"));
    let provider = start_provider(&z.dir, &scenario, trunk_port);
    std::thread::sleep(Duration::from_millis(500));
    z.terminate();
    assert!(z.wait_exit(Duration::from_secs(30)).is_some(), "stopped");
    let cfg_path = z.dir.join("zvonar.toml");
    let cfg = std::fs::read_to_string(&cfg_path).expect("config");
    std::fs::write(
        &cfg_path,
        cfg.replace(&config(trunk_port, false), &config(trunk_port, true)),
    )
    .expect("config");
    z.restart();

    let t0 = Instant::now();
    let campaign = loop {
        let c = rating_campaigns(&z);
        if let Some(c) = c.first().filter(|c| c["state"] == "finished") {
            break c.clone();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(150),
            "the rating round did not finish: {c:?}\n{}",
            z.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let out = provider.wait_with_output().expect("sipp");
    assert!(
        out.status.success(),
        "provider: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(campaign["totals"]["recipients"], 3, "{campaign}");
    assert_eq!(campaign["totals"]["called"], 2, "{campaign}");
    assert_eq!(
        campaign["totals"]["confirmed"], 2,
        "both called rated: {campaign}"
    );
    let progress = z.get_json(&format!("/api/v1/campaigns/{}", campaign["id"]));
    let skipped = progress["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .find(|r| r["id"] == format!("ticket-{}", no_consent["number"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("{progress:#}"))
        .clone();
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    assert!(
        skipped["attempts"].as_array().unwrap().is_empty(),
        "{skipped}"
    );

    // The voice rating: 5, with the comment recognised and recorded.
    let card = z.get_json(&format!("/api/v1/tickets/{}", voice_ticket["id"]));
    let r = &card["rating"];
    assert_eq!(r["value"], 5, "{card:#}\n{}", z.log());
    assert_eq!(r["source"], "voice");
    assert_eq!(r["by"], "robot:rating");
    assert!(
        !r["comment"].as_str().unwrap_or("").is_empty(),
        "the comment's transcript: {r}"
    );
    assert_eq!(r["qc_ticket_id"], Value::Null);
    assert_eq!(
        card["ticket"]["status"], "done",
        "a good rating leaves it done"
    );
    let recordings = z.dir.join("recordings");
    for key in ["recording", "comment_recording"] {
        let rel = r[key].as_str().unwrap_or_else(|| panic!("{key}: {r}"));
        let len = std::fs::metadata(recordings.join(rel)).expect(rel).len();
        assert!(len > 8000, "{key} {rel}: {len} bytes");
    }
    let call_id = r["call_id"].as_str().expect("call id").to_string();
    let call = z.get_json(&format!("/api/v1/calls/{call_id}"));
    // The console plays the rating call on the ticket card.
    let (code, _, wav) = z.get_raw(&format!("/api/v1/calls/{call_id}/recording"), None);
    assert_eq!(code, 200, "{call:#}");
    assert!(wav.starts_with(b"RIFF") && wav.len() > 8000);
    let timeline = call["timeline"].as_array().expect("timeline");
    let said: Vec<&str> = timeline
        .iter()
        .filter(|e| e["kind"] == "robot_said")
        .filter_map(|e| e["payload"]["text"].as_str())
        .collect();
    use chrono::Datelike;
    let today = chrono::Utc::now().with_timezone(&zone.parse::<chrono_tz::Tz>().unwrap());
    let date =
        zvonar_say::values::day_month(today.day(), today.month(), zvonar_say::numbers::Case::Gen)
            .expect("date");
    assert!(
        said[0].contains(&format!("по заявке от {date} о протечке")),
        "{said:?}"
    );
    assert!(
        timeline.iter().any(|e| {
            let text = e["payload"]["text"].as_str().unwrap_or("").to_lowercase();
            e["kind"] == "recognised" && (text.contains("пять") || text.contains('5'))
        }),
        "{timeline:#?}"
    );

    // The keyed rating: 2, a quality-control ticket, the ticket back in work.
    let card = z.get_json(&format!("/api/v1/tickets/{}", keys_ticket["id"]));
    let r = &card["rating"];
    assert_eq!(r["value"], 2, "{card:#}");
    assert_eq!(r["source"], "keys");
    assert_eq!(r["comment"], Value::Null, "# left no comment");
    assert_eq!(r["reopened"], true);
    assert_eq!(card["ticket"]["status"], "in_progress");
    let note = card["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .filter_map(|c| c["text"].as_str())
        .find(|t| t.starts_with("Оценка жителя"))
        .unwrap_or_else(|| panic!("the robot's note: {card:#}"))
        .to_string();
    let qc_number = r["qc_ticket_number"]
        .as_str()
        .expect("qc ticket")
        .to_string();
    assert!(
        note.contains("2 из 5") && note.contains(&qc_number),
        "{note}"
    );
    let qc = z.get_json(&format!("/api/v1/tickets/{}", r["qc_ticket_id"]));
    assert_eq!(qc["ticket"]["topic"], "quality");
    assert_eq!(qc["ticket"]["department"], "Контроль качества");
    assert_eq!(qc["ticket"]["executor"], "Светлана Петрова");
    assert_eq!(qc["ticket"]["caller"], KEYS_PHONE);
    assert!(
        qc["ticket"]["description"]
            .as_str()
            .unwrap()
            .contains(&format!("№{}", keys_ticket["number"].as_str().unwrap())),
        "{qc}"
    );
    let keyed = z.get_json(&format!("/api/v1/calls/{}", r["call_id"].as_str().unwrap()));
    assert!(
        keyed["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "digits" && e["payload"]["digits"] == "2"),
        "{keyed:#}"
    );

    // Audited as the robot.
    let audit = z.get_json("/api/v1/audit?limit=200");
    let actions: Vec<(String, String)> = audit
        .as_array()
        .or_else(|| audit["entries"].as_array())
        .expect("audit")
        .iter()
        .filter(|e| e["actor"] == "robot:rating")
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_string(),
                e["target"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for want in ["ticket_rated", "qc_ticket_created", "ticket_reopened"] {
        assert!(
            actions.iter().any(|(a, _)| a == want),
            "{want}: {actions:?}"
        );
    }

    // The report by topic.
    let day = today.format("%Y-%m-%d");
    let rep = z.get_json(&format!(
        "/api/v1/ratings/report?from={day}&to={day}&by=topic"
    ));
    let rows = rep["rows"].as_array().expect("rows");
    let avg = |topic: &str| {
        rows.iter()
            .find(|r| r["key"] == topic)
            .map(|r| r["average"].as_f64().unwrap())
    };
    assert_eq!((avg("leak"), avg("lift")), (Some(5.0), Some(2.0)), "{rep}");

    // The console's ticket card shows the rating and links the quality-control ticket. The
    // supervisor's browser sits in a zone whose date is not the company's today (one exists
    // at any hour: the zones span 26 hours), so the report's default period («this month»
    // up to today) finds today's ratings only when the page takes its dates in the company's
    // zone, as the server counts them.
    let today_there = |name: &str| {
        chrono::Utc::now()
            .with_timezone(&name.parse::<chrono_tz::Tz>().expect("zone"))
            .date_naive()
    };
    let browser_zone = (-12i32..=14)
        .map(|off| match off {
            0 => "Etc/GMT".to_string(),
            o if o > 0 => format!("Etc/GMT-{o}"),
            o => format!("Etc/GMT+{}", -o),
        })
        .find(|name| today_there(name) != today_there(zone))
        .expect("a zone with another date");
    let r = common::browser::run_script(
        &z,
        "rating.mjs",
        "console_rating",
        &[
            ("SUPERVISOR", "sveta"),
            ("SUPERVISOR_PASSWORD", SUPERVISOR_PASSWORD),
            ("TICKET", &keys_ticket["id"].to_string()),
            ("TZ_NAME", &browser_zone),
        ],
    );
    let day = today.format("%Y-%m-%d").to_string();
    let month_start = today.format("%Y-%m-01").to_string();
    assert_eq!(
        r["period"],
        serde_json::json!([month_start, day]),
        "the report's default period is the company's month so far, not the browser's \
         ({browser_zone}, company {zone})"
    );
    let shown = r["rating"].as_str().unwrap_or("");
    assert!(
        shown.contains("2 из 5") && shown.contains("кнопками телефона"),
        "{r}"
    );
    assert!(shown.contains(&format!("заявка № {qc_number}")), "{r}");
    assert!(r["qc"].as_str().unwrap_or("").contains(&qc_number), "{r}");
    assert!(
        r["qcDetails"]
            .as_str()
            .unwrap_or("")
            .contains("Контроль качества"),
        "{r}"
    );

    let report = r["report"].as_str().unwrap_or("");
    let line = |name: &str| {
        report
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {report}"))
            .split('\t')
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(line("Протечка")[1..3], ["1", "5.00"], "{report}");
    assert_eq!(line("Лифт")[1..4], ["1", "2.00", "1"], "{report}");
    let csv = r["csv"].as_str().unwrap_or("");
    assert!(csv.starts_with("200 группа;название;оценок"), "{csv}");
    assert!(csv.contains("lift;lift;1;2;1;0;0;1;0;0;0"), "{csv}");

    // A restart the same day: the run is not repeated, nobody is called again.
    z.terminate();
    assert!(z.wait_exit(Duration::from_secs(30)).is_some(), "stopped");
    z.restart();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(rating_campaigns(&z).len(), 1, "{}", z.log());
}
