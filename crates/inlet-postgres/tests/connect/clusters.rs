//! The clusters these tests need, started once per version and shared.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use inlet_postgres::{ConnectOptions, Problem, ProblemKind, Secret, Session, SslMode};
use inlet_testkit::{shared, Cluster, ClusterSpec, HbaConn, HbaMethod, HbaRule, TlsMaterial};
use tokio::sync::OnceCell;

pub const PASSWORD: &str = "correct horse battery staple";

/// Roles of the standard cluster, each admitted by exactly one kind of `pg_hba.conf` rule.
pub const SCRAM_USER: &str = "scram_user"; // host, scram-sha-256: with or without TLS
pub const MD5_USER: &str = "md5_user"; // host, md5, password stored as md5
pub const SSL_ONLY: &str = "ssl_only"; // hostssl only
pub const NOSSL_ONLY: &str = "nossl_only"; // hostnossl only
pub const CERT_USER: &str = "cert_user"; // hostssl, cert
/// A database where anyone is trusted, so a missing role is reported as such.
pub const TRUST_DB: &str = "trust_db";

/// TLS on, a rule per role above; set up once per version.
pub async fn standard(major: u32) -> &'static Cluster {
    let cluster = shared(&format!("standard-{major}"), || {
        ClusterSpec::new(major)
            .ssl(true)
            .hba(HbaRule::new(
                HbaConn::Host,
                TRUST_DB,
                "all",
                HbaMethod::Trust,
            ))
            .hba(HbaRule::new(
                HbaConn::Host,
                "all",
                SCRAM_USER,
                HbaMethod::ScramSha256,
            ))
            .hba(HbaRule::new(HbaConn::Host, "all", MD5_USER, HbaMethod::Md5))
            .hba(HbaRule::new(
                HbaConn::HostSsl,
                "all",
                SSL_ONLY,
                HbaMethod::ScramSha256,
            ))
            .hba(HbaRule::new(
                HbaConn::HostNoSsl,
                "all",
                NOSSL_ONLY,
                HbaMethod::ScramSha256,
            ))
            .hba(HbaRule::new(
                HbaConn::HostSsl,
                "all",
                CERT_USER,
                HbaMethod::Cert,
            ))
    });
    once(&format!("standard-{major}"), async {
        for user in [SCRAM_USER, SSL_ONLY, NOSSL_ONLY, CERT_USER] {
            cluster.create_user(user, PASSWORD).await;
        }
        cluster
            .exec(&format!(
                "set password_encryption = 'md5'; \
                 create role {MD5_USER} login password '{PASSWORD}';"
            ))
            .await;
        cluster.exec(&format!("create database {TRUST_DB}")).await;
    })
    .await;
    cluster
}

/// TLS off; any role with a password.
pub async fn without_tls(major: u32) -> &'static Cluster {
    let cluster = shared(&format!("nossl-{major}"), || {
        ClusterSpec::new(major).ssl(false).hba(HbaRule::new(
            HbaConn::Host,
            "all",
            "all",
            HbaMethod::ScramSha256,
        ))
    });
    once(
        &format!("nossl-{major}"),
        cluster.create_user(SCRAM_USER, PASSWORD),
    )
    .await;
    cluster
}

/// Room for two connections only (no reserved slots), to fill it up.
pub async fn tiny(major: u32) -> &'static Cluster {
    let cluster = shared(&format!("tiny-{major}"), || {
        ClusterSpec::new(major)
            .hba(HbaRule::new(
                HbaConn::Host,
                "all",
                "all",
                HbaMethod::ScramSha256,
            ))
            .setting("max_connections", "3")
            .setting("superuser_reserved_connections", "0")
            .setting("max_wal_senders", "0")
    });
    once(
        &format!("tiny-{major}"),
        cluster.create_user(SCRAM_USER, PASSWORD),
    )
    .await;
    cluster
}

/// Runs `init` once per key for the whole test binary, whichever test gets there first.
async fn once(key: &str, init: impl std::future::Future<Output = ()>) {
    static CELLS: OnceLock<Mutex<HashMap<String, &'static OnceCell<()>>>> = OnceLock::new();
    let cell: &'static OnceCell<()> = CELLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.to_owned())
        .or_insert_with(|| Box::leak(Box::new(OnceCell::new())));
    cell.get_or_init(|| init).await;
}

/// Options for `user` on `cluster`, password set, TLS as asked.
pub fn opts(cluster: &Cluster, user: &str, sslmode: SslMode) -> ConnectOptions {
    ConnectOptions {
        host: cluster.host().to_string(),
        port: cluster.port,
        user: user.to_string(),
        dbname: "postgres".to_string(),
        password: Some(Secret::new(PASSWORD)),
        sslmode,
        ..ConnectOptions::default()
    }
}

/// With the test CA as `sslrootcert`.
pub fn with_ca(mut o: ConnectOptions) -> ConnectOptions {
    o.sslrootcert = Some(inlet_postgres::RootCert::File(
        TlsMaterial::shared().ca_cert.clone(),
    ));
    o
}

pub async fn connects(o: &ConnectOptions, major: u32) -> Session {
    match inlet_postgres::connect(o).await {
        Ok(s) => s,
        Err(p) => panic!(
            "PG {major}: {} with sslmode={} should connect, got {p:?}",
            o.user, o.sslmode
        ),
    }
}

pub async fn fails(o: &ConnectOptions, major: u32, kind: ProblemKind) -> Problem {
    match inlet_postgres::connect(o).await {
        Ok(s) => panic!(
            "PG {major}: {} with sslmode={} should fail with {kind:?}, but connected ({:?})",
            o.user, o.sslmode, s.info
        ),
        Err(p) => {
            assert_eq!(
                p.kind, kind,
                "PG {major}: {} sslmode={}: {p:#?}",
                o.user, o.sslmode
            );
            assert!(!p.fix.is_empty(), "every problem says how to fix it: {p:?}");
            inlet_testkit::assert_plain_words(&format!("{}\n{}", p.message, p.fix));
            assert!(
                !format!("{p:?}").contains(PASSWORD),
                "the password leaked: {p:?}"
            );
            p
        }
    }
}
