//! End to end: the robot reads numbers from human recordings when `[tts] number_clips` is
//! set (Asterisk's Russian prompts, Debian `asterisk-core-sounds-ru-wav`), and recorded
//! prompt files (`{ file = "…" }`) are played. Checked in the call's recording: the
//! robot's channel must contain the clips themselves.

mod common;

use common::{known_caller_steps, read_wav_8k, run_sipp, write_scenario, Options, Zvonar};
use serde_json::Value;

/// The robot's (right) channel of a call's recording, 8 kHz.
fn robot_channel(z: &Zvonar, call_id: &str) -> Vec<i16> {
    let (status, head, wav) = z.get_raw(&format!("/api/v1/calls/{call_id}/recording"), None);
    assert_eq!(status, 200, "{head}");
    let r = hound::WavReader::new(std::io::Cursor::new(wav)).expect("wav");
    assert_eq!(r.spec().channels, 2);
    let samples: Vec<i16> = r
        .into_samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    samples.chunks(2).map(|c| c[1]).collect()
}

/// The clip without its leading and trailing silence, as the robot plays it.
fn clip(name: &str) -> Vec<i16> {
    let pcm = read_wav_8k(&zvonar_fixtures::sound_ru(&format!("digits/{name}.wav")));
    zvonar_voice::clips::trim_silence(&pcm)
}

/// Normalised cross-correlation of `needle` with `hay` at `at` (1.0: the same samples up
/// to scale; G.711 coding keeps a played clip above 0.95).
fn ncc(hay: &[f64], needle: &[f64], at: usize) -> f64 {
    let w = &hay[at..at + needle.len()];
    let dot: f64 = needle.iter().zip(w).map(|(a, b)| a * b).sum();
    let e1: f64 = needle.iter().map(|x| x * x).sum();
    let e2: f64 = w.iter().map(|x| x * x).sum();
    if e1 <= 0.0 || e2 <= 0.0 {
        0.0
    } else {
        dot / (e1 * e2).sqrt()
    }
}

/// Averages of 4 samples (a coarse pass at 2 kHz).
fn decimate(x: &[f64]) -> Vec<f64> {
    x.chunks(4)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect()
}

/// Where `needle` best matches `hay` at or after sample `from`, and how well: a coarse
/// search on 4× decimated audio, refined at full rate around the best place.
fn find(hay: &[i16], needle: &[i16], from: usize) -> (f64, usize) {
    let h: Vec<f64> = hay.iter().skip(from).map(|&s| f64::from(s)).collect();
    let n: Vec<f64> = needle.iter().map(|&s| f64::from(s)).collect();
    if h.len() < n.len() + 8 || n.is_empty() {
        return (0.0, from);
    }
    let (hd, nd) = (decimate(&h), decimate(&n));
    let coarse = (0..=hd.len() - nd.len())
        .map(|at| (ncc(&hd, &nd, at), at))
        .fold((f64::MIN, 0), |a, b| if b.0 > a.0 { b } else { a });
    let centre = coarse.1 * 4;
    let lo = centre.saturating_sub(8);
    let hi = (centre + 8).min(h.len() - n.len());
    let fine = (lo..=hi)
        .map(|at| (ncc(&h, &n, at), at))
        .fold((f64::MIN, 0), |a, b| if b.0 > a.0 { b } else { a });
    (fine.0, from + fine.1)
}

#[test]
fn the_robot_reads_the_ticket_number_from_human_recordings() {
    let z = Zvonar::start_with(
        "ttsnorm-clips",
        Options {
            // Inside [tts] (the harness's last section): numbers from Debian's clips.
            extra_config: "number_clips = \"debian\"\n".into(),
            ..Options::default()
        },
    );
    // +7 916 123-45-67 is registered for ул. Ленина 5, кв. 12: keys 1 (address yes), 2 (not
    // about the outage), then a spoken problem; the ticket is filed and its number read.
    let sc = write_scenario(
        &z.dir,
        "clips",
        "+79161234567",
        "+74951234567",
        &known_caller_steps(),
        60_000,
    );
    let (ok, out) = run_sipp(&z, &sc, "u1", 120);
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );

    let tickets = z.get_json("/api/v1/tickets?limit=10");
    let ticket: Value = tickets
        .as_array()
        .and_then(|t| t.first())
        .cloned()
        .unwrap_or_else(|| panic!("no ticket: {tickets}\n{}", z.log()));
    let number = ticket["number"].as_str().expect("number").to_string();
    let call_id = ticket["call_id"].as_str().expect("call id").to_string();
    // The first ticket of a fresh database is 1001 (dispatch migration): read «десять, ноль
    // один» — clips 10, then 0 and 1.
    assert_eq!(number, "1001", "{ticket}");
    let call: Value = z.get_json(&format!("/api/v1/calls/{call_id}"));
    let said: Vec<&str> = call["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "robot_said")
        .filter_map(|e| e["payload"]["text"].as_str())
        .collect();
    assert!(
        said.iter().any(|s| s.contains("Номер заявки: 1001.")),
        "{said:?}"
    );

    let robot = robot_channel(&z, &call_id);
    // Each clip where it is expected: after the previous one (the yes/no questions between
    // also play clips «1» and «2»).
    let at = |name: &str, from: usize| {
        let (score, pos) = find(&robot, &clip(name), from);
        assert!(
            score > 0.95,
            "clip digits/{name}.wav not in the robot's audio after sample {from} \
             (best match {score:.3} at {pos})"
        );
        pos
    };
    // «Номер заявки: десять, ноль один.» (The caller's keys cut the questions before it
    // short, so the ticket number is the first full reading of numbers to look for.)
    let ten = at("10", 0);
    let zero = at("0", ten);
    at("1", zero);
    // A clip the robot never plays is not found: the check can fail.
    let (score, _) = find(&robot, &clip("90"), 0);
    assert!(score < 0.8, "digits/90.wav matched {score:.3}");
}

