//! `/admin/webhooks`: the endpoints, their state and recent deliveries with the receivers'
//! answers; adding an endpoint (its secret shown once), a test event, disabling, enabling
//! and removing one, and sending a failed delivery again. Admins only.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{EVENTS, Format, endpoint_url, event_label, new_secret};
use crate::auth::CurrentUser;
use crate::auth::policy::Admin;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs};
use crate::web::layout::{Flash, Layout};
use crate::web::routes::Routes;
use crate::web::validate;

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: i64,
    name: String,
    url: String,
    events: Vec<String>,
    format: Format,
    created_at: DateTime<Utc>,
    failing_since: Option<DateTime<Utc>>,
    disabled_at: Option<DateTime<Utc>>,
    disabled_reason: Option<String>,
    waiting: i64,
    delivered_today: i64,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    endpoint: String,
    kind: String,
    summary: Option<String>,
    created_at: DateTime<Utc>,
    attempts: i32,
    last_status: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

/// A new endpoint's secret, on the page that answers its creation only.
struct NewSecret {
    name: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    endpoints: Vec<EndpointRow>,
    deliveries: Vec<DeliveryRow>,
    new_secret: Option<NewSecret>,
    form: Pairs,
    errors: FieldErrors,
    zone: chrono_tz::Tz,
}

impl WebhooksPage {
    fn when(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    fn events(&self) -> &'static [(&'static str, &'static str)] {
        EVENTS
    }

    fn label<'a>(&self, kind: &'a str) -> &'a str {
        event_label(kind)
    }

    fn checked(&self, kind: &str) -> bool {
        self.form.all("events").contains(&kind)
    }

    fn format_options(&self) -> Vec<(String, String)> {
        Format::options()
    }
}

async fn page(
    state: &AppState,
    current: &CurrentUser,
    form: Pairs,
    errors: FieldErrors,
    new_secret: Option<NewSecret>,
) -> Result<WebhooksPage> {
    let mut conn = state.pool.acquire().await?;
    let endpoints: Vec<EndpointRow> = sqlx::query_as(
        "select w.id, w.name, w.url, w.events, w.format, w.created_at, w.failing_since, w.disabled_at,
                w.disabled_reason,
                (select count(*) from webhook_deliveries d where d.endpoint_id = w.id and d.delivered_at is null) as waiting,
                (select count(*) from webhook_deliveries d
                 where d.endpoint_id = w.id and d.delivered_at > now() - interval '1 day') as delivered_today
         from webhook_endpoints w order by lower(w.name), w.id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let deliveries: Vec<DeliveryRow> = sqlx::query_as(
        "select d.id, w.name as endpoint, e.kind, e.data ->> 'summary' as summary, e.created_at, d.attempts,
                d.last_status, d.last_error, d.next_attempt_at, d.delivered_at
         from webhook_deliveries d join webhook_endpoints w on w.id = d.endpoint_id
         join webhook_events e on e.id = d.event_id
         order by d.id desc limit 50",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut form = form;
    if form.0.is_empty() {
        form.0
            .push(("format".into(), Format::Standard.as_str().into()));
    }
    Ok(WebhooksPage {
        layout: Layout::new(&current.session, "Webhooks", "/admin/scheduler"),
        endpoints,
        deliveries,
        new_secret,
        form,
        errors,
        zone: current.zone(state.config.time_zone),
    })
}

pub async fn show(State(state): State<AppState>, Admin(current): Admin) -> Result<Html<String>> {
    let page = page(
        &state,
        &current,
        Pairs::default(),
        FieldErrors::default(),
        None,
    )
    .await?;
    Ok(Html(page.render()?))
}

/// An endpoint as the form gives it, or what is wrong with it.
struct NewEndpoint {
    name: String,
    url: String,
    events: Vec<String>,
    format: Format,
}

fn parse(form: &Pairs) -> std::result::Result<NewEndpoint, FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = validate::required_line(
        &mut errors,
        "name",
        form.get("name"),
        200,
        "Name the endpoint, such as \"Service desk tool\".",
    );
    let url = match endpoint_url(form.get("url")) {
        Ok(url) => Some(url.to_string()),
        Err(message) => {
            errors.add("url", message);
            None
        }
    };
    let wanted = form.all("events");
    let events: Vec<String> = EVENTS
        .iter()
        .filter(|(kind, _)| wanted.contains(kind))
        .map(|(kind, _)| kind.to_string())
        .collect();
    if events.is_empty() || events.len() != wanted.len() {
        errors.add(
            "events",
            "Choose the events this endpoint wants, one at least.",
        );
    }
    let format = validate::choice(
        &mut errors,
        "format",
        form.get("format"),
        Format::parse,
        "Choose the format.",
    );
    match (url, format) {
        (Some(url), Some(format)) if errors.is_empty() => Ok(NewEndpoint {
            name,
            url,
            events,
            format,
        }),
        _ => Err(errors),
    }
}

/// Adds an endpoint and shows its secret, this once: no redirect, nothing kept on the way.
pub async fn create(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let endpoint = match parse(&form) {
        Ok(endpoint) => endpoint,
        Err(errors) => return refused(page(&state, &current, form, errors, None).await?),
    };
    let secret = new_secret();
    let mut change = Change::begin(&state, &current, addr).await?;
    let now = change.now;
    let id: i64 = sqlx::query_scalar(
        "insert into webhook_endpoints (name, url, events, format, secret, created_by, created_at)
         values ($1, $2, $3, $4, $5, $6, $7) returning id",
    )
    .bind(&endpoint.name)
    .bind(&endpoint.url)
    .bind(&endpoint.events)
    .bind(endpoint.format)
    .bind(&secret)
    .bind(current.user.id)
    .bind(now)
    .fetch_one(change.db())
    .await?;
    change
        .audit(
            "webhook.create",
            format!("webhook:{id}"),
            json!({ "name": endpoint.name, "url": endpoint.url, "events": endpoint.events,
                    "format": endpoint.format.as_str() }),
        )
        .await?;
    change.commit().await?;
    let shown = NewSecret {
        name: endpoint.name,
        secret,
    };
    let page = page(
        &state,
        &current,
        Pairs::default(),
        FieldErrors::default(),
        Some(shown),
    )
    .await?;
    let mut response = Html(page.render()?).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// What a button on an endpoint does.
#[derive(Clone, Copy)]
enum Act {
    Disable,
    Enable,
    Remove,
    Test,
}

async fn act(
    state: &AppState,
    current: &CurrentUser,
    addr: String,
    id: i64,
    act: Act,
) -> Result<Redirect> {
    let mut change = Change::begin(state, current, addr).await?;
    let name: String =
        sqlx::query_scalar("select name from webhook_endpoints where id = $1 for update")
            .bind(id)
            .fetch_optional(change.db())
            .await?
            .ok_or(AppError::NotFound)?;
    let (action, message) = match act {
        Act::Disable => {
            sqlx::query(
                "update webhook_endpoints set disabled_at = now(), disabled_reason = 'Disabled by an admin.'
                 where id = $1 and disabled_at is null",
            )
            .bind(id)
            .execute(change.db())
            .await?;
            (
                "webhook.disable",
                format!("{name} is disabled: nothing is sent to it until it is enabled."),
            )
        }
        Act::Enable => {
            // What waited is sent now, and a day of failures is counted afresh.
            sqlx::query(
                "with enabled as (
                    update webhook_endpoints set disabled_at = null, disabled_reason = null, failing_since = null
                    where id = $1 returning id
                 )
                 update webhook_deliveries set next_attempt_at = now()
                 where endpoint_id = (select id from enabled) and delivered_at is null",
            )
            .bind(id)
            .execute(change.db())
            .await?;
            wake_senders(change.db()).await?;
            (
                "webhook.enable",
                format!("{name} is enabled; what waited for it is sent now."),
            )
        }
        Act::Remove => {
            sqlx::query("delete from webhook_endpoints where id = $1")
                .bind(id)
                .execute(change.db())
                .await?;
            (
                "webhook.remove",
                format!("{name} is removed, with its deliveries."),
            )
        }
        Act::Test => {
            sqlx::query(
                "with event as (
                    insert into webhook_events (id, kind, data)
                    values (gen_random_uuid(), 'webhook.test',
                            jsonb_build_object('summary', 'A test event from Trellis', 'path', '/admin/webhooks',
                                               'subject', jsonb_build_object('type', 'webhook', 'id', $1::bigint)))
                    returning id
                 )
                 insert into webhook_deliveries (event_id, endpoint_id) select id, $1 from event",
            )
            .bind(id)
            .execute(change.db())
            .await?;
            wake_senders(change.db()).await?;
            (
                "webhook.test",
                format!("A test event is on its way to {name}: its answer shows below."),
            )
        }
    };
    change
        .audit(action, format!("webhook:{id}"), json!({ "name": name }))
        .await?;
    change.flash(Flash::success(message)).await?;
    change.commit().await?;
    Ok(Redirect::to("/admin/webhooks"))
}

