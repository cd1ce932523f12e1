//! The home page of each role: where their work starts.

use std::sync::LazyLock;

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use chrono::NaiveDate;
use serde::Deserialize;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{FromRow, Row as _};

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
#[derive(Deserialize)]
struct MyItem {
    engagement_id: i64,
    engagement: String,
    title: String,
    assignee: String,
    due_on: Option<NaiveDate>,
    overdue: bool,
}

/// A questionnaire waiting for the reader: a vendor user's to answer, a manager's or
/// admin's to review.
#[derive(Deserialize)]
struct WaitingQuestionnaire {
    id: i64,
    title: String,
    due_on: NaiveDate,
    /// Open: the vendor answers (clarification asked for included); submitted: to review.
    status: String,
    overdue: bool,
}

#[derive(Deserialize)]
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
    questionnaires: Vec<WaitingQuestionnaire>,
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
            " as access_reviews, e.vendor_key, e.name_key
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

/// A manager's cards ($1 the manager, $2 now): the engagements they own or co-manage, not
/// closed. Their ids are gathered first (`= any (array(…))`), so the engagements are read
/// through their key rather than scanned whole.
const MANAGER_CARDS: &str = cards_sql!(
    "false",
    "e.status <> 'closed' and e.id = any (array(select o.id from engagements o where o.owner_id = $1
                       union select m.engagement_id from engagement_managers m where m.user_id = $1))",
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
            "select a.id, a.engagement_id, e.name as engagement, a.title, a.assignee, a.due_on,
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
    " and e.id = any (array(select o.id from engagements o where o.owner_id = $1
                    union select m.engagement_id from engagement_managers m where m.user_id = $1))"
);

/// An admin's items ($1 now).
const ADMIN_ITEMS: &str = items_sql!("false", "ours", "$1", "");

/// A vendor user's wins: the latest successes of their vendor's engagements ($1 the vendor).
const VENDOR_WINS: &str = "select json_agg(w order by w.happened_on desc, w.id desc)
     from (select s.id, s.engagement_id, e.name as engagement, s.title, s.happened_on
           from successes s join engagements e on e.id = s.engagement_id
           where e.vendor_id = $1 order by s.happened_on desc, s.id desc limit 5) w";

