//! Check-in, review and audit cadences, and the due and overdue dates they produce.
//!
//! Everything here works on calendar dates in the engagement's zone; turning a date into an
//! instant is the contact window's job, so no time-zone logic lives in this module.
//!
//! Each cadence is a closed set stored as text: forms parse it leniently (`parse`), the
//! database decodes it strictly (an unknown stored value is an error, never a default).

use std::fmt;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

/// Monday to Sunday, as forms list them.
pub const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(into = "&'static str")]
pub enum CheckinCadence {
    Daily,
    Weekly,
    Biweekly,
    Monthly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(into = "&'static str")]
pub enum ReviewCadence {
    Monthly,
    Quarterly,
    Semiannual,
    Annual,
}

impl CheckinCadence {
    pub const ALL: [CheckinCadence; 4] = [
        CheckinCadence::Daily,
        CheckinCadence::Weekly,
        CheckinCadence::Biweekly,
        CheckinCadence::Monthly,
    ];

    /// The stored form; `parse` is its inverse.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckinCadence::Daily => "daily",
            CheckinCadence::Weekly => "weekly",
            CheckinCadence::Biweekly => "biweekly",
            CheckinCadence::Monthly => "monthly",
        }
    }

    /// Case-insensitive and whitespace-tolerant because values also arrive from form posts.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }

    pub fn label(self) -> &'static str {
        match self {
            CheckinCadence::Daily => "Daily",
            CheckinCadence::Weekly => "Weekly",
            CheckinCadence::Biweekly => "Every two weeks",
            CheckinCadence::Monthly => "Monthly",
        }
    }

    /// Next due date after a check-in on `last` (or the start date). Daily: the next contact day after `last` (if contact_days is empty, the next day). Weekly/biweekly: last + 7/14 days, then moved FORWARD (0..6 days) to `preferred` when given. Monthly: add_months(last, 1).
    ///
    /// `preferred` is ignored for daily and monthly cadences: daily already follows contact
    /// days, and moving a monthly date to a weekday would make it drift across months.
    pub fn next_due(
        self,
        last: NaiveDate,
        preferred: Option<Weekday>,
        contact_days: &[Weekday],
    ) -> NaiveDate {
        match self {
            CheckinCadence::Daily => next_contact_day_after(last, contact_days),
            CheckinCadence::Weekly => forward_to(add_days(last, 7), preferred),
            CheckinCadence::Biweekly => forward_to(add_days(last, 14), preferred),
            CheckinCadence::Monthly => add_months(last, 1),
        }
    }
}

impl ReviewCadence {
    pub const ALL: [ReviewCadence; 4] = [
        ReviewCadence::Monthly,
        ReviewCadence::Quarterly,
        ReviewCadence::Semiannual,
        ReviewCadence::Annual,
    ];

    /// The stored form; `parse` is its inverse.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewCadence::Monthly => "monthly",
            ReviewCadence::Quarterly => "quarterly",
            ReviewCadence::Semiannual => "semiannual",
            ReviewCadence::Annual => "annual",
        }
    }

    /// Case-insensitive and whitespace-tolerant because values also arrive from form posts.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }

    pub fn label(self) -> &'static str {
        match self {
            ReviewCadence::Monthly => "Monthly",
            ReviewCadence::Quarterly => "Quarterly",
            ReviewCadence::Semiannual => "Every six months",
            ReviewCadence::Annual => "Yearly",
        }
    }

    pub fn months(self) -> u32 {
        match self {
            ReviewCadence::Monthly => 1,
            ReviewCadence::Quarterly => 3,
            ReviewCadence::Semiannual => 6,
            ReviewCadence::Annual => 12,
        }
    }

    /// Counted from the completion date, not the previous due date, so a late review pushes
    /// the next one back rather than leaving it due almost at once.
    pub fn next_due(self, from: NaiveDate) -> NaiveDate {
        add_months(from, self.months())
    }
}

