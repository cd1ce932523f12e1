//! Trust but verify: audits planned on the engagement's cadence (quality, security,
//! compliance, SLA verification), their outcome, and findings with a severity, the side that
//! remediates and a due date. The owning side answers a finding with a plan and evidence;
//! a manager verifies and closes it, or accepts the risk with a reason. An SLA verification
//! lists the vendor-reported values of its period to verify or dispute.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::audit::{self as audit_log, Outcome};
use crate::auth::{CurrentUser, session};
use crate::choice;
use crate::engagements::cadence::ReviewCadence;
use crate::engagements::{Access, access};
use crate::scorecard::scoring::Period;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::{AppError, Result};
use crate::web::form::{FailedRow, FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::routes::Routes;
use crate::web::validate;

choice!(pub Kind {
    Quality = "quality" / "Quality",
    Security = "security" / "Security",
    Compliance = "compliance" / "Compliance",
    SlaVerification = "sla_verification" / "SLA verification",
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

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub kind: String,
    pub scope: String,
    pub planned_on: NaiveDate,
    pub auditor: String,
    pub period_start: Option<NaiveDate>,
    pub status: String,
    pub outcome: Option<String>,
    pub summary: String,
    pub completed_on: Option<NaiveDate>,
    pub findings: i64,
    pub open_findings: i64,
}

impl AuditRow {
    pub fn kind_label(&self) -> &'static str {
        Kind::parse(&self.kind).map_or("", Kind::label)
    }

    pub fn outcome_label(&self) -> &'static str {
        self.outcome
            .as_deref()
            .and_then(AuditOutcome::parse)
            .map_or("Planned", AuditOutcome::label)
    }
}

#[derive(sqlx::FromRow)]
pub struct FindingRow {
    pub id: i64,
    pub audit_id: i64,
    pub audit_kind: String,
    pub severity: String,
    pub description: String,
    pub owner_side: String,
    pub due_on: NaiveDate,
    pub status: String,
    pub remediation_plan: String,
    pub evidence: String,
    pub answered_by: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub resolution_note: String,
    pub resolved_by: Option<String>,
}

impl FindingRow {
    pub fn severity_label(&self) -> &'static str {
        Severity::parse(&self.severity).map_or("", Severity::label)
    }

    pub fn side_label(&self) -> &'static str {
        Side::parse(&self.owner_side).map_or("", Side::label)
    }

    pub fn status_label(&self) -> &'static str {
        FindingStatus::parse(&self.status).map_or("", FindingStatus::label)
    }

    pub fn audit_kind_label(&self) -> &'static str {
        Kind::parse(&self.audit_kind).map_or("", Kind::label)
    }

    pub fn is_settled(&self) -> bool {
        self.status == "closed" || self.status == "risk_accepted"
    }
}

/// An engagement's findings, or one audit's; a vendor user's only those `crate::visibility`
/// lets them see (their side's).
async fn findings(
    db: &mut PgConnection,
    engagement_id: i64,
    audit_id: Option<i64>,
    for_vendor: bool,
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
         order by f.status in ('closed', 'risk_accepted'), f.due_on, f.id",
    )
    .bind(engagement_id)
    .bind(audit_id)
    .bind(for_vendor)
    .fetch_all(db)
    .await?)
}

#[derive(Template)]
#[template(path = "audits/list.html")]
struct ListPage {
    layout: Layout,
    access: Access,
    audits: Vec<AuditRow>,
    findings: Vec<FindingRow>,
    today: NaiveDate,
    next_audit_due: Option<NaiveDate>,
    failed: FailedRow,
}

impl ListPage {
    fn overdue(&self, f: &FindingRow) -> bool {
        !f.is_settled() && f.due_on < self.today
    }

    fn typed(&self, f: &FindingRow, field: &str) -> String {
        match (self.failed.typed(f.id, field), field) {
            (Some(typed), _) => typed.to_string(),
            (None, "remediation_plan") => f.remediation_plan.clone(),
            (None, "evidence") => f.evidence.clone(),
            (None, _) => String::new(),
        }
    }

