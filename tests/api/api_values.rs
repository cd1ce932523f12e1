//! KPI values through the JSON API: reading them, pushing a batch all or nothing with the
//! form's checks, per role and across vendors, and idempotency keys.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use trellis::auth::Role;

use crate::api_tokens::{create_token, vendor};
use crate::helpers::{TestApp, TestClient, engagement, kpi, spawn_app, texts};

/// Creates a read and write token through the form and gives its secret.
async fn write_token(client: &TestClient, name: &str) -> String {
    let response = client
        .post_form(
            "/account",
            "/account/tokens",
            &[
                ("token_name", name),
                ("token_days", "90"),
                ("token_scope", "read+write"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let document = scraper::Html::parse_document(&html);
    let selector = scraper::Selector::parse("#token-secret").unwrap();
    document
        .select(&selector)
        .next()
        .and_then(|input| input.value().attr("value"))
        .expect("the new secret is on the page")
        .to_string()
}

/// A request to the API with a bearer token.
fn api(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    secret: &str,
) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}{path}", app.address))
        .header("authorization", format!("Bearer {secret}"))
}

async fn push_with(app: &TestApp, secret: &str, key: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = api(app, reqwest::Method::POST, "/api/v1/kpi-values", secret)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    if status == 200 {
        assert_eq!(content_type, "application/json", "{text}");
    } else {
        assert_eq!(content_type, "application/problem+json", "{text}");
    }
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn push(app: &TestApp, secret: &str, body: &Value) -> (u16, Value) {
    push_with(app, secret, None, &body.to_string()).await
}

async fn read(app: &TestApp, secret: &str, path: &str) -> (u16, Value) {
    let response = api(app, reqwest::Method::GET, path, secret)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

/// An engagement of the signed-in vendor's, managed by the signed-in manager, with two
/// vendor-sourced KPIs and one manager-sourced, on 10 December 2026 in Berlin.
struct Setup {
    vendor: TestClient,
    manager: TestClient,
    id: i64,
    availability: i64,
    resolve: i64,
    reviews: i64,
}

async fn setup(app: &TestApp) -> Setup {
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 12, 10, 12, 0, 0).unwrap());
    let (vendor_client, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager_client, manager) = app.signed_in(Role::Manager).await;
    let id = engagement(app, vendor_user.vendor_id.unwrap(), manager.id).await;
    let availability = kpi(app, id, "Availability", "higher", "99.9", "99.5", "50").await;
    let resolve = kpi(app, id, "Resolution time", "lower", "4", "8", "30").await;
    let reviews = kpi(app, id, "Reviews held", "higher", "4", "2", "20").await;
    sqlx::query("update kpis set source = 'vendor' where id = any($1)")
        .bind(vec![availability, resolve])
        .execute(&app.pool)
        .await
        .unwrap();
    Setup {
        vendor: vendor_client,
        manager: manager_client,
        id,
        availability,
        resolve,
        reviews,
    }
}

async fn values_count(app: &TestApp) -> i64 {
    app.count("select count(*) from kpi_values").await
}

#[tokio::test]
async fn a_vendor_pushes_a_month_of_values_that_show_unverified_until_the_manager_verifies() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let secret = write_token(&s.vendor, "Service desk sync").await;
    let body = json!({ "values": [
        { "engagement_id": s.id, "kpi_id": s.availability, "period_start": "2026-11-01",
          "value": 99.70, "note": "from monitoring" },
        { "engagement_id": s.id, "kpi_id": s.resolve, "period_start": "2026-11-01",
          "value": "6.125" },
    ]});
    // A JSON number keeps its digits as written: 99.70, not the nearest double.
    let raw = body.to_string().replace("99.7}", "99.70}");
    let (status, answer) = push_with(&app, &secret, None, &raw).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "saved": 2, "unchanged": 0 }));

    let (status, values) = read(
        &app,
        &secret,
        &format!("/api/v1/engagements/{}/kpi-values", s.id),
    )
    .await;
    assert_eq!(status, 200, "{values}");
    assert_eq!(values["from"]["label"], "2025-12");
    assert_eq!(values["to"]["label"], "2026-11");
    let list = values["values"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{values}");
    assert_eq!(list[0]["kpi_name"], "Availability");
    assert_eq!(list[0]["value"], "99.70");
    assert_eq!(list[0]["note"], "from monitoring");
    assert_eq!(list[0]["state"], "unverified");
    assert_eq!(list[0]["period"]["label"], "2026-11");
    assert_eq!(list[0]["period"]["end"], "2026-11-30");
    assert!(list[0]["recorded_by"].is_string() && list[0]["recorded_at"].is_string());
    assert_eq!(list[1]["value"], "6.125");

    let card = format!("/engagements/{}/scorecard?period=2026-11", s.id);
    let html = s.vendor.get_html(&card).await;
    let shown = texts(&html, "td[data-label=Value]");
    assert!(
        shown.iter().filter(|v| v.contains("unverified")).count() == 2,
        "{shown:?}"
    );

    // The manager verifies through the values page, as for a value typed in the form.
    let value_id: i64 = sqlx::query_scalar("select id from kpi_values where kpi_id = $1")
        .bind(s.availability)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let verified = s
        .manager
        .post_form(
            &format!("/engagements/{}/values?period=2026-11", s.id),
            &format!("/values/{value_id}/review"),
            &[("decision", "verify")],
        )
        .await;
    assert_eq!(verified.status(), 303);
    let (_, values) = read(
        &app,
        &secret,
        &format!(
            "/api/v1/engagements/{}/kpi-values?kpi={}",
            s.id, s.availability
        ),
    )
    .await;
    assert_eq!(values["values"].as_array().unwrap().len(), 1);
    assert_eq!(values["values"][0]["state"], "verified");

    // The audit entry names the token.
    let (token_name, details): (Option<String>, Value) = sqlx::query_as(
        "select details->'token'->>'name', details from audit_log where action = 'kpi_values.push'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        token_name.as_deref(),
        Some("Service desk sync"),
        "{details}"
    );
    assert_eq!(details["saved"], 2);
}

