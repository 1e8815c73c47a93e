//! End-to-end harness: a real `zvonar serve` on loopback ports with its own temporary
//! database, recordings and config; SIPp as the caller, playing RTP from pcap files this
//! harness writes (human Russian speech from asterisk-core-sounds-ru-wav and
//! tests/fixtures/audio_ru; RFC 4733 digits).
#![allow(dead_code)]

pub mod browser;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod netns;

/// The TTS disk cache every zvonar started by the tests shares (`target/tmp/e2e-tts-cache`):
/// the dialplan's prompts are synthesised once per build instead of at every start (about
/// 2.6 s of Festival each time). Safe to share: cache files are written whole under a
/// per-process temporary name and keyed by engine, voice and text.
pub fn shared_tts_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-tts-cache")
}

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Whisper model, fetched into data/models by deploy/fetch-models.sh.
pub fn whisper_model() -> PathBuf {
    let p = root().join("data/models/ggml-base.bin");
    assert!(
        p.is_file(),
        "no Whisper model at {}: run deploy/fetch-models.sh",
        p.display()
    );
    p
}

/// A port free now for both UDP and TCP on 127.0.0.1, in 20000–29999: below the kernel's
/// ephemeral range (32768–60999 on Linux), so no outgoing connection or `bind(:0)` of
/// another process (a browser, SIPp, another test's zvonar) can take it between this choice
/// and zvonar binding it a few seconds later — which happened with ports from that range
/// («HTTP listen … Address already in use»). Walked from a per-process start, so parallel
/// tests and test processes try different ports.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % 10_000) as u16;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + start.wrapping_add(n) % 10_000;
        if UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
}

/// An even UDP port `p` on 127.0.0.1 with `p`..`p + 3` free now, in 40000–49999: SIPp's
/// media port (`-mp`) takes `p` and `p + 2` for audio and video (each with its RTCP port
/// above), and a port taken by another test's SIPp made a call fail with «Address already
/// in use». Another process may still take it before SIPp binds it, so each call gets a
/// fresh one.
pub fn free_media_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    // Walk the range from a per-process start so that parallel tests try different ports.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % 2500) as u16 * 4;
    loop {
        let n = NEXT.fetch_add(4, Ordering::Relaxed);
        let p = 40000 + (start.wrapping_add(n) % 10000) / 4 * 4;
        let held: Vec<UdpSocket> = (p..p + 4)
            .filter_map(|q| UdpSocket::bind(("127.0.0.1", q)).ok())
            .collect();
        if held.len() == 4 {
            return p;
        }
    }
}

/// A running zvonar.
pub struct Zvonar {
    child: Child,
    log_filter: &'static str,
    /// Temporary directory with db, recordings, config, logs.
    pub dir: PathBuf,
    /// SIP port (UDP and TCP).
    pub sip_port: u16,
    /// HTTP port.
    pub http_port: u16,
    /// API token.
    pub token: String,
    /// SIP-over-WebSocket port (`[sip] ws_listen` on 127.0.0.1) when [`Options::ws`].
    pub ws_port: Option<u16>,
}

/// Settings that differ between tests and benchmarks.
pub struct Options {
    /// Size of the RTP port range (two ports per call).
    pub rtp_ports: u16,
    /// Ringing before answer, ms.
    pub answer_after_ms: u64,
    /// Calls at once.
    pub max_calls: usize,
    /// `[sip] busy_retry_after_s`: Retry-After of the 503 beyond `max_calls`, s.
    pub busy_retry_after_s: u32,
    /// `[sip] trusted`: networks whose caller ID is believed. The default trusts
    /// 127.0.0.1, where SIPp calls from, so the known-caller tests play a trunk that
    /// vouches for its callers; tests of spoofed caller IDs trust another network.
    pub trusted: Vec<&'static str>,
    /// `RUST_LOG` of the server.
    pub log_filter: &'static str,
    /// `time_zone`.
    pub time_zone: &'static str,
    /// More TOML appended to the config (whole sections, e.g. `[shutdown]`).
    pub extra_config: String,
    /// Dialplan text to run instead of `deploy/dialplan.toml`.
    pub dialplan: Option<String>,
    /// More settings of the `[asr]` section, one `key = value` a line (`workers = 2`).
    pub asr: String,
    /// `[sip] ws_listen` on a free loopback port ([`Zvonar::ws_port`]), for the console's
    /// softphone (it also needs a `[sip.registrar]` section in `extra_config`).
    pub ws: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rtp_ports: 10000,
            answer_after_ms: 300,
            max_calls: 200,
            busy_retry_after_s: 5,
            trusted: vec!["127.0.0.1/32"],
            log_filter: "info,zvonar=debug,rsipstack=warn,whisper_rs=warn,ort=warn",
            time_zone: "Europe/Moscow",
            extra_config: String::new(),
            dialplan: None,
            asr: String::new(),
            ws: false,
        }
    }
}

impl Zvonar {
    /// Imports the example registry and outages, then starts `zvonar serve`.
    pub fn start(name: &str) -> Zvonar {
        Zvonar::start_with(name, Options::default())
    }