    fn error(&self, f: &FindingRow, field: &str) -> Option<&str> {
        self.failed.error(f.id, field)
    }

    /// The owning side answers: vendor users for the vendor's findings, the engagement's
    /// managers for ours.
    fn can_answer(&self, f: &FindingRow) -> bool {
        !f.is_settled()
            && if f.owner_side == "vendor" {
                self.access.is_vendor
            } else {
                self.access.can_manage
            }
    }
}

async fn list_page(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    id: i64,
    failed: FailedRow,
) -> Result<String> {
    let access = access(db, &current.user, id).await?;
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
        .bind(id)
        .fetch_all(&mut *db)
        .await?
    };
    let findings = findings(db, id, None, access.is_vendor).await?;
    let next_audit_due: Option<NaiveDate> =
        sqlx::query_scalar("select next_audit_due from engagements where id = $1")
            .bind(id)
            .fetch_one(&mut *db)
            .await?;
    let page = ListPage {
        layout: Layout::new(
            &current.session,
            format!("Audits: {}", access.name),
            "/engagements",
        ),
        today: state.clock.today(access.zone()),
        access,
        audits,
        findings,
        next_audit_due,
        failed,
    };
    Ok(page.render()?)
}

pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Html(
        list_page(&state, &current, &mut conn, id, FailedRow::default()).await?,
    ))
}

#[derive(Template)]
#[template(path = "audits/new.html")]
struct NewPage {
    layout: Layout,
    access: Access,
    form: Pairs,
    errors: FieldErrors,
    periods: Vec<(String, String)>,
}

impl NewPage {
    fn kind_options(&self) -> Vec<(String, String)> {
        Kind::options_with_prompt()
    }
}

fn period_options(periods: &[Period]) -> Vec<(String, String)> {
    let mut options = vec![(String::new(), "Not an SLA verification".to_string())];
    options.extend(periods.iter().map(|p| (p.label(), p.label())));
    options
}

