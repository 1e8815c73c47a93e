//! The API through `app(state)` with `oneshot` (no server): token check.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use std::sync::Arc;
use tower::ServiceExt;
use zvonar_web::{app, AppState};

const TOKEN: &str = "Zq3v9LrT0mWc2XyB8nKd5sFh";

async fn state(recordings: std::path::PathBuf) -> (AppState, sqlx::SqlitePool) {
    let pool = zvonar_billing::open_sqlite(":memory:").await.unwrap();
    zvonar_billing::migrate(&pool).await.unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    let store = Arc::new(zvonar_dispatch::SqliteDispatchStore::new(pool.clone()));
    let metrics = Arc::new(prometheus_client::registry::Registry::default());
    (
        AppState::new(store, TOKEN.to_string(), recordings, metrics),
        pool,
    )
}

async fn get(state: &AppState, path: &str, auth: Option<&str>) -> StatusCode {
    let mut req = Request::get(path);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    app(state.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn wrong_or_missing_token_is_401() {
    let (s, _pool) = state(std::env::temp_dir()).await;
    let good = format!("Bearer {TOKEN}");
    assert_eq!(get(&s, "/api/v1/calls", Some(&good)).await, StatusCode::OK);
    let mut near = TOKEN.to_string();
    near.pop();
    near.push('x');
    for bad in [
        None,
        Some("Bearer ".to_string()),
        Some(format!("Bearer {near}")),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
        Some(format!("Basic {TOKEN}")),
        Some(TOKEN.to_string()),
    ] {
        assert_eq!(
            get(&s, "/api/v1/calls", bad.as_deref()).await,
            StatusCode::UNAUTHORIZED,
            "{bad:?}"
        );
        assert_eq!(
            get(&s, "/metrics", bad.as_deref()).await,
            StatusCode::UNAUTHORIZED,
            "{bad:?}"
        );
    }
    assert_eq!(get(&s, "/health", None).await, StatusCode::OK);
}

#[tokio::test]
async fn expired_recording_is_410_not_404() {
    use zvonar_dispatch::DispatchStore;
    use zvonar_models::{CallEvent, CallEventKind, CallId};
    let dir = std::env::temp_dir().join(format!("zvonar-web-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("2026/01/02")).unwrap();
    std::fs::write(dir.join("2026/01/02/c1.wav"), b"RIFF").unwrap();
    let (s, pool) = state(dir.clone()).await;
    let store = zvonar_dispatch::SqliteDispatchStore::new(pool);
    let id = CallId("c1".into());
    let now = chrono::Utc::now();
    store
        .record_event(
            "c1-answered",
            &CallEvent {
                call_id: id.clone(),
                at: now,
                kind: CallEventKind::Answered {
                    recording: "2026/01/02/c1.wav".into(),
                },
            },
        )
        .await
        .unwrap();
    let auth = format!("Bearer {TOKEN}");
    let path = "/api/v1/calls/c1/recording";
    assert_eq!(get(&s, path, Some(&auth)).await, StatusCode::OK);
    store.mark_recording_deleted(&id, now).await.unwrap();
    std::fs::remove_file(dir.join("2026/01/02/c1.wav")).unwrap();
    assert_eq!(get(&s, path, Some(&auth)).await, StatusCode::GONE);
    // A call without any recording is still a 404.
    assert_eq!(
        get(&s, "/api/v1/calls/nope/recording", Some(&auth)).await,
        StatusCode::NOT_FOUND
    );
    let _ = std::fs::remove_dir_all(&dir);
}
