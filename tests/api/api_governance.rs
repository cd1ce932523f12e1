//! Check-ins with their action items, audit findings and the portfolio through the JSON
//! API, per role and across vendors, and the cursor pagination of its lists.

use std::collections::HashSet;

use serde_json::{Value, json};
use trellis::auth::Role;

use crate::api_tokens::vendor;
use crate::helpers::{TestApp, TestClient, engagement, spawn_app};

/// A token made through the account form with `scope` ("read" or "read+write").
async fn token(client: &TestClient, scope: &str) -> String {
    let response = client
        .post_form(
            "/account",
            "/account/tokens",
            &[
                ("token_name", "Integration"),
                ("token_days", "90"),
                ("token_scope", scope),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let document = scraper::Html::parse_document(&html);
    let selector = scraper::Selector::parse("#token-secret").unwrap();
    document
        .select(&selector)
        .next()
        .and_then(|input| input.value().attr("value"))
        .expect("the new secret is on the page")
        .to_string()
}

async fn get(app: &TestApp, path: &str, secret: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", app.address))
        .header("authorization", format!("Bearer {secret}"))
        .send()
        .await
        .unwrap();
    answer(response).await
}

async fn post(app: &TestApp, path: &str, secret: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", app.address))
        .header("authorization", format!("Bearer {secret}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    answer(response).await
}

/// The status and the JSON body; an error is always a problem document.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    assert!(status < 500, "{status}: {text}");
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{status}: {text}");
    } else {
        assert!(content_type.starts_with("application/json"), "{text}");
    }
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn ids(body: &Value) -> Vec<i64> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {body}"))
        .iter()
        .map(|item| {
            item["id"]
                .as_i64()
                .or(item["engagement_id"].as_i64())
                .unwrap()
        })
        .collect()
}

/// Every id of a list, page by page with `limit`, checking each page's size.
async fn walk(app: &TestApp, path: &str, secret: &str, limit: usize) -> Vec<i64> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path}{separator}limit={limit}&cursor={c}"),
            None => format!("{path}{separator}limit={limit}"),
        };
        let (status, body) = get(app, &url, secret).await;
        assert_eq!(status, 200, "{url}: {body}");
        let page = ids(&body);
        assert!(page.len() <= limit);
        all.extend(page);
        match body["next_cursor"].as_str() {
            Some(next) => {
                assert_eq!(body["items"].as_array().unwrap().len(), limit);
                cursor = Some(next.to_string());
            }
            None => {
                assert!(body["next_cursor"].is_null(), "{body}");
                return all;
            }
        }
    }
    panic!("the list never ended");
}

struct World {
    app: TestApp,
    engagement: i64,
    manager_id: i64,
    /// read+write tokens of the engagement's manager, its vendor's user, another vendor's
    /// user and a manager who does not manage it; then read-only ones of the first two.
    manager: String,
    vendor: String,
    other_vendor: String,
    other_manager: String,
    manager_read: String,
    vendor_read: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let (vendor_client, vendor_user) = app.signed_in(Role::Vendor).await;
    let (manager_client, manager) = app.signed_in(Role::Manager).await;
    let (other_manager_client, _) = app.signed_in(Role::Manager).await;
    let other = app
        .create_user(Role::Vendor, Some("Other Vendor Ltd"))
        .await;
    let other_client = app.client_for(&other).await;
    let id = engagement(&app, vendor_user.vendor_id.unwrap(), manager.id).await;
    World {
        engagement: id,
        manager_id: manager.id,
        manager: token(&manager_client, "read+write").await,
        vendor: token(&vendor_client, "read+write").await,
        other_vendor: token(&other_client, "read+write").await,
        other_manager: token(&other_manager_client, "read+write").await,
        manager_read: token(&manager_client, "read").await,
        vendor_read: token(&vendor_client, "read").await,
        app,
    }
}

async fn checkin(w: &World, held_on: &str, shared: bool, progress: &str) -> i64 {
    sqlx::query_scalar(
        "insert into checkins (engagement_id, held_on, kind, progress, health, shared, author_id, created_at, form_key)
         values ($1, $2::date, 'scheduled', $3, 'on_track', $4, $5, now(), gen_random_uuid()) returning id",
    )
    .bind(w.engagement)
    .bind(held_on)
    .bind(progress)
    .bind(shared)
    .bind(w.manager_id)
    .fetch_one(&w.app.pool)
    .await
    .unwrap()
}

