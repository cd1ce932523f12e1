//! Single sign-on against a real OpenID provider: npm's `oidc-provider` (a certified
//! implementation) in tests/oidc/, one process per test on loopback, its client and people
//! set by the test. The flow runs through real HTTP with the harness's client, redirects
//! followed by hand and the provider's own login and consent forms posted.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use serde_json::json;
use trellis::auth::Role;
use trellis::config::OidcConfig;

use crate::helpers::{PASSWORD, TestApp, TestClient, location, spawn_app, spawn_app_with, texts};

const CLIENT_ID: &str = "trellis-test";
const CLIENT_SECRET: &str = "a-test-secret-of-the-test-client";
const DOMAIN: &str = "test.example";

static INSTALL: Mutex<bool> = Mutex::new(false);

/// Installs tests/oidc's pinned packages when they are missing, saying so.
fn ensure_packages() {
    let mut done = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    let pinned = std::fs::read_to_string(dir.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            v["dependencies"]["oidc-provider"]
                .as_str()
                .map(String::from)
        });
    let installed = std::fs::read_to_string(dir.join("node_modules/oidc-provider/package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(String::from));
    if pinned.is_none() || pinned != installed {
        eprintln!(
            "single sign-on tests: installing the npm package oidc-provider pinned in \
             tests/oidc/package-lock.json (npm ci --ignore-scripts), which they need and this machine lacks"
        );
        let status = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--silent", "--prefix"])
            .arg(&dir)
            .status()
            .expect("npm runs (Debian's nodejs and npm)");
        assert!(status.success(), "npm ci in tests/oidc");
    }
    *done = true;
}

/// Where the provider tells the e-mail and name.
enum Claims {
    InIdToken,
    AtUserinfo,
}

/// The provider's process; it ends when the test drops it.
pub(crate) struct Provider {
    child: Child,
    issuer: String,
    http: TestClient,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    pub(crate) fn start() -> Provider {
        Provider::start_with(Claims::InIdToken)
    }

    fn start_with(claims: Claims) -> Provider {
        ensure_packages();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .env(
                "PROVIDER_CLAIMS",
                match claims {
                    Claims::InIdToken => "id_token",
                    Claims::AtUserinfo => "userinfo",
                },
            )
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts the test provider");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let issuer = line
            .trim()
            .strip_prefix("listening ")
            .expect("the provider says where it listens")
            .to_string();
        let http = TestClient::new(&issuer);
        Provider {
            child,
            issuer,
            http,
        }
    }

    async fn put(&self, path: &str, body: serde_json::Value) {
        let response = self
            .http
            .http
            .put(self.http.url(path))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "PUT {path}");
    }

    /// The provider's people: subject, e-mail, whether it is verified.
    pub(crate) async fn people(&self, people: &[(&str, &str, bool)]) {
        let mut all = serde_json::Map::new();
        for (sub, email, verified) in people {
            all.insert(
                sub.to_string(),
                json!({ "email": email, "email_verified": verified, "name": format!("Person {sub}") }),
            );
        }
        self.put("/_test/accounts", serde_json::Value::Object(all))
            .await;
    }
}

impl Provider {
    /// Trellis's configuration for this provider.
    pub(crate) fn config(&self) -> OidcConfig {
        OidcConfig {
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            label: "Test Login".into(),
            domains: vec![DOMAIN.into(), "vendor.example".into()],
        }
    }

    /// Registers `app` as the provider's client.
    pub(crate) async fn register(&self, app: &TestApp) {
        self.put(
            "/_test/client",
            json!({
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [format!("{}/login/sso/callback", app.address)],
                "post_logout_redirect_uris": [format!("{}/login", app.address)],
            }),
        )
        .await;
    }
}

/// Trellis with single sign-on through a fresh provider, its client registered there.
async fn sso_app() -> (TestApp, Provider) {
    sso_app_with(Claims::InIdToken).await
}

async fn sso_app_with(claims: Claims) -> (TestApp, Provider) {
    let provider = Provider::start_with(claims);
    let oidc = provider.config();
    let app = spawn_app_with(|config| config.oidc = Some(oidc)).await;
    provider.register(&app).await;
    (app, provider)
}

