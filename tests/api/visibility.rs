//! What a vendor user may see: the organisation writes a marker into everything internal
//! through its own forms, the scheduler raises and e-mails what is due, and the marker must
//! appear nowhere a vendor user can reach: pages by following links, the inbox, e-mail,
//! the calendar feed, CSV downloads and review snapshots. A marker written the same way into
//! what is shared must appear there, so the sweep cannot pass by seeing nothing.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use chrono::{DateTime, TimeZone, Utc};
use trellis::scheduler::{self, mail};

use crate::helpers::{TestApp, TestClient, TestUser, csrf_in, location, spawn_app_with, texts};
use crate::smtp::Sink;

/// Every internal text carries this, followed by the field it was written into.
const INTERNAL: &str = "ZQXINT";
/// Every shared text carries this instead.
const SHARED: &str = "ZQXSHR";

/// Wednesday 25 November 2026, 10:00 UTC: 11:00 in Berlin, inside the vendor's window.
fn wednesday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

struct Setup {
    manager: TestClient,
    vendor: TestClient,
    vendor_user: TestUser,
    engagement: i64,
}

async fn setup(app: &TestApp) -> Setup {
    app.clock.set(wednesday());
    let s = crate::scheduler::setup(app, "Acme Outsourcing").await;
    Setup {
        manager: app.client_for(&s.manager).await,
        vendor: app.client_for(&s.vendor_user).await,
        vendor_user: s.vendor_user,
        engagement: s.engagement,
    }
}

/// Opens `page`, then posts `fields` to `action` with the page's CSRF token and, when the
/// page has one, its form key, as a browser would; the answer must be a redirect.
async fn submit(client: &TestClient, page: &str, action: &str, fields: &[(&str, &str)]) -> String {
    let html = client.get_html(page).await;
    let csrf = csrf_in(&html);
    let document = scraper::Html::parse_document(&html);
    let selector = scraper::Selector::parse("input[name=form_key]").unwrap();
    let key = document
        .select(&selector)
        .next()
        .and_then(|input| input.value().attr("value"))
        .map(str::to_string);
    let mut all = vec![("csrf_token", csrf.as_str())];
    if let Some(key) = &key {
        all.push(("form_key", key.as_str()));
    }
    all.extend_from_slice(fields);
    let response = client.post_raw(action, &all).await;
    let status = response.status();
    assert_eq!(status, 303, "{action}: {}", response.text().await.unwrap());
    location(&response).to_string()
}

/// A check-in with every text field marked `mark`, and action items (title, side, due).
async fn check_in(
    s: &Setup,
    held_on: &str,
    health: &str,
    shared: bool,
    items: &[(&str, &str, &str)],
) {
    let e = s.engagement;
    let mark = if shared { SHARED } else { INTERNAL };
    let texts: Vec<(String, String)> = ["attendees", "progress", "blockers", "next_steps"]
        .iter()
        .map(|f| (f.to_string(), format!("{mark}-checkin-{held_on}-{f}")))
        .collect();
    let mut fields: Vec<(String, String)> = vec![
        ("held_on".into(), held_on.into()),
        ("kind".into(), "ad_hoc".into()),
        ("health".into(), health.into()),
    ];
    fields.extend(texts);
    if shared {
        fields.push(("shared".into(), "yes".into()));
    }
    for (i, (title, side, due)) in items.iter().enumerate() {
        fields.push((format!("item_title_{i}"), title.to_string()));
        fields.push((format!("item_side_{i}"), side.to_string()));
        fields.push((format!("item_due_{i}"), due.to_string()));
    }
    let refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let new = format!("/engagements/{e}/checkins/new");
    submit(&s.manager, &new, &new, &refs).await;
}

