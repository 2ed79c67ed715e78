//! From a failed attempt to the problem a person can fix.
//!
//! Classification uses types, never message text: the stage the attempt reached, the OS or
//! TLS error type, and for server refusals the SQLSTATE plus the reporting routine. Where one
//! SQLSTATE covers several causes (28000), a startup probe asks the server how it would treat
//! the connection made the other way, and the answer decides.

use std::io;

use crate::connect::handshake;
use crate::options::ConnectOptions;
use crate::probe::{self, AuthStep, ProbeAnswer};
use crate::problem::{Problem, ProblemKind};
use crate::tls::TlsSettings;
use crate::transport::{self, Target, TlsOffer};

/// How far an attempt got; a failure further along says more about the real problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Connect,
    Tls,
    Startup,
}

#[derive(Debug)]
pub enum Cause {
    /// Already diagnosed where it happened (connect, handshake).
    Problem(Problem),
    /// The attempt ran out of `connect_timeout`.
    TimedOut,
    /// TLS was required and the server answered `N` to `SSLRequest`.
    TlsDeclined,
    /// The byte stream failed outside the driver (e.g. during `SSLRequest`).
    Io(io::Error),
    /// The driver failed during startup or authentication.
    Driver(tokio_postgres::Error),
}

#[derive(Debug)]
pub struct Failure {
    pub target: Target,
    pub stage: Stage,
    pub used_tls: bool,
    pub cause: Cause,
}

/// The SQLSTATE and routine of `pg_hba.conf` refusing a connection before authentication.
const HBA_ROUTINE: &str = "ClientAuthentication";
/// The routine that refuses a role that does not exist or may not log in (miscinit.c).
const ROLE_ROUTINE: &str = "InitializeSessionUserId";

impl Failure {
    /// Whether the server itself answered with an error (libpq's cue for allow/prefer retries).
    pub fn server_refused(&self) -> bool {
        matches!(&self.cause, Cause::Driver(e) if e.as_db_error().is_some())
    }

    fn is_hba_refusal(&self) -> bool {
        match &self.cause {
            Cause::Driver(e) => e
                .as_db_error()
                .is_some_and(|db| db.code().code() == "28000" && db.routine() == Some(HBA_ROUTINE)),
            _ => false,
        }
    }

    /// Orders failures by how much they tell: later stages first; among server refusals, a
    /// specific one (bad password) over `pg_hba.conf` refusing the other way of connecting.
    fn weight(&self) -> (Stage, bool) {
        (self.stage, !self.is_hba_refusal())
    }
}

/// Of two failures, the one to report: the more telling; on a tie, the later.
pub fn further(earlier: Option<Failure>, later: Failure) -> Failure {
    match earlier {
        Some(e) if e.weight() > later.weight() => e,
        _ => later,
    }
}

pub async fn diagnose(f: Failure, opts: &ConnectOptions, tls: &TlsSettings) -> Problem {
    let hba = f.is_hba_refusal();
    match f.cause {
        Cause::Problem(p) => p,
        Cause::TimedOut if f.stage == Stage::Connect => {
            transport::connect_timeout_problem(&f.target, opts)
        }
        Cause::TimedOut => not_responding(opts),
        Cause::TlsDeclined => tls_declined(opts),
        Cause::Io(e) => stream_problem(&e, opts),
        Cause::Driver(e) => match e.as_db_error() {
            Some(db) if hba => {
                let other_way = !f.used_tls;
                let admitted = probe_admits(&f.target, opts, tls, other_way).await;
                hba_problem(opts, f.used_tls, admitted, tls.presents_client_cert)
                    .with_server(db.code().code(), db.message())
            }
            Some(db) => server_problem(opts, db),
            None => driver_problem(&e, &f.target, f.used_tls, opts, tls).await,
        },
    }
}

/// Would the server admit this user to `pg_hba.conf` with (or without) TLS? `None`: unknown.
async fn probe_admits(
    target: &Target,
    opts: &ConnectOptions,
    tls: &TlsSettings,
    with_tls: bool,
) -> Option<bool> {
    match probe_on(target, opts, tls, with_tls).await?.ok()? {
        ProbeAnswer::Authenticate(_) => Some(true),
        ProbeAnswer::Refused { code, routine } if code == "28000" && routine == HBA_ROUTINE => {
            Some(false)
        }
        ProbeAnswer::Refused { .. } => None,
    }
}

