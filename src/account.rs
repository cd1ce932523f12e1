//! A signed-in user's own account: changing the password ends their other sessions.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::audit::{self, Outcome};
use crate::auth::password::{self, Verified};
use crate::auth::throttle::{self, Verdict};
use crate::auth::{CurrentUser, session};
use crate::startup::AppState;
use crate::web::ClientAddr;
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form};
use crate::web::layout::{Flash, Layout};

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    layout: Layout,
    errors: FieldErrors,
    email: String,
}

fn page(current: &CurrentUser, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    let page = PasswordPage {
        layout: Layout::new(
            &current.session,
            "Change your password",
            "/account/password",
        ),
        errors,
        email: current.user.email.clone(),
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub async fn show(current: CurrentUser) -> Result<Response> {
    page(&current, FieldErrors::default(), StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

pub async fn change(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    let user = &current.user;
    let now = state.clock.now();
    let mut errors = FieldErrors::default();
    if let Err(message) = password::check_policy(&form.new) {
        errors.add("new", message);
    } else if form.new != form.confirm {
        errors.add("confirm", "The two new passwords differ.");
    }
    if form.current.is_empty() {
        errors.add("current", "Enter your current password.");
    }
    if !errors.is_empty() {
        return page(&current, errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Guessing the current password from a borrowed session is throttled like a login.
    if let Verdict::Locked { minutes, .. } =
        throttle::check(&state.pool, &user.email, &addr, now).await?
    {
        errors.add(
            "current",
            format!("Too many wrong passwords. Try again in {minutes} minutes."),
        );
        return page(&current, errors, StatusCode::TOO_MANY_REQUESTS);
    }
    let stored: Option<String> =
        sqlx::query_scalar("select password_hash from users where id = $1")
            .bind(user.id)
            .fetch_one(&state.pool)
            .await?;
    if password::verify(form.current, stored).await? == Verified::No {
        throttle::record(&state.pool, &user.email, &addr, false, now).await?;
        audit::Entry::by(user, "password.change", Outcome::Failure)
            .target(format!("user:{}", user.id))
            .client_addr(addr)
            .write(&state.pool, now)
            .await?;
        errors.add("current", "That is not your current password.");
        return page(&current, errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let hash = password::hash(form.new).await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("update users set password_hash = $2 where id = $1")
        .bind(user.id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    let ended =
        session::delete_for_user(&mut *tx, user.id, current.session.id_hash.as_deref()).await?;
    audit::Entry::by(user, "password.change", Outcome::Success)
        .target(format!("user:{}", user.id))
        .client_addr(addr)
        .details(serde_json::json!({ "other_sessions_ended": ended }))
        .write(&mut *tx, now)
        .await?;
    let flash =
        Flash::success("Your password has been changed. Any other sessions were signed out.");
    session::set_flash(&mut *tx, &current.session, flash).await?;
    tx.commit().await?;
    Ok(Redirect::to("/").into_response())
}
