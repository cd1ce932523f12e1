//! Successes: milestones and kudos, always visible to the vendor.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use sqlx::PgConnection;

use crate::audit::{self, Outcome};
use crate::auth::{CurrentUser, session};
use crate::engagements::{Access, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

#[derive(sqlx::FromRow)]
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
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let access = access(&mut conn, &current.user, id).await?;
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
    let today = state.clock.today(access.zone());
    let mut errors = FieldErrors::default();
    let title = validate::required(
        &mut errors,
        "title",
        form.get("title"),
        200,
        "Name the success.",
    );
    let description = validate::optional(&mut errors, "description", form.get("description"), 2000);
    let happened_on = validate::date(&mut errors, "happened_on", form.get("happened_on"), true);
    if happened_on.is_some_and(|d| d > today) {
        errors.add(
            "happened_on",
            "Celebrate what has happened: the date cannot be in the future.",
        );
    }
    let Some(happened_on) = happened_on.filter(|_| errors.is_empty()) else {
        let wins = wins(&mut tx, id, 500).await?;
        let page = Page {
            layout: Layout::new(
                &current.session,
                format!("Wins: {}", access.name),
                "/engagements",
            ),
            access,
            wins,
            form,
            errors,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.render()?)).into_response());
    };
    let inserted: Option<i64> = sqlx::query_scalar(
        "insert into successes (engagement_id, title, description, happened_on, author_id, created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (form_key) do nothing returning id",
    )
    .bind(id)
    .bind(&title)
    .bind(&description)
    .bind(happened_on)
    .bind(current.user.id)
    .bind(now)
    .bind(form_key(&form))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(success_id) = inserted {
        audit::Entry::by(&current.user, "success.create", Outcome::Success)
            .target(format!("engagement:{id}"))
            .client_addr(addr)
            .details(serde_json::json!({ "success_id": success_id, "title": title }))
            .write(&mut *tx, now)
            .await?;
        session::set_flash(
            &mut *tx,
            &current.session,
            Flash::success(format!(
                "“{title}” is celebrated; {} sees it too.",
                access.vendor_name
            )),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/engagements/{id}/successes")).into_response())
}
