//! One engagement as agreed: its stored fields (typed), who manages it, its KPIs under the
//! terms in force, its boundaries and its rhythm. The hub page, "our agreement" and a JSON
//! client all start from [`Agreement`].

use chrono::{NaiveDate, Weekday};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use sqlx::PgConnection;

use super::boundaries::{self, Boundaries};
use super::cadence::{CheckinCadence, ReviewCadence, iso_weekdays, weekday_name};
use super::kpis::{self, KpiLine};
use super::{Access, Status};
use crate::vocab::{PeriodKind, Zone};
use crate::web::error::{AppError, Result};

/// The engagement's fields as stored; also what the audit log records before and after.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct EngagementFields {
    pub vendor_id: i64,
    pub name: String,
    pub scope: String,
    pub objectives: Vec<String>,
    #[serde(serialize_with = "zone_name")]
    pub time_zone: Zone,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub notice_days: i32,
    pub status: Status,
    pub owner_id: i64,
    pub scorecard_period: PeriodKind,
    pub checkin_cadence: CheckinCadence,
    /// The preferred check-in day as an ISO number (1 = Monday … 7 = Sunday).
    pub checkin_weekday: Option<i32>,
    pub review_cadence: ReviewCadence,
    pub audit_cadence: ReviewCadence,
    pub next_review_due: Option<NaiveDate>,
    pub next_audit_due: Option<NaiveDate>,
}

/// A zone is recorded by its IANA name, as it is stored.
fn zone_name<S: Serializer>(zone: &Zone, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(zone.name())
}

impl EngagementFields {
    /// The preferred check-in day, if one is set.
    pub fn preferred_weekday(&self) -> Option<Weekday> {
        self.checkin_weekday
            .and_then(|day| iso_weekdays(&[day]).into_iter().next())
    }

    /// The last day to give notice before the end date.
    pub fn notice_date(&self) -> Option<NaiveDate> {
        self.end_date
            .and_then(|end| end.checked_sub_days(chrono::Days::new(self.notice_days as u64)))
    }
}

pub async fn fields_of(db: &mut PgConnection, id: i64) -> Result<EngagementFields> {
    sqlx::query_as(
        "select vendor_id, name, scope, objectives, time_zone, start_date, end_date, notice_days, status, owner_id,
                scorecard_period, checkin_cadence, checkin_weekday, review_cadence, audit_cadence,
                next_review_due, next_audit_due
         from engagements where id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)
}

/// Everything the hub and the agreement pages show of one engagement.
pub struct Agreement {
    pub today: NaiveDate,
    pub access: Access,
    pub fields: EngagementFields,
    pub owner: String,
    pub co_managers: Vec<String>,
    pub kpis: Vec<KpiLine>,
    pub weight_total: Decimal,
    pub boundaries: Boundaries,
    pub notice_date: Option<NaiveDate>,
}

impl Agreement {
    /// Whether a due date has passed, by today in the engagement's zone.
    pub fn overdue(&self, due: &Option<NaiveDate>) -> bool {
        due.is_some_and(|d| d < self.today)
    }

    /// The preferred check-in day by name, for "on Mondays".
    pub fn weekday(&self) -> Option<&'static str> {
        self.fields.preferred_weekday().map(weekday_name)
    }
}

#[derive(sqlx::FromRow)]
struct People {
    owner: String,
    co_managers: Vec<String>,
}

/// Loads the engagement `access` opens, with its KPIs under the terms in force on `today`.
pub async fn load(db: &mut PgConnection, access: Access, today: NaiveDate) -> Result<Agreement> {
    let fields = fields_of(db, access.id).await?;
    let people: People = sqlx::query_as(
        "select o.name as owner,
                coalesce(array(select u.name from engagement_managers m join users u on u.id = m.user_id
                               where m.engagement_id = e.id order by lower(u.name)), '{}') as co_managers
         from engagements e join users o on o.id = e.owner_id where e.id = $1",
    )
    .bind(access.id)
    .fetch_one(&mut *db)
    .await?;
    let kpis = kpis::lines(db, access.id, today).await?;
    let weight_total = kpis.iter().filter(|k| k.active).map(|k| k.weight).sum();
    let boundaries = boundaries::load(db, access.id).await?;
    Ok(Agreement {
        today,
        notice_date: fields.notice_date(),
        access,
        fields,
        owner: people.owner,
        co_managers: people.co_managers,
        kpis,
        weight_total,
        boundaries,
    })
}
