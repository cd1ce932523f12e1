//! The second step of a password sign-in: the code from the user's authenticator app (or a
//! recovery code) on `/login/code`, or, when the organisation requires a second factor and
//! the user has none, the enrolment on `/login/enrol`. Until then the session is anonymous
//! and no other page opens; the step's state is the session's `login_challenges` row.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::login::{SignedIn, enabled_account, safe_next, sign_in, signed_in_redirect};
use super::session::{self, Session};
use super::throttle::{self, Verdict};
use super::totp::{self, Challenge, Passed, QrSvg, Typed};
use crate::audit::{self, Outcome};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form};
use crate::web::layout::{Flash, Layout};

#[derive(Template)]
#[template(path = "auth/code.html")]
struct CodePage {
    layout: Layout,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "auth/enrol.html")]
struct EnrolPage {
    layout: Layout,
    errors: FieldErrors,
    email: String,
    secret: String,
    qr: Option<QrSvg>,
}

#[derive(Template)]
#[template(path = "auth/recovery_codes.html")]
struct RecoveryCodesPage {
    layout: Layout,
    codes: Vec<String>,
    next: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

const NO_CODE: &str =
    "Enter the 6-digit code from your authenticator app, or one of your recovery codes.";
const WRONG_CODE: &str =
    "That code is not right. Check the time on your device and try the newest code.";
const REPLAYED_CODE: &str = "That code was used already. Wait for the next one and enter it.";

/// Where a visitor without a waiting second step goes: home if signed in, else the login page.
fn elsewhere(session: &Session) -> Response {
    let to = if session.user.is_some() {
        "/"
    } else {
        "/login"
    };
    Redirect::to(to).into_response()
}

async fn waiting(
    state: &AppState,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<Option<Challenge>> {
    if session.user.is_some() {
        return Ok(None);
    }
    let Some(hash) = session.id_hash.as_deref() else {
        return Ok(None);
    };
    Ok(totp::challenge_of(&state.pool, hash, now).await?)
}

fn code_page(session: &Session, errors: FieldErrors, status: StatusCode) -> Result<Response> {
    let page = CodePage {
        layout: Layout::new(session, "Enter your code", "/login"),
        errors,
    };
    Ok((status, Html(page.render()?)).into_response())
}

fn one_error(field: &'static str, message: impl Into<String>) -> FieldErrors {
    let mut errors = FieldErrors::default();
    errors.add(field, message);
    errors
}

fn locked_message(minutes: i64) -> String {
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!("Too many wrong codes. Try again in {minutes} {unit}.")
}

pub async fn code_show(State(state): State<AppState>, session: Session) -> Result<Response> {
    match waiting(&state, &session, state.clock.now()).await? {
        Some(challenge) if challenge.enrol => Ok(Redirect::to("/login/enrol").into_response()),
        Some(_) => code_page(&session, FieldErrors::default(), StatusCode::OK),
        None => Ok(elsewhere(&session)),
    }
}

pub async fn code_submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<CodeForm>,
) -> Result<Response> {
    let now = state.clock.now();
    let challenge = match waiting(&state, &session, now).await? {
        Some(challenge) if !challenge.enrol => challenge,
        Some(_) => return Ok(Redirect::to("/login/enrol").into_response()),
        None => return Ok(elsewhere(&session)),
    };
    // Refused before anything is counted: no such input can be a right code.
    let Some(typed) = totp::parse_code(&form.code) else {
        return code_page(
            &session,
            one_error("code", NO_CODE),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let Some(account) = enabled_account(&state.pool, challenge.user_id).await? else {
        return Ok(elsewhere(&session));
    };
    if let Verdict::Locked {
        minutes,
        by_account,
    } = throttle::admit_code(&state.pool, account.id, &addr, now).await?
    {
        audit::Entry::anonymous("login.code_locked", Outcome::Refused)
            .claimed_email(&account.email)
            .target(format!("user:{}", account.id))
            .client_addr(addr)
            .details(serde_json::json!({ "by": if by_account { "account" } else { "address" } }))
            .write(&state.pool, now)
            .await?;
        return code_page(
            &session,
            one_error("code", locked_message(minutes)),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let mut tx = state.pool.begin().await?;
    let passed = match totp::spend(&mut tx, account.id, &typed, now).await? {
        Ok(passed) => passed,
        Err(refusal) => {
            tx.rollback().await?;
            // The failure was counted when the attempt was admitted.
            audit::Entry::anonymous("login.code", Outcome::Failure)
                .claimed_email(&account.email)
                .target(format!("user:{}", account.id))
                .client_addr(addr)
                .details(serde_json::json!({
                    "reason": refusal.as_str(),
                    "kind": if matches!(typed, Typed::Totp(_)) { "totp" } else { "recovery_code" },
                }))
                .write(&state.pool, now)
                .await?;
            let message = match refusal {
                totp::Refusal::Wrong => WRONG_CODE,
                totp::Refusal::Replayed => REPLAYED_CODE,
            };
            return code_page(
                &session,
                one_error("code", message),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let (details, flash) = match passed {
        Passed::Totp => (serde_json::json!({ "second_factor": "totp" }), None),
        Passed::Recovery { left } => {
            let entry = audit::Entry::by(
                &account.user(),
                "second_factor.recovery_used",
                Outcome::Success,
            )
            .target(format!("user:{}", account.id))
            .client_addr(addr.clone())
            .details(serde_json::json!({ "left": left }));
            entry.write(&mut *tx, now).await?;
            let flash = Flash {
                kind: "error",
                message: format!(
                    "You signed in with a recovery code; {left} of them {} left. If you lost your device, remove the old authenticator and set up a new one on your account page.",
                    if left == 1 { "is" } else { "are" }
                ),
            };
            (
                serde_json::json!({ "second_factor": "recovery_code" }),
                Some(flash),
            )
        }
    };
    let new = sign_in(
        &mut tx,
        &session,
        &account,
        &addr,
        details,
        flash.as_ref(),
        now,
    )
    .await?;
    tx.commit().await?;
    throttle::code_succeeded(&state.pool, account.id, &addr).await?;
    tracing::info!(user_id = account.id, "signed in with a second factor");
    Ok(signed_in_redirect(&state, &new, &challenge.next))
}

async fn enrol_page(
    state: &AppState,
    session: &Session,
    account: &SignedIn,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response> {
    let Some(factor) = totp::factor_of(&state.pool, account.id).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    if factor.confirmed() {
        return Ok(Redirect::to("/login").into_response());
    }
    let page = EnrolPage {
        layout: Layout::new(session, "Set up a second factor", "/login"),
        errors,
        email: account.email.clone(),
        secret: totp::secret_text(&factor.secret),
        qr: totp::qr_svg(&totp::otpauth_url(&factor.secret, &account.email)),
    };
    let mut response = (status, Html(page.render()?)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub async fn enrol_show(State(state): State<AppState>, session: Session) -> Result<Response> {
    let challenge = match waiting(&state, &session, state.clock.now()).await? {
        Some(challenge) if challenge.enrol => challenge,
        Some(_) => return Ok(Redirect::to("/login/code").into_response()),
        None => return Ok(elsewhere(&session)),
    };
    let Some(account) = enabled_account(&state.pool, challenge.user_id).await? else {
        return Ok(elsewhere(&session));
    };
    enrol_page(
        &state,
        &session,
        &account,
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn enrol_submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<CodeForm>,
) -> Result<Response> {
    let now = state.clock.now();
    let challenge = match waiting(&state, &session, now).await? {
        Some(challenge) if challenge.enrol => challenge,
        Some(_) => return Ok(Redirect::to("/login/code").into_response()),
        None => return Ok(elsewhere(&session)),
    };
    let Some(account) = enabled_account(&state.pool, challenge.user_id).await? else {
        return Ok(elsewhere(&session));
    };
    let code = match totp::parse_code(&form.code) {
        Some(Typed::Totp(code)) => code,
        _ => {
            let errors = one_error("code", "Enter the 6-digit code your app shows.");
            return enrol_page(
                &state,
                &session,
                &account,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if let Verdict::Locked { minutes, .. } =
        throttle::admit_code(&state.pool, account.id, &addr, now).await?
    {
        let errors = one_error("code", locked_message(minutes));
        return enrol_page(
            &state,
            &session,
            &account,
            errors,
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    let step = match totp::factor_of(&state.pool, account.id).await? {
        Some(factor) if !factor.confirmed() => totp::matching_step(&factor.secret, &code, now),
        _ => return Ok(Redirect::to("/login").into_response()),
    };
    let mut tx = state.pool.begin().await?;
    let codes = match step {
        Some(step) => totp::confirm(&mut tx, account.id, step, now).await?,
        None => None,
    };
    let Some(codes) = codes else {
        tx.rollback().await?;
        audit::Entry::by(&account.user(), "second_factor.confirm", Outcome::Failure)
            .target(format!("user:{}", account.id))
            .client_addr(addr)
            .details(serde_json::json!({ "during": "sign-in" }))
            .write(&state.pool, now)
            .await?;
        return enrol_page(
            &state,
            &session,
            &account,
            one_error("code", WRONG_CODE),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    audit::Entry::by(&account.user(), "second_factor.confirm", Outcome::Success)
        .target(format!("user:{}", account.id))
        .client_addr(addr.clone())
        .details(serde_json::json!({ "during": "sign-in", "recovery_codes": codes.len() }))
        .write(&mut *tx, now)
        .await?;
    let new = sign_in(
        &mut tx,
        &session,
        &account,
        &addr,
        serde_json::json!({ "second_factor": "enrolled" }),
        None,
        now,
    )
    .await?;
    tx.commit().await?;
    throttle::code_succeeded(&state.pool, account.id, &addr).await?;
    // The codes are shown on this answer, once: no redirect, nothing stored on the way.
    let signed_in = Session {
        id_hash: Some(session::token_hash(&new.token)),
        csrf_token: Some(new.csrf_token.clone()),
        user: Some(account.user()),
        flash: None,
    };
    let page = RecoveryCodesPage {
        layout: Layout::new(&signed_in, "Your recovery codes", "/account"),
        codes,
        next: safe_next(Some(&challenge.next)).to_string(),
    };
    let mut response = Html(page.render()?).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::SET_COOKIE,
        session::set_cookie(&new.token, state.config.secure_cookies()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
