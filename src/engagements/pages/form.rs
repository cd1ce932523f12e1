//! Creating and editing an engagement: the form, its typed input, and the two write paths.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use sqlx::PgConnection;

use super::input::{
    Choice, Choices, DocumentChoice, EngagementInput, check_activation, check_period_change,
};
use crate::auth::CurrentUser;
use crate::auth::policy::Admin;
use crate::engagements::Viewing;
use crate::engagements::agreement::{EngagementFields, fields_of};
use crate::engagements::cadence::{self, CheckinCadence, ReviewCadence};
use crate::engagements::contract::{self, NoticeUnit, Renewal};
use crate::engagements::{Access, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form, Id, Pairs, Query};
use crate::web::layout::{Flash, Layout};

const NAME_TAKEN: &str = "This vendor already has an engagement with this name.";

fn name_taken(error: &sqlx::Error) -> bool {
    crate::web::error::violates(error, "engagements_name_key")
}

async fn co_managers(db: &mut PgConnection, id: i64) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "select user_id from engagement_managers where engagement_id = $1 order by user_id",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

#[derive(Template)]
#[template(path = "engagements/form.html")]
struct FormPage {
    layout: Layout,
    form: Pairs,
    errors: FieldErrors,
    vendors: Vec<Choice>,
    managers: Vec<Choice>,
    documents: Vec<DocumentChoice>,
    /// The engagement being edited: id and name.
    editing: Option<(i64, String)>,
    /// Only cadences, due dates and the notice period are open to an engagement's managers.
    full: bool,
}

impl FormPage {
    /// The form for a new engagement: admins only, every field.
    fn new_engagement(
        current: &CurrentUser,
        form: Pairs,
        errors: FieldErrors,
        choices: Choices,
    ) -> FormPage {
        FormPage {
            layout: Layout::new(&current.session, "New engagement", "/engagements"),
            form,
            errors,
            vendors: choices.vendors,
            managers: choices.managers,
            documents: choices.documents,
            editing: None,
            full: true,
        }
    }

    /// The form editing `access`'s engagement; its managers get the rhythm fields only.
    fn edit(
        current: &CurrentUser,
        access: Access,
        form: Pairs,
        errors: FieldErrors,
        choices: Choices,
    ) -> FormPage {
        FormPage {
            layout: Layout::new(
                &current.session,
                format!("Edit {}", access.name),
                "/engagements",
            ),
            form,
            errors,
            vendors: choices.vendors,
            managers: choices.managers,
            documents: choices.documents,
            full: access.is_admin,
            editing: Some((access.id, access.name)),
        }
    }

    fn selected_co_manager(&self, id: &i64) -> bool {
        self.form
            .all("co_managers")
            .contains(&id.to_string().as_str())
    }

    fn vendor_options(&self) -> Vec<(String, String)> {
        let mut options = vec![(String::new(), "Choose a vendor".to_string())];
        options.extend(
            self.vendors
                .iter()
                .map(|v| (v.id.to_string(), v.name.clone())),
        );
        options
    }

    fn owner_options(&self) -> Vec<(String, String)> {
        let mut options = vec![(String::new(), "Choose a manager".to_string())];
        options.extend(
            self.managers
                .iter()
                .map(|m| (m.id.to_string(), m.name.clone())),
        );
        options
    }

    fn weekday_options(&self) -> Vec<(String, String)> {
        let mut options = vec![(String::new(), "Any day".to_string())];
        options.extend(cadence::WEEK.into_iter().map(|d| {
            (
                d.number_from_monday().to_string(),
                cadence::weekday_name(d).to_string(),
            )
        }));
        options
    }

    /// Every vendor's current documents, each named with its vendor: the form's vendor may
    /// still change.
    fn document_options(&self) -> Vec<(String, String)> {
        let mut options = vec![(String::new(), "None".to_string())];
        options.extend(
            self.documents
                .iter()
                .map(|d| (d.id.to_string(), d.name.clone())),
        );
        options
    }