    /// [`Zvonar::start`] with explicit options.
    pub fn start_with(name: &str, opts: Options) -> Zvonar {
        let dir = std::env::temp_dir().join(format!("zvonar-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let sip_port = free_port();
        let http_port = free_port();
        let ws_port = opts.ws.then(free_port);
        // RTP sockets take a random free even port of the range and skip taken ones, so
        // instances running side by side may share the range.
        let rtp_base = 30000u16;
        let token = "e2e-test-token".to_string();
        let deploy = root().join("deploy");
        let dialplan = match &opts.dialplan {
            Some(text) => {
                let p = dir.join("dialplan.toml");
                std::fs::write(&p, text).expect("dialplan");
                p
            }
            None => deploy.join("dialplan.toml"),
        };
        let config = format!(
            r#"dialplan = "{dialplan}"
time_zone = "{time_zone}"
[sip]
udp = "127.0.0.1:{sip_port}"
tcp = "127.0.0.1:{sip_port}"
public_ip = "127.0.0.1"
answer_after_ms = {answer_after_ms}
max_calls = {max_calls}
busy_retry_after_s = {busy_retry_after_s}
trusted = [{trusted}]
{ws}
[rtp]
port_min = {rtp_min}
port_max = {rtp_max}
[http]
listen = "127.0.0.1:{http_port}"
token = "{token}"
[storage]
database = "zvonar.sqlite"
recordings = "recordings"
[asr]
model = "{model}"
{asr}
[tts]
cache_dir = "{tts_cache}"
espeak_rate_wpm = 170
{extra}
"#,
            extra = opts.extra_config,
            ws = ws_port
                .map(|p| format!("ws_listen = \"127.0.0.1:{p}\""))
                .unwrap_or_default(),
            tts_cache = shared_tts_cache().display(),
            asr = opts.asr,
            dialplan = dialplan.display(),
            rtp_min = rtp_base,
            rtp_max = rtp_base + opts.rtp_ports - 1,
            answer_after_ms = opts.answer_after_ms,
            max_calls = opts.max_calls,
            busy_retry_after_s = opts.busy_retry_after_s,
            model = whisper_model().display(),
            time_zone = opts.time_zone,
            trusted = opts
                .trusted
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let cfg = dir.join("zvonar.toml");
        std::fs::write(&cfg, config).expect("config");
        let bin = env!("CARGO_BIN_EXE_zvonar");
        for (what, file) in [("accounts", "registry.csv"), ("outages", "outages.csv")] {
            let out = Command::new(bin)
                .args(["--config", &cfg.to_string_lossy(), "import", what])
                .arg(deploy.join("example").join(file))
                .output()
                .expect("zvonar import");
            assert!(
                out.status.success(),
                "import {what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let child = spawn_serve(&dir, opts.log_filter);
        let mut z = Zvonar {
            child,
            log_filter: opts.log_filter,
            dir,
            sip_port,
            http_port,
            token,
            ws_port,
        };
        z.wait_ready();
        z
    }

    fn wait_ready(&mut self) {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if let Ok((200, _)) = self.try_get("/health") {
                return;
            }
            // A server that exited (a config it refused) is reported at once.
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("zvonar exited ({status}); log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("zvonar did not become ready; log:\n{}", self.log());
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("zvonar.log")).unwrap_or_default()
    }

    fn try_get(&self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        http_get(self.http_port, path, &self.token, None).map(|(s, _, b)| (s, b))
    }

    /// GET a JSON document from the API (panics unless 200).
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.try_get(path).expect("http");
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).expect("json")
    }

    /// GET raw bytes (with an optional Range header): (status, headers, body).
    pub fn get_raw(&self, path: &str, range: Option<&str>) -> (u16, String, Vec<u8>) {
        http_get(self.http_port, path, &self.token, range).expect("http")
    }
}

impl Zvonar {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds (user + system) the server has used so far, from /proc.
    pub fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the comm field.
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Peak resident set size so far, KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Stops zvonar; its directory (database, recordings, log) is removed when the test passed
/// and kept for a look when it failed (the test thread is panicking).
impl Drop for Zvonar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn spawn_serve(dir: &Path, log_filter: &str) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("zvonar.log"))
        .expect("log");
    Command::new(env!("CARGO_BIN_EXE_zvonar"))
        .args([
            "--config",
            &dir.join("zvonar.toml").to_string_lossy(),
            "serve",
        ])
        .env("RUST_LOG", log_filter)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("zvonar serve")
}

impl Zvonar {
    /// Kills the server with SIGKILL, as a crash or power loss would.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM, as `systemctl stop` or `docker stop` do.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `timeout` for the server to exit; its exit status, `None` if it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Starts the server again on the same database, recordings and ports.
    pub fn restart(&mut self) {
        self.child = spawn_serve(&self.dir, self.log_filter);
        self.wait_ready();
    }
}

/// Minimal HTTP/1.1 GET over a TCP stream (keeps the test free of an HTTP client stack).
pub fn http_get(
    port: u16,
    path: &str,
    token: &str,
    range: Option<&str>,
) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n{range}Connection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut buf)?;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let mut body = buf[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((status, head, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 2 + n + 2..];
    }
}

/// Reads an 8 kHz mono WAV as samples (resampling other rates).
pub fn read_wav_8k(path: &Path) -> Vec<i16> {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.expect("sample")).collect();
    let mono: Vec<i16> = if spec.channels == 2 {
        s.chunks(2).map(|c| c[0]).collect()
    } else {
        s
    };
    if spec.sample_rate == 8000 {
        mono
    } else {
        audio_codec::resample(&mono, spec.sample_rate, 8000)
    }
}

