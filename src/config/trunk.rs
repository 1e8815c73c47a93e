//! `[[trunk]]`: SIP trunks (providers) zvonar registers with and places outgoing calls
//! through.
//!
//! ```toml
//! [[trunk]]
//! name = "main"                          # shown in /health and logs
//! registrar = "sip:sip.provider.example" # registrar/proxy URI: REGISTER goes here; numbers
//!                                        # are dialled as sip:NUMBER@<this host>
//! outbound_proxy = "192.0.2.1:5060"      # optional: send every request to this address
//! username = "74951234567"
//! auth_username = "a1b2c3"               # optional: digest user when it differs
//! password_file = "/etc/zvonar/trunk-main.secret"   # or password / password_env
//! expires_s = 300
//! caller_id = "74951234567"              # From and P-Asserted-Identity of outgoing calls
//! channels = 30                          # calls at once through this trunk
//! transport = "udp"                      # or "tcp"
//! priority = 1                           # lower is tried first
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The default registration lifetime asked for, s (RFC 3261 §10.2.1.1 suggests 3600;
/// providers commonly grant 60–3600, and NAT bindings need less).
pub const DEFAULT_EXPIRES_S: u32 = 300;

/// Shortest registration lifetime that may be configured, s (a registrar answers shorter
/// ones with 423, RFC 3261 §10.3; tests use a few seconds).
pub const MIN_EXPIRES_S: u32 = 2;

/// `transport` of a trunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrunkTransport {
    /// SIP over UDP (RFC 3261 §18), the default.
    #[default]
    Udp,
    /// SIP over TCP (needs `[sip] tcp`, the address our Contact names).
    Tcp,
}

/// One `[[trunk]]` table (see the module docs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkSection {
    /// Unique name (latin letters, digits, `-_.`), shown in `/health` and logs.
    pub name: String,
    /// The provider's registrar/proxy as a SIP URI, `sip:host[:port]` (no user part):
    /// REGISTER's Request-URI (RFC 3261 §10.2), and the host numbers are dialled at
    /// (`sip:NUMBER@host[:port]`); also the domain of our From/To.
    pub registrar: String,
    /// `host:port` every request is sent to instead of the registrar's address (the
    /// provider's SBC or an outbound proxy); port 5060 when omitted. Resolved at each use.
    #[serde(default)]
    pub outbound_proxy: Option<String>,
    /// The account's user: REGISTER's To/From user (our address of record) and the digest
    /// username unless `auth_username` is set.
    pub username: String,
    /// Digest username when the provider's differs from `username` (an "authentication
    /// ID"), RFC 2617 §3.2.2 `username`.
    #[serde(default)]
    pub auth_username: Option<String>,
    /// The password itself (keep the config private), or use `password_file`/`password_env`;
    /// exactly one of the three.
    #[serde(default)]
    pub password: Option<String>,
    /// A file whose first line is the password (relative to the config's directory).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// An environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Register with the registrar (`true`, the default); `false` for providers that
    /// authenticate by IP address: the trunk is then always usable for calls.
    #[serde(default = "yes")]
    pub register: bool,
    /// Registration lifetime asked for, s (the registrar may grant less or more; refreshed
    /// at half the granted time). Default [`DEFAULT_EXPIRES_S`], at least [`MIN_EXPIRES_S`].
    #[serde(default = "default_expires_s")]
    pub expires_s: u32,
    /// The number presented on outgoing calls: the user part of From and of
    /// P-Asserted-Identity (RFC 3325 §9.1). Default `username`.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// Calls at once through this trunk (what the provider's contract allows); a call
    /// beyond it goes to the next trunk. Absent: no limit.
    #[serde(default)]
    pub channels: Option<u32>,
    /// `udp` (default) or `tcp`.
    #[serde(default)]
    pub transport: TrunkTransport,
    /// Failover order: the usable trunk with the lowest number is tried first, the next one
    /// when it answers 503/408 or cannot be reached (like DNS SRV priority, RFC 2782).
    /// Equal priorities keep the order of the file. Default 1.
    #[serde(default = "one")]
    pub priority: u32,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

fn default_expires_s() -> u32 {
    DEFAULT_EXPIRES_S
}

