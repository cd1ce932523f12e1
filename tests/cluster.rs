//! The embedded cluster's life cycle, driven through the real `trellis` binary: first start,
//! reuse, a CLI beside a running server, a crash's stale pid file, missing binaries,
//! DATABASE_URL, and a clean SIGTERM. Each test owns its data dir and cluster.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_trellis");

fn data_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cluster-{name}"));
    if dir.exists() {
        if let Some(pid) = postmaster_pid(&dir) {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            wait_until_gone(pid);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn trellis(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TRELLIS_DATA_DIR", dir)
        .env("TRELLIS_BIND", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .current_dir(dir);
    command
}

struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = trellis(dir)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("Trellis is listening on http://") {
                    let _ = tx.send(address.to_string());
                }
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(90))
            .expect("the server starts");
        Server { child, address }
    }

    fn get(&self, path: &str) -> u16 {
        http_status(&self.address, path)
    }

    /// Sends SIGTERM and waits for the exit code.
    fn terminate(mut self) -> (i32, Duration) {
        let started = Instant::now();
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), started.elapsed());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_status(address: &str, path: &str) -> u16 {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn postmaster_pid(dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(dir.join("postgres/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn wait_until_gone(pid: i32) {
    let started = Instant::now();
    while alive(pid) && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn create_user(dir: &Path, email: &str) -> std::process::Output {
    let mut child = trellis(dir)
        .args([
            "user",
            "create",
            "--email",
            email,
            "--name",
            "Ada Admin",
            "--role",
            "admin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_new_data_dir_gets_a_cluster_that_keeps_its_data_across_starts() {
    let dir = data_dir("restart");
    let created = create_user(&dir, "ada@test.example");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        dir.join("postgres/PG_VERSION").is_file(),
        "the cluster lives under the data dir"
    );
    assert_eq!(
        postmaster_pid(&dir),
        None,
        "the CLI stopped the cluster it started"
    );

    let server = Server::start(&dir);
    assert_eq!(server.get("/readyz"), 200);
    let (code, _) = server.terminate();
    assert_eq!(code, 0);

    let server = Server::start(&dir);
    let again = create_user(&dir, "ADA@test.example");
    assert!(!again.status.success(), "the first user is still there");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(server.get("/readyz"), 200);
    server.terminate();
}

#[test]
fn a_cli_command_beside_a_running_server_leaves_the_cluster_running() {
    let dir = data_dir("beside");
    let server = Server::start(&dir);
    let pid = postmaster_pid(&dir).expect("the server started the cluster");
    for email in ["one@test.example", "two@test.example"] {
        let output = create_user(&dir, email);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let migrate = trellis(&dir).arg("migrate").output().unwrap();
    assert!(migrate.status.success());
    assert_eq!(
        postmaster_pid(&dir),
        Some(pid),
        "the same postmaster still runs"
    );
    assert!(alive(pid));
    assert_eq!(server.get("/readyz"), 200);
    let (code, _) = server.terminate();
    assert_eq!(code, 0);
}

#[test]
fn sigterm_exits_zero_quickly_and_leaves_no_postgres_running() {
    let dir = data_dir("sigterm");
    let server = Server::start(&dir);
    assert_eq!(server.get("/login"), 200);
    let pid = postmaster_pid(&dir).unwrap();
    let (code, took) = server.terminate();
    assert_eq!(code, 0);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    wait_until_gone(pid);
    assert!(!alive(pid), "postgres is still running");
    assert_eq!(postmaster_pid(&dir), None);
}

#[test]
fn a_stale_postmaster_pid_after_a_crash_is_survived() {
    let dir = data_dir("crash");
    let mut server = Server::start(&dir);
    let pid = postmaster_pid(&dir).unwrap();
    // A crash: the server and PostgreSQL die without cleaning up.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_until_gone(pid);
    std::thread::sleep(Duration::from_millis(500)); // backends notice their postmaster is gone
    // After a reboot the old pid may belong to an unrelated live process: ours.
    let pid_file = dir.join("postgres/postmaster.pid");
    let text = std::fs::read_to_string(&pid_file).expect("the crash left the pid file");
    let rest: Vec<&str> = text.lines().skip(1).collect();
    std::fs::write(
        &pid_file,
        format!("{}\n{}\n", std::process::id(), rest.join("\n")),
    )
    .unwrap();

    let server = Server::start(&dir);
    assert_eq!(server.get("/readyz"), 200);
    assert_eq!(server.terminate().0, 0);
}

#[test]
fn without_postgresql_binaries_trellis_says_what_to_do_in_one_sentence() {
    let dir = data_dir("nobin");
    let output = trellis(&dir)
        .arg("migrate")
        .env("TRELLIS_PG_BIN", dir.join("no-such-folder"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("TRELLIS_PG_BIN"), "{stderr}");
    assert!(!dir.join("postgres").exists());
}

#[test]
fn with_database_url_trellis_uses_that_server_and_no_cluster_of_its_own() {
    let embedded = data_dir("url-server");
    let server = Server::start(&embedded);
    let socket =
        trellis::db::embedded::socket_dir_for(&embedded.canonicalize().unwrap().join("postgres"));
    let url = format!(
        "postgres://trellis@localhost/trellis?host={}",
        socket.display()
    );

    let other = data_dir("url-client");
    let output = trellis(&other)
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let created = {
        let mut command = trellis(&other);
        command.env("DATABASE_URL", &url);
        let mut child = command
            .args([
                "user",
                "create",
                "--email",
                "url@test.example",
                "--name",
                "Url User",
                "--role",
                "vendor",
                "--vendor",
                "Remote Co",
            ])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"a long enough password\n")
            .unwrap();
        child.wait_with_output().unwrap()
    };
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        !other.join("postgres").exists(),
        "no cluster under the second data dir"
    );
    // The user landed in the first server's database.
    let again = create_user(&embedded, "url@test.example");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(server.terminate().0, 0);
}

#[test]
fn seed_demo_prints_one_line_per_account_and_the_same_passwords_every_run() {
    let dir = data_dir("seed");
    let first = trellis(&dir).args(["seed", "demo"]).output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = trellis(&dir).args(["seed", "demo"]).output().unwrap();
    assert_eq!(first.stdout, second.stdout);
    let text = String::from_utf8(first.stdout).unwrap();
    let roles: Vec<&str> = text.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert!(
        roles.contains(&"admin") && roles.contains(&"manager") && roles.contains(&"vendor"),
        "{text}"
    );
    let vendors: std::collections::BTreeSet<String> = text
        .lines()
        .filter(|l| l.starts_with("vendor "))
        .map(|l| l.splitn(4, ' ').nth(3).unwrap().to_string())
        .collect();
    assert!(vendors.len() >= 2, "{text}");
}

/// The status of `GET path` with a bearer token.
fn bearer_status(address: &str, path: &str, secret: &str) -> u16 {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {secret}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn token_create_prints_only_a_secret_that_opens_the_api_with_the_owners_rights() {
    let dir = data_dir("token");
    let demo = trellis(&dir).args(["seed", "demo"]).output().unwrap();
    assert!(demo.status.success());
    let accounts = String::from_utf8(demo.stdout).unwrap();
    let email = |role: &str| -> String {
        accounts
            .lines()
            .find(|l| l.starts_with(&format!("{role} ")))
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .to_string()
    };
    let create = |email: &str, scope: &str| {
        trellis(&dir)
            .args(["token", "create", "--email", email, "--name", "Script"])
            .args(["--scope", scope, "--days", "7"])
            .output()
            .unwrap()
    };
    let made = create(&email("manager"), "read+write");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let stdout = String::from_utf8(made.stdout).unwrap();
    let secret = stdout.trim_end();
    assert_eq!(stdout, format!("{secret}\n"), "only the secret");
    assert!(secret.starts_with("trellis_") && secret.len() == "trellis_".len() + 43);
    // Admins hold no personal tokens; an unknown e-mail and an unknown scope are refused.
    for refused in [
        create(&email("admin"), "read"),
        create("nobody@example.com", "read"),
        create(&email("vendor"), "admin"),
    ] {
        assert!(!refused.status.success());
        assert!(refused.stdout.is_empty());
    }
    let server = Server::start(&dir);
    assert_eq!(
        bearer_status(&server.address, "/api/v1/engagements", secret),
        200
    );
    assert_eq!(server.get("/api/v1/engagements"), 401);
    assert_eq!(server.terminate().0, 0);
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["user", "create", "--help"],
        &["seed", "demo", "--help"],
        &["token", "create", "--help"],
        &["backup", "--help"],
        &["restore", "--help"],
    ] {
        let output = Command::new(BIN).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn logs_are_json_lines_when_asked() {
    let dir = data_dir("json");
    let output = trellis(&dir)
        .arg("migrate")
        .env("TRELLIS_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.trim().is_empty(), "starting the cluster is logged");
    for line in stderr.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(value.get("level").is_some(), "{line}");
    }
}

#[test]
fn import_kpi_values_reports_every_bad_line_and_writes_nothing_then_imports() {
    use chrono::Datelike;
    let dir = data_dir("import");
    assert!(
        trellis(&dir)
            .args(["seed", "demo"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive();
    let this_month = today.with_day(1).unwrap();
    let previous = this_month
        .checked_sub_months(chrono::Months::new(1))
        .unwrap();
    // Engagement 1 is the demo's service desk; KPI 3 its first-contact resolution, which
    // its owner Maria records.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "engagement_id,kpi_id,period_start,value\n1,3,{previous},oops\n1,3,{this_month},70\n"
        ),
    )
    .unwrap();
    let output = trellis(&dir)
        .args(["import", "kpi-values"])
        .arg(&bad)
        .args(["--as", "maria.manager@trellis.example"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2: value is not a number"), "{stderr}");
    assert!(stderr.contains("line 3: period"), "{stderr}");
    assert!(
        stderr.contains("2 bad lines; nothing was imported"),
        "{stderr}"
    );

    let good = dir.join("good.csv");
    std::fs::write(
        &good,
        format!("engagement_id,kpi_id,period_start,value,note\n1,3,{previous},71.5,from the CLI\n"),
    )
    .unwrap();
    let output = trellis(&dir)
        .args(["import", "kpi-values"])
        .arg(&good)
        .args(["--as", "maria.manager@trellis.example"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "imported: 1 value saved"
    );
}

#[test]
fn a_backup_taken_while_serving_restores_into_a_fresh_data_dir_and_never_over_data() {
    let dir = data_dir("backup");
    let demo = trellis(&dir).args(["seed", "demo"]).output().unwrap();
    assert!(demo.status.success());
    let accounts = String::from_utf8(demo.stdout).unwrap();
    let manager = accounts
        .lines()
        .find(|l| l.starts_with("manager "))
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .to_string();
    let made = trellis(&dir)
        .args([
            "token",
            "create",
            "--email",
            &manager,
            "--name",
            "Backup check",
        ])
        .args(["--scope", "read", "--days", "7"])
        .output()
        .unwrap();
    assert!(made.status.success());
    let secret = String::from_utf8(made.stdout)
        .unwrap()
        .trim_end()
        .to_string();
    // Taken beside a running server, which keeps serving.
    let server = Server::start(&dir);
    let file = dir.join("trellis.backup");
    let backup = trellis(&dir).arg("backup").arg(&file).output().unwrap();
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert_eq!(server.get("/healthz"), 200);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "readable by its owner only");
    // A second backup to the same file is refused and leaves the first alone.
    let size = std::fs::metadata(&file).unwrap().len();
    let again = trellis(&dir).arg("backup").arg(&file).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);
    // Restoring over the data in use is refused.
    let over = trellis(&dir).arg("restore").arg(&file).output().unwrap();
    assert!(!over.status.success());
    assert!(
        String::from_utf8_lossy(&over.stderr).contains("the database is not empty"),
        "{}",
        String::from_utf8_lossy(&over.stderr)
    );
    assert_eq!(server.terminate().0, 0);

    // Into a fresh data dir: the same people, tokens and data.
    let fresh = data_dir("restored");
    let restore = trellis(&fresh).arg("restore").arg(&file).output().unwrap();
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    let restored = Server::start(&fresh);
    assert_eq!(
        bearer_status(&restored.address, "/api/v1/engagements", &secret),
        200
    );
    assert_eq!(restored.terminate().0, 0);
}
