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
