//! An engagement's boundaries: when and how the organisation contacts the vendor, what is
//! urgent, how fast answers are expected, and the cap on routine touches that keeps
//! oversight from becoming micromanagement.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::PgConnection;

use super::cadence::weekday_name;
use super::window::{ContactWindow, describe_days};
use super::{Access, access};
use crate::auth::CurrentUser;
use crate::choice;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

choice!(pub Channel {
    Portal = "portal" / "the portal",
    Email = "email" / "e-mail",
    Phone = "phone" / "phone",
    Chat = "chat" / "chat",
});

impl Channel {
    /// How the channel reads in "we contact you … in the portal or by e-mail".
    pub fn phrase(self) -> &'static str {
        match self {
            Channel::Portal => "in the portal",
            Channel::Email => "by e-mail",
            Channel::Phone => "by phone",
            Channel::Chat => "by chat",
        }
    }
}

/// Channels are stored as a text array too.
impl sqlx::postgres::PgHasArrayType for Channel {
    fn array_type_info() -> sqlx::postgres::PgTypeInfo {
        <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
    }

    fn array_compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <&str as sqlx::postgres::PgHasArrayType>::array_compatible(ty)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Boundaries {
    pub contact_days: Vec<i32>,
    pub window_start: NaiveTime,
    pub window_end: NaiveTime,
    pub channels: Vec<Channel>,
    pub preferred_channel: Channel,
    pub urgent_definition: String,
    pub urgent_channel: Channel,
    pub escalation_contact: String,
    pub routine_response_hours: i32,
    pub urgent_response_hours: i32,
    pub weekly_touch_cap: i32,
}

pub async fn load(db: &mut PgConnection, engagement_id: i64) -> Result<Boundaries> {
    sqlx::query_as(
        "select contact_days, window_start, window_end, channels, preferred_channel, urgent_definition, urgent_channel,
                escalation_contact, routine_response_hours, urgent_response_hours, weekly_touch_cap
         from boundaries where engagement_id = $1",
    )
    .bind(engagement_id)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)
}

impl Boundaries {
    pub fn days(&self) -> Vec<Weekday> {
        super::cadence::iso_weekdays(&self.contact_days)
    }

    pub fn window(&self, zone: Tz) -> ContactWindow {
        ContactWindow {
            days: self.days(),
            start: self.window_start,
            end: self.window_end,
            zone,
        }
    }

    pub fn hours(&self) -> String {
        format!(
            "{}–{}",
            self.window_start.format("%H:%M"),
            self.window_end.format("%H:%M")
        )
    }
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The boundaries in plain sentences, as the vendor reads them.
pub fn sentences(b: &Boundaries, zone: &str) -> Vec<String> {
    let channels: Vec<&str> = b.channels.iter().map(|c| c.phrase()).collect();
    let overnight = if b.window_end < b.window_start {
        " (overnight, counted on the day it starts)"
    } else {
        ""
    };
    let mut out = vec![format!(
        "We contact you {}, {} {zone}{overnight}, {}; {} is preferred.",
        describe_days(&b.days()),
        b.hours(),
        join_or(&channels),
        b.preferred_channel.label(),
    )];
    if !b.urgent_definition.is_empty() {
        let escalation = if b.escalation_contact.is_empty() {
            String::new()
        } else {
            format!(", and escalate to {}", b.escalation_contact)
        };
        out.push(format!(
            "Urgent means: {}. Then we reach you at any time by {}{escalation}.",
            b.urgent_definition.trim_end_matches('.'),
            b.urgent_channel.label(),
        ));
    }
    let hours = |n: i32| {
        if n == 1 {
            "1 hour".to_string()
        } else {
            format!("{n} hours")
        }
    };
    out.push(format!(
        "We expect an answer to routine matters within {} and to urgent ones within {}.",
        hours(b.routine_response_hours),
        hours(b.urgent_response_hours)
    ));
    out.push(format!(
        "Beyond the agreed check-ins we keep routine contact to at most {} {} a week.",
        b.weekly_touch_cap,
        if b.weekly_touch_cap == 1 {
            "touch"
        } else {
            "touches"
        }
    ));
    out
}

/// The vendor's local time and where it stands against the window.
pub struct WindowNow {
    pub local_time: String,
    pub inside: bool,
    pub closes: String,
    pub next_opening: String,
}

fn local(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone).format("%A %H:%M").to_string()
}

pub fn window_now(b: &Boundaries, zone: Tz, now: DateTime<Utc>) -> WindowNow {
    let window = b.window(zone);
    let current = window.current(now);
    WindowNow {
        local_time: format!("{} ({})", local(now, zone), zone.name()),
        inside: current.is_some(),
        closes: current
            .map(|(_, closes)| local(closes, zone))
            .unwrap_or_default(),
        next_opening: window
            .next_opening(now)
            .map(|t| local(t, zone))
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "engagements/boundaries.html")]
struct BoundariesPage {
    layout: Layout,
    access: Access,
    form: Pairs,
    errors: FieldErrors,
    window: WindowNow,
    sentences: Vec<String>,
}

