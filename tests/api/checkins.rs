use chrono::TimeZone;
use trellis::auth::Role;

use crate::helpers::{TestApp, TestClient, TestUser, engagement, location, spawn_app, texts};

/// An engagement (Europe/Berlin, Monday to Friday 09:00–17:00, cap 3) of the vendor user's
/// vendor, managed by `manager`; the clock at Wednesday 25 November 2026, 13:00 in Berlin.
async fn setup(app: &TestApp) -> (TestClient, TestUser, TestClient, TestUser, i64) {
    setup_at(
        app,
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
            .unwrap(),
    )
    .await
}

async fn setup_at(
    app: &TestApp,
    now: chrono::DateTime<chrono::Utc>,
) -> (TestClient, TestUser, TestClient, TestUser, i64) {
    app.clock.set(now);
    let (vendor, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager, manager_user) = app.signed_in(Role::Manager).await;
    let id = engagement(app, vendor_user.vendor_id.unwrap(), manager_user.id).await;
    (manager, manager_user, vendor, vendor_user, id)
}

fn checkin<'a>(
    held_on: &'a str,
    shared: bool,
    items: &[(&'a str, &'a str, &'a str)],
) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = [
        ("held_on", held_on),
        ("kind", "scheduled"),
        ("attendees", "Greta, Priya"),
        ("progress", "Backlog down by a third."),
        ("blockers", "Waiting for VPN access."),
        ("health", "at_risk"),
        ("next_steps", "Review the runbook."),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if shared {
        form.push(("shared".into(), "yes".into()));
    }
    for (i, (title, side, due)) in items.iter().enumerate() {
        form.push((format!("item_title_{i}"), title.to_string()));
        form.push((format!("item_side_{i}"), side.to_string()));
        form.push((format!("item_due_{i}"), due.to_string()));
    }
    form
}

fn refs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn a_manager_logs_a_check_in_with_action_items_that_the_vendor_sees_when_shared() {
    let app = spawn_app().await;
    let (manager, _, vendor, _, id) = setup(&app).await;
    let new = format!("/engagements/{id}/checkins/new");
    let page = manager.get_html(&new).await;
    assert_eq!(texts(&page, "#window-banner")[0], "Test Vendor's time: Wednesday 13:00 (Europe/Berlin). Inside the agreed contact window, until Wednesday 17:00.".replace("Test Vendor", "Acme Outsourcing"));
    let shared = checkin(
        "2026-11-24",
        true,
        &[
            ("Send the runbook", "vendor", "2026-11-20"),
            ("Grant VPN access", "ours", "2026-12-01"),
        ],
    );
    assert_eq!(
        manager.post_form(&new, &new, &refs(&shared)).await.status(),
        303
    );
    let internal = checkin("2026-11-25", false, &[("Internal follow-up", "ours", "")]);
    assert_eq!(
        manager
            .post_form(&new, &new, &refs(&internal))
            .await
            .status(),
        303
    );

    let list = format!("/engagements/{id}/checkins");
    let ours = manager.get_html(&list).await;
    assert_eq!(texts(&ours, ".timeline > li").len(), 2);
    assert_eq!(texts(&ours, ".trend .health").len(), 2);
    let theirs = vendor.get_html(&list).await;
    assert_eq!(
        texts(&theirs, ".timeline > li").len(),
        1,
        "the internal check-in stays internal"
    );
    assert!(!theirs.contains("Internal follow-up"));
    assert!(
        texts(&theirs, ".health-label")[0].contains("▲ At risk"),
        "health by symbol and word"
    );
    // Their side's items only: ours stay the organisation's, even on a shared check-in.
    let open = texts(&theirs, ".items .item");
    assert_eq!(open.len(), 1);
    assert!(!theirs.contains("Grant VPN access"));
    assert!(
        open.iter()
            .any(|i| i.contains("Send the runbook") && i.contains("overdue")),
        "{open:?}"
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&("checkin.create".into(), "success".into()))
    );
}

