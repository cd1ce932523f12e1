use trellis::auth::Role;

use crate::helpers::{TestApp, spawn_app, spawn_app_with, texts};

#[tokio::test]
async fn admins_browse_the_audit_log_with_filters_and_pages() {
    let app = spawn_app().await;
    let (admin, me) = app.signed_in(Role::Admin).await;
    let user = app.create_user(Role::Manager, None).await;
    for _ in 0..3 {
        app.client()
            .login(&user.email, "a wrong password here")
            .await;
    }
    let all = admin.get_html("/admin/audit").await;
    assert!(texts(&all, "tbody tr").len() >= 4);

    let failures = admin
        .get_html(&format!("/admin/audit?action=login&actor={}", user.email))
        .await;
    assert_eq!(texts(&failures, "tbody tr").len(), 3);
    assert!(
        texts(&failures, "td[data-label=Outcome]")
            .iter()
            .all(|o| o == "failure")
    );
    assert!(
        texts(&failures, "td[data-label=Address]")
            .iter()
            .all(|a| a == "127.0.0.1")
    );

    let mine = admin
        .get_html(&format!("/admin/audit?actor={}", me.email))
        .await;
    assert!(
        texts(&mine, "td[data-label=Actor]")
            .iter()
            .all(|a| a.starts_with(&me.email))
    );

    let today = app.clock.now().format("%Y-%m-%d").to_string();
    let tomorrow = (app.clock.now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let in_range = admin
        .get_html(&format!("/admin/audit?from={today}&to={today}"))
        .await;
    assert_eq!(
        texts(&in_range, "tbody tr").len(),
        texts(&all, "tbody tr").len()
    );
    let later = admin
        .get_html(&format!("/admin/audit?from={tomorrow}"))
        .await;
    assert_eq!(texts(&later, "tbody tr").len(), 0);

    for i in 0..60 {
        sqlx::query("insert into audit_log (at, action, outcome) values (now() - make_interval(secs => $1), 'seed.demo', 'success')")
            .bind(i as f64)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let page_one = admin.get_html("/admin/audit?action=seed.demo").await;
    assert_eq!(texts(&page_one, "tbody tr").len(), 50);
    let page_two = admin.get_html("/admin/audit?action=seed.demo&page=2").await;
    assert_eq!(texts(&page_two, "tbody tr").len(), 10);
}

#[tokio::test]
async fn a_bad_date_filter_is_explained_beside_the_field() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = admin
        .get("/admin/audit?from=31.12.2026&to=2026-01-01")
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "#field-from-error"),
        vec!["Enter a date as YYYY-MM-DD, from 1900 to 2200."]
    );
    let reversed = admin
        .get("/admin/audit?from=2026-02-01&to=2026-01-01")
        .await;
    assert_eq!(reversed.status(), 422);
}

#[tokio::test]
async fn audited_text_is_escaped_on_the_page() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    app.client()
        .login("<script>alert(1)</script>@x.example", "whatever password")
        .await;
    let html = admin.get_html("/admin/audit?action=login").await;
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"));
}

/// Cross-site posts to long random paths, all at once, from `addr` (through the trusted
/// proxy); every one is refused.
async fn cross_site_posts(app: &TestApp, addr: &str, n: usize) {
    let mut posts = tokio::task::JoinSet::new();
    for _ in 0..n {
        let http = reqwest::Client::new();
        let path = format!("/{}", uuid::Uuid::new_v4().simple().to_string().repeat(64));
        let url = format!("{}{path}", app.address);
        let addr = addr.to_string();
        posts.spawn(async move {
            http.post(url)
                .header("origin", "https://evil.example")
                .header("x-forwarded-for", addr)
                .body("x=1")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    assert!(posts.join_all().await.iter().all(|s| *s == 403));
}

async fn spawn_behind_proxy() -> TestApp {
    spawn_app_with(|config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await
}

#[tokio::test]
async fn a_hundred_anonymous_cross_site_posts_cost_one_audit_row_that_counts_them() {
    let app = spawn_behind_proxy().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let rows = "select count(*) from audit_log where action = 'request.cross_site'";
    cross_site_posts(&app, "198.51.100.9", 100).await;
    assert_eq!(app.count(rows).await, 1);
    let longest = app
        .count(
            "select max(length(target))::bigint from audit_log where action = 'request.cross_site'",
        )
        .await;
    assert!(longest <= 201, "the path is cut short: {longest}");

    let html = admin
        .get_html("/admin/audit?action=request.cross_site")
        .await;
    assert_eq!(
        texts(&html, "td[data-label=Action]"),
        vec!["request.cross_site and 99 more that minute"]
    );
    assert_eq!(texts(&html, "td[data-label=Address]"), vec!["198.51.100.9"]);

    // Another address, and the same one a minute later, each start a row of their own.
    cross_site_posts(&app, "198.51.100.10", 3).await;
    app.clock.advance(chrono::Duration::minutes(1));
    cross_site_posts(&app, "198.51.100.9", 3).await;
    assert_eq!(app.count(rows).await, 3);
}

#[tokio::test]
async fn anonymous_forged_forms_and_locked_logins_are_counted_not_written_row_by_row() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    for _ in 0..50 {
        let response = app
            .client()
            .post_raw("/login", &[("email", &user.email), ("password", "x")])
            .await;
        assert_eq!(response.status(), 403);
    }
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'request.csrf'")
            .await,
        1
    );
    assert_eq!(
        app.count("select sum(repeats)::bigint from audit_repeats where action = 'request.csrf'")
            .await,
        49
    );

    for _ in 0..5 {
        app.client().login(&user.email, "wrong wrong wrong").await;
    }
    for _ in 0..40 {
        assert_eq!(
            app.client()
                .login(&user.email, "wrong wrong wrong")
                .await
                .status(),
            429
        );
    }
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'login.locked'")
            .await,
        1
    );
    // Each verified failure keeps its own row; the throttle bounds how many there are.
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'login' and outcome = 'failure'")
            .await,
        5
    );
}

#[tokio::test]
async fn a_signed_in_users_refused_forms_are_each_written_with_their_name() {
    let app = spawn_app().await;
    let (client, user) = app.signed_in(Role::Manager).await;
    for _ in 0..3 {
        assert_eq!(client.post_raw("/logout", &[]).await.status(), 403);
    }
    let rows = app
        .count(&format!(
            "select count(*) from audit_log where action = 'request.csrf' and actor_id = {}",
            user.id
        ))
        .await;
    assert_eq!(rows, 3);
}
