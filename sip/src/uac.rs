//! The user agent client: outgoing INVITE dialogs, the second leg of a B2BUA call
//! (ringing an operator's desk phone, a registered softphone or any SIP URI).
//!
//! rsipstack's dialog layer carries the INVITE client transaction (retransmissions, Timer
//! B, ACK for 2xx, CANCEL only after a provisional response, RFC 3261 §9.1, §13.2.2,
//! §17.1.1) and digest authentication on 401/407 with the configured credentials (RFC 2617,
//! RFC 8760). This module turns it into one [`OutgoingLeg`] handle and one channel of
//! [`LegSignal`]s per attempt:
//!
//! ```text
//! SipServer::dial ──INVITE+offer──► far end
//!   ◄─ Progress{180|183, sdp?}      (0..n)
//!   ◄─ Answered{sdp}  | Failed{status}     exactly one of them
//!   ◄─ Dialog(Offer|Info|Confirmed)        (after Answered: re-INVITE, INFO…)
//!   ◄─ Refer(ReferRequest)                  (after Answered: the far end transfers, RFC 3515)
//!   ◄─ Ended(LegEnd)                        (after Answered: BYE either way)
//! ```
//!
//! The outcome of a failed attempt is [`DialOutcome::from_status`]; "no answer" is the
//! caller's own ring timer (it calls [`OutgoingLeg::cancel`]), since RFC 3261 leaves the
//! ringing time to the UAC. Dropping the signal receiver while the leg rings or talks
//! hangs it up (CANCEL or BYE), so no phone is left ringing for a call that is gone.

use crate::ua::{CallSignal, Responder, ALLOW};
use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::{Dialog, DialogState, DialogStateReceiver, TerminatedReason};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::{InviteAsyncResult, InviteOption};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::dialog::DialogId;
use rsipstack::sip::{Header, HeadersExt, Method, StatusCode, StatusCodeKind};
use rsipstack::transport::SipAddr;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Digest credentials for a trunk or a PBX that challenges our INVITEs (RFC 2617, RFC 8760;
/// MD5 and SHA-256 as rsipstack supports them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestCredential {
    /// Digest username.
    pub username: String,
    /// Password (never logged: `Debug` of [`DialRequest`] hides it).
    pub password: String,
    /// The realm to answer; `None` answers whatever realm the challenge names.
    pub realm: Option<String>,
    /// The digest username (RFC 2617 §3.2.2) when it differs from `username` (a provider's
    /// "authentication ID"); `None` authenticates as `username`.
    pub auth_username: Option<String>,
}

/// Where and how to place one outgoing call.
#[derive(Clone)]
pub struct DialRequest {
    /// Request-URI: a SIP URI (`sip:101@192.0.2.5:5062`), e.g. a registered Contact
    /// (RFC 3261 §10.2, §16.5 retargeting) or a configured number at a trunk.
    pub target: String,
    /// Where to send the INVITE instead of the URI's host and port: the address the
    /// REGISTER came from, so a phone behind NAT is reached (RFC 3261 §18.2.2 `received`/
    /// RFC 3581 `rport`); `None` sends it to the URI's host.
    pub destination: Option<SocketAddr>,
    /// Send over TCP instead of UDP.
    pub tcp: bool,
    /// Send over the peer's SIP-over-WebSocket connection (RFC 7118 §5: a browser is
    /// reached only over the WebSocket it registered on; `destination` is that connection's
    /// peer). Takes precedence over `tcp`.
    pub ws: bool,
    /// More headers for the INVITE, (name, value); e.g. `X-Zvonar-Call` for the console.
    pub headers: Vec<(String, String)>,
    /// From user part: the number shown to the callee (the original caller's, for a
    /// B2BUA leg), or `zvonar` when unknown.
    pub from_user: String,
    /// From display name (e.g. the caller's number or «Очередь»), if any.
    pub from_display: Option<String>,
    /// From URI host instead of our address: a trunk's domain, which providers check
    /// (`None`: our public address and port).
    pub from_host: Option<String>,
    /// A P-Asserted-Identity header value (RFC 3325 §9.1), e.g. `<sip:74951234567@trunk>`:
    /// the number a trunk presents for us; `None` sends none.
    pub asserted_identity: Option<String>,
    /// Our SDP offer (RFC 3264 §5), `application/sdp`.
    pub offer: String,
    /// Answer 401/407 challenges with these; `None`: a challenge is final.
    pub credential: Option<DigestCredential>,
}

