//! Black-box tests through real HTTP against a real PostgreSQL.

mod auth;
mod helpers;
mod platform;
