//! Files: a finding's evidence and an audit's working papers, uploaded through the pages'
//! forms (multipart, with the session's CSRF token), stored in PostgreSQL in chunks and
//! downloaded as attachments. Types are told from the bytes, sizes are capped at 25 MB,
//! names are sanitised, and a file reaches only those who may see its record.

use sha2::{Digest, Sha256};
use trellis::auth::Role;

use crate::helpers::{
    TestApp, TestClient, csrf_in, engagement, form_key_in, location, spawn_app, texts,
};

/// An engagement of the vendor user's vendor with an audit and two findings: one the
/// vendor remediates, one we do.
struct Case {
    app: TestApp,
    vendor: TestClient,
    manager: TestClient,
    engagement: i64,
    audit: i64,
    vendor_finding: i64,
    our_finding: i64,
}

async fn case() -> Case {
    let app = spawn_app().await;
    let (vendor, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager, manager_user) = app.signed_in(Role::Manager).await;
    let engagement = engagement(&app, vendor_user.vendor_id.unwrap(), manager_user.id).await;
    let audit: i64 = sqlx::query_scalar(
        "insert into audits (engagement_id, kind, scope, planned_on, auditor, created_by, created_at, form_key)
         values ($1, 'security', 'Access reviews', '2026-01-01', 'Internal audit', $2, now(), gen_random_uuid())
         returning id",
    )
    .bind(engagement)
    .bind(manager_user.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let finding = |side: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on, created_by,
                                   created_at, form_key)
             values ($1, $2, 'high', 'Stale accounts', $3, '2026-12-01', $4, now(), gen_random_uuid()) returning id",
        )
        .bind(audit)
        .bind(engagement)
        .bind(side)
        .bind(manager_user.id)
        .fetch_one(&app.pool)
    };
    let vendor_finding = finding("vendor").await.unwrap();
    let our_finding = finding("ours").await.unwrap();
    Case {
        app,
        vendor,
        manager,
        engagement,
        audit,
        vendor_finding,
        our_finding,
    }
}

impl Case {
    fn audits_page(&self) -> String {
        format!("/engagements/{}/audits", self.engagement)
    }

    /// Uploads `content` as `name` to a finding's evidence form, as `client` sees it.
    async fn evidence(
        &self,
        client: &TestClient,
        finding: i64,
        name: &[u8],
        content: &[u8],
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let html = client.get_html(&self.audits_page()).await;
        let token = csrf_in(&html);
        let key = uuid::Uuid::new_v4().to_string();
        let mut fields = vec![("csrf_token", token.as_str()), ("form_key", key.as_str())];
        fields.extend_from_slice(extra);
        client
            .post_file(
                &format!("/findings/{finding}/evidence"),
                &fields,
                "file",
                name,
                content,
            )
            .await
    }

    async fn working_paper(
        &self,
        client: &TestClient,
        name: &[u8],
        content: &[u8],
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = client.csrf_token("/").await;
        let key = uuid::Uuid::new_v4().to_string();
        let mut fields = vec![("csrf_token", token.as_str()), ("form_key", key.as_str())];
        fields.extend_from_slice(extra);
        client
            .post_file(
                &format!("/audits/{}/working-papers", self.audit),
                &fields,
                "file",
                name,
                content,
            )
            .await
    }

    /// The newest file's id.
    async fn last_file(&self) -> i64 {
        sqlx::query_scalar("select max(id) from files")
            .fetch_one(&self.app.pool)
            .await
            .unwrap()
    }

    async fn stored(&self) -> i64 {
        self.app.count("select count(*) from files").await
            + self.app.count("select count(*) from file_chunks").await
            + self.app.count("select count(*) from finding_files").await
            + self.app.count("select count(*) from audit_files").await
    }
}

