//! Changing a running cluster's server certificate (PostgreSQL 10 and later reload TLS
//! settings without a restart), so one server can present many certificates in turn.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use crate::cluster::Cluster;
use crate::server::read_from;
use crate::sql::literal;
use crate::wait::wait_until_async;
use crate::workdir::give_to_server_user;

impl Cluster {
    /// Makes the server present `chain` (PEM: its certificate, then any intermediates) with
    /// `key` to new TLS connections, and returns once it does. The cluster must have been
    /// started with TLS on. Panics, with the server's log, if the server cannot load them.
    pub async fn serve_certificate(&self, name: &str, chain: &Path, key: &Path) {
        let data = self.dir.join("data");
        let cert_file = data.join(format!("served-{name}.crt"));
        let key_file = data.join(format!("served-{name}.key"));
        for (from, to) in [(chain, &cert_file), (key, &key_file)] {
            fs::copy(from, to).unwrap_or_else(|e| {
                panic!("cannot copy {} to {}: {e}", from.display(), to.display())
            });
            fs::set_permissions(to, fs::Permissions::from_mode(0o600))
                .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", to.display()));
            give_to_server_user(to);
        }
        let log = self.dir.join("server.log");
        let log_start = fs::metadata(&log).map_or(0, |m| m.len());
        let cert_text = cert_file.to_str().expect("data path is UTF-8");
        let key_text = key_file.to_str().expect("data path is UTF-8");
        // One statement per call: ALTER SYSTEM refuses to run in a multi-statement batch.
        self.exec(&format!(
            "alter system set ssl_cert_file = {}",
            literal(cert_text)
        ))
        .await;
        self.exec(&format!(
            "alter system set ssl_key_file = {}",
            literal(key_text)
        ))
        .await;
        self.exec("select pg_reload_conf()").await;
        // A new session is forked by the postmaster after it reloaded, TLS context included.
        wait_until_async(
            &format!("PostgreSQL {} to reload ssl_cert_file", self.major),
            Duration::from_secs(30),
            || async {
                let row = self
                    .admin()
                    .await
                    .query_one("select current_setting('ssl_cert_file')", &[])
                    .await;
                row.is_ok_and(|r| r.get::<_, String>(0) == cert_text)
            },
        )
        .await;
        let reloaded = read_from(&log, log_start);
        assert!(
            !reloaded.contains("SSL configuration was not reloaded"),
            "PostgreSQL {} did not load the {name} certificate:\n{reloaded}",
            self.major
        );
    }
}
