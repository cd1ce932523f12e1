//! The portfolio: every active engagement with its current score, standing, change since
//! the previous period and its worst KPI, for the organisation's people.

use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Row as _};

use super::csv;
use super::data::{Detail, load_many};
use super::model::{PeriodCard, StoredStanding, is_standing_key, standing_key, standing_label};
use super::scoring::{Period, PeriodKind, Standing};
use crate::auth::policy::Staff;
use crate::cache::{DataVersion, Key};
use crate::state::AppState;
use crate::vendors::Tier;
use crate::vocab::Zone;
use crate::web::error::Result;
use crate::web::form::Query;
use crate::web::layout::Layout;
use crate::web::paging::{self, Pager};

const PER_PAGE: usize = 25;

#[derive(Debug, Deserialize, Default)]
pub struct PortfolioQuery {
    tier: Option<String>,
    standing: Option<String>,
    manager: Option<String>,
    notice: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

/// An active engagement's line in the portfolio, as last worked out.
#[derive(Debug, Clone, Serialize)]
pub struct PortfolioRow {
    pub id: i64,
    pub name: String,
    pub vendor_name: String,
    pub tier: Tier,
    pub owner: String,
    /// The label of the latest closed period.
    pub period: String,
    pub score: Option<Decimal>,
    pub standing: Option<Standing>,
    pub change: Option<Decimal>,
    /// The weakest KPI with its score, as written when the score was worked out.
    pub worst: String,
    /// The last day to give notice and the end of the term it stops, as last worked out
    /// (`engagements::contract`).
    pub term_end: Option<NaiveDate>,
    pub notice_by: Option<NaiveDate>,
    /// The vendor's name as the "name" sort orders it (`lower()` in the database).
    #[serde(skip)]
    pub sort_vendor: String,
}

impl PortfolioRow {
    pub fn standing_label(&self) -> &'static str {
        standing_label(self.standing)
    }

    pub fn standing_key(&self) -> &'static str {
        standing_key(self.standing)
    }

    /// The weakest KPI's name and score, read back from what [`weakest`] wrote.
    pub fn worst_kpi(&self) -> Option<(&str, Decimal)> {
        worst_parts(&self.worst)
    }

    /// Where the row stands in the order of `sort`.
    pub fn key(&self, sort: &str) -> PortfolioKey {
        match sort {
            "name" => (
                None,
                self.sort_vendor.clone(),
                self.name.clone(),
                self.id,
                None,
            ),
            "change" => (self.change, String::new(), String::new(), self.id, None),
            "notice" => (None, String::new(), String::new(), self.id, self.notice_by),
            _ => (self.score, String::new(), String::new(), self.id, None),
        }
    }
}

/// A row's place in a sort of the portfolio: the score or change for those sorts, the
/// vendor's and engagement's names for "name", the engagement's id, and the notice day for
/// "notice".
pub type PortfolioKey = (Option<Decimal>, String, String, i64, Option<NaiveDate>);

/// The name and score of a KPI as [`weakest`] writes them: "Name (73)".
fn worst_parts(worst: &str) -> Option<(&str, Decimal)> {
    let (name, score) = worst.strip_suffix(')')?.rsplit_once(" (")?;
    Some((name, score.parse().ok()?))
}

struct ManagerChoice {
    id: i64,
    name: String,
}

#[derive(Template)]
#[template(path = "scorecard/portfolio.html")]
struct PortfolioPage {
    layout: Layout,
    rows: Vec<PortfolioRow>,
    tier: String,
    standing: String,
    manager: String,
    notice: String,
    sort: String,
    managers: Vec<ManagerChoice>,
    pager: Pager,
    /// The lapsed required documents of the rows' vendors, by engagement.
    lapsed: std::collections::HashMap<i64, Vec<String>>,
}

impl PortfolioPage {
    fn no_error(&self) -> Option<&str> {
        None
    }

    /// The row's vendor's lapsed required documents, as a sentence; empty when none.
    fn lapsed_of(&self, row: &PortfolioRow) -> String {
        self.lapsed
            .get(&row.id)
            .map(|kinds| kinds.join(", "))
            .unwrap_or_default()
    }

