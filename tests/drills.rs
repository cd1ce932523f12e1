//! The reliability drills of the quality bar: PostgreSQL restarted under a write load, a
//! locked table, SIGTERM with requests in flight, a backup restored and served, a double
//! submit. They run on a cluster of their own, one at a time, so stopping PostgreSQL never
//! disturbs the other tests.

#[path = "drills/harness.rs"]
mod harness;
#[path = "drills/load.rs"]
mod load;
#[path = "common/template.rs"]
mod template;

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use trellis::auth::Role;
use trellis::db::embedded::StopMode;

use harness::{
    Client, Database, Server, create_user, engagement, pg_bin, socket_dir, spawn_app,
    start_database, stop_database, turn,
};
use load::{WriteLoad, stored, tally};

/// How long the database stays away in the restart drills.
const OUTAGE: Duration = Duration::from_secs(4);
/// The spec: the first write after PostgreSQL is back succeeds within this.
const RECOVERY: Duration = Duration::from_secs(5);
/// A refusal waits at most for the pool (3 s) or the statement timeout; past this it hangs.
const FAIL_FAST: Duration = Duration::from_secs(15);
/// `/healthz` involves no database; it must answer at once even when the database is gone.
const QUICK: Duration = Duration::from_secs(2);

async fn restart_under_load(mode: StopMode) {
    let _turn = turn().await;
    let database = Database::migrated().await;
    let app = spawn_app(&database).await;
    let (manager, email) = create_user(&app.pool, Role::Manager, None).await;
    let engagement = engagement(&app.pool, manager).await;
    let mut writers = Vec::new();
    for _ in 0..4 {
        let client = Client::new(&app.address);
        client.sign_in(&email).await;
        writers.push(client);
    }
    let probe = Client::new(&app.address);
    let load = WriteLoad::start(writers, engagement).await;
    load.wait_for_acknowledged(20).await;

    stop_database(mode).await;
    let down = Instant::now();
    let mut healthz = Vec::new();
    let mut readyz = Vec::new();
    while down.elapsed() < OUTAGE {
        let asked = Instant::now();
        let status = probe.get("/healthz").await.map(|r| r.status().as_u16());
        healthz.push((status, asked.elapsed()));
        let status = probe.get("/readyz").await.map(|r| r.status().as_u16());
        readyz.push(status);
    }
    start_database().await;
    let back = Instant::now();
    tokio::time::sleep(RECOVERY + Duration::from_secs(1)).await;
    let attempts = load.stop().await;
    let ready_again = probe.get("/readyz").await.map(|r| r.status().as_u16());
    let stored = stored(&app.pool).await;

    let tally = tally(&attempts, &stored, FAIL_FAST);
    let first_success = attempts
        .iter()
        .filter(|a| a.acknowledged() && a.ended > back)
        .map(|a| a.ended - back)
        .min();
    eprintln!(
        "{mode:?} restart: {} attempts, {} acknowledged, {} answered 503, slowest {:?}, \
         first success {first_success:?} after the database's return, {} lost, {} duplicated",
        tally.attempts,
        tally.acknowledged,
        tally.unavailable,
        tally.slowest,
        tally.lost.len(),
        tally.duplicated.len(),
    );
    assert!(
        tally.lost.is_empty(),
        "acknowledged, not stored once: {:?}",
        tally.lost
    );
    assert!(
        tally.duplicated.is_empty(),
        "stored twice: {:?}",
        tally.duplicated
    );
    assert!(
        tally.wrong.is_empty(),
        "besides 303 and 503: {:?}",
        tally.wrong
    );
    assert!(tally.unavailable > 0, "the load met the outage");
    let first_success = first_success.expect("a write succeeded after the database came back");
    assert!(
        first_success <= RECOVERY,
        "the first success came {first_success:?} after the database's return"
    );
    assert!(
        healthz
            .iter()
            .all(|(status, took)| matches!(status, Ok(200)) && *took < QUICK),
        "/healthz while the database was down: {healthz:?}"
    );
    assert!(
        !readyz.is_empty() && readyz.iter().all(|s| matches!(s, Ok(503))),
        "/readyz while the database was down: {readyz:?}"
    );
    assert!(matches!(ready_again, Ok(200)), "{ready_again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_restart_under_load_keeps_every_acknowledged_write_once_and_refuses_with_503() {
    restart_under_load(StopMode::Fast).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immediate_shutdown_under_load_keeps_every_acknowledged_write_once_and_refuses_with_503()
{
    restart_under_load(StopMode::Immediate).await;
}

/// A connection of the drill's own that holds an exclusive lock on `table` until dropped or
/// rolled back.
async fn lock(database: &Database, table: &str) -> PgConnection {
    let mut conn = PgConnection::connect_with(&database.options())
        .await
        .expect("connect");
    sqlx::query("begin").execute(&mut conn).await.unwrap();
    sqlx::query(&format!("lock table {table} in access exclusive mode"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_table_locked_fifty_page_requests_get_a_quick_503_with_retry_after_and_never_a_500()
{
    let _turn = turn().await;
    let database = Database::migrated().await;
    let app = spawn_app(&database).await;
    let (manager, email) = create_user(&app.pool, Role::Manager, None).await;
    engagement(&app.pool, manager).await;
    let client = Client::new(&app.address);
    client.sign_in(&email).await;
    assert_eq!(client.get("/engagements").await.unwrap().status(), 200);

    let mut locker = lock(&database, "engagements").await;
    let locked = Instant::now();
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                match client.get("/engagements").await {
                    Ok(response) => {
                        let retry_after = response.headers().contains_key("retry-after");
                        let status = response.status().as_u16();
                        let _ = response.bytes().await;
                        (Ok(status), retry_after, started.elapsed())
                    }
                    Err(e) => (Err(e.to_string()), false, started.elapsed()),
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = Instant::now();
    let healthz = client.get("/healthz").await.map(|r| r.status().as_u16());
    let healthz_took = asked.elapsed();
    let mut answers = Vec::new();
    for request in requests {
        answers.push(request.await.unwrap());
    }
    let held = locked.elapsed();
    sqlx::query("rollback").execute(&mut locker).await.unwrap();
    let after = client
        .get("/engagements")
        .await
        .map(|r| r.status().as_u16());

    let mut by_status = std::collections::BTreeMap::<String, usize>::new();
    for (status, _, _) in &answers {
        *by_status.entry(format!("{status:?}")).or_default() += 1;
    }
    let slowest = answers.iter().map(|(_, _, took)| *took).max();
    eprintln!(
        "table lock: answers {by_status:?}, slowest {slowest:?}, lock held {held:?}, \
         /healthz {healthz:?} in {healthz_took:?}"
    );
    for (status, retry_after, took) in &answers {
        assert!(
            matches!(status, Ok(503)) && *retry_after && *took < FAIL_FAST,
            "{status:?} (Retry-After: {retry_after}) after {took:?}; all: {by_status:?}"
        );
    }
    assert!(
        matches!(healthz, Ok(200)) && healthz_took < QUICK,
        "/healthz under the lock: {healthz:?} in {healthz_took:?}"
    );
    assert!(matches!(after, Ok(200)), "after the lock: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_requests_in_flight_finish_and_exits_zero() {
    let _turn = turn().await;
    let database = Database::migrated().await;
    let pool = database.pool().await;
    let (manager, email) = create_user(&pool, Role::Manager, None).await;
    let engagement = engagement(&pool, manager).await;
    let mut server = Server::start(&database);
    let client = Client::new(&server.address);
    client.sign_in(&email).await;
    // The scheduler's first pass runs at start-up; once it is done, the only backends waiting
    // on the lock below are the requests' own.
    let waited = Instant::now();
    while sqlx::query_scalar::<_, i64>(
        "select count(*) from scheduler_passes where finished_at is not null",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
        == 0
    {
        assert!(waited.elapsed() < Duration::from_secs(30), "no first pass");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut locker = lock(&database, "engagements").await;
    let in_flight: Vec<_> = (0..5)
        .map(|_| {
            let client = client.clone();
            let path = format!("/engagements/{engagement}");
            tokio::spawn(async move {
                match client.get(&path).await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.text().await.unwrap_or_default();
                        Ok((status, body.contains("Service desk")))
                    }
                    Err(e) => Err(e.to_string()),
                }
            })
        })
        .collect();
    let waited = Instant::now();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'",
        )
        .bind(&database.name)
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting >= 5 {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "{waiting} of 5 requests reached the database"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    server.sigterm();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let finishing = server.is_running();
    sqlx::query("rollback").execute(&mut locker).await.unwrap();
    let mut answers = Vec::new();
    for request in in_flight {
        answers.push(request.await.unwrap());
    }
    let code = server.exit_code(Duration::from_secs(20)).await;

    assert!(
        finishing,
        "the server waits for its requests instead of exiting"
    );
    for answer in &answers {
        assert_eq!(answer, &Ok((200, true)), "all: {answers:?}");
    }
    assert_eq!(code, Some(0), "the exit code after SIGTERM");
}

/// Runs one of PostgreSQL's client programs against the drill cluster; its stderr on failure.
async fn pg_tool(program: &'static str, args: Vec<String>) {
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(pg_bin().join(program))
            .arg("--host")
            .arg(socket_dir())
            .args(["--username", "trellis"])
            .args(&args)
            .output()
            .expect("run a PostgreSQL client program")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_dump_of_a_live_instance_restores_into_an_empty_database_that_a_fresh_server_serves() {
    let _turn = turn().await;
    let source = Database::migrated().await;
    let app = spawn_app(&source).await;
    let (manager, email) = create_user(&app.pool, Role::Manager, None).await;
    let engagement = engagement(&app.pool, manager).await;
    let reader = Client::new(&app.address);
    reader.sign_in(&email).await;
    let mut writers = Vec::new();
    for _ in 0..2 {
        let client = Client::new(&app.address);
        client.sign_in(&email).await;
        writers.push(client);
    }
    let load = WriteLoad::start(writers, engagement).await;
    load.wait_for_acknowledged(20).await;

    // The dump is taken while the writes go on: it must hold a consistent snapshot.
    let dump =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.dump", source.name));
    let dump_started = Instant::now();
    pg_tool(
        "pg_dump",
        vec![
            "--format=custom".into(),
            format!("--file={}", dump.display()),
            source.name.clone(),
        ],
    )
    .await;
    let attempts = load.stop().await;

    let target = Database::empty().await;
    pg_tool(
        "pg_restore",
        vec![
            "--exit-on-error".into(),
            format!("--dbname={}", target.name),
            dump.display().to_string(),
        ],
    )
    .await;
    let _ = std::fs::remove_file(&dump);
    let restored = target.pool().await;
    let stored = stored(&restored).await;
    let before_dump: Vec<&str> = attempts
        .iter()
        .filter(|a| a.acknowledged() && a.ended < dump_started)
        .map(|a| a.marker.as_str())
        .collect();
    assert!(before_dump.len() >= 20);
    for marker in &before_dump {
        assert_eq!(stored.get(*marker), Some(&1), "{marker} in the restore");
    }
    assert!(stored.values().all(|n| *n == 1), "a marker restored twice");
    let half_written: i64 = sqlx::query_scalar(
        "select count(*) from feedback f where not exists (
             select 1 from audit_log a
             where a.action = 'feedback.create' and (a.details->>'feedback_id')::bigint = f.id)",
    )
    .fetch_one(&restored)
    .await
    .unwrap();
    assert_eq!(
        half_written, 0,
        "feedback without its audit entry: a torn snapshot"
    );
    restored.close().await;

    let mut server = Server::start(&target);
    let returning = Client::new(&server.address);
    returning.set_session_cookie(&reader.session_cookie().expect("signed in"));
    let page = format!("/engagements/{engagement}/feedback");
    let html = returning.get_html(&page).await;
    for marker in stored.keys() {
        assert!(
            html.contains(marker.as_str()),
            "{marker} on the restored page"
        );
    }
    // New rows continue the restored sequences instead of colliding with restored ids.
    let token = returning.csrf_token(&format!("{page}/new")).await;
    let key = uuid::Uuid::new_v4().to_string();
    let response = returning
        .post(
            &format!("{page}/new"),
            &[
                ("csrf_token", token.as_str()),
                ("form_key", key.as_str()),
                ("kind", "praise"),
                ("situation", "After the restore"),
                ("observation", "drill-after-restore"),
                ("impact", "Business as usual"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "a write on the restored database");
    let fresh = Client::new(&server.address);
    fresh.sign_in(&email).await;
    assert!(fresh.get_html(&page).await.contains("drill-after-restore"));
    assert_eq!(
        fresh.get("/readyz").await.unwrap().status(),
        200,
        "the restore holds every migration"
    );
    server.sigterm();
    assert_eq!(server.exit_code(Duration::from_secs(20)).await, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_posted_ten_times_at_once_with_one_key_makes_one_record() {
    let _turn = turn().await;
    let database = Database::migrated().await;
    let app = spawn_app(&database).await;
    let (manager, email) = create_user(&app.pool, Role::Manager, None).await;
    let engagement = engagement(&app.pool, manager).await;
    let client = Client::new(&app.address);
    client.sign_in(&email).await;
    let path = format!("/engagements/{engagement}/feedback/new");
    let token = client.csrf_token(&path).await;
    let key = uuid::Uuid::new_v4().to_string();

    let posts: Vec<_> = (0..10)
        .map(|_| {
            let (client, path, token, key) =
                (client.clone(), path.clone(), token.clone(), key.clone());
            tokio::spawn(async move {
                client
                    .post(
                        &path,
                        &[
                            ("csrf_token", token.as_str()),
                            ("form_key", key.as_str()),
                            ("kind", "concern"),
                            ("situation", "A double click"),
                            ("observation", "drill-double-submit"),
                            ("impact", "One record"),
                        ],
                    )
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    for post in posts {
        let status = post.await.unwrap();
        assert!(matches!(status, Ok(303)), "{status:?}");
    }
    assert_eq!(stored(&app.pool).await.get("drill-double-submit"), Some(&1));
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'feedback.create'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1, "one record, audited once");
}