impl std::fmt::Debug for DialRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialRequest")
            .field("target", &self.target)
            .field("destination", &self.destination)
            .field("tcp", &self.tcp)
            .field("ws", &self.ws)
            .field("from_user", &self.from_user)
            .field(
                "credential",
                &self.credential.as_ref().map(|c| c.username.as_str()),
            )
            .finish()
    }
}

/// Why [`crate::ua::SipServer::dial`] could not even send the INVITE.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DialError {
    /// The target or a header built from the request is not a valid SIP URI.
    #[error("invalid SIP URI {uri:?}: {reason}")]
    BadUri {
        /// The text.
        uri: String,
        /// Why.
        reason: String,
    },
    /// rsipstack refused to build the INVITE.
    #[error("INVITE not sent: {0}")]
    Stack(String),
}

/// How an unanswered attempt ended, for the dialplan's fallbacks and the CDR.
///
/// Mapping of final responses (RFC 3261 §21): 486 Busy Here and 600 Busy Everywhere are
/// [`DialOutcome::Busy`]; 603 Decline is [`DialOutcome::Rejected`]; 404 Not Found, 484
/// Address Incomplete and 604 Does Not Exist Anywhere are [`DialOutcome::InvalidNumber`];
/// 408 Request Timeout and 480 Temporarily Unavailable (a phone or proxy that stopped
/// ringing, or Timer B without any response) are [`DialOutcome::NoAnswer`], like our own
/// ring timeout; everything else is [`DialOutcome::Failed`] with the status (503 for a
/// transport error, RFC 3261 §8.1.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DialOutcome {
    /// The far end is busy.
    Busy,
    /// Nobody answered before the ring timeout.
    NoAnswer,
    /// The far end declined the call.
    Rejected,
    /// The number or account does not exist.
    InvalidNumber,
    /// We gave up (the caller hung up, or the queue stopped ringing this agent).
    Cancelled,
    /// Any other failure, with the SIP status (0 when none applies).
    Failed(u16),
}

impl DialOutcome {
    /// The outcome of a final non-2xx response `status` (see the type's docs).
    pub fn from_status(status: u16) -> DialOutcome {
        match status {
            486 | 600 => DialOutcome::Busy,
            603 => DialOutcome::Rejected,
            404 | 484 | 604 => DialOutcome::InvalidNumber,
            408 | 480 => DialOutcome::NoAnswer,
            487 => DialOutcome::Cancelled,
            s => DialOutcome::Failed(s),
        }
    }

    /// Stable code for events, CDRs and the dialplan: `busy`, `no_answer`, `rejected`,
    /// `invalid_number`, `cancelled`, `failed`.
    pub fn code(self) -> &'static str {
        match self {
            DialOutcome::Busy => "busy",
            DialOutcome::NoAnswer => "no_answer",
            DialOutcome::Rejected => "rejected",
            DialOutcome::InvalidNumber => "invalid_number",
            DialOutcome::Cancelled => "cancelled",
            DialOutcome::Failed(_) => "failed",
        }
    }
}

/// How an answered outgoing leg ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegEnd {
    /// The far end sent BYE.
    PeerBye,
    /// We sent BYE ([`OutgoingLeg::hangup`]).
    OurBye,
    /// A transaction in the dialog timed out.
    Timeout,
    /// Anything else, with the SIP status involved (0 if none).
    Other(u16),
}

/// What happens on an outgoing leg, in order; see the module docs.
pub enum LegSignal {
    /// A provisional response: 180 Ringing, 183 Session Progress (with early media SDP)…
    Progress {
        /// The status, 101–199 (100 Trying is not reported).
        status: u16,
        /// Its SDP body, when it has one (early media, RFC 3960).
        sdp: Option<String>,
    },
    /// 2xx: the far end answered; the ACK is sent by the stack.
    Answered {
        /// The SDP answer to our offer (`None` if the 2xx had none: a broken peer).
        sdp: Option<String>,
    },
    /// A final non-2xx response, or none at all: the attempt is over.
    Failed {
        /// The final status; 408 when no response came (Timer B), 503 for a transport
        /// error (RFC 3261 §8.1.3.1), 487 after our CANCEL.
        status: u16,
        /// The reason phrase or error text, for the log.
        reason: String,
    },
    /// After answer: a request inside the dialog (re-INVITE/UPDATE offer, INFO) or the ACK
    /// of a re-INVITE we answered, exactly as on an incoming leg. Never `Terminated`.
    Dialog(CallSignal),
    /// After answer: the far end asks zvonar to transfer the other party (REFER, RFC 3515):
    /// answer it with [`ReferRequest::accept`] (202, then NOTIFYs) or
    /// [`ReferRequest::reject`].
    Refer(ReferRequest),
    /// After answer: the dialog ended.
    Ended(LegEnd),
}

