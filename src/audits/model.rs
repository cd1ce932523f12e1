//! Audits and findings as typed values: what the audit pages show and what a JSON client
//! would read. A vendor user gets only the findings of their side (`visible_findings`) and no
//! audits at all.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;

use super::{AuditOutcome, AuditStatus, FindingStatus, Kind, Severity, Side};
use crate::engagements::{self, Access, Due};
use crate::period::Period;
use crate::web::error::{AppError, Result};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub kind: Kind,
    pub scope: String,
    pub planned_on: NaiveDate,
    pub auditor: String,
    pub period_start: Option<NaiveDate>,
    pub status: AuditStatus,
    pub outcome: Option<AuditOutcome>,
    pub summary: String,
    pub completed_on: Option<NaiveDate>,
    pub findings: i64,
    pub open_findings: i64,
}

impl AuditRow {
    pub fn kind_label(&self) -> &'static str {
        self.kind.label()
    }

    pub fn outcome_label(&self) -> &'static str {
        self.outcome.map_or("Planned", AuditOutcome::label)
    }

    /// The stored outcome, or "planned": the badge's class.
    pub fn outcome_class(&self) -> &'static str {
        self.outcome.map_or("planned", AuditOutcome::as_str)
    }

    pub fn is_planned(&self) -> bool {
        self.status == AuditStatus::Planned
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FindingRow {
    pub id: i64,
    pub audit_id: i64,
    pub audit_kind: Kind,
    pub severity: Severity,
    pub description: String,
    pub owner_side: Side,
    pub due_on: NaiveDate,
    pub status: FindingStatus,
    pub remediation_plan: String,
    pub evidence: String,
    pub answered_by: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub resolution_note: String,
    pub resolved_by: Option<String>,
}

impl FindingRow {
    pub fn severity_label(&self) -> &'static str {
        self.severity.label()
    }

    pub fn side_label(&self) -> &'static str {
        self.owner_side.label()
    }

    pub fn status_label(&self) -> &'static str {
        self.status.label()
    }

    pub fn audit_kind_label(&self) -> &'static str {
        self.audit_kind.label()
    }

    pub fn is_settled(&self) -> bool {
        self.status.is_settled()
    }

    pub fn is_answered(&self) -> bool {
        self.status == FindingStatus::Answered
    }

    /// Not settled and past its due date on `today`.
    pub fn is_overdue(&self, today: NaiveDate) -> bool {
        !self.is_settled() && self.due_on < today
    }
}

/// An engagement's findings, or one audit's; a vendor user's only those `crate::visibility`
/// lets them see (their side's).
pub async fn findings(
    db: &mut PgConnection,
    engagement_id: i64,
    audit_id: Option<i64>,
    for_vendor: bool,
) -> Result<Vec<FindingRow>> {
    let which = FindingsOf {
        audit_id,
        ..FindingsOf::default()
    };
    findings_of(db, engagement_id, for_vendor, which).await
}

/// Where a finding stands in the list's order: settled last, then by due date and id.
pub type FindingKey = (bool, NaiveDate, i64);

impl FindingRow {
    pub fn list_key(&self) -> FindingKey {
        (self.is_settled(), self.due_on, self.id)
    }
}

/// Which of an engagement's findings to read, beyond what the reader may see.
#[derive(Debug, Clone, Copy, Default)]
pub struct FindingsOf {
    pub audit_id: Option<i64>,
    pub finding_id: Option<i64>,
    /// Only those after this place in the order.
    pub after: Option<FindingKey>,
    pub limit: Option<i64>,
}

/// The findings of an engagement `for_vendor` lets the reader see, narrowed by `which`, in
/// the list's order.
pub async fn findings_of(
    db: &mut PgConnection,
    engagement_id: i64,
    for_vendor: bool,
    which: FindingsOf,
) -> Result<Vec<FindingRow>> {
    Ok(sqlx::query_as(
        "select f.id, f.audit_id, a.kind as audit_kind, f.severity, f.description, f.owner_side, f.due_on, f.status,
                f.remediation_plan, f.evidence, ans.name as answered_by, f.answered_at, f.resolution_note,
                res.name as resolved_by
         from visible_findings($3) f
         -- Only for the kind of audit it came from; the audit itself stays the organisation's.
         join audits a on a.id = f.audit_id
         left join users ans on ans.id = f.answered_by
         left join users res on res.id = f.resolved_by
         where f.engagement_id = $1 and ($2::bigint is null or f.audit_id = $2)
           and ($4::bigint is null or f.id = $4)
           and ($5::boolean is null
                or (f.status in ('closed', 'risk_accepted'), f.due_on, f.id) > ($5, $6::date, $7::bigint))
         order by f.status in ('closed', 'risk_accepted'), f.due_on, f.id
         limit $8",
    )
    .bind(engagement_id)
    .bind(which.audit_id)
    .bind(for_vendor)
    .bind(which.finding_id)
    .bind(which.after.map(|k| k.0))
    .bind(which.after.map(|k| k.1))
    .bind(which.after.map(|k| k.2))
    .bind(which.limit)
    .fetch_all(db)
    .await?)
}

