//! `verify-full`'s host-name check, with libpq's rule (PostgreSQL 14 and later), so a
//! certificate libpq accepts is accepted here and one it refuses is refused:
//!
//! * every DNS subject alternative name is compared with the host: equal ignoring ASCII
//!   case, or a wildcard `*.rest` whose `*` stands for exactly one leftmost label;
//! * every IP address subject alternative name is compared with the host read as an IP
//!   address;
//! * the subject's common name is compared (as a DNS name) only when the certificate has no
//!   subject alternative name of the host's own kind: no DNS name for a host name, no IP
//!   address for an IP host.
//!
//! A name holding a NUL byte ends the check with a refusal, as in libpq.

use std::net::IpAddr;

/// The names a certificate presents for the host-name check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PresentedNames {
    /// DNS names from the subject alternative names, in certificate order.
    pub dns: Vec<String>,
    /// IP addresses from the subject alternative names, in certificate order.
    pub ips: Vec<IpAddr>,
    /// The subject's first common name, when it has one.
    pub common_name: Option<String>,
}

/// Whether the certificate's names admit `host`, the name the user connected to.
pub fn host_matches(host: &str, names: &PresentedNames) -> bool {
    let host_ip: Option<IpAddr> = host.parse().ok();
    for name in &names.dns {
        if name.contains('\0') {
            return false;
        }
        if dns_name_matches(name, host) {
            return true;
        }
    }
    if let Some(ip) = host_ip {
        if names.ips.contains(&ip) {
            return true;
        }
    }
    let same_kind_san = match host_ip {
        Some(_) => !names.ips.is_empty(),
        None => !names.dns.is_empty(),
    };
    match &names.common_name {
        Some(cn) if !same_kind_san && !cn.contains('\0') => dns_name_matches(cn, host),
        _ => false,
    }
}

/// Exact (ASCII case-insensitive) or wildcard match of one certificate name.
fn dns_name_matches(name: &str, host: &str) -> bool {
    name.eq_ignore_ascii_case(host) || wildcard_matches(name, host)
}

/// `*.example.com` matches `db.example.com`, not `example.com` nor `a.db.example.com`: the
/// `*` is the whole leftmost label and stands for one or more characters other than `.`.
fn wildcard_matches(pattern: &str, host: &str) -> bool {
    let Some(suffix) = pattern.strip_prefix('*') else {
        return false;
    };
    let (suffix, host) = (suffix.as_bytes(), host.as_bytes());
    if suffix.len() < 2 || suffix[0] != b'.' || suffix.len() >= host.len() {
        return false;
    }
    let (label, rest) = host.split_at(host.len() - suffix.len());
    rest.eq_ignore_ascii_case(suffix) && !label.contains(&b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(names: &[&str], cn: Option<&str>) -> PresentedNames {
        PresentedNames {
            dns: names.iter().map(|n| n.to_string()).collect(),
            ips: Vec::new(),
            common_name: cn.map(String::from),
        }
    }

    #[test]
    fn common_name_counts_only_without_dns_names() {
        assert!(host_matches("localhost", &dns(&[], Some("localhost"))));
        assert!(host_matches("LocalHost", &dns(&[], Some("localhost"))));
        assert!(!host_matches(
            "localhost",
            &dns(&["db.example.com"], Some("localhost"))
        ));
        assert!(!host_matches("localhost", &dns(&[], None)));
    }

    #[test]
    fn wildcards_stand_for_exactly_one_label() {
        let w = dns(&["*.example.com"], None);
        assert!(host_matches("db.example.com", &w));
        assert!(host_matches("DB.Example.COM", &w));
        assert!(!host_matches("example.com", &w));
        assert!(!host_matches("a.db.example.com", &w));
        assert!(!host_matches("db.example.org", &w));
        assert!(!host_matches(
            "db.example.com",
            &dns(&["db*.example.com"], None)
        ));
        assert!(!host_matches("x.com", &dns(&["*."], None)));
        // A wildcard common name counts like any other common name.
        assert!(host_matches(
            "db.example.com",
            &dns(&[], Some("*.example.com"))
        ));
    }

    #[test]
    fn ip_hosts_match_ip_names_and_fall_back_to_the_common_name() {
        let ip: IpAddr = "127.0.0.1".parse().expect("an address");
        let only_ip = PresentedNames {
            ips: vec![ip],
            ..Default::default()
        };
        assert!(host_matches("127.0.0.1", &only_ip));
        assert!(!host_matches("127.0.0.2", &only_ip));
        assert!(!host_matches("localhost", &only_ip));
        // No IP name: the common name is compared, as text.
        assert!(host_matches(
            "127.0.0.1",
            &dns(&["localhost"], Some("127.0.0.1"))
        ));
        // An IP name present: the common name no longer counts for an IP host...
        let both = PresentedNames {
            ips: vec!["10.0.0.1".parse().expect("an address")],
            common_name: Some("127.0.0.1".into()),
            ..Default::default()
        };
        assert!(!host_matches("127.0.0.1", &both));
        // ...but still does for a host name, which has no DNS name to match instead.
        let named = PresentedNames {
            ips: vec![ip],
            common_name: Some("localhost".into()),
            ..Default::default()
        };
        assert!(host_matches("localhost", &named));
        let v6: IpAddr = "::1".parse().expect("an address");
        let six = PresentedNames {
            ips: vec![v6],
            ..Default::default()
        };
        assert!(host_matches("::1", &six));
    }

    #[test]
    fn a_name_with_a_nul_byte_is_refused() {
        assert!(!host_matches(
            "localhost",
            &dns(&["local\0host", "localhost"], None)
        ));
        assert!(!host_matches(
            "localhost",
            &dns(&[], Some("localhost\0.evil"))
        ));
    }
}
