//! A period's scorecard as a review keeps it: the scorecard value written out as the text
//! the review page showed when the review started, so later changes cannot alter it.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::data::load;
use super::model::{PeriodCard, period_card, standing_label};
use super::scoring::Period;
use crate::engagements::with_unit;
use crate::web::error::Result;

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

/// The scorecard of one closed period, in one query.
pub async fn snapshot(
    db: &mut PgConnection,
    engagement_id: i64,
    period: &Period,
    today: NaiveDate,
) -> Result<ScoreSnapshot> {
    let data = load(db, engagement_id, period.start, period.start).await?;
    Ok(written(&period_card(&data, *period, today)))
}

/// The card as the snapshot's text.
fn written(card: &PeriodCard) -> ScoreSnapshot {
    ScoreSnapshot {
        period: card.period.label(),
        score: card.score.score,
        standing: standing_label(card.score.standing).to_string(),
        coverage: card.score.coverage,
        kpis: card
            .kpis
            .iter()
            .map(|kpi| KpiSnapshot {
                name: kpi.name.clone(),
                target: with_unit(kpi.terms.target, &kpi.unit),
                threshold: with_unit(kpi.terms.threshold, &kpi.unit),
                weight: kpi.terms.weight.normalize().to_string(),
                value: kpi
                    .value
                    .as_ref()
                    .map_or_else(|| "—".to_string(), |v| with_unit(v.value, &kpi.unit)),
                status: format!("{} {}", kpi.status.symbol(), kpi.status.label()),
            })
            .collect(),
    }
}
