//! A private network for browser tests: Chromium refuses WebRTC (ICE) to 127.0.0.1, so
//! zvonar runs in a network namespace this test creates, reached over a veth pair with
//! 10.x addresses, and removed when the test ends ([`Netns`] on drop). [`NsZvonar`] is a
//! `zvonar serve` inside it with SIP over WebSocket and the registrar on. Needs root
//! (`ip netns add`); without it the test fails saying so — it never skips silently.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A network namespace with a veth pair: `host_ip` on our side, `ns_ip` inside.
pub struct Netns {
    /// The namespace's name (`ip netns exec NAME …`).
    pub name: String,
    /// Our end's address (the root namespace).
    pub host_ip: Ipv4Addr,
    /// The address inside the namespace.
    pub ns_ip: Ipv4Addr,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e} (install iproute2)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether this machine can make network namespaces (root with CAP_NET_ADMIN and `ip`); the
/// reason when not. Tests that need one skip with that message instead of failing.
pub fn possible() -> Result<(), String> {
    let name = format!("zvprobe{}", std::process::id());
    ip(&["netns", "add", &name])?;
    let _ = ip(&["netns", "del", &name]);
    Ok(())
}

impl Netns {
    /// Creates namespace `zv<tag><pid>` with a /30 veth link to it (addresses derived from
    /// the process id and how many namespaces this process made before, so parallel test
    /// processes, and parallel tests of one process, do not collide). Panics with the reason
    /// when namespaces cannot be made (not root, no CAP_NET_ADMIN, no `ip`).
    pub fn create(tag: &str) -> Netns {
        static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let seq = MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let pid = std::process::id();
        let name = format!("zv{tag}{pid}");
        let base = ((pid & 0x3f) << 2) as u8;
        let net = [
            10,
            200 + (((pid >> 14) + seq * 17) % 50) as u8,
            ((pid >> 6) & 0xff) as u8,
            base,
        ];
        let host_ip = Ipv4Addr::new(net[0], net[1], net[2], base + 1);
        let ns_ip = Ipv4Addr::new(net[0], net[1], net[2], base + 2);
        let (veth_host, veth_ns) = (format!("{name}h"), format!("{name}n"));
        // A leftover of a crashed run with the same pid.
        let _ = ip(&["netns", "del", &name]);
        let _ = ip(&["link", "del", &veth_host]);
        let ns = Netns {
            name: name.clone(),
            host_ip,
            ns_ip,
        };
        let steps: Vec<Vec<String>> = vec![
            vec!["netns".into(), "add".into(), name.clone()],
            vec![
                "link".into(),
                "add".into(),
                veth_host.clone(),
                "type".into(),
                "veth".into(),
                "peer".into(),
                "name".into(),
                veth_ns.clone(),
            ],
            vec![
                "link".into(),
                "set".into(),
                veth_ns.clone(),
                "netns".into(),
                name.clone(),
            ],
            vec![
                "addr".into(),
                "add".into(),
                format!("{host_ip}/30"),
                "dev".into(),
                veth_host.clone(),
            ],
            vec!["link".into(), "set".into(), veth_host, "up".into()],
            vec![
                "-n".into(),
                name.clone(),
                "addr".into(),
                "add".into(),
                format!("{ns_ip}/30"),
                "dev".into(),
                veth_ns.clone(),
            ],
            vec![
                "-n".into(),
                name.clone(),
                "link".into(),
                "set".into(),
                veth_ns,
                "up".into(),
            ],
            vec![
                "-n".into(),
                name.clone(),
                "link".into(),
                "set".into(),
                "lo".into(),
                "up".into(),
            ],
        ];
        for step in steps {
            let args: Vec<&str> = step.iter().map(String::as_str).collect();
            if let Err(e) = ip(&args) {
                panic!(
                    "this test needs a network namespace (Chromium refuses WebRTC to 127.0.0.1) \
                     and could not make one — run it as root with CAP_NET_ADMIN: {e}"
                );
            }
        }
        ns
    }

    /// A command run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair with it.
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("netns cleanup: {e}");
        }
    }
}

