//! Empower with the right tools: the systems, data and tools each engagement's vendor was
//! given, their periodic access reviews (keep or revoke), and closing an engagement, which
//! asks about every active grant and every vendor account first (`close`).

mod close;

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::auth::CurrentUser;
use crate::auth::policy;
use crate::choice;
use crate::engagements::Viewing;
use crate::engagements::{Access, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
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

choice!(pub GrantStatus {
    Active = "active" / "Active",
    Revoked = "revoked" / "Revoked",
});

/// Days before its expiry a grant counts as expiring.
const EXPIRING_DAYS: i64 = 30;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct GrantRow {
    pub id: i64,
    pub resource: String,
    pub access_level: Level,
    pub holder: String,
    pub granted_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
    pub review_interval_days: i32,
    pub next_review_due: NaiveDate,
    pub justification: String,
    pub status: GrantStatus,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_decision: Option<Decision>,
    pub last_reviewer: Option<String>,
    pub last_reviewed_at: Option<DateTime<Utc>>,
    pub last_note: Option<String>,
}

impl GrantRow {
    pub fn level_label(&self) -> &'static str {
        self.access_level.label()
    }

    pub fn is_active(&self) -> bool {
        self.status == GrantStatus::Active
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
        self.grants.iter().filter(|g| g.is_active())
    }

    fn revoked(&self) -> impl Iterator<Item = &GrantRow> {
        self.grants
            .iter()
            .filter(|g| g.status == GrantStatus::Revoked)
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

/// An engagement's access grants with their last review: active ones first, then by when
/// the next review is due.
pub async fn grants(db: &mut PgConnection, engagement_id: i64) -> Result<Vec<GrantRow>> {
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
) -> Result<ListPage> {
    let access = access(db, &current.user, id).await?;
    let grants = grants(db, id).await?;
    Ok(ListPage {
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
    })
}

pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let page = list_page(&state, &current, &mut conn, id, FailedRow::default()).await?;
    Ok(Html(page.render()?))
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
    Viewing { current, access }: Viewing,
) -> Result<Html<String>> {
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

/// An access grant, as the record form gives it.
pub struct NewGrant {
    pub resource: String,
    pub level: Level,
    pub holder: String,
    pub granted_on: NaiveDate,
    pub expires_on: Option<NaiveDate>,
    pub review_interval_days: i64,
    pub justification: String,
}

impl NewGrant {
    pub fn parse(form: &Pairs) -> Result<NewGrant, FieldErrors> {
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
        match (level, granted_on, interval) {
            (Some(level), Some(granted_on), Some(interval)) if errors.is_empty() => Ok(NewGrant {
                resource,
                level,
                holder,
                granted_on,
                expires_on,
                review_interval_days: interval,
                justification,
            }),
            _ => Err(errors),
        }
    }

    /// The first review is due one interval after the grant.
    pub fn next_review(&self) -> NaiveDate {
        self.granted_on + chrono::Duration::days(self.review_interval_days)
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
    let access = access(change.db(), &current.user, id).await?;
    policy::may_review_grant(access.reader())?;
    if access.is_closed() {
        return Err(AppError::BadRequest(
            "This engagement is closed: it grants no new access.".into(),
        ));
    }
    let input = match NewGrant::parse(&form) {
        Ok(input) => input,
        Err(errors) => return refused(new_page(&current, access, form, errors)),
    };
    let next_review = input.next_review();
    let grant: Option<i64> = sqlx::query_scalar(
        "insert into access_grants (engagement_id, resource, access_level, holder, granted_on, expires_on,
                                    review_interval_days, next_review_due, justification, created_by, created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         on conflict (form_key) do nothing returning id",
    )
    .bind(id)
    .bind(&input.resource)
    .bind(input.level)
    .bind(&input.holder)
    .bind(input.granted_on)
    .bind(input.expires_on)
    .bind(input.review_interval_days as i32)
    .bind(next_review)
    .bind(&input.justification)
    .bind(current.user.id)
    .bind(change.now)
    .bind(form_key(&form))
    .fetch_optional(change.db())
    .await?;
    let back = format!("/engagements/{id}/access");
    if let Some(grant) = grant {
        let NewGrant {
            resource,
            level,
            holder,
            expires_on,
            ..
        } = input;
        change
            .audit(
                "grant.create",
                format!("engagement:{id}"),
                serde_json::json!({
                    "grant_id": grant, "resource": resource, "level": level, "holder": holder,
                    "expires_on": expires_on, "next_review_due": next_review,
                }),
            )
            .await?;
        change
            .flash(Flash::success(format!(
                "Recorded: {holder} has {} access to {resource}; first review by {next_review}.",
                level.label().to_lowercase()
            )))
            .await?;
        change.commit_and_refresh(id).await?;
    }
    Ok(Redirect::to(&back).into_response())
}

/// An access review, as the review form gives it.
pub struct GrantReview {
    pub decision: Decision,
    pub note: String,
}

impl GrantReview {
    pub fn parse(form: &Pairs) -> Result<GrantReview, FieldErrors> {
        let mut errors = FieldErrors::default();
        let decision = validate::choice(
            &mut errors,
            "decision",
            form.get("decision"),
            Decision::parse,
            "Choose keep or revoke.",
        );
        let note = validate::optional(&mut errors, "note", form.get("note"), 1000);
        match decision {
            Some(decision) if errors.is_empty() => Ok(GrantReview { decision, note }),
            _ => Err(errors),
        }
    }
}

/// An access review: keep (the next review is due one interval from today) or revoke.
pub async fn review(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(grant): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let row: Option<(i64, GrantStatus, i32, String)> = sqlx::query_as(
        "select engagement_id, status, review_interval_days, resource from access_grants where id = $1 for update",
    )
    .bind(grant)
    .fetch_optional(change.db())
    .await?;
    let (id, status, interval, resource) = row.ok_or(AppError::NotFound)?;
    let access = access(change.db(), &current.user, id).await?;
    policy::may_review_grant(access.reader())?;
    let back = format!("/engagements/{id}/access#grant-{grant}");
    if status != GrantStatus::Active {
        // Already revoked: a double submit, or a review of a revoked grant.
        return Ok(Redirect::to(&back).into_response());
    }
    let GrantReview { decision, note } = match GrantReview::parse(&form) {
        Ok(input) => input,
        Err(errors) => {
            let failed = FailedRow::new(grant, form, errors);
            let page = list_page(&state, &current, change.db(), id, failed).await?;
            return refused(page);
        }
    };
    let today = state.clock.today(access.zone());
    let next =
        (decision == Decision::Keep).then(|| today + chrono::Duration::days(interval.into()));
    let now = change.now;
    record_review(
        change.db(),
        grant,
        decision,
        &note,
        next,
        current.user.id,
        now,
        false,
    )
    .await?;
    change
        .audit(
            "grant.review",
            format!("engagement:{id}"),
            serde_json::json!({
                "grant_id": grant, "decision": decision, "note": note, "next_review_due": next,
            }),
        )
        .await?;
    let message = match next {
        Some(next) => format!("{resource}: kept; next review by {next}."),
        None => format!("{resource}: revoked."),
    };
    change.flash(Flash::success(message)).await?;
    change.commit_and_refresh(id).await?;
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

/// The routes of grants.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/access", list)
        .get("/engagements/{id}/access/new", new)
        .post("/engagements/{id}/access/new", create)
        .post("/grants/{id}/review", review)
        .get("/engagements/{id}/close", close::close_form)
        .post("/engagements/{id}/close", close::close)
}
