//! Demo audits with findings (and their files), reviews, access grants and proposals on the active demo
//! engagements, some of them due or overdue. Every record has a fixed key, so a second run
//! of `seed demo` creates nothing twice.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::PgConnection;

use crate::period::Period;
use crate::vocab::PeriodKind;

const SERVICE_DESK: &str = "Service desk and end-user support";
const CLOUD: &str = "Cloud platform operations";
const DETECTION: &str = "Managed detection and response";

/// A fixed key per record, clear of the keys of the rest of the demo data.
fn key(n: u128) -> uuid::Uuid {
    super::organisation::key(10_000 + n)
}

struct Engagement {
    id: i64,
    owner: i64,
    today: NaiveDate,
    latest: Period,
}

async fn engagement(
    db: &mut PgConnection,
    name: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Engagement>> {
    let row: Option<(i64, i64, String, PeriodKind)> = sqlx::query_as(
        "select id, owner_id, time_zone, scorecard_period from engagements where name = $1",
    )
    .bind(name)
    .fetch_optional(&mut *db)
    .await?;
    let Some((id, owner, zone, period)) = row else {
        return Ok(None);
    };
    let zone: Tz = zone.parse()?;
    let today = now.with_timezone(&zone).date_naive();
    Ok(Some(Engagement {
        id,
        owner,
        today,
        latest: Period::latest_closed(period, today),
    }))
}

async fn vendor_user(db: &mut PgConnection, email: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("select id from users where email = $1")
        .bind(email)
        .fetch_one(db)
        .await?)
}

pub async fn seed(db: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    audits(db, now).await?;
    audit_files(db, now).await?;
    grants(db, now).await?;
    proposals(db, now).await?;
    reviews(db, now).await
}

