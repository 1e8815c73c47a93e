//! The SIP user agent server: rsipstack's transaction and dialog layers on UDP and TCP,
//! turned into one [`IncomingCall`] per INVITE for the engine, with the call's later
//! signals (ACK, BYE, CANCEL, INFO, re-INVITE) delivered on that call's own channel.
//!
//! What is answered here without asking the engine (RFC 3261):
//! - OPTIONS outside a dialog: 200 with Allow/Accept (§11.2);
//! - BYE, INFO, UPDATE… for a dialog we do not know: 481 (§12.2.2);
//! - REGISTER: by the registrar ([`crate::registrar`]) when [`SipConfig::registrar`] is
//!   set, else 405 like other methods we do not serve (§8.2.1);
//! - requests that are malformed: 400; SIP versions other than 2.0: 505 (§8.2, §21.5.7);
//! - for the methods we serve: Request-URI schemes other than sip/sips: 416 (§8.2.2.1),
//!   `Require` with option tags: 420 with Unsupported (§8.2.2.3), INVITE/UPDATE bodies that
//!   are not SDP: 415 with Accept (§8.2.3), an `Accept` without SDP: 406 (§21.4.7) — all
//!   in [`crate::validate::Guard`];
//! - over UDP, requests rsipstack cannot parse: 501 for extension methods (§8.2.1,
//!   §21.5.2), else 400 ([`crate::validate::UdpGuard`]);
//! - OPTIONS inside a dialog: 200;
//! - REFER inside a dialog before it is confirmed, or on a call whose engine does not take
//!   transfers (it dropped [`IncomingCall::refers`]): 405. Otherwise the REFER goes to the
//!   engine on [`IncomingCall::refers`] (an agent's own call: RFC 3515).
//!
//! CANCEL before answer is handled by rsipstack (200 to the CANCEL, 487 to the INVITE) and
//! reported as [`CallSignal::Terminated`] with [`EndReason::Cancelled`].

use rsipstack::dialog::dialog::{
    Dialog, DialogState, DialogStateReceiver, TerminatedReason, TransactionHandle,
};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::dialog::DialogId;
use rsipstack::sip::{Header, HeadersExt, Method, StatusCode};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::udp::{UdpConnection, UdpInner};
use rsipstack::transport::{
    tcp_listener::TcpListenerConnection, SipAddr, SipConnection, TransportLayer,
};
use rsipstack::EndpointBuilder;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

use crate::registrar::Reply;
use tokio_util::sync::CancellationToken;

/// Methods we serve, for Allow headers.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

/// A permit to handle one more call, given by [`Admission::admit`] and held for the call's
/// whole life ([`IncomingCall::permit`]); dropping it gives the capacity back.
pub type CallPermit = Box<dyn std::any::Any + Send>;

/// Why [`Admission::admit`] refused a new call: the INVITE is answered 503 Service
/// Unavailable with `Retry-After: retry_after_s` (RFC 3261 §21.5.4, §20.33), so a trunk
/// tries another route and comes back later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Seconds the caller should wait before trying again (at least 1 is sent).
    pub retry_after_s: u32,
    /// Short reason for the log (`overloaded`, `shutting down`).
    pub reason: &'static str,
}

/// Admission control, asked once for every new INVITE before a dialog is created — the
/// only point where the refusal can still carry headers such as Retry-After.
pub trait Admission: Send + Sync + 'static {
    /// A permit for one call, or why the call is refused.
    fn admit(&self) -> Result<CallPermit, Refusal>;
}

/// Where to listen.
#[derive(Clone)]
pub struct SipConfig {
    /// UDP listen address, e.g. `0.0.0.0:5060`.
    pub udp: SocketAddr,
    /// TCP listen address; `None` disables TCP.
    pub tcp: Option<SocketAddr>,
    /// SIP over WebSocket (RFC 7118) listen address, plain `ws://` (browsers allow it only
    /// from pages served over plain http, i.e. on loopback; see [`SipConfig::wss`]); `None`
    /// disables it. The
    /// handshake answers `Sec-WebSocket-Protocol: sip` when the client asks for it (§4.1).
    pub ws: Option<SocketAddr>,
    /// SIP over secure WebSocket (`wss://`, RFC 7118 §3): a browser's page served over
    /// HTTPS may open only `wss://`. TLS is terminated here ([`crate::wss`]); `None`
    /// disables it.
    pub wss: Option<WssConfig>,
    /// How long a stream connection (TCP, WebSocket) may stay silent before it is closed;
    /// `None` keeps rsipstack's default (300 s). A registered browser is silent between
    /// re-REGISTERs, so this should exceed the registrar's longest registration.
    pub stream_idle_timeout: Option<std::time::Duration>,
    /// Address put in Contact and SDP (the address peers reach us at).
    pub public_ip: IpAddr,
    /// User-Agent / Server header value.
    pub user_agent: String,
    /// Admission control for new calls; `None` admits every call (the engine may still
    /// refuse later, without Retry-After).
    pub admission: Option<Arc<dyn Admission>>,
    /// The registrar for desk phones and softphones; `None` answers REGISTER with 405.
    pub registrar: Option<RegistrarSetup>,
}

/// The secure WebSocket listener's settings.
#[derive(Clone)]
pub struct WssConfig {
    /// Listen address, e.g. `0.0.0.0:7443`.
    pub listen: SocketAddr,
    /// Certificate and key ([`crate::tls::server_config`]).
    pub tls: crate::tls::ServerTls,
}

/// A registrar's settings and where its users' HA1s come from.
#[derive(Clone)]
pub struct RegistrarSetup {
    /// Realm, nonce lifetime, lockout, expiry limits.
    pub config: crate::registrar::RegistrarConfig,
    /// HA1 lookup.
    pub store: Arc<dyn crate::registrar::CredentialStore>,
}

/// The running registrar's state, shared by the UA and its owner.
pub type SharedRegistrar = Arc<Mutex<crate::registrar::Registrar>>;

impl std::fmt::Debug for SipConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipConfig")
            .field("udp", &self.udp)
            .field("tcp", &self.tcp)
            .field("ws", &self.ws)
            .field("wss", &self.wss.as_ref().map(|w| w.listen))
            .field("public_ip", &self.public_ip)
            .field("user_agent", &self.user_agent)
            .field("admission", &self.admission.is_some())
            .field(
                "registrar",
                &self.registrar.as_ref().map(|r| r.config.realm.as_str()),
            )
            .finish()
    }
}

/// Why a call's dialog ended, as seen from SIP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The caller cancelled before answer (CANCEL → 487).
    Cancelled,
    /// The caller sent BYE.
    CallerBye,
    /// We sent BYE.
    OurBye,
    /// We rejected the INVITE.
    Rejected,
    /// No ACK for our 200 OK (64·T1, RFC 3261 §13.3.1.4) or another timeout.
    Timeout,
    /// Anything else, with the SIP status involved.
    Other(u16),
}

