use super::*;
use chrono::NaiveDate;

fn at(day: u32, h: u32, m: u32) -> NaiveDateTime {
    // 2024-06-03 is a Monday.
    NaiveDate::from_ymd_opt(2024, 6, day)
        .and_then(|d| d.and_hms_opt(h, m, 0))
        .unwrap()
}

fn err(text: &str) -> DialplanError {
    match Dialplan::parse(text, "test.toml") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

const MINIMAL: &str = r#"
[[route]]
number = "*"
flow = "d"

[flow.d]
kind = "dispatcher_robot"
company = "УК «Дом»"
"#;

#[test]
fn the_shipped_example_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/dialplan.toml");
    let dp = Dialplan::load(path).unwrap();
    let mon_noon = at(3, 12, 0);
    let flow = dp.route("+74951234567", mon_noon).unwrap();
    assert_eq!(flow.name, "dispatcher");
    let FlowKind::DispatcherRobot(s) = &flow.kind else {
        panic!("not a robot")
    };
    assert_eq!(s.company, "управляющую компанию «Наш дом»");
    assert_eq!(s.callback_promise, "в течение двух часов");
    // The example says only what happens to an emergency request.
    let Prompt::Text(emergency) = &s.prompts.emergency_registered else {
        panic!("emergency prompt is not text")
    };
    assert!(
        emergency.contains("аварийн") && emergency.contains("диспетчер"),
        "{emergency}"
    );
    assert!(!emergency.contains("передана"), "{emergency}");
    assert_eq!(
        s.topics,
        crate::classify::default_topics(),
        "example lists the default topics"
    );
    assert_eq!(dp.route("999", mon_noon).unwrap().name, "bench");
    assert!(matches!(
        dp.route("999", mon_noon).unwrap().kind,
        FlowKind::Playback(_)
    ));
    // Night and weekend calls fall through to the catch-all.
    assert_eq!(
        dp.route("84951234567", at(8, 3, 0)).unwrap().name,
        "dispatcher"
    );
    assert_eq!(dp.routes().len(), 3);
}

#[test]
fn defaults_apply() {
    let dp = Dialplan::parse(MINIMAL, "t").unwrap();
    let FlowKind::DispatcherRobot(s) = &dp.flow("d").unwrap().kind else {
        panic!()
    };
    let d = DispatcherSettings::default();
    assert_eq!(s.topics, d.topics);
    assert_eq!(s.no_input_ms, 6000);
    assert_eq!(s.max_utterance_ms, 15000);
    assert_eq!(s.inter_digit_ms, 3000);
    assert_eq!(s.max_retries, 1);
    assert_eq!(s.fallback_topic, "other");
    assert_eq!(s.prompts, Prompts::default());
    assert_eq!(dp.flows().count(), 1);
}

#[test]
fn first_matching_route_wins() {
    let text = r#"
[[route]]
number = "+74951234567"
time = "08:00-20:00"
days = "mon-fri"
flow = "day"

[[route]]
number = "74951*"
flow = "night"

[[route]]
number = "100"
flow = "bench"

[flow.day]
kind = "dispatcher_robot"
company = "УК"

[flow.night]
kind = "dispatcher_robot"
company = "УК ночью"

[flow.bench]
kind = "playback"
prompt = { file = "sounds/bench.wav" }
"#;
    let dp = Dialplan::parse(text, "t").unwrap();
    let name = |n: &str, t| dp.route(n, t).map(|f| f.name.clone());
    assert_eq!(name("+74951234567", at(3, 9, 0)).as_deref(), Some("day"));
    assert_eq!(name("84951234567", at(3, 9, 0)).as_deref(), Some("day"));
    assert_eq!(name("+74951234567", at(3, 21, 0)).as_deref(), Some("night"));
    assert_eq!(name("+74951234567", at(8, 9, 0)).as_deref(), Some("night"));
    assert_eq!(name("+74951000000", at(3, 9, 0)).as_deref(), Some("night"));
    assert_eq!(name("100", at(3, 9, 0)).as_deref(), Some("bench"));
    assert_eq!(name("+74991234567", at(3, 9, 0)), None);
    let FlowKind::Playback(p) = &dp.flow("bench").unwrap().kind else {
        panic!()
    };
    assert_eq!(p.prompt, Prompt::File("sounds/bench.wav".into()));
}

