//! Computed values kept in memory between requests, bounded by weight (about their size in
//! bytes, `TRELLIS_CACHE_MB` in all).
//!
//! A value is kept under a key that names the data version it was computed at: PostgreSQL
//! keeps a version per engagement (migration 0017), bumped by statement triggers in the
//! transaction that writes, and the request reads it together with its access check. A
//! write, on this instance or another, therefore changes the key the next request asks for,
//! and the value computed before it is never served again; the old entry just ages out.
//! What the asker may see is decided by that access check, before the cache is consulted:
//! the cache never decides it.
//!
//! Entries hold their value as `Any`, so that this bottom floor needs to know no feature's
//! types; each kind of value has its own `kind` in the key.

use std::any::Any;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::period::Period;

/// What a cached value was computed from, as the rows of `data_versions` had it: the
/// engagement's own version and the one of the names every engagement shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DataVersion {
    pub engagement: i64,
    pub names: i64,
}

/// The key of a cached value: its kind, the engagement, the data version, and the days it
/// depends on: the period in view, if any, and "today" where the engagement lives (a value
/// turns into a breach, a period closes, a window moves as days pass); `detail` names what
/// else it was asked with (a list's filters and page), empty when nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub kind: &'static str,
    pub engagement_id: i64,
    pub version: DataVersion,
    pub period: Option<Period>,
    pub today: NaiveDate,
    pub detail: String,
}

#[derive(Clone)]
struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    weight: u32,
}

/// The cache of one instance.
#[derive(Clone)]
pub struct Cache {
    entries: moka::sync::Cache<Key, Entry>,
}

impl Cache {
    /// A cache holding at most about `max_bytes` of values (nothing when it is 0).
    pub fn new(max_bytes: u64) -> Cache {
        Cache {
            entries: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, entry: &Entry| entry.weight)
                .build(),
        }
    }

    /// The value kept under `key`, if there is one of type `T`.
    pub fn get<T: Any + Send + Sync>(&self, key: &Key) -> Option<Arc<T>> {
        self.entries
            .get(key)
            .and_then(|entry| entry.value.downcast::<T>().ok())
    }

    /// Keeps `value` under `key`; `bytes` is about the memory it holds.
    pub fn insert<T: Any + Send + Sync>(&self, key: Key, value: Arc<T>, bytes: usize) {
        let weight = u32::try_from(bytes).unwrap_or(u32::MAX).max(1);
        self.entries.insert(key, Entry { value, weight });
    }

    /// About how many bytes the cache holds now.
    pub fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }
}
