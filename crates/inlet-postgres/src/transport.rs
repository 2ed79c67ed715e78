//! Byte streams to the server: name resolution, TCP or Unix-socket connect (or an SSH channel
//! through a bastion), and the `SSLRequest` exchange that precedes TLS. Each step reports its
//! own typed failure.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use crate::options::ConnectOptions;
use crate::problem::{Problem, ProblemKind};
use crate::ssh::{self, SshRoute};

/// Any byte stream a PostgreSQL session can run over: TCP, a Unix socket, an SSH channel, or
/// TLS on top of any of them.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

pub type BoxIo = Box<dyn Io>;

/// One place to try: libpq tries every address a name resolves to, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
    /// `host:port` as the bastion sees it, through an established SSH session.
    Tunnel(Box<Tunneled>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunneled {
    pub host: String,
    pub port: u16,
    pub route: SshRoute,
}

impl Target {
    /// Where the session runs to: an address, a socket path, or `host:port` beyond a bastion.
    pub fn address(&self) -> String {
        match self {
            Target::Tcp(a) => a.to_string(),
            Target::Unix(p) => p.display().to_string(),
            Target::Tunnel(t) => format!("{}:{}", t.host, t.port),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tunnel(t) => write!(
                f,
                "{}:{} via ssh {}@{}:{}",
                t.host, t.port, t.route.user, t.route.host, t.route.port
            ),
            other => f.write_str(&other.address()),
        }
    }
}

/// Resolves the host to the addresses to try. A failure here is always `dns`. Through a
/// bastion, the name is resolved by the bastion: this establishes the SSH session instead
/// (or reuses it), so SSH failures are reported before any database connection is tried.
pub async fn resolve(opts: &ConnectOptions) -> Result<Vec<Target>, Problem> {
    if let Some(bastion) = &opts.ssh {
        let route = ssh::session(bastion, opts.connect_timeout).await?;
        return Ok(vec![Target::Tunnel(Box::new(Tunneled {
            host: opts.host.clone(),
            port: opts.port,
            route,
        }))]);
    }
    if let Some(ip) = opts.hostaddr {
        // libpq: hostaddr is where to connect; host only names the server (for TLS).
        return Ok(vec![Target::Tcp(SocketAddr::new(ip, opts.port))]);
    }
    if opts.is_unix_socket() {
        let path = PathBuf::from(&opts.host).join(format!(".s.PGSQL.{}", opts.port));
        return Ok(vec![Target::Unix(path)]);
    }
    let dns_problem = |detail: String| {
        Problem::new(
            ProblemKind::Dns,
            format!(
                "the host name \"{}\" could not be resolved: {detail}",
                opts.host
            ),
            format!(
                "check the spelling of the host; from this machine, `getent hosts {}` must \
                 print an address. A private name may need this machine's DNS or VPN settings, \
                 or an SSH tunnel",
                opts.host
            ),
        )
    };
    let lookup = tokio::net::lookup_host((opts.host.as_str(), opts.port));
    let addrs = match tokio::time::timeout(opts.connect_timeout, lookup).await {
        Ok(Ok(addrs)) => addrs.collect::<Vec<_>>(),
        Ok(Err(e)) => return Err(dns_problem(e.to_string())),
        Err(_) => return Err(dns_problem("the DNS lookup timed out".into())),
    };
    if addrs.is_empty() {
        return Err(dns_problem("no addresses".into()));
    }
    Ok(addrs.into_iter().map(Target::Tcp).collect())
}

const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// Opens the raw stream. The caller bounds the time; this classifies what the OS said.
pub async fn open(target: &Target, opts: &ConnectOptions) -> Result<BoxIo, Problem> {
    open_routed(target, opts).await.map(|(io, _)| io)
}

/// [`open`], also saying which SSH session carries the stream (it may be a new one, when
/// the session found at [`resolve`] time had died since).
pub async fn open_routed(
    target: &Target,
    opts: &ConnectOptions,
) -> Result<(BoxIo, Option<SshRoute>), Problem> {
    let result = match target {
        Target::Tcp(addr) => TcpStream::connect(addr).await.map(|s| {
            // Small protocol messages must not wait for Nagle's algorithm, and a long-lived
            // session must notice a peer that vanished without closing (keepalive probes).
            let _ = s.set_nodelay(true);
            let keepalive = socket2::TcpKeepalive::new()
                .with_time(KEEPALIVE_IDLE)
                .with_interval(KEEPALIVE_INTERVAL);
            let _ = socket2::SockRef::from(&s).set_tcp_keepalive(&keepalive);
            Box::new(s) as BoxIo
        }),
        Target::Unix(path) => UnixStream::connect(path)
            .await
            .map(|s| Box::new(s) as BoxIo),
        Target::Tunnel(t) => {
            let bastion = opts.ssh.as_ref().ok_or_else(|| {
                Problem::new(
                    ProblemKind::InvalidOption,
                    "a tunnel target without SSH settings",
                    "this is a bug in inlet; please report it",
                )
            })?;
            let (io, route) =
                ssh::open_channel(bastion, &t.host, t.port, opts.connect_timeout).await?;
            return Ok((io, Some(route)));
        }
    };
    result
        .map(|io| (io, None))
        .map_err(|e| connect_problem(&e, target, opts))
}

/// The problem for a connect that did not answer within the timeout.
pub fn connect_timeout_problem(target: &Target, opts: &ConnectOptions) -> Problem {
    let (host, port) = (&opts.host, opts.port);
    if let (Target::Tunnel(_), Some(bastion)) = (target, &opts.ssh) {
        return ssh::diagnose::forward_timeout(bastion, host, port, opts.connect_timeout);
    }
    Problem::new(
        ProblemKind::Timeout,
        format!(
            "no answer from {host}:{port} ({target}) within {} s: the connection attempt was \
             neither accepted nor refused",
            opts.connect_timeout.as_secs()
        ),
        format!(
            "a firewall or security group is probably dropping the traffic, or there is no \
             route to the server. Allow inbound TCP to port {port} from this machine, check the \
             server listens on a reachable address (listen_addresses), and test from here with \
             `nc -vz -w 5 {host} {port}` (it hangs or times out when packets are dropped)"
        ),
    )
}

fn connect_problem(e: &io::Error, target: &Target, opts: &ConnectOptions) -> Problem {
    let (host, port) = (&opts.host, opts.port);
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Problem::new(
            ProblemKind::Refused,
            format!(
                "{host} refused the connection on port {port} ({target}): nothing listens there"
            ),
            format!(
                "check the host and port: is PostgreSQL running there, on port {port}, with \
                 listen_addresses including an address this machine reaches? (`ss -ltnp` on \
                 the server shows what listens)"
            ),
        ),
        io::ErrorKind::NotFound if matches!(target, Target::Unix(_)) => Problem::new(
            ProblemKind::Refused,
            format!("no PostgreSQL socket at {target}"),
            "check the socket directory and port (unix_socket_directories on the server)",
        ),
        io::ErrorKind::TimedOut => connect_timeout_problem(target, opts),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => Problem::new(
            ProblemKind::Unreachable,
            format!("{host} ({target}) is unreachable from this machine: {e}"),
            "check this machine's network, routes and VPN; a database in a private network \
             can be reached through an SSH tunnel (--ssh-host)",
        ),
        _ => Problem::new(
            ProblemKind::Unreachable,
            format!("could not connect to {host}:{port} ({target}): {e}"),
            "check the host, the port and this machine's network",
        ),
    }
}

/// What the server answered to `SSLRequest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsOffer {
    Offered,
    Declined,
}

/// Sends `SSLRequest` and reads the one-byte answer. Reads exactly one byte, so nothing a
/// man in the middle appends can be mistaken for part of the TLS handshake (CVE-2021-23222).
pub async fn request_tls(io: &mut BoxIo) -> Result<TlsOffer, io::Error> {
    const SSL_REQUEST_CODE: i32 = 80877103;
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&8i32.to_be_bytes());
    msg[4..].copy_from_slice(&SSL_REQUEST_CODE.to_be_bytes());
    io.write_all(&msg).await?;
    io.flush().await?;
    match io.read_u8().await? {
        b'S' => Ok(TlsOffer::Offered),
        b'N' => Ok(TlsOffer::Declined),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected answer {other:#04x} to SSLRequest"),
        )),
    }
}
