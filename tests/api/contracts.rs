//! Contract terms on the engagement: the form, the dates the pages, the portfolio, its CSV
//! and the API show, and the scheduler's notice reminder on the computed day.

use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::Value;
use trellis::auth::Role;

use crate::api_tokens::create_token;
use crate::helpers::{TestApp, TestClient, TestUser, location, spawn_app, texts};

/// Wednesday 25 November 2026, 10:00 UTC.
fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The engagement form with these contract fields over a valid engagement.
fn form<'a>(
    vendor: &'a str,
    owner: &'a str,
    name: &'a str,
    contract: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("vendor_id", vendor),
        ("name", name),
        ("scope", "Operations"),
        ("objectives", "Keep it running"),
        ("time_zone", "Europe/Berlin"),
        ("status", "draft"),
        ("owner_id", owner),
        ("scorecard_period", "monthly"),
        ("checkin_cadence", "weekly"),
        ("checkin_weekday", "2"),
        ("review_cadence", "quarterly"),
        ("audit_cadence", "semiannual"),
        ("next_review_due", ""),
        ("next_audit_due", ""),
    ];
    fields.extend_from_slice(contract);
    fields
}

struct Setup {
    admin: TestClient,
    vendor_user: TestUser,
    manager: TestUser,
    vendor: String,
    owner: String,
}

async fn setup(app: &TestApp) -> Setup {
    app.clock.set(now());
    let vendor_user = app
        .create_user(Role::Vendor, Some("Acme Outsourcing"))
        .await;
    let owner = app.create_user(Role::Manager, None).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    Setup {
        admin,
        vendor: vendor_user.vendor_id.unwrap().to_string(),
        vendor_user,
        owner: owner.id.to_string(),
        manager: owner,
    }
}

