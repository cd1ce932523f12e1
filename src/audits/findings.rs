//! The writes on findings: recording one on an audit, the owning side's answer (a
//! remediation plan and evidence), and a manager's resolution (verified and closed, or the
//! risk accepted). Who may do each is the policy module's (`auth::policy`).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use sqlx::PgConnection;

use super::pages::{list_page, show_page};
use super::{FindingStatus, Severity, Side, model};
use crate::auth::CurrentUser;
use crate::auth::policy;
use crate::engagements::access;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FailedRow, FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::Flash;
use crate::web::validate;

/// A finding, as the record form gives it.
pub struct NewFinding {
    pub severity: Severity,
    pub description: String,
    pub owner_side: Side,
    pub due_on: NaiveDate,
}

impl NewFinding {
    pub fn parse(form: &Pairs) -> Result<NewFinding, FieldErrors> {
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
        match (severity, side, due_on) {
            (Some(severity), Some(owner_side), Some(due_on)) if errors.is_empty() => {
                Ok(NewFinding {
                    severity,
                    description,
                    owner_side,
                    due_on,
                })
            }
            _ => Err(errors),
        }
    }
}

pub async fn add(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(audit): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (engagement_id, _) = model::load_audit(change.db(), audit).await?;
    let access = access(change.db(), &current.user, engagement_id).await?;
    access.require_manage()?;
    let input = match NewFinding::parse(&form) {
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
    let finding: Option<i64> = sqlx::query_scalar(
        "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on, created_by,
                               created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (form_key) do nothing returning id",
    )
    .bind(audit)
    .bind(engagement_id)
    .bind(input.severity)
    .bind(&input.description)
    .bind(input.owner_side)
    .bind(input.due_on)
    .bind(current.user.id)
    .bind(change.now)
    .bind(form_key(&form))
    .fetch_optional(change.db())
    .await?;
    if let Some(finding) = finding {
        let NewFinding {
            severity,
            owner_side,
            due_on,
            ..
        } = input;
        change
            .audit(
                "finding.create",
                format!("engagement:{engagement_id}"),
                serde_json::json!({
                    "finding_id": finding, "audit_id": audit, "severity": severity, "owner_side": owner_side,
                    "due_on": due_on,
                }),
            )
            .await?;
        change
            .flash(Flash::success(format!(
                "{} finding recorded, due {due_on}.",
                severity.label()
            )))
            .await?;
        change.commit_and_refresh(engagement_id).await?;
    }
    Ok(Redirect::to(&format!("/audits/{audit}#findings")).into_response())
}

#[derive(sqlx::FromRow)]
struct FindingState {
    engagement_id: i64,
    audit_id: i64,
    owner_side: Side,
    status: FindingStatus,
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

/// The owning side's answer to a finding.
pub struct FindingAnswer {
    pub remediation_plan: String,
    pub evidence: String,
}

impl FindingAnswer {
    pub fn parse(form: &Pairs) -> Result<FindingAnswer, FieldErrors> {
        let mut errors = FieldErrors::default();
        let remediation_plan = validate::required(
            &mut errors,
            "remediation_plan",
            form.get("remediation_plan"),
            4000,
            "Say how and by when it will be remediated.",
        );
        let evidence = validate::optional(&mut errors, "evidence", form.get("evidence"), 4000);
        if errors.is_empty() {
            Ok(FindingAnswer {
                remediation_plan,
                evidence,
            })
        } else {
            Err(errors)
        }
    }
}

/// A finding locked for `user` to answer, after the policy's checks: the same 404 for a
/// finding of the other side that a vendor user may not see as for a missing one.
pub struct LockedFinding {
    pub engagement_id: i64,
    pub audit_id: i64,
    pub status: FindingStatus,
    pub access: crate::engagements::Access,
}

pub async fn lock_to_answer(
    db: &mut PgConnection,
    user: &crate::auth::User,
    finding: i64,
) -> Result<LockedFinding> {
    let row = finding_state(db, finding).await?;
    let access = access(db, user, row.engagement_id).await?;
    policy::may_answer_finding(access.reader(), row.owner_side == Side::Vendor)?;
    Ok(LockedFinding {
        engagement_id: row.engagement_id,
        audit_id: row.audit_id,
        status: row.status,
        access,
    })
}

/// Writes the answer of `user_id` to a locked finding, with its audit entry.
pub async fn write_answer(
    change: &mut Change<'_>,
    locked: &LockedFinding,
    finding: i64,
    user_id: i64,
    input: &FindingAnswer,
) -> Result<()> {
    let now = change.now;
    sqlx::query(
        "update findings set remediation_plan = $2, evidence = $3, status = 'answered', answered_by = $4,
                             answered_at = $5
         where id = $1",
    )
    .bind(finding)
    .bind(&input.remediation_plan)
    .bind(&input.evidence)
    .bind(user_id)
    .bind(now)
    .execute(change.db())
    .await?;
    change
        .audit(
            "finding.answer",
            format!("engagement:{}", locked.engagement_id),
            serde_json::json!({ "finding_id": finding, "audit_id": locked.audit_id }),
        )
        .await
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
    let mut change = Change::begin(&state, &current, addr).await?;
    let locked = lock_to_answer(change.db(), &current.user, finding).await?;
    let back = format!(
        "/engagements/{}/audits#finding-{finding}",
        locked.engagement_id
    );
    if locked.status.is_settled() {
        return Ok(Redirect::to(&back).into_response());
    }
    let input = match FindingAnswer::parse(&form) {
        Ok(input) => input,
        Err(errors) => {
            let failed = FailedRow::new(finding, form, errors);
            let page = list_page(
                &state,
                &current,
                change.db(),
                locked.engagement_id,
                failed,
                FailedRow::default(),
            )
            .await?;
            return refused(page);
        }
    };
    write_answer(&mut change, &locked, finding, current.user.id, &input).await?;
    change
        .flash(Flash::success(
            "The remediation plan is recorded; a manager verifies it.",
        ))
        .await?;
    change.commit_and_refresh(locked.engagement_id).await?;
    Ok(Redirect::to(&back).into_response())
}

/// A manager's resolution of a finding.
pub struct Resolution {
    pub status: FindingStatus,
    pub note: String,
}

impl Resolution {
    /// `before` is the finding's status now. A resolution that is neither closing nor
    /// accepting the risk is a malformed request, not a form to show again.
    pub fn parse(
        form: &Pairs,
        before: FindingStatus,
    ) -> Result<Result<Resolution, FieldErrors>, AppError> {
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
        } else if status == FindingStatus::Closed
            && before == FindingStatus::Open
            && note.is_empty()
        {
            errors.add(
                "resolution_note",
                "No remediation plan was recorded: say what you verified.",
            );
        }
        Ok(if errors.is_empty() {
            Ok(Resolution { status, note })
        } else {
            Err(errors)
        })
    }
}

/// A manager verifies and closes a finding, or accepts its risk with a reason.
pub async fn resolve(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(finding): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let row = finding_state(change.db(), finding).await?;
    let access = access(change.db(), &current.user, row.engagement_id).await?;
    policy::may_resolve_finding(access.reader())?;
    let back = format!("/audits/{}#finding-{finding}", row.audit_id);
    if row.status.is_settled() {
        return Ok(Redirect::to(&back).into_response());
    }
    let input = match Resolution::parse(&form, row.status)? {
        Ok(input) => input,
        Err(errors) => {
            let mut form = form;
            form.0.push(("finding".into(), finding.to_string()));
            let page = show_page(
                &state,
                &current,
                change.db(),
                row.audit_id,
                Some(form),
                errors,
                None,
            )
            .await?;
            return refused(page);
        }
    };
    let Resolution { status, note } = input;
    sqlx::query(
        "update findings set status = $2, resolution_note = $3, resolved_by = $4, resolved_at = $5 where id = $1",
    )
    .bind(finding)
    .bind(status)
    .bind(&note)
    .bind(current.user.id)
    .bind(change.now)
    .execute(change.db())
    .await?;
    change
        .audit(
            "finding.resolve",
            format!("engagement:{}", row.engagement_id),
            serde_json::json!({ "finding_id": finding, "status": status, "note": note }),
        )
        .await?;
    change
        .flash(Flash::success(format!(
            "Finding: {}.",
            status.label().to_lowercase()
        )))
        .await?;
    change.commit_and_refresh(access.id).await?;
    Ok(Redirect::to(&back).into_response())
}
