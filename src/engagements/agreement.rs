//! One engagement as agreed: its stored fields (typed), who manages it, its KPIs under the
//! terms in force, its boundaries and its rhythm. The hub page, "our agreement" and a JSON
//! client all start from [`Agreement`].

use chrono::{NaiveDate, Weekday};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use sqlx::PgConnection;

use super::boundaries::Boundaries;
use super::cadence::{CheckinCadence, ReviewCadence, iso_weekdays, weekday_name};
use super::contract::{Contract, ContractFields, Dates, Notice};
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
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub contract: ContractFields,
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

    /// What the contract says about its terms.
    pub fn contract(&self) -> Contract {
        self.contract
            .contract(self.start_date, self.end_date, self.notice_days)
    }

    /// The notice period as agreed.
    pub fn notice(&self) -> Notice {
        Notice::from_stored(self.notice_days, self.contract.notice_months)
    }
}

/// The contract's stored columns, as [`ContractFields`] reads them.
pub const CONTRACT_COLUMNS: &str = "renewal, renewal_months, initial_term_months, notice_months, annual_value, currency, contract_document_id";

pub async fn fields_of(db: &mut PgConnection, id: i64) -> Result<EngagementFields> {
    sqlx::query_as(&format!(
        "select vendor_id, name, scope, objectives, time_zone, start_date, end_date, notice_days, status, owner_id,
                scorecard_period, checkin_cadence, checkin_weekday, review_cadence, audit_cadence,
                next_review_due, next_audit_due, {CONTRACT_COLUMNS}
         from engagements where id = $1"
    ))
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
    /// The contract's current term and notice day, today.
    pub contract_dates: Option<Dates>,
    /// The vendor's required documents that have lapsed, as the reader may see them
    /// (`documents`): the pages' warning.
    pub lapsed_documents: Vec<String>,
    /// The contract document as the reader may see it: "Contract, version 2, valid until …".
    pub contract_document: Option<String>,
}

impl Agreement {
    /// Whether a due date has passed, by today in the engagement's zone.
    pub fn overdue(&self, due: &Option<NaiveDate>) -> bool {
        due.is_some_and(|d| d < self.today)
    }

    /// Whether the last day to give notice is within 30 days.
    pub fn notice_soon(&self) -> bool {
        self.contract_dates
            .and_then(|d| d.notice_by)
            .is_some_and(|by| by >= self.today && (by - self.today).num_days() <= 30)
    }

    /// The preferred check-in day by name, for "on Mondays".
    pub fn weekday(&self) -> Option<&'static str> {
        self.fields.preferred_weekday().map(weekday_name)
    }
}

/// The engagement's fields, its people and its boundaries, read in one statement.
#[derive(sqlx::FromRow)]
struct Stored {
    #[sqlx(flatten)]
    fields: EngagementFields,
    owner: String,
    co_managers: Vec<String>,
    lapsed_documents: Vec<String>,
    contract_document: Option<String>,
    #[sqlx(flatten)]
    boundaries: Boundaries,
}

/// Loads the engagement `access` opens, with its KPIs under the terms in force on `today`:
/// two statements, whatever the number of KPIs and co-managers.
pub async fn load(db: &mut PgConnection, access: Access, today: NaiveDate) -> Result<Agreement> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "select e.vendor_id, e.name, e.scope, e.objectives, e.time_zone, e.start_date, e.end_date, e.notice_days,
                e.status, e.owner_id, e.scorecard_period, e.checkin_cadence, e.checkin_weekday, e.review_cadence,
                e.audit_cadence, e.next_review_due, e.next_audit_due, e.renewal, e.renewal_months,
                e.initial_term_months, e.notice_months, e.annual_value, e.currency, e.contract_document_id,
                {} as contract_document,
                o.name as owner,
                coalesce(array(select u.name from engagement_managers m join users u on u.id = m.user_id
                               where m.engagement_id = e.id order by lower(u.name)), '{{}}') as co_managers,
                {} as lapsed_documents,
                b.contact_days, b.window_start, b.window_end, b.channels, b.preferred_channel, b.urgent_definition,
                b.urgent_channel, b.escalation_contact, b.routine_response_hours, b.urgent_response_hours,
                b.weekly_touch_cap
         from engagements e join users o on o.id = e.owner_id join boundaries b on b.engagement_id = e.id
         where e.id = $1",
            crate::documents::label_column("e.contract_document_id", "$3"),
            crate::documents::lapsed_column("e.vendor_id", "$2", "$3")
        )
    });
    let stored: Stored = sqlx::query_as(&SQL)
        .bind(access.id)
        .bind(today)
        .bind(access.is_vendor)
        .fetch_optional(&mut *db)
        .await?
        .ok_or(AppError::NotFound)?;
    let kpis = kpis::lines(db, access.id, today).await?;
    let weight_total = kpis.iter().filter(|k| k.active).map(|k| k.weight).sum();
    let Stored {
        fields,
        owner,
        co_managers,
        lapsed_documents,
        contract_document,
        boundaries,
    } = stored;
    Ok(Agreement {
        today,
        contract_dates: fields.contract().dates(today),
        access,
        fields,
        owner,
        co_managers,
        kpis,
        weight_total,
        boundaries,
        lapsed_documents,
        contract_document,
    })
}
