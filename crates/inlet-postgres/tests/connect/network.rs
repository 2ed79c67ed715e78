//! Failures before PostgreSQL says anything: names, ports, firewalls, silent servers.

use std::time::{Duration, Instant};

use inlet_postgres::{ConnectOptions, ProblemKind, SslMode};
use inlet_testkit::{blackhole_port, free_port, silent_port, versions};

use crate::clusters::*;

fn local(port: u16) -> ConnectOptions {
    ConnectOptions {
        host: "127.0.0.1".into(),
        port,
        user: "someone".into(),
        dbname: "postgres".into(),
        connect_timeout: Duration::from_secs(1),
        ..ConnectOptions::default()
    }
}

#[tokio::test]
async fn closed_port_is_refused() {
    let p = fails(&local(free_port()), 0, ProblemKind::Refused).await;
    assert!(p.fix.contains("port"), "{p:?}");
}

#[tokio::test]
async fn unresolvable_name_is_dns() {
    let mut o = local(5432);
    o.host = "no-such-host.invalid".into();
    let p = fails(&o, 0, ProblemKind::Dns).await;
    assert!(p.message.contains("no-such-host.invalid"), "{p:?}");
}

#[tokio::test]
async fn dropped_packets_are_a_timeout_after_connect_timeout() {
    let hole = blackhole_port();
    let started = Instant::now();
    let p = fails(&local(hole.port), 0, ProblemKind::Timeout).await;
    let waited = started.elapsed();
    assert!(
        p.fix.contains("nc -vz"),
        "must say how to test reachability: {p:?}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "gave up early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(8),
        "connect_timeout=1s not honoured: {waited:?}"
    );
}

#[tokio::test]
async fn port_that_accepts_but_never_answers_is_server_not_responding() {
    let silent = silent_port();
    for mode in [SslMode::Disable, SslMode::Prefer] {
        let mut o = local(silent.port);
        o.sslmode = mode;
        fails(&o, 0, ProblemKind::ServerNotResponding).await;
    }
}

#[tokio::test]
async fn port_speaking_another_protocol_is_not_postgres() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let mut o = local(port);
    o.sslmode = SslMode::Disable;
    o.password = Some(inlet_postgres::Secret::new("x"));
    fails(&o, 0, ProblemKind::NotPostgres).await;
}

#[tokio::test]
async fn unix_socket_connects_without_tls_whatever_the_sslmode() {
    for v in versions() {
        let c = standard(v).await;
        let mut o = local(c.port);
        o.host = c.socket_dir().to_string_lossy().into_owned();
        o.user = "postgres".into();
        o.sslmode = SslMode::Require;
        let s = connects(&o, v).await;
        assert!(s.info.tls.is_none());
        assert!(
            s.info.address.ends_with(&format!(".s.PGSQL.{}", c.port)),
            "{:?}",
            s.info
        );
    }
}
