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
use crate::feedback::{NewSuccess, record_success};
use crate::reminders;
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
    if !reminders::dismiss(&mut change.tx, id, current.user.id, change.now).await? {
        return Err(AppError::NotFound);
    }
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
    let until = change.now + chrono::Duration::days(snooze.days);
    if !reminders::snooze(change.db(), id, current.user.id, until).await? {
        return Err(AppError::NotFound);
    }
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
    let title = reminders::resolve(&mut change.tx, id, change.now).await?;
    let win = NewSuccess {
        title: title.clone(),
        description: "Celebrated from a suggestion: the target was met period after period.".into(),
        happened_on: today,
    };
    let key = uuid::Uuid::from_u64_pair(CELEBRATION_KEY, id as u64);
    let success = record_success(
        &mut change.tx,
        engagement_id,
        &win,
        current.user.id,
        change.now,
        key,
    )
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
