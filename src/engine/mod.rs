//! The engine: one task per call drives the call flow the dialplan chose and publishes
//! [`zvonar_models::CallEvent`]s; dispatch writes tickets and CDRs from those events.
//!
//! ```text
//! SIP (zvonar-sip) ──IncomingCall──► engine::accept ──spawn──► call::run
//!                                                              ├─ media::run (RTP, VAD, recording)
//!                                                              ├─ dial (outgoing legs) ⇄ bridge
//!                                                              ├─ robot_driver / playback (flow)
//!                                                              └─ EventBus ──► dispatch subscriber
//! ```

pub mod bridge;
pub mod call;
pub mod caller_id;
pub mod campaign;
pub mod consult;
pub mod context;
pub mod dial;
pub mod dial_flow;
pub mod duty;
pub mod events;
pub mod filler;
pub mod media;
pub mod metrics;
pub mod own_transfer;
pub mod playback;
pub mod queue;
pub mod rating;
pub mod reoffer;
pub mod robot_driver;
pub mod slots;
pub mod transfer;
pub mod trunks;

use events::EventBus;
use metrics::Metrics;
use slots::{CallSlots, NoSlot, SlotGuard};
use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zvonar_billing::Registry;
use zvonar_models::{CallId, TicketRequest};
use zvonar_sip::ua::IncomingCall;
use zvonar_voice::asr::Asr;
use zvonar_voice::tts::{load_sound_file, Tts, TtsError};

/// The company's time zone unless `time_zone` is configured.
pub const DEFAULT_TIME_ZONE: chrono_tz::Tz = chrono_tz::Europe::Moscow;

/// Longest a caller waits for a ticket number while the database is busy (the robot is
/// silent meanwhile). A registry import commits at least every
/// `zvonar_billing::import::BATCH_MAX_HOLD` (250 ms), so a healthy database meets it easily.
pub const TICKET_DEADLINE: std::time::Duration = std::time::Duration::from_secs(6);

/// Pause between attempts to store a ticket after a database error.
pub const TICKET_RETRY_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// What every call task shares.
pub struct Shared {
    /// Routing and flows.
    pub dialplan: zvonar_dialplan::Dialplan,
    /// Call events out.
    pub events: EventBus,
    /// Metrics.
    pub metrics: Metrics,
    /// Accounts, premises, outages.
    pub registry: Arc<dyn Registry>,
    /// The building list and outages, cached over `registry` until it changes.
    pub directory: zvonar_billing::BuildingDirectory,
    /// Tickets (filed through dispatch).
    pub dispatch: Arc<dyn zvonar_dispatch::DispatchStore>,
    /// Speech recognition.
    pub asr: Asr,
    /// Speech synthesis.
    pub tts: Tts,
    /// Address in SDP.
    pub public_ip: IpAddr,
    /// Address RTP sockets bind to.
    pub rtp_bind_ip: IpAddr,
    /// RTP port range.
    pub rtp_ports: RangeInclusive<u16>,
    /// Root of call recordings.
    pub recordings_dir: PathBuf,
    /// The company's time zone (`time_zone` in the config): routing windows, outage times
    /// read aloud and recording folders use its local time.
    pub time_zone: chrono_tz::Tz,
    /// Networks whose caller identity is trusted (`[sip] trusted`; RFC 3325 §9.1).
    pub trusted_sources: Vec<ipnet::IpNet>,
    /// Call slots (`max_calls` at once; none while draining at shutdown).
    pub slots: Arc<CallSlots>,
    /// Cancelled when the drain time after SIGTERM is over: running calls hang up (BYE).
    pub shutdown: CancellationToken,
    /// Base directory for relative prompt files.
    pub prompts_dir: PathBuf,
    /// Ringing time before answer, ms.
    pub answer_after_ms: u64,
    /// The operator queues' runtime (`None` when the dialplan declares no `[[queue]]`).
    pub queues: Option<queue::QueueHandle>,
    /// SIP trunks (`[[trunk]]`): registrations, channels in use; numbers are dialled
    /// through them ([`dial::DialTarget::Number`]). Empty unless configured.
    pub trunks: Arc<trunks::Trunks>,
    /// Consultation calls an attended transfer may take the far party from
    /// ([`consult`], RFC 3891 `Replaces`).
    pub consultations: Arc<consult::Consultations>,
    sound_cache: Mutex<HashMap<String, Arc<[i16]>>>,
    sip: std::sync::OnceLock<Arc<zvonar_sip::ua::SipServer>>,
}

