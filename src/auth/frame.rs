//! The frame of a page for whoever holds the session: their name, role and navigation, the
//! CSRF token of the sign-out button and the flash message.

use super::session::Session;
use super::user::Role;
use crate::web::assets;
use crate::web::layout::{Layout, NavItem, NavUser};

/// The navigation each role gets; `current` marks the page shown.
fn navigation(role: Role, current: &str) -> Vec<NavItem> {
    let items: &[(&'static str, &'static str)] = match role {
        Role::Admin => &[
            ("/", "Home"),
            ("/vendors", "Vendors"),
            ("/engagements", "Engagements"),
            ("/portfolio", "Portfolio"),
            ("/documents", "Documents"),
            ("/admin/users", "Users"),
            ("/admin/audit", "Audit log"),
            ("/admin/scheduler", "Scheduler"),
        ],
        Role::Manager => &[
            ("/", "Home"),
            ("/engagements", "Engagements"),
            ("/portfolio", "Portfolio"),
            ("/vendors", "Vendors"),
            ("/documents", "Documents"),
            ("/questionnaires", "Questionnaires"),
        ],
        Role::Vendor => &[
            ("/", "Home"),
            ("/engagements", "Our agreements"),
            ("/documents", "Documents"),
            ("/questionnaires", "Questionnaires"),
        ],
    };
    items
        .iter()
        .map(|&(href, label)| NavItem {
            href,
            label,
            current: href == current || (href != "/" && current.starts_with(href)),
        })
        .collect()
}

impl Layout {
    /// The frame of a page at `path` for whoever holds `session`.
    pub fn new(session: &Session, title: impl Into<String>, path: &str) -> Layout {
        Layout {
            title: title.into(),
            user: session.user.as_ref().map(|user| NavUser {
                name: user.name.clone(),
                role_label: user.role.label(),
                organisation: user.vendor.as_ref().map(|(_, name)| name.clone()),
                nav: navigation(user.role, path),
                inbox: user.inbox,
                inbox_current: path == "/inbox",
            }),
            csrf: session.csrf_token.clone().unwrap_or_default(),
            flash: session.flash.clone(),
            css: assets::url("app.css"),
            icon: assets::url("favicon.svg"),
        }
    }
}
