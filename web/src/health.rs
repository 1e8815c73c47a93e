//! `GET /health`: whether each part the robot needs really works — speech recognition,
//! speech synthesis, the database, the disk — so an admin's monitor sees a mute robot.
//!
//! 200 when every component is up, 503 when any is down (RFC 9110 §15.6.4), always with
//! JSON naming each component's state:
//!
//! ```json
//! {"status": "down",
//!  "components": {"asr": {"state": "up", "workers": 1, "queue": 0},
//!                 "tts": {"state": "down", "error": "synthesiser stopped"}}}
//! ```
//!
//! The checks live with what they check (the engine); this module runs them, each with a
//! time limit, and renders the answer. No token is needed: the answer holds no personal data.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Longest one component's check may take before it counts as down.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// What a check returns: `Ok` with details (a JSON object, may be empty) when the
/// component works, `Err` with the reason when it does not.
pub type CheckResult = Result<serde_json::Map<String, serde_json::Value>, String>;

/// One component `/health` reports on.
pub trait HealthCheck: Send + Sync + 'static {
    /// Stable name in the JSON: `asr`, `tts`, `database`, `disk`.
    fn name(&self) -> &'static str;

    /// Checks the component now. A check that takes longer than [`CHECK_TIMEOUT`] is
    /// reported as down.
    fn check(&self) -> Pin<Box<dyn Future<Output = CheckResult> + Send + '_>>;
}

/// Runs every check concurrently and renders the answer.
pub(crate) async fn report(checks: &[Arc<dyn HealthCheck>]) -> Response {
    let mut set = tokio::task::JoinSet::new();
    for (i, c) in checks.iter().enumerate() {
        let c = c.clone();
        set.spawn(async move {
            let r = match tokio::time::timeout(CHECK_TIMEOUT, c.check()).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} ms", CHECK_TIMEOUT.as_millis())),
            };
            (i, r)
        });
    }
    let mut results: Vec<(usize, CheckResult)> = Vec::with_capacity(checks.len());
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            Err(e) => tracing::error!(error = %e, "health check crashed"),
        }
    }
    let mut components = serde_json::Map::new();
    let mut all_up = results.len() == checks.len();
    for (i, c) in checks.iter().enumerate() {
        let entry = match results.iter().find(|(j, _)| *j == i).map(|(_, r)| r) {
            Some(Ok(details)) => {
                let mut o = serde_json::Map::new();
                o.insert("state".into(), "up".into());
                o.extend(details.clone());
                o
            }
            Some(Err(reason)) => {
                all_up = false;
                tracing::warn!(component = c.name(), %reason, "health check failed");
                let mut o = serde_json::Map::new();
                o.insert("state".into(), "down".into());
                o.insert("error".into(), reason.clone().into());
                o
            }
            None => {
                let mut o = serde_json::Map::new();
                o.insert("state".into(), "down".into());
                o.insert("error".into(), "check crashed".into());
                o
            }
        };
        components.insert(c.name().into(), entry.into());
    }
    let status = if all_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if all_up { "ok" } else { "down" },
        "components": components,
    });
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{app, AppState};
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    /// A component whose state the test sets.
    struct Fixed {
        name: &'static str,
        up: bool,
        slow: bool,
    }

    impl HealthCheck for Fixed {
        fn name(&self) -> &'static str {
            self.name
        }
        fn check(&self) -> Pin<Box<dyn Future<Output = CheckResult> + Send + '_>> {
            Box::pin(async move {
                if self.slow {
                    std::future::pending::<()>().await;
                }
                if self.up {
                    let mut m = serde_json::Map::new();
                    m.insert("workers".into(), 1.into());
                    Ok(m)
                } else {
                    Err(format!("{} is not working", self.name))
                }
            })
        }
    }

    async fn state(checks: Vec<Arc<dyn HealthCheck>>) -> AppState {
        let pool = zvonar_billing::open_sqlite("sqlite::memory:")
            .await
            .expect("in-memory db");
        zvonar_dispatch::migrate(&pool).await.expect("migrate");
        AppState::new(
            Arc::new(zvonar_dispatch::SqliteDispatchStore::new(pool)),
            "a-token-for-the-tests".into(),
            std::env::temp_dir(),
            Arc::default(),
        )
        .with_health(checks)
    }

    async fn get_health(state: AppState) -> (StatusCode, serde_json::Value) {
        let resp = app(state)
            .oneshot(Request::get("/health").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    fn up(name: &'static str) -> Arc<dyn HealthCheck> {
        Arc::new(Fixed {
            name,
            up: true,
            slow: false,
        })
    }

    #[tokio::test]
    async fn all_up_is_200_with_each_component() {
        let (status, body) =
            get_health(state(vec![up("asr"), up("tts"), up("database"), up("disk")]).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "ok");
        for c in ["asr", "tts", "database", "disk"] {
            assert_eq!(body["components"][c]["state"], "up", "{body}");
        }
        assert_eq!(body["components"]["asr"]["workers"], 1);
    }

    #[tokio::test]
    async fn a_component_down_is_503_naming_it() {
        let tts_down: Arc<dyn HealthCheck> = Arc::new(Fixed {
            name: "tts",
            up: false,
            slow: false,
        });
        let (status, body) =
            get_health(state(vec![up("asr"), tts_down, up("database"), up("disk")]).await).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["status"], "down");
        assert_eq!(body["components"]["tts"]["state"], "down");
        assert_eq!(body["components"]["tts"]["error"], "tts is not working");
        assert_eq!(body["components"]["asr"]["state"], "up");
    }

    #[tokio::test]
    async fn a_check_that_hangs_counts_as_down() {
        let db_hangs: Arc<dyn HealthCheck> = Arc::new(Fixed {
            name: "database",
            up: true,
            slow: true,
        });
        let t0 = std::time::Instant::now();
        let (status, body) = get_health(state(vec![up("asr"), db_hangs]).await).await;
        assert!(t0.elapsed() < CHECK_TIMEOUT * 2, "{:?}", t0.elapsed());
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["components"]["database"]["state"], "down", "{body}");
    }
}
