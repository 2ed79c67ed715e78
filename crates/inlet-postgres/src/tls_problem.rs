//! A failed TLS handshake as the problem a person can fix: which check failed, what the
//! server presented (subject, names, issuer, validity), and what to do. Classified by error
//! type; library error text never reaches the message.

use std::time::{SystemTime, UNIX_EPOCH};

use rustls::{AlertDescription, CertificateError};

use crate::cert_info::{utc_text, CertInfo};
use crate::cert_verify::{Check, Refusal};
use crate::options::{ConnectOptions, RootCert};
use crate::problem::{Problem, ProblemKind};

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
    let handshake = |what: &str, fix: &str| {
        Problem::new(
            ProblemKind::TlsHandshakeFailed,
            format!("the TLS handshake failed: {what}"),
            fix,
        )
    };
    const SETTINGS: &str = "check the server's TLS settings (ssl_min_protocol_version, \
                            ssl_ciphers); inlet speaks TLS 1.2 and 1.3";
    match tls {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            match other.0.downcast_ref::<Refusal>() {
                Some(refusal) => refused(refusal, host, opts),
                None => handshake("the server's certificate was refused", SETTINGS),
            }
        }
        rustls::Error::InvalidCertificate(_) => {
            handshake("the server's certificate was refused", SETTINGS)
        }
        rustls::Error::AlertReceived(alert) => Problem::new(
            ProblemKind::TlsHandshakeFailed,
            format!(
                "the server ended the TLS handshake (TLS alert \"{}\")",
                alert_words(*alert)
            ),
            if opts.sslcert.is_some() {
                "the server probably refused our client certificate: check that it is signed \
                 by the CA in the server's ssl_ca_file"
            } else {
                SETTINGS
            },
        ),
        rustls::Error::NoCertificatesPresented => handshake(
            "the server presented no certificate",
            "set ssl_cert_file and ssl_key_file on the server and reload PostgreSQL",
        ),
        rustls::Error::PeerIncompatible(_) => handshake(
            "the server supports no TLS version or cipher suite that inlet speaks",
            SETTINGS,
        ),
        rustls::Error::PeerMisbehaved(_) | rustls::Error::InvalidMessage(_) => handshake(
            "the server broke the TLS protocol",
            "check that the port is PostgreSQL's and that no proxy interferes with TLS",
        ),
        _ => handshake(
            "the server and inlet could not agree on a TLS session",
            SETTINGS,
        ),
    }
}

/// The problem for a certificate the verifier refused.
fn refused(refusal: &Refusal, host: &str, opts: &ConnectOptions) -> Problem {
    let ca = match &opts.sslrootcert {
        Some(RootCert::File(p)) => format!("the CA in {}", p.display()),
        Some(RootCert::System) => "the system's trusted CAs".to_string(),
        None => "the configured CA".to_string(),
    };
    let Some(cert) = &refusal.presented else {
        return Problem::new(
            ProblemKind::TlsVerifyFailed,
            "the server's certificate cannot be read (unreadable certificate)",
            "check the server's ssl_cert_file: it must be a PEM X.509 certificate",
        );
    };
    let (what, fix) = match refusal.check {
        Check::Ca => (
            format!("the server's certificate is not signed by {ca} (CA check failed)"),
            format!(
                "point --sslrootcert at the CA that signed the server's certificate (its \
                 issuer is \"{}\"; ask your provider or DBA for it)",
                cert.issuer
            ),
        ),
        Check::CaAsServer => (
            format!(
                "the server's certificate is itself a CA certificate (CA:TRUE) and is not one \
                 of {ca} (CA certificate used as the server's)"
            ),
            "give sslrootcert that very certificate (as for the PostgreSQL manual's \
             self-signed server certificate), or give the server a certificate without \
             CA:TRUE signed by your CA"
                .to_string(),
        ),
        Check::Expired => (
            format!(
                "the server's certificate has expired (on {})",
                utc_text(cert.not_after)
            ),
            "renew the server's certificate (ssl_cert_file) and reload PostgreSQL".to_string(),
        ),
        Check::NotYetValid => (
            format!(
                "the server's certificate is not valid yet (not before {}; this machine's \
                 clock says {})",
                utc_text(cert.not_before),
                utc_text(now_secs())
            ),
            "check the clocks of this machine and the server".to_string(),
        ),
        Check::Revoked => (
            "the server's certificate is revoked: sslcrl lists it".to_string(),
            "give the server a new certificate (ssl_cert_file) and reload PostgreSQL".to_string(),
        ),
        Check::RevocationUnknown => (
            "the server's certificate cannot be checked for revocation: sslcrl holds no \
             current revocation list from a CA of its chain (revocation status unknown)"
                .to_string(),
            "put the current revocation list of every CA in the server's chain (root and \
             intermediates) in sslcrl, or leave sslcrl out"
                .to_string(),
        ),
        Check::HostName => (
            format!(
                "the server's certificate is not valid for the host name \"{host}\" (host \
                 name check failed; the CA check passed)"
            ),
            format!(
                "connect using a name the certificate lists (its subject alternative names \
                 or, when it has none of the host's kind, its common name), give the server a \
                 certificate naming \"{host}\", or use sslmode=verify-ca to check only the CA"
            ),
        ),
        Check::Purpose => (
            "the server's certificate is not for a TLS server (its extended key usage lacks \
             serverAuth)"
                .to_string(),
            "give the server a certificate issued for server authentication".to_string(),
        ),
        Check::Unreadable => (
            "the server's certificate cannot be checked (unreadable certificate or an \
             unsupported signature algorithm)"
                .to_string(),
            format!("check the server's certificate against {ca}"),
        ),
    };
    Problem::new(
        ProblemKind::TlsVerifyFailed,
        format!("{what}. The server presented: {}", describe(cert)),
        fix,
    )
}

fn describe(cert: &CertInfo) -> String {
    cert.to_string()
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A TLS alert in words: `CertificateRequired` becomes "certificate required".
fn alert_words(alert: AlertDescription) -> String {
    if let AlertDescription::Unknown(code) = alert {
        return format!("unknown alert {code}");
    }
    let name = format!("{alert:?}");
    let mut words = String::new();
    let mut after_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && after_lower {
            words.push(' ');
        }
        after_lower = c.is_ascii_lowercase();
        words.push(c.to_ascii_lowercase());
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_read_as_words() {
        assert_eq!(
            alert_words(AlertDescription::CertificateRequired),
            "certificate required"
        );
        assert_eq!(
            alert_words(AlertDescription::HandshakeFailure),
            "handshake failure"
        );
        assert_eq!(alert_words(AlertDescription::UnknownCA), "unknown ca");
        assert_eq!(
            alert_words(AlertDescription::Unknown(200)),
            "unknown alert 200"
        );
    }
}
