//! Check-ins with their action items through the API:
//! `GET /api/v1/engagements/{id}/checkins` (newest first, a page at a time),
//! `GET /api/v1/checkins/{id}`, `POST /api/v1/engagements/{id}/checkins` (the engagement's
//! managers log one, by the form's own parse) and `POST /api/v1/action-items/{id}` (the side
//! that owns an item marks it done or dropped, by the page's own rules).
//!
//! What a vendor token reads comes through `visible_checkins` and `visible_action_items`
//! (`crate::visibility`), exactly as the check-ins page: internal check-ins and the
//! organisation's own items never reach it, and ids of those are the same 404 as missing ones.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::body::ApiJson;
use super::caller::{ApiCaller, CallerEngagement};
use super::cursor::{PageRequest, Paged};
use super::engagements::query_of;
use super::problem::{ApiResult, Problem, ProblemError, id_of};
use crate::checkins::{
    self, CheckinRow, Health, ItemClosing, ItemRow, ItemStatus, ItemsOf, Kind, NewCheckin, Side,
    TimelineKey,
};
use crate::engagements::{self, Access};
use crate::state::AppState;
use crate::visibility;
use crate::web::error::AppError;
use crate::web::form::Pairs;

/// Turns the text fields of a JSON object into a form's pairs, for the form's own parse; a
/// field that is not a string (or null) is an error of that field. Other fields are ignored,
/// as a form's unknown fields are.
pub(super) fn pairs_of(
    body: &Map<String, Value>,
    fields: &[&'static str],
    errors: &mut Vec<ProblemError>,
) -> Pairs {
    let mut pairs = Vec::new();
    for name in fields {
        match body.get(*name) {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => pairs.push((name.to_string(), text.clone())),
            Some(_) => errors.push(ProblemError::field(
                name.to_string(),
                "Give this as a string.",
            )),
        }
    }
    Pairs(pairs)
}

/// An action item as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionItemView {
    pub id: i64,
    pub checkin_id: Option<i64>,
    pub title: String,
    /// `ours` (the organisation's) or `vendor`.
    #[schema(value_type = String, example = "vendor")]
    pub owner_side: Side,
    pub assignee: String,
    pub due_on: Option<NaiveDate>,
    /// `open`, `done` or `dropped`.
    #[schema(value_type = String, example = "open")]
    pub status: ItemStatus,
    /// Open and past its due date, today in the engagement's time zone.
    pub overdue: bool,
    pub closing_note: String,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl ActionItemView {
    fn of(row: ItemRow, today: NaiveDate) -> ActionItemView {
        ActionItemView {
            overdue: row.is_open() && row.due_on.is_some_and(|d| d < today),
            id: row.id,
            checkin_id: row.checkin_id,
            title: row.title,
            owner_side: row.owner_side,
            assignee: row.assignee,
            due_on: row.due_on,
            status: row.status,
            closing_note: row.closing_note,
            closed_by: row.closed_by,
            closed_at: row.closed_at,
        }
    }
}

/// A check-in with the action items its reader may see.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinView {
    pub id: i64,
    pub engagement_id: i64,
    pub held_on: NaiveDate,
    /// `scheduled` or `ad_hoc`.
    #[schema(value_type = String, example = "scheduled")]
    pub kind: Kind,
    pub attendees: String,
    pub progress: String,
    pub blockers: String,
    /// `on_track`, `at_risk` or `off_track`.
    #[schema(value_type = String, example = "on_track")]
    pub health: Health,
    pub next_steps: String,
    /// Shared with the vendor; a vendor token sees shared ones only.
    pub shared: bool,
    /// Who logged it.
    pub author: String,
    pub action_items: Vec<ActionItemView>,
}

