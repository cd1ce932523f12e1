//! Questionnaires: a manager sends the shipped security baseline, the vendor answers it over
//! several sittings and submits, the manager asks for clarification on one answer, the
//! vendor answers it, the manager completes it, and the failing answer becomes a finding.
//! Another vendor's users get 404 everywhere.

use chrono::Duration;
use trellis::auth::Role;
use trellis::scheduler;

use crate::helpers::{TestApp, TestClient, TestUser, active_engagement, location, spawn_app};

struct Case {
    app: TestApp,
    vendor: TestClient,
    vendor_user: TestUser,
    manager: TestClient,
    other: TestClient,
    engagement: i64,
}

async fn case() -> Case {
    let app = spawn_app().await;
    let (vendor, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager, manager_user) = app.signed_in(Role::Manager).await;
    let other_user = app.create_user(Role::Vendor, Some("Other Vendor")).await;
    let other = app.client_for(&other_user).await;
    let engagement = active_engagement(&app, vendor_user.vendor_id.unwrap(), manager_user.id).await;
    Case {
        app,
        vendor,
        vendor_user,
        manager,
        other,
        engagement,
    }
}

impl Case {
    /// Sends the security baseline, due in `days`; its id.
    async fn send(&self, days: i64) -> i64 {
        let due = (self.app.clock.now().date_naive() + Duration::days(days)).to_string();
        let vendor = self.vendor_user.vendor_id.unwrap().to_string();
        let engagement = self.engagement.to_string();
        let html = self.manager.get_html("/questionnaires/new").await;
        let key = crate::helpers::form_key_in(&html);
        let response = self
            .manager
            .post_form(
                "/questionnaires/new",
                "/questionnaires/new",
                &[
                    ("form_key", &key),
                    ("template", "1"),
                    ("vendor", &vendor),
                    ("engagement", &engagement),
                    ("due_on", &due),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        location(&response)
            .trim_start_matches("/questionnaires/")
            .parse()
            .unwrap()
    }

    /// (question id, kind, position) of the template, in order.
    async fn questions(&self) -> Vec<(i64, String, i32)> {
        sqlx::query_as("select id, kind, position from questionnaire_questions where template_id = 1 order by position")
            .fetch_all(&self.app.pool)
            .await
            .unwrap()
    }

    /// Good answers to every question, but "no" to the first (a failing one).
    async fn answers(&self) -> Vec<(String, String)> {
        self.questions()
            .await
            .into_iter()
            .map(|(id, kind, position)| {
                let value = match (kind.as_str(), position) {
                    ("yes_no", 1) => "no",
                    ("yes_no", _) => "yes",
                    ("single" | "multiple", _) => "0",
                    ("number", _) => "24",
                    ("date", _) => "2026-06-01",
                    _ => "Germany",
                };
                (format!("q{id}"), value.to_string())
            })
            .collect()
    }

    async fn status(&self, id: i64) -> String {
        sqlx::query_scalar("select status from questionnaires where id = $1")
            .bind(id)
            .fetch_one(&self.app.pool)
            .await
            .unwrap()
    }
}

fn fields<'a>(
    pairs: &'a [(String, String)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    out.extend_from_slice(extra);
    out
}

#[tokio::test]
async fn the_vendor_answers_a_manager_asks_for_clarification_completes_it_and_a_failing_answer_becomes_a_finding()
 {
    let c = case().await;
    let id = c.send(20).await;
    let page = format!("/questionnaires/{id}");
    let answers = c.answers().await;
    let (first_field, _) = answers[0].clone();

    // A first sitting: half of it, saved as a draft.
    let half = &answers[..10];
    let response = c
        .vendor
        .post_form(
            &page,
            &format!("{page}/answers"),
            &fields(half, &[("action", "save")]),
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(c.status(id).await, "open");
    // Submitting with required questions unanswered is refused, with what was typed kept.
    let response = c
        .vendor
        .post_form(
            &page,
            &format!("{page}/answers"),
            &fields(half, &[("action", "submit")]),
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Answer this question before submitting."),
        "{html}"
    );
    // A bad number is refused too.
    let number = c
        .questions()
        .await
        .into_iter()
        .find(|(_, kind, _)| kind == "number")
        .unwrap()
        .0;
    let bad = format!("q{number}");
    let response = c
        .vendor
        .post_form(
            &page,
            &format!("{page}/answers"),
            &[(bad.as_str(), "a day or two"), ("action", "save")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("Enter a number"));

    // The second sitting: everything, submitted.
    let response = c
        .vendor
        .post_form(
            &page,
            &format!("{page}/answers"),
            &fields(&answers, &[("action", "submit")]),
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(c.status(id).await, "submitted");

    // The manager accepts all but the first, whose clarification needs a comment.
    let ids: Vec<i64> = c
        .questions()
        .await
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    let mut review: Vec<(String, String)> = ids
        .iter()
        .map(|q| (format!("decision{q}"), "accept".to_string()))
        .collect();
    review[0].1 = "clarify".into();
    let response = c
        .manager
        .post_form(&page, &format!("{page}/review"), &fields(&review, &[]))
        .await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Say what is missing")
    );
    let comment = format!("comment{}", ids[0]);
    let response = c
        .manager
        .post_form(
            &page,
            &format!("{page}/review"),
            &fields(
                &review,
                &[(comment.as_str(), "Which policy, approved when?")],
            ),
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(c.status(id).await, "open");

    // The vendor sees the question again, with the comment; the accepted ones are settled.
    let html = c.vendor.get_html(&page).await;
    assert!(html.contains("Which policy, approved when?"), "{html}");
    assert!(html.contains(&format!("name=\"{first_field}\"")), "{html}");
    assert!(!html.contains(&format!("name=\"q{}\"", ids[1])), "{html}");
    let response = c
        .vendor
        .post_form(
            &page,
            &format!("{page}/answers"),
            &[(first_field.as_str(), "no"), ("action", "submit")],
        )
        .await;
    assert_eq!(response.status(), 303);

    // The manager accepts it: complete, scored, and the failing answer is a finding.
    let decision = format!("decision{}", ids[0]);
    let response = c
        .manager
        .post_form(
            &page,
            &format!("{page}/review"),
            &[(decision.as_str(), "accept")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(c.status(id).await, "completed");
    let score: rust_decimal::Decimal =
        sqlx::query_scalar("select score from questionnaires where id = $1")
            .bind(id)
            .fetch_one(&c.app.pool)
            .await
            .unwrap();
    assert!(
        score > rust_decimal::Decimal::from(80) && score < rust_decimal::Decimal::from(100),
        "{score}"
    );
    let findings: Vec<String> = sqlx::query_scalar(
        "select description from findings where engagement_id = $1 and owner_side = 'vendor'",
    )
    .bind(c.engagement)
    .fetch_all(&c.app.pool)
    .await
    .unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].starts_with("Do you have an information security policy"),
        "{findings:?}"
    );
    let audits = c
        .vendor
        .get_html(&format!("/engagements/{}/audits", c.engagement))
        .await;
    assert!(
        audits.contains("Do you have an information security policy"),
        "{audits}"
    );
    let html = c.vendor.get_html(&page).await;
    assert!(html.contains(&score.to_string()), "{html}");

    // The next cycle starts from these answers, each marked for the vendor to confirm; saving
    // confirms them.
    let next = c.send(20).await;
    let next_page = format!("/questionnaires/{next}");
    let html = c.vendor.get_html(&next_page).await;
    assert!(html.contains("Carried over"), "{html}");
    assert!(
        html.contains(&format!("name=\"{first_field}\" value=\"no\" checked")),
        "{html}"
    );
    let carried = || async {
        c.app
            .count(&format!(
                "select count(*) from questionnaire_answers where questionnaire_id = {next} and carried_over"
            ))
            .await
    };
    assert_eq!(carried().await, answers.len() as i64);
    let response = c
        .vendor
        .post_form(
            &next_page,
            &format!("{next_page}/answers"),
            &fields(&answers, &[("action", "save")]),
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(carried().await, 0);
}

#[tokio::test]
async fn another_vendor_s_users_get_404_on_every_questionnaire_page_and_form() {
    let c = case().await;
    let id = c.send(20).await;
    let answers = c.answers().await;
    let token = c.other.csrf_token("/").await;
    assert_eq!(
        c.other.get(&format!("/questionnaires/{id}")).await.status(),
        404
    );
    let posted = c
        .other
        .post_raw(
            &format!("/questionnaires/{id}/answers"),
            &fields(&answers, &[("csrf_token", &token), ("action", "submit")]),
        )
        .await;
    assert_eq!(posted.status(), 404);
    let reviewed = c
        .other
        .post_raw(
            &format!("/questionnaires/{id}/review"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(reviewed.status(), 404);
    let list = c.other.get_html("/questionnaires").await;
    assert!(!list.contains(&format!("/questionnaires/{id}\"")), "{list}");
    assert_eq!(
        c.app
            .count("select count(*) from questionnaire_answers")
            .await,
        0
    );
    // A vendor user sends none and reviews none.
    assert_eq!(c.vendor.get("/questionnaires/new").await.status(), 403);
}

#[tokio::test]
async fn the_vendor_is_reminded_a_week_and_a_day_before_the_due_date_and_once_overdue() {
    let c = case().await;
    let id = c.send(6).await;
    let keys = || async {
        let keys: Vec<String> = sqlx::query_scalar(
            "select r.dedupe_key from inbox_items i join reminders r on r.id = i.reminder_id
             where i.user_id = $1 and r.kind = 'questionnaire_due' and r.resolved_at is null",
        )
        .bind(c.vendor_user.id)
        .fetch_all(&c.app.pool)
        .await
        .unwrap();
        keys
    };
    assert_eq!(keys().await, vec![format!("questionnaire_due:{id}:7")]);
    c.app.clock.advance(Duration::days(5));
    scheduler::pass(&c.app.state).await.unwrap();
    assert_eq!(keys().await, vec![format!("questionnaire_due:{id}:1")]);
    c.app.clock.advance(Duration::days(2));
    scheduler::pass(&c.app.state).await.unwrap();
    assert_eq!(
        keys().await,
        vec![format!("questionnaire_due:{id}:overdue")]
    );
}

#[tokio::test]
async fn a_questionnaire_waits_on_the_vendor_s_home_then_on_its_manager_s_and_never_on_another_vendor_s()
 {
    let c = case().await;
    let id = c.send(10).await;
    let link = format!("href=\"/questionnaires/{id}\"");
    let listed = |html: &str| html.contains("id=\"home-questionnaires\"") && html.contains(&link);
    assert!(listed(&c.vendor.get_html("/").await), "to answer");
    assert!(
        !listed(&c.manager.get_html("/").await),
        "nothing to review yet"
    );
    assert!(!listed(&c.other.get_html("/").await));
    sqlx::query(
        "update questionnaires set status = 'submitted', submitted_at = now() where id = $1",
    )
    .bind(id)
    .execute(&c.app.pool)
    .await
    .unwrap();
    assert!(!listed(&c.vendor.get_html("/").await));
    assert!(listed(&c.manager.get_html("/").await), "to review");
    let (admin, _) = c.app.signed_in(Role::Admin).await;
    assert!(listed(&admin.get_html("/").await));
    assert!(!listed(&c.other.get_html("/").await));
}

#[tokio::test]
async fn a_review_s_snapshot_keeps_the_vendor_s_questionnaires_as_they_stood() {
    let c = case().await;
    c.send(10).await;
    let list = format!("/engagements/{}/reviews", c.engagement);
    let period = trellis::period::Period::latest_closed(
        trellis::vocab::PeriodKind::Monthly,
        c.app.clock.today(chrono_tz::Europe::Berlin),
    )
    .label();
    let started = c
        .manager
        .post_form(&list, &list, &[("period", period.as_str())])
        .await;
    assert_eq!(started.status(), 303);
    let review = location(&started).to_string();
    let due = c.app.clock.now().date_naive() + Duration::days(10);
    let sentence = format!(": being answered, due {due}");
    let shown = crate::helpers::texts(
        &c.manager.get_html(&review).await,
        "#snapshot-questionnaires",
    );
    assert_eq!(shown.len(), 1);
    assert!(shown[0].ends_with(&sentence), "{shown:?}");
    // Completing it later leaves the snapshot as it was.
    sqlx::query("update questionnaires set status = 'completed', completed_at = now(), score = 80")
        .execute(&c.app.pool)
        .await
        .unwrap();
    let shown = crate::helpers::texts(
        &c.manager.get_html(&review).await,
        "#snapshot-questionnaires",
    );
    assert!(shown[0].ends_with(&sentence), "{shown:?}");
}
