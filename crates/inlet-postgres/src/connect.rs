//! Opening a session the way libpq does, so `sslmode` means what PostgreSQL users expect:
//!
//! * `disable`: plain only.
//! * `allow`: plain first; if the server refuses it, once more with TLS.
//! * `prefer`: TLS if offered; if the TLS handshake fails or the server refuses the TLS
//!   session, once more plain.
//! * `require`, `verify-ca`, `verify-full`: TLS or nothing; certificate checks per `tls.rs`.
//!
//! Every address the host resolves to is tried in order; when all fail, the failure that got
//! furthest is reported, diagnosed by `diagnose.rs`.

use std::sync::atomic::{AtomicI64, Ordering};

use tokio_postgres::config::SslMode as DriverSslMode;
use tokio_postgres::NoTls;

use crate::diagnose::{self, Cause, Failure, Stage};
use crate::options::{ConnectOptions, SslMode};
use crate::problem::{Problem, ProblemKind};
use crate::ssh::SshRoute;
use crate::tls::{self, TlsSettings, Verify};
use crate::transport::{self, BoxIo, Target, TlsOffer};

/// The oldest server inlet supports (`server_version_num`).
pub const MIN_SERVER_VERSION_NUM: i32 = 100_000;

/// An open session and what was negotiated.
#[derive(Debug)]
pub struct Session {
    pub client: tokio_postgres::Client,
    pub info: SessionInfo,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SessionInfo {
    /// The address the session runs to (`127.0.0.1:5432`, or a socket path).
    pub address: String,
    /// `server_version`, e.g. `"16.4 (Debian 16.4-1)"`.
    pub server_version: String,
    /// `server_version_num`, e.g. `160004`.
    pub server_version_num: i32,
    pub tls: Option<TlsInfo>,
    /// The SSH bastion the session runs through, when it does.
    pub ssh: Option<SshRoute>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TlsInfo {
    pub protocol: String,
    pub cipher: String,
    /// What was checked of the server's certificate: `none`, `ca` or `full`.
    pub verified: &'static str,
    pub client_certificate: bool,
}

/// How one attempt uses TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TlsUse {
    Never,
    IfOffered,
    Required,
}

/// Connects, checks the server version, and returns the session, or the diagnosed problem.
pub async fn connect(opts: &ConnectOptions) -> Result<Session, Problem> {
    let tls = TlsSettings::load(opts)?;
    let targets = transport::resolve(opts).await?;
    let mut worst: Option<Failure> = None;
    for target in &targets {
        match connect_target(target, opts, &tls).await {
            Ok(session) => return check_version(session).await,
            Err(f) => worst = Some(diagnose::further(worst, f)),
        }
    }
    let failure = worst.ok_or_else(|| {
        Problem::new(
            ProblemKind::Dns,
            format!("{} resolved to no address", opts.host),
            "",
        )
    })?;
    Err(diagnose::diagnose(failure, opts, &tls).await)
}

/// libpq's per-mode sequence of attempts against one address.
async fn connect_target(
    target: &Target,
    opts: &ConnectOptions,
    tls: &TlsSettings,
) -> Result<Session, Failure> {
    // libpq never negotiates TLS over a Unix socket, whatever the mode.
    if matches!(target, Target::Unix(_)) {
        return attempt(target, opts, tls, TlsUse::Never).await;
    }
    match opts.sslmode {
        SslMode::Disable => attempt(target, opts, tls, TlsUse::Never).await,
        SslMode::Allow => match attempt(target, opts, tls, TlsUse::Never).await {
            Err(first) if first.server_refused() => {
                let second = attempt(target, opts, tls, TlsUse::Required).await;
                second.map_err(|f| diagnose::further(Some(first), f))
            }
            other => other,
        },
        SslMode::Prefer => match attempt(target, opts, tls, TlsUse::IfOffered).await {
            Err(first)
                if first.used_tls && (first.server_refused() || first.stage == Stage::Tls) =>
            {
                let second = attempt(target, opts, tls, TlsUse::Never).await;
                second.map_err(|f| diagnose::further(Some(first), f))
            }
            other => other,
        },
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            attempt(target, opts, tls, TlsUse::Required).await
        }
    }
}

/// One connection attempt, bounded by `connect_timeout` as libpq bounds each address.
async fn attempt(
    target: &Target,
    opts: &ConnectOptions,
    tls: &TlsSettings,
    tls_use: TlsUse,
) -> Result<Session, Failure> {
    let mut progress = Progress {
        stage: Stage::Connect,
        used_tls: false,
    };
    let result = tokio::time::timeout(
        opts.connect_timeout,
        run(target, opts, tls, tls_use, &mut progress),
    )
    .await;
    match result {
        Ok(r) => r,
        Err(_) => Err(Failure {
            target: target.clone(),
            stage: progress.stage,
            used_tls: progress.used_tls,
            cause: Cause::TimedOut,
        }),
    }
}

struct Progress {
    stage: Stage,
    used_tls: bool,
}

