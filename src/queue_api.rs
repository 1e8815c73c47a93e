//! The API's view of the engine's queue runtime ([`zvonar_web::QueueControl`]).

use crate::engine::queue::endpoints::Registrations;
use crate::engine::queue::monitor::{self, LogCache, MonitorSettings};
use crate::engine::queue::store::QueueStore;
use crate::engine::queue::{AgentOp, QueueHandle};
use zvonar_acd::AcdError;
use zvonar_web::{AgentAction, QueueControl, QueueError};

/// The runtime, the registrations (for an agent's phone) and the queued calls' store.
pub struct EngineQueues {
    /// The runtime.
    pub handle: QueueHandle,
    /// SIP accounts and their bindings.
    pub regs: Registrations,
    /// Queued calls with their context, and the queue log.
    pub store: QueueStore,
    /// The monitor's thresholds and time zone.
    pub monitor: MonitorSettings,
    /// Today's queue log, read incrementally.
    pub log: tokio::sync::Mutex<LogCache>,
    /// The console softphone's settings; `None` when SIP over WebSocket or the registrar is
    /// off.
    pub softphone: Option<SoftphoneSettings>,
}

/// What the console's softphone needs to register.
#[derive(Clone, Debug)]
pub struct SoftphoneSettings {
    /// The registrar's digest realm (`[sip.registrar] realm`).
    pub realm: String,
    /// The SIP-over-WebSocket port (`[sip] ws_listen`), for a page loaded over http; the
    /// page connects to its own host. `None`: plain `ws://` is off.
    pub ws_port: Option<u16>,
    /// The secure WebSocket port (`[sip] wss_listen`), for a page loaded over https (which
    /// may open only `wss://`). `None`: WSS is off.
    pub wss_port: Option<u16>,
}

fn stopped() -> QueueError {
    QueueError::Internal("the queue runtime has stopped".into())
}

fn refused(e: AcdError) -> QueueError {
    match e {
        AcdError::NotLoggedIn(_) | AcdError::UnknownAgent(_) => {
            QueueError::Conflict("вы не вошли в очередь (POST /api/v1/queue/agent/login)".into())
        }
        AcdError::EmptyPauseReason => QueueError::BadRequest("укажите причину паузы".into()),
        other => QueueError::Conflict(other.to_string()),
    }
}

#[async_trait::async_trait]
impl QueueControl for EngineQueues {
    async fn state(&self) -> Result<serde_json::Value, QueueError> {
        let st = self.handle.state().await.ok_or_else(stopped)?;
        serde_json::to_value(st).map_err(|e| QueueError::Internal(e.to_string()))
    }

    async fn monitor(&self) -> Result<serde_json::Value, QueueError> {
        let st = self.handle.state().await.ok_or_else(stopped)?;
        let now = crate::engine::queue::now_ms();
        let since = monitor::day_start_ms(chrono::Utc::now(), self.monitor.time_zone);
        let mut log = self.log.lock().await;
        let records = log
            .records(&self.store, since)
            .await
            .map_err(|e| QueueError::Internal(e.to_string()))?;
        let m = monitor::snapshot(st, records, &self.monitor, since, now);
        serde_json::to_value(m).map_err(|e| QueueError::Internal(e.to_string()))
    }

    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.handle.changes()
    }

    async fn call(&self, call_id: &str) -> Result<serde_json::Value, QueueError> {
        let mut row = self
            .store
            .call(call_id)
            .await
            .map_err(|e| QueueError::Internal(e.to_string()))?
            .ok_or(QueueError::NotFound)?;
        // While it is in a queue: its place and wait now.
        if let Some(st) = self.handle.state().await {
            if let Some(live) = st.calls.into_iter().find(|c| c.call_id == call_id) {
                row["live"] =
                    serde_json::to_value(live).map_err(|e| QueueError::Internal(e.to_string()))?;
            }
        }
        Ok(row)
    }

    async fn agent(
        &self,
        login: &str,
        action: AgentAction,
    ) -> Result<serde_json::Value, QueueError> {
        let op = match action {
            AgentAction::Login { skills } => {
                let endpoint = self
                    .regs
                    .endpoint_of(login)
                    .await
                    .map_err(|e| QueueError::Internal(e.to_string()))?
                    .ok_or_else(|| {
                        QueueError::Conflict(
                            "нет зарегистрированного телефона: зарегистрируйте SIP-аккаунт, \
                             привязанный к вашему логину (zvonar sip-account add ИМЯ --login ЛОГИН)"
                                .into(),
                        )
                    })?;
                AgentOp::Login { endpoint, skills }
            }
            AgentAction::Logout => AgentOp::Logout,
            AgentAction::Pause { reason } => AgentOp::Pause(reason),
            AgentAction::Resume => AgentOp::Resume,
            _ => AgentOp::Status,
        };
        let view = self
            .handle
            .agent(login, op)
            .await
            .map_err(|e| e.map_or_else(stopped, refused))?;
        serde_json::to_value(view).map_err(|e| QueueError::Internal(e.to_string()))
    }

    async fn softphone(&self, login: &str) -> Result<serde_json::Value, QueueError> {
        let Some(settings) = &self.softphone else {
            return Err(QueueError::Conflict(
                "программный телефон в консоли выключен: нужны [sip] ws_listen или wss_listen и [sip.registrar]"
                    .into(),
            ));
        };
        let internal = |e: sqlx::Error| QueueError::Internal(e.to_string());
        let account = self
            .regs
            .accounts_of(login)
            .await
            .map_err(internal)?
            .into_iter()
            .next()
            .ok_or_else(|| {
                QueueError::Conflict(
                    "у вас нет SIP-аккаунта: попросите администратора привязать его \
                     (zvonar sip-account add ИМЯ --login ЛОГИН)"
                        .into(),
                )
            })?;
        let now = crate::engine::queue::now_ms() / 1000;
        let password = crate::sip_accounts::issue_session_credential(
            self.regs.pool(),
            &account,
            &settings.realm,
            now,
            crate::sip_accounts::SESSION_CREDENTIAL_S,
        )
        .await
        .map_err(internal)?;
        Ok(serde_json::json!({
            "username": account,
            "realm": settings.realm,
            "password": password,
            "ws_port": settings.ws_port,
            "wss_port": settings.wss_port,
            "expires_in_s": crate::sip_accounts::SESSION_CREDENTIAL_S,
        }))
    }
}
