//! Trellis: a web portal for governing outsourced IT vendors without micromanaging them.

pub mod account;
pub mod audit;
pub mod audits;
pub mod auth;
pub mod calendar;
pub mod checkins;
pub mod choice;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod engagements;
pub mod feedback;
pub mod grants;
pub mod home;
pub mod inbox;
pub mod proposals;
pub mod reviews;
pub mod scheduler;
pub mod scorecard;
pub mod seed;
pub mod startup;
pub mod telemetry;
pub mod users;
pub mod vendors;
pub mod web;
