//! The JSON body of an API write: [`ApiJson`] refuses a wrong content type with 415,
//! malformed JSON with 400 and JSON of the wrong shape with 422 saying where it failed, all
//! as problem documents, never a 500. Every API write reads its body through it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::problem::{ApiResult, Problem, ProblemError};

/// A JSON request body read into `T`.
pub struct ApiJson<T>(pub T);

/// The same, with the body's bytes kept (an idempotency key compares them).
pub struct ApiJsonRaw<T> {
    pub value: T,
    pub raw: Bytes,
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn malformed(error: &serde_json::Error) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        format!("The body is not well-formed JSON: {error}."),
    )
}

/// Reads `bytes` as the JSON of a `T`, after checking the content type.
pub fn parse<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<T> {
    if !is_json(headers) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the body as JSON, with `Content-Type: application/json`.",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => Problem::invalid(
                format!("The body does not have the expected shape at `{path}`: {inner}."),
                vec![ProblemError {
                    index: None,
                    field: path,
                    detail: inner.to_string(),
                }],
            ),
            _ => malformed(&inner),
        }
    })?;
    deserializer.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

async fn read<S: Send + Sync>(request: Request, state: &S) -> ApiResult<(HeaderMap, Bytes)> {
    let headers = request.headers().clone();
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            let status = rejection.status();
            let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "The request body is too large."
            } else {
                "The request body could not be read."
            };
            Problem::new(status, detail)
        })?;
    Ok((headers, bytes))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let (headers, bytes) = read(request, state).await?;
        Ok(ApiJson(parse(&headers, &bytes)?))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJsonRaw<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let (headers, raw) = read(request, state).await?;
        Ok(ApiJsonRaw {
            value: parse(&headers, &raw)?,
            raw,
        })
    }
}
