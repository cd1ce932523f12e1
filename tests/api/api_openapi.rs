//! The API's OpenAPI document and its reference page: valid 3.1, open to everyone, every
//! route of the router under /api/v1 documented, every error a problem document.

use std::collections::BTreeSet;

use serde_json::Value;
use trellis::auth::Role;

use crate::api_tokens::create_token;
use crate::helpers::{TestApp, spawn_app, texts};

async fn document(app: &TestApp) -> Value {
    let response = reqwest::get(format!("{}/api/openapi.json", app.address))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    serde_json::from_str(&response.text().await.unwrap()).expect("the document is JSON")
}

/// (method, path) of every operation the document describes.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_needs_no_token() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Trellis");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["servers"][0]["url"], "/");
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    assert_eq!(doc["security"], serde_json::json!([{ "bearer": [] }]));
    let problem = &doc["components"]["schemas"]["Problem"];
    for field in ["type", "title", "status", "detail"] {
        assert!(problem["properties"][field].is_object(), "{problem}");
    }
}

#[tokio::test]
async fn every_route_under_api_v1_is_documented_and_nothing_more() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let routed: BTreeSet<(String, String)> = app
        .routes
        .iter()
        .filter(|(_, path)| path.starts_with("/api/v1/"))
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert!(!routed.is_empty());
    assert_eq!(operations(&doc), routed);
}

#[tokio::test]
async fn every_error_answer_is_a_problem_document_and_every_operation_may_give_401_and_503() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path) in operations(&doc) {
        let responses = doc["paths"][&path][method.to_lowercase()]["responses"]
            .as_object()
            .unwrap();
        for status in ["401", "503"] {
            assert!(responses.contains_key(status), "{method} {path}: {status}");
        }
        assert!(responses.contains_key("200"), "{method} {path}");
        for (status, response) in responses {
            if status.starts_with('2') {
                assert!(
                    response["content"]["application/json"]["schema"].is_object(),
                    "{method} {path} {status}"
                );
                continue;
            }
            let content = response["content"].as_object().unwrap();
            assert_eq!(
                content.keys().collect::<Vec<_>>(),
                ["application/problem+json"],
                "{method} {path} {status}"
            );
            assert_eq!(
                content["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem"
            );
        }
    }
}

#[tokio::test]
async fn the_parameters_carry_the_constraints_the_server_applies() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let param = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has {name}"))
            .clone()
    };
    assert_eq!(
        param("/api/v1/engagements", "q")["schema"]["maxLength"],
        200
    );
    let limit = param("/api/v1/engagements", "limit");
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 100);
    let status = param("/api/v1/engagements", "status");
    let status_ref = status["schema"]["$ref"].as_str().unwrap();
    let status_schema = &doc["components"]["schemas"][status_ref.rsplit('/').next().unwrap()];
    assert_eq!(
        status_schema["enum"],
        serde_json::json!(["draft", "active", "paused", "closed"])
    );
    let period = param("/api/v1/engagements/{id}/scorecard", "period");
    let pattern = period["schema"]["pattern"].as_str().unwrap();
    assert!(pattern.contains("Q[1-4]"), "{pattern}");
    assert_eq!(
        param("/api/v1/engagements/{id}", "id")["schema"]["type"],
        "integer"
    );
}

#[tokio::test]
async fn empty_query_values_are_refused_as_the_document_says() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Vendor).await;
    let secret = create_token(&client, "Empty values").await;
    for (query, status) in [
        ("/api/v1/engagements?status=", 422),
        ("/api/v1/engagements?limit=", 422),
        ("/api/v1/engagements?cursor=", 400),
        ("/api/v1/engagements?q=", 200),
    ] {
        let response = reqwest::Client::new()
            .get(format!("{}{query}", app.address))
            .header("authorization", format!("Bearer {secret}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{query}");
    }
}

#[tokio::test]
async fn the_reference_page_renders_every_operation_of_the_document() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let response = reqwest::get(format!("{}/api/reference", app.address))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-security-policy")
            .is_some_and(|csp| csp.to_str().unwrap().contains("default-src 'self'"))
    );
    let html = response.text().await.unwrap();
    let headings: BTreeSet<String> = texts(&html, "section.api-operation h2")
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = operations(&doc)
        .into_iter()
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert_eq!(headings, expected);
    // Read as text: a summary may hold characters the page escapes.
    let summaries: BTreeSet<String> = texts(&html, "section.api-operation p strong")
        .into_iter()
        .collect();
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let summary = op["summary"].as_str().unwrap();
        let summary = summary.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(summaries.contains(&summary), "{summary}");
        for param in op["parameters"].as_array().into_iter().flatten() {
            let name = format!("<code>{}</code>", param["name"].as_str().unwrap());
            assert!(html.contains(&name), "{method} {path}: {name}");
        }
        for status in op["responses"].as_object().unwrap().keys() {
            assert!(
                html.contains(&format!("<td>{status}</td>")),
                "{method} {path}: {status}"
            );
        }
    }
    for schema in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            html.contains(&format!("id=\"schema-{schema}\"")),
            "{schema}"
        );
    }
    // How to get a token, and the document itself.
    assert!(html.contains("href=\"/account\""));
    assert!(html.contains("Authorization: Bearer trellis_…"));
    assert!(html.contains("href=\"/api/openapi.json\""));
    assert!(!html.contains("<script"));
}

#[tokio::test]
async fn the_account_page_links_the_reference_from_its_tokens_section() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Manager).await;
    let html = client.get_html("/account").await;
    let links = crate::helpers::texts(
        &html,
        "section[aria-labelledby=tokens-heading] a[href=\"/api/reference\"]",
    );
    assert_eq!(links, ["API reference"]);
}
