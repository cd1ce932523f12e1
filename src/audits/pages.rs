//! The audit pages: an engagement's audits and findings, planning an audit, one audit with
//! its findings (and the values an SLA verification examines), and completing it.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use sqlx::PgConnection;

use std::collections::BTreeMap;

use super::attachments::{self, Attachment, Holder};
use super::model::{self, AuditRow, FindingRow, ReportedValue};
use super::{AuditOutcome, Kind, Severity, Side};
use crate::auth::CurrentUser;
use crate::auth::policy;
use crate::engagements::ReviewCadence;
use crate::engagements::Viewing;
use crate::engagements::{self, Access, Due, access};
use crate::period::Period;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FailedRow, FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

#[derive(Template)]
#[template(path = "audits/list.html")]
pub(super) struct ListPage {
    layout: Layout,
    access: Access,
    audits: Vec<AuditRow>,
    findings: Vec<FindingRow>,
    today: NaiveDate,
    next_audit_due: Option<NaiveDate>,
    failed: FailedRow,
    /// Each finding's evidence files.
    evidence: BTreeMap<i64, Vec<Attachment>>,
    /// The evidence upload that was refused, if one was.
    upload: FailedRow,
}

impl ListPage {
    fn overdue(&self, f: &FindingRow) -> bool {
        f.is_overdue(self.today)
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

    fn evidence_of(&self, f: &FindingRow) -> &[Attachment] {
        self.evidence.get(&f.id).map_or(&[], Vec::as_slice)
    }

    /// Evidence comes from the remediating side or the engagement's managers
    /// (`policy::may_attach_evidence`), while the finding is not settled.
    fn can_attach(&self, f: &FindingRow) -> bool {
        !f.is_settled()
            && policy::may_attach_evidence(self.access.reader(), f.owner_side == Side::Vendor)
                .is_ok()
    }

    /// What was typed in the refused evidence form of `f`, if it was refused.
    fn upload_typed(&self, f: &FindingRow, field: &str) -> &str {
        self.upload.typed(f.id, field).unwrap_or_default()
    }

    fn upload_error(&self, f: &FindingRow, field: &str) -> Option<&str> {
        self.upload.error(f.id, field)
    }

    /// The key of `f`'s evidence form: the refused form's again, or a fresh one.
    fn upload_key(&self, f: &FindingRow) -> String {
        match self.upload.typed(f.id, "form_key") {
            Some(key) if !key.is_empty() => key.to_string(),
            _ => uuid::Uuid::new_v4().to_string(),
        }
    }

    /// The owning side answers (`policy::may_answer_finding`), while it is not settled.
    fn can_answer(&self, f: &FindingRow) -> bool {
        !f.is_settled()
            && policy::may_answer_finding(self.access.reader(), f.owner_side == Side::Vendor)
                .is_ok()
    }
}

pub(super) async fn list_page(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    id: i64,
    failed: FailedRow,
    upload: FailedRow,
) -> Result<ListPage> {
    let access = access(db, &current.user, id).await?;
    let audits = model::of_engagement(db, &access).await?;
    let finding_ids: Vec<i64> = audits.findings.iter().map(|f| f.id).collect();
    let evidence =
        attachments::attachments(db, Holder::Finding, &finding_ids, access.is_vendor).await?;
    Ok(ListPage {
        layout: Layout::new(
            &current.session,
            format!("Audits: {}", access.name),
            "/engagements",
        ),
        today: state.clock.today(access.zone()),
        access,
        audits: audits.audits,
        findings: audits.findings,
        next_audit_due: audits.next_audit_due,
        failed,
        evidence,
        upload,
    })
}

pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let page = list_page(
        &state,
        &current,
        &mut conn,
        id,
        FailedRow::default(),
        FailedRow::default(),
    )
    .await?;
    Ok(Html(page.render()?))
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

fn new_page(
    current: &CurrentUser,
    access: Access,
    form: Pairs,
    errors: FieldErrors,
    periods: &[Period],
) -> NewPage {
    let mut options = vec![(String::new(), "Not an SLA verification".to_string())];
    options.extend(periods.iter().map(|p| (p.label(), p.label())));
    NewPage {
        layout: Layout::new(
            &current.session,
            format!("Plan an audit: {}", access.name),
            "/engagements",
        ),
        access,
        form,
        errors,
        periods: options,
    }
}

pub async fn new(
    State(state): State<AppState>,
    Viewing { current, access }: Viewing,
) -> Result<Html<String>> {
    let id = access.id;
    let mut conn = state.pool.acquire().await?;
    access.require_manage()?;
    let periods = access.closed_periods(&state.clock);
    let due = engagements::next_due(&mut conn, id, Due::Audit).await?;
    let planned = due
        .unwrap_or_else(|| state.clock.today(access.zone()))
        .to_string();
    let form = Pairs(vec![
        ("form_key".into(), uuid::Uuid::new_v4().to_string()),
        ("planned_on".into(), planned),
    ]);
    let page = new_page(&current, access, form, FieldErrors::default(), &periods);
    Ok(Html(page.render()?))
}

/// A planned audit, as the form gives it.
pub struct NewAudit {
    pub kind: Kind,
    pub scope: String,
    pub planned_on: NaiveDate,
    pub auditor: String,
    /// The closed period an SLA verification examines (one of `periods`).
    pub period: Option<Period>,
}

impl NewAudit {
    pub fn parse(form: &Pairs, periods: &[Period]) -> Result<NewAudit, FieldErrors> {
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
        match (kind, planned_on) {
            (Some(kind), Some(planned_on)) if errors.is_empty() => Ok(NewAudit {
                kind,
                scope,
                planned_on,
                auditor,
                period,
            }),
            _ => Err(errors),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let access = access(change.db(), &current.user, id).await?;
    access.require_manage()?;
    let periods = access.closed_periods(&state.clock);
    let input = match NewAudit::parse(&form, &periods) {
        Ok(input) => input,
        Err(errors) => return refused(new_page(&current, access, form, errors, &periods)),
    };
    let audit: Option<i64> = sqlx::query_scalar(
        "insert into audits (engagement_id, kind, scope, planned_on, auditor, period_start, created_by, created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (form_key) do nothing returning id",
    )
    .bind(id)
    .bind(input.kind)
    .bind(&input.scope)
    .bind(input.planned_on)
    .bind(&input.auditor)
    .bind(input.period.map(|p| p.start))
    .bind(current.user.id)
    .bind(change.now)
    .bind(form_key(&form))
    .fetch_optional(change.db())
    .await?;
    let Some(audit) = audit else {
        return Ok(Redirect::to(&format!("/engagements/{id}/audits")).into_response());
    };
    let NewAudit {
        kind, planned_on, ..
    } = input;
    change
        .audit(
            "audit.plan",
            format!("engagement:{id}"),
            serde_json::json!({ "audit_id": audit, "kind": kind, "planned_on": planned_on }),
        )
        .await?;
    change
        .flash(Flash::success(format!(
            "{} audit planned for {planned_on}.",
            kind.label()
        )))
        .await?;
    change.commit().await?;
    Ok(Redirect::to(&format!("/audits/{audit}")).into_response())
}

#[derive(Template)]
#[template(path = "audits/show.html")]
pub(super) struct ShowPage {
    layout: Layout,
    access: Access,
    audit: AuditRow,
    findings: Vec<FindingRow>,
    values: Vec<ReportedValue>,
    period: Option<Period>,
    today: NaiveDate,
    form: Pairs,
    errors: FieldErrors,
    /// Each finding's evidence files.
    evidence: BTreeMap<i64, Vec<Attachment>>,
    /// The audit's working papers.
    papers: Vec<Attachment>,
    /// The working-paper form, as typed when it was refused.
    papers_form: Pairs,
    papers_errors: FieldErrors,
}

impl ShowPage {
    fn evidence_of(&self, f: &FindingRow) -> &[Attachment] {
        self.evidence.get(&f.id).map_or(&[], Vec::as_slice)
    }

    fn outcome_options(&self) -> Vec<(String, String)> {
        AuditOutcome::options_with_prompt()
    }

    fn severity_options(&self) -> Vec<(String, String)> {
        Severity::options_with_prompt()
    }

    fn side_options(&self) -> Vec<(String, String)> {
        Side::options_with_prompt()
    }

    fn period_label(&self) -> String {
        self.period.map(|p| p.label()).unwrap_or_default()
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
        value.shown()
    }
}

/// Audits are the organisation's records: to a vendor user they do not exist (the
/// findings of their side show on the engagement's audits page).
pub(super) async fn show_page(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    audit_id: i64,
    form: Option<Pairs>,
    errors: FieldErrors,
    papers_form: Option<(Pairs, FieldErrors)>,
) -> Result<ShowPage> {
    let (engagement_id, audit) = model::load_audit(db, audit_id).await?;
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
    let detail = model::detail(db, &access, audit).await?;
    let finding_ids: Vec<i64> = detail.findings.iter().map(|f| f.id).collect();
    let evidence = attachments::attachments(db, Holder::Finding, &finding_ids, false).await?;
    let papers = attachments::attachments(db, Holder::Audit, &[audit_id], false)
        .await?
        .remove(&audit_id)
        .unwrap_or_default();
    let (papers_form, papers_errors) = papers_form.unwrap_or_else(|| {
        (
            Pairs(vec![("form_key".into(), uuid::Uuid::new_v4().to_string())]),
            FieldErrors::default(),
        )
    });
    Ok(ShowPage {
        layout: Layout::new(
            &current.session,
            format!("{} audit: {}", detail.audit.kind_label(), access.name),
            "/engagements",
        ),
        access,
        audit: detail.audit,
        findings: detail.findings,
        values: detail.values,
        period: detail.period,
        today,
        form,
        errors,
        evidence,
        papers,
        papers_form,
        papers_errors,
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
        None,
    )
    .await?;
    Ok(Html(page.render()?))
}

/// An audit's outcome, as the complete form gives it.
pub struct AuditCompletion {
    pub outcome: AuditOutcome,
    pub summary: String,
    pub completed_on: NaiveDate,
}

impl AuditCompletion {
    /// `today` in the engagement's zone; `findings` is how many the audit has.
    pub fn parse(
        form: &Pairs,
        today: NaiveDate,
        findings: i64,
    ) -> Result<AuditCompletion, FieldErrors> {
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
        let completed_on =
            validate::date(&mut errors, "completed_on", form.get("completed_on"), true);
        if completed_on.is_some_and(|d| d > today) {
            errors.add("completed_on", "An audit completes today or earlier.");
        }
        if outcome == Some(AuditOutcome::PassWithFindings) && findings == 0 {
            errors.add(
                "outcome",
                "Record the findings first, then complete the audit with them.",
            );
        }
        match (outcome, completed_on) {
            (Some(outcome), Some(completed_on)) if errors.is_empty() => Ok(AuditCompletion {
                outcome,
                summary,
                completed_on,
            }),
            _ => Err(errors),
        }
    }
}

/// Records the outcome; the engagement's next audit is due one audit cadence later.
pub async fn complete(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(audit): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (engagement_id, row) = model::load_audit(change.db(), audit).await?;
    let access = access(change.db(), &current.user, engagement_id).await?;
    access.require_manage()?;
    if !row.is_planned() {
        return Ok(Redirect::to(&format!("/audits/{audit}")).into_response());
    }
    let today = state.clock.today(access.zone());
    let input = match AuditCompletion::parse(&form, today, row.findings) {
        Ok(input) => input,
        Err(errors) => {
            let page = show_page(
                &state,
                &current,
                change.db(),
                audit,
                Some(form),
                errors,
                None,
            )
            .await?;
            return refused(page);
        }
    };
    let cadence: ReviewCadence = engagements::cadences(change.db(), engagement_id)
        .await?
        .audit;
    let next = cadence.next_due(input.completed_on);
    sqlx::query(
        "update audits set status = 'completed', outcome = $2, summary = $3, completed_on = $4, completed_by = $5
         where id = $1",
    )
    .bind(audit)
    .bind(input.outcome)
    .bind(&input.summary)
    .bind(input.completed_on)
    .bind(current.user.id)
    .execute(change.db())
    .await?;
    engagements::set_next_due(change.db(), engagement_id, Due::Audit, next).await?;
    let outcome = input.outcome;
    change
        .audit(
            "audit.complete",
            format!("engagement:{engagement_id}"),
            serde_json::json!({ "audit_id": audit, "outcome": outcome, "next_audit_due": next }),
        )
        .await?;
    change
        .flash(Flash::success(format!(
            "Audit completed: {}. The next audit is due by {next}.",
            outcome.label().to_lowercase()
        )))
        .await?;
    change.commit_and_refresh(engagement_id).await?;
    Ok(Redirect::to(&format!("/audits/{audit}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::PeriodKind;

    fn form(pairs: &[(&str, &str)]) -> Pairs {
        Pairs(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn only_an_sla_verification_examines_a_period_and_it_must_name_one() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).expect("a date");
        let periods = [Period::containing(PeriodKind::Monthly, day)];
        let label = periods[0].label();
        let base = [
            ("scope", "Everything"),
            ("planned_on", "2026-04-01"),
            ("auditor", "Ann"),
        ];
        let with = |extra: &[(&str, &str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            NewAudit::parse(&form(&all), &periods)
        };
        let sla = with(&[("kind", "sla_verification"), ("period", &label)]).expect("valid");
        assert_eq!(sla.period, Some(periods[0]));
        let errors = with(&[("kind", "sla_verification")])
            .err()
            .expect("refused");
        assert!(errors.get("period").is_some());
        let errors = with(&[("kind", "quality"), ("period", &label)])
            .err()
            .expect("refused");
        assert!(errors.get("period").is_some());
        assert!(with(&[("kind", "quality")]).is_ok_and(|a| a.period.is_none()));
    }

    #[test]
    fn an_outcome_with_findings_needs_findings_and_a_day_not_in_the_future() {
        let today = NaiveDate::from_ymd_opt(2026, 4, 10).expect("a date");
        let posted = |outcome: &str, on: &str| {
            form(&[
                ("outcome", outcome),
                ("summary", "Done"),
                ("completed_on", on),
            ])
        };
        let refused = AuditCompletion::parse(&posted("pass_with_findings", "2026-04-10"), today, 0)
            .err()
            .expect("refused");
        assert!(refused.get("outcome").is_some());
        assert!(
            AuditCompletion::parse(&posted("pass_with_findings", "2026-04-10"), today, 2).is_ok()
        );
        let refused = AuditCompletion::parse(&posted("pass", "2026-04-11"), today, 0)
            .err()
            .expect("refused");
        assert!(refused.get("completed_on").is_some());
    }
}
