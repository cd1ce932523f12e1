//! The demo organisation's recent life: check-ins with action items, feedback and wins on the
//! two busiest engagements, and twelve closed periods of KPI values on every active one.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::organisation::key;
use crate::period::Period;
use crate::vocab::{PeriodKind, Source, Zone};

/// Check-ins (days ago, health, progress, shared, action items), feedback and wins for the
/// two busiest engagements, so that timelines, balances and dashboards have something to show.
pub async fn activity(db: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    struct Checkin(
        &'static str,
        i64,
        &'static str,
        &'static str,
        bool,
        &'static [(&'static str, &'static str, i64)],
    );
    const CHECKINS: &[Checkin] = &[
        Checkin(
            "Service desk and end-user support",
            22,
            "on_track",
            "Ticket backlog back under 100 after the Windows rollout.",
            true,
            &[],
        ),
        Checkin(
            "Service desk and end-user support",
            15,
            "at_risk",
            "Laptop deliveries slipped: the distributor is short of stock.",
            true,
            &[
                ("Propose a second distributor", "vendor", -3),
                ("Approve loaner pool budget", "ours", 4),
            ],
        ),
        Checkin(
            "Service desk and end-user support",
            8,
            "on_track",
            "Loaner pool in place; deliveries on time again.",
            true,
            &[("Share the survey results", "vendor", 6)],
        ),
        Checkin(
            "Service desk and end-user support",
            3,
            "on_track",
            "Internal: budget for next year's renewal discussed.",
            false,
            &[],
        ),
        Checkin(
            "Cloud platform operations",
            12,
            "at_risk",
            "Two change failures in the payments cluster; root cause analysis under way.",
            true,
            &[("Post-incident review of the payments changes", "vendor", 2)],
        ),
    ];
    for (n, Checkin(engagement, days_ago, health, progress, shared, items)) in
        CHECKINS.iter().enumerate()
    {
        let row: Option<(i64, i64, i64, Zone)> = sqlx::query_as(
            "select e.id, e.owner_id, e.vendor_id, e.time_zone from engagements e where e.name = $1",
        )
        .bind(engagement)
        .fetch_optional(&mut *db)
        .await?;
        let Some((engagement_id, owner, _, zone)) = row else {
            continue;
        };
        let today = now.with_timezone(&zone.0).date_naive();
        let held_on = today - chrono::Duration::days(*days_ago);
        let inserted: Option<i64> = sqlx::query_scalar(
            "insert into checkins (engagement_id, held_on, kind, attendees, progress, blockers, health, next_steps, shared,
                                   author_id, created_at, form_key)
             values ($1, $2, 'scheduled', 'Service managers of both sides', $3, '', $4, '', $5, $6, $7, $8)
             on conflict (form_key) do nothing returning id",
        )
        .bind(engagement_id)
        .bind(held_on)
        .bind(progress)
        .bind(health)
        .bind(shared)
        .bind(owner)
        .bind(now)
        .bind(key(n as u128))
        .fetch_optional(&mut *db)
        .await?;
        if let Some(checkin_id) = inserted {
            for (title, side, due_in) in items.iter() {
                sqlx::query(
                    "insert into action_items (engagement_id, checkin_id, title, owner_side, due_on, created_at)
                     values ($1, $2, $3, $4, $5, $6)",
                )
                .bind(engagement_id)
                .bind(checkin_id)
                .bind(title)
                .bind(side)
                .bind(today + chrono::Duration::days(*due_in))
                .bind(now)
                .execute(&mut *db)
                .await?;
            }
        }
    }
    struct Feedback(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        bool,
    );
    const FEEDBACK: &[Feedback] = &[
        Feedback(
            "Service desk and end-user support",
            "praise",
            "The Windows 11 rollout weekend",
            "All 400 laptops were upgraded without a single failed login on Monday.",
            "Nobody lost a working hour; the board noticed.",
            "",
            true,
        ),
        Feedback(
            "Service desk and end-user support",
            "constructive",
            "Escalations to the network team last month",
            "Three tickets waited more than a day before they were escalated.",
            "The VPN outage in Vienna lasted longer than it had to.",
            "Escalate within two hours when a ticket needs another team.",
            true,
        ),
        Feedback(
            "Cloud platform operations",
            "concern",
            "Payments cluster changes on 3 and 10 November",
            "Both changes went out without a tested rollback.",
            "Checkout was down for 40 minutes in total.",
            "Make a tested rollback part of every change to payments.",
            true,
        ),
    ];
    for (n, Feedback(engagement, kind, situation, observation, impact, request, shared)) in
        FEEDBACK.iter().enumerate()
    {
        sqlx::query(
            "insert into feedback (engagement_id, kind, situation, observation, impact, request, shared, author_id, created_at, form_key)
             select e.id, $2, $3, $4, $5, $6, $7, e.owner_id, $8, $9 from engagements e where e.name = $1
             on conflict (form_key) do nothing",
        )
        .bind(engagement)
        .bind(kind)
        .bind(situation)
        .bind(observation)
        .bind(impact)
        .bind(request)
        .bind(shared)
        .bind(now - chrono::Duration::days(10 - n as i64))
        .bind(key(100 + n as u128))
        .execute(&mut *db)
        .await?;
    }
    // The constructive feedback was acknowledged and answered by the vendor.
    sqlx::query(
        "update feedback f set acknowledged_by = u.id, acknowledged_at = f.created_at + interval '1 day',
                response = 'Agreed. We now escalate after two hours and report the exceptions weekly.',
                responded_by = u.id, responded_at = f.created_at + interval '1 day'
         from users u where f.form_key = $1 and u.email = 'priya@northwind-it.example' and f.acknowledged_at is null",
    )
    .bind(key(101))
    .execute(&mut *db)
    .await?;
    struct Success(&'static str, &'static str, &'static str, i64);
    const WINS: &[Success] = &[
        Success(
            "Service desk and end-user support",
            "Windows 11 rollout without downtime",
            "400 laptops upgraded over one weekend.",
            12,
        ),
        Success(
            "Managed detection and response",
            "Phishing campaign stopped within 20 minutes",
            "Detected, contained and reported before anyone clicked.",
            30,
        ),
    ];
    for (n, Success(engagement, title, description, days_ago)) in WINS.iter().enumerate() {
        sqlx::query(
            "insert into successes (engagement_id, title, description, happened_on, author_id, created_at, form_key)
             select e.id, $2, $3, ($4::timestamptz at time zone e.time_zone)::date - $5::int, e.owner_id, $4, $6
             from engagements e where e.name = $1
             on conflict (form_key) do nothing",
        )
        .bind(engagement)
        .bind(title)
        .bind(description)
        .bind(now)
        .bind(*days_ago as i32)
        .bind(key(200 + n as u128))
        .execute(&mut *db)
        .await?;
    }
    values(db, now).await
}

