//! The home page of each role: where their work starts.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use chrono::NaiveDate;

use crate::auth::policy::vendor_scope;
use crate::auth::{CurrentUser, Role};
use crate::checkins::{self, Assessment, Health};
use crate::clock::Clock;
use crate::engagements::Status;
use crate::state::AppState;
use crate::vocab::Zone;
use crate::web::error::Result;
use crate::web::layout::Layout;
use crate::web::routes::Routes;

#[derive(sqlx::FromRow)]
struct EngagementRow {
    id: i64,
    name: String,
    vendor_name: String,
    status: Status,
    time_zone: Zone,
    next_review_due: Option<NaiveDate>,
    next_audit_due: Option<NaiveDate>,
    kpis: i64,
    last_checkin: Option<NaiveDate>,
    last_health: Option<Health>,
    open_ours: i64,
    open_vendor: i64,
    feedback_waiting: i64,
    /// Vendor users: open findings of their side. Others: findings not yet settled.
    findings: i64,
    /// Vendor users: proposals asking them for information. Others: proposals to answer.
    proposals: i64,
    /// Active grants whose access review is due (not for vendor users).
    access_reviews: i64,
}

impl EngagementRow {
    /// Whether a due date has passed, by today in the engagement's own zone.
    fn overdue(&self, due: &Option<NaiveDate>, clock: &Clock) -> bool {
        due.is_some_and(|d| d < clock.today(*self.time_zone))
    }
}

/// An open action item of the user's side, on the dashboard.
#[derive(sqlx::FromRow)]
struct MyItem {
    engagement_id: i64,
    engagement: String,
    title: String,
    assignee: String,
    due_on: Option<NaiveDate>,
    overdue: bool,
}

#[derive(sqlx::FromRow)]
struct Win {
    engagement_id: i64,
    engagement: String,
    title: String,
    happened_on: NaiveDate,
}

struct Card {
    row: EngagementRow,
    review_overdue: bool,
    audit_overdue: bool,
    oversight: Option<Assessment>,
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
    wins: Vec<Win>,
    my_items: Vec<MyItem>,
}

