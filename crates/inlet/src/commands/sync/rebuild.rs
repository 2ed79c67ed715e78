//! `inlet sync rebuild NAME`: a full copy built in the swap schema while the live schema
//! keeps updating, then swapped in (see `inlet_postgres::swap`).

use inlet_postgres::lifecycle::{self, Kind};
use inlet_postgres::Problem;
use serde_json::{json, Value};

use super::super::destination::connect_as_sync_user;
use crate::config;
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;
use inlet_runtime::carry_out::carry_out;

pub async fn rebuild(paths: &Paths, name: &str, json: bool) -> Code {
    match run(paths, name).await {
        Ok(report) => {
            print(name, &report, json);
            Code::Ok
        }
        Err(p) => output::problem(&p, None, json),
    }
}

async fn run(paths: &Paths, name: &str) -> Result<Value, Problem> {
    let cfg = config::load(&paths.config)?;
    let sync = super::configured(&cfg, name)?.clone();
    let (_, session) = connect_as_sync_user(paths, &sync.destination).await?;
    let req = lifecycle::request(
        &session.client,
        &sync.schema,
        Kind::Rebuild,
        None,
        "asked for with inlet sync rebuild",
    )
    .await?;
    drop(session);
    let report = carry_out(paths, name, &sync, req.id, &|note| eprintln!("{note}")).await?;
    Ok(json!({ "sync": name, "schema": sync.schema, "swap_schema": req.target, "report": report }))
}

fn print(name: &str, out: &Value, json: bool) {
    if json {
        println!("{out}");
        return;
    }
    let r = &out["report"];
    println!(
        "sync \"{name}\": rebuilt schema \"{}\"",
        out["schema"].as_str().unwrap_or("")
    );
    let list = |v: &Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    println!("  replaced     {}", list(&r["replaced"]));
    if let Some(merged) = r["merged"].as_array().filter(|m| !m.is_empty()) {
        for m in merged {
            println!(
                "  refreshed in place  {} (your objects use it: {})",
                m["table"].as_str().unwrap_or(""),
                list(&m["bound"])
            );
        }
    }
    if let Some(left) = r["left_alone"].as_array().filter(|m| !m.is_empty()) {
        for l in left {
            println!(
                "  left alone   {} ({})",
                l[0].as_str().unwrap_or(""),
                l[1].as_str().unwrap_or("")
            );
        }
    }
    println!(
        "  lock held    {:.1} ms (readers waited at most this long)",
        r["lock_ms"].as_f64().unwrap_or(0.0)
    );
}