    /// Whether the "notice due within" asked for is one of the page's choices (a link may
    /// carry any number of days up to [`NOTICE_WITHIN_MAX`]).
    fn notice_is_listed(&self) -> bool {
        NOTICE_WINDOWS.iter().any(|d| d.to_string() == self.notice)
    }

    fn tier_options(&self) -> Vec<(String, String)> {
        let mut options = vec![(String::new(), "Any tier".to_string())];
        options.extend(Tier::options());
        options
    }

    fn change_text(&self, change: &Option<Decimal>) -> String {
        match change {
            Some(c) if *c > Decimal::ZERO => format!("+{c}"),
            Some(c) => c.to_string(),
            None => "—".into(),
        }
    }
}

/// The sorts of the portfolio, the first the default.
pub const SORTS: [&str; 4] = ["score", "change", "name", "notice"];

/// The choices of the page's "notice due within" filter, in days.
pub const NOTICE_WINDOWS: [u32; 4] = [30, 60, 90, 180];

/// The filters and sort as asked for, each checked against its fixed list: a tier's and a
/// standing's stored name, a manager's id, one of [`SORTS`]; "" for none. `notice` keeps
/// the engagements whose last day to give notice is from `today` to that many days on.
pub struct Filters {
    pub tier: String,
    pub standing: String,
    pub manager: String,
    pub notice: Option<u32>,
    pub today: NaiveDate,
    pub sort: String,
}

/// The longest "notice due within" asked for, in days.
pub const NOTICE_WITHIN_MAX: u32 = 3650;

impl Filters {
    fn from(query: PortfolioQuery, today: NaiveDate) -> Filters {
        Filters {
            notice: query
                .notice
                .and_then(|n| n.trim().parse::<u32>().ok())
                .filter(|n| (1..=NOTICE_WITHIN_MAX).contains(n)),
            today,
            tier: query
                .tier
                .filter(|t| Tier::parse(t).is_some())
                .unwrap_or_default(),
            standing: query
                .standing
                .filter(|s| is_standing_key(s))
                .unwrap_or_default(),
            manager: query
                .manager
                .filter(|m| m.parse::<i64>().is_ok())
                .unwrap_or_default(),
            sort: query
                .sort
                .filter(|s| SORTS.contains(&s.as_str()))
                .unwrap_or_else(|| "score".into()),
        }
    }

    /// The ORDER BY for the sort, from a fixed list.
    fn order(&self) -> &'static str {
        match self.sort.as_str() {
            "name" => "lower(s.vendor_name), s.engagement_name, s.engagement_id",
            "change" => "s.change asc nulls first, s.engagement_id",
            // Soonest first; engagements without a notice day last.
            "notice" => "s.notice_by asc nulls last, s.engagement_id",
            // Weakest first: that is where attention goes; no data last.
            _ => "s.score asc nulls last, s.engagement_id",
        }
    }
}

#[derive(sqlx::FromRow)]
struct Stale {
    id: i64,
    name: String,
    vendor_name: String,
    tier: Tier,
    owner_id: i64,
    owner_name: String,
    scorecard_period: PeriodKind,
    time_zone: Zone,
    term_end: Option<NaiveDate>,
    notice_by: Option<NaiveDate>,
}

/// Whether every stored score is current, `$1` now: every active engagement has a row
/// (migration 0025), which a change marks stale and a day's end expires, so one probe of
/// the `valid_until` index tells.
const CURRENT: &str =
    "coalesce((select min(valid_until) from engagement_scores), 'infinity') > $1 as current";

/// Works out the score of every active engagement whose stored one is stale or from an
/// earlier day: after a change (triggers mark the row) or once a day. Costs one statement
/// when nothing is stale; otherwise one to find them, and one read and one write per 500.
pub async fn refresh_scores(db: &mut PgConnection, now: DateTime<Utc>) -> Result<()> {
    let current: bool = sqlx::query_scalar(&format!("select {CURRENT}"))
        .bind(now)
        .fetch_one(&mut *db)
        .await?;
    if current {
        return Ok(());
    }
    refresh_stale(db, now, None).await
}

