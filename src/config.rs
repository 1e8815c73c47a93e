//! `zvonar.toml`: where to listen, where data lives, which models to use.
//!
//! Every path is relative to the config file's directory unless absolute, so the example
//! config works from a fresh clone. Errors name the file, line and what is wrong.

mod missed;
mod monitor;
mod rating;
mod trunk;
pub use missed::MissedSection;
pub use monitor::MonitorSection;
pub use rating::RatingSection;
pub use trunk::{proxy_host_port, TrunkSection, TrunkTransport};

use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// SIP listeners.
    pub sip: SipSection,
    /// RTP port range.
    #[serde(default)]
    pub rtp: RtpSection,
    /// HTTP API.
    pub http: HttpSection,
    /// Logins and sessions: lockout, rate limit, session lifetime.
    #[serde(default)]
    pub auth: zvonar_access::AuthPolicy,
    /// Storage and files.
    pub storage: StorageSection,
    /// Speech recognition.
    pub asr: AsrSection,
    /// Speech synthesis.
    #[serde(default)]
    pub tts: TtsSection,
    /// Graceful stop on SIGTERM/Ctrl-C.
    #[serde(default)]
    pub shutdown: ShutdownSection,
    /// What `/health` checks.
    #[serde(default)]
    pub health: HealthSection,
    /// Tickets in the console: SLA, topic tree, departments, photos.
    #[serde(default)]
    pub tickets: TicketsSection,
    /// Missed calls and callbacks.
    #[serde(default)]
    pub missed: MissedSection,
    /// `[duty]`: emergency call-outs to the staff on duty (ring time, rounds, topic →
    /// department); see [`zvonar_dispatch::duty::DutySettings`].
    #[serde(default)]
    pub duty: zvonar_dispatch::duty::DutySettings,
    /// `[[trunk]]`: SIP trunks registered with and dialled through (see [`TrunkSection`]).
    #[serde(default)]
    pub trunk: Vec<TrunkSection>,
    /// The supervisor's live monitor: service level and short-abandon thresholds.
    #[serde(default)]
    pub monitor: MonitorSection,
    /// The rating robot and what a low rating does.
    #[serde(default)]
    pub rating: RatingSection,
    /// The dialplan TOML file.
    pub dialplan: PathBuf,
    /// The company's time zone, an IANA name (`Europe/Moscow`, `Asia/Yekaterinburg`,
    /// `Asia/Vladivostok`…): routing windows, outage times read aloud and imported, and
    /// the date folders of recordings are in this zone's local time. Default `Europe/Moscow`.
    #[serde(default = "default_time_zone", deserialize_with = "time_zone")]
    pub time_zone: chrono_tz::Tz,
    /// Directory the config was read from (paths are resolved against it).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[sip]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipSection {
    /// UDP listen address, e.g. `0.0.0.0:5060`.
    pub udp: SocketAddr,
    /// TCP listen address; omit to disable TCP.
    pub tcp: Option<SocketAddr>,
    /// SIP over WebSocket (RFC 7118) listen address for the browser console's softphone,
    /// plain `ws://`; omit to disable. Browsers open `ws://` only from pages served over
    /// plain http (loopback, development); an https console uses `wss_listen`.
    pub ws_listen: Option<SocketAddr>,
    /// SIP over secure WebSocket (`wss://`, RFC 7118 §3) listen address for consoles opened
    /// over HTTPS from other machines (an `https://` page may open only `wss://`); omit to
    /// disable. Needs a certificate: `tls_cert`/`tls_key` here, else `[http]`'s.
    pub wss_listen: Option<SocketAddr>,
    /// The WSS listener's certificate chain, PEM (relative to the config's directory);
    /// with `tls_key`. Omitted: `[http] tls_cert`.
    pub tls_cert: Option<PathBuf>,
    /// The WSS listener's private key, PEM; with `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Address announced in Contact and SDP; defaults to the UDP address's IP, or
    /// 127.0.0.1 when that is unspecified.
    pub public_ip: Option<IpAddr>,
    /// Calls handled at once; more get 503 (RFC 3261 §21.5.4).
    #[serde(default = "default_max_calls")]
    pub max_calls: usize,
    /// `Retry-After` of the 503 sent when all `max_calls` are taken, s (RFC 3261 §20.33):
    /// how long a trunk should wait before offering us a call again.
    #[serde(default = "default_busy_retry_after_s")]
    pub busy_retry_after_s: u32,
    /// Ringing time before the robot answers, ms (a caller who hangs up meanwhile is a
    /// missed call with a CDR and no recording).
    #[serde(default)]
    pub answer_after_ms: u64,
    /// Networks whose caller identity is trusted (RFC 3325 §9.1: P-Asserted-Identity is
    /// honoured only from trusted elements): the trunk's or PBX's addresses as CIDR, e.g.
    /// `["10.0.0.0/8", "192.0.2.10/32"]`. From these sources the caller is
    /// P-Asserted-Identity when present, else From; from any other source the number is
    /// unverified: recorded in the CDR as dialled-from text only, never used to find the
    /// caller's address or account. Default: none trusted.
    #[serde(default)]
    pub trusted: Vec<ipnet::IpNet>,
    /// `[sip.registrar]`: desk phones and softphones register here with digest
    /// authentication; absent: REGISTER is answered 405.
    pub registrar: Option<RegistrarSection>,
}

/// `[sip.registrar]` (RFC 3261 §10.3, digest authentication RFC 2617/7616/8760).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarSection {
    /// The digest realm phones show and hash into their credentials; SIP accounts are
    /// stored as HA1s of this realm, so changing it needs their passwords set again.
    pub realm: String,
    /// A nonce is accepted this long, s; then the phone gets `stale=true` and retries.
    #[serde(default = "default_nonce_lifetime_s")]
    pub nonce_lifetime_s: u64,
    /// Consecutive failed attempts of one user from one source IP before a lockout.
    #[serde(default = "default_lockout_after")]
    pub lockout_after: u32,
    /// Lockout length, s: meanwhile that user from that address gets 403.
    #[serde(default = "default_lockout_s")]
    pub lockout_s: u64,
    /// Shorter registrations are refused with 423 and Min-Expires, s.
    #[serde(default = "default_min_expires_s")]
    pub min_expires_s: u32,
    /// Longer registrations are shortened to this, s; also the default.
    #[serde(default = "default_max_expires_s")]
    pub max_expires_s: u32,
    /// Digest challenges offered, most preferred first (RFC 8760 §2.4): `SHA-256`, `MD5`.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
}

fn default_algorithms() -> Vec<String> {
    vec!["SHA-256".into(), "MD5".into()]
}

impl RegistrarSection {
    /// The registrar's settings.
    pub fn to_config(&self) -> zvonar_sip::registrar::RegistrarConfig {
        zvonar_sip::registrar::RegistrarConfig {
            realm: self.realm.clone(),
            nonce_lifetime_s: self.nonce_lifetime_s,
            lockout_after: self.lockout_after,
            lockout_s: self.lockout_s,
            expiry: zvonar_sip::registrar::bindings::ExpiryLimits {
                min_s: self.min_expires_s,
                max_s: self.max_expires_s,
                default_s: self.max_expires_s,
            },
            algorithms: self
                .algorithms
                .iter()
                .filter_map(|a| zvonar_sip::registrar::digest::Algorithm::from_token(a))
                .collect(),
        }
    }

    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.realm.trim().is_empty() || self.realm.contains('"') {
            return Err((
                "realm",
                "sip.registrar.realm must be non-empty, without '\"'".into(),
            ));
        }
        if self.nonce_lifetime_s == 0 {
            return Err((
                "nonce_lifetime_s",
                "sip.registrar.nonce_lifetime_s must be at least 1".into(),
            ));
        }
        if self.lockout_after == 0 {
            return Err((
                "lockout_after",
                "sip.registrar.lockout_after must be at least 1".into(),
            ));
        }
        let mut seen = Vec::new();
        for a in &self.algorithms {
            match zvonar_sip::registrar::digest::Algorithm::from_token(a) {
                Some(alg) if !seen.contains(&alg) => seen.push(alg),
                _ => {
                    return Err((
                        "algorithms",
                        format!(
                            "sip.registrar.algorithms: {a:?} is not SHA-256 or MD5, or is repeated"
                        ),
                    ))
                }
            }
        }
        if seen.is_empty() {
            return Err((
                "algorithms",
                "sip.registrar.algorithms must name SHA-256 and/or MD5".into(),
            ));
        }
        if self.min_expires_s == 0 || self.min_expires_s > self.max_expires_s {
            return Err((
                "min_expires_s",
                "sip.registrar.min_expires_s must be between 1 and max_expires_s".into(),
            ));
        }
        Ok(())
    }
}

