//! The home page of each role: where their work starts.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use chrono::NaiveDate;

use crate::auth::policy::vendor_scope;
use crate::auth::{CurrentUser, Role};
use crate::startup::AppState;
use crate::web::error::Result;
use crate::web::layout::Layout;

#[derive(sqlx::FromRow)]
struct EngagementRow {
    id: i64,
    name: String,
    vendor_name: String,
    status: String,
    time_zone: String,
    next_review_due: Option<NaiveDate>,
    next_audit_due: Option<NaiveDate>,
    kpis: i64,
}

impl EngagementRow {
    /// Whether a due date has passed, by today in the engagement's own zone.
    fn overdue(&self, due: &Option<NaiveDate>, state_today: &dyn Fn(&str) -> NaiveDate) -> bool {
        due.is_some_and(|d| d < state_today(&self.time_zone))
    }
}

struct Card {
    row: EngagementRow,
    review_overdue: bool,
    audit_overdue: bool,
}

#[derive(sqlx::FromRow, Default)]
struct Counts {
    vendors: i64,
    active_vendors: i64,
    engagements: i64,
    active_engagements: i64,
    users: i64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    first_name: String,
    role: Role,
    vendor_name: String,
    cards: Vec<Card>,
    counts: Counts,
}

pub async fn show(State(state): State<AppState>, current: CurrentUser) -> Result<Html<String>> {
    let user = &current.user;
    let mut conn = state.pool.acquire().await?;
    // Vendor users see their vendor's engagements; managers the ones they manage; admins all
    // that are not closed.
    let rows: Vec<EngagementRow> = sqlx::query_as(
        "select e.id, e.name, v.name as vendor_name, e.status, e.time_zone, e.next_review_due, e.next_audit_due,
                (select count(*) from kpis k where k.engagement_id = e.id) as kpis
         from engagements e join vendors v on v.id = e.vendor_id
         where e.status <> 'closed'
           and ($1::bigint is null or e.vendor_id = $1)
           and ($2::text <> 'manager' or e.owner_id = $3
                or exists (select 1 from engagement_managers m where m.engagement_id = e.id and m.user_id = $3))
           and ($2::text <> 'vendor' or e.status <> 'draft')
         order by e.status <> 'active', lower(v.name), lower(e.name)
         limit 50",
    )
    .bind(vendor_scope(user))
    .bind(user.role.as_str())
    .bind(user.id)
    .fetch_all(&mut *conn)
    .await?;
    let counts = if user.role == Role::Admin {
        sqlx::query_as(
            "select (select count(*) from vendors) as vendors,
                    (select count(*) from vendors where status = 'active') as active_vendors,
                    (select count(*) from engagements) as engagements,
                    (select count(*) from engagements where status = 'active') as active_engagements,
                    (select count(*) from users where disabled_at is null) as users",
        )
        .fetch_one(&mut *conn)
        .await?
    } else {
        Counts::default()
    };
    let today = |zone: &str| {
        state
            .clock
            .today(zone.parse().unwrap_or(state.config.time_zone))
    };
    let cards = rows
        .into_iter()
        .map(|row| Card {
            review_overdue: row.overdue(&row.next_review_due, &today),
            audit_overdue: row.overdue(&row.next_audit_due, &today),
            row,
        })
        .collect();
    let page = HomePage {
        layout: Layout::new(&current.session, "Home", "/"),
        first_name: user
            .name
            .split_whitespace()
            .next()
            .unwrap_or(&user.name)
            .to_string(),
        role: user.role,
        vendor_name: user
            .vendor
            .as_ref()
            .map(|(_, name)| name.clone())
            .unwrap_or_default(),
        cards,
        counts,
    };
    Ok(Html(page.render()?))
}
