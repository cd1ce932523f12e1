//! The review pages: an engagement's reviews, starting one (which takes the snapshot), one
//! review, and saving its draft or completing it.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;

use super::Decision;
use super::model::{self, AdaptationRow, ReviewRow};
use super::snapshot::{Seen, take_snapshot};
use crate::auth::CurrentUser;
use crate::auth::policy::{self, ReviewPart};
use crate::engagements::KpiLine;
use crate::engagements::Viewing;
use crate::engagements::{self, Access, Cadences, Due, access};
use crate::engagements::{CheckinCadence, ReviewCadence};
use crate::period::Period;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

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
    Viewing { current, access }: Viewing,
) -> Result<Html<String>> {
    let id = access.id;
    let mut conn = state.pool.acquire().await?;
    let reviews = model::of_engagement(&mut conn, id, access.is_vendor).await?;
    let periods = if access.can_manage {
        access
            .closed_periods(&state.clock)
            .iter()
            .map(Period::label)
            .collect()
    } else {
        Vec::new()
    };
    let next_review_due = engagements::next_due(&mut conn, id, Due::Review).await?;
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
    let mut change = Change::begin(&state, &current, addr).await?;
    let access = access(change.db(), &current.user, id).await?;
    policy::may_write_review(access.reader())?;
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
            .fetch_optional(change.db())
            .await?;
    if let Some(review) = existing {
        return Ok(Redirect::to(&format!("/reviews/{review}")).into_response());
    }
    let today = state.clock.today(access.zone());
    let now = change.now;
    let snapshot = take_snapshot(change.db(), id, &period, today, now).await?;
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
    .fetch_optional(change.db())
    .await?;
    let Some(review) = review else {
        // Started by someone else a moment ago: open theirs.
        change.tx.rollback().await?;
        let review: i64 = sqlx::query_scalar(
            "select id from reviews where engagement_id = $1 and period_start = $2",
        )
        .bind(id)
        .bind(period.start)
        .fetch_one(&state.pool)
        .await?;
        return Ok(Redirect::to(&format!("/reviews/{review}")).into_response());
    };
    change
        .audit(
            "review.start",
            format!("engagement:{id}"),
            serde_json::json!({ "review_id": review, "period": period.label() }),
        )
        .await?;
    change.commit().await?;
    Ok(Redirect::to(&format!("/reviews/{review}")).into_response())
}

#[derive(Template)]
#[template(path = "reviews/show.html")]
pub(super) struct ShowPage {
    layout: Layout,
    access: Access,
    review: ReviewRow,
    adaptations: Vec<AdaptationRow>,
    kpis: Vec<KpiLine>,
    /// The engagement's cadences, for its managers' adaptation form.
    cadences: Option<Cadences>,
    touch_cap: i32,
    next_period: String,
    zone: chrono_tz::Tz,
    /// For a decision to exit: the contract's last day to give notice and the end it
    /// reaches, today.
    exit_notice: Option<engagements::ContractDates>,
    form: Pairs,
    errors: FieldErrors,
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

    /// The snapshot's part this reader may see (`policy::review_part`).
    fn seen(&self) -> Option<&Seen> {
        self.review
            .snapshot
            .0
            .seen(policy::review_part(self.access.reader()))
    }

    /// What works, what to improve and the internal notes: the organisation's part only.
    fn sees_internal(&self) -> bool {
        policy::review_part(self.access.reader()) == ReviewPart::Organisation
    }

    fn value(&self, field: &str) -> String {
        match self.form.get(field) {
            "" => match field {
                "what_works" => self.review.what_works.clone(),
                "what_to_improve" => self.review.what_to_improve.clone(),
                "decision" => self
                    .review
                    .decision
                    .map(|d| d.as_str().to_string())
                    .unwrap_or_default(),
                "summary" => self.review.summary.clone(),
                "internal_notes" => self.review.internal_notes.clone(),
                _ => String::new(),
            },
            typed => typed.to_string(),
        }
    }

