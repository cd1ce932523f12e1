//! User administration for admins: list, create, edit, disable and enable, and
//! set-password links instead of passwords typed by the admin.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use sqlx::PgConnection;

use crate::audit::{self, Outcome};
use crate::auth::policy::Admin;
use crate::auth::{Role, Session, session};
use crate::outbox as mail;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Query};
use crate::web::layout::{Flash, Layout};
use crate::web::paging::{self, Pager};

const PER_PAGE: i64 = 25;

/// Flashes of this kind carry a set-password link, shown once on the user's page.
const LINK_FLASH: &str = "link";

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    role: Option<String>,
    status: Option<String>,
    page: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ListRow {
    id: i64,
    email: String,
    name: String,
    role: String,
    vendor_name: Option<String>,
    disabled: bool,
    has_password: bool,
    total: i64,
}

struct UserRow {
    id: i64,
    email: String,
    name: String,
    role_label: &'static str,
    vendor_name: String,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "users/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<UserRow>,
    q: String,
    role: String,
    status: String,
    pager: Pager,
}

const STATUSES: [&str; 3] = ["active", "invited", "disabled"];

fn status_of(disabled: bool, has_password: bool) -> &'static str {
    match (disabled, has_password) {
        (true, _) => "disabled",
        (false, false) => "invited",
        (false, true) => "active",
    }
}

pub async fn list(
    State(state): State<AppState>,
    Admin(current): Admin,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>> {
    let q = query.q.unwrap_or_default();
    let role = query
        .role
        .filter(|r| Role::parse(r).is_some())
        .unwrap_or_default();
    let status = query
        .status
        .filter(|s| STATUSES.contains(&s.as_str()))
        .unwrap_or_default();
    let page = paging::page_number(query.page.as_deref());
    let rows: Vec<ListRow> = sqlx::query_as(
        "select u.id, u.email, u.name, u.role, v.name as vendor_name,
                u.disabled_at is not null as disabled, u.password_hash is not null as has_password,
                count(*) over () as total
         from users u left join vendors v on v.id = u.vendor_id
         where ($1::text is null or u.name ilike $1 or u.email ilike $1 or v.name ilike $1)
           and ($2::text = '' or u.role = $2)
           and ($3::text = ''
                or ($3 = 'disabled' and u.disabled_at is not null)
                or ($3 = 'invited' and u.disabled_at is null and u.password_hash is null)
                or ($3 = 'active' and u.disabled_at is null and u.password_hash is not null))
         order by lower(u.name), u.id
         limit $4 offset $5",
    )
    .bind(paging::contains_pattern(&q))
    .bind(&role)
    .bind(&status)
    .bind(PER_PAGE)
    .bind(paging::offset(page, PER_PAGE))
    .fetch_all(&state.pool)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let pager = Pager::new(
        "/admin/users",
        &[("q", &q), ("role", &role), ("status", &status)],
        page,
        PER_PAGE,
        total,
    );
    let rows = rows
        .into_iter()
        .map(|r| UserRow {
            id: r.id,
            email: r.email,
            name: r.name,
            role_label: Role::parse(&r.role).map_or("", Role::label),
            vendor_name: r.vendor_name.unwrap_or_default(),
            status: status_of(r.disabled, r.has_password),
        })
        .collect();
    let page = ListPage {
        layout: Layout::new(&current.session, "Users", "/admin/users"),
        rows,
        q,
        role,
        status,
        pager,
    };
    Ok(Html(page.render()?))
}

/// The user form as typed.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct UserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    vendor_id: String,
    #[serde(default)]
    time_zone: String,
}

/// The user form once every field is valid.
struct UserInput {
    email: String,
    name: String,
    role: Role,
    vendor_id: Option<i64>,
    time_zone: String,
}

