//! The ticket workflow of the operators' console: deadlines from each topic's SLA, tickets
//! entered by people, the journal's count, comments and photos ([`TicketWorkflow`]).

use crate::model::{Ticket, TicketFilter};
use crate::sqlite::{push_filter, SqliteDispatchStore};
use crate::store::{FileTicketError, QueryError, RecordError};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use zvonar_models::{CallId, TicketId, TicketRequest};

/// How long a ticket may take, by topic (its SLA): the deadline is the filing time plus
/// these hours. Set per company (`[tickets]` in zvonar.toml): its contract and the
/// emergency service's duties under ПП РФ № 416 give the terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketSla {
    /// Hours for a topic without its own terms.
    pub default_hours: u32,
    /// Hours for an emergency ticket of a topic without its own terms.
    pub default_emergency_hours: u32,
    /// Topic code → (hours, emergency hours).
    pub topics: HashMap<String, (u32, u32)>,
}

impl TicketSla {
    /// The deadline of a ticket on `topic` filed at `at`.
    pub fn due(&self, topic: &str, emergency: bool, at: DateTime<Utc>) -> DateTime<Utc> {
        let (normal, urgent) = self
            .topics
            .get(topic)
            .copied()
            .unwrap_or((self.default_hours, self.default_emergency_hours));
        at + Duration::hours(i64::from(if emergency { urgent } else { normal }))
    }
}

/// A comment on a ticket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Comment {
    /// Row id; a ticket's comments are in id order.
    pub id: i64,
    /// The ticket.
    pub ticket_id: i64,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// The author's login.
    pub author: String,
    /// The text.
    pub text: String,
}

/// A photo attached to a ticket (the file is kept by the caller under its photos directory).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Photo {
    /// Row id.
    pub id: i64,
    /// The ticket.
    pub ticket_id: i64,
    /// When attached (UTC).
    pub at: DateTime<Utc>,
    /// Who attached it (login).
    pub author: String,
    /// Path relative to the photos directory.
    pub file: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    /// Size, bytes.
    pub size_bytes: i64,
    /// The file name as uploaded (display only).
    pub name: String,
}

/// Tickets on the supervisor's live monitor ([`TicketWorkflow::ticket_counts`]). "Open" is
/// every status but `closed` and `cancelled` ([`crate::CLOSED_STATUSES`]): `done` tickets wait
/// to be closed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TicketCounts {
    /// Open tickets.
    pub open: u64,
    /// Open, not `done`, and past their deadline (as the journal's `status=overdue`).
    pub overdue: u64,
    /// Filed since the start of today (any status now).
    pub filed_today: u64,
    /// Open tickets by status, in [`crate::TICKET_STATUSES`] order; statuses with none left out.
    pub by_status: Vec<StatusCount>,
    /// Open tickets by building, most first (`building_id` `None`: no building known).
    pub by_building: Vec<BuildingCount>,
    /// Open tickets by executor, most first (`executor_id` `None`: not assigned to a person).
    pub by_executor: Vec<ExecutorCount>,
}

/// Open tickets in one status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusCount {
    /// The status.
    pub status: String,
    /// How many.
    pub count: u64,
}

/// Open tickets about one building.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BuildingCount {
    /// The building (billing registry id).
    pub building_id: Option<i64>,
    /// How many.
    pub count: u64,
}

/// Open tickets assigned to one executor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExecutorCount {
    /// The executor's user id.
    pub executor_id: Option<i64>,
    /// The executor's name as on the tickets.
    pub executor: Option<String>,
    /// How many.
    pub count: u64,
}

/// What the console does with tickets beyond [`crate::DispatchStore`]; implemented by
/// [`SqliteDispatchStore`]. Hold it as `Arc<dyn TicketWorkflow>`.
#[async_trait]
pub trait TicketWorkflow: Send + Sync {
    /// Files a ticket a person entered (`author`: their login), optionally on a call, with
    /// everything [`crate::DispatchStore::file_ticket`] does (deadline, link to the call's
    /// CDR, timeline entry).
    ///
    /// Errors: [`FileTicketError`].
    async fn file_ticket_by(
        &self,
        call_id: Option<&CallId>,
        at: DateTime<Utc>,
        request: &TicketRequest,
        author: &str,
    ) -> Result<Ticket, FileTicketError>;

