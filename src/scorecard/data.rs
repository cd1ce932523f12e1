//! What a scorecard is computed from: an engagement's KPIs, the history of their terms and
//! their values over a range of periods, loaded in a fixed number of queries and decoded
//! into their types once.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;

use super::scoring::{self, Direction, KpiInput, Period, Source, Terms, ValueState};
use crate::web::error::{AppError, Result};

/// The engagement's first day and, when it has one, its last: values are recorded only for
/// closed periods that overlap this span.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub(super) struct Life {
    pub(super) start_date: NaiveDate,
    pub(super) end_date: Option<NaiveDate>,
}

impl Life {
    pub(super) async fn of(db: &mut PgConnection, engagement_id: i64) -> Result<Life> {
        sqlx::query_as("select start_date, runs_until as end_date from engagements where id = $1")
            .bind(engagement_id)
            .fetch_optional(db)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Whether values may be recorded for `period` on `today`: the one rule the form and the
    /// import share.
    pub(super) fn records(&self, period: &Period, today: NaiveDate) -> bool {
        period.is_closed(today)
            && period.end() >= self.start_date
            && self.end_date.is_none_or(|end| period.start <= end)
    }
}

/// A KPI as the scorecard reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Kpi {
    pub(super) id: i64,
    engagement_id: i64,
    pub(super) name: String,
    pub(super) unit: String,
    direction: Direction,
    pub(super) source: Source,
}

/// A value recorded for a KPI in a period, with who recorded it and where its review stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredValue {
    pub id: i64,
    pub value: Decimal,
    pub note: String,
    pub state: ValueState,
    pub dispute_note: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

/// Everything the scorecard needs for an engagement over a range of periods.
#[derive(Default)]
pub struct Data {
    kpis: Vec<Kpi>,
    terms: HashMap<i64, Vec<(NaiveDate, Terms)>>,
    values: HashMap<(i64, NaiveDate), StoredValue>,
}

pub(super) async fn load(
    db: &mut PgConnection,
    engagement_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Data> {
    Ok(load_many(db, &[engagement_id], from, to, Detail::Full)
        .await?
        .remove(&engagement_id)
        .unwrap_or_default())
}

/// A KPI with its terms history and its values in a range, as one row of arrays.
#[derive(sqlx::FromRow)]
struct KpiData {
    #[sqlx(flatten)]
    kpi: Kpi,
    term_froms: Option<Vec<NaiveDate>>,
    term_targets: Option<Vec<Decimal>>,
    term_thresholds: Option<Vec<Decimal>>,
    term_weights: Option<Vec<Decimal>>,
    term_actives: Option<Vec<bool>>,
    value_ids: Option<Vec<i64>>,
    value_starts: Option<Vec<NaiveDate>>,
    value_values: Option<Vec<Decimal>>,
    value_notes: Option<Vec<String>>,
    value_states: Option<Vec<ValueState>>,
    value_dispute_notes: Option<Vec<String>>,
    value_recorded_by: Option<Vec<String>>,
    value_recorded_at: Option<Vec<DateTime<Utc>>>,
}

/// How much of each value a load reads: all the scorecard shows, or only what scores it (the
/// portfolio's: no notes, no names and so no join with the people who recorded them, which
/// halves the time of a load over thousands of engagements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Detail {
    Full,
    Scores,
}

/// A KPI row with its terms history and its values between $2 and $3, as arrays; the
/// caller adds which KPIs.
fn kpi_data(detail: Detail) -> String {
    let (notes, dispute_notes, recorded_by, people) = match detail {
        Detail::Full => (
            "v.note",
            "v.dispute_note",
            "u.name",
            "join users u on u.id = v.recorded_by",
        ),
        Detail::Scores => ("''::text", "''::text", "''::text", ""),
    };
    format!(
        "select k.id, k.engagement_id, k.name, k.unit, k.direction, k.source,
        t.froms as term_froms, t.targets as term_targets, t.thresholds as term_thresholds,
        t.weights as term_weights, t.actives as term_actives,
        v.ids as value_ids, v.starts as value_starts, v.vals as value_values, v.notes as value_notes,
        v.states as value_states, v.dispute_notes as value_dispute_notes, v.recorded_by as value_recorded_by,
        v.recorded_at as value_recorded_at
 from kpis k
 cross join lateral (
     select array_agg(effective_from order by effective_from) as froms,
            array_agg(target order by effective_from) as targets,
            array_agg(threshold order by effective_from) as thresholds,
            array_agg(weight order by effective_from) as weights,
            array_agg(active order by effective_from) as actives
     from kpi_terms where kpi_id = k.id) t
 cross join lateral (
     select array_agg(v.id) as ids, array_agg(v.period_start) as starts, array_agg(v.value) as vals,
            array_agg({notes}) as notes, array_agg(v.state) as states,
            array_agg({dispute_notes}) as dispute_notes, array_agg({recorded_by}) as recorded_by,
            array_agg(v.recorded_at) as recorded_at
     from kpi_values v {people}
     where v.kpi_id = k.id and v.period_start between $2 and $3) v"
    )
}

