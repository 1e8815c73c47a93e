//! A thin tokio RTP endpoint: one UDP socket on an even port from a configured range (RTP) and
//! one on the next odd port (RTCP, RFC 3550 §11), strict symmetric latching ([`Latch`]: only
//! the peer named by signalling is heard, RFC 4961),
//! and an outgoing stream ([`RtpSender`]) paced at one packet per 20 ms with comfort silence
//! between utterances and an RTCP sender report every [`SR_INTERVAL`].
//!
//! All packet logic lives in the sans-IO [`crate::rtp`] module; this wrapper only moves bytes.
//! Methods take `&self`, so one `Arc<RtpSocket>` can be shared by a receiving task and a
//! sending task.

use std::net::{IpAddr, SocketAddr};
use std::ops::{ControlFlow, RangeInclusive};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::net::UdpSocket;
use tokio::time::{Instant, MissedTickBehavior};

use crate::codec::{Codec, FRAME_MS};
use crate::rtp::{ntp_timestamp, parse_incoming, Incoming, Latch, RtpSender};

/// Interval between RTCP sender reports (RFC 3550 §6.2 suggests 5 s minimum).
pub const SR_INTERVAL: Duration = Duration::from_secs(5);

/// Errors of [`RtpSocket::bind`] and sending.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RtpSocketError {
    /// Every even port of the range (with its RTCP port) was busy.
    #[error("no free RTP port pair in {0:?}")]
    NoFreePort(RangeInclusive<u16>),
    /// The range holds no even port with room for port+1.
    #[error("bad RTP port range {0:?}")]
    BadRange(RangeInclusive<u16>),
    /// A socket operation failed.
    #[error("RTP socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Settings of one RTP endpoint.
#[derive(Debug, Clone)]
pub struct RtpConfig {
    /// Local IP to bind.
    pub bind_ip: IpAddr,
    /// Ports to choose from (default 20000..=30000); RTP takes an even port, RTCP the next one.
    pub ports: RangeInclusive<u16>,
    /// Codec sent and expected.
    pub codec: Codec,
    /// Where the peer's SDP says to send RTP.
    pub remote: SocketAddr,
    /// Where to send RTCP; `None` means the remote RTP port + 1.
    pub remote_rtcp: Option<SocketAddr>,
    /// The IP the peer's signalling (its INVITE) came from, when known: RTP is accepted from
    /// it (any port) when `remote` is a private or unroutable address, i.e. the peer is
    /// behind NAT; otherwise only from `remote` exactly. See [`Latch::for_peer`].
    pub signalling_source: Option<IpAddr>,
    /// CNAME for RTCP SDES (e.g. `zvonar@host`).
    pub cname: String,
}

/// One RTP endpoint. See the module docs.
pub struct RtpSocket {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    cfg: RtpConfig,
    latch: Mutex<Latch>,
    sender: Mutex<RtpSender>,
    foreign: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RtpSocket {
    /// Binds an even RTP port and the following RTCP port from `cfg.ports`, starting at a
    /// random even port and wrapping around.
    pub async fn bind(cfg: RtpConfig) -> Result<Self, RtpSocketError> {
        let (lo, hi) = (*cfg.ports.start(), *cfg.ports.end());
        let first_even = lo + lo % 2;
        if hi < 1 || first_even > hi - 1 {
            return Err(RtpSocketError::BadRange(cfg.ports.clone()));
        }
        let count = u32::from((hi - 1 - first_even) / 2 + 1);
        let start = rand::random::<u32>() % count;
        for k in 0..count {
            let port = first_even + (((start + k) % count) * 2) as u16;
            let Ok(rtp) = UdpSocket::bind((cfg.bind_ip, port)).await else {
                continue;
            };
            let Ok(rtcp) = UdpSocket::bind((cfg.bind_ip, port + 1)).await else {
                continue;
            };
            let latch = Mutex::new(Latch::for_peer(cfg.remote, cfg.signalling_source));
            let sender = Mutex::new(RtpSender::new_random(cfg.codec));
            return Ok(Self {
                rtp,
                rtcp,
                latch,
                sender,
                foreign: AtomicU64::new(0),
                cfg,
            });
        }
        Err(RtpSocketError::NoFreePort(cfg.ports.clone()))
    }

    /// The local RTP address (for our SDP).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.rtp.local_addr()
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        lock(&self.sender).ssrc()
    }

    /// Where RTP is sent now (latched or SDP address).
    pub fn remote(&self) -> SocketAddr {
        lock(&self.latch).target()
    }

    /// Changes the peer address (re-INVITE, or the answer to a late offer); the latch starts
    /// over with the same signalling source. Nothing happens when `remote` is the current SDP
    /// address (a session refresh keeps the latch).
    pub fn set_remote(&self, remote: SocketAddr) {
        let mut latch = lock(&self.latch);
        if latch.sdp_addr() != remote {
            latch.retarget(remote, self.cfg.signalling_source);
        }
    }

    /// Sets the codec and negotiated payload type of the outgoing stream (see
    /// [`RtpSender::set_codec`]).
    pub fn set_codec(&self, codec: Codec, pt: u8) {
        lock(&self.sender).set_codec(codec, pt);
    }