/// Creates an engagement through the form and makes it active; gives its id.
async fn create(app: &TestApp, s: &Setup, name: &str, contract: &[(&str, &str)]) -> i64 {
    let response = s
        .admin
        .post_form(
            "/engagements/new",
            "/engagements/new",
            &form(&s.vendor, &s.owner, name, contract),
        )
        .await;
    assert_eq!(response.status(), 303, "{name}");
    let id = location(&response)
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    sqlx::query("update engagements set status = 'active' where id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    id
}

async fn stored_dates(app: &TestApp, id: i64) -> (Option<NaiveDate>, Option<NaiveDate>) {
    sqlx::query_as("select term_end, notice_by from engagements where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A tacit renewal from 2025-01-01, 12 months at a time, three months' notice: on
/// 2026-11-25 the notice day of the term ending 2026-12-31 (30 September) has passed, so
/// the next one is 30 September 2027, to end on 31 December 2027.
const LATE: &[(&str, &str)] = &[
    ("start_date", "2025-01-01"),
    ("end_date", ""),
    ("initial_term_months", "12"),
    ("renewal", "automatic"),
    ("renewal_months", "12"),
    ("notice_days", "3"),
    ("notice_unit", "months"),
    ("annual_value", "480,000"),
    ("currency", "eur"),
];

/// A tacit renewal from 2025-03-01 to 2026-02-28, renewed to 2027-02-28, 90 days' notice:
/// the last day to give notice is 30 November 2026, five days on.
const SOON: &[(&str, &str)] = &[
    ("start_date", "2025-03-01"),
    ("end_date", "2026-02-28"),
    ("initial_term_months", ""),
    ("renewal", "automatic"),
    ("renewal_months", "12"),
    ("notice_days", "90"),
    ("notice_unit", "days"),
    ("annual_value", ""),
    ("currency", ""),
];

#[tokio::test]
async fn a_tacit_renewal_shows_its_next_notice_day_on_its_pages_in_the_portfolio_and_the_api() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let late = create(&app, &s, "Hosting", LATE).await;
    let soon = create(&app, &s, "Service desk", SOON).await;
    let open = create(
        &app,
        &s,
        "Open-ended",
        &[("start_date", "2026-01-01"), ("notice_days", "30")],
    )
    .await;

    // The initial term's end is worked out from its months; the dates are stored at once.
    let end: Option<NaiveDate> =
        sqlx::query_scalar("select end_date from engagements where id = $1")
            .bind(late)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(end, Some(day("2025-12-31")));
    assert_eq!(
        stored_dates(&app, late).await,
        (Some(day("2027-12-31")), Some(day("2027-09-30")))
    );
    assert_eq!(
        stored_dates(&app, soon).await,
        (Some(day("2027-02-28")), Some(day("2026-11-30")))
    );
    assert_eq!(stored_dates(&app, open).await, (None, None));

    // The engagement page says when notice can still be given, and what it reaches.
    let page = s.admin.get_html(&format!("/engagements/{late}")).await;
    let facts = texts(&page, "dd").join(" | ");
    assert!(
        facts.contains("Renews automatically unless notice is given, for 12 months at a time"),
        "{facts}"
    );
    assert!(
        facts.contains("2027-09-30, to end it on 2027-12-31"),
        "{facts}"
    );
    assert!(facts.contains("3 months"), "{facts}");
    assert!(facts.contains("EUR 480,000.00 a year"), "{facts}");
    let page = s.admin.get_html(&format!("/engagements/{soon}")).await;
    assert!(page.contains("2026-11-30"), "soon's notice day");
    assert!(page.contains("within 30 days"));

    // The portfolio filters by it, sorts by it and shows it; so does its CSV.
    let within = s.admin.get_html("/portfolio?notice=30").await;
    assert!(within.contains("Service desk") && !within.contains("Hosting"));
    assert!(within.contains("2026-11-30"));
    let sorted = s.admin.get_html("/portfolio?sort=notice").await;
    let (a, b, c) = (
        sorted.find("Service desk").unwrap(),
        sorted.find("Hosting").unwrap(),
        sorted.find("Open-ended").unwrap(),
    );
    assert!(a < b && b < c, "soonest notice first, none last");
    let csv = s
        .admin
        .get("/portfolio.csv?sort=notice")
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].ends_with("term_end,notice_by"), "{}", lines[0]);
    assert!(lines[1].contains("Service desk") && lines[1].ends_with("2027-02-28,2026-11-30"));
    assert!(lines[2].contains("Hosting") && lines[2].ends_with("2027-12-31,2027-09-30"));
    assert!(
        lines[3].contains("Open-ended") && lines[3].ends_with(",,"),
        "{}",
        lines[3]
    );

    // The API's portfolio and engagement carry the same dates.
    // Admins keep no tokens; the engagement's owner does.
    let secret = create_token(&app.client_for(&s.manager).await, "contracts").await;
    let get = |path: String| {
        let secret = secret.clone();
        let address = app.address.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{address}{path}"))
                .bearer_auth(secret)
                .send()
                .await
                .unwrap()
        }
    };
    let json = |text: String| serde_json::from_str::<Value>(&text).unwrap();
    let body = json(
        get("/api/v1/portfolio?notice_within=30&sort=notice".into())
            .await
            .text()
            .await
            .unwrap(),
    );
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!(items[0]["engagement_id"], soon);
    assert_eq!(items[0]["notice_by"], "2026-11-30");
    assert_eq!(items[0]["term_end"], "2027-02-28");
    for bad in ["0", "3651", "soon", "-1", ""] {
        let response = get(format!("/api/v1/portfolio?notice_within={bad}")).await;
        assert_eq!(response.status(), 422, "notice_within={bad}");
    }
    let body = json(
        get(format!("/api/v1/engagements/{late}"))
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(body["renewal"], "automatic");
    assert_eq!(body["renewal_months"], 12);
    assert_eq!(body["notice_by"], "2027-09-30");
    assert_eq!(body["term_end"], "2027-12-31");
}

#[tokio::test]
async fn the_notice_reminder_comes_30_days_before_the_computed_day_and_moves_on_when_it_passes() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let soon = create(&app, &s, "Service desk", SOON).await;
    let late = create(&app, &s, "Hosting", LATE).await;
    trellis::scheduler::pass(&app.state).await.unwrap();
    let reminders: Vec<(i64, String, NaiveDate, String)> = sqlx::query_as(
        "select engagement_id, kind, due_on, title from reminders
         where kind in ('notice_date', 'engagement_end') and resolved_at is null order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        reminders,
        vec![(
            soon,
            "notice_date".to_string(),
            day("2026-11-30"),
            "Last day to give notice before it renews: Mon 30 Nov 2026".to_string()
        )],
        "an automatic renewal has no end reminder; the late one's notice day is months away"
    );

    // The day after the notice day the contract has renewed: the next notice day is a year
    // on, and the reminder of the one that passed is resolved.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap());
    trellis::scheduler::pass(&app.state).await.unwrap();
    assert_eq!(
        stored_dates(&app, soon).await,
        (Some(day("2028-02-29")), Some(day("2027-12-01")))
    );
    assert_eq!(
        stored_dates(&app, late).await,
        (Some(day("2027-12-31")), Some(day("2027-09-30")))
    );
    assert_eq!(
        app.count(
            "select count(*) from reminders where kind = 'notice_date' and resolved_at is null"
        )
        .await,
        0
    );
    // Thirty days before the next one, it is raised again.
    app.clock
        .set(Utc.with_ymd_and_hms(2027, 11, 1, 10, 0, 0).unwrap());
    trellis::scheduler::pass(&app.state).await.unwrap();
    let due: Vec<NaiveDate> = sqlx::query_scalar(
        "select due_on from reminders where kind = 'notice_date' and resolved_at is null",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(due, vec![day("2027-12-01")]);
}

