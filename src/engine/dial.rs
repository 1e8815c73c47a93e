//! Outgoing legs for the engine (the B2BUA seam): ring an endpoint for a call, follow what
//! happens, bridge the answered leg to the call's media, hang it up.
//!
//! ```text
//! let mut leg = dial::dial(&shared, DialSpec { target, .. }).await?;   // INVITE sent
//! loop { match leg.next_event().await {
//!     Some(DialEvent::Ringing) => …,                    // 180/183
//!     Some(DialEvent::Answered { .. }) => {             // 2xx, ACKed, its RTP running
//!         dial::bridge(&call_io.media, &leg);           // caller ⇄ agent, frame by frame
//!     }
//!     Some(DialEvent::Failed(outcome)) => …,            // busy, no answer, cancelled…
//!     Some(DialEvent::HungUp(end)) => …,                // the agent's BYE (or ours)
//!     None => break,                                    // the leg is over
//! } }
//! leg.cancel();  // stop ringing (CANCEL) · leg.hangup(); // BYE or CANCEL
//! ```
//!
//! One task per leg ([`OutboundLeg`]) owns the SIP dialog (zvonar-sip's
//! [`zvonar_sip::uac`]), the leg's RTP socket and SDP ([`super::reoffer::CallSdp`]), the ring
//! timer and, once answered, the leg's own media task ([`super::media::run`], no recording:
//! the call's recording is on the caller's leg, the far leg on its right channel). Far-end
//! re-INVITEs (hold/resume) and SIP INFO digits are handled on the leg like on an incoming
//! call. Dropping the [`OutboundLeg`] hangs the leg up (CANCEL while ringing, BYE after),
//! so a leg is never left ringing for a call that has gone.
//!
//! The bridge works on decoded 8 kHz frames ([`super::bridge`]): a leg that is not SIP/RTP
//! (a browser's WebRTC leg) joins with [`super::bridge::pair`] and
//! [`super::media::MediaCommand::Bridge`] on the caller's side.

use super::bridge;
use super::media::{self, MediaCommand, MediaEvent, MediaParams, MediaStats};
use super::reoffer::{AckOutcome, CallSdp};
use super::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use zvonar_models::CallId;
use zvonar_sip::sdp::LocalMedia;
use zvonar_sip::ua::CallSignal;
use zvonar_sip::uac::{DialRequest, DigestCredential, LegEnd, LegSignal, OutgoingLeg};
use zvonar_voice::codec::Codec;
use zvonar_voice::rtp_socket::{RtpConfig, RtpSocket};
use zvonar_voice::webrtc_leg::{WebRtcConfig, WebRtcLeg};

pub use zvonar_sip::uac::DialOutcome;

/// How long we wait for the final response after our CANCEL before giving the attempt up
/// (the far end should answer 487 at once; RFC 3261 §9.1 lets the INVITE live up to 64·T1).
pub const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Who to ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialTarget {
    /// A SIP URI, sent as the Request-URI to its host (`sip:112@10.0.0.5:5060`).
    Uri(String),
    /// A SIP account registered with our registrar (`zvonar sip-account add`): rung at the
    /// Contact of its most recent live registration, sent to the address that REGISTER came
    /// from (so a phone behind NAT is reached), over the transport it used.
    Account(String),
    /// A phone number (`+74951234567`, `84951234567`) dialled through the SIP trunks
    /// ([`super::trunks`]): the usable trunk of lowest priority with a free channel, then
    /// the next on 503, 408 or no answer from the trunk at all. The trunk's caller ID is
    /// presented (From and P-Asserted-Identity; [`DialSpec::from_user`] is not used) and its
    /// credentials answer a digest challenge.
    Number(String),
}

impl std::fmt::Display for DialTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DialTarget::Uri(u) => f.write_str(u),
            DialTarget::Account(a) => write!(f, "account:{a}"),
            DialTarget::Number(n) => write!(f, "number:{n}"),
        }
    }
}