async fn item(w: &World, checkin: i64, side: &str, title: &str) -> i64 {
    sqlx::query_scalar(
        "insert into action_items (engagement_id, checkin_id, title, owner_side, due_on, created_at)
         values ($1, $2, $3, $4, '2026-02-01', now()) returning id",
    )
    .bind(w.engagement)
    .bind(checkin)
    .bind(title)
    .bind(side)
    .fetch_one(&w.app.pool)
    .await
    .unwrap()
}

async fn count(w: &World, sql: &str) -> i64 {
    w.app.count(sql).await
}

#[tokio::test]
async fn a_vendor_token_reads_only_shared_check_ins_and_its_side_s_items() {
    let w = world().await;
    let shared = checkin(&w, "2026-03-02", true, "Shared progress").await;
    let internal = checkin(&w, "2026-03-03", false, "INTERNAL-MARKER progress").await;
    let theirs = item(&w, shared, "vendor", "Vendor task").await;
    let ours = item(&w, shared, "ours", "INTERNAL-MARKER our task").await;
    item(
        &w,
        internal,
        "vendor",
        "INTERNAL-MARKER vendor task of an internal one",
    )
    .await;
    let list = format!("/api/v1/engagements/{}/checkins", w.engagement);

    let (status, body) = get(&w.app, &list, &w.vendor).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), vec![shared], "{body}");
    assert!(!body.to_string().contains("INTERNAL-MARKER"), "{body}");
    let items = body["items"][0]["action_items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], theirs);
    assert_eq!(items[0]["title"], "Vendor task");
    assert_eq!(items[0]["owner_side"], "vendor");
    assert_eq!(items[0]["due_on"], "2026-02-01");
    assert_eq!(items[0]["status"], "open");
    assert_eq!(items[0]["overdue"], true);

    let (status, body) = get(&w.app, &list, &w.manager_read).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), vec![internal, shared], "newest first: {body}");
    let items: Vec<i64> = body["items"][1]["action_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(items.len(), 2);
    assert!(items.contains(&theirs) && items.contains(&ours));
    assert_eq!(body["items"][0]["shared"], false);

    let (status, body) = get(&w.app, &format!("/api/v1/checkins/{shared}"), &w.vendor).await;
    assert_eq!(status, 200);
    assert_eq!(body["engagement_id"], w.engagement);
    assert_eq!(body["progress"], "Shared progress");
    assert_eq!(body["health"], "on_track");
    assert_eq!(body["action_items"].as_array().unwrap().len(), 1);
    let (status, body) = get(&w.app, &format!("/api/v1/checkins/{internal}"), &w.manager).await;
    assert_eq!((status, body["shared"].clone()), (200, json!(false)));

    // The internal check-in, another vendor's engagement and check-in, and a missing one
    // are all the same 404.
    let (_, missing) = get(&w.app, "/api/v1/checkins/987654321", &w.vendor).await;
    for (path, secret) in [
        (format!("/api/v1/checkins/{internal}"), &w.vendor),
        (format!("/api/v1/checkins/{shared}"), &w.other_vendor),
        (list.clone(), &w.other_vendor),
        ("/api/v1/checkins/abc".to_string(), &w.vendor),
    ] {
        let (status, body) = get(&w.app, &path, secret).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body, missing, "{path}");
    }
}

#[tokio::test]
async fn cursor_pages_walk_every_check_in_exactly_once_newest_first() {
    let w = world().await;
    let mut made = Vec::new();
    // Several on one day: the id breaks the tie.
    for day in [
        "2026-03-01",
        "2026-03-01",
        "2026-03-01",
        "2026-03-05",
        "2026-03-09",
    ] {
        made.push(checkin(&w, day, true, "p").await);
    }
    made.push(checkin(&w, "2026-03-10", true, "p").await);
    made.push(checkin(&w, "2026-02-10", true, "p").await);
    let list = format!("/api/v1/engagements/{}/checkins", w.engagement);
    let (_, whole) = get(&w.app, &format!("{list}?limit=100"), &w.manager).await;
    let expected = ids(&whole);
    assert_eq!(expected.len(), 7);
    assert!(whole["next_cursor"].is_null());
    for limit in [1, 2, 3, 7] {
        let walked = walk(&w.app, &list, &w.manager, limit).await;
        assert_eq!(walked, expected, "limit {limit}");
    }
    assert_eq!(expected[0], made[5]);
    assert_eq!(*expected.last().unwrap(), made[6]);
    let unique: HashSet<i64> = expected.iter().copied().collect();
    assert_eq!(unique.len(), 7);
    // Default page size.
    let (_, body) = get(&w.app, &list, &w.manager).await;
    assert_eq!(ids(&body).len(), 7);
}