fn absolute(base: &str, to: &str) -> String {
    if to.starts_with("http://") || to.starts_with("https://") {
        return to.to_string();
    }
    let origin: String = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    format!("{origin}{to}")
}

/// Clicks "Sign in with …" and goes through the provider as `login` (its subject): every
/// redirect followed by hand, its login and consent forms posted. Gives Trellis's answer
/// to the callback.
async fn sso_sign_in(client: &TestClient, login: &str) -> reqwest::Response {
    let mut response = client.get("/login/sso").await;
    let mut url = client.url("/login/sso");
    for _ in 0..20 {
        if url.starts_with(&client.url("/login/sso/callback")) {
            return response;
        }
        if response.status().is_redirection() {
            url = absolute(&url, location(&response));
            response = client.http.get(&url).send().await.unwrap();
            continue;
        }
        assert_eq!(response.status(), 200, "at {url}");
        let html = response.text().await.unwrap();
        let (action, mut fields) = {
            let document = scraper::Html::parse_document(&html);
            let form = scraper::Selector::parse("form[method=post]").unwrap();
            let input = scraper::Selector::parse("input[type=hidden]").unwrap();
            let form = document
                .select(&form)
                .next()
                .expect("a form of the provider");
            let action = form.value().attr("action").unwrap().to_string();
            let fields: Vec<(String, String)> = form
                .select(&input)
                .map(|i| {
                    let v = i.value();
                    (
                        v.attr("name").unwrap_or("").into(),
                        v.attr("value").unwrap_or("").into(),
                    )
                })
                .collect();
            (action, fields)
        };
        if html.contains("name=\"login\"") {
            fields.push(("login".into(), login.into()));
            fields.push(("password".into(), "anything".into()));
        }
        url = absolute(&url, &action);
        response = client
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&fields).unwrap())
            .send()
            .await
            .unwrap();
    }
    panic!("the sign-in never came back to Trellis");
}

