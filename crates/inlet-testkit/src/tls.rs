//! Process-wide TLS material made with rcgen: a CA, a server certificate it
//! signed, an unrelated second CA, and client certificates on demand.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// Certificates and keys as PEM files in [`TlsMaterial::dir`].
#[derive(Debug)]
pub struct TlsMaterial {
    pub dir: PathBuf,
    /// The CA that signed the server certificate and the client certificates.
    pub ca_cert: PathBuf,
    /// An unrelated CA that did NOT sign the server certificate.
    pub other_ca_cert: PathBuf,
    /// Signed by `ca_cert`; its only subject alt name is DNS "localhost" (no
    /// IP address), so verify-full against 127.0.0.1 fails on the host name.
    pub server_cert: PathBuf,
    /// PKCS#8 PEM, mode 0600.
    pub server_key: PathBuf,
    pub(crate) ca: CertifiedIssuer<'static, KeyPair>,
    clients: Mutex<HashMap<String, (PathBuf, PathBuf)>>,
}

impl TlsMaterial {
    /// The process-wide material, generated on first use into
    /// `/tmp/inlet-tk/<pid>-tls/` (swept by a later run once this process is gone).
    pub fn shared() -> &'static TlsMaterial {
        static SHARED: OnceLock<TlsMaterial> = OnceLock::new();
        SHARED.get_or_init(TlsMaterial::generate)
    }

    fn generate() -> TlsMaterial {
        let dir = crate::workdir::fresh_dir("tls");
        let ca = new_ca("inlet-testkit CA");
        let other_ca = new_ca("inlet-testkit unrelated CA");

        let mut params = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("server certificate parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("generating the server key");
        let cert = params
            .signed_by(&key, &ca)
            .expect("signing the server certificate");

        let material = TlsMaterial {
            ca_cert: write_file(&dir, "ca.crt", &ca.pem(), 0o644),
            other_ca_cert: write_file(&dir, "other-ca.crt", &other_ca.pem(), 0o644),
            server_cert: write_file(&dir, "server.crt", &cert.pem(), 0o644),
            server_key: write_file(&dir, "server.key", &key.serialize_pem(), 0o600),
            dir,
            ca,
            clients: Mutex::new(HashMap::new()),
        };
        // Readable by tests whatever user they run as; the keys stay 0600.
        fs::set_permissions(
            &material.dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", material.dir.display()));
        material
    }

    /// Client certificate for `user` (CN = `user`), signed by the CA. Returns
    /// (certificate path, key path); the key is PKCS#8 PEM with mode 0600.
    /// Made once per user and process.
    pub fn client_cert(&self, user: &str) -> (PathBuf, PathBuf) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(paths) = clients.get(user) {
            return paths.clone();
        }
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, user);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("generating a client key");
        let cert = params
            .signed_by(&key, &self.ca)
            .unwrap_or_else(|e| panic!("signing the client certificate of {user:?}: {e}"));
        let stem = format!("client-{}-{}", clients.len(), file_safe(user));
        let paths = (
            write_file(&self.dir, &format!("{stem}.crt"), &cert.pem(), 0o644),
            write_file(
                &self.dir,
                &format!("{stem}.key"),
                &key.serialize_pem(),
                0o600,
            ),
        );
        clients.insert(user.to_owned(), paths.clone());
        paths
    }
}

pub(crate) fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().expect("generating a CA key");
    CertifiedIssuer::self_signed(params, key)
        .unwrap_or_else(|e| panic!("self-signing the CA certificate {name:?}: {e}"))
}

pub(crate) fn write_file(dir: &Path, name: &str, contents: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&path)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// `user` reduced to characters that are safe in a file name.
fn file_safe(user: &str) -> String {
    user.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect()
}
