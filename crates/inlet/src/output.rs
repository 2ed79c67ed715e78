//! What commands print: aligned text for people, one JSON object for scripts (`--json`).
//! Nothing printed here ever contains a password.

use inlet_postgres::ssh::keys::{install_steps, KeyInfo};
use inlet_postgres::ssh::{HostKeyTrust, SshRoute};
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
            "ssh": info.ssh,
        }));
    } else {
        let via = info
            .ssh
            .as_ref()
            .map(|r| format!(" via ssh {}@{}:{}", r.user, r.host, r.port))
            .unwrap_or_default();
        println!("ok: connected to {} ({}{via})", opts.target(), info.address);
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
        if let Some(route) = &info.ssh {
            row("ssh", &ssh_row(route));
            if route.host_key == HostKeyTrust::PinnedNow {
                eprintln!(
                    "note: pinned host key for {} {} in {} (first use); a different key will be \
                     refused",
                    bastion_name(route),
                    route.host_key_fingerprint,
                    route.host_key_file.display()
                );
            }
        }
    }
    Code::Ok
}

fn ssh_row(route: &SshRoute) -> String {
    let how = match route.host_key {
        HostKeyTrust::KnownHosts => "listed in",
        HostKeyTrust::Pinned => "matches the pin in",
        HostKeyTrust::PinnedNow => "pinned now (first use) in",
    };
    format!(
        "{}@{}:{}, host key {} {how} {}",
        route.user,
        route.host,
        route.port,
        route.host_key_fingerprint,
        route.host_key_file.display()
    )
}

/// The bastion as known_hosts names it: `host`, or `[host]:port` off port 22.
fn bastion_name(route: &SshRoute) -> String {
    inlet_postgres::ssh::known_hosts::host_name(&route.host, route.port)
}

/// A key pair made (`created`) or shown, with the steps that install it on a bastion.
pub fn ssh_key(key: &KeyInfo, created: bool, replaced: Option<&KeyInfo>, json: bool) -> Code {
    if json {
        print_json(&json!({
            "ok": true,
            "created": created,
            "algorithm": key.algorithm,
            "public_key": key.public_key,
            "fingerprint": key.fingerprint,
            "private_key_file": key.private_key_file,
            "public_key_file": key.public_key_file,
            "replaced_fingerprint": replaced.map(|r| &r.fingerprint),
        }));
        return Code::Ok;
    }
    if created {
        println!("created an SSH key pair for tunnels ({})", key.algorithm);
    }
    if let Some(old) = replaced {
        println!(
            "  replaced {} {}: remove its line from the bastion's authorized_keys",
            old.algorithm, old.fingerprint
        );
    }
    println!(
        "  {:<12} {} (readable by its owner only; it never leaves this machine)",
        "private key",
        key.private_key_file.display()
    );
    println!("  {:<12} {}", "public key", key.public_key_file.display());
    println!("  {:<12} {}", "fingerprint", key.fingerprint);
    println!("\n{}\n", key.public_key);
    println!("Install it on the bastion: log in as the user inlet will use (--ssh-user) and run\n");
    for line in install_steps(&key.public_key).lines() {
        println!("  {line}");
    }
    println!(
        "\nOptional hardening: begin the line with\n  \
         restrict,port-forwarding,permitopen=\"DB_HOST:5432\"\n\
         so that this key can only open a tunnel to the database.\n\n\
         Then check the route:\n  \
         inlet destination check --ssh-host BASTION --ssh-user USER --host DB_HOST --user DB_USER \
         --dbname DB"
    );
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
        // A fix may hold commands, one per line: keep them aligned under the first.
        for (i, line) in p.fix.lines().enumerate() {
            let label = if i == 0 { "fix" } else { "" };
            eprintln!("  {label:<12} {line}");
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
