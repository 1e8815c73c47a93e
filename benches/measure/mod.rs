//! What the load benchmarks measure outside zvonar: the calls a SIPp UAS saw at once (from
//! its `-trace_msg` log), RTP streams captured with tcpdump on loopback (inter-arrival gaps,
//! loss), a live maximum sampled from the API, and a plain two-column table.
//! Shared by benches/campaign.rs and benches/bridge.rs (`#[path]`, like tests/common).
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Prints `rows` as a table: a title line, then `name | value` rows aligned.
pub fn table(title: &str, rows: &[(String, String)]) {
    let w = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    println!("\n{title}");
    println!("{}", "-".repeat(w + 3 + 40));
    for (k, v) in rows {
        let pad = w - k.chars().count();
        println!("{k}{} | {v}", " ".repeat(pad));
    }
    println!("{}", "-".repeat(w + 3 + 40));
}

/// One SIP dialog as a UAS saw it: the first and the last message of its Call-ID, µs since
/// the epoch (UTC), and the first line of the final response it sent to the INVITE.
#[derive(Clone, Debug)]
pub struct Dialog {
    /// First message (the INVITE), µs.
    pub first_us: i64,
    /// Last message (the 200 to BYE, or the ACK of a failure), µs.
    pub last_us: i64,
    /// The final response to the INVITE that the UAS sent (`200`, `486`, `487`), 0 if none.
    pub final_code: u16,
}

/// Parses a SIPp `-trace_msg` log (`----- YYYY-MM-DD HH:MM:SS.micro` blocks, then
/// `UDP message received|sent`, then the message) into dialogs by Call-ID.
pub fn sipp_dialogs(path: &Path) -> Vec<Dialog> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut by_id: HashMap<String, Dialog> = HashMap::new();
    for block in text
        .split("----------------------------------------------- ")
        .skip(1)
    {
        let mut lines = block.lines();
        let Some(stamp) = lines.next() else { continue };
        let Ok(t) = chrono::NaiveDateTime::parse_from_str(stamp.trim(), "%Y-%m-%d %H:%M:%S%.f")
        else {
            continue;
        };
        // SIPp writes local time; the machine's zone does not matter for differences.
        let us = t.and_utc().timestamp_micros();
        let dir = lines.next().unwrap_or_default();
        let sent = dir.contains(" sent");
        let mut msg = lines.skip_while(|l| l.trim().is_empty());
        let start = msg.next().unwrap_or_default().to_string();
        let mut call_id = None;
        let mut cseq_invite = false;
        for l in msg {
            if l.trim().is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("call-id:").or(lower.strip_prefix("i:")) {
                call_id = Some(v.trim().to_string());
            }
            if lower.starts_with("cseq:") && lower.contains("invite") {
                cseq_invite = true;
            }
        }
        let Some(id) = call_id else { continue };
        let d = by_id.entry(id).or_insert(Dialog {
            first_us: us,
            last_us: us,
            final_code: 0,
        });
        d.first_us = d.first_us.min(us);
        d.last_us = d.last_us.max(us);
        if sent && cseq_invite && start.starts_with("SIP/2.0 ") {
            let code: u16 = start[8..11].parse().unwrap_or(0);
            if code >= 200 && d.final_code == 0 {
                d.final_code = code;
            }
        }
    }
    by_id.into_values().collect()
}

/// The most `[start, end]` intervals open at one instant (an end before a start at the same
/// instant: a channel freed is reused).
pub fn max_overlap(intervals: impl IntoIterator<Item = (i64, i64)>) -> usize {
    let mut edges: Vec<(i64, i32)> = Vec::new();
    for (a, b) in intervals {
        edges.push((a, 1));
        edges.push((b, -1));
    }
    edges.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        max = max.max(now);
    }
    max.max(0) as usize
}

/// Samples `f` every `every` on a thread and keeps the largest value until stopped.
pub struct MaxSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl MaxSampler {
    /// Starts sampling.
    pub fn start(every: Duration, f: impl Fn() -> Option<u64> + Send + 'static) -> MaxSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let (s, m) = (stop.clone(), max.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(v) = f() {
                    m.fetch_max(v, Ordering::Relaxed);
                }
                std::thread::sleep(every);
            }
        });
        MaxSampler {
            stop,
            max,
            handle: Some(handle),
        }
    }

    /// Stops sampling: the largest value seen.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.max.load(Ordering::Relaxed)
    }
}

/// The value of an unlabelled Prometheus/OpenMetrics sample `name` in `text`.
pub fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// tcpdump writing the headers of UDP packets on `lo` to a pcap file.
pub struct Capture {
    child: Child,
    /// The pcap file.
    pub path: PathBuf,
}

impl Capture {
    /// Starts tcpdump with the BPF `filter` (e.g. `udp`), headers only (96 bytes a packet),
    /// a 64 MiB kernel buffer; returns once it listens.
    pub fn start(dir: &Path, name: &str, filter: &str) -> Capture {
        let path = dir.join(format!("{name}.pcap"));
        let child = Command::new("tcpdump")
            .args(["-i", "lo", "-n", "-s", "96", "-B", "65536", "-w"])
            .arg(&path)
            .args(filter.split_whitespace())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump (apt install tcpdump)");
        // tcpdump creates the file once it listens.
        let t0 = Instant::now();
        while !path.exists() && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        Capture { child, path }
    }

