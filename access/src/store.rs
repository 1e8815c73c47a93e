//! [`Access`]: users, role permissions, logins and sessions, API keys and the audit log on
//! the shared SQLite pool.

use crate::model::{
    ApiKeyInfo, AuditEntry, AuthMethod, Permission, Principal, Role, User, Visibility,
};
use crate::password::{dummy_hash, hash_password, password_problem, verify_password};
use crate::policy::{AuthPolicy, Clock, Lockout, RateLimit, SystemClock};
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Why an account operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The database failed; nothing was changed.
    #[error("access database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A new password breaks a rule (the reason is for the user, in Russian).
    #[error("{0}")]
    WeakPassword(String),
    /// The current password given for a change is wrong.
    #[error("неверный текущий пароль")]
    WrongPassword,
    /// Another user has this login.
    #[error("логин «{0}» уже занят")]
    LoginTaken(String),
    /// A field is malformed (the reason names it).
    #[error("{0}")]
    Invalid(String),
    /// No such user (or API key).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A stored value does not decode.
    #[error("corrupt access row: {0}")]
    Corrupt(String),
    /// Hashing failed (not expected).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Why a login was refused. The API maps these to 429, 423 and 401; a wrong login and a
/// wrong password are the same [`LoginError::BadCredentials`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Too many attempts from this IP address; try again in `retry_after_s` seconds.
    #[error("слишком много попыток входа, повторите через {retry_after_s} с")]
    RateLimited {
        /// Seconds until the next attempt is accepted.
        retry_after_s: u64,
    },
    /// The login is temporarily locked after repeated failures.
    #[error(
        "вход временно заблокирован после неудачных попыток, повторите через {retry_after_s} с"
    )]
    Locked {
        /// Seconds until the lock ends.
        retry_after_s: u64,
    },
    /// Wrong login or password, or a disabled user (never says which).
    #[error("неверный логин или пароль")]
    BadCredentials,
    /// Our side failed.
    #[error(transparent)]
    Failed(#[from] AccessError),
}

/// A user to create.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct NewUser {
    /// Login: 1–64 characters of letters, digits and `._-@`.
    pub login: String,
    /// Name shown in the console; defaults to the login.
    #[serde(default)]
    pub display_name: String,
    /// Role.
    pub role: Option<Role>,
    /// Ticket visibility; empty lists: all.
    #[serde(default, flatten)]
    pub visibility: Visibility,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// New display name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// Disable (ends their sessions) or enable.
    pub disabled: Option<bool>,
    /// New topic visibility.
    pub topics: Option<Vec<String>>,
    /// New building visibility.
    pub buildings: Option<Vec<i64>>,
}

/// A session just created by [`Access::login`]: the id goes into the cookie, the CSRF
/// token to the client (who sends it back in `X-CSRF-Token`). Neither is stored.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The session id (43 characters, base64url of 32 random bytes).
    pub session_id: String,
    /// The CSRF token (same form).
    pub csrf_token: String,
    /// Who logged in.
    pub principal: Principal,
}

/// An audit-log entry to write.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    /// The acting user, when one.
    pub user_id: Option<i64>,
    /// Who: a login, `service`, `cli`.
    pub actor: String,
    /// From where.
    pub ip: Option<String>,
    /// What (`user_created`, `ticket_closed`, …).
    pub action: String,
    /// What it was done to (`user:5`, `ticket:1024`).
    pub target: Option<String>,
    /// Details as a JSON object; never a password or a key.
    pub details: serde_json::Value,
}

impl AuditRecord {
    /// An entry for an action by `who` from `ip`.
    pub fn by(who: &Principal, ip: Option<IpAddr>, action: &str) -> Self {
        AuditRecord {
            user_id: who.user_id,
            actor: who.login.clone(),
            ip: ip.map(|i| i.to_string()),
            action: action.into(),
            target: None,
            details: serde_json::json!({}),
        }
    }