/// The views of `rows` with their items, in two statements whatever their number.
async fn views(
    db: &mut PgConnection,
    access: &Access,
    rows: Vec<CheckinRow>,
    today: NaiveDate,
) -> ApiResult<Vec<CheckinView>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut items =
        checkins::items_of(db, access.id, access.is_vendor, ItemsOf::Checkins(&ids)).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (mine, rest) = items
                .drain(..)
                .partition(|i: &ItemRow| i.checkin_id == Some(row.id));
            items = rest;
            CheckinView {
                id: row.id,
                engagement_id: access.id,
                held_on: row.held_on,
                kind: row.kind,
                attendees: row.attendees,
                progress: row.progress,
                blockers: row.blockers,
                health: row.health,
                next_steps: row.next_steps,
                shared: row.shared,
                author: row.author,
                action_items: mine
                    .into_iter()
                    .map(|i| ActionItemView::of(i, today))
                    .collect(),
            }
        })
        .collect())
}

async fn connection(state: &AppState) -> ApiResult<sqlx::pool::PoolConnection<sqlx::Postgres>> {
    Ok(state.pool.acquire().await.map_err(AppError::from)?)
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

/// The check-ins of an engagement, newest first, each with its action items.
#[utoipa::path(
    get,
    path = "/api/v1/engagements/{id}/checkins",
    tag = "checkins",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The engagement"),
        ("cursor" = Option<String>, Query, min_length = 1, description = "The `next_cursor` of the previous page"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100; 25 unless given"),
    ),
    responses(
        (status = 200, description = "A page of check-ins", body = Paged<CheckinView>),
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
) -> ApiResult<Json<Paged<CheckinView>>> {
    let id = access.id;
    let query: PageQuery = query_of(raw.as_deref())?;
    let mut conn = connection(&state).await?;
    let page = PageRequest::new(
        format!("checkins\n{id}"),
        query.cursor.as_deref(),
        query.limit.as_deref(),
    )?;
    let after: Option<TimelineKey> = page.after()?;
    let rows =
        checkins::timeline_after(&mut conn, id, access.is_vendor, after, page.fetch()).await?;
    let paged = page.page(rows, CheckinRow::timeline_key, |r| r);
    let today = state.clock.today(access.zone());
    let items = views(&mut conn, &access, paged.items, today).await?;
    Ok(Json(Paged {
        items,
        next_cursor: paged.next_cursor,
    }))
}

/// One check-in with its action items.
#[utoipa::path(
    get,
    path = "/api/v1/checkins/{id}",
    tag = "checkins",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The check-in")),
    responses(
        (status = 200, description = "The check-in", body = CheckinView),
        (status = 401, description = "No valid token"),
        (status = 404, description = "No such check-in for this token"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<CheckinView>> {
    let id = id_of(&id)?;
    let mut conn = connection(&state).await?;
    let (engagement_id, row) = checkins::find(&mut conn, id, visibility::for_vendor(&caller.user))
        .await?
        .ok_or_else(Problem::not_found)?;
    let access = engagements::access(&mut conn, &caller.user, engagement_id).await?;
    let today = state.clock.today(access.zone());
    let mut views = views(&mut conn, &access, vec![row], today).await?;
    views.pop().map(Json).ok_or_else(Problem::not_found)
}

/// An action item of a new check-in.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NewActionItem {
    pub title: String,
    /// `ours` or `vendor`.
    pub owner_side: String,
    pub assignee: Option<String>,
    pub due_on: Option<NaiveDate>,
}

/// A check-in to log: the check-in form's fields.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct NewCheckinBody {
    /// Not after today in the engagement's time zone.
    pub held_on: NaiveDate,
    /// `scheduled` or `ad_hoc`.
    pub kind: String,
    pub attendees: Option<String>,
    pub progress: String,
    pub blockers: Option<String>,
    /// `on_track`, `at_risk` or `off_track`.
    pub health: String,
    pub next_steps: Option<String>,
    /// Shared with the vendor unless false.
    pub shared: Option<bool>,
    /// At most three.
    #[schema(max_items = 3)]
    pub action_items: Option<Vec<NewActionItem>>,
}

/// The form's fields of the action item rows, and what the body calls them.
const ITEM_FIELDS: [(&str, &str); 4] = [
    ("item_title", "title"),
    ("item_side", "owner_side"),
    ("item_assignee", "assignee"),
    ("item_due", "due_on"),
];
const ITEM_ROWS: usize = 3;

/// The JSON body as the check-in form's pairs, or the errors of fields that are not even
/// of the right type.
fn checkin_form(body: &Map<String, Value>) -> Result<Pairs, Vec<ProblemError>> {
    let mut errors = Vec::new();
    let mut pairs = pairs_of(
        body,
        &[
            "held_on",
            "kind",
            "attendees",
            "progress",
            "blockers",
            "health",
            "next_steps",
        ],
        &mut errors,
    );
    match body.get("shared") {
        None | Some(Value::Null) | Some(Value::Bool(true)) => {
            pairs.0.push(("shared".into(), "yes".into()));
        }
        Some(Value::Bool(false)) => {}
        Some(_) => errors.push(ProblemError::field("shared", "Give true or false.")),
    }
    match body.get("action_items") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) if items.len() <= ITEM_ROWS => {
            for (index, item) in items.iter().enumerate() {
                let Value::Object(item) = item else {
                    errors.push(ProblemError::field(
                        format!("action_items[{index}]"),
                        "Give each action item as an object.",
                    ));
                    continue;
                };
                for (form_name, body_name) in ITEM_FIELDS {
                    match item.get(body_name) {
                        None | Some(Value::Null) => {}
                        Some(Value::String(text)) => {
                            pairs.0.push((format!("{form_name}_{index}"), text.clone()));
                        }
                        Some(_) => errors.push(ProblemError::field(
                            format!("action_items[{index}].{body_name}"),
                            "Give this as a string.",
                        )),
                    }
                }
            }
        }
        Some(Value::Array(_)) => errors.push(ProblemError::field(
            "action_items",
            format!("A check-in has at most {ITEM_ROWS} action items."),
        )),
        Some(_) => errors.push(ProblemError::field(
            "action_items",
            "Give the action items as a list.",
        )),
    }
    if errors.is_empty() {
        Ok(pairs)
    } else {
        Err(errors)
    }
}

