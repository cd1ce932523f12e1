//! Liveness, readiness and metrics endpoints.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::Role;
use crate::db::MIGRATOR;
use crate::state::AppState;

use super::error::AppError;
use super::routes::Routes;

/// The process is alive; no database involved.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers and every migration this binary knows has been applied.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let applied: Result<i64, sqlx::Error> =
        sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
            .fetch_one(&state.pool)
            .await;
    match applied {
        Ok(n) if n as usize >= MIGRATOR.iter().count() => {
            (StatusCode::OK, "ready\n").into_response()
        }
        Ok(_) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending\n").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response(),
    }
}

/// Prometheus metrics, for loopback clients (not through a proxy) and signed-in admins;
/// everyone else gets the same 404 as a missing page.
pub async fn metrics(
    State(state): State<AppState>,
    mut request: Request,
) -> Result<Response, AppError> {
    let direct_loopback = super::peer(&request).is_some_and(|p| p.ip().is_loopback())
        && !request.headers().contains_key("x-forwarded-for");
    let admin = direct_loopback
        || crate::auth::session::resolve(request.extensions_mut(), &state)
            .await?
            .user
            .is_some_and(|u| u.role == Role::Admin);
    if !admin {
        return Err(AppError::NotFound);
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response())
}

/// Panics, so the tests can see a panic become a 500 page while the server keeps serving.
pub async fn panic() -> &'static str {
    panic!("the test route panicked on purpose")
}

/// The metrics (admins only) and, when the configuration asks for test routes, a route that
/// panics.
pub fn routes(test_routes: bool) -> Routes {
    let routes = Routes::new().get("/metrics", metrics);
    if test_routes {
        routes.get("/__test/panic", panic)
    } else {
        routes
    }
}

/// The probes a load balancer or supervisor polls: no session involved.
pub fn open_routes() -> Routes {
    Routes::new()
        .get("/healthz", healthz)
        .get("/readyz", readyz)
}
