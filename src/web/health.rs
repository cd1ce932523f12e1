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
    let mut body = state.metrics.render();
    body.push_str(&gauges(&state).await?);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// What is read at each scrape: the pool's connections, the outbox's depth and the age of
/// its oldest waiting message, and the build.
async fn gauges(state: &AppState) -> Result<String, AppError> {
    let (pending, failed, oldest): (i64, i64, f64) = sqlx::query_as(
        "select (select count(*) from outbox where sent_at is null and failed_at is null),
                (select count(*) from outbox where failed_at is not null),
                coalesce((select extract(epoch from $1 - min(created_at)) from outbox
                          where sent_at is null and failed_at is null), 0)::float8",
    )
    .bind(state.clock.now())
    .fetch_one(&state.pool)
    .await?;
    let size = state.pool.size();
    let idle = state.pool.num_idle() as u32;
    let max = state.pool.options().get_max_connections();
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: &[(&str, String)]| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for (labels, value) in samples {
            out.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    gauge(
        "trellis_db_pool_connections",
        "Connections of this instance's pool, by state.",
        &[
            ("{state=\"idle\"}", idle.to_string()),
            ("{state=\"busy\"}", size.saturating_sub(idle).to_string()),
        ],
    );
    gauge(
        "trellis_db_pool_max_connections",
        "The most connections this instance's pool opens.",
        &[("", max.to_string())],
    );
    gauge(
        "trellis_outbox_messages",
        "E-mail in the outbox, by state (pending: waiting to be sent; failed: given up).",
        &[
            ("{state=\"pending\"}", pending.to_string()),
            ("{state=\"failed\"}", failed.to_string()),
        ],
    );
    gauge(
        "trellis_outbox_oldest_pending_age_seconds",
        "How long the oldest e-mail waiting to be sent has waited (0: none waits).",
        &[("", oldest.to_string())],
    );
    gauge(
        "trellis_build_info",
        "The running build: its version.",
        &[(
            &format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")),
            "1".into(),
        )],
    );
    Ok(out)
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
