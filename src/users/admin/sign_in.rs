//! The sign-in settings page: whether admins and managers need a second factor and, when
//! single sign-on is configured, the rule of each e-mail domain its provider serves (whose
//! people they are, whether they must use it, the one domain whose newcomers become
//! managers). Each part is a form of its own; a refused one shows the other as stored.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use sqlx::PgConnection;

use super::edit::{VendorOption, vendor_options};
use crate::auth::oidc::rules::{self, DomainRule};
use crate::auth::policy::Admin;
use crate::auth::session::CurrentUser;
use crate::auth::totp;
use crate::config::OidcConfig;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Pairs};
use crate::web::layout::{Flash, Layout};

const TITLE: &str = "Sign-in settings";
/// The value of the "create manager accounts" choice that picks no domain.
const NO_DOMAIN: &str = "none";

#[derive(Template)]
#[template(path = "users/sign_in.html")]
struct SignInPage {
    layout: Layout,
    require_second_factor: bool,
    errors: FieldErrors,
    /// Present when single sign-on is configured.
    sso: Option<SsoRules>,
}

/// The single sign-on part of the page: a row per configured domain.
struct SsoRules {
    label: String,
    rows: Vec<RuleRow>,
    vendors: Vec<VendorOption>,
    /// Who keeps a password whatever the rules say: name and e-mail.
    break_glass: Option<(String, String)>,
    errors: FieldErrors,
}

struct RuleRow {
    index: usize,
    domain: String,
    /// "" for the organisation, else the vendor's id.
    whose: String,
    required: bool,
    create_managers: bool,
}

impl RuleRow {
    fn of(index: usize, rule: DomainRule) -> RuleRow {
        RuleRow {
            index,
            whose: rule.vendor_id.map(|id| id.to_string()).unwrap_or_default(),
            domain: rule.domain,
            required: rule.required,
            create_managers: rule.create_managers,
        }
    }
}

impl SsoRules {
    fn whose_options(&self) -> Vec<(String, String)> {
        let mut options = vec![(String::new(), "The organisation".to_string())];
        options.extend(
            self.vendors
                .iter()
                .map(|v| (v.id.to_string(), format!("Vendor: {}", v.name))),
        );
        options
    }

    fn creates_none(&self) -> bool {
        !self.rows.iter().any(|r| r.create_managers)
    }
}

/// The stored single sign-on rules, or `None` when single sign-on is not configured.
async fn stored_rules(
    db: &mut PgConnection,
    oidc: Option<&OidcConfig>,
) -> Result<Option<SsoRules>> {
    let Some(oidc) = oidc else {
        return Ok(None);
    };
    let rows = rules::all(db, oidc)
        .await?
        .into_iter()
        .enumerate()
        .map(|(i, rule)| RuleRow::of(i, rule))
        .collect();
    Ok(Some(SsoRules {
        label: oidc.label.clone(),
        rows,
        vendors: vendor_options(db).await?,
        break_glass: break_glass(db).await?,
        errors: FieldErrors::default(),
    }))
}

