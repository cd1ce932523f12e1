//! One engagement and its scorecard: `GET /api/v1/engagements/{id}` and
//! `GET /api/v1/engagements/{id}/scorecard?period=<label>`. Both open the engagement in the
//! caller's statement ([`CallerEngagement`]), so a foreign id is the same 404 as a missing one.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::caller::CallerEngagement;
use super::problem::{ApiResult, Problem};
use crate::engagements::{self, KpiLine};
use crate::period::Period;
use crate::scorecard::{self, KpiCard, Scorecard, Standing};
use crate::state::AppState;

/// The paths of this module, for the API's document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(show, scorecard))]
pub struct EngagementApi;

/// One engagement with its KPIs under the terms in force today.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EngagementView {
    pub id: i64,
    pub name: String,
    pub vendor_id: i64,
    pub vendor_name: String,
    pub status: engagements::Status,
    pub start_date: NaiveDate,
    /// The last day of the initial term; null for an open-ended engagement.
    pub end_date: Option<NaiveDate>,
    /// How the contract renews at the end of a term.
    pub renewal: engagements::Renewal,
    /// The length of each renewal in months (automatic renewals).
    pub renewal_months: Option<i32>,
    /// The current term's end, today: with automatic renewal, the end of the term that
    /// notice given today can still stop.
    pub term_end: Option<NaiveDate>,
    /// The last day to give notice (or decide) for the term that ends on `term_end`.
    pub notice_by: Option<NaiveDate>,
    pub scorecard_period: crate::vocab::PeriodKind,
    /// The engagement's IANA time zone, such as `Europe/Berlin`.
    pub time_zone: String,
    /// Today in the engagement's zone: the day the terms below are in force.
    pub today: NaiveDate,
    pub kpis: Vec<KpiLine>,
}

/// One engagement
///
/// With its KPIs under the terms in force today, in the engagement's time zone.
#[utoipa::path(
    get,
    path = "/api/v1/engagements/{id}",
    operation_id = "getEngagement",
    tag = "engagements",
    params(("id" = i64, Path, minimum = 1, description = "The engagement's id.")),
    responses(
        (status = 200, description = "The engagement.", body = EngagementView),
        (status = 404, description = "No such engagement, or not one the token may see."),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    CallerEngagement { access, .. }: CallerEngagement,
) -> ApiResult<Json<EngagementView>> {
    let mut conn = state
        .pool
        .acquire()
        .await
        .map_err(crate::web::error::AppError::from)?;
    let today = state.clock.today(access.zone());
    let agreement = engagements::agreement_of(&mut conn, access, today).await?;
    let dates = agreement.contract_dates.as_ref();
    Ok(Json(EngagementView {
        renewal: agreement.fields.contract.renewal,
        renewal_months: agreement.fields.contract.renewal_months,
        term_end: dates.map(|d| d.ends_on),
        notice_by: dates.and_then(|d| d.notice_by),
        id: agreement.access.id,
        name: agreement.fields.name,
        vendor_id: agreement.access.vendor_id,
        vendor_name: agreement.access.vendor_name,
        status: agreement.fields.status,
        start_date: agreement.fields.start_date,
        end_date: agreement.fields.end_date,
        scorecard_period: agreement.fields.scorecard_period,
        time_zone: agreement.fields.time_zone.name().to_string(),
        today,
        kpis: agreement.kpis,
    }))
}

#[derive(Debug, Default, Deserialize)]
struct PeriodQuery {
    period: Option<String>,
}

/// A period by its label and its dates.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PeriodView {
    pub label: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl PeriodView {
    fn of(period: &Period) -> PeriodView {
        PeriodView {
            label: period.label(),
            start: period.start,
            end: period.end(),
        }
    }
}

/// One KPI of the period in view, with its score in each of the 12 periods.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KpiView {
    #[serde(flatten)]
    pub card: KpiCard,
    /// The KPI's score in each period of `history_periods`, oldest first; null without data.
    pub history: Vec<Option<Decimal>>,
}

