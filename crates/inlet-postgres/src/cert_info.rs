//! What a server certificate presents, read once for two uses: the names `verify-full`
//! compares with the host, and a plain-words description for the message when a check fails
//! (subject, names, issuer, validity), so a person can see what the server sent.

use std::fmt;
use std::net::IpAddr;

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::peer_name::PresentedNames;

/// The parts of a certificate a person needs to see to fix a refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject, e.g. `CN=db.example.com, O=Example`.
    pub subject: String,
    pub issuer: String,
    pub names: PresentedNames,
    /// Seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// Marked `CA:TRUE` (basic constraints).
    pub is_ca: bool,
}

impl CertInfo {
    /// Reads a DER certificate; `None` when it cannot be parsed (the chain check then
    /// reports it as malformed).
    pub fn parse(der: &[u8]) -> Option<CertInfo> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let mut names = PresentedNames {
            common_name: cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(String::from),
            ..Default::default()
        };
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => names.dns.push((*dns).to_string()),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            names.ips.push(ip);
                        }
                    }
                    _ => {}
                }
            }
        }
        let validity = cert.validity();
        Some(CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            names,
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            is_ca: cert.is_ca(),
        })
    }

    /// The names the host is compared with, for a message: `DNS names a, b; IP addresses c`.
    pub fn names_text(&self) -> String {
        let mut parts = Vec::new();
        if !self.names.dns.is_empty() {
            parts.push(format!("DNS names {}", self.names.dns.join(", ")));
        }
        if !self.names.ips.is_empty() {
            let ips: Vec<String> = self.names.ips.iter().map(|ip| ip.to_string()).collect();
            parts.push(format!("IP addresses {}", ips.join(", ")));
        }
        if parts.is_empty() {
            "no subject alternative names".to_string()
        } else {
            format!("subject alternative names: {}", parts.join("; "))
        }
    }
}

impl fmt::Display for CertInfo {
    /// `subject "CN=x", subject alternative names: DNS names x; issued by "CN=ca"; valid
    /// from 2025-01-01 00:00 UTC to 2026-01-01 00:00 UTC`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "subject \"{}\", {}; issued by \"{}\"{}; valid from {} to {}",
            self.subject,
            self.names_text(),
            self.issuer,
            if self.is_ca {
                " (itself a CA certificate)"
            } else {
                ""
            },
            utc_text(self.not_before),
            utc_text(self.not_after),
        )
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// `2026-03-01 12:00 UTC` from Unix seconds (the proleptic Gregorian calendar).
pub fn utc_text(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let minutes = secs.rem_euclid(86_400) / 60;
    let (year, month, day) = inlet_core::calendar::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_calendar_days() {
        assert_eq!(utc_text(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_text(1_767_225_600 + 3_660), "2026-01-01 01:01 UTC");
        assert_eq!(utc_text(-86_400), "1969-12-31 00:00 UTC");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(CertInfo::parse(b"not a certificate"), None);
    }
}
