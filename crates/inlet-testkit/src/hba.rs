//! `pg_hba.conf` rules for test clusters.

/// Authentication method of a `pg_hba.conf` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HbaMethod {
    Trust,
    Md5,
    ScramSha256,
    /// Client certificate whose CN is the user name (`hostssl` rules only).
    Cert,
    Reject,
}

/// Connection type of a `pg_hba.conf` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HbaConn {
    /// TCP, with or without TLS.
    Host,
    /// TCP with TLS only.
    HostSsl,
    /// TCP without TLS only.
    HostNoSsl,
}

/// One rule, for 127.0.0.1/32 and ::1/128 (and a cluster's link, see
/// [`crate::ClusterSpec::reachable_from`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbaRule {
    pub conn: HbaConn,
    /// A database name or a keyword such as `all`.
    pub database: String,
    /// A user name or a keyword such as `all`.
    pub user: String,
    pub method: HbaMethod,
}

impl HbaRule {
    pub fn new(conn: HbaConn, database: &str, user: &str, method: HbaMethod) -> Self {
        HbaRule {
            conn,
            database: database.to_owned(),
            user: user.to_owned(),
            method,
        }
    }

    /// The rule's two lines (IPv4 and IPv6 loopback), and one for `link` if given.
    pub(crate) fn lines(&self, link: Option<&str>) -> String {
        let conn = match self.conn {
            HbaConn::Host => "host",
            HbaConn::HostSsl => "hostssl",
            HbaConn::HostNoSsl => "hostnossl",
        };
        let method = match self.method {
            HbaMethod::Trust => "trust",
            HbaMethod::Md5 => "md5",
            HbaMethod::ScramSha256 => "scram-sha-256",
            HbaMethod::Cert => "cert",
            HbaMethod::Reject => "reject",
        };
        let (db, user) = (field(&self.database), field(&self.user));
        ["127.0.0.1/32", "::1/128"]
            .into_iter()
            .chain(link)
            .map(|address| format!("{conn}\t{db}\t{user}\t{address}\t{method}\n"))
            .collect()
    }
}

/// The whole file: the superuser over the unix socket, then `rules` in order, each also
/// for the addresses `link` (e.g. "10.231.0.0/30") when given. A connection matching none
/// of them gets "no pg_hba.conf entry".
pub(crate) fn hba_conf(rules: &[HbaRule], link: Option<&str>) -> String {
    let mut conf = String::from("# written by inlet-testkit\nlocal\tall\tpostgres\ttrust\n");
    for rule in rules {
        conf.push_str(&rule.lines(link));
    }
    conf
}

/// A database or user field: as given when it is a plain word (so keywords
/// like `all` keep their meaning), else double-quoted.
fn field(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '@' | '.' | '-' | '$'));
    if plain {
        value.to_owned()
    } else {
        assert!(
            !value.contains('"'),
            "pg_hba.conf cannot hold a name with a double quote: {value:?}"
        );
        format!("\"{value}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_two_lines_per_rule() {
        let rule = HbaRule::new(HbaConn::HostSsl, "all", "alice", HbaMethod::Cert);
        assert_eq!(
            rule.lines(None),
            "hostssl\tall\talice\t127.0.0.1/32\tcert\nhostssl\tall\talice\t::1/128\tcert\n"
        );
    }

    #[test]
    fn quotes_odd_names() {
        let rule = HbaRule::new(HbaConn::Host, "my db", "bob", HbaMethod::ScramSha256);
        assert!(rule
            .lines(None)
            .starts_with("host\t\"my db\"\tbob\t127.0.0.1/32\tscram-sha-256\n"));
    }

    #[test]
    fn admin_line_comes_first() {
        let conf = hba_conf(
            &[HbaRule::new(
                HbaConn::HostNoSsl,
                "all",
                "all",
                HbaMethod::Md5,
            )],
            None,
        );
        let lines: Vec<_> = conf.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines[0], "local\tall\tpostgres\ttrust");
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn a_link_adds_a_line_per_rule() {
        let rule = HbaRule::new(HbaConn::Host, "all", "all", HbaMethod::ScramSha256);
        let conf = hba_conf(&[rule], Some("10.231.0.4/30"));
        assert!(
            conf.ends_with(
                "::1/128\tscram-sha-256\nhost\tall\tall\t10.231.0.4/30\tscram-sha-256\n"
            ),
            "{conf}"
        );
    }
}
