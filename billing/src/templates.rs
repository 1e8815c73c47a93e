//! Stored message templates of outbound campaigns (`campaign_templates`): a name, the message
//! text with variables ([`zvonar_outbound::template`]) and an optional question. Checked when
//! saved: an unknown `{variable}`, a bad case or an unclosed brace is refused naming it. A
//! campaign created from a template copies the text, so later edits never change it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;
use zvonar_outbound::template::Template;

/// Longest name, characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest message text or question, characters (a message the robot reads in about two
/// minutes).
pub const MAX_TEXT_CHARS: usize = 2000;

/// A stored template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageTemplate {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// The message with variables.
    pub text: String,
    /// The question after the message (keys 1 — confirm, 2 — operator or callback, 9 — opt
    /// out); `None`: no question.
    pub question: Option<String>,
    /// Login of the author.
    pub created_by: String,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// Login of the last editor.
    pub updated_by: String,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// What a create or update request gives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateInput {
    /// 1–[`MAX_NAME_CHARS`] characters, unique.
    pub name: String,
    /// The message, checked by [`Template::parse`].
    pub text: String,
    /// Optional question; an empty or blank one means none.
    #[serde(default)]
    pub question: Option<String>,
}

/// Why a template was not saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateStoreError {
    /// Bad input, in Russian, starting with the field's name (`name:`, `text:`, `question:`).
    #[error("{0}")]
    Invalid(String),
    /// Another template has this name.
    #[error("name: шаблон «{0}» уже есть")]
    NameTaken(String),
    /// No template with this id.
    #[error("шаблон не найден")]
    NotFound,
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl TemplateInput {
    /// Trims the fields and checks them; a blank question becomes `None`.
    ///
    /// Errors: [`TemplateStoreError::Invalid`] naming the field, for a template error with
    /// its position and the variable (`text: позиция 12: неизвестная переменная {dolg}; …`).
    pub fn checked(&self) -> Result<TemplateInput, TemplateStoreError> {
        let bad = |m: String| TemplateStoreError::Invalid(m);
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(bad(format!("name: от 1 до {MAX_NAME_CHARS} символов")));
        }
        if self.text.chars().count() > MAX_TEXT_CHARS {
            return Err(bad(format!("text: не больше {MAX_TEXT_CHARS} символов")));
        }
        Template::parse(&self.text).map_err(|e| bad(format!("text: {e}")))?;
        let question = self
            .question
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(String::from);
        if question
            .as_deref()
            .is_some_and(|q| q.chars().count() > MAX_TEXT_CHARS)
        {
            return Err(bad(format!(
                "question: не больше {MAX_TEXT_CHARS} символов"
            )));
        }
        Ok(TemplateInput {
            name,
            text: self.text.trim().to_string(),
            question,
        })
    }
}

type Row = (
    i64,
    String,
    String,
    Option<String>,
    String,
    DateTime<Utc>,
    String,
    DateTime<Utc>,
);

fn from_row(r: Row) -> MessageTemplate {
    MessageTemplate {
        id: r.0,
        name: r.1,
        text: r.2,
        question: r.3,
        created_by: r.4,
        created_at: r.5,
        updated_by: r.6,
        updated_at: r.7,
    }
}

const COLUMNS: &str =
    "id, name, text, question, created_by, created_at, updated_by, updated_at FROM campaign_templates";

fn unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// The templates in the main database (billing's migration `1130_campaign_templates`).
#[derive(Clone, Debug)]
pub struct MessageTemplates {
    pool: SqlitePool,
}

impl MessageTemplates {
    /// The store on `pool` (migrated with [`crate::migrate`]).
    pub fn new(pool: SqlitePool) -> Self {
        MessageTemplates { pool }
    }