    /// Valid RTP packets dropped because they came from a source other than the peer
    /// (see [`Latch`]), since the socket was bound.
    pub fn foreign_packets(&self) -> u64 {
        self.foreign.load(Ordering::Relaxed)
    }

    /// Receives the next valid RTP packet from the peer. Datagrams that are not RTP, RTCP on the
    /// RTP port, and packets from other sources than the (latched) peer are skipped — the
    /// latter counted ([`RtpSocket::foreign_packets`]) and logged at debug. Returns only on a
    /// socket error.
    pub async fn recv(&self) -> std::io::Result<(Incoming, SocketAddr)> {
        let mut buf = [0u8; 2048];
        loop {
            let (n, from) = self.rtp.recv_from(&mut buf).await?;
            let Some(pkt) = parse_incoming(&buf[..n]) else {
                tracing::trace!(%from, len = n, "not RTP, ignored");
                continue;
            };
            if lock(&self.latch).accept(from) {
                return Ok((pkt, from));
            }
            let n = self.foreign.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n % 500 == 0 {
                tracing::debug!(%from, dropped = n, "RTP from a source other than the peer, dropped");
            }
        }
    }

    /// Sends one 20 ms frame (`Some` speech, `None` comfort silence), see [`RtpSender::frame`].
    pub async fn send_frame(&self, samples: Option<&[i16]>) -> std::io::Result<()> {
        let (bytes, to) = {
            let pkt = lock(&self.sender).frame(samples);
            (pkt, lock(&self.latch).target())
        };
        self.rtp.send_to(&bytes, to).await.map(|_| ())
    }

    /// Sends a digit as RFC 4733 telephone-event packets with payload type `te_pt`, 50 ms
    /// apart, all stamped with the current audio timestamp. Blocks the caller for the event's
    /// duration; do not interleave audio frames meanwhile.
    pub async fn send_dtmf(&self, te_pt: u8, digit: char, duration_ms: u32) -> std::io::Result<()> {
        let Some(packets) = crate::dtmf::dtmf_packets(digit, duration_ms) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a DTMF digit",
            ));
        };
        let event_ts = lock(&self.sender).next_timestamp();
        let n = packets.len();
        for (i, p) in packets.into_iter().enumerate() {
            let bytes = lock(&self.sender).telephone_event(te_pt, event_ts, p.marker, &p.payload);
            let to = lock(&self.latch).target();
            self.rtp.send_to(&bytes, to).await?;
            if i + 3 < n {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Sends one RFC 4733 telephone-event packet (payload type `te_pt`, see
    /// [`RtpSender::telephone_event`]) at once, without waiting: a digit relayed between two
    /// legs goes out one packet per 20 ms tick between the audio frames, which keep flowing.
    pub async fn send_telephone_event(
        &self,
        te_pt: u8,
        event_ts: u32,
        marker: bool,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let (bytes, to) = {
            let pkt = lock(&self.sender).telephone_event(te_pt, event_ts, marker, payload);
            (pkt, lock(&self.latch).target())
        };
        self.rtp.send_to(&bytes, to).await.map(|_| ())
    }

    /// The RTP timestamp the next audio frame will carry (a telephone-event starting now is
    /// stamped with it, RFC 4733 §2.3.1).
    pub fn next_timestamp(&self) -> u32 {
        lock(&self.sender).next_timestamp()
    }

    /// Sends an RTCP SR + SDES compound packet to the peer's RTCP address.
    pub async fn send_sender_report(&self) -> std::io::Result<()> {
        let report = {
            let s = lock(&self.sender);
            s.sender_report(
                ntp_timestamp(SystemTime::now()),
                s.next_timestamp(),
                &self.cfg.cname,
            )
        };
        let rtp_target = lock(&self.latch).target();
        let to = self
            .cfg
            .remote_rtcp
            .unwrap_or_else(|| SocketAddr::new(rtp_target.ip(), rtp_target.port().wrapping_add(1)));
        self.rtcp.send_to(&report, to).await.map(|_| ())
    }

    /// Paces the outgoing stream until `next_frame` says stop: every 20 ms it asks
    /// `next_frame()` for a frame and sends it — `Continue(Some(samples))` speech,
    /// `Continue(None)` comfort silence — so the stream never gaps; every [`SR_INTERVAL`] it
    /// also sends an RTCP sender report. Missed ticks are caught up (burst), so the RTP clock
    /// keeps pace with the wall clock.
    pub async fn run_sender<F>(&self, mut next_frame: F) -> std::io::Result<()>
    where
        F: FnMut() -> ControlFlow<(), Option<Vec<i16>>>,
    {
        let mut tick = tokio::time::interval(Duration::from_millis(u64::from(FRAME_MS)));
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut next_sr = Instant::now() + SR_INTERVAL;
        loop {
            let now = tick.tick().await;
            let frame = match next_frame() {
                ControlFlow::Break(()) => return Ok(()),
                ControlFlow::Continue(f) => f,
            };
            self.send_frame(frame.as_deref()).await?;
            if now >= next_sr {
                next_sr = now + SR_INTERVAL;
                if let Err(e) = self.send_sender_report().await {
                    tracing::debug!(error = %e, "RTCP SR not sent");
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "rtp_socket_tests.rs"]
mod tests;
