//! A real OpenSSH server (Debian's `openssh-server`) as an SSH bastion for tests: its own
//! host key, the test's authorized_keys, forwarding rules as the test asks, on a free port,
//! in a [`Netns`] or on 127.0.0.1. Root logs in (`PermitRootLogin prohibit-password`), with
//! public keys only.
//!
//! The listener dies with the test process (see `spawn.rs`); the per-connection session
//! processes end when their client (the test process) does.

use std::fs;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::netns::Netns;
use crate::wait::poll_until;
use crate::workdir::{fresh_dir, next_id};

const SSHD: &str = "/usr/sbin/sshd";
const READY_DEADLINE: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 3;

/// What to start: a builder for [`Sshd`].
#[derive(Debug, Clone, Default)]
pub struct SshdSpec {
    netns: Option<PathBuf>,
    listen: Option<String>,
    no_forwarding: bool,
    permit_open: Vec<String>,
    authorized: Vec<String>,
}

impl SshdSpec {
    /// Forwarding allowed anywhere, no authorized keys yet, listening on 127.0.0.1.
    pub fn new() -> Self {
        SshdSpec::default()
    }

    /// Runs inside `netns`, listening on its link address [`Netns::addr`].
    pub fn in_netns(mut self, netns: &Netns) -> Self {
        self.netns = Some(netns.path());
        self.listen = Some(netns.addr.to_string());
        self
    }

    /// `AllowTcpForwarding no`: every `direct-tcpip` channel is refused.
    pub fn no_forwarding(mut self) -> Self {
        self.no_forwarding = true;
        self
    }

    /// Adds `host:port` to `PermitOpen`; with none, any destination is permitted.
    pub fn permit_open(mut self, host_port: &str) -> Self {
        self.permit_open.push(host_port.to_owned());
        self
    }

    /// Lets this public key line (`ssh-ed25519 AAAA... comment`) log in as root.
    pub fn authorize(mut self, public_key: &str) -> Self {
        self.authorized.push(public_key.trim().to_owned());
        self
    }

    /// Generates a host key, writes the config and starts sshd; panics with the log on failure.
    pub fn start(self) -> Sshd {
        // sshd's privilege separation needs this directory (the package's service makes it).
        fs::create_dir_all("/run/sshd").unwrap_or_else(|e| panic!("cannot create /run/sshd: {e}"));
        let dir = fresh_dir(&format!("sshd{}", next_id()));
        let authorized_keys = dir.join("authorized_keys");
        let keys: String = self.authorized.iter().map(|k| format!("{k}\n")).collect();
        write(&authorized_keys, &keys);
        new_host_key(&dir);
        let mut sshd = Sshd {
            host: self.listen.clone().unwrap_or_else(|| "127.0.0.1".into()),
            port: 0,
            dir,
            spec: self,
            child: None,
        };
        sshd.launch(None);
        sshd
    }
}

/// A running sshd, stopped (with its sessions) and deleted when dropped.
#[derive(Debug)]
pub struct Sshd {
    /// The address it listens on, as the test process reaches it.
    pub host: String,
    pub port: u16,
    dir: PathBuf,
    spec: SshdSpec,
    child: Option<Child>,
}

