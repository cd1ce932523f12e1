//! The demo organisation: four vendors of different kinds, their evaluations, engagements in
//! several states and time zones, KPIs from both sources, and boundaries.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::vendors::VENDORS;

struct Kpi {
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    direction: &'static str,
    source: &'static str,
    target: &'static str,
    threshold: &'static str,
    weight: &'static str,
}

/// Contact days (ISO), window opens and closes, channels, the preferred one, what is urgent,
/// the urgent channel, the escalation contact, routine and urgent answer hours, weekly cap.
type BoundaryData = (
    &'static [i32],
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (i32, i32),
    i32,
);

struct Engagement {
    vendor: &'static str,
    name: &'static str,
    scope: &'static str,
    objectives: &'static [&'static str],
    time_zone: &'static str,
    start: &'static str,
    end: Option<&'static str>,
    notice_days: i32,
    contract: Terms,
    status: &'static str,
    owner: &'static str,
    co_managers: &'static [&'static str],
    period: &'static str,
    checkin: (&'static str, Option<i32>),
    review: &'static str,
    audit: &'static str,
    /// Days from today to the next review and audit (negative: overdue).
    due_in: (i64, i64),
    kpis: &'static [Kpi],
    boundaries: BoundaryData,
}

/// How a demo contract renews and what it is worth.
struct Terms {
    renewal: &'static str,
    renewal_months: Option<i32>,
    notice_months: Option<i32>,
    /// The value per year and its currency.
    value: Option<(&'static str, &'static str)>,
}

const NO_RENEWAL: Terms = Terms {
    renewal: "none",
    renewal_months: None,
    notice_months: None,
    value: None,
};

const MARIA: &str = "maria.manager@trellis.example";
const TOM: &str = "tom.manager@trellis.example";

