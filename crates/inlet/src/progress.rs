//! Progress of `inlet run`: on a terminal, a board redrawn every second (rows and rows/s per
//! stream); otherwise a log line per sync every 15 seconds.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inlet_postgres::sink::Progress;
use tokio::sync::watch;

#[derive(Clone, Debug, Default)]
pub struct Board {
    syncs: Arc<Mutex<Vec<(String, Progress)>>>,
}

impl Board {
    pub fn new() -> Self {
        Board::default()
    }

    /// Shows `progress` as sync `name` (replacing an earlier one of that name).
    pub fn watch(&self, name: &str, progress: Progress) {
        if let Ok(mut syncs) = self.syncs.lock() {
            syncs.retain(|(n, _)| n != name);
            syncs.push((name.to_string(), progress));
        }
    }

    /// Rows written per sync and stream, now.
    fn snapshot(&self) -> Vec<(String, i64)> {
        let Ok(syncs) = self.syncs.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, progress) in syncs.iter() {
            if let Ok(streams) = progress.lock() {
                let mut rows: Vec<_> = streams
                    .iter()
                    .map(|(s, st)| (format!("{name}.{s}"), st.inserted + st.updated + st.deleted))
                    .collect();
                rows.sort();
                out.extend(rows);
            }
        }
        out
    }

    pub async fn report(self, mut stop: watch::Receiver<bool>) {
        let terminal = std::io::stderr().is_terminal();
        let every = if terminal {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(15)
        };
        let mut before: HashMap<String, i64> = HashMap::new();
        let mut at = Instant::now();
        let mut drawn = 0;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let now = self.snapshot();
            let secs = at.elapsed().as_secs_f64().max(0.001);
            at = Instant::now();
            let lines: Vec<String> = now
                .iter()
                .map(|(stream, rows)| {
                    let rate = (rows - before.get(stream).copied().unwrap_or(0)) as f64 / secs;
                    format!(
                        "  {stream:<36} {:>12} rows {:>10.0} rows/s",
                        group(*rows),
                        rate
                    )
                })
                .collect();
            if terminal {
                let mut err = std::io::stderr().lock();
                if drawn > 0 {
                    let _ = write!(err, "\x1b[{drawn}F\x1b[J");
                }
                for line in &lines {
                    let _ = writeln!(err, "{line}");
                }
                drawn = lines.len();
            } else {
                for (stream, rows) in &now {
                    if before.get(stream) != Some(rows) {
                        tracing::info!(%stream, rows, "written");
                    }
                }
            }
            before = now.into_iter().collect();
        }
    }
}

/// 1234567 → "1,234,567".
fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}