impl UserForm {
    /// Checks every field at once; `vendors` are the ids that exist.
    fn parse(&self, vendors: &[VendorOption]) -> std::result::Result<UserInput, FieldErrors> {
        let mut errors = FieldErrors::default();
        let email = self.email.trim();
        let at = email.find('@');
        if email.is_empty() {
            errors.add("email", "Enter an e-mail address.");
        } else if email.len() > 254
            || email.contains(char::is_whitespace)
            || at.is_none_or(|i| i == 0 || i == email.len() - 1)
        {
            errors.add("email", "Enter an e-mail address like name@example.com.");
        }
        let name = self.name.trim();
        if name.is_empty() {
            errors.add("name", "Enter the person's name.");
        } else if name.chars().count() > 200 {
            errors.add("name", "Use at most 200 characters.");
        }
        let role = Role::parse(&self.role);
        if role.is_none() {
            errors.add("role", "Choose a role.");
        }
        let vendor_id = match (role, self.vendor_id.trim()) {
            (Some(Role::Vendor), "") => {
                errors.add(
                    "vendor_id",
                    "A vendor user belongs to a vendor: choose one.",
                );
                None
            }
            (Some(Role::Vendor), raw) => match raw
                .parse::<i64>()
                .ok()
                .filter(|id| vendors.iter().any(|v| v.id == *id))
            {
                Some(id) => Some(id),
                None => {
                    errors.add("vendor_id", "Choose one of the listed vendors.");
                    None
                }
            },
            // Only vendor users belong to a vendor; a posted vendor is ignored for others.
            _ => None,
        };
        let time_zone = self.time_zone.trim();
        if time_zone.parse::<Tz>().is_err() {
            errors.add(
                "time_zone",
                "Enter a time zone such as Europe/Berlin or UTC.",
            );
        }
        match (errors.is_empty(), role) {
            (true, Some(role)) => Ok(UserInput {
                email: email.to_string(),
                name: name.to_string(),
                role,
                vendor_id,
                time_zone: time_zone.to_string(),
            }),
            _ => Err(errors),
        }
    }
}

#[derive(sqlx::FromRow, Clone)]
struct VendorOption {
    id: i64,
    name: String,
}

async fn vendor_options(db: &mut PgConnection) -> Result<Vec<VendorOption>> {
    Ok(
        sqlx::query_as("select id, name from vendors order by lower(name)")
            .fetch_all(db)
            .await?,
    )
}

/// What the edit page shows besides the form.
struct Existing {
    id: i64,
    status: &'static str,
    is_self: bool,
    created_at: String,
    link: Option<String>,
    /// The link went out by e-mail too (SMTP is configured).
    emailed: bool,
}

#[derive(Template)]
#[template(path = "users/form.html")]
struct FormPage {
    layout: Layout,
    form: UserForm,
    errors: FieldErrors,
    vendors: Vec<VendorOption>,
    roles: [Role; 3],
    existing: Option<Existing>,
}