const ENGAGEMENTS: &[Engagement] = &[
    Engagement {
        vendor: "Northwind IT Services",
        name: "Service desk and end-user support",
        scope: "First- and second-level support for 2,000 staff in Germany and Austria: service desk by phone, portal and e-mail, on-site support in Berlin and Vienna, laptop lifecycle. Network and cloud platforms are out of scope.",
        objectives: &[
            "Resolve most incidents at the first contact",
            "Keep staff productive: laptops replaced within two working days",
            "Publish a monthly service report",
        ],
        time_zone: "Europe/Berlin",
        start: "2025-07-01",
        end: Some("2027-06-30"),
        notice_days: 120,
        contract: Terms {
            renewal: "automatic",
            renewal_months: Some(12),
            notice_months: None,
            value: Some(("480000", "EUR")),
        },
        status: "active",
        owner: MARIA,
        co_managers: &[TOM],
        period: "monthly",
        checkin: ("weekly", Some(2)),
        review: "quarterly",
        audit: "semiannual",
        due_in: (12, -3),
        kpis: &[
            Kpi {
                name: "SLA tickets met",
                description: "Share of tickets resolved within their SLA.",
                unit: "%",
                direction: "higher",
                source: "vendor",
                target: "95",
                threshold: "90",
                weight: "30",
            },
            Kpi {
                name: "Mean time to resolve",
                description: "Average hours from ticket to resolution, priority 2 and 3.",
                unit: "hours",
                direction: "lower",
                source: "vendor",
                target: "8",
                threshold: "16",
                weight: "25",
            },
            Kpi {
                name: "First-contact resolution",
                description: "Share of incidents solved at the first contact.",
                unit: "%",
                direction: "higher",
                source: "manager",
                target: "70",
                threshold: "60",
                weight: "25",
            },
            Kpi {
                name: "Staff satisfaction",
                description: "Average score of the post-ticket survey, 1 to 5.",
                unit: "",
                direction: "higher",
                source: "manager",
                target: "4.3",
                threshold: "3.8",
                weight: "20",
            },
        ],
        boundaries: (
            &[1, 2, 3, 4, 5],
            "08:00",
            "18:00",
            &["portal", "email", "phone"],
            "portal",
            "A site or more than 50 people cannot work",
            "phone",
            "Maria Lopez, +49 30 5550 200",
            (8, 1),
            3,
        ),
    },
    Engagement {
        vendor: "Bluepeak Cloud",
        name: "Cloud platform operations",
        scope: "24/7 operation of our production cloud accounts: monitoring, incident response, patching, backups and capacity. Application code stays ours.",
        objectives: &[
            "99.95% availability of customer-facing services",
            "Every change reviewed and reversible",
            "Cut cloud spend 10% by year end",
        ],
        time_zone: "America/New_York",
        start: "2025-10-01",
        end: Some("2028-09-30"),
        notice_days: 180,
        contract: Terms {
            renewal: "decision",
            renewal_months: Some(24),
            notice_months: None,
            value: Some(("1250000", "EUR")),
        },
        status: "active",
        owner: TOM,
        co_managers: &[MARIA],
        period: "monthly",
        checkin: ("biweekly", Some(4)),
        review: "quarterly",
        audit: "quarterly",
        due_in: (-2, 20),
        kpis: &[
            Kpi {
                name: "Availability",
                description: "Uptime of customer-facing services.",
                unit: "%",
                direction: "higher",
                source: "manager",
                target: "99.95",
                threshold: "99.9",
                weight: "35",
            },
            Kpi {
                name: "Change failure rate",
                description: "Share of production changes that caused an incident or a rollback.",
                unit: "%",
                direction: "lower",
                source: "vendor",
                target: "5",
                threshold: "10",
                weight: "25",
            },
            Kpi {
                name: "Mean time to resolve",
                description: "Average hours to resolve priority 1 incidents.",
                unit: "hours",
                direction: "lower",
                source: "vendor",
                target: "2",
                threshold: "4",
                weight: "20",
            },
            Kpi {
                name: "Security findings closed on time",
                description: "Share of findings remediated by their due date.",
                unit: "%",
                direction: "higher",
                source: "vendor",
                target: "95",
                threshold: "85",
                weight: "20",
            },
            Kpi {
                name: "Backup restore tests passed",
                description: "Share of monthly restore tests that succeeded.",
                unit: "%",
                direction: "higher",
                source: "manager",
                target: "100",
                threshold: "90",
                weight: "0",
            },
        ],
        boundaries: (
            &[1, 2, 3, 4, 5],
            "09:00",
            "17:30",
            &["portal", "email", "chat"],
            "chat",
            "Customers cannot reach a production service, or data may be lost",
            "phone",
            "Bluepeak on-call lead, +1 212 555 0199",
            (4, 1),
            4,
        ),
    },
    Engagement {
        vendor: "Bluepeak Cloud",
        name: "Cloud cost review",
        scope: "A one-off review of reserved capacity and storage tiers.",
        objectives: &["A costed plan to save 10%"],
        time_zone: "America/New_York",
        start: "2026-12-01",
        end: Some("2027-02-28"),
        notice_days: 14,
        contract: NO_RENEWAL,
        status: "draft",
        owner: TOM,
        co_managers: &[],
        period: "monthly",
        checkin: ("monthly", None),
        review: "monthly",
        audit: "annual",
        due_in: (60, 300),
        kpis: &[],
        boundaries: (
            &[1, 2, 3, 4, 5],
            "09:00",
            "17:00",
            &["email"],
            "email",
            "Nothing in this review is urgent",
            "email",
            "",
            (48, 24),
            2,
        ),
    },
    Engagement {
        vendor: "Kestrel Software",
        name: "Customer portal rebuild",
        scope: "Rebuild of the customer self-service portal: design, development, tests and hand-over to our operations team.",
        objectives: &[
            "Release 1 live before the spring campaign",
            "Accessibility: WCAG 2.2 AA",
            "No critical defects at hand-over",
        ],
        time_zone: "Asia/Kolkata",
        start: "2026-02-01",
        end: Some("2026-12-31"),
        notice_days: 30,
        contract: Terms {
            renewal: "automatic",
            renewal_months: Some(12),
            notice_months: Some(1),
            value: Some(("310000", "EUR")),
        },
        status: "paused",
        owner: TOM,
        co_managers: &[],
        period: "weekly",
        checkin: ("weekly", Some(1)),
        review: "monthly",
        audit: "quarterly",
        due_in: (5, 40),
        kpis: &[
            Kpi {
                name: "Sprint goals met",
                description: "Share of committed sprint goals delivered.",
                unit: "%",
                direction: "higher",
                source: "vendor",
                target: "85",
                threshold: "70",
                weight: "30",
            },
            Kpi {
                name: "Escaped defects",
                description: "Defects found after release, per sprint.",
                unit: "defects",
                direction: "lower",
                source: "manager",
                target: "2",
                threshold: "5",
                weight: "30",
            },
            Kpi {
                name: "Change failure rate",
                description: "Share of deployments rolled back.",
                unit: "%",
                direction: "lower",
                source: "vendor",
                target: "10",
                threshold: "20",
                weight: "20",
            },
            Kpi {
                name: "Accessibility issues open",
                description: "Serious or critical accessibility findings open at sprint end.",
                unit: "issues",
                direction: "lower",
                source: "manager",
                target: "0.5",
                threshold: "3",
                weight: "20",
            },
        ],
        boundaries: (
            &[1, 2, 3, 4, 5],
            "10:00",
            "18:30",
            &["portal", "chat"],
            "chat",
            "The staging environment is down on a release day",
            "phone",
            "Kestrel delivery manager, +91 80 5550 7700",
            (24, 4),
            3,
        ),
    },
    Engagement {
        vendor: "Sentinel Security",
        name: "Managed detection and response",
        scope: "Security monitoring of endpoints, identity and cloud logs around the clock, triage of alerts, incident response support and a monthly threat report.",
        objectives: &[
            "Detect intrusions within an hour",
            "Triage every critical alert within 15 minutes",
            "Close audit findings on time",
        ],
        time_zone: "Europe/London",
        start: "2025-04-01",
        end: Some("2027-03-31"),
        notice_days: 90,
        contract: Terms {
            renewal: "automatic",
            renewal_months: Some(6),
            notice_months: Some(3),
            value: Some(("220000", "GBP")),
        },
        status: "active",
        owner: MARIA,
        co_managers: &[],
        period: "monthly",
        checkin: ("weekly", Some(5)),
        review: "quarterly",
        audit: "quarterly",
        due_in: (30, 2),
        kpis: &[
            Kpi {
                name: "Critical alerts triaged in 15 minutes",
                description: "Share of critical alerts triaged within 15 minutes.",
                unit: "%",
                direction: "higher",
                source: "vendor",
                target: "98",
                threshold: "95",
                weight: "30",
            },
            Kpi {
                name: "Mean time to detect",
                description: "Average hours from intrusion to detection in exercises and incidents.",
                unit: "hours",
                direction: "lower",
                source: "vendor",
                target: "1",
                threshold: "4",
                weight: "25",
            },
            Kpi {
                name: "Security findings closed on time",
                description: "Share of findings remediated by their due date.",
                unit: "%",
                direction: "higher",
                source: "manager",
                target: "95",
                threshold: "85",
                weight: "25",
            },
            Kpi {
                name: "SOC portal availability",
                description: "Availability of the reporting portal.",
                unit: "%",
                direction: "higher",
                source: "manager",
                target: "99.5",
                threshold: "99",
                weight: "20",
            },
        ],
        boundaries: (
            &[1, 2, 3, 4, 5],
            "22:00",
            "06:00",
            &["portal", "email", "phone"],
            "email",
            "A confirmed compromise or an active attack",
            "phone",
            "Sentinel duty officer, +44 20 5550 3399",
            (12, 1),
            2,
        ),
    },
];

