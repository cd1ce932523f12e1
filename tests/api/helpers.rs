//! The black-box harness: one private PostgreSQL cluster per test run, a template database
//! migrated once (named by a hash of the migrations), and per test a fresh clone of it, an
//! application on port 0, and a cookie-keeping HTTP client that never follows redirects.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use chrono::Utc;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

use trellis::auth::{Role, password};
use trellis::clock::Clock;
use trellis::config::Config;
use trellis::db;
use trellis::db::embedded::Cluster;
use trellis::startup::Application;
use trellis::state::AppState;

/// The password every test user has.
pub const PASSWORD: &str = "correct horse battery";

static CLUSTER: Mutex<Option<Cluster>> = Mutex::new(None);
static SERVER: OnceLock<PgConnectOptions> = OnceLock::new();
static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static PASSWORD_HASH: LazyLock<String> = LazyLock::new(|| password::hash_blocking(PASSWORD));

extern "C" fn leave_cluster() {
    if let Some(cluster) = CLUSTER.lock().ok().and_then(|mut c| c.take()) {
        let _ = cluster.leave();
    }
}

/// Options to reach the test cluster's server, starting it on first use.
fn server() -> PgConnectOptions {
    SERVER
        .get_or_init(|| {
            if std::env::var_os("TEST_LOG").is_some() {
                trellis::telemetry::init(trellis::config::LogFormat::Text);
            }
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("test-pg");
            let cluster = Cluster::start(
                &dir,
                None,
                &[
                    ("fsync", "off"),
                    ("synchronous_commit", "off"),
                    ("full_page_writes", "off"),
                    ("max_connections", "300"),
                    // Counts the statements each test's database runs (see `statements`).
                    ("shared_preload_libraries", "pg_stat_statements"),
                    // Dropped test databases keep their entries; room enough that none of a
                    // running test's entries is evicted mid-measurement.
                    ("pg_stat_statements.max", "50000"),
                ],
            )
            .expect("the test cluster starts");
            let options = cluster.connect_options("postgres");
            *CLUSTER.lock().unwrap() = Some(cluster);
            // SAFETY: registering a plain function to run at process exit.
            unsafe { libc::atexit(leave_cluster) };
            options
        })
        .clone()
}

async fn admin_connection() -> PgConnection {
    server()
        .connect()
        .await
        .expect("connect to the test cluster")
}

/// The migrated template database, with statement statistics on (see `statements`).
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let mut conn = admin_connection().await;
            sqlx::query("create extension if not exists pg_stat_statements")
                .execute(&mut conn)
                .await
                .unwrap();
            crate::template::migrated(
                &mut conn,
                &server(),
                &["create extension if not exists pg_stat_statements"],
            )
            .await
        })
        .await
}

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    pub clock: Clock,
    /// Every (method, path) the router serves.
    pub routes: Vec<(reqwest::Method, &'static str)>,
    /// The application's state, for running the scheduler's steps by hand.
    pub state: AppState,
    database: String,
}

/// Starts the application on a fresh database with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application after `configure` has adjusted the settings.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let template = template().await;
    let database = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin_connection().await;
    sqlx::query(&format!("create database {database} template {template}"))
        .execute(&mut conn)
        .await
        .expect("clone the template");
    conn.close().await.ok();

    let mut config = Config::from_lookup(|_| None).unwrap();
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.test_routes = true;
    // Tests run the scheduler's passes themselves, at the moments they choose.
    config.scheduler_interval = None;
    // No Chromium prints PDFs unless a test asks for it (tests/api/reports.rs).
    config.chromium = None;
    configure(&mut config);
    let pool = db::pool(server().database(&database), 5)
        .await
        .expect("pool");
    let clock = Clock::fixed(Utc::now());
    let app = Application::build(config, pool.clone(), clock.clone())
        .await
        .expect("bind");
    let address = format!("http://{}", app.local_addr());
    let routes = app.routes().to_vec();
    let state = app.state().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        address,
        pool,
        clock,
        routes,
        state,
        database,
    }
}

