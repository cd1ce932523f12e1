use chrono::TimeZone;
use trellis::auth::Role;

use crate::helpers::{TestApp, engagement, kpi, location, spawn_app, texts};

async fn vendor(app: &TestApp, name: &str) -> i64 {
    let mut conn = app.pool.acquire().await.unwrap();
    trellis::users::vendor_id_by_name(&mut conn, name)
        .await
        .unwrap()
}

const BOUNDARIES: &[(&str, &str)] = &[
    ("contact_days", "1"),
    ("contact_days", "2"),
    ("contact_days", "3"),
    ("contact_days", "4"),
    ("contact_days", "5"),
    ("window_start", "09:00"),
    ("window_end", "17:00"),
    ("channels", "portal"),
    ("channels", "email"),
    ("preferred_channel", "email"),
    ("urgent_definition", "the service desk is down"),
    ("urgent_channel", "phone"),
    ("escalation_contact", "Maria Lopez, +49 30 555"),
    ("routine_response_hours", "24"),
    ("urgent_response_hours", "2"),
    ("weekly_touch_cap", "3"),
];

fn engagement_form<'a>(
    vendor: &'a str,
    owner: &'a str,
    co: &'a str,
    status: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("vendor_id", vendor),
        ("name", "Service desk"),
        ("scope", "First- and second-level support for 2,000 staff."),
        ("objectives", "Answer fast\nFix it the first time"),
        ("time_zone", "Europe/Berlin"),
        ("start_date", "2026-01-01"),
        ("end_date", "2027-12-31"),
        ("notice_days", "90"),
        ("status", status),
        ("owner_id", owner),
        ("co_managers", co),
        ("scorecard_period", "monthly"),
        ("checkin_cadence", "weekly"),
        ("checkin_weekday", "2"),
        ("review_cadence", "quarterly"),
        ("audit_cadence", "semiannual"),
        ("next_review_due", ""),
        ("next_audit_due", ""),
    ]
}

fn kpi_form<'a>(
    name: &'a str,
    direction: &'a str,
    target: &'a str,
    threshold: &'a str,
    weight: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("description", ""),
        ("unit", "%"),
        ("direction", direction),
        ("source", "vendor"),
        ("target", target),
        ("threshold", threshold),
        ("weight", weight),
        ("active", "yes"),
    ]
}

