//! Evaluate and adapt: the periodic review of an engagement. Starting one snapshots what is
//! true then (scorecard, check-in health, feedback, findings, proposals) so the review keeps
//! showing it; the manager writes what works, what to improve and the decision, and may
//! apply an adaptation (a cadence, a KPI's terms, the touch cap) in one step. Completing it
//! sets the next review due. Vendor users read completed reviews: the decision, summary and
//! adaptations, never the internal notes; the snapshot keeps what each side saw, and a
//! vendor user reads only the vendor's part (`crate::visibility`).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::audit::{self, Outcome};
use crate::auth::{CurrentUser, session};
use crate::choice;
use crate::engagements::cadence::{CheckinCadence, ReviewCadence};
use crate::engagements::{Access, access};
use crate::engagements::{KpiLine, check_terms, decimal, with_unit};
use crate::period::Period;
use crate::proposals::Proactivity;
use crate::scorecard::{ScoreSnapshot, snapshot};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::routes::Routes;
use crate::web::validate;

choice!(pub Decision {
    Continue = "continue" / "Continue",
    Adapt = "adapt" / "Adapt",
    Escalate = "escalate" / "Escalate",
    Exit = "exit" / "Exit",
});

/// What was true when the review started.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    pub scorecard: ScoreSnapshot,
    /// What the organisation's people saw: every check-in, feedback and finding. Kept at the
    /// top level, where reviews started before there were two parts keep it too.
    #[serde(flatten)]
    pub organisation: Seen,
    /// What the vendor's users saw; `None` in reviews started before it was kept apart.
    pub vendor: Option<Seen>,
    pub proposals_open: i64,
    pub proactivity: Proactivity,
}

/// Check-ins, feedback and findings as one side saw them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Seen {
    /// The last check-ins' health, newest first.
    pub health: Vec<(NaiveDate, String)>,
    pub praise: i64,
    pub criticism: i64,
    pub findings_open: i64,
    pub findings_overdue: i64,
}

impl Snapshot {
    pub fn score_text(&self) -> String {
        self.scorecard
            .score
            .map_or_else(|| "No data".to_string(), |s| s.to_string())
    }

    /// The part a reader sees: a vendor user the vendor's only.
    pub fn seen(&self, for_vendor: bool) -> Option<&Seen> {
        if for_vendor {
            self.vendor.as_ref()
        } else {
            Some(&self.organisation)
        }
    }
}

