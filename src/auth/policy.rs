//! Who may do what. Handlers name the kind of user they serve by extractor; an anonymous
//! visitor is sent to the login page and a signed-in user of the wrong role gets 403.
//! Vendor scoping happens in each query (`where vendor_id = $scope`), fed by
//! [`vendor_scope`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::session::CurrentUser;
use super::user::{Role, User};
use crate::state::AppState;
use crate::web::error::AppError;

/// An administrator.
#[derive(Debug, Clone)]
pub struct Admin(pub CurrentUser);

/// One of the organisation's people: a manager or an administrator.
#[derive(Debug, Clone)]
pub struct Staff(pub CurrentUser);

async fn require(
    parts: &mut Parts,
    state: &AppState,
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

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        require(parts, state, &[Role::Admin]).await.map(Admin)
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
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

/// How a reader stands towards one engagement, as the rules for its child records (findings,
/// reviews, proposals, access grants) ask it: a vendor user of its vendor, and whether they
/// manage it (an admin, or its owner or a co-manager).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    pub is_vendor: bool,
    pub can_manage: bool,
}

/// Managing an engagement's records needs one of its managers; to a vendor user the record
/// does not exist, anyone else is refused.
fn manages(reader: Reader) -> Result<(), AppError> {
    match (reader.can_manage, reader.is_vendor) {
        (true, _) => Ok(()),
        (false, true) => Err(AppError::NotFound),
        (false, false) => Err(AppError::Forbidden),
    }
}

/// The side that remediates a finding answers it with a plan: the vendor's users the
/// vendor's findings, the engagement's managers ours. A vendor user never learns of ours.
pub fn may_answer_finding(reader: Reader, vendor_side: bool) -> Result<(), AppError> {
    match (reader.is_vendor, vendor_side) {
        (true, true) => Ok(()),
        (true, false) => Err(AppError::NotFound),
        (false, false) => manages(reader),
        (false, true) => Err(AppError::Forbidden),
    }
}

/// A finding's evidence files come from the side that remediates it, the vendor's users on
/// the vendor's findings, and from the engagement's managers on any (what the vendor sent
/// them, what they verified). A vendor user never learns of ours.
pub fn may_attach_evidence(reader: Reader, vendor_side: bool) -> Result<(), AppError> {
    match (reader.is_vendor, vendor_side) {
        (true, true) => Ok(()),
        (true, false) => Err(AppError::NotFound),
        (false, _) => manages(reader),
    }
}

/// An audit's working papers are the organisation's: its managers attach them, and to a
/// vendor user they do not exist.
pub fn may_attach_working_papers(reader: Reader) -> Result<(), AppError> {
    manages(reader)
}

/// A manager of the engagement verifies and closes a finding, or accepts its risk.
pub fn may_resolve_finding(reader: Reader) -> Result<(), AppError> {
    manages(reader)
}

/// The part of a review a reader sees: the vendor's part of its snapshot and none of its
/// internal notes for a vendor user (who sees completed reviews only, `visible_reviews`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewPart {
    Organisation,
    Vendor,
}

pub fn review_part(reader: Reader) -> ReviewPart {
    if reader.is_vendor {
        ReviewPart::Vendor
    } else {
        ReviewPart::Organisation
    }
}

/// A manager of the engagement writes, completes and adapts its reviews.
pub fn may_write_review(reader: Reader) -> Result<(), AppError> {
    manages(reader)
}

/// Proposals come from the vendor's side: its users raise them, and reply when asked for
/// more information.
pub fn may_raise_proposal(reader: Reader) -> Result<(), AppError> {
    if reader.is_vendor {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

/// A vendor user replies to a proposal of theirs that needs information.
pub fn may_reply_to_proposal(reader: Reader) -> Result<(), AppError> {
    may_raise_proposal(reader)
}

/// The engagement's managers answer proposals.
pub fn may_answer_proposal(reader: Reader) -> Result<(), AppError> {
    manages(reader)
}

/// The engagement's managers record access grants and review them (keep or revoke).
pub fn may_review_grant(reader: Reader) -> Result<(), AppError> {
    manages(reader)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VENDOR: Reader = Reader {
        is_vendor: true,
        can_manage: false,
    };
    const MANAGER: Reader = Reader {
        is_vendor: false,
        can_manage: true,
    };
    const OTHER_STAFF: Reader = Reader {
        is_vendor: false,
        can_manage: false,
    };

    #[test]
    fn the_side_that_remediates_a_finding_answers_it() {
        assert!(may_answer_finding(VENDOR, true).is_ok());
        assert!(matches!(
            may_answer_finding(VENDOR, false),
            Err(AppError::NotFound)
        ));
        assert!(may_answer_finding(MANAGER, false).is_ok());
        assert!(matches!(
            may_answer_finding(MANAGER, true),
            Err(AppError::Forbidden)
        ));
        assert!(matches!(
            may_answer_finding(OTHER_STAFF, false),
            Err(AppError::Forbidden)
        ));
    }

    #[test]
    fn only_managers_resolve_findings_answer_proposals_and_review_grants() {
        for rule in [may_resolve_finding, may_answer_proposal, may_review_grant] {
            assert!(rule(MANAGER).is_ok());
            assert!(matches!(rule(VENDOR), Err(AppError::NotFound)));
            assert!(matches!(rule(OTHER_STAFF), Err(AppError::Forbidden)));
        }
    }

    #[test]
    fn evidence_comes_from_the_remediating_side_or_the_engagement_s_managers() {
        assert!(may_attach_evidence(VENDOR, true).is_ok());
        assert!(matches!(
            may_attach_evidence(VENDOR, false),
            Err(AppError::NotFound)
        ));
        assert!(may_attach_evidence(MANAGER, true).is_ok());
        assert!(may_attach_evidence(MANAGER, false).is_ok());
        assert!(matches!(
            may_attach_evidence(OTHER_STAFF, false),
            Err(AppError::Forbidden)
        ));
        assert!(may_attach_working_papers(MANAGER).is_ok());
        assert!(matches!(
            may_attach_working_papers(VENDOR),
            Err(AppError::NotFound)
        ));
    }

    #[test]
    fn proposals_come_from_the_vendors_side_and_it_reads_its_part_of_a_review() {
        assert!(may_raise_proposal(VENDOR).is_ok());
        assert!(may_reply_to_proposal(VENDOR).is_ok());
        assert!(matches!(
            may_raise_proposal(MANAGER),
            Err(AppError::Forbidden)
        ));
        assert_eq!(review_part(VENDOR), ReviewPart::Vendor);
        assert_eq!(review_part(OTHER_STAFF), ReviewPart::Organisation);
    }
}
