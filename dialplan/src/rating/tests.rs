use super::*;

#[test]
fn rating_words_and_numbers() {
    let cases: &[(&str, Option<u8>)] = &[
        ("пять", Some(5)),
        ("Пять.", Some(5)),
        ("5", Some(5)),
        ("на четыре", Some(4)),
        ("Ну, пятёрка", Some(5)),
        ("оценка три", Some(3)),
        ("четыре из пяти", Some(4)),
        ("Отлично!", Some(5)),
        ("отличная работа", Some(5)),
        ("хорошо", Some(4)),
        ("Очень хорошо.", Some(5)),
        ("нормально", Some(3)),
        ("так себе", Some(3)),
        ("плохо", Some(2)),
        ("очень плохо", Some(1)),
        ("не плохо", Some(4)),
        ("неплохо", Some(4)),
        ("не хорошо", Some(2)),
        ("не очень", Some(2)),
        ("ужасно", Some(1)),
        ("неудовлетворительно", Some(2)),
        ("семь", None),
        ("хорошо, но плохо", None),
        ("здравствуйте", None),
        ("", None),
    ];
    for (text, want) in cases {
        assert_eq!(parse_rating(text).map(|h| h.value), *want, "{text:?}");
    }
    assert!(parse_rating("отлично").unwrap().by_word);
    assert!(!parse_rating("пять").unwrap().by_word);
}

/// Drives the dialog as the engine does: after each `Say` the playback finishes, `Listen`
/// waits for the next scripted input.
fn run(dialog: &mut RatingDialog, inputs: &[RatingInput]) -> Vec<RatingOutput> {
    let mut log = Vec::new();
    let mut inputs = inputs.iter().cloned();
    dialog.handle(RatingInput::Start);
    loop {
        let Some(o) = dialog.poll_output() else {
            match inputs.next() {
                Some(i) => {
                    dialog.handle(i);
                    continue;
                }
                None => break,
            }
        };
        log.push(o.clone());
        match o {
            RatingOutput::Say(_) => dialog.handle(RatingInput::PlaybackDone),
            RatingOutput::Hangup => break,
            _ => {}
        }
    }
    log
}

fn utter(text: &str, confidence: f32) -> RatingInput {
    RatingInput::Utterance {
        text: text.into(),
        confidence,
    }
}

fn rated(log: &[RatingOutput]) -> Vec<(u8, RatedBy)> {
    log.iter()
        .filter_map(|o| match o {
            RatingOutput::Rated { value, by } => Some((*value, *by)),
            _ => None,
        })
        .collect()
}

fn comments(log: &[RatingOutput]) -> Vec<Option<String>> {
    log.iter()
        .filter_map(|o| match o {
            RatingOutput::Comment(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn dialog() -> RatingDialog {
    RatingDialog::new(
        RatingSettings::default(),
        "Здравствуйте! Оцените заявку.".into(),
    )
}

#[test]
fn a_clear_spoken_rating_then_a_comment() {
    let mut d = dialog();
    let log = run(
        &mut d,
        &[utter("пять", 0.9), utter("Сделали быстро, спасибо", 0.8)],
    );
    assert_eq!(rated(&log), vec![(5, RatedBy::Voice)]);
    assert_eq!(comments(&log), vec![Some("Сделали быстро, спасибо".into())]);
    assert_eq!(log.last(), Some(&RatingOutput::Hangup));
    assert!(d.is_done());
    // The comment is listened for with the comment's limit and flag.
    assert!(log.iter().any(|o| matches!(
        o,
        RatingOutput::Listen {
            comment: true,
            max_ms: 30_000,
            ..
        }
    )));
}

#[test]
fn a_key_during_the_greeting_rates_and_hash_skips_the_comment() {
    let mut d = dialog();
    d.handle(RatingInput::Start);
    assert!(matches!(d.poll_output(), Some(RatingOutput::Say(_))));
    d.handle(RatingInput::Key('2'));
    assert_eq!(
        d.poll_output(),
        Some(RatingOutput::Rated {
            value: 2,
            by: RatedBy::Keys
        })
    );
    let log = run_from(&mut d, &[RatingInput::Key('#')]);
    assert_eq!(comments(&log), vec![None]);
    assert_eq!(log.last(), Some(&RatingOutput::Hangup));
}

fn run_from(dialog: &mut RatingDialog, inputs: &[RatingInput]) -> Vec<RatingOutput> {
    let mut log = Vec::new();
    let mut inputs = inputs.iter().cloned();
    loop {
        let Some(o) = dialog.poll_output() else {
            match inputs.next() {
                Some(i) => {
                    dialog.handle(i);
                    continue;
                }
                None => break,
            }
        };
        log.push(o.clone());
        match o {
            RatingOutput::Say(_) => dialog.handle(RatingInput::PlaybackDone),
            RatingOutput::Hangup => break,
            _ => {}
        }
    }
    log
}

#[test]
fn low_confidence_is_read_back_and_confirmed_or_asked_again() {
    let mut d = dialog();
    let log = run(
        &mut d,
        &[utter("четыре", 0.3), utter("да", 0.9), RatingInput::NoInput],
    );
    assert!(
        log.iter()
            .any(|o| matches!(o, RatingOutput::Say(t) if t.contains("четыре, верно"))),
        "{log:?}"
    );
    assert_eq!(rated(&log), vec![(4, RatedBy::Voice)]);
    assert_eq!(
        comments(&log),
        Vec::<Option<String>>::new(),
        "silence: no comment"
    );

    let mut d = dialog();
    let log = run(
        &mut d,
        &[
            utter("четыре", 0.3),
            RatingInput::Key('2'),
            RatingInput::Key('3'),
            RatingInput::Key('#'),
        ],
    );
    assert_eq!(rated(&log), vec![(3, RatedBy::Keys)]);
    assert!(log
        .iter()
        .any(|o| matches!(o, RatingOutput::Say(t) if t == lines::ASK_AGAIN)));
}

#[test]
fn no_rating_after_three_asks_ends_politely() {
    let mut d = dialog();
    let log = run(
        &mut d,
        &[
            utter("кто это?", 0.9),
            RatingInput::NoInput,
            RatingInput::Unrecognised,
        ],
    );
    assert!(rated(&log).is_empty());
    let asks = log
        .iter()
        .filter(|o| matches!(o, RatingOutput::Say(t) if t == lines::ASK_AGAIN))
        .count();
    assert_eq!(asks, 2, "the greeting's question and two more");
    assert!(log
        .iter()
        .any(|o| matches!(o, RatingOutput::Say(t) if t == lines::NO_RATING)));
    assert_eq!(log.last(), Some(&RatingOutput::Hangup));
    assert_eq!(d.rated(), None);
}

#[test]
fn an_unrecognised_comment_keeps_the_audio_without_text() {
    let mut d = dialog();
    let log = run(&mut d, &[utter("отлично", 0.95), RatingInput::Unrecognised]);
    assert_eq!(rated(&log), vec![(5, RatedBy::Voice)]);
    assert_eq!(comments(&log), vec![None]);
}
