//! `Access` on a real (in-memory) SQLite database: seeding, users, sessions, keys, audit.
#![allow(clippy::unwrap_used)]

use chrono::Duration;
use std::sync::Arc;
use zvonar_access::{
    migrate, Access, AccessError, AuthPolicy, FakeClock, LoginError, NewUser, Permission, Role,
    UserUpdate, Visibility,
};

async fn access() -> (Access, Arc<FakeClock>, sqlx::SqlitePool) {
    let pool = zvonar_billing::open_sqlite("sqlite::memory:")
        .await
        .unwrap();
    migrate(&pool).await.unwrap();
    let clock = Arc::new(FakeClock::new("2026-11-29T08:00:00Z".parse().unwrap()));
    (
        Access::with_clock(pool.clone(), AuthPolicy::default(), clock.clone()),
        clock,
        pool,
    )
}

fn new(login: &str, role: Role) -> NewUser {
    NewUser {
        login: login.into(),
        display_name: String::new(),
        role: Some(role),
        visibility: Visibility::default(),
    }
}

#[tokio::test]
async fn defaults_are_seeded_once_and_edits_survive_a_second_migrate() {
    let (a, _, pool) = access().await;
    for role in Role::ALL {
        assert_eq!(
            a.role_permissions(role).await.unwrap(),
            role.default_permissions()
        );
    }
    a.set_role_permissions(Role::Operator, &Default::default())
        .await
        .unwrap();
    migrate(&pool).await.unwrap();
    assert!(a.role_permissions(Role::Operator).await.unwrap().is_empty());
    let e = a
        .set_role_permissions(Role::Admin, &[Permission::ReadAudit].into_iter().collect())
        .await
        .unwrap_err();
    assert!(matches!(e, AccessError::Invalid(_)), "{e}");
}

#[tokio::test]
async fn users_logins_and_passwords() {
    let (a, _, pool) = access().await;
    let u = a
        .create_user(&new("Ivanova", Role::Operator), "пароль оператора", false)
        .await
        .unwrap();
    assert_eq!(u.display_name, "Ivanova");
    let e = a
        .create_user(&new("ivanova", Role::Admin), "другой пароль", false)
        .await
        .unwrap_err();
    assert!(matches!(e, AccessError::LoginTaken(_)), "{e}");
    for bad in ["", "service", "with space", "a;drop"] {
        let e = a
            .create_user(&new(bad, Role::Admin), "длинный пароль", false)
            .await
            .unwrap_err();
        assert!(matches!(e, AccessError::Invalid(_)), "{bad}: {e}");
    }
    let e = a
        .create_user(&new("petrov", Role::Admin), "short", false)
        .await
        .unwrap_err();
    assert!(matches!(e, AccessError::WeakPassword(_)), "{e}");
    // Only an Argon2id PHC string is stored.
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = ?")
        .bind(u.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$") && !hash.contains("пароль"),
        "{hash}"
    );
    let s = a.login("IVANOVA", "пароль оператора", None).await.unwrap();
    assert_eq!(s.principal.role, Role::Operator);
    // Only hashes of the session id and CSRF token are stored.
    let stored: Vec<(String, String)> = sqlx::query_as("SELECT id_hash, csrf_hash FROM sessions")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].0, s.session_id);
    assert_ne!(stored[0].1, s.csrf_token);
    // Disabling ends the sessions and blocks the login.
    a.update_user(
        u.id,
        &UserUpdate {
            disabled: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(a.session(&s.session_id).await.unwrap().is_none());
    assert!(matches!(
        a.login("ivanova", "пароль оператора", None).await,
        Err(LoginError::BadCredentials)
    ));
}

#[tokio::test]
async fn expired_sessions_are_deleted() {
    let (a, clock, pool) = access().await;
    a.create_user(&new("petrov", Role::Operator), "пароль оператора", false)
        .await
        .unwrap();
    let s = a.login("petrov", "пароль оператора", None).await.unwrap();
    clock.advance(Duration::minutes(30));
    assert!(a.session(&s.session_id).await.unwrap().is_none());
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn api_keys_are_stored_hashed_and_revocable() {
    let (a, _, pool) = access().await;
    let u = a
        .create_user(&new("robot", Role::Supervisor), "пароль робота", false)
        .await
        .unwrap();
    let (info, key) = a.create_api_key(u.id, "отчёты").await.unwrap();
    assert!(key.starts_with(&info.prefix));
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM api_keys WHERE key_hash = ?")
        .bind(&key)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "the key itself is not stored");
    assert_eq!(a.api_key(&key).await.unwrap().unwrap().login, "robot");
    assert!(a.api_key("zv_nope").await.unwrap().is_none());
    assert!(
        !a.revoke_api_key(info.id, Some(u.id + 1)).await.unwrap(),
        "not the owner"
    );
    assert!(a.revoke_api_key(info.id, Some(u.id)).await.unwrap());
    assert!(a.api_key(&key).await.unwrap().is_none());
    assert!(a.api_keys(Some(u.id)).await.unwrap()[0]
        .revoked_at
        .is_some());
}

#[tokio::test]
async fn admins_seeded_before_manage_campaigns_get_it_on_migrate() {
    let (a, _, pool) = access().await;
    // A database seeded before the permission existed (and before migration 7002).
    for sql in [
        "DELETE FROM role_permissions WHERE permission = 'manage_campaigns'",
        "DELETE FROM _sqlx_migrations WHERE version = 7002",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let admin = a.role_permissions(Role::Admin).await.unwrap();
    assert!(!admin.contains(&Permission::ManageCampaigns));
    migrate(&pool).await.unwrap();
    assert_eq!(
        a.role_permissions(Role::Admin).await.unwrap(),
        Role::Admin.default_permissions()
    );
    let supervisor = a.role_permissions(Role::Supervisor).await.unwrap();
    assert!(!supervisor.contains(&Permission::ManageCampaigns));
}

#[tokio::test]
async fn admins_and_supervisors_seeded_before_manage_duty_get_it_on_migrate() {
    let (a, _, pool) = access().await;
    // A database seeded before the permission existed (and before migration 7096).
    for sql in [
        "DELETE FROM role_permissions WHERE permission = 'manage_duty'",
        "DELETE FROM _sqlx_migrations WHERE version = 7096",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let supervisor = a.role_permissions(Role::Supervisor).await.unwrap();
    assert!(!supervisor.contains(&Permission::ManageDuty));
    migrate(&pool).await.unwrap();
    for role in [Role::Admin, Role::Supervisor] {
        assert_eq!(
            a.role_permissions(role).await.unwrap(),
            role.default_permissions(),
            "{role}"
        );
    }
    let dispatcher = a.role_permissions(Role::Dispatcher).await.unwrap();
    assert!(!dispatcher.contains(&Permission::ManageDuty));
}