/// What a caller does, in order.
pub enum Step {
    /// Wait.
    Pause(u64),
    /// Say this audio (8 kHz samples); the scenario waits until it has been sent.
    Say(Vec<i16>),
    /// Start saying this audio and go on at once: the caller keeps talking while the next
    /// steps (e.g. waiting for zvonar's BYE) run.
    SayMeanwhile(Vec<i16>),
    /// Press these keys (RFC 4733, 100 ms each with 100 ms gaps).
    Keys(&'static str),
    /// Press a key signalled by SIP INFO (application/dtmf-relay), expecting 200.
    Info(char),
    /// Send a re-INVITE with this SDP direction (`sendonly` = hold, `sendrecv` = resume),
    /// expecting 200 with an answer, then ACK.
    ReInvite(&'static str),
}

/// Writes `samples` as a mono 8 kHz 16-bit WAV at `path` (a prompt, a browser's fake
/// microphone); panics on an I/O error.
pub fn write_mono_wav(path: &Path, samples: &[i16]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("wav");
    for s in samples {
        w.write_sample(*s).expect("sample");
    }
    w.finalize().expect("wav");
}

/// A problem description spoken by a person (Tinkoff VoiceKit sample_4, 3.5 s:
/// «6 часов 45 минут, 3 доллара 5 центов»).
pub fn problem_speech() -> Vec<i16> {
    read_wav_8k(&zvonar_fixtures::path(
        "audio_ru/tinkoff-voicekit-examples/sample_4.wav",
    ))
}

/// A Russian number spoken by a person: Asterisk's prompt `digits/<name>.wav` (Debian
/// asterisk-core-sounds-ru-wav, found through `dpkg -L` or `$ZVONAR_SOUNDS_RU`), 8 kHz samples.
pub fn digits_wav(name: &str) -> Vec<i16> {
    read_wav_8k(&zvonar_fixtures::sound_ru(&format!("digits/{name}.wav")))
}

/// The registered caller of ул. Ленина 5, кв. 12 (hot water is off there): confirms the
/// address by keypad, says the call is not about the outage, describes the problem.
pub fn known_caller_steps() -> Vec<Step> {
    vec![
        Step::Pause(1500),
        Step::Keys("1"), // «Вы звоните по адресу …?» — yes
        Step::Pause(1500),
        Step::Keys("2"), // «Вы звоните по поводу отключения?» — no
        Step::Pause(3500),
        Step::Say(problem_speech()),
    ]
}

/// A pcap file of RTP packets 20 ms apart (Ethernet/IPv4/UDP), as SIPp's
/// `play_pcap_audio` replays them.
pub fn write_pcap(path: &Path, packets: &[Vec<u8>]) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for (i, rtp) in packets.iter().enumerate() {
        let t_us = i as u64 * 20_000;
        let udp_len = 8 + rtp.len();
        let ip_len = 20 + udp_len;
        let frame_len = 14 + ip_len;
        f.extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&(frame_len as u32).to_le_bytes());
        f.extend_from_slice(&(frame_len as u32).to_le_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00]);
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&6000u16.to_be_bytes());
        f.extend_from_slice(&6000u16.to_be_bytes());
        f.extend_from_slice(&(udp_len as u16).to_be_bytes());
        f.extend_from_slice(&0u16.to_be_bytes());
        f.extend_from_slice(rtp);
    }
    std::fs::write(path, f).expect("pcap");
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x5a5a_0001u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// RTP packets (PCMA, PT 8) for `samples`, with `seq`/`ts` continuing from the arguments.
pub fn speech_packets(samples: &[i16], seq: &mut u16, ts: &mut u32) -> Vec<Vec<u8>> {
    speech_packets_in(zvonar_voice::codec::Codec::Pcma, samples, seq, ts)
}

/// RTP packets of `codec` (its static payload type) for `samples`, 20 ms each, with
/// `seq`/`ts` continuing from the arguments.
pub fn speech_packets_in(
    codec: zvonar_voice::codec::Codec,
    samples: &[i16],
    seq: &mut u16,
    ts: &mut u32,
) -> Vec<Vec<u8>> {
    samples
        .chunks(160)
        .enumerate()
        .map(|(i, c)| {
            let mut frame = c.to_vec();
            frame.resize(160, 0);
            let p = rtp(
                codec.payload_type(),
                i == 0,
                *seq,
                *ts,
                &codec.encode(&frame),
            );
            *seq = seq.wrapping_add(1);
            *ts = ts.wrapping_add(160);
            p
        })
        .collect()
}

/// RFC 4733 packets (PT 101) for `keys`, each 100 ms long followed by 100 ms of nothing.
pub fn key_packets(keys: &str, seq: &mut u16, ts: &mut u32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for k in keys.chars() {
        let event = match k {
            '0'..='9' => k as u8 - b'0',
            '*' => 10,
            '#' => 11,
            _ => panic!("not a key: {k}"),
        };
        let start = *ts;
        for i in 0..5u16 {
            let end = i >= 4;
            let dur = (i + 1) * 160;
            let payload = [
                event,
                if end { 0x80 | 10 } else { 10 },
                (dur >> 8) as u8,
                dur as u8,
            ];
            // The end packet is sent three times (RFC 4733 §2.5.1.4).
            for _ in 0..if end { 3 } else { 1 } {
                out.push(rtp(101, i == 0, *seq, start, &payload));
                *seq = seq.wrapping_add(1);
            }
        }
        *ts = ts.wrapping_add(1600);
        // 100 ms gap: silence frames keep the packet clock going.
        for _ in 0..5 {
            out.push(rtp(8, false, *seq, *ts, &[0xd5; 160]));
            *seq = seq.wrapping_add(1);
            *ts = ts.wrapping_add(160);
        }
    }
    out
}

