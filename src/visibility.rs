//! What a vendor user may see of the organisation's records, decided in one place.
//!
//! The organisation writes things its vendor must never read: internal check-ins, internal
//! feedback, its own action items and findings, audits, review drafts and internal notes.
//! Migration `0009_vendor_visibility.sql` states, once per table, what of it a vendor user
//! may see, as SQL functions that take whether the reader is a vendor user and return the
//! rows (and columns) that reader may see:
//!
//! | function | a vendor user sees |
//! |---|---|
//! | `visible_checkins` | check-ins shared with the vendor |
//! | `visible_action_items` | the vendor's side's items of a check-in it sees (or of none) |
//! | `visible_feedback` | feedback shared with the vendor |
//! | `visible_findings` | findings the vendor's side remediates |
//! | `visible_audits` | none |
//! | `visible_reviews` | completed reviews: decision, summary, the snapshot's vendor part |
//!
//! Every query that can serve a vendor user reads these instead of the table: pages, counts
//! and balances, the scheduler's recipients (the inbox, its count and e-mail read the inbox
//! items the scheduler makes), the calendar feed, CSV, and review snapshots, whose vendor
//! part is computed from them when the review starts. Successes, contacts, boundaries, KPIs
//! and values, access grants and proposals have nothing internal: both sides see them.
//! Isolation between vendors is a separate rule, kept in each query's `vendor_id` scope.
//!
//! A new output for vendor users (the API, a report, a webhook) reads through the same
//! functions; `tests/api/visibility.rs` plants a marker in everything internal and looks for
//! it in everything a vendor user can reach.

use crate::auth::{Role, User};

/// Whether `user` reads through the vendor's view: the argument of the `visible_*`
/// functions.
pub fn for_vendor(user: &User) -> bool {
    user.role == Role::Vendor
}
