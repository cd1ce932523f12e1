//! `GET /api/v1/portfolio`: every active engagement's latest closed period, score, standing,
//! change and weakest KPI, with the portfolio page's filters and sorts, a page at a time (the
//! keyset twin of the page's paging, `scorecard::portfolio::rows_after`). The organisation's
//! roles only: a vendor token gets the 403 the page gives a vendor user (it names no record).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::ApiCaller;
use super::cursor::{PageRequest, Paged};
use super::engagements::query_of;
use super::problem::{ApiResult, Problem};
use crate::auth::Role;
use crate::period::Period;
use crate::scorecard::{
    self, NOTICE_WITHIN_MAX, PORTFOLIO_SORTS as SORTS, PortfolioFilters as Filters, PortfolioKey,
    PortfolioRow, is_standing_key, standing_key,
};
use crate::state::AppState;
use crate::vendors::Tier;
use crate::vocab::PeriodKind;
use crate::web::error::AppError;

#[derive(Debug, Default, Deserialize)]
struct PortfolioQuery {
    tier: Option<String>,
    standing: Option<String>,
    manager: Option<String>,
    notice_within: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// A scorecard period by its label and its dates.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodDates {
    pub label: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// The weakest active KPI of the period, with its score.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeakestKpi {
    pub name: String,
    /// 0..=100, rounded to a whole number.
    #[schema(value_type = String, example = "73")]
    pub score: Decimal,
}

/// An active engagement's line in the portfolio.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortfolioItem {
    pub engagement_id: i64,
    pub name: String,
    pub vendor_name: String,
    /// The vendor's tier.
    #[schema(value_type = String, example = "strategic")]
    pub tier: Tier,
    /// The owner's name.
    pub owner: String,
    /// The latest closed period; null only if its stored label no longer reads.
    pub period: Option<PeriodDates>,
    /// 0..=100, one decimal; null without data.
    #[schema(value_type = Option<String>, example = "82.5")]
    pub score: Option<Decimal>,
    /// `excellent`, `good`, `attention`, `critical` or `no_data`.
    pub standing: &'static str,
    /// The score's change since the previous period, when both have one.
    #[schema(value_type = Option<String>, example = "-3.5")]
    pub change: Option<Decimal>,
    pub weakest_kpi: Option<WeakestKpi>,
    /// The contract's current term's end; null for an open-ended engagement.
    pub term_end: Option<NaiveDate>,
    /// The last day to give notice so that the contract ends (automatic renewal) or to
    /// decide on it (renewal by decision); null when there is nothing to give notice of.
    pub notice_by: Option<NaiveDate>,
}

/// A period's label read back: labels of the three kinds never look alike.
fn period_of(label: &str) -> Option<PeriodDates> {
    PeriodKind::ALL
        .iter()
        .find_map(|kind| Period::parse(*kind, label))
        .map(|period| PeriodDates {
            label: period.label(),
            start: period.start,
            end: period.end(),
        })
}

impl From<PortfolioRow> for PortfolioItem {
    fn from(row: PortfolioRow) -> PortfolioItem {
        let weakest_kpi = row.worst_kpi().map(|(name, score)| WeakestKpi {
            name: name.to_string(),
            score,
        });
        PortfolioItem {
            engagement_id: row.id,
            period: period_of(&row.period),
            standing: standing_key(row.standing),
            name: row.name,
            vendor_name: row.vendor_name,
            tier: row.tier,
            owner: row.owner,
            score: row.score,
            change: row.change,
            weakest_kpi,
            term_end: row.term_end,
            notice_by: row.notice_by,
        }
    }
}

fn unprocessable(detail: &str) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail.to_string())
}

