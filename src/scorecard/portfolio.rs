//! The portfolio: every active engagement with its current score, standing, change since
//! the previous period and its worst KPI, for the organisation's people.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use chrono::{DateTime, Days, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::scoring::{self, Period, Standing};
use super::values::{load_many, period_kind, standing_label};
use crate::auth::policy::Staff;
use crate::startup::AppState;
use crate::vendors::Tier;
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
    sort: Option<String>,
    page: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EngagementRow {
    id: i64,
    name: String,
    vendor_name: String,
    tier: String,
    owner: String,
    scorecard_period: String,
    time_zone: String,
}

pub struct Row {
    pub id: i64,
    pub name: String,
    pub vendor_name: String,
    pub tier: String,
    pub owner: String,
    pub period: String,
    pub score: Option<Decimal>,
    pub standing: &'static str,
    pub standing_key: &'static str,
    pub change: Option<Decimal>,
    pub worst: String,
}

#[derive(sqlx::FromRow)]
struct ManagerChoice {
    id: i64,
    name: String,
}

#[derive(Template)]
#[template(path = "scorecard/portfolio.html")]
struct PortfolioPage {
    layout: Layout,
    rows: Vec<Row>,
    tier: String,
    standing: String,
    manager: String,
    sort: String,
    managers: Vec<ManagerChoice>,
    pager: Pager,
}

