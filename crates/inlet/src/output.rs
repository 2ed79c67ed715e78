//! What commands print: aligned text for people, one JSON object for scripts (`--json`).
//! Nothing printed here ever contains a password.

use inlet_postgres::{ConnectOptions, Problem, ProblemKind, SessionInfo};
use serde_json::json;

use crate::exit::Code;

pub fn connected(opts: &ConnectOptions, info: &SessionInfo, json: bool) -> Code {
    if json {
        let tls = info.tls.as_ref();
        print_json(&json!({
            "ok": true,
            "server_version": info.server_version,
            "server_version_num": info.server_version_num,
            "tls": tls.is_some(),
            "tls_protocol": tls.map(|t| &t.protocol),
            "tls_cipher": tls.map(|t| &t.cipher),
            "tls_verified": tls.map(|t| t.verified),
            "tls_client_certificate": tls.map(|t| t.client_certificate),
            "host": opts.host,
            "port": opts.port,
            "user": opts.user,
            "database": opts.dbname,
            "address": info.address,
        }));
    } else {
        println!("ok: connected to {} ({})", opts.target(), info.address);
        row("server", &format!("PostgreSQL {}", info.server_version));
        let tls = match &info.tls {
            Some(t) => {
                let verified = match t.verified {
                    "full" => "certificate and host name verified",
                    "ca" => "certificate verified against the CA, host name not checked",
                    _ => "certificate NOT verified (use verify-full to be safe from impostors)",
                };
                format!("{} {}; {verified}", t.protocol, t.cipher)
            }
            None => "no: the connection is not encrypted".to_string(),
        };
        row("tls", &tls);
    }
    Code::Ok
}

pub fn problem(p: &Problem, opts: Option<&ConnectOptions>, json: bool) -> Code {
    if json {
        let mut v = json!({"ok": false});
        if let (Some(out), Ok(serde_json::Value::Object(fields))) =
            (v.as_object_mut(), serde_json::to_value(p))
        {
            out.extend(fields);
        }
        print_json(&v);
    } else {
        match opts {
            Some(o) => eprintln!("error: cannot connect to {}: {}", o.target(), p.message),
            None => eprintln!("error: {}", p.message),
        }
        eprintln!("  {:<12} {}", "problem", p.kind.as_str());
        if let (Some(code), Some(msg)) = (&p.sqlstate, &p.server_message) {
            eprintln!("  {:<12} {msg} (SQLSTATE {code})", "server said");
        }
        if !p.fix.is_empty() {
            eprintln!("  {:<12} {}", "fix", p.fix);
        }
    }
    if p.kind == ProblemKind::InvalidOption {
        Code::Usage
    } else {
        Code::Problem
    }
}

fn row(label: &str, value: &str) {
    println!("  {label:<8} {value}");
}

fn print_json(v: &serde_json::Value) {
    println!("{v}");
}
