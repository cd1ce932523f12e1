//! Empower with the right tools: the systems, data and tools each engagement's vendor was
//! given, their periodic access reviews (keep or revoke), and closing an engagement, which
//! asks about every active grant and every vendor account first.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::audit::{self, Outcome};
use crate::auth::{CurrentUser, session};
use crate::choice;
use crate::engagements::{Access, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::{AppError, Result};
use crate::web::form::{FailedRow, FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::routes::Routes;
use crate::web::validate;

choice!(pub Level {
    Read = "read" / "Read",
    Write = "write" / "Write",
    Admin = "admin" / "Administer",
});

choice!(pub Decision {
    Keep = "keep" / "Keep",
    Revoke = "revoke" / "Revoke",
});

/// Days before its expiry a grant counts as expiring.
const EXPIRING_DAYS: i64 = 30;

#[derive(sqlx::FromRow)]
pub struct GrantRow {
    pub id: i64,
    pub resource: String,
    pub access_level: String,
    pub holder: String,
    pub granted_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
    pub review_interval_days: i32,
    pub next_review_due: NaiveDate,
    pub justification: String,
    pub status: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_decision: Option<String>,
    pub last_reviewer: Option<String>,
    pub last_reviewed_at: Option<DateTime<Utc>>,
    pub last_note: Option<String>,
}

impl GrantRow {
    pub fn level_label(&self) -> &'static str {
        Level::parse(&self.access_level).map_or("", Level::label)
    }
}

#[derive(Template)]
#[template(path = "grants/list.html")]
struct ListPage {
    layout: Layout,
    access: Access,
    grants: Vec<GrantRow>,
    today: NaiveDate,
    zone: chrono_tz::Tz,
    /// The review form that failed, with what was typed and why.
    failed: FailedRow,
}

impl ListPage {
    fn active(&self) -> impl Iterator<Item = &GrantRow> {
        self.grants.iter().filter(|g| g.status == "active")
    }

    fn revoked(&self) -> impl Iterator<Item = &GrantRow> {
        self.grants.iter().filter(|g| g.status == "revoked")
    }

    fn has_revoked(&self) -> bool {
        self.revoked().next().is_some()
    }

    fn review_due(&self, g: &GrantRow) -> bool {
        g.next_review_due <= self.today
    }

    /// "expired", "expiring" or "".
    fn expiry(&self, g: &GrantRow) -> &'static str {
        match g.expires_on {
            Some(day) if day < self.today => "expired",
            Some(day) if (day - self.today).num_days() <= EXPIRING_DAYS => "expiring",
            _ => "",
        }
    }

    fn when(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.zone).format("%Y-%m-%d").to_string()
    }

    fn decision_options(&self) -> Vec<(String, String)> {
        Decision::options_with_prompt()
    }

    fn typed(&self, g: &GrantRow, field: &str) -> String {
        self.failed
            .typed(g.id, field)
            .unwrap_or_default()
            .to_string()
    }

    fn error(&self, g: &GrantRow, field: &str) -> Option<&str> {
        self.failed.error(g.id, field)
    }
}

async fn grants(db: &mut PgConnection, engagement_id: i64) -> Result<Vec<GrantRow>> {
    Ok(sqlx::query_as(
        "select g.id, g.resource, g.access_level, g.holder, g.granted_on, g.expires_on, g.review_interval_days,
                g.next_review_due, g.justification, g.status, g.revoked_at,
                r.decision as last_decision, u.name as last_reviewer, r.reviewed_at as last_reviewed_at,
                r.note as last_note
         from access_grants g
         left join lateral (select * from access_reviews r where r.grant_id = g.id
                            order by r.reviewed_at desc, r.id desc limit 1) r on true
         left join users u on u.id = r.reviewed_by
         where g.engagement_id = $1
         order by g.status, g.next_review_due, lower(g.resource), g.id",
    )
    .bind(engagement_id)
    .fetch_all(db)
    .await?)
}

async fn list_page(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    id: i64,
    failed: FailedRow,
) -> Result<String> {
    let access = access(db, &current.user, id).await?;
    let grants = grants(db, id).await?;
    let page = ListPage {
        layout: Layout::new(
            &current.session,
            format!("Access grants: {}", access.name),
            "/engagements",
        ),
        today: state.clock.today(access.zone()),
        zone: current.zone(state.config.time_zone),
        access,
        grants,
        failed,
    };
    Ok(page.render()?)
}

pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Html(
        list_page(&state, &current, &mut conn, id, FailedRow::default()).await?,
    ))
}

#[derive(Template)]
#[template(path = "grants/new.html")]
struct NewPage {
    layout: Layout,
    access: Access,
    form: Pairs,
    errors: FieldErrors,
}

impl NewPage {
    fn level_options(&self) -> Vec<(String, String)> {
        Level::options_with_prompt()
    }
}

fn new_page(current: &CurrentUser, access: Access, form: Pairs, errors: FieldErrors) -> NewPage {
    NewPage {
        layout: Layout::new(
            &current.session,
            format!("Record an access grant: {}", access.name),
            "/engagements",
        ),
        access,
        form,
        errors,
    }
}

pub async fn new(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let access = access(&mut conn, &current.user, id).await?;
    access.require_manage()?;
    let today = state.clock.today(access.zone());
    let form = Pairs(vec![
        ("form_key".into(), uuid::Uuid::new_v4().to_string()),
        ("granted_on".into(), today.to_string()),
        ("review_interval_days".into(), "90".into()),
    ]);
    Ok(Html(
        new_page(&current, access, form, FieldErrors::default()).render()?,
    ))
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
    let access = access(&mut tx, &current.user, id).await?;
    access.require_manage()?;
    if access.is_closed() {
        return Err(AppError::BadRequest(
            "This engagement is closed: it grants no new access.".into(),
        ));
    }
    let mut errors = FieldErrors::default();
    let resource = validate::required(
        &mut errors,
        "resource",
        form.get("resource"),
        200,
        "Name the system, data or tool.",
    );
    let level = validate::choice(
        &mut errors,
        "access_level",
        form.get("access_level"),
        Level::parse,
        "Choose read, write or administer.",
    );
    let holder = validate::required(
        &mut errors,
        "holder",
        form.get("holder"),
        200,
        "Name who holds the access: a person, team or service account.",
    );
    let granted_on = validate::date(&mut errors, "granted_on", form.get("granted_on"), true);
    let expires_on = validate::date(&mut errors, "expires_on", form.get("expires_on"), false);
    if let (Some(granted), Some(expires)) = (granted_on, expires_on)
        && expires < granted
    {
        errors.add("expires_on", "The expiry is before the grant date.");
    }
    let interval = validate::integer(
        &mut errors,
        "review_interval_days",
        form.get("review_interval_days"),
        1..=730,
    );
    let justification = validate::required(
        &mut errors,
        "justification",
        form.get("justification"),
        2000,
        "Say why the vendor needs this access.",
    );
    let (Some(level), Some(granted_on), Some(interval)) = (level, granted_on, interval) else {
        let page = new_page(&current, access, form, errors);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    if !errors.is_empty() {
        let page = new_page(&current, access, form, errors);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    }
    let next_review = granted_on + chrono::Duration::days(interval);
    let grant: Option<i64> = sqlx::query_scalar(
        "insert into access_grants (engagement_id, resource, access_level, holder, granted_on, expires_on,
                                    review_interval_days, next_review_due, justification, created_by, created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         on conflict (form_key) do nothing returning id",
    )
    .bind(id)
    .bind(&resource)
    .bind(level.as_str())
    .bind(&holder)
    .bind(granted_on)
    .bind(expires_on)
    .bind(interval as i32)
    .bind(next_review)
    .bind(&justification)
    .bind(current.user.id)
    .bind(now)
    .bind(form_key(&form))
    .fetch_optional(&mut *tx)
    .await?;
    let back = format!("/engagements/{id}/access");
    if let Some(grant) = grant {
        audit::Entry::by(&current.user, "grant.create", Outcome::Success)
            .target(format!("engagement:{id}"))
            .client_addr(addr)
            .details(serde_json::json!({
                "grant_id": grant, "resource": resource, "level": level, "holder": holder,
                "expires_on": expires_on, "next_review_due": next_review,
            }))
            .write(&mut *tx, now)
            .await?;
        session::set_flash(
            &mut *tx,
            &current.session,
            Flash::success(format!(
                "Recorded: {holder} has {} access to {resource}; first review by {next_review}.",
                level.label().to_lowercase()
            )),
        )
        .await?;
        tx.commit().await?;
        crate::reminders::refresh(&state, id).await;
    }
    Ok(Redirect::to(&back).into_response())
}

/// An access review: keep (the next review is due one interval from today) or revoke.
pub async fn review(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(grant): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let row: Option<(i64, String, i32, String)> = sqlx::query_as(
        "select engagement_id, status, review_interval_days, resource from access_grants where id = $1 for update",
    )
    .bind(grant)
    .fetch_optional(&mut *tx)
    .await?;
    let (id, status, interval, resource) = row.ok_or(AppError::NotFound)?;
    let access = access(&mut tx, &current.user, id).await?;
    access.require_manage()?;
    let back = format!("/engagements/{id}/access#grant-{grant}");
    if status != "active" {
        // Already revoked: a double submit, or a review of a revoked grant.
        return Ok(Redirect::to(&back).into_response());
    }
    let mut errors = FieldErrors::default();
    let decision = validate::choice(
        &mut errors,
        "decision",
        form.get("decision"),
        Decision::parse,
        "Choose keep or revoke.",
    );
    let note = validate::optional(&mut errors, "note", form.get("note"), 1000);
    let Some(decision) = decision.filter(|_| errors.is_empty()) else {
        let html = list_page(
            &state,
            &current,
            &mut tx,
            id,
            FailedRow::new(grant, form, errors),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(html)).into_response());
    };
    let today = state.clock.today(access.zone());
    let next =
        (decision == Decision::Keep).then(|| today + chrono::Duration::days(interval.into()));
    record_review(
        &mut tx,
        grant,
        decision,
        &note,
        next,
        current.user.id,
        now,
        false,
    )
    .await?;
    audit::Entry::by(&current.user, "grant.review", Outcome::Success)
        .target(format!("engagement:{id}"))
        .client_addr(addr)
        .details(serde_json::json!({
            "grant_id": grant, "decision": decision, "note": note, "next_review_due": next,
        }))
        .write(&mut *tx, now)
        .await?;
    let message = match next {
        Some(next) => format!("{resource}: kept; next review by {next}."),
        None => format!("{resource}: revoked."),
    };
    session::set_flash(&mut *tx, &current.session, Flash::success(message)).await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, id).await;
    Ok(Redirect::to(&back).into_response())
}

