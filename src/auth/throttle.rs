//! Throttling of failed logins, per account and per client address. The counters are rows
//! in PostgreSQL, so the limits hold across several server instances.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

/// Failures within this window count.
pub const WINDOW: Duration = Duration::minutes(15);
/// Failed logins for one e-mail address (known or not) before it is locked for a while.
pub const ACCOUNT_LIMIT: i64 = 5;
/// Failed logins from one client address, whatever the account.
pub const ADDRESS_LIMIT: i64 = 20;

/// Whether a login may be tried now, and if not, for how many more minutes.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Locked { minutes: i64, by_account: bool },
}

#[derive(sqlx::FromRow)]
struct Counts {
    account_failures: i64,
    account_last: Option<DateTime<Utc>>,
    address_failures: i64,
    address_last: Option<DateTime<Utc>>,
}

/// Counts recent failures. An account's count restarts at its last successful login, so a
/// user who gets in is never slowed down by earlier typos.
pub async fn check(
    pool: &PgPool,
    email: &str,
    addr: &str,
    now: DateTime<Utc>,
) -> Result<Verdict, sqlx::Error> {
    let counts: Counts = sqlx::query_as(
        "with account as (
             select attempted_at from login_attempts
             where email = $1 and not succeeded and attempted_at > $3
               and attempted_at > coalesce(
                   (select max(attempted_at) from login_attempts where email = $1 and succeeded),
                   '-infinity')
         ), address as (
             select attempted_at from login_attempts
             where client_addr = $2 and not succeeded and attempted_at > $3
         )
         select (select count(*) from account) as account_failures,
                (select max(attempted_at) from account) as account_last,
                (select count(*) from address) as address_failures,
                (select max(attempted_at) from address) as address_last",
    )
    .bind(email.to_lowercase())
    .bind(addr)
    .bind(now - WINDOW)
    .fetch_one(pool)
    .await?;
    let minutes_left = |last: Option<DateTime<Utc>>| {
        let until = last.unwrap_or(now) + WINDOW;
        ((until - now).num_seconds() + 59).div_euclid(60).max(1)
    };
    Ok(if counts.account_failures >= ACCOUNT_LIMIT {
        Verdict::Locked {
            minutes: minutes_left(counts.account_last),
            by_account: true,
        }
    } else if counts.address_failures >= ADDRESS_LIMIT {
        Verdict::Locked {
            minutes: minutes_left(counts.address_last),
            by_account: false,
        }
    } else {
        Verdict::Allowed
    })
}

pub async fn record(
    pool: &PgPool,
    email: &str,
    addr: &str,
    succeeded: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into login_attempts (email, client_addr, succeeded, attempted_at) values ($1, $2, $3, $4)")
        .bind(email.to_lowercase())
        .bind(addr)
        .bind(succeeded)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}
