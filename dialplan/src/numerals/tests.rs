use super::*;

#[test]
fn cardinals() {
    let cases = [
        ("ноль", 0),
        ("один", 1),
        ("двенадцать", 12),
        ("двадцать", 20),
        ("двадцать один", 21),
        ("сорок два", 42),
        ("девяносто девять", 99),
        ("сто", 100),
        ("сто двадцать три", 123),
        ("двести пять", 205),
        ("триста одиннадцать", 311),
        ("девятьсот девяносто девять", 999),
        ("тысяча", 1000),
        ("тысяча сто", 1100),
        ("две тысячи двадцать четыре", 2024),
        ("пять тысяч", 5000),
        ("сто двадцать тысяч триста", 120_300),
    ];
    for (text, want) in cases {
        assert_eq!(parse_number(text), Some(want), "{text}");
    }
}

#[test]
fn ordinals_and_cases() {
    let cases = [
        ("двенадцатая", 12),
        ("пятой", 5),
        ("двух", 2),
        ("трёх", 3),
        ("трех", 3),
        ("одиннадцатой", 11),
        ("две тысячи двадцать четвёртый", 2024),
        ("двухтысячный", 2000),
        ("в сто двадцать третьей", 123),
        ("первая", 1),
        ("третьего", 3),
        ("сороковой", 40),
        ("восьмидесяти", 80),
        ("пятисот", 500),
        ("пятидесятая", 50),
        ("седьмом", 7),
        ("сотый", 100),
        ("четырёхсот", 400),
        ("девяностых", 90),
        ("одной", 1),
        ("восьми", 8),
    ];
    for (text, want) in cases {
        assert_eq!(parse_number(text), Some(want), "{text}");
    }
}

#[test]
fn parts_in_wrong_order_are_separate_numbers() {
    assert_eq!(normalize_numbers("два три"), "2 3");
    assert_eq!(normalize_numbers("двенадцать пять"), "12 5");
    assert_eq!(normalize_numbers("ноль пять"), "0 5");
    assert_eq!(normalize_numbers("двадцать тринадцать"), "20 13");
    // An ordinal ends the numeral.
    assert_eq!(normalize_numbers("пятый два"), "5 2");
}

#[test]
fn normalize_keeps_text_around_numbers() {
    assert_eq!(normalize_numbers("дом пять корпус два"), "дом 5 корпус 2");
    assert_eq!(
        normalize_numbers("Дом пять, корпус два."),
        "Дом 5, корпус 2."
    );
    assert_eq!(
        normalize_numbers("Квартира сто двадцать три, подъезд второй"),
        "Квартира 123, подъезд 2"
    );
    assert_eq!(normalize_numbers("Двенадцать А"), "12 А");
    assert_eq!(normalize_numbers("квартира 12"), "квартира 12");
    // Whisper writes «две тысячи двадцать четыре» so; the parts fall in place value.
    assert_eq!(normalize_numbers("2 тысячи 24"), "2024");
    assert_eq!(normalize_numbers("2 тысячи двадцать четыре"), "2024");
    assert_eq!(normalize_numbers(""), "");
    assert_eq!(normalize_numbers("у меня течёт кран"), "у меня течёт кран");
}

#[test]
fn numbers_split_by_punctuation_do_not_merge() {
    assert_eq!(normalize_numbers("сто, двадцать"), "100, 20");
    assert_eq!(normalize_numbers("двадцать. Три"), "20. 3");
}

#[test]
fn digits_in_text() {
    assert_eq!(parse_number("Квартира 12."), Some(12));
    assert_eq!(parse_number("№ 45"), Some(45));
    assert_eq!(parse_number("нет чисел"), None);
    assert_eq!(parse_number(""), None);
    // Too long to be a number we speak.
    assert_eq!(parse_number("12345678901234567890"), None);
}

