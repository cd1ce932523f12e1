//! What was true when a review started: the scorecard, check-in health, feedback, findings
//! and proposals, kept on the review as it was, once as the organisation saw it and once as
//! the vendor's users did (`crate::visibility`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::auth::policy::ReviewPart;
use crate::period::Period;
use crate::proposals::Proactivity;
use crate::scorecard::{ScoreSnapshot, snapshot};
use crate::web::error::Result;

/// What was true when the review started.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    pub scorecard: ScoreSnapshot,
    /// What the organisation's people saw: every check-in, feedback and finding. Kept at the
    /// top level, where reviews started before there were two parts keep it too.
    #[serde(flatten)]
    pub organisation: Seen,
    /// What the vendor's users saw; `None` in reviews started before it was kept apart.
    pub vendor: Option<Seen>,
    pub proposals_open: i64,
    pub proactivity: Proactivity,
    /// The vendor's questionnaires of the past year (this engagement's and due diligence's):
    /// the vendor answers them, so both sides see them alike.
    pub questionnaires: Vec<QuestionnaireSeen>,
}

/// A questionnaire as the review saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, sqlx::FromRow)]
#[serde(default)]
pub struct QuestionnaireSeen {
    pub title: String,
    pub status: String,
    pub due_on: Option<NaiveDate>,
    /// 0–100, once completed.
    pub score: Option<rust_decimal::Decimal>,
}

impl QuestionnaireSeen {
    pub fn sentence(&self) -> String {
        match (&self.score, self.status.as_str()) {
            (Some(score), _) => format!("{}: completed, {score} of 100", self.title),
            (None, "submitted") => format!("{}: submitted, in review", self.title),
            (None, _) => match self.due_on {
                Some(due) => format!("{}: being answered, due {due}", self.title),
                None => format!("{}: being answered", self.title),
            },
        }
    }
}

/// Check-ins, feedback and findings as one side saw them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Seen {
    /// The last check-ins' health, newest first.
    pub health: Vec<(NaiveDate, String)>,
    pub praise: i64,
    pub criticism: i64,
    pub findings_open: i64,
    pub findings_overdue: i64,
}

impl Snapshot {
    pub fn score_text(&self) -> String {
        self.scorecard
            .score
            .map_or_else(|| "No data".to_string(), |s| s.to_string())
    }

    /// The part a reader sees (`policy::review_part`): a vendor user the vendor's only.
    pub fn seen(&self, part: ReviewPart) -> Option<&Seen> {
        match part {
            ReviewPart::Vendor => self.vendor.as_ref(),
            ReviewPart::Organisation => Some(&self.organisation),
        }
    }
}

impl Seen {
    pub fn health_text(&self) -> String {
        if self.health.is_empty() {
            return "No check-ins yet.".into();
        }
        self.health
            .iter()
            .map(|(day, h)| {
                format!(
                    "{day} {} {}",
                    crate::checkins::health_symbol(h),
                    crate::checkins::health_label(h)
                )
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

#[derive(sqlx::FromRow)]
struct Counts {
    praise: i64,
    criticism: i64,
    findings_open: i64,
    findings_overdue: i64,
}

#[derive(sqlx::FromRow)]
struct ProposalCounts {
    proposals_open: i64,
    raised: i64,
    accepted: i64,
}

/// Check-ins, feedback and findings as the organisation (`for_vendor` false) or the vendor
/// sees them, through the `visible_*` functions.
async fn seen(
    db: &mut PgConnection,
    engagement_id: i64,
    since: DateTime<Utc>,
    today: NaiveDate,
    for_vendor: bool,
) -> Result<Seen> {
    let health: Vec<(NaiveDate, String)> = sqlx::query_as(
        "select held_on, health from visible_checkins($2) where engagement_id = $1
         order by held_on desc, id desc limit 6",
    )
    .bind(engagement_id)
    .bind(for_vendor)
    .fetch_all(&mut *db)
    .await?;
    let counts: Counts = sqlx::query_as(
        "select f.praise, f.criticism, d.findings_open, d.findings_overdue
         from (select count(*) filter (where kind = 'praise') as praise,
                      count(*) filter (where kind <> 'praise') as criticism
               from visible_feedback($4) where engagement_id = $1 and created_at >= $2) f,
              (select count(*) as findings_open, count(*) filter (where due_on < $3) as findings_overdue
               from visible_findings($4) where engagement_id = $1 and status in ('open', 'answered')) d",
    )
    .bind(engagement_id)
    .bind(since)
    .bind(today)
    .bind(for_vendor)
    .fetch_one(&mut *db)
    .await?;
    Ok(Seen {
        health,
        praise: counts.praise,
        criticism: counts.criticism,
        findings_open: counts.findings_open,
        findings_overdue: counts.findings_overdue,
    })
}

pub async fn take_snapshot(
    db: &mut PgConnection,
    engagement_id: i64,
    period: &Period,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Snapshot> {
    let scorecard = snapshot(db, engagement_id, period, today).await?;
    let since = now - chrono::Duration::days(90);
    let organisation = seen(db, engagement_id, since, today, false).await?;
    let vendor = seen(db, engagement_id, since, today, true).await?;
    // Proposals are the vendor's own: both sides see them all.
    let counts: ProposalCounts = sqlx::query_as(
        "select count(*) filter (where status in ('open', 'needs_information')) as proposals_open,
                count(*) filter (where raised_at >= $2) as raised,
                count(*) filter (where raised_at >= $2 and status in ('accepted', 'done')) as accepted
         from proposals where engagement_id = $1",
    )
    .bind(engagement_id)
    .bind(since)
    .fetch_one(&mut *db)
    .await?;
    let questionnaires: Vec<QuestionnaireSeen> = sqlx::query_as(
        "select t.name as title, q.status, q.due_on, q.score
         from questionnaires q join questionnaire_templates t on t.id = q.template_id
         join engagements e on e.id = $1
         where q.vendor_id = e.vendor_id and (q.engagement_id is null or q.engagement_id = e.id)
           and q.sent_at >= $2 - interval '1 year'
         order by q.sent_at desc, q.id desc limit 10",
    )
    .bind(engagement_id)
    .bind(now)
    .fetch_all(&mut *db)
    .await?;
    Ok(Snapshot {
        questionnaires,
        scorecard,
        organisation,
        vendor: Some(vendor),
        proposals_open: counts.proposals_open,
        proactivity: Proactivity {
            raised: counts.raised,
            accepted: counts.accepted,
        },
    })
}
