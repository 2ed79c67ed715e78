//! `inlet sync rename-schema NAME NEW`: the sync moves to a new schema. The new schema is
//! created (with the read role's grants before anything is in it) and backfilled while the
//! old one keeps being served and updated; once the copy has caught up, the sync switches.
//! The old schema and its swap schema stay: inlet prints the lines that drop them.

use inlet_postgres::lifecycle::{self, Kind};
use inlet_postgres::schema_name::{check_free, swap_schema, validate, Standing};
use inlet_postgres::sink::lock_key;
use inlet_postgres::sql::ident;
use inlet_postgres::{Problem, ProblemKind};
use serde_json::{json, Value};
use tokio_postgres::Client;

use super::super::destination::connect_as_sync_user;
use crate::config::{self, Config};
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;
use inlet_runtime::carry_out::carry_out;

pub async fn rename_schema(paths: &Paths, name: &str, new: &str, json: bool) -> Code {
    match run(paths, name, new).await {
        Ok(out) => {
            print(name, &out, json);
            Code::Ok
        }
        Err(p) => output::problem(&p, None, json),
    }
}

async fn run(paths: &Paths, name: &str, new: &str) -> Result<Value, Problem> {
    let cfg = config::load(&paths.config)?;
    let mut sync = super::configured(&cfg, name)?.clone();
    let old = sync.schema.clone();
    validate(new)?;
    if new == old {
        return Err(Problem::new(
            ProblemKind::InvalidOption,
            format!("sync \"{name}\" already writes schema \"{new}\""),
            "name a different schema",
        ));
    }
    if new == swap_schema(&old) {
        return Err(Problem::new(
            ProblemKind::SchemaTaken,
            format!("\"{new}\" is the swap schema of \"{old}\", where rebuilds are built"),
            "name a different schema",
        ));
    }
    claimed_by_another(&cfg, name, &sync.destination, new)?;
    let (_, session) = connect_as_sync_user(paths, &sync.destination).await?;
    // The same rename, interrupted: NEW is ours already, and is resumed, not checked.
    let resuming = lifecycle::pending(&session.client, &old)
        .await?
        .is_some_and(|r| r.kind == Kind::Rename && r.target == new);
    if !resuming && check_free(&session.client, new).await? == Standing::Ours {
        not_synced_now(&session.client, new).await?;
    }
    if !schema_exists(&session.client, &old).await? {
        // Never synced yet: nothing to copy, the sync simply starts in the new schema.
        sync.schema = new.to_string();
        config::save_entry(&paths.config, "syncs", name, &sync)?;
        return Ok(json!({ "sync": name, "from": old, "to": new, "drop": [] }));
    }
    let req = lifecycle::request(
        &session.client,
        &old,
        Kind::Rename,
        Some(new),
        "asked for with inlet sync rename-schema",
    )
    .await?;
    carry_out(paths, name, &sync, req.id, &|note| eprintln!("{note}")).await?;
    let mut drop = vec![format!("drop schema {} cascade;", ident(&old))];
    if schema_exists(&session.client, &swap_schema(&old)).await? {
        drop.push(format!(
            "drop schema {} cascade;",
            ident(&swap_schema(&old))
        ));
    }
    Ok(json!({ "sync": name, "from": old, "to": new, "drop": drop }))
}

/// Refuses a schema another configured sync of the destination writes, or builds its
/// rebuilds in, or whose swap schema would be this one's.
pub(crate) fn claimed_by_another(
    cfg: &Config,
    name: &str,
    destination: &str,
    schema: &str,
) -> Result<(), Problem> {
    for (other, s) in cfg.syncs.iter() {
        if other == name || s.destination != destination {
            continue;
        }
        let clash = if s.schema == schema {
            Some(format!(
                "sync \"{other}\" already writes schema \"{schema}\""
            ))
        } else if swap_schema(&s.schema) == schema {
            Some(format!(
                "schema \"{schema}\" is where sync \"{other}\" builds its rebuilds"
            ))
        } else if swap_schema(schema) == s.schema {
            Some(format!(
                "the swap schema of \"{schema}\" would be \"{}\", which sync \"{other}\" writes",
                s.schema
            ))
        } else {
            None
        };
        if let Some(why) = clash {
            // A clash in the configuration alone: a usage error, nothing was attempted.
            return Err(Problem::new(
                ProblemKind::InvalidOption,
                format!("{why} (destination \"{destination}\")"),
                format!(
                    "choose another schema, e.g. {}",
                    ident(&format!("{schema}_2"))
                ),
            ));
        }
    }
    Ok(())
}

/// A schema of ours can still be another sync's (another inlet config on this database):
/// its lock says so.
async fn not_synced_now(client: &Client, schema: &str) -> Result<(), Problem> {
    let key = lock_key(schema);
    let free: bool = client
        .query_one("select pg_try_advisory_lock($1)", &[&key])
        .await
        .map_err(|e| {
            inlet_postgres::sql_problem(
                &e,
                "could not check the schema's lock",
                "pg_try_advisory_lock",
            )
        })?
        .get(0);
    if free {
        let _ = client
            .execute("select pg_advisory_unlock($1)", &[&key])
            .await;
        return Ok(());
    }
    Err(Problem::new(
        ProblemKind::SchemaTaken,
        format!("an inlet process is syncing schema \"{schema}\" right now"),
        "choose another schema name",
    ))
}

async fn schema_exists(client: &Client, schema: &str) -> Result<bool, Problem> {
    let row = client
        .query_one(
            "select exists (select 1 from pg_namespace where nspname = $1)",
            &[&schema],
        )
        .await
        .map_err(|e| {
            inlet_postgres::sql_problem(&e, "could not look up the schema", "pg_namespace")
        })?;
    Ok(row.get(0))
}

fn print(name: &str, out: &Value, json: bool) {
    if json {
        println!("{out}");
        return;
    }
    let (from, to) = (
        out["from"].as_str().unwrap_or(""),
        out["to"].as_str().unwrap_or(""),
    );
    println!("sync \"{name}\" now writes schema \"{to}\" (was \"{from}\")");
    let drop: Vec<&str> = out["drop"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if drop.is_empty() {
        return;
    }
    println!("The old schema is left in place, no longer updated. When nothing reads it any more,");
    println!(
        "you may drop it (cascade drops everything in it, objects of yours too: move those first):"
    );
    println!();
    for line in drop {
        println!("  {line}");
    }
}
