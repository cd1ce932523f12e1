//! The scorecard as a value: from loaded data to each period's score, standing, coverage
//! and its active KPIs with their terms, value and status, plus each KPI's history. Pure;
//! the page, the CSV, the review snapshot and the portfolio all format this one value.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::data::{Data, StoredValue};
use super::scoring::{self, KpiInput, Period, PeriodScore, Source, Standing, Status, Terms};

/// How many periods the trend and the period picker reach back.
pub const TREND: usize = 12;

/// A KPI that is active in a period, under the terms in force on the period's last day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KpiCard {
    pub id: i64,
    pub name: String,
    pub unit: String,
    pub source: Source,
    pub terms: Terms,
    pub status: Status,
    /// 0..=100, unrounded; none without data.
    pub score: Option<Decimal>,
    pub value: Option<StoredValue>,
}

/// One period of a scorecard.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodCard {
    pub period: Period,
    pub score: PeriodScore,
    /// The active KPIs, by name.
    pub kpis: Vec<KpiCard>,
}

/// A run of periods, oldest first: the last is the period in view.
#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    pub periods: Vec<PeriodCard>,
    /// Each KPI's score in each of `periods` (active or not then), by KPI id.
    pub history: HashMap<i64, Vec<Option<Decimal>>>,
}

/// The `n` periods that end with `last`, oldest first.
pub fn ending_with(last: Period, n: usize) -> Vec<Period> {
    let mut periods = vec![last];
    while periods.len() < n {
        let earlier = periods[periods.len() - 1].previous();
        periods.push(earlier);
    }
    periods.reverse();
    periods
}

/// One period's card, judged on `today` (in the engagement's zone).
pub fn period_card(data: &Data, period: Period, today: NaiveDate) -> PeriodCard {
    let inputs = data.inputs(&period);
    let scored: Vec<KpiInput> = inputs.iter().filter_map(|(_, i)| i.clone()).collect();
    let score = scoring::period_score(&scored, &period, today);
    let kpis = inputs
        .into_iter()
        .filter_map(|(kpi, input)| input.map(|i| (kpi, i)))
        .filter(|(_, input)| input.terms.active)
        .map(|(kpi, input)| {
            let result = scoring::kpi_result(&input, &period, today);
            KpiCard {
                id: kpi.id,
                name: kpi.name.clone(),
                unit: kpi.unit.clone(),
                source: input.source,
                terms: input.terms,
                status: result.status,
                score: result.score,
                value: data.value(kpi.id, &period).cloned(),
            }
        })
        .collect();
    PeriodCard {
        period,
        score,
        kpis,
    }
}

/// The scorecard over `periods` (oldest first, not empty).
pub fn scorecard(data: &Data, periods: &[Period], today: NaiveDate) -> Scorecard {
    let mut history: HashMap<i64, Vec<Option<Decimal>>> = HashMap::new();
    for period in periods {
        for (kpi, input) in data.inputs(period) {
            let score = input.and_then(|i| scoring::kpi_result(&i, period, today).score);
            history.entry(kpi.id).or_default().push(score);
        }
    }
    Scorecard {
        periods: periods
            .iter()
            .map(|p| period_card(data, *p, today))
            .collect(),
        history,
    }
}

impl Scorecard {
    /// The period in view.
    pub fn current(&self) -> Option<&PeriodCard> {
        self.periods.last()
    }

    /// The score's change since the period before the one in view, when both have one.
    pub fn change(&self) -> Option<Decimal> {
        match self.periods.as_slice() {
            [.., before, now] => match (now.score.score, before.score.score) {
                (Some(now), Some(before)) => Some(now - before),
                _ => None,
            },
            _ => None,
        }
    }

    /// About the memory the scorecard holds, for the cache's bound.
    pub fn bytes(&self) -> usize {
        let kpis: usize = self
            .periods
            .iter()
            .flat_map(|p| &p.kpis)
            .map(|k| {
                std::mem::size_of::<KpiCard>()
                    + k.name.len()
                    + k.unit.len()
                    + k.value.as_ref().map_or(0, |v| {
                        v.note.len() + v.dispute_note.len() + v.recorded_by.len()
                    })
            })
            .sum();
        let history = self.history.len()
            * (std::mem::size_of::<(i64, Vec<Option<Decimal>>)>()
                + self.periods.len() * std::mem::size_of::<Option<Decimal>>());
        std::mem::size_of::<Scorecard>()
            + self.periods.len() * std::mem::size_of::<PeriodCard>()
            + kpis
            + history
    }

