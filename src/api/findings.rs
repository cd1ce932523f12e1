//! Audit findings through the API: `GET /api/v1/engagements/{id}/findings` (what the audits
//! page shows the caller's side: a vendor token the findings its side remediates, through
//! `visible_findings`, never the organisation's nor the audits themselves) and
//! `POST /api/v1/findings/{id}/answer` (the remediating side's plan, by the page's rules).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::body::ApiJson;
use super::caller::{ApiCaller, CallerEngagement};
use super::checkins::pairs_of;
use super::cursor::{PageRequest, Paged};
use super::engagements::query_of;
use super::problem::{ApiResult, Problem, id_of};
use crate::audits::{
    self, FindingAnswer, FindingKey, FindingRow, FindingStatus, FindingsOf, Kind, Severity, Side,
};
use crate::state::AppState;
use crate::visibility;
use crate::web::error::AppError;

/// A finding as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingView {
    pub id: i64,
    pub engagement_id: i64,
    pub audit_id: i64,
    /// The kind of audit it came from: `quality`, `security`, `compliance`, `sla_verification`.
    #[schema(value_type = String, example = "security")]
    pub audit_kind: Kind,
    /// `low`, `medium`, `high` or `critical`.
    #[schema(value_type = String, example = "high")]
    pub severity: Severity,
    pub description: String,
    /// Who remediates it: `vendor` or `ours`.
    #[schema(value_type = String, example = "vendor")]
    pub owner_side: Side,
    pub due_on: NaiveDate,
    /// `open`, `answered`, `closed` or `risk_accepted`.
    #[schema(value_type = String, example = "open")]
    pub status: FindingStatus,
    /// Not settled and past its due date, today in the engagement's time zone.
    pub overdue: bool,
    pub remediation_plan: String,
    pub evidence: String,
    pub answered_by: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub resolution_note: String,
    pub resolved_by: Option<String>,
}

impl FindingView {
    fn of(engagement_id: i64, row: FindingRow, today: NaiveDate) -> FindingView {
        FindingView {
            overdue: row.is_overdue(today),
            id: row.id,
            engagement_id,
            audit_id: row.audit_id,
            audit_kind: row.audit_kind,
            severity: row.severity,
            description: row.description,
            owner_side: row.owner_side,
            due_on: row.due_on,
            status: row.status,
            remediation_plan: row.remediation_plan,
            evidence: row.evidence,
            answered_by: row.answered_by,
            answered_at: row.answered_at,
            resolution_note: row.resolution_note,
            resolved_by: row.resolved_by,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

/// The findings of an engagement the caller's side sees, unsettled first by due date.
#[utoipa::path(
    get,
    path = "/api/v1/engagements/{id}/findings",
    tag = "findings",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The engagement"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "The `next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100; 25 unless given"),
    ),
    responses(
        (status = 200, description = "A page of findings", body = Paged<FindingView>),
        (status = 400, description = "A malformed query or a cursor this list did not give out"),
        (status = 401, description = "No valid token"),
        (status = 404, description = "No such engagement for this token"),
        (status = 422, description = "A limit out of its range"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    CallerEngagement { access, .. }: CallerEngagement,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Paged<FindingView>>> {
    let id = access.id;
    let query: PageQuery = query_of(raw.as_deref())?;
    let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
    let page = PageRequest::new(
        format!("findings\n{id}"),
        query.cursor.as_deref(),
        query.limit.as_deref(),
    )?;
    let after: Option<FindingKey> = page.after()?;
    let rows = audits::findings_of(
        &mut conn,
        id,
        access.is_vendor,
        FindingsOf {
            after,
            limit: Some(page.fetch()),
            ..FindingsOf::default()
        },
    )
    .await?;
    let today = state.clock.today(access.zone());
    Ok(Json(page.page(rows, FindingRow::list_key, |row| {
        FindingView::of(id, row, today)
    })))
}

/// The remediating side's answer.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct AnswerBody {
    /// How and by when it will be remediated; at most 4000 characters.
    pub remediation_plan: String,
    /// Evidence notes; at most 4000 characters.
    pub evidence: Option<String>,
}

/// Answers a finding with a remediation plan: the side that remediates it (a vendor token
/// the vendor's findings; the organisation's are a 404 to it), as the audits page does. A
/// settled finding takes no answer: 409.
#[utoipa::path(
    post,
    path = "/api/v1/findings/{id}/answer",
    tag = "findings",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The finding")),
    request_body(content = AnswerBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The finding, answered", body = FindingView),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "A read-only token, or not the remediating side"),
        (status = 404, description = "No such finding for this token"),
        (status = 409, description = "The finding is settled"),
        (status = 415, description = "Not sent as JSON"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn answer(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<Response> {
    let finding = id_of(&id)?;
    let mut change = caller.change(&state).await?;
    let locked = audits::lock_to_answer(change.db(), &caller.user, finding).await?;
    if locked.status.is_settled() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "This finding is settled; it takes no more answers.",
        ));
    }
    let mut errors = Vec::new();
    let form = pairs_of(&body, &["remediation_plan", "evidence"], &mut errors);
    if !errors.is_empty() {
        return Ok(Problem::fields(errors).into_response());
    }
    let input = match FindingAnswer::parse(&form) {
        Ok(input) => input,
        Err(errors) => return Ok(Problem::of_form(&errors, str::to_string).into_response()),
    };
    audits::write_answer(&mut change, &locked, finding, caller.user.id, &input).await?;
    let engagement_id = locked.engagement_id;
    let zone = locked.access.zone();
    let row = audits::findings_of(
        change.db(),
        engagement_id,
        visibility::for_vendor(&caller.user),
        FindingsOf {
            finding_id: Some(finding),
            ..FindingsOf::default()
        },
    )
    .await?
    .pop()
    .ok_or_else(Problem::not_found)?;
    change.commit_and_refresh(engagement_id).await?;
    let today = state.clock.today(zone);
    Ok(Json(FindingView::of(engagement_id, row, today)).into_response())
}
