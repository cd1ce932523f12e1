use chrono::TimeZone;
use trellis::auth::Role;

use crate::helpers::{TestApp, TestClient, TestUser, engagement, kpi, location, spawn_app, texts};

pub(crate) struct Setup {
    pub(crate) manager: TestClient,
    pub(crate) vendor: TestClient,
    pub(crate) id: i64,
    pub(crate) availability: i64,
    pub(crate) resolve: i64,
}

/// A monthly engagement with availability (manager, higher, 99.9/99.5, weight 60) and time to
/// resolve (vendor, lower, 4/8, weight 40); the clock on 3 November 2026 in Berlin, so
/// October is the latest closed period and the vendor's deadline (5 November) is ahead.
pub(crate) async fn setup(app: &TestApp) -> (Setup, TestUser) {
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap());
    let (vendor, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager, manager_user) = app.signed_in(Role::Manager).await;
    let id = engagement(app, vendor_user.vendor_id.unwrap(), manager_user.id).await;
    let availability = kpi(app, id, "Availability", "higher", "99.9", "99.5", "60").await;
    let resolve = kpi(app, id, "Time to resolve", "lower", "4", "8", "40").await;
    sqlx::query("update kpis set source = 'vendor', unit = 'hours' where id = $1")
        .bind(resolve)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update kpis set unit = '%' where id = $1")
        .bind(availability)
        .execute(&app.pool)
        .await
        .unwrap();
    (
        Setup {
            manager,
            vendor,
            id,
            availability,
            resolve,
        },
        manager_user,
    )
}

pub(crate) async fn record(
    client: &TestClient,
    id: i64,
    period: &str,
    values: &[(i64, &str)],
) -> reqwest::Response {
    let page = format!("/engagements/{id}/values?period={period}");
    let mut fields: Vec<(String, String)> = values
        .iter()
        .map(|(k, v)| (format!("value_{k}"), v.to_string()))
        .collect();
    fields.push(("period".into(), period.into()));
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    client
        .post_form(&page, &format!("/engagements/{id}/values"), &refs)
        .await
}

#[tokio::test]
async fn both_sides_record_values_and_the_scorecard_scores_them_as_the_design_says() {
    let app = spawn_app().await;
    let (s, _) = setup(&app).await;
    let card = format!("/engagements/{}/scorecard", s.id);
    let empty = s.vendor.get_html(&card).await;
    assert_eq!(texts(&empty, "#score"), vec!["No data"], "never 0");
    assert_eq!(
        texts(&empty, "h1"),
        vec!["Scorecard 2026-10"],
        "the latest closed period"
    );

    let saved = record(&s.manager, s.id, "2026-10", &[(s.availability, "99.7")]).await;
    assert_eq!(saved.status(), 303);
    assert_eq!(
        location(&saved),
        format!("/engagements/{}/scorecard?period=2026-10", s.id)
    );
    assert_eq!(
        record(&s.vendor, s.id, "2026-10", &[(s.resolve, "6")])
            .await
            .status(),
        303
    );

    let html = s.vendor.get_html(&card).await;
    // 99.7 against 99.9/99.5 scores 75; 6 hours against 4/8 scores 75: the average is 75.
    assert_eq!(texts(&html, "#score"), vec!["75.0"]);
    assert_eq!(texts(&html, "#standing"), vec!["Good"]);
    assert_eq!(
        texts(&html, "#coverage"),
        vec!["100.0% of the weight has data"]
    );
    assert_eq!(
        texts(&html, "td[data-label=Status]"),
        vec!["▲ At risk", "▲ At risk"]
    );
    assert!(texts(&html, "td[data-label=Value]")[1].contains("reported by vendor, unverified"));
    assert!(
        html.contains("<svg") && html.contains("<desc id=\"trend-desc\">"),
        "a server-drawn chart with a text alternative"
    );
    let document = scraper::Html::parse_document(&html);
    let sparks: Vec<String> = document
        .select(&scraper::Selector::parse("svg.spark").unwrap())
        .map(|svg| svg.value().attr("aria-label").unwrap_or("").to_string())
        .collect();
    assert_eq!(sparks.len(), 2, "a trend per KPI");
    assert!(
        sparks[0].starts_with("Availability over 12 periods: 2025-11 no data")
            && sparks[0].ends_with("2026-10 75"),
        "{sparks:?}"
    );
}