impl EndReason {
    /// The hangup cause for the CDR.
    pub fn cause(&self) -> zvonar_models::HangupCause {
        use zvonar_models::HangupCause;
        match self {
            EndReason::Cancelled => HangupCause::Cancel,
            EndReason::CallerBye => HangupCause::CallerBye,
            EndReason::OurBye => HangupCause::RobotBye,
            EndReason::Rejected => HangupCause::Rejected,
            EndReason::Timeout => HangupCause::Timeout,
            EndReason::Other(s) => HangupCause::Sip(*s),
        }
    }
}

/// Answers a request inside a dialog (INFO, re-INVITE, UPDATE) exactly once.
pub struct Responder(TransactionHandle);

impl Responder {
    pub(crate) fn new(handle: TransactionHandle) -> Responder {
        Responder(handle)
    }

    /// Sends `status` with an optional body and its content type.
    pub async fn respond(self, status: u16, body: Option<(String, Vec<u8>)>) {
        let (headers, body) = match body {
            Some((ct, b)) => (Some(vec![Header::ContentType(ct.into())]), Some(b)),
            None => (None, None),
        };
        let _ = self
            .0
            .respond(StatusCode::from(status), headers, body)
            .await;
    }
}

/// Something that happened on an established or ringing call.
pub enum CallSignal {
    /// The dialog is confirmed: the caller's ACK to our 2xx arrived (rsipstack also reports
    /// this again after other in-dialog requests, with the same last ACK).
    Confirmed {
        /// CSeq number of the last ACK received, equal to that of the INVITE or re-INVITE it
        /// acknowledges (RFC 3261 §17.1.1.3); `None` when no ACK has been seen.
        ack_cseq: Option<u32>,
        /// The ACK's SDP body, `None` when it had none: after an INVITE without an offer we
        /// offer in the 2xx and the caller answers here (RFC 3261 §13.2.1, RFC 3264 §5).
        sdp: Option<String>,
    },
    /// SIP INFO (DTMF relay, RFC 2976/ application/dtmf-relay). Respond 200.
    Info {
        /// Content-Type header value.
        content_type: String,
        /// The body as text.
        body: String,
        /// Answer it.
        responder: Responder,
    },
    /// A new offer in the dialog (re-INVITE or UPDATE, RFC 3311); answer with SDP or 488.
    Offer {
        /// The SDP offer, empty for an offerless re-INVITE (our offer then goes in the
        /// 200 and the answer comes in the ACK with CSeq `cseq`) or an UPDATE refresh.
        sdp: String,
        /// CSeq number of the request.
        cseq: u32,
        /// `true` for a re-INVITE, `false` for an UPDATE (whose 2xx can carry no offer).
        reinvite: bool,
        /// Answer it.
        responder: Responder,
    },
    /// The dialog ended.
    Terminated(EndReason),
}

/// One leg of a call from the SIP side: the server INVITE dialog.
#[derive(Clone)]
pub struct Leg {
    dialog: InviteDialog,
}

impl Leg {
    /// Sends 180 Ringing.
    pub fn ringing(&self) {
        if let Err(e) = self.dialog.ringing(None, None) {
            tracing::debug!(error = %e, "180 not sent");
        }
    }

    /// Sends 183 Session Progress with our SDP answer (early media, RFC 3261 §13.3.1.1,
    /// RFC 3960 §3): the caller hears what we play — ringback — before the call is answered
    /// with [`Leg::answer`] (the same SDP). Used for an agent's own call, which is answered
    /// only when its party answers. A 183 is not retransmitted (no PRACK), so a phone that
    /// lost it hears nothing until the 200.
    pub fn early_media(&self, sdp: String) {
        let headers = vec![
            Header::ContentType("application/sdp".into()),
            Header::Allow(ALLOW.into()),
        ];
        if let Err(e) = self.dialog.ringing(Some(headers), Some(sdp.into_bytes())) {
            tracing::debug!(error = %e, "183 not sent");
        }
    }

    /// Sends 200 OK with our SDP answer. Errors: the transaction is gone (caller cancelled).
    pub fn answer(&self, sdp: String) -> Result<(), String> {
        let headers = vec![
            Header::ContentType("application/sdp".into()),
            Header::Allow(ALLOW.into()),
        ];
        self.dialog
            .accept(Some(headers), Some(sdp.into_bytes()))
            .map_err(|e| e.to_string())
    }

    /// CSeq number of the INVITE that created the call: its ACK carries the same number
    /// (RFC 3261 §17.1.1.3), which tells the call's ACK from a re-INVITE's.
    pub fn invite_cseq(&self) -> Option<u32> {
        self.dialog
            .initial_request()
            .cseq_header()
            .ok()
            .and_then(|c| c.seq().ok())
    }

    /// Whether this call's dialog is the one `r` names: the Call-ID matches, the `to-tag`
    /// is our (local) tag and the `from-tag` the caller's (RFC 3891 §3: the tags are given
    /// from the point of view of the UA the dialog is replaced at, which here is zvonar).
    /// Knowing all three is what lets a party of the dialog, and only a party, hand it over
    /// (§7).
    pub fn is_named_by(&self, r: &crate::refer::Replaces) -> bool {
        let id = self.dialog.id();
        id.call_id == r.call_id && id.local_tag == r.to_tag && id.remote_tag == r.from_tag
    }

    /// Sends a final error response (486, 488, 503…).
    pub fn reject(&self, status: u16, reason: Option<&str>) {
        let _ = self
            .dialog
            .reject(Some(StatusCode::from(status)), reason.map(str::to_string));
    }

    /// Sends BYE (after answer).
    pub async fn hangup(&self) {
        if let Err(e) = self.dialog.bye().await {
            tracing::debug!(error = %e, "BYE not sent");
        }
    }
}

