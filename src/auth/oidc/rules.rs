//! The admins' rules for each e-mail domain the provider serves (table `sso_domains`), and
//! who keeps a password whatever they say (the break-glass admin).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::config::{OidcConfig, domain_of};

/// One domain's rule; a domain without a row is the organisation's, optional, creating nobody.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DomainRule {
    pub domain: String,
    /// A password sign-in of this domain is refused (but for the break-glass admin).
    pub required: bool,
    /// Whose people sign in with it: a vendor's, or the organisation's (`None`).
    pub vendor_id: Option<i64>,
    /// An unknown person of this domain becomes a manager at their first sign-in.
    pub create_managers: bool,
}

impl DomainRule {
    fn default_for(domain: &str) -> DomainRule {
        DomainRule {
            domain: domain.to_string(),
            required: false,
            vendor_id: None,
            create_managers: false,
        }
    }
}

/// The rule of every configured domain, in the configuration's order.
pub async fn all(db: &mut PgConnection, oidc: &OidcConfig) -> Result<Vec<DomainRule>, sqlx::Error> {
    let stored: Vec<DomainRule> = sqlx::query_as(
        "select domain, required, vendor_id, create_managers from sso_domains
         where domain = any($1)",
    )
    .bind(&oidc.domains)
    .fetch_all(&mut *db)
    .await?;
    Ok(oidc
        .domains
        .iter()
        .map(|d| {
            stored
                .iter()
                .find(|r| r.domain == *d)
                .cloned()
                .unwrap_or_else(|| DomainRule::default_for(d))
        })
        .collect())
}

/// The rule for `email`'s domain, when the provider serves it.
pub async fn of_email(
    db: &mut PgConnection,
    oidc: &OidcConfig,
    email: &str,
) -> Result<Option<DomainRule>, sqlx::Error> {
    let Some(domain) = domain_of(email).filter(|d| oidc.domains.contains(d)) else {
        return Ok(None);
    };
    let stored: Option<DomainRule> = sqlx::query_as(
        "select domain, required, vendor_id, create_managers from sso_domains where domain = $1",
    )
    .bind(&domain)
    .fetch_optional(&mut *db)
    .await?;
    Ok(Some(
        stored.unwrap_or_else(|| DomainRule::default_for(&domain)),
    ))
}

/// Stores the rules (of configured domains only); a vendor that is gone makes the row fail
/// its foreign key, which the caller has checked against first.
pub async fn save(
    db: &mut PgConnection,
    rules: &[DomainRule],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // Cleared first, so that moving "create managers" from one domain to another never meets
    // the one-domain index half-way.
    sqlx::query("update sso_domains set create_managers = false")
        .execute(&mut *db)
        .await?;
    for rule in rules {
        sqlx::query(
            "insert into sso_domains (domain, required, vendor_id, create_managers, updated_at)
             values ($1, $2, $3, $4, $5)
             on conflict (domain) do update set required = $2, vendor_id = $3,
                 create_managers = $4, updated_at = $5",
        )
        .bind(&rule.domain)
        .bind(rule.required)
        .bind(rule.vendor_id)
        .bind(rule.create_managers)
        .bind(now)
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

/// The account that always keeps its password: the enabled admin with a password who was
/// created first (the lowest id).
pub async fn break_glass_admin(db: &mut PgConnection) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "select min(id) from users
         where role = 'admin' and disabled_at is null and password_hash is not null
           and not service_account",
    )
    .fetch_one(db)
    .await
}

/// Whether a password sign-in as `email` (the account `account_id`, when there is one) is
/// refused because the domain requires single sign-on.
pub async fn password_refused(
    pool: &sqlx::PgPool,
    oidc: Option<&OidcConfig>,
    email: &str,
    account_id: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let Some(oidc) = oidc else { return Ok(false) };
    let mut db = pool.acquire().await?;
    let Some(rule) = of_email(&mut db, oidc, email).await? else {
        return Ok(false);
    };
    if !rule.required {
        return Ok(false);
    }
    let keeper = break_glass_admin(&mut db).await?;
    Ok(account_id.is_none() || keeper != account_id)
}