    fn renewal_options(&self) -> Vec<(String, String)> {
        Renewal::options()
    }

    fn notice_unit_options(&self) -> Vec<(String, String)> {
        NoticeUnit::options()
    }

    fn checkin_options(&self) -> Vec<(String, String)> {
        CheckinCadence::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), c.label().to_string()))
            .collect()
    }

    fn review_options(&self) -> Vec<(String, String)> {
        ReviewCadence::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), c.label().to_string()))
            .collect()
    }
}

/// The form filled with the engagement as stored.
fn pairs_of(fields: &EngagementFields, co: &[i64]) -> Pairs {
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    fn optional<T: ToString>(value: Option<T>) -> String {
        value.map(|v| v.to_string()).unwrap_or_default()
    }
    let mut pairs = vec![
        ("vendor_id".to_string(), fields.vendor_id.to_string()),
        ("name".into(), fields.name.clone()),
        ("scope".into(), fields.scope.clone()),
        ("objectives".into(), fields.objectives.join("\n")),
        ("time_zone".into(), fields.time_zone.name().to_string()),
        ("start_date".into(), fields.start_date.to_string()),
        ("end_date".into(), date(fields.end_date)),
        (
            "notice_days".into(),
            fields
                .contract
                .notice_months
                .unwrap_or(fields.notice_days)
                .to_string(),
        ),
        (
            "notice_unit".into(),
            if fields.contract.notice_months.is_some() {
                "months"
            } else {
                "days"
            }
            .into(),
        ),
        ("renewal".into(), fields.contract.renewal.as_str().into()),
        (
            "renewal_months".into(),
            optional(fields.contract.renewal_months),
        ),
        (
            "initial_term_months".into(),
            optional(fields.contract.initial_term_months),
        ),
        (
            "annual_value".into(),
            optional(fields.contract.annual_value.map(|v| v.normalize())),
        ),
        (
            "currency".into(),
            fields.contract.currency.clone().unwrap_or_default(),
        ),
        (
            "contract_document_id".into(),
            optional(fields.contract.contract_document_id),
        ),
        ("status".into(), fields.status.as_str().to_string()),
        ("owner_id".into(), fields.owner_id.to_string()),
        (
            "scorecard_period".into(),
            fields.scorecard_period.as_str().to_string(),
        ),
        (
            "checkin_cadence".into(),
            fields.checkin_cadence.as_str().to_string(),
        ),
        (
            "checkin_weekday".into(),
            fields
                .checkin_weekday
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ),
        (
            "review_cadence".into(),
            fields.review_cadence.as_str().to_string(),
        ),
        (
            "audit_cadence".into(),
            fields.audit_cadence.as_str().to_string(),
        ),
        ("next_review_due".into(), date(fields.next_review_due)),
        ("next_audit_due".into(), date(fields.next_audit_due)),
    ];
    pairs.extend(
        co.iter()
            .map(|id| ("co_managers".to_string(), id.to_string())),
    );
    Pairs(pairs)
}

#[derive(Debug, Deserialize, Default)]
pub struct NewQuery {
    vendor: Option<String>,
}

pub async fn new(
    State(state): State<AppState>,
    Admin(current): Admin,
    Query(query): Query<NewQuery>,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let choices = Choices::load(&mut conn).await?;
    let today = state.clock.today(state.config.time_zone);
    let form = Pairs(vec![
        ("vendor_id".into(), query.vendor.unwrap_or_default()),
        (
            "time_zone".into(),
            state.config.time_zone.name().to_string(),
        ),
        ("start_date".into(), today.to_string()),
        ("notice_days".into(), "90".into()),
        ("notice_unit".into(), "days".into()),
        ("renewal".into(), "none".into()),
        ("status".into(), "draft".into()),
        ("scorecard_period".into(), "monthly".into()),
        ("checkin_cadence".into(), "weekly".into()),
        ("review_cadence".into(), "quarterly".into()),
        ("audit_cadence".into(), "semiannual".into()),
    ]);
    let page = FormPage::new_engagement(&current, form, FieldErrors::default(), choices);
    Ok(Html(page.render()?).into_response())
}

