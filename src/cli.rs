//! The `trellis` command line: serve (the default), migrate, user create, token create,
//! seed demo and scale, import.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::Role;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Database;
use crate::startup::{Application, shutdown_signal};
use crate::{seed, users};

#[derive(Debug, Parser)]
#[command(
    name = "trellis",
    version,
    about = "Govern outsourced IT vendors without micromanaging them."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web application (the default when no command is given).
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate,
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Load example data.
    Seed {
        #[command(subcommand)]
        command: SeedCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Write a consistent backup of the database (pg_dump's custom format, readable by its
    /// owner only) to FILE, while Trellis keeps serving.
    Backup {
        /// The file to write; an existing one is never overwritten.
        file: std::path::PathBuf,
    },
    /// Restore a backup made by `trellis backup` into an empty database (a fresh data dir,
    /// or an empty DATABASE_URL), then apply the migrations.
    Restore {
        /// The backup file.
        file: std::path::PathBuf,
    },
    /// Import data from files.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import KPI values from a CSV file with the columns of the scorecard export
    /// (engagement_id, kpi_id, period_start, value, note). All or nothing: on any error every
    /// bad line is reported and nothing is written.
    KpiValues {
        /// The CSV file.
        file: std::path::PathBuf,
        /// The e-mail of the user who records the values.
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: String,
    },
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Create or reset the demo accounts before serving, and print them.
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from standard input when it is not a terminal,
    /// and asked for (twice, unechoed) when it is.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The vendor of a vendor user, by name (created if it does not exist yet).
        #[arg(long)]
        vendor: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a personal API token for a manager or vendor user, as they would on /account,
    /// and print only its secret (shown this once; Trellis keeps its hash).
    Create {
        /// The e-mail of the token's owner, an enabled manager or vendor user.
        #[arg(long)]
        email: String,
        /// What will use the token.
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["read", "read+write"], default_value = "read")]
        scope: String,
        /// Days until it expires, 1 to 365.
        #[arg(long, default_value_t = crate::api::tokens::DEFAULT_DAYS)]
        days: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum SeedCommand {
    /// Create or reset the demo accounts and print them: `<role> <email> <password> [<vendor>]`.
    Demo,
    /// Add the data set the performance budgets are measured on (once per database), with
    /// a vendor user per vendor and a manager per hundred engagements.
    Scale(ScaleArgs),
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    #[arg(long, default_value_t = seed::scale::Size::default().vendors)]
    pub vendors: i64,
    #[arg(long, default_value_t = seed::scale::Size::default().engagements)]
    pub engagements: i64,
    #[arg(long, default_value_t = seed::scale::Size::default().kpis)]
    pub kpis: i64,
    #[arg(long, default_value_t = seed::scale::Size::default().values)]
    pub values: i64,
    #[arg(long, default_value_t = seed::scale::Size::default().checkins)]
    pub checkins: i64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Manager,
    Vendor,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Manager => Role::Manager,
            RoleArg::Vendor => Role::Vendor,
        }
    }
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    let clock = Clock::system();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(config, clock, args).await,
        Command::Migrate => {
            let database = Database::open(&config).await?;
            println!("migrations applied");
            database.close().await
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    name,
                    role,
                    vendor,
                },
        } => {
            let password = read_password()?;
            let database = Database::open(&config).await?;
            let result = users::create(
                &database.pool,
                users::NewUser {
                    email: &email,
                    name: &name,
                    role: role.into(),
                    vendor: vendor.as_deref(),
                    password: &password,
                    time_zone: config.time_zone.name(),
                },
                clock.now(),
            )
            .await;
            database.close().await?;
            let id = result?;
            println!("created user {id} <{}>", email.trim());
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    email,
                    name,
                    scope,
                    days,
                },
        } => {
            let database = Database::open(&config).await?;
            let result =
                create_token(&database.pool, &email, &name, &scope, days, clock.now()).await;
            database.close().await?;
            println!("{}", result?);
            Ok(())
        }
        Command::Backup { file } => {
            let size = crate::db::backup::backup(&config, &file).await?;
            println!("backup written to {} ({size} bytes)", file.display());
            Ok(())
        }
        Command::Restore { file } => {
            crate::db::backup::restore(&config, &file).await?;
            println!("restored {}; migrations applied", file.display());
            Ok(())
        }
        Command::Import {
            command: ImportCommand::KpiValues { file, as_user },
        } => import_kpi_values(config, clock, file, as_user).await,
        Command::Seed {
            command: SeedCommand::Scale(args),
        } => seed_scale(config, clock, args).await,
        Command::Seed {
            command: SeedCommand::Demo,
        } => {
            let database = Database::open(&config).await?;
            let result = seed::demo(&database.pool, config.time_zone.name(), clock.now()).await;
            database.close().await?;
            for account in result? {
                println!("{account}");
            }
            Ok(())
        }
    }
}