#[test]
fn prompts_topics_and_settings_are_read() {
    let text = r#"
[[route]]
number = "*"
flow = "d"

[flow.d]
kind = "dispatcher_robot"
company = "УК"
callback_promise = "завтра"
no_input_ms = 4000
max_utterance_ms = 20000
inter_digit_ms = 5000
max_retries = 2
min_confidence = 0.5
fallback_topic = "misc"
prompts.greeting = { file = "sounds/greeting.wav" }
prompts.goodbye = { text = "Всего доброго, {company}." }
prompts.emergency_registered = { file = "sounds/emergency.wav" }

[[flow.d.topics]]
code = "leak"
name = "протечка"
stems = ["теч"]
emergency_stems = ["теч"]

[[flow.d.topics]]
code = "misc"
name = "другое"
stems = []
"#;
    let dp = Dialplan::parse(text, "t").unwrap();
    let FlowKind::DispatcherRobot(s) = &dp.flow("d").unwrap().kind else {
        panic!()
    };
    assert_eq!(s.callback_promise, "завтра");
    assert_eq!(
        (
            s.no_input_ms,
            s.max_utterance_ms,
            s.inter_digit_ms,
            s.max_retries
        ),
        (4000, 20000, 5000, 2)
    );
    assert!((s.min_confidence - 0.5).abs() < 1e-6);
    assert_eq!(s.fallback_topic, "misc");
    assert_eq!(s.topics.len(), 2);
    assert_eq!(
        s.prompts.greeting,
        Prompt::File("sounds/greeting.wav".into())
    );
    assert_eq!(
        s.prompts.goodbye,
        Prompt::Text("Всего доброго, {company}.".into())
    );
    assert_eq!(
        s.prompts.emergency_registered,
        Prompt::File("sounds/emergency.wav".into())
    );
    assert_eq!(s.prompts.ask_problem, Prompts::default().ask_problem);
}

#[test]
fn syntax_errors_name_the_line() {
    let e = err("[[route]]\nnumber = \"*\"\nflow = \n");
    assert!(matches!(e, DialplanError::Syntax { line: 3, .. }), "{e}");
    assert!(e.to_string().starts_with("test.toml:3: "), "{e}");
    // Unknown key.
    let e = err(&MINIMAL.replace("company =", "compnay ="));
    assert!(matches!(e, DialplanError::Syntax { line: 8, .. }), "{e}");
    // Wrong type.
    let e = err(&format!("{MINIMAL}no_input_ms = \"six\"\n"));
    assert!(matches!(e, DialplanError::Syntax { line: 9, .. }), "{e}");
    assert_eq!(e.file(), "test.toml");
}

