//! A signed-in user's own account: time zone and working hours, the calendar feed, personal
//! API tokens, the password (changing it ends their other sessions) and the second factor
//! (`second_factor`).

mod second_factor;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveTime, Utc};
use serde::Deserialize;

use crate::api::tokens::{self, NewToken, Scope, TokenRow};
use crate::audit::{self, Outcome};
use crate::auth::password::{self, Verified};
use crate::auth::throttle::{self, Verdict};
use crate::auth::{CurrentUser, Role, User, session};
use crate::engagements::weekday_name;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::AppError;
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form, Id, Pairs};
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

fn page(current: &CurrentUser, errors: FieldErrors) -> PasswordPage {
    PasswordPage {
        layout: Layout::new(
            &current.session,
            "Change your password",
            "/account/password",
        ),
        errors,
        email: current.user.email.clone(),
    }
}

pub async fn show(current: CurrentUser) -> Result<Response> {
    Ok(Html(page(&current, FieldErrors::default()).render()?).into_response())
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

/// A password change, as the form gives it: the current password (still to verify) and a
/// new one that meets the policy and was typed twice alike.
pub struct NewPassword {
    pub current: String,
    pub new: String,
}

impl NewPassword {
    pub fn parse(form: PasswordForm) -> std::result::Result<NewPassword, FieldErrors> {
        let mut errors = FieldErrors::default();
        if let Err(message) = password::check_policy(&form.new) {
            errors.add("new", message);
        } else if form.new != form.confirm {
            errors.add("confirm", "The two new passwords differ.");
        }
        if form.current.is_empty() {
            errors.add("current", "Enter your current password.");
        }
        if errors.is_empty() {
            Ok(NewPassword {
                current: form.current,
                new: form.new,
            })
        } else {
            Err(errors)
        }
    }
}

/// Whether `given` is the signed-in `user`'s password. A wrong one is written to the audit
/// log under `action` at once, outside any change: the refusal itself is what the log keeps.
async fn password_confirms(
    state: &AppState,
    user: &User,
    given: String,
    action: &'static str,
    addr: &str,
) -> Result<bool> {
    let stored: Option<String> =
        sqlx::query_scalar("select password_hash from users where id = $1")
            .bind(user.id)
            .fetch_one(&state.pool)
            .await?;
    if password::verify(given, stored).await? != Verified::No {
        return Ok(true);
    }
    audit::Entry::by(user, action, Outcome::Failure)
        .target(format!("user:{}", user.id))
        .client_addr(addr)
        .write(&state.pool, state.clock.now())
        .await?;
    Ok(false)
}

pub async fn change(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<PasswordForm>,
) -> Result<Response> {
    let user = &current.user;
    let now = state.clock.now();
    let input = match NewPassword::parse(form) {
        Ok(input) => input,
        Err(errors) => return refused(page(&current, errors)),
    };
    let mut errors = FieldErrors::default();
    // Guessing the current password from a borrowed session is throttled like a login.
    if let Verdict::Locked { minutes, .. } =
        throttle::admit(&state.pool, &user.email, &addr, now).await?
    {
        errors.add(
            "current",
            format!("Too many wrong passwords. Try again in {minutes} minutes."),
        );
        let page = page(&current, errors);
        return Ok((StatusCode::TOO_MANY_REQUESTS, Html(page.render()?)).into_response());
    }
    if !password_confirms(&state, user, input.current, "password.change", &addr).await? {
        errors.add("current", "That is not your current password.");
        return refused(page(&current, errors));
    }
    // Hashed before the change begins: no transaction waits on argon2.
    let hash = password::hash(input.new).await?;
    let mut change = Change::begin(&state, &current, addr.clone()).await?;
    sqlx::query("update users set password_hash = $2 where id = $1")
        .bind(user.id)
        .bind(hash)
        .execute(change.db())
        .await?;
    let ended =
        session::delete_for_user(change.db(), user.id, current.session.id_hash.as_deref()).await?;
    change
        .audit(
            "password.change",
            format!("user:{}", user.id),
            serde_json::json!({ "other_sessions_ended": ended }),
        )
        .await?;
    let flash =
        Flash::success("Your password has been changed. Any other sessions were signed out.");
    change.flash(flash).await?;
    change.commit().await?;
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
    /// The user has a confirmed second factor.
    has_second_factor: bool,
    /// A feed address just made: shown once.
    feed_url: Option<String>,
    /// Whether this user may hold personal API tokens (managers and vendor users).
    may_hold_tokens: bool,
    tokens: Vec<TokenRow>,
    token_form: Pairs,
    token_errors: FieldErrors,
    /// A token just made, with its secret: shown this once.
    new_token: Option<tokens::Created>,
    zone: chrono_tz::Tz,
    now: DateTime<Utc>,
}

impl SettingsPage {
    fn day_checked(&self, day: &u32) -> bool {
        self.form
            .all("work_days")
            .contains(&day.to_string().as_str())
    }

    fn days(&self) -> Vec<(u32, &'static str)> {
        crate::engagements::WEEK
            .into_iter()
            .map(|d| (d.number_from_monday(), weekday_name(d)))
            .collect()
    }

    fn scopes(&self) -> &'static [Scope] {
        Scope::ALL
    }

    /// A time of the token list, in the reader's zone.
    fn when(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    fn is_live(&self, token: &TokenRow) -> bool {
        token.is_live(self.now)
    }
}

#[derive(sqlx::FromRow)]
struct Settings {
    time_zone: String,
    work_days: Vec<i32>,
    work_start: NaiveTime,
    work_end: NaiveTime,
    has_feed: bool,
    has_second_factor: bool,
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
        "select time_zone, work_days, work_start, work_end, calendar_token_hash is not null as has_feed,
                exists (select 1 from user_totp t where t.user_id = users.id and t.confirmed_at is not null)
                    as has_second_factor
         from users where id = $1",
    )
    .bind(user_id)
    .fetch_one(&state.pool)
    .await?)
}

