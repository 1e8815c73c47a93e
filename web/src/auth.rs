//! Who is calling: the authentication middleware (session cookie + CSRF, API key, the
//! config's service token), the login/logout/me routes, users, roles, API keys and the
//! audit log.

use crate::ApiError;
use crate::AppState;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use zvonar_access::{
    AccessError, AuditRecord, AuthMethod, LoginError, NewUser, Permission, Principal, Role,
    UserUpdate, Visibility,
};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "zvonar_session";
/// Header carrying the CSRF token on unsafe requests authenticated by the cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authenticated caller of a request and their address, put into the request's
/// extensions by [`authenticate`].
#[derive(Clone, Debug)]
pub struct Caller {
    /// Who.
    pub who: Principal,
    /// From where (`None` when the server was not started with connect info).
    pub ip: Option<IpAddr>,
}

impl Caller {
    /// `Ok` when the caller holds `p`, else 403.
    pub fn need(&self, p: Permission) -> Result<(), ApiError> {
        if self.who.can(p) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("нет права {p}")))
        }
    }

    /// An audit entry by this caller.
    pub fn audit(&self, action: &str) -> AuditRecord {
        AuditRecord::by(&self.who, self.ip, action)
    }
}

pub(crate) fn client_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Compares in constant time (`subtle`) so a secret cannot be guessed byte by byte from
/// response timing; only the length may leak.
pub(crate) fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(given.ct_eq(expected))
}

/// Paths a user who must change their password may still use.
const PASSWORD_CHANGE_PATHS: [&str; 3] = ["/api/v1/me", "/api/v1/me/password", "/api/v1/logout"];

/// The middleware in front of every protected route. In order:
/// `Authorization: Bearer` with the config's token → the service account; with a user's
/// API key → that user; else the session cookie (unsafe methods must then carry the
/// session's CSRF token in `X-CSRF-Token`, else 403). Nothing valid → 401. A user whose
/// password was reset may only reach `/api/v1/me`, `/api/v1/me/password` and
/// `/api/v1/logout` (else 403).
pub(crate) async fn authenticate(
    State(s): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let ip = client_ip(&req);
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default().strip_prefix("Bearer "));
    let who = match bearer {
        Some(Some(given)) if token_matches(given.as_bytes(), s.token.as_bytes()) => {
            Principal::service()
        }
        Some(Some(given)) => match &s.access {
            Some(a) => a
                .api_key(given)
                .await
                .map_err(internal)?
                .ok_or(ApiError::Unauthorized)?,
            None => return Err(ApiError::Unauthorized),
        },
        Some(None) => return Err(ApiError::Unauthorized),
        None => {
            let (Some(a), Some(sid)) = (&s.access, cookie(req.headers(), SESSION_COOKIE)) else {
                return Err(ApiError::Unauthorized);
            };
            let who = a
                .session(sid)
                .await
                .map_err(internal)?
                .ok_or(ApiError::Unauthorized)?;
            let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
            if let AuthMethod::Session { csrf_hash, .. } = &who.method {
                let given = req
                    .headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let ok = !given.is_empty()
                    && token_matches(
                        zvonar_access::secret_hash(given).as_bytes(),
                        csrf_hash.as_bytes(),
                    );
                if !safe && !ok {
                    return Err(ApiError::Forbidden(
                        "CSRF-токен отсутствует или неверен (заголовок X-CSRF-Token)".into(),
                    ));
                }
            }
            who
        }
    };
    if who.must_change_password && !PASSWORD_CHANGE_PATHS.contains(&req.uri().path()) {
        return Err(ApiError::Forbidden(
            "требуется сменить пароль (POST /api/v1/me/password)".into(),
        ));
    }
    req.extensions_mut().insert(Caller { who, ip });
    Ok(next.run(req).await)
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn access_error(e: AccessError) -> ApiError {
    match e {
        AccessError::WeakPassword(m) | AccessError::Invalid(m) => ApiError::BadRequest(m),
        AccessError::WrongPassword => ApiError::BadRequest(e.to_string()),
        AccessError::LoginTaken(_) => ApiError::Conflict(e.to_string()),
        AccessError::NotFound(what) => ApiError::NotFound(what),
        e => internal(e),
    }
}

fn accounts(s: &AppState) -> Result<&zvonar_access::Access, ApiError> {
    s.access
        .as_deref()
        .ok_or(ApiError::NotFound("user accounts"))
}

/// `POST /api/v1/login` body.
#[derive(Deserialize)]
pub(crate) struct LoginBody {
    login: String,
    password: String,
}

fn session_cookie(value: &str, max_age_s: u64, secure: bool) -> Result<HeaderValue, ApiError> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .map_err(internal)
}

fn me_json(who: &Principal, s: &AppState) -> serde_json::Value {
    serde_json::json!({
        "user_id": who.user_id,
        "login": who.login,
        "role": who.role,
        "permissions": who.permissions,
        "visibility": who.visibility,
        "must_change_password": who.must_change_password,
        // The console shows and enters times in it.
        "time_zone": s.company_zone().map(|z| z.name()),
    })
}