/// The page's filters, each checked against its fixed list: an unknown value is a 422 here,
/// where the page quietly drops it, and so is an empty one (as the document's types say:
/// leave a filter out rather than sending it empty).
fn filters_of(query: &PortfolioQuery, today: NaiveDate) -> ApiResult<Filters> {
    for (name, value) in [
        ("tier", &query.tier),
        ("standing", &query.standing),
        ("manager", &query.manager),
        ("notice_within", &query.notice_within),
        ("sort", &query.sort),
    ] {
        if value.as_deref().is_some_and(str::is_empty) {
            return Err(unprocessable(&format!(
                "`{name}` is empty: leave it out, or give it a value."
            )));
        }
    }
    let tier = query.tier.clone().unwrap_or_default();
    if !tier.is_empty() && Tier::parse(&tier).is_none() {
        return Err(unprocessable("`tier` is one of the vendor tiers."));
    }
    let standing = query.standing.clone().unwrap_or_default();
    if !standing.is_empty() && !is_standing_key(&standing) {
        return Err(unprocessable(
            "`standing` is excellent, good, attention, critical or no_data.",
        ));
    }
    let manager = query.manager.clone().unwrap_or_default();
    if !manager.is_empty() && !manager.parse::<i64>().is_ok_and(|id| id > 0) {
        return Err(unprocessable("`manager` is a user's id."));
    }
    let sort = query.sort.clone().unwrap_or_else(|| SORTS[0].to_string());
    if !SORTS.contains(&sort.as_str()) {
        return Err(unprocessable("`sort` is score, change, name or notice."));
    }
    let notice = match query.notice_within.as_deref() {
        None => None,
        Some(days) => Some(
            days.parse::<u32>()
                .ok()
                .filter(|d| (1..=NOTICE_WITHIN_MAX).contains(d))
                .ok_or_else(|| {
                    unprocessable(&format!(
                        "`notice_within` is a number of days from 1 to {NOTICE_WITHIN_MAX}."
                    ))
                })?,
        ),
    };
    Ok(Filters {
        tier,
        standing,
        manager,
        notice,
        today,
        sort,
    })
}

/// The portfolio: weakest score first unless sorted by change (biggest fall first), by
/// vendor, or by the last day to give notice (soonest first).
#[utoipa::path(
    get,
    path = "/api/v1/portfolio",
    tag = "portfolio",
    security(("bearer" = [])),
    params(
        ("tier" = Option<String>, Query, description = "The vendor's tier"),
        ("standing" = Option<String>, Query, description = "excellent, good, attention, critical or no_data"),
        ("manager" = Option<i64>, Query, description = "Engagements this user owns or co-manages"),
        ("notice_within" = Option<i64>, Query, minimum = 1, maximum = 3650, description = "Engagements whose last day to give notice is from today to this many days on"),
        ("sort" = Option<String>, Query, description = "score (the default), change, name or notice"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "The `next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100; 25 unless given"),
    ),
    responses(
        (status = 200, description = "A page of the portfolio", body = Paged<PortfolioItem>),
        (status = 400, description = "A malformed query or a cursor this list did not give out"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "A vendor's token"),
        (status = 422, description = "A filter, sort or limit out of its list"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Paged<PortfolioItem>>> {
    if caller.user.role == Role::Vendor {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "The portfolio is the organisation's.",
        ));
    }
    let query: PortfolioQuery = query_of(raw.as_deref())?;
    let filters = filters_of(&query, state.clock.today(state.config.time_zone))?;
    let scope = format!(
        "portfolio\n{}\n{}\n{}\n{}\n{}",
        filters.tier,
        filters.standing,
        filters.manager,
        filters.notice.unwrap_or(0),
        filters.sort
    );
    let page = PageRequest::new(scope, query.cursor.as_deref(), query.limit.as_deref())?;
    let after: Option<PortfolioKey> = page.after()?;
    let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
    scorecard::refresh_scores(&mut conn, state.clock.now()).await?;
    let rows =
        scorecard::portfolio_after(&mut conn, &filters, after.as_ref(), page.fetch()).await?;
    let sort = filters.sort.clone();
    Ok(Json(page.page(
        rows,
        |row| row.key(&sort),
        PortfolioItem::from,
    )))
}
