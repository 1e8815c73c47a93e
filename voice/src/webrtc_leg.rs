//! The browser's media leg: WebRTC (ICE, DTLS-SRTP; RFC 8829 JSEP, RFC 8835) terminated in
//! zvonar with the `webrtc` crate (webrtc-rs), carrying G.711 audio so it plugs into the same
//! places as an RTP leg: received packets come out as [`Incoming`] RTP (decrypted), and
//! outgoing 20 ms frames of 8 kHz PCM go in, exactly like [`crate::rtp_socket::RtpSocket`].
//!
//! How the answer is made quickly and without the field's usual traps:
//! - **Codec**: the first of PCMU/PCMA in the browser's own order (Chromium and Firefox offer
//!   both, RFC 7874 §3 requires them), plus its `telephone-event/8000`; only these are put
//!   in the media engine, so the answer carries exactly one audio codec and nothing is
//!   transcoded ([`choose_codec`]). A browser that offers no G.711 but Opus (RFC 7587) gets
//!   Opus, transcoded here to and from 8 kHz PCM with `audio-codec`'s Opus (opus-rs): the
//!   rest of the engine still sees a G.711 leg ([`CodecChoice::opus_pt`]). An offer with
//!   neither is refused.
//! - **ICE**: ICE-lite (RFC 8445 §2.5): we only answer the browser's connectivity checks, on
//!   host candidates bound to the configured address and announced as the public IP, with
//!   no STUN or TURN — so gathering ends at once and the 200 OK is not held up (browsers
//!   that wait 10–40 s for gathering are the field's complaint with full ICE servers).
//! - **DTLS role**: as the answerer we take `a=setup:active` and send the ClientHello
//!   ourselves once ICE is up (RFC 8842 §5.3), so an ICE-lite server never waits for a
//!   ClientHello the browser is waiting for us to send (the «DTLS role deadlock»).

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::{mpsc, watch, Mutex};
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::media_stream::MediaStreamTrack;
use webrtc::peer_connection::{
    configure_rtcp_reports, MediaEngine, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceCandidateType, RTCIceGatheringState,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
};

use crate::codec::{Codec, FRAME_MS, FRAME_SAMPLES};
use crate::rtp::Incoming;

/// Errors of [`WebRtcLeg::answer`] and of sending.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebRtcError {
    /// The offer is not usable: no audio section, no G.711 in it, or the WebRTC stack
    /// rejected it (the peer's fault; answer 488).
    #[error("unacceptable WebRTC offer: {0}")]
    Offer(String),
    /// No UDP port could be bound for ICE (our side; answer 503).
    #[error("no media port for WebRTC: {0}")]
    NoPort(String),
    /// The WebRTC stack failed (our side).
    #[error("WebRTC: {0}")]
    Stack(String),
}

/// Where the WebRTC leg listens and what it announces.
#[derive(Debug, Clone)]
pub struct WebRtcConfig {
    /// Local IP to bind the ICE socket to (`0.0.0.0`: every interface but loopback).
    pub bind_ip: IpAddr,
    /// The address browsers reach us at, announced as the only host candidate.
    pub public_ip: IpAddr,
    /// UDP ports to choose from (the `[rtp]` range); one port per call (ICE and RTCP
    /// multiplexed, RFC 5761 / RFC 8843 bundle).
    pub ports: RangeInclusive<u16>,
}

/// The audio codec chosen from an offer, with its payload types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecChoice {
    /// PCMU or PCMA: what the leg's packets carry for the engine ([`WebRtcLeg::recv`],
    /// [`WebRtcLeg::send_frame`]).
    pub codec: Codec,
    /// Its payload type in the offer (0 or 8, static per RFC 3551, unless remapped); with
    /// Opus, the static type of `codec`, which the engine sees.
    pub audio_pt: u8,
    /// The offer's `telephone-event/8000` payload type (RFC 4733), if any.
    pub te_pt: Option<u8>,
    /// The browser's Opus payload type (`opus/48000/2`, RFC 7587 §7) when it offered no
    /// G.711: the browser's side carries Opus and the leg transcodes it to and from `codec`.
    pub opus_pt: Option<u8>,
}

