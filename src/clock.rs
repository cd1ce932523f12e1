//! The application's clock: real time in production, a settable instant in tests, so that
//! "today", due dates and session timeouts can be tested without waiting.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, Default)]
pub struct Clock {
    fixed: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { fixed: None }
    }

    /// A clock that stands still at `now` until it is [`set`](Clock::set) or advanced.
    pub fn fixed(now: DateTime<Utc>) -> Clock {
        Clock {
            fixed: Some(Arc::new(Mutex::new(now))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.fixed {
            Some(instant) => *instant
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            None => Utc::now(),
        }
    }

    /// Today's date in a time zone.
    pub fn today(&self, zone: Tz) -> NaiveDate {
        self.now().with_timezone(&zone).date_naive()
    }

    /// Moves a fixed clock; a system clock cannot be moved.
    pub fn set(&self, now: DateTime<Utc>) {
        let instant = self.fixed.as_ref().expect("only a fixed clock can be set");
        *instant
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.set(self.now() + by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn today_depends_on_the_time_zone() {
        let clock = Clock::fixed(Utc.with_ymd_and_hms(2026, 11, 29, 23, 30, 0).unwrap());
        assert_eq!(
            clock.today(chrono_tz::UTC),
            NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
        );
        assert_eq!(
            clock.today(chrono_tz::Asia::Tokyo),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        );
        assert_eq!(
            clock.today(chrono_tz::America::New_York),
            NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
        );
    }

    #[test]
    fn a_fixed_clock_moves_only_when_told() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let clock = Clock::fixed(start);
        let copy = clock.clone();
        copy.advance(chrono::Duration::hours(2));
        assert_eq!(clock.now(), start + chrono::Duration::hours(2));
    }
}
