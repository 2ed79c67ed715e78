//! Server certificates of every shape users meet, for comparing inlet's TLS verdicts with
//! libpq's: each with the chain the server sends, its key, the root certificate a client is
//! given, the revocation list (if any) and the host name to connect with.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber,
};

use crate::tls::{new_ca, write_file, TlsMaterial};

/// One server certificate and what a client is given to check it.
#[derive(Debug, Clone)]
pub struct ServerCertShape {
    /// e.g. `cn_only`; says what is special about the certificate.
    pub name: &'static str,
    /// PEM: the server's certificate, then any intermediate CA it sends.
    pub chain: PathBuf,
    /// The server's private key (PEM, mode 0600).
    pub key: PathBuf,
    /// The `sslrootcert` a client is given.
    pub root: PathBuf,
    /// The `sslcrl` a client is given.
    pub crl: Option<PathBuf>,
    /// The host name to connect with (it resolves nowhere: connect with hostaddr 127.0.0.1).
    pub host: &'static str,
}

/// The shapes, made once per process. The first is the PostgreSQL manual's own recipe, made
/// with the `openssl` command exactly as the manual shows it: a self-signed `CA:TRUE`
/// certificate naming the host only in its common name, given to clients as their root.
pub fn server_cert_shapes() -> &'static [ServerCertShape] {
    static SHAPES: OnceLock<Vec<ServerCertShape>> = OnceLock::new();
    SHAPES.get_or_init(make_shapes)
}

/// How a leaf certificate differs from the plain one (SAN DNS `localhost`, CN `localhost`).
struct Leaf {
    sans: Vec<SanType>,
    common_name: &'static str,
    validity: Option<(i32, i32)>,
    serial: Option<u8>,
    is_ca: bool,
}

impl Leaf {
    fn dns(names: &[&str], common_name: &'static str) -> Leaf {
        Leaf {
            sans: names
                .iter()
                .map(|n| SanType::DnsName((*n).try_into().expect("an ASCII DNS name")))
                .collect(),
            common_name,
            validity: None,
            serial: None,
            is_ca: false,
        }
    }
}

fn make_shapes() -> Vec<ServerCertShape> {
    let material = TlsMaterial::shared();
    let dir = crate::workdir::fresh_dir("shapes");
    let ca = &material.ca;
    let ca_root = material.ca_cert.clone();
    let localhost = || Leaf::dns(&["localhost"], "localhost");
    let mut shapes = vec![manual_self_signed(&dir)];
    let mut add = |name: &'static str, leaf: Leaf, host: &'static str| {
        let (chain, key) = sign(&dir, name, leaf, ca, "");
        shapes.push(ServerCertShape {
            name,
            chain,
            key,
            root: ca_root.clone(),
            crl: None,
            host,
        });
    };
    add("san_dns", localhost(), "localhost");
    add("cn_only", Leaf::dns(&[], "localhost"), "localhost");
    add(
        "dns_san_hides_cn",
        Leaf::dns(&["db.example.com"], "localhost"),
        "localhost",
    );
    let ip = Leaf {
        sans: vec![SanType::IpAddress([127, 0, 0, 1].into())],
        ..Leaf::dns(&[], "inlet test server")
    };
    add("san_ip", ip, "127.0.0.1");
    add(
        "cn_ip_beside_dns_san",
        Leaf::dns(&["localhost"], "127.0.0.1"),
        "127.0.0.1",
    );
    add(
        "wildcard",
        Leaf::dns(&["*.inlet.test"], "inlet test server"),
        "db.inlet.test",
    );
    add(
        "wildcard_two_labels_deep",
        Leaf::dns(&["*.inlet.test"], "inlet test server"),
        "a.db.inlet.test",
    );
    let expired = Leaf {
        validity: Some((2001, 2002)),
        ..localhost()
    };
    add("expired", expired, "localhost");
    let future = Leaf {
        validity: Some((2090, 2099)),
        ..localhost()
    };
    add("not_yet_valid", future, "localhost");
    add(
        "wrong_host",
        Leaf::dns(&["db.example.com"], "db.example.com"),
        "localhost",
    );
    let ca_leaf = Leaf {
        is_ca: true,
        ..localhost()
    };
    add("ca_true_signed_by_ca", ca_leaf, "localhost");

    let (chain, key) = sign(&dir, "wrong_ca", localhost(), ca, "");
    shapes.push(ServerCertShape {
        name: "wrong_ca",
        chain,
        key,
        root: material.other_ca_cert.clone(),
        crl: None,
        host: "localhost",
    });

    // An intermediate CA between the root and the server, sent by the server.
    let root = new_ca("inlet-testkit second root");
    let intermediate = intermediate_ca(&root);
    let (chain, key) = sign(
        &dir,
        "intermediate",
        localhost(),
        &intermediate,
        &intermediate.pem(),
    );
    shapes.push(ServerCertShape {
        name: "intermediate",
        chain,
        key,
        root: write_file(&dir, "intermediate-root.crt", &root.pem(), 0o644),
        crl: None,
        host: "localhost",
    });

    // The CA's revocation list names serial 0x51 only.
    let crl = write_file(&dir, "ca.crl", &revocation_list(ca, 0x51), 0o644);
    for (name, serial) in [("revoked", 0x51), ("crl_not_listing", 0x52)] {
        let leaf = Leaf {
            serial: Some(serial),
            ..localhost()
        };
        let (chain, key) = sign(&dir, name, leaf, ca, "");
        shapes.push(ServerCertShape {
            name,
            chain,
            key,
            root: ca_root.clone(),
            crl: Some(crl.clone()),
            host: "localhost",
        });
    }
    shapes
}

