//! The test kit's own tests: clusters of every version in `versions()`, and
//! the misbehaving ports.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use inlet_testkit::{
    blackhole_port, shared, silent_port, versions, wait_until_async, Cluster, ClusterSpec, HbaConn,
    HbaMethod, HbaRule,
};

fn ssl_cluster(major: u32) -> &'static Cluster {
    shared(&format!("ssl-{major}"), || {
        ClusterSpec::new(major).ssl(true)
    })
}

#[tokio::test]
async fn cluster_starts_and_reports_its_version() {
    for major in versions() {
        let cluster = ClusterSpec::new(major).start();
        let admin = cluster.admin().await;
        let row = admin
            .query_one("select version()", &[])
            .await
            .expect("select version()");
        let version: String = row.get(0);
        assert!(
            version.starts_with(&format!("PostgreSQL {major}.")),
            "asked for {major}, got {version}"
        );
        assert_eq!(cluster.server_version_num() / 10_000, major);
        let row = admin
            .query_one("show server_version_num", &[])
            .await
            .expect("show");
        let num: String = row.get(0);
        assert_eq!(num, cluster.server_version_num().to_string());
        assert_eq!(cluster.major, major);
    }
}

#[tokio::test]
async fn ssl_cluster_starts() {
    for major in versions() {
        let admin = ssl_cluster(major).admin().await;
        let row = admin.query_one("show ssl", &[]).await.expect("show ssl");
        assert_eq!(row.get::<_, String>(0), "on", "PostgreSQL {major}");
    }
}

#[tokio::test]
async fn shared_cluster_is_reused() {
    for major in versions() {
        let first = ssl_cluster(major);
        let second = shared(&format!("ssl-{major}"), || panic!("started a second time"));
        assert!(std::ptr::eq(first, second));
        first.exec("select 1").await;
    }
}

#[tokio::test]
async fn hba_rules_users_and_databases_work_over_tcp() {
    for major in versions() {
        let cluster = ClusterSpec::new(major)
            .hba(HbaRule::new(
                HbaConn::Host,
                "all",
                "alice",
                HbaMethod::ScramSha256,
            ))
            .hba(HbaRule::new(HbaConn::HostSsl, "all", "bob", HbaMethod::Md5))
            .setting("max_connections", "20")
            .start();
        cluster.create_user("alice", "it's secret").await;
        cluster.create_user("alice", "it's secret").await; // idempotent
        cluster.create_user("bob", "x").await;
        let db = cluster.create_database().await;
        assert!(db.starts_with("t_"), "{db}");
        let row = cluster
            .admin()
            .await
            .query_one("show max_connections", &[])
            .await
            .expect("show");
        assert_eq!(row.get::<_, String>(0), "20");

        let client = connect_tcp(&cluster, &db, "alice", "it's secret")
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL {major}: alice cannot connect: {e:?}"));
        let row = client
            .query_one("select current_user", &[])
            .await
            .expect("select");
        assert_eq!(row.get::<_, String>(0), "alice");

        let Err(err) = connect_tcp(&cluster, &db, "alice", "wrong").await else {
            panic!("PostgreSQL {major}: a wrong password was accepted");
        };
        let db_err = err
            .as_db_error()
            .expect("server error for a wrong password");
        assert_eq!(
            db_err.code().code(),
            "28P01",
            "PostgreSQL {major}: {db_err}"
        );
        // bob's only rule is hostssl: without TLS nothing matches.
        let Err(err) = connect_tcp(&cluster, &db, "bob", "x").await else {
            panic!("PostgreSQL {major}: bob got in without TLS");
        };
        let db_err = err.as_db_error().expect("server error for no hba entry");
        assert!(
            db_err.message().contains("no pg_hba.conf entry"),
            "PostgreSQL {major}: {db_err}"
        );
    }
}

/// A password login over TCP without TLS.
async fn connect_tcp(
    cluster: &Cluster,
    db: &str,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::Config::new()
        .host(cluster.host())
        .port(cluster.port)
        .user(user)
        .password(password)
        .dbname(db)
        .connect_timeout(Duration::from_secs(10))
        .connect(tokio_postgres::NoTls)
        .await?;
    tokio::spawn(connection);
    Ok(client)
}

#[tokio::test]
async fn dropping_a_cluster_stops_it_and_removes_its_directory() {
    for major in versions() {
        let cluster = ClusterSpec::new(major).start();
        let dir = cluster.socket_dir().to_owned();
        let addr = SocketAddr::from(([127, 0, 0, 1], cluster.port));
        TcpStream::connect(addr).expect("the server listens before drop");
        drop(cluster);
        assert!(!dir.exists(), "{} still exists", dir.display());
        wait_until_async(
            "the port to refuse connections",
            Duration::from_secs(10),
            || async move {
                let connect = tokio::net::TcpStream::connect(addr);
                let tried = tokio::time::timeout(Duration::from_millis(200), connect).await;
                matches!(tried, Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused)
            },
        )
        .await;
    }
}

#[test]
fn blackhole_port_hangs_connect() {
    let hole = blackhole_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], hole.port));
    match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
        Ok(_) => panic!("connected to the black hole"),
        Err(e) => assert!(
            matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock),
            "expected a timeout, got {e}"
        ),
    }
}

#[test]
fn silent_port_accepts_and_says_nothing() {
    let silent = silent_port();
    let mut stream =
        TcpStream::connect(("127.0.0.1", silent.port)).expect("connect to the silent port");
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("set_read_timeout");
    let mut buf = [0u8; 16];
    match stream.read(&mut buf) {
        Ok(n) => panic!("read {n} bytes from the silent port"),
        Err(e) => assert!(
            matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "expected a read timeout, got {e}"
        ),
    }
}

#[test]
fn failed_start_panics_with_the_server_log() {
    for major in versions() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = busy.local_addr().expect("local_addr").port().to_string();
        let spec = ClusterSpec::new(major).setting("port", &port);
        let panic = std::panic::catch_unwind(|| spec.start()).expect_err("started on a taken port");
        let message = panic
            .downcast_ref::<String>()
            .unwrap_or_else(|| panic!("PostgreSQL {major}: panic payload is not a String"));
        assert!(
            message.contains("exited during startup") && message.contains("could not bind"),
            "PostgreSQL {major}: {message}"
        );
    }
}
