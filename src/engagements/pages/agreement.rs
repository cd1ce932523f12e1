//! "Our agreement": what the vendor sees of an engagement; the organisation's people can
//! open it too.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use sqlx::PgConnection;

use crate::auth::CurrentUser;
use crate::engagements::Viewing;
use crate::engagements::agreement::{self, Agreement};
use crate::engagements::{Access, boundaries};
use crate::state::AppState;
use crate::web::error::Result;
use crate::web::layout::Layout;

#[derive(Template)]
#[template(path = "engagements/agreement.html")]
struct AgreementPage {
    layout: Layout,
    o: Agreement,
    sentences: Vec<String>,
}

pub async fn agreement(
    State(state): State<AppState>,
    Viewing { current, access }: Viewing,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    render_agreement(&state, &current, &mut conn, access).await
}

/// The agreement page of the engagement `access` opens.
pub async fn render_agreement(
    state: &AppState,
    current: &CurrentUser,
    conn: &mut PgConnection,
    access: Access,
) -> Result<Html<String>> {
    let today = state.clock.today(access.zone());
    let o = agreement::load(conn, access, today).await?;
    let sentences = boundaries::sentences(&o.boundaries, o.fields.time_zone.name());
    let page = AgreementPage {
        layout: Layout::new(
            &current.session,
            format!("Our agreement: {}", o.access.name),
            "/engagements",
        ),
        sentences,
        o,
    };
    Ok(Html(page.render()?))
}
