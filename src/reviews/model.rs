//! Reviews as typed values: what the review pages show and what a JSON client would read. A
//! vendor user reads completed reviews only, and of each only what `visible_reviews` gives
//! them (no internal notes; the snapshot's vendor part).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use sqlx::types::Json;

use super::snapshot::Snapshot;
use super::{Decision, ReviewStatus};
use crate::auth::CurrentUser;
use crate::engagements::{Access, access};
use crate::web::error::{AppError, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReviewRow {
    pub id: i64,
    pub engagement_id: i64,
    pub period_label: String,
    pub status: ReviewStatus,
    pub snapshot: Json<Snapshot>,
    pub what_works: String,
    pub what_to_improve: String,
    pub decision: Option<Decision>,
    pub summary: String,
    pub internal_notes: String,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub completed_by: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl ReviewRow {
    pub fn decision_label(&self) -> &'static str {
        self.decision.map_or("In progress", Decision::label)
    }

    pub fn is_completed(&self) -> bool {
        self.status == ReviewStatus::Completed
    }
}

const REVIEW_COLUMNS: &str = "r.id, r.engagement_id, r.period_label, r.status, r.snapshot, r.what_works, r.what_to_improve,
     r.decision, r.summary, r.internal_notes, s.name as started_by, r.started_at, c.name as completed_by, r.completed_at";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AdaptationRow {
    pub description: String,
    pub effective_from: NaiveDate,
    pub applied_by: String,
    pub applied_at: DateTime<Utc>,
}

/// An engagement's reviews as `for_vendor` says the reader may see them, newest first.
pub async fn of_engagement(
    db: &mut PgConnection,
    engagement_id: i64,
    for_vendor: bool,
) -> Result<Vec<ReviewRow>> {
    Ok(sqlx::query_as(&format!(
        "select {REVIEW_COLUMNS} from visible_reviews($2) r
         join users s on s.id = r.started_by left join users c on c.id = r.completed_by
         where r.engagement_id = $1
         order by r.period_start desc"
    ))
    .bind(engagement_id)
    .bind(for_vendor)
    .fetch_all(db)
    .await?)
}

/// A review as `for_vendor` says the reader may see it (`crate::visibility`).
pub async fn load_review(
    db: &mut PgConnection,
    review: i64,
    for_vendor: bool,
) -> Result<ReviewRow> {
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
pub async fn visible(
    db: &mut PgConnection,
    current: &CurrentUser,
    review_id: i64,
) -> Result<(ReviewRow, Access)> {
    let review = load_review(db, review_id, crate::visibility::for_vendor(&current.user)).await?;
    let access = access(db, &current.user, review.engagement_id).await?;
    Ok((review, access))
}

/// The adaptations applied from a review, in the order they were.
pub async fn adaptations(db: &mut PgConnection, review_id: i64) -> Result<Vec<AdaptationRow>> {
    Ok(sqlx::query_as(
        "select a.description, a.effective_from, u.name as applied_by, a.applied_at
         from review_adaptations a join users u on u.id = a.applied_by
         where a.review_id = $1 order by a.applied_at, a.id",
    )
    .bind(review_id)
    .fetch_all(db)
    .await?)
}
