//! A vendor's documents: the register of what it holds to show it can be trusted (a SOC 2
//! report, an ISO 27001 certificate, a data-processing agreement, an insurance certificate,
//! a penetration test summary, or a kind an admin adds), each a file with its issuer and the
//! days it is valid (migration 0026). The vendor's users upload and renew their own; the
//! organisation's people may add documents too, shared with the vendor or internal. Renewing
//! adds a version, and the earlier ones stay. Managers accept or reject each version, with a
//! reason the vendor reads. The scheduler reminds both sides 30 and 7 days before the current
//! version expires and once it has lapsed (`reminders::rules`); a lapsed required document
//! shows on the vendor's page, its engagements' pages and the portfolio ([`lapsed_column`],
//! [`lapsed_by_engagement`]).
//!
//! Who sees what: a vendor's users only their own vendor's shared documents (the scope is
//! each query's `vendor_id`, the rest `visible_vendor_documents`); to them anything else does
//! not exist.

pub mod kinds;
pub mod pages;

use std::collections::HashMap;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::auth::{Role, User, policy};
use crate::choice;
use crate::files;
use crate::web::error::{AppError, Result};
use crate::web::routes::Routes;

choice!(pub Visibility {
    Shared = "shared" / "Shared with the vendor",
    Internal = "internal" / "Internal: our people only",
});

// Where a version stands with the organisation.
choice!(pub Review {
    Submitted = "submitted" / "Awaiting acceptance",
    Accepted = "accepted" / "Accepted",
    Rejected = "rejected" / "Rejected",
});

/// A document's current version expiring within this many days is "expiring".
pub const EXPIRING_DAYS: i64 = 30;

/// How a version's validity stands on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    NotYetValid,
    Valid,
    /// Valid for this many more days after today (0: today is its last day).
    Expiring(i64),
    Lapsed,
}

impl Standing {
    pub fn on(valid_from: NaiveDate, valid_until: NaiveDate, today: NaiveDate) -> Standing {
        let left = (valid_until - today).num_days();
        if left < 0 {
            Standing::Lapsed
        } else if today < valid_from {
            Standing::NotYetValid
        } else if left <= EXPIRING_DAYS {
            Standing::Expiring(left)
        } else {
            Standing::Valid
        }
    }

    /// The class of its badge.
    pub fn key(self) -> &'static str {
        match self {
            Standing::NotYetValid => "not-yet-valid",
            Standing::Valid => "valid",
            Standing::Expiring(_) => "expiring",
            Standing::Lapsed => "lapsed",
        }
    }

    pub fn label(self) -> String {
        match self {
            Standing::NotYetValid => "Not yet valid".into(),
            Standing::Valid => "Valid".into(),
            Standing::Expiring(0) => "Expires today".into(),
            Standing::Expiring(1) => "Expires tomorrow".into(),
            Standing::Expiring(days) => format!("Expires in {days} days"),
            Standing::Lapsed => "Lapsed".into(),
        }
    }
}

/// A document as the register lists it: its current version's facts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentRow {
    pub id: i64,
    pub vendor_id: i64,
    pub vendor_name: String,
    pub kind_name: String,
    pub required: bool,
    pub visibility: Visibility,
    pub version: i32,
    pub issuer: String,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub status: Review,
    pub file_id: i64,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
}

impl DocumentRow {
    pub fn standing(&self, today: NaiveDate) -> Standing {
        Standing::on(self.valid_from, self.valid_until, today)
    }
}

/// The columns of [`DocumentRow`] over `current_vendor_documents d`, `vendors v` and the
/// uploader `users u`.
pub const COLUMNS: &str =
    "d.id, d.vendor_id, v.name as vendor_name, d.kind_name, d.required, d.visibility,
     d.version, d.issuer, d.valid_from, d.valid_until, d.status, d.file_id,
     u.name as uploaded_by, d.uploaded_at";

/// Every document of one vendor with its current version, the soonest to lapse first (for
/// the organisation's people: internal ones included).
pub async fn of_vendor(db: &mut PgConnection, vendor_id: i64) -> Result<Vec<DocumentRow>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS}
         from current_vendor_documents d join vendors v on v.id = d.vendor_id
         join users u on u.id = d.uploaded_by
         where d.vendor_id = $1 order by d.valid_until, lower(d.kind_name), d.id"
    ))
    .bind(vendor_id)
    .fetch_all(db)
    .await?)
}

