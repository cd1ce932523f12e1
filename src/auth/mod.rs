//! Who is asking: passwords, sessions, the current-user extractors and the login pages.

pub mod frame;
pub mod login;
pub mod oidc;
pub mod password;
pub mod policy;
pub mod second_step;
pub mod session;
pub mod throttle;
pub mod totp;
pub mod user;

use crate::web::routes::Routes;

pub use session::{CurrentUser, Session};
pub use user::{Role, User};

/// The routes of auth.
pub fn routes() -> Routes {
    Routes::new()
        .get("/login", login::show)
        .post("/login", login::submit)
        .get("/login/code", second_step::code_show)
        .post("/login/code", second_step::code_submit)
        .get("/login/enrol", second_step::enrol_show)
        .post("/login/enrol", second_step::enrol_submit)
        .get("/login/sso", oidc::start)
        .get(oidc::CALLBACK_PATH, oidc::callback)
        .post("/logout", login::logout)
}
