//! Numbers spoken by a person, recognised as the answer to «Назовите номер квартиры»:
//! the share right on the first attempt, offline (Whisper + the normaliser) and through
//! real SIP calls.
//!
//! The test set: [`zvonar_fixtures::spoken_numbers::test_set`] (numbers 1–199 and
//! 1000–1199, the ones Asterisk's recorded Russian words can say), each built from the
//! human clips of `asterisk-core-sounds-ru-wav` at a pace, gaps and level drawn from the
//! seed.
//!
//! ```text
//! cargo bench --bench numbers                      # offline, every decoding variant
//! cargo bench --bench numbers -- offline plain grammar   # offline, the named variants only
//! cargo bench --bench numbers -- sip               # 30 numbers through SIP calls to `zvonar serve`
//! options: --count N (offline set size, default 120), --sip-count N (default 30), --seed S (default 6)
//! ```
//!
//! Offline prints, per variant: right / total, the failures (number, what Whisper wrote,
//! what the normaliser made of it) and ASR ms per utterance (mean, p50, p95). Through SIP
//! it files a ticket per call (apartment by voice, problem by keypad menu) and compares
//! the apartment on the ticket.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;
use zvonar_dialplan::numerals::{answer_vocabulary, parse_apartment, NumberKind};
use zvonar_fixtures::spoken_numbers::test_set;
use zvonar_voice::asr::grammar::NumberGrammar;
use zvonar_voice::asr::{Asr, AsrConfig, AsrOutcome, Expect, NumberDecoding, NumberSlot};

/// A decoding of number answers to measure.
struct Variant {
    name: &'static str,
    numbers: NumberDecoding,
}

/// `confirm_below` of deploy/dialplan.toml: a spoken apartment heard with a lower
/// confidence is read back for confirmation.
const CONFIRM_BELOW: f32 = 0.6;

/// Words as Whisper is to write them: a prompt of apartment numbers in words.
const PROMPT_WORDS: &str =
    "Квартира сорок пять. Квартира сто двадцать три. Квартира тысяча сто семьдесят восемь.";
/// Digits as Whisper is to write them: the same apartments in digits.
const PROMPT_DIGITS: &str = "Квартира 45. Квартира 123. Квартира 1178.";

