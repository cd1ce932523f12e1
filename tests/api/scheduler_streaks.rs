//! The celebration rule's streaks, found set-based over every KPI at once: pinned case by
//! case (higher and lower is better, terms changing mid-streak, gaps, disputes, inactive
//! terms, weeks), and compared over many generated KPIs with the same rule told in Rust from
//! the scorecard's own pieces (`Period`, `terms_on`, `kpi_result`), in the three ways a run
//! of the rules looks at KPIs: one engagement after a write, a pass over every KPI, and a pass
//! over the KPIs written since the last one.

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use trellis::period::Period;
use trellis::scheduler;
use trellis::scorecard::scoring::{KpiInput, Status, Terms, ValueState, kpi_result, terms_on};
use trellis::vocab::{Direction, PeriodKind, Source};

use crate::helpers::{TestApp, spawn_app_with};

/// Tuesday 10 November 2026, 11:00 in Berlin: the latest closed month is October, the latest
/// closed week starts on Monday 2 November, the latest closed quarter is the third.
fn tuesday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 10, 10, 0, 0).unwrap()
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A manager and an active engagement of a vendor of its own, scored by `kind`.
async fn engagement(app: &TestApp, vendor: &str, kind: &str) -> (i64, i64) {
    let s = crate::scheduler::setup(app, vendor).await;
    sqlx::query("update engagements set scorecard_period = $2 where id = $1")
        .bind(s.engagement)
        .bind(kind)
        .execute(&app.pool)
        .await
        .unwrap();
    (s.engagement, s.manager.id)
}

/// A KPI of an engagement: its direction and its terms as (effective from, target, active).
#[derive(Debug, Clone)]
struct Kpi {
    name: String,
    direction: Direction,
    terms: Vec<(NaiveDate, Decimal, bool)>,
    /// (period start, value, state)
    values: Vec<(NaiveDate, Decimal, ValueState)>,
}

fn direction_text(direction: Direction) -> &'static str {
    match direction {
        Direction::Higher => "higher",
        Direction::Lower => "lower",
    }
}

fn state_text(state: ValueState) -> &'static str {
    match state {
        ValueState::Verified => "verified",
        ValueState::Unverified => "unverified",
        ValueState::Disputed => "disputed",
    }
}

/// Any threshold on the bad side: it plays no part in whether the target is met.
fn threshold(direction: Direction, target: Decimal) -> Decimal {
    match direction {
        Direction::Higher => target - Decimal::TEN,
        Direction::Lower => target + Decimal::TEN,
    }
}

/// Stores the KPIs of an engagement with their terms and values (recorded at `at`), in a few
/// statements whatever their number; returns their ids in order.
async fn store(
    app: &TestApp,
    engagement: i64,
    by: i64,
    at: DateTime<Utc>,
    kpis: &[Kpi],
) -> Vec<i64> {
    let names: Vec<&str> = kpis.iter().map(|k| k.name.as_str()).collect();
    let directions: Vec<&str> = kpis.iter().map(|k| direction_text(k.direction)).collect();
    let ids: Vec<i64> = sqlx::query_scalar(
        "insert into kpis (engagement_id, name, direction, source)
         select $1, n, d, 'manager' from unnest($2::text[], $3::text[]) with ordinality as t(n, d, o)
         order by o returning id",
    )
    .bind(engagement)
    .bind(&names)
    .bind(&directions)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let (mut term_kpis, mut froms, mut targets, mut thresholds, mut actives) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut value_kpis, mut starts, mut values, mut states) = (vec![], vec![], vec![], vec![]);
    for (kpi, id) in kpis.iter().zip(&ids) {
        for (from, target, active) in &kpi.terms {
            term_kpis.push(*id);
            froms.push(*from);
            targets.push(target.to_string());
            thresholds.push(threshold(kpi.direction, *target).to_string());
            actives.push(*active);
        }
        for (start, value, state) in &kpi.values {
            value_kpis.push(*id);
            starts.push(*start);
            values.push(value.to_string());
            states.push(state_text(*state));
        }
    }
    sqlx::query(
        "insert into kpi_terms (kpi_id, effective_from, target, threshold, weight, active, changed_at)
         select k, f, t::numeric, th::numeric, 10, a, $6
         from unnest($1::bigint[], $2::date[], $3::text[], $4::text[], $5::boolean[]) as u(k, f, t, th, a)",
    )
    .bind(&term_kpis)
    .bind(&froms)
    .bind(&targets)
    .bind(&thresholds)
    .bind(&actives)
    .bind(at)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into kpi_values (kpi_id, period_start, value, state, recorded_by, recorded_at)
         select k, p, v::numeric, s, $5, $6
         from unnest($1::bigint[], $2::date[], $3::text[], $4::text[]) as u(k, p, v, s)",
    )
    .bind(&value_kpis)
    .bind(&starts)
    .bind(&values)
    .bind(&states)
    .bind(by)
    .bind(at)
    .execute(&app.pool)
    .await
    .unwrap();
    ids
}