/// A new call, handed to the engine.
pub struct IncomingCall {
    /// The SIP Call-ID.
    pub sip_call_id: String,
    /// The From URI's user part, as the caller wrote it (anyone can write anything here).
    pub caller: String,
    /// The P-Asserted-Identity URI's user part (RFC 3325 §9.1), when the request has one;
    /// meaningful only when [`IncomingCall::source_ip`] is a trusted element.
    pub asserted_identity: Option<String>,
    /// The IP address the INVITE came from (the packet's source, not what its headers
    /// say; see [`crate::validate::stamp_source`]); `None` if unknown.
    pub source_ip: Option<IpAddr>,
    /// Dialled user part (request-URI).
    pub callee: String,
    /// `udp`, `tcp` or `ws` (SIP over WebSocket, RFC 7118: a browser).
    pub transport: &'static str,
    /// The SIP account of a desk phone registered over UDP whose INVITE (from its registered
    /// source, with the account in From) passed digest authentication (407, RFC 3261
    /// §22.3): the agent's own call, like [`IncomingCall::connection_peer`]'s; `None`
    /// otherwise.
    pub authenticated_account: Option<String>,
    /// Over TCP or WebSocket, the peer of the connection the INVITE came on (a registered
    /// device's calls come on the connection it registered over; see
    /// [`crate::registrar::Registrar::account_of_connection`]); `None` over UDP.
    pub connection_peer: Option<SocketAddr>,
    /// Over UDP, where the INVITE came from as the registrar keeps a UDP binding's source:
    /// the packet's source IP with the top Via's rport (or port); `None` over TCP or
    /// WebSocket. A registered desk phone's calls come from its binding's source
    /// ([`crate::registrar::Registrar::udp_account_from`]).
    pub udp_source: Option<SocketAddr>,
    /// The SDP offer, `None` for an offerless INVITE.
    pub offer: Option<String>,
    /// Answer/reject/hang up.
    pub leg: Leg,
    /// Later signals for this call.
    pub signals: mpsc::UnboundedReceiver<CallSignal>,
    /// REFERs on this call once it is answered (the agent on this leg transfers its party,
    /// RFC 3515): answer each with [`crate::uac::ReferRequest::accept`] or `reject`. Once this
    /// receiver is dropped a REFER is answered 405, as before the call is answered.
    pub refers: mpsc::UnboundedReceiver<crate::uac::ReferRequest>,
    /// What [`SipConfig::admission`] gave for this call (`None` without admission
    /// control): keep it for the call's life.
    pub permit: Option<CallPermit>,
}

/// Where a call's in-dialog requests go, by its dialog.
#[derive(Clone)]
struct Route {
    signals: mpsc::UnboundedSender<CallSignal>,
    refers: mpsc::UnboundedSender<crate::uac::ReferRequest>,
}

type Routes = Arc<Mutex<HashMap<DialogId, Route>>>;

/// A running SIP stack.
pub struct SipServer {
    /// Local UDP address actually bound (port 0 resolved).
    pub udp_addr: SocketAddr,
    /// Local TCP address, when TCP is on.
    pub tcp_addr: Option<SocketAddr>,
    /// Local SIP-over-WebSocket address, when [`SipConfig::ws`] is set.
    pub ws_addr: Option<SocketAddr>,
    /// Local secure WebSocket address, when [`SipConfig::wss`] is set.
    pub wss_addr: Option<SocketAddr>,
    cancel: CancellationToken,
    refusing: Arc<AtomicU32>,
    registrar: Option<SharedRegistrar>,
    pub(crate) uac: crate::uac::UacContext,
}

impl SipServer {
    /// Refuses every new INVITE from now on with 503 and `Retry-After: retry_after_s`
    /// (RFC 3261 §20.33, §21.5.4; at least 1 s), so a trunk sends the call elsewhere while
    /// we shut down; calls already running keep their dialogs (BYE, INFO, re-INVITE).
    pub fn refuse_new_calls(&self, retry_after_s: u32) {
        self.refusing.store(retry_after_s.max(1), Ordering::Release);
    }

    /// The registrar's state (bindings), when [`SipConfig::registrar`] was set.
    pub fn registrar(&self) -> Option<SharedRegistrar> {
        self.registrar.clone()
    }

    /// Places an outgoing call (the B2BUA's second leg; see [`crate::uac`]): sends the
    /// INVITE with `req.offer` from our UDP (or TCP) address and returns the leg's handle
    /// with its signals. Our Contact and From host are [`SipConfig::public_ip`].
    ///
    /// Errors: [`crate::uac::DialError`] when the target is not a SIP URI or the INVITE
    /// cannot be built; failures after sending come as [`crate::uac::LegSignal::Failed`].
    pub fn dial(
        &self,
        req: crate::uac::DialRequest,
    ) -> Result<
        (
            crate::uac::OutgoingLeg,
            mpsc::UnboundedReceiver<crate::uac::LegSignal>,
        ),
        crate::uac::DialError,
    > {
        crate::uac::dial(&self.uac, req)
    }

    /// Stops listening and ends all transactions.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

/// Errors starting the SIP stack.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SipStartError {
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
}