/// One outgoing call to place.
#[derive(Clone, Debug)]
pub struct DialSpec {
    /// The call this leg belongs to (logs).
    pub call_id: CallId,
    /// Who to ring.
    pub target: DialTarget,
    /// The number shown to the callee (From user part): the caller's, when known.
    pub from_user: Option<String>,
    /// Give up (CANCEL) when nobody answered within this time: [`DialOutcome::NoAnswer`].
    pub ring_timeout: Duration,
    /// Digest credentials for a trunk that challenges our INVITE (RFC 2617/8760).
    pub credential: Option<DigestCredential>,
    /// Record the answered leg to this WAV (8 kHz stereo: what the far end sends on the
    /// left, what we send on the right, like a call's recording); `None`: no recording (a bridged leg, whose call is
    /// recorded on the caller's leg).
    pub record: Option<std::path::PathBuf>,
    /// Where the answered leg's media events go (digits, playback started/done, speech);
    /// `None`: they are dropped (a bridged leg passes digits on through the bridge).
    pub media_events: Option<mpsc::UnboundedSender<MediaEvent>>,
    /// More INVITE headers, (name, value): the queue names the call for the console
    /// (`X-Zvonar-Call`), whose page then shows the caller's card while it rings.
    pub headers: Vec<(String, String)>,
    /// Where REFERs from the answered far end go (an agent transferring the caller, RFC
    /// 3515; [`super::transfer`]); `None`: a REFER is answered 403 Forbidden.
    pub refers: Option<mpsc::UnboundedSender<zvonar_sip::uac::ReferRequest>>,
}

/// Why no INVITE went out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DialStartError {
    /// The engine runs without a SIP stack (tests, tools).
    #[error("no SIP stack")]
    NoSip,
    /// The registrar is off (`[sip.registrar]` not set), so accounts cannot be rung.
    #[error("the registrar is off: SIP accounts cannot be rung")]
    NoRegistrar,
    /// The account has no live registration (its phone is off or unplugged).
    #[error("SIP account {0:?} is not registered")]
    NotRegistered(String),
    /// A number to dial through trunks that is not a phone number (digits, a leading `+`).
    #[error("{0:?} is not a phone number")]
    BadNumber(String),
    /// No trunk can take the call now (none registered, all at their channel limit…).
    #[error("no trunk for the call: {0}")]
    NoTrunk(#[from] super::trunks::NoTrunk),
    /// No free RTP port for the leg.
    #[error("no RTP port: {0}")]
    NoRtpPort(String),
    /// The target is not a usable SIP URI, or the stack refused the INVITE.
    #[error(transparent)]
    Sip(#[from] zvonar_sip::uac::DialError),
}

impl DialStartError {
    /// The outcome to report for an attempt that could not start: an unregistered account
    /// is [`DialOutcome::NoAnswer`] (nobody there to answer, like a phone that is off),
    /// a bad URI [`DialOutcome::InvalidNumber`], the rest [`DialOutcome::Failed`] with 500.
    pub fn outcome(&self) -> DialOutcome {
        match self {
            DialStartError::NotRegistered(_) => DialOutcome::NoAnswer,
            DialStartError::Sip(zvonar_sip::uac::DialError::BadUri { .. })
            | DialStartError::BadNumber(_) => DialOutcome::InvalidNumber,
            DialStartError::NoTrunk(_) => DialOutcome::Failed(503),
            _ => DialOutcome::Failed(500),
        }
    }
}

/// What happens to an [`OutboundLeg`], in order: `Ringing`? then exactly one of `Answered`
/// or `Failed`; after `Answered`, one `HungUp`. The channel closes after the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialEvent {
    /// The far end is ringing (first 180 or 183).
    Ringing,
    /// The far end answered (2xx, ACKed) and the leg's media runs: bridge it now.
    Answered {
        /// The codec the far leg negotiated (may differ from the caller's: the bridge
        /// transcodes through PCM).
        codec: Codec,
    },
    /// The attempt ended unanswered.
    Failed(DialOutcome),
    /// The answered leg ended: [`LegEnd::PeerBye`] when the far end hung up, `OurBye` after
    /// [`OutboundLeg::hangup`].
    HungUp(LegEnd),
}

#[allow(dead_code)] // `Cancel` is sent by `OutboundLeg::cancel` (the queue runtime's).
enum Control {
    Cancel,
    Hangup,
}

/// An outgoing leg being rung or talking; see the module docs. Dropping it hangs it up.
// `cancel` and `sip_call_id` are the queue runtime's (issue 7), not yet called in this binary.
#[allow(dead_code)]
pub struct OutboundLeg {
    party: String,
    sip_call_id: String,
    events: mpsc::UnboundedReceiver<DialEvent>,
    control: mpsc::UnboundedSender<Control>,
    media: mpsc::UnboundedSender<MediaCommand>,
    /// The SIP account rung ([`DialTarget::Account`]), for [`OutboundLeg::agent_busy`].
    account: Option<String>,
    queues: Option<super::queue::QueueHandle>,
    /// Keeps the account's agent busy in the queues while this leg lives.
    busy: Option<super::queue::OwnCallGuard>,
}

#[allow(dead_code)] // see the struct
impl OutboundLeg {
    /// Who is rung, as a SIP URI (for an account: its registered Contact).
    pub fn party(&self) -> &str {
        &self.party
    }

