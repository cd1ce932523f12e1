//! KPI values through the API: `GET /api/v1/engagements/{id}/kpi-values` reads an
//! engagement's values over a bounded range of periods, and `POST /api/v1/kpi-values` pushes
//! a batch for one or several engagements, all or nothing, checked line by line by the same
//! function as the values form's rules in the CSV import (`scorecard::record_lines`). An
//! `Idempotency-Key` header makes a retried push answer what the first one did.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use super::body::ApiJsonRaw;
use super::caller::{ApiCaller, CallerEngagement};
use super::problem::{ApiResult, Problem, ProblemError};
use crate::period::Period;
use crate::scorecard::{self, Line};
use crate::state::AppState;
use crate::web::error::AppError;

/// At most this many periods are read at once.
pub const MAX_PERIODS: usize = 36;
/// Periods read when the request names none: the latest closed ones.
const DEFAULT_PERIODS: usize = 12;
/// At most this many values are pushed at once.
pub const MAX_VALUES: usize = 5000;
/// The body limit of a push: 5,000 values with notes.
pub const PUSH_LIMIT: usize = 8 * 1024 * 1024;
/// An idempotency key is remembered this long.
const KEY_LIFE: Duration = Duration::hours(24);

/// A period by its label and its dates.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ValuePeriod {
    pub label: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl ValuePeriod {
    fn of(period: &Period) -> ValuePeriod {
        ValuePeriod {
            label: period.label(),
            start: period.start,
            end: period.end(),
        }
    }
}

/// A value recorded for a KPI in a period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KpiValueView {
    pub kpi_id: i64,
    pub kpi_name: String,
    pub unit: String,
    pub period: ValuePeriod,
    /// The exact decimal, as a string.
    #[schema(value_type = String, example = "99.5")]
    pub value: Decimal,
    pub note: String,
    /// `verified`, `unverified` (reported by the vendor, not yet verified) or `disputed`.
    #[schema(value_type = String, example = "unverified")]
    pub state: &'static str,
    /// Why a manager disputes the value; empty otherwise.
    pub dispute_note: String,
    /// The name of who recorded it.
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// An engagement's values over a range of periods.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KpiValuesView {
    pub engagement_id: i64,
    pub from: ValuePeriod,
    pub to: ValuePeriod,
    /// Oldest period first; within a period, KPIs by name.
    pub values: Vec<KpiValueView>,
}

#[derive(Debug, Default, Deserialize)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
    kpi: Option<String>,
}

fn bad_query(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, detail)
}

/// The KPI values of an engagement the caller may see.
#[utoipa::path(
    get,
    path = "/api/v1/engagements/{id}/kpi-values",
    tag = "kpi-values",
    params(
        ("id" = i64, Path, description = "The engagement's id"),
        ("from" = Option<String>, Query, pattern = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2]|Q[1-4]|W(0[1-9]|[1-4][0-9]|5[0-3]))$", description = "The first period's label (`2026-11`, `2026-W05`, `2026-Q3`); default: 11 periods before `to`"),
        ("to" = Option<String>, Query, pattern = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-(0[1-9]|1[0-2]|Q[1-4]|W(0[1-9]|[1-4][0-9]|5[0-3]))$", description = "The last period's label; default: the latest closed period"),
        ("kpi" = Option<i64>, Query, description = "Only this KPI's values"),
    ),
    responses(
        (status = 200, description = "The values, at most 36 periods of them", body = KpiValuesView),
        (status = 400, description = "A malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such engagement, or another vendor's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than 36 periods, or `from` after `to`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    CallerEngagement { access, .. }: CallerEngagement,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<KpiValuesView>> {
    let query: RangeQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| bad_query("The query string is malformed."))?;
    let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
    let kind = access.period_kind();
    let label = |name: &str, raw: Option<&str>| -> ApiResult<Option<Period>> {
        // Only a missing parameter takes the default; an empty one is no label.
        match raw {
            None => Ok(None),
            Some(label) => Period::parse(kind, label).map(Some).ok_or_else(|| {
                bad_query(format!(
                    "`{name}` is a {} period's label, as the scorecard page writes it.",
                    kind.as_str()
                ))
            }),
        }
    };
    let from = label("from", query.from.as_deref())?;
    let to = label("to", query.to.as_deref())?;
    let kpi = match query.kpi.as_deref() {
        None => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .map_err(|_| bad_query("`kpi` is a KPI's id."))?,
        ),
    };
    let to = to.unwrap_or_else(|| Period::latest_closed(kind, state.clock.today(access.zone())));
    let from = from.unwrap_or_else(|| (1..DEFAULT_PERIODS).fold(to, |period, _| period.previous()));
    if from.start > to.start {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`from` is a period before `to` (or the same).",
        ));
    }
    let mut count = 1;
    let mut period = from;
    while period.start < to.start {
        period = period.next();
        count += 1;
        if count > MAX_PERIODS {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("Ask for at most {MAX_PERIODS} periods at once."),
            ));
        }
    }
    let values = scorecard::recorded_values(&mut conn, &access, from.start, to.start, kpi).await?;
    Ok(Json(KpiValuesView {
        engagement_id: access.id,
        from: ValuePeriod::of(&from),
        to: ValuePeriod::of(&to),
        values: values
            .into_iter()
            .map(|v| KpiValueView {
                kpi_id: v.kpi_id,
                kpi_name: v.kpi_name,
                unit: v.unit,
                period: ValuePeriod::of(&Period::containing(kind, v.period_start)),
                value: v.value,
                note: v.note,
                state: v.state.as_str(),
                dispute_note: v.dispute_note,
                recorded_by: v.recorded_by,
                recorded_at: v.recorded_at,
            })
            .collect(),
    }))
}

