//! The private network, its databases, bastions and inlet's keys, for the tunnel tests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use inlet_postgres::ssh::keys::{self, KeyType};
use inlet_postgres::ssh::SshOptions;
use inlet_postgres::{ConnectOptions, Problem, ProblemKind, RootCert, Secret, Session, SslMode};
use inlet_testkit::{
    shared, Cluster, ClusterSpec, HbaConn, HbaMethod, HbaRule, Netns, Sshd, SshdSpec, TlsMaterial,
};
use tokio::sync::OnceCell;

pub const USER: &str = "tunnel_user";
pub const PASSWORD: &str = "through the bastion";
/// The user inlet logs in as on the test bastions.
pub const SSH_USER: &str = "root";

/// A TLS-enabled cluster inside the shared private network: TCP on the namespace's
/// 127.0.0.1 only, a `hostssl` rule for [`USER`].
pub async fn private_cluster(major: u32) -> &'static Cluster {
    let key = format!("private-{major}");
    let cluster = shared(&key, || {
        ClusterSpec::new(major)
            .ssl(true)
            .in_netns(Netns::shared())
            .hba(HbaRule::new(
                HbaConn::HostSsl,
                "all",
                USER,
                HbaMethod::ScramSha256,
            ))
    });
    once(&key, cluster.create_user(USER, PASSWORD)).await;
    cluster
}

/// inlet's key pair in a directory of its own (inlet's directory: `ssh/` and `known_hosts`).
#[derive(Debug)]
pub struct Inlet {
    pub dir: tempfile::TempDir,
    pub key: PathBuf,
    pub public_key: String,
}

impl Inlet {
    pub fn new(kind: KeyType) -> Inlet {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, _) = keys::generate(&dir.path().join("ssh"), kind, false).expect("keygen");
        Inlet {
            key: info.private_key_file,
            public_key: info.public_key,
            dir,
        }
    }

    pub fn pins(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// Options for `bastion`, pinning in this inlet's directory.
    pub fn ssh(&self, bastion: &Sshd) -> SshOptions {
        let mut o = SshOptions::new(&bastion.host, SSH_USER, self.key.clone(), self.pins());
        o.port = bastion.port;
        o
    }
}

/// A bastion in the private network that lets `inlet` log in.
pub fn bastion(spec: SshdSpec, inlet: &Inlet) -> Sshd {
    spec.in_netns(Netns::shared())
        .authorize(&inlet.public_key)
        .start()
}

/// `verify-full` to "localhost" (the name in the test certificate) as the bastion sees it.
pub fn through(cluster: &Cluster, ssh: SshOptions) -> ConnectOptions {
    ConnectOptions {
        host: "localhost".into(),
        port: cluster.port,
        user: USER.into(),
        dbname: "postgres".into(),
        password: Some(Secret::new(PASSWORD)),
        sslmode: SslMode::VerifyFull,
        sslrootcert: Some(RootCert::File(TlsMaterial::shared().ca_cert.clone())),
        connect_timeout: Duration::from_secs(10),
        ssh: Some(ssh),
        ..ConnectOptions::default()
    }
}

pub async fn connects(o: &ConnectOptions) -> Session {
    match inlet_postgres::connect(o).await {
        Ok(s) => s,
        Err(p) => panic!("should connect through {:?}, got {p:#?}", o.ssh),
    }
}

/// The SSH details of a problem (empty when it has none).
pub fn detail(p: &Problem) -> inlet_postgres::SshDetail {
    p.ssh.as_deref().cloned().unwrap_or_default()
}

pub async fn fails(o: &ConnectOptions, kind: ProblemKind) -> Problem {
    match inlet_postgres::connect(o).await {
        Ok(s) => panic!("should fail with {kind:?}, but connected ({:?})", s.info),
        Err(p) => {
            assert_eq!(p.kind, kind, "{p:#?}");
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

/// A query that only succeeds on a working session.
pub async fn client_address(s: &Session) -> String {
    let row = s
        .client
        .query_one("select coalesce(host(inet_client_addr()), 'local')", &[])
        .await
        .expect("query through the tunnel");
    row.get(0)
}

/// Runs `init` once per key for the whole test binary.
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
