//! An engagement's contact window: which instants fall inside it, and when it next opens.
//!
//! Rules, all evaluated in the engagement's own time zone:
//!
//! * `days` are the days a window *starts* on. A window whose end is before its start runs
//!   overnight and belongs to the day it starts, so Friday 22:00–06:00 covers early Saturday
//!   but Saturday evening is not covered unless Saturday is a contact day too.
//! * `start == end` is a whole-day window: it runs until the same wall-clock time on the next
//!   day. That is 24 wall-clock hours; across a daylight-saving change it is 23 or 25 real
//!   hours, which keeps consecutive whole-day windows seamless instead of leaving an hour
//!   uncovered every autumn.
//! * A start inside a daylight-saving gap opens at the first valid instant after the gap; a
//!   start inside a repeated hour opens at the earlier of the two instants.
//! * An end inside a gap closes at the first valid instant after the gap; an end inside a
//!   repeated hour closes at the later instant. Together with the opening rule this means DST
//!   ambiguity only ever widens a window, never narrows it.
//! * A window that resolves to nothing (both ends in the same gap) does not exist that day.

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactWindow {
    /// Contact days: the days a window starts on.
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub zone: Tz,
}

/// Far enough ahead to reach the same weekday next week from any point in this week.
const SEARCH_DAYS_AHEAD: u64 = 8;

/// An overnight window ends the day after it starts, and resolving an end inside a gap can push
/// it one more local day on in zones that change at midnight, so two days back is enough.
const SEARCH_DAYS_BEHIND: u64 = 2;

impl ContactWindow {
    /// The window (opens, closes) that contains `at`, if `at` is inside one. Opens inclusive, closes exclusive.
    ///
    /// If windows overlap (possible only around a DST change), the one that opened first wins.
    pub fn current(&self, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let today = self.local_date(at);
        let first = today.checked_sub_days(Days::new(SEARCH_DAYS_BEHIND))?;
        // A window starting tomorrow can only hold `at` if local time runs backwards over
        // midnight, but checking it costs nothing.
        let last = today.checked_add_days(Days::new(1))?;
        first
            .iter_days()
            .take_while(|day| *day <= last)
            .filter_map(|day| self.window_starting_on(day))
            .find(|(opens, closes)| *opens <= at && at < *closes)
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.current(at).is_some()
    }

    /// The next instant strictly after `at` at which a window opens (if `at` is inside a window, the opening of the following one). None when `days` is empty.
    pub fn next_opening(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.days.is_empty() {
            return None;
        }
        let today = self.local_date(at);
        // Yesterday is included because a start in a gap just before midnight can open today.
        let first = today.checked_sub_days(Days::new(1))?;
        let last = today.checked_add_days(Days::new(SEARCH_DAYS_AHEAD))?;
        first
            .iter_days()
            .take_while(|day| *day <= last)
            .filter_map(|day| self.window_starting_on(day))
            .map(|(opens, _)| opens)
            .filter(|opens| *opens > at)
            .min()
    }

    /// The earliest instant at or after `at` that is inside a window: `at` itself when inside, else next_opening. (Used to hold routine e-mail until the window opens.)
    pub fn earliest_delivery(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.contains(at) {
            Some(at)
        } else {
            self.next_opening(at)
        }
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }

    /// The resolved (opens, closes) of the window that starts on `day`, if `day` is a contact
    /// day and the window is not swallowed by a DST gap.
    fn window_starting_on(&self, day: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.days.contains(&day.weekday()) {
            return None;
        }
        let end_day = if self.end <= self.start {
            day.checked_add_days(Days::new(1))?
        } else {
            day
        };
        let opens = self.resolve_opening(day.and_time(self.start))?;
        let closes = self.resolve_closing(end_day.and_time(self.end))?;
        (opens < closes).then_some((opens, closes))
    }

    fn resolve_opening(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.zone.from_local_datetime(&local).earliest() {
            Some(t) => Some(t.with_timezone(&Utc)),
            None => first_instant_not_before(self.zone, local),
        }
    }

    fn resolve_closing(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.zone.from_local_datetime(&local).latest() {
            Some(t) => Some(t.with_timezone(&Utc)),
            None => first_instant_not_before(self.zone, local),
        }
    }
}

