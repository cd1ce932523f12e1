//! Creating user accounts (the CLI today; the admin pages build on it).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::audit::{self, Outcome};
use crate::auth::{Role, password};

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
    .bind(user.role.as_str())
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