/// Works out at most one batch of the stale scores [`refresh_scores`] would: what a
/// scheduler pass does, so that a pass after a mass write stays short; whoever reads the
/// portfolio next refreshes the rest.
pub async fn refresh_some_scores(db: &mut PgConnection, now: DateTime<Utc>) -> Result<()> {
    refresh_stale(db, now, Some(BATCH)).await
}

/// How many engagements' scores are loaded, scored and written together.
const BATCH: usize = 500;

/// Works out the scores [`refresh_scores`] finds missing or stale, at most `limit` of them.
async fn refresh_stale(
    db: &mut PgConnection,
    now: DateTime<Utc>,
    limit: Option<usize>,
) -> Result<()> {
    let stale: Vec<Stale> = sqlx::query_as(
        "select e.id, e.name, v.name as vendor_name, v.tier, e.owner_id, o.name as owner_name, e.scorecard_period,
                e.time_zone, e.term_end, e.notice_by
         from engagements e join vendors v on v.id = e.vendor_id join users o on o.id = e.owner_id
         where e.status = 'active'
           and not exists (select 1 from engagement_scores s where s.engagement_id = e.id and s.valid_until > $1)
         order by e.id
         limit $2",
    )
    .bind(now)
    .bind(limit.map(|n| n as i64))
    .fetch_all(&mut *db)
    .await?;
    let (mut loading, mut scoring, mut writing) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for chunk in stale.chunks(BATCH) {
        let started = Instant::now();
        let periods: Vec<(NaiveDate, DateTime<Utc>, Period)> = chunk
            .iter()
            .map(|e| {
                let today = now.with_timezone(&*e.time_zone).date_naive();
                (
                    today,
                    end_of_day(*e.time_zone, today),
                    Period::latest_closed(e.scorecard_period, today),
                )
            })
            .collect();
        let from = periods.iter().map(|(_, _, p)| p.previous().start).min();
        let to = periods.iter().map(|(_, _, p)| p.start).max();
        let (Some(from), Some(to)) = (from, to) else {
            continue;
        };
        let ids: Vec<i64> = chunk.iter().map(|e| e.id).collect();
        let data = load_many(db, &ids, from, to, Detail::Scores).await?;
        loading += started.elapsed();
        let started = Instant::now();
        let mut rows = Scored::default();
        for (e, (today, until, period)) in chunk.iter().zip(periods) {
            let (score, change, worst) = match data.get(&e.id) {
                Some(d) => {
                    let card = super::model::scorecard(d, &[period.previous(), period], today);
                    let current = card.current().map(|c| c.score.clone()).unwrap_or_default();
                    let worst = card.current().map(weakest).unwrap_or_default();
                    (current, card.change(), worst)
                }
                None => (Default::default(), None, String::new()),
            };
            rows.ids.push(e.id);
            rows.until.push(until);
            rows.names.push(e.name.clone());
            rows.vendors.push(e.vendor_name.clone());
            rows.tiers.push(e.tier.as_str());
            rows.owners.push(e.owner_id);
            rows.owner_names.push(e.owner_name.clone());
            rows.labels.push(period.label());
            rows.scores.push(score.score);
            rows.standings.push(standing_key(score.standing));
            rows.changes.push(change);
            rows.worst.push(worst);
            rows.term_ends.push(e.term_end);
            rows.notice_bys.push(e.notice_by);
        }
        scoring += started.elapsed();
        let started = Instant::now();
        // The rows and the portfolio's version change in one statement, so a page kept
        // under the old version is never taken for the new rows.
        sqlx::query(
            "with written as (
                insert into engagement_scores (engagement_id, valid_until, engagement_name, vendor_name, tier, owner_id,
                                               owner_name, period_label, score, standing, change, worst, term_end,
                                               notice_by)
                select * from unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                                     $7::text[], $8::text[], $9::numeric[], $10::text[], $11::numeric[], $12::text[],
                                     $13::date[], $14::date[])
                on conflict (engagement_id) do update
                set valid_until = excluded.valid_until, engagement_name = excluded.engagement_name,
                    vendor_name = excluded.vendor_name, tier = excluded.tier, owner_id = excluded.owner_id,
                    owner_name = excluded.owner_name, period_label = excluded.period_label, score = excluded.score,
                    standing = excluded.standing, change = excluded.change, worst = excluded.worst,
                    term_end = excluded.term_end, notice_by = excluded.notice_by
                returning 1
             )
             update portfolio_version set version = version + 1 where exists (select 1 from written)",
        )
        .bind(&rows.ids)
        .bind(&rows.until)
        .bind(&rows.names)
        .bind(&rows.vendors)
        .bind(&rows.tiers)
        .bind(&rows.owners)
        .bind(&rows.owner_names)
        .bind(&rows.labels)
        .bind(&rows.scores)
        .bind(&rows.standings)
        .bind(&rows.changes)
        .bind(&rows.worst)
        .bind(&rows.term_ends)
        .bind(&rows.notice_bys)
        .execute(&mut *db)
        .await?;
        writing += started.elapsed();
    }
    tracing::debug!(
        engagements = stale.len(),
        loading_ms = loading.as_millis() as u64,
        scoring_ms = scoring.as_millis() as u64,
        writing_ms = writing.as_millis() as u64,
        "portfolio scores worked out"
    );
    Ok(())
}

