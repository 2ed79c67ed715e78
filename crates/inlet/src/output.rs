//! What commands print: aligned text for people, one JSON object for scripts (`--json`).
//! Nothing printed here ever contains a password.

use inlet_postgres::verify::{Finding, Severity};
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
        print_json(&with_problem(json!({"ok": false}), p));
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

/// The findings of a verification, most severe first, each with its fix.
pub fn findings(findings: &[Finding]) {
    if findings.is_empty() {
        println!("  checks      all passed: the sync user has what a sync needs, and no more");
        return;
    }
    for f in findings {
        let label = match f.severity {
            Severity::Critical => "CRITICAL",
            Severity::Warning => "warning",
        };
        println!("  {label:<10}  {} [{}]", f.message, f.check);
        println!("  {:<10}  fix (as an admin): {}", "", f.fix);
    }
}

/// Verification could not run (as opposed to: ran and found problems).
pub fn could_not_check(p: &Problem, json: bool) -> Code {
    if json {
        print_json(&with_problem(json!({"ok": false, "checked": false}), p));
        Code::Problem
    } else {
        eprintln!("could not check: nothing was verified");
        problem(p, None, false)
    }
}

/// `head` followed by the problem's fields (`problem`, `message`, `fix`, ...).
fn with_problem(mut head: serde_json::Value, p: &Problem) -> serde_json::Value {
    if let (Some(out), Ok(serde_json::Value::Object(fields))) =
        (head.as_object_mut(), serde_json::to_value(p))
    {
        out.extend(fields);
    }
    head
}

fn row(label: &str, value: &str) {
    println!("  {label:<8} {value}");
}

fn print_json(v: &serde_json::Value) {
    println!("{v}");
}