/// The reasons of the refusals logged. An anonymous refusal is a row of its own only as the
/// first of its address, action and minute, so the tests move the clock on between them.
async fn reasons(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        "select details->>'reason' from audit_log where action = 'login.sso' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_manager_signs_in_with_one_click_and_lands_on_their_home_page() {
    let (app, provider) = sso_app().await;
    let manager = app.create_user(Role::Manager, None).await;
    provider.people(&[("ann", &manager.email, true)]).await;
    let client = app.client();
    let login = client.get_html("/login").await;
    assert_eq!(texts(&login, "a#sso"), ["Sign in with Test Login"]);

    let response = sso_sign_in(&client, "ann").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/");
    let home = client.get("/").await;
    assert_eq!(home.status(), 200);
    let actions = app.audit_actions().await;
    assert!(
        actions.contains(&("sso.link".into(), "success".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("login".into(), "success".into())),
        "{actions:?}"
    );
    let via: String = sqlx::query_scalar(
        "select details->>'via' from audit_log where action = 'login' order by id desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(via, "sso");
    let linked: Option<String> = sqlx::query_scalar("select oidc_subject from users where id = $1")
        .bind(manager.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(linked.as_deref(), Some("ann"));
}

#[tokio::test]
async fn an_email_the_id_token_lacks_is_asked_at_the_userinfo_endpoint() {
    let (app, provider) = sso_app_with(Claims::AtUserinfo).await;
    let manager = app.create_user(Role::Manager, None).await;
    provider
        .people(&[
            ("cy", &manager.email, true),
            ("di", "di@test.example", false),
        ])
        .await;
    let response = sso_sign_in(&app.client(), "cy").await;
    assert_eq!(response.status(), 303, "{:?}", reasons(&app).await);
    assert_eq!(location(&response), "/");

    // The userinfo's own word on verification counts as the ID token's would.
    let refused = sso_sign_in(&app.client(), "di").await;
    assert_eq!(refused.status(), 403);
    assert_eq!(reasons(&app).await, ["unverified_email"]);
}

#[tokio::test]
async fn an_account_is_found_by_its_subject_after_the_email_changes_at_the_provider() {
    let (app, provider) = sso_app().await;
    let manager = app.create_user(Role::Manager, None).await;
    provider.people(&[("bo", &manager.email, true)]).await;
    let first = app.client();
    assert_eq!(sso_sign_in(&first, "bo").await.status(), 303);

    provider
        .people(&[("bo", "bo.renamed@test.example", true)])
        .await;
    let second = app.client();
    let response = sso_sign_in(&second, "bo").await;
    assert_eq!(response.status(), 303, "{:?}", reasons(&app).await);
    assert_eq!(location(&response), "/");
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'sso.link'")
            .await,
        1
    );
}

#[tokio::test]
async fn sign_ins_the_provider_vouches_for_but_trellis_cannot_place_are_refused_with_a_page() {
    let (app, provider) = sso_app().await;
    let disabled = app.create_user(Role::Manager, None).await;
    sqlx::query("update users set disabled_at = now() where id = $1")
        .bind(disabled.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let manager = app.create_user(Role::Manager, None).await;
    provider
        .people(&[
            ("nobody", "nobody@test.example", true),
            ("unverified", &manager.email, false),
            ("foreign", "someone@elsewhere.example", true),
            ("disabled", &disabled.email, true),
        ])
        .await;
    for (login, reason) in [
        ("nobody", "unknown_account"),
        ("unverified", "unverified_email"),
        ("foreign", "wrong_domain"),
        ("disabled", "disabled_account"),
    ] {
        app.clock.advance(chrono::Duration::minutes(1));
        let client = app.client();
        let response = sso_sign_in(&client, login).await;
        assert_eq!(response.status(), 403, "{login}");
        let html = response.text().await.unwrap();
        assert!(html.contains("Sign-in refused"), "{login}");
        assert_eq!(
            client.get("/").await.status(),
            303,
            "{login} stays signed out"
        );
        assert_eq!(reasons(&app).await.last().map(String::as_str), Some(reason));
    }
    // Nothing was linked to an account that was refused.
    assert_eq!(
        app.count("select count(*) from users where oidc_subject is not null")
            .await,
        0
    );
}

#[tokio::test]
async fn a_vendor_user_signs_in_only_where_the_domain_is_their_vendors() {
    let (app, provider) = sso_app().await;
    let vendor = app
        .create_user(Role::Vendor, Some("Acme Outsourcing"))
        .await;
    provider.people(&[("vera", &vendor.email, true)]).await;
    let response = sso_sign_in(&app.client(), "vera").await;
    assert_eq!(response.status(), 403);
    assert_eq!(reasons(&app).await, ["wrong_domain"]);

    sqlx::query("insert into sso_domains (domain, vendor_id, updated_at) values ($1, $2, now())")
        .bind(DOMAIN)
        .bind(vendor.vendor_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let response = sso_sign_in(&app.client(), "vera").await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn an_unknown_person_becomes_a_manager_only_where_the_domain_allows_it() {
    let (app, provider) = sso_app().await;
    sqlx::query(
        "insert into sso_domains (domain, create_managers, updated_at) values ($1, true, now())",
    )
    .bind(DOMAIN)
    .execute(&app.pool)
    .await
    .unwrap();
    provider.people(&[("neu", "neu@test.example", true)]).await;
    let client = app.client();
    assert_eq!(sso_sign_in(&client, "neu").await.status(), 303);
    let role: String =
        sqlx::query_scalar("select role from users where email = 'neu@test.example'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(role, "manager");
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'sso.create'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_required_domain_refuses_passwords_but_the_break_glass_admins() {
    let (app, _provider) = sso_app().await;
    let admin = app.create_user(Role::Admin, None).await;
    let manager = app.create_user(Role::Manager, None).await;
    sqlx::query("insert into sso_domains (domain, required, updated_at) values ($1, true, now())")
        .bind(DOMAIN)
        .execute(&app.pool)
        .await
        .unwrap();
    let client = app.client();
    let response = client.login(&manager.email, PASSWORD).await;
    assert_eq!(response.status(), 403);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("People of that e-mail domain sign in with Test Login, not with a password.")
    );
    assert!(html.contains("href=\"/login/sso"));
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'login.sso_required'")
            .await,
        1
    );
    // The first admin keeps the password: the way in when the provider is gone.
    assert_eq!(client.login(&admin.email, PASSWORD).await.status(), 303);
}

#[tokio::test]
async fn admins_set_each_domains_rule_on_the_sign_in_settings_page() {
    let (app, _provider) = sso_app().await;
    let admin = app.create_user(Role::Admin, None).await;
    let manager = app.create_user(Role::Manager, None).await;
    let vendor = app
        .create_user(Role::Vendor, Some("Acme Outsourcing"))
        .await;
    let vendor_id = vendor.vendor_id.unwrap().to_string();
    let client = app.client_for(&admin).await;
    let html = client.get_html("/admin/sign-in").await;
    assert_eq!(
        texts(&html, "h2"),
        ["Second factor", "Single sign-on with Test Login"]
    );
    assert_eq!(
        texts(&html, "tbody th[scope=row]"),
        ["@test.example", "@vendor.example"]
    );
    // The break-glass admin is named, and nobody is created until an admin says so.
    assert!(html.contains(&format!(
        "({}) always keeps a password sign-in",
        admin.email
    )));
    assert!(html.contains("value=\"none\" checked"));

    // Refusals keep what was chosen and store nothing.
    let refusals: [(&[(&str, &str)], &str); 3] = [
        (
            &[("whose_1", &vendor_id), ("create_managers", "1")],
            "@vendor.example is a vendor",
        ),
        (
            &[("whose_0", "999999"), ("create_managers", "none")],
            "Choose the organisation or one of the vendors listed.",
        ),
        (
            &[("create_managers", "7")],
            "Choose one of the domains listed, or no domain.",
        ),
    ];
    for (fields, message) in refusals {
        let response = client
            .post_form("/admin/sign-in", "/admin/sign-in/sso", fields)
            .await;
        assert_eq!(response.status(), 422, "{fields:?}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{fields:?}: {message}");
        assert_eq!(app.count("select count(*) from sso_domains").await, 0);
    }
    let response = client
        .post_form(
            "/admin/sign-in",
            "/admin/sign-in/sso",
            &[("whose_1", &vendor_id), ("create_managers", "1")],
        )
        .await;
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "option[selected]"),
        ["The organisation", "Vendor: Acme Outsourcing"]
    );

    let rules = [
        ("whose_0", ""),
        ("required_0", "on"),
        ("whose_1", vendor_id.as_str()),
        ("create_managers", "0"),
    ];
    let response = client
        .post_form("/admin/sign-in", "/admin/sign-in/sso", &rules)
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/sign-in#sso");
    let stored: Vec<(String, bool, Option<i64>, bool)> = sqlx::query_as(
        "select domain, required, vendor_id, create_managers from sso_domains order by domain",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        [
            ("test.example".to_string(), true, None, true),
            ("vendor.example".to_string(), false, vendor.vendor_id, false),
        ]
    );
    let html = client.get_html("/admin/sign-in").await;
    assert!(html.contains("The rules for signing in with Test Login are saved."));
    assert!(html.contains("name=\"required_0\" value=\"on\" checked"));
    // Saving the same rules again changes nothing and logs nothing more.
    client
        .post_form("/admin/sign-in", "/admin/sign-in/sso", &rules)
        .await;
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'settings.sso_domains'")
            .await,
        1
    );
    // The rule holds: the manager's password is refused, the break-glass admin's is not.
    let response = app.client().login(&manager.email, PASSWORD).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        app.client().login(&admin.email, PASSWORD).await.status(),
        303
    );
}

#[tokio::test]
async fn without_single_sign_on_the_settings_page_has_no_domain_rules() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Admin).await;
    let html = client.get_html("/admin/sign-in").await;
    assert_eq!(texts(&html, "h2"), ["Second factor"]);
    let response = client
        .post_form(
            "/admin/sign-in",
            "/admin/sign-in/sso",
            &[("create_managers", "none")],
        )
        .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn forged_or_replayed_callbacks_answer_a_page_in_the_4xx_range() {
    let (app, provider) = sso_app().await;
    let manager = app.create_user(Role::Manager, None).await;
    provider.people(&[("ann", &manager.email, true)]).await;
    let client = app.client();
    client.get_html("/login").await;
    for query in [
        "",
        "?state=forged&code=forged",
        "?code=forged",
        "?error=access_denied&state=forged",
        "?error=%00%ff&state=%00",
    ] {
        let response = client.get(&format!("/login/sso/callback{query}")).await;
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "{query}: {status}");
    }
    // A real flow, then its state with a forged code, and with an error from the provider.
    for (query, reason) in [
        ("code=forged", "code_refused"),
        ("error=access_denied", "provider_error"),
    ] {
        app.clock.advance(chrono::Duration::minutes(1));
        let start = client.get("/login/sso").await;
        let to = location(&start).to_string();
        let state = to
            .split("state=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_string();
        let response = client
            .get(&format!("/login/sso/callback?state={state}&{query}"))
            .await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(reasons(&app).await.last().map(String::as_str), Some(reason));
        // The state is used once.
        app.clock.advance(chrono::Duration::minutes(1));
        let again = client
            .get(&format!("/login/sso/callback?state={state}&{query}"))
            .await;
        assert_eq!(again.status(), 400);
        assert_eq!(
            reasons(&app).await.last().map(String::as_str),
            Some("bad_state")
        );
    }
}

