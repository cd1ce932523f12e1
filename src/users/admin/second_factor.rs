//! The second factor as admins see it: resetting a user's lost factor (which ends their
//! sessions), and the sign-in settings page with the rule that admins and managers need one.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::find;
use crate::auth::policy::Admin;
use crate::auth::{session, totp};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id};
use crate::web::layout::{Flash, Layout};

#[derive(Debug, Deserialize)]
pub struct ResetForm {}

/// Resets a user's second factor (for a lost device): the factor and its recovery codes go,
/// and every session of the user ends, so the next sign-in meets the rule afresh.
pub async fn reset_second_factor(
    State(state): State<AppState>,
    Admin(current): Admin,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(_): Form<ResetForm>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let record = find(change.db(), id).await?;
    if record.service_account {
        return Err(AppError::BadRequest(
            "A service account never signs in and has no second factor.".into(),
        ));
    }
    let removed = totp::remove(change.db(), id).await?;
    let ended = if removed {
        session::delete_for_user(change.db(), id, None).await?
    } else {
        0
    };
    if removed {
        change
            .audit(
                "second_factor.reset",
                format!("user:{id}"),
                serde_json::json!({ "sessions_ended": ended }),
            )
            .await?;
    }
    let message = if removed {
        format!(
            "{}'s second factor is reset and they are signed out everywhere.",
            record.name
        )
    } else {
        format!("{} has no second factor.", record.name)
    };
    change.flash(Flash::success(message)).await?;
    change.commit().await?;
    // Resetting one's own factor signs oneself out too.
    let back = if id == current.user.id {
        "/login".to_string()
    } else {
        format!("/admin/users/{id}")
    };
    Ok(Redirect::to(&back).into_response())
}

#[derive(Template)]
#[template(path = "users/sign_in.html")]
struct SignInPage {
    layout: Layout,
    require_second_factor: bool,
    errors: FieldErrors,
}

pub async fn sign_in_settings(
    State(state): State<AppState>,
    Admin(current): Admin,
) -> Result<Response> {
    let page = SignInPage {
        layout: Layout::new(&current.session, "Sign-in settings", "/admin/users"),
        require_second_factor: totp::required(&state.pool).await?,
        errors: FieldErrors::default(),
    };
    Ok(Html(page.render()?).into_response())
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    require_second_factor: Option<String>,
}

pub async fn save_sign_in(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<SignInForm>,
) -> Result<Response> {
    let layout = || Layout::new(&current.session, "Sign-in settings", "/admin/users");
    let require = match form.require_second_factor.as_deref() {
        None => false,
        Some("on") => true,
        Some(_) => {
            let mut errors = FieldErrors::default();
            errors.add("require_second_factor", "Tick the box or leave it empty.");
            return refused(SignInPage {
                layout: layout(),
                require_second_factor: false,
                errors,
            });
        }
    };
    let mut change = Change::begin(&state, &current, addr).await?;
    let was = totp::required(change.db()).await?;
    if require && !was {
        // Otherwise the admin who turns it on is the first one it locks out.
        let own = totp::factor_of(change.db(), current.user.id).await?;
        if !own.is_some_and(|f| f.confirmed()) {
            let mut errors = FieldErrors::default();
            errors.add(
                "require_second_factor",
                "Set up your own second factor first (on your account page), then require one.",
            );
            return refused(SignInPage {
                layout: layout(),
                require_second_factor: false,
                errors,
            });
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
