//! The second factor as admins see it: resetting a user's lost factor (which ends their
//! sessions). The rule that admins and managers need one is on the sign-in settings page.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::find;
use crate::auth::policy::Admin;
use crate::auth::{session, totp};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::Change;
use crate::web::error::{AppError, Result};
use crate::web::form::{Form, Id};
use crate::web::layout::Flash;

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
