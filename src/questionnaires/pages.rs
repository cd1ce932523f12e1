//! The questionnaire pages: the list, sending one, answering it (the vendor) and reviewing
//! it (a manager).

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgConnection;

use super::{AnswerState, Question, QuestionKind, Status, questions, score, visible};
use crate::auth::policy::{self, Staff};
use crate::auth::{CurrentUser, Role};
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::{AppError, Result};
use crate::web::form::{FieldErrors, Form, Id, Pairs, Query, form_key};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

/// A questionnaire as the list shows it.
#[derive(sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub vendor_name: String,
    pub engagement_name: Option<String>,
    pub template_name: String,
    pub version: i32,
    pub due_on: NaiveDate,
    pub status: Status,
    pub score: Option<Decimal>,
}

#[derive(Template)]
#[template(path = "questionnaires/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    staff: bool,
    today: NaiveDate,
}

pub async fn list(State(state): State<AppState>, current: CurrentUser) -> Result<Html<String>> {
    let rows: Vec<Row> = sqlx::query_as(
        "select q.id, v.name as vendor_name, e.name as engagement_name, t.name as template_name, t.version,
                q.due_on, q.status, q.score
         from questionnaires q join vendors v on v.id = q.vendor_id
         join questionnaire_templates t on t.id = q.template_id
         left join engagements e on e.id = q.engagement_id
         where ($1::bigint is null or q.vendor_id = $1)
         order by q.status = 'completed', q.due_on, q.id
         limit 200",
    )
    .bind(policy::vendor_scope(&current.user))
    .fetch_all(&state.pool)
    .await?;
    let page = ListPage {
        layout: Layout::new(&current.session, "Questionnaires", "/questionnaires"),
        rows,
        staff: current.user.role != Role::Vendor,
        today: state.clock.today(current.zone(state.config.time_zone)),
    };
    Ok(Html(page.render()?))
}

#[derive(Template)]
#[template(path = "questionnaires/new.html")]
struct NewPage {
    layout: Layout,
    templates: Vec<(i64, String)>,
    vendors: Vec<(i64, String)>,
    /// Active engagements: id, "vendor — engagement".
    engagements: Vec<(i64, String)>,
    form: Pairs,
    errors: FieldErrors,
}

