//! RFC 9457 problem details: every answer of `/api` that is not a success.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::web::error::AppError;
use crate::web::form::FieldErrors;

/// An RFC 9457 problem document: the answer of every request that failed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// What is wrong with each bad line or field of the request, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemError>,
}

/// One thing wrong with a request: the line (its index in the list sent) when the request
/// is a list, the field, and what is wrong.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProblemError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub field: String,
    pub detail: String,
}

impl ProblemError {
    /// What is wrong with one field of the body.
    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> ProblemError {
        ProblemError {
            index: None,
            field: field.into(),
            detail: detail.into(),
        }
    }
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// A 422 with one entry per thing wrong.
    pub fn invalid(detail: impl Into<String>, errors: Vec<ProblemError>) -> Problem {
        Problem {
            errors,
            ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
        }
    }

    /// A 422 for a body with invalid fields, one entry each.
    pub fn fields(errors: Vec<ProblemError>) -> Problem {
        Problem::invalid(
            "Some fields are not valid; each is listed in `errors`.",
            errors,
        )
    }

    /// A 422 for a form's field errors, each field renamed as the body names it (the API
    /// reads some bodies through the pages' own form parsers).
    pub fn of_form(errors: &FieldErrors, rename: impl Fn(&str) -> String) -> Problem {
        Problem::fields(
            errors
                .iter()
                .map(|(field, detail)| ProblemError::field(rename(field), detail))
                .collect(),
        )
    }

    /// A missing, unknown, expired or revoked token, or a disabled owner: all alike.
    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "Send a valid API token as `Authorization: Bearer trellis_…`.",
        )
    }

    pub fn not_found() -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "There is nothing here.")
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// The page errors of the shared code, as problems. The page's answer decides the status
/// (and logs an unexpected error once); only its body is replaced.
impl From<AppError> for Problem {
    fn from(error: AppError) -> Problem {
        match error {
            AppError::NotFound => Problem::not_found(),
            AppError::LoginRequired { .. } => Problem::unauthorized(),
            AppError::BadRequest(detail) => Problem::new(StatusCode::BAD_REQUEST, detail),
            AppError::Unprocessable(detail) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
            }
            other => {
                let status = other.into_response().status();
                let detail = match status {
                    StatusCode::SERVICE_UNAVAILABLE => {
                        "The database is unavailable just now; try again in a few seconds."
                    }
                    StatusCode::FORBIDDEN => "This token may not do that.",
                    StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.",
                    _ => "Trellis could not finish this request. It has been logged.",
                };
                Problem::new(status, detail)
            }
        }
    }
}

/// A path's id: anything but a positive whole number is the 404 of a missing record.
pub fn id_of(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(Problem::not_found)
}

/// The result of an API handler.
pub type ApiResult<T> = std::result::Result<T, Problem>;

/// Answers of the API's routes that are errors but no problem document yet (a method the
/// route does not serve, a body refused before any handler ran) become one, status kept.
pub async fn as_problems(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "This resource does not answer that method.",
        StatusCode::NOT_FOUND => "There is nothing here.",
        StatusCode::PAYLOAD_TOO_LARGE => "The request body is too large.",
        _ => "The request could not be answered.",
    };
    let mut problem = Problem::new(status, detail).into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        problem.headers_mut().insert(header::ALLOW, allow.clone());
    }
    problem
}
