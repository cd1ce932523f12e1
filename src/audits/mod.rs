//! Trust but verify: audits planned on the engagement's cadence (quality, security,
//! compliance, SLA verification), their outcome, and findings with a severity, the side that
//! remediates and a due date. The owning side answers a finding with a plan and evidence;
//! a manager verifies and closes it, or accepts the risk with a reason. An SLA verification
//! lists the vendor-reported values of its period to verify or dispute.
//!
//! `model` loads audits and findings as typed values (what a page or a JSON client shows),
//! `pages` serves the audit pages and their writes, `findings` the writes on findings,
//! `attachments` the files of findings (evidence) and audits (working papers).

mod attachments;
mod findings;
mod model;
mod pages;

pub use attachments::Attachment;
pub use findings::{FindingAnswer, LockedFinding, lock_to_answer, write_answer};
pub use model::{
    AuditDetail, AuditRow, EngagementAudits, FindingKey, FindingRow, FindingsOf, ReportedValue,
    findings_of,
};

use axum::extract::DefaultBodyLimit;
use axum::http::Method;

use crate::choice;
use crate::files;
use crate::web::routes::Routes;

choice!(pub Kind {
    Quality = "quality" / "Quality",
    Security = "security" / "Security",
    Compliance = "compliance" / "Compliance",
    SlaVerification = "sla_verification" / "SLA verification",
});

choice!(pub AuditStatus {
    Planned = "planned" / "Planned",
    Completed = "completed" / "Completed",
});

choice!(pub AuditOutcome {
    Pass = "pass" / "Pass",
    PassWithFindings = "pass_with_findings" / "Pass with findings",
    Fail = "fail" / "Fail",
});

choice!(pub Severity {
    Low = "low" / "Low",
    Medium = "medium" / "Medium",
    High = "high" / "High",
    Critical = "critical" / "Critical",
});

choice!(pub Side {
    Vendor = "vendor" / "The vendor",
    Ours = "ours" / "Us",
});

choice!(pub FindingStatus {
    Open = "open" / "Open",
    Answered = "answered" / "Plan received",
    Closed = "closed" / "Verified and closed",
    RiskAccepted = "risk_accepted" / "Risk accepted",
});

impl FindingStatus {
    /// Closed, or its risk accepted: nothing more to do.
    pub fn is_settled(self) -> bool {
        matches!(self, FindingStatus::Closed | FindingStatus::RiskAccepted)
    }
}

/// The routes of audits.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/audits", pages::list)
        .get("/engagements/{id}/audits/new", pages::new)
        .post("/engagements/{id}/audits/new", pages::create)
        .get("/audits/{id}", pages::show)
        .post("/audits/{id}/complete", pages::complete)
        .post("/audits/{id}/findings", findings::add)
        .post("/findings/{id}/answer", findings::answer)
        .post("/findings/{id}/resolve", findings::resolve)
        .add(Method::POST, "/findings/{id}/evidence", |r| {
            r.post(attachments::attach_evidence)
                .layer(DefaultBodyLimit::max(files::BODY_LIMIT))
        })
        .get("/evidence/{id}", attachments::evidence_file)
        .add(Method::POST, "/audits/{id}/working-papers", |r| {
            r.post(attachments::attach_working_paper)
                .layer(DefaultBodyLimit::max(files::BODY_LIMIT))
        })
        .get("/working-papers/{id}", attachments::working_paper)
}

/// Records an assessment made outside an audit (a completed questionnaire) as a completed
/// compliance audit of `engagement` by `by` (id, name) with one finding for the vendor per text of `findings`
/// (high, due in 30 days), so the remediation flow takes them over; gives how many.
pub async fn record_assessment(
    db: &mut sqlx::PgConnection,
    engagement: i64,
    scope: &str,
    (by, by_name): (i64, &str),
    now: chrono::DateTime<chrono::Utc>,
    findings: &[String],
) -> crate::web::error::Result<usize> {
    let today = now.date_naive();
    let audit: i64 = sqlx::query_scalar(
        "insert into audits (engagement_id, kind, scope, planned_on, auditor, status, outcome, summary,
                             completed_on, completed_by, created_by, created_at, form_key)
         values ($1, 'compliance', $2, $3, $4, 'completed', 'pass_with_findings',
                 'Raised from the failing answers of a questionnaire.', $3, $5, $5, $6, gen_random_uuid())
         returning id",
    )
    .bind(engagement)
    .bind(scope)
    .bind(today)
    .bind(by_name)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *db)
    .await?;
    sqlx::query(
        "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on, created_by,
                               created_at, form_key)
         select $1, $2, 'high', d, 'vendor', $3, $4, $5, gen_random_uuid() from unnest($6::text[]) as d",
    )
    .bind(audit)
    .bind(engagement)
    .bind(today + chrono::Duration::days(30))
    .bind(by)
    .bind(now)
    .bind(findings)
    .execute(&mut *db)
    .await?;
    Ok(findings.len())
}