async fn new_page(
    db: &mut PgConnection,
    current: &CurrentUser,
    form: Pairs,
    errors: FieldErrors,
) -> Result<NewPage> {
    let templates = sqlx::query_as(
        "select id, name || ' (version ' || version || ')' from questionnaire_templates order by name, version desc",
    )
    .fetch_all(&mut *db)
    .await?;
    let vendors = sqlx::query_as("select id, name from vendors order by lower(name), id")
        .fetch_all(&mut *db)
        .await?;
    let engagements = sqlx::query_as(
        "select e.id, v.name || ' — ' || e.name from engagements e join vendors v on v.id = e.vendor_id
         where e.status = 'active' order by lower(v.name), lower(e.name)",
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(NewPage {
        layout: Layout::new(&current.session, "Send a questionnaire", "/questionnaires"),
        templates,
        vendors,
        engagements,
        form,
        errors,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    pub vendor: Option<String>,
}

pub async fn new(
    State(state): State<AppState>,
    Staff(current): Staff,
    Query(query): Query<NewQuery>,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let mut form = vec![("form_key".to_string(), uuid::Uuid::new_v4().to_string())];
    if let Some(vendor) = query.vendor {
        form.push(("vendor".into(), vendor));
    }
    let page = new_page(&mut conn, &current, Pairs(form), FieldErrors::default()).await?;
    Ok(Html(page.render()?))
}

/// Sends a questionnaire: template, vendor, the engagement it is for (none: due diligence)
/// and the due date.
pub async fn create(
    State(state): State<AppState>,
    Staff(current): Staff,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let mut errors = FieldErrors::default();
    let template = validate::existing(
        change.db(),
        &mut errors,
        "template",
        form.get("template"),
        "select id from questionnaire_templates where id = $1",
        "Choose the questionnaire to send.",
    )
    .await?;
    let vendor = validate::existing(
        change.db(),
        &mut errors,
        "vendor",
        form.get("vendor"),
        "select id from vendors where id = $1",
        "Choose the vendor who answers it.",
    )
    .await?;
    let engagement = match form.get("engagement").trim() {
        "" => None,
        raw => {
            let found: Option<i64> = match (raw.parse::<i64>(), vendor) {
                (Ok(id), Some(vendor)) => sqlx::query_scalar(
                    "select id from engagements where id = $1 and vendor_id = $2 and status = 'active'",
                )
                .bind(id)
                .bind(vendor)
                .fetch_optional(change.db())
                .await?,
                _ => None,
            };
            if found.is_none() {
                errors.add(
                    "engagement",
                    "Choose an active engagement of this vendor, or due diligence.",
                );
            }
            found
        }
    };
    let today = change.now.date_naive();
    let due = validate::date(&mut errors, "due_on", form.get("due_on"), true);
    if due.is_some_and(|d| d < today) {
        errors.add("due_on", "The due date cannot be in the past.");
    }
    let (Some(template), Some(vendor), Some(due), true) =
        (template, vendor, due, errors.is_empty())
    else {
        return refused(new_page(change.db(), &current, form, errors).await?);
    };
    let id: Option<i64> = sqlx::query_scalar(
        "insert into questionnaires (template_id, vendor_id, engagement_id, due_on, sent_by, sent_at, form_key)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (form_key) do nothing returning id",
    )
    .bind(template)
    .bind(vendor)
    .bind(engagement)
    .bind(due)
    .bind(current.user.id)
    .bind(change.now)
    .bind(form_key(&form))
    .fetch_optional(change.db())
    .await?;
    let Some(id) = id else {
        return Ok(Redirect::to("/questionnaires").into_response());
    };
    // The next cycle starts from the answers of the vendor's last completed questionnaire of
    // the same template, each to be confirmed.
    let carried = sqlx::query(
        "insert into questionnaire_answers (questionnaire_id, question_id, value, state, carried_over)
         select $1, a.question_id, a.value, 'draft', true
         from questionnaire_answers a
         where a.questionnaire_id = (select p.id from questionnaires p
                                     where p.vendor_id = $2 and p.template_id = $3 and p.status = 'completed'
                                     order by p.completed_at desc limit 1)
           and a.value <> ''",
    )
    .bind(id)
    .bind(vendor)
    .bind(template)
    .execute(change.db())
    .await?
    .rows_affected();
    change
        .audit(
            "questionnaire.send",
            format!("vendor:{vendor}"),
            serde_json::json!({ "questionnaire_id": id, "template_id": template, "engagement_id": engagement, "due_on": due, "carried_over": carried }),
        )
        .await?;
    change
        .flash(Flash::success(
            "Sent: the vendor's users can answer it now.",
        ))
        .await?;
    crate::documents::commit_refreshing(change, vendor, engagement).await?;
    Ok(Redirect::to(&format!("/questionnaires/{id}")).into_response())
}

/// One answer as the page shows it.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Answer {
    pub question_id: i64,
    pub value: String,
    pub state: Option<AnswerState>,
    pub comment: String,
    /// Carried over from the last cycle, not yet confirmed by the vendor.
    pub carried_over: bool,
}

#[derive(sqlx::FromRow)]
struct Header {
    id: i64,
    vendor_name: String,
    engagement_name: Option<String>,
    template_name: String,
    version: i32,
    due_on: NaiveDate,
    status: Status,
    score: Option<Decimal>,
    sent_at: DateTime<Utc>,
}

#[derive(Template)]
#[template(path = "questionnaires/show.html")]
struct ShowPage {
    layout: Layout,
    q: Header,
    questions: Vec<Question>,
    answers: HashMap<i64, Answer>,
    /// The vendor answers (the questionnaire is open).
    answering: bool,
    /// A manager reviews (it is submitted).
    reviewing: bool,
    form: Pairs,
    errors: FieldErrors,
}

impl ShowPage {
    fn answer(&self, q: &Question) -> Answer {
        self.answers.get(&q.id).cloned().unwrap_or_default()
    }

    /// The value the form shows: what was sent in a refused form, else the stored one.
    fn value(&self, q: &Question) -> String {
        if self.errors.is_empty() {
            self.answer(q).value
        } else {
            self.form.all(&q.field()).join(",")
        }
    }

    /// Whether the vendor may change this answer now.
    fn editable(&self, q: &Question) -> bool {
        self.answering && self.answer(q).state != Some(AnswerState::Accepted)
    }

    fn new_section(&self, i: &usize) -> bool {
        let i = *i;
        i == 0 || self.questions[i - 1].section != self.questions[i].section
    }

    fn decision(&self, q: &Question) -> String {
        self.form.get(&format!("decision{}", q.id)).to_string()
    }
}

async fn show_page(
    db: &mut PgConnection,
    current: &CurrentUser,
    id: i64,
    form: Pairs,
    errors: FieldErrors,
) -> Result<ShowPage> {
    let (_, _, status, template) = visible(db, &current.user, id, false).await?;
    let q: Header = sqlx::query_as(
        "select q.id, v.name as vendor_name, e.name as engagement_name, t.name as template_name,
                t.version, q.due_on, q.status, q.score, q.sent_at
         from questionnaires q join vendors v on v.id = q.vendor_id
         join questionnaire_templates t on t.id = q.template_id
         left join engagements e on e.id = q.engagement_id
         where q.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *db)
    .await?;
    let questions = questions(db, template).await?;
    let answers: Vec<Answer> = sqlx::query_as(
        "select question_id, value, state, comment, carried_over from questionnaire_answers where questionnaire_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *db)
    .await?;
    let vendor = current.user.role == Role::Vendor;
    Ok(ShowPage {
        layout: Layout::new(
            &current.session,
            format!("{}: {}", q.template_name, q.vendor_name),
            "/questionnaires",
        ),
        answering: vendor && status == Status::Open,
        reviewing: !vendor && status == Status::Submitted,
        q,
        questions,
        answers: answers.into_iter().map(|a| (a.question_id, a)).collect(),
        form,
        errors,
    })
}

pub async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let page = show_page(
        &mut conn,
        &current,
        id,
        Pairs::default(),
        FieldErrors::default(),
    )
    .await?;
    Ok(Html(page.render()?))
}

/// The vendor saves answers (`action=save`, a draft) or submits them (`action=submit`: every
/// mandatory question answered). Accepted answers stay as they are.
pub async fn answer(
    State(state): State<AppState>,
    current: CurrentUser,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (vendor, engagement, status, template) =
        visible(change.db(), &current.user, id, true).await?;
    if current.user.role != Role::Vendor {
        return Err(AppError::Forbidden);
    }
    let back = format!("/questionnaires/{id}");
    if status != Status::Open {
        return Ok(Redirect::to(&back).into_response());
    }
    let submit = form.get("action") == "submit";
    let questions = questions(change.db(), template).await?;
    let accepted: Vec<i64> = sqlx::query_scalar(
        "select question_id from questionnaire_answers where questionnaire_id = $1 and state = 'accepted'",
    )
    .bind(id)
    .fetch_all(change.db())
    .await?;
    let mut errors = FieldErrors::default();
    let mut values: Vec<(i64, String)> = Vec::new();
    for q in questions.iter().filter(|q| !accepted.contains(&q.id)) {
        match q.parse(&form.all(&q.field())) {
            Ok(value) => {
                if submit && q.mandatory && value.is_empty() {
                    errors.add(q.field(), "Answer this question before submitting.");
                }
                values.push((q.id, value));
            }
            Err(message) => errors.add(q.field(), message),
        }
    }
    if !errors.is_empty() {
        let page = show_page(change.db(), &current, id, form, errors).await?;
        return refused(page);
    }
    let state_now = if submit { "submitted" } else { "draft" };
    let (ids, texts): (Vec<i64>, Vec<String>) = values.into_iter().unzip();
    sqlx::query(
        "insert into questionnaire_answers (questionnaire_id, question_id, value, state, answered_by, answered_at)
         select $1, x.question_id, x.value, $4, $5, $6 from unnest($2::bigint[], $3::text[]) as x(question_id, value)
         on conflict (questionnaire_id, question_id) do update
         set value = excluded.value, answered_by = excluded.answered_by, answered_at = excluded.answered_at,
             carried_over = false,
             state = case when questionnaire_answers.state = 'clarify' and excluded.state = 'draft'
                          then 'clarify' else excluded.state end,
             comment = case when excluded.state = 'submitted' then '' else questionnaire_answers.comment end
         where questionnaire_answers.state <> 'accepted'",
    )
    .bind(id)
    .bind(&ids)
    .bind(&texts)
    .bind(state_now)
    .bind(current.user.id)
    .bind(change.now)
    .execute(change.db())
    .await?;
    if submit {
        sqlx::query(
            "update questionnaires set status = 'submitted', submitted_at = $2 where id = $1",
        )
        .bind(id)
        .bind(change.now)
        .execute(change.db())
        .await?;
    }
    change
        .audit(
            if submit {
                "questionnaire.submit"
            } else {
                "questionnaire.save"
            },
            format!("vendor:{vendor}"),
            serde_json::json!({ "questionnaire_id": id, "answers": ids.len() }),
        )
        .await?;
    change
        .flash(Flash::success(if submit {
            "Submitted: the organisation's managers review it now."
        } else {
            "Saved. Come back to it any time before you submit."
        }))
        .await?;
    crate::documents::commit_refreshing(change, vendor, engagement).await?;
    Ok(Redirect::to(&back).into_response())
}

/// A manager's review: each answer accepted or sent back with a comment. With every answer
/// accepted the questionnaire is complete: scored, and for an engagement each failing
/// answer becomes an audit finding for the vendor.
pub async fn review(
    State(state): State<AppState>,
    Staff(current): Staff,
    Id(id): Id,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let (vendor, engagement, status, template) =
        visible(change.db(), &current.user, id, true).await?;
    let back = format!("/questionnaires/{id}");
    if status != Status::Submitted {
        return Ok(Redirect::to(&back).into_response());
    }
    let questions = questions(change.db(), template).await?;
    let stored: HashMap<i64, (String, AnswerState)> = sqlx::query_as::<_, (i64, String, AnswerState)>(
        "select question_id, value, state from questionnaire_answers where questionnaire_id = $1",
    )
    .bind(id)
    .fetch_all(change.db())
    .await?
    .into_iter()
    .map(|(q, v, s)| (q, (v, s)))
    .collect();
    let mut errors = FieldErrors::default();
    let mut decided: Vec<(i64, &'static str, String)> = Vec::new();
    for q in &questions {
        if stored
            .get(&q.id)
            .is_some_and(|(_, s)| *s == AnswerState::Accepted)
        {
            continue;
        }
        let field = format!("decision{}", q.id);
        let comment_field = format!("comment{}", q.id);
        let comment = validate::optional(
            &mut errors,
            comment_field.clone(),
            form.get(&comment_field),
            2000,
        );
        match form.get(&field) {
            "accept" => decided.push((q.id, "accepted", comment)),
            "clarify" if comment.is_empty() => errors.add(
                comment_field,
                "Say what is missing or unclear: the vendor reads this.",
            ),
            "clarify" => decided.push((q.id, "clarify", comment)),
            _ => errors.add(field, "Accept the answer or ask for clarification."),
        }
    }
    if !errors.is_empty() {
        let page = show_page(change.db(), &current, id, form, errors).await?;
        return refused(page);
    }
    let (ids, rest): (Vec<i64>, Vec<(&str, String)>) = decided
        .iter()
        .map(|(q, s, c)| (*q, (*s, c.clone())))
        .unzip();
    let (states, comments): (Vec<&str>, Vec<String>) = rest.into_iter().unzip();
    sqlx::query(
        "insert into questionnaire_answers (questionnaire_id, question_id, state, comment)
         select $1, x.q, x.s, x.c from unnest($2::bigint[], $3::text[], $4::text[]) as x(q, s, c)
         on conflict (questionnaire_id, question_id) do update set state = excluded.state, comment = excluded.comment",
    )
    .bind(id)
    .bind(&ids)
    .bind(&states)
    .bind(&comments)
    .execute(change.db())
    .await?;
    let clarify = states.iter().filter(|s| **s == "clarify").count();
    if clarify > 0 {
        sqlx::query("update questionnaires set status = 'open' where id = $1")
            .bind(id)
            .execute(change.db())
            .await?;
        change
            .audit(
                "questionnaire.clarify",
                format!("vendor:{vendor}"),
                serde_json::json!({ "questionnaire_id": id, "questions": clarify }),
            )
            .await?;
        change
            .flash(Flash::success(format!(
                "Sent back to the vendor: {clarify} answer{} to clarify.",
                if clarify == 1 { "" } else { "s" }
            )))
            .await?;
        crate::documents::commit_refreshing(change, vendor, engagement).await?;
        return Ok(Redirect::to(&back).into_response());
    }
    let empty = String::new();
    let value_of = |q: &Question| stored.get(&q.id).map_or(&empty, |(v, _)| v);
    let total = score(questions.iter().map(|q| (q, value_of(q).as_str())));
    let failing: Vec<String> = questions
        .iter()
        .filter(|q| q.fails(value_of(q)))
        .map(|q| format!("{} Answered: {}.", q.text, q.shown(value_of(q))))
        .collect();
    sqlx::query(
        "update questionnaires set status = 'completed', score = $2, completed_by = $3, completed_at = $4 where id = $1",
    )
    .bind(id)
    .bind(total)
    .bind(current.user.id)
    .bind(change.now)
    .execute(change.db())
    .await?;
    let name: String = sqlx::query_scalar(
        "select name || ' (version ' || version || ')' from questionnaire_templates where id = $1",
    )
    .bind(template)
    .fetch_one(change.db())
    .await?;
    let raised = match engagement {
        Some(engagement) if !failing.is_empty() => {
            let now = change.now;
            crate::audits::record_assessment(
                change.db(),
                engagement,
                &format!("Questionnaire: {name}"),
                (current.user.id, &current.user.name),
                now,
                &failing,
            )
            .await?
        }
        _ => 0,
    };
    change
        .audit(
            "questionnaire.complete",
            format!("vendor:{vendor}"),
            serde_json::json!({ "questionnaire_id": id, "score": total, "findings": raised }),
        )
        .await?;
    change
        .flash(Flash::success(format!(
            "Completed with a score of {total}.{}",
            match raised {
                0 => String::new(),
                1 => " One failing answer is now an audit finding for the vendor.".into(),
                n => format!(" {n} failing answers are now audit findings for the vendor."),
            }
        )))
        .await?;
    crate::documents::commit_refreshing(change, vendor, engagement).await?;
    Ok(Redirect::to(&back).into_response())
}