fn form_page(
    layout: Layout,
    form: UserForm,
    errors: FieldErrors,
    vendors: Vec<VendorOption>,
    existing: Option<Existing>,
    status: StatusCode,
) -> Result<Response> {
    let page = FormPage {
        layout,
        form,
        errors,
        vendors,
        roles: Role::ALL,
        existing,
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub async fn new(State(state): State<AppState>, Admin(current): Admin) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let vendors = vendor_options(&mut conn).await?;
    let form = UserForm {
        role: "manager".into(),
        time_zone: state.config.time_zone.name().to_string(),
        ..UserForm::default()
    };
    form_page(
        Layout::new(&current.session, "New user", "/admin/users"),
        form,
        FieldErrors::default(),
        vendors,
        None,
        StatusCode::OK,
    )
}

fn is_unique_email_violation(error: &sqlx::Error) -> bool {
    crate::web::error::violates(error, "users_email_key")
}

pub async fn create(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<UserForm>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let vendors = vendor_options(&mut tx).await?;
    let layout = || Layout::new(&current.session, "New user", "/admin/users");
    let input = match form.parse(&vendors) {
        Ok(input) => input,
        Err(errors) => {
            return form_page(
                layout(),
                form,
                errors,
                vendors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let inserted = sqlx::query_scalar::<_, i64>(
        "insert into users (email, name, role, vendor_id, time_zone) values ($1, $2, $3, $4, $5) returning id",
    )
    .bind(&input.email)
    .bind(&input.name)
    .bind(input.role.as_str())
    .bind(input.vendor_id)
    .bind(&input.time_zone)
    .fetch_one(&mut *tx)
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_email_violation(&e) => {
            let mut errors = FieldErrors::default();
            errors.add("email", "A user with this e-mail address already exists.");
            return form_page(
                layout(),
                form,
                errors,
                vendors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(e) => return Err(e.into()),
    };
    let token = super::new_password_link(&mut tx, id, Some(current.user.id), now).await?;
    audit::Entry::by(&current.user, "user.create", Outcome::Success)
        .target(format!("user:{id}"))
        .client_addr(addr)
        .details(serde_json::json!({ "email": input.email, "role": input.role.as_str(), "vendor_id": input.vendor_id }))
        .write(&mut *tx, now)
        .await?;
    let recipient = Recipient {
        id,
        email: &input.email,
        name: &input.name,
    };
    flash_link(&mut tx, &current.session, &state, &token, recipient).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}

/// Who a set-password link is for.
struct Recipient<'a> {
    id: i64,
    email: &'a str,
    name: &'a str,
}

#[derive(Template)]
#[template(path = "email/set_password.txt")]
struct SetPasswordText<'a> {
    name: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/set_password.html")]
struct SetPasswordHtml<'a> {
    name: &'a str,
    link: &'a str,
}

/// Shows a new set-password link once, on the user's page, through the admin's session.
async fn flash_link(
    db: &mut PgConnection,
    session: &Session,
    state: &AppState,
    token: &str,
    recipient: Recipient<'_>,
) -> Result<()> {
    let link = format!("{}/set-password/{token}", state.config.public_url);
    // With SMTP configured the link is also e-mailed, in the same transaction (the outbox).
    if state.config.smtp_url.is_some() {
        let message = mail::Outgoing {
            recipient_id: Some(recipient.id),
            to: recipient.email.to_string(),
            subject: "Set your Trellis password".into(),
            text: SetPasswordText {
                name: recipient.name,
                link: &link,
            }
            .render()?,
            html: SetPasswordHtml {
                name: recipient.name,
                link: &link,
            }
            .render()?,
            urgent: true,
        };
        mail::enqueue(&mut *db, &state.config, state.clock.now(), vec![message]).await?;
    }
    let flash = Flash {
        kind: LINK_FLASH,
        message: link,
    };
    Ok(session::set_flash(db, session, flash).await?)
}

#[derive(sqlx::FromRow)]
struct UserRecord {
    id: i64,
    email: String,
    name: String,
    role: String,
    vendor_id: Option<i64>,
    time_zone: String,
    disabled_at: Option<DateTime<Utc>>,
    has_password: bool,
    created_at: DateTime<Utc>,
}

async fn find(db: &mut PgConnection, id: i64) -> Result<UserRecord> {
    sqlx::query_as(
        "select id, email, name, role, vendor_id, time_zone, disabled_at,
                password_hash is not null as has_password, created_at
         from users where id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)
}

fn existing(record: &UserRecord, current_id: i64, link: Option<String>, zone: Tz) -> Existing {
    Existing {
        id: record.id,
        status: status_of(record.disabled_at.is_some(), record.has_password),
        is_self: record.id == current_id,
        created_at: record
            .created_at
            .with_timezone(&zone)
            .format("%Y-%m-%d")
            .to_string(),
        emailed: false,
        link,
    }
}

fn form_of(record: &UserRecord) -> UserForm {
    UserForm {
        email: record.email.clone(),
        name: record.name.clone(),
        role: record.role.clone(),
        vendor_id: record
            .vendor_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        time_zone: record.time_zone.clone(),
    }
}

fn user_zone(state: &AppState, current: &crate::auth::CurrentUser) -> Tz {
    current.zone(state.config.time_zone)
}

pub async fn show(
    State(state): State<AppState>,
    Admin(mut current): Admin,
    Id(id): Id,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let record = find(&mut conn, id).await?;
    let vendors = vendor_options(&mut conn).await?;
    // A fresh set-password link arrives as a flash and is shown here, once.
    let link = match current.session.flash.take() {
        Some(flash) if flash.kind == LINK_FLASH => Some(flash.message),
        other => {
            current.session.flash = other;
            None
        }
    };
    let mut existing = existing(&record, current.user.id, link, user_zone(&state, &current));
    existing.emailed = existing.link.is_some() && state.config.smtp_url.is_some();
    let layout = Layout::new(&current.session, record.name.clone(), "/admin/users");
    form_page(
        layout,
        form_of(&record),
        FieldErrors::default(),
        vendors,
        Some(existing),
        StatusCode::OK,
    )
}

pub async fn update(
    State(state): State<AppState>,
    Admin(current): Admin,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<UserForm>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let record = find(&mut tx, id).await?;
    let vendors = vendor_options(&mut tx).await?;
    let page_again = |form: UserForm, errors: FieldErrors| {
        let existing = existing(&record, current.user.id, None, user_zone(&state, &current));
        let layout = Layout::new(&current.session, record.name.clone(), "/admin/users");
        form_page(
            layout,
            form,
            errors,
            vendors.clone(),
            Some(existing),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let input = match form.parse(&vendors) {
        Ok(input) => input,
        Err(errors) => return page_again(form, errors),
    };
    if id == current.user.id && input.role != Role::Admin {
        let mut errors = FieldErrors::default();
        errors.add(
            "role",
            "You cannot take away your own administrator role; ask another administrator.",
        );
        return page_again(form, errors);
    }
    let updated = sqlx::query("update users set email = $2, name = $3, role = $4, vendor_id = $5, time_zone = $6 where id = $1")
        .bind(id)
        .bind(&input.email)
        .bind(&input.name)
        .bind(input.role.as_str())
        .bind(input.vendor_id)
        .bind(&input.time_zone)
        .execute(&mut *tx)
        .await;
    if let Err(e) = updated {
        if is_unique_email_violation(&e) {
            let mut errors = FieldErrors::default();
            errors.add("email", "A user with this e-mail address already exists.");
            return page_again(form, errors);
        }
        return Err(e.into());
    }
    let role_changed = record.role != input.role.as_str() || record.vendor_id != input.vendor_id;
    let mut changed: Vec<&str> = Vec::new();
    if record.email != input.email {
        changed.push("email");
    }
    if record.name != input.name {
        changed.push("name");
    }
    if record.time_zone != input.time_zone {
        changed.push("time_zone");
    }
    if role_changed {
        // New permissions start with a new sign-in.
        session::delete_for_user(&mut *tx, id, None).await?;
        audit::Entry::by(&current.user, "user.role_change", Outcome::Success)
            .target(format!("user:{id}"))
            .client_addr(addr.clone())
            .details(serde_json::json!({
                "from": { "role": record.role, "vendor_id": record.vendor_id },
                "to": { "role": input.role.as_str(), "vendor_id": input.vendor_id },
            }))
            .write(&mut *tx, now)
            .await?;
    }
    if !changed.is_empty() {
        audit::Entry::by(&current.user, "user.update", Outcome::Success)
            .target(format!("user:{id}"))
            .client_addr(addr)
            .details(serde_json::json!({ "changed": changed }))
            .write(&mut *tx, now)
            .await?;
    }
    let flash = Flash::success(format!("Saved the changes to {}.", input.name));
    session::set_flash(&mut *tx, &current.session, flash).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {}

async fn set_disabled(
    state: AppState,
    current: crate::auth::CurrentUser,
    id: i64,
    addr: String,
    disable: bool,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let record = find(&mut tx, id).await?;
    if disable && id == current.user.id {
        let flash = Flash {
            kind: "error",
            message: "You cannot disable your own account.".into(),
        };
        session::set_flash(&mut *tx, &current.session, flash).await?;
        tx.commit().await?;
        return Ok(Redirect::to(&format!("/admin/users/{id}")).into_response());
    }
    if disable {
        let owned: Vec<String> = sqlx::query_scalar(
            "select name from engagements where owner_id = $1 and status = 'active' order by lower(name)",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        if !owned.is_empty() {
            let flash = Flash {
                kind: "error",
                message: format!(
                    "{} still owns active engagements: {}. Hand each one to another manager first (Edit on the engagement), then disable the account.",
                    record.name,
                    owned.join(", ")
                ),
            };
            session::set_flash(&mut *tx, &current.session, flash).await?;
            tx.commit().await?;
            return Ok(Redirect::to(&format!("/admin/users/{id}")).into_response());
        }
    }
    sqlx::query("update users set disabled_at = case when $2 then coalesce(disabled_at, $3) end where id = $1")
        .bind(id)
        .bind(disable)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let ended = if disable {
        session::delete_for_user(&mut *tx, id, None).await?
    } else {
        0
    };
    let action = if disable {
        "user.disable"
    } else {
        "user.enable"
    };
    audit::Entry::by(&current.user, action, Outcome::Success)
        .target(format!("user:{id}"))
        .client_addr(addr)
        .details(serde_json::json!({ "sessions_ended": ended }))
        .write(&mut *tx, now)
        .await?;
    let message = if disable {
        format!("{} is disabled and signed out everywhere.", record.name)
    } else {
        format!("{} is enabled again.", record.name)
    };
    session::set_flash(&mut *tx, &current.session, Flash::success(message)).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}

pub async fn disable(
    State(state): State<AppState>,
    Admin(current): Admin,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(_): Form<ActionForm>,
) -> Result<Response> {
    set_disabled(state, current, id, addr, true).await
}

pub async fn enable(
    State(state): State<AppState>,
    Admin(current): Admin,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(_): Form<ActionForm>,
) -> Result<Response> {
    set_disabled(state, current, id, addr, false).await
}

/// A new set-password link for a user; any earlier unused one stops working.
pub async fn password_link(
    State(state): State<AppState>,
    Admin(current): Admin,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(_): Form<ActionForm>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let record = find(&mut tx, id).await?;
    if record.disabled_at.is_some() {
        return Err(AppError::BadRequest(
            "Enable the account before creating a set-password link.".into(),
        ));
    }
    let token = super::new_password_link(&mut tx, id, Some(current.user.id), now).await?;
    audit::Entry::by(&current.user, "user.password_link", Outcome::Success)
        .target(format!("user:{id}"))
        .client_addr(addr)
        .write(&mut *tx, now)
        .await?;
    let recipient = Recipient {
        id,
        email: &record.email,
        name: &record.name,
    };
    flash_link(&mut tx, &current.session, &state, &token, recipient).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}
