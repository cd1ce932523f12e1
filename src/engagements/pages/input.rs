//! The engagement form's typed input: the choices it offers, its parse into the fields to
//! store, and the checks that need the database (activation, a fixed period kind).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::engagements::Status;
use crate::engagements::active_weight_total;
use crate::engagements::agreement::EngagementFields;
use crate::engagements::cadence::{CheckinCadence, ReviewCadence};
use crate::engagements::contract::{self, ContractFields};
use crate::vocab::{PeriodKind, Zone};
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Pairs};
use crate::web::validate;

#[derive(sqlx::FromRow, Clone)]
pub struct Choice {
    pub id: i64,
    pub name: String,
}

/// A vendor's current document, for the contract document's select.
#[derive(sqlx::FromRow, Clone)]
pub struct DocumentChoice {
    pub id: i64,
    pub vendor_id: i64,
    /// "Vendor · Kind, valid until …".
    pub name: String,
}

/// Who and what may be picked on the form: the vendors not exited, the managers not
/// disabled, the vendors' documents.
pub struct Choices {
    pub vendors: Vec<Choice>,
    pub managers: Vec<Choice>,
    pub documents: Vec<DocumentChoice>,
}

impl Choices {
    pub async fn load(db: &mut PgConnection) -> Result<Choices> {
        let vendors = sqlx::query_as(
            "select id, name from vendors where status <> 'exited' order by lower(name)",
        )
        .fetch_all(&mut *db)
        .await?;
        // A service account may co-manage (its tokens then write there); it is labelled so.
        let managers = sqlx::query_as(
            "select id, case when service_account then name || ' (service account)' else name end as name
             from users where role = 'manager' and disabled_at is null order by service_account, lower(name)",
        )
            .fetch_all(&mut *db)
            .await?;
        let documents = sqlx::query_as(
            "select d.id, d.vendor_id, v.name || ' · ' || d.kind_name || ', valid until ' || d.valid_until as name
             from current_vendor_documents d join vendors v on v.id = d.vendor_id
             where v.status <> 'exited'
             order by lower(v.name), lower(d.kind_name) = 'contract' desc, lower(d.kind_name), d.id",
        )
        .fetch_all(&mut *db)
        .await?;
        Ok(Choices {
            vendors,
            managers,
            documents,
        })
    }
}

/// What the engagement form asks for, parsed: the fields to store and the co-managers.
pub struct EngagementInput {
    pub fields: EngagementFields,
    pub co_managers: Vec<i64>,
}

/// The fields only an administrator sets.
struct Terms {
    vendor_id: i64,
    name: String,
    scope: String,
    objectives: Vec<String>,
    time_zone: Zone,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    status: Status,
    owner_id: i64,
    scorecard_period: PeriodKind,
    contract: ContractFields,
}