/// The celebration the rule wants for a KPI, told in Rust: the length of its run of met
/// periods back from the latest closed one (met as the scorecard shows it, under the terms in
/// force on the period's last day), suggested once it is three to five long, keyed by the
/// run's first period. A run of six was suggested when it reached three.
fn rust_celebration(kind: PeriodKind, today: NaiveDate, id: i64, kpi: &Kpi) -> Option<String> {
    let history: Vec<(NaiveDate, Terms)> = kpi
        .terms
        .iter()
        .map(|(from, target, active)| {
            let terms = Terms {
                direction: kpi.direction,
                target: *target,
                threshold: threshold(kpi.direction, *target),
                weight: Decimal::TEN,
                active: *active,
            };
            (*from, terms)
        })
        .collect();
    let met = |period: &Period| {
        let Some(terms) = terms_on(&history, period.end()).filter(|t| t.active) else {
            return false;
        };
        let value = kpi
            .values
            .iter()
            .find(|(start, _, _)| *start == period.start)
            .map(|(_, value, state)| (*value, *state));
        let input = KpiInput {
            source: Source::Manager,
            terms,
            value,
        };
        kpi_result(&input, period, today).status == Status::Met
    };
    let periods = Period::latest_closed_n(kind, today, 6);
    let length = periods.iter().position(|p| !met(p)).unwrap_or(6);
    (3..=5).contains(&length).then(|| {
        format!(
            "celebration:{id}:{}|{} met its target {length} periods in a row",
            periods[length - 1].start,
            kpi.name
        )
    })
}

