//! Roles, permissions, users, visibility and the authenticated principal.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A user's role. What a role may do is its set of [`Permission`]s, which an admin edits
/// (stored in `role_permissions`); [`Role::default_permissions`] seeds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Call-centre operator: takes calls, files and passes on tickets.
    Operator,
    /// Emergency dispatcher (АДС): tickets through their whole life, outages.
    Dispatcher,
    /// Executor (исполнитель: plumber, electrician): completes tickets assigned to them.
    Executor,
    /// Supervisor: watches the floor, reads the audit log, everything but user management.
    Supervisor,
    /// Administrator: everything, including users and role permissions.
    Admin,
}

impl Role {
    /// Every role, in this order.
    pub const ALL: [Role; 5] = [
        Role::Operator,
        Role::Dispatcher,
        Role::Executor,
        Role::Supervisor,
        Role::Admin,
    ];

    /// The role's name as stored and sent (`operator`, …, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Dispatcher => "dispatcher",
            Role::Executor => "executor",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// The permissions a role starts with (seeded into the database the first time the
    /// role is seen; after that the database is what counts):
    ///
    /// | role | permissions |
    /// |---|---|
    /// | operator | take calls, create and transfer tickets, listen to recordings |
    /// | dispatcher | the operator's, plus complete, close, change topic, manage outages |
    /// | executor | complete tickets |
    /// | supervisor | everything except manage users, campaigns and rate tickets (the app) |
    /// | admin | everything |
    pub fn default_permissions(self) -> BTreeSet<Permission> {
        use Permission::*;
        let list: &[Permission] = match self {
            Role::Operator => &[TakeCalls, CreateTickets, TransferTickets, ListenRecordings],
            Role::Dispatcher => &[
                TakeCalls,
                CreateTickets,
                TransferTickets,
                CompleteTickets,
                CloseTickets,
                ChangeTicketTopic,
                ListenRecordings,
                ManageOutages,
            ],
            Role::Executor => &[CompleteTickets],
            Role::Supervisor => &[
                TakeCalls,
                CreateTickets,
                TransferTickets,
                CompleteTickets,
                CloseTickets,
                ChangeTicketTopic,
                ListenRecordings,
                DownloadRecordings,
                ManageOutages,
                ViewMonitor,
                ReadAudit,
                ManageDuty,
            ],
            Role::Admin => &Permission::ALL,
        };
        list.iter().copied().collect()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`] or a permission not in [`Permission::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} «{name}» (expected one of: {expected})")]
pub struct UnknownName {
    /// `role` or `permission`.
    pub kind: &'static str,
    /// What was given.
    pub name: String,
    /// The accepted names, comma-separated.
    pub expected: String,
}

impl FromStr for Role {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "role",
                name: s.to_string(),
                expected: Role::ALL.map(Role::as_str).join(", "),
            })
    }
}