#[tokio::test]
async fn a_bad_check_in_is_refused_field_by_field_and_a_double_submit_saves_once() {
    let app = spawn_app().await;
    let (manager, _, _, _, id) = setup(&app).await;
    let new = format!("/engagements/{id}/checkins/new");
    let mut bad = checkin("2026-11-26", true, &[]);
    bad.retain(|(k, _)| k != "health" && k != "progress");
    bad.push(("item_due_0".into(), "2026-12-01".into()));
    let response = manager.post_form(&new, &new, &refs(&bad)).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "#field-held_on-error"),
        vec!["A check-in cannot be in the future."]
    );
    assert_eq!(
        texts(&html, "#field-health-error"),
        vec!["Choose the health: on track, at risk or off track."]
    );
    assert_eq!(
        texts(&html, "#field-progress-error"),
        vec!["Say what progressed."]
    );
    assert_eq!(
        texts(&html, "#field-item_title_0-error"),
        vec!["Give the action item a title, or clear its row."]
    );

    let page = manager.get_html(&new).await;
    let key = page
        .split("name=\"form_key\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let token = crate::helpers::csrf_in(&page);
    let mut form = checkin("2026-11-25", true, &[("One item", "ours", "")]);
    form.push(("form_key".into(), key));
    form.push(("csrf_token".into(), token));
    assert_eq!(manager.post_raw(&new, &refs(&form)).await.status(), 303);
    assert_eq!(manager.post_raw(&new, &refs(&form)).await.status(), 303);
    assert_eq!(app.count("select count(*) from checkins").await, 1);
    assert_eq!(app.count("select count(*) from action_items").await, 1);
}

