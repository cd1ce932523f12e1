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
        crate::metrics::count_database_error(&error);
        if is_unavailable(&error) {
            AppError::Unavailable(error)
        } else {
            AppError::Internal(error.into())
        }
    }
}

/// Whether a database error means the database cannot serve anyone just now (try again in
/// a moment: 503) rather than that this request went wrong (500). The one place that
/// decides it; errors that reach [`AppError::Internal`] through `anyhow` are asked too.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_sqlstate(&code)),
        _ => false,
    }
}

/// SQLSTATEs of a database that is busy, going away or not there yet.
fn unavailable_sqlstate(code: &str) -> bool {
    // 08: connection exceptions; 53: insufficient resources (53300 too many connections);
    // 57P: admin or crash shutdown, cannot connect now, database dropped.
    code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
        // A statement cut off by statement_timeout (or cancelled), a lock not granted in
        // lock_timeout: the database is too busy for this request now.
        || code == "57014"
        || code == "55P03"
}

/// Whether an error carried by `anyhow` is, somewhere in its chain, the database being
/// unavailable.
fn chain_is_unavailable(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<sqlx::Error>())
        .any(is_unavailable)
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
                unavailable_page()
            }
            AppError::Internal(error) if chain_is_unavailable(&error) => {
                tracing::warn!(error = format!("{error:#}"), "database unavailable");
                unavailable_page()
            }
            AppError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                internal_error_page()
            }
        }
    }
}

/// 503 with `Retry-After`: the answer whenever the database cannot serve the request now.
pub fn unavailable_page() -> Response {
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    /// A database error with only a SQLSTATE, as PostgreSQL would send it.
    #[derive(Debug)]
    struct Refusal(&'static str);

    impl std::fmt::Display for Refusal {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Refusal {}

    impl sqlx::error::DatabaseError for Refusal {
        fn message(&self) -> &str {
            "refused"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn database(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Refusal(code)))
    }

    fn status_and_retry(error: AppError) -> (u16, Option<String>) {
        let response = error.into_response();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (response.status().as_u16(), retry)
    }

    #[test]
    fn every_kind_of_database_unavailability_is_a_503_with_retry_after() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let closed = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed");
        let unavailable = [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(refused),
            sqlx::Error::Io(closed),
            database("57014"), // query_canceled: statement_timeout
            database("57P01"), // admin_shutdown
            database("57P02"), // crash_shutdown
            database("57P03"), // cannot_connect_now
            database("08000"), // connection_exception
            database("08006"), // connection_failure
            database("53300"), // too_many_connections
            database("55P03"), // lock_not_available
        ];
        for error in unavailable {
            let name = format!("{error:?}");
            assert_eq!(
                status_and_retry(AppError::from(error)),
                (503, Some("5".to_string())),
                "{name}"
            );
        }
    }

    #[test]
    fn unavailability_wrapped_in_anyhow_is_still_a_503() {
        let wrapped =
            anyhow::Error::from(database("57014")).context("refreshing the portfolio's scores");
        assert_eq!(
            status_and_retry(AppError::Internal(wrapped)),
            (503, Some("5".to_string()))
        );
    }

    #[test]
    fn a_request_the_database_rejects_stays_a_500() {
        for code in ["23505", "42601", "22P02", "40001"] {
            assert_eq!(
                status_and_retry(AppError::from(database(code))),
                (500, None),
                "{code}"
            );
        }
        assert_eq!(
            status_and_retry(AppError::from(sqlx::Error::RowNotFound)),
            (500, None)
        );
    }
}
