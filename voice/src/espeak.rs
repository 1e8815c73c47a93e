//! espeak-ng, in-process, through the raw bindings of `espeak-rs-sys` (the same espeak-ng
//! build piper-rs uses for phonemes). Used for languages without a Piper voice — today
//! Russian, whose Piper voices' weights cannot be fetched on our build machines.
//!
//! espeak-ng keeps global state and is not thread-safe: every call here takes one global
//! lock, and [`crate::tts`] calls it from a single thread. It is initialised once, here,
//! with its data path passed as an argument — never through the environment (setting an
//! environment variable once threads run is unsound) — and Piper's phonemes come from
//! [`text_to_phonemes`] on the same engine.
#![allow(unsafe_code)] // FFI to espeak-ng's C API; each unsafe block states what it relies on.

use crate::tts::{to_8k, TtsError};
use espeak_rs_sys as sys;
use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::os::raw::{c_int, c_short};
use std::path::Path;
use std::sync::Mutex;

/// Rate espeak-ng synthesises at, Hz (returned by `espeak_Initialize`).
static STATE: Mutex<Option<u32>> = Mutex::new(None);

thread_local! {
    static COLLECT: RefCell<Vec<i16>> = const { RefCell::new(Vec::new()) };
}

/// Initialises espeak-ng once (later calls only update the rate).
///
/// `data_parent` is the directory containing `espeak-ng-data/`, handed to
/// `espeak_Initialize` as its path argument; `None` lets espeak-ng search its defaults
/// (`ESPEAK_DATA_PATH`, then its built-in path). The environment is never written.
/// Errors: [`TtsError::Espeak`] when espeak-ng finds no usable data there.
pub fn init(data_parent: Option<&Path>, rate_wpm: u32) -> Result<(), TtsError> {
    let mut st = STATE
        .lock()
        .map_err(|_| TtsError::Espeak("lock poisoned".into()))?;
    if st.is_none() {
        if let Some(p) = data_parent {
            if !p.join("espeak-ng-data").is_dir() {
                return Err(TtsError::Espeak(format!(
                    "{} has no espeak-ng-data directory",
                    p.display()
                )));
            }
        }
        // SYNCHRONOUS mode: espeak_Synth returns only after all audio reached our callback
        // on the calling thread.
        let path = data_parent.and_then(|p| CString::new(p.to_string_lossy().as_bytes()).ok());
        let path_ptr = path.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: `path_ptr` is null or a NUL-terminated string alive for the call.
        let rate = unsafe {
            sys::espeak_Initialize(
                sys::espeak_AUDIO_OUTPUT_AUDIO_OUTPUT_SYNCHRONOUS,
                0,
                path_ptr,
                sys::espeakINITIALIZE_DONT_EXIT as c_int,
            )
        };
        if rate <= 0 {
            return Err(TtsError::Espeak(format!(
                "espeak_Initialize failed ({rate}); is espeak-ng-data installed?"
            )));
        }
        *st = Some(rate as u32);
    }
    if rate_wpm > 0 {
        // SAFETY: plain integer parameter call on an initialised engine.
        unsafe {
            sys::espeak_SetParameter(sys::espeak_PARAMETER_espeakRATE, rate_wpm as c_int, 0);
        }
    }
    Ok(())
}

unsafe extern "C" fn on_audio(
    wav: *mut c_short,
    n: c_int,
    _events: *mut sys::espeak_EVENT,
) -> c_int {
    if !wav.is_null() && n > 0 {
        // SAFETY: espeak-ng passes `n` valid samples at `wav` for the duration of the call.
        let chunk = unsafe { std::slice::from_raw_parts(wav, n as usize) };
        COLLECT.with(|c| c.borrow_mut().extend_from_slice(chunk));
    }
    0 // continue synthesis
}

