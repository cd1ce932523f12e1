//! The vendor scorecard: KPI values per closed period, their verification, and the scores
//! computed from them by the rules of `scoring` (ARCHITECTURE.md says where each rule lives).
//!
//! `data` loads, `model` computes the [`Scorecard`] value (pure), and the page, the CSV, the
//! review snapshot and the portfolio each write that value out; `entry` and `import` record
//! values.

pub mod csv;
mod data;
mod entry;
mod import;
pub mod model;
mod page;
pub mod portfolio;
mod report;
pub mod scoring;
mod snapshots;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use chrono::NaiveDate;
use sqlx::{PgConnection, PgPool};

use crate::cache::{Cache, Key};
use crate::engagements::Access;
use crate::web::error::Result;
use crate::web::routes::Routes;
use scoring::Period;

pub use entry::{RecordedValue, recorded_values};
pub use import::{BadLine, Line, Recorded, import as import_values, record_lines};
pub use model::{KpiCard, PeriodCard, Scorecard, is_standing_key, standing_key};
pub use page::Trend;
pub use portfolio::{
    Filters as PortfolioFilters, NOTICE_WITHIN_MAX, PortfolioKey, PortfolioRow,
    SORTS as PORTFOLIO_SORTS, refresh_scores, refresh_some_scores, rows_after as portfolio_after,
};
pub use scoring::Standing;
pub use snapshots::{KpiSnapshot, ScoreSnapshot, snapshot};

/// The scorecard of the engagement `access` opens, over the `TREND` periods that end with
/// `period`, judged on `today`: what the page, the CSV and the API all write out.
///
/// Computed once per data version (`crate::cache`): `access` was read with the version of
/// what the scorecard is computed from, so a write anywhere makes the next call compute it
/// afresh. `access` has already decided that the asker may see the engagement. `db` is
/// asked for a connection only when the scorecard is computed.
pub async fn scorecard_of(
    cache: &Cache,
    db: &PgPool,
    access: &Access,
    period: Period,
    today: NaiveDate,
) -> Result<Arc<Scorecard>> {
    let key = Key {
        kind: "scorecard",
        engagement_id: access.id,
        version: access.data_version,
        period: Some(period),
        today,
        detail: String::new(),
    };
    if let Some(card) = cache.get::<Scorecard>(&key) {
        return Ok(card);
    }
    let periods = model::ending_with(period, model::TREND);
    let mut conn = db.acquire().await?;
    let data = data::load(&mut conn, access.id, periods[0].start, period.start).await?;
    let card = Arc::new(model::scorecard(&data, &periods, today));
    cache.insert(key, card.clone(), card.bytes());
    Ok(card)
}

/// Whether `period` is one values may be recorded for on `today`: closed and within the
/// engagement's life.
pub async fn within_life(
    db: &mut PgConnection,
    engagement_id: i64,
    period: &Period,
    today: NaiveDate,
) -> Result<bool> {
    Ok(data::Life::of(db, engagement_id)
        .await?
        .records(period, today))
}

/// A pasted CSV of KPI values may be larger than other request bodies.
const IMPORT_LIMIT: usize = 4 * 1024 * 1024;

/// The routes of the scorecard, its values and the portfolio.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/scorecard", page::scorecard_page)
        .get("/engagements/{id}/values", entry::values_form)
        .post("/engagements/{id}/values", entry::record)
        .post("/values/{id}/review", entry::review)
        .get("/portfolio", portfolio::portfolio)
        .get("/portfolio.csv", portfolio::portfolio_csv)
        .get("/engagements/{id}/scorecard.csv", page::scorecard_csv)
        .get("/engagements/{id}/report", report::show)
        .get("/engagements/{id}/report.pdf", report::pdf)
        .get("/values/import", import::import_form)
        .add(Method::POST, "/values/import", |r| {
            r.post(import::upload)
                .layer(DefaultBodyLimit::max(IMPORT_LIMIT))
        })
}
