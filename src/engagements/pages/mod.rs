//! The engagement pages: the list, the create and edit forms, and "our agreement" for the
//! vendor's people. The hub page for the organisation's people is the composite
//! `crate::overview`.

mod agreement;
mod form;
mod input;
mod list;

pub use agreement::{agreement, render_agreement};
pub use form::{create, edit, new, update};
pub use list::{Filter, ListKey, ListRow, list, search, search_after};