/// The document `id` as `user` may see it, or not found: a vendor user only their own
/// vendor's shared documents. The row is locked when `lock` (a change to it follows).
pub async fn visible(
    db: &mut PgConnection,
    user: &User,
    id: i64,
    lock: bool,
) -> Result<(i64, Visibility)> {
    let sql = format!(
        "select d.vendor_id, d.visibility from vendor_documents d
         where d.id = $1 and exists (select 1 from visible_vendor_documents($2) v where v.id = d.id)
           and ($3::bigint is null or d.vendor_id = $3){}",
        if lock { " for update of d" } else { "" }
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(crate::visibility::for_vendor(user))
        .bind(policy::vendor_scope(user))
        .fetch_optional(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Whether `user` may add documents to the register of `vendor_id` (and renew its documents):
/// its own users, and the organisation's people; to another vendor's user it does not exist.
pub fn may_upload(user: &User, vendor_id: i64) -> Result<()> {
    match policy::vendor_scope(user) {
        Some(scope) if scope != vendor_id => Err(AppError::NotFound),
        _ => Ok(()),
    }
}

/// The organisation's managers and admins accept or reject a version; a vendor user never.
pub fn may_review(user: &User) -> Result<()> {
    match user.role {
        Role::Admin | Role::Manager => Ok(()),
        Role::Vendor => Err(AppError::NotFound),
    }
}

/// The lapsed required documents of the vendors of `engagements` (for our people: internal
/// ones included), their kinds' names by engagement, in one statement.
pub async fn lapsed_by_engagement(
    db: &mut PgConnection,
    engagements: &[i64],
    today: NaiveDate,
) -> Result<HashMap<i64, Vec<String>>> {
    let rows: Vec<(i64, Vec<String>)> = sqlx::query_as(&format!(
        "select e.id, {} from engagements e where e.id = any($1)",
        lapsed_column("e.vendor_id", "$2", "false")
    ))
    .bind(engagements)
    .bind(today)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, kinds)| !kinds.is_empty())
        .collect())
}

/// A column of another feature's statement: the kinds' names of the required documents of
/// the vendor `vendor` whose current version has lapsed by `today` (SQL expressions: a
/// column, a parameter), leaving out internal ones when `for_vendor` is true.
pub fn lapsed_column(vendor: &str, today: &str, for_vendor: &str) -> String {
    format!(
        "coalesce(array(select d.kind_name from current_vendor_documents d
                        where d.vendor_id = {vendor} and d.required and d.valid_until < {today}
                          and (not {for_vendor} or d.visibility = 'shared')
                        order by lower(d.kind_name)), '{{}}')"
    )
}

/// A SQL expression: document `document`'s kind, current version and validity, as a page
/// names it ("Contract, version 2, valid until 2027-12-31"); null when there is none or the
/// reader (`for_vendor`) may not see it.
pub fn label_column(document: &str, for_vendor: &str) -> String {
    format!(
        "(select d.kind_name || ', version ' || d.version || ', valid until ' || d.valid_until
          from current_vendor_documents d
          where d.id = {document} and (not {for_vendor} or d.visibility = 'shared'))"
    )
}

/// Commits a write of what belongs to `vendor` and raises or resolves its reminders at once:
/// those of `engagement`, or of the vendor's first active one (`lead_engagement` in
/// migration 0029), which carries the vendor's documents and due-diligence questionnaires.
pub async fn commit_refreshing(
    mut change: crate::web::change::Change<'_>,
    vendor: i64,
    engagement: Option<i64>,
) -> Result<()> {
    let engagement: Option<i64> = sqlx::query_scalar("select coalesce($2, lead_engagement($1))")
        .bind(vendor)
        .bind(engagement)
        .fetch_one(change.db())
        .await?;
    match engagement {
        Some(engagement) => change.commit_and_refresh(engagement).await,
        None => change.commit().await,
    }
}

/// The routes of documents.
pub fn routes() -> Routes {
    Routes::new()
        .get("/documents", pages::register)
        .get("/documents/new", pages::new)
        .add(Method::POST, "/documents/new", |r| {
            r.post(pages::create)
                .layer(DefaultBodyLimit::max(files::BODY_LIMIT))
        })
        .get("/documents/{id}", pages::show)
        .add(Method::POST, "/documents/{id}/versions", |r| {
            r.post(pages::renew)
                .layer(DefaultBodyLimit::max(files::BODY_LIMIT))
        })
        .post("/documents/{id}/review", pages::review)
        .get("/document-files/{id}", pages::file)
        .get("/admin/document-kinds", kinds::list)
        .post("/admin/document-kinds", kinds::save)
}

#[cfg(test)]
mod tests {
    use super::Standing;
    use chrono::NaiveDate;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_version_lapses_the_day_after_its_last_valid_day() {
        let from = day("2026-01-01");
        let until = day("2026-12-31");
        assert_eq!(
            Standing::on(from, until, day("2025-12-31")),
            Standing::NotYetValid
        );
        assert_eq!(
            Standing::on(from, until, day("2026-06-01")),
            Standing::Valid
        );
        assert_eq!(
            Standing::on(from, until, day("2026-12-01")),
            Standing::Expiring(30)
        );
        assert_eq!(
            Standing::on(from, until, day("2026-12-31")),
            Standing::Expiring(0)
        );
        assert_eq!(
            Standing::on(from, until, day("2027-01-01")),
            Standing::Lapsed
        );
        assert_eq!(Standing::Expiring(0).label(), "Expires today");
    }
}
