//! What every request and background task shares: the database pool, the configuration, the
//! clock, the metrics, the cache of computed values and the API's request quota. It sits on the bottom floor so that every other module may use it.

use std::sync::Arc;

use sqlx::PgPool;

use crate::cache::Cache;
use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::quota::Quota;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    pub allowed_origins: Arc<Vec<String>>,
    /// Computed values kept between requests, under the data version they were computed at.
    pub cache: Cache,
    /// The API requests this instance may serve per token this minute without counting
    /// them in PostgreSQL one by one.
    pub quota: Quota,
}

impl AppState {
    pub fn new(config: Config, pool: PgPool, clock: Clock) -> AppState {
        AppState {
            pool,
            allowed_origins: Arc::new(config.allowed_origins()),
            cache: Cache::new(config.cache_bytes),
            quota: Quota::default(),
            config: Arc::new(config),
            clock,
            metrics: Arc::new(Metrics::default()),
        }
    }
}
