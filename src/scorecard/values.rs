//! Recording KPI values for a closed period, verifying or disputing the vendor's, and the
//! scorecard page both sides read.

use std::collections::HashMap;
use std::str::FromStr;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgConnection;

use super::scoring::{
    self, Direction, KpiInput, Period, PeriodKind, Source, Standing, Status, Terms, ValueState,
};
use crate::audit::{self, Outcome};
use crate::auth::{CurrentUser, session};
use crate::engagements::kpis::with_unit;
use crate::engagements::{Access, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs, Query, UploadForm};
use crate::web::layout::{Flash, Layout};

/// How many periods the trend and the period picker reach back.
const TREND: usize = 12;

pub fn period_kind(stored: &str) -> PeriodKind {
    match stored {
        "weekly" => PeriodKind::Weekly,
        "quarterly" => PeriodKind::Quarterly,
        _ => PeriodKind::Monthly,
    }
}

/// A KPI value as the form and the CSV import read it: a plain decimal number (a comma may
/// be the decimal mark) below 10^12 in magnitude, so scores and sums never overflow.
/// The error says what is wrong, to end a sentence that starts with "value".
pub(super) fn parse_value(raw: &str) -> Result<Decimal, &'static str> {
    let value = Decimal::from_str(&raw.trim().replace(',', ".")).map_err(|_| "is not a number")?;
    if value.abs() < Decimal::from(1_000_000_000_000i64) {
        Ok(value)
    } else {
        Err("is not below one trillion")
    }
}

/// A value's note: one line of at most this many characters, in the form and the CSV alike.
pub(super) const NOTE_MAX: usize = 1000;

pub(super) fn check_note(note: &str) -> Result<(), crate::web::validate::TextProblem> {
    crate::web::validate::text(note, NOTE_MAX, false)
}

/// The engagement's first day and, when it has one, its last: values are recorded only for
/// closed periods that overlap this span.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub(super) struct Life {
    pub(super) start_date: NaiveDate,
    pub(super) end_date: Option<NaiveDate>,
}