    /// The SIP Call-ID of the outgoing dialog.
    pub fn sip_call_id(&self) -> &str {
        &self.sip_call_id
    }

    /// Marks this leg as the queue's own offer to an agent, which the queue counts itself:
    /// its answer does not make the agent busy a second time ([`OutboundLeg::next_event`]).
    pub fn offered_by_queue(&mut self) {
        self.account = None;
    }

    /// An answered leg to a SIP account outside the queues (a transfer or consultation to a
    /// colleague's extension, a `dial` flow to an account, a duty call-out to an account)
    /// keeps that account's agent busy in the queues until the leg is dropped (on a call,
    /// offered nothing, then wrap-up: [`super::queue::OwnCallGuard`]), so a queue does not
    /// ring a phone that is talking. Called by [`OutboundLeg::next_event`] when it yields
    /// `Answered`; again, or for a number or URI, it does nothing.
    fn agent_busy(&mut self) {
        if self.busy.is_some() {
            return;
        }
        if let (Some(account), Some(queues)) = (&self.account, &self.queues) {
            self.busy = Some(super::queue::OwnCallGuard::start(
                queues,
                account,
                &format!("leg:{}", self.sip_call_id),
            ));
        }
    }

    /// The next event; `None` once the leg is over (after `Failed` or `HungUp`). An
    /// `Answered` leg to an agent's account makes the agent busy in the queues
    /// ([`OutboundLeg::agent_busy`]) unless it is the queue's own offer
    /// ([`OutboundLeg::offered_by_queue`]).
    pub async fn next_event(&mut self) -> Option<DialEvent> {
        let ev = self.events.recv().await;
        if matches!(ev, Some(DialEvent::Answered { .. })) {
            self.agent_busy();
        }
        ev
    }

    /// Stops ringing: CANCEL (RFC 3261 §9.1); the leg then reports
    /// `Failed(DialOutcome::Cancelled)` — or `Answered` if the far end answered first.
    pub fn cancel(&self) {
        let _ = self.control.send(Control::Cancel);
    }

    /// Ends the leg: BYE once answered (then `HungUp(LegEnd::OurBye)`), CANCEL while ringing.
    pub fn hangup(&self) {
        let _ = self.control.send(Control::Hangup);
    }

    /// Commands to the leg's media task (valid after `Answered`; before that they are
    /// queued and applied when the media starts).
    pub fn media(&self) -> &mpsc::UnboundedSender<MediaCommand> {
        &self.media
    }
}

/// The `dial_failed` event of a leg to `party` that rang and failed with `outcome`: its
/// final SIP status when the far end gave one (`Failed(s)`; the other outcomes are named by
/// their code).
pub fn failed_event(party: &str, outcome: DialOutcome) -> zvonar_models::CallEventKind {
    zvonar_models::CallEventKind::DialFailed {
        party: party.to_string(),
        outcome: outcome.code().to_string(),
        status: match outcome {
            DialOutcome::Failed(s) if s > 0 => Some(s),
            _ => None,
        },
    }
}

/// Connects two legs' media tasks with a new bridge ([`bridge::pair`]): from the next tick
/// each sends what the other receives. A later [`MediaCommand::Unbridge`] or a leg's media
/// ending leaves the other on comfort silence.
pub fn bridge_media(
    a: &mpsc::UnboundedSender<MediaCommand>,
    b: &mpsc::UnboundedSender<MediaCommand>,
) {
    let (pa, pb) = bridge::pair();
    let _ = a.send(MediaCommand::StopPlayback);
    let _ = a.send(MediaCommand::Bridge(pa));
    let _ = b.send(MediaCommand::Bridge(pb));
}