macro_rules! endpoint_action {
    ($name:ident, $act:expr) => {
        pub async fn $name(
            State(state): State<AppState>,
            Admin(current): Admin,
            ClientAddr(addr): ClientAddr,
            Id(id): Id,
            Form(_): Form<Pairs>,
        ) -> Result<Redirect> {
            act(&state, &current, addr, id, $act).await
        }
    };
}

endpoint_action!(disable, Act::Disable);
endpoint_action!(enable, Act::Enable);
endpoint_action!(remove, Act::Remove);
endpoint_action!(test, Act::Test);

/// Sends an undelivered delivery now.
pub async fn retry(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Id(id): Id,
    Form(_): Form<Pairs>,
) -> Result<Redirect> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let endpoint: String = sqlx::query_scalar(
        "update webhook_deliveries d set next_attempt_at = now()
         from webhook_endpoints w
         where d.id = $1 and d.delivered_at is null and w.id = d.endpoint_id
         returning w.name",
    )
    .bind(id)
    .fetch_optional(change.db())
    .await?
    .ok_or(AppError::NotFound)?;
    wake_senders(change.db()).await?;
    change
        .audit(
            "webhook.retry",
            format!("webhook_delivery:{id}"),
            json!({ "endpoint": endpoint }),
        )
        .await?;
    change
        .flash(Flash::success(format!(
            "The delivery to {endpoint} is sent again now."
        )))
        .await?;
    change.commit().await?;
    Ok(Redirect::to("/admin/webhooks"))
}

/// Tells every instance's sender, when the transaction commits, that deliveries are due.
async fn wake_senders(db: &mut sqlx::PgConnection) -> Result<()> {
    sqlx::query("select pg_notify('trellis_webhooks', '')")
        .execute(db)
        .await?;
    Ok(())
}

pub fn routes() -> Routes {
    Routes::new()
        .get("/admin/webhooks", show)
        .post("/admin/webhooks", create)
        .post("/admin/webhooks/{id}/disable", disable)
        .post("/admin/webhooks/{id}/enable", enable)
        .post("/admin/webhooks/{id}/remove", remove)
        .post("/admin/webhooks/{id}/test", test)
        .post("/admin/webhook-deliveries/{id}/retry", retry)
}
