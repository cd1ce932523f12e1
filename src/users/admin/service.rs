//! Service tokens for admins: tokens that belong to a service account bound to the
//! manager role or to one vendor, made, listed and revoked on `/admin/service-tokens`.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::api::tokens::{self, Created, NewToken, Scope, ServiceTokenRow};
use crate::auth::CurrentUser;
use crate::auth::policy::Admin;
use crate::state::AppState;
use crate::users::service::{self, Binding, ServiceAccount};
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs};
use crate::web::layout::{Flash, Layout};

const PAGE: &str = "/admin/service-tokens";

#[derive(sqlx::FromRow, Clone)]
struct VendorOption {
    id: i64,
    name: String,
}

/// Vendors a new service account may be bound to: every one that has not exited.
async fn vendor_options(db: &mut PgConnection) -> Result<Vec<VendorOption>> {
    Ok(sqlx::query_as(
        "select id, name from vendors where status <> 'exited' order by lower(name), id",
    )
    .fetch_all(db)
    .await?)
}

/// What the binding field chose: a new account, or a further token for an existing one.
enum Chosen {
    New(Binding),
    Account(i64),
}

/// The service-token form once valid.
struct NewServiceToken {
    token: NewToken,
    chosen: Chosen,
}

impl NewServiceToken {
    fn parse(
        form: &Pairs,
        vendors: &[VendorOption],
        accounts: &[ServiceAccount],
    ) -> std::result::Result<NewServiceToken, FieldErrors> {
        let token = NewToken::parse(form);
        let raw = form.get("binding").trim();
        let chosen = match raw.split_once(':') {
            None if raw == "manager" => Some(Chosen::New(Binding::Manager)),
            Some(("vendor", id)) => id
                .parse::<i64>()
                .ok()
                .filter(|id| vendors.iter().any(|v| v.id == *id))
                .map(|id| Chosen::New(Binding::Vendor(id))),
            Some(("account", id)) => id
                .parse::<i64>()
                .ok()
                .filter(|id| accounts.iter().any(|a| a.id == *id))
                .map(Chosen::Account),
            _ => None,
        };
        match (token, chosen) {
            (Ok(token), Some(chosen)) => Ok(NewServiceToken { token, chosen }),
            (token, chosen) => {
                let mut errors = token.err().unwrap_or_default();
                if chosen.is_none() {
                    errors.add(
                        "binding",
                        "Choose what the token is bound to: the manager role, a vendor, or an existing service account.",
                    );
                }
                Err(errors)
            }
        }
    }
}

#[derive(Template)]
#[template(path = "users/service_tokens.html")]
struct ServiceTokensPage {
    layout: Layout,
    tokens: Vec<ServiceTokenRow>,
    vendors: Vec<VendorOption>,
    accounts: Vec<ServiceAccount>,
    form: Pairs,
    errors: FieldErrors,
    /// A token just made, with its secret: shown this once.
    new_token: Option<Created>,
    zone: chrono_tz::Tz,
    now: DateTime<Utc>,
}

impl ServiceTokensPage {
    fn scopes(&self) -> &'static [Scope] {
        Scope::ALL
    }

    fn when(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    fn is_live(&self, row: &ServiceTokenRow) -> bool {
        row.token.is_live(self.now)
    }

    fn binding_of(&self, row: &ServiceTokenRow) -> String {
        match &row.vendor_name {
            Some(vendor) => format!("Vendor {vendor}"),
            None => format!("{} role", row.role.label()),
        }
    }

    fn account_label(&self, account: &ServiceAccount) -> String {
        match &account.vendor_name {
            Some(vendor) => format!("{} (vendor {vendor})", account.name),
            None => format!("{} ({} role)", account.name, account.role.label()),
        }
    }

    fn selected(&self, value: &str) -> bool {
        self.form.get("binding") == value
    }
}

fn defaults() -> Pairs {
    Pairs(vec![
        ("binding".into(), "manager".into()),
        ("token_days".into(), tokens::DEFAULT_DAYS.to_string()),
        ("token_scope".into(), Scope::Read.as_str().into()),
    ])
}

async fn page(state: &AppState, current: &CurrentUser) -> Result<ServiceTokensPage> {
    let mut conn = state.pool.acquire().await?;
    let vendors = vendor_options(&mut conn).await?;
    let accounts = service::enabled_accounts(&mut conn).await?;
    drop(conn);
    Ok(ServiceTokensPage {
        layout: Layout::new(&current.session, "Service tokens", PAGE),
        tokens: tokens::list_service(&state.pool).await?,
        vendors,
        accounts,
        form: defaults(),
        errors: FieldErrors::default(),
        new_token: None,
        zone: current.zone(state.config.time_zone),
        now: state.clock.now(),
    })
}

pub async fn list(State(state): State<AppState>, Admin(current): Admin) -> Result<Response> {
    Ok(Html(page(&state, &current).await?.render()?).into_response())
}

/// Makes a service token (and, for a new binding, its service account) and shows the
/// secret on the page, this once.
pub async fn create(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let vendors = vendor_options(change.db()).await?;
    let accounts = service::enabled_accounts(change.db()).await?;
    let input = match NewServiceToken::parse(&form, &vendors, &accounts) {
        Ok(input) => input,
        Err(errors) => {
            drop(change);
            let mut page = page(&state, &current).await?;
            page.form = form;
            page.errors = errors;
            return refused(page);
        }
    };
    let now = change.now;
    let account_id = match input.chosen {
        Chosen::Account(id) => id,
        Chosen::New(binding) => {
            let zone = state.config.time_zone.name();
            let id =
                service::create_account(change.db(), &input.token.name, binding, zone, now).await?;
            change
                .audit(
                    "service_account.create",
                    format!("user:{id}"),
                    serde_json::json!({
                        "name": input.token.name, "role": binding.role().as_str(),
                        "vendor_id": binding.vendor_id(),
                    }),
                )
                .await?;
            id
        }
    };
    let created = tokens::create(change.db(), account_id, &input.token, now).await?;
    change
        .audit(
            "api_token.create",
            format!("api_token:{}", created.id),
            serde_json::json!({
                "token_id": created.id, "name": created.name, "service_account": account_id,
                "scope": input.token.scope.as_str(), "days": input.token.days,
            }),
        )
        .await?;
    change.commit().await?;
    let mut page = page(&state, &current).await?;
    page.new_token = Some(created);
    let mut response = Html(page.render()?).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Revokes a service token; a personal token's id, or none, is not found here.
pub async fn revoke(
    State(state): State<AppState>,
    Admin(current): Admin,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(_form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let now = change.now;
    let (name, account) = tokens::revoke_service(change.db(), id, now)
        .await?
        .ok_or(AppError::NotFound)?;
    change
        .audit(
            "api_token.revoke",
            format!("api_token:{id}"),
            serde_json::json!({ "token_id": id, "name": name, "service_account": account }),
        )
        .await?;
    change
        .flash(Flash::success(format!(
            "The service token “{name}” is revoked; it no longer opens the API."
        )))
        .await?;
    change.commit().await?;
    Ok(Redirect::to(PAGE).into_response())
}
