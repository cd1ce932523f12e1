//! Printable reports: a completed review's and a scorecard's over a range of periods, for
//! each role, across vendors, and as PDF where the machine has Chromium.

use trellis::auth::Role;

use crate::helpers::{TestApp, spawn_app, spawn_app_with, texts};
use crate::scorecard::{record, setup};

/// A completed review of 2026-10 with internal text in every organisation-only field.
async fn completed_review(app: &TestApp, engagement: i64, manager: i64) -> i64 {
    sqlx::query_scalar(
        "insert into reviews (engagement_id, period_start, period_label, snapshot, status, decision, summary,
                              what_works, what_to_improve, internal_notes, started_by, started_at,
                              completed_by, completed_at)
         values ($1, '2026-10-01', '2026-10', '{\"scorecard\": {\"period\": \"2026-10\", \"score\": \"81.5\",
                 \"standing\": \"Good\", \"coverage\": \"100\", \"kpis\": []}}', 'completed', 'continue',
                 'Shared summary for the vendor', 'Internal: what works', 'Internal: what to improve',
                 'Internal: the notes', $2, now(), $2, now())
         returning id",
    )
    .bind(engagement)
    .bind(manager)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_review_report_gives_the_vendor_the_decision_and_summary_and_nothing_internal() {
    let app = spawn_app().await;
    let (s, manager) = setup(&app).await;
    record(&s.manager, s.id, "2026-10", &[(s.availability, "99.7")]).await;
    let review = completed_review(&app, s.id, manager.id).await;
    let path = format!("/reviews/{review}/report");

    let html = s.manager.get_html(&path).await;
    assert_eq!(
        texts(&html, "#summary"),
        vec!["Shared summary for the vendor"]
    );
    assert_eq!(texts(&html, "#internal-notes"), vec!["Internal: the notes"]);
    assert!(html.contains("Internal: what works") && html.contains("Internal: what to improve"));
    assert!(html.contains("81.5"), "the snapshot's score");
    assert!(html.contains("<polyline points=\""), "the trend");
    assert!(html.contains("Made by Test Manager on "));
    assert!(!html.contains("main-nav"), "no navigation on a report");

    let html = s.vendor.get_html(&path).await;
    assert_eq!(
        texts(&html, "#summary"),
        vec!["Shared summary for the vendor"]
    );
    assert!(!html.contains("Internal:"), "nothing internal: {html}");
    assert!(html.contains("Decision: Continue"));

    // The review page links it; another vendor's user and a draft get 404.
    assert!(
        s.manager
            .get_html(&format!("/reviews/{review}"))
            .await
            .contains(&path)
    );
    let stranger = app
        .client_for(&app.create_user(Role::Vendor, Some("Globex Services")).await)
        .await;
    assert_eq!(stranger.get(&path).await.status(), 404);
    assert_eq!(stranger.get(&format!("{path}.pdf")).await.status(), 404);
    sqlx::query("update reviews set status = 'draft', completed_at = null where id = $1")
        .bind(review)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(s.manager.get(&path).await.status(), 404);
    assert_eq!(app.client().get(&path).await.status(), 303, "sign in first");
}

#[tokio::test]
async fn a_scorecard_report_covers_the_periods_asked_for_and_explains_a_range_it_cannot() {
    let app = spawn_app().await;
    let (s, _) = setup(&app).await;
    for period in ["2026-08", "2026-09", "2026-10"] {
        record(&s.manager, s.id, period, &[(s.availability, "99.9")]).await;
    }
    let base = format!("/engagements/{}/report", s.id);
    // By default the twelve periods to the latest closed one, from the engagement's start.
    let html = s.vendor.get_html(&base).await;
    assert_eq!(
        texts(&html, "#report-range"),
        vec!["2026-01 to 2026-10: 2026-01-01 to 2026-10-31"]
    );
    assert_eq!(texts(&html, "#report-periods tbody tr").len(), 10);
    assert!(texts(&html, "#range-note").is_empty());

    let html = s
        .manager
        .get_html(&format!("{base}?from=2026-08&to=2026-10"))
        .await;
    assert_eq!(texts(&html, "#report-periods tbody tr").len(), 3);
    assert!(html.contains("KPIs in 2026-10"));
    for bad in [
        "?from=2026-10&to=2026-08",
        "?from=2026-01&to=2026-12",
        "?from=soon",
        "?from=2020-01&to=2026-10",
    ] {
        let response = s.manager.get(&format!("{base}{bad}")).await;
        assert_eq!(response.status(), 200, "{bad}");
        let html = response.text().await.unwrap();
        assert_eq!(
            texts(&html, "#range-note").len(),
            1,
            "{bad}: a note says why"
        );
        assert_eq!(
            texts(&html, "#report-range"),
            vec!["2026-01 to 2026-10: 2026-01-01 to 2026-10-31"],
            "{bad}"
        );
    }
    let stranger = app
        .client_for(&app.create_user(Role::Vendor, Some("Globex Services")).await)
        .await;
    assert_eq!(stranger.get(&base).await.status(), 404);
    assert!(
        s.manager
            .get_html(&format!("/engagements/{}/scorecard", s.id))
            .await
            .contains(&format!("{base}?to=2026-10"))
    );
}

#[tokio::test]
async fn reports_come_as_pdf_where_the_machine_has_chromium_and_say_so_where_it_has_not() {
    let app = spawn_app_with(|c| c.chromium = None).await;
    let (s, _) = setup(&app).await;
    let html = s
        .manager
        .get_html(&format!("/engagements/{}/report", s.id))
        .await;
    assert!(!html.contains("Download PDF"));
    let response = s
        .manager
        .get(&format!(
            "/engagements/{}/report.pdf?from=2026-09&to=2026-10",
            s.id
        ))
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        crate::helpers::location(&response),
        format!("/engagements/{}/report?from=2026-09&to=2026-10", s.id)
    );
    assert!(html.contains("Print it from your browser"));

    let Some(chromium) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        println!("no Chromium on this machine: the PDF itself is checked where there is one");
        return;
    };
    let app = spawn_app_with(|c| c.chromium = Some(chromium.into())).await;
    let (s, manager) = setup(&app).await;
    record(&s.manager, s.id, "2026-10", &[(s.availability, "99.7")]).await;
    let review = completed_review(&app, s.id, manager.id).await;
    for (client, path) in [
        (&s.manager, format!("/reviews/{review}/report")),
        (&s.vendor, format!("/engagements/{}/report", s.id)),
    ] {
        assert!(
            client
                .get_html(&path)
                .await
                .contains(&format!("{path}.pdf"))
        );
        let response = client.get(&format!("{path}.pdf")).await;
        assert_eq!(response.status(), 200, "{path}.pdf");
        assert_eq!(response.headers()["content-type"], "application/pdf");
        let disposition = response.headers()["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\""),
            "{disposition}"
        );
        let bytes = response.bytes().await.unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        // A4: 595 × 842 points.
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("/MediaBox [0 0 594.95996 841.91998]")
                || text.contains("/MediaBox [0 0 595 842]"),
            "an A4 page"
        );
    }
}