struct Finding {
    severity: &'static str,
    description: &'static str,
    side: &'static str,
    due_in: i64,
    /// (remediation plan, evidence, closing note if verified)
    answer: Option<(&'static str, &'static str, Option<&'static str>)>,
}

struct Audit {
    engagement: &'static str,
    kind: &'static str,
    scope: &'static str,
    auditor: &'static str,
    planned_in: i64,
    /// (outcome, summary) once completed, five days after the planned date.
    outcome: Option<(&'static str, &'static str)>,
    findings: &'static [Finding],
}

const AUDITS: &[Audit] = &[
    Audit {
        engagement: SERVICE_DESK,
        kind: "security",
        scope: "Privileged access to the ticketing and device-management tools; loaner laptops.",
        auditor: "Internal audit (J. Weber)",
        planned_in: -120,
        outcome: Some((
            "pass_with_findings",
            "Controls are sound overall; shared admin accounts and unencrypted loaners need work.",
        )),
        findings: &[
            Finding {
                severity: "high",
                description: "A shared administrator account is used on the ticketing tool.",
                side: "vendor",
                due_in: -60,
                answer: Some((
                    "Personal admin accounts with MFA for the four leads; the shared account is disabled.",
                    "Account list exported from the tool on the day of the change.",
                    Some("Checked the tool's account list: the shared account is disabled."),
                )),
            },
            Finding {
                severity: "medium",
                description: "Disk encryption is not enforced on 12 loaner laptops.",
                side: "vendor",
                due_in: -5,
                answer: None,
            },
            Finding {
                severity: "low",
                description: "Our asset register does not list loaner devices.",
                side: "ours",
                due_in: 20,
                answer: None,
            },
        ],
    },
    Audit {
        engagement: SERVICE_DESK,
        kind: "sla_verification",
        scope: "The vendor-reported resolution times of the latest period, against the ticket log.",
        auditor: "Maria Lopez",
        planned_in: 7,
        outcome: None,
        findings: &[],
    },
    Audit {
        engagement: CLOUD,
        kind: "quality",
        scope: "Change management in the payments cluster.",
        auditor: "Tom Becker",
        planned_in: -35,
        outcome: Some((
            "pass",
            "Changes are reviewed and rolled back cleanly; the runbooks are current.",
        )),
        findings: &[],
    },
    Audit {
        engagement: CLOUD,
        kind: "compliance",
        scope: "Data residency of backups (EU only).",
        auditor: "External: Audit & Co",
        planned_in: -10,
        outcome: None,
        findings: &[],
    },
    Audit {
        engagement: DETECTION,
        kind: "compliance",
        scope: "Log retention and evidence handling for incidents.",
        auditor: "External: Audit & Co",
        planned_in: -50,
        outcome: Some((
            "pass_with_findings",
            "Retention meets policy; chain of custody for evidence is not documented.",
        )),
        findings: &[Finding {
            severity: "critical",
            description: "No documented chain of custody for incident evidence.",
            side: "vendor",
            due_in: 10,
            answer: Some((
                "Adopt the NIST evidence-handling template; train the analysts by month end.",
                "Draft procedure shared on the portal.",
                None,
            )),
        }],
    },
];

async fn audits(db: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    let mut finding_key = 100u128;
    for (n, audit) in AUDITS.iter().enumerate() {
        let Some(e) = engagement(db, audit.engagement, now).await? else {
            continue;
        };
        let planned = e.today + Duration::days(audit.planned_in);
        let completed = audit.outcome.map(|_| planned + Duration::days(5));
        let period = (audit.kind == "sla_verification").then_some(e.latest.start);
        let id: Option<i64> = sqlx::query_scalar(
            "insert into audits (engagement_id, kind, scope, planned_on, auditor, period_start, status, outcome, summary,
                                 completed_on, completed_by, created_by, created_at, form_key)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)
             on conflict (form_key) do nothing returning id",
        )
        .bind(e.id)
        .bind(audit.kind)
        .bind(audit.scope)
        .bind(planned)
        .bind(audit.auditor)
        .bind(period)
        .bind(if completed.is_some() { "completed" } else { "planned" })
        .bind(audit.outcome.map(|(o, _)| o))
        .bind(audit.outcome.map_or("", |(_, s)| s))
        .bind(completed)
        .bind(e.owner)
        .bind(now)
        .bind(key(n as u128))
        .fetch_optional(&mut *db)
        .await?;
        for f in audit.findings {
            finding_key += 1;
            let Some(audit_id) = id else { continue };
            let (status, plan, evidence, note) = match f.answer {
                None => ("open", "", "", ""),
                Some((plan, evidence, None)) => ("answered", plan, evidence, ""),
                Some((plan, evidence, Some(note))) => ("closed", plan, evidence, note),
            };
            sqlx::query(
                "insert into findings (audit_id, engagement_id, severity, description, owner_side, due_on, status,
                                       remediation_plan, evidence, answered_by, answered_at, resolution_note, resolved_by,
                                       resolved_at, created_by, created_at, form_key)
                 select $1, $2, $3, $4, $5, $6, $7, $8, $9,
                        case when $7 = 'open' then null
                             when $5 = 'ours' then $11
                             else (select u.id from users u join engagements e on e.vendor_id = u.vendor_id
                                   where e.id = $2 order by u.id limit 1) end,
                        case when $7 = 'open' then null else $12 end,
                        $10, case when $7 = 'closed' then $11 end, case when $7 = 'closed' then $12 end,
                        $11, $12, $13
                 on conflict (form_key) do nothing",
            )
            .bind(audit_id)
            .bind(e.id)
            .bind(f.severity)
            .bind(f.description)
            .bind(f.side)
            .bind(e.today + Duration::days(f.due_in))
            .bind(status)
            .bind(plan)
            .bind(evidence)
            .bind(note)
            .bind(e.owner)
            .bind(now)
            .bind(key(finding_key))
            .execute(&mut *db)
            .await?;
        }
    }
    Ok(())
}