#[tokio::test]
async fn a_tampered_or_foreign_cursor_is_a_400_and_a_limit_outside_1_to_100_a_422() {
    let w = world().await;
    for day in ["2026-03-01", "2026-03-02", "2026-03-03"] {
        checkin(&w, day, true, "p").await;
    }
    let list = format!("/api/v1/engagements/{}/checkins", w.engagement);
    let (_, body) = get(&w.app, &format!("{list}?limit=1"), &w.manager).await;
    let cursor = body["next_cursor"].as_str().unwrap().to_string();
    let (status, _) = get(
        &w.app,
        &format!("{list}?limit=1&cursor={cursor}"),
        &w.manager,
    )
    .await;
    assert_eq!(status, 200);

    let mut tampered = cursor.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let other = engagement(&w.app, vendor(&w.app, "Third Vendor").await, w.manager_id).await;
    for (path, what) in [
        (format!("{list}?cursor={tampered}"), "tampered"),
        (format!("{list}?cursor=not-a-cursor!"), "garbage"),
        (format!("{list}?cursor=%00%ff"), "bytes"),
        (format!("{list}?cursor={}", "A".repeat(5000)), "long"),
        (
            format!("/api/v1/engagements/{other}/checkins?cursor={cursor}"),
            "another engagement's",
        ),
        (
            format!(
                "/api/v1/engagements/{}/findings?cursor={cursor}",
                w.engagement
            ),
            "another list's",
        ),
        (
            format!("/api/v1/engagements?cursor={cursor}"),
            "the engagements'",
        ),
    ] {
        let (status, body) = get(&w.app, &path, &w.manager).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["status"], 400);
    }
    for limit in ["0", "101", "-1", "abc", "99999999999999999999"] {
        let (status, _) = get(&w.app, &format!("{list}?limit={limit}"), &w.manager).await;
        assert_eq!(status, 422, "limit={limit}");
    }
    for limit in ["1", "100"] {
        let (status, _) = get(&w.app, &format!("{list}?limit={limit}"), &w.manager).await;
        assert_eq!(status, 200, "limit={limit}");
    }
}

