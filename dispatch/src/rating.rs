//! Ratings of completed tickets (оценка качества, issue 8 point 5): a resident rates a done or
//! closed ticket 1–5 by phone (the rating robot: voice or keys) or through the residents' app
//! (API); a rating at or below the configured threshold files a quality-control ticket and,
//! if configured, puts the rated ticket back in work; the satisfaction report groups ratings by
//! executor, topic or building.
//!
//! Storage (migration `2120_ticket_ratings.sql`): `ticket_ratings` (one row per ticket — a
//! ticket is rated at most once), `tickets.done_at` (set by a trigger whenever a ticket becomes
//! `done`), `rating_calls` (tickets already put into a rating call: each is called once) and
//! `rating_runs` (the robot's daily runs; the next run selects from the last one's `until`).
//! Times in these tables are text `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), compared as text.

use crate::model::{Assignment, Ticket, TicketChange, FINISHED_STATUSES};
use crate::sqlite::SqliteDispatchStore;
use crate::store::{DispatchStore, FileTicketError, QueryError};
use crate::workflow::TicketWorkflow;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zvonar_models::{BuildingId, CallId, PhoneNumber, TicketId, TicketRequest};

/// Login recorded for the robot's ratings and changes.
pub const ROBOT_LOGIN: &str = "robot:rating";

/// A time as stored in the rating tables: UTC with milliseconds and `Z`, fixed width, so
/// text comparison is time order (the same form the `tickets_done_at` trigger writes).
pub fn stored_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, QueryError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| QueryError::Corrupt(format!("time {s:?}: {e}")))
}

/// How a rating was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingSource {
    /// Said on the rating call («пять», «отлично»).
    Voice,
    /// Keyed on the rating call (DTMF 1–5).
    Keys,
    /// Sent by the residents' app (`POST /api/v1/tickets/{id}/rating`).
    Api,
}

impl RatingSource {
    /// The stored name: `voice`, `keys`, `api`.
    pub fn as_str(self) -> &'static str {
        match self {
            RatingSource::Voice => "voice",
            RatingSource::Keys => "keys",
            RatingSource::Api => "api",
        }
    }

    /// How the console says it.
    pub fn label_ru(self) -> &'static str {
        match self {
            RatingSource::Voice => "голосом",
            RatingSource::Keys => "кнопками телефона",
            RatingSource::Api => "в приложении",
        }
    }

    fn parse(s: &str) -> Result<Self, QueryError> {
        match s {
            "voice" => Ok(RatingSource::Voice),
            "keys" => Ok(RatingSource::Keys),
            "api" => Ok(RatingSource::Api),
            other => Err(QueryError::Corrupt(format!("rating source {other:?}"))),
        }
    }
}

/// What a low rating leads to (`[rating]` of zvonar.toml).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QcPolicy {
    /// Ratings at or below this (1–5) file a quality-control ticket; 0: never.
    pub threshold: u8,
    /// A low rating also puts the rated ticket back in work (`in_progress`).
    pub reopen: bool,
    /// Topic code of the quality-control ticket.
    pub topic: String,
    /// Department the quality-control ticket is assigned to.
    pub department: Option<String>,
    /// Supervisor (user id, name) the quality-control ticket is assigned to.
    pub executor: Option<(i64, String)>,
}

impl Default for QcPolicy {
    fn default() -> Self {
        QcPolicy {
            threshold: 3,
            reopen: true,
            topic: "quality".into(),
            department: None,
            executor: None,
        }
    }
}

/// A rating to record.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRating {
    /// 1–5.
    pub value: u8,
    /// How it was given.
    pub source: RatingSource,
    /// The resident's comment (recognised speech or typed), if any.
    pub comment: Option<String>,
    /// The rating call's recording, relative to the recordings directory.
    pub recording: Option<String>,
    /// The comment's own recording (mono WAV), relative to the recordings directory.
    pub comment_recording: Option<String>,
    /// The rating call.
    pub call_id: Option<CallId>,
    /// When it was given (UTC).
    pub at: DateTime<Utc>,
    /// The API user's login, or [`ROBOT_LOGIN`].
    pub by: String,
}

