//! Festival (the Edinburgh speech synthesis system, Debian's `festival` package) with a
//! Russian voice — by default `msu_ru_nsh_clunits` from Debian's `festvox-ru` — run as one
//! long-lived child process, not a process per phrase: loading the voice takes seconds and
//! ~450 MB, a phrase then takes ~0.1–0.3 s.
//!
//! Protocol: `festival --pipe` reads Scheme forms from its stdin. Each request is one line
//!
//! ```text
//! (unwind-protect (begin EXPR (format t "ZVONAR-OK N\n")) (format t "ZVONAR-ERR N\n"))(fflush nil)
//! ```
//!
//! where `N` is the request's sequence number; Festival's `unwind-protect` runs its second
//! form only when the first fails, and `(fflush nil)` pushes the marker through the pipe (a
//! piped stdout is block-buffered). Speech goes to a WAV file in a private temporary
//! directory, read back and taken to 8 kHz. Text is passed only inside Scheme string
//! literals, escaped by [`scheme_string`], after [`speakable`] has reduced it to the
//! characters the voice knows (letters, digits, `' - + . , ; ? !`).
//!
//! Failure handling: a Festival that exited is restarted before the next phrase; one that
//! does not answer within [`FestivalConfig::reply_timeout`] is killed and restarted on the
//! next phrase; the phrase in flight fails with [`TtsError::Festival`].

use crate::tts::{load_sound_file, TtsError};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The Russian voice of Debian's `festvox-ru` (selected with `(voice_msu_ru_nsh_clunits)`).
pub const DEFAULT_VOICE: &str = "msu_ru_nsh_clunits";

/// How Festival is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FestivalConfig {
    /// The `festival` program (found on `PATH` when it has no directory part).
    pub program: PathBuf,
    /// Festival voice name without the `voice_` prefix (`msu_ru_nsh_clunits`): ASCII letters,
    /// digits and `_` only.
    pub voice: String,
    /// Longest wait for one phrase, ms; a Festival silent for longer is taken as hung,
    /// killed, and restarted on the next phrase. Default 30 000.
    pub reply_timeout_ms: u64,
    /// Longest wait for Festival to start and load the voice, ms. Default 120 000 (the
    /// voice's 230 MB are read from disk on a cold start).
    pub start_timeout_ms: u64,
}

impl Default for FestivalConfig {
    fn default() -> Self {
        FestivalConfig {
            program: PathBuf::from("festival"),
            voice: DEFAULT_VOICE.to_string(),
            reply_timeout_ms: 30_000,
            start_timeout_ms: 120_000,
        }
    }
}

/// A running Festival with its voice loaded; restarts itself when the process dies.
pub struct Festival {
    config: FestivalConfig,
    /// Holds the WAV file Festival writes; removed on drop.
    dir: tempfile::TempDir,
    proc: Option<Process>,
    seq: u64,
    restarts: u64,
}

/// One `festival --pipe` child and the threads reading its output.
struct Process {
    child: Child,
    stdin: ChildStdin,
    /// Lines Festival writes to stdout; disconnected when it exits.
    lines: Receiver<String>,
    /// Its last lines on stderr (Festival's error messages), for error reports.
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What became of one request.
enum Reply {
    Ok,
    /// Festival reported an error in the form (its message is in stderr).
    Failed,
}

impl Festival {
    /// Starts Festival and loads the voice.
    ///
    /// Errors: [`TtsError::Festival`] saying that the program is not installed (with the
    /// Debian packages to install), that the voice is unknown, or that it did not start
    /// within [`FestivalConfig::start_timeout_ms`].
    pub fn start(config: FestivalConfig) -> Result<Self, TtsError> {
        if config.voice.is_empty()
            || !config
                .voice
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(TtsError::Festival(format!(
                "voice name {:?}: only ASCII letters, digits and _ are allowed",
                config.voice
            )));
        }
        let dir = tempfile::Builder::new()
            .prefix("zvonar-festival-")
            .tempdir()
            .map_err(|e| TtsError::Festival(format!("temporary directory: {e}")))?;
        let mut f = Festival {
            config,
            dir,
            proc: None,
            seq: 0,
            restarts: 0,
        };
        f.spawn()?;
        tracing::info!(voice = %f.config.voice, "Festival started");
        Ok(f)
    }

    /// The voice in use.
    pub fn voice(&self) -> &str {
        &self.config.voice
    }