#[tokio::test]
async fn the_engagement_list_pages_by_cursor_within_its_filters() {
    let app = spawn_app().await;
    let (client, manager) = app.signed_in(Role::Manager).await;
    let secret = token(&client, "read").await;
    let mut made = Vec::new();
    for name in ["Delta", "alpha", "Charlie", "bravo", "Echo"] {
        let v = vendor(&app, &format!("Vendor {name}")).await;
        made.push(engagement(&app, v, manager.id).await);
    }
    // A closed one goes last whatever its name.
    sqlx::query("update engagements set status = 'closed' where id = $1")
        .bind(made[1])
        .execute(&app.pool)
        .await
        .unwrap();
    let walked = walk(&app, "/api/v1/engagements", &secret, 2).await;
    assert_eq!(walked.len(), 5);
    assert_eq!(*walked.last().unwrap(), made[1], "closed last");
    let (_, whole) = get(&app, "/api/v1/engagements?limit=100", &secret).await;
    assert_eq!(ids(&whole), walked);
    assert_eq!(
        walk(&app, "/api/v1/engagements?status=closed", &secret, 1).await,
        vec![made[1]]
    );
    // A cursor of one filter is refused by another.
    let (_, page) = get(&app, "/api/v1/engagements?limit=1", &secret).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (status, _) = get(
        &app,
        &format!("/api/v1/engagements?status=draft&cursor={cursor}"),
        &secret,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = get(&app, "/api/v1/engagements?limit=101", &secret).await;
    assert_eq!(status, 422);
}

fn new_checkin() -> Value {
    json!({
        "held_on": "2026-03-02",
        "kind": "scheduled",
        "attendees": "Both leads",
        "progress": "Migrated the ticket queue",
        "blockers": "",
        "health": "at_risk",
        "next_steps": "Cut over",
        "shared": false,
        "action_items": [
            {"title": "Send the runbook", "owner_side": "vendor", "assignee": "Ops lead", "due_on": "2026-03-09"},
            {"title": "Approve the window", "owner_side": "ours"}
        ],
        "vendor_id": 987654, "author_id": 1
    })
}

#[tokio::test]
async fn a_manager_s_token_logs_a_check_in_by_the_form_s_rules_and_the_audit_names_it() {
    let w = world().await;
    let path = format!("/api/v1/engagements/{}/checkins", w.engagement);
    let (status, body) = post(&w.app, &path, &w.manager, &new_checkin()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["engagement_id"], w.engagement);
    assert_eq!(body["health"], "at_risk");
    assert_eq!(body["shared"], false);
    let items = body["action_items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let id = body["id"].as_i64().unwrap();
    let (status, again) = get(&w.app, &format!("/api/v1/checkins/{id}"), &w.manager).await;
    assert_eq!((status, &again), (200, &body));
    assert_eq!(
        count(
            &w,
            &format!(
                "select count(*) from checkins where id = {id} and author_id = {} and not shared",
                w.manager_id
            )
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &w,
            "select count(*) from audit_log where action = 'checkin.create' and details->'token'->>'name' = 'Integration'"
        )
        .await,
        1
    );
    // Internal: the vendor's token does not see it.
    let (status, _) = get(&w.app, &format!("/api/v1/checkins/{id}"), &w.vendor).await;
    assert_eq!(status, 404);

    // Shared unless said otherwise.
    let mut shared = new_checkin();
    shared.as_object_mut().unwrap().remove("shared");
    let (status, body) = post(&w.app, &path, &w.manager, &shared).await;
    assert_eq!((status, body["shared"].clone()), (201, json!(true)));
}

#[tokio::test]
async fn an_invalid_check_in_is_a_422_with_one_entry_per_field_and_nothing_written() {
    let w = world().await;
    let path = format!("/api/v1/engagements/{}/checkins", w.engagement);
    let bad = json!({
        "held_on": "2999-01-01",
        "kind": "scheduled",
        "progress": "",
        "health": "splendid",
        "action_items": [{"title": "No side"}, {"title": "x", "owner_side": "vendor", "due_on": "2026-13-40"}]
    });
    let (status, body) = post(&w.app, &path, &w.manager, &bad).await;
    assert_eq!(status, 422, "{body}");
    let fields: HashSet<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["detail"].as_str().is_some_and(|m| !m.is_empty()));
            e["field"].as_str().unwrap()
        })
        .collect();
    let expected: HashSet<&str> = [
        "held_on",
        "progress",
        "health",
        "action_items[0].owner_side",
        "action_items[1].due_on",
    ]
    .into();
    assert_eq!(fields, expected, "{body}");
    for (body, status) in [
        (
            json!({"held_on": 5, "progress": ["x"], "shared": "yes"}),
            422,
        ),
        (json!({"action_items": [{}, {}, {}, {}]}), 422),
        (json!({"action_items": "none"}), 422),
        (json!([1, 2]), 422),
    ] {
        let (got, problem) = post(&w.app, &path, &w.manager, &body).await;
        assert_eq!(got, status, "{problem}");
    }
    let response = reqwest::Client::new()
        .post(format!("{}{path}", w.app.address))
        .header("authorization", format!("Bearer {}", w.manager))
        .header("content-type", "application/json")
        .body("{\"held_on\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(answer(response).await.0, 400);
    let response = reqwest::Client::new()
        .post(format!("{}{path}", w.app.address))
        .header("authorization", format!("Bearer {}", w.manager))
        .header("content-type", "text/plain")
        .body(new_checkin().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer(response).await.0, 415);
    assert_eq!(count(&w, "select count(*) from checkins").await, 0);
    assert_eq!(count(&w, "select count(*) from action_items").await, 0);
}

