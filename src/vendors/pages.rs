//! The vendor pages: the list (search, filters, sort, pages), create and edit for admins,
//! and each vendor's page with its engagements, users and evaluations.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use sqlx::PgConnection;

use super::{Tier, VendorFields, VendorForm, VendorStatus};
use crate::auth::policy::{Admin, Staff};
use crate::state::AppState;
use crate::users::{self, Disable};
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Query};
use crate::web::layout::{Flash, Layout};
use crate::web::paging::{self, Pager};

const PER_PAGE: i64 = 25;

/// The list's sort orders; the SQL comes from this fixed list, never from the request.
const SORTS: &[(&str, &str, &str)] = &[
    ("name", "Name", "lower(v.name), v.id"),
    (
        "tier",
        "Criticality",
        "case v.tier when 'critical' then 1 when 'high' then 2 when 'medium' then 3 else 4 end, lower(v.name), v.id",
    ),
    (
        "status",
        "Status",
        "case v.status when 'prospect' then 1 when 'onboarding' then 2 when 'active' then 3 when 'offboarding' then 4 else 5 end, lower(v.name), v.id",
    ),
    (
        "updated",
        "Recently changed",
        "v.updated_at desc, v.id desc",
    ),
];

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    tier: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ListRow {
    id: i64,
    name: String,
    industry: String,
    tier: Tier,
    status: VendorStatus,
    engagements: i64,
    total: i64,
}

struct Row {
    id: i64,
    name: String,
    industry: String,
    tier: Tier,
    status: VendorStatus,
    engagements: i64,
}

#[derive(Template)]
#[template(path = "vendors/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    q: String,
    status: String,
    tier: String,
    sort: String,
    sorts: &'static [(&'static str, &'static str, &'static str)],
    tiers: &'static [Tier],
    statuses: &'static [VendorStatus],
    pager: Pager,
    can_edit: bool,
}

pub async fn list(
    State(state): State<AppState>,
    Staff(current): Staff,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>> {
    let q = query.q.unwrap_or_default();
    let status = query
        .status
        .filter(|s| VendorStatus::parse(s).is_some())
        .unwrap_or_default();
    let tier = query
        .tier
        .filter(|t| Tier::parse(t).is_some())
        .unwrap_or_default();
    let (sort, _, order) = SORTS
        .iter()
        .find(|(key, _, _)| Some(*key) == query.sort.as_deref())
        .copied()
        .unwrap_or(SORTS[0]);
    let page = paging::page_number(query.page.as_deref());
    let sql = format!(
        "select v.id, v.name, v.industry, v.tier, v.status,
                (select count(*) from engagements e where e.vendor_id = v.id) as engagements,
                count(*) over () as total
         from vendors v
         where ($1::text is null or v.name ilike $1 or v.legal_name ilike $1)
           and ($2::text = '' or v.status = $2)
           and ($3::text = '' or v.tier = $3)
         order by {order}
         limit $4 offset $5"
    );
    let rows: Vec<ListRow> = sqlx::query_as(&sql)
        .bind(paging::contains_pattern(&q))
        .bind(&status)
        .bind(&tier)
        .bind(PER_PAGE)
        .bind(paging::offset(page, PER_PAGE))
        .fetch_all(&state.pool)
        .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let sort_param = if sort == SORTS[0].0 { "" } else { sort };
    let pager = Pager::new(
        "/vendors",
        &[
            ("q", &q),
            ("status", &status),
            ("tier", &tier),
            ("sort", sort_param),
        ],
        page,
        PER_PAGE,
        total,
    );
    let rows = rows
        .into_iter()
        .map(|r| Row {
            id: r.id,
            name: r.name,
            industry: r.industry,
            tier: r.tier,
            status: r.status,
            engagements: r.engagements,
        })
        .collect();
    let page = ListPage {
        layout: Layout::new(&current.session, "Vendors", "/vendors"),
        rows,
        q,
        status,
        tier,
        sort: sort.to_string(),
        sorts: SORTS,
        tiers: Tier::ALL,
        statuses: VendorStatus::ALL,
        pager,
        can_edit: current.user.role == crate::auth::Role::Admin,
    };
    Ok(Html(page.render()?))
}

#[derive(Template)]
#[template(path = "vendors/form.html")]
struct FormPage {
    layout: Layout,
    form: VendorForm,
    errors: FieldErrors,
    /// The vendor being edited: its id and name.
    editing: Option<(i64, String)>,
    /// Set when saving would exit the vendor: how many users it disables.
    confirm_exit_users: Option<i64>,
}

fn form_page(
    layout: Layout,
    form: VendorForm,
    errors: FieldErrors,
    editing: Option<(i64, String)>,
    confirm_exit_users: Option<i64>,
) -> FormPage {
    FormPage {
        layout,
        form,
        errors,
        editing,
        confirm_exit_users,
    }
}

pub async fn new(Admin(current): Admin) -> Result<Response> {
    let form = VendorForm {
        tier: "medium".into(),
        status: "prospect".into(),
        ..VendorForm::default()
    };
    let page = form_page(
        Layout::new(&current.session, "New vendor", "/vendors"),
        form,
        FieldErrors::default(),
        None,
        None,
    );
    Ok(Html(page.render()?).into_response())
}

fn name_taken(error: &sqlx::Error) -> bool {
    crate::web::error::violates(error, "vendors_name_key")
}

fn taken_errors() -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.add("name", "A vendor with this name already exists.");
    errors
}

