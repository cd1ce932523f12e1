//! One error type for every handler; each variant becomes a real page that leaks nothing
//! internal. Unexpected errors are logged here, once, with their cause chain.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::layout::Layout;

pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    /// A missing or wrong CSRF token, or a cross-site request.
    #[error("forged or expired form")]
    Csrf,
    #[error("login required")]
    LoginRequired { next: Option<String> },
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Input refused where it is decoded, before any form could be shown again.
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    #[error("request body too large")]
    TooLarge,
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => AppError::Unavailable(error),
            sqlx::Error::Database(ref db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) =>
            {
                AppError::Unavailable(error)
            }
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        AppError::Internal(error.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub heading: &'static str,
    pub message: String,
}

/// Renders the error page with a status; falls back to plain text if even that fails.
pub fn error_page(
    status: StatusCode,
    heading: &'static str,
    message: impl Into<String>,
) -> Response {
    let page = ErrorPage {
        layout: Layout::bare(heading),
        heading,
        message: message.into(),
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, heading).into_response(),
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound => error_page(
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing here. It may have moved, or the address may be mistyped.",
            ),
            AppError::Forbidden => error_page(
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your account does not have access to this page.",
            ),
            AppError::Csrf => error_page(
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not accepted because it expired or did not come from Trellis. Go back, reload the page and try again.",
            ),
            AppError::LoginRequired { next } => {
                let location = match next {
                    Some(next) if next != "/" => format!("/login?next={}", encode_query(&next)),
                    _ => "/login".to_string(),
                };
                Redirect::to(&location).into_response()
            }
            AppError::BadRequest(message) => {
                error_page(StatusCode::BAD_REQUEST, "Bad request", message)
            }
            AppError::Unprocessable(message) => {
                error_page(StatusCode::UNPROCESSABLE_ENTITY, "Not saved", message)
            }
            AppError::TooLarge => error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                "What you sent is larger than Trellis accepts.",
            ),
            AppError::Unavailable(error) => {
                tracing::warn!(error = %error, "database unavailable");
                let mut response = error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "Trellis cannot reach its database just now. Try again in a few seconds.",
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
                response
            }
            AppError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                internal_error_page()
            }
        }
    }
}

pub fn internal_error_page() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Trellis could not finish this request. It has been logged; try again, and tell an administrator if it keeps happening.",
    )
}

/// Percent-encodes a value for a query string.
pub fn encode_query(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|s| s.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// Whether a write failed on the named unique constraint: forms turn that into a field error
/// instead of racing a pre-check.
pub fn violates(error: &sqlx::Error, constraint: &str) -> bool {
    error
        .as_database_error()
        .is_some_and(|d| d.code().as_deref() == Some("23505") && d.constraint() == Some(constraint))
}
