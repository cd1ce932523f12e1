//! The reminder rules and the refresh a write asks for. The rules are one set-based
//! statement (see `rules`); the scheduler's pass runs them over every engagement, and a write
//! runs them at once for the engagement it changed, so the inbox shows the change on the next
//! page. They sit below the features, which call [`refresh`] after their writes.

pub mod rules;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

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
    let outcome = rules::apply(&mut tx, now, engagement, instance, email, written_since).await?;
    tx.commit().await?;
    Ok(outcome)
}