fn default_nonce_lifetime_s() -> u64 {
    300
}

fn default_lockout_after() -> u32 {
    5
}

fn default_lockout_s() -> u64 {
    900
}

fn default_min_expires_s() -> u32 {
    60
}

fn default_max_expires_s() -> u32 {
    3600
}

fn default_max_calls() -> usize {
    200
}

fn default_busy_retry_after_s() -> u32 {
    5
}

fn default_time_zone() -> chrono_tz::Tz {
    chrono_tz::Europe::Moscow
}

fn time_zone<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono_tz::Tz, D::Error> {
    let name = String::deserialize(d)?;
    name.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "time_zone: «{name}» is not an IANA time zone name (e.g. Europe/Moscow, Asia/Yekaterinburg, Asia/Vladivostok)"
        ))
    })
}

/// `[rtp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtpSection {
    /// First port of the RTP range (even).
    pub port_min: u16,
    /// Last port of the RTP range.
    pub port_max: u16,
}

impl Default for RtpSection {
    fn default() -> Self {
        RtpSection {
            port_min: 20000,
            port_max: 30000,
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Listen address; localhost only until user accounts exist.
    pub listen: SocketAddr,
    /// The API key of the built-in service account (every permission, every ticket):
    /// programs send it as `Authorization: Bearer …`. Per-user API keys replace it.
    pub token: String,
    /// The operators' console: the directory of its static files (`index.html`, `js/`,
    /// `css/`, `pages/`), served at `/console/`. Default: the source tree's `web/console`
    /// when it exists (development and tests); an installation sets it to where it put the
    /// files. A directory without `index.html` is a config error.
    #[serde(default)]
    pub console_dir: Option<PathBuf>,
    /// With `tls_key`: serve HTTPS (TLS 1.3 and 1.2) instead of plain HTTP on `listen`, with this
    /// certificate chain, PEM (the server's certificate first, then intermediates; relative
    /// paths are from the config's directory). The session cookie is then always `Secure`.
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert`, PEM (PKCS#8, RSA or EC).
    pub tls_key: Option<PathBuf>,
}

/// `[tickets]`: the ticket workflow of the operators' console.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketsSection {
    /// A ticket's deadline (its SLA), hours from filing, for topics without their own (≥ 1,
    /// default 72).
    pub sla_hours: u32,
    /// The deadline of an emergency ticket, hours (≥ 1, default 2).
    pub emergency_sla_hours: u32,
    /// Departments tickets are assigned to (names shown in the console).
    pub departments: Vec<String>,
    /// Largest photo attached to a ticket, MiB (1–100, default 10).
    pub photo_max_mib: u32,
    /// Where photos are kept; default `ticket-photos` next to the database.
    pub photos: Option<PathBuf>,
    /// The console's topic tree: the dialplan's topics grouped, with their own SLA. A
    /// dialplan topic not listed goes to the group «Прочее» with the default SLA.
    pub topics: Vec<TicketTopic>,
}

impl Default for TicketsSection {
    fn default() -> Self {
        TicketsSection {
            sla_hours: 72,
            emergency_sla_hours: 2,
            departments: Vec::new(),
            photo_max_mib: 10,
            photos: None,
            topics: Vec::new(),
        }
    }
}

/// `[[tickets.topics]]`: one topic of the console's topic tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketTopic {
    /// Topic code: a dialplan topic's (`leak`), or a topic only people file.
    pub code: String,
    /// Name shown; default the dialplan topic's name. Required for a code the dialplan
    /// does not have.
    pub name: Option<String>,
    /// The branch of the tree («Сантехника»).
    pub group: String,
    /// Deadline, hours (default `[tickets] sla_hours`).
    pub sla_hours: Option<u32>,
    /// Deadline of an emergency ticket, hours (default `[tickets] emergency_sla_hours`).
    pub emergency_sla_hours: Option<u32>,
}

impl TicketsSection {
    /// The topic tree: `[[tickets.topics]]` in order, then the dialplan's topics not listed
    /// there (group «Прочее»), each with its SLA. `dialplan`: (code, name) of its topics.
    ///
    /// Errors: a listed code the dialplan lacks and that has no `name`.
    pub fn topic_tree(
        &self,
        dialplan: &[(String, String)],
    ) -> Result<Vec<zvonar_web::TopicInfo>, String> {
        let capital = |s: &str| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        };
        let mut out: Vec<zvonar_web::TopicInfo> = Vec::new();
        for t in &self.topics {
            let name = match (&t.name, dialplan.iter().find(|(c, _)| *c == t.code)) {
                (Some(n), _) => n.clone(),
                (None, Some((_, n))) => capital(n),
                (None, None) => {
                    return Err(format!(
                        "tickets.topics: «{}» is not a dialplan topic; give it a name",
                        t.code
                    ))
                }
            };
            out.push(zvonar_web::TopicInfo {
                code: t.code.clone(),
                name,
                group: t.group.clone(),
                sla_hours: t.sla_hours.unwrap_or(self.sla_hours),
                emergency_sla_hours: t.emergency_sla_hours.unwrap_or(self.emergency_sla_hours),
            });
        }
        for (code, name) in dialplan {
            if !out.iter().any(|t| &t.code == code) {
                out.push(zvonar_web::TopicInfo {
                    code: code.clone(),
                    name: capital(name),
                    group: "Прочее".into(),
                    sla_hours: self.sla_hours,
                    emergency_sla_hours: self.emergency_sla_hours,
                });
            }
        }
        Ok(out)
    }
}

/// `[storage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// SQLite database file.
    pub database: PathBuf,
    /// Where call recordings are written.
    pub recordings: PathBuf,
    /// How long recordings and synthesised-speech cache files are kept, days (default
    /// 1095, three years: what housing companies keep for disputes). A daily sweep deletes
    /// older files and marks their calls' recordings as expired.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

fn default_retention_days() -> u32 {
    1095
}

/// `[asr]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsrSection {
    /// Whisper ggml model.
    pub model: PathBuf,
    /// Parallel decoders.
    #[serde(default = "one")]
    pub workers: usize,
    /// CPU threads per decoder.
    #[serde(default = "two")]
    pub threads: usize,
    /// `auto` (window sized to the utterance) or `full` (whisper's 30 s window).
    #[serde(default = "auto")]
    pub audio_ctx: String,
    /// Utterances waiting or being decoded at most (≥ 1); the caller of one more is told to
    /// use the keypad instead of waiting (the robot's `keypad_fallback` prompt).
    #[serde(default = "default_asr_max_queue")]
    pub max_queue: usize,
    /// How answers to number questions (apartment, house, meter reading, rating) are
    /// decoded.
    #[serde(default)]
    pub number_decoding: NumberDecodingMode,
    /// Early recognition: silence after a robot caller's speech (ms) after which the
    /// utterance is recognised while the VAD still waits to close it (700 ms); the result
    /// is used if the caller says nothing more. Only when a recogniser is idle. 0 = off;
    /// otherwise 200..=680 (at least the VAD's 200 ms tail, before its end).
    #[serde(default = "default_early_ms")]
    pub early_ms: u32,
}

fn default_early_ms() -> u32 {
    zvonar_voice::asr::DEFAULT_EARLY_MS
}

/// `[asr] number_decoding`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberDecodingMode {
    /// Under the slot's grammar, numbers in words only: `zvonar_voice::asr::grammar`.
    Words,
    /// Under the slot's grammar, numbers in words or digits.
    #[default]
    Grammar,
    /// Like free speech, without a grammar.
    Plain,
}

impl NumberDecodingMode {
    /// The recogniser's setting: a grammar for the apartment and the house, built from the
    /// dialplan's numerals table ([`zvonar_dialplan::numerals::answer_vocabulary`]).
    /// Meter readings and ratings are decoded freely: a rating may be said in words the
    /// numerals do not read as numbers («отлично», «плохо»), and the grammar was measured
    /// on apartments only (`cargo bench --bench numbers`).
    pub fn decoding(self) -> zvonar_voice::asr::NumberDecoding {
        use zvonar_dialplan::numerals::{answer_vocabulary, NumberKind};
        use zvonar_voice::asr::grammar::NumberGrammar;
        use zvonar_voice::asr::{NumberDecoding, NumberSlot};
        if self == NumberDecodingMode::Plain {
            return NumberDecoding::plain();
        }
        let slots = [NumberSlot::Apartment, NumberSlot::House];
        NumberDecoding::with_grammars(
            slots
                .into_iter()
                .map(|slot| {
                    let g = NumberGrammar::new(answer_vocabulary(NumberKind::from(slot)));
                    let g = if self == NumberDecodingMode::Words {
                        g.words_only()
                    } else {
                        g
                    };
                    (slot, std::sync::Arc::new(g))
                })
                .collect(),
        )
    }
}

fn default_asr_max_queue() -> usize {
    zvonar_voice::asr::DEFAULT_MAX_QUEUE
}

fn one() -> usize {
    1
}
fn two() -> usize {
    2
}
fn auto() -> String {
    "auto".into()
}

/// `[tts]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtsSection {
    /// The engine that speaks Russian (the robot's prompts and replies).
    #[serde(default)]
    pub engine: TtsEngine,
    /// Festival voice, without the `voice_` prefix (used when `engine = "festival"`).
    #[serde(default = "default_festival_voice")]
    pub festival_voice: String,
    /// Directory with Piper voices (`*.onnx` + `*.onnx.json`); voices are picked by
    /// language from their file names (`ru_RU-…`, `en_US-…`).
    pub piper_dir: Option<PathBuf>,
    /// `libonnxruntime.so` for Piper.
    pub onnxruntime: Option<PathBuf>,
    /// Directory containing `espeak-ng-data/`.
    pub espeak_data: Option<PathBuf>,
    /// espeak-ng speaking rate, words per minute.
    #[serde(default)]
    pub espeak_rate_wpm: u32,
    /// Where synthesised prompts are cached.
    pub cache_dir: Option<PathBuf>,
    /// Most synthesised audio kept in memory, MiB (least recently used dropped first;
    /// the dialplan's prompts, rendered at start, are kept apart and not counted).
    #[serde(default = "default_memory_cache_mib")]
    pub memory_cache_mib: u64,
    /// Most synthesised audio kept in `cache_dir`, MiB (least recently used files deleted).
    #[serde(default = "default_disk_cache_mib")]
    pub disk_cache_mib: u64,
    /// Longest one synthesis may take, queueing included, ms; after it the robot goes on
    /// without that phrase.
    #[serde(default = "default_tts_deadline_ms")]
    pub deadline_ms: u64,
    /// Phrases waiting for synthesis at most; more fail at once.
    #[serde(default = "default_tts_max_queue")]
    pub max_queue: usize,
    /// `whole` or `pieces`: how per-call phrases (ticket numbers, addresses, outage times)
    /// are synthesised (`zvonar_voice::phrase::PhraseMode`).
    #[serde(default = "whole")]
    pub phrases: String,
    /// Human-recorded number clips (Asterisk layout, `digits/1.wav`): `""` off, `"debian"`
    /// the installed `asterisk-core-sounds-ru-wav` found through `dpkg -L`, or a directory.
    #[serde(default)]
    pub number_clips: String,
}

fn whole() -> String {
    "whole".into()
}

impl Default for TtsSection {
    fn default() -> Self {
        TtsSection {
            engine: TtsEngine::default(),
            festival_voice: default_festival_voice(),
            piper_dir: None,
            onnxruntime: None,
            espeak_data: None,
            espeak_rate_wpm: 0,
            cache_dir: None,
            memory_cache_mib: default_memory_cache_mib(),
            disk_cache_mib: default_disk_cache_mib(),
            deadline_ms: default_tts_deadline_ms(),
            max_queue: default_tts_max_queue(),
            phrases: whole(),
            number_clips: String::new(),
        }
    }
}

/// `[tts] engine`: who speaks Russian.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TtsEngine {
    /// Festival with `festival_voice` (Debian's festival + festvox-ru), a long-lived process.
    #[default]
    Festival,
    /// espeak-ng in-process.
    Espeak,
    /// A Russian Piper voice (`ru_RU-*.onnx`) from `piper_dir`.
    Piper,
}