/// The first instant of the day after `day` in `zone` (a day may start late in a
/// daylight-saving gap).
fn end_of_day(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day);
    (0..4)
        .find_map(|hour| {
            next.and_hms_opt(hour, 0, 0)
                .and_then(|t| t.and_local_timezone(zone).earliest())
        })
        .map_or_else(
            || next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// Scores of many engagements as columns, for one insert.
#[derive(Default)]
struct Scored {
    ids: Vec<i64>,
    until: Vec<DateTime<Utc>>,
    names: Vec<String>,
    vendors: Vec<String>,
    tiers: Vec<&'static str>,
    owners: Vec<i64>,
    owner_names: Vec<String>,
    labels: Vec<String>,
    scores: Vec<Option<Decimal>>,
    standings: Vec<&'static str>,
    changes: Vec<Option<Decimal>>,
    worst: Vec<String>,
    term_ends: Vec<Option<NaiveDate>>,
    notice_bys: Vec<Option<NaiveDate>>,
}

/// The period's weakest active KPI with its score, as the portfolio stores it.
fn weakest(card: &PeriodCard) -> String {
    card.weakest()
        .map(|(kpi, score)| format!("{} ({})", kpi.name, score.round_dp(0)))
        .unwrap_or_default()
}

#[derive(sqlx::FromRow)]
struct StoredRow {
    id: i64,
    name: String,
    vendor_name: String,
    tier: Tier,
    owner: String,
    period_label: String,
    score: Option<Decimal>,
    standing: StoredStanding,
    change: Option<Decimal>,
    worst: String,
    term_end: Option<NaiveDate>,
    notice_by: Option<NaiveDate>,
    sort_vendor: String,
}

impl From<StoredRow> for PortfolioRow {
    fn from(r: StoredRow) -> PortfolioRow {
        PortfolioRow {
            id: r.id,
            name: r.name,
            vendor_name: r.vendor_name,
            tier: r.tier,
            owner: r.owner,
            period: r.period_label,
            score: r.score,
            standing: r.standing.0,
            change: r.change,
            worst: r.worst,
            term_end: r.term_end,
            notice_by: r.notice_by,
            sort_vendor: r.sort_vendor,
        }
    }
}

/// Which engagements the filters keep; binds $1 to $3.
const FILTERS: &str = "($1::text = '' or s.tier = $1)
           and ($2::text = '' or s.standing = $2)
           and ($3::text = '' or s.owner_id = $3::bigint
                or exists (select 1 from engagement_managers m
                           where m.engagement_id = s.engagement_id and m.user_id = $3::bigint))
           and ($10::date is null or s.notice_by between $10 and $11)";

const COLUMNS: &str = "s.engagement_id as id, s.engagement_name as name, s.vendor_name, s.tier, s.owner_name as owner,
                s.period_label, s.score, s.standing, s.change, s.worst, s.term_end, s.notice_by,
                lower(s.vendor_name) as sort_vendor";

/// The active engagements matching the filters, in the order of their sort, after the row
/// at `after`, at most `limit`: the keyset twin of the page's paging. The scores are as
/// last worked out ([`refresh_scores`] first).
pub async fn rows_after(
    db: &mut PgConnection,
    filters: &Filters,
    after: Option<&PortfolioKey>,
    limit: i64,
) -> Result<Vec<PortfolioRow>> {
    // After a row, by the sort's order: its nulls where that order puts them.
    let after_sql = match filters.sort.as_str() {
        "name" => "(lower(s.vendor_name), s.engagement_name, s.engagement_id) > ($6::text, $7::text, $8::bigint)",
        "change" => {
            "case when $5::numeric is null
                  then (s.change is null and s.engagement_id > $8::bigint) or s.change is not null
                  else s.change > $5 or (s.change = $5 and s.engagement_id > $8::bigint) end"
        }
        "notice" => {
            "case when $12::date is null
                  then s.notice_by is null and s.engagement_id > $8::bigint
                  else s.notice_by > $12 or (s.notice_by = $12 and s.engagement_id > $8::bigint)
                       or s.notice_by is null end"
        }
        _ => {
            "case when $5::numeric is null
                  then s.score is null and s.engagement_id > $8::bigint
                  else s.score > $5 or (s.score = $5 and s.engagement_id > $8::bigint) or s.score is null end"
        }
    };
    let stored: Vec<StoredRow> = sqlx::query_as(&format!(
        "select {COLUMNS}
         from engagement_scores s
         where {FILTERS} and ($4::boolean is null or ({after_sql}))
         order by {}
         limit $9",
        filters.order()
    ))
    .bind(&filters.tier)
    .bind(&filters.standing)
    .bind(&filters.manager)
    .bind(after.map(|_| true))
    .bind(after.and_then(|k| k.0))
    .bind(after.map(|k| k.1.as_str()))
    .bind(after.map(|k| k.2.as_str()))
    .bind(after.map(|k| k.3))
    .bind(limit)
    .bind(filters.notice_window().map(|w| w.0))
    .bind(filters.notice_window().map(|w| w.1))
    .bind(after.and_then(|k| k.4))
    .fetch_all(db)
    .await?;
    Ok(stored.into_iter().map(PortfolioRow::from).collect())
}

impl Filters {
    /// The first and last notice day the "notice due within" filter keeps.
    fn notice_window(&self) -> Option<(NaiveDate, NaiveDate)> {
        let days = self.notice?;
        let last = self
            .today
            .checked_add_days(chrono::Days::new(days.into()))
            .unwrap_or(NaiveDate::MAX);
        Some((self.today, last))
    }

    /// The manager asked for, by id.
    fn manager_id(&self) -> Option<i64> {
        self.manager.parse().ok()
    }

    /// The conditions of the filters asked for, with parameters numbered from $1, and how
    /// many they take: one statement per combination of filters, none of them optional, so
    /// each keeps a generic plan and one without filters counts the table's smallest index.
    fn conditions(&self) -> (String, usize) {
        let mut parts = Vec::new();
        if !self.tier.is_empty() {
            parts.push(format!("s.tier = ${}", parts.len() + 1));
        }
        if !self.standing.is_empty() {
            parts.push(format!("s.standing = ${}", parts.len() + 1));
        }
        if self.manager_id().is_some() {
            let n = parts.len() + 1;
            parts.push(format!(
                "(s.owner_id = ${n} or exists (select 1 from engagement_managers m
                                   where m.engagement_id = s.engagement_id and m.user_id = ${n}))"
            ));
        }
        if self.notice.is_some() {
            let n = parts.len() + 1;
            parts.push(format!("s.notice_by between ${n} and ${}", n + 1));
        }
        let taken = parts.len() + usize::from(self.notice.is_some());
        if parts.is_empty() {
            ("true".to_string(), 0)
        } else {
            (parts.join(" and "), taken)
        }
    }

    /// Binds the values of [`Filters::conditions`], in their order.
    fn bind<'q, O>(
        &'q self,
        mut query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        if !self.tier.is_empty() {
            query = query.bind(self.tier.as_str());
        }
        if !self.standing.is_empty() {
            query = query.bind(self.standing.as_str());
        }
        if let Some(manager) = self.manager_id() {
            query = query.bind(manager);
        }
        if let Some((first, last)) = self.notice_window() {
            query = query.bind(first).bind(last);
        }
        query
    }
}