#[tokio::test]
async fn an_admin_sets_up_an_engagement_and_its_manager_defines_kpis_and_boundaries() {
    let app = spawn_app().await;
    let vendor_id = vendor(&app, "Northwind IT").await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let owner = app.create_user(Role::Manager, None).await;
    let co = app.create_user(Role::Manager, None).await;
    let (owner_id, co_id, vendor_text) = (
        owner.id.to_string(),
        co.id.to_string(),
        vendor_id.to_string(),
    );

    let created = admin
        .post_form(
            "/engagements/new",
            "/engagements/new",
            &engagement_form(&vendor_text, &owner_id, &co_id, "draft"),
        )
        .await;
    assert_eq!(created.status(), 303);
    let page = location(&created).to_string();
    let html = admin.get_html(&page).await;
    assert_eq!(texts(&html, "h1"), vec!["Service desk"]);
    assert!(
        texts(&html, "dd")[2].contains("next by 2026-07-01"),
        "audit due from the cadence: {:?}",
        texts(&html, "dd")
    );
    assert!(texts(&html, "dd")[1].contains("next by 2026-04-01"));

    // An engagement can be active only when its active KPIs' weights total 100.
    let activate = admin
        .post_form(
            &format!("{page}/edit"),
            &format!("{page}/edit"),
            &engagement_form(&vendor_text, &owner_id, &co_id, "active"),
        )
        .await;
    assert_eq!(activate.status(), 422);
    assert!(
        texts(&activate.text().await.unwrap(), "#field-status-error")[0]
            .contains("now they total 0")
    );

    // The co-manager defines the KPIs.
    let manager = app.client_for(&co).await;
    let new_kpi = format!("{page}/kpis/new");
    assert_eq!(
        manager
            .post_form(
                &new_kpi,
                &new_kpi,
                &kpi_form("Availability", "higher", "99.9", "99.5", "60")
            )
            .await
            .status(),
        303
    );
    assert_eq!(
        manager
            .post_form(
                &new_kpi,
                &new_kpi,
                &kpi_form("Mean time to resolve", "lower", "4", "8", "30")
            )
            .await
            .status(),
        303
    );
    let kpis = manager.get_html(&format!("{page}/kpis")).await;
    assert_eq!(texts(&kpis, "#weight-total"), vec!["90"]);

    let ids: Vec<i64> = sqlx::query_scalar("select id from kpis order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let (w0, w1, a0, a1) = (
        format!("weight_{}", ids[0]),
        format!("weight_{}", ids[1]),
        format!("active_{}", ids[0]),
        format!("active_{}", ids[1]),
    );
    let saved = manager
        .post_form(
            &format!("{page}/kpis"),
            &format!("{page}/kpis"),
            &[
                (w0.as_str(), "70"),
                (w1.as_str(), "30"),
                (a0.as_str(), "yes"),
                (a1.as_str(), "yes"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);

    let boundaries = format!("{page}/boundaries");
    assert_eq!(
        manager
            .post_form(&boundaries, &boundaries, BOUNDARIES)
            .await
            .status(),
        303
    );

    let activate = admin
        .post_form(
            &format!("{page}/edit"),
            &format!("{page}/edit"),
            &engagement_form(&vendor_text, &owner_id, &co_id, "active"),
        )
        .await;
    assert_eq!(activate.status(), 303);
    let status: String = sqlx::query_scalar("select status from engagements")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "active");

    // And now the weights must stay at 100.
    let unbalanced = manager
        .post_form(
            &format!("{page}/kpis"),
            &format!("{page}/kpis"),
            &[
                (w0.as_str(), "70"),
                (w1.as_str(), "20"),
                (a0.as_str(), "yes"),
                (a1.as_str(), "yes"),
            ],
        )
        .await;
    assert_eq!(unbalanced.status(), 422);
    assert_eq!(
        texts(&unbalanced.text().await.unwrap(), "#total-error"),
        vec![
            "The engagement is active, so its active KPIs' weights must total 100; these total 90."
        ]
    );

    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for action in [
        "engagement.create",
        "engagement.update",
        "kpi.create",
        "kpi.weights",
        "boundaries.update",
    ] {
        assert!(
            actions.contains(&action.to_string()),
            "{action} in {actions:?}"
        );
    }
    let audit = admin.get_html("/admin/audit?entity=engagement").await;
    assert!(
        texts(&audit, "td[data-label=Action]")
            .iter()
            .all(|a| a.starts_with("engagement.")
                || a == "kpi.weights"
                || a == "boundaries.update")
    );
}

#[tokio::test]
async fn a_bad_engagement_form_names_each_problem() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let mut form = engagement_form("", "", "", "draft");
    for (name, value) in form.iter_mut() {
        match *name {
            "name" => *value = "",
            "time_zone" => *value = "Berlin",
            "end_date" => *value = "2025-12-31",
            "notice_days" => *value = "-3",
            "checkin_cadence" => *value = "hourly",
            _ => {}
        }
    }
    let response = admin
        .post_form("/engagements/new", "/engagements/new", &form)
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "#field-vendor_id-error"),
        vec!["Choose the vendor."]
    );
    assert_eq!(
        texts(&html, "#field-name-error"),
        vec!["Name the engagement."]
    );
    assert_eq!(
        texts(&html, "#field-time_zone-error"),
        vec!["Enter a time zone such as Europe/Berlin or UTC."]
    );
    assert_eq!(
        texts(&html, "#field-end_date-error"),
        vec!["The end date is before the start date."]
    );
    assert_eq!(
        texts(&html, "#field-notice_days-error"),
        vec!["Enter a whole number from 0 to 3650."]
    );
    assert_eq!(
        texts(&html, "#field-owner_id-error"),
        vec!["Choose the manager who owns the engagement."]
    );
    assert_eq!(
        texts(&html, "#field-checkin_cadence-error"),
        vec!["Choose a check-in cadence."]
    );
    assert!(
        html.contains("First- and second-level support"),
        "input is kept"
    );
    assert_eq!(app.count("select count(*) from engagements").await, 0);
}

