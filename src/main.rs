//! chatctl's entry point: parse, set up logging, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser as _;

use chatctl::cli::Cli;
use chatctl::{commands, logging, ui::Ui};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print and succeed; a usage error exits 1, not clap's 2,
        // which means "changes found" for `plan` and `status`.
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    logging::init(cli.global.verbose);
    let ui = Ui::new(cli.global.output);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            ui.error(&anyhow::anyhow!("cannot start the async runtime: {err}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli, &ui)) {
        Ok(outcome) => outcome.into(),
        Err(err) => {
            ui.error(&err);
            ExitCode::FAILURE
        }
    }
}
