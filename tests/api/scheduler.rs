//! The scheduler: every reminder rule, exactly once across instances, the inbox, e-mail through
//! a real SMTP sink (contact windows, digests, retries), the calendar feed and the admin page.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sqlx::PgPool;
use trellis::auth::Role;
use trellis::scheduler::{self, mail};
use trellis::state::AppState;

use crate::helpers::{TestApp, TestUser, location, spawn_app_with, texts};
use crate::smtp::{Mode, Sink};

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// Wednesday 25 November 2026, 10:00 UTC: 11:00 in Berlin, inside every default window.
fn wednesday() -> DateTime<Utc> {
    at(2026, 11, 25, 10, 0)
}

/// A vendor with a user, a manager, and an active engagement between them (Europe/Berlin,
/// contact Monday to Friday 09:00–17:00).
pub(crate) struct Setup {
    pub(crate) vendor_user: TestUser,
    pub(crate) manager: TestUser,
    pub(crate) engagement: i64,
}

/// A vendor user of `vendor`, a manager, and an active engagement between them.
pub(crate) async fn setup(app: &TestApp, vendor: &str) -> Setup {
    let vendor_user = app.create_user(Role::Vendor, Some(vendor)).await;
    let manager = app.create_user(Role::Manager, None).await;
    let engagement =
        crate::helpers::engagement(app, vendor_user.vendor_id.unwrap(), manager.id).await;
    sqlx::query("update engagements set status = 'active' where id = $1")
        .bind(engagement)
        .execute(&app.pool)
        .await
        .unwrap();
    Setup {
        vendor_user,
        manager,
        engagement,
    }
}

/// Gives the engagement something due of every kind, as of `now` (a Wednesday).
async fn everything_due(
    app: &TestApp,
    s: &Setup,
    now: DateTime<Utc>,
) -> BTreeMap<&'static str, i64> {
    let today = now.date_naive();
    let pool = &app.pool;
    let e = s.engagement;
    let m = s.manager.id;
    sqlx::query(
        "update engagements set next_review_due = $2::date + 3, next_audit_due = $2::date - 10,
                end_date = $2::date + 40, notice_days = 30, renewal = 'decision'
         where id = $1",
    )
    .bind(e)
    .bind(today)
    .execute(pool)
    .await
    .unwrap();
    let mut ids = BTreeMap::new();
    ids.insert(
        "action",
        sqlx::query_scalar(
            "insert into action_items (engagement_id, title, owner_side, due_on, created_at)
             values ($1, 'Send the runbook', 'vendor', $2::date - 1, $3) returning id",
        )
        .bind(e)
        .bind(today)
        .bind(now)
        .fetch_one(pool)
        .await
        .unwrap(),
    );
    ids.insert(
        "feedback",
        sqlx::query_scalar::<_, i64>(
            "insert into feedback (engagement_id, kind, situation, observation, impact, author_id, created_at, form_key)
             values ($1, 'constructive', 'The Monday release', 'Notes came late', 'Support was surprised', $2,
                     $3 - interval '6 days', gen_random_uuid()),
                    ($1, 'praise', 'The Friday migration', 'Done by noon', 'No downtime', $2,
                     $3 - interval '1 day', gen_random_uuid())
             returning id",
        )
        .bind(e)
        .bind(m)
        .bind(now)
        .fetch_one(pool)
        .await
        .unwrap(),
    );
    let audit: i64 = sqlx::query_scalar(
        "insert into audits (engagement_id, kind, scope, planned_on, auditor, created_by, created_at, form_key)
         values ($1, 'security', 'Access control', $2::date - 20, 'Internal audit', $3, $4, gen_random_uuid())
         returning id",
    )
    .bind(e)
    .bind(today)
    .bind(m)
    .bind(now)
    .fetch_one(pool)
    .await
    .unwrap();
    ids.insert(
        "finding",
        sqlx::query_scalar::<_, i64>(
            "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on,
                                   created_by, created_at, form_key)
             values ($1, $2, 'critical', 'Shared admin password', 'vendor', $3::date - 1, $4,
                     $5 - interval '20 days', gen_random_uuid()),
                    ($1, $2, 'high', 'No second on-call engineer', 'vendor', $3::date + 10, $4,
                     $5 - interval '2 days', gen_random_uuid())
             returning id",
        )
        .bind(audit)
        .bind(e)
        .bind(today)
        .bind(m)
        .bind(now)
        .fetch_one(pool)
        .await
        .unwrap(),
    );
    ids.insert(
        "grant",
        sqlx::query_scalar(
            "insert into access_grants (engagement_id, resource, access_level, holder, granted_on, expires_on,
                                        review_interval_days, next_review_due, justification, created_by,
                                        created_at, form_key)
             values ($1, 'Production VPN', 'write', 'Acme on-call', '2026-01-01', $2::date + 5, 90,
                     $2::date + 30, 'On-call duty', $3, $4, gen_random_uuid()) returning id",
        )
        .bind(e)
        .bind(today)
        .bind(m)
        .bind(now)
        .fetch_one(pool)
        .await
        .unwrap(),
    );
    let kpi: i64 = sqlx::query_scalar(
        "insert into kpis (engagement_id, name, direction, source) values ($1, 'Tickets solved', 'higher', 'vendor')
         returning id",
    )
    .bind(e)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into kpi_terms (kpi_id, effective_from, target, threshold, weight, active, changed_at)
         values ($1, '2026-01-01', 95, 90, 100, true, now())",
    )
    .bind(kpi)
    .execute(pool)
    .await
    .unwrap();
    ids.insert(
        "proposal",
        sqlx::query_scalar(
            "insert into proposals (engagement_id, kind, title, description, proposed_action, expected_impact,
                                    status, answer_note, answered_by, answered_at, raised_by, raised_at, form_key)
             values ($1, 'improvement', 'Automate patching', 'Manual now', 'Use the tool', 'Fewer outages',
                     'accepted', 'Go ahead', $2, $3 - interval '1 day', $4, $3 - interval '3 days',
                     gen_random_uuid()) returning id",
        )
        .bind(e)
        .bind(m)
        .bind(now)
        .bind(s.vendor_user.id)
        .fetch_one(pool)
        .await
        .unwrap(),
    );
    ids
}