/// The first instant whose local time is at or after `local`. Called only for a `local` inside
/// a gap, where that is the transition instant that ends the gap.
///
/// Binary search on UTC seconds rather than stepping wall-clock minutes, because historical
/// transitions are not always minute-aligned and some gaps (Samoa, 2011) last a whole day.
fn first_instant_not_before(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    // Real offsets lie within -12h..=+14h, so these bounds bracket the answer with a margin.
    let as_utc = local.and_utc().timestamp();
    let mut below = as_utc - 15 * 3600;
    let mut at_or_above = as_utc + 13 * 3600;
    let local_at = |secs: i64| -> Option<NaiveDateTime> {
        let instant = DateTime::from_timestamp(secs, 0)?;
        Some(instant.with_timezone(&zone).naive_local())
    };
    // A fold inside the bracket would make the predicate non-monotonic; check the invariant
    // instead of trusting it.
    if local_at(below)? >= local || local_at(at_or_above)? < local {
        return None;
    }
    while at_or_above - below > 1 {
        let mid = below + (at_or_above - below) / 2;
        if local_at(mid)? >= local {
            at_or_above = mid;
        } else {
            below = mid;
        }
    }
    DateTime::from_timestamp(at_or_above, 0)
}

/// A human summary of days like "Monday to Friday", "Monday, Wednesday and Friday", "every day", "Saturday and Sunday". Days are given in any order; present them Monday-first; consecutive runs of 3+ days use "X to Y".
///
/// Runs do not wrap past Sunday, so a Monday-first reading never starts mid-list. No days
/// reads as "no days" so a misconfigured engagement is visible rather than blank.
pub fn describe_days(days: &[Weekday]) -> String {
    let mut present = [false; 7];
    for day in days {
        present[day.num_days_from_monday() as usize] = true;
    }
    if present.iter().all(|p| *p) {
        return "every day".to_string();
    }

    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    while index < 7 {
        if !present[index] {
            index += 1;
            continue;
        }
        let run_start = index;
        while index < 7 && present[index] {
            index += 1;
        }
        let run_end = index - 1;
        if run_end - run_start >= 2 {
            parts.push(format!("{} to {}", day_name(run_start), day_name(run_end)));
        } else {
            parts.extend((run_start..=run_end).map(|i| day_name(i).to_string()));
        }
    }

    match parts.split_last() {
        None => "no days".to_string(),
        Some((only, [])) => only.clone(),
        Some((last, rest)) => format!("{} and {}", rest.join(", "), last),
    }
}

