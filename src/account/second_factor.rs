//! The user's own second factor on `/account/second-factor`: enrolment (a QR code drawn by
//! the server and the secret as text), confirmation by a first code, the recovery codes shown
//! once, and removal with the password.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::audit::{self, Outcome};
use crate::auth::CurrentUser;
use crate::auth::throttle::{self, Verdict};
use crate::auth::totp::{self, QrSvg, Typed};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form};
use crate::web::layout::{Flash, Layout};

const PAGE: &str = "/account/second-factor";

/// Where the user's factor stands.
enum Standing {
    None,
    /// Begun: the new secret waits for its first code.
    Pending {
        secret: String,
        qr: Option<QrSvg>,
    },
    Enrolled {
        since: String,
        codes_left: i64,
    },
}

#[derive(Template)]
#[template(path = "account/second_factor.html")]
struct SecondFactorPage {
    layout: Layout,
    email: String,
    standing: Standing,
    /// The organisation requires one for this user's role: it cannot be removed here.
    required: bool,
    errors: FieldErrors,
    /// Recovery codes just made: shown this once.
    codes: Vec<String>,
}

impl SecondFactorPage {
    fn pending(&self) -> Option<(&str, &Option<QrSvg>)> {
        match &self.standing {
            Standing::Pending { secret, qr } => Some((secret, qr)),
            _ => None,
        }
    }

    fn enrolled(&self) -> Option<(&str, i64)> {
        match &self.standing {
            Standing::Enrolled { since, codes_left } => Some((since, *codes_left)),
            _ => None,
        }
    }
}

async fn page_of(
    state: &AppState,
    current: &CurrentUser,
    errors: FieldErrors,
) -> Result<SecondFactorPage> {
    let user = &current.user;
    let factor = totp::factor_of(&state.pool, user.id).await?;
    let zone = current.zone(state.config.time_zone);
    let when = |at: DateTime<Utc>| at.with_timezone(&zone).format("%Y-%m-%d").to_string();
    let standing = match factor {
        None => Standing::None,
        Some(f) => match f.confirmed_at {
            Some(at) => Standing::Enrolled {
                since: when(at),
                codes_left: totp::recovery_codes_left(&state.pool, user.id).await?,
            },
            None => Standing::Pending {
                secret: totp::secret_text(&f.secret),
                qr: totp::qr_svg(&totp::otpauth_url(&f.secret, &user.email)),
            },
        },
    };
    Ok(SecondFactorPage {
        layout: Layout::new(&current.session, "Second factor", "/account"),
        email: user.email.clone(),
        standing,
        required: totp::required_for(&state.pool, user.role).await?,
        errors,
        codes: Vec::new(),
    })
}

