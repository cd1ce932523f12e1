//! KPI scoring rules: scorecard periods and their labels, attainment of a value against its
//! terms, the missing/disputed/vendor-deadline rules, the weighted period score and its band.
//!
//! Everything here is pure: callers pass "today" (already in the engagement's zone) and the
//! terms already picked for the period (see [`terms_on`]), so the rules can be tested on any
//! calendar without a clock or a database.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use rust_decimal::{Decimal, RoundingStrategy};

pub use crate::vocab::{Direction, PeriodKind, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Met,
    AtRisk,
    Breached,
    NoData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Excellent,
    Good,
    NeedsAttention,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueState {
    Verified,
    Unverified,
    Disputed,
}

/// Days after a period's last day that a vendor has to report before a missing value is
/// treated as a breach.
const VENDOR_GRACE_DAYS: u64 = 5;

/// How far a score falls across the at-risk band: from 100 at the target to 50 at the threshold.
const AT_RISK_DROP: Decimal = Decimal::from_parts(50, 0, 0, false, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    pub kind: PeriodKind,
    pub start: NaiveDate,
}

impl Period {
    /// The period containing `day`.
    pub fn containing(kind: PeriodKind, day: NaiveDate) -> Period {
        let start = match kind {
            PeriodKind::Weekly => day
                .checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
                // Only the first days chrono can represent have no Monday before them.
                .unwrap_or(NaiveDate::MIN),
            PeriodKind::Monthly => day.with_day(1).unwrap_or(day),
            PeriodKind::Quarterly => day
                .with_day(1)
                .and_then(|first| first.with_month(quarter_first_month(day.month())))
                .unwrap_or(day),
        };
        Period { kind, start }
    }

    /// Last day, inclusive.
    pub fn end(&self) -> NaiveDate {
        let end = match self.kind {
            PeriodKind::Weekly => self.start.checked_add_days(Days::new(6)),
            PeriodKind::Monthly | PeriodKind::Quarterly => self
                .start
                .checked_add_months(Months::new(self.months()))
                .and_then(|next| next.pred_opt()),
        };
        // The last period chrono can represent is cut short at its last representable day.
        end.unwrap_or(NaiveDate::MAX)
    }

    /// The following period; at the end of chrono's calendar this is the period itself, as
    /// there is nothing after it to name.
    pub fn next(&self) -> Period {
        let start = match self.kind {
            PeriodKind::Weekly => self.start.checked_add_days(Days::new(7)),
            PeriodKind::Monthly | PeriodKind::Quarterly => {
                self.start.checked_add_months(Months::new(self.months()))
            }
        };
        start.map_or(*self, |start| Period { start, ..*self })
    }

    /// The preceding period; at the start of chrono's calendar this is the period itself.
    pub fn previous(&self) -> Period {
        let start = match self.kind {
            PeriodKind::Weekly => self.start.checked_sub_days(Days::new(7)),
            PeriodKind::Monthly | PeriodKind::Quarterly => {
                self.start.checked_sub_months(Months::new(self.months()))
            }
        };
        start.map_or(*self, |start| Period { start, ..*self })
    }

    /// "2026-W01" (ISO week-numbering year), "2026-03" or "2026-Q1".
    pub fn label(&self) -> String {
        match self.kind {
            PeriodKind::Weekly => {
                let week = self.start.iso_week();
                format!("{:04}-W{:02}", week.year(), week.week())
            }
            PeriodKind::Monthly => format!("{:04}-{:02}", self.start.year(), self.start.month()),
            PeriodKind::Quarterly => format!(
                "{:04}-Q{}",
                self.start.year(),
                quarter_first_month(self.start.month()) / 3 + 1
            ),
        }
    }

    /// Parses a label back (inverse of label) or None.
    ///
    /// Only the exact text [`Period::label`] produces is accepted, so a label read from a URL
    /// has one spelling and "2026-3" or "2026-W1" are rejected rather than guessed at.
    pub fn parse(kind: PeriodKind, label: &str) -> Option<Period> {
        // Split at the last dash so a negative year's sign stays with the year.
        let (year, rest) = label.rsplit_once('-')?;
        let year: i32 = year.parse().ok()?;
        // Only the years a typed date may name: the trend reaches back from the period, and
        // a year near chrono's or PostgreSQL's edge would overflow there.
        if !crate::web::validate::YEARS.contains(&year) {
            return None;
        }
        let start = match kind {
            PeriodKind::Weekly => {
                let week: u32 = rest.strip_prefix('W')?.parse().ok()?;
                NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)?
            }
            PeriodKind::Monthly => NaiveDate::from_ymd_opt(year, rest.parse().ok()?, 1)?,
            PeriodKind::Quarterly => {
                let quarter: u32 = rest.strip_prefix('Q')?.parse().ok()?;
                if !(1..=4).contains(&quarter) {
                    return None;
                }
                NaiveDate::from_ymd_opt(year, quarter * 3 - 2, 1)?
            }
        };
        let period = Period { kind, start };
        (period.label() == label).then_some(period)
    }

    /// Closed when its last day is before `today`.
    pub fn is_closed(&self, today: NaiveDate) -> bool {
        self.end() < today
    }

    /// The latest closed period on `today`: the scorecard's "current" period.
    pub fn latest_closed(kind: PeriodKind, today: NaiveDate) -> Period {
        Period::containing(kind, today).previous()
    }

    /// The `n` latest closed periods, newest first.
    pub fn latest_closed_n(kind: PeriodKind, today: NaiveDate, n: usize) -> Vec<Period> {
        let mut period = Period::latest_closed(kind, today);
        let mut periods = Vec::with_capacity(n);
        for _ in 0..n {
            periods.push(period);
            period = period.previous();
        }
        periods
    }

    /// Length in months of a calendar-month-based period.
    fn months(&self) -> u32 {
        match self.kind {
            PeriodKind::Weekly => 0,
            PeriodKind::Monthly => 1,
            PeriodKind::Quarterly => 3,
        }
    }
}