    fn cadence_options(&self) -> Vec<(String, String)> {
        let mut options = vec![(String::new(), "Choose".to_string())];
        let Some(c) = &self.cadences else {
            return options;
        };
        for cadence in CheckinCadence::ALL {
            if cadence != c.checkin {
                options.push((
                    format!("checkin_cadence:{}", cadence.as_str()),
                    format!("Check-ins: {}", cadence.label().to_lowercase()),
                ));
            }
        }
        for (field, current, name) in [
            ("review_cadence", c.review, "Reviews"),
            ("audit_cadence", c.audit, "Audits"),
        ] {
            for cadence in ReviewCadence::ALL {
                if cadence != current {
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

pub(super) async fn show_page(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    review_id: i64,
    form: Pairs,
    errors: FieldErrors,
) -> Result<ShowPage> {
    let (review, access) = model::visible(db, current, review_id).await?;
    let adaptations = model::adaptations(db, review_id).await?;
    let today = state.clock.today(access.zone());
    let (kpis, cadences, touch_cap, next_period) = if access.can_manage {
        let kpis = crate::engagements::kpi_lines(db, access.id, today).await?;
        let cadences = engagements::cadences(db, access.id).await?;
        let cap: i32 =
            sqlx::query_scalar("select weekly_touch_cap from boundaries where engagement_id = $1")
                .bind(access.id)
                .fetch_optional(&mut *db)
                .await?
                .unwrap_or(3);
        let next = super::next_period_of(&access, today);
        (kpis, Some(cadences), cap, next.label())
    } else {
        (Vec::new(), None, 0, String::new())
    };
    let exit_notice = if review.decision == Some(Decision::Exit) {
        engagements::fields_of(db, access.id)
            .await?
            .contract()
            .dates(today)
            .filter(|d| d.notice_by.is_some())
    } else {
        None
    };
    Ok(ShowPage {
        exit_notice,
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

/// A review's draft, or its completion (`action=complete`), as the form gives it.
pub struct ReviewInput {
    pub what_works: String,
    pub what_to_improve: String,
    pub decision: Option<Decision>,
    pub summary: String,
    pub internal_notes: String,
    pub completing: bool,
}

impl ReviewInput {
    /// Completing needs a decision and a summary; a draft may leave both empty.
    pub fn parse(form: &Pairs) -> Result<ReviewInput, FieldErrors> {
        let completing = form.get("action") == "complete";
        let mut errors = FieldErrors::default();
        let what_works =
            validate::optional(&mut errors, "what_works", form.get("what_works"), 4000);
        let what_to_improve = validate::optional(
            &mut errors,
            "what_to_improve",
            form.get("what_to_improve"),
            4000,
        );
        let summary = validate::optional(&mut errors, "summary", form.get("summary"), 4000);
        let internal_notes = validate::optional(
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
        if errors.is_empty() {
            Ok(ReviewInput {
                what_works,
                what_to_improve,
                decision,
                summary,
                internal_notes,
                completing,
            })
        } else {
            Err(errors)
        }
    }
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
    let mut change = Change::begin(&state, &current, addr).await?;
    let (row, access) = model::visible(change.db(), &current, review).await?;
    policy::may_write_review(access.reader())?;
    if row.is_completed() {
        return Ok(Redirect::to(&format!("/reviews/{review}")).into_response());
    }
    let input = match ReviewInput::parse(&form) {
        Ok(input) => input,
        Err(errors) => {
            let page = show_page(&state, &current, change.db(), review, form, errors).await?;
            return refused(page);
        }
    };
    let today = state.clock.today(access.zone());
    let now = change.now;
    sqlx::query(
        "update reviews set what_works = $2, what_to_improve = $3, decision = $4, summary = $5, internal_notes = $6,
                            status = case when $7 then 'completed' else status end,
                            completed_by = case when $7 then $8 end, completed_at = case when $7 then $9 end
         where id = $1",
    )
    .bind(review)
    .bind(&input.what_works)
    .bind(&input.what_to_improve)
    .bind(input.decision)
    .bind(&input.summary)
    .bind(&input.internal_notes)
    .bind(input.completing)
    .bind(current.user.id)
    .bind(now)
    .execute(change.db())
    .await?;
    let message = if input.completing {
        let next = engagements::cadences(change.db(), access.id)
            .await?
            .review
            .next_due(today);
        engagements::set_next_due(change.db(), access.id, Due::Review, next).await?;
        let decision = input.decision;
        change
            .audit(
                "review.complete",
                format!("engagement:{}", access.id),
                serde_json::json!({
                    "review_id": review, "decision": decision, "next_review_due": next,
                }),
            )
            .await?;
        format!(
            "Review completed: {}. The next review is due by {next}.",
            decision.map_or("", Decision::label).to_lowercase()
        )
    } else {
        "Draft saved.".to_string()
    };
    change.flash(Flash::success(message)).await?;
    change.commit_and_refresh(access.id).await?;
    Ok(Redirect::to(&format!("/reviews/{review}")).into_response())
}
