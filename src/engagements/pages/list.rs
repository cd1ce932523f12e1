//! The list of engagements, filtered by text, status and "mine".

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use chrono::NaiveDate;
use serde::Deserialize;
use sqlx::PgPool;

use crate::auth::policy::vendor_scope;
use crate::auth::{CurrentUser, Role, User};
use crate::engagements::Status;
use crate::state::AppState;
use crate::web::error::Result;
use crate::web::form::Query;
use crate::web::layout::Layout;
use crate::web::paging::{self, Pager};

const PER_PAGE: i64 = 25;

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    mine: Option<String>,
    page: Option<String>,
}

/// One engagement as the list shows it.
#[derive(sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct ListRow {
    pub id: i64,
    pub name: String,
    pub vendor_name: String,
    pub status: Status,
    pub owner: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    /// How many engagements match, on every row.
    #[serde(skip)]
    total: i64,
    /// The name as the list sorts it (`lower(name)` in the database's collation).
    #[serde(skip)]
    sort_name: String,
}

impl ListRow {
    /// Where the row stands in the list's order: closed last, then by name, then by id.
    pub fn sort_key(&self) -> ListKey {
        (
            self.status == Status::Closed,
            self.sort_name.clone(),
            self.id,
        )
    }
}

/// A row's place in the list's order, for a keyset page: (closed, lower(name), id).
pub type ListKey = (bool, String, i64);

/// Which engagements a reader asks for.
pub struct Filter {
    /// Part of the engagement's or the vendor's name.
    pub q: String,
    pub status: Option<Status>,
    /// Only those the reader manages (managers only).
    pub mine: bool,
    pub page: i64,
}

impl Filter {
    fn parse(query: ListQuery, user: &User) -> Filter {
        Filter {
            q: query.q.unwrap_or_default(),
            status: query.status.as_deref().and_then(Status::parse),
            mine: query.mine.as_deref() == Some("1") && user.role == Role::Manager,
            page: paging::page_number(query.page.as_deref()),
        }
    }
}

/// Which engagements `user` may see and `filter` asks for; binds $1 to $5.
const MATCHES: &str = "($1::bigint is null or e.vendor_id = $1)
           and ($2::text is null or e.name ilike $2 or v.name ilike $2)
           and ($3::text is null or e.status = $3)
           and (not $4 or e.owner_id = $5
                or exists (select 1 from engagement_managers m where m.engagement_id = e.id and m.user_id = $5))";

const COLUMNS: &str =
    "e.id, e.name, v.name as vendor_name, e.status, u.name as owner, e.start_date, e.end_date,
                lower(e.name) as sort_name";

const FROM: &str =
    "engagements e join vendors v on v.id = e.vendor_id join users u on u.id = e.owner_id";

/// One page of the engagements `user` may see that match `filter`, and how many match.
pub async fn search(db: &PgPool, user: &User, filter: &Filter) -> Result<(Vec<ListRow>, i64)> {
    let rows: Vec<ListRow> = sqlx::query_as(&format!(
        "select {COLUMNS}, count(*) over () as total
         from {FROM}
         where {MATCHES}
         order by e.status = 'closed', lower(e.name), e.id
         limit $6 offset $7"
    ))
    .bind(vendor_scope(user))
    .bind(paging::contains_pattern(&filter.q))
    .bind(filter.status)
    .bind(filter.mine)
    .bind(user.id)
    .bind(PER_PAGE)
    .bind(paging::offset(filter.page, PER_PAGE))
    .fetch_all(db)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    Ok((rows, total))
}

/// The engagements `user` may see that match `filter` (its page ignored), in the list's
/// order, after the row at `after`, at most `limit`: the keyset twin of [`search`].
pub async fn search_after(
    db: &PgPool,
    user: &User,
    filter: &Filter,
    after: Option<&ListKey>,
    limit: i64,
) -> Result<Vec<ListRow>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS}, 0::bigint as total
         from {FROM}
         where {MATCHES}
           and ($6::boolean is null or (e.status = 'closed', lower(e.name), e.id) > ($6, $7::text, $8::bigint))
         order by e.status = 'closed', lower(e.name), e.id
         limit $9"
    ))
    .bind(vendor_scope(user))
    .bind(paging::contains_pattern(&filter.q))
    .bind(filter.status)
    .bind(filter.mine)
    .bind(user.id)
    .bind(after.map(|k| k.0))
    .bind(after.map(|k| k.1.as_str()))
    .bind(after.map(|k| k.2))
    .bind(limit)
    .fetch_all(db)
    .await?)
}

#[derive(Template)]
#[template(path = "engagements/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<ListRow>,
    q: String,
    status: String,
    mine: bool,
    pager: Pager,
    is_admin: bool,
    is_vendor: bool,
}

pub async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>> {
    let user = &current.user;
    let filter = Filter::parse(query, user);
    let (rows, total) = search(&state.pool, user, &filter).await?;
    let Filter {
        q,
        status,
        mine,
        page,
    } = filter;
    let status = status.map(Status::as_str).unwrap_or_default().to_string();
    let pager = Pager::new(
        "/engagements",
        &[
            ("q", &q),
            ("status", &status),
            ("mine", if mine { "1" } else { "" }),
        ],
        page,
        PER_PAGE,
        total,
    );
    let page = ListPage {
        layout: Layout::new(&current.session, "Engagements", "/engagements"),
        rows,
        q,
        status,
        mine,
        pager,
        is_admin: user.role == Role::Admin,
        is_vendor: user.role == Role::Vendor,
    };
    Ok(Html(page.render()?))
}