fn quarter_first_month(month: u32) -> u32 {
    (month - 1) / 3 * 3 + 1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Default)]
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(text: &str) -> Decimal {
        text.parse().expect("a decimal literal")
    }

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
    }

    fn terms(direction: Direction, target: &str, threshold: &str, weight: &str) -> Terms {
        Terms {
            direction,
            target: d(target),
            threshold: d(threshold),
            weight: d(weight),
            active: true,
        }
    }

    fn availability() -> Terms {
        terms(Direction::Higher, "99.9", "99.5", "100")
    }

    fn response_hours() -> Terms {
        terms(Direction::Lower, "4", "8", "100")
    }

    /// Higher-is-better with target 100 and threshold 0, so a value v scores 50 + v/2: an
    /// easy way to produce any score in the at-risk band.
    fn linear(weight: &str) -> Terms {
        terms(Direction::Higher, "100", "0", weight)
    }

    fn kpi(source: Source, terms: Terms, value: Option<(&str, ValueState)>) -> KpiInput {
        KpiInput {
            source,
            terms,
            value: value.map(|(value, state)| (d(value), state)),
        }
    }

    fn verified(terms: Terms, value: &str) -> KpiInput {
        kpi(Source::Manager, terms, Some((value, ValueState::Verified)))
    }

    fn march_2026() -> Period {
        Period::containing(PeriodKind::Monthly, date(2026, 3, 1))
    }

    // --- attainment -------------------------------------------------------------------------

    #[test]
    fn higher_is_better_value_above_target_is_met_with_100() {
        assert_eq!(
            attainment(&availability(), d("99.95")),
            (Status::Met, d("100"))
        );
    }

    #[test]
    fn higher_is_better_value_exactly_on_target_is_met() {
        assert_eq!(
            attainment(&availability(), d("99.9")),
            (Status::Met, d("100"))
        );
    }

    #[test]
    fn higher_is_better_value_halfway_to_threshold_is_at_risk_with_75() {
        assert_eq!(
            attainment(&availability(), d("99.7")),
            (Status::AtRisk, d("75"))
        );
    }

    #[test]
    fn higher_is_better_value_on_the_threshold_is_at_risk_with_50() {
        assert_eq!(
            attainment(&availability(), d("99.5")),
            (Status::AtRisk, d("50"))
        );
    }

    #[test]
    fn higher_is_better_value_beyond_the_threshold_is_breached_with_0() {
        assert_eq!(
            attainment(&availability(), d("99.4")),
            (Status::Breached, d("0"))
        );
    }

    #[test]
    fn lower_is_better_value_below_target_is_met_with_100() {
        assert_eq!(
            attainment(&response_hours(), d("3")),
            (Status::Met, d("100"))
        );
        assert_eq!(
            attainment(&response_hours(), d("4")),
            (Status::Met, d("100"))
        );
    }

    #[test]
    fn lower_is_better_value_halfway_to_threshold_is_at_risk_with_75() {
        assert_eq!(
            attainment(&response_hours(), d("6")),
            (Status::AtRisk, d("75"))
        );
    }

    #[test]
    fn lower_is_better_value_on_the_threshold_is_at_risk_with_50() {
        assert_eq!(
            attainment(&response_hours(), d("8")),
            (Status::AtRisk, d("50"))
        );
    }

    #[test]
    fn lower_is_better_value_beyond_the_threshold_is_breached_with_0() {
        assert_eq!(
            attainment(&response_hours(), d("9")),
            (Status::Breached, d("0"))
        );
    }

    #[test]
    fn at_risk_scores_are_exact_and_unrounded() {
        assert_eq!(
            attainment(&availability(), d("99.89")),
            (Status::AtRisk, d("98.75"))
        );
        let (status, third) = attainment(&terms(Direction::Lower, "0", "3", "1"), d("1"));
        assert_eq!(status, Status::AtRisk);
        assert!(third > d("83.3333333333") && third < d("83.3333333334"));
    }

    #[test]
    fn terms_with_an_empty_band_breach_everything_off_target_without_panicking() {
        let same = terms(Direction::Higher, "10", "10", "1");
        assert_eq!(attainment(&same, d("10")), (Status::Met, d("100")));
        assert_eq!(attainment(&same, d("9.99")), (Status::Breached, d("0")));
        let inverted = terms(Direction::Lower, "10", "5", "1");
        assert_eq!(attainment(&inverted, d("7")), (Status::Met, d("100")));
        assert_eq!(attainment(&inverted, d("12")), (Status::Breached, d("0")));
    }

    #[test]
    fn terms_at_the_limits_of_decimal_are_scored_without_overflow() {
        let wide = Terms {
            direction: Direction::Higher,
            target: Decimal::MAX,
            threshold: Decimal::MIN,
            weight: d("1"),
            active: true,
        };
        assert_eq!(attainment(&wide, Decimal::ZERO), (Status::AtRisk, d("75")));
        assert_eq!(attainment(&wide, Decimal::MIN), (Status::AtRisk, d("50")));
    }

    // --- validation -------------------------------------------------------------------------

    #[test]
    fn valid_terms_in_either_direction_pass_validation() {
        assert_eq!(availability().validate(), Ok(()));
        assert_eq!(response_hours().validate(), Ok(()));
    }

    #[test]
    fn higher_is_better_with_threshold_at_or_above_target_is_rejected() {
        assert!(
            terms(Direction::Higher, "99.9", "99.9", "1")
                .validate()
                .is_err()
        );
        assert!(
            terms(Direction::Higher, "99.9", "100", "1")
                .validate()
                .is_err()
        );
    }

    #[test]
    fn lower_is_better_with_threshold_at_or_below_target_is_rejected() {
        assert!(terms(Direction::Lower, "4", "4", "1").validate().is_err());
        assert!(terms(Direction::Lower, "4", "3", "1").validate().is_err());
    }

    #[test]
    fn weights_from_0_to_100_inclusive_are_accepted_and_others_rejected() {
        assert_eq!(linear("0").validate(), Ok(()));
        assert_eq!(linear("100").validate(), Ok(()));
        assert_eq!(linear("33.33").validate(), Ok(()));
        assert!(linear("-0.01").validate().is_err());
        assert!(linear("100.01").validate().is_err());
    }

    // --- standing and rounding --------------------------------------------------------------

    #[test]
    fn a_period_score_of_84_95_rounds_to_85_0_and_is_excellent() {
        let score = period_score(
            &[verified(linear("1"), "69.9")],
            &march_2026(),
            date(2026, 4, 2),
        );
        assert_eq!(score.score, Some(d("85.0")));
        assert_eq!(score.standing, Some(Standing::Excellent));
        assert_eq!(standing(d("84.95")), Standing::Excellent);
    }

    #[test]
    fn a_period_score_of_84_94_rounds_to_84_9_and_is_good() {
        let score = period_score(
            &[verified(linear("1"), "69.88")],
            &march_2026(),
            date(2026, 4, 2),
        );
        assert_eq!(score.score, Some(d("84.9")));
        assert_eq!(score.standing, Some(Standing::Good));
        assert_eq!(standing(d("84.94")), Standing::Good);
    }

    #[test]
    fn standing_bands_start_at_85_70_and_50() {
        assert_eq!(standing(d("100")), Standing::Excellent);
        assert_eq!(standing(d("85.0")), Standing::Excellent);
        assert_eq!(standing(d("84.9")), Standing::Good);
        assert_eq!(standing(d("70.0")), Standing::Good);
        assert_eq!(standing(d("69.95")), Standing::Good);
        assert_eq!(standing(d("69.9")), Standing::NeedsAttention);
        assert_eq!(standing(d("50.0")), Standing::NeedsAttention);
        assert_eq!(standing(d("49.9")), Standing::Critical);
        assert_eq!(standing(d("0")), Standing::Critical);
    }

    #[test]
    fn period_scores_round_half_away_from_zero_not_to_even() {
        let score = period_score(
            &[verified(linear("1"), "68.5")],
            &march_2026(),
            date(2026, 4, 2),
        );
        assert_eq!(score.score, Some(d("84.3")));
    }

    #[test]
    fn the_period_score_is_rounded_only_after_averaging() {
        // 84.94, 84.94 and 85 average to 84.96 (85.0); rounding each first would give 84.9.
        let inputs = [
            verified(linear("1"), "69.88"),
            verified(linear("1"), "69.88"),
            verified(linear("1"), "70"),
        ];
        let score = period_score(&inputs, &march_2026(), date(2026, 4, 2));
        assert_eq!(score.score, Some(d("85.0")));
        assert_eq!(score.standing, Some(Standing::Excellent));
    }

    #[test]
    fn period_score_and_coverage_always_show_one_decimal() {
        let score = period_score(
            &[verified(linear("1"), "100")],
            &march_2026(),
            date(2026, 4, 2),
        );
        assert_eq!(
            score.score.map(|s| s.to_string()),
            Some("100.0".to_string())
        );
        assert_eq!(score.coverage.to_string(), "100.0");
        let empty = period_score(&[], &march_2026(), date(2026, 4, 2));
        assert_eq!(empty.coverage.to_string(), "0.0");
    }

    // --- periods ----------------------------------------------------------------------------

    #[test]
    fn iso_week_2026_w01_starts_on_monday_2025_12_29() {
        let week = Period::containing(PeriodKind::Weekly, date(2026, 1, 1));
        assert_eq!(week.start, date(2025, 12, 29));
        assert_eq!(week.end(), date(2026, 1, 4));
        assert_eq!(week.label(), "2026-W01");
        assert_eq!(
            Period::containing(PeriodKind::Weekly, date(2025, 12, 29)).label(),
            "2026-W01"
        );
        assert_eq!(Period::parse(PeriodKind::Weekly, "2026-W01"), Some(week));
    }

    #[test]
    fn year_2026_has_53_iso_weeks_and_w53_runs_into_january_2027() {
        // 2026 starts on a Thursday, which is what gives an ISO year its 53rd week.
        assert_eq!(date(2026, 1, 1).weekday(), Weekday::Thu);
        assert_eq!(date(2026, 12, 31).iso_week().week(), 53);
        let w53 = Period::parse(PeriodKind::Weekly, "2026-W53").expect("2026 has a W53");
        assert_eq!(w53.start, date(2026, 12, 28));
        assert_eq!(w53.end(), date(2027, 1, 3));
        assert_eq!(
            Period::containing(PeriodKind::Weekly, date(2027, 1, 3)).label(),
            "2026-W53"
        );
        assert_eq!(w53.next().label(), "2027-W01");
        assert_eq!(w53.next().start, date(2027, 1, 4));
        assert_eq!(w53.previous().label(), "2026-W52");
    }

    #[test]
    fn a_year_with_52_iso_weeks_has_no_w53() {
        assert_eq!(date(2025, 12, 28).iso_week().week(), 52);
        assert_eq!(Period::parse(PeriodKind::Weekly, "2025-W53"), None);
        let last = Period::containing(PeriodKind::Weekly, date(2025, 12, 28));
        assert_eq!(last.label(), "2025-W52");
        assert_eq!(last.next().label(), "2026-W01");
    }

    #[test]
    fn months_are_labelled_by_year_and_two_digit_month() {
        let march = Period::containing(PeriodKind::Monthly, date(2026, 3, 17));
        assert_eq!(march.start, date(2026, 3, 1));
        assert_eq!(march.end(), date(2026, 3, 31));
        assert_eq!(march.label(), "2026-03");
        assert_eq!(Period::parse(PeriodKind::Monthly, "2026-03"), Some(march));
        assert_eq!(march.previous().end(), date(2026, 2, 28));
        let leap_february = Period::parse(PeriodKind::Monthly, "2028-02").expect("a month");
        assert_eq!(leap_february.end(), date(2028, 2, 29));
        let december = Period::parse(PeriodKind::Monthly, "2026-12").expect("a month");
        assert_eq!(december.next().label(), "2027-01");
    }

    #[test]
    fn quarters_are_labelled_by_year_and_quarter_number() {
        let q3 = Period::containing(PeriodKind::Quarterly, date(2026, 8, 15));
        assert_eq!(q3.start, date(2026, 7, 1));
        assert_eq!(q3.end(), date(2026, 9, 30));
        assert_eq!(q3.label(), "2026-Q3");
        let q1 = Period::parse(PeriodKind::Quarterly, "2026-Q1").expect("a quarter");
        assert_eq!(q1.start, date(2026, 1, 1));
        assert_eq!(q1.end(), date(2026, 3, 31));
        assert_eq!(q1.previous().label(), "2025-Q4");
        assert_eq!(q1.previous().next(), q1);
        assert_eq!(
            Period::containing(PeriodKind::Quarterly, date(2026, 12, 31))
                .next()
                .label(),
            "2027-Q1"
        );
    }

    #[test]
    fn labels_parse_back_to_the_same_period_for_every_kind() {
        for kind in [
            PeriodKind::Weekly,
            PeriodKind::Monthly,
            PeriodKind::Quarterly,
        ] {
            let mut period = Period::containing(kind, date(2025, 11, 1));
            for _ in 0..80 {
                assert_eq!(Period::parse(kind, &period.label()), Some(period));
                period = period.next();
            }
        }
    }

    #[test]
    fn labels_that_are_not_exactly_canonical_do_not_parse() {
        let rejected = [
            (PeriodKind::Monthly, "2026-3"),
            (PeriodKind::Monthly, "2026-13"),
            (PeriodKind::Monthly, "2026-00"),
            (PeriodKind::Monthly, "26-03"),
            (PeriodKind::Monthly, "+2026-03"),
            (PeriodKind::Monthly, "2026-03 "),
            (PeriodKind::Monthly, "2026"),
            (PeriodKind::Monthly, ""),
            (PeriodKind::Monthly, "2026-Q1"),
            (PeriodKind::Weekly, "2026-W1"),
            (PeriodKind::Weekly, "2026-W00"),
            (PeriodKind::Weekly, "2026-W54"),
            (PeriodKind::Weekly, "2026-w01"),
            (PeriodKind::Weekly, "2026-03"),
            (PeriodKind::Quarterly, "2026-Q0"),
            (PeriodKind::Quarterly, "2026-Q5"),
            (PeriodKind::Quarterly, "2026-q1"),
            (PeriodKind::Quarterly, "2026-1"),
            (PeriodKind::Monthly, "-4713-01"),
            (PeriodKind::Monthly, "-5000-01"),
            (PeriodKind::Monthly, "0000-01"),
            (PeriodKind::Monthly, "1899-12"),
            (PeriodKind::Monthly, "2201-01"),
            (PeriodKind::Monthly, "10000-01"),
            (PeriodKind::Weekly, "275760-W01"),
            (PeriodKind::Quarterly, "-5000-Q1"),
        ];
        for (kind, label) in rejected {
            assert_eq!(Period::parse(kind, label), None, "{label:?} as {kind:?}");
        }
    }

    #[test]
    fn a_period_is_closed_only_from_the_day_after_its_last_day() {
        assert!(!march_2026().is_closed(date(2026, 3, 15)));
        assert!(!march_2026().is_closed(date(2026, 3, 31)));
        assert!(march_2026().is_closed(date(2026, 4, 1)));
    }

    #[test]
    fn the_latest_closed_period_is_the_one_before_today() {
        assert_eq!(
            Period::latest_closed(PeriodKind::Monthly, date(2026, 4, 1)).label(),
            "2026-03"
        );
        assert_eq!(
            Period::latest_closed(PeriodKind::Monthly, date(2026, 3, 31)).label(),
            "2026-02"
        );
        assert_eq!(
            Period::latest_closed(PeriodKind::Weekly, date(2026, 1, 5)).label(),
            "2026-W01"
        );
        assert_eq!(
            Period::latest_closed(PeriodKind::Weekly, date(2026, 1, 4)).label(),
            "2025-W52"
        );
        assert_eq!(
            Period::latest_closed(PeriodKind::Quarterly, date(2026, 4, 1)).label(),
            "2026-Q1"
        );
        assert_eq!(
            Period::latest_closed(PeriodKind::Quarterly, date(2026, 3, 31)).label(),
            "2025-Q4"
        );
    }

    // --- missing, disputed and late values --------------------------------------------------

    #[test]
    fn a_missing_vendor_value_is_no_data_up_to_five_days_after_the_period() {
        let missing = kpi(Source::Vendor, availability(), None);
        for today in [date(2026, 4, 1), date(2026, 4, 5)] {
            assert_eq!(
                kpi_result(&missing, &march_2026(), today),
                KpiResult {
                    status: Status::NoData,
                    score: None,
                    counts: false
                }
            );
        }
    }

    #[test]
    fn a_missing_vendor_value_more_than_five_days_after_the_period_counts_as_breached() {
        let missing = kpi(Source::Vendor, availability(), None);
        assert_eq!(
            kpi_result(&missing, &march_2026(), date(2026, 4, 6)),
            KpiResult {
                status: Status::Breached,
                score: Some(d("0")),
                counts: true
            }
        );
    }

    #[test]
    fn a_missing_manager_value_stays_no_data_however_late() {
        let missing = kpi(Source::Manager, availability(), None);
        let result = kpi_result(&missing, &march_2026(), date(2027, 1, 1));
        assert_eq!(result.status, Status::NoData);
        assert_eq!(result.score, None);
        assert!(!result.counts);
    }

    #[test]
    fn a_disputed_value_does_not_count() {
        let disputed = kpi(
            Source::Manager,
            availability(),
            Some(("99.95", ValueState::Disputed)),
        );
        let result = kpi_result(&disputed, &march_2026(), date(2026, 12, 1));
        assert_eq!(result.status, Status::NoData);
        assert!(!result.counts);
        let vendor_disputed = KpiInput {
            source: Source::Vendor,
            ..disputed
        };
        let result = kpi_result(&vendor_disputed, &march_2026(), date(2026, 4, 5));
        assert_eq!(result.status, Status::NoData);
        assert!(!result.counts);
    }

    #[test]
    fn a_disputed_vendor_value_past_the_deadline_counts_as_breached() {
        let disputed = kpi(
            Source::Vendor,
            availability(),
            Some(("99.95", ValueState::Disputed)),
        );
        assert_eq!(
            kpi_result(&disputed, &march_2026(), date(2026, 4, 6)),
            KpiResult {
                status: Status::Breached,
                score: Some(d("0")),
                counts: true
            }
        );
    }

    #[test]
    fn an_unverified_vendor_value_counts_as_reported() {
        let unverified = kpi(
            Source::Vendor,
            availability(),
            Some(("99.7", ValueState::Unverified)),
        );
        assert_eq!(
            kpi_result(&unverified, &march_2026(), date(2026, 5, 1)),
            KpiResult {
                status: Status::AtRisk,
                score: Some(d("75")),
                counts: true
            }
        );
    }

    #[test]
    fn a_verified_value_counts_whoever_reported_it() {
        for source in [Source::Manager, Source::Vendor] {
            let input = kpi(source, response_hours(), Some(("9", ValueState::Verified)));
            let result = kpi_result(&input, &march_2026(), date(2026, 4, 1));
            assert_eq!(result.status, Status::Breached);
            assert_eq!(result.score, Some(d("0")));
            assert!(result.counts);
        }
    }

    // --- period score -----------------------------------------------------------------------

    #[test]
    fn coverage_is_the_share_of_weight_with_data_and_the_score_averages_over_it() {
        let inputs = [
            verified(terms(Direction::Higher, "99.9", "99.5", "50"), "99.95"),
            verified(terms(Direction::Lower, "4", "8", "30"), "6"),
            kpi(
                Source::Manager,
                terms(Direction::Higher, "90", "80", "20"),
                None,
            ),
        ];
        let score = period_score(&inputs, &march_2026(), date(2026, 4, 10));
        // (50 × 100 + 30 × 75) / 80 = 90.625
        assert_eq!(score.score, Some(d("90.6")));
        assert_eq!(score.coverage, d("80.0"));
        assert_eq!(score.standing, Some(Standing::Excellent));
    }

    #[test]
    fn a_late_vendor_kpi_pulls_the_score_down_as_a_zero() {
        let inputs = [
            verified(linear("50"), "100"),
            kpi(Source::Vendor, linear("50"), None),
        ];
        let early = period_score(&inputs, &march_2026(), date(2026, 4, 5));
        assert_eq!(early.score, Some(d("100.0")));
        assert_eq!(early.coverage, d("50.0"));
        let late = period_score(&inputs, &march_2026(), date(2026, 4, 6));
        assert_eq!(late.score, Some(d("50.0")));
        assert_eq!(late.coverage, d("100.0"));
        assert_eq!(late.standing, Some(Standing::NeedsAttention));
    }

    #[test]
    fn inactive_kpis_are_ignored_in_score_and_coverage() {
        let active = verified(linear("40"), "80");
        let inactive_breached = verified(
            Terms {
                active: false,
                ..linear("60")
            },
            "-5",
        );
        let inactive_missing = kpi(
            Source::Manager,
            Terms {
                active: false,
                ..linear("60")
            },
            None,
        );
        let alone = period_score(
            std::slice::from_ref(&active),
            &march_2026(),
            date(2026, 4, 2),
        );
        let with_inactive = period_score(
            &[active, inactive_breached.clone(), inactive_missing],
            &march_2026(),
            date(2026, 4, 2),
        );
        assert_eq!(with_inactive, alone);
        assert_eq!(alone.coverage, d("100.0"));
        assert_eq!(alone.score, Some(d("90.0")));
        let only_inactive = period_score(&[inactive_breached], &march_2026(), date(2026, 4, 2));
        assert_eq!(only_inactive.score, None);
    }

    #[test]
    fn a_period_without_any_data_shows_no_data_rather_than_zero() {
        let inputs = [
            kpi(Source::Manager, linear("50"), None),
            kpi(
                Source::Vendor,
                linear("50"),
                Some(("90", ValueState::Disputed)),
            ),
        ];
        let score = period_score(&inputs, &march_2026(), date(2026, 4, 3));
        assert_eq!(
            score,
            PeriodScore {
                score: None,
                coverage: d("0.0"),
                standing: None
            }
        );
    }

    #[test]
    fn a_scorecard_without_active_weight_has_no_score_and_no_coverage() {
        let score = period_score(
            &[verified(linear("0"), "100")],
            &march_2026(),
            date(2026, 4, 3),
        );
        assert_eq!(score.score, None);
        assert_eq!(score.coverage, d("0.0"));
        assert_eq!(score.standing, None);
        assert_eq!(
            period_score(&[], &march_2026(), date(2026, 4, 3)).score,
            None
        );
    }

    #[test]
    fn weights_outside_0_to_100_cannot_push_the_score_out_of_range() {
        let inputs = [
            verified(linear("-50"), "100"),
            verified(linear("1000"), "-1"),
            verified(linear("100"), "100"),
        ];
        let score = period_score(&inputs, &march_2026(), date(2026, 4, 3));
        assert_eq!(score.score, Some(d("50.0")));
        assert_eq!(score.coverage, d("100.0"));
    }

    // --- terms history ----------------------------------------------------------------------

    #[test]
    fn terms_on_picks_the_latest_change_on_or_before_the_day() {
        let history = [
            (date(2026, 1, 1), linear("10")),
            (date(2026, 3, 1), linear("30")),
            (date(2026, 2, 1), linear("20")),
        ];
        assert_eq!(terms_on(&history, date(2025, 12, 31)), None);
        assert_eq!(terms_on(&history, date(2026, 1, 1)), Some(linear("10")));
        assert_eq!(terms_on(&history, date(2026, 2, 15)), Some(linear("20")));
        assert_eq!(terms_on(&history, date(2026, 3, 1)), Some(linear("30")));
        assert_eq!(terms_on(&history, date(2027, 1, 1)), Some(linear("30")));
        assert_eq!(terms_on(&[], date(2026, 1, 1)), None);
    }

    #[test]
    fn of_several_changes_saved_on_one_day_the_last_is_in_force() {
        let history = [
            (date(2026, 3, 10), linear("10")),
            (date(2026, 3, 10), linear("20")),
        ];
        assert_eq!(terms_on(&history, date(2026, 3, 10)), Some(linear("20")));
    }

    #[test]
    fn a_period_is_scored_with_the_terms_in_force_on_its_last_day() {
        let before = terms(Direction::Higher, "99.9", "99.5", "1");
        let tightened = terms(Direction::Higher, "99.99", "99.9", "1");
        let on_last_day = [(date(2026, 1, 1), before), (date(2026, 3, 31), tightened)];
        let day_after = [(date(2026, 1, 1), before), (date(2026, 4, 1), tightened)];
        let in_force = |history: &[(NaiveDate, Terms)]| {
            terms_on(history, march_2026().end()).expect("terms in force")
        };
        assert_eq!(
            attainment(&in_force(&on_last_day), d("99.95")).0,
            Status::AtRisk
        );
        assert_eq!(attainment(&in_force(&day_after), d("99.95")).0, Status::Met);
    }

    // --- properties -------------------------------------------------------------------------

    fn any_decimal() -> impl Strategy<Value = Decimal> {
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            0u32..=28,
        )
            .prop_map(|(lo, mid, hi, negative, scale)| {
                Decimal::from_parts(lo, mid, hi, negative, scale)
            })
    }

    fn modest_decimal() -> impl Strategy<Value = Decimal> {
        (-10_000_000i64..=10_000_000, 0u32..=4)
            .prop_map(|(units, scale)| Decimal::new(units, scale))
    }

    fn any_direction() -> impl Strategy<Value = Direction> {
        prop_oneof![Just(Direction::Higher), Just(Direction::Lower)]
    }

    fn valid_terms() -> impl Strategy<Value = Terms> {
        (
            any_direction(),
            modest_decimal(),
            (1i64..=10_000_000, 0u32..=4),
            0i64..=10_000,
            any::<bool>(),
        )
            .prop_map(|(direction, target, (gap, gap_scale), weight, active)| {
                let gap = Decimal::new(gap, gap_scale);
                let threshold = match direction {
                    Direction::Higher => target - gap,
                    Direction::Lower => target + gap,
                };
                Terms {
                    direction,
                    target,
                    threshold,
                    weight: Decimal::new(weight, 2),
                    active,
                }
            })
    }

    fn any_state() -> impl Strategy<Value = ValueState> {
        prop_oneof![
            Just(ValueState::Verified),
            Just(ValueState::Unverified),
            Just(ValueState::Disputed)
        ]
    }

    fn any_input() -> impl Strategy<Value = KpiInput> {
        (
            prop_oneof![Just(Source::Manager), Just(Source::Vendor)],
            valid_terms(),
            proptest::option::of((modest_decimal(), any_state())),
        )
            .prop_map(|(source, terms, value)| KpiInput {
                source,
                terms,
                value,
            })
    }

    fn any_kind() -> impl Strategy<Value = PeriodKind> {
        prop_oneof![
            Just(PeriodKind::Weekly),
            Just(PeriodKind::Monthly),
            Just(PeriodKind::Quarterly)
        ]
    }

    /// Any day from year 1 to 9999, the range four-digit labels cover.
    fn any_day() -> impl Strategy<Value = NaiveDate> {
        (date(1, 1, 1).num_days_from_ce()..=date(9999, 12, 31).num_days_from_ce()).prop_map(
            |days| NaiveDate::from_num_days_from_ce_opt(days).expect("a day within chrono's range"),
        )
    }

    /// A day whose period's label lies within the years input may name (the last week of
    /// 2200 may belong to ISO year 2201).
    fn typed_day() -> impl Strategy<Value = NaiveDate> {
        (date(1900, 1, 1).num_days_from_ce()..=date(2200, 12, 24).num_days_from_ce()).prop_map(
            |days| NaiveDate::from_num_days_from_ce_opt(days).expect("a day within chrono's range"),
        )
    }

    fn status_rank(status: Status) -> u8 {
        match status {
            Status::Breached => 0,
            Status::AtRisk => 1,
            Status::Met => 2,
            Status::NoData => unreachable!("attainment always has a value"),
        }
    }

    #[derive(Debug, Clone, Copy)]
    struct Fraction {
        numerator: i128,
        denominator: i128,
    }

    impl Fraction {
        fn new(numerator: i128, denominator: i128) -> Fraction {
            let divisor = gcd(numerator.abs(), denominator.abs()).max(1);
            Fraction {
                numerator: numerator / divisor,
                denominator: denominator / divisor,
            }
        }

        fn add(self, other: Fraction) -> Fraction {
            Fraction::new(
                self.numerator * other.denominator + other.numerator * self.denominator,
                self.denominator * other.denominator,
            )
        }
    }

    fn gcd(a: i128, b: i128) -> i128 {
        if b == 0 { a } else { gcd(b, a % b) }
    }

    proptest! {
        #[test]
        fn attainment_scores_stay_within_0_and_100_for_any_terms_and_value(
            direction in any_direction(),
            target in any_decimal(),
            threshold in any_decimal(),
            value in any_decimal(),
        ) {
            let terms = Terms { direction, target, threshold, weight: Decimal::ONE, active: true };
            let (status, score) = attainment(&terms, value);
            prop_assert!(score >= Decimal::ZERO && score <= Decimal::ONE_HUNDRED);
            prop_assert_ne!(status, Status::NoData);
        }

        #[test]
        fn a_better_value_never_scores_lower_under_the_same_terms(
            terms in valid_terms(),
            a in modest_decimal(),
            b in modest_decimal(),
        ) {
            let (worse, better) = match (terms.direction, a <= b) {
                (Direction::Higher, true) | (Direction::Lower, false) => (a, b),
                (Direction::Higher, false) | (Direction::Lower, true) => (b, a),
            };
            let (worse_status, worse_score) = attainment(&terms, worse);
            let (better_status, better_score) = attainment(&terms, better);
            prop_assert!(better_score >= worse_score, "{better} scored {better_score} < {worse} scored {worse_score}");
            prop_assert!(status_rank(better_status) >= status_rank(worse_status));
        }

        #[test]
        fn a_better_value_never_scores_lower_even_at_the_limits_of_decimal(
            direction in any_direction(),
            target in any_decimal(),
            threshold in any_decimal(),
            a in any_decimal(),
            b in any_decimal(),
        ) {
            let terms = Terms { direction, target, threshold, weight: Decimal::ONE, active: true };
            let (worse, better) = match (direction, a <= b) {
                (Direction::Higher, true) | (Direction::Lower, false) => (a, b),
                (Direction::Higher, false) | (Direction::Lower, true) => (b, a),
            };
            prop_assert!(attainment(&terms, better).1 >= attainment(&terms, worse).1);
        }

        #[test]
        fn a_period_without_any_data_is_no_data_and_never_zero(
            inputs in proptest::collection::vec(any_input(), 0..8),
            days_after_end in 0u64..=5,
            kind in any_kind(),
            day in any_day(),
        ) {
            // Nothing counts: values withheld or disputed, judged before any vendor deadline.
            let inputs: Vec<KpiInput> = inputs
                .into_iter()
                .map(|input| KpiInput {
                    value: input.value.map(|(value, _)| (value, ValueState::Disputed)),
                    ..input
                })
                .collect();
            let period = Period::containing(kind, day);
            let today = period.end() + Days::new(days_after_end);
            let score = period_score(&inputs, &period, today);
            prop_assert_eq!(score.score, None);
            prop_assert_eq!(score.standing, None);
            prop_assert_eq!(score.coverage, Decimal::ZERO);
        }

        #[test]
        fn period_score_and_coverage_stay_within_0_and_100(
            inputs in proptest::collection::vec(any_input(), 0..8),
            days_after_end in 0u64..=30,
        ) {
            let period = march_2026();
            let score = period_score(&inputs, &period, period.end() + Days::new(days_after_end));
            prop_assert!(score.coverage >= Decimal::ZERO && score.coverage <= Decimal::ONE_HUNDRED);
            prop_assert_eq!(score.coverage.scale(), 1);
            if let Some(value) = score.score {
                prop_assert!(value >= Decimal::ZERO && value <= Decimal::ONE_HUNDRED);
                prop_assert_eq!(value.scale(), 1);
                prop_assert_eq!(score.standing, Some(standing(value)));
            }
            let has_weighted_data = inputs.iter().any(|input| {
                input.terms.active
                    && input.terms.weight > Decimal::ZERO
                    && kpi_result(input, &period, period.end() + Days::new(days_after_end)).counts
            });
            prop_assert_eq!(score.score.is_some(), has_weighted_data);
        }

        #[test]
        fn the_period_score_matches_exact_rational_arithmetic(
            lines in proptest::collection::vec(
                (any::<bool>(), -10_000i64..=10_000, 1i64..=5_000, -20_000i64..=20_000, 1i64..=100),
                1..6,
            ),
        ) {
            // All figures are in hundredths; the reference works in exact fractions.
            let mut inputs = Vec::new();
            let mut weighted = Fraction::new(0, 1);
            let mut total_weight = 0i128;
            for (higher, target, gap, value, weight) in lines {
                let (direction, threshold) =
                    if higher { (Direction::Higher, target - gap) } else { (Direction::Lower, target + gap) };
                let shortfall = if higher { target - value } else { value - target };
                let score = if shortfall <= 0 {
                    Fraction::new(100, 1)
                } else if shortfall <= gap {
                    Fraction::new(i128::from(100 * gap - 50 * shortfall), i128::from(gap))
                } else {
                    Fraction::new(0, 1)
                };
                weighted = weighted.add(Fraction::new(score.numerator * i128::from(weight), score.denominator));
                total_weight += i128::from(weight);
                inputs.push(verified(
                    Terms {
                        direction,
                        target: Decimal::new(target, 2),
                        threshold: Decimal::new(threshold, 2),
                        weight: Decimal::from(weight),
                        active: true,
                    },
                    &Decimal::new(value, 2).to_string(),
                ));
            }
            let average = Fraction::new(weighted.numerator, weighted.denominator * total_weight);
            // Tenths, rounded half away from zero (the average is never negative).
            let tenths = (20 * average.numerator + average.denominator) / (2 * average.denominator);
            let score = period_score(&inputs, &march_2026(), date(2026, 4, 2));
            prop_assert_eq!(score.score, Some(Decimal::new(i64::try_from(tenths).expect("small"), 1)));
        }

        #[test]
        fn a_period_contains_its_day_and_the_next_starts_the_day_after_it_ends(
            kind in any_kind(),
            day in any_day(),
        ) {
            let period = Period::containing(kind, day);
            prop_assert!(period.start <= day && day <= period.end());
            prop_assert_eq!(period.next().start, period.end() + Days::new(1));
            prop_assert_eq!(period.previous().end() + Days::new(1), period.start);
            prop_assert_eq!(period.next().previous(), period);
            prop_assert_eq!(Period::containing(kind, period.start), period);
            prop_assert_eq!(Period::containing(kind, period.end()), period);
            match kind {
                PeriodKind::Weekly => prop_assert_eq!(period.start.weekday(), Weekday::Mon),
                PeriodKind::Monthly => prop_assert_eq!(period.start.day(), 1),
                PeriodKind::Quarterly => {
                    prop_assert_eq!(period.start.day(), 1);
                    prop_assert_eq!(period.start.month() % 3, 1);
                }
            }
        }

        #[test]
        fn every_label_parses_back_to_its_period(kind in any_kind(), day in typed_day()) {
            let period = Period::containing(kind, day);
            prop_assert_eq!(Period::parse(kind, &period.label()), Some(period));
        }

        #[test]
        fn the_latest_closed_period_is_closed_and_the_one_after_it_is_not(
            kind in any_kind(),
            today in any_day(),
        ) {
            let current = Period::latest_closed(kind, today);
            prop_assert!(current.is_closed(today));
            prop_assert!(!current.next().is_closed(today));
        }

        #[test]
        fn terms_on_agrees_with_the_last_listed_of_the_latest_changes(
            offsets in proptest::collection::vec(0u64..60, 0..8),
            probe in 0u64..70,
        ) {
            let origin = date(2026, 1, 1);
            let history: Vec<(NaiveDate, Terms)> = offsets
                .iter()
                .enumerate()
                .map(|(index, offset)| {
                    (origin + Days::new(*offset), linear(&index.to_string()))
                })
                .collect();
            let day = origin + Days::new(probe);
            let expected = history
                .iter()
                .enumerate()
                .filter(|(_, (from, _))| *from <= day)
                .max_by_key(|(index, (from, _))| (*from, *index))
                .map(|(_, (_, terms))| *terms);
            prop_assert_eq!(terms_on(&history, day), expected);
        }
    }
}
