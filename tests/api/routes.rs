//! The route table: what anonymous visitors, vendor users, managers and admins get on every
//! route. The test walks every route the router has; a route missing from the table fails.

use trellis::auth::Role;

use crate::helpers::{TestApp, TestClient, location, spawn_app_with};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Get {
    /// The page, a form's answer (422 included) or a redirect elsewhere than the login page.
    Ok,
    /// Redirected to the login page.
    Login,
    Forbidden,
    NotFound,
    /// 401: the API, which knows no cookies, wants a bearer token.
    Unauthorized,
}
use Get::{Forbidden as F, Login as L, NotFound as N, Ok as P, Unauthorized as U};

/// method, path, then what [anonymous, vendor, manager, admin] get.
pub(crate) const TABLE: &[(&str, &str, [Get; 4])] = &[
    ("GET", "/", [L, P, P, P]),
    ("GET", "/login", [P, P, P, P]),
    ("POST", "/login", [P, P, P, P]),
    // Without a password waiting for its second step, the login page; signed in, home.
    ("GET", "/login/code", [L, P, P, P]),
    ("POST", "/login/code", [L, P, P, P]),
    ("GET", "/login/enrol", [L, P, P, P]),
    ("POST", "/login/enrol", [L, P, P, P]),
    // Single sign-on is not configured here, so both answer 404 (tests/api/oidc.rs has the
    // provider: the button and the callback are open to anyone, a signed-in visitor is sent home).
    ("GET", "/login/sso", [N, N, N, N]),
    ("GET", "/login/sso/callback", [N, N, N, N]),
    ("POST", "/logout", [L, L, L, L]),
    ("GET", "/account", [L, P, P, P]),
    ("POST", "/account", [L, P, P, P]),
    ("POST", "/account/calendar", [L, P, P, P]),
    // Admins hold no personal tokens; the fixture path names no token of anyone's.
    ("POST", "/account/tokens", [L, P, P, F]),
    ("POST", "/account/tokens/{id}/revoke", [L, N, N, N]),
    // The API's document and its reference are open to everyone.
    ("GET", "/api/openapi.json", [P, P, P, P]),
    ("GET", "/api/reference", [P, P, P, P]),
    // Cookies open nothing on the API.
    ("GET", "/api/v1/engagements", [U, U, U, U]),
    ("GET", "/api/v1/engagements/{id}", [U, U, U, U]),
    ("GET", "/api/v1/engagements/{id}/scorecard", [U, U, U, U]),
    ("GET", "/api/v1/engagements/{id}/kpi-values", [U, U, U, U]),
    ("POST", "/api/v1/kpi-values", [U, U, U, U]),
    ("GET", "/api/v1/engagements/{id}/checkins", [U, U, U, U]),
    ("POST", "/api/v1/engagements/{id}/checkins", [U, U, U, U]),
    ("GET", "/api/v1/checkins/{id}", [U, U, U, U]),
    ("POST", "/api/v1/action-items/{id}", [U, U, U, U]),
    ("GET", "/api/v1/engagements/{id}/findings", [U, U, U, U]),
    ("POST", "/api/v1/findings/{id}/answer", [U, U, U, U]),
    ("GET", "/api/v1/portfolio", [U, U, U, U]),
    ("GET", "/inbox", [L, P, P, P]),
    // The fixture reminder is in nobody's inbox but the fixture manager's.
    ("POST", "/inbox/{id}/dismiss", [L, N, N, N]),
    ("POST", "/inbox/{id}/snooze", [L, N, N, N]),
    ("POST", "/inbox/{id}/celebrate", [L, N, N, N]),
    ("GET", "/admin/scheduler", [L, F, F, P]),
    ("POST", "/admin/scheduler/run", [L, F, F, P]),
    ("POST", "/admin/outbox/{id}/retry", [L, N, F, P]),
    ("GET", "/admin/webhooks", [L, F, F, P]),
    ("POST", "/admin/webhooks", [L, F, F, P]),
    // The fixture path names no endpoint or delivery (tests/api/webhooks.rs has them).
    ("POST", "/admin/webhooks/{id}/disable", [L, N, F, N]),
    ("POST", "/admin/webhooks/{id}/enable", [L, N, F, N]),
    ("POST", "/admin/webhooks/{id}/remove", [L, N, F, N]),
    ("POST", "/admin/webhooks/{id}/test", [L, N, F, N]),
    ("POST", "/admin/webhook-deliveries/{id}/retry", [L, N, F, N]),
    ("GET", "/account/second-factor", [L, P, P, P]),
    ("POST", "/account/second-factor", [L, P, P, P]),
    ("POST", "/account/second-factor/confirm", [L, P, P, P]),
    ("POST", "/account/second-factor/remove", [L, P, P, P]),
    ("GET", "/account/password", [L, P, P, P]),
    ("POST", "/account/password", [L, P, P, P]),
    ("GET", "/set-password/{token}", [N, N, N, N]),
    ("POST", "/set-password/{token}", [N, N, N, N]),
    ("GET", "/admin/users", [L, F, F, P]),
    ("GET", "/admin/users/new", [L, F, F, P]),
    ("POST", "/admin/users/new", [L, F, F, P]),
    ("GET", "/admin/users/{id}", [L, N, F, P]),
    ("POST", "/admin/users/{id}", [L, N, F, P]),
    ("POST", "/admin/users/{id}/disable", [L, N, F, P]),
    ("POST", "/admin/users/{id}/enable", [L, N, F, P]),
    ("POST", "/admin/users/{id}/password-link", [L, N, F, P]),
    (
        "POST",
        "/admin/users/{id}/second-factor/reset",
        [L, N, F, P],
    ),
    ("GET", "/admin/sign-in", [L, F, F, P]),
    ("POST", "/admin/sign-in", [L, F, F, P]),
    // Single sign-on is not configured here (tests/api/oidc.rs has the page with it).
    ("POST", "/admin/sign-in/sso", [L, F, F, N]),
    ("GET", "/admin/service-tokens", [L, F, F, P]),
    ("POST", "/admin/service-tokens", [L, F, F, P]),
    // The fixture path names no service token.
    ("POST", "/admin/service-tokens/{id}/revoke", [L, N, F, N]),
    ("GET", "/admin/audit", [L, F, F, P]),
    ("GET", "/admin/criteria", [L, F, F, P]),
    ("POST", "/admin/criteria", [L, F, F, P]),
    ("GET", "/vendors", [L, F, P, P]),
    ("GET", "/vendors/new", [L, F, F, P]),
    ("POST", "/vendors/new", [L, F, F, P]),
    ("GET", "/vendors/{id}", [L, N, P, P]),
    ("GET", "/vendors/{id}/edit", [L, N, F, P]),
    ("POST", "/vendors/{id}/edit", [L, N, F, P]),
    ("GET", "/vendors/{id}/evaluations/new", [L, N, F, P]),
    ("POST", "/vendors/{id}/evaluations/new", [L, N, F, P]),
    ("GET", "/evaluations/{id}", [L, N, P, P]),
    // Every role keeps a register: a vendor user their own vendor's (the posts without a
    // file answer 422). The fixture document is another vendor's.
    ("GET", "/documents", [L, P, P, P]),
    ("GET", "/documents/new", [L, P, P, P]),
    ("POST", "/documents/new", [L, P, P, P]),
    ("GET", "/documents/{id}", [L, N, P, P]),
    ("POST", "/documents/{id}/versions", [L, N, P, P]),
    ("POST", "/documents/{id}/review", [L, N, P, P]),
    ("GET", "/document-files/{id}", [L, N, P, P]),
    // Questionnaires: our people send and review them, the vendor's users answer them. The
    // fixture questionnaire is another vendor's, open (a review of it goes back to its page).
    ("GET", "/questionnaires", [L, P, P, P]),
    ("GET", "/questionnaires/new", [L, F, P, P]),
    ("POST", "/questionnaires/new", [L, F, P, P]),
    ("GET", "/questionnaires/{id}", [L, N, P, P]),
    ("POST", "/questionnaires/{id}/answers", [L, N, F, F]),
    ("POST", "/questionnaires/{id}/review", [L, N, P, P]),
    ("GET", "/admin/document-kinds", [L, F, F, P]),
    ("POST", "/admin/document-kinds", [L, F, F, P]),
    ("GET", "/engagements", [L, P, P, P]),
    ("GET", "/engagements/new", [L, F, F, P]),
    ("POST", "/engagements/new", [L, F, F, P]),
    ("GET", "/engagements/{id}", [L, N, P, P]),
    ("GET", "/engagements/{id}/agreement", [L, N, P, P]),
    ("GET", "/engagements/{id}/edit", [L, N, F, P]),
    ("POST", "/engagements/{id}/edit", [L, N, F, P]),
    ("GET", "/engagements/{id}/kpis", [L, N, P, P]),
    ("POST", "/engagements/{id}/kpis", [L, N, F, P]),
    ("GET", "/engagements/{id}/kpis/new", [L, N, F, P]),
    ("POST", "/engagements/{id}/kpis/new", [L, N, F, P]),
    ("GET", "/engagements/{id}/boundaries", [L, N, P, P]),
    ("POST", "/engagements/{id}/boundaries", [L, N, F, P]),
    ("GET", "/kpis/{id}", [L, N, P, P]),
    ("GET", "/kpis/{id}/edit", [L, N, F, P]),
    ("POST", "/kpis/{id}/edit", [L, N, F, P]),
    ("GET", "/engagements/{id}/checkins", [L, N, P, P]),
    ("GET", "/engagements/{id}/checkins/new", [L, N, F, P]),
    ("POST", "/engagements/{id}/checkins/new", [L, N, F, P]),
    ("POST", "/actions/{id}", [L, N, F, P]),
    ("GET", "/engagements/{id}/contacts", [L, N, P, P]),
    ("POST", "/engagements/{id}/contacts", [L, N, F, P]),
    ("GET", "/engagements/{id}/feedback", [L, N, P, P]),
    ("GET", "/engagements/{id}/feedback/new", [L, N, F, P]),
    ("POST", "/engagements/{id}/feedback/new", [L, N, F, P]),
    ("POST", "/feedback/{id}/acknowledge", [L, N, F, F]),
    ("POST", "/feedback/{id}/respond", [L, N, F, F]),
    ("GET", "/engagements/{id}/successes", [L, N, P, P]),
    ("POST", "/engagements/{id}/successes", [L, N, F, P]),
    ("GET", "/engagements/{id}/audits", [L, N, P, P]),
    ("GET", "/engagements/{id}/audits/new", [L, N, F, P]),
    ("POST", "/engagements/{id}/audits/new", [L, N, F, P]),
    ("GET", "/audits/{id}", [L, N, P, P]),
    ("POST", "/audits/{id}/complete", [L, N, F, P]),
    ("POST", "/audits/{id}/findings", [L, N, F, P]),
    // The fixture finding is the vendor's to answer.
    ("POST", "/findings/{id}/answer", [L, N, F, F]),
    ("POST", "/findings/{id}/resolve", [L, N, F, P]),
    // Evidence comes from the vendor's side or the engagement's managers; the admin's post
    // has no file (422).
    ("POST", "/findings/{id}/evidence", [L, N, F, P]),
    ("GET", "/evidence/{id}", [L, N, P, P]),
    // Working papers are the organisation's: to any vendor user they do not exist.
    ("POST", "/audits/{id}/working-papers", [L, N, F, P]),
    ("GET", "/working-papers/{id}", [L, N, P, P]),
    ("GET", "/engagements/{id}/access", [L, N, P, P]),
    ("GET", "/engagements/{id}/access/new", [L, N, F, P]),
    ("POST", "/engagements/{id}/access/new", [L, N, F, P]),
    ("POST", "/grants/{id}/review", [L, N, F, P]),
    ("GET", "/engagements/{id}/reviews", [L, N, P, P]),
    ("POST", "/engagements/{id}/reviews", [L, N, F, P]),
    ("GET", "/reviews/{id}", [L, N, P, P]),
    ("POST", "/reviews/{id}", [L, N, F, P]),
    ("POST", "/reviews/{id}/adapt", [L, N, F, P]),
    // The fixture review is a draft: it has no report yet (tests/api/reports.rs).
    ("GET", "/reviews/{id}/report", [L, N, N, N]),
    ("GET", "/reviews/{id}/report.pdf", [L, N, N, N]),
    ("GET", "/engagements/{id}/proposals", [L, N, P, P]),
    ("GET", "/engagements/{id}/proposals/new", [L, N, F, F]),
    ("POST", "/engagements/{id}/proposals/new", [L, N, F, F]),
    ("POST", "/proposals/{id}/answer", [L, N, F, P]),
    // The vendor's side replies; to everyone else it is forbidden.
    ("POST", "/proposals/{id}/reply", [L, N, F, F]),
    ("GET", "/engagements/{id}/scorecard", [L, N, P, P]),
    ("GET", "/engagements/{id}/report", [L, N, P, P]),
    // Without Chromium (as in the tests), the report itself.
    ("GET", "/engagements/{id}/report.pdf", [L, N, P, P]),
    ("GET", "/engagements/{id}/values", [L, N, F, P]),
    ("POST", "/engagements/{id}/values", [L, N, F, P]),
    ("POST", "/values/{id}/review", [L, N, F, P]),
    ("GET", "/portfolio", [L, F, P, P]),
    ("GET", "/portfolio.csv", [L, F, P, P]),
    ("GET", "/engagements/{id}/scorecard.csv", [L, N, P, P]),
    ("GET", "/values/import", [L, P, P, P]),
    ("POST", "/values/import", [L, P, P, P]),
    // Last: the admin's post closes the fixture engagement.
    ("GET", "/engagements/{id}/close", [L, N, F, P]),
    ("POST", "/engagements/{id}/close", [L, N, F, P]),
    ("GET", "/metrics", [P, P, P, P]),
    ("GET", "/healthz", [P, P, P, P]),
    ("GET", "/readyz", [P, P, P, P]),
    ("GET", "/static/{name}", [P, P, P, P]),
    ("GET", "/calendar/{token}", [N, N, N, N]),
];

