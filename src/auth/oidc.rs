//! Single sign-on with an OpenID provider: the authorization code flow with PKCE, `state`
//! and `nonce`, the ID token's signature, issuer, audience and expiry checked (against the
//! application clock). The flow in flight lives in PostgreSQL (`sso_flows`), bound to the
//! browser's session, so any instance may take the callback. An account is found by its
//! stored subject (`iss` + `sub`), else once by the provider's verified e-mail, which links
//! it; an e-mail the ID token lacks is asked at the userinfo endpoint. With the provider
//! down, passwords keep working and the button answers a page that says so.

pub mod provider;
pub mod rules;

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IdTokenClaims,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, TokenResponse, UserInfoError,
};
use serde::Deserialize;

use self::provider::{HTTP, forget_metadata, metadata};
use self::rules::DomainRule;
use super::login::{self, SignedIn};
use super::session::{self, Session};
use super::user::Role;
use crate::audit::{self, Outcome};
use crate::config::OidcConfig;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::{AppError, Result};
use crate::web::form::Query;
use crate::web::layout::Layout;

/// How long a sign-in may stay at the provider before its callback is refused.
const FLOW_MINUTES: i64 = 10;

pub const CALLBACK_PATH: &str = "/login/sso/callback";

type Claims = IdTokenClaims<openidconnect::EmptyAdditionalClaims, CoreGenderClaim>;

fn redirect_url(state: &AppState) -> Result<RedirectUrl> {
    RedirectUrl::new(format!("{}{CALLBACK_PATH}", state.config.public_url))
        .map_err(|e| AppError::Internal(anyhow::anyhow!("the callback address: {e}")))
}

#[derive(Template)]
#[template(path = "auth/sso_refused.html")]
struct RefusedPage {
    layout: Layout,
    title: &'static str,
    message: String,
}

fn page(
    session: &Session,
    status: StatusCode,
    title: &'static str,
    message: String,
) -> Result<Response> {
    let page = RefusedPage {
        layout: Layout::new(session, title, "/login"),
        title,
        message,
    };
    Ok((status, Html(page.render()?)).into_response())
}

