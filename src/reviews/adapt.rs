//! Applying an adaptation from a review: a cadence (at once), a KPI's target and threshold
//! (from the next period) or the weekly touch cap (at once). Each is kept on the review and
//! in the audit log.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::next_period_of;
use super::pages::show_page;
use crate::auth::CurrentUser;
use crate::auth::policy;
use crate::engagements::{self, Cadence};
use crate::engagements::{CheckinCadence, ReviewCadence};
use crate::engagements::{KpiLine, check_terms, decimal, with_unit};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::Flash;
use crate::web::validate;

/// An adaptation, as one of the three forms gives it.
pub enum Adaptation {
    Cadence(Cadence),
    KpiTerms {
        kpi: Box<KpiLine>,
        target: Decimal,
        threshold: Decimal,
    },
    TouchCap(i32),
}

impl Adaptation {
    /// `kpis` are the engagement's KPIs under today's terms. A form of no known kind is a
    /// malformed request, not a form to show again.
    pub fn parse(
        form: &Pairs,
        kpis: Vec<KpiLine>,
    ) -> Result<Result<Adaptation, FieldErrors>, AppError> {
        let mut errors = FieldErrors::default();
        let adaptation = match form.get("kind") {
            "cadence" => {
                let parsed = form
                    .get("cadence")
                    .split_once(':')
                    .and_then(|(field, value)| match field {
                        "checkin_cadence" => CheckinCadence::parse(value).map(Cadence::Checkin),
                        "review_cadence" => ReviewCadence::parse(value).map(Cadence::Review),
                        "audit_cadence" => ReviewCadence::parse(value).map(Cadence::Audit),
                        _ => None,
                    });
                if parsed.is_none() {
                    errors.add("cadence", "Choose the new cadence.");
                }
                parsed.map(Adaptation::Cadence)
            }
            "kpi_terms" => {
                let kpi = form
                    .get("kpi_id")
                    .parse::<i64>()
                    .ok()
                    .and_then(|k| kpis.into_iter().find(|l| l.id == k && l.active));
                if kpi.is_none() {
                    errors.add("kpi_id", "Choose one of the engagement's active KPIs.");
                }
                let target = decimal(
                    &mut errors,
                    "target",
                    form.get("target"),
                    "Enter the new target.",
                );
                let threshold = decimal(
                    &mut errors,
                    "threshold",
                    form.get("threshold"),
                    "Enter the new threshold.",
                );
                match (kpi, target, threshold) {
                    (Some(kpi), Some(target), Some(threshold)) => {
                        match check_terms(kpi.direction, target, threshold) {
                            Err(message) => {
                                errors.add("threshold", message);
                                None
                            }
                            Ok(()) => Some(Adaptation::KpiTerms {
                                kpi: Box::new(kpi),
                                target,
                                threshold,
                            }),
                        }
                    }
                    _ => None,
                }
            }
            "boundary" => validate::integer(
                &mut errors,
                "weekly_touch_cap",
                form.get("weekly_touch_cap"),
                1..=50,
            )
            .map(|cap| Adaptation::TouchCap(cap as i32)),
            _ => return Err(AppError::BadRequest("Choose what to adapt.".into())),
        };
        Ok(match adaptation {
            Some(adaptation) if errors.is_empty() => Ok(adaptation),
            _ => Err(errors),
        })
    }
}

/// What an applied adaptation leaves on the review and in the audit log.
struct Applied {
    kind: &'static str,
    description: String,
    effective_from: NaiveDate,
    details: serde_json::Value,
}

fn cadence_name(cadence: Cadence) -> &'static str {
    match cadence {
        Cadence::Checkin(_) => "Check-in cadence",
        Cadence::Review(_) => "Review cadence",
        Cadence::Audit(_) => "Audit cadence",
    }
}

/// Applies one adaptation from a review: a cadence (at once), a KPI's target and threshold
/// (from the next period) or the weekly touch cap (at once); each is kept on the review and
/// in the audit log.
pub async fn adapt(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(review): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (_, access) = super::model::visible(change.db(), &current, review).await?;
    policy::may_write_review(access.reader())?;
    let id = access.id;
    let today = state.clock.today(access.zone());
    let now = change.now;
    let kpis = if form.get("kind") == "kpi_terms" {
        crate::engagements::kpi_lines(change.db(), id, today).await?
    } else {
        Vec::new()
    };
    let adaptation = match Adaptation::parse(&form, kpis)? {
        Ok(adaptation) => adaptation,
        Err(errors) => {
            // Nothing was written: the transaction ends unused.
            let page = show_page(&state, &current, change.db(), review, form, errors).await?;
            return refused(page);
        }
    };
    let applied = match adaptation {
        Adaptation::Cadence(cadence) => {
            let before = cadence
                .current(&engagements::cadences(change.db(), id).await?)
                .as_str();
            engagements::set_cadence(change.db(), id, cadence).await?;
            Applied {
                kind: "cadence",
                description: format!(
                    "{}: {before} → {}",
                    cadence_name(cadence),
                    cadence.label().to_lowercase()
                ),
                effective_from: today,
                details: serde_json::json!({
                    "field": cadence.field(), "before": before, "after": cadence.as_str(),
                }),
            }
        }
        Adaptation::KpiTerms {
            kpi,
            target,
            threshold,
        } => {
            let from = next_period_of(&access, today);
            crate::engagements::change_terms(
                change.db(),
                &kpi,
                target,
                threshold,
                from.start,
                current.user.id,
                now,
            )
            .await?;
            Applied {
                kind: "kpi_terms",
                description: format!(
                    "{}: target {} → {}, threshold {} → {}, from {}",
                    kpi.name,
                    kpi.target_text(),
                    with_unit(target, &kpi.unit),
                    kpi.threshold_text(),
                    with_unit(threshold, &kpi.unit),
                    from.label()
                ),
                effective_from: from.start,
                details: serde_json::json!({
                    "kpi_id": kpi.id, "target": target, "threshold": threshold,
                    "before": { "target": kpi.target, "threshold": kpi.threshold },
                    "effective_from": from.start,
                }),
            }
        }
        Adaptation::TouchCap(cap) => {
            let before = crate::engagements::set_touch_cap(change.db(), id, cap).await?;
            Applied {
                kind: "boundary",
                description: format!(
                    "Routine touches per week: {} → {cap}",
                    before.map_or_else(|| "—".to_string(), |b| b.to_string())
                ),
                effective_from: today,
                details: serde_json::json!({
                    "field": "weekly_touch_cap", "before": before, "after": cap,
                }),
            }
        }
    };
    let inserted = sqlx::query(
        "insert into review_adaptations (review_id, kind, description, effective_from, applied_by, applied_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (form_key) do nothing",
    )
    .bind(review)
    .bind(applied.kind)
    .bind(&applied.description)
    .bind(applied.effective_from)
    .bind(current.user.id)
    .bind(now)
    .bind(form_key(&form))
    .execute(change.db())
    .await?;
    if inserted.rows_affected() == 0 {
        // The same form posted twice: the first one applied it.
        change.tx.rollback().await?;
        return Ok(Redirect::to(&format!("/reviews/{review}#adaptations")).into_response());
    }
    change
        .audit(
            "review.adapt",
            format!("engagement:{id}"),
            serde_json::json!({ "review_id": review, "kind": applied.kind, "change": applied.details }),
        )
        .await?;
    change
        .flash(Flash::success(format!("Applied: {}.", applied.description)))
        .await?;
    change.commit_and_refresh(id).await?;
    Ok(Redirect::to(&format!("/reviews/{review}#adaptations")).into_response())
}