/// A REFER received on an answered outgoing leg (the agent's phone asks zvonar, the B2BUA,
/// to move the caller elsewhere; RFC 3515). Answer it exactly once; dropping it unanswered
/// leaves the transaction to time out at the phone.
pub struct ReferRequest {
    /// The `Refer-To` header value as received (parse with
    /// [`crate::refer::parse_refer_to`]); empty when there was none.
    pub refer_to: String,
    /// The `Referred-By` header value (RFC 3892), when given.
    pub referred_by: Option<String>,
    handle: rsipstack::dialog::dialog::TransactionHandle,
    dialog: InviteDialog,
}

impl ReferRequest {
    /// The REFER `req` received in `dialog`, answered through `handle`.
    pub(crate) fn new(
        req: &rsipstack::sip::Request,
        handle: rsipstack::dialog::dialog::TransactionHandle,
        dialog: InviteDialog,
    ) -> Self {
        let value = |name: &str| {
            req.headers
                .iter()
                .find(|h| h.name().eq_ignore_ascii_case(name))
                .map(|h| h.value().trim().to_string())
        };
        ReferRequest {
            refer_to: value("Refer-To").or_else(|| value("r")).unwrap_or_default(),
            referred_by: value("Referred-By").or_else(|| value("b")),
            handle,
            dialog,
        }
    }

    /// Refuses the REFER with `status` (400 malformed, 404 unknown target, 403, 488…); no
    /// subscription is created (RFC 3515 §2.4.2).
    pub async fn reject(self, status: u16) {
        let _ = self.handle.reply(StatusCode::from(status)).await;
    }

    /// Accepts: 202 Accepted, then the first NOTIFY (`100 Trying`, RFC 3515 §2.4.4). The
    /// returned [`ReferNotifier`] sends the later ones.
    pub async fn accept(self) -> ReferNotifier {
        let _ = self.handle.reply(StatusCode::Accepted).await;
        // The 202 goes out from the dialog's task, which then drops the handle's receiver:
        // further (ignored) sends wait while it is alive and fail once it is gone, so the
        // first NOTIFY follows the 202 on the wire (a phone may not expect it before).
        let sent = async {
            while self.handle.reply(StatusCode::Accepted).await.is_ok() {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        };
        if tokio::time::timeout(std::time::Duration::from_secs(2), sent)
            .await
            .is_err()
        {
            tracing::debug!("REFER: the 202 not seen sent within 2 s");
        }
        let mut n = ReferNotifier::new(self.dialog);
        n.progress(100);
        n
    }
}

/// The notifier of an accepted REFER's implicit subscription: reports the new call's status
/// to the transferor as NOTIFYs with a `message/sipfrag` body ([`crate::refer`]). The
/// NOTIFYs go out in order from a task of their own, so a transferor that does not answer
/// them (it hung up, or is gone) never holds up the transfer itself.
pub struct ReferNotifier {
    tx: mpsc::UnboundedSender<crate::refer::ReferNotify>,
    sub: crate::refer::ReferSubscription,
    task: tokio::task::JoinHandle<()>,
}

impl ReferNotifier {
    fn new(dialog: InviteDialog) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<crate::refer::ReferNotify>();
        let task = tokio::spawn(async move {
            while let Some(n) = rx.recv().await {
                let headers = n
                    .headers()
                    .into_iter()
                    .map(|(k, v)| match k.as_str() {
                        "Content-Type" => Header::ContentType(v.into()),
                        _ => Header::Other(k, v),
                    })
                    .collect();
                match dialog
                    .notify(Some(headers), Some(n.body().into_bytes()))
                    .await
                {
                    Ok(Some(resp)) => {
                        tracing::debug!(status = n.status, answer = %resp.status_code, "REFER NOTIFY answered")
                    }
                    Ok(None) => {
                        tracing::debug!(
                            status = n.status,
                            "REFER NOTIFY not sent: dialog not confirmed"
                        )
                    }
                    Err(e) => tracing::debug!(status = n.status, error = %e, "REFER NOTIFY failed"),
                }
            }
        });
        ReferNotifier {
            tx,
            sub: crate::refer::ReferSubscription::new(),
            task,
        }
    }

