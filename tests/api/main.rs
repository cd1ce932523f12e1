//! Black-box tests through real HTTP against a real PostgreSQL.

mod auth;
mod browser;
mod helpers;
mod platform;
