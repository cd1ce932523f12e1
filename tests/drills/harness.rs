//! The drills' own PostgreSQL cluster (never the one `tests/api` shares), taken in turn by one
//! drill at a time; a migrated template cloned per drill; the application in-process or as
//! the real `trellis` binary; a cookie-keeping HTTP client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection, PgPool};

use trellis::auth::{Role, password};
use trellis::clock::Clock;
use trellis::config::Config;
use trellis::db;
use trellis::db::embedded::{Cluster, StopMode, socket_dir_for};
use trellis::startup::Application;

/// The password every drill user has.
pub const PASSWORD: &str = "correct horse battery";

/// `fsync` off keeps the drills quick and loses nothing when only PostgreSQL's processes die
/// (the kernel still holds what they wrote); `synchronous_commit` stays on, because a commit
/// acknowledged before its WAL is written would be lost by an immediate shutdown, which is
/// exactly what the restart drills check.
const SETTINGS: &[(&str, &str)] = &[("fsync", "off"), ("max_connections", "200")];

static CLUSTER: Mutex<Option<Cluster>> = Mutex::new(None);
static SOCKET_DIR: OnceLock<PathBuf> = OnceLock::new();
static TEMPLATE: OnceLock<String> = OnceLock::new();
/// Drills stop the database everyone here uses, so they take turns (plain `cargo test` runs
/// tests in parallel threads).
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static PASSWORD_HASH: LazyLock<String> = LazyLock::new(|| password::hash_blocking(PASSWORD));

extern "C" fn leave_cluster() {
    if let Some(cluster) = CLUSTER.lock().ok().and_then(|mut c| c.take()) {
        let _ = cluster.leave();
    }
}

/// Waits for this drill's turn, and makes sure the cluster runs: a drill that failed while
/// the database was down must not fail the ones after it.
pub async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    let turn = TURN.lock().await;
    tokio::task::spawn_blocking(|| {
        let mut cluster = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
        match cluster.as_ref() {
            Some(running) => running
                .start_server(SETTINGS)
                .expect("the drill cluster starts again"),
            None => {
                if std::env::var_os("TEST_LOG").is_some() {
                    trellis::telemetry::init(trellis::config::LogFormat::Text);
                }
                let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("drills-pg");
                let started =
                    Cluster::start(&dir, None, SETTINGS).expect("the drill cluster starts");
                let _ = SOCKET_DIR.set(socket_dir_for(started.directory()));
                *cluster = Some(started);
                // SAFETY: registering a plain function to run at process exit.
                unsafe { libc::atexit(leave_cluster) };
            }
        }
    })
    .await
    .expect("starting the cluster did not panic");
    if TEMPLATE.get().is_none() {
        let name = build_template().await;
        let _ = TEMPLATE.set(name);
    }
    turn
}

/// Takes PostgreSQL away (`pg_ctl stop -m fast|immediate`).
pub async fn stop_database(mode: StopMode) {
    tokio::task::spawn_blocking(move || {
        let cluster = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
        cluster
            .as_ref()
            .expect("the cluster was started")
            .stop_server(mode)
            .expect("PostgreSQL stops");
    })
    .await
    .unwrap();
}

/// Brings PostgreSQL back; returns once it accepts connections.
pub async fn start_database() {
    tokio::task::spawn_blocking(|| {
        let cluster = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
        cluster
            .as_ref()
            .expect("the cluster was started")
            .start_server(SETTINGS)
            .expect("PostgreSQL starts again");
    })
    .await
    .unwrap();
}

fn server() -> PgConnectOptions {
    PgConnectOptions::new()
        .socket(SOCKET_DIR.get().expect("the cluster was started"))
        .username("trellis")
        .database("postgres")
}

async fn admin_connection() -> PgConnection {
    server()
        .connect()
        .await
        .expect("connect to the drill cluster")
}

