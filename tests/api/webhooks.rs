//! Outgoing webhooks against a real receiver on loopback: the admin registers an endpoint in
//! the browser's form, a write anywhere raises its event, the sender signs it as Standard
//! Webhooks says, failures are retried and shown, a day of them disables the endpoint, and a
//! delivery claimed by an instance that died goes out from another once its lease runs out.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use trellis::auth::Role;

use crate::helpers::{TestApp, TestClient, spawn_app, texts};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap().to_str().unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An HTTP receiver on a loopback port that keeps what it gets and answers `status`.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<Mutex<StatusCode>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(Mutex::new(StatusCode::NO_CONTENT));
        let (kept, answer) = (got.clone(), status.clone());
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (kept, answer) = (kept.clone(), answer.clone());
                async move {
                    kept.lock().unwrap().push(Received {
                        headers,
                        body: body.to_vec(),
                    });
                    *answer.lock().unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { url, got, status }
    }

    fn answer(&self, status: StatusCode) {
        *self.status.lock().unwrap() = status;
    }

    /// Waits (at most `within`) for a request whose event is of `kind`.
    async fn wait_for(&self, kind: &str, within: Duration) -> Option<Received> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let found = self
                .got
                .lock()
                .unwrap()
                .iter()
                .find(|r| r.json()["type"] == kind)
                .cloned();
            if found.is_some() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }
}

/// Registers an endpoint through the admin page; gives its id and the secret shown once.
async fn register(
    app: &TestApp,
    admin: &TestClient,
    url: &str,
    events: &[&str],
    format: &str,
) -> (i64, String) {
    let mut fields = vec![
        ("name", "Service desk tool"),
        ("url", url),
        ("format", format),
    ];
    fields.extend(events.iter().map(|e| ("events", *e)));
    let response = admin
        .post_form("/admin/webhooks", "/admin/webhooks", &fields)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    let secret = texts(&html, "#webhook-secret")
        .pop()
        .expect("the secret, once");
    assert!(secret.starts_with("whsec_"));
    let id = sqlx::query_scalar("select max(id) from webhook_endpoints")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    // Shown once: the page does not show it again.
    assert!(!admin.get_html("/admin/webhooks").await.contains(&secret));
    (id, secret)
}

/// Checks a delivery's signature as a receiver would, with an HMAC of its own.
fn verify(received: &Received, secret: &str) {
    let id = received.header("webhook-id");
    let timestamp = received.header("webhook-timestamp");
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&received.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert!(
        received
            .header("webhook-signature")
            .split(' ')
            .any(|s| s == expected),
        "signature {} is not {expected}",
        received.header("webhook-signature")
    );
    let age = chrono::Utc::now().timestamp() - timestamp.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "a fresh timestamp: {age} s old");
    assert_eq!(received.header("content-type"), "application/json");
}

