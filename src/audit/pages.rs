//! The audit log for admins: newest first, filtered by actor, action and date range.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::auth::Role;
use crate::auth::policy::Admin;
use crate::state::AppState;
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Query};
use crate::web::layout::Layout;
use crate::web::paging::{self, Pager};

const PER_PAGE: i64 = 50;

/// Every action the application writes, for the filter.
pub const ACTIONS: &[&str] = &[
    "login",
    "login.locked",
    "logout",
    "password.change",
    "password.set",
    "request.cross_site",
    "request.csrf",
    "seed.demo",
    "user.create",
    "user.disable",
    "user.enable",
    "user.password_link",
    "user.role_change",
    "user.update",
    "vendor.create",
    "vendor.update",
    "evaluation.create",
    "criteria.update",
    "engagement.create",
    "engagement.update",
    "kpi.create",
    "kpi.update",
    "kpi.weights",
    "boundaries.update",
    "checkin.create",
    "action_item.close",
    "feedback.create",
    "feedback.acknowledge",
    "feedback.respond",
    "success.create",
    "contact.create",
];

/// The kinds of record the log can be filtered by: the prefix of an entry's target.
pub const ENTITIES: &[(&str, &str)] = &[
    ("user", "Users"),
    ("vendor", "Vendors"),
    ("engagement", "Engagements"),
    ("kpi", "KPIs"),
    ("criteria", "Due-diligence criteria"),
];

#[derive(Debug, Deserialize, Default)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    entity: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    at: DateTime<Utc>,
    actor_email: Option<String>,
    actor_role: Option<Role>,
    action: String,
    target: Option<String>,
    outcome: String,
    client_addr: Option<String>,
    repeats: i32,
    total: i64,
}

struct Entry {
    at: String,
    actor: String,
    role: String,
    action: String,
    target: String,
    outcome: String,
    client_addr: String,
    /// How many more times the same anonymous refusal came from that address that minute.
    repeats: i32,
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<Entry>,
    actor: String,
    action: String,
    from: String,
    to: String,
    actions: &'static [&'static str],
    entity: String,
    entities: &'static [(&'static str, &'static str)],
    errors: FieldErrors,
    pager: Pager,
    zone: String,
}

/// The start of a date typed as YYYY-MM-DD in `zone`, as an instant.
fn start_of(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    midnight
        .and_local_timezone(zone)
        .earliest()
        // A zone that skips midnight starts the day an hour later.
        .or_else(|| {
            (midnight + chrono::Duration::hours(1))
                .and_local_timezone(zone)
                .earliest()
        })
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

fn parse_date(raw: &str, field: &'static str, errors: &mut FieldErrors) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    crate::web::validate::date(errors, field, raw, false)
}

pub async fn list(
    State(state): State<AppState>,
    Admin(current): Admin,
    Query(query): Query<AuditQuery>,
) -> Result<Response> {
    let zone: Tz = current.zone(state.config.time_zone);
    let actor = query.actor.unwrap_or_default();
    let action = query
        .action
        .filter(|a| ACTIONS.contains(&a.as_str()))
        .unwrap_or_default();
    let entity = query
        .entity
        .filter(|e| ENTITIES.iter().any(|(key, _)| key == e))
        .unwrap_or_default();
    let from = query.from.unwrap_or_default();
    let to = query.to.unwrap_or_default();
    let mut errors = FieldErrors::default();
    let from_date = parse_date(&from, "from", &mut errors);
    let to_date = parse_date(&to, "to", &mut errors);
    if let (Some(f), Some(t)) = (from_date, to_date)
        && t < f
    {
        errors.add("to", "The end date is before the start date.");
    }
    let page = paging::page_number(query.page.as_deref());
    let rows: Vec<Row> = sqlx::query_as(
        "select a.at, a.actor_email, a.actor_role, a.action, a.target, a.outcome, a.client_addr,
                coalesce(r.repeats, 0) as repeats, count(*) over () as total
         from audit_log a
         -- An anonymous refusal's row stands for its repeats within the same minute.
         left join audit_repeats r
           on a.actor_id is null and a.outcome = 'refused'
          and r.client_addr = coalesce(a.client_addr, '') and r.action = a.action
          and r.minute = date_bin('1 minute', a.at, timestamptz 'epoch')
         where ($1::text is null or a.actor_email ilike $1)
           and ($2::text = '' or a.action = $2)
           and ($3::timestamptz is null or a.at >= $3)
           and ($4::timestamptz is null or a.at < $4)
           and ($7::text = '' or a.target = $7 or a.target like $7 || ':%')
         order by a.at desc, a.id desc
         limit $5 offset $6",
    )
    .bind(paging::contains_pattern(&actor))
    .bind(&action)
    .bind(from_date.map(|d| start_of(d, zone)))
    .bind(
        to_date
            .and_then(|d| d.succ_opt())
            .map(|d| start_of(d, zone)),
    )
    .bind(PER_PAGE)
    .bind(paging::offset(page, PER_PAGE))
    .bind(&entity)
    .fetch_all(&state.pool)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let pager = Pager::new(
        "/admin/audit",
        &[
            ("actor", &actor),
            ("action", &action),
            ("from", &from),
            ("to", &to),
        ],
        page,
        PER_PAGE,
        total,
    );
    let entries = rows
        .into_iter()
        .map(|r| Entry {
            at: r
                .at
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
            actor: r.actor_email.unwrap_or_else(|| "—".into()),
            role: r
                .actor_role
                .map(|role| role.as_str().to_string())
                .unwrap_or_default(),
            action: r.action,
            target: r.target.unwrap_or_default(),
            outcome: r.outcome,
            client_addr: r.client_addr.unwrap_or_default(),
            repeats: r.repeats,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = AuditPage {
        layout: Layout::new(&current.session, "Audit log", "/admin/audit"),
        entries,
        actor,
        action,
        from,
        to,
        actions: ACTIONS,
        entity,
        entities: ENTITIES,
        errors,
        pager,
        zone: zone.name().to_string(),
    };
    Ok((status, Html(page.render()?)).into_response())
}
