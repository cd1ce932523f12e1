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

#[derive(Serialize)]
pub struct EngagementList {
    pub engagements: Vec<ListRow>,
    pub page: i64,
    pub total: i64,
}

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
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(value) => Some(Status::parse(value).ok_or_else(|| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "`status` is one of the engagement statuses (draft, active, paused or closed).",
            )
        })?),
    };
    let page = match query.page.as_deref() {
        None | Some("") => 1,
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
