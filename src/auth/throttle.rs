//! Throttling of failed logins, per account and per client address. The counters are rows
//! in PostgreSQL, so the limits hold across several server instances, and an attempt is
//! counted before its password is verified, in one statement per counter, so that
//! concurrent attempts cannot all read "below the limit" and all be verified.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// A count restarts once this long has passed since the last attempt it let through.
pub const WINDOW: Duration = Duration::minutes(15);
/// Failed logins for one e-mail address (known or not) before it is locked for a while.
pub const ACCOUNT_LIMIT: i32 = 5;
/// Failed logins from one client address, whatever the account.
pub const ADDRESS_LIMIT: i32 = 20;
/// Wrong second-factor codes for one user before their codes are locked for a while.
pub const CODE_LIMIT: i32 = 5;

/// Whether a login may be tried now, and if not, for how many more minutes.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Locked { minutes: i64, by_account: bool },
}

#[derive(Clone, Copy)]
enum Scope {
    Account,
    Address,
    /// A user's second-factor codes, keyed by the user's id: the password was right, so
    /// the account's count has restarted, and this one must not.
    Code,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::Address => "address",
            Scope::Code => "code",
        }
    }

    fn limit(self) -> i32 {
        match self {
            Scope::Account => ACCOUNT_LIMIT,
            Scope::Address => ADDRESS_LIMIT,
            Scope::Code => CODE_LIMIT,
        }
    }
}

/// An account's counter key: whatever was typed, a short fixed-length key that any index
/// can hold.
fn account_key(email: &str) -> String {
    Sha256::digest(email.trim().to_lowercase().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Takes one attempt from the account's allowance, then from the address's, each in one
/// atomic statement, before the password is verified. An attempt that gets through stays
/// counted as a failure unless [`succeeded`] gives it back; one refused by the address
/// gives the account its attempt back, since no password was tried.
pub async fn admit(
    pool: &PgPool,
    email: &str,
    addr: &str,
    now: DateTime<Utc>,
) -> Result<Verdict, sqlx::Error> {
    let account = account_key(email);
    if let Some(minutes) = take(pool, Scope::Account, &account, now).await? {
        return Ok(Verdict::Locked {
            minutes,
            by_account: true,
        });
    }
    if let Some(minutes) = take(pool, Scope::Address, addr, now).await? {
        give_back(pool, Scope::Account, &account).await?;
        return Ok(Verdict::Locked {
            minutes,
            by_account: false,
        });
    }
    Ok(Verdict::Allowed)
}

/// A successful login: the account's count restarts (a user who gets in is never slowed
/// down by earlier typos), and the address gets back the attempt it lent.
pub async fn succeeded(pool: &PgPool, email: &str, addr: &str) -> Result<(), sqlx::Error> {
    sqlx::query("delete from login_counters where scope = 'account' and key = $1")
        .bind(account_key(email))
        .execute(pool)
        .await?;
    give_back(pool, Scope::Address, addr).await
}

/// Takes one attempt from the user's allowance of second-factor codes, then from the
/// address's, before the code is checked; like [`admit`] for passwords.
pub async fn admit_code(
    pool: &PgPool,
    user_id: i64,
    addr: &str,
    now: DateTime<Utc>,
) -> Result<Verdict, sqlx::Error> {
    let key = user_id.to_string();
    if let Some(minutes) = take(pool, Scope::Code, &key, now).await? {
        return Ok(Verdict::Locked {
            minutes,
            by_account: true,
        });
    }
    if let Some(minutes) = take(pool, Scope::Address, addr, now).await? {
        give_back(pool, Scope::Code, &key).await?;
        return Ok(Verdict::Locked {
            minutes,
            by_account: false,
        });
    }
    Ok(Verdict::Allowed)
}

/// A right code: the user's count restarts and the address gets its attempt back.
pub async fn code_succeeded(pool: &PgPool, user_id: i64, addr: &str) -> Result<(), sqlx::Error> {
    sqlx::query("delete from login_counters where scope = 'code' and key = $1")
        .bind(user_id.to_string())
        .execute(pool)
        .await?;
    give_back(pool, Scope::Address, addr).await
}

/// Counts one attempt; `Some(minutes)` when the limit was already reached. The row lock of
/// the upsert orders concurrent attempts, and each sees the count including its own.
async fn take(
    pool: &PgPool,
    scope: Scope,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    // Attempts past the limit are counted no further and do not move `last_counted_at`,
    // so a lock ends a window after the attempt that reached the limit, however often
    // someone keeps knocking.
    let (attempts, last_counted_at): (i32, DateTime<Utc>) = sqlx::query_as(
        "insert into login_counters as c (scope, key, attempts, last_counted_at)
         values ($1, $2, 1, $3)
         on conflict (scope, key) do update set
             attempts = case when c.last_counted_at <= $4 then 1
                             else least(c.attempts + 1, $5 + 1) end,
             last_counted_at = case when c.last_counted_at <= $4 or c.attempts < $5 then $3
                                    else c.last_counted_at end
         returning attempts, last_counted_at",
    )
    .bind(scope.as_str())
    .bind(key)
    .bind(now)
    .bind(now - WINDOW)
    .bind(scope.limit())
    .fetch_one(pool)
    .await?;
    if attempts <= scope.limit() {
        return Ok(None);
    }
    let seconds_left = (last_counted_at + WINDOW - now).num_seconds();
    Ok(Some((seconds_left + 59).div_euclid(60).max(1)))
}

async fn give_back(pool: &PgPool, scope: Scope, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update login_counters set attempts = greatest(attempts - 1, 0)
         where scope = $1 and key = $2",
    )
    .bind(scope.as_str())
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::account_key;

    #[test]
    fn an_account_key_ignores_case_and_spaces_and_has_a_fixed_length() {
        assert_eq!(
            account_key(" Ann@Example.com "),
            account_key("ann@example.com")
        );
        assert_ne!(
            account_key("ann@example.com"),
            account_key("bob@example.com")
        );
        assert_eq!(account_key(&"x".repeat(6000)).len(), 64);
    }
}
