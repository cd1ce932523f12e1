//! Proactive problem-solving: a vendor's users raise improvements, risks and issues with a
//! proposed action and its expected impact; the engagement's managers answer them, and the
//! vendor sees the answer. Proactivity (raised and accepted in the last 90 days) shows on the
//! scorecard and in reviews.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::auth::CurrentUser;
use crate::auth::policy;
use crate::cache::{Cache, Key};
use crate::choice;
use crate::engagements::{Access, access};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FailedRow, FieldErrors, Form, Id, Pairs, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::routes::Routes;
use crate::web::validate;

choice!(pub Kind {
    Improvement = "improvement" / "Improvement",
    Risk = "risk" / "Risk",
    Issue = "issue" / "Issue",
});

// Where a proposal stands: waiting for an answer, or answered.
choice!(pub ProposalStatus {
    Open = "open" / "Waiting for an answer",
    Accepted = "accepted" / "Accepted",
    NeedsInformation = "needs_information" / "Needs information",
    Declined = "declined" / "Declined",
    Done = "done" / "Done",
});

// The answers a manager gives.
choice!(pub Answer {
    Accepted = "accepted" / "Accepted",
    NeedsInformation = "needs_information" / "Needs information",
    Declined = "declined" / "Declined",
    Done = "done" / "Done",
});

impl From<Answer> for ProposalStatus {
    fn from(answer: Answer) -> ProposalStatus {
        match answer {
            Answer::Accepted => ProposalStatus::Accepted,
            Answer::NeedsInformation => ProposalStatus::NeedsInformation,
            Answer::Declined => ProposalStatus::Declined,
            Answer::Done => ProposalStatus::Done,
        }
    }
}

/// A proposal as both sides read it (proposals have nothing internal).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ProposalRow {
    pub id: i64,
    pub kind: Kind,
    pub title: String,
    pub description: String,
    pub proposed_action: String,
    pub expected_impact: String,
    pub status: ProposalStatus,
    pub answer_note: String,
    pub answered_by: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub reply: String,
    pub replied_by: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    pub raised_by: String,
    pub raised_at: DateTime<Utc>,
}

impl ProposalRow {
    pub fn kind_label(&self) -> &'static str {
        self.kind.label()
    }

    pub fn status_label(&self) -> &'static str {
        self.status.label()
    }

    pub fn is_open(&self) -> bool {
        self.status == ProposalStatus::Open
    }

    pub fn needs_information(&self) -> bool {
        self.status == ProposalStatus::NeedsInformation
    }
}

/// An engagement's proposals, newest first.
pub async fn of_engagement(db: &mut PgConnection, engagement_id: i64) -> Result<Vec<ProposalRow>> {
    Ok(sqlx::query_as(
        "select p.id, p.kind, p.title, p.description, p.proposed_action, p.expected_impact, p.status,
                p.answer_note, a.name as answered_by, p.answered_at, p.reply, rep.name as replied_by, p.replied_at,
                r.name as raised_by, p.raised_at
         from proposals p
         join users r on r.id = p.raised_by
         left join users a on a.id = p.answered_by
         left join users rep on rep.id = p.replied_by
         where p.engagement_id = $1
         order by p.raised_at desc, p.id desc",
    )
    .bind(engagement_id)
    .fetch_all(db)
    .await?)
}

/// Proposals raised, and accepted (or done), over the last 90 days.
#[derive(Debug, Default, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct Proactivity {
    pub raised: i64,
    pub accepted: i64,
}

impl Proactivity {
    pub fn sentence(&self) -> String {
        match self.raised {
            0 => "No proposals from the vendor in the last 90 days.".into(),
            raised => format!(
                "Last 90 days: {raised} {} raised by the vendor, {} accepted.",
                if raised == 1 { "proposal" } else { "proposals" },
                self.accepted
            ),
        }
    }
}

/// How far back proactivity looks.
const PROACTIVITY_DAYS: i64 = 90;