/// Starts the SIP stack and returns it with the stream of incoming calls.
///
/// Errors: [`SipStartError::Bind`] when a port is taken.
pub async fn start(
    config: SipConfig,
    cancel: CancellationToken,
) -> Result<(SipServer, mpsc::Receiver<IncomingCall>), SipStartError> {
    let transport_layer = TransportLayer::new(cancel.child_token());
    // Our socket with the datagram screen in front of rsipstack's parser, so requests it
    // cannot parse are answered rather than dropped (see `crate::validate::UdpGuard`).
    let socket =
        tokio::net::UdpSocket::bind(config.udp)
            .await
            .map_err(|e| SipStartError::Bind {
                addr: config.udp,
                reason: e.to_string(),
            })?;
    let local = socket.local_addr().map_err(|e| SipStartError::Bind {
        addr: config.udp,
        reason: e.to_string(),
    })?;
    let udp = UdpConnection::attach(
        UdpInner {
            conn: Arc::new(crate::validate::UdpGuard::new(socket)),
            addr: SipAddr {
                r#type: Some(rsipstack::sip::Transport::Udp),
                addr: SipConnection::resolve_bind_address(local).into(),
            },
        },
        None,
        Some(cancel.child_token()),
    )
    .await;
    let udp_addr = udp
        .get_addr()
        .get_socketaddr()
        .map_err(|e| SipStartError::Bind {
            addr: config.udp,
            reason: e.to_string(),
        })?;
    transport_layer.add_transport(udp.into());
    let mut tcp_addr = None;
    if let Some(addr) = config.tcp {
        // Bind first so a taken port is reported here, then let rsipstack serve it.
        let probe = std::net::TcpListener::bind(addr).map_err(|e| SipStartError::Bind {
            addr,
            reason: e.to_string(),
        })?;
        let bound = probe.local_addr().map_err(|e| SipStartError::Bind {
            addr,
            reason: e.to_string(),
        })?;
        drop(probe);
        let tcp =
            TcpListenerConnection::new(bound, None)
                .await
                .map_err(|e| SipStartError::Bind {
                    addr,
                    reason: e.to_string(),
                })?;
        transport_layer.add_transport(tcp.into());
        tcp_addr = Some(bound);
    }
    let mut ws_addr = None;
    if let Some(addr) = config.ws {
        let bound = probe_tcp(addr)?;
        let ws =
            rsipstack::transport::websocket::WebSocketListenerConnection::new(bound, None, false)
                .await
                .map_err(|e| SipStartError::Bind {
                    addr,
                    reason: e.to_string(),
                })?;
        transport_layer.add_transport(ws.into());
        ws_addr = Some(bound);
    }
    // WSS: TLS accepted on `wss.listen`, relayed to a plain WebSocket listener on an
    // ephemeral loopback port (see `crate::wss`).
    let mut wss = None;
    if let Some(w) = &config.wss {
        let listener = bind_tcp(w.listen).await?;
        let bound = listener.local_addr().map_err(|e| SipStartError::Bind {
            addr: w.listen,
            reason: e.to_string(),
        })?;
        let inner_addr = probe_tcp(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let inner = rsipstack::transport::websocket::WebSocketListenerConnection::new(
            inner_addr, None, false,
        )
        .await
        .map_err(|e| SipStartError::Bind {
            addr: inner_addr,
            reason: e.to_string(),
        })?;
        transport_layer.add_transport(inner.into());
        let relayed = crate::wss::Relayed::new(inner_addr);
        tokio::spawn(crate::wss::serve(
            listener,
            w.tls.clone(),
            relayed.clone(),
            cancel.child_token(),
        ));
        wss = Some((bound, relayed));
    }
    let wss_addr = wss.as_ref().map(|(a, _)| *a);
    let relayed = wss.map(|(_, r)| r);
    if let Some(t) = config.stream_idle_timeout {
        transport_layer.set_stream_idle_timeout(t);
    }
    let registrar = config.registrar.as_ref().map(|r| {
        (
            Arc::new(Mutex::new(crate::registrar::Registrar::new(
                r.config.clone(),
            ))),
            r.store.clone(),
        )
    });
    let endpoint = EndpointBuilder::new()
        .with_user_agent(&config.user_agent)
        .with_transport_layer(transport_layer)
        .with_cancel_token(cancel.child_token())
        .with_transport_inspector(Box::new(ConnectionWatch {
            registrar: registrar.as_ref().map(|(r, _)| r.clone()),
            relayed: relayed.clone(),
        }))
        .build();
    let incoming = endpoint
        .incoming_transactions()
        .map_err(|e| SipStartError::Bind {
            addr: config.udp,
            reason: e.to_string(),
        })?;
    let dialog_layer = Arc::new(DialogLayer::new(endpoint.inner.clone()));
    let (state_tx, state_rx) = dialog_layer.new_dialog_state_channel();
    let routes: Routes = Arc::default();
    let (calls_tx, calls_rx) = mpsc::channel(256);
    let refusing = Arc::new(AtomicU32::new(0));

    let inner = endpoint.inner.clone();
    tokio::spawn(async move {
        if let Err(e) = inner.serve().await {
            tracing::error!(error = %e, "SIP endpoint stopped");
        }
    });
    let contact_ip = config.public_ip;
    tokio::spawn(state_loop(state_rx, routes.clone(), dialog_layer.clone()));
    let uac = crate::uac::UacContext {
        dialog_layer: dialog_layer.clone(),
        contact_ip,
        udp_port: udp_addr.port(),
        tcp_port: tcp_addr.map(|a| a.port()),
        ws_port: ws_addr.map(|a| a.port()),
        wss: relayed.clone().zip(wss_addr.map(|a| a.port())),
    };
    tokio::spawn(incoming_loop(
        incoming,
        dialog_layer,
        state_tx,
        routes,
        calls_tx,
        Contacts {
            ip: contact_ip,
            udp_port: udp_addr.port(),
            ws_port: ws_addr.map(|a| a.port()),
            wss: relayed
                .as_ref()
                .zip(wss_addr)
                .map(|(r, a)| (r.inner(), a.port())),
        },
        refusing.clone(),
        config.admission.clone(),
        registrar.clone(),
        cancel.clone(),
    ));
    Ok((
        SipServer {
            udp_addr,
            tcp_addr,
            ws_addr,
            wss_addr,
            cancel,
            refusing,
            registrar: registrar.map(|(r, _)| r),
            uac,
        },
        calls_rx,
    ))
}

/// How long after a stream connection (TCP, WebSocket) closes the registrations made over it
/// are removed, unless the device registered again meanwhile (a console page being
/// refreshed closes its WebSocket and registers over a new one within a second or two; its
/// binding is then already the new connection's and nothing is removed, so the agent never
/// looks gone). A browser that vanished is out of dispatch about this long after its
/// connection closed, instead of after the binding's expiry (300 s for the console).
pub const CLOSED_CONNECTION_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// The transport events before rsipstack sees them: requests are screened by
/// [`crate::validate::Guard`]; a stream connection (TCP, WebSocket) that closes takes the
/// registrations still made over it with it after [`CLOSED_CONNECTION_GRACE`]
/// ([`crate::registrar::Registrar::connection_closed`]): a browser tab that is closed or loses
/// its network is unreachable, and the queue's registration watcher takes the agent out of
/// dispatch within a second more.
struct ConnectionWatch {
    registrar: Option<SharedRegistrar>,
    /// The WSS relay's connections, when WSS is on.
    relayed: Option<crate::wss::Relayed>,
}

#[async_trait::async_trait]
impl rsipstack::transaction::endpoint::TransportEventInspector for ConnectionWatch {
    async fn handle(
        &self,
        event: rsipstack::transport::TransportEvent,
    ) -> Option<rsipstack::transport::TransportEvent> {
        if let rsipstack::transport::TransportEvent::Closed(conn) = &event {
            let peer = conn
                .is_reliable()
                .then(|| conn.get_remote_addr())
                .flatten()
                .and_then(|a| a.get_socketaddr().ok());
            if let (Some(peer), Some(reg)) = (peer, self.registrar.clone()) {
                tokio::spawn(async move {
                    tokio::time::sleep(CLOSED_CONNECTION_GRACE).await;
                    let gone = reg
                        .lock()
                        .map(|mut r| r.connection_closed(peer))
                        .unwrap_or_default();
                    if !gone.is_empty() {
                        tracing::info!(%peer, accounts = ?gone, "connection closed: its registrations removed");
                    }
                });
            }
            return Some(event);
        }
        // A message relayed from a WSS client: its source is the client, not the relay's
        // loopback socket; one on the inner listener that no relay of ours sent is dropped.
        let mut client = None;
        if let (Some(relayed), rsipstack::transport::TransportEvent::Incoming(_, conn, from)) =
            (&self.relayed, &event)
        {
            let local = conn.get_addr().get_socketaddr().ok();
            if let Ok(peer) = from.get_socketaddr() {
                match relayed.origin(local, peer) {
                    crate::wss::Origin::Direct => {}
                    crate::wss::Origin::Client(c) => client = Some(c),
                    crate::wss::Origin::Stranger => {
                        tracing::warn!(%peer, "message on the WSS relay's listener not from the relay: dropped");
                        return None;
                    }
                }
            }
        }
        let event = crate::validate::Guard.handle(event).await?;
        match (client, event) {
            (
                Some(c),
                rsipstack::transport::TransportEvent::Incoming(
                    rsipstack::sip::SipMessage::Request(mut req),
                    conn,
                    from,
                ),
            ) => {
                crate::validate::stamp_source(&mut req, c.ip());
                Some(rsipstack::transport::TransportEvent::Incoming(
                    rsipstack::sip::SipMessage::Request(req),
                    conn,
                    from,
                ))
            }
            (_, event) => Some(event),
        }
    }
}

/// Binds a TCP listener on `addr` (one we serve ourselves).
async fn bind_tcp(addr: SocketAddr) -> Result<tokio::net::TcpListener, SipStartError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| SipStartError::Bind {
            addr,
            reason: e.to_string(),
        })
}