async fn replace_co_managers(db: &mut PgConnection, id: i64, co: &[i64]) -> Result<()> {
    sqlx::query("delete from engagement_managers where engagement_id = $1")
        .bind(id)
        .execute(&mut *db)
        .await?;
    add_co_managers(db, id, co).await
}

async fn add_co_managers(db: &mut PgConnection, id: i64, co: &[i64]) -> Result<()> {
    sqlx::query(
        "insert into engagement_managers (engagement_id, user_id) select $1, unnest($2::bigint[])",
    )
    .bind(id)
    .bind(co)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn create(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let choices = Choices::load(change.db()).await?;
    let parsed = EngagementInput::parse(&form, None, true, &choices);
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    if let Ok(input) = &parsed {
        let day = change.now.date_naive();
        check_activation(change.db(), None, input.fields.status, day, &mut errors).await?;
    }
    let EngagementInput {
        fields,
        co_managers: co,
    } = match parsed {
        Ok(input) if errors.is_empty() => input,
        _ => return refused(FormPage::new_engagement(&current, form, errors, choices)),
    };
    let inserted: std::result::Result<i64, sqlx::Error> = sqlx::query_scalar(
        "insert into engagements (vendor_id, name, scope, objectives, time_zone, start_date, end_date, notice_days, status,
                                  owner_id, scorecard_period, checkin_cadence, checkin_weekday, review_cadence, audit_cadence,
                                  next_review_due, next_audit_due, renewal, renewal_months, initial_term_months, notice_months,
                                  annual_value, currency, contract_document_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
         returning id",
    )
    .bind(fields.vendor_id)
    .bind(&fields.name)
    .bind(&fields.scope)
    .bind(&fields.objectives)
    .bind(fields.time_zone)
    .bind(fields.start_date)
    .bind(fields.end_date)
    .bind(fields.notice_days)
    .bind(fields.status)
    .bind(fields.owner_id)
    .bind(fields.scorecard_period)
    .bind(fields.checkin_cadence)
    .bind(fields.checkin_weekday)
    .bind(fields.review_cadence)
    .bind(fields.audit_cadence)
    .bind(fields.next_review_due)
    .bind(fields.next_audit_due)
    .bind(fields.contract.renewal)
    .bind(fields.contract.renewal_months)
    .bind(fields.contract.initial_term_months)
    .bind(fields.contract.notice_months)
    .bind(fields.contract.annual_value)
    .bind(&fields.contract.currency)
    .bind(fields.contract.contract_document_id)
    .fetch_one(change.db())
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if name_taken(&e) => {
            let mut errors = FieldErrors::default();
            errors.add("name", NAME_TAKEN);
            return refused(FormPage::new_engagement(&current, form, errors, choices));
        }
        Err(e) => return Err(e.into()),
    };
    add_co_managers(change.db(), id, &co).await?;
    let now = change.now;
    contract::store_dates(change.db(), id, now).await?;
    sqlx::query("insert into boundaries (engagement_id) values ($1)")
        .bind(id)
        .execute(change.db())
        .await?;
    change
        .audit(
            "engagement.create",
            format!("engagement:{id}"),
            serde_json::json!({ "after": fields, "co_managers": co }),
        )
        .await?;
    change
        .flash(Flash::success(format!(
            "{} is set up. Define its KPIs and boundaries next.",
            fields.name
        )))
        .await?;
    change.commit().await?;
    Ok(Redirect::to(&format!("/engagements/{id}")).into_response())
}

