//! Engagements: what the organisation agreed with a vendor (scope, objectives, dates,
//! cadences), who manages it, its KPIs and its boundaries.
//!
//! Other features use what this file declares and re-exports below, never a path into a
//! submodule.

pub mod agreement;
pub mod boundaries;
pub mod cadence;
pub mod contract;
pub mod kpis;
pub mod pages;
pub mod schedule;
mod viewing;
pub mod window;

pub use agreement::{Agreement, EngagementFields, fields_of};
pub use boundaries::{Boundaries, Channel, WindowNow, set_touch_cap, window_now};
pub use cadence::{
    CheckinCadence, ReviewCadence, WEEK, add_months, iso_weekdays, overdue_from, parse_weekday,
    weekday_name, weekday_short,
};
pub use contract::{
    Contract, ContractFields, Dates as ContractDates, Notice, NoticeUnit, Renewal,
    refresh as refresh_contracts, store_dates as store_contract_dates,
};
pub use kpis::{KpiLine, change_terms, check_terms, decimal, lines as kpi_lines, with_unit};
pub use pages::{Filter, ListKey, ListRow, render_agreement, search, search_after};
pub use viewing::Viewing;
pub use window::{ContactWindow, describe_days};

use std::sync::LazyLock;

use chrono::NaiveDate;
use sqlx::PgConnection;

pub use schedule::{Cadence, Cadences, Due, cadences, close, next_due, set_cadence, set_next_due};

use crate::auth::policy::vendor_scope;
use crate::auth::{Role, User};
use crate::cache::DataVersion;
use crate::choice;
use crate::vocab::{PeriodKind, Zone};
use crate::web::error::{AppError, Result};
use crate::web::routes::Routes;

choice!(pub Status {
    Draft = "draft" / "Draft",
    Active = "active" / "Active",
    Paused = "paused" / "Paused",
    Closed = "closed" / "Closed",
});

/// Who is looking at an engagement and what they may do with it.
#[derive(Debug, Clone)]
pub struct Access {
    pub id: i64,
    pub name: String,
    pub vendor_id: i64,
    pub vendor_name: String,
    pub time_zone: Zone,
    pub status: Status,
    pub scorecard_period: PeriodKind,
    pub start_date: NaiveDate,
    /// An admin, or the owner or a co-manager of this engagement.
    pub can_manage: bool,
    pub is_admin: bool,
    pub is_vendor: bool,
    /// The version of what the engagement's scorecard is computed from, read in the same
    /// statement as the access itself (`crate::cache`).
    pub data_version: DataVersion,
}

#[derive(sqlx::FromRow)]
struct AccessRow {
    id: i64,
    name: String,
    vendor_id: i64,
    vendor_name: String,
    time_zone: Zone,
    status: Status,
    scorecard_period: PeriodKind,
    start_date: NaiveDate,
    manages: bool,
    engagement_version: i64,
    names_version: i64,
}

/// One engagement as `access` opens it, with its KPIs under the terms in force on `today`.
pub async fn agreement_of(
    db: &mut PgConnection,
    access: Access,
    today: NaiveDate,
) -> Result<Agreement> {
    agreement::load(db, access, today).await
}

/// The boundaries of an engagement as stored.
pub async fn boundaries_of(db: &mut PgConnection, engagement_id: i64) -> Result<Boundaries> {
    boundaries::load(db, engagement_id).await
}

/// Loads an engagement as `user` may see it: a vendor user only their own vendor's (the
/// scope is in the query), anyone else every one. Missing and foreign are the same 404.
pub async fn access(db: &mut PgConnection, user: &User, id: i64) -> Result<Access> {
    static ACCESS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{} where e.id = $1 and ($2::bigint is null or e.vendor_id = $2)",
            access_select("$3")
        )
    });
    let row: AccessRow = sqlx::query_as(&ACCESS)
        .bind(id)
        .bind(vendor_scope(user))
        .bind(user.id)
        .fetch_optional(db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(row.into_access(user))
}

/// The access row of engagement `id` (an SQL expression) for the viewer whose id, role and
/// vendor are the SQL expressions given, to join laterally into a statement that learns the
/// viewer itself (the session's, a bearer token's). The vendor scope is the one of [`vendor_scope`], told in
/// SQL: an admin or a manager sees every engagement, anyone else (an unknown role too) only
/// their vendor's. [`access_of_row`] reads it back.
pub fn scoped_access_select(viewer: &str, role: &str, vendor: &str, id: &str) -> String {
    format!(
        "{} where e.id = {id} and {viewer} is not null
             and ({role} in ('admin', 'manager') or e.vendor_id = coalesce({vendor}, -1))",
        access_select(viewer)
    )
}