async fn feedback(s: &Setup, kind: &str, shared: bool, name: &str) {
    let mark = if shared { SHARED } else { INTERNAL };
    let text = |f: &str| format!("{mark}-feedback-{name}-{f}");
    let (situation, observation, impact, request) = (
        text("situation"),
        text("observation"),
        text("impact"),
        text("request"),
    );
    let mut fields = vec![
        ("kind", kind),
        ("situation", situation.as_str()),
        ("observation", observation.as_str()),
        ("impact", impact.as_str()),
        ("request", request.as_str()),
    ];
    if shared {
        fields.push(("shared", "yes"));
    }
    let new = format!("/engagements/{}/feedback/new", s.engagement);
    submit(&s.manager, &new, &new, &fields).await;
}

/// Plans an audit (its texts are the organisation's) and gives it findings of both sides,
/// one due soon and one overdue each; returns the audit's page.
async fn audit_with_findings(app: &TestApp, s: &Setup) -> String {
    let new = format!("/engagements/{}/audits/new", s.engagement);
    let scope = format!("{INTERNAL}-audit-scope");
    let auditor = format!("{INTERNAL}-audit-auditor");
    let page = submit(
        &s.manager,
        &new,
        &new,
        &[
            ("kind", "security"),
            ("scope", scope.as_str()),
            ("planned_on", "2026-11-03"),
            ("auditor", auditor.as_str()),
            ("period", ""),
        ],
    )
    .await;
    let audit = page.trim_start_matches("/audits/").to_string();
    let findings = format!("/audits/{audit}/findings");
    for (side, mark) in [("ours", INTERNAL), ("vendor", SHARED)] {
        for when in ["soon", "overdue"] {
            let description = format!("{mark}-finding-{when}");
            submit(
                &s.manager,
                &page,
                &findings,
                &[
                    ("severity", "high"),
                    ("owner_side", side),
                    ("due_on", "2026-12-10"),
                    ("description", description.as_str()),
                ],
            )
            .await;
        }
    }
    // Due dates in the past, so the overdue reminders fire.
    sqlx::query(
        "update findings set due_on = '2026-11-20' where description like '%-finding-overdue'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    page
}

/// Attaches a text file whose name, note and content carry `mark`, through the form on
/// `page`, as the manager.
async fn attach_file(s: &Setup, page: &str, action: &str, mark: &str, what: &str) {
    let csrf = csrf_in(&s.manager.get_html(page).await);
    let note = format!("{mark}-{what}-note");
    let name = format!("{mark}-{what}-name.txt");
    let content = format!("{mark}-{what}-content\n");
    let response = s
        .manager
        .post_file(
            action,
            &[("csrf_token", csrf.as_str()), ("note", note.as_str())],
            "file",
            name.as_bytes(),
            content.as_bytes(),
        )
        .await;
    assert_eq!(response.status(), 303, "{action}");
}

/// A document of the vendor's added by the manager, `visibility` as given, every text of it
/// (issuer, note, file name and content) marked.
async fn document(app: &TestApp, s: &Setup, mark: &str, visibility: &str) {
    let vendor = s.vendor_user.vendor_id.unwrap().to_string();
    let page = format!("/documents/new?vendor={vendor}");
    let csrf = csrf_in(&s.manager.get_html(&page).await);
    let kind: i64 = sqlx::query_scalar("select id from document_kinds where name = 'SOC 2 report'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let kind = kind.to_string();
    let issuer = format!("{mark}-document-issuer");
    let note = format!("{mark}-document-note");
    let name = format!("{mark}-document-name.txt");
    let content = format!("{mark}-document-content\n");
    let response = s
        .manager
        .post_file(
            "/documents/new",
            &[
                ("csrf_token", csrf.as_str()),
                ("vendor", vendor.as_str()),
                ("kind", kind.as_str()),
                ("issuer", issuer.as_str()),
                ("valid_from", "2026-01-01"),
                ("valid_until", "2026-12-10"),
                ("note", note.as_str()),
                ("visibility", visibility),
            ],
            "file",
            name.as_bytes(),
            content.as_bytes(),
        )
        .await;
    assert_eq!(response.status(), 303, "document {visibility}");
}

/// Everything the organisation can write that is internal, and its shared twin.
async fn write_everything(app: &TestApp, s: &Setup) {
    let e = s.engagement;
    let int = |f: &str| format!("{INTERNAL}-{f}");
    let shr = |f: &str| format!("{SHARED}-{f}");
    check_in(
        s,
        "2026-11-23",
        "off_track",
        false,
        &[
            (&int("internal-checkin-vendor-item"), "vendor", "2026-11-20"),
            (&int("internal-checkin-our-item"), "ours", "2026-11-20"),
        ],
    )
    .await;
    check_in(
        s,
        "2026-11-24",
        "on_track",
        true,
        &[
            (&shr("vendor-item"), "vendor", "2026-11-20"),
            (&int("shared-checkin-our-item"), "ours", "2026-11-20"),
        ],
    )
    .await;
    feedback(s, "concern", false, "old").await;
    feedback(s, "praise", false, "new").await;
    feedback(s, "constructive", true, "old").await;
    feedback(s, "praise", true, "new").await;
    // Feedback older than five days asks for acknowledgement.
    sqlx::query("update feedback set created_at = created_at - interval '6 days' where situation like '%-old-%'")
        .execute(&app.pool)
        .await
        .unwrap();
    let audit = audit_with_findings(app, s).await;
    let summary = int("audit-summary");
    let complete = format!("{audit}/complete");
    submit(
        &s.manager,
        &audit,
        &complete,
        &[
            ("outcome", "pass_with_findings"),
            ("summary", summary.as_str()),
            ("completed_on", "2026-11-25"),
        ],
    )
    .await;
    // A second audit stays planned (planned audits are in the managers' calendar).
    audit_with_findings(app, s).await;
    // Files: the audit's working papers and the evidence of our side's finding are the
    // organisation's; the evidence of the vendor's side's finding is shared.
    let audits = format!("/engagements/{e}/audits");
    attach_file(
        s,
        &audit,
        &format!("{audit}/working-papers"),
        INTERNAL,
        "paper",
    )
    .await;
    for (mark, what) in [(INTERNAL, "our-evidence"), (SHARED, "vendor-evidence")] {
        let finding: i64 = sqlx::query_scalar(
            "select id from findings where description = $1 || '-finding-soon' order by id limit 1",
        )
        .bind(mark)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        attach_file(
            s,
            &audits,
            &format!("/findings/{finding}/evidence"),
            mark,
            what,
        )
        .await;
    }

    // A vendor's documents: an internal one of ours, and a shared one (which expires within
    // the month, so its reminder is raised and mailed too).
    document(app, s, INTERNAL, "internal").await;
    document(app, s, SHARED, "shared").await;

    // A review left as a draft, every field marked internal, and a completed one whose
    // summary is the vendor's.
    let list = format!("/engagements/{e}/reviews");
    let draft = submit(&s.manager, &list, &list, &[("period", "2026-09")]).await;
    let (works, improve, summary, notes) = (
        int("draft-what-works"),
        int("draft-what-to-improve"),
        int("draft-summary"),
        int("draft-internal-notes"),
    );
    submit(
        &s.manager,
        &draft,
        &draft,
        &[
            ("action", "save"),
            ("what_works", works.as_str()),
            ("what_to_improve", improve.as_str()),
            ("decision", "escalate"),
            ("summary", summary.as_str()),
            ("internal_notes", notes.as_str()),
        ],
    )
    .await;
    let done = submit(&s.manager, &list, &list, &[("period", "2026-10")]).await;
    let (works, improve, summary, notes) = (
        int("review-what-works"),
        int("review-what-to-improve"),
        shr("review-summary"),
        int("review-internal-notes"),
    );
    submit(
        &s.manager,
        &done,
        &done,
        &[
            ("action", "complete"),
            ("what_works", works.as_str()),
            ("what_to_improve", improve.as_str()),
            ("decision", "continue"),
            ("summary", summary.as_str()),
            ("internal_notes", notes.as_str()),
        ],
    )
    .await;
}

/// Every page reachable from `start` by following same-site links, as (path, body).
/// Redirects are followed too; static files hold no data and are left out. A path is
/// visited with at most a few query strings: the scorecard's "previous period" links go on
/// without end, and the pages they lead to differ only in the period.
async fn crawl(client: &TestClient, base: &str, start: &[&str]) -> Vec<(String, String)> {
    const LIMIT: usize = 400;
    const QUERIES_PER_PATH: usize = 4;
    let mut queue: VecDeque<String> = start.iter().map(|p| p.to_string()).collect();
    let mut seen: HashSet<String> = queue.iter().cloned().collect();
    let mut queries: HashMap<String, usize> = HashMap::new();
    let mut pages = Vec::new();
    while let Some(path) = queue.pop_front() {
        assert!(
            pages.len() < LIMIT,
            "more than {LIMIT} pages: the crawl is looping"
        );
        let response = client.get(&path).await;
        let mut next: Vec<String> = Vec::new();
        if response.status().is_redirection() {
            next.push(location(&response).to_string());
        }
        let html = response.text().await.unwrap();
        let document = scraper::Html::parse_document(&html);
        let selector = scraper::Selector::parse("a[href]").unwrap();
        next.extend(
            document
                .select(&selector)
                .filter_map(|a| a.value().attr("href"))
                .map(str::to_string),
        );
        for href in next {
            let href = href.strip_prefix(base).unwrap_or(&href);
            let href = href.split('#').next().unwrap_or("");
            let same_site = href.starts_with('/') && !href.starts_with("//");
            if !same_site || href.starts_with("/static/") || seen.contains(href) {
                continue;
            }
            if let Some((route, _)) = href.split_once('?') {
                let n = queries.entry(route.to_string()).or_default();
                if *n == QUERIES_PER_PATH {
                    continue;
                }
                *n += 1;
            }
            seen.insert(href.to_string());
            queue.push_back(href.to_string());
        }
        pages.push((path, html));
    }
    pages
}

/// The vendor user's calendar feed, unfolded (iCalendar folds lines at 75 octets).
async fn calendar(app: &TestApp, client: &TestClient) -> String {
    let response = client.post_form("/account", "/account/calendar", &[]).await;
    assert_eq!(response.status(), 303);
    let page = client.get_html("/account").await;
    let document = scraper::Html::parse_document(&page);
    let selector = scraper::Selector::parse("#feed-url").unwrap();
    let url = document
        .select(&selector)
        .next()
        .and_then(|input| input.value().attr("value"))
        .expect("the new feed address is shown")
        .to_string();
    let path = url.trim_start_matches(&app.address);
    let response = app.client().get(path).await;
    assert_eq!(response.status(), 200);
    response
        .text()
        .await
        .unwrap()
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
}

/// The markers of `kind` in `text`, each with the field it names.
fn markers(text: &str, kind: &str) -> BTreeSet<String> {
    text.match_indices(kind)
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn nothing_the_organisation_keeps_internal_reaches_the_vendor_by_any_path() {
    let sink = Sink::start().await;
    let url = sink.url.clone();
    let app = spawn_app_with(move |c| c.smtp_url = Some(url)).await;
    let s = setup(&app).await;
    write_everything(&app, &s).await;

    // The scheduler raises what is due and e-mails it; the vendor's window is open.
    scheduler::pass(&app.state).await.unwrap();
    let mailer = mail::Mailer::from_config(&app.state.config)
        .unwrap()
        .unwrap();
    mail::deliver(&app.state, &mailer).await.unwrap();

    // Everything the vendor user reaches: pages by following links from home and the inbox,
    // every review by id (drafts included), the calendar feed and every e-mail to them.
    let mut outputs: Vec<(String, String)> = crawl(&s.vendor, &app.address, &["/", "/inbox"]).await;
    let reviews: Vec<i64> = sqlx::query_scalar("select id from reviews order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(reviews.len(), 2);
    for id in reviews {
        for path in [format!("/reviews/{id}"), format!("/reviews/{id}/report")] {
            outputs.push((
                path.clone(),
                s.vendor.get(&path).await.text().await.unwrap(),
            ));
        }
    }
    let report = format!("/engagements/{}/report", s.engagement);
    outputs.push((
        report.clone(),
        s.vendor.get(&report).await.text().await.unwrap(),
    ));
    outputs.push(("calendar".into(), calendar(&app, &s.vendor).await));
    let mails: Vec<_> = sink
        .received()
        .into_iter()
        .filter(|m| m.to.contains(&s.vendor_user.email))
        .collect();
    assert!(!mails.is_empty(), "the vendor was e-mailed");
    for (n, m) in mails.iter().enumerate() {
        outputs.push((format!("e-mail {n}"), format!("{}\n{}", m.data, m.text())));
    }

    let leaks: Vec<(String, BTreeSet<String>)> = outputs
        .iter()
        .map(|(path, body)| (path.clone(), markers(body, INTERNAL)))
        .filter(|(_, found)| !found.is_empty())
        .collect();
    assert!(
        leaks.is_empty(),
        "internal text reached the vendor: {leaks:#?}"
    );

    // The same sweep sees what is shared, on each kind of output.
    let found_in = |what: &str, marker: &str| {
        outputs
            .iter()
            .filter(|(path, _)| path.contains(what))
            .any(|(_, body)| body.contains(marker))
    };
    let crawled: Vec<&str> = outputs.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        crawled.iter().any(|p| p.ends_with(".csv")),
        "a CSV was downloaded: {crawled:?}"
    );
    for (what, marker) in [
        ("/checkins", "ZQXSHR-checkin-2026-11-24-progress"),
        ("/checkins", "ZQXSHR-vendor-item"),
        ("/feedback", "ZQXSHR-feedback-new-situation"),
        ("/audits", "ZQXSHR-finding-soon"),
        ("/audits", "ZQXSHR-vendor-evidence-name"),
        ("/audits", "ZQXSHR-vendor-evidence-note"),
        ("/evidence/", "ZQXSHR-vendor-evidence-content"),
        ("/documents", "ZQXSHR-document-issuer"),
        ("/documents/", "ZQXSHR-document-note"),
        ("/document-files/", "ZQXSHR-document-content"),
        ("/reviews/", "ZQXSHR-review-summary"),
        ("/report", "ZQXSHR-review-summary"),
        ("/inbox", "ZQXSHR-vendor-item"),
        ("/inbox", "ZQXSHR-feedback-old-situation"),
        ("/inbox", "ZQXSHR-finding-overdue"),
        ("e-mail", "ZQXSHR-vendor-item"),
        ("e-mail", "ZQXSHR-finding-soon"),
        ("calendar", "ZQXSHR-vendor-item"),
    ] {
        assert!(found_in(what, marker), "{marker} not found in {what}");
    }
    // And the organisation's people see every internal text they wrote.
    let manager_pages = crawl(
        &s.manager,
        &app.address,
        &[&format!("/engagements/{}", s.engagement), "/inbox"],
    )
    .await;
    let theirs: BTreeSet<String> = manager_pages
        .iter()
        .flat_map(|(_, body)| markers(body, INTERNAL))
        .collect();
    for marker in [
        "ZQXINT-checkin-2026-11-23-progress",
        "ZQXINT-internal-checkin-vendor-item",
        "ZQXINT-shared-checkin-our-item",
        "ZQXINT-feedback-old-situation",
        "ZQXINT-finding-overdue",
        "ZQXINT-audit-summary",
        "ZQXINT-review-internal-notes",
        "ZQXINT-paper-note",
        "ZQXINT-paper-content",
        "ZQXINT-our-evidence-note",
        "ZQXINT-our-evidence-content",
        "ZQXINT-document-note",
        "ZQXINT-document-content",
    ] {
        assert!(
            theirs.contains(marker),
            "{marker} missing for the manager: {theirs:?}"
        );
    }
}

#[tokio::test]
async fn an_overdue_vendor_side_action_item_of_an_internal_check_in_reminds_only_the_managers() {
    let sink = Sink::start().await;
    let url = sink.url.clone();
    let app = spawn_app_with(move |c| c.smtp_url = Some(url)).await;
    let s = setup(&app).await;
    check_in(
        &s,
        "2026-11-23",
        "off_track",
        false,
        &[("Rotate the keys quietly", "vendor", "2026-11-20")],
    )
    .await;
    scheduler::pass(&app.state).await.unwrap();
    let mailer = mail::Mailer::from_config(&app.state.config)
        .unwrap()
        .unwrap();
    mail::deliver(&app.state, &mailer).await.unwrap();

    let reminder = "Action item overdue since 20 Nov: Rotate the keys quietly";
    assert!(s.manager.get_html("/inbox").await.contains(reminder));
    let inbox = s.vendor.get_html("/inbox").await;
    assert!(!inbox.contains("Rotate the keys"), "{inbox}");
    let audience: String =
        sqlx::query_scalar("select audience from reminders where kind = 'action_item_overdue'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audience, "managers");
    assert!(
        sink.received()
            .iter()
            .filter(|m| m.to.contains(&s.vendor_user.email))
            .all(|m| !m.text().contains("Rotate the keys"))
    );
    // Nor does the vendor's check-ins page, home page or calendar name it.
    for path in ["/", &format!("/engagements/{}/checkins", s.engagement)] {
        assert!(
            !s.vendor.get_html(path).await.contains("Rotate the keys"),
            "{path}"
        );
    }
    assert!(!calendar(&app, &s.vendor).await.contains("Rotate the keys"));
}

#[tokio::test]
async fn a_completed_reviews_snapshot_shows_the_vendor_only_shared_check_ins_feedback_and_their_findings()
 {
    let app = spawn_app_with(|_| {}).await;
    let s = setup(&app).await;
    check_in(&s, "2026-11-23", "off_track", false, &[]).await;
    check_in(&s, "2026-11-24", "on_track", true, &[]).await;
    feedback(&s, "concern", false, "internal").await;
    feedback(&s, "praise", true, "shared").await;
    audit_with_findings(&app, &s).await;
    let list = format!("/engagements/{}/reviews", s.engagement);
    let review = submit(&s.manager, &list, &list, &[("period", "2026-10")]).await;
    submit(
        &s.manager,
        &review,
        &review,
        &[
            ("action", "complete"),
            ("decision", "continue"),
            ("summary", "Keep going."),
        ],
    )
    .await;

    let facts = |html: &str| texts(html, ".facts dd");
    let ours = facts(&s.manager.get_html(&review).await);
    assert_eq!(ours[1], "2026-11-24 ● On track · 2026-11-23 ■ Off track");
    assert_eq!(ours[2], "1 praise, 1 constructive or concern");
    assert_eq!(ours[3], "4 (2 overdue)");
    let theirs = facts(&s.vendor.get_html(&review).await);
    assert_eq!(theirs[1], "2026-11-24 ● On track");
    assert_eq!(theirs[2], "1 praise, 0 constructive or concern");
    assert_eq!(theirs[3], "2 (1 overdue)");
    // The stored snapshot keeps both parts; the vendor's is read from the vendor's view.
    let vendor_part: serde_json::Value =
        sqlx::query_scalar("select snapshot -> 'vendor' from reviews")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(vendor_part["praise"], 1);
    assert_eq!(vendor_part["criticism"], 0);
}

#[tokio::test]
async fn the_feedback_balance_a_vendor_sees_counts_only_shared_feedback() {
    let app = spawn_app_with(|_| {}).await;
    let s = setup(&app).await;
    feedback(&s, "concern", false, "internal").await;
    feedback(&s, "constructive", false, "internal-2").await;
    feedback(&s, "praise", true, "shared").await;
    let list = format!("/engagements/{}/feedback", s.engagement);
    let ours = texts(&s.manager.get_html(&list).await, "#balance");
    assert!(
        ours[0].starts_with("Last 90 days: 1 praise to 2 constructive or concerns."),
        "{ours:?}"
    );
    let theirs = texts(&s.vendor.get_html(&list).await, "#balance");
    assert_eq!(
        theirs,
        ["Last 90 days: 1 praise to 0 constructive or concerns."]
    );
}
