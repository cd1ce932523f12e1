//! The scheduler: a pass every few seconds raises the reminders and notices of `reminders`,
//! resolves the ones whose condition cleared, keeps the portfolio's scores warm and clears out
//! dead sessions; then the delivery worker e-mails what is due. Every instance runs one; the
//! dedupe keys and `FOR UPDATE SKIP LOCKED` keep the effects exactly-once between them.

pub mod mail;
pub mod pages;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::state::AppState;

/// What the admin page and the log say of one pass.
#[derive(Debug, Clone, Copy)]
pub struct PassReport {
    pub rules: crate::reminders::rules::Outcome,
    pub duration: Duration,
}

/// One pass over every active engagement, recorded in `scheduler_passes` with the time it
/// took, its housekeeping included (a pass whose instance died stays there unfinished), and
/// in the metrics.
pub async fn pass(state: &AppState) -> anyhow::Result<PassReport> {
    let result = run_pass(state).await;
    let changed = result
        .as_ref()
        .ok()
        .map(|r| (r.rules.raised, r.rules.resolved));
    let took = result.as_ref().map_or(Duration::ZERO, |r| r.duration);
    state.metrics.observe_pass(took, changed);
    result
}

async fn run_pass(state: &AppState) -> anyhow::Result<PassReport> {
    let started = Instant::now();
    let now = state.clock.now();
    let instance = &state.config.instance;
    let pass_id: i64 = sqlx::query_scalar(
        "insert into scheduler_passes (instance, started_at) values ($1, $2) returning id",
    )
    .bind(instance)
    .bind(now)
    .fetch_one(&state.pool)
    .await?;
    let email = state.config.smtp_url.is_some();
    // The contracts whose term rolled over get their next notice day before the rules read it.
    crate::engagements::refresh_contracts(&mut *state.pool.acquire().await?, now, None)
        .await
        .map_err(|e| anyhow::anyhow!("refreshing the contracts' dates: {e:?}"))?;
    // The rules and the portfolio's scores read and write tables apart: they run side by
    // side, each on a connection of its own.
    let rules = async {
        let since = written_since(state).await?;
        crate::reminders::run(&state.pool, now, None, instance, email, since).await
    };
    let (outcome, scores) = tokio::join!(rules, refresh_scores(state, now));
    let rules_took = started.elapsed();
    let rest = match (&outcome, scores) {
        (Ok(rules), Ok(())) => after_rules(state, now, rules).await,
        (_, Err(e)) => Err(e),
        (Err(_), Ok(())) => Ok(()),
    };
    let duration = started.elapsed();
    tracing::debug!(
        rules_ms = rules_took.as_millis() as u64,
        rest_ms = (duration - rules_took).as_millis() as u64,
        "scheduler pass timed"
    );
    let counts = outcome.as_ref().ok();
    let error = match (&outcome, &rest) {
        (Err(e), _) | (Ok(_), Err(e)) => Some(e.to_string()),
        _ => None,
    };
    sqlx::query(
        "update scheduler_passes
         set finished_at = $2, duration_ms = $3, raised = $4, resolved = $5, error = $6
         where id = $1",
    )
    .bind(pass_id)
    .bind(state.clock.now())
    .bind(i32::try_from(duration.as_millis()).unwrap_or(i32::MAX))
    .bind(counts.map(|r| i32::try_from(r.raised).unwrap_or(i32::MAX)))
    .bind(counts.map(|r| i32::try_from(r.resolved).unwrap_or(i32::MAX)))
    .bind(error)
    .execute(&state.pool)
    .await?;
    let rules = outcome?;
    rest?;
    Ok(PassReport { rules, duration })
}

/// What follows the rules in a pass: fresh statistics after many new rows, which keep the
/// next passes' plans right (autovacuum would get there too, a minute or so later), then
/// the housekeeping.
async fn after_rules(
    state: &AppState,
    now: DateTime<Utc>,
    rules: &crate::reminders::rules::Outcome,
) -> anyhow::Result<()> {
    if rules.raised + rules.delivered > 1000 {
        sqlx::query("analyze reminders, inbox_items")
            .execute(&state.pool)
            .await?;
    }
    housekeeping(state, now).await
}

/// Past this many values and terms written since the last pass, a pass looks at every KPI
/// for celebrations: one scan of the latest periods' values costs less than finding the KPIs
/// written and looking each one up.
const MASS_WRITE: i64 = 10_000;

/// Writes older than the last finished pass (less a margin for requests that were still
/// running then: a request is cut off after 30 s) were seen by it. `None` (look at every KPI)
/// before the first pass and after a mass write.
async fn written_since(state: &AppState) -> anyhow::Result<Option<DateTime<Utc>>> {
    let since: Option<DateTime<Utc>> = sqlx::query_scalar(
        "select s.since
         from (select max(started_at) - interval '1 minute' as since from scheduler_passes
               where finished_at is not null and error is null) s
         where (select count(*) from (
                    (select 1 from kpi_values v where v.recorded_at >= s.since limit $1)
                    union all (select 1 from kpi_values v where v.reviewed_at >= s.since limit $1)
                    union all (select 1 from kpi_terms t where t.changed_at >= s.since limit $1)) w) < $1",
    )
    .bind(MASS_WRITE)
    .fetch_optional(&state.pool)
    .await?
    .flatten();
    Ok(since)
}

/// The portfolio's stored scores, a batch of them worked out on each pass so that the first
/// person of the day seldom waits for them; the portfolio refreshes whatever is still stale.
async fn refresh_scores(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<()> {
    let mut conn = state.pool.acquire().await?;
    let started = Instant::now();
    crate::scorecard::refresh_some_scores(&mut conn, now)
        .await
        .map_err(|e| anyhow::anyhow!("refreshing the portfolio's scores: {e:?}"))?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "portfolio scores refreshed"
    );
    Ok(())
}

/// Work that rides on the pass: expired sessions, stale login counters and old pass records.
async fn housekeeping(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<()> {
    let mut conn = state.pool.acquire().await?;
    let absolute = chrono::Duration::from_std(state.config.session_absolute)
        .unwrap_or(chrono::Duration::hours(12));
    let idle =
        chrono::Duration::from_std(state.config.session_idle).unwrap_or(chrono::Duration::hours(1));
    sqlx::query("delete from sessions where created_at < $1 or last_seen_at < $2")
        .bind(now - absolute)
        .bind(now - idle)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from login_counters where last_counted_at < $1")
        .bind(now - chrono::Duration::days(1))
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from scheduler_passes where started_at < $1")
        .bind(now - chrono::Duration::days(7))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Runs passes and deliveries every `config.scheduler_interval` until `stop` changes. A
/// failing pass is logged and tried again at the next tick.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let Some(every) = state.config.scheduler_interval else {
        tracing::info!("scheduler switched off on this instance");
        return;
    };
    let mailer = match mail::Mailer::from_config(&state.config) {
        Ok(mailer) => mailer,
        Err(e) => {
            tracing::error!(error = %e, "SMTP_URL cannot be used; e-mail is not sent");
            None
        }
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => break,
        }
        match pass(&state).await {
            Ok(report) => tracing::info!(
                raised = report.rules.raised,
                resolved = report.rules.resolved,
                ms = report.duration.as_millis() as u64,
                "scheduler pass"
            ),
            Err(e) => tracing::error!(error = %e, "scheduler pass failed"),
        }
        if let Some(mailer) = &mailer
            && let Err(e) = mail::deliver(&state, mailer).await
        {
            tracing::error!(error = %e, "e-mail delivery failed");
        }
    }
    tracing::info!("scheduler stopped");
}