/// A PDF of `size` bytes: its marker, then filler.
fn pdf(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut i = 0u32;
    while bytes.len() < size {
        bytes.extend_from_slice(format!("{i} 0 obj << >> endobj\n").as_bytes());
        i += 1;
    }
    bytes.truncate(size);
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn evidence_uploaded_by_the_vendor_downloads_byte_for_byte_with_its_hash_and_safe_headers() {
    let c = case().await;
    // Larger than two chunks, so that it is stored and sent in several.
    let content = pdf(700_000);
    let response = c
        .evidence(
            &c.vendor,
            c.vendor_finding,
            "Access review Q3.pdf".as_bytes(),
            &content,
            &[("note", "The signed review")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        format!("{}#finding-{}", c.audits_page(), c.vendor_finding)
    );
    let file = c.last_file().await;
    let (sha, size, kind, chunks): (String, i64, String, i64) = sqlx::query_as(
        "select sha256, size_bytes, content_type, (select count(*) from file_chunks where file_id = f.id)
         from files f where id = $1",
    )
    .bind(file)
    .fetch_one(&c.app.pool)
    .await
    .unwrap();
    assert_eq!(sha, sha256(&content));
    assert_eq!(size, content.len() as i64);
    assert_eq!(kind, "application/pdf");
    assert_eq!(chunks, 3, "256 kB chunks");

    // The page lists it with its type, size, hash (short, the whole in the title) and uploader.
    let html = c.vendor.get_html(&c.audits_page()).await;
    let listed = texts(&html, &format!("#file-{file}"));
    assert_eq!(listed.len(), 1, "{html}");
    assert!(listed[0].contains("Access review Q3.pdf"), "{}", listed[0]);
    assert!(listed[0].contains("PDF · 683.6 kB"), "{}", listed[0]);
    assert!(listed[0].contains(&sha[..12]), "{}", listed[0]);
    assert!(listed[0].contains("The signed review"), "{}", listed[0]);
    assert!(listed[0].contains("Test Vendor,"), "{}", listed[0]);
    assert!(html.contains(&format!("title=\"{sha}\"")));
    assert!(html.contains(&format!("href=\"/evidence/{file}\"")));

    for client in [&c.vendor, &c.manager] {
        let response = client.get(&format!("/evidence/{file}")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "content-type"), "application/pdf");
        assert_eq!(
            header(&response, "content-disposition"),
            "attachment; filename=\"Access review Q3.pdf\"; filename*=UTF-8''Access%20review%20Q3.pdf"
        );
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "cache-control"), "private, no-store");
        assert_eq!(
            header(&response, "content-length"),
            content.len().to_string()
        );
        let body = response.bytes().await.unwrap();
        assert_eq!(sha256(&body), sha);
        assert!(body[..] == content[..], "the same bytes");
    }

    // The upload and both downloads are in the audit log, with the file's hash.
    let logged: Vec<(String, String, String)> = sqlx::query_as(
        "select action, outcome, details->>'sha256' from audit_log
         where action like 'file.%' order by id",
    )
    .fetch_all(&c.app.pool)
    .await
    .unwrap();
    let success = |action: &str| (action.to_string(), "success".to_string(), sha.clone());
    assert_eq!(
        logged,
        vec![
            success("file.upload"),
            success("file.download"),
            success("file.download")
        ]
    );
}

#[tokio::test]
async fn a_text_file_is_served_as_text_and_a_csv_as_csv() {
    let c = case().await;
    for (name, content, kind) in [
        (
            "notes.txt",
            "Zürich, 3 accounts removed\n",
            "text/plain; charset=utf-8",
        ),
        (
            "accounts.csv",
            "account,removed\nann,2026-10-01\n",
            "text/csv; charset=utf-8",
        ),
    ] {
        let response = c
            .evidence(
                &c.manager,
                c.our_finding,
                name.as_bytes(),
                content.as_bytes(),
                &[],
            )
            .await;
        assert_eq!(response.status(), 303, "{name}");
        let response = c
            .manager
            .get(&format!("/evidence/{}", c.last_file().await))
            .await;
        assert_eq!(header(&response, "content-type"), kind);
        assert_eq!(response.text().await.unwrap(), content);
    }
}