#[tokio::test]
async fn only_the_owning_side_closes_an_action_item() {
    let app = spawn_app().await;
    let (manager, _, vendor, _, id) = setup(&app).await;
    let new = format!("/engagements/{id}/checkins/new");
    let form = checkin(
        "2026-11-24",
        true,
        &[("Vendor task", "vendor", ""), ("Our task", "ours", "")],
    );
    manager.post_form(&new, &new, &refs(&form)).await;
    let ids: Vec<(i64, String)> =
        sqlx::query_as("select id, owner_side from action_items order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let (vendor_item, our_item) = (ids[0].0, ids[1].0);
    let list = format!("/engagements/{id}/checkins");

    assert_eq!(
        vendor
            .post_form(
                &list,
                &format!("/actions/{our_item}"),
                &[("status", "done")]
            )
            .await
            .status(),
        404,
        "our items are not the vendor's to see"
    );
    assert_eq!(
        manager
            .post_form(
                &list,
                &format!("/actions/{vendor_item}"),
                &[("status", "done")]
            )
            .await
            .status(),
        403
    );
    let done = vendor
        .post_form(
            &list,
            &format!("/actions/{vendor_item}"),
            &[("status", "done"), ("note", "Sent on Tuesday.")],
        )
        .await;
    assert_eq!(done.status(), 303);
    let dropped = manager
        .post_form(
            &list,
            &format!("/actions/{our_item}"),
            &[("status", "dropped"), ("note", "Not needed.")],
        )
        .await;
    assert_eq!(dropped.status(), 303);
    let rows: Vec<(String, String)> =
        sqlx::query_as("select status, closing_note from action_items order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            ("done".into(), "Sent on Tuesday.".into()),
            ("dropped".into(), "Not needed.".into())
        ]
    );

    let stranger = app
        .client_for(&app.create_user(Role::Vendor, Some("Elsewhere")).await)
        .await;
    assert_eq!(
        stranger
            .post_form("/", &format!("/actions/{our_item}"), &[("status", "done")])
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn feedback_is_acknowledged_and_answered_by_the_vendor_and_balanced_over_90_days() {
    let app = spawn_app().await;
    let (manager, manager_user, vendor, _, id) = setup(&app).await;
    let new = format!("/engagements/{id}/feedback/new");
    let praise = [
        ("kind", "praise"),
        ("situation", "The migration weekend"),
        ("observation", "Zero downtime"),
        ("impact", "Sales kept selling"),
        ("shared", "yes"),
    ];
    let concern = [
        ("kind", "concern"),
        ("situation", "Monday stand-up"),
        ("observation", "Nobody knew the plan"),
        ("impact", "Two hours lost"),
    ];
    assert_eq!(manager.post_form(&new, &new, &praise).await.status(), 303);
    assert_eq!(manager.post_form(&new, &new, &concern).await.status(), 303);

    let list = format!("/engagements/{id}/feedback");
    let ours = manager.get_html(&list).await;
    assert_eq!(
        texts(&ours, "#balance"),
        vec![
            "Last 90 days: 1 praise to 1 constructive or concern. 1 shared item waits for acknowledgement."
        ]
    );
    let theirs = vendor.get_html(&list).await;
    assert_eq!(
        texts(&theirs, ".timeline > li").len(),
        1,
        "internal feedback stays internal"
    );
    let feedback_id: i64 = sqlx::query_scalar("select id from feedback where kind = 'praise'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let early = vendor
        .post_form(
            &list,
            &format!("/feedback/{feedback_id}/respond"),
            &[("response", "Thanks!")],
        )
        .await;
    assert_eq!(early.status(), 400, "acknowledge first");
    assert_eq!(
        vendor
            .post_form(&list, &format!("/feedback/{feedback_id}/acknowledge"), &[])
            .await
            .status(),
        303
    );
    assert_eq!(
        vendor
            .post_form(
                &list,
                &format!("/feedback/{feedback_id}/respond"),
                &[("response", "Thanks, the team was proud.")]
            )
            .await
            .status(),
        303
    );
    assert_eq!(
        vendor
            .post_form(
                &list,
                &format!("/feedback/{feedback_id}/respond"),
                &[("response", "Second answer")]
            )
            .await
            .status(),
        303
    );
    let (ack_by, response): (Option<i64>, Option<String>) =
        sqlx::query_as("select acknowledged_by, response from feedback where id = $1")
            .bind(feedback_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(ack_by.is_some());
    assert_eq!(
        response.as_deref(),
        Some("Thanks, the team was proud."),
        "one response, kept"
    );
    let ours = manager.get_html(&list).await;
    assert!(texts(&ours, ".status-ok")[0].starts_with("✓ Acknowledged by Test Vendor"));
    assert_eq!(
        manager
            .post_form(&list, &format!("/feedback/{feedback_id}/acknowledge"), &[])
            .await
            .status(),
        403,
        "managers do not acknowledge"
    );

    app.clock.advance(chrono::Duration::days(91));
    let manager = app.client_for(&manager_user).await;
    assert_eq!(
        texts(&manager.get_html(&list).await, "#balance")[0],
        "No feedback in the last 90 days. 0 shared items wait for acknowledgement."
    );
}

#[tokio::test]
async fn bad_feedback_names_each_missing_part() {
    let app = spawn_app().await;
    let (manager, _, _, _, id) = setup(&app).await;
    let new = format!("/engagements/{id}/feedback/new");
    let response = manager
        .post_form(&new, &new, &[("kind", "rant"), ("kpi_id", "999999")])
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "#field-kind-error"),
        vec!["Choose praise, constructive or concern."]
    );
    assert_eq!(
        texts(&html, "#field-situation-error"),
        vec!["Describe the situation: when and where."]
    );
    assert_eq!(
        texts(&html, "#field-observation-error"),
        vec!["Say what you observed, as facts."]
    );
    assert_eq!(
        texts(&html, "#field-impact-error"),
        vec!["Say what it meant for the results."]
    );
    assert_eq!(
        texts(&html, "#field-kpi_id-error"),
        vec!["Choose one of this engagement's KPIs."]
    );
    assert_eq!(app.count("select count(*) from feedback").await, 0);
}

#[tokio::test]
async fn wins_are_celebrated_and_the_vendor_sees_them_on_the_dashboard() {
    let app = spawn_app().await;
    let (manager, _, vendor, _, id) = setup(&app).await;
    let wins = format!("/engagements/{id}/successes");
    let future = manager
        .post_form(
            &wins,
            &wins,
            &[
                ("title", "Next year's award"),
                ("happened_on", "2026-12-24"),
            ],
        )
        .await;
    assert_eq!(future.status(), 422);
    assert_eq!(
        manager
            .post_form(
                &wins,
                &wins,
                &[
                    ("title", "Zero-downtime migration"),
                    ("happened_on", "2026-11-21")
                ]
            )
            .await
            .status(),
        303
    );
    assert_eq!(
        texts(&vendor.get_html(&wins).await, ".win h2"),
        vec!["★ Zero-downtime migration"]
    );
    let home = vendor.get_html("/").await;
    assert!(home.contains("Zero-downtime migration"));
    assert_eq!(
        vendor
            .post_form(
                &wins,
                &wins,
                &[("title", "Self-praise"), ("happened_on", "2026-11-21")]
            )
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn a_routine_contact_outside_the_window_asks_first() {
    let app = spawn_app().await;
    // Saturday 28 November, 11:00 in Berlin.
    let (manager, _, _, _, id) = setup_at(
        &app,
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 28, 10, 0, 0)
            .unwrap(),
    )
    .await;
    let contacts = format!("/engagements/{id}/contacts");
    let asked = manager
        .post_form(
            &contacts,
            &contacts,
            &[
                ("channel", "email"),
                ("summary", "Quick question about the report"),
            ],
        )
        .await;
    assert_eq!(asked.status(), 422);
    let html = asked.text().await.unwrap();
    assert!(
        texts(&html, "#confirm-contact")[0].contains("outside the agreed contact window"),
        "{html}"
    );
    assert_eq!(app.count("select count(*) from contacts").await, 0);
    let confirmed = manager
        .post_form(
            &contacts,
            &contacts,
            &[
                ("channel", "email"),
                ("summary", "Quick question about the report"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(confirmed.status(), 303);
    let urgent = manager
        .post_form(
            &contacts,
            &contacts,
            &[
                ("channel", "phone"),
                ("summary", "Outage"),
                ("urgent", "yes"),
            ],
        )
        .await;
    assert_eq!(urgent.status(), 303);
    let rows: Vec<(bool, bool)> =
        sqlx::query_as("select urgent, outside_window from contacts order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows, vec![(false, true), (true, true)]);
    assert_eq!(
        location(&manager.get(&contacts).await),
        "",
        "the list is a page"
    );
}

#[tokio::test]
async fn the_oversight_balance_warns_of_too_little_and_too_much_contact() {
    let app = spawn_app().await;
    let (manager, manager_user, _, _, id) = setup(&app).await;
    sqlx::query("update engagements set status = 'active' where id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let hub = format!("/engagements/{id}");
    let html = manager.get_html(&hub).await;
    assert_eq!(
        texts(&html, "#oversight"),
        vec!["Under-engaged. 0 check-ins in the last four weeks; the weekly cadence expects 4."]
    );

    for day in ["2026-10-27", "2026-11-03", "2026-11-10", "2026-11-17"] {
        sqlx::query("insert into checkins (engagement_id, held_on, kind, health, author_id, created_at, form_key) values ($1, $2::date, 'scheduled', 'on_track', $3, now(), gen_random_uuid())")
            .bind(id)
            .bind(day)
            .bind(manager_user.id)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let html = manager.get_html(&hub).await;
    assert!(
        texts(&html, "#oversight")[0].starts_with("Balanced. 4 check-ins in the last four weeks"),
        "{:?}",
        texts(&html, "#oversight")
    );

    for hour in 9..13 {
        sqlx::query("insert into contacts (engagement_id, channel, summary, urgent, outside_window, contacted_at, author_id, form_key) values ($1, 'email', 'ping', false, false, $2, $3, gen_random_uuid())")
            .bind(id)
            .bind(chrono::Utc.with_ymd_and_hms(2026, 11, 11, hour, 0, 0).unwrap())
            .bind(manager_user.id)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let html = manager.get_html(&hub).await;
    assert_eq!(
        texts(&html, "#oversight"),
        vec![
            "Over-engaged. 4 routine touches beyond the check-ins in the week of 9 November; the agreed cap is 3."
        ]
    );
    let home = manager.get_html("/").await;
    assert!(
        texts(&home, ".oversight")[0].starts_with("Over-engaged."),
        "the manager's dashboard says so too"
    );
}

#[tokio::test]
async fn another_vendor_sees_none_of_it() {
    let app = spawn_app().await;
    let (manager, _, _, _, id) = setup(&app).await;
    let new = format!("/engagements/{id}/feedback/new");
    manager
        .post_form(
            &new,
            &new,
            &[
                ("kind", "praise"),
                ("situation", "s"),
                ("observation", "o"),
                ("impact", "i"),
                ("shared", "yes"),
            ],
        )
        .await;
    let feedback_id: i64 = sqlx::query_scalar("select id from feedback")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let stranger = app
        .client_for(&app.create_user(Role::Vendor, Some("Elsewhere")).await)
        .await;
    for path in [
        format!("/engagements/{id}/checkins"),
        format!("/engagements/{id}/feedback"),
        format!("/engagements/{id}/successes"),
        format!("/engagements/{id}/contacts"),
    ] {
        assert_eq!(stranger.get(&path).await.status(), 404, "{path}");
    }
    assert_eq!(
        stranger
            .post_form("/", &format!("/feedback/{feedback_id}/acknowledge"), &[])
            .await
            .status(),
        404
    );
    let acknowledged: bool = sqlx::query_scalar("select acknowledged_at is not null from feedback")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!acknowledged);
}

#[tokio::test]
async fn check_in_pages_cost_the_same_statements_on_small_and_larger_data() {
    let app = spawn_app().await;
    let (manager, manager_user, _, _, id) = setup(&app).await;
    manager.get_html("/").await;
    let pages = [
        format!("/engagements/{id}"),
        format!("/engagements/{id}/checkins"),
        format!("/engagements/{id}/feedback"),
        format!("/engagements/{id}/successes"),
        format!("/engagements/{id}/contacts"),
        "/".to_string(),
    ];
    let mut small = Vec::new();
    for page in &pages {
        small.push(app.statements_for(&manager, page).await);
    }
    for i in 0..20 {
        let checkin: i64 = sqlx::query_scalar("insert into checkins (engagement_id, held_on, kind, health, author_id, created_at, form_key, shared) values ($1, '2026-11-02'::date + $2, 'ad_hoc', 'on_track', $3, now(), gen_random_uuid(), true) returning id")
            .bind(id)
            .bind(i % 20)
            .bind(manager_user.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        sqlx::query("insert into action_items (engagement_id, checkin_id, title, owner_side, created_at) values ($1, $2, 'x', 'ours', now())")
            .bind(id)
            .bind(checkin)
            .execute(&app.pool)
            .await
            .unwrap();
        sqlx::query("insert into feedback (engagement_id, kind, situation, observation, impact, author_id, created_at, form_key) values ($1, 'praise', 's', 'o', 'i', $2, now(), gen_random_uuid())")
            .bind(id)
            .bind(manager_user.id)
            .execute(&app.pool)
            .await
            .unwrap();
        sqlx::query("insert into successes (engagement_id, title, happened_on, author_id, created_at, form_key) values ($1, 'w', '2026-11-01', $2, now(), gen_random_uuid())")
            .bind(id)
            .bind(manager_user.id)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let mut large = Vec::new();
    for page in &pages {
        large.push(app.statements_for(&manager, page).await);
    }
    assert_eq!(small, large);
}