/// `host` and port of an `outbound_proxy` value (`host`, `host:port`, `[v6]:port`; port
/// 5060 when omitted); `None` when malformed.
pub fn proxy_host_port(s: &str) -> Option<(String, u16)> {
    let s = s.trim();
    if s.is_empty() || s.contains(char::is_whitespace) || s.contains(['@', ';', '/']) {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 5060,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => Some((s.to_string(), 5060)),
        Some((host, port)) if !host.is_empty() => Some((host.to_string(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((s.to_string(), 5060)),
    }
}

/// A user part: digits, latin letters and `+-._*#`.
fn user_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-._*#".contains(c))
}

impl TrunkSection {
    /// The number presented on outgoing calls.
    pub fn caller_id(&self) -> &str {
        self.caller_id.as_deref().unwrap_or(&self.username)
    }

    /// `host[:port]` of [`TrunkSection::registrar`] (`sip:` and any `;params` removed).
    pub fn registrar_host(&self) -> &str {
        let r = self.registrar.trim();
        let r = r
            .strip_prefix("sip:")
            .or_else(|| r.strip_prefix("SIP:"))
            .unwrap_or(r);
        r.split(';').next().unwrap_or(r)
    }

    /// Checks one trunk's settings. Errors: `(key, message)`.
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
        let n = &self.name;
        if n.is_empty()
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err((
                "name",
                format!("trunk.name {n:?}: latin letters, digits, - _ . only"),
            ));
        }
        let lower = self.registrar.trim().to_ascii_lowercase();
        let host = self.registrar_host();
        if !lower.starts_with("sip:")
            || host.is_empty()
            || host.contains('@')
            || host.contains(char::is_whitespace)
        {
            return Err((
                "registrar",
                format!(
                    "trunk {n}: registrar {:?} must be a SIP URI without a user, e.g. \"sip:sip.provider.example\" or \"sip:192.0.2.1:5060\"",
                    self.registrar
                ),
            ));
        }
        if let Some(p) = &self.outbound_proxy {
            if proxy_host_port(p).is_none() {
                return Err((
                    "outbound_proxy",
                    format!("trunk {n}: outbound_proxy {p:?} must be host:port, e.g. \"192.0.2.1:5060\""),
                ));
            }
        }
        if !user_ok(&self.username) {
            return Err((
                "username",
                format!("trunk {n}: username must be digits, latin letters or +-._*#"),
            ));
        }
        if let Some(a) = &self.auth_username {
            if a.trim().is_empty() || a.contains('"') {
                return Err((
                    "auth_username",
                    format!("trunk {n}: auth_username must be non-empty, without '\"'"),
                ));
            }
        }
        let secrets = [
            self.password.is_some(),
            self.password_file.is_some(),
            self.password_env.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if secrets != 1 {
            return Err((
                "password",
                format!("trunk {n}: give exactly one of password, password_file, password_env"),
            ));
        }
        if self.expires_s < MIN_EXPIRES_S {
            return Err((
                "expires_s",
                format!("trunk {n}: expires_s must be at least {MIN_EXPIRES_S}"),
            ));
        }
        if let Some(c) = &self.caller_id {
            if !user_ok(c) {
                return Err((
                    "caller_id",
                    format!("trunk {n}: caller_id must be digits, latin letters or +-._*#"),
                ));
            }
        }
        if self.channels == Some(0) {
            return Err((
                "channels",
                format!("trunk {n}: channels must be at least 1 (omit it for no limit)"),
            ));
        }
        Ok(())
    }

    /// The password: `password`, the first line of `password_file` (resolved against
    /// `base_dir`), or the value of `password_env`. Read when zvonar serves, not when the
    /// config is checked, so other commands work without the secret.
    ///
    /// Errors: a message naming the trunk and what could not be read.
    pub fn secret(&self, base_dir: &Path) -> Result<String, String> {
        if let Some(p) = &self.password {
            return Ok(p.clone());
        }
        if let Some(f) = &self.password_file {
            let path = if f.is_absolute() {
                f.clone()
            } else {
                base_dir.join(f)
            };
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!("trunk {}: password_file {}: {e}", self.name, path.display())
            })?;
            let line = text
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_string();
            if line.is_empty() {
                return Err(format!(
                    "trunk {}: password_file {} is empty",
                    self.name,
                    path.display()
                ));
            }
            return Ok(line);
        }
        if let Some(v) = &self.password_env {
            return match std::env::var(v) {
                Ok(s) if !s.is_empty() => Ok(s),
                _ => Err(format!(
                    "trunk {}: environment variable {v} (password_env) is not set",
                    self.name
                )),
            };
        }
        Err(format!("trunk {}: no password", self.name))
    }
}

