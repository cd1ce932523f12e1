//! Personal API tokens on /account and the bearer-only /api/v1.

use chrono::Duration;
use trellis::auth::Role;

use crate::helpers::{TestApp, TestClient, spawn_app};

/// The secret shown on a page, if any.
fn secret_in(html: &str) -> Option<String> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("#token-secret").unwrap();
    document
        .select(&selector)
        .next()
        .and_then(|input| input.value().attr("value"))
        .map(str::to_string)
}

/// Creates a token through the form and gives its secret.
pub(crate) async fn create_token(client: &TestClient, name: &str) -> String {
    let response = client
        .post_form(
            "/account",
            "/account/tokens",
            &[
                ("token_name", name),
                ("token_days", "90"),
                ("token_scope", "read"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("will not be shown again"));
    secret_in(&html).expect("the new secret is on the page")
}

async fn api(app: &TestApp, secret: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}/api/v1/engagements", app.address));
    if let Some(secret) = secret {
        request = request.header("authorization", format!("Bearer {secret}"));
    }
    request.send().await.unwrap()
}

async fn assert_unauthorized(response: reqwest::Response) {
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers().get("www-authenticate").unwrap(),
        "Bearer"
    );
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], 401);
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
}

pub(crate) async fn vendor(app: &TestApp, name: &str) -> i64 {
    sqlx::query_scalar("insert into vendors (name) values ($1) returning id")
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_vendor_user_s_token_lists_only_that_vendor_s_engagements() {
    let app = spawn_app().await;
    let (client, user) = app.signed_in(Role::Vendor).await;
    let owner = app.create_user(Role::Manager, None).await;
    let own = crate::helpers::engagement(&app, user.vendor_id.unwrap(), owner.id).await;
    let other_vendor = vendor(&app, "Other Vendor Ltd").await;
    let foreign = crate::helpers::engagement(&app, other_vendor, owner.id).await;

    let secret = create_token(&client, "Service desk").await;
    assert!(secret.starts_with("trellis_"));
    assert_eq!(secret.len(), "trellis_".len() + 43);

    let response = api(&app, Some(&secret)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let ids: Vec<i64> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&own), "{body}");
    assert!(!ids.contains(&foreign), "{body}");
    let first = &body["items"][0];
    assert_eq!(first["status"], "draft");
    assert_eq!(first["start_date"], "2026-01-01");
    assert!(first["name"].is_string());
}

#[tokio::test]
async fn a_manager_s_token_lists_every_vendor_s_engagements() {
    let app = spawn_app().await;
    let (client, manager) = app.signed_in(Role::Manager).await;
    let a = crate::helpers::engagement(&app, vendor(&app, "Vendor A").await, manager.id).await;
    let b = crate::helpers::engagement(&app, vendor(&app, "Vendor B").await, manager.id).await;
    let secret = create_token(&client, "Reporting").await;
    let response = api(&app, Some(&secret)).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ids: Vec<i64> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&a) && ids.contains(&b), "{text}");
}

