//! The scorecard's calendar: weekly, monthly and quarterly periods, their labels and which
//! of them have closed. Pure: callers pass "today" already in the engagement's zone.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use crate::vocab::PeriodKind;

/// The years a date typed anywhere may fall in: wide enough for any contract, narrow enough
/// that date arithmetic and PostgreSQL never see a year they cannot handle.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
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
        if !YEARS.contains(&year) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
    }

    fn march_2026() -> Period {
        Period::containing(PeriodKind::Monthly, date(2026, 3, 1))
    }

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

    proptest! {
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

    }
}