/// A text file of evidence on each vendor finding that has a plan, and working notes on each
/// completed audit, attached by whoever answered or completed it; once per record, so a
/// second run adds none.
async fn audit_files(db: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    let evidence: Vec<(i64, i64, String)> = sqlx::query_as(
        "select id, answered_by, remediation_plan from findings
         where owner_side = 'vendor' and answered_by is not null order by id",
    )
    .fetch_all(&mut *db)
    .await?;
    let papers: Vec<(i64, i64, String)> = sqlx::query_as(
        "select id, completed_by, scope from audits where completed_by is not null order by id",
    )
    .fetch_all(&mut *db)
    .await?;
    // The table and column are the literals below, never input.
    let attach = |table: &'static str, column: &'static str| {
        format!(
            "with f as (
                 insert into files (name, original_name, content_type, size_bytes, sha256, uploaded_by, uploaded_at)
                 select $1, $1, 'text/plain', octet_length($2::bytea), encode(sha256($2::bytea), 'hex'), $3, $4
                 where not exists (select 1 from {table} where form_key = $5)
                 returning id),
             c as (insert into file_chunks (file_id, seq, bytes) select id, 0, $2::bytea from f)
             insert into {table} ({column}, file_id, note, attached_by, attached_at, form_key)
             select $6, id, $7, $3, $4, $5 from f"
        )
    };
    for (id, by, plan) in evidence {
        let content =
            format!("Remediation evidence\n\nPlan: {plan}\nStatus: carried out as planned.\n");
        sqlx::query(&attach("finding_files", "finding_id"))
            .bind("remediation-evidence.txt")
            .bind(content.into_bytes())
            .bind(by)
            .bind(now)
            .bind(key(1_000_000 + id as u128))
            .bind(id)
            .bind("What we changed, and when.")
            .execute(&mut *db)
            .await?;
    }
    for (id, by, scope) in papers {
        let content =
            format!("Working notes\n\nScope: {scope}\nSamples taken: 25; exceptions: 2.\n");
        sqlx::query(&attach("audit_files", "audit_id"))
            .bind("working-notes.txt")
            .bind(content.into_bytes())
            .bind(by)
            .bind(now)
            .bind(key(2_000_000 + id as u128))
            .bind(id)
            .bind("Interviews and samples.")
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

struct Grant {
    engagement: &'static str,
    resource: &'static str,
    level: &'static str,
    holder: &'static str,
    granted_ago: i64,
    expires_in: Option<i64>,
    interval: i32,
    /// Days until the next access review; negative is overdue.
    review_in: i64,
    justification: &'static str,
}

const GRANTS: &[Grant] = &[
    Grant {
        engagement: SERVICE_DESK,
        resource: "Ticketing system",
        level: "write",
        holder: "Northwind service desk team",
        granted_ago: 300,
        expires_in: None,
        interval: 90,
        review_in: -10,
        justification: "First- and second-level support work every ticket there.",
    },
    Grant {
        engagement: SERVICE_DESK,
        resource: "Device management (Intune)",
        level: "admin",
        holder: "Two named Northwind leads",
        granted_ago: 200,
        expires_in: Some(14),
        interval: 90,
        review_in: 40,
        justification: "Laptop rollout and loaner pool.",
    },
    Grant {
        engagement: CLOUD,
        resource: "AWS production account",
        level: "admin",
        holder: "Bluepeak on-call engineers (role, MFA)",
        granted_ago: 400,
        expires_in: None,
        interval: 30,
        review_in: 12,
        justification: "24/7 operations of the production platform.",
    },
    Grant {
        engagement: CLOUD,
        resource: "Grafana dashboards",
        level: "read",
        holder: "Bluepeak operations",
        granted_ago: 400,
        expires_in: None,
        interval: 180,
        review_in: 90,
        justification: "Watch the platform's health.",
    },
    Grant {
        engagement: DETECTION,
        resource: "SIEM workspace",
        level: "admin",
        holder: "Sentinel SOC analysts",
        granted_ago: 500,
        expires_in: None,
        interval: 90,
        review_in: 3,
        justification: "Detection rules, triage and incident response.",
    },
];

async fn grants(db: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    for (n, g) in GRANTS.iter().enumerate() {
        let Some(e) = engagement(db, g.engagement, now).await? else {
            continue;
        };
        let id: Option<i64> = sqlx::query_scalar(
            "insert into access_grants (engagement_id, resource, access_level, holder, granted_on, expires_on,
                                        review_interval_days, next_review_due, justification, created_by, created_at, form_key)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             on conflict (form_key) do nothing returning id",
        )
        .bind(e.id)
        .bind(g.resource)
        .bind(g.level)
        .bind(g.holder)
        .bind(e.today - Duration::days(g.granted_ago))
        .bind(g.expires_in.map(|d| e.today + Duration::days(d)))
        .bind(g.interval)
        .bind(e.today + Duration::days(g.review_in))
        .bind(g.justification)
        .bind(e.owner)
        .bind(now)
        .bind(key(300 + n as u128))
        .fetch_optional(&mut *db)
        .await?;
        if let Some(id) = id {
            // The review that set the current due date.
            sqlx::query(
                "insert into access_reviews (grant_id, decision, note, next_review_due, reviewed_by, reviewed_at)
                 values ($1, 'keep', 'Still needed.', $2, $3, $4)",
            )
            .bind(id)
            .bind(e.today + Duration::days(g.review_in))
            .bind(e.owner)
            .bind(now - Duration::days(i64::from(g.interval) - g.review_in))
            .execute(&mut *db)
            .await?;
        }
    }
    Ok(())
}

