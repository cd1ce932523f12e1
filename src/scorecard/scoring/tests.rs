use super::*;
use chrono::Datelike;
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
    (-10_000_000i64..=10_000_000, 0u32..=4).prop_map(|(units, scale)| Decimal::new(units, scale))
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
    (date(1, 1, 1).num_days_from_ce()..=date(9999, 12, 31).num_days_from_ce()).prop_map(|days| {
        NaiveDate::from_num_days_from_ce_opt(days).expect("a day within chrono's range")
    })
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
