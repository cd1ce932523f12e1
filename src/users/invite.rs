//! The set-password page a new user (or one whose password an admin reset) arrives at
//! through a random, single-use link that expires after 72 hours.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::token_hash;
use crate::audit::{self, Outcome};
use crate::auth::{Session, password, session};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::{Result, error_page};
use crate::web::form::{FieldErrors, Form};
use crate::web::layout::{Flash, Layout};

#[derive(Template)]
#[template(path = "users/set_password.html")]
struct SetPasswordPage {
    layout: Layout,
    token: String,
    name: String,
    email: String,
    errors: FieldErrors,
}

#[derive(sqlx::FromRow)]
struct Holder {
    user_id: i64,
    name: String,
    email: String,
}

async fn holder(
    state: &AppState,
    token: &str,
    db: &mut sqlx::PgConnection,
    lock: bool,
) -> Result<Option<Holder>> {
    let sql = format!(
        "select t.user_id, u.name, u.email
         from password_tokens t join users u on u.id = t.user_id
         where t.token_hash = $1 and t.used_at is null and t.expires_at > $2 and u.disabled_at is null
           and not u.service_account
         {}",
        if lock { "for update of t" } else { "" }
    );
    Ok(sqlx::query_as(&sql)
        .bind(token_hash(token))
        .bind(state.clock.now())
        .fetch_optional(db)
        .await?)
}

fn invalid_link() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "This link does not work",
        "The set-password link is unknown, already used or older than 72 hours. Ask an administrator for a new one.",
    )
}

async fn render(
    state: &AppState,
    mut session: Session,
    token: String,
    holder: Holder,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let mut headers = HeaderMap::new();
    if let Some(cookie) = session::ensure(state, &mut session).await? {
        headers.insert(header::SET_COOKIE, cookie);
    }
    let page = SetPasswordPage {
        layout: Layout::new(&session, "Set your password", ""),
        token,
        name: holder.name,
        email: holder.email,
        errors,
    };
    Ok((status, headers, Html(page.render()?)).into_response())
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    match holder(&state, &token, &mut conn, false).await? {
        Some(holder) => {
            render(
                &state,
                session,
                token,
                holder,
                FieldErrors::default(),
                StatusCode::OK,
            )
            .await
        }
        None => Ok(invalid_link()),
    }
}

#[derive(Debug, Deserialize)]
pub struct SetPasswordForm {
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

impl SetPasswordForm {
    /// The new password, once it meets the policy and was typed twice alike.
    fn parse(self) -> std::result::Result<String, FieldErrors> {
        let mut errors = FieldErrors::default();
        if let Err(message) = password::check_policy(&self.new) {
            errors.add("new", message);
        } else if self.new != self.confirm {
            errors.add("confirm", "The two passwords differ.");
        }
        if errors.is_empty() {
            Ok(self.new)
        } else {
            Err(errors)
        }
    }
}

pub async fn set(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<SetPasswordForm>,
) -> Result<Response> {
    let now = state.clock.now();
    let (hash, errors) = match SetPasswordForm::parse(form) {
        Ok(new) => (Some(password::hash(new).await?), FieldErrors::default()),
        Err(errors) => (None, errors),
    };
    let mut tx = state.pool.begin().await?;
    // Locked, so that a double submit uses the link once.
    let Some(holder) = holder(&state, &token, &mut tx, true).await? else {
        return Ok(invalid_link());
    };
    let Some(hash) = hash else {
        tx.rollback().await?;
        return render(
            &state,
            session,
            token,
            holder,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    sqlx::query("update users set password_hash = $2 where id = $1")
        .bind(holder.user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query("update password_tokens set used_at = $2 where token_hash = $1")
        .bind(token_hash(&token))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    session::delete_for_user(&mut *tx, holder.user_id, None).await?;
    audit::Entry::anonymous("password.set", Outcome::Success)
        .claimed_email(&holder.email)
        .target(format!("user:{}", holder.user_id))
        .client_addr(addr)
        .write(&mut *tx, now)
        .await?;
    let flash = Flash::success("Your password is set. Sign in with it.");
    session::set_flash(&mut *tx, &session, flash).await?;
    tx.commit().await?;
    Ok(Redirect::to("/login").into_response())
}
