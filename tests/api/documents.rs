//! A vendor's documents: the vendor's users upload and renew them, managers accept or reject
//! each version, the scheduler reminds both sides before one expires and once it has lapsed,
//! and a lapsed required one shows on the vendor's, the engagement's and the agreement page.
//! Another vendor's users, and the vendor's own users for internal ones, get 404 everywhere.

use chrono::{Duration, NaiveDate};
use trellis::auth::Role;
use trellis::scheduler;

use crate::helpers::{
    TestApp, TestClient, TestUser, active_engagement, csrf_in, location, spawn_app,
};

struct Case {
    app: TestApp,
    vendor: TestClient,
    vendor_user: TestUser,
    manager: TestClient,
    manager_user: TestUser,
    /// A user of another vendor.
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
        manager_user,
        other,
        engagement,
    }
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec()
}

impl Case {
    fn today(&self) -> NaiveDate {
        self.app.clock.now().date_naive()
    }

    async fn kind(&self, name: &str) -> i64 {
        sqlx::query_scalar("select id from document_kinds where name = $1")
            .bind(name)
            .fetch_one(&self.app.pool)
            .await
            .unwrap()
    }

    /// Posts the new-document form as `client`, valid until `until`.
    async fn upload(
        &self,
        client: &TestClient,
        kind: &str,
        until: NaiveDate,
        extra: &[(&str, &str)],
        name: &[u8],
        content: &[u8],
    ) -> reqwest::Response {
        let html = client.get_html("/documents/new").await;
        let token = csrf_in(&html);
        let key = uuid::Uuid::new_v4().to_string();
        let kind = self.kind(kind).await.to_string();
        let from = (until - Duration::days(365)).to_string();
        let until = until.to_string();
        let mut fields = vec![
            ("csrf_token", token.as_str()),
            ("form_key", key.as_str()),
            ("kind", kind.as_str()),
            ("issuer", "Harbour & Reed LLP"),
            ("valid_from", from.as_str()),
            ("valid_until", until.as_str()),
        ];
        fields.extend_from_slice(extra);
        client
            .post_file("/documents/new", &fields, "file", name, content)
            .await
    }

    /// Uploads a shared document of the vendor's as its user; its id.
    async fn vendor_document(&self, kind: &str, until: NaiveDate) -> i64 {
        let response = self
            .upload(&self.vendor, kind, until, &[], b"report.pdf", &pdf())
            .await;
        assert_eq!(response.status(), 303);
        location(&response)
            .trim_start_matches("/documents/")
            .parse()
            .unwrap()
    }

    async fn current_file(&self, document: i64) -> i64 {
        sqlx::query_scalar("select file_id from current_vendor_documents where id = $1")
            .bind(document)
            .fetch_one(&self.app.pool)
            .await
            .unwrap()
    }

    async fn current_version(&self, document: i64) -> i64 {
        sqlx::query_scalar("select version_id from current_vendor_documents where id = $1")
            .bind(document)
            .fetch_one(&self.app.pool)
            .await
            .unwrap()
    }