/// A WAV file in G.711 μ-law (format tag 7), as telephony recorders write prompts.
fn mulaw_wav(pcm: &[i16]) -> Vec<u8> {
    let data = zvonar_voice::codec::Codec::Pcmu.encode(pcm);
    let mut f = Vec::new();
    f.extend_from_slice(b"RIFF");
    f.extend_from_slice(&(4 + 26 + 8 + data.len() as u32).to_le_bytes());
    f.extend_from_slice(b"WAVEfmt ");
    f.extend_from_slice(&18u32.to_le_bytes());
    for v in [7u16, 1] {
        f.extend_from_slice(&v.to_le_bytes()); // μ-law, mono
    }
    for v in [8000u32, 8000] {
        f.extend_from_slice(&v.to_le_bytes()); // rate, bytes per second
    }
    for v in [1u16, 8, 0] {
        f.extend_from_slice(&v.to_le_bytes()); // block align, bits, cbSize
    }
    f.extend_from_slice(b"data");
    f.extend_from_slice(&(data.len() as u32).to_le_bytes());
    f.extend_from_slice(&data);
    f
}

/// A prompt recorded by an admin as μ-law WAV («Пожалуйста, попробуйте ещё раз», a person's
/// voice from Asterisk's Russian prompts) is played to the caller as it is.
#[test]
fn a_recorded_mulaw_prompt_file_is_played() {
    let human = read_wav_8k(&zvonar_fixtures::sound_ru("vm-pls-try-again.wav"));
    let dir = std::env::temp_dir().join(format!("zvonar-e2e-prompt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("try-again-ulaw.wav");
    std::fs::write(&file, mulaw_wav(&human)).expect("prompt file");
    let dialplan = format!(
        "[[route]]\nnumber = \"*\"\nflow = \"closed\"\n\n[flow.closed]\nkind = \"playback\"\n\
         prompt = {{ file = \"{}\" }}\n",
        file.display()
    );
    let z = Zvonar::start_with(
        "ttsnorm-file",
        Options {
            dialplan: Some(dialplan),
            ..Options::default()
        },
    );
    let sc = write_scenario(
        &z.dir,
        "file",
        "+79990000001",
        "777",
        &[common::Step::Pause(300)],
        15_000,
    );
    let (ok, out) = run_sipp(&z, &sc, "u1", 60);
    assert!(
        ok,
        "SIPp call failed:\n{out}\n--- zvonar log ---\n{}",
        z.log()
    );
    let calls = z.get_json("/api/v1/calls?limit=5");
    let call_id = calls[0]["call_id"].as_str().expect("call id").to_string();
    let robot = robot_channel(&z, &call_id);
    let played = zvonar_voice::tts::load_sound_file(&file).expect("μ-law prompt reads");
    let (score, _) = find(&robot, &zvonar_voice::clips::trim_silence(&played), 0);
    assert!(
        score > 0.95,
        "the recorded prompt was not played (best match {score:.3})"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A prompt file that is missing stops `zvonar check-config` (and `serve`) with its name.
#[test]
fn a_missing_prompt_file_is_an_error_at_start_naming_it() {
    let dir = std::env::temp_dir().join(format!("zvonar-e2e-noprompt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let dialplan = dir.join("dialplan.toml");
    std::fs::write(
        &dialplan,
        "[[route]]\nnumber = \"*\"\nflow = \"robot\"\n\n[flow.robot]\nkind = \"dispatcher_robot\"\n\
         company = \"УК\"\nprompts.greeting = { file = \"sounds/no-such-greeting.wav\" }\n",
    )
    .expect("dialplan");
    let example =
        std::fs::read_to_string(common::root().join("deploy/zvonar.toml")).expect("example config");
    let config = dir.join("zvonar.toml");
    std::fs::write(
        &config,
        example.replace(
            "dialplan = \"dialplan.toml\"",
            &format!("dialplan = \"{}\"", dialplan.display()),
        ),
    )
    .expect("config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zvonar"))
        .args(["--config", &config.to_string_lossy(), "check-config"])
        .output()
        .expect("zvonar runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "accepted a missing prompt file: {stderr}"
    );
    assert!(stderr.contains("sounds/no-such-greeting.wav"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