/// What the page learns before its rows, in one statement: whether every active
/// engagement's stored score is current (else [`refresh_scores`] first), the version of
/// the stored scores, and the managers to filter by.
#[derive(sqlx::FromRow)]
struct Head {
    current: bool,
    version: i64,
    managers: sqlx::types::Json<Vec<(i64, String)>>,
}

static HEAD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "select {CURRENT}, (select version from portfolio_version) as version,
                coalesce((select json_agg(json_build_array(u.id, u.name) order by lower(u.name)) from users u
                          where u.role = 'manager' and u.disabled_at is null), '[]') as managers"
    )
});

async fn head(db: &mut PgConnection, now: DateTime<Utc>) -> Result<Head> {
    Ok(sqlx::query_as(&HEAD).bind(now).fetch_one(db).await?)
}

/// A page of the portfolio as [`page_rows`] gives it.
struct Page {
    rows: Vec<PortfolioRow>,
    total: i64,
    /// The lapsed required documents of the rows' vendors, by engagement.
    lapsed: std::collections::HashMap<i64, Vec<String>>,
}

impl Page {
    fn bytes(&self) -> usize {
        std::mem::size_of::<Page>()
            + self
                .rows
                .iter()
                .map(|r| {
                    std::mem::size_of::<PortfolioRow>()
                        + r.name.len()
                        + r.vendor_name.len()
                        + r.owner.len()
                        + r.period.len()
                        + r.worst.len()
                        + r.sort_vendor.len()
                })
                .sum::<usize>()
            + self
                .lapsed
                .values()
                .flatten()
                .map(|k| 48 + k.len())
                .sum::<usize>()
    }
}