    /// How many tickets match `filter` (for the journal's pages).
    async fn count_tickets(&self, filter: &TicketFilter) -> Result<u64, QueryError>;

    /// The live monitor's ticket figures among the tickets `filter` lets through (the viewer's
    /// topic/building visibility): open ones by status, building and executor, the overdue
    /// ones at `now`, and those filed since `today_from` (local midnight).
    async fn ticket_counts(
        &self,
        filter: &TicketFilter,
        now: DateTime<Utc>,
        today_from: DateTime<Utc>,
    ) -> Result<TicketCounts, QueryError>;

    /// Adds a comment; `Ok(None)` when there is no such ticket.
    async fn add_comment(
        &self,
        ticket: TicketId,
        at: DateTime<Utc>,
        author: &str,
        text: &str,
    ) -> Result<Option<Comment>, RecordError>;

    /// A ticket's comments, oldest first.
    async fn comments(&self, ticket: TicketId) -> Result<Vec<Comment>, QueryError>;

    /// Records a photo already stored at `photo.file`; `photo.id` and `photo.ticket_id` are
    /// taken from the database and `ticket`. `Ok(None)` when there is no such ticket.
    async fn add_photo(
        &self,
        ticket: TicketId,
        photo: &Photo,
    ) -> Result<Option<Photo>, RecordError>;

    /// A ticket's photos, oldest first.
    async fn photos(&self, ticket: TicketId) -> Result<Vec<Photo>, QueryError>;

    /// One photo by id.
    async fn photo(&self, id: i64) -> Result<Option<Photo>, QueryError>;
}

async fn ticket_exists(pool: &sqlx::SqlitePool, id: TicketId) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("SELECT 1 FROM tickets WHERE id = ?")
        .bind(id.0)
        .fetch_optional(pool)
        .await?
        .is_some())
}

#[async_trait]
impl TicketWorkflow for SqliteDispatchStore {
    async fn file_ticket_by(
        &self,
        call_id: Option<&CallId>,
        at: DateTime<Utc>,
        request: &TicketRequest,
        author: &str,
    ) -> Result<Ticket, FileTicketError> {
        self.insert_ticket(call_id, at, request, Some(author)).await
    }

    async fn count_tickets(&self, filter: &TicketFilter) -> Result<u64, QueryError> {
        let mut q = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM tickets");
        push_filter(&mut q, filter);
        let (n,): (i64,) = q.build_query_as().fetch_one(&self.pool).await?;
        Ok(n.unsigned_abs())
    }