/// Binds `addr` for TCP and lets it go, so a taken port is reported here before rsipstack
/// (which only logs) serves it; returns the address with port 0 resolved.
fn probe_tcp(addr: SocketAddr) -> Result<SocketAddr, SipStartError> {
    let probe = std::net::TcpListener::bind(addr).map_err(|e| SipStartError::Bind {
        addr,
        reason: e.to_string(),
    })?;
    probe.local_addr().map_err(|e| SipStartError::Bind {
        addr,
        reason: e.to_string(),
    })
}

/// Where peers reach us, for the Contact of our dialogs.
#[derive(Clone, Copy)]
struct Contacts {
    ip: IpAddr,
    udp_port: u16,
    ws_port: Option<u16>,
    /// The WSS relay's inner listener and the public WSS port.
    wss: Option<(SocketAddr, u16)>,
}

impl Contacts {
    /// Our Contact URI for a dialog whose INVITE came over `transport`: a browser's
    /// in-dialog requests go over its WebSocket, so its Contact names that listener with
    /// `transport=ws` (RFC 7118 §5.2); every other peer gets the UDP port.
    /// `local` is the listener the INVITE's connection was accepted on: the WSS relay's
    /// inner listener gets our WSS port with `transport=wss`.
    fn uri(&self, transport: &str, local: Option<SocketAddr>) -> String {
        match (transport, self.ws_port, self.wss) {
            ("ws", _, Some((inner, p))) if local == Some(inner) => {
                format!("sip:zvonar@{}:{p};transport=wss", self.ip)
            }
            ("ws", Some(p), _) => format!("sip:zvonar@{}:{p};transport=ws", self.ip),
            _ => format!("sip:zvonar@{}:{}", self.ip, self.udp_port),
        }
    }
}

/// The transport label of a transaction's connection: `ws` for SIP over WebSocket
/// (RFC 7118), `tcp` for other stream transports, else `udp`.
fn transport_of(tx: &Transaction) -> &'static str {
    match tx.connection.as_ref() {
        Some(SipConnection::WebSocket(_)) => "ws",
        Some(c) if c.is_reliable() => "tcp",
        _ => "udp",
    }
}

fn user_of(uri: &rsipstack::sip::Uri) -> String {
    uri.user().unwrap_or_default().to_string()
}

/// The user part of the first P-Asserted-Identity value (`"Name" <sip:+7…@host>`,
/// `<tel:+7…>` or a bare URI; RFC 3325 §9.1), `None` when absent or without a user.
pub fn asserted_identity_of(req: &rsipstack::sip::Request) -> Option<String> {
    let pai = req.header_value("P-Asserted-Identity")?;
    let first = pai.split(',').next().unwrap_or_default();
    let inner = first
        .split_once('<')
        .and_then(|(_, r)| r.split_once('>'))
        .map(|(u, _)| u.trim().to_string())
        .unwrap_or_else(|| first.trim().to_string());
    if let Some(number) = inner.strip_prefix("tel:") {
        let n = number.split(';').next().unwrap_or_default().trim();
        return (!n.is_empty()).then(|| n.to_string());
    }
    let uri = rsipstack::sip::Uri::try_from(inner.as_str()).ok()?;
    let u = user_of(&uri);
    (!u.is_empty()).then_some(u)
}

/// The From URI's user part; empty when there is none.
fn from_user_of(req: &rsipstack::sip::Request) -> String {
    req.from_header()
        .ok()
        .and_then(|f| f.uri().ok())
        .map(|u| user_of(&u))
        .unwrap_or_default()
}

/// In-dialog requests, handled one at a time per dialog in the order they arrived.
///
/// rsipstack's dialog answers one request at a time: while a re-INVITE waits for its ACK or an
/// INFO for the engine's answer, the dialog is not `Confirmed`, and a second request is
/// dropped without a response; a request whose CSeq is lower than the last one seen is refused
/// (RFC 3261 §12.2.2). Handled concurrently, a browser's key (INFO) followed at once by its
/// hold (re-INVITE) lost the key. So each dialog gets a queue and a worker that handles its
/// requests in turn; the worker ends when its queue is empty. BYE and ACK skip the queue:
/// a BYE ends the dialog whatever waits (a re-INVITE whose ACK never comes would hold it
/// for 64·T1), and the ACK is what a waiting re-INVITE needs.
#[derive(Clone, Default)]
struct InDialogQueues {
    queues: Arc<Mutex<HashMap<DialogId, InDialogQueue>>>,
}

/// One dialog's waiting requests, each with the dialog handle it matched.
type InDialogQueue = mpsc::UnboundedSender<(Dialog, Transaction)>;

impl InDialogQueues {
    fn push(&self, dialog: Dialog, tx: Transaction) {
        if matches!(tx.original.method, Method::Bye | Method::Ack) {
            tokio::spawn(handle_in_dialog(dialog, tx));
            return;
        }
        let id = dialog.id();
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let item = match queues.get(&id) {
            Some(q) => match q.send((dialog, tx)) {
                Ok(()) => return,
                Err(e) => e.0,
            },
            None => (dialog, tx),
        };
        let (q, mut rx) = mpsc::unbounded_channel();
        let _ = q.send(item);
        queues.insert(id.clone(), q);
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let next = match rx.try_recv() {
                    Ok(next) => next,
                    Err(_) => {
                        // Empty: leave, unless a request came in meanwhile (checked under
                        // the lock `push` takes, so none is left behind).
                        let mut queues = this.queues.lock().unwrap_or_else(|p| p.into_inner());
                        match rx.try_recv() {
                            Ok(next) => next,
                            Err(_) => {
                                queues.remove(&id);
                                return;
                            }
                        }
                    }
                };
                handle_in_dialog(next.0, next.1).await;
            }
        });
    }
}

/// Longest wait for the ACK of our 2xx before an in-dialog request that came after it is
/// handled anyway: 64·T1, when the INVITE server transaction gives up (RFC 3261 §17.2.1).
const ACK_WAIT: std::time::Duration = std::time::Duration::from_secs(32);

