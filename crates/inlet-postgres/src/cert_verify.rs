//! The server-certificate check for every sslmode, deciding as libpq (OpenSSL) decides:
//!
//! * no root certificates: any certificate is accepted (`require` without `sslrootcert`);
//! * with roots, the chain must lead to one of them (webpki), and the certificate must be
//!   within its validity and, with `sslcrl`, not revoked. A certificate that is itself one of
//!   the roots is trusted as it is, as OpenSSL does: the PostgreSQL manual's self-signed
//!   `CA:TRUE` server certificate copied to clients as `root.crt`;
//! * `verify-full` then compares the host with the certificate's names by libpq's rule
//!   ([`crate::peer_name`]), subject common name included.
//!
//! Handshake signatures are always checked, so the session is encrypted to whoever holds the
//! certificate's key. A refusal is a [`Refusal`] (carried inside rustls' error), which says in
//! words which check failed and what the server presented.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use crate::cert_info::CertInfo;
use crate::peer_name;

/// Which check refused the server's certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The chain does not lead to a root certificate the user trusts.
    Ca,
    /// The certificate is a CA certificate (`CA:TRUE`) and not itself a trusted root.
    CaAsServer,
    Expired,
    NotYetValid,
    /// Listed in `sslcrl`.
    Revoked,
    /// `sslcrl` holds no current revocation list from an issuer in the chain.
    RevocationUnknown,
    /// The certificate does not name the host (`verify-full`).
    HostName,
    /// The certificate is not for a server (its extended key usage says otherwise).
    Purpose,
    /// The certificate cannot be read, or uses an algorithm inlet cannot check.
    Unreadable,
}

impl Check {
    /// The check's name in a message.
    pub fn name(self) -> &'static str {
        match self {
            Check::Ca => "CA check failed",
            Check::CaAsServer => "CA certificate used as the server's",
            Check::Expired => "expired",
            Check::NotYetValid => "not valid yet",
            Check::Revoked => "revoked",
            Check::RevocationUnknown => "revocation status unknown",
            Check::HostName => "host name check failed",
            Check::Purpose => "not a server certificate",
            Check::Unreadable => "unreadable certificate",
        }
    }
}

/// The server's certificate was refused: which check, and what was presented.
#[derive(Clone, Debug, thiserror::Error)]
#[error("the server's certificate was refused ({})", check.name())]
pub struct Refusal {
    pub check: Check,
    /// `None` when the certificate cannot be parsed.
    pub presented: Option<Box<CertInfo>>,
}

#[derive(Debug)]
pub struct ModeVerifier {
    provider: Arc<CryptoProvider>,
    /// With root certificates: webpki's chain check, and the roots themselves.
    chain: Option<(Arc<WebPkiServerVerifier>, Vec<CertificateDer<'static>>)>,
    check_name: bool,
}

impl ModeVerifier {
    pub fn new(
        provider: Arc<CryptoProvider>,
        chain: Option<(Arc<WebPkiServerVerifier>, Vec<CertificateDer<'static>>)>,
        check_name: bool,
    ) -> Self {
        ModeVerifier {
            provider,
            chain,
            check_name,
        }
    }

    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<(), Refusal> {
        let Some((webpki, roots)) = &self.chain else {
            return Ok(());
        };
        let presented = CertInfo::parse(end_entity).map(Box::new);
        let refuse = |check| Refusal {
            check,
            presented: presented.clone(),
        };
        if roots
            .iter()
            .any(|root| root.as_ref() == end_entity.as_ref())
        {
            // Trusted as it is; OpenSSL still checks its dates.
            let info = presented
                .as_ref()
                .ok_or_else(|| refuse(Check::Unreadable))?;
            let now = now.as_secs() as i64;
            if now > info.not_after {
                return Err(refuse(Check::Expired));
            }
            if now < info.not_before {
                return Err(refuse(Check::NotYetValid));
            }
        } else {
            match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                Ok(_) => {}
                // webpki checks the chain before the name: a name error means the chain is good.
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => {}
                Err(rustls::Error::InvalidCertificate(e)) => {
                    let is_ca = presented.as_ref().is_some_and(|p| p.is_ca);
                    return Err(refuse(check_of(&e, is_ca)));
                }
                Err(_) => return Err(refuse(Check::Unreadable)),
            }
        }
        if self.check_name {
            let host = match server_name {
                ServerName::DnsName(name) => name.as_ref().to_string(),
                ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
                _ => String::new(),
            };
            let info = presented
                .as_ref()
                .ok_or_else(|| refuse(Check::Unreadable))?;
            if !peer_name::host_matches(&host, &info.names) {
                return Err(refuse(Check::HostName));
            }
        }
        Ok(())
    }
}

/// webpki's verdict as the check a person understands.
fn check_of(e: &CertificateError, is_ca: bool) -> Check {
    match e {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => Check::Ca,
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => Check::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            Check::NotYetValid
        }
        CertificateError::Revoked => Check::Revoked,
        CertificateError::UnknownRevocationStatus
        | CertificateError::ExpiredRevocationList
        | CertificateError::ExpiredRevocationListContext { .. } => Check::RevocationUnknown,
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            Check::Purpose
        }
        // webpki refuses a CA certificate as the server's (`CaUsedAsEndEntity`, reported as
        // an "other" error), whoever signed it.
        _ if is_ca => Check::CaAsServer,
        _ => Check::Unreadable,
    }
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
        self.check(end_entity, intermediates, server_name, ocsp, now)
            .map(|()| ServerCertVerified::assertion())
            .map_err(|refusal| {
                rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
                    refusal,
                ))))
            })
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
