//! The vendor scorecard: KPI values per closed period, their verification, and the scores
//! computed from them exactly as DESIGN.md's rules say.

pub mod csv;
pub mod portfolio;
pub mod scoring;
pub mod values;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;

use crate::web::routes::Routes;

/// A pasted CSV of KPI values may be larger than other request bodies.
const IMPORT_LIMIT: usize = 4 * 1024 * 1024;

/// The routes of the scorecard, its values and the portfolio.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/scorecard", values::scorecard)
        .get("/engagements/{id}/values", values::values_form)
        .post("/engagements/{id}/values", values::record)
        .post("/values/{id}/review", values::review)
        .get("/portfolio", portfolio::portfolio)
        .get("/portfolio.csv", portfolio::portfolio_csv)
        .get("/engagements/{id}/scorecard.csv", values::scorecard_csv)
        .get("/values/import", values::import_form)
        .add(Method::POST, "/values/import", |r| {
            r.post(values::import)
                .layer(DefaultBodyLimit::max(IMPORT_LIMIT))
        })
}
