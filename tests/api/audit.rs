use trellis::auth::Role;

use crate::helpers::{spawn_app, texts};

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
