//! A write load through the real feedback form: each write carries a unique marker and a form
//! key; a write answered 503 is sent again with the same key, as a person pressing "submit"
//! again would, so that a retry after a lost answer must not store the marker twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::task::JoinHandle;

use super::harness::Client;

/// One request of the load and what came back.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub marker: String,
    /// The status, or why no status came (a refused connection, a client timeout).
    pub answer: Result<u16, String>,
    pub retry_after: bool,
    pub started: Instant,
    pub ended: Instant,
}

impl Attempt {
    pub fn acknowledged(&self) -> bool {
        self.answer == Ok(303)
    }
}

pub struct WriteLoad {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<AtomicUsize>,
    writers: Vec<JoinHandle<Vec<Attempt>>>,
}

/// Each writer pauses this long between writes, so that the load is steady without taking
/// both CPU cores from the server.
const PAUSE: Duration = Duration::from_millis(25);

impl WriteLoad {
    /// Starts one writer per signed-in client, each posting feedback to `engagement`.
    pub async fn start(clients: Vec<Client>, engagement: i64) -> WriteLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let mut writers = Vec::new();
        for client in clients {
            let path = format!("/engagements/{engagement}/feedback/new");
            let token = client.csrf_token(&path).await;
            let stop = stop.clone();
            let acknowledged = acknowledged.clone();
            writers.push(tokio::spawn(async move {
                let mut attempts = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let marker = format!("drill-{}", uuid::Uuid::new_v4().simple());
                    // The form page renders a fresh v4 key into each form; the server keeps
                    // none of them, so making one here is the same as reading it.
                    let key = uuid::Uuid::new_v4().to_string();
                    loop {
                        let attempt = write(&client, &path, &token, &marker, &key).await;
                        let done = attempt.answer != Ok(503);
                        if attempt.acknowledged() {
                            acknowledged.fetch_add(1, Ordering::Relaxed);
                        }
                        attempts.push(attempt);
                        if done || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        tokio::time::sleep(PAUSE * 4).await;
                    }
                    tokio::time::sleep(PAUSE).await;
                }
                attempts
            }));
        }
        WriteLoad {
            stop,
            acknowledged,
            writers,
        }
    }

    /// Waits until `n` writes have been acknowledged since the start.
    pub async fn wait_for_acknowledged(&self, n: usize) {
        let started = Instant::now();
        while self.acknowledged.load(Ordering::Relaxed) < n {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the load got {} of {n} writes through",
                self.acknowledged.load(Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the writers once their current write is answered; every attempt, in no order.
    pub async fn stop(self) -> Vec<Attempt> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for writer in self.writers {
            all.extend(writer.await.expect("a writer did not panic"));
        }
        all
    }
}

async fn write(client: &Client, path: &str, token: &str, marker: &str, key: &str) -> Attempt {
    let started = Instant::now();
    let response = client
        .post(
            path,
            &[
                ("csrf_token", token),
                ("form_key", key),
                ("kind", "praise"),
                ("situation", "The reliability drill"),
                ("observation", marker),
                ("impact", "Nothing lost"),
                ("shared", "yes"),
            ],
        )
        .await;
    let (answer, retry_after) = match response {
        Ok(response) => {
            let retry_after = response.headers().contains_key("retry-after");
            let status = response.status().as_u16();
            // Read the body too: an answer is complete only once its body has arrived.
            let answer = match response.bytes().await {
                Ok(_) => Ok(status),
                Err(e) => Err(format!("{status} with a broken body: {e}")),
            };
            (answer, retry_after)
        }
        Err(e) => (Err(format!("no answer: {e}")), false),
    };
    Attempt {
        marker: marker.to_string(),
        answer,
        retry_after,
        started,
        ended: Instant::now(),
    }
}

/// How many feedback rows hold each marker.
pub async fn stored(pool: &PgPool) -> HashMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>(
        "select observation, count(*) from feedback where observation like 'drill-%' group by observation",
    )
    .fetch_all(pool)
    .await
    .expect("read the stored markers")
    .into_iter()
    .collect()
}

/// What a drill's load came to, for the assertions and the report.
#[derive(Debug, Default)]
pub struct Tally {
    pub attempts: usize,
    pub acknowledged: usize,
    pub unavailable: usize,
    /// Acknowledged markers stored other than exactly once, and any marker stored twice.
    pub lost: Vec<String>,
    pub duplicated: Vec<String>,
    /// Answers that were neither 303 nor 503 (with Retry-After), or no answer at all.
    pub wrong: Vec<String>,
    pub slowest: Duration,
}

/// Checks every attempt against what the database holds: an acknowledged marker is stored
/// exactly once, no marker twice, every refusal is a 503 with Retry-After, none took longer
/// than `limit`.
pub fn tally(attempts: &[Attempt], stored: &HashMap<String, i64>, limit: Duration) -> Tally {
    let mut tally = Tally {
        attempts: attempts.len(),
        ..Tally::default()
    };
    for attempt in attempts {
        let took = attempt.ended - attempt.started;
        tally.slowest = tally.slowest.max(took);
        match &attempt.answer {
            Ok(303) => {
                tally.acknowledged += 1;
                if stored.get(&attempt.marker).copied().unwrap_or(0) != 1 {
                    tally.lost.push(attempt.marker.clone());
                }
            }
            Ok(503) if attempt.retry_after => tally.unavailable += 1,
            Ok(503) => tally.wrong.push("503 without Retry-After".into()),
            Ok(status) => tally.wrong.push(format!("{status} after {took:?}")),
            Err(e) => tally.wrong.push(e.clone()),
        }
        if took > limit {
            tally.wrong.push(format!("an answer took {took:?}"));
        }
    }
    tally.duplicated = stored
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(marker, n)| format!("{marker} ×{n}"))
        .collect();
    tally
}