#[test]
fn words_that_look_like_numbers_are_not() {
    for w in [
        "сторона",
        "стол",
        "трибуна",
        "пятно",
        "семья",
        "десятка",
        "одни раз",
    ] {
        let n = parse_number(w);
        assert!(n.is_none() || w == "одни раз", "{w}: {n:?}");
    }
}

#[test]
fn apartments() {
    let cases = [
        ("двенадцать", "12"),
        ("двенадцать а", "12а"),
        ("Двенадцать А.", "12а"),
        ("квартира 12", "12"),
        ("12 а", "12а"),
        ("12-а", "12а"),
        ("12А", "12а"),
        ("12а", "12а"),
        ("двенадцать бэ", "12б"),
        ("сто двадцать третья", "123"),
        ("Квартира номер сорок пять.", "45"),
        ("дом пять квартира двенадцать", "12"),
        ("в двенадцатой квартире", "12"),
        ("кв. 7", "7"),
        ("Одиннадцатой", "11"),
        ("Квартира 12 A", "12а"),
    ];
    for (text, want) in cases {
        assert_eq!(parse_apartment(text).as_deref(), Some(want), "{text}");
    }
}

#[test]
fn apartment_letter_a_is_not_the_conjunction() {
    // The number is still found, without a letter; the talk around it makes the
    // utterance no clean answer.
    for text in ["двенадцать а у меня течёт", "двенадцать, а дом пять"]
    {
        let a = parse_number_answer(text, NumberKind::Apartment);
        assert_eq!(
            a.value.map(|v| v.to_string()).as_deref(),
            Some("12"),
            "{text}"
        );
        assert_eq!(a.class, AnswerClass::InTalk, "{text}");
        assert_eq!(parse_apartment(text), None, "{text}");
    }
    assert_eq!(
        parse_apartment("двенадцать а, квартира").as_deref(),
        Some("12а")
    );
}

#[test]
fn no_apartment() {
    assert_eq!(parse_apartment("не помню"), None);
    assert_eq!(parse_apartment("ноль"), None);
    assert_eq!(parse_apartment(""), None);
    assert_eq!(parse_apartment("..."), None);
}

#[test]
fn houses() {
    let cases = [
        ("дом пять корпус два", "5 корпус 2"),
        ("улица Ленина, дом 5", "5"),
        ("5к2", "5 корпус 2"),
        ("5 корпус 2", "5 корпус 2"),
        ("дом 12 а", "12а"),
        ("пять дробь два", "5/2"),
        ("5/2", "5/2"),
        ("дом семь строение один", "7 строение 1"),
        ("Ленина пять", "5"),
        ("Ленина д. 5", "5"),
        ("д 5, кв 12", "5"),
    ];
    for (text, want) in cases {
        assert_eq!(parse_house(text).as_deref(), Some(want), "{text}");
    }
    assert_eq!(parse_house("улица Ленина"), None);
}

#[test]
fn reading_digits_out() {
    assert_eq!(digits_spoken("1234"), "один, два, три, четыре");
    assert_eq!(digits_spoken("105"), "один, ноль, пять");
    assert_eq!(digits_spoken("А-17"), "А, один, семь");
    assert_eq!(digits_spoken(""), "");
}

#[test]
fn fold_handles_yo_and_case() {
    assert_eq!(fold("ТЕЧЁТ"), "течет");
    assert_eq!(fold("Ёлка"), "елка");
}

#[test]
fn recogniser_slots_map_to_number_kinds() {
    use zvonar_models::NumberSlot;
    let cases = [
        (NumberSlot::Apartment, NumberKind::Apartment),
        (NumberSlot::House, NumberKind::House),
        (NumberSlot::Reading, NumberKind::Reading),
        (NumberSlot::Rating, NumberKind::Rating),
    ];
    for (slot, kind) in cases {
        assert_eq!(NumberKind::from(slot), kind, "{slot:?}");
    }
    // The slot decides what the answer means: «пятёрка» is a rating, not an apartment.
    let rating = parse_number_answer("пятёрка", NumberSlot::Rating.into());
    assert_eq!(rating.accepted().map(|v| v.number), Some(5));
    let apartment = parse_number_answer("пятёрка", NumberSlot::Apartment.into());
    assert_eq!(apartment.class, AnswerClass::NoNumber);
}