pub(crate) const ROLES: [Option<Role>; 4] = [
    None,
    Some(Role::Vendor),
    Some(Role::Manager),
    Some(Role::Admin),
];

pub(crate) async fn client_as(app: &TestApp, role: Option<Role>) -> TestClient {
    match role {
        Some(role) => app.signed_in(role).await.0,
        None => {
            let client = app.client();
            client.get_html("/login").await;
            client
        }
    }
}

fn classify(response: &reqwest::Response) -> Get {
    match response.status().as_u16() {
        401 => Get::Unauthorized,
        403 => Get::Forbidden,
        404 => Get::NotFound,
        300..=399 if location(response).starts_with("/login") => Get::Login,
        status => {
            assert!(status < 500, "{} answered {status}", response.url());
            Get::Ok
        }
    }
}

/// A record of each kind, none of them the vendor user's, to put in the paths.
pub(crate) struct Fixtures {
    pub(crate) user: i64,
    pub(crate) vendor: i64,
    pub(crate) evaluation: i64,
    pub(crate) engagement: i64,
    pub(crate) kpi: i64,
    pub(crate) action: i64,
    pub(crate) feedback: i64,
    pub(crate) value: i64,
    pub(crate) proposal: i64,
    pub(crate) grant: i64,
    pub(crate) audit: i64,
    pub(crate) finding: i64,
    pub(crate) review: i64,
    pub(crate) reminder: i64,
    /// A file of the finding's evidence, and one of the audit's working papers.
    pub(crate) evidence: i64,
    pub(crate) paper: i64,
    /// A shared document of the vendor's, and its file.
    pub(crate) document: i64,
    pub(crate) document_file: i64,
    pub(crate) questionnaire: i64,
    outbox: uuid::Uuid,
}