/// Something a role may be allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Take calls (queues, the softphone) and see callback requests.
    TakeCalls,
    /// Create tickets.
    CreateTickets,
    /// Pass a ticket on to another department or executor.
    TransferTickets,
    /// Mark a ticket's work done.
    CompleteTickets,
    /// Close a ticket.
    CloseTickets,
    /// Change a ticket's topic.
    ChangeTicketTopic,
    /// Listen to call recordings and read call records (their timelines hold what was said).
    ListenRecordings,
    /// Download recordings as files.
    DownloadRecordings,
    /// Register and close outages.
    ManageOutages,
    /// Create and edit users, reset passwords, edit role permissions.
    ManageUsers,
    /// The live monitor and `/metrics`.
    ViewMonitor,
    /// Read the audit log.
    ReadAudit,
    /// Prepare and run outbound campaigns (автообзвон): select recipients from the registry
    /// (residents' phones and debts), start, pause and cancel campaigns.
    ManageCampaigns,
    /// Rate a completed ticket on a resident's behalf (the residents' app,
    /// `POST /api/v1/tickets/{id}/rating`).
    RateTickets,
    /// Edit the duty rosters of emergency call-outs (who is on duty for a department, when,
    /// at which phone; the supervisor called last).
    ManageDuty,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 15] = [
        Permission::TakeCalls,
        Permission::CreateTickets,
        Permission::TransferTickets,
        Permission::CompleteTickets,
        Permission::CloseTickets,
        Permission::ChangeTicketTopic,
        Permission::ListenRecordings,
        Permission::DownloadRecordings,
        Permission::ManageOutages,
        Permission::ManageUsers,
        Permission::ViewMonitor,
        Permission::ReadAudit,
        Permission::ManageCampaigns,
        Permission::RateTickets,
        Permission::ManageDuty,
    ];

    /// The name as stored and sent (`take_calls`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::TakeCalls => "take_calls",
            Permission::CreateTickets => "create_tickets",
            Permission::TransferTickets => "transfer_tickets",
            Permission::CompleteTickets => "complete_tickets",
            Permission::CloseTickets => "close_tickets",
            Permission::ChangeTicketTopic => "change_ticket_topic",
            Permission::ListenRecordings => "listen_recordings",
            Permission::DownloadRecordings => "download_recordings",
            Permission::ManageOutages => "manage_outages",
            Permission::ManageUsers => "manage_users",
            Permission::ViewMonitor => "view_monitor",
            Permission::ReadAudit => "read_audit",
            Permission::ManageCampaigns => "manage_campaigns",
            Permission::RateTickets => "rate_tickets",
            Permission::ManageDuty => "manage_duty",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "permission",
                name: s.to_string(),
                expected: Permission::ALL.map(Permission::as_str).join(", "),
            })
    }
}

/// Which tickets a user sees: by topic code and by building id. An empty list means all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visibility {
    /// Topic codes (`leak`, `electricity`, …); empty: every topic.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Building ids (the registry's); empty: every building.
    #[serde(default)]
    pub buildings: Vec<i64>,
}

impl Visibility {
    /// Whether a ticket with this topic and building is visible. A ticket without a
    /// building is hidden from a user limited to some buildings.
    pub fn allows(&self, topic: &str, building: Option<i64>) -> bool {
        (self.topics.is_empty() || self.topics.iter().any(|t| t == topic))
            && (self.buildings.is_empty() || building.is_some_and(|b| self.buildings.contains(&b)))
    }
}

/// A user account as returned by the API (never with its password hash).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Login name (case-insensitive, unique).
    pub login: String,
    /// Name shown in the console.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// The next login may only change the password (after an admin's reset).
    pub must_change_password: bool,
    /// A disabled user cannot log in and their sessions and keys stop working.
    pub disabled: bool,
    /// Ticket visibility.
    pub visibility: Visibility,
    /// When created (UTC).
    pub created_at: DateTime<Utc>,
}

/// How a request was authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// A session cookie; unsafe methods must carry the session's CSRF token.
    Session {
        /// SHA-256 (hex) of the session id, to end it at logout.
        id_hash: String,
        /// SHA-256 (hex) of the session's CSRF token.
        csrf_hash: String,
    },
    /// A user's API key (`Authorization: Bearer zv_…`).
    ApiKey {
        /// The key's row id.
        key_id: i64,
    },
    /// The `[http] token` of the config: the built-in service account.
    ServiceToken,
}

/// Who is making a request, with what they may do and see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user; `None` for the built-in service account.
    pub user_id: Option<i64>,
    /// Login (`service` for the service account).
    pub login: String,
    /// Role (the service account acts as admin).
    pub role: Role,
    /// The role's permissions at the time of the request.
    pub permissions: BTreeSet<Permission>,
    /// Which tickets they see.
    pub visibility: Visibility,
    /// Only a password change is allowed until this is cleared.
    pub must_change_password: bool,
    /// How the request was authenticated.
    pub method: AuthMethod,
}

impl Principal {
    /// Login of the built-in service account.
    pub const SERVICE_LOGIN: &'static str = "service";

