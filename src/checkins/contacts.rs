//! Ad-hoc contacts a manager logs: each shows the vendor's local time against the agreed
//! window, and a routine contact outside it asks to be confirmed or marked urgent.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};

use crate::auth::CurrentUser;
use crate::engagements::{self, Access, Channel, WindowNow, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

#[derive(sqlx::FromRow)]
struct ContactRow {
    channel: Channel,
    summary: String,
    urgent: bool,
    outside_window: bool,
    contacted_at: DateTime<Utc>,
    author: String,
}

#[derive(Template)]
#[template(path = "checkins/contacts.html")]
struct Page {
    layout: Layout,
    access: Access,
    window: WindowNow,
    form: Pairs,
    errors: FieldErrors,
    contacts: Vec<ContactRow>,
    /// Set when a routine contact outside the window waits for confirmation.
    confirm: bool,
}

impl Page {
    fn channel_options(&self) -> Vec<(String, String)> {
        Channel::options_with_prompt()
    }

    fn when(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.access.zone())
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
}

async fn load(
    state: &AppState,
    current: &CurrentUser,
    db: &mut sqlx::PgConnection,
    id: i64,
) -> Result<(Access, WindowNow, bool, Vec<ContactRow>)> {
    let access = access(db, &current.user, id).await?;
    if access.is_vendor {
        return Err(AppError::NotFound);
    }
    let b = engagements::boundaries_of(db, id).await?;
    let window = engagements::window_now(&b, access.zone(), state.clock.now());
    let inside = window.inside;
    let contacts = sqlx::query_as(
        "select c.channel, c.summary, c.urgent, c.outside_window, c.contacted_at, u.name as author
         from contacts c join users u on u.id = c.author_id
         where c.engagement_id = $1 order by c.contacted_at desc limit 100",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    Ok((access, window, inside, contacts))
}

pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let (access, window, _, contacts) = load(&state, &current, &mut conn, id).await?;
    let page = Page {
        layout: Layout::new(
            &current.session,
            format!("Contacts: {}", access.name),
            "/engagements",
        ),
        access,
        window,
        form: Pairs(vec![("form_key".into(), uuid::Uuid::new_v4().to_string())]),
        errors: FieldErrors::default(),
        contacts,
        confirm: false,
    };
    Ok(Html(page.render()?))
}

/// A contact as the form gives it.
pub struct NewContact {
    pub channel: Channel,
    pub summary: String,
    pub urgent: bool,
    /// Whether the manager confirmed a routine contact outside the window.
    pub confirmed: bool,
}

impl NewContact {
    pub fn parse(form: &Pairs) -> std::result::Result<NewContact, FieldErrors> {
        let mut errors = FieldErrors::default();
        let channel = validate::choice(
            &mut errors,
            "channel",
            form.get("channel"),
            Channel::parse,
            "Choose how you contacted them.",
        );
        let summary = validate::required(
            &mut errors,
            "summary",
            form.get("summary"),
            2000,
            "Summarise the contact.",
        );
        match channel {
            Some(channel) if errors.is_empty() => Ok(NewContact {
                channel,
                summary,
                urgent: form.get("urgent") == "yes",
                confirmed: form.get("confirm") == "yes",
            }),
            _ => Err(errors),
        }
    }

    /// A routine contact outside the window waits until the manager confirms it.
    pub fn needs_confirmation(&self, inside: bool) -> bool {
        !self.urgent && !inside && !self.confirmed
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
    let (access, window, inside, contacts) = load(&state, &current, change.db(), id).await?;
    access.require_manage()?;
    let page = |form, errors, confirm| Page {
        layout: Layout::new(
            &current.session,
            format!("Contacts: {}", access.name),
            "/engagements",
        ),
        access,
        window,
        form,
        errors,
        contacts,
        confirm,
    };
    let contact = match NewContact::parse(&form) {
        Ok(contact) => contact,
        Err(errors) => return refused(page(form, errors, false)),
    };
    if contact.needs_confirmation(inside) {
        return refused(page(form, FieldErrors::default(), true));
    }
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into contacts (engagement_id, channel, summary, urgent, outside_window, contacted_at, author_id, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (form_key) do nothing returning id",
    )
    .bind(id)
    .bind(contact.channel)
    .bind(&contact.summary)
    .bind(contact.urgent)
    .bind(!inside)
    .bind(change.now)
    .bind(current.user.id)
    .bind(form_key(&form))
    .fetch_optional(change.db())
    .await?;
    if let Some(contact_id) = inserted {
        change
            .audit(
                "contact.create",
                format!("engagement:{id}"),
                serde_json::json!({ "contact_id": contact_id, "urgent": contact.urgent, "outside_window": !inside }),
            )
            .await?;
        change
            .flash(Flash::success("The contact is logged."))
            .await?;
    }
    change.commit().await?;
    Ok(Redirect::to(&format!("/engagements/{id}/contacts")).into_response())
}
