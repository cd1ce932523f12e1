//! The JSON API under `/api/v1`: bearer tokens only, JSON only, every error a problem
//! document. It serialises the same typed values the pages format.

pub mod body;
pub mod caller;
pub mod checkins;
pub mod cursor;
pub mod engagement;
pub mod engagements;
pub mod findings;
pub mod openapi;
pub mod portfolio;
pub mod problem;
pub mod reference;
pub mod tokens;
pub mod values;

pub use caller::ApiCaller;
pub use problem::{ApiResult, Problem, as_problems};

use axum::extract::DefaultBodyLimit;
use axum::http::Method;

use crate::web::routes::Routes;

/// The API's routes; startup registers them without the session loader.
pub fn routes() -> Routes {
    Routes::new()
        .get("/api/openapi.json", openapi::json)
        .get("/api/reference", reference::page)
        .get("/api/v1/engagements", engagements::list)
        .get("/api/v1/engagements/{id}", engagement::show)
        .get("/api/v1/engagements/{id}/scorecard", engagement::scorecard)
        .get("/api/v1/engagements/{id}/kpi-values", values::list)
        .add(Method::POST, "/api/v1/kpi-values", |r| {
            r.post(values::push)
                .layer(DefaultBodyLimit::max(values::PUSH_LIMIT))
        })
        .get("/api/v1/engagements/{id}/checkins", checkins::list)
        .post("/api/v1/engagements/{id}/checkins", checkins::create)
        .get("/api/v1/checkins/{id}", checkins::show)
        .post("/api/v1/action-items/{id}", checkins::close_item)
        .get("/api/v1/engagements/{id}/findings", findings::list)
        .post("/api/v1/findings/{id}/answer", findings::answer)
        .get("/api/v1/portfolio", portfolio::list)
}