    /// Reports the new call's status (180 while it rings, 200 once answered, the failure's
    /// status otherwise): what [`crate::refer::ReferSubscription::update`] decides is queued
    /// for sending, nothing after the final one. Returns at once.
    pub fn progress(&mut self, status: u16) {
        for n in self.sub.update(status) {
            let _ = self.tx.send(n);
        }
    }

    /// Whether the final NOTIFY was decided.
    pub fn done(&self) -> bool {
        self.sub.terminated()
    }

    /// Waits until every NOTIFY queued so far has been answered (or has failed), at most
    /// `limit`: the transferor's leg is hung up after its final NOTIFY (RFC 5589 §6).
    pub async fn flushed(self, limit: std::time::Duration) {
        drop(self.tx);
        let _ = tokio::time::timeout(limit, self.task).await;
    }
}

/// One outgoing call attempt: CANCEL it while it rings, BYE it once answered.
#[derive(Clone)]
pub struct OutgoingLeg {
    dialog: InviteDialog,
    sip_call_id: String,
}

impl OutgoingLeg {
    /// The SIP Call-ID of the outgoing dialog.
    pub fn sip_call_id(&self) -> &str {
        &self.sip_call_id
    }

    /// Cancels the attempt (RFC 3261 §9.1): the CANCEL goes out at once after a provisional
    /// response, or as soon as the first one arrives; the far end answers 487 and the leg
    /// reports [`LegSignal::Failed`] with 487. A 2xx that crosses the CANCEL is ACKed and
    /// ended with BYE by the stack. No-op after a final response.
    pub async fn cancel(&self) {
        if let Err(e) = self.dialog.cancel().await {
            tracing::debug!(error = %e, "CANCEL not sent");
        }
    }

    /// Ends the leg: BYE once answered, CANCEL while ringing.
    pub async fn hangup(&self) {
        if let Err(e) = self.dialog.hangup().await {
            tracing::debug!(error = %e, "outgoing leg: hangup not sent");
        }
    }
}

/// What [`crate::ua::SipServer::dial`] needs from the running stack.
#[derive(Clone)]
pub(crate) struct UacContext {
    pub(crate) dialog_layer: Arc<DialogLayer>,
    pub(crate) contact_ip: IpAddr,
    pub(crate) udp_port: u16,
    pub(crate) tcp_port: Option<u16>,
    pub(crate) ws_port: Option<u16>,
    /// The WSS relay and our public WSS port, when WSS is on.
    pub(crate) wss: Option<(crate::wss::Relayed, u16)>,
}

fn uri(text: &str) -> Result<rsipstack::sip::Uri, DialError> {
    rsipstack::sip::Uri::try_from(text).map_err(|e| DialError::BadUri {
        uri: text.to_string(),
        reason: e.to_string(),
    })
}

/// A From user part safe in a SIP URI: digits, `+`, latin letters, `-._*#` kept, anything
/// else dropped; `zvonar` when nothing is left.
pub fn from_user_part(user: &str) -> String {
    let s: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+-._*".contains(*c))
        .collect();
    if s.is_empty() {
        "zvonar".to_string()
    } else {
        s
    }
}

