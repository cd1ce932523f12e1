//! One engagement and its scorecard through the JSON API, per role and across vendors.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;
use trellis::auth::Role;

use crate::api_tokens::{create_token, vendor};
use crate::helpers::{TestApp, engagement, kpi, texts};

async fn get(app: &TestApp, path: &str, secret: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", app.address));
    if let Some(secret) = secret {
        request = request.header("authorization", format!("Bearer {secret}"));
    }
    request.send().await.unwrap()
}

async fn json(response: reqwest::Response, status: u16, content_type: &str) -> Value {
    assert_eq!(response.status(), status);
    let got = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(got.starts_with(content_type), "{got}");
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

async fn ok(app: &TestApp, path: &str, secret: &str) -> Value {
    json(get(app, path, Some(secret)).await, 200, "application/json").await
}

async fn problem(app: &TestApp, path: &str, secret: Option<&str>, status: u16) -> Value {
    let body = json(
        get(app, path, secret).await,
        status,
        "application/problem+json",
    )
    .await;
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

fn decimal(value: &Value) -> Decimal {
    Decimal::from_str(value.as_str().expect("a decimal as a string")).unwrap()
}

async fn value(app: &TestApp, kpi: i64, period_start: &str, value: &str, by: i64) {
    sqlx::query(
        "insert into kpi_values (kpi_id, period_start, value, state, recorded_by, recorded_at)
         values ($1, $2::date, $3::numeric, 'verified', $4, now())",
    )
    .bind(kpi)
    .bind(period_start)
    .bind(value)
    .bind(by)
    .execute(&app.pool)
    .await
    .unwrap();
}

fn assert_engagement(body: &Value, id: i64) {
    assert_eq!(body["id"], id, "{body}");
    assert!(body["name"].as_str().unwrap().starts_with("Service desk"));
    assert!(body["vendor_name"].is_string());
    assert_eq!(body["status"], "draft");
    assert_eq!(body["start_date"], "2026-01-01");
    assert_eq!(body["end_date"], Value::Null);
    assert_eq!(body["scorecard_period"], "monthly");
    assert_eq!(body["time_zone"], "Europe/Berlin");
    let kpis = body["kpis"].as_array().unwrap();
    assert_eq!(kpis.len(), 1, "{body}");
    let k = &kpis[0];
    assert_eq!(k["name"], "Availability");
    assert_eq!(k["direction"], "higher");
    assert_eq!(k["source"], "manager");
    assert_eq!(k["target"], "99.5");
    assert_eq!(k["threshold"], "98");
    assert_eq!(k["weight"], "60.00", "the stored scale");
    assert_eq!(k["active"], true);
}

#[tokio::test]
async fn each_role_s_token_reads_an_engagement_with_its_kpis_and_terms_in_force() {
    let app = crate::helpers::spawn_app().await;
    let (vendor_client, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager_client, manager) = app.signed_in(Role::Manager).await;
    let id = engagement(&app, vendor_user.vendor_id.unwrap(), manager.id).await;
    kpi(&app, id, "Availability", "higher", "99.5", "98", "60").await;

    let vendor_secret = create_token(&vendor_client, "Service desk").await;
    let manager_secret = create_token(&manager_client, "Reporting").await;
    for secret in [&vendor_secret, &manager_secret] {
        let body = ok(&app, &format!("/api/v1/engagements/{id}"), secret).await;
        assert_engagement(&body, id);
    }
}

#[tokio::test]
async fn another_vendor_s_engagement_is_the_same_404_as_a_missing_one_on_both_routes() {
    let app = crate::helpers::spawn_app().await;
    let (client, _) = app.signed_in(Role::Vendor).await;
    let owner = app.create_user(Role::Manager, None).await;
    let foreign = engagement(&app, vendor(&app, "Other Vendor Ltd").await, owner.id).await;
    kpi(&app, foreign, "Availability", "higher", "99.5", "98", "60").await;
    let secret = create_token(&client, "Service desk").await;
    for route in ["", "/scorecard", "/scorecard?period=2026-03"] {
        let foreign_body = problem(
            &app,
            &format!("/api/v1/engagements/{foreign}{route}"),
            Some(&secret),
            404,
        )
        .await;
        let missing_body = problem(
            &app,
            &format!("/api/v1/engagements/987654321{route}"),
            Some(&secret),
            404,
        )
        .await;
        assert_eq!(foreign_body, missing_body);
        problem(
            &app,
            &format!("/api/v1/engagements/abc{route}"),
            Some(&secret),
            404,
        )
        .await;
    }
    // Without a bearer token both routes want one.
    for route in ["", "/scorecard"] {
        let response = get(&app, &format!("/api/v1/engagements/{foreign}{route}"), None).await;
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "Bearer"
        );
        problem(
            &app,
            &format!("/api/v1/engagements/{foreign}{route}"),
            None,
            401,
        )
        .await;
    }
}

#[tokio::test]
async fn the_api_s_scorecard_is_the_page_s_for_the_same_period() {
    let app = crate::helpers::spawn_app().await;
    let (vendor_client, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager_client, manager) = app.signed_in(Role::Manager).await;
    let id = engagement(&app, vendor_user.vendor_id.unwrap(), manager.id).await;
    let availability = kpi(&app, id, "Availability", "higher", "99.5", "98", "60").await;
    let response = kpi(&app, id, "Response time", "lower", "4", "8", "40").await;
    let vendor_secret = create_token(&vendor_client, "Service desk").await;
    let manager_secret = create_token(&manager_client, "Reporting").await;
    let path = format!("/api/v1/engagements/{id}/scorecard");

    // Before any value: no score, never 0, and 12 periods of history ending with the latest.
    let empty = ok(&app, &path, &manager_secret).await;
    assert_eq!(empty["score"], Value::Null, "{empty}");
    assert_eq!(empty["standing"], "no_data");
    let periods = empty["history_periods"].as_array().unwrap().clone();
    assert_eq!(periods.len(), 12);
    assert_eq!(periods[11]["label"], empty["period"]["label"]);
    let label = empty["period"]["label"].as_str().unwrap().to_string();
    let this = periods[11]["start"].as_str().unwrap().to_string();
    let before = periods[10]["start"].as_str().unwrap().to_string();

    value(&app, availability, &before, "99.6", manager.id).await;
    value(&app, response, &before, "5", manager.id).await;
    value(&app, availability, &this, "98.9", manager.id).await;
    value(&app, response, &this, "3.5", manager.id).await;

    let page = manager_client
        .get_html(&format!("/engagements/{id}/scorecard?period={label}"))
        .await;
    let page_score = texts(&page, "#score");
    let csv = manager_client
        .get(&format!("/engagements/{id}/scorecard.csv"))
        .await
        .text()
        .await
        .unwrap();
    for secret in [&vendor_secret, &manager_secret] {
        for query in [String::new(), format!("?period={label}")] {
            let card = ok(&app, &format!("{path}{query}"), secret).await;
            assert_eq!(card["engagement_id"], id);
            assert_eq!(card["period"]["label"], label.as_str());
            assert_eq!(
                vec![card["score"].as_str().unwrap().to_string()],
                page_score
            );
            assert!(card["standing"].is_string());
            assert_eq!(decimal(&card["coverage"]), Decimal::ONE_HUNDRED);
            assert!(card["change"].is_string(), "{card}");
            let kpis = card["kpis"].as_array().unwrap();
            assert_eq!(kpis.len(), 2);
            let k = kpis.iter().find(|k| k["name"] == "Availability").unwrap();
            assert_eq!(k["id"], availability);
            assert_eq!(k["status"], "at_risk");
            assert_eq!(k["terms"]["target"], "99.5");
            assert_eq!(k["terms"]["weight"], "60.00");
            assert_eq!(k["value"]["state"], "verified");
            assert_eq!(
                decimal(&k["value"]["value"]),
                Decimal::from_str("98.9").unwrap()
            );
            assert_eq!(k["history"].as_array().unwrap().len(), 12);
            assert!(k["history"][11].is_string() && k["history"][10].is_string());
            assert_eq!(k["history"][0], Value::Null);
            // The CSV's line of that KPI in that period carries the same value.
            let line = csv
                .lines()
                .find(|l| l.contains(&format!(",{availability},")) && l.contains(&this))
                .expect("the KPI's line in the CSV");
            assert!(line.contains(",98.9"), "{line}");
        }
    }
}

#[tokio::test]
async fn a_bad_period_is_a_400_and_one_outside_the_engagement_s_life_a_422() {
    let app = crate::helpers::spawn_app().await;
    let (client, manager) = app.signed_in(Role::Manager).await;
    let id = engagement(&app, vendor(&app, "Vendor A").await, manager.id).await;
    kpi(&app, id, "Availability", "higher", "99.5", "98", "60").await;
    let secret = create_token(&client, "Reporting").await;
    let path = format!("/api/v1/engagements/{id}/scorecard");
    for bad in [
        "2026-13",
        "abc",
        "2026-W05",
        "-5000-01",
        "275760-01",
        "%00",
        "2026-01%0A",
    ] {
        problem(&app, &format!("{path}?period={bad}"), Some(&secret), 400).await;
    }
    problem(
        &app,
        &format!("{path}?period=1&period=2"),
        Some(&secret),
        400,
    )
    .await;
    // Before the engagement began, and a period not closed yet.
    for outside in ["2025-06", "2199-01"] {
        problem(
            &app,
            &format!("{path}?period={outside}"),
            Some(&secret),
            422,
        )
        .await;
    }
    // Every hostile value of a query answers below 500.
    for (label, value) in [
        ("long", "9".repeat(6000)),
        ("nul", "\u{0}".into()),
        ("unicode", "２０２６-０１".into()),
        ("sql", "' or 1=1 --".into()),
    ] {
        let url = format!("{}{path}", app.address);
        let response = reqwest::Client::new()
            .get(&url)
            .query(&[("period", value.as_str())])
            .header("authorization", format!("Bearer {secret}"))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().as_u16() < 500,
            "{label}: {}",
            response.status()
        );
    }
}
