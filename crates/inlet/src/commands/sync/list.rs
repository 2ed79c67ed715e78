//! `inlet sync list`.

use serde_json::json;

use crate::config;
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;

pub fn list(paths: &Paths, json: bool) -> Code {
    let cfg = match config::load(&paths.config) {
        Ok(c) => c,
        Err(p) => return output::problem(&p, None, json),
    };
    if json {
        let syncs: Vec<_> = cfg
            .syncs
            .iter()
            .map(|(name, s)| {
                json!({"name": name, "source": s.source.name(), "destination": s.destination,
                       "schema": s.schema})
            })
            .collect();
        println!("{}", json!({ "syncs": syncs }));
        return Code::Ok;
    }
    if cfg.syncs.is_empty() {
        println!("no syncs yet: inlet sync add NAME --source SOURCE --destination DEST");
    }
    for (name, s) in &cfg.syncs {
        println!(
            "{name:<20} {} → {}.{}",
            s.source.name(),
            s.destination,
            s.schema
        );
    }
    Code::Ok
}
