//! User accounts: creation from the command line, administration pages, the set-password
//! links new users start from, and service accounts (`service`), which hold service tokens.

pub mod admin;
pub mod invite;
pub mod service;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::audit::{self, Outcome};
use crate::auth::{Role, password};
use crate::web::routes::Routes;

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error("{0}")]
    Invalid(String),
    #[error("a user with the e-mail {0} already exists")]
    EmailTaken(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    /// The vendor of a vendor user, by name; created if it does not exist yet.
    pub vendor: Option<&'a str>,
    pub password: &'a str,
    pub time_zone: &'a str,
}

/// Checks the parts of a new user that do not need the database.
pub fn validate(user: &NewUser<'_>) -> Result<(), CreateUserError> {
    let email = user.email.trim();
    if email.len() > 254
        || !email.contains('@')
        || email.starts_with('@')
        || email.ends_with('@')
        || email.contains(char::is_whitespace)
    {
        return Err(CreateUserError::Invalid(format!(
            "{email:?} is not an e-mail address"
        )));
    }
    if user.name.trim().is_empty() || user.name.len() > 200 {
        return Err(CreateUserError::Invalid(
            "the name must be between 1 and 200 characters".into(),
        ));
    }
    match (user.role, user.vendor.map(str::trim)) {
        (Role::Vendor, None | Some("")) => {
            return Err(CreateUserError::Invalid(
                "a vendor user needs --vendor with the vendor's name".into(),
            ));
        }
        (Role::Admin | Role::Manager, Some(_)) => {
            return Err(CreateUserError::Invalid(
                "only vendor users belong to a vendor; leave out --vendor".into(),
            ));
        }
        _ => {}
    }
    password::check_policy(user.password)
        .map_err(|m| CreateUserError::Invalid(format!("password: {m}")))
}

/// Finds a vendor by name (case-insensitively) or creates it.
pub async fn vendor_id_by_name(db: &mut PgConnection, name: &str) -> Result<i64, sqlx::Error> {
    let name = name.trim();
    sqlx::query("insert into vendors (name) values ($1) on conflict ((lower(name))) do nothing")
        .bind(name)
        .execute(&mut *db)
        .await?;
    sqlx::query_scalar("select id from vendors where lower(name) = lower($1)")
        .bind(name)
        .fetch_one(&mut *db)
        .await
}

/// Creates a user with a password, audit-logged as done from the command line.
pub async fn create(
    pool: &PgPool,
    user: NewUser<'_>,
    now: DateTime<Utc>,
) -> Result<i64, CreateUserError> {
    validate(&user)?;
    let hash = password::hash(user.password.to_string()).await?;
    let mut tx = pool.begin().await?;
    let vendor_id = match user.vendor {
        Some(name) if user.role == Role::Vendor => Some(vendor_id_by_name(&mut tx, name).await?),
        _ => None,
    };
    let email = user.email.trim();
    let id: Option<i64> = sqlx::query_scalar(
        "insert into users (email, name, role, vendor_id, password_hash, time_zone)
         values ($1, $2, $3, $4, $5, $6)
         on conflict ((lower(email))) do nothing
         returning id",
    )
    .bind(email)
    .bind(user.name.trim())
    .bind(user.role)
    .bind(vendor_id)
    .bind(hash)
    .bind(user.time_zone)
    .fetch_optional(&mut *tx)
    .await?;
    let id = id.ok_or_else(|| CreateUserError::EmailTaken(email.to_string()))?;
    audit::Entry::anonymous("user.create", Outcome::Success)
        .target(format!("user:{id}"))
        .client_addr("cli")
        .details(serde_json::json!({ "email": email, "role": user.role.as_str(), "vendor_id": vendor_id }))
        .write(&mut *tx, now)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// How long a set-password link stays valid.
pub const LINK_LIFETIME: chrono::Duration = chrono::Duration::hours(72);

/// Replaces any unused set-password link of a user with a new one and returns its token.
/// Only the token's hash is stored.
pub async fn new_password_link(
    db: &mut PgConnection,
    user_id: i64,
    created_by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<String, sqlx::Error> {
    sqlx::query("delete from password_tokens where user_id = $1 and used_at is null")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    let token = crate::auth::session::random_token();
    sqlx::query(
        "insert into password_tokens (token_hash, user_id, created_by, created_at, expires_at)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(created_by)
    .bind(now)
    .bind(now + LINK_LIFETIME)
    .execute(&mut *db)
    .await?;
    Ok(token)
}

pub use crate::auth::session::token_hash;

/// An enabled user as the request extractors see one, found by e-mail (for the CLI).
pub async fn enabled_user_by_email(
    pool: &PgPool,
    email: &str,
) -> Result<Option<crate::auth::User>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        email: String,
        name: String,
        role: Role,
        vendor_id: Option<i64>,
        vendor_name: Option<String>,
        time_zone: String,
    }
    let row: Option<Row> = sqlx::query_as(
        "select u.id, u.email, u.name, u.role, u.vendor_id, v.name as vendor_name, u.time_zone
         from users u left join vendors v on v.id = u.vendor_id
         where lower(u.email) = lower($1) and u.disabled_at is null",
    )
    .bind(email.trim())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| crate::auth::User {
        id: r.id,
        email: r.email,
        name: r.name,
        role: r.role,
        vendor: r.vendor_id.map(|v| (v, r.vendor_name.unwrap_or_default())),
        time_zone: r.time_zone,
        inbox: 0,
    }))
}

