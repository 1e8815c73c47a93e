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