async fn break_glass(db: &mut PgConnection) -> Result<Option<(String, String)>> {
    let Some(id) = rules::break_glass_admin(db).await? else {
        return Ok(None);
    };
    Ok(
        sqlx::query_as("select name, email from users where id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?,
    )
}

fn layout(current: &CurrentUser) -> Layout {
    Layout::new(&current.session, TITLE, "/admin/users")
}

pub async fn show(State(state): State<AppState>, Admin(current): Admin) -> Result<Response> {
    let mut db = state.pool.acquire().await?;
    let page = SignInPage {
        layout: layout(&current),
        require_second_factor: totp::required(&mut *db).await?,
        errors: FieldErrors::default(),
        sso: stored_rules(&mut db, state.config.oidc.as_ref()).await?,
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Debug, Deserialize)]
pub struct SecondFactorForm {
    #[serde(default)]
    require_second_factor: Option<String>,
}

pub async fn save_second_factor(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<SecondFactorForm>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let require = match form.require_second_factor.as_deref() {
        None => false,
        Some("on") => true,
        Some(_) => {
            return refuse_second_factor(
                &mut change,
                &state,
                &current,
                "Tick the box or leave it empty.",
            )
            .await;
        }
    };
    let was = totp::required(change.db()).await?;
    if require && !was {
        // Otherwise the admin who turns it on is the first one it locks out.
        let own = totp::factor_of(change.db(), current.user.id).await?;
        if !own.is_some_and(|f| f.confirmed()) {
            return refuse_second_factor(
                &mut change,
                &state,
                &current,
                "Set up your own second factor first (on your account page), then require one.",
            )
            .await;
        }
    }
    let now = change.now;
    if require != was {
        let ended = totp::set_required(change.db(), require, now).await?;
        change
            .audit(
                "settings.require_second_factor",
                "settings:sign-in",
                serde_json::json!({ "required": require, "sessions_ended": ended }),
            )
            .await?;
    }
    let message = if require {
        "Admins and managers now need a second factor; those without one set it up at their next sign-in."
    } else {
        "A second factor is optional for everyone."
    };
    change.flash(Flash::success(message)).await?;
    change.commit().await?;
    Ok(Redirect::to("/admin/sign-in").into_response())
}

async fn refuse_second_factor(
    change: &mut Change<'_>,
    state: &AppState,
    current: &CurrentUser,
    message: &str,
) -> Result<Response> {
    let mut errors = FieldErrors::default();
    errors.add("require_second_factor", message);
    let sso = stored_rules(change.db(), state.config.oidc.as_ref()).await?;
    refused(SignInPage {
        layout: layout(current),
        require_second_factor: false,
        errors,
        sso,
    })
}

/// Saves every configured domain's rule. The form posts `whose_<i>` and `required_<i>` per
/// domain (in the configuration's order) and one `create_managers`: a domain's index or
/// `none`.
pub async fn save_sso(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let Some(oidc) = state.config.oidc.as_ref() else {
        return Err(AppError::NotFound);
    };
    let mut change = Change::begin(&state, &current, addr).await?;
    let vendors = vendor_options(change.db()).await?;
    let mut errors = FieldErrors::default();
    let creating = form.get("create_managers");
    let creating = match creating {
        "" | NO_DOMAIN => None,
        index => match index.parse::<usize>() {
            Ok(i) if i < oidc.domains.len() => Some(i),
            _ => {
                errors.add(
                    "create_managers",
                    "Choose one of the domains listed, or no domain.",
                );
                None
            }
        },
    };
    let mut rows = Vec::with_capacity(oidc.domains.len());
    for (index, domain) in oidc.domains.iter().enumerate() {
        let whose_field = format!("whose_{index}");
        let whose = form.get(&whose_field);
        let vendor_id = match whose {
            "" => None,
            id => {
                let known = id
                    .parse::<i64>()
                    .ok()
                    .filter(|id| vendors.iter().any(|v| v.id == *id));
                if known.is_none() {
                    errors.add(
                        whose_field,
                        "Choose the organisation or one of the vendors listed.",
                    );
                }
                known
            }
        };
        let required_field = format!("required_{index}");
        let required = match form.get(&required_field) {
            "" => false,
            "on" => true,
            _ => {
                errors.add(required_field, "Tick the box or leave it empty.");
                false
            }
        };
        let create_managers = creating == Some(index);
        if create_managers && vendor_id.is_some() {
            errors.add(
                "create_managers",
                format!(
                    "@{domain} is a vendor's domain: manager accounts are created only for the organisation's people."
                ),
            );
        }
        rows.push(RuleRow {
            index,
            domain: domain.clone(),
            whose: vendor_id.map(|id| id.to_string()).unwrap_or_default(),
            required,
            create_managers,
        });
    }
    if !errors.is_empty() {
        let require_second_factor = totp::required(change.db()).await?;
        let break_glass = break_glass(change.db()).await?;
        return refused(SignInPage {
            layout: layout(&current),
            require_second_factor,
            errors: FieldErrors::default(),
            sso: Some(SsoRules {
                label: oidc.label.clone(),
                rows,
                vendors,
                break_glass,
                errors,
            }),
        });
    }
    let rules: Vec<DomainRule> = rows
        .iter()
        .map(|row| DomainRule {
            domain: row.domain.clone(),
            required: row.required,
            vendor_id: row.whose.parse().ok(),
            create_managers: row.create_managers,
        })
        .collect();
    let before = rules::all(change.db(), oidc).await?;
    if before != rules {
        let now = change.now;
        rules::save(change.db(), &rules, now).await?;
        let changed: Vec<serde_json::Value> = rules
            .iter()
            .filter(|rule| !before.contains(rule))
            .map(|rule| {
                serde_json::json!({
                    "domain": rule.domain,
                    "required": rule.required,
                    "vendor_id": rule.vendor_id,
                    "create_managers": rule.create_managers,
                })
            })
            .collect();
        change
            .audit(
                "settings.sso_domains",
                "settings:sign-in",
                serde_json::json!({ "changed": changed }),
            )
            .await?;
    }
    change
        .flash(Flash::success(format!(
            "The rules for signing in with {} are saved.",
            oidc.label
        )))
        .await?;
    change.commit().await?;
    Ok(Redirect::to("/admin/sign-in#sso").into_response())
}
