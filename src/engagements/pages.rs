//! The engagement pages: the list, create and edit, the hub page for the organisation's
//! people, and "our agreement" for the vendor's.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgConnection;

use super::cadence::{self, CheckinCadence, ReviewCadence};
use super::{Access, EngagementFields, Status, access, active_weight_total, fields_of};
use crate::audit::{self, Outcome};
use crate::auth::policy::{Admin, vendor_scope};
use crate::auth::{CurrentUser, Role, session};
use crate::state::AppState;
use crate::vocab::PeriodKind;
use crate::web::ClientAddr;
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form, Id, Pairs, Query};
use crate::web::layout::{Flash, Layout};
use crate::web::paging::{self, Pager};
use crate::web::validate;

const PER_PAGE: i64 = 25;

const NAME_TAKEN: &str = "This vendor already has an engagement with this name.";

fn name_taken(error: &sqlx::Error) -> bool {
    crate::web::error::violates(error, "engagements_name_key")
}

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    mine: Option<String>,
    page: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ListRow {
    id: i64,
    name: String,
    vendor_name: String,
    status: String,
    owner: String,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    total: i64,
}

#[derive(Template)]
#[template(path = "engagements/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<ListRow>,
    q: String,
    status: String,
    mine: bool,
    pager: Pager,
    is_admin: bool,
    is_vendor: bool,
}

pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>> {
    let user = &current.user;
    let q = query.q.unwrap_or_default();
    let status = query
        .status
        .filter(|s| Status::parse(s).is_some())
        .unwrap_or_default();
    let mine = query.mine.as_deref() == Some("1") && user.role == Role::Manager;
    let page = paging::page_number(query.page.as_deref());
    let rows: Vec<ListRow> = sqlx::query_as(
        "select e.id, e.name, v.name as vendor_name, e.status, u.name as owner, e.start_date, e.end_date,
                count(*) over () as total
         from engagements e join vendors v on v.id = e.vendor_id join users u on u.id = e.owner_id
         where ($1::bigint is null or e.vendor_id = $1)
           and ($2::text is null or e.name ilike $2 or v.name ilike $2)
           and ($3::text = '' or e.status = $3)
           and (not $4 or e.owner_id = $5
                or exists (select 1 from engagement_managers m where m.engagement_id = e.id and m.user_id = $5))
         order by e.status = 'closed', lower(e.name), e.id
         limit $6 offset $7",
    )
    .bind(vendor_scope(user))
    .bind(paging::contains_pattern(&q))
    .bind(&status)
    .bind(mine)
    .bind(user.id)
    .bind(PER_PAGE)
    .bind(paging::offset(page, PER_PAGE))
    .fetch_all(&state.pool)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let pager = Pager::new(
        "/engagements",
        &[
            ("q", &q),
            ("status", &status),
            ("mine", if mine { "1" } else { "" }),
        ],
        page,
        PER_PAGE,
        total,
    );
    let page = ListPage {
        layout: Layout::new(&current.session, "Engagements", "/engagements"),
        rows,
        q,
        status,
        mine,
        pager,
        is_admin: user.role == Role::Admin,
        is_vendor: user.role == Role::Vendor,
    };
    Ok(Html(page.render()?))
}

#[derive(sqlx::FromRow, Clone)]
struct Choice {
    id: i64,
    name: String,
}

async fn vendor_choices(db: &mut PgConnection) -> Result<Vec<Choice>> {
    Ok(
        sqlx::query_as(
            "select id, name from vendors where status <> 'exited' order by lower(name)",
        )
        .fetch_all(db)
        .await?,
    )
}

async fn manager_choices(db: &mut PgConnection) -> Result<Vec<Choice>> {
    Ok(sqlx::query_as("select id, name from users where role = 'manager' and disabled_at is null order by lower(name)")
        .fetch_all(db)
        .await?)
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
    /// The engagement being edited: id and name.
    editing: Option<(i64, String)>,
    /// Only cadences, due dates and the notice period are open to an engagement's managers.
    full: bool,
}

impl Overview {
    pub fn overdue(&self, due: &Option<NaiveDate>) -> bool {
        due.is_some_and(|d| d < self.today)
    }
}