impl TestApp {
    /// Another instance serving the same database, as a second server behind a proxy would:
    /// its own pool, cache and address, the same clock. Gives its address.
    pub async fn another_instance(&self) -> String {
        let pool = db::pool(server().database(&self.database), 5)
            .await
            .expect("pool");
        let mut config = (*self.state.config).clone();
        config.bind = "127.0.0.1:0".parse().unwrap();
        config.instance = "another".into();
        let app = Application::build(config, pool, self.clock.clone())
            .await
            .expect("bind");
        let address = format!("http://{}", app.local_addr());
        tokio::spawn(app.run_until(std::future::pending()));
        address
    }

    /// A client of the instance at `address`, signed in as `client` is (sessions live in
    /// the database, so any instance serves them).
    pub fn same_session_on(&self, client: &TestClient, address: &str) -> TestClient {
        let other = TestClient::new(address);
        other.set_session_cookie(&client.session_cookie().expect("a session"));
        other
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The test's runtime is busy dropping us, so the clean-up runs on a runtime of its own;
        // `with (force)` ends the connections the pool still holds.
        let database = self.database.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut conn = admin_connection().await;
                let _ = sqlx::query(&format!("drop database if exists {database} with (force)"))
                    .execute(&mut conn)
                    .await;
            });
        })
        .join()
        .ok();
    }
}

pub struct TestUser {
    pub id: i64,
    pub email: String,
    #[allow(dead_code)] // read by the vendor-isolation tests
    pub vendor_id: Option<i64>,
}

impl TestApp {
    pub fn client(&self) -> TestClient {
        TestClient::new(&self.address)
    }