struct Proposal {
    engagement: &'static str,
    by: &'static str,
    kind: &'static str,
    title: &'static str,
    description: &'static str,
    action: &'static str,
    impact: &'static str,
    days_ago: i64,
    answer: Option<(&'static str, &'static str)>,
}

const PROPOSALS: &[Proposal] = &[
    Proposal {
        engagement: SERVICE_DESK,
        by: "priya@northwind-it.example",
        kind: "improvement",
        title: "Self-service password reset",
        description: "A third of all tickets are password resets.",
        action: "Switch on self-service reset with MFA for all staff.",
        impact: "About 300 fewer tickets a month; faster help for staff.",
        days_ago: 40,
        answer: Some((
            "accepted",
            "Yes, please. Coordinate the MFA enrolment with our security team.",
        )),
    },
    Proposal {
        engagement: SERVICE_DESK,
        by: "priya@northwind-it.example",
        kind: "risk",
        title: "Laptop stock for the first quarter",
        description: "Our distributor warns of shortages in January and February.",
        action: "Order the 40 planned laptops in December.",
        impact: "No waiting time for new joiners in Q1.",
        days_ago: 6,
        answer: None,
    },
    Proposal {
        engagement: SERVICE_DESK,
        by: "priya@northwind-it.example",
        kind: "issue",
        title: "Escalation path for executive tickets",
        description: "Executive assistants call the lead directly, bypassing the queue.",
        action: "Agree on a VIP queue with its own response time.",
        impact: "Fewer interruptions, and executive tickets are tracked.",
        days_ago: 12,
        answer: Some((
            "needs_information",
            "How many such calls a week? Please bring numbers to the next check-in.",
        )),
    },
    Proposal {
        engagement: CLOUD,
        by: "li@bluepeak.example",
        kind: "improvement",
        title: "Reserved instances for the batch cluster",
        description: "The batch cluster runs at a steady load around the clock.",
        action: "Buy one-year reservations for the 12 batch nodes.",
        impact: "About 30% lower compute cost for the cluster.",
        days_ago: 3,
        answer: None,
    },
    Proposal {
        engagement: DETECTION,
        by: "olivia@sentinel-sec.example",
        kind: "improvement",
        title: "Quarterly phishing simulation",
        description: "Click rates fell after the last campaign but are drifting up.",
        action: "Run a simulation each quarter with a short lesson for those who click.",
        impact: "Fewer successful phishing attempts.",
        days_ago: 70,
        answer: Some(("done", "Ran in October: click rate 3%, down from 9%.")),
    },
];