#[allow(clippy::too_many_arguments)]
async fn record_review(
    db: &mut PgConnection,
    grant: i64,
    decision: Decision,
    note: &str,
    next: Option<NaiveDate>,
    by: i64,
    now: DateTime<Utc>,
    on_close: bool,
) -> Result<()> {
    sqlx::query(
        "insert into access_reviews (grant_id, decision, note, next_review_due, reviewed_by, reviewed_at, on_close)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(grant)
    .bind(decision.as_str())
    .bind(note)
    .bind(next)
    .bind(by)
    .bind(now)
    .bind(on_close)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "update access_grants
         set next_review_due = coalesce($2, next_review_due),
             status = case when $3 then 'revoked' else status end,
             revoked_by = case when $3 then $4 end, revoked_at = case when $3 then $5 end
         where id = $1",
    )
    .bind(grant)
    .bind(next)
    .bind(decision == Decision::Revoke)
    .bind(by)
    .bind(now)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// A vendor account as the close page lists it, with the vendor's other open engagements.
#[derive(sqlx::FromRow)]
struct Account {
    id: i64,
    name: String,
    email: String,
    other_engagements: Vec<String>,
}

#[derive(Template)]
#[template(path = "grants/close.html")]
struct ClosePage {
    layout: Layout,
    access: Access,
    grants: Vec<GrantRow>,
    accounts: Vec<Account>,
    form: Pairs,
    errors: FieldErrors,
}

impl ClosePage {
    fn field(&self, name: &str) -> String {
        self.form.get(name).to_string()
    }
}

async fn close_page(
    current: &CurrentUser,
    db: &mut PgConnection,
    id: i64,
    form: Pairs,
    errors: FieldErrors,
) -> Result<(ClosePage, Vec<(String, String)>)> {
    let access = access(db, &current.user, id).await?;
    access.require_manage()?;
    let grants: Vec<GrantRow> = grants(db, id)
        .await?
        .into_iter()
        .filter(|g| g.status == "active")
        .collect();
    let accounts: Vec<Account> = sqlx::query_as(
        "select u.id, u.name, u.email,
                coalesce(array_agg(e.name order by e.name) filter (where e.id is not null), '{}') as other_engagements
         from users u
         left join engagements e on e.vendor_id = u.vendor_id and e.id <> $2 and e.status in ('draft', 'active', 'paused')
         where u.vendor_id = $1 and u.disabled_at is null
         group by u.id order by lower(u.name), u.id",
    )
    .bind(access.vendor_id)
    .bind(id)
    .fetch_all(&mut *db)
    .await?;
    let keys = grants
        .iter()
        .map(|g| (format!("grant_{}", g.id), g.resource.clone()))
        .chain(
            accounts
                .iter()
                .map(|a| (format!("user_{}", a.id), a.email.clone())),
        )
        .collect();
    let page = ClosePage {
        layout: Layout::new(
            &current.session,
            format!("Close {}", access.name),
            "/engagements",
        ),
        access,
        grants,
        accounts,
        form,
        errors,
    };
    Ok((page, keys))
}

pub async fn close_form(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let (page, _) = close_page(
        &current,
        &mut conn,
        id,
        Pairs(vec![]),
        FieldErrors::default(),
    )
    .await?;
    Ok(Html(page.render()?))
}

/// Closes the engagement once every active grant and vendor account has an answer: revoke
/// (or disable) it, or keep it with a reason.
pub async fn close(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    sqlx::query("select 1 from engagements where id = $1 for update")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let (page, keys) = close_page(&current, &mut tx, id, form, FieldErrors::default()).await?;
    if page.access.is_closed() {
        return Ok(Redirect::to(&format!("/engagements/{id}")).into_response());
    }
    let mut errors = FieldErrors::default();
    let mut answers = Vec::new();
    for (key, _) in &keys {
        let note_key = format!("{key}_note");
        let note = page.form.get(&note_key).trim().to_string();
        if note.chars().count() > 1000 {
            errors.add(note_key.clone(), "Use at most 1000 characters.");
        }
        let decision = match page.form.get(key) {
            "revoke" => Some(Decision::Revoke),
            "keep" if note.is_empty() => {
                errors.add(note_key.clone(), "Say why it stays after the close.");
                None
            }
            "keep" => Some(Decision::Keep),
            _ => {
                errors.add(key.clone(), "Choose revoke or keep.");
                None
            }
        };
        answers.push((key.clone(), decision, note));
    }
    if !errors.is_empty() {
        let page = ClosePage { errors, ..page };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    }
    let today = state.clock.today(page.access.zone());
    let mut record = Vec::new();
    for (key, decision, note) in &answers {
        let decision = decision.unwrap_or(Decision::Revoke);
        if let Some(grant) = key
            .strip_prefix("grant_")
            .and_then(|g| g.parse::<i64>().ok())
        {
            let interval = page
                .grants
                .iter()
                .find(|g| g.id == grant)
                .map_or(90, |g| g.review_interval_days);
            let next = (decision == Decision::Keep)
                .then(|| today + chrono::Duration::days(interval.into()));
            record_review(
                &mut tx,
                grant,
                decision,
                note,
                next,
                current.user.id,
                now,
                true,
            )
            .await?;
        } else if let Some(user) = key
            .strip_prefix("user_")
            .and_then(|u| u.parse::<i64>().ok())
            && decision == Decision::Revoke
        {
            sqlx::query("update users set disabled_at = coalesce(disabled_at, $2) where id = $1")
                .bind(user)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            session::delete_for_user(&mut *tx, user, None).await?;
        }
        record.push(serde_json::json!({ "item": key, "decision": decision, "note": note }));
    }
    sqlx::query(
        "update engagements set status = 'closed', end_date = coalesce(end_date, greatest($2, start_date))
         where id = $1",
    )
    .bind(id)
    .bind(today)
    .execute(&mut *tx)
    .await?;
    audit::Entry::by(&current.user, "engagement.close", Outcome::Success)
        .target(format!("engagement:{id}"))
        .client_addr(addr)
        .details(serde_json::json!({ "answers": record }))
        .write(&mut *tx, now)
        .await?;
    session::set_flash(
        &mut *tx,
        &current.session,
        Flash::success(format!(
            "{} is closed; {} revoked or disabled.",
            page.access.name,
            answers
                .iter()
                .filter(|(_, d, _)| *d == Some(Decision::Revoke))
                .count()
        )),
    )
    .await?;
    tx.commit().await?;
    crate::reminders::refresh(&state, id).await;
    Ok(Redirect::to(&format!("/engagements/{id}")).into_response())
}

/// The routes of grants.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/access", list)
        .get("/engagements/{id}/access/new", new)
        .post("/engagements/{id}/access/new", create)
        .post("/grants/{id}/review", review)
        .get("/engagements/{id}/close", close_form)
        .post("/engagements/{id}/close", close)
}