#[tokio::test]
async fn only_the_engagement_s_managers_log_check_ins_and_read_only_tokens_write_nothing() {
    let w = world().await;
    let path = format!("/api/v1/engagements/{}/checkins", w.engagement);
    let (_, missing) = post(
        &w.app,
        "/api/v1/engagements/987654321/checkins",
        &w.manager,
        &new_checkin(),
    )
    .await;
    // The vendor's users never log check-ins: the form's page does not exist for them.
    for secret in [&w.vendor, &w.other_vendor] {
        let (status, body) = post(&w.app, &path, secret, &new_checkin()).await;
        assert_eq!(status, 404);
        assert_eq!(body, missing);
    }
    let (status, _) = post(&w.app, &path, &w.other_manager, &new_checkin()).await;
    assert_eq!(status, 403, "a manager of other engagements");
    for secret in [&w.manager_read, &w.vendor_read] {
        let (status, body) = post(&w.app, &path, secret, &new_checkin()).await;
        assert_eq!(status, 403, "{body}");
    }
    assert_eq!(count(&w, "select count(*) from checkins").await, 0);
    assert_eq!(
        count(
            &w,
            "select count(*) from audit_log where action like 'checkin.%' or action like 'action_item.%'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_makes_one_check_in() {
    let w = world().await;
    let path = format!(
        "{}/api/v1/engagements/{}/checkins",
        w.app.address, w.engagement
    );
    let key = uuid::Uuid::new_v4().to_string();
    let send = |key: String| {
        reqwest::Client::new()
            .post(&path)
            .header("authorization", format!("Bearer {}", w.manager))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(new_checkin().to_string())
            .send()
    };
    let (first, body) = answer(send(key.clone()).await.unwrap()).await;
    let (second, again) = answer(send(key.clone()).await.unwrap()).await;
    assert_eq!((first, second), (201, 200));
    assert_eq!(body, again);
    assert_eq!(count(&w, "select count(*) from checkins").await, 1);
    assert_eq!(count(&w, "select count(*) from action_items").await, 2);
    let (status, _) = answer(send("not-a-uuid".into()).await.unwrap()).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn only_the_owning_side_closes_an_action_item_and_others_change_nothing() {
    let w = world().await;
    let shared = checkin(&w, "2026-03-02", true, "p").await;
    let internal = checkin(&w, "2026-03-03", false, "p").await;
    let theirs = item(&w, shared, "vendor", "Theirs").await;
    let ours = item(&w, shared, "ours", "Ours").await;
    let theirs_internal = item(&w, internal, "vendor", "Theirs, internal").await;
    let done = json!({"status": "done", "note": "Sent"});
    let at = |id: i64| format!("/api/v1/action-items/{id}");
    let (_, missing) = post(&w.app, &at(987654321), &w.vendor, &done).await;

    // Invisible to the vendor: ours, and theirs of an internal check-in; another vendor's.
    for (id, secret) in [
        (ours, &w.vendor),
        (theirs_internal, &w.vendor),
        (theirs, &w.other_vendor),
        (ours, &w.other_vendor),
    ] {
        let (status, body) = post(&w.app, &at(id), secret, &done).await;
        assert_eq!(status, 404, "{id}");
        assert_eq!(body, missing);
    }
    let (status, _) = post(&w.app, &at(theirs), &w.manager, &done).await;
    assert_eq!(status, 403, "the vendor's item is theirs to close");
    let (status, _) = post(&w.app, &at(ours), &w.other_manager, &done).await;
    assert_eq!(status, 403);
    let (status, _) = post(&w.app, &at(theirs), &w.vendor_read, &done).await;
    assert_eq!(status, 403);
    let (status, body) = post(
        &w.app,
        &at(theirs),
        &w.vendor,
        &json!({"status": "finished"}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "status");
    assert_eq!(
        count(
            &w,
            "select count(*) from action_items where status <> 'open'"
        )
        .await,
        0
    );

    let (status, body) = post(&w.app, &at(theirs), &w.vendor, &done).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "done");
    assert_eq!(body["closing_note"], "Sent");
    assert_eq!(body["overdue"], false);
    assert!(body["closed_by"].is_string() && body["closed_at"].is_string());
    // Again as it is: unchanged; otherwise a conflict.
    let (status, _) = post(&w.app, &at(theirs), &w.vendor, &done).await;
    assert_eq!(status, 200);
    let (status, _) = post(
        &w.app,
        &at(theirs),
        &w.vendor,
        &json!({"status": "dropped"}),
    )
    .await;
    assert_eq!(status, 409);
    let (status, body) = post(&w.app, &at(ours), &w.manager, &json!({"status": "dropped"})).await;
    assert_eq!((status, body["status"].clone()), (200, json!("dropped")));
    assert_eq!(
        count(
            &w,
            "select count(*) from audit_log where action = 'action_item.close' and details->'token' is not null"
        )
        .await,
        2
    );
}

async fn finding(w: &World, audit: i64, side: &str, description: &str, status: &str) -> i64 {
    sqlx::query_scalar(
        "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on, status, created_by,
                               created_at, form_key)
         values ($1, $2, 'high', $3, $4, '2026-02-01', $5, $6, now(), gen_random_uuid()) returning id",
    )
    .bind(audit)
    .bind(w.engagement)
    .bind(description)
    .bind(side)
    .bind(status)
    .bind(w.manager_id)
    .fetch_one(&w.app.pool)
    .await
    .unwrap()
}

async fn audit(w: &World) -> i64 {
    sqlx::query_scalar(
        "insert into audits (engagement_id, kind, scope, planned_on, auditor, created_by, created_at, form_key)
         values ($1, 'security', 'INTERNAL-MARKER scope', '2026-01-01', 'a', $2, now(), gen_random_uuid()) returning id",
    )
    .bind(w.engagement)
    .bind(w.manager_id)
    .fetch_one(&w.app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn each_side_reads_the_findings_the_audits_page_shows_it_and_answers_its_own() {
    let w = world().await;
    let a = audit(&w).await;
    let theirs = finding(&w, a, "vendor", "Patch the VPN", "open").await;
    let ours = finding(&w, a, "ours", "INTERNAL-MARKER our gap", "open").await;
    let settled = finding(&w, a, "vendor", "Old one", "closed").await;
    let list = format!("/api/v1/engagements/{}/findings", w.engagement);

    let (status, body) = get(&w.app, &list, &w.vendor_read).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), vec![theirs, settled], "settled last: {body}");
    assert!(!body.to_string().contains("INTERNAL-MARKER"), "{body}");
    let first = &body["items"][0];
    assert_eq!(first["audit_kind"], "security");
    assert_eq!(first["severity"], "high");
    assert_eq!(first["owner_side"], "vendor");
    assert_eq!(first["status"], "open");
    assert_eq!(first["overdue"], true);
    let (_, body) = get(&w.app, &list, &w.manager_read).await;
    assert_eq!(ids(&body), vec![theirs, ours, settled]);
    assert_eq!(
        walk(&w.app, &list, &w.manager, 1).await,
        vec![theirs, ours, settled]
    );
    let (status, _) = get(&w.app, &list, &w.other_vendor).await;
    assert_eq!(status, 404);

    let plan = json!({"remediation_plan": "Patch by Friday", "evidence": "Change 42"});
    let at = |id: i64| format!("/api/v1/findings/{id}/answer");
    let (_, missing) = post(&w.app, &at(987654321), &w.vendor, &plan).await;
    for (id, secret) in [
        (ours, &w.vendor),
        (theirs, &w.other_vendor),
        (ours, &w.other_vendor),
    ] {
        let (status, body) = post(&w.app, &at(id), secret, &plan).await;
        assert_eq!(status, 404);
        assert_eq!(body, missing);
    }
    let (status, _) = post(&w.app, &at(theirs), &w.manager, &plan).await;
    assert_eq!(status, 403, "the vendor's to answer");
    let (status, _) = post(&w.app, &at(theirs), &w.vendor_read, &plan).await;
    assert_eq!(status, 403);
    let (status, body) = post(
        &w.app,
        &at(theirs),
        &w.vendor,
        &json!({"remediation_plan": " "}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "remediation_plan");
    assert_eq!(
        count(
            &w,
            "select count(*) from findings where status = 'answered'"
        )
        .await,
        0
    );

    let (status, body) = post(&w.app, &at(theirs), &w.vendor, &plan).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "answered");
    assert_eq!(body["remediation_plan"], "Patch by Friday");
    assert!(body["answered_by"].is_string());
    let (status, _) = post(&w.app, &at(settled), &w.vendor, &plan).await;
    assert_eq!(status, 409);
    let (status, body) = post(&w.app, &at(ours), &w.manager, &plan).await;
    assert_eq!((status, body["status"].clone()), (200, json!("answered")));
    assert_eq!(
        count(
            &w,
            "select count(*) from audit_log where action = 'finding.answer' and details->'token' is not null"
        )
        .await,
        2
    );
}

async fn scored(app: &TestApp, engagement: i64, score: Option<&str>, change: Option<&str>) {
    sqlx::query("update engagements set status = 'active' where id = $1")
        .bind(engagement)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into engagement_scores (engagement_id, valid_until, engagement_name, vendor_name, tier, owner_id,
                                        owner_name, period_label, score, standing, change, worst)
         select e.id, now() + interval '10 years', e.name, v.name, v.tier, e.owner_id, 'Owner', '2026-11',
                $2::numeric, case when $2 is null then 'no_data' else 'good' end, $3::numeric,
                case when $2 is null then '' else 'Resolution (p95) (61)' end
         from engagements e join vendors v on v.id = e.vendor_id where e.id = $1
         on conflict (engagement_id) do update
         set valid_until = excluded.valid_until, engagement_name = excluded.engagement_name,
             vendor_name = excluded.vendor_name, tier = excluded.tier, owner_name = excluded.owner_name,
             period_label = excluded.period_label, score = excluded.score, standing = excluded.standing,
             change = excluded.change, worst = excluded.worst",
    )
    .bind(engagement)
    .bind(score)
    .bind(change)
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_portfolio_pages_by_cursor_in_each_of_the_page_s_sorts() {
    let app = spawn_app().await;
    let (client, manager) = app.signed_in(Role::Manager).await;
    let (vendor_client, _) = app.signed_in(Role::Vendor).await;
    let secret = token(&client, "read").await;
    let vendor_secret = token(&vendor_client, "read").await;
    let values = [
        (Some("80.0"), Some("-2.5")),
        (None, None),
        (Some("55.5"), Some("1.0")),
        (Some("80.0"), None),
        (None, Some("3.0")),
        (Some("91.2"), Some("-2.5")),
    ];
    for (i, (score, change)) in values.iter().enumerate() {
        let v = vendor(
            &app,
            &format!("Vendor {}", ["b", "A", "c", "a2", "D", "e"][i]),
        )
        .await;
        let e = engagement(&app, v, manager.id).await;
        scored(&app, e, *score, *change).await;
    }
    for sort in ["score", "change", "name"] {
        let path = format!("/api/v1/portfolio?sort={sort}");
        let (status, whole) = get(&app, &format!("{path}&limit=100"), &secret).await;
        assert_eq!(status, 200, "{whole}");
        let expected = ids(&whole);
        assert_eq!(expected.len(), 6);
        for limit in [1, 2, 4] {
            assert_eq!(
                walk(&app, &path, &secret, limit).await,
                expected,
                "{sort} by {limit}"
            );
        }
        let scores: Vec<Value> = whole["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i[sort].clone())
            .collect();
        match sort {
            "score" => assert_eq!(
                scores,
                ["55.5", "80.0", "80.0", "91.2"]
                    .map(|s| json!(s))
                    .into_iter()
                    .chain([Value::Null, Value::Null])
                    .collect::<Vec<_>>()
            ),
            "change" => assert_eq!(
                scores,
                [Value::Null, Value::Null]
                    .into_iter()
                    .chain(["-2.5", "-2.5", "1.0", "3.0"].map(|s| json!(s)))
                    .collect::<Vec<_>>()
            ),
            _ => {}
        }
    }
    let (_, body) = get(&app, "/api/v1/portfolio?sort=score&limit=1", &secret).await;
    let row = &body["items"][0];
    assert_eq!(row["score"], "55.5");
    assert_eq!(row["standing"], "good");
    assert_eq!(row["period"]["label"], "2026-11");
    assert_eq!(row["period"]["start"], "2026-11-01");
    assert_eq!(row["period"]["end"], "2026-11-30");
    assert_eq!(row["weakest_kpi"]["name"], "Resolution (p95)");
    assert_eq!(row["weakest_kpi"]["score"], "61");
    assert!(row["tier"].is_string() && row["vendor_name"].is_string());
    // A cursor of one sort is refused by another; the filters are checked.
    let cursor = body["next_cursor"].as_str().unwrap();
    let (status, _) = get(
        &app,
        &format!("/api/v1/portfolio?sort=name&cursor={cursor}"),
        &secret,
    )
    .await;
    assert_eq!(status, 400);
    for bad in [
        "sort=worst",
        "tier=gold",
        "standing=fine",
        "manager=abc",
        "limit=0",
        "tier=",
        "standing=",
        "manager=",
        "sort=",
    ] {
        let (status, _) = get(&app, &format!("/api/v1/portfolio?{bad}"), &secret).await;
        assert_eq!(status, 422, "{bad}");
    }
    let (status, body) = get(&app, "/api/v1/portfolio?standing=no_data", &secret).await;
    assert_eq!((status, ids(&body).len()), (200, 2));
    // The organisation's: a vendor's token is refused, as the page refuses a vendor user.
    let (status, _) = get(&app, "/api/v1/portfolio", &vendor_secret).await;
    assert_eq!(status, 403);
}
