//! Constructive feedback, structured as situation, observation, impact and request, and the
//! vendor's acknowledgement and response. Also successes: the wins both sides celebrate.
//!
//! Other features use what this file declares and re-exports, never a path into a
//! submodule.

pub mod successes;

pub use successes::{NewSuccess, Win, record as record_success, wins};

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::auth::CurrentUser;
use crate::choice;
use crate::engagements::Viewing;
use crate::engagements::{self, Access, WindowNow, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::routes::Routes;
use crate::web::validate;

choice!(pub Kind {
    Praise = "praise" / "Praise",
    Constructive = "constructive" / "Constructive",
    Concern = "concern" / "Concern",
});

/// Feedback is answered (acknowledged, then responded to) by the vendor's users of the
/// engagement, and only feedback shared with them.
pub fn may_answer_feedback(access: &Access) -> bool {
    access.is_vendor
}

/// A response follows the acknowledgement, once.
pub fn may_respond(acknowledged: bool, responded: bool) -> bool {
    acknowledged && !responded
}

#[derive(sqlx::FromRow, serde::Serialize)]
pub struct FeedbackRow {
    pub id: i64,
    pub kind: Kind,
    pub situation: String,
    pub observation: String,
    pub impact: String,
    pub request: String,
    pub kpi_name: Option<String>,
    pub shared: bool,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub response: Option<String>,
    pub responded_by: Option<String>,
}

impl FeedbackRow {
    /// Shared and not yet acknowledged by the vendor.
    pub fn waits(&self) -> bool {
        self.shared && self.acknowledged_at.is_none()
    }

    pub fn kind_label(&self) -> &'static str {
        self.kind.label()
    }
}

/// Praise against constructive feedback and concerns over the last 90 days.
#[derive(Debug, Default, sqlx::FromRow, serde::Serialize)]
pub struct Balance {
    pub praise: i64,
    pub criticism: i64,
}

impl Balance {
    pub fn sentence(&self) -> String {
        match (self.praise, self.criticism) {
            (0, 0) => "No feedback in the last 90 days.".into(),
            (p, c) => format!(
                "Last 90 days: {p} praise to {c} constructive or concern{}.",
                if c == 1 { "" } else { "s" }
            ),
        }
    }
}

/// The balance of the feedback `for_vendor` says the reader may see (`crate::visibility`).
pub async fn balance(
    db: &mut PgConnection,
    engagement_id: i64,
    since: DateTime<Utc>,
    for_vendor: bool,
) -> Result<Balance> {
    Ok(sqlx::query_as(
        "select count(*) filter (where kind = 'praise') as praise,
                count(*) filter (where kind <> 'praise') as criticism
         from visible_feedback($3) where engagement_id = $1 and created_at >= $2",
    )
    .bind(engagement_id)
    .bind(since)
    .bind(for_vendor)
    .fetch_one(db)
    .await?)
}

/// An engagement's feedback, newest first, as `for_vendor` says the reader may see it
/// (`crate::visibility`).
pub async fn feedback_of(
    db: &mut PgConnection,
    engagement_id: i64,
    for_vendor: bool,
) -> Result<Vec<FeedbackRow>> {
    Ok(sqlx::query_as(
        "select f.id, f.kind, f.situation, f.observation, f.impact, f.request, k.name as kpi_name, f.shared,
                a.name as author, f.created_at, ack.name as acknowledged_by, f.acknowledged_at, f.response,
                resp.name as responded_by
         from visible_feedback($2) f
         join users a on a.id = f.author_id
         left join kpis k on k.id = f.kpi_id
         left join users ack on ack.id = f.acknowledged_by
         left join users resp on resp.id = f.responded_by
         where f.engagement_id = $1
         order by f.created_at desc, f.id desc",
    )
    .bind(engagement_id)
    .bind(for_vendor)
    .fetch_all(db)
    .await?)
}

#[derive(Template)]
#[template(path = "feedback/list.html")]
struct ListPage {
    layout: Layout,
    access: Access,
    rows: Vec<FeedbackRow>,
    balance: Balance,
    zone: chrono_tz::Tz,
}

impl ListPage {
    fn when(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    fn waiting(&self) -> usize {
        self.rows.iter().filter(|r| r.waits()).count()
    }

    fn may_answer(&self) -> bool {
        may_answer_feedback(&self.access)
    }
}

pub async fn list(
    State(state): State<AppState>,
    Viewing { current, access }: Viewing,
) -> Result<Html<String>> {
    let id = access.id;
    let mut conn = state.pool.acquire().await?;
    let rows = feedback_of(&mut conn, id, access.is_vendor).await?;
    let balance = balance(
        &mut conn,
        id,
        state.clock.now() - chrono::Duration::days(90),
        access.is_vendor,
    )
    .await?;
    let zone = current.zone(state.config.time_zone);
    let page = ListPage {
        layout: Layout::new(
            &current.session,
            format!("Feedback: {}", access.name),
            "/engagements",
        ),
        access,
        rows,
        balance,
        zone,
    };
    Ok(Html(page.render()?))
}

#[derive(sqlx::FromRow, Clone)]
struct KpiChoice {
    id: i64,
    name: String,
}

#[derive(Template)]
#[template(path = "feedback/new.html")]
struct NewPage {
    layout: Layout,
    access: Access,
    form: Pairs,
    errors: FieldErrors,
    window: WindowNow,
    kpis: Vec<KpiChoice>,
}

impl NewPage {
    fn new(
        current: &CurrentUser,
        access: Access,
        window: WindowNow,
        kpis: Vec<KpiChoice>,
        form: Pairs,
        errors: FieldErrors,
    ) -> NewPage {
        NewPage {
            layout: Layout::new(
                &current.session,
                format!("Give feedback: {}", access.name),
                "/engagements",
            ),
            form,
            errors,
            access,
            window,
            kpis,
        }
    }