/// A cadence's stored form in PostgreSQL text, its label as its display, and its stored form
/// in JSON (the audit log's before and after).
macro_rules! stored_as_text {
    ($name:ident) => {
        impl $name {
            /// Exactly one of the stored forms, as the database holds them.
            pub fn from_stored(stored: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|c| c.as_str() == stored)
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> &'static str {
                value.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.label())
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl sqlx::Decode<'_, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'_>,
            ) -> Result<$name, sqlx::error::BoxDynError> {
                let stored = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                $name::from_stored(stored).ok_or_else(|| {
                    format!(concat!("{:?} is not a stored ", stringify!($name)), stored).into()
                })
            }
        }
    };
}

stored_as_text!(CheckinCadence);
stored_as_text!(ReviewCadence);

/// Calendar months added, clamped to the month's last day (2026-01-31 + 1 = 2026-02-28; 2028-01-31 + 1 = 2028-02-29; 2026-08-31 + 6 = 2027-02-28).
///
/// Saturates at chrono's maximum date instead of panicking; no real engagement gets there.
pub fn add_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// The first contact day strictly after `due` (if contact_days is empty: the day after). A check-in is overdue from this date.
pub fn overdue_from(due: NaiveDate, contact_days: &[Weekday]) -> NaiveDate {
    next_contact_day_after(due, contact_days)
}

/// Parses "mon".."sun" / "monday".."sunday" / ISO numbers "1".."7" case-insensitively; and the inverse short form.
///
/// The inverse short form is [`weekday_short`]; `parse_weekday(weekday_short(d)) == Some(d)`.
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    let s = s.trim();
    WEEK.into_iter().find(|day| {
        let iso = day.number_from_monday().to_string();
        s.eq_ignore_ascii_case(weekday_short(*day))
            || s.eq_ignore_ascii_case(weekday_name(*day))
            || s == iso
    })
}

/// Days stored as ISO numbers (1 = Monday … 7 = Sunday); anything else is skipped.
pub fn iso_weekdays(days: &[i32]) -> Vec<Weekday> {
    days.iter()
        .filter_map(|d| u8::try_from(d - 1).ok())
        .filter_map(|d| Weekday::try_from(d).ok())
        .collect()
}

/// The short stored form of a day ("mon" … "sun"), the inverse of [`parse_weekday`].
pub fn weekday_short(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

pub fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// Saturating, for the same reason as `add_months`.
fn add_days(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days))
        .unwrap_or(NaiveDate::MAX)
}

fn next_contact_day_after(date: NaiveDate, contact_days: &[Weekday]) -> NaiveDate {
    // Within seven days every weekday occurs once, so the first contact day is among them.
    (1..=7)
        .map(|offset| add_days(date, offset))
        .find(|day| contact_days.is_empty() || contact_days.contains(&day.weekday()))
        .unwrap_or_else(|| add_days(date, 1))
}

