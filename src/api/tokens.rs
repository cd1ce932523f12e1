//! API tokens: bearer secrets for `/api/v1`, personal (a manager's or vendor user's own) or
//! service tokens (a service account's, made by admins). The secret is shown once and
//! stored as its SHA-256 only; it starts with `trellis_` so secret scanners can find a
//! leaked one. A token has exactly its owner's rights and stops working when it expires, is
//! revoked, or its owner is disabled.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::{FromRow, PgConnection, PgPool};

use crate::auth::session::token_hash;
use crate::auth::{Role, User};
use crate::choice;
use crate::engagements::{self, Access};
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Pairs};
use crate::web::validate;

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "trellis_";
/// How many characters of the secret the list shows.
const SHOWN: usize = 12;
/// The longest a token may live, and what the form offers first.
pub const MAX_DAYS: i64 = 365;
pub const DEFAULT_DAYS: i64 = 90;

choice!(pub Scope {
    Read = "read" / "Read",
    ReadWrite = "read+write" / "Read and write",
});

/// Who may hold personal tokens: managers and vendor users (admins make service tokens).
pub fn may_hold(user: &User) -> bool {
    matches!(user.role, Role::Manager | Role::Vendor)
}

/// The token form once valid.
pub struct NewToken {
    pub name: String,
    pub days: i64,
    pub scope: Scope,
}

impl NewToken {
    pub fn parse(form: &Pairs) -> std::result::Result<NewToken, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = validate::required_line(
            &mut errors,
            "token_name",
            form.get("token_name"),
            100,
            "Give the token a name, such as the tool that will use it.",
        );
        let days = validate::integer(
            &mut errors,
            "token_days",
            form.get("token_days"),
            1..=MAX_DAYS,
        );
        let scope = validate::choice(
            &mut errors,
            "token_scope",
            form.get("token_scope"),
            Scope::parse,
            "Choose read, or read and write.",
        );
        match (days, scope) {
            (Some(days), Some(scope)) if errors.is_empty() => Ok(NewToken { name, days, scope }),
            _ => Err(errors),
        }
    }
}

/// A token just made: the only time its secret exists outside the caller's hands.
pub struct Created {
    pub id: i64,
    pub name: String,
    pub secret: String,
}

/// One of a user's tokens as their account page lists it.
#[derive(Debug, sqlx::FromRow, serde::Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scope: Scope,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_addr: Option<String>,
}

impl TokenRow {
    /// Whether the token still opens the API at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A new secret: `trellis_` and 32 random bytes from the operating system, base64url.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    format!("{SECRET_PREFIX}{}", base64url(&bytes))
}

/// Base64url without padding (RFC 4648 §5).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Makes a token for `user_id`; only its hash and prefix are stored.
pub async fn create(
    db: &mut PgConnection,
    user_id: i64,
    token: &NewToken,
    now: DateTime<Utc>,
) -> Result<Created> {
    let secret = new_secret();
    let id = sqlx::query_scalar(
        "insert into api_tokens (user_id, name, prefix, secret_hash, scope, created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7) returning id",
    )
    .bind(user_id)
    .bind(&token.name)
    .bind(&secret[..SHOWN])
    .bind(token_hash(&secret))
    .bind(token.scope)
    .bind(now)
    .bind(now + Duration::days(token.days))
    .fetch_one(db)
    .await?;
    Ok(Created {
        id,
        name: token.name.clone(),
        secret,
    })
}