/// Opens a fresh connection (with or without TLS) and probes it. `None`: could not even get
/// as far as sending the startup message.
async fn probe_on(
    target: &Target,
    opts: &ConnectOptions,
    tls: &TlsSettings,
    with_tls: bool,
) -> Option<io::Result<ProbeAnswer>> {
    let work = async {
        let mut io = transport::open(target, opts).await.ok()?;
        if with_tls {
            if transport::request_tls(&mut io).await.ok()? != TlsOffer::Offered {
                return None;
            }
            io = handshake(io, opts, tls).await.ok()?.0;
        }
        Some(probe::probe(io, &opts.user, &opts.dbname).await)
    };
    tokio::time::timeout(opts.connect_timeout, work)
        .await
        .ok()
        .flatten()
}

fn hba_problem(
    opts: &ConnectOptions,
    used_tls: bool,
    admitted_other_way: Option<bool>,
    client_cert: bool,
) -> Problem {
    // Through a tunnel the server sees the bastion's address, not this machine's.
    let origin = if opts.ssh.is_some() {
        "from the SSH bastion"
    } else {
        "from this machine"
    };
    let who = format!(
        "user \"{}\" on database \"{}\" {origin}",
        opts.user, opts.dbname
    );
    match (used_tls, admitted_other_way) {
        (false, Some(true)) => Problem::new(
            ProblemKind::TlsRequiredByServer,
            format!(
                "the server refused a connection without TLS for {who}, and admits it with TLS \
                 (its pg_hba.conf allows this only through a hostssl rule)"
            ),
            "connect with TLS: --sslmode require (or verify-ca / verify-full with --sslrootcert)",
        ),
        (true, Some(true)) => Problem::new(
            ProblemKind::AuthMethodMismatch,
            format!(
                "the server refused a TLS connection for {who}, and admits it without TLS \
                 (its pg_hba.conf has a hostnossl rule for it, and no hostssl rule)"
            ),
            "ask the DBA to add a `hostssl` rule for this user to pg_hba.conf (recommended), \
             or connect with --sslmode prefer or disable",
        ),
        _ => {
            let how = if used_tls { "with TLS" } else { "without TLS" };
            let cert_hint = if used_tls && !client_cert {
                " If the rule uses `cert` authentication, pass --sslcert and --sslkey."
            } else {
                ""
            };
            Problem::new(
                ProblemKind::AuthMethodMismatch,
                format!(
                    "the server's pg_hba.conf has no rule admitting {who} {how} \
                     (invalid_authorization_specification)"
                ),
                format!(
                    "ask the DBA to add a pg_hba.conf line for this user, database and client \
                     address with a password method (scram-sha-256), then reload PostgreSQL \
                     (`select pg_reload_conf()`); if the server requires TLS, use --sslmode \
                     require.{cert_hint}"
                ),
            )
        }
    }
}

fn server_problem(opts: &ConnectOptions, db: &tokio_postgres::error::DbError) -> Problem {
    let (user, dbname) = (&opts.user, &opts.dbname);
    let code = db.code().code();
    let p = match code {
        "28P01" => Problem::new(
            ProblemKind::BadPassword,
            format!("the server rejected the password for user \"{user}\""),
            "check the password (PGPASSWORD, the URL, or the prompt). PostgreSQL gives this \
             same answer when the role does not exist, so check the user name too",
        ),
        "28000" if db.routine() == Some(ROLE_ROUTINE) => Problem::new(
            ProblemKind::UnknownRole,
            format!("the server has no role \"{user}\" that may log in"),
            format!(
                "check the user name (names are case-sensitive), or create it: \
                 create role \"{user}\" login password '...';"
            ),
        ),
        "28000" => Problem::new(
            ProblemKind::AuthMethodMismatch,
            format!("the server refused to authenticate user \"{user}\""),
            if opts.sslcert.is_some() {
                "with certificate authentication, the certificate's CN must equal the user name \
                 (or match the server's pg_ident.conf map)"
            } else {
                "check the authentication method for this user in the server's pg_hba.conf"
            },
        ),
        "3D000" => Problem::new(
            ProblemKind::UnknownDatabase,
            format!("the server has no database \"{dbname}\""),
            "check the database name (case-sensitive; `psql -l` lists them), or create it",
        ),
        "42501" => Problem::new(
            ProblemKind::PermissionDenied,
            format!("user \"{user}\" may not connect to database \"{dbname}\""),
            format!("as an admin, run: grant connect on database \"{dbname}\" to \"{user}\";"),
        ),
        "53300" => Problem::new(
            ProblemKind::TooManyConnections,
            "the server has no free connection slot (max_connections, or a connection limit on \
             the role or database, is reached)",
            "close idle connections (see pg_stat_activity), put a pooler in front, or raise \
             max_connections (needs a restart) or the role's or database's CONNECTION LIMIT",
        ),
        "57P03" => Problem::new(
            ProblemKind::ServerStarting,
            "the server is starting up, shutting down or recovering, and does not accept \
             connections yet",
            "wait and try again; if it persists, check the server's log",
        ),
        _ => Problem::new(
            ProblemKind::ServerError,
            format!("the server refused the connection: {}", db.message()),
            db.hint()
                .unwrap_or("see the server's message and log")
                .to_string(),
        ),
    };
    p.with_server(code, db.message())
}

