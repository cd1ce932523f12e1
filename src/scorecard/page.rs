//! The scorecard page and its CSV, for the vendor's users and the organisation's people
//! alike: load the data, compute the scorecard value, write it out.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::{Html, Response};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::csv;
use super::model::{KpiCard, Scorecard, standing_key, standing_label};
use super::scoring::{Period, Source, ValueState};
use crate::cache::{Cache, Key};
use crate::engagements::{Access, Viewing, with_unit};
use crate::state::AppState;
use crate::web::error::Result;
use crate::web::form::Query;
use crate::web::layout::Layout;

/// A KPI's row as the page writes it.
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

/// The text the page writes of one scorecard, whoever reads it: computed once per cached
/// scorecard and kept beside it (kind "scorecard text", the same key otherwise).
struct Written {
    lines: Vec<Line>,
    trend: Trend,
}

impl Written {
    fn of(card: &Scorecard) -> Written {
        let periods: Vec<Period> = card.periods.iter().map(|c| c.period).collect();
        let lines = card
            .current()
            .map(|c| c.kpis.iter())
            .into_iter()
            .flatten()
            .map(|kpi| line(kpi, card.history_of(kpi.id), &periods))
            .collect();
        Written {
            lines,
            trend: Trend::of(card),
        }
    }

    /// About the memory it holds, for the cache's bound.
    fn bytes(&self) -> usize {
        let line = |l: &Line| {
            std::mem::size_of::<Line>()
                + l.name.len()
                + l.target.len()
                + l.threshold.len()
                + l.weight.len()
                + l.value.len()
                + l.spark.len()
                + l.spark_text.len()
        };
        std::mem::size_of::<Written>()
            + self.lines.iter().map(line).sum::<usize>()
            + self.trend.bytes()
    }
}

/// A scorecard's score over its periods as the trend chart draws it, and as text.
pub struct Trend {
    /// The points (x, y) on a 320×110 chart; periods without data are gaps.
    pub chart: Vec<(usize, String)>,
    pub polyline: String,
    /// "2026-01 82.5, 2026-02 no data, …", the chart's description.
    pub text: String,
}

impl Trend {
    pub fn of(card: &Scorecard) -> Trend {
        let n = card.periods.len().max(2) - 1;
        let chart: Vec<(usize, String)> = card
            .periods
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.score.score.map(|s| {
                    let x = 20 + i * 280 / n;
                    let y = Decimal::from(95) - s * Decimal::from(90) / Decimal::from(100);
                    (x, y.round_dp(1).to_string())
                })
            })
            .collect();
        let polyline = chart
            .iter()
            .map(|(x, y)| format!("{x},{y}"))
            .collect::<Vec<_>>()
            .join(" ");
        let text = card
            .periods
            .iter()
            .map(|c| match c.score.score {
                Some(s) => format!("{} {}", c.period.label(), s),
                None => format!("{} no data", c.period.label()),
            })
            .collect::<Vec<_>>()
            .join(", ");
        Trend {
            chart,
            polyline,
            text,
        }
    }

    fn bytes(&self) -> usize {
        self.chart.iter().map(|(_, y)| 16 + y.len()).sum::<usize>()
            + self.polyline.len()
            + self.text.len()
    }
}

/// The page's text of `card`, from the cache when the same scorecard was written before.
fn written_of(
    cache: &Cache,
    access: &Access,
    card: &Scorecard,
    period: Period,
    today: NaiveDate,
) -> Arc<Written> {
    let key = Key {
        kind: "scorecard text",
        engagement_id: access.id,
        version: access.data_version,
        period: Some(period),
        today,
        detail: String::new(),
    };
    if let Some(written) = cache.get::<Written>(&key) {
        return written;
    }
    let written = Arc::new(Written::of(card));
    cache.insert(key, written.clone(), written.bytes());
    written
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
    written: Arc<Written>,
    previous: Option<String>,
    next: Option<String>,
    proactivity: crate::proposals::Proactivity,
}

