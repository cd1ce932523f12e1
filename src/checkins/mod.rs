//! Check-ins and their action items: the light, regular rhythm of contact. A check-in is
//! logged by one of the engagement's managers, shared with the vendor unless marked
//! internal; action items belong to a side, and only that side closes them.

pub mod contacts;
pub mod oversight;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::audit::{self, Outcome};
use crate::auth::{CurrentUser, session};
use crate::choice;
use crate::engagements::boundaries::{self, WindowNow};
use crate::engagements::{Access, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::routes::Routes;
use crate::web::validate;

choice!(pub Health {
    OnTrack = "on_track" / "On track",
    AtRisk = "at_risk" / "At risk",
    OffTrack = "off_track" / "Off track",
});

choice!(pub Kind {
    Scheduled = "scheduled" / "Scheduled",
    AdHoc = "ad_hoc" / "Ad hoc",
});

choice!(pub Side {
    Ours = "ours" / "Ours",
    Vendor = "vendor" / "The vendor's",
});

/// Health is shown by symbol and word, never colour alone.
pub fn health_symbol(stored: &str) -> &'static str {
    match stored {
        "on_track" => "●",
        "at_risk" => "▲",
        _ => "■",
    }
}

pub fn health_label(stored: &str) -> &'static str {
    Health::parse(stored).map_or("", Health::label)
}

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
    let b = boundaries::load(db, id).await?;
    let window = boundaries::window_now(&b, access.zone(), state.clock.now());
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
    let page = NewPage {
        layout: Layout::new(
            &current.session,
            format!("Log a check-in: {}", access.name),
            "/engagements",
        ),
        form: Pairs(vec![
            ("form_key".into(), uuid::Uuid::new_v4().to_string()),
            ("held_on".into(), today.to_string()),
            ("kind".into(), "scheduled".into()),
            ("shared".into(), "yes".into()),
        ]),
        errors: FieldErrors::default(),
        access,
        window,
        rows: (0..ITEM_ROWS).collect(),
    };
    Ok(Html(page.render()?).into_response())
}

struct NewItem {
    title: String,
    side: Side,
    assignee: String,
    due_on: Option<NaiveDate>,
}

struct NewCheckin {
    held_on: NaiveDate,
    kind: Kind,
    attendees: String,
    progress: String,
    blockers: String,
    health: Health,
    next_steps: String,
    shared: bool,
    items: Vec<NewItem>,
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
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let (access, window) = manage(&state, &current, &mut tx, id).await?;
    let today = state.clock.today(access.zone());
    let checkin = match parse(&form, today) {
        Ok(checkin) => checkin,
        Err(errors) => {
            let page = NewPage {
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
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
        }
    };
    let checkin_id: Option<i64> = sqlx::query_scalar(
        "insert into checkins (engagement_id, held_on, kind, attendees, progress, blockers, health, next_steps, shared,
                               author_id, created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         on conflict (form_key) do nothing returning id",
    )
    .bind(id)
    .bind(checkin.held_on)
    .bind(checkin.kind.as_str())
    .bind(&checkin.attendees)
    .bind(&checkin.progress)
    .bind(&checkin.blockers)
    .bind(checkin.health.as_str())
    .bind(&checkin.next_steps)
    .bind(checkin.shared)
    .bind(current.user.id)
    .bind(now)
    .bind(form_key(&form))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(checkin_id) = checkin_id else {
        // Posted twice: the first one saved it.
        return Ok(Redirect::to(&format!("/engagements/{id}/checkins")).into_response());
    };
    for item in &checkin.items {
        sqlx::query(
            "insert into action_items (engagement_id, checkin_id, title, owner_side, assignee, due_on, created_at)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(checkin_id)
        .bind(&item.title)
        .bind(item.side.as_str())
        .bind(&item.assignee)
        .bind(item.due_on)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    audit::Entry::by(&current.user, "checkin.create", Outcome::Success)
        .target(format!("engagement:{id}"))
        .client_addr(addr)
        .details(serde_json::json!({ "checkin_id": checkin_id, "health": checkin.health, "shared": checkin.shared, "action_items": checkin.items.len() }))
        .write(&mut *tx, now)
        .await?;
    let flash = Flash::success(format!(
        "Check-in of {} logged{}.",
        checkin.held_on,
        if checkin.shared {
            " and shared with the vendor"
        } else {
            " (internal)"
        }
    ));
    session::set_flash(&mut *tx, &current.session, flash).await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, id).await;
    Ok(Redirect::to(&format!("/engagements/{id}/checkins")).into_response())
}

#[derive(sqlx::FromRow)]
pub struct CheckinRow {
    pub id: i64,
    pub held_on: NaiveDate,
    pub kind: String,
    pub attendees: String,
    pub progress: String,
    pub blockers: String,
    pub health: String,
    pub next_steps: String,
    pub shared: bool,
    pub author: String,
}

impl CheckinRow {
    pub fn health_symbol(&self) -> &'static str {
        health_symbol(&self.health)
    }

    pub fn health_label(&self) -> &'static str {
        health_label(&self.health)
    }

    pub fn kind_label(&self) -> &'static str {
        Kind::parse(&self.kind).map_or("", Kind::label)
    }
}