impl Shared {
    /// Assembles the shared state.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dialplan: zvonar_dialplan::Dialplan,
        events: EventBus,
        metrics: Metrics,
        registry: Arc<dyn Registry>,
        dispatch: Arc<dyn zvonar_dispatch::DispatchStore>,
        asr: Asr,
        tts: Tts,
        public_ip: IpAddr,
        rtp_ports: RangeInclusive<u16>,
        recordings_dir: PathBuf,
        prompts_dir: PathBuf,
        max_calls: usize,
    ) -> Shared {
        Shared {
            dialplan,
            events,
            metrics,
            directory: zvonar_billing::BuildingDirectory::new(registry.clone()),
            registry,
            dispatch,
            asr,
            tts,
            public_ip,
            rtp_bind_ip: IpAddr::from([0, 0, 0, 0]),
            rtp_ports,
            recordings_dir,
            time_zone: DEFAULT_TIME_ZONE,
            trusted_sources: Vec::new(),
            slots: CallSlots::new(max_calls),
            shutdown: CancellationToken::new(),
            prompts_dir,
            answer_after_ms: 0,
            queues: None,
            trunks: Arc::default(),
            consultations: Arc::default(),
            sound_cache: Mutex::default(),
            sip: std::sync::OnceLock::new(),
        }
    }

    /// Gives the engine the running SIP stack, so calls can place outgoing legs
    /// ([`dial::dial`]); set once at start, after the stack is up (the stack's admission
    /// control needs [`Shared::slots`] first). Later calls are ignored.
    pub fn set_sip(&self, sip: Arc<zvonar_sip::ua::SipServer>) {
        let _ = self.sip.set(sip);
    }

    /// The SIP stack, when [`Shared::set_sip`] was called.
    pub fn sip(&self) -> Option<Arc<zvonar_sip::ua::SipServer>> {
        self.sip.get().cloned()
    }

    /// A recorded prompt file as 8 kHz samples (cached after the first read).
    ///
    /// Errors: [`TtsError::SoundFile`] when missing or unreadable.
    pub async fn prompt_file(&self, file: &str) -> Result<Arc<[i16]>, TtsError> {
        if let Some(p) = self
            .sound_cache
            .lock()
            .ok()
            .and_then(|c| c.get(file).cloned())
        {
            return Ok(p);
        }
        let path = if Path::new(file).is_absolute() {
            PathBuf::from(file)
        } else {
            self.prompts_dir.join(file)
        };
        let pcm: Arc<[i16]> = tokio::task::spawn_blocking(move || load_sound_file(&path))
            .await
            .map_err(|_| TtsError::Stopped)??
            .into();
        if let Ok(mut c) = self.sound_cache.lock() {
            c.insert(file.to_string(), pcm.clone());
        }
        Ok(pcm)
    }

    /// A configured prompt: text through TTS, or a sound file.
    pub async fn prompt(&self, prompt: &zvonar_dialplan::Prompt) -> Result<Arc<[i16]>, TtsError> {
        match prompt {
            zvonar_dialplan::Prompt::Text(t) => self.tts.synthesize(t, "ru").await,
            zvonar_dialplan::Prompt::File(f) => self.prompt_file(f).await,
        }
    }

    /// Files a ticket through dispatch and returns its number; the request is also
    /// published as a call event for the timeline.
    ///
    /// A database error (locked by an import in another process past its busy timeout, say)
    /// is retried every [`TICKET_RETRY_EVERY`] until [`TICKET_DEADLINE`] has passed since the
    /// first try. `None` when the ticket could not be stored by then, or the request is
    /// invalid (logged); the robot then tells the caller so — it never reads out a ticket
    /// without a number.
    pub async fn file_ticket(&self, call_id: &CallId, req: TicketRequest) -> Option<String> {
        self.events
            .publish(
                call_id,
                zvonar_models::CallEventKind::TicketRequested(req.clone()),
            )
            .await;
        let at = chrono::Utc::now();
        let attempts = async {
            loop {
                match self.dispatch.file_ticket(Some(call_id), at, &req).await {
                    Ok(t) => return Some(t.number),
                    Err(zvonar_dispatch::FileTicketError::Database(e)) => {
                        tracing::warn!(%call_id, error = %e, "ticket not stored yet; retrying");
                        tokio::time::sleep(TICKET_RETRY_EVERY).await;
                    }
                    Err(e) => {
                        tracing::error!(%call_id, error = %e, "ticket refused");
                        return None;
                    }
                }
            }
        };
        match tokio::time::timeout(TICKET_DEADLINE, attempts).await {
            Ok(number) => number,
            Err(_) => {
                tracing::error!(%call_id, deadline_ms = TICKET_DEADLINE.as_millis() as u64,
                    "ticket not stored in time");
                None
            }
        }
    }
}

/// Accepts calls until the SIP stack stops, one task per call holding a slot of
/// [`Shared::slots`]; beyond `max_calls`, or while draining at shutdown, a call is refused
/// with 503 (RFC 3261 §21.5.4) so the trunk can try elsewhere. A call task that panics
/// gives its slot back like one that ends normally.
pub async fn accept(shared: Arc<Shared>, mut calls: mpsc::Receiver<IncomingCall>) {
    while let Some(mut call) = calls.recv().await {
        // Normally the SIP stack took the slot already (`SlotAdmission`), so refusals
        // carry Retry-After; without admission control the slot is taken here.
        let admitted = call
            .permit
            .take()
            .and_then(|p| p.downcast::<SlotGuard>().ok())
            .map(|slot| *slot);
        match admitted.map_or_else(|| shared.slots.acquire(), Ok) {
            Ok(slot) => {
                slots::spawn_with_slot(slot, call::run(shared.clone(), call));
            }
            Err(NoSlot::Full) => call.leg.reject(503, Some("overloaded")),
            Err(NoSlot::Draining) => call.leg.reject(503, Some("shutting down")),
        }
    }
}
