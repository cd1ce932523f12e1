//! The application: state, router, listener and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::Method;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::MethodRouter;
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
use crate::web::error::{AppError, internal_error_page};
use crate::web::metrics::Metrics;
use crate::{
    account, audit, audits, auth, calendar, checkins, engagements, feedback, grants, home, inbox,
    proposals, reviews, scheduler, scorecard, users, vendors, web,
};

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;
/// A pasted CSV of KPI values may be larger.
pub const IMPORT_LIMIT: usize = 4 * 1024 * 1024;
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

/// The routes of the application, registered through one builder so that the route-table
/// test can walk every one of them.
pub struct Routes {
    by_path: BTreeMap<&'static str, MethodRouter<AppState>>,
    list: Vec<(Method, &'static str)>,
}

impl Routes {
    fn new() -> Routes {
        Routes {
            by_path: BTreeMap::new(),
            list: Vec::new(),
        }
    }

    fn add(
        mut self,
        method: Method,
        path: &'static str,
        route: impl FnOnce(MethodRouter<AppState>) -> MethodRouter<AppState>,
    ) -> Routes {
        let existing = self.by_path.remove(path).unwrap_or_default();
        self.by_path.insert(path, route(existing));
        self.list.push((method, path));
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Routes {
        self.add(Method::GET, path, |r| r.get(handler))
    }

    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Routes {
        self.add(Method::POST, path, |r| r.post(handler))
    }

    /// Every (method, path) registered.
    pub fn list(&self) -> &[(Method, &'static str)] {
        &self.list
    }

    fn into_router(self) -> Router<AppState> {
        self.by_path
            .into_iter()
            .fold(Router::new(), |router, (path, route)| {
                router.route(path, route)
            })
    }
}

/// Pages: behind the session loader.
fn pages(config: &Config) -> Routes {
    let routes = Routes::new()
        .get("/", home::show)
        .get("/login", auth::login::show)
        .post("/login", auth::login::submit)
        .post("/logout", auth::login::logout)
        .get("/account", account::settings)
        .post("/account", account::save_settings)
        .post("/account/calendar", account::calendar)
        .get("/inbox", inbox::list)
        .post("/inbox/{id}/dismiss", inbox::dismiss)
        .post("/inbox/{id}/snooze", inbox::snooze)
        .post("/inbox/{id}/celebrate", inbox::celebrate)
        .get("/admin/scheduler", scheduler::pages::show)
        .post("/admin/scheduler/run", scheduler::pages::run_now)
        .post("/admin/outbox/{id}/retry", scheduler::pages::retry)
        .get("/account/password", account::show)
        .post("/account/password", account::change)
        .get("/set-password/{token}", users::invite::show)
        .post("/set-password/{token}", users::invite::set)
        .get("/admin/users", users::admin::list)
        .get("/admin/users/new", users::admin::new)
        .post("/admin/users/new", users::admin::create)
        .get("/admin/users/{id}", users::admin::show)
        .post("/admin/users/{id}", users::admin::update)
        .post("/admin/users/{id}/disable", users::admin::disable)
        .post("/admin/users/{id}/enable", users::admin::enable)
        .post(
            "/admin/users/{id}/password-link",
            users::admin::password_link,
        )
        .get("/admin/audit", audit::pages::list)
        .get("/admin/criteria", vendors::evaluations::criteria)
        .post("/admin/criteria", vendors::evaluations::save_criteria)
        .get("/vendors", vendors::pages::list)
        .get("/vendors/new", vendors::pages::new)
        .post("/vendors/new", vendors::pages::create)
        .get("/vendors/{id}", vendors::pages::show)
        .get("/vendors/{id}/edit", vendors::pages::edit)
        .post("/vendors/{id}/edit", vendors::pages::update)
        .get("/vendors/{id}/evaluations/new", vendors::evaluations::new)
        .post(
            "/vendors/{id}/evaluations/new",
            vendors::evaluations::create,
        )
        .get("/evaluations/{id}", vendors::evaluations::show)
        .get("/engagements", engagements::pages::list)
        .get("/engagements/new", engagements::pages::new)
        .post("/engagements/new", engagements::pages::create)
        .get("/engagements/{id}", engagements::pages::show)
        .get("/engagements/{id}/agreement", engagements::pages::agreement)
        .get("/engagements/{id}/edit", engagements::pages::edit)
        .post("/engagements/{id}/edit", engagements::pages::update)
        .get("/engagements/{id}/kpis", engagements::kpis::list)
        .post("/engagements/{id}/kpis", engagements::kpis::save_weights)
        .get("/engagements/{id}/kpis/new", engagements::kpis::new)
        .post("/engagements/{id}/kpis/new", engagements::kpis::create)
        .get(
            "/engagements/{id}/boundaries",
            engagements::boundaries::show,
        )
        .post(
            "/engagements/{id}/boundaries",
            engagements::boundaries::update,
        )
        .get("/kpis/{id}", engagements::kpis::show)
        .get("/kpis/{id}/edit", engagements::kpis::edit)
        .post("/kpis/{id}/edit", engagements::kpis::update)
        .get("/engagements/{id}/checkins", checkins::list)
        .get("/engagements/{id}/checkins/new", checkins::new)
        .post("/engagements/{id}/checkins/new", checkins::create)
        .post("/actions/{id}", checkins::close_item)
        .get("/engagements/{id}/contacts", checkins::contacts::list)
        .post("/engagements/{id}/contacts", checkins::contacts::create)
        .get("/engagements/{id}/feedback", feedback::list)
        .get("/engagements/{id}/feedback/new", feedback::new)
        .post("/engagements/{id}/feedback/new", feedback::create)
        .post("/feedback/{id}/acknowledge", feedback::acknowledge)
        .post("/feedback/{id}/respond", feedback::respond)
        .get("/engagements/{id}/successes", feedback::successes::list)
        .post("/engagements/{id}/successes", feedback::successes::create)
        .get("/engagements/{id}/audits", audits::list)
        .get("/engagements/{id}/audits/new", audits::new)
        .post("/engagements/{id}/audits/new", audits::create)
        .get("/audits/{id}", audits::show)
        .post("/audits/{id}/complete", audits::complete)
        .post("/audits/{id}/findings", audits::add_finding)
        .post("/findings/{id}/answer", audits::answer)
        .post("/findings/{id}/resolve", audits::resolve)
        .get("/engagements/{id}/access", grants::list)
        .get("/engagements/{id}/access/new", grants::new)
        .post("/engagements/{id}/access/new", grants::create)
        .post("/grants/{id}/review", grants::review)
        .get("/engagements/{id}/close", grants::close_form)
        .post("/engagements/{id}/close", grants::close)
        .get("/engagements/{id}/reviews", reviews::list)
        .post("/engagements/{id}/reviews", reviews::start)
        .get("/reviews/{id}", reviews::show)
        .post("/reviews/{id}", reviews::save)
        .post("/reviews/{id}/adapt", reviews::adapt)
        .get("/engagements/{id}/proposals", proposals::list)
        .get("/engagements/{id}/proposals/new", proposals::new)
        .post("/engagements/{id}/proposals/new", proposals::create)
        .post("/proposals/{id}/answer", proposals::answer)
        .post("/proposals/{id}/reply", proposals::reply)
        .get("/engagements/{id}/scorecard", scorecard::values::scorecard)
        .get("/engagements/{id}/values", scorecard::values::values_form)
        .post("/engagements/{id}/values", scorecard::values::record)
        .post("/values/{id}/review", scorecard::values::review)
        .get("/portfolio", scorecard::portfolio::portfolio)
        .get("/portfolio.csv", scorecard::portfolio::portfolio_csv)
        .get(
            "/engagements/{id}/scorecard.csv",
            scorecard::values::scorecard_csv,
        )
        .get("/values/import", scorecard::values::import_form)
        .add(Method::POST, "/values/import", |r| {
            r.post(scorecard::values::import)
                .layer(DefaultBodyLimit::max(IMPORT_LIMIT))
        })
        .get("/metrics", web::health::metrics);
    if config.test_routes {
        routes.get("/__test/panic", web::health::panic)
    } else {
        routes
    }
}

/// Open routes: no session involved.
fn open() -> Routes {
    Routes::new()
        .get("/healthz", web::health::healthz)
        .get("/readyz", web::health::readyz)
        .get("/static/{name}", web::assets::serve)
        .get("/calendar/{token}", calendar::feed)
}

/// Every route of the application with the list of what was registered.
pub fn router(state: AppState) -> (Router, Vec<(Method, &'static str)>) {
    let pages = pages(&state.config);
    let open = open();
    let list = pages.list().iter().chain(open.list()).cloned().collect();
    let router = pages
        .into_router()
        .layer(from_fn_with_state(state.clone(), auth::session::load))
        .merge(open.into_router())
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
        let scheduler = tokio::spawn(scheduler::run(self.state.clone(), stopped));
        let header_timeout = self.state.config.header_timeout;
        let served = serve(self.listener, self.router, header_timeout, shutdown).await;
        // The scheduler finishes the pass it is in, then stops.
        let _ = stop.send(true);
        let _ = scheduler.await;
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