/// Writes a SIPp UAC scenario calling `callee` from `caller` and performing `steps`
/// (one pcap per Say/Keys step, next to the scenario), then waiting for zvonar's BYE.
/// Returns the scenario path.
pub fn write_scenario(
    dir: &Path,
    name: &str,
    caller: &str,
    callee: &str,
    steps: &[Step],
    bye_timeout_ms: u64,
) -> PathBuf {
    let mut body = String::new();
    let (mut seq, mut ts) = (1000u16, 16000u32);
    let mut cseq = 1;
    let dialog_headers = |cseq: u32, method: &str| {
        format!(
            "      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      \
             From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n      \
             To: <sip:{callee}@[remote_ip]:[remote_port]>[peer_tag_param]\n      \
             Call-ID: [call_id]\n      CSeq: {cseq} {method}\n      \
             Contact: <sip:{caller}@[local_ip]:[local_port];transport=[transport]>\n      \
             Max-Forwards: 70\n"
        )
    };
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Info(d) => {
                cseq += 1;
                let payload = format!("Signal={d}\r\nDuration=160\r\n");
                body.push_str(&format!(
                    "  <send>\n    <![CDATA[\n      INFO sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}      \
                     Content-Type: application/dtmf-relay\n      Content-Length: [len]\n\n      {}\n    ]]>\n  </send>\n  \
                     <recv response=\"200\"/>\n",
                    dialog_headers(cseq, "INFO"),
                    payload.trim_end()
                ));
            }
            Step::ReInvite(direction) => {
                cseq += 1;
                body.push_str(&format!(
                    "  <send retrans=\"500\">\n    <![CDATA[\n      INVITE sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}      \
                     Content-Type: application/sdp\n      Content-Length: [len]\n\n      v=0\n      \
                     o=caller 53655765 {} IN IP[local_ip_type] [local_ip]\n      s=-\n      \
                     c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 8 101\n      \
                     a=rtpmap:8 PCMA/8000\n      a=rtpmap:101 telephone-event/8000\n      a={direction}\n    ]]>\n  </send>\n  \
                     <recv response=\"100\" optional=\"true\"/>\n  <recv response=\"200\"/>\n  <send>\n    <![CDATA[\n      \
                     ACK sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}      Content-Length: 0\n    ]]>\n  </send>\n",
                    dialog_headers(cseq, "INVITE"),
                    2353687637u64 + u64::from(cseq),
                    dialog_headers(cseq, "ACK"),
                ));
            }
            Step::Pause(ms) => body.push_str(&format!("  <pause milliseconds=\"{ms}\"/>\n")),
            Step::Say(samples) => {
                let p = dir.join(format!("{name}-{i}.pcap"));
                let packets = speech_packets(samples, &mut seq, &mut ts);
                write_pcap(&p, &packets);
                body.push_str(&format!(
                    "  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  <pause milliseconds=\"{}\"/>\n",
                    p.display(),
                    packets.len() * 20 + 100
                ));
            }
            Step::SayMeanwhile(samples) => {
                let p = dir.join(format!("{name}-{i}.pcap"));
                write_pcap(&p, &speech_packets(samples, &mut seq, &mut ts));
                body.push_str(&format!(
                    "  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n",
                    p.display()
                ));
            }
            Step::Keys(keys) => {
                let p = dir.join(format!("{name}-{i}.pcap"));
                let packets = key_packets(keys, &mut seq, &mut ts);
                write_pcap(&p, &packets);
                body.push_str(&format!(
                    "  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  <pause milliseconds=\"{}\"/>\n",
                    p.display(),
                    packets.len() * 20 + 100
                ));
            }
        }
    }
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="{name}">
  <send retrans="500">
    <![CDATA[
      INVITE sip:{callee}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{callee}@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{caller}@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:20
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:{callee}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{callee}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:{caller}@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
{body}  <recv request="BYE" timeout="{bye_timeout_ms}"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>
"#
    );
    let path = dir.join(format!("{name}.xml"));
    std::fs::write(&path, xml).expect("scenario");
    path
}