/// A user's tokens, newest first.
pub async fn list(db: &PgPool, user_id: i64) -> Result<Vec<TokenRow>> {
    Ok(sqlx::query_as(
        "select id, name, prefix, scope, created_at, expires_at, revoked_at, last_used_at, last_used_addr
         from api_tokens where user_id = $1 order by created_at desc, id desc",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

/// Revokes one of `user_id`'s tokens and gives its name; `None` when it is not theirs.
pub async fn revoke(
    db: &mut PgConnection,
    user_id: i64,
    token_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "update api_tokens set revoked_at = coalesce(revoked_at, $3)
         where id = $1 and user_id = $2 returning name",
    )
    .bind(token_id)
    .bind(user_id)
    .bind(now)
    .fetch_optional(db)
    .await?)
}

/// A service token as the admins' list shows it: the token and the service account it
/// belongs to, whose role (and vendor) is its binding.
#[derive(Debug, sqlx::FromRow, serde::Serialize)]
pub struct ServiceTokenRow {
    #[sqlx(flatten)]
    pub token: TokenRow,
    pub account_id: i64,
    pub account_name: String,
    pub role: Role,
    pub vendor_name: Option<String>,
    pub account_disabled: bool,
}

/// Every service account's tokens, newest first: a fixed number of queries however many.
pub async fn list_service(db: &PgPool) -> Result<Vec<ServiceTokenRow>> {
    Ok(sqlx::query_as(
        "select t.id, t.name, t.prefix, t.scope, t.created_at, t.expires_at, t.revoked_at,
                t.last_used_at, t.last_used_addr,
                u.id as account_id, u.name as account_name, u.role, v.name as vendor_name,
                u.disabled_at is not null as account_disabled
         from api_tokens t
         join users u on u.id = t.user_id and u.service_account
         left join vendors v on v.id = u.vendor_id
         order by t.created_at desc, t.id desc",
    )
    .fetch_all(db)
    .await?)
}

/// Revokes a service account's token and gives its name and account; `None` for any other
/// token id.
pub async fn revoke_service(
    db: &mut PgConnection,
    token_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<(String, i64)>> {
    Ok(sqlx::query_as(
        "update api_tokens t set revoked_at = coalesce(t.revoked_at, $2)
         from users u
         where t.id = $1 and u.id = t.user_id and u.service_account
         returning t.name, t.user_id",
    )
    .bind(token_id)
    .bind(now)
    .fetch_optional(db)
    .await?)
}

/// Who a live token speaks for, and what its statement also learnt.
pub struct Bearer {
    pub token_id: i64,
    pub token_name: String,
    pub scope: Scope,
    pub user: User,
    /// The window's count after the statement added what [`Ask::count`] asked, if it did.
    pub requests: Option<i64>,
    /// The engagement of [`Ask::engagement`] as the token may see it; `None` for a missing
    /// or foreign one, and when none was asked for.
    pub access: Option<Access>,
}

#[derive(sqlx::FromRow)]
struct BearerRow {
    bearer_token_id: i64,
    bearer_token_name: String,
    bearer_scope: Scope,
    bearer_requests: Option<i32>,
    bearer_user_id: i64,
    bearer_email: String,
    bearer_name: String,
    bearer_role: Role,
    bearer_vendor_id: Option<i64>,
    bearer_vendor_name: Option<String>,
    bearer_time_zone: String,
}

/// The first instant of the fixed one-minute window `now` falls in.
pub fn window_of(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::minutes(1)).unwrap_or(now)
}

/// Whole seconds from `now` to the next window, at least 1 (for `Retry-After`).
pub fn seconds_to_next_window(now: DateTime<Utc>) -> i64 {
    let next = window_of(now) + Duration::minutes(1);
    ((next - now).num_milliseconds() + 999)
        .div_euclid(1000)
        .max(1)
}

/// What a request asks of its token's one statement.
pub struct Ask<'a> {
    /// The hash of the token's secret (`token_hash`).
    pub hash: &'a [u8],
    pub now: DateTime<Utc>,
    /// The client's address, recorded as the token's last use.
    pub addr: &'a str,
    /// Requests to add to the token's count of this minute: a block for this instance's
    /// quota (`crate::quota`), or none while the instance still holds some.
    pub count: Option<u32>,
    /// The engagement whose access to learn in the same statement.
    pub engagement: Option<i64>,
}

