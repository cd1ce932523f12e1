//! The scorecard cache (`trellis::cache`): every write that changes what a scorecard shows is
//! seen on the very next request, on the instance that wrote and on one that had the old
//! scorecard cached, whatever wrote it (a form on either instance, or SQL). Who may see a
//! scorecard is decided before the cache is asked.

use chrono::TimeZone;
use trellis::auth::Role;

use crate::api_tokens::create_token;
use crate::helpers::{TestApp, TestClient, form_key_in, texts};
use crate::scorecard::{record, setup};

/// What the scorecard page shows: heading, score, coverage, each KPI's target, value and
/// status, and the proactivity line.
async fn shown(client: &TestClient, id: i64) -> Vec<Vec<String>> {
    let html = client
        .get_html(&format!("/engagements/{id}/scorecard"))
        .await;
    [
        "h1",
        "#score",
        "#coverage",
        "td[data-label=Target]",
        "td[data-label=Value]",
        "td[data-label=Status]",
        "#proactivity",
        "td[data-label=KPI]",
    ]
    .iter()
    .map(|css| texts(&html, css))
    .collect()
}

/// Both instances show the same scorecard, and it passes `check`.
async fn both_show(
    a: &TestClient,
    b: &TestClient,
    id: i64,
    what: &str,
    check: impl Fn(&[Vec<String>]) -> bool,
) {
    let on_a = shown(a, id).await;
    let on_b = shown(b, id).await;
    assert_eq!(on_a, on_b, "{what}: the instances disagree");
    assert!(check(&on_a), "{what}: {on_a:?}");
}

async fn value_id(app: &TestApp, kpi: i64) -> i64 {
    sqlx::query_scalar(
        "select id from kpi_values where kpi_id = $1 and period_start = '2026-10-01'",
    )
    .bind(kpi)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn every_write_that_changes_a_scorecard_shows_on_the_next_request_of_either_instance() {
    let app = spawn_app_active().await;
    let (s, _) = setup(&app).await;
    activate(&app, s.id).await;
    let other = app.another_instance().await;
    let vendor_b = app.same_session_on(&s.vendor, &other);
    let manager_b = app.same_session_on(&s.manager, &other);
    let id = s.id;
    let card = format!("/engagements/{id}/scorecard");
    let values = format!("/engagements/{id}/values?period=2026-10");

    // Each instance computes and keeps the empty scorecard.
    both_show(&s.vendor, &vendor_b, id, "empty", |v| v[1] == ["No data"]).await;
    both_show(&s.manager, &manager_b, id, "empty", |v| v[1] == ["No data"]).await;

    // A value recorded on one instance shows on the other.
    assert_eq!(
        record(&manager_b, id, "2026-10", &[(s.availability, "99.7")])
            .await
            .status(),
        303
    );
    both_show(&s.vendor, &vendor_b, id, "recorded on B", |v| {
        v[1] == ["75.0"] && v[2] == ["60.0% of the weight has data"]
    })
    .await;
    assert_eq!(
        record(&s.vendor, id, "2026-10", &[(s.resolve, "6")])
            .await
            .status(),
        303
    );
    both_show(&s.manager, &manager_b, id, "recorded on A", |v| {
        v[1] == ["75.0"] && v[4][1].contains("reported by vendor, unverified")
    })
    .await;

    // Corrected: 4 hours meets the target of 4, so (75 × 60 + 100 × 40) / 100.
    record(&vendor_b, id, "2026-10", &[(s.resolve, "4")]).await;
    both_show(&s.manager, &manager_b, id, "corrected", |v| {
        v[1] == ["85.0"]
    })
    .await;

    // Disputed on B: the vendor's value no longer counts, on A either.
    let review = format!("/values/{}/review", value_id(&app, s.resolve).await);
    let disputed = manager_b
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
    both_show(&s.vendor, &vendor_b, id, "disputed", |v| {
        v[1] == ["75.0"] && v[4][1].contains("disputed")
    })
    .await;

    // Corrected again and verified on B: counted, and no longer marked.
    record(&s.vendor, id, "2026-10", &[(s.resolve, "4")]).await;
    let verified = manager_b
        .post_form(&values, &review, &[("decision", "verify")])
        .await;
    assert_eq!(verified.status(), 303);
    both_show(&s.vendor, &vendor_b, id, "verified", |v| {
        v[1] == ["85.0"] && !v[4][1].contains("unverified") && !v[4][1].contains("disputed")
    })
    .await;

    // Terms and weights changed behind both instances' backs, in SQL: 99.7 against 99.8/99.5
    // scores 83.3, weighted (83.33 × 20 + 100 × 80) / 100.
    sqlx::query("update kpi_terms set target = 99.8, weight = 20 where kpi_id = $1")
        .bind(s.availability)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update kpi_terms set weight = 80 where kpi_id = $1")
        .bind(s.resolve)
        .execute(&app.pool)
        .await
        .unwrap();
    both_show(&s.vendor, &vendor_b, id, "terms changed", |v| {
        v[3][0] == "99.8%" && v[1] == ["96.7"]
    })
    .await;

    // A KPI renamed.
    sqlx::query("update kpis set name = 'Uptime' where id = $1")
        .bind(s.availability)
        .execute(&app.pool)
        .await
        .unwrap();
    both_show(&s.vendor, &vendor_b, id, "renamed", |v| {
        v[7][1].starts_with("Uptime")
    })
    .await;

    // A proposal raised on A and answered on B: the proactivity line follows.
    let new = format!("/engagements/{id}/proposals/new");
    let key = form_key_in(&s.vendor.get_html(&new).await);
    let raised = s
        .vendor
        .post_form(
            &new,
            &new,
            &[
                ("form_key", key.as_str()),
                ("kind", "improvement"),
                ("title", "Automate patching"),
                ("description", "Patching takes two evenings a month."),
                ("proposed_action", "Roll out the automated pipeline."),
                ("expected_impact", "Fewer change incidents."),
            ],
        )
        .await;
    assert_eq!(raised.status(), 303);
    both_show(&s.manager, &manager_b, id, "proposal raised", |v| {
        v[6] == ["Last 90 days: 1 proposal raised by the vendor, 0 accepted."]
    })
    .await;
    let proposal: i64 = sqlx::query_scalar("select id from proposals")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let answered = manager_b
        .post_form(
            &format!("/engagements/{id}/proposals"),
            &format!("/proposals/{proposal}/answer"),
            &[("answer", "accepted")],
        )
        .await;
    assert_eq!(answered.status(), 303);
    both_show(&s.vendor, &vendor_b, id, "proposal answered", |v| {
        v[6] == ["Last 90 days: 1 proposal raised by the vendor, 1 accepted."]
    })
    .await;

    // A period closes at midnight in the engagement's zone (Berlin): the scorecard turns
    // to November on the first request after it, though nothing was written.
    move_clock(
        &app,
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, 22, 59, 59)
            .unwrap(),
    )
    .await;
    both_show(&s.vendor, &vendor_b, id, "last second of November", |v| {
        v[0] == ["Scorecard 2026-10"]
    })
    .await;
    move_clock(
        &app,
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 30, 23, 0, 1)
            .unwrap(),
    )
    .await;
    both_show(&s.vendor, &vendor_b, id, "first second of December", |v| {
        v[0] == ["Scorecard 2026-11"]
    })
    .await;
    // 90 days after it was raised the proposal leaves the proactivity window, at the
    // minute it does, though nothing was written.
    let raised_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select raised_at from proposals")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    move_clock(
        &app,
        raised_at + chrono::Duration::days(90) - chrono::Duration::seconds(1),
    )
    .await;
    assert_eq!(
        shown(&s.vendor, id).await[6],
        ["Last 90 days: 1 proposal raised by the vendor, 1 accepted."]
    );
    move_clock(
        &app,
        raised_at + chrono::Duration::days(90) + chrono::Duration::seconds(1),
    )
    .await;
    assert_eq!(
        shown(&s.vendor, id).await[6],
        ["No proposals from the vendor in the last 90 days."]
    );
    assert_eq!(s.vendor.get(&card).await.status(), 200);
}