    /// How often Festival was started again after it died or hung.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// The running Festival's process id (none between a failure and the restart).
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(|p| p.child.id())
    }

    fn wav_path(&self) -> PathBuf {
        self.dir.path().join("out.wav")
    }

    fn spawn(&mut self) -> Result<(), TtsError> {
        self.proc = None;
        let program = &self.config.program;
        let mut child = Command::new(program)
            .arg("--pipe")
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                TtsError::Festival(if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "{} is not installed ({e}); install Debian's festival and festvox-ru \
                         (deploy/install-deps.sh), or choose another [tts] engine",
                        program.display()
                    )
                } else {
                    format!("cannot start {}: {e}", program.display())
                })
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TtsError::Festival("no pipes to festival".into()));
        };
        let (tx, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name("festival-out".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| TtsError::Festival(format!("reader thread: {e}")))?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr_tail.clone();
        std::thread::Builder::new()
            .name("festival-err".into())
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    tracing::debug!(%line, "festival");
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == 8 {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                }
            })
            .map_err(|e| TtsError::Festival(format!("reader thread: {e}")))?;
        self.proc = Some(Process {
            child,
            stdin,
            lines,
            stderr_tail,
        });
        let voice = format!("(voice_{})", self.config.voice);
        let timeout = Duration::from_millis(self.config.start_timeout_ms.max(1));
        match self.request(&voice, timeout) {
            Ok(Reply::Ok) => Ok(()),
            Ok(Reply::Failed) => {
                let detail = self.stderr_tail();
                self.proc = None;
                Err(TtsError::Festival(format!(
                    "Festival has no voice {} ({detail}); for the Russian voice \
                     msu_ru_nsh_clunits install Debian's festvox-ru",
                    self.config.voice
                )))
            }
            Err(e) => {
                self.proc = None;
                Err(e)
            }
        }
    }

    fn stderr_tail(&self) -> String {
        self.proc
            .as_ref()
            .and_then(|p| p.stderr_tail.lock().ok().map(|t| t.clone()))
            .map(|t| t.into_iter().collect::<Vec<_>>().join(" | "))
            .unwrap_or_default()
    }

    /// Sends `expr` wrapped in the marker protocol and waits up to `timeout` for its marker.
    /// On death or timeout the process is dropped (killed) and an error returned.
    fn request(&mut self, expr: &str, timeout: Duration) -> Result<Reply, TtsError> {
        self.seq += 1;
        let n = self.seq;
        let line = format!(
            "(unwind-protect (begin {expr} (format t \"ZVONAR-OK {n}\\n\")) \
             (format t \"ZVONAR-ERR {n}\\n\"))(fflush nil)\n"
        );
        let ok = format!("ZVONAR-OK {n}");
        let failed = format!("ZVONAR-ERR {n}");
        let Some(p) = self.proc.as_mut() else {
            return Err(TtsError::Festival("festival is not running".into()));
        };
        let deadline = Instant::now() + timeout;
        let outcome = match p
            .stdin
            .write_all(line.as_bytes())
            .and_then(|()| p.stdin.flush())
        {
            Err(e) => Err(format!("festival stopped reading ({e})")),
            Ok(()) => loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match p.lines.recv_timeout(left) {
                    Ok(l) if l.trim() == ok => break Ok(Reply::Ok),
                    Ok(l) if l.trim() == failed => break Ok(Reply::Failed),
                    Ok(l) => tracing::debug!(line = %l, "festival"),
                    Err(RecvTimeoutError::Timeout) => {
                        break Err(format!(
                            "festival did not answer within {} ms; killed",
                            timeout.as_millis()
                        ))
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        let status = p.child.wait().map(|s| s.to_string()).unwrap_or_default();
                        break Err(format!("festival exited ({status})"));
                    }
                }
            },
        };
        outcome.map_err(|why| {
            let detail = self.stderr_tail();
            self.proc = None;
            tracing::warn!(%why, %detail, "Festival failed; it is restarted for the next phrase");
            TtsError::Festival(if detail.is_empty() {
                why
            } else {
                format!("{why}: {detail}")
            })
        })
    }

    /// Speaks `text` with the voice and returns 8 kHz mono samples. Characters the voice
    /// does not know are dropped first ([`speakable`]); a text with nothing speakable
    /// gives no samples. A Festival that has exited since the last phrase is restarted
    /// first (the voice loads again: seconds).
    ///
    /// Errors: [`TtsError::Festival`] when Festival cannot be (re)started, rejects the
    /// text, dies or hangs on it (then it is restarted for the next phrase).
    pub fn speak(&mut self, text: &str) -> Result<Vec<i16>, TtsError> {
        let text = speakable(text);
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let exited = match self.proc.as_mut() {
            None => true,
            Some(p) => !matches!(p.child.try_wait(), Ok(None)),
        };
        if exited {
            self.restarts += 1;
            tracing::warn!(
                restarts = self.restarts,
                "Festival is not running; starting it again"
            );
            self.spawn()?;
        }
        let wav = self.wav_path();
        let _ = std::fs::remove_file(&wav);
        let expr = format!(
            "(utt.save.wave (SynthText {}) {} 'riff)",
            scheme_string(&text),
            scheme_string(&wav.to_string_lossy())
        );
        let timeout = Duration::from_millis(self.config.reply_timeout_ms.max(1));
        match self.request(&expr, timeout)? {
            Reply::Ok => read_wav(&wav),
            Reply::Failed => Err(TtsError::Festival(format!(
                "cannot speak {text:?}: {}",
                self.stderr_tail()
            ))),
        }
    }
}