/// The statement of [`authenticate`] for each combination of what it also does: counting,
/// with older windows swept (index 2 and 3), and an engagement's access joined (index 1
/// and 3). Each records the use at most once a minute. The data-modifying parts run in a
/// fixed order (touched, then counted, then swept), so concurrent requests with one token
/// take their locks alike.
static STATEMENTS: LazyLock<[String; 4]> = LazyLock::new(|| {
    let statement = |count: bool, engagement: bool| {
        let mut sql = String::from(
            "with bearer as (
                 select t.id as bearer_token_id, t.name as bearer_token_name, t.scope as bearer_scope,
                        u.id as bearer_user_id, u.email as bearer_email, u.name as bearer_name,
                        u.role as bearer_role, u.vendor_id as bearer_vendor_id,
                        v.name as bearer_vendor_name, u.time_zone as bearer_time_zone
                 from api_tokens t
                 join users u on u.id = t.user_id and u.disabled_at is null
                 left join vendors v on v.id = u.vendor_id
                 where t.secret_hash = $1 and t.revoked_at is null and t.expires_at > $2
             ),
             touched as (
                 update api_tokens a set last_used_at = $2, last_used_addr = $3
                 from bearer b
                 where a.id = b.bearer_token_id
                   and (a.last_used_at is null or a.last_used_at <= $2 - interval '1 minute')
             )",
        );
        if count {
            sql.push_str(
                ",
             counted as (
                 insert into api_rate_windows (token_id, window_start, requests)
                 select bearer_token_id, $4, $5 from bearer
                 on conflict (token_id, window_start)
                 do update set requests = least(api_rate_windows.requests::bigint + excluded.requests,
                                                2147483647)
                 returning requests
             ),
             swept as (
                 delete from api_rate_windows w using bearer b
                 where w.token_id = b.bearer_token_id and w.window_start < $4
             )
             select bearer.*, counted.requests as bearer_requests",
            );
        } else {
            sql.push_str(" select bearer.*, null::int as bearer_requests");
        }
        if engagement {
            sql.push_str(", a.*");
        }
        sql.push_str(if count {
            " from bearer, counted"
        } else {
            " from bearer"
        });
        if engagement {
            let id = if count { "$6" } else { "$4" };
            let access = engagements::scoped_access_select(
                "bearer.bearer_user_id",
                "bearer.bearer_role",
                "bearer.bearer_vendor_id",
                id,
            );
            sql.push_str(&format!(" left join lateral ({access}) a on true"));
        }
        sql
    };
    [
        statement(false, false),
        statement(false, true),
        statement(true, false),
        statement(true, true),
    ]
});

/// The live token whose secret hash this is, with its enabled owner, in one statement that
/// also does what `ask` asks: counts requests in the token's window of this minute
/// (dropping its earlier windows) and records its use from `addr` at most once a minute;
/// opens an engagement as the token may see it. `None` for an unknown, expired or revoked
/// token or a disabled owner, and then nothing is counted or written.
pub async fn authenticate(db: &PgPool, ask: Ask<'_>) -> Result<Option<Bearer>> {
    let statement =
        &STATEMENTS[usize::from(ask.count.is_some()) * 2 + usize::from(ask.engagement.is_some())];
    let mut query = sqlx::query(statement)
        .bind(ask.hash)
        .bind(ask.now)
        .bind(ask.addr);
    if let Some(count) = ask.count {
        query = query
            .bind(window_of(ask.now))
            .bind(i32::try_from(count).unwrap_or(i32::MAX));
    }
    if let Some(id) = ask.engagement {
        query = query.bind(id);
    }
    let Some(row) = query.fetch_optional(db).await? else {
        return Ok(None);
    };
    let bearer = BearerRow::from_row(&row)?;
    let user = User {
        id: bearer.bearer_user_id,
        email: bearer.bearer_email,
        name: bearer.bearer_name,
        role: bearer.bearer_role,
        vendor: bearer
            .bearer_vendor_id
            .map(|id| (id, bearer.bearer_vendor_name.unwrap_or_default())),
        time_zone: bearer.bearer_time_zone,
        inbox: 0,
    };
    let access = if ask.engagement.is_some() {
        engagements::access_of_row(&row, &user)?
    } else {
        None
    };
    Ok(Some(Bearer {
        token_id: bearer.bearer_token_id,
        token_name: bearer.bearer_token_name,
        scope: bearer.bearer_scope,
        requests: bearer.bearer_requests.map(i64::from),
        user,
        access,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_the_minute_and_retry_after_counts_to_the_next() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let now = at("2026-03-01T10:15:42.250Z");
        assert_eq!(window_of(now), at("2026-03-01T10:15:00Z"));
        assert_eq!(seconds_to_next_window(now), 18);
        assert_eq!(seconds_to_next_window(at("2026-03-01T10:15:00Z")), 60);
        assert_eq!(seconds_to_next_window(at("2026-03-01T10:15:59.999Z")), 1);
    }

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn a_secret_is_the_prefix_and_43_base64url_characters() {
        let secret = new_secret();
        let rest = secret.strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(rest.len(), 43);
        assert!(
            rest.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(secret, new_secret());
    }
}