async fn proposals(db: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    for (n, p) in PROPOSALS.iter().enumerate() {
        let Some(e) = engagement(db, p.engagement, now).await? else {
            continue;
        };
        let by = vendor_user(db, p.by).await?;
        let raised = now - Duration::days(p.days_ago);
        sqlx::query(
            "insert into proposals (engagement_id, kind, title, description, proposed_action, expected_impact, status,
                                    answer_note, answered_by, answered_at, raised_by, raised_at, form_key)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             on conflict (form_key) do nothing",
        )
        .bind(e.id)
        .bind(p.kind)
        .bind(p.title)
        .bind(p.description)
        .bind(p.action)
        .bind(p.impact)
        .bind(p.answer.map_or("open", |(status, _)| status))
        .bind(p.answer.map_or("", |(_, note)| note))
        .bind(p.answer.map(|_| e.owner))
        .bind(p.answer.map(|_| raised + Duration::days(2)))
        .bind(by)
        .bind(raised)
        .bind(key(400 + n as u128))
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

/// A completed review three periods back with an adaptation, and a draft of the latest
/// period, for the service desk; a completed one for the cloud platform.
async fn reviews(db: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    struct Review {
        engagement: &'static str,
        periods_back: usize,
        /// (decision, summary, what works, what to improve, internal notes)
        completed: Option<(
            &'static str,
            &'static str,
            &'static str,
            &'static str,
            &'static str,
        )>,
        adaptation: Option<&'static str>,
    }
    const REVIEWS: &[Review] = &[
        Review {
            engagement: SERVICE_DESK,
            periods_back: 3,
            completed: Some((
                "adapt",
                "We continue; from now on we meet every two weeks instead of weekly, and the loaner pool stays.",
                "Calm handling of the Windows rollout; clear weekly reporting.",
                "First-contact resolution; laptop delivery times.",
                "Renewal talks next spring: benchmark prices first.",
            )),
            adaptation: Some("Check-in cadence: weekly → biweekly"),
        },
        Review {
            engagement: SERVICE_DESK,
            periods_back: 0,
            completed: None,
            adaptation: None,
        },
        Review {
            engagement: CLOUD,
            periods_back: 1,
            completed: Some((
                "continue",
                "Solid quarter; the change failures were handled well. Keep going.",
                "Incident response; transparency after the payments changes.",
                "Change failure rate in the payments cluster.",
                "",
            )),
            adaptation: None,
        },
    ];
    for (n, r) in REVIEWS.iter().enumerate() {
        let Some(e) = engagement(db, r.engagement, now).await? else {
            continue;
        };
        let mut period = e.latest;
        for _ in 0..r.periods_back {
            period = period.previous();
        }
        let snapshot = crate::reviews::take_snapshot(db, e.id, &period, e.today, now).await?;
        let started = now - Duration::days(7 * r.periods_back as i64 + 2);
        let id: Option<i64> = sqlx::query_scalar(
            "insert into reviews (engagement_id, period_start, period_label, status, snapshot, what_works, what_to_improve,
                                  decision, summary, internal_notes, started_by, started_at, completed_by, completed_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             on conflict (engagement_id, period_start) do nothing returning id",
        )
        .bind(e.id)
        .bind(period.start)
        .bind(period.label())
        .bind(if r.completed.is_some() { "completed" } else { "draft" })
        .bind(sqlx::types::Json(&snapshot))
        .bind(r.completed.map_or("", |c| c.2))
        .bind(r.completed.map_or("", |c| c.3))
        .bind(r.completed.map(|c| c.0))
        .bind(r.completed.map_or("", |c| c.1))
        .bind(r.completed.map_or("", |c| c.4))
        .bind(e.owner)
        .bind(started)
        .bind(r.completed.map(|_| e.owner))
        .bind(r.completed.map(|_| started + Duration::days(1)))
        .fetch_optional(&mut *db)
        .await?;
        if let (Some(id), Some(description)) = (id, r.adaptation) {
            sqlx::query(
                "insert into review_adaptations (review_id, kind, description, effective_from, applied_by, applied_at, form_key)
                 values ($1, 'cadence', $2, $3, $4, $5, $6) on conflict (form_key) do nothing",
            )
            .bind(id)
            .bind(description)
            .bind(e.today - Duration::days(7 * r.periods_back as i64))
            .bind(e.owner)
            .bind(started + Duration::days(1))
            .bind(key(500 + n as u128))
            .execute(&mut *db)
            .await?;
        }
    }
    Ok(())
}