impl FormPage {
    /// The form for a new engagement: admins only, every field.
    fn new_engagement(
        current: &CurrentUser,
        form: Pairs,
        errors: FieldErrors,
        vendors: Vec<Choice>,
        managers: Vec<Choice>,
    ) -> FormPage {
        FormPage {
            layout: Layout::new(&current.session, "New engagement", "/engagements"),
            form,
            errors,
            vendors,
            managers,
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
        vendors: Vec<Choice>,
        managers: Vec<Choice>,
    ) -> FormPage {
        FormPage {
            layout: Layout::new(
                &current.session,
                format!("Edit {}", access.name),
                "/engagements",
            ),
            form,
            errors,
            vendors,
            managers,
            full: access.is_admin,
            editing: Some((access.id, access.name)),
        }
    }

    /// The form again with its errors, as a 422.
    fn refused(self) -> Result<Response> {
        Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(self.render()?)).into_response())
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
        options.extend(super::cadence::WEEK.into_iter().map(|d| {
            (
                d.number_from_monday().to_string(),
                cadence::weekday_name(d).to_string(),
            )
        }));
        options
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

fn pairs_of(fields: &EngagementFields, co: &[i64]) -> Pairs {
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let mut pairs = vec![
        ("vendor_id".to_string(), fields.vendor_id.to_string()),
        ("name".into(), fields.name.clone()),
        ("scope".into(), fields.scope.clone()),
        ("objectives".into(), fields.objectives.join("\n")),
        ("time_zone".into(), fields.time_zone.clone()),
        ("start_date".into(), fields.start_date.to_string()),
        ("end_date".into(), date(fields.end_date)),
        ("notice_days".into(), fields.notice_days.to_string()),
        ("status".into(), fields.status.clone()),
        ("owner_id".into(), fields.owner_id.to_string()),
        ("scorecard_period".into(), fields.scorecard_period.clone()),
        ("checkin_cadence".into(), fields.checkin_cadence.clone()),
        (
            "checkin_weekday".into(),
            fields
                .checkin_weekday
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ),
        ("review_cadence".into(), fields.review_cadence.clone()),
        ("audit_cadence".into(), fields.audit_cadence.clone()),
        ("next_review_due".into(), date(fields.next_review_due)),
        ("next_audit_due".into(), date(fields.next_audit_due)),
    ];
    pairs.extend(
        co.iter()
            .map(|id| ("co_managers".to_string(), id.to_string())),
    );
    Pairs(pairs)
}

/// Parses the form into the engagement's fields. `before` holds the current values of an
/// engagement being edited; when `full` is false only the fields open to its managers are
/// read from the form.
fn parse(
    form: &Pairs,
    before: Option<&EngagementFields>,
    full: bool,
    vendors: &[Choice],
    managers: &[Choice],
) -> std::result::Result<(EngagementFields, Vec<i64>), FieldErrors> {
    let mut errors = FieldErrors::default();
    let pick = |name: &str, ids: &[Choice]| {
        form.get(name)
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|id| ids.iter().any(|c| c.id == *id))
    };

    let notice_days = validate::integer(
        &mut errors,
        "notice_days",
        form.get("notice_days"),
        0..=3650,
    )
    .unwrap_or(0) as i32;
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