/// A form's field name as the body names it: `item_due_1` is `action_items[1].due_on`.
fn body_field(form_field: &str) -> String {
    for (form_name, body_name) in ITEM_FIELDS {
        if let Some(index) = form_field
            .strip_prefix(form_name)
            .and_then(|rest| rest.strip_prefix('_'))
        {
            return format!("action_items[{index}].{body_name}");
        }
    }
    form_field.to_string()
}

/// The `Idempotency-Key` of a request, as the check-in's form key: a retry with the same
/// key answers the check-in the first request made.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<uuid::Uuid>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| uuid::Uuid::parse_str(v.trim()).ok())
            .map(Some)
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "`Idempotency-Key` is a UUID, e.g. 3f0c2a4e-8a5b-4c1e-9d7f-2b6a1e0c9d55.",
                )
            }),
    }
}

/// Logs a check-in, as the check-in form does: only the engagement's managers (a vendor
/// token gets the 404 the form's page gives a vendor user, another manager 403).
#[utoipa::path(
    post,
    path = "/api/v1/engagements/{id}/checkins",
    tag = "checkins",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The engagement"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "A UUID; a retry with it answers the first check-in"),
    ),
    request_body(content = NewCheckinBody, content_type = "application/json"),
    responses(
        (status = 201, description = "Logged", body = CheckinView),
        (status = 200, description = "Logged before with this Idempotency-Key", body = CheckinView),
        (status = 400, description = "Not JSON, or a malformed Idempotency-Key"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "A read-only token, or not a manager of this engagement"),
        (status = 404, description = "No such engagement for this token"),
        (status = 415, description = "Not sent as JSON"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<Response> {
    let id = id_of(&id)?;
    let key = idempotency_key(&headers)?;
    let mut change = caller.change(&state).await?;
    let access = engagements::access(change.db(), &caller.user, id).await?;
    access.require_manage()?;
    let today = state.clock.today(access.zone());
    if let Some(key) = key
        && let Some((engagement_id, checkin_id)) =
            checkins::checkin_by_key(change.db(), key).await?
    {
        if engagement_id != id {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "This Idempotency-Key was used for another request.",
            ));
        }
        let view = one(change.db(), &access, checkin_id, today).await?;
        return Ok((StatusCode::OK, Json(view)).into_response());
    }
    let form = match checkin_form(&body) {
        Ok(form) => form,
        Err(errors) => return Ok(Problem::fields(errors).into_response()),
    };
    let checkin = match NewCheckin::parse(&form, today) {
        Ok(checkin) => checkin,
        Err(errors) => return Ok(Problem::of_form(&errors, body_field).into_response()),
    };
    let key = key.unwrap_or_else(uuid::Uuid::new_v4);
    let Some(checkin_id) =
        checkins::log_checkin(&mut change, id, caller.user.id, &checkin, key).await?
    else {
        // The same key, saved by a request that ran alongside this one.
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "A request with this Idempotency-Key is being answered; send it again.",
        ));
    };
    let view = one(change.db(), &access, checkin_id, today).await?;
    change.commit_and_refresh(id).await?;
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/checkins/{checkin_id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One check-in of the engagement `access` opened, as its reader sees it.
async fn one(
    db: &mut PgConnection,
    access: &Access,
    checkin_id: i64,
    today: NaiveDate,
) -> ApiResult<CheckinView> {
    let (_, row) = checkins::find(db, checkin_id, access.is_vendor)
        .await?
        .ok_or_else(Problem::not_found)?;
    views(db, access, vec![row], today)
        .await?
        .pop()
        .ok_or_else(Problem::not_found)
}

/// How an action item is closed.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ItemClosingBody {
    /// `done` or `dropped`.
    #[schema(pattern = "^(done|dropped)$")]
    pub status: String,
    /// At most 2000 characters.
    pub note: Option<String>,
}