    /// Stops tcpdump (SIGINT, so it flushes): its summary (`N packets captured`, `N packets
    /// dropped by kernel`).
    pub fn stop(self) -> String {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let out = self.child.wait_with_output().expect("tcpdump");
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.contains("packets"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// One RTP packet of a capture.
#[derive(Clone, Copy, Debug)]
pub struct RtpPacket {
    /// Capture time, µs since the epoch.
    pub at_us: i64,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// RTP payload type.
    pub pt: u8,
    /// RTP sequence number.
    pub seq: u16,
    /// RTP SSRC.
    pub ssrc: u32,
}

/// The RTP packets (version 2, not RTCP) of an IPv4/UDP pcap file (link types Ethernet — what
/// tcpdump writes for `lo` —, raw IP, Linux cooked v1/v2).
pub fn read_rtp(path: &Path) -> Vec<RtpPacket> {
    let b = std::fs::read(path).unwrap_or_default();
    if b.len() < 24 {
        return Vec::new();
    }
    let magic = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let (le, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => return Vec::new(),
    };
    let u32_at = |i: usize| {
        let a = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let link = u32_at(20);
    let l2 = match link {
        1 => 14,
        101 | 228 => 0,
        113 => 16,
        276 => 20,
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let sec = i64::from(u32_at(i));
        let frac = i64::from(u32_at(i + 4));
        let incl = u32_at(i + 8) as usize;
        let p = i + 16;
        i = p + incl;
        if i > b.len() {
            break;
        }
        let at_us = sec * 1_000_000 + if nanos { frac / 1000 } else { frac };
        let pkt = &b[p..p + incl];
        if pkt.len() < l2 + 20 {
            continue;
        }
        let ip = &pkt[l2..];
        if ip[0] >> 4 != 4 || ip[9] != 17 {
            continue;
        }
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        if ip.len() < ihl + 8 + 12 {
            continue;
        }
        let udp = &ip[ihl..];
        let rtp = &udp[8..];
        let pt = rtp[1] & 0x7f;
        if rtp[0] >> 6 != 2 || (72..=76).contains(&pt) {
            continue;
        }
        out.push(RtpPacket {
            at_us,
            src_port: u16::from_be_bytes([udp[0], udp[1]]),
            dst_port: u16::from_be_bytes([udp[2], udp[3]]),
            pt,
            seq: u16::from_be_bytes([rtp[2], rtp[3]]),
            ssrc: u32::from_be_bytes([rtp[8], rtp[9], rtp[10], rtp[11]]),
        });
    }
    out
}

/// One RTP stream (source port → destination port) over a time window.
#[derive(Clone, Debug, Default)]
pub struct StreamStats {
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// Packets in the window.
    pub packets: u64,
    /// Largest inter-arrival gap in the window, µs.
    pub max_gap_us: i64,
    /// Packets missing by sequence number (per SSRC: the span of sequence numbers seen,
    /// wrap-around counted, less the distinct ones seen).
    pub lost: u64,
}

/// Statistics of each stream (src port → dst port) of `packets` that `keep` accepts, counting
/// only packets captured in `[from_us, to_us]`.
pub fn streams(
    packets: &[RtpPacket],
    keep: impl Fn(&RtpPacket) -> bool,
    from_us: i64,
    to_us: i64,
) -> Vec<StreamStats> {
    let mut by: HashMap<(u16, u16), Vec<&RtpPacket>> = HashMap::new();
    for p in packets
        .iter()
        .filter(|p| keep(p) && p.at_us >= from_us && p.at_us <= to_us)
    {
        by.entry((p.src_port, p.dst_port)).or_default().push(p);
    }
    let mut out: Vec<StreamStats> = by
        .into_iter()
        .map(|((src, dst), mut ps)| {
            ps.sort_by_key(|p| p.at_us);
            let max_gap_us = ps
                .windows(2)
                .map(|w| w[1].at_us - w[0].at_us)
                .max()
                .unwrap_or(0);
            // Loss per SSRC on the extended sequence number.
            let mut per_ssrc: HashMap<u32, (i64, i64, std::collections::HashSet<i64>, i64)> =
                HashMap::new();
            for p in &ps {
                let e =
                    per_ssrc
                        .entry(p.ssrc)
                        .or_insert((i64::MAX, i64::MIN, Default::default(), -1));
                // Extend relative to the last extended number seen.
                let ext = if e.3 < 0 {
                    i64::from(p.seq)
                } else {
                    let last = e.3;
                    let cand = (last & !0xffff) | i64::from(p.seq);
                    [cand - 0x10000, cand, cand + 0x10000]
                        .into_iter()
                        .min_by_key(|c| (c - last).abs())
                        .unwrap_or(cand)
                };
                e.3 = ext;
                e.0 = e.0.min(ext);
                e.1 = e.1.max(ext);
                e.2.insert(ext);
            }
            let lost = per_ssrc
                .values()
                .map(|(lo, hi, seen, _)| (hi - lo + 1) as u64 - seen.len() as u64)
                .sum();
            StreamStats {
                src_port: src,
                dst_port: dst,
                packets: ps.len() as u64,
                max_gap_us,
                lost,
            }
        })
        .collect();
    out.sort_by_key(|s| (s.dst_port, s.src_port));
    out
}

/// The value at fraction `p` (0–1) of a sorted slice, 0 when empty.
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// This machine in a line: CPU model, cores, load average now.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let cores = cpu.lines().filter(|l| l.starts_with("processor")).count();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("{model}, {cores} cores, load average {}", load.join(" "))
}
