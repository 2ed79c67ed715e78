//! TLS the way libpq does it: which certificate checks each `sslmode` makes, root and client
//! certificates from files, and the typed reasons a handshake fails.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use crate::cert_verify::ModeVerifier;
use crate::options::{ConnectOptions, RootCert, SslMode};
use crate::problem::{Problem, ProblemKind};

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Encryption only (libpq's `require`/`prefer`/`allow` without a root certificate).
    Nothing,
    /// The chain must lead to a trusted root; the host name is not checked (`verify-ca`).
    Chain,
    /// Chain and host name (`verify-full`).
    Full,
}

/// TLS settings read once from the options: files are loaded and checked before any
/// connection is attempted, so a bad path is reported as such, not as a handshake failure.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    pub verify: Verify,
    config: Arc<ClientConfig>,
    pub presents_client_cert: bool,
}

impl TlsSettings {
    pub fn load(opts: &ConnectOptions) -> Result<Self, Problem> {
        let provider = Arc::new(crypto::ring::default_provider());
        let roots = match &opts.sslrootcert {
            None => None,
            Some(RootCert::File(path)) => Some(read_certs(path, "sslrootcert")?),
            Some(RootCert::System) => {
                if opts.sslmode != SslMode::VerifyFull {
                    return Err(Problem::new(
                        ProblemKind::InvalidOption,
                        format!(
                            "sslrootcert=system cannot be combined with sslmode={}",
                            opts.sslmode
                        ),
                        "use sslmode=verify-full with sslrootcert=system (as libpq requires), \
                         or point sslrootcert at the CA file",
                    ));
                }
                Some(system_roots()?)
            }
        };
        // libpq: with a root certificate present, even `require` checks the chain.
        let verify = match (opts.sslmode, &roots) {
            (SslMode::VerifyFull, Some(_)) => Verify::Full,
            (SslMode::VerifyCa, Some(_)) => Verify::Chain,
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
                return Err(Problem::new(
                    ProblemKind::InvalidOption,
                    format!(
                        "sslmode={} needs a CA certificate to verify the server against, \
                         and none was given",
                        opts.sslmode
                    ),
                    "pass --sslrootcert PATH (the CA that signed the server's certificate; \
                     cloud providers publish theirs), use sslrootcert=system for a publicly \
                     trusted certificate, or choose sslmode=require to encrypt without verifying",
                ));
            }
            (_, Some(_)) => Verify::Chain,
            (_, None) => Verify::Nothing,
        };
        let chain = match roots {
            Some(roots) => Some(chain_verifier(roots, opts, provider.clone())?),
            None => None,
        };
        let verifier = Arc::new(ModeVerifier::new(
            provider.clone(),
            chain,
            verify == Verify::Full,
        ));
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|_| {
                Problem::new(
                    ProblemKind::InvalidOption,
                    "inlet's TLS library offers no protocol version to use",
                    "",
                )
            })?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let (config, presents_client_cert) = match client_identity(opts)? {
            Some((certs, key)) => {
                let config = builder.with_client_auth_cert(certs, key).map_err(|e| {
                    client_cert_problem(format!("the client certificate and key do not fit: {e}"))
                })?;
                (config, true)
            }
            None => (builder.with_no_client_auth(), false),
        };
        Ok(TlsSettings {
            verify,
            config: Arc::new(config),
            presents_client_cert,
        })
    }

    pub fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.config.clone())
    }
}

/// The name checked against the certificate (and sent as SNI): the host we were asked to
/// reach — through a tunnel, still the database's name, never the tunnel's.
pub fn server_name(host: &str) -> Result<ServerName<'static>, Problem> {
    ServerName::try_from(host.to_string()).map_err(|_| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("\"{host}\" is not a valid host name for TLS"),
            "use the server's DNS name or IP address",
        )
    })
}

