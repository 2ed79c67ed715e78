//! TLS the way libpq does it: which certificate checks each `sslmode` makes, root and client
//! certificates from files, and the typed reasons a handshake fails.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

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
            Some(RootCert::File(path)) => Some(load_roots(path)?),
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
            Some(roots) => Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| {
                        Problem::new(
                            ProblemKind::InvalidOption,
                            format!("the CA certificates in sslrootcert cannot be used: {e}"),
                            "check that sslrootcert holds PEM CA certificates",
                        )
                    })?,
            ),
            None => None,
        };
        let verifier = Arc::new(ModeVerifier {
            provider: provider.clone(),
            chain,
            check_name: verify == Verify::Full,
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Problem::new(ProblemKind::InvalidOption, e.to_string(), ""))?
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

/// Turns a failed handshake into the problem a person can fix, by the rustls error type.
pub fn handshake_problem(err: &std::io::Error, host: &str, opts: &ConnectOptions) -> Problem {
    let Some(tls) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        return Problem::new(
            ProblemKind::ConnectionLost,
            format!("the connection broke during the TLS handshake: {err}"),
            "check that the port is PostgreSQL's and that no proxy interferes with TLS",
        );
    };
    let ca = match &opts.sslrootcert {
        Some(RootCert::File(p)) => format!("the CA in {}", p.display()),
        Some(RootCert::System) => "the system's trusted CAs".to_string(),
        None => "the configured CA".to_string(),
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => {
            let (what, fix) = match cert {
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => (
                    format!(
                        "the server's certificate is not valid for the host name \"{host}\" \
                         (host name check failed; the CA check passed)"
                    ),
                    format!(
                        "connect using a name the certificate lists (its subject alternative \
                         names), or use sslmode=verify-ca to check only the CA. Details: {cert:?}"
                    ),
                ),
                CertificateError::UnknownIssuer | CertificateError::BadSignature => (
                    format!("the server's certificate is not signed by {ca} (CA check failed)"),
                    "point --sslrootcert at the CA that signed the server's certificate \
                     (ask your provider or DBA for it)"
                        .to_string(),
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                    "the server's certificate has expired".to_string(),
                    "renew the server's certificate (ssl_cert_file) and reload PostgreSQL"
                        .to_string(),
                ),
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                    "the server's certificate is not valid yet".to_string(),
                    "check the clocks of this machine and the server".to_string(),
                ),
                other => (
                    format!("the server's certificate was rejected: {other:?}"),
                    format!("check the server's certificate against {ca}"),
                ),
            };
            Problem::new(ProblemKind::TlsVerifyFailed, what, fix)
        }
        rustls::Error::AlertReceived(alert) => Problem::new(
            ProblemKind::TlsHandshakeFailed,
            format!("the server ended the TLS handshake ({alert:?})"),
            if opts.sslcert.is_some() {
                "the server probably refused our client certificate: check that it is signed \
                 by the CA in the server's ssl_ca_file"
            } else {
                "check the server's TLS settings (ssl_min_protocol_version, ssl_ciphers)"
            },
        ),
        other => Problem::new(
            ProblemKind::TlsHandshakeFailed,
            format!("the TLS handshake failed: {other}"),
            "check the server's TLS settings (ssl_min_protocol_version, ssl_ciphers); inlet \
             speaks TLS 1.2 and 1.3",
        ),
    }
}

fn load_roots(path: &Path) -> Result<RootCertStore, Problem> {
    let certs = read_certs(path, "sslrootcert")?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(Problem::new(
            ProblemKind::InvalidOption,
            format!(
                "sslrootcert {} holds no usable CA certificate",
                path.display()
            ),
            "sslrootcert must be a PEM file with one or more CA certificates",
        ));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, Problem> {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(found.certs);
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
        let kind = if what == "sslrootcert" {
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

/// The server-certificate check for every sslmode: with roots, the chain is checked (and the
/// host name only for `verify-full`); without, any certificate is accepted (libpq's `require`
/// without a root certificate). Handshake signatures are always checked, so the session is
/// encrypted to whoever holds the certificate's key.
#[derive(Debug)]
struct ModeVerifier {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
}

impl ServerCertVerifier for ModeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            // webpki checks the chain first, so a name error means the chain was good.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
