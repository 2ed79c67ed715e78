//! `inlet`: keep SaaS data in your own PostgreSQL. This binary is thin: it parses the
//! command line, calls the libraries, prints for people or for scripts (`--json`), and maps
//! outcomes to documented exit codes.

// The doc comments of the command line are clap's `--help` text, written for a terminal
// (`[default: ...]`, `<placeholders>`, bare URLs), not for rustdoc.
#[allow(
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls
)]
mod cli;
mod commands;
#[allow(rustdoc::broken_intra_doc_links)]
mod connection_args;
mod exit;
mod logging;
mod output;
mod progress;

// The configuration lives in the runtime, which reads it too.
use inlet_runtime::{config, paths, secrets, sync_config};

/// mimalloc: records are built on reader threads and freed on others, which glibc's malloc
/// does slowly and with memory that keeps growing (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::parse();
    // `inlet run` is a service, and `inlet demo` runs one: each says what it does (progress
    // included), unless a progress board has the terminal.
    let service = matches!(
        cli.command,
        cli::Command::Run { .. } | cli::Command::Demo { .. }
    ) && !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let format = match cli.command {
        cli::Command::Run { log_format, .. } => log_format.unwrap_or_default(),
        _ => cli::LogFormat::Text,
    };
    logging::init(cli.verbose, service, format);
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
