use trellis::auth::Role;

use crate::helpers::{PASSWORD, TestClient, csrf_in, location, spawn_app, spawn_app_with, texts};

#[tokio::test]
async fn anonymous_visitors_are_sent_to_the_login_page() {
    let app = spawn_app().await;
    let response = app.client().get("/").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn the_login_form_has_email_password_and_a_csrf_token() {
    let app = spawn_app().await;
    let html = app.client().get_html("/login").await;
    assert_eq!(texts(&html, "input[name=email][type=email]").len(), 1);
    assert_eq!(texts(&html, "input[name=password][type=password]").len(), 1);
    assert_eq!(csrf_in(&html).len(), 64);
    assert_eq!(texts(&html, "label[for=field-password]"), vec!["Password"]);
}

#[tokio::test]
async fn a_user_signs_in_and_sees_their_name_and_role() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    let client = app.client();
    let response = client.login(&user.email, PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/");
    let html = client.get_html("/").await;
    assert_eq!(texts(&html, ".account-name"), vec!["Test Manager Manager"]);
    assert_eq!(
        texts(&html, "form[action='/logout'] button"),
        vec!["Sign out"]
    );
    let actions = app.audit_actions().await;
    assert!(
        actions.contains(&("login".into(), "success".into())),
        "{actions:?}"
    );
}

#[tokio::test]
async fn the_email_is_matched_without_regard_to_case() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Admin, None).await;
    let response = app
        .client()
        .login(&user.email.to_uppercase(), PASSWORD)
        .await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_message_and_keep_the_email() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    let client = app.client();

    let wrong = client.login(&user.email, "not the password at all").await;
    assert_eq!(wrong.status(), 422);
    let wrong_html = wrong.text().await.unwrap();
    let unknown = client.login("nobody@test.example", PASSWORD).await;
    assert_eq!(unknown.status(), 422);
    let unknown_html = unknown.text().await.unwrap();

    let message = texts(&wrong_html, "[role=alert]");
    assert_eq!(
        message,
        vec!["That e-mail and password do not match an active account."]
    );
    assert_eq!(message, texts(&unknown_html, "[role=alert]"));
    assert!(
        wrong_html.contains(&format!("value=\"{}\"", user.email)),
        "the e-mail is kept"
    );
    assert!(
        !wrong_html.contains("not the password at all"),
        "the password is never echoed"
    );
    let failures = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == &("login".to_string(), "failure".to_string()))
        .count();
    assert_eq!(failures, 2);
}

#[tokio::test]
async fn empty_fields_are_named_beside_the_field() {
    let app = spawn_app().await;
    let response = app.client().login("", "").await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "#field-email-error"),
        vec!["Enter your e-mail address."]
    );
    assert_eq!(
        texts(&html, "#field-password-error"),
        vec!["Enter your password."]
    );
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    sqlx::query("update users set disabled_at = now() where id = $1")
        .bind(user.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let response = app.client().login(&user.email, PASSWORD).await;
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_lax_and_scoped_to_the_site() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    let client = app.client();
    let login_page = client.get("/login").await;
    let anonymous = login_page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    login_page.text().await.unwrap();
    let response = client.login(&user.email, PASSWORD).await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    for cookie in [anonymous, cookie] {
        assert!(cookie.starts_with("trellis_session="), "{cookie}");
        assert!(cookie.contains("; HttpOnly"), "{cookie}");
        assert!(cookie.contains("; SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("; Path=/"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    }
}

#[tokio::test]
async fn cookies_are_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(|config| {
        config.public_url = "https://trellis.test.example".into();
        config.public_url_explicit = true;
    })
    .await;
    let response = app.client().get("/login").await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn signing_in_changes_the_session_id_and_the_old_cookie_is_worthless() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    let client = app.client();
    client.get_html("/login").await;
    let before = client
        .session_cookie()
        .expect("an anonymous session before login");
    assert_eq!(client.login(&user.email, PASSWORD).await.status(), 303);
    let after = client.session_cookie().unwrap();
    assert_ne!(before, after);

    // An attacker who planted `before` gets nothing after the victim signs in.
    let attacker = app.client();
    attacker.set_session_cookie(&before);
    let response = attacker.get("/").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn logout_ends_the_session_and_a_replayed_cookie_lands_on_the_login_page() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Vendor).await;
    let cookie = client.session_cookie().unwrap();
    let response = client.logout().await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
    let html = client.get_html("/login").await;
    assert_eq!(texts(&html, ".flash"), vec!["You are signed out."]);

    let replay = TestClient::new(&app.address);
    replay.set_session_cookie(&cookie);
    let response = replay.get("/").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
    assert!(
        app.audit_actions()
            .await
            .contains(&("logout".into(), "success".into()))
    );
}

#[tokio::test]
async fn a_login_without_a_csrf_token_is_refused() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Admin, None).await;
    let client = app.client();
    client.get_html("/login").await;
    let response = client
        .post_raw("/login", &[("email", &user.email), ("password", PASSWORD)])
        .await;
    assert_eq!(response.status(), 403);
    assert!(client.get("/").await.status() == 303, "still signed out");
}

