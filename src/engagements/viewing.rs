//! The signed-in person and the engagement their page names, learnt in one round trip: the
//! session's statement joined to the access check, for the pages read most (the scorecard).

use std::sync::LazyLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sqlx::FromRow;
use sqlx::postgres::PgRow;

use super::{Access, AccessRow, access, scoped_access_select};
use crate::auth::CurrentUser;
use crate::auth::session::{self, Lookup, VIEWER};
use crate::state::AppState;
use crate::web::error::AppError;
use crate::web::form::Id;

/// The viewer of `/engagements/{id}/…` and that engagement as they may see it: a vendor
/// user only their own vendor's, a missing and a foreign one the same 404. When the session
/// has not been looked up yet, one statement answers both; otherwise it is the access check
/// of [`access`].
#[derive(Debug, Clone)]
pub struct Viewing {
    pub current: CurrentUser,
    pub access: Access,
}

/// The session's row and, when the viewer may see the engagement, its access row, with the
/// vendor scope of [`crate::auth::policy::vendor_scope`] told in SQL by
/// [`scoped_access_select`].
static VIEWING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "with viewer as ({VIEWER})
         select viewer.*, a.* from viewer
         left join lateral ({access}) a on true",
        access = scoped_access_select(
            "viewer.viewer_id",
            "viewer.viewer_role",
            "viewer.viewer_vendor_id",
            "$5"
        )
    )
});

struct Both {
    viewer: session::Row,
    access: Option<AccessRow>,
}

impl<'r> FromRow<'r, PgRow> for Both {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Both {
            viewer: session::Row::from_row(row)?,
            access: crate::db::joined(row, "id")?,
        })
    }
}

impl FromRequestParts<AppState> for Viewing {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let id = Id::from_request_parts(parts, state).await;
        let (Ok(Id(id)), Some(lookup)) = (&id, Lookup::of(&parts.extensions, state)) else {
            let current = CurrentUser::from_request_parts(parts, state).await?;
            let Id(id) = id?;
            let mut conn = state.pool.acquire().await?;
            let access = access(&mut conn, &current.user, id).await?;
            return Ok(Viewing { current, access });
        };
        let both: Option<Both> = lookup
            .bind(sqlx::query_as(&VIEWING))
            .bind(*id)
            .fetch_optional(&state.pool)
            .await?;
        let (viewer, access) = both.map_or((None, None), |b| (Some(b.viewer), b.access));
        let session = lookup.settle(state, &mut parts.extensions, viewer).await?;
        let current = CurrentUser::of(parts, session)?;
        let access = access.ok_or(AppError::NotFound)?.into_access(&current.user);
        Ok(Viewing { current, access })
    }
}
