//! Personal API tokens: a user's bearer secrets for `/api/v1`. The secret is shown once and
//! stored as its SHA-256 only; it starts with `trellis_` so secret scanners can find a
//! leaked one. A token has exactly its owner's rights and stops working when it expires, is
//! revoked, or its owner is disabled.

use chrono::{DateTime, Duration, Utc};

use sqlx::{PgConnection, PgPool};

use crate::auth::session::token_hash;
use crate::auth::{Role, User};
use crate::choice;
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
/// Last use is written at most this often per token.
const TOUCH_EVERY: Duration = Duration::minutes(1);

choice!(pub Scope {
    Read = "read" / "Read",
    ReadWrite = "read+write" / "Read and write",
});

/// Who may hold personal tokens: managers and vendor users (admins get service tokens, later).
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

/// Who a live token speaks for.
pub struct Bearer {
    pub token_id: i64,
    pub token_name: String,
    pub scope: Scope,
    pub user: User,
    last_used_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct BearerRow {
    token_id: i64,
    token_name: String,
    scope: Scope,
    last_used_at: Option<DateTime<Utc>>,
    user_id: i64,
    email: String,
    name: String,
    role: Role,
    vendor_id: Option<i64>,
    vendor_name: Option<String>,
    time_zone: String,
}

/// The live token whose secret this is, with its enabled owner, in one query; `None` for an
/// unknown, expired or revoked token or a disabled owner.
pub async fn authenticate(db: &PgPool, secret: &str, now: DateTime<Utc>) -> Result<Option<Bearer>> {
    let row: Option<BearerRow> = sqlx::query_as(
        "select t.id as token_id, t.name as token_name, t.scope, t.last_used_at,
                u.id as user_id, u.email, u.name, u.role, u.vendor_id, v.name as vendor_name, u.time_zone
         from api_tokens t
         join users u on u.id = t.user_id and u.disabled_at is null
         left join vendors v on v.id = u.vendor_id
         where t.secret_hash = $1 and t.revoked_at is null and t.expires_at > $2",
    )
    .bind(token_hash(secret))
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|row| Bearer {
        token_id: row.token_id,
        token_name: row.token_name,
        scope: row.scope,
        last_used_at: row.last_used_at,
        user: User {
            id: row.user_id,
            email: row.email,
            name: row.name,
            role: row.role,
            vendor: row
                .vendor_id
                .map(|id| (id, row.vendor_name.unwrap_or_default())),
            time_zone: row.time_zone,
            inbox: 0,
        },
    }))
}

/// Records the token's use at `now` from `addr`, at most once a minute.
pub async fn touch(db: &PgPool, bearer: &Bearer, now: DateTime<Utc>, addr: &str) -> Result<()> {
    if bearer.last_used_at.is_some_and(|at| now - at < TOUCH_EVERY) {
        return Ok(());
    }
    sqlx::query(
        "update api_tokens set last_used_at = $2, last_used_addr = $3
         where id = $1 and (last_used_at is null or last_used_at <= $2 - interval '1 minute')",
    )
    .bind(bearer.token_id)
    .bind(now)
    .bind(addr)
    .execute(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