    /// The built-in service account the config's `[http] token` authenticates as: every
    /// permission, every ticket. Kept so programs written against the single token keep
    /// working; per-user API keys replace it.
    pub fn service() -> Self {
        Principal {
            user_id: None,
            login: Self::SERVICE_LOGIN.into(),
            role: Role::Admin,
            permissions: Permission::ALL.into_iter().collect(),
            visibility: Visibility::default(),
            must_change_password: false,
            method: AuthMethod::ServiceToken,
        }
    }

    /// Whether the principal holds `p`.
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }
}

/// One audit-log entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Row id, growing with time.
    pub id: i64,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// The user, when the actor was one.
    pub user_id: Option<i64>,
    /// Who: the login, `service`, `cli`, or the login a failed attempt typed.
    pub actor: String,
    /// From where: the client's IP address; `None` from the command line.
    pub ip: Option<String>,
    /// What: `login`, `login_failed`, `logout`, `user_created`, `ticket_closed`, …
    pub action: String,
    /// What it was done to: `user:5`, `ticket:1024`, `role:operator`, `api_key:3`.
    pub target: Option<String>,
    /// Details as a JSON object (never a password or a key).
    pub details: serde_json::Value,
}

/// An API key as listed (the key itself is shown once, when created).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// What the owner called it («1С обмен»).
    pub name: String,
    /// The key's first characters (`zv_AbCd`), to tell keys apart.
    pub prefix: String,
    /// When created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last request made with it (UTC).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When revoked (UTC); a revoked key no longer works.
    pub revoked_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use Permission::*;

    #[test]
    fn default_permission_matrix() {
        // role → (what it may do), written out so a change to the defaults is deliberate.
        let expect: [(Role, &[Permission]); 5] = [
            (
                Role::Operator,
                &[TakeCalls, CreateTickets, TransferTickets, ListenRecordings],
            ),
            (
                Role::Dispatcher,
                &[
                    TakeCalls,
                    CreateTickets,
                    TransferTickets,
                    CompleteTickets,
                    CloseTickets,
                    ChangeTicketTopic,
                    ListenRecordings,
                    ManageOutages,
                ],
            ),
            (Role::Executor, &[CompleteTickets]),
            (
                Role::Supervisor,
                &[
                    TakeCalls,
                    CreateTickets,
                    TransferTickets,
                    CompleteTickets,
                    CloseTickets,
                    ChangeTicketTopic,
                    ListenRecordings,
                    DownloadRecordings,
                    ManageOutages,
                    ViewMonitor,
                    ReadAudit,
                    ManageDuty,
                ],
            ),
            (Role::Admin, &Permission::ALL),
        ];
        for (role, perms) in expect {
            assert_eq!(
                role.default_permissions(),
                perms.iter().copied().collect::<BTreeSet<_>>(),
                "{role}"
            );
        }
        // Only admins manage users; only supervisors and admins read the audit log.
        for role in Role::ALL {
            let p = role.default_permissions();
            assert_eq!(p.contains(&ManageUsers), role == Role::Admin, "{role}");
            assert_eq!(
                p.contains(&ReadAudit),
                matches!(role, Role::Supervisor | Role::Admin),
                "{role}"
            );
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_explained() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        let e = "boss".parse::<Role>().unwrap_err().to_string();
        assert!(e.contains("boss") && e.contains("dispatcher"), "{e}");
    }

    #[test]
    fn visibility_empty_means_all() {
        let all = Visibility::default();
        assert!(all.allows("leak", None));
        let v = Visibility {
            topics: vec!["leak".into()],
            buildings: vec![5],
        };
        assert!(v.allows("leak", Some(5)));
        assert!(!v.allows("leak", Some(6)));
        assert!(!v.allows("leak", None));
        assert!(!v.allows("electricity", Some(5)));
    }

    #[test]
    fn the_service_account_may_do_everything() {
        let s = Principal::service();
        assert!(Permission::ALL.iter().all(|p| s.can(*p)));
        assert_eq!(s.user_id, None);
    }
}