/// True when `sdp` is a WebRTC offer (DTLS-SRTP: `UDP/TLS/RTP/SAVPF` with a fingerprint,
/// RFC 5763/8842), which only a [`WebRtcLeg`] can answer; plain RTP offers are not.
pub fn is_webrtc_offer(sdp: &str) -> bool {
    let lines = || sdp.lines().map(str::trim);
    lines().any(|l| l.starts_with("m=audio") && l.contains("/TLS/RTP/SAVP"))
        && lines().any(|l| l.starts_with("a=fingerprint:"))
}

/// Chooses the audio codec for a browser's offer (sans-IO): the first of PCMU (μ-law) or
/// PCMA (A-law) in the first `m=audio` section's format list, which is the browser's order
/// of preference (RFC 3264 §5.1), and its `telephone-event/8000` type. A static payload type
/// 0/8 counts without an `a=rtpmap`; a dynamic one by its `a=rtpmap` name at 8000 Hz.
///
/// G.711 is preferred to Opus wherever it is offered, even after Opus: nothing is transcoded
/// then. Without G.711, `opus/48000/2` is taken ([`CodecChoice::opus_pt`]), the engine's
/// side being PCMA.
///
/// Errors: [`WebRtcError::Offer`] without an audio section, or with neither G.711 nor Opus.
pub fn choose_codec(sdp: &str) -> Result<CodecChoice, WebRtcError> {
    let mut in_audio = false;
    let mut formats: Vec<u8> = Vec::new();
    let mut names: Vec<(u8, String)> = Vec::new();
    let mut seen_audio = false;
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            if seen_audio {
                // Only the first audio section; later ones (video, data) end it.
                if in_audio {
                    break;
                }
                continue;
            }
            in_audio = m.starts_with("audio ");
            if in_audio {
                seen_audio = true;
                formats = m
                    .split_whitespace()
                    .skip(3)
                    .filter_map(|f| f.parse().ok())
                    .collect();
            }
            continue;
        }
        if !in_audio {
            continue;
        }
        if let Some(rest) = line.strip_prefix("a=rtpmap:") {
            if let Some((pt, enc)) = rest.split_once(' ') {
                if let Ok(pt) = pt.trim().parse::<u8>() {
                    names.push((pt, enc.trim().to_ascii_lowercase()));
                }
            }
        }
    }
    if !seen_audio {
        return Err(WebRtcError::Offer("no m=audio section".into()));
    }
    let name_of = |pt: u8| {
        names
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, n)| n.as_str())
    };
    let codec_of = |pt: u8| -> Option<Codec> {
        match name_of(pt) {
            Some(n) if n.starts_with("pcmu/8000") => Some(Codec::Pcmu),
            Some(n) if n.starts_with("pcma/8000") => Some(Codec::Pcma),
            Some(_) => None,
            None => Codec::from_payload_type(pt),
        }
    };
    let te_pt = formats
        .iter()
        .copied()
        .find(|&pt| name_of(pt).is_some_and(|n| n.starts_with("telephone-event/8000")));
    if let Some((audio_pt, codec)) = formats.iter().find_map(|&pt| codec_of(pt).map(|c| (pt, c))) {
        return Ok(CodecChoice {
            codec,
            audio_pt,
            te_pt,
            opus_pt: None,
        });
    }
    let opus_pt = formats
        .iter()
        .copied()
        .find(|&pt| name_of(pt).is_some_and(|n| n.starts_with("opus/48000")))
        .ok_or_else(|| WebRtcError::Offer("neither G.711 nor Opus offered".into()))?;
    Ok(CodecChoice {
        codec: Codec::Pcma,
        audio_pt: Codec::Pcma.payload_type(),
        te_pt,
        opus_pt: Some(opus_pt),
    })
}

/// Whether the first audio section of `sdp` lets its sender receive (no `a=sendonly` or
/// `a=inactive` there or at session level; RFC 3264 §5.1, §6.1): a browser's hold offer
/// does not.
pub fn offer_receives(sdp: &str) -> bool {
    let mut in_audio = false;
    let mut seen_audio = false;
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            if seen_audio {
                break;
            }
            in_audio = m.starts_with("audio ");
            seen_audio |= in_audio;
            continue;
        }
        if (in_audio || !seen_audio) && (line == "a=sendonly" || line == "a=inactive") {
            return false;
        }
    }
    true
}