pub(crate) fn dial(
    ctx: &UacContext,
    req: DialRequest,
) -> Result<(OutgoingLeg, mpsc::UnboundedReceiver<LegSignal>), DialError> {
    // A browser reached over WSS: its connection is one of the relay's.
    let wss_port = match (&ctx.wss, req.destination) {
        (Some((relayed, port)), Some(d)) if req.ws && relayed.is_relayed(d) => Some(*port),
        _ => None,
    };
    let port = match (req.ws, req.tcp) {
        (true, _) if wss_port.is_some() => wss_port.unwrap_or(ctx.udp_port),
        (true, _) => ctx.ws_port.unwrap_or(ctx.udp_port),
        (false, true) => ctx.tcp_port.unwrap_or(ctx.udp_port),
        (false, false) => ctx.udp_port,
    };
    let host = SocketAddr::new(ctx.contact_ip, port);
    let from_user = from_user_part(&req.from_user);
    let transport = match (req.ws, req.tcp) {
        (true, _) => rsipstack::sip::Transport::Ws,
        (false, true) => rsipstack::sip::Transport::Tcp,
        (false, false) => rsipstack::sip::Transport::Udp,
    };
    let destination = req.destination.map(|d| SipAddr {
        r#type: Some(transport),
        addr: d.into(),
    });
    // REFER too: on our outgoing legs the far end may transfer (see [`ReferRequest`]).
    let mut headers = vec![Header::Allow(format!("{ALLOW}, REFER").into())];
    if let Some(pai) = &req.asserted_identity {
        headers.push(Header::Other("P-Asserted-Identity".into(), pai.clone()));
    }
    for (name, value) in &req.headers {
        headers.push(Header::Other(name.clone(), value.clone()));
    }
    let from_host = req.from_host.clone().unwrap_or_else(|| host.to_string());
    let opt = InviteOption {
        caller_display_name: req.from_display.clone(),
        caller: uri(&format!("sip:{from_user}@{from_host}"))?,
        callee: uri(&req.target)?,
        destination,
        content_type: Some("application/sdp".into()),
        offer: Some(req.offer.into_bytes()),
        // Over WebSocket the browser's in-dialog requests come back on its connection; the
        // Contact names our listener with `transport=ws`, or `wss` (RFC 7118 §5.2).
        contact: uri(&if wss_port.is_some() {
            format!("sip:zvonar@{host};transport=wss")
        } else if req.ws {
            format!("sip:zvonar@{host};transport=ws")
        } else {
            format!("sip:zvonar@{host}")
        })?,
        credential: req.credential.map(|c| Credential {
            username: c.username,
            password: c.password,
            realm: c.realm,
            auth_username: c.auth_username,
        }),
        headers: Some(headers),
        // Ours rather than the stack's default domain: random, at our address (RFC 3261 §8.1.1.4).
        call_id: Some(format!(
            "{:032x}@{}",
            rand::random::<u128>(),
            ctx.contact_ip
        )),
        ..Default::default()
    };
    let (state_tx, state_rx) = ctx.dialog_layer.new_dialog_state_channel();
    let (dialog, handle) = ctx
        .dialog_layer
        .do_invite_async(opt, state_tx)
        .map_err(|e| DialError::Stack(e.to_string()))?;
    let sip_call_id = dialog
        .initial_request()
        .call_id_header()
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(drive(
        dialog.clone(),
        state_rx,
        handle,
        tx,
        ctx.dialog_layer.clone(),
    ));
    Ok((
        OutgoingLeg {
            dialog,
            sip_call_id,
        },
        rx,
    ))
}

/// Where a leg stands, for [`drive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    Answered,
    Over,
}

/// The signal a final response to our INVITE gives, `None` for a 2xx (reported from the
/// dialog's `Confirmed` state, or at once if that never came).
fn final_signal(result: &Result<InviteAsyncResult, tokio::task::JoinError>) -> Option<LegSignal> {
    match result {
        Ok(Ok((_, Some(resp)))) if resp.status_code.kind() == StatusCodeKind::Successful => None,
        Ok(Ok((_, Some(resp)))) => Some(LegSignal::Failed {
            status: u16::from(resp.status_code.clone()),
            reason: resp.status_code.to_string(),
        }),
        Ok(Ok((_, None))) => Some(LegSignal::Failed {
            status: 408,
            reason: "no final response (Timer B)".into(),
        }),
        Ok(Err(e)) => Some(LegSignal::Failed {
            status: 503,
            reason: e.to_string(),
        }),
        Err(e) => Some(LegSignal::Failed {
            status: 500,
            reason: e.to_string(),
        }),
    }
}

fn leg_end(reason: &TerminatedReason) -> LegEnd {
    match reason {
        TerminatedReason::UasBye => LegEnd::PeerBye,
        TerminatedReason::UacBye => LegEnd::OurBye,
        TerminatedReason::Timeout => LegEnd::Timeout,
        TerminatedReason::UacOther(s)
        | TerminatedReason::UasOther(s)
        | TerminatedReason::ProxyError(s) => LegEnd::Other(u16::from(s.clone())),
        _ => LegEnd::Other(0),
    }
}