impl Life {
    pub(super) async fn of(db: &mut PgConnection, engagement_id: i64) -> Result<Life> {
        sqlx::query_as("select start_date, end_date from engagements where id = $1")
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

fn state_of(stored: &str) -> ValueState {
    match stored {
        "verified" => ValueState::Verified,
        "disputed" => ValueState::Disputed,
        _ => ValueState::Unverified,
    }
}

#[derive(sqlx::FromRow, Clone)]
pub(super) struct KpiRow {
    pub(super) id: i64,
    engagement_id: i64,
    pub(super) name: String,
    unit: String,
    direction: String,
    source: String,
}

#[derive(Clone)]
struct ValueRow {
    id: i64,
    value: Decimal,
    note: String,
    state: String,
    dispute_note: String,
    recorded_by: String,
    recorded_at: DateTime<Utc>,
}

/// Everything the scorecard needs for an engagement over a range of periods, in a fixed
/// number of queries.
#[derive(Default)]
pub struct Data {
    kpis: Vec<KpiRow>,
    terms: HashMap<i64, Vec<(NaiveDate, Terms)>>,
    values: HashMap<(i64, NaiveDate), ValueRow>,
}

async fn load(
    db: &mut PgConnection,
    engagement_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Data> {
    Ok(load_many(db, &[engagement_id], from, to)
        .await?
        .remove(&engagement_id)
        .unwrap_or_default())
}

/// A KPI with its terms history and its values in a range, as one row of arrays.
#[derive(sqlx::FromRow)]
struct KpiData {
    #[sqlx(flatten)]
    kpi: KpiRow,
    term_froms: Option<Vec<NaiveDate>>,
    term_targets: Option<Vec<Decimal>>,
    term_thresholds: Option<Vec<Decimal>>,
    term_weights: Option<Vec<Decimal>>,
    term_actives: Option<Vec<bool>>,
    value_ids: Option<Vec<i64>>,
    value_starts: Option<Vec<NaiveDate>>,
    value_values: Option<Vec<Decimal>>,
    value_notes: Option<Vec<String>>,
    value_states: Option<Vec<String>>,
    value_dispute_notes: Option<Vec<String>>,
    value_recorded_by: Option<Vec<String>>,
    value_recorded_at: Option<Vec<DateTime<Utc>>>,
}

/// A KPI row with its terms history and its values between $2 and $3, as arrays.
const KPI_DATA: &str = "select k.id, k.engagement_id, k.name, k.unit, k.direction, k.source,
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
            array_agg(v.note) as notes, array_agg(v.state) as states, array_agg(v.dispute_note) as dispute_notes,
            array_agg(u.name) as recorded_by, array_agg(v.recorded_at) as recorded_at
     from kpi_values v join users u on u.id = v.recorded_by
     where v.kpi_id = k.id and v.period_start between $2 and $3) v";

/// Loads the KPIs, their terms and their values between two period starts for several
/// engagements at once: one query, whatever their number.
pub(super) async fn load_many(
    db: &mut PgConnection,
    ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<HashMap<i64, Data>> {
    // One engagement gets a query of its own: PostgreSQL plans `= any($1)` afresh for
    // every call (its estimate for an array of unknown length favours custom plans), which
    // costs more than running it; `= $1` keeps one generic plan per connection.
    let rows: Vec<KpiData> = match ids {
        [id] => {
            sqlx::query_as(&format!(
                "{KPI_DATA} where k.engagement_id = $1 order by lower(k.name)"
            ))
            .bind(id)
            .bind(from)
            .bind(to)
            .fetch_all(&mut *db)
            .await?
        }
        _ => {
            sqlx::query_as(&format!(
                "{KPI_DATA} where k.engagement_id = any($1) order by lower(k.name)"
            ))
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
        let direction = if kpi.direction == "lower" {
            Direction::Lower
        } else {
            Direction::Higher
        };
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
                ValueRow {
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

impl Data {
    pub(super) fn inputs(&self, period: &Period) -> Vec<(KpiRow, Option<KpiInput>)> {
        self.kpis
            .iter()
            .map(|k| {
                let terms = self
                    .terms
                    .get(&k.id)
                    .and_then(|h| scoring::terms_on(h, period.end()));
                let input = terms.map(|terms| KpiInput {
                    source: if k.source == "vendor" {
                        Source::Vendor
                    } else {
                        Source::Manager
                    },
                    terms,
                    value: self
                        .values
                        .get(&(k.id, period.start))
                        .map(|v| (v.value, state_of(&v.state))),
                });
                (k.clone(), input)
            })
            .collect()
    }

    pub(super) fn score(&self, period: &Period, today: NaiveDate) -> scoring::PeriodScore {
        let inputs: Vec<KpiInput> = self
            .inputs(period)
            .into_iter()
            .filter_map(|(_, i)| i)
            .collect();
        scoring::period_score(&inputs, period, today)
    }
}

/// A period's scorecard as a review keeps it: what was true when it was taken.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ScoreSnapshot {
    pub period: String,
    pub score: Option<Decimal>,
    pub standing: String,
    pub coverage: Decimal,
    pub kpis: Vec<KpiSnapshot>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KpiSnapshot {
    pub name: String,
    pub target: String,
    pub threshold: String,
    pub weight: String,
    pub value: String,
    pub status: String,
}

/// The scorecard of one closed period, in three queries.
pub async fn snapshot(
    db: &mut PgConnection,
    engagement_id: i64,
    period: &Period,
    today: NaiveDate,
) -> Result<ScoreSnapshot> {
    let data = load(db, engagement_id, period.start, period.start).await?;
    let score = data.score(period, today);
    let kpis = data
        .inputs(period)
        .into_iter()
        .filter_map(|(kpi, input)| input.map(|i| (kpi, i)))
        .filter(|(_, input)| input.terms.active)
        .map(|(kpi, input)| {
            let result = scoring::kpi_result(&input, period, today);
            let (_, symbol, status) = status_text(result.status);
            let value = data.values.get(&(kpi.id, period.start));
            KpiSnapshot {
                target: with_unit(input.terms.target, &kpi.unit),
                threshold: with_unit(input.terms.threshold, &kpi.unit),
                weight: input.terms.weight.normalize().to_string(),
                value: value.map_or_else(|| "—".to_string(), |v| with_unit(v.value, &kpi.unit)),
                status: format!("{symbol} {status}"),
                name: kpi.name,
            }
        })
        .collect();
    Ok(ScoreSnapshot {
        period: period.label(),
        score: score.score,
        standing: score.standing.map_or("No data", standing_label).to_string(),
        coverage: score.coverage,
        kpis,
    })
}

/// Each standing's key, as stored, filtered on and used in CSS classes; `None` is no data.
const STANDING_KEYS: [(Option<Standing>, &str); 5] = [
    (Some(Standing::Excellent), "excellent"),
    (Some(Standing::Good), "good"),
    (Some(Standing::NeedsAttention), "attention"),
    (Some(Standing::Critical), "critical"),
    (None, "no_data"),
];

pub fn standing_key(standing: Option<Standing>) -> &'static str {
    STANDING_KEYS
        .iter()
        .find(|(s, _)| *s == standing)
        .map_or("no_data", |(_, key)| key)
}

/// The standing a key names; `None` for "no_data" and for anything unknown.
pub fn standing_of_key(key: &str) -> Option<Standing> {
    STANDING_KEYS
        .iter()
        .find(|(_, k)| *k == key)
        .and_then(|(s, _)| *s)
}

pub fn is_standing_key(key: &str) -> bool {
    STANDING_KEYS.iter().any(|(_, k)| *k == key)
}

pub fn standing_label(standing: Standing) -> &'static str {
    match standing {
        Standing::Excellent => "Excellent",
        Standing::Good => "Good",
        Standing::NeedsAttention => "Needs attention",
        Standing::Critical => "Critical",
    }
}

fn status_text(status: Status) -> (&'static str, &'static str, &'static str) {
    match status {
        Status::Met => ("met", "✓", "Met"),
        Status::AtRisk => ("at_risk", "▲", "At risk"),
        Status::Breached => ("breached", "✕", "Breached"),
        Status::NoData => ("no_data", "–", "No data"),
    }
}

pub struct Line {
    pub name: String,
    pub target: String,
    pub threshold: String,
    pub weight: String,
    pub value: String,
    pub status_key: &'static str,
    pub symbol: &'static str,
    pub status: &'static str,
    pub mark: &'static str,
    pub source: &'static str,
    /// The KPI's score over the 12 periods as SVG polyline points on a 120×30 sparkline.
    pub spark: String,
    /// The same, as text.
    pub spark_text: String,
}

/// Polyline points for scores (0–100) on a 120×30 box; periods without data are skipped.
fn sparkline(scores: &[Option<Decimal>]) -> String {
    let steps = scores.len().max(2) - 1;
    scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.map(|s| {
                let x = 2 + i * 116 / steps;
                let y =
                    (Decimal::from(28) - s * Decimal::from(26) / Decimal::from(100)).round_dp(1);
                format!("{x},{y}")
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct Point {
    pub label: String,
    pub score: Option<Decimal>,
}

#[derive(Template)]
#[template(path = "scorecard/scorecard.html")]
struct ScorecardPage {
    layout: Layout,
    access: Access,
    period: Period,
    score: Option<Decimal>,
    standing: &'static str,
    standing_key: &'static str,
    coverage: Decimal,
    change: Option<Decimal>,
    lines: Vec<Line>,
    trend: Vec<Point>,
    previous: Option<String>,
    next: Option<String>,
    proactivity: crate::proposals::Proactivity,
}

impl ScorecardPage {
    /// The 12-period trend as SVG points (x, y) on a 300×100 chart; periods without data
    /// are gaps.
    fn chart(&self) -> Vec<(usize, String)> {
        let n = self.trend.len().max(2) - 1;
        self.trend
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.score.map(|s| {
                    let x = 20 + i * 280 / n;
                    let y = Decimal::from(95) - s * Decimal::from(90) / Decimal::from(100);
                    (x, y.round_dp(1).to_string())
                })
            })
            .collect()
    }

    fn polyline(&self) -> String {
        self.chart()
            .iter()
            .map(|(x, y)| format!("{x},{y}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn change_text(&self) -> String {
        match self.change {
            Some(c) if c > Decimal::ZERO => format!("+{c} since the previous period"),
            Some(c) => format!("{c} since the previous period"),
            None => "—".into(),
        }
    }

    fn trend_text(&self) -> String {
        self.trend
            .iter()
            .map(|p| match p.score {
                Some(s) => format!("{} {}", p.label, s),
                None => format!("{} no data", p.label),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct PeriodQuery {
    period: Option<String>,
}

/// The scorecard, for the vendor's users and the organisation's people alike.
pub async fn scorecard(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    Query(query): Query<PeriodQuery>,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let access = access(&mut conn, &current.user, id).await?;
    let kind = access.period_kind();
    let today = state.clock.today(access.zone());
    let latest = Period::latest_closed(kind, today);
    let period = query
        .period
        .as_deref()
        .and_then(|label| Period::parse(kind, label))
        .filter(|p| p.is_closed(today))
        .unwrap_or(latest);
    let mut periods = vec![period];
    while periods.len() < TREND {
        let earlier = periods[periods.len() - 1].previous();
        periods.push(earlier);
    }
    periods.reverse();
    let data = load(&mut conn, id, periods[0].start, period.start).await?;
    let scores: Vec<scoring::PeriodScore> = periods.iter().map(|p| data.score(p, today)).collect();
    let current_score = scores[TREND - 1].clone();
    let change = match (current_score.score, scores[TREND - 2].score) {
        (Some(now), Some(before)) => Some(now - before),
        _ => None,
    };
    // Each KPI's score in each of the 12 periods, computed once per period.
    let mut history: HashMap<i64, Vec<Option<Decimal>>> = HashMap::new();
    for p in &periods {
        for (kpi, input) in data.inputs(p) {
            let score = input.and_then(|i| scoring::kpi_result(&i, p, today).score);
            history.entry(kpi.id).or_default().push(score);
        }
    }
    let lines = data
        .inputs(&period)
        .into_iter()
        .filter_map(|(kpi, input)| input.map(|i| (kpi, i)))
        .filter(|(_, input)| input.terms.active)
        .map(|(kpi, input)| {
            let result = scoring::kpi_result(&input, &period, today);
            let (status_key, symbol, status) = status_text(result.status);
            let value = data.values.get(&(kpi.id, period.start));
            let scores = history.remove(&kpi.id).unwrap_or_default();
            let spark = sparkline(&scores);
            let spark_text = scores
                .iter()
                .zip(&periods)
                .map(|(s, p)| match s {
                    Some(s) => format!("{} {}", p.label(), s.round_dp(0)),
                    None => format!("{} no data", p.label()),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mark = match value.map(|v| v.state.as_str()) {
                Some("unverified") => "reported by vendor, unverified",
                Some("disputed") => "disputed",
                _ => "",
            };
            Line {
                target: with_unit(input.terms.target, &kpi.unit),
                threshold: with_unit(input.terms.threshold, &kpi.unit),
                weight: input.terms.weight.normalize().to_string(),
                value: value.map_or_else(|| "—".to_string(), |v| with_unit(v.value, &kpi.unit)),
                name: kpi.name,
                status_key,
                symbol,
                status,
                mark,
                source: if input.source == Source::Vendor {
                    "Vendor"
                } else {
                    "Manager"
                },
                spark,
                spark_text,
            }
        })
        .collect();
    let standing = current_score.standing.map_or("No data", standing_label);
    let standing_key = standing_key(current_score.standing);
    let proactivity = crate::proposals::proactivity(&mut conn, id, state.clock.now()).await?;
    let page = ScorecardPage {
        proactivity,
        layout: Layout::new(
            &current.session,
            format!("Scorecard: {}", access.name),
            "/engagements",
        ),
        previous: Some(period.previous().label()),
        next: Some(period.next())
            .filter(|p| p.is_closed(today))
            .map(|p| p.label()),
        trend: periods
            .iter()
            .zip(&scores)
            .map(|(p, s)| Point {
                label: p.label(),
                score: s.score,
            })
            .collect(),
        access,
        period,
        score: current_score.score,
        standing,
        standing_key,
        coverage: current_score.coverage,
        change,
        lines,
    };
    Ok(Html(page.render()?))
}

pub struct EntryLine {
    pub kpi_id: i64,
    pub name: String,
    pub unit: String,
    pub target: String,
    pub current: Option<(i64, String, String, String, String, String)>,
    pub input: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "scorecard/values.html")]
struct ValuesPage {
    layout: Layout,
    access: Access,
    period: Period,
    periods: Vec<String>,
    lines: Vec<EntryLine>,
    errors: FieldErrors,
    vendor_side: bool,
    /// Whether the period shown is one values may be recorded for.
    recordable: bool,
}

/// Which KPIs this user records: managers of the engagement the manager-sourced ones, the
/// vendor's users the vendor-sourced ones; anyone else none.
fn records(access: &Access) -> Result<&'static str> {
    if access.is_vendor {
        Ok("vendor")
    } else if access.can_manage {
        Ok("manager")
    } else {
        Err(AppError::Forbidden)
    }
}

async fn values_page(
    state: &AppState,
    current: &CurrentUser,
    conn: &mut PgConnection,
    id: i64,
    label: Option<&str>,
    form: Option<&Pairs>,
    errors: FieldErrors,
) -> Result<(ValuesPage, Period)> {
    let access = access(conn, &current.user, id).await?;
    let side = records(&access)?;
    let kind = access.period_kind();
    let today = state.clock.today(access.zone());
    let life = Life::of(conn, id).await?;
    let latest = Period::latest_closed(kind, today);
    let mut choices = vec![latest];
    while choices.len() < TREND {
        let earlier = choices[choices.len() - 1].previous();
        choices.push(earlier);
    }
    choices.retain(|p| life.records(p, today));
    let period = label
        .and_then(|l| Period::parse(kind, l))
        .filter(|p| life.records(p, today))
        .or_else(|| choices.first().copied())
        .unwrap_or(latest);
    let data = load(conn, id, period.start, period.start).await?;
    let zone = access.zone();
    let lines = data
        .inputs(&period)
        .into_iter()
        .filter(|(k, input)| k.source == side && input.as_ref().is_some_and(|i| i.terms.active))
        .map(|(k, input)| {
            let current = data.values.get(&(k.id, period.start)).map(|v| {
                (
                    v.id,
                    with_unit(v.value, &k.unit),
                    v.state.clone(),
                    v.recorded_by.clone(),
                    v.recorded_at
                        .with_timezone(&zone)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                    v.dispute_note.clone(),
                )
            });
            EntryLine {
                kpi_id: k.id,
                target: input
                    .map(|i| with_unit(i.terms.target, &k.unit))
                    .unwrap_or_default(),
                input: form
                    .map(|f| f.get(&format!("value_{}", k.id)).to_string())
                    .unwrap_or_default(),
                note: form
                    .map(|f| f.get(&format!("note_{}", k.id)).to_string())
                    .unwrap_or_default(),
                name: k.name,
                unit: k.unit,
                current,
            }
        })
        .collect();
    Ok((
        ValuesPage {
            layout: Layout::new(
                &current.session,
                format!("Record values: {}", access.name),
                "/engagements",
            ),
            vendor_side: side == "vendor",
            recordable: life.records(&period, today),
            access,
            period,
            periods: choices.iter().map(Period::label).collect(),
            lines,
            errors,
        },
        period,
    ))
}

pub async fn values_form(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    Query(query): Query<PeriodQuery>,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let (page, _) = values_page(
        &state,
        &current,
        &mut conn,
        id,
        query.period.as_deref(),
        None,
        FieldErrors::default(),
    )
    .await?;
    Ok(Html(page.render()?))
}

/// Saves the values typed for one closed period in one transaction: all or nothing.
pub async fn record(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let (page, period) = values_page(
        &state,
        &current,
        &mut tx,
        id,
        Some(form.get("period")),
        Some(&form),
        FieldErrors::default(),
    )
    .await?;
    if page.period.label() != form.get("period") || !page.recordable {
        let mut errors = FieldErrors::default();
        errors.add(
            "period",
            "Choose a closed period: values are recorded only once a period has ended.",
        );
        let (page, _) =
            values_page(&state, &current, &mut tx, id, None, Some(&form), errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    }
    let mut errors = FieldErrors::default();
    let mut entries = Vec::new();
    for line in &page.lines {
        let raw = form.get(&format!("value_{}", line.kpi_id));
        if raw.trim().is_empty() {
            continue;
        }
        match parse_value(raw) {
            Ok(value) => {
                let note = form
                    .get(&format!("note_{}", line.kpi_id))
                    .trim()
                    .to_string();
                if let Err(problem) = check_note(&note) {
                    errors.add(format!("note_{}", line.kpi_id), problem.message());
                }
                entries.push((line.kpi_id, value, note, line.current.as_ref().map(|c| c.0)));
            }
            Err(_) => errors.add(
                format!("value_{}", line.kpi_id),
                "Enter a number, such as 99.5.",
            ),
        }
    }
    if !errors.is_empty() {
        let (page, _) = values_page(
            &state,
            &current,
            &mut tx,
            id,
            Some(&period.label()),
            Some(&form),
            errors,
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    }
    let new_state = if page.vendor_side {
        "unverified"
    } else {
        "verified"
    };
    let mut saved = 0;
    for (kpi_id, value, note, _) in &entries {
        if save_value(
            &mut tx,
            *kpi_id,
            period.start,
            *value,
            note,
            new_state,
            current.user.id,
            now,
        )
        .await?
        {
            saved += 1;
        }
    }
    if saved > 0 {
        audit::Entry::by(&current.user, "kpi_values.record", Outcome::Success)
            .target(format!("engagement:{id}"))
            .client_addr(addr)
            .details(serde_json::json!({ "period": period.label(), "values": saved }))
            .write(&mut *tx, now)
            .await?;
    }
    let message = match saved {
        0 => "Nothing changed.".to_string(),
        1 => format!("1 value saved for {}.", period.label()),
        n => format!("{n} values saved for {}.", period.label()),
    };
    session::set_flash(&mut *tx, &current.session, Flash::success(message)).await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, id).await;
    Ok(Redirect::to(&format!(
        "/engagements/{id}/scorecard?period={}",
        period.label()
    ))
    .into_response())
}

/// Records one value; a correction keeps the earlier value, with who recorded it and when.
/// Returns false when the same value and note were there already.
#[allow(clippy::too_many_arguments)]
pub(super) async fn save_value(
    db: &mut PgConnection,
    kpi_id: i64,
    period_start: NaiveDate,
    value: Decimal,
    note: &str,
    state: &str,
    by: i64,
    now: DateTime<Utc>,
) -> Result<bool> {
    let existing: Option<(i64, Decimal, String)> = sqlx::query_as(
        "select id, value, note from kpi_values where kpi_id = $1 and period_start = $2 for update",
    )
    .bind(kpi_id)
    .bind(period_start)
    .fetch_optional(&mut *db)
    .await?;
    match existing {
        Some((_, old_value, old_note)) if old_value == value && old_note == note => {
            return Ok(false);
        }
        Some((existing_id, _, _)) => {
            sqlx::query(
                "insert into kpi_value_history (kpi_value_id, value, note, state, recorded_by, recorded_at, replaced_by, replaced_at)
                 select id, value, note, state, recorded_by, recorded_at, $2, $3 from kpi_values where id = $1",
            )
            .bind(existing_id)
            .bind(by)
            .bind(now)
            .execute(&mut *db)
            .await?;
        }
        None => {}
    }
    sqlx::query(
        "insert into kpi_values (kpi_id, period_start, value, note, state, recorded_by, recorded_at)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (kpi_id, period_start) do update
         set value = excluded.value, note = excluded.note, state = excluded.state, dispute_note = '',
             recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at, reviewed_by = null, reviewed_at = null",
    )
    .bind(kpi_id)
    .bind(period_start)
    .bind(value)
    .bind(note)
    .bind(state)
    .bind(by)
    .bind(now)
    .execute(&mut *db)
    .await?;
    Ok(true)
}

/// A manager of the engagement verifies a vendor-reported value, or disputes it with a note.
pub async fn review(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(value_id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let row: Option<(i64, NaiveDate)> = sqlx::query_as(
        "select k.engagement_id, v.period_start from kpi_values v join kpis k on k.id = v.kpi_id where v.id = $1 for update of v",
    )
    .bind(value_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (engagement_id, period_start) = row.ok_or(AppError::NotFound)?;
    let access = access(&mut tx, &current.user, engagement_id).await?;
    access.require_manage()?;
    let (new_state, note) = match form.get("decision") {
        "verify" => ("verified", String::new()),
        "dispute" => {
            let note = form.get("dispute_note").trim().to_string();
            if note.is_empty() || note.chars().count() > 1000 {
                return Err(AppError::BadRequest(
                    "Say why the value is disputed (up to 1000 characters).".into(),
                ));
            }
            ("disputed", note)
        }
        _ => return Err(AppError::BadRequest("Choose verify or dispute.".into())),
    };
    sqlx::query("update kpi_values set state = $2, dispute_note = $3, reviewed_by = $4, reviewed_at = $5 where id = $1")
        .bind(value_id)
        .bind(new_state)
        .bind(&note)
        .bind(current.user.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    audit::Entry::by(&current.user, "kpi_value.review", Outcome::Success)
        .target(format!("engagement:{engagement_id}"))
        .client_addr(addr)
        .details(serde_json::json!({ "kpi_value_id": value_id, "state": new_state }))
        .write(&mut *tx, now)
        .await?;
    let kind = access.period_kind();
    let label = Period::containing(kind, period_start).label();
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success(format!("The value is {new_state}.")),
    )
    .await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, engagement_id).await;
    // An SLA verification audit reviews values from its own page and goes back there.
    let back = match form.get("back") {
        back if back.starts_with("/audits/")
            && crate::auth::login::safe_next(Some(back)) == back =>
        {
            back.to_string()
        }
        _ => format!("/engagements/{engagement_id}/values?period={label}"),
    };
    Ok(Redirect::to(&back).into_response())
}

/// The scorecard's last 12 periods as CSV, in the columns the import reads back.
pub async fn scorecard_csv(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let access = access(&mut conn, &current.user, id).await?;
    let kind = access.period_kind();
    let today = state.clock.today(access.zone());
    let latest = Period::latest_closed(kind, today);
    let mut periods = vec![latest];
    while periods.len() < TREND {
        let earlier = periods[periods.len() - 1].previous();
        periods.push(earlier);
    }
    periods.reverse();
    let data = load(&mut conn, id, periods[0].start, latest.start).await?;
    let mut out = super::csv::line(
        &super::csv::VALUE_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
    );
    for period in &periods {
        for (kpi, input) in data.inputs(period) {
            let Some(input) = input.filter(|i| i.terms.active) else {
                continue;
            };
            let result = scoring::kpi_result(&input, period, today);
            let value = data.values.get(&(kpi.id, period.start));
            out.push_str(&super::csv::line(&[
                id.to_string(),
                access.name.clone(),
                kpi.id.to_string(),
                kpi.name.clone(),
                period.label(),
                period.start.to_string(),
                value
                    .map(|v| v.value.normalize().to_string())
                    .unwrap_or_default(),
                value.map(|v| v.note.clone()).unwrap_or_default(),
                value.map(|v| v.state.clone()).unwrap_or_default(),
                status_text(result.status).2.to_string(),
                result
                    .score
                    .map(|s| format!("{:.1}", s.round_dp(1)))
                    .unwrap_or_default(),
            ]));
        }
    }
    Ok(csv_response(&format!("scorecard-{id}.csv"), out))
}

pub fn csv_response(filename: &str, body: String) -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "scorecard/import.html")]
struct ImportPage {
    layout: Layout,
    csv: String,
    errors: Vec<super::csv::BadLine>,
}

pub async fn import_form(current: CurrentUser) -> Result<Html<String>> {
    let page = ImportPage {
        layout: Layout::new(&current.session, "Import KPI values", "/engagements"),
        csv: String::new(),
        errors: Vec::new(),
    };
    Ok(Html(page.render()?))
}

pub async fn import(
    State(state): State<AppState>,
    current: CurrentUser,
    UploadForm(form): UploadForm,
) -> Result<Response> {
    // A chosen file wins over the paste area; on errors its text lands there to be fixed.
    let text = match form.get("file") {
        "" => form.get("csv"),
        file => file,
    }
    .to_string();
    let outcome = super::csv::import(
        &state.pool,
        &current.user,
        &text,
        state.clock.now(),
        |_, _| {},
    )
    .await?;
    match outcome {
        Ok(saved) => {
            let message = format!(
                "Imported: {saved} {} saved.",
                if saved == 1 { "value" } else { "values" }
            );
            session::set_flash(&state.pool, &current.session, Flash::success(message)).await?;
            Ok(Redirect::to("/values/import").into_response())
        }
        Err(errors) => {
            let page = ImportPage {
                layout: Layout::new(&current.session, "Import KPI values", "/engagements"),
                csv: text,
                errors,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response())
        }
    }
}
