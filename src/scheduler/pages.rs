//! The admin scheduler page: the last pass of each instance, how long it took and what it
//! raised and resolved, the outbox's depth and its failed messages with their errors.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, Redirect};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::audit::Outcome;
use crate::auth::policy::Admin;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::Change;
use crate::web::error::{AppError, Result};
use crate::web::form::{Form, Pairs};
use crate::web::layout::{Flash, Layout};
use crate::web::routes::Routes;

#[derive(sqlx::FromRow)]
struct LastPass {
    instance: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    duration_ms: Option<i32>,
    raised: Option<i32>,
    resolved: Option<i32>,
    error: Option<String>,
    passes_today: i64,
}

#[derive(sqlx::FromRow, Default)]
struct Depth {
    open_reminders: i64,
    waiting_for_hour: i64,
    queued: i64,
    retrying: i64,
    sent_today: i64,
    failed: i64,
}

#[derive(sqlx::FromRow)]
struct Failed {
    id: Uuid,
    to_address: String,
    subject: String,
    attempts: i32,
    failed_at: DateTime<Utc>,
    last_error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/scheduler.html")]
struct SchedulerPage {
    layout: Layout,
    passes: Vec<LastPass>,
    depth: Depth,
    failed: Vec<Failed>,
    interval: String,
    smtp: bool,
    zone: chrono_tz::Tz,
}

impl SchedulerPage {
    fn when(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }
}

pub async fn show(State(state): State<AppState>, Admin(current): Admin) -> Result<Html<String>> {
    let now = state.clock.now();
    let mut conn = state.pool.acquire().await?;
    let passes: Vec<LastPass> = sqlx::query_as(
        "select distinct on (instance) instance, started_at, finished_at, duration_ms, raised, resolved, error,
                count(*) over (partition by instance) as passes_today
         from scheduler_passes
         where started_at > $1 - interval '1 day'
         order by instance, started_at desc",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let depth: Depth = sqlx::query_as(
        "select (select count(*) from reminders where resolved_at is null) as open_reminders,
                (select count(*) from inbox_items where email_state = 'pending') as waiting_for_hour,
                count(*) filter (where sent_at is null and failed_at is null and attempts = 0) as queued,
                count(*) filter (where sent_at is null and failed_at is null and attempts > 0) as retrying,
                count(*) filter (where sent_at > $1 - interval '1 day') as sent_today,
                count(*) filter (where failed_at is not null) as failed
         from outbox
         where sent_at is null or sent_at > $1 - interval '1 day'",
    )
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let failed: Vec<Failed> = sqlx::query_as(
        "select id, to_address, subject, attempts, failed_at, last_error
         from outbox where failed_at is not null order by failed_at desc limit 50",
    )
    .fetch_all(&mut *conn)
    .await?;
    let page = SchedulerPage {
        layout: Layout::new(&current.session, "Scheduler", "/admin/scheduler"),
        passes,
        depth,
        failed,
        interval: match state.config.scheduler_interval {
            Some(every) => format!("every {} seconds", every.as_secs()),
            None => "switched off".into(),
        },
        smtp: state.config.smtp_url.is_some(),
        zone: current.zone(state.config.time_zone),
    };
    Ok(Html(page.render()?))
}

/// Runs a pass now, on this instance.
pub async fn run_now(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(_): Form<Pairs>,
) -> Result<Redirect> {
    let report = super::pass(&state).await.map_err(AppError::Internal)?;
    let mut change = Change::begin(&state, &current, addr).await?;
    let entry = change
        .entry("scheduler.run", Outcome::Success)
        .details(serde_json::json!({
            "raised": report.rules.raised, "resolved": report.rules.resolved,
            "ms": report.duration.as_millis() as u64,
        }));
    change.record(entry).await?;
    change
        .flash(Flash::success(format!(
            "Pass done in {} ms: {} raised, {} resolved.",
            report.duration.as_millis(),
            report.rules.raised,
            report.rules.resolved
        )))
        .await?;
    change.commit().await?;
    Ok(Redirect::to("/admin/scheduler"))
}

/// Gives a failed message a fresh set of attempts (same Message-ID).
pub async fn retry(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    axum::extract::Path(id): axum::extract::Path<String>,
    Form(_): Form<Pairs>,
) -> Result<Redirect> {
    let id = Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    let mut change = Change::begin(&state, &current, addr).await?;
    let to: String = sqlx::query_scalar(
        "update outbox set failed_at = null, attempts = 0, next_attempt_at = $2
         where id = $1 and failed_at is not null returning to_address",
    )
    .bind(id)
    .bind(change.now)
    .fetch_optional(change.db())
    .await?
    .ok_or(AppError::NotFound)?;
    let entry = change
        .entry("outbox.retry", Outcome::Success)
        .target(format!("outbox:{id}"));
    change.record(entry).await?;
    change
        .flash(Flash::success(format!(
            "The message to {to} will be sent again."
        )))
        .await?;
    change.commit().await?;
    Ok(Redirect::to("/admin/scheduler"))
}

/// The routes of the scheduler's admin page.
pub fn routes() -> Routes {
    Routes::new()
        .get("/admin/scheduler", show)
        .post("/admin/scheduler/run", run_now)
        .post("/admin/outbox/{id}/retry", retry)
}