/// A batch of values to record.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// 1 to 5,000 values, for one or several engagements.
    pub values: Vec<PushValue>,
}

/// One value to record for a closed period.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushValue {
    pub engagement_id: i64,
    pub kpi_id: i64,
    /// The first day of the period, `YYYY-MM-DD`.
    #[schema(example = "2026-11-01")]
    pub period_start: String,
    /// A plain decimal number, as a JSON string or a JSON number; read from its text, so
    /// no digit is lost.
    #[schema(value_type = String, example = "99.5")]
    pub value: Box<RawValue>,
    /// One line, at most 1,000 characters.
    #[serde(default)]
    pub note: Option<String>,
}

impl PushValue {
    /// The value's text: a JSON string unquoted, any other JSON as written (so that a number
    /// keeps every digit, and `null` or `true` is "not a number" by the form's rule).
    fn value_text(&self) -> String {
        let raw = self.value.get();
        if raw.starts_with('"') {
            serde_json::from_str::<String>(raw).unwrap_or_default()
        } else {
            raw.to_string()
        }
    }
}

/// What a push did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PushResponse {
    /// Values written: new ones and corrections.
    pub saved: usize,
    /// Values that were there already, the same value with the same note.
    pub unchanged: usize,
}

/// The `Idempotency-Key` header, when there is one: 1 to 200 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if values.next().is_some()
        || bytes.is_empty()
        || bytes.len() > 200
        || !bytes.iter().all(|b| (0x21..=0x7e).contains(b))
    {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "`Idempotency-Key` is one header of 1 to 200 visible ASCII characters.",
        ));
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// What a key already used says.
enum Claim {
    /// The key is this request's now (new, or its earlier use has expired).
    Ours,
    /// The same body came with the key before: its answer.
    Replay(u16, String),
    /// Another body came with the key.
    Mismatch,
}

/// Takes the key for this request in the write's transaction. A concurrent request with the
/// same key waits here until the first commits (then sees its answer) or rolls back (then
/// takes the key). Expired rows of the token are cleared on the way.
async fn claim(
    db: &mut PgConnection,
    token_id: i64,
    key: &str,
    digest: &[u8],
    now: DateTime<Utc>,
) -> ApiResult<Claim> {
    let cutoff = now - KEY_LIFE;
    let taken: Option<i32> = sqlx::query_scalar(
        "with expired as (
             delete from api_idempotency where token_id = $1 and key <> $2 and created_at < $5
         )
         insert into api_idempotency (token_id, key, request_sha256, status, response, created_at)
         values ($1, $2, $3, 102, '', $4)
         on conflict (token_id, key) do update
         set request_sha256 = excluded.request_sha256, status = excluded.status,
             response = excluded.response, created_at = excluded.created_at
         where api_idempotency.created_at < $5
         returning 1",
    )
    .bind(token_id)
    .bind(key)
    .bind(digest)
    .bind(now)
    .bind(cutoff)
    .fetch_optional(&mut *db)
    .await
    .map_err(AppError::from)?;
    if taken.is_some() {
        return Ok(Claim::Ours);
    }
    let earlier: Option<(Vec<u8>, i16, String)> = sqlx::query_as(
        "select request_sha256, status, response from api_idempotency where token_id = $1 and key = $2",
    )
    .bind(token_id)
    .bind(key)
    .fetch_optional(&mut *db)
    .await
    .map_err(AppError::from)?;
    match earlier {
        Some((hash, status, response)) if hash == digest => Ok(Claim::Replay(
            u16::try_from(status).unwrap_or(200),
            response,
        )),
        Some(_) => Ok(Claim::Mismatch),
        // Cleared between the two statements by a request that found it expired.
        None => Err(Problem::new(
            StatusCode::CONFLICT,
            "This `Idempotency-Key` is in use just now; try again.",
        )),
    }
}

