//! Closing an engagement: every active grant and every enabled vendor account gets an
//! answer first (revoke or disable it, or keep it with a reason), then the engagement is
//! closed.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use sqlx::PgConnection;

use super::{Decision, GrantRow, grants, record_review};
use crate::auth::CurrentUser;
use crate::engagements::{self, Access, access};
use crate::state::AppState;
use crate::users::{self, Disable};
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form, Id, Pairs};
use crate::web::layout::{Flash, Layout};

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

/// What closing an engagement asks about: an active grant, or an enabled vendor account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Grant { id: i64, review_interval_days: i32 },
    Account(i64),
}

impl Item {
    /// The form field that answers it (its note is `{key}_note`).
    fn key(self) -> String {
        match self {
            Item::Grant { id, .. } => format!("grant_{id}"),
            Item::Account(id) => format!("user_{id}"),
        }
    }
}

async fn close_page(
    current: &CurrentUser,
    db: &mut PgConnection,
    id: i64,
    form: Pairs,
    errors: FieldErrors,
) -> Result<(ClosePage, Vec<Item>)> {
    let access = access(db, &current.user, id).await?;
    access.require_manage()?;
    let grants: Vec<GrantRow> = grants(db, id)
        .await?
        .into_iter()
        .filter(GrantRow::is_active)
        .collect();
    let accounts: Vec<Account> = sqlx::query_as(
        "select u.id, case when u.service_account then u.name || ' (service account)' else u.name end as name, u.email,
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
    let items = grants
        .iter()
        .map(|g| Item::Grant {
            id: g.id,
            review_interval_days: g.review_interval_days,
        })
        .chain(accounts.iter().map(|a| Item::Account(a.id)))
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
    Ok((page, items))
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

/// The answer to one item of the close.
struct CloseAnswer {
    item: Item,
    decision: Decision,
    note: String,
}

impl CloseAnswer {
    /// Every item needs revoke, or keep with a reason.
    fn parse_all(form: &Pairs, items: &[Item]) -> Result<Vec<CloseAnswer>, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut answers = Vec::new();
        for item in items {
            let key = item.key();
            let note_key = format!("{key}_note");
            let note = form.get(&note_key).trim().to_string();
            if note.chars().count() > 1000 {
                errors.add(note_key.clone(), "Use at most 1000 characters.");
            }
            let decision = match form.get(&key) {
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
            if let Some(decision) = decision {
                answers.push(CloseAnswer {
                    item: *item,
                    decision,
                    note,
                });
            }
        }
        if errors.is_empty() {
            Ok(answers)
        } else {
            Err(errors)
        }
    }
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
    let mut change = Change::begin(&state, &current, addr).await?;
    sqlx::query("select 1 from engagements where id = $1 for update")
        .bind(id)
        .execute(change.db())
        .await?;
    let (page, items) = close_page(&current, change.db(), id, form, FieldErrors::default()).await?;
    if page.access.is_closed() {
        return Ok(Redirect::to(&format!("/engagements/{id}")).into_response());
    }
    let answers = match CloseAnswer::parse_all(&page.form, &items) {
        Ok(answers) => answers,
        Err(errors) => return refused(ClosePage { errors, ..page }),
    };
    let today = state.clock.today(page.access.zone());
    let now = change.now;
    let mut record = Vec::new();
    for answer in &answers {
        match answer.item {
            Item::Grant {
                id: grant,
                review_interval_days,
            } => {
                let next = (answer.decision == Decision::Keep)
                    .then(|| today + chrono::Duration::days(review_interval_days.into()));
                record_review(
                    change.db(),
                    grant,
                    answer.decision,
                    &answer.note,
                    next,
                    current.user.id,
                    now,
                    true,
                )
                .await?;
            }
            Item::Account(user) if answer.decision == Decision::Revoke => {
                users::disable(change.db(), Disable::User(user), now).await?;
            }
            Item::Account(_) => {}
        }
        record.push(serde_json::json!({
            "item": answer.item.key(), "decision": answer.decision, "note": answer.note,
        }));
    }
    engagements::close(change.db(), id, today).await?;
    change
        .audit(
            "engagement.close",
            format!("engagement:{id}"),
            serde_json::json!({ "answers": record }),
        )
        .await?;
    let revoked = answers
        .iter()
        .filter(|a| a.decision == Decision::Revoke)
        .count();
    change
        .flash(Flash::success(format!(
            "{} is closed; {revoked} revoked or disabled.",
            page.access.name
        )))
        .await?;
    change.commit_and_refresh(id).await?;
    Ok(Redirect::to(&format!("/engagements/{id}")).into_response())
}