    fn kind_options(&self) -> Vec<(String, String)> {
        Kind::options_with_prompt()
    }

    fn kpi_options(&self) -> Vec<(String, String)> {
        let mut options = vec![(String::new(), "No KPI".to_string())];
        options.extend(self.kpis.iter().map(|k| (k.id.to_string(), k.name.clone())));
        options
    }
}

async fn prepare(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    id: i64,
) -> Result<(Access, WindowNow, Vec<KpiChoice>)> {
    let access = access(db, &current.user, id).await?;
    access.require_manage()?;
    let b = engagements::boundaries_of(db, id).await?;
    let window = engagements::window_now(&b, access.zone(), state.clock.now());
    let kpis =
        sqlx::query_as("select id, name from kpis where engagement_id = $1 order by lower(name)")
            .bind(id)
            .fetch_all(db)
            .await?;
    Ok((access, window, kpis))
}

pub async fn new(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Response> {
    let mut conn = state.pool.acquire().await?;
    let (access, window, kpis) = prepare(&state, &current, &mut conn, id).await?;
    let form = Pairs(vec![
        ("form_key".into(), uuid::Uuid::new_v4().to_string()),
        ("shared".into(), "yes".into()),
    ]);
    let page = NewPage::new(&current, access, window, kpis, form, FieldErrors::default());
    Ok(Html(page.render()?).into_response())
}

/// Feedback as the form gives it: situation, observation, impact and request.
pub struct NewFeedback {
    pub kind: Kind,
    pub situation: String,
    pub observation: String,
    pub impact: String,
    pub request: String,
    pub kpi_id: Option<i64>,
    pub shared: bool,
}

impl NewFeedback {
    /// Parses the form; a KPI named must be one of `kpis`, the engagement's.
    fn parse(form: &Pairs, kpis: &[KpiChoice]) -> std::result::Result<NewFeedback, FieldErrors> {
        let mut errors = FieldErrors::default();
        let kind = validate::choice(
            &mut errors,
            "kind",
            form.get("kind"),
            Kind::parse,
            "Choose praise, constructive or concern.",
        );
        let situation = validate::required(
            &mut errors,
            "situation",
            form.get("situation"),
            2000,
            "Describe the situation: when and where.",
        );
        let observation = validate::required(
            &mut errors,
            "observation",
            form.get("observation"),
            2000,
            "Say what you observed, as facts.",
        );
        let impact = validate::required(
            &mut errors,
            "impact",
            form.get("impact"),
            2000,
            "Say what it meant for the results.",
        );
        let request = validate::optional(&mut errors, "request", form.get("request"), 2000);
        let kpi_id = match form.get("kpi_id").trim() {
            "" => None,
            raw => match raw
                .parse::<i64>()
                .ok()
                .filter(|id| kpis.iter().any(|k| k.id == *id))
            {
                Some(id) => Some(id),
                None => {
                    errors.add("kpi_id", "Choose one of this engagement's KPIs.");
                    None
                }
            },
        };
        match kind {
            Some(kind) if errors.is_empty() => Ok(NewFeedback {
                kind,
                situation,
                observation,
                impact,
                request,
                kpi_id,
                shared: form.get("shared") == "yes",
            }),
            _ => Err(errors),
        }
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
    let (access, window, kpis) = prepare(&state, &current, change.db(), id).await?;
    let feedback = match NewFeedback::parse(&form, &kpis) {
        Ok(feedback) => feedback,
        Err(errors) => {
            return refused(NewPage::new(&current, access, window, kpis, form, errors));
        }
    };
    let feedback_id: Option<i64> = sqlx::query_scalar(
        "insert into feedback (engagement_id, kind, situation, observation, impact, request, kpi_id, shared, author_id,
                               created_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict (form_key) do nothing returning id",
    )
    .bind(id)
    .bind(feedback.kind)
    .bind(&feedback.situation)
    .bind(&feedback.observation)
    .bind(&feedback.impact)
    .bind(&feedback.request)
    .bind(feedback.kpi_id)
    .bind(feedback.shared)
    .bind(current.user.id)
    .bind(change.now)
    .bind(form_key(&form))
    .fetch_optional(change.db())
    .await?;
    let back = format!("/engagements/{id}/feedback");
    let Some(feedback_id) = feedback_id else {
        return Ok(Redirect::to(&back).into_response());
    };
    change
        .audit(
            "feedback.create",
            format!("engagement:{id}"),
            serde_json::json!({ "feedback_id": feedback_id, "kind": feedback.kind, "shared": feedback.shared }),
        )
        .await?;
    let flash = if feedback.shared {
        "Feedback shared with the vendor."
    } else {
        "Feedback kept internal."
    };
    change.flash(Flash::success(flash)).await?;
    change.commit_and_refresh(id).await?;
    Ok(Redirect::to(&back).into_response())
}

#[derive(sqlx::FromRow)]
struct Waiting {
    engagement_id: i64,
    shared: bool,
    acknowledged_at: Option<DateTime<Utc>>,
    response: Option<String>,
}

/// Loads shared feedback for one of its vendor's users; anyone else gets 404, as for a
/// missing id.
async fn for_vendor(
    db: &mut PgConnection,
    current: &CurrentUser,
    feedback_id: i64,
) -> Result<(i64, Option<DateTime<Utc>>, Option<String>)> {
    let row: Option<Waiting> = sqlx::query_as(
        "select f.engagement_id, exists (select 1 from visible_feedback(true) v where v.id = f.id) as shared,
                f.acknowledged_at, f.response
         from feedback f where f.id = $1 for update",
    )
    .bind(feedback_id)
    .fetch_optional(&mut *db)
    .await?;
    let Waiting {
        engagement_id,
        shared,
        acknowledged_at,
        response,
    } = row.ok_or(AppError::NotFound)?;
    let access = access(db, &current.user, engagement_id).await?;
    if !may_answer_feedback(&access) {
        return Err(AppError::Forbidden);
    }
    if !shared {
        return Err(AppError::NotFound);
    }
    Ok((engagement_id, acknowledged_at, response))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(feedback_id): Id,
    ClientAddr(addr): ClientAddr,
    Form(_): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (engagement_id, acknowledged_at, _) =
        for_vendor(change.db(), &current, feedback_id).await?;
    if acknowledged_at.is_none() {
        sqlx::query("update feedback set acknowledged_by = $2, acknowledged_at = $3 where id = $1")
            .bind(feedback_id)
            .bind(current.user.id)
            .bind(change.now)
            .execute(change.db())
            .await?;
        change
            .audit(
                "feedback.acknowledge",
                format!("engagement:{engagement_id}"),
                serde_json::json!({ "feedback_id": feedback_id }),
            )
            .await?;
        change
            .flash(Flash::success(
                "Thank you: the feedback is acknowledged. You may respond to it.",
            ))
            .await?;
    }
    change.commit_and_refresh(engagement_id).await?;
    Ok(Redirect::to(&format!("/engagements/{engagement_id}/feedback")).into_response())
}

/// A vendor's response to feedback: up to 2000 characters.
pub struct FeedbackResponse(pub String);

impl FeedbackResponse {
    pub fn parse(form: &Pairs) -> Option<FeedbackResponse> {
        let text = form.get("response").trim();
        (!text.is_empty() && text.chars().count() <= 2000)
            .then(|| FeedbackResponse(text.to_string()))
    }
}

pub async fn respond(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(feedback_id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (engagement_id, acknowledged_at, response) =
        for_vendor(change.db(), &current, feedback_id).await?;
    let back = format!("/engagements/{engagement_id}/feedback");
    if acknowledged_at.is_none() {
        return Err(AppError::BadRequest(
            "Acknowledge the feedback before responding to it.".into(),
        ));
    }
    if !may_respond(acknowledged_at.is_some(), response.is_some()) {
        // One response per feedback; a double submit lands here too.
        return Ok(Redirect::to(&back).into_response());
    }
    let Some(FeedbackResponse(text)) = FeedbackResponse::parse(&form) else {
        let flash = Flash {
            kind: "error",
            message: "Write a response of up to 2000 characters.".into(),
        };
        change.flash(flash).await?;
        change.commit().await?;
        return Ok(Redirect::to(&back).into_response());
    };
    sqlx::query(
        "update feedback set response = $2, responded_by = $3, responded_at = $4 where id = $1",
    )
    .bind(feedback_id)
    .bind(&text)
    .bind(current.user.id)
    .bind(change.now)
    .execute(change.db())
    .await?;
    change
        .audit(
            "feedback.respond",
            format!("engagement:{engagement_id}"),
            serde_json::json!({ "feedback_id": feedback_id }),
        )
        .await?;
    change
        .flash(Flash::success("Your response is recorded."))
        .await?;
    change.commit().await?;
    Ok(Redirect::to(&back).into_response())
}

/// The routes of feedback.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/feedback", list)
        .get("/engagements/{id}/feedback/new", new)
        .post("/engagements/{id}/feedback/new", create)
        .post("/feedback/{id}/acknowledge", acknowledge)
        .post("/feedback/{id}/respond", respond)
        .get("/engagements/{id}/successes", successes::list)
        .post("/engagements/{id}/successes", successes::create)
}
