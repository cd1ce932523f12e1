//! A completed review as a printable report (`/reviews/{id}/report`) and its PDF: the
//! parties, the period, the scorecard as it was when the review started with the trend of
//! the twelve periods to it, what works and what to improve, the decision and the summary.
//! A vendor user's report is made of what their review page shows (`visible_reviews`, the
//! snapshot's vendor part): no internal notes, nothing of the organisation's assessment.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, Response};

use super::Decision;
use super::model::{self, AdaptationRow, ReviewRow};
use super::snapshot::Seen;
use crate::auth::CurrentUser;
use crate::auth::policy::{self, ReviewPart};
use crate::engagements::{self, Access};
use crate::period::Period;
use crate::scorecard::{self, Trend};
use crate::state::AppState;
use crate::web::error::{AppError, Result};
use crate::web::form::Id;
use crate::web::report::{ReportFrame, pdf_answer};

#[derive(Template)]
#[template(path = "reports/review.html")]
struct ReviewReport {
    frame: ReportFrame,
    access: Access,
    review: ReviewRow,
    period: Period,
    trend: Trend,
    adaptations: Vec<AdaptationRow>,
    /// The organisation's report: what works, what to improve and the internal notes.
    internal: bool,
    exit_notice: Option<engagements::ContractDates>,
    owner: String,
}

impl ReviewReport {
    fn seen(&self) -> Option<&Seen> {
        self.review
            .snapshot
            .0
            .seen(policy::review_part(self.access.reader()))
    }
}

async fn report(state: &AppState, current: &CurrentUser, id: i64) -> Result<ReviewReport> {
    let mut conn = state.pool.acquire().await?;
    let (review, access) = model::visible(&mut conn, current, id).await?;
    // A draft has no report yet: the review page is where it is written.
    if !review.is_completed() {
        return Err(AppError::NotFound);
    }
    let period = Period::parse(access.period_kind(), &review.period_label).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "review {id} has the period label {:?}",
            review.period_label
        ))
    })?;
    let adaptations = model::adaptations(&mut conn, id).await?;
    let today = state.clock.today(access.zone());
    let fields = engagements::fields_of(&mut conn, access.id).await?;
    let owner: String = sqlx::query_scalar("select name from users where id = $1")
        .bind(fields.owner_id)
        .fetch_one(&mut *conn)
        .await?;
    drop(conn);
    let exit_notice = (review.decision == Some(Decision::Exit))
        .then(|| fields.contract().dates(today))
        .flatten()
        .filter(|d| d.notice_by.is_some());
    let card = scorecard::scorecard_of(&state.cache, &state.pool, &access, period, today).await?;
    let internal = policy::review_part(access.reader()) == ReviewPart::Organisation;
    let frame = ReportFrame::new(
        state,
        current,
        format!("Review of {}: {}", review.period_label, access.name),
        format!("/reviews/{id}"),
        format!("/reviews/{id}/report.pdf"),
        state.clock.now(),
    );
    Ok(ReviewReport {
        frame,
        trend: Trend::of(&card),
        access,
        review,
        period,
        adaptations,
        internal,
        exit_notice,
        owner,
    })
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    Ok(Html(report(&state, &current, id).await?.render()?))
}

pub async fn pdf(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Response> {
    let mut page = report(&state, &current, id).await?;
    let file = format!("review-{}-{}.pdf", page.access.id, page.review.period_label);
    page.frame = page.frame.for_print();
    pdf_answer(
        &state,
        page.render()?,
        &file,
        &format!("/reviews/{id}/report"),
    )
    .await
}