/// Signs `leaf`; returns (chain file: the certificate then `extra_pem`, key file).
fn sign(
    dir: &Path,
    name: &str,
    leaf: Leaf,
    issuer: &CertifiedIssuer<'static, KeyPair>,
    extra_pem: &str,
) -> (PathBuf, PathBuf) {
    let mut params = CertificateParams::default();
    params.subject_alt_names = leaf.sans;
    params
        .distinguished_name
        .push(DnType::CommonName, leaf.common_name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if let Some((from, to)) = leaf.validity {
        params.not_before = date_time_ymd(from, 1, 1);
        params.not_after = date_time_ymd(to, 1, 1);
    }
    if let Some(serial) = leaf.serial {
        params.serial_number = Some(SerialNumber::from(vec![serial]));
    }
    if leaf.is_ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages.push(KeyUsagePurpose::KeyCertSign);
    }
    let key = KeyPair::generate().expect("generating a server key");
    let cert = params
        .signed_by(&key, issuer)
        .unwrap_or_else(|e| panic!("signing the {name} certificate: {e}"));
    (
        write_file(
            dir,
            &format!("{name}.crt"),
            &format!("{}{extra_pem}", cert.pem()),
            0o644,
        ),
        write_file(dir, &format!("{name}.key"), &key.serialize_pem(), 0o600),
    )
}

fn intermediate_ca(root: &CertifiedIssuer<'static, KeyPair>) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "inlet-testkit intermediate CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().expect("generating the intermediate CA key");
    CertifiedIssuer::signed_by(params, key, root).expect("signing the intermediate CA")
}

/// A PEM revocation list from `ca` revoking the certificate with serial `serial`.
fn revocation_list(ca: &CertifiedIssuer<'static, KeyPair>, serial: u8) -> String {
    let params = CertificateRevocationListParams {
        this_update: date_time_ymd(2020, 1, 1),
        next_update: date_time_ymd(2099, 1, 1),
        crl_number: SerialNumber::from(vec![1]),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(vec![serial]),
            revocation_time: date_time_ymd(2020, 1, 2),
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params
        .signed_by(ca)
        .and_then(|crl| crl.pem())
        .expect("signing the revocation list")
}

/// The manual's recipe ("Creating Certificates", server-side TLS), run as written, with
/// `localhost` as the host name: its certificate is both the server's and the clients' root.
fn manual_self_signed(dir: &Path) -> ServerCertShape {
    let (chain, key) = (dir.join("manual.crt"), dir.join("manual.key"));
    let out = Command::new("openssl")
        .args([
            "req", "-new", "-x509", "-days", "365", "-nodes", "-text", "-out",
        ])
        .arg(&chain)
        .arg("-keyout")
        .arg(&key)
        .args(["-subj", "/CN=localhost"])
        .output()
        .expect("run openssl (scripts/install-deps installs it)");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ServerCertShape {
        name: "manual_self_signed_ca",
        root: chain.clone(),
        chain,
        key,
        crl: None,
        host: "localhost",
    }
}
