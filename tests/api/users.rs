use trellis::auth::Role;

use crate::helpers::{PASSWORD, TestApp, TestClient, location, spawn_app, texts};

const NEW_PASSWORD: &str = "tulip meadow lantern";

async fn vendor(app: &TestApp, name: &str) -> i64 {
    let mut conn = app.pool.acquire().await.unwrap();
    trellis::users::vendor_id_by_name(&mut conn, name)
        .await
        .unwrap()
}

/// Creates a user through the admin form; returns the new user's page path.
async fn invite(admin: &TestClient, fields: &[(&str, &str)]) -> reqwest::Response {
    admin
        .post_form("/admin/users/new", "/admin/users/new", fields)
        .await
}

fn link_in(html: &str) -> Option<String> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("#set-password-link").unwrap();
    document
        .select(&selector)
        .next()
        .and_then(|e| e.value().attr("value"))
        .map(str::to_string)
}

#[tokio::test]
async fn an_admin_invites_a_vendor_user_who_sets_a_password_and_signs_in() {
    let app = spawn_app().await;
    let vendor_id = vendor(&app, "Northwind IT").await;
    let (admin, _) = app.signed_in(Role::Admin).await;

    let response = invite(
        &admin,
        &[
            ("name", "Priya Nair"),
            ("email", "priya@northwind.example"),
            ("role", "vendor"),
            ("vendor_id", &vendor_id.to_string()),
            ("time_zone", "Asia/Kolkata"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let user_page = location(&response).to_string();
    assert!(user_page.starts_with("/admin/users/"), "{user_page}");

    let html = admin.get_html(&user_page).await;
    let link = link_in(&html).expect("the link is shown once");
    assert!(
        link.starts_with(&format!("{}/set-password/", app.address)),
        "{link}"
    );
    assert_eq!(
        link_in(&admin.get_html(&user_page).await),
        None,
        "and only once"
    );
    assert_eq!(texts(&html, ".badge"), vec!["invited"]);

    let path = link.strip_prefix(&app.address).unwrap().to_string();
    let newcomer = app.client();
    let form = newcomer.get_html(&path).await;
    assert!(form.contains("Priya Nair"));
    let short = newcomer
        .post_form(&path, &path, &[("new", "short"), ("confirm", "short")])
        .await;
    assert_eq!(short.status(), 422);
    let html = short.text().await.unwrap();
    assert_eq!(
        texts(&html, "#field-new-error"),
        vec!["Use at least 12 characters."]
    );
    let set = newcomer
        .post_form(
            &path,
            &path,
            &[("new", NEW_PASSWORD), ("confirm", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(set.status(), 303);
    assert_eq!(location(&set), "/login");
    assert_eq!(
        texts(&newcomer.get_html("/login").await, ".flash"),
        vec!["Your password is set. Sign in with it."]
    );

    assert_eq!(
        newcomer
            .login("priya@northwind.example", NEW_PASSWORD)
            .await
            .status(),
        303
    );
    let home = newcomer.get_html("/").await;
    assert!(texts(&home, ".account-role")[0].contains("Northwind IT"));

    // The link works once.
    assert_eq!(app.client().get(&path).await.status(), 404);
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for expected in ["user.create", "password.set", "login"] {
        assert!(
            actions.contains(&expected.to_string()),
            "{expected} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_set_password_link_expires_after_72_hours_and_a_new_one_replaces_it() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = invite(
        &admin,
        &[
            ("name", "Tom"),
            ("email", "tom@org.example"),
            ("role", "manager"),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    let user_page = location(&response).to_string();
    let first = link_in(&admin.get_html(&user_page).await).unwrap();
    let first_path = first.strip_prefix(&app.address).unwrap().to_string();

    app.clock.advance(chrono::Duration::hours(71));
    assert_eq!(app.client().get(&first_path).await.status(), 200);
    app.clock.advance(chrono::Duration::hours(2));
    let expired = app.client().get(&first_path).await;
    assert_eq!(expired.status(), 404);
    assert!(
        expired
            .text()
            .await
            .unwrap()
            .contains("Ask an administrator for a new one")
    );

    let admin = app.signed_in(Role::Admin).await.0;
    let again = admin
        .post_form(&user_page, &format!("{user_page}/password-link"), &[])
        .await;
    assert_eq!(again.status(), 303);
    let second = link_in(&admin.get_html(&user_page).await).unwrap();
    assert_ne!(first, second);
    let second_path = second.strip_prefix(&app.address).unwrap();
    assert_eq!(app.client().get(second_path).await.status(), 200);
}

#[tokio::test]
async fn a_bad_user_form_shows_every_error_beside_its_field_and_writes_nothing() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let before = app.count("select count(*) from users").await;
    let response = invite(
        &admin,
        &[
            ("name", " "),
            ("email", "not-an-address"),
            ("role", "vendor"),
            ("vendor_id", ""),
            ("time_zone", "Mars/Base"),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "#field-name-error"),
        vec!["Enter the person's name."]
    );
    assert_eq!(
        texts(&html, "#field-email-error"),
        vec!["Enter an e-mail address like name@example.com."]
    );
    assert_eq!(
        texts(&html, "#field-vendor_id-error"),
        vec!["A vendor user belongs to a vendor: choose one."]
    );
    assert_eq!(
        texts(&html, "#field-time_zone-error"),
        vec!["Enter a time zone such as Europe/Berlin or UTC."]
    );
    assert!(
        html.contains("value=\"not-an-address\""),
        "what was typed is kept"
    );
    let unknown_role = invite(
        &admin,
        &[
            ("name", "X"),
            ("email", "x@org.example"),
            ("role", "superuser"),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    assert_eq!(unknown_role.status(), 422);
    assert_eq!(app.count("select count(*) from users").await, before);
}

#[tokio::test]
async fn a_duplicate_email_is_a_field_error_whatever_its_case() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let existing = app.create_user(Role::Manager, None).await;
    let response = invite(
        &admin,
        &[
            ("name", "Twin"),
            ("email", &existing.email.to_uppercase()),
            ("role", "manager"),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "#field-email-error"),
        vec!["A user with this e-mail address already exists."]
    );
}

#[tokio::test]
async fn a_posted_vendor_is_ignored_for_organisation_users() {
    let app = spawn_app().await;
    let vendor_id = vendor(&app, "Sneaky Co").await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = invite(
        &admin,
        &[
            ("name", "Mo"),
            ("email", "mo@org.example"),
            ("role", "manager"),
            ("vendor_id", &vendor_id.to_string()),
            ("time_zone", "UTC"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let vendor: Option<i64> =
        sqlx::query_scalar("select vendor_id from users where email = 'mo@org.example'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(vendor, None);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_at_once_and_enabling_lets_them_back() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let user = app.create_user(Role::Vendor, Some("Bluepeak")).await;
    let victim = app.client_for(&user).await;
    let cookie = victim.session_cookie().unwrap();
    let page = format!("/admin/users/{}", user.id);

    let response = admin
        .post_form(&page, &format!("{page}/disable"), &[])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&victim.get("/").await), "/login");
    let replay = app.client();
    replay.set_session_cookie(&cookie);
    assert_eq!(location(&replay.get("/").await), "/login");
    assert_eq!(
        app.client().login(&user.email, PASSWORD).await.status(),
        422
    );
    assert_eq!(
        texts(&admin.get_html(&page).await, ".badge"),
        vec!["disabled"]
    );

    admin.post_form(&page, &format!("{page}/enable"), &[]).await;
    assert_eq!(
        app.client().login(&user.email, PASSWORD).await.status(),
        303
    );
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert!(
        actions.contains(&"user.disable".to_string())
            && actions.contains(&"user.enable".to_string())
    );
}

#[tokio::test]
async fn changing_a_role_is_audited_and_ends_the_users_sessions() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let user = app.create_user(Role::Manager, None).await;
    let manager = app.client_for(&user).await;
    let page = format!("/admin/users/{}", user.id);
    let response = admin
        .post_form(
            &page,
            &page,
            &[
                ("name", "Promoted"),
                ("email", &user.email),
                ("role", "admin"),
                ("vendor_id", ""),
                ("time_zone", "Europe/Berlin"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&manager.get("/").await), "/login");
    let (role, zone): (String, String) =
        sqlx::query_as("select role, time_zone from users where id = $1")
            .bind(user.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((role.as_str(), zone.as_str()), ("admin", "Europe/Berlin"));
    let details: serde_json::Value =
        sqlx::query_scalar("select details from audit_log where action = 'user.role_change'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(details["from"]["role"], "manager");
    assert_eq!(details["to"]["role"], "admin");
    assert_eq!(
        texts(&admin.get_html(&page).await, ".flash"),
        vec!["Saved the changes to Promoted."]
    );
}

#[tokio::test]
async fn an_admin_can_neither_disable_nor_demote_themselves() {
    let app = spawn_app().await;
    let (admin, me) = app.signed_in(Role::Admin).await;
    let page = format!("/admin/users/{}", me.id);
    let demote = admin
        .post_form(
            &page,
            &page,
            &[
                ("name", "Me"),
                ("email", &me.email),
                ("role", "manager"),
                ("time_zone", "UTC"),
            ],
        )
        .await;
    assert_eq!(demote.status(), 422);
    admin
        .post_form(&page, &format!("{page}/disable"), &[])
        .await;
    assert_eq!(
        admin.get("/admin/users").await.status(),
        200,
        "still an enabled admin"
    );
}

#[tokio::test]
async fn the_user_list_searches_filters_and_paginates() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    for i in 0..30 {
        sqlx::query("insert into users (email, name, role) values ($1, $2, 'manager')")
            .bind(format!("bulk{i:02}@org.example"))
            .bind(format!("Bulk Person {i:02}"))
            .execute(&app.pool)
            .await
            .unwrap();
    }
    app.create_user(Role::Vendor, Some("Findable Vendor")).await;

    let first = admin.get_html("/admin/users?q=bulk").await;
    assert_eq!(texts(&first, ".result-count"), vec!["30 users"]);
    assert_eq!(texts(&first, "tbody tr").len(), 25);
    assert_eq!(texts(&first, ".pagination a[rel=next]"), vec!["Next →"]);
    let second = admin.get_html("/admin/users?q=bulk&page=2").await;
    assert_eq!(texts(&second, "tbody tr").len(), 5);
    assert!(
        second.contains("href=\"/admin/users?q=bulk\""),
        "the previous link keeps the search"
    );

    let invited = admin.get_html("/admin/users?status=invited").await;
    assert_eq!(
        texts(&invited, ".result-count"),
        vec!["30 users"],
        "bulk users have no password yet"
    );
    let vendors = admin.get_html("/admin/users?role=vendor").await;
    assert_eq!(texts(&vendors, "tbody tr").len(), 1);
    let by_vendor = admin.get_html("/admin/users?q=findable").await;
    assert_eq!(texts(&by_vendor, "tbody tr").len(), 1);
    let literal = admin.get_html("/admin/users?q=%25").await;
    assert_eq!(
        texts(&literal, ".result-count"),
        vec!["0 users"],
        "% is searched for, not a wildcard"
    );
    let nonsense = admin
        .get_html("/admin/users?role=root&status=zombie&page=-4")
        .await;
    assert!(texts(&nonsense, ".result-count")[0].ends_with("users"));
}

#[tokio::test]
async fn managers_and_vendors_get_a_403_page_on_user_administration() {
    let app = spawn_app().await;
    for role in [Role::Manager, Role::Vendor] {
        let (client, _) = app.signed_in(role).await;
        let response = client.get("/admin/users").await;
        assert_eq!(response.status(), 403);
        let html = response.text().await.unwrap();
        assert_eq!(texts(&html, "h1"), vec!["Not allowed"]);
        assert_eq!(
            texts(&html, "nav[aria-label=Main]").len(),
            0,
            "an error page shows no one's navigation"
        );
    }
}

#[tokio::test]
async fn a_vendor_user_cannot_make_themselves_an_admin_by_posting_fields() {
    let app = spawn_app().await;
    let (vendor, user) = app.signed_in(Role::Vendor).await;
    let page = format!("/admin/users/{}", user.id);
    let response = vendor
        .post_form(
            "/",
            &page,
            &[
                ("name", "x"),
                ("email", &user.email),
                ("role", "admin"),
                ("time_zone", "UTC"),
            ],
        )
        .await;
    assert_eq!(
        response.status(),
        404,
        "to a vendor user the page does not exist"
    );
    let role: String = sqlx::query_scalar("select role from users where id = $1")
        .bind(user.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(role, "vendor");
}
