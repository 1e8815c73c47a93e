//! Agents' SIP accounts for desk phones and softphones: user name → HA1s (RFC 2617
//! §3.2.2.2, RFC 7616 §3.4.2: H(user:realm:password) with MD5 and SHA-256), in the
//! `sip_accounts` table of the main database. Passwords are never stored; the HA1s are
//! bound to the realm they were made for. Managed with `zvonar sip-account`.

use async_trait::async_trait;
use sqlx::SqlitePool;
use zvonar_sip::registrar::digest::{ha1, Algorithm};
use zvonar_sip::registrar::CredentialStore;

/// Creates the table when missing.
pub async fn migrate(pool: &SqlitePool) -> sqlx::Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS sip_accounts (
            username TEXT PRIMARY KEY NOT NULL,
            realm TEXT NOT NULL,
            ha1_md5 TEXT NOT NULL,
            ha1_sha256 TEXT NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
        )",
    )
    .execute(pool)
    .await?;
    // Added with the queues: the access user (agent) whose phone this account is.
    let has_login: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pragma_table_info('sip_accounts') WHERE name = 'user_login'",
    )
    .fetch_one(pool)
    .await?;
    if has_login == 0 {
        sqlx::query("ALTER TABLE sip_accounts ADD COLUMN user_login TEXT")
            .execute(pool)
            .await?;
    }
    // Short-lived passwords of the console's softphone (one per account: the newest console
    // session's), stored as HA1s like the accounts' own; see [`issue_session_credential`].
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS sip_session_credentials (
            username TEXT PRIMARY KEY NOT NULL,
            realm TEXT NOT NULL,
            ha1_md5 TEXT NOT NULL,
            ha1_sha256 TEXT NOT NULL,
            expires_at INTEGER NOT NULL
        )",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// How long a console softphone's SIP password is valid, s: a long shift. The page asks for
/// a new one at every load, which replaces the old.
pub const SESSION_CREDENTIAL_S: u64 = 16 * 3600;

