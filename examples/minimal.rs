//! The benchmark's yardstick (`scripts/bench`): the smallest useful axum + sqlx + askama page,
//! one 12-row query rendered through a template, on the same pool settings, runtime and
//! database as Trellis. DESIGN.md's throughput budget is a ratio to this page.
//!
//! `cargo run --release --example minimal` serves it on `TRELLIS_BIND` (default
//! 127.0.0.1:8080) from the database Trellis would use (`DATABASE_URL` or the embedded
//! cluster under `TRELLIS_DATA_DIR`).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use sqlx::PgPool;
use trellis::config::Config;
use trellis::db::Database;

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vendors</title></head>
<body><table><thead><tr><th>Id</th><th>Vendor</th><th>Tier</th></tr></thead><tbody>
{% for row in rows %}<tr><td>{{ row.0 }}</td><td>{{ row.1 }}</td><td>{{ row.2 }}</td></tr>
{% endfor %}</tbody></table></body></html>"#
)]
struct Page {
    rows: Vec<(i64, String, String)>,
}

async fn page(State(pool): State<PgPool>) -> Result<Html<String>, StatusCode> {
    let rows = sqlx::query_as("select id, name, tier from vendors order by id limit 12")
        .fetch_all(&pool)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Page { rows }
        .render()
        .map(Html)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let config = Config::from_env()?;
    let database = Database::open(&config).await?;
    let app = Router::new()
        .route("/", get(page))
        .with_state(database.pool.clone());
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    println!("minimal page listening on http://{}", config.bind);
    axum::serve(listener, app)
        .with_graceful_shutdown(trellis::startup::shutdown_signal())
        .await?;
    database.close().await
}
