//! Logging a check-in with up to three action items.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use sqlx::PgConnection;

use super::{Health, Kind, Side};
use crate::auth::CurrentUser;
use crate::engagements::{self, Access, WindowNow, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

/// Action-item rows on the check-in form.
const ITEM_ROWS: usize = 3;

#[derive(Template)]
#[template(path = "checkins/new.html")]
struct NewPage {
    layout: Layout,
    access: Access,
    form: Pairs,
    errors: FieldErrors,
    window: WindowNow,
    rows: Vec<usize>,
}

impl NewPage {
    fn new(
        current: &CurrentUser,
        access: Access,
        window: WindowNow,
        form: Pairs,
        errors: FieldErrors,
    ) -> NewPage {
        NewPage {
            layout: Layout::new(
                &current.session,
                format!("Log a check-in: {}", access.name),
                "/engagements",
            ),
            form,
            errors,
            access,
            window,
            rows: (0..ITEM_ROWS).collect(),
        }
    }

    fn health_options(&self) -> Vec<(String, String)> {
        Health::options_with_prompt()
    }

    fn kind_options(&self) -> Vec<(String, String)> {
        Kind::options()
    }

    fn side_options(&self) -> Vec<(String, String)> {
        Side::options()
    }

    fn row(&self, field: &str, index: &usize) -> &str {
        self.form.get(&format!("{field}_{index}"))
    }
}

async fn manage(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    id: i64,
) -> Result<(Access, WindowNow)> {
    let access = access(db, &current.user, id).await?;
    access.require_manage()?;
    let b = engagements::boundaries_of(db, id).await?;
    let window = engagements::window_now(&b, access.zone(), state.clock.now());
    Ok((access, window))
}

pub async fn new(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let (access, window) = manage(&state, &current, &mut conn, id).await?;
    let today = state.clock.today(access.zone());
    let form = Pairs(vec![
        ("form_key".into(), uuid::Uuid::new_v4().to_string()),
        ("held_on".into(), today.to_string()),
        ("kind".into(), "scheduled".into()),
        ("shared".into(), "yes".into()),
    ]);
    let page = NewPage::new(&current, access, window, form, FieldErrors::default());
    Ok(Html(page.render()?).into_response())
}

pub struct NewItem {
    pub title: String,
    pub side: Side,
    pub assignee: String,
    pub due_on: Option<NaiveDate>,
}

/// A check-in as the form gives it, with its action items.
pub struct NewCheckin {
    pub held_on: NaiveDate,
    pub kind: Kind,
    pub attendees: String,
    pub progress: String,
    pub blockers: String,
    pub health: Health,
    pub next_steps: String,
    pub shared: bool,
    pub items: Vec<NewItem>,
}

impl NewCheckin {
    /// Parses the form; a check-in cannot be held after `today`.
    pub fn parse(form: &Pairs, today: NaiveDate) -> std::result::Result<NewCheckin, FieldErrors> {
        parse(form, today)
    }
}

fn parse(form: &Pairs, today: NaiveDate) -> std::result::Result<NewCheckin, FieldErrors> {
    let mut errors = FieldErrors::default();
    let held_on = validate::date(&mut errors, "held_on", form.get("held_on"), true);
    if held_on.is_some_and(|d| d > today) {
        errors.add("held_on", "A check-in cannot be in the future.");
    }
    let kind = validate::choice(
        &mut errors,
        "kind",
        form.get("kind"),
        Kind::parse,
        "Choose scheduled or ad hoc.",
    );
    let attendees = validate::optional(&mut errors, "attendees", form.get("attendees"), 1000);
    let progress = validate::required(
        &mut errors,
        "progress",
        form.get("progress"),
        5000,
        "Say what progressed.",
    );
    let blockers = validate::optional(&mut errors, "blockers", form.get("blockers"), 5000);
    let health = validate::choice(
        &mut errors,
        "health",
        form.get("health"),
        Health::parse,
        "Choose the health: on track, at risk or off track.",
    );
    let next_steps = validate::optional(&mut errors, "next_steps", form.get("next_steps"), 5000);
    let mut items = Vec::new();
    for index in 0..ITEM_ROWS {
        let field = |name: &str| format!("{name}_{index}");
        let title = form.get(&field("item_title")).trim().to_string();
        let assignee = form.get(&field("item_assignee")).trim().to_string();
        let due = form.get(&field("item_due")).trim();
        if title.is_empty() {
            if !assignee.is_empty() || !due.is_empty() {
                errors.add(
                    field("item_title"),
                    "Give the action item a title, or clear its row.",
                );
            }
            continue;
        }
        if title.chars().count() > 300 {
            errors.add(field("item_title"), "Use at most 300 characters.");
        }
        let side = Side::parse(form.get(&field("item_side")));
        if side.is_none() {
            errors.add(field("item_side"), "Say whose action it is.");
        }
        let due_on = validate::date(&mut errors, field("item_due"), due, false);
        if let Some(side) = side {
            items.push(NewItem {
                title,
                side,
                assignee,
                due_on,
            });
        }
    }
    match (held_on, kind, health) {
        (Some(held_on), Some(kind), Some(health)) if errors.is_empty() => Ok(NewCheckin {
            held_on,
            kind,
            attendees,
            progress,
            blockers,
            health,
            next_steps,
            shared: form.get("shared") == "yes",
            items,
        }),
        _ => Err(errors),
    }
}

pub async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (access, window) = manage(&state, &current, change.db(), id).await?;
    let today = state.clock.today(access.zone());
    let checkin = match NewCheckin::parse(&form, today) {
        Ok(checkin) => checkin,
        Err(errors) => return refused(NewPage::new(&current, access, window, form, errors)),
    };
    let Some(_) = log(&mut change, id, current.user.id, &checkin, form_key(&form)).await? else {
        // Posted twice: the first one saved it.
        return Ok(Redirect::to(&format!("/engagements/{id}/checkins")).into_response());
    };
    let flash = Flash::success(format!(
        "Check-in of {} logged{}.",
        checkin.held_on,
        if checkin.shared {
            " and shared with the vendor"
        } else {
            " (internal)"
        }
    ));
    change.flash(flash).await?;
    change.commit_and_refresh(id).await?;
    Ok(Redirect::to(&format!("/engagements/{id}/checkins")).into_response())
}