/// A row of [`page_rows`]: how many match, and one row of the page (none past its end).
struct Counted {
    total: i64,
    row: Option<StoredRow>,
}

impl<'r> FromRow<'r, PgRow> for Counted {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Counted {
            total: row.try_get("total")?,
            row: crate::db::joined(row, "id")?,
        })
    }
}

/// One page of the active engagements matching the filters, sorted, from `offset` on, and
/// how many match in all, in one statement: the count, then the page's rows through the
/// sort's index.
async fn page_rows(
    db: &mut PgConnection,
    filters: &Filters,
    offset: i64,
    limit: i64,
) -> Result<(Vec<PortfolioRow>, i64)> {
    let (conditions, taken) = filters.conditions();
    let sql = format!(
        "select t.total, r.*
         from (select count(*) as total from engagement_scores s where {conditions}) t
         left join lateral (select {COLUMNS}, row_number() over (order by {order}) as place
                            from engagement_scores s
                            where {conditions}
                            order by {order}
                            offset ${} limit ${}) r on true
         order by r.place",
        taken + 1,
        taken + 2,
        order = filters.order()
    );
    let counted: Vec<Counted> = filters
        .bind(sqlx::query_as(&sql))
        .bind(offset)
        .bind(limit)
        .fetch_all(db)
        .await?;
    let total = counted.first().map_or(0, |c| c.total);
    let rows = counted
        .into_iter()
        .filter_map(|c| c.row.map(PortfolioRow::from))
        .collect();
    Ok((rows, total))
}

