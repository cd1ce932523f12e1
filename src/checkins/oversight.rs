//! The oversight balance: is an engagement getting the contact its cadence promises, without
//! tipping into micromanagement? Judged over the last four complete ISO weeks (ending last
//! Sunday) in the engagement's time zone, prorated from its start:
//!
//! * under-engaged when fewer than half of the check-ins the cadence expects were logged;
//! * over-engaged when, in any of those weeks, the routine touches the vendor sees beyond
//!   the cadence (shared ad-hoc check-ins, shared feedback, routine contacts) exceed the
//!   boundary's weekly cap;
//! * balanced otherwise. Over-engaged wins when both apply.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::engagements::{CheckinCadence, iso_weekdays};
use crate::web::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The engagement started after the span ended: nothing to judge yet.
    TooEarly,
    UnderEngaged,
    Balanced,
    OverEngaged,
}

impl State {
    pub fn key(self) -> &'static str {
        match self {
            State::TooEarly => "too_early",
            State::UnderEngaged => "under",
            State::Balanced => "balanced",
            State::OverEngaged => "over",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::TooEarly => "Too early to tell",
            State::UnderEngaged => "Under-engaged",
            State::Balanced => "Balanced",
            State::OverEngaged => "Over-engaged",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Assessment {
    pub state: State,
    pub sentence: String,
}

/// What the rule needs about one engagement.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub today: NaiveDate,
    pub start: NaiveDate,
    pub cadence: CheckinCadence,
    pub contact_days: Vec<Weekday>,
    pub cap: i64,
    /// Check-ins logged between the prorated start of the span and its end.
    pub logged: i64,
    /// Routine touches beyond the cadence, by the Monday of their ISO week.
    pub weekly_touches: Vec<(NaiveDate, i64)>,
}

/// The span: the four complete ISO weeks that end last Sunday.
pub fn span(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let end = today - chrono::Duration::days(i64::from(today.weekday().number_from_monday()));
    (end - chrono::Duration::days(27), end)
}

fn day_month(date: NaiveDate) -> String {
    date.format("%-d %B").to_string()
}

pub fn assess(inputs: &Inputs) -> Assessment {
    let (span_start, span_end) = span(inputs.today);
    let from = span_start.max(inputs.start);
    if from > span_end {
        return Assessment {
            state: State::TooEarly,
            sentence:
                "The engagement is younger than a complete week: too early to judge the balance."
                    .into(),
        };
    }
    let cap = inputs.cap.max(1);
    if let Some((week, touches)) = inputs
        .weekly_touches
        .iter()
        .filter(|(_, n)| *n > cap)
        .max_by_key(|(week, n)| (*n, *week))
    {
        return Assessment {
            state: State::OverEngaged,
            sentence: format!(
                "{touches} routine touches beyond the check-ins in the week of {}; the agreed cap is {cap}.",
                day_month(*week)
            ),
        };
    }
    let days = (span_end - from).num_days() + 1;
    // Compare logged × 2 with the expectation, as a fraction, to stay exact.
    let (numerator, denominator) = match inputs.cadence {
        CheckinCadence::Daily => {
            let contact = from
                .iter_days()
                .take_while(|d| *d <= span_end)
                .filter(|d| {
                    inputs.contact_days.is_empty() || inputs.contact_days.contains(&d.weekday())
                })
                .count() as i64;
            (contact, 1)
        }
        CheckinCadence::Weekly => (days, 7),
        CheckinCadence::Biweekly => (days, 14),
        // A calendar month averages 30.4375 days.
        CheckinCadence::Monthly => (days * 10_000, 304_375),
    };
    let expected_text = {
        let expected = numerator as f64 / denominator as f64;
        if (expected - expected.round()).abs() < 0.05 {
            format!("{}", expected.round())
        } else {
            format!("{expected:.1}")
        }
    };
    let logged = inputs.logged;
    let noun = if logged == 1 { "check-in" } else { "check-ins" };
    let cadence = inputs.cadence.as_str();
    if logged * 2 * denominator < numerator {
        Assessment {
            state: State::UnderEngaged,
            sentence: format!(
                "{logged} {noun} in the last four weeks; the {cadence} cadence expects {expected_text}."
            ),
        }
    } else {
        Assessment {
            state: State::Balanced,
            sentence: format!(
                "{logged} {noun} in the last four weeks (the {cadence} cadence expects {expected_text}); routine touches stayed within {cap} a week."
            ),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    today: NaiveDate,
    start_date: NaiveDate,
    checkin_cadence: CheckinCadence,
    contact_days: Vec<i32>,
    weekly_touch_cap: i32,
    logged: i64,
    weeks: Json<Vec<(NaiveDate, i64)>>,
}

/// Assesses several engagements in one query, whatever their number.
pub async fn assess_many(
    db: &mut PgConnection,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Assessment)>> {
    let rows: Vec<Row> = sqlx::query_as(
        "with e as (
             select e.id, e.start_date, e.time_zone, e.checkin_cadence, b.contact_days, b.weekly_touch_cap,
                    ($2::timestamptz at time zone e.time_zone)::date as today
             from engagements e join boundaries b on b.engagement_id = e.id
             -- The ids through a subquery, whose size the planner never knows: a plan made
             -- for some ids then costs what one made for any ids does, so PostgreSQL keeps
             -- one generic plan instead of planning this statement again on every call.
             where e.id = any(array(select unnest($1::bigint[])))
         ), s as (
             select e.*, e.today - extract(isodow from e.today)::int as span_end,
                    e.today - extract(isodow from e.today)::int - 27 as span_start
             from e
         )
         select s.id, s.today, s.start_date, s.checkin_cadence, s.contact_days, s.weekly_touch_cap,
                (select count(*) from checkins c
                 where c.engagement_id = s.id and c.held_on between greatest(s.span_start, s.start_date) and s.span_end) as logged,
                coalesce((select json_agg(json_build_array(w.week, w.n) order by w.week) from (
                    select date_trunc('week', t.day)::date as week, count(*) as n from (
                        -- Touches are what the vendor sees (`crate::visibility`).
                        select c.held_on as day from visible_checkins(true) c
                        where c.engagement_id = s.id and c.kind = 'ad_hoc'
                        union all
                        select (f.created_at at time zone s.time_zone)::date from visible_feedback(true) f
                        where f.engagement_id = s.id
                        union all
                        select (k.contacted_at at time zone s.time_zone)::date from contacts k
                        where k.engagement_id = s.id and not k.urgent
                    ) t
                    where t.day between s.span_start and s.span_end
                    group by 1) w), '[]') as weeks
         from s",
    )
    .bind(ids)
    .bind(now)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let inputs = Inputs {
                today: row.today,
                start: row.start_date,
                cadence: row.checkin_cadence,
                contact_days: iso_weekdays(&row.contact_days),
                cap: i64::from(row.weekly_touch_cap),
                logged: row.logged,
                weekly_touches: row.weeks.0,
            };
            (row.id, assess(&inputs))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn inputs(logged: i64, weeks: Vec<(NaiveDate, i64)>) -> Inputs {
        Inputs {
            // A Sunday: the span is the four weeks before it, 26 Oct to 22 Nov 2026.
            today: date("2026-11-29"),
            start: date("2025-01-01"),
            cadence: CheckinCadence::Weekly,
            contact_days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            cap: 3,
            logged,
            weekly_touches: weeks,
        }
    }

    #[test]
    fn the_span_is_the_four_complete_iso_weeks_ending_last_sunday() {
        assert_eq!(
            span(date("2026-11-29")),
            (date("2026-10-26"), date("2026-11-22"))
        );
        assert_eq!(
            span(date("2026-11-30")),
            (date("2026-11-02"), date("2026-11-29"))
        );
    }

    #[test]
    fn four_weekly_check_ins_and_few_touches_are_balanced() {
        assert_eq!(
            assess(&inputs(4, vec![(date("2026-11-09"), 3)])).state,
            State::Balanced
        );
        assert_eq!(
            assess(&inputs(2, vec![])).state,
            State::Balanced,
            "half is enough"
        );
    }

    #[test]
    fn fewer_than_half_the_expected_check_ins_is_under_engaged() {
        let a = assess(&inputs(1, vec![]));
        assert_eq!(a.state, State::UnderEngaged);
        assert_eq!(
            a.sentence,
            "1 check-in in the last four weeks; the weekly cadence expects 4."
        );
    }

    #[test]
    fn touches_above_the_cap_in_any_week_are_over_engaged_and_win_over_under() {
        let a = assess(&inputs(
            0,
            vec![(date("2026-11-02"), 2), (date("2026-11-09"), 4)],
        ));
        assert_eq!(a.state, State::OverEngaged);
        assert_eq!(
            a.sentence,
            "4 routine touches beyond the check-ins in the week of 9 November; the agreed cap is 3."
        );
    }

    #[test]
    fn a_young_engagement_is_prorated_from_its_start() {
        let mut young = inputs(1, vec![]);
        young.start = date("2026-11-16"); // one week of the span: one check-in expected
        assert_eq!(assess(&young).state, State::Balanced);
        young.logged = 0;
        assert_eq!(assess(&young).state, State::UnderEngaged);
        young.start = date("2026-11-24");
        assert_eq!(assess(&young).state, State::TooEarly);
    }

    #[test]
    fn daily_cadences_expect_one_check_in_per_contact_day() {
        let mut daily = inputs(10, vec![]);
        daily.cadence = CheckinCadence::Daily; // 20 contact days in the span
        assert_eq!(assess(&daily).state, State::Balanced);
        daily.logged = 9;
        assert_eq!(assess(&daily).state, State::UnderEngaged);
    }

    #[test]
    fn a_monthly_cadence_expects_about_one_check_in() {
        let mut monthly = inputs(1, vec![]);
        monthly.cadence = CheckinCadence::Monthly;
        assert_eq!(assess(&monthly).state, State::Balanced);
        monthly.logged = 0;
        assert_eq!(assess(&monthly).state, State::UnderEngaged);
    }
}
