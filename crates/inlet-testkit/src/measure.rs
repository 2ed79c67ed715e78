//! What the benchmarks measure with: how long a `psql` script takes (the baseline inlet is
//! compared with), and a process's peak memory.

use std::process::Command;
use std::time::Instant;

use crate::Cluster;

/// Runs `script` (SQL and psql meta-commands such as `\copy`) with `psql` from `PATH`, as
/// the superuser over the unix socket, on database `db`; returns the seconds it took. Panics
/// with psql's error if it fails.
pub fn psql_seconds(cluster: &Cluster, db: &str, script: &str) -> f64 {
    let file = std::env::temp_dir().join(format!("inlet-bench-{}.sql", std::process::id()));
    std::fs::write(&file, script).expect("write the psql script");
    let started = Instant::now();
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(cluster.socket_dir())
        .args([
            "-p",
            &cluster.port.to_string(),
            "-U",
            "postgres",
            "-d",
            db,
            "-f",
        ])
        .arg(&file)
        .output()
        .expect("run psql (Debian's postgresql-client)");
    let took = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// The peak resident memory of process `pid` so far (`VmHWM`), in MB; 0 if it cannot tell.
pub fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}