/// Proactivity as the cache keeps it: good while the data version stands and until the
/// oldest proposal it counts leaves the window.
struct Counted {
    proactivity: Proactivity,
    until: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct CountedRow {
    raised: i64,
    accepted: i64,
    oldest: Option<DateTime<Utc>>,
}

/// Proposals the vendor raised in the engagement `access` opens over the 90 days before
/// `now`, and how many of them were accepted.
pub async fn proactivity(
    cache: &Cache,
    db: &PgPool,
    access: &Access,
    now: DateTime<Utc>,
) -> Result<Proactivity> {
    let key = Key {
        kind: "proactivity",
        engagement_id: access.id,
        version: access.data_version,
        period: None,
        today: now.date_naive(),
        detail: String::new(),
    };
    if let Some(counted) = cache.get::<Counted>(&key)
        && counted.until.is_none_or(|until| now < until)
    {
        return Ok(counted.proactivity.clone());
    }
    let window = chrono::Duration::days(PROACTIVITY_DAYS);
    let row: CountedRow = sqlx::query_as(
        "select count(*) as raised, count(*) filter (where status in ('accepted', 'done')) as accepted,
                min(raised_at) as oldest
         from proposals where engagement_id = $1 and raised_at >= $2",
    )
    .bind(access.id)
    .bind(now - window)
    .fetch_one(db)
    .await?;
    let proactivity = Proactivity {
        raised: row.raised,
        accepted: row.accepted,
    };
    let counted = Counted {
        proactivity: proactivity.clone(),
        until: row.oldest.map(|oldest| oldest + window),
    };
    cache.insert(key, Arc::new(counted), std::mem::size_of::<Counted>());
    Ok(proactivity)
}

#[derive(Template)]
#[template(path = "proposals/list.html")]
struct ListPage {
    layout: Layout,
    access: Access,
    rows: Vec<ProposalRow>,
    proactivity: Proactivity,
    zone: chrono_tz::Tz,
    /// The answer form that failed, with what was typed and why.
    failed: FailedRow,
}

impl ListPage {
    fn when(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.zone)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    fn answer_options(&self) -> Vec<(String, String)> {
        Answer::options_with_prompt()
    }

    /// What the answer form of proposal `id` shows: what was typed if it failed, else the
    /// current answer.
    fn typed(&self, row: &ProposalRow, field: &str) -> String {
        match (self.failed.typed(row.id, field), field) {
            (Some(typed), _) => typed.to_string(),
            (None, "answer") if !row.is_open() => row.status.as_str().to_string(),
            (None, "note") => row.answer_note.clone(),
            (None, _) => String::new(),
        }
    }