#[tokio::test]
async fn an_html_page_named_pdf_an_empty_file_a_binary_of_no_known_kind_and_no_file_are_refused() {
    let c = case().await;
    let cases: [(&str, &[u8], &str); 5] = [
        (
            "report.pdf",
            b"<!DOCTYPE html><html><body><script>alert(1)</script>",
            "not of a type Trellis keeps (they are text/html)",
        ),
        (
            "report.pdf",
            b"  <p>Not a PDF, though it mentions %PDF-1.4</p>",
            "not of a type Trellis keeps",
        ),
        ("empty.pdf", b"", "The file is empty"),
        (
            "data.bin",
            b"\x00\x01\x02\xff\xfe binary",
            "could not tell what kind of file",
        ),
        ("", b"", "Choose a file to upload."),
    ];
    for (name, content, message) in cases {
        let response = c
            .evidence(
                &c.vendor,
                c.vendor_finding,
                name.as_bytes(),
                content,
                &[("note", "kept note")],
            )
            .await;
        assert_eq!(response.status(), 422, "{name}");
        let html = response.text().await.unwrap();
        let errors = texts(&html, ".field-error");
        assert!(
            errors.iter().any(|e| e.contains(message)),
            "{name}: {errors:?}"
        );
        assert!(html.contains("value=\"kept note\""), "the form is kept");
    }
    assert_eq!(c.stored().await, 0, "nothing was stored");
    // A refused file is in the audit log; the missing one is an ordinary form error.
    assert_eq!(
        c.app
            .count("select count(*) from audit_log where action = 'file.upload' and outcome = 'refused'")
            .await,
        4
    );
}

#[tokio::test]
async fn a_file_of_26_mb_is_refused_with_413_and_the_form_shown_again_with_its_values() {
    let c = case().await;
    let content = pdf(26 * 1024 * 1024);
    let response = c
        .evidence(
            &c.vendor,
            c.vendor_finding,
            b"scan.pdf",
            &content,
            &[("note", "The full scan")],
        )
        .await;
    assert_eq!(response.status(), 413);
    let html = response.text().await.unwrap();
    assert!(html.contains("value=\"The full scan\""), "the note is kept");
    assert!(
        texts(&html, ".field-error")
            .iter()
            .any(|e| e.contains("larger than 25 MB")),
        "{:?}",
        texts(&html, ".field-error")
    );
    assert_eq!(c.stored().await, 0);
    // One of exactly 25 MB is kept.
    let content = pdf(25 * 1024 * 1024);
    let response = c
        .evidence(&c.vendor, c.vendor_finding, b"scan.pdf", &content, &[])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        c.app.count("select max(size_bytes) from files").await,
        25 * 1024 * 1024
    );
}

#[tokio::test]
async fn an_upload_without_the_session_s_csrf_token_is_refused_before_the_file_is_read() {
    let c = case().await;
    let path = format!("/findings/{}/evidence", c.vendor_finding);
    for fields in [vec![], vec![("csrf_token", "forged")]] {
        let response = c
            .vendor
            .post_file(&path, &fields, "file", b"a.pdf", &pdf(1000))
            .await;
        assert_eq!(response.status(), 403);
    }
    // A token after the file is not one before it.
    let token = c.vendor.csrf_token(&c.audits_page()).await;
    let boundary = "b0undary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhello\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n--{boundary}--\r\n")
            .as_bytes(),
    );
    let response = c
        .vendor
        .http
        .post(c.vendor.url(&path))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(c.stored().await, 0);
}

#[tokio::test]
async fn names_lose_paths_controls_and_bidi_marks_and_the_original_is_shown_written_out_and_escaped()
 {
    let c = case().await;
    let sent = "..\\../etc/<b>pass\u{202e}fdp\u{85}.txt";
    let response = c
        .evidence(
            &c.vendor,
            c.vendor_finding,
            sent.as_bytes(),
            b"root:x:0:0\n",
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    let file = c.last_file().await;
    let (name, original): (String, String) =
        sqlx::query_as("select name, original_name from files where id = $1")
            .bind(file)
            .fetch_one(&c.app.pool)
            .await
            .unwrap();
    assert_eq!(name, "_b_passfdp.txt");
    assert_eq!(original, "..\\../etc/<b>pass\\u{202e}fdp\\u{85}.txt");
    let html = c.vendor.get_html(&c.audits_page()).await;
    assert!(!html.contains('\u{202e}'), "no override reaches the page");
    assert!(!html.contains("<b>pass"), "the original is escaped");
    assert_eq!(
        texts(&html, &format!("#file-{file} .file-original code")),
        vec![original.clone()],
        "shown as text, written out"
    );
    let response = c.vendor.get(&format!("/evidence/{file}")).await;
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"_b_passfdp.txt\"; filename*=UTF-8''_b_passfdp.txt"
    );

    // The type decides the extension: a PDF called ".exe" is kept as one that ends in ".pdf".
    let response = c
        .evidence(&c.vendor, c.vendor_finding, b"tool.exe", &pdf(2000), &[])
        .await;
    assert_eq!(response.status(), 303);
    let name: String = sqlx::query_scalar("select name from files where id = $1")
        .bind(c.last_file().await)
        .fetch_one(&c.app.pool)
        .await
        .unwrap();
    assert_eq!(name, "tool.exe.pdf");

    // A NUL cannot be in a part's header at all: the form is unreadable, nothing is kept.
    let before = c.stored().await;
    let response = c
        .evidence(&c.vendor, c.vendor_finding, b"a\0b.txt", b"text", &[])
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(c.stored().await, before);
}