#[tokio::test]
async fn an_engagements_manager_changes_only_its_rhythm_and_other_managers_nothing() {
    let app = spawn_app().await;
    let vendor_id = vendor(&app, "Bluepeak").await;
    let owner = app.create_user(Role::Manager, None).await;
    let id = engagement(&app, vendor_id, owner.id).await;
    let manager = app.client_for(&owner).await;
    let edit = format!("/engagements/{id}/edit");
    let form = [
        ("name", "Renamed by a manager"),
        ("status", "closed"),
        ("notice_days", "60"),
        ("checkin_cadence", "biweekly"),
        ("checkin_weekday", "4"),
        ("review_cadence", "monthly"),
        ("audit_cadence", "annual"),
        ("next_review_due", "2026-02-15"),
        ("next_audit_due", ""),
    ];
    assert_eq!(manager.post_form(&edit, &edit, &form).await.status(), 303);
    let (name, status, notice, cadence, review): (String, String, i32, String, chrono::NaiveDate) =
        sqlx::query_as("select name, status, notice_days, checkin_cadence, next_review_due from engagements where id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        name,
        format!("Service desk {vendor_id}"),
        "the name is the admin's to change"
    );
    assert_eq!(status, "draft", "and so is the status");
    assert_eq!((notice, cadence.as_str()), (60, "biweekly"));
    assert_eq!(review.to_string(), "2026-02-15");

    let (other, _) = app.signed_in(Role::Manager).await;
    assert_eq!(other.get(&edit).await.status(), 403);
    assert_eq!(other.post_form("/", &edit, &form).await.status(), 403);
    assert_eq!(
        other
            .get(&format!("/engagements/{id}/kpis/new"))
            .await
            .status(),
        403
    );
    assert_eq!(
        other.get(&format!("/engagements/{id}")).await.status(),
        200,
        "managers read every engagement"
    );
}

#[tokio::test]
async fn kpi_terms_are_validated_by_direction() {
    let app = spawn_app().await;
    let vendor_id = vendor(&app, "Bluepeak").await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let id = engagement(
        &app,
        vendor_id,
        app.create_user(Role::Manager, None).await.id,
    )
    .await;
    let path = format!("/engagements/{id}/kpis/new");
    let higher = admin
        .post_form(
            &path,
            &path,
            &kpi_form("Availability", "higher", "99.9", "99.9", "50"),
        )
        .await;
    assert_eq!(higher.status(), 422);
    assert_eq!(
        texts(&higher.text().await.unwrap(), "#field-threshold-error"),
        vec![
            "Where higher is better, the threshold (the worst acceptable value) must be below the target."
        ]
    );
    let lower = admin
        .post_form(&path, &path, &kpi_form("MTTR", "lower", "4", "2", "50"))
        .await;
    assert_eq!(
        texts(&lower.text().await.unwrap(), "#field-threshold-error"),
        vec![
            "Where lower is better, the threshold (the worst acceptable value) must be above the target."
        ]
    );
    let junk = admin
        .post_form(&path, &path, &kpi_form("", "sideways", "lots", "", "150"))
        .await;
    let html = junk.text().await.unwrap();
    assert_eq!(texts(&html, "#field-name-error"), vec!["Name the KPI."]);
    assert_eq!(
        texts(&html, "#field-direction-error"),
        vec!["Say whether higher or lower is better."]
    );
    assert_eq!(
        texts(&html, "#field-target-error"),
        vec!["Enter a number, such as 99.5."]
    );
    assert_eq!(
        texts(&html, "#field-threshold-error"),
        vec!["Enter the threshold."]
    );
    assert_eq!(
        texts(&html, "#field-weight-error"),
        vec!["Enter a weight from 0 to 100 (at most two decimals)."]
    );
    assert_eq!(app.count("select count(*) from kpis").await, 0);
    assert_eq!(
        admin
            .post_form(
                &path,
                &path,
                &kpi_form("Availability", "higher", "99.9", "99.5", "50")
            )
            .await
            .status(),
        303
    );
    let duplicate = admin
        .post_form(
            &path,
            &path,
            &kpi_form("AVAILABILITY", "higher", "99.9", "99.5", "50"),
        )
        .await;
    assert_eq!(
        texts(&duplicate.text().await.unwrap(), "#field-name-error"),
        vec!["This engagement already has a KPI with that name."]
    );
}

