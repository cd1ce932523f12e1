//! The web frame every feature shares: layout, errors, forms with CSRF, security headers,
//! the cross-site request guard, static files, request telemetry and health endpoints.

pub mod assets;
pub mod change;
pub mod error;
pub mod form;
pub mod health;
pub mod layout;
pub mod paging;
pub mod pdf;
pub mod report;
pub mod routes;
pub mod statics;
pub mod validate;

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::body::HttpBody;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::audit;
use crate::state::AppState;
use error::AppError;

/// The address of the client: the peer, or the forwarded address when the peer is a
/// trusted proxy.
pub fn client_addr(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trusted_proxies: &[IpAddr],
) -> String {
    let Some(peer) = peer.map(|p| p.ip()) else {
        return "unknown".into();
    };
    if trusted_proxies.contains(&peer) {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .rev()
            .find(|ip| !trusted_proxies.contains(ip));
        if let Some(ip) = forwarded {
            return ip.to_string();
        }
    }
    peer.to_string()
}

/// The client's address as [`client_addr`] decides it.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl axum::extract::FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(ClientAddr(client_addr(
            &parts.headers,
            peer,
            &state.config.trusted_proxies,
        )))
    }
}

pub fn peer(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Routes whose bodies may be larger than [`BODY_LIMIT`], with their limit: the CSV import,
/// the API's batch of KPI values, and the uploads of files (a file of 25 MB, read on a
/// little past that so that a larger one is answered with its form: `files::BODY_LIMIT`).
const LARGER_BODIES: &[(&str, usize)] = &[
    ("/values/import", 4 * 1024 * 1024),
    ("/api/v1/kpi-values", 8 * 1024 * 1024),
    ("/findings/{id}/evidence", UPLOAD_LIMIT),
    ("/audits/{id}/working-papers", UPLOAD_LIMIT),
    ("/documents/new", UPLOAD_LIMIT),
    ("/documents/{id}/versions", UPLOAD_LIMIT),
];
/// The body limit of a file upload (`files::BODY_LIMIT`).
pub const UPLOAD_LIMIT: usize = 33 * 1024 * 1024;
/// A body announced larger than [`BODY_LIMIT`] but no larger than this is read and thrown
/// away before the 413 is sent; a larger one is refused at once and the connection closed.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;

/// Refuses a body whose announced length is over [`BODY_LIMIT`] before any handler (or the
/// session lookup) runs. The body is read to its end first, as nginx's lingering close does:
/// a server that answers and closes while the client is still sending resets the connection,
/// and the client sees a broken pipe instead of the 413 — a browser shows its own error page
/// and the form is lost. Reading is bounded by [`DRAIN_LIMIT`] and by the request timeout.
/// Bodies without a length are still bounded by the extractors' limit.
pub async fn refuse_oversized(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // The routes that take larger bodies set their own limit (and their extractor holds
    // to it); they are named here so that this check lets their bodies through.
    let limit = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .and_then(|path| LARGER_BODIES.iter().find(|(p, _)| *p == path.as_str()))
        .map_or(BODY_LIMIT, |(_, limit)| *limit);
    let Some(length) = announced.filter(|&n| n > limit as u64) else {
        return next.run(request).await;
    };
    let mut response = AppError::TooLarge.into_response();
    if length <= DRAIN_LIMIT {
        let mut body = request.into_body();
        while let Some(frame) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            if frame.is_err() {
                break;
            }
        }
    } else {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

const CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; img-src 'self' data:";

/// Security headers on every response, errors and static files included.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Refuses unsafe requests that a browser says come from another site, before any session
/// or form is looked at. Requests without either header (scripts, old browsers) still need
/// the form's CSRF token.
pub async fn cross_site_guard(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if is_safe(request.method()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let cross_site = matches!(site, Some(s) if s != "same-origin" && s != "none")
        || origin.is_some_and(|o| {
            !state
                .allowed_origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(o))
        });
    if !cross_site {
        return next.run(request).await;
    }
    let addr = client_addr(
        request.headers(),
        peer(&request),
        &state.config.trusted_proxies,
    );
    let entry = audit::Entry::anonymous("request.cross_site", audit::Outcome::Refused)
        .target(request.uri().path())
        .client_addr(addr)
        .details(serde_json::json!({ "origin": origin, "sec_fetch_site": site }));
    if let Err(e) = entry.write(&state.pool, state.clock.now()).await {
        tracing::warn!(error = %e, "could not audit a refused cross-site request");
    }
    AppError::Csrf.into_response()
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// One span per request with its method, matched route and request id; logs the status
/// and latency when it ends and counts it in the metrics.
pub async fn telemetry(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let span = tracing::info_span!("request", %method, route = %route, request_id = %request_id);
    let response = next.run(request).instrument(span.clone()).await;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            "finished"
        );
    });
    state
        .metrics
        .observe(method.as_str(), &route, status, latency);
    response
}
