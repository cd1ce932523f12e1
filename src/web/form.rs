//! The form extractor every state-changing handler uses: it refuses a missing or foreign
//! CSRF token before it reads anything else, turns malformed bodies into 400 and oversized
//! ones into 413.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::auth::Session;

use super::error::AppError;

pub const CSRF_FIELD: &str = "csrf_token";

/// A urlencoded form whose CSRF token matched the session's.
#[derive(Debug)]
pub struct Form<T>(pub T);

impl<S, T> FromRequest<S> for Form<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let expected = request
            .extensions()
            .get::<Session>()
            .and_then(|session| session.csrf_token.clone());
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge
            } else {
                AppError::BadRequest("The form could not be read.".into())
            }
        })?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|_| AppError::BadRequest("The form could not be read: it is not valid text.".into()))?;
        let mut tokens = pairs.iter().filter(|(name, _)| name == CSRF_FIELD).map(|(_, value)| value);
        let token = tokens.next();
        let (Some(expected), Some(token), None) = (expected, token, tokens.next()) else {
            return Err(AppError::Csrf);
        };
        if !constant_time_eq(expected.as_bytes(), token.as_bytes()) {
            return Err(AppError::Csrf);
        }
        let value = serde_urlencoded::from_bytes(&body)
            .map_err(|e| AppError::BadRequest(format!("The form could not be read: {}.", describe(&e))))?;
        Ok(Form(value))
    }
}

/// A serde message names fields, never types or paths; keep only that.
fn describe(error: &serde_urlencoded::de::Error) -> String {
    let text = error.to_string();
    if text.starts_with("duplicate field") || text.starts_with("missing field") || text.starts_with("unknown variant") {
        text
    } else {
        "a field has a value of the wrong kind".into()
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Field errors of a form, each shown beside its field.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(name, _)| *name == field).map(|(_, message)| message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