#[derive(sqlx::FromRow)]
pub struct ItemRow {
    pub id: i64,
    pub checkin_id: Option<i64>,
    pub title: String,
    pub owner_side: String,
    pub assignee: String,
    pub due_on: Option<NaiveDate>,
    pub status: String,
    pub closing_note: String,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// A vendor user sees only shared check-ins and their side's action items of those (or of
/// none), as `crate::visibility` decides; the organisation's people see everything.
pub async fn timeline(
    db: &mut PgConnection,
    engagement_id: i64,
    vendor_view: bool,
    limit: i64,
) -> Result<Vec<CheckinRow>> {
    Ok(sqlx::query_as(
        "select c.id, c.held_on, c.kind, c.attendees, c.progress, c.blockers, c.health, c.next_steps, c.shared, u.name as author
         from visible_checkins($2) c join users u on u.id = c.author_id
         where c.engagement_id = $1
         order by c.held_on desc, c.id desc limit $3",
    )
    .bind(engagement_id)
    .bind(vendor_view)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

pub async fn items(
    db: &mut PgConnection,
    engagement_id: i64,
    vendor_view: bool,
) -> Result<Vec<ItemRow>> {
    Ok(sqlx::query_as(
        "select a.id, a.checkin_id, a.title, a.owner_side, a.assignee, a.due_on, a.status, a.closing_note,
                u.name as closed_by, a.closed_at
         from visible_action_items($2) a
         left join users u on u.id = a.closed_by
         where a.engagement_id = $1
         order by a.status <> 'open', a.due_on nulls last, a.id",
    )
    .bind(engagement_id)
    .bind(vendor_view)
    .fetch_all(db)
    .await?)
}

#[derive(Template)]
#[template(path = "checkins/list.html")]
struct ListPage {
    layout: Layout,
    access: Access,
    checkins: Vec<CheckinRow>,
    items: Vec<ItemRow>,
    today: NaiveDate,
    csrf: String,
}

impl ListPage {
    fn open_count(&self) -> usize {
        self.items.iter().filter(|i| i.status == "open").count()
    }

    fn items_of(&self, checkin: &i64) -> Vec<&ItemRow> {
        self.items
            .iter()
            .filter(|i| i.checkin_id == Some(*checkin))
            .collect()
    }

    fn overdue(&self, item: &ItemRow) -> bool {
        item.status == "open" && item.due_on.is_some_and(|d| d < self.today)
    }

    /// Only the side that owns an item closes it.
    fn can_close(&self, item: &ItemRow) -> bool {
        item.status == "open"
            && match item.owner_side.as_str() {
                "vendor" => self.access.is_vendor,
                _ => self.access.can_manage,
            }
    }

    fn side_label(&self, item: &ItemRow) -> &'static str {
        if item.owner_side == "vendor" {
            "Vendor"
        } else {
            "Ours"
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let access = access(&mut conn, &current.user, id).await?;
    let checkins = timeline(&mut conn, id, access.is_vendor, 200).await?;
    let items = items(&mut conn, id, access.is_vendor).await?;
    let page = ListPage {
        layout: Layout::new(
            &current.session,
            format!("Check-ins: {}", access.name),
            "/engagements",
        ),
        today: state.clock.today(access.zone()),
        csrf: current.session.csrf_token.clone().unwrap_or_default(),
        access,
        checkins,
        items,
    };
    Ok(Html(page.render()?))
}

/// Marks an action item done or dropped, with a note; only its owning side may.
pub async fn close_item(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(item_id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let row: Option<(i64, String, String, bool)> = sqlx::query_as(
        "select a.engagement_id, a.owner_side, a.status,
                exists (select 1 from visible_action_items($2) v where v.id = a.id) as visible
         from action_items a where a.id = $1 for update of a",
    )
    .bind(item_id)
    .bind(crate::visibility::for_vendor(&current.user))
    .fetch_optional(&mut *tx)
    .await?;
    let (engagement_id, side, status, visible) = row.ok_or(AppError::NotFound)?;
    let access = access(&mut tx, &current.user, engagement_id).await?;
    // To a vendor user, an item they may not see is as missing as one that does not exist.
    if !visible {
        return Err(AppError::NotFound);
    }
    let allowed = match side.as_str() {
        "vendor" => access.is_vendor,
        _ => access.can_manage,
    };
    if !allowed {
        return Err(AppError::Forbidden);
    }
    let back = format!("/engagements/{engagement_id}/checkins");
    if status != "open" {
        // Already closed (a double submit, or the other tab): nothing to do.
        return Ok(Redirect::to(&back).into_response());
    }
    let new_status = match form.get("status") {
        "done" => "done",
        "dropped" => "dropped",
        _ => return Err(AppError::BadRequest("Choose done or dropped.".into())),
    };
    let note = form.get("note").trim();
    if note.chars().count() > 2000 {
        return Err(AppError::BadRequest(
            "The note is longer than 2000 characters.".into(),
        ));
    }
    sqlx::query("update action_items set status = $2, closing_note = $3, closed_by = $4, closed_at = $5 where id = $1")
        .bind(item_id)
        .bind(new_status)
        .bind(note)
        .bind(current.user.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    audit::Entry::by(&current.user, "action_item.close", Outcome::Success)
        .target(format!("engagement:{engagement_id}"))
        .client_addr(addr)
        .details(serde_json::json!({ "action_item_id": item_id, "status": new_status }))
        .write(&mut *tx, now)
        .await?;
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success(format!("The action item is marked {new_status}.")),
    )
    .await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, engagement_id).await;
    Ok(Redirect::to(&back).into_response())
}

/// The routes of checkins.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/checkins", list)
        .get("/engagements/{id}/checkins/new", new)
        .post("/engagements/{id}/checkins/new", create)
        .post("/actions/{id}", close_item)
        .get("/engagements/{id}/contacts", contacts::list)
        .post("/engagements/{id}/contacts", contacts::create)
}
