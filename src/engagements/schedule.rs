//! When an engagement's next review and next audit are due, the cadences behind them, and
//! its close: the one way other features (reviews, audits, the close in grants) read and
//! change these columns of `engagements`, each with its own fixed statement.

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::cadence::{CheckinCadence, ReviewCadence};
use crate::web::error::{AppError, Result};

/// What comes due on an engagement's cadence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Review,
    Audit,
}

/// When the engagement's next review or audit is due, if it is set.
pub async fn next_due(db: &mut PgConnection, id: i64, due: Due) -> Result<Option<NaiveDate>> {
    let sql = match due {
        Due::Review => "select next_review_due from engagements where id = $1",
        Due::Audit => "select next_audit_due from engagements where id = $1",
    };
    Ok(sqlx::query_scalar(sql).bind(id).fetch_one(db).await?)
}

/// Sets when the engagement's next review or audit is due.
pub async fn set_next_due(db: &mut PgConnection, id: i64, due: Due, day: NaiveDate) -> Result<()> {
    let sql = match due {
        Due::Review => "update engagements set next_review_due = $2 where id = $1",
        Due::Audit => "update engagements set next_audit_due = $2 where id = $1",
    };
    sqlx::query(sql).bind(id).bind(day).execute(db).await?;
    Ok(())
}

/// The engagement's three cadences, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadences {
    pub checkin: CheckinCadence,
    pub review: ReviewCadence,
    pub audit: ReviewCadence,
}

/// One of the engagement's cadences, with its new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    Checkin(CheckinCadence),
    Review(ReviewCadence),
    Audit(ReviewCadence),
}

impl Cadence {
    /// The column it is stored in (also how the audit log names it).
    pub fn field(self) -> &'static str {
        match self {
            Cadence::Checkin(_) => "checkin_cadence",
            Cadence::Review(_) => "review_cadence",
            Cadence::Audit(_) => "audit_cadence",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Checkin(c) => c.as_str(),
            Cadence::Review(c) | Cadence::Audit(c) => c.as_str(),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Cadence::Checkin(c) => c.label(),
            Cadence::Review(c) | Cadence::Audit(c) => c.label(),
        }
    }

    /// The value of the same cadence in `cadences`.
    pub fn current(self, cadences: &Cadences) -> Cadence {
        match self {
            Cadence::Checkin(_) => Cadence::Checkin(cadences.checkin),
            Cadence::Review(_) => Cadence::Review(cadences.review),
            Cadence::Audit(_) => Cadence::Audit(cadences.audit),
        }
    }
}

fn stored<T>(value: Option<T>, stored: &str, what: &str) -> Result<T> {
    value.ok_or_else(|| AppError::Internal(anyhow::anyhow!("{stored:?} is not a stored {what}")))
}

/// The engagement's cadences; a stored value outside its set is an error, never a default.
pub async fn cadences(db: &mut PgConnection, id: i64) -> Result<Cadences> {
    let (checkin, review, audit): (String, String, String) = sqlx::query_as(
        "select checkin_cadence, review_cadence, audit_cadence from engagements where id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(Cadences {
        checkin: stored(
            CheckinCadence::parse(&checkin),
            &checkin,
            "check-in cadence",
        )?,
        review: stored(ReviewCadence::parse(&review), &review, "review cadence")?,
        audit: stored(ReviewCadence::parse(&audit), &audit, "audit cadence")?,
    })
}

/// Changes one of the engagement's cadences.
pub async fn set_cadence(db: &mut PgConnection, id: i64, cadence: Cadence) -> Result<()> {
    let sql = match cadence {
        Cadence::Checkin(_) => "update engagements set checkin_cadence = $2 where id = $1",
        Cadence::Review(_) => "update engagements set review_cadence = $2 where id = $1",
        Cadence::Audit(_) => "update engagements set audit_cadence = $2 where id = $1",
    };
    sqlx::query(sql)
        .bind(id)
        .bind(cadence.as_str())
        .execute(db)
        .await?;
    Ok(())
}

/// Closes the engagement: its status is closed, and it ends on `day` unless an end was set
/// (never before it started).
pub async fn close(db: &mut PgConnection, id: i64, day: NaiveDate) -> Result<()> {
    sqlx::query(
        "update engagements set status = 'closed', end_date = coalesce(end_date, greatest($2, start_date))
         where id = $1",
    )
    .bind(id)
    .bind(day)
    .execute(db)
    .await?;
    Ok(())
}
