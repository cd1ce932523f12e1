use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trellis::auth::Role;
use trellis::seed::DEMO_ACCOUNTS;

use crate::helpers::{spawn_app, spawn_app_with, texts};

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = spawn_app().await;
    let client = app.client();
    let health = client.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = client.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "ready\n");
}

#[tokio::test]
async fn readyz_says_so_when_migrations_are_missing() {
    let app = spawn_app().await;
    sqlx::query("delete from _sqlx_migrations")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.client().get("/readyz").await.status(), 503);
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let app = spawn_app().await;
    let client = app.client();
    client.get_html("/login").await;
    client.get("/no/such/page").await;
    let text = client.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"trellis_http_requests_total{method="GET",route="/login",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        text.contains("trellis_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_passes_sign_ins_and_the_outbox() {
    let app = spawn_app().await;
    let client = app.client();
    let user = app.create_user(Role::Manager, None).await;
    assert_eq!(
        client.login(&user.email, "not the password").await.status(),
        422
    );
    trellis::scheduler::pass(&app.state).await.unwrap();
    sqlx::query(
        "insert into outbox (id, message_id, to_address, subject, body_text, body_html, created_at, next_attempt_at)
         values (gen_random_uuid(), '<waiting@test>', 'x@example.com', 's', 't', 'h', $1 - interval '90 seconds', $1)",
    )
    .bind(app.clock.now())
    .execute(&app.pool)
    .await
    .unwrap();
    let text = client.get("/metrics").await.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus text format");
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum()
    };
    // Every family is described, counters end in _total and times are in seconds.
    for name in [
        "trellis_http_requests_total",
        "trellis_http_request_duration_seconds",
        "trellis_scheduler_pass_duration_seconds",
        "trellis_scheduler_passes_total",
        "trellis_scheduler_reminders_raised_total",
        "trellis_email_sends_total",
        "trellis_login_failures_total",
        "trellis_login_locks_total",
        "trellis_database_errors_total",
        "trellis_db_pool_connections",
        "trellis_db_pool_max_connections",
        "trellis_outbox_messages",
        "trellis_outbox_oldest_pending_age_seconds",
        "trellis_build_info",
    ] {
        assert!(scrape.docs.contains_key(name), "{name} has no HELP: {text}");
    }
    assert!(
        text.lines()
            .filter(|l| l.starts_with("# TYPE") && l.ends_with(" counter"))
            .all(|l| l.split(' ').nth(2).is_some_and(|n| n.ends_with("_total"))),
        "{text}"
    );
    assert_eq!(value("trellis_login_failures_total", None), 1.0);
    assert_eq!(
        value("trellis_scheduler_passes_total", Some(("outcome", "ok"))),
        1.0
    );
    let passes = scrape
        .samples
        .iter()
        .find(|s| s.metric == "trellis_scheduler_pass_duration_seconds")
        .expect("the pass histogram");
    assert!(matches!(&passes.value, prometheus_parse::Value::Histogram(h) if !h.is_empty()));
    assert_eq!(
        value("trellis_outbox_messages", Some(("state", "pending"))),
        1.0
    );
    assert!(value("trellis_outbox_oldest_pending_age_seconds", None) >= 90.0);
    assert!(value("trellis_db_pool_max_connections", None) >= 1.0);
    assert_eq!(
        value(
            "trellis_build_info",
            Some(("version", env!("CARGO_PKG_VERSION")))
        ),
        1.0
    );
}

