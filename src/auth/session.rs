//! Server-side sessions in PostgreSQL. The cookie holds 256 random bits; the table holds
//! only their SHA-256. One query per request learns the session and its user, on its own or
//! joined to the statement of the page's first question ([`VIEWER`]); the row is written back
//! at most once a minute.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
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

/// The session statement's columns: `viewer_` for the person, so that a statement joining it
/// ([`VIEWER`]) keeps its own names.
#[derive(sqlx::FromRow)]
pub struct Row {
    csrf_token: String,
    flash: Option<String>,
    last_seen_at: DateTime<Utc>,
    session_user_id: Option<i64>,
    viewer_id: Option<i64>,
    viewer_email: Option<String>,
    viewer_name: Option<String>,
    viewer_role: Option<String>,
    viewer_vendor_id: Option<i64>,
    viewer_vendor_name: Option<String>,
    viewer_time_zone: Option<String>,
    viewer_inbox: Option<i64>,
}

/// The session named by `$1` (the cookie's hash) with its person, alive by `$2` (idle since)
/// and `$3` (born after), their inbox counted at `$4`: a statement of its own, or a CTE that
/// another statement joins to learn who asks in the same round trip (bind [`Lookup`]'s
/// values first).
pub const VIEWER: &str = "select s.csrf_token, s.flash, s.last_seen_at, s.user_id as session_user_id,
        u.id as viewer_id, u.email as viewer_email, u.name as viewer_name, u.role as viewer_role,
        u.vendor_id as viewer_vendor_id, v.name as viewer_vendor_name, u.time_zone as viewer_time_zone,
        (select count(*) from inbox_items i join reminders r on r.id = i.reminder_id
         where i.user_id = u.id and i.dismissed_at is null and r.resolved_at is null
           and (i.snoozed_until is null or i.snoozed_until <= $4)) as viewer_inbox
 from sessions s
 left join users u on u.id = s.user_id and u.disabled_at is null
 left join vendors v on v.id = u.vendor_id
 where s.id_hash = $1 and s.last_seen_at > $2 and s.created_at > $3";

/// The cookie's hash, put in the request by [`load`]; the session itself is looked up when
/// something first asks for it, and then kept in the request.
#[derive(Clone)]
struct Pending(Option<Vec<u8>>);

/// Marks the request with its session cookie (looked up by the first extractor that asks,
/// [`resolve`]). Every response that passes here is marked `no-store` (a handler may say
/// more, `private, no-store` say, as long as it says that).
pub async fn load(mut request: Request, next: Next) -> Response {
    let pending = Pending(cookie_value(request.headers(), COOKIE).map(token_hash));
    request.extensions_mut().insert(pending);
    let mut response = next.run(request).await;
    let stores_nothing = response
        .headers()
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|d| d.trim() == "no-store"));
    if !stores_nothing {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The request's session: looked up once, by its own statement, the first time it is asked.
pub async fn resolve(extensions: &mut Extensions, state: &AppState) -> Result<Session, AppError> {
    if let Some(session) = extensions.get::<Session>() {
        return Ok(session.clone());
    }
    let Some(lookup) = Lookup::of(extensions, state) else {
        extensions.insert(Session::default());
        return Ok(Session::default());
    };
    let row = lookup
        .bind(sqlx::query_as(VIEWER))
        .fetch_optional(&state.pool)
        .await?;
    Ok(lookup.settle(state, extensions, row).await?)
}

/// A session still to be looked up, with the values [`VIEWER`] is bound to.
pub struct Lookup {
    id_hash: Vec<u8>,
    idle_since: DateTime<Utc>,
    born_after: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl Lookup {
    /// The request's session cookie when its session has not been looked up yet (`None` for
    /// no cookie, or a session already known).
    pub fn of(extensions: &Extensions, state: &AppState) -> Option<Lookup> {
        if extensions.get::<Session>().is_some() {
            return None;
        }
        let Some(Pending(Some(id_hash))) = extensions.get::<Pending>() else {
            return None;
        };
        let now = state.clock.now();
        let idle_since = now
            - chrono::Duration::from_std(state.config.session_idle)
                .unwrap_or(chrono::Duration::hours(1));
        let born_after = now
            - chrono::Duration::from_std(state.config.session_absolute)
                .unwrap_or(chrono::Duration::hours(12));
        Some(Lookup {
            id_hash: id_hash.clone(),
            idle_since,
            born_after,
            now,
        })
    }

    /// Binds `$1`–`$4` of a statement that holds [`VIEWER`].
    pub fn bind<'q, O>(
        &'q self,
        query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        query
            .bind(&self.id_hash)
            .bind(self.idle_since)
            .bind(self.born_after)
            .bind(self.now)
    }

    /// The session that `row` (the statement's answer) describes, kept in the request; a
    /// session seen over a minute ago, or carrying a flash message, is written back.
    pub async fn settle(
        self,
        state: &AppState,
        extensions: &mut Extensions,
        row: Option<Row>,
    ) -> Result<Session, sqlx::Error> {
        let session = self.session_of(state, row).await?;
        extensions.insert(session.clone());
        Ok(session)
    }

    async fn session_of(self, state: &AppState, row: Option<Row>) -> Result<Session, sqlx::Error> {
        let Some(row) = row else {
            return Ok(Session::default());
        };
        let user = match (row.session_user_id, row.viewer_id) {
            (None, _) => None,
            (Some(_), Some(id)) => Some(User {
                id,
                email: row.viewer_email.unwrap_or_default(),
                name: row.viewer_name.unwrap_or_default(),
                role: row
                    .viewer_role
                    .as_deref()
                    .and_then(Role::parse)
                    .unwrap_or(Role::Vendor),
                vendor: row
                    .viewer_vendor_id
                    .map(|vid| (vid, row.viewer_vendor_name.unwrap_or_default())),
                time_zone: row.viewer_time_zone.unwrap_or_else(|| "UTC".into()),
                inbox: row.viewer_inbox.unwrap_or(0),
            }),
            // The user was disabled: the session is dead.
            (Some(_), None) => return Ok(Session::default()),
        };
        if row.flash.is_some() || self.now - row.last_seen_at > TOUCH_AFTER {
            sqlx::query("update sessions set last_seen_at = $2, flash = null where id_hash = $1")
                .bind(&self.id_hash)
                .bind(self.now)
                .execute(&state.pool)
                .await?;
        }
        Ok(Session {
            id_hash: Some(self.id_hash),
            csrf_token: Some(row.csrf_token),
            user,
            flash: row.flash.as_deref().map(Flash::decode),
        })
    }
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

impl FromRequestParts<AppState> for Session {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        resolve(&mut parts.extensions, state).await
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

impl CurrentUser {
    /// The signed-in user of `session`; an anonymous request is sent to the login page (back
    /// to this page afterwards when it was a GET).
    pub fn of(parts: &Parts, session: Session) -> Result<CurrentUser, AppError> {
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

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = resolve(&mut parts.extensions, state).await?;
        CurrentUser::of(parts, session)
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
