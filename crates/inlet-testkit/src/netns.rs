//! Private networks for tests: a network namespace joined to this one by a veth pair, so a
//! server inside it is reachable only where the test says (an SSH bastion on the link's
//! address) and not at all where it does not (a database on the namespace's own loopback).
//!
//! The namespace has no name in `/run/netns`: it lives as long as a holder process (and any
//! server started in it), and all of them die with the test process (see `spawn.rs`). When the
//! last one is gone the kernel removes the namespace and its end of the veth pair, which takes
//! the other end with it. So nothing is left behind, even after SIGKILL, and there is nothing
//! to sweep (but a cut of the link, see `netcut`).
//!
//! Addresses come from 10.231.0.0/16, one /30 per namespace, chosen under a file lock so that
//! concurrent test processes never share one. This side is `.1` of the /30, the namespace `.2`.
//! Creating namespaces needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), `unshare` and `nsenter`
//! (util-linux) and `ip` (iproute2).

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::geteuid;

use crate::wait::poll_until;
use crate::workdir::next_id;

/// A network namespace with a veth link to this one. Dropping it ends the holder process;
/// the namespace goes away once the servers started in it have stopped too.
#[derive(Debug)]
pub struct Netns {
    holder: Child,
    /// This side of the link (the test process reaches the namespace from here).
    pub host_addr: Ipv4Addr,
    /// The namespace's side of the link: where servers listen to be reachable from here.
    pub addr: Ipv4Addr,
    /// The link's name on this side.
    pub veth: String,
    /// The link's name inside the namespace.
    pub(crate) inner: String,
}

impl Netns {
    /// A new namespace with its loopback up and a veth link to this one. Panics, saying what
    /// is missing, when the tests do not run as root.
    pub fn create() -> Netns {
        assert!(
            geteuid().is_root(),
            "inlet-testkit: network namespaces need root; the SSH tunnel tests run as root \
             (scripts/test does, as CI does)"
        );
        let id = next_id();
        let pid = std::process::id();
        // SIGKILL as the holder's parent-death signal: `sleep` may have inherited an ignored
        // SIGQUIT (a background job of a shell does), and SIGKILL cannot be ignored.
        let mut holder = Command::new("unshare");
        holder
            .args(["--net", "--", "setpriv", "--pdeathsig=SIGKILL", "--"])
            .args(["sleep", "infinity"])
            .stdin(Stdio::null());
        let mut holder = crate::spawn::spawn(holder)
            .unwrap_or_else(|e| panic!("cannot run `unshare --net` (util-linux): {e}"));
        let ns = ns_path(holder.id());
        let own = fs::read_link("/proc/self/ns/net").ok();
        let mut exited = false;
        let entered = poll_until(Duration::from_secs(10), || {
            exited = matches!(holder.try_wait(), Ok(Some(_)));
            exited || fs::read_link(&ns).is_ok_and(|l| Some(l) != own)
        });
        assert!(
            entered && !exited,
            "`unshare --net ... sleep infinity` did not make a network namespace"
        );

        let veth = format!("tk{pid}h{id}");
        let inner = format!("tk{pid}n{id}");
        let lock = lock_allocation();
        let (host_addr, addr) = free_subnet(pid ^ id.rotate_left(16));
        let holder_pid = holder.id().to_string();
        ip(&[
            "link",
            "add",
            &veth,
            "type",
            "veth",
            "peer",
            "name",
            &inner,
            "netns",
            &holder_pid,
        ]);
        crate::netcut::sweep(&veth);
        ip(&["addr", "add", &format!("{host_addr}/30"), "dev", &veth]);
        ip(&["link", "set", &veth, "up"]);
        drop(lock);
        let netns = Netns {
            holder,
            host_addr,
            addr,
            veth,
            inner,
        };
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["addr", "add", &format!("{addr}/30"), "dev", &netns.inner],
            vec!["link", "set", &netns.inner, "up"],
        ] {
            let mut command = netns.command(Path::new("ip"));
            run(command.args(&args));
        }
        netns
    }

    /// One namespace for the whole test process, made on first use.
    pub fn shared() -> &'static Netns {
        static SHARED: OnceLock<Netns> = OnceLock::new();
        SHARED.get_or_init(Netns::create)
    }

    /// `/proc/<holder>/ns/net`, for `nsenter --net=`.
    pub fn path(&self) -> PathBuf {
        ns_path(self.holder.id())
    }

    /// A command that runs `program` inside the namespace (`nsenter` execs it: no extra
    /// process stands between the caller and the program).
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(program);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn ns_path(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/net"))
}

/// An exclusive lock on `/tmp/inlet-tk/netns.lock` while a subnet is chosen and assigned.
fn lock_allocation() -> Flock<fs::File> {
    let path = crate::workdir::root().join("netns.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o666)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    Flock::lock(file, FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("cannot lock {}: {e}", path.display()))
}

/// The first /30 of 10.231.0.0/16 not assigned on this side, starting from `seed`.
fn free_subnet(seed: u32) -> (Ipv4Addr, Ipv4Addr) {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip` (iproute2): {e}"));
    let used = String::from_utf8_lossy(&out.stdout).into_owned();
    const SLOTS: u32 = 1 << 14; // /30s in a /16
    (0..SLOTS)
        .map(|i| (seed.wrapping_add(i)) % SLOTS)
        .map(|slot| {
            let base = u32::from(Ipv4Addr::new(10, 231, 0, 0)) + slot * 4;
            (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
        })
        .find(|(host, _)| !used.contains(&format!("inet {host}/")))
        .expect("no free /30 left in 10.231.0.0/16")
}

fn ip(args: &[&str]) {
    run(Command::new("ip").args(args));
}

pub(crate) fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
