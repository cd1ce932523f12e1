//! Engagements: what the organisation agreed with a vendor (scope, objectives, dates,
//! cadences), who manages it, its KPIs and its boundaries.

pub mod cadence;
pub mod window;
