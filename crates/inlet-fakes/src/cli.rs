//! What every fake's binary does around its own options: logs to stderr (`RUST_LOG`), a
//! plain message when the address is taken, and serving until Ctrl-C.

use std::fmt::Display;
use std::net::SocketAddr;
use std::process::ExitCode;

/// Logs go to stderr, filtered by `RUST_LOG`; stdout is for what the binary prints.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
}

/// Says why `name` cannot listen on `listen` and what to do; the exit code to end with.
pub fn cannot_listen(name: &str, listen: SocketAddr, error: impl Display) -> ExitCode {
    eprintln!("{name}: cannot listen on {listen}: {error}");
    eprintln!("Choose another address with --listen, e.g. --listen 127.0.0.1:0 for any free port.");
    ExitCode::from(2)
}

/// Prints the closing line and waits for Ctrl-C.
pub async fn serve_until_ctrl_c(name: &str) {
    println!("Press Ctrl-C to stop.");
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("{name}: cannot wait for Ctrl-C ({error}); stopping");
    }
}
