//! `GET /api/v1/engagements`: the engagements the caller may see, a page at a time
//! (`engagements::search_after`, the keyset twin of the list page's query).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::ApiCaller;
use super::cursor::{PageRequest, Paged};
use super::problem::{ApiResult, Problem};
use crate::engagements::{self, Filter, ListKey, ListRow, Status};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// One engagement as the list shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EngagementItem {
    pub id: i64,
    pub name: String,
    pub vendor_name: String,
    /// draft, active, paused or closed.
    #[schema(value_type = String, example = "active")]
    pub status: Status,
    /// The owner's name.
    pub owner: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
}

impl From<ListRow> for EngagementItem {
    fn from(row: ListRow) -> EngagementItem {
        EngagementItem {
            id: row.id,
            name: row.name,
            vendor_name: row.vendor_name,
            status: row.status,
            owner: row.owner,
            start_date: row.start_date,
            end_date: row.end_date,
        }
    }
}

/// Reads a query string; a malformed one (or a repeated parameter) is a 400 problem.
pub(super) fn query_of<T: serde::de::DeserializeOwned + Default>(
    raw: Option<&str>,
) -> ApiResult<T> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| Problem::new(StatusCode::BAD_REQUEST, "The query string is malformed."))
}

fn filter_of(query: &ListQuery) -> ApiResult<Filter> {
    let q = query.q.clone().unwrap_or_default();
    if q.chars().count() > 200 || q.chars().any(char::is_control) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`q` is at most 200 characters, without control characters.",
        ));
    }
    // Empty is not a status: only a missing one means "any".
    let status = match query.status.as_deref() {
        None => None,
        Some(value) => Some(Status::parse(value).ok_or_else(|| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "`status` is one of the engagement statuses (draft, active, paused or closed).",
            )
        })?),
    };
    Ok(Filter {
        q,
        status,
        mine: false,
        page: 1,
    })
}

/// The engagements the token's owner may see, by name, closed ones last.
#[utoipa::path(
    get,
    path = "/api/v1/engagements",
    tag = "engagements",
    security(("bearer" = [])),
    params(
        ("q" = Option<String>, Query, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
            description = "Part of the engagement's or the vendor's name; at most 200 characters, without control characters."),
        ("status" = Option<Status>, Query, description = "Only engagements with this status."),
        ("cursor" = Option<String>, Query, min_length = 1, description = "The `next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100; 25 unless given"),
    ),
    responses(
        (status = 200, description = "A page of engagements", body = Paged<EngagementItem>),
        (status = 400, description = "A malformed query or a cursor this list did not give out"),
        (status = 401, description = "No valid token"),
        (status = 422, description = "A filter or limit out of its range"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Paged<EngagementItem>>> {
    let query: ListQuery = query_of(raw.as_deref())?;
    let filter = filter_of(&query)?;
    // The cursor belongs to these filters: another q or status starts again.
    let scope = format!(
        "engagements\n{}\n{}",
        filter.q,
        filter.status.map(Status::as_str).unwrap_or("")
    );
    let page = PageRequest::new(scope, query.cursor.as_deref(), query.limit.as_deref())?;
    let after: Option<ListKey> = page.after()?;
    let rows = engagements::search_after(
        &state.pool,
        &caller.user,
        &filter,
        after.as_ref(),
        page.fetch(),
    )
    .await?;
    Ok(Json(page.page(
        rows,
        ListRow::sort_key,
        EngagementItem::from,
    )))
}
