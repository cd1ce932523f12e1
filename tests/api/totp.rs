//! The second factor: enrolment on the account page, sign-in with a code, throttling, codes
//! accepted once, recovery codes, removal, the organisation's requirement and the admin's
//! reset. Codes are computed here with `totp-rs` from the key the page shows, at the
//! application's clock.

use chrono::{DateTime, Duration, TimeZone, Utc};
use totp_rs::{Algorithm, Secret, TOTP};
use trellis::auth::Role;

use crate::helpers::{PASSWORD, TestApp, TestClient, location, spawn_app, texts};

/// The code an authenticator app shows for `secret` at `at`.
fn code(secret: &[u8], at: DateTime<Utc>) -> String {
    TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        1,
        30,
        secret.to_vec(),
        None,
        String::new(),
    )
    .generate(at.timestamp() as u64)
}

/// The application's clock at the start of a time step, so that a test's codes stay in it.
fn start_clock(app: &TestApp) {
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).single().unwrap());
}

/// The key the enrolment page shows, as the app reads it.
fn secret_on(html: &str) -> Vec<u8> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("input#totp-secret").unwrap();
    let text = document
        .select(&selector)
        .next()
        .and_then(|i| i.value().attr("value"))
        .expect("the page shows the key")
        .replace(' ', "");
    Secret::Encoded(text).to_bytes().unwrap()
}

/// Begins and confirms an enrolment on the account page; the secret and the recovery codes.
async fn enrol(app: &TestApp, client: &TestClient) -> (Vec<u8>, Vec<String>) {
    let response = client
        .post_form("/account/second-factor", "/account/second-factor", &[])
        .await;
    assert_eq!(response.status(), 303);
    let html = client.get_html("/account/second-factor").await;
    let secret = secret_on(&html);
    let now = app.clock.now();
    let response = client
        .post_form(
            "/account/second-factor",
            "/account/second-factor/confirm",
            &[("code", &code(&secret, now))],
        )
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let codes = texts(&html, ".recovery-codes code");
    assert_eq!(codes.len(), 10, "ten recovery codes are shown");
    // The first code's step is spent; the next sign-in uses a later one.
    app.clock.advance(Duration::seconds(30));
    (secret, codes)
}

