//! Opening the SQLite database and running this crate's migrations.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Why [`open_sqlite`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The `sqlite:` URL could not be parsed.
    #[error("bad SQLite URL: {0}")]
    BadUrl(#[source] sqlx::Error),
    /// The file could not be opened or created, or the first connection failed.
    #[error("cannot open SQLite database: {0}")]
    Connect(#[source] sqlx::Error),
}

/// Why a crate's migrations ([`migrate`]) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// A migration failed to apply, or the applied history conflicts with this binary
    /// (a changed checksum, a dirty migration).
    #[error("billing migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Opens (creating if missing) a SQLite database shared by all zvonar stores.
///
/// `path_or_url` is either a file path (`/var/lib/zvonar/zvonar.db`) or a URL
/// (`sqlite://zvonar.db`, `sqlite::memory:`). File databases use WAL journaling, foreign keys
/// on, a 5 s busy timeout and up to 8 connections. An in-memory database (`sqlite::memory:`
/// or `mode=memory`) gets exactly one connection that is never recycled, because each
/// connection to `:memory:` is a separate database — this is the form tests use.
///
/// Migrations are not run here: call [`migrate`] (and `zvonar_dispatch::migrate`).
///
/// Errors: [`OpenError::BadUrl`] for an unparsable URL, [`OpenError::Connect`] when the
/// file cannot be opened or created.
pub async fn open_sqlite(path_or_url: &str) -> Result<SqlitePool, OpenError> {
    let memory = path_or_url.contains(":memory:") || path_or_url.contains("mode=memory");
    let opts = if path_or_url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(path_or_url).map_err(OpenError::BadUrl)?
    } else {
        SqliteConnectOptions::new().filename(path_or_url)
    };
    let opts = opts
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = if memory {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await
    } else {
        SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts.journal_mode(SqliteJournalMode::Wal))
            .await
    };
    pool.map_err(OpenError::Connect)
}

/// Applies the billing migrations (`billing/migrations/sqlite`, versions 1xxx) to `pool`.
///
/// Migrations of other crates recorded in the shared `_sqlx_migrations` table are ignored,
/// so the order in which crates migrate does not matter. Idempotent.
///
/// Errors: [`MigrateError`] when a migration fails or the history conflicts.
pub async fn migrate(pool: &SqlitePool) -> Result<(), MigrateError> {
    let mut migrator = sqlx::migrate!("./migrations/sqlite");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    Ok(())
}