/// Writes a check-in of engagement `engagement_id` by `author_id` with its action items and
/// its audit entry; none when `key` already saved one (a double submit or a retry).
pub async fn log(
    change: &mut Change<'_>,
    engagement_id: i64,
    author_id: i64,
    checkin: &NewCheckin,
    key: uuid::Uuid,
) -> Result<Option<i64>> {
    let now = change.now;
    let checkin_id: Option<i64> = sqlx::query_scalar(
        "insert into checkins (engagement_id, held_on, kind, attendees, progress, blockers, health, next_steps, shared,
                               author_id, created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         on conflict (form_key) do nothing returning id",
    )
    .bind(engagement_id)
    .bind(checkin.held_on)
    .bind(checkin.kind)
    .bind(&checkin.attendees)
    .bind(&checkin.progress)
    .bind(&checkin.blockers)
    .bind(checkin.health)
    .bind(&checkin.next_steps)
    .bind(checkin.shared)
    .bind(author_id)
    .bind(now)
    .bind(key)
    .fetch_optional(change.db())
    .await?;
    let Some(checkin_id) = checkin_id else {
        return Ok(None);
    };
    for item in &checkin.items {
        sqlx::query(
            "insert into action_items (engagement_id, checkin_id, title, owner_side, assignee, due_on, created_at)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(engagement_id)
        .bind(checkin_id)
        .bind(&item.title)
        .bind(item.side)
        .bind(&item.assignee)
        .bind(item.due_on)
        .bind(now)
        .execute(change.db())
        .await?;
    }
    change
        .audit(
            "checkin.create",
            format!("engagement:{engagement_id}"),
            serde_json::json!({ "checkin_id": checkin_id, "health": checkin.health, "shared": checkin.shared, "action_items": checkin.items.len() }),
        )
        .await?;
    Ok(Some(checkin_id))
}

/// The engagement and id of the check-in a key saved, if any.
pub async fn checkin_by_key(db: &mut PgConnection, key: uuid::Uuid) -> Result<Option<(i64, i64)>> {
    Ok(
        sqlx::query_as("select engagement_id, id from checkins where form_key = $1")
            .bind(key)
            .fetch_optional(db)
            .await?,
    )
}