#[tokio::test]
async fn a_disputed_value_reaches_a_local_receiver_correctly_signed_at_once() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let (s, _) = crate::scorecard::setup(&app).await;
    // Without an endpoint, writes leave no event behind.
    crate::scorecard::record(&s.vendor, s.id, "2026-09", &[(s.resolve, "5")]).await;
    assert_eq!(app.count("select count(*) from webhook_events").await, 0);

    let (_, secret) = register(
        &app,
        &admin,
        &receiver.url,
        &["kpi_value.reported", "kpi_value.disputed"],
        "standard",
    )
    .await;
    let recorded = crate::scorecard::record(&s.vendor, s.id, "2026-10", &[(s.resolve, "6")]).await;
    assert_eq!(recorded.status(), 303);
    let reported = receiver
        .wait_for("kpi_value.reported", Duration::from_secs(4))
        .await
        .expect("the report's event");
    verify(&reported, &secret);

    let value: i64 = sqlx::query_scalar(
        "select id from kpi_values where kpi_id = $1 and period_start = '2026-10-01'",
    )
    .bind(s.resolve)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let disputed_at = Instant::now();
    let response = s
        .manager
        .post_form(
            &format!("/engagements/{}/values?period=2026-10", s.id),
            &format!("/values/{value}/review"),
            &[
                ("decision", "dispute"),
                ("dispute_note", "The ticket export shows 9 hours."),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    // The sender is woken when the dispute commits; it polls only every 5 s besides.
    let disputed = receiver
        .wait_for("kpi_value.disputed", Duration::from_secs(4))
        .await
        .expect("the dispute's event");
    println!(
        "dispute to receiver: {} ms",
        disputed_at.elapsed().as_millis()
    );
    verify(&disputed, &secret);
    let event = disputed.json();
    assert!(
        disputed.header("webhook-id").starts_with("evt_")
            && event["id"] == disputed.header("webhook-id")
    );
    assert_eq!(event["data"]["engagement"]["id"], s.id);
    assert_eq!(event["data"]["subject"]["type"], "kpi_value");
    assert_eq!(event["data"]["subject"]["id"], value);
    assert_eq!(event["data"]["subject"]["state"], "disputed");
    assert_eq!(
        event["data"]["url"],
        format!(
            "{}/engagements/{}/values",
            app.state.config.public_url, s.id
        )
    );
    assert!(
        event["data"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("KPI value disputed: Time to resolve")
    );
    // Each event once; the ids differ.
    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_ne!(got[0].header("webhook-id"), got[1].header("webhook-id"));

    let page = admin.get_html("/admin/webhooks").await;
    assert_eq!(
        texts(&page, "#deliveries-heading + .table-wrap .badge").len(),
        2
    );
    assert!(page.contains("Delivered") && page.contains("204"));
}

#[tokio::test]
async fn failures_are_retried_shown_with_the_receivers_answer_and_a_day_of_them_disables_the_endpoint()
 {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    receiver.answer(StatusCode::SERVICE_UNAVAILABLE);
    let (admin, _) = app.signed_in(Role::Admin).await;
    let (endpoint, _) = register(&app, &admin, &receiver.url, &["checkin.logged"], "chat").await;

    let test = admin
        .post_form(
            "/admin/webhooks",
            &format!("/admin/webhooks/{endpoint}/test"),
            &[],
        )
        .await;
    assert_eq!(test.status(), 303);
    let failed = wait_until(
        &app,
        "select count(*) from webhook_deliveries where last_status = 503",
        1,
    )
    .await;
    assert_eq!(failed, 1);
    let (attempts, wait): (i32, f64) = sqlx::query_as(
        "select attempts, extract(epoch from next_attempt_at - last_attempt_at)::float8 from webhook_deliveries",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(attempts, 1);
    assert!((29.0..31.0).contains(&wait), "tried again in 30 s: {wait}");
    // A chat message, for Slack and Teams.
    let text = receiver.got.lock().unwrap()[0].json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.contains("A test event from Trellis"), "{text}");
    let page = admin.get_html("/admin/webhooks").await;
    assert!(page.contains("answered 503 Service Unavailable"));
    assert!(page.contains("Failing"));

    // Retry, once the receiver works: delivered, and the endpoint is well again.
    receiver.answer(StatusCode::OK);
    let delivery: i64 = sqlx::query_scalar("select id from webhook_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let retried = admin
        .post_form(
            "/admin/webhooks",
            &format!("/admin/webhook-deliveries/{delivery}/retry"),
            &[],
        )
        .await;
    assert_eq!(retried.status(), 303);
    assert_eq!(
        wait_until(
            &app,
            "select count(*) from webhook_deliveries where delivered_at is not null",
            1
        )
        .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from webhook_endpoints where failing_since is null")
            .await,
        1
    );

    // A day of failures disables it, and the admins hear of it.
    receiver.answer(StatusCode::INTERNAL_SERVER_ERROR);
    sqlx::query("update webhook_endpoints set failing_since = now() - interval '25 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    let checkin_by_sql = sqlx::query(
        "insert into webhook_events (id, kind, data) values (gen_random_uuid(), 'checkin.logged', '{\"path\": \"/\"}')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(checkin_by_sql.rows_affected(), 1);
    assert_eq!(
        wait_until(
            &app,
            "select count(*) from webhook_endpoints where disabled_at is not null",
            1
        )
        .await,
        1
    );
    let reason: String = sqlx::query_scalar("select disabled_reason from webhook_endpoints")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(reason.contains("answered 500"), "{reason}");
    assert!(
        app.audit_actions()
            .await
            .contains(&("webhook.disable".into(), "success".into()))
    );
    let page = admin.get_html("/admin/webhooks").await;
    assert!(page.contains("Disabled") && page.contains("Every delivery failed for a day"));
    // Enabling sends what waited.
    receiver.answer(StatusCode::OK);
    let enabled = admin
        .post_form(
            "/admin/webhooks",
            &format!("/admin/webhooks/{endpoint}/enable"),
            &[],
        )
        .await;
    assert_eq!(enabled.status(), 303);
    assert_eq!(
        wait_until(
            &app,
            "select count(*) from webhook_deliveries where delivered_at is not null",
            2
        )
        .await,
        2
    );
}

/// Polls `sql` (a count) until it is `want`, for at most 5 s; gives its last value.
async fn wait_until(app: &TestApp, sql: &str, want: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = app.count(sql).await;
        if n == want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Form fields, or a field and its error.
type Fields<'a> = &'a [(&'a str, &'a str)];

#[tokio::test]
async fn a_bad_endpoint_is_refused_field_by_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let cases: &[(Fields, Fields)] = &[
        (
            &[
                ("name", ""),
                ("url", "http://hooks.example.com/"),
                ("format", "xml"),
            ],
            &[
                ("name", "Name the endpoint, such as \"Service desk tool\"."),
                (
                    "url",
                    "Use https: events go out signed, but only https keeps them private.",
                ),
                (
                    "events",
                    "Choose the events this endpoint wants, one at least.",
                ),
                ("format", "Choose the format."),
            ],
        ),
        (
            &[
                ("name", "Tool"),
                ("url", "https://user:secret@hooks.example.com/"),
                ("format", "standard"),
                ("events", "checkin.logged"),
                ("events", "everything.happened"),
            ],
            &[
                (
                    "url",
                    "Leave credentials out of the address: every delivery is signed instead.",
                ),
                (
                    "events",
                    "Choose the events this endpoint wants, one at least.",
                ),
            ],
        ),
        (
            &[
                ("name", "Tool"),
                ("url", "file:///etc/passwd"),
                ("format", "chat"),
                ("events", "checkin.logged"),
            ],
            &[("url", "The address must start with https://.")],
        ),
    ];
    for (fields, expected) in cases {
        let response = admin
            .post_form("/admin/webhooks", "/admin/webhooks", fields)
            .await;
        assert_eq!(response.status(), 422, "{fields:?}");
        let html = response.text().await.unwrap();
        for (field, message) in *expected {
            assert_eq!(
                texts(&html, &format!("#field-{field}-error")),
                vec![message.to_string()],
                "{field} of {fields:?}"
            );
        }
        assert!(!html.contains("whsec_"));
    }
    assert_eq!(app.count("select count(*) from webhook_endpoints").await, 0);
    // Managers and vendor users have no webhooks page.
    for role in [Role::Manager, Role::Vendor] {
        let (client, _) = app.signed_in(role).await;
        assert_eq!(client.get("/admin/webhooks").await.status(), 403);
    }
}

#[tokio::test]
async fn a_delivery_whose_sender_died_goes_out_once_from_another_instance_after_its_lease() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let (endpoint, secret) = register(
        &app,
        &admin,
        &receiver.url,
        &["review.completed"],
        "standard",
    )
    .await;
    // Another instance claimed it (its lease: a minute) and died before the receiver
    // answered: nobody sends it while the lease runs.
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query(
        "insert into webhook_events (id, kind, data)
         values (gen_random_uuid(), 'review.completed', '{\"path\": \"/reviews/1\", \"summary\": \"Review completed\"}')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "update webhook_deliveries set attempts = 1, last_attempt_at = now(), next_attempt_at = now() + interval '60 seconds'",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let client = trellis::webhooks::deliver::client();
    assert_eq!(
        trellis::webhooks::deliver_due(&app.state, &client)
            .await
            .unwrap(),
        0
    );
    assert!(receiver.got.lock().unwrap().is_empty());
    // The lease runs out: the next sender delivers it, once.
    sqlx::query("update webhook_deliveries set next_attempt_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    // Another instance starts and sends what is due at once.
    app.another_instance().await;
    let got = receiver
        .wait_for("review.completed", Duration::from_secs(6))
        .await
        .expect("delivered after the lease");
    verify(&got, &secret);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.got.lock().unwrap().len(), 1);
    let (attempts, delivered): (i32, bool) = sqlx::query_as(
        "select attempts, delivered_at is not null from webhook_deliveries where endpoint_id = $1",
    )
    .bind(endpoint)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((attempts, delivered), (2, true));
}

#[tokio::test]
async fn every_event_kind_is_raised_by_its_write_and_delivered() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let kinds: Vec<&str> = trellis::webhooks::EVENTS.iter().map(|(k, _)| *k).collect();
    let admin = app.create_user(Role::Admin, None).await;
    sqlx::query(
        "insert into webhook_endpoints (name, url, events, secret, created_by, created_at)
         values ('All', $1, $2, $3, $4, now())",
    )
    .bind(&receiver.url)
    .bind(&kinds)
    .bind(trellis::webhooks::new_secret())
    .bind(admin.id)
    .execute(&app.pool)
    .await
    .unwrap();
    // The fixtures' inserts: a value reported, a finding raised, feedback shared, ...
    let f = crate::routes::Fixtures::create(&app).await;
    let writes = [
        "update kpi_values set state = 'disputed' where id = $1",
        "update kpi_values set state = 'verified' where id = $1",
        "update feedback set shared = true where id = $2 and not shared",
        "update feedback set acknowledged_at = now(), acknowledged_by = $5 where id = $2",
        "insert into checkins (engagement_id, held_on, kind, health, author_id, created_at, form_key)
         values ($3, current_date, 'scheduled', 'on_track', $5, now(), gen_random_uuid())",
        "update reviews set status = 'completed', decision = 'continue', completed_by = $5, completed_at = now()
         where id = $4",
        "update questionnaires set status = 'submitted', submitted_at = now() where id = $6",
        "insert into reminders (dedupe_key, kind, engagement_id, subject_id, due_on, title, link, audience, notice,
                                raised_at, raised_by)
         select 'hook:' || k, k, $3, null, current_date, 'Due: ' || k, '/engagements/' || $3, 'managers', false,
                now(), 'test'
         from unnest(array['finding_assigned', 'finding_overdue', 'notice_date', 'document_expiring']) k",
    ];
    for sql in writes {
        sqlx::query(sql)
            .bind(f.value)
            .bind(f.feedback)
            .bind(f.engagement)
            .bind(f.review)
            .bind(f.user)
            .bind(f.questionnaire)
            .execute(&app.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let raised: Vec<String> =
        sqlx::query_scalar("select distinct kind from webhook_events order by kind")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let mut wanted: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
    wanted.sort();
    assert_eq!(raised, wanted);
    let events = app.count("select count(*) from webhook_events").await;
    assert_eq!(
        wait_until(
            &app,
            "select count(*) from webhook_deliveries where delivered_at is not null",
            events
        )
        .await,
        events
    );
    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got.len() as i64, events);
    for r in &got {
        let event = r.json();
        assert_eq!(event["data"]["vendor"]["id"], f.vendor, "{event}");
        assert!(
            event["data"]["url"]
                .as_str()
                .unwrap()
                .starts_with(&app.state.config.public_url)
        );
    }
}
