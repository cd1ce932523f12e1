//! What every page's frame needs: the title, who is signed in and their navigation, the
//! CSRF token for the sign-out button, and a flash message.

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

impl Layout {
    /// A frame without a user, for error pages. (`Layout::new`, the frame for whoever is
    /// signed in, lives with the identity in `auth::frame`.)
    pub fn bare(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            user: None,
            csrf: String::new(),
            flash: None,
            css: assets::url("app.css"),
            icon: assets::url("favicon.svg"),
        }
    }
}