/// A migrated template, kept across runs while the migrations stay the same; databases left
/// behind by an interrupted run are dropped.
async fn build_template() -> String {
    let mut conn = admin_connection().await;
    let leftovers: Vec<String> = sqlx::query_scalar(
        "select datname from pg_database where datname like 'drill\\_%' or datname like 'tpl\\_%\\_building'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for leftover in leftovers {
        sqlx::query(&format!("drop database if exists {leftover} with (force)"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    crate::template::migrated(&mut conn, &server(), &[]).await
}

/// One drill's database, dropped when the drill ends.
pub struct Database {
    pub name: String,
}

impl Database {
    /// A fresh clone of the migrated template.
    pub async fn migrated() -> Database {
        let template = TEMPLATE.get().expect("turn() built the template");
        Database::create(&format!("template {template}")).await
    }

    /// An empty database, as a restore needs.
    pub async fn empty() -> Database {
        Database::create("template template0").await
    }

    async fn create(template: &str) -> Database {
        let name = format!("drill_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin_connection().await;
        sqlx::query(&format!("create database {name} {template}"))
            .execute(&mut conn)
            .await
            .expect("create the drill database");
        Database { name }
    }

    pub fn options(&self) -> PgConnectOptions {
        server().database(&self.name)
    }

    /// The URL the `trellis` binary is given as `DATABASE_URL`.
    pub fn url(&self) -> String {
        format!(
            "postgres://trellis@localhost/{}?host={}",
            self.name,
            socket_dir().display()
        )
    }

    /// A pool as the application makes it (bounded waits, statement timeout).
    pub async fn pool(&self) -> PgPool {
        db::pool(self.options(), 10).await.expect("pool")
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // The drill's runtime may be the one dropping us, so this runs on a runtime of its own.
        let name = self.name.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                if let Ok(mut conn) = server().connect().await {
                    let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join()
        .ok();
    }
}

/// The cluster's socket directory, for `pg_dump` and friends.
pub fn socket_dir() -> &'static Path {
    SOCKET_DIR.get().expect("the cluster was started")
}

/// The folder holding PostgreSQL's client programs of the cluster's own version: beside the
/// real `postgres` the cluster runs (the folder on PATH may hold only links to the server's).
pub fn pg_bin() -> PathBuf {
    let found = trellis::db::embedded::find_binaries(
        None,
        std::env::var_os("PATH").as_deref(),
        Path::new("/usr/lib/postgresql"),
    )
    .expect("PostgreSQL's binaries");
    let server = found
        .join("postgres")
        .canonicalize()
        .expect("the postgres binary resolves");
    server
        .parent()
        .expect("a folder holds postgres")
        .to_path_buf()
}

/// The application served in-process on port 0, with the scheduler off.
pub struct App {
    pub address: String,
    /// The application's own pool; drills read the database through it.
    pub pool: PgPool,
}

pub async fn spawn_app(database: &Database) -> App {
    let mut config = Config::from_lookup(|_| None).unwrap();
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.scheduler_interval = None;
    let pool = database.pool().await;
    let app = Application::build(config, pool.clone(), Clock::system())
        .await
        .expect("bind");
    let address = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until(std::future::pending()));
    App { address, pool }
}

/// The `trellis` binary serving `database` through `DATABASE_URL`.
pub struct Server {
    pub child: Child,
    pub address: String,
}

impl Server {
    pub fn start(database: &Database) -> Server {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("drills-server");
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_trellis"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TRELLIS_DATA_DIR", &dir)
            .env("TRELLIS_BIND", "127.0.0.1:0")
            .env("DATABASE_URL", database.url())
            // The drills provoke slow statements and refused requests on purpose.
            .env(
                "RUST_LOG",
                if std::env::var_os("TEST_LOG").is_some() {
                    "info"
                } else {
                    "error"
                },
            )
            .current_dir(&dir)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("Trellis is listening on ") {
                    let _ = tx.send(address.to_string());
                }
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server starts");
        Server { child, address }
    }

    pub fn sigterm(&self) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the exit code, at most `limit`.
    pub async fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates an enabled user whose password is [`PASSWORD`]; returns their id and e-mail.
pub async fn create_user(pool: &PgPool, role: Role, vendor_id: Option<i64>) -> (i64, String) {
    let email = format!(
        "{}-{}@drill.example",
        role,
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let hash = tokio::task::spawn_blocking(|| PASSWORD_HASH.clone())
        .await
        .unwrap();
    let id = sqlx::query_scalar(
        "insert into users (email, name, role, vendor_id, password_hash) values ($1, $2, $3, $4, $5) returning id",
    )
    .bind(&email)
    .bind(format!("Drill {}", role.label()))
    .bind(role.as_str())
    .bind(vendor_id)
    .bind(hash)
    .fetch_one(pool)
    .await
    .unwrap();
    (id, email)
}

/// A vendor and an engagement of it owned by `owner`, with default boundaries.
pub async fn engagement(pool: &PgPool, owner: i64) -> i64 {
    let vendor: i64 = sqlx::query_scalar("insert into vendors (name) values ($1) returning id")
        .bind(format!("Drill Vendor {}", uuid::Uuid::new_v4().simple()))
        .fetch_one(pool)
        .await
        .unwrap();
    let id = sqlx::query_scalar(
        "insert into engagements (vendor_id, name, time_zone, start_date, owner_id)
         values ($1, 'Service desk', 'Europe/Berlin', $2, $3) returning id",
    )
    .bind(vendor)
    .bind(Utc::now().date_naive() - chrono::Days::new(60))
    .bind(owner)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into boundaries (engagement_id, urgent_definition) values ($1, 'an outage')",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    id
}

/// A browser: keeps cookies, never follows redirects, and gives up on an answer after
/// longer than the server's own request timeout, so that a hang shows as an error.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    jar: Arc<Jar>,
}

/// The server cuts requests off after 30 s; a client still waiting past this saw a hang.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(40);

impl Client {
    pub fn new(base: &str) -> Client {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .cookie_provider(jar.clone())
            .timeout(CLIENT_TIMEOUT)
            .build()
            .unwrap();
        Client {
            http,
            base: base.to_string(),
            jar,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.http.get(self.url(path)).send().await
    }

    pub async fn get_html(&self, path: &str) -> String {
        let response = self.get(path).await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    pub async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Result<reqwest::Response> {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
    }

    /// The session's CSRF token, read from the form on `page`.
    pub async fn csrf_token(&self, page: &str) -> String {
        let html = self.get_html(page).await;
        let document = scraper::Html::parse_document(&html);
        let selector = scraper::Selector::parse("input[name=csrf_token]").unwrap();
        document
            .select(&selector)
            .next()
            .and_then(|input| input.value().attr("value"))
            .expect("the page has a CSRF token")
            .to_string()
    }

    /// Signs in through the login form.
    pub async fn sign_in(&self, email: &str) {
        let token = self.csrf_token("/login").await;
        let response = self
            .post(
                "/login",
                &[
                    ("csrf_token", &token),
                    ("email", email),
                    ("password", PASSWORD),
                ],
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "sign in as {email}");
    }

    /// The session cookie's value, to replay it against another server.
    pub fn session_cookie(&self) -> Option<String> {
        let url = self.base.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == "trellis_session")
            .map(|(_, value)| value.to_string())
    }

    pub fn set_session_cookie(&self, value: &str) {
        let url = self.base.parse().unwrap();
        self.jar
            .add_cookie_str(&format!("trellis_session={value}; Path=/"), &url);
    }
}
