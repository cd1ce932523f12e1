//! Who calls the API: the bearer token of the request, and nothing else (cookies are
//! ignored here, so a browser session can never be replayed against the API).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::problem::{ApiResult, Problem};
use crate::api::tokens::{self, Scope};
use crate::auth::User;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::Change;

/// The user a live token speaks for, its scope, the token and the client's address.
pub struct ApiCaller {
    pub user: User,
    pub scope: Scope,
    pub token_id: i64,
    pub token_name: String,
    pub addr: String,
}

impl ApiCaller {
    /// Begins a write with the caller's token: 403 for a token that may only read. Its
    /// audit entries name the token.
    pub async fn change<'a>(&'a self, state: &'a AppState) -> ApiResult<Change<'a>> {
        if self.scope != Scope::ReadWrite {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "This token may only read; make a read and write token for this.",
            ));
        }
        Ok(Change::begin_with_token(
            state,
            &self.user,
            (self.token_id, &self.token_name),
            self.addr.clone(),
        )
        .await?)
    }
}

/// The secret of an `Authorization: Bearer trellis_…` header, if there is one.
fn bearer_secret(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    let secret = secret.trim();
    (scheme.eq_ignore_ascii_case("bearer") && secret.starts_with(tokens::SECRET_PREFIX))
        .then_some(secret)
}

/// A token past its requests for this minute: 429, and when the next window opens.
fn too_many_requests(now: chrono::DateTime<chrono::Utc>) -> Response {
    let seconds = tokens::seconds_to_next_window(now);
    let mut response = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("This token made too many requests this minute; try again in {seconds} seconds."),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Response;

    /// One round trip: the token, its owner, its request count and its last use.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let secret = bearer_secret(parts)
            .ok_or_else(|| Problem::unauthorized().into_response())?
            .to_string();
        let now = state.clock.now();
        let Ok(ClientAddr(addr)) = ClientAddr::from_request_parts(parts, state).await;
        let bearer = tokens::authenticate(&state.pool, &secret, now, &addr)
            .await
            .map_err(|e| Problem::from(e).into_response())?
            .ok_or_else(|| Problem::unauthorized().into_response())?;
        if bearer.requests > i64::from(state.config.api_rate_limit) {
            return Err(too_many_requests(now));
        }
        Ok(ApiCaller {
            user: bearer.user,
            scope: bearer.scope,
            token_id: bearer.token_id,
            token_name: bearer.token_name,
            addr,
        })
    }
}
