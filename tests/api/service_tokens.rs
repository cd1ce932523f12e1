//! Service tokens: admins make them on /admin/service-tokens for a service account bound to
//! the manager role or to one vendor; the account is no person anywhere else.

use trellis::auth::Role;

use crate::api_tokens::vendor;
use crate::helpers::{TestApp, TestClient, spawn_app};

fn secret_in(html: &str) -> Option<String> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("#token-secret").unwrap();
    document
        .select(&selector)
        .next()
        .and_then(|input| input.value().attr("value"))
        .map(str::to_string)
}

/// Makes a service token through the admin's form and gives its secret.
pub(crate) async fn create_service_token(
    admin: &TestClient,
    name: &str,
    binding: &str,
    scope: &str,
) -> String {
    let response = admin
        .post_form(
            "/admin/service-tokens",
            "/admin/service-tokens",
            &[
                ("token_name", name),
                ("binding", binding),
                ("token_days", "30"),
                ("token_scope", scope),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    let html = response.text().await.unwrap();
    secret_in(&html).unwrap_or_else(|| panic!("the new secret is on the page: {html}"))
}

async fn engagement_ids(app: &TestApp, secret: &str) -> (u16, Vec<i64>) {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/engagements", app.address))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let ids = body["items"]
        .as_array()
        .map(|list| list.iter().map(|e| e["id"].as_i64().unwrap()).collect())
        .unwrap_or_default();
    (status, ids)
}

async fn account_of(app: &TestApp, token_name: &str) -> (i64, Option<String>, bool, String) {
    sqlx::query_as(
        "select u.id, u.password_hash, u.service_account, u.email
         from api_tokens t join users u on u.id = t.user_id where t.name = $1",
    )
    .bind(token_name)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_vendor_bound_service_token_sees_only_that_vendor_and_is_listed_with_its_last_use() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let owner = app.create_user(Role::Manager, None).await;
    let own_vendor = vendor(&app, "Bound Vendor").await;
    let other_vendor = vendor(&app, "Other Vendor").await;
    let own = crate::helpers::engagement(&app, own_vendor, owner.id).await;
    let foreign = crate::helpers::engagement(&app, other_vendor, owner.id).await;

    let secret = create_service_token(
        &admin,
        "Ticketing sync",
        &format!("vendor:{own_vendor}"),
        "read",
    )
    .await;
    assert!(secret.starts_with("trellis_"));
    let (status, ids) = engagement_ids(&app, &secret).await;
    assert_eq!(status, 200);
    assert!(ids.contains(&own) && !ids.contains(&foreign), "{ids:?}");
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/engagements/{foreign}", app.address))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        404,
        "another vendor's engagement is not found"
    );

    let (account, password, service, email) = account_of(&app, "Ticketing sync").await;
    assert!(service && password.is_none());
    assert!(email.ends_with("@service.invalid"), "{email}");
    let page = admin.get_html("/admin/service-tokens").await;
    assert!(!page.contains(&secret), "the secret is shown once");
    assert!(page.contains("Ticketing sync") && page.contains(&secret[..12]));
    assert!(
        page.contains("Vendor Bound Vendor"),
        "the binding is listed"
    );
    assert!(page.contains("from 127.0.0.1"), "the last use is listed");
    let users = admin.get_html("/admin/users").await;
    assert!(
        users.contains("Service account (vendor)"),
        "labelled as no person"
    );

    let audit: Vec<(String, String)> = sqlx::query_as(
        "select action, target from audit_log where action in ('service_account.create', 'api_token.create') order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        audit[0],
        ("service_account.create".into(), format!("user:{account}"))
    );
    assert_eq!(audit[1].0, "api_token.create");
}

#[tokio::test]
async fn a_manager_bound_service_token_reads_every_vendor_and_a_second_token_joins_its_account() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let owner = app.create_user(Role::Manager, None).await;
    let a = crate::helpers::engagement(&app, vendor(&app, "Vendor A").await, owner.id).await;
    let b = crate::helpers::engagement(&app, vendor(&app, "Vendor B").await, owner.id).await;
    let secret = create_service_token(&admin, "Reporting", "manager", "read+write").await;
    let (status, ids) = engagement_ids(&app, &secret).await;
    assert_eq!(status, 200);
    assert!(ids.contains(&a) && ids.contains(&b), "{ids:?}");

    let (account, ..) = account_of(&app, "Reporting").await;
    let second = create_service_token(
        &admin,
        "Reporting, rotated",
        &format!("account:{account}"),
        "read",
    )
    .await;
    assert_eq!(account_of(&app, "Reporting, rotated").await.0, account);
    assert_eq!(engagement_ids(&app, &second).await.0, 200);
    assert_eq!(
        app.count("select count(*) from users where service_account")
            .await,
        1
    );
}

#[tokio::test]
async fn disabling_the_service_account_or_revoking_the_token_stops_it_at_once() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let first = create_service_token(&admin, "First", "manager", "read").await;
    let second = create_service_token(&admin, "Second", "manager", "read").await;
    assert_eq!(engagement_ids(&app, &first).await.0, 200);

    let token: i64 = sqlx::query_scalar("select id from api_tokens where name = 'First'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let path = format!("/admin/service-tokens/{token}/revoke");
    let revoked = admin.post_form("/admin/service-tokens", &path, &[]).await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(engagement_ids(&app, &first).await.0, 401);
    assert_eq!(engagement_ids(&app, &second).await.0, 200);

    let (account, ..) = account_of(&app, "Second").await;
    let user_page = format!("/admin/users/{account}");
    let disabled = admin
        .post_form(&user_page, &format!("{user_page}/disable"), &[])
        .await;
    assert_eq!(disabled.status(), 303);
    assert_eq!(engagement_ids(&app, &second).await.0, 401);
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where action in ('api_token.revoke', 'user.disable') order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(actions, ["api_token.revoke", "user.disable"]);
}