async fn run(
    target: &Target,
    opts: &ConnectOptions,
    tls: &TlsSettings,
    tls_use: TlsUse,
    progress: &mut Progress,
) -> Result<Session, Failure> {
    let fail = |stage, used_tls, cause| Failure {
        target: target.clone(),
        stage,
        used_tls,
        cause,
    };
    let (mut io, route) = transport::open_routed(target, opts)
        .await
        .map_err(|p| fail(Stage::Connect, false, Cause::Problem(p)))?;
    let mut tls_info = None;
    if tls_use != TlsUse::Never {
        progress.stage = Stage::Tls;
        let offer = transport::request_tls(&mut io)
            .await
            .map_err(|e| fail(Stage::Tls, false, Cause::Io(e)))?;
        match (offer, tls_use) {
            (TlsOffer::Offered, _) => {
                progress.used_tls = true;
                let (stream, info) = handshake(io, opts, tls)
                    .await
                    .map_err(|p| fail(Stage::Tls, true, Cause::Problem(p)))?;
                io = stream;
                tls_info = Some(info);
            }
            (TlsOffer::Declined, TlsUse::Required) => {
                return Err(fail(Stage::Tls, false, Cause::TlsDeclined));
            }
            (TlsOffer::Declined, _) => {}
        }
    }
    progress.stage = Stage::Startup;
    let used_tls = tls_info.is_some();
    let (client, connection) = driver_config(opts)
        .connect_raw(io, NoTls)
        .await
        .map_err(|e| fail(Stage::Startup, used_tls, Cause::Driver(e)))?;
    let open = OpenSession::count();
    tokio::spawn(async move {
        let _open = open;
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres connection ended");
        }
    });
    let info = SessionInfo {
        address: target.address(),
        server_version: String::new(),
        server_version_num: 0,
        tls: tls_info,
        ssh: route,
    };
    Ok(Session { client, info })
}

/// Sessions whose connection is open, in this process (for `inlet_database_connections`).
static OPEN_SESSIONS: AtomicI64 = AtomicI64::new(0);

/// The database sessions this process has open now.
pub fn open_sessions() -> i64 {
    OPEN_SESSIONS.load(Ordering::Relaxed)
}

/// Counts one open session for as long as its connection task runs (dropped when the
/// connection ends, or with the runtime).
struct OpenSession;

impl OpenSession {
    fn count() -> Self {
        OPEN_SESSIONS.fetch_add(1, Ordering::Relaxed);
        OpenSession
    }
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        OPEN_SESSIONS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// TLS is negotiated here, not by the driver, so the driver is told the stream is plain.
fn driver_config(opts: &ConnectOptions) -> tokio_postgres::Config {
    let mut cfg = tokio_postgres::Config::new();
    cfg.user(&opts.user)
        .dbname(&opts.dbname)
        .application_name(&opts.application_name)
        .ssl_mode(DriverSslMode::Disable);
    if let Some(pw) = &opts.password {
        cfg.password(pw.expose());
    }
    cfg
}

pub(crate) async fn handshake(
    io: BoxIo,
    opts: &ConnectOptions,
    tls: &TlsSettings,
) -> Result<(BoxIo, TlsInfo), Problem> {
    let name = tls::server_name(&opts.host)?;
    let stream = tls
        .connector()
        .connect(name, io)
        .await
        .map_err(|e| crate::tls_problem::handshake_problem(&e, &opts.host, opts))?;
    let conn = stream.get_ref().1;
    let info = TlsInfo {
        protocol: conn
            .protocol_version()
            .and_then(|v| v.as_str())
            .unwrap_or("unknown")
            .replace("TLSv1_", "TLSv1."),
        cipher: conn
            .negotiated_cipher_suite()
            .and_then(|c| c.suite().as_str())
            .unwrap_or("unknown")
            .to_string(),
        verified: match tls.verify {
            Verify::Nothing => "none",
            Verify::Chain => "ca",
            Verify::Full => "full",
        },
        client_certificate: tls.presents_client_cert,
    };
    Ok((Box::new(stream), info))
}

async fn check_version(mut session: Session) -> Result<Session, Problem> {
    let row = session
        .client
        .query_one(
            "select current_setting('server_version'), \
             current_setting('server_version_num')::int4",
            &[],
        )
        .await
        .map_err(|e| {
            Problem::new(
                ProblemKind::ServerError,
                format!("connected, but could not read the server version: {e}"),
                "check that this is a PostgreSQL server (not a proxy that filters queries)",
            )
        })?;
    session.info.server_version = row.get(0);
    session.info.server_version_num = row.get(1);
    version_gate(
        &session.info.server_version,
        session.info.server_version_num,
    )?;
    Ok(session)
}

/// Refuses servers older than PostgreSQL 10.
pub fn version_gate(server_version: &str, server_version_num: i32) -> Result<(), Problem> {
    if server_version_num >= MIN_SERVER_VERSION_NUM {
        return Ok(());
    }
    Err(Problem::new(
        ProblemKind::VersionTooOld,
        format!("the server runs PostgreSQL {server_version}; inlet needs PostgreSQL 10 or later"),
        "upgrade the server (PostgreSQL 9.6 and older no longer receive security fixes), \
         or sync into a newer PostgreSQL",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_below_ten_are_refused_with_the_version_named() {
        let p = version_gate("9.6.24", 90624).expect_err("9.6 is too old");
        assert_eq!(p.kind, ProblemKind::VersionTooOld);
        assert!(p.message.contains("9.6.24"), "{}", p.message);
        assert!(version_gate("10.0", 100000).is_ok());
        assert!(version_gate("18.1", 180001).is_ok());
    }
}