pub async fn edit(
    State(state): State<AppState>,
    Viewing { current, access }: Viewing,
) -> Result<Response> {
    let id = access.id;
    let mut conn = state.pool.acquire().await?;
    access.require_manage()?;
    let fields = fields_of(&mut conn, id).await?;
    let co = co_managers(&mut conn, id).await?;
    let page = FormPage::edit(
        &current,
        access,
        pairs_of(&fields, &co),
        FieldErrors::default(),
        Choices::load(&mut conn).await?,
    );
    Ok(Html(page.render()?).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let access = access(change.db(), &current.user, id).await?;
    access.require_manage()?;
    let before = fields_of(change.db(), id).await?;
    let co_before = co_managers(change.db(), id).await?;
    let choices = Choices::load(change.db()).await?;
    let parsed = EngagementInput::parse(&form, Some(&before), access.is_admin, &choices);
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    let today = state.clock.today(access.zone());
    if let Ok(input) = &parsed
        && input.fields.status != before.status
    {
        check_activation(
            change.db(),
            Some(id),
            input.fields.status,
            today,
            &mut errors,
        )
        .await?;
    }
    if let Ok(input) = &parsed
        && input.fields.scorecard_period != before.scorecard_period
    {
        check_period_change(change.db(), id, &mut errors).await?;
    }
    let (after, co) = match parsed {
        Ok(input) if errors.is_empty() => (
            input.fields,
            if access.is_admin {
                input.co_managers
            } else {
                co_before.clone()
            },
        ),
        _ => return refused(FormPage::edit(&current, access, form, errors, choices)),
    };
    let updated = sqlx::query(
        "update engagements set name = $2, scope = $3, objectives = $4, time_zone = $5, start_date = $6, end_date = $7,
                notice_days = $8, status = $9, owner_id = $10, scorecard_period = $11, checkin_cadence = $12,
                checkin_weekday = $13, review_cadence = $14, audit_cadence = $15, next_review_due = $16, next_audit_due = $17,
                renewal = $18, renewal_months = $19, initial_term_months = $20, notice_months = $21, annual_value = $22,
                currency = $23, contract_document_id = $24
         where id = $1",
    )
    .bind(id)
    .bind(&after.name)
    .bind(&after.scope)
    .bind(&after.objectives)
    .bind(after.time_zone)
    .bind(after.start_date)
    .bind(after.end_date)
    .bind(after.notice_days)
    .bind(after.status)
    .bind(after.owner_id)
    .bind(after.scorecard_period)
    .bind(after.checkin_cadence)
    .bind(after.checkin_weekday)
    .bind(after.review_cadence)
    .bind(after.audit_cadence)
    .bind(after.next_review_due)
    .bind(after.next_audit_due)
    .bind(after.contract.renewal)
    .bind(after.contract.renewal_months)
    .bind(after.contract.initial_term_months)
    .bind(after.contract.notice_months)
    .bind(after.contract.annual_value)
    .bind(&after.contract.currency)
    .bind(after.contract.contract_document_id)
    .execute(change.db())
    .await;
    if let Err(e) = updated {
        if !name_taken(&e) {
            return Err(e.into());
        }
        let mut errors = FieldErrors::default();
        errors.add("name", NAME_TAKEN);
        return refused(FormPage::edit(&current, access, form, errors, choices));
    }
    if co != co_before {
        replace_co_managers(change.db(), id, &co).await?;
    }
    if after != before {
        let now = change.now;
        contract::store_dates(change.db(), id, now).await?;
    }
    if after != before || co != co_before {
        change
            .audit(
                "engagement.update",
                format!("engagement:{id}"),
                serde_json::json!({
                    "before": before, "after": after,
                    "co_managers_before": co_before, "co_managers_after": co,
                }),
            )
            .await?;
    }
    change
        .flash(Flash::success(format!(
            "Saved the changes to {}.",
            after.name
        )))
        .await?;
    change.commit_and_refresh(id).await?;
    Ok(Redirect::to(&format!("/engagements/{id}")).into_response())
}