impl PortfolioPage {
    fn no_error(&self) -> Option<&str> {
        None
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

fn standing_key(standing: Option<Standing>) -> &'static str {
    match standing {
        Some(Standing::Excellent) => "excellent",
        Some(Standing::Good) => "good",
        Some(Standing::NeedsAttention) => "attention",
        Some(Standing::Critical) => "critical",
        None => "no_data",
    }
}

struct Computed {
    rows: Vec<Row>,
    tier: String,
    standing: String,
    manager: String,
    sort: String,
    managers: Vec<ManagerChoice>,
}

/// Every active engagement matching the filters, scored and sorted.
async fn compute(state: &AppState, query: PortfolioQuery) -> Result<Computed> {
    let tier = query
        .tier
        .filter(|t| Tier::parse(t).is_some())
        .unwrap_or_default();
    let standing = query
        .standing
        .filter(|s| ["excellent", "good", "attention", "critical", "no_data"].contains(&s.as_str()))
        .unwrap_or_default();
    let manager = query
        .manager
        .filter(|m| m.parse::<i64>().is_ok())
        .unwrap_or_default();
    let sort = query
        .sort
        .filter(|s| ["score", "change", "name"].contains(&s.as_str()))
        .unwrap_or_else(|| "score".into());
    let mut conn = state.pool.acquire().await?;
    let engagements: Vec<EngagementRow> = sqlx::query_as(
        "select e.id, e.name, v.name as vendor_name, v.tier, o.name as owner, e.scorecard_period, e.time_zone
         from engagements e join vendors v on v.id = e.vendor_id join users o on o.id = e.owner_id
         where e.status = 'active'
           and ($1::text = '' or v.tier = $1)
           and ($2::text = '' or e.owner_id = $2::bigint
                or exists (select 1 from engagement_managers m where m.engagement_id = e.id and m.user_id = $2::bigint))",
    )
    .bind(&tier)
    .bind(&manager)
    .fetch_all(&mut *conn)
    .await?;
    let managers: Vec<ManagerChoice> = sqlx::query_as("select id, name from users where role = 'manager' and disabled_at is null order by lower(name)")
        .fetch_all(&mut *conn)
        .await?;
    let now: DateTime<Utc> = state.clock.now();
    // Two periods back from the latest closed one of any kind is at most seven months.
    let from = now
        .date_naive()
        .checked_sub_days(Days::new(215))
        .unwrap_or_default();
    let ids: Vec<i64> = engagements.iter().map(|e| e.id).collect();
    let data = load_many(&mut conn, &ids, from, now.date_naive()).await?;
    let mut rows: Vec<Row> = engagements
        .into_iter()
        .map(|e| {
            let zone: Tz = e.time_zone.parse().unwrap_or(chrono_tz::UTC);
            let today = now.with_timezone(&zone).date_naive();
            let period = Period::latest_closed(period_kind(&e.scorecard_period), today);
            let (score, change, worst) = match data.get(&e.id) {
                Some(d) => {
                    let current = d.score(&period, today);
                    let previous = d.score(&period.previous(), today);
                    let worst = d
                        .inputs(&period)
                        .into_iter()
                        .filter_map(|(k, i)| {
                            i.filter(|i| i.terms.active)
                                .map(|i| (k, scoring::kpi_result(&i, &period, today)))
                        })
                        .filter_map(|(k, r)| r.score.map(|s| (s, k.name)))
                        .min_by(|a, b| a.0.cmp(&b.0))
                        .map(|(s, name)| format!("{name} ({})", s.round_dp(0)))
                        .unwrap_or_default();
                    let change = match (current.score, previous.score) {
                        (Some(a), Some(b)) => Some(a - b),
                        _ => None,
                    };
                    (current, change, worst)
                }
                None => (
                    scoring::PeriodScore {
                        score: None,
                        coverage: Decimal::ZERO,
                        standing: None,
                    },
                    None,
                    String::new(),
                ),
            };
            Row {
                id: e.id,
                name: e.name,
                vendor_name: e.vendor_name,
                tier: e.tier,
                owner: e.owner,
                period: period.label(),
                standing: score.standing.map_or("No data", standing_label),
                standing_key: standing_key(score.standing),
                score: score.score,
                change,
                worst,
            }
        })
        .filter(|r| standing.is_empty() || r.standing_key == standing)
        .collect();
    match sort.as_str() {
        "name" => rows.sort_by(|a, b| {
            a.vendor_name
                .to_lowercase()
                .cmp(&b.vendor_name.to_lowercase())
                .then(a.name.cmp(&b.name))
        }),
        "change" => rows.sort_by(|a, b| a.change.cmp(&b.change).then(a.id.cmp(&b.id))),
        // Weakest first: that is where attention goes.
        _ => rows.sort_by(|a, b| {
            a.score
                .is_some()
                .cmp(&b.score.is_some())
                .reverse()
                .then(a.score.cmp(&b.score))
                .then(a.id.cmp(&b.id))
        }),
    }
    Ok(Computed {
        rows,
        tier,
        standing,
        manager,
        sort,
        managers,
    })
}

pub async fn portfolio(
    State(state): State<AppState>,
    Staff(current): Staff,
    Query(query): Query<PortfolioQuery>,
) -> Result<Html<String>> {
    let page = paging::page_number(query.page.as_deref());
    let Computed {
        rows,
        tier,
        standing,
        manager,
        sort,
        managers,
    } = compute(&state, query).await?;
    let total = rows.len() as i64;
    let rows: Vec<Row> = rows
        .into_iter()
        .skip(paging::offset(page, PER_PAGE as i64) as usize)
        .take(PER_PAGE)
        .collect();
    let sort_param = if sort == "score" { "" } else { sort.as_str() };
    let pager = Pager::new(
        "/portfolio",
        &[
            ("tier", &tier),
            ("standing", &standing),
            ("manager", &manager),
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
        sort,
        managers,
        pager,
    };
    Ok(Html(page.render()?))
}

/// The whole filtered portfolio as CSV.
pub async fn portfolio_csv(
    State(state): State<AppState>,
    Staff(_): Staff,
    Query(query): Query<PortfolioQuery>,
) -> Result<axum::response::Response> {
    let computed = compute(&state, query).await?;
    let mut out = super::csv::line(
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
        ]
        .map(String::from),
    );
    for r in computed.rows {
        out.push_str(&super::csv::line(&[
            r.id.to_string(),
            r.name,
            r.vendor_name,
            r.tier,
            r.owner,
            r.period,
            r.score.map(|s| s.to_string()).unwrap_or_default(),
            r.standing.to_string(),
            r.change.map(|c| c.to_string()).unwrap_or_default(),
            r.worst,
        ]));
    }
    Ok(super::values::csv_response("portfolio.csv", out))
}