#[tokio::test]
async fn a_file_reaches_only_those_who_may_see_its_record() {
    let c = case().await;
    assert_eq!(
        c.evidence(&c.vendor, c.vendor_finding, b"vendor.pdf", &pdf(500), &[])
            .await
            .status(),
        303
    );
    let vendor_file = c.last_file().await;
    assert_eq!(
        c.evidence(&c.manager, c.our_finding, b"ours.pdf", &pdf(500), &[])
            .await
            .status(),
        303
    );
    let our_file = c.last_file().await;
    assert_eq!(
        c.evidence(
            &c.manager,
            c.vendor_finding,
            b"from-manager.pdf",
            &pdf(500),
            &[]
        )
        .await
        .status(),
        303
    );
    let managers_vendor_file = c.last_file().await;
    let response = c
        .working_paper(
            &c.manager,
            b"PAPER-MARKER.pdf",
            &pdf(500),
            &[("note", "NOTE-MARKER")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("/audits/{}#papers", c.audit));
    let paper = c.last_file().await;
    let html = c.manager.get_html(&format!("/audits/{}", c.audit)).await;
    assert!(texts(&html, &format!("#file-{paper}"))[0].contains("NOTE-MARKER"));
    assert_eq!(
        c.manager
            .get(&format!("/working-papers/{paper}"))
            .await
            .status(),
        200
    );

    // The owning vendor sees its finding's evidence, whoever attached it, and nothing else.
    for file in [vendor_file, managers_vendor_file] {
        assert_eq!(
            c.vendor.get(&format!("/evidence/{file}")).await.status(),
            200
        );
    }
    assert_eq!(
        c.vendor
            .get(&format!("/evidence/{our_file}"))
            .await
            .status(),
        404
    );
    for file in [paper, vendor_file] {
        assert_eq!(
            c.vendor
                .get(&format!("/working-papers/{file}"))
                .await
                .status(),
            404
        );
    }
    assert_eq!(
        c.vendor.get(&format!("/evidence/{paper}")).await.status(),
        404
    );
    let html = c.vendor.get_html(&c.audits_page()).await;
    assert!(html.contains("from-manager.pdf"));
    for hidden in ["ours.pdf", "PAPER-MARKER", "NOTE-MARKER", "Working papers"] {
        assert!(!html.contains(hidden), "{hidden} reached the vendor");
    }
    // The vendor's user attaches nothing to our finding or to the audit.
    let before = c.stored().await;
    let response = c
        .vendor
        .post_file(
            &format!("/findings/{}/evidence", c.our_finding),
            &[("csrf_token", csrf_in(&html).as_str())],
            "file",
            b"a.pdf",
            &pdf(500),
        )
        .await;
    assert_eq!(response.status(), 404);
    let response = c.working_paper(&c.vendor, b"a.pdf", &pdf(500), &[]).await;
    assert_eq!(response.status(), 404);

    // Another vendor's user: every file URL and both forms answer 404, and nothing is written.
    let other = c
        .app
        .create_user(Role::Vendor, Some("Other Vendor Ltd"))
        .await;
    let other = c.app.client_for(&other).await;
    for file in [vendor_file, our_file, managers_vendor_file, paper] {
        for path in [
            format!("/evidence/{file}"),
            format!("/working-papers/{file}"),
        ] {
            assert_eq!(other.get(&path).await.status(), 404, "{path}");
        }
    }
    let token = other.csrf_token("/").await;
    for path in [
        format!("/findings/{}/evidence", c.vendor_finding),
        format!("/findings/{}/evidence", c.our_finding),
        format!("/audits/{}/working-papers", c.audit),
    ] {
        let response = other
            .post_file(
                &path,
                &[("csrf_token", token.as_str())],
                "file",
                b"a.pdf",
                &pdf(500),
            )
            .await;
        assert_eq!(response.status(), 404, "{path}");
    }
    assert_eq!(c.stored().await, before);
    // A manager who does not manage the engagement reads its files but attaches none.
    let (bystander, _) = c.app.signed_in(Role::Manager).await;
    assert_eq!(
        bystander
            .get(&format!("/evidence/{vendor_file}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        bystander
            .get(&format!("/working-papers/{paper}"))
            .await
            .status(),
        200
    );
    let response = c.working_paper(&bystander, b"a.pdf", &pdf(500), &[]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(c.stored().await, before);
}

#[tokio::test]
async fn replacing_a_file_keeps_the_earlier_version_listed_and_downloadable() {
    let c = case().await;
    let first = pdf(1000);
    assert_eq!(
        c.evidence(&c.vendor, c.vendor_finding, b"policy.pdf", &first, &[])
            .await
            .status(),
        303
    );
    let first_file = c.last_file().await;
    let attachment: i64 = sqlx::query_scalar("select id from finding_files where file_id = $1")
        .bind(first_file)
        .fetch_one(&c.app.pool)
        .await
        .unwrap();
    let second = pdf(2000);
    let replaces = attachment.to_string();
    let response = c
        .evidence(
            &c.vendor,
            c.vendor_finding,
            b"policy-v2.pdf",
            &second,
            &[("replaces", replaces.as_str()), ("note", "Signed")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let second_file = c.last_file().await;
    let html = c.vendor.get_html(&c.audits_page()).await;
    let current = texts(&html, &format!("li#file-{second_file}"));
    assert!(current[0].contains("policy-v2.pdf"));
    assert!(current[0].contains("1 earlier version"), "{}", current[0]);
    let earlier = texts(&html, &format!("details li#file-{first_file}"));
    assert!(earlier[0].contains("policy.pdf"), "{earlier:?}");
    assert!(earlier[0].contains("replaced"), "{earlier:?}");
    let body = c
        .vendor
        .get(&format!("/evidence/{first_file}"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(body[..] == first[..]);
    // The old version cannot be replaced twice: its form is stale.
    let response = c
        .evidence(
            &c.vendor,
            c.vendor_finding,
            b"policy-v3.pdf",
            &second,
            &[("replaces", replaces.as_str())],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(c.app.count("select count(*) from finding_files").await, 2);
}

#[tokio::test]
async fn the_same_upload_sent_twice_is_kept_once_and_the_working_paper_form_keeps_its_values() {
    let c = case().await;
    let html = c.manager.get_html(&format!("/audits/{}", c.audit)).await;
    let token = csrf_in(&html);
    let key = form_key_in(&html);
    // The audit page's first form key is the finding form's; the papers form has its own.
    let document = scraper::Html::parse_document(&html);
    let selector =
        scraper::Selector::parse("form[action$=\"/working-papers\"] input[name=form_key]").unwrap();
    let papers_key = document
        .select(&selector)
        .next()
        .and_then(|i| i.value().attr("value"))
        .unwrap()
        .to_string();
    assert_ne!(key, papers_key);
    let path = format!("/audits/{}/working-papers", c.audit);
    for _ in 0..2 {
        let response = c
            .manager
            .post_file(
                &path,
                &[
                    ("csrf_token", token.as_str()),
                    ("form_key", papers_key.as_str()),
                ],
                "file",
                b"plan.pdf",
                &pdf(800),
            )
            .await;
        assert_eq!(response.status(), 303);
    }
    assert_eq!(c.app.count("select count(*) from audit_files").await, 1);
    assert_eq!(c.app.count("select count(*) from files").await, 1);
    // A refused paper keeps its note.
    let response = c
        .working_paper(&c.manager, b"x.pdf", b"", &[("note", "Interview notes")])
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("value=\"Interview notes\""));
    assert!(texts(&html, "#field-file-error")[0].contains("empty"));
}

#[tokio::test]
async fn a_file_that_a_record_refers_to_cannot_be_deleted() {
    let c = case().await;
    assert_eq!(
        c.evidence(&c.vendor, c.vendor_finding, b"a.pdf", &pdf(400), &[])
            .await
            .status(),
        303
    );
    let file = c.last_file().await;
    let refused = sqlx::query("delete from files where id = $1")
        .bind(file)
        .execute(&c.app.pool)
        .await
        .expect_err("a referenced file stays");
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("23503"),
        "a foreign key violation: {refused}"
    );
    assert_eq!(c.app.count("select count(*) from files").await, 1);
    assert!(c.app.count("select count(*) from file_chunks").await > 0);
}
