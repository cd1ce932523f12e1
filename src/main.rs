use clap::Parser;

use trellis::cli::{self, Cli};
use trellis::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("trellis: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    trellis::telemetry::init(config.log_format);
    match cli::run(cli, config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trellis: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
