//! Log lines on stderr (so `--json` output on stdout stays clean), as text for people or,
//! with `inlet run --log-format json`, one JSON object a line for a log collector:
//! `timestamp`, `level`, `message`, `target`, and the fields beside them: the event's own
//! (`stream`, `fix`, ...) and those of the spans it happened in (`sync`: each sync runs in
//! a span naming it), so a collector can filter by sync without parsing the message.
//!
//! What is logged never holds a secret: keys, passwords and tokens are `Secret`s, whose
//! `Debug` and `Display` hide them, and errors name a key by its kind and last characters.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
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
    // Colours only for a person at a terminal, never into a file or a collector.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .fmt_fields(JsonFields::new())
            .event_format(JsonLine)
            .init(),
    }
}

/// One event as one JSON object, its spans' fields beside its own.
struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert("timestamp".into(), timestamp.into());
        line.insert("level".into(), meta.level().as_str().into());
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        line.extend(fields.0);
        // The innermost span's value wins; the event's own fields win over all.
        for span in ctx.event_scope().into_iter().flatten() {
            let extensions = span.extensions();
            let Some(stored) = extensions.get::<FormattedFields<N>>() else {
                continue;
            };
            if let Ok(Value::Object(span_fields)) = serde_json::from_str(stored) {
                for (k, v) in span_fields {
                    line.entry(k).or_insert(v);
                }
            }
        }
        line.insert("target".into(), meta.target().into());
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// An event's fields as JSON values.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}
