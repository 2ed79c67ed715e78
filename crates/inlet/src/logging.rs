//! Log lines on stderr (so `--json` output on stdout stays clean), as text for people or,
//! with `inlet run --log-format json`, one JSON object a line for a log collector:
//! `timestamp`, `level`, `message`, `target`, and the event's fields beside them (`sync`,
//! `stream`, `fix`, ...), so a collector can filter by sync without parsing the message.
//!
//! What is logged never holds a secret: keys, passwords and tokens are `Secret`s, whose
//! `Debug` and `Display` hide them, and errors name a key by its kind and last characters.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// `RUST_LOG` overrides the level chosen from `-v` and whether this is a service.
pub fn init(verbose: u8, service: bool, format: LogFormat) {
    let default = match verbose {
        // The server's notices (`create ... if not exists`, skipping) are not news.
        0 if service => "info,tokio_postgres=warn",
        0 => "warn",
        1 => "info,inlet=debug,inlet_postgres=debug",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}