/// Marks an action item done or dropped: only the side that owns it (a vendor token the
/// vendor's items, the engagement's managers ours). Marking it again as it already is
/// answers it unchanged; closing a closed item otherwise is a 409.
#[utoipa::path(
    post,
    path = "/api/v1/action-items/{id}",
    tag = "checkins",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The action item")),
    request_body(content = ItemClosingBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The item, closed", body = ActionItemView),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No valid token"),
        (status = 403, description = "A read-only token, or the other side's item"),
        (status = 404, description = "No such item for this token"),
        (status = 409, description = "Already closed otherwise"),
        (status = 415, description = "Not sent as JSON"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn close_item(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<Response> {
    let item_id = id_of(&id)?;
    let mut change = caller.change(&state).await?;
    let item = checkins::lock_item(change.db(), &caller.user, item_id).await?;
    let mut errors = Vec::new();
    let form = pairs_of(&body, &["status", "note"], &mut errors);
    if !errors.is_empty() {
        return Ok(Problem::fields(errors).into_response());
    }
    let closing = match ItemClosing::parse_fields(&form) {
        Ok(closing) => closing,
        Err(errors) => return Ok(Problem::of_form(&errors, str::to_string).into_response()),
    };
    let engagement_id = item.engagement_id;
    let today = state.clock.today(item.access.zone());
    let vendor_view = item.access.is_vendor;
    if item.status != ItemStatus::Open && item.status != closing.status {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("This action item is already {}.", item.status.as_str()),
        ));
    }
    if item.status == ItemStatus::Open {
        checkins::write_closing(&mut change, &item, item_id, caller.user.id, &closing).await?;
    }
    let row = checkins::items_of(
        change.db(),
        engagement_id,
        vendor_view,
        ItemsOf::Item(item_id),
    )
    .await?
    .pop()
    .ok_or_else(Problem::not_found)?;
    change.commit_and_refresh(engagement_id).await?;
    Ok(Json(ActionItemView::of(row, today)).into_response())
}
