use std::process::ExitCode;

use clap::Parser;

use beebox::cli::{Cli, Command};
use beebox::config::Config;

/// mimalloc rather than glibc's malloc: per-thread heaps without a shared lock on the read path
/// (glibc with few arenas serialised requests on it; with many it kept freed upload buffers in
/// every thread's arena), and freed memory returned to the system soon after.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve { no_worker: false });
    if matches!(command, Command::Openapi) {
        // The contract does not depend on configuration.
        print!("{}", beebox::api::spec_yaml());
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("beebox: start-up refused: {e}");
            return ExitCode::from(2);
        }
    };
    beebox::telemetry::init(&config.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(beebox::cli::run(command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "beebox stopped");
            eprintln!("beebox: {e:#}");
            ExitCode::FAILURE
        }
    }
}