#[tokio::test]
async fn a_disputed_vendor_value_does_not_count_and_past_the_deadline_counts_as_breached() {
    let app = spawn_app().await;
    let (s, manager_user) = setup(&app).await;
    record(&s.manager, s.id, "2026-10", &[(s.availability, "99.7")]).await;
    record(&s.vendor, s.id, "2026-10", &[(s.resolve, "6")]).await;
    let value_id: i64 = sqlx::query_scalar("select id from kpi_values where kpi_id = $1")
        .bind(s.resolve)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let values = format!("/engagements/{}/values?period=2026-10", s.id);
    let review = format!("/values/{value_id}/review");
    assert_eq!(
        s.manager
            .post_form(&values, &review, &[("decision", "dispute")])
            .await
            .status(),
        400,
        "a dispute needs a reason"
    );
    assert_eq!(
        s.vendor
            .post_form("/", &review, &[("decision", "verify")])
            .await
            .status(),
        404,
        "the vendor cannot verify itself"
    );
    let disputed = s
        .manager
        .post_form(
            &values,
            &review,
            &[
                ("decision", "dispute"),
                ("dispute_note", "The ticket export shows 9 hours."),
            ],
        )
        .await;
    assert_eq!(disputed.status(), 303);

    let card = format!("/engagements/{}/scorecard", s.id);
    let html = s.manager.get_html(&card).await;
    assert_eq!(
        texts(&html, "#score"),
        vec!["75.0"],
        "only availability counts"
    );
    assert_eq!(
        texts(&html, "#coverage"),
        vec!["60.0% of the weight has data"]
    );

    // 7 November: more than five days after October ended, a disputed vendor value is a breach.
    app.clock
        .set(chrono::Utc.with_ymd_and_hms(2026, 11, 7, 9, 0, 0).unwrap());
    let manager = app.client_for(&manager_user).await;
    let html = manager.get_html(&card).await;
    assert_eq!(texts(&html, "#score"), vec!["45.0"]);
    assert_eq!(texts(&html, "#standing"), vec!["Critical"]);
    assert_eq!(texts(&html, "td[data-label=Status]")[1], "✕ Breached");
}

#[tokio::test]
async fn a_correction_keeps_the_earlier_value_and_open_periods_are_refused() {
    let app = spawn_app().await;
    let (s, _) = setup(&app).await;
    record(&s.manager, s.id, "2026-10", &[(s.availability, "99.7")]).await;
    record(&s.manager, s.id, "2026-10", &[(s.availability, "99.95")]).await;
    let history: Vec<String> = sqlx::query_scalar("select value::text from kpi_value_history")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(history, vec!["99.7"]);
    let current: String = sqlx::query_scalar("select value::text from kpi_values")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(current, "99.95");

    let open = record(&s.manager, s.id, "2026-11", &[(s.availability, "99")]).await;
    assert_eq!(open.status(), 422);
    let bad = record(
        &s.manager,
        s.id,
        "2026-10",
        &[(s.availability, "ninety-nine")],
    )
    .await;
    assert_eq!(bad.status(), 422);
    assert_eq!(
        texts(
            &bad.text().await.unwrap(),
            &format!("#field-value_{}-error", s.availability)
        ),
        vec!["Enter a number, such as 99.5."]
    );
    assert_eq!(app.count("select count(*) from kpi_values").await, 1);
    // A vendor user cannot record a manager-sourced KPI: the field is ignored.
    record(&s.vendor, s.id, "2026-10", &[(s.availability, "10")]).await;
    let current: String = sqlx::query_scalar("select value::text from kpi_values")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(current, "99.95");
}