fn body_of(bytes: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(bytes).into_owned();
    (!s.trim().is_empty()).then_some(s)
}

/// Turns the dialog's states and the INVITE's outcome into [`LegSignal`]s until the leg is
/// over; hangs the leg up when its owner drops the receiver.
async fn drive(
    dialog: InviteDialog,
    mut states: DialogStateReceiver,
    handle: tokio::task::JoinHandle<InviteAsyncResult>,
    tx: mpsc::UnboundedSender<LegSignal>,
    layer: Arc<DialogLayer>,
) {
    let mut phase = Phase::Ringing;
    let mut ids: Vec<DialogId> = vec![dialog.id()];
    let mut handle = Some(handle);
    let mut owner_gone = false;
    let send = |s: LegSignal| {
        let _ = tx.send(s);
    };
    while phase != Phase::Over {
        tokio::select! {
            result = async { match handle.as_mut() { Some(h) => h.await, None => std::future::pending().await } } => {
                handle = None;
                if let Ok(Ok((id, _))) = &result {
                    ids.push(id.clone());
                }
                match final_signal(&result) {
                    Some(failed) => {
                        if phase == Phase::Ringing {
                            send(failed);
                            phase = Phase::Over;
                        }
                    }
                    None => {
                        // The `Confirmed` state was sent before the INVITE task returned:
                        // take what is queued first.
                        while let Ok(st) = states.try_recv() {
                            phase = on_state(st, phase, &dialog, &send, &mut ids).await;
                        }
                        if phase == Phase::Ringing {
                            if matches!(dialog.state(), DialogState::Terminated(..)) {
                                // A 2xx that crossed our CANCEL: the stack ACKs and BYEs it.
                                send(LegSignal::Failed { status: 487, reason: "cancelled".into() });
                                phase = Phase::Over;
                            } else if let Ok(Ok((_, Some(resp)))) = &result {
                                send(LegSignal::Answered { sdp: body_of(resp.body()) });
                                phase = Phase::Answered;
                            }
                        }
                    }
                }
            }
            st = states.recv() => match st {
                Some(st) => phase = on_state(st, phase, &dialog, &send, &mut ids).await,
                None => {
                    if phase == Phase::Answered {
                        send(LegSignal::Ended(LegEnd::Other(0)));
                        phase = Phase::Over;
                    } else if handle.is_none() {
                        phase = Phase::Over;
                    } else {
                        // Wait for the INVITE's outcome alone.
                        let result = match handle.take() { Some(h) => h.await, None => break };
                        send(final_signal(&result).unwrap_or(LegSignal::Failed { status: 500, reason: "dialog lost".into() }));
                        phase = Phase::Over;
                    }
                }
            },
            _ = tx.closed(), if !owner_gone => {
                owner_gone = true;
                tracing::debug!(id = %dialog.id(), "outgoing leg dropped by its owner: hanging up");
                let d = dialog.clone();
                tokio::spawn(async move {
                    let _ = d.hangup().await;
                });
            }
        }
    }
    for id in &ids {
        layer.remove_dialog(id);
    }
    layer.remove_dialog(&dialog.id());
}

