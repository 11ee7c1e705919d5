//! The `spine-sandbox` binary: parse the command line, then run it (`spine_sandbox::run`).

use std::process::ExitCode;

use clap::Parser;
use spine_sandbox::{Cli, EXIT_USAGE};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    spine_sandbox::run(cli)
}