/// The scorecard of an engagement for a period.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ScorecardView {
    pub engagement_id: i64,
    pub period: PeriodView,
    /// 0..=100, one decimal; null without data.
    pub score: Option<Decimal>,
    /// The stored name of the standing, or `no_data`.
    #[schema(schema_with = standing_schema)]
    pub standing: &'static str,
    pub coverage: Decimal,
    /// The score's change since the previous period, when both have one.
    pub change: Option<Decimal>,
    pub kpis: Vec<KpiView>,
    /// The periods of each KPI's `history`, oldest first; the last is `period`.
    pub history_periods: Vec<PeriodView>,
}

/// A standing's stored name, or `no_data` for a period without data.
fn standing_schema() -> utoipa::openapi::Object {
    let names = Standing::ALL
        .iter()
        .map(|s| Some(*s))
        .chain([None])
        .map(scorecard::model::standing_key);
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(names))
        .build()
}

fn view(engagement_id: i64, card: &Scorecard) -> ApiResult<ScorecardView> {
    let current = card.current().ok_or_else(Problem::not_found)?;
    Ok(ScorecardView {
        engagement_id,
        period: PeriodView::of(&current.period),
        score: current.score.score,
        standing: scorecard::model::standing_key(current.score.standing),
        coverage: current.score.coverage,
        change: card.change(),
        kpis: current
            .kpis
            .iter()
            .map(|kpi| KpiView {
                history: card.history_of(kpi.id).to_vec(),
                card: kpi.clone(),
            })
            .collect(),
        history_periods: card
            .periods
            .iter()
            .map(|c| PeriodView::of(&c.period))
            .collect(),
    })
}

/// The scorecard of an engagement for a period
///
/// Score, standing, coverage and change since the previous period, and per active KPI its
/// terms, value, status, score and its scores over the 12 periods of `history_periods`.
#[utoipa::path(
    get,
    path = "/api/v1/engagements/{id}/scorecard",
    operation_id = "getScorecard",
    tag = "engagements",
    params(
        ("id" = i64, Path, minimum = 1, description = "The engagement's id."),
        ("period" = Option<String>, Query,
            pattern = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2]|Q[1-4]|W(0[1-9]|[1-4][0-9]|5[0-3]))$",
            description = "The period's label as the scorecard page writes it, of the engagement's kind: \
                `2026-03` (monthly), `2026-Q1` (quarterly), `2026-W05` (weekly). The latest closed period by default."),
    ),
    responses(
        (status = 200, description = "The scorecard for the period.", body = ScorecardView),
        (status = 400, description = "The query string is malformed, or `period` is not a label of the engagement's kind of period."),
        (status = 404, description = "No such engagement, or not one the token may see."),
        (status = 422, description = "`period` is not yet closed, or outside the engagement's life."),
    )
)]
pub async fn scorecard(
    State(state): State<AppState>,
    CallerEngagement { access, .. }: CallerEngagement,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<ScorecardView>> {
    let query: PeriodQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| Problem::new(StatusCode::BAD_REQUEST, "The query string is malformed."))?;
    let kind = access.period_kind();
    let today = state.clock.today(access.zone());
    let period = match query.period.as_deref() {
        None => Period::latest_closed(kind, today),
        Some(label) => {
            let period = Period::parse(kind, label).ok_or_else(|| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "`period` is a {} period's label, as the scorecard page writes it.",
                        kind.as_str()
                    ),
                )
            })?;
            let mut conn = state
                .pool
                .acquire()
                .await
                .map_err(crate::web::error::AppError::from)?;
            if !scorecard::within_life(&mut conn, access.id, &period, today).await? {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "`period` is a closed period within the engagement's life.",
                ));
            }
            period
        }
    };
    let card = scorecard::scorecard_of(&state.cache, &state.pool, &access, period, today).await?;
    Ok(Json(view(access.id, &card)?))
}