/// Whose access [`disable`] ends.
#[derive(Debug, Clone, Copy)]
pub enum Disable {
    /// One account, whether or not it is disabled already (its first disable time stays).
    User(i64),
    /// Every enabled account of a vendor.
    VendorUsers(i64),
}

/// What [`disable`] ended.
#[derive(Debug, Default)]
pub struct Disabled {
    pub users: Vec<i64>,
    pub sessions_ended: u64,
}

/// Ends accounts' access: they are disabled (so they cannot sign in, and their calendar feed
/// and set-password links, which read only enabled accounts, stop answering) and every
/// session of theirs ends.
/// User administration, a vendor's exit and an engagement's close all disable through here.
pub async fn disable(
    db: &mut PgConnection,
    who: Disable,
    now: DateTime<Utc>,
) -> Result<Disabled, sqlx::Error> {
    let users: Vec<i64> = match who {
        Disable::User(id) => {
            sqlx::query_scalar(
                "update users set disabled_at = coalesce(disabled_at, $2) where id = $1 returning id",
            )
            .bind(id)
            .bind(now)
            .fetch_all(&mut *db)
            .await?
        }
        Disable::VendorUsers(vendor_id) => {
            sqlx::query_scalar(
                "update users set disabled_at = $2 where vendor_id = $1 and disabled_at is null returning id",
            )
            .bind(vendor_id)
            .bind(now)
            .fetch_all(&mut *db)
            .await?
        }
    };
    let ended = sqlx::query("delete from sessions where user_id = any($1)")
        .bind(&users)
        .execute(&mut *db)
        .await?;
    Ok(Disabled {
        users,
        sessions_ended: ended.rows_affected(),
    })
}

/// The routes of users.
pub fn routes() -> Routes {
    Routes::new()
        .get("/set-password/{token}", invite::show)
        .post("/set-password/{token}", invite::set)
        .get("/admin/users", admin::list)
        .get("/admin/users/new", admin::new)
        .post("/admin/users/new", admin::create)
        .get("/admin/users/{id}", admin::show)
        .post("/admin/users/{id}", admin::update)
        .post("/admin/users/{id}/disable", admin::disable)
        .post("/admin/users/{id}/enable", admin::enable)
        .post("/admin/users/{id}/password-link", admin::password_link)
        .post(
            "/admin/users/{id}/second-factor/reset",
            admin::reset_second_factor,
        )
        .get("/admin/sign-in", admin::sign_in_settings)
        .post("/admin/sign-in", admin::save_sign_in)
        .post("/admin/sign-in/sso", admin::save_sso_rules)
        .get("/admin/service-tokens", admin::service_tokens)
        .post("/admin/service-tokens", admin::create_service_token)
        .post(
            "/admin/service-tokens/{id}/revoke",
            admin::revoke_service_token,
        )
}
