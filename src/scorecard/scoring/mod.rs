//! KPI scoring rules: attainment of a value against its terms, the missing/disputed/
//! vendor-deadline rules, the weighted period score and its band. The periods themselves are
//! the platform's calendar (`crate::period`).
//!
//! Everything here is pure: callers pass "today" (already in the engagement's zone) and the
//! terms already picked for the period (see [`terms_on`]), so the rules can be tested on any
//! calendar without a clock or a database.

use chrono::{Days, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use crate::choice;

pub use crate::period::Period;
pub use crate::vocab::{Direction, PeriodKind, Source};

choice!(pub Status {
    Met = "met" / "Met",
    AtRisk = "at_risk" / "At risk",
    Breached = "breached" / "Breached",
    NoData = "no_data" / "No data",
});

impl Status {
    /// The mark shown before the status, so it reads without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Met => "✓",
            Status::AtRisk => "▲",
            Status::Breached => "✕",
            Status::NoData => "–",
        }
    }
}

// A standing is stored (in the portfolio's table) and filtered on by its key; a period
// without data has no standing, which the portfolio stores as "no_data".
choice!(pub Standing {
    Excellent = "excellent" / "Excellent",
    Good = "good" / "Good",
    NeedsAttention = "attention" / "Needs attention",
    Critical = "critical" / "Critical",
});

choice!(pub ValueState {
    Verified = "verified" / "Verified",
    Unverified = "unverified" / "Unverified",
    Disputed = "disputed" / "Disputed",
});

/// Value states are loaded as arrays (one row per KPI with all its values).
impl sqlx::postgres::PgHasArrayType for ValueState {
    fn array_type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
    }

    fn array_compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::postgres::PgHasArrayType>::array_compatible(ty)
    }
}

/// Days after a period's last day that a vendor has to report before a missing value is
/// treated as a breach.
const VENDOR_GRACE_DAYS: u64 = 5;

/// How far a score falls across the at-risk band: from 100 at the target to 50 at the threshold.
const AT_RISK_DROP: Decimal = Decimal::from_parts(50, 0, 0, false, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Terms {
    pub direction: Direction,
    pub target: Decimal,
    pub threshold: Decimal,
    pub weight: Decimal,
    pub active: bool,
}

impl Terms {
    /// The threshold must lie strictly on the bad side of the target (otherwise the at-risk
    /// band is empty or inverted) and the weight within 0..=100.
    pub fn validate(&self) -> Result<(), &'static str> {
        match self.direction {
            Direction::Higher if self.threshold >= self.target => {
                return Err("when higher is better, the threshold must be below the target");
            }
            Direction::Lower if self.threshold <= self.target => {
                return Err("when lower is better, the threshold must be above the target");
            }
            _ => {}
        }
        if self.weight < Decimal::ZERO || self.weight > Decimal::ONE_HUNDRED {
            return Err("the weight must be between 0 and 100");
        }
        Ok(())
    }
}

/// Attainment of one value under terms: (status, score 0..=100 unrounded exact Decimal).
///
/// At-risk scores are exact unless the share of the band is a recurring fraction (a third,
/// say), which Decimal carries to 28 significant digits; only the period score is rounded.
///
/// Never panics, even for terms that would fail [`Terms::validate`]: an empty or inverted
/// at-risk band simply means everything off target is breached.
pub fn attainment(terms: &Terms, value: Decimal) -> (Status, Decimal) {
    let (on_target, within_threshold) = match terms.direction {
        Direction::Higher => (value >= terms.target, value >= terms.threshold),
        Direction::Lower => (value <= terms.target, value <= terms.threshold),
    };
    if on_target {
        (Status::Met, Decimal::ONE_HUNDRED)
    } else if within_threshold {
        let share = shortfall_share(terms.target, terms.threshold, value);
        let score = Decimal::ONE_HUNDRED - AT_RISK_DROP * share;
        (Status::AtRisk, score.normalize())
    } else {
        (Status::Breached, Decimal::ZERO)
    }
}

/// How far `value` has slid from `target` towards `threshold`: 0 at the target, 1 at the
/// threshold. Only called with `value` in that band, so the span is never zero.
///
/// The same ratio serves both directions, since both differences change sign together.
fn shortfall_share(target: Decimal, threshold: Decimal, value: Decimal) -> Decimal {
    let ratio =
        |t: Decimal, th: Decimal, v: Decimal| t.checked_sub(v)?.checked_div(t.checked_sub(th)?);
    // Terms near Decimal's limits overflow the subtractions. Quartering all three keeps the
    // ratio (to within Decimal's precision) and leaves room for the differences: halves alone
    // can round up just enough to overflow again.
    let quarter = |x: Decimal| x / Decimal::from(4);
    ratio(target, threshold, value)
        .or_else(|| ratio(quarter(target), quarter(threshold), quarter(value)))
        // Not reachable after quartering; if it were, the threshold is the cautious reading.
        .unwrap_or(Decimal::ONE)
        .clamp(Decimal::ZERO, Decimal::ONE)
}