/// The access of a row that joined [`scoped_access_select`] for `user`: `None` when its
/// columns are null, an engagement missing or not theirs to see.
pub fn access_of_row(row: &sqlx::postgres::PgRow, user: &User) -> sqlx::Result<Option<Access>> {
    Ok(crate::db::joined::<AccessRow>(row, "id")?.map(|access| access.into_access(user)))
}

/// The statement of [`Access`]'s columns over the engagement `e` joined to its vendor `v`,
/// `viewer` the SQL expression of the viewer's id; the caller adds which engagement and
/// the vendor scope.
fn access_select(viewer: &str) -> String {
    format!(
        "select e.id, e.name, e.vendor_id, v.name as vendor_name, e.time_zone, e.status, e.scorecard_period,
                e.start_date, (e.owner_id = {viewer} or exists (select 1 from engagement_managers m
                                            where m.engagement_id = e.id and m.user_id = {viewer})) as manages,
                coalesce((select d.version from data_versions d where d.engagement_id = e.id), 0)
                    as engagement_version,
                coalesce((select d.version from data_versions d where d.engagement_id = 0), 0) as names_version
         from engagements e join vendors v on v.id = e.vendor_id"
    )
}

impl AccessRow {
    fn into_access(self, user: &User) -> Access {
        let is_admin = user.role == Role::Admin;
        Access {
            id: self.id,
            name: self.name,
            vendor_id: self.vendor_id,
            vendor_name: self.vendor_name,
            time_zone: self.time_zone,
            status: self.status,
            scorecard_period: self.scorecard_period,
            start_date: self.start_date,
            can_manage: is_admin || (user.role == Role::Manager && self.manages),
            is_admin,
            is_vendor: user.role == Role::Vendor,
            data_version: DataVersion {
                engagement: self.engagement_version,
                names: self.names_version,
            },
        }
    }
}

impl Access {
    /// Changing the engagement's terms needs an admin or one of its managers; to a vendor
    /// user the page does not exist.
    pub fn require_manage(&self) -> Result<()> {
        match (self.can_manage, self.is_vendor) {
            (true, _) => Ok(()),
            (false, true) => Err(AppError::NotFound),
            (false, false) => Err(AppError::Forbidden),
        }
    }

    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone.0
    }

    /// How the viewer stands towards the engagement, for the policy's rules on its records.
    pub fn reader(&self) -> crate::auth::policy::Reader {
        crate::auth::policy::Reader {
            is_vendor: self.is_vendor,
            can_manage: self.can_manage,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.status == Status::Closed
    }

    pub fn period_kind(&self) -> PeriodKind {
        self.scorecard_period
    }

    /// The engagement's twelve latest closed scorecard periods, newest first.
    pub fn closed_periods(&self, clock: &crate::clock::Clock) -> Vec<crate::period::Period> {
        crate::period::Period::latest_closed_n(self.period_kind(), clock.today(self.zone()), 12)
    }
}

/// The sum of the weights of an engagement's active KPIs, under the terms in force on `day`.
pub async fn active_weight_total(
    db: &mut PgConnection,
    engagement_id: i64,
    day: NaiveDate,
) -> Result<rust_decimal::Decimal> {
    Ok(sqlx::query_scalar(
        "select coalesce(sum(t.weight), 0)
         from kpis k
         join lateral (select weight, active from kpi_terms t
                       where t.kpi_id = k.id and t.effective_from <= $2
                       order by t.effective_from desc limit 1) t on true
         where k.engagement_id = $1 and t.active",
    )
    .bind(engagement_id)
    .bind(day)
    .fetch_one(db)
    .await?)
}

/// The routes of engagements.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements", pages::list)
        .get("/engagements/new", pages::new)
        .post("/engagements/new", pages::create)
        .get("/engagements/{id}/agreement", pages::agreement)
        .get("/engagements/{id}/edit", pages::edit)
        .post("/engagements/{id}/edit", pages::update)
        .get("/engagements/{id}/kpis", kpis::list)
        .post("/engagements/{id}/kpis", kpis::save_weights)
        .get("/engagements/{id}/kpis/new", kpis::new)
        .post("/engagements/{id}/kpis/new", kpis::create)
        .get("/engagements/{id}/boundaries", boundaries::show)
        .post("/engagements/{id}/boundaries", boundaries::update)
        .get("/kpis/{id}", kpis::show)
        .get("/kpis/{id}/edit", kpis::edit)
        .post("/kpis/{id}/edit", kpis::update)
}
