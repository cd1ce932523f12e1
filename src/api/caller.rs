//! Who calls the API: the bearer token of the request, and nothing else (cookies are
//! ignored here, so a browser session can never be replayed against the API).

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header;
use axum::http::request::Parts;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::problem::{ApiResult, Problem, id_of};
use crate::api::tokens::{self, Scope};
use crate::auth::User;
use crate::auth::session::token_hash;
use crate::engagements::Access;
use crate::quota;
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

impl ApiCaller {
    /// The caller of the request, counted against its token's limit, and the engagement of
    /// `engagement` as the token may see it, all in one statement. Most requests count
    /// themselves in this instance's quota and only read; one in a block takes the next
    /// block from the token's shared count of the minute.
    async fn authenticate(
        parts: &mut Parts,
        state: &AppState,
        engagement: Option<i64>,
    ) -> Result<(ApiCaller, Option<Access>), Response> {
        let secret = bearer_secret(parts).ok_or_else(|| Problem::unauthorized().into_response())?;
        let hash = token_hash(secret);
        let now = state.clock.now();
        let window = tokens::window_of(now);
        let limit = state.config.api_rate_limit;
        let count = (!state.quota.take(&hash, window)).then(|| quota::block_of(limit));
        let Ok(ClientAddr(addr)) = ClientAddr::from_request_parts(parts, state).await;
        let ask = tokens::Ask {
            hash: &hash,
            now,
            addr: &addr,
            count,
            engagement,
        };
        let bearer = tokens::authenticate(&state.pool, ask)
            .await
            .map_err(|e| Problem::from(e).into_response())?
            .ok_or_else(|| Problem::unauthorized().into_response())?;
        if let (Some(asked), Some(total)) = (count, bearer.requests) {
            match quota::granted(limit, asked, total) {
                0 => return Err(too_many_requests(now)),
                granted => state.quota.keep(&hash, window, granted - 1),
            }
        }
        let caller = ApiCaller {
            user: bearer.user,
            scope: bearer.scope,
            token_id: bearer.token_id,
            token_name: bearer.token_name,
            addr,
        };
        Ok((caller, bearer.access))
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        Ok(ApiCaller::authenticate(parts, state, None).await?.0)
    }
}

/// The caller and the engagement of `/api/v1/engagements/{id}/…` as their token may see it,
/// learnt in the caller's one statement: an unknown token is 401 first, then a malformed,
/// missing or foreign id the same 404.
pub struct CallerEngagement {
    pub caller: ApiCaller,
    pub access: Access,
}

impl FromRequestParts<AppState> for CallerEngagement {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let id = match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params
                .iter()
                .find(|(name, _)| *name == "id")
                .and_then(|(_, raw)| id_of(raw).ok()),
            Err(_) => None,
        };
        let (caller, access) = ApiCaller::authenticate(parts, state, Some(id.unwrap_or(0))).await?;
        let access = access.ok_or_else(|| Problem::not_found().into_response())?;
        Ok(CallerEngagement { caller, access })
    }
}