fn forward_to(date: NaiveDate, preferred: Option<Weekday>) -> NaiveDate {
    match preferred {
        None => date,
        Some(target) => {
            let ahead =
                (7 + target.num_days_from_monday() - date.weekday().num_days_from_monday()) % 7;
            add_days(date, u64::from(ahead))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday::{Fri, Mon, Sat, Sun, Thu, Tue, Wed};

    const WEEKDAYS: [Weekday; 5] = [Mon, Tue, Wed, Thu, Fri];

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
    }

    // 2026-05-13 is a Wednesday; 2026-05-15 a Friday.

    #[test]
    fn adding_one_month_to_the_thirty_first_of_january_lands_on_the_last_of_february() {
        assert_eq!(add_months(d(2026, 1, 31), 1), d(2026, 2, 28));
    }

    #[test]
    fn adding_one_month_to_the_thirty_first_of_january_in_a_leap_year_lands_on_the_twenty_ninth() {
        assert_eq!(add_months(d(2028, 1, 31), 1), d(2028, 2, 29));
    }

    #[test]
    fn adding_six_months_to_the_thirty_first_of_august_lands_on_the_last_of_february() {
        assert_eq!(add_months(d(2026, 8, 31), 6), d(2027, 2, 28));
    }

    #[test]
    fn adding_months_keeps_the_day_when_it_exists() {
        assert_eq!(add_months(d(2026, 1, 15), 1), d(2026, 2, 15));
        assert_eq!(add_months(d(2026, 3, 31), 1), d(2026, 4, 30));
        assert_eq!(add_months(d(2026, 11, 30), 3), d(2027, 2, 28));
    }

    #[test]
    fn adding_twelve_months_to_a_leap_day_lands_on_the_twenty_eighth() {
        assert_eq!(add_months(d(2028, 2, 29), 12), d(2029, 2, 28));
        assert_eq!(add_months(d(2028, 2, 29), 48), d(2032, 2, 29));
    }

    #[test]
    fn adding_zero_months_changes_nothing() {
        assert_eq!(add_months(d(2026, 5, 13), 0), d(2026, 5, 13));
    }

    #[test]
    fn adding_months_past_the_end_of_the_calendar_saturates_instead_of_panicking() {
        assert_eq!(add_months(NaiveDate::MAX, 1), NaiveDate::MAX);
    }

    #[test]
    fn a_daily_check_in_on_wednesday_is_next_due_thursday() {
        assert_eq!(
            CheckinCadence::Daily.next_due(d(2026, 5, 13), None, &WEEKDAYS),
            d(2026, 5, 14)
        );
    }

    #[test]
    fn a_daily_check_in_on_friday_with_weekday_contact_is_next_due_monday() {
        assert_eq!(
            CheckinCadence::Daily.next_due(d(2026, 5, 15), None, &WEEKDAYS),
            d(2026, 5, 18)
        );
    }

    #[test]
    fn a_daily_check_in_made_on_saturday_is_next_due_monday() {
        assert_eq!(
            CheckinCadence::Daily.next_due(d(2026, 5, 16), None, &WEEKDAYS),
            d(2026, 5, 18)
        );
    }

    #[test]
    fn a_daily_check_in_without_contact_days_is_due_the_next_calendar_day() {
        assert_eq!(
            CheckinCadence::Daily.next_due(d(2026, 5, 15), None, &[]),
            d(2026, 5, 16)
        );
    }

    #[test]
    fn a_daily_check_in_with_a_single_contact_day_is_due_a_week_later() {
        assert_eq!(
            CheckinCadence::Daily.next_due(d(2026, 5, 13), None, &[Wed]),
            d(2026, 5, 20)
        );
    }

    #[test]
    fn a_daily_cadence_ignores_the_preferred_weekday() {
        assert_eq!(
            CheckinCadence::Daily.next_due(d(2026, 5, 13), Some(Mon), &WEEKDAYS),
            d(2026, 5, 14)
        );
    }

    #[test]
    fn a_weekly_check_in_without_a_preferred_day_is_due_seven_days_later() {
        assert_eq!(
            CheckinCadence::Weekly.next_due(d(2026, 5, 13), None, &WEEKDAYS),
            d(2026, 5, 20)
        );
    }

    #[test]
    fn a_weekly_check_in_is_moved_forward_to_the_preferred_weekday() {
        // Wednesday + 7 = Wednesday the 20th, moved forward to Friday the 22nd.
        assert_eq!(
            CheckinCadence::Weekly.next_due(d(2026, 5, 13), Some(Fri), &WEEKDAYS),
            d(2026, 5, 22)
        );
    }

    #[test]
    fn a_weekly_check_in_moves_forward_past_the_weekend_rather_than_back() {
        // Wednesday + 7 lands on Wednesday; Monday is five days further on, never two back.
        assert_eq!(
            CheckinCadence::Weekly.next_due(d(2026, 5, 13), Some(Mon), &WEEKDAYS),
            d(2026, 5, 25)
        );
    }

    #[test]
    fn a_weekly_check_in_already_on_the_preferred_weekday_is_not_moved() {
        assert_eq!(
            CheckinCadence::Weekly.next_due(d(2026, 5, 13), Some(Wed), &WEEKDAYS),
            d(2026, 5, 20)
        );
    }

    #[test]
    fn a_biweekly_check_in_is_due_fourteen_days_later() {
        assert_eq!(
            CheckinCadence::Biweekly.next_due(d(2026, 5, 13), None, &WEEKDAYS),
            d(2026, 5, 27)
        );
    }

    #[test]
    fn a_biweekly_check_in_is_moved_forward_to_the_preferred_weekday() {
        assert_eq!(
            CheckinCadence::Biweekly.next_due(d(2026, 5, 13), Some(Tue), &WEEKDAYS),
            d(2026, 6, 2)
        );
        assert_eq!(
            CheckinCadence::Biweekly.next_due(d(2026, 5, 13), Some(Wed), &WEEKDAYS),
            d(2026, 5, 27)
        );
    }

    #[test]
    fn a_biweekly_check_in_crosses_a_leap_day() {
        assert_eq!(
            CheckinCadence::Biweekly.next_due(d(2028, 2, 20), None, &WEEKDAYS),
            d(2028, 3, 5)
        );
    }

    #[test]
    fn a_monthly_check_in_is_due_a_calendar_month_later_clamped_to_month_end() {
        assert_eq!(
            CheckinCadence::Monthly.next_due(d(2026, 1, 31), Some(Mon), &WEEKDAYS),
            d(2026, 2, 28)
        );
        assert_eq!(
            CheckinCadence::Monthly.next_due(d(2028, 1, 31), None, &WEEKDAYS),
            d(2028, 2, 29)
        );
        assert_eq!(
            CheckinCadence::Monthly.next_due(d(2026, 5, 13), None, &WEEKDAYS),
            d(2026, 6, 13)
        );
    }

    #[test]
    fn a_check_in_due_on_friday_is_overdue_from_monday_with_weekday_contact() {
        assert_eq!(overdue_from(d(2026, 5, 15), &WEEKDAYS), d(2026, 5, 18));
    }

    #[test]
    fn a_check_in_due_on_a_saturday_is_overdue_from_monday_with_weekday_contact() {
        assert_eq!(overdue_from(d(2026, 5, 16), &WEEKDAYS), d(2026, 5, 18));
    }

    #[test]
    fn a_check_in_due_midweek_is_overdue_from_the_next_day() {
        assert_eq!(overdue_from(d(2026, 5, 13), &WEEKDAYS), d(2026, 5, 14));
    }

    #[test]
    fn a_check_in_without_contact_days_is_overdue_from_the_next_calendar_day() {
        assert_eq!(overdue_from(d(2026, 5, 15), &[]), d(2026, 5, 16));
    }

    #[test]
    fn overdue_from_handles_contact_days_given_in_any_order() {
        assert_eq!(overdue_from(d(2026, 5, 13), &[Sat, Mon]), d(2026, 5, 16));
        assert_eq!(overdue_from(d(2026, 5, 16), &[Sat, Mon]), d(2026, 5, 18));
    }

    #[test]
    fn overdue_from_crosses_a_leap_day() {
        // 2028-02-28 is a Monday.
        assert_eq!(overdue_from(d(2028, 2, 28), &WEEKDAYS), d(2028, 2, 29));
        assert_eq!(overdue_from(d(2028, 2, 29), &[Tue]), d(2028, 3, 7));
    }

    #[test]
    fn reviews_and_audits_are_due_by_the_cadence_from_the_completion_date() {
        let done = d(2026, 8, 31);
        assert_eq!(ReviewCadence::Monthly.next_due(done), d(2026, 9, 30));
        assert_eq!(ReviewCadence::Quarterly.next_due(done), d(2026, 11, 30));
        assert_eq!(ReviewCadence::Semiannual.next_due(done), d(2027, 2, 28));
        assert_eq!(ReviewCadence::Annual.next_due(done), d(2027, 8, 31));
    }

    #[test]
    fn an_annual_review_completed_on_a_leap_day_is_next_due_on_the_twenty_eighth() {
        assert_eq!(
            ReviewCadence::Annual.next_due(d(2028, 2, 29)),
            d(2029, 2, 28)
        );
    }

    #[test]
    fn review_cadences_span_one_three_six_and_twelve_months() {
        let months: Vec<u32> = ReviewCadence::ALL.iter().map(|c| c.months()).collect();
        assert_eq!(months, vec![1, 3, 6, 12]);
    }

    #[test]
    fn every_check_in_cadence_round_trips_through_its_stored_form() {
        for cadence in CheckinCadence::ALL {
            assert_eq!(CheckinCadence::parse(cadence.as_str()), Some(cadence));
        }
    }

    #[test]
    fn every_review_cadence_round_trips_through_its_stored_form() {
        for cadence in ReviewCadence::ALL {
            assert_eq!(ReviewCadence::parse(cadence.as_str()), Some(cadence));
        }
    }

    #[test]
    fn cadence_parsing_ignores_case_and_surrounding_space_but_rejects_unknown_words() {
        assert_eq!(
            CheckinCadence::parse(" BiWeekly "),
            Some(CheckinCadence::Biweekly)
        );
        assert_eq!(
            ReviewCadence::parse("SEMIANNUAL"),
            Some(ReviewCadence::Semiannual)
        );
        assert_eq!(CheckinCadence::parse("fortnightly"), None);
        assert_eq!(CheckinCadence::parse(""), None);
        assert_eq!(ReviewCadence::parse("yearly"), None);
        assert_eq!(ReviewCadence::parse("weekly"), None);
    }

    #[test]
    fn cadences_have_the_expected_stored_forms_and_labels() {
        let checkins: Vec<(&str, &str)> = CheckinCadence::ALL
            .iter()
            .map(|c| (c.as_str(), c.label()))
            .collect();
        assert_eq!(
            checkins,
            vec![
                ("daily", "Daily"),
                ("weekly", "Weekly"),
                ("biweekly", "Every two weeks"),
                ("monthly", "Monthly"),
            ]
        );
        let reviews: Vec<(&str, &str)> = ReviewCadence::ALL
            .iter()
            .map(|c| (c.as_str(), c.label()))
            .collect();
        assert_eq!(
            reviews,
            vec![
                ("monthly", "Monthly"),
                ("quarterly", "Quarterly"),
                ("semiannual", "Every six months"),
                ("annual", "Yearly"),
            ]
        );
    }

    #[test]
    fn stored_cadences_are_read_back_only_by_their_exact_stored_names() {
        for cadence in CheckinCadence::ALL {
            assert_eq!(CheckinCadence::from_stored(cadence.as_str()), Some(cadence));
        }
        for cadence in ReviewCadence::ALL {
            assert_eq!(ReviewCadence::from_stored(cadence.as_str()), Some(cadence));
        }
        assert_eq!(CheckinCadence::from_stored("Weekly"), None);
        assert_eq!(CheckinCadence::from_stored(" weekly"), None);
        assert_eq!(ReviewCadence::from_stored("yearly"), None);
        assert_eq!(ReviewCadence::from_stored(""), None);
    }

    #[test]
    fn every_weekday_round_trips_through_its_short_form_full_name_and_iso_number() {
        for day in WEEK {
            assert_eq!(parse_weekday(weekday_short(day)), Some(day));
            assert_eq!(parse_weekday(weekday_name(day)), Some(day));
            assert_eq!(
                parse_weekday(&day.number_from_monday().to_string()),
                Some(day)
            );
        }
    }

    #[test]
    fn weekday_parsing_ignores_case() {
        assert_eq!(parse_weekday("MON"), Some(Mon));
        assert_eq!(parse_weekday("Sunday"), Some(Sun));
        assert_eq!(parse_weekday("tHuRsDaY"), Some(Thu));
        assert_eq!(parse_weekday("7"), Some(Sun));
        assert_eq!(parse_weekday("1"), Some(Mon));
    }

    #[test]
    fn weekday_parsing_rejects_anything_else() {
        for bad in [
            "", "0", "8", "01", "m", "mo", "tues", "mond", "lundi", "monday!",
        ] {
            assert_eq!(parse_weekday(bad), None, "{bad:?} should not parse");
        }
    }

    #[test]
    fn weekday_names_are_capitalised_english() {
        let names: Vec<&str> = WEEK.into_iter().map(weekday_name).collect();
        assert_eq!(
            names,
            vec![
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday"
            ]
        );
    }
}