async fn on_state(
    st: DialogState,
    phase: Phase,
    dialog: &InviteDialog,
    send: &impl Fn(LegSignal),
    ids: &mut Vec<DialogId>,
) -> Phase {
    match st {
        DialogState::Early(_, resp) => {
            if phase == Phase::Ringing {
                send(LegSignal::Progress {
                    status: u16::from(resp.status_code.clone()),
                    sdp: body_of(resp.body()),
                });
            }
            phase
        }
        DialogState::Confirmed(id, resp) => {
            if !ids.contains(&id) {
                ids.push(id);
            }
            if phase == Phase::Ringing {
                send(LegSignal::Answered {
                    sdp: body_of(resp.body()),
                });
                return Phase::Answered;
            }
            if phase == Phase::Answered {
                // Back to confirmed after an in-dialog request; after a re-INVITE answered
                // with an offer its ACK carries the answer.
                let ack = dialog.last_remote_ack();
                let ack_cseq = ack
                    .as_ref()
                    .and_then(|a| a.cseq_header().ok().and_then(|c| c.seq().ok()));
                let sdp = ack.and_then(|a| body_of(a.body()));
                send(LegSignal::Dialog(CallSignal::Confirmed { ack_cseq, sdp }));
            }
            phase
        }
        DialogState::Info(_, req, handle) => {
            let content_type = req
                .header_value("Content-Type")
                .unwrap_or_default()
                .to_string();
            send(LegSignal::Dialog(CallSignal::Info {
                content_type,
                body: String::from_utf8_lossy(req.body()).into_owned(),
                responder: Responder::new(handle),
            }));
            phase
        }
        DialogState::Updated(_, req, handle) => {
            let cseq = req
                .cseq_header()
                .ok()
                .and_then(|c| c.seq().ok())
                .unwrap_or_default();
            send(LegSignal::Dialog(CallSignal::Offer {
                sdp: String::from_utf8_lossy(req.body()).into_owned(),
                cseq,
                reinvite: req.method == Method::Invite,
                responder: Responder::new(handle),
            }));
            phase
        }
        DialogState::Options(_, _, handle) => {
            let _ = handle
                .respond(
                    StatusCode::OK,
                    Some(vec![Header::Allow(ALLOW.into())]),
                    None,
                )
                .await;
            phase
        }
        DialogState::Refer(_, req, handle) if phase == Phase::Answered => {
            send(LegSignal::Refer(ReferRequest::new(
                &req,
                handle,
                dialog.clone(),
            )));
            phase
        }
        DialogState::Message(_, _, handle)
        | DialogState::Notify(_, _, handle)
        | DialogState::Refer(_, _, handle)
        | DialogState::Publish(_, _, handle) => {
            let _ = handle.reply(StatusCode::MethodNotAllowed).await;
            phase
        }
        DialogState::Terminated(id, reason) => {
            if !ids.contains(&id) {
                ids.push(id);
            }
            if phase == Phase::Answered {
                send(LegSignal::Ended(leg_end(&reason)));
                return Phase::Over;
            }
            // Before answer the INVITE's final response says how it ended.
            phase
        }
        _ => phase,
    }
}

/// The dialog a [`Dialog`] enum holds, when it is an INVITE dialog (for tests and tools).
pub fn invite_dialog(d: Dialog) -> Option<InviteDialog> {
    match d {
        Dialog::Invite(i) => Some(i),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_responses_map_to_outcomes() {
        let cases = [
            (486, DialOutcome::Busy),
            (600, DialOutcome::Busy),
            (603, DialOutcome::Rejected),
            (404, DialOutcome::InvalidNumber),
            (484, DialOutcome::InvalidNumber),
            (604, DialOutcome::InvalidNumber),
            (408, DialOutcome::NoAnswer),
            (480, DialOutcome::NoAnswer),
            (487, DialOutcome::Cancelled),
            (503, DialOutcome::Failed(503)),
            (401, DialOutcome::Failed(401)),
            (500, DialOutcome::Failed(500)),
        ];
        for (status, want) in cases {
            assert_eq!(DialOutcome::from_status(status), want, "{status}");
        }
        assert_eq!(DialOutcome::Failed(502).code(), "failed");
        assert_eq!(DialOutcome::InvalidNumber.code(), "invalid_number");
    }

    #[test]
    fn from_user_parts_are_safe_in_a_uri() {
        assert_eq!(from_user_part("+79161234567"), "+79161234567");
        assert_eq!(from_user_part("<script>@x"), "scriptx");
        assert_eq!(from_user_part("Иван"), "zvonar");
        assert_eq!(from_user_part(""), "zvonar");
    }

    #[test]
    fn the_password_is_not_in_debug_output() {
        let r = DialRequest {
            target: "sip:101@192.0.2.1".into(),
            destination: None,
            tcp: false,
            ws: false,
            headers: Vec::new(),
            from_user: "1".into(),
            from_display: None,
            from_host: None,
            asserted_identity: None,
            offer: String::new(),
            credential: Some(DigestCredential {
                username: "u".into(),
                password: "secret-pass".into(),
                realm: None,
                auth_username: None,
            }),
        };
        assert!(!format!("{r:?}").contains("secret-pass"));
    }
}
