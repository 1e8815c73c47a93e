//! `zvonar.toml`: where to listen, where data lives, which models to use.
//!
//! Every path is relative to the config file's directory unless absolute, so the example
//! config works from a fresh clone. Errors name the file, line and what is wrong.

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
    /// Storage and files.
    pub storage: StorageSection,
    /// Speech recognition.
    pub asr: AsrSection,
    /// Speech synthesis.
    #[serde(default)]
    pub tts: TtsSection,
    /// The dialplan TOML file.
    pub dialplan: PathBuf,
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
    /// Address announced in Contact and SDP; defaults to the UDP address's IP, or
    /// 127.0.0.1 when that is unspecified.
    pub public_ip: Option<IpAddr>,
    /// Calls handled at once; more get 503 (RFC 3261 §21.5.4).
    #[serde(default = "default_max_calls")]
    pub max_calls: usize,
    /// Ringing time before the robot answers, ms (a caller who hangs up meanwhile is a
    /// missed call with a CDR and no recording).
    #[serde(default)]
    pub answer_after_ms: u64,
}

fn default_max_calls() -> usize {
    200
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
    /// Bearer token every API request must carry.
    pub token: String,
}

/// `[storage]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// SQLite database file.
    pub database: PathBuf,
    /// Where call recordings are written.
    pub recordings: PathBuf,
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
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TtsSection {
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
        let mut cfg: Config = toml::from_str(&text).map_err(|e| {
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
                line: line_of(&text, "port_min"),
                message: "rtp.port_min must be below rtp.port_max".into(),
            });
        }
        if cfg.http.token.len() < 8 {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(&text, "token"),
                message: "http.token must be at least 8 characters".into(),
            });
        }
        Ok(cfg)
    }

    /// Resolves a configured path against the config file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
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
}
