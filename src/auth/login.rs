//! Signing in and out. A correct password signs in at once, or, for a user with a second
//! factor (or one the organisation requires to have one), leads to the second step
//! (`auth::second_step`) with the session still anonymous.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::password::{self, Verified};
use super::session::{self, Session};
use super::throttle::{self, Verdict};
use super::totp::{self, AfterPassword};
use super::user::{Role, User};
use crate::audit::{self, Outcome};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Query};
use crate::web::layout::{Flash, Layout};

/// The longest e-mail address (RFC 5321's path limit) and password the form accepts.
const MAX_EMAIL_CHARS: usize = 254;
const MAX_PASSWORD_CHARS: usize = 1024;

const SSO_REQUIRED_START: &str = "People of that e-mail domain sign in with ";

const WRONG_CREDENTIALS: &str = "That e-mail and password do not match an active account.";

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    errors: FieldErrors,
    message: Option<String>,
    /// The single sign-on button's label, when the provider is configured.
    sso_label: Option<String>,
    /// The message says the e-mail's domain signs in with the provider, and links to it.
    sso_required: bool,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The login form.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<NextQuery>,
) -> Result<Response> {
    if session.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let next = safe_next(query.next.as_deref()).to_string();
    render_form(
        &state,
        session,
        LoginForm {
            next,
            ..LoginForm::default()
        },
        FieldErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn render_form(
    state: &AppState,
    mut session: Session,
    form: LoginForm,
    errors: FieldErrors,
    message: Option<String>,
    status: StatusCode,
) -> Result<Response> {
    let mut headers = HeaderMap::new();
    if let Some(cookie) = session::ensure(state, &mut session).await? {
        headers.insert(header::SET_COOKIE, cookie);
    }
    let page = LoginPage {
        layout: Layout::new(&session, "Sign in", "/login"),
        email: form.email.trim().to_string(),
        next: safe_next(Some(&form.next)).to_string(),
        sso_required: message
            .as_deref()
            .is_some_and(|m| m.starts_with(SSO_REQUIRED_START)),
        errors,
        message,
        sso_label: state.config.oidc.as_ref().map(|o| o.label.clone()),
    };
    Ok((status, headers, Html(page.render()?)).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(sqlx::FromRow)]
struct Account {
    id: i64,
    email: String,
    name: String,
    role: String,
    vendor_id: Option<i64>,
    password_hash: Option<String>,
    time_zone: String,
}

pub async fn submit(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<LoginForm>,
) -> Result<Response> {
    let email = form.email.trim().to_string();
    let mut errors = FieldErrors::default();
    // Bounded before anything is looked up or counted: the throttle's counters are keyed
    // by the e-mail, and no account has a longer one.
    if email.is_empty() {
        errors.add("email", "Enter your e-mail address.");
    } else if email.chars().count() > MAX_EMAIL_CHARS {
        errors.add(
            "email",
            format!("An e-mail address has at most {MAX_EMAIL_CHARS} characters."),
        );
    } else if crate::web::validate::text(&email, MAX_EMAIL_CHARS, false).is_err() {
        errors.add(
            "email",
            "Enter your e-mail address without control characters.",
        );
    }
    if form.password.is_empty() {
        errors.add("password", "Enter your password.");
    } else if form.password.chars().count() > MAX_PASSWORD_CHARS {
        errors.add(
            "password",
            format!("A password has at most {MAX_PASSWORD_CHARS} characters."),
        );
    }
    if !errors.is_empty() {
        return render_form(
            &state,
            session,
            form,
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let now = state.clock.now();

    // Counted before the password is checked, so concurrent guesses cannot outrun the limit.
    if let Verdict::Locked {
        minutes,
        by_account,
    } = throttle::admit(&state.pool, &email, &addr, now).await?
    {
        state.metrics.add("trellis_login_locks_total", "", 1);
        audit::Entry::anonymous("login.locked", Outcome::Refused)
            .claimed_email(&email)
            .client_addr(addr)
            .details(serde_json::json!({ "by": if by_account { "account" } else { "address" } }))
            .write(&state.pool, now)
            .await?;
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        let message = format!("Too many failed sign-ins. Try again in {minutes} {unit}.");
        return render_form(
            &state,
            session,
            form,
            FieldErrors::default(),
            Some(message),
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }

    let account: Option<Account> = sqlx::query_as(
        "select id, email, name, role, vendor_id, password_hash, time_zone
         from users where lower(email) = lower($1) and disabled_at is null",
    )
    .bind(&email)
    .fetch_optional(&state.pool)
    .await?;
    // A domain that requires single sign-on refuses every password but the break-glass
    // admin's, the same for an unknown e-mail as for a known one.
    if super::oidc::rules::password_refused(
        &state.pool,
        state.config.oidc.as_ref(),
        &email,
        account.as_ref().map(|a| a.id),
    )
    .await?
    {
        audit::Entry::anonymous("login.sso_required", Outcome::Refused)
            .claimed_email(&email)
            .client_addr(addr)
            .write(&state.pool, now)
            .await?;
        let label = state.config.oidc.as_ref().map_or("", |o| o.label.as_str());
        let message = format!("{SSO_REQUIRED_START}{label}, not with a password.");
        return render_form(
            &state,
            session,
            form,
            FieldErrors::default(),
            Some(message),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    let verified = password::verify(form.password.clone(), stored).await?;

    let account = match (account, verified) {
        (Some(account), Verified::Yes | Verified::YesButRehash) => account,
        (account, _) => {
            // The failure was counted when the attempt was admitted.
            state.metrics.add("trellis_login_failures_total", "", 1);
            let mut entry = audit::Entry::anonymous("login", Outcome::Failure)
                .claimed_email(&email)
                .client_addr(addr);
            if let Some(account) = account {
                entry = entry.target(format!("user:{}", account.id));
            }
            entry.write(&state.pool, now).await?;
            let message = Some(WRONG_CREDENTIALS.to_string());
            return render_form(
                &state,
                session,
                form,
                FieldErrors::default(),
                message,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let rehashed = match verified {
        Verified::YesButRehash => Some(password::hash(form.password).await?),
        _ => None,
    };

    if let Some(rehashed) = rehashed {
        sqlx::query("update users set password_hash = $2 where id = $1")
            .bind(account.id)
            .bind(rehashed)
            .execute(&state.pool)
            .await?;
    }
    let role = Role::parse(&account.role).unwrap_or(Role::Vendor);
    let next = safe_next(Some(&form.next));
    let after = totp::after_password(&state.pool, account.id, role).await?;
    if after != AfterPassword::SignIn {
        // The password was right: its count restarts, but the session stays anonymous
        // until the second step, which has a count of its own.
        let Some(session_hash) = session.id_hash.as_deref() else {
            return Err(AppError::Csrf);
        };
        let enrol = after == AfterPassword::Enrol;
        let mut tx = state.pool.begin().await?;
        if enrol {
            totp::begin_enrolment(&mut *tx, account.id, now).await?;
        }
        totp::set_challenge(&mut *tx, session_hash, account.id, enrol, next, now).await?;
        audit::Entry::anonymous("login.password", Outcome::Success)
            .claimed_email(&email)
            .target(format!("user:{}", account.id))
            .client_addr(addr.clone())
            .details(serde_json::json!({ "then": if enrol { "enrolment" } else { "code" } }))
            .write(&mut *tx, now)
            .await?;
        tx.commit().await?;
        throttle::succeeded(&state.pool, &email, &addr).await?;
        let to = if enrol { "/login/enrol" } else { "/login/code" };
        return Ok(Redirect::to(to).into_response());
    }

    let account = SignedIn {
        id: account.id,
        email: account.email,
        name: account.name,
        role,
        vendor_id: account.vendor_id,
        time_zone: account.time_zone,
    };
    let mut tx = state.pool.begin().await?;
    let new = sign_in(
        &mut tx,
        &session,
        &account,
        &addr,
        serde_json::Value::Null,
        None,
        now,
    )
    .await?;
    tx.commit().await?;
    throttle::succeeded(&state.pool, &email, &addr).await?;
    tracing::info!(user_id = account.id, "signed in");
    Ok(signed_in_redirect(&state, &new, next))
}

/// Who is signing in, as the sign-in needs them.
pub(super) struct SignedIn {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub vendor_id: Option<i64>,
    pub time_zone: String,
}

impl SignedIn {
    pub(super) fn user(&self) -> User {
        User {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role,
            vendor: self.vendor_id.map(|id| (id, String::new())),
            time_zone: self.time_zone.clone(),
            inbox: 0,
        }
    }
}

/// The enabled account with this id, for the second step of a sign-in.
pub(super) async fn enabled_account(
    db: impl sqlx::PgExecutor<'_>,
    id: i64,
) -> Result<Option<SignedIn>> {
    let account: Option<Account> = sqlx::query_as(
        "select id, email, name, role, vendor_id, password_hash, time_zone
         from users where id = $1 and disabled_at is null",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(account.map(|a| SignedIn {
        role: Role::parse(&a.role).unwrap_or(Role::Vendor),
        id: a.id,
        email: a.email,
        name: a.name,
        vendor_id: a.vendor_id,
        time_zone: a.time_zone,
    }))
}

/// Signs `account` in, in `tx`: a new session id (whatever cookie came before is worthless
/// now, and a waiting second step goes with it), and the login in the audit log.
pub(super) async fn sign_in(
    tx: &mut sqlx::PgConnection,
    old: &Session,
    account: &SignedIn,
    addr: &str,
    details: serde_json::Value,
    flash: Option<&Flash>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<session::NewSession> {
    if let Some(old) = &old.id_hash {
        session::delete(&mut *tx, old).await?;
    }
    let new = session::create(&mut *tx, Some(account.id), flash, now).await?;
    let mut entry = audit::Entry::by(&account.user(), "login", Outcome::Success)
        .target(format!("user:{}", account.id))
        .client_addr(addr.to_string());
    if !details.is_null() {
        entry = entry.details(details);
    }
    entry.write(&mut *tx, now).await?;
    Ok(new)
}

/// The answer to a finished sign-in: the new session's cookie and the way on.
pub(super) fn signed_in_redirect(
    state: &AppState,
    new: &session::NewSession,
    next: &str,
) -> Response {
    let mut response = Redirect::to(safe_next(Some(next))).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(&new.token, state.config.secure_cookies()),
    );
    response
}

#[derive(Debug, Deserialize)]
pub struct EmptyForm {}

pub async fn logout(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(addr): ClientAddr,
    Form(_): Form<EmptyForm>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let mut id_token = None;
    if let Some(id_hash) = &session.id_hash {
        id_token = super::oidc::provider::id_token_of(&mut *tx, id_hash).await?;
        session::delete(&mut *tx, id_hash).await?;
    }
    if let Some(user) = &session.user {
        audit::Entry::by(user, "logout", Outcome::Success)
            .target(format!("user:{}", user.id))
            .client_addr(addr)
            .write(&mut *tx, now)
            .await?;
    }
    // A fresh anonymous session carries the goodbye to the login page.
    let new = session::create(
        &mut *tx,
        None,
        Some(&Flash::success("You are signed out.")),
        now,
    )
    .await?;
    tx.commit().await?;
    // Signed in through the provider: signed out there too, when it offers that.
    let to = match id_token {
        Some(token) => super::oidc::provider::logout_url(&state, &token).await,
        None => None,
    };
    let mut response = Redirect::to(to.as_deref().unwrap_or("/login")).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(&new.token, state.config.secure_cookies()),
    );
    Ok(response)
}

/// Where to go after signing in: only ever a path on this site.
pub fn safe_next(next: Option<&str>) -> &str {
    let Some(next) = next else { return "/" };
    let bytes = next.as_bytes();
    let on_this_site = bytes.first() == Some(&b'/')
        && bytes.get(1) != Some(&b'/')
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
        && !next.starts_with("/login");
    if on_this_site { next } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_only_ever_leads_to_a_path_on_this_site() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https:evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/\tevil",
            "",
            "/login?next=/x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(
            safe_next(Some("/vendors/3?tab=kpis")),
            "/vendors/3?tab=kpis"
        );
        assert_eq!(safe_next(None), "/");
    }
}
