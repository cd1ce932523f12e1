//! Server-side sessions in PostgreSQL. The cookie holds 256 random bits; the table holds
//! only their SHA-256. One query per request learns the session and its user; the row is
//! written back at most once a minute.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;

use super::user::{Role, User};
use crate::state::AppState;
use crate::web::error::AppError;
use crate::web::layout::Flash;

pub const COOKIE: &str = "trellis_session";

/// How stale `last_seen_at` may get before a request writes it back.
const TOUCH_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// The session of the request, if any; anonymous sessions carry the login form's token.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub id_hash: Option<Vec<u8>>,
    pub csrf_token: Option<String>,
    pub user: Option<User>,
    pub flash: Option<Flash>,
}

#[derive(sqlx::FromRow)]
struct Row {
    csrf_token: String,
    flash: Option<String>,
    last_seen_at: DateTime<Utc>,
    session_user_id: Option<i64>,
    user_id: Option<i64>,
    email: Option<String>,
    name: Option<String>,
    role: Option<String>,
    vendor_id: Option<i64>,
    vendor_name: Option<String>,
    time_zone: Option<String>,
    inbox: Option<i64>,
}

/// Loads the session named by the request's cookie and puts it in the request's
/// extensions. Every response that passes here is marked `no-store`.
pub async fn load(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let session = match cookie_value(request.headers(), COOKIE) {
        Some(token) => match find(&state, token).await {
            Ok(session) => session,
            Err(e) => return AppError::from(e).into_response(),
        },
        None => Session::default(),
    };
    request.extensions_mut().insert(session);
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn find(state: &AppState, token: &str) -> Result<Session, sqlx::Error> {
    let id_hash = token_hash(token);
    let now = state.clock.now();
    let idle_since = now
        - chrono::Duration::from_std(state.config.session_idle)
            .unwrap_or(chrono::Duration::hours(1));
    let born_after = now
        - chrono::Duration::from_std(state.config.session_absolute)
            .unwrap_or(chrono::Duration::hours(12));
    let row: Option<Row> = sqlx::query_as(
        "select s.csrf_token, s.flash, s.last_seen_at, s.user_id as session_user_id,
                u.id as user_id, u.email, u.name, u.role, u.vendor_id, v.name as vendor_name, u.time_zone,
                (select count(*) from inbox_items i join reminders r on r.id = i.reminder_id
                 where i.user_id = u.id and i.dismissed_at is null and r.resolved_at is null
                   and (i.snoozed_until is null or i.snoozed_until <= $4)) as inbox
         from sessions s
         left join users u on u.id = s.user_id and u.disabled_at is null
         left join vendors v on v.id = u.vendor_id
         where s.id_hash = $1 and s.last_seen_at > $2 and s.created_at > $3",
    )
    .bind(&id_hash)
    .bind(idle_since)
    .bind(born_after)
    .bind(now)
    .fetch_optional(&state.pool)
    .await?;
    let Some(row) = row else {
        return Ok(Session::default());
    };
    let user = match (row.session_user_id, row.user_id) {
        (None, _) => None,
        (Some(_), Some(id)) => Some(User {
            id,
            email: row.email.unwrap_or_default(),
            name: row.name.unwrap_or_default(),
            role: row
                .role
                .as_deref()
                .and_then(Role::parse)
                .unwrap_or(Role::Vendor),
            vendor: row
                .vendor_id
                .map(|vid| (vid, row.vendor_name.unwrap_or_default())),
            time_zone: row.time_zone.unwrap_or_else(|| "UTC".into()),
            inbox: row.inbox.unwrap_or(0),
        }),
        // The user was disabled: the session is dead.
        (Some(_), None) => return Ok(Session::default()),
    };
    if row.flash.is_some() || now - row.last_seen_at > TOUCH_AFTER {
        sqlx::query("update sessions set last_seen_at = $2, flash = null where id_hash = $1")
            .bind(&id_hash)
            .bind(now)
            .execute(&state.pool)
            .await?;
    }
    Ok(Session {
        id_hash: Some(id_hash),
        csrf_token: Some(row.csrf_token),
        user,
        flash: row.flash.as_deref().map(Flash::decode),
    })
}

/// A new session's secret parts: the cookie value and its CSRF token.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

/// Creates a session (anonymous when `user_id` is `None`).
pub async fn create(
    db: impl PgExecutor<'_>,
    user_id: Option<i64>,
    flash: Option<&Flash>,
    now: DateTime<Utc>,
) -> Result<NewSession, sqlx::Error> {
    let token = random_token();
    let csrf_token = random_token();
    sqlx::query(
        "insert into sessions (id_hash, user_id, csrf_token, flash, created_at, last_seen_at)
         values ($1, $2, $3, $4, $5, $5)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(&csrf_token)
    .bind(flash.map(Flash::encode))
    .bind(now)
    .execute(db)
    .await?;
    Ok(NewSession { token, csrf_token })
}

/// Gives a visitor without a session an anonymous one, so that a form's CSRF token is bound
/// to something; returns the cookie to set when it did.
pub async fn ensure(
    state: &AppState,
    session: &mut Session,
) -> Result<Option<HeaderValue>, sqlx::Error> {
    if session.csrf_token.is_some() {
        return Ok(None);
    }
    let new = create(&state.pool, None, None, state.clock.now()).await?;
    session.csrf_token = Some(new.csrf_token);
    Ok(Some(set_cookie(&new.token, state.config.secure_cookies())))
}

/// Ends every session of a user, or every one but `keep`.
pub async fn delete_for_user(
    db: impl PgExecutor<'_>,
    user_id: i64,
    keep: Option<&[u8]>,
) -> Result<u64, sqlx::Error> {
    let result =
        sqlx::query("delete from sessions where user_id = $1 and id_hash is distinct from $2")
            .bind(user_id)
            .bind(keep)
            .execute(db)
            .await?;
    Ok(result.rows_affected())
}

pub async fn delete(db: impl PgExecutor<'_>, id_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("delete from sessions where id_hash = $1")
        .bind(id_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Leaves a message for the next page this session shows (a visitor without a session
/// has nowhere to keep one).
pub async fn set_flash(
    db: impl PgExecutor<'_>,
    session: &Session,
    flash: Flash,
) -> Result<(), sqlx::Error> {
    if let Some(id_hash) = &session.id_hash {
        sqlx::query("update sessions set flash = $2 where id_hash = $1")
            .bind(id_hash)
            .bind(flash.encode())
            .execute(db)
            .await?;
    }
    Ok(())
}

pub fn set_cookie(token: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/{secure}"
    ))
    .expect("a hex token makes a valid header")
}

pub fn clear_cookie(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}"
    ))
    .expect("a valid header")
}