#[tokio::test]
async fn another_vendor_sees_no_scorecard_and_records_nothing() {
    let app = spawn_app().await;
    let (s, _) = setup(&app).await;
    let stranger = app
        .client_for(&app.create_user(Role::Vendor, Some("Elsewhere")).await)
        .await;
    for path in [
        format!("/engagements/{}/scorecard", s.id),
        format!("/engagements/{}/values", s.id),
    ] {
        assert_eq!(stranger.get(&path).await.status(), 404, "{path}");
    }
    let value = format!("value_{}", s.resolve);
    let response = stranger
        .post_form(
            "/",
            &format!("/engagements/{}/values", s.id),
            &[("period", "2026-10"), (value.as_str(), "1")],
        )
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(app.count("select count(*) from kpi_values").await, 0);
}

#[tokio::test]
async fn the_scorecard_costs_the_same_statements_with_a_year_of_values() {
    let app = spawn_app().await;
    let (s, manager_user) = setup(&app).await;
    let card = format!("/engagements/{}/scorecard", s.id);
    s.manager.get_html("/").await;
    let small = app.statements_for(&s.manager, &card).await;
    sqlx::query(
        "insert into kpi_values (kpi_id, period_start, value, state, recorded_by, recorded_at)
         select k.id, make_date(2025, m, 1), 5, 'verified', $2, now()
         from kpis k, generate_series(1, 12) m where k.engagement_id = $1",
    )
    .bind(s.id)
    .bind(manager_user.id)
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(app.statements_for(&s.manager, &card).await, small);
    assert!(small <= 6, "{small}");
}

#[tokio::test]
async fn the_scorecard_period_is_fixed_once_values_exist() {
    let app = spawn_app().await;
    let (s, _) = setup(&app).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let edit = format!("/engagements/{}/edit", s.id);
    let html = admin.get_html(&edit).await;
    let document = scraper::Html::parse_document(&html);
    let mut fields: Vec<(String, String)> = Vec::new();
    for element in document.select(
        &scraper::Selector::parse("form.form input, form.form select, form.form textarea").unwrap(),
    ) {
        let name = element.value().attr("name").unwrap_or("").to_string();
        if name.is_empty()
            || name == "csrf_token"
            || (element.value().attr("type") == Some("checkbox")
                && element.value().attr("checked").is_none())
        {
            continue;
        }
        let value = match element.value().name() {
            "select" => element
                .select(&scraper::Selector::parse("option[selected]").unwrap())
                .next()
                .and_then(|o| o.value().attr("value"))
                .unwrap_or("")
                .to_string(),
            "textarea" => element.text().collect(),
            _ => element.value().attr("value").unwrap_or("").to_string(),
        };
        fields.push((name, value));
    }
    let weekly: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == "scorecard_period" {
                    "weekly".to_string()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = weekly
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        admin.post_form(&edit, &edit, &refs).await.status(),
        303,
        "no values yet: the period may change"
    );
    record(&s.manager, s.id, "2026-W44", &[(s.availability, "99.9")]).await;
    let monthly: Vec<(String, String)> = fields.clone();
    let refs: Vec<(&str, &str)> = monthly
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let refused = admin.post_form(&edit, &edit, &refs).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        texts(
            &refused.text().await.unwrap(),
            "#field-scorecard_period-error"
        ),
        vec!["The scorecard period is fixed once KPI values have been recorded."]
    );
}

