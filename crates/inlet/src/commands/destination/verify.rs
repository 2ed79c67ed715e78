//! `inlet destination verify NAME`: everything a sync needs, every finding at once.

use inlet_postgres::verify::{self, Expectations, Severity};
use serde_json::json;

use super::connect_as_sync_user;
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;

pub async fn verify(paths: &Paths, name: &str, schema: Option<&str>, json: bool) -> Code {
    // Not connecting is a result of its own: "could not check", not a list of findings.
    let (dest, session) = match connect_as_sync_user(paths, name).await {
        Ok(c) => c,
        Err(p) => return output::could_not_check(&p, json),
    };
    let want = Expectations {
        read_role: dest.read_role.as_deref(),
        schema,
    };
    let findings = match verify::verify(&session.client, &want).await {
        Ok(f) => f,
        Err(p) => return output::could_not_check(&p, json),
    };
    let ok = !findings.iter().any(|f| f.severity == Severity::Critical);
    if json {
        println!(
            "{}",
            json!({
                "ok": ok,
                "checked": true,
                "destination": name,
                "user": dest.user,
                "server_version": session.info.server_version,
                "tls": session.info.tls.is_some(),
                "findings": findings,
            })
        );
    } else {
        println!(
            "destination \"{name}\": connected as {} to PostgreSQL {}",
            dest.user.as_deref().unwrap_or_default(),
            session.info.server_version
        );
        output::findings(&findings);
    }
    if ok {
        Code::Ok
    } else {
        Code::Problem
    }
}