/// 256 random bits as hex: session cookies, CSRF tokens, set-password links, calendar feeds.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What is stored of a secret token: its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Session>()
            .cloned()
            .unwrap_or_default())
    }
}

/// A signed-in user with their session; anonymous visitors are sent to the login page.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub session: Session,
}

impl CurrentUser {
    /// The user's own time zone, or `default` (the organisation's) if theirs is unknown.
    pub fn zone(&self, default: chrono_tz::Tz) -> chrono_tz::Tz {
        self.user.time_zone.parse().unwrap_or(default)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .unwrap_or_default();
        match session.user.clone() {
            Some(user) => Ok(CurrentUser { user, session }),
            None => Err(AppError::LoginRequired {
                next: (parts.method == axum::http::Method::GET).then(|| {
                    parts
                        .uri
                        .path_and_query()
                        .map_or("/", |pq| pq.as_str())
                        .to_string()
                }),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_random_bits_in_hex() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn only_well_formed_session_cookies_are_read() {
        let token = random_token();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("other=1; {COOKIE}={token}").parse().unwrap(),
        );
        assert_eq!(cookie_value(&headers, COOKIE), Some(token.as_str()));
        headers.insert(
            header::COOKIE,
            format!("{COOKIE}=' or 1=1 --").parse().unwrap(),
        );
        assert_eq!(cookie_value(&headers, COOKIE), None);
    }
}