#[tokio::test]
async fn a_push_keeps_the_form_s_rules_for_unchanged_values_corrections_and_verified_ones() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let secret = write_token(&s.vendor, "Sync").await;
    let line = |value: &str| {
        json!({ "values": [{ "engagement_id": s.id, "kpi_id": s.availability,
                             "period_start": "2026-10-01", "value": value }] })
    };
    assert_eq!(push(&app, &secret, &line("99.8")).await.0, 200);
    sqlx::query("update kpi_values set state = 'verified'")
        .execute(&app.pool)
        .await
        .unwrap();
    // The same value again: not rewritten, still verified, no history.
    let (_, answer) = push(&app, &secret, &line("99.80")).await;
    assert_eq!(answer, json!({ "saved": 0, "unchanged": 1 }));
    let state: String = sqlx::query_scalar("select state from kpi_values")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "verified");
    assert_eq!(app.count("select count(*) from kpi_value_history").await, 0);
    // A correction by the vendor: the earlier value is kept and the new one is unverified.
    let (_, answer) = push(&app, &secret, &line("99.6")).await;
    assert_eq!(answer, json!({ "saved": 1, "unchanged": 0 }));
    let (value, state): (String, String) =
        sqlx::query_as("select value::text, state from kpi_values")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((value.as_str(), state.as_str()), ("99.6", "unverified"));
    let (old, old_state): (String, String) =
        sqlx::query_as("select value::text, state from kpi_value_history")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((old.as_str(), old_state.as_str()), ("99.8", "verified"));

    // A manager's push is verified, as with the form.
    let manager_secret = write_token(&s.manager, "Reporting").await;
    let (status, _) = push(
        &app,
        &manager_secret,
        &json!({ "values": [{ "engagement_id": s.id, "kpi_id": s.reviews,
                              "period_start": "2026-10-01", "value": 3 }] }),
    )
    .await;
    assert_eq!(status, 200);
    let state: String = sqlx::query_scalar("select state from kpi_values where kpi_id = $1")
        .bind(s.reviews)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "verified");
}

