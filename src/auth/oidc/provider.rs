//! The OpenID provider as Trellis reaches it: the HTTP client, discovery (at start-up, then
//! kept a few minutes, never when it failed), and the provider's logout for a session signed
//! in through it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use openidconnect::{IssuerUrl, ProviderMetadataWithLogout, reqwest};

use crate::config::OidcConfig;
use crate::state::AppState;
use crate::web::error::Result;

/// How long discovered metadata (with the signing keys) is kept before it is asked again.
const METADATA_TTL: Duration = Duration::from_secs(600);

/// The client for the provider: no redirects followed (the crate's advice: they would open
/// it to server-side request forgery) and a bounded wait.
pub(super) static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("the HTTP client builds")
});

/// Discovered metadata by issuer; a failed discovery is not kept, so the next click asks again.
type Discovered = HashMap<String, (Instant, Arc<ProviderMetadataWithLogout>)>;
static DISCOVERED: LazyLock<Mutex<Discovered>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The provider's metadata, discovered now or within the last few minutes.
pub(super) async fn metadata(oidc: &OidcConfig) -> Option<Arc<ProviderMetadataWithLogout>> {
    if let Ok(cache) = DISCOVERED.lock()
        && let Some((at, metadata)) = cache.get(&oidc.issuer)
        && at.elapsed() < METADATA_TTL
    {
        return Some(metadata.clone());
    }
    let issuer = IssuerUrl::new(oidc.issuer.clone()).ok()?;
    match ProviderMetadataWithLogout::discover_async(issuer, &*HTTP).await {
        Ok(metadata) => {
            let metadata = Arc::new(metadata);
            if let Ok(mut cache) = DISCOVERED.lock() {
                cache.insert(oidc.issuer.clone(), (Instant::now(), metadata.clone()));
            }
            Some(metadata)
        }
        Err(error) => {
            tracing::warn!(issuer = %oidc.issuer, error = %error, "the OpenID provider cannot be discovered; single sign-on is unavailable until it can");
            None
        }
    }
}

/// Discovers the provider as the server starts, so that a wrong issuer address shows in the
/// log at once rather than at the first click; the server starts either way.
pub async fn discover_at_start(oidc: &OidcConfig) {
    if metadata(oidc).await.is_some() {
        tracing::info!(issuer = %oidc.issuer, "the OpenID provider is discovered");
    }
}

pub(super) fn forget_metadata(oidc: &OidcConfig) {
    if let Ok(mut cache) = DISCOVERED.lock() {
        cache.remove(&oidc.issuer);
    }
}

/// The ID token the session signed in with, for the provider's logout.
pub async fn id_token_of(
    db: impl sqlx::PgExecutor<'_>,
    session_hash: &[u8],
) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("select id_token from sso_sessions where session_hash = $1")
            .bind(session_hash)
            .fetch_optional(db)
            .await?,
    )
}

/// Where signing out leads for a session signed in through the provider: its end-session
/// endpoint (RP-initiated logout) when discovery offers one, and back to the login page.
pub async fn logout_url(state: &AppState, id_token: &str) -> Option<String> {
    let oidc = state.config.oidc.as_ref()?;
    let metadata = metadata(oidc).await?;
    let endpoint = metadata
        .additional_metadata()
        .end_session_endpoint
        .as_ref()?;
    let mut url = endpoint.url().clone();
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("client_id", &oidc.client_id)
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/login", state.config.public_url),
        );
    Some(url.to_string())
}