/// Form fields, or a field and its error.
type Fields<'a> = &'a [(&'a str, &'a str)];

#[tokio::test]
async fn a_bad_contract_names_each_problem_and_keeps_the_form() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let cases: &[(Fields, Fields)] = &[
        (
            &[
                ("start_date", "2026-01-01"),
                ("end_date", "2026-12-31"),
                ("renewal", "forever"),
                ("notice_days", "30"),
                ("notice_unit", "weeks"),
                ("annual_value", "12,34"),
                ("currency", "EURO"),
            ],
            &[
                ("renewal", "Choose how the contract renews."),
                ("notice_unit", "Choose days or months."),
                (
                    "annual_value",
                    "Enter the value per year in digits, such as 120000 or 120,000.50.",
                ),
                (
                    "currency",
                    "Enter the currency's three-letter code, such as EUR or USD.",
                ),
            ],
        ),
        (
            &[
                ("start_date", "2026-01-01"),
                ("end_date", "2026-06-30"),
                ("initial_term_months", "12"),
                ("renewal", "automatic"),
                ("renewal_months", ""),
                ("notice_days", "121"),
                ("notice_unit", "months"),
                ("annual_value", "1000"),
                ("currency", ""),
            ],
            &[
                (
                    "end_date",
                    "An initial term of 12 months from 2026-01-01 ends on 2026-12-31: leave the end date empty or make it 2026-12-31.",
                ),
                (
                    "renewal_months",
                    "Give the months each automatic renewal runs, such as 12.",
                ),
                ("notice_days", "Enter a whole number from 1 to 120."),
                ("currency", "Give the value's currency, such as EUR."),
            ],
        ),
        (
            &[
                ("start_date", "2026-01-01"),
                ("end_date", ""),
                ("renewal", "decision"),
                ("renewal_months", "0"),
                ("notice_days", "30"),
                ("annual_value", ""),
                ("currency", "USD"),
            ],
            &[
                (
                    "renewal",
                    "A contract that renews needs an initial term: give its end date or its length in months.",
                ),
                ("renewal_months", "Enter a whole number from 1 to 120."),
                (
                    "annual_value",
                    "Give the value per year in this currency, or leave both empty.",
                ),
            ],
        ),
    ];
    for (contract, expected) in cases {
        let response = s
            .admin
            .post_form(
                "/engagements/new",
                "/engagements/new",
                &form(&s.vendor, &s.owner, "Kept name", contract),
            )
            .await;
        assert_eq!(response.status(), 422, "{contract:?}");
        let html = response.text().await.unwrap();
        for (field, message) in *expected {
            assert_eq!(
                texts(&html, &format!("#field-{field}-error")),
                vec![message.to_string()],
                "{field} of {contract:?}"
            );
        }
        assert!(html.contains("Kept name"), "the form is kept");
    }
    assert_eq!(app.count("select count(*) from engagements").await, 0);
}

#[tokio::test]
async fn a_review_that_decides_to_exit_shows_the_last_notice_day_to_both_sides() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let id = create(
        &app,
        &s,
        "Service desk",
        &[
            ("start_date", "2026-01-01"),
            ("end_date", "2027-03-31"),
            ("renewal", "decision"),
            ("notice_days", "2"),
            ("notice_unit", "months"),
        ],
    )
    .await;
    let manager_id: i64 = s.owner.parse().unwrap();
    let review: i64 = sqlx::query_scalar(
        "insert into reviews (engagement_id, period_start, period_label, snapshot, status, decision, summary,
                              started_by, started_at, completed_by, completed_at)
         values ($1, '2026-10-01', '2026-10', '{}', 'completed', 'exit', 'We part ways', $2, now(), $2, now())
         returning id",
    )
    .bind(id)
    .bind(manager_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let vendor = app.client_for(&s.vendor_user).await;
    for html in [
        s.admin.get_html(&format!("/reviews/{review}")).await,
        vendor.get_html(&format!("/reviews/{review}")).await,
    ] {
        assert_eq!(
            texts(&html, "#exit-notice"),
            vec!["Last day to give notice: 2027-01-31, for the contract to end on 2027-03-31."]
        );
    }
    // Another decision shows none.
    sqlx::query("update reviews set decision = 'continue' where id = $1")
        .bind(review)
        .execute(&app.pool)
        .await
        .unwrap();
    let html = s.admin.get_html(&format!("/reviews/{review}")).await;
    assert!(texts(&html, "#exit-notice").is_empty());
}