#[tokio::test]
async fn the_api_scorecard_follows_writes_on_either_instance_and_names_who_recorded() {
    let app = spawn_app_active().await;
    let (s, _) = setup(&app).await;
    let other = app.another_instance().await;
    let secret = create_token(&s.vendor, "cache").await;
    let get = |base: String| {
        let secret = secret.clone();
        async move {
            let response = reqwest::Client::new()
                .get(format!("{base}/api/v1/engagements/{}/scorecard", s.id))
                .header("authorization", format!("Bearer {secret}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            serde_json::from_str::<serde_json::Value>(&response.text().await.unwrap()).unwrap()
        }
    };
    let recorder = |body: &serde_json::Value| body["kpis"][0]["value"]["recorded_by"].clone();
    assert!(get(app.address.clone()).await["score"].is_null());
    assert!(get(other.clone()).await["score"].is_null());

    let manager_b = app.same_session_on(&s.manager, &other);
    record(&manager_b, s.id, "2026-10", &[(s.availability, "99.7")]).await;
    let on_a = get(app.address.clone()).await;
    assert_eq!(on_a["score"], "75.0");
    assert_eq!(on_a, get(other.clone()).await);
    assert_eq!(recorder(&on_a), "Test Manager");

    // The recorder's name changes: every scorecard that names them follows.
    sqlx::query("update users set name = 'Renamed Manager' where name = 'Test Manager'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(recorder(&get(app.address.clone()).await), "Renamed Manager");
    assert_eq!(recorder(&get(other.clone()).await), "Renamed Manager");
}

#[tokio::test]
async fn a_cached_scorecard_is_still_refused_to_another_vendor_and_to_the_wrong_role() {
    let app = spawn_app_active().await;
    let (s, _) = setup(&app).await;
    let card = format!("/engagements/{}/scorecard", s.id);
    // Cached by its own vendor's user and its manager.
    assert_eq!(s.vendor.get(&card).await.status(), 200);
    assert_eq!(s.manager.get(&card).await.status(), 200);

    let stranger = app.create_user(Role::Vendor, Some("Globex Services")).await;
    let stranger = app.client_for(&stranger).await;
    assert_eq!(stranger.get(&card).await.status(), 404);
    assert_eq!(stranger.get(&format!("{card}.csv")).await.status(), 404);
    let secret = create_token(&stranger, "stranger").await;
    let api = reqwest::Client::new()
        .get(format!("{}/api/v1{card}", app.address))
        .header("authorization", format!("Bearer {secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
    let anonymous = app.client();
    assert_eq!(anonymous.get(&card).await.status(), 303);
}

/// A fresh application whose scorecards may be cached (the default settings).
async fn spawn_app_active() -> TestApp {
    let app = crate::helpers::spawn_app().await;
    assert!(
        app.state.config.cache_bytes > 0,
        "the cache is on by default"
    );
    app
}

async fn activate(app: &TestApp, id: i64) {
    sqlx::query("update engagements set status = 'active' where id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
}

/// Sets the clock, keeping the test's sessions alive across the jump.
async fn move_clock(app: &TestApp, to: chrono::DateTime<chrono::Utc>) {
    app.clock.set(to);
    sqlx::query("update sessions set created_at = $1, last_seen_at = $1")
        .bind(to)
        .execute(&app.pool)
        .await
        .unwrap();
}

/// What the portfolio shows at `path`: each row's engagement cell, period, score and standing.
async fn portfolio_rows(client: &TestClient, path: &str) -> Vec<String> {
    let html = client.get_html(path).await;
    let cells: Vec<Vec<String>> = [
        "td[data-label=Engagement]",
        "td[data-label=Period]",
        "td[data-label=Score]",
        "td[data-label=Standing]",
    ]
    .iter()
    .map(|css| texts(&html, css))
    .collect();
    (0..cells[0].len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

/// Both instances show the same portfolio at `path`, and it is `expected`.
async fn both_list(a: &TestClient, b: &TestClient, path: &str, what: &str, expected: &[&str]) {
    let on_a = portfolio_rows(a, path).await;
    let on_b = portfolio_rows(b, path).await;
    assert_eq!(on_a, on_b, "{what}: the instances disagree");
    assert_eq!(on_a, expected, "{what}");
}

#[tokio::test]
async fn every_write_that_changes_the_portfolio_shows_on_the_next_request_of_either_instance() {
    let app = spawn_app_active().await;
    let (s, owner) = setup(&app).await;
    activate(&app, s.id).await;
    let other = app.another_instance().await;
    let manager_b = app.same_session_on(&s.manager, &other);
    let all = "/portfolio";
    let (name, owner): (String, String) = sqlx::query_as(
        "select e.name, u.name from engagements e join users u on u.id = $2 where e.id = $1",
    )
    .bind(s.id)
    .bind(owner.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let row = |vendor: &str, score: &str, standing: &str| {
        format!("{name}{vendor} · {owner} | 2026-10 | {score} | {standing}")
    };
    let empty = row("Acme Outsourcing", "—", "No data");
    both_list(&s.manager, &manager_b, all, "empty", &[&empty]).await;

    // A value recorded on one instance shows on the other's kept page.
    record(&manager_b, s.id, "2026-10", &[(s.availability, "99.7")]).await;
    let recorded = row("Acme Outsourcing", "75.0", "Good");
    both_list(&s.manager, &manager_b, all, "recorded on B", &[&recorded]).await;

    // A vendor renamed by SQL, as another instance's form would.
    sqlx::query("update vendors set name = 'Acme Services' where name = 'Acme Outsourcing'")
        .execute(&app.pool)
        .await
        .unwrap();
    let renamed = row("Acme Services", "75.0", "Good");
    both_list(&s.manager, &manager_b, all, "vendor renamed", &[&renamed]).await;

    // The filter by manager follows a co-manager added and removed.
    let co = app.create_user(Role::Manager, None).await;
    let theirs = format!("/portfolio?manager={}", co.id);
    both_list(&s.manager, &manager_b, &theirs, "not theirs yet", &[]).await;
    sqlx::query("insert into engagement_managers (engagement_id, user_id) values ($1, $2)")
        .bind(s.id)
        .bind(co.id)
        .execute(&app.pool)
        .await
        .unwrap();
    both_list(
        &s.manager,
        &manager_b,
        &theirs,
        "co-manager added",
        &[&renamed],
    )
    .await;
    sqlx::query("delete from engagement_managers where user_id = $1")
        .bind(co.id)
        .execute(&app.pool)
        .await
        .unwrap();
    both_list(&s.manager, &manager_b, &theirs, "co-manager removed", &[]).await;

    // A month later November has closed: the kept page of October is not served.
    move_clock(
        &app,
        chrono::Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap(),
    )
    .await;
    let november = row("Acme Services", "—", "No data").replace("2026-10", "2026-11");
    both_list(&s.manager, &manager_b, all, "a month later", &[&november]).await;

    // An engagement that is no longer active leaves the portfolio at once.
    sqlx::query("update engagements set status = 'paused' where id = $1")
        .bind(s.id)
        .execute(&app.pool)
        .await
        .unwrap();
    both_list(&s.manager, &manager_b, all, "paused", &[]).await;
}