/// Twelve closed periods of values for every active engagement: mostly around the target, a
/// few at risk, one breach, so scorecards and trends have a shape. The vendor's values of
/// the latest period stay unverified.
async fn values(db: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        source: Source,
        target: Decimal,
        threshold: Decimal,
        scorecard_period: PeriodKind,
        time_zone: Zone,
        owner_id: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "select k.id, k.source, t.target, t.threshold, e.scorecard_period, e.time_zone, e.owner_id
         from kpis k join engagements e on e.id = k.engagement_id
         join lateral (select target, threshold from kpi_terms where kpi_id = k.id order by effective_from desc limit 1) t on true
         where e.status = 'active'",
    )
    .fetch_all(&mut *db)
    .await?;
    // Where each period's value sits between target (0) and threshold (4), and beyond it (5).
    const PATTERN: [i64; 6] = [0, 1, 0, 3, 5, 1];
    for (k, row) in rows.iter().enumerate() {
        let today = now.with_timezone(&row.time_zone.0).date_naive();
        let mut period = Period::latest_closed(row.scorecard_period, today);
        for age in 0..12usize {
            let step = Decimal::from(PATTERN[(age + k) % 6]) / Decimal::from(4);
            let value = (row.target + (row.threshold - row.target) * step).round_dp(3);
            let state = match (row.source, age) {
                (Source::Vendor, 0) => "unverified",
                _ => "verified",
            };
            sqlx::query(
                "insert into kpi_values (kpi_id, period_start, value, note, state, recorded_by, recorded_at)
                 values ($1, $2, $3, '', $4, $5, $6) on conflict (kpi_id, period_start) do nothing",
            )
            .bind(row.id)
            .bind(period.start)
            .bind(value)
            .bind(state)
            .bind(row.owner_id)
            .bind(now)
            .execute(&mut *db)
            .await?;
            period = period.previous();
        }
    }
    Ok(())
}
