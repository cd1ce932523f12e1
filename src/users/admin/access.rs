//! What ends or restores a user's access: disabling and enabling the account, and
//! set-password links (shown once to the admin, e-mailed too when SMTP is configured).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::find;
use crate::auth::CurrentUser;
use crate::auth::policy::Admin;
use crate::outbox as mail;
use crate::state::AppState;
use crate::users::{self as users, Disable};
use crate::web::ClientAddr;
use crate::web::change::Change;
use crate::web::error::{AppError, Result};
use crate::web::form::{Form, Id};
use crate::web::layout::Flash;

/// Flashes of this kind carry a set-password link, shown once on the user's page.
pub(super) const LINK_FLASH: &str = "link";

/// Who a set-password link is for.
pub(super) struct Recipient<'a> {
    pub id: i64,
    pub email: &'a str,
    pub name: &'a str,
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
pub(super) async fn flash_link(
    change: &mut Change<'_>,
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
        mail::enqueue(change.db(), &state.config, state.clock.now(), vec![message]).await?;
    }
    change
        .flash(Flash {
            kind: LINK_FLASH,
            message: link,
        })
        .await
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {}

async fn set_disabled(
    state: AppState,
    current: CurrentUser,
    id: i64,
    addr: String,
    disable: bool,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let back = format!("/admin/users/{id}");
    let record = find(change.db(), id).await?;
    if disable && id == current.user.id {
        let flash = Flash {
            kind: "error",
            message: "You cannot disable your own account.".into(),
        };
        change.flash(flash).await?;
        change.commit().await?;
        return Ok(Redirect::to(&back).into_response());
    }
    if disable {
        let owned: Vec<String> = sqlx::query_scalar(
            "select name from engagements where owner_id = $1 and status = 'active' order by lower(name)",
        )
        .bind(id)
        .fetch_all(change.db())
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
            change.flash(flash).await?;
            change.commit().await?;
            return Ok(Redirect::to(&back).into_response());
        }
    }
    let now = change.now;
    let (action, ended, message) = if disable {
        let disabled = users::disable(change.db(), Disable::User(id), now).await?;
        (
            "user.disable",
            disabled.sessions_ended,
            format!("{} is disabled and signed out everywhere.", record.name),
        )
    } else {
        sqlx::query("update users set disabled_at = null where id = $1")
            .bind(id)
            .execute(change.db())
            .await?;
        (
            "user.enable",
            0,
            format!("{} is enabled again.", record.name),
        )
    };
    change
        .audit(
            action,
            format!("user:{id}"),
            serde_json::json!({ "sessions_ended": ended }),
        )
        .await?;
    change.flash(Flash::success(message)).await?;
    change.commit().await?;
    Ok(Redirect::to(&back).into_response())
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
    let mut change = Change::begin(&state, &current, addr).await?;
    let record = find(change.db(), id).await?;
    if record.service_account {
        return Err(AppError::BadRequest(
            "A service account never has a password; it uses the API with service tokens.".into(),
        ));
    }
    if record.disabled_at.is_some() {
        return Err(AppError::BadRequest(
            "Enable the account before creating a set-password link.".into(),
        ));
    }
    let now = change.now;
    let token = users::new_password_link(change.db(), id, Some(current.user.id), now).await?;
    let entry = change
        .entry("user.password_link", crate::audit::Outcome::Success)
        .target(format!("user:{id}"));
    change.record(entry).await?;
    let recipient = Recipient {
        id,
        email: &record.email,
        name: &record.name,
    };
    flash_link(&mut change, &state, &token, recipient).await?;
    change.commit().await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}