#[tokio::test]
async fn a_personal_token_cannot_be_revoked_on_the_service_token_page() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let (manager, _) = app.signed_in(Role::Manager).await;
    let personal = crate::api_tokens::create_token(&manager, "Mine").await;
    let token: i64 = sqlx::query_scalar("select id from api_tokens where name = 'Mine'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let path = format!("/admin/service-tokens/{token}/revoke");
    let response = admin.post_form("/admin/service-tokens", &path, &[]).await;
    assert_eq!(response.status(), 404);
    assert_eq!(engagement_ids(&app, &personal).await.0, 200);
    assert!(
        !admin
            .get_html("/admin/service-tokens")
            .await
            .contains("Mine")
    );
}

#[tokio::test]
async fn exiting_the_vendor_stops_its_service_tokens() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let vendor_id = vendor(&app, "Northwind IT").await;
    sqlx::query("update vendors set status = 'offboarding' where id = $1")
        .bind(vendor_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let secret = create_service_token(&admin, "Desk", &format!("vendor:{vendor_id}"), "read").await;
    assert_eq!(engagement_ids(&app, &secret).await.0, 200);
    let edit = format!("/vendors/{vendor_id}/edit");
    let fields = [
        ("name", "Northwind IT"),
        ("legal_name", ""),
        ("website", ""),
        ("industry", ""),
        ("tier", "high"),
        ("status", "exited"),
        ("contact_name", ""),
        ("contact_email", ""),
        ("contact_phone", ""),
        ("notes", ""),
        ("confirm_exit", "yes"),
    ];
    assert_eq!(admin.post_form(&edit, &edit, &fields).await.status(), 303);
    assert_eq!(engagement_ids(&app, &secret).await.0, 401);
    // An exited vendor is no longer offered for a new binding.
    let page = admin.get_html("/admin/service-tokens").await;
    assert!(!page.contains(&format!("vendor:{vendor_id}")));
}

#[tokio::test]
async fn a_service_account_cannot_sign_in_get_a_password_or_become_an_admin() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    create_service_token(&admin, "Monitoring", "manager", "read").await;
    let (account, _, _, email) = account_of(&app, "Monitoring").await;

    let login = app.client();
    login.get_html("/login").await;
    let response = login.login(&email, "any password at all").await;
    assert_ne!(response.status(), 303, "no sign-in");
    assert_eq!(crate::helpers::location(&login.get("/").await), "/login");

    let user_page = format!("/admin/users/{account}");
    let page = admin.get_html(&user_page).await;
    assert!(page.contains("A service account"), "labelled on its page");
    assert!(
        !page.contains("password-link"),
        "no set-password link offered"
    );
    let link = admin
        .post_form(&user_page, &format!("{user_page}/password-link"), &[])
        .await;
    assert_eq!(link.status(), 400);
    assert_eq!(
        app.count("select count(*) from password_tokens").await,
        0,
        "no link was made"
    );
    // Even a link planted by hand does not open.
    let token = "f".repeat(64);
    sqlx::query(
        "insert into password_tokens (token_hash, user_id, created_at, expires_at)
         values ($1, $2, now(), now() + interval '1 day')",
    )
    .bind(trellis::users::token_hash(&token))
    .bind(account)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        app.client()
            .get(&format!("/set-password/{token}"))
            .await
            .status(),
        404
    );

    let promote = admin
        .post_form(
            &user_page,
            &user_page,
            &[
                ("email", &email),
                ("name", "Monitoring"),
                ("role", "admin"),
                ("vendor_id", ""),
                ("time_zone", "UTC"),
            ],
        )
        .await;
    assert_eq!(promote.status(), 422);
    assert_eq!(
        app.count(&format!(
            "select count(*) from users where id = {account} and role = 'manager'"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_service_account_managing_an_engagement_gets_no_reminders_and_is_no_seat() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let owner = app.create_user(Role::Manager, None).await;
    let vendor_id = vendor(&app, "Reminded Vendor").await;
    let engagement = crate::helpers::engagement(&app, vendor_id, owner.id).await;
    create_service_token(&admin, "Co-manager", "manager", "read+write").await;
    create_service_token(
        &admin,
        "Vendor side",
        &format!("vendor:{vendor_id}"),
        "read",
    )
    .await;
    let (manager_account, ..) = account_of(&app, "Co-manager").await;
    let (vendor_account, ..) = account_of(&app, "Vendor side").await;
    sqlx::query("insert into engagement_managers (engagement_id, user_id) values ($1, $2)")
        .bind(engagement)
        .bind(manager_account)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update engagements set status = 'active' where id = $1")
        .bind(engagement)
        .execute(&app.pool)
        .await
        .unwrap();
    trellis::scheduler::pass(&app.state).await.unwrap();
    assert!(
        app.count(&format!(
            "select count(*) from inbox_items where user_id = {}",
            owner.id
        ))
        .await
            > 0,
        "the owner, a person, is reminded"
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from inbox_items where user_id in ({manager_account}, {vendor_account})"
        ))
        .await,
        0
    );
    // The admin's home counts the people with access: the admin and the owner, no account.
    let home = admin.get_html("/").await;
    assert_eq!(
        crate::helpers::texts(&home, "a.stat[href='/admin/users'] .stat-number"),
        ["2"]
    );
}