impl BoundariesPage {
    fn day_checked(&self, day: &u32) -> bool {
        self.form
            .all("contact_days")
            .contains(&day.to_string().as_str())
    }

    fn channel_checked(&self, channel: &str) -> bool {
        self.form.all("channels").contains(&channel)
    }

    fn days(&self) -> Vec<(u32, &'static str)> {
        super::cadence::WEEK
            .into_iter()
            .map(|d| (d.number_from_monday(), weekday_name(d)))
            .collect()
    }

    fn channel_options(&self) -> Vec<(String, String)> {
        Channel::options()
    }
}

fn pairs_of(b: &Boundaries) -> Pairs {
    let mut pairs: Vec<(String, String)> = b
        .contact_days
        .iter()
        .map(|d| ("contact_days".to_string(), d.to_string()))
        .collect();
    pairs.extend(
        b.channels
            .iter()
            .map(|c| ("channels".to_string(), c.as_str().to_string())),
    );
    pairs.extend([
        (
            "window_start".to_string(),
            b.window_start.format("%H:%M").to_string(),
        ),
        (
            "window_end".into(),
            b.window_end.format("%H:%M").to_string(),
        ),
        (
            "preferred_channel".into(),
            b.preferred_channel.as_str().to_string(),
        ),
        ("urgent_definition".into(), b.urgent_definition.clone()),
        (
            "urgent_channel".into(),
            b.urgent_channel.as_str().to_string(),
        ),
        ("escalation_contact".into(), b.escalation_contact.clone()),
        (
            "routine_response_hours".into(),
            b.routine_response_hours.to_string(),
        ),
        (
            "urgent_response_hours".into(),
            b.urgent_response_hours.to_string(),
        ),
        ("weekly_touch_cap".into(), b.weekly_touch_cap.to_string()),
    ]);
    Pairs(pairs)
}

/// What the boundaries form asks for: the boundaries to store.
pub struct BoundariesInput(pub Boundaries);

impl BoundariesInput {
    pub fn parse(form: &Pairs) -> std::result::Result<BoundariesInput, FieldErrors> {
        parse(form).map(BoundariesInput)
    }
}

fn parse(form: &Pairs) -> std::result::Result<Boundaries, FieldErrors> {
    let mut errors = FieldErrors::default();
    let days = validate::weekdays(
        &mut errors,
        "contact_days",
        &form.all("contact_days"),
        "Choose at least one contact day.",
    );
    let start = validate::time(&mut errors, "window_start", form.get("window_start"));
    let end = validate::time(&mut errors, "window_end", form.get("window_end"));
    let mut channels: Vec<Channel> = Channel::ALL
        .iter()
        .copied()
        .filter(|c| form.all("channels").contains(&c.as_str()))
        .collect();
    channels.dedup();
    if channels.is_empty() {
        errors.add("channels", "Allow at least one channel.");
    }
    let preferred = validate::choice(
        &mut errors,
        "preferred_channel",
        form.get("preferred_channel"),
        Channel::parse,
        "Choose the preferred channel.",
    );
    if let Some(preferred) = preferred
        && !channels.is_empty()
        && !channels.contains(&preferred)
    {
        errors.add(
            "preferred_channel",
            "The preferred channel must be one of the allowed ones.",
        );
    }
    let urgent_definition = validate::required(
        &mut errors,
        "urgent_definition",
        form.get("urgent_definition"),
        1000,
        "Say what counts as urgent.",
    );
    let urgent_channel = validate::choice(
        &mut errors,
        "urgent_channel",
        form.get("urgent_channel"),
        Channel::parse,
        "Choose the channel for urgent matters.",
    );
    let escalation_contact = validate::optional(
        &mut errors,
        "escalation_contact",
        form.get("escalation_contact"),
        300,
    );
    let routine = validate::integer(
        &mut errors,
        "routine_response_hours",
        form.get("routine_response_hours"),
        1..=720,
    );
    let urgent = validate::integer(
        &mut errors,
        "urgent_response_hours",
        form.get("urgent_response_hours"),
        1..=720,
    );
    let cap = validate::integer(
        &mut errors,
        "weekly_touch_cap",
        form.get("weekly_touch_cap"),
        1..=50,
    );
    match (start, end, preferred, urgent_channel, routine, urgent, cap) {
        (
            Some(start),
            Some(end),
            Some(preferred),
            Some(urgent_channel),
            Some(routine),
            Some(urgent),
            Some(cap),
        ) if errors.is_empty() => Ok(Boundaries {
            contact_days: days,
            window_start: start,
            window_end: end,
            channels,
            preferred_channel: preferred,
            urgent_definition,
            urgent_channel,
            escalation_contact,
            routine_response_hours: routine as i32,
            urgent_response_hours: urgent as i32,
            weekly_touch_cap: cap as i32,
        }),
        _ => Err(errors),
    }
}

