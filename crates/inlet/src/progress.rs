//! Progress of `inlet run`: on a terminal, a board redrawn every second (state, rows, rows/s,
//! and while backfilling the share done and the time left, per stream, and totals);
//! otherwise a log line per stream that wrote, every 15 seconds.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inlet_core::Stage;
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

    /// State and rows written per sync and stream, now.
    fn snapshot(&self) -> Vec<Line> {
        let Ok(syncs) = self.syncs.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, progress) in syncs.iter() {
            if let Ok(streams) = progress.lock() {
                let mut lines: Vec<_> = streams
                    .iter()
                    .map(|(s, p)| Line {
                        sync: name.clone(),
                        stream: s.clone(),
                        state: p.state,
                        rows: p.written.inserted + p.written.updated + p.written.deleted,
                        done: p.backfill_done.filter(|_| p.state == Stage::Backfilling),
                    })
                    .collect();
                lines.sort_by(|a, b| a.stream.cmp(&b.stream));
                out.extend(lines);
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
        let started = Instant::now();
        let mut eta = Eta::default();
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
            let rate =
                |l: &Line| (l.rows - before.get(&l.label()).copied().unwrap_or(0)) as f64 / secs;
            let left: Vec<Option<Duration>> = now.iter().map(|l| eta.update(l)).collect();
            if terminal {
                let mut lines: Vec<String> = now
                    .iter()
                    .zip(&left)
                    .map(|(l, left)| {
                        format!(
                            "  {:<36} {:<12} {:>12} rows {:>10.0} rows/s  {}",
                            l.label(),
                            l.state,
                            group(l.rows),
                            rate(l),
                            estimate(l.done, *left)
                        )
                    })
                    .collect();
                let longest = left.iter().flatten().max().copied();
                lines.push(summary(
                    &now,
                    now.iter().map(rate).sum(),
                    started.elapsed(),
                    longest,
                ));
                let mut err = std::io::stderr().lock();
                if drawn > 0 {
                    let _ = write!(err, "\x1b[{drawn}F\x1b[J");
                }
                for line in &lines {
                    let _ = writeln!(err, "{line}");
                }
                drawn = lines.len();
            } else {
                for (l, left) in now.iter().zip(&left) {
                    if before.get(&l.label()) != Some(&l.rows) {
                        let done = l.done.map(|d| format!("{:.0}%", d * 100.0));
                        let left = left.map(duration);
                        tracing::info!(sync = %l.sync, stream = %l.stream, state = l.state.as_str(), rows = l.rows, done, left, "written");
                    }
                }
            }
            before = now.into_iter().map(|l| (l.label(), l.rows)).collect();
        }
    }
}

struct Line {
    sync: String,
    stream: String,
    state: Stage,
    rows: i64,
    /// The source's estimate of how much of the backfill is done, while backfilling.
    done: Option<f64>,
}

impl Line {
    /// "stripe.customer": how the board names the stream, and the key of its counts.
    fn label(&self) -> String {
        format!("{}.{}", self.sync, self.stream)
    }
}

/// Time left per backfilling stream, from how fast its estimate has moved since this
/// process first saw it (a resumed backfill starts part done: its elapsed time alone
/// would mislead).
#[derive(Default)]
struct Eta {
    first: HashMap<String, (Instant, f64)>,
}

impl Eta {
    fn update(&mut self, line: &Line) -> Option<Duration> {
        let done = line.done?;
        let (at, from) = *self
            .first
            .entry(line.label())
            .or_insert((Instant::now(), done));
        let pace = (done - from) / at.elapsed().as_secs_f64();
        (pace > 0.0).then(|| Duration::from_secs_f64((1.0 - done) / pace))
    }
}

/// "37%  ~1m20s left", from what is known.
fn estimate(done: Option<f64>, left: Option<Duration>) -> String {
    match (done, left) {
        (Some(d), Some(l)) => format!("{:>3.0}%  ~{} left", d * 100.0, duration(l)),
        (Some(d), None) => format!("{:>3.0}%", d * 100.0),
        _ => String::new(),
    }
}

/// 83 s → "1m23s".
fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The board's last line: totals, how many streams are live, and the longest time left.
/// Stripe's lists do not say how many objects they hold: its connector estimates progress
/// from the objects' creation times, so the time left is an estimate (`~`).
fn summary(lines: &[Line], rate: f64, elapsed: Duration, left: Option<Duration>) -> String {
    let rows: i64 = lines.iter().map(|l| l.rows).sum();
    let live = lines.iter().filter(|l| l.state == Stage::Live).count();
    let errored = lines.iter().filter(|l| l.state == Stage::Errored).count();
    let mut text = format!(
        "  {} rows in {} s, {rate:.0} rows/s; {live} of {} streams live",
        group(rows),
        elapsed.as_secs(),
        lines.len()
    );
    if let Some(left) = left {
        text.push_str(&format!("; backfill done in ~{}", duration(left)));
    }
    if errored > 0 {
        text.push_str(&format!(
            ", {errored} errored (inlet sync status tells why)"
        ));
    }
    text
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