/// A stored rating.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// The rated ticket.
    pub ticket_id: i64,
    /// 1–5.
    pub value: u8,
    /// How it was given.
    pub source: RatingSource,
    /// The resident's comment.
    pub comment: Option<String>,
    /// The rating call's recording (relative path).
    pub recording: Option<String>,
    /// The comment's recording (relative path).
    pub comment_recording: Option<String>,
    /// The rating call.
    pub call_id: Option<String>,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// Who recorded it (API login or [`ROBOT_LOGIN`]).
    pub by: String,
    /// The quality-control ticket it filed (row id).
    pub qc_ticket_id: Option<i64>,
    /// That ticket's number.
    pub qc_ticket_number: Option<String>,
    /// Whether it put the ticket back in work.
    pub reopened: bool,
}

/// What [`Ratings::rate`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct RatingOutcome {
    /// The stored rating.
    pub rating: Rating,
    /// The rated ticket before the rating.
    pub before: Ticket,
    /// The quality-control ticket filed, for a low rating.
    pub qc_ticket: Option<Ticket>,
    /// The rated ticket after a reopen.
    pub reopened: Option<Ticket>,
}

/// Why a rating was not recorded; nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RateError {
    /// No such ticket.
    #[error("нет такой заявки")]
    NoTicket,
    /// The value is not 1–5.
    #[error("оценка {0}: ожидается число от 1 до 5")]
    BadValue(i64),
    /// The ticket's work is not done yet (`new`, `in_progress`) or it was cancelled.
    #[error("заявка {number} в статусе «{status}»: оценить можно только выполненную заявку")]
    NotCompleted {
        /// The ticket's number.
        number: String,
        /// Its status.
        status: String,
    },
    /// The ticket already has its rating.
    #[error("заявка {0} уже оценена")]
    AlreadyRated(String),
    /// The database failed.
    #[error("dispatch database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored row did not decode.
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl From<FileTicketError> for RateError {
    fn from(e: FileTicketError) -> Self {
        match e {
            FileTicketError::Database(d) => RateError::Database(d),
            other => RateError::Query(QueryError::Corrupt(other.to_string())),
        }
    }
}

/// A completed ticket the robot may call about.
#[derive(Clone, Debug, PartialEq)]
pub struct RatingCandidate {
    /// The ticket.
    pub ticket_id: i64,
    /// Its number.
    pub number: String,
    /// Topic code.
    pub topic: String,
    /// When it was filed (UTC).
    pub created_at: DateTime<Utc>,
    /// When it was marked done (UTC).
    pub done_at: DateTime<Utc>,
    /// The resident's phone.
    pub caller: PhoneNumber,
    /// The building, when known.
    pub building_id: Option<i64>,
}

/// One of the robot's daily runs.
#[derive(Clone, Debug, PartialEq)]
pub struct RatingRun {
    /// When it ran.
    pub at: DateTime<Utc>,
    /// Tickets completed after this were selected (`None`: the first run).
    pub since: Option<DateTime<Utc>>,
    /// … up to and including this.
    pub until: DateTime<Utc>,
    /// How many tickets it selected.
    pub selected: i64,
    /// The rating campaign it started.
    pub campaign_id: Option<i64>,
}

/// How the satisfaction report groups ratings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportBy {
    /// By the executor the ticket is assigned to.
    Executor,
    /// By topic.
    Topic,
    /// By building.
    Building,
}

impl ReportBy {
    /// Parses `executor`, `topic`, `building`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "executor" => Some(ReportBy::Executor),
            "topic" => Some(ReportBy::Topic),
            "building" => Some(ReportBy::Building),
            _ => None,
        }
    }
}

/// One group of the satisfaction report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportRow {
    /// Executor user id, topic code or building id, as text; `None`: not assigned / unknown.
    pub key: Option<String>,
    /// The executor's name (for `executor`); otherwise the key.
    pub label: Option<String>,
    /// Ratings in the group.
    pub count: i64,
    /// Their mean, two decimals.
    pub average: f64,
    /// Ratings at or below the QC threshold.
    pub low: i64,
    /// Share of 4 and 5, percent, one decimal (CSAT).
    pub satisfied_pct: f64,
    /// How many of each value, 1 to 5.
    pub by_value: [i64; 5],
}

/// Ratings on a SQLite dispatch store, with the quality-control policy.
#[derive(Clone, Debug)]
pub struct Ratings {
    store: SqliteDispatchStore,
    policy: QcPolicy,
}

type RatingRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<i64>,
    Option<String>,
    bool,
);

impl Ratings {
    /// Ratings kept in `store`'s database (migrated), low ones handled by `policy`.
    pub fn new(store: SqliteDispatchStore, policy: QcPolicy) -> Self {
        Ratings { store, policy }
    }

    /// The quality-control policy.
    pub fn policy(&self) -> &QcPolicy {
        &self.policy
    }

    /// Records a rating of `ticket`: the ticket must be `done` or `closed` and not rated yet.
    /// A value at or below [`QcPolicy::threshold`] files a quality-control ticket (topic
    /// [`QcPolicy::topic`], the resident, building and apartment of the rated ticket, its
    /// number, the rating and the comment in the description, assigned as configured) and,
    /// with [`QcPolicy::reopen`], puts the rated ticket back to `in_progress`. A comment on
    /// the rated ticket tells the console what happened (its author is `rating.by`).
    ///
    /// Errors: [`RateError`]; on `NoTicket`, `BadValue`, `NotCompleted` and `AlreadyRated`
    /// nothing is changed.
    pub async fn rate(
        &self,
        ticket: TicketId,
        rating: &NewRating,
    ) -> Result<RatingOutcome, RateError> {
        if !(1..=5).contains(&rating.value) {
            return Err(RateError::BadValue(rating.value.into()));
        }
        let before = self
            .store
            .ticket(&crate::TicketRef::Id(ticket))
            .await?
            .ok_or(RateError::NoTicket)?
            .ticket;
        if !matches!(before.status.as_str(), "done" | "closed") {
            return Err(RateError::NotCompleted {
                number: before.number.clone(),
                status: before.status.clone(),
            });
        }
        let comment = rating
            .comment
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        let inserted = sqlx::query(
            "INSERT INTO ticket_ratings (ticket_id, value, source, comment, recording,
                 comment_recording, call_id, at, by_login)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id) DO NOTHING",
        )
        .bind(ticket.0)
        .bind(i64::from(rating.value))
        .bind(rating.source.as_str())
        .bind(&comment)
        .bind(&rating.recording)
        .bind(&rating.comment_recording)
        .bind(rating.call_id.as_ref().map(|c| c.0.as_str()))
        .bind(stored_time(rating.at))
        .bind(&rating.by)
        .execute(&self.store.pool)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(RateError::AlreadyRated(before.number.clone()));
        }
        let low = self.policy.threshold > 0 && rating.value <= self.policy.threshold;
        let mut qc_ticket = None;
        let mut reopened = None;
        if low {
            let mut description = format!(
                "Низкая оценка {} из 5 по заявке №{} («{}»), оценка {}.",
                rating.value,
                before.number,
                before.topic,
                rating.source.label_ru()
            );
            if let Some(c) = &comment {
                description.push_str(&format!(" Комментарий жителя: «{c}»."));
            }
            let req = TicketRequest {
                caller: before.caller.clone(),
                account_id: before.account_id,
                building_id: before.building_id,
                premises_id: before.premises_id,
                apartment: before.apartment.clone(),
                topic: self.policy.topic.clone(),
                emergency: false,
                description,
                outage_id: None,
                unfinished: false,
            };
            let qc = self
                .store
                .file_ticket_by(None, rating.at, &req, &rating.by)
                .await?;
            let qc = if self.policy.department.is_some() || self.policy.executor.is_some() {
                self.store
                    .update_ticket(
                        qc.id,
                        &TicketChange::assign(Assignment {
                            department: self.policy.department.clone(),
                            executor: self.policy.executor.clone(),
                        }),
                    )
                    .await?
                    .unwrap_or(qc)
            } else {
                qc
            };
            sqlx::query("UPDATE ticket_ratings SET qc_ticket_id = ? WHERE ticket_id = ?")
                .bind(qc.id.0)
                .bind(ticket.0)
                .execute(&self.store.pool)
                .await?;
            if self.policy.reopen {
                reopened = self
                    .store
                    .update_ticket(ticket, &TicketChange::status("in_progress"))
                    .await?;
                sqlx::query("UPDATE ticket_ratings SET reopened = 1 WHERE ticket_id = ?")
                    .bind(ticket.0)
                    .execute(&self.store.pool)
                    .await?;
            }
            qc_ticket = Some(qc);
        }
        let mut note = format!(
            "Оценка жителя: {} из 5 ({}).",
            rating.value,
            rating.source.label_ru()
        );
        if let Some(c) = &comment {
            note.push_str(&format!(" Комментарий: «{c}»."));
        }
        if let Some(qc) = &qc_ticket {
            note.push_str(&format!(
                " Заведена заявка контроля качества №{}.",
                qc.number
            ));
        }
        if reopened.is_some() {
            note.push_str(" Заявка возвращена в работу.");
        }
        self.store
            .add_comment(ticket, rating.at, &rating.by, &note)
            .await
            .map_err(|e| QueryError::Corrupt(e.to_string()))?;
        let rating = self
            .rating(ticket)
            .await?
            .ok_or_else(|| QueryError::Corrupt("rating vanished".into()))?;
        Ok(RatingOutcome {
            rating,
            before,
            qc_ticket,
            reopened,
        })
    }

    /// The rating of `ticket`, if it has one.
    pub async fn rating(&self, ticket: TicketId) -> Result<Option<Rating>, QueryError> {
        let row: Option<RatingRow> = sqlx::query_as(
            "SELECT r.ticket_id, r.value, r.source, r.comment, r.recording, r.comment_recording,
                    r.call_id, r.at, r.by_login, r.qc_ticket_id, q.number, r.reopened
             FROM ticket_ratings r LEFT JOIN tickets q ON q.id = r.qc_ticket_id
             WHERE r.ticket_id = ?",
        )
        .bind(ticket.0)
        .fetch_optional(&self.store.pool)
        .await?;
        let Some((
            ticket_id,
            value,
            source,
            comment,
            recording,
            comment_recording,
            call_id,
            at,
            by,
            qc_ticket_id,
            qc_ticket_number,
            reopened,
        )) = row
        else {
            return Ok(None);
        };
        Ok(Some(Rating {
            ticket_id,
            value: u8::try_from(value).map_err(|_| QueryError::Corrupt("rating".into()))?,
            source: RatingSource::parse(&source)?,
            comment,
            recording,
            comment_recording,
            call_id,
            at: parse_time(&at)?,
            by,
            qc_ticket_id,
            qc_ticket_number,
            reopened,
        }))
    }

    /// Tickets completed (`done_at`) after `since` (`None`: any time) and at or before
    /// `until`, still `done` or `closed`, with the resident's phone, not rated and not yet put
    /// into a rating call; in completion order.
    pub async fn candidates(
        &self,
        since: Option<DateTime<Utc>>,
        until: DateTime<Utc>,
    ) -> Result<Vec<RatingCandidate>, QueryError> {
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            i64,
            Option<String>,
            String,
            DateTime<Utc>,
            String,
            String,
            Option<i64>,
        )> = sqlx::query_as(
            "SELECT t.id, t.number, t.topic, t.created_at, t.done_at, t.caller, t.building_id
                 FROM tickets t
                 WHERE t.done_at IS NOT NULL AND t.done_at > COALESCE(?, '') AND t.done_at <= ?
                   AND t.status IN ('done', 'closed') AND t.caller IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM ticket_ratings r WHERE r.ticket_id = t.id)
                   AND NOT EXISTS (SELECT 1 FROM rating_calls c WHERE c.ticket_id = t.id)
                 ORDER BY t.done_at, t.id",
        )
        .bind(since.map(stored_time))
        .bind(stored_time(until))
        .fetch_all(&self.store.pool)
        .await?;
        rows.into_iter()
            .map(
                |(id, number, topic, created_at, done_at, caller, building)| {
                    Ok(RatingCandidate {
                        ticket_id: id,
                        number: number.unwrap_or_else(|| id.to_string()),
                        topic,
                        created_at,
                        done_at: parse_time(&done_at)?,
                        caller: PhoneNumber::parse_ru(&caller)
                            .map_err(|e| QueryError::Corrupt(format!("caller {caller:?}: {e}")))?,
                        building_id: building,
                    })
                },
            )
            .collect()
    }

    /// The last run of the robot, if any.
    pub async fn last_run(&self) -> Result<Option<RatingRun>, QueryError> {
        #[allow(clippy::type_complexity)]
        let row: Option<(String, Option<String>, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT at, since, until, selected, campaign_id FROM rating_runs ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.store.pool)
        .await?;
        row.map(|(at, since, until, selected, campaign_id)| {
            Ok(RatingRun {
                at: parse_time(&at)?,
                since: since.as_deref().map(parse_time).transpose()?,
                until: parse_time(&until)?,
                selected,
                campaign_id,
            })
        })
        .transpose()
    }

    /// Records a run and the tickets it put into its rating campaign, in one transaction on
    /// `conn` (the caller's, which also stores the campaign): after a crash either all of it
    /// is stored or none, so a ticket is neither skipped nor called twice.
    ///
    /// Errors: the database.
    pub async fn record_run(
        conn: &mut sqlx::SqliteConnection,
        run: &RatingRun,
        tickets: &[i64],
    ) -> Result<(), sqlx::Error> {
        for t in tickets {
            sqlx::query("INSERT INTO rating_calls (ticket_id, campaign_id, at) VALUES (?, ?, ?)")
                .bind(t)
                .bind(run.campaign_id)
                .bind(stored_time(run.at))
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query(
            "INSERT INTO rating_runs (at, since, until, selected, campaign_id) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(stored_time(run.at))
        .bind(run.since.map(stored_time))
        .bind(stored_time(run.until))
        .bind(run.selected)
        .bind(run.campaign_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The satisfaction report: ratings given in `[from, to)` grouped `by`, the groups with
    /// most ratings first. Among tickets `topics`/`buildings` let through (`None`: all; the
    /// caller's visibility).
    pub async fn report(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        by: ReportBy,
        topics: Option<Vec<String>>,
        buildings: Option<Vec<i64>>,
    ) -> Result<Vec<ReportRow>, QueryError> {
        let (key, label) = match by {
            ReportBy::Executor => ("CAST(t.executor_id AS TEXT)", "MAX(t.executor)"),
            ReportBy::Topic => ("t.topic", "t.topic"),
            ReportBy::Building => ("CAST(t.building_id AS TEXT)", "CAST(t.building_id AS TEXT)"),
        };
        let mut q = sqlx::QueryBuilder::new("SELECT ");
        q.push(key)
            .push(", ")
            .push(label)
            .push(", COUNT(*), AVG(r.value), SUM(r.value <= ");
        q.push_bind(i64::from(self.policy.threshold))
            .push("), SUM(r.value = 1), SUM(r.value = 2), SUM(r.value = 3), SUM(r.value = 4), SUM(r.value = 5)")
            .push(" FROM ticket_ratings r JOIN tickets t ON t.id = r.ticket_id WHERE r.at >= ")
            .push_bind(stored_time(from))
            .push(" AND r.at < ")
            .push_bind(stored_time(to));
        if let Some(t) = topics {
            q.push(" AND t.topic IN (SELECT value FROM json_each(")
                .push_bind(serde_json::json!(t).to_string())
                .push("))");
        }
        if let Some(b) = buildings {
            q.push(" AND t.building_id IN (SELECT value FROM json_each(")
                .push_bind(serde_json::json!(b).to_string())
                .push("))");
        }
        q.push(" GROUP BY ")
            .push(key)
            .push(" ORDER BY COUNT(*) DESC, ")
            .push(key);
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            Option<String>,
            Option<String>,
            i64,
            f64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
        )> = q.build_query_as().fetch_all(&self.store.pool).await?;
        Ok(rows
            .into_iter()
            .map(
                |(key, label, count, avg, low, v1, v2, v3, v4, v5)| ReportRow {
                    key,
                    label,
                    count,
                    average: (avg * 100.0).round() / 100.0,
                    low,
                    satisfied_pct: if count == 0 {
                        0.0
                    } else {
                        ((v4 + v5) as f64 * 1000.0 / count as f64).round() / 10.0
                    },
                    by_value: [v1, v2, v3, v4, v5],
                },
            )
            .collect())
    }
}

/// Whether a ticket in `status` may be rated (its work is over and it was not cancelled).
pub fn rateable(status: &str) -> bool {
    FINISHED_STATUSES.contains(&status) && status != "cancelled"
}

/// The building of a candidate as the registry's id type.
impl RatingCandidate {
    /// [`RatingCandidate::building_id`] as a [`BuildingId`].
    pub fn building(&self) -> Option<BuildingId> {
        self.building_id.map(BuildingId)
    }
}