/// The questionnaires waiting for the reader, `$where` picking them (`$now` the parameter
/// holding now), at most ten, the soonest due first.
macro_rules! questionnaires_sql {
    ($now:literal, $where:literal) => {
        concat!(
            "select json_agg(q order by q.due_on, q.id)
             from (select q.id, t.name as title, q.due_on, q.status,
                          q.due_on < (",
            $now,
            "::timestamptz at time zone 'UTC')::date as overdue
                   from questionnaires q join questionnaire_templates t on t.id = q.template_id
                   where ",
            $where,
            "
                   order by q.due_on, q.id limit 10) q"
        )
    };
}

/// A vendor user's questionnaires to answer ($1 the vendor, $2 now).
const VENDOR_QUESTIONNAIRES: &str =
    questionnaires_sql!("$2", "q.vendor_id = $1 and q.status = 'open'");

/// A manager's questionnaires to review: those they sent, or of an engagement they manage
/// ($1 the manager, $2 now).
const MANAGER_QUESTIONNAIRES: &str = questionnaires_sql!(
    "$2",
    "q.status = 'submitted'
                     and (q.sent_by = $1 or q.engagement_id = any (array(
                          select o.id from engagements o where o.owner_id = $1
                          union select m.engagement_id from engagement_managers m where m.user_id = $1)))"
);

/// Every questionnaire waiting for review, on an admin's home ($1 now).
const ADMIN_QUESTIONNAIRES: &str = questionnaires_sql!("$1", "q.status = 'submitted'");

/// The organisation's counts on an admin's home.
const ADMIN_COUNTS: &str = "(select count(*) from vendors) as vendors,
        (select count(*) from vendors where status = 'active') as active_vendors,
        (select count(*) from engagements) as engagements,
        (select count(*) from engagements where status = 'active') as active_engagements,
        (select count(*) from users where disabled_at is null and not service_account) as users";

const NO_COUNTS: &str =
    "0::bigint as vendors, 0::bigint as active_vendors, 0::bigint as engagements,
        0::bigint as active_engagements, 0::bigint as users";

/// A role's whole home in one statement: its action items and wins as JSON, its counts, and
/// one row per card (one row without a card when there is none). The parameters are the
/// cards' and the items' own, which every role's pair shares.
fn page_sql(items: &str, wins: &str, questionnaires: &str, counts: &str, cards: &str) -> String {
    format!(
        "select coalesce((select json_agg(i order by i.due_on nulls last, i.id) from ({items}) i), '[]') as items,
                coalesce(({wins}), '[]') as wins, coalesce(({questionnaires}), '[]') as questionnaires, {counts}, c.*
         from (select 1) x left join lateral ({cards}) c on true
         order by c.status <> 'active', c.vendor_key, c.name_key"
    )
}

/// A vendor user's home ($1 the vendor, $2 now).
static VENDOR_PAGE: LazyLock<String> = LazyLock::new(|| {
    page_sql(
        VENDOR_ITEMS,
        VENDOR_WINS,
        VENDOR_QUESTIONNAIRES,
        NO_COUNTS,
        VENDOR_CARDS,
    )
});
/// A manager's home ($1 the manager, $2 now).
static MANAGER_PAGE: LazyLock<String> = LazyLock::new(|| {
    page_sql(
        MANAGER_ITEMS,
        "select null::json",
        MANAGER_QUESTIONNAIRES,
        NO_COUNTS,
        MANAGER_CARDS,
    )
});
/// An admin's home ($1 now).
static ADMIN_PAGE: LazyLock<String> = LazyLock::new(|| {
    page_sql(
        ADMIN_ITEMS,
        "select null::json",
        ADMIN_QUESTIONNAIRES,
        ADMIN_COUNTS,
        ADMIN_CARDS,
    )
});

/// A row of a page statement: the items, wins and counts (the same on every row) and a card.
struct PageRow {
    items: Vec<MyItem>,
    wins: Vec<Win>,
    questionnaires: Vec<WaitingQuestionnaire>,
    counts: Counts,
    card: Option<EngagementRow>,
}

impl<'r> FromRow<'r, PgRow> for PageRow {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(PageRow {
            items: row.try_get::<Json<Vec<MyItem>>, _>("items")?.0,
            wins: row.try_get::<Json<Vec<Win>>, _>("wins")?.0,
            questionnaires: row
                .try_get::<Json<Vec<WaitingQuestionnaire>>, _>("questionnaires")?
                .0,
            counts: Counts::from_row(row)?,
            card: crate::db::joined(row, "id")?,
        })
    }
}

pub async fn show(State(state): State<AppState>, current: CurrentUser) -> Result<Html<String>> {
    let user = &current.user;
    let mut conn = state.pool.acquire().await?;
    // Vendor users see their vendor's engagements and act on their side's items of shared
    // check-ins; managers the engagements they manage and our items in them; admins every
    // engagement that is not closed, and our items everywhere.
    let now = state.clock.now();
    let page: Vec<PageRow> = match user.role {
        Role::Vendor => {
            sqlx::query_as(&VENDOR_PAGE)
                .bind(vendor_scope(user))
                .bind(now)
                .fetch_all(&mut *conn)
                .await?
        }
        Role::Manager => {
            sqlx::query_as(&MANAGER_PAGE)
                .bind(user.id)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?
        }
        Role::Admin => {
            sqlx::query_as(&ADMIN_PAGE)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?
        }
    };
    let mut page = page.into_iter();
    let (my_items, wins, questionnaires, counts, first) = match page.next() {
        Some(row) => (
            row.items,
            row.wins,
            row.questionnaires,
            row.counts,
            row.card,
        ),
        None => (Vec::new(), Vec::new(), Vec::new(), Counts::default(), None),
    };
    let rows: Vec<EngagementRow> = first
        .into_iter()
        .chain(page.filter_map(|row| row.card))
        .collect();
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
        questionnaires,
    };
    Ok(Html(page.render()?))
}

/// The routes of home.
pub fn routes() -> Routes {
    Routes::new().get("/", show)
}
