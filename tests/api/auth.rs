use trellis::auth::Role;

use crate::helpers::{
    PASSWORD, TestApp, TestClient, csrf_in, location, spawn_app, spawn_app_with, texts,
};

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
    assert!(
        app.audit_actions()
            .await
            .contains(&("request.csrf".into(), "refused".into()))
    );
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
    // One row for the address and minute, counting the two that followed it.
    let refused: i64 = sqlx::query_scalar(
        "select count(*) + (select coalesce(sum(repeats), 0) from audit_repeats
                            where action = 'request.cross_site')
         from audit_log where action = 'request.cross_site' and outcome = 'refused'",
    )
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
        (Role::Admin, "Engagements"),
        (Role::Manager, "Your engagements"),
        (Role::Vendor, "Your agreements"),
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

#[tokio::test]
async fn five_failures_lock_an_account_for_a_while_even_for_the_right_password() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    for _ in 0..5 {
        assert_eq!(
            app.client()
                .login(&user.email, "wrong wrong wrong")
                .await
                .status(),
            422
        );
    }
    let locked = app.client().login(&user.email, PASSWORD).await;
    assert_eq!(locked.status(), 429);
    let html = locked.text().await.unwrap();
    assert_eq!(
        texts(&html, "[role=alert]"),
        vec!["Too many failed sign-ins. Try again in 15 minutes."]
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&("login.locked".into(), "refused".into()))
    );
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        app.client().login(&user.email, PASSWORD).await.status(),
        303
    );
}

#[tokio::test]
async fn unknown_emails_lock_the_same_way_so_locks_reveal_nothing() {
    let app = spawn_app().await;
    for _ in 0..5 {
        app.client()
            .login("ghost@test.example", "wrong wrong wrong")
            .await;
    }
    assert_eq!(
        app.client()
            .login("ghost@test.example", "wrong wrong wrong")
            .await
            .status(),
        429
    );
}

#[tokio::test]
async fn a_successful_login_restarts_the_account_count() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Vendor, Some("Acme")).await;
    for _ in 0..4 {
        app.client().login(&user.email, "wrong wrong wrong").await;
    }
    assert_eq!(
        app.client().login(&user.email, PASSWORD).await.status(),
        303
    );
    for _ in 0..4 {
        app.client().login(&user.email, "wrong wrong wrong").await;
    }
    assert_eq!(
        app.client().login(&user.email, PASSWORD).await.status(),
        303,
        "never slowed down"
    );
}