/// Issues a fresh random SIP password for `username` (an account) that the registrar accepts
/// besides the account's own until `now_s + lifetime_s`, for the console's softphone: the
/// page registers with it and never sees or keeps the account's real password. Replaces the
/// account's previous session password (the newest console wins). Returns the password
/// (32 hex digits, 128 random bits); only its HA1s are stored.
pub async fn issue_session_credential(
    pool: &SqlitePool,
    username: &str,
    realm: &str,
    now_s: u64,
    lifetime_s: u64,
) -> sqlx::Result<String> {
    let password = format!("{:032x}", rand::random::<u128>());
    sqlx::query(
        "INSERT INTO sip_session_credentials (username, realm, ha1_md5, ha1_sha256, expires_at)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(username) DO UPDATE SET realm = excluded.realm, ha1_md5 = excluded.ha1_md5,
         ha1_sha256 = excluded.ha1_sha256, expires_at = excluded.expires_at",
    )
    .bind(username)
    .bind(realm)
    .bind(ha1(Algorithm::Md5, username, realm, &password))
    .bind(ha1(Algorithm::Sha256, username, realm, &password))
    .bind(i64::try_from(now_s.saturating_add(lifetime_s)).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    Ok(password)
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Binds the account to the access user `login` (the agent whose phone it is), or unbinds it
/// (`None`). Returns `false` when there is no such account.
pub async fn bind_user(
    pool: &SqlitePool,
    username: &str,
    login: Option<&str>,
) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE sip_accounts SET user_login = ? WHERE username = ?")
        .bind(login)
        .bind(username)
        .execute(pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Why an account was not saved.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The user name cannot be a SIP user part we accept.
    #[error("SIP user name must be 1–64 characters of A–Z a–z 0–9 . _ - (got {0:?})")]
    BadName(String),
    /// The password is too short to resist guessing.
    #[error("SIP password must be at least 8 characters")]
    WeakPassword,
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A user name we accept: 1–64 of `A–Z a–z 0–9 . _ -` (a SIP user part without escapes,
/// RFC 3261 §25.1 `unreserved`).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Adds the account or sets its password (both HA1s for `realm`). Returns `true` when
/// it was new. Errors: [`AccountError`].
pub async fn set(
    pool: &SqlitePool,
    username: &str,
    realm: &str,
    password: &str,
) -> Result<bool, AccountError> {
    if !valid_name(username) {
        return Err(AccountError::BadName(username.into()));
    }
    if password.chars().count() < 8 {
        return Err(AccountError::WeakPassword);
    }
    let existed = sqlx::query("SELECT 1 FROM sip_accounts WHERE username = ?")
        .bind(username)
        .fetch_optional(pool)
        .await?
        .is_some();
    sqlx::query(
        "INSERT INTO sip_accounts (username, realm, ha1_md5, ha1_sha256) VALUES (?, ?, ?, ?)
         ON CONFLICT(username) DO UPDATE SET realm = excluded.realm, ha1_md5 = excluded.ha1_md5,
         ha1_sha256 = excluded.ha1_sha256,
         updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
    )
    .bind(username)
    .bind(realm)
    .bind(ha1(Algorithm::Md5, username, realm, password))
    .bind(ha1(Algorithm::Sha256, username, realm, password))
    .execute(pool)
    .await?;
    Ok(!existed)
}

/// Removes an account; `false` when there was none.
pub async fn remove(pool: &SqlitePool, username: &str) -> sqlx::Result<bool> {
    let r = sqlx::query("DELETE FROM sip_accounts WHERE username = ?")
        .bind(username)
        .execute(pool)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// `(username, realm, agent login)` of every account, by name.
pub async fn list(pool: &SqlitePool) -> sqlx::Result<Vec<(String, String, Option<String>)>> {
    sqlx::query_as("SELECT username, realm, user_login FROM sip_accounts ORDER BY username")
        .fetch_all(pool)
        .await
}

/// The registrar's [`CredentialStore`] over `sip_accounts`.
pub struct SqlCredentials(pub SqlitePool);

#[async_trait]
impl CredentialStore for SqlCredentials {
    async fn ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: Algorithm,
    ) -> Result<Option<String>, String> {
        let sql = match algorithm {
            Algorithm::Md5 => "SELECT ha1_md5 FROM sip_accounts WHERE username = ? AND realm = ?",
            Algorithm::Sha256 => {
                "SELECT ha1_sha256 FROM sip_accounts WHERE username = ? AND realm = ?"
            }
        };
        sqlx::query_scalar(sql)
            .bind(username)
            .bind(realm)
            .fetch_optional(&self.0)
            .await
            .map_err(|e| e.to_string())
    }

    /// The account's HA1 and its console session's, while that has not expired.
    async fn ha1s(
        &self,
        username: &str,
        realm: &str,
        algorithm: Algorithm,
    ) -> Result<Vec<String>, String> {
        let mut out: Vec<String> = self
            .ha1(username, realm, algorithm)
            .await?
            .into_iter()
            .collect();
        let sql = match algorithm {
            Algorithm::Md5 => {
                "SELECT ha1_md5 FROM sip_session_credentials
                 WHERE username = ? AND realm = ? AND expires_at > ?"
            }
            Algorithm::Sha256 => {
                "SELECT ha1_sha256 FROM sip_session_credentials
                 WHERE username = ? AND realm = ? AND expires_at > ?"
            }
        };
        let session: Option<String> = sqlx::query_scalar(sql)
            .bind(username)
            .bind(realm)
            .bind(i64::try_from(now_s()).unwrap_or(i64::MAX))
            .fetch_optional(&self.0)
            .await
            .map_err(|e| e.to_string())?;
        out.extend(session);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pool() -> SqlitePool {
        let pool = SqlitePool::connect("sqlite::memory:").await.expect("db");
        migrate(&pool).await.expect("migrate");
        pool
    }

    #[tokio::test]
    async fn a_session_credential_works_beside_the_account_password_until_it_expires() {
        let pool = pool().await;
        set(&pool, "101", "acme", "desk phone pw")
            .await
            .expect("account");
        let store = SqlCredentials(pool.clone());
        let now = now_s();
        let pw = issue_session_credential(&pool, "101", "acme", now, 60)
            .await
            .expect("issued");
        assert_eq!(pw.len(), 32);
        let got = store.ha1s("101", "acme", Algorithm::Md5).await.expect("q");
        assert_eq!(
            got,
            vec![
                ha1(Algorithm::Md5, "101", "acme", "desk phone pw"),
                ha1(Algorithm::Md5, "101", "acme", &pw)
            ]
        );
        // A newer console session replaces the older one.
        let pw2 = issue_session_credential(&pool, "101", "acme", now, 60)
            .await
            .expect("again");
        assert_ne!(pw, pw2);
        let got = store
            .ha1s("101", "acme", Algorithm::Sha256)
            .await
            .expect("q");
        assert!(got.contains(&ha1(Algorithm::Sha256, "101", "acme", &pw2)));
        assert!(!got.contains(&ha1(Algorithm::Sha256, "101", "acme", &pw)));
        // Expired: only the account's own.
        issue_session_credential(&pool, "101", "acme", now - 120, 60)
            .await
            .expect("old");
        assert_eq!(
            store
                .ha1s("101", "acme", Algorithm::Md5)
                .await
                .expect("q")
                .len(),
            1
        );
        // Another realm: nothing.
        assert!(store
            .ha1s("101", "other", Algorithm::Md5)
            .await
            .expect("q")
            .is_empty());
        let raw: Vec<(String, String)> =
            sqlx::query_as("SELECT ha1_md5, ha1_sha256 FROM sip_session_credentials")
                .fetch_all(&pool)
                .await
                .expect("rows");
        assert!(!format!("{raw:?}").contains(&pw2), "only hashes are stored");
    }

    #[tokio::test]
    async fn accounts_keep_only_ha1s_of_their_realm() {
        let pool = pool().await;
        assert!(set(&pool, "101", "acme", "correct horse")
            .await
            .expect("new"));
        let store = SqlCredentials(pool.clone());
        assert_eq!(
            store.ha1("101", "acme", Algorithm::Md5).await.expect("q"),
            Some(ha1(Algorithm::Md5, "101", "acme", "correct horse"))
        );
        assert_eq!(
            store
                .ha1("101", "acme", Algorithm::Sha256)
                .await
                .expect("q"),
            Some(ha1(Algorithm::Sha256, "101", "acme", "correct horse"))
        );
        assert_eq!(
            store.ha1("101", "other", Algorithm::Md5).await.expect("q"),
            None
        );
        assert_eq!(
            store.ha1("102", "acme", Algorithm::Md5).await.expect("q"),
            None
        );
        let stored: Vec<(String, String, String, String)> =
            sqlx::query_as("SELECT username, realm, ha1_md5, ha1_sha256 FROM sip_accounts")
                .fetch_all(&pool)
                .await
                .expect("rows");
        assert!(!format!("{stored:?}").contains("correct horse"));
        // A new password replaces the old hashes.
        assert!(!set(&pool, "101", "acme", "battery staple")
            .await
            .expect("update"));
        assert_eq!(
            store.ha1("101", "acme", Algorithm::Md5).await.expect("q"),
            Some(ha1(Algorithm::Md5, "101", "acme", "battery staple"))
        );
        assert_eq!(
            list(&pool).await.expect("list"),
            vec![("101".into(), "acme".into(), None)]
        );
        // Bound to an agent; a new password keeps the binding.
        assert!(bind_user(&pool, "101", Some("anna")).await.expect("bind"));
        assert!(!bind_user(&pool, "999", Some("anna")).await.expect("bind"));
        set(&pool, "101", "acme", "battery staple 2")
            .await
            .expect("update");
        assert_eq!(
            list(&pool).await.expect("list"),
            vec![("101".into(), "acme".into(), Some("anna".into()))]
        );
        // The column is added to a table made before it existed, once.
        migrate(&pool).await.expect("migrate twice");
        assert!(remove(&pool, "101").await.expect("rm"));
        assert!(!remove(&pool, "101").await.expect("rm"));
        assert_eq!(
            store.ha1("101", "acme", Algorithm::Md5).await.expect("q"),
            None
        );
    }

    #[tokio::test]
    async fn bad_names_and_short_passwords_are_refused() {
        let pool = pool().await;
        for name in ["", "a b", "a@b", "x\"", &"a".repeat(65)] {
            assert!(matches!(
                set(&pool, name, "acme", "long enough").await,
                Err(AccountError::BadName(_))
            ));
        }
        assert!(matches!(
            set(&pool, "101", "acme", "short").await,
            Err(AccountError::WeakPassword)
        ));
        assert!(list(&pool).await.expect("list").is_empty());
    }
}