async fn handle_in_dialog(mut dialog: Dialog, mut tx: Transaction) {
    // A request sent right after the ACK can overtake it here: the ACK is handled by the
    // INVITE's own task. rsipstack drops a request that finds the dialog still waiting for
    // the ACK, so wait for the ACK (it is normally a few ms behind).
    let ack_or_bye = matches!(tx.original.method, Method::Ack | Method::Bye);
    if let (Dialog::Invite(d), false) = (&dialog, ack_or_bye) {
        let until = tokio::time::Instant::now() + ACK_WAIT;
        while d.state().waiting_ack() && tokio::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        if d.state().is_terminated() {
            let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
            return;
        }
    }
    if let Err(e) = dialog.handle(&mut tx).await {
        tracing::debug!(error = %e, method = %tx.original.method, "in-dialog request failed");
    }
}

#[allow(clippy::too_many_arguments)]
async fn incoming_loop(
    mut incoming: rsipstack::transaction::TransactionReceiver,
    dialog_layer: Arc<DialogLayer>,
    state_tx: rsipstack::dialog::dialog::DialogStateSender,
    routes: Routes,
    calls_tx: mpsc::Sender<IncomingCall>,
    contacts: Contacts,
    refusing: Arc<AtomicU32>,
    admission: Option<Arc<dyn Admission>>,
    registrar: Option<(SharedRegistrar, Arc<dyn crate::registrar::CredentialStore>)>,
    cancel: CancellationToken,
) {
    let in_dialog = InDialogQueues::default();
    loop {
        let mut tx = tokio::select! {
            _ = cancel.cancelled() => return,
            tx = incoming.recv() => match tx { Some(tx) => tx, None => return },
        };
        if let Some(dialog) = dialog_layer.match_dialog(&tx) {
            // In-dialog request (BYE, INFO, re-INVITE, UPDATE, OPTIONS): rsipstack's dialog
            // answers BYE itself and hands the rest to us through the state channel.
            in_dialog.push(dialog, tx);
            continue;
        }
        let method = tx.original.method;
        match method {
            Method::Invite => {
                if has_to_tag(&tx) {
                    // A re-INVITE for a dialog we don't have (RFC 3261 §12.2.2).
                    let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
                    continue;
                }
                let retry_after = refusing.load(Ordering::Acquire);
                if retry_after > 0 {
                    let _ = tx
                        .reply_with(
                            StatusCode::ServiceUnavailable,
                            vec![Header::RetryAfter(retry_after.to_string().into())],
                            None,
                        )
                        .await;
                    continue;
                }
                // A desk phone registered over UDP dialling out (its own registered source,
                // its account in From): authenticated by digest first (407, RFC 3261 §22.3),
                // then its call is the agent's own call, as one over the connection a
                // device registered on is. Other INVITEs (the trunk, residents) are not
                // challenged.
                let mut authenticated_account = None;
                if let (Some((state, store)), Some(source)) = (
                    &registrar,
                    udp_source(&tx.original).filter(|_| transport_of(&tx) == "udp"),
                ) {
                    let from = from_user_of(&tx.original);
                    let registered = state
                        .lock()
                        .map(|r| r.udp_account_from(&from, source, now_s()))
                        .unwrap_or(false);
                    if registered {
                        match desk_phone_auth(state, store.as_ref(), &tx.original, &from, source)
                            .await
                        {
                            Ok(()) => authenticated_account = Some(from),
                            Err(reply) => {
                                send_reply(&mut tx, reply).await;
                                continue;
                            }
                        }
                    }
                }
                let permit = match admission.as_ref().map(|a| a.admit()).transpose() {
                    Ok(p) => p,
                    Err(refusal) => {
                        tracing::info!(
                            reason = refusal.reason,
                            retry_after_s = refusal.retry_after_s,
                            "INVITE refused with 503"
                        );
                        let _ = tx
                            .reply_with(
                                StatusCode::ServiceUnavailable,
                                vec![Header::RetryAfter(
                                    refusal.retry_after_s.max(1).to_string().into(),
                                )],
                                None,
                            )
                            .await;
                        continue;
                    }
                };
                let transport = transport_of(&tx);
                let local = tx
                    .connection
                    .as_ref()
                    .and_then(|c| c.get_addr().get_socketaddr().ok());
                let contact =
                    match rsipstack::sip::Uri::try_from(contacts.uri(transport, local).as_str()) {
                        Ok(u) => u,
                        Err(_) => continue,
                    };
                let dialog = match dialog_layer.get_or_create_server_invite(
                    &tx,
                    state_tx.clone(),
                    None,
                    Some(contact),
                ) {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::info!(error = %e, "INVITE refused");
                        let _ = tx.reply(StatusCode::BadRequest).await;
                        continue;
                    }
                };
                let (sig_tx, sig_rx) = mpsc::unbounded_channel();
                let (refer_tx, refer_rx) = mpsc::unbounded_channel();
                if let Ok(mut r) = routes.lock() {
                    r.insert(
                        dialog.id(),
                        Route {
                            signals: sig_tx,
                            refers: refer_tx,
                        },
                    );
                }
                let req = &tx.original;
                let body = String::from_utf8_lossy(req.body()).into_owned();
                let call = IncomingCall {
                    sip_call_id: req
                        .call_id_header()
                        .map(|c| c.value().to_string())
                        .unwrap_or_default(),
                    caller: from_user_of(req),
                    asserted_identity: asserted_identity_of(req),
                    source_ip: crate::validate::source_ip(req),
                    callee: user_of(req.uri()),
                    transport,
                    connection_peer: tx
                        .connection
                        .as_ref()
                        .filter(|c| c.is_reliable())
                        .and_then(|c| c.get_remote_addr())
                        .and_then(|a| a.get_socketaddr().ok()),
                    udp_source: (transport == "udp").then(|| udp_source(req)).flatten(),
                    authenticated_account,
                    offer: if body.trim().is_empty() {
                        None
                    } else {
                        Some(body)
                    },
                    leg: Leg {
                        dialog: dialog.clone(),
                    },
                    signals: sig_rx,
                    refers: refer_rx,
                    permit,
                };
                if calls_tx.try_send(call).is_err() {
                    let _ = tx.reply(StatusCode::ServiceUnavailable).await;
                    continue;
                }
                let mut dialog = dialog;
                tokio::spawn(async move {
                    if let Err(e) = dialog.handle(&mut tx).await {
                        tracing::debug!(error = %e, "INVITE transaction ended with error");
                    }
                });
            }
            Method::Options => {
                let headers = vec![
                    Header::Allow(ALLOW.into()),
                    Header::Accept("application/sdp".into()),
                ];
                let _ = tx.reply_with(StatusCode::OK, headers, None).await;
            }
            Method::Register if registrar.is_some() => {
                if let Some((state, store)) = registrar.clone() {
                    tokio::spawn(async move {
                        register(tx, state, store).await;
                    });
                }
            }
            Method::Ack => {}
            Method::Bye | Method::Info | Method::Update | Method::Cancel | Method::PRack => {
                let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
            }
            _ => {
                let _ = tx
                    .reply_with(
                        StatusCode::MethodNotAllowed,
                        vec![Header::Allow(ALLOW.into())],
                        None,
                    )
                    .await;
            }
        }
    }
}

