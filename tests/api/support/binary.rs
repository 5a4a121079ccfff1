//! The real `beebox` binary, for tests of start-up, the CLI and crashes (`kill -9`): a command
//! that sees only the variables the test sets, never the developer's own `BEEBOX_*`.

use std::path::Path;
use std::process::{Command, Output};

/// `beebox` run in `dir`, with every inherited `BEEBOX_*` variable removed.
pub fn beebox_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_beebox"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("BEEBOX_")) {
        command.env_remove(key);
    }
    command.current_dir(dir);
    command
}

/// Runs `beebox ARGS` in `dir` with only `env` set (and text logs) and waits for it.
pub fn beebox(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = beebox_command(dir);
    command.args(args).env("BEEBOX_LOG__FORMAT", "text");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("beebox runs")
}
