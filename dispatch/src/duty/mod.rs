//! Emergency call-outs to staff on duty (issue 8, point 6): the duty roster by department,
//! day and hour ([`Roster`]), the escalation of one emergency ticket along it as a sans-IO
//! state machine ([`Escalation`]), its settings (`[duty]` in zvonar.toml, [`DutySettings`])
//! and their storage in the main SQLite database ([`DutyStore`], migration
//! `2096_duty.sql`: `duty_rosters`, `duty_escalations`).
//!
//! The engine (`src/engine/duty.rs`) finds new emergency tickets, starts an escalation for
//! each (one per ticket: the row's primary key is the ticket id), calls, and stores the
//! escalation after every step; the HTTP API manages rosters and shows escalations on the
//! ticket.

mod escalation;
mod roster;

pub use escalation::{Attempt, AttemptOutcome, Command, Escalation, Rules, State};
pub use roster::{iso_day, parse_csv, Callee, DutyPhone, Roster, Shift, Supervisor};

use crate::model::Ticket;
use crate::rows::{decode_all, ticket_columns, TicketRow};
use crate::sqlite::SqliteDispatchStore;
use crate::store::QueryError;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[duty]`: emergency call-outs. Every field has a default; see deploy/zvonar.toml.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DutySettings {
    /// Call the staff on duty for new emergency tickets (default `true`). Off: rosters can
    /// still be edited, nobody is called.
    pub enabled: bool,
    /// How long each person's phone rings before the next one is called, s (5–120,
    /// default 30).
    pub ring_s: u32,
    /// Rounds through the roster (those on duty, then the supervisor) before the ticket is
    /// marked unanswered (1–10, default 2).
    pub rounds: u32,
    /// Pause between rounds, s (0–3600, default 60).
    pub round_gap_s: u32,
    /// After the message and the question, how long to wait for key 1 or 2 before counting
    /// the call as answered without a key, s (3–60, default 10).
    pub answer_wait_s: u32,
    /// How often new emergency tickets are looked for, ms (100–60 000, default 1000).
    pub scan_ms: u64,
    /// Emergency tickets filed longer ago than this when first seen are not called out
    /// (e.g. old tickets when the feature is first switched on), min (1–1440, default 60).
    pub max_age_min: u32,
    /// Topic code → department, for tickets filed without a department (the robot's):
    /// `{ leak = "Сантехники", electricity = "Электрики" }`.
    pub topics: BTreeMap<String, String>,
    /// The department of an emergency ticket whose topic is not in `topics`; none: nobody
    /// is called for such a ticket (call-outs are not set up for its topic).
    pub default_department: Option<String>,
}

impl Default for DutySettings {
    fn default() -> Self {
        DutySettings {
            enabled: true,
            ring_s: 30,
            rounds: 2,
            round_gap_s: 60,
            answer_wait_s: 10,
            scan_ms: 1000,
            max_age_min: 60,
            topics: BTreeMap::new(),
            default_department: None,
        }
    }
}

impl DutySettings {
    /// Checks the ranges.
    ///
    /// Errors: `duty.FIELD: …` naming the first bad field.
    pub fn check(&self) -> Result<(), String> {
        let range = |name: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("duty.{name}: {v} вне диапазона {lo}–{hi}"))
            }
        };
        range("ring_s", self.ring_s.into(), 5, 120)?;
        range("rounds", self.rounds.into(), 1, 10)?;
        range("round_gap_s", self.round_gap_s.into(), 0, 3600)?;
        range("answer_wait_s", self.answer_wait_s.into(), 3, 60)?;
        range("scan_ms", self.scan_ms, 100, 60_000)?;
        range("max_age_min", self.max_age_min.into(), 1, 1440)?;
        for (topic, dept) in &self.topics {
            if dept.trim().is_empty() {
                return Err(format!("duty.topics.{topic}: пустой отдел"));
            }
        }
        Ok(())
    }

    /// The escalation's rules from these settings.
    pub fn rules(&self) -> Rules {
        Rules {
            rounds: self.rounds,
            round_gap_s: self.round_gap_s,
        }
    }

    /// The department whose roster is called for `ticket`: its own department, else its
    /// topic's from `topics`, else `default_department`.
    pub fn department_for(&self, ticket: &Ticket) -> Option<String> {
        ticket
            .department
            .clone()
            .filter(|d| !d.trim().is_empty())
            .or_else(|| self.topics.get(&ticket.topic).cloned())
            .or_else(|| self.default_department.clone())
    }
}

/// Rosters and escalations in the database; hold it as `Arc<dyn DutyStore>`.
#[async_trait]
pub trait DutyStore: Send + Sync {
    /// Every department's roster, by department name.
    async fn rosters(&self) -> Result<Vec<Roster>, QueryError>;

    /// One department's roster (empty when none was stored).
    async fn roster(&self, department: &str) -> Result<Roster, QueryError>;

    /// Replaces the department's roster (`roster.department`); `by`: the login.
    async fn set_roster(&self, roster: &Roster, by: &str) -> Result<(), QueryError>;

    /// Emergency tickets in status `new`, not assigned to a person, filed at or after
    /// `since`, without an escalation: the ones to call out for. Oldest first.
    async fn emergencies_to_escalate(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, QueryError>;

    /// Stores a new escalation unless the ticket has one: `Ok(false)` when it had (another
    /// scan got there first), so one ticket is escalated once.
    async fn start_escalation(&self, e: &Escalation, at: DateTime<Utc>)
        -> Result<bool, QueryError>;

    /// Stores the escalation's state (after every step).
    async fn save_escalation(&self, e: &Escalation, at: DateTime<Utc>) -> Result<(), QueryError>;

    /// The ticket's escalation, if it had one.
    async fn escalation(&self, ticket_id: i64) -> Result<Option<Escalation>, QueryError>;

    /// Escalations not over (waiting or calling), to resume after a restart.
    async fn open_escalations(&self) -> Result<Vec<Escalation>, QueryError>;

    /// Ticket ids whose escalation ended unanswered, newest first (the console's alarm).
    async fn unanswered(&self) -> Result<Vec<i64>, QueryError>;

    /// Recordings of attempts started before `before` and not yet deleted, of escalations
    /// that are over: `(ticket id, attempt n, path relative to the recordings directory)`.
    /// For the retention sweep (`[storage] retention_days`).
    async fn recordings_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<(i64, u32, String)>, QueryError>;

    /// Marks attempt `n` of the ticket's escalation: its recording deleted at `at` (the
    /// path is kept). Nothing when there is no such attempt.
    async fn mark_recording_deleted(
        &self,
        ticket_id: i64,
        n: u32,
        at: DateTime<Utc>,
    ) -> Result<(), QueryError>;
}

fn corrupt(e: serde_json::Error) -> QueryError {
    QueryError::Corrupt(format!("duty JSON: {e}"))
}

#[async_trait]
impl DutyStore for SqliteDispatchStore {
    async fn rosters(&self) -> Result<Vec<Roster>, QueryError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT roster FROM duty_rosters ORDER BY department")
                .fetch_all(self.pool())
                .await?;
        rows.into_iter()
            .map(|(r,)| serde_json::from_str(&r).map_err(corrupt))
            .collect()
    }

    async fn roster(&self, department: &str) -> Result<Roster, QueryError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT roster FROM duty_rosters WHERE department = ?")
                .bind(department)
                .fetch_optional(self.pool())
                .await?;
        match row {
            Some((r,)) => serde_json::from_str(&r).map_err(corrupt),
            None => Ok(Roster {
                department: department.to_string(),
                ..Roster::default()
            }),
        }
    }

    async fn set_roster(&self, roster: &Roster, by: &str) -> Result<(), QueryError> {
        let json = serde_json::to_string(roster).map_err(corrupt)?;
        sqlx::query(
            "INSERT INTO duty_rosters (department, roster, updated_at, updated_by) VALUES (?, ?, ?, ?)
             ON CONFLICT (department) DO UPDATE SET roster = excluded.roster,
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(&roster.department)
        .bind(json)
        .bind(Utc::now())
        .bind(by)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn emergencies_to_escalate(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Ticket>, QueryError> {
        let rows: Vec<TicketRow> = sqlx::query_as(concat!(
            "SELECT ",
            ticket_columns!(),
            " FROM tickets t WHERE emergency = 1 AND status = 'new' AND executor_id IS NULL
              AND julianday(created_at) >= julianday(?)
              AND NOT EXISTS (SELECT 1 FROM duty_escalations e WHERE e.ticket_id = t.id)
              ORDER BY id"
        ))
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        decode_all(rows)
    }

    async fn start_escalation(
        &self,
        e: &Escalation,
        at: DateTime<Utc>,
    ) -> Result<bool, QueryError> {
        let json = serde_json::to_string(e).map_err(corrupt)?;
        let n = sqlx::query(
            "INSERT INTO duty_escalations (ticket_id, department, phase, state, started_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id) DO NOTHING",
        )
        .bind(e.ticket_id)
        .bind(&e.department)
        .bind(e.phase())
        .bind(json)
        .bind(at)
        .bind(at)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    async fn save_escalation(&self, e: &Escalation, at: DateTime<Utc>) -> Result<(), QueryError> {
        let json = serde_json::to_string(e).map_err(corrupt)?;
        sqlx::query(
            "UPDATE duty_escalations SET phase = ?, state = ?, updated_at = ? WHERE ticket_id = ?",
        )
        .bind(e.phase())
        .bind(json)
        .bind(at)
        .bind(e.ticket_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn escalation(&self, ticket_id: i64) -> Result<Option<Escalation>, QueryError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT state FROM duty_escalations WHERE ticket_id = ?")
                .bind(ticket_id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|(s,)| serde_json::from_str(&s).map_err(corrupt))
            .transpose()
    }

    async fn open_escalations(&self) -> Result<Vec<Escalation>, QueryError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT state FROM duty_escalations WHERE phase IN ('waiting', 'calling') ORDER BY ticket_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(s,)| serde_json::from_str(&s).map_err(corrupt))
            .collect()
    }

    async fn recordings_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<(i64, u32, String)>, QueryError> {
        let rows: Vec<(String,)> = sqlx::query_as(OVER_BEFORE_SQL)
            .bind(before)
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for (state,) in rows {
            let e: Escalation = serde_json::from_str(&state).map_err(corrupt)?;
            for a in &e.attempts {
                if let (Some(rec), None) = (&a.recording, a.recording_deleted_at) {
                    if a.started_at < before {
                        out.push((e.ticket_id, a.n, rec.clone()));
                    }
                }
            }
        }
        Ok(out)
    }

    async fn mark_recording_deleted(
        &self,
        ticket_id: i64,
        n: u32,
        at: DateTime<Utc>,
    ) -> Result<(), QueryError> {
        let mut tx = self.pool().begin().await?;
        let row: Option<(String,)> =
            sqlx::query_as("SELECT state FROM duty_escalations WHERE ticket_id = ?")
                .bind(ticket_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((state,)) = row else {
            return Ok(());
        };
        let mut e: Escalation = serde_json::from_str(&state).map_err(corrupt)?;
        let Some(a) = e.attempts.iter_mut().find(|a| a.n == n) else {
            return Ok(());
        };
        a.recording_deleted_at = Some(at);
        sqlx::query("UPDATE duty_escalations SET state = ? WHERE ticket_id = ?")
            .bind(serde_json::to_string(&e).map_err(corrupt)?)
            .bind(ticket_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unanswered(&self) -> Result<Vec<i64>, QueryError> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT e.ticket_id FROM duty_escalations e JOIN tickets t ON t.id = e.ticket_id
             WHERE e.phase = 'unanswered' AND t.status = 'new' AND t.executor_id IS NULL
             ORDER BY e.ticket_id DESC",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(i,)| i).collect())
    }
}

/// Escalations that are over and started before `before` (only those can hold recordings
/// old enough to expire: an escalation lasts minutes).
const OVER_BEFORE_SQL: &str = "SELECT state FROM duty_escalations
     WHERE phase NOT IN ('waiting', 'calling') AND julianday(started_at) < julianday(?)
     ORDER BY ticket_id";

/// How far back [`DutyStore::emergencies_to_escalate`] looks at `now`.
pub fn escalate_since(settings: &DutySettings, now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::minutes(i64::from(settings.max_age_min))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{migrate, DispatchStore};
    use zvonar_models::TicketRequest;

    async fn store() -> SqliteDispatchStore {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        migrate(&pool).await.unwrap();
        SqliteDispatchStore::new(pool)
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
            description: "течёт с потолка".into(),
            outage_id: None,
            unfinished: false,
        }
    }

    #[test]
    fn settings_defaults_ranges_and_department_choice() {
        let s = DutySettings::default();
        s.check().unwrap();
        assert_eq!(
            s.rules(),
            Rules {
                rounds: 2,
                round_gap_s: 60
            }
        );
        for (toml, field) in [
            ("ring_s = 2", "duty.ring_s"),
            ("rounds = 0", "duty.rounds"),
            ("round_gap_s = 4000", "duty.round_gap_s"),
            ("answer_wait_s = 1", "duty.answer_wait_s"),
            ("scan_ms = 10", "duty.scan_ms"),
            ("max_age_min = 0", "duty.max_age_min"),
            ("topics = { leak = \" \" }", "duty.topics.leak"),
        ] {
            let bad: DutySettings = toml_like(toml);
            assert!(bad.check().unwrap_err().starts_with(field), "{toml}");
        }
        let s: DutySettings = toml_like("default_department = \"Аварийная служба\"");
        let mut t: Ticket = serde_json::from_value(serde_json::json!({
            "id": 1, "number": "1", "created_at": "2026-11-30T10:00:00Z", "call_id": null,
            "caller": null, "account_id": null, "building_id": null, "premises_id": null,
            "apartment": null, "topic": "leak", "emergency": true, "description": "",
            "outage_id": null, "unfinished": false, "status": "new"
        }))
        .unwrap();
        assert_eq!(s.department_for(&t).as_deref(), Some("Аварийная служба"));
        let s2: DutySettings = toml_like("topics = { leak = \"Сантехники\" }");
        assert_eq!(s2.department_for(&t).as_deref(), Some("Сантехники"));
        assert_eq!(DutySettings::default().department_for(&t), None);
        t.department = Some("Электрики".into());
        assert_eq!(s2.department_for(&t).as_deref(), Some("Электрики"));
    }

    /// A `[duty]` body in the JSON shape serde sees from TOML (the crate has no TOML parser;
    /// the config test in the binary parses deploy/zvonar.toml itself).
    fn toml_like(line: &str) -> DutySettings {
        let (k, v) = line.split_once(" = ").unwrap();
        let v: serde_json::Value =
            if let Some(inner) = v.strip_prefix("{ ").and_then(|v| v.strip_suffix(" }")) {
                let (ik, iv) = inner.split_once(" = ").unwrap();
                serde_json::json!({ ik: serde_json::from_str::<serde_json::Value>(iv).unwrap() })
            } else {
                serde_json::from_str(v).unwrap()
            };
        serde_json::from_value(serde_json::json!({ k: v })).unwrap()
    }

    #[tokio::test]
    async fn rosters_and_escalations_are_stored_once_per_ticket_and_reloaded() {
        let s = store().await;
        let r = parse_csv(
            "department;days;start;end;order;user_id;name;phone\n\
             Сантехники;все;00:00;00:00;1;2;Петров;account:102\n\
             Сантехники;;;;supervisor;9;Главный;+79160000009\n",
        )
        .unwrap()
        .remove(0);
        s.set_roster(&r, "admin").await.unwrap();
        assert_eq!(s.roster("Сантехники").await.unwrap(), r);
        assert!(s.roster("Электрики").await.unwrap().shifts.is_empty());
        assert_eq!(s.rosters().await.unwrap(), vec![r.clone()]);

        let now = Utc::now();
        let plain = s
            .file_ticket(None, now, &request("leak", false))
            .await
            .unwrap();
        let old = s
            .file_ticket(None, now - Duration::hours(3), &request("leak", true))
            .await
            .unwrap();
        let t = s
            .file_ticket(None, now, &request("leak", true))
            .await
            .unwrap();
        let since = escalate_since(&DutySettings::default(), now);
        let found = s.emergencies_to_escalate(since).await.unwrap();
        assert_eq!(
            found.iter().map(|t| t.id).collect::<Vec<_>>(),
            vec![t.id],
            "not the plain one ({}), not the old one ({})",
            plain.id.0,
            old.id.0
        );
        let mut e = Escalation::new(t.id.0, "Сантехники", r.callees(now.naive_utc()), now);
        assert!(s.start_escalation(&e, now).await.unwrap());
        assert!(
            !s.start_escalation(&e, now).await.unwrap(),
            "once per ticket"
        );
        assert!(s.emergencies_to_escalate(since).await.unwrap().is_empty());
        e.poll(now, &DutySettings::default().rules());
        s.save_escalation(&e, now).await.unwrap();
        assert_eq!(s.open_escalations().await.unwrap(), vec![e.clone()]);
        assert_eq!(s.escalation(t.id.0).await.unwrap(), Some(e.clone()));
        // Both refuse: unanswered after one round.
        let one = Rules {
            rounds: 1,
            round_gap_s: 0,
        };
        e.on_call_ended(1, AttemptOutcome::Refused, Some(200), None, now, &one);
        e.on_call_ended(2, AttemptOutcome::NoAnswer, None, None, now, &one);
        assert_eq!(e.phase(), "unanswered");
        s.save_escalation(&e, now).await.unwrap();
        assert!(s.open_escalations().await.unwrap().is_empty());
        assert_eq!(s.unanswered().await.unwrap(), vec![t.id.0]);
    }
}