/// Seconds since the Unix epoch, the registrar's clock.
fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// What the registrar needs of a REGISTER; `None` when it has no usable To or CSeq.
pub fn register_of(
    req: &rsipstack::sip::Request,
    source: SocketAddr,
    transport: &'static str,
) -> Option<crate::registrar::Register> {
    let values = |name: &str| -> Vec<String> {
        req.headers
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case(name))
            .map(|h| h.value().trim().to_string())
            .collect()
    };
    let aor_user = req
        .to_header()
        .ok()
        .and_then(|t| t.uri().ok())
        .map(|u| user_of(&u))?;
    Some(crate::registrar::Register {
        aor_user,
        authorization: values("Authorization"),
        contacts: values("Contact"),
        expires: values("Expires").into_iter().next(),
        call_id: req
            .call_id_header()
            .map(|c| c.value().to_string())
            .unwrap_or_default(),
        cseq: req.cseq_header().ok()?.seq().ok()?,
        source,
        // The stamped packet source: over WSS the browser's address, not the relay's.
        client_ip: crate::validate::source_ip(req).unwrap_or(source.ip()),
        transport,
    })
}

/// Where a request came from over UDP, as a UDP binding keeps it: the packet's source IP
/// (stamped into the top Via's `received`) with the Via's rport, or its sent-by port, or 5060.
/// `None` when the source IP is unknown.
fn udp_source(req: &rsipstack::sip::Request) -> Option<SocketAddr> {
    let ip = crate::validate::source_ip(req)?;
    let port = req
        .via_header()
        .ok()
        .and_then(|v| {
            use rsipstack::sip::ToTypedHeader;
            v.typed().ok()
        })
        .and_then(|v| {
            v.rport()
                .flatten()
                .or(v.uri.host_with_port.port.map(u16::from))
        })
        .unwrap_or(5060);
    Some(SocketAddr::new(ip, port))
}

/// Digest authentication of a registered desk phone's INVITE (RFC 3261 §22.3): `Ok(())`
/// when its `Proxy-Authorization` answers for SIP account `account` with the account's
/// password, else the reply to send (407 with a challenge; 403 for another account's
/// credentials or while locked out). One credential-store lookup, awaited in the incoming
/// loop (a local SQLite read).
async fn desk_phone_auth(
    state: &SharedRegistrar,
    store: &dyn crate::registrar::CredentialStore,
    req: &rsipstack::sip::Request,
    account: &str,
    source: SocketAddr,
) -> Result<(), Reply> {
    let values: Vec<String> = req
        .headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("Proxy-Authorization"))
        .map(|h| h.value().trim().to_string())
        .collect();
    let ip = source.ip();
    with_credentials(
        state,
        store,
        |r| r.authorize_request(&values, ip, now_s()),
        |r, pending, ha1s| r.verify_request("INVITE", account, ip, pending, ha1s, now_s()),
    )
    .await?
}

/// The registrar's two digest steps around the credential store (RFC 3261 §22.4): `first`
/// parses the credentials or decides the reply at once (a challenge, 403 while locked
/// out); then the user's HA1s are read from `store` and `last` checks them (and, for a
/// REGISTER, applies the bindings). `Err`: the reply to send, 500 for a poisoned lock or a
/// failed store.
async fn with_credentials<R>(
    state: &SharedRegistrar,
    store: &dyn crate::registrar::CredentialStore,
    first: impl FnOnce(&mut crate::registrar::Registrar) -> Result<crate::registrar::Pending, Reply>,
    last: impl FnOnce(&mut crate::registrar::Registrar, crate::registrar::Pending, &[String]) -> R,
) -> Result<R, Reply> {
    let internal = || Reply {
        status: 500,
        headers: Vec::new(),
    };
    let (pending, realm) = {
        let mut r = state.lock().map_err(|_| internal())?;
        let p = first(&mut r)?;
        (p, r.config().realm.clone())
    };
    let ha1s = store
        .ha1s(pending.username(), &realm, pending.algorithm)
        .await
        .map_err(|e| {
            tracing::error!(error = e, "SIP credential store failed");
            internal()
        })?;
    let mut r = state.lock().map_err(|_| internal())?;
    Ok(last(&mut r, pending, &ha1s))
}

/// Sends the registrar's `reply` (status and headers) on `tx`.
async fn send_reply(tx: &mut Transaction, reply: Reply) {
    let headers = reply
        .headers
        .into_iter()
        .map(|(n, v)| Header::Other(n, v))
        .collect();
    let _ = tx
        .reply_with(StatusCode::from(reply.status), headers, None)
        .await;
}

/// Answers one REGISTER (RFC 3261 §10.3) through the registrar.
async fn register(
    mut tx: Transaction,
    state: SharedRegistrar,
    store: Arc<dyn crate::registrar::CredentialStore>,
) {
    let transport = transport_of(&tx);
    // Over a stream (TCP, WebSocket) the binding is reached through the connection it came
    // on (RFC 7118 §5: a browser's Contact host is `*.invalid`), so its source is the
    // connection's peer; over UDP, the signalling source and the Via's rport.
    let stream_peer = tx
        .connection
        .as_ref()
        .filter(|c| c.is_reliable())
        .and_then(|c| c.get_remote_addr())
        .and_then(|a| a.get_socketaddr().ok());
    let source = stream_peer.unwrap_or_else(|| {
        udp_source(&tx.original)
            .unwrap_or_else(|| SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 5060))
    });
    let Some(req) = register_of(&tx.original, source, transport) else {
        let _ = tx.reply(StatusCode::BadRequest).await;
        return;
    };
    let reply = with_credentials(
        &state,
        store.as_ref(),
        |r| r.authorize(&req, now_s()),
        |r, pending, ha1s| r.complete_any(&req, pending, ha1s, now_s()),
    )
    .await
    .unwrap_or_else(|reply| reply);
    send_reply(&mut tx, reply).await;
}

fn has_to_tag(tx: &Transaction) -> bool {
    tx.original
        .to_header()
        .ok()
        .and_then(|t| t.tag().ok().flatten())
        .is_some()
}

