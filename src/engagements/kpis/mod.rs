//! An engagement's KPIs and the history of their terms. Target, threshold, weight and
//! active take effect on the day they are saved (in the engagement's time zone) and are
//! kept with that date, so each period is scored with the terms in force on its last day.
//!
//! This file holds the KPI with its terms in force and the rules on terms; `pages` the KPI
//! pages and their forms.

mod pages;

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;

use crate::web::error::Result;
use crate::web::form::FieldErrors;

pub use crate::vocab::{Direction, Source};
pub use pages::{create, edit, list, new, save_weights, show, update};

/// Target and threshold must sit the right way round: the threshold is the worst acceptable
/// value, strictly on the bad side of the target.
pub fn check_terms(
    direction: Direction,
    target: Decimal,
    threshold: Decimal,
) -> std::result::Result<(), &'static str> {
    match direction {
        Direction::Higher if threshold >= target => Err(
            "Where higher is better, the threshold (the worst acceptable value) must be below the target.",
        ),
        Direction::Lower if threshold <= target => Err(
            "Where lower is better, the threshold (the worst acceptable value) must be above the target.",
        ),
        _ => Ok(()),
    }
}

/// A KPI with the terms in force on a day.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct KpiLine {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub unit: String,
    pub direction: Direction,
    pub source: Source,
    pub target: Decimal,
    pub threshold: Decimal,
    pub weight: Decimal,
    pub active: bool,
}

impl KpiLine {
    pub fn direction_label(&self) -> &'static str {
        self.direction.label()
    }

    pub fn source_label(&self) -> &'static str {
        self.source.label()
    }

    pub fn target_text(&self) -> String {
        with_unit(self.target, &self.unit)
    }

    pub fn threshold_text(&self) -> String {
        with_unit(self.threshold, &self.unit)
    }
}

pub fn with_unit(value: Decimal, unit: &str) -> String {
    let value = value.normalize();
    match unit {
        "" => value.to_string(),
        "%" => format!("{value}%"),
        unit => format!("{value} {unit}"),
    }
}

const LINE_COLUMNS: &str = "k.id, k.name, k.description, k.unit, k.direction, k.source, t.target, t.threshold, t.weight, t.active";
/// The terms in force on $2; a KPI whose first terms start later shows those.
const TERMS_JOIN: &str = "join lateral (select target, threshold, weight, active from kpi_terms t
                                        where t.kpi_id = k.id
                                        order by t.effective_from <= $2 desc,
                                                 case when t.effective_from <= $2 then t.effective_from end desc,
                                                 t.effective_from
                                        limit 1) t on true";

pub async fn lines(
    db: &mut PgConnection,
    engagement_id: i64,
    day: NaiveDate,
) -> Result<Vec<KpiLine>> {
    let sql = format!(
        "select {LINE_COLUMNS} from kpis k {TERMS_JOIN} where k.engagement_id = $1 order by t.active desc, lower(k.name)"
    );
    Ok(sqlx::query_as(&sql)
        .bind(engagement_id)
        .bind(day)
        .fetch_all(db)
        .await?)
}

async fn line(
    db: &mut PgConnection,
    kpi_id: i64,
    day: NaiveDate,
) -> Result<Option<(i64, KpiLine)>> {
    let sql =
        format!("select k.engagement_id, {LINE_COLUMNS} from kpis k {TERMS_JOIN} where k.id = $1");
    #[derive(sqlx::FromRow)]
    struct Row {
        engagement_id: i64,
        #[sqlx(flatten)]
        line: KpiLine,
    }
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(kpi_id)
        .bind(day)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.engagement_id, r.line)))
}

/// Records the terms of a KPI from `day` on; a second change on the same day replaces the first.
#[allow(clippy::too_many_arguments)]
async fn save_terms(
    db: &mut PgConnection,
    kpi_id: i64,
    day: NaiveDate,
    target: Decimal,
    threshold: Decimal,
    weight: Decimal,
    active: bool,
    by: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "insert into kpi_terms (kpi_id, effective_from, target, threshold, weight, active, changed_by, changed_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (kpi_id, effective_from) do update
         set target = excluded.target, threshold = excluded.threshold, weight = excluded.weight,
             active = excluded.active, changed_by = excluded.changed_by, changed_at = excluded.changed_at",
    )
    .bind(kpi_id)
    .bind(day)
    .bind(target)
    .bind(threshold)
    .bind(weight)
    .bind(active)
    .bind(by)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

pub fn decimal(
    errors: &mut FieldErrors,
    field: &'static str,
    value: &str,
    missing: &str,
) -> Option<Decimal> {
    let value = value.trim().replace(',', ".");
    if value.is_empty() {
        errors.add(field, missing);
        return None;
    }
    match Decimal::from_str(&value) {
        Ok(d) if d.abs() < Decimal::from(1_000_000_000_000i64) => Some(d),
        _ => {
            errors.add(field, "Enter a number, such as 99.5.");
            None
        }
    }
}

fn weight(
    errors: &mut FieldErrors,
    field: impl Into<std::borrow::Cow<'static, str>>,
    value: &str,
) -> Option<Decimal> {
    let field = field.into();
    match Decimal::from_str(value.trim()) {
        Ok(w) if w >= Decimal::ZERO && w <= Decimal::from(100) && w.scale() <= 2 => Some(w),
        _ => {
            errors.add(
                field,
                "Enter a weight from 0 to 100 (at most two decimals).",
            );
            None
        }
    }
}

/// New target and threshold for a KPI from `from` on, keeping its weight and active flag
/// (a review's adaptation).
pub async fn change_terms(
    db: &mut PgConnection,
    kpi: &KpiLine,
    target: Decimal,
    threshold: Decimal,
    from: NaiveDate,
    by: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "insert into kpi_terms (kpi_id, effective_from, target, threshold, weight, active, changed_by, changed_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (kpi_id, effective_from) do update
         set target = excluded.target, threshold = excluded.threshold, changed_by = excluded.changed_by,
             changed_at = excluded.changed_at",
    )
    .bind(kpi.id)
    .bind(from)
    .bind(target)
    .bind(threshold)
    .bind(kpi.weight)
    .bind(kpi.active)
    .bind(by)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn the_threshold_must_be_strictly_on_the_bad_side_of_the_target() {
        assert!(check_terms(Direction::Higher, d("99.9"), d("99.5")).is_ok());
        assert!(check_terms(Direction::Higher, d("99.9"), d("99.9")).is_err());
        assert!(check_terms(Direction::Higher, d("99.9"), d("100")).is_err());
        assert!(check_terms(Direction::Lower, d("4"), d("8")).is_ok());
        assert!(check_terms(Direction::Lower, d("4"), d("4")).is_err());
        assert!(check_terms(Direction::Lower, d("4"), d("2")).is_err());
    }

    #[test]
    fn values_read_with_their_unit() {
        assert_eq!(with_unit(d("99.90"), "%"), "99.9%");
        assert_eq!(with_unit(d("4"), "hours"), "4 hours");
        assert_eq!(with_unit(d("12.5"), ""), "12.5");
    }
}
