//! Audits: planned and completed by the engagement's managers, findings remediated by the
//! side that owns them and verified by a manager; an SLA verification verifies or disputes
//! the vendor's reported values. The vendor sees only the findings of its side.

use chrono::TimeZone;
use trellis::auth::Role;

use crate::helpers::{TestApp, engagement, form_key_in, kpi, location, spawn_app, texts};

async fn finding_id(app: &TestApp, side: &str) -> i64 {
    sqlx::query_scalar("select id from findings where owner_side = $1")
        .bind(side)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_audit_is_planned_run_and_its_findings_remediated_and_verified() {
    let app = spawn_app().await;
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap());
    let (vendor, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager, manager_user) = app.signed_in(Role::Manager).await;
    let id = engagement(&app, vendor_user.vendor_id.unwrap(), manager_user.id).await;
    sqlx::query(
        "update engagements set audit_cadence = 'quarterly', status = 'active' where id = $1",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    let resolve = kpi(&app, id, "Time to resolve", "lower", "4", "8", "100").await;
    sqlx::query("update kpis set source = 'vendor' where id = $1")
        .bind(resolve)
        .execute(&app.pool)
        .await
        .unwrap();
    let value: i64 = sqlx::query_scalar(
        "insert into kpi_values (kpi_id, period_start, value, state, recorded_by, recorded_at)
         values ($1, '2026-10-01', 3.5, 'unverified', $2, now()) returning id",
    )
    .bind(resolve)
    .bind(vendor_user.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();

    let new = format!("/engagements/{id}/audits/new");
    let unplanned = manager
        .post_form(
            &new,
            &new,
            &[
                ("kind", "sla_verification"),
                ("scope", "The service desk's reported resolution times."),
                ("planned_on", "2026-11-03"),
                ("auditor", ""),
                ("period", ""),
            ],
        )
        .await;
    assert_eq!(unplanned.status(), 422);
    assert_eq!(
        texts(&unplanned.text().await.unwrap(), ".field-error"),
        vec![
            "Choose the period whose values it verifies.",
            "Name the auditor: a person or a firm.",
        ]
    );
    let planned = manager
        .post_form(
            &new,
            &new,
            &[
                ("kind", "sla_verification"),
                ("scope", "The service desk's reported resolution times."),
                ("planned_on", "2026-11-03"),
                ("auditor", "Internal audit"),
                ("period", "2026-10"),
            ],
        )
        .await;
    assert_eq!(planned.status(), 303);
    let page = location(&planned).to_string();
    assert!(page.starts_with("/audits/"));
    let audit: i64 = page.trim_start_matches("/audits/").parse().unwrap();

    // The SLA verification lists the vendor's values of its period; disputing one leaves it
    // out of the score and comes back to the audit.
    let html = manager.get_html(&page).await;
    assert_eq!(
        texts(&html, "#sla-values td[data-label=Value]"),
        vec!["3.5"]
    );
    let disputed = manager
        .post_form(
            &page,
            &format!("/values/{value}/review"),
            &[
                ("decision", "dispute"),
                ("dispute_note", "The ticket log shows 6 hours."),
                ("back", &page),
            ],
        )
        .await;
    assert_eq!(location(&disputed), page);
    let card = manager
        .get_html(&format!("/engagements/{id}/scorecard?period=2026-10"))
        .await;
    assert_eq!(
        texts(&card, "#score"),
        vec!["No data"],
        "a disputed value does not count"
    );

    let findings = format!("/audits/{audit}/findings");
    let bad = manager
        .post_form(
            &page,
            &findings,
            &[("severity", "severe"), ("description", "")],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert_eq!(
        texts(&bad.text().await.unwrap(), ".field-error"),
        vec![
            "Choose a severity.",
            "Choose who remediates it.",
            "Enter a date.",
            "Describe the finding."
        ]
    );
    for (severity, side, text) in [
        (
            "high",
            "vendor",
            "Resolution times are measured from assignment, not from the report.",
        ),
        ("low", "ours", "Our ticket export lacks the reporting time."),
    ] {
        let html = manager.get_html(&page).await;
        let key = form_key_in(&html);
        let saved = manager
            .post_form(
                &page,
                &findings,
                &[
                    ("form_key", key.as_str()),
                    ("severity", severity),
                    ("owner_side", side),
                    ("due_on", "2026-11-30"),
                    ("description", text),
                ],
            )
            .await;
        assert_eq!(saved.status(), 303);
    }
    assert_eq!(app.count("select count(*) from findings").await, 2);

    let complete = format!("/audits/{audit}/complete");
    let early = manager
        .post_form(
            &page,
            &complete,
            &[
                ("outcome", "pass_with_findings"),
                ("summary", ""),
                ("completed_on", "2026-11-04"),
            ],
        )
        .await;
    assert_eq!(early.status(), 422);
    assert_eq!(
        texts(&early.text().await.unwrap(), ".field-error"),
        vec![
            "An audit completes today or earlier.",
            "Summarise what the audit found."
        ]
    );
    let done = manager
        .post_form(
            &page,
            &complete,
            &[
                ("outcome", "pass_with_findings"),
                (
                    "summary",
                    "Reported times hold up once measured from the report.",
                ),
                ("completed_on", "2026-11-03"),
            ],
        )
        .await;
    assert_eq!(done.status(), 303);
    let next: chrono::NaiveDate =
        sqlx::query_scalar("select next_audit_due from engagements where id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(next.to_string(), "2027-02-03", "a quarter after completion");

    // The vendor sees its side's finding only, and no audit page.
    let list = format!("/engagements/{id}/audits");
    let seen = vendor.get_html(&list).await;
    assert_eq!(
        texts(&seen, ".timeline .prewrap"),
        vec!["Resolution times are measured from assignment, not from the report."]
    );
    assert!(!seen.contains("Our ticket export"));
    assert_eq!(vendor.get(&page).await.status(), 404);
    let ours = finding_id(&app, "ours").await;
    let theirs = finding_id(&app, "vendor").await;
    assert_eq!(
        vendor
            .post_form(
                &list,
                &format!("/findings/{ours}/answer"),
                &[("remediation_plan", "x")]
            )
            .await
            .status(),
        404
    );
    assert!(
        texts(&vendor.get_html("/").await, ".card li")
            .contains(&"1 audit finding waits for your plan".to_string()),
        "the vendor's home says what is asked of them"
    );
    let answer = format!("/findings/{theirs}/answer");
    let empty = vendor
        .post_form(
            &list,
            &answer,
            &[("remediation_plan", " "), ("evidence", "kept")],
        )
        .await;
    assert_eq!(empty.status(), 422);
    let html = empty.text().await.unwrap();
    assert_eq!(
        texts(&html, ".field-error"),
        vec!["Say how and by when it will be remediated."]
    );
    assert_eq!(texts(&html, &format!("#evidence-{theirs}")), vec!["kept"]);
    let answered = vendor
        .post_form(
            &list,
            &answer,
            &[
                (
                    "remediation_plan",
                    "Measure from the report from 10 November.",
                ),
                (
                    "evidence",
                    "Changed the SLA clock in the tool; screenshot in the shared folder.",
                ),
            ],
        )
        .await;
    assert_eq!(answered.status(), 303);
    assert_eq!(
        manager
            .post_form(&page, &answer, &[("remediation_plan", "x")])
            .await
            .status(),
        403,
        "the vendor's side answers its findings"
    );

    let resolve_theirs = format!("/findings/{theirs}/resolve");
    let resolve_ours = format!("/findings/{ours}/resolve");
    let unexplained = manager
        .post_form(
            &page,
            &resolve_ours,
            &[("resolution", "risk_accepted"), ("resolution_note", "")],
        )
        .await;
    assert_eq!(unexplained.status(), 422);
    assert_eq!(
        texts(
            &unexplained.text().await.unwrap(),
            &format!("#resolution-{ours}-error")
        ),
        vec!["Say why the risk is accepted: the reason stays on record."]
    );
    for (path, resolution, note) in [
        (
            &resolve_theirs,
            "closed",
            "Checked ten tickets: measured from the report.",
        ),
        (
            &resolve_ours,
            "risk_accepted",
            "The export is replaced in January.",
        ),
    ] {
        let resolved = manager
            .post_form(
                &page,
                path,
                &[("resolution", resolution), ("resolution_note", note)],
            )
            .await;
        assert_eq!(resolved.status(), 303);
    }
    let states: Vec<String> = sqlx::query_scalar("select status from findings order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(states, vec!["closed", "risk_accepted"]);
    let seen = vendor.get_html(&list).await;
    assert!(texts(&seen, ".badge").contains(&"Verified and closed".to_string()));
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    for action in [
        "audit.plan",
        "finding.create",
        "audit.complete",
        "finding.answer",
        "finding.resolve",
    ] {
        assert!(actions.contains(&action.to_string()), "{action}");
    }
}

#[tokio::test]
async fn another_vendor_sees_no_audit_or_finding() {
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
    let audit: i64 = sqlx::query_scalar(
        "insert into audits (engagement_id, kind, scope, planned_on, auditor, created_by, created_at, form_key)
         values ($1, 'security', 'Secret scope', '2026-01-01', 'a', $2, now(), gen_random_uuid()) returning id",
    )
    .bind(id)
    .bind(manager.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let finding: i64 = sqlx::query_scalar(
        "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on, created_by,
                               created_at, form_key)
         values ($1, $2, 'critical', 'Secret finding', 'vendor', '2026-02-01', $3, now(), gen_random_uuid()) returning id",
    )
    .bind(audit)
    .bind(id)
    .bind(manager.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    for path in [
        format!("/engagements/{id}/audits"),
        format!("/engagements/{id}/audits/new"),
        format!("/audits/{audit}"),
    ] {
        let response = vendor.get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body = response.text().await.unwrap();
        assert!(!body.contains("Secret"), "{path}");
    }
    assert_eq!(
        vendor
            .post_form(
                "/",
                &format!("/findings/{finding}/answer"),
                &[("remediation_plan", "mine now")]
            )
            .await
            .status(),
        404
    );
    assert_eq!(
        app.count("select count(*) from findings where status = 'open'")
            .await,
        1
    );
}