/// Makes the stack's answer to a re-offer consistent with the running call (sans-IO): the
/// DTLS role stays as negotiated (RFC 8842 §5.5: a new `a=setup` must not flip an
/// established association; the stack answers `active` by default, which is right only when
/// we were the client from the start), and the direction answers the offer's (RFC 3264
/// §6.1: `sendonly` → `recvonly`, `recvonly` → `sendonly`, `inactive` → `inactive`).
pub fn fix_reanswer(answer: &str, offer: &str, dtls_server: bool) -> String {
    let offered = offer
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("m=audio"))
        .find(|l| {
            matches!(
                *l,
                "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
            )
        })
        .unwrap_or("a=sendrecv");
    let ours = match offered {
        "a=sendonly" => "a=recvonly",
        "a=recvonly" => "a=sendonly",
        "a=inactive" => "a=inactive",
        _ => "a=sendrecv",
    };
    let eol = if answer.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut out: Vec<&str> = answer
        .lines()
        .map(|l| match l.trim() {
            "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive" => ours,
            "a=setup:active" if dtls_server => "a=setup:passive",
            _ => l,
        })
        .collect();
    if out.last().is_some_and(|l| !l.is_empty()) {
        out.push("");
    }
    out.join(eol)
}

/// Events of the peer connection that the leg keeps.
struct Handler {
    packets: mpsc::UnboundedSender<Incoming>,
    gathered: watch::Sender<bool>,
    state: watch::Sender<RTCPeerConnectionState>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        tracing::debug!(%state, "WebRTC connection state");
        let _ = self.state.send(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let packets = self.packets.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(p) = event {
                    let pkt = Incoming {
                        pt: p.header.payload_type,
                        seq: p.header.sequence_number,
                        ts: p.header.timestamp,
                        ssrc: p.header.ssrc,
                        marker: p.header.marker,
                        payload: p.payload.to_vec(),
                    };
                    if packets.send(pkt).is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// Opus on the browser's side (RFC 7587): 20 ms frames of 8 kHz mono PCM encoded and
/// decoded by `audio-codec` (opus-rs), the 48 kHz RTP clock mapped to the engine's 8 kHz one.
/// One per leg (the codec keeps state between frames); public for the transcoding benchmark
/// (`cargo bench -p zvonar-voice --bench opus`).
pub struct OpusTranscoder {
    encoder: audio_codec::opus::OpusEncoder,
    decoder: audio_codec::opus::OpusDecoder,
    /// The first received timestamp (48 kHz) and its 8 kHz counterpart.
    first_ts: Option<u32>,
}

/// Opus bit rate towards the browser, bit/s: wideband voice needs no more for 8 kHz input
/// (RFC 7587 §3.1.1 recommends 8–12 kbit/s for narrowband speech; a little headroom).
pub const OPUS_BITRATE_BPS: i32 = 24_000;

impl Default for OpusTranscoder {
    fn default() -> Self {
        Self::new()
    }
}

impl OpusTranscoder {
    /// A transcoder at [`OPUS_BITRATE_BPS`], mono, 8 kHz on the engine's side.
    pub fn new() -> Self {
        let mut encoder = audio_codec::opus::OpusEncoder::new(8000, 1);
        encoder.set_bitrate(OPUS_BITRATE_BPS);
        OpusTranscoder {
            encoder,
            decoder: audio_codec::opus::OpusDecoder::new(8000, 1),
            first_ts: None,
        }
    }

    /// One 20 ms frame of 8 kHz samples ([`FRAME_SAMPLES`]) as an Opus packet (empty if the
    /// encoder refuses the frame).
    pub fn encode(&mut self, samples: &[i16]) -> Vec<u8> {
        use audio_codec::Encoder;
        self.encoder.encode(samples)
    }

    /// A received Opus packet as a packet of `codec` on `pt` for the engine: the PCM
    /// decoded at 8 kHz (a stereo packet mixed down), the timestamp on the 8 kHz clock
    /// counted from the first packet. `None` for a packet that does not decode.
    pub fn to_engine(&mut self, p: Incoming, codec: Codec, pt: u8) -> Option<Incoming> {
        use audio_codec::Decoder;
        let pcm = self.decoder.decode(&p.payload);
        if pcm.is_empty() {
            return None;
        }
        let first = *self.first_ts.get_or_insert(p.ts);
        Some(Incoming {
            pt,
            ts: p.ts.wrapping_sub(first) / 6,
            payload: codec.encode(&pcm),
            ..p
        })
    }
}

/// One browser's media leg. See the module docs.
pub struct WebRtcLeg {
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticSample>,
    ssrc: u32,
    choice: CodecChoice,
    packets: Mutex<mpsc::UnboundedReceiver<Incoming>>,
    state: watch::Receiver<RTCPeerConnectionState>,
    local: SocketAddr,
    /// We made the first offer (`actpass`): the browser took `active`, so we are the DTLS
    /// server for the whole call.
    offered: std::sync::atomic::AtomicBool,
    /// The Opus transcoder when the browser's side is Opus.
    opus: Option<std::sync::Mutex<OpusTranscoder>>,
}

/// A free UDP port of `ports` on `ip` (probed by binding it, starting at a random port),
/// or `None` when the range has none.
fn free_udp_port(ip: IpAddr, ports: &RangeInclusive<u16>) -> Option<u16> {
    let (lo, hi) = (*ports.start(), *ports.end());
    if lo > hi {
        return None;
    }
    let span = u32::from(hi - lo) + 1;
    let start = rand::random::<u32>() % span;
    (0..span)
        .map(|i| lo + ((start + i) % span) as u16)
        .find(|&p| std::net::UdpSocket::bind((ip, p)).is_ok())
}

impl WebRtcLeg {
    /// Answers a browser's offer: a peer connection with one audio track in the codec
    /// [`choose_codec`] picks, ICE-lite on one UDP port of `cfg.ports`, and the complete
    /// answer SDP (candidates included: SIP carries no trickle) to send in the 200 OK.
    ///
    /// Errors: [`WebRtcError::Offer`] for an offer we cannot take (answer 488),
    /// [`WebRtcError::NoPort`] when the port range is full, [`WebRtcError::Stack`] when the
    /// WebRTC stack fails.
    pub async fn answer(
        offer: &str,
        cfg: &WebRtcConfig,
    ) -> Result<(WebRtcLeg, String), WebRtcError> {
        let choice = CodecChoice {
            te_pt: None,
            ..choose_codec(offer)?
        };
        let (leg, mut gathered) = WebRtcLeg::build(choice, cfg).await?;
        let fail = |e: webrtc::error::Error| WebRtcError::Offer(e.to_string());
        let desc = RTCSessionDescription::offer(offer.to_string()).map_err(fail)?;
        leg.pc.set_remote_description(desc).await.map_err(fail)?;
        leg.pc
            .add_track(leg.track.clone() as Arc<dyn TrackLocal>)
            .await
            .map_err(|e| WebRtcError::Stack(e.to_string()))?;
        let answer = leg.pc.create_answer(None).await.map_err(fail)?;
        leg.pc
            .set_local_description(answer)
            .await
            .map_err(|e| WebRtcError::Stack(e.to_string()))?;
        let sdp = leg.local_sdp(&mut gathered).await?;
        Ok((leg, sdp))
    }

    /// Makes an offer to a browser (an outgoing call to the console: the queue ringing an
    /// agent): one audio track in `codec` (its static payload type, RFC 3551), ICE-lite on
    /// one UDP port of `cfg.ports`, `a=setup:actpass` as JSEP requires of an offerer
    /// (RFC 8842 §5.2) — browsers answer `active`, so the browser sends the ClientHello and
    /// the ICE-lite side never waits for itself. Returns the leg and the complete offer SDP
    /// (candidates included) for the INVITE; give the browser's answer to
    /// [`WebRtcLeg::accept_answer`].
    ///
    /// Errors: [`WebRtcError::NoPort`] when the port range is full, [`WebRtcError::Stack`]
    /// when the WebRTC stack fails.
    pub async fn offer(
        codec: Codec,
        cfg: &WebRtcConfig,
    ) -> Result<(WebRtcLeg, String), WebRtcError> {
        let choice = CodecChoice {
            codec,
            audio_pt: codec.payload_type(),
            te_pt: None,
            opus_pt: None,
        };
        let (leg, mut gathered) = WebRtcLeg::build(choice, cfg).await?;
        let stack = |e: webrtc::error::Error| WebRtcError::Stack(e.to_string());
        leg.pc
            .add_track(leg.track.clone() as Arc<dyn TrackLocal>)
            .await
            .map_err(stack)?;
        leg.offered
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let offer = leg.pc.create_offer(None).await.map_err(stack)?;
        leg.pc.set_local_description(offer).await.map_err(stack)?;
        let sdp = leg.local_sdp(&mut gathered).await?;
        Ok((leg, sdp))
    }

    /// Takes the browser's answer to [`WebRtcLeg::offer`]; ICE and DTLS start at once.
    ///
    /// Errors: [`WebRtcError::Offer`] when the answer is not usable (no G.711 accepted,
    /// malformed; end the call).
    pub async fn accept_answer(&self, answer: &str) -> Result<(), WebRtcError> {
        let fail = |e: webrtc::error::Error| WebRtcError::Offer(e.to_string());
        let desc = RTCSessionDescription::answer(answer.to_string()).map_err(fail)?;
        self.pc.set_remote_description(desc).await.map_err(fail)
    }

    /// Answers a new offer from the browser on an established leg (a re-INVITE: JsSIP's hold
    /// offers `sendonly`, its resume `sendrecv`; RFC 3264 §8): the same transport, the
    /// directions answered by the stack. Returns the answer SDP and whether we may send
    /// (`false` when the browser holds: `sendonly` or `inactive`, RFC 3264 §6.1).
    ///
    /// Errors: [`WebRtcError::Offer`] when the stack refuses the offer (answer 488; the call
    /// goes on as it was).
    pub async fn reoffer(&self, offer: &str) -> Result<(String, bool), WebRtcError> {
        let fail = |e: webrtc::error::Error| WebRtcError::Offer(e.to_string());
        let desc = RTCSessionDescription::offer(offer.to_string()).map_err(fail)?;
        self.pc.set_remote_description(desc).await.map_err(fail)?;
        let answer = self.pc.create_answer(None).await.map_err(fail)?;
        let sdp = answer.sdp.clone();
        self.pc
            .set_local_description(answer)
            .await
            .map_err(|e| WebRtcError::Stack(e.to_string()))?;
        let sdp = self
            .pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .unwrap_or(sdp);
        let server = self.offered.load(std::sync::atomic::Ordering::Relaxed);
        Ok((fix_reanswer(&sdp, offer, server), offer_receives(offer)))
    }

    /// Our local description once host candidates are gathered (milliseconds: no STUN;
    /// the bound is a guard).
    async fn local_sdp(&self, gathered: &mut watch::Receiver<bool>) -> Result<String, WebRtcError> {
        let _ = tokio::time::timeout(Duration::from_secs(2), gathered.wait_for(|g| *g)).await;
        self.pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .ok_or_else(|| WebRtcError::Stack("no local description".into()))
    }

    /// A peer connection for `choice` only, ICE-lite on a port of `cfg.ports`, with its
    /// local track not yet added; and the gathering-complete flag.
    async fn build(
        choice: CodecChoice,
        cfg: &WebRtcConfig,
    ) -> Result<(WebRtcLeg, watch::Receiver<bool>), WebRtcError> {
        let mut media = MediaEngine::default();
        let codec = match choice.opus_pt {
            // RFC 7587 §7: always `opus/48000/2`; we send mono and take FEC.
            Some(_) => RTCRtpCodec {
                mime_type: "audio/opus".to_string(),
                clock_rate: 48000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_string(),
                rtcp_feedback: vec![],
            },
            None => RTCRtpCodec {
                mime_type: format!("audio/{}", choice.codec.encoding_name()),
                clock_rate: 8000,
                channels: 1,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![],
            },
        };
        media
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: codec.clone(),
                    payload_type: choice.opus_pt.unwrap_or(choice.audio_pt),
                },
                RtpCodecKind::Audio,
            )
            .map_err(|e| WebRtcError::Stack(e.to_string()))?;
        // telephone-event is not negotiated: webrtc-rs matches it by name and would answer
        // the offer's 48 kHz one (Opus's); JsSIP sends digits by SIP INFO.
        let registry = configure_rtcp_reports(Registry::new());
        let settings = SettingEngineBuilder::new()
            .with_lite(true)
            // A loopback bind (tests) still needs its host candidate.
            .with_include_loopback_candidate(cfg.bind_ip.is_loopback())
            // Remote candidates are not needed (ICE-lite answers checks from wherever they
            // come), so no mDNS resolver for browsers' `*.local` host candidates.
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .with_nat_1to1_ips(vec![cfg.public_ip.to_string()], RTCIceCandidateType::Host)
            .build();
        let port = free_udp_port(cfg.bind_ip, &cfg.ports)
            .ok_or_else(|| WebRtcError::NoPort(format!("{:?} on {}", cfg.ports, cfg.bind_ip)))?;
        let local = SocketAddr::new(cfg.bind_ip, port);
        let (packets_tx, packets_rx) = mpsc::unbounded_channel();
        let (gathered_tx, gathered) = watch::channel(false);
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler {
                packets: packets_tx,
                gathered: gathered_tx,
                state: state_tx,
            }))
            .with_udp_addrs(vec![local])
            .build()
            .await
            .map_err(|e| WebRtcError::NoPort(e.to_string()))?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let ssrc = rand::random::<u32>();
        let track = Arc::new(
            TrackLocalStaticSample::new(
                Instant::now(),
                MediaStreamTrack::new(
                    "zvonar".to_string(),
                    "zvonar-audio".to_string(),
                    "zvonar".to_string(),
                    RtpCodecKind::Audio,
                    vec![RTCRtpEncodingParameters {
                        rtp_coding_parameters: RTCRtpCodingParameters {
                            ssrc: Some(ssrc),
                            ..Default::default()
                        },
                        active: true,
                        codec,
                        ..Default::default()
                    }],
                ),
            )
            .map_err(|e| WebRtcError::Stack(e.to_string()))?,
        );
        let leg = WebRtcLeg {
            pc,
            track,
            ssrc,
            choice,
            packets: Mutex::new(packets_rx),
            state,
            local,
            offered: std::sync::atomic::AtomicBool::new(false),
            opus: choice
                .opus_pt
                .map(|_| std::sync::Mutex::new(OpusTranscoder::new())),
        };
        Ok((leg, gathered))
    }

    /// The codec and payload types in use.
    pub fn choice(&self) -> CodecChoice {
        self.choice
    }

    /// The local UDP address ICE runs on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Waits until the connection is up (ICE connected and DTLS done) or has failed; `true`
    /// when connected within `limit`.
    pub async fn connected(&self, limit: Duration) -> bool {
        let mut state = self.state.clone();
        let wait = state.wait_for(|s| {
            matches!(
                s,
                RTCPeerConnectionState::Connected
                    | RTCPeerConnectionState::Failed
                    | RTCPeerConnectionState::Closed
            )
        });
        let connected = matches!(
            tokio::time::timeout(limit, wait).await,
            Ok(Ok(s)) if *s == RTCPeerConnectionState::Connected
        );
        connected
    }

    /// The next RTP packet from the browser (decrypted; Opus already transcoded to
    /// [`CodecChoice::codec`] on the 8 kHz clock), `None` once the connection is gone.
    pub async fn recv(&self) -> Option<Incoming> {
        let mut packets = self.packets.lock().await;
        loop {
            let p = packets.recv().await?;
            let Some(opus) = &self.opus else {
                return Some(p);
            };
            if Some(p.pt) != self.choice.opus_pt {
                continue;
            }
            let mut t = opus.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(p) = t.to_engine(p, self.choice.codec, self.choice.audio_pt) {
                return Some(p);
            }
        }
    }

    /// Sends one 20 ms frame of 8 kHz samples (`None`: comfort silence, so the stream never
    /// gaps). Before the connection is up the frame is dropped by the stack.
    ///
    /// Errors: [`WebRtcError::Stack`] when the track or connection is gone.
    pub async fn send_frame(&self, samples: Option<&[i16]>) -> Result<(), WebRtcError> {
        let (payload, pt) = match (&self.opus, self.choice.opus_pt) {
            (Some(opus), Some(pt)) => {
                let silence = [0i16; FRAME_SAMPLES];
                let frame = samples.unwrap_or(&silence);
                let mut t = opus.lock().unwrap_or_else(|e| e.into_inner());
                (t.encode(frame), pt)
            }
            _ => {
                let payload = match samples {
                    Some(s) => self.choice.codec.encode(s),
                    None => self.choice.codec.silence_frame(),
                };
                debug_assert_eq!(payload.len(), FRAME_SAMPLES);
                (payload, self.choice.audio_pt)
            }
        };
        let sample = rtc::media::Sample {
            data: payload.into(),
            duration: Duration::from_millis(u64::from(FRAME_MS)),
            ..rtc::media::Sample::new(Instant::now())
        };
        self.track
            .write_sample(self.ssrc, pt, &sample, &[])
            .await
            .map_err(|e| WebRtcError::Stack(e.to_string()))
    }

    /// Closes the peer connection (DTLS close_notify, sockets released).
    pub async fn close(&self) {
        if let Err(e) = self.pc.close().await {
            tracing::debug!(error = %e, "WebRTC close");
        }
    }
}

#[cfg(test)]
#[path = "webrtc_leg_tests.rs"]
mod tests;
