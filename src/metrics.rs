//! What `/metrics` tells a Prometheus server, in its text format: requests by route and
//! status with their latencies, scheduler passes, e-mail sends, sign-in failures and locks,
//! database errors by SQLSTATE class, and (read at each scrape by `web::health`) the pool,
//! the outbox and the build. Names follow Prometheus' conventions: `trellis_` first, base
//! units (seconds), `_total` on counters.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Upper bounds of the scheduler pass histogram, in seconds.
const PASS_BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The counters besides the requests': (name, its one label or "", help).
const COUNTERS: &[(&str, &str, &str)] = &[
    (
        "trellis_scheduler_passes_total",
        "outcome",
        "Scheduler passes, by outcome (ok or failed).",
    ),
    (
        "trellis_scheduler_reminders_raised_total",
        "",
        "Reminders and notices raised by scheduler passes.",
    ),
    (
        "trellis_scheduler_reminders_resolved_total",
        "",
        "Reminders and notices resolved by scheduler passes.",
    ),
    (
        "trellis_email_sends_total",
        "outcome",
        "E-mail delivery attempts, by outcome (sent, retry, failed).",
    ),
    (
        "trellis_webhook_sends_total",
        "outcome",
        "Webhook delivery attempts, by outcome (delivered, failed).",
    ),
    (
        "trellis_login_failures_total",
        "",
        "Password sign-ins refused for a wrong e-mail or password.",
    ),
    (
        "trellis_login_locks_total",
        "",
        "Sign-ins refused because too many failed for the account or address.",
    ),
    (
        "trellis_database_errors_total",
        "class",
        "Database errors met while answering requests, by SQLSTATE class (none: no SQLSTATE).",
    ),
];

/// Database errors by SQLSTATE class, counted where an error becomes a request's answer
/// (`web::error`), which knows no state: process-wide, like the process it describes.
static DATABASE_ERRORS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Counts a database error met while answering a request.
pub fn count_database_error(error: &sqlx::Error) {
    let class = match error {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.get(..2).map(str::to_string))
            .unwrap_or_else(|| "none".into()),
        _ => "none".into(),
    };
    *DATABASE_ERRORS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(class)
        .or_default() += 1;
}

#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
    /// (counter, label value or "") → count.
    counters: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    passes: Mutex<PassSeries>,
}

#[derive(Default)]
struct PassSeries {
    count: u64,
    sum: f64,
    buckets: [u64; PASS_BUCKETS.len()],
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, latency: Duration) {
        let seconds = latency.as_secs_f64();
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let entry = series
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        entry.count += 1;
        entry.sum += seconds;
        for (bucket, bound) in entry.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// Adds `by` to `counter` (one of [`COUNTERS`]) with its label's `value` ("" for none).
    pub fn add(&self, counter: &'static str, value: &'static str, by: u64) {
        debug_assert!(COUNTERS.iter().any(|(name, _, _)| *name == counter));
        *self
            .counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((counter, value))
            .or_default() += by;
    }

    /// A scheduler pass: its time and what it raised and resolved, or that it failed.
    pub fn observe_pass(&self, took: Duration, changed: Option<(i64, i64)>) {
        let Some((raised, resolved)) = changed else {
            self.add("trellis_scheduler_passes_total", "failed", 1);
            return;
        };
        self.add("trellis_scheduler_passes_total", "ok", 1);
        self.add(
            "trellis_scheduler_reminders_raised_total",
            "",
            raised.max(0) as u64,
        );
        self.add(
            "trellis_scheduler_reminders_resolved_total",
            "",
            resolved.max(0) as u64,
        );
        let seconds = took.as_secs_f64();
        let mut passes = self.passes.lock().unwrap_or_else(|p| p.into_inner());
        passes.count += 1;
        passes.sum += seconds;
        for (bucket, bound) in passes.buckets.iter_mut().zip(PASS_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = self.render_requests();
        self.render_counters(&mut out);
        let passes = self.passes.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP trellis_scheduler_pass_duration_seconds Time a scheduler pass took, its housekeeping included.\n");
        out.push_str("# TYPE trellis_scheduler_pass_duration_seconds histogram\n");
        for (bound, count) in PASS_BUCKETS.iter().zip(passes.buckets) {
            let _ = writeln!(
                out,
                "trellis_scheduler_pass_duration_seconds_bucket{{le=\"{bound}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "trellis_scheduler_pass_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            passes.count
        );
        let _ = writeln!(
            out,
            "trellis_scheduler_pass_duration_seconds_sum {}",
            passes.sum
        );
        let _ = writeln!(
            out,
            "trellis_scheduler_pass_duration_seconds_count {}",
            passes.count
        );
        out
    }

    fn render_counters(&self, out: &mut String) {
        let counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let errors = DATABASE_ERRORS.lock().unwrap_or_else(|p| p.into_inner());
        for (name, label, help) in COUNTERS {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let samples: Vec<(&str, u64)> = if *name == "trellis_database_errors_total" {
                errors
                    .iter()
                    .map(|(class, n)| (class.as_str(), *n))
                    .collect()
            } else {
                counters
                    .iter()
                    .filter(|((counter, _), _)| counter == name)
                    .map(|((_, value), n)| (*value, *n))
                    .collect()
            };
            if label.is_empty() {
                let n: u64 = samples.iter().map(|(_, n)| n).sum();
                let _ = writeln!(out, "{name} {n}");
            } else {
                for (value, n) in samples {
                    let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", escape(value));
                }
            }
        }
    }

    fn render_requests(&self) -> String {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP trellis_http_requests_total HTTP requests answered, by method, route and status.\n");
        out.push_str("# TYPE trellis_http_requests_total counter\n");
        for ((method, route, status), s) in series.iter() {
            let _ = writeln!(
                out,
                "trellis_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                s.count
            );
        }
        out.push_str("# HELP trellis_http_request_duration_seconds Time to answer HTTP requests, by method and route.\n");
        out.push_str("# TYPE trellis_http_request_duration_seconds histogram\n");
        let mut by_route: BTreeMap<(&str, &str), Series> = BTreeMap::new();
        for ((method, route, _), s) in series.iter() {
            let total = by_route.entry((method, route)).or_default();
            total.count += s.count;
            total.sum += s.sum;
            for (t, b) in total.buckets.iter_mut().zip(s.buckets) {
                *t += b;
            }
        }
        for ((method, route), s) in by_route {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            for (bound, count) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(
                    out,
                    "trellis_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "trellis_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "trellis_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "trellis_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_counts_and_buckets() {
        let metrics = Metrics::default();
        metrics.observe("GET", "/login", 200, Duration::from_millis(3));
        metrics.observe("GET", "/login", 200, Duration::from_millis(30));
        metrics.observe("GET", "/login", 303, Duration::from_millis(2));
        let text = metrics.render();
        assert!(
            text.contains(
                "trellis_http_requests_total{method=\"GET\",route=\"/login\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("trellis_http_request_duration_seconds_bucket{method=\"GET\",route=\"/login\",le=\"0.005\"} 2"), "{text}");
        assert!(
            text.contains(
                "trellis_http_request_duration_seconds_count{method=\"GET\",route=\"/login\"} 3"
            ),
            "{text}"
        );
    }
}