#[tokio::test]
async fn metrics_are_hidden_from_proxied_visitors_but_shown_to_admins() {
    let app = spawn_app().await;
    let anonymous = app.client();
    let proxied = anonymous
        .http
        .get(anonymous.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 404);
    let (manager, _) = app.signed_in(Role::Manager).await;
    let response = manager
        .http
        .get(manager.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = admin
        .http
        .get(admin.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn security_headers_are_on_pages_errors_and_static_files() {
    let app = spawn_app().await;
    let client = app.client();
    let html = client.get_html("/login").await;
    let css = texts(&html, "head").len();
    assert_eq!(css, 1);
    let css_url = html
        .split("href=\"")
        .find(|s| s.starts_with("/static/app.css"))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    for path in ["/login", "/does-not-exist", css_url.as_str(), "/healthz"] {
        let response = client.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
    }
}

#[tokio::test]
async fn static_files_are_cached_for_a_long_time_and_pages_are_not() {
    let app = spawn_app().await;
    let client = app.client();
    let login = client.get("/login").await;
    assert_eq!(login.headers()["cache-control"], "no-store");
    let html = login.text().await.unwrap();
    let css_url = html
        .split("href=\"")
        .find(|s| s.starts_with("/static/app.css"))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let css = client.get(&css_url).await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );
    assert_eq!(client.get("/static/../Cargo.toml").await.status(), 404);
}

#[tokio::test]
async fn an_unknown_page_is_a_real_404_page_without_internals() {
    let app = spawn_app().await;
    let response = app.client().get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert_eq!(texts(&html, "h1"), vec!["Page not found"]);
    assert!(
        texts(&html, "a.skip-link").len() == 1,
        "rendered in the layout"
    );
}

/// Every oversized body gets its 413 on the first try, at any size up to the drain limit,
/// on a page or an API path: the server reads the body away before answering, so the client
/// is never cut off mid-send with a broken pipe instead of the answer.
#[tokio::test]
async fn an_oversized_body_is_refused_with_413_on_the_first_try_and_the_connection_lives_on() {
    let app = spawn_app().await;
    let client = app.client();
    let token = client.csrf_token("/login").await;
    for size in [100 * 1024, 1024 * 1024, 6 * 1024 * 1024] {
        let big = "x".repeat(size);
        for attempt in 0..8 {
            let response = client
                .post_raw(
                    "/login",
                    &[("csrf_token", &token), ("email", &big), ("password", "x")],
                )
                .await;
            assert_eq!(response.status(), 413, "{size} bytes, attempt {attempt}");
            let html = response.text().await.unwrap();
            assert!(html.contains("larger than Trellis accepts"), "{html}");
        }
        let response = client
            .http
            .post(client.url("/api/v1/engagements"))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .expect("the API's 413 arrives");
        assert_eq!(response.status(), 413);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    assert_eq!(client.get("/login").await.status(), 200);
}

/// The server does not hang up on a client still sending an oversized body: the client writes
/// every byte (paced, so the server has answered long before the end) and then reads the 413.
#[tokio::test]
async fn a_client_still_sending_an_oversized_body_writes_it_all_and_reads_the_413() {
    let app = spawn_app().await;
    let address = app.address.trim_start_matches("http://").to_string();
    for path in ["/login", "/api/v1/engagements"] {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let length = 2 * 1024 * 1024;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        for sent in 0..length / chunk.len() {
            stream
                .write_all(&chunk)
                .await
                .unwrap_or_else(|e| panic!("{path}: cut off after {sent} chunks: {e}"));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut answer = vec![0u8; 512];
        let read = stream.read(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
    }
}

#[tokio::test]
async fn a_malformed_body_is_refused_with_400_not_500() {
    let app = spawn_app().await;
    let client = app.client();
    let token = client.csrf_token("/login").await;
    let mut body = format!("csrf_token={token}&email=").into_bytes();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(b"&password=x");
    let response = client
        .http
        .post(client.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let duplicate = client
        .post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", "a@b.example"),
                ("email", "c@d.example"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(duplicate.status(), 400);
}

#[tokio::test]
async fn every_demo_account_can_sign_in_after_seeding_twice() {
    let app = spawn_app().await;
    trellis::seed::demo(&app.pool, "UTC", app.clock.now())
        .await
        .unwrap();
    let accounts = trellis::seed::demo(&app.pool, "UTC", app.clock.now())
        .await
        .unwrap();
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        users as usize,
        DEMO_ACCOUNTS.len(),
        "a second run creates nothing new"
    );
    for (table, expected) in [
        ("vendors", 4),
        ("engagements", 5),
        ("evaluations", 4),
        ("boundaries", 5),
        // Northwind's contract, and its engagement naming it.
        (
            "vendor_documents d join document_kinds k on k.id = d.kind_id where k.name = 'Contract'",
            1,
        ),
        ("engagements where contract_document_id is not null", 1),
    ] {
        assert_eq!(
            app.count(&format!("select count(*) from {table}")).await,
            expected,
            "{table}"
        );
    }
    // The demo's files, each attached or a document's once: the second run left none over.
    let files = app.count("select count(*) from files").await;
    assert!(files >= 2, "the demo has evidence and working papers");
    assert_eq!(
        files,
        app.count(
            "select (select count(*) from finding_files) + (select count(*) from audit_files)
                    + (select count(*) from vendor_document_versions)"
        )
        .await
    );
    let zones: Vec<String> = sqlx::query_scalar("select distinct time_zone from engagements")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(
        zones.len() >= 3 && !zones.contains(&"UTC".to_string()),
        "{zones:?}"
    );
    let kpis_per_engagement: Vec<i64> = sqlx::query_scalar(
        "select count(k.id) from engagements e left join kpis k on k.engagement_id = e.id where e.status <> 'draft' group by e.id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(
        kpis_per_engagement.iter().all(|n| (4..=6).contains(n)),
        "{kpis_per_engagement:?}"
    );
    for account in accounts {
        let client = app.client();
        let response = client.login(account.email, account.password).await;
        assert_eq!(response.status(), 303, "{}", account.email);
        let line = account.to_string();
        let parts: Vec<&str> = line.splitn(4, ' ').collect();
        assert_eq!(parts[0], account.role.as_str());
        assert_eq!(parts[1], account.email);
        assert_eq!(parts[2], account.password);
        assert_eq!(parts.get(3).copied(), account.vendor);
        let html = client.get_html("/").await;
        if let Some(vendor) = account.vendor {
            assert!(texts(&html, ".account-role")[0].contains(vendor));
        }
    }
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    let app = spawn_app().await;
    app.signed_in(Role::Admin).await;
    assert!(
        sqlx::query("update audit_log set outcome = 'failure'")
            .execute(&app.pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("delete from audit_log")
            .execute(&app.pool)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("truncate audit_log")
            .execute(&app.pool)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn no_session_id_or_password_reaches_the_audit_log() {
    let app = spawn_app().await;
    let (client, user) = app.signed_in(Role::Admin).await;
    app.client().login(&user.email, "wrong password here").await;
    let cookie = client.session_cookie().unwrap();
    let dump: String =
        sqlx::query_scalar("select coalesce(string_agg(audit_log::text, ' '), '') from audit_log")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!dump.contains(&cookie));
    assert!(!dump.contains(crate::helpers::PASSWORD));
    assert!(!dump.contains("wrong password here"));
}

#[tokio::test]
async fn a_locked_table_gets_quick_503s_with_retry_after_and_never_a_500() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Manager).await;
    // Every page reads the sessions table first; another connection holds it locked.
    let mut holder = PgConnection::connect_with(&app.pool.connect_options())
        .await
        .unwrap();
    let mut lock = holder.begin().await.unwrap();
    sqlx::query("lock table sessions in access exclusive mode")
        .execute(&mut *lock)
        .await
        .unwrap();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let http = client.http.clone();
        let url = client.url("/engagements");
        requests.spawn(async move {
            let started = Instant::now();
            let response = http.get(url).send().await.unwrap();
            let retry_after = response.headers().contains_key("retry-after");
            (response.status().as_u16(), retry_after, started.elapsed())
        });
    }
    let answers = requests.join_all().await;
    lock.rollback().await.unwrap();
    for (status, retry_after, took) in &answers {
        assert_eq!(*status, 503, "took {took:?}");
        assert!(retry_after, "a 503 says when to come back");
        assert!(
            *took < Duration::from_millis(6500),
            "answered after {took:?}"
        );
    }
    assert_eq!(client.get("/engagements").await.status(), 200, "and back");
}

#[tokio::test]
async fn a_client_that_sends_its_headers_too_slowly_is_disconnected() {
    let app = spawn_app_with(|config| config.header_timeout = Duration::from_secs(1)).await;
    let address = app.address.trim_start_matches("http://").to_string();
    assert_eq!(app.client().get("/healthz").await.status(), 200);

    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let started = Instant::now();
    let mut slow = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ".to_vec();
    slow.resize(60, b'a');
    let mut closed_after = None;
    let mut buffer = [0u8; 1024];
    for byte in slow {
        if stream.write_all(&[byte]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        // Reading to the end of the stream is how a client sees the server hang up.
        let read = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer));
        if let Ok(Ok(0) | Err(_)) = read.await {
            closed_after = Some(started.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("the server closed the connection");
    assert!(
        closed_after >= Duration::from_millis(900) && closed_after < Duration::from_secs(3),
        "closed after {closed_after:?}"
    );
    assert_eq!(
        app.client().get("/healthz").await.status(),
        200,
        "others are served"
    );
}