impl EngagementInput {
    /// Parses the form. `before` holds the current values of an engagement being edited;
    /// when `full` is false only the fields open to its managers are read from the form.
    pub fn parse(
        form: &Pairs,
        before: Option<&EngagementFields>,
        full: bool,
        choices: &Choices,
    ) -> std::result::Result<EngagementInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let pick = |name: &str, ids: &[Choice]| {
            form.get(name)
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|id| ids.iter().any(|c| c.id == *id))
        };

        let (notice_days, notice_months) = contract::parse_notice(&mut errors, form);
        let checkin = validate::choice(
            &mut errors,
            "checkin_cadence",
            form.get("checkin_cadence"),
            CheckinCadence::parse,
            "Choose a check-in cadence.",
        );
        let weekday = match form.get("checkin_weekday").trim() {
            "" => None,
            raw => match raw.parse::<i32>() {
                Ok(day) if (1..=7).contains(&day) => Some(day),
                _ => {
                    errors.add("checkin_weekday", "Choose a day of the week.");
                    None
                }
            },
        };
        let review = validate::choice(
            &mut errors,
            "review_cadence",
            form.get("review_cadence"),
            ReviewCadence::parse,
            "Choose a review cadence.",
        );
        let audit_cadence = validate::choice(
            &mut errors,
            "audit_cadence",
            form.get("audit_cadence"),
            ReviewCadence::parse,
            "Choose an audit cadence.",
        );
        let next_review_due = validate::date(
            &mut errors,
            "next_review_due",
            form.get("next_review_due"),
            false,
        );
        let next_audit_due = validate::date(
            &mut errors,
            "next_audit_due",
            form.get("next_audit_due"),
            false,
        );

        let terms = if full {
            let vendor_id = match before {
                Some(before) => Some(before.vendor_id),
                None => {
                    let id = pick("vendor_id", &choices.vendors);
                    if id.is_none() {
                        errors.add("vendor_id", "Choose the vendor.");
                    }
                    id
                }
            };
            let name = validate::required(
                &mut errors,
                "name",
                form.get("name"),
                200,
                "Name the engagement.",
            );
            let scope = validate::optional(&mut errors, "scope", form.get("scope"), 5000);
            let objectives: Vec<String> = form
                .get("objectives")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            if objectives.len() > 20 || objectives.iter().any(|o| o.chars().count() > 300) {
                errors.add(
                    "objectives",
                    "Keep to 20 objectives of at most 300 characters each.",
                );
            }
            let zone = validate::time_zone(&mut errors, "time_zone", form.get("time_zone"));
            let start_date =
                validate::date(&mut errors, "start_date", form.get("start_date"), true);
            let end_date = validate::date(&mut errors, "end_date", form.get("end_date"), false);
            let (mut contract, end_date) =
                contract::parse_terms(&mut errors, form, start_date, end_date);
            contract.contract_document_id = match form.get("contract_document_id").trim() {
                "" => None,
                raw => {
                    let document = raw
                        .parse::<i64>()
                        .ok()
                        .and_then(|id| choices.documents.iter().find(|d| d.id == id));
                    match (document, vendor_id) {
                        (Some(d), Some(vendor)) if d.vendor_id == vendor => Some(d.id),
                        (Some(_), Some(_)) => {
                            errors.add(
                                "contract_document_id",
                                "That document is another vendor's: choose one of this vendor's, or none.",
                            );
                            None
                        }
                        (Some(d), None) => Some(d.id),
                        (None, _) => {
                            errors.add(
                                "contract_document_id",
                                "Choose one of the vendor's documents, or none.",
                            );
                            None
                        }
                    }
                }
            };
            if let (Some(start), Some(end)) = (start_date, end_date)
                && end < start
            {
                errors.add("end_date", "The end date is before the start date.");
            }
            let status = validate::choice(
                &mut errors,
                "status",
                form.get("status"),
                Status::parse,
                "Choose a status.",
            );
            let owner_id = pick("owner_id", &choices.managers);
            if owner_id.is_none() {
                errors.add("owner_id", "Choose the manager who owns the engagement.");
            }
            let period = validate::choice(
                &mut errors,
                "scorecard_period",
                form.get("scorecard_period"),
                PeriodKind::parse,
                "Choose a scorecard period.",
            );
            let (
                Some(vendor_id),
                Some(zone),
                Some(start_date),
                Some(status),
                Some(owner_id),
                Some(period),
            ) = (vendor_id, zone, start_date, status, owner_id, period)
            else {
                return Err(errors);
            };
            Terms {
                vendor_id,
                name,
                scope,
                objectives,
                time_zone: Zone(zone),
                start_date,
                end_date,
                status,
                owner_id,
                scorecard_period: period,
                contract,
            }
        } else {
            match before {
                Some(before) => Terms {
                    vendor_id: before.vendor_id,
                    name: before.name.clone(),
                    scope: before.scope.clone(),
                    objectives: before.objectives.clone(),
                    time_zone: before.time_zone,
                    start_date: before.start_date,
                    end_date: before.end_date,
                    status: before.status,
                    owner_id: before.owner_id,
                    scorecard_period: before.scorecard_period,
                    contract: before.contract.clone(),
                },
                None => return Err(errors),
            }
        };
        let (Some(checkin), Some(review), Some(audit_cadence)) = (checkin, review, audit_cadence)
        else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let co_managers: Vec<i64> = if full {
            let mut ids: Vec<i64> = form
                .all("co_managers")
                .iter()
                .filter_map(|raw| raw.parse::<i64>().ok())
                .filter(|id| choices.managers.iter().any(|m| m.id == *id) && *id != terms.owner_id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        } else {
            Vec::new()
        };
        let weekday = matches!(checkin, CheckinCadence::Weekly | CheckinCadence::Biweekly)
            .then_some(weekday)
            .flatten();
        Ok(EngagementInput {
            fields: EngagementFields {
                vendor_id: terms.vendor_id,
                name: terms.name,
                scope: terms.scope,
                objectives: terms.objectives,
                time_zone: terms.time_zone,
                start_date: terms.start_date,
                end_date: terms.end_date,
                notice_days,
                status: terms.status,
                owner_id: terms.owner_id,
                scorecard_period: terms.scorecard_period,
                checkin_cadence: checkin,
                checkin_weekday: weekday,
                review_cadence: review,
                audit_cadence,
                next_review_due: next_review_due.or(Some(review.next_due(terms.start_date))),
                next_audit_due: next_audit_due.or(Some(audit_cadence.next_due(terms.start_date))),
                contract: ContractFields {
                    notice_months,
                    ..terms.contract
                },
            },
            co_managers,
        })
    }
}

/// An engagement can be active only while its active KPIs' weights total 100, and is
/// closed only through the close page.
pub async fn check_activation(
    db: &mut PgConnection,
    id: Option<i64>,
    status: Status,
    day: NaiveDate,
    errors: &mut FieldErrors,
) -> Result<()> {
    if status == Status::Closed {
        errors.add(
            "status",
            "Close an engagement with “Close…” on its page: it first asks about every access grant and vendor account.",
        );
        return Ok(());
    }
    if status != Status::Active {
        return Ok(());
    }
    let total = match id {
        Some(id) => active_weight_total(db, id, day).await?,
        None => Decimal::ZERO,
    };
    if total != Decimal::from(100) {
        errors.add(
            "status",
            format!("An engagement can be active only when its active KPIs' weights total 100; now they total {}. Set the KPIs first.", total.normalize()),
        );
    }
    Ok(())
}

/// Once KPI values are recorded against its periods, an engagement keeps its period kind.
pub async fn check_period_change(
    db: &mut PgConnection,
    id: i64,
    errors: &mut FieldErrors,
) -> Result<()> {
    let has_values: bool = sqlx::query_scalar(
        "select exists(select 1 from kpi_values v join kpis k on k.id = v.kpi_id where k.engagement_id = $1)",
    )
    .bind(id)
    .fetch_one(db)
    .await?;
    if has_values {
        errors.add(
            "scorecard_period",
            "The scorecard period is fixed once KPI values have been recorded.",
        );
    }
    Ok(())
}