fn read_wav(path: &Path) -> Result<Vec<i16>, TtsError> {
    load_sound_file(path).map_err(|e| TtsError::Festival(format!("reading its output: {e}")))
}

/// `text` as a Scheme string literal for Festival's reader (SIOD): in quotes, with `\` and
/// `"` escaped by a backslash; control characters (a newline would end nothing, but keeps
/// the one-line-per-request framing) become spaces.
///
/// `scheme_string("a \"b\" \\ c")` → `"a \"b\" \\ c"`.
pub fn scheme_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Punctuation that `festvox-ru` reads as pauses.
fn is_pause_mark(c: char) -> bool {
    matches!(c, '.' | ',' | ';' | '?' | '!')
}

/// `text` reduced to what `festvox-ru` can speak: a character outside its set (Cyrillic
/// and Latin letters, digits, `' - +` within words, `. , ; ? !`, per the package's
/// README.Debian) makes Festival reject the whole phrase. So: `:` and dashes (— – ―) become
/// commas, non-breaking hyphens hyphens, anything else (quotes «», №, %, /, emoji) a space;
/// a pause mark glued to the next word (`д.5`, `12,30`) gets a space after it; a token
/// of marks alone (`...`, ` , `) is joined to the word before it or dropped. Empty when
/// nothing speakable is left.
///
/// `speakable("Дом 22 — «Наш дом», кв.45!")` → `Дом 22, Наш дом, кв. 45!`.
pub fn speakable(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| match c {
            c if c.is_alphanumeric() && (is_cyrillic(c) || c.is_ascii_alphanumeric()) => c,
            '\'' | '-' | '+' => c,
            c if is_pause_mark(c) => c,
            ':' | '—' | '–' | '―' | '‒' => ',',
            '‐' | '‑' => '-',
            _ => ' ',
        })
        .collect();
    let mut words: Vec<String> = Vec::new();
    for token in mapped.split_whitespace() {
        // Split after a pause mark that is followed by a letter or digit.
        let chars: Vec<char> = token.chars().collect();
        let mut piece = String::new();
        for (i, &c) in chars.iter().enumerate() {
            piece.push(c);
            let next_alnum = chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
            if is_pause_mark(c) && next_alnum {
                push_piece(&mut words, std::mem::take(&mut piece));
            }
        }
        push_piece(&mut words, piece);
    }
    words.join(" ")
}