impl From<TtsEngine> for zvonar_voice::tts::RussianEngine {
    fn from(e: TtsEngine) -> Self {
        match e {
            TtsEngine::Festival => Self::Festival,
            TtsEngine::Espeak => Self::Espeak,
            TtsEngine::Piper => Self::Piper,
        }
    }
}

fn default_festival_voice() -> String {
    zvonar_voice::festival::DEFAULT_VOICE.to_string()
}

fn default_memory_cache_mib() -> u64 {
    32
}
fn default_disk_cache_mib() -> u64 {
    256
}
fn default_tts_deadline_ms() -> u64 {
    5000
}
fn default_tts_max_queue() -> usize {
    64
}

/// `[health]`: thresholds of `GET /health`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSection {
    /// Free space on the recordings disk below this, MiB, reports the disk as down.
    #[serde(default = "default_min_free_disk_mib")]
    pub min_free_disk_mib: u64,
}

impl Default for HealthSection {
    fn default() -> Self {
        HealthSection {
            min_free_disk_mib: default_min_free_disk_mib(),
        }
    }
}

fn default_min_free_disk_mib() -> u64 {
    1024
}

/// `[shutdown]`: what happens on SIGTERM (systemd, Docker) or Ctrl-C.
///
/// New INVITEs get 503 with `Retry-After: retry_after_s` (RFC 3261 §20.33, §21.5.4) at once;
/// calls in progress may finish for up to `drain_s`; the rest are then ended with BYE
/// (hangup cause `shutdown`); recordings and call events are flushed and the process exits 0.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSection {
    /// How long calls in progress may go on after the signal, s.
    #[serde(default = "default_drain_s")]
    pub drain_s: u64,
    /// Seconds a refused caller's trunk is asked to wait before retrying (`Retry-After`).
    #[serde(default = "default_retry_after_s")]
    pub retry_after_s: u32,
}

impl Default for ShutdownSection {
    fn default() -> Self {
        ShutdownSection {
            drain_s: default_drain_s(),
            retry_after_s: default_retry_after_s(),
        }
    }
}

fn default_drain_s() -> u64 {
    30
}
fn default_retry_after_s() -> u32 {
    60
}