    async fn ticket_counts(
        &self,
        filter: &TicketFilter,
        now: DateTime<Utc>,
        today_from: DateTime<Utc>,
    ) -> Result<TicketCounts, QueryError> {
        let closed = serde_json::json!(crate::CLOSED_STATUSES).to_string();
        // Open tickets grouped by one column: (value, executor name, count).
        let grouped = |column: &'static str| {
            let mut q = sqlx::QueryBuilder::new("SELECT ");
            q.push(column)
                .push(", MAX(executor), COUNT(*) FROM tickets");
            push_filter(&mut q, filter);
            q.push(" AND status NOT IN (SELECT value FROM json_each(")
                .push_bind(closed.clone())
                .push(")) GROUP BY ")
                .push(column)
                .push(" ORDER BY COUNT(*) DESC, ")
                .push(column);
            q
        };
        let mut q = grouped("status");
        let statuses: Vec<(String, Option<String>, i64)> =
            q.build_query_as().fetch_all(&self.pool).await?;
        let mut q = grouped("building_id");
        let buildings: Vec<(Option<i64>, Option<String>, i64)> =
            q.build_query_as().fetch_all(&self.pool).await?;
        let mut q = grouped("executor_id");
        let executors: Vec<(Option<i64>, Option<String>, i64)> =
            q.build_query_as().fetch_all(&self.pool).await?;
        let overdue = self
            .count_tickets(&TicketFilter {
                overdue_at: Some(now),
                ..filter.clone()
            })
            .await?;
        let filed_today = self
            .count_tickets(&TicketFilter {
                created_from: Some(today_from),
                ..filter.clone()
            })
            .await?;
        let by_status: Vec<StatusCount> = crate::TICKET_STATUSES
            .iter()
            .filter_map(|st| {
                statuses
                    .iter()
                    .find(|(s, _, _)| s == st)
                    .map(|(s, _, n)| StatusCount {
                        status: s.clone(),
                        count: n.unsigned_abs(),
                    })
            })
            .collect();
        Ok(TicketCounts {
            open: statuses.iter().map(|(_, _, n)| n.unsigned_abs()).sum(),
            overdue,
            filed_today,
            by_status,
            by_building: buildings
                .into_iter()
                .map(|(b, _, n)| BuildingCount {
                    building_id: b,
                    count: n.unsigned_abs(),
                })
                .collect(),
            by_executor: executors
                .into_iter()
                .map(|(e, name, n)| ExecutorCount {
                    executor_id: e,
                    executor: name.filter(|_| e.is_some()),
                    count: n.unsigned_abs(),
                })
                .collect(),
        })
    }

    async fn add_comment(
        &self,
        ticket: TicketId,
        at: DateTime<Utc>,
        author: &str,
        text: &str,
    ) -> Result<Option<Comment>, RecordError> {
        if !ticket_exists(&self.pool, ticket).await? {
            return Ok(None);
        }
        let c: Comment = sqlx::query_as(
            "INSERT INTO ticket_comments (ticket_id, at, author, text) VALUES (?, ?, ?, ?)
             RETURNING id, ticket_id, at, author, text",
        )
        .bind(ticket.0)
        .bind(at)
        .bind(author)
        .bind(text)
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(c))
    }

    async fn comments(&self, ticket: TicketId) -> Result<Vec<Comment>, QueryError> {
        let rows: Vec<Comment> = sqlx::query_as(
            "SELECT id, ticket_id, at, author, text FROM ticket_comments WHERE ticket_id = ?
             ORDER BY id",
        )
        .bind(ticket.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn add_photo(&self, ticket: TicketId, p: &Photo) -> Result<Option<Photo>, RecordError> {
        if !ticket_exists(&self.pool, ticket).await? {
            return Ok(None);
        }
        let photo: Photo = sqlx::query_as(
            "INSERT INTO ticket_photos (ticket_id, at, author, file, content_type, size_bytes, name)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             RETURNING id, ticket_id, at, author, file, content_type, size_bytes, name",
        )
        .bind(ticket.0)
        .bind(p.at)
        .bind(&p.author)
        .bind(&p.file)
        .bind(&p.content_type)
        .bind(p.size_bytes)
        .bind(&p.name)
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(photo))
    }

    async fn photos(&self, ticket: TicketId) -> Result<Vec<Photo>, QueryError> {
        let rows: Vec<Photo> = sqlx::query_as(
            "SELECT id, ticket_id, at, author, file, content_type, size_bytes, name
             FROM ticket_photos WHERE ticket_id = ? ORDER BY id",
        )
        .bind(ticket.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn photo(&self, id: i64) -> Result<Option<Photo>, QueryError> {
        Ok(sqlx::query_as(
            "SELECT id, ticket_id, at, author, file, content_type, size_bytes, name
             FROM ticket_photos WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{Assignment, TicketChange};
    use crate::DispatchStore;
    use chrono::TimeZone;
    use zvonar_models::BuildingId;

    fn request(topic: &str, building: Option<i64>) -> TicketRequest {
        TicketRequest {
            caller: None,
            account_id: None,
            building_id: building.map(BuildingId),
            premises_id: None,
            apartment: None,
            topic: topic.into(),
            emergency: false,
            description: "течёт".into(),
            outage_id: None,
            unfinished: false,
        }
    }

    #[tokio::test]
    async fn monitor_counts_open_tickets_by_status_building_and_executor() {
        let pool = zvonar_billing::open_sqlite("sqlite::memory:")
            .await
            .unwrap();
        crate::migrate(&pool).await.unwrap();
        zvonar_billing::migrate(&pool).await.unwrap();
        let store = SqliteDispatchStore::new(pool);
        let t = |h: u32| Utc.with_ymd_and_hms(2026, 11, 30, h, 0, 0).unwrap();
        // Yesterday: 1 leak on building 1, still new and overdue (due an hour after filing).
        let mut ids = Vec::new();
        for (at, topic, building) in [
            (
                Utc.with_ymd_and_hms(2026, 11, 29, 10, 0, 0).unwrap(),
                "leak",
                Some(1),
            ),
            (t(8), "leak", Some(1)),
            (t(9), "electricity", Some(2)),
            (t(10), "leak", None),
            (t(11), "lift", Some(2)),
        ] {
            let ticket = store
                .insert_ticket(None, at, &request(topic, building), Some("op"))
                .await
                .unwrap();
            ids.push(ticket.id);
        }
        sqlx::query("UPDATE tickets SET due_at = ? WHERE id = ?")
            .bind(Utc.with_ymd_and_hms(2026, 11, 29, 11, 0, 0).unwrap())
            .bind(ids[0].0)
            .execute(&store.pool)
            .await
            .unwrap();
        let assign = |who: (i64, &str)| TicketChange {
            status: Some("in_progress".into()),
            assignment: Some(Assignment {
                department: None,
                executor: Some((who.0, who.1.into())),
            }),
            ..TicketChange::default()
        };
        store
            .update_ticket(ids[1], &assign((7, "Сантехник Петров")))
            .await
            .unwrap();
        store
            .update_ticket(ids[2], &assign((7, "Сантехник Петров")))
            .await
            .unwrap();
        store
            .update_ticket(ids[3], &assign((8, "Электрик Сидоров")))
            .await
            .unwrap();
        // Closed: not open any more, but filed today.
        store
            .update_ticket(ids[4], &TicketChange::status("closed"))
            .await
            .unwrap();
        let c = store
            .ticket_counts(&TicketFilter::default(), t(12), t(0))
            .await
            .unwrap();
        // Open: ids 0 (new), 1, 2, 3 (in progress); overdue: id 0; filed today: 1..4.
        assert_eq!((c.open, c.overdue, c.filed_today), (4, 1, 4));
        let st: Vec<(&str, u64)> = c
            .by_status
            .iter()
            .map(|s| (s.status.as_str(), s.count))
            .collect();
        assert_eq!(st, [("new", 1), ("in_progress", 3)]);
        let b: Vec<(Option<i64>, u64)> = c
            .by_building
            .iter()
            .map(|b| (b.building_id, b.count))
            .collect();
        assert_eq!(b, [(Some(1), 2), (None, 1), (Some(2), 1)]);
        let e: Vec<(Option<i64>, Option<&str>, u64)> = c
            .by_executor
            .iter()
            .map(|e| (e.executor_id, e.executor.as_deref(), e.count))
            .collect();
        assert_eq!(
            e,
            [
                (Some(7), Some("Сантехник Петров"), 2),
                (None, None, 1),
                (Some(8), Some("Электрик Сидоров"), 1)
            ]
        );
        // A viewer who sees only building 2: one open ticket there.
        let only2 = TicketFilter::default().with_buildings(Some(vec![BuildingId(2)]));
        let c = store.ticket_counts(&only2, t(12), t(0)).await.unwrap();
        assert_eq!((c.open, c.overdue, c.filed_today), (1, 0, 2));
    }
}
