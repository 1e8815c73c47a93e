//! [`CallerHistory`]: what dispatch knows about a caller, for the caller's card that pops up
//! while a call rings. Every query is served by an index (migration
//! `2091_missed_calls.sql`; `history_queries_use_indexes` checks the plans).

use crate::model::{Cdr, Ticket, CLOSED_STATUSES};
use crate::rows::{cdr_columns, decode_all, ticket_columns, CdrRow, TicketRow};
use crate::sqlite::SqliteDispatchStore;
use crate::store::QueryError;
use async_trait::async_trait;
use zvonar_models::{AccountId, PhoneNumber};

/// A caller's earlier calls and tickets; hold it as `Arc<dyn CallerHistory>`.
#[async_trait]
pub trait CallerHistory: Send + Sync {
    /// The latest `limit` calls from `phone` (verified caller ID), newest first.
    async fn calls_from(&self, phone: &PhoneNumber, limit: u32) -> Result<Vec<Cdr>, QueryError>;

    /// Tickets filed by `phone` or on one of `accounts`: every open one (status not in
    /// [`CLOSED_STATUSES`]) and the latest `recent` closed ones; open first, newest first.
    async fn tickets_of(
        &self,
        phone: Option<&PhoneNumber>,
        accounts: &[AccountId],
        recent: u32,
    ) -> Result<Vec<Ticket>, QueryError>;
}

/// Latest calls of one caller: index `calls_caller (caller, started_at)`.
pub(crate) const CALLS_FROM_SQL: &str = concat!(
    "SELECT ",
    cdr_columns!(),
    " FROM calls WHERE caller = ? ORDER BY started_at DESC LIMIT ?"
);

/// Ticket ids of one caller or accounts: indexes `tickets_caller`, `tickets_account`.
macro_rules! ticket_ids_sql {
    () => {
        "SELECT id FROM tickets WHERE caller = ?1 \
         UNION SELECT id FROM tickets WHERE account_id IN (SELECT value FROM json_each(?2))"
    };
}
#[cfg(test)]
pub(crate) const TICKET_IDS_SQL: &str = ticket_ids_sql!();

#[async_trait]
impl CallerHistory for SqliteDispatchStore {
    async fn calls_from(&self, phone: &PhoneNumber, limit: u32) -> Result<Vec<Cdr>, QueryError> {
        let rows: Vec<CdrRow> = sqlx::query_as(CALLS_FROM_SQL)
            .bind(phone.as_e164())
            .bind(limit.min(200))
            .fetch_all(self.pool())
            .await?;
        decode_all(rows)
    }

    async fn tickets_of(
        &self,
        phone: Option<&PhoneNumber>,
        accounts: &[AccountId],
        recent: u32,
    ) -> Result<Vec<Ticket>, QueryError> {
        let accounts =
            serde_json::json!(accounts.iter().map(|a| a.0).collect::<Vec<_>>()).to_string();
        let rows: Vec<TicketRow> = sqlx::query_as(concat!(
            "SELECT ",
            ticket_columns!(),
            " FROM tickets WHERE id IN (",
            ticket_ids_sql!(),
            ") ORDER BY id DESC"
        ))
        .bind(phone.map(|p| p.as_e164()))
        .bind(accounts)
        .fetch_all(self.pool())
        .await?;
        let all: Vec<Ticket> = decode_all(rows)?;
        let (open, closed): (Vec<Ticket>, Vec<Ticket>) = all
            .into_iter()
            .partition(|t| !CLOSED_STATUSES.contains(&t.status.as_str()));
        Ok(open
            .into_iter()
            .chain(closed.into_iter().take(recent as usize))
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The card's queries never scan `calls` or `tickets`: each is an index search.
    #[tokio::test]
    async fn history_queries_use_indexes() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        crate::migrate(&pool).await.unwrap();
        for sql in [
            CALLS_FROM_SQL.to_string(),
            TICKET_IDS_SQL.to_string(),
            crate::missed::OPEN_FOR_NUMBER_SQL.to_string(),
        ] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .bind("+79161234567")
                    .bind("[1,2]")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let text: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
            for line in &text {
                assert!(
                    !(line.starts_with("SCAN calls")
                        || line.starts_with("SCAN tickets")
                        || line.starts_with("SCAN missed_calls")),
                    "{sql}\n{text:#?}"
                );
            }
            assert!(
                text.iter()
                    .any(|l| l.contains("USING INDEX") || l.contains("USING COVERING INDEX")),
                "{sql}\n{text:#?}"
            );
        }
    }
}
