//! The reminder rules and the refresh a write asks for. The rules are one set-based
//! statement (see `rules`); the scheduler's pass runs them over every engagement, and a write
//! runs them at once for the engagement it changed, so the inbox shows the change on the next
//! page. They sit below the features, which call [`refresh`] after their writes.

pub mod rules;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::state::AppState;

/// After a write that may change what is due for one engagement: its reminders are raised or
/// resolved at once, so the inbox shows the change on the next page. A failure is logged and
/// left to the next pass, never shown to the person who made the change.
pub async fn refresh(state: &AppState, engagement_id: i64) {
    let result = run(
        &state.pool,
        state.clock.now(),
        Some(engagement_id),
        &state.config.instance,
        state.config.smtp_url.is_some(),
        None,
    )
    .await;
    if let Err(e) = result {
        tracing::warn!(engagement_id, error = %e, "reminders not refreshed; the next pass will");
    }
}

/// Runs the rules in one transaction: over every engagement, or only `engagement`.
pub async fn run(
    pool: &PgPool,
    now: DateTime<Utc>,
    engagement: Option<i64>,
    instance: &str,
    email: bool,
    written_since: Option<DateTime<Utc>>,
) -> anyhow::Result<rules::Outcome> {
    let mut tx = pool.begin().await?;
    // A pass over every engagement may take longer than a page's statement timeout. JIT
    // compiling the large statement would cost seconds and save nothing.
    sqlx::query("set local statement_timeout = '60s'")
        .execute(&mut *tx)
        .await?;
    sqlx::query("set local jit = off").execute(&mut *tx).await?;
    // A pass over every KPI hashes and sorts a few hundred thousand rows: in memory, not in
    // temporary files.
    sqlx::query("set local work_mem = '32MB'")
        .execute(&mut *tx)
        .await?;
    let outcome = rules::apply(&mut tx, now, engagement, instance, email, written_since).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Hides a reminder from one person's inbox; false when they have no such item.
pub async fn dismiss(
    db: &mut PgConnection,
    reminder_id: i64,
    user_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let found: Option<bool> = sqlx::query_scalar(
        "update inbox_items set dismissed_at = coalesce(dismissed_at, $3)
         where reminder_id = $1 and user_id = $2 returning true",
    )
    .bind(reminder_id)
    .bind(user_id)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// Hides a reminder from one person's inbox until `until`; false when they have no such item.
pub async fn snooze(
    db: &mut PgConnection,
    reminder_id: i64,
    user_id: i64,
    until: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let found: Option<bool> = sqlx::query_scalar(
        "update inbox_items set snoozed_until = $3 where reminder_id = $1 and user_id = $2 returning true",
    )
    .bind(reminder_id)
    .bind(user_id)
    .bind(until)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// Marks a reminder done for everyone (a celebration taken up, say); returns its title.
pub async fn resolve(
    db: &mut PgConnection,
    reminder_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<String> {
    sqlx::query_scalar(
        "update reminders set resolved_at = coalesce(resolved_at, $2) where id = $1 returning title",
    )
    .bind(reminder_id)
    .bind(now)
    .fetch_one(db)
    .await
}

/// Plans again the e-mail waiting for one person, after their working hours changed.
pub async fn replan_mail(db: &mut PgConnection, user_id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "update inbox_items set deliver_after = null where user_id = $1 and email_state = 'pending'",
    )
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(())
}
