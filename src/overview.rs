//! The engagement overview: the hub page of one engagement for the organisation's people,
//! gathering its agreement, its boundaries now, the latest check-ins and the oversight
//! balance, the feedback balance and the latest wins, each through its feature's public
//! functions. A vendor user opening it sees "our agreement" instead.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::checkins::{self, Assessment, CheckinRow};
use crate::engagements::Viewing;
use crate::engagements::{self, Agreement, WindowNow};
use crate::feedback::{self, Balance, Win};
use crate::state::AppState;
use crate::web::error::Result;
use crate::web::layout::Layout;
use crate::web::routes::Routes;

/// How many of the latest check-ins and wins the hub shows.
const LATEST_CHECKINS: i64 = 12;
const LATEST_WINS: i64 = 3;
/// The feedback balance looks this far back.
const FEEDBACK_DAYS: i64 = 90;

/// Everything the hub shows of one engagement, as typed values.
pub struct Overview {
    pub agreement: Agreement,
    pub window: WindowNow,
    pub checkins: Vec<CheckinRow>,
    pub oversight: Option<Assessment>,
    pub feedback: Balance,
    pub wins: Vec<Win>,
}

/// Gathers the overview of the engagement `agreement` describes, as the organisation's
/// people see it.
pub async fn gather(
    db: &mut PgConnection,
    agreement: Agreement,
    now: DateTime<Utc>,
) -> Result<Overview> {
    let id = agreement.access.id;
    let window = engagements::window_now(&agreement.boundaries, agreement.access.zone(), now);
    let checkins = checkins::timeline(db, id, false, LATEST_CHECKINS).await?;
    let oversight = checkins::assess_many(db, &[id], now)
        .await?
        .into_iter()
        .next()
        .map(|(_, assessment)| assessment);
    let since = now - chrono::Duration::days(FEEDBACK_DAYS);
    let feedback = feedback::balance(db, id, since, false).await?;
    let wins = feedback::wins(db, id, LATEST_WINS).await?;
    Ok(Overview {
        agreement,
        window,
        checkins,
        oversight,
        feedback,
        wins,
    })
}

#[derive(Template)]
#[template(path = "engagements/show.html")]
struct ShowPage {
    layout: Layout,
    o: Agreement,
    window: WindowNow,
    checkins: Vec<CheckinRow>,
    oversight: Option<Assessment>,
    feedback: Balance,
    wins: Vec<Win>,
}

/// The hub for the organisation's people; a vendor user sees the agreement instead.
pub async fn show(
    State(state): State<AppState>,
    Viewing { current, access }: Viewing,
) -> Result<Html<String>> {
    let mut conn = state.pool.acquire().await?;
    if access.is_vendor {
        return engagements::render_agreement(&state, &current, &mut conn, access).await;
    }
    let today = state.clock.today(access.zone());
    let agreement = engagements::agreement_of(&mut conn, access, today).await?;
    let overview = gather(&mut conn, agreement, state.clock.now()).await?;
    let page = ShowPage {
        layout: Layout::new(
            &current.session,
            overview.agreement.access.name.clone(),
            "/engagements",
        ),
        o: overview.agreement,
        window: overview.window,
        checkins: overview.checkins,
        oversight: overview.oversight,
        feedback: overview.feedback,
        wins: overview.wins,
    };
    Ok(Html(page.render()?))
}

/// The routes of the engagement overview.
pub fn routes() -> Routes {
    Routes::new().get("/engagements/{id}", show)
}