/// A page that carries a secret or recovery codes: never kept by the browser.
fn secret_answer(status: StatusCode, page: SecondFactorPage) -> Result<Response> {
    let mut response = (status, Html(page.render()?)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub async fn show(State(state): State<AppState>, current: CurrentUser) -> Result<Response> {
    let page = page_of(&state, &current, FieldErrors::default()).await?;
    secret_answer(StatusCode::OK, page)
}

#[derive(Debug, Deserialize)]
pub struct StartForm {}

/// Begins an enrolment with a new secret (one begun before is replaced).
pub async fn start(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Form(_): Form<StartForm>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let now = change.now;
    let user_id = current.user.id;
    if !totp::begin_enrolment(change.db(), user_id, now).await? {
        change
            .flash(Flash {
                kind: "error",
                message: "You have a second factor already; remove it first to set up another."
                    .into(),
            })
            .await?;
        change.commit().await?;
        return Ok(Redirect::to(PAGE).into_response());
    }
    change
        .audit(
            "second_factor.enrol",
            format!("user:{user_id}"),
            serde_json::Value::Null,
        )
        .await?;
    change.commit().await?;
    Ok(Redirect::to(PAGE).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    code: String,
}

fn one_error(field: &'static str, message: impl Into<String>) -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.add(field, message);
    errors
}

/// Confirms the enrolment with the first code the app shows, and shows the recovery codes.
pub async fn confirm(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<ConfirmForm>,
) -> Result<Response> {
    let user = &current.user;
    let now = state.clock.now();
    let factor = match totp::factor_of(&state.pool, user.id).await? {
        Some(factor) if !factor.confirmed() => factor,
        // Nothing waits for a code (a double submit, or it was removed meanwhile).
        _ => return Ok(Redirect::to(PAGE).into_response()),
    };
    let code = match totp::parse_code(&form.code) {
        Some(Typed::Totp(code)) => code,
        _ => {
            let errors = one_error("code", "Enter the 6-digit code your app shows.");
            let page = page_of(&state, &current, errors).await?;
            return secret_answer(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    if let Verdict::Locked { minutes, .. } =
        throttle::admit_code(&state.pool, user.id, &addr, now).await?
    {
        let errors = one_error(
            "code",
            format!("Too many wrong codes. Try again in {minutes} minutes."),
        );
        let page = page_of(&state, &current, errors).await?;
        return secret_answer(StatusCode::TOO_MANY_REQUESTS, page);
    }
    let step = totp::matching_step(&factor.secret, &code, now);
    let mut change = Change::begin(&state, &current, addr.clone()).await?;
    let codes = match step {
        Some(step) => totp::confirm(change.db(), user.id, step, now).await?,
        None => None,
    };
    let Some(codes) = codes else {
        drop(change);
        // Recorded at once, outside any change: the refusal itself is what the log keeps.
        audit::Entry::by(user, "second_factor.confirm", Outcome::Failure)
            .target(format!("user:{}", user.id))
            .client_addr(addr)
            .write(&state.pool, now)
            .await?;
        let errors = one_error(
            "code",
            "That code is not right. Check the time on your device and enter the newest code.",
        );
        let page = page_of(&state, &current, errors).await?;
        return secret_answer(StatusCode::UNPROCESSABLE_ENTITY, page);
    };
    change
        .audit(
            "second_factor.confirm",
            format!("user:{}", user.id),
            serde_json::json!({ "recovery_codes": codes.len() }),
        )
        .await?;
    change.commit().await?;
    throttle::code_succeeded(&state.pool, user.id, &addr).await?;
    // Shown on this answer, once: no redirect, and nothing of it stored on the way.
    let mut page = page_of(&state, &current, FieldErrors::default()).await?;
    page.codes = codes;
    secret_answer(StatusCode::OK, page)
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    password: String,
}

/// Removes the user's factor, once they give their password.
pub async fn remove(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<RemoveForm>,
) -> Result<Response> {
    let user = &current.user;
    let now = state.clock.now();
    let again = |errors: FieldErrors| async {
        let page = page_of(&state, &current, errors).await?;
        refused(page)
    };
    if totp::required_for(&state.pool, user.role).await? {
        return again(one_error(
            "password",
            "Your organisation requires a second factor for your role, so it cannot be removed. An administrator can reset it if you lost your device.",
        ))
        .await;
    }
    if form.password.is_empty() {
        return again(one_error("password", "Enter your password.")).await;
    }
    if form.password.chars().count() > 1024 {
        return again(one_error(
            "password",
            "A password has at most 1024 characters.",
        ))
        .await;
    }
    // Guessing the password from a borrowed session is throttled like a login.
    if let Verdict::Locked { minutes, .. } =
        throttle::admit(&state.pool, &user.email, &addr, now).await?
    {
        let page = page_of(
            &state,
            &current,
            one_error(
                "password",
                format!("Too many wrong passwords. Try again in {minutes} minutes."),
            ),
        )
        .await?;
        return Ok((StatusCode::TOO_MANY_REQUESTS, Html(page.render()?)).into_response());
    }
    if !super::password_confirms(&state, user, form.password, "second_factor.remove", &addr).await?
    {
        return again(one_error("password", "That is not your password.")).await;
    }
    let mut change = Change::begin(&state, &current, addr.clone()).await?;
    let removed = totp::remove(change.db(), user.id).await?;
    if removed {
        change
            .audit(
                "second_factor.remove",
                format!("user:{}", user.id),
                serde_json::Value::Null,
            )
            .await?;
    }
    change
        .flash(Flash::success(
            "Your second factor is removed; you sign in with your password alone.",
        ))
        .await?;
    change.commit().await?;
    throttle::succeeded(&state.pool, &user.email, &addr).await?;
    Ok(Redirect::to(PAGE).into_response())
}
