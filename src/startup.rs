//! The application: the router composed of every feature's routes, the middleware, the
//! listener and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

use crate::clock::Clock;
use crate::config::Config;
use crate::state::AppState;
use crate::web::error::{AppError, internal_error_page};
use crate::web::routes::Routes;
use crate::{
    account, api, audit, audits, auth, calendar, checkins, documents, engagements, feedback,
    grants, home, inbox, overview, proposals, questionnaires, reviews, scheduler, scorecard, users,
    vendors, web, webhooks,
};

/// Requests still running after this are cut off; statements time out well before it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Pages: behind the session loader.
fn pages(config: &Config) -> Routes {
    Routes::new()
        .merge(home::routes())
        .merge(auth::routes())
        .merge(account::routes())
        .merge(inbox::routes())
        .merge(scheduler::pages::routes())
        .merge(webhooks::routes())
        .merge(users::routes())
        .merge(audit::routes())
        .merge(vendors::routes())
        .merge(documents::routes())
        .merge(questionnaires::routes())
        .merge(engagements::routes())
        .merge(overview::routes())
        .merge(checkins::routes())
        .merge(feedback::routes())
        .merge(audits::routes())
        .merge(grants::routes())
        .merge(reviews::routes())
        .merge(proposals::routes())
        .merge(scorecard::routes())
        .merge(web::health::routes(config.test_routes))
}

/// Open routes: no session involved.
fn open() -> Routes {
    Routes::new()
        .merge(web::health::open_routes())
        .merge(web::statics::routes())
        .merge(calendar::routes())
}

/// Every route of the application with the list of what was registered.
pub fn router(state: AppState) -> (Router, Vec<(Method, &'static str)>) {
    let pages = pages(&state.config);
    let open = open();
    // The API: no session either, and every error a problem document.
    let api = api::routes();
    let list = pages
        .list()
        .iter()
        .chain(open.list())
        .chain(api.list())
        .cloned()
        .collect();
    let router = pages
        .into_router()
        .layer(from_fn(auth::session::load))
        .layer(from_fn(web::refuse_oversized))
        .merge(open.into_router())
        .merge(
            api.into_router()
                .layer(from_fn(web::refuse_oversized))
                .layer(from_fn(api::as_problems)),
        )
        .fallback(|uri: Uri| async move {
            if uri.path().starts_with("/api/") {
                api::Problem::not_found().into_response()
            } else {
                AppError::NotFound.into_response()
            }
        })
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
                .layer(DefaultBodyLimit::max(web::BODY_LIMIT))
                .layer(from_fn_with_state(state.clone(), web::cross_site_guard)),
        )
        .with_state(state);
    (router, list)
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    routes: Vec<(Method, &'static str)>,
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
        let (router, routes) = router(state.clone());
        Ok(Application {
            listener,
            router,
            routes,
            state,
        })
    }

    /// Every (method, path) the router serves.
    pub fn routes(&self) -> &[(Method, &'static str)] {
        &self.routes
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves (and runs the scheduler) until `shutdown` completes, then lets in-flight
    /// requests and the scheduler's current pass finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let scheduler = tokio::spawn(scheduler::run(self.state.clone(), stopped.clone()));
        let webhooks = tokio::spawn(webhooks::run(self.state.clone(), stopped));
        if let Some(oidc) = self.state.config.oidc.clone() {
            tokio::spawn(
                async move { crate::auth::oidc::provider::discover_at_start(&oidc).await },
            );
        }
        let header_timeout = self.state.config.header_timeout;
        let served = serve(self.listener, self.router, header_timeout, shutdown).await;
        // The scheduler finishes the pass it is in, then stops.
        let _ = stop.send(true);
        let _ = scheduler.await;
        let _ = webhooks.await;
        served
    }
}

/// Accepts HTTP/1.1 connections until `shutdown` completes, then stops accepting and waits
/// until every connection has finished the request it is in. Each request carries its peer's
/// address as `ConnectInfo<SocketAddr>`, as `axum::serve` would put it. Unlike `axum::serve`,
/// a connection that has not sent a request's headers within `header_timeout` is closed, so
/// slow senders cannot hold connections (and, at shutdown, the process) open.
async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like pass; a pause keeps the loop from
                // spinning meanwhile.
                Err(error) => {
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    // Both handlers are installed now, before the caller says it listens: a SIGTERM that
    // arrives at once must find them, not the default action that kills the process.
    let terminate = signal(SignalKind::terminate()).ok();
    let interrupt = signal(SignalKind::interrupt()).ok();
    async move {
        let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(terminate) => {},
            () = wait(interrupt) => {},
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
