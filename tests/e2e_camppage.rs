//! End to end, the console's «Обзвоны» page in headless Chromium against a real zvonar and
//! two SIPp phones on loopback: an admin hears the spoken preview of a template, is told about
//! an unknown variable, saves the template, creates a campaign from it with an uploaded list of
//! two recipients (one answers and presses 1 — RFC 4733 from the fixture capture — one is
//! busy), starts it, watches the live table reach «подтвердил» and «занято», plays the
//! recording and downloads the XLSX, which this test reads back with calamine. The stored
//! campaign keeps the template's text after the template is edited. Screenshots:
//! target/browser-artifacts/e2e_camppage/. (Template routes and permissions in detail:
//! web/tests/campaign_templates_api.rs.)

mod common;

use common::{finish_uas, free_port, open_zone, start_uas, uas_scenario, UasParty, Zvonar};
use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "пароль администратора 42";
const TEMPLATE_TEXT: &str = "Здравствуйте, {fio}. Ваш долг {debt}. Оплатите до {due_date}.";
const QUESTION: &str = "Если поняли, нажмите один.";

#[test]
fn an_admin_runs_a_campaign_from_a_stored_template_in_the_console() {
    let z = Zvonar::start("camppage");
    z.add_user("olga", "admin", ADMIN_PASSWORD, &[]);
    z.add_user("sveta", "supervisor", ADMIN_PASSWORD, &[]);
    let (pa, pb) = (free_port(), free_port());
    let answers = UasParty::AnswersThenPlays {
        // The message takes about 8 s of TTS and the question 2 s: the key comes after the
        // message (listened to the end) and within the 10 s wait after the question for any
        // message between 4 and 15 s long.
        delay_ms: 15_000,
        pcap: common::root().join("tests/fixtures/pcap/dtmf_2833_1.pcap"),
    };
    let a = start_uas(&z.dir, &uas_scenario(&z.dir, "answers", &answers), pa, 1);
    let b = start_uas(
        &z.dir,
        &uas_scenario(&z.dir, "busy", &UasParty::Busy),
        pb,
        1,
    );
    let csv = format!(
        "id;телефон;фио;долг;срок;согласие\n\
         ls-1;sip:1001@127.0.0.1:{pa};Иванов Иван;1234,50;2026-11-25;да\n\
         ls-2;sip:1002@127.0.0.1:{pb};Петрова Анна;870;2026-12-10;да\n"
    );
    let zone = open_zone();
    let r = common::browser::run_script(
        &z,
        "campaigns.mjs",
        "e2e_camppage",
        &[
            ("ADMIN", "olga"),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("SUPERVISOR", "sveta"),
            ("SUPERVISOR_PASSWORD", ADMIN_PASSWORD),
            ("RECIPIENTS_CSV", &csv),
            ("ZONE", &zone),
            ("TEMPLATE_TEXT", TEMPLATE_TEXT),
            ("QUESTION", QUESTION),
        ],
    );
    let (ok, out) = finish_uas(a);
    assert!(ok, "the answering phone: {out}");
    let (ok, out) = finish_uas(b);
    assert!(ok, "the busy phone: {out}");
    let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();

    // What the admin saw.
    assert!(s("typoError").contains("{dolg}"), "{r:#}");
    let spoken = s("spoken");
    assert!(
        spoken.contains("тысяча двести тридцать четыре рубля пятьдесят копеек")
            && spoken.contains("двадцать пятого ноября"),
        "{spoken}"
    );
    assert!(s("preview").contains("будут обзвонены: 2"), "{r:#}");
    assert_eq!(s("draftTemplate"), TEMPLATE_TEXT);
    let rows = r["rows"].as_array().expect("rows");
    let row = |id: &str| {
        rows.iter()
            .filter_map(Value::as_str)
            .find(|t| t.starts_with(id))
            .unwrap_or_else(|| panic!("{id}: {rows:?}"))
            .to_string()
    };
    assert!(row("ls-1").contains("подтвердил"), "{rows:?}");
    assert!(row("ls-1").contains("200"), "{rows:?}");
    assert!(row("ls-2").contains("занято"), "{rows:?}");
    assert!(row("ls-2").contains("486"), "{rows:?}");
    assert!(s("totals").contains("Дозвон 50 %"), "{r:#}");
    assert!(s("totals").contains("подтвердили 50 %"), "{r:#}");
    assert!(s("totals").contains("дослушали 50 %"), "{r:#}");
    assert_eq!(r["rec"]["status"], 200, "{r:#}");
    assert_eq!(r["rec"]["type"], "audio/wav", "{r:#}");
    assert!(r["rec"]["bytes"].as_u64().unwrap_or(0) > 8_000, "{r:#}");
    assert!(s("list").contains("Должники декабрь"), "{r:#}");
    let other_menu = r["otherMenu"].to_string();
    assert!(
        other_menu.contains("Монитор") && !other_menu.contains("Обзвоны"),
        "a supervisor's menu: {other_menu}"
    );
    assert_eq!(r["otherForm"], 0, "{r:#}");

    // The XLSX the browser downloaded.
    let rows = xlsx_rows(&s("xlsx"));
    assert_eq!(rows[0][0], "Получатель");
    assert_eq!(rows[0][3], "Статус");
    assert_eq!(rows[0][7], "Код SIP");
    assert_eq!(rows.len(), 3, "one attempt each: {rows:?}");
    let by_id = |id: &str| rows.iter().find(|r| r[0] == id).expect("row").clone();
    let one = by_id("ls-1");
    assert_eq!(
        (one[2].as_str(), one[3].as_str(), one[6].as_str()),
        ("confirmed", "подтвердил", "answered")
    );
    assert_eq!((one[7].as_str(), one[9].as_str()), ("200", "1"));
    assert_eq!(one[8], "да", "listened to the end: {one:?}");
    assert!(one[10].ends_with(".wav"), "{one:?}");
    let two = by_id("ls-2");
    assert_eq!((two[6].as_str(), two[7].as_str()), ("busy", "486"));
    assert!(two[3].starts_with("занято"), "{two:?}");

    // The campaign keeps its copy when the template changes; both were audited.
    let id = r["id"].as_i64().expect("id");
    let (code, templates) = z.api("GET", "/api/v1/campaigns/templates", "");
    assert_eq!(code, 200);
    let tpl = &templates["templates"][0];
    assert_eq!(tpl["text"], TEMPLATE_TEXT);
    assert_eq!(tpl["question"], QUESTION);
    let (code, _) = z.api(
        "PUT",
        &format!("/api/v1/campaigns/templates/{}", tpl["id"]),
        &json!({"name": "Долг за ЖКУ", "text": "Другой текст, {fio}."}).to_string(),
    );
    assert_eq!(code, 200);
    let c = z.get_json(&format!("/api/v1/campaigns/{id}"));
    assert_eq!(c["template"], TEMPLATE_TEXT);
    assert_eq!(c["template_id"], tpl["id"]);
    assert_eq!(c["question"], QUESTION);
    assert_eq!(c["debt"], true);
    let audit = z.get_json("/api/v1/audit?limit=100").to_string();
    for action in [
        "campaign_template_create",
        "campaign_create",
        "campaign_start",
    ] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
}

fn xlsx_rows(path: &str) -> Vec<Vec<String>> {
    use calamine::{Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = calamine::open_workbook(path).expect("xlsx");
    let range = wb.worksheet_range("Результаты").expect("sheet");
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Float(f) => format!("{f}"),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}