/// Speaks `text` with espeak-ng's voice for `language` (`ru`, `en`, …) and returns
/// 8 kHz mono samples. Clauses keep their pauses (espeak reads punctuation itself).
///
/// Errors: [`TtsError::Espeak`] when not initialised, the voice is missing or synthesis fails.
pub fn speak(text: &str, language: &str) -> Result<Vec<i16>, TtsError> {
    let st = STATE
        .lock()
        .map_err(|_| TtsError::Espeak("lock poisoned".into()))?;
    let rate = st.ok_or_else(|| TtsError::Espeak("not initialised".into()))?;
    let voice = CString::new(language).map_err(|_| TtsError::Espeak("bad language".into()))?;
    let ctext = CString::new(text).map_err(|_| TtsError::Espeak("text has a NUL byte".into()))?;
    COLLECT.with(|c| c.borrow_mut().clear());
    // SAFETY: the engine is initialised (STATE is Some) and we hold the global lock, so no
    // other thread is inside espeak-ng; the strings outlive the calls; the callback only
    // touches this thread's buffer.
    let (set, res) = unsafe {
        sys::espeak_SetSynthCallback(Some(on_audio));
        let set = sys::espeak_SetVoiceByName(voice.as_ptr());
        let res = sys::espeak_Synth(
            ctext.as_ptr() as *const _,
            ctext.as_bytes_with_nul().len(),
            0,
            sys::espeak_POSITION_TYPE_POS_CHARACTER,
            0,
            sys::espeakCHARS_UTF8,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        (set, res)
    };
    if set != sys::espeak_ERROR_EE_OK {
        return Err(TtsError::Espeak(format!(
            "no espeak-ng voice for {language:?}"
        )));
    }
    if res != sys::espeak_ERROR_EE_OK {
        return Err(TtsError::Espeak(format!("espeak_Synth failed ({res})")));
    }
    let pcm = COLLECT.with(|c| std::mem::take(&mut *c.borrow_mut()));
    Ok(to_8k(&pcm, rate))
}

/// IPA phonemes of `text` for espeak-ng's voice `voice`, one string per sentence (clauses
/// joined; a sentence ends at `.`, `?` or `!`), with espeak's language-switch marks such as
/// `(en)` removed — what Piper voices are trained on. Same engine and lock as [`speak`].
///
/// Errors: [`TtsError::Espeak`] when not initialised, the voice is missing or the text has
/// a NUL byte.
pub fn text_to_phonemes(text: &str, voice: &str) -> Result<Vec<String>, TtsError> {
    let st = STATE
        .lock()
        .map_err(|_| TtsError::Espeak("lock poisoned".into()))?;
    if st.is_none() {
        return Err(TtsError::Espeak("not initialised".into()));
    }
    let cvoice = CString::new(voice).map_err(|_| TtsError::Espeak("bad voice name".into()))?;
    // SAFETY: initialised, and we hold the global lock; the string outlives the call.
    let set = unsafe { sys::espeak_SetVoiceByName(cvoice.as_ptr()) };
    if set != sys::espeak_ERROR_EE_OK {
        return Err(TtsError::Espeak(format!(
            "no espeak-ng voice for {voice:?}"
        )));
    }
    let mode = sys::espeakINITIALIZE_PHONEME_IPA as c_int;
    let mut sentences = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let cline =
            CString::new(line).map_err(|_| TtsError::Espeak("text has a NUL byte".into()))?;
        let mut ptr: *const c_char = cline.as_ptr();
        while !ptr.is_null() {
            // SAFETY: `ptr` points into `cline` (alive for the loop) or is advanced by
            // espeak-ng within it, clause by clause, and set to null at the end; the
            // returned string is espeak's static buffer, copied before the next call.
            let clause = unsafe {
                let res = sys::espeak_TextToPhonemes(
                    &mut ptr as *mut *const c_char as *mut *const c_void,
                    sys::espeakCHARS_UTF8 as c_int,
                    mode,
                );
                if res.is_null() {
                    continue;
                }
                CStr::from_ptr(res).to_string_lossy().into_owned()
            };
            let clause = strip_language_switches(&clause);
            if clause.is_empty() {
                continue;
            }
            current.push_str(&clause);
            if matches!(current.trim_end().chars().last(), Some('.' | '?' | '!')) {
                sentences.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            sentences.push(std::mem::take(&mut current));
        }
    }
    Ok(sentences)
}

/// Removes espeak's inline language-switch marks such as `(en)`.
fn strip_language_switches(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}
