//! What every request and background task shares: the database pool, the configuration, the
//! clock and the metrics. It sits on the bottom floor so that every other module may use it.

use std::sync::Arc;

use sqlx::PgPool;

use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;

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