#[tokio::test]
async fn each_change_of_terms_is_kept_with_the_day_it_takes_effect() {
    let app = spawn_app().await;
    let vendor_id = vendor(&app, "Bluepeak").await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let id = engagement(
        &app,
        vendor_id,
        app.create_user(Role::Manager, None).await.id,
    )
    .await;
    let kpi_id = kpi(&app, id, "Availability", "higher", "99.9", "99.5", "100").await;
    // 23:30 UTC on 10 March is already 11 March in Berlin: the change counts from the 11th.
    app.clock.set(
        chrono::Utc
            .with_ymd_and_hms(2026, 3, 10, 23, 30, 0)
            .unwrap(),
    );
    let edit = format!("/kpis/{kpi_id}/edit");
    let mut form = kpi_form("Availability", "higher", "99.95", "99.5", "100");
    form.retain(|(k, _)| *k != "weight" && *k != "active");
    assert_eq!(admin.post_form(&edit, &edit, &form).await.status(), 303);
    let mut again = kpi_form("Availability", "higher", "99.95", "99.7", "100");
    again.retain(|(k, _)| *k != "weight" && *k != "active");
    assert_eq!(
        admin.post_form(&edit, &edit, &again).await.status(),
        303,
        "a second change the same day replaces the first"
    );
    let history: Vec<(chrono::NaiveDate, String, String)> = sqlx::query_as(
        "select effective_from, target::text, threshold::text from kpi_terms where kpi_id = $1 order by effective_from",
    )
    .bind(kpi_id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].0.to_string(), "2026-03-11");
    assert_eq!(
        (history[1].1.as_str(), history[1].2.as_str()),
        ("99.95", "99.7")
    );
    let page = admin.get_html(&format!("/kpis/{kpi_id}")).await;
    assert_eq!(
        texts(&page, "td[data-label=From]"),
        vec!["2026-03-11", "2026-01-01"]
    );
}

#[tokio::test]
async fn the_boundaries_page_shows_the_vendors_time_and_window_across_daylight_saving() {
    let app = spawn_app().await;
    let vendor_id = vendor(&app, "Bluepeak").await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let id = engagement(
        &app,
        vendor_id,
        app.create_user(Role::Manager, None).await.id,
    )
    .await;
    let page = format!("/engagements/{id}/boundaries");

    // Tuesday 10 March 2026, 10:00 in Berlin (09:00 UTC): inside Monday–Friday 09:00–17:00.
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap());
    let html = admin.get_html(&page).await;
    assert_eq!(
        texts(&html, "#vendor-time"),
        vec!["Tuesday 10:00 (Europe/Berlin)"]
    );
    assert_eq!(
        texts(&html, "#window-state"),
        vec!["✓ Inside the contact window, until Tuesday 17:00."]
    );

    // Saturday: outside, opening on Monday.
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap());
    let html = admin.get_html(&page).await;
    assert_eq!(
        texts(&html, "#window-state"),
        vec!["◷ Outside the contact window; it opens Monday 09:00."]
    );

    // A Sunday window from 02:30 on the night the clocks spring forward opens at 03:00.
    let mut form: Vec<(&str, &str)> = BOUNDARIES
        .iter()
        .copied()
        .filter(|(k, _)| *k != "contact_days" && *k != "window_start" && *k != "window_end")
        .collect();
    form.extend([
        ("contact_days", "7"),
        ("window_start", "02:30"),
        ("window_end", "06:00"),
    ]);
    assert_eq!(admin.post_form(&page, &page, &form).await.status(), 303);
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap());
    let html = admin.get_html(&page).await;
    assert_eq!(
        texts(&html, "#vendor-time"),
        vec!["Sunday 01:30 (Europe/Berlin)"]
    );
    assert_eq!(
        texts(&html, "#window-state"),
        vec!["◷ Outside the contact window; it opens Sunday 03:00."]
    );
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap());
    let html = admin.get_html(&page).await;
    assert_eq!(
        texts(&html, "#window-state"),
        vec!["✓ Inside the contact window, until Sunday 06:00."]
    );
}

