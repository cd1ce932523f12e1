//! What every page's frame needs: the title, who is signed in and their navigation, the
//! CSRF token for the sign-out button, and a flash message.

use crate::auth::{Role, Session};

use super::assets;

#[derive(Debug, Clone)]
pub struct Flash {
    pub kind: &'static str,
    pub message: String,
}

impl Flash {
    pub fn success(message: impl Into<String>) -> Flash {
        Flash {
            kind: "success",
            message: message.into(),
        }
    }

    /// Flashes are stored as `kind:message` in the session row.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.kind, self.message)
    }

    pub fn decode(stored: &str) -> Flash {
        let (kind, message) = stored.split_once(':').unwrap_or(("info", stored));
        let kind = match kind {
            "success" => "success",
            "warning" => "warning",
            "error" => "error",
            "link" => "link",
            _ => "info",
        };
        Flash {
            kind,
            message: message.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

#[derive(Debug, Clone)]
pub struct NavUser {
    pub name: String,
    pub role_label: &'static str,
    /// The vendor a vendor user works for.
    pub organisation: Option<String>,
    pub nav: Vec<NavItem>,
    /// Items waiting in the inbox.
    pub inbox: i64,
    pub inbox_current: bool,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub user: Option<NavUser>,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub css: &'static str,
    pub icon: &'static str,
}

/// The navigation each role gets; `current` marks the page shown.
fn navigation(role: Role, current: &str) -> Vec<NavItem> {
    let items: &[(&'static str, &'static str)] = match role {
        Role::Admin => &[
            ("/", "Home"),
            ("/vendors", "Vendors"),
            ("/engagements", "Engagements"),
            ("/portfolio", "Portfolio"),
            ("/admin/users", "Users"),
            ("/admin/audit", "Audit log"),
            ("/admin/scheduler", "Scheduler"),
        ],
        Role::Manager => &[
            ("/", "Home"),
            ("/engagements", "Engagements"),
            ("/portfolio", "Portfolio"),
            ("/vendors", "Vendors"),
        ],
        Role::Vendor => &[("/", "Home"), ("/engagements", "Our agreements")],
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

    /// A frame without a user, for error pages.
    pub fn bare(title: impl Into<String>) -> Layout {
        Layout::new(&Session::default(), title, "")
    }
}