/// The driver failed without a SQLSTATE. Its errors are not typed finely enough, so a strict
/// probe of the same kind of connection decides: garbage is `not_postgres`, a password
/// request we cannot answer is `password_required`.
async fn driver_problem(
    e: &tokio_postgres::Error,
    target: &Target,
    used_tls: bool,
    opts: &ConnectOptions,
    tls: &TlsSettings,
) -> Problem {
    match probe_on(target, opts, tls, used_tls).await {
        Some(Err(probe_err)) if probe_err.kind() == io::ErrorKind::InvalidData => {
            return stream_problem(&probe_err, opts);
        }
        Some(Ok(ProbeAnswer::Authenticate(AuthStep::Password))) if opts.password.is_none() => {
            return Problem::new(
                ProblemKind::PasswordRequired,
                format!(
                    "the server asks for a password for user \"{}\" and none was given",
                    opts.user
                ),
                "set PGPASSWORD, put the password in the connection URL, or run in a terminal \
                 with -W to be prompted",
            );
        }
        _ => {}
    }
    if e.is_closed() {
        return lost(opts);
    }
    match std::error::Error::source(e).and_then(|s| s.downcast_ref::<io::Error>()) {
        Some(io) => stream_problem(io, opts),
        None => Problem::new(
            ProblemKind::NotPostgres,
            format!("the session could not start: {e}"),
            "check that the host and port are a PostgreSQL server's",
        ),
    }
}

fn stream_problem(e: &io::Error, opts: &ConnectOptions) -> Problem {
    match e.kind() {
        // The protocol decoder's verdicts on bytes that are not PostgreSQL messages.
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => Problem::new(
            ProblemKind::NotPostgres,
            format!(
                "{}:{} answered, but not in the PostgreSQL protocol ({e})",
                opts.host, opts.port
            ),
            "check the port: it may belong to another service (SSH, HTTP, a proxy)",
        ),
        _ => lost(opts),
    }
}

fn lost(opts: &ConnectOptions) -> Problem {
    Problem::new(
        ProblemKind::ConnectionLost,
        format!(
            "{}:{} closed the connection before the session was ready",
            opts.host, opts.port
        ),
        "check the server's log; a proxy or load balancer in between may be dropping the \
         connection, or the port may belong to another service",
    )
}

fn not_responding(opts: &ConnectOptions) -> Problem {
    Problem::new(
        ProblemKind::ServerNotResponding,
        format!(
            "{}:{} accepted the TCP connection but did not answer the PostgreSQL handshake \
             within {} s",
            opts.host,
            opts.port,
            opts.connect_timeout.as_secs()
        ),
        "check that this port is PostgreSQL's (not another service or a stuck proxy) and that \
         the server is not overloaded; `psql` from this machine will hang the same way",
    )
}

fn tls_declined(opts: &ConnectOptions) -> Problem {
    Problem::new(
        ProblemKind::TlsNotSupportedByServer,
        format!(
            "sslmode={} requires TLS, but the server at {}:{} does not offer it (ssl = off)",
            opts.sslmode, opts.host, opts.port
        ),
        "turn on TLS on the server (ssl = on with ssl_cert_file and ssl_key_file, then reload), \
         or connect with --sslmode prefer or disable if the network path is trusted",
    )
}