#[tokio::test]
async fn a_bad_batch_gets_one_error_per_bad_line_and_nothing_is_written() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let owner = app.create_user(Role::Manager, None).await;
    let foreign = engagement(&app, vendor(&app, "Other Vendor Ltd").await, owner.id).await;
    let foreign_kpi = kpi(&app, foreign, "Availability", "higher", "99", "98", "100").await;
    sqlx::query("update kpis set source = 'vendor' where id = $1")
        .bind(foreign_kpi)
        .execute(&app.pool)
        .await
        .unwrap();
    let secret = write_token(&s.vendor, "Sync").await;
    let good = |kpi: i64| json!({ "engagement_id": s.id, "kpi_id": kpi, "period_start": "2026-11-01", "value": "1" });
    let body = json!({ "values": [
        good(s.availability),
        { "engagement_id": s.id, "kpi_id": s.resolve, "period_start": "2026-11-01", "value": "fast" },
        { "engagement_id": foreign, "kpi_id": foreign_kpi, "period_start": "2026-11-01", "value": "99" },
        { "engagement_id": s.id, "kpi_id": s.resolve, "period_start": "2026-12-01", "value": "5" },
        good(s.availability),
        good(s.reviews),
        { "engagement_id": s.id, "kpi_id": s.resolve, "period_start": "2026-10-01", "value": null },
        { "engagement_id": s.id, "kpi_id": s.resolve, "period_start": "2026-10-01", "value": "5", "note": "a\u{0}b" },
    ]});
    let (status, problem) = push(&app, &secret, &body).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["status"], 422);
    let errors = problem["errors"].as_array().unwrap();
    let got: Vec<(i64, &str)> = errors
        .iter()
        .map(|e| (e["index"].as_i64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "value"),
            (2, "kpi_id"),
            (3, "period_start"),
            (4, "period_start"),
            (5, "kpi_id"),
            (6, "value"),
            (7, "note"),
        ],
        "{problem}"
    );
    let detail = |i: usize| errors[i]["detail"].as_str().unwrap().to_string();
    assert_eq!(detail(0), "value is not a number");
    assert_eq!(detail(1), "no such KPI in that engagement");
    assert!(detail(2).contains("has not ended"), "{}", detail(2));
    assert!(detail(3).contains("twice"), "{}", detail(3));
    assert!(detail(4).contains("may not record"), "{}", detail(4));
    assert_eq!(values_count(&app).await, 0);
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'kpi_values.push'")
            .await,
        0
    );
}

#[tokio::test]
async fn vendor_a_s_token_on_vendor_b_s_ids_finds_nothing_and_writes_nothing() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let owner = app.create_user(Role::Manager, None).await;
    let foreign = engagement(&app, vendor(&app, "Other Vendor Ltd").await, owner.id).await;
    let foreign_kpi = kpi(&app, foreign, "Availability", "higher", "99", "98", "100").await;
    sqlx::query("update kpis set source = 'vendor' where id = $1")
        .bind(foreign_kpi)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into kpi_values (kpi_id, period_start, value, state, recorded_by, recorded_at)
         values ($1, '2026-10-01', 42, 'verified', $2, now())",
    )
    .bind(foreign_kpi)
    .bind(owner.id)
    .execute(&app.pool)
    .await
    .unwrap();
    let secret = write_token(&s.vendor, "Sync").await;
    let (status, foreign_body) = read(
        &app,
        &secret,
        &format!("/api/v1/engagements/{foreign}/kpi-values"),
    )
    .await;
    assert_eq!(status, 404);
    let (_, missing_body) = read(&app, &secret, "/api/v1/engagements/987654321/kpi-values").await;
    assert_eq!(foreign_body, missing_body);
    // B's KPI under A's engagement, and under B's own: no such KPI either way.
    let body = json!({ "values": [
        { "engagement_id": foreign, "kpi_id": foreign_kpi, "period_start": "2026-11-01", "value": "1" },
        { "engagement_id": s.id, "kpi_id": foreign_kpi, "period_start": "2026-11-01", "value": "1" },
    ]});
    let (status, problem) = push(&app, &secret, &body).await;
    assert_eq!(status, 422);
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{problem}");
    for error in errors {
        assert_eq!(error["detail"], "no such KPI in that engagement");
    }
    assert_eq!(values_count(&app).await, 1);
    assert!(!problem.to_string().contains("Other Vendor"));
}