/// Bridges the call whose media commands are `call_media` (the caller's leg) to an answered
/// outgoing `leg`. Prompts playing to the caller stop.
pub fn bridge(call_media: &mpsc::UnboundedSender<MediaCommand>, leg: &OutboundLeg) {
    bridge_media(call_media, leg.media());
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Whether `n` is a phone number to dial through a trunk: 2–20 digits after an optional `+`.
pub fn is_phone_number(n: &str) -> bool {
    let digits = n.strip_prefix('+').unwrap_or(n);
    (2..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The failover state of a leg dialled through trunks.
struct TrunkAttempts {
    shared: Arc<Shared>,
    number: String,
    offer: String,
    /// Trunks tried so far for this call (indices into [`super::trunks::Trunks`]).
    tried: Vec<usize>,
    /// The channel of the trunk now being tried, held until the leg ends.
    channel: super::trunks::ChannelGuard,
}

/// Whether a final response lets a trunk leg fail over to the next trunk: 503 Service
/// Unavailable (also our own code for a transport error, RFC 3261 §8.1.3.1) and 408
/// (Timer B: no response at all; RFC 3261 §17.1.1.2).
pub fn fails_over(status: u16) -> bool {
    matches!(status, 503 | 408)
}

/// Sends the INVITE for `number` through the next trunk not in `tried` (which it extends):
/// the leg, its signals and the trunk's channel. A trunk whose INVITE cannot be sent (its
/// outbound proxy does not resolve, the stack refuses) is skipped for the next.
///
/// Errors: [`DialStartError::NoTrunk`] when no trunk is left;
/// [`DialStartError::Sip`] when the number makes no valid URI.
async fn invite_via_trunk(
    shared: &Shared,
    sip: &zvonar_sip::ua::SipServer,
    call_id: &CallId,
    number: &str,
    offer: &str,
    tried: &mut Vec<usize>,
) -> Result<
    (
        OutgoingLeg,
        mpsc::UnboundedReceiver<LegSignal>,
        super::trunks::ChannelGuard,
    ),
    DialStartError,
> {
    loop {
        let channel = shared.trunks.acquire(std::time::Instant::now(), tried)?;
        let i = channel.index();
        tried.push(i);
        let def = shared.trunks.def(i);
        let destination = match &def.outbound_proxy {
            None => None,
            Some((host, port)) => match tokio::net::lookup_host((host.as_str(), *port)).await {
                Ok(mut a) => a.next(),
                Err(e) => {
                    tracing::warn!(%call_id, trunk = %def.name, proxy = %host, error = %e,
                        "trunk's outbound proxy does not resolve: next trunk");
                    continue;
                }
            },
        };
        let host = def.domain().to_string();
        let req = DialRequest {
            target: def.uri_for(number),
            destination,
            tcp: def.tcp,
            from_user: def.caller_id.clone(),
            from_display: None,
            from_host: Some(host.clone()),
            asserted_identity: Some(format!(
                "<sip:{}@{host}>",
                zvonar_sip::uac::from_user_part(&def.caller_id)
            )),
            ws: false,
            headers: Vec::new(),
            offer: offer.to_string(),
            credential: Some(def.credential()),
        };
        match sip.dial(req) {
            Ok((leg, signals)) => {
                tracing::info!(%call_id, trunk = %def.name, sip_call_id = leg.sip_call_id(),
                    "dialling through trunk");
                return Ok((leg, signals, channel));
            }
            Err(e @ zvonar_sip::uac::DialError::BadUri { .. }) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(%call_id, trunk = %def.name, error = %e, "INVITE not sent: next trunk");
            }
        }
    }
}

/// Where an account is rung: its most recently refreshed live binding's Contact, the
/// address its REGISTER came from, and its transport (`udp`, `tcp`, or `ws` for a browser).
fn account_contact(
    shared: &Shared,
    sip: &zvonar_sip::ua::SipServer,
    user: &str,
) -> Result<(String, Option<SocketAddr>, &'static str), DialStartError> {
    let _ = shared;
    let registrar = sip.registrar().ok_or(DialStartError::NoRegistrar)?;
    let bindings = registrar
        .lock()
        .map(|mut r| r.bindings(user, now_s()))
        .unwrap_or_default();
    let b = bindings
        .into_iter()
        .max_by_key(|b| b.expires_at)
        .ok_or_else(|| DialStartError::NotRegistered(user.to_string()))?;
    let uri = b
        .uri
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    Ok((uri, b.source, b.transport))
}

/// Places an outgoing call: binds the leg's RTP socket, sends the INVITE with our offer
/// (PCMA, PCMU, telephone-event) and starts the leg's task. An account registered over
/// WebSocket (the browser console) gets a WebRTC offer instead ([`WebRtcLeg::offer`]:
/// ICE-lite, DTLS-SRTP, PCMA) over its WebSocket connection.
///
/// Errors: [`DialStartError`] when nothing was sent (no SIP stack, account not
/// registered, no RTP port, bad URI); [`DialStartError::outcome`] maps it for the CDR.
pub async fn dial(shared: &Arc<Shared>, spec: DialSpec) -> Result<OutboundLeg, DialStartError> {
    let sip = shared.sip().ok_or(DialStartError::NoSip)?;
    let (target, destination, transport) = match &spec.target {
        DialTarget::Uri(u) => (u.clone(), None, "udp"),
        DialTarget::Account(a) => account_contact(shared, &sip, a)?,
        DialTarget::Number(n) if !is_phone_number(n) => {
            return Err(DialStartError::BadNumber(n.clone()))
        }
        DialTarget::Number(_) => (String::new(), None, "udp"),
    };
    let (tcp, ws) = (transport == "tcp", transport == "ws");
    let (media, offer) = if ws {
        let cfg = WebRtcConfig {
            bind_ip: shared.rtp_bind_ip,
            public_ip: shared.public_ip,
            ports: shared.rtp_ports.clone(),
        };
        let (leg, offer) = WebRtcLeg::offer(Codec::Pcma, &cfg)
            .await
            .map_err(|e| DialStartError::NoRtpPort(e.to_string()))?;
        (LegMedia::WebRtc(Arc::new(leg)), offer)
    } else {
        let (socket, sdp, offer) = rtp_offer(shared, &spec, destination).await?;
        (
            LegMedia::Rtp {
                socket,
                sdp: Box::new(sdp),
            },
            offer,
        )
    };
    let (leg, signals, trunk, target) = match &spec.target {
        DialTarget::Number(number) => {
            let mut tried = Vec::new();
            let (leg, signals, channel) =
                invite_via_trunk(shared, &sip, &spec.call_id, number, &offer, &mut tried).await?;
            let target = shared.trunks.def(channel.index()).uri_for(number);
            let trunk = TrunkAttempts {
                shared: shared.clone(),
                number: number.clone(),
                offer,
                tried,
                channel,
            };
            (leg, signals, Some(trunk), target)
        }
        _ => {
            let (leg, signals) = sip.dial(DialRequest {
                target: target.clone(),
                destination,
                tcp,
                ws,
                headers: spec.headers.clone(),
                from_user: spec.from_user.clone().unwrap_or_default(),
                from_display: None,
                from_host: None,
                asserted_identity: None,
                offer,
                credential: spec.credential.clone(),
            })?;
            (leg, signals, None, target)
        }
    };
    tracing::info!(call_id = %spec.call_id, party = %target, sip_call_id = leg.sip_call_id(), "dialling");
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let (media_tx, media_rx) = mpsc::unbounded_channel();
    let sip_call_id = leg.sip_call_id().to_string();
    tokio::spawn(
        LegTask {
            call_id: spec.call_id.clone(),
            leg,
            signals,
            media,
            events: ev_tx,
            control: ctl_rx,
            media_rx: Some(media_rx),
            media_tx: media_tx.clone(),
            ring_timeout: spec.ring_timeout,
            trunk,
            record: spec.record.clone(),
            media_events: spec.media_events.clone(),
            refers: spec.refers.clone(),
        }
        .run(),
    );
    Ok(OutboundLeg {
        party: target,
        sip_call_id,
        events: ev_rx,
        control: ctl_tx,
        media: media_tx,
        account: match &spec.target {
            DialTarget::Account(a) => Some(a.clone()),
            _ => None,
        },
        queues: shared.queues.clone(),
        busy: None,
    })
}

/// The RTP socket of an outgoing SIP/RTP leg and our offer (PCMA, PCMU, telephone-event).
async fn rtp_offer(
    shared: &Shared,
    spec: &DialSpec,
    destination: Option<SocketAddr>,
) -> Result<(Arc<RtpSocket>, CallSdp, String), DialStartError> {
    let placeholder = SocketAddr::new(std::net::IpAddr::from([0, 0, 0, 0]), 0);
    let socket = RtpSocket::bind(RtpConfig {
        bind_ip: shared.rtp_bind_ip,
        ports: shared.rtp_ports.clone(),
        codec: Codec::Pcma,
        remote: placeholder,
        remote_rtcp: None,
        signalling_source: destination.map(|d| d.ip()),
        cname: format!("zvonar-{}-out", spec.call_id),
    })
    .await
    .map_err(|e| DialStartError::NoRtpPort(e.to_string()))?;
    let socket = Arc::new(socket);
    let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
    let mut sdp = CallSdp::new(LocalMedia::new(shared.public_ip, port));
    let offer = sdp.initial_offer();
    Ok((socket, sdp, offer))
}

/// The media side of an outgoing leg.
enum LegMedia {
    /// SIP/RTP: the socket and the leg's SDP state (offer/answer, re-INVITEs).
    Rtp {
        socket: Arc<RtpSocket>,
        /// Boxed: the SDP state is large beside the WebRTC variant.
        sdp: Box<CallSdp>,
    },
    /// A browser's WebRTC leg (offered by us; the answer comes in the 2xx).
    WebRtc(Arc<WebRtcLeg>),
}

/// Why we are cancelling, to tell our ring timeout from a cancel asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Giving {
    No,
    Timeout,
    Asked,
}

/// What a final response to our INVITE means, given whether and why we cancelled.
pub fn outcome_of(status: u16, cancelled: bool, by_timeout: bool) -> DialOutcome {
    match (cancelled, by_timeout) {
        (true, true) => DialOutcome::NoAnswer,
        (true, false) => DialOutcome::Cancelled,
        _ => DialOutcome::from_status(status),
    }
}

struct LegTask {
    call_id: CallId,
    leg: OutgoingLeg,
    signals: mpsc::UnboundedReceiver<LegSignal>,
    media: LegMedia,
    events: mpsc::UnboundedSender<DialEvent>,
    control: mpsc::UnboundedReceiver<Control>,
    media_rx: Option<mpsc::UnboundedReceiver<MediaCommand>>,
    media_tx: mpsc::UnboundedSender<MediaCommand>,
    ring_timeout: Duration,
    /// Set for a number dialled through trunks: failover, and the trunk's channel.
    trunk: Option<TrunkAttempts>,
    /// [`DialSpec::record`].
    record: Option<std::path::PathBuf>,
    /// [`DialSpec::media_events`].
    media_events: Option<mpsc::UnboundedSender<MediaEvent>>,
    /// [`DialSpec::refers`].
    refers: Option<mpsc::UnboundedSender<zvonar_sip::uac::ReferRequest>>,
}

impl LegMedia {
    /// Applies the far end's answer (the 2xx's SDP): the negotiated media, and the leg the
    /// media task runs on. Errors: why the answer is unusable (the leg is then ended).
    async fn on_answer(
        &mut self,
        sdp: Option<&str>,
    ) -> Result<(super::reoffer::MediaState, media::MediaLeg), String> {
        match self {
            LegMedia::Rtp {
                socket,
                sdp: call_sdp,
            } => {
                let m = call_sdp.on_answer(sdp).map_err(|e| e.to_string())?;
                socket.set_remote(m.remote);
                socket.set_codec(m.codec, m.audio_pt);
                Ok((m, media::MediaLeg::Rtp(socket.clone())))
            }
            LegMedia::WebRtc(leg) => {
                let answer = sdp.ok_or("no SDP in the browser's answer")?;
                leg.accept_answer(answer).await.map_err(|e| e.to_string())?;
                let c = leg.choice();
                let m = super::reoffer::MediaState {
                    remote: leg.local_addr(),
                    codec: c.codec,
                    audio_pt: c.audio_pt,
                    te_pt: None,
                    send: true,
                };
                Ok((m, media::MediaLeg::WebRtc(leg.clone())))
            }
        }
    }
}

impl LegTask {
    /// After `status` from the trunk being tried: the INVITE through the next trunk, when
    /// the status allows failover and a trunk is left. The old trunk's channel is freed.
    async fn fail_over(&mut self, status: u16) -> bool {
        let Some(t) = self.trunk.as_mut() else {
            return false;
        };
        if !fails_over(status) {
            return false;
        }
        let Some(sip) = t.shared.sip() else {
            return false;
        };
        let from = t.shared.trunks.def(t.channel.index()).name.clone();
        match invite_via_trunk(
            &t.shared,
            &sip,
            &self.call_id,
            &t.number,
            &t.offer,
            &mut t.tried,
        )
        .await
        {
            Ok((leg, signals, channel)) => {
                tracing::info!(call_id = %self.call_id, status, from = %from,
                    to = %t.shared.trunks.def(channel.index()).name, "trunk failover");
                t.channel = channel;
                self.leg = leg;
                self.signals = signals;
                true
            }
            Err(e) => {
                tracing::info!(call_id = %self.call_id, status, trunk = %from, error = %e, "no trunk to fail over to");
                false
            }
        }
    }

    async fn run(mut self) {
        let call_id = self.call_id.clone();
        let ring_until = tokio::time::Instant::now() + self.ring_timeout;
        let mut giving = Giving::No;
        let mut cancel_deadline: Option<tokio::time::Instant> = None;
        let mut ringing = false;
        // Ringing phase.
        let (media_task, mut media_events) = loop {
            tokio::select! {
                sig = self.signals.recv() => match sig {
                    Some(LegSignal::Progress { .. }) => {
                        if !ringing {
                            ringing = true;
                            let _ = self.events.send(DialEvent::Ringing);
                        }
                    }
                    Some(LegSignal::Answered { sdp }) => {
                        match self.media.on_answer(sdp.as_deref()).await {
                            Ok((m, leg_media)) => {
                                if giving != Giving::No {
                                    // The 2xx crossed our CANCEL (RFC 3261 §9.1): we gave up
                                    // on this leg already, so it is ended with BYE.
                                    tracing::info!(%call_id, "answered after CANCEL: BYE");
                                    self.leg.hangup().await;
                                    let _ = self.events.send(DialEvent::Failed(outcome_of(487, true, giving == Giving::Timeout)));
                                    return;
                                }
                                let (ev_tx, ev_rx) = mpsc::unbounded_channel();
                                let Some(cmds) = self.media_rx.take() else { return };
                                let recorder = self.record.as_ref().and_then(|path| {
                                    let made = path.parent().map_or(Ok(()), std::fs::create_dir_all);
                                    match made.map_err(|e| e.to_string()).and_then(|()| {
                                        zvonar_voice::recorder::RecorderThread::spawn(path).map_err(|e| e.to_string())
                                    }) {
                                        Ok(r) => Some(r),
                                        Err(e) => {
                                            tracing::error!(%call_id, error = %e, "outgoing leg: recording not started");
                                            None
                                        }
                                    }
                                });
                                let task = tokio::spawn(media::run(
                                    leg_media,
                                    MediaParams {
                                        codec: m.codec,
                                        audio_pt: m.audio_pt,
                                        te_pt: m.te_pt,
                                        vad: Default::default(),
                                        send: m.send,
                                    },
                                    recorder,
                                    cmds,
                                    ev_tx,
                                ));
                                let _ = self.events.send(DialEvent::Answered { codec: m.codec });
                                break (task, ev_rx);
                            }
                            Err(why) => {
                                tracing::info!(%call_id, reason = %why, "outgoing leg: unusable SDP answer: BYE");
                                self.leg.hangup().await;
                                let _ = self.events.send(DialEvent::Failed(DialOutcome::Failed(488)));
                                return;
                            }
                        }
                    }
                    Some(LegSignal::Failed { status, reason }) => {
                        if giving == Giving::No && self.fail_over(status).await {
                            continue;
                        }
                        let outcome = outcome_of(status, giving != Giving::No, giving == Giving::Timeout);
                        tracing::info!(%call_id, status, %reason, outcome = outcome.code(), "outgoing leg not answered");
                        let _ = self.events.send(DialEvent::Failed(outcome));
                        return;
                    }
                    Some(LegSignal::Dialog(_)) | Some(LegSignal::Ended(_)) => {}
                    Some(LegSignal::Refer(r)) => {
                        tokio::spawn(r.reject(403));
                    }
                    None => {
                        let _ = self.events.send(DialEvent::Failed(DialOutcome::Failed(500)));
                        return;
                    }
                },
                _ = tokio::time::sleep_until(ring_until), if giving == Giving::No => {
                    giving = Giving::Timeout;
                    cancel_deadline = Some(tokio::time::Instant::now() + CANCEL_GRACE);
                    self.leg.cancel().await;
                }
                _ = async { match cancel_deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                    tracing::warn!(%call_id, "no final response after CANCEL; giving the attempt up");
                    let _ = self.events.send(DialEvent::Failed(outcome_of(487, true, giving == Giving::Timeout)));
                    return; // dropping `signals` makes zvonar-sip hang the leg up
                }
                ctl = self.control.recv(), if giving != Giving::Asked => match ctl {
                    Some(Control::Cancel) | Some(Control::Hangup) | None => {
                        if giving == Giving::No {
                            cancel_deadline = Some(tokio::time::Instant::now() + CANCEL_GRACE);
                        }
                        giving = Giving::Asked;
                        self.leg.cancel().await;
                    }
                },
            }
        };
        // Talking phase.
        let end = loop {
            tokio::select! {
                sig = self.signals.recv() => match sig {
                    Some(LegSignal::Dialog(CallSignal::Offer { sdp, responder, .. })) if matches!(self.media, LegMedia::WebRtc(_)) => {
                        // The console's hold/resume: a re-INVITE from the browser, answered
                        // on the same peer connection; on hold nothing is sent to it.
                        let LegMedia::WebRtc(w) = &self.media else { continue };
                        match w.reoffer(&sdp).await {
                            Ok((answer, receives)) => {
                                let c = w.choice();
                                let _ = self.media_tx.send(MediaCommand::Renegotiate(super::reoffer::MediaState {
                                    remote: w.local_addr(),
                                    codec: c.codec,
                                    audio_pt: c.audio_pt,
                                    te_pt: None,
                                    send: receives,
                                }));
                                tracing::info!(%call_id, hold = !receives, "browser re-INVITE answered");
                                responder.respond(200, Some(("application/sdp".to_string(), answer.into_bytes()))).await;
                            }
                            Err(e) => {
                                tracing::info!(%call_id, error = %e, "browser re-INVITE refused");
                                responder.respond(488, None).await;
                            }
                        }
                    }
                    Some(LegSignal::Dialog(CallSignal::Offer { sdp, cseq, reinvite, responder })) => {
                        let LegMedia::Rtp { sdp: call_sdp, .. } = &mut self.media else { continue };
                        let reply = call_sdp.on_offer(&sdp, cseq, reinvite);
                        if let Some(m) = reply.media {
                            let _ = self.media_tx.send(MediaCommand::Renegotiate(m));
                        }
                        let body = reply.sdp.map(|b| ("application/sdp".to_string(), b.into_bytes()));
                        responder.respond(reply.status, body).await;
                    }
                    Some(LegSignal::Dialog(CallSignal::Info { content_type, body, responder })) => {
                        responder.respond(200, None).await;
                        let digit = zvonar_voice::dtmf::parse_dtmf_info(&content_type, &body);
                        tracing::debug!(%call_id, ?digit, %content_type, "INFO on the leg");
                        if let Some(d) = digit {
                            let _ = self.media_tx.send(MediaCommand::Digit(d));
                        }
                    }
                    Some(LegSignal::Dialog(CallSignal::Confirmed { ack_cseq, sdp })) => {
                        if let LegMedia::Rtp { sdp: call_sdp, .. } = &mut self.media {
                            if let AckOutcome::Answered(m) = call_sdp.on_ack(ack_cseq, sdp.as_deref()) {
                                let _ = self.media_tx.send(MediaCommand::Renegotiate(m));
                            }
                        }
                    }
                    Some(LegSignal::Refer(r)) => match &self.refers {
                        Some(tx) => {
                            if let Err(e) = tx.send(r) {
                                tokio::spawn(e.0.reject(503));
                            }
                        }
                        None => {
                            tracing::info!(%call_id, "REFER on a leg that cannot transfer: 403");
                            tokio::spawn(r.reject(403));
                        }
                    },
                    Some(LegSignal::Ended(end)) => break end,
                    Some(_) => {}
                    None => break LegEnd::Other(0),
                },
                ctl = self.control.recv() => match ctl {
                    Some(Control::Hangup) | None => {
                        self.leg.hangup().await;
                        break LegEnd::OurBye;
                    }
                    Some(Control::Cancel) => {}
                },
                ev = media_events.recv() => match ev {
                    Some(ev) => {
                        if let Some(tx) = &self.media_events {
                            let _ = tx.send(ev);
                        }
                    }
                    None => {
                        tracing::warn!(%call_id, "outgoing leg's media stopped: BYE");
                        self.leg.hangup().await;
                        break LegEnd::Other(0);
                    }
                },
            }
        };
        let _ = self.media_tx.send(MediaCommand::Stop);
        let (stats, recorder): (MediaStats, _) = media_task.await.unwrap_or_default();
        if let Some(r) = recorder {
            if let Err(e) = tokio::task::spawn_blocking(move || r.finish())
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
            {
                tracing::error!(%call_id, error = %e, "outgoing leg: recording not finished");
            }
        }
        if let LegMedia::WebRtc(w) = &self.media {
            w.close().await;
        }
        tracing::info!(%call_id, end = ?end, max_gap_ms = stats.max_send_gap_ms,
            frames = stats.frames_sent, received = stats.packets_received, "outgoing leg ended");
        let _ = self.events.send(DialEvent::HungUp(end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_cancel_decides_the_outcome() {
        // Our ring timeout: the 487 that answers our CANCEL is "no answer".
        assert_eq!(outcome_of(487, true, true), DialOutcome::NoAnswer);
        // A cancel asked for (the caller left, another agent answered): "cancelled".
        assert_eq!(outcome_of(487, true, false), DialOutcome::Cancelled);
        // A busy that crossed our CANCEL is still ours to report as the cancel's reason.
        assert_eq!(outcome_of(486, true, false), DialOutcome::Cancelled);
        // Without a cancel the status decides.
        assert_eq!(outcome_of(486, false, false), DialOutcome::Busy);
        assert_eq!(outcome_of(603, false, false), DialOutcome::Rejected);
        assert_eq!(outcome_of(404, false, false), DialOutcome::InvalidNumber);
        assert_eq!(outcome_of(502, false, false), DialOutcome::Failed(502));
    }

    #[test]
    fn attempts_that_cannot_start_have_an_outcome() {
        assert_eq!(
            DialStartError::NotRegistered("101".into()).outcome(),
            DialOutcome::NoAnswer
        );
        assert_eq!(DialStartError::NoSip.outcome(), DialOutcome::Failed(500));
        assert_eq!(
            DialStartError::Sip(zvonar_sip::uac::DialError::BadUri {
                uri: "x".into(),
                reason: "y".into()
            })
            .outcome(),
            DialOutcome::InvalidNumber
        );
    }
}
