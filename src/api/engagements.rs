//! `GET /api/v1/engagements`: the engagements the caller may see, a page at a time.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::caller::ApiCaller;
use super::problem::{ApiResult, Problem};
use crate::engagements::{self, Filter, ListRow, Status};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    page: Option<String>,
}

/// A page of the engagements the token's owner may see, by name.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EngagementList {
    pub engagements: Vec<ListRow>,
    /// The page shown, from 1.
    pub page: i64,
    /// How many engagements match, on every page.
    pub total: i64,
}

/// The paths of this module, for the API's document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub struct EngagementsApi;

fn filter_of(raw: Option<&str>) -> ApiResult<Filter> {
    let query: ListQuery = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| Problem::new(StatusCode::BAD_REQUEST, "The query string is malformed."))?;
    let q = query.q.unwrap_or_default();
    if q.chars().count() > 200 || q.chars().any(char::is_control) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`q` is at most 200 characters, without control characters.",
        ));
    }
    // Unlike a form's, an empty value here is not "any": it is not a status, nor a page.
    let status = match query.status.as_deref() {
        None => None,
        Some(value) => Some(Status::parse(value).ok_or_else(|| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "`status` is one of the engagement statuses (draft, active, paused or closed).",
            )
        })?),
    };
    let page = match query.page.as_deref() {
        None => 1,
        Some(value) => match value.parse::<i64>() {
            Ok(page) if (1..=100_000).contains(&page) => page,
            _ => {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "`page` is a whole number from 1 to 100000.",
                ));
            }
        },
    };
    Ok(Filter {
        q,
        status,
        mine: false,
        page,
    })
}

/// The engagements the token may see
///
/// Those of the token owner's vendor for a vendor user's token, every engagement for a
/// manager's; a page at a time, by name.
#[utoipa::path(
    get,
    path = "/api/v1/engagements",
    operation_id = "listEngagements",
    tag = "engagements",
    params(
        ("q" = Option<String>, Query, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
            description = "Part of the engagement's or the vendor's name; at most 200 characters, without control characters."),
        ("status" = Option<Status>, Query, description = "Only engagements with this status."),
        ("page" = Option<i64>, Query, minimum = 1, maximum = 100000, description = "The page, from 1."),
    ),
    responses(
        (status = 200, description = "A page of engagements.", body = EngagementList),
        (status = 400, description = "The query string is malformed."),
        (status = 422, description = "`q`, `status` or `page` is out of range."),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<EngagementList>> {
    let filter = filter_of(raw.as_deref())?;
    let (rows, total) = engagements::search(&state.pool, &caller.user, &filter).await?;
    Ok(Json(EngagementList {
        engagements: rows,
        page: filter.page,
        total,
    }))
}
