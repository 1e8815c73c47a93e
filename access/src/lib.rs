//! zvonar access: who may use the console and the API, and what they did.
//!
//! * Users with a [`Role`] (operator, dispatcher, executor, supervisor, admin); each role's
//!   [`Permission`]s are stored in the database, seeded from [`Role::default_permissions`],
//!   and edited by an admin. A user's [`Visibility`] limits which tickets they see by topic
//!   and building.
//! * Password login (Argon2id PHC strings), server-side sessions (only the SHA-256 of the
//!   random session id and CSRF token is stored) with idle and absolute expiry, a per-IP
//!   rate limit and a per-login temporary lockout ([`AuthPolicy`], sans-IO with a [`Clock`]).
//! * Per-user API keys (shown once, only a hash stored); the config's `[http] token` is the
//!   key of the built-in service account ([`Principal::service`]).
//! * The audit log: who, what, when, from which IP ([`Access::audit`]).
//!
//! ```no_run
//! # async fn demo(pool: sqlx::SqlitePool) -> Result<(), Box<dyn std::error::Error>> {
//! use zvonar_access::{migrate, Access, AuthPolicy, NewUser, Role};
//! migrate(&pool).await?;
//! let access = Access::new(pool, AuthPolicy::default());
//! let new = NewUser { login: "admin".into(), role: Some(Role::Admin), ..Default::default() };
//! access.create_user(&new, "длинный пароль", false).await?;
//! let s = access.login("admin", "длинный пароль", None).await?;
//! assert!(access.session(&s.session_id).await?.is_some());
//! # Ok(()) }
//! ```

mod model;
mod password;
mod policy;
mod store;

pub use model::{
    ApiKeyInfo, AuditEntry, AuthMethod, Permission, Principal, Role, UnknownName, User, Visibility,
};
pub use password::{
    hash_password, password_problem, verify_password, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS,
};
pub use policy::{AuthPolicy, Clock, FakeClock, Lockout, RateLimit, SystemClock};
pub use store::{
    secret_hash, Access, AccessError, AuditRecord, LoginError, NewSession, NewUser, UserUpdate,
    API_KEY_PREFIX,
};

/// Why the access migrations failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// A migration failed to apply, or the applied history conflicts with this binary.
    #[error("access migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Seeding the default role permissions failed.
    #[error("seeding role permissions failed: {0}")]
    Seed(#[from] sqlx::Error),
}

/// Applies the access migrations (`access/migrations/sqlite`, versions 7xxx) to `pool`,
/// then gives every role not yet in the database its [`Role::default_permissions`] (a role
/// seeded once is left as the admin edited it). Other crates' migrations in the shared
/// `_sqlx_migrations` table are ignored. Idempotent.
///
/// Errors: [`MigrateError`].
pub async fn migrate(pool: &sqlx::SqlitePool) -> Result<(), MigrateError> {
    let mut migrator = sqlx::migrate!("./migrations/sqlite");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await?;
    let mut tx = pool.begin().await?;
    for role in Role::ALL {
        let new = sqlx::query("INSERT OR IGNORE INTO roles (role) VALUES (?)")
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if new == 1 {
            for p in role.default_permissions() {
                sqlx::query("INSERT INTO role_permissions (role, permission) VALUES (?, ?)")
                    .bind(role.as_str())
                    .bind(p.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}