#[tokio::test]
async fn the_secret_is_shown_once_and_stored_only_as_its_hash() {
    let app = spawn_app().await;
    let (client, user) = app.signed_in(Role::Manager).await;
    let secret = create_token(&client, "Monitoring").await;
    let page = client.get_html("/account").await;
    assert!(secret_in(&page).is_none());
    assert!(!page.contains(&secret));
    assert!(page.contains("Monitoring"));
    assert!(page.contains(&secret[..12]), "the prefix is listed");

    let holding = sqlx::query_scalar::<_, i64>(
        "select count(*) from api_tokens t where t::text like '%' || $1 || '%'",
    )
    .bind(&secret[12..])
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(holding, 0, "no column holds the secret");
    let hashed = sqlx::query_scalar::<_, i64>(
        "select count(*) from api_tokens
         where user_id = $1 and secret_hash = sha256(convert_to($2, 'UTF8')) and prefix = $3",
    )
    .bind(user.id)
    .bind(&secret)
    .bind(&secret[..12])
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(hashed, 1);
    let audit: Vec<(String, String)> = sqlx::query_as(
        "select action, coalesce(details::text, '') from audit_log where action like 'api_token.%'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].0, "api_token.create");
    assert!(audit[0].1.contains("Monitoring") && audit[0].1.contains("token_id"));
    assert!(!audit[0].1.contains(&secret[8..]));
}

#[tokio::test]
async fn the_api_ignores_the_session_cookie() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Manager).await;
    assert_unauthorized(client.get("/api/v1/engagements").await).await;
    let basic = client
        .http
        .get(client.url("/api/v1/engagements"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_unauthorized(basic).await;
    assert_unauthorized(api(&app, None).await).await;
}

#[tokio::test]
async fn unknown_revoked_expired_and_disabled_owners_tokens_answer_401() {
    let app = spawn_app().await;
    let (client, user) = app.signed_in(Role::Vendor).await;

    let unknown = format!("trellis_{}", "A".repeat(43));
    assert_unauthorized(api(&app, Some(&unknown)).await).await;
    assert_unauthorized(api(&app, Some("not-a-trellis-token")).await).await;

    let revoked = create_token(&client, "To revoke").await;
    assert_eq!(api(&app, Some(&revoked)).await.status(), 200);
    let id: i64 = sqlx::query_scalar("select id from api_tokens where name = 'To revoke'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let response = client
        .post_form("/account", &format!("/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(response.status(), 303);
    assert_unauthorized(api(&app, Some(&revoked)).await).await;
    let page = client.get_html("/account").await;
    assert!(page.contains("is revoked"));
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'api_token.revoke'")
            .await,
        1
    );

    let expiring = create_token(&client, "Expiring").await;
    assert_eq!(api(&app, Some(&expiring)).await.status(), 200);
    app.clock.advance(Duration::days(91));
    assert_unauthorized(api(&app, Some(&expiring)).await).await;
    app.clock.advance(Duration::days(-91));

    let disabled = create_token(&client, "Disabled owner").await;
    assert_eq!(api(&app, Some(&disabled)).await.status(), 200);
    sqlx::query("update users set disabled_at = now() where id = $1")
        .bind(user.id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_unauthorized(api(&app, Some(&disabled)).await).await;
}

#[tokio::test]
async fn revoking_another_user_s_token_is_not_found_and_leaves_it_working() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in(Role::Manager).await;
    let secret = create_token(&owner, "Mine").await;
    let id: i64 = sqlx::query_scalar("select id from api_tokens")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let (other, _) = app.signed_in(Role::Vendor).await;
    let response = other
        .post_form("/account", &format!("/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(response.status(), 404);
    let response = other
        .post_form("/account", "/account/tokens/999999/revoke", &[])
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(api(&app, Some(&secret)).await.status(), 200);
    assert_eq!(
        app.count("select count(*) from api_tokens where revoked_at is not null")
            .await,
        0
    );
}

#[tokio::test]
async fn an_expiry_beyond_a_year_is_refused_with_the_form_kept() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Vendor).await;
    let response = client
        .post_form(
            "/account",
            "/account/tokens",
            &[
                ("token_name", "Ticketing bridge"),
                ("token_days", "400"),
                ("token_scope", "read+write"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("Enter a whole number from 1 to 365."));
    assert!(html.contains("value=\"Ticketing bridge\""));
    assert!(html.contains("value=\"400\""));
    assert!(secret_in(&html).is_none());
    let response = client
        .post_form(
            "/account",
            "/account/tokens",
            &[
                ("token_name", ""),
                ("token_days", "30"),
                ("token_scope", "admin"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(app.count("select count(*) from api_tokens").await, 0);
}

#[tokio::test]
async fn an_admin_has_no_personal_tokens() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Admin).await;
    assert!(!client.get_html("/account").await.contains("API tokens"));
    let response = client
        .post_form(
            "/account",
            "/account/tokens",
            &[
                ("token_name", "x"),
                ("token_days", "30"),
                ("token_scope", "read"),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(app.count("select count(*) from api_tokens").await, 0);
}

#[tokio::test]
async fn last_use_is_recorded_at_most_once_a_minute() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Manager).await;
    let secret = create_token(&client, "Used").await;
    assert!(client.get_html("/account").await.contains("Never"));
    assert_eq!(api(&app, Some(&secret)).await.status(), 200);
    let (at, addr): (Option<chrono::DateTime<chrono::Utc>>, Option<String>) =
        sqlx::query_as("select last_used_at, last_used_addr from api_tokens")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let at = at.expect("last use recorded");
    assert!((app.clock.now() - at).num_milliseconds().abs() < 1000);
    assert_eq!(addr.as_deref(), Some("127.0.0.1"));
    assert!(client.get_html("/account").await.contains("from 127.0.0.1"));

    sqlx::query("update api_tokens set last_used_addr = 'marker'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.clock.advance(Duration::seconds(30));
    assert_eq!(api(&app, Some(&secret)).await.status(), 200);
    assert_eq!(
        app.count("select count(*) from api_tokens where last_used_addr = 'marker'")
            .await,
        1,
        "not written again within the minute"
    );
    app.clock.advance(Duration::seconds(40));
    assert_eq!(api(&app, Some(&secret)).await.status(), 200);
    assert_eq!(
        app.count("select count(*) from api_tokens where last_used_addr = '127.0.0.1'")
            .await,
        1
    );
}

#[tokio::test]
async fn hostile_query_parameters_get_problems_never_a_5xx() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Vendor).await;
    let secret = create_token(&client, "Fuzz").await;
    for query in [
        "page=0",
        "page=-5",
        "page=99999999999999999999",
        "page=abc",
        "status=bogus",
        "q=%00",
        "q=%ff%fe",
        "status=active&page=2&q=x",
        "%zz=1",
        "q=1&q=2",
    ] {
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1/engagements?{query}", app.address))
            .header("authorization", format!("Bearer {secret}"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!(status < 500, "{query}: {status}");
        if status != 200 {
            assert_eq!(
                response.headers().get("content-type").unwrap(),
                "application/problem+json",
                "{query}"
            );
        }
    }
}

#[tokio::test]
async fn unknown_api_paths_and_methods_answer_problems() {
    let app = spawn_app().await;
    let http = reqwest::Client::new();
    let missing = http
        .get(format!("{}/api/v1/nothing-here", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let post = http
        .post(format!("{}/api/v1/engagements", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(
        post.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    // Pages keep their HTML 404.
    let page = http
        .get(format!("{}/nothing-here", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);
    assert!(
        page.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

async fn get_with(app: &TestApp, secret: &str) -> reqwest::Response {
    get_on(&app.address, secret).await
}

/// The engagements list from the instance at `address`.
async fn get_on(address: &str, secret: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{address}/api/v1/engagements"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn past_its_limit_a_token_gets_429_with_retry_after_until_the_next_minute() {
    let app = crate::helpers::spawn_app_with(|config| config.api_rate_limit = 3).await;
    app.clock.set("2026-06-01T10:00:40Z".parse().unwrap());
    let (client, _) = app.signed_in(Role::Manager).await;
    let secret = create_token(&client, "Busy").await;
    let other = create_token(&client, "Quiet").await;
    for _ in 0..3 {
        assert_eq!(get_with(&app, &secret).await.status(), 200);
    }
    let before = app.statements().await;
    let limited = get_with(&app, &secret).await;
    assert_eq!(
        app.statements().await - before,
        1,
        "authenticated and counted in one round trip"
    );
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers().get("retry-after").unwrap(), "20");
    assert_eq!(
        limited.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body: serde_json::Value = serde_json::from_str(&limited.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], 429);
    assert_eq!(
        get_with(&app, &other).await.status(),
        200,
        "the limit is per token"
    );

    app.clock.advance(Duration::seconds(20));
    assert_eq!(get_with(&app, &secret).await.status(), 200, "a new window");
    assert_eq!(
        app.count(
            "select count(*) from api_rate_windows w join api_tokens t on t.id = w.token_id
             where t.name = 'Busy'"
        )
        .await,
        1,
        "the earlier window is gone"
    );
}

#[tokio::test]
async fn concurrent_requests_cannot_slip_past_the_limit() {
    let app = crate::helpers::spawn_app_with(|config| config.api_rate_limit = 5).await;
    let (client, _) = app.signed_in(Role::Vendor).await;
    let secret = create_token(&client, "Burst").await;
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let url = format!("{}/api/v1/engagements", app.address);
        let secret = secret.clone();
        requests.spawn(async move {
            let response = reqwest::Client::new()
                .get(url)
                .bearer_auth(secret)
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        });
    }
    let mut answers = requests.join_all().await;
    answers.sort_unstable();
    assert_eq!(
        answers.iter().filter(|s| **s == 200).count(),
        5,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|s| **s == 429).count(),
        15,
        "{answers:?}"
    );
}

async fn get_at(address: &str, secret: &str) -> u16 {
    get_on(address, secret).await.status().as_u16()
}

#[tokio::test]
async fn an_instance_counts_most_requests_in_memory_and_writes_one_in_a_block() {
    // 600 a minute: an instance takes blocks of 10 from the shared count.
    let app = crate::helpers::spawn_app_with(|config| config.api_rate_limit = 600).await;
    app.clock.set("2026-06-01T10:00:05Z".parse().unwrap());
    let (client, _) = app.signed_in(Role::Manager).await;
    let secret = create_token(&client, "Steady").await;
    let counted = || {
        app.count(
            "select coalesce(sum(requests), 0) from api_rate_windows w
             join api_tokens t on t.id = w.token_id where t.name = 'Steady'",
        )
    };
    assert_eq!(get_at(&app.address, &secret).await, 200);
    assert_eq!(counted().await, 10, "the first request takes a block");
    for _ in 0..9 {
        assert_eq!(get_at(&app.address, &secret).await, 200);
    }
    assert_eq!(counted().await, 10, "the block serves ten requests");
    assert_eq!(get_at(&app.address, &secret).await, 200);
    assert_eq!(counted().await, 20, "the eleventh takes the next block");

    app.clock.advance(Duration::minutes(1));
    assert_eq!(get_at(&app.address, &secret).await, 200);
    assert_eq!(
        counted().await,
        10,
        "a new minute starts a new count, not what was left of the last block"
    );
}

#[tokio::test]
async fn instances_together_never_pass_a_tokens_limit() {
    // 120 a minute: blocks of 2, shared by two instances taking turns.
    let app = crate::helpers::spawn_app_with(|config| config.api_rate_limit = 120).await;
    app.clock.set("2026-06-01T10:00:05Z".parse().unwrap());
    let other = app.another_instance().await;
    let (client, _) = app.signed_in(Role::Vendor).await;
    let secret = create_token(&client, "Shared").await;
    let mut served = 0;
    for i in 0..140 {
        let address = if i % 3 == 0 { &other } else { &app.address };
        match get_at(address, &secret).await {
            200 => served += 1,
            429 => {}
            status => panic!("request {i}: {status}"),
        }
    }
    assert!(served <= 120, "served {served} past the limit of 120");
    assert!(
        served >= 118,
        "served {served}: at most one block of another instance may go unused"
    );
    assert_eq!(get_at(&app.address, &secret).await, 429);
    assert_eq!(get_at(&other, &secret).await, 429);
}

#[tokio::test]
async fn the_api_answers_503_problems_with_retry_after_while_the_pool_cannot_connect() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Manager).await;
    let secret = create_token(&client, "Patient").await;
    // Every connection of the application's pool is taken.
    let mut held = Vec::new();
    for _ in 0..app.pool.options().get_max_connections() {
        held.push(app.pool.acquire().await.unwrap());
    }
    let started = std::time::Instant::now();
    let response = get_with(&app, &secret).await;
    assert_eq!(response.status(), 503, "after {:?}", started.elapsed());
    assert!(started.elapsed() < std::time::Duration::from_millis(4500));
    assert_eq!(response.headers().get("retry-after").unwrap(), "5");
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], 503);
    drop(held);
    assert_eq!(get_with(&app, &secret).await.status(), 200, "and back");
}

#[tokio::test]
async fn a_locked_token_table_gets_quick_503_problems_never_a_500() {
    use sqlx::{Connection, PgConnection};
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Vendor).await;
    let secret = create_token(&client, "Locked out").await;
    let mut holder = PgConnection::connect_with(&app.pool.connect_options())
        .await
        .unwrap();
    let mut lock = holder.begin().await.unwrap();
    sqlx::query("lock table api_tokens in access exclusive mode")
        .execute(&mut *lock)
        .await
        .unwrap();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let url = format!("{}/api/v1/engagements", app.address);
        let secret = secret.clone();
        requests.spawn(async move {
            let started = std::time::Instant::now();
            let response = reqwest::Client::new()
                .get(url)
                .bearer_auth(secret)
                .send()
                .await
                .unwrap();
            let problem = response
                .headers()
                .get("content-type")
                .is_some_and(|t| t == "application/problem+json");
            let retry = response.headers().contains_key("retry-after");
            (
                response.status().as_u16(),
                problem,
                retry,
                started.elapsed(),
            )
        });
    }
    let answers = requests.join_all().await;
    lock.rollback().await.unwrap();
    for (status, problem, retry, took) in answers {
        assert_eq!(status, 503, "took {took:?}");
        assert!(problem && retry);
        assert!(
            took < std::time::Duration::from_millis(6500),
            "took {took:?}"
        );
    }
    assert_eq!(get_with(&app, &secret).await.status(), 200, "and back");
}
