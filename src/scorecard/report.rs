//! An engagement's scorecard over a chosen run of closed periods as a printable report
//! (`/engagements/{id}/report?from=2026-01&to=2026-12`) and its PDF: the trend, each period's
//! score and standing, and the KPIs of the last period. Whoever may see the scorecard may
//! print it: it shows what the scorecard page does, to the vendor's users too.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, Response};
use serde::Deserialize;

use super::model::{self, standing_label};
use super::page::{Line, Trend, line};
use super::scoring::Period;
use crate::engagements::{Access, Viewing};
use crate::state::AppState;
use crate::web::error::Result;
use crate::web::form::Query;
use crate::web::report::{ReportFrame, pdf_answer};

/// The longest run of periods a report covers.
pub const MAX_PERIODS: usize = 36;

#[derive(Debug, Default, Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// One period's line of the report.
struct PeriodLine {
    label: String,
    score: String,
    standing: &'static str,
    coverage: String,
}

#[derive(Template)]
#[template(path = "reports/scorecard.html")]
struct ScorecardReport {
    frame: ReportFrame,
    access: Access,
    first: Period,
    last: Period,
    trend: Trend,
    periods: Vec<PeriodLine>,
    lines: Vec<Line>,
    /// What was wrong with the range asked for, and what the report shows instead.
    note: Option<String>,
    choices: Vec<String>,
}

/// The run of periods asked for, or the twelve to the latest closed one with a note saying
/// why: labels that do not read, a period not closed yet or before the engagement began, the
/// wrong order, more than [`MAX_PERIODS`].
fn range(access: &Access, query: &RangeQuery, latest: Period) -> (Period, Period, Option<String>) {
    let kind = access.period_kind();
    let began = |p: &Period| p.end() >= access.start_date;
    // Periods before the engagement began hold nothing: a report starts with its first.
    let first_of = |last: Period, n: usize| {
        model::ending_with(last, n)
            .into_iter()
            .find(began)
            .unwrap_or(last)
    };
    let default_first = first_of(latest, model::TREND);
    let (from, to) = (asked(&query.from), asked(&query.to));
    if from.is_none() && to.is_none() {
        return (default_first, latest, None);
    }
    let last = match to {
        None => Some(latest),
        Some(label) => Period::parse(kind, label).filter(|p| p.start <= latest.start),
    };
    let first = match from {
        None => last.map(|l| first_of(l, model::TREND)),
        Some(label) => Period::parse(kind, label),
    };
    let problem = match (first, last) {
        (_, None) => Some("The last period is not one that has closed".to_string()),
        (None, _) => Some("The first period is not one of this scorecard's".to_string()),
        (Some(f), Some(l)) if f.start > l.start => {
            Some("The first period comes after the last".to_string())
        }
        (Some(f), Some(l)) if model::ending_with(l, MAX_PERIODS)[0].start <= f.start => None,
        (Some(_), Some(_)) => Some(format!("A report covers at most {MAX_PERIODS} periods")),
    };
    match (problem, first, last) {
        (None, Some(f), Some(l)) => {
            // Periods before the engagement began hold nothing: the report starts with it.
            let f = if began(&f) {
                f
            } else {
                model::ending_with(l, MAX_PERIODS)
                    .into_iter()
                    .find(began)
                    .unwrap_or(l)
            };
            (f, l, None)
        }
        (problem, _, _) => (
            default_first,
            latest,
            Some(format!(
                "{}: this report shows the 12 periods to {} instead.",
                problem.unwrap_or_default(),
                latest.label()
            )),
        ),
    }
}

/// A period label asked for, unless left empty.
fn asked(label: &Option<String>) -> Option<&str> {
    label.as_deref().map(str::trim).filter(|l| !l.is_empty())
}

async fn report(state: &AppState, viewing: Viewing, query: &RangeQuery) -> Result<ScorecardReport> {
    let Viewing { current, access } = viewing;
    let today = state.clock.today(access.zone());
    let latest = Period::latest_closed(access.period_kind(), today);
    let (first, last, note) = range(&access, query, latest);
    let mut periods = model::ending_with(last, MAX_PERIODS);
    periods.retain(|p| p.start >= first.start);
    let mut conn = state.pool.acquire().await?;
    let data = super::data::load(&mut conn, access.id, first.start, last.start).await?;
    drop(conn);
    let card = model::scorecard(&data, &periods, today);
    let lines = card
        .current()
        .map(|c| c.kpis.iter())
        .into_iter()
        .flatten()
        .map(|kpi| line(kpi, card.history_of(kpi.id), &periods))
        .collect();
    let period_lines = card
        .periods
        .iter()
        .map(|c| PeriodLine {
            label: c.period.label(),
            score: c
                .score
                .score
                .map_or_else(|| "No data".into(), |s| s.to_string()),
            standing: standing_label(c.score.standing),
            coverage: format!("{}%", c.score.coverage),
        })
        .collect();
    let choices = model::ending_with(latest, MAX_PERIODS)
        .into_iter()
        .filter(|p| p.end() >= access.start_date)
        .map(|p| p.label())
        .collect();
    let range_query = format!("?from={}&to={}", first.label(), last.label());
    let frame = ReportFrame::new(
        state,
        &current,
        format!(
            "Scorecard {} to {}: {}",
            first.label(),
            last.label(),
            access.name
        ),
        format!("/engagements/{}/scorecard", access.id),
        format!("/engagements/{}/report.pdf{range_query}", access.id),
        state.clock.now(),
    );
    Ok(ScorecardReport {
        frame,
        trend: Trend::of(&card),
        access,
        first,
        last,
        periods: period_lines,
        lines,
        note,
        choices,
    })
}

pub async fn show(
    State(state): State<AppState>,
    viewing: Viewing,
    Query(query): Query<RangeQuery>,
) -> Result<Html<String>> {
    Ok(Html(report(&state, viewing, &query).await?.render()?))
}

pub async fn pdf(
    State(state): State<AppState>,
    viewing: Viewing,
    Query(query): Query<RangeQuery>,
) -> Result<Response> {
    let mut page = report(&state, viewing, &query).await?;
    let file = format!(
        "scorecard-{}-{}-{}.pdf",
        page.access.id,
        page.first.label(),
        page.last.label()
    );
    let report = format!(
        "/engagements/{}/report?from={}&to={}",
        page.access.id,
        page.first.label(),
        page.last.label()
    );
    page.frame = page.frame.for_print();
    pdf_answer(&state, page.render()?, &file, &report).await
}
