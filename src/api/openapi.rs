//! The OpenAPI 3.1 document of `/api/v1`, served at `/api/openapi.json` and rendered by
//! [`super::reference`]: the root (info, server, bearer scheme, the problem schema) merged
//! with each module's own `#[derive(OpenApi)]` paths.

use std::sync::LazyLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::problem::Problem;
use super::{cursor, engagement, values};

/// The media type of every error of the API (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trellis",
        description = "The JSON API of Trellis: the engagements, KPIs and scorecards a token's \
            owner may see, with exactly the owner's rights. Make a personal token on `/account` \
            and send it as `Authorization: Bearer trellis_…`. Every error is an RFC 9457 \
            problem document (`application/problem+json`)."
    ),
    servers((url = "/", description = "This Trellis")),
    components(schemas(Problem)),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    tags((name = "engagements", description = "Engagements, their KPIs and their scorecards."))
)]
struct Root;

/// Every module's own paths; documenting another one is one line here.
fn parts() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        cursor::ResourcesApi::openapi(),
        engagement::EngagementApi::openapi(),
        values::ValuesApi::openapi(),
    ]
}

/// The whole document, built once.
pub static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(document);

/// The document as served.
static JSON: LazyLock<String> = LazyLock::new(|| {
    DOCUMENT
        .to_pretty_json()
        .unwrap_or_else(|_| String::from("{}"))
});

/// Builds the document: the root, each part, and the problem answers on every operation.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = parts().into_iter().fold(Root::openapi(), |mut doc, part| {
        doc.merge(part);
        doc
    });
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.info.license = None;
    with_problems(&mut doc);
    doc
}

/// The bearer scheme every operation requires: `Authorization: Bearer trellis_…`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("trellis_ and 43 base64url characters")
                    .description(Some(
                        "A personal token made on /account, sent as `Authorization: Bearer trellis_…`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// What any route of the API may answer whatever it does: no valid token, a body past the
/// limit, a database that is unavailable just now (or a request that took too long).
const EVERY_ROUTE: &[(&str, &str)] = &[
    (
        "401",
        "No valid token: missing, unknown, expired or revoked, or its owner is disabled.",
    ),
    ("413", "The request body is too large."),
    (
        "429",
        "The token made more requests this minute than `TRELLIS_API_RATE_LIMIT`; `Retry-After` says when to try again.",
    ),
    (
        "503",
        "The database is unavailable just now, or the request took too long; try again in a few seconds.",
    ),
];

/// Every error answer of every operation carries the problem document, and every operation
/// lists the errors any route may give.
fn with_problems(doc: &mut utoipa::openapi::OpenApi) {
    let problem = || {
        ContentBuilder::new()
            .schema(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
            .build()
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let responses = &mut operation.responses.responses;
            for (status, description) in EVERY_ROUTE {
                responses.entry(status.to_string()).or_insert_with(|| {
                    RefOr::T(ResponseBuilder::new().description(*description).build())
                });
            }
            for (status, response) in responses.iter_mut() {
                let is_error = status.starts_with('4') || status.starts_with('5');
                if let (true, RefOr::T(response)) = (is_error, response) {
                    response.content.clear();
                    response.content.insert(PROBLEM_JSON.to_string(), problem());
                }
            }
        }
    }
}

/// `GET /api/openapi.json`: the document, no token needed.
pub async fn json() -> Response {
    let mut response = JSON.as_str().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
