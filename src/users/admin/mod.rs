//! User administration for admins: list, create, edit, disable and enable, and
//! set-password links instead of passwords typed by the admin. `edit` holds the user form
//! (create, show, update), `access` what ends or restores access (disable, enable, links),
//! `second_factor` the reset of a lost factor, `sign_in` the sign-in settings (the second
//! factor rule and single sign-on's domain rules).

mod access;
mod edit;
mod second_factor;
mod service;
mod sign_in;

pub use access::{ActionForm, disable, enable, password_link};
pub use edit::{UserForm, UserInput, create, new, show, update};
pub use second_factor::reset_second_factor;
pub use service::{
    create as create_service_token, list as service_tokens, revoke as revoke_service_token,
};
pub use sign_in::{
    save_second_factor as save_sign_in, save_sso as save_sso_rules, show as sign_in_settings,
};

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgConnection;

use crate::auth::Role;
use crate::auth::policy::Admin;
use crate::state::AppState;
use crate::web::error::{AppError, Result};
use crate::web::form::Query;
use crate::web::layout::Layout;
use crate::web::paging::{self, Pager};

const PER_PAGE: i64 = 25;

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
    role: Role,
    vendor_name: Option<String>,
    disabled: bool,
    has_password: bool,
    service_account: bool,
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

const STATUSES: [&str; 4] = ["active", "invited", "service", "disabled"];

/// A user's status on the admin pages. A service account is no person: never "invited",
/// since it never gets a password.
fn status_of(disabled: bool, has_password: bool, service_account: bool) -> &'static str {
    match (disabled, has_password, service_account) {
        (true, _, _) => "disabled",
        (false, _, true) => "service",
        (false, false, false) => "invited",
        (false, true, false) => "active",
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
                u.service_account, count(*) over () as total
         from users u left join vendors v on v.id = u.vendor_id
         where ($1::text is null or u.name ilike $1 or u.email ilike $1 or v.name ilike $1)
           and ($2::text = '' or u.role = $2)
           and ($3::text = ''
                or ($3 = 'disabled' and u.disabled_at is not null)
                or ($3 = 'invited' and u.disabled_at is null and u.password_hash is null and not u.service_account)
                or ($3 = 'service' and u.disabled_at is null and u.service_account)
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
            role_label: if r.service_account {
                match r.role {
                    Role::Vendor => "Service account (vendor)",
                    _ => "Service account (manager)",
                }
            } else {
                r.role.label()
            },
            vendor_name: r.vendor_name.unwrap_or_default(),
            status: status_of(r.disabled, r.has_password, r.service_account),
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

/// A user as stored, for the admin pages.
#[derive(sqlx::FromRow)]
struct UserRecord {
    id: i64,
    email: String,
    name: String,
    role: Role,
    vendor_id: Option<i64>,
    time_zone: String,
    disabled_at: Option<DateTime<Utc>>,
    has_password: bool,
    service_account: bool,
    created_at: DateTime<Utc>,
    /// A confirmed second factor, or an enrolment begun.
    has_second_factor: bool,
}

async fn find(db: &mut PgConnection, id: i64) -> Result<UserRecord> {
    sqlx::query_as(
        "select id, email, name, role, vendor_id, time_zone, disabled_at,
                password_hash is not null as has_password, service_account, created_at,
                exists (select 1 from user_totp t where t.user_id = users.id) as has_second_factor
         from users where id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)
}