/// An engagement's audits with their findings, as the reader may see them.
#[derive(Debug, Clone, Serialize)]
pub struct EngagementAudits {
    /// None for a vendor user (`visible_audits`).
    pub audits: Vec<AuditRow>,
    /// A vendor user's: their side's only.
    pub findings: Vec<FindingRow>,
    pub next_audit_due: Option<NaiveDate>,
}

pub async fn of_engagement(db: &mut PgConnection, access: &Access) -> Result<EngagementAudits> {
    // A vendor user sees no audits (`visible_audits`): no need to ask.
    let audits = if access.is_vendor {
        Vec::new()
    } else {
        sqlx::query_as(
            "select a.id, a.kind, a.scope, a.planned_on, a.auditor, a.period_start, a.status, a.outcome, a.summary,
                    a.completed_on, count(f.id) as findings,
                    count(f.id) filter (where f.status in ('open', 'answered')) as open_findings
             from audits a left join findings f on f.audit_id = a.id
             where a.engagement_id = $1
             group by a.id order by a.planned_on desc, a.id desc",
        )
        .bind(access.id)
        .fetch_all(&mut *db)
        .await?
    };
    let findings = findings(db, access.id, None, access.is_vendor).await?;
    let next_audit_due = engagements::next_due(db, access.id, Due::Audit).await?;
    Ok(EngagementAudits {
        audits,
        findings,
        next_audit_due,
    })
}

/// An audit and the engagement it belongs to.
pub async fn load_audit(db: &mut PgConnection, audit: i64) -> Result<(i64, AuditRow)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        engagement_id: i64,
        #[sqlx(flatten)]
        audit: AuditRow,
    }
    let row: Row = sqlx::query_as(
        "select a.engagement_id, a.id, a.kind, a.scope, a.planned_on, a.auditor, a.period_start, a.status, a.outcome,
                a.summary, a.completed_on,
                (select count(*) from findings f where f.audit_id = a.id) as findings,
                (select count(*) from findings f where f.audit_id = a.id and f.status in ('open', 'answered')) as open_findings
         from audits a where a.id = $1",
    )
    .bind(audit)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok((row.engagement_id, row.audit))
}

/// A vendor-reported value of the period an SLA verification examines.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReportedValue {
    pub id: i64,
    pub kpi: String,
    pub unit: String,
    pub value: Decimal,
    pub state: String,
    pub dispute_note: String,
}

impl ReportedValue {
    pub fn shown(&self) -> String {
        crate::engagements::with_unit(self.value, &self.unit)
    }
}

/// One audit with all its findings and, for an SLA verification, the vendor-reported values
/// of the period it examines. The organisation's only.
#[derive(Debug, Clone, Serialize)]
pub struct AuditDetail {
    pub audit: AuditRow,
    pub findings: Vec<FindingRow>,
    /// The period an SLA verification examines.
    #[serde(serialize_with = "period_label")]
    pub period: Option<Period>,
    pub values: Vec<ReportedValue>,
}

fn period_label<S: serde::Serializer>(
    period: &Option<Period>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    period.map(|p| p.label()).serialize(serializer)
}

pub async fn detail(
    db: &mut PgConnection,
    access: &Access,
    audit: AuditRow,
) -> Result<AuditDetail> {
    let findings = findings(db, access.id, Some(audit.id), false).await?;
    let values = match audit.period_start {
        Some(start) => {
            sqlx::query_as(
                "select v.id, k.name as kpi, k.unit, v.value, v.state, v.dispute_note
                 from kpi_values v join kpis k on k.id = v.kpi_id
                 where k.engagement_id = $1 and k.source = 'vendor' and v.period_start = $2
                 order by lower(k.name)",
            )
            .bind(access.id)
            .bind(start)
            .fetch_all(&mut *db)
            .await?
        }
        None => Vec::new(),
    };
    let period = audit
        .period_start
        .map(|start| Period::containing(access.period_kind(), start));
    Ok(AuditDetail {
        audit,
        findings,
        period,
        values,
    })
}
