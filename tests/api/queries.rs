//! Every page costs a fixed number of statements whatever the data size, and learning who
//! is asking costs one.

use trellis::auth::Role;

use crate::helpers::{TestApp, spawn_app};

async fn add_users(app: &TestApp, n: usize) {
    for i in 0..n {
        sqlx::query("insert into users (email, name, role) values ($1, $2, 'manager')")
            .bind(format!(
                "extra{i}-{}@org.example",
                uuid::Uuid::new_v4().simple()
            ))
            .bind(format!("Extra {i}"))
            .execute(&app.pool)
            .await
            .unwrap();
        sqlx::query(
            "insert into audit_log (at, action, outcome) values (now(), 'seed.demo', 'success')",
        )
        .execute(&app.pool)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_signed_in_page_learns_its_session_and_user_in_one_statement() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Vendor).await;
    client.get_html("/").await; // consumes nothing further: no flash, session fresh
    assert_eq!(app.statements_for(&client, "/account/password").await, 1);
}

#[tokio::test]
async fn each_home_page_costs_the_same_statements_whatever_the_data() {
    let app = spawn_app().await;
    let (vendor, me) = app.signed_in(Role::Vendor).await;
    let (manager, boss) = app.signed_in(Role::Manager).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let mut small = Vec::new();
    for client in [&vendor, &manager, &admin] {
        client.get_html("/").await;
        small.push(app.statements_for(client, "/").await);
    }
    for i in 0..15 {
        let id = crate::helpers::engagement(&app, me.vendor_id.unwrap(), boss.id).await;
        crate::helpers::kpi(&app, id, &format!("KPI {i}"), "higher", "2", "1", "0").await;
    }
    let mut large = Vec::new();
    for client in [&vendor, &manager, &admin] {
        large.push(app.statements_for(client, "/").await);
    }
    assert_eq!(small, large);
    assert_eq!(small, vec![2, 3, 3]);
}

#[tokio::test]
async fn the_session_is_written_back_at_most_once_a_minute() {
    let app = spawn_app().await;
    let (client, _) = app.signed_in(Role::Manager).await;
    client.get_html("/").await;
    app.clock.advance(chrono::Duration::seconds(30));
    assert_eq!(app.statements_for(&client, "/account/password").await, 1);
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(
        app.statements_for(&client, "/account/password").await,
        2,
        "one read, one touch"
    );
    assert_eq!(app.statements_for(&client, "/account/password").await, 1);
}

#[tokio::test]
async fn admin_pages_cost_the_same_statements_on_small_and_larger_data() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let user = app.create_user(Role::Vendor, Some("Counted Co")).await;
    admin.get_html("/").await;
    let pages = [
        "/admin/users",
        "/admin/users?q=extra&role=manager",
        "/admin/audit",
        "/admin/audit?action=seed.demo",
    ];
    let user_page = format!("/admin/users/{}", user.id);
    let mut small = Vec::new();
    for page in pages
        .iter()
        .copied()
        .chain([user_page.as_str(), "/admin/users/new"])
    {
        small.push(app.statements_for(&admin, page).await);
    }
    add_users(&app, 40).await;
    let mut large = Vec::new();
    for page in pages
        .iter()
        .copied()
        .chain([user_page.as_str(), "/admin/users/new"])
    {
        large.push(app.statements_for(&admin, page).await);
    }
    assert_eq!(small, large);
    assert!(small.iter().all(|&n| n <= 3), "{small:?}");
}

/// Rows of every kind the governance pages list, `n` of each, on one engagement.
async fn add_governance(app: &TestApp, engagement: i64, author: i64, n: usize) {
    for _ in 0..n {
        let audit: i64 = sqlx::query_scalar(
            "insert into audits (engagement_id, kind, scope, planned_on, auditor, created_by, created_at, form_key)
             values ($1, 'security', 's', '2026-01-01', 'a', $2, now(), gen_random_uuid()) returning id",
        )
        .bind(engagement)
        .bind(author)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        for statement in [
            "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on, created_by,
                                   created_at, form_key)
             values ($3, $1, 'high', 'd', 'vendor', '2026-02-01', $2, now(), gen_random_uuid())",
            "insert into access_grants (engagement_id, resource, access_level, holder, granted_on, review_interval_days,
                                        next_review_due, justification, created_by, created_at, form_key)
             values ($1, 'VPN ' || $3, 'read', 'ops', '2026-01-01', 90, '2026-04-01', 'j', $2, now(), gen_random_uuid())",
            "insert into access_reviews (grant_id, decision, reviewed_by, reviewed_at)
             select id, 'keep', $2, now() from access_grants where engagement_id = $1 and $3 > 0",
            "insert into proposals (engagement_id, kind, title, description, proposed_action, expected_impact,
                                    raised_by, raised_at, form_key)
             values ($1, 'risk', 't' || $3, 'd', 'a', 'i', $2, now(), gen_random_uuid())",
            "insert into reviews (engagement_id, period_start, period_label, snapshot, started_by, started_at)
             values ($1, date '2020-01-01' + ($3 % 1000)::int, 'p', '{}', $2, now())",
        ] {
            sqlx::query(statement)
                .bind(engagement)
                .bind(author)
                .bind(audit)
                .execute(&app.pool)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn the_governance_pages_cost_the_same_statements_whatever_the_data() {
    let app = spawn_app().await;
    let (vendor, me) = app.signed_in(Role::Vendor).await;
    let (manager, boss) = app.signed_in(Role::Manager).await;
    let id = crate::helpers::engagement(&app, me.vendor_id.unwrap(), boss.id).await;
    add_governance(&app, id, boss.id, 1).await;
    let audit: i64 = sqlx::query_scalar("select min(id) from audits")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let pages = [
        format!("/engagements/{id}/audits"),
        format!("/audits/{audit}"),
        format!("/engagements/{id}/access"),
        format!("/engagements/{id}/close"),
        format!("/engagements/{id}/proposals"),
        format!("/engagements/{id}/reviews"),
    ];
    let vendor_pages = [
        format!("/engagements/{id}/audits"),
        format!("/engagements/{id}/proposals"),
        format!("/engagements/{id}/access"),
    ];
    manager.get_html("/").await;
    vendor.get_html("/").await;
    let mut small = Vec::new();
    for page in &pages {
        small.push(app.statements_for(&manager, page).await);
    }
    for page in &vendor_pages {
        small.push(app.statements_for(&vendor, page).await);
    }
    add_governance(&app, id, boss.id, 8).await;
    let mut large = Vec::new();
    for page in &pages {
        large.push(app.statements_for(&manager, page).await);
    }
    for page in &vendor_pages {
        large.push(app.statements_for(&vendor, page).await);
    }
    assert_eq!(small, large, "{pages:?} {vendor_pages:?}");
}