pub async fn portfolio(
    State(state): State<AppState>,
    Staff(current): Staff,
    Query(query): Query<PortfolioQuery>,
) -> Result<Html<String>> {
    let page = paging::page_number(query.page.as_deref());
    let now = state.clock.now();
    let filters = Filters::from(query, state.clock.today(state.config.time_zone));
    let mut conn = state.pool.acquire().await?;
    let known = head(&mut conn, now).await?;
    let offset = paging::offset(page, PER_PAGE as i64);
    // Current scores under the version just read are what a page kept under it shows.
    let key = Key {
        kind: "portfolio",
        engagement_id: 0,
        version: DataVersion {
            engagement: known.version,
            names: 0,
        },
        period: None,
        today: now.date_naive(),
        detail: format!(
            "{}|{}|{}|{}|{}|{}|{offset}",
            filters.tier,
            filters.standing,
            filters.manager,
            filters.notice.unwrap_or(0),
            filters.today,
            filters.sort
        ),
    };
    let kept = if known.current {
        state.cache.get::<Page>(&key)
    } else {
        refresh_stale(&mut conn, now, None).await?;
        None
    };
    let kept = match kept {
        Some(kept) => kept,
        None => {
            let (rows, total) = page_rows(&mut conn, &filters, offset, PER_PAGE as i64).await?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            let lapsed =
                crate::documents::lapsed_by_engagement(&mut conn, &ids, now.date_naive()).await?;
            let fresh = std::sync::Arc::new(Page {
                rows,
                total,
                lapsed,
            });
            if known.current {
                state.cache.insert(key, fresh.clone(), fresh.bytes());
            }
            fresh
        }
    };
    let (rows, total, lapsed) = (kept.rows.clone(), kept.total, kept.lapsed.clone());
    let managers = known
        .managers
        .0
        .into_iter()
        .map(|(id, name)| ManagerChoice { id, name })
        .collect();
    let notice = filters.notice.map(|n| n.to_string()).unwrap_or_default();
    let Filters {
        tier,
        standing,
        manager,
        sort,
        ..
    } = filters;
    let sort_param = if sort == "score" { "" } else { sort.as_str() };
    let pager = Pager::new(
        "/portfolio",
        &[
            ("tier", &tier),
            ("standing", &standing),
            ("manager", &manager),
            ("notice", &notice),
            ("sort", sort_param),
        ],
        page,
        PER_PAGE as i64,
        total,
    );
    let page = PortfolioPage {
        layout: Layout::new(&current.session, "Portfolio", "/portfolio"),
        rows,
        tier,
        standing,
        manager,
        notice,
        sort,
        managers,
        pager,
        lapsed,
    };
    Ok(Html(page.render()?))
}

/// The whole filtered portfolio as CSV.
pub async fn portfolio_csv(
    State(state): State<AppState>,
    Staff(_): Staff,
    Query(query): Query<PortfolioQuery>,
) -> Result<axum::response::Response> {
    let filters = Filters::from(query, state.clock.today(state.config.time_zone));
    let mut conn = state.pool.acquire().await?;
    refresh_scores(&mut conn, state.clock.now()).await?;
    let (all, _) = page_rows(&mut conn, &filters, 0, i64::MAX).await?;
    let mut out = csv::line(
        &[
            "engagement_id",
            "engagement",
            "vendor",
            "tier",
            "owner",
            "period",
            "score",
            "standing",
            "change",
            "weakest_kpi",
            "term_end",
            "notice_by",
        ]
        .map(String::from),
    );
    for r in all {
        out.push_str(&csv::line(&[
            r.id.to_string(),
            r.name.clone(),
            r.vendor_name.clone(),
            r.tier.as_str().to_string(),
            r.owner.clone(),
            r.period.clone(),
            r.score.map(|s| s.to_string()).unwrap_or_default(),
            r.standing_label().to_string(),
            r.change.map(|c| c.to_string()).unwrap_or_default(),
            r.worst,
            r.term_end.map(|d| d.to_string()).unwrap_or_default(),
            r.notice_by.map(|d| d.to_string()).unwrap_or_default(),
        ]));
    }
    Ok(csv::response("portfolio.csv", out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weakest_kpi_reads_back_as_it_was_written() {
        assert_eq!(
            worst_parts("Resolution (p95) (73)"),
            Some(("Resolution (p95)", Decimal::from(73)))
        );
        assert_eq!(
            worst_parts("Availability (0)"),
            Some(("Availability", Decimal::ZERO))
        );
        for bad in ["", "Availability", "Availability (x)", "(73"] {
            assert_eq!(worst_parts(bad), None, "{bad}");
        }
    }
}