#[tokio::test]
async fn a_token_from_another_session_is_refused() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Admin, None).await;
    let other = app.client();
    let foreign = other.csrf_token("/login").await;
    let client = app.client();
    client.get_html("/login").await;
    let response = client
        .post_raw(
            "/login",
            &[
                ("csrf_token", &foreign),
                ("email", &user.email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn logout_without_a_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Manager).await;
    let response = client.post_raw("/logout", &[]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(client.get("/").await.status(), 200, "still signed in");
}

#[tokio::test]
async fn cross_site_posts_are_refused_by_origin_and_by_fetch_metadata() {
    let app = spawn_app().await;
    let (client, user) = app.signed_in(Role::Manager).await;
    let token = client.csrf_token("/").await;
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let response = client
            .http
            .post(client.url("/logout"))
            .header(header, value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf_token={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{header}: {value}");
    }
    assert_eq!(client.get("/").await.status(), 200, "still signed in");
    let refused: i64 = sqlx::query_scalar("select count(*) from audit_log where action = 'request.cross_site' and outcome = 'refused'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(refused, 3);

    // The same login from the site itself goes through.
    let other = app.client();
    let token = other.csrf_token("/login").await;
    let response = other
        .http
        .post(other.url("/login"))
        .header("origin", app.address.as_str())
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("csrf_token", token.as_str()),
                ("email", &user.email),
                ("password", PASSWORD),
            ])
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn an_idle_session_expires_by_the_application_clock() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Manager).await;
    app.clock.advance(chrono::Duration::minutes(59));
    assert_eq!(
        client.get("/").await.status(),
        200,
        "59 idle minutes are fine"
    );
    app.clock.advance(chrono::Duration::minutes(59));
    assert_eq!(
        client.get("/").await.status(),
        200,
        "activity moved the idle deadline"
    );
    app.clock.advance(chrono::Duration::minutes(61));
    let response = client.get("/").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn a_session_expires_after_its_absolute_lifetime_even_when_active() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Vendor).await;
    for _ in 0..13 {
        app.clock.advance(chrono::Duration::minutes(55));
        assert_eq!(client.get("/").await.status(), 200);
    }
    app.clock.advance(chrono::Duration::minutes(10));
    assert_eq!(client.get("/").await.status(), 303, "past 12 hours");
}

#[tokio::test]
async fn next_after_login_leads_only_to_a_path_on_this_site() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    let anonymous = app.client().get("/metrics?x=1").await;
    assert_eq!(anonymous.status(), 200, "loopback may read metrics");
    for (next, expected) in [
        ("/metrics", "/metrics"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
    ] {
        let client = app.client();
        let token = client
            .csrf_token(&format!("/login?next={}", urlencode(next)))
            .await;
        let response = client
            .post_raw(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("email", &user.email),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(location(&response), expected, "next={next}");
    }
}

#[tokio::test]
async fn a_page_behind_login_sends_the_visitor_back_after_signing_in() {
    let app = spawn_app().await;
    let response = app.client().get("/?tab=due").await;
    assert_eq!(location(&response), "/login?next=%2F%3Ftab%3Ddue");
}

#[tokio::test]
async fn each_role_gets_its_own_home_page() {
    let app = spawn_app().await;
    for (role, heading) in [
        (Role::Admin, "Set-up"),
        (Role::Manager, "Your engagements"),
        (Role::Vendor, "Your scorecard"),
    ] {
        let (client, _) = app.signed_in(role).await;
        let html = client.get_html("/").await;
        assert!(
            texts(&html, "h2").contains(&heading.to_string()),
            "{role}: {html}"
        );
    }
}

fn urlencode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)]).unwrap()[2..].to_string()
}