async fn staff_access(current: &CurrentUser, db: &mut PgConnection, id: i64) -> Result<Access> {
    let access = access(db, &current.user, id).await?;
    // Vendor users read their boundaries on the agreement page.
    if access.is_vendor {
        return Err(AppError::NotFound);
    }
    Ok(access)
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let access = staff_access(&current, &mut conn, id).await?;
    let b = load(&mut conn, id).await?;
    let form = pairs_of(&b);
    let page = page(
        &current,
        access,
        &b,
        state.clock.now(),
        form,
        FieldErrors::default(),
    );
    Ok(Html(page.render()?))
}

fn page(
    current: &CurrentUser,
    access: Access,
    shown: &Boundaries,
    now: DateTime<Utc>,
    form: Pairs,
    errors: FieldErrors,
) -> BoundariesPage {
    BoundariesPage {
        layout: Layout::new(
            &current.session,
            format!("Boundaries: {}", access.name),
            "/engagements",
        ),
        window: window_now(shown, access.zone(), now),
        sentences: sentences(shown, access.zone().name()),
        form,
        errors,
        access,
    }
}

pub async fn update(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let access = staff_access(&current, change.db(), id).await?;
    access.require_manage()?;
    let before = load(change.db(), id).await?;
    let BoundariesInput(after) = match BoundariesInput::parse(&form) {
        Ok(input) => input,
        Err(errors) => return refused(page(&current, access, &before, change.now, form, errors)),
    };
    sqlx::query(
        "update boundaries set contact_days = $2, window_start = $3, window_end = $4, channels = $5, preferred_channel = $6,
                urgent_definition = $7, urgent_channel = $8, escalation_contact = $9, routine_response_hours = $10,
                urgent_response_hours = $11, weekly_touch_cap = $12
         where engagement_id = $1",
    )
    .bind(id)
    .bind(&after.contact_days)
    .bind(after.window_start)
    .bind(after.window_end)
    .bind(&after.channels)
    .bind(after.preferred_channel)
    .bind(&after.urgent_definition)
    .bind(after.urgent_channel)
    .bind(&after.escalation_contact)
    .bind(after.routine_response_hours)
    .bind(after.urgent_response_hours)
    .bind(after.weekly_touch_cap)
    .execute(change.db())
    .await?;
    if after != before {
        change
            .audit(
                "boundaries.update",
                format!("engagement:{id}"),
                serde_json::json!({ "before": before, "after": after }),
            )
            .await?;
    }
    change
        .flash(Flash::success("The boundaries are saved."))
        .await?;
    change.commit_and_refresh(id).await?;
    Ok(Redirect::to(&format!("/engagements/{id}/boundaries")).into_response())
}

/// Sets the engagement's cap on routine touches a week (a review's adaptation); returns the
/// cap before.
pub async fn set_touch_cap(
    db: &mut PgConnection,
    engagement_id: i64,
    cap: i32,
) -> Result<Option<i32>> {
    let before: Option<i32> =
        sqlx::query_scalar("select weekly_touch_cap from boundaries where engagement_id = $1")
            .bind(engagement_id)
            .fetch_optional(&mut *db)
            .await?
            .flatten();
    sqlx::query(
        "insert into boundaries (engagement_id, weekly_touch_cap) values ($1, $2)
         on conflict (engagement_id) do update set weekly_touch_cap = excluded.weekly_touch_cap",
    )
    .bind(engagement_id)
    .bind(cap)
    .execute(db)
    .await?;
    Ok(before)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin_office() -> Boundaries {
        Boundaries {
            contact_days: vec![1, 2, 3, 4, 5],
            window_start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            window_end: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            channels: vec![Channel::Portal, Channel::Email],
            preferred_channel: Channel::Email,
            urgent_definition: "a production outage".into(),
            urgent_channel: Channel::Phone,
            escalation_contact: "the duty manager".into(),
            routine_response_hours: 24,
            urgent_response_hours: 2,
            weekly_touch_cap: 3,
        }
    }

    #[test]
    fn the_boundaries_read_as_plain_sentences() {
        let text = sentences(&berlin_office(), "Europe/Berlin");
        assert_eq!(
            text[0],
            "We contact you Monday to Friday, 09:00–17:00 Europe/Berlin, in the portal or by e-mail; e-mail is preferred."
        );
        assert_eq!(
            text[1],
            "Urgent means: a production outage. Then we reach you at any time by phone, and escalate to the duty manager."
        );
        assert_eq!(
            text[3],
            "Beyond the agreed check-ins we keep routine contact to at most 3 touches a week."
        );
    }
}
