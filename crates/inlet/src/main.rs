//! `inlet`: keep SaaS data in your own PostgreSQL. This binary is thin: it parses the
//! command line, calls the libraries, prints for people or for scripts (`--json`), and maps
//! outcomes to documented exit codes.

mod cli;
mod commands;
mod connection_args;
mod exit;
mod output;
mod progress;

use clap::Parser;
// The configuration lives in the runtime, which reads it too.
use inlet_runtime::{config, paths, secrets, sync_config};

/// mimalloc: records are built on reader threads and freed on others, which glibc's malloc
/// does slowly and with memory that keeps growing (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // `inlet run` is a service: it says what it does, unless a progress board has the
    // terminal.
    let service = matches!(cli.command, cli::Command::Run { .. })
        && !std::io::IsTerminal::is_terminal(&std::io::stderr());
    init_logging(cli.verbose, service);
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
fn init_logging(verbose: u8, service: bool) {
    let default = match verbose {
        // The server's notices (`create ... if not exists`, skipping) are not news.
        0 if service => "info,tokio_postgres=warn",
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
