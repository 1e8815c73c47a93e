use super::*;

/// The ticket description of issue 6, for the 3.5 s description «6 часов 45 минут, 3 доллара
/// 5 центов» (tests/fixtures/audio_ru/tinkoff-voicekit-examples/sample_4.wav) heard over a
/// phone line: the issue quotes its start and «…»; written out here as four copies, the last
/// cut by the token limit (the shape of [`MEASURED_LOOP`] under a 52-token limit).
const ISSUE_LOOP: &str = "6 часов 45 минут, 3 доллара 5 центов 6 часов 45 минут, 3 доллара 5 центов 6 часов 45 минут, 3 доллара 5 центов 6 часов 45 минут, 3 доллара";

#[test]
fn the_looped_description_of_issue_6_is_kept_once() {
    let c = collapse(ISSUE_LOOP);
    assert_eq!(c.text, "6 часов 45 минут, 3 доллара 5 центов");
    assert_eq!(
        c.loops,
        vec![Loop {
            start: 0,
            unit: 8,
            repeats: 3,
            tail: 6
        }]
    );
    assert_eq!(c.removed_words, 22);
    assert!(compression_ratio(ISSUE_LOOP) > COMPRESSION_RATIO_THRESHOLD);
    assert!(compression_ratio(&c.text) < COMPRESSION_RATIO_THRESHOLD);
}

/// What Whisper base (greedy, language ru, window of 267 frames) wrote for the same
/// recording after 300 ms of silence, as the phone line delivers it (8 kHz A-law, the
/// VAD's 200 ms tail), with a limit of 200 tokens: the sentence 20 times over and the start of a 21st.
/// Measured on 2026-11-29 with whisper-rs 0.16 (whisper.cpp 1.8).
const MEASURED_LOOP: &str = " 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6 часов 45 минут 3 доллара 5 центов 6";

#[test]
fn the_measured_loop_is_kept_once() {
    let c = collapse(MEASURED_LOOP);
    assert_eq!(c.text, "6 часов 45 минут 3 доллара 5 центов");
    assert_eq!(
        c.loops,
        vec![Loop {
            start: 0,
            unit: 8,
            repeats: 20,
            tail: 1
        }]
    );
    assert!(compression_ratio(MEASURED_LOOP) > COMPRESSION_RATIO_THRESHOLD);
}

#[test]
fn a_short_number_repeated_to_the_token_limit_is_kept_once() {
    // Whisper with a short encoder window on «двенадцать» (see AudioCtx::Auto::min_frames).
    let c = collapse("12 12 12 12 12 12 12 12 12 12 12 12");
    assert_eq!(c.text, "12");
    let c = collapse("Двенадцать. Двенадцать. Двенадцать. Двенадцать.");
    assert_eq!(c.text, "Двенадцать.");
}

#[test]
fn a_loop_after_real_speech_keeps_the_speech_and_one_copy() {
    let text = "Здравствуйте, у меня течёт кран на кухне, течёт кран на кухне, течёт кран на кухне, течёт кран на";
    let c = collapse(text);
    assert_eq!(c.text, "Здравствуйте, у меня течёт кран на кухне,");
    // Case and ё do not hide a repeat.
    let c = collapse("Течёт кран в ванной. Течет кран в ванной.");
    assert_eq!(c.text, "Течёт кран в ванной.");
}

#[test]
fn what_people_say_twice_is_not_a_loop() {
    for text in [
        "Да, да.",
        "Да, да, да.",
        "Нет нет нет",
        "Квартира один один",
        "Сорок пять, сорок пять.",
        "Улица Ленина, дом 5, квартира 12.",
        "Маша 496, Ира 471, Олег 482 и Марина 614",
        "У меня в ванной течёт кран, а на кухне не течёт кран, но капает.",
        "",
        " , . ",
    ] {
        let c = collapse(text);
        assert_eq!(c.text, text, "{text}");
        assert!(c.loops.is_empty(), "{text}: {:?}", c.loops);
        assert!(
            compression_ratio(text) < COMPRESSION_RATIO_THRESHOLD,
            "{text}"
        );
    }
}

#[test]
fn the_smallest_unit_of_a_run_is_cut() {
    // «a b» four times is a run of 2-word units (not 4-word units twice).
    let loops = find_loops("течёт кран течёт кран течёт кран течёт кран");
    assert_eq!(
        loops,
        vec![Loop {
            start: 0,
            unit: 2,
            repeats: 4,
            tail: 0
        }]
    );
    // Two runs in one text are both cut.
    let c = collapse("да да да да и ещё вот это вот это вот это вот это");
    assert_eq!(c.text, "да и ещё вот это");
    assert_eq!(c.loops.len(), 2);
}

#[test]
fn compression_ratio_is_openai_s() {
    // OpenAI: len(text.encode()) / len(zlib.compress(text.encode())), default level 6.
    // Values computed with Python 3.11 zlib for these strings.
    let a = "a".repeat(100);
    assert!(
        (compression_ratio(&a) - 100.0 / 12.0).abs() < 1e-3,
        "{}",
        compression_ratio(&a)
    );
    assert!(compression_ratio("Да") < 1.0);
    assert_eq!(compression_ratio(""), 0.0);
}

#[test]
fn the_token_budget_grows_with_the_audio() {
    assert_eq!(token_budget(0), 12);
    assert_eq!(token_budget(400), 16);
    assert_eq!(token_budget(4045), 45);
    assert_eq!(token_budget(15_000), 132);
}