#[tokio::test]
async fn bad_boundaries_are_refused_field_by_field() {
    let app = spawn_app().await;
    let vendor_id = vendor(&app, "Bluepeak").await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let id = engagement(
        &app,
        vendor_id,
        app.create_user(Role::Manager, None).await.id,
    )
    .await;
    let page = format!("/engagements/{id}/boundaries");
    let form = [
        ("window_start", "9am"),
        ("window_end", "17:00"),
        ("channels", "email"),
        ("preferred_channel", "phone"),
        ("urgent_definition", ""),
        ("urgent_channel", "pigeon"),
        ("routine_response_hours", "0"),
        ("urgent_response_hours", "2"),
        ("weekly_touch_cap", "0"),
    ];
    let response = admin.post_form(&page, &page, &form).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        texts(&html, "#field-contact_days-error"),
        vec!["Choose at least one contact day."]
    );
    assert_eq!(
        texts(&html, "#field-window_start-error"),
        vec!["Enter a time as HH:MM, such as 09:00."]
    );
    assert_eq!(
        texts(&html, "#field-preferred_channel-error"),
        vec!["The preferred channel must be one of the allowed ones."]
    );
    assert_eq!(
        texts(&html, "#field-urgent_definition-error"),
        vec!["Say what counts as urgent."]
    );
    assert_eq!(
        texts(&html, "#field-urgent_channel-error"),
        vec!["Choose the channel for urgent matters."]
    );
    assert_eq!(
        texts(&html, "#field-routine_response_hours-error"),
        vec!["Enter a whole number from 1 to 720."]
    );
    assert_eq!(
        texts(&html, "#field-weekly_touch_cap-error"),
        vec!["Enter a whole number from 1 to 50."]
    );
}

#[tokio::test]
async fn a_vendor_user_sees_their_agreement_in_plain_words_and_nothing_of_another_vendor() {
    let app = spawn_app().await;
    let (vendor_client, me) = app.signed_in(Role::Vendor).await;
    let manager = app.create_user(Role::Manager, None).await;
    let mine = engagement(&app, me.vendor_id.unwrap(), manager.id).await;
    kpi(&app, mine, "Availability", "higher", "99.9", "99.5", "100").await;
    let other_vendor = vendor(&app, "Other Co").await;
    let theirs = engagement(&app, other_vendor, manager.id).await;
    let their_kpi = kpi(&app, theirs, "Secret KPI", "higher", "10", "5", "100").await;

    let html = vendor_client
        .get_html(&format!("/engagements/{mine}"))
        .await;
    assert!(texts(&html, "h1")[0].starts_with("Our agreement"));
    let sentences = texts(&html, "section[aria-labelledby=boundaries-heading] p");
    assert_eq!(
        sentences[0],
        "We contact you Monday to Friday, 09:00–17:00 Europe/Berlin, in the portal or by e-mail; e-mail is preferred."
    );
    assert!(sentences[1].starts_with("Urgent means: an outage."));
    assert!(texts(&html, "td[data-label=Target]").contains(&"99.9".to_string()));
    assert!(
        !html.contains("/kpis/"),
        "no links into the organisation's KPI pages"
    );

    let list = vendor_client.get_html("/engagements").await;
    assert_eq!(texts(&list, "tbody tr").len(), 1);
    assert!(!list.contains("Other Co"));
    for path in [
        format!("/engagements/{theirs}"),
        format!("/engagements/{theirs}/agreement"),
        format!("/engagements/{theirs}/edit"),
        format!("/engagements/{theirs}/kpis"),
        format!("/engagements/{theirs}/boundaries"),
        format!("/engagements/{mine}/kpis"),
        format!("/engagements/{mine}/edit"),
        format!("/kpis/{their_kpi}"),
        format!("/kpis/{their_kpi}/edit"),
        "/engagements/999999".to_string(),
    ] {
        assert_eq!(vendor_client.get(&path).await.status(), 404, "{path}");
    }
    let post = format!("/engagements/{theirs}/boundaries");
    assert_eq!(
        vendor_client
            .post_form("/", &post, BOUNDARIES)
            .await
            .status(),
        404
    );
    let cap: i32 =
        sqlx::query_scalar("select weekly_touch_cap from boundaries where engagement_id = $1")
            .bind(theirs)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(cap, 3);
}

