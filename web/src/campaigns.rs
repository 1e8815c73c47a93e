//! Campaign recipients as the registry selects them, for an admin preparing a campaign:
//! who would be called and who is skipped and why.
//!
//! | method and path | permission | what |
//! |---|---|---|
//! | `GET /api/v1/campaigns/recipients?organisation=&district=&building_id=&premises_id=&account=&min_debt_kopecks=&min_months=&limit=&offset=` | manage_campaigns | the recipients ([`zvonar_billing::select_recipients`]); `building_id`, `premises_id`, `account` take comma-separated lists; `min_debt_kopecks` and/or `min_months` select debtors only; `limit` ≤ 10 000 (default 1000) |
//!
//! The answer: `total`, `callable`, `skipped` (counts over the whole selection), `by_reason`
//! (skipped counts by reason code), and `recipients` (the page): `id`, `account`, `phone`,
//! `status` (`queued` or `skipped`), `reason` and `reason_ru` for the skipped, `fio`,
//! `address`, `debt_kopecks`, `period` (oldest unpaid month, `YYYY-MM-DD`), `months_owed`,
//! `debt_as_of`, `building_id`, `premises_id`. Reading changes nothing, so nothing is audited.

use crate::auth::{internal, Caller};
use crate::{ApiError, AppState};
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::str::FromStr;
use zvonar_access::Permission;
use zvonar_billing::{DebtFilter, RecipientFilter, SelectedRecipient};
use zvonar_models::{BuildingId, PremisesId};
use zvonar_outbound::campaign::Status;

/// Most recipients one page returns.
const MAX_PAGE: usize = 10_000;

/// The routes of this module (merged behind the authentication layer).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/campaigns/recipients", get(recipients))
}

/// `GET /api/v1/campaigns/recipients` query.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RecipientsQuery {
    organisation: Option<String>,
    district: Option<String>,
    building_id: Option<String>,
    premises_id: Option<String>,
    account: Option<String>,
    min_debt_kopecks: Option<i64>,
    min_months: Option<u32>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// Splits a comma-separated list, trimming and dropping empty items; each parsed as `T`.
fn list<T: FromStr>(raw: Option<&str>, what: &str) -> Result<Vec<T>, ApiError> {
    raw.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| ApiError::BadRequest(format!("{what}: «{s}» is not valid")))
        })
        .collect()
}

impl RecipientsQuery {
    fn filter(&self) -> Result<RecipientFilter, ApiError> {
        let one = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| vec![s.to_string()])
                .unwrap_or_default()
        };
        if self.min_debt_kopecks.is_some_and(|k| k < 0) {
            return Err(ApiError::BadRequest(
                "min_debt_kopecks must not be negative".into(),
            ));
        }
        let debt =
            (self.min_debt_kopecks.is_some() || self.min_months.is_some()).then(|| DebtFilter {
                min_kopecks: self.min_debt_kopecks.unwrap_or(0),
                min_months: self.min_months.unwrap_or(0),
            });
        Ok(RecipientFilter {
            organisations: one(&self.organisation),
            districts: one(&self.district),
            buildings: list::<i64>(self.building_id.as_deref(), "building_id")?
                .into_iter()
                .map(BuildingId)
                .collect(),
            premises: list::<i64>(self.premises_id.as_deref(), "premises_id")?
                .into_iter()
                .map(PremisesId)
                .collect(),
            accounts: list::<String>(self.account.as_deref(), "account")?,
            debt,
        })
    }
}

fn view(s: &SelectedRecipient) -> Value {
    let (status, reason, reason_ru) = match &s.recipient.status {
        Status::Skipped { reason } => (
            "skipped",
            serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.get("reason").cloned()),
            Some(reason.label_ru()),
        ),
        _ => ("queued", None, None),
    };
    json!({
        "id": s.recipient.id,
        "account": s.account,
        "phone": (!s.recipient.phone.is_empty()).then_some(&s.recipient.phone),
        "status": status,
        "reason": reason,
        "reason_ru": reason_ru,
        "fio": s.values.fio,
        "address": s.values.address,
        "debt_kopecks": s.values.debt_kopecks,
        "period": s.values.period,
        "months_owed": s.months_owed,
        "debt_as_of": s.debt_as_of,
        "building_id": s.building_id.0,
        "premises_id": s.premises_id.0,
    })
}

async fn recipients(
    State(s): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<RecipientsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    c.need(Permission::ManageCampaigns)?;
    let ops = s.ops.as_deref().ok_or(ApiError::NotFound("operations"))?;
    let filter = q.filter()?;
    let limit = q.limit.unwrap_or(1000).min(MAX_PAGE);
    let offset = q.offset.unwrap_or(0);
    let all = ops
        .registry
        .select_recipients(&filter, ops.time_zone)
        .await
        .map_err(internal)?;
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for r in &all {
        if let Status::Skipped { reason } = &r.recipient.status {
            let code = serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.get("reason").and_then(Value::as_str).map(String::from))
                .unwrap_or_default();
            *by_reason.entry(code).or_default() += 1;
        }
    }
    let skipped: usize = by_reason.values().sum();
    let page: Vec<Value> = all.iter().skip(offset).take(limit).map(view).collect();
    Ok(Json(json!({
        "total": all.len(),
        "callable": all.len() - skipped,
        "skipped": skipped,
        "by_reason": by_reason,
        "recipients": page,
    })))
}
