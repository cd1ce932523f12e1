//! The kinds of document the register knows (admins only): which of them every vendor must
//! hold valid, and kinds of the organisation's own beside the five Trellis ships with.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use sqlx::PgConnection;

use super::pages::KindChoice;
use crate::auth::policy::Admin;
use crate::state::AppState;
use crate::web::ClientAddr;
use crate::web::change::{Change, refused};
use crate::web::error::Result;
use crate::web::form::{FieldErrors, Form, Pairs};
use crate::web::layout::{Flash, Layout};
use crate::web::validate;

#[derive(Template)]
#[template(path = "documents/kinds.html")]
struct KindsPage {
    layout: Layout,
    kinds: Vec<KindChoice>,
    form: Pairs,
    errors: FieldErrors,
}

impl KindsPage {
    /// Whether the kind's "required" box is ticked: as saved, or as sent in a refused form.
    fn ticked(&self, kind: &KindChoice) -> bool {
        if self.errors.is_empty() {
            kind.required
        } else {
            let id = kind.id.to_string();
            self.form.all("required").contains(&id.as_str())
        }
    }
}

async fn page(
    db: &mut PgConnection,
    current: &crate::auth::CurrentUser,
    form: Pairs,
    errors: FieldErrors,
) -> Result<KindsPage> {
    let kinds: Vec<KindChoice> =
        sqlx::query_as("select id, name, required from document_kinds order by lower(name)")
            .fetch_all(db)
            .await?;
    Ok(KindsPage {
        layout: Layout::new(&current.session, "Document kinds", "/documents"),
        kinds,
        form,
        errors,
    })
}

pub async fn list(State(state): State<AppState>, Admin(current): Admin) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    let page = page(
        &mut conn,
        &current,
        Pairs::default(),
        FieldErrors::default(),
    )
    .await?;
    Ok(Html(page.render()?))
}

/// Saves which kinds are required and adds the kind named in `new_name`, if any.
pub async fn save(
    State(state): State<AppState>,
    Admin(current): Admin,
    ClientAddr(addr): ClientAddr,
    Form(form): Form<Pairs>,
) -> Result<Response> {
    let mut change = Change::begin(&state, &current, addr).await?;
    let mut errors = FieldErrors::default();
    let name = validate::optional(&mut errors, "new_name", form.get("new_name"), 100);
    let required: Vec<i64> = form
        .all("required")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    if !name.is_empty() {
        let taken: bool = sqlx::query_scalar(
            "select exists (select 1 from document_kinds where lower(name) = lower($1))",
        )
        .bind(&name)
        .fetch_one(change.db())
        .await?;
        if taken {
            errors.add("new_name", "There is a kind of that name already.");
        }
    }
    if !errors.is_empty() {
        return refused(page(change.db(), &current, form, errors).await?);
    }
    let changed: Vec<(String, bool)> = sqlx::query_as(
        "update document_kinds set required = (id = any($1))
         where required <> (id = any($1)) returning name, required",
    )
    .bind(&required)
    .fetch_all(change.db())
    .await?;
    let added = !name.is_empty();
    if added {
        sqlx::query("insert into document_kinds (name, required) values ($1, $2)")
            .bind(&name)
            .bind(!form.get("new_required").is_empty())
            .execute(change.db())
            .await?;
    }
    if changed.is_empty() && !added {
        return Ok(Redirect::to("/admin/document-kinds").into_response());
    }
    change
        .audit(
            "settings.document_kinds",
            "settings",
            serde_json::json!({
                "required_changed": changed.iter().map(|(n, r)| serde_json::json!({ "kind": n, "required": r })).collect::<Vec<_>>(),
                "added": if added { Some(&name) } else { None },
            }),
        )
        .await?;
    change
        .flash(Flash::success("The document kinds are saved."))
        .await?;
    change.commit().await?;
    Ok(Redirect::to("/admin/document-kinds").into_response())
}