impl Seen {
    pub fn health_text(&self) -> String {
        if self.health.is_empty() {
            return "No check-ins yet.".into();
        }
        self.health
            .iter()
            .map(|(day, h)| {
                format!(
                    "{day} {} {}",
                    crate::checkins::health_symbol(h),
                    crate::checkins::health_label(h)
                )
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

#[derive(sqlx::FromRow)]
struct Counts {
    praise: i64,
    criticism: i64,
    findings_open: i64,
    findings_overdue: i64,
}

#[derive(sqlx::FromRow)]
struct ProposalCounts {
    proposals_open: i64,
    raised: i64,
    accepted: i64,
}

/// Check-ins, feedback and findings as the organisation (`for_vendor` false) or the vendor
/// sees them, through the `visible_*` functions.
async fn seen(
    db: &mut PgConnection,
    engagement_id: i64,
    since: DateTime<Utc>,
    today: NaiveDate,
    for_vendor: bool,
) -> Result<Seen> {
    let health: Vec<(NaiveDate, String)> = sqlx::query_as(
        "select held_on, health from visible_checkins($2) where engagement_id = $1
         order by held_on desc, id desc limit 6",
    )
    .bind(engagement_id)
    .bind(for_vendor)
    .fetch_all(&mut *db)
    .await?;
    let counts: Counts = sqlx::query_as(
        "select f.praise, f.criticism, d.findings_open, d.findings_overdue
         from (select count(*) filter (where kind = 'praise') as praise,
                      count(*) filter (where kind <> 'praise') as criticism
               from visible_feedback($4) where engagement_id = $1 and created_at >= $2) f,
              (select count(*) as findings_open, count(*) filter (where due_on < $3) as findings_overdue
               from visible_findings($4) where engagement_id = $1 and status in ('open', 'answered')) d",
    )
    .bind(engagement_id)
    .bind(since)
    .bind(today)
    .bind(for_vendor)
    .fetch_one(&mut *db)
    .await?;
    Ok(Seen {
        health,
        praise: counts.praise,
        criticism: counts.criticism,
        findings_open: counts.findings_open,
        findings_overdue: counts.findings_overdue,
    })
}

pub async fn take_snapshot(
    db: &mut PgConnection,
    engagement_id: i64,
    period: &Period,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Snapshot> {
    let scorecard = snapshot(db, engagement_id, period, today).await?;
    let since = now - chrono::Duration::days(90);
    let organisation = seen(db, engagement_id, since, today, false).await?;
    let vendor = seen(db, engagement_id, since, today, true).await?;
    // Proposals are the vendor's own: both sides see them all.
    let counts: ProposalCounts = sqlx::query_as(
        "select count(*) filter (where status in ('open', 'needs_information')) as proposals_open,
                count(*) filter (where raised_at >= $2) as raised,
                count(*) filter (where raised_at >= $2 and status in ('accepted', 'done')) as accepted
         from proposals where engagement_id = $1",
    )
    .bind(engagement_id)
    .bind(since)
    .fetch_one(&mut *db)
    .await?;
    Ok(Snapshot {
        scorecard,
        organisation,
        vendor: Some(vendor),
        proposals_open: counts.proposals_open,
        proactivity: Proactivity {
            raised: counts.raised,
            accepted: counts.accepted,
        },
    })
}

#[derive(sqlx::FromRow)]
pub struct ReviewRow {
    pub id: i64,
    pub engagement_id: i64,
    pub period_label: String,
    pub status: String,
    pub snapshot: Json<Snapshot>,
    pub what_works: String,
    pub what_to_improve: String,
    pub decision: Option<String>,
    pub summary: String,
    pub internal_notes: String,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub completed_by: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl ReviewRow {
    pub fn decision_label(&self) -> &'static str {
        self.decision
            .as_deref()
            .and_then(Decision::parse)
            .map_or("In progress", Decision::label)
    }
}

const REVIEW_COLUMNS: &str = "r.id, r.engagement_id, r.period_label, r.status, r.snapshot, r.what_works, r.what_to_improve,
     r.decision, r.summary, r.internal_notes, s.name as started_by, r.started_at, c.name as completed_by, r.completed_at";

#[derive(sqlx::FromRow)]
pub struct AdaptationRow {
    pub description: String,
    pub effective_from: NaiveDate,
    pub applied_by: String,
    pub applied_at: DateTime<Utc>,
}

#[derive(Template)]
#[template(path = "reviews/list.html")]
struct ListPage {
    layout: Layout,
    access: Access,
    reviews: Vec<ReviewRow>,
    periods: Vec<String>,
    next_review_due: Option<NaiveDate>,
    today: NaiveDate,
}

pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let access = access(&mut conn, &current.user, id).await?;
    let reviews: Vec<ReviewRow> = sqlx::query_as(&format!(
        "select {REVIEW_COLUMNS} from visible_reviews($2) r
         join users s on s.id = r.started_by left join users c on c.id = r.completed_by
         where r.engagement_id = $1
         order by r.period_start desc"
    ))
    .bind(id)
    .bind(access.is_vendor)
    .fetch_all(&mut *conn)
    .await?;
    let periods = if access.can_manage {
        access
            .closed_periods(&state.clock)
            .iter()
            .map(Period::label)
            .collect()
    } else {
        Vec::new()
    };
    let next_review_due: Option<NaiveDate> =
        sqlx::query_scalar("select next_review_due from engagements where id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    let page = ListPage {
        layout: Layout::new(
            &current.session,
            format!("Reviews: {}", access.name),
            "/engagements",
        ),
        today: state.clock.today(access.zone()),
        access,
        reviews,
        periods,
        next_review_due,
    };
    Ok(Html(page.render()?))
}

/// Starts the review of a closed period, or opens the one already started.
pub async fn start(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let access = access(&mut tx, &current.user, id).await?;
    access.require_manage()?;
    let periods = access.closed_periods(&state.clock);
    let Some(period) = periods
        .iter()
        .find(|p| p.label() == form.get("period"))
        .copied()
    else {
        return Err(AppError::BadRequest(
            "Choose one of the last twelve closed periods to review.".into(),
        ));
    };
    let existing: Option<i64> =
        sqlx::query_scalar("select id from reviews where engagement_id = $1 and period_start = $2")
            .bind(id)
            .bind(period.start)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(review) = existing {
        return Ok(Redirect::to(&format!("/reviews/{review}")).into_response());
    }
    let today = state.clock.today(access.zone());
    let snapshot = take_snapshot(&mut tx, id, &period, today, now).await?;
    let review: Option<i64> = sqlx::query_scalar(
        "insert into reviews (engagement_id, period_start, period_label, snapshot, started_by, started_at)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (engagement_id, period_start) do nothing returning id",
    )
    .bind(id)
    .bind(period.start)
    .bind(period.label())
    .bind(Json(&snapshot))
    .bind(current.user.id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(review) = review else {
        // Started by someone else a moment ago: open theirs.
        tx.rollback().await?;
        let review: i64 = sqlx::query_scalar(
            "select id from reviews where engagement_id = $1 and period_start = $2",
        )
        .bind(id)
        .bind(period.start)
        .fetch_one(&state.pool)
        .await?;
        return Ok(Redirect::to(&format!("/reviews/{review}")).into_response());
    };
    audit::Entry::by(&current.user, "review.start", Outcome::Success)
        .target(format!("engagement:{id}"))
        .client_addr(addr)
        .details(serde_json::json!({ "review_id": review, "period": period.label() }))
        .write(&mut *tx, now)
        .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/reviews/{review}")).into_response())
}

#[derive(Template)]
#[template(path = "reviews/show.html")]
struct ShowPage {
    layout: Layout,
    access: Access,
    review: ReviewRow,
    adaptations: Vec<AdaptationRow>,
    kpis: Vec<KpiLine>,
    cadences: Cadences,
    touch_cap: i32,
    next_period: String,
    zone: chrono_tz::Tz,
    form: Pairs,
    errors: FieldErrors,
}

#[derive(sqlx::FromRow)]
struct Cadences {
    checkin_cadence: String,
    review_cadence: String,
    audit_cadence: String,
}

impl ShowPage {
    fn when(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    fn decision_options(&self) -> Vec<(String, String)> {
        Decision::options_with_prompt()
    }

    /// The snapshot's part this reader may see.
    fn seen(&self) -> Option<&Seen> {
        self.review.snapshot.0.seen(self.access.is_vendor)
    }

    fn value(&self, field: &str) -> String {
        match self.form.get(field) {
            "" => match field {
                "what_works" => self.review.what_works.clone(),
                "what_to_improve" => self.review.what_to_improve.clone(),
                "decision" => self.review.decision.clone().unwrap_or_default(),
                "summary" => self.review.summary.clone(),
                "internal_notes" => self.review.internal_notes.clone(),
                _ => String::new(),
            },
            typed => typed.to_string(),
        }
    }

    fn cadence_options(&self) -> Vec<(String, String)> {
        let c = &self.cadences;
        let mut options = vec![(String::new(), "Choose".to_string())];
        for cadence in CheckinCadence::ALL {
            if cadence.as_str() != c.checkin_cadence {
                options.push((
                    format!("checkin_cadence:{}", cadence.as_str()),
                    format!("Check-ins: {}", cadence.label().to_lowercase()),
                ));
            }
        }
        for (field, current, name) in [
            ("review_cadence", &c.review_cadence, "Reviews"),
            ("audit_cadence", &c.audit_cadence, "Audits"),
        ] {
            for cadence in ReviewCadence::ALL {
                if cadence.as_str() != current {
                    options.push((
                        format!("{field}:{}", cadence.as_str()),
                        format!("{name}: {}", cadence.label().to_lowercase()),
                    ));
                }
            }
        }
        options
    }

    fn kpi_options(&self) -> Vec<(String, String)> {
        let mut options = vec![(String::new(), "Choose a KPI".to_string())];
        options.extend(self.kpis.iter().filter(|k| k.active).map(|k| {
            (
                k.id.to_string(),
                format!(
                    "{} (target {}, threshold {})",
                    k.name,
                    k.target_text(),
                    k.threshold_text()
                ),
            )
        }));
        options
    }
}

/// A review as `for_vendor` says the reader may see it (`crate::visibility`).
async fn load_review(db: &mut PgConnection, review: i64, for_vendor: bool) -> Result<ReviewRow> {
    sqlx::query_as(&format!(
        "select {REVIEW_COLUMNS} from visible_reviews($2) r
         join users s on s.id = r.started_by left join users c on c.id = r.completed_by
         where r.id = $1"
    ))
    .bind(review)
    .bind(for_vendor)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)
}

/// A review as `current` may see it: a vendor user only completed ones of their vendor.
async fn visible(
    db: &mut PgConnection,
    current: &CurrentUser,
    review_id: i64,
) -> Result<(ReviewRow, Access)> {
    let review = load_review(db, review_id, crate::visibility::for_vendor(&current.user)).await?;
    let access = access(db, &current.user, review.engagement_id).await?;
    Ok((review, access))
}

async fn show_page(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    review_id: i64,
    form: Pairs,
    errors: FieldErrors,
) -> Result<ShowPage> {
    let (review, access) = visible(db, current, review_id).await?;
    let adaptations = sqlx::query_as(
        "select a.description, a.effective_from, u.name as applied_by, a.applied_at
         from review_adaptations a join users u on u.id = a.applied_by
         where a.review_id = $1 order by a.applied_at, a.id",
    )
    .bind(review_id)
    .fetch_all(&mut *db)
    .await?;
    let today = state.clock.today(access.zone());
    let (kpis, cadences, touch_cap, next_period) = if access.can_manage {
        let kpis = crate::engagements::kpis::lines(db, access.id, today).await?;
        let cadences: Cadences = sqlx::query_as(
            "select checkin_cadence, review_cadence, audit_cadence from engagements where id = $1",
        )
        .bind(access.id)
        .fetch_one(&mut *db)
        .await?;
        let cap: i32 =
            sqlx::query_scalar("select weekly_touch_cap from boundaries where engagement_id = $1")
                .bind(access.id)
                .fetch_optional(&mut *db)
                .await?
                .unwrap_or(3);
        let next = next_period_of(&access, today);
        (kpis, cadences, cap, next.label())
    } else {
        let none = Cadences {
            checkin_cadence: String::new(),
            review_cadence: String::new(),
            audit_cadence: String::new(),
        };
        (Vec::new(), none, 0, String::new())
    };
    Ok(ShowPage {
        layout: Layout::new(
            &current.session,
            format!("Review {}: {}", review.period_label, access.name),
            "/engagements",
        ),
        zone: current.zone(state.config.time_zone),
        access,
        review,
        adaptations,
        kpis,
        cadences,
        touch_cap,
        next_period,
        form,
        errors,
    })
}

/// The period after the one running today: where a review's change of terms starts.
fn next_period_of(access: &Access, today: NaiveDate) -> Period {
    Period::containing(access.period_kind(), today).next()
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(review): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let form = Pairs(vec![("form_key".into(), uuid::Uuid::new_v4().to_string())]);
    let page = show_page(
        &state,
        &current,
        &mut conn,
        review,
        form,
        FieldErrors::default(),
    )
    .await?;
    Ok(Html(page.render()?))
}

async fn render_show(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    review: i64,
    form: Pairs,
    errors: FieldErrors,
) -> Result<Response> {
    let page = show_page(state, current, db, review, form, errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

/// Saves the draft, or completes the review (`action=complete`), which needs a decision and
/// a summary and sets the next review due by the engagement's cadence.
pub async fn save(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(review): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let row = load_review(
        &mut tx,
        review,
        crate::visibility::for_vendor(&current.user),
    )
    .await?;
    let access = access(&mut tx, &current.user, row.engagement_id).await?;
    access.require_manage()?;
    if row.status == "completed" {
        return Ok(Redirect::to(&format!("/reviews/{review}")).into_response());
    }
    let completing = form.get("action") == "complete";
    let mut errors = FieldErrors::default();
    let what_works = validate::optional(&mut errors, "what_works", form.get("what_works"), 4000);
    let what_to_improve = validate::optional(
        &mut errors,
        "what_to_improve",
        form.get("what_to_improve"),
        4000,
    );
    let summary = validate::optional(&mut errors, "summary", form.get("summary"), 4000);
    let notes = validate::optional(
        &mut errors,
        "internal_notes",
        form.get("internal_notes"),
        4000,
    );
    let decision = match form.get("decision") {
        "" => None,
        raw => {
            let parsed = Decision::parse(raw);
            if parsed.is_none() {
                errors.add("decision", "Choose continue, adapt, escalate or exit.");
            }
            parsed
        }
    };
    if completing {
        if form.get("decision").is_empty() {
            errors.add("decision", "Choose the decision before completing.");
        }
        if summary.is_empty() {
            errors.add("summary", "Write the summary the vendor will read.");
        }
    }
    if !errors.is_empty() {
        return render_show(&state, &current, &mut tx, review, form, errors).await;
    }
    let today = state.clock.today(access.zone());
    sqlx::query(
        "update reviews set what_works = $2, what_to_improve = $3, decision = $4, summary = $5, internal_notes = $6,
                            status = case when $7 then 'completed' else status end,
                            completed_by = case when $7 then $8 end, completed_at = case when $7 then $9 end
         where id = $1",
    )
    .bind(review)
    .bind(&what_works)
    .bind(&what_to_improve)
    .bind(decision.map(Decision::as_str))
    .bind(&summary)
    .bind(&notes)
    .bind(completing)
    .bind(current.user.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let message = if completing {
        let cadence: String =
            sqlx::query_scalar("select review_cadence from engagements where id = $1")
                .bind(access.id)
                .fetch_one(&mut *tx)
                .await?;
        let next = ReviewCadence::parse(&cadence)
            .unwrap_or(ReviewCadence::Quarterly)
            .next_due(today);
        sqlx::query("update engagements set next_review_due = $2 where id = $1")
            .bind(access.id)
            .bind(next)
            .execute(&mut *tx)
            .await?;
        audit::Entry::by(&current.user, "review.complete", Outcome::Success)
            .target(format!("engagement:{}", access.id))
            .client_addr(addr)
            .details(serde_json::json!({
                "review_id": review, "decision": decision, "next_review_due": next,
            }))
            .write(&mut *tx, now)
            .await?;
        format!(
            "Review completed: {}. The next review is due by {next}.",
            decision.map_or("", Decision::label).to_lowercase()
        )
    } else {
        "Draft saved.".to_string()
    };
    session::set_flash(&mut *tx, &current.session, Flash::success(message)).await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, access.id).await;
    Ok(Redirect::to(&format!("/reviews/{review}")).into_response())
}

/// Applies one adaptation from a review: a cadence (at once), a KPI's target and threshold
/// (from the next period) or the weekly touch cap (at once); each is kept on the review and
/// in the audit log.
pub async fn adapt(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(review): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let row = load_review(
        &mut tx,
        review,
        crate::visibility::for_vendor(&current.user),
    )
    .await?;
    let access = access(&mut tx, &current.user, row.engagement_id).await?;
    access.require_manage()?;
    let id = access.id;
    let today = state.clock.today(access.zone());
    let mut errors = FieldErrors::default();
    let applied: Option<(&'static str, String, NaiveDate, serde_json::Value)> = match form
        .get("kind")
    {
        "cadence" => {
            let choice = form.get("cadence");
            let parsed = choice.split_once(':').and_then(|(field, value)| {
                let ok = match field {
                    "checkin_cadence" => CheckinCadence::parse(value).map(|c| c.label()),
                    "review_cadence" | "audit_cadence" => {
                        ReviewCadence::parse(value).map(|c| c.label())
                    }
                    _ => None,
                };
                ok.map(|label| (field, value, label))
            });
            match parsed {
                None => {
                    errors.add("cadence", "Choose the new cadence.");
                    None
                }
                Some((field, value, label)) => {
                    let before: String = sqlx::query_scalar(&format!(
                        "select {field} from engagements where id = $1"
                    ))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    sqlx::query(&format!(
                        "update engagements set {field} = $2 where id = $1"
                    ))
                    .bind(id)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
                    let name = match field {
                        "checkin_cadence" => "Check-in cadence",
                        "review_cadence" => "Review cadence",
                        _ => "Audit cadence",
                    };
                    Some((
                        "cadence",
                        format!("{name}: {before} → {}", label.to_lowercase()),
                        today,
                        serde_json::json!({ "field": field, "before": before, "after": value }),
                    ))
                }
            }
        }
        "kpi_terms" => {
            let kpis = crate::engagements::kpis::lines(&mut tx, id, today).await?;
            let kpi = form
                .get("kpi_id")
                .parse::<i64>()
                .ok()
                .and_then(|k| kpis.into_iter().find(|l| l.id == k && l.active));
            if kpi.is_none() {
                errors.add("kpi_id", "Choose one of the engagement's active KPIs.");
            }
            let target = decimal(
                &mut errors,
                "target",
                form.get("target"),
                "Enter the new target.",
            );
            let threshold = decimal(
                &mut errors,
                "threshold",
                form.get("threshold"),
                "Enter the new threshold.",
            );
            match (kpi, target, threshold) {
                (Some(kpi), Some(target), Some(threshold)) => {
                    let direction = kpi.direction;
                    if let Err(message) = check_terms(direction, target, threshold) {
                        errors.add("threshold", message);
                        None
                    } else {
                        let from = next_period_of(&access, today);
                        apply_terms(
                            &mut tx,
                            &kpi,
                            target,
                            threshold,
                            from.start,
                            current.user.id,
                            now,
                        )
                        .await?;
                        Some((
                            "kpi_terms",
                            format!(
                                "{}: target {} → {}, threshold {} → {}, from {}",
                                kpi.name,
                                kpi.target_text(),
                                with_unit(target, &kpi.unit),
                                kpi.threshold_text(),
                                with_unit(threshold, &kpi.unit),
                                from.label()
                            ),
                            from.start,
                            serde_json::json!({
                                "kpi_id": kpi.id, "target": target, "threshold": threshold,
                                "before": { "target": kpi.target, "threshold": kpi.threshold },
                                "effective_from": from.start,
                            }),
                        ))
                    }
                }
                _ => None,
            }
        }
        "boundary" => {
            let cap = validate::integer(
                &mut errors,
                "weekly_touch_cap",
                form.get("weekly_touch_cap"),
                1..=50,
            );
            match cap {
                Some(cap) => {
                    let before: Option<i32> = sqlx::query_scalar(
                        "select weekly_touch_cap from boundaries where engagement_id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    sqlx::query(
                        "insert into boundaries (engagement_id, weekly_touch_cap) values ($1, $2)
                         on conflict (engagement_id) do update set weekly_touch_cap = excluded.weekly_touch_cap",
                    )
                    .bind(id)
                    .bind(cap as i32)
                    .execute(&mut *tx)
                    .await?;
                    Some((
                        "boundary",
                        format!(
                            "Routine touches per week: {} → {cap}",
                            before.map_or_else(|| "—".to_string(), |b| b.to_string())
                        ),
                        today,
                        serde_json::json!({ "field": "weekly_touch_cap", "before": before, "after": cap }),
                    ))
                }
                None => None,
            }
        }
        _ => return Err(AppError::BadRequest("Choose what to adapt.".into())),
    };
    let Some((kind, description, effective_from, details)) = applied else {
        // Nothing was written: the transaction ends unused.
        return render_show(&state, &current, &mut tx, review, form, errors).await;
    };
    let inserted = sqlx::query(
        "insert into review_adaptations (review_id, kind, description, effective_from, applied_by, applied_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (form_key) do nothing",
    )
    .bind(review)
    .bind(kind)
    .bind(&description)
    .bind(effective_from)
    .bind(current.user.id)
    .bind(now)
    .bind(form_key(&form))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        // The same form posted twice: the first one applied it.
        tx.rollback().await?;
        return Ok(Redirect::to(&format!("/reviews/{review}#adaptations")).into_response());
    }
    audit::Entry::by(&current.user, "review.adapt", Outcome::Success)
        .target(format!("engagement:{id}"))
        .client_addr(addr)
        .details(serde_json::json!({ "review_id": review, "kind": kind, "change": details }))
        .write(&mut *tx, now)
        .await?;
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success(format!("Applied: {description}.")),
    )
    .await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, access.id).await;
    Ok(Redirect::to(&format!("/reviews/{review}#adaptations")).into_response())
}

/// New target and threshold for a KPI from `from` on, keeping its weight and active flag.
async fn apply_terms(
    db: &mut PgConnection,
    kpi: &KpiLine,
    target: Decimal,
    threshold: Decimal,
    from: NaiveDate,
    by: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "insert into kpi_terms (kpi_id, effective_from, target, threshold, weight, active, changed_by, changed_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (kpi_id, effective_from) do update
         set target = excluded.target, threshold = excluded.threshold, changed_by = excluded.changed_by,
             changed_at = excluded.changed_at",
    )
    .bind(kpi.id)
    .bind(from)
    .bind(target)
    .bind(threshold)
    .bind(kpi.weight)
    .bind(kpi.active)
    .bind(by)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// The routes of reviews.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/reviews", list)
        .post("/engagements/{id}/reviews", start)
        .get("/reviews/{id}", show)
        .post("/reviews/{id}", save)
        .post("/reviews/{id}/adapt", adapt)
}