#[test]
fn unknown_flow() {
    let e = err(&MINIMAL.replace("flow = \"d\"", "flow = \"dispatch\""));
    match &e {
        DialplanError::UnknownFlow { line, flow, .. } => {
            assert_eq!((*line, flow.as_str()), (4, "dispatch"));
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        e.to_string(),
        "test.toml:4: route refers to flow \"dispatch\", which is not defined under [flow]"
    );
}

#[test]
fn bad_route_fields() {
    let e = err(&MINIMAL.replace("number = \"*\"", "number = \"*\"\ntime = \"25:00-26:00\""));
    assert!(
        matches!(e, DialplanError::BadTimeRange { line: 4, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("25:00-26:00"), "{e}");
    let e = err(&MINIMAL.replace("number = \"*\"", "number = \"*\"\ndays = \"weekdays\""));
    assert!(matches!(e, DialplanError::BadDays { line: 4, .. }), "{e}");
    let e = err(&MINIMAL.replace("number = \"*\"", "number = \"8-495-x\""));
    assert!(
        matches!(e, DialplanError::BadNumberPattern { line: 3, .. }),
        "{e}"
    );
}

#[test]
fn no_routes_and_dead_routes() {
    let e = err("[flow.d]\nkind = \"playback\"\nprompt = { text = \"x\" }\n");
    assert!(matches!(e, DialplanError::NoRoutes { .. }), "{e}");
    assert_eq!(e.line(), None);
    let text = format!("{MINIMAL}\n[[route]]\nnumber = \"100\"\nflow = \"d\"\n");
    let e = err(&text);
    match e {
        DialplanError::UnreachableRoute {
            line, shadowed_by, ..
        } => assert_eq!((line, shadowed_by), (10, 2)),
        other => panic!("{other}"),
    }
}

#[test]
fn flow_kind_errors() {
    let e = err(&MINIMAL.replace("dispatcher_robot", "ivr"));
    assert!(
        matches!(e, DialplanError::UnknownFlowKind { line: 7, .. }),
        "{e}"
    );
    let e = err(&MINIMAL.replace("company = \"УК «Дом»\"", ""));
    assert!(
        matches!(
            e,
            DialplanError::MissingSetting {
                setting: "company",
                line: 6,
                ..
            }
        ),
        "{e}"
    );
    let e = err(&MINIMAL.replace("dispatcher_robot", "playback"));
    assert!(
        matches!(
            e,
            DialplanError::SettingNotForKind {
                setting: "company",
                ..
            }
        ),
        "{e}"
    );
    let e = err("[[route]]\nnumber = \"*\"\nflow = \"b\"\n[flow.b]\nkind = \"playback\"\n");
    assert!(
        matches!(
            e,
            DialplanError::MissingSetting {
                setting: "prompt",
                line: 4,
                ..
            }
        ),
        "{e}"
    );
    let e = err(&format!("{MINIMAL}prompt = {{ text = \"x\" }}\n"));
    assert!(
        matches!(
            e,
            DialplanError::SettingNotForKind {
                setting: "prompt",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn out_of_range_values() {
    let e = err(&format!("{MINIMAL}no_input_ms = 10\n"));
    assert!(
        matches!(
            e,
            DialplanError::BadValue {
                setting: "no_input_ms",
                line: 9,
                ..
            }
        ),
        "{e}"
    );
    for bad in ["inter_digit_ms = 500", "inter_digit_ms = 20000"] {
        let e = err(&format!("{MINIMAL}{bad}\n"));
        assert!(
            matches!(
                e,
                DialplanError::BadValue {
                    setting: "inter_digit_ms",
                    line: 9,
                    ..
                }
            ),
            "{e}"
        );
    }
    let e = err(&format!("{MINIMAL}max_retries = 9\n"));
    assert!(
        matches!(
            e,
            DialplanError::BadValue {
                setting: "max_retries",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&format!("{MINIMAL}min_confidence = 1.5\n"));
    assert!(
        matches!(
            e,
            DialplanError::BadValue {
                setting: "min_confidence",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&MINIMAL.replace("\"УК «Дом»\"", "\" \""));
    assert!(
        matches!(
            e,
            DialplanError::BadValue {
                setting: "company",
                ..
            }
        ),
        "{e}"
    );
}

const TOPICS: &str = r#"
[[flow.d.topics]]
code = "leak"
name = "протечка"
stems = ["теч"]

[[flow.d.topics]]
code = "other"
name = "другое"
stems = []
"#;

#[test]
fn topic_errors() {
    let e = err(&format!("{MINIMAL}{}", TOPICS.replace("[\"теч\"]", "[]")));
    assert!(matches!(e, DialplanError::EmptyStems { .. }), "{e}");
    assert!(e.to_string().contains("\"leak\""), "{e}");
    let e = err(&format!(
        "{MINIMAL}{}",
        TOPICS.replace("[\"теч\"]", "[\"\"]")
    ));
    assert!(
        matches!(e, DialplanError::EmptyStems { line: 13, .. }),
        "{e}"
    );
    let e = err(&format!(
        "{MINIMAL}{}",
        TOPICS.replace("\"other\"", "\"leak\"")
    ));
    match e {
        DialplanError::DuplicateTopic {
            line, first_line, ..
        } => assert_eq!((line, first_line), (16, 11)),
        other => panic!("{other}"),
    }
    let e = err(&format!(
        "{MINIMAL}{}",
        TOPICS.replace("\"other\"", "\"misc\"")
    ));
    assert!(
        matches!(e, DialplanError::UnknownFallbackTopic { .. }),
        "{e}"
    );
    let e = err(&format!("{MINIMAL}fallback_topic = \"nope\"\n"));
    assert!(
        matches!(e, DialplanError::UnknownFallbackTopic { line: 9, .. }),
        "{e}"
    );
    let e = err(&format!(
        "{MINIMAL}{}",
        TOPICS.replace("\"leak\"", "\"Протечка\"")
    ));
    assert!(
        matches!(
            e,
            DialplanError::BadValue {
                setting: "code",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn prompt_errors() {
    for (prompt, want) in [
        ("{ text = \"a\", file = \"b\" }", "exactly one"),
        ("{ }", "exactly one"),
        ("{ text = \" \" }", "empty"),
        ("{ file = \"\" }", "empty"),
        ("{ text = \"Звоните {phone}\" }", "{phone}"),
        ("{ text = \"Звоните {company\" }", "not closed"),
    ] {
        let e = err(&format!("{MINIMAL}prompts.greeting = {prompt}\n"));
        assert!(matches!(e, DialplanError::BadPrompt { line: 9, .. }), "{e}");
        assert!(e.to_string().contains(want), "{e}");
    }
    let e = err(&format!("{MINIMAL}prompts.hello = {{ text = \"x\" }}\n"));
    assert!(matches!(e, DialplanError::Syntax { .. }), "{e}");
}

#[test]
fn missing_file_is_a_read_error() {
    let e = Dialplan::load("/nonexistent/dialplan.toml").unwrap_err();
    assert!(matches!(e, DialplanError::Read { .. }), "{e}");
    assert_eq!(e.file(), "/nonexistent/dialplan.toml");
}

#[test]
fn spoken_prompts_are_what_the_robot_says() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/dialplan.toml");
    let dp = Dialplan::load(path).unwrap();
    let texts = dp.spoken_prompts();
    let flow = dp.flow("dispatcher").unwrap();
    let FlowKind::DispatcherRobot(s) = &flow.kind else {
        panic!("not a robot")
    };
    // The greeting the robot speaks first, with {company} filled in, is pre-rendered.
    let mut robot = crate::robot::DispatcherRobot::new(s, crate::robot::CallContext::default());
    robot.handle(crate::robot::RobotInput::Start);
    let text = std::iter::from_fn(|| robot.poll_output())
        .find_map(|o| match o {
            crate::robot::RobotOutput::Say { text, .. } => Some(text),
            _ => None,
        })
        .expect("the robot greets");
    assert!(text.contains("«Наш дом»"), "{text}");
    assert!(texts.contains(&text), "{text} not in {texts:?}");
    // Twelve robot prompts plus the benchmark's playback prompt, none twice.
    assert_eq!(texts.len(), s.spoken_prompts().len() + 1, "{texts:?}");
    assert!(texts.iter().all(|t| !t.contains('{')), "{texts:?}");
}

#[test]
fn read_back_settings_and_prompts() {
    let e = err(&format!("{MINIMAL}confirm_below = 1.5\n"));
    assert!(
        matches!(
            e,
            DialplanError::BadValue {
                setting: "confirm_below",
                line: 9,
                ..
            }
        ),
        "{e}"
    );
    let dp = Dialplan::parse(
        &format!(
            "{MINIMAL}confirm_below = 0.3\n\
             prompts.confirm_apartment = {{ text = \"Квартира номер {{number}}? Да или нет.\" }}\n"
        ),
        "t",
    )
    .unwrap();
    let FlowKind::DispatcherRobot(s) = &dp.flow("d").unwrap().kind else {
        panic!()
    };
    assert!((s.confirm_below - 0.3).abs() < 1e-6);
    assert_eq!(
        s.prompts.confirm_apartment,
        Prompt::Text("Квартира номер {number}? Да или нет.".into())
    );
    // Not pre-rendered: the number is known only on the call.
    assert!(s.spoken_prompts().iter().all(|t| !t.contains("{number}")));
    // The defaults.
    let d = DispatcherSettings::default();
    assert!((d.confirm_below - 0.6).abs() < 1e-6);
    // A read-back prompt must say the number: text with {number}, not a file.
    for bad in [
        "prompts.confirm_apartment = { file = \"sounds/confirm.wav\" }",
        "prompts.confirm_apartment = { text = \"Верно?\" }",
        "prompts.apartment_not_in_registry = { text = \"Нет такой квартиры.\" }",
    ] {
        let e = err(&format!("{MINIMAL}{bad}\n"));
        assert!(
            matches!(e, DialplanError::BadPrompt { line: 9, .. }),
            "{bad}: {e}"
        );
        assert!(e.to_string().contains("{number}"), "{e}");
    }
    // The shipped example sets them as the defaults are.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/dialplan.toml");
    let dp = Dialplan::load(path).unwrap();
    let FlowKind::DispatcherRobot(shipped) = &dp.flow("dispatcher").unwrap().kind else {
        panic!()
    };
    assert!((shipped.confirm_below - d.confirm_below).abs() < 1e-6);
    assert_eq!(
        shipped.prompts.confirm_apartment,
        d.prompts.confirm_apartment
    );
    assert_eq!(
        shipped.prompts.apartment_not_in_registry,
        d.prompts.apartment_not_in_registry
    );
    // {number} belongs to the read-back prompts only.
    let e = err(&format!(
        "{MINIMAL}prompts.goodbye = {{ text = \"Квартира {{number}}\" }}\n"
    ));
    assert!(matches!(e, DialplanError::BadPrompt { .. }), "{e}");
}

#[test]
fn the_filler_is_configured_and_pre_rendered() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/dialplan.toml");
    let dp = Dialplan::load(path).unwrap();
    let FlowKind::DispatcherRobot(s) = &dp.flow("dispatcher").unwrap().kind else {
        panic!("not a robot")
    };
    assert_eq!(s.filler_after_ms, 1500);
    assert_eq!(s.prompts.filler, Prompt::Text("Секунду…".into()));
    let texts = dp.spoken_prompts();
    assert!(texts.contains(&"Секунду…".to_string()), "{texts:?}");
    let fallback = match &s.prompts.keypad_fallback {
        Prompt::Text(t) => t.clone(),
        other => panic!("{other:?}"),
    };
    assert!(fallback.contains("кнопками"), "{fallback}");
    assert!(texts.contains(&fallback), "{texts:?}");

    let dp = Dialplan::parse(
        &format!("{MINIMAL}filler_after_ms = 0\nprompts.filler = {{ file = \"sounds/one-moment.wav\" }}\n"),
        "t",
    )
    .unwrap();
    let FlowKind::DispatcherRobot(s) = &dp.flow("d").unwrap().kind else {
        panic!()
    };
    assert_eq!(s.filler_after_ms, 0);
    assert_eq!(
        s.prompts.filler,
        Prompt::File("sounds/one-moment.wav".into())
    );
    for bad in [1, 499, 10_001] {
        let e = err(&format!("{MINIMAL}filler_after_ms = {bad}\n"));
        assert!(
            matches!(
                e,
                DialplanError::BadValue {
                    setting: "filler_after_ms",
                    line: 9,
                    ..
                }
            ),
            "{bad}: {e}"
        );
    }
    let e = err(
        "[[route]]\nnumber = \"*\"\nflow = \"p\"\n[flow.p]\nkind = \"playback\"\nprompt = { text = \"Алло\" }\nfiller_after_ms = 1500\n",
    );
    assert!(
        matches!(
            e,
            DialplanError::SettingNotForKind {
                setting: "filler_after_ms",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn prompt_files_lists_every_recorded_prompt_once() {
    let text = r#"
[[route]]
number = "900"
flow = "closed"

[[route]]
number = "*"
flow = "robot"

[flow.robot]
kind = "dispatcher_robot"
company = "управляющую компанию"
prompts.greeting = { file = "sounds/greeting.wav" }
prompts.goodbye = { file = "/srv/prompts/bye.wav" }
prompts.no_input = { text = "Вас не слышно." }

[flow.closed]
kind = "playback"
prompt = { file = "sounds/greeting.wav" }
"#;
    let dp = Dialplan::parse(text, "t").unwrap();
    // Flows in name order (closed, robot); the greeting shared by both listed once.
    assert_eq!(
        dp.prompt_files(),
        [
            "sounds/greeting.wav".to_string(),
            "/srv/prompts/bye.wav".to_string()
        ]
    );
    assert!(Dialplan::parse(MINIMAL, "t")
        .unwrap()
        .prompt_files()
        .is_empty());
}