/// A current document of `vendor` of the kind "Contract", visible as `visibility` says.
async fn contract_document(app: &TestApp, vendor: i64, by: i64, visibility: &str) -> i64 {
    sqlx::query_scalar(
        "with f as (insert into files (name, original_name, content_type, size_bytes, sha256, uploaded_by, uploaded_at)
                    values ('contract.pdf', 'contract.pdf', 'application/pdf', 5, encode(sha256('hello'), 'hex'), $2, now())
                    returning id),
              c as (insert into file_chunks (file_id, seq, bytes) select id, 0, 'hello' from f),
              d as (insert into vendor_documents (vendor_id, kind_id, visibility, created_by, created_at)
                    select $1, id, $3, $2, now() from document_kinds where name = 'Contract' returning id)
         insert into vendor_document_versions (document_id, version, file_id, issuer, valid_from, valid_until,
                                               uploaded_by, uploaded_at, form_key)
         select d.id, 1, f.id, 'Legal', '2025-01-01', '2027-12-31', $2, now(), gen_random_uuid() from d, f
         returning document_id",
    )
    .bind(vendor)
    .bind(by)
    .bind(visibility)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_contract_document_is_one_of_the_vendor_s_documents_and_shows_to_whoever_may_see_it() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let vendor: i64 = s.vendor.parse().unwrap();
    let other = app.create_user(Role::Vendor, Some("Globex Services")).await;
    let internal = contract_document(&app, vendor, s.manager.id, "internal").await;
    let shared = contract_document(&app, vendor, s.manager.id, "shared").await;
    let foreign = contract_document(&app, other.vendor_id.unwrap(), s.manager.id, "shared").await;

    // Another vendor's document, or one that does not exist, is refused beside the field.
    for (bad, message) in [
        (
            foreign.to_string(),
            "That document is another vendor's: choose one of this vendor's, or none.",
        ),
        (
            "999999".to_string(),
            "Choose one of the vendor's documents, or none.",
        ),
    ] {
        let mut fields = LATE.to_vec();
        fields.push(("contract_document_id", &bad));
        let response = s
            .admin
            .post_form(
                "/engagements/new",
                "/engagements/new",
                &form(&s.vendor, &s.owner, "Hosting", &fields),
            )
            .await;
        assert_eq!(response.status(), 422);
        assert_eq!(
            texts(
                &response.text().await.unwrap(),
                "#field-contract_document_id-error"
            ),
            vec![message]
        );
    }
    let (internal_text, shared_text) = (internal.to_string(), shared.to_string());
    let mut fields = LATE.to_vec();
    fields.push(("contract_document_id", &internal_text));
    let id = create(&app, &s, "Hosting", &fields).await;
    let page = s.admin.get_html(&format!("/engagements/{id}")).await;
    assert_eq!(
        texts(&page, "#contract-document"),
        vec!["Contract, version 1, valid until 2027-12-31"]
    );
    // An internal document is the organisation's: the vendor's agreement page leaves it out.
    let vendor_client = app.client_for(&s.vendor_user).await;
    let agreement = format!("/engagements/{id}/agreement");
    assert!(
        texts(
            &vendor_client.get_html(&agreement).await,
            "#contract-document"
        )
        .is_empty()
    );
    let edit = format!("/engagements/{id}/edit");
    let mut fields = LATE.to_vec();
    fields.push(("contract_document_id", &shared_text));
    let response = s
        .admin
        .post_form(&edit, &edit, &form(&s.vendor, &s.owner, "Hosting", &fields))
        .await;
    assert_eq!(response.status(), 303);
    let html = vendor_client.get_html(&agreement).await;
    assert_eq!(
        texts(&html, "#contract-document"),
        vec!["Contract, version 1, valid until 2027-12-31"]
    );
    assert!(html.contains(&format!("/documents/{shared}")));
}