/// Adds one piece to `words`: pieces without a letter or digit are not words to Festival;
/// their first pause mark goes onto the word before (if it has none yet).
fn push_piece(words: &mut Vec<String>, piece: String) {
    if piece.chars().any(char::is_alphanumeric) {
        words.push(piece);
        return;
    }
    let Some(mark) = piece.chars().find(|&c| is_pause_mark(c)) else {
        return;
    };
    if let Some(prev) = words.last_mut() {
        if !prev.ends_with(is_pause_mark) {
            prev.push(mark);
        }
    }
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, 'А'..='я' | 'Ё' | 'ё')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_strings_cannot_break_out() {
        assert_eq!(scheme_string("дом"), "\"дом\"");
        assert_eq!(scheme_string("a \"b\" \\ c"), "\"a \\\"b\\\" \\\\ c\"");
        // A newline would split the request line; a closing quote and paren cannot end
        // the literal early.
        assert_eq!(
            scheme_string("x\") (system \"rm\nboom"),
            "\"x\\\") (system \\\"rm boom\""
        );
    }

    #[test]
    fn text_is_reduced_to_what_the_voice_knows() {
        let cases = [
            ("Дом 22 — «Наш дом», кв.45!", "Дом 22, Наш дом, кв. 45!"),
            ("Здравствуйте!", "Здравствуйте!"),
            ("Ёлка, ёж", "Ёлка, ёж"),
            ("12:30", "12, 30"),
            ("д.5", "д. 5"),
            ("1,5", "1, 5"),
            ("№ 5", "5"),
            ("10%", "10"),
            ("ул. Ленина/5", "ул. Ленина 5"),
            ("Да , нет", "Да, нет"),
            ("да ,", "да,"),
            (", да", "да"),
            ("привет ...", "привет."),
            ("вот...", "вот..."),
            ("? ! ,", ""),
            ("...", ""),
            ("你好 😀 ☎", ""),
            ("\u{a0}пробел\tтаб\nстрока", "пробел таб строка"),
            ("5‑й этаж", "5-й этаж"),
            ("Hello, A-12", "Hello, A-12"),
            ("a\\\"b", "a b"),
            ("+7 495", "+7 495"),
        ];
        for (input, want) in cases {
            assert_eq!(speakable(input), want, "{input:?}");
        }
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    fn signal(pid: u32, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill {sig} {pid}");
    }

    /// Needs Debian's festival and festvox-ru (deploy/install-deps.sh).
    fn festival(reply_timeout_ms: u64) -> Festival {
        Festival::start(FestivalConfig {
            reply_timeout_ms,
            ..FestivalConfig::default()
        })
        .expect("festival and festvox-ru installed (deploy/install-deps.sh)")
    }

    #[test]
    fn one_festival_speaks_many_phrases_and_any_text() {
        let mut f = festival(30_000);
        let pid = f.pid();
        let a = f.speak("Квартира сорок пять, дом двадцать два.").unwrap();
        // 1.5-5 s at 8 kHz, not silence.
        assert!((12_000..40_000).contains(&a.len()), "{} samples", a.len());
        assert!(rms(&a) > 300.0, "rms {}", rms(&a));
        // Text that Festival rejects as it is (every one of these fails raw: «no rule
        // matches»), and text that could break out of the Scheme string.
        for text in [
            "Дом 22 — «Наш дом», кв.45, 10% (скидка) № 7/2 в 12:30…",
            "x\") (quit) (\"",
            "\\\"\n",
            "…",
            "Да , нет",
        ] {
            f.speak(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        }
        assert_eq!(f.pid(), pid, "the same process spoke every phrase");
        assert_eq!(f.restarts(), 0);
    }

    #[test]
    fn a_dead_festival_is_started_again() {
        let mut f = festival(30_000);
        let first = f.pid().unwrap();
        signal(first, "-KILL");
        // Give the kernel a moment to reap nothing: try_wait sees the exit once it happened.
        let t0 = Instant::now();
        while f.proc.as_mut().unwrap().child.try_wait().unwrap().is_none() {
            assert!(t0.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(10));
        }
        let pcm = f
            .speak("Ваша заявка принята.")
            .expect("restarted and spoke");
        assert!(rms(&pcm) > 300.0);
        assert_eq!(f.restarts(), 1);
        assert_ne!(f.pid(), Some(first));
    }

    #[test]
    fn a_hung_festival_fails_the_phrase_and_is_replaced() {
        let mut f = festival(30_000);
        let first = f.pid().unwrap();
        f.speak("Проверка.").unwrap();
        signal(first, "-STOP"); // alive, but answers nothing
        f.config.reply_timeout_ms = 1_500;
        match f.speak("Опишите, пожалуйста, что случилось.") {
            Err(TtsError::Festival(e)) => assert!(e.contains("did not answer"), "{e}"),
            other => panic!("{:?}", other.map(|p| p.len())),
        }
        assert_eq!(f.pid(), None, "the hung process was killed");
        f.config.reply_timeout_ms = 30_000;
        let pcm = f.speak("Опишите, пожалуйста, что случилось.").unwrap();
        assert!(rms(&pcm) > 300.0);
        assert_eq!(f.restarts(), 1);
    }

    #[test]
    fn a_missing_program_or_voice_is_a_clear_error() {
        let e = Festival::start(FestivalConfig {
            program: PathBuf::from("/nonexistent/festival"),
            ..FestivalConfig::default()
        })
        .err()
        .expect("no such program");
        let e = e.to_string();
        assert!(
            e.contains("not installed") && e.contains("festvox-ru"),
            "{e}"
        );
        let e = Festival::start(FestivalConfig {
            voice: "no_such_voice".into(),
            ..FestivalConfig::default()
        })
        .err()
        .expect("no such voice")
        .to_string();
        assert!(e.contains("no voice no_such_voice"), "{e}");
        let e = Festival::start(FestivalConfig {
            voice: "x) (quit".into(),
            ..FestivalConfig::default()
        })
        .err()
        .expect("not a voice name")
        .to_string();
        assert!(e.contains("only ASCII letters"), "{e}");
    }
}