/// `zvonar serve` inside a [`Netns`]: SIP on UDP/TCP 5060 and WebSocket `ws_port`, HTTP API
/// on 8080, all on the namespace's address (a fresh namespace has every port free).
pub struct NsZvonar {
    child: Child,
    /// Temporary directory with db, recordings, config, log.
    pub dir: PathBuf,
    /// SIP over WebSocket address.
    pub ws: SocketAddr,
    /// HTTP API address.
    pub http: SocketAddr,
    /// API token.
    pub token: String,
    /// The certificate (PEM) the HTTP API is served with, when over HTTPS
    /// ([`NsZvonar::start_https`]); [`NsZvonar::get`] then trusts it.
    pub https: Option<PathBuf>,
}

impl NsZvonar {
    /// Writes the config (the test's `[sip.registrar]` realm, `extra` TOML appended),
    /// imports the example registry and starts the server in `ns`.
    pub fn start(ns: &Netns, name: &str, extra: &str) -> NsZvonar {
        NsZvonar::start_with(ns, name, None, "", extra)
    }

    /// [`NsZvonar::start`] with a dialplan of its own (`None`: deploy/dialplan.toml) and
    /// `sip_extra` lines in `[sip]` (e.g. `trusted = [...]`).
    pub fn start_with(
        ns: &Netns,
        name: &str,
        dialplan: Option<&str>,
        sip_extra: &str,
        extra: &str,
    ) -> NsZvonar {
        NsZvonar::start_inner(ns, name, dialplan, sip_extra, extra, None)
    }

    /// [`NsZvonar::start_with`] with the HTTP API and console over HTTPS with the PEM
    /// certificate `cert` and key `key` (`[http] tls_cert`/`tls_key`; for the namespace's
    /// address, which [`NsZvonar::get`] checks it against).
    pub fn start_https(
        ns: &Netns,
        name: &str,
        dialplan: Option<&str>,
        sip_extra: &str,
        extra: &str,
        (cert, key): (&std::path::Path, &std::path::Path),
    ) -> NsZvonar {
        NsZvonar::start_inner(ns, name, dialplan, sip_extra, extra, Some((cert, key)))
    }

