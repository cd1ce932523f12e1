//! `trellis backup FILE` and `trellis restore FILE`: a consistent dump of the database
//! Trellis uses (the embedded cluster or `DATABASE_URL`), taken with PostgreSQL's own
//! `pg_dump` in its custom format while the application keeps serving, and its restore into
//! an empty database. The file is readable by its owner only (mode 0600): it holds every
//! vendor's data and the password hashes.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use super::{Database, MIGRATOR};
use crate::config::Config;

/// How PostgreSQL's client programs reach the database: the folder they are in, their
/// connection arguments and the environment (a password never goes on the command line,
/// where other users' `ps` would see it).
struct Client {
    bin: PathBuf,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
}

impl Client {
    fn of(database: &Database, config: &Config) -> anyhow::Result<Client> {
        if let Some(cluster) = &database.cluster {
            return Ok(Client {
                bin: client_bin(Some(cluster.bin_dir()))?,
                args: cluster.client_args(),
                env: Vec::new(),
            });
        }
        let url = config
            .database_url
            .as_deref()
            .context("DATABASE_URL is not set and no embedded cluster is in use")?;
        let (url, password) = without_password(url);
        Ok(Client {
            bin: client_bin(config.pg_bin.as_deref())?,
            args: vec![format!("--dbname={url}")],
            env: password.map(|p| ("PGPASSWORD", p)).into_iter().collect(),
        })
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command.args(&self.args);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }
}

/// The folder of `pg_dump` and `pg_restore`: `first` (the embedded cluster's binaries, or
/// `TRELLIS_PG_BIN`) when it holds them, else on PATH, else the newest of
/// `/usr/lib/postgresql/*/bin`.
fn client_bin(first: Option<&Path>) -> anyhow::Result<PathBuf> {
    let has = |dir: &Path| dir.join("pg_dump").is_file() && dir.join("pg_restore").is_file();
    if let Some(dir) = first.filter(|d| has(d)) {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|d| has(d))
    {
        return Ok(dir);
    }
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| has(d))
        .collect();
    found.sort();
    found.pop().context(
        "pg_dump and pg_restore were not found on PATH or in /usr/lib/postgresql/*/bin: install the `postgresql-client` package",
    )
}

/// `url` without its password, and the password (percent-decoded).
fn without_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_string(), None);
    };
    (
        format!("{scheme}://{user}@{host}{tail}"),
        Some(percent_decode(password)),
    )
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes a consistent dump of the database to `file`, readable by its owner only; an
/// existing file is left alone. Gives the size written.
pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<u64> {
    if file.exists() {
        bail!(
            "{} exists already: choose a new file name (a backup never overwrites one)",
            file.display()
        );
    }
    let database = Database::connect(config).await?;
    let client = Client::of(&database, config)?;
    // Written beside the target and renamed at the end, so a failed dump leaves no file
    // that looks like a backup.
    let partial = file.with_extension("partial");
    let result = (|| {
        let out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        let status = client
            .command("pg_dump")
            .args(["--format=custom", "--no-owner", "--no-privileges"])
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::inherit())
            .status()
            .context("running pg_dump")?;
        if !status.success() {
            bail!(
                "pg_dump failed ({status}): nothing was written to {}",
                file.display()
            );
        }
        let mut out = out;
        out.flush()?;
        out.sync_all()?;
        fs::rename(&partial, file).with_context(|| format!("naming {}", file.display()))?;
        Ok(fs::metadata(file)?.len())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    database.close().await?;
    result
}

/// Restores the dump `file` into the database Trellis uses, which must be empty (a fresh
/// data dir, or a database without tables), then applies the migrations a newer Trellis
/// has.
pub async fn restore(config: &Config, file: &Path) -> anyhow::Result<()> {
    fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
    let database = Database::connect(config).await?;
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')",
    )
    .fetch_one(&database.pool)
    .await?;
    let result = if tables > 0 {
        Err(anyhow::anyhow!(
            "the database is not empty ({tables} tables): restore into a fresh TRELLIS_DATA_DIR or an empty database; nothing was changed"
        ))
    } else {
        let client = Client::of(&database, config)?;
        let status = client
            .command("pg_restore")
            .args([
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
            ])
            .arg(file)
            .stderr(Stdio::inherit())
            .status()
            .context("running pg_restore")?;
        if status.success() {
            MIGRATOR.run(&database.pool).await.map_err(Into::into)
        } else {
            Err(anyhow::anyhow!(
                "pg_restore failed ({status}): the restore was rolled back and the database is still empty"
            ))
        }
    };
    database.close().await?;
    result
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        assert_eq!(
            without_password("postgres://app:s%40cret:x@db.example:5432/trellis?sslmode=require"),
            (
                "postgres://app@db.example:5432/trellis?sslmode=require".into(),
                Some("s@cret:x".into())
            )
        );
        assert_eq!(
            without_password("postgres://app@db.example/trellis"),
            ("postgres://app@db.example/trellis".into(), None)
        );
        assert_eq!(
            without_password("postgres:///trellis?host=/run/postgresql"),
            ("postgres:///trellis?host=/run/postgresql".into(), None)
        );
    }
}