async fn kinds_for(pool: &PgPool, user: i64) -> BTreeSet<String> {
    sqlx::query_scalar(
        "select r.kind from inbox_items i join reminders r on r.id = i.reminder_id
         where i.user_id = $1 and r.resolved_at is null",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

fn set(kinds: &[&str]) -> BTreeSet<String> {
    kinds.iter().map(|k| k.to_string()).collect()
}

const MANAGER_KINDS: &[&str] = &[
    "action_item_overdue",
    "audit_due",
    "checkin_due",
    "engagement_end",
    "feedback_unacknowledged",
    "finding_overdue",
    "grant_expiring",
    "kpi_values_missing",
    "notice_date",
    "review_due",
];

const VENDOR_KINDS: &[&str] = &[
    "action_item_overdue",
    "feedback_shared",
    "feedback_unacknowledged",
    "finding_assigned",
    "finding_overdue",
    "kpi_values_missing",
    "proposal_answered",
];

#[tokio::test]
async fn each_rule_raises_its_reminder_for_the_right_people_once_and_resolves_it_when_done() {
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(wednesday());
    let s = setup(&app, "Acme Outsourcing").await;
    let other = setup(&app, "Globex Services").await;
    let ids = everything_due(&app, &s, wednesday()).await;

    let first = scheduler::pass(&app.state).await.unwrap();
    assert_eq!(kinds_for(&app.pool, s.manager.id).await, set(MANAGER_KINDS));
    assert_eq!(
        kinds_for(&app.pool, s.vendor_user.id).await,
        set(VENDOR_KINDS)
    );
    // The other vendor's people see nothing of it.
    assert!(kinds_for(&app.pool, other.vendor_user.id).await.is_empty());
    // Its own engagement is only due a check-in.
    assert_eq!(
        kinds_for(&app.pool, other.manager.id).await,
        set(&["checkin_due"])
    );
    assert_eq!(first.rules.raised, 13 + 1);

    // A second pass, or a restart, raises nothing again.
    let second = scheduler::pass(&app.state).await.unwrap();
    assert_eq!(second.rules.raised, 0);
    assert_eq!(second.rules.resolved, 0);

    // The vendor's inbox shows its items at once, with the count in the navigation; never the
    // other vendor's engagement.
    let vendor = app.client_for(&s.vendor_user).await;
    let inbox = vendor.get_html("/inbox").await;
    assert!(inbox.contains("Feedback waits for acknowledgement: The Monday release"));
    assert!(inbox.contains("Audit finding overdue since"));
    assert!(!inbox.contains("Review due"), "reviews are the managers'");
    assert!(!inbox.contains("Globex"));
    assert_eq!(texts(&inbox, ".inbox-link .count-badge"), ["7"]);

    // Acknowledging the feedback clears its reminder at once, without waiting for a pass.
    let feedback = ids["feedback"];
    let response = vendor
        .post_form(
            &format!("/engagements/{}/feedback", s.engagement),
            &format!("/feedback/{feedback}/acknowledge"),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    let inbox = vendor.get_html("/inbox").await;
    assert!(!inbox.contains("Feedback waits for acknowledgement"));
    assert!(
        !kinds_for(&app.pool, s.manager.id)
            .await
            .contains("feedback_unacknowledged")
    );
    // The praise of yesterday is news until it is acknowledged too.
    assert!(inbox.contains("Praise: The Friday migration"));
    let praise: i64 =
        sqlx::query_scalar("select id from feedback where kind = 'praise' and engagement_id = $1")
            .bind(s.engagement)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    vendor
        .post_form(
            &format!("/engagements/{}/feedback", s.engagement),
            &format!("/feedback/{praise}/acknowledge"),
            &[],
        )
        .await;
    assert!(
        !kinds_for(&app.pool, s.vendor_user.id)
            .await
            .contains("feedback_shared")
    );

    // A check-in logged through the form clears the check-in reminder.
    let manager = app.client_for(&s.manager).await;
    let new = format!("/engagements/{}/checkins/new", s.engagement);
    let html = manager.get_html(&new).await;
    let key = crate::helpers::form_key_in(&html);
    let response = manager
        .post_form(
            &new,
            &new,
            &[
                ("form_key", key.as_str()),
                ("held_on", "2026-11-25"),
                ("kind", "scheduled"),
                ("health", "on_track"),
                ("progress", "Fine"),
                ("shared", "yes"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert!(
        !kinds_for(&app.pool, s.manager.id)
            .await
            .contains("checkin_due")
    );

    // Everything else stays, and a pass resolves nothing more.
    let third = scheduler::pass(&app.state).await.unwrap();
    assert_eq!((third.rules.raised, third.rules.resolved), (0, 0));
}

#[tokio::test]
async fn the_check_in_due_date_in_sql_follows_the_rust_rule() {
    use chrono::Weekday;
    use trellis::engagements::cadence::CheckinCadence;
    let app = spawn_app_with(|_| {}).await;
    let (mut cadences, mut lasts, mut weekdays, mut days_lists) = (vec![], vec![], vec![], vec![]);
    let mut expected = Vec::new();
    let day_sets: [&[i32]; 4] = [&[1, 2, 3, 4, 5], &[2, 4], &[7], &[]];
    let start = NaiveDate::from_ymd_opt(2026, 1, 25).unwrap();
    for offset in 0..45u64 {
        let last = start + chrono::Days::new(offset);
        for cadence in CheckinCadence::ALL {
            for weekday in [None, Some(1), Some(3), Some(7)] {
                for days in day_sets {
                    let as_weekdays: Vec<Weekday> = days
                        .iter()
                        .map(|d| Weekday::try_from((*d - 1) as u8).unwrap())
                        .collect();
                    let preferred = weekday.map(|d: i32| Weekday::try_from((d - 1) as u8).unwrap());
                    expected.push(cadence.next_due(last, preferred, &as_weekdays));
                    cadences.push(cadence.as_str().to_string());
                    lasts.push(last);
                    weekdays.push(weekday);
                    days_lists.push(
                        days.iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join(","),
                    );
                }
            }
        }
    }
    let got: Vec<NaiveDate> = sqlx::query_scalar(
        "select checkin_due(c, l, w, ('{' || d || '}')::integer[])
         from unnest($1::text[], $2::date[], $3::integer[], $4::text[]) with ordinality as t(c, l, w, d, n)
         order by n",
    )
    .bind(&cadences)
    .bind(&lasts)
    .bind(&weekdays)
    .bind(&days_lists)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(
            got, want,
            "{} after {} (weekday {:?}, days {})",
            cadences[i], lasts[i], weekdays[i], days_lists[i]
        );
    }
    assert_eq!(got.len(), expected.len());
}

async fn value(app: &TestApp, kpi: i64, period: &str, value: &str, by: i64) {
    sqlx::query(
        "insert into kpi_values (kpi_id, period_start, value, state, recorded_by, recorded_at)
         values ($1, $2::date, $3::numeric, 'verified', $4, now())",
    )
    .bind(kpi)
    .bind(period)
    .bind(value)
    .bind(by)
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn three_periods_on_target_suggest_one_celebration_that_publishes_in_one_step() {
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(at(2026, 11, 10, 10, 0));
    let s = setup(&app, "Acme Outsourcing").await;
    let kpi = crate::helpers::kpi(
        &app,
        s.engagement,
        "Availability",
        "higher",
        "99.9",
        "99.5",
        "100",
    )
    .await;
    value(&app, kpi, "2026-07-01", "99.0", s.manager.id).await;
    value(&app, kpi, "2026-08-01", "99.95", s.manager.id).await;
    value(&app, kpi, "2026-09-01", "99.91", s.manager.id).await;
    // Two periods running are not yet a streak.
    scheduler::pass(&app.state).await.unwrap();
    assert!(
        !kinds_for(&app.pool, s.manager.id)
            .await
            .contains("celebration")
    );
    value(&app, kpi, "2026-10-01", "99.9", s.manager.id).await;
    scheduler::pass(&app.state).await.unwrap();
    assert!(
        kinds_for(&app.pool, s.manager.id)
            .await
            .contains("celebration")
    );
    // Suggested to the managers, not to the vendor.
    assert!(
        !kinds_for(&app.pool, s.vendor_user.id)
            .await
            .contains("celebration")
    );

    let manager = app.client_for(&s.manager).await;
    let inbox = manager.get_html("/inbox").await;
    assert!(inbox.contains("Availability met its target 3 periods in a row"));
    let id: i64 = sqlx::query_scalar("select id from reminders where kind = 'celebration'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let response = manager
        .post_form("/inbox", &format!("/inbox/{id}/celebrate"), &[])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/inbox");
    // Pressed twice (or by a second manager): one success.
    manager
        .post_form("/inbox", &format!("/inbox/{id}/celebrate"), &[])
        .await;
    assert_eq!(app.count("select count(*) from successes").await, 1);
    let inbox = manager.get_html("/inbox").await;
    assert!(
        inbox.contains("Published on"),
        "the flash says where it went"
    );
    assert!(
        !texts(&inbox, ".inbox-item")
            .iter()
            .any(|i| i.contains("met its target"))
    );
    let vendor = app.client_for(&s.vendor_user).await;
    let successes = vendor
        .get_html(&format!("/engagements/{}/successes", s.engagement))
        .await;
    assert!(successes.contains("Availability met its target 3 periods in a row"));

    // The streak goes on in November: still the same streak, no second suggestion.
    app.clock.set(at(2026, 12, 10, 10, 0));
    value(&app, kpi, "2026-11-01", "99.99", s.manager.id).await;
    scheduler::pass(&app.state).await.unwrap();
    assert_eq!(
        app.count("select count(*) from reminders where kind = 'celebration'")
            .await,
        1
    );
    // A vendor user cannot publish, nor can anyone publish what is not in their inbox.
    let vendor = app.client_for(&s.vendor_user).await;
    assert_eq!(
        vendor
            .post_form("/inbox", &format!("/inbox/{id}/celebrate"), &[])
            .await
            .status(),
        404
    );
}

/// The application's state as another instance would have it: its own pool (separate
/// connections) and its own name.
async fn instance(app: &TestApp, name: &str) -> AppState {
    let options = (*app.pool.connect_options()).clone();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(3)
        .connect_with(options)
        .await
        .unwrap();
    let mut config = (*app.state.config).clone();
    config.instance = name.to_string();
    AppState {
        pool,
        config: Arc::new(config),
        ..app.state.clone()
    }
}

#[tokio::test]
async fn three_instances_raise_and_mail_each_reminder_exactly_once_even_when_one_dies_mid_pass() {
    let sink = Sink::start().await;
    let url = sink.url.clone();
    let app = spawn_app_with(move |c| c.smtp_url = Some(url)).await;
    app.clock.set(wednesday());
    let mut setups = Vec::new();
    for vendor in ["Acme Outsourcing", "Globex Services", "Initech Support"] {
        let s = setup(&app, vendor).await;
        everything_due(&app, &s, wednesday()).await;
        setups.push(s);
    }
    let instances = [
        instance(&app, "web-1").await,
        instance(&app, "web-2").await,
        instance(&app, "web-3").await,
    ];

    // web-1 starts a pass that is stuck behind a lock, and is killed in the middle of it.
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("lock table reminders in share row exclusive mode")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let doomed = {
        let state = instances[0].clone();
        tokio::spawn(async move { scheduler::pass(&state).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    doomed.abort();
    assert!(doomed.await.unwrap_err().is_cancelled());
    blocker.rollback().await.unwrap();

    // The three run overlapping passes, twice over.
    for _ in 0..2 {
        let passes: Vec<_> = instances
            .iter()
            .cloned()
            .map(|state| tokio::spawn(async move { scheduler::pass(&state).await }))
            .collect();
        for pass in passes {
            pass.await.unwrap().unwrap();
        }
    }
    let reminders = app.count("select count(*) from reminders").await;
    assert_eq!(
        reminders,
        3 * 13,
        "every reminder of the three engagements, once"
    );
    for s in &setups {
        assert_eq!(kinds_for(&app.pool, s.manager.id).await, set(MANAGER_KINDS));
        assert_eq!(
            kinds_for(&app.pool, s.vendor_user.id).await,
            set(VENDOR_KINDS)
        );
    }
    let items = app.count("select count(*) from inbox_items").await;
    assert_eq!(
        items as usize,
        3 * (MANAGER_KINDS.len() + VENDOR_KINDS.len())
    );
    // The killed pass is on record as never finished.
    assert_eq!(
        app.count(
            "select count(*) from scheduler_passes where instance = 'web-1' and finished_at is null"
        )
        .await,
        1
    );

    // The three deliver at once: every item goes out in exactly one message, each message once.
    let deliveries: Vec<_> = instances
        .iter()
        .cloned()
        .map(|state| {
            tokio::spawn(async move {
                let mailer = mail::Mailer::from_config(&state.config).unwrap().unwrap();
                mail::deliver(&state, &mailer).await
            })
        })
        .collect();
    for delivery in deliveries {
        delivery.await.unwrap().unwrap();
    }
    let received = sink.received();
    let outbox = app
        .count("select count(*) from outbox where sent_at is not null")
        .await;
    assert_eq!(received.len() as i64, outbox);
    let message_ids: BTreeSet<String> = received
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(message_ids.len(), received.len(), "no message sent twice");
    assert_eq!(
        app.count("select count(*) from inbox_items where email_state <> 'composed'")
            .await,
        0
    );
    // One digest per person (a vendor user's covers their one engagement).
    assert_eq!(received.len(), 6);
}

#[tokio::test]
async fn a_vendor_users_routine_mail_waits_for_the_contact_window_while_the_inbox_shows_it_at_once()
{
    let sink = Sink::start().await;
    let url = sink.url.clone();
    let app = spawn_app_with(move |c| c.smtp_url = Some(url)).await;
    // Saturday 28 November, 12:00 in Berlin: outside the vendor's window and the manager's hours.
    let saturday = at(2026, 11, 28, 11, 0);
    app.clock.set(saturday);
    let s = setup(&app, "Acme Outsourcing").await;
    sqlx::query(
        "insert into action_items (engagement_id, title, owner_side, due_on, created_at)
         values ($1, 'Send the runbook', 'vendor', '2026-11-20', now()),
                ($1, 'Patch the gateway', 'vendor', '2026-11-21', now())",
    )
    .bind(s.engagement)
    .execute(&app.pool)
    .await
    .unwrap();
    let mailer = mail::Mailer::from_config(&app.state.config)
        .unwrap()
        .unwrap();
    scheduler::pass(&app.state).await.unwrap();
    mail::deliver(&app.state, &mailer).await.unwrap();

    let vendor = app.client_for(&s.vendor_user).await;
    let inbox = vendor.get_html("/inbox").await;
    assert!(inbox.contains("Send the runbook") && inbox.contains("Patch the gateway"));
    assert!(sink.received().is_empty(), "nothing is sent on a Saturday");
    let waiting: DateTime<Utc> =
        sqlx::query_scalar("select min(deliver_after) from inbox_items where user_id = $1")
            .bind(s.vendor_user.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(waiting, at(2026, 11, 30, 8, 0), "Monday 09:00 in Berlin");

    // A critical finding is urgent: it goes at once, whatever the day.
    let audit: i64 = sqlx::query_scalar(
        "insert into audits (engagement_id, kind, scope, planned_on, auditor, created_by, created_at, form_key)
         values ($1, 'security', 'Access', '2026-11-01', 'Internal', $2, now(), gen_random_uuid()) returning id",
    )
    .bind(s.engagement)
    .bind(s.manager.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on, created_by,
                               created_at, form_key)
         values ($1, $2, 'critical', 'Shared admin password', 'vendor', '2026-12-15', $3, $4, gen_random_uuid())",
    )
    .bind(audit)
    .bind(s.engagement)
    .bind(s.manager.id)
    .bind(saturday)
    .execute(&app.pool)
    .await
    .unwrap();
    scheduler::pass(&app.state).await.unwrap();
    mail::deliver(&app.state, &mailer).await.unwrap();
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, std::slice::from_ref(&s.vendor_user.email));
    assert!(received[0].text().contains("Shared admin password"));

    // Monday 09:05 in Berlin: one digest with both routine items.
    app.clock.set(at(2026, 11, 30, 8, 5));
    mail::deliver(&app.state, &mailer).await.unwrap();
    let received = sink.received();
    let to_vendor: Vec<_> = received
        .iter()
        .filter(|m| m.to == [s.vendor_user.email.clone()])
        .collect();
    assert_eq!(to_vendor.len(), 2);
    let digest = to_vendor[1].text();
    assert!(digest.contains("Send the runbook") && digest.contains("Patch the gateway"));
    assert!(digest.contains(&format!("{}/inbox", app.address)));
    let stored: String = sqlx::query_scalar(
        "select message_id from outbox where to_address = $1 order by created_at desc limit 1",
    )
    .bind(&s.vendor_user.email)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(to_vendor[1].header("Message-ID").unwrap(), stored);
}

#[tokio::test]
async fn failed_mail_is_retried_with_backoff_then_shown_to_admins_with_its_error() {
    let sink = Sink::start().await;
    let url = sink.url.clone();
    let app = spawn_app_with(move |c| c.smtp_url = Some(url)).await;
    app.clock.set(wednesday());
    let s = setup(&app, "Acme Outsourcing").await;
    sqlx::query(
        "insert into action_items (engagement_id, title, owner_side, due_on, created_at)
         values ($1, 'Send the runbook', 'vendor', '2026-11-20', now())",
    )
    .bind(s.engagement)
    .execute(&app.pool)
    .await
    .unwrap();
    let mailer = mail::Mailer::from_config(&app.state.config)
        .unwrap()
        .unwrap();
    scheduler::pass(&app.state).await.unwrap();

    sink.set_mode(Mode::Temporary);
    mail::deliver(&app.state, &mailer).await.unwrap();
    let (attempts, next): (i32, DateTime<Utc>) =
        sqlx::query_as("select max(attempts), min(next_attempt_at) from outbox")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 1);
    assert_eq!(next, wednesday() + chrono::Duration::minutes(1));
    // Not again before its time.
    mail::deliver(&app.state, &mailer).await.unwrap();
    assert_eq!(
        app.count("select max(attempts)::bigint from outbox").await,
        1
    );
    app.clock.advance(chrono::Duration::minutes(1));
    mail::deliver(&app.state, &mailer).await.unwrap();
    let (attempts, next): (i32, DateTime<Utc>) =
        sqlx::query_as("select max(attempts), min(next_attempt_at) from outbox")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 2);
    assert_eq!(next, app.clock.now() + chrono::Duration::minutes(2));

    // A permanent refusal gives up at once, and admins see it with the server's words.
    sink.set_mode(Mode::Permanent);
    app.clock.advance(chrono::Duration::minutes(2));
    mail::deliver(&app.state, &mailer).await.unwrap();
    let failed = app
        .count("select count(*) from outbox where failed_at is not null")
        .await;
    assert_eq!(failed, app.count("select count(*) from outbox").await);
    let (admin, _) = app.signed_in(Role::Admin).await;
    let page = admin.get_html("/admin/scheduler").await;
    assert!(page.contains("no such mailbox"), "{page}");
    assert!(page.contains(&s.vendor_user.email));

    // Retried by an admin, it goes out with the Message-ID it always had.
    sink.set_mode(Mode::Accept);
    let (id, message_id): (uuid::Uuid, String) =
        sqlx::query_as("select id, message_id from outbox where to_address = $1")
            .bind(&s.vendor_user.email)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let response = admin
        .post_form(
            "/admin/scheduler",
            &format!("/admin/outbox/{id}/retry"),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    mail::deliver(&app.state, &mailer).await.unwrap();
    let received = sink.received();
    let sent: Vec<_> = received
        .iter()
        .filter(|m| m.to == [s.vendor_user.email.clone()])
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("Message-ID").unwrap(), message_id);
}

#[tokio::test]
async fn the_admin_scheduler_page_shows_each_instance_and_runs_a_pass() {
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(wednesday());
    let s = setup(&app, "Acme Outsourcing").await;
    everything_due(&app, &s, wednesday()).await;
    scheduler::pass(&instance(&app, "web-2").await)
        .await
        .unwrap();
    let (admin, _) = app.signed_in(Role::Admin).await;
    let page = admin.get_html("/admin/scheduler").await;
    assert!(page.contains("web-2"));
    assert!(page.contains("E-mail is off"));
    let response = admin
        .post_form("/admin/scheduler", "/admin/scheduler/run", &[])
        .await;
    assert_eq!(response.status(), 303);
    let page = admin.get_html("/admin/scheduler").await;
    assert!(
        page.contains("0 raised"),
        "the second pass raises nothing: {page}"
    );
    let (manager, _) = app.signed_in(Role::Manager).await;
    assert_eq!(manager.get("/admin/scheduler").await.status(), 403);
}

#[tokio::test]
async fn inbox_items_can_be_dismissed_and_snoozed_only_by_their_owner() {
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(wednesday());
    let s = setup(&app, "Acme Outsourcing").await;
    let other = setup(&app, "Globex Services").await;
    everything_due(&app, &s, wednesday()).await;
    scheduler::pass(&app.state).await.unwrap();
    let id = |kind: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select id from reminders where kind = $1")
                .bind(kind)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let action = id("action_item_overdue").await;
    let kpis = id("kpi_values_missing").await;
    let intruder = app.client_for(&other.vendor_user).await;
    for path in [
        format!("/inbox/{action}/dismiss"),
        format!("/inbox/{action}/snooze"),
    ] {
        let response = intruder.post_form("/inbox", &path, &[("days", "1")]).await;
        assert_eq!(response.status(), 404, "{path}");
    }

    let vendor = app.client_for(&s.vendor_user).await;
    vendor
        .post_form("/inbox", &format!("/inbox/{action}/dismiss"), &[])
        .await;
    vendor
        .post_form("/inbox", &format!("/inbox/{kpis}/snooze"), &[("days", "7")])
        .await;
    let inbox = vendor.get_html("/inbox").await;
    assert!(!inbox.contains("Send the runbook"), "dismissed");
    let snoozed = texts(&inbox, "#snoozed-heading + ul li");
    assert_eq!(snoozed.len(), 1);
    assert!(snoozed[0].contains("KPI value missing"));
    assert_eq!(texts(&inbox, ".inbox-link .count-badge"), ["5"]);
    // The manager's own items are untouched.
    assert!(
        kinds_for(&app.pool, s.manager.id)
            .await
            .contains("action_item_overdue")
    );
    // Back after a week (a week later the vendor signs in again).
    app.clock
        .advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));
    let vendor = app.client_for(&s.vendor_user).await;
    let inbox = vendor.get_html("/inbox").await;
    assert!(texts(&inbox, "#snoozed-heading").is_empty());
    let response = vendor
        .post_form(
            "/inbox",
            &format!("/inbox/{kpis}/snooze"),
            &[("days", "30")],
        )
        .await;
    assert_eq!(response.status(), 400);
}

/// The feed address shown once on the settings page after making it.
async fn feed_url(client: &crate::helpers::TestClient) -> String {
    let response = client.post_form("/account", "/account/calendar", &[]).await;
    assert_eq!(response.status(), 303);
    let page = client.get_html("/account").await;
    let document = scraper::Html::parse_document(&page);
    let selector = scraper::Selector::parse("#feed-url").unwrap();
    let url = document
        .select(&selector)
        .next()
        .expect("the new address is shown")
        .value()
        .attr("value")
        .unwrap()
        .to_string();
    // Only once.
    assert!(!client.get_html("/account").await.contains(&url));
    url
}

fn summaries(feed: &str) -> Vec<String> {
    use icalendar::{Calendar, CalendarComponent, Component};
    let calendar: Calendar = feed.parse().expect("the feed parses as iCalendar");
    calendar
        .components
        .iter()
        .filter_map(|c| match c {
            CalendarComponent::Event(e) => Some(e.get_summary().unwrap_or_default().to_string()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_calendar_feed_parses_and_shows_only_what_its_owner_may_see() {
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(wednesday());
    let s = setup(&app, "Acme Outsourcing").await;
    let other = setup(&app, "Globex Services").await;
    everything_due(&app, &s, wednesday()).await;
    everything_due(&app, &other, wednesday()).await;
    sqlx::query("update action_items set title = 'Globex secret task' where engagement_id = $1")
        .bind(other.engagement)
        .execute(&app.pool)
        .await
        .unwrap();
    // Each vendor has a questionnaire to answer and a shared document; Acme an internal one.
    for (vendor, visibility, kind) in [
        ("Acme Outsourcing", "shared", "Insurance certificate"),
        ("Acme Outsourcing", "internal", "SOC 2 report"),
        ("Globex Services", "shared", "Insurance certificate"),
    ] {
        sqlx::query(
            "with f as (insert into files (name, original_name, content_type, size_bytes, sha256, uploaded_by, uploaded_at)
                        values ('c.txt', 'c.txt', 'text/plain', 5, encode(sha256('hello'), 'hex'), $4, now()) returning id),
                  c as (insert into file_chunks (file_id, seq, bytes) select id, 0, 'hello' from f),
                  d as (insert into vendor_documents (vendor_id, kind_id, visibility, created_by, created_at)
                        select v.id, k.id, $2, $4, now() from vendors v, document_kinds k
                        where v.name = $1 and k.name = $3 returning id)
             insert into vendor_document_versions (document_id, version, file_id, issuer, valid_from, valid_until,
                                                   uploaded_by, uploaded_at, form_key)
             select d.id, 1, f.id, 'Issuer', '2026-01-01', '2026-12-20', $4, now(), gen_random_uuid() from d, f",
        )
        .bind(vendor)
        .bind(visibility)
        .bind(kind)
        .bind(s.manager.id)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    for t in [&s, &other] {
        sqlx::query(
            "insert into questionnaires (template_id, vendor_id, engagement_id, due_on, sent_by, sent_at, form_key)
             select 1, vendor_id, id, '2026-12-10', $2, now(), gen_random_uuid() from engagements where id = $1",
        )
        .bind(t.engagement)
        .bind(t.manager.id)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let vendor = app.client_for(&s.vendor_user).await;
    let url = feed_url(&vendor).await;
    assert!(url.starts_with(&format!("{}/calendar/", app.address)));

    let anonymous = reqwest::Client::new();
    let response = anonymous.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let feed = response.text().await.unwrap();
    let events = summaries(&feed);
    assert!(
        events.iter().any(|e| e.starts_with("Check-in: ")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e.contains("Send the runbook")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Audit finding due (critical)"))
    );
    assert!(events.iter().any(|e| e.starts_with("Engagement ends")));
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Questionnaire due: Security baseline")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e == "Insurance certificate: last valid day (Acme Outsourcing)"),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| e.starts_with("SOC 2 report")),
        "internal: {events:?}"
    );
    // A vendor user's feed has no reviews or audits, and nothing of another vendor.
    assert!(
        !events
            .iter()
            .any(|e| e.starts_with("Review due") || e.starts_with("Audit due"))
    );
    assert!(!feed.contains("Globex"));

    // The manager's feed has the reviews and audits of the engagement they manage.
    let manager = app.client_for(&s.manager).await;
    let manager_feed = anonymous
        .get(feed_url(&manager).await)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = summaries(&manager_feed);
    assert!(
        events.iter().any(|e| e.starts_with("Review due")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("SOC 2 report: last valid day")),
        "our people see internal documents: {events:?}"
    );
    assert!(
        events.iter().any(|e| e.starts_with("Audit (security)")),
        "{events:?}"
    );
    assert!(!manager_feed.contains("Globex"));

    // A new address replaces the old one.
    let newer = feed_url(&vendor).await;
    assert_ne!(newer, url);
    assert_eq!(anonymous.get(&url).send().await.unwrap().status(), 404);
    assert_eq!(anonymous.get(&newer).send().await.unwrap().status(), 200);
    let response = vendor
        .post_form("/account", "/account/calendar", &[("action", "remove")])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(anonymous.get(&newer).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn working_hours_are_kept_and_bad_ones_refused_with_the_input_kept() {
    let app = spawn_app_with(|_| {}).await;
    let (manager, user) = app.signed_in(Role::Manager).await;
    let response = manager
        .post_form(
            "/account",
            "/account",
            &[
                ("time_zone", "Mars/Olympus"),
                ("work_days", "1"),
                ("work_start", "25:00"),
                ("work_end", "17:00"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("Enter a time zone such as Europe/Berlin"));
    assert!(page.contains("Enter a time as HH:MM"));
    assert!(page.contains("value=\"Mars/Olympus\""));
    let response = manager
        .post_form(
            "/account",
            "/account",
            &[
                ("time_zone", "Asia/Kolkata"),
                ("work_days", "1"),
                ("work_days", "3"),
                ("work_start", "10:00"),
                ("work_end", "18:30"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let saved: (String, Vec<i32>, chrono::NaiveTime) =
        sqlx::query_as("select time_zone, work_days, work_end from users where id = $1")
            .bind(user.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(saved.0, "Asia/Kolkata");
    assert_eq!(saved.1, [1, 3]);
    assert_eq!(saved.2, chrono::NaiveTime::from_hms_opt(18, 30, 0).unwrap());
}

#[tokio::test]
async fn set_password_links_are_emailed_when_smtp_is_configured() {
    let sink = Sink::start().await;
    let url = sink.url.clone();
    let app = spawn_app_with(move |c| c.smtp_url = Some(url)).await;
    let (admin, _) = app.signed_in(Role::Admin).await;
    let response = admin
        .post_form(
            "/admin/users/new",
            "/admin/users/new",
            &[
                ("email", "new.person@example.com"),
                ("name", "New Person"),
                ("role", "manager"),
                ("time_zone", "UTC"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let page = admin.get_html(location(&response)).await;
    assert!(page.contains("It was e-mailed to new.person@example.com"));
    let mailer = mail::Mailer::from_config(&app.state.config)
        .unwrap()
        .unwrap();
    mail::deliver(&app.state, &mailer).await.unwrap();
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, ["new.person@example.com"]);
    let text = received[0].text();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/set-password/"))
        .expect("the link is in the message")
        .to_string();
    // The link works.
    let client = app.client();
    let path = link.trim_start_matches(&app.address);
    assert_eq!(client.get(path).await.status(), 200);
}

#[tokio::test]
async fn the_inbox_and_the_feed_cost_the_same_statements_whatever_they_hold() {
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(wednesday());
    let s = setup(&app, "Acme Outsourcing").await;
    let vendor = app.client_for(&s.vendor_user).await;
    let url = feed_url(&vendor).await;
    let path = url.trim_start_matches(&app.address).to_string();
    let manager = app.client_for(&s.manager).await;
    manager.get_html("/").await;
    vendor.get_html("/").await;
    let small = [
        app.statements_for(&manager, "/inbox").await,
        app.statements_for(&vendor, "/inbox").await,
        app.statements_for(&app.client(), &path).await,
    ];
    for vendor in ["Globex Services", "Initech Support", "Umbrella Hosting"] {
        let other = setup(&app, vendor).await;
        sqlx::query("insert into engagement_managers (engagement_id, user_id) values ($1, $2)")
            .bind(other.engagement)
            .bind(s.manager.id)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    everything_due(&app, &s, wednesday()).await;
    scheduler::pass(&app.state).await.unwrap();
    let large = [
        app.statements_for(&manager, "/inbox").await,
        app.statements_for(&vendor, "/inbox").await,
        app.statements_for(&app.client(), &path).await,
    ];
    assert_eq!(small, large);
    assert_eq!(small, [2, 2, 2]);
}

#[tokio::test]
async fn in_the_demo_data_reminders_appear_for_what_is_due_and_vanish_when_it_is_done() {
    let app = spawn_app_with(|_| {}).await;
    trellis::seed::demo(&app.pool, "UTC", app.clock.now())
        .await
        .unwrap();
    scheduler::pass(&app.state).await.unwrap();
    let maria = trellis::seed::DEMO_ACCOUNTS
        .iter()
        .find(|a| a.email == "maria.manager@trellis.example")
        .unwrap();
    let client = app.client();
    assert_eq!(
        client.login(maria.email, maria.password).await.status(),
        303
    );
    let inbox = client.get_html("/inbox").await;
    let items = texts(&inbox, ".inbox-item .inbox-text a");
    let review = items
        .iter()
        .find(|i| i.starts_with("Access review due"))
        .expect("the overdue access review is in Maria's inbox")
        .clone();
    assert!(
        items.iter().any(|i| i.starts_with("Audit finding overdue")),
        "{items:?}"
    );
    let (grant, engagement): (i64, i64) = sqlx::query_as(
        "select subject_id, engagement_id from reminders where kind = 'access_review_due' and title = $1",
    )
    .bind(&review)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let response = client
        .post_form(
            &format!("/engagements/{engagement}/access"),
            &format!("/grants/{grant}/review"),
            &[
                ("decision", "keep"),
                ("note", "Still needed for the service desk."),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let inbox = client.get_html("/inbox").await;
    assert!(
        !texts(&inbox, ".inbox-item .inbox-text a").contains(&review),
        "the reminder is gone as soon as the review is done"
    );
}

/// Runs the rules for every engagement, then for `one`, `rounds` times on one connection.
async fn alternate(conn: &mut sqlx::PgConnection, one: i64, rounds: usize) {
    use trellis::reminders::rules;
    for round in 0..rounds {
        for engagement in [None, Some(one)] {
            if let Err(e) = rules::apply(conn, wednesday(), engagement, "plans", false, None).await
            {
                panic!("round {round}, engagement {engagement:?}: {e}");
            }
        }
    }
}

#[tokio::test]
async fn the_rules_statement_succeeds_under_custom_and_generic_plans_for_all_and_for_one() {
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(wednesday());
    // Several engagements, each with a latest closed period and KPI values for it, so that
    // a full pass works on several rows where a refresh works on one.
    let mut engagements = Vec::new();
    for (vendor, period) in [
        ("Acme Outsourcing", "monthly"),
        ("Globex Services", "weekly"),
        ("Initech Support", "quarterly"),
    ] {
        let s = setup(&app, vendor).await;
        sqlx::query("update engagements set scorecard_period = $2 where id = $1")
            .bind(s.engagement)
            .bind(period)
            .execute(&app.pool)
            .await
            .unwrap();
        let kpi =
            crate::helpers::kpi(&app, s.engagement, "Uptime", "higher", "99", "95", "100").await;
        sqlx::query(
            "insert into kpi_values (kpi_id, period_start, value, state, recorded_by, recorded_at)
             select $1, latest_closed_period($2, $3), 99.5, 'verified', $4, now()",
        )
        .bind(kpi)
        .bind(period)
        .bind(wednesday().date_naive())
        .bind(s.manager.id)
        .execute(&app.pool)
        .await
        .unwrap();
        engagements.push(s.engagement);
    }
    let mut conn = app.pool.acquire().await.unwrap();
    // PostgreSQL may switch a prepared statement to a generic plan after its fifth run.
    alternate(&mut conn, engagements[1], 12).await;
    sqlx::query("set plan_cache_mode = force_generic_plan")
        .execute(&mut *conn)
        .await
        .unwrap();
    alternate(&mut conn, engagements[2], 3).await;
    sqlx::query("set plan_cache_mode = force_custom_plan")
        .execute(&mut *conn)
        .await
        .unwrap();
    alternate(&mut conn, engagements[0], 3).await;
    // The statement did its work: one KPI value missing nowhere, check-ins due everywhere.
    let due: i64 = sqlx::query_scalar(
        "select count(*) from reminders where kind = 'checkin_due' and resolved_at is null",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(due, 3);
    let missing: i64 = sqlx::query_scalar(
        "select count(*) from reminders where kind = 'kpi_values_missing' and resolved_at is null",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(missing, 0);
}

/// Values are asked for only for periods the engagement lived in: once its end date is
/// before the latest closed period, that period's missing values raise nothing, as the
/// values form and the import refuse them (`Life::records`).
#[tokio::test]
async fn missing_values_are_asked_for_only_within_the_engagement_s_life() {
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(wednesday());
    let s = setup(&app, "Acme Outsourcing").await;
    crate::helpers::kpi(
        &app,
        s.engagement,
        "First-call resolution",
        "higher",
        "80",
        "70",
        "1",
    )
    .await;
    let missing = |pool: PgPool| async move {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from reminders where kind = 'kpi_values_missing' and resolved_at is null",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    // The latest closed period on 25 November is October; the engagement ends on 15 October.
    let end = |date: &'static str| {
        let pool = app.pool.clone();
        let e = s.engagement;
        async move {
            sqlx::query("update engagements set end_date = $2::date where id = $1")
                .bind(e)
                .bind(date)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    end("2026-10-15").await;
    scheduler::pass(&app.state).await.unwrap();
    assert_eq!(
        missing(app.pool.clone()).await,
        1,
        "October is within its life"
    );

    end("2026-09-30").await;
    scheduler::pass(&app.state).await.unwrap();
    assert_eq!(
        missing(app.pool.clone()).await,
        0,
        "October is after its end: the reminder is resolved"
    );
}

#[tokio::test]
async fn a_pass_works_out_one_batch_of_stale_scores_and_the_portfolio_the_rest() {
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(wednesday());
    let vendor = app
        .create_user(Role::Vendor, Some("Acme Outsourcing"))
        .await;
    let (manager, user) = app.signed_in(Role::Manager).await;
    sqlx::query(
        "insert into engagements (vendor_id, name, time_zone, start_date, owner_id, status)
         select $1, 'Service desk ' || n, 'Europe/Berlin', '2026-01-01', $2, 'active'
         from generate_series(1, 520) n",
    )
    .bind(vendor.vendor_id.unwrap())
    .bind(user.id)
    .execute(&app.pool)
    .await
    .unwrap();
    // Every active engagement has a row; a stale one until its score is worked out.
    let scored = "select count(*) from engagement_scores where valid_until > '-infinity'";
    assert_eq!(app.count(scored).await, 0);
    scheduler::pass(&app.state).await.unwrap();
    assert_eq!(app.count(scored).await, 500, "one batch a pass");
    let page = manager.get("/portfolio").await;
    assert_eq!(page.status(), 200);
    assert_eq!(
        app.count(scored).await,
        520,
        "the portfolio works out the rest"
    );
    scheduler::pass(&app.state).await.unwrap();
    assert_eq!(app.count(scored).await, 520);
}
