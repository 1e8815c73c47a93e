//! The table test: `dialplan/tests/fixtures/numerals.tsv`, utterances as Whisper writes
//! them → what the normaliser must make of them. The format is described at the top of
//! that file.

use super::*;

const TABLE: &str = include_str!("../../tests/fixtures/numerals.tsv");

/// One row: line number, kind, input, expected.
fn rows() -> Vec<(usize, &'static str, &'static str, &'static str)> {
    TABLE
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(n, l)| {
            let mut f = l.split('\t');
            let kind = f.next().unwrap_or_default();
            let input = f
                .next()
                .unwrap_or_else(|| panic!("line {}: no input", n + 1));
            let want = f
                .next()
                .unwrap_or_else(|| panic!("line {}: no expected result", n + 1));
            assert!(f.next().is_none(), "line {}: more than 3 fields", n + 1);
            (n + 1, kind, input, want)
        })
        .collect()
}

fn kind(name: &str) -> Option<NumberKind> {
    Some(match name {
        "apt" => NumberKind::Apartment,
        "house" => NumberKind::House,
        "reading" => NumberKind::Reading,
        "rating" => NumberKind::Rating,
        "plain" => NumberKind::Plain,
        _ => return None,
    })
}

/// Checks one row; returns a description of the mismatch.
fn check(kind_name: &str, input: &str, want: &str) -> Result<(), String> {
    let opt = |o: Option<String>| o.unwrap_or_else(|| "None".to_string());
    let got = match kind_name {
        "norm" => return cmp(normalize_numbers(input), want),
        "f:apartment" => return cmp(opt(parse_apartment(input)), want),
        "f:house" => return cmp(opt(parse_house(input)), want),
        "f:number" => return cmp(opt(parse_number(input).map(|n| n.to_string())), want),
        k => parse_number_answer(input, kind(k).ok_or(format!("unknown kind {k}"))?),
    };
    let mut w = want.split_whitespace();
    let class = match w.next() {
        Some("clean") => AnswerClass::Clean,
        Some("labelled") => AnswerClass::Labelled,
        Some("talk") => AnswerClass::InTalk,
        Some("none") => AnswerClass::NoNumber,
        other => return Err(format!("bad expected class {other:?}")),
    };
    let mut value = None;
    let (mut soundalike, mut in_range) = (false, class != AnswerClass::NoNumber);
    for f in w {
        match f {
            "sa" => soundalike = true,
            "oor" => in_range = false,
            v => value = Some(v.replace('_', " ")),
        }
    }
    let got_value = got.value.as_ref().map(ToString::to_string);
    let ok = got.class == class
        && (value.is_none() || got_value == value)
        && got.soundalike == soundalike
        && got.in_range == in_range;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "got {:?} {} sa={} in_range={} (other numbers {}, other words {})",
            got.class,
            opt(got_value),
            got.soundalike,
            got.in_range,
            got.other_numbers,
            got.other_words
        ))
    }
}

fn cmp(got: String, want: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("got {got:?}"))
    }
}

#[test]
fn whisper_number_table() {
    let rows = rows();
    assert!(rows.len() >= 300, "only {} cases", rows.len());
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|(n, k, input, want)| {
            check(k, input, want)
                .err()
                .map(|e| format!("line {n}: {k} {input:?} → want {want:?}, {e}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn table_rejects_a_wrong_expectation() {
    // The checker itself can fail: a wrong value, class or flag is reported.
    assert!(check("apt", "40 5", "clean 40").is_err());
    assert!(check("apt", "40 5", "talk 45").is_err());
    assert!(check("apt", "Сим", "clean 7").is_err());
    assert!(check("apt", "0", "clean 0").is_err());
    assert!(check("norm", "сорок пять", "40 5").is_err());
    assert!(check("apt", "40 5", "clean 45").is_ok());
}