#[tokio::test]
async fn a_tampered_expired_or_wrong_nonce_token_signs_nobody_in() {
    let (app, provider) = sso_app().await;
    let manager = app.create_user(Role::Manager, None).await;
    provider.people(&[("ann", &manager.email, true)]).await;

    provider
        .put("/_test/tamper", json!({ "id_token": true }))
        .await;
    assert_eq!(sso_sign_in(&app.client(), "ann").await.status(), 400);
    assert_eq!(
        reasons(&app).await.last().map(String::as_str),
        Some("bad_signature")
    );
    provider
        .put("/_test/tamper", json!({ "id_token": false }))
        .await;

    // Trellis's clock is past the token's expiry (the provider gives an hour).
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(sso_sign_in(&app.client(), "ann").await.status(), 400);
    assert_eq!(
        reasons(&app).await.last().map(String::as_str),
        Some("token_expired")
    );
    app.clock
        .advance(chrono::Duration::hours(-2) + chrono::Duration::minutes(1));

    sqlx::query(
        "create function spoil_nonce() returns trigger language plpgsql as
                 $$ begin new.nonce := 'not-the-nonce'; return new; end $$",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("create trigger spoil before insert on sso_flows for each row execute function spoil_nonce()")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(sso_sign_in(&app.client(), "ann").await.status(), 400);
    assert_eq!(
        reasons(&app).await.last().map(String::as_str),
        Some("bad_nonce")
    );
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'login'")
            .await,
        0
    );
}