/// Loads the KPIs, their terms and their values between two period starts for several
/// engagements at once: one query, whatever their number.
pub(super) async fn load_many(
    db: &mut PgConnection,
    ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
    detail: Detail,
) -> Result<HashMap<i64, Data>> {
    static FULL: LazyLock<[String; 2]> = LazyLock::new(|| statements(Detail::Full));
    static SCORES: LazyLock<[String; 2]> = LazyLock::new(|| statements(Detail::Scores));
    let [one, many] = match detail {
        Detail::Full => &*FULL,
        Detail::Scores => &*SCORES,
    };
    // One engagement gets a query of its own: PostgreSQL plans `= any($1)` afresh for
    // every call (its estimate for an array of unknown length favours custom plans), which
    // costs more than running it; `= $1` keeps one generic plan per connection.
    let rows: Vec<KpiData> = match ids {
        [id] => {
            sqlx::query_as(one)
                .bind(id)
                .bind(from)
                .bind(to)
                .fetch_all(&mut *db)
                .await?
        }
        _ => {
            sqlx::query_as(many)
                .bind(ids)
                .bind(from)
                .bind(to)
                .fetch_all(&mut *db)
                .await?
        }
    };
    let mut all: HashMap<i64, Data> = HashMap::new();
    for row in rows {
        let kpi = row.kpi;
        let direction = kpi.direction;
        let data = all.entry(kpi.engagement_id).or_default();
        let froms = row.term_froms.unwrap_or_default();
        let terms = froms
            .into_iter()
            .zip(row.term_targets.unwrap_or_default())
            .zip(row.term_thresholds.unwrap_or_default())
            .zip(row.term_weights.unwrap_or_default())
            .zip(row.term_actives.unwrap_or_default())
            .map(|((((from, target), threshold), weight), active)| {
                (
                    from,
                    Terms {
                        direction,
                        target,
                        threshold,
                        weight,
                        active,
                    },
                )
            })
            .collect();
        data.terms.insert(kpi.id, terms);
        let ids = row.value_ids.unwrap_or_default();
        let mut starts = row.value_starts.unwrap_or_default().into_iter();
        let mut values = row.value_values.unwrap_or_default().into_iter();
        let mut notes = row.value_notes.unwrap_or_default().into_iter();
        let mut states = row.value_states.unwrap_or_default().into_iter();
        let mut disputes = row.value_dispute_notes.unwrap_or_default().into_iter();
        let mut by = row.value_recorded_by.unwrap_or_default().into_iter();
        let mut at = row.value_recorded_at.unwrap_or_default().into_iter();
        for id in ids {
            let (
                Some(period_start),
                Some(value),
                Some(note),
                Some(state),
                Some(dispute_note),
                Some(recorded_by),
                Some(recorded_at),
            ) = (
                starts.next(),
                values.next(),
                notes.next(),
                states.next(),
                disputes.next(),
                by.next(),
                at.next(),
            )
            else {
                break;
            };
            data.values.insert(
                (kpi.id, period_start),
                StoredValue {
                    id,
                    value,
                    note,
                    state,
                    dispute_note,
                    recorded_by,
                    recorded_at,
                },
            );
        }
        data.kpis.push(kpi);
    }
    Ok(all)
}

/// The load of one engagement and of several.
fn statements(detail: Detail) -> [String; 2] {
    let select = kpi_data(detail);
    [
        format!("{select} where k.engagement_id = $1 order by lower(k.name)"),
        format!("{select} where k.engagement_id = any($1) order by lower(k.name)"),
    ]
}

impl Data {
    /// Every KPI (by name) with the scoring input for `period`: none when no terms were in
    /// force by its last day.
    pub(super) fn inputs(&self, period: &Period) -> Vec<(&Kpi, Option<KpiInput>)> {
        self.kpis
            .iter()
            .map(|k| {
                let terms = self
                    .terms
                    .get(&k.id)
                    .and_then(|h| scoring::terms_on(h, period.end()));
                let input = terms.map(|terms| KpiInput {
                    source: k.source,
                    terms,
                    value: self.value(k.id, period).map(|v| (v.value, v.state)),
                });
                (k, input)
            })
            .collect()
    }

    /// The value recorded for a KPI in `period`, if any.
    pub(super) fn value(&self, kpi_id: i64, period: &Period) -> Option<&StoredValue> {
        self.values.get(&(kpi_id, period.start))
    }
}

#[cfg(test)]
impl Data {
    /// Adds a KPI with its terms history and its values (by period start), as if loaded.
    pub(super) fn with_kpi(
        mut self,
        id: i64,
        name: &str,
        source: Source,
        terms: Vec<(NaiveDate, Terms)>,
        values: &[(NaiveDate, Decimal, ValueState)],
    ) -> Data {
        let direction = terms
            .first()
            .map_or(Direction::Higher, |(_, t)| t.direction);
        for (start, value, state) in values {
            self.values.insert(
                (id, *start),
                StoredValue {
                    id: id * 1000 + self.values.len() as i64,
                    value: *value,
                    note: String::new(),
                    state: *state,
                    dispute_note: String::new(),
                    recorded_by: "Test".into(),
                    recorded_at: DateTime::<Utc>::UNIX_EPOCH,
                },
            );
        }
        self.terms.insert(id, terms);
        self.kpis.push(Kpi {
            id,
            engagement_id: 1,
            name: name.into(),
            unit: "%".into(),
            direction,
            source,
        });
        self
    }
}