/// `POST /api/v1/login {"login","password"}` → 200 with the user and `csrf_token`, and the
/// session cookie; 401 wrong login or password (never which), 423 locked, 429 rate-limited
/// (both with `Retry-After`).
pub(crate) async fn login(State(s): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let ip = client_ip(&req);
    let a = accounts(&s)?;
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .map_err(|_| ApiError::BadRequest("body too large".into()))?;
    let body: LoginBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("expected {{\"login\", \"password\"}}: {e}")))?;
    let session = a
        .login(&body.login, &body.password, ip)
        .await
        .map_err(|e| match e {
            LoginError::RateLimited { retry_after_s } => ApiError::TooManyRequests {
                message: e.to_string(),
                retry_after_s,
            },
            LoginError::Locked { retry_after_s } => ApiError::Locked {
                message: e.to_string(),
                retry_after_s,
            },
            LoginError::BadCredentials => ApiError::BadCredentials,
            LoginError::Failed(e) => internal(e),
            e => internal(e),
        })?;
    let max_age = u64::from(a.policy().session_max_hours) * 3600;
    let mut body = me_json(&session.principal, &s);
    body["csrf_token"] = session.csrf_token.clone().into();
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&session.session_id, max_age, s.secure_cookies)?,
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `POST /api/v1/logout`: ends the session and clears the cookie (204).
pub(crate) async fn logout(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<Response, ApiError> {
    let a = accounts(&s)?;
    if let AuthMethod::Session { id_hash, .. } = &c.who.method {
        a.end_session(id_hash).await.map_err(internal)?;
        a.audit(&c.audit("logout")).await.map_err(internal)?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0, s.secure_cookies)?);
    Ok(resp)
}

