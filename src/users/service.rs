//! Service accounts: users that are no person. Each holds service tokens an admin made,
//! with the rights of its role — a manager's, or a vendor user's of its one vendor — so a
//! token has exactly its owner's rights and disabling the account (or its vendor's exit)
//! stops its tokens at once. A service account has no password and never gets one: it
//! cannot sign in, receives no reminders or e-mail, and counts as nobody's seat.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::auth::Role;

/// What a new service account's rights are bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// The organisation's manager role: reads every vendor and engagement, writes where it
    /// is made an engagement manager.
    Manager,
    /// One vendor, with a vendor user's rights.
    Vendor(i64),
}

impl Binding {
    pub fn role(self) -> Role {
        match self {
            Binding::Manager => Role::Manager,
            Binding::Vendor(_) => Role::Vendor,
        }
    }

    pub fn vendor_id(self) -> Option<i64> {
        match self {
            Binding::Manager => None,
            Binding::Vendor(id) => Some(id),
        }
    }
}

/// The domain no mail is ever delivered to (RFC 2606): a service account's address is
/// only a unique key, never a mailbox.
const NO_MAILBOX: &str = "service.invalid";

/// Creates a service account named `name` with the rights of `binding`, in the caller's
/// transaction; its e-mail address is a unique placeholder under `.invalid`.
pub async fn create_account(
    db: &mut PgConnection,
    name: &str,
    binding: Binding,
    time_zone: &str,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let key = uuid::Uuid::new_v4().simple().to_string();
    sqlx::query_scalar(
        "insert into users (email, name, role, vendor_id, time_zone, service_account, created_at)
         values ($1, $2, $3, $4, $5, true, $6) returning id",
    )
    .bind(format!("service-{}@{NO_MAILBOX}", &key[..16]))
    .bind(name)
    .bind(binding.role())
    .bind(binding.vendor_id())
    .bind(time_zone)
    .bind(now)
    .fetch_one(db)
    .await
}

/// An enabled service account, as the service-token form offers it for a further token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServiceAccount {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub vendor_name: Option<String>,
}

/// The enabled service accounts, by name.
pub async fn enabled_accounts(db: &mut PgConnection) -> Result<Vec<ServiceAccount>, sqlx::Error> {
    sqlx::query_as(
        "select u.id, u.name, u.role, v.name as vendor_name
         from users u left join vendors v on v.id = u.vendor_id
         where u.service_account and u.disabled_at is null
         order by lower(u.name), u.id",
    )
    .fetch_all(db)
    .await
}

/// Whether `user_id` is a service account.
pub async fn is_service_account(db: &mut PgConnection, user_id: i64) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query_scalar::<_, bool>("select service_account from users where id = $1")
            .bind(user_id)
            .fetch_optional(db)
            .await?
            .unwrap_or(false),
    )
}