fn variants() -> Vec<Variant> {
    vec![
        Variant {
            name: "plain",
            numbers: NumberDecoding::plain(),
        },
        Variant {
            name: "prompt-words",
            numbers: NumberDecoding {
                prompt: Some(PROMPT_WORDS.into()),
                beam_size: 1,
                grammars: Vec::new(),
            },
        },
        Variant {
            name: "prompt-digits",
            numbers: NumberDecoding {
                prompt: Some(PROMPT_DIGITS.into()),
                beam_size: 1,
                grammars: Vec::new(),
            },
        },
        Variant {
            name: "beam5",
            numbers: NumberDecoding {
                prompt: None,
                beam_size: 5,
                grammars: Vec::new(),
            },
        },
        Variant {
            name: "prompt-digits-beam5",
            numbers: NumberDecoding {
                prompt: Some(PROMPT_DIGITS.into()),
                beam_size: 5,
                grammars: Vec::new(),
            },
        },
        Variant {
            name: "grammar",
            numbers: NumberDecoding::with_grammars(vec![(
                NumberSlot::Apartment,
                std::sync::Arc::new(NumberGrammar::new(answer_vocabulary(NumberKind::Apartment))),
            )]),
        },
        Variant {
            name: "grammar-words",
            numbers: NumberDecoding::with_grammars(vec![(
                NumberSlot::Apartment,
                std::sync::Arc::new(
                    NumberGrammar::new(answer_vocabulary(NumberKind::Apartment)).words_only(),
                ),
            )]),
        },
        Variant {
            name: "default",
            numbers: NumberDecoding::default(),
        },
    ]
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The utterance of number `n` in the test set drawn from `seed`.
fn utterance(n: u32, seed: u64) -> Vec<i16> {
    zvonar_fixtures::spoken_number(n, seed.wrapping_mul(1_000_003) ^ u64::from(n))
}

fn offline(wanted: &[String], count: usize, seed: u64) {
    let set = test_set(count, seed);
    let audio: Vec<(u32, Vec<i16>)> = set.iter().map(|&n| (n, utterance(n, seed))).collect();
    let audio_s: f64 = audio.iter().map(|(_, a)| a.len() as f64 / 8000.0).sum();
    println!(
        "numbers-offline: {} numbers (seed {seed}), {:.1} s of speech, Whisper base, 1 worker × 2 threads",
        audio.len(),
        audio_s
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for v in variants() {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == v.name) {
            continue;
        }
        let mut cfg = AsrConfig::new(common::whisper_model());
        cfg.numbers = v.numbers.clone();
        let asr = Asr::start(cfg).expect("model loads");
        let cancel = tokio_util::sync::CancellationToken::new();
        let mut right = 0;
        let mut failures = Vec::new();
        let mut silent = 0usize;
        let mut ms = Vec::new();
        let t0 = Instant::now();
        for (n, pcm) in &audio {
            let out = rt
                .block_on(asr.recognise_expecting(
                    pcm.clone(),
                    Expect::Number(NumberSlot::Apartment),
                    &cancel,
                ))
                .expect("decodes");
            let (text, parsed, confidence) = match &out {
                AsrOutcome::Speech(t) => {
                    ms.push(t.asr_ms);
                    (t.text.clone(), parse_apartment(&t.text), t.confidence)
                }
                AsrOutcome::Rejected { reason, transcript } => {
                    ms.push(transcript.asr_ms);
                    (
                        format!("[rejected: {reason}] {}", transcript.text),
                        None,
                        transcript.confidence,
                    )
                }
            };
            if parsed.as_deref() == Some(n.to_string().as_str()) {
                right += 1;
            } else {
                // A wrong number heard confidently is filed without being read back
                // (every number of the set is an apartment of the building).
                if parsed.is_some() && confidence >= CONFIRM_BELOW {
                    silent += 1;
                }
                failures.push(format!(
                    "{n}: heard {text:?} (confidence {confidence:.2}) → {}",
                    parsed.as_deref().unwrap_or("nothing")
                ));
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        ms.sort_unstable();
        let mean = ms.iter().map(|&m| f64::from(m)).sum::<f64>() / ms.len().max(1) as f64;
        println!(
            "numbers-offline [{}]: right first time {right}/{} = {:.1} %; ASR ms per utterance mean {mean:.0} p50 {} p95 {}; wall {wall:.1} s",
            v.name,
            audio.len(),
            100.0 * right as f64 / audio.len() as f64,
            percentile(&ms, 0.5),
            percentile(&ms, 0.95),
        );
        println!(
            "numbers-offline [{}]: wrong and confident (≥ {CONFIRM_BELOW}, filed without read-back) {silent}/{} = {:.1} %; right after confirmation if callers correct every read-back ≥ {:.1} %",
            v.name,
            audio.len(),
            100.0 * silent as f64 / audio.len() as f64,
            100.0 - 100.0 * silent as f64 / audio.len() as f64,
        );
        for f in &failures {
            println!("numbers-offline [{}]   wrong: {f}", v.name);
        }
    }
}

/// Calls zvonar once per number from a number it does not know: building by key 1
/// (проспект Мира 101 in the example registry), the apartment by voice, the problem by
/// key 1 (topic «протечка»); then reads the apartment on the call's ticket.
fn through_sip(count: usize, seed: u64) {
    use common::{write_scenario, Options, Step, Zvonar};
    let z = Zvonar::start_with(
        "bench-numbers",
        Options {
            answer_after_ms: 0,
            ..Options::default()
        },
    );
    let set = test_set(count, seed);
    let mut right = 0;
    let mut wrong = Vec::new();
    let t0 = Instant::now();
    for (i, &n) in set.iter().enumerate() {
        let caller = format!("8495778{i:04}");
        let steps = vec![
            Step::Pause(2500),
            Step::Keys("1"),
            Step::Pause(3500),
            Step::Say(utterance(n, seed)),
            Step::Pause(6000),
            Step::Keys("1"),
        ];
        let name = format!("num{i}");
        let sc = write_scenario(&z.dir, &name, &caller, "+74951234567", &steps, 60_000);
        let (ok, text) = common::run_sipp(&z, &sc, "u1", 120);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let (call_id, apartment) = ticket_apartment(&z, &caller[1..]);
        if apartment.as_deref() == Some(n.to_string().as_str()) {
            right += 1;
        } else {
            let heard: Vec<String> = call_id
                .map(|id| z.get_json(&format!("/api/v1/calls/{id}")))
                .and_then(|c| c["timeline"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter(|e| e["kind"] == "recognised" || e["kind"] == "speech_rejected")
                .map(|e| e.to_string())
                .collect();
            wrong.push(format!(
                "{n}: ticket apartment {apartment:?}, heard {heard:?} (sipp ok {ok}){}",
                if ok {
                    String::new()
                } else {
                    format!("\n{text}")
                }
            ));
        }
    }
    println!(
        "numbers-sip: right first time {right}/{} = {:.1} % (apartment on the ticket, one call per number, {:.0} s)",
        set.len(),
        100.0 * right as f64 / set.len().max(1) as f64,
        t0.elapsed().as_secs_f64()
    );
    for w in &wrong {
        println!("numbers-sip   wrong: {w}");
    }
}

/// The call from a caller whose number ends with `caller`, and the apartment on its ticket.
fn ticket_apartment(z: &common::Zvonar, caller: &str) -> (Option<String>, Option<String>) {
    let calls = z.get_json("/api/v1/calls?limit=1000");
    let call_id = calls.as_array().and_then(|a| {
        a.iter().find_map(|c| {
            c["caller_raw"]
                .as_str()
                .filter(|s| s.ends_with(caller))
                .and(c["call_id"].as_str())
                .map(str::to_string)
        })
    });
    let Some(id) = call_id.clone() else {
        return (None, None);
    };
    let tickets = z.get_json("/api/v1/tickets?limit=1000");
    let apartment = tickets.as_array().and_then(|a| {
        a.iter()
            .find(|t| t["call_id"] == id.as_str())
            .and_then(|t| t["apartment"].as_str())
            .map(str::to_string)
    });
    (call_id, apartment)
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let (mut count, mut sip_count, mut seed) = (120usize, 30usize, 6u64);
    let mut words = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--count" => count = args.next().and_then(|v| v.parse().ok()).unwrap_or(count),
            "--sip-count" => {
                sip_count = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(sip_count)
            }
            "--seed" => seed = args.next().and_then(|v| v.parse().ok()).unwrap_or(seed),
            a if a.starts_with("--") => {}
            a => words.push(a.to_string()),
        }
    }
    let sip = words.iter().any(|w| w == "sip");
    let off = words.iter().any(|w| w == "offline");
    let names: Vec<String> = words
        .into_iter()
        .filter(|w| w != "sip" && w != "offline")
        .collect();
    if off || !sip {
        offline(&names, count, seed);
    }
    if sip || !off {
        through_sip(sip_count, seed);
    }
}