/// Checks every trunk, that names are unique, and that TCP trunks have a TCP listener
/// (`tcp_listener`: `[sip] tcp` is set). Errors: `(index of the trunk, key, message)`.
pub(super) fn check_all(
    trunks: &[TrunkSection],
    tcp_listener: bool,
) -> Result<(), (usize, &'static str, String)> {
    for (i, t) in trunks.iter().enumerate() {
        t.check().map_err(|(k, m)| (i, k, m))?;
        if trunks[..i].iter().any(|o| o.name == t.name) {
            return Err((i, "name", format!("trunk.name {:?} is used twice", t.name)));
        }
        if t.transport == TrunkTransport::Tcp && !tcp_listener {
            return Err((
                i,
                "transport",
                format!("trunk {}: transport = \"tcp\" needs [sip] tcp", t.name),
            ));
        }
    }
    Ok(())
}

/// The 1-based line of `key` in the `index`-th `[[trunk]]` table of `text`, else of that
/// table's header; 0 when not found.
pub(super) fn line_in_trunk(text: &str, index: usize, key: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[trunk]]")
        .nth(index)
        .map(|(n, _)| n)
    else {
        return 0;
    };
    lines[start + 1..]
        .iter()
        .take_while(|l| !l.trim_start().starts_with('['))
        .position(|l| l.trim_start().starts_with(key))
        .map_or(start + 1, |n| start + 2 + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(extra: &str) -> Result<TrunkSection, String> {
        let t: TrunkSection = toml::from_str(&format!(
            "name = \"main\"\nregistrar = \"sip:sip.example.net:5070;transport=udp\"\nusername = \"74950001122\"\n{extra}"
        ))
        .map_err(|e| e.to_string())?;
        t.check().map_err(|(k, m)| format!("{k}: {m}"))?;
        Ok(t)
    }

    #[test]
    fn defaults_and_derived_values() {
        let t = trunk("password = \"p\"").expect("minimal trunk");
        assert_eq!(t.caller_id(), "74950001122");
        assert_eq!(t.registrar_host(), "sip.example.net:5070");
        assert_eq!(
            (t.expires_s, t.priority, t.register, t.channels, t.transport),
            (300, 1, true, None, TrunkTransport::Udp)
        );
        let t = trunk("password = \"p\"\ncaller_id = \"+74951112233\"\ntransport = \"tcp\"\nchannels = 2\npriority = 5\nregister = false")
            .expect("full");
        assert_eq!(
            (
                t.caller_id(),
                t.transport,
                t.channels,
                t.priority,
                t.register
            ),
            ("+74951112233", TrunkTransport::Tcp, Some(2), 5, false)
        );
    }

    #[test]
    fn bad_trunks_are_refused_naming_the_key() {
        for (extra, key) in [
            ("", "password"),
            ("password = \"p\"\npassword_env = \"X\"", "password"),
            ("password = \"p\"\nexpires_s = 1", "expires_s"),
            ("password = \"p\"\nchannels = 0", "channels"),
            ("password = \"p\"\ncaller_id = \"Иван\"", "caller_id"),
            (
                "password = \"p\"\noutbound_proxy = \"proxy:notaport\"",
                "outbound_proxy",
            ),
            ("password = \"p\"\nauth_username = \"\"", "auth_username"),
            ("password = \"p\"\ntransport = \"tls\"", "transport"),
            ("password = \"p\"\nexpire = 3", "expire"),
        ] {
            let e = trunk(extra).expect_err(extra);
            assert!(e.contains(key), "{extra}: {e}");
        }
        let mut t = trunk("password = \"p\"").unwrap();
        t.registrar = "sip:user@host".into();
        assert_eq!(t.check().unwrap_err().0, "registrar");
        t.registrar = "http://host".into();
        assert_eq!(t.check().unwrap_err().0, "registrar");
        let a = trunk("password = \"p\"").unwrap();
        let e = check_all(&[a.clone(), a.clone()], true).unwrap_err();
        assert!(e.2.contains("twice") && e.0 == 1, "{e:?}");
        let mut tcp = a;
        tcp.transport = TrunkTransport::Tcp;
        assert_eq!(check_all(&[tcp.clone()], false).unwrap_err().1, "transport");
        assert!(check_all(&[tcp], true).is_ok());
    }

    /// The commented example in deploy/zvonar.toml loads once uncommented, with the values
    /// its comments describe.
    #[test]
    fn the_shipped_commented_example_works() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/zvonar.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text
            .find("# [[trunk]]")
            .expect("the example is in deploy/zvonar.toml");
        let example: String = text[start..]
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(l)))
            .collect();
        let cfg = crate::config::Config::parse(&format!("{text}\n{example}"), &path)
            .expect("example with the trunk");
        let [t] = cfg.trunk.as_slice() else {
            panic!("{:?}", cfg.trunk)
        };
        assert_eq!(
            (
                t.name.as_str(),
                t.registrar_host(),
                t.outbound_proxy.as_deref()
            ),
            ("main", "sip.provider.example", Some("192.0.2.1:5060"))
        );
        assert_eq!(
            (
                t.username.as_str(),
                t.auth_username.as_deref(),
                t.caller_id()
            ),
            ("74951234567", Some("74951234567"), "74951234567")
        );
        assert_eq!(
            (t.expires_s, t.channels, t.transport, t.priority, t.register),
            (300, Some(30), TrunkTransport::Udp, 1, true)
        );
        // The password file is read next to the config, when zvonar serves.
        let e = t.secret(&cfg.base_dir).unwrap_err();
        assert!(e.contains("deploy/trunk-main.secret"), "{e}");
        // Without the example: no trunk.
        assert!(crate::config::Config::parse(&text, &path)
            .unwrap()
            .trunk
            .is_empty());
    }

    #[test]
    fn errors_name_the_line_in_the_trunk_at_fault() {
        let base = "dialplan = \"d.toml\"\n[sip]\nudp = \"127.0.0.1:5060\"\n\
            [http]\nlisten = \"127.0.0.1:8080\"\ntoken = \"Zq3v9LrT0mWc2XyB8nKd5sFh\"\n\
            [storage]\ndatabase = \"db\"\nrecordings = \"rec\"\n[asr]\nmodel = \"m\"\n";
        let one = |name: &str, extra: &str| {
            format!("[[trunk]]\nname = \"{name}\"\nregistrar = \"sip:h\"\nusername = \"u\"\npassword = \"p\"\n{extra}")
        };
        let path = Path::new("/etc/zvonar/zvonar.toml");
        // Line 12 starts the first trunk; the second one's channels = 0 is on line 23.
        let text = format!(
            "{base}{}{}",
            one("a", "channels = 1\n"),
            one("b", "channels = 0\n")
        );
        let e = crate::config::Config::parse(&text, path)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("zvonar.toml:23:") && e.contains("trunk b"),
            "{e}"
        );
        // TCP without a TCP listener: the second trunk's transport line.
        let text = format!(
            "{base}{}{}",
            one("a", ""),
            one("b", "transport = \"tcp\"\n")
        );
        let e = crate::config::Config::parse(&text, path)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("zvonar.toml:22:") && e.contains("[sip] tcp"),
            "{e}"
        );
        // The same name twice: the second table's name.
        let text = format!("{base}{}{}", one("a", ""), one("a", ""));
        let e = crate::config::Config::parse(&text, path)
            .unwrap_err()
            .to_string();
        assert!(e.contains("zvonar.toml:18:") && e.contains("twice"), "{e}");
    }

    #[test]
    fn outbound_proxies_are_host_and_port() {
        assert_eq!(
            proxy_host_port("192.0.2.1:5070"),
            Some(("192.0.2.1".into(), 5070))
        );
        assert_eq!(
            proxy_host_port("sbc.example"),
            Some(("sbc.example".into(), 5060))
        );
        assert_eq!(
            proxy_host_port("[2001:db8::1]:5080"),
            Some(("2001:db8::1".into(), 5080))
        );
        for bad in ["", "host:", ":5060", "sip:x@y", "a b:5060", "host:99999"] {
            assert_eq!(proxy_host_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_password_comes_from_one_place() {
        let dir = std::env::temp_dir().join(format!("zvonar-trunk-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("s.secret"), "from-file\nignored\n").unwrap();
        let t = trunk("password_file = \"s.secret\"").unwrap();
        assert_eq!(t.secret(&dir).unwrap(), "from-file");
        let t = trunk("password_file = \"missing.secret\"").unwrap();
        let e = t.secret(&dir).unwrap_err();
        assert!(e.contains("main") && e.contains("missing.secret"), "{e}");
        let var = format!("ZVONAR_TEST_TRUNK_{}", std::process::id());
        let t = trunk(&format!("password_env = \"{var}\"")).unwrap();
        assert!(t.secret(&dir).unwrap_err().contains(&var));
        std::env::set_var(&var, "from-env");
        assert_eq!(t.secret(&dir).unwrap(), "from-env");
        std::env::remove_var(&var);
        assert_eq!(
            trunk("password = \"inline\"")
                .unwrap()
                .secret(&dir)
                .unwrap(),
            "inline"
        );
    }
}