    /// Every template, by name.
    ///
    /// Errors: the database.
    pub async fn list(&self) -> Result<Vec<MessageTemplate>, TemplateStoreError> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} ORDER BY name COLLATE NOCASE, id"
        )))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    /// One template. Errors: [`TemplateStoreError::NotFound`], the database.
    pub async fn get(&self, id: i64) -> Result<MessageTemplate, TemplateStoreError> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(from_row).ok_or(TemplateStoreError::NotFound)
    }

    /// Checks and stores a new template; `by`: the author's login.
    ///
    /// Errors: [`TemplateStoreError::Invalid`], [`TemplateStoreError::NameTaken`], the
    /// database.
    pub async fn create(
        &self,
        input: &TemplateInput,
        by: &str,
    ) -> Result<MessageTemplate, TemplateStoreError> {
        let t = input.checked()?;
        let now = Utc::now();
        let r = sqlx::query_as::<_, (i64,)>(
            "INSERT INTO campaign_templates
               (name, text, question, created_by, created_at, updated_by, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&t.name)
        .bind(&t.text)
        .bind(&t.question)
        .bind(by)
        .bind(now)
        .bind(by)
        .bind(now)
        .fetch_one(&self.pool)
        .await;
        match r {
            Ok((id,)) => self.get(id).await,
            Err(e) if unique_violation(&e) => Err(TemplateStoreError::NameTaken(t.name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a template's name, text and question; `by`: the editor's login. Campaigns
    /// created from it keep their copy.
    ///
    /// Errors: [`TemplateStoreError::Invalid`], [`TemplateStoreError::NameTaken`],
    /// [`TemplateStoreError::NotFound`], the database.
    pub async fn update(
        &self,
        id: i64,
        input: &TemplateInput,
        by: &str,
    ) -> Result<MessageTemplate, TemplateStoreError> {
        let t = input.checked()?;
        let r = sqlx::query(
            "UPDATE campaign_templates SET name = ?, text = ?, question = ?, updated_by = ?,
             updated_at = ? WHERE id = ?",
        )
        .bind(&t.name)
        .bind(&t.text)
        .bind(&t.question)
        .bind(by)
        .bind(Utc::now())
        .bind(id)
        .execute(&self.pool)
        .await;
        match r {
            Ok(done) if done.rows_affected() == 0 => Err(TemplateStoreError::NotFound),
            Ok(_) => self.get(id).await,
            Err(e) if unique_violation(&e) => Err(TemplateStoreError::NameTaken(t.name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a template; campaigns created from it keep their copy; the deleted one.
    ///
    /// Errors: [`TemplateStoreError::NotFound`], the database.
    pub async fn delete(&self, id: i64) -> Result<MessageTemplate, TemplateStoreError> {
        let t = self.get(id).await?;
        let done = sqlx::query("DELETE FROM campaign_templates WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(TemplateStoreError::NotFound);
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> MessageTemplates {
        let pool = crate::open_sqlite("sqlite::memory:").await.unwrap();
        crate::migrate(&pool).await.unwrap();
        MessageTemplates::new(pool)
    }

    fn input(name: &str, text: &str) -> TemplateInput {
        TemplateInput {
            name: name.into(),
            text: text.into(),
            question: None,
        }
    }

    #[tokio::test]
    async fn templates_are_checked_stored_updated_and_deleted() {
        let s = store().await;
        let t = s
            .create(
                &TemplateInput {
                    question: Some("  ".into()),
                    ..input(" Долг ", "Ваш долг {debt}.")
                },
                "olga",
            )
            .await
            .unwrap();
        assert_eq!(t.name, "Долг");
        assert_eq!(t.question, None, "a blank question is none");
        assert_eq!(t.created_by, "olga");
        let err = s
            .create(&input("Другой", "Долг {dolg}."), "olga")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TemplateStoreError::Invalid(m) if m.starts_with("text:") && m.contains("{dolg}")),
            "{err}"
        );
        let err = s
            .create(&input("долг", "x"), "olga")
            .await
            .map(|_| ())
            .and(s.create(&input("Долг", "x"), "olga").await.map(|_| ()))
            .unwrap_err();
        assert!(matches!(err, TemplateStoreError::NameTaken(_)), "{err}");
        let u = s
            .update(
                t.id,
                &TemplateInput {
                    question: Some("Нажмите 1.".into()),
                    ..input("Долг", "Долг {debt} до {due_date}.")
                },
                "ivan",
            )
            .await
            .unwrap();
        assert_eq!(u.text, "Долг {debt} до {due_date}.");
        assert_eq!(u.updated_by, "ivan");
        assert_eq!(u.created_by, "olga");
        assert!(matches!(
            s.update(999, &input("x", "y"), "ivan").await,
            Err(TemplateStoreError::NotFound)
        ));
        assert_eq!(s.list().await.unwrap().len(), 2);
        s.delete(t.id).await.unwrap();
        assert!(matches!(
            s.get(t.id).await,
            Err(TemplateStoreError::NotFound)
        ));
        assert!(matches!(
            s.delete(t.id).await,
            Err(TemplateStoreError::NotFound)
        ));
    }
}