fn settings_page(
    state: &AppState,
    current: &CurrentUser,
    form: Pairs,
    errors: FieldErrors,
    has_feed: bool,
    feed_url: Option<String>,
) -> SettingsPage {
    SettingsPage {
        layout: Layout::new(&current.session, "Your settings", "/account"),
        form,
        errors,
        email: current.user.email.clone(),
        is_vendor: current.user.role == Role::Vendor,
        has_feed,
        has_second_factor: false,
        feed_url,
        may_hold_tokens: tokens::may_hold(&current.user),
        tokens: Vec::new(),
        token_form: token_defaults(),
        token_errors: FieldErrors::default(),
        new_token: None,
        zone: current.zone(state.config.time_zone),
        now: state.clock.now(),
    }
}

fn token_defaults() -> Pairs {
    Pairs(vec![
        ("token_days".into(), tokens::DEFAULT_DAYS.to_string()),
        ("token_scope".into(), Scope::Read.as_str().into()),
    ])
}

/// The settings page as stored, with the user's tokens.
async fn stored_page(
    state: &AppState,
    current: &CurrentUser,
    feed_url: Option<String>,
) -> Result<SettingsPage> {
    let settings = settings_of(state, current.user.id).await?;
    let mut page = settings_page(
        state,
        current,
        pairs_of(&settings),
        FieldErrors::default(),
        settings.has_feed,
        feed_url,
    );
    page.has_second_factor = settings.has_second_factor;
    if page.may_hold_tokens {
        page.tokens = tokens::list(&state.pool, current.user.id).await?;
    }
    Ok(page)
}

/// Flashes of this kind carry a new calendar feed address, shown once.
const FEED_FLASH: &str = "link";

pub async fn settings(State(state): State<AppState>, mut current: CurrentUser) -> Result<Response> {
    let feed_url = match current.session.flash.take() {
        Some(flash) if flash.kind == FEED_FLASH => Some(flash.message),
        other => {
            current.session.flash = other;
            None
        }
    };
    let page = stored_page(&state, &current, feed_url).await?;
    Ok(Html(page.render()?).into_response())
}

/// The settings form once valid: the user's own zone, working days and hours.
pub struct AccountSettings {
    pub zone: chrono_tz::Tz,
    pub work_days: Vec<i32>,
    pub work_start: NaiveTime,
    pub work_end: NaiveTime,
}

impl AccountSettings {
    pub fn parse(form: &Pairs) -> std::result::Result<AccountSettings, FieldErrors> {
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
        match (zone, start, end) {
            (Some(zone), Some(work_start), Some(work_end)) if errors.is_empty() => {
                Ok(AccountSettings {
                    zone,
                    work_days: days,
                    work_start,
                    work_end,
                })
            }
            _ => Err(errors),
        }
    }
}

