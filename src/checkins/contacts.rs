//! Ad-hoc contacts a manager logs: each shows the vendor's local time against the agreed
//! window, and a routine contact outside it asks to be confirmed or marked urgent.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};

use crate::audit::{self, Outcome};
use crate::auth::{CurrentUser, session};
use crate::engagements::boundaries::{self, Channel, WindowNow};
use crate::engagements::{Access, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

#[derive(sqlx::FromRow)]
struct ContactRow {
    channel: String,
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

    fn channel_label(&self, stored: &str) -> &'static str {
        Channel::parse(stored).map_or("", Channel::label)
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
    let b = boundaries::load(db, id).await?;
    let window = boundaries::window_now(&b, access.zone(), state.clock.now());
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

pub async fn create(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let (access, window, inside, contacts) = load(&state, &current, &mut tx, id).await?;
    access.require_manage()?;
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
    let urgent = form.get("urgent") == "yes";
    let needs_confirmation =
        errors.is_empty() && !urgent && !inside && form.get("confirm") != "yes";
    let Some(channel) = channel.filter(|_| errors.is_empty() && !needs_confirmation) else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        let page = Page {
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
            confirm: needs_confirmation,
        };
        return Ok((status, Html(page.render()?)).into_response());
    };
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into contacts (engagement_id, channel, summary, urgent, outside_window, contacted_at, author_id, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (form_key) do nothing returning id",
    )
    .bind(id)
    .bind(channel.as_str())
    .bind(&summary)
    .bind(urgent)
    .bind(!inside)
    .bind(now)
    .bind(current.user.id)
    .bind(form_key(&form))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(contact_id) = inserted {
        audit::Entry::by(&current.user, "contact.create", Outcome::Success)
            .target(format!("engagement:{id}"))
            .client_addr(addr)
            .details(serde_json::json!({ "contact_id": contact_id, "urgent": urgent, "outside_window": !inside }))
            .write(&mut *tx, now)
            .await?;
        session::set_flash(
            &mut *tx,
            &current.session,
            Flash::success("The contact is logged."),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/engagements/{id}/contacts")).into_response())
}