/// Password first: the answer leads to the code.
async fn password_step(client: &TestClient, email: &str) {
    let response = client.login(email, PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login/code");
}

async fn send_code(client: &TestClient, code: &str) -> reqwest::Response {
    client
        .post_form("/login/code", "/login/code", &[("code", code)])
        .await
}

async fn audit_details(app: &TestApp, action: &str) -> Vec<(String, serde_json::Value)> {
    sqlx::query_as(
        "select outcome, coalesce(details, 'null'::jsonb) from audit_log where action = $1 order by id",
    )
    .bind(action)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn enrolment_refuses_a_wrong_first_code_and_confirms_with_the_right_one() {
    let app = spawn_app().await;
    start_clock(&app);
    let (client, _) = app.signed_in(Role::Manager).await;
    client
        .post_form("/account/second-factor", "/account/second-factor", &[])
        .await;
    let html = client.get_html("/account/second-factor").await;
    assert_eq!(texts(&html, ".qr svg").len(), 1, "a QR code drawn as SVG");
    let secret = secret_on(&html);
    let now = app.clock.now();
    let wrong = if code(&secret, now) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let response = client
        .post_form(
            "/account/second-factor",
            "/account/second-factor/confirm",
            &[("code", wrong)],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "#field-code-error").len(),
        1,
        "beside the field"
    );
    assert_eq!(
        app.count("select count(*) from user_totp where confirmed_at is not null")
            .await,
        0
    );

    let response = client
        .post_form(
            "/account/second-factor",
            "/account/second-factor/confirm",
            &[("code", &code(&secret, now))],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"].to_str().unwrap(),
        "no-store"
    );
    let html = response.text().await.unwrap();
    assert_eq!(texts(&html, ".recovery-codes code").len(), 10);
    // Stored hashed, never as typed; the key is not shown again.
    assert_eq!(
        app.count("select count(*) from totp_recovery_codes").await,
        10
    );
    let page = client.get_html("/account/second-factor").await;
    assert!(texts(&page, "input#totp-secret").is_empty());
    assert!(texts(&page, ".recovery-codes code").is_empty());
    assert!(
        client
            .get_html("/account")
            .await
            .contains("Second factor: on")
    );
    let confirms = audit_details(&app, "second_factor.confirm").await;
    let outcomes: Vec<&str> = confirms.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(outcomes, ["failure", "success"]);
    assert_eq!(audit_details(&app, "second_factor.enrol").await.len(), 1);
}

#[tokio::test]
async fn a_user_with_a_second_factor_signs_in_with_password_and_code_on_a_new_session() {
    let app = spawn_app().await;
    start_clock(&app);
    let user = app.create_user(Role::Admin, None).await;
    let client = app.client_for(&user).await;
    let (secret, _) = enrol(&app, &client).await;
    client.logout().await;

    password_step(&client, &user.email).await;
    // The password alone opens nothing.
    let response = client.get("/").await;
    assert_eq!(location(&response), "/login");
    let before = client.session_cookie();
    let response = send_code(&client, &code(&secret, app.clock.now())).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/");
    assert_ne!(
        client.session_cookie(),
        before,
        "a new session id at sign-in"
    );
    assert_eq!(client.get("/").await.status(), 200);
    let logins = audit_details(&app, "login").await;
    let last = logins.last().unwrap();
    assert_eq!(last.0, "success");
    assert_eq!(last.1["second_factor"], "totp");
}

#[tokio::test]
async fn wrong_codes_are_throttled_and_then_locked_even_for_the_right_code() {
    let app = spawn_app().await;
    start_clock(&app);
    let user = app.create_user(Role::Manager, None).await;
    let client = app.client_for(&user).await;
    let (secret, _) = enrol(&app, &client).await;
    client.logout().await;
    password_step(&client, &user.email).await;
    let right = code(&secret, app.clock.now());
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    for _ in 0..5 {
        assert_eq!(send_code(&client, wrong).await.status(), 422);
    }
    let response = send_code(&client, &right).await;
    assert_eq!(response.status(), 429);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Too many wrong codes")
    );
    assert_eq!(audit_details(&app, "login.code").await.len(), 5);
    assert_eq!(audit_details(&app, "login.code_locked").await.len(), 1);
    // A new password does not give new tries: the codes' count is its own.
    client.get_html("/login").await;
    password_step(&client, &user.email).await;
    assert_eq!(send_code(&client, &right).await.status(), 429);

    // After the window, the right code works.
    app.clock.advance(Duration::minutes(16));
    password_step(&client, &user.email).await;
    let response = send_code(&client, &code(&secret, app.clock.now())).await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn a_code_is_accepted_once_and_an_earlier_one_never_after_it() {
    let app = spawn_app().await;
    start_clock(&app);
    let user = app.create_user(Role::Manager, None).await;
    let client = app.client_for(&user).await;
    let (secret, _) = enrol(&app, &client).await;
    client.logout().await;
    let now = app.clock.now();
    password_step(&client, &user.email).await;
    assert_eq!(send_code(&client, &code(&secret, now)).await.status(), 303);
    client.logout().await;

    // Within the same 30 seconds, the same code again (someone who watched it typed).
    let other = app.client();
    password_step(&other, &user.email).await;
    let response = send_code(&other, &code(&secret, now)).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("used already"));
    // The step before it is still in the window, but older than the one accepted.
    let previous = code(&secret, now - Duration::seconds(30));
    assert_eq!(send_code(&other, &previous).await.status(), 422);
    let failures = audit_details(&app, "login.code").await;
    assert_eq!(failures[0].1["reason"], "replayed");
    assert_eq!(failures[1].1["reason"], "replayed");
    // The next step's code is fine.
    app.clock.advance(Duration::seconds(30));
    let response = send_code(&other, &code(&secret, app.clock.now())).await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let app = spawn_app().await;
    start_clock(&app);
    let user = app
        .create_user(Role::Vendor, Some("Acme Outsourcing"))
        .await;
    let client = app.client_for(&user).await;
    let (_, codes) = enrol(&app, &client).await;
    client.logout().await;

    password_step(&client, &user.email).await;
    // Typed in upper case, as people copy them.
    let response = send_code(&client, &codes[3].to_uppercase()).await;
    assert_eq!(response.status(), 303);
    let home = client.get_html("/").await;
    assert!(home.contains("9 of them are left"), "the flash counts them");
    assert_eq!(
        audit_details(&app, "second_factor.recovery_used")
            .await
            .len(),
        1
    );
    client.logout().await;

    password_step(&client, &user.email).await;
    assert_eq!(send_code(&client, &codes[3]).await.status(), 422);
    assert_eq!(send_code(&client, &codes[4]).await.status(), 303);
}

