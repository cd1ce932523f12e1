//! Evaluate and adapt: the periodic review of an engagement. Starting one snapshots what is
//! true then (scorecard, check-in health, feedback, findings, proposals) so the review keeps
//! showing it; the manager writes what works, what to improve and the decision, and may
//! apply an adaptation (a cadence, a KPI's terms, the touch cap) in one step. Completing it
//! sets the next review due. Vendor users read completed reviews: the decision, summary and
//! adaptations, never the internal notes; the snapshot keeps what each side saw, and a
//! vendor user reads only the vendor's part (`crate::visibility`).
//!
//! `snapshot` takes and keeps what was true, `model` loads reviews as typed values, `pages`
//! serves the pages and the draft and completion, `adapt` applies adaptations.

mod adapt;
mod model;
mod pages;
mod report;
mod snapshot;

use chrono::NaiveDate;

pub use model::{AdaptationRow, ReviewRow};
pub use snapshot::{Seen, Snapshot, take_snapshot};

use crate::choice;
use crate::engagements::Access;
use crate::period::Period;
use crate::web::routes::Routes;

choice!(pub Decision {
    Continue = "continue" / "Continue",
    Adapt = "adapt" / "Adapt",
    Escalate = "escalate" / "Escalate",
    Exit = "exit" / "Exit",
});

choice!(pub ReviewStatus {
    Draft = "draft" / "Draft",
    Completed = "completed" / "Completed",
});

/// The period after the one running today: where a review's change of terms starts.
fn next_period_of(access: &Access, today: NaiveDate) -> Period {
    Period::containing(access.period_kind(), today).next()
}

/// The routes of reviews.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/reviews", pages::list)
        .post("/engagements/{id}/reviews", pages::start)
        .get("/reviews/{id}", pages::show)
        .post("/reviews/{id}", pages::save)
        .post("/reviews/{id}/adapt", adapt::adapt)
        .get("/reviews/{id}/report", report::show)
        .get("/reviews/{id}/report.pdf", report::pdf)
}