impl Fixtures {
    pub(crate) async fn create(app: &TestApp) -> Fixtures {
        let user = app.create_user(Role::Manager, None).await.id;
        let vendor: i64 =
            sqlx::query_scalar("insert into vendors (name) values ('Fixture Vendor') returning id")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        let evaluation = sqlx::query_scalar(
            "insert into evaluations (vendor_id, decision, rationale, score, author_id, created_at, form_key)
             values ($1, 'selected', 'fixture', 50, $2, now(), gen_random_uuid()) returning id",
        )
        .bind(vendor)
        .bind(user)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let engagement = crate::helpers::engagement(app, vendor, user).await;
        let kpi = crate::helpers::kpi(
            app,
            engagement,
            "Availability",
            "higher",
            "99.9",
            "99.5",
            "100",
        )
        .await;
        let action = sqlx::query_scalar(
            "insert into action_items (engagement_id, title, owner_side, created_at) values ($1, 'Fixture', 'ours', now()) returning id",
        )
        .bind(engagement)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let feedback = sqlx::query_scalar(
            "insert into feedback (engagement_id, kind, situation, observation, impact, author_id, created_at, form_key)
             values ($1, 'praise', 's', 'o', 'i', $2, now(), gen_random_uuid()) returning id",
        )
        .bind(engagement)
        .bind(user)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let value = sqlx::query_scalar(
            "insert into kpi_values (kpi_id, period_start, value, state, recorded_by, recorded_at)
             values ($1, '2026-01-01', 99.7, 'unverified', $2, now()) returning id",
        )
        .bind(kpi)
        .bind(user)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let proposal = sqlx::query_scalar(
            "insert into proposals (engagement_id, kind, title, description, proposed_action, expected_impact,
                                    raised_by, raised_at, form_key)
             values ($1, 'risk', 't', 'd', 'a', 'i', $2, now(), gen_random_uuid()) returning id",
        )
        .bind(engagement)
        .bind(user)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let grant = sqlx::query_scalar(
            "insert into access_grants (engagement_id, resource, access_level, holder, granted_on, review_interval_days,
                                        next_review_due, justification, created_by, created_at, form_key)
             values ($1, 'VPN', 'read', 'ops team', '2026-01-01', 90, '2026-04-01', 'j', $2, now(), gen_random_uuid())
             returning id",
        )
        .bind(engagement)
        .bind(user)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let audit = sqlx::query_scalar(
            "insert into audits (engagement_id, kind, scope, planned_on, auditor, created_by, created_at, form_key)
             values ($1, 'security', 's', '2026-01-01', 'a', $2, now(), gen_random_uuid()) returning id",
        )
        .bind(engagement)
        .bind(user)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let finding = sqlx::query_scalar(
            "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on, created_by,
                                   created_at, form_key)
             values ($1, $2, 'high', 'd', 'vendor', '2026-02-01', $3, now(), gen_random_uuid()) returning id",
        )
        .bind(audit)
        .bind(engagement)
        .bind(user)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let file = |name: &'static str| {
            sqlx::query_scalar::<_, i64>(
                "with f as (insert into files (name, original_name, content_type, size_bytes, sha256, uploaded_by,
                                               uploaded_at)
                            values ($1, $1, 'text/plain', 5, encode(sha256('hello'), 'hex'), $2, now()) returning id),
                      c as (insert into file_chunks (file_id, seq, bytes) select id, 0, 'hello' from f)
                 select id from f",
            )
            .bind(name)
            .bind(user)
            .fetch_one(&app.pool)
        };
        let evidence = file("evidence.txt").await.unwrap();
        sqlx::query(
            "insert into finding_files (finding_id, file_id, attached_by, attached_at, form_key)
             values ($1, $2, $3, now(), gen_random_uuid())",
        )
        .bind(finding)
        .bind(evidence)
        .bind(user)
        .execute(&app.pool)
        .await
        .unwrap();
        let paper = file("paper.txt").await.unwrap();
        sqlx::query(
            "insert into audit_files (audit_id, file_id, attached_by, attached_at, form_key)
             values ($1, $2, $3, now(), gen_random_uuid())",
        )
        .bind(audit)
        .bind(paper)
        .bind(user)
        .execute(&app.pool)
        .await
        .unwrap();
        let document_file = file("soc2.txt").await.unwrap();
        let document = sqlx::query_scalar(
            "with d as (insert into vendor_documents (vendor_id, kind_id, visibility, created_by, created_at)
                        select $1, id, 'shared', $2, now() from document_kinds where name = 'SOC 2 report'
                        returning id)
             insert into vendor_document_versions (document_id, version, file_id, issuer, valid_from, valid_until,
                                                   uploaded_by, uploaded_at, form_key)
             select id, 1, $3, 'Fixture Audit', '2026-01-01', '2027-01-01', $2, now(), gen_random_uuid() from d
             returning document_id",
        )
        .bind(vendor)
        .bind(user)
        .bind(document_file)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let questionnaire = sqlx::query_scalar(
            "insert into questionnaires (template_id, vendor_id, engagement_id, due_on, sent_by, sent_at, form_key)
             values (1, $1, $2, '2027-01-01', $3, now(), gen_random_uuid()) returning id",
        )
        .bind(vendor)
        .bind(engagement)
        .bind(user)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let review = sqlx::query_scalar(
            "insert into reviews (engagement_id, period_start, period_label, snapshot, started_by, started_at)
             values ($1, '2026-01-01', '2026-01', '{}', $2, now()) returning id",
        )
        .bind(engagement)
        .bind(user)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        let reminder = sqlx::query_scalar(
            "insert into reminders (dedupe_key, kind, engagement_id, title, link, audience, notice, raised_at, raised_by)
             values ('celebration:fixture', 'celebration', $1, 't', '/', 'managers', false, now(), 'test')
             returning id",
        )
        .bind(engagement)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        sqlx::query(
            "insert into inbox_items (reminder_id, user_id, created_at) values ($1, $2, now())",
        )
        .bind(reminder)
        .bind(user)
        .execute(&app.pool)
        .await
        .unwrap();
        let outbox = sqlx::query_scalar(
            "insert into outbox (id, message_id, to_address, subject, body_text, body_html, created_at,
                                 next_attempt_at, attempts, failed_at, last_error)
             values (gen_random_uuid(), '<fixture@test>', 'x@example.com', 's', 't', 'h', now(), now(), 8, now(), 'e')
             returning id",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        Fixtures {
            evidence,
            paper,
            document,
            document_file,
            questionnaire,
            reminder,
            outbox,
            review,
            audit,
            finding,
            grant,
            proposal,
            user,
            vendor,
            evaluation,
            engagement,
            kpi,
            action,
            feedback,
            value,
        }
    }

    pub(crate) fn fill(&self, path: &str) -> String {
        let id = if path.starts_with("/admin/users/") {
            self.user
        } else if path.starts_with("/vendors/") {
            self.vendor
        } else if path.starts_with("/evaluations/") {
            self.evaluation
        } else if path.starts_with("/engagements/") {
            self.engagement
        } else if path.starts_with("/kpis/") {
            self.kpi
        } else if path.starts_with("/actions/") {
            self.action
        } else if path.starts_with("/feedback/") {
            self.feedback
        } else if path.starts_with("/values/") {
            self.value
        } else if path.starts_with("/proposals/") {
            self.proposal
        } else if path.starts_with("/grants/") {
            self.grant
        } else if path.starts_with("/audits/") {
            self.audit
        } else if path.starts_with("/findings/") {
            self.finding
        } else if path.starts_with("/evidence/") {
            self.evidence
        } else if path.starts_with("/working-papers/") {
            self.paper
        } else if path.starts_with("/documents/") {
            self.document
        } else if path.starts_with("/document-files/") {
            self.document_file
        } else if path.starts_with("/questionnaires/") {
            self.questionnaire
        } else if path.starts_with("/reviews/") {
            self.review
        } else if path.starts_with("/inbox/") {
            self.reminder
        } else if path.starts_with("/admin/outbox/") {
            return path.replace("{id}", &self.outbox.to_string());
        } else {
            0
        };
        path.replace("{id}", &id.to_string())
            .replace("{token}", &"0".repeat(64))
            .replace("{name}", "app.css")
    }
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_table_says() {
    let app = spawn_app_with(|config| config.test_routes = false).await;
    let fixtures = Fixtures::create(&app).await;

    let mut missing = Vec::new();
    for (method, path) in &app.routes {
        if !TABLE
            .iter()
            .any(|(m, p, _)| *m == method.as_str() && p == path)
        {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from the table: {missing:?}"
    );
    for (method, path, _) in TABLE {
        assert!(
            app.routes
                .iter()
                .any(|(m, p)| m.as_str() == *method && p == path),
            "{method} {path} is in the table but not in the router"
        );
    }

    let mut wrong = Vec::new();
    for (method, path, expected) in TABLE {
        let concrete = fixtures.fill(path);
        for (role, want) in ROLES.iter().zip(expected) {
            let client = client_as(&app, *role).await;
            let response = if *method == "GET" {
                client.get(&concrete).await
            } else {
                let page = if role.is_some() { "/" } else { "/login" };
                client.post_form(page, &concrete, &[]).await
            };
            let got = classify(&response);
            if got != *want {
                wrong.push(format!(
                    "{method} {concrete} as {role:?}: wanted {want:?}, got {got:?} ({})",
                    response.status()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn an_admin_gets_404_for_a_user_that_does_not_exist() {
    let app = spawn_app_with(|_| {}).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    assert_eq!(admin.get("/admin/users/999999").await.status(), 404);
    assert_eq!(admin.get("/admin/users/not-a-number").await.status(), 404);
    assert_eq!(admin.get("/admin/users/-1").await.status(), 404);
    let response = admin
        .post_form("/", "/admin/users/999999/disable", &[])
        .await;
    assert_eq!(response.status(), 404);
}