async fn state_loop(mut rx: DialogStateReceiver, routes: Routes, dialog_layer: Arc<DialogLayer>) {
    while let Some(state) = rx.recv().await {
        let (id, signal) = match state {
            DialogState::Confirmed(id, _) => {
                // The ACK is recorded before `Confirmed` is notified (rsipstack
                // `InviteDialog::last_remote_ack`).
                let ack = match dialog_layer.get_dialog(&id) {
                    Some(Dialog::Invite(d)) => d.last_remote_ack(),
                    _ => None,
                };
                let ack_cseq = ack
                    .as_ref()
                    .and_then(|a| a.cseq_header().ok().and_then(|c| c.seq().ok()));
                let sdp = ack
                    .map(|a| String::from_utf8_lossy(a.body()).into_owned())
                    .filter(|b| !b.trim().is_empty());
                (id, Some(CallSignal::Confirmed { ack_cseq, sdp }))
            }
            DialogState::Info(id, req, handle) => {
                let content_type = req
                    .header_value("Content-Type")
                    .unwrap_or_default()
                    .to_string();
                let body = String::from_utf8_lossy(req.body()).into_owned();
                (
                    id,
                    Some(CallSignal::Info {
                        content_type,
                        body,
                        responder: Responder(handle),
                    }),
                )
            }
            DialogState::Updated(id, req, handle) => {
                let sdp = String::from_utf8_lossy(req.body()).into_owned();
                let cseq = req
                    .cseq_header()
                    .ok()
                    .and_then(|c| c.seq().ok())
                    .unwrap_or_default();
                (
                    id,
                    Some(CallSignal::Offer {
                        sdp,
                        cseq,
                        reinvite: req.method == Method::Invite,
                        responder: Responder(handle),
                    }),
                )
            }
            DialogState::Options(_id, _req, handle) => {
                let _ = handle
                    .respond(
                        StatusCode::OK,
                        Some(vec![Header::Allow(ALLOW.into())]),
                        None,
                    )
                    .await;
                continue;
            }
            DialogState::Refer(id, req, handle) => {
                let confirmed = match dialog_layer.get_dialog(&id) {
                    Some(Dialog::Invite(d)) if d.state().is_confirmed() => Some(d),
                    _ => None,
                };
                let route = routes.lock().ok().and_then(|r| r.get(&id).cloned());
                match (confirmed, route) {
                    (Some(dialog), Some(route)) => {
                        let refer = crate::uac::ReferRequest::new(&req, handle, dialog);
                        if let Err(refused) = route.refers.send(refer) {
                            tracing::debug!(%id, "REFER on a call that does not transfer: 405");
                            refused.0.reject(405).await;
                        }
                    }
                    _ => {
                        let _ = handle.reply(StatusCode::MethodNotAllowed).await;
                    }
                }
                continue;
            }
            DialogState::Message(_id, _req, handle)
            | DialogState::Notify(_id, _req, handle)
            | DialogState::Publish(_id, _req, handle) => {
                let _ = handle.reply(StatusCode::MethodNotAllowed).await;
                continue;
            }
            DialogState::Terminated(id, reason) => {
                let reason = match reason {
                    TerminatedReason::UacCancel => EndReason::Cancelled,
                    TerminatedReason::UacBye => EndReason::CallerBye,
                    TerminatedReason::UasBye => EndReason::OurBye,
                    TerminatedReason::UasDecline | TerminatedReason::UasBusy => EndReason::Rejected,
                    TerminatedReason::Timeout => EndReason::Timeout,
                    TerminatedReason::UacOther(s)
                    | TerminatedReason::UasOther(s)
                    | TerminatedReason::ProxyError(s) => EndReason::Other(u16::from(s)),
                    _ => EndReason::Other(0),
                };
                let sender = routes.lock().ok().and_then(|mut r| r.remove(&id));
                if let Some(s) = sender {
                    let _ = s.signals.send(CallSignal::Terminated(reason));
                }
                dialog_layer.remove_dialog(&id);
                continue;
            }
            _ => continue,
        };
        if let Some(signal) = signal {
            let sender = routes.lock().ok().and_then(|r| r.get(&id).cloned());
            match sender {
                Some(s) => {
                    let _ = s.signals.send(signal);
                }
                None => {
                    if let Some(Dialog::Invite(_)) = dialog_layer.get_dialog(&id) {
                        tracing::debug!(%id, "signal for a call the engine has left");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(extra: &str) -> rsipstack::sip::Request {
        let text = format!(
            "INVITE sip:100@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKt1\r\n\
             From: <sip:+79161234567@192.0.2.1>;tag=f1\r\nTo: <sip:100@192.0.2.2>\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match rsipstack::sip::SipMessage::try_from(text.as_bytes()) {
            Ok(rsipstack::sip::SipMessage::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn register_is_read_for_the_registrar() {
        let text = "REGISTER sip:192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKr1\r\n\
             From: <sip:101@192.0.2.2>;tag=f1\r\nTo: \"Desk\" <sip:101@192.0.2.2>\r\n\
             Call-ID: r1\r\nCSeq: 7 REGISTER\r\nMax-Forwards: 70\r\n\
             Contact: <sip:101@192.0.2.1:5062>;expires=60, <sip:101@10.0.0.1>\r\n\
             Contact: <sip:101@10.0.0.2>\r\nExpires: 120\r\n\
             Authorization: Digest username=\"101\", realm=\"r\", nonce=\"n\", uri=\"sip:192.0.2.2\", response=\"x\"\r\n\
             Content-Length: 0\r\n\r\n";
        let req = match rsipstack::sip::SipMessage::try_from(text.as_bytes()) {
            Ok(rsipstack::sip::SipMessage::Request(r)) => r,
            other => panic!("{other:?}"),
        };
        let src: SocketAddr = "192.0.2.1:5062".parse().expect("addr");
        let r = register_of(&req, src, "tcp").expect("register");
        assert_eq!(
            (r.aor_user.as_str(), r.call_id.as_str(), r.cseq),
            ("101", "r1", 7)
        );
        assert_eq!(r.expires.as_deref(), Some("120"));
        assert_eq!(r.authorization.len(), 1);
        assert!(r.authorization[0].starts_with("Digest username=\"101\""));
        let values: Vec<&str> = r.contacts.iter().map(String::as_str).collect();
        match crate::registrar::bindings::parse_contacts(&values) {
            Ok(crate::registrar::bindings::Contacts::List(l)) => assert_eq!(l.len(), 3),
            other => panic!("{other:?}"),
        }
        assert_eq!((r.source, r.transport), (src, "tcp"));
    }

    #[test]
    fn from_and_asserted_identity_are_read_separately() {
        let r = invite("");
        assert_eq!(from_user_of(&r), "+79161234567");
        assert_eq!(asserted_identity_of(&r), None);
        for (pai, want) in [
            ("\"Trunk\" <sip:84951112233@trunk.example>", "84951112233"),
            (
                "<sip:+74951112233@trunk.example;user=phone>",
                "+74951112233",
            ),
            ("<tel:+74951112233>, <sip:x@y>", "+74951112233"),
            ("sip:74951112233@10.0.0.1", "74951112233"),
        ] {
            let r = invite(&format!("P-Asserted-Identity: {pai}\r\n"));
            assert_eq!(asserted_identity_of(&r).as_deref(), Some(want), "{pai}");
            assert_eq!(from_user_of(&r), "+79161234567");
        }
        let r = invite("P-Asserted-Identity: <sip:trunk.example>\r\n");
        assert_eq!(asserted_identity_of(&r), None);
    }
}
