//! The timeline of check-ins with their action items, and closing an action item.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use sqlx::PgConnection;

use super::{CheckinRow, ItemRow, ItemStatus, Side, Timeline, may_close_item};
use crate::auth::{CurrentUser, User};
use crate::engagements::Viewing;
use crate::engagements::{Access, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::Change;
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs};
use crate::web::layout::{Flash, Layout};

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
        self.items.iter().filter(|i| i.is_open()).count()
    }

    fn items_of(&self, checkin: &i64) -> Vec<&ItemRow> {
        self.items
            .iter()
            .filter(|i| i.checkin_id == Some(*checkin))
            .collect()
    }

    fn overdue(&self, item: &ItemRow) -> bool {
        item.is_open() && item.due_on.is_some_and(|d| d < self.today)
    }

    fn can_close(&self, item: &ItemRow) -> bool {
        item.is_open() && may_close_item(&self.access, item.owner_side)
    }

    fn side_label(&self, item: &ItemRow) -> &'static str {
        item.owner_side.badge()
    }
}

pub async fn list(
    State(state): State<AppState>,
    Viewing { current, access }: Viewing,
) -> Result<Html<String>> {
    let id = access.id;
    let mut conn = state.pool.acquire().await?;
    let Timeline { checkins, items } = Timeline::load(&mut conn, id, access.is_vendor, 200).await?;
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

/// How an action item is closed: done or dropped, with a note.
pub struct ItemClosing {
    pub status: ItemStatus,
    pub note: String,
}

impl ItemClosing {
    pub fn parse(form: &Pairs) -> std::result::Result<ItemClosing, AppError> {
        // The page's form has no field to show a message beside: a bad one is a bad request.
        ItemClosing::parse_fields(form).map_err(|errors| {
            let message = errors.iter().next().map_or("", |(_, m)| m);
            AppError::BadRequest(message.into())
        })
    }

    /// The same rules, with the message of each field.
    pub fn parse_fields(form: &Pairs) -> std::result::Result<ItemClosing, FieldErrors> {
        let mut errors = FieldErrors::default();
        let status = match form.get("status") {
            "done" => Some(ItemStatus::Done),
            "dropped" => Some(ItemStatus::Dropped),
            _ => {
                errors.add("status", "Choose done or dropped.");
                None
            }
        };
        let note = form.get("note").trim();
        if note.chars().count() > 2000 {
            errors.add("note", "The note is longer than 2000 characters.");
        }
        match status {
            Some(status) if errors.is_empty() => Ok(ItemClosing {
                status,
                note: note.to_string(),
            }),
            _ => Err(errors),
        }
    }
}

/// An action item locked for closing, after the checks: its engagement as the user opens
/// it, and its status now.
pub struct LockedItem {
    pub engagement_id: i64,
    pub status: ItemStatus,
    pub access: Access,
}

/// Locks an action item for `user` to close: 404 for one they may not see (a foreign or
/// internal one is as missing as one that does not exist), 403 for the other side's.
pub async fn lock_item(db: &mut PgConnection, user: &User, item_id: i64) -> Result<LockedItem> {
    let row: Option<(i64, Side, ItemStatus, bool)> = sqlx::query_as(
        "select a.engagement_id, a.owner_side, a.status,
                exists (select 1 from visible_action_items($2) v where v.id = a.id) as visible
         from action_items a where a.id = $1 for update of a",
    )
    .bind(item_id)
    .bind(crate::visibility::for_vendor(user))
    .fetch_optional(&mut *db)
    .await?;
    let (engagement_id, side, status, visible) = row.ok_or(AppError::NotFound)?;
    let access = access(db, user, engagement_id).await?;
    // To a vendor user, an item they may not see is as missing as one that does not exist.
    if !visible {
        return Err(AppError::NotFound);
    }
    if !may_close_item(&access, side) {
        return Err(AppError::Forbidden);
    }
    Ok(LockedItem {
        engagement_id,
        status,
        access,
    })
}

/// Writes the closing of a locked, open item by `user_id`, with its audit entry.
pub async fn close_item(
    change: &mut Change<'_>,
    item: &LockedItem,
    item_id: i64,
    user_id: i64,
    closing: &ItemClosing,
) -> Result<()> {
    let now = change.now;
    sqlx::query("update action_items set status = $2, closing_note = $3, closed_by = $4, closed_at = $5 where id = $1")
        .bind(item_id)
        .bind(closing.status)
        .bind(&closing.note)
        .bind(user_id)
        .bind(now)
        .execute(change.db())
        .await?;
    change
        .audit(
            "action_item.close",
            format!("engagement:{}", item.engagement_id),
            serde_json::json!({ "action_item_id": item_id, "status": closing.status.as_str() }),
        )
        .await
}

/// Marks an action item done or dropped, with a note; only its owning side may.
pub async fn close(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(item_id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let item = lock_item(change.db(), &current.user, item_id).await?;
    let engagement_id = item.engagement_id;
    let back = format!("/engagements/{engagement_id}/checkins");
    if item.status != ItemStatus::Open {
        // Already closed (a double submit, or the other tab): nothing to do.
        return Ok(Redirect::to(&back).into_response());
    }
    let closing = ItemClosing::parse(&form)?;
    close_item(&mut change, &item, item_id, current.user.id, &closing).await?;
    change
        .flash(Flash::success(format!(
            "The action item is marked {}.",
            closing.status.as_str()
        )))
        .await?;
    change.commit_and_refresh(engagement_id).await?;
    Ok(Redirect::to(&back).into_response())
}
