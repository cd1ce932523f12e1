//! Successes: milestones and kudos, always visible to the vendor.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::auth::CurrentUser;
use crate::engagements::Viewing;
use crate::engagements::{Access, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

#[derive(sqlx::FromRow, serde::Serialize)]
pub struct Win {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub happened_on: NaiveDate,
    pub author: String,
}

pub async fn wins(db: &mut PgConnection, engagement_id: i64, limit: i64) -> Result<Vec<Win>> {
    Ok(sqlx::query_as(
        "select s.id, s.title, s.description, s.happened_on, u.name as author
         from successes s join users u on u.id = s.author_id
         where s.engagement_id = $1 order by s.happened_on desc, s.id desc limit $2",
    )
    .bind(engagement_id)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

#[derive(Template)]
#[template(path = "feedback/successes.html")]
struct Page {
    layout: Layout,
    access: Access,
    wins: Vec<Win>,
    form: Pairs,
    errors: FieldErrors,
}

pub async fn list(
    State(state): State<AppState>,
    Viewing { current, access }: Viewing,
) -> Result<Html<String>> {
    let id = access.id;
    let mut conn = state.pool.acquire().await?;
    let wins = wins(&mut conn, id, 500).await?;
    let today = state.clock.today(access.zone());
    let page = Page {
        layout: Layout::new(
            &current.session,
            format!("Wins: {}", access.name),
            "/engagements",
        ),
        form: Pairs(vec![
            ("form_key".into(), uuid::Uuid::new_v4().to_string()),
            ("happened_on".into(), today.to_string()),
        ]),
        errors: FieldErrors::default(),
        access,
        wins,
    };
    Ok(Html(page.render()?))
}

/// A success as the form gives it.
pub struct NewSuccess {
    pub title: String,
    pub description: String,
    pub happened_on: NaiveDate,
}

impl NewSuccess {
    /// Parses the form; a success cannot happen after `today`.
    pub fn parse(form: &Pairs, today: NaiveDate) -> std::result::Result<NewSuccess, FieldErrors> {
        let mut errors = FieldErrors::default();
        let title = validate::required(
            &mut errors,
            "title",
            form.get("title"),
            200,
            "Name the success.",
        );
        let description =
            validate::optional(&mut errors, "description", form.get("description"), 2000);
        let happened_on = validate::date(&mut errors, "happened_on", form.get("happened_on"), true);
        if happened_on.is_some_and(|d| d > today) {
            errors.add(
                "happened_on",
                "Celebrate what has happened: the date cannot be in the future.",
            );
        }
        match happened_on {
            Some(happened_on) if errors.is_empty() => Ok(NewSuccess {
                title,
                description,
                happened_on,
            }),
            _ => Err(errors),
        }
    }
}

/// Records a win once per `form_key`; `None` when that key was recorded before.
pub async fn record(
    db: &mut PgConnection,
    engagement_id: i64,
    success: &NewSuccess,
    author_id: i64,
    now: DateTime<Utc>,
    form_key: uuid::Uuid,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "insert into successes (engagement_id, title, description, happened_on, author_id, created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (form_key) do nothing returning id",
    )
    .bind(engagement_id)
    .bind(&success.title)
    .bind(&success.description)
    .bind(success.happened_on)
    .bind(author_id)
    .bind(now)
    .bind(form_key)
    .fetch_optional(db)
    .await?)
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
    access.require_manage()?;
    let today = state.clock.today(access.zone());
    let success = match NewSuccess::parse(&form, today) {
        Ok(success) => success,
        Err(errors) => {
            let wins = wins(change.db(), id, 500).await?;
            return refused(Page {
                layout: Layout::new(
                    &current.session,
                    format!("Wins: {}", access.name),
                    "/engagements",
                ),
                access,
                wins,
                form,
                errors,
            });
        }
    };
    let inserted = record(
        &mut change.tx,
        id,
        &success,
        current.user.id,
        change.now,
        form_key(&form),
    )
    .await?;
    if let Some(success_id) = inserted {
        change
            .audit(
                "success.create",
                format!("engagement:{id}"),
                serde_json::json!({ "success_id": success_id, "title": success.title }),
            )
            .await?;
        change
            .flash(Flash::success(format!(
                "“{}” is celebrated; {} sees it too.",
                success.title, access.vendor_name
            )))
            .await?;
    }
    change.commit().await?;
    Ok(Redirect::to(&format!("/engagements/{id}/successes")).into_response())
}