fn json_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Pushes a batch of KPI values: every line is checked as the values form checks it, and on
/// any error nothing is saved and each bad line gets one entry in the problem's `errors`.
#[utoipa::path(
    post,
    path = "/api/v1/kpi-values",
    tag = "kpi-values",
    request_body = PushRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 200 visible ASCII characters; a retry with the same key and body gets the first answer, for 24 hours"),
    ),
    responses(
        (status = 200, description = "Every value saved or already there", body = PushResponse),
        (status = 400, description = "Malformed JSON or idempotency key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A read-only token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad lines (one entry each in `errors`), a body of the wrong shape, or a key used with another body", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn push(
    State(state): State<AppState>,
    caller: ApiCaller,
    headers: HeaderMap,
    ApiJsonRaw {
        value: request,
        raw,
    }: ApiJsonRaw<PushRequest>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let count = request.values.len();
    if count == 0 || count > MAX_VALUES {
        return Err(Problem::invalid(
            format!("Send from 1 to {MAX_VALUES} values at once."),
            vec![ProblemError {
                index: None,
                field: "values".into(),
                detail: format!("{count} values"),
            }],
        ));
    }
    let mut change = caller.change(&state).await?;
    let digest = Sha256::digest(&raw);
    let now = change.now;
    if let Some(key) = &key {
        match claim(change.db(), caller.token_id, key, &digest, now).await? {
            Claim::Ours => {}
            Claim::Replay(status, body) => {
                let mut response = json_response(status, body);
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return Ok(response);
            }
            Claim::Mismatch => {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "This `Idempotency-Key` came with another body; use a new key for a new batch.",
                ));
            }
        }
    }
    let lines: Vec<Line> = request
        .values
        .iter()
        .enumerate()
        .map(|(index, v)| Line {
            line: index,
            engagement_id: v.engagement_id.to_string(),
            kpi_id: v.kpi_id.to_string(),
            period_start: v.period_start.clone(),
            value: v.value_text(),
            note: v.note.clone().unwrap_or_default(),
        })
        .collect();
    let recorded =
        match scorecard::record_lines(change.db(), &caller.user, &lines, now, |_, _| {}).await? {
            Ok(recorded) => recorded,
            Err(bad) => {
                let detail = format!(
                    "{} of the {count} values cannot be recorded; nothing was saved.",
                    bad.len()
                );
                let errors = bad
                    .into_iter()
                    .map(|b| ProblemError {
                        index: Some(b.line),
                        field: b.field.to_string(),
                        detail: b.message,
                    })
                    .collect();
                return Err(Problem::invalid(detail, errors));
            }
        };
    change
        .audit(
            "kpi_values.push",
            "kpi_values",
            serde_json::json!({
                "values": count,
                "saved": recorded.saved,
                "unchanged": recorded.unchanged,
                "engagements": recorded.engagements,
            }),
        )
        .await?;
    let body = serde_json::to_string(&PushResponse {
        saved: recorded.saved,
        unchanged: recorded.unchanged,
    })
    .unwrap_or_default();
    if let Some(key) = &key {
        sqlx::query(
            "update api_idempotency set status = 200, response = $3 where token_id = $1 and key = $2",
        )
        .bind(caller.token_id)
        .bind(key)
        .bind(&body)
        .execute(change.db())
        .await
        .map_err(AppError::from)?;
    }
    change.commit().await?;
    for engagement in &recorded.engagements {
        crate::reminders::refresh(&state, *engagement).await;
    }
    Ok(json_response(200, body))
}

/// The values routes' part of the OpenAPI document, merged into the root one.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, push),
    components(schemas(
        KpiValuesView,
        KpiValueView,
        ValuePeriod,
        PushRequest,
        PushValue,
        PushResponse,
        Problem,
        ProblemError
    ))
)]
pub struct ValuesApi;