/// The open celebrations as "key|title", with the KPI and engagement each names checked.
async fn celebrations(app: &TestApp) -> BTreeSet<String> {
    let rows: Vec<(String, String, bool)> = sqlx::query_as(
        "select r.dedupe_key, r.title, r.subject_id = k.id and r.engagement_id = k.engagement_id
         from reminders r join kpis k on r.dedupe_key like 'celebration:' || k.id || ':%'
         where r.kind = 'celebration' and r.resolved_at is null",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(rows.iter().all(|(_, _, names_its_kpi)| *names_its_kpi));
    rows.into_iter()
        .map(|(key, title, _)| format!("{key}|{title}"))
        .collect()
}

async fn forget_celebrations(app: &TestApp) {
    sqlx::query(
        "delete from inbox_items where reminder_id in (select id from reminders where kind = 'celebration')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query("delete from reminders where kind = 'celebration'")
        .execute(&app.pool)
        .await
        .unwrap();
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A KPI with one set of terms since 2025 and values for the given months of 2026 (month
/// number, value, state).
fn monthly(
    name: &str,
    direction: Direction,
    target: &str,
    values: &[(u32, &str, ValueState)],
) -> Kpi {
    Kpi {
        name: name.to_string(),
        direction,
        terms: vec![(date("2025-01-01"), d(target), true)],
        values: values
            .iter()
            .map(|(month, value, state)| {
                (
                    NaiveDate::from_ymd_opt(2026, *month, 1).unwrap(),
                    d(value),
                    *state,
                )
            })
            .collect(),
    }
}

#[tokio::test]
async fn streaks_of_three_to_five_met_periods_each_raise_one_celebration_keyed_by_their_first_period()
 {
    use Direction::{Higher, Lower};
    use ValueState::{Disputed, Unverified, Verified};
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(tuesday());
    let (monthly_engagement, manager) = engagement(&app, "Acme Outsourcing", "monthly").await;
    let (weekly_engagement, _) = engagement(&app, "Globex Services", "weekly").await;
    let on = |month| (month, "99.9", Verified);
    let mut kpis = vec![
        // August to October on target (an unverified value counts), July not.
        monthly(
            "Three",
            Higher,
            "99.5",
            &[
                (7, "99.4", Verified),
                (8, "99.5", Unverified),
                on(9),
                on(10),
            ],
        ),
        // June to October; nothing for May.
        monthly(
            "Five",
            Higher,
            "99.5",
            &[on(6), on(7), on(8), on(9), on(10)],
        ),
        // May to October: suggested when it reached three, not again.
        monthly(
            "Six",
            Higher,
            "99.5",
            &[on(5), on(6), on(7), on(8), on(9), on(10)],
        ),
        // No value for August breaks the run: two.
        monthly("Gap", Higher, "99.5", &[on(6), on(7), on(9), on(10)]),
        // A disputed value counts as none.
        monthly(
            "Disputed",
            Higher,
            "99.5",
            &[on(7), on(8), (9, "99.9", Disputed), on(10)],
        ),
        // Lower is better, on the target itself included: three, July above it.
        monthly(
            "Lower",
            Lower,
            "2",
            &[
                (7, "2.01", Verified),
                (8, "1.5", Verified),
                (9, "2", Verified),
                (10, "0", Verified),
            ],
        ),
        // Lower is better, four: June to September below, October above.
        monthly(
            "Lower broken",
            Lower,
            "2",
            &[
                (6, "1", Verified),
                (7, "1", Verified),
                (8, "1", Verified),
                (9, "1", Verified),
                (10, "2.5", Verified),
            ],
        ),
    ];
    // The target rises from 15 September: August met the old one, September and October the
    // new one.
    let mut raised = monthly(
        "Raised mid-streak",
        Higher,
        "99.5",
        &[
            (7, "99.0", Verified),
            (8, "99.6", Verified),
            (9, "99.95", Verified),
            (10, "99.92", Verified),
        ],
    );
    raised.terms.push((date("2026-09-15"), d("99.9"), true));
    kpis.push(raised.clone());
    // The same terms, but September's 99.8 misses the new target.
    let mut missed = raised.clone();
    missed.name = "Raised and missed".into();
    missed.values[2].1 = d("99.8");
    kpis.push(missed);
    // A change from 1 October is not September's: 99.6 met September's 99.5.
    let mut october = monthly(
        "Raised in October",
        Higher,
        "99.5",
        &[on(8), (9, "99.6", Verified), on(10)],
    );
    october.terms.push((date("2026-10-01"), d("99.9"), true));
    kpis.push(october.clone());
    // A change on 30 September is September's own.
    let mut last_day = october.clone();
    last_day.name = "Raised on the last day".into();
    last_day.terms[1].0 = date("2026-09-30");
    kpis.push(last_day);
    // Inactive through September, active again from October: the run starts in October.
    let mut paused = monthly("Paused", Higher, "99.5", &[on(7), on(8), on(9), on(10)]);
    paused.terms.push((date("2026-09-01"), d("99.5"), false));
    paused.terms.push((date("2026-10-01"), d("99.5"), true));
    kpis.push(paused);
    let ids = store(&app, monthly_engagement, manager, tuesday(), &kpis).await;

    // Four weeks on target back from the week of 2 November; the week of 5 October missed.
    let weeks = [
        "2026-10-05",
        "2026-10-12",
        "2026-10-19",
        "2026-10-26",
        "2026-11-02",
    ];
    let weekly = Kpi {
        name: "Weekly".into(),
        direction: Higher,
        terms: vec![(date("2025-01-01"), d("10"), true)],
        values: weeks
            .iter()
            .enumerate()
            .map(|(i, w)| (date(w), if i == 0 { d("9") } else { d("12") }, Verified))
            .collect(),
    };
    let weekly_id = store(&app, weekly_engagement, manager, tuesday(), &[weekly]).await[0];

    let id = |name: &str| ids[kpis.iter().position(|k| k.name == name).unwrap()];
    let want: BTreeSet<String> = [
        ("Three", "2026-08-01", 3),
        ("Five", "2026-06-01", 5),
        ("Lower", "2026-08-01", 3),
        ("Raised mid-streak", "2026-08-01", 3),
        ("Raised in October", "2026-08-01", 3),
    ]
    .iter()
    .map(|(name, first, length)| {
        format!(
            "celebration:{}:{first}|{name} met its target {length} periods in a row",
            id(name)
        )
    })
    .chain([format!(
        "celebration:{weekly_id}:2026-10-12|Weekly met its target 4 periods in a row"
    )])
    .collect();

    // After a write to each engagement, its own KPIs only.
    trellis::reminders::refresh(&app.state, monthly_engagement).await;
    trellis::reminders::refresh(&app.state, weekly_engagement).await;
    assert_eq!(celebrations(&app).await, want);
    // Suggested to the managers, once each.
    assert_eq!(
        app.count(
            "select count(*) from inbox_items i join reminders r on r.id = i.reminder_id
             where r.kind = 'celebration'"
        )
        .await,
        i64::try_from(want.len()).unwrap()
    );
    // A pass over every KPI finds the same, and a second one nothing new.
    forget_celebrations(&app).await;
    scheduler::pass(&app.state).await.unwrap();
    assert_eq!(celebrations(&app).await, want);
    let report = scheduler::pass(&app.state).await.unwrap();
    assert_eq!(report.rules.raised, 0);
    assert_eq!(celebrations(&app).await, want);
}

/// A small deterministic generator, so that a failure can be replayed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % sides
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.roll(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.roll(items.len() as u64) as usize]
    }
}

/// KPIs whose runs of met periods start and end anywhere: values on, just off and beside
/// the targets, some missing, disputed or unverified, and terms that change on period
/// boundaries, their last days and between, now and then inactive.
fn generated(dice: &mut Dice, kind: PeriodKind, today: NaiveDate, count: usize) -> Vec<Kpi> {
    let periods = Period::latest_closed_n(kind, today, 7);
    let mut kpis = Vec::new();
    for i in 0..count {
        let direction = dice.pick(&[Direction::Higher, Direction::Lower]);
        let base = d(dice.pick(&["99.5", "4", "0", "-1.5", "12.25"]));
        let mut terms = vec![(date("2024-01-01"), base, dice.chance(95))];
        for _ in 0..dice.roll(3) {
            let period = periods[dice.roll(7) as usize];
            let from = match dice.roll(4) {
                0 => period.start,
                1 => period.end(),
                2 => period.end() + Days::new(1),
                _ => period.start + Days::new(dice.roll(6)),
            };
            if terms.iter().all(|(f, _, _)| *f != from) {
                let target = base + d(dice.pick(&["0", "0.5", "-0.5", "1"]));
                terms.push((from, target, dice.chance(85)));
            }
        }
        let good = match direction {
            Direction::Higher => Decimal::ONE,
            Direction::Lower => -Decimal::ONE,
        };
        let mut values = Vec::new();
        for period in &periods {
            if dice.chance(8) {
                continue;
            }
            let target = dice.pick(&terms).1;
            let off = d(dice.pick(&["0", "0.01", "0.5", "2"]));
            let value = if dice.chance(85) {
                target + good * off
            } else {
                target - good * dice.pick(&[d("0.01"), d("0.5")])
            };
            let state = match dice.roll(20) {
                0 => ValueState::Disputed,
                1..=4 => ValueState::Unverified,
                _ => ValueState::Verified,
            };
            values.push((period.start, value, state));
        }
        kpis.push(Kpi {
            name: format!("KPI {i}"),
            direction,
            terms,
            values,
        });
    }
    kpis
}

/// An engagement of generated KPIs: (engagement, manager, calendar, KPIs, their ids).
type Generated = (i64, i64, PeriodKind, Vec<Kpi>, Vec<i64>);

#[tokio::test]
async fn the_set_based_streaks_follow_the_rule_told_in_rust_for_one_engagement_every_kpi_and_a_mass_write()
 {
    let app = spawn_app_with(|_| {}).await;
    app.clock.set(tuesday());
    let today = date("2026-11-10");
    let mut dice = Dice(16);
    let earlier = tuesday() - chrono::Duration::days(9);
    let mut engagements = Vec::new();
    for (vendor, kind, stored) in [
        ("Acme Outsourcing", PeriodKind::Weekly, "weekly"),
        ("Globex Services", PeriodKind::Monthly, "monthly"),
        ("Initech Support", PeriodKind::Quarterly, "quarterly"),
    ] {
        let (id, manager) = engagement(&app, vendor, stored).await;
        let kpis = generated(&mut dice, kind, today, 150);
        let ids = store(&app, id, manager, earlier, &kpis).await;
        engagements.push((id, manager, kind, kpis, ids));
    }
    let rust = |engagements: &[Generated]| -> BTreeSet<String> {
        engagements
            .iter()
            .flat_map(|(_, _, kind, kpis, ids)| {
                kpis.iter()
                    .zip(ids)
                    .filter_map(|(kpi, id)| rust_celebration(*kind, today, *id, kpi))
            })
            .collect()
    };
    let want = rust(&engagements);
    // The cases reach every length the rule raises, in every kind of period.
    for length in 3..=5 {
        assert!(
            want.iter()
                .any(|c| c.ends_with(&format!(" {length} periods in a row"))),
            "no streak of {length} among the cases"
        );
    }
    assert!(want.len() > 60, "{} streaks", want.len());

    for (id, ..) in &engagements {
        trellis::reminders::refresh(&app.state, *id).await;
    }
    assert_eq!(
        celebrations(&app).await,
        want,
        "after a write to each engagement"
    );

    forget_celebrations(&app).await;
    scheduler::pass(&app.state).await.unwrap();
    assert_eq!(celebrations(&app).await, want, "a pass over every KPI");

    // An hour on, one statement rewrites a third of the values (a value nudged across its
    // target, a dispute or a disputed value verified): the pass after it looks at the KPIs
    // written since the last pass and raises the streaks they now have beside the ones
    // already raised.
    let later = tuesday() + chrono::Duration::hours(1);
    app.clock.set(later);
    let (mut changed_ids, mut changed_starts, mut changed_values, mut changed_states) =
        (vec![], vec![], vec![], vec![]);
    for (_, _, _, kpis, ids) in engagements.iter_mut() {
        for (kpi, id) in kpis.iter_mut().zip(ids.iter()) {
            for (start, value, state) in kpi.values.iter_mut() {
                if !dice.chance(33) {
                    continue;
                }
                match dice.roll(3) {
                    0 => *value += d(dice.pick(&["0.5", "-0.5", "0.01", "-0.01"])),
                    1 => *state = ValueState::Disputed,
                    _ => *state = ValueState::Verified,
                }
                changed_ids.push(*id);
                changed_starts.push(*start);
                changed_values.push(value.to_string());
                changed_states.push(state_text(*state));
            }
        }
    }
    sqlx::query(
        "update kpi_values v set value = u.v::numeric, state = u.s, recorded_at = $5
         from unnest($1::bigint[], $2::date[], $3::text[], $4::text[]) as u(k, p, v, s)
         where v.kpi_id = u.k and v.period_start = u.p",
    )
    .bind(&changed_ids)
    .bind(&changed_starts)
    .bind(&changed_values)
    .bind(&changed_states)
    .bind(later)
    .execute(&app.pool)
    .await
    .unwrap();
    let after = rust(&engagements);
    assert_ne!(after, want, "the write changes some streaks");
    scheduler::pass(&app.state).await.unwrap();
    let both: BTreeSet<String> = want.union(&after).cloned().collect();
    assert_eq!(
        celebrations(&app).await,
        both,
        "the pass after the mass write"
    );
}
