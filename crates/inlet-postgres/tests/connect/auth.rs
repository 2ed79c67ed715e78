//! Authentication and session refusals: each classified by SQLSTATE and reported with a fix.

use inlet_postgres::{ProblemKind, Secret, SslMode};
use inlet_testkit::versions;

use crate::clusters::*;

#[tokio::test]
async fn wrong_password_is_bad_password_for_scram_and_md5() {
    for v in versions() {
        let c = standard(v).await;
        for user in [SCRAM_USER, MD5_USER] {
            connects(&opts(c, user, SslMode::Prefer), v).await;
            let mut o = opts(c, user, SslMode::Prefer);
            o.password = Some(Secret::new("not the password"));
            let p = fails(&o, v, ProblemKind::BadPassword).await;
            assert_eq!(p.sqlstate.as_deref(), Some("28P01"));
            assert!(!format!("{p:?}").contains("not the password"));
        }
    }
}

#[tokio::test]
async fn missing_password_is_asked_for() {
    for v in versions() {
        let c = standard(v).await;
        let mut o = opts(c, SCRAM_USER, SslMode::Prefer);
        o.password = None;
        let p = fails(&o, v, ProblemKind::PasswordRequired).await;
        assert!(p.fix.contains("PGPASSWORD"), "{p:?}");
    }
}

#[tokio::test]
async fn role_that_does_not_exist_is_unknown_role() {
    for v in versions() {
        let c = standard(v).await;
        let mut o = opts(c, "no_such_role", SslMode::Prefer);
        o.dbname = TRUST_DB.into();
        let p = fails(&o, v, ProblemKind::UnknownRole).await;
        assert!(p.message.contains("no_such_role"), "{p:?}");
    }
}

#[tokio::test]
async fn database_that_does_not_exist_is_unknown_database() {
    for v in versions() {
        let c = standard(v).await;
        let mut o = opts(c, SCRAM_USER, SslMode::Prefer);
        o.dbname = "no_such_db".into();
        let p = fails(&o, v, ProblemKind::UnknownDatabase).await;
        assert_eq!(p.sqlstate.as_deref(), Some("3D000"));
    }
}

#[tokio::test]
async fn role_without_connect_privilege_is_told_the_grant() {
    for v in versions() {
        let c = standard(v).await;
        let db = c.create_database().await;
        c.exec(&format!("revoke connect on database {db} from public"))
            .await;
        let mut o = opts(c, SCRAM_USER, SslMode::Prefer);
        o.dbname = db.clone();
        let p = fails(&o, v, ProblemKind::PermissionDenied).await;
        assert!(
            p.fix
                .contains(&format!("grant connect on database \"{db}\"")),
            "{p:?}"
        );
    }
}

#[tokio::test]
async fn full_server_is_too_many_connections() {
    for v in versions() {
        let c = tiny(v).await;
        let o = opts(c, SCRAM_USER, SslMode::Disable);
        let mut held = Vec::new();
        let problem = loop {
            match inlet_postgres::connect(&o).await {
                Ok(s) => held.push(s),
                Err(p) => break p,
            }
            assert!(
                held.len() <= 3,
                "PG {v}: max_connections=3 but {} connections opened",
                held.len()
            );
        };
        assert_eq!(
            problem.kind,
            ProblemKind::TooManyConnections,
            "PG {v}: {problem:?}"
        );
        assert_eq!(problem.sqlstate.as_deref(), Some("53300"));
        drop(held);
    }
}

#[tokio::test]
async fn application_name_is_visible_to_the_dba() {
    for v in versions() {
        let c = standard(v).await;
        let mut o = opts(c, SCRAM_USER, SslMode::Prefer);
        o.application_name = "inlet-test-appname".into();
        let s = connects(&o, v).await;
        let row = s
            .client
            .query_one(
                "select application_name from pg_stat_activity where pid = pg_backend_pid()",
                &[],
            )
            .await
            .expect("query pg_stat_activity");
        assert_eq!(row.get::<_, String>(0), "inlet-test-appname");
        assert_eq!(s.info.server_version_num / 10000, v as i32);
    }
}
