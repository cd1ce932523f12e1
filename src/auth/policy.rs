//! Who may do what. Handlers name the kind of user they serve by extractor; an anonymous
//! visitor is sent to the login page and a signed-in user of the wrong role gets 403.
//! Vendor scoping happens in each query (`where vendor_id = $scope`), fed by
//! [`vendor_scope`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::session::CurrentUser;
use super::user::{Role, User};
use crate::web::error::AppError;

/// An administrator.
#[derive(Debug, Clone)]
pub struct Admin(pub CurrentUser);

/// One of the organisation's people: a manager or an administrator.
#[derive(Debug, Clone)]
pub struct Staff(pub CurrentUser);

async fn require<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    allowed: &[Role],
) -> Result<CurrentUser, AppError> {
    let current = CurrentUser::from_request_parts(parts, state).await?;
    if allowed.contains(&current.user.role) {
        return Ok(current);
    }
    // To a vendor user, every record page of the organisation's is simply missing: the
    // answer must not tell another vendor's ids from ids that do not exist.
    let names_a_record = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .is_some_and(|path| path.as_str().contains('{'));
    if current.user.role == Role::Vendor && names_a_record {
        Err(AppError::NotFound)
    } else {
        Err(AppError::Forbidden)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        require(parts, state, &[Role::Admin]).await.map(Admin)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        require(parts, state, &[Role::Admin, Role::Manager])
            .await
            .map(Staff)
    }
}

/// The vendor whose rows this user may see, or `None` for the organisation's people, who
/// may read every vendor's.
pub fn vendor_scope(user: &User) -> Option<i64> {
    match user.role {
        Role::Vendor => Some(user.vendor.as_ref().map_or(-1, |(id, _)| *id)),
        Role::Admin | Role::Manager => None,
    }
}