impl ScorecardPage {
    /// The page for the scorecard of the periods ending with `period`.
    fn of(
        layout: Layout,
        access: Access,
        card: &Scorecard,
        written: Arc<Written>,
        period: Period,
        next: Option<Period>,
        proactivity: crate::proposals::Proactivity,
    ) -> ScorecardPage {
        let score = card.current().map(|c| c.score.clone()).unwrap_or_default();
        // Nothing before the engagement began: no link to a period it never lived in.
        let previous = Some(period.previous())
            .filter(|p| p.end() >= access.start_date)
            .map(|p| p.label());
        ScorecardPage {
            layout,
            access,
            period,
            score: score.score,
            standing: standing_label(score.standing),
            standing_key: standing_key(score.standing),
            coverage: score.coverage,
            change: card.change(),
            written,
            previous,
            next: next.map(|p| p.label()),
            proactivity,
        }
    }

    fn change_text(&self) -> String {
        match self.change {
            Some(c) if c > Decimal::ZERO => format!("+{c} since the previous period"),
            Some(c) => format!("{c} since the previous period"),
            None => "—".into(),
        }
    }
}

/// A KPI's row, with its scores over `periods` for the sparkline.
pub(super) fn line(kpi: &KpiCard, scores: &[Option<Decimal>], periods: &[Period]) -> Line {
    let spark_text = scores
        .iter()
        .zip(periods)
        .map(|(s, p)| match s {
            Some(s) => format!("{} {}", p.label(), s.round_dp(0)),
            None => format!("{} no data", p.label()),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mark = match kpi.value.as_ref().map(|v| v.state) {
        Some(ValueState::Unverified) => "reported by vendor, unverified",
        Some(ValueState::Disputed) => "disputed",
        _ => "",
    };
    Line {
        name: kpi.name.clone(),
        target: with_unit(kpi.terms.target, &kpi.unit),
        threshold: with_unit(kpi.terms.threshold, &kpi.unit),
        weight: kpi.terms.weight.normalize().to_string(),
        value: kpi
            .value
            .as_ref()
            .map_or_else(|| "—".to_string(), |v| with_unit(v.value, &kpi.unit)),
        status_key: kpi.status.as_str(),
        symbol: kpi.status.symbol(),
        status: kpi.status.label(),
        mark,
        source: match kpi.source {
            Source::Vendor => "Vendor",
            Source::Manager => "Manager",
        },
        spark: sparkline(scores),
        spark_text,
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct PeriodQuery {
    pub(super) period: Option<String>,
}

/// The scorecard, for the vendor's users and the organisation's people alike.
pub async fn scorecard_page(
    State(state): State<AppState>,
    Viewing { current, access }: Viewing,
    Query(query): Query<PeriodQuery>,
) -> Result<Html<String>> {
    let kind = access.period_kind();
    let today = state.clock.today(access.zone());
    let period = query
        .period
        .as_deref()
        .and_then(|label| Period::parse(kind, label))
        .filter(|p| p.is_closed(today))
        .unwrap_or_else(|| Period::latest_closed(kind, today));
    let card = super::scorecard_of(&state.cache, &state.pool, &access, period, today).await?;
    let proactivity =
        crate::proposals::proactivity(&state.cache, &state.pool, &access, state.clock.now())
            .await?;
    let layout = Layout::new(
        &current.session,
        format!("Scorecard: {}", access.name),
        "/engagements",
    );
    let next = Some(period.next()).filter(|p| p.is_closed(today));
    let written = written_of(&state.cache, &access, &card, period, today);
    let page = ScorecardPage::of(layout, access, &card, written, period, next, proactivity);
    Ok(Html(page.render()?))
}

/// The scorecard's last 12 periods as CSV, in the columns the import reads back.
pub async fn scorecard_csv(
    State(state): State<AppState>,
    Viewing { access, .. }: Viewing,
) -> Result<Response> {
    let today = state.clock.today(access.zone());
    let latest = Period::latest_closed(access.period_kind(), today);
    let card = super::scorecard_of(&state.cache, &state.pool, &access, latest, today).await?;
    Ok(csv::response(
        &format!("scorecard-{}.csv", access.id),
        csv::scorecard(access.id, &access.name, &card),
    ))
}