    let fields = if full {
        let vendor_id = match before {
            Some(before) => Some(before.vendor_id),
            None => {
                let id = pick("vendor_id", vendors);
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
        let start_date = validate::date(&mut errors, "start_date", form.get("start_date"), true);
        let end_date = validate::date(&mut errors, "end_date", form.get("end_date"), false);
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
        let owner_id = pick("owner_id", managers);
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
        EngagementFields {
            vendor_id,
            name,
            scope,
            objectives,
            time_zone: zone.name().to_string(),
            start_date,
            end_date,
            notice_days,
            status: status.as_str().to_string(),
            owner_id,
            scorecard_period: period.as_str().to_string(),
            checkin_cadence: String::new(),
            checkin_weekday: None,
            review_cadence: String::new(),
            audit_cadence: String::new(),
            next_review_due: None,
            next_audit_due: None,
        }
    } else {
        match before {
            Some(before) => before.clone(),
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
    let co: Vec<i64> = if full {
        let mut ids: Vec<i64> = form
            .all("co_managers")
            .iter()
            .filter_map(|raw| raw.parse::<i64>().ok())
            .filter(|id| managers.iter().any(|m| m.id == *id) && *id != fields.owner_id)
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
    Ok((
        EngagementFields {
            notice_days,
            checkin_cadence: checkin.as_str().to_string(),
            checkin_weekday: weekday,
            review_cadence: review.as_str().to_string(),
            audit_cadence: audit_cadence.as_str().to_string(),
            next_review_due: next_review_due.or(Some(review.next_due(fields.start_date))),
            next_audit_due: next_audit_due.or(Some(audit_cadence.next_due(fields.start_date))),
            ..fields
        },
        co,
    ))
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
    let vendors = vendor_choices(&mut conn).await?;
    let managers = manager_choices(&mut conn).await?;
    let today = state.clock.today(state.config.time_zone);
    let form = Pairs(vec![
        ("vendor_id".into(), query.vendor.unwrap_or_default()),
        (
            "time_zone".into(),
            state.config.time_zone.name().to_string(),
        ),
        ("start_date".into(), today.to_string()),
        ("notice_days".into(), "90".into()),
        ("status".into(), "draft".into()),
        ("scorecard_period".into(), "monthly".into()),
        ("checkin_cadence".into(), "weekly".into()),
        ("review_cadence".into(), "quarterly".into()),
        ("audit_cadence".into(), "semiannual".into()),
    ]);
    let page = FormPage::new_engagement(&current, form, FieldErrors::default(), vendors, managers);
    Ok(Html(page.render()?).into_response())
}

/// An engagement can be active only while its active KPIs' weights total 100, and is
/// closed only through the close page.
async fn check_activation(
    db: &mut PgConnection,
    id: Option<i64>,
    status: &str,
    day: NaiveDate,
    errors: &mut FieldErrors,
) -> Result<()> {
    if status == Status::Closed.as_str() {
        errors.add(
            "status",
            "Close an engagement with “Close…” on its page: it first asks about every access grant and vendor account.",
        );
        return Ok(());
    }
    if status != "active" {
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

pub async fn create(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let vendors = vendor_choices(&mut tx).await?;
    let managers = manager_choices(&mut tx).await?;
    let parsed = parse(&form, None, true, &vendors, &managers);
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    if let Ok((fields, _)) = &parsed {
        check_activation(&mut tx, None, &fields.status, now.date_naive(), &mut errors).await?;
    }
    let (fields, co) = match parsed {
        Ok(ok) if errors.is_empty() => ok,
        _ => {
            return FormPage::new_engagement(&current, form, errors, vendors, managers).refused();
        }
    };
    let inserted: std::result::Result<i64, sqlx::Error> = sqlx::query_scalar(
        "insert into engagements (vendor_id, name, scope, objectives, time_zone, start_date, end_date, notice_days, status,
                                  owner_id, scorecard_period, checkin_cadence, checkin_weekday, review_cadence, audit_cadence,
                                  next_review_due, next_audit_due)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) returning id",
    )
    .bind(fields.vendor_id)
    .bind(&fields.name)
    .bind(&fields.scope)
    .bind(&fields.objectives)
    .bind(&fields.time_zone)
    .bind(fields.start_date)
    .bind(fields.end_date)
    .bind(fields.notice_days)
    .bind(&fields.status)
    .bind(fields.owner_id)
    .bind(&fields.scorecard_period)
    .bind(&fields.checkin_cadence)
    .bind(fields.checkin_weekday)
    .bind(&fields.review_cadence)
    .bind(&fields.audit_cadence)
    .bind(fields.next_review_due)
    .bind(fields.next_audit_due)
    .fetch_one(&mut *tx)
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if name_taken(&e) => {
            let mut errors = FieldErrors::default();
            errors.add("name", NAME_TAKEN);
            return FormPage::new_engagement(&current, form, errors, vendors, managers).refused();
        }
        Err(e) => return Err(e.into()),
    };
    sqlx::query(
        "insert into engagement_managers (engagement_id, user_id) select $1, unnest($2::bigint[])",
    )
    .bind(id)
    .bind(&co)
    .execute(&mut *tx)
    .await?;
    sqlx::query("insert into boundaries (engagement_id) values ($1)")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::Entry::by(&current.user, "engagement.create", Outcome::Success)
        .target(format!("engagement:{id}"))
        .client_addr(addr)
        .details(serde_json::json!({ "after": fields, "co_managers": co }))
        .write(&mut *tx, now)
        .await?;
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success(format!(
            "{} is set up. Define its KPIs and boundaries next.",
            fields.name
        )),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/engagements/{id}")).into_response())
}

pub async fn edit(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let access = access(&mut conn, &current.user, id).await?;
    access.require_manage()?;
    let fields = fields_of(&mut conn, id).await?;
    let co = co_managers(&mut conn, id).await?;
    let page = FormPage::edit(
        &current,
        access,
        pairs_of(&fields, &co),
        FieldErrors::default(),
        vendor_choices(&mut conn).await?,
        manager_choices(&mut conn).await?,
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
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let access = access(&mut tx, &current.user, id).await?;
    access.require_manage()?;
    let before = fields_of(&mut tx, id).await?;
    let co_before = co_managers(&mut tx, id).await?;
    let vendors = vendor_choices(&mut tx).await?;
    let managers = manager_choices(&mut tx).await?;
    let parsed = parse(&form, Some(&before), access.is_admin, &vendors, &managers);
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    let today = state.clock.today(access.zone());
    if let Ok((fields, _)) = &parsed
        && fields.status != before.status
    {
        check_activation(&mut tx, Some(id), &fields.status, today, &mut errors).await?;
    }
    if let Ok((fields, _)) = &parsed
        && fields.scorecard_period != before.scorecard_period
    {
        let has_values: bool = sqlx::query_scalar(
            "select exists(select 1 from kpi_values v join kpis k on k.id = v.kpi_id where k.engagement_id = $1)",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if has_values {
            errors.add(
                "scorecard_period",
                "The scorecard period is fixed once KPI values have been recorded.",
            );
        }
    }
    let (after, co) = match parsed {
        Ok((fields, co)) if errors.is_empty() => (
            fields,
            if access.is_admin {
                co
            } else {
                co_before.clone()
            },
        ),
        _ => {
            return FormPage::edit(&current, access, form, errors, vendors, managers).refused();
        }
    };
    let updated = sqlx::query(
        "update engagements set name = $2, scope = $3, objectives = $4, time_zone = $5, start_date = $6, end_date = $7,
                notice_days = $8, status = $9, owner_id = $10, scorecard_period = $11, checkin_cadence = $12,
                checkin_weekday = $13, review_cadence = $14, audit_cadence = $15, next_review_due = $16, next_audit_due = $17
         where id = $1",
    )
    .bind(id)
    .bind(&after.name)
    .bind(&after.scope)
    .bind(&after.objectives)
    .bind(&after.time_zone)
    .bind(after.start_date)
    .bind(after.end_date)
    .bind(after.notice_days)
    .bind(&after.status)
    .bind(after.owner_id)
    .bind(&after.scorecard_period)
    .bind(&after.checkin_cadence)
    .bind(after.checkin_weekday)
    .bind(&after.review_cadence)
    .bind(&after.audit_cadence)
    .bind(after.next_review_due)
    .bind(after.next_audit_due)
    .execute(&mut *tx)
    .await;
    if let Err(e) = updated {
        if !name_taken(&e) {
            return Err(e.into());
        }
        let mut errors = FieldErrors::default();
        errors.add("name", NAME_TAKEN);
        return FormPage::edit(&current, access, form, errors, vendors, managers).refused();
    }
    if co != co_before {
        sqlx::query("delete from engagement_managers where engagement_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("insert into engagement_managers (engagement_id, user_id) select $1, unnest($2::bigint[])")
            .bind(id)
            .bind(&co)
            .execute(&mut *tx)
            .await?;
    }
    if after != before || co != co_before {
        audit::Entry::by(&current.user, "engagement.update", Outcome::Success)
            .target(format!("engagement:{id}"))
            .client_addr(addr)
            .details(serde_json::json!({
                "before": before, "after": after,
                "co_managers_before": co_before, "co_managers_after": co,
            }))
            .write(&mut *tx, now)
            .await?;
    }
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success(format!("Saved the changes to {}.", after.name)),
    )
    .await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, id).await;
    Ok(Redirect::to(&format!("/engagements/{id}")).into_response())
}

/// Everything the hub and the agreement pages show.
pub struct Overview {
    pub today: NaiveDate,
    pub access: Access,
    pub fields: EngagementFields,
    pub owner: String,
    pub co_managers: Vec<String>,
    pub kpis: Vec<super::kpis::KpiLine>,
    pub weight_total: Decimal,
    pub boundaries: super::boundaries::Boundaries,
    pub checkin: String,
    pub weekday: String,
    pub review: &'static str,
    pub audit: &'static str,
    pub notice_date: Option<NaiveDate>,
}

#[derive(sqlx::FromRow)]
struct People {
    owner: String,
    co_managers: Vec<String>,
}

async fn overview(db: &mut PgConnection, access: Access, today: NaiveDate) -> Result<Overview> {
    let fields = fields_of(db, access.id).await?;
    let people: People = sqlx::query_as(
        "select o.name as owner,
                coalesce(array(select u.name from engagement_managers m join users u on u.id = m.user_id
                               where m.engagement_id = e.id order by lower(u.name)), '{}') as co_managers
         from engagements e join users o on o.id = e.owner_id where e.id = $1",
    )
    .bind(access.id)
    .fetch_one(&mut *db)
    .await?;
    let kpis = super::kpis::lines(db, access.id, today).await?;
    let weight_total = kpis.iter().filter(|k| k.active).map(|k| k.weight).sum();
    let boundaries = super::boundaries::load(db, access.id).await?;
    let checkin = CheckinCadence::parse(&fields.checkin_cadence)
        .map_or("", CheckinCadence::label)
        .to_string();
    let weekday = fields
        .checkin_weekday
        .and_then(|d| cadence::parse_weekday(&d.to_string()))
        .map(cadence::weekday_name)
        .unwrap_or("")
        .to_string();
    Ok(Overview {
        today,
        notice_date: fields
            .end_date
            .and_then(|end| end.checked_sub_days(chrono::Days::new(fields.notice_days as u64))),
        review: ReviewCadence::parse(&fields.review_cadence).map_or("", ReviewCadence::label),
        audit: ReviewCadence::parse(&fields.audit_cadence).map_or("", ReviewCadence::label),
        access,
        fields,
        owner: people.owner,
        co_managers: people.co_managers,
        kpis,
        weight_total,
        boundaries,
        checkin,
        weekday,
    })
}

#[derive(Template)]
#[template(path = "engagements/show.html")]
struct ShowPage {
    layout: Layout,
    o: Overview,
    status_label: &'static str,
    period_label: &'static str,
    window: super::boundaries::WindowNow,
    checkins: Vec<crate::checkins::CheckinRow>,
    oversight: Option<crate::checkins::oversight::Assessment>,
    feedback: crate::feedback::Balance,
    wins: Vec<crate::feedback::successes::Win>,
}

#[derive(Template)]
#[template(path = "engagements/agreement.html")]
struct AgreementPage {
    layout: Layout,
    o: Overview,
    period_label: &'static str,
    sentences: Vec<String>,
}

/// The hub for the organisation's people; a vendor user sees the agreement instead.
pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let access = access(&mut conn, &current.user, id).await?;
    if access.is_vendor {
        return render_agreement(&state, &current, &mut conn, access).await;
    }
    let zone = access.zone();
    let now = state.clock.now();
    let o = overview(&mut conn, access, state.clock.today(zone)).await?;
    let window = super::boundaries::window_now(&o.boundaries, zone, now);
    let checkins = crate::checkins::timeline(&mut conn, id, false, 12).await?;
    let oversight = crate::checkins::oversight::assess_many(&mut conn, &[id], now)
        .await?
        .into_iter()
        .next()
        .map(|(_, assessment)| assessment);
    let feedback =
        crate::feedback::balance(&mut conn, id, now - chrono::Duration::days(90), false).await?;
    let wins = crate::feedback::successes::wins(&mut conn, id, 3).await?;
    let page = ShowPage {
        checkins,
        oversight,
        feedback,
        wins,
        layout: Layout::new(&current.session, o.access.name.clone(), "/engagements"),
        status_label: Status::parse(&o.fields.status).map_or("", Status::label),
        period_label: PeriodKind::parse(&o.fields.scorecard_period).map_or("", PeriodKind::label),
        window,
        o,
    };
    Ok(Html(page.render()?))
}

/// "Our agreement": what the vendor sees; the organisation's people can open it too.
pub async fn agreement(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let access = access(&mut conn, &current.user, id).await?;
    render_agreement(&state, &current, &mut conn, access).await
}

async fn render_agreement(
    state: &AppState,
    current: &CurrentUser,
    conn: &mut PgConnection,
    access: Access,
) -> Result<Html<String>> {
    let zone = access.zone();
    let o = overview(conn, access, state.clock.today(zone)).await?;
    let sentences = super::boundaries::sentences(&o.boundaries, &o.fields.time_zone);
    let page = AgreementPage {
        layout: Layout::new(
            &current.session,
            format!("Our agreement: {}", o.access.name),
            "/engagements",
        ),
        period_label: PeriodKind::parse(&o.fields.scorecard_period).map_or("", PeriodKind::label),
        sentences,
        o,
    };
    Ok(Html(page.render()?))
}
