#![allow(clippy::unwrap_used)] // tests may unwrap
//! Test helpers: fixture paths, a tiny pcap reader, WAV loading.

use std::path::PathBuf;

/// Path of a vendored fixture, `rel` relative to `tests/fixtures/` of the repository (see its
/// `SOURCE.md` files); panics naming the file when it is missing.
pub fn corpus(rel: &str) -> PathBuf {
    zvonar_fixtures::path(rel)
}

/// Path of one of Asterisk's Russian prompts (Debian `asterisk-core-sounds-ru-wav`, found
/// through `dpkg -L` or `$ZVONAR_SOUNDS_RU`), `rel` like `"digits/12.wav"`.
pub fn sound_ru(rel: &str) -> PathBuf {
    zvonar_fixtures::sound_ru(rel)
}

/// One UDP datagram from a capture: timestamp in ms from the first packet, payload bytes.
pub struct Datagram {
    pub ms: u64,
    pub payload: Vec<u8>,
}

/// Reads a classic pcap (µs or ns, either byte order) of Ethernet/IPv4/UDP frames and returns the
/// UDP payloads. Panics on anything else: it is a test fixture reader.
pub fn read_pcap_udp(path: &std::path::Path) -> Vec<Datagram> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    let (le, nanos) = match magic {
        0xa1b2c3d4 => (true, false),
        0xd4c3b2a1 => (false, false),
        0xa1b23c4d => (true, true),
        0x4d3cb2a1 => (false, true),
        m => panic!("not a pcap: {m:x}"),
    };
    let u32at = |o: usize| {
        let a: [u8; 4] = b[o..o + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    assert_eq!(u32at(20), 1, "link type must be Ethernet");
    let mut out = Vec::new();
    let mut off = 24;
    let mut first_us = None;
    while off + 16 <= b.len() {
        let us = u64::from(u32at(off)) * 1_000_000
            + if nanos {
                u64::from(u32at(off + 4)) / 1000
            } else {
                u64::from(u32at(off + 4))
            };
        let caplen = u32at(off + 8) as usize;
        let frame = &b[off + 16..off + 16 + caplen];
        off += 16 + caplen;
        let mut eth = 14;
        let mut ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        if ethertype == 0x8100 {
            ethertype = u16::from_be_bytes([frame[16], frame[17]]);
            eth = 18;
        }
        if ethertype != 0x0800 {
            continue;
        }
        let ip = &frame[eth..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        if ip[9] != 17 {
            continue;
        }
        let udp = &ip[ihl..];
        let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        let first = *first_us.get_or_insert(us);
        out.push(Datagram {
            ms: (us - first) / 1000,
            payload: udp[8..len].to_vec(),
        });
    }
    out
}

/// Reads a mono or stereo 16-bit WAV as mono samples at 8000 Hz (first channel, resampled).
pub fn read_wav_8k(path: &std::path::Path) -> Vec<i16> {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!(spec.bits_per_sample, 16);
    let ch = usize::from(spec.channels);
    let samples: Vec<i16> = r.samples::<i16>().step_by(ch).map(|s| s.unwrap()).collect();
    audio_codec::resample(&samples, spec.sample_rate, 8000)
}
