//! `inlet`: keep SaaS data in your own PostgreSQL. This binary is thin: it parses the
//! command line, calls the libraries, prints for people or for scripts (`--json`), and maps
//! outcomes to documented exit codes.

mod cli;
mod commands;
mod connection_args;
mod exit;
mod output;
// `secrets()` is used by `destination add/setup`, which land next; remove this allow then.
#[allow(dead_code)]
mod paths;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("inlet: cannot start the async runtime: {e}");
            return exit::Code::Internal.into();
        }
    };
    let paths = paths::Paths::resolve(cli.config.as_deref());
    runtime.block_on(commands::run(cli.command, &paths)).into()
}

/// Logs go to stderr so `--json` output on stdout stays clean. `RUST_LOG` overrides.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,inlet=debug,inlet_postgres=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
