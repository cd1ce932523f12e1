//! The home page of each role; later features fill it.

use askama::Template;
use axum::response::Html;

use crate::auth::{CurrentUser, Role};
use crate::web::error::Result;
use crate::web::layout::Layout;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    first_name: String,
    role: Role,
    vendor_name: String,
}

pub async fn show(current: CurrentUser) -> Result<Html<String>> {
    let user = &current.user;
    let page = HomePage {
        layout: Layout::new(&current.session, "Home", "/"),
        first_name: user
            .name
            .split_whitespace()
            .next()
            .unwrap_or(&user.name)
            .to_string(),
        role: user.role,
        vendor_name: user
            .vendor
            .as_ref()
            .map(|(_, name)| name.clone())
            .unwrap_or_default(),
    };
    Ok(Html(page.render()?))
}
