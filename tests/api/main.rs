//! Black-box tests through real HTTP against a real PostgreSQL.

mod api_governance;
mod api_openapi;
mod api_resources;
mod api_tokens;
mod api_values;
mod audit;
mod audits;
mod auth;
mod browser;
mod cache;
mod checkins;
mod documents;
mod engagements;
mod files;
mod grants;
mod helpers;
mod hostile;
mod oidc;
mod platform;
mod proposals;
mod queries;
mod reviews;
mod routes;
mod scheduler;
mod scheduler_streaks;
mod scorecard;
mod service_tokens;
mod smtp;
#[path = "../common/template.rs"]
mod template;
mod totp;
mod twins;
mod users;
mod vendors;
mod visibility;
mod vocab;