impl Sshd {
    /// The host key's public line, `ssh-ed25519 AAAA...`, as a known_hosts file wants it.
    pub fn host_key(&self) -> String {
        let text = fs::read_to_string(self.dir.join("host_key.pub"))
            .unwrap_or_else(|e| panic!("cannot read the sshd host key: {e}"));
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Appends a public key line to the authorized_keys file (read at each login).
    pub fn authorize(&self, public_key: &str) {
        let path = self.dir.join("authorized_keys");
        let mut keys = fs::read_to_string(&path).unwrap_or_default();
        keys.push_str(public_key.trim());
        keys.push('\n');
        write(&path, &keys);
    }

    /// Replaces the host key and restarts on the same address and port, as a reinstalled
    /// bastion (or an impostor) would present itself.
    pub fn change_host_key(&mut self) {
        self.stop();
        new_host_key(&self.dir);
        self.launch(Some(self.port));
    }

    /// Number of successful logins so far ("Accepted publickey" in the log).
    pub fn logins(&self) -> usize {
        self.log().matches("Accepted publickey").count()
    }

    /// SIGKILLs the processes serving the current sessions (not the listener), as when a
    /// bastion drops its sessions. Returns how many processes were killed.
    pub fn kill_sessions(&self) -> usize {
        self.signal_sessions(Signal::SIGKILL)
    }

    /// Freezes the processes serving the current sessions (SIGSTOP): their connections stay
    /// open but nothing answers, as behind a network path that died. Returns how many.
    pub fn pause_sessions(&self) -> usize {
        self.signal_sessions(Signal::SIGSTOP)
    }

    /// Lets paused session processes run again (SIGCONT).
    pub fn resume_sessions(&self) -> usize {
        self.signal_sessions(Signal::SIGCONT)
    }

    fn signal_sessions(&self, signal: Signal) -> usize {
        let Some(child) = &self.child else { return 0 };
        let sessions = descendants(child.id());
        for pid in &sessions {
            let _ = kill(Pid::from_raw(*pid as i32), signal);
        }
        sessions.len()
    }

    /// The server's log (sshd -e output).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    fn launch(&mut self, fixed_port: Option<u16>) {
        let attempts = if fixed_port.is_some() {
            1
        } else {
            START_ATTEMPTS
        };
        for attempt in 1..=attempts {
            self.port = fixed_port.unwrap_or_else(crate::net::free_port);
            let config = self.dir.join("sshd_config");
            write(&config, &self.config());
            let log = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join("sshd.log"))
                .unwrap_or_else(|e| panic!("cannot open the sshd log: {e}"));
            let log_start = log.metadata().map_or(0, |m| m.len());
            let mut command = match &self.spec.netns {
                Some(ns) => {
                    let mut c = Command::new("nsenter");
                    c.arg(format!("--net={}", ns.display())).arg("--").arg(SSHD);
                    c
                }
                None => Command::new(SSHD),
            };
            command
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            let child = crate::spawn::spawn(command)
                .unwrap_or_else(|e| panic!("cannot start {SSHD} (openssh-server): {e}"));
            self.child = Some(child);
            match self.wait_ready() {
                Ok(()) => return,
                Err(why) => {
                    self.stop();
                    let this_attempt =
                        crate::server::read_from(&self.dir.join("sshd.log"), log_start);
                    if !(this_attempt.contains("Address already in use") && attempt < attempts) {
                        panic!("sshd {why} (port {}); its log:\n{this_attempt}", self.port);
                    }
                }
            }
        }
    }

    fn config(&self) -> String {
        let dir = &self.dir;
        let permit_open = if self.spec.permit_open.is_empty() {
            "any".to_owned()
        } else {
            self.spec.permit_open.join(" ")
        };
        format!(
            "Port {port}\nListenAddress {host}\nAddressFamily inet\n\
             HostKey {dir}/host_key\nAuthorizedKeysFile {dir}/authorized_keys\n\
             PidFile none\nStrictModes no\nUsePAM no\nUseDNS no\n\
             PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             AllowAgentForwarding no\nX11Forwarding no\nPermitTTY no\n\
             AllowTcpForwarding {forwarding}\nPermitOpen {permit_open}\nLogLevel VERBOSE\n",
            port = self.port,
            host = self.host,
            dir = dir.display(),
            forwarding = if self.spec.no_forwarding { "no" } else { "yes" },
        )
    }

    /// Ready when the port answers with an SSH banner.
    fn wait_ready(&mut self) -> Result<(), String> {
        let Some(child) = self.child.as_mut() else {
            return Err("was not started".into());
        };
        let (host, port) = (self.host.clone(), self.port);
        let mut exited = None;
        let ready = poll_until(READY_DEADLINE, || {
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some(status);
                return true;
            }
            banner(&host, port)
        });
        match (ready, exited) {
            (_, Some(status)) => Err(format!("exited during startup ({status})")),
            (true, None) => Ok(()),
            (false, None) => Err(format!("did not answer after {READY_DEADLINE:?}")),
        }
    }

    /// Stops the listener and its sessions.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            for pid in descendants(child.id()) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn banner(host: &str, port: u16) -> bool {
    let Ok(addr) = format!("{host}:{port}").parse() else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 8];
    stream.read_exact(&mut buf).is_ok() && &buf == b"SSH-2.0-"
}

fn new_host_key(dir: &Path) {
    let key = dir.join("host_key");
    let _ = fs::remove_file(&key);
    let _ = fs::remove_file(dir.join("host_key.pub"));
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "inlet-testkit-bastion",
            "-f",
        ])
        .arg(&key)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ssh-keygen (openssh-client): {e}"));
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every process below `pid` (from each process's parent in /proc/<n>/stat).
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            // The command name may hold spaces and parentheses: the fields follow the last ')'.
            let after = stat.rsplit_once(')')?.1;
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (child, _) in parents.iter().filter(|(_, pp)| *pp == parent) {
            found.push(*child);
            frontier.push(*child);
        }
    }
    found
}

fn write(path: &Path, contents: &str) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
