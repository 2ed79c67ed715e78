//! Long-lived SSH sessions to bastions, and `direct-tcpip` channels through them.
//!
//! One session per [`SshOptions`] serves the whole process: each database connection is a
//! new channel on it. Keepalives notice a bastion that went silent and end the session; a
//! session found dead (ended, or unable to open a channel because it is gone) is replaced
//! once, on the next connection attempt. A session is owned by the tokio runtime that made
//! it; when that runtime stops, the session ends and is replaced in the same way.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use tokio::net::TcpStream;

use super::host_key::{self, HostKeyTrust, Verdict};
use super::{diagnose, keys, SshOptions, SshRoute, KEEPALIVE_MAX_MISSED};
use crate::problem::{Problem, ProblemKind};
use crate::transport::BoxIo;

/// The originator address sent with each channel request (RFC 4254 7.2): informational only.
const ORIGINATOR: (&str, u32) = ("127.0.0.1", 0);

struct Tunnel {
    handle: Handle<Verifier>,
    route: SshRoute,
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Tunnel>>>>;

fn slot(ssh: &SshOptions) -> Slot {
    static SLOTS: OnceLock<Mutex<HashMap<SshOptions, Slot>>> = OnceLock::new();
    let mut slots = SLOTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    Arc::clone(slots.entry(ssh.clone()).or_default())
}

/// Establishes the session to the bastion, or reuses the live one, and says how it runs.
/// Each step (TCP connect, handshake, authentication) is bounded by `timeout`.
pub async fn session(ssh: &SshOptions, timeout: Duration) -> Result<SshRoute, Problem> {
    Ok(tunnel(ssh, timeout).await?.route.clone())
}

/// Whether a live session to this bastion is held now (false while one is being made).
pub fn has_live_session(ssh: &SshOptions) -> bool {
    slot(ssh)
        .try_lock()
        .is_ok_and(|t| t.as_ref().is_some_and(|t| !t.handle.is_closed()))
}

/// Opens a byte stream to `host:port` as the bastion sees it, and says through which session.
/// A session that turns out to be dead is replaced once.
pub(crate) async fn open_channel(
    ssh: &SshOptions,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<(BoxIo, SshRoute), Problem> {
    let t = tunnel(ssh, timeout).await?;
    let first = t
        .handle
        .channel_open_direct_tcpip(host, u32::from(port), ORIGINATOR.0, ORIGINATOR.1)
        .await;
    let (t, result) = match first {
        Err(e) if session_gone(&e) => {
            tracing::info!(bastion = %ssh.target(), error = %e, "ssh session ended, reconnecting");
            forget(ssh, &t).await;
            let t = tunnel(ssh, timeout).await?;
            let again = t
                .handle
                .channel_open_direct_tcpip(host, u32::from(port), ORIGINATOR.0, ORIGINATOR.1)
                .await;
            (t, again)
        }
        other => (t, other),
    };
    match result {
        Ok(channel) => Ok((Box::new(channel.into_stream()), t.route.clone())),
        Err(russh::Error::ChannelOpenFailure(why)) => Err(diagnose::forward(ssh, host, port, &why)),
        Err(e) => Err(Problem::new(
            ProblemKind::SshHandshakeFailed,
            format!(
                "the SSH session with the bastion {}:{} ended while opening the tunnel: {e}",
                ssh.host, ssh.port
            ),
            "try again; if it keeps happening, the bastion's sshd log says why it drops sessions",
        )),
    }
}

/// Errors that mean the session itself is gone, not that this channel was refused.
fn session_gone(e: &russh::Error) -> bool {
    matches!(
        e,
        russh::Error::Disconnect
            | russh::Error::SendError
            | russh::Error::HUP
            | russh::Error::RecvError
            | russh::Error::KeepaliveTimeout
            | russh::Error::InactivityTimeout
            | russh::Error::ConnectionTimeout
            | russh::Error::IO(_)
    )
}

async fn tunnel(ssh: &SshOptions, timeout: Duration) -> Result<Arc<Tunnel>, Problem> {
    let slot = slot(ssh);
    let mut held = slot.lock().await;
    if let Some(t) = held.as_ref().filter(|t| !t.handle.is_closed()) {
        return Ok(Arc::clone(t));
    }
    *held = None;
    let t = Arc::new(establish(ssh, timeout).await?);
    *held = Some(Arc::clone(&t));
    Ok(t)
}

/// Drops `dead` from the cache, unless another task already replaced it.
async fn forget(ssh: &SshOptions, dead: &Arc<Tunnel>) {
    let slot = slot(ssh);
    let mut held = slot.lock().await;
    if held.as_ref().is_some_and(|t| Arc::ptr_eq(t, dead)) {
        *held = None;
    }
}

async fn establish(ssh: &SshOptions, timeout: Duration) -> Result<Tunnel, Problem> {
    let key = Arc::new(keys::load(&ssh.key)?);
    let tcp = connect_tcp(ssh, timeout).await?;
    let mut config = client::Config {
        keepalive_interval: Some(ssh.keepalive_interval),
        keepalive_max: KEEPALIVE_MAX_MISSED,
        nodelay: true,
        ..client::Config::default()
    };
    config.preferred.key = Cow::Owned(host_key::preferred_algorithms(ssh, &config.preferred.key));
    let seen = Arc::new(Mutex::new(None));
    let verifier = Verifier {
        ssh: ssh.clone(),
        seen: Arc::clone(&seen),
    };
    let handshake = client::connect_stream(Arc::new(config), tcp, verifier);
    let mut handle = match tokio::time::timeout(timeout, handshake).await {
        Err(_) => return Err(diagnose::handshake_timeout(ssh, timeout)),
        Ok(Err(SessionError::HostKey(p))) => return Err(*p),
        Ok(Err(SessionError::Ssh(e))) => return Err(diagnose::handshake(ssh, &e)),
        Ok(Ok(h)) => h,
    };
    let (host_key, verdict) = seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or_else(|| diagnose::handshake(ssh, &russh::Error::UnknownKey))?;

    let hash = if key.algorithm().is_rsa() {
        // None when the bastion lists no rsa-sha2 signatures: then only ssh-rsa (SHA-1) works.
        let best = tokio::time::timeout(timeout, handle.best_supported_rsa_hash()).await;
        best.ok().and_then(Result::ok).flatten().flatten()
    } else {
        None
    };
    let public_key = keys::public_line(&key).unwrap_or_default();
    let auth = handle.authenticate_publickey(&ssh.user, PrivateKeyWithHashAlg::new(key, hash));
    match tokio::time::timeout(timeout, auth).await {
        Err(_) => return Err(diagnose::handshake_timeout(ssh, timeout)),
        Ok(Err(e)) => return Err(diagnose::handshake(ssh, &e)),
        Ok(Ok(result)) if !result.success() => {
            return Err(diagnose::auth_rejected(ssh, &public_key))
        }
        Ok(Ok(_)) => {}
    }
    if verdict.trust == HostKeyTrust::PinnedNow {
        host_key::pin(ssh, &host_key)?;
        tracing::info!(bastion = %ssh.known_hosts_name(), fingerprint = %verdict.fingerprint,
            file = %ssh.pins.display(), "pinned the bastion's host key on first use");
    }
    tracing::debug!(bastion = %ssh.target(), "ssh session established");
    Ok(Tunnel {
        handle,
        route: SshRoute {
            host: ssh.host.clone(),
            port: ssh.port,
            user: ssh.user.clone(),
            host_key_fingerprint: verdict.fingerprint,
            host_key: verdict.trust,
            host_key_file: verdict.file,
        },
    })
}

async fn connect_tcp(ssh: &SshOptions, timeout: Duration) -> Result<TcpStream, Problem> {
    let lookup = tokio::net::lookup_host((ssh.host.as_str(), ssh.port));
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(timeout, lookup).await {
        Err(_) => return Err(diagnose::dns(ssh, "the DNS lookup timed out")),
        Ok(Err(e)) => return Err(diagnose::dns(ssh, &e.to_string())),
        Ok(Ok(addrs)) => addrs.collect(),
    };
    let mut last = diagnose::dns(ssh, "no addresses");
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = diagnose::connect(ssh, &e),
            Err(_) => last = diagnose::connect_timeout(ssh, timeout),
        }
    }
    Err(last)
}

/// Checks the bastion's host key during the handshake, and remembers what it saw.
struct Verifier {
    ssh: SshOptions,
    seen: Arc<Mutex<Option<(PublicKey, Verdict)>>>,
}

#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error(transparent)]
    Ssh(#[from] russh::Error),
    #[error("{}", .0.message)]
    HostKey(Box<Problem>),
}

impl client::Handler for Verifier {
    type Error = SessionError;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // A certificate is judged by the key it certifies: inlet trusts keys, not CAs.
        let key = match presented {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => PublicKey::from(cert.public_key().clone()),
        };
        let verdict =
            host_key::verify(&self.ssh, &key).map_err(|p| SessionError::HostKey(Box::new(p)))?;
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, verdict));
        Ok(true)
    }
}
