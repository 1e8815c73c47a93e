//! The tickets API through `app(state)` with `oneshot` (no server): the emergency filter
//! and emergencies listed first.
#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use std::sync::Arc;
use tower::ServiceExt;
use zvonar_dispatch::{DispatchStore, SqliteDispatchStore};
use zvonar_models::TicketRequest;
use zvonar_web::{app, AppState};

const TOKEN: &str = "web-test-token-0123456789";

async fn state() -> (AppState, Arc<dyn DispatchStore>) {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_dispatch::migrate(&pool).await.unwrap();
    let store: Arc<dyn DispatchStore> = Arc::new(SqliteDispatchStore::new(pool));
    let state = AppState::new(
        store.clone(),
        TOKEN.to_string(),
        std::env::temp_dir(),
        Arc::new(prometheus_client::registry::Registry::default()),
    );
    (state, store)
}

fn request(topic: &str, emergency: bool) -> TicketRequest {
    TicketRequest {
        caller: None,
        account_id: None,
        building_id: None,
        premises_id: None,
        apartment: None,
        topic: topic.into(),
        emergency,
        description: String::new(),
        outage_id: None,
        unfinished: false,
    }
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, serde_json::Value) {
    let resp = app(state.clone())
        .oneshot(
            Request::get(uri)
                .header("Authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, json)
}

fn numbers(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn emergencies_are_listed_first_and_filtered() {
    let (state, store) = state().await;
    let now = chrono::Utc::now();
    // 1001 emergency (oldest), 1002 plain, 1003 emergency, 1004 plain (newest).
    for (topic, emergency) in [
        ("leak", true),
        ("lift", false),
        ("gas", true),
        ("roof", false),
    ] {
        store
            .file_ticket(None, now, &request(topic, emergency))
            .await
            .unwrap();
    }
    let (status, all) = get(&state, "/api/v1/tickets").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(numbers(&all), ["1003", "1001", "1004", "1002"]);

    let (_, only) = get(&state, "/api/v1/tickets?emergency=true").await;
    assert_eq!(numbers(&only), ["1003", "1001"]);
    assert!(only
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["emergency"] == true));
    let (_, others) = get(&state, "/api/v1/tickets?emergency=false&limit=1").await;
    assert_eq!(numbers(&others), ["1004"]);
    let (_, page) = get(&state, "/api/v1/tickets?limit=2&offset=1").await;
    assert_eq!(numbers(&page), ["1001", "1004"]);

    let (status, _) = get(&state, "/api/v1/tickets?emergency=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get(&state, "/api/v1/tickets?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
