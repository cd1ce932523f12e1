//! The vendor scorecard: KPI values per closed period, their verification, and the scores
//! computed from them exactly as DESIGN.md's rules say.

pub mod csv;
pub mod portfolio;
pub mod scoring;
pub mod values;
