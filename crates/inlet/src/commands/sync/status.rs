//! `inlet sync status`: the status document (`inlet_runtime::status`), as text or JSON.

use inlet_core::Stage;
use inlet_runtime::status::{self, Shown, StreamStatus};
use serde_json::json;

use crate::exit::Code;
use crate::output;
use crate::paths::Paths;

pub async fn status(paths: &Paths, name: Option<&str>, json: bool) -> Code {
    let chosen = match status::chosen(paths, name) {
        Ok(c) => c,
        Err(p) => return output::problem(&p, None, json),
    };
    let mut report = Vec::new();
    let mut code = Code::Ok;
    for (sync_name, sync) in chosen {
        let st = match status::sync_status(paths, &sync_name, &sync).await {
            Ok(s) => s,
            Err(p) => {
                if !json {
                    eprintln!("sync \"{sync_name}\": cannot read its state");
                }
                code = output::problem(&p, None, json);
                continue;
            }
        };
        if st.errored() {
            code = Code::Problem;
        }
        if !json {
            print_text(&st.name, &st.destination, &st.schema, &st.streams);
            if let Some(api) = &st.api {
                print_api(api);
            }
            if !st.warnings.is_empty() {
                output::findings(&st.warnings);
            }
            if let Some(c) = &st.in_progress {
                println!(
                    "  {} in progress → schema \"{}\": {} ({} of {} streams caught up)",
                    c["kind"].as_str().unwrap_or(""),
                    c["target"].as_str().unwrap_or(""),
                    c["state"].as_str().unwrap_or(""),
                    c["caught_up"],
                    st.streams.len()
                );
            }
        }
        report.push(st.to_json());
    }
    if json {
        println!("{}", json!({ "syncs": report }));
    }
    code
}

fn print_text(name: &str, destination: &str, schema: &str, streams: &[StreamStatus]) {
    println!("{name}  → {destination}, schema \"{schema}\"");
    if streams.is_empty() {
        println!("  not started: run `inlet run`");
        return;
    }
    println!(
        "  {:<22} {:<12} {:>10} {:>8} {:>9}",
        "STREAM", "STATE", "ROWS", "LAG", "REJECTED"
    );
    for s in streams {
        let lag = s
            .lag_seconds
            .map_or("-".to_string(), |l| format!("{l:.0}s"));
        println!(
            "  {:<22} {:<12} {:>10} {:>8} {:>9}",
            s.stream,
            s.state.as_str(),
            s.rows,
            lag,
            s.rejected
        );
        if let Some(p) = s
            .partitions
            .as_ref()
            .filter(|_| s.state == Shown::Stage(Stage::Backfilling))
        {
            println!("      parts  {}/{} partitions done", p["done"], p["total"]);
        }
        for note in &s.notes {
            println!("      note   {note}");
        }
        if let Some(e) = &s.error {
            if let Some(reason) = e["reason"].as_str() {
                println!("      error  {reason}");
            }
            if let Some(fix) = e["fix"].as_str() {
                println!("      fix    {fix}");
            }
            match e["retry_in_secs"].as_u64() {
                Some(secs) => println!("      retry  in {secs}s, by itself"),
                None => println!("      retry  after the fix, at the next `inlet run`"),
            }
        }
    }
}

/// The calls a source with a daily API budget used today, and its pause, if any.
fn print_api(api: &serde_json::Value) {
    let of = match (api["day_calls"].as_u64(), api["day_ends"].as_str()) {
        (Some(calls), Some(ends)) => format!(" of the {calls} its share allows until {ends}"),
        _ => String::new(),
    };
    println!(
        "  api    {} calls today{of} (as of {})",
        api["calls_today"],
        api["updated_at"].as_str().unwrap_or("-")
    );
    if let Some(until) = api["paused"]["until"].as_str() {
        println!("  paused until {until}, by itself");
        if let Some(reason) = api["paused"]["reason"].as_str() {
            println!("         {reason}");
        }
    }
}
