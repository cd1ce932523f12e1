//! Check-ins and their action items: the light, regular rhythm of contact. A check-in is
//! logged by one of the engagement's managers, shared with the vendor unless marked
//! internal; action items belong to a side, and only that side closes them.
//!
//! Other features use what this file declares and re-exports, never a path into a
//! submodule.

pub mod contacts;
mod list;
mod new;
pub mod oversight;

pub use list::{ItemClosing, LockedItem, close_item as write_closing, lock_item};
pub use new::{NewCheckin, NewItem, checkin_by_key, log as log_checkin};
pub use oversight::{Assessment, assess_many};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::choice;
use crate::engagements::Access;
use crate::web::error::Result;
use crate::web::routes::Routes;

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

choice!(pub ItemStatus {
    Open = "open" / "Open",
    Done = "done" / "Done",
    Dropped = "dropped" / "Dropped",
});

impl Health {
    /// Health is shown by symbol and word, never colour alone.
    pub fn symbol(self) -> &'static str {
        match self {
            Health::OnTrack => "●",
            Health::AtRisk => "▲",
            Health::OffTrack => "■",
        }
    }
}

impl Side {
    /// The side as the badge on an action item names it.
    pub fn badge(self) -> &'static str {
        match self {
            Side::Ours => "Ours",
            Side::Vendor => "Vendor",
        }
    }
}

/// The symbol of a health as stored, for pages that read it as text.
pub fn health_symbol(stored: &str) -> &'static str {
    Health::parse(stored).map_or("", Health::symbol)
}

/// The label of a health as stored, for pages that read it as text.
pub fn health_label(stored: &str) -> &'static str {
    Health::parse(stored).map_or("", Health::label)
}

/// Only the side that owns an action item closes it: the vendor's users their side's, the
/// engagement's managers ours.
pub fn may_close_item(access: &Access, side: Side) -> bool {
    match side {
        Side::Vendor => access.is_vendor,
        Side::Ours => access.can_manage,
    }
}

#[derive(sqlx::FromRow, serde::Serialize)]
pub struct CheckinRow {
    pub id: i64,
    pub held_on: NaiveDate,
    pub kind: Kind,
    pub attendees: String,
    pub progress: String,
    pub blockers: String,
    pub health: Health,
    pub next_steps: String,
    pub shared: bool,
    pub author: String,
}

impl CheckinRow {
    pub fn health_symbol(&self) -> &'static str {
        self.health.symbol()
    }

    pub fn health_label(&self) -> &'static str {
        self.health.label()
    }

    pub fn kind_label(&self) -> &'static str {
        self.kind.label()
    }
}