/// The cards' statement for one side of the house: `$for_vendor` is the literal argument of
/// the `visible_*` functions, `$where` picks the engagements (vendor isolation included) and
/// the counts that differ by side follow. One statement per role, without optional filters,
/// so PostgreSQL plans each once and reuses the plan; the 50 cards are chosen first, and only
/// they get their counts.
macro_rules! cards_sql {
    ($for_vendor:literal, $where:literal, $findings:literal, $proposal:literal, $access_reviews:literal) => {
        concat!(
            "select e.id, e.name, e.vendor_name, e.status, e.time_zone, e.next_review_due, e.next_audit_due,
                    (select count(*) from kpis k where k.engagement_id = e.id) as kpis,
                    c.held_on as last_checkin, c.health as last_health, a.open_ours, a.open_vendor,
                    (select count(*) from visible_feedback(true) f where f.engagement_id = e.id and f.acknowledged_at is null)
                       as feedback_waiting,
                    (select count(*) from visible_findings(",
            $for_vendor,
            ") f where f.engagement_id = e.id and f.status in ",
            $findings,
            ") as findings,
                    (select count(*) from proposals p where p.engagement_id = e.id and p.status = '",
            $proposal,
            "') as proposals, ",
            $access_reviews,
            " as access_reviews
             from (select e.id, e.name, v.name as vendor_name, e.status, e.time_zone, e.next_review_due,
                          e.next_audit_due, lower(v.name) as vendor_key, lower(e.name) as name_key
                   from engagements e join vendors v on v.id = e.vendor_id
                   where ",
            $where,
            "
                   order by e.status <> 'active', lower(v.name), lower(e.name)
                   limit 50) e
             left join lateral (select c.held_on, c.health from visible_checkins(",
            $for_vendor,
            ") c
                                where c.engagement_id = e.id order by c.held_on desc, c.id desc limit 1) c on true
             cross join lateral (select count(*) filter (where a.owner_side = 'ours') as open_ours,
                                        count(*) filter (where a.owner_side = 'vendor') as open_vendor
                                 from visible_action_items(",
            $for_vendor,
            ") a where a.engagement_id = e.id and a.status = 'open') a
             order by e.status <> 'active', e.vendor_key, e.name_key"
        )
    };
}

/// A vendor user's cards ($1 the vendor): their vendor's engagements that are neither drafts
/// nor closed, with what is asked of them.
const VENDOR_CARDS: &str = cards_sql!(
    "true",
    "e.vendor_id = $1 and e.status not in ('closed', 'draft')",
    "('open')",
    "needs_information",
    "0::bigint"
);

/// A manager's cards ($1 the manager, $2 now): the engagements they own or co-manage, not closed.
const MANAGER_CARDS: &str = cards_sql!(
    "false",
    "e.status <> 'closed'
          and e.id in (select o.id from engagements o where o.owner_id = $1
                       union select m.engagement_id from engagement_managers m where m.user_id = $1)",
    "('open', 'answered')",
    "open",
    "(select count(*) from access_grants g where g.engagement_id = e.id and g.status = 'active'
        and g.next_review_due <= ($2::timestamptz at time zone e.time_zone)::date)"
);

/// An admin's cards ($1 now): every engagement that is not closed.
const ADMIN_CARDS: &str = cards_sql!(
    "false",
    "e.status <> 'closed'",
    "('open', 'answered')",
    "open",
    "(select count(*) from access_grants g where g.engagement_id = e.id and g.status = 'active'
        and g.next_review_due <= ($1::timestamptz at time zone e.time_zone)::date)"
);
/// The open action items of the reader's side, as `$for_vendor` lets them see items, in the
/// engagements `$where` picks (`$now` the parameter holding now): one statement per role.
macro_rules! items_sql {
    ($for_vendor:literal, $side:literal, $now:literal, $where:literal) => {
        concat!(
            "select a.engagement_id, e.name as engagement, a.title, a.assignee, a.due_on,
                    coalesce(a.due_on < (",
            $now,
            "::timestamptz at time zone e.time_zone)::date, false) as overdue
             from visible_action_items(",
            $for_vendor,
            ") a
             join engagements e on e.id = a.engagement_id
             where a.status = 'open' and e.status <> 'closed' and a.owner_side = '",
            $side,
            "'",
            $where,
            "
             order by a.due_on nulls last, a.id
             limit 20"
        )
    };
}

/// A vendor user's items ($1 the vendor, $2 now).
const VENDOR_ITEMS: &str = items_sql!("true", "vendor", "$2", " and e.vendor_id = $1");

/// A manager's items ($1 the manager, $2 now).
const MANAGER_ITEMS: &str = items_sql!(
    "false",
    "ours",
    "$2",
    " and e.id in (select o.id from engagements o where o.owner_id = $1
                    union select m.engagement_id from engagement_managers m where m.user_id = $1)"
);

/// An admin's items ($1 now).
const ADMIN_ITEMS: &str = items_sql!("false", "ours", "$1", "");

pub async fn show(State(state): State<AppState>, current: CurrentUser) -> Result<Html<String>> {
    let user = &current.user;
    let mut conn = state.pool.acquire().await?;
    // Vendor users see their vendor's engagements; managers the ones they manage; admins all
    // that are not closed.
    let now = state.clock.now();
    let rows: Vec<EngagementRow> = match user.role {
        Role::Vendor => {
            sqlx::query_as(VENDOR_CARDS)
                .bind(vendor_scope(user))
                .fetch_all(&mut *conn)
                .await?
        }
        Role::Manager => {
            sqlx::query_as(MANAGER_CARDS)
                .bind(user.id)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?
        }
        Role::Admin => {
            sqlx::query_as(ADMIN_CARDS)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    let counts = if user.role == Role::Admin {
        sqlx::query_as(
            "select (select count(*) from vendors) as vendors,
                    (select count(*) from vendors where status = 'active') as active_vendors,
                    (select count(*) from engagements) as engagements,
                    (select count(*) from engagements where status = 'active') as active_engagements,
                    (select count(*) from users where disabled_at is null and not service_account) as users",
        )
        .fetch_one(&mut *conn)
        .await?
    } else {
        Counts::default()
    };
    let mut oversight = if user.role == Role::Vendor {
        Vec::new()
    } else {
        let ids: Vec<i64> = rows
            .iter()
            .filter(|r| r.status == Status::Active)
            .map(|r| r.id)
            .collect();
        checkins::assess_many(&mut conn, &ids, now).await?
    };
    let wins: Vec<Win> = if user.role == Role::Vendor {
        sqlx::query_as(
            "select s.engagement_id, e.name as engagement, s.title, s.happened_on
             from successes s join engagements e on e.id = s.engagement_id
             where e.vendor_id = $1 order by s.happened_on desc, s.id desc limit 5",
        )
        .bind(vendor_scope(user))
        .fetch_all(&mut *conn)
        .await?
    } else {
        Vec::new()
    };
    // Vendor users act on their side's items of shared check-ins; managers on ours, in the
    // engagements they manage; admins see ours everywhere.
    let my_items: Vec<MyItem> = match user.role {
        Role::Vendor => {
            sqlx::query_as(VENDOR_ITEMS)
                .bind(vendor_scope(user))
                .bind(now)
                .fetch_all(&mut *conn)
                .await?
        }
        Role::Manager => {
            sqlx::query_as(MANAGER_ITEMS)
                .bind(user.id)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?
        }
        Role::Admin => {
            sqlx::query_as(ADMIN_ITEMS)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    let cards = rows
        .into_iter()
        .map(|row| Card {
            review_overdue: row.overdue(&row.next_review_due, &state.clock),
            audit_overdue: row.overdue(&row.next_audit_due, &state.clock),
            oversight: oversight
                .iter()
                .position(|(id, _)| *id == row.id)
                .map(|i| oversight.swap_remove(i).1),
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
        wins,
        my_items,
    };
    Ok(Html(page.render()?))
}

/// The routes of home.
pub fn routes() -> Routes {
    Routes::new().get("/", show)
}
