//! The timeline of check-ins with their action items, and closing an action item.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;

use super::{CheckinRow, ItemRow, ItemStatus, Side, Timeline, may_close_item};
use crate::auth::CurrentUser;
use crate::engagements::{Access, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::Change;
use crate::web::error::{AppError, Result};
use crate::web::form::{Form, Id, Pairs};
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
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let access = access(&mut conn, &current.user, id).await?;
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
        let status = match form.get("status") {
            "done" => ItemStatus::Done,
            "dropped" => ItemStatus::Dropped,
            _ => return Err(AppError::BadRequest("Choose done or dropped.".into())),
        };
        let note = form.get("note").trim();
        if note.chars().count() > 2000 {
            return Err(AppError::BadRequest(
                "The note is longer than 2000 characters.".into(),
            ));
        }
        Ok(ItemClosing {
            status,
            note: note.to_string(),
        })
    }
}

/// Marks an action item done or dropped, with a note; only its owning side may.
pub async fn close_item(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(item_id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let row: Option<(i64, Side, ItemStatus, bool)> = sqlx::query_as(
        "select a.engagement_id, a.owner_side, a.status,
                exists (select 1 from visible_action_items($2) v where v.id = a.id) as visible
         from action_items a where a.id = $1 for update of a",
    )
    .bind(item_id)
    .bind(crate::visibility::for_vendor(&current.user))
    .fetch_optional(change.db())
    .await?;
    let (engagement_id, side, status, visible) = row.ok_or(AppError::NotFound)?;
    let access = access(change.db(), &current.user, engagement_id).await?;
    // To a vendor user, an item they may not see is as missing as one that does not exist.
    if !visible {
        return Err(AppError::NotFound);
    }
    if !may_close_item(&access, side) {
        return Err(AppError::Forbidden);
    }
    let back = format!("/engagements/{engagement_id}/checkins");
    if status != ItemStatus::Open {
        // Already closed (a double submit, or the other tab): nothing to do.
        return Ok(Redirect::to(&back).into_response());
    }
    let closing = ItemClosing::parse(&form)?;
    sqlx::query("update action_items set status = $2, closing_note = $3, closed_by = $4, closed_at = $5 where id = $1")
        .bind(item_id)
        .bind(closing.status)
        .bind(&closing.note)
        .bind(current.user.id)
        .bind(change.now)
        .execute(change.db())
        .await?;
    change
        .audit(
            "action_item.close",
            format!("engagement:{engagement_id}"),
            serde_json::json!({ "action_item_id": item_id, "status": closing.status.as_str() }),
        )
        .await?;
    change
        .flash(Flash::success(format!(
            "The action item is marked {}.",
            closing.status.as_str()
        )))
        .await?;
    change.commit_and_refresh(engagement_id).await?;
    Ok(Redirect::to(&back).into_response())
}