    /// The open reminders of `kind` in `user`'s inbox.
    async fn inbox(&self, user: i64, kind: &str) -> Vec<String> {
        sqlx::query_scalar(
            "select r.dedupe_key from inbox_items i join reminders r on r.id = i.reminder_id
             where i.user_id = $1 and r.kind = $2 and r.resolved_at is null order by r.id",
        )
        .bind(user)
        .bind(kind)
        .fetch_all(&self.app.pool)
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn a_vendor_user_adds_a_document_a_manager_accepts_it_and_a_renewal_keeps_the_history() {
    let c = case().await;
    let until = c.today() + Duration::days(200);
    let document = c.vendor_document("SOC 2 report", until).await;
    let html = c.vendor.get_html(&format!("/documents/{document}")).await;
    assert!(html.contains("Awaiting acceptance"), "{html}");
    assert!(html.contains("Harbour &#38; Reed LLP"), "{html}");
    assert!(html.contains("report.pdf"), "{html}");
    // Vendor users decide nothing.
    assert!(!html.contains("action=\"/documents/{document}/review\""));
    let register = c.vendor.get_html("/documents").await;
    assert!(
        register.contains(&format!("/documents/{document}")),
        "{register}"
    );

    // The manager hears of it, and accepts it.
    assert_eq!(
        c.inbox(c.manager_user.id, "document_submitted").await.len(),
        1
    );
    let page = format!("/documents/{document}");
    let version = c.current_version(document).await.to_string();
    let response = c
        .manager
        .post_form(
            &page,
            &format!("/documents/{document}/review"),
            &[("version", &version), ("decision", "accept")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let html = c.vendor.get_html(&page).await;
    assert!(html.contains("Accepted"), "{html}");
    assert!(
        c.inbox(c.manager_user.id, "document_submitted")
            .await
            .is_empty()
    );

    // A renewal is the current version; the first stays, downloadable.
    let first_file = c.current_file(document).await;
    let html = c.vendor.get_html(&page).await;
    let token = csrf_in(&html);
    let key = crate::helpers::form_key_in(&html);
    let next_until = (until + Duration::days(365)).to_string();
    let response = c
        .vendor
        .post_file(
            &format!("/documents/{document}/versions"),
            &[
                ("csrf_token", &token),
                ("form_key", &key),
                ("issuer", "Harbour & Reed LLP"),
                ("valid_from", &until.to_string()),
                ("valid_until", &next_until),
            ],
            "file",
            b"report 2027.pdf",
            &pdf(),
        )
        .await;
    assert_eq!(response.status(), 303);
    let html = c.vendor.get_html(&page).await;
    assert!(html.contains("Version 2: the current one"), "{html}");
    assert!(html.contains("Earlier versions"), "{html}");
    assert!(
        html.contains(&format!("/document-files/{first_file}")),
        "{html}"
    );
    let download = c.vendor.get(&format!("/document-files/{first_file}")).await;
    assert_eq!(download.status(), 200);
    let disposition = download.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert_eq!(download.headers()["x-content-type-options"], "nosniff");
    assert_eq!(download.headers()["content-type"], "application/pdf");
    assert_eq!(download.bytes().await.unwrap().as_ref(), pdf().as_slice());
    // Uploads and downloads are in the audit log.
    assert_eq!(
        c.app
            .count("select count(*) from audit_log where action = 'file.upload' and details ? 'document_id'")
            .await,
        2
    );
    assert_eq!(
        c.app
            .count("select count(*) from audit_log where action = 'file.download' and details ? 'document_id'")
            .await,
        1
    );
}

#[tokio::test]
async fn another_vendor_s_users_and_internal_documents_are_missing_everywhere() {
    let c = case().await;
    let shared = c
        .vendor_document("Insurance certificate", c.today() + Duration::days(90))
        .await;
    let vendor_id = c.vendor_user.vendor_id.unwrap().to_string();
    let response = c
        .upload(
            &c.manager,
            "Penetration test summary",
            c.today() + Duration::days(90),
            &[("vendor", &vendor_id), ("visibility", "internal")],
            b"our-notes.pdf",
            &pdf(),
        )
        .await;
    assert_eq!(response.status(), 303);
    let internal: i64 = location(&response)
        .trim_start_matches("/documents/")
        .parse()
        .unwrap();

    let token = c.other.csrf_token("/").await;
    for (client, document, who) in [
        (&c.other, shared, "another vendor's user"),
        (&c.other, internal, "another vendor's user"),
        (&c.vendor, internal, "the vendor's own user"),
    ] {
        let file = c.current_file(document).await;
        let version = c.current_version(document).await.to_string();
        for path in [
            format!("/documents/{document}"),
            format!("/document-files/{file}"),
        ] {
            assert_eq!(client.get(&path).await.status(), 404, "{who}: GET {path}");
        }
        let token = if std::ptr::eq(client, &c.vendor) {
            c.vendor.csrf_token("/").await
        } else {
            token.clone()
        };
        let review = client
            .post_raw(
                &format!("/documents/{document}/review"),
                &[
                    ("csrf_token", &token),
                    ("version", &version),
                    ("decision", "accept"),
                ],
            )
            .await;
        assert_eq!(review.status(), 404, "{who}: review");
        let renew = client
            .post_file(
                &format!("/documents/{document}/versions"),
                &[
                    ("csrf_token", &token),
                    ("issuer", "x"),
                    ("valid_from", "2026-01-01"),
                    ("valid_until", "2027-01-01"),
                ],
                "file",
                b"x.pdf",
                &pdf(),
            )
            .await;
        assert_eq!(renew.status(), 404, "{who}: renew");
        let register = client.get_html("/documents").await;
        assert!(
            !register.contains(&format!("/documents/{document}\"")),
            "{who}: the register lists {document}"
        );
    }
    // Nothing was decided or added by them.
    assert_eq!(
        c.app
            .count("select count(*) from vendor_document_versions where status <> 'submitted' or version > 1")
            .await,
        0
    );
    // A vendor user's upload is for their own vendor, whatever the form says.
    let response = c
        .upload(
            &c.other,
            "SOC 2 report",
            c.today() + Duration::days(90),
            &[("vendor", &vendor_id), ("visibility", "internal")],
            b"x.pdf",
            &pdf(),
        )
        .await;
    assert_eq!(response.status(), 303);
    let (vendor, visibility): (i64, String) = sqlx::query_as(
        "select vendor_id, visibility from vendor_documents order by id desc limit 1",
    )
    .fetch_one(&c.app.pool)
    .await
    .unwrap();
    assert_ne!(vendor.to_string(), vendor_id);
    assert_eq!(visibility, "shared");
}

#[tokio::test]
async fn a_rejection_says_why_and_the_vendor_hears_of_it() {
    let c = case().await;
    let document = c
        .vendor_document("Insurance certificate", c.today() + Duration::days(90))
        .await;
    let page = format!("/documents/{document}");
    let version = c.current_version(document).await.to_string();
    let review = format!("/documents/{document}/review");
    let response = c
        .manager
        .post_form(
            &page,
            &review,
            &[("version", &version), ("decision", "reject")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("Say why it is not accepted"), "{html}");
    assert!(html.contains("value=\"reject\" checked"), "{html}");
    let response = c
        .manager
        .post_form(
            &page,
            &review,
            &[
                ("version", &version),
                ("decision", "reject"),
                ("reason", "The cover is too low."),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let html = c.vendor.get_html(&page).await;
    assert!(html.contains("The cover is too low."), "{html}");
    assert_eq!(
        c.inbox(c.vendor_user.id, "document_rejected").await,
        vec![format!("document_rejected:{version}")]
    );
    // Deciding it again changes nothing.
    let response = c
        .manager
        .post_form(
            &page,
            &review,
            &[("version", &version), ("decision", "accept")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let status: String =
        sqlx::query_scalar("select status from current_vendor_documents where id = $1")
            .bind(document)
            .fetch_one(&c.app.pool)
            .await
            .unwrap();
    assert_eq!(status, "rejected");
}

#[tokio::test]
async fn refused_uploads_keep_what_was_typed_and_store_nothing() {
    let c = case().await;
    let stored = || async {
        c.app.count("select count(*) from files").await
            + c.app.count("select count(*) from vendor_documents").await
    };
    let before = stored().await;
    let until = c.today() + Duration::days(90);
    let html_as_pdf = b"<!doctype html><html><script>alert(1)</script></html>".to_vec();
    for (name, content, extra, field, message) in [
        (
            &b"report.pdf"[..],
            html_as_pdf.clone(),
            vec![],
            "file",
            "whatever its name says",
        ),
        (
            &b"empty.pdf"[..],
            Vec::new(),
            vec![],
            "file",
            "The file is empty",
        ),
        (
            &b"report.pdf"[..],
            pdf(),
            vec![("valid_until", "2020-01-01")],
            "valid_until",
            "cannot come before its first",
        ),
        (
            &b"report.pdf"[..],
            pdf(),
            vec![("valid_from", "31/12/2026")],
            "valid_from",
            "YYYY-MM-DD",
        ),
        (
            &b"report.pdf"[..],
            pdf(),
            vec![("issuer", "")],
            "issuer",
            "Name who issued it",
        ),
    ] {
        // A later value of a field overrides the form's first: send the bad one only.
        let mut fields: Vec<(&str, &str)> = extra.clone();
        let token_page = c.vendor.get_html("/documents/new").await;
        let token = csrf_in(&token_page);
        let kind = c.kind("SOC 2 report").await.to_string();
        let from = (until - Duration::days(365)).to_string();
        let until = until.to_string();
        for (k, v) in [
            ("csrf_token", token.as_str()),
            ("kind", kind.as_str()),
            ("issuer", "Acme Assurance"),
            ("valid_from", from.as_str()),
            ("valid_until", until.as_str()),
        ] {
            if !fields.iter().any(|(f, _)| *f == k) {
                fields.push((k, v));
            }
        }
        let response = c
            .vendor
            .post_file("/documents/new", &fields, "file", name, &content)
            .await;
        assert_eq!(response.status(), 422, "{field}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{field}: {html}");
        assert!(
            html.contains(&format!("id=\"field-{field}-error\"")),
            "{field}: {html}"
        );
        if field != "issuer" {
            assert!(html.contains("value=\"Acme Assurance\""), "{field}: kept");
        }
    }
    // 26 MB: 413, with the form.
    let big = {
        let mut bytes = pdf();
        bytes.resize(26 * 1024 * 1024, b'0');
        bytes
    };
    let response = c
        .upload(&c.vendor, "SOC 2 report", until, &[], b"big.pdf", &big)
        .await;
    assert_eq!(response.status(), 413);
    assert!(response.text().await.unwrap().contains("larger than 25 MB"));
    assert_eq!(stored().await, before, "nothing kept");
}

#[tokio::test]
async fn the_scheduler_reminds_30_and_7_days_before_a_document_expires_and_once_it_lapsed() {
    let c = case().await;
    let until = c.today() + Duration::days(25);
    let document = c.vendor_document("Insurance certificate", until).await;
    let version = c.current_version(document).await;
    // Raised at once by the upload: to the vendor's users and the engagement's managers.
    let thirty = vec![format!("document_expiring:{version}:30")];
    assert_eq!(c.inbox(c.vendor_user.id, "document_expiring").await, thirty);
    assert_eq!(
        c.inbox(c.manager_user.id, "document_expiring").await,
        thirty
    );
    // The managers of the vendor's other engagements hear of it too.
    let co_manager = c.app.create_user(Role::Manager, None).await;
    active_engagement(&c.app, c.vendor_user.vendor_id.unwrap(), co_manager.id).await;
    c.app.clock.advance(Duration::days(19));
    scheduler::pass(&c.app.state).await.unwrap();
    let seven = vec![format!("document_expiring:{version}:7")];
    assert_eq!(c.inbox(c.vendor_user.id, "document_expiring").await, seven);
    assert_eq!(c.inbox(co_manager.id, "document_expiring").await, seven);
    // The day after its last valid day, it has lapsed.
    c.app.clock.advance(Duration::days(7));
    scheduler::pass(&c.app.state).await.unwrap();
    assert!(
        c.inbox(c.vendor_user.id, "document_expiring")
            .await
            .is_empty()
    );
    assert_eq!(
        c.inbox(c.vendor_user.id, "document_lapsed").await,
        vec![format!("document_lapsed:{version}")]
    );
    // The required document's lapse shows where people look (signed in again: the clock
    // moved past the sessions' lifetime).
    let manager = c.app.client_for(&c.manager_user).await;
    let vendor = c.app.client_for(&c.vendor_user).await;
    let vendor_id = c.vendor_user.vendor_id.unwrap();
    for (client, path) in [
        (&manager, format!("/vendors/{vendor_id}")),
        (&manager, format!("/engagements/{}", c.engagement)),
        (&vendor, format!("/engagements/{}/agreement", c.engagement)),
    ] {
        let html = client.get_html(&path).await;
        assert!(
            html.contains("Required document lapsed:</strong> Insurance certificate"),
            "{path}: {html}"
        );
    }
    let html = manager.get_html("/portfolio").await;
    assert!(html.contains("Lapsed: Insurance certificate"), "{html}");
    // Renewing resolves it.
    let html = vendor.get_html(&format!("/documents/{document}")).await;
    let response = vendor
        .post_file(
            &format!("/documents/{document}/versions"),
            &[
                ("csrf_token", &csrf_in(&html)),
                ("issuer", "Meridian Mutual"),
                ("valid_from", &c.today().to_string()),
                (
                    "valid_until",
                    &(c.today() + Duration::days(365)).to_string(),
                ),
            ],
            "file",
            b"renewed.pdf",
            &pdf(),
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(
        c.inbox(c.vendor_user.id, "document_lapsed")
            .await
            .is_empty()
    );
    let html = manager.get_html(&format!("/vendors/{vendor_id}")).await;
    assert!(!html.contains("Required document lapsed"), "{html}");
    let html = manager.get_html("/portfolio").await;
    assert!(!html.contains("Lapsed: Insurance certificate"), "{html}");
}

#[tokio::test]
async fn admins_add_kinds_and_choose_which_are_required() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let soc2: i64 = sqlx::query_scalar("select id from document_kinds where name = 'SOC 2 report'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let response = admin
        .post_form(
            "/admin/document-kinds",
            "/admin/document-kinds",
            &[
                ("required", &soc2.to_string()),
                ("new_name", "Business continuity plan"),
                ("new_required", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let required: Vec<String> =
        sqlx::query_scalar("select name from document_kinds where required order by name")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(required, ["Business continuity plan", "SOC 2 report"]);
    let response = admin
        .post_form(
            "/admin/document-kinds",
            "/admin/document-kinds",
            &[("new_name", "soc 2 REPORT")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("There is a kind of that name already."),
        "{html}"
    );
    assert!(html.contains("value=\"soc 2 REPORT\""), "{html}");
    assert_eq!(
        app.count("select count(*) from audit_log where action = 'settings.document_kinds'")
            .await,
        1
    );
}