    fn start_inner(
        ns: &Netns,
        name: &str,
        dialplan: Option<&str>,
        sip_extra: &str,
        extra: &str,
        https: Option<(&std::path::Path, &std::path::Path)>,
    ) -> NsZvonar {
        let dir = std::env::temp_dir().join(format!("zvonar-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ip = ns.ns_ip;
        let token = "e2e-netns-token-7f3a9c1d2b8e4f60a5".to_string();
        let deploy = super::root().join("deploy");
        let dialplan_path = match dialplan {
            Some(text) => {
                let p = dir.join("dialplan.toml");
                std::fs::write(&p, text).expect("dialplan");
                p
            }
            None => deploy.join("dialplan.toml"),
        };
        let config = format!(
            r#"dialplan = "{dialplan}"
time_zone = "Europe/Moscow"
[sip]
udp = "{ip}:5060"
tcp = "{ip}:5060"
ws_listen = "{ip}:5066"
public_ip = "{ip}"
answer_after_ms = 0
max_calls = 20
{sip_extra}
[rtp]
port_min = 30000
port_max = 30999
[http]
listen = "{ip}:8080"
token = "{token}"
{http_tls}
[storage]
database = "zvonar.sqlite"
recordings = "recordings"
[asr]
model = "{model}"
[tts]
cache_dir = "{tts_cache}"
espeak_rate_wpm = 170
{extra}
"#,
            dialplan = dialplan_path.display(),
            http_tls = https
                .map(|(c, k)| format!(
                    "tls_cert = {:?}\ntls_key = {:?}",
                    c.display().to_string(),
                    k.display().to_string()
                ))
                .unwrap_or_default(),
            sip_extra = if sip_extra.is_empty() {
                "trusted = []"
            } else {
                sip_extra
            },
            model = super::whisper_model().display(),
            tts_cache = super::shared_tts_cache().display(),
        );
        let cfg = dir.join("zvonar.toml");
        std::fs::write(&cfg, config).expect("config");
        let bin = env!("CARGO_BIN_EXE_zvonar");
        let out = Command::new(bin)
            .args(["--config", &cfg.to_string_lossy(), "import", "accounts"])
            .arg(deploy.join("example").join("registry.csv"))
            .output()
            .expect("zvonar import");
        assert!(
            out.status.success(),
            "import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = std::fs::File::create(dir.join("zvonar.log")).expect("log");
        let child = ns
            .command(bin)
            .args(["--config", &cfg.to_string_lossy(), "serve"])
            .env(
                "RUST_LOG",
                "info,zvonar=debug,zvonar_voice=debug,zvonar_sip=debug,rsipstack=warn,rsipstack::dialog=debug,rtc_dtls=error,whisper_rs=warn,ort=warn,webrtc=warn,rtc=warn",
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ip netns exec zvonar serve");
        let mut z = NsZvonar {
            child,
            dir,
            ws: SocketAddr::from((ip, 5066)),
            http: SocketAddr::from((ip, 8080)),
            token,
            https: https.map(|(c, _)| c.to_path_buf()),
        };
        let t0 = Instant::now();
        loop {
            if let Ok((200, _)) = z.get("/health") {
                break;
            }
            // A server that exited (a config it refused) is reported at once, not after 90 s.
            if let Ok(Some(status)) = z.child.try_wait() {
                panic!(
                    "zvonar in the namespace exited ({status}); log:\n{}",
                    z.log()
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(90),
                "zvonar in the namespace did not become ready; log:\n{}",
                z.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        z
    }

    /// Runs the real `zvonar ARGS` (`user add`, `sip-account add`, …) on this server's
    /// config, with `stdin` (passwords); panics unless it succeeds.
    pub fn cli(&self, args: &[&str], stdin: &str) {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_zvonar"))
            .arg("--config")
            .arg(self.dir.join("zvonar.toml"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zvonar");
        if let Some(mut i) = child.stdin.take() {
            i.write_all(stdin.as_bytes()).expect("stdin");
        }
        let out = child.wait_with_output().expect("zvonar");
        assert!(
            out.status.success(),
            "zvonar {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("zvonar.log")).unwrap_or_default()
    }

    /// GET `path` from the API with the token: (status, body).
    pub fn get(&self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect_timeout(&self.http, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            self.http, self.token
        );
        let mut buf = Vec::new();
        match &self.https {
            None => {
                s.write_all(request.as_bytes())?;
                s.read_to_end(&mut buf)?;
            }
            Some(cert) => {
                let mut tls = rustls::StreamOwned::new(tls_client(cert, self.http.ip())?, s);
                tls.write_all(request.as_bytes())?;
                // A peer closing without close_notify after the response is the end too.
                if let Err(e) = tls.read_to_end(&mut buf) {
                    if e.kind() != std::io::ErrorKind::UnexpectedEof || buf.is_empty() {
                        return Err(e);
                    }
                }
            }
        }
        let text = String::from_utf8_lossy(&buf);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| buf[i + 4..].to_vec())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// Recordings written so far (paths of `*.wav` under the recordings directory).
    pub fn recordings(&self) -> Vec<PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "wav") {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir.join("recordings"), &mut out);
        out
    }
}

/// A TLS client session to `ip` trusting only the PEM certificate `cert`.
fn tls_client(
    cert: &std::path::Path,
    ip: std::net::IpAddr,
) -> std::io::Result<rustls::ClientConnection> {
    use rustls::pki_types::pem::PemObject;
    let other = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(cert).map_err(|e| other(&e))? {
        roots
            .add(c.map_err(|e| other(&e))?)
            .map_err(|e| other(&e))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| other(&e))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    rustls::ClientConnection::new(std::sync::Arc::new(config), ip.into()).map_err(|e| other(&e))
}

/// Stops zvonar; its directory is removed when the test passed and kept when it failed, or
/// always kept when `ZVONAR_KEEP_E2E_DIRS` is set (to read a passing run's log and captures).
impl Drop for NsZvonar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() && std::env::var_os("ZVONAR_KEEP_E2E_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