/// `GET /api/v1/me`: who I am, my role, permissions and visibility, and the company's time
/// zone (`time_zone`, IANA; `null` when no module that knows it is served).
pub(crate) async fn me(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Json<serde_json::Value> {
    Json(me_json(&c.who, &s))
}

/// `POST /api/v1/me/password` body.
#[derive(Deserialize)]
pub(crate) struct ChangePassword {
    current_password: String,
    new_password: String,
}

/// `POST /api/v1/me/password {"current_password","new_password"}` (204): clears a forced
/// change; ends my other sessions.
pub(crate) async fn change_password(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    let a = accounts(&s)?;
    let id = c
        .who
        .user_id
        .ok_or_else(|| ApiError::BadRequest("the service account has no password".into()))?;
    let keep = match &c.who.method {
        AuthMethod::Session { id_hash, .. } => Some(id_hash.as_str()),
        _ => None,
    };
    a.change_own_password(id, &b.current_password, &b.new_password, keep)
        .await
        .map_err(access_error)?;
    a.audit(&c.audit("password_changed").target(format!("user:{id}")))
        .await
        .map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users` (manage_users).
pub(crate) async fn list_users(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageUsers)?;
    Ok(Json(accounts(&s)?.list_users().await.map_err(internal)?))
}

/// `POST /api/v1/users` body: the user and their first password (they must change it at
/// the first login).
#[derive(Deserialize)]
pub(crate) struct CreateUser {
    #[serde(flatten)]
    user: NewUser,
    password: String,
}

/// `POST /api/v1/users` (manage_users) → 201 with the user; 400 bad login/role/password,
/// 409 login taken.
pub(crate) async fn create_user(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<CreateUser>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageUsers)?;
    let a = accounts(&s)?;
    let u = a
        .create_user(&b.user, &b.password, true)
        .await
        .map_err(access_error)?;
    a.audit(
        &c.audit("user_created")
            .target(format!("user:{}", u.id))
            .details(
                serde_json::json!({"login": u.login, "role": u.role, "visibility": u.visibility}),
            ),
    )
    .await
    .map_err(internal)?;
    Ok((StatusCode::CREATED, Json(u)))
}

/// `PATCH /api/v1/users/{id}` (manage_users) with any of `display_name`, `role`,
/// `disabled`, `topics`, `buildings`.
pub(crate) async fn update_user(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<UserUpdate>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageUsers)?;
    let a = accounts(&s)?;
    let u = a.update_user(id, &b).await.map_err(access_error)?;
    a.audit(
        &c.audit("user_updated")
            .target(format!("user:{id}"))
            .details(serde_json::json!({
                "display_name": b.display_name, "role": b.role, "disabled": b.disabled,
                "topics": b.topics, "buildings": b.buildings,
            })),
    )
    .await
    .map_err(internal)?;
    Ok(Json(u))
}

/// `POST /api/v1/users/{id}/password` body.
#[derive(Deserialize)]
pub(crate) struct ResetPassword {
    password: String,
}

/// `POST /api/v1/users/{id}/password {"password"}` (manage_users, 204): an admin's reset;
/// the user must change it at the next login; their sessions end.
pub(crate) async fn reset_password(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<ResetPassword>,
) -> Result<StatusCode, ApiError> {
    c.need(Permission::ManageUsers)?;
    let a = accounts(&s)?;
    a.set_password(id, &b.password, true)
        .await
        .map_err(access_error)?;
    a.audit(&c.audit("password_reset").target(format!("user:{id}")))
        .await
        .map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/roles` (manage_users): every role's permissions.
pub(crate) async fn list_roles(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageUsers)?;
    Ok(Json(
        accounts(&s)?
            .all_role_permissions()
            .await
            .map_err(internal)?,
    ))
}

/// `PUT /api/v1/roles/{role}` body.
#[derive(Deserialize)]
pub(crate) struct RoleBody {
    permissions: BTreeSet<Permission>,
}

/// `PUT /api/v1/roles/{role} {"permissions": [...]}` (manage_users): replaces the role's
/// permissions; 400 for an unknown role or permission, or admin without manage_users.
pub(crate) async fn set_role(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(role): Path<String>,
    Json(b): Json<RoleBody>,
) -> Result<StatusCode, ApiError> {
    c.need(Permission::ManageUsers)?;
    let role: Role = role
        .parse()
        .map_err(|e: zvonar_access::UnknownName| ApiError::BadRequest(e.to_string()))?;
    let a = accounts(&s)?;
    let before = a.role_permissions(role).await.map_err(internal)?;
    a.set_role_permissions(role, &b.permissions)
        .await
        .map_err(access_error)?;
    a.audit(
        &c.audit("role_permissions_changed")
            .target(format!("role:{role}"))
            .details(serde_json::json!({"before": before, "after": b.permissions})),
    )
    .await
    .map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

fn own_user(c: &Caller) -> Result<i64, ApiError> {
    c.who.user_id.ok_or_else(|| {
        ApiError::BadRequest("the service account has no API keys: log in as a user".into())
    })
}

/// `GET /api/v1/keys`: my API keys (`?all=true` everyone's, manage_users).
pub(crate) async fn list_keys(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    let a = accounts(&s)?;
    let whose = if q.get("all").is_some_and(|v| v == "true") {
        c.need(Permission::ManageUsers)?;
        None
    } else {
        Some(own_user(&c)?)
    };
    Ok(Json(a.api_keys(whose).await.map_err(internal)?))
}

/// `POST /api/v1/keys` body.
#[derive(Deserialize)]
pub(crate) struct KeyBody {
    name: String,
}

/// `POST /api/v1/keys {"name"}` → 201 `{"key": "zv_…", …}`: a new API key of mine, shown
/// this once (only its hash is kept). It acts with my role and visibility.
pub(crate) async fn create_key(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Json(b): Json<KeyBody>,
) -> Result<impl IntoResponse, ApiError> {
    let a = accounts(&s)?;
    let uid = own_user(&c)?;
    let (info, key) = a.create_api_key(uid, &b.name).await.map_err(access_error)?;
    a.audit(
        &c.audit("api_key_created")
            .target(format!("api_key:{}", info.id))
            .details(serde_json::json!({"name": info.name, "prefix": info.prefix})),
    )
    .await
    .map_err(internal)?;
    let mut body = serde_json::to_value(&info).map_err(internal)?;
    body["key"] = key.into();
    Ok((StatusCode::CREATED, Json(body)))
}

/// `DELETE /api/v1/keys/{id}` (204): revokes my key, or anyone's with manage_users; 404
/// when there is no such active key.
pub(crate) async fn revoke_key(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let a = accounts(&s)?;
    let owner = if c.who.can(Permission::ManageUsers) {
        None
    } else {
        Some(own_user(&c)?)
    };
    if !a.revoke_api_key(id, owner).await.map_err(internal)? {
        // Someone else's key looks the same as a missing one to a non-admin.
        return Err(ApiError::NotFound("api key"));
    }
    a.audit(&c.audit("api_key_revoked").target(format!("api_key:{id}")))
        .await
        .map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/audit?limit=&offset=` (read_audit): newest first.
pub(crate) async fn audit_log(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(p): Query<crate::routes::Page>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ReadAudit)?;
    let (limit, offset) = p.get()?;
    Ok(Json(
        accounts(&s)?
            .audit_log(limit, offset)
            .await
            .map_err(internal)?,
    ))
}

/// A ticket a caller may see (their [`Visibility`]).
pub(crate) fn sees(c: &Caller, topic: &str, building: Option<i64>) -> bool {
    c.who.visibility.allows(topic, building)
}

/// The filter of a caller's visibility (`None`: no limit).
pub(crate) fn visibility_filter(v: &Visibility) -> (Option<Vec<String>>, Option<Vec<i64>>) {
    (
        (!v.topics.is_empty()).then(|| v.topics.clone()),
        (!v.buildings.is_empty()).then(|| v.buildings.clone()),
    )
}