/// A config that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or has wrong/unknown keys.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Reads and validates a config file. Errors: [`ConfigError`] with file and line.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates config text read from `path` (used for relative paths and in
    /// errors). Errors: [`ConfigError::Invalid`] with file and line.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0);
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                message: e.message().to_string(),
            }
        })?;
        cfg.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        if cfg.rtp.port_min >= cfg.rtp.port_max {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, "port_min"),
                message: "rtp.port_min must be below rtp.port_max".into(),
            });
        }
        if cfg.asr.max_queue == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, "max_queue"),
                message: "asr.max_queue must be at least 1".into(),
            });
        }
        if cfg.asr.early_ms != 0 && !(200..=680).contains(&cfg.asr.early_ms) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, "early_ms"),
                message: "asr.early_ms must be 0 (off) or 200..=680: at least the VAD's 200 ms tail and before its 700 ms end of utterance".into(),
            });
        }
        if cfg.storage.retention_days == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, "retention_days"),
                message: "storage.retention_days must be at least 1".into(),
            });
        }
        if let Err(message) = cfg.auth.validate() {
            let key = message
                .split_whitespace()
                .next()
                .and_then(|k| k.strip_prefix("auth."))
                .unwrap_or("[auth]")
                .to_string();
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, &key),
                message,
            });
        }
        if let Some(Err((key, message))) = cfg.sip.registrar.as_ref().map(RegistrarSection::check) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, key),
                message,
            });
        }
        for (key, v, max) in [
            ("sla_hours", cfg.tickets.sla_hours, u32::MAX),
            (
                "emergency_sla_hours",
                cfg.tickets.emergency_sla_hours,
                u32::MAX,
            ),
            ("photo_max_mib", cfg.tickets.photo_max_mib, 100),
        ] {
            if v == 0 || v > max {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    line: line_of(text, key),
                    message: format!("tickets.{key} must be 1..{max}"),
                });
            }
        }
        if let Some(t) = cfg.tickets.topics.iter().find(|t| {
            t.sla_hours == Some(0) || t.emergency_sla_hours == Some(0) || t.code.trim().is_empty()
        }) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, "[[tickets.topics]]"),
                message: format!("tickets.topics «{}»: empty code or a zero SLA", t.code),
            });
        }
        if let Err(message) = cfg.duty.check().and_then(|()| {
            let known = &cfg.tickets.departments;
            match cfg
                .duty
                .topics
                .values()
                .chain(cfg.duty.default_department.iter())
                .find(|d| !known.is_empty() && !known.contains(d))
            {
                Some(d) => Err(format!("duty: отдел «{d}» не из [tickets] departments")),
                None => Ok(()),
            }
        }) {
            let key = message
                .strip_prefix("duty.")
                .and_then(|m| m.split([':', '.']).next())
                .unwrap_or("[duty]")
                .to_string();
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, &key),
                message,
            });
        }
        if let Some(dir) = &cfg.http.console_dir {
            let dir = cfg.resolve(dir);
            if !dir.join("index.html").is_file() {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    line: line_of(text, "console_dir"),
                    message: format!(
                        "http.console_dir: no index.html in {} (the console's static files)",
                        dir.display()
                    ),
                });
            }
        }
        if let Err((key, message)) = cfg.missed.settings(cfg.time_zone) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, key),
                message,
            });
        }
        if let Err((i, key, message)) = trunk::check_all(&cfg.trunk, cfg.sip.tcp.is_some()) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: trunk::line_in_trunk(text, i, key),
                message,
            });
        }
        if let Err((key, message)) = cfg.monitor.settings(cfg.time_zone) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, key),
                message,
            });
        }
        if let Err((key, message)) = cfg.check_tls() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, key),
                message,
            });
        }
        if let Err(message) = token_strength(&cfg.http.token, cfg.http.listen) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, "token"),
                message,
            });
        }
        Ok(cfg)
    }

    /// Things that work but should be fixed before production, for the start-up log:
    /// a weak API token on a loopback-only listener; plain HTTP off loopback.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(why) = token_weakness(&self.http.token) {
            w.push(format!(
                "http.token {why}; accepted only because http.listen ({}) is loopback",
                self.http.listen
            ));
        }
        if !self.http.listen.ip().is_loopback() && self.http_tls().is_none() {
            w.push(format!(
                "http.listen ({}) is not loopback but serves plain HTTP: the console's session \
                 cookie is Secure (browsers keep it only over HTTPS) and the softphone needs a \
                 secure context; set [http] tls_cert and tls_key",
                self.http.listen
            ));
        }
        w
    }

    /// The certificate settings fit together: each `tls_cert` has its `tls_key`; `[sip]
    /// wss_listen` has a certificate (its own or `[http]`'s); `[sip]`'s certificate is only
    /// given with `wss_listen`. Errors: the key to point at and the message.
    fn check_tls(&self) -> Result<(), (&'static str, String)> {
        for (section, cert, key) in [
            ("http", &self.http.tls_cert, &self.http.tls_key),
            ("sip", &self.sip.tls_cert, &self.sip.tls_key),
        ] {
            match (cert, key) {
                (Some(_), None) => {
                    return Err((
                        "tls_cert",
                        format!("{section}.tls_cert needs {section}.tls_key"),
                    ))
                }
                (None, Some(_)) => {
                    return Err((
                        "tls_key",
                        format!("{section}.tls_key needs {section}.tls_cert"),
                    ))
                }
                _ => {}
            }
        }
        match (self.sip.wss_listen, self.sip.tls_cert.is_some()) {
            (Some(_), _) if self.wss_tls().is_none() => Err((
                "wss_listen",
                "sip.wss_listen needs a certificate: [sip] tls_cert and tls_key, or [http] tls_cert and tls_key".into(),
            )),
            (None, true) => Err((
                "tls_cert",
                "sip.tls_cert is used only with sip.wss_listen".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Whether the console's session cookie is `Secure` (sent back by browsers over HTTPS
    /// only): over HTTPS always, and on any listener off loopback; plain HTTP on loopback is
    /// development, where it is not.
    pub fn secure_cookies(&self) -> bool {
        self.http_tls().is_some() || !self.http.listen.ip().is_loopback()
    }

    /// The HTTPS certificate and key files (`[http] tls_cert`, `tls_key`) resolved; `None`:
    /// plain HTTP.
    pub fn http_tls(&self) -> Option<(PathBuf, PathBuf)> {
        let (c, k) = self
            .http
            .tls_cert
            .as_ref()
            .zip(self.http.tls_key.as_ref())?;
        Some((self.resolve(c), self.resolve(k)))
    }

    /// The WSS listener's certificate and key files: `[sip] tls_cert`/`tls_key`, else
    /// `[http]`'s, resolved; `None` when neither is set.
    pub fn wss_tls(&self) -> Option<(PathBuf, PathBuf)> {
        match self.sip.tls_cert.as_ref().zip(self.sip.tls_key.as_ref()) {
            Some((c, k)) => Some((self.resolve(c), self.resolve(k))),
            None => self.http_tls(),
        }
    }

    /// Resolves a configured path against the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The console's static files: `[http] console_dir` resolved, else the source tree's
    /// `web/console` when it exists ([`zvonar_web::SOURCE_CONSOLE_DIR`]), else `None` (no
    /// console, only the API).
    pub fn console_dir(&self) -> Option<PathBuf> {
        match &self.http.console_dir {
            Some(d) => Some(self.resolve(d)),
            None => {
                let d = PathBuf::from(zvonar_web::SOURCE_CONSOLE_DIR);
                d.join("index.html").is_file().then_some(d)
            }
        }
    }

    /// The address put in SDP and Contact.
    pub fn public_ip(&self) -> IpAddr {
        self.sip.public_ip.unwrap_or_else(|| {
            let ip = self.sip.udp.ip();
            if ip.is_unspecified() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                ip
            }
        })
    }
}

/// Shortest API token accepted on a listener reachable from other hosts, characters
/// (24 random characters of base64 are 144 bits).
pub const MIN_TOKEN_LEN: usize = 24;

/// Example tokens from this repository's docs and configs, refused off loopback.
const EXAMPLE_TOKENS: &[&str] = &["change-me-please", "e2e-test-token", "secret-token"];

/// Why a token is weak (an example value, or shorter than [`MIN_TOKEN_LEN`]); `None` if fine.
fn token_weakness(token: &str) -> Option<String> {
    if EXAMPLE_TOKENS.contains(&token) {
        Some("is an example value from the repository".into())
    } else if token.chars().count() < MIN_TOKEN_LEN {
        Some(format!("is shorter than {MIN_TOKEN_LEN} characters"))
    } else {
        None
    }
}

/// A weak token is an error unless the API listens on loopback only. Errors: the message.
fn token_strength(token: &str, listen: SocketAddr) -> Result<(), String> {
    if token.is_empty() {
        return Err("http.token must not be empty".into());
    }
    match token_weakness(token) {
        Some(why) if !listen.ip().is_loopback() => Err(format!(
            "http.token {why}, and http.listen ({listen}) is reachable from other hosts: \
             set a random token of at least {MIN_TOKEN_LEN} characters (e.g. `openssl rand -base64 24`)"
        )),
        _ => Ok(()),
    }
}

fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(key))
        .map(|i| i + 1)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_loads() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml");
        let cfg = Config::load(&p).expect("example config");
        assert_eq!(cfg.sip.udp.port(), 5060);
        assert_eq!((cfg.sip.max_calls, cfg.sip.busy_retry_after_s), (200, 5));
        assert_eq!(
            cfg.sip.ws_listen,
            Some("127.0.0.1:5066".parse::<SocketAddr>().expect("addr"))
        );
        assert_eq!((cfg.shutdown.drain_s, cfg.shutdown.retry_after_s), (30, 60));
        assert_eq!(cfg.health.min_free_disk_mib, 1024);
        let r = cfg
            .sip
            .registrar
            .as_ref()
            .expect("[sip.registrar]")
            .to_config();
        assert_eq!(r.realm, "zvonar.local");
        assert_eq!(
            (r.nonce_lifetime_s, r.lockout_after, r.lockout_s),
            (300, 5, 900)
        );
        assert_eq!(
            (r.expiry.min_s, r.expiry.max_s, r.expiry.default_s),
            (60, 3600, 3600)
        );
        use zvonar_sip::registrar::digest::Algorithm;
        assert_eq!(r.algorithms, vec![Algorithm::Sha256, Algorithm::Md5]);
        let t = &cfg.tts;
        assert_eq!(
            (
                t.memory_cache_mib,
                t.disk_cache_mib,
                t.deadline_ms,
                t.max_queue
            ),
            (32, 256, 5000, 64)
        );
        assert_eq!(cfg.asr.max_queue, zvonar_voice::asr::DEFAULT_MAX_QUEUE);
        assert_eq!(cfg.asr.number_decoding, NumberDecodingMode::Grammar);
        let m = cfg.missed.settings(cfg.time_zone).expect("[missed]");
        assert_eq!((m.max_attempts, m.callback_within.num_minutes()), (3, 15));
        let mon = cfg.monitor.settings(cfg.time_zone).expect("[monitor]");
        assert_eq!((mon.service_level_s, mon.short_abandon_s), (20, 5));
        assert!(m.after_hours_flows.is_empty());
        // 2026-11-27 is a Friday: 19:55 in Moscow is due at 08:10 on Monday.
        let fri = chrono::DateTime::parse_from_rfc3339("2026-11-27T19:55:00+03:00").unwrap();
        let mon = chrono::DateTime::parse_from_rfc3339("2026-11-30T08:10:00+03:00").unwrap();
        assert_eq!(
            m.hours.deadline(fri.to_utc(), m.callback_within),
            mon.to_utc()
        );
    }

    /// `[asr] number_decoding`: a grammar for the apartment and the house; "words" keeps
    /// digits out; "plain" has none.
    #[test]
    fn number_decoding_modes() {
        use zvonar_voice::asr::NumberSlot;
        let words = NumberDecodingMode::Words.decoding();
        let slots: Vec<NumberSlot> = words.grammars.iter().map(|(s, _)| *s).collect();
        assert_eq!(slots, vec![NumberSlot::Apartment, NumberSlot::House]);
        for (slot, g) in &words.grammars {
            assert!(!g.accepts(" 45"), "{slot:?}");
            assert!(g.accepts(" Ну, квартира сорок пять."), "{slot:?}");
        }
        let grammar = NumberDecodingMode::Grammar.decoding();
        assert!(grammar
            .grammars
            .iter()
            .all(|(_, g)| g.accepts(" Тысяча 178.")));
        assert!(grammar
            .grammars
            .iter()
            .all(|(_, g)| !g.accepts(" Ты сейчас")));
        assert!(NumberDecodingMode::Plain.decoding().grammars.is_empty());
    }

    #[test]
    fn missed_settings_are_checked() {
        let base = text("", "", "127.0.0.1:8080", STRONG);
        for (bad, line_key) in [
            ("[missed]\ncallback_within_min = 0\n", "callback_within_min"),
            ("[missed]\nmax_attempts = 0\n", "max_attempts"),
            (
                "[missed]\nworking_hours = \"20:00-08:00\"\n",
                "working_hours",
            ),
            ("[missed]\nworking_days = \"funday\"\n", "working_days"),
        ] {
            let t = format!("{base}{bad}");
            match Config::parse(&t, Path::new("z.toml")) {
                Err(ConfigError::Invalid { line, message, .. }) => {
                    assert!(message.starts_with("missed."), "{message}");
                    assert_eq!(line, line_of(&t, line_key), "{message}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let ok = format!(
            "{base}[missed]\ncallback_within_min = 30\nworking_hours = \"09:00-18:00\"\n\
             working_days = \"mon-sat\"\nmax_attempts = 5\nafter_hours_flows = [\"closed\"]\n"
        );
        let cfg = Config::parse(&ok, Path::new("z.toml")).expect("valid [missed]");
        let m = cfg.missed.settings(cfg.time_zone).unwrap();
        assert_eq!((m.max_attempts, m.callback_within.num_minutes()), (5, 30));
        assert_eq!(m.after_hours_flows, ["closed"]);
    }

    #[test]
    fn monitor_thresholds_default_to_20_and_5_and_are_checked() {
        let base = text("", "", "127.0.0.1:8080", STRONG);
        let cfg = Config::parse(&base, Path::new("z.toml")).expect("defaults");
        let m = cfg.monitor.settings(cfg.time_zone).unwrap();
        assert_eq!((m.service_level_s, m.short_abandon_s), (20, 5));
        assert_eq!(m.time_zone, chrono_tz::Europe::Moscow);
        let ok = format!("{base}[monitor]\nservice_level_s = 30\nshort_abandon_s = 0\n");
        let cfg = Config::parse(&ok, Path::new("z.toml")).expect("valid [monitor]");
        let m = cfg.monitor.settings(cfg.time_zone).unwrap();
        assert_eq!((m.service_level_s, m.short_abandon_s), (30, 0));
        for (bad, key) in [
            ("[monitor]\nservice_level_s = 0\n", "service_level_s"),
            ("[monitor]\nshort_abandon_s = 301\n", "short_abandon_s"),
        ] {
            let t = format!("{base}{bad}");
            match Config::parse(&t, Path::new("z.toml")) {
                Err(ConfigError::Invalid { line, message, .. }) => {
                    assert!(message.starts_with("monitor."), "{message}");
                    assert_eq!(line, line_of(&t, key), "{message}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn ws_listen_is_optional_and_must_be_an_address() {
        let cfg = parse(&text("", "", "127.0.0.1:8080", STRONG)).expect("config");
        assert_eq!(
            cfg.sip.ws_listen, None,
            "no WebSocket listener unless asked"
        );
        let cfg = parse(&text(
            "",
            "ws_listen = \"0.0.0.0:8443\"",
            "127.0.0.1:8080",
            STRONG,
        ))
        .expect("config");
        assert_eq!(
            cfg.sip.ws_listen,
            Some("0.0.0.0:8443".parse::<SocketAddr>().expect("addr"))
        );
        assert!(parse(&text(
            "",
            "ws_listen = \"ws://x\"",
            "127.0.0.1:8080",
            STRONG
        ))
        .is_err());
    }

    #[test]
    fn tls_settings_pair_up_and_wss_needs_a_certificate() {
        let with = |sip: &str, http: &str| {
            parse(
                &text("", sip, "127.0.0.1:8080", STRONG)
                    .replace("[storage]", &format!("{http}\n[storage]")),
            )
        };
        let cfg = with("", "").expect("config");
        assert_eq!(
            (cfg.http_tls(), cfg.wss_tls()),
            (None, None),
            "plain by default"
        );
        // HTTPS with relative paths from the config's directory; WSS shares [http]'s pair.
        let cfg = with(
            "wss_listen = \"0.0.0.0:7443\"",
            "tls_cert = \"tls/fullchain.pem\"\ntls_key = \"/etc/ssl/k.pem\"",
        )
        .expect("config");
        let pair = Some((
            PathBuf::from("/etc/zvonar/tls/fullchain.pem"),
            PathBuf::from("/etc/ssl/k.pem"),
        ));
        assert_eq!(cfg.http_tls(), pair);
        assert_eq!(cfg.wss_tls(), pair);
        assert_eq!(
            cfg.sip.wss_listen,
            Some("0.0.0.0:7443".parse().expect("addr"))
        );
        // [sip]'s own pair wins for WSS.
        let cfg = with(
            "wss_listen = \"0.0.0.0:7443\"\ntls_cert = \"s.crt\"\ntls_key = \"s.key\"",
            "tls_cert = \"h.crt\"\ntls_key = \"h.key\"",
        )
        .expect("config");
        assert_eq!(
            cfg.wss_tls(),
            Some((
                PathBuf::from("/etc/zvonar/s.crt"),
                PathBuf::from("/etc/zvonar/s.key")
            ))
        );
        for (sip, http, want) in [
            (
                "",
                "tls_cert = \"h.crt\"",
                "http.tls_cert needs http.tls_key",
            ),
            (
                "",
                "tls_key = \"h.key\"",
                "http.tls_key needs http.tls_cert",
            ),
            (
                "wss_listen = \"0.0.0.0:7443\"\ntls_cert = \"s.crt\"",
                "",
                "sip.tls_cert needs sip.tls_key",
            ),
            (
                "wss_listen = \"0.0.0.0:7443\"",
                "",
                "sip.wss_listen needs a certificate",
            ),
            (
                "tls_cert = \"s.crt\"\ntls_key = \"s.key\"",
                "",
                "only with sip.wss_listen",
            ),
        ] {
            let e = with(sip, http).unwrap_err().to_string();
            assert!(
                e.contains(want) && e.contains("zvonar.toml:"),
                "{sip} {http}: {e}"
            );
        }
    }

    #[test]
    fn session_cookies_are_secure_over_https_or_off_loopback() {
        let tls = "tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n[storage]";
        for (listen, https, want) in [
            ("127.0.0.1:8080", false, false),
            ("127.0.0.1:8080", true, true),
            ("0.0.0.0:8080", false, true),
            ("192.0.2.1:8443", true, true),
        ] {
            let mut t = text("", "", listen, STRONG);
            if https {
                t = t.replace("[storage]", tls);
            }
            let cfg = parse(&t).expect("config");
            assert_eq!(cfg.secure_cookies(), want, "{listen} https={https}");
        }
    }

    #[test]
    fn asr_max_queue_is_at_least_one() {
        let cfg = parse(&format!(
            "{}max_queue = 3\n",
            text("", "", "127.0.0.1:8080", STRONG)
        ))
        .expect("max_queue 3");
        assert_eq!(cfg.asr.max_queue, 3);
        let e = parse(&format!(
            "{}max_queue = 0\n",
            text("", "", "127.0.0.1:8080", STRONG)
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("asr.max_queue") && e.contains(":14:"), "{e}");
    }

    #[test]
    fn asr_early_ms_is_off_or_within_the_vad_s_silence() {
        let base = text("", "", "127.0.0.1:8080", STRONG);
        assert_eq!(
            parse(&base).expect("default").asr.early_ms,
            zvonar_voice::asr::DEFAULT_EARLY_MS
        );
        for ok in [0, 200, 400, 680] {
            let cfg = parse(&format!("{base}early_ms = {ok}\n")).expect("valid");
            assert_eq!(cfg.asr.early_ms, ok);
        }
        for bad in [100, 700, 5000] {
            let e = parse(&format!("{base}early_ms = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("asr.early_ms") && e.contains(":14:"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn tts_engine_is_festival_unless_chosen_otherwise() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml");
        let example = Config::load(&p).expect("example config");
        assert_eq!(example.tts.engine, TtsEngine::Festival);
        assert_eq!(example.tts.festival_voice, "msu_ru_nsh_clunits");
        // Without the settings: the same defaults.
        let plain = parse(&text("", "", "127.0.0.1:8080", STRONG)).expect("minimal");
        assert_eq!(plain.tts.engine, TtsEngine::Festival);
        assert_eq!(plain.tts.festival_voice, "msu_ru_nsh_clunits");
        for (name, engine) in [
            ("espeak", TtsEngine::Espeak),
            ("piper", TtsEngine::Piper),
            ("festival", TtsEngine::Festival),
        ] {
            let t = text("", "", "127.0.0.1:8080", STRONG)
                + &format!("[tts]\nengine = \"{name}\"\nfestival_voice = \"v2\"\n");
            let cfg = parse(&t).expect(name);
            assert_eq!(
                (cfg.tts.engine, cfg.tts.festival_voice.as_str()),
                (engine, "v2")
            );
        }
        let bad = text("", "", "127.0.0.1:8080", STRONG) + "[tts]\nengine = \"rhvoice\"\n";
        let e = parse(&bad).unwrap_err().to_string();
        assert!(
            e.contains("zvonar.toml:15") && e.contains("festival"),
            "{e}"
        );
    }

    #[test]
    fn console_dir_must_hold_the_console() {
        // The example config serves the source tree's console.
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml");
        let example = Config::load(&p).expect("example config");
        let dir = example.console_dir().expect("console dir");
        assert!(dir.join("index.html").is_file(), "{}", dir.display());
        // Set: resolved against the config's directory.
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/console");
        let set = text("", "", "127.0.0.1:8080", STRONG).replace(
            "[storage]",
            &format!("console_dir = \"{}\"\n[storage]", src.display()),
        );
        assert_eq!(parse(&set).expect("set").console_dir(), Some(src));
        // Unset: the source tree's web/console.
        let plain = parse(&text("", "", "127.0.0.1:8080", STRONG)).expect("minimal");
        assert_eq!(
            plain.console_dir(),
            Some(PathBuf::from(zvonar_web::SOURCE_CONSOLE_DIR))
        );
        // A directory without index.html is refused, naming the line.
        let bad = text("", "", "127.0.0.1:8080", STRONG).replace(
            "[storage]",
            "console_dir = \"/nonexistent/console\"\n[storage]",
        );
        let e = parse(&bad).unwrap_err().to_string();
        assert!(
            e.contains("zvonar.toml:9") && e.contains("console_dir"),
            "{e}"
        );
    }

    #[test]
    fn duty_section_of_the_example_and_its_checks() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml");
        let cfg = Config::load(&p).expect("example config");
        let d = &cfg.duty;
        assert!(d.enabled);
        assert_eq!(
            (
                d.ring_s,
                d.rounds,
                d.round_gap_s,
                d.answer_wait_s,
                d.scan_ms,
                d.max_age_min
            ),
            (30, 2, 60, 10, 1000, 60)
        );
        assert_eq!(
            d.topics.get("gas").map(String::as_str),
            Some("Газовая служба")
        );
        assert_eq!(d.default_department.as_deref(), Some("Сантехники"));
        // The department of a robot's emergency ticket comes from its topic.
        let t: zvonar_dispatch::Ticket = serde_json::from_value(serde_json::json!({
            "id": 1, "number": "1001", "created_at": "2026-11-30T10:00:00Z", "call_id": null,
            "caller": null, "account_id": null, "building_id": null, "premises_id": null,
            "apartment": null, "topic": "lift", "emergency": true, "description": "",
            "outage_id": null, "unfinished": false, "status": "new"
        }))
        .expect("ticket");
        assert_eq!(d.department_for(&t).as_deref(), Some("Лифтовая служба"));
        // Out of range, or a department [tickets] does not have: refused at load, naming
        // the key and its line.
        let example = std::fs::read_to_string(&p).expect("example");
        for (from, to, key) in [
            ("ring_s = 30", "ring_s = 3", "duty.ring_s"),
            ("rounds = 2", "rounds = 0", "duty.rounds"),
            ("round_gap_s = 60", "round_gap_s = 9000", "duty.round_gap_s"),
            (
                "answer_wait_s = 10",
                "answer_wait_s = 100",
                "duty.answer_wait_s",
            ),
            ("scan_ms = 1000", "scan_ms = 5", "duty.scan_ms"),
            ("max_age_min = 60", "max_age_min = 0", "duty.max_age_min"),
            ("gas = \"Газовая служба\"", "gas = \"Газовики\"", "Газовики"),
        ] {
            assert!(example.contains(from), "{from}");
            let e = Config::parse(&example.replacen(from, to, 1), &p)
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{to}: {e}");
            if key.starts_with("duty.") {
                let line = example
                    .lines()
                    .position(|l| l.starts_with(from))
                    .expect("line")
                    + 1;
                assert!(e.contains(&format!("zvonar.toml:{line}")), "{to}: {e}");
            }
        }
        // Without the section: the defaults.
        let plain = parse(&text("", "", "127.0.0.1:8080", STRONG)).expect("plain");
        assert_eq!(plain.duty, zvonar_dispatch::duty::DutySettings::default());
    }

    #[test]
    fn ticket_topic_tree_and_sla_from_the_example() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml");
        let cfg = Config::load(&p).expect("example config");
        let dialplan: Vec<(String, String)> = [
            ("leak", "протечка и сантехника"),
            ("electricity", "электричество"),
            ("heating", "отопление"),
            ("gas", "газ"),
            ("lift", "лифт"),
            ("cleaning", "уборка и мусор"),
            ("roof", "кровля и фасад"),
            ("other", "другое"),
        ]
        .iter()
        .map(|(c, n)| (c.to_string(), n.to_string()))
        .collect();
        let tree = cfg.tickets.topic_tree(&dialplan).expect("tree");
        let leak = tree.iter().find(|t| t.code == "leak").expect("leak");
        assert_eq!(
            (
                leak.name.as_str(),
                leak.group.as_str(),
                leak.sla_hours,
                leak.emergency_sla_hours
            ),
            ("Протечка и сантехника", "Сантехника и отопление", 24, 2)
        );
        let gas = tree.iter().find(|t| t.code == "gas").expect("gas");
        assert_eq!((gas.sla_hours, gas.emergency_sla_hours), (4, 1));
        // Listed without its own terms: the defaults.
        let roof = tree.iter().find(|t| t.code == "roof").expect("roof");
        assert_eq!((roof.sla_hours, roof.emergency_sla_hours), (72, 2));
        // A console-only topic keeps its name; a dialplan topic not listed goes to «Прочее».
        assert_eq!(
            tree.iter().find(|t| t.code == "yard").expect("yard").name,
            "Благоустройство двора"
        );
        let other = tree.iter().find(|t| t.code == "other").expect("other");
        assert_eq!((other.group.as_str(), other.sla_hours), ("Прочее", 72));
        assert!(cfg.tickets.departments.iter().any(|d| d == "Сантехники"));
        assert_eq!(cfg.tickets.photo_max_mib, 10);
        // A code the dialplan lacks, without a name, is refused by name.
        let mut bad = cfg.tickets.clone();
        bad.topics[0].name = None;
        bad.topics[0].code = "nonexistent".into();
        assert!(bad
            .topic_tree(&dialplan)
            .unwrap_err()
            .contains("nonexistent"));
        // Zero SLA or a huge photo limit: refused at load, naming the key.
        for (line, key) in [
            ("sla_hours = 0", "sla_hours"),
            ("photo_max_mib = 101", "photo_max_mib"),
        ] {
            let t = text("", "", "127.0.0.1:8080", STRONG) + &format!("[tickets]\n{line}\n");
            let e = parse(&t).unwrap_err().to_string();
            assert!(e.contains(&format!("tickets.{key}")), "{e}");
        }
    }

    #[test]
    fn errors_name_file_and_line() {
        let dir = std::env::temp_dir().join(format!("zvonar-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("bad.toml");
        std::fs::write(
            &p,
            "dialplan = \"d.toml\"\n[sip]\nudp = \"not an address\"\n",
        )
        .unwrap();
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("bad.toml:3"), "{e}");
    }

    /// A minimal config with the given top-level lines, `[sip]` lines and `[http]` section.
    fn text(top: &str, sip: &str, listen: &str, token: &str) -> String {
        format!(
            "{top}\ndialplan = \"d.toml\"\n[sip]\nudp = \"127.0.0.1:5060\"\n{sip}\n\
             [http]\nlisten = \"{listen}\"\ntoken = \"{token}\"\n\
             [storage]\ndatabase = \"db\"\nrecordings = \"rec\"\n[asr]\nmodel = \"m\"\n"
        )
    }

    fn parse(t: &str) -> Result<Config, ConfigError> {
        Config::parse(t, Path::new("/etc/zvonar/zvonar.toml"))
    }

    const STRONG: &str = "Zq3v9LrT0mWc2XyB8nKd5sFh";

    #[test]
    fn weak_tokens_are_refused_off_loopback() {
        for token in [
            "change-me-please",
            "e2e-test-token",
            "short-but-random-9",
            "",
        ] {
            let e = parse(&text("", "", "0.0.0.0:8080", token))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("zvonar.toml:") && e.contains("http.token"),
                "{token}: {e}"
            );
        }
        // The example value is refused even where it would be long enough.
        assert!(token_weakness("change-me-please").is_some());
        let e = parse(&text("", "", "192.0.2.1:8080", "change-me-please")).unwrap_err();
        assert!(e.to_string().contains("example value"), "{e}");
        // A strong token is fine anywhere; off loopback plain HTTP is warned about.
        let cfg = parse(&text("", "", "0.0.0.0:8080", STRONG)).expect("strong token");
        let w = cfg.warnings();
        assert!(w.len() == 1 && w[0].contains("tls_cert"), "{w:?}");
        let https = text("", "", "0.0.0.0:8080", STRONG).replace(
            "[storage]",
            "tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n[storage]",
        );
        let cfg = parse(&https).expect("https");
        assert!(cfg.warnings().is_empty(), "{:?}", cfg.warnings());
    }

    #[test]
    fn weak_tokens_on_loopback_start_with_a_warning() {
        for listen in ["127.0.0.1:8080", "[::1]:8080"] {
            let cfg = parse(&text("", "", listen, "change-me-please")).expect("loopback");
            let w = cfg.warnings();
            assert_eq!(w.len(), 1, "{w:?}");
            assert!(
                w[0].contains("http.token") && w[0].contains("loopback"),
                "{w:?}"
            );
        }
        // Empty is never a token.
        assert!(parse(&text("", "", "127.0.0.1:8080", "")).is_err());
    }

    #[test]
    fn example_config_tls_lines_work_once_uncommented() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml");
        let text = std::fs::read_to_string(&p).expect("example config");
        let cfg = Config::parse(&text, &p).expect("example config");
        assert_eq!(
            (cfg.http_tls(), cfg.sip.wss_listen),
            (None, None),
            "off as shipped"
        );
        assert!(!cfg.secure_cookies(), "plain HTTP on loopback");
        let mut uncommented = String::new();
        for line in text.lines() {
            let on = ["# wss_listen = ", "# tls_cert = ", "# tls_key = "]
                .iter()
                .any(|k| line.starts_with(k));
            uncommented.push_str(if on { &line[2..] } else { line });
            uncommented.push('\n');
        }
        assert_eq!(
            uncommented.matches("\ntls_cert = ").count(),
            2,
            "in [sip] and [http]"
        );
        let cfg = Config::parse(&uncommented, &p).expect("uncommented");
        let le = |f: &str| PathBuf::from(format!("/etc/letsencrypt/live/zvonar.example.ru/{f}"));
        let pair = Some((le("fullchain.pem"), le("privkey.pem")));
        assert_eq!(cfg.http_tls(), pair);
        assert_eq!(cfg.wss_tls(), pair);
        assert_eq!(
            cfg.sip.wss_listen,
            Some("0.0.0.0:7443".parse().expect("addr"))
        );
        assert!(cfg.secure_cookies(), "HTTPS: Secure cookies");
    }

    #[test]
    fn example_config_warns_about_its_token() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml");
        let cfg = Config::load(&p).expect("example config");
        assert_eq!(cfg.warnings().len(), 1, "{:?}", cfg.warnings());
    }

    #[test]
    fn time_zone_is_an_iana_name() {
        let cfg = parse(&text("", "", "127.0.0.1:8080", STRONG)).expect("default");
        assert_eq!(cfg.time_zone, chrono_tz::Europe::Moscow);
        let cfg = parse(&text(
            "time_zone = \"Asia/Yekaterinburg\"",
            "",
            "127.0.0.1:8080",
            STRONG,
        ))
        .expect("zone");
        assert_eq!(cfg.time_zone, chrono_tz::Asia::Yekaterinburg);
        let e = parse(&text(
            "time_zone = \"Europe/Moskow\"",
            "",
            "127.0.0.1:8080",
            STRONG,
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("zvonar.toml:1") && e.contains("time_zone") && e.contains("Europe/Moskow"),
            "{e}"
        );
        let e = parse(&text(
            "time_zone = \"+03:00\"",
            "",
            "127.0.0.1:8080",
            STRONG,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("time_zone"), "{e}");
    }

    #[test]
    fn trusted_networks_are_cidr() {
        let cfg = parse(&text(
            "",
            "trusted = [\"127.0.0.1/32\", \"10.0.0.0/8\", \"2001:db8::/32\"]",
            "127.0.0.1:8080",
            STRONG,
        ))
        .expect("trusted");
        assert_eq!(cfg.sip.trusted.len(), 3);
        let e = parse(&text(
            "",
            "trusted = [\"10.0.0.0/33\"]",
            "127.0.0.1:8080",
            STRONG,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("zvonar.toml:5"), "{e}");
        let cfg = parse(&text("", "", "127.0.0.1:8080", STRONG)).expect("default");
        assert!(cfg.sip.trusted.is_empty());
    }

    #[test]
    fn registrar_settings_are_checked() {
        let cfg = parse(&text(
            "",
            "[sip.registrar]\nrealm = \"acme\"\n",
            "127.0.0.1:8080",
            "0123456789abcdef0123456789",
        ))
        .expect("ok");
        let r = cfg.sip.registrar.expect("section").to_config();
        assert_eq!(
            (r.nonce_lifetime_s, r.lockout_after, r.lockout_s),
            (300, 5, 900)
        );
        assert_eq!(r.algorithms.len(), 2);
        let cfg = parse(&text(
            "",
            "",
            "127.0.0.1:8080",
            "0123456789abcdef0123456789",
        ))
        .expect("ok");
        assert!(cfg.sip.registrar.is_none());
        for (bad, key) in [
            ("realm = \"\"", "realm"),
            ("realm = \"a\"\nnonce_lifetime_s = 0", "nonce_lifetime_s"),
            ("realm = \"a\"\nlockout_after = 0", "lockout_after"),
            ("realm = \"a\"\nmin_expires_s = 7200", "min_expires_s"),
            ("realm = \"a\"\nlockout = 3", "lockout"),
            ("realm = \"a\"\nalgorithms = []", "algorithms"),
            (
                "realm = \"a\"\nalgorithms = [\"MD5\", \"md5\"]",
                "algorithms",
            ),
            (
                "realm = \"a\"\nalgorithms = [\"SHA-512-256\"]",
                "algorithms",
            ),
        ] {
            let e = parse(&text(
                "",
                &format!("[sip.registrar]\n{bad}\n"),
                "127.0.0.1:8080",
                "0123456789abcdef0123456789",
            ))
            .expect_err(bad)
            .to_string();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }

    #[test]
    fn retention_defaults_to_three_years() {
        let cfg = parse(&text("", "", "127.0.0.1:8080", STRONG)).expect("default");
        assert_eq!(cfg.storage.retention_days, 1095);
        let t = text("", "", "127.0.0.1:8080", STRONG).replace(
            "recordings = \"rec\"",
            "recordings = \"rec\"\nretention_days = 30",
        );
        assert_eq!(parse(&t).expect("30").storage.retention_days, 30);
        let e = parse(&t.replace("= 30", "= 0")).unwrap_err().to_string();
        assert!(e.contains("retention_days"), "{e}");
    }

    #[test]
    fn auth_settings_come_from_the_auth_section() {
        let example =
            Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml"))
                .expect("example config");
        assert_eq!(example.auth, zvonar_access::AuthPolicy::default());
        let base = text("", "", "127.0.0.1:8080", STRONG);
        assert_eq!(
            parse(&base).expect("default").auth,
            zvonar_access::AuthPolicy::default()
        );
        let t = format!("{base}[auth]\nlockout_failures = 3\nlockout_minutes = 2\nlogin_attempts_per_ip_per_minute = 7\nsession_idle_minutes = 10\nsession_max_hours = 8\n");
        let a = parse(&t).expect("auth").auth;
        assert_eq!(
            (
                a.lockout_failures,
                a.lockout_minutes,
                a.login_attempts_per_ip_per_minute,
                a.session_idle_minutes,
                a.session_max_hours
            ),
            (3, 2, 7, 10, 8)
        );
        let e = parse(&t.replace("lockout_minutes = 2", "lockout_minutes = 0"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("auth.lockout_minutes") && e.contains("zvonar.toml:16"),
            "{e}"
        );
        let e = parse(&format!("{base}[auth]\nlockout = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lockout"), "{e}");
    }
}