/// Makes a token for the user with `email` and gives its secret. The same checks as the
/// form on /account; the audit entry says the command line made it, for whom.
async fn create_token(
    pool: &sqlx::PgPool,
    email: &str,
    name: &str,
    scope: &str,
    days: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<String> {
    use crate::api::tokens::{self, NewToken};
    let form = crate::web::form::Pairs(vec![
        ("token_name".into(), name.into()),
        ("token_days".into(), days.to_string()),
        ("token_scope".into(), scope.into()),
    ]);
    let token = NewToken::parse(&form).map_err(|errors| {
        let messages: Vec<&str> = ["token_name", "token_days", "token_scope"]
            .into_iter()
            .filter_map(|field| errors.get(field))
            .collect();
        anyhow::anyhow!("{}", messages.join(" "))
    })?;
    let Some(user) = crate::users::enabled_user_by_email(pool, email).await? else {
        anyhow::bail!("no enabled user has the e-mail {email}");
    };
    anyhow::ensure!(
        tokens::may_hold(&user),
        "only managers and vendor users hold personal API tokens"
    );
    let mut tx = pool.begin().await?;
    let created = tokens::create(&mut tx, user.id, &token, now).await?;
    crate::audit::Entry::anonymous("api_token.create", crate::audit::Outcome::Success)
        .target(format!("api_token:{}", created.id))
        .client_addr("cli")
        .details(serde_json::json!({
            "token_id": created.id, "name": created.name, "owner_id": user.id,
            "scope": token.scope.as_str(), "days": token.days, "via": "cli",
        }))
        .write(&mut *tx, now)
        .await?;
    tx.commit().await?;
    Ok(created.secret)
}

async fn seed_scale(config: Config, clock: Clock, args: ScaleArgs) -> anyhow::Result<()> {
    let size = seed::scale::Size {
        vendors: args.vendors,
        engagements: args.engagements,
        kpis: args.kpis,
        values: args.values,
        checkins: args.checkins,
    };
    let started = std::time::Instant::now();
    let database = Database::open(&config).await?;
    let bar = indicatif::ProgressBar::new(size.rows());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("vendors");
    let result = seed::scale::scale(
        &database.pool,
        size,
        config.time_zone.name(),
        clock.now(),
        |what: &'static str, done: u64| {
            bar.set_position(done);
            bar.set_message(what);
        },
    )
    .await;
    bar.finish_and_clear();
    database.close().await?;
    result?;
    println!(
        "seeded {} vendors, {} engagements, {} KPIs, {} KPI values and {} check-ins in {:.1} s",
        size.vendors,
        size.engagements,
        size.kpis,
        size.values,
        size.checkins,
        started.elapsed().as_secs_f64()
    );
    println!(
        "sign in as vendor-00001@scale.example … vendor-{:05}@scale.example or \
         manager-001@scale.example … manager-{:03}@scale.example, password {}",
        size.vendors,
        size.managers(),
        seed::scale::SCALE_PASSWORD
    );
    Ok(())
}

async fn serve(config: Config, clock: Clock, args: ServeArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let database = Database::open(&config).await?;
    if args.demo {
        println!("Demo accounts (role, e-mail, password, vendor):");
        for account in seed::demo(&database.pool, config.time_zone.name(), clock.now()).await? {
            println!("  {account}");
        }
    }
    let app = Application::build(config, database.pool.clone(), clock).await?;
    let address = app.state().config.public_url.clone();
    let shutdown = shutdown_signal();
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "ready");
    println!("Trellis is listening on {address}");
    let _ = std::io::stdout().flush();
    let served = app.run_until(shutdown).await;
    database.close().await?;
    tracing::info!("stopped");
    Ok(served?)
}

/// Reads a password: a line from standard input when it is piped, or asked for twice
/// without echo at a terminal.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_string());
    }
    let first = prompt_hidden("Password: ")?;
    let second = prompt_hidden("Repeat the password: ")?;
    anyhow::ensure!(first == second, "the two passwords differ");
    Ok(first)
}

fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; we restore the saved state before returning.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    let has_tty = unsafe { libc::tcgetattr(fd, &mut saved) } == 0;
    if has_tty {
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if has_tty {
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

async fn import_kpi_values(
    config: Config,
    clock: Clock,
    file: std::path::PathBuf,
    email: String,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let database = Database::open(&config).await?;
    let result = import_as(&database.pool, &email, &text, clock.now()).await;
    database.close().await?;
    result
}

async fn import_as(
    pool: &sqlx::PgPool,
    email: &str,
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let Some(user) = crate::users::enabled_user_by_email(pool, email).await? else {
        anyhow::bail!("no enabled user has the e-mail {email}");
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} values")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let outcome = crate::scorecard::import_values(pool, &user, text, now, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await?;
    bar.finish_and_clear();
    match outcome {
        Ok(saved) => {
            println!(
                "imported: {saved} {} saved",
                if saved == 1 { "value" } else { "values" }
            );
            Ok(())
        }
        Err(bad) => {
            for line in &bad {
                eprintln!("line {}: {}", line.line, line.message);
            }
            anyhow::bail!(
                "{} bad {}; nothing was imported",
                bad.len(),
                if bad.len() == 1 { "line" } else { "lines" }
            )
        }
    }
}