/// webpki's chain check over `roots` (with `sslcrl`'s revocation lists, when given), and
/// the roots themselves: a server certificate that is one of them is trusted as it is.
type Chain = (Arc<WebPkiServerVerifier>, Vec<CertificateDer<'static>>);

fn chain_verifier(
    roots: Vec<CertificateDer<'static>>,
    opts: &ConnectOptions,
    provider: Arc<crypto::CryptoProvider>,
) -> Result<Chain, Problem> {
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(roots.iter().cloned());
    if added == 0 {
        return Err(Problem::new(
            ProblemKind::InvalidOption,
            "sslrootcert holds no usable CA certificate",
            "sslrootcert must be a PEM file with one or more CA certificates",
        ));
    }
    let mut builder = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider);
    if let Some(path) = &opts.sslcrl {
        // As libpq (OpenSSL's CRL_CHECK_ALL): every certificate of the chain is checked, and
        // one whose issuer has no current list in the file is refused.
        builder = builder
            .with_crls(read_crls(path)?)
            .enforce_revocation_expiration();
    }
    let webpki = builder.build().map_err(|_| {
        Problem::new(
            ProblemKind::InvalidOption,
            "the CA certificates in sslrootcert (or the revocation lists in sslcrl) cannot be used",
            "check that sslrootcert holds PEM CA certificates and sslcrl PEM revocation lists",
        )
    })?;
    Ok((webpki, roots))
}

fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, Problem> {
    let pem = read_file(path, "sslcrl")?;
    let crls: Result<Vec<_>, _> = rustls_pemfile::crls(&mut pem.as_slice()).collect();
    match crls {
        Ok(crls) if !crls.is_empty() => Ok(crls),
        _ => Err(Problem::new(
            ProblemKind::InvalidOption,
            format!(
                "sslcrl {} holds no PEM certificate revocation list",
                path.display()
            ),
            "sslcrl must be a PEM file (-----BEGIN X509 CRL-----) from the CA",
        )),
    }
}

fn system_roots() -> Result<Vec<CertificateDer<'static>>, Problem> {
    let roots = rustls_native_certs::load_native_certs().certs;
    if roots.is_empty() {
        return Err(Problem::new(
            ProblemKind::InvalidOption,
            "sslrootcert=system, but this machine has no trusted CA certificates",
            "install the ca-certificates package, or point sslrootcert at the CA file",
        ));
    }
    Ok(roots)
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, Problem> {
    let pem = read_file(path, what)?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut pem.as_slice()).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(Problem::new(
            if what == "sslcert" {
                ProblemKind::ClientCert
            } else {
                ProblemKind::InvalidOption
            },
            format!("{what} {} holds no PEM certificate", path.display()),
            format!("{what} must be a PEM file (-----BEGIN CERTIFICATE-----)"),
        )),
    }
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Problem> {
    fs::read(path).map_err(|e| {
        let kind = if what == "sslrootcert" || what == "sslcrl" {
            ProblemKind::InvalidOption
        } else {
            ProblemKind::ClientCert
        };
        Problem::new(
            kind,
            format!("cannot read {what} {}: {e}", path.display()),
            format!("check the path given as {what} and that inlet may read it"),
        )
    })
}

fn client_cert_problem(message: String) -> Problem {
    Problem::new(
        ProblemKind::ClientCert,
        message,
        "sslcert must be the PEM certificate and sslkey its PEM private key (PKCS#8, PKCS#1 \
         or SEC1), readable only by you (chmod 600)",
    )
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn client_identity(opts: &ConnectOptions) -> Result<Option<Identity>, Problem> {
    let Some(cert_path) = &opts.sslcert else {
        return Ok(None);
    };
    let key_path = opts
        .sslkey
        .clone()
        .unwrap_or_else(|| cert_path.with_extension("key"));
    let certs = read_certs(cert_path, "sslcert")?;
    check_key_permissions(&key_path)?;
    let pem = read_file(&key_path, "sslkey")?;
    let key = rustls_pemfile::private_key(&mut pem.as_slice())
        .ok()
        .flatten()
        .ok_or_else(|| {
            client_cert_problem(format!(
                "sslkey {} holds no PEM private key",
                key_path.display()
            ))
        })?;
    Ok(Some((certs, key)))
}

/// libpq refuses a private key that others can read; so do we, with the same rule: mode
/// 0600 or stricter, or owned by root and 0640 or stricter.
fn check_key_permissions(path: &Path) -> Result<(), Problem> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path)
        .map_err(|e| client_cert_problem(format!("cannot read sslkey {}: {e}", path.display())))?;
    let mode = meta.mode() & 0o777;
    let ok = if meta.uid() == 0 {
        mode & 0o037 == 0
    } else {
        mode & 0o077 == 0
    };
    if ok {
        Ok(())
    } else {
        Err(Problem::new(
            ProblemKind::ClientCert,
            format!(
                "private key file {} has group or world access (mode {mode:o})",
                path.display()
            ),
            format!("run: chmod 600 {}", path.display()),
        ))
    }
}
