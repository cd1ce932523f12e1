//! The connection pool, the embedded cluster and the migrations.

pub mod backup;
pub mod embedded;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, FromRow, PgPool, Row};

use crate::config::Config;
use embedded::Cluster;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The database a process works on: a pool, and the embedded cluster it joined, if any.
pub struct Database {
    pub pool: PgPool,
    cluster: Option<Cluster>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts (or joins) the embedded cluster under the data
    /// dir, then applies the migrations.
    pub async fn open(config: &Config) -> anyhow::Result<Database> {
        let database = Database::connect(config).await?;
        MIGRATOR.run(&database.pool).await?;
        Ok(database)
    }

    /// Connects as [`Database::open`] does, without applying the migrations (a restore
    /// wants the database as it is).
    pub async fn connect(config: &Config) -> anyhow::Result<Database> {
        let (options, cluster) = match &config.database_url {
            Some(url) => (url.parse::<PgConnectOptions>()?, None),
            None => {
                let data_dir = config.data_dir.clone();
                let pg_bin = config.pg_bin.clone();
                let cluster = tokio::task::spawn_blocking(move || {
                    Cluster::start(&data_dir, pg_bin.as_deref(), &[])
                })
                .await??;
                if cluster.started_here() {
                    tracing::info!(dir = %cluster.directory().display(), "started the embedded PostgreSQL");
                }
                ensure_database(&cluster, embedded::DATABASE).await?;
                (cluster.connect_options(embedded::DATABASE), Some(cluster))
            }
        };
        Ok(Database {
            pool: pool(options, 10).await?,
            cluster,
        })
    }

    /// Closes the pool and leaves the embedded cluster (stopping it if no other process
    /// uses it).
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close().await;
        if let Some(cluster) = self.cluster {
            tokio::task::spawn_blocking(move || cluster.leave()).await??;
        }
        Ok(())
    }
}

/// A statement running longer is cancelled (SQLSTATE 57014, answered 503), well before the
/// request timeout: a locked table makes requests fail fast instead of piling up.
const STATEMENT_TIMEOUT: &str = "5s";

/// The part `T` of a row that a left join may have left empty: `None` when its `key` column
/// is null.
pub fn joined<'r, T: FromRow<'r, PgRow>>(row: &'r PgRow, key: &str) -> sqlx::Result<Option<T>> {
    if row.try_get::<Option<i64>, _>(key)?.is_none() {
        return Ok(None);
    }
    T::from_row(row).map(Some)
}

/// A pool that fails fast: a bounded wait for a connection, and statements cut off well
/// before the request timeout.
///
/// Its statements keep one generic plan each (`plan_cache_mode`): they are written without
/// optional filters, one statement per combination, so a plan fits every value of their
/// parameters, and planning the pages' larger statements afresh for each request cost more
/// than running them (up to 5 ms against 1.5 ms on the scale data's home pages).
pub async fn pool(options: PgConnectOptions, max: u32) -> Result<PgPool, sqlx::Error> {
    let options = options.options([
        ("statement_timeout", STATEMENT_TIMEOUT),
        ("plan_cache_mode", "force_generic_plan"),
    ]);
    PgPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options)
        .await
}

/// Creates `name` inside the embedded cluster if it is not there yet.
pub async fn ensure_database(cluster: &Cluster, name: &str) -> anyhow::Result<()> {
    let mut admin = cluster.connect_options("postgres").connect().await?;
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        // Two processes may race here; the loser's "already exists" is fine.
        let sql = format!("create database \"{}\"", name.replace('"', ""));
        if let Err(e) = sqlx::query(&sql).execute(&mut admin).await {
            // Concurrent creators see either "already exists" or the catalogue's own
            // unique violation, depending on who got there first.
            let code = e.as_database_error().and_then(|d| d.code());
            let duplicate = matches!(code.as_deref(), Some("42P04" | "23505"));
            if !duplicate {
                return Err(e.into());
            }
        }
    }
    Ok(())
}