pub async fn new(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let access = access(&mut conn, &current.user, id).await?;
    access.require_manage()?;
    let periods = access.closed_periods(&state.clock);
    let due: Option<NaiveDate> =
        sqlx::query_scalar("select next_audit_due from engagements where id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    let planned = due
        .unwrap_or_else(|| state.clock.today(access.zone()))
        .to_string();
    let page = NewPage {
        layout: Layout::new(
            &current.session,
            format!("Plan an audit: {}", access.name),
            "/engagements",
        ),
        access,
        form: Pairs(vec![
            ("form_key".into(), uuid::Uuid::new_v4().to_string()),
            ("planned_on".into(), planned),
        ]),
        errors: FieldErrors::default(),
        periods: period_options(&periods),
    };
    Ok(Html(page.render()?))
}

pub async fn create(
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
    let mut errors = FieldErrors::default();
    let kind = validate::choice(
        &mut errors,
        "kind",
        form.get("kind"),
        Kind::parse,
        "Choose quality, security, compliance or SLA verification.",
    );
    let scope = validate::required(
        &mut errors,
        "scope",
        form.get("scope"),
        2000,
        "Say what the audit covers.",
    );
    let planned_on = validate::date(&mut errors, "planned_on", form.get("planned_on"), true);
    let auditor = validate::required(
        &mut errors,
        "auditor",
        form.get("auditor"),
        200,
        "Name the auditor: a person or a firm.",
    );
    let period = periods
        .iter()
        .find(|p| p.label() == form.get("period"))
        .copied();
    match (kind, period) {
        (Some(Kind::SlaVerification), None) => {
            errors.add("period", "Choose the period whose values it verifies.")
        }
        (Some(k), Some(_)) if k != Kind::SlaVerification => {
            errors.add("period", "Only an SLA verification examines a period.")
        }
        _ => {}
    }
    let (Some(kind), Some(planned_on)) = (kind, planned_on) else {
        return render_new(&current, access, form, errors, &periods);
    };
    if !errors.is_empty() {
        return render_new(&current, access, form, errors, &periods);
    }
    let audit: Option<i64> = sqlx::query_scalar(
        "insert into audits (engagement_id, kind, scope, planned_on, auditor, period_start, created_by, created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (form_key) do nothing returning id",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(&scope)
    .bind(planned_on)
    .bind(&auditor)
    .bind(period.map(|p| p.start))
    .bind(current.user.id)
    .bind(now)
    .bind(form_key(&form))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(audit) = audit else {
        return Ok(Redirect::to(&format!("/engagements/{id}/audits")).into_response());
    };
    audit_log::Entry::by(&current.user, "audit.plan", Outcome::Success)
        .target(format!("engagement:{id}"))
        .client_addr(addr)
        .details(serde_json::json!({ "audit_id": audit, "kind": kind, "planned_on": planned_on }))
        .write(&mut *tx, now)
        .await?;
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success(format!("{} audit planned for {planned_on}.", kind.label())),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/audits/{audit}")).into_response())
}

fn render_new(
    current: &CurrentUser,
    access: Access,
    form: Pairs,
    errors: FieldErrors,
    periods: &[Period],
) -> Result<Response> {
    let page = NewPage {
        layout: Layout::new(
            &current.session,
            format!("Plan an audit: {}", access.name),
            "/engagements",
        ),
        access,
        form,
        errors,
        periods: period_options(periods),
    };
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

/// A vendor-reported value of the period an SLA verification examines.
#[derive(sqlx::FromRow)]
pub struct ReportedValue {
    pub id: i64,
    pub kpi: String,
    pub unit: String,
    pub value: Decimal,
    pub state: String,
    pub dispute_note: String,
}

#[derive(Template)]
#[template(path = "audits/show.html")]
struct ShowPage {
    layout: Layout,
    access: Access,
    audit: AuditRow,
    findings: Vec<FindingRow>,
    values: Vec<ReportedValue>,
    period_label: String,
    today: NaiveDate,
    form: Pairs,
    errors: FieldErrors,
}

impl ShowPage {
    fn outcome_options(&self) -> Vec<(String, String)> {
        AuditOutcome::options_with_prompt()
    }

    fn severity_options(&self) -> Vec<(String, String)> {
        Severity::options_with_prompt()
    }

    fn side_options(&self) -> Vec<(String, String)> {
        Side::options_with_prompt()
    }

    /// The error of finding `f`'s resolve form, if that one failed.
    fn resolve_error(&self, f: &FindingRow) -> Option<&str> {
        (self.form.get("finding") == f.id.to_string())
            .then(|| self.errors.get("resolution_note"))
            .flatten()
    }

    fn resolve_note(&self, f: &FindingRow) -> &str {
        if self.form.get("finding") == f.id.to_string() {
            self.form.get("resolution_note")
        } else {
            ""
        }
    }

    fn shown(&self, value: &ReportedValue) -> String {
        crate::engagements::kpis::with_unit(value.value, &value.unit)
    }
}

async fn load_audit(db: &mut PgConnection, audit: i64) -> Result<(i64, AuditRow)> {
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

/// Audits are the organisation's records: to a vendor user they do not exist (the
/// findings of their side show on the engagement's audits page).
async fn show_page(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    audit_id: i64,
    form: Option<Pairs>,
    errors: FieldErrors,
) -> Result<ShowPage> {
    let (engagement_id, audit) = load_audit(db, audit_id).await?;
    let access = access(db, &current.user, engagement_id).await?;
    if access.is_vendor {
        return Err(AppError::NotFound);
    }
    let today = state.clock.today(access.zone());
    let form = form.unwrap_or_else(|| {
        Pairs(vec![
            ("form_key".into(), uuid::Uuid::new_v4().to_string()),
            ("completed_on".into(), today.to_string()),
            (
                "due_on".into(),
                (today + chrono::Duration::days(30)).to_string(),
            ),
        ])
    });
    let findings = findings(db, engagement_id, Some(audit_id), false).await?;
    let values = match audit.period_start {
        Some(start) => {
            sqlx::query_as(
                "select v.id, k.name as kpi, k.unit, v.value, v.state, v.dispute_note
                 from kpi_values v join kpis k on k.id = v.kpi_id
                 where k.engagement_id = $1 and k.source = 'vendor' and v.period_start = $2
                 order by lower(k.name)",
            )
            .bind(engagement_id)
            .bind(start)
            .fetch_all(&mut *db)
            .await?
        }
        None => Vec::new(),
    };
    let period_label = audit
        .period_start
        .map(|start| Period::containing(access.period_kind(), start).label())
        .unwrap_or_default();
    Ok(ShowPage {
        layout: Layout::new(
            &current.session,
            format!("{} audit: {}", audit.kind_label(), access.name),
            "/engagements",
        ),
        access,
        audit,
        findings,
        values,
        period_label,
        today,
        form,
        errors,
    })
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(audit): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let page = show_page(
        &state,
        &current,
        &mut conn,
        audit,
        None,
        FieldErrors::default(),
    )
    .await?;
    Ok(Html(page.render()?))
}

/// Records the outcome; the engagement's next audit is due one audit cadence later.
pub async fn complete(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(audit): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let (engagement_id, row) = load_audit(&mut tx, audit).await?;
    let access = access(&mut tx, &current.user, engagement_id).await?;
    access.require_manage()?;
    if row.status == "completed" {
        return Ok(Redirect::to(&format!("/audits/{audit}")).into_response());
    }
    let mut errors = FieldErrors::default();
    let outcome = validate::choice(
        &mut errors,
        "outcome",
        form.get("outcome"),
        AuditOutcome::parse,
        "Choose pass, pass with findings or fail.",
    );
    let summary = validate::required(
        &mut errors,
        "summary",
        form.get("summary"),
        4000,
        "Summarise what the audit found.",
    );
    let completed_on = validate::date(&mut errors, "completed_on", form.get("completed_on"), true);
    let today = state.clock.today(access.zone());
    if completed_on.is_some_and(|d| d > today) {
        errors.add("completed_on", "An audit completes today or earlier.");
    }
    if outcome == Some(AuditOutcome::PassWithFindings) && row.findings == 0 {
        errors.add(
            "outcome",
            "Record the findings first, then complete the audit with them.",
        );
    }
    let (Some(outcome), Some(completed_on)) = (outcome, completed_on) else {
        return render_show(&state, &current, &mut tx, audit, form, errors).await;
    };
    if !errors.is_empty() {
        return render_show(&state, &current, &mut tx, audit, form, errors).await;
    }
    let cadence: String = sqlx::query_scalar("select audit_cadence from engagements where id = $1")
        .bind(engagement_id)
        .fetch_one(&mut *tx)
        .await?;
    let next = ReviewCadence::parse(&cadence)
        .unwrap_or(ReviewCadence::Semiannual)
        .next_due(completed_on);
    sqlx::query(
        "update audits set status = 'completed', outcome = $2, summary = $3, completed_on = $4, completed_by = $5
         where id = $1",
    )
    .bind(audit)
    .bind(outcome.as_str())
    .bind(&summary)
    .bind(completed_on)
    .bind(current.user.id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("update engagements set next_audit_due = $2 where id = $1")
        .bind(engagement_id)
        .bind(next)
        .execute(&mut *tx)
        .await?;
    audit_log::Entry::by(&current.user, "audit.complete", Outcome::Success)
        .target(format!("engagement:{engagement_id}"))
        .client_addr(addr)
        .details(
            serde_json::json!({ "audit_id": audit, "outcome": outcome, "next_audit_due": next }),
        )
        .write(&mut *tx, now)
        .await?;
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success(format!(
            "Audit completed: {}. The next audit is due by {next}.",
            outcome.label().to_lowercase()
        )),
    )
    .await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, engagement_id).await;
    Ok(Redirect::to(&format!("/audits/{audit}")).into_response())
}

async fn render_show(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    audit: i64,
    form: Pairs,
    errors: FieldErrors,
) -> Result<Response> {
    let page = show_page(state, current, db, audit, Some(form), errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
}

pub async fn add_finding(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(audit): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let (engagement_id, _) = load_audit(&mut tx, audit).await?;
    let access = access(&mut tx, &current.user, engagement_id).await?;
    access.require_manage()?;
    let mut errors = FieldErrors::default();
    let severity = validate::choice(
        &mut errors,
        "severity",
        form.get("severity"),
        Severity::parse,
        "Choose a severity.",
    );
    let description = validate::required(
        &mut errors,
        "description",
        form.get("description"),
        4000,
        "Describe the finding.",
    );
    let side = validate::choice(
        &mut errors,
        "owner_side",
        form.get("owner_side"),
        Side::parse,
        "Choose who remediates it.",
    );
    let due_on = validate::date(&mut errors, "due_on", form.get("due_on"), true);
    let (Some(severity), Some(side), Some(due_on)) = (severity, side, due_on) else {
        return render_show(&state, &current, &mut tx, audit, form, errors).await;
    };
    if !errors.is_empty() {
        return render_show(&state, &current, &mut tx, audit, form, errors).await;
    }
    let finding: Option<i64> = sqlx::query_scalar(
        "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on, created_by,
                               created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (form_key) do nothing returning id",
    )
    .bind(audit)
    .bind(engagement_id)
    .bind(severity.as_str())
    .bind(&description)
    .bind(side.as_str())
    .bind(due_on)
    .bind(current.user.id)
    .bind(now)
    .bind(form_key(&form))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(finding) = finding {
        audit_log::Entry::by(&current.user, "finding.create", Outcome::Success)
            .target(format!("engagement:{engagement_id}"))
            .client_addr(addr)
            .details(serde_json::json!({
                "finding_id": finding, "audit_id": audit, "severity": severity, "owner_side": side, "due_on": due_on,
            }))
            .write(&mut *tx, now)
            .await?;
        session::set_flash(
            &mut *tx,
            &current.session,
            Flash::success(format!(
                "{} finding recorded, due {due_on}.",
                severity.label()
            )),
        )
        .await?;
        tx.commit().await?;
        crate::reminders::refresh(&state, engagement_id).await;
    }
    Ok(Redirect::to(&format!("/audits/{audit}#findings")).into_response())
}

#[derive(sqlx::FromRow)]
struct FindingState {
    engagement_id: i64,
    audit_id: i64,
    owner_side: String,
    status: String,
}

async fn finding_state(db: &mut PgConnection, finding: i64) -> Result<FindingState> {
    sqlx::query_as(
        "select engagement_id, audit_id, owner_side, status from findings where id = $1 for update",
    )
    .bind(finding)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)
}

/// The owning side answers with a remediation plan and evidence notes; a vendor user
/// answers only their side's findings, and never sees ours.
pub async fn answer(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(finding): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let row = finding_state(&mut tx, finding).await?;
    let access = access(&mut tx, &current.user, row.engagement_id).await?;
    match (access.is_vendor, row.owner_side.as_str()) {
        (true, "vendor") => {}
        (true, _) => return Err(AppError::NotFound),
        (false, "ours") => access.require_manage()?,
        (false, _) => return Err(AppError::Forbidden),
    }
    let back = format!(
        "/engagements/{}/audits#finding-{finding}",
        row.engagement_id
    );
    if row.status == "closed" || row.status == "risk_accepted" {
        return Ok(Redirect::to(&back).into_response());
    }
    let mut errors = FieldErrors::default();
    let plan = validate::required(
        &mut errors,
        "remediation_plan",
        form.get("remediation_plan"),
        4000,
        "Say how and by when it will be remediated.",
    );
    let evidence = validate::optional(&mut errors, "evidence", form.get("evidence"), 4000);
    if !errors.is_empty() {
        let html = list_page(
            &state,
            &current,
            &mut tx,
            row.engagement_id,
            FailedRow::new(finding, form, errors),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response());
    }
    sqlx::query(
        "update findings set remediation_plan = $2, evidence = $3, status = 'answered', answered_by = $4,
                             answered_at = $5
         where id = $1",
    )
    .bind(finding)
    .bind(&plan)
    .bind(&evidence)
    .bind(current.user.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit_log::Entry::by(&current.user, "finding.answer", Outcome::Success)
        .target(format!("engagement:{}", row.engagement_id))
        .client_addr(addr)
        .details(serde_json::json!({ "finding_id": finding, "audit_id": row.audit_id }))
        .write(&mut *tx, now)
        .await?;
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success("The remediation plan is recorded; a manager verifies it."),
    )
    .await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, access.id).await;
    Ok(Redirect::to(&back).into_response())
}

/// A manager verifies and closes a finding, or accepts its risk with a reason.
pub async fn resolve(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(finding): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let row = finding_state(&mut tx, finding).await?;
    let access = access(&mut tx, &current.user, row.engagement_id).await?;
    access.require_manage()?;
    let back = format!("/audits/{}#finding-{finding}", row.audit_id);
    if row.status == "closed" || row.status == "risk_accepted" {
        return Ok(Redirect::to(&back).into_response());
    }
    let note = form.get("resolution_note").trim().to_string();
    let status = match form.get("resolution") {
        "closed" => FindingStatus::Closed,
        "risk_accepted" => FindingStatus::RiskAccepted,
        _ => {
            return Err(AppError::BadRequest(
                "Choose verify and close, or accept the risk.".into(),
            ));
        }
    };
    let mut errors = FieldErrors::default();
    if note.chars().count() > 2000 {
        errors.add("resolution_note", "Use at most 2000 characters.");
    } else if status == FindingStatus::RiskAccepted && note.is_empty() {
        errors.add(
            "resolution_note",
            "Say why the risk is accepted: the reason stays on record.",
        );
    } else if status == FindingStatus::Closed && row.status == "open" && note.is_empty() {
        errors.add(
            "resolution_note",
            "No remediation plan was recorded: say what you verified.",
        );
    }
    if !errors.is_empty() {
        let mut form = form;
        form.0.push(("finding".into(), finding.to_string()));
        return render_show(&state, &current, &mut tx, row.audit_id, form, errors).await;
    }
    sqlx::query(
        "update findings set status = $2, resolution_note = $3, resolved_by = $4, resolved_at = $5 where id = $1",
    )
    .bind(finding)
    .bind(status.as_str())
    .bind(&note)
    .bind(current.user.id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit_log::Entry::by(&current.user, "finding.resolve", Outcome::Success)
        .target(format!("engagement:{}", row.engagement_id))
        .client_addr(addr)
        .details(serde_json::json!({ "finding_id": finding, "status": status, "note": note }))
        .write(&mut *tx, now)
        .await?;
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success(format!("Finding: {}.", status.label().to_lowercase())),
    )
    .await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, access.id).await;
    Ok(Redirect::to(&back).into_response())
}

/// The routes of audits.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/audits", list)
        .get("/engagements/{id}/audits/new", new)
        .post("/engagements/{id}/audits/new", create)
        .get("/audits/{id}", show)
        .post("/audits/{id}/complete", complete)
        .post("/audits/{id}/findings", add_finding)
        .post("/findings/{id}/answer", answer)
        .post("/findings/{id}/resolve", resolve)
}