    fn error(&self, row: &ProposalRow, field: &str) -> Option<&str> {
        self.failed.error(row.id, field)
    }
}

async fn list_page(
    state: &AppState,
    current: &CurrentUser,
    db: &mut PgConnection,
    id: i64,
    failed: FailedRow,
) -> Result<ListPage> {
    let access = access(db, &current.user, id).await?;
    let rows = of_engagement(db, id).await?;
    let proactivity = proactivity(&state.cache, &state.pool, &access, state.clock.now()).await?;
    Ok(ListPage {
        layout: Layout::new(
            &current.session,
            format!("Proposals: {}", access.name),
            "/engagements",
        ),
        access,
        rows,
        proactivity,
        zone: current.zone(state.config.time_zone),
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
#[template(path = "proposals/new.html")]
struct NewPage {
    layout: Layout,
    access: Access,
    form: Pairs,
    errors: FieldErrors,
}

impl NewPage {
    fn kind_options(&self) -> Vec<(String, String)> {
        Kind::options_with_prompt()
    }
}

/// Proposals come from the vendor's side: the organisation's people answer them.
async fn for_raising(db: &mut PgConnection, current: &CurrentUser, id: i64) -> Result<Access> {
    let access = access(db, &current.user, id).await?;
    policy::may_raise_proposal(access.reader())?;
    Ok(access)
}

fn new_page(current: &CurrentUser, access: Access, form: Pairs, errors: FieldErrors) -> NewPage {
    NewPage {
        layout: Layout::new(
            &current.session,
            format!("Raise a proposal: {}", access.name),
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
    let access = for_raising(&mut conn, &current, id).await?;
    let form = Pairs(vec![("form_key".into(), uuid::Uuid::new_v4().to_string())]);
    let page = new_page(&current, access, form, FieldErrors::default());
    Ok(Html(page.render()?))
}

/// A proposal, as the vendor's form gives it.
pub struct NewProposal {
    pub kind: Kind,
    pub title: String,
    pub description: String,
    pub proposed_action: String,
    pub expected_impact: String,
}

impl NewProposal {
    pub fn parse(form: &Pairs) -> Result<NewProposal, FieldErrors> {
        let mut errors = FieldErrors::default();
        let kind = validate::choice(
            &mut errors,
            "kind",
            form.get("kind"),
            Kind::parse,
            "Choose improvement, risk or issue.",
        );
        let title = validate::required(
            &mut errors,
            "title",
            form.get("title"),
            200,
            "Give the proposal a short title.",
        );
        let description = validate::required(
            &mut errors,
            "description",
            form.get("description"),
            4000,
            "Describe what you noticed.",
        );
        let proposed_action = validate::required(
            &mut errors,
            "proposed_action",
            form.get("proposed_action"),
            4000,
            "Say what you propose to do.",
        );
        let expected_impact = validate::required(
            &mut errors,
            "expected_impact",
            form.get("expected_impact"),
            2000,
            "Say what it would change.",
        );
        match kind {
            Some(kind) if errors.is_empty() => Ok(NewProposal {
                kind,
                title,
                description,
                proposed_action,
                expected_impact,
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
    let access = for_raising(change.db(), &current, id).await?;
    let input = match NewProposal::parse(&form) {
        Ok(input) => input,
        Err(errors) => return refused(new_page(&current, access, form, errors)),
    };
    let back = format!("/engagements/{id}/proposals");
    let proposal: Option<i64> = sqlx::query_scalar(
        "insert into proposals (engagement_id, kind, title, description, proposed_action, expected_impact,
                                raised_by, raised_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (form_key) do nothing returning id",
    )
    .bind(id)
    .bind(input.kind)
    .bind(&input.title)
    .bind(&input.description)
    .bind(&input.proposed_action)
    .bind(&input.expected_impact)
    .bind(current.user.id)
    .bind(change.now)
    .bind(form_key(&form))
    .fetch_optional(change.db())
    .await?;
    let Some(proposal) = proposal else {
        return Ok(Redirect::to(&back).into_response());
    };
    change
        .audit(
            "proposal.create",
            format!("engagement:{id}"),
            serde_json::json!({ "proposal_id": proposal, "kind": input.kind, "title": input.title }),
        )
        .await?;
    change
        .flash(Flash::success(
            "Thank you: your proposal is with the engagement's managers.",
        ))
        .await?;
    change.commit().await?;
    Ok(Redirect::to(&back).into_response())
}

/// A manager's answer to a proposal.
pub struct ProposalAnswer {
    pub answer: Answer,
    pub note: String,
}

impl ProposalAnswer {
    /// Declining, or asking for information, says why: the vendor reads the note.
    pub fn parse(form: &Pairs) -> Result<ProposalAnswer, FieldErrors> {
        let mut errors = FieldErrors::default();
        let answer = validate::choice(
            &mut errors,
            "answer",
            form.get("answer"),
            Answer::parse,
            "Choose an answer.",
        );
        let note = validate::optional(&mut errors, "note", form.get("note"), 2000);
        if note.is_empty()
            && matches!(
                answer,
                Some(Answer::Declined) | Some(Answer::NeedsInformation)
            )
        {
            errors.add(
                "note",
                "Say why, or what you need to know: the vendor reads this.",
            );
        }
        match answer {
            Some(answer) if errors.is_empty() => Ok(ProposalAnswer { answer, note }),
            _ => Err(errors),
        }
    }
}

/// A proposal's engagement and status, locked for the change.
async fn proposal_state(db: &mut PgConnection, proposal: i64) -> Result<(i64, ProposalStatus)> {
    let row: Option<(i64, ProposalStatus)> =
        sqlx::query_as("select engagement_id, status from proposals where id = $1 for update")
            .bind(proposal)
            .fetch_optional(db)
            .await?;
    row.ok_or(AppError::NotFound)
}

pub async fn answer(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(proposal): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (id, before) = proposal_state(change.db(), proposal).await?;
    let access = access(change.db(), &current.user, id).await?;
    policy::may_answer_proposal(access.reader())?;
    let ProposalAnswer { answer, note } = match ProposalAnswer::parse(&form) {
        Ok(input) => input,
        Err(errors) => {
            let failed = FailedRow::new(proposal, form, errors);
            let page = list_page(&state, &current, change.db(), id, failed).await?;
            return refused(page);
        }
    };
    sqlx::query(
        "update proposals set status = $2, answer_note = $3, answered_by = $4, answered_at = $5 where id = $1",
    )
    .bind(proposal)
    .bind(ProposalStatus::from(answer))
    .bind(&note)
    .bind(current.user.id)
    .bind(change.now)
    .execute(change.db())
    .await?;
    change
        .audit(
            "proposal.answer",
            format!("engagement:{id}"),
            serde_json::json!({ "proposal_id": proposal, "before": before, "after": answer }),
        )
        .await?;
    change
        .flash(Flash::success(format!(
            "Answered: {}.",
            answer.label().to_lowercase()
        )))
        .await?;
    change.commit_and_refresh(id).await?;
    Ok(Redirect::to(&format!("/engagements/{id}/proposals#proposal-{proposal}")).into_response())
}

/// A vendor user's reply to a proposal that needs information.
pub struct Reply {
    pub text: String,
}

impl Reply {
    pub fn parse(form: &Pairs) -> Result<Reply, FieldErrors> {
        let mut errors = FieldErrors::default();
        let text = validate::required(
            &mut errors,
            "reply",
            form.get("reply"),
            4000,
            "Write the information the managers asked for.",
        );
        if errors.is_empty() {
            Ok(Reply { text })
        } else {
            Err(errors)
        }
    }
}

/// A vendor user answers "needs information": the reply is kept on the proposal, which is
/// open again for the managers.
pub async fn reply(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(proposal): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (id, status) = proposal_state(change.db(), proposal).await?;
    let access = access(change.db(), &current.user, id).await?;
    policy::may_reply_to_proposal(access.reader())?;
    let back = format!("/engagements/{id}/proposals#proposal-{proposal}");
    if status != ProposalStatus::NeedsInformation {
        // Answered meanwhile, or a double submit.
        return Ok(Redirect::to(&back).into_response());
    }
    let Reply { text } = match Reply::parse(&form) {
        Ok(input) => input,
        Err(errors) => {
            let failed = FailedRow::new(proposal, form, errors);
            let page = list_page(&state, &current, change.db(), id, failed).await?;
            return refused(page);
        }
    };
    sqlx::query(
        "update proposals set reply = $2, replied_by = $3, replied_at = $4, status = 'open' where id = $1",
    )
    .bind(proposal)
    .bind(&text)
    .bind(current.user.id)
    .bind(change.now)
    .execute(change.db())
    .await?;
    change
        .audit(
            "proposal.reply",
            format!("engagement:{id}"),
            serde_json::json!({ "proposal_id": proposal }),
        )
        .await?;
    change
        .flash(Flash::success(
            "Your reply is with the managers; the proposal is open again.",
        ))
        .await?;
    change.commit().await?;
    Ok(Redirect::to(&back).into_response())
}

/// The routes of proposals.
pub fn routes() -> Routes {
    Routes::new()
        .get("/engagements/{id}/proposals", list)
        .get("/engagements/{id}/proposals/new", new)
        .post("/engagements/{id}/proposals/new", create)
        .post("/proposals/{id}/answer", answer)
        .post("/proposals/{id}/reply", reply)
}
