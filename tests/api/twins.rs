//! The rules written twice, as SQL functions in the migrations and in Rust, compared over many
//! generated cases: each test runs every case in one query against the real database and
//! checks that the two agree on every one.

use std::fmt::Debug;

use chrono::{Days, NaiveDate, Weekday};
use rust_decimal::Decimal;

// The Rust twins: the one place this file names them.
use trellis::engagements::CheckinCadence;
use trellis::period::Period;
use trellis::scorecard::scoring::{KpiInput, Status, Terms, ValueState, kpi_result};
use trellis::vocab::{Direction, PeriodKind, Source};

use crate::helpers::spawn_app;

/// Each period kind with its stored name.
const KINDS: [(PeriodKind, &str); 3] = [
    (PeriodKind::Weekly, "weekly"),
    (PeriodKind::Monthly, "monthly"),
    (PeriodKind::Quarterly, "quarterly"),
];

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Every day of the spans where calendars trip: month, quarter and year ends; February in
/// leap years (2000, 2024) and in years that are not (1900, 2100, 2026); ISO years of 53 weeks
/// (2020, 2026); a whole ordinary year; and both ends of the years a typed date may name.
fn tricky_days() -> Vec<NaiveDate> {
    let spans = [
        ("1900-01-01", "1900-03-31"),
        ("1999-11-15", "2000-03-31"),
        ("2020-12-01", "2021-03-31"),
        ("2023-12-20", "2024-03-31"),
        ("2026-01-01", "2027-01-15"),
        ("2099-12-20", "2100-03-31"),
        ("2200-10-01", "2200-12-31"),
    ];
    let mut days = Vec::new();
    for (from, to) in spans {
        let (mut day, to) = (date(from), date(to));
        while day <= to {
            days.push(day);
            day = day + Days::new(1);
        }
    }
    days
}

/// Every period of every kind that starts on one of [`tricky_days`].
fn tricky_periods() -> Vec<(Period, &'static str)> {
    let days = tricky_days();
    let mut periods = Vec::new();
    for (kind, stored) in KINDS {
        for day in &days {
            let period = Period::containing(kind, *day);
            if period.start == *day {
                periods.push((period, stored));
            }
        }
    }
    periods
}

/// Every period of every kind in the years a typed date may name (1900 to 2200).
fn every_period() -> Vec<(Period, &'static str)> {
    let last = date("2200-12-31");
    let mut periods = Vec::new();
    for (kind, stored) in KINDS {
        let mut period = Period::containing(kind, date("1900-01-01"));
        while period.start <= last {
            periods.push((period, stored));
            period = period.next();
        }
    }
    periods
}

/// `period` moved `back` periods into the past (forward when negative), one step at a time.
fn back(mut period: Period, back: i32) -> Period {
    for _ in 0..back.unsigned_abs() {
        period = if back > 0 {
            period.previous()
        } else {
            period.next()
        };
    }
    period
}

