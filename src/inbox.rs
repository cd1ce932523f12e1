//! Each person's inbox: the reminders and notices addressed to them, grouped by engagement,
//! each with a link to the thing to do; dismiss, snooze for a day or a week, and publish a
//! suggested celebration as a success in one step.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, Redirect};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::auth::CurrentUser;
use crate::auth::policy::vendor_scope;
use crate::engagements::access;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::Change;
use crate::web::error::{AppError, Result};
use crate::web::form::{Form, Id, Pairs};
use crate::web::layout::{Flash, Layout};
use crate::web::routes::Routes;

#[derive(sqlx::FromRow)]
pub struct Item {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub link: String,
    pub due_on: Option<NaiveDate>,
    pub urgent: bool,
    pub notice: bool,
    pub raised_at: DateTime<Utc>,
    pub engagement_id: i64,
    pub engagement_name: String,
    pub vendor_name: String,
    pub snoozed_until: Option<DateTime<Utc>>,
}

impl Item {
    pub fn is_celebration(&self) -> bool {
        self.kind == "celebration"
    }

    pub fn label(&self) -> &'static str {
        match (self.notice, self.urgent) {
            (_, true) => "Urgent",
            (true, false) => "New",
            (false, false) => "Reminder",
        }
    }
}

pub struct Group {
    pub engagement_id: i64,
    pub name: String,
    pub vendor_name: String,
    pub items: Vec<Item>,
}

#[derive(Template)]
#[template(path = "inbox/list.html")]
struct InboxPage {
    layout: Layout,
    groups: Vec<Group>,
    snoozed: Vec<Item>,
    can_celebrate: bool,
    zone: chrono_tz::Tz,
}

impl InboxPage {
    fn when(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%a %-d %b %H:%M")
            .to_string()
    }
}

pub async fn list(State(state): State<AppState>, current: CurrentUser) -> Result<Html<String>> {
    let now = state.clock.now();
    let items: Vec<Item> = sqlx::query_as(
        "select r.id, r.kind, r.title, r.link, r.due_on, r.urgent, r.notice, r.raised_at,
                r.engagement_id, e.name as engagement_name, v.name as vendor_name, i.snoozed_until
         from inbox_items i
         join reminders r on r.id = i.reminder_id
         join engagements e on e.id = r.engagement_id
         join vendors v on v.id = e.vendor_id
         where i.user_id = $1 and i.dismissed_at is null and r.resolved_at is null
           and ($2::bigint is null or e.vendor_id = $2)
         order by lower(e.name), e.id, r.urgent desc, r.notice, r.due_on nulls last, r.id",
    )
    .bind(current.user.id)
    .bind(vendor_scope(&current.user))
    .fetch_all(&state.pool)
    .await?;
    let (snoozed, waiting): (Vec<Item>, Vec<Item>) = items
        .into_iter()
        .partition(|i| i.snoozed_until.is_some_and(|until| until > now));
    let mut groups: Vec<Group> = Vec::new();
    for item in waiting {
        match groups.last_mut() {
            Some(group) if group.engagement_id == item.engagement_id => group.items.push(item),
            _ => groups.push(Group {
                engagement_id: item.engagement_id,
                name: item.engagement_name.clone(),
                vendor_name: item.vendor_name.clone(),
                items: vec![item],
            }),
        }
    }
    let page = InboxPage {
        layout: Layout::new(&current.session, "Inbox", "/inbox"),
        groups,
        snoozed,
        can_celebrate: current.user.role != crate::auth::Role::Vendor,
        zone: current.zone(state.config.time_zone),
    };
    Ok(Html(page.render()?))
}

/// The reminder, if it is in this user's inbox.
async fn own_item(db: &mut PgConnection, current: &CurrentUser, id: i64) -> Result<(i64, String)> {
    sqlx::query_as(
        "select r.engagement_id, r.kind from inbox_items i join reminders r on r.id = i.reminder_id
         where i.reminder_id = $1 and i.user_id = $2",
    )
    .bind(id)
    .bind(current.user.id)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)
}