    /// Sets what it was done to.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Sets the details.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Prefix of every API key, so a leaked key is recognisable (secret scanners).
pub const API_KEY_PREFIX: &str = "zv_";

/// 32 random bytes as base64url without padding (43 characters), from the thread-local
/// CSPRNG (ChaCha seeded from the OS).
fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// SHA-256 of a secret, hex: how session ids, CSRF tokens and API keys are stored (they
/// are 256-bit random values, so a fast hash suffices; only passwords need Argon2).
pub fn secret_hash(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_login(login: &str) -> Result<(), AccessError> {
    let ok = !login.is_empty()
        && login.chars().count() <= 64
        && login
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok && login != Principal::SERVICE_LOGIN && login != "cli" {
        Ok(())
    } else {
        Err(AccessError::Invalid(format!(
            "логин «{login}»: 1–64 буквы, цифры или ._-@ (service и cli зарезервированы)"
        )))
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    login: String,
    display_name: String,
    role: String,
    password_hash: String,
    must_change_password: bool,
    disabled: bool,
    topics: String,
    buildings: String,
    created_at: DateTime<Utc>,
}

/// Column list matching [`UserRow`], for `concat!` into static SQL.
macro_rules! user_columns {
    () => {
        "id, login, display_name, role, password_hash, must_change_password, disabled, topics, \
         buildings, created_at"
    };
}

impl UserRow {
    fn decode(self) -> Result<(User, String), AccessError> {
        let corrupt = |e: String| AccessError::Corrupt(format!("user {}: {e}", self.id));
        let role = self
            .role
            .parse::<Role>()
            .map_err(|e| corrupt(e.to_string()))?;
        let topics = serde_json::from_str(&self.topics).map_err(|e| corrupt(e.to_string()))?;
        let buildings =
            serde_json::from_str(&self.buildings).map_err(|e| corrupt(e.to_string()))?;
        Ok((
            User {
                id: self.id,
                login: self.login,
                display_name: self.display_name,
                role,
                must_change_password: self.must_change_password,
                disabled: self.disabled,
                visibility: Visibility { topics, buildings },
                created_at: self.created_at,
            },
            self.password_hash,
        ))
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: i64,
    user_id: i64,
    name: String,
    prefix: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<KeyRow> for ApiKeyInfo {
    fn from(r: KeyRow) -> Self {
        ApiKeyInfo {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: DateTime<Utc>,
    user_id: Option<i64>,
    actor: String,
    ip: Option<String>,
    action: String,
    target: Option<String>,
    details: String,
}

/// Users, roles, sessions, API keys and the audit log. Hold it as `Arc<Access>`; the
/// lockout and rate-limit counters live in memory (a restart clears them).
pub struct Access {
    pool: sqlx::SqlitePool,
    policy: AuthPolicy,
    clock: Arc<dyn Clock>,
    guard: Mutex<(Lockout, RateLimit)>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("policy", &self.policy)
            .finish()
    }
}

impl Access {
    /// On a pool migrated with [`crate::migrate`], with the system clock.
    pub fn new(pool: sqlx::SqlitePool, policy: AuthPolicy) -> Self {
        Self::with_clock(pool, policy, Arc::new(SystemClock))
    }

    /// The same with another clock (tests: [`crate::FakeClock`]).
    pub fn with_clock(pool: sqlx::SqlitePool, policy: AuthPolicy, clock: Arc<dyn Clock>) -> Self {
        Access {
            pool,
            policy,
            clock,
            guard: Mutex::default(),
        }
    }

    /// The settings in force.
    pub fn policy(&self) -> &AuthPolicy {
        &self.policy
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    // ---- users ----

    /// Creates a user with `password` (Argon2id). `must_change_password`: the first login
    /// may only change it.
    ///
    /// Errors: [`AccessError::Invalid`] (login, no role), [`AccessError::WeakPassword`],
    /// [`AccessError::LoginTaken`], [`AccessError::Database`].
    pub async fn create_user(
        &self,
        new: &NewUser,
        password: &str,
        must_change_password: bool,
    ) -> Result<User, AccessError> {
        let login = new.login.trim();
        valid_login(login)?;
        let role = new
            .role
            .ok_or_else(|| AccessError::Invalid("role is required".into()))?;
        if let Some(p) = password_problem(login, password) {
            return Err(AccessError::WeakPassword(p));
        }
        let hash = hash_blocking(password.to_string()).await?;
        let name = if new.display_name.trim().is_empty() {
            login.to_string()
        } else {
            new.display_name.trim().to_string()
        };
        let r = sqlx::query(
            "INSERT INTO users (login, display_name, role, password_hash, must_change_password, \
             topics, buildings, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(login)
        .bind(&name)
        .bind(role.as_str())
        .bind(&hash)
        .bind(must_change_password)
        .bind(json(&new.visibility.topics))
        .bind(json(&new.visibility.buildings))
        .bind(self.now())
        .execute(&self.pool)
        .await;
        let id = match r {
            Ok(r) => r.last_insert_rowid(),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(AccessError::LoginTaken(login.into()))
            }
            Err(e) => return Err(e.into()),
        };
        self.user(id).await?.ok_or(AccessError::NotFound("user"))
    }

    /// One user; `Ok(None)` when there is none with this id.
    pub async fn user(&self, id: i64) -> Result<Option<User>, AccessError> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.decode().map(|(u, _)| u)).transpose()
    }

    /// One user by login (case-insensitive); `Ok(None)` when there is none.
    pub async fn user_by_login(&self, login: &str) -> Result<Option<User>, AccessError> {
        Ok(self.user_row_by_login(login).await?.map(|(u, _)| u))
    }

    async fn user_row_by_login(&self, login: &str) -> Result<Option<(User, String)>, AccessError> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE login = ?"
        ))
        .bind(login.trim())
        .fetch_optional(&self.pool)
        .await?;
        row.map(UserRow::decode).transpose()
    }

    /// Every user, by login.
    pub async fn list_users(&self) -> Result<Vec<User>, AccessError> {
        let rows: Vec<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users ORDER BY login"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| r.decode().map(|(u, _)| u))
            .collect()
    }

    /// Applies `update` and returns the user. Disabling a user ends their sessions.
    ///
    /// Errors: [`AccessError::NotFound`], [`AccessError::Database`].
    pub async fn update_user(&self, id: i64, update: &UserUpdate) -> Result<User, AccessError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE users SET display_name = COALESCE(?, display_name), role = COALESCE(?, role), \
             disabled = COALESCE(?, disabled), topics = COALESCE(?, topics), \
             buildings = COALESCE(?, buildings) WHERE id = ?",
        )
        .bind(update.display_name.as_deref().map(str::trim))
        .bind(update.role.map(Role::as_str))
        .bind(update.disabled)
        .bind(update.topics.as_ref().map(json))
        .bind(update.buildings.as_ref().map(json))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(AccessError::NotFound("user"));
        }
        if update.disabled == Some(true) {
            sqlx::query("DELETE FROM sessions WHERE user_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.user(id).await?.ok_or(AccessError::NotFound("user"))
    }

    /// Sets a user's password (an admin's reset: `must_change = true`; `zvonar user
    /// passwd`: either) and ends all their sessions.
    ///
    /// Errors: [`AccessError::NotFound`], [`AccessError::WeakPassword`], database.
    pub async fn set_password(
        &self,
        id: i64,
        password: &str,
        must_change: bool,
    ) -> Result<(), AccessError> {
        let user = self.user(id).await?.ok_or(AccessError::NotFound("user"))?;
        if let Some(p) = password_problem(&user.login, password) {
            return Err(AccessError::WeakPassword(p));
        }
        let hash = hash_blocking(password.to_string()).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = ?, must_change_password = ? WHERE id = ?")
            .bind(&hash)
            .bind(must_change)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A user changes their own password: `current` must match; clears the forced
    /// change and ends their other sessions (`keep`: the session hash to keep).
    ///
    /// Errors: [`AccessError::WrongPassword`], [`AccessError::WeakPassword`], database.
    pub async fn change_own_password(
        &self,
        id: i64,
        current: &str,
        new: &str,
        keep: Option<&str>,
    ) -> Result<(), AccessError> {
        let user = self.user(id).await?.ok_or(AccessError::NotFound("user"))?;
        let (_, hash) = self
            .user_row_by_login(&user.login)
            .await?
            .ok_or(AccessError::NotFound("user"))?;
        if !verify_blocking(current.to_string(), hash).await {
            return Err(AccessError::WrongPassword);
        }
        if current == new {
            return Err(AccessError::WeakPassword(
                "новый пароль совпадает с текущим".into(),
            ));
        }
        if let Some(p) = password_problem(&user.login, new) {
            return Err(AccessError::WeakPassword(p));
        }
        let hash = hash_blocking(new.to_string()).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = ?, must_change_password = 0 WHERE id = ?")
            .bind(&hash)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = ? AND id_hash IS NOT ?")
            .bind(id)
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- roles ----

    /// The permissions `role` has now.
    pub async fn role_permissions(&self, role: Role) -> Result<BTreeSet<Permission>, AccessError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT permission FROM role_permissions WHERE role = ?")
                .bind(role.as_str())
                .fetch_all(&self.pool)
                .await?;
        // A permission this binary does not know (written by a newer one) is ignored.
        Ok(rows.into_iter().filter_map(|(p,)| p.parse().ok()).collect())
    }

    /// Every role's permissions.
    pub async fn all_role_permissions(
        &self,
    ) -> Result<BTreeMap<Role, BTreeSet<Permission>>, AccessError> {
        let mut out = BTreeMap::new();
        for role in Role::ALL {
            out.insert(role, self.role_permissions(role).await?);
        }
        Ok(out)
    }

    /// Replaces `role`'s permissions. The admin role always keeps `manage_users`, so
    /// nobody can lock every admin out.
    ///
    /// Errors: [`AccessError::Invalid`] for that, database.
    pub async fn set_role_permissions(
        &self,
        role: Role,
        permissions: &BTreeSet<Permission>,
    ) -> Result<(), AccessError> {
        if role == Role::Admin && !permissions.contains(&Permission::ManageUsers) {
            return Err(AccessError::Invalid(
                "роль admin не может потерять право manage_users".into(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM role_permissions WHERE role = ?")
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        for p in permissions {
            sqlx::query("INSERT INTO role_permissions (role, permission) VALUES (?, ?)")
                .bind(role.as_str())
                .bind(p.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn principal(&self, user: User, method: AuthMethod) -> Result<Principal, AccessError> {
        Ok(Principal {
            user_id: Some(user.id),
            permissions: self.role_permissions(user.role).await?,
            login: user.login,
            role: user.role,
            visibility: user.visibility,
            must_change_password: user.must_change_password,
            method,
        })
    }

    // ---- login and sessions ----

    /// Checks the per-IP rate limit, the login's lockout, then the password; on success
    /// creates a session. Writes `login`, `login_failed` or `login_locked` to the audit log.
    /// `ip`: the client's address (`None` when unknown: counted as one client).
    ///
    /// Errors: [`LoginError`].
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        ip: Option<IpAddr>,
    ) -> Result<NewSession, LoginError> {
        let now = self.now();
        {
            let mut g = self.guard.lock().unwrap_or_else(|e| e.into_inner());
            let (lockout, rate) = &mut *g;
            let client = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
            rate.check(client, now, &self.policy)
                .map_err(|retry_after_s| LoginError::RateLimited { retry_after_s })?;
            if let Some(until) = lockout.locked_until(login, now) {
                return Err(LoginError::Locked {
                    retry_after_s: seconds_until(now, until),
                });
            }
        }
        let found = self.user_row_by_login(login).await?;
        let hash = found
            .as_ref()
            .map(|(_, h)| h.clone())
            .unwrap_or_else(|| dummy_hash().to_string());
        let ok = verify_blocking(password.to_string(), hash).await;
        let user = match found {
            Some((u, _)) if ok && !u.disabled => u,
            found => {
                let locked = {
                    let mut g = self.guard.lock().unwrap_or_else(|e| e.into_inner());
                    g.0.record_failure(login, now, &self.policy)
                };
                let mut rec = AuditRecord {
                    user_id: found.map(|(u, _)| u.id),
                    actor: login.chars().take(64).collect(),
                    ip: ip.map(|i| i.to_string()),
                    action: "login_failed".into(),
                    target: None,
                    details: serde_json::json!({}),
                };
                self.audit(&rec).await?;
                if let Some(until) = locked {
                    rec.action = "login_locked".into();
                    rec.details = serde_json::json!({ "until": until });
                    self.audit(&rec).await?;
                }
                return Err(LoginError::BadCredentials);
            }
        };
        self.guard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .record_success(login);
        let session_id = random_token();
        let csrf_token = random_token();
        let id_hash = secret_hash(&session_id);
        let csrf_hash = secret_hash(&csrf_token);
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_hash, created_at, last_seen_at, ip) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&id_hash)
        .bind(user.id)
        .bind(&csrf_hash)
        .bind(now)
        .bind(now)
        .bind(ip.map(|i| i.to_string()))
        .execute(&self.pool)
        .await
        .map_err(AccessError::from)?;
        let principal = self
            .principal(user, AuthMethod::Session { id_hash, csrf_hash })
            .await?;
        self.audit(&AuditRecord::by(&principal, ip, "login"))
            .await?;
        Ok(NewSession {
            session_id,
            csrf_token,
            principal,
        })
    }

    /// The principal of a session cookie, or `Ok(None)` when the session does not exist,
    /// has expired (idle or absolute, see [`AuthPolicy::session_alive`]; it is then
    /// deleted) or its user is disabled. Marks the session used now.
    pub async fn session(&self, session_id: &str) -> Result<Option<Principal>, AccessError> {
        let id_hash = secret_hash(session_id);
        let row: Option<(i64, String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT user_id, csrf_hash, created_at, last_seen_at FROM sessions WHERE id_hash = ?",
        )
        .bind(&id_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some((user_id, csrf_hash, created, last_seen)) = row else {
            return Ok(None);
        };
        let now = self.now();
        if !self.policy.session_alive(created, last_seen, now) {
            self.end_session(&id_hash).await?;
            return Ok(None);
        }
        let Some(user) = self.user(user_id).await?.filter(|u| !u.disabled) else {
            return Ok(None);
        };
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?")
            .bind(now)
            .bind(&id_hash)
            .execute(&self.pool)
            .await?;
        Ok(Some(
            self.principal(user, AuthMethod::Session { id_hash, csrf_hash })
                .await?,
        ))
    }

    /// Ends a session (logout) by the hash in [`AuthMethod::Session`].
    pub async fn end_session(&self, id_hash: &str) -> Result<(), AccessError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- API keys ----

    /// Creates an API key for `user_id`; returns it listed and the key itself
    /// (`zv_` + 43 characters), which is shown this once: only its SHA-256 is stored.
    ///
    /// Errors: [`AccessError::Invalid`] for an empty or long name, database.
    pub async fn create_api_key(
        &self,
        user_id: i64,
        name: &str,
    ) -> Result<(ApiKeyInfo, String), AccessError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AccessError::Invalid(
                "name: 1–100 символов (для чего ключ)".into(),
            ));
        }
        let key = format!("{API_KEY_PREFIX}{}", random_token());
        let prefix: String = key.chars().take(API_KEY_PREFIX.len() + 4).collect();
        let id = sqlx::query(
            "INSERT INTO api_keys (user_id, name, prefix, key_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(user_id)
        .bind(name)
        .bind(&prefix)
        .bind(secret_hash(&key))
        .bind(self.now())
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        let info = self
            .api_keys(Some(user_id))
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or(AccessError::NotFound("api key"))?;
        Ok((info, key))
    }

    /// API keys of `user_id`, or of everyone (`None`), newest first.
    pub async fn api_keys(&self, user_id: Option<i64>) -> Result<Vec<ApiKeyInfo>, AccessError> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, user_id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys \
             WHERE (?1 IS NULL OR user_id = ?1) ORDER BY id DESC",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(ApiKeyInfo::from).collect())
    }

    /// Revokes key `key_id`; with `owner` only if it belongs to that user. `Ok(false)` when
    /// there is no such (unrevoked) key.
    pub async fn revoke_api_key(
        &self,
        key_id: i64,
        owner: Option<i64>,
    ) -> Result<bool, AccessError> {
        let n = sqlx::query(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL \
             AND (? IS NULL OR user_id = ?)",
        )
        .bind(self.now())
        .bind(key_id)
        .bind(owner)
        .bind(owner)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// The principal of an API key, or `Ok(None)` for an unknown or revoked key or a
    /// disabled owner. Marks the key used now.
    pub async fn api_key(&self, key: &str) -> Result<Option<Principal>, AccessError> {
        if !key.starts_with(API_KEY_PREFIX) {
            return Ok(None);
        }
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT id, user_id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        )
        .bind(secret_hash(key))
        .fetch_optional(&self.pool)
        .await?;
        let Some((key_id, user_id)) = row else {
            return Ok(None);
        };
        let Some(user) = self.user(user_id).await?.filter(|u| !u.disabled) else {
            return Ok(None);
        };
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(self.now())
            .bind(key_id)
            .execute(&self.pool)
            .await?;
        let mut p = self.principal(user, AuthMethod::ApiKey { key_id }).await?;
        // A program cannot answer a forced password change; its key works regardless.
        p.must_change_password = false;
        Ok(Some(p))
    }

    // ---- audit ----

    /// Appends an entry to the audit log at the clock's now.
    pub async fn audit(&self, rec: &AuditRecord) -> Result<(), AccessError> {
        sqlx::query(
            "INSERT INTO audit_log (at, user_id, actor, ip, action, target, details) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(self.now())
        .bind(rec.user_id)
        .bind(&rec.actor)
        .bind(&rec.ip)
        .bind(&rec.action)
        .bind(&rec.target)
        .bind(rec.details.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Audit entries, newest first; `limit` capped at 1000.
    pub async fn audit_log(&self, limit: u32, offset: u32) -> Result<Vec<AuditEntry>, AccessError> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, at, user_id, actor, ip, action, target, details FROM audit_log \
             ORDER BY id DESC LIMIT ? OFFSET ?",
        )
        .bind(limit.min(1000))
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    details: serde_json::from_str(&r.details)
                        .map_err(|e| AccessError::Corrupt(format!("audit {}: {e}", r.id)))?,
                    id: r.id,
                    at: r.at,
                    user_id: r.user_id,
                    actor: r.actor,
                    ip: r.ip,
                    action: r.action,
                    target: r.target,
                })
            })
            .collect()
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn seconds_until(now: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    (until - now).num_seconds().max(1).unsigned_abs()
}

/// Argon2 takes tens of milliseconds of CPU: off the async threads.
async fn hash_blocking(password: String) -> Result<String, AccessError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AccessError::Hash(e.to_string()))?
        .map_err(AccessError::Hash)
}

async fn verify_blocking(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false)
}