/// Fails listing the cases where SQL and Rust disagree (the first few of them spelled out).
fn assert_twins<T: PartialEq + Debug>(cases: &[String], sql: &[T], rust: &[T]) {
    assert_eq!(
        sql.len(),
        rust.len(),
        "SQL answered a different number of cases"
    );
    assert_eq!(cases.len(), rust.len());
    let wrong: Vec<String> = cases
        .iter()
        .zip(sql.iter().zip(rust))
        .filter(|(_, (sql, rust))| sql != rust)
        .map(|(case, (sql, rust))| format!("{case}: SQL {sql:?}, Rust {rust:?}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} cases disagree, e.g.\n{}",
        wrong.len(),
        cases.len(),
        wrong[..wrong.len().min(10)].join("\n")
    );
}

#[tokio::test]
async fn the_latest_closed_period_in_sql_follows_the_rust_rule() {
    let app = spawn_app().await;
    let (mut kinds, mut days, mut cases, mut rust) = (vec![], vec![], vec![], vec![]);
    for (kind, stored) in KINDS {
        for day in tricky_days() {
            kinds.push(stored);
            days.push(day);
            cases.push(format!("{stored} on {day}"));
            rust.push(Period::latest_closed(kind, day).start);
        }
    }
    let sql: Vec<NaiveDate> = sqlx::query_scalar(
        "select latest_closed_period(k, d)
         from unnest($1::text[], $2::date[]) with ordinality as t(k, d, n) order by n",
    )
    .bind(&kinds)
    .bind(&days)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(cases.len() > 3000, "{} cases", cases.len());
    assert_twins(&cases, &sql, &rust);
}

#[tokio::test]
async fn a_period_some_periods_back_in_sql_follows_the_rust_rule() {
    let app = spawn_app().await;
    let (mut kinds, mut starts, mut backs) = (vec![], vec![], vec![]);
    let (mut cases, mut rust) = (vec![], vec![]);
    for (period, stored) in tricky_periods() {
        for n in [
            -53, -13, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 11, 12, 13, 53,
        ] {
            kinds.push(stored);
            starts.push(period.start);
            backs.push(n);
            cases.push(format!("{stored} {} back {n}", period.start));
            rust.push(back(period, n).start);
        }
    }
    let sql: Vec<NaiveDate> = sqlx::query_scalar(
        "select period_back(k, s, b)
         from unnest($1::text[], $2::date[], $3::integer[]) with ordinality as t(k, s, b, n)
         order by n",
    )
    .bind(&kinds)
    .bind(&starts)
    .bind(&backs)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(cases.len() > 3000, "{} cases", cases.len());
    assert_twins(&cases, &sql, &rust);
}

/// The rules take a period's last day as the day before the next one starts
/// (`period_back(…, -1)`), where Rust has `Period::end`.
#[tokio::test]
async fn a_period_label_and_last_day_in_sql_follow_the_rust_rule() {
    let app = spawn_app().await;
    let (mut kinds, mut starts, mut cases, mut rust) = (vec![], vec![], vec![], vec![]);
    for (period, stored) in every_period() {
        kinds.push(stored);
        starts.push(period.start);
        cases.push(format!("{stored} {}", period.start));
        rust.push((period.label(), period.end()));
    }
    let sql: Vec<(String, NaiveDate)> = sqlx::query_as(
        "select period_label(k, s), period_back(k, s, -1) - 1
         from unnest($1::text[], $2::date[]) with ordinality as t(k, s, n) order by n",
    )
    .bind(&kinds)
    .bind(&starts)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(cases.len() > 20_000, "{} cases", cases.len());
    assert_twins(&cases, &sql, &rust);
}

/// The celebration rule counts a period as met where the scorecard shows it met: a value that
/// counts (not disputed) on or beyond its target.
#[tokio::test]
async fn a_met_target_in_sql_follows_the_rust_rule() {
    let app = spawn_app().await;
    let targets = [
        "0",
        "1",
        "-1",
        "4",
        "99.5",
        "99.500",
        "0.0001",
        "-273.15",
        "12345.6789",
        "999999999999.99",
        "-999999999999.99",
        "0.0000000000000000000000000001",
    ];
    // Zero in another scale writes the target itself with trailing zeros (99.5 as 99.5000).
    let offsets = [
        "0",
        "0.0000",
        "0.0000000000000000000000000001",
        "0.000000000001",
        "0.001",
        "0.01",
        "0.5",
        "1",
        "100",
        "1000000",
    ];
    let states = [
        (ValueState::Verified, "verified"),
        (ValueState::Unverified, "unverified"),
        (ValueState::Disputed, "disputed"),
    ];
    let directions = [(Direction::Higher, "higher"), (Direction::Lower, "lower")];
    // Long past the period, so that a vendor's missing or disputed value is already breached.
    let period = Period::containing(PeriodKind::Monthly, date("2026-03-01"));
    let today = date("2026-06-01");

    let (mut sql_directions, mut sql_states, mut values, mut sql_targets) =
        (vec![], vec![], vec![], vec![]);
    let (mut cases, mut rust) = (vec![], vec![]);
    for target_text in targets {
        let target: Decimal = target_text.parse().unwrap();
        let mut values_near: Vec<Decimal> = Vec::new();
        for offset in offsets {
            let offset: Decimal = offset.parse().unwrap();
            for value in [target.checked_add(offset), target.checked_sub(offset)] {
                // Equal decimals may be written differently, and both spellings are cases.
                if let Some(value) = value
                    && !values_near
                        .iter()
                        .any(|v| v.to_string() == value.to_string())
                {
                    values_near.push(value);
                }
            }
        }
        for (direction, direction_text) in directions {
            // Any threshold on the bad side: it plays no part in whether the target is met.
            let threshold = match direction {
                Direction::Higher => target - Decimal::TEN,
                Direction::Lower => target + Decimal::TEN,
            };
            let terms = Terms {
                direction,
                target,
                threshold,
                weight: Decimal::ONE_HUNDRED,
                active: true,
            };
            for value in &values_near {
                for (state, state_text) in states {
                    for source in [Source::Manager, Source::Vendor] {
                        let input = KpiInput {
                            source,
                            terms,
                            value: Some((*value, state)),
                        };
                        rust.push(kpi_result(&input, &period, today).status == Status::Met);
                        cases.push(format!(
                            "{direction_text} {state_text} {value} against {target_text} ({source:?})"
                        ));
                        sql_directions.push(direction_text);
                        sql_states.push(state_text);
                        values.push(value.to_string());
                        sql_targets.push(target_text);
                    }
                }
            }
        }
    }
    let sql: Vec<bool> = sqlx::query_scalar(
        "select kpi_met(d, s, v, t)
         from unnest($1::text[], $2::text[], $3::text[]::numeric[], $4::text[]::numeric[])
              with ordinality as c(d, s, v, t, n)
         order by n",
    )
    .bind(&sql_directions)
    .bind(&sql_states)
    .bind(&values)
    .bind(&sql_targets)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(cases.len() > 2000, "{} cases", cases.len());
    assert!(rust.contains(&true) && rust.contains(&false));
    assert_twins(&cases, &sql, &rust);
}

/// Beyond the weeks `scheduler::the_check_in_due_date_in_sql_follows_the_rust_rule` covers:
/// monthly check-ins from the 29th to the 31st, leap days, year ends, and a whole year.
#[tokio::test]
async fn the_check_in_due_date_in_sql_follows_the_rust_rule_across_month_and_year_ends() {
    let app = spawn_app().await;
    let day_sets: [&[i32]; 4] = [&[1, 2, 3, 4, 5], &[1, 7], &[6], &[]];
    let weekday = |d: i32| Weekday::try_from((d - 1) as u8).unwrap();
    let (mut cadences, mut lasts, mut weekdays, mut days_lists) = (vec![], vec![], vec![], vec![]);
    let (mut cases, mut rust) = (vec![], vec![]);
    for last in tricky_days() {
        for cadence in CheckinCadence::ALL {
            for preferred in [None, Some(1), Some(5), Some(7)] {
                for days in day_sets {
                    let contact: Vec<Weekday> = days.iter().map(|d| weekday(*d)).collect();
                    rust.push(cadence.next_due(last, preferred.map(weekday), &contact));
                    let days = days
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(",");
                    cases.push(format!(
                        "{} after {last} (weekday {preferred:?}, days {days})",
                        cadence.as_str()
                    ));
                    cadences.push(cadence.as_str());
                    lasts.push(last);
                    weekdays.push(preferred);
                    days_lists.push(days);
                }
            }
        }
    }
    let sql: Vec<NaiveDate> = sqlx::query_scalar(
        "select checkin_due(c, l, w, ('{' || d || '}')::integer[])
         from unnest($1::text[], $2::date[], $3::integer[], $4::text[]) with ordinality as t(c, l, w, d, n)
         order by n",
    )
    .bind(&cadences)
    .bind(&lasts)
    .bind(&weekdays)
    .bind(&days_lists)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(cases.len() > 60_000, "{} cases", cases.len());
    assert_twins(&cases, &sql, &rust);
}