#[tokio::test]
async fn a_read_only_token_may_not_push() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let secret = create_token(&s.vendor, "Read only").await;
    let body = json!({ "values": [{ "engagement_id": s.id, "kpi_id": s.availability,
                                    "period_start": "2026-11-01", "value": "99.9" }] });
    let (status, problem) = push(&app, &secret, &body).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(values_count(&app).await, 0);
    // It still reads.
    let (status, _) = read(
        &app,
        &secret,
        &format!("/api/v1/engagements/{}/kpi-values", s.id),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_retried_push_with_its_idempotency_key_gets_the_first_answer_and_writes_once() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let secret = write_token(&s.vendor, "Sync").await;
    let body = json!({ "values": [{ "engagement_id": s.id, "kpi_id": s.availability,
                                    "period_start": "2026-11-01", "value": "99.9" }] })
    .to_string();
    let first = push_with(&app, &secret, Some("batch-2026-11"), &body).await;
    assert_eq!(first.0, 200);
    // Someone changes the value meanwhile; a replay must not write it back.
    sqlx::query("update kpi_values set value = 50")
        .execute(&app.pool)
        .await
        .unwrap();
    let again = push_with(&app, &secret, Some("batch-2026-11"), &body).await;
    assert_eq!(again, first);
    let value: String = sqlx::query_scalar("select value::text from kpi_values")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(value, "50", "the replay wrote nothing");
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'kpi_values.push'")
            .await,
        1
    );
    // The same key with another body.
    let other = body.replace("99.9", "99.8");
    let (status, problem) = push_with(&app, &secret, Some("batch-2026-11"), &other).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("another body"));
    // Past a day the key is free again.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 12, 11, 13, 0, 0).unwrap());
    let (status, answer) = push_with(&app, &secret, Some("batch-2026-11"), &other).await;
    assert_eq!(
        (status, answer),
        (200, json!({ "saved": 1, "unchanged": 0 }))
    );
    // Keys of 1 to 200 visible ASCII characters only.
    for key in ["", "has space", &"k".repeat(201)] {
        let (status, _) = push_with(&app, &secret, Some(key), &body).await;
        assert_eq!(status, 400, "{key:?}");
    }
}

#[tokio::test]
async fn two_concurrent_pushes_with_one_key_write_once() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let secret = write_token(&s.vendor, "Sync").await;
    let body = json!({ "values": [{ "engagement_id": s.id, "kpi_id": s.availability,
                                    "period_start": "2026-11-01", "value": "99.9" }] })
    .to_string();
    let (a, b) = tokio::join!(
        push_with(&app, &secret, Some("same"), &body),
        push_with(&app, &secret, Some("same"), &body)
    );
    assert_eq!(a, b);
    assert_eq!(a.0, 200);
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'kpi_values.push'")
            .await,
        1
    );
}

#[tokio::test]
async fn malformed_bodies_get_problems_never_a_5xx() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let secret = write_token(&s.vendor, "Sync").await;
    for (body, status) in [
        ("{\"values\": [", 400),
        ("", 400),
        ("{\"values\": []} trailing", 400),
        ("[1, 2]", 422),
        ("{\"values\": []}", 422),
        ("{\"values\": [{\"engagement_id\": \"one\"}]}", 422),
        (
            "{\"values\": [{\"engagement_id\": 1, \"kpi_id\": 99999999999999999999, \"period_start\": \"2026-11-01\", \"value\": 1}]}",
            422,
        ),
        ("{\"values\": [], \"extra\": 1}", 422),
        ("{\"values\": [], \"values\": []}", 422),
    ] {
        let (got, problem) = push_with(&app, &secret, None, body).await;
        assert_eq!(got, status, "{body}: {problem}");
        assert_eq!(problem["status"], status);
    }
    let (_, problem) = push_with(
        &app,
        &secret,
        None,
        "{\"values\": [{\"engagement_id\": 1, \"kpi_id\": \"x\"}]}",
    )
    .await;
    assert_eq!(
        problem["errors"][0]["field"], "values[0].kpi_id",
        "{problem}"
    );
    let response = api(&app, reqwest::Method::POST, "/api/v1/kpi-values", &secret)
        .header("content-type", "text/plain")
        .body("{\"values\": []}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let response = api(&app, reqwest::Method::POST, "/api/v1/kpi-values", &secret)
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let many: Vec<Value> = (0..5001)
        .map(|_| json!({ "engagement_id": s.id, "kpi_id": s.availability, "period_start": "2026-11-01", "value": 1 }))
        .collect();
    let (status, _) = push(&app, &secret, &json!({ "values": many })).await;
    assert_eq!(status, 422, "more than 5,000 values");
    assert_eq!(values_count(&app).await, 0);
}

