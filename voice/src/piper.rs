//! Piper voices through piper-rs and ONNX Runtime (ort, loaded dynamically).

use crate::tts::{to_8k, PiperVoice, TtsError};
use std::path::Path;
use std::time::Duration;

/// A loaded Piper voice and the espeak-ng voice its phonemes come from.
pub struct LoadedPiper {
    inner: piper_rs::Piper,
    espeak_voice: String,
}

/// Checks and loads ONNX Runtime from `lib` once per process.
///
/// A missing or wrong library makes ort hang rather than fail, so the file is checked
/// first (exists, is an ELF shared object) and the load runs on a probe thread with a
/// 20 s limit. Errors: [`TtsError::Piper`] saying what is wrong.
pub fn init_onnxruntime(lib: &Path) -> Result<(), TtsError> {
    let bytes =
        std::fs::read(lib).map_err(|e| TtsError::Piper(format!("{}: {e}", lib.display())))?;
    if bytes.len() < 1024 * 1024 || !bytes.starts_with(b"\x7fELF") {
        return Err(TtsError::Piper(format!(
            "{} is not an ONNX Runtime shared library",
            lib.display()
        )));
    }
    drop(bytes);
    let (tx, rx) = std::sync::mpsc::channel();
    let lib = lib.to_path_buf();
    std::thread::spawn(move || {
        let r = ort::init_from(&lib).map(|b| {
            b.commit();
        });
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(TtsError::Piper(format!("ONNX Runtime: {e}"))),
        Err(_) => Err(TtsError::Piper(
            "ONNX Runtime did not load within 20 s".into(),
        )),
    }
}

/// Loads one voice. Errors: [`TtsError::Piper`] when the files are missing or invalid.
pub fn load(v: &PiperVoice) -> Result<LoadedPiper, TtsError> {
    let cfg = std::fs::read_to_string(&v.config)
        .map_err(|e| TtsError::Piper(format!("{}: {e}", v.config.display())))?;
    let json: serde_json::Value = serde_json::from_str(&cfg)
        .map_err(|e| TtsError::Piper(format!("{}: {e}", v.config.display())))?;
    let espeak_voice = json
        .pointer("/espeak/voice")
        .and_then(|x| x.as_str())
        .unwrap_or(&v.language)
        .to_string();
    let inner =
        piper_rs::Piper::new(&v.model, &v.config).map_err(|e| TtsError::Piper(e.to_string()))?;
    Ok(LoadedPiper {
        inner,
        espeak_voice,
    })
}

/// Splits text into clauses at punctuation, keeping the mark with its clause.
pub fn clauses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        cur.push(c);
        if matches!(c, ',' | ';' | ':' | '.' | '!' | '?' | '—') {
            let t = cur.trim().to_string();
            if !t.is_empty() {
                out.push(t);
            }
            cur.clear();
        }
    }
    let t = cur.trim().to_string();
    if !t.is_empty() {
        out.push(t);
    }
    out
}

/// Speaks `text`, phonemising clause by clause (espeak-ng drops the punctuation between
/// clauses when given a whole sentence, so words would run together), and returns
/// 8 kHz mono samples. Errors: [`TtsError::Piper`].
pub fn speak(p: &mut LoadedPiper, text: &str) -> Result<Vec<i16>, TtsError> {
    let mut phonemes = Vec::new();
    for clause in clauses(text) {
        let ph = crate::espeak::text_to_phonemes(&clause, &p.espeak_voice)
            .map_err(|e| TtsError::Piper(e.to_string()))?
            .join(" ");
        let mark = clause.chars().last().filter(|c| c.is_ascii_punctuation());
        let ph = ph
            .trim_end_matches(|c: char| c.is_ascii_punctuation())
            .to_string();
        phonemes.push(match mark {
            Some(m) => format!("{ph}{m}"),
            None => ph,
        });
    }
    let (samples, rate) = p
        .inner
        .create(&phonemes.join(" "), true, None, None, None, None)
        .map_err(|e| TtsError::Piper(e.to_string()))?;
    let pcm: Vec<i16> = samples
        .iter()
        .map(|&s| (s.clamp(-1.0, 1.0) * 32767.0) as i16)
        .collect();
    Ok(to_8k(&pcm, rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_keep_their_marks() {
        assert_eq!(
            clauses("Здравствуйте, это диспетчер. Слушаю вас!"),
            vec!["Здравствуйте,", "это диспетчер.", "Слушаю вас!"]
        );
    }
}
