//! Requests this instance may still serve for a key in a fixed window without asking the
//! shared count again: the API's rate limit is counted per token and minute in PostgreSQL
//! (so it holds across instances), and an instance takes a block of the minute's requests at
//! a time. Most requests then count themselves here, in memory, and only one in a block
//! writes.
//!
//! A block is never more than the shared count still allowed when it was taken, so the
//! instances together never serve more than the limit; what one instance took and did not
//! use is lost to the others for that window (at most one block each, and `block_of` keeps
//! a block at a sixtieth of the limit).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// The requests left per key, each for one window (the newest a key was granted).
#[derive(Clone, Default)]
pub struct Quota {
    left: Arc<Mutex<HashMap<Vec<u8>, Left>>>,
}

#[derive(Clone, Copy)]
struct Left {
    window: DateTime<Utc>,
    requests: u32,
}

/// How many requests an instance takes from the shared count at once, for `limit` a minute.
pub fn block_of(limit: u32) -> u32 {
    (limit / 60).max(1)
}

/// How many of the `asked` requests just added to a shared count that now stands at `total`
/// fit under `limit`.
pub fn granted(limit: u32, asked: u32, total: i64) -> u32 {
    let before = total - i64::from(asked);
    (i64::from(limit) - before).clamp(0, i64::from(asked)) as u32
}

impl Quota {
    /// Takes one request of what this instance holds for `key` in `window`; false when it
    /// holds none (then ask the shared count for a block).
    pub fn take(&self, key: &[u8], window: DateTime<Utc>) -> bool {
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        match left.get_mut(key) {
            Some(held) if held.window == window && held.requests > 0 => {
                held.requests -= 1;
                true
            }
            _ => false,
        }
    }

    /// Keeps `requests` more for `key` in `window`, and forgets what any key held for an
    /// earlier window.
    pub fn keep(&self, key: &[u8], window: DateTime<Utc>, requests: u32) {
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        left.retain(|_, held| held.window >= window);
        let held = left.entry(key.to_vec()).or_insert(Left {
            window,
            requests: 0,
        });
        if held.window != window {
            *held = Left {
                window,
                requests: 0,
            };
        }
        held.requests = held.requests.saturating_add(requests);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn what_is_kept_is_taken_once_each_and_only_in_its_window() {
        let quota = Quota::default();
        let minute = at("2026-03-01T10:15:00Z");
        assert!(!quota.take(b"a", minute), "nothing held yet");
        quota.keep(b"a", minute, 2);
        assert!(!quota.take(b"b", minute), "held per key");
        assert!(quota.take(b"a", minute));
        assert!(quota.take(b"a", minute));
        assert!(!quota.take(b"a", minute), "used up");
        quota.keep(b"a", minute, 1);
        let next = at("2026-03-01T10:16:00Z");
        assert!(!quota.take(b"a", next), "a new window starts with nothing");
        quota.keep(b"b", next, 1);
        assert!(
            !quota.take(b"a", minute),
            "earlier windows are forgotten once a later one is kept"
        );
    }

    #[test]
    fn a_block_never_passes_the_limit() {
        assert_eq!(block_of(600), 10);
        assert_eq!(block_of(3), 1);
        // Limit 5: a block of 1 taken at 3 fits, at 6 does not.
        assert_eq!(granted(5, 1, 3), 1);
        assert_eq!(granted(5, 1, 6), 0);
        // Limit 600, a block of 10 taken when 595 were counted: 5 of them fit.
        assert_eq!(granted(600, 10, 605), 5);
        assert_eq!(granted(600, 10, 10), 10);
        assert_eq!(granted(600, 10, i64::from(i32::MAX)), 0);
    }
}
