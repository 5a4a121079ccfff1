use std::process::ExitCode;

use clap::Parser;

use beebox::cli::{Cli, Command};
use beebox::config::Config;

fn main() -> ExitCode {
    limit_malloc_arenas();
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

/// glibc gives each thread that allocates its own arena (up to 8 per core) and keeps freed
/// memory in them: with uploads spooled through tokio's blocking threads, RSS then grows with
/// the number of threads that ever touched a page. Two arenas keep it flat (see the upload
/// benchmark, docs/benchmarks/upload.md). mimalloc was tried for the read path and measured
/// worse here: peak RSS 143 MiB against 83 with 32 concurrent 8 MiB uploads
/// (docs/benchmarks/read.md).
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
