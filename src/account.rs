//! A signed-in user's own account: time zone and working hours, the calendar feed, and the
//! password (changing it ends their other sessions).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveTime;
use serde::Deserialize;

use crate::audit::{self, Outcome};
use crate::auth::password::{self, Verified};
use crate::auth::throttle::{self, Verdict};
use crate::auth::{CurrentUser, Role, session};
use crate::engagements::cadence::weekday_name;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form, Pairs};
use crate::web::layout::{Flash, Layout};
use crate::web::routes::Routes;
use crate::web::validate;

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
        throttle::admit(&state.pool, &user.email, &addr, now).await?
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
        .client_addr(addr.clone())
        .details(serde_json::json!({ "other_sessions_ended": ended }))
        .write(&mut *tx, now)
        .await?;
    let flash =
        Flash::success("Your password has been changed. Any other sessions were signed out.");
    session::set_flash(&mut *tx, &current.session, flash).await?;
    tx.commit().await?;
    throttle::succeeded(&state.pool, &user.email, &addr).await?;
    Ok(Redirect::to("/").into_response())
}

/// The settings page: time zone and working hours (colleagues' e-mail waits for them), the
/// calendar feed, and the way to the password form.
#[derive(Template)]
#[template(path = "account/settings.html")]
struct SettingsPage {
    layout: Layout,
    form: Pairs,
    errors: FieldErrors,
    email: String,
    is_vendor: bool,
    has_feed: bool,
    /// A feed address just made: shown once.
    feed_url: Option<String>,
}

impl SettingsPage {
    fn day_checked(&self, day: &u32) -> bool {
        self.form
            .all("work_days")
            .contains(&day.to_string().as_str())
    }

    fn days(&self) -> Vec<(u32, &'static str)> {
        crate::engagements::cadence::WEEK
            .into_iter()
            .map(|d| (d.number_from_monday(), weekday_name(d)))
            .collect()
    }
}

#[derive(sqlx::FromRow)]
struct Settings {
    time_zone: String,
    work_days: Vec<i32>,
    work_start: NaiveTime,
    work_end: NaiveTime,
    has_feed: bool,
}

fn pairs_of(s: &Settings) -> Pairs {
    let mut pairs: Vec<(String, String)> = s
        .work_days
        .iter()
        .map(|d| ("work_days".to_string(), d.to_string()))
        .collect();
    pairs.extend([
        ("time_zone".to_string(), s.time_zone.clone()),
        (
            "work_start".into(),
            s.work_start.format("%H:%M").to_string(),
        ),
        ("work_end".into(), s.work_end.format("%H:%M").to_string()),
    ]);
    Pairs(pairs)
}

async fn settings_of(state: &AppState, user_id: i64) -> Result<Settings> {
    Ok(sqlx::query_as(
        "select time_zone, work_days, work_start, work_end, calendar_token_hash is not null as has_feed
         from users where id = $1",
    )
    .bind(user_id)
    .fetch_one(&state.pool)
    .await?)
}

fn settings_page(
    current: &CurrentUser,
    form: Pairs,
    errors: FieldErrors,
    has_feed: bool,
    feed_url: Option<String>,
    status: StatusCode,
) -> Result<Response> {
    let page = SettingsPage {
        layout: Layout::new(&current.session, "Your settings", "/account"),
        form,
        errors,
        email: current.user.email.clone(),
        is_vendor: current.user.role == Role::Vendor,
        has_feed,
        feed_url,
    };
    Ok((status, Html(page.render()?)).into_response())
}

/// Flashes of this kind carry a new calendar feed address, shown once.
const FEED_FLASH: &str = "link";

pub async fn settings(State(state): State<AppState>, mut current: CurrentUser) -> Result<Response> {
    let settings = settings_of(&state, current.user.id).await?;
    let feed_url = match current.session.flash.take() {
        Some(flash) if flash.kind == FEED_FLASH => Some(flash.message),
        other => {
            current.session.flash = other;
            None
        }
    };
    settings_page(
        &current,
        pairs_of(&settings),
        FieldErrors::default(),
        settings.has_feed,
        feed_url,
        StatusCode::OK,
    )
}

pub async fn save_settings(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut errors = FieldErrors::default();
    let zone = validate::time_zone(&mut errors, "time_zone", form.get("time_zone"));
    let days = validate::weekdays(
        &mut errors,
        "work_days",
        &form.all("work_days"),
        "Choose at least one working day.",
    );
    let start = validate::time(&mut errors, "work_start", form.get("work_start"));
    let end = validate::time(&mut errors, "work_end", form.get("work_end"));
    if let (Some(start), Some(end)) = (start, end)
        && start == end
    {
        errors.add(
            "work_end",
            "The end of your day must differ from its start.",
        );
    }
    let (Some(zone), Some(start), Some(end), true) = (zone, start, end, errors.is_empty()) else {
        let has_feed = settings_of(&state, current.user.id).await?.has_feed;
        return settings_page(
            &current,
            form,
            errors,
            has_feed,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "update users set time_zone = $2, work_days = $3, work_start = $4, work_end = $5 where id = $1",
    )
    .bind(current.user.id)
    .bind(zone.name())
    .bind(&days)
    .bind(start)
    .bind(end)
    .execute(&mut *tx)
    .await?;
    // E-mail already planned for the old hours is planned again.
    sqlx::query(
        "update inbox_items set deliver_after = null where user_id = $1 and email_state = 'pending'",
    )
    .bind(current.user.id)
    .execute(&mut *tx)
    .await?;
    audit::Entry::by(&current.user, "account.settings", Outcome::Success)
        .target(format!("user:{}", current.user.id))
        .client_addr(addr)
        .details(serde_json::json!({
            "time_zone": zone.name(), "work_days": days,
            "work_start": start.format("%H:%M").to_string(), "work_end": end.format("%H:%M").to_string(),
        }))
        .write(&mut *tx, now)
        .await?;
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success("Your settings are saved."),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/account").into_response())
}

/// Makes a new calendar feed address (the old one stops working), or removes the feed.
pub async fn calendar(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let remove = form.get("action") == "remove";
    let token = (!remove).then(session::random_token);
    let mut tx = state.pool.begin().await?;
    sqlx::query("update users set calendar_token_hash = $2 where id = $1")
        .bind(current.user.id)
        .bind(token.as_deref().map(session::token_hash))
        .execute(&mut *tx)
        .await?;
    audit::Entry::by(
        &current.user,
        if remove {
            "calendar.remove"
        } else {
            "calendar.create"
        },
        Outcome::Success,
    )
    .target(format!("user:{}", current.user.id))
    .client_addr(addr)
    .write(&mut *tx, now)
    .await?;
    let flash = match token {
        Some(token) => Flash {
            kind: FEED_FLASH,
            message: format!("{}/calendar/{token}.ics", state.config.public_url),
        },
        None => Flash::success("Your calendar feed is removed; its address no longer works."),
    };
    session::set_flash(&mut *tx, &current.session, flash).await?;
    tx.commit().await?;
    Ok(Redirect::to("/account").into_response())
}

/// The routes of account.
pub fn routes() -> Routes {
    Routes::new()
        .get("/account", settings)
        .post("/account", save_settings)
        .post("/account/calendar", calendar)
        .get("/account/password", show)
        .post("/account/password", change)
}