#[tokio::test]
async fn signing_out_after_single_sign_on_ends_the_session_at_the_provider_too() {
    let (app, provider) = sso_app().await;
    let manager = app.create_user(Role::Manager, None).await;
    provider.people(&[("ann", &manager.email, true)]).await;
    let client = app.client();
    assert_eq!(sso_sign_in(&client, "ann").await.status(), 303);
    let response = client.logout().await;
    assert_eq!(response.status(), 303);
    let to = location(&response);
    assert!(
        to.starts_with(&format!("{}/session/end?", provider.issuer)),
        "{to}"
    );
    assert!(
        to.contains("id_token_hint=") && to.contains("post_logout_redirect_uri="),
        "{to}"
    );
    assert_eq!(client.get("/").await.status(), 303, "signed out of Trellis");
}

#[tokio::test]
async fn with_the_provider_down_passwords_work_and_the_button_says_it_is_unreachable() {
    // Down from the start, so that discovery at start-up fails too.
    let provider = Provider::start();
    let oidc = provider.config();
    drop(provider);
    let app = spawn_app_with(|config| config.oidc = Some(oidc)).await;
    let manager = app.create_user(Role::Manager, None).await;
    let client = app.client();
    let response = client.get("/login/sso").await;
    assert_eq!(response.status(), 503);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Test Login cannot be reached")
    );
    assert_eq!(client.login(&manager.email, PASSWORD).await.status(), 303);
}
