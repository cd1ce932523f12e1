//! The private PostgreSQL cluster Trellis runs when no `DATABASE_URL` is given.
//!
//! The cluster lives under the data dir and listens only on a Unix socket in a short
//! directory under /tmp. Every Trellis process that uses it holds a shared lock on
//! `<data dir>/postgres.lock`; starting and stopping happen under an exclusive lock on
//! `<data dir>/postgres.start.lock`, so the first process to need the cluster starts it and
//! the last one to leave stops it, and a CLI command beside a running server never stops it.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;

/// The database role and database Trellis uses inside its own cluster.
const SUPERUSER: &str = "trellis";
pub const DATABASE: &str = "trellis";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH or in /usr/lib/postgresql/*/bin: install the `postgresql` package (Debian/Ubuntu), set TRELLIS_PG_BIN to the folder that holds them, or set DATABASE_URL to use an existing server."
    )]
    BinariesNotFound,
    #[error(
        "TRELLIS_PG_BIN is set to {0}, but that folder does not hold initdb, pg_ctl and postgres: point it at PostgreSQL's bin folder or unset it."
    )]
    BadPgBin(PathBuf),
    #[error(
        "Trellis runs as root, so PostgreSQL must run as the `postgres` OS user, and there is none: install the `postgresql` package or set DATABASE_URL."
    )]
    NoPostgresUser,
    #[error(
        "The `postgres` OS user cannot reach the data dir {0}: make its parent folders searchable (chmod o+x) or choose another TRELLIS_DATA_DIR."
    )]
    DataDirUnreachable(PathBuf),
    #[error("{action} failed: {detail}")]
    Command { action: String, detail: String },
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let what = what.into();
    move |e| EmbeddedError::Io(what, e)
}

/// A running cluster this process uses. Call [`Cluster::leave`] when done with it; dropping it
/// without leaving keeps the cluster running (as a crash would).
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    socket_dir: PathBuf,
    bin: PathBuf,
    run_as: Option<(u32, u32)>,
    lock_path: PathBuf,
    start_lock_path: PathBuf,
    /// The shared lock that says "this process uses the cluster".
    usage: Option<File>,
    started_here: bool,
}

/// How [`Cluster::stop_server`] stops PostgreSQL (`pg_ctl stop -m …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// Ends every session (clients see `admin_shutdown`) and shuts down cleanly.
    Fast,
    /// Kills the server as a crash would; the next start recovers from the WAL.
    Immediate,
}

/// Where to look for the PostgreSQL binaries: an explicit folder wins, then PATH, then the
/// newest `<lib_root>/*/bin`.
pub fn find_binaries(
    explicit: Option<&Path>,
    path_env: Option<&std::ffi::OsStr>,
    lib_root: &Path,
) -> Result<PathBuf, EmbeddedError> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(dir) = explicit {
        return if complete(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(EmbeddedError::BadPgBin(dir.to_path_buf()))
        };
    }
    if let Some(path) = path_env {
        for dir in std::env::split_paths(path) {
            if complete(&dir) {
                return Ok(dir);
            }
        }
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir(lib_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(|part| part.parse::<u32>().ok())
                .collect::<Option<Vec<_>>>()?;
            let bin = entry.path().join("bin");
            complete(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or(EmbeddedError::BinariesNotFound)
}

/// The short socket directory of the cluster in `dir` (a socket path must fit in 107 bytes,
/// which a deep data dir would not).
pub fn socket_dir_for(dir: &Path) -> PathBuf {
    let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    PathBuf::from(format!("/tmp/trellis-{}", &hex(&digest)[..16]))
}

impl Cluster {
    /// Starts the cluster under `data_dir` if no other process has, creating it first when
    /// the data dir is new, and joins it. `settings` are extra `-c` options used only when
    /// this call starts the server (tests turn fsync off with them).
    pub fn start(
        data_dir: &Path,
        explicit_bin: Option<&Path>,
        settings: &[(&str, &str)],
    ) -> Result<Cluster, EmbeddedError> {
        let bin = find_binaries(
            explicit_bin,
            std::env::var_os("PATH").as_deref(),
            Path::new("/usr/lib/postgresql"),
        )?;
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some(postgres_user()?)
        } else {
            None
        };

        fs::create_dir_all(data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(io(format!("resolving {}", data_dir.display())))?;
        if run_as.is_some() {
            check_reachable_by_others(&data_dir)?;
        }
        let dir = data_dir.join("postgres");
        let socket_dir = socket_dir_for(&dir);

        let mut cluster = Cluster {
            dir,
            socket_dir,
            bin,
            run_as,
            lock_path: data_dir.join("postgres.lock"),
            start_lock_path: data_dir.join("postgres.start.lock"),
            usage: None,
            started_here: false,
        };

        let start_lock = open_lock(&cluster.start_lock_path)?;
        start_lock
            .lock()
            .map_err(io("locking the data dir for start-up"))?;
        if !cluster.dir.join("PG_VERSION").is_file() {
            cluster.init()?;
        }
        cluster.prepare_socket_dir()?;
        if !cluster.is_running() {
            cluster.remove_stale_pid_file()?;
            cluster.pg_ctl_start(settings)?;
            cluster.started_here = true;
        }
        let usage = open_lock(&cluster.lock_path)?;
        usage
            .lock_shared()
            .map_err(io("taking the shared lock on the data dir"))?;
        cluster.usage = Some(usage);
        drop(start_lock);
        Ok(cluster)
    }

    /// Connection options for the given database inside the cluster.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .username(SUPERUSER)
            .database(database)
    }

    /// The folder of PostgreSQL's programs this cluster runs with.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// The arguments that take PostgreSQL's client programs (`pg_dump`, `pg_restore`) to
    /// the application's database in this cluster.
    pub fn client_args(&self) -> Vec<String> {
        vec![
            format!("--host={}", self.socket_dir.display()),
            format!("--username={SUPERUSER}"),
            format!("--dbname={DATABASE}"),
        ]
    }

    pub fn started_here(&self) -> bool {
        self.started_here
    }

    pub fn directory(&self) -> &Path {
        &self.dir
    }

    /// Stops PostgreSQL while this process stays joined, as an operator's restart or a crash
    /// would, so that the reliability drills can take the database away under load;
    /// [`Cluster::start_server`] brings it back.
    pub fn stop_server(&self, mode: StopMode) -> Result<(), EmbeddedError> {
        let mode = match mode {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        };
        self.pg_ctl(
            &["stop", "-m", mode, "-w", "-t", "60"],
            "stopping PostgreSQL",
        )
    }

    /// Starts PostgreSQL again after [`Cluster::stop_server`] with the `settings` it was first
    /// started with, and returns once it accepts connections (after crash recovery, if any).
    pub fn start_server(&self, settings: &[(&str, &str)]) -> Result<(), EmbeddedError> {
        if self.is_running() {
            return Ok(());
        }
        self.prepare_socket_dir()?;
        self.remove_stale_pid_file()?;
        self.pg_ctl_start(settings)
    }

    /// Leaves the cluster; the last process to leave stops it.
    pub fn leave(mut self) -> Result<(), EmbeddedError> {
        let start_lock = open_lock(&self.start_lock_path)?;
        start_lock
            .lock()
            .map_err(io("locking the data dir for shut-down"))?;
        drop(self.usage.take());
        let probe = open_lock(&self.lock_path)?;
        match probe.try_lock() {
            Ok(()) => {
                if self.is_running() {
                    self.pg_ctl(
                        &["stop", "-m", "fast", "-w", "-t", "60"],
                        "stopping PostgreSQL",
                    )?;
                }
                // Empty once the server is gone (the postmaster may still be removing its
                // socket files as pg_ctl returns); the next start makes it again.
                for _ in 0..20 {
                    if fs::remove_dir(&self.socket_dir).is_ok() || !self.socket_dir.exists() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                Ok(())
            }
            // Another Trellis process still uses the cluster: it stops it when it leaves.
            Err(std::fs::TryLockError::WouldBlock) => Ok(()),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(EmbeddedError::Io("probing the data dir lock".into(), e))
            }
        }
    }

    fn init(&self) -> Result<(), EmbeddedError> {
        let parent = self.dir.parent().expect("the cluster dir has a parent");
        let staging = parent.join("postgres.initdb");
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io("removing an unfinished initdb"))?;
        }
        fs::create_dir(&staging).map_err(io("creating the cluster directory"))?;
        fs::set_permissions(&staging, fs::Permissions::from_mode(0o700))
            .map_err(io("restricting the cluster directory"))?;
        self.chown(&staging)?;
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(&staging)
            .args(["-E", "UTF8", "--locale=C.UTF-8", "-U", SUPERUSER])
            .args([
                "--auth-local=trust",
                "--auth-host=reject",
                "--no-instructions",
            ])
            .output()
            .map_err(io("running initdb"))?;
        check(output, "creating the database cluster (initdb)")?;
        fs::rename(&staging, &self.dir).map_err(io("moving the new cluster into place"))?;
        Ok(())
    }

    fn prepare_socket_dir(&self) -> Result<(), EmbeddedError> {
        match fs::symlink_metadata(&self.socket_dir) {
            Ok(meta) => {
                let owner = self
                    .run_as
                    .map_or_else(|| unsafe { libc::geteuid() }, |(uid, _)| uid);
                if !meta.is_dir() || meta.uid() != owner {
                    return Err(EmbeddedError::Command {
                        action: "preparing the socket directory".into(),
                        detail: format!("{} exists and is not ours", self.socket_dir.display()),
                    });
                }
            }
            Err(_) => {
                fs::create_dir(&self.socket_dir).map_err(io("creating the socket directory"))?;
                self.chown(&self.socket_dir)?;
            }
        }
        fs::set_permissions(&self.socket_dir, fs::Permissions::from_mode(0o700))
            .map_err(io("restricting the socket directory"))
    }

    /// True when a postmaster of this cluster is alive (it may still be starting up).
    fn is_running(&self) -> bool {
        self.postmaster_pid().is_some_and(is_postgres_process)
    }

    fn postmaster_pid(&self) -> Option<i32> {
        let text = fs::read_to_string(self.dir.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// After a crash the pid file may name a process that is gone or, after a reboot, an
    /// unrelated process that reuses the pid; PostgreSQL refuses to start while that second
    /// kind exists, so it is removed (with the socket's lock file) once we know no postmaster
    /// of ours is alive.
    fn remove_stale_pid_file(&self) -> Result<(), EmbeddedError> {
        let pid_file = self.dir.join("postmaster.pid");
        if pid_file.exists() {
            tracing::warn!("removing a stale postmaster.pid left by a crash");
            fs::remove_file(&pid_file).map_err(io("removing a stale postmaster.pid"))?;
        }
        if let Ok(entries) = fs::read_dir(&self.socket_dir) {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(".s.PGSQL.") {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    fn pg_ctl_start(&self, settings: &[(&str, &str)]) -> Result<(), EmbeddedError> {
        let mut options = format!("-k {} -c listen_addresses=''", self.socket_dir.display());
        for (name, value) in settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        let log = self
            .dir
            .parent()
            .expect("has a parent")
            .join("postgres.log");
        if !log.exists() {
            File::create(&log).map_err(io("creating postgres.log"))?;
            self.chown(&log)?;
        }
        let log_arg = log.display().to_string();
        let result = self.pg_ctl(
            &["start", "-w", "-t", "60", "-l", &log_arg, "-o", &options],
            "starting PostgreSQL",
        );
        if let Err(EmbeddedError::Command { action, detail }) = result {
            let tail = fs::read_to_string(&log)
                .map(|text| {
                    text.lines()
                        .rev()
                        .take(5)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join(" | ")
                })
                .unwrap_or_default();
            return Err(EmbeddedError::Command {
                action,
                detail: format!("{detail}; postgres.log: {tail}"),
            });
        }
        result
    }

    fn pg_ctl(&self, args: &[&str], action: &str) -> Result<(), EmbeddedError> {
        let output = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.dir)
            .args(args)
            .output()
            .map_err(io(format!("running pg_ctl for {action}")))?;
        check(output, action)
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        // PostgreSQL's programs want a current directory they can read.
        command.current_dir(self.dir.parent().unwrap_or(Path::new("/")));
        command.env("LC_ALL", "C.UTF-8");
        command.env_remove("PGDATA");
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn chown(&self, path: &Path) -> Result<(), EmbeddedError> {
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io(format!(
                "handing {} to the postgres user",
                path.display()
            )))?;
        }
        Ok(())
    }
}

fn check(output: Output, action: &str) -> Result<(), EmbeddedError> {
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let detail = format!("{} {}", stderr.trim(), stdout.trim());
    Err(EmbeddedError::Command {
        action: action.to_string(),
        detail: detail.trim().to_string(),
    })
}

fn open_lock(path: &Path) -> Result<File, EmbeddedError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io(format!("opening {}", path.display())))
}

fn is_postgres_process(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|comm| comm.trim() == "postgres" || comm.trim() == "postmaster")
        .unwrap_or(false)
}

fn postgres_user() -> Result<(u32, u32), EmbeddedError> {
    let name = CString::new("postgres").expect("no nul byte");
    // SAFETY: getpwnam returns a pointer to static storage or null; we copy the ids at once
    // and never keep the pointer.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(EmbeddedError::NoPostgresUser);
    }
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok((uid, gid))
}

/// As root the cluster is run by `postgres`, which must be able to pass through every parent
/// folder of the data dir.
fn check_reachable_by_others(data_dir: &Path) -> Result<(), EmbeddedError> {
    for ancestor in data_dir.ancestors() {
        let meta = fs::metadata(ancestor).map_err(io(format!("reading {}", ancestor.display())))?;
        if meta.mode() & 0o001 == 0 {
            return Err(EmbeddedError::DataDirUnreachable(data_dir.to_path_buf()));
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        for name in ["initdb", "pg_ctl", "postgres"] {
            fs::write(dir.join(name), "").unwrap();
        }
    }

    #[test]
    fn without_binaries_anywhere_the_error_says_what_to_install() {
        let root = std::env::temp_dir().join(format!("trellis-find-{}", std::process::id()));
        fs::create_dir_all(&root).unwrap();
        let err = find_binaries(None, Some(std::ffi::OsStr::new("")), &root).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("install the `postgresql` package"),
            "{message}"
        );
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert_eq!(message.matches(". ").count(), 0, "one sentence: {message}");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_newest_installed_version_is_chosen_and_an_explicit_folder_wins() {
        let root = std::env::temp_dir().join(format!("trellis-newest-{}", std::process::id()));
        fake_bin(&root.join("9.6/bin"));
        fake_bin(&root.join("15/bin"));
        fake_bin(&root.join("13/bin"));
        fs::create_dir_all(root.join("17/bin")).unwrap(); // incomplete: ignored
        let found = find_binaries(None, None, &root).unwrap();
        assert_eq!(found, root.join("15/bin"));

        let explicit = root.join("13/bin");
        assert_eq!(
            find_binaries(Some(&explicit), None, &root).unwrap(),
            explicit
        );
        let bad = root.join("17/bin");
        assert!(matches!(
            find_binaries(Some(&bad), None, &root),
            Err(EmbeddedError::BadPgBin(_))
        ));
        fs::remove_dir_all(&root).unwrap();
    }
}
