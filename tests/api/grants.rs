//! Access grants: recorded by the engagement's managers, reviewed on their interval, and
//! answered for, one by one, before an engagement can close.

use chrono::TimeZone;
use trellis::auth::Role;

use crate::helpers::{engagement, location, spawn_app, texts};

#[tokio::test]
async fn grants_are_recorded_reviewed_and_every_one_answered_before_the_engagement_closes() {
    let app = spawn_app().await;
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap());
    let (vendor, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager, manager_user) = app.signed_in(Role::Manager).await;
    let id = engagement(&app, vendor_user.vendor_id.unwrap(), manager_user.id).await;
    sqlx::query("update engagements set status = 'active' where id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let list = format!("/engagements/{id}/access");
    let new = format!("{list}/new");

    let bad = manager
        .post_form(
            &new,
            &new,
            &[
                ("resource", "Ticketing system"),
                ("access_level", "root"),
                ("holder", ""),
                ("granted_on", "2026-11-01"),
                ("expires_on", "2026-10-01"),
                ("review_interval_days", "0"),
                ("justification", ""),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    assert_eq!(
        texts(&html, ".field-error"),
        vec![
            "Choose read, write or administer.",
            "Name who holds the access: a person, team or service account.",
            "Enter a whole number from 1 to 730.",
            "The expiry is before the grant date.",
            "Say why the vendor needs this access.",
        ]
    );
    assert!(html.contains("Ticketing system"), "input is kept");
    assert_eq!(app.count("select count(*) from access_grants").await, 0);

    for (resource, level) in [("Ticketing system", "write"), ("Production VPN", "read")] {
        let saved = manager
            .post_form(
                &new,
                &new,
                &[
                    ("resource", resource),
                    ("access_level", level),
                    ("holder", "Service desk team"),
                    ("granted_on", "2026-11-01"),
                    ("expires_on", "2026-11-20"),
                    ("review_interval_days", "30"),
                    ("justification", "First-line support works in it."),
                ],
            )
            .await;
        assert_eq!(saved.status(), 303);
    }
    let grants: Vec<(i64, String, chrono::NaiveDate)> =
        sqlx::query_as("select id, resource, next_review_due from access_grants order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(grants[0].2.to_string(), "2026-12-01", "granted + 30 days");
    let page = vendor.get_html(&list).await;
    assert_eq!(
        texts(&page, ".timeline h2"),
        vec!["Production VPN", "Ticketing system"],
        "the vendor sees what it holds"
    );
    assert!(texts(&page, ".badge").iter().any(|b| b == "expiring"));
    assert!(
        texts(&page, "form[action^='/grants/']").is_empty(),
        "but reviews nothing"
    );
    assert_eq!(
        vendor
            .post_form(
                &list,
                &format!("/grants/{}/review", grants[0].0),
                &[("decision", "revoke")]
            )
            .await
            .status(),
        404
    );

    let review = format!("/grants/{}/review", grants[0].0);
    let undecided = manager
        .post_form(&list, &review, &[("note", "looked")])
        .await;
    assert_eq!(undecided.status(), 422);
    assert_eq!(
        texts(&undecided.text().await.unwrap(), ".field-error"),
        vec!["Choose keep or revoke."]
    );
    let kept = manager
        .post_form(
            &list,
            &review,
            &[("decision", "keep"), ("note", "still needed")],
        )
        .await;
    assert_eq!(kept.status(), 303);
    let next: chrono::NaiveDate =
        sqlx::query_scalar("select next_review_due from access_grants where id = $1")
            .bind(grants[0].0)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        next.to_string(),
        "2026-12-03",
        "one interval from the review"
    );

    // Closing through the engagement form is refused; the close page asks first.
    let (admin, _) = app.signed_in(Role::Admin).await;
    let edit = format!("/engagements/{id}/edit");
    let edit_html = admin.get_html(&edit).await;
    assert!(edit_html.contains("name=\"status\""));

    let close = format!("/engagements/{id}/close");
    let close_html = manager.get_html(&close).await;
    assert_eq!(
        texts(&close_html, "fieldset legend"),
        vec![
            "Production VPN · Read · Service desk team".to_string(),
            "Ticketing system · Write · Service desk team".to_string(),
            format!("Test Vendor <{}>", vendor_user.email),
        ]
    );
    let keys: Vec<String> = [
        format!("grant_{}", grants[1].0),
        format!("grant_{}", grants[0].0),
        format!("user_{}", vendor_user.id),
    ]
    .to_vec();
    let partial = manager
        .post_form(
            &close,
            &close,
            &[(keys[0].as_str(), "revoke"), (keys[1].as_str(), "keep")],
        )
        .await;
    assert_eq!(partial.status(), 422);
    let html = partial.text().await.unwrap();
    assert_eq!(
        texts(&html, ".field-error"),
        vec![
            "Say why it stays after the close.",
            "Choose revoke or keep."
        ]
    );
    let status: String = sqlx::query_scalar("select status from engagements where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "active", "nothing changed");
    assert_eq!(vendor.get("/").await.status(), 200);

    let note_key = format!("{}_note", keys[1]);
    let closed = manager
        .post_form(
            &close,
            &close,
            &[
                (keys[0].as_str(), "revoke"),
                (keys[1].as_str(), "keep"),
                (note_key.as_str(), "moves to the new contract"),
                (keys[2].as_str(), "revoke"),
            ],
        )
        .await;
    assert_eq!(closed.status(), 303);
    assert_eq!(location(&closed), format!("/engagements/{id}"));
    let (status, end): (String, Option<chrono::NaiveDate>) =
        sqlx::query_as("select status, end_date from engagements where id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), end.map(|d| d.to_string())),
        ("closed", Some("2026-11-03".into()))
    );
    let states: Vec<(String, String)> =
        sqlx::query_as("select resource, status from access_grants order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        states,
        vec![
            ("Ticketing system".into(), "active".into()),
            ("Production VPN".into(), "revoked".into())
        ]
    );
    assert_eq!(
        app.count("select count(*) from access_reviews where on_close")
            .await,
        2
    );
    let response = vendor.get("/").await;
    assert_eq!(
        response.status(),
        303,
        "the vendor's account is disabled and signed out"
    );
    assert!(location(&response).starts_with("/login"));
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for action in ["grant.create", "grant.review", "engagement.close"] {
        assert!(actions.contains(&action.to_string()), "{action}");
    }
}

#[tokio::test]
async fn the_engagement_form_cannot_close_an_engagement() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let manager = app.create_user(Role::Manager, None).await;
    let vendor = {
        let mut conn = app.pool.acquire().await.unwrap();
        trellis::users::vendor_id_by_name(&mut conn, "Bluepeak")
            .await
            .unwrap()
    };
    let id = engagement(&app, vendor, manager.id).await;
    let edit = format!("/engagements/{id}/edit");
    let html = admin.get_html(&edit).await;
    let document = scraper::Html::parse_document(&html);
    let mut fields: Vec<(String, String)> = document
        .select(&scraper::Selector::parse("input[name], textarea[name]").unwrap())
        .filter(|e| e.value().attr("type") != Some("checkbox"))
        .map(|e| {
            let name = e.value().attr("name").unwrap().to_string();
            let value = e
                .value()
                .attr("value")
                .map(str::to_string)
                .unwrap_or_else(|| e.text().collect());
            (name, value)
        })
        .filter(|(name, _)| name != "csrf_token")
        .collect();
    for select in document.select(&scraper::Selector::parse("select[name]").unwrap()) {
        let name = select.value().attr("name").unwrap().to_string();
        let chosen = select
            .select(&scraper::Selector::parse("option[selected]").unwrap())
            .next()
            .and_then(|o| o.value().attr("value"))
            .unwrap_or("")
            .to_string();
        let value = if name == "status" {
            "closed".to_string()
        } else {
            chosen
        };
        fields.push((name, value));
    }
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let refused = admin.post_form(&edit, &edit, &refs).await;
    assert_eq!(refused.status(), 422);
    assert!(
        texts(&refused.text().await.unwrap(), "#field-status-error")[0]
            .starts_with("Close an engagement with “Close…” on its page")
    );
}

#[tokio::test]
async fn another_vendor_sees_no_grant_and_cannot_close() {
    let app = spawn_app().await;
    let (vendor, _) = app.signed_in(Role::Vendor).await;
    let manager = app.create_user(Role::Manager, None).await;
    let other = {
        let mut conn = app.pool.acquire().await.unwrap();
        trellis::users::vendor_id_by_name(&mut conn, "Elsewhere")
            .await
            .unwrap()
    };
    let id = engagement(&app, other, manager.id).await;
    let grant: i64 = sqlx::query_scalar(
        "insert into access_grants (engagement_id, resource, access_level, holder, granted_on, review_interval_days,
                                    next_review_due, justification, created_by, created_at, form_key)
         values ($1, 'Secret vault', 'admin', 'them', '2026-01-01', 90, '2026-04-01', 'j', $2, now(), gen_random_uuid())
         returning id",
    )
    .bind(id)
    .bind(manager.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    for path in [
        format!("/engagements/{id}/access"),
        format!("/engagements/{id}/access/new"),
        format!("/engagements/{id}/close"),
    ] {
        let response = vendor.get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(!response.text().await.unwrap().contains("Secret vault"));
    }
    assert_eq!(
        vendor
            .post_form(
                "/",
                &format!("/grants/{grant}/review"),
                &[("decision", "revoke")]
            )
            .await
            .status(),
        404
    );
    assert_eq!(
        app.count("select count(*) from access_grants where status = 'active'")
            .await,
        1
    );
}