pub async fn create(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<VendorForm>,
) -> Result<Response> {
    let layout = || Layout::new(&current.session, "New vendor", "/vendors");
    let fields = match form.parse() {
        Ok(fields) => fields,
        Err(errors) => return refused(form_page(layout(), form, errors, None, None)),
    };
    let mut change = Change::begin(&state, &current, addr).await?;
    let inserted: std::result::Result<i64, sqlx::Error> = sqlx::query_scalar(
        "insert into vendors (name, legal_name, website, industry, tier, status, contact_name, contact_email, contact_phone, notes)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id",
    )
    .bind(&fields.name)
    .bind(&fields.legal_name)
    .bind(&fields.website)
    .bind(&fields.industry)
    .bind(fields.tier)
    .bind(fields.status)
    .bind(&fields.contact_name)
    .bind(&fields.contact_email)
    .bind(&fields.contact_phone)
    .bind(&fields.notes)
    .fetch_one(change.db())
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if name_taken(&e) => {
            return refused(form_page(layout(), form, taken_errors(), None, None));
        }
        Err(e) => return Err(e.into()),
    };
    change
        .audit(
            "vendor.create",
            format!("vendor:{id}"),
            serde_json::json!({ "after": fields }),
        )
        .await?;
    change
        .flash(Flash::success(format!("{} is added.", fields.name)))
        .await?;
    change.commit().await?;
    Ok(Redirect::to(&format!("/vendors/{id}")).into_response())
}

pub(crate) async fn fields_of(db: &mut PgConnection, id: i64) -> Result<VendorFields> {
    sqlx::query_as(
        "select name, legal_name, website, industry, tier, status, contact_name, contact_email, contact_phone, notes
         from vendors where id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)
}