/// The KPI's line for a period: terms in force on the period's last day, and the value if any.
#[derive(Debug, Clone)]
pub struct KpiInput {
    pub source: Source,
    pub terms: Terms,
    pub value: Option<(Decimal, ValueState)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KpiResult {
    pub status: Status,
    pub score: Option<Decimal>,
    /// Has data: takes part in the period score.
    pub counts: bool,
}

/// Applies the missing/disputed/vendor-deadline rules for one KPI in `period`, judged on
/// `today` (in the engagement's zone).
///
/// An unverified vendor value counts; a disputed one counts as absent until resolved. A
/// vendor-sourced KPI with nothing that counts is breached once `today` is more than five
/// days past the period's last day; a manager-sourced one stays no-data.
pub fn kpi_result(input: &KpiInput, period: &Period, today: NaiveDate) -> KpiResult {
    match input.value {
        Some((value, ValueState::Verified | ValueState::Unverified)) => {
            let (status, score) = attainment(&input.terms, value);
            KpiResult {
                status,
                score: Some(score),
                counts: true,
            }
        }
        Some((_, ValueState::Disputed)) | None => {
            if input.source == Source::Vendor && vendor_deadline_passed(period, today) {
                KpiResult {
                    status: Status::Breached,
                    score: Some(Decimal::ZERO),
                    counts: true,
                }
            } else {
                KpiResult {
                    status: Status::NoData,
                    score: None,
                    counts: false,
                }
            }
        }
    }
}

fn vendor_deadline_passed(period: &Period, today: NaiveDate) -> bool {
    period
        .end()
        .checked_add_days(Days::new(VENDOR_GRACE_DAYS))
        // A deadline beyond chrono's calendar never passes.
        .is_some_and(|deadline| today > deadline)
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PeriodScore {
    /// Rounded to 1 dp (half away from zero); None = no data, never a 0.
    pub score: Option<Decimal>,
    /// 0..=100, % of active weight with data, 1 dp.
    pub coverage: Decimal,
    pub standing: Option<Standing>,
}

/// Scores a period over the ACTIVE KPIs' inputs (inactive ones are ignored).
///
/// The score is the weight-average over KPIs with data, rounded only at the end so that
/// intermediate rounding cannot move a period across a band boundary.
pub fn period_score(inputs: &[KpiInput], period: &Period, today: NaiveDate) -> PeriodScore {
    let mut total_weight = Decimal::ZERO;
    let mut data_weight = Decimal::ZERO;
    let mut weighted_sum = Decimal::ZERO;
    for input in inputs.iter().filter(|input| input.terms.active) {
        let weight = effective_weight(&input.terms);
        total_weight = total_weight.saturating_add(weight);
        let result = kpi_result(input, period, today);
        if let (true, Some(score)) = (result.counts, result.score) {
            data_weight = data_weight.saturating_add(weight);
            weighted_sum = weighted_sum.saturating_add(weight.saturating_mul(score));
        }
    }

    let coverage = data_weight
        .saturating_mul(Decimal::ONE_HUNDRED)
        .checked_div(total_weight)
        .unwrap_or(Decimal::ZERO);
    // Data carried only by zero-weight KPIs has nothing to average over, so it is no data too.
    let score = weighted_sum.checked_div(data_weight).map(one_decimal);
    PeriodScore {
        score,
        coverage: one_decimal(coverage),
        standing: score.map(standing),
    }
}

/// Weights are validated when terms are saved; clamping here keeps the score a true weighted
/// average (so within 0..=100) even if an unvalidated row reaches the scorer.
fn effective_weight(terms: &Terms) -> Decimal {
    terms.weight.clamp(Decimal::ZERO, Decimal::ONE_HUNDRED)
}

/// Rounds half away from zero and always shows one decimal ("80.0", not "80").
fn one_decimal(value: Decimal) -> Decimal {
    let mut rounded = value.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(1);
    rounded
}

/// The band for a period score, judged on the score rounded to one decimal, so 84.95 is
/// Excellent whether or not the caller rounded it first.
pub fn standing(score: Decimal) -> Standing {
    let score = one_decimal(score);
    if score >= Decimal::from(85) {
        Standing::Excellent
    } else if score >= Decimal::from(70) {
        Standing::Good
    } else if score >= Decimal::from(50) {
        Standing::NeedsAttention
    } else {
        Standing::Critical
    }
}

/// Picks the terms in force on `day` from a KPI's history of (effective_from, Terms), or
/// None if none yet.
///
/// The history need not be sorted. Several changes saved on the same day are taken in slice
/// order, so the last one listed is the one in force.
pub fn terms_on(history: &[(NaiveDate, Terms)], day: NaiveDate) -> Option<Terms> {
    history
        .iter()
        .filter(|(effective_from, _)| *effective_from <= day)
        // max_by_key returns the last of equal maxima, which is the latest save on that day.
        .max_by_key(|(effective_from, _)| *effective_from)
        .map(|(_, terms)| *terms)
}

#[cfg(test)]
mod tests;