    /// A KPI's score in each period, oldest first.
    pub fn history_of(&self, kpi_id: i64) -> &[Option<Decimal>] {
        self.history.get(&kpi_id).map_or(&[], Vec::as_slice)
    }
}

impl PeriodCard {
    /// The active KPI with the lowest score, with that score.
    pub fn weakest(&self) -> Option<(&KpiCard, Decimal)> {
        self.kpis
            .iter()
            .filter_map(|k| k.score.map(|s| (k, s)))
            .min_by(|a, b| a.1.cmp(&b.1))
    }
}

/// A standing's key, as stored, filtered on and used in CSS classes; "no_data" is none.
pub fn standing_key(standing: Option<Standing>) -> &'static str {
    standing.map_or("no_data", Standing::as_str)
}

/// The label of a standing; "No data" for none.
pub fn standing_label(standing: Option<Standing>) -> &'static str {
    standing.map_or("No data", Standing::label)
}

/// Whether `key` names a standing or no data.
pub fn is_standing_key(key: &str) -> bool {
    key == "no_data" || Standing::parse(key).is_some()
}

/// A standing as the portfolio stores it: its key, or "no_data". Anything else is an error
/// when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredStanding(pub Option<Standing>);

impl sqlx::Type<sqlx::Postgres> for StoredStanding {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl sqlx::Decode<'_, sqlx::Postgres> for StoredStanding {
    fn decode(
        value: sqlx::postgres::PgValueRef<'_>,
    ) -> Result<StoredStanding, sqlx::error::BoxDynError> {
        let stored = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        match stored {
            "no_data" => Ok(StoredStanding(None)),
            key => Standing::parse(key)
                .map(|s| StoredStanding(Some(s)))
                .ok_or_else(|| format!("{stored:?} is not a stored standing").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scorecard::scoring::{Direction, PeriodKind, ValueState};

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
    }

    fn d(text: &str) -> Decimal {
        text.parse().expect("a decimal literal")
    }

    fn terms(weight: &str, active: bool) -> Terms {
        Terms {
            direction: Direction::Higher,
            target: d("100"),
            threshold: d("0"),
            weight: d(weight),
            active,
        }
    }

    #[test]
    fn the_scorecard_scores_each_period_and_keeps_every_kpis_history() {
        let march = Period::containing(PeriodKind::Monthly, date(2026, 3, 1));
        let february = march.previous();
        let verified = ValueState::Verified;
        let data = Data::default()
            .with_kpi(
                1,
                "Availability",
                Source::Manager,
                vec![(date(2026, 1, 1), terms("60", true))],
                &[
                    (february.start, d("80"), verified),
                    (march.start, d("60"), verified),
                ],
            )
            .with_kpi(
                2,
                "Response",
                Source::Manager,
                vec![
                    (date(2026, 1, 1), terms("40", true)),
                    (date(2026, 3, 15), terms("40", false)),
                ],
                &[
                    (february.start, d("100"), verified),
                    (march.start, d("100"), verified),
                ],
            );
        let card = scorecard(&data, &ending_with(march, 2), date(2026, 4, 2));
        let current = card.current().expect("a period in view");
        assert_eq!(current.period, march);
        // Only the KPI active on March's last day counts: 50 + 60 / 2 = 80.
        assert_eq!(current.score.score, Some(d("80.0")));
        assert_eq!(current.score.standing, Some(Standing::Good));
        assert_eq!(current.kpis.len(), 1);
        assert_eq!(current.kpis[0].status, Status::AtRisk);
        // February: (90 * 60 + 100 * 40) / 100 = 94.
        assert_eq!(card.periods[0].score.score, Some(d("94.0")));
        assert_eq!(card.change(), Some(d("-14.0")));
        assert_eq!(
            current.weakest().map(|(k, s)| (k.id, s)),
            Some((1, d("80")))
        );
        // The inactive KPI keeps its history for the sparkline.
        assert_eq!(card.history_of(2), &[Some(d("100")), Some(d("100"))]);
        assert_eq!(card.history_of(3), &[] as &[Option<Decimal>]);
    }

    #[test]
    fn a_standing_reads_back_from_its_key_and_no_data_has_one_of_its_own() {
        for standing in Standing::ALL {
            assert_eq!(
                Standing::parse(standing_key(Some(*standing))),
                Some(*standing)
            );
            assert!(is_standing_key(standing_key(Some(*standing))));
        }
        assert_eq!(standing_key(None), "no_data");
        assert_eq!(standing_label(None), "No data");
        assert!(is_standing_key("no_data"));
        assert!(!is_standing_key("unknown"));
    }
}