pub async fn edit(
    State(state): State<AppState>,
    Admin(current): Admin,
    Id(id): Id,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let fields = fields_of(&mut conn, id).await?;
    let layout = Layout::new(
        &current.session,
        format!("Edit {}", fields.name),
        "/vendors",
    );
    let page = form_page(
        layout,
        VendorForm::from_fields(&fields),
        FieldErrors::default(),
        Some((id, fields.name)),
        None,
    );
    Ok(Html(page.render()?).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    Admin(current): Admin,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<VendorForm>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let before = fields_of(change.db(), id).await?;
    let editing = Some((id, before.name.clone()));
    let layout = || {
        Layout::new(
            &current.session,
            format!("Edit {}", before.name),
            "/vendors",
        )
    };
    let after = match form.parse() {
        Ok(fields) => fields,
        Err(errors) => return refused(form_page(layout(), form, errors, editing, None)),
    };
    let exiting = after.status == VendorStatus::Exited && before.status != VendorStatus::Exited;
    if exiting && form.confirm_exit != "yes" {
        let users: i64 = sqlx::query_scalar(
            "select count(*) from users where vendor_id = $1 and disabled_at is null",
        )
        .bind(id)
        .fetch_one(change.db())
        .await?;
        let page = form_page(layout(), form, FieldErrors::default(), editing, Some(users));
        return refused(page);
    }
    let updated = sqlx::query(
        "update vendors set name = $2, legal_name = $3, website = $4, industry = $5, tier = $6, status = $7,
                contact_name = $8, contact_email = $9, contact_phone = $10, notes = $11
         where id = $1",
    )
    .bind(id)
    .bind(&after.name)
    .bind(&after.legal_name)
    .bind(&after.website)
    .bind(&after.industry)
    .bind(after.tier)
    .bind(after.status)
    .bind(&after.contact_name)
    .bind(&after.contact_email)
    .bind(&after.contact_phone)
    .bind(&after.notes)
    .execute(change.db())
    .await;
    match updated {
        Ok(_) => {}
        Err(e) if name_taken(&e) => {
            return refused(form_page(layout(), form, taken_errors(), editing, None));
        }
        Err(e) => return Err(e.into()),
    }
    let mut message = format!("Saved the changes to {}.", after.name);
    if exiting {
        let now = change.now;
        let disabled = users::disable(change.db(), Disable::VendorUsers(id), now).await?;
        for user_id in &disabled.users {
            change
                .audit(
                    "user.disable",
                    format!("user:{user_id}"),
                    serde_json::json!({ "reason": "vendor exited", "vendor_id": id }),
                )
                .await?;
        }
        message = format!(
            "{} is exited; its {} users are disabled and signed out.",
            after.name,
            disabled.users.len()
        );
    }
    if before != after {
        change
            .audit(
                "vendor.update",
                format!("vendor:{id}"),
                serde_json::json!({ "before": before, "after": after }),
            )
            .await?;
    }
    change.flash(Flash::success(message)).await?;
    change.commit().await?;
    Ok(Redirect::to(&format!("/vendors/{id}")).into_response())
}

#[derive(sqlx::FromRow)]
struct EngagementRow {
    id: i64,
    name: String,
    status: String,
    owner: String,
    start_date: chrono::NaiveDate,
    end_date: Option<chrono::NaiveDate>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    name: String,
    email: String,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "vendors/show.html")]
struct ShowPage {
    layout: Layout,
    id: i64,
    vendor: VendorFields,
    engagements: Vec<EngagementRow>,
    users: Vec<UserRow>,
    evaluations: Vec<super::evaluations::EvaluationSummary>,
    latest: Option<super::evaluations::EvaluationDetail>,
    is_admin: bool,
    documents: Vec<crate::documents::DocumentRow>,
    today: chrono::NaiveDate,
    /// The required documents that have lapsed.
    lapsed: Vec<String>,
}

impl ShowPage {
    fn standing_of(&self, row: &crate::documents::DocumentRow) -> crate::documents::Standing {
        row.standing(self.today)
    }
}

pub async fn show(
    State(state): State<AppState>,
    Staff(current): Staff,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let vendor = fields_of(&mut conn, id).await?;
    let engagements: Vec<EngagementRow> = sqlx::query_as(
        "select e.id, e.name, e.status, u.name as owner, e.start_date, e.end_date
         from engagements e join users u on u.id = e.owner_id
         where e.vendor_id = $1 order by e.status = 'closed', lower(e.name)",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let users: Vec<UserRow> = sqlx::query_as(
        "select id, case when service_account then name || ' (service account)' else name end as name,
                email, disabled_at is not null as disabled
         from users where vendor_id = $1 order by service_account, lower(name)",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let zone = current.zone(state.config.time_zone);
    let evaluations = super::evaluations::history(&mut conn, id, zone).await?;
    let latest = super::evaluations::latest(&mut conn, id, zone).await?;
    let documents = crate::documents::of_vendor(&mut conn, id).await?;
    let today = state.clock.today(zone);
    let lapsed = documents
        .iter()
        .filter(|d| d.required && d.standing(today) == crate::documents::Standing::Lapsed)
        .map(|d| d.kind_name.clone())
        .collect();
    let page = ShowPage {
        layout: Layout::new(&current.session, vendor.name.clone(), "/vendors"),
        id,
        vendor,
        engagements,
        users,
        evaluations,
        latest,
        is_admin: current.user.role == crate::auth::Role::Admin,
        documents,
        today,
        lapsed,
    };
    Ok(Html(page.render()?))
}