#[tokio::test]
async fn the_portfolio_shows_every_active_engagement_weakest_first_at_a_fixed_cost() {
    let app = spawn_app().await;
    let (s, manager_user) = setup(&app).await;
    sqlx::query("update engagements set status = 'active'")
        .execute(&app.pool)
        .await
        .unwrap();
    record(&s.manager, s.id, "2026-10", &[(s.availability, "99.7")]).await;
    record(&s.vendor, s.id, "2026-10", &[(s.resolve, "9")]).await;
    // 75 × 60% + 0 × 40% = 45: Critical, and time to resolve is the weakest KPI.
    let html = s.manager.get_html("/portfolio").await;
    assert_eq!(texts(&html, "td[data-label=Score]"), vec!["45.0"]);
    assert_eq!(texts(&html, "td[data-label=Standing]"), vec!["Critical"]);
    assert_eq!(
        texts(&html, "td[data-label='Weakest KPI']"),
        vec!["Time to resolve (0)"]
    );
    assert_eq!(
        texts(
            &s.manager.get_html("/portfolio?standing=good").await,
            "tbody tr"
        )
        .len(),
        0
    );
    assert_eq!(s.vendor.get("/portfolio").await.status(), 403);

    // A stored score is dropped by the correction and worked out again.
    record(&s.vendor, s.id, "2026-10", &[(s.resolve, "6")]).await;
    let html = s.manager.get_html("/portfolio").await;
    assert_eq!(texts(&html, "td[data-label=Score]"), vec!["75.0"]);

    let small = app.statements_for(&s.manager, "/portfolio").await;
    for i in 0..10 {
        let vendor = {
            let mut conn = app.pool.acquire().await.unwrap();
            trellis::users::vendor_id_by_name(&mut conn, &format!("Vendor {i}"))
                .await
                .unwrap()
        };
        let id = engagement(&app, vendor, manager_user.id).await;
        kpi(&app, id, "Uptime", "higher", "99", "98", "100").await;
        sqlx::query("update engagements set status = 'active' where id = $1")
            .bind(id)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    assert_eq!(
        app.statements_for(&s.manager, "/portfolio").await,
        small + 3,
        "new engagements are found and scored together: one query to find them, one read, one write"
    );
    assert_eq!(app.statements_for(&s.manager, "/portfolio").await, small);
}

fn csv_body(rows: &[(i64, i64, &str, &str)]) -> String {
    let mut text = "engagement_id,kpi_id,period_start,value,note\n".to_string();
    for (engagement, kpi, start, value) in rows {
        text.push_str(&format!("{engagement},{kpi},{start},{value},imported\n"));
    }
    text
}

#[tokio::test]
async fn a_csv_import_is_all_or_nothing_and_reports_every_bad_line() {
    let app = spawn_app().await;
    let (s, _) = setup(&app).await;
    let other = {
        let mut conn = app.pool.acquire().await.unwrap();
        trellis::users::vendor_id_by_name(&mut conn, "Elsewhere")
            .await
            .unwrap()
    };
    let foreign_engagement = engagement(&app, other, 1).await;
    let foreign_kpi = kpi(
        &app,
        foreign_engagement,
        "Secret",
        "higher",
        "2",
        "1",
        "100",
    )
    .await;
    let bad = format!(
        "{}{},{},2026-10-01,abc,\n{},{},2026-11-01,99,\n{},{},2026-10-01,1,\n{},{},2026-10-01,5,\n{},{},2026-10-15,99,\n",
        csv_body(&[(s.id, s.availability, "2026-10-01", "99.8")]),
        s.id,
        s.availability,
        s.id,
        s.availability,
        foreign_engagement,
        foreign_kpi,
        s.id,
        s.resolve,
        s.id,
        s.availability,
    );
    let response = s
        .manager
        .post_form("/values/import", "/values/import", &[("csv", bad.as_str())])
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    let lines = texts(&html, "#import-errors li");
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(lines[0], "Line 3: value is not a number");
    assert_eq!(lines[1], "Line 4: period 2026-11 has not ended yet");
    assert!(
        lines[2].starts_with("Line 5: you may not record this KPI"),
        "a manager who does not manage it: {lines:?}"
    );
    assert!(
        lines[3].starts_with("Line 6: you may not record this KPI"),
        "{lines:?}"
    );
    assert_eq!(
        lines[4],
        "Line 7: 2026-10-15 is not the first day of a monthly period"
    );
    assert_eq!(
        app.count("select count(*) from kpi_values").await,
        0,
        "nothing written"
    );
    let foreign = csv_body(&[(foreign_engagement, foreign_kpi, "2026-10-01", "1")]);
    let refused = s
        .vendor
        .post_form(
            "/values/import",
            "/values/import",
            &[("csv", foreign.as_str())],
        )
        .await;
    assert_eq!(
        texts(&refused.text().await.unwrap(), "#import-errors li"),
        vec!["Line 2: no such KPI in that engagement"],
        "another vendor's KPI is unknown to a vendor user"
    );

    let good = csv_body(&[
        (s.id, s.availability, "2026-10-01", "99.8"),
        (s.id, s.availability, "2026-09-01", "99.4"),
    ]);
    let imported = s
        .manager
        .post_form(
            "/values/import",
            "/values/import",
            &[("csv", good.as_str())],
        )
        .await;
    assert_eq!(imported.status(), 303);
    assert_eq!(
        texts(&s.manager.get_html("/values/import").await, ".flash"),
        vec!["Imported: 2 values saved."]
    );
    assert_eq!(app.count("select count(*) from kpi_values").await, 2);
}

#[tokio::test]
async fn a_csv_file_uploads_from_the_browser_form_and_a_bad_one_comes_back_to_be_fixed() {
    let app = spawn_app().await;
    let (s, _) = setup(&app).await;
    let token = s.manager.csrf_token("/values/import").await;
    let good = csv_body(&[(s.id, s.availability, "2026-10-01", "99.8")]);
    let mut with_bom = "\u{feff}".as_bytes().to_vec();
    with_bom.extend_from_slice(good.as_bytes());
    let forged = s
        .manager
        .post_multipart(
            "/values/import",
            &[("csrf_token", "forged"), ("csv", "")],
            ("file", "values.csv", &with_bom),
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(app.count("select count(*) from kpi_values").await, 0);

    let uploaded = s
        .manager
        .post_multipart(
            "/values/import",
            &[
                ("csrf_token", &token),
                ("csv", "ignored when a file is chosen"),
            ],
            ("file", "values.csv", &with_bom),
        )
        .await;
    assert_eq!(
        uploaded.status(),
        303,
        "a spreadsheet's byte-order mark is fine"
    );
    assert_eq!(app.count("select count(*) from kpi_values").await, 1);

    let bad = format!("{good}{},{},2026-09-01,lots,\n", s.id, s.availability);
    let refused = s
        .manager
        .post_multipart(
            "/values/import",
            &[("csrf_token", &token), ("csv", "")],
            ("file", "values.csv", bad.as_bytes()),
        )
        .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert_eq!(
        texts(&html, "#import-errors li"),
        vec!["Line 3: value is not a number"]
    );
    assert_eq!(
        texts(&html, "#field-csv"),
        vec![bad.split_whitespace().collect::<Vec<_>>().join(" ")],
        "the file's text comes back in the paste area, to be fixed there"
    );

    let latin1 = s
        .manager
        .post_multipart(
            "/values/import",
            &[("csrf_token", &token)],
            (
                "file",
                "values.csv",
                b"engagement_id,kpi_id,period_start,value,note\n1,2,2026-10-01,3,caf\xe9\n",
            ),
        )
        .await;
    assert_eq!(latin1.status(), 400);
    assert!(latin1.text().await.unwrap().contains("not UTF-8 text"));
    assert_eq!(app.count("select count(*) from kpi_values").await, 1);
}

#[tokio::test]
async fn the_scorecard_export_reads_back_through_the_import() {
    let app = spawn_app().await;
    let (s, _) = setup(&app).await;
    record(&s.manager, s.id, "2026-10", &[(s.availability, "99.7")]).await;
    let response = s
        .vendor
        .get(&format!("/engagements/{}/scorecard.csv", s.id))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with("engagement_id,engagement,kpi_id,kpi,period,period_start,value,note,state,status,score\r\n"), "{csv}");
    assert!(
        csv.contains(&format!(
            "{},Availability,2026-10,2026-10-01,99.7,,verified,At risk,75.0",
            s.availability
        )),
        "{csv}"
    );
    // The manager imports the export unchanged: nothing changes, nothing fails.
    let manager_rows: String = csv
        .lines()
        .filter(|l| {
            l.starts_with("engagement_id") || (l.contains(",Availability,") && l.contains(",99.7,"))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let again = s
        .manager
        .post_form(
            "/values/import",
            "/values/import",
            &[("csv", manager_rows.as_str())],
        )
        .await;
    assert_eq!(again.status(), 303);
    assert_eq!(
        texts(&s.manager.get_html("/values/import").await, ".flash"),
        vec!["Imported: 0 values saved."]
    );
    let portfolio = s.manager.get("/portfolio.csv").await;
    assert_eq!(portfolio.status(), 200);
    assert!(portfolio.text().await.unwrap().starts_with(
        "engagement_id,engagement,vendor,tier,owner,period,score,standing,change,weakest_kpi"
    ));
}

#[tokio::test]
async fn seed_scale_writes_exact_counts_that_score_and_stay_apart_and_runs_once() {
    use trellis::seed::scale::{SCALE_PASSWORD, Size, scale};
    let app = spawn_app().await;
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap();
    app.clock.set(now);
    let size = Size {
        vendors: 3,
        engagements: 7,
        kpis: 30,
        values: 95,
        checkins: 20,
    };
    let mut steps = Vec::new();
    scale(
        &app.pool,
        size,
        "UTC",
        now,
        |what: &'static str, done: u64| steps.push((what, done)),
    )
    .await
    .unwrap();
    assert_eq!(steps.last(), Some(&("statistics", size.rows())));

    let scale_engagements = "select e.id from engagements e join vendors v on v.id = e.vendor_id \
                             where v.name like 'Scale vendor %'";
    assert_eq!(
        app.count("select count(*) from vendors where name like 'Scale vendor %'")
            .await,
        3
    );
    assert_eq!(
        app.count("select count(*) from users where email like '%@scale.example'")
            .await,
        4
    );
    assert_eq!(
        app.count(&format!("select count(*) from ({scale_engagements}) e"))
            .await,
        7
    );
    let kpis = format!("select id from kpis where engagement_id in ({scale_engagements})");
    assert_eq!(
        app.count(&format!("select count(*) from ({kpis}) k")).await,
        30
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from kpi_values where kpi_id in ({kpis})"
        ))
        .await,
        95
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from checkins where engagement_id in ({scale_engagements})"
        ))
        .await,
        20
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from (select k.engagement_id from kpis k join kpi_terms t on t.kpi_id = k.id \
             where k.engagement_id in ({scale_engagements}) and t.active \
             group by k.engagement_id having sum(t.weight) <> 100) off"
        ))
        .await,
        0,
        "every engagement's weights total 100"
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from kpi_values where kpi_id in ({kpis}) and period_start >= date '2026-11-01'"
        ))
        .await,
        0,
        "values only for closed periods"
    );

    let vendor = TestClient::new(&app.address);
    assert_eq!(
        vendor
            .login("vendor-00001@scale.example", SCALE_PASSWORD)
            .await
            .status(),
        303
    );
    let ids: Vec<(i64, String)> = sqlx::query_as(&format!(
        "select e.id, v.name from engagements e join vendors v on v.id = e.vendor_id \
         where e.id in ({scale_engagements}) order by e.id"
    ))
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let (own, _) = ids.iter().find(|(_, v)| v == "Scale vendor 00001").unwrap();
    let (other, _) = ids.iter().find(|(_, v)| v == "Scale vendor 00002").unwrap();
    let html = vendor
        .get_html(&format!("/engagements/{own}/scorecard"))
        .await;
    let score = texts(&html, "#score");
    let score: f64 = score[0].parse().expect("a score, not 'No data'");
    assert!((0.0..=100.0).contains(&score));
    assert_eq!(
        vendor
            .get(&format!("/engagements/{other}/scorecard"))
            .await
            .status(),
        404
    );

    let again = scale(&app.pool, size, "UTC", now, |_: &'static str, _: u64| {})
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already"), "{again}");
}

/// The scorecard walks back period by period to the engagement's first and no further.
#[tokio::test]
async fn the_previous_period_link_stops_at_the_engagement_s_first_period() {
    let app = spawn_app().await;
    let (s, _) = setup(&app).await;
    let prev = |html: &str| {
        scraper::Html::parse_document(html)
            .select(&scraper::Selector::parse("a[rel=prev]").unwrap())
            .map(|a| a.value().attr("href").unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    let february = s
        .vendor
        .get_html(&format!("/engagements/{}/scorecard?period=2026-02", s.id))
        .await;
    assert_eq!(
        prev(&february),
        [format!("/engagements/{}/scorecard?period=2026-01", s.id)]
    );
    // The engagement began on 1 January 2026.
    let january = s
        .vendor
        .get_html(&format!("/engagements/{}/scorecard?period=2026-01", s.id))
        .await;
    assert!(prev(&january).is_empty(), "{:?}", prev(&january));
}