/// Kept local rather than shared with the cadence module so this file stands alone.
fn day_name(index_from_monday: usize) -> &'static str {
    const NAMES: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    NAMES[index_from_monday % 7]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday::{Fri, Mon, Sat, Sun, Thu, Tue, Wed};
    use chrono_tz::{America, Asia, Europe};

    const WEEKDAYS: [Weekday; 5] = [Mon, Tue, Wed, Thu, Fri];
    const EVERY_DAY: [Weekday; 7] = [Mon, Tue, Wed, Thu, Fri, Sat, Sun];

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid test time")
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("valid test instant")
    }

    /// Test helper for unambiguous local times only.
    fn local(zone: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        zone.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("unambiguous test local time")
            .with_timezone(&Utc)
    }

    fn window(days: &[Weekday], start: NaiveTime, end: NaiveTime, zone: Tz) -> ContactWindow {
        ContactWindow {
            days: days.to_vec(),
            start,
            end,
            zone,
        }
    }

    fn office_hours(zone: Tz) -> ContactWindow {
        window(&WEEKDAYS, hm(9, 0), hm(17, 0), zone)
    }

    // 2026-05-13 is a Wednesday; 2026-05-15 a Friday; 2026-05-16 a Saturday.

    #[test]
    fn an_instant_during_office_hours_is_inside_the_window() {
        let w = office_hours(Europe::London);
        let at = local(Europe::London, 2026, 5, 13, 12, 0);
        assert!(w.contains(at));
        assert_eq!(
            w.current(at),
            Some((
                local(Europe::London, 2026, 5, 13, 9, 0),
                local(Europe::London, 2026, 5, 13, 17, 0)
            ))
        );
    }

    #[test]
    fn an_instant_before_the_window_opens_is_outside_it() {
        let w = office_hours(Europe::London);
        assert!(!w.contains(local(Europe::London, 2026, 5, 13, 8, 59)));
    }

    #[test]
    fn the_opening_instant_is_inside_and_the_closing_instant_is_outside() {
        let w = office_hours(Europe::London);
        assert!(w.contains(local(Europe::London, 2026, 5, 13, 9, 0)));
        assert!(!w.contains(local(Europe::London, 2026, 5, 13, 17, 0)));
    }

    #[test]
    fn the_window_is_judged_in_its_own_zone_not_in_utc() {
        let w = office_hours(America::New_York);
        // 14:00 UTC is 10:00 in New York in May.
        assert!(w.contains(utc(2026, 5, 13, 14, 0)));
        // 22:00 UTC is 18:00 in New York: closed, though it is still "Wednesday" in both.
        assert!(!w.contains(utc(2026, 5, 13, 22, 0)));
    }

    #[test]
    fn a_weekend_midday_is_outside_a_weekday_window() {
        let w = office_hours(Europe::London);
        assert!(!w.contains(local(Europe::London, 2026, 5, 16, 12, 0)));
        assert!(!w.contains(local(Europe::London, 2026, 5, 17, 12, 0)));
    }

    #[test]
    fn a_window_with_no_contact_days_contains_nothing_and_never_opens() {
        let w = window(&[], hm(9, 0), hm(17, 0), Europe::London);
        let at = local(Europe::London, 2026, 5, 13, 12, 0);
        assert!(!w.contains(at));
        assert_eq!(w.next_opening(at), None);
        assert_eq!(w.earliest_delivery(at), None);
    }

    #[test]
    fn an_overnight_window_starting_friday_contains_early_saturday() {
        let w = window(&[Fri], hm(22, 0), hm(6, 0), Europe::London);
        let at = local(Europe::London, 2026, 5, 16, 3, 0);
        assert_eq!(
            w.current(at),
            Some((
                local(Europe::London, 2026, 5, 15, 22, 0),
                local(Europe::London, 2026, 5, 16, 6, 0)
            ))
        );
    }

    #[test]
    fn an_overnight_window_starting_only_friday_does_not_contain_saturday_night() {
        let w = window(&[Fri], hm(22, 0), hm(6, 0), Europe::London);
        assert!(!w.contains(local(Europe::London, 2026, 5, 16, 23, 0)));
    }

    #[test]
    fn an_overnight_window_is_closed_between_its_end_and_the_next_start() {
        let w = window(&EVERY_DAY, hm(22, 0), hm(6, 0), Europe::London);
        assert!(!w.contains(local(Europe::London, 2026, 5, 13, 12, 0)));
        assert!(w.contains(local(Europe::London, 2026, 5, 13, 23, 30)));
        assert!(!w.contains(local(Europe::London, 2026, 5, 14, 6, 0)));
    }

    #[test]
    fn an_overnight_window_does_not_cover_the_early_hours_of_a_contact_day_whose_eve_is_not_one() {
        // Monday 03:00 belongs to Sunday night's window, and Sunday is not a contact day.
        let w = window(&WEEKDAYS, hm(22, 0), hm(6, 0), Europe::London);
        assert!(!w.contains(local(Europe::London, 2026, 5, 18, 3, 0)));
        assert!(w.contains(local(Europe::London, 2026, 5, 16, 3, 0)));
    }

    #[test]
    fn a_window_whose_start_equals_its_end_covers_the_whole_day() {
        let w = window(&[Wed], hm(9, 0), hm(9, 0), Europe::London);
        assert_eq!(
            w.current(local(Europe::London, 2026, 5, 14, 8, 59)),
            Some((
                local(Europe::London, 2026, 5, 13, 9, 0),
                local(Europe::London, 2026, 5, 14, 9, 0)
            ))
        );
        assert!(!w.contains(local(Europe::London, 2026, 5, 14, 9, 0)));
        assert!(!w.contains(local(Europe::London, 2026, 5, 13, 8, 59)));
    }

    #[test]
    fn a_whole_day_window_starting_at_midnight_is_the_calendar_day() {
        let w = window(&[Wed], hm(0, 0), hm(0, 0), Asia::Kolkata);
        assert_eq!(
            w.current(local(Asia::Kolkata, 2026, 5, 13, 23, 59)),
            Some((
                local(Asia::Kolkata, 2026, 5, 13, 0, 0),
                local(Asia::Kolkata, 2026, 5, 14, 0, 0)
            ))
        );
    }

    #[test]
    fn whole_day_windows_every_day_leave_no_hole_across_the_autumn_change() {
        let w = window(&EVERY_DAY, hm(9, 0), hm(9, 0), America::New_York);
        // Sweep 2026-10-31 .. 2026-11-03 UTC in 15-minute steps.
        let mut at = utc(2026, 10, 31, 0, 0);
        while at < utc(2026, 11, 3, 0, 0) {
            assert!(w.contains(at), "hole at {at}");
            at += chrono::Duration::minutes(15);
        }
    }

    #[test]
    fn a_whole_day_window_spanning_the_autumn_change_lasts_twenty_five_hours() {
        let w = window(&[Sat], hm(9, 0), hm(9, 0), America::New_York);
        let (opens, closes) = w
            .current(local(America::New_York, 2026, 10, 31, 12, 0))
            .expect("inside");
        assert_eq!(closes - opens, chrono::Duration::hours(25));
    }

    // Europe/Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.

    #[test]
    fn a_window_starting_in_a_spring_forward_gap_opens_at_the_first_valid_instant() {
        let w = window(&[Sun], hm(2, 30), hm(10, 0), Europe::Berlin);
        let at = utc(2026, 3, 29, 1, 0);
        assert_eq!(w.current(at), Some((at, utc(2026, 3, 29, 8, 0))));
        assert!(!w.contains(utc(2026, 3, 29, 0, 59)));
    }

    #[test]
    fn next_opening_before_a_spring_forward_gap_finds_the_end_of_the_gap() {
        let w = window(&[Sun], hm(2, 30), hm(10, 0), Europe::Berlin);
        assert_eq!(
            w.next_opening(utc(2026, 3, 28, 12, 0)),
            Some(utc(2026, 3, 29, 1, 0))
        );
    }

    #[test]
    fn a_window_ending_in_a_spring_forward_gap_closes_at_the_first_valid_instant() {
        let w = window(&[Sun], hm(0, 0), hm(2, 30), Europe::Berlin);
        assert_eq!(
            w.current(utc(2026, 3, 29, 0, 30)),
            Some((utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 1, 0)))
        );
        assert!(!w.contains(utc(2026, 3, 29, 1, 0)));
    }

    #[test]
    fn an_overnight_window_ending_in_a_spring_forward_gap_closes_when_the_gap_ends() {
        let w = window(&[Sat], hm(22, 0), hm(2, 30), Europe::Berlin);
        assert_eq!(
            w.current(utc(2026, 3, 29, 0, 59)),
            Some((utc(2026, 3, 28, 21, 0), utc(2026, 3, 29, 1, 0)))
        );
    }

    #[test]
    fn a_window_lying_entirely_inside_a_spring_forward_gap_does_not_open_that_day() {
        let w = window(&[Sun], hm(2, 10), hm(2, 50), Europe::Berlin);
        assert!(!w.contains(utc(2026, 3, 29, 1, 0)));
        assert_eq!(
            w.next_opening(utc(2026, 3, 28, 12, 0)),
            Some(local(Europe::Berlin, 2026, 4, 5, 2, 10))
        );
    }

    // Pacific/Apia skipped Friday 2011-12-30 entirely: Thursday 23:59:59 (-10:00) was followed
    // by Saturday 00:00 (+14:00), at 10:00 UTC on the 30th.

    #[test]
    fn a_window_on_a_day_skipped_entirely_never_opens_and_the_search_moves_on() {
        let w = window(&[Fri, Sat], hm(9, 0), hm(17, 0), chrono_tz::Pacific::Apia);
        assert_eq!(
            w.next_opening(utc(2011, 12, 29, 12, 0)),
            Some(utc(2011, 12, 30, 19, 0))
        );
    }

    #[test]
    fn an_overnight_window_ending_on_a_skipped_day_closes_when_the_skip_ends() {
        let w = window(&[Thu], hm(22, 0), hm(6, 0), chrono_tz::Pacific::Apia);
        assert_eq!(
            w.current(utc(2011, 12, 30, 9, 0)),
            Some((utc(2011, 12, 30, 8, 0), utc(2011, 12, 30, 10, 0)))
        );
    }

    // Europe/Berlin 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00 UTC, so 02:xx
    // happens at 00:xx UTC and again at 01:xx UTC.

    #[test]
    fn a_window_starting_in_a_repeated_hour_opens_at_the_earlier_instant() {
        let w = window(&[Sun], hm(2, 30), hm(10, 0), Europe::Berlin);
        let (opens, closes) = w.current(utc(2026, 10, 25, 0, 30)).expect("inside");
        assert_eq!(opens, utc(2026, 10, 25, 0, 30));
        assert_eq!(closes, utc(2026, 10, 25, 9, 0));
        assert!(!w.contains(utc(2026, 10, 25, 0, 29)));
    }

    #[test]
    fn a_window_ending_in_a_repeated_hour_closes_at_the_later_instant() {
        let w = window(&[Sun], hm(0, 0), hm(2, 30), Europe::Berlin);
        assert_eq!(
            w.current(utc(2026, 10, 25, 1, 15)),
            Some((utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 1, 30)))
        );
        assert!(!w.contains(utc(2026, 10, 25, 1, 30)));
    }

    #[test]
    fn a_window_inside_a_repeated_hour_spans_both_passes_of_it() {
        let w = window(&[Sun], hm(2, 10), hm(2, 20), Europe::Berlin);
        assert_eq!(
            w.current(utc(2026, 10, 25, 0, 45)),
            Some((utc(2026, 10, 25, 0, 10), utc(2026, 10, 25, 1, 20)))
        );
    }

    // America/New_York 2026-03-08: 02:00 EST jumps to 03:00 EDT at 07:00 UTC.
    // America/New_York 2026-11-01: 02:00 EDT falls back to 01:00 EST at 06:00 UTC.

    #[test]
    fn a_new_york_window_starting_in_the_march_gap_opens_at_three_am_daylight_time() {
        let w = window(&[Sun], hm(2, 15), hm(5, 0), America::New_York);
        assert_eq!(
            w.current(utc(2026, 3, 8, 7, 0)),
            Some((utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 9, 0)))
        );
        assert!(!w.contains(utc(2026, 3, 8, 6, 59)));
    }

    #[test]
    fn a_new_york_overnight_window_across_the_march_change_is_one_hour_shorter() {
        let w = window(&[Sat], hm(22, 0), hm(6, 0), America::New_York);
        let (opens, closes) = w.current(utc(2026, 3, 8, 5, 0)).expect("inside");
        assert_eq!(opens, utc(2026, 3, 8, 3, 0));
        assert_eq!(closes, utc(2026, 3, 8, 10, 0));
    }

    #[test]
    fn a_new_york_window_starting_in_the_november_repeated_hour_opens_at_the_earlier_instant() {
        let w = window(&[Sun], hm(1, 30), hm(4, 0), America::New_York);
        assert_eq!(
            w.current(utc(2026, 11, 1, 5, 30)),
            Some((utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 9, 0)))
        );
        assert_eq!(
            w.next_opening(utc(2026, 10, 31, 20, 0)),
            Some(utc(2026, 11, 1, 5, 30))
        );
    }

    #[test]
    fn a_new_york_window_ending_in_the_november_repeated_hour_closes_at_the_later_instant() {
        let w = window(&[Sat], hm(22, 0), hm(1, 30), America::New_York);
        assert_eq!(
            w.current(utc(2026, 11, 1, 6, 15)),
            Some((utc(2026, 11, 1, 2, 0), utc(2026, 11, 1, 6, 30)))
        );
    }

    #[test]
    fn next_opening_from_inside_a_window_is_the_next_days_opening() {
        let w = office_hours(Europe::London);
        assert_eq!(
            w.next_opening(local(Europe::London, 2026, 5, 13, 12, 0)),
            Some(local(Europe::London, 2026, 5, 14, 9, 0))
        );
    }

    #[test]
    fn next_opening_at_the_exact_opening_instant_is_the_following_one() {
        let w = office_hours(Europe::London);
        assert_eq!(
            w.next_opening(local(Europe::London, 2026, 5, 13, 9, 0)),
            Some(local(Europe::London, 2026, 5, 14, 9, 0))
        );
    }

    #[test]
    fn next_opening_before_the_window_is_later_the_same_day() {
        let w = office_hours(Europe::London);
        assert_eq!(
            w.next_opening(local(Europe::London, 2026, 5, 13, 7, 0)),
            Some(local(Europe::London, 2026, 5, 13, 9, 0))
        );
    }

    #[test]
    fn next_opening_on_friday_evening_is_monday_morning() {
        let w = office_hours(Europe::London);
        assert_eq!(
            w.next_opening(local(Europe::London, 2026, 5, 15, 18, 0)),
            Some(local(Europe::London, 2026, 5, 18, 9, 0))
        );
    }

    #[test]
    fn next_opening_of_a_weekly_window_just_missed_is_seven_days_later() {
        let w = window(&[Wed], hm(9, 0), hm(10, 0), Europe::London);
        assert_eq!(
            w.next_opening(local(Europe::London, 2026, 5, 13, 9, 30)),
            Some(local(Europe::London, 2026, 5, 20, 9, 0))
        );
    }

    #[test]
    fn next_opening_of_an_overnight_window_seen_after_midnight_is_that_evening() {
        let w = window(&EVERY_DAY, hm(22, 0), hm(6, 0), Europe::London);
        assert_eq!(
            w.next_opening(local(Europe::London, 2026, 5, 14, 3, 0)),
            Some(local(Europe::London, 2026, 5, 14, 22, 0))
        );
    }

    #[test]
    fn earliest_delivery_inside_a_window_is_now() {
        let w = office_hours(Europe::London);
        let at = local(Europe::London, 2026, 5, 13, 12, 0);
        assert_eq!(w.earliest_delivery(at), Some(at));
    }

    #[test]
    fn earliest_delivery_on_saturday_is_held_until_monday_opening() {
        let w = office_hours(Europe::London);
        assert_eq!(
            w.earliest_delivery(local(Europe::London, 2026, 5, 16, 12, 0)),
            Some(local(Europe::London, 2026, 5, 18, 9, 0))
        );
    }

    #[test]
    fn a_kolkata_window_uses_the_fixed_half_hour_offset() {
        let w = office_hours(Asia::Kolkata);
        // 09:00 IST is 03:30 UTC all year round.
        assert_eq!(
            w.current(utc(2026, 1, 14, 3, 30)),
            Some((utc(2026, 1, 14, 3, 30), utc(2026, 1, 14, 11, 30)))
        );
        assert_eq!(
            w.next_opening(utc(2026, 7, 15, 12, 0)),
            Some(utc(2026, 7, 16, 3, 30))
        );
        assert!(!w.contains(utc(2026, 7, 15, 3, 29)));
    }

    #[test]
    fn describe_days_names_weekdays_as_a_range() {
        assert_eq!(describe_days(&WEEKDAYS), "Monday to Friday");
    }

    #[test]
    fn describe_days_lists_separate_days_with_and_before_the_last() {
        assert_eq!(
            describe_days(&[Mon, Wed, Fri]),
            "Monday, Wednesday and Friday"
        );
    }

    #[test]
    fn describe_days_calls_all_seven_every_day() {
        assert_eq!(describe_days(&EVERY_DAY), "every day");
    }

    #[test]
    fn describe_days_joins_two_adjacent_days_with_and_not_to() {
        assert_eq!(describe_days(&[Sun, Sat]), "Saturday and Sunday");
    }

    #[test]
    fn describe_days_orders_monday_first_and_ignores_duplicates() {
        assert_eq!(
            describe_days(&[Fri, Mon, Wed, Mon]),
            "Monday, Wednesday and Friday"
        );
    }

    #[test]
    fn describe_days_mixes_ranges_and_single_days() {
        assert_eq!(
            describe_days(&[Mon, Tue, Wed, Fri]),
            "Monday to Wednesday and Friday"
        );
        assert_eq!(
            describe_days(&[Sun, Mon, Tue, Wed, Thu, Fri]),
            "Monday to Friday and Sunday"
        );
    }

    #[test]
    fn describe_days_does_not_wrap_a_run_past_sunday() {
        assert_eq!(
            describe_days(&[Sat, Sun, Mon]),
            "Monday, Saturday and Sunday"
        );
    }

    #[test]
    fn describe_days_handles_one_day_and_none() {
        assert_eq!(describe_days(&[Thu]), "Thursday");
        assert_eq!(describe_days(&[]), "no days");
    }
}
