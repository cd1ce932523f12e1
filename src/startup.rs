//! The application: state, router, listener and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

use crate::clock::Clock;
use crate::config::Config;
use crate::web::error::{AppError, internal_error_page};
use crate::web::metrics::Metrics;
use crate::{auth, home, web};

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Requests still running after this are cut off; statements time out well before it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub allowed_origins: Arc<Vec<String>>,
}

impl AppState {
    pub fn new(config: Config, pool: PgPool, clock: Clock) -> AppState {
        AppState {
            pool,
            allowed_origins: Arc::new(config.allowed_origins()),
            config: Arc::new(config),
            clock,
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// Every route of the application.
pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .route("/", get(home::show))
        .route("/login", get(auth::login::show).post(auth::login::submit))
        .route("/logout", post(auth::login::logout))
        .route("/metrics", get(web::health::metrics))
        .layer(from_fn_with_state(state.clone(), auth::session::load));

    let open = Router::new()
        .route("/healthz", get(web::health::healthz))
        .route("/readyz", get(web::health::readyz))
        .route("/static/{name}", get(web::assets::serve));

    pages
        .merge(open)
        .fallback(|| async { AppError::NotFound })
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(from_fn(web::security_headers))
                .layer(from_fn_with_state(state.clone(), web::telemetry))
                .layer(CatchPanicLayer::custom(|_| internal_error_page()))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    REQUEST_TIMEOUT,
                ))
                .layer(DefaultBodyLimit::max(BODY_LIMIT))
                .layer(from_fn_with_state(state.clone(), web::cross_site_guard)),
        )
        .with_state(state)
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Binds the listener (port 0 picks a free port, as the tests do) and builds the router.
    /// A public URL derived from the bind address takes the port actually bound.
    pub async fn build(
        mut config: Config,
        pool: PgPool,
        clock: Clock,
    ) -> std::io::Result<Application> {
        let listener = TcpListener::bind(config.bind).await?;
        config.bind = listener.local_addr()?;
        if !config.public_url_explicit {
            config.public_url = crate::config::derive_public_url(config.bind);
        }
        let state = AppState::new(config, pool, clock);
        Ok(Application {
            listener,
            router: router(state.clone()),
            state,
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