/// A call from `caller` to `callee` performing `steps`, after which the caller hangs up
/// (sends BYE and expects 200) instead of waiting for zvonar's BYE: a resident who gives up.
pub fn hang_up_scenario(
    dir: &Path,
    name: &str,
    caller: &str,
    callee: &str,
    steps: &[Step],
) -> PathBuf {
    let sc = write_scenario(dir, name, caller, callee, steps, 30_000);
    let xml = std::fs::read_to_string(&sc).expect("scenario");
    let tail = xml.find("  <recv request=\"BYE\"").expect("scenario tail");
    let bye = format!(
        r#"  <send>
    <![CDATA[
      BYE sip:{callee}@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{callee}@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:{caller}@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
</scenario>
"#
    );
    std::fs::write(&sc, format!("{}{bye}", &xml[..tail])).expect("scenario");
    sc
}

/// Writes `dir/NAME.xml`: a desk phone registered as SIP account `account` dials `callee`
/// through zvonar as phones do: the INVITE is challenged (407, RFC 3261 §22.3), the phone
/// ACKs it and sends the INVITE again with `Proxy-Authorization` for `password` (SIPp's
/// `[authentication]`, MD5 with qop=auth), talks `talk_ms` (no RTP sent) and hangs up (BYE).
/// Run it from the port the account registered from ([`caller_command_from`]).
pub fn desk_phone_call_scenario(
    dir: &Path,
    name: &str,
    account: &str,
    password: &str,
    callee: &str,
    talk_ms: u64,
) -> PathBuf {
    desk_phone_call_scenario_then(dir, name, account, password, callee, talk_ms, None)
}

/// [`desk_phone_call_scenario`], and with `transfer_to` the phone then transfers the party
/// the way many desk phones do a blind transfer: REFER with `Refer-To: <sip:TRANSFER_TO@…>`
/// (RFC 3515), the 202, the first NOTIFY (answered 200), and BYE at once, without waiting for
/// the outcome.
pub fn desk_phone_call_scenario_then(
    dir: &Path,
    name: &str,
    account: &str,
    password: &str,
    callee: &str,
    talk_ms: u64,
    transfer_to: Option<&str>,
) -> PathBuf {
    // In-dialog requests (the 2xx's ACK, BYE) carry zvonar's To tag.
    let headers = |cseq: u32, method: &str, in_dialog: bool| {
        let tag = if in_dialog { "[peer_tag_param]" } else { "" };
        format!(
            "      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      \
             From: <sip:{account}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]\n      \
             To: <sip:{callee}@[remote_ip]:[remote_port]>{tag}\n      Call-ID: [call_id]\n      \
             CSeq: {cseq} {method}\n      \
             Contact: <sip:{account}@[local_ip]:[local_port];transport=[transport]>\n      \
             Max-Forwards: 70\n"
        )
    };
    let sdp =
        "      Content-Type: application/sdp\n      Content-Length: [len]\n\n      v=0\n      \
               o=desk 1 1 IN IP[local_ip_type] [local_ip]\n      s=-\n      \
               c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      \
               m=audio [media_port] RTP/AVP 8 101\n      a=rtpmap:8 PCMA/8000\n      \
               a=rtpmap:101 telephone-event/8000\n";
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"{name}\">\n  \
         <send retrans=\"500\">\n    <![CDATA[\n      INVITE sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}{sdp}    ]]>\n  </send>\n  \
         <recv response=\"100\" optional=\"true\"/>\n  <recv response=\"407\" auth=\"true\"/>\n  \
         <send>\n    <![CDATA[\n      ACK sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n      [last_Via:]\n      \
         [last_From:]\n      [last_To:]\n      [last_Call-ID:]\n      CSeq: 1 ACK\n      Max-Forwards: 70\n      \
         Content-Length: 0\n    ]]>\n  </send>\n  \
         <send retrans=\"500\">\n    <![CDATA[\n      INVITE sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}      \
         [authentication username={account} password={password}]\n{sdp}    ]]>\n  </send>\n  \
         <recv response=\"100\" optional=\"true\"/>\n  <recv response=\"180\" optional=\"true\"/>\n  \
         <recv response=\"183\" optional=\"true\"/>\n  <recv response=\"200\" rrs=\"true\"/>\n  \
         <send>\n    <![CDATA[\n      ACK sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}      Content-Length: 0\n    ]]>\n  </send>\n  \
         <pause milliseconds=\"{talk_ms}\"/>\n{transfer}  \
         <send retrans=\"500\">\n    <![CDATA[\n      BYE sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}      Content-Length: 0\n    ]]>\n  </send>\n  \
         <recv response=\"200\"/>\n</scenario>\n",
        headers(1, "INVITE", false),
        headers(2, "INVITE", false),
        headers(2, "ACK", true),
        headers(4, "BYE", true),
        transfer = match transfer_to {
            None => String::new(),
            Some(to) => format!(
                "  <send retrans=\"500\">\n    <![CDATA[\n      REFER sip:{callee}@[remote_ip]:[remote_port] SIP/2.0\n{}      \
                 Refer-To: <sip:{to}@[remote_ip]>\n      Referred-By: <sip:{account}@[remote_ip]>\n      \
                 Content-Length: 0\n    ]]>\n  </send>\n  <recv response=\"202\"/>\n  \
                 <recv request=\"NOTIFY\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      \
                 [last_From:]\n      [last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n      \
                 Content-Length: 0\n    ]]>\n  </send>\n",
                headers(3, "REFER", true)
            ),
        },
    );
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(&p, xml).expect("scenario");
    p
}

/// Runs SIPp with `scenario` against zvonar on loopback with `args` added (call counts,
/// rate, transport), ending with an error if it takes longer than `timeout_s`; returns
/// whether every call passed, with SIPp's output.
pub fn sipp(z: &Zvonar, scenario: &Path, args: &[&str], timeout_s: u64) -> (bool, String) {
    let out = Command::new("sipp")
        .arg(format!("127.0.0.1:{}", z.sip_port))
        .args(["-sf", &scenario.to_string_lossy()])
        .args(args)
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-timeout", &format!("{timeout_s}s"), "-timeout_error"])
        .args(["-nostdin", "-trace_err"])
        .current_dir(&z.dir)
        .output()
        .expect("sipp (apt install sip-tester)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// One call over `transport` (`u1` or `t1`) from a fresh SIP and media port.
pub fn run_sipp(z: &Zvonar, scenario: &Path, transport: &str, timeout_s: u64) -> (bool, String) {
    let media_port = free_media_port().to_string();
    let sip_port = free_port().to_string();
    let args = [
        "-m",
        "1",
        "-l",
        "1",
        "-t",
        transport,
        "-p",
        &sip_port,
        "-mp",
        &media_port,
    ];
    sipp(z, scenario, &args, timeout_s)
}

impl Zvonar {
    /// Runs the real `zvonar ARGS` (`user add`, `sip-account add`, …) on this test's config,
    /// writing `stdin` (passwords) to it: (exit status was success, stdout then stderr).
    pub fn cli(&self, args: &[&str], stdin: &str) -> (bool, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zvonar"))
            .args(["--config", &self.dir.join("zvonar.toml").to_string_lossy()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("zvonar");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("stdin");
        let out = child.wait_with_output().expect("exit");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

/// One HTTP/1.1 request with a JSON (or any text) body and extra header lines:
/// (status, head, body).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, String, String) {
    http_request_to(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        method,
        path,
        headers,
        body,
    )
}

/// [`http_request`] to any address (e.g. zvonar in a [`netns::Netns`]).
pub fn http_request_to(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if !headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("content-type:"))
    {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut s, &mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, head.to_string(), body.to_string())
}

impl Zvonar {
    /// A request with the test's service token (every permission): (status, JSON body or
    /// `Null`).
    pub fn api(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, _, body) = http_request(
            self.http_port,
            method,
            path,
            &[format!("Authorization: Bearer {}", self.token)],
            body,
        );
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Logs a console user in: the session cookie and CSRF token header lines for
    /// [`http_request`].
    pub fn log_in(&self, login: &str, password: &str) -> Vec<String> {
        log_in_at(
            std::net::SocketAddr::from(([127, 0, 0, 1], self.http_port)),
            login,
            password,
        )
    }

    /// An operator who works from a desk phone: console user `login` (role operator,
    /// `password`) with SIP account `account` (`secret`), which SIPp registers from
    /// 127.0.0.1:`port` ([`Zvonar::register_account`]), logged in to the queues over the API.
    /// Returns the user's session headers. Panics on any failure.
    pub fn desk_phone_agent(
        &self,
        login: &str,
        password: &str,
        account: &str,
        secret: &str,
        port: u16,
    ) -> Vec<String> {
        let (ok, out) = self.cli(
            &["user", "add", "--login", login, "--role", "operator"],
            &format!("{password}\n"),
        );
        assert!(ok, "user add {login}: {out}");
        let (ok, out) = self.cli(
            &["sip-account", "add", account, "--login", login],
            &format!("{secret}\n"),
        );
        assert!(ok, "sip-account add {account}: {out}");
        self.register_account(account, secret, port);
        let session = self.log_in(login, password);
        let (status, _, body) = http_request(
            self.http_port,
            "POST",
            "/api/v1/queue/agent/login",
            &session,
            "",
        );
        assert_eq!(status, 200, "agent login {login}: {body}");
        session
    }

    /// SIPp registers SIP account `user` (digest, MD5) from 127.0.0.1:`port` for an hour,
    /// as a desk phone does, and exits; a UAS started later on `port` then gets the calls
    /// zvonar places to the account. Needs `[sip.registrar]` in the config.
    pub fn register_account(&self, user: &str, password: &str, port: u16) {
        let p = register_scenario(&self.dir, user, password);
        let port = port.to_string();
        let (ok, out) = sipp(
            self,
            &p,
            &["-m", "1", "-l", "1", "-t", "u1", "-p", &port],
            20,
        );
        assert!(ok, "REGISTER {user} failed:\n{out}\n{}", self.log());
    }
}

/// Writes `dir/register-USER.xml`: a SIPp scenario that registers SIP account `user` (digest,
/// MD5, `Contact` at SIPp's own address and port) for an hour, as a desk phone does.
pub fn register_scenario(dir: &Path, user: &str, password: &str) -> PathBuf {
    {
        let reg = |cseq: u32, auth: &str| {
            format!(
                r#"  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:{user}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: {cseq} REGISTER
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Expires: 3600
      Max-Forwards: 70
{auth}      Content-Length: 0

    ]]>
  </send>
"#
            )
        };
        let body = [
            reg(1, ""),
            "  <recv response=\"401\" auth=\"true\"/>\n".to_string(),
            reg(
                2,
                &format!("      [authentication username={user} password={password}]\n"),
            ),
            "  <recv response=\"200\"/>\n".to_string(),
        ]
        .concat();
        let p = dir.join(format!("register-{user}.xml"));
        std::fs::write(
            &p,
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"reg\">\n{body}</scenario>\n"),
        )
        .expect("scenario");
        p
    }
}

/// What a SIPp UAS standing in for a phone does with the INVITE it gets ([`uas_scenario`]).
pub enum UasParty {
    /// 486 Busy Here.
    Busy,
    /// 180 Ringing until CANCELled (then 200 to the CANCEL, 487 to the INVITE).
    RingsUntilCancel,
    /// 180, answers PCMU (with RFC 4733 PT 101) after 0.5 s, waits `delay_ms`, plays the
    /// pcap (its RTP to our media port), then waits for our BYE.
    /// 180, answers PCMU (with RFC 4733 PT 101) at once, sends no media, waits up to
    /// `bye_timeout_ms` for our BYE (a phone whose owner listens to a message).
    Answers {
        /// How long to wait for our BYE after the ACK, ms.
        bye_timeout_ms: u64,
    },
    AnswersThenPlays {
        /// Wait after the ACK before playing, ms (the person listens first).
        delay_ms: u64,
        /// The RTP capture (e.g. `tests/fixtures/pcap/dtmf_2833_1.pcap`: key 1).
        pcap: PathBuf,
    },
}

/// Writes a one-call UAS scenario for `party` to `dir/NAME.xml`.
pub fn uas_scenario(dir: &Path, name: &str, party: &UasParty) -> PathBuf {
    const HEADERS: &str = "      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Contact: <sip:[local_ip]:[local_port];transport=[transport]>\n";
    let ringing = format!(
        "  <send>\n    <![CDATA[\n      SIP/2.0 180 Ringing\n{HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n"
    );
    let invite = "  <recv request=\"INVITE\">\n    <action>\n      \
        <ereg regexp=\"([0-9]+) INVITE\" search_in=\"hdr\" header=\"CSeq:\" assign_to=\"cs,csn\"/>\n    </action>\n  </recv>\n";
    let body = match party {
        UasParty::Busy => format!(
            "  <send>\n    <![CDATA[\n      SIP/2.0 486 Busy Here\n{HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n  <recv request=\"ACK\"/>\n"
        ),
        UasParty::RingsUntilCancel => format!(
            "{ringing}  <recv request=\"CANCEL\" timeout=\"60000\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n  \
             <send>\n    <![CDATA[\n      SIP/2.0 487 Request Terminated\n      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      CSeq: [$csn] INVITE\n      Content-Length: 0\n    ]]>\n  </send>\n  \
             <recv request=\"ACK\"/>\n"
        ),
        UasParty::Answers { bye_timeout_ms } => format!(
            "{ringing}  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{HEADERS}      Content-Type: application/sdp\n      Content-Length: [len]\n\n      \
             v=0\n      o=party 1 1 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      \
             m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-15\n    ]]>\n  </send>\n  \
             <recv request=\"ACK\" crlf=\"true\"/>\n  \
             <recv request=\"BYE\" timeout=\"{bye_timeout_ms}\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n"
        ),
        UasParty::AnswersThenPlays { delay_ms, pcap } => format!(
            "{ringing}  <pause milliseconds=\"500\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{HEADERS}      Content-Type: application/sdp\n      Content-Length: [len]\n\n      \
             v=0\n      o=party 1 1 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      \
             m=audio [media_port] RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-15\n    ]]>\n  </send>\n  \
             <recv request=\"ACK\" crlf=\"true\"/>\n  <pause milliseconds=\"{delay_ms}\"/>\n  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  \
             <recv request=\"BYE\" timeout=\"60000\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{HEADERS}      Content-Length: 0\n    ]]>\n  </send>\n",
            pcap.display()
        ),
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"{name}\">\n{invite}{body}  <Reference variables=\"cs,csn\"/>\n</scenario>\n"
    );
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(&p, xml).expect("scenario");
    p
}

/// An agent's desk phone (SIP account `user`) answering one call: 180, answers PCMA after
/// 0.5 s, talks for `talk_ms` (run SIPp with `-rtp_echo` and it echoes every RTP packet
/// back: what the caller says comes back to the caller through the bridge), then hangs up
/// (BYE). Written to `dir/NAME.xml`.
pub fn desk_phone_scenario(dir: &Path, name: &str, user: &str, talk_ms: u64) -> PathBuf {
    let headers = format!(
        "      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>\n"
    );
    let invite = "  <recv request=\"INVITE\">\n    <action>\n      \
        <ereg regexp=\".*\" search_in=\"hdr\" header=\"From:\" assign_to=\"their_from\"/>\n      \
        <ereg regexp=\".*\" search_in=\"hdr\" header=\"To:\" assign_to=\"our_to\"/>\n      \
        <ereg regexp=\"sip:[^>]*\" search_in=\"hdr\" header=\"Contact:\" assign_to=\"their_contact\"/>\n    </action>\n  </recv>\n";
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<scenario name=\"desk\">\n{invite}\
         <send>\n    <![CDATA[\n      SIP/2.0 180 Ringing\n{headers}      Content-Length: 0\n    ]]>\n  </send>\n  \
         <pause milliseconds=\"500\"/>\n  \
         <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n{headers}      Content-Type: application/sdp\n      Content-Length: [len]\n\n      \
         v=0\n      o=desk 1 1 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      \
         m=audio [media_port] RTP/AVP 8 101\n      a=rtpmap:8 PCMA/8000\n      a=rtpmap:101 telephone-event/8000\n    ]]>\n  </send>\n  \
         <recv request=\"ACK\" crlf=\"true\"/>\n  <pause milliseconds=\"{talk_ms}\"/>\n  \
         <send retrans=\"500\">\n    <![CDATA[\n      BYE [$their_contact] SIP/2.0\n      \
         Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      \
         From: [$our_to];tag=[pid]SIPpTag01[call_number]\n      To: [$their_from]\n      \
         Call-ID: [call_id]\n      CSeq: 1 BYE\n      Max-Forwards: 70\n      Content-Length: 0\n    ]]>\n  </send>\n  \
         <recv response=\"200\"/>\n  <Reference variables=\"their_from,our_to,their_contact\"/>\n</scenario>\n"
    );
    let p = dir.join(format!("{name}.xml"));
    std::fs::write(&p, xml).expect("scenario");
    p
}

/// The SIPp command of a phone (UAS) on UDP `ip:port` with RTP on `media_port`, taking
/// `calls` calls with `scenario` in `dir`, giving up after `timeout_s`; stdout and stderr
/// piped. Add arguments (`-rtp_echo`…) and spawn it.
pub fn uas_command(
    dir: &Path,
    scenario: &Path,
    ip: &str,
    port: u16,
    media_port: u16,
    calls: u32,
    timeout_s: u64,
) -> Command {
    let mut c = sipp_command(dir, scenario, ip, port, media_port, timeout_s);
    c.args(["-m", &calls.to_string()]);
    c
}

/// SIPp with `scenario` in `dir` on UDP `ip:port`, RTP on `media_port`, giving up after
/// `timeout_s` (an error then), stdout and stderr piped: what phones and callers share.
fn sipp_command(
    dir: &Path,
    scenario: &Path,
    ip: &str,
    port: u16,
    media_port: u16,
    timeout_s: u64,
) -> Command {
    let mut c = Command::new("sipp");
    c.args(["-sf", &scenario.to_string_lossy()])
        .args(["-p", &port.to_string(), "-mp", &media_port.to_string()])
        .args(["-i", ip, "-mi", ip])
        .args([
            "-timeout",
            &format!("{timeout_s}s"),
            "-timeout_error",
            "-nostdin",
            "-trace_err",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// The SIPp command of one call (UAC, UDP) to `target` (`ip:port` of zvonar) with `scenario`
/// in `dir`, from `ip` with RTP on `media_port`, giving up after `timeout_s`; stdout and
/// stderr piped. Spawn it (or take its output).
pub fn caller_command(
    dir: &Path,
    scenario: &Path,
    target: &str,
    ip: &str,
    media_port: u16,
    timeout_s: u64,
) -> Command {
    caller_command_from(
        dir,
        scenario,
        target,
        ip,
        free_port(),
        media_port,
        timeout_s,
    )
}

/// [`caller_command`] from SIP port `port`: a registered desk phone placing a call from the
/// address it registered from.
pub fn caller_command_from(
    dir: &Path,
    scenario: &Path,
    target: &str,
    ip: &str,
    port: u16,
    media_port: u16,
    timeout_s: u64,
) -> Command {
    let mut c = sipp_command(dir, scenario, ip, port, media_port, timeout_s);
    c.arg(target).args(["-m", "1", "-l", "1", "-t", "u1"]);
    c
}

/// SIPp as a phone on UDP 127.0.0.1:`port` taking `calls` calls (one at a time), then
/// exiting; returns once the port is bound. Wait for it with [`finish_uas`].
pub fn start_uas(dir: &Path, scenario: &Path, port: u16, calls: u32) -> Child {
    start_uas_with(dir, scenario, port, calls, 90, &[])
}

/// [`start_uas`] giving up after `timeout_s` (SIPp's global `-timeout`) with more SIPp
/// arguments (`-trace_msg`, `-rtp_echo`, …).
pub fn start_uas_with(
    dir: &Path,
    scenario: &Path,
    port: u16,
    calls: u32,
    timeout_s: u64,
    extra: &[&str],
) -> Child {
    let child = uas_command(
        dir,
        scenario,
        "127.0.0.1",
        port,
        free_media_port(),
        calls,
        timeout_s,
    )
    .args(extra)
    .spawn()
    .expect("sipp (apt install sip-tester)");
    let needle = format!(":{port:04X} ");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
        if table.lines().any(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| format!("{a} ").ends_with(&needle))
        }) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Waits for a [`start_uas`] SIPp: (every call passed, its output).
pub fn finish_uas(child: Child) -> (bool, String) {
    let out = child.wait_with_output().expect("sipp");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A time zone (`Etc/GMT±N`) where the 230-ФЗ call window (9:00–20:00 even on a day off)
/// is open now and for the next hour: a campaign test then runs at any hour of the day.
pub fn open_zone() -> String {
    use chrono::Timelike;
    for off in -12i32..=14 {
        // `Etc/GMT-3` is UTC+3 (the POSIX sign).
        let name = match off {
            0 => "Etc/GMT".to_string(),
            o if o > 0 => format!("Etc/GMT-{o}"),
            o => format!("Etc/GMT+{}", -o),
        };
        let tz: chrono_tz::Tz = name.parse().expect("zone");
        let h = chrono::Utc::now().with_timezone(&tz).hour();
        if (10..=17).contains(&h) {
            return name;
        }
    }
    unreachable!("some offset puts now between 10:00 and 17:59")
}

/// Waits until campaign `id`'s progress (`GET /api/v1/campaigns/ID`) satisfies `done`, at
/// most `limit`; returns it.
pub fn wait_campaign(
    z: &Zvonar,
    id: i64,
    limit: Duration,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let t0 = Instant::now();
    loop {
        let p = z.get_json(&format!("/api/v1/campaigns/{id}"));
        if done(&p) {
            return p;
        }
        assert!(
            t0.elapsed() < limit,
            "campaign {id}: not {what} in {limit:?}: {p:#}\n{}",
            z.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Logs a console user in at zvonar's HTTP address `addr`: the session cookie and CSRF token
/// header lines for [`http_request_to`].
pub fn log_in_at(addr: std::net::SocketAddr, login: &str, password: &str) -> Vec<String> {
    let (status, head, body) = http_request_to(
        addr,
        "POST",
        "/api/v1/login",
        &[],
        &serde_json::json!({ "login": login, "password": password }).to_string(),
    );
    assert_eq!(status, 200, "login {login}: {body}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let csrf = v["csrf_token"].as_str().expect("csrf").to_string();
    vec![format!("Cookie: {cookie}"), format!("X-CSRF-Token: {csrf}")]
}

/// RTP packets in a tcpdump capture (Ethernet, IPv4, UDP): (capture time in µs since the
/// epoch, payload type, payload).
pub fn rtp_of_pcap(bytes: &[u8]) -> Vec<(i64, u8, Vec<u8>)> {
    let mut out = Vec::new();
    if bytes.len() < 24 {
        return out;
    }
    let nanos = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) == 0xa1b2_3c4d;
    let mut i = 24;
    while i + 16 <= bytes.len() {
        let u = |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let (sec, frac, len) = (u(i), u(i + 4), u(i + 8) as usize);
        let frame = &bytes[(i + 16).min(bytes.len())..(i + 16 + len).min(bytes.len())];
        i += 16 + len;
        let at = i64::from(sec) * 1_000_000 + i64::from(if nanos { frac / 1000 } else { frac });
        if frame.len() < 14 + 20 + 8 + 12 || frame[12..14] != [0x08, 0x00] {
            continue;
        }
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        let rtp = &frame[14 + ihl + 8..];
        if rtp.len() < 12 || rtp[0] >> 6 != 2 {
            continue;
        }
        let header = 12 + usize::from(rtp[0] & 0x0f) * 4;
        if rtp.len() > header {
            out.push((at, rtp[1] & 0x7f, rtp[header..].to_vec()));
        }
    }
    out
}

/// A packet capture by tcpdump into a pcap file, stopped cleanly so that every packet it saw
/// is in the file.
///
/// tcpdump runs with `--immediate-mode`: without it the kernel hands packets over in blocks
/// retired at most every second, and a tcpdump killed before the last block was retired
/// loses the end of the call (an e2e test once missed a telephone-event sent 0.5 s before
/// the hang-up that way). [`Capture::finish`] stops it with SIGINT, on which tcpdump writes
/// what it has and exits, and waits for that.
pub struct Capture {
    child: Option<Child>,
    path: PathBuf,
}

impl Capture {
    /// Starts tcpdump on interface `iface` (`lo`, a veth) with the BPF `filter`, writing
    /// `path`; returns once tcpdump says it is listening. Panics when tcpdump cannot start
    /// (apt install tcpdump; capturing needs root).
    pub fn start(iface: &str, filter: &str, path: &Path) -> Capture {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new("tcpdump")
            .args(["-i", iface, "--immediate-mode", "-U", "-n", "-w"])
            .arg(path)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump (apt install tcpdump)");
        let stderr = child.stderr.take().expect("tcpdump stderr");
        let mut lines = BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains("listening on") => break,
                Some(_) => {}
                None => panic!("tcpdump exited before listening on {iface}"),
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Capture {
            child: Some(child),
            path: path.to_path_buf(),
        }
    }

    /// Stops the capture (SIGINT, then waits up to 10 s) and returns the pcap file's bytes.
    pub fn finish(mut self) -> Vec<u8> {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let until = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < until {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        std::fs::read(&self.path).expect("capture file")
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The largest RMS of any 500 ms window (4000 samples at 8 kHz) of `samples`: whether a
/// stream or a recording's channel carries audio (speech or a tone is above ~300).
pub fn loudest_window(samples: &[i16]) -> f64 {
    samples
        .chunks(4000)
        .map(|c| (c.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
        .fold(0.0, f64::max)
}
