-- Users, roles and their permissions, sessions, API keys and the audit log. Owned by
-- zvonar-access (migrations 7xxx); billing is 1xxx, dispatch 2xxx.

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Case-insensitive: «Ivanov» and «ivanov» are one login.
    login                TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name         TEXT NOT NULL DEFAULT '',
    -- operator | dispatcher | executor | supervisor | admin
    role                 TEXT NOT NULL,
    -- Argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
    password_hash        TEXT NOT NULL,
    -- Set by an admin's password reset: the next login may only change the password.
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled             INTEGER NOT NULL DEFAULT 0,
    -- JSON arrays; [] = every topic / every building.
    topics               TEXT NOT NULL DEFAULT '[]',
    buildings            TEXT NOT NULL DEFAULT '[]',
    created_at           TEXT NOT NULL
);

-- A role's row exists once its default permissions were seeded, so an admin who takes
-- every permission from a role does not get them back at the next start.
CREATE TABLE roles (
    role TEXT PRIMARY KEY
);

CREATE TABLE role_permissions (
    role       TEXT NOT NULL REFERENCES roles (role),
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);

CREATE TABLE sessions (
    -- SHA-256 of the session id (hex); the id itself is only in the user's cookie.
    id_hash      TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the CSRF token (hex) the client sends in X-CSRF-Token.
    csrf_hash    TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    ip           TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    -- The key's first characters, to tell keys apart in lists.
    prefix       TEXT NOT NULL,
    -- SHA-256 of the whole key (hex).
    key_hash     TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    -- NULL for the built-in service account, the command line and anonymous attempts.
    user_id  INTEGER,
    -- The login as it was at the time (`service`, `cli`, or what a failed login typed).
    actor    TEXT NOT NULL,
    ip       TEXT,
    -- `login`, `login_failed`, `logout`, `user_created`, `ticket_closed`, …
    action   TEXT NOT NULL,
    -- What it was done to: `user:5`, `ticket:1024`, `role:operator`, `api_key:3`.
    target   TEXT,
    -- JSON object with the details (never a password or a key).
    details  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
