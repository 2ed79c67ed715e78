//! Every sslmode with libpq's meaning, against servers with and without TLS, `hostssl` and
//! `hostnossl` rules, certificate checks and client certificates.

use inlet_postgres::{ProblemKind, RootCert, SslMode};
use inlet_testkit::{versions, TlsMaterial};

use crate::clusters::*;

#[tokio::test]
async fn every_sslmode_against_a_server_offering_tls() {
    for v in versions() {
        let c = standard(v).await;
        let expect = [
            (SslMode::Disable, false),
            (SslMode::Allow, false),
            (SslMode::Prefer, true),
            (SslMode::Require, true),
        ];
        for (mode, tls) in expect {
            let s = connects(&opts(c, SCRAM_USER, mode), v).await;
            assert_eq!(s.info.tls.is_some(), tls, "PG {v} sslmode={mode}");
        }
        let s = connects(&with_ca(opts(c, SCRAM_USER, SslMode::VerifyCa)), v).await;
        assert_eq!(
            s.info.tls.as_ref().map(|t| t.verified),
            Some("ca"),
            "PG {v}"
        );
        let mut full = with_ca(opts(c, SCRAM_USER, SslMode::VerifyFull));
        full.host = "localhost".into(); // the only name in the server's certificate
        let s = connects(&full, v).await;
        assert_eq!(
            s.info.tls.as_ref().map(|t| t.verified),
            Some("full"),
            "PG {v}"
        );
        assert!(s
            .info
            .tls
            .as_ref()
            .is_some_and(|t| t.protocol.starts_with("TLSv1.")));
    }
}

#[tokio::test]
async fn every_sslmode_against_a_server_without_tls() {
    for v in versions() {
        let c = without_tls(v).await;
        for mode in [SslMode::Disable, SslMode::Allow, SslMode::Prefer] {
            let s = connects(&opts(c, SCRAM_USER, mode), v).await;
            assert!(s.info.tls.is_none(), "PG {v} sslmode={mode}");
        }
        for mode in [SslMode::Require, SslMode::VerifyCa, SslMode::VerifyFull] {
            let p = fails(
                &with_ca(opts(c, SCRAM_USER, mode)),
                v,
                ProblemKind::TlsNotSupportedByServer,
            )
            .await;
            assert!(p.message.contains(mode.as_str()), "{p:?}");
        }
    }
}

#[tokio::test]
async fn hostssl_only_rule_needs_tls_and_allow_or_prefer_find_it() {
    for v in versions() {
        let c = standard(v).await;
        let p = fails(
            &opts(c, SSL_ONLY, SslMode::Disable),
            v,
            ProblemKind::TlsRequiredByServer,
        )
        .await;
        assert_eq!(p.sqlstate.as_deref(), Some("28000"));
        assert!(p.fix.contains("--sslmode require"), "{p:?}");
        for mode in [SslMode::Allow, SslMode::Prefer, SslMode::Require] {
            let s = connects(&opts(c, SSL_ONLY, mode), v).await;
            assert!(
                s.info.tls.is_some(),
                "PG {v} sslmode={mode} must end up on TLS"
            );
        }
    }
}

#[tokio::test]
async fn hostnossl_only_rule_refuses_tls_and_prefer_falls_back_to_plain() {
    for v in versions() {
        let c = standard(v).await;
        let p = fails(
            &opts(c, NOSSL_ONLY, SslMode::Require),
            v,
            ProblemKind::AuthMethodMismatch,
        )
        .await;
        assert!(
            p.message.contains("hostnossl"),
            "the probe should find the plain rule: {p:?}"
        );
        for mode in [SslMode::Disable, SslMode::Allow, SslMode::Prefer] {
            let s = connects(&opts(c, NOSSL_ONLY, mode), v).await;
            assert!(s.info.tls.is_none(), "PG {v} sslmode={mode}");
        }
    }
}

#[tokio::test]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    for v in versions() {
        let c = standard(v).await;
        // The certificate names "localhost" only; 127.0.0.1 is the same server by another name.
        let p = fails(
            &with_ca(opts(c, SCRAM_USER, SslMode::VerifyFull)),
            v,
            ProblemKind::TlsVerifyFailed,
        )
        .await;
        assert!(
            p.message.contains("host name"),
            "must say the host name failed: {p:?}"
        );
        connects(&with_ca(opts(c, SCRAM_USER, SslMode::VerifyCa)), v).await;
    }
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused_as_libpq_does() {
    let other = RootCert::File(TlsMaterial::shared().other_ca_cert.clone());
    for v in versions() {
        let c = standard(v).await;
        for mode in [SslMode::VerifyCa, SslMode::Require] {
            // libpq: with a root certificate configured, even `require` checks the chain.
            let mut o = opts(c, SCRAM_USER, mode);
            o.sslrootcert = Some(other.clone());
            let p = fails(&o, v, ProblemKind::TlsVerifyFailed).await;
            assert!(
                p.message.contains("CA check failed"),
                "must say the CA failed: {p:?}"
            );
        }
        // libpq's prefer retries without TLS when the handshake fails.
        let mut o = opts(c, SCRAM_USER, SslMode::Prefer);
        o.sslrootcert = Some(other.clone());
        assert!(connects(&o, v).await.info.tls.is_none(), "PG {v}");
    }
}

#[tokio::test]
async fn verify_modes_without_a_ca_are_a_settings_problem() {
    for v in versions() {
        let c = standard(v).await;
        for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
            let p = fails(&opts(c, SCRAM_USER, mode), v, ProblemKind::InvalidOption).await;
            assert!(p.fix.contains("--sslrootcert"), "{p:?}");
        }
    }
}

#[tokio::test]
async fn client_certificate_authenticates_and_its_absence_is_explained() {
    let tls = TlsMaterial::shared();
    let (cert, key) = tls.client_cert(CERT_USER);
    for v in versions() {
        let c = standard(v).await;
        let mut o = with_ca(opts(c, CERT_USER, SslMode::VerifyCa));
        o.password = None;
        o.sslcert = Some(cert.clone());
        o.sslkey = Some(key.clone());
        let s = connects(&o, v).await;
        assert_eq!(
            s.info.tls.as_ref().map(|t| t.client_certificate),
            Some(true)
        );

        let mut without = o.clone();
        without.sslcert = None;
        without.sslkey = None;
        let p = fails(&without, v, ProblemKind::AuthMethodMismatch).await;
        assert!(
            p.fix.contains("--sslcert"),
            "must suggest a client certificate: {p:?}"
        );
    }
}

#[tokio::test]
async fn a_private_key_others_can_read_is_refused_before_connecting() {
    use std::os::unix::fs::PermissionsExt;
    let (cert, key) = TlsMaterial::shared().client_cert(CERT_USER);
    let dir = tempfile::tempdir().expect("tempdir");
    let open_key = dir.path().join("open.key");
    std::fs::copy(&key, &open_key).expect("copy key");
    std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let c = standard(versions()[0]).await;
    let mut o = opts(c, CERT_USER, SslMode::Require);
    o.sslcert = Some(cert);
    o.sslkey = Some(open_key.clone());
    let p = fails(&o, versions()[0], ProblemKind::ClientCert).await;
    assert!(p.fix.contains("chmod 600"), "{p:?}");
}