    /// Creates an enabled user whose password is [`PASSWORD`]; a vendor user gets `vendor`.
    pub async fn create_user(&self, role: Role, vendor: Option<&str>) -> TestUser {
        let vendor_id = match vendor {
            Some(name) => {
                let mut conn = self.pool.acquire().await.unwrap();
                Some(
                    trellis::users::vendor_id_by_name(&mut conn, name)
                        .await
                        .unwrap(),
                )
            }
            None => None,
        };
        let email = format!(
            "{}-{}@test.example",
            role,
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        let id = sqlx::query_scalar(
            "insert into users (email, name, role, vendor_id, password_hash) values ($1, $2, $3, $4, $5) returning id",
        )
        .bind(&email)
        .bind(format!("Test {}", role.label()))
        .bind(role.as_str())
        .bind(vendor_id)
        .bind(&*PASSWORD_HASH)
        .fetch_one(&self.pool)
        .await
        .unwrap();
        TestUser {
            id,
            email,
            vendor_id,
        }
    }

    /// A client signed in as a new user of `role`.
    pub async fn signed_in(&self, role: Role) -> (TestClient, TestUser) {
        let vendor = (role == Role::Vendor).then_some("Acme Outsourcing");
        let user = self.create_user(role, vendor).await;
        let client = self.client();
        let response = client.login(&user.email, PASSWORD).await;
        assert_eq!(response.status(), 303, "login as {role}");
        (client, user)
    }

    /// Signs in as an existing user with [`PASSWORD`].
    pub async fn client_for(&self, user: &TestUser) -> TestClient {
        let client = self.client();
        assert_eq!(
            client.login(&user.email, PASSWORD).await.status(),
            303,
            "login as {}",
            user.email
        );
        client
    }

    /// How many statements this test's database has run so far (read from another
    /// database, so that asking does not count).
    pub async fn statements(&self) -> i64 {
        let mut conn = admin_connection().await;
        sqlx::query_scalar(
            "select coalesce(sum(calls), 0)::bigint from pg_stat_statements
             where dbid = (select oid from pg_database where datname = $1)",
        )
        .bind(&self.database)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    }

    /// The statements one GET costs.
    pub async fn statements_for(&self, client: &TestClient, path: &str) -> i64 {
        let before = self.statements().await;
        let response = client.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap();
        self.statements().await - before
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    pub async fn audit_actions(&self) -> Vec<(String, String)> {
        sqlx::query_as("select action, outcome from audit_log order by id")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}

pub struct TestClient {
    pub http: reqwest::Client,
    pub base: String,
    pub jar: Arc<Jar>,
}

impl TestClient {
    pub fn new(base: &str) -> TestClient {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        TestClient {
            http,
            base: base.to_string(),
            jar,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_html(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    /// Posts a form as it is, without adding a CSRF token.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Reads the CSRF token from the form on `page`, then posts `fields` with it to `path`.
    pub async fn post_form(
        &self,
        page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = self.csrf_token(page).await;
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts `multipart/form-data` as a browser does for a form with a file: text fields,
    /// then one file field (name, file name, content), built byte for byte.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &[u8]),
    ) -> reqwest::Response {
        let (name, filename, content) = file;
        self.send_multipart(path, fields, name, filename.as_bytes(), "text/csv", content)
            .await
    }

    /// Posts `multipart/form-data` with text fields, then one file field whose name (any
    /// bytes, as a client may send them) and content are given: the body a browser sends
    /// for a form with a file input, built byte for byte.
    pub async fn post_file(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        field: &str,
        file_name: &[u8],
        content: &[u8],
    ) -> reqwest::Response {
        let octets = "application/octet-stream";
        self.send_multipart(path, fields, field, file_name, octets, content)
            .await
    }

    async fn send_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        field: &str,
        file_name: &[u8],
        content_type: &str,
        content: &[u8],
    ) -> reqwest::Response {
        let boundary = "----trellis-test-boundary-Zp4Qe2Kx";
        let mut body = Vec::with_capacity(content.len() + 1024);
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\""
            )
            .as_bytes(),
        );
        body.extend_from_slice(file_name);
        body.extend_from_slice(format!("\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.http
            .post(self.url(path))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn csrf_token(&self, page: &str) -> String {
        let html = self.get_html(page).await;
        csrf_in(&html)
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_form(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    pub async fn logout(&self) -> reqwest::Response {
        self.post_form("/", "/logout", &[]).await
    }

    /// The session cookie's value as the browser holds it.
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

/// The value of the first `csrf_token` field in a page.
pub fn csrf_in(html: &str) -> String {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("input[name=csrf_token]").unwrap();
    document
        .select(&selector)
        .next()
        .and_then(|input| input.value().attr("value"))
        .expect("the page has a CSRF token")
        .to_string()
}

/// The key a form was rendered with (its hidden `form_key`).
pub fn form_key_in(html: &str) -> String {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("input[name=form_key]").unwrap();
    document
        .select(&selector)
        .next()
        .and_then(|input| input.value().attr("value"))
        .expect("the page has a form key")
        .to_string()
}

/// The text of the elements matching `css`.
pub fn texts(html: &str, css: &str) -> Vec<String> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(css).unwrap();
    document
        .select(&selector)
        .map(|e| {
            e.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

pub fn location(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// An engagement of `vendor` owned by `owner`, in Europe/Berlin, with default boundaries.
pub async fn engagement(app: &TestApp, vendor: i64, owner: i64) -> i64 {
    let id = sqlx::query_scalar(
        "insert into engagements (vendor_id, name, time_zone, start_date, owner_id)
         values ($1, 'Service desk ' || $1 || (select case when count(*) = 0 then '' else ' ' || count(*) + 1 end
                                              from engagements where vendor_id = $1),
                 'Europe/Berlin', '2026-01-01', $2) returning id",
    )
    .bind(vendor)
    .bind(owner)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into boundaries (engagement_id, urgent_definition) values ($1, 'an outage')",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();
    id
}

/// An active engagement (the reminder rules look at active engagements only).
pub async fn active_engagement(app: &TestApp, vendor: i64, owner: i64) -> i64 {
    let id = engagement(app, vendor, owner).await;
    sqlx::query("update engagements set status = 'active' where id = $1")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    id
}

/// A KPI with terms in force since 2026-01-01.
pub async fn kpi(
    app: &TestApp,
    engagement: i64,
    name: &str,
    direction: &str,
    target: &str,
    threshold: &str,
    weight: &str,
) -> i64 {
    let id = sqlx::query_scalar(
        "insert into kpis (engagement_id, name, direction, source) values ($1, $2, $3, 'manager') returning id",
    )
    .bind(engagement)
    .bind(name)
    .bind(direction)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into kpi_terms (kpi_id, effective_from, target, threshold, weight, active, changed_at)
         values ($1, '2026-01-01', $2::numeric, $3::numeric, $4::numeric, true, now())",
    )
    .bind(id)
    .bind(target)
    .bind(threshold)
    .bind(weight)
    .execute(&app.pool)
    .await
    .unwrap();
    id
}
