//! The user form: creating a user (who then sets their password through a link), a user's
//! page, and saving changes to them.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono_tz::Tz;
use serde::Deserialize;
use sqlx::PgConnection;

use super::access::{LINK_FLASH, Recipient, flash_link};
use super::{UserRecord, find, status_of};
use crate::auth::policy::Admin;
use crate::auth::{CurrentUser, Role, session};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form, Id};
use crate::web::layout::{Flash, Layout};

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
pub struct UserInput {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub vendor_id: Option<i64>,
    /// The user's own zone as typed (it parses as one).
    pub time_zone: String,
}

impl UserInput {
    /// Checks every field at once; `vendors` are the ids that exist.
    fn parse(
        form: &UserForm,
        vendors: &[VendorOption],
    ) -> std::result::Result<UserInput, FieldErrors> {
        let this = form;
        let mut errors = FieldErrors::default();
        let email = this.email.trim();
        let at = email.find('@');
        if email.is_empty() {
            errors.add("email", "Enter an e-mail address.");
        } else if email.len() > 254
            || email.contains(char::is_whitespace)
            || at.is_none_or(|i| i == 0 || i == email.len() - 1)
        {
            errors.add("email", "Enter an e-mail address like name@example.com.");
        }
        let name = this.name.trim();
        if name.is_empty() {
            errors.add("name", "Enter the person's name.");
        } else if name.chars().count() > 200 {
            errors.add("name", "Use at most 200 characters.");
        }
        let role = Role::parse(&this.role);
        if role.is_none() {
            errors.add("role", "Choose a role.");
        }
        let vendor_id = match (role, this.vendor_id.trim()) {
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
        let time_zone = this.time_zone.trim();
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
pub(super) struct VendorOption {
    pub id: i64,
    pub name: String,
}

pub(super) async fn vendor_options(db: &mut PgConnection) -> Result<Vec<VendorOption>> {
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
    /// A service account: no person, no password, its tokens on the service-token page.
    service: bool,
    is_self: bool,
    created_at: String,
    link: Option<String>,
    /// The link went out by e-mail too (SMTP is configured).
    emailed: bool,
    /// The user has a second factor (or has begun one): an admin may reset it.
    second_factor: bool,
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
) -> FormPage {
    FormPage {
        layout,
        form,
        errors,
        vendors,
        roles: Role::ALL,
        existing,
    }
}

pub async fn new(State(state): State<AppState>, Admin(current): Admin) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let vendors = vendor_options(&mut conn).await?;
    let form = UserForm {
        role: "manager".into(),
        time_zone: state.config.time_zone.name().to_string(),
        ..UserForm::default()
    };
    let page = form_page(
        Layout::new(&current.session, "New user", "/admin/users"),
        form,
        FieldErrors::default(),
        vendors,
        None,
    );
    Ok(Html(page.render()?).into_response())
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
    let mut change = Change::begin(&state, &current, addr).await?;
    let vendors = vendor_options(change.db()).await?;
    let layout = || Layout::new(&current.session, "New user", "/admin/users");
    let input = match UserInput::parse(&form, &vendors) {
        Ok(input) => input,
        Err(errors) => return refused(form_page(layout(), form, errors, vendors, None)),
    };
    let inserted = sqlx::query_scalar::<_, i64>(
        "insert into users (email, name, role, vendor_id, time_zone) values ($1, $2, $3, $4, $5) returning id",
    )
    .bind(&input.email)
    .bind(&input.name)
    .bind(input.role)
    .bind(input.vendor_id)
    .bind(&input.time_zone)
    .fetch_one(change.db())
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_email_violation(&e) => {
            return refused(form_page(layout(), form, email_taken(), vendors, None));
        }
        Err(e) => return Err(e.into()),
    };
    let now = change.now;
    let token =
        crate::users::new_password_link(change.db(), id, Some(current.user.id), now).await?;
    change
        .audit(
            "user.create",
            format!("user:{id}"),
            serde_json::json!({ "email": input.email, "role": input.role.as_str(), "vendor_id": input.vendor_id }),
        )
        .await?;
    let recipient = Recipient {
        id,
        email: &input.email,
        name: &input.name,
    };
    flash_link(&mut change, &state, &token, recipient).await?;
    change.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}

fn email_taken() -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.add("email", "A user with this e-mail address already exists.");
    errors
}

fn existing(record: &UserRecord, current_id: i64, link: Option<String>, zone: Tz) -> Existing {
    Existing {
        id: record.id,
        status: status_of(
            record.disabled_at.is_some(),
            record.has_password,
            record.service_account,
        ),
        service: record.service_account,
        is_self: record.id == current_id,
        created_at: record
            .created_at
            .with_timezone(&zone)
            .format("%Y-%m-%d")
            .to_string(),
        emailed: false,
        link,
        second_factor: record.has_second_factor,
    }
}

fn form_of(record: &UserRecord) -> UserForm {
    UserForm {
        email: record.email.clone(),
        name: record.name.clone(),
        role: record.role.as_str().to_string(),
        vendor_id: record
            .vendor_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        time_zone: record.time_zone.clone(),
    }
}

fn user_zone(state: &AppState, current: &CurrentUser) -> Tz {
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
    let page = form_page(
        layout,
        form_of(&record),
        FieldErrors::default(),
        vendors,
        Some(existing),
    );
    Ok(Html(page.render()?).into_response())
}

pub async fn update(
    State(state): State<AppState>,
    Admin(current): Admin,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<UserForm>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let record = find(change.db(), id).await?;
    let vendors = vendor_options(change.db()).await?;
    let page_again = |form: UserForm, errors: FieldErrors| {
        let existing = existing(&record, current.user.id, None, user_zone(&state, &current));
        let layout = Layout::new(&current.session, record.name.clone(), "/admin/users");
        refused(form_page(
            layout,
            form,
            errors,
            vendors.clone(),
            Some(existing),
        ))
    };
    let input = match UserInput::parse(&form, &vendors) {
        Ok(input) => input,
        Err(errors) => return page_again(form, errors),
    };
    if record.service_account && input.role == Role::Admin {
        let mut errors = FieldErrors::default();
        errors.add(
            "role",
            "A service account has a manager's or a vendor's rights, never an administrator's.",
        );
        return page_again(form, errors);
    }
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
        .bind(input.role)
        .bind(input.vendor_id)
        .bind(&input.time_zone)
        .execute(change.db())
        .await;
    if let Err(e) = updated {
        if is_unique_email_violation(&e) {
            return page_again(form, email_taken());
        }
        return Err(e.into());
    }
    let role_changed = record.role != input.role || record.vendor_id != input.vendor_id;
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
        session::delete_for_user(change.db(), id, None).await?;
        change
            .audit(
                "user.role_change",
                format!("user:{id}"),
                serde_json::json!({
                    "from": { "role": record.role, "vendor_id": record.vendor_id },
                    "to": { "role": input.role.as_str(), "vendor_id": input.vendor_id },
                }),
            )
            .await?;
    }
    if !changed.is_empty() {
        change
            .audit(
                "user.update",
                format!("user:{id}"),
                serde_json::json!({ "changed": changed }),
            )
            .await?;
    }
    let flash = Flash::success(format!("Saved the changes to {}.", input.name));
    change.flash(flash).await?;
    change.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}