fn unreachable_page(session: &Session, label: &str) -> Result<Response> {
    page(
        session,
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in provider unreachable",
        format!(
            "{label} cannot be reached just now, so Trellis cannot sign you in with it. \
             Try again in a few minutes, or sign in with your password if you have one."
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// "Sign in with …": a flow recorded for this browser's session, then off to the provider.
pub async fn start(
    State(state): State<AppState>,
    mut session: Session,
    Query(query): Query<StartQuery>,
) -> Result<Response> {
    let Some(oidc) = state.config.oidc.as_ref() else {
        return Err(AppError::NotFound);
    };
    if session.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let Some(metadata) = metadata(oidc).await else {
        return unreachable_page(&session, &oidc.label);
    };
    let now = state.clock.now();
    // The flow is bound to a session, so that someone else's callback address opened in
    // this browser signs nobody in.
    let mut cookie = None;
    let session_hash = match session.id_hash.clone() {
        Some(hash) => hash,
        None => {
            let new = session::create(&state.pool, None, None, now).await?;
            cookie = Some(session::set_cookie(
                &new.token,
                state.config.secure_cookies(),
            ));
            session.csrf_token = Some(new.csrf_token);
            session::token_hash(&new.token)
        }
    };
    let client = CoreClient::from_provider_metadata(
        (*metadata).clone(),
        ClientId::new(oidc.client_id.clone()),
        Some(ClientSecret::new(oidc.client_secret.clone())),
    )
    .set_redirect_uri(redirect_url(&state)?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let next = login::safe_next(query.next.as_deref());
    sqlx::query("delete from sso_flows where created_at < $1")
        .bind(now - chrono::Duration::minutes(FLOW_MINUTES))
        .execute(&state.pool)
        .await?;
    sqlx::query(
        "insert into sso_flows (state_hash, session_hash, nonce, pkce_verifier, next, created_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(session::token_hash(csrf.secret()))
    .bind(&session_hash)
    .bind(nonce.secret())
    .bind(verifier.secret())
    .bind(next)
    .bind(now)
    .execute(&state.pool)
    .await?;
    let mut response = Redirect::to(url.as_str()).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Flow {
    session_hash: Vec<u8>,
    nonce: String,
    pkce_verifier: String,
    next: String,
    created_at: DateTime<Utc>,
}

/// Why a sign-in was refused: the audit log's reason and the sentence for the person.
struct Refusal {
    reason: &'static str,
    status: StatusCode,
    message: String,
    email: Option<String>,
    target: Option<i64>,
}

impl Refusal {
    fn new(reason: &'static str, status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            status,
            message: message.into(),
            email: None,
            target: None,
        }
    }

    fn of(mut self, email: &str, target: Option<i64>) -> Refusal {
        self.email = Some(email.to_string());
        self.target = target;
        self
    }
}

const START_AGAIN: &str =
    "This sign-in link is not valid (any more). Start again from the sign-in page.";

/// The provider sends the browser back here with a code (or an error).
pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(addr): ClientAddr,
    Query(query): Query<CallbackQuery>,
) -> Result<Response> {
    let Some(oidc) = state.config.oidc.as_ref() else {
        return Err(AppError::NotFound);
    };
    let now = state.clock.now();
    let outcome = finish(&state, oidc, &session, &addr, query, now).await?;
    match outcome {
        Finished::SignedIn(response) => Ok(response),
        Finished::Unreachable => unreachable_page(&session, &oidc.label),
        Finished::Refused(refusal) => {
            let mut entry = audit::Entry::anonymous("login.sso", Outcome::Refused)
                .client_addr(addr)
                .details(serde_json::json!({ "reason": refusal.reason }));
            if let Some(email) = &refusal.email {
                entry = entry.claimed_email(email);
            }
            if let Some(id) = refusal.target {
                entry = entry.target(format!("user:{id}"));
            }
            entry.write(&state.pool, now).await?;
            page(&session, refusal.status, "Sign-in refused", refusal.message)
        }
    }
}

/// Who the provider says the person is.
struct Person {
    email: Option<String>,
    email_verified: Option<bool>,
    name: Option<String>,
}

enum Finished {
    SignedIn(Response),
    Refused(Refusal),
    Unreachable,
}

async fn finish(
    state: &AppState,
    oidc: &OidcConfig,
    session: &Session,
    addr: &str,
    query: CallbackQuery,
    now: DateTime<Utc>,
) -> Result<Finished> {
    use Finished::Refused;
    let bad = StatusCode::BAD_REQUEST;
    let forbidden = StatusCode::FORBIDDEN;
    // The flow is used once, whatever comes of it.
    let flow: Option<Flow> = match (&query.state, &session.id_hash) {
        (Some(csrf), Some(_)) => {
            sqlx::query_as(
                "delete from sso_flows where state_hash = $1
             returning session_hash, nonce, pkce_verifier, next, created_at",
            )
            .bind(session::token_hash(csrf))
            .fetch_optional(&state.pool)
            .await?
        }
        _ => None,
    };
    let flow = match flow {
        Some(flow)
            if session.id_hash.as_deref() == Some(flow.session_hash.as_slice())
                && now - flow.created_at <= chrono::Duration::minutes(FLOW_MINUTES) =>
        {
            flow
        }
        _ => return Ok(Refused(Refusal::new("bad_state", bad, START_AGAIN))),
    };
    if let Some(error) = &query.error {
        let reason = if error == "access_denied" {
            "denied at the provider"
        } else {
            "an error at the provider"
        };
        return Ok(Refused(Refusal::new(
            "provider_error",
            bad,
            format!("{} did not sign you in ({reason}).", oidc.label),
        )));
    }
    let Some(code) = query.code else {
        return Ok(Refused(Refusal::new("no_code", bad, START_AGAIN)));
    };
    let Some(metadata) = metadata(oidc).await else {
        return Ok(Finished::Unreachable);
    };
    let client = CoreClient::from_provider_metadata(
        (*metadata).clone(),
        ClientId::new(oidc.client_id.clone()),
        Some(ClientSecret::new(oidc.client_secret.clone())),
    )
    .set_redirect_uri(redirect_url(state)?);
    let request = match client.exchange_code(AuthorizationCode::new(code)) {
        Ok(request) => request,
        Err(_) => return Ok(Finished::Unreachable),
    };
    let token = match request
        .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier))
        .request_async(&*HTTP)
        .await
    {
        Ok(token) => token,
        Err(RequestTokenError::ServerResponse(_)) => {
            return Ok(Refused(Refusal::new("code_refused", bad, START_AGAIN)));
        }
        Err(error) => {
            tracing::warn!(error = %error, "the OpenID provider's token endpoint failed");
            return Ok(Finished::Unreachable);
        }
    };
    let Some(id_token) = token.id_token() else {
        return Ok(Refused(Refusal::new("no_id_token", bad, START_AGAIN)));
    };
    let clock = state.clock.clone();
    let verifier = client.id_token_verifier().set_time_fn(move || clock.now());
    let claims: Claims = match id_token.claims(&verifier, &Nonce::new(flow.nonce)) {
        Ok(claims) => claims.clone(),
        Err(error) => {
            let reason = match error {
                ClaimsVerificationError::Expired(_) => "token_expired",
                ClaimsVerificationError::InvalidNonce(_) => "bad_nonce",
                ClaimsVerificationError::InvalidAudience(_) => "wrong_audience",
                ClaimsVerificationError::InvalidIssuer(_) => "wrong_issuer",
                ClaimsVerificationError::SignatureVerification(_) => {
                    // Perhaps the provider turned its keys: ask for them afresh next time.
                    forget_metadata(oidc);
                    "bad_signature"
                }
                _ => "bad_token",
            };
            return Ok(Refused(Refusal::new(reason, bad, START_AGAIN)));
        }
    };
    let issuer = claims.issuer().as_str().to_string();
    let subject = claims.subject().as_str().to_string();
    let mut person = Person {
        email: claims.email().map(|e| e.as_str().trim().to_string()),
        email_verified: claims.email_verified(),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string()),
    };
    if person.email.is_none() {
        // Some providers keep the e-mail out of the ID token and tell it at their userinfo
        // endpoint instead, for the same subject (checked by the crate).
        if let Ok(request) =
            client.user_info(token.access_token().clone(), Some(claims.subject().clone()))
        {
            match request
                .request_async::<openidconnect::EmptyAdditionalClaims, _, CoreGenderClaim>(&*HTTP)
                .await
            {
                Ok(info) => {
                    person = Person {
                        email: info.email().map(|e| e.as_str().trim().to_string()),
                        email_verified: info.email_verified(),
                        name: info
                            .name()
                            .and_then(|n| n.get(None))
                            .map(|n| n.as_str().to_string()),
                    };
                }
                Err(UserInfoError::ClaimsVerification(_)) => {
                    return Ok(Refused(Refusal::new("bad_userinfo", bad, START_AGAIN)));
                }
                Err(error) => {
                    tracing::warn!(error = %error, "the OpenID provider's userinfo endpoint failed");
                    return Ok(Finished::Unreachable);
                }
            }
        }
    }
    let Person {
        email,
        email_verified,
        name,
    } = person;
    let Some(email) = email else {
        return Ok(Refused(Refusal::new(
            "no_email",
            forbidden,
            format!("{} did not tell Trellis your e-mail address.", oidc.label),
        )));
    };
    if email_verified != Some(true) {
        return Ok(Refused(
            Refusal::new(
                "unverified_email",
                forbidden,
                format!(
                    "{} has not verified your e-mail address, so Trellis cannot tell who you are.",
                    oidc.label
                ),
            )
            .of(&email, None),
        ));
    }
    let mut tx = state.pool.begin().await?;
    let rule = match rules::of_email(&mut tx, oidc, &email).await? {
        Some(rule) => rule,
        None => {
            return Ok(Refused(
                Refusal::new(
                    "wrong_domain",
                    forbidden,
                    format!(
                        "Trellis does not sign in people of that e-mail domain with {}.",
                        oidc.label
                    ),
                )
                .of(&email, None),
            ));
        }
    };
    let account =
        match account_for(&mut tx, &issuer, &subject, &email, name, &rule, addr, now).await? {
            Ok(account) => account,
            Err(refusal) => {
                let target = refusal.target;
                return Ok(Refused(refusal.of(&email, target)));
            }
        };
    let own_domain = match (account.role, rule.vendor_id) {
        (Role::Vendor, Some(vendor)) => account.vendor_id == Some(vendor),
        (Role::Vendor, None) => false,
        (_, vendor) => vendor.is_none(),
    };
    if !own_domain {
        return Ok(Refused(
            Refusal::new(
                "wrong_domain",
                forbidden,
                format!("Your account does not sign in with {} for that e-mail domain. Ask an administrator.", oidc.label),
            )
            .of(&email, Some(account.id)),
        ));
    }
    // The provider is the factor: no second step after it.
    let new = login::sign_in(
        &mut tx,
        session,
        &account,
        addr,
        serde_json::json!({ "via": "sso", "issuer": issuer }),
        None,
        now,
    )
    .await?;
    sqlx::query("insert into sso_sessions (session_hash, id_token) values ($1, $2)")
        .bind(session::token_hash(&new.token))
        .bind(id_token.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(
        user_id = account.id,
        "signed in through the OpenID provider"
    );
    Ok(Finished::SignedIn(login::signed_in_redirect(
        state, &new, &flow.next,
    )))
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: i64,
    email: String,
    name: String,
    role: String,
    vendor_id: Option<i64>,
    time_zone: String,
    disabled: bool,
    service_account: bool,
    oidc_subject: Option<String>,
}

/// The account the provider's person is: by subject, else by e-mail (linking it), else a new
/// manager where the domain allows it.
#[allow(clippy::too_many_arguments)]
async fn account_for(
    tx: &mut sqlx::PgConnection,
    issuer: &str,
    subject: &str,
    email: &str,
    name: Option<String>,
    rule: &DomainRule,
    addr: &str,
    now: DateTime<Utc>,
) -> Result<std::result::Result<SignedIn, Refusal>> {
    const COLUMNS: &str =
        "id, email, name, role, vendor_id, time_zone, disabled_at is not null as disabled,
                           service_account, oidc_subject";
    let forbidden = StatusCode::FORBIDDEN;
    let by_subject: Option<Candidate> = sqlx::query_as(&format!(
        "select {COLUMNS} from users where oidc_issuer = $1 and oidc_subject = $2 for update"
    ))
    .bind(issuer)
    .bind(subject)
    .fetch_optional(&mut *tx)
    .await?;
    let (candidate, linked_now) = match by_subject {
        Some(found) => (found, false),
        None => {
            let by_email: Option<Candidate> = sqlx::query_as(&format!(
                "select {COLUMNS} from users where lower(email) = lower($1) for update"
            ))
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
            match by_email {
                Some(found) if found.oidc_subject.is_some() => {
                    let target = Some(found.id);
                    let mut refusal = Refusal::new(
                        "linked_elsewhere",
                        forbidden,
                        "That Trellis account signs in with another identity at the provider. Ask an administrator.",
                    );
                    refusal.target = target;
                    return Ok(Err(refusal));
                }
                Some(found) => (found, true),
                None if rule.create_managers => {
                    let name = name.unwrap_or_else(|| email.to_string());
                    let id: i64 = sqlx::query_scalar(
                        "insert into users (email, name, role, oidc_issuer, oidc_subject)
                         values ($1, $2, 'manager', $3, $4) returning id",
                    )
                    .bind(email)
                    .bind(
                        name.chars()
                            .filter(|c| !c.is_control())
                            .take(200)
                            .collect::<String>(),
                    )
                    .bind(issuer)
                    .bind(subject)
                    .fetch_one(&mut *tx)
                    .await?;
                    audit::Entry::anonymous("sso.create", Outcome::Success)
                        .claimed_email(email)
                        .target(format!("user:{id}"))
                        .client_addr(addr.to_string())
                        .details(serde_json::json!({ "role": "manager", "issuer": issuer }))
                        .write(&mut *tx, now)
                        .await?;
                    let account: Candidate =
                        sqlx::query_as(&format!("select {COLUMNS} from users where id = $1"))
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await?;
                    (account, false)
                }
                None => {
                    return Ok(Err(Refusal::new(
                        "unknown_account",
                        forbidden,
                        "Trellis has no account for that e-mail address. Ask an administrator to invite you.",
                    )));
                }
            }
        }
    };
    if candidate.disabled || candidate.service_account {
        let mut refusal = Refusal::new(
            if candidate.disabled {
                "disabled_account"
            } else {
                "service_account"
            },
            forbidden,
            "That Trellis account is disabled. Ask an administrator.",
        );
        refusal.target = Some(candidate.id);
        return Ok(Err(refusal));
    }
    let account = SignedIn {
        id: candidate.id,
        email: candidate.email,
        name: candidate.name,
        role: Role::parse(&candidate.role).unwrap_or(Role::Vendor),
        vendor_id: candidate.vendor_id,
        time_zone: candidate.time_zone,
    };
    if linked_now {
        sqlx::query("update users set oidc_issuer = $2, oidc_subject = $3 where id = $1")
            .bind(account.id)
            .bind(issuer)
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        audit::Entry::by(&account.user(), "sso.link", Outcome::Success)
            .target(format!("user:{}", account.id))
            .client_addr(addr.to_string())
            .details(serde_json::json!({ "issuer": issuer }))
            .write(&mut *tx, now)
            .await?;
    }
    Ok(Ok(account))
}