/// Posts every (e-mail, password) at once, each from a client with its own session and
/// CSRF token; the statuses, in no particular order.
async fn logins_at_once(app: &TestApp, attempts: &[(String, &str)]) -> Vec<u16> {
    let mut ready = Vec::new();
    for (email, password) in attempts {
        let client = app.client();
        let token = client.csrf_token("/login").await;
        let body = serde_urlencoded::to_string([
            ("csrf_token", token.as_str()),
            ("email", email),
            ("password", password),
        ])
        .unwrap();
        ready.push((client, body));
    }
    let mut posts = tokio::task::JoinSet::new();
    for (client, body) in ready {
        posts.spawn(async move {
            client
                .http
                .post(client.url("/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    posts.join_all().await
}

fn tally(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test]
async fn thirty_concurrent_wrong_passwords_for_one_account_get_only_five_verifications() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    let attempts = vec![(user.email.clone(), "wrong wrong wrong"); 30];
    let statuses = logins_at_once(&app, &attempts).await;
    assert_eq!(tally(&statuses, 422), 5, "verified: {statuses:?}");
    assert_eq!(
        tally(&statuses, 429),
        25,
        "refused unverified: {statuses:?}"
    );
    let failures = app
        .count(&format!(
            "select count(*) from audit_log where action = 'login' and outcome = 'failure'
             and target = 'user:{}'",
            user.id
        ))
        .await;
    assert_eq!(failures, 5, "one failure row per verification");
    assert_eq!(
        app.client().login(&user.email, PASSWORD).await.status(),
        429,
        "the account stays locked"
    );
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(
        app.client().login(&user.email, PASSWORD).await.status(),
        303
    );
}

#[tokio::test]
async fn thirty_concurrent_failures_from_one_address_get_only_twenty_verifications() {
    let app = spawn_app().await;
    let attempts: Vec<(String, &str)> = (0..30)
        .map(|i| (format!("guess{i}@test.example"), "nope nope nope"))
        .collect();
    let statuses = logins_at_once(&app, &attempts).await;
    assert_eq!(tally(&statuses, 422), 20, "verified: {statuses:?}");
    assert_eq!(
        tally(&statuses, 429),
        10,
        "refused unverified: {statuses:?}"
    );
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'login' and outcome = 'failure'")
            .await,
        20
    );
}

#[tokio::test]
async fn an_attempt_refused_for_its_address_costs_the_account_nothing() {
    let app =
        spawn_app_with(|config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let user = app.create_user(Role::Manager, None).await;
    for i in 0..20 {
        login_from(
            &app.client(),
            "198.51.100.7",
            &format!("guess{i}@test.example"),
            "nope nope nope",
        )
        .await;
    }
    for _ in 0..10 {
        let response = login_from(&app.client(), "198.51.100.7", &user.email, "wrong").await;
        assert_eq!(response.status(), 429);
    }
    for attempt in 1..=5 {
        let response = login_from(&app.client(), "198.51.100.8", &user.email, "wrong wrong").await;
        assert_eq!(response.status(), 422, "attempt {attempt} from elsewhere");
    }
    let response = login_from(&app.client(), "198.51.100.8", &user.email, PASSWORD).await;
    assert_eq!(response.status(), 429);
}

async fn login_from(
    client: &TestClient,
    forwarded: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let token = client.csrf_token("/login").await;
    client
        .http
        .post(client.url("/login"))
        .header("x-forwarded-for", forwarded)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("csrf_token", token.as_str()),
                ("email", email),
                ("password", password),
            ])
            .unwrap(),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn failures_from_one_address_lock_that_address_behind_a_trusted_proxy() {
    let app =
        spawn_app_with(|config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let user = app.create_user(Role::Manager, None).await;
    for i in 0..20 {
        let response = login_from(
            &app.client(),
            "198.51.100.7",
            &format!("guess{i}@test.example"),
            "nope nope nope",
        )
        .await;
        assert_eq!(response.status(), 422);
    }
    assert_eq!(
        login_from(&app.client(), "198.51.100.7", &user.email, PASSWORD)
            .await
            .status(),
        429
    );
    assert_eq!(
        login_from(&app.client(), "198.51.100.8", &user.email, PASSWORD)
            .await
            .status(),
        303,
        "another address is fine"
    );
    let addr: String = sqlx::query_scalar(
        "select client_addr from audit_log where action = 'login' and outcome = 'failure' limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(addr, "198.51.100.7");
}

#[tokio::test]
async fn a_forwarded_address_is_ignored_without_a_trusted_proxy() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    for i in 0..20 {
        login_from(
            &app.client(),
            &format!("203.0.113.{i}"),
            &format!("guess{i}@test.example"),
            "nope nope nope",
        )
        .await;
    }
    assert_eq!(
        login_from(&app.client(), "192.0.2.1", &user.email, PASSWORD)
            .await
            .status(),
        429,
        "all came from 127.0.0.1"
    );
}

#[tokio::test]
async fn a_weaker_password_hash_is_upgraded_at_the_next_login() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(4096, 1, 1, None).unwrap(),
    )
    .hash_password(
        PASSWORD.as_bytes(),
        &SaltString::encode_b64(b"some sixteen byt").unwrap(),
    )
    .unwrap()
    .to_string();
    sqlx::query("update users set password_hash = $2 where id = $1")
        .bind(user.id)
        .bind(&weak)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.client().login(&user.email, PASSWORD).await.status(),
        303
    );
    let stored: String = sqlx::query_scalar("select password_hash from users where id = $1")
        .bind(user.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert_eq!(
        app.client().login(&user.email, PASSWORD).await.status(),
        303
    );
}

#[tokio::test]
async fn an_unknown_email_still_runs_a_password_verification() {
    use std::sync::atomic::Ordering;
    let app = spawn_app().await;
    let before = trellis::auth::password::DUMMY_VERIFICATIONS.load(Ordering::Relaxed);
    app.client()
        .login("nobody-at-all@test.example", "some password here")
        .await;
    assert!(trellis::auth::password::DUMMY_VERIFICATIONS.load(Ordering::Relaxed) > before);
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_but_keeps_this_one() {
    let app = spawn_app().await;
    let user = app.create_user(Role::Manager, None).await;
    let here = app.client_for(&user).await;
    let elsewhere = app.client_for(&user).await;
    let new = "a brand new passphrase";

    let wrong = here
        .post_form(
            "/account/password",
            "/account/password",
            &[
                ("current", "not my password"),
                ("new", new),
                ("confirm", new),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert_eq!(
        texts(&wrong.text().await.unwrap(), "#field-current-error"),
        vec!["That is not your current password."]
    );
    let mismatch = here
        .post_form(
            "/account/password",
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", new),
                ("confirm", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(mismatch.status(), 422);
    let common = here
        .post_form(
            "/account/password",
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", "password1234"),
                ("confirm", "password1234"),
            ],
        )
        .await;
    assert_eq!(
        texts(&common.text().await.unwrap(), "#field-new-error"),
        vec!["This password is too common; choose another."]
    );

    let done = here
        .post_form(
            "/account/password",
            "/account/password",
            &[("current", PASSWORD), ("new", new), ("confirm", new)],
        )
        .await;
    assert_eq!(done.status(), 303);
    assert_eq!(here.get("/").await.status(), 200, "this session goes on");
    assert_eq!(
        location(&elsewhere.get("/").await),
        "/login",
        "the other one ended"
    );
    assert_eq!(
        app.client().login(&user.email, PASSWORD).await.status(),
        422
    );
    assert_eq!(app.client().login(&user.email, new).await.status(), 303);
    assert!(
        app.audit_actions()
            .await
            .contains(&("password.change".into(), "success".into()))
    );
}

#[tokio::test]
async fn a_panic_becomes_a_500_page_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let client = app.client();
    let response = client.get("/__test/panic").await;
    assert_eq!(response.status(), 500);
    assert!(response.headers().contains_key("content-security-policy"));
    let html = response.text().await.unwrap();
    assert_eq!(texts(&html, "h1"), vec!["Something went wrong"]);
    assert!(
        !html.contains("panicked") && !html.contains(".rs"),
        "nothing internal leaks"
    );
    assert_eq!(client.get("/healthz").await.status(), 200);
    assert_eq!(client.get("/login").await.status(), 200);
}

#[tokio::test]
async fn authenticated_pages_are_not_stored_by_caches() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Admin).await;
    for path in ["/", "/admin/users", "/admin/audit", "/account/password"] {
        let response = client.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
}
