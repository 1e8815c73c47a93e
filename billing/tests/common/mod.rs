//! Helpers shared by the billing integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use sqlx::SqlitePool;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh migrated in-memory database.
pub async fn db() -> SqlitePool {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    zvonar_billing::migrate(&pool).await.unwrap();
    pool
}

/// A unique path in the temp directory with this file name suffix.
pub fn temp_path(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("zvonar-billing-{}-{n}-{name}", std::process::id()))
}

/// Writes `text` to a temp file and returns its path.
pub fn temp_file(name: &str, text: &str) -> PathBuf {
    let p = temp_path(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The shipped example registry.
pub fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/example")
        .join(name)
}