pub async fn save_settings(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let AccountSettings {
        zone,
        work_days: days,
        work_start: start,
        work_end: end,
    } = match AccountSettings::parse(&form) {
        Ok(input) => input,
        Err(errors) => {
            let mut page = stored_page(&state, &current, None).await?;
            page.form = form;
            page.errors = errors;
            return refused(page);
        }
    };
    let mut change = Change::begin(&state, &current, addr).await?;
    sqlx::query(
        "update users set time_zone = $2, work_days = $3, work_start = $4, work_end = $5 where id = $1",
    )
    .bind(current.user.id)
    .bind(zone.name())
    .bind(&days)
    .bind(start)
    .bind(end)
    .execute(change.db())
    .await?;
    // E-mail already planned for the old hours is planned again.
    crate::reminders::replan_mail(change.db(), current.user.id).await?;
    change
        .audit(
            "account.settings",
            format!("user:{}", current.user.id),
            serde_json::json!({
                "time_zone": zone.name(), "work_days": days,
                "work_start": start.format("%H:%M").to_string(), "work_end": end.format("%H:%M").to_string(),
            }),
        )
        .await?;
    change
        .flash(Flash::success("Your settings are saved."))
        .await?;
    change.commit().await?;
    Ok(Redirect::to("/account").into_response())
}

/// Makes a new calendar feed address (the old one stops working), or removes the feed.
pub async fn calendar(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let remove = form.get("action") == "remove";
    let token = (!remove).then(session::random_token);
    let mut change = Change::begin(&state, &current, addr).await?;
    sqlx::query("update users set calendar_token_hash = $2 where id = $1")
        .bind(current.user.id)
        .bind(token.as_deref().map(session::token_hash))
        .execute(change.db())
        .await?;
    let action = if remove {
        "calendar.remove"
    } else {
        "calendar.create"
    };
    let entry = change
        .entry(action, Outcome::Success)
        .target(format!("user:{}", current.user.id));
    change.record(entry).await?;
    let flash = match token {
        Some(token) => Flash {
            kind: FEED_FLASH,
            message: format!("{}/calendar/{token}.ics", state.config.public_url),
        },
        None => Flash::success("Your calendar feed is removed; its address no longer works."),
    };
    change.flash(flash).await?;
    change.commit().await?;
    Ok(Redirect::to("/account").into_response())
}

/// Makes a personal API token and shows its secret on the page, this once: no redirect,
/// and nothing of the answer may be stored on the way.
pub async fn create_token(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    if !tokens::may_hold(&current.user) {
        return Err(AppError::Forbidden);
    }
    let token = match NewToken::parse(&form) {
        Ok(token) => token,
        Err(errors) => {
            let mut page = stored_page(&state, &current, None).await?;
            page.token_form = form;
            page.token_errors = errors;
            return refused(page);
        }
    };
    let mut change = Change::begin(&state, &current, addr).await?;
    let now = change.now;
    let created = tokens::create(change.db(), current.user.id, &token, now).await?;
    change
        .audit(
            "api_token.create",
            format!("api_token:{}", created.id),
            serde_json::json!({
                "token_id": created.id, "name": created.name,
                "scope": token.scope.as_str(), "days": token.days,
            }),
        )
        .await?;
    change.commit().await?;
    let mut page = stored_page(&state, &current, None).await?;
    page.new_token = Some(created);
    let mut response = Html(page.render()?).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Revokes one of the user's own tokens; another user's token id is not found.
pub async fn revoke_token(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(_form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let now = change.now;
    let name = tokens::revoke(change.db(), current.user.id, id, now)
        .await?
        .ok_or(AppError::NotFound)?;
    change
        .audit(
            "api_token.revoke",
            format!("api_token:{id}"),
            serde_json::json!({ "token_id": id, "name": name }),
        )
        .await?;
    change
        .flash(Flash::success(format!(
            "The token “{name}” is revoked; it no longer opens the API."
        )))
        .await?;
    change.commit().await?;
    Ok(Redirect::to("/account").into_response())
}

/// The routes of account.
pub fn routes() -> Routes {
    Routes::new()
        .get("/account", settings)
        .post("/account", save_settings)
        .post("/account/calendar", calendar)
        .post("/account/tokens", create_token)
        .post("/account/tokens/{id}/revoke", revoke_token)
        .get("/account/second-factor", second_factor::show)
        .post("/account/second-factor", second_factor::start)
        .post("/account/second-factor/confirm", second_factor::confirm)
        .post("/account/second-factor/remove", second_factor::remove)
        .get("/account/password", show)
        .post("/account/password", change)
}