#[tokio::test]
async fn removing_the_second_factor_needs_the_password() {
    let app = spawn_app().await;
    start_clock(&app);
    let user = app.create_user(Role::Manager, None).await;
    let client = app.client_for(&user).await;
    enrol(&app, &client).await;

    let response = client
        .post_form(
            "/account/second-factor",
            "/account/second-factor/remove",
            &[("password", "not the password")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(texts(&html, "#field-password-error").len(), 1);
    assert_eq!(app.count("select count(*) from user_totp").await, 1);

    let response = client
        .post_form(
            "/account/second-factor",
            "/account/second-factor/remove",
            &[("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.count("select count(*) from user_totp").await, 0);
    assert_eq!(
        app.count("select count(*) from totp_recovery_codes").await,
        0
    );
    let outcomes: Vec<String> = audit_details(&app, "second_factor.remove")
        .await
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    assert_eq!(outcomes, ["failure", "success"]);
    client.logout().await;
    let response = client.login(&user.email, PASSWORD).await;
    assert_eq!(location(&response), "/", "the password alone again");
}

#[tokio::test]
async fn a_required_second_factor_leads_to_enrolment_and_no_other_page_opens_until_then() {
    let app = spawn_app().await;
    start_clock(&app);
    let admin = app.create_user(Role::Admin, None).await;
    let admin_client = app.client_for(&admin).await;
    // An admin without a factor of their own cannot require one.
    let response = admin_client
        .post_form(
            "/admin/sign-in",
            "/admin/sign-in",
            &[("require_second_factor", "on")],
        )
        .await;
    assert_eq!(response.status(), 422);
    enrol(&app, &admin_client).await;

    let manager = app.create_user(Role::Manager, None).await;
    let manager_client = app.client_for(&manager).await;
    let vendor = app
        .create_user(Role::Vendor, Some("Acme Outsourcing"))
        .await;
    let vendor_client = app.client_for(&vendor).await;
    let response = admin_client
        .post_form(
            "/admin/sign-in",
            "/admin/sign-in",
            &[("require_second_factor", "on")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let settings = audit_details(&app, "settings.require_second_factor").await;
    assert_eq!(settings[0].1["required"], true);
    // The manager without a factor is signed out; the vendor user is not concerned.
    assert_eq!(location(&manager_client.get("/").await), "/login");
    assert_eq!(vendor_client.get("/").await.status(), 200);
    assert_eq!(admin_client.get("/").await.status(), 200);

    let response = manager_client.login(&manager.email, PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login/enrol");
    for page in ["/", "/engagements", "/account", "/account/second-factor"] {
        let response = manager_client.get(page).await;
        assert!(
            location(&response).starts_with("/login"),
            "{page} waits for the enrolment"
        );
    }
    let html = manager_client.get_html("/login/enrol").await;
    assert_eq!(texts(&html, ".qr svg").len(), 1);
    let secret = secret_on(&html);
    let response = manager_client
        .post_form("/login/enrol", "/login/enrol", &[("code", "12x")])
        .await;
    assert_eq!(response.status(), 422);
    let response = manager_client
        .post_form(
            "/login/enrol",
            "/login/enrol",
            &[("code", &code(&secret, app.clock.now()))],
        )
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert_eq!(texts(&html, ".recovery-codes code").len(), 10);
    assert_eq!(manager_client.get("/engagements").await.status(), 200);
    // Required, it cannot be removed by its holder.
    let response = manager_client
        .post_form(
            "/account/second-factor",
            "/account/second-factor/remove",
            &[("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        app.count("select count(*) from user_totp where confirmed_at is not null")
            .await,
        2
    );
}

#[tokio::test]
async fn an_admin_resets_a_lost_second_factor_which_ends_the_users_sessions_and_is_audited() {
    let app = spawn_app().await;
    start_clock(&app);
    let (admin, _) = app.signed_in(Role::Admin).await;
    let user = app.create_user(Role::Manager, None).await;
    let client = app.client_for(&user).await;
    enrol(&app, &client).await;
    let page = format!("/admin/users/{}", user.id);
    let html = admin.get_html(&page).await;
    assert!(html.contains("Reset second factor"));

    let response = admin
        .post_form(
            &page,
            &format!("/admin/users/{}/second-factor/reset", user.id),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&client.get("/").await), "/login");
    assert_eq!(app.count("select count(*) from user_totp").await, 0);
    let resets = audit_details(&app, "second_factor.reset").await;
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0].1["sessions_ended"], 1);
    let target: String =
        sqlx::query_scalar("select target from audit_log where action = 'second_factor.reset'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(target, format!("user:{}", user.id));
    let response = client.login(&user.email, PASSWORD).await;
    assert_eq!(location(&response), "/");
}

#[tokio::test]
async fn a_password_waiting_for_its_code_expires_and_opens_nothing_meanwhile() {
    let app = spawn_app().await;
    start_clock(&app);
    let user = app.create_user(Role::Manager, None).await;
    let client = app.client_for(&user).await;
    let (secret, _) = enrol(&app, &client).await;
    client.logout().await;
    password_step(&client, &user.email).await;
    // Anybody else's browser has no waiting sign-in.
    let stranger = app.client();
    stranger.get_html("/login").await;
    let response = stranger
        .post_form(
            "/login",
            "/login/code",
            &[("code", &code(&secret, app.clock.now()))],
        )
        .await;
    assert_eq!(location(&response), "/login");
    app.clock.advance(Duration::minutes(16));
    // The code page itself is gone: it leads back to the password.
    assert_eq!(location(&client.get("/login/code").await), "/login");
    let response = client
        .post_form(
            "/login",
            "/login/code",
            &[("code", &code(&secret, app.clock.now()))],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
    assert_eq!(location(&client.get("/").await), "/login");
}