#[derive(sqlx::FromRow, serde::Serialize)]
pub struct ItemRow {
    pub id: i64,
    pub checkin_id: Option<i64>,
    pub title: String,
    pub owner_side: Side,
    pub assignee: String,
    pub due_on: Option<NaiveDate>,
    pub status: ItemStatus,
    pub closing_note: String,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl ItemRow {
    pub fn is_open(&self) -> bool {
        self.status == ItemStatus::Open
    }
}

/// A vendor user sees only shared check-ins and their side's action items of those (or of
/// none), as `crate::visibility` decides; the organisation's people see everything.
pub async fn timeline(
    db: &mut PgConnection,
    engagement_id: i64,
    vendor_view: bool,
    limit: i64,
) -> Result<Vec<CheckinRow>> {
    timeline_after(db, engagement_id, vendor_view, None, limit).await
}

/// Where a check-in stands in the timeline's order (newest first): its date and id.
pub type TimelineKey = (NaiveDate, i64);

impl CheckinRow {
    pub fn timeline_key(&self) -> TimelineKey {
        (self.held_on, self.id)
    }
}

/// The timeline from just after the check-in at `after` (older ones), at most `limit`.
pub async fn timeline_after(
    db: &mut PgConnection,
    engagement_id: i64,
    vendor_view: bool,
    after: Option<TimelineKey>,
    limit: i64,
) -> Result<Vec<CheckinRow>> {
    Ok(sqlx::query_as(
        "select c.id, c.held_on, c.kind, c.attendees, c.progress, c.blockers, c.health, c.next_steps, c.shared, u.name as author
         from visible_checkins($2) c join users u on u.id = c.author_id
         where c.engagement_id = $1
           and ($4::date is null or (c.held_on, c.id) < ($4, $5::bigint))
         order by c.held_on desc, c.id desc limit $3",
    )
    .bind(engagement_id)
    .bind(vendor_view)
    .bind(limit)
    .bind(after.map(|k| k.0))
    .bind(after.map(|k| k.1))
    .fetch_all(db)
    .await?)
}

/// One check-in as `vendor_view` lets its reader see it, with its engagement's id; the
/// caller then opens the engagement with `engagements::access`, which scopes the vendor.
pub async fn find(
    db: &mut PgConnection,
    checkin_id: i64,
    vendor_view: bool,
) -> Result<Option<(i64, CheckinRow)>> {
    #[derive(sqlx::FromRow)]
    struct Found {
        engagement_id: i64,
        #[sqlx(flatten)]
        row: CheckinRow,
    }
    let found: Option<Found> = sqlx::query_as(
        "select c.engagement_id, c.id, c.held_on, c.kind, c.attendees, c.progress, c.blockers, c.health, c.next_steps,
                c.shared, u.name as author
         from visible_checkins($2) c join users u on u.id = c.author_id
         where c.id = $1",
    )
    .bind(checkin_id)
    .bind(vendor_view)
    .fetch_optional(db)
    .await?;
    Ok(found.map(|f| (f.engagement_id, f.row)))
}

/// Which of an engagement's action items to read.
#[derive(Debug, Clone, Copy, Default)]
pub enum ItemsOf<'a> {
    /// Every one the reader may see.
    #[default]
    All,
    /// Those of these check-ins.
    Checkins(&'a [i64]),
    /// This one item.
    Item(i64),
}

pub async fn items(
    db: &mut PgConnection,
    engagement_id: i64,
    vendor_view: bool,
) -> Result<Vec<ItemRow>> {
    items_of(db, engagement_id, vendor_view, ItemsOf::All).await
}

/// The action items of an engagement that `vendor_view` lets the reader see, open ones
/// first by due date, narrowed by `which`.
pub async fn items_of(
    db: &mut PgConnection,
    engagement_id: i64,
    vendor_view: bool,
    which: ItemsOf<'_>,
) -> Result<Vec<ItemRow>> {
    let (checkins, item) = match which {
        ItemsOf::All => (None, None),
        ItemsOf::Checkins(ids) => (Some(ids), None),
        ItemsOf::Item(id) => (None, Some(id)),
    };
    Ok(sqlx::query_as(
        "select a.id, a.checkin_id, a.title, a.owner_side, a.assignee, a.due_on, a.status, a.closing_note,
                u.name as closed_by, a.closed_at
         from visible_action_items($2) a
         left join users u on u.id = a.closed_by
         where a.engagement_id = $1
           and ($3::bigint[] is null or a.checkin_id = any($3))
           and ($4::bigint is null or a.id = $4)
         order by a.status <> 'open', a.due_on nulls last, a.id",
    )
    .bind(engagement_id)
    .bind(vendor_view)
    .bind(checkins)
    .bind(item)
    .fetch_all(db)
    .await?)
}

/// The check-ins of an engagement with their action items, as one reader may see them.
pub struct Timeline {
    /// Newest first.
    pub checkins: Vec<CheckinRow>,
    /// Open ones first, by due date.
    pub items: Vec<ItemRow>,
}

impl Timeline {
    /// The latest `limit` check-ins and every action item `vendor_view` lets the reader see.
    pub async fn load(
        db: &mut PgConnection,
        engagement_id: i64,
        vendor_view: bool,
        limit: i64,
    ) -> Result<Timeline> {
        Ok(Timeline {
            checkins: timeline(db, engagement_id, vendor_view, limit).await?,
            items: items(db, engagement_id, vendor_view).await?,
        })
    }
}

/// The routes of checkins.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/checkins", list::list)
        .get("/engagements/{id}/checkins/new", new::new)
        .post("/engagements/{id}/checkins/new", new::create)
        .post("/actions/{id}", list::close)
        .get("/engagements/{id}/contacts", contacts::list)
        .post("/engagements/{id}/contacts", contacts::create)
}