#[tokio::test]
async fn disabling_a_manager_who_owns_active_engagements_asks_for_a_handover_first() {
    let app = spawn_app().await;
    let vendor_id = vendor(&app, "Bluepeak").await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let owner = app.create_user(Role::Manager, None).await;
    let id = engagement(&app, vendor_id, owner.id).await;
    sqlx::query("update engagements set status = 'active' where id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let page = format!("/admin/users/{}", owner.id);
    assert_eq!(
        admin
            .post_form(&page, &format!("{page}/disable"), &[])
            .await
            .status(),
        303
    );
    let html = admin.get_html(&page).await;
    assert!(
        texts(&html, ".flash")[0].contains(&format!(
            "still owns active engagements: Service desk {vendor_id}"
        )),
        "{:?}",
        texts(&html, ".flash")
    );
    let disabled: bool =
        sqlx::query_scalar("select disabled_at is not null from users where id = $1")
            .bind(owner.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!disabled);
}

#[tokio::test]
async fn engagement_pages_cost_the_same_statements_on_small_and_larger_data() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let vendor_id = vendor(&app, "Counted").await;
    let manager = app.create_user(Role::Manager, None).await;
    let id = engagement(&app, vendor_id, manager.id).await;
    kpi(&app, id, "First", "higher", "10", "5", "100").await;
    admin.get_html("/").await;
    let pages = [
        "/engagements".to_string(),
        format!("/engagements/{id}"),
        format!("/engagements/{id}/kpis"),
        format!("/engagements/{id}/boundaries"),
        format!("/engagements/{id}/agreement"),
    ];
    let mut small = Vec::new();
    for page in &pages {
        small.push(app.statements_for(&admin, page).await);
    }
    for i in 0..20 {
        kpi(&app, id, &format!("More {i}"), "lower", "1", "2", "0").await;
        engagement(&app, vendor_id, manager.id).await;
        let co = app.create_user(Role::Manager, None).await;
        sqlx::query("insert into engagement_managers values ($1, $2)")
            .bind(id)
            .bind(co.id)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let mut large = Vec::new();
    for page in &pages {
        large.push(app.statements_for(&admin, page).await);
    }
    assert_eq!(small, large);
}

#[tokio::test]
async fn a_double_submitted_engagement_form_makes_one_engagement() {
    let app = spawn_app().await;
    let vendor_id = vendor(&app, "Northwind IT").await.to_string();
    let (admin, _) = app.signed_in(Role::Admin).await;
    let owner = app.create_user(Role::Manager, None).await.id.to_string();
    let token = admin.csrf_token("/engagements/new").await;
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend(engagement_form(&vendor_id, &owner, "", "draft"));
    assert_eq!(
        admin.post_raw("/engagements/new", &form).await.status(),
        303
    );
    let again = admin.post_raw("/engagements/new", &form).await;
    assert_eq!(again.status(), 422);
    assert_eq!(
        texts(&again.text().await.unwrap(), "#field-name-error"),
        vec!["This vendor already has an engagement with this name."]
    );
    assert_eq!(app.count("select count(*) from engagements").await, 1);
}