async fn user_id(db: &mut PgConnection, email: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("select id from users where lower(email) = lower($1)")
        .bind(email)
        .fetch_one(db)
        .await
}

/// Creates or resets the demo organisation; the accounts exist already.
pub async fn seed(db: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    let admin = user_id(db, "admin@trellis.example").await?;
    let criteria: Vec<(String, i32)> =
        sqlx::query_as("select name, weight from dd_criteria where active order by position, id")
            .fetch_all(&mut *db)
            .await?;
    for (index, vendor) in VENDORS.iter().enumerate() {
        let (contact_name, contact_email, contact_phone) = vendor.contact;
        let vendor_id: i64 = sqlx::query_scalar(
            "insert into vendors (name, legal_name, website, industry, tier, status, contact_name, contact_email, contact_phone)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             on conflict ((lower(name))) do update
             set legal_name = excluded.legal_name, website = excluded.website, industry = excluded.industry,
                 tier = excluded.tier, status = excluded.status, contact_name = excluded.contact_name,
                 contact_email = excluded.contact_email, contact_phone = excluded.contact_phone
             returning id",
        )
        .bind(vendor.name)
        .bind(vendor.legal_name)
        .bind(vendor.website)
        .bind(vendor.industry)
        .bind(vendor.tier)
        .bind(vendor.status)
        .bind(contact_name)
        .bind(contact_email)
        .bind(contact_phone)
        .fetch_one(&mut *db)
        .await?;
        let (scores, decision, rationale) = vendor.evaluation;
        let pairs: Vec<(i32, i32)> = criteria
            .iter()
            .zip(scores)
            .map(|((_, weight), score)| (*weight, score))
            .collect();
        let score = crate::vendors::evaluations::selection_score(&pairs);
        // A fixed key per vendor: the evaluation is made once, however often the seed runs.
        let form_key =
            uuid::Uuid::from_u128(0x7e11_1500_0000_4000_8000_0000_0000_0000 + index as u128);
        let evaluation: Option<i64> = sqlx::query_scalar(
            "insert into evaluations (vendor_id, decision, rationale, score, author_id, created_at, form_key)
             values ($1, $2, $3, $4, $5, $6, $7) on conflict (form_key) do nothing returning id",
        )
        .bind(vendor_id)
        .bind(decision)
        .bind(rationale)
        .bind(score)
        .bind(admin)
        .bind(now - chrono::Duration::days(400 - 30 * index as i64))
        .bind(form_key)
        .fetch_optional(&mut *db)
        .await?;
        if let Some(evaluation) = evaluation {
            for (position, ((criterion, weight), score)) in criteria.iter().zip(scores).enumerate()
            {
                sqlx::query(
                    "insert into evaluation_scores (evaluation_id, position, criterion, weight, score, evidence)
                     values ($1, $2, $3, $4, $5, $6)",
                )
                .bind(evaluation)
                .bind(position as i32)
                .bind(criterion)
                .bind(weight)
                .bind(score)
                .bind(format!("From the {} selection interviews and reference calls.", vendor.name))
                .execute(&mut *db)
                .await?;
            }
        }
    }

    for engagement in ENGAGEMENTS {
        let vendor_id: i64 =
            sqlx::query_scalar("select id from vendors where lower(name) = lower($1)")
                .bind(engagement.vendor)
                .fetch_one(&mut *db)
                .await?;
        let owner = user_id(db, engagement.owner).await?;
        let zone: Tz = engagement.time_zone.parse()?;
        let today = now.with_timezone(&zone).date_naive();
        let due = |days: i64| {
            if days >= 0 {
                today.checked_add_days(Days::new(days as u64))
            } else {
                today.checked_sub_days(Days::new(days.unsigned_abs()))
            }
        };
        let start: NaiveDate = engagement.start.parse()?;
        let end: Option<NaiveDate> = engagement.end.map(str::parse).transpose()?;
        let objectives: Vec<String> = engagement
            .objectives
            .iter()
            .map(|o| o.to_string())
            .collect();
        let id: i64 = sqlx::query_scalar(
            "insert into engagements (vendor_id, name, scope, objectives, time_zone, start_date, end_date, notice_days, status,
                                      owner_id, scorecard_period, checkin_cadence, checkin_weekday, review_cadence,
                                      audit_cadence, next_review_due, next_audit_due, renewal, renewal_months, notice_months,
                                      annual_value, currency)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                     $21::numeric, $22)
             on conflict (vendor_id, (lower(name))) do update
             set scope = excluded.scope, objectives = excluded.objectives, time_zone = excluded.time_zone,
                 start_date = excluded.start_date, end_date = excluded.end_date, notice_days = excluded.notice_days,
                 status = excluded.status, owner_id = excluded.owner_id, scorecard_period = excluded.scorecard_period,
                 checkin_cadence = excluded.checkin_cadence, checkin_weekday = excluded.checkin_weekday,
                 review_cadence = excluded.review_cadence, audit_cadence = excluded.audit_cadence,
                 next_review_due = excluded.next_review_due, next_audit_due = excluded.next_audit_due,
                 renewal = excluded.renewal, renewal_months = excluded.renewal_months,
                 notice_months = excluded.notice_months, annual_value = excluded.annual_value,
                 currency = excluded.currency
             returning id",
        )
        .bind(vendor_id)
        .bind(engagement.name)
        .bind(engagement.scope)
        .bind(&objectives)
        .bind(engagement.time_zone)
        .bind(start)
        .bind(end)
        .bind(engagement.notice_days)
        .bind(engagement.status)
        .bind(owner)
        .bind(engagement.period)
        .bind(engagement.checkin.0)
        .bind(engagement.checkin.1)
        .bind(engagement.review)
        .bind(engagement.audit)
        .bind(due(engagement.due_in.0))
        .bind(due(engagement.due_in.1))
        .bind(engagement.contract.renewal)
        .bind(engagement.contract.renewal_months)
        .bind(engagement.contract.notice_months)
        .bind(engagement.contract.value.map(|v| v.0))
        .bind(engagement.contract.value.map(|v| v.1))
        .fetch_one(&mut *db)
        .await?;
        crate::engagements::store_contract_dates(db, id, now).await?;
        sqlx::query("delete from engagement_managers where engagement_id = $1")
            .bind(id)
            .execute(&mut *db)
            .await?;
        for email in engagement.co_managers {
            let co = user_id(db, email).await?;
            sqlx::query("insert into engagement_managers (engagement_id, user_id) values ($1, $2)")
                .bind(id)
                .bind(co)
                .execute(&mut *db)
                .await?;
        }
        for kpi in engagement.kpis {
            let kpi_id: i64 = sqlx::query_scalar(
                "insert into kpis (engagement_id, name, description, unit, direction, source) values ($1, $2, $3, $4, $5, $6)
                 on conflict (engagement_id, (lower(name))) do update
                 set description = excluded.description, unit = excluded.unit, direction = excluded.direction, source = excluded.source
                 returning id",
            )
            .bind(id)
            .bind(kpi.name)
            .bind(kpi.description)
            .bind(kpi.unit)
            .bind(kpi.direction)
            .bind(kpi.source)
            .fetch_one(&mut *db)
            .await?;
            let weight: Decimal = kpi.weight.parse()?;
            sqlx::query(
                "insert into kpi_terms (kpi_id, effective_from, target, threshold, weight, active, changed_by, changed_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8)
                 on conflict (kpi_id, effective_from) do update
                 set target = excluded.target, threshold = excluded.threshold, weight = excluded.weight, active = excluded.active",
            )
            .bind(kpi_id)
            .bind(start)
            .bind(kpi.target.parse::<Decimal>()?)
            .bind(kpi.threshold.parse::<Decimal>()?)
            .bind(weight)
            .bind(weight > Decimal::ZERO)
            .bind(owner)
            .bind(now)
            .execute(&mut *db)
            .await?;
        }
        let (
            days,
            opens,
            closes,
            channels,
            preferred,
            urgent,
            urgent_channel,
            escalation,
            (routine_hours, urgent_hours),
            cap,
        ) = engagement.boundaries;
        let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        sqlx::query(
            "insert into boundaries (engagement_id, contact_days, window_start, window_end, channels, preferred_channel,
                                     urgent_definition, urgent_channel, escalation_contact, routine_response_hours,
                                     urgent_response_hours, weekly_touch_cap)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             on conflict (engagement_id) do update
             set contact_days = excluded.contact_days, window_start = excluded.window_start, window_end = excluded.window_end,
                 channels = excluded.channels, preferred_channel = excluded.preferred_channel,
                 urgent_definition = excluded.urgent_definition, urgent_channel = excluded.urgent_channel,
                 escalation_contact = excluded.escalation_contact, routine_response_hours = excluded.routine_response_hours,
                 urgent_response_hours = excluded.urgent_response_hours, weekly_touch_cap = excluded.weekly_touch_cap",
        )
        .bind(id)
        .bind(days)
        .bind(NaiveTime::parse_from_str(opens, "%H:%M")?)
        .bind(NaiveTime::parse_from_str(closes, "%H:%M")?)
        .bind(&channels)
        .bind(preferred)
        .bind(urgent)
        .bind(urgent_channel)
        .bind(escalation)
        .bind(routine_hours)
        .bind(urgent_hours)
        .bind(cap)
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

/// A fixed key per demo record: made once, however often the seed runs.
pub(super) fn key(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x7e11_1500_0000_4000_9000_0000_0000_0000 + n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engagements::check_terms;
    use crate::vocab::Direction;

    #[test]
    fn every_demo_kpi_has_valid_terms_and_active_engagements_weigh_100() {
        for engagement in ENGAGEMENTS {
            let mut total = Decimal::ZERO;
            for kpi in engagement.kpis {
                let direction = Direction::parse(kpi.direction).unwrap();
                let target: Decimal = kpi.target.parse().unwrap();
                let threshold: Decimal = kpi.threshold.parse().unwrap();
                assert!(
                    check_terms(direction, target, threshold).is_ok(),
                    "{}",
                    kpi.name
                );
                total += kpi.weight.parse::<Decimal>().unwrap();
            }
            if engagement.status == "active" {
                assert_eq!(total, Decimal::from(100), "{}", engagement.name);
            }
            assert_ne!(engagement.time_zone, "UTC");
        }
    }
}