pub async fn dismiss(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Id(id): Id,
    Form(_): Form<Pairs>,
) -> Result<Redirect> {
    let mut change = Change::begin(&state, &current, addr).await?;
    sqlx::query_scalar::<_, bool>(
        "update inbox_items set dismissed_at = coalesce(dismissed_at, $3)
         where reminder_id = $1 and user_id = $2 returning true",
    )
    .bind(id)
    .bind(current.user.id)
    .bind(change.now)
    .fetch_optional(change.db())
    .await?
    .ok_or(AppError::NotFound)?;
    change.flash(Flash::success("Dismissed.")).await?;
    change.commit().await?;
    Ok(Redirect::to("/inbox"))
}

/// How long to snooze an item: a day or a week.
pub struct Snooze {
    pub days: i64,
    pub label: &'static str,
}

impl Snooze {
    pub fn parse(form: &Pairs) -> Option<Snooze> {
        match form.get("days").trim() {
            "1" => Some(Snooze {
                days: 1,
                label: "until tomorrow",
            }),
            "7" => Some(Snooze {
                days: 7,
                label: "for a week",
            }),
            _ => None,
        }
    }
}

pub async fn snooze(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Id(id): Id,
    Form(form): Form<Pairs>,
) -> Result<Redirect> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let Some(snooze) = Snooze::parse(&form) else {
        // Someone else's item stays missing, whatever was asked of it.
        own_item(change.db(), &current, id).await?;
        return Err(AppError::BadRequest("Snooze for 1 or 7 days.".into()));
    };
    sqlx::query_scalar::<_, bool>(
        "update inbox_items set snoozed_until = $3 where reminder_id = $1 and user_id = $2 returning true",
    )
    .bind(id)
    .bind(current.user.id)
    .bind(change.now + chrono::Duration::days(snooze.days))
    .fetch_optional(change.db())
    .await?
    .ok_or(AppError::NotFound)?;
    change
        .flash(Flash::success(format!("Snoozed {}.", snooze.label)))
        .await?;
    change.commit().await?;
    Ok(Redirect::to("/inbox"))
}

/// The success published from a suggestion takes its form key from the reminder, so the
/// suggestion becomes one success however many of its managers press the button.
const CELEBRATION_KEY: u64 = u64::from_be_bytes(*b"trellis!");

/// Publishes a suggested celebration as a success of the engagement (which its vendor sees),
/// and resolves the suggestion for everyone it was addressed to.
pub async fn celebrate(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientAddr(addr): ClientAddr,
    Id(id): Id,
    Form(_): Form<Pairs>,
) -> Result<Redirect> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (engagement_id, kind) = own_item(change.db(), &current, id).await?;
    if kind != "celebration" {
        return Err(AppError::NotFound);
    }
    let access = access(change.db(), &current.user, engagement_id).await?;
    access.require_manage()?;
    let today = state.clock.today(access.zone());
    let title: String = sqlx::query_scalar(
        "update reminders set resolved_at = coalesce(resolved_at, $2) where id = $1 returning title",
    )
    .bind(id)
    .bind(change.now)
    .fetch_one(change.db())
    .await?;
    let success: Option<i64> = sqlx::query_scalar(
        "insert into successes (engagement_id, title, description, happened_on, author_id, created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (form_key) do nothing returning id",
    )
    .bind(engagement_id)
    .bind(&title)
    .bind("Celebrated from a suggestion: the target was met period after period.")
    .bind(today)
    .bind(current.user.id)
    .bind(change.now)
    .bind(uuid::Uuid::from_u64_pair(CELEBRATION_KEY, id as u64))
    .fetch_optional(change.db())
    .await?;
    if let Some(success) = success {
        change
            .audit(
                "success.create",
                format!("success:{success}"),
                serde_json::json!({"engagement_id": engagement_id, "from_reminder": id}),
            )
            .await?;
    }
    change
        .flash(Flash::success(format!(
            "Published on {}'s successes: {title}",
            access.name
        )))
        .await?;
    change.commit().await?;
    Ok(Redirect::to("/inbox"))
}

/// The routes of inbox.
pub fn routes() -> Routes {
    Routes::new()
        .get("/inbox", list)
        .post("/inbox/{id}/dismiss", dismiss)
        .post("/inbox/{id}/snooze", snooze)
        .post("/inbox/{id}/celebrate", celebrate)
}