#[tokio::test]
async fn a_thousand_values_are_saved_in_a_fixed_number_of_statements() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let secret = write_token(&s.vendor, "Sync").await;
    // Widen the engagement's life so that a thousand closed months exist: from 1930.
    sqlx::query("update engagements set start_date = '1900-01-01' where id = $1")
        .bind(s.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let batch = |n: usize, offset: i32| {
        let values: Vec<Value> = (0..n)
            .map(|i| {
                let month = i as i32 + offset;
                json!({ "engagement_id": s.id, "kpi_id": s.availability,
                        "period_start": format!("{}-{:02}-01", 1930 + month / 12, month % 12 + 1),
                        "value": format!("{i}.5") })
            })
            .collect();
        json!({ "values": values })
    };
    // The token's first use is written down once, and a pool's first connections set
    // themselves up: a first push before counting.
    assert_eq!(push(&app, &secret, &batch(5, 0)).await.0, 200);
    let before = app.statements().await;
    assert_eq!(push(&app, &secret, &batch(10, 5)).await.0, 200);
    let small = app.statements().await - before;
    let before = app.statements().await;
    let (status, answer) = push(&app, &secret, &batch(1000, 15)).await;
    assert_eq!(status, 200, "{answer}");
    let large = app.statements().await - before;
    assert_eq!(answer["saved"], 1000);
    assert_eq!(small, large, "statements for 10 and for 1,000 values");
}

#[tokio::test]
async fn the_values_read_is_bounded_per_role_and_filters_by_kpi() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let vendor_secret = create_token(&s.vendor, "Read").await;
    let manager_secret = create_token(&s.manager, "Read").await;
    for (kpi, start, value) in [
        (s.availability, "2026-11-01", "99.9"),
        (s.reviews, "2026-11-01", "4"),
        (s.availability, "2026-01-01", "98"),
    ] {
        sqlx::query(
            "insert into kpi_values (kpi_id, period_start, value, state, recorded_by, recorded_at)
             select $1, $2::date, $3::numeric, 'verified', owner_id, now() from engagements where id = $4",
        )
        .bind(kpi)
        .bind(start)
        .bind(value)
        .bind(s.id)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let path = format!("/api/v1/engagements/{}/kpi-values", s.id);
    for secret in [&vendor_secret, &manager_secret] {
        let (status, body) = read(&app, secret, &path).await;
        assert_eq!(status, 200);
        // The last 12 closed periods: 2025-12 to 2026-11.
        let labels: Vec<&str> = body["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["period"]["label"].as_str().unwrap())
            .collect();
        assert_eq!(labels, vec!["2026-01", "2026-11", "2026-11"], "{body}");
        let (_, body) = read(
            &app,
            secret,
            &format!("{path}?from=2026-11&to=2026-11&kpi={}", s.reviews),
        )
        .await;
        assert_eq!(body["values"].as_array().unwrap().len(), 1, "{body}");
        assert_eq!(body["values"][0]["value"], "4");
    }
    for (query, status) in [
        ("?from=2023-12&to=2026-12", 422),
        ("?from=2023-11&to=2026-10", 200),
        ("?from=2023-10&to=2026-10", 422),
        ("?from=2026-11&to=2026-10", 422),
        ("?from=2026-13", 400),
        ("?from=2026-W01", 400),
        ("?kpi=abc", 400),
        ("?from=a&from=b", 400),
    ] {
        let (got, body) = read(&app, &vendor_secret, &format!("{path}{query}")).await;
        assert_eq!(got, status, "{query}: {body}");
    }
    let (status, _) = read(&app, &vendor_secret, "/api/v1/engagements/abc/kpi-values").await;
    assert_eq!(status, 404);
}

#[test]
fn the_values_routes_describe_themselves_for_the_openapi_document() {
    use utoipa::OpenApi;
    let document = serde_json::to_value(trellis::api::values::ValuesApi::openapi()).unwrap();
    let paths = &document["paths"];
    assert!(paths["/api/v1/kpi-values"]["post"].is_object(), "{paths}");
    assert!(
        paths["/api/v1/engagements/{id}/kpi-values"]["get"].is_object(),
        "{paths}"
    );
    let schemas = &document["components"]["schemas"];
    for name in [
        "PushRequest",
        "PushValue",
        "PushResponse",
        "KpiValuesView",
        "Problem",
    ] {
        assert!(schemas[name].is_object(), "{name}");
    }
}