/// Russian words of `n` (1–1999), nominative masculine, as a person says an apartment.
fn words_of(n: u32) -> String {
    const UNITS: [&str; 10] = [
        "",
        "один",
        "два",
        "три",
        "четыре",
        "пять",
        "шесть",
        "семь",
        "восемь",
        "девять",
    ];
    const TEENS: [&str; 10] = [
        "десять",
        "одиннадцать",
        "двенадцать",
        "тринадцать",
        "четырнадцать",
        "пятнадцать",
        "шестнадцать",
        "семнадцать",
        "восемнадцать",
        "девятнадцать",
    ];
    const TENS: [&str; 10] = [
        "",
        "",
        "двадцать",
        "тридцать",
        "сорок",
        "пятьдесят",
        "шестьдесят",
        "семьдесят",
        "восемьдесят",
        "девяносто",
    ];
    const HUNDREDS: [&str; 10] = [
        "",
        "сто",
        "двести",
        "триста",
        "четыреста",
        "пятьсот",
        "шестьсот",
        "семьсот",
        "восемьсот",
        "девятьсот",
    ];
    let mut out = Vec::new();
    if n >= 1000 {
        out.push("тысяча");
    }
    let (h, r) = ((n % 1000) / 100, n % 100);
    out.push(HUNDREDS[h as usize]);
    if (10..=19).contains(&r) {
        out.push(TEENS[(r - 10) as usize]);
    } else {
        out.push(TENS[(r / 10) as usize]);
        out.push(UNITS[(r % 10) as usize]);
    }
    out.retain(|w| !w.is_empty());
    out.join(" ")
}

#[test]
fn every_apartment_1_to_1200_in_words_and_whisper_mixed_forms() {
    for n in 1..=1200u32 {
        let w = words_of(n);
        let mut forms = vec![
            w.clone(),
            format!("Квартира {w}."),
            n.to_string(),
            format!("{n}."),
        ];
        // Whisper's split at place values: the head in digits or words, the rest in digits.
        let (head, unit) = (n - n % 10, n % 10);
        if unit != 0 && n % 100 > 19 {
            forms.push(format!("{head} {unit}"));
            forms.push(format!("{} {unit}", words_of(head)));
        }
        let rest = n % 1000;
        if n > 1000 && rest != 0 {
            forms.push(format!("Тысяча {rest}."));
            forms.push(format!("1000 {rest}"));
            forms.push(format!("Тысяча, {}.", words_of(rest)));
        }
        let r = n % 100;
        if n % 1000 >= 100 && r != 0 {
            forms.push(format!("{} {r}", words_of(n - r)));
            forms.push(format!("{} {r}", n - r));
        }
        for f in forms {
            let a = parse_number_answer(&f, NumberKind::Apartment);
            assert_eq!(
                (a.class, a.value.map(|v| v.number)),
                (AnswerClass::Clean, Some(n)),
                "{f:?}"
            );
        }
    }
}

#[test]
fn the_grammar_vocabulary_has_only_russian_ordinal_forms() {
    let v = answer_vocabulary(NumberKind::Apartment);
    for word in [
        "четвертый",
        "четвертое",
        "шестой",
        "седьмом",
        "третий",
        "третьего",
        "сотый",
    ] {
        assert!(v.iter().any(|w| w == word), "{word}");
    }
    for word in ["четвертее", "четвертюю", "пятими", "седьмее", "сотие"]
    {
        assert!(!v.iter().any(|w| w == word), "{word}");
        // The normaliser still reads them, should a recogniser write one.
        assert!(super::table::table().contains_key(word), "{word}");
    }
}
