//! Periodic reviews: a snapshot that stays as it was, a draft only the organisation sees,
//! adaptations applied in one step, and a completed review the vendor reads without the
//! internal notes.

use chrono::TimeZone;
use trellis::auth::Role;

use crate::helpers::{engagement, form_key_in, kpi, location, spawn_app, texts};

#[tokio::test]
async fn a_review_snapshots_the_period_applies_an_adaptation_and_shows_the_vendor_its_decision() {
    let app = spawn_app().await;
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap());
    let (vendor, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager, manager_user) = app.signed_in(Role::Manager).await;
    let id = engagement(&app, vendor_user.vendor_id.unwrap(), manager_user.id).await;
    let availability = kpi(&app, id, "Availability", "higher", "99.9", "99.5", "100").await;
    sqlx::query(
        "insert into kpi_values (kpi_id, period_start, value, state, recorded_by, recorded_at)
         values ($1, '2026-10-01', 99.7, 'verified', $2, now())",
    )
    .bind(availability)
    .bind(manager_user.id)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into proposals (engagement_id, kind, title, description, proposed_action, expected_impact, status,
                                raised_by, raised_at, form_key)
         values ($1, 'improvement', 't', 'd', 'a', 'i', 'accepted', $2, now(), gen_random_uuid())",
    )
    .bind(id)
    .bind(vendor_user.id)
    .execute(&app.pool)
    .await
    .unwrap();

    let list = format!("/engagements/{id}/reviews");
    assert_eq!(
        vendor
            .post_form(&list, &list, &[("period", "2026-10")])
            .await
            .status(),
        404
    );
    let started = manager
        .post_form(&list, &list, &[("period", "2026-10")])
        .await;
    assert_eq!(started.status(), 303);
    let page = location(&started).to_string();
    let again = manager
        .post_form(&list, &list, &[("period", "2026-10")])
        .await;
    assert_eq!(location(&again), page, "a period's review opens again");
    assert_eq!(app.count("select count(*) from reviews").await, 1);

    // Later changes leave the snapshot as it was.
    sqlx::query("update kpi_values set value = 99.95")
        .execute(&app.pool)
        .await
        .unwrap();
    let html = manager.get_html(&page).await;
    assert_eq!(
        texts(&html, "#snapshot-score"),
        vec!["75.0 · Good · 100.0% of the weight has data"]
    );
    assert_eq!(
        texts(&html, "#snapshot-proactivity"),
        vec!["0 open. Last 90 days: 1 proposal raised by the vendor, 1 accepted."]
    );
    assert_eq!(
        vendor.get(&page).await.status(),
        404,
        "a draft is the organisation's"
    );

    let incomplete = manager
        .post_form(
            &page,
            &page,
            &[
                ("action", "complete"),
                ("what_works", "Incidents are handled calmly."),
                ("decision", "adapt"),
                ("summary", ""),
                ("internal_notes", "Consider a second supplier next year."),
            ],
        )
        .await;
    assert_eq!(incomplete.status(), 422);
    let html = incomplete.text().await.unwrap();
    assert_eq!(
        texts(&html, ".field-error"),
        vec!["Write the summary the vendor will read."]
    );
    assert_eq!(
        texts(&html, "#field-internal_notes"),
        vec!["Consider a second supplier next year."],
        "what was typed is kept"
    );

    // Adapt: stricter terms from the next period, in one step.
    let adapt = format!("/reviews/{}/adapt", page.trim_start_matches("/reviews/"));
    let wrong = manager
        .post_form(
            &page,
            &adapt,
            &[
                ("kind", "kpi_terms"),
                ("kpi_id", &availability.to_string()),
                ("target", "99.8"),
                ("threshold", "99.9"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(
        texts(&wrong.text().await.unwrap(), "#field-threshold-error")[0]
            .starts_with("Where higher is better")
    );
    let key = form_key_in(&manager.get_html(&page).await);
    let fields = [
        ("form_key", key.as_str()),
        ("kind", "kpi_terms"),
        ("kpi_id", &availability.to_string()),
        ("target", "99.95"),
        ("threshold", "99.7"),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(
        manager.post_form(&page, &adapt, &fields).await.status(),
        303
    );
    assert_eq!(
        manager.post_form(&page, &adapt, &fields).await.status(),
        303,
        "twice"
    );
    let terms: Vec<(String, String)> = sqlx::query_as(
        "select effective_from::text, target::text from kpi_terms where kpi_id = $1 order by effective_from",
    )
    .bind(availability)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        terms,
        vec![
            ("2026-01-01".to_string(), "99.9".to_string()),
            ("2026-12-01".to_string(), "99.95".to_string())
        ],
        "November keeps its terms; December is scored with the new ones"
    );
    let key = form_key_in(&manager.get_html(&page).await);
    let cadence = manager
        .post_form(
            &page,
            &adapt,
            &[
                ("form_key", &key),
                ("kind", "cadence"),
                ("cadence", "checkin_cadence:biweekly"),
            ],
        )
        .await;
    assert_eq!(cadence.status(), 303);
    let html = manager.get_html(&page).await;
    assert_eq!(
        texts(&html, "#adaptation-list li").len(),
        2,
        "{:?}",
        texts(&html, "#adaptation-list li")
    );
    assert!(
        texts(&html, "#adaptation-list li")[0]
            .starts_with("Availability: target 99.9 → 99.95, threshold 99.5 → 99.7, from 2026-12")
    );
    assert_eq!(
        app.count("select count(*) from review_adaptations").await,
        2
    );

    let completed = manager
        .post_form(
            &page,
            &page,
            &[
                ("action", "complete"),
                ("what_works", "Incidents are handled calmly."),
                ("decision", "adapt"),
                (
                    "summary",
                    "We continue, with stricter availability from December.",
                ),
                ("internal_notes", "Consider a second supplier next year."),
            ],
        )
        .await;
    assert_eq!(completed.status(), 303);
    let (next, cadence): (chrono::NaiveDate, String) =
        sqlx::query_as("select next_review_due, checkin_cadence from engagements where id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(next.to_string(), "2027-02-03", "a quarter after completion");
    assert_eq!(cadence, "biweekly");

    let seen = vendor.get_html(&page).await;
    assert_eq!(texts(&seen, "#decision"), vec!["Adapt"]);
    assert_eq!(
        texts(&seen, "#summary"),
        vec!["We continue, with stricter availability from December."]
    );
    assert!(
        !seen.contains("second supplier"),
        "internal notes stay internal"
    );
    assert!(!seen.contains("calmly"));
    assert!(texts(&seen, "form[action$='/adapt']").is_empty());
    assert_eq!(texts(&vendor.get_html(&list).await, "tbody tr").len(), 1);
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for action in ["review.start", "review.adapt", "review.complete"] {
        assert!(actions.contains(&action.to_string()), "{action}");
    }
}

#[tokio::test]
async fn another_vendor_sees_no_review() {
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
    let review: i64 = sqlx::query_scalar(
        "insert into reviews (engagement_id, period_start, period_label, snapshot, status, decision, summary,
                              started_by, started_at, completed_at)
         values ($1, '2026-01-01', '2026-01', '{}', 'completed', 'exit', 'Secret summary', $2, now(), now())
         returning id",
    )
    .bind(id)
    .bind(manager.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    for path in [
        format!("/engagements/{id}/reviews"),
        format!("/reviews/{review}"),
    ] {
        let response = vendor.get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(!response.text().await.unwrap().contains("Secret"));
    }
}
